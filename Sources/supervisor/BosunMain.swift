import ArgumentParser
import Foundation
import LinuxProcess

#if canImport(Glibc)
import Glibc
#endif

/// The `bosun` executable's entry point.
@main
enum BosunMain {
    static func main() async {
        // `bosun run` handles its signals from the very start: one that arrives while it loads the config waits
        // for the supervisor instead of killing it halfway.
        if CommandLine.arguments.dropFirst().first == "run" {
            do {
                try ProcessSignals.install(RunCommand.handledSignals)
            } catch {
                FileHandle.standardError.write(Data("bosun: \(error)\n".utf8))
                exit(1)
            }
        }
        signal(SIGPIPE, SIG_IGN)
        await BosunCommand.main()
    }
}
