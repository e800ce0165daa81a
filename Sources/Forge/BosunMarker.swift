/// How Bosun recognises its own comments, reviews and label changes so that it does not react to them.
public enum BosunMarker {
    /// The HTML comment Bosun puts in every comment and review it writes. Invisible in rendered Markdown.
    public static let comment = "<!-- bosun -->"

    /// True when `event` was caused by Bosun: its actor is the bot user (compared case-insensitively, as forges
    /// compare logins), or its text (a comment or review body) carries `comment`.
    public static func isOwn(_ event: TrackerEvent, botUser: String?) -> Bool {
        if let botUser, !botUser.isEmpty, event.actor.lowercased() == botUser.lowercased() { return true }
        return event.text?.contains(comment) ?? false
    }
}
