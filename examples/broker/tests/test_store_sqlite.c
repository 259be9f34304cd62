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

static int64_t query_int(struct store *st, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(st->db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

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
    assert_int_equal(query_int(again, "SELECT count(*) FROM messages"), 1);
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
    raw_sql(f, "PRAGMA user_version=3");
    expect_refused(f, "schema version 3 is newer than this mqttproto-broker reads (2): it was "
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

/* ---- the journal ---- */

static void compact_ok(struct fixture *f, struct store *st, size_t want_statements)
{
    if (!store_compact(st, f->err, sizeof f->err)) {
        fail_msg("store_compact: %s", f->err);
    }
    assert_int_equal(st->compact_statements, want_statements);
    assert_int_equal(query_int(st, "SELECT count(*) FROM journal"), 0);
    assert_int_equal(store_journal_rows(st), 0);
}

static void a_commit_is_one_journal_row(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f);
    next_seq = 0;
    session_put(st, "a", 1, 2);
    message_put(st, 1, "m", 1, 0);
    commit_ok(f, st, 2);
    assert_int_equal(query_int(st, "SELECT count(*) FROM journal"), 1);
    assert_int_equal(query_int(st, "SELECT first_seq FROM journal"), 1);
    assert_int_equal(query_int(st, "SELECT last_seq FROM journal"), 2);
    assert_int_equal(query_int(st, "SELECT count(*) FROM sessions"), 0);
    assert_int_equal(store_journal_rows(st), 1);
    assert_false(store_compact_due(st));
    for (unsigned i = 0; i < STORE_COMPACT_ROWS; i++) {
        session_put(st, "a", i, 2);
        commit_ok(f, st, 3 + i);
    }
    assert_true(store_compact_due(st));
    store_close(st); /* as a crash: nothing compacted */
    st = open_ok(f); /* the open compacts */
    assert_int_equal(query_int(st, "SELECT count(*) FROM journal"), 0);
    assert_int_equal(query_int(st, "SELECT expiry_interval FROM sessions"), STORE_COMPACT_ROWS - 1);
    assert_int_equal(query_int(st, "SELECT count(*) FROM messages"), 1);
    store_close(st);
}

/* The coalescing rule of store_journal.c, statement by statement. */
static void compaction_coalesces(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f);
    next_seq = 0;
    /* A delivery and its message put and deleted in the span: nothing,
       even across batches. */
    message_put(st, 1, "m1", 1, 0);
    delivery_put(st, "c", 1, 1, 1, NULL, 0);
    commit_ok(f, st, 2);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_SENT, "c", 1, 7);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_RELEASED, "c", 1, 7);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_DELETE, "c", 1, 0);
    message_delete(st, 1);
    commit_ok(f, st, 6);
    compact_ok(f, st, 0);
    assert_int_equal(st->compact_records, 6);
    /* Put in one span, deleted in the next: the deletes are applied, the
       SENT before them is not. */
    message_put(st, 2, "m2", 1, 0);
    delivery_put(st, "c", 2, 2, 1, NULL, 0);
    commit_ok(f, st, 8);
    compact_ok(f, st, 2);
    assert_int_equal(query_int(st, "SELECT count(*) FROM deliveries"), 1);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_SENT, "c", 2, 9);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_DELETE, "c", 2, 0);
    message_delete(st, 2);
    commit_ok(f, st, 11);
    compact_ok(f, st, 2);
    assert_int_equal(query_int(st, "SELECT count(*) FROM deliveries"), 0);
    assert_int_equal(query_int(st, "SELECT count(*) FROM messages"), 0);
    /* A put repeated for a row in the tables, then deleted: the delete
       stays. A stage with nothing after it stays. */
    message_put(st, 3, "m3", 1, 0);
    delivery_put(st, "c", 3, 3, 2, NULL, 0);
    commit_ok(f, st, 13);
    compact_ok(f, st, 2);
    message_put(st, 3, "m3", 1, 0);
    message_delete(st, 3);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_SENT, "c", 3, 4);
    commit_ok(f, st, 16);
    compact_ok(f, st, 2);
    assert_int_equal(query_int(st, "SELECT count(*) FROM messages"), 0);
    assert_int_equal(query_int(st, "SELECT stage FROM deliveries"), 1);
    /* Intermediate updates: only the last put. */
    session_put(st, "s", 1, 1);
    session_put(st, "s", 2, 2);
    retained(st, MQTTPROTO_STORE_RETAINED_PUT, "r", 3);
    retained(st, MQTTPROTO_STORE_RETAINED_DELETE, "r", 0);
    commit_ok(f, st, 20);
    compact_ok(f, st, 2);
    assert_int_equal(query_int(st, "SELECT expiry_interval FROM sessions"), 2);
    /* A session's delete takes what came before for its rows: only its
       five statements (and one of two repeats). */
    subscription_put(st, "s", "t", 1, 0);
    will_put(st, "s", 3, 1, 1);
    inbound(st, MQTTPROTO_STORE_INBOUND_PUT, "s", 5);
    delivery_step(st, MQTTPROTO_STORE_DELIVERY_SENT, "s", 3, 4);
    by_client(st, MQTTPROTO_STORE_SESSION_DELETE, "s");
    session_put(st, "s", 9, 9);
    by_client(st, MQTTPROTO_STORE_SESSION_DELETE, "s");
    commit_ok(f, st, 27);
    compact_ok(f, st, 5);
    assert_int_equal(query_int(st, "SELECT count(*) FROM sessions"), 0);
    store_close(st);
}

/* ---- the journal against a reference that applies every record ---- */

static uint64_t rng_state;

static uint64_t rnd(uint64_t n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (rng_state * 0x2545F4914F6CDD1Dull >> 33) % n;
}

/* Every table, row by row, as text. */
static char *dump_tables(struct store *st)
{
    static const char *const tables[] = {"sessions", "subscriptions", "messages", "deliveries",
                                         "retained", "wills",         "inbound"};
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY 1, 2", tables[t]);
        sqlite3_stmt *s;
        assert_int_equal(sqlite3_prepare_v2(st->db, sql, -1, &s, NULL), SQLITE_OK);
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            char line[1024];
            int n = snprintf(line, sizeof line, "%s:", tables[t]);
            for (int c = 0; c < sqlite3_column_count(s); c++) {
                const unsigned char *p = sqlite3_column_blob(s, c);
                int bytes = sqlite3_column_bytes(s, c);
                n += snprintf(line + n, sizeof line - (size_t)n, " %d/", sqlite3_column_type(s, c));
                for (int i = 0; i < bytes && (size_t)n < sizeof line - 3; i++) {
                    n += snprintf(line + n, sizeof line - (size_t)n, "%02x", p[i]);
                }
            }
            if (len + (size_t)n + 2 > cap) {
                cap = 2 * cap + (size_t)n;
                out = realloc(out, cap);
                assert_non_null(out);
            }
            memcpy(out + len, line, (size_t)n);
            len += (size_t)n;
            out[len++] = '\n';
        }
        assert_int_equal(rc, SQLITE_DONE);
        sqlite3_finalize(s);
    }
    out[len] = '\0';
    return out;
}

/* The reference: every record of @p b applied in order, no journal. */
static void apply_directly(struct store *ref, struct store_batch *b)
{
    size_t statements = 0;
    assert_int_equal(store_step_plain(ref, ST_BEGIN), SQLITE_OK);
    for (size_t i = 0; i < b->count; i++) {
        assert_int_equal(store_run_record(ref, b, i, &statements), SQLITE_OK);
    }
    assert_int_equal(store_step_plain(ref, ST_COMMIT), SQLITE_OK);
    store_batch_clear(b);
}

struct gen {
    struct store *st;
    struct store_batch *ref;
    uint64_t next_mid, next_did;
    struct live {
        char client[4];
        uint64_t did, mid;
        uint8_t qos, stage;
    } live[64];
    size_t nlive;
    mqttproto_store_record recent[16]; /* without views into buffers */
    char recent_client[16][4];
    size_t nrecent;
};

/* One record to both stores. */
static void emit(struct gen *g, mqttproto_store_record *r, const char *client)
{
    char id[4] = "";
    if (client != NULL) {
        snprintf(id, sizeof id, "%s", client);
        r->client_id = S(id);
    }
    r->seq = ++next_seq;
    apply(g->st, r);
    assert_true(store_batch_add(g->ref, r));
    if (r->type != MQTTPROTO_STORE_MESSAGE_PUT && r->topic.len == 0 &&
        r->subscription_identifier_count == 0) {
        size_t k = g->nrecent++ % 16;
        g->recent[k] = *r;
        snprintf(g->recent_client[k], 4, "%s", id);
    }
}

static const char *const topics[] = {"a", "b/c", "d"};
static const uint32_t some_ids[] = {3, 99};

static void random_record(struct gen *g)
{
    char client[4];
    snprintf(client, sizeof client, "c%d", (int)rnd(4));
    mqttproto_store_record r;
    memset(&r, 0, sizeof r);
    uint64_t what = rnd(100);
    if (what < 25) { /* a new message and its deliveries */
        char body[16];
        snprintf(body, sizeof body, "body%llu", (unsigned long long)g->next_mid);
        uint64_t mid = g->next_mid++;
        r.type = MQTTPROTO_STORE_MESSAGE_PUT;
        r.message_id = mid;
        r.message = (mqttproto_bin){(const uint8_t *)body, strlen(body)};
        r.qos = (uint8_t)(1 + rnd(2));
        r.expires_at = rnd(3);
        emit(g, &r, NULL);
        for (uint64_t n = rnd(3); n-- > 0 && g->nlive < 64;) {
            struct live *l = &g->live[g->nlive++];
            snprintf(l->client, sizeof l->client, "c%d", (int)rnd(4));
            l->did = g->next_did++;
            l->mid = mid;
            l->qos = (uint8_t)(1 + rnd(2));
            l->stage = 0;
            memset(&r, 0, sizeof r);
            r.type = MQTTPROTO_STORE_DELIVERY_PUT;
            r.delivery_id = l->did;
            r.message_id = mid;
            r.qos = l->qos;
            r.retain = rnd(2) == 0;
            r.shared = rnd(2) == 0;
            r.subscription_identifiers = rnd(2) == 0 ? some_ids : NULL;
            r.subscription_identifier_count = r.subscription_identifiers != NULL ? 2 : 0;
            emit(g, &r, l->client);
        }
    } else if (what < 55 && g->nlive > 0) { /* a delivery moves on */
        size_t i = (size_t)rnd(g->nlive);
        struct live *l = &g->live[i];
        r.delivery_id = l->did;
        r.packet_id = (uint16_t)(1 + l->did % 100);
        if (l->stage == 0 || (l->stage == 1 && l->qos == 2)) {
            r.type =
                l->stage == 0 ? MQTTPROTO_STORE_DELIVERY_SENT : MQTTPROTO_STORE_DELIVERY_RELEASED;
            l->stage++;
            emit(g, &r, l->client);
            return;
        }
        r.type = MQTTPROTO_STORE_DELIVERY_DELETE;
        emit(g, &r, l->client);
        uint64_t mid = l->mid;
        *l = g->live[--g->nlive];
        bool referred = false;
        for (size_t k = 0; k < g->nlive; k++) {
            referred = referred || g->live[k].mid == mid;
        }
        if (!referred && rnd(4) != 0) {
            memset(&r, 0, sizeof r);
            r.type = MQTTPROTO_STORE_MESSAGE_DELETE;
            r.message_id = mid;
            emit(g, &r, NULL);
        }
    } else if (what < 62 && g->nrecent > 0) { /* a repeat, as after a failed call */
        size_t k = (size_t)rnd(g->nrecent < 16 ? g->nrecent : 16);
        r = g->recent[k];
        emit(g, &r, g->recent_client[k][0] != '\0' ? g->recent_client[k] : NULL);
    } else if (what < 68) {
        r.type = MQTTPROTO_STORE_SESSION_PUT;
        r.session_expiry_interval = (uint32_t)rnd(5);
        r.expires_at = rnd(2) == 0 ? UINT64_MAX : rnd(1000);
        emit(g, &r, client);
    } else if (what < 71) {
        r.type = MQTTPROTO_STORE_SESSION_DELETE;
        emit(g, &r, client);
    } else if (what < 78) {
        r.type =
            rnd(3) == 0 ? MQTTPROTO_STORE_SUBSCRIPTION_DELETE : MQTTPROTO_STORE_SUBSCRIPTION_PUT;
        r.topic = S(topics[rnd(3)]);
        r.options = (uint8_t)rnd(64);
        r.subscription_identifier = (uint32_t)rnd(3);
        emit(g, &r, client);
    } else if (what < 84) {
        r.type = rnd(3) == 0 ? MQTTPROTO_STORE_RETAINED_DELETE : MQTTPROTO_STORE_RETAINED_PUT;
        r.topic = S(topics[rnd(3)]);
        r.message_id = r.type == MQTTPROTO_STORE_RETAINED_PUT ? 1 + rnd(g->next_mid) : 0;
        emit(g, &r, NULL);
    } else if (what < 89) {
        r.type = rnd(2) == 0 ? MQTTPROTO_STORE_WILL_DELETE : MQTTPROTO_STORE_WILL_PUT;
        if (r.type == MQTTPROTO_STORE_WILL_PUT) {
            r.message_id = 1 + rnd(g->next_mid);
            r.will_delay = (uint32_t)rnd(10);
            r.will_at = rnd(2) == 0 ? UINT64_MAX : rnd(1000);
        }
        emit(g, &r, client);
    } else if (what < 95) {
        r.type = rnd(2) == 0 ? MQTTPROTO_STORE_INBOUND_DELETE : MQTTPROTO_STORE_INBOUND_PUT;
        r.packet_id = (uint16_t)(1 + rnd(4));
        emit(g, &r, client);
    } else { /* what is not there, or is gone */
        static const mqttproto_store_record_type odd[] = {
            MQTTPROTO_STORE_DELIVERY_SENT, MQTTPROTO_STORE_DELIVERY_RELEASED,
            MQTTPROTO_STORE_DELIVERY_DELETE, MQTTPROTO_STORE_MESSAGE_DELETE};
        r.type = odd[rnd(4)];
        r.delivery_id = 1 + rnd(g->next_did + 2);
        r.message_id = r.type == MQTTPROTO_STORE_MESSAGE_DELETE ? 1 + rnd(g->next_mid + 2) : 0;
        r.packet_id = r.type == MQTTPROTO_STORE_MESSAGE_DELETE ? 0 : (uint16_t)(1 + rnd(9));
        emit(g, &r, r.type == MQTTPROTO_STORE_MESSAGE_DELETE ? NULL : client);
    }
}

static void check_same(struct store *st, struct store *ref, uint64_t seed)
{
    char *a = dump_tables(st);
    char *b = dump_tables(ref);
    if (strcmp(a, b) != 0) {
        fprintf(stderr, "seed %llu: the tables differ\njournal:\n%s\nreference:\n%s\n",
                (unsigned long long)seed, a, b);
        fail();
    }
    free(a);
    free(b);
}

static struct store *open_fast(struct fixture *f, const char *path)
{
    struct store *st = store_open(path, f->err, sizeof f->err);
    if (st == NULL) {
        fail_msg("store_open: %s", f->err);
    }
    assert_int_equal(sqlite3_exec(st->db, "PRAGMA synchronous=OFF", NULL, NULL, NULL), SQLITE_OK);
    return st;
}

static void compaction_equals_applying_every_record(void **state)
{
    struct fixture *f = *state;
    char ref_path[160];
    snprintf(ref_path, sizeof ref_path, "%s/reference.db", f->dir);
    size_t records = 0, compactions = 0, reopens = 0, forgets = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        rng_state = seed * 0x9E3779B97F4A7C15ull;
        unlink(f->path);
        unlink(ref_path);
        struct store *st = open_fast(f, f->path);
        struct store *ref = open_fast(f, ref_path);
        struct store_batch rb;
        store_batch_init(&rb);
        struct gen g;
        memset(&g, 0, sizeof g);
        g.st = st;
        g.ref = &rb;
        g.next_mid = g.next_did = 1;
        next_seq = 0;
        for (int batch = 0; batch < 40; batch++) {
            for (uint64_t n = 1 + rnd(25); n-- > 0;) {
                random_record(&g);
            }
            records += rb.count;
            uint64_t seq;
            assert_true(store_commit(st, &seq, f->err, sizeof f->err));
            apply_directly(ref, &rb);
            uint64_t what = rnd(12);
            if (what < 2) {
                assert_true(store_compact(st, f->err, sizeof f->err));
                compactions++;
                check_same(st, ref, seed);
            } else if (what == 3) {
                store_journal_forget(st); /* the next compaction reads the rows */
                forgets++;
            } else if (what == 2) {
                store_close(st); /* the open compacts */
                st = g.st = open_fast(f, f->path);
                reopens++;
                check_same(st, ref, seed);
            }
        }
        assert_true(store_compact(st, f->err, sizeof f->err));
        check_same(st, ref, seed);
        store_batch_free(&rb);
        store_close(st);
        store_close(ref);
    }
    print_message("%zu records, %zu compactions, %zu reopens, %zu reads of the rows forced\n",
                  records, compactions, reopens, forgets);
}

static void a_bad_journal_row_is_refused(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *blob, *reason;
    } cases[] = {
        {"x'02'", "an unknown format version"},
        {"x''", "it is empty"},
        {"x'01'", "it ends inside a record"},
        {"x'0101'", "it ends inside a record"},
        {"x'010163'", "an unknown record type"},
        {"x'0101020563'", "a length past its end"},
        {"x'01010201630000'", "bytes after its last record"},
        {"x'0102020163'", "it ends inside a record"},
        {"x'0101100163ffff07'", "a value out of range"},
        {"x'01010a0163ffffffffffffffffff02'", "an integer is too large"},
        {"x'01ff'", "it ends inside a record"},
        {"'text'", "it is not a blob"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unlink(f->path);
        store_close(open_ok(f));
        char sql[256];
        snprintf(sql, sizeof sql, "INSERT INTO journal VALUES (%zu, 1, 1, %s)", i + 3,
                 cases[i].blob);
        if (strcmp(cases[i].blob, "'text'") == 0) {
            /* STRICT refuses text in a BLOB column: only a file damaged
               from outside would hold it. */
            raw_sql(f, "PRAGMA writable_schema=ON; UPDATE sqlite_schema SET sql = "
                       "replace(sql, ') STRICT', ')') WHERE name = 'journal'");
        }
        raw_sql(f, sql);
        char want[256];
        snprintf(want, sizeof want, "the file is damaged (journal row %zu: %s)", i + 3,
                 cases[i].reason);
        expect_refused(f, want);
    }
    /* A good row next to it: SESSION_DELETE "c". */
    unlink(f->path);
    store_close(open_ok(f));
    raw_sql(f, "INSERT INTO journal VALUES (1, 1, 1, x'0101020163')");
    store_close(open_ok(f));
}

static void a_version_1_file_is_migrated(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f);
    next_seq = 0;
    session_put(st, "old", 5, 6);
    message_put(st, 4, "m", 1, 0);
    retained(st, MQTTPROTO_STORE_RETAINED_PUT, "t", 4);
    commit_ok(f, st, 3);
    compact_ok(f, st, 3);
    store_close(st);
    raw_sql(f, "DROP TABLE journal; PRAGMA user_version=1");
    st = open_ok(f);
    assert_int_equal(query_int(st, "PRAGMA user_version"), 2);
    assert_int_equal(query_int(st, "SELECT count(*) FROM journal"), 0);
    /* The id bounds come from the tables: deleting message 4 is applied. */
    message_put(st, 4, "m", 1, 0);
    message_delete(st, 4);
    commit_ok(f, st, 5);
    store_close(st);
    assert_string_equal(reload(f), "session old 5 6\n"
                                   "retained t 4\n");
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
        cmocka_unit_test_setup_teardown(a_commit_is_one_journal_row, setup, teardown),
        cmocka_unit_test_setup_teardown(compaction_coalesces, setup, teardown),
        cmocka_unit_test_setup_teardown(compaction_equals_applying_every_record, setup, teardown),
        cmocka_unit_test_setup_teardown(a_bad_journal_row_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_version_1_file_is_migrated, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
