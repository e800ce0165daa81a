import Foundation

/// The frame every dashboard page shares, and the small pieces pages are built from.
enum PageLayout {
    /// A whole page. `signedIn` adds the navigation and the logout button.
    static func document(title: String, signedIn: Bool, refreshSeconds: Int? = nil, _ body: HTML) -> HTML {
        let refresh: HTML = refreshSeconds.map { "<meta http-equiv=\"refresh\" content=\"\($0)\">" } ?? .empty
        let navigation: HTML =
            signedIn
            ? """
            <nav><a href="/">Overview</a>\
            <form method="post" action="/logout"><button type="submit">Log out</button></form></nav>
            """ : .empty
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            \(refresh)<title>\(title)</title>
            <link rel="stylesheet" href="\(DashboardAssets.stylesheetPath)">
            </head>
            <body>
            <header><a class="brand" href="/">Bosun</a>\(navigation)</header>
            <main>
            \(body)
            </main>
            <footer>Times are UTC.</footer>
            </body>
            </html>

            """
    }

    /// A table; `empty` is shown instead when there are no rows.
    static func table(
        id: String? = nil, class name: String? = nil, _ headers: [String], _ rows: [[HTML]], empty: String
    ) -> HTML {
        guard !rows.isEmpty else { return "<p class=\"empty\">\(empty)</p>" }
        let identifier: HTML = (id.map { " id=\"\($0)\"" } ?? .empty) + (name.map { " class=\"\($0)\"" } ?? .empty)
        let head = HTML.join(headers.map { "<th>\($0)</th>" })
        let body = HTML.join(rows.map { row in "<tr>\(HTML.join(row.map { "<td>\($0)</td>" }))</tr>\n" })
        return "<table\(identifier)><thead><tr>\(head)</tr></thead><tbody>\n\(body)</tbody></table>"
    }

    /// A definition list of label and value pairs; nil values are left out.
    static func facts(_ pairs: [(String, HTML?)]) -> HTML {
        let items = pairs.compactMap { label, value in value.map { "<dt>\(label)</dt><dd>\($0)</dd>" as HTML } }
        return "<dl class=\"facts\">\(HTML.join(items))</dl>"
    }

    /// A state name as a badge; `kind` (`queue`, `active`, `hold`, `terminal`, or a process or breaker state)
    /// picks its colour.
    static func badge(_ text: String, kind: String? = nil) -> HTML {
        "<span class=\"badge \(cssClass(kind ?? text))\">\(text)</span>"
    }

    /// A class name made of `text`'s letters, digits, `-` and `_` only.
    static func cssClass(_ text: String) -> String {
        "is-" + String(String.UnicodeScalarView(text.lowercased().unicodeScalars.filter(\.isWordCharacter)))
    }

    /// A link to `url` if it is an http or https address, else the address as text: a tracker's or an agent's
    /// string never becomes a `javascript:` link.
    static func externalLink(_ url: String) -> HTML {
        let lowered = url.lowercased()
        guard lowered.hasPrefix("https://") || lowered.hasPrefix("http://") else { return "\(url)" }
        return "<a href=\"\(url)\" rel=\"noreferrer noopener\">\(url)</a>"
    }

    /// A preformatted block of untrusted text.
    static func preformatted(_ text: String, id: String? = nil) -> HTML {
        let identifier: HTML = id.map { " id=\"\($0)\"" } ?? .empty
        return "<pre\(identifier)>\(text)</pre>"
    }

    /// `yyyy-MM-dd HH:mm:ss` in UTC inside a `<time>` element; `–` for nil.
    static func time(_ milliseconds: Int64?) -> HTML {
        guard let milliseconds else { return "–" }
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let date = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))"
        let clock = "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        return "<time datetime=\"\(date)T\(clock)Z\">\(date) \(clock)</time>"
    }

    static func time(_ date: Date) -> HTML {
        time(Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// `3d 4h`, `2h 5m`, `4m 10s`, `12s`.
    static func duration(seconds: Double) -> String {
        let total = Int64(max(0, seconds.rounded(.down)))
        let (days, hours, minutes, rest) = (total / 86400, total / 3600 % 24, total / 60 % 60, total % 60)
        if days > 0 { return "\(days)d \(hours)h" }
        if hours > 0 { return "\(hours)h \(minutes)m" }
        if minutes > 0 { return "\(minutes)m \(rest)s" }
        return "\(rest)s"
    }

    /// The duration between two times in milliseconds, or `–`.
    static func duration(fromMs start: Int64?, toMs end: Int64?) -> String {
        guard let start, let end, end >= start else { return "–" }
        return duration(seconds: Double(end - start) / 1000)
    }

    /// `text` cut to `limit` characters with an ellipsis.
    static func truncated(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }
}
