/*
 * Opening the store: a new file is made whole under a temporary name and
 * renamed into place, so a file at the path always has the schema; an
 * existing one is checked (ours, a schema this program reads, not damaged)
 * before anything is read from it.
 */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The journal (schema version 2): each row one committed batch, its
   records in one blob (store_journal.c), until compaction applies them to
   the tables. */
#define JOURNAL_SQL                                                                                \
    "CREATE TABLE journal ("                                                                       \
    " id INTEGER PRIMARY KEY,"                                                                     \
    " first_seq INTEGER NOT NULL,"                                                                 \
    " last_seq INTEGER NOT NULL,"                                                                  \
    " data BLOB NOT NULL"                                                                          \
    ") STRICT;"

/* Schema version 2. Integers that are unsigned 64-bit in the records keep
   their bits (UINT64_MAX reads as -1 in the sqlite3 shell). */
static const char schema_sql[] =
    "CREATE TABLE sessions ("
    " client_id TEXT PRIMARY KEY,"
    " expiry_interval INTEGER NOT NULL," /* seconds */
    " expires_at INTEGER NOT NULL"       /* ms; UINT64_MAX: connected or never */
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE subscriptions ("
    " client_id TEXT NOT NULL,"
    " topic_filter TEXT NOT NULL,"
    " options INTEGER NOT NULL,"
    " subscription_identifier INTEGER NOT NULL,"
    " PRIMARY KEY (client_id, topic_filter)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE messages ("
    " message_id INTEGER PRIMARY KEY,"
    " qos INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL," /* ms; 0: none */
    " packet BLOB NOT NULL"         /* the PUBLISH at QoS 0, MQTT 5 */
    ") STRICT;"
    "CREATE TABLE deliveries ("
    " client_id TEXT NOT NULL,"
    " delivery_id INTEGER NOT NULL,"
    " message_id INTEGER NOT NULL,"
    " qos INTEGER NOT NULL,"
    " retain INTEGER NOT NULL,"
    " shared INTEGER NOT NULL,"
    " subscription_identifiers BLOB NOT NULL," /* 4-byte big-endian each */
    " stage INTEGER NOT NULL,"                 /* 0 queued, 1 sent, 2 released */
    " packet_id INTEGER NOT NULL,"
    " PRIMARY KEY (client_id, delivery_id)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE retained ("
    " topic TEXT PRIMARY KEY,"
    " message_id INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE wills ("
    " client_id TEXT PRIMARY KEY,"
    " message_id INTEGER NOT NULL,"
    " will_delay INTEGER NOT NULL," /* seconds */
    " will_at INTEGER NOT NULL"     /* ms; UINT64_MAX: its connection was open */
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE inbound ("
    " client_id TEXT NOT NULL,"
    " packet_id INTEGER NOT NULL,"
    " PRIMARY KEY (client_id, packet_id)"
    ") STRICT, WITHOUT ROWID;" JOURNAL_SQL;

void store_error(char *err, size_t cap, const char *path, const char *fmt, ...)
{
    if (cap == 0) {
        return;
    }
    int n = snprintf(err, cap, "%s: ", path);
    if (n < 0 || (size_t)n >= cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
}

/* What SQLite said, in words a user can act on. */
static void db_error(char *err, size_t cap, const char *path, sqlite3 *db, int rc)
{
    int primary = rc & 0xff;
    const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (primary) {
    case SQLITE_NOTADB:
        store_error(err, cap, path, "not an SQLite database (%s)", msg);
        break;
    case SQLITE_CORRUPT:
        store_error(err, cap, path, "the file is damaged (%s)", msg);
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        store_error(err, cap, path, "in use by another process, e.g. a broker already running (%s)",
                    msg);
        break;
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        store_error(err, cap, path, "cannot be opened for writing (%s)", msg);
        break;
    default:
        store_error(err, cap, path, "%s", msg);
        break;
    }
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        return strdup(".");
    }
    if (slash == path) {
        return strdup("/");
    }
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

static bool sync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

/* Whether the file can be used, before SQLite sees it: SQLite would take
   an empty file for a new database, and it writes its journal (the -wal
   file) in the same directory. *exists tells whether there is a file. */
static bool precheck(const char *path, bool *exists, char *err, size_t cap)
{
    struct stat st;
    *exists = stat(path, &st) == 0;
    if (!*exists && errno != ENOENT) {
        store_error(err, cap, path, "cannot read it: %s", strerror(errno));
        return false;
    }
    if (*exists && !S_ISREG(st.st_mode)) {
        store_error(err, cap, path, "not a regular file");
        return false;
    }
    if (*exists && access(path, R_OK | W_OK) != 0) {
        store_error(err, cap, path, "cannot read and write it: %s", strerror(errno));
        return false;
    }
    if (*exists && st.st_size == 0) {
        store_error(err, cap, path,
                    "the file is empty (truncated?); move it away to start with an empty store");
        return false;
    }
    char *dir = dir_of(path);
    if (dir == NULL) {
        store_error(err, cap, path, "out of memory");
        return false;
    }
    struct stat ds;
    bool ok = true;
    if (stat(dir, &ds) != 0 || !S_ISDIR(ds.st_mode)) {
        store_error(err, cap, path, "its directory %s does not exist", dir);
        ok = false;
    } else if (access(dir, W_OK | X_OK) != 0) {
        store_error(err, cap, path,
                    "its directory %s is not writable (%s): the store writes its journal there",
                    dir, strerror(errno));
        ok = false;
    }
    free(dir);
    return ok;
}

/* A new store: the schema in a temporary file, synced, renamed into place,
   and the directory synced, so a crash leaves either no file or a whole
   one. */
static bool create_store(const char *path, char *err, size_t cap)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + sizeof ".new-journal");
    char *journal = malloc(n + sizeof ".new-journal");
    char *dir = dir_of(path);
    bool ok = tmp != NULL && journal != NULL && dir != NULL;
    if (!ok) {
        store_error(err, cap, path, "out of memory");
    }
    sqlite3 *db = NULL;
    if (ok) {
        memcpy(tmp, path, n);
        memcpy(tmp + n, ".new", sizeof ".new");
        memcpy(journal, tmp, n + 4);
        memcpy(journal + n + 4, "-journal", sizeof "-journal");
        (void)unlink(tmp); /* left by a crash while creating */
        (void)unlink(journal);
        /* Mode 0600: the store holds every client's messages. SQLite gives
           its journal files the mode of the database file. */
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
        }
        int rc = fd >= 0 ? sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL) : SQLITE_CANTOPEN;
        char sql[sizeof schema_sql + 160];
        snprintf(sql, sizeof sql,
                 "PRAGMA synchronous=FULL; BEGIN; %s PRAGMA application_id=%d; "
                 "PRAGMA user_version=%d; COMMIT;",
                 schema_sql, STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
        if (rc == SQLITE_OK) {
            rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        }
        if (rc != SQLITE_OK) {
            db_error(err, cap, tmp, db, rc);
            ok = false;
        }
    }
    if (db != NULL && sqlite3_close(db) != SQLITE_OK && ok) {
        store_error(err, cap, tmp, "cannot close it");
        ok = false;
    }
    if (ok && (!sync_path(tmp, O_RDONLY) || rename(tmp, path) != 0)) {
        store_error(err, cap, path, "cannot create it: %s", strerror(errno));
        ok = false;
    }
    if (ok && !sync_path(dir, O_RDONLY | O_DIRECTORY)) {
        store_error(err, cap, path, "cannot sync its directory %s: %s", dir, strerror(errno));
        ok = false;
    }
    if (!ok && tmp != NULL) {
        (void)unlink(tmp);
    }
    free(tmp);
    free(journal);
    free(dir);
    return ok;
}

/* @p sql stepped to its first row; NULL after saying why in @p err. */
static sqlite3_stmt *first_row(struct store *st, const char *sql, char *err, size_t cap)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
    }
    if (rc != SQLITE_ROW) {
        db_error(err, cap, st->path, st->db, rc);
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

static bool pragma_int(struct store *st, const char *sql, int *out, char *err, size_t cap)
{
    sqlite3_stmt *s = first_row(st, sql, err, cap);
    if (s == NULL) {
        return false;
    }
    *out = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return true;
}

/* The largest id in a column, from "SELECT max, min": UINT64_MAX when one
   is above INT64_MAX (stored negative), which bounds them all. */
static bool max_id(struct store *st, const char *sql, uint64_t *out, char *err, size_t cap)
{
    sqlite3_stmt *s = first_row(st, sql, err, cap);
    if (s == NULL) {
        return false;
    }
    *out = sqlite3_column_int64(s, 1) < 0 ? UINT64_MAX : store_u64(sqlite3_column_int64(s, 0));
    sqlite3_finalize(s);
    return true;
}

/* The file is ours, in a schema we read, and its pages are sound (a file
   cut short shows here, not in the middle of the load). */
static bool check_file(struct store *st, int *version_out, char *err, size_t cap)
{
    int app, version;
    if (!pragma_int(st, "PRAGMA application_id", &app, err, cap) ||
        !pragma_int(st, "PRAGMA user_version", &version, err, cap)) {
        return false;
    }
    if (app != STORE_APPLICATION_ID) {
        store_error(err, cap, st->path,
                    "not a mqttproto-broker store (an SQLite database with application_id %d)",
                    app);
        return false;
    }
    if (version > STORE_SCHEMA_VERSION) {
        store_error(err, cap, st->path,
                    "schema version %d is newer than this mqttproto-broker reads (%d): it was "
                    "written by a newer version",
                    version, STORE_SCHEMA_VERSION);
        return false;
    }
    if (version < 1) {
        store_error(err, cap, st->path, "bad schema version %d", version);
        return false;
    }
    *version_out = version;
    sqlite3_stmt *s = first_row(st, "PRAGMA quick_check", err, cap);
    if (s == NULL) {
        return false;
    }
    const char *res = (const char *)sqlite3_column_text(s, 0);
    bool ok = res != NULL && strcmp(res, "ok") == 0;
    if (!ok) {
        store_error(err, cap, st->path, "the file is damaged (%s)", res != NULL ? res : "?");
    }
    sqlite3_finalize(s);
    return ok;
}

static bool setup(struct store *st, char *err, size_t cap)
{
    /* Exclusive locking: the file stays locked while we have it open (a
       second broker fails at once), and WAL needs no -shm file.
       secure_delete=FAST: SQLite builds that default to secure_delete=ON
       (Debian's) would write every page a compaction frees (the journal's
       blobs) again, zeroed; FAST zeroes deleted rows in the pages written
       anyway, not the freed overflow pages, which the next blobs reuse. */
    int rc = sqlite3_exec(st->db,
                          "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; "
                          "PRAGMA synchronous=FULL; PRAGMA secure_delete=FAST;",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        db_error(err, cap, st->path, st->db, rc);
        return false;
    }
    int version;
    if (!check_file(st, &version, err, cap)) {
        return false;
    }
    /* A write takes the exclusive lock now, not at the first batch. A
       version-1 file gets the journal table, in the same transaction. */
    char sql[sizeof JOURNAL_SQL + 80];
    snprintf(sql, sizeof sql, "BEGIN IMMEDIATE; %s PRAGMA user_version=%d; COMMIT;",
             version == 1 ? JOURNAL_SQL : "", version == 1 ? 2 : version);
    rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        db_error(err, cap, st->path, st->db, rc);
        return false;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(st->db, store_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &st->stmt[i], NULL);
        if (rc != SQLITE_OK) {
            store_error(err, cap, st->path, "unexpected tables (%s)", sqlite3_errmsg(st->db));
            return false;
        }
    }
    /* The bounds of the ids in the tables (store_journal.c), before the
       journal is compacted into them. */
    return max_id(st, "SELECT ifnull(max(message_id), 0), min(message_id) FROM messages",
                  &st->max_message_id, err, cap) &&
           max_id(st, "SELECT ifnull(max(delivery_id), 0), min(delivery_id) FROM deliveries",
                  &st->max_delivery_id, err, cap) &&
           store_journal_open(st, err, cap);
}

struct store *store_open(const char *path, char *err, size_t cap)
{
    bool exists;
    if (!precheck(path, &exists, err, cap)) {
        return NULL;
    }
    if (!exists && !create_store(path, err, cap)) {
        return NULL;
    }
    struct store *st = calloc(1, sizeof *st);
    if (st == NULL || (st->path = strdup(path)) == NULL) {
        free(st);
        store_error(err, cap, path, "out of memory");
        return NULL;
    }
    store_batch_init(&st->batch);
    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        db_error(err, cap, path, st->db, rc);
        store_close(st);
        return NULL;
    }
    sqlite3_extended_result_codes(st->db, 1);
    if (sqlite3_db_readonly(st->db, "main") == 1) {
        /* SQLite falls back to reading only: we must write. */
        store_error(err, cap, path, "cannot be opened for writing");
        store_close(st);
        return NULL;
    }
    if (!setup(st, err, cap)) {
        store_close(st);
        return NULL;
    }
    return st;
}

void store_close(struct store *st)
{
    if (st == NULL) {
        return;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(st->stmt[i]);
    }
    /* The last close checkpoints the WAL into the file and removes it. */
    sqlite3_close(st->db);
    store_batch_free(&st->batch);
    store_journal_free(st);
    free(st->blob);
    free(st->path);
    free(st);
}

const char *store_path(const struct store *st)
{
    return st->path;
}
