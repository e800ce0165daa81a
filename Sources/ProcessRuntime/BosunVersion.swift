/// The release of this build, shown by `bosun version` and exchanged in every IPC hello.
public enum BosunVersion {
    public static let current = "0.1.0"
}
