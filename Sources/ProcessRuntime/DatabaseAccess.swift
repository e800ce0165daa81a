import Config
import Store

extension BosunConfig {
    /// Opens the database with this config's durability and brings its schema up to date.
    public func openDatabase() throws -> Database {
        let durability: Database.Durability = durability == .full ? .full : .normal
        let database = try Database(path: layout.database, durability: durability)
        try database.migrate()
        return database
    }
}
