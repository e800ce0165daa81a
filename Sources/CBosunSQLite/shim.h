#ifndef CBOSUN_SQLITE_SHIM_H
#define CBOSUN_SQLITE_SHIM_H
#include <sqlite3.h>
#include <stdint.h>
#include <time.h>

/// SQLITE_TRANSIENT is a macro casting -1 to a function pointer; Swift cannot import it.
static inline sqlite3_destructor_type bosun_sqlite_transient(void) { return SQLITE_TRANSIENT; }

/// A busy handler that retries often: SQLite's own (`sqlite3_busy_timeout`) sleeps 1, 2, 5, 10 … 100 ms between
/// tries, so a writer that waits behind another process's short transaction loses tens of milliseconds. This one
/// sleeps 200 µs for the first 50 tries, then 1 ms, until the timeout (passed as the handler's argument, in ms).
static inline int bosun_sqlite_busy_retry(void *timeout, int count) {
    long timeout_ms = (long)(intptr_t)timeout;
    long waited_us = count < 50 ? count * 200L : 10000L + (long)(count - 50) * 1000L;
    if (waited_us / 1000 >= timeout_ms) return 0;
    struct timespec pause = { 0, (count < 50 ? 200L : 1000L) * 1000L };
    nanosleep(&pause, NULL);
    return 1;
}

/// Installs `bosun_sqlite_busy_retry` with a timeout in milliseconds.
static inline int bosun_sqlite_busy_timeout(sqlite3 *db, int milliseconds) {
    return sqlite3_busy_handler(db, bosun_sqlite_busy_retry, (void *)(intptr_t)milliseconds);
}
#endif
