#if canImport(Glibc)
import Glibc
#endif

/// One step of the schema, applied once, in order, inside a write transaction.
public struct Migration: Sendable {
    /// 1, 2, 3 … without gaps.
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}

/// What `migrate` found and did.
public struct MigrationReport: Sendable, Equatable {
    public var from: Int
    public var to: Int
    /// Names of the migrations applied now.
    public var applied: [String]
}

extension Database {
    /// Brings the schema up to the last of `migrations`. Safe to call from several processes at once: the version
    /// check and the steps run under one `BEGIN IMMEDIATE`, so exactly one caller applies each step.
    ///
    /// - Throws: `schemaTooNew` if a newer Bosun already migrated this file further than `migrations` go.
    @discardableResult
    public func migrate(_ migrations: [Migration] = BosunSchema.migrations) throws -> MigrationReport {
        for (offset, migration) in migrations.enumerated() where migration.version != offset + 1 {
            throw StoreError(
                .sqlite, "migration \(migration.name) has version \(migration.version), expected \(offset + 1)")
        }
        let latest = migrations.last?.version ?? 0
        return try write { transaction in
            try transaction.executeScript(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at_ms INTEGER NOT NULL
                )
                """)
            let current =
                try transaction.queryFirst("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations")?
                .int("version") ?? 0
            guard current <= latest else {
                throw StoreError(
                    .schemaTooNew,
                    "\(path) has schema version \(current), newer than this Bosun knows (\(latest)); run a newer bosun")
            }
            var applied: [String] = []
            for migration in migrations where migration.version > current {
                do {
                    try transaction.executeScript(migration.sql)
                } catch let error as StoreError {
                    throw StoreError(
                        error.code, "migration \(migration.version) (\(migration.name)) failed: \(error.message)",
                        resultCode: error.resultCode, sql: error.sql)
                }
                try transaction.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)",
                    .integer(Int64(migration.version)), .text(migration.name), .integer(Clock.nowMilliseconds))
                applied.append(migration.name)
            }
            return MigrationReport(from: current, to: max(current, latest), applied: applied)
        }
    }

    /// The schema version the file is at.
    public func schemaVersion() throws -> Int {
        try read { transaction in
            let exists = try transaction.queryFirst(
                "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
            guard exists != nil else { return 0 }
            return try transaction.queryFirst("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations")?
                .int("version") ?? 0
        }
    }
}

/// Wall-clock milliseconds, the unit of every timestamp column.
public enum Clock {
    public static var nowMilliseconds: Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
