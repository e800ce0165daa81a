import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// The `bosun` executable's entry point.
@main
enum BosunMain {
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        await BosunCommand.main()
    }
}
