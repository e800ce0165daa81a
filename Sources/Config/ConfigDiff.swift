/// What differs between two configs, section by section, in words for a reload's report and log.
public enum ConfigDiff {
    /// One line per changed section, e.g. `supervisor changed`, `project demo added`. Secrets' values are never
    /// shown; a changed secret reads as its section changing.
    public static func changes(from old: BosunConfig, to new: BosunConfig) -> [String] {
        var changes: [String] = []
        func compare<Value: Equatable>(_ name: String, _ path: KeyPath<BosunConfig, Value>) {
            if old[keyPath: path] != new[keyPath: path] { changes.append("\(name) changed") }
        }
        compare("state_dir", \.stateDirectory)
        compare("listen", \.listen)
        compare("api", \.api)
        compare("ingress", \.ingress)
        compare("durability", \.durability)
        compare("supervisor", \.supervisor)
        compare("breaker", \.breaker)
        compare("worker", \.worker)
        compare("retry", \.retry)
        compare("logs", \.logs)
        compare("agents", \.agents)
        compare("notify", \.notify)
        let oldProjects = Dictionary(old.projects.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let newProjects = Dictionary(new.projects.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for name in newProjects.keys.sorted() {
            if let before = oldProjects[name] {
                if before != newProjects[name] { changes.append("project \(name) changed") }
            } else {
                changes.append("project \(name) added")
            }
        }
        for name in oldProjects.keys.sorted() where newProjects[name] == nil {
            changes.append("project \(name) removed")
        }
        return changes
    }
}
