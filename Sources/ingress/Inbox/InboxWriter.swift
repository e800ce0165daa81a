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
    /// Roughly how much the WAL may grow before the writer copies it into the database file.
    private let checkpointAfterBytes: Int

    /// Starts the writing thread, which lives as long as the process.
    init(
        database: Database, maxBatch: Int = 512, maxQueued: Int = 8192,
        checkpointAfterBytes: Int = 4 << 20, logger: Logger,
        onCommit: @escaping @Sendable (Int) -> Void
    ) throws {
        self.database = database
        self.maxBatch = maxBatch
        self.maxQueued = maxQueued
        self.checkpointAfterBytes = checkpointAfterBytes
        self.logger = logger
        self.onCommit = onCommit
        try database.disableAutomaticCheckpoints()
        let thread = Thread { [self] in
            CurrentThread.setName("inbox-writer")
            run()
        }
        thread.start()
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

    /// The writer checkpoints, not another thread: SQLite starts the WAL over from its beginning only when a write
    /// transaction begins after every frame has been copied, which a checkpoint racing the next commit never
    /// achieves under load; the WAL then grows without end, and every commit extends the file (measured: twice the
    /// CPU per stored delivery). The writer copies after answering its group, once the WAL holds about
    /// `checkpointAfterBytes` or when no request has come for 50 ms. See docs/STORE.md, "Group commit".
    private func run() {
        var uncopiedBytes = 0
        while true {
            if wakeup.wait(timeout: .now() + .milliseconds(50)) == .timedOut {
                if uncopiedBytes > 0 { checkpoint(&uncopiedBytes) }
                continue
            }
            let batch = queue.withLock { queue -> [Item] in
                let taken = Array(queue.prefix(maxBatch))
                queue.removeFirst(taken.count)
                return taken
            }
            guard !batch.isEmpty else { continue }
            // Signals for items left behind by the batch limit stay counted in the semaphore; for items taken
            // here beyond the first, the extra signals only cause cheap empty passes.
            uncopiedBytes += write(batch)
            if uncopiedBytes >= checkpointAfterBytes { checkpoint(&uncopiedBytes) }
        }
    }

    private func checkpoint(_ uncopiedBytes: inout Int) {
        // Counted as done even if it fails (busy: `bosun task` checkpointing the same file; a failing disk): the
        // next groups try again, and an idle writer does not retry, and warn, every 50 ms.
        uncopiedBytes = 0
        do {
            try database.checkpoint()
        } catch {
            logger.warning("WAL checkpoint failed", metadata: ["error": "\(error)"])
        }
    }

    /// Writes and answers `batch`; returns about how many bytes it added to the WAL.
    private func write(_ batch: [Item]) -> Int {
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
            return 0
        }
        var outcomeIndex = 0
        var stored = 0
        var bytes = 0
        for item in batch {
            switch item {
            case .store(let delivery, let continuation):
                let outcome = outcomes[outcomeIndex]
                outcomeIndex += 1
                if case .stored = outcome {
                    stored += 1
                    bytes += delivery.body.count + delivery.headers.utf8.count + 256
                }
                continuation.resume(returning: .success(outcome))
            case .probe(let answer):
                answer.resolve(.success(()))
            }
        }
        if stored > 0 { onCommit(stored) }
        return bytes
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
