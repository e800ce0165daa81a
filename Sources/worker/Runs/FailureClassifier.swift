/// What the worker should do about a finished run.
public enum RunClassification: Equatable, Sendable {
    /// The agent finished its work.
    case success
    /// Rate limit, overload or usage limit: retry at `retryAtMs` (milliseconds since 1970) or after the usual
    /// backoff when nil, without spending the code-fault retry budget (SPEC §5.5).
    case transient(retryAtMs: Int64?, reason: String)
    /// The agent failed on its own: spend an attempt.
    case permanent(reason: String)
    /// The shim's timeout killed the agent.
    case timedOut
    /// The worker cancelled the run (SIGTERM to the shim) before the agent finished; the caller knows why.
    case cancelled
}

/// The classification with what else the log tells: usage and the pull request opened.
public struct RunReport: Equatable, Sendable {
    public var classification: RunClassification
    public var usage: AgentUsage?
    /// A pull or merge request URL on the configured forge host, the last one the log mentions.
    public var pullRequestURL: String?
}

/// Decides what a run's end means, from the shim's exit status and the tail of the log. A pure function of its
/// inputs: time comes from `RunExit.endedAtMs`.
///
/// Order of evidence: the shim's own facts (timeout, exec and setup failures, cancel); then the agent's structured
/// output (Claude Code's `result` event, `rate_limit_event` rejections and `api_retry` events; Codex's
/// `turn.completed` / `turn.failed`); then the exit code; and only for a failed run with no structured result, words
/// in the text (`429`, `529`, `overloaded`, `rate limit`, `Retry-After: N`). A run that succeeded is a success
/// whatever its text mentions.
public struct FailureClassifier: Sendable {
    /// The forge host pull request URLs must be on; nil finds none.
    public var forgeHost: String?

    public init(forgeHost: String?) {
        self.forgeHost = forgeHost
    }

    /// Classifies the run that ended with `exit` and left `log` (the end of its log).
    public func classify(_ exit: RunExit, log: LogTail) -> RunReport {
        let events = AgentEvents(text: log.text)
        return RunReport(
            classification: classification(exit, events: events, text: log.text),
            usage: events.usage,
            pullRequestURL: forgeHost.flatMap { PullRequestURL(host: $0).lastMatch(in: log.text) })
    }

    private func classification(_ exit: RunExit, events: AgentEvents, text: String) -> RunClassification {
        if exit.timedOut { return .timedOut }
        let exitCode: Int32?
        switch exit.outcome {
        case .execFailed(let reason): return .permanent(reason: "the agent could not be started: \(reason)")
        case .setupFailed(let reason): return .permanent(reason: "the shim could not prepare the run: \(reason)")
        case .shimFailed(let reason): return .permanent(reason: "the shim lost the agent: \(reason)")
        case .exited(let code): exitCode = code
        case .signaled: exitCode = nil
        }
        let exitedCleanly = exitCode == 0
        if exit.cancelled {
            // An agent may exit 0 on SIGTERM; only its own success result says the work was done.
            let claudeDone = events.claudeResult.map { !$0.isError && $0.subtype == "success" } ?? false
            let codexDone = events.codexTurnFailure.map { $0 == nil } ?? false
            return exitedCleanly && (claudeDone || codexDone) ? .success : .cancelled
        }

        // Claude Code: the result event decides.
        if let result = events.claudeResult {
            if exitedCleanly && !result.isError && result.subtype == "success" { return .success }
            if let transient = claudeTransient(result, events: events, exit: exit) { return transient }
            let detail = result.text.isEmpty ? "" : ": \(result.text.prefix(300))"
            return .permanent(reason: "claude result \(result.subtype)\(result.isError ? " (error)" : "")\(detail)")
        }
        // Codex: the last terminal turn event decides.
        if let turnFailure = events.codexTurnFailure {
            guard let message = turnFailure else {
                return exitedCleanly ? .success : .permanent(reason: "codex completed its turn but \(describe(exit))")
            }
            if TextSignals.mentionsLimit(message) {
                return .transient(
                    retryAtMs: TextSignals.retryAfter(in: message, nowMs: exit.endedAtMs), reason: message)
            }
            return .permanent(reason: "codex turn failed: \(message.prefix(300))")
        }
        if exitedCleanly { return .success }
        // Structured evidence without a final result: a rejected rate limit or a retried 429/529.
        if let until = events.rateLimitRejectedUntilMs {
            return .transient(retryAtMs: until, reason: "rate limit rejected (\(describe(exit)))")
        }
        if let retry = events.apiRetry, Self.isTransientRetry(retry) {
            let status = retry.status.map { " \($0)" } ?? ""
            return .transient(retryAtMs: nil, reason: "API error\(status) \(retry.error) (\(describe(exit)))")
        }
        // Text, for agents without structured output.
        let retryAt = TextSignals.retryAfter(in: text, nowMs: exit.endedAtMs)
        if retryAt != nil || TextSignals.mentionsLimit(text) {
            return .transient(retryAtMs: retryAt, reason: "rate limit or overload in the output (\(describe(exit)))")
        }
        return .permanent(reason: describe(exit))
    }

    private func claudeTransient(
        _ result: AgentEvents.ClaudeResult, events: AgentEvents, exit: RunExit
    ) -> RunClassification? {
        let transientStatus = result.apiErrorStatus.map(Self.transientStatuses.contains) ?? false
        let lower = result.text.lowercased()
        let transientText = [
            "overloaded_error", "rate_limit_error", "api error: 429", "api error: 529", "hit your limit",
            "hit your session limit", "usage limit",
        ].contains { lower.contains($0) }
        let rejected = events.rateLimitRejectedUntilMs != nil
        guard transientStatus || transientText || rejected else { return nil }
        let retryAt = events.rateLimitRejectedUntilMs ?? nil
        let status = result.apiErrorStatus.map { "API error \($0)" } ?? "rate limit"
        return .transient(retryAtMs: retryAt, reason: "\(status): \(result.text.prefix(200))")
    }

    /// HTTP statuses that mean "try later": rate limited, server errors, overloaded.
    static let transientStatuses: Set<Int> = [429, 500, 502, 503, 504, 529]

    private static func isTransientRetry(_ retry: AgentEvents.APIRetry) -> Bool {
        if let status = retry.status, transientStatuses.contains(status) { return true }
        return ["rate_limit", "overloaded", "server_error"].contains(retry.error)
    }

    private func describe(_ exit: RunExit) -> String {
        switch exit.outcome {
        case .exited(let code): "exit \(code)"
        case .signaled(let signal): "killed by \(signalName(signal))"
        case .execFailed(let reason), .setupFailed(let reason), .shimFailed(let reason): reason
        }
    }

    private func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 6: "SIGABRT", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV",
            13: "SIGPIPE", 15: "SIGTERM",
        ]
        return names[signal] ?? "signal \(signal)"
    }
}

/// Rate-limit words in free text; used only for failed runs without structured output.
enum TextSignals {
    /// `429` or `529` as a number of its own, or `rate limit`, `rate_limit`, `too many requests`, `overloaded`,
    /// `usage limit` in any case.
    static func mentionsLimit(_ text: String) -> Bool {
        let lower = text.lowercased()
        if ["rate limit", "rate_limit", "ratelimit", "too many requests", "overloaded", "usage limit"].contains(
            where: { lower.contains($0) })
        {
            return true
        }
        return containsStandaloneNumber(Array(lower.utf8), "429") || containsStandaloneNumber(Array(lower.utf8), "529")
    }

    /// The last `Retry-After: N` (seconds; any case, spaces allowed) as an absolute time, or nil.
    static func retryAfter(in text: String, nowMs: Int64) -> Int64? {
        let bytes = Array(text.lowercased().utf8)
        let key = Array("retry-after".utf8)
        var found: Int64?
        var index = 0
        while index + key.count <= bytes.count {
            guard bytes[index..<index + key.count].elementsEqual(key) else {
                index += 1
                continue
            }
            var cursor = index + key.count
            while cursor < bytes.count, bytes[cursor] == UInt8(ascii: " ") || bytes[cursor] == UInt8(ascii: "\"") {
                cursor += 1
            }
            guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: ":") || bytes[cursor] == UInt8(ascii: "=") else {
                index += 1
                continue
            }
            cursor += 1
            while cursor < bytes.count, bytes[cursor] == UInt8(ascii: " ") || bytes[cursor] == UInt8(ascii: "\"") {
                cursor += 1
            }
            var seconds: Int64 = 0
            var digits = 0
            while cursor < bytes.count, digits < 9, let digit = digitValue(bytes[cursor]) {
                seconds = seconds * 10 + digit
                digits += 1
                cursor += 1
            }
            if digits > 0 { found = nowMs + seconds * 1000 }
            index = cursor
        }
        return found
    }

    private static func digitValue(_ byte: UInt8) -> Int64? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int64(byte - UInt8(ascii: "0")) : nil
    }

    private static func containsStandaloneNumber(_ bytes: [UInt8], _ number: String) -> Bool {
        let needle = Array(number.utf8)
        var index = 0
        while index + needle.count <= bytes.count {
            if bytes[index..<index + needle.count].elementsEqual(needle) {
                let before = index == 0 ? nil : bytes[index - 1]
                let after = index + needle.count < bytes.count ? bytes[index + needle.count] : nil
                if !isWordByte(before) && !isWordByte(after) { return true }
            }
            index += 1
        }
        return false
    }

    private static func isWordByte(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
    }
}
