/*
 * Allocation failure sweep for the client.
 *
 * Each scenario (connect, publish, inbound messages, a burst of inbound
 * messages in one read, manual acknowledgement, acknowledgements flushed
 * together, subscribe, session resumption, many requests cut off by
 * connection_lost(), a protocol error, enhanced authentication) runs again
 * and again with a counting allocator that fails allocation number n, for
 * n = 1, 2, ... until a run completes without reaching allocation n. Three
 * modes:
 * - FAIL_FROM fails every allocation from the n-th on and ends the scenario
 *   at the first call that met a failure, destroying the client right there;
 * - FAIL_ONE fails only the n-th and plays the scenario to its end, so the
 *   client has to keep working (or keep reporting errors) afterwards;
 * - FAIL_RETRY fails only the n-th and makes the same call again whenever
 *   one returns MQTTPROTO_ERR_NO_MEMORY, as an application would once memory
 *   is back: an error that changed nothing lets the second call do exactly
 *   what the first should have done, so the scenario must still end with
 *   every expected result (only connection_lost(), which reports
 *   MQTTPROTO_ERR_NO_MEMORY for events it could not queue, loses them).
 *   A feed_bytes() that ran out of memory after processing some of the
 *   packets it was given takes only their bytes; the rest is fed again, as
 *   after any short take, and must not repeat anything either.
 *
 * In every run: a call that met a failed allocation and can report an error
 * returns MQTTPROTO_ERR_NO_MEMORY (or, for feed_bytes(), takes fewer bytes
 * than given, which in these scenarios it may do only then); every other
 * result is a listed value; the state is always one of the four states; the
 * outbound bytes always decode as whole packets; every event is of a known
 * type and its views are readable; and after mqttproto_client_destroy() the
 * allocator holds no block. Until the first failure every result, event and packet must be
 * exactly what the scenario expects, so the last run of each sweep, in which
 * no allocation fails, checks the whole scenario.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- counting allocator ------------------------------------------------- */

#define BLOCK_LIVE  0x4d51545450524f54ull
#define BLOCK_FREED 0x46524545444d454dull

/* Kept in front of each block so that a pointer from another allocator, or
   one freed twice, is noticed. */
typedef union block_header {
    max_align_t align;
    struct {
        uint64_t magic;
        size_t size;
    } h;
} block_header;

struct alloc_ctl {
    unsigned long attempts; /* malloc and realloc calls so far */
    unsigned long fail_at;  /* 1-based attempt to fail; 0 never */
    bool fail_from;         /* fail every attempt from fail_at on */
    unsigned long injected; /* failures handed out */
    long live;              /* blocks allocated and not freed */
    bool hit;               /* a failure was handed out in the current call */
};

static bool should_fail(struct alloc_ctl *a)
{
    a->attempts++;
    bool fail =
        a->fail_at != 0 && (a->fail_from ? a->attempts >= a->fail_at : a->attempts == a->fail_at);
    if (fail) {
        a->injected++;
        a->hit = true;
    }
    return fail;
}

static void *ca_malloc(size_t size, void *user_data)
{
    struct alloc_ctl *a = user_data;
    if (should_fail(a)) {
        return NULL;
    }
    assert_true(size <= SIZE_MAX - sizeof(block_header));
    block_header *b = malloc(sizeof *b + size);
    assert_non_null(b);
    b->h.magic = BLOCK_LIVE;
    b->h.size = size;
    a->live++;
    return b + 1;
}

static block_header *header_of(void *ptr)
{
    block_header *b = (block_header *)ptr - 1;
    if (b->h.magic != BLOCK_LIVE) {
        fail_msg("block %p was not allocated by the client's allocator, or was freed", ptr);
    }
    return b;
}

static void *ca_realloc(void *ptr, size_t size, void *user_data)
{
    if (ptr == NULL) {
        return ca_malloc(size, user_data);
    }
    struct alloc_ctl *a = user_data;
    block_header *b = header_of(ptr);
    if (should_fail(a)) {
        return NULL;
    }
    assert_true(size <= SIZE_MAX - sizeof(block_header));
    block_header *nb = realloc(b, sizeof *nb + size);
    assert_non_null(nb);
    nb->h.size = size;
    return nb + 1;
}

static void ca_free(void *ptr, void *user_data)
{
    if (ptr == NULL) {
        return;
    }
    struct alloc_ctl *a = user_data;
    block_header *b = header_of(ptr);
    b->h.magic = BLOCK_FREED;
    a->live--;
    free(b);
}

/* ---- one run of a scenario ---------------------------------------------- */

enum fail_mode { FAIL_ONE, FAIL_FROM, FAIL_RETRY };

/* How a call reports a failed allocation, and whether it can be repeated. */
enum call_kind {
    CALL_ERRORS, /* returns MQTTPROTO_ERR_NO_MEMORY; repeating it is harmless */
    /* feed_bytes() that met the failed allocation past the first packet of
       its bytes: it took fewer bytes than given (those of the packets it
       processed) instead of returning MQTTPROTO_ERR_NO_MEMORY, and the rest
       is fed again, as after any short take */
    CALL_PARTIAL,
    CALL_LOST, /* connection_lost(): events it could not queue are gone */
    CALL_PEEK, /* get_outbound_data(): no error, the next peek goes on */
    CALL_QUIET /* no error to report, nothing to repeat */
};

#define OUT_CAP    4096
#define MAX_PKTS   16
#define MAX_EVENTS 16
#define SWEEP_MAX  100000ul

/* A copy of an event, taken while its views were valid. */
struct ev {
    int type;
    uint16_t packet_id;
    uint8_t reason_code;
    int error;
    bool session_present;
    int qos;
    bool retain;
    bool dup;
    char topic[64];
    uint8_t payload[64];
    size_t payload_len;
    uint8_t rcs[16];
    size_t rc_count;
    bool has_reason_string;
    char reason_string[32];
    size_t user_props;
    char up_name[16];
    char up_value[16];
    bool has_auth_data;
    uint8_t auth_data[16];
    size_t auth_data_len;
};

struct run {
    struct alloc_ctl a;
    mqttproto_mem mem;
    mqttproto_client *c;
    enum fail_mode mode;
    bool exact;    /* no allocation failed yet: results must be the expected ones */
    bool created;  /* create() succeeded */
    bool finished; /* the scenario reached its end */
    bool last_hit; /* the last call met a failed allocation */
    bool again;    /* FAIL_RETRY: make the last call again */
    uint64_t now;
    uint8_t out[OUT_CAP]; /* outbound bytes taken by the last take_out() */
    size_t out_len;
    size_t out_start[MAX_PKTS]; /* offset of each packet in out */
    mqttproto_packet pkt[MAX_PKTS];
    size_t pkt_count;
    struct ev ev[MAX_EVENTS];
    size_t ev_count;
};

static volatile unsigned sink;

/* The mode and failing allocation of the run under way, for messages. */
static char run_tag[64];

static void touch(const void *p, size_t len)
{
    if (len == 0) {
        return;
    }
    assert_non_null(p);
    const uint8_t *b = p;
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++) {
        sum += b[i];
    }
    sink += sum;
}

static bool listed_error(long long rc)
{
    return rc < 0 && rc >= INT32_MIN &&
           strcmp(mqttproto_err_name((int)rc), "MQTTPROTO_ERR_UNKNOWN") != 0;
}

static void call_begin(struct run *r)
{
    r->a.hit = false;
}

static const char *mode_name(enum fail_mode m)
{
    return m == FAIL_ONE ? "FAIL_ONE" : m == FAIL_FROM ? "FAIL_FROM" : "FAIL_RETRY";
}

/* After every call on the client. Returns whether the scenario goes on. */
static bool call_end(struct run *r, long long rc, enum call_kind kind, const char *what, int line)
{
    bool returns_errors = kind == CALL_ERRORS || kind == CALL_LOST;
    bool hit = r->a.hit;
    if (kind == CALL_PARTIAL && !hit) {
        fail_msg("%sline %d: %s took fewer bytes than given without a failed allocation", run_tag,
                 line, what);
    }
    r->a.hit = false;
    r->last_hit = hit;
    r->again = false;
    if (r->c != NULL) {
        mqttproto_client_state st = mqttproto_client_get_state(r->c);
        if ((int)st < MQTTPROTO_CLIENT_DISCONNECTED || (int)st > MQTTPROTO_CLIENT_FAILED) {
            fail_msg("%sline %d: %s left the state %d", run_tag, line, what, (int)st);
        }
    }
    if (hit) {
        if (returns_errors && rc != MQTTPROTO_ERR_NO_MEMORY) {
            fail_msg("%sline %d: %s met the failed allocation but returned %lld (%s), not "
                     "MQTTPROTO_ERR_NO_MEMORY",
                     run_tag, line, what, rc, mqttproto_err_name((int)rc));
        }
        if (r->mode == FAIL_RETRY) {
            /* After a partial take the caller feeds the rest: no repeat. */
            r->again = kind == CALL_ERRORS;
            if (kind == CALL_LOST || kind == CALL_QUIET) {
                r->exact = false;
            }
            return true;
        }
        r->exact = false;
        return r->mode == FAIL_ONE;
    }
    if (returns_errors && rc < 0 && !listed_error(rc)) {
        fail_msg("%sline %d: %s returned %lld, which is not a listed error", run_tag, line, what,
                 rc);
    }
    return true;
}

static void expect_ll(struct run *r, long long actual, long long expected, const char *what,
                      int line)
{
    (void)r;
    if (actual != expected) {
        fail_msg("%sline %d: %s returned %lld (%s), expected %lld (%s)", run_tag, line, what,
                 actual, mqttproto_err_name(actual < 0 ? (int)actual : 0), expected,
                 mqttproto_err_name(expected < 0 ? (int)expected : 0));
    }
}

/* Call expr (again, in FAIL_RETRY, after MQTTPROTO_ERR_NO_MEMORY); in
   exact mode its result must be expected. Ends the scenario when the mode
   says so. */
#define CALL_AS(r, kind, expr, expected)                                                           \
    do {                                                                                           \
        call_begin(r);                                                                             \
        long long rc_ = (long long)(expr);                                                         \
        if (!call_end((r), rc_, (kind), #expr, __LINE__)) {                                        \
            return;                                                                                \
        }                                                                                          \
        if ((r)->again) {                                                                          \
            call_begin(r);                                                                         \
            rc_ = (long long)(expr);                                                               \
            if (!call_end((r), rc_, (kind), #expr, __LINE__)) {                                    \
                return;                                                                            \
            }                                                                                      \
        }                                                                                          \
        if ((r)->exact) {                                                                          \
            expect_ll((r), rc_, (long long)(expected), #expr, __LINE__);                           \
        }                                                                                          \
    } while (0)

#define CALL(r, expr, expected) CALL_AS((r), CALL_ERRORS, expr, expected)

#define EXPECT_STATE(r, st)                                                                        \
    do {                                                                                           \
        if ((r)->exact) {                                                                          \
            expect_ll((r), (long long)mqttproto_client_get_state((r)->c), (long long)(st),         \
                      "state", __LINE__);                                                          \
        }                                                                                          \
    } while (0)

/* ---- outbound ----------------------------------------------------------- */

/*
 * Takes every outbound byte into r->out, consumes it, and decodes it into
 * r->pkt (the views point into r->out until the next take_out()).
 */
static bool take_out(struct run *r, int line)
{
    const uint8_t *p = (const uint8_t *)"x";
    call_begin(r);
    size_t n = mqttproto_client_get_outbound_data(r->c, &p);
    if (!call_end(r, 0, CALL_PEEK, "get_outbound_data", line)) {
        return false;
    }
    bool first_hit = r->last_hit;
    if (n == 0) {
        assert_null(p);
    } else {
        assert_non_null(p);
    }
    if (n > OUT_CAP) {
        fail_msg("%sline %d: %zu outbound bytes", run_tag, line, n);
    }
    if (n > 0) {
        memcpy(r->out, p, n);
    }

    /* Peeking again returns the same bytes. */
    const uint8_t *p2 = NULL;
    call_begin(r);
    size_t n2 = mqttproto_client_get_outbound_data(r->c, &p2);
    if (!call_end(r, 0, CALL_PEEK, "get_outbound_data", line)) {
        return false;
    }
    if (!first_hit && !r->last_hit) {
        if (n2 != n || p2 != p) {
            fail_msg("%sline %d: a second peek gave %zu bytes at %p, the first %zu at %p", run_tag,
                     line, n2, (const void *)p2, n, (const void *)p);
        }
    }
    if (n2 < n || n2 > OUT_CAP || (n > 0 && memcmp(p2, r->out, n) != 0)) {
        fail_msg("%sline %d: the bytes already returned changed without a consume", run_tag, line);
    }
    if (n2 > 0) {
        memcpy(r->out, p2, n2);
    }
    r->out_len = n2;

    call_begin(r);
    mqttproto_client_consume_outbound(r->c, n2);
    if (!call_end(r, 0, CALL_QUIET, "consume_outbound", line)) {
        return false;
    }

    r->pkt_count = 0;
    size_t off = 0;
    while (off < r->out_len) {
        if (r->pkt_count == MAX_PKTS) {
            fail_msg("%sline %d: more than %d outbound packets", run_tag, line, MAX_PKTS);
        }
        ptrdiff_t d = mqttproto_decode(r->out + off, r->out_len - off, NULL, &r->pkt[r->pkt_count]);
        if (d <= 0) {
            fail_msg("%sline %d: outbound bytes at offset %zu do not decode: %td (%s)", run_tag,
                     line, off, d, mqttproto_err_name(d < 0 ? (int)d : 0));
        }
        r->out_start[r->pkt_count] = off;
        r->pkt_count++;
        off += (size_t)d;
    }
    return true;
}

#define TAKE(r)                                                                                    \
    do {                                                                                           \
        if (!take_out((r), __LINE__)) {                                                            \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* In exact mode the outbound bytes just taken are exactly hex. */
static void expect_out_hex(struct run *r, const char *hex, int line)
{
    if (!r->exact) {
        return;
    }
    size_t len;
    uint8_t *want = tu_hex(hex, &len);
    bool same = len == r->out_len && (len == 0 || memcmp(want, r->out, len) == 0);
    free(want);
    if (!same) {
        char got[3 * 64 + 1] = "";
        for (size_t i = 0; i < r->out_len && i < 64; i++) {
            snprintf(got + 3 * i, 4, "%02x ", r->out[i]);
        }
        fail_msg("%sline %d: outbound bytes are \"%s\", expected \"%s\"", run_tag, line, got, hex);
    }
}

#define EXPECT_OUT(r, hex) expect_out_hex((r), (hex), __LINE__)

static void expect_pkt_count(struct run *r, size_t n, int line)
{
    if (r->exact && r->pkt_count != n) {
        fail_msg("%sline %d: %zu outbound packets, expected %zu", run_tag, line, r->pkt_count, n);
    }
}

#define EXPECT_PKTS(r, n) expect_pkt_count((r), (n), __LINE__)

static bool str_is(mqttproto_str s, const char *want)
{
    size_t n = strlen(want);
    return s.len == n && (n == 0 || memcmp(s.data, want, n) == 0);
}

static bool bin_is(mqttproto_bin b, const char *want)
{
    size_t n = strlen(want);
    return b.len == n && (n == 0 || memcmp(b.data, want, n) == 0);
}

static bool has_prop(const mqttproto_properties *p, int id)
{
    return mqttproto_properties_has(p, id);
}

static size_t user_prop_count(const mqttproto_properties *p)
{
    size_t cursor = 0;
    size_t n = 0;
    mqttproto_user_property up;
    while (mqttproto_user_properties_next(p, &cursor, &up)) {
        n++;
    }
    return n;
}

static bool first_user_prop_is(const mqttproto_properties *p, const char *name, const char *value)
{
    size_t cursor = 0;
    mqttproto_user_property up;
    return mqttproto_user_properties_next(p, &cursor, &up) && str_is(up.name, name) &&
           str_is(up.value, value);
}

/* ---- inbound ------------------------------------------------------------ */

/* Feeds hex in chunks of chunk bytes (0: all at once). In exact mode every
   byte must be taken, or with want < 0 the feeding must end in that error. */
static bool feed(struct run *r, const char *hex, size_t chunk, ptrdiff_t want, int line)
{
    size_t len;
    uint8_t *bytes = tu_hex(hex, &len);
    bool go_on = true;
    bool bad = false;
    bool failed_as_wanted = false;
    long long bad_rc = 0;
    size_t off = 0;
    while (off < len) {
        size_t n = (chunk == 0 || chunk > len - off) ? len - off : chunk;
        call_begin(r);
        ptrdiff_t rc = mqttproto_client_feed_bytes(r->c, bytes + off, n, r->now);
        /* Memory ran out after some packets of these bytes were processed:
           those bytes are taken, the others are fed again. */
        bool partial = r->a.hit && rc > 0 && rc < (ptrdiff_t)n;
        if (!call_end(r, rc, partial ? CALL_PARTIAL : CALL_ERRORS, "feed_bytes", line)) {
            go_on = false;
            break;
        }
        if (r->again) {
            continue; /* the same bytes once more */
        }
        if (rc > (ptrdiff_t)n) {
            bad = true;
            bad_rc = rc;
            break;
        }
        if (want < 0 && rc == want) {
            failed_as_wanted = true;
            break;
        }
        if (r->exact && rc != (ptrdiff_t)n && !partial) {
            bad = true;
            bad_rc = rc;
            break;
        }
        if (rc <= 0) {
            break;
        }
        off += (size_t)rc;
    }
    free(bytes);
    if (bad) {
        fail_msg("%sline %d: feed_bytes of \"%s\" returned %lld (%s)", run_tag, line, hex, bad_rc,
                 mqttproto_err_name(bad_rc < 0 ? (int)bad_rc : 0));
    }
    if (go_on && r->exact && want < 0 && !failed_as_wanted) {
        fail_msg("%sline %d: feed_bytes of \"%s\" took every byte, expected %s", run_tag, line, hex,
                 mqttproto_err_name((int)want));
    }
    return go_on;
}

#define FEED(r, hex, chunk)                                                                        \
    do {                                                                                           \
        if (!feed((r), (hex), (chunk), 0, __LINE__)) {                                             \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Feeds hex at once; in exact mode it must fail with err. */
#define FEED_ERR(r, hex, err)                                                                      \
    do {                                                                                           \
        if (!feed((r), (hex), 0, (err), __LINE__)) {                                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void copy_str(char *dst, size_t cap, mqttproto_str s)
{
    touch(s.data, s.len);
    assert_true(s.len < cap);
    if (s.len > 0) {
        memcpy(dst, s.data, s.len);
    }
    dst[s.len] = '\0';
}

static void copy_event(struct ev *d, const mqttproto_client_event *e)
{
    memset(d, 0, sizeof *d);
    if ((int)e->type < MQTTPROTO_CLIENT_EVENT_CONNECTED ||
        (int)e->type > MQTTPROTO_CLIENT_EVENT_DISCONNECTED) {
        fail_msg("event of unknown type %d", (int)e->type);
    }
    d->type = (int)e->type;
    d->packet_id = e->packet_id;
    d->reason_code = e->reason_code;
    d->error = e->error;
    d->session_present = e->session_present;
    d->qos = (int)e->qos;
    d->retain = e->retain;
    d->dup = e->dup;
    copy_str(d->topic, sizeof d->topic, e->topic);
    touch(e->payload.data, e->payload.len);
    assert_true(e->payload.len <= sizeof d->payload);
    if (e->payload.len > 0) {
        memcpy(d->payload, e->payload.data, e->payload.len);
    }
    d->payload_len = e->payload.len;
    touch(e->reason_codes, e->reason_code_count);
    assert_true(e->reason_code_count <= sizeof d->rcs);
    if (e->reason_code_count > 0) {
        memcpy(d->rcs, e->reason_codes, e->reason_code_count);
    }
    d->rc_count = e->reason_code_count;

    /* The header promises properties on every event, empty or not. */
    assert_non_null(e->properties);
    const mqttproto_properties *p = e->properties;
    if (has_prop(p, MQTTPROTO_PROP_REASON_STRING)) {
        d->has_reason_string = true;
        copy_str(d->reason_string, sizeof d->reason_string, p->reason_string);
    }
    if (has_prop(p, MQTTPROTO_PROP_AUTHENTICATION_DATA)) {
        d->has_auth_data = true;
        touch(p->authentication_data.data, p->authentication_data.len);
        assert_true(p->authentication_data.len <= sizeof d->auth_data);
        if (p->authentication_data.len > 0) {
            memcpy(d->auth_data, p->authentication_data.data, p->authentication_data.len);
        }
        d->auth_data_len = p->authentication_data.len;
    }
    size_t cursor = 0;
    mqttproto_user_property up;
    while (mqttproto_user_properties_next(p, &cursor, &up)) {
        touch(up.name.data, up.name.len);
        touch(up.value.data, up.value.len);
        if (d->user_props == 0) {
            copy_str(d->up_name, sizeof d->up_name, up.name);
            copy_str(d->up_value, sizeof d->up_value, up.value);
        }
        d->user_props++;
    }
    cursor = 0;
    uint32_t sid;
    while (mqttproto_subscription_identifiers_next(p, &cursor, &sid)) {
        sink += sid;
    }
}

/* Takes every pending event into r->ev. */
static bool drain(struct run *r, int line)
{
    r->ev_count = 0;
    for (;;) {
        mqttproto_client_event e;
        memset(&e, 0, sizeof e);
        call_begin(r);
        int rc = mqttproto_client_next_event(r->c, &e);
        if (!call_end(r, rc, CALL_ERRORS, "next_event", line)) {
            return false;
        }
        if (r->again) {
            continue;
        }
        if (rc == 0) {
            break;
        }
        if (rc != 1) {
            if (r->exact) {
                fail_msg("%sline %d: next_event returned %d", run_tag, line, rc);
            }
            break;
        }
        if (r->ev_count == MAX_EVENTS) {
            fail_msg("%sline %d: more than %d events", run_tag, line, MAX_EVENTS);
        }
        copy_event(&r->ev[r->ev_count++], &e);
    }
    return true;
}

#define DRAIN(r)                                                                                   \
    do {                                                                                           \
        if (!drain((r), __LINE__)) {                                                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void expect_event_count(struct run *r, size_t n, int line)
{
    if (!r->exact || r->ev_count == n) {
        return;
    }
    char types[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < r->ev_count && used < sizeof types - 32; i++) {
        int w = snprintf(types + used, sizeof types - used, "%s ",
                         mqttproto_client_event_type_name(r->ev[i].type));
        used += (size_t)(w > 0 ? w : 0);
    }
    fail_msg("%sline %d: %zu events (%s), expected %zu", run_tag, line, r->ev_count, types, n);
}

#define EXPECT_EVENTS(r, n) expect_event_count((r), (n), __LINE__)

/* In exact mode event i has these fields. */
static void expect_event(struct run *r, size_t i, int type, uint16_t packet_id, uint8_t reason_code,
                         int error, int line)
{
    if (!r->exact) {
        return;
    }
    if (i >= r->ev_count) {
        fail_msg("%sline %d: no event %zu", run_tag, line, i);
    }
    const struct ev *e = &r->ev[i];
    if (e->type != type || e->packet_id != packet_id || e->reason_code != reason_code ||
        e->error != error) {
        fail_msg("%sline %d: event %zu is %s id %u reason 0x%02x error %s; expected %s id %u "
                 "reason 0x%02x error %s",
                 run_tag, line, i, mqttproto_client_event_type_name(e->type), e->packet_id,
                 e->reason_code, mqttproto_err_name(e->error),
                 mqttproto_client_event_type_name(type), packet_id, reason_code,
                 mqttproto_err_name(error));
    }
}

#define EXPECT_EVENT(r, i, type, id, rc, err)                                                      \
    expect_event((r), (i), MQTTPROTO_CLIENT_EVENT_##type, (id), (rc), (err), __LINE__)

/* In exact mode event i is a MESSAGE with these fields. */
static void expect_message(struct run *r, size_t i, const char *topic, const char *payload, int qos,
                           uint16_t packet_id, int line)
{
    if (!r->exact) {
        return;
    }
    expect_event(r, i, MQTTPROTO_CLIENT_EVENT_MESSAGE, packet_id, 0, 0, line);
    const struct ev *e = &r->ev[i];
    size_t plen = strlen(payload);
    if (strcmp(e->topic, topic) != 0 || e->qos != qos || e->payload_len != plen ||
        (plen > 0 && memcmp(e->payload, payload, plen) != 0)) {
        fail_msg("%sline %d: message %zu is \"%s\" qos %d (%zu payload bytes); expected \"%s\" "
                 "qos %d \"%s\"",
                 run_tag, line, i, e->topic, e->qos, e->payload_len, topic, qos, payload);
    }
}

#define EXPECT_MESSAGE(r, i, topic, payload, qos, id)                                              \
    expect_message((r), (i), (topic), (payload), (qos), (id), __LINE__)

/* ---- scenario building blocks ------------------------------------------- */

static bool create_client(struct run *r, const mqttproto_client_settings *base, int line)
{
    mqttproto_client_settings s;
    if (base != NULL) {
        s = *base;
    } else {
        mqttproto_client_settings_default(&s);
    }
    s.mem = &r->mem;
    mqttproto_client *c = NULL;
    call_begin(r);
    int rc = mqttproto_client_create(&s, &c);
    bool go_on = call_end(r, rc, CALL_ERRORS, "create", line);
    if (r->again) {
        call_begin(r);
        rc = mqttproto_client_create(&s, &c);
        go_on = call_end(r, rc, CALL_ERRORS, "create", line);
    }
    if (rc == 0) {
        assert_non_null(c);
        r->c = c;
        r->created = true;
    } else if (r->exact) {
        fail_msg("%sline %d: create returned %d (%s)", run_tag, line, rc, mqttproto_err_name(rc));
    }
    return go_on && rc == 0;
}

#define CREATE(r, settings)                                                                        \
    do {                                                                                           \
        if (!create_client((r), (settings), __LINE__)) {                                           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static mqttproto_connect_options opts_with(const char *client_id, uint16_t keep_alive)
{
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = mqttproto_str_from_cstr(client_id);
    o.keep_alive = keep_alive;
    return o;
}

/* connect(), the CONNECT goes out, then the given CONNACK comes in. */
#define CONNECT(r, opts, connack_hex)                                                              \
    do {                                                                                           \
        CALL((r), mqttproto_client_connect((r)->c, (opts), (r)->now), 0);                          \
        EXPECT_STATE((r), MQTTPROTO_CLIENT_CONNECTING);                                            \
        TAKE(r);                                                                                   \
        EXPECT_PKTS((r), 1);                                                                       \
        if ((r)->exact) {                                                                          \
            assert_int_equal((r)->pkt[0].type, MQTTPROTO_PACKET_CONNECT);                          \
        }                                                                                          \
        FEED((r), (connack_hex), 0);                                                               \
        DRAIN(r);                                                                                  \
        EXPECT_EVENTS((r), 1);                                                                     \
        EXPECT_EVENT((r), 0, CONNECTED, 0, 0, 0);                                                  \
        EXPECT_STATE((r), MQTTPROTO_CLIENT_CONNECTED);                                             \
    } while (0)

/* ---- scenarios ---------------------------------------------------------- */

/* CONNECT with properties, a CONNACK full of properties fed byte by byte,
   a keep-alive round and a DISCONNECT with a Reason String. */
static void scenario_connect(struct run *r)
{
    CREATE(r, NULL);
    mqttproto_user_property ups[] = {{{"app", 3}, {"alloc", 5}}};
    mqttproto_connect_options o = opts_with("", 30);
    o.user_properties = ups;
    o.user_property_count = 1;
    o.request_response_information = true;
    o.session_expiry_interval = 120;

    CALL(r, mqttproto_client_connect(r->c, &o, r->now), 0);
    EXPECT_STATE(r, MQTTPROTO_CLIENT_CONNECTING);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    if (r->exact) {
        const mqttproto_connect *cn = &r->pkt[0].connect;
        assert_int_equal(r->pkt[0].type, MQTTPROTO_PACKET_CONNECT);
        assert_true(cn->clean_start);
        assert_int_equal(cn->keep_alive, 30);
        assert_int_equal(cn->client_id.len, 0);
        const mqttproto_properties *p = &cn->properties;
        assert_true(has_prop(p, MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE));
        assert_int_equal(p->maximum_packet_size, 1048576);
        assert_true(has_prop(p, MQTTPROTO_PROP_RECEIVE_MAXIMUM));
        assert_int_equal(p->receive_maximum, 64);
        assert_true(has_prop(p, MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM));
        assert_int_equal(p->topic_alias_maximum, 16);
        assert_true(has_prop(p, MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL));
        assert_int_equal(p->session_expiry_interval, 120);
        assert_true(has_prop(p, MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION));
        assert_int_equal(p->request_response_information, 1);
        assert_false(has_prop(p, MQTTPROTO_PROP_REQUEST_PROBLEM_INFORMATION));
        assert_int_equal(user_prop_count(p), 1);
        assert_true(first_user_prop_is(p, "app", "alloc"));
    }

    /* Receive Maximum 2, Topic Alias Maximum 4, Server Keep Alive 20,
       Assigned Client Identifier "abc", Reason String "ok", User Property
       srv=1. */
    FEED(r,
         "20 20 00 00 1d 21 00 02 22 00 04 13 00 14 12 00 03 61 62 63"
         " 1f 00 02 6f 6b 26 00 03 73 72 76 00 01 31",
         1);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, CONNECTED, 0, 0, 0);
    EXPECT_STATE(r, MQTTPROTO_CLIENT_CONNECTED);
    if (r->exact) {
        const struct ev *e = &r->ev[0];
        assert_false(e->session_present);
        assert_true(e->has_reason_string);
        assert_string_equal(e->reason_string, "ok");
        assert_int_equal(e->user_props, 1);
        assert_string_equal(e->up_name, "srv");
        assert_string_equal(e->up_value, "1");
        assert_true(str_is(mqttproto_client_client_id(r->c), "abc"));
        mqttproto_client_server_info si = mqttproto_client_server(r->c);
        assert_int_equal(si.receive_maximum, 2);
        assert_int_equal(si.topic_alias_maximum, 4);
        assert_int_equal(si.keep_alive, 20); /* [MQTT-3.2.2-21] */
        /* The CONNECT went out at 1000; the keep alive in force is 20 s. */
        assert_int_equal(mqttproto_client_get_expiry(r->c), 21000); /* [MQTT-3.1.2-21] */
    }

    r->now = 21000;
    CALL(r, mqttproto_client_handle_expiry(r->c, r->now), 0);
    TAKE(r);
    EXPECT_OUT(r, "c0 00"); /* [MQTT-3.1.2-20] */
    if (r->exact) {
        assert_int_equal(mqttproto_client_get_expiry(r->c), 41000);
    }
    r->now = 22000;
    FEED(r, "d0 00", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 0);
    if (r->exact) {
        assert_int_equal(mqttproto_client_get_expiry(r->c), 41000);
    }

    mqttproto_properties dp;
    mqttproto_properties_init(&dp);
    assert_int_equal(mqttproto_properties_set_str(&dp, MQTTPROTO_PACKET_DISCONNECT,
                                                  MQTTPROTO_PROP_REASON_STRING,
                                                  mqttproto_str_from_cstr("bye")),
                     0);
    CALL(r, mqttproto_client_disconnect(r->c, 0x00, &dp), 0);
    EXPECT_STATE(r, MQTTPROTO_CLIENT_DISCONNECTED);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    if (r->exact) {
        assert_int_equal(r->pkt[0].type, MQTTPROTO_PACKET_DISCONNECT);
        assert_int_equal(r->pkt[0].disconnect.reason_code, 0x00);
        assert_true(str_is(r->pkt[0].disconnect.properties.reason_string, "bye"));
    }
    r->finished = true;
}

/* QoS 0, 1 and 2 publishes with properties, Receive Maximum 2 holding the
   third back, outbound topic aliases, and every kind of acknowledgement. */
static void scenario_publish(struct run *r)
{
    CREATE(r, NULL);
    mqttproto_connect_options o = opts_with("pub", 0);
    CONNECT(r, &o, "20 09 00 00 06 21 00 02 22 00 04");

    mqttproto_user_property ups[] = {{{"x", 1}, {"y", 1}}};
    mqttproto_properties p0;
    mqttproto_properties_init(&p0);
    assert_int_equal(mqttproto_properties_set_str(&p0, MQTTPROTO_PACKET_PUBLISH,
                                                  MQTTPROTO_PROP_CONTENT_TYPE,
                                                  mqttproto_str_from_cstr("text/plain")),
                     0);
    assert_int_equal(
        mqttproto_properties_set_user_properties(&p0, MQTTPROTO_PACKET_PUBLISH, ups, 1), 0);
    mqttproto_properties p1;
    mqttproto_properties_init(&p1);
    assert_int_equal(mqttproto_properties_set_int(&p1, MQTTPROTO_PACKET_PUBLISH,
                                                  MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, 60),
                     0);
    mqttproto_properties p3;
    mqttproto_properties_init(&p3);
    assert_int_equal(mqttproto_properties_set_int(&p3, MQTTPROTO_PACKET_PUBLISH,
                                                  MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR, 1),
                     0);
    assert_int_equal(mqttproto_properties_set_bin(&p3, MQTTPROTO_PACKET_PUBLISH,
                                                  MQTTPROTO_PROP_CORRELATION_DATA,
                                                  mqttproto_bin_make("cd", 2)),
                     0);
    mqttproto_properties bad;
    mqttproto_properties_init(&bad);
    assert_int_equal(
        mqttproto_properties_set_int(&bad, MQTTPROTO_PACKET_PUBLISH, MQTTPROTO_PROP_TOPIC_ALIAS, 1),
        0);

    mqttproto_str ab = mqttproto_str_from_cstr("a/b");
    mqttproto_str cd = mqttproto_str_from_cstr("c/d");
    CALL(r,
         mqttproto_client_publish(r->c, ab, mqttproto_bin_make("zero", 4),
                                  MQTTPROTO_QOS_AT_MOST_ONCE, false, &p0),
         0);
    CALL(r,
         mqttproto_client_publish(r->c, ab, mqttproto_bin_make("one", 3),
                                  MQTTPROTO_QOS_AT_LEAST_ONCE, false, &p1),
         1);
    CALL(r,
         mqttproto_client_publish(r->c, cd, mqttproto_bin_make("two", 3),
                                  MQTTPROTO_QOS_EXACTLY_ONCE, false, NULL),
         2);
    CALL(r,
         mqttproto_client_publish(r->c, ab, mqttproto_bin_make("three", 5),
                                  MQTTPROTO_QOS_AT_LEAST_ONCE, true, &p3),
         3);
    CALL(r,
         mqttproto_client_publish(r->c, ab, mqttproto_bin_make("x", 1), MQTTPROTO_QOS_AT_LEAST_ONCE,
                                  false, &bad),
         MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED);

    TAKE(r);
    EXPECT_PKTS(r, 3); /* [MQTT-3.3.4-7] */
    if (r->exact) {
        const mqttproto_publish *q0 = &r->pkt[0].publish;
        assert_int_equal(r->pkt[0].type, MQTTPROTO_PACKET_PUBLISH);
        assert_int_equal(q0->qos, 0);
        assert_true(str_is(q0->topic, "a/b"));
        assert_true(bin_is(q0->payload, "zero"));
        assert_int_equal(q0->properties.topic_alias, 1);
        assert_true(str_is(q0->properties.content_type, "text/plain"));
        assert_true(first_user_prop_is(&q0->properties, "x", "y"));

        const mqttproto_publish *q1 = &r->pkt[1].publish;
        assert_int_equal(r->pkt[1].type, MQTTPROTO_PACKET_PUBLISH);
        assert_int_equal(q1->qos, 1);
        assert_int_equal(q1->packet_id, 1);
        assert_false(q1->dup);
        assert_int_equal(q1->topic.len, 0);
        assert_int_equal(q1->properties.topic_alias, 1);
        assert_true(bin_is(q1->payload, "one"));
        assert_true(has_prop(&q1->properties, MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL));
        assert_int_equal(q1->properties.message_expiry_interval, 60);

        const mqttproto_publish *q2 = &r->pkt[2].publish;
        assert_int_equal(q2->qos, 2);
        assert_int_equal(q2->packet_id, 2);
        assert_true(str_is(q2->topic, "c/d"));
        assert_int_equal(q2->properties.topic_alias, 2);
        assert_true(bin_is(q2->payload, "two"));
    }

    FEED(r, "40 02 00 01", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, PUBLISH_COMPLETED, 1, 0x00, 0);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    if (r->exact) {
        const mqttproto_publish *q3 = &r->pkt[0].publish;
        assert_int_equal(r->pkt[0].type, MQTTPROTO_PACKET_PUBLISH);
        assert_int_equal(q3->packet_id, 3);
        assert_true(q3->retain);
        assert_int_equal(q3->topic.len, 0);
        assert_int_equal(q3->properties.topic_alias, 1);
        assert_true(bin_is(q3->payload, "three"));
        assert_int_equal(q3->properties.payload_format_indicator, 1);
        assert_true(bin_is(q3->properties.correlation_data, "cd"));
    }

    FEED(r, "50 02 00 02", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 0);
    TAKE(r);
    EXPECT_OUT(r, "62 02 00 02"); /* [MQTT-4.3.3-4] */

    FEED(r, "70 09 00 02 00 05 1f 00 02 6f 6b", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, PUBLISH_COMPLETED, 2, 0x00, 0);
    if (r->exact) {
        assert_true(r->ev[0].has_reason_string);
        assert_string_equal(r->ev[0].reason_string, "ok");
    }

    FEED(r, "40 03 00 03 80", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, PUBLISH_FAILED, 3, 0x80, 0);
    TAKE(r);
    EXPECT_PKTS(r, 0);

    CALL(r, mqttproto_client_disconnect(r->c, 0x00, NULL), 0);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    if (r->exact) {
        assert_int_equal(r->pkt[0].type, MQTTPROTO_PACKET_DISCONNECT);
        assert_int_equal(r->pkt[0].disconnect.reason_code, 0x00);
    }
    r->finished = true;
}

/* Inbound QoS 0, 1 and 2 messages with a topic alias, a repeated QoS 2
   PUBLISH, PUBREL for a known and an unknown packet identifier. */
static void scenario_inbound(struct run *r)
{
    CREATE(r, NULL);
    mqttproto_connect_options o = opts_with("in", 0);
    CONNECT(r, &o, "20 03 00 00 00");

    /* QoS 1, id 10, "t/1" with Topic Alias 3 and User Property k=v, "hi". */
    FEED(r, "32 14 00 03 74 2f 31 00 0a 0a 23 00 03 26 00 01 6b 00 01 76 68 69", 1);
    /* QoS 2, id 11, empty topic with alias 3, "yo"; QoS 0 "t/2"; the QoS 2
       PUBLISH again with DUP. */
    FEED(r,
         "34 0a 00 00 00 0b 03 23 00 03 79 6f"
         " 30 06 00 03 74 2f 32 00"
         " 3c 0a 00 00 00 0b 03 23 00 03 79 6f",
         0);
    DRAIN(r);
    EXPECT_EVENTS(r, 3); /* [MQTT-4.3.3-10] */
    EXPECT_MESSAGE(r, 0, "t/1", "hi", 1, 10);
    EXPECT_MESSAGE(r, 1, "t/1", "yo", 2, 11);
    EXPECT_MESSAGE(r, 2, "t/2", "", 0, 0);
    if (r->exact) {
        assert_int_equal(r->ev[0].user_props, 1);
        assert_string_equal(r->ev[0].up_name, "k");
        assert_string_equal(r->ev[0].up_value, "v");
        assert_false(r->ev[1].dup);
    }
    TAKE(r);
    /* [MQTT-4.3.2-4] [MQTT-4.3.3-8] [MQTT-4.3.3-10] */
    EXPECT_OUT(r, "40 02 00 0a 50 02 00 0b 50 02 00 0b");

    FEED(r, "62 02 00 0b", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 0);
    TAKE(r);
    EXPECT_OUT(r, "70 02 00 0b"); /* [MQTT-4.3.3-11] */

    FEED(r, "62 02 00 0c", 0);
    TAKE(r);
    EXPECT_OUT(r, "70 03 00 0c 92");

    /* After PUBCOMP the identifier starts a new message [MQTT-4.3.3-12]. */
    FEED(r, "34 0a 00 00 00 0b 03 23 00 03 61 62", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_MESSAGE(r, 0, "t/1", "ab", 2, 11);
    TAKE(r);
    EXPECT_OUT(r, "50 02 00 0b");

    CALL(r, mqttproto_client_disconnect(r->c, 0x00, NULL), 0);
    r->finished = true;
}

/* Twelve inbound messages in one read: QoS 0, 1 and 2, a Topic Alias set
   and used, so that memory runs out part way through the packets of one
   feed_bytes() (the event queue grows at the ninth). */
static void scenario_burst(struct run *r)
{
    CREATE(r, NULL);
    mqttproto_connect_options o = opts_with("burst", 0);
    CONNECT(r, &o, "20 03 00 00 00");

    FEED(r,
         "32 0a 00 01 62 00 01 03 23 00 01 31" /* QoS 1 "b" sets alias 1 */
         " 34 09 00 00 00 02 03 23 00 01 32"   /* QoS 2 by alias 1 */
         " 32 07 00 01 62 00 03 00 33"         /* QoS 1 */
         " 34 07 00 01 62 00 04 00 34"         /* QoS 2 */
         " 30 07 00 00 03 23 00 01 35"         /* QoS 0 by alias 1 */
         " 32 07 00 01 62 00 06 00 36 32 07 00 01 62 00 07 00 37"
         " 32 07 00 01 62 00 08 00 38 32 07 00 01 62 00 09 00 39"
         " 32 07 00 01 62 00 0a 00 61 32 07 00 01 62 00 0b 00 62"
         " 32 07 00 01 62 00 0c 00 63",
         0);
    DRAIN(r);
    EXPECT_EVENTS(r, 12);
    static const char payloads[] = "123456789abc";
    static const int qos[] = {1, 2, 1, 2, 0, 1, 1, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < 12 && r->exact; i++) {
        char payload[2] = {payloads[i], '\0'};
        EXPECT_MESSAGE(r, i, "b", payload, qos[i], qos[i] == 0 ? 0 : (uint16_t)(i + 1));
    }
    TAKE(r);
    /* [MQTT-4.3.2-4] [MQTT-4.3.3-8] one acknowledgement each, in order */
    EXPECT_OUT(r, "40 02 00 01 50 02 00 02 40 02 00 03 50 02 00 04 40 02 00 06 40 02 00 07"
                  " 40 02 00 08 40 02 00 09 40 02 00 0a 40 02 00 0b 40 02 00 0c");

    FEED(r, "62 02 00 02 62 02 00 04", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 0);
    TAKE(r);
    EXPECT_OUT(r, "70 02 00 02 70 02 00 04"); /* [MQTT-4.3.3-11] */
    CALL(r, mqttproto_client_disconnect(r->c, 0x00, NULL), 0);
    r->finished = true;
}

/* Manual acknowledgement: acknowledgements leave in arrival order. */
static void scenario_manual_ack(struct run *r)
{
    mqttproto_client_settings s;
    mqttproto_client_settings_default(&s);
    s.manual_ack = true;
    s.receive_maximum = 4;
    CREATE(r, &s);
    mqttproto_connect_options o = opts_with("man", 0);
    CONNECT(r, &o, "20 03 00 00 00");

    FEED(r, "32 07 00 01 6d 00 14 00 31 34 07 00 01 6d 00 15 00 32", 3);
    DRAIN(r);
    EXPECT_EVENTS(r, 2);
    EXPECT_MESSAGE(r, 0, "m", "1", 1, 20);
    EXPECT_MESSAGE(r, 1, "m", "2", 2, 21);
    TAKE(r);
    EXPECT_PKTS(r, 0);

    CALL(r, mqttproto_client_acknowledge(r->c, 21, 0x00), 0);
    TAKE(r);
    EXPECT_PKTS(r, 0); /* [MQTT-4.6.0-2] */
    CALL(r, mqttproto_client_acknowledge(r->c, 99, 0x00), MQTTPROTO_ERR_UNKNOWN_PACKET_ID);
    CALL(r, mqttproto_client_acknowledge(r->c, 20, 0x10), 0);
    TAKE(r);
    EXPECT_OUT(r, "40 03 00 14 10 50 02 00 15");

    FEED(r, "62 02 00 15", 0);
    TAKE(r);
    EXPECT_OUT(r, "70 02 00 15");
    CALL(r, mqttproto_client_disconnect(r->c, 0x00, NULL), 0);
    r->finished = true;
}

/* Manual acknowledgement where one acknowledge() sends two: the later
   message was acknowledged first and waits [MQTT-4.6.0-2]. A SUBSCRIBE of
   251 bytes left unwritten fills the outbound buffer so that the second
   acknowledgement needs it to grow: both go out together or not at all. */
static void scenario_ack_flush(struct run *r)
{
    mqttproto_client_settings s;
    mqttproto_client_settings_default(&s);
    s.manual_ack = true;
    CREATE(r, &s);
    mqttproto_connect_options o = opts_with("flush", 0);
    CONNECT(r, &o, "20 03 00 00 00");

    FEED(r, "32 07 00 01 6d 00 14 00 31 34 07 00 01 6d 00 15 00 32", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 2);
    EXPECT_MESSAGE(r, 0, "m", "1", 1, 20);
    EXPECT_MESSAGE(r, 1, "m", "2", 2, 21);
    CALL(r, mqttproto_client_acknowledge(r->c, 21, 0x00), 0);

    char filter[243];
    memset(filter, 'f', sizeof filter - 1);
    filter[sizeof filter - 1] = '\0';
    mqttproto_subscription sub;
    memset(&sub, 0, sizeof sub);
    sub.topic_filter = mqttproto_str_from_cstr(filter);
    CALL(r, mqttproto_client_subscribe(r->c, &sub, 1, NULL), 1);
    CALL(r, mqttproto_client_acknowledge(r->c, 20, 0x10), 0);
    CALL(r, mqttproto_client_acknowledge(r->c, 20, 0x00), MQTTPROTO_ERR_UNKNOWN_PACKET_ID);
    TAKE(r);
    EXPECT_PKTS(r, 3);
    if (r->exact) {
        assert_int_equal(r->pkt[0].type, MQTTPROTO_PACKET_SUBSCRIBE);
        assert_int_equal(r->out_start[1], 251);
        assert_int_equal(r->pkt[1].type, MQTTPROTO_PACKET_PUBACK);
        assert_int_equal(r->pkt[1].puback.packet_id, 20);
        assert_int_equal(r->pkt[1].puback.reason_code, 0x10);
        assert_int_equal(r->pkt[2].type, MQTTPROTO_PACKET_PUBREC);
        assert_int_equal(r->pkt[2].pubrec.packet_id, 21);
    }
    FEED(r, "90 04 00 01 00 00 62 02 00 15", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, SUBSCRIBE_ACK, 1, 0, 0);
    TAKE(r);
    EXPECT_OUT(r, "70 02 00 15");
    CALL(r, mqttproto_client_disconnect(r->c, 0x00, NULL), 0);
    r->finished = true;
}

/* SUBSCRIBE with properties, reference counting, a refused filter, and an
   UNSUBSCRIBE answered with a Reason String. */
static void scenario_subscribe(struct run *r)
{
    CREATE(r, NULL);
    mqttproto_connect_options o = opts_with("sub", 0);
    CONNECT(r, &o, "20 03 00 00 00");

    mqttproto_subscription subs[2];
    memset(subs, 0, sizeof subs);
    subs[0].topic_filter = mqttproto_str_from_cstr("a/+");
    subs[0].max_qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    subs[1].topic_filter = mqttproto_str_from_cstr("b/#");
    subs[1].max_qos = MQTTPROTO_QOS_EXACTLY_ONCE;
    subs[1].no_local = true;
    mqttproto_user_property ups[] = {{{"u", 1}, {"p", 1}}};
    mqttproto_properties sp;
    mqttproto_properties_init(&sp);
    assert_int_equal(mqttproto_properties_set_int(&sp, MQTTPROTO_PACKET_SUBSCRIBE,
                                                  MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, 5),
                     0);
    assert_int_equal(
        mqttproto_properties_set_user_properties(&sp, MQTTPROTO_PACKET_SUBSCRIBE, ups, 1), 0);

    CALL(r, mqttproto_client_subscribe(r->c, subs, 2, &sp), 1);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    if (r->exact) {
        const mqttproto_subscribe *sb = &r->pkt[0].subscribe;
        assert_int_equal(r->pkt[0].type, MQTTPROTO_PACKET_SUBSCRIBE);
        assert_int_equal(sb->packet_id, 1);
        assert_int_equal(sb->properties.subscription_identifier, 5);
        assert_true(first_user_prop_is(&sb->properties, "u", "p"));
        assert_int_equal(sb->subscriptions.count, 2);
        size_t cursor = 0;
        mqttproto_subscription got;
        assert_true(mqttproto_subscriptions_next(&sb->subscriptions, &cursor, &got));
        assert_true(str_is(got.topic_filter, "a/+"));
        assert_int_equal(got.max_qos, 1);
        assert_true(mqttproto_subscriptions_next(&sb->subscriptions, &cursor, &got));
        assert_true(str_is(got.topic_filter, "b/#"));
        assert_int_equal(got.max_qos, 2);
        assert_true(got.no_local);
        assert_false(mqttproto_subscriptions_next(&sb->subscriptions, &cursor, &got));
    }
    CALL(r, mqttproto_client_subscribe(r->c, subs, 1, NULL), 0);
    TAKE(r);
    EXPECT_PKTS(r, 0);

    FEED(r, "90 05 00 01 00 01 02", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, SUBSCRIBE_ACK, 1, 0, 0);
    if (r->exact) {
        assert_int_equal(r->ev[0].rc_count, 2);
        assert_int_equal(r->ev[0].rcs[0], 0x01);
        assert_int_equal(r->ev[0].rcs[1], 0x02);
    }

    mqttproto_subscription c0;
    memset(&c0, 0, sizeof c0);
    c0.topic_filter = mqttproto_str_from_cstr("c");
    CALL(r, mqttproto_client_subscribe(r->c, &c0, 1, NULL), 2);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    FEED(r, "90 04 00 02 00 87", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, SUBSCRIBE_ACK, 2, 0, 0);
    if (r->exact) {
        assert_int_equal(r->ev[0].rc_count, 1);
        assert_int_equal(r->ev[0].rcs[0], 0x87);
    }

    mqttproto_str c_only[] = {{"c", 1}};
    mqttproto_str a_only[] = {{"a/+", 3}};
    mqttproto_str both[] = {{"a/+", 3}, {"b/#", 3}};
    CALL(r, mqttproto_client_unsubscribe(r->c, c_only, 1, NULL), MQTTPROTO_ERR_NOT_SUBSCRIBED);
    CALL(r, mqttproto_client_unsubscribe(r->c, a_only, 1, NULL), 0);
    TAKE(r);
    EXPECT_PKTS(r, 0);

    mqttproto_properties up;
    mqttproto_properties_init(&up);
    assert_int_equal(
        mqttproto_properties_set_user_properties(&up, MQTTPROTO_PACKET_UNSUBSCRIBE, ups, 1), 0);
    CALL(r, mqttproto_client_unsubscribe(r->c, both, 2, &up), 3);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    if (r->exact) {
        const mqttproto_unsubscribe *u = &r->pkt[0].unsubscribe;
        assert_int_equal(r->pkt[0].type, MQTTPROTO_PACKET_UNSUBSCRIBE);
        assert_int_equal(u->packet_id, 3);
        assert_int_equal(u->topic_filters.count, 2);
        assert_true(first_user_prop_is(&u->properties, "u", "p"));
    }
    FEED(r, "b0 0a 00 03 05 1f 00 02 6f 6b 00 11", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, UNSUBSCRIBE_ACK, 3, 0, 0);
    if (r->exact) {
        assert_int_equal(r->ev[0].rc_count, 2);
        assert_int_equal(r->ev[0].rcs[0], 0x00);
        assert_int_equal(r->ev[0].rcs[1], 0x11);
        assert_string_equal(r->ev[0].reason_string, "ok");
    }
    CALL(r, mqttproto_client_unsubscribe(r->c, a_only, 1, NULL), MQTTPROTO_ERR_NOT_SUBSCRIBED);
    CALL(r, mqttproto_client_disconnect(r->c, 0x00, NULL), 0);
    r->finished = true;
}

/* connection_lost() with publishes and a SUBSCRIBE pending, a reconnect
   that finds the session, and one that starts a new session. */
static void scenario_session(struct run *r)
{
    CREATE(r, NULL);
    mqttproto_connect_options o = opts_with("sess", 0);
    o.session_expiry_interval = 300;
    CONNECT(r, &o, "20 03 00 00 00");

    mqttproto_subscription x;
    memset(&x, 0, sizeof x);
    x.topic_filter = mqttproto_str_from_cstr("x");
    x.max_qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    CALL(r,
         mqttproto_client_publish(r->c, mqttproto_str_from_cstr("s/1"), mqttproto_bin_make("p1", 2),
                                  MQTTPROTO_QOS_AT_LEAST_ONCE, false, NULL),
         1);
    CALL(r,
         mqttproto_client_publish(r->c, mqttproto_str_from_cstr("s/2"), mqttproto_bin_make("p2", 2),
                                  MQTTPROTO_QOS_EXACTLY_ONCE, false, NULL),
         2);
    CALL(r, mqttproto_client_subscribe(r->c, &x, 1, NULL), 3);
    TAKE(r);
    EXPECT_PKTS(r, 3);
    FEED(r, "50 02 00 02", 0);
    TAKE(r);
    EXPECT_OUT(r, "62 02 00 02");

    CALL_AS(r, CALL_LOST, mqttproto_client_connection_lost(r->c), 0);
    EXPECT_STATE(r, MQTTPROTO_CLIENT_DISCONNECTED);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, REQUEST_FAILED, 3, 0, MQTTPROTO_ERR_CONNECTION_LOST);
    TAKE(r);
    EXPECT_PKTS(r, 0);

    CALL(r,
         mqttproto_client_publish(r->c, mqttproto_str_from_cstr("s/5"), mqttproto_bin_make("p5", 2),
                                  MQTTPROTO_QOS_AT_LEAST_ONCE, false, NULL),
         4);
    o.clean_start = false;
    CALL(r, mqttproto_client_connect(r->c, &o, r->now), 0);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    if (r->exact) {
        assert_int_equal(r->pkt[0].type, MQTTPROTO_PACKET_CONNECT);
        assert_false(r->pkt[0].connect.clean_start);
    }
    FEED(r, "20 03 01 00 00", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, CONNECTED, 0, 0, 0);
    if (r->exact) {
        assert_true(r->ev[0].session_present);
    }
    TAKE(r);
    EXPECT_PKTS(r, 3);
    if (r->exact) {
        /* [MQTT-4.4.0-1] [MQTT-3.3.1-1] [MQTT-4.6.0-1] */
        assert_int_equal(r->out[r->out_start[0]], 0x3a);
        assert_int_equal(r->pkt[0].publish.packet_id, 1);
        assert_true(str_is(r->pkt[0].publish.topic, "s/1"));
        assert_int_equal(r->pkt[1].type, MQTTPROTO_PACKET_PUBREL);
        assert_int_equal(r->pkt[1].pubrel.packet_id, 2);
        assert_int_equal(r->out[r->out_start[2]], 0x32);
        assert_int_equal(r->pkt[2].publish.packet_id, 4);
        assert_true(bin_is(r->pkt[2].publish.payload, "p5"));
    }
    FEED(r, "40 02 00 01 70 02 00 02 40 02 00 04", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 3);
    EXPECT_EVENT(r, 0, PUBLISH_COMPLETED, 1, 0, 0);
    EXPECT_EVENT(r, 1, PUBLISH_COMPLETED, 2, 0, 0);
    EXPECT_EVENT(r, 2, PUBLISH_COMPLETED, 4, 0, 0);

    CALL(r,
         mqttproto_client_publish(r->c, mqttproto_str_from_cstr("s/6"), mqttproto_bin_make("p6", 2),
                                  MQTTPROTO_QOS_AT_LEAST_ONCE, false, NULL),
         5);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    CALL_AS(r, CALL_LOST, mqttproto_client_connection_lost(r->c), 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 0);
    o.clean_start = true;
    CALL(r, mqttproto_client_connect(r->c, &o, r->now), 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, PUBLISH_FAILED, 5, 0, MQTTPROTO_ERR_SESSION_LOST);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    FEED(r, "20 03 00 00 00", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, CONNECTED, 0, 0, 0);
    CALL(r, mqttproto_client_disconnect(r->c, 0x00, NULL), 0);
    r->finished = true;
}

/* More unanswered requests than the event queue starts with room for: the
   REQUEST_FAILED events of connection_lost() need memory. */
static void scenario_many_lost(struct run *r)
{
    CREATE(r, NULL);
    mqttproto_connect_options o = opts_with("many", 0);
    CONNECT(r, &o, "20 03 00 00 00");
    static const char *const names[] = {"f/0", "f/1", "f/2", "f/3", "f/4",  "f/5",
                                        "f/6", "f/7", "f/8", "f/9", "f/10", "f/11"};
    const size_t count = sizeof names / sizeof names[0];
    for (size_t i = 0; i < count; i++) {
        mqttproto_subscription sub;
        memset(&sub, 0, sizeof sub);
        sub.topic_filter = mqttproto_str_from_cstr(names[i]);
        CALL(r, mqttproto_client_subscribe(r->c, &sub, 1, NULL), (long long)i + 1);
    }
    TAKE(r);
    EXPECT_PKTS(r, count);
    CALL_AS(r, CALL_LOST, mqttproto_client_connection_lost(r->c), 0);
    EXPECT_STATE(r, MQTTPROTO_CLIENT_DISCONNECTED);
    DRAIN(r);
    EXPECT_EVENTS(r, count);
    for (size_t i = 0; i < count && r->exact; i++) {
        EXPECT_EVENT(r, i, REQUEST_FAILED, (uint16_t)(i + 1), 0, MQTTPROTO_ERR_CONNECTION_LOST);
    }
    r->finished = true;
}

/* A protocol error while CONNECTED, when the DISCONNECT that reports it
   needs memory: a SUBSCRIBE of 254 bytes left unwritten fills the
   outbound buffer. The error, its DISCONNECT 0x82 and the FAILED state come
   together or not at all; then the error sticks and connection_lost()
   ends the SUBSCRIBE. */
static void scenario_protocol_error(struct run *r)
{
    CREATE(r, NULL);
    mqttproto_connect_options o = opts_with("err", 0);
    CONNECT(r, &o, "20 03 00 00 00");

    char filter[246];
    memset(filter, 'f', sizeof filter - 1);
    filter[sizeof filter - 1] = '\0';
    mqttproto_subscription sub;
    memset(&sub, 0, sizeof sub);
    sub.topic_filter = mqttproto_str_from_cstr(filter);
    CALL(r, mqttproto_client_subscribe(r->c, &sub, 1, NULL), 1);
    /* A PINGREQ is never sent by a server. */
    FEED_ERR(r, "c0 00", MQTTPROTO_ERR_UNEXPECTED_PACKET);
    EXPECT_STATE(r, MQTTPROTO_CLIENT_FAILED);
    TAKE(r);
    EXPECT_PKTS(r, 2);
    if (r->exact) {
        assert_int_equal(r->pkt[0].type, MQTTPROTO_PACKET_SUBSCRIBE);
        assert_int_equal(r->out_start[1], 254);
        assert_int_equal(r->pkt[1].type, MQTTPROTO_PACKET_DISCONNECT);
        assert_int_equal(r->pkt[1].disconnect.reason_code, 0x82);
    }
    FEED_ERR(r, "d0 00", MQTTPROTO_ERR_UNEXPECTED_PACKET);
    CALL_AS(r, CALL_LOST, mqttproto_client_connection_lost(r->c), 0);
    EXPECT_STATE(r, MQTTPROTO_CLIENT_DISCONNECTED);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, REQUEST_FAILED, 1, 0, MQTTPROTO_ERR_CONNECTION_LOST);
    r->finished = true;
}

/* Enhanced authentication during CONNECT, then a re-authentication. */
static void scenario_auth(struct run *r)
{
    CREATE(r, NULL);
    mqttproto_connect_options o = opts_with("auth", 0);
    o.authentication_method = mqttproto_str_from_cstr("m");
    o.authentication_data = mqttproto_bin_make("d0", 2);
    CALL(r, mqttproto_client_connect(r->c, &o, r->now), 0);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    if (r->exact) {
        const mqttproto_properties *p = &r->pkt[0].connect.properties;
        assert_true(str_is(p->authentication_method, "m"));
        assert_true(bin_is(p->authentication_data, "d0"));
    }
    FEED(r, "f0 0b 18 09 15 00 01 6d 16 00 02 73 31", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, AUTH, 0, 0x18, 0);
    if (r->exact) {
        assert_int_equal(r->ev[0].auth_data_len, 2);
        assert_memory_equal(r->ev[0].auth_data, "s1", 2);
    }
    CALL(r, mqttproto_client_auth(r->c, 0x18, mqttproto_bin_make("c1", 2), NULL), 0);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    if (r->exact) {
        assert_int_equal(r->pkt[0].type, MQTTPROTO_PACKET_AUTH);
        assert_int_equal(r->pkt[0].auth.reason_code, 0x18); /* [MQTT-4.12.0-3] */
        assert_true(str_is(r->pkt[0].auth.properties.authentication_method, "m"));
        assert_true(bin_is(r->pkt[0].auth.properties.authentication_data, "c1"));
    }
    FEED(r, "20 07 00 00 04 15 00 01 6d", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, CONNECTED, 0, 0, 0);

    CALL(r, mqttproto_client_auth(r->c, 0x19, mqttproto_bin_make("r1", 2), NULL), 0);
    TAKE(r);
    EXPECT_PKTS(r, 1);
    if (r->exact) {
        assert_int_equal(r->pkt[0].auth.reason_code, 0x19);
        assert_true(
            str_is(r->pkt[0].auth.properties.authentication_method, "m")); /* [MQTT-4.12.1-1] */
    }
    FEED(r, "f0 06 00 04 15 00 01 6d", 0);
    DRAIN(r);
    EXPECT_EVENTS(r, 1);
    EXPECT_EVENT(r, 0, AUTH, 0, 0x00, 0);
    CALL(r, mqttproto_client_disconnect(r->c, 0x00, NULL), 0);
    r->finished = true;
}

/* ---- the sweep ---------------------------------------------------------- */

typedef void (*scenario_fn)(struct run *r);

static void sweep_mode(scenario_fn fn, enum fail_mode mode)
{
    unsigned long n;
    for (n = 1;; n++) {
        struct run *r = calloc(1, sizeof *r);
        assert_non_null(r);
        r->mode = mode;
        r->a.fail_at = n;
        snprintf(run_tag, sizeof run_tag, "%s, allocation %lu: ", mode_name(mode), n);
        r->a.fail_from = mode == FAIL_FROM;
        r->exact = true;
        r->now = 1000;
        r->mem.malloc_fn = ca_malloc;
        r->mem.realloc_fn = ca_realloc;
        r->mem.free_fn = ca_free;
        r->mem.user_data = &r->a;

        fn(r);

        bool injected = r->a.injected != 0;
        unsigned long attempts = r->a.attempts;
        if (!injected) {
            /* The run without any failure went through the whole scenario
               with every expectation checked. */
            assert_true(r->finished);
            assert_true(r->exact);
            if (attempts != n - 1) {
                fail_msg("%s: %lu allocations in the run that reached none of the failures, "
                         "but the run failing number %lu reached it",
                         mode_name(mode), attempts, n - 1);
            }
        } else if (mode != FAIL_FROM) {
            assert_int_equal(r->a.injected, 1);
            if (r->created && !r->finished) {
                fail_msg("%s, allocation %lu: the scenario stopped early", mode_name(mode), n);
            }
        }
        mqttproto_client_destroy(r->c);
        if (r->a.live != 0) {
            fail_msg("%s, allocation %lu failed: %ld blocks still allocated after destroy",
                     mode_name(mode), n, r->a.live);
        }
        free(r);
        if (!injected) {
            break;
        }
        if (n >= SWEEP_MAX) {
            fail_msg("%s: still failing allocations after %lu runs", mode_name(mode), n);
        }
    }
    /* Creating the client allocates, so the sweep injected something. */
    assert_true(n > 1);
}

static void sweep(scenario_fn fn)
{
    sweep_mode(fn, FAIL_FROM);
    sweep_mode(fn, FAIL_ONE);
    sweep_mode(fn, FAIL_RETRY);
}

static void test_connect(void **state)
{
    (void)state;
    sweep(scenario_connect);
}

static void test_publish(void **state)
{
    (void)state;
    sweep(scenario_publish);
}

static void test_inbound(void **state)
{
    (void)state;
    sweep(scenario_inbound);
}

static void test_burst(void **state)
{
    (void)state;
    sweep(scenario_burst);
}

static void test_manual_ack(void **state)
{
    (void)state;
    sweep(scenario_manual_ack);
}

static void test_ack_flush(void **state)
{
    (void)state;
    sweep(scenario_ack_flush);
}

static void test_subscribe(void **state)
{
    (void)state;
    sweep(scenario_subscribe);
}

static void test_session(void **state)
{
    (void)state;
    sweep(scenario_session);
}

static void test_many_lost(void **state)
{
    (void)state;
    sweep(scenario_many_lost);
}

static void test_protocol_error(void **state)
{
    (void)state;
    sweep(scenario_protocol_error);
}

static void test_auth(void **state)
{
    (void)state;
    sweep(scenario_auth);
}

static void test_destroy_null(void **state)
{
    (void)state;
    mqttproto_client_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_destroy_null),   cmocka_unit_test(test_connect),
        cmocka_unit_test(test_publish),        cmocka_unit_test(test_inbound),
        cmocka_unit_test(test_burst),          cmocka_unit_test(test_manual_ack),
        cmocka_unit_test(test_ack_flush),      cmocka_unit_test(test_subscribe),
        cmocka_unit_test(test_session),        cmocka_unit_test(test_many_lost),
        cmocka_unit_test(test_protocol_error), cmocka_unit_test(test_auth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
