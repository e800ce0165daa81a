import Foundation
import LinuxProcess
import Logging
import Store
import Synchronization

/// Commits deliveries to the inbox in groups. Requests queue their delivery; one thread writes everything that has
/// queued in a single `BEGIN IMMEDIATE` transaction — one fsync for the whole group — and answers each request
/// once the commit has returned, so "2xx means stored" holds at any load. If the commit fails, every delivery of
/// the group fails and nothing of it is stored.
final class InboxWriter: Sendable {
    /// What one queued delivery comes back with.
    typealias Outcome = Result<DeliveryOutcome, StoreError>

    private enum Item {
        case store(NewDelivery, CheckedContinuation<Outcome, Never>)
        case probe(OneShotResult)
    }

    private let database: Database
    private let maxBatch: Int
    /// Deliveries that may wait for the writer; past this, a request fails at once (503) instead of piling up
    /// behind a stalled disk with its body in memory.
    private let maxQueued: Int
    private let logger: Logger
    private let onCommit: @Sendable (_ stored: Int) -> Void
    private let queue = Mutex<[Item]>([])
    private let wakeup = DispatchSemaphore(value: 0)
    /// Signalled after each commit, for the checkpointing thread.
    private let committed = DispatchSemaphore(value: 0)

    /// Starts the writing thread and the checkpointing thread, which live as long as the process. `checkpointer`
    /// is a second connection to the same file: it copies the WAL into the database file in the background, so that
    /// no commit waits for that copy.
    init(
        database: Database, checkpointer: Database, maxBatch: Int = 512, maxQueued: Int = 8192, logger: Logger,
        onCommit: @escaping @Sendable (Int) -> Void
    ) throws {
        self.database = database
        self.maxBatch = maxBatch
        self.maxQueued = maxQueued
        self.logger = logger
        self.onCommit = onCommit
        try database.disableAutomaticCheckpoints()
        let thread = Thread { [self] in
            CurrentThread.setName("inbox-writer")
            run()
        }
        thread.start()
        let committed = self.committed
        let checkpointing = Thread {
            CurrentThread.setName("inbox-checkpoint")
            while true {
                // Wait for a commit, let a few more arrive, then copy them all at once. Idle: no work at all.
                committed.wait()
                usleep(50_000)
                while committed.wait(timeout: .now()) == .success {}
                do {
                    try checkpointer.checkpoint()
                } catch {
                    logger.warning("WAL checkpoint failed", metadata: ["error": "\(error)"])
                }
            }
        }
        checkpointing.start()
    }

    /// Stores `delivery` (or finds it a duplicate) durably, as part of the next group.
    func store(_ delivery: NewDelivery) async -> Outcome {
        await withCheckedContinuation { continuation in
            let queued = queue.withLock { queue -> Bool in
                guard queue.count < maxQueued else { return false }
                queue.append(.store(delivery, continuation))
                return true
            }
            if queued {
                wakeup.signal()
            } else {
                continuation.resume(
                    returning: .failure(StoreError(.busy, "\(maxQueued) deliveries already wait for the disk")))
            }
        }
    }

    /// Applies a reloaded `ingress.store_timeout_ms`.
    func setStoreTimeout(_ timeout: Duration) {
        database.setBusyTimeout(timeout)
    }

    /// Takes and releases the write lock through the same thread: the store is writable and the writer alive.
    /// Fails after `timeout` if the writer does not get to it (a probe writes nothing, so giving up is safe).
    func probe(timeout: Duration) async -> Result<Void, StoreError> {
        let answer = OneShotResult()
        queue.withLock { $0.append(.probe(answer)) }
        wakeup.signal()
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
                answer.resolve(.failure(StoreError(.busy, "the inbox writer did not answer within \(timeout)")))
            }
            let result = await answer.wait()
            group.cancelAll()
            return result
        }
    }

    private func run() {
        while true {
            wakeup.wait()
            let batch = queue.withLock { queue -> [Item] in
                let taken = Array(queue.prefix(maxBatch))
                queue.removeFirst(taken.count)
                return taken
            }
            guard !batch.isEmpty else { continue }
            // Signals for items left behind by the batch limit stay counted in the semaphore; for items taken
            // here beyond the first, the extra signals only cause cheap empty passes.
            write(batch)
        }
    }

    private func write(_ batch: [Item]) {
        var outcomes: [DeliveryOutcome] = []
        do {
            try database.write { transaction in
                for item in batch {
                    if case .store(let delivery, _) = item {
                        outcomes.append(try transaction.insertDelivery(delivery))
                    }
                }
            }
        } catch {
            let failure = (error as? StoreError) ?? StoreError(.sqlite, "\(error)")
            logger.error("inbox commit failed", metadata: ["deliveries": "\(batch.count)", "error": "\(failure)"])
            for item in batch {
                switch item {
                case .store(_, let continuation): continuation.resume(returning: .failure(failure))
                case .probe(let answer): answer.resolve(.failure(failure))
                }
            }
            return
        }
        var outcomeIndex = 0
        var stored = 0
        for item in batch {
            switch item {
            case .store(_, let continuation):
                let outcome = outcomes[outcomeIndex]
                outcomeIndex += 1
                if case .stored = outcome { stored += 1 }
                continuation.resume(returning: .success(outcome))
            case .probe(let answer):
                answer.resolve(.success(()))
            }
        }
        committed.signal()
        if stored > 0 { onCommit(stored) }
    }
}

/// A probe's answer, given once by whichever comes first: the writer or the timeout.
final class OneShotResult: Sendable {
    private let state = Mutex<
        (result: Result<Void, StoreError>?, waiter: CheckedContinuation<Result<Void, StoreError>, Never>?)
    >(
        (nil, nil))

    func resolve(_ result: Result<Void, StoreError>) {
        let waiter = state.withLock { state -> CheckedContinuation<Result<Void, StoreError>, Never>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: result)
    }

    func wait() async -> Result<Void, StoreError> {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Result<Void, StoreError>? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
