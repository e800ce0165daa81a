import Config
import Store

extension BosunConfig {
    /// Opens the database with this config's durability and brings its schema up to date.
    public func openDatabase(busyTimeout: Duration = .seconds(5)) throws -> Database {
        let database = try Database(path: layout.database, durability: storeDurability, busyTimeout: busyTimeout)
        try database.migrate()
        return database
    }

    /// Opens the inbox file with this config's durability, brings its schema up to date, and moves into it any
    /// deliveries an older Bosun kept in `store` (the main file, already migrated), before anything is stored.
    public func openInbox(store: Database, busyTimeout: Duration = .seconds(5)) throws -> Database {
        let inbox = try Database.openInbox(path: layout.inbox, durability: storeDurability, busyTimeout: busyTimeout)
        try store.moveLegacyDeliveries(into: inbox)
        return inbox
    }

    private var storeDurability: Database.Durability { durability == .full ? .full : .normal }
}
