/*
 * The SQLite store on its own: records applied and committed, the file
 * reopened and loaded back, compared as a transcript of the loader's
 * calls; and every file the store must refuse, with its exact message.
 */
#include "store_internal.h"
#include "store_sqlite.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- a scratch directory per test ---- */

struct fixture {
    char dir[64];
    char path[128];
    char err[1024];
    char log[16384]; /* the loader's transcript */
    size_t log_len;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/store-test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/broker.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];
    chmod(f->dir, 0700);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---- records ---- */

static uint64_t next_seq;

static mqttproto_str S(const char *s)
{
    return (mqttproto_str){s, strlen(s)};
}

static mqttproto_store_record rec(mqttproto_store_record_type type)
{
    mqttproto_store_record r;
    memset(&r, 0, sizeof r);
    r.type = type;
    r.seq = ++next_seq;
    return r;
}

/* Records are applied from buffers that are then overwritten: the store
   must have copied them. */
static void apply(struct store *st, const mqttproto_store_record *r)
{
    mqttproto_store_record copy = *r;
    char id[64], topic[128];
    uint8_t msg[64];
    uint32_t ids[8];
    snprintf(id, sizeof id, "%.*s", (int)r->client_id.len, r->client_id.data);
    snprintf(topic, sizeof topic, "%.*s", (int)r->topic.len, r->topic.data);
    memcpy(msg, r->message.data != NULL ? r->message.data : (const uint8_t *)"", r->message.len);
    if (r->subscription_identifier_count > 0) {
        memcpy(ids, r->subscription_identifiers, r->subscription_identifier_count * 4);
    }
    copy.client_id = (mqttproto_str){r->client_id.len > 0 ? id : NULL, r->client_id.len};
    copy.topic = (mqttproto_str){r->topic.len > 0 ? topic : NULL, r->topic.len};
    copy.message = (mqttproto_bin){r->message.len > 0 ? msg : NULL, r->message.len};
    copy.subscription_identifiers = r->subscription_identifier_count > 0 ? ids : NULL;
    assert_true(store_apply(st, &copy));
    memset(id, 'X', sizeof id);
    memset(topic, 'X', sizeof topic);
    memset(msg, 'X', sizeof msg);
    memset(ids, 0xee, sizeof ids);
}

static void session_put(struct store *st, const char *id, uint32_t interval, uint64_t at)
{
    mqttproto_store_record r = rec(MQTTPROTO_STORE_SESSION_PUT);
    r.client_id = S(id);
    r.session_expiry_interval = interval;
    r.expires_at = at;
    apply(st, &r);
}

static void by_client(struct store *st, mqttproto_store_record_type t, const char *id)
{
    mqttproto_store_record r = rec(t);
    r.client_id = S(id);
    apply(st, &r);
}

static void subscription_put(struct store *st, const char *id, const char *filter, uint8_t options,
                             uint32_t sub_id)
{
    mqttproto_store_record r = rec(MQTTPROTO_STORE_SUBSCRIPTION_PUT);
    r.client_id = S(id);
    r.topic = S(filter);
    r.options = options;
    r.subscription_identifier = sub_id;
    apply(st, &r);
}

static void subscription_delete(struct store *st, const char *id, const char *filter)
{
    mqttproto_store_record r = rec(MQTTPROTO_STORE_SUBSCRIPTION_DELETE);
    r.client_id = S(id);
    r.topic = S(filter);
    apply(st, &r);
}

static void message_put(struct store *st, uint64_t mid, const char *bytes, uint8_t qos, uint64_t at)
{
    mqttproto_store_record r = rec(MQTTPROTO_STORE_MESSAGE_PUT);
    r.message_id = mid;
    r.message = (mqttproto_bin){(const uint8_t *)bytes, strlen(bytes)};
    r.qos = qos;
    r.expires_at = at;
    apply(st, &r);
}

static void message_delete(struct store *st, uint64_t mid)
{
    mqttproto_store_record r = rec(MQTTPROTO_STORE_MESSAGE_DELETE);
    r.message_id = mid;
    apply(st, &r);
}

static void delivery_put(struct store *st, const char *id, uint64_t did, uint64_t mid, uint8_t qos,
                         const uint32_t *ids, size_t n)
{
    mqttproto_store_record r = rec(MQTTPROTO_STORE_DELIVERY_PUT);
    r.client_id = S(id);
    r.delivery_id = did;
    r.message_id = mid;
    r.qos = qos;
    r.retain = did % 2 == 0;
    r.shared = did % 3 == 0;
    r.subscription_identifiers = ids;
    r.subscription_identifier_count = n;
    apply(st, &r);
}

static void delivery_step(struct store *st, mqttproto_store_record_type t, const char *id,
                          uint64_t did, uint16_t pid)
{
    mqttproto_store_record r = rec(t);
    r.client_id = S(id);
    r.delivery_id = did;
    r.packet_id = pid;
    apply(st, &r);
}

static void retained(struct store *st, mqttproto_store_record_type t, const char *topic,
                     uint64_t mid)
{
    mqttproto_store_record r = rec(t);
    r.topic = S(topic);
    r.message_id = mid;
    apply(st, &r);
}

static void will_put(struct store *st, const char *id, uint64_t mid, uint32_t delay, uint64_t at)
{
    mqttproto_store_record r = rec(MQTTPROTO_STORE_WILL_PUT);
    r.client_id = S(id);
    r.message_id = mid;
    r.will_delay = delay;
    r.will_at = at;
    apply(st, &r);
}

static void inbound(struct store *st, mqttproto_store_record_type t, const char *id, uint16_t pid)
{
    mqttproto_store_record r = rec(t);
    r.client_id = S(id);
    r.packet_id = pid;
    apply(st, &r);
}

/* ---- the loader's transcript ---- */

__attribute__((format(printf, 2, 3))) static void say(struct fixture *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(f->log + f->log_len, sizeof f->log - f->log_len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof f->log - f->log_len);
    f->log_len += (size_t)n;
}

static int on_session(void *ctx, mqttproto_str id, uint32_t interval, uint64_t at)
{
    say(ctx, "session %.*s %u %llu\n", (int)id.len, id.data, interval, (unsigned long long)at);
    return 0;
}

static int on_subscription(void *ctx, mqttproto_str id, mqttproto_str filter, uint8_t options,
                           uint32_t sub_id)
{
    say(ctx, "subscription %.*s %.*s %u %u\n", (int)id.len, id.data, (int)filter.len, filter.data,
        options, sub_id);
    return 0;
}

static int on_message(void *ctx, uint64_t mid, mqttproto_bin m, uint8_t qos, uint64_t at)
{
    say(ctx, "message %llu %.*s %u %llu\n", (unsigned long long)mid, (int)m.len,
        (const char *)m.data, qos, (unsigned long long)at);
    return 0;
}

static int on_delivery(void *ctx, const struct store_delivery *d)
{
    say(ctx, "delivery %.*s %llu %llu q%u r%d s%d [", (int)d->client_id.len, d->client_id.data,
        (unsigned long long)d->delivery_id, (unsigned long long)d->message_id, d->qos, d->retain,
        d->shared);
    for (size_t i = 0; i < d->subscription_identifier_count; i++) {
        say(ctx, "%s%u", i > 0 ? "," : "", d->subscription_identifiers[i]);
    }
    say(ctx, "] pid%u stage%d\n", d->packet_id, (int)d->stage);
    return 0;
}

static int on_retained(void *ctx, mqttproto_str topic, uint64_t mid)
{
    say(ctx, "retained %.*s %llu\n", (int)topic.len, topic.data, (unsigned long long)mid);
    return 0;
}

static int on_will(void *ctx, mqttproto_str id, uint64_t mid, uint32_t delay, uint64_t at)
{
    say(ctx, "will %.*s %llu %u %llu\n", (int)id.len, id.data, (unsigned long long)mid, delay,
        (unsigned long long)at);
    return 0;
}

static int on_inbound(void *ctx, mqttproto_str id, uint16_t pid)
{
    say(ctx, "inbound %.*s %u\n", (int)id.len, id.data, pid);
    return 0;
}

static const struct store_loader loader = {
    on_session, on_subscription, on_message, on_delivery, on_retained, on_will, on_inbound,
};

static struct store *open_ok(struct fixture *f)
{
    struct store *st = store_open(f->path, f->err, sizeof f->err);
    if (st == NULL) {
        fail_msg("store_open: %s", f->err);
    }
    return st;
}

static void commit_ok(struct fixture *f, struct store *st, uint64_t want_seq)
{
    uint64_t seq = 0;
    if (!store_commit(st, &seq, f->err, sizeof f->err)) {
        fail_msg("store_commit: %s", f->err);
    }
    assert_int_equal(seq, want_seq);
    assert_int_equal(store_pending(st), 0);
}

/* Reopen the file and return the transcript of a load. */
static const char *reload(struct fixture *f)
{
    struct store *st = open_ok(f);
    f->log_len = 0;
    f->log[0] = '\0';
    int r = store_load(st, &loader, f, f->err, sizeof f->err);
    if (r != 0) {
        fail_msg("store_load: %d %s", r, f->err);
    }
    store_close(st);
    return f->log;
}

/* ---- the tests ---- */

static void every_record_round_trips(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f);
    next_seq = 100;
    static const uint32_t ids[] = {1, 268435455, 70000};
    session_put(st, "alice", 3600, UINT64_MAX);
    session_put(st, "bob", 0xFFFFFFFFu, 1700000000123ull);
    subscription_put(st, "alice", "a/+/c", 0x2e, 0);
    subscription_put(st, "alice", "$share/g/x/#", 0x01, 7);
    subscription_put(st, "bob", "#", 0x02, 268435455);
    message_put(st, 9, "PUBLISH-nine", 2, 0);
    message_put(st, 4, "PUBLISH-four", 1, 1700000060000ull);
    delivery_put(st, "bob", 12, 9, 2, ids, 3);
    delivery_put(st, "alice", 11, 4, 1, NULL, 0);
    delivery_put(st, "alice", 13, 9, 1, ids, 1);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_SENT, "bob", 12, 65535);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_RELEASED, "bob", 12, 65535);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_SENT, "alice", 11, 1);
    retained(st, MQTTPROTO_STORE_RETAINED_PUT, "r/t", 4);
    will_put(st, "alice", 9, 30, UINT64_MAX);
    will_put(st, "bob", 4, 0, 1700000001000ull);
    inbound(st, MQTTPROTO_STORE_INBOUND_PUT, "alice", 5);
    inbound(st, MQTTPROTO_STORE_INBOUND_PUT, "alice", 65535);
    assert_int_equal(store_pending(st), 18);
    assert_true(store_pending_bytes(st) > 0);
    commit_ok(f, st, 118);
    store_close(st);
    assert_string_equal(reload(f),
                        "session alice 3600 18446744073709551615\n"
                        "session bob 4294967295 1700000000123\n"
                        "subscription alice $share/g/x/# 1 7\n"
                        "subscription alice a/+/c 46 0\n"
                        "subscription bob # 2 268435455\n"
                        "message 4 PUBLISH-four 1 1700000060000\n"
                        "message 9 PUBLISH-nine 2 0\n"
                        "delivery alice 11 4 q1 r0 s0 [] pid1 stage1\n"
                        "delivery bob 12 9 q2 r1 s1 [1,268435455,70000] pid65535 stage2\n"
                        "delivery alice 13 9 q1 r0 s0 [1] pid0 stage0\n"
                        "retained r/t 4\n"
                        "will alice 9 30 18446744073709551615\n"
                        "will bob 4 0 1700000001000\n"
                        "inbound alice 5\n"
                        "inbound alice 65535\n");
}

static void puts_replace_and_missing_deletes_do_nothing(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f);
    next_seq = 0;
    session_put(st, "c", 10, 5);
    subscription_put(st, "c", "t", 1, 0);
    message_put(st, 1, "one", 1, 0);
    message_put(st, 2, "two", 0, 0);
    delivery_put(st, "c", 1, 1, 1, NULL, 0);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_SENT, "c", 1, 3);
    retained(st, MQTTPROTO_STORE_RETAINED_PUT, "r", 1);
    inbound(st, MQTTPROTO_STORE_INBOUND_PUT, "c", 9);
    commit_ok(f, st, 8);
    /* The same again with other values, as a repeat after a failed call
       would bring them, and deletes of what is not there. */
    session_put(st, "c", 20, 6);
    subscription_put(st, "c", "t", 2, 4);
    subscription_delete(st, "c", "no/such");
    subscription_delete(st, "nobody", "t");
    message_put(st, 1, "ONE", 2, 7);
    message_delete(st, 777);
    delivery_put(st, "c", 1, 1, 2, NULL, 0); /* queued again: the stage resets */
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_SENT, "c", 99, 4);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_DELETE, "c", 98, 0);
    retained(st, MQTTPROTO_STORE_RETAINED_PUT, "r", 2);
    retained(st, MQTTPROTO_STORE_RETAINED_DELETE, "none", 0);
    inbound(st, MQTTPROTO_STORE_INBOUND_PUT, "c", 9);
    inbound(st, MQTTPROTO_STORE_INBOUND_DELETE, "c", 10);
    by_client(st, MQTTPROTO_STORE_WILL_DELETE, "c");
    by_client(st, MQTTPROTO_STORE_SESSION_DELETE, "nobody");
    commit_ok(f, st, 23);
    store_close(st);
    assert_string_equal(reload(f), "session c 20 6\n"
                                   "subscription c t 2 4\n"
                                   "message 1 ONE 2 7\n"
                                   "message 2 two 0 0\n"
                                   "delivery c 1 1 q2 r0 s0 [] pid0 stage0\n"
                                   "retained r 2\n"
                                   "inbound c 9\n");
}

static void session_delete_takes_its_rows(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f);
    next_seq = 0;
    message_put(st, 1, "m1", 1, 0);
    message_put(st, 2, "m2", 1, 0);
    const char *who[] = {"gone", "kept"};
    for (int i = 0; i < 2; i++) {
        session_put(st, who[i], 60, UINT64_MAX);
        subscription_put(st, who[i], "x/#", 1, 0);
        delivery_put(st, who[i], (uint64_t)(10 + i), (uint64_t)(1 + i), 1, NULL, 0);
        will_put(st, who[i], (uint64_t)(1 + i), 5, UINT64_MAX);
        inbound(st, MQTTPROTO_STORE_INBOUND_PUT, who[i], 3);
    }
    commit_ok(f, st, 12);
    by_client(st, MQTTPROTO_STORE_SESSION_DELETE, "gone");
    commit_ok(f, st, 13);
    store_close(st);
    /* Message 1 is left to nobody: not loaded, and deleted. */
    assert_string_equal(reload(f), "session kept 60 18446744073709551615\n"
                                   "subscription kept x/# 1 0\n"
                                   "message 2 m2 1 0\n"
                                   "delivery kept 11 2 q1 r0 s0 [] pid0 stage0\n"
                                   "will kept 2 5 18446744073709551615\n"
                                   "inbound kept 3\n");
    struct store *again = open_ok(f);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(again->db, "SELECT count(*) FROM messages", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    store_close(again);
}

static void deletes_and_stages(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f);
    next_seq = 0;
    session_put(st, "s", 60, 1000);
    message_put(st, 1, "m1", 2, 0);
    message_put(st, 2, "m2", 2, 0);
    delivery_put(st, "s", 1, 1, 2, NULL, 0);
    delivery_put(st, "s", 2, 2, 2, NULL, 0);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_SENT, "s", 1, 1);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_RELEASED, "s", 1, 1);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_DELETE, "s", 1, 0);
    message_delete(st, 1);
    retained(st, MQTTPROTO_STORE_RETAINED_PUT, "a", 2);
    retained(st, MQTTPROTO_STORE_RETAINED_DELETE, "a", 0);
    will_put(st, "s", 2, 1, 5);
    by_client(st, MQTTPROTO_STORE_WILL_DELETE, "s");
    inbound(st, MQTTPROTO_STORE_INBOUND_PUT, "s", 1);
    inbound(st, MQTTPROTO_STORE_INBOUND_DELETE, "s", 1);
    subscription_put(st, "s", "f", 0, 0);
    subscription_delete(st, "s", "f");
    commit_ok(f, st, 17);
    store_close(st);
    assert_string_equal(reload(f), "session s 60 1000\n"
                                   "message 2 m2 2 0\n"
                                   "delivery s 2 2 q2 r1 s0 [] pid0 stage0\n");
}

static void uncommitted_records_are_not_in_the_file(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f);
    next_seq = 0;
    session_put(st, "a", 1, 2);
    commit_ok(f, st, 1);
    session_put(st, "b", 1, 2);
    uint64_t seq = 42;
    store_close(st); /* like a crash before the commit */
    assert_string_equal(reload(f), "session a 1 2\n");
    st = open_ok(f);
    assert_true(store_commit(st, &seq, f->err, sizeof f->err)); /* empty: nothing changes */
    assert_int_equal(seq, 42);
    store_close(st);
}

/* ---- files that must be refused ---- */

/* No cmocka assertion here: it also runs in a child process. */
static bool refused_with(struct fixture *f, const char *reason)
{
    char want[1024];
    snprintf(want, sizeof want, "%s: %s", f->path, reason);
    struct store *st = store_open(f->path, f->err, sizeof f->err);
    if (st != NULL) {
        store_close(st);
        fprintf(stderr, "%s was opened; expected: %s\n", f->path, want);
        return false;
    }
    if (strcmp(f->err, want) != 0) {
        fprintf(stderr, "error:    %s\nexpected: %s\n", f->err, want);
        return false;
    }
    return true;
}

static void expect_refused(struct fixture *f, const char *reason)
{
    assert_true(refused_with(f, reason));
}

/* A store with enough rows to span many pages. */
static void make_big_store(struct fixture *f)
{
    struct store *st = open_ok(f);
    next_seq = 0;
    char id[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "client-%04d-padding-padding", i);
        session_put(st, id, 60, 1000);
        subscription_put(st, id, "some/long/topic/filter/to/fill/pages/#", 1, 0);
    }
    commit_ok(f, st, 4000);
    store_close(st);
}

static void a_truncated_file_is_refused(void **state)
{
    struct fixture *f = *state;
    make_big_store(f);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_true(sb.st_size > 65536);
    assert_int_equal(truncate(f->path, sb.st_size / 2), 0);
    expect_refused(f, "the file is damaged (database disk image is malformed)");
    assert_int_equal(truncate(f->path, 0), 0);
    expect_refused(f, "the file is empty (truncated?); move it away to start with an empty store");
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void a_garbage_file_is_refused(void **state)
{
    struct fixture *f = *state;
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (char)(i * 7 + 3);
    }
    write_file(f->path, junk, sizeof junk);
    expect_refused(f, "not an SQLite database (file is not a database)");
}

static void raw_sql(struct fixture *f, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fail_msg("%s: %s", sql, msg);
    }
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void a_newer_schema_is_refused(void **state)
{
    struct fixture *f = *state;
    store_close(open_ok(f));
    raw_sql(f, "PRAGMA user_version=2");
    expect_refused(f, "schema version 2 is newer than this mqttproto-broker reads (1): it was "
                      "written by a newer version");
}

static void another_database_is_refused(void **state)
{
    struct fixture *f = *state;
    raw_sql(f, "CREATE TABLE notes (x)");
    expect_refused(f, "not a mqttproto-broker store (an SQLite database with application_id 0)");
}

static void a_second_opener_is_refused(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Another process, as a second broker would be. */
        struct store *other = store_open(f->path, f->err, sizeof f->err);
        char want[1024];
        snprintf(want, sizeof want,
                 "%s: in use by another process, e.g. a broker already running (database is "
                 "locked)",
                 f->path);
        _exit(other == NULL && strcmp(f->err, want) == 0 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    store_close(st);
}

/* Permissions do not stop root: the check then runs in a child as nobody. */
static void as_unprivileged(bool (*check)(struct fixture *), struct fixture *f)
{
    if (geteuid() != 0) {
        assert_true(check(f));
        return;
    }
    assert_int_equal(chmod(f->dir, 0755), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) {
            _exit(3);
        }
        _exit(check(f) ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static bool refuse_read_only_dir(struct fixture *f)
{
    char want[512];
    snprintf(want, sizeof want,
             "its directory %s is not writable (Permission denied): the store writes its "
             "journal there",
             f->dir);
    return refused_with(f, want);
}

static void a_read_only_directory_is_refused(void **state)
{
    struct fixture *f = *state;
    /* With no file (it cannot be created) and with one. */
    assert_int_equal(chmod(f->dir, 0555), 0);
    as_unprivileged(refuse_read_only_dir, f);
    assert_int_equal(chmod(f->dir, 0700), 0);
    store_close(open_ok(f));
    assert_int_equal(chmod(f->path, 0666), 0);
    assert_int_equal(chmod(f->dir, 0555), 0);
    as_unprivileged(refuse_read_only_dir, f);
}

static bool refuse_unreadable(struct fixture *f)
{
    return refused_with(f, "cannot read and write it: Permission denied");
}

static void an_unreadable_file_is_refused(void **state)
{
    struct fixture *f = *state;
    store_close(open_ok(f));
    assert_int_equal(chmod(f->path, 0444), 0);
    as_unprivileged(refuse_unreadable, f);
    assert_int_equal(chmod(f->path, 0), 0);
    as_unprivileged(refuse_unreadable, f);
}

static void a_bad_row_is_an_error(void **state)
{
    struct fixture *f = *state;
    store_close(open_ok(f));
    raw_sql(f, "INSERT INTO sessions VALUES ('s', 1, 2);"
               "INSERT INTO messages VALUES (1, 1, 0, x'30');"
               "INSERT INTO deliveries VALUES ('s', 1, 1, 1, 0, 0, x'', 7, 0);");
    struct store *st = open_ok(f);
    int r = store_load(st, &loader, f, f->err, sizeof f->err);
    assert_int_equal(r, -1);
    char want[512];
    snprintf(want, sizeof want, "%s: table deliveries holds a bad stage", f->path);
    assert_string_equal(f->err, want);
    store_close(st);
}

static int stop_at_second_session(void *ctx, mqttproto_str id, uint32_t interval, uint64_t at)
{
    (void)interval;
    (void)at;
    struct fixture *f = ctx;
    say(f, "session %.*s\n", (int)id.len, id.data);
    return f->log_len > strlen("session a\n") ? 5 : 0;
}

static void a_loader_stops_the_load(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f);
    next_seq = 0;
    session_put(st, "a", 1, 2);
    session_put(st, "b", 1, 2);
    session_put(st, "c", 1, 2);
    commit_ok(f, st, 3);
    struct store_loader l = loader;
    l.session = stop_at_second_session;
    f->log_len = 0;
    assert_int_equal(store_load(st, &l, f, f->err, sizeof f->err), 5);
    assert_string_equal(f->log, "session a\nsession b\n");
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_record_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(puts_replace_and_missing_deletes_do_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(session_delete_takes_its_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(deletes_and_stages, setup, teardown),
        cmocka_unit_test_setup_teardown(uncommitted_records_are_not_in_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(a_loader_stops_the_load, setup, teardown),
        cmocka_unit_test_setup_teardown(a_truncated_file_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_garbage_file_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_newer_schema_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(another_database_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_second_opener_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_read_only_directory_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(an_unreadable_file_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_bad_row_is_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
