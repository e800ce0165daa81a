import Config
import Store

extension BosunConfig {
    /// Opens the database with this config's durability and brings its schema up to date.
    public func openDatabase(busyTimeout: Duration = .seconds(5)) throws -> Database {
        let durability: Database.Durability = durability == .full ? .full : .normal
        let database = try Database(path: layout.database, durability: durability, busyTimeout: busyTimeout)
        try database.migrate()
        return database
    }
}
