/* The intake ceiling's storage half: the work every verified delivery needs, in C, without HTTP. Per delivery:
 * HMAC-SHA256 of the body (the signature) and SHA-256 of it (the stored body hash), then one row — source,
 * delivery id, body hash, headers, body — inserted into a WAL SQLite database (16 KiB pages, synchronous=FULL,
 * a unique index on (source, delivery)), 64 rows per transaction as a group commit does. No JSON validation.
 * Usage: work BODY_FILE DATABASE COUNT MODE; MODE hash (the two digests only), store (the rows only) or both.
 * Prints: <mode> cpu_us=<CPU per delivery, user + system> wall_us=<elapsed per delivery> */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { GROUP = 64 };

static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + (double)usage.ru_stime.tv_sec +
           usage.ru_stime.tv_usec / 1e6;
}

static double wall_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + now.tv_nsec / 1e9;
}

static int check(sqlite3 *db, int code, int expected) {
    if (code == expected) return 1;
    fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: work BODY_FILE DATABASE COUNT hash|store|both\n"); return 2; }
    static unsigned char body[1 << 20];
    FILE *file = fopen(argv[1], "rb");
    if (!file) { perror(argv[1]); return 1; }
    size_t length = fread(body, 1, sizeof body, file);
    fclose(file);
    int count = atoi(argv[3]);
    int hash = strcmp(argv[4], "store") != 0, store = strcmp(argv[4], "hash") != 0;

    sqlite3 *db;
    sqlite3_stmt *insert;
    check(NULL, sqlite3_open(argv[2], &db), SQLITE_OK);
    check(db, sqlite3_exec(db, "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                               "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, source TEXT NOT NULL,"
                               " delivery TEXT NOT NULL, body_hash BLOB NOT NULL, headers TEXT NOT NULL,"
                               " body BLOB NOT NULL, UNIQUE (source, delivery))", 0, 0, 0), SQLITE_OK);
    check(db, sqlite3_prepare_v2(db, "INSERT INTO deliveries (source, delivery, body_hash, headers, body)"
                                     " VALUES ('github', ?, ?, ?, ?)", -1, &insert, 0), SQLITE_OK);

    unsigned char mac[32], digest[32] = {0};
    unsigned int mac_length, fold = 0;
    char delivery[64];
    double cpu = cpu_seconds(), wall = wall_seconds();
    for (int i = 0; i < count; i++) {
        if (hash) {
            HMAC(EVP_sha256(), "bench-secret", 12, body, length, mac, &mac_length);
            SHA256(body, length, digest);
            fold ^= mac[0] ^ digest[0];
        }
        if (store) {
            if (i % GROUP == 0) check(db, sqlite3_exec(db, "BEGIN", 0, 0, 0), SQLITE_OK);
            snprintf(delivery, sizeof delivery, "delivery-%d", i);
            sqlite3_bind_text(insert, 1, delivery, -1, SQLITE_STATIC);
            sqlite3_bind_blob(insert, 2, digest, sizeof digest, SQLITE_STATIC);
            sqlite3_bind_text(insert, 3, "{\"x-github-event\":\"issues\"}", -1, SQLITE_STATIC);
            sqlite3_bind_blob(insert, 4, body, (int)length, SQLITE_STATIC);
            check(db, sqlite3_step(insert), SQLITE_DONE);
            sqlite3_reset(insert);
            if (i % GROUP == GROUP - 1 || i == count - 1) check(db, sqlite3_exec(db, "COMMIT", 0, 0, 0), SQLITE_OK);
        }
    }
    printf("%s cpu_us=%.2f wall_us=%.2f fold=%u\n", argv[4], (cpu_seconds() - cpu) / count * 1e6,
           (wall_seconds() - wall) / count * 1e6, fold & 1);
    sqlite3_close(db);
    return 0;
}
