/*
 * The client state machine against a scripted server: exact bytes in, exact
 * bytes and events out.
 *
 * Each scenario is a function that plays the server. Every event is rendered
 * as one text line (type, ids, reason codes, topic, payload, properties) and
 * compared with the expected lines; outbound bytes are compared as hex.
 * Every scenario runs several times: with each input fed whole, byte by byte,
 * and split in two at every offset. The transcript of each run (feed results,
 * events, outbound bytes) must be identical to the first.
 */
#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define STR(s)       ((mqttproto_str){(s), sizeof(s) - 1})
#define BIN(s)       ((mqttproto_bin){(const uint8_t *)(s), sizeof(s) - 1})
#define PR(x)        MQTTPROTO_PROP_##x
#define PK(x)        MQTTPROTO_PACKET_##x
#define E(x)         MQTTPROTO_ERR_##x
#define ST(x)        MQTTPROTO_CLIENT_##x

/* ---- text building ---- */

struct sb {
    char buf[8192];
    size_t len;
};

static void sb_init(struct sb *s)
{
    s->len = 0;
    s->buf[0] = '\0';
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sb *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->buf + s->len, sizeof s->buf - s->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof s->buf - s->len);
    s->len += (size_t)n;
}

static void sb_view(struct sb *s, const char *data, size_t len)
{
    sb_printf(s, "%.*s", (int)len, len > 0 ? data : "");
}

static void sb_hex(struct sb *s, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        sb_printf(s, "%02x", data[i]);
    }
}

/* "xx xx xx": the form outbound bytes are compared in. Free with free(). */
static char *hex_spaced(const uint8_t *data, size_t len)
{
    char *out = malloc(len * 3 + 1);
    assert_non_null(out);
    out[0] = '\0';
    for (size_t i = 0; i < len; i++) {
        snprintf(out + i * 3, 4, i + 1 < len ? "%02x " : "%02x", data[i]);
    }
    return out;
}

/* prefix followed by n copies of the byte `byte` (two hex digits). */
static char *hex_fill(const char *prefix, const char *byte, size_t n)
{
    size_t plen = strlen(prefix);
    char *out = malloc(plen + n * 3 + 1);
    assert_non_null(out);
    memcpy(out, prefix, plen);
    for (size_t i = 0; i < n; i++) {
        out[plen + i * 3] = ' ';
        out[plen + i * 3 + 1] = byte[0];
        out[plen + i * 3 + 2] = byte[1];
    }
    out[plen + n * 3] = '\0';
    return out;
}

/* prefix followed by n copies of the character c. */
static char *text_fill(const char *prefix, char c, size_t n)
{
    size_t plen = strlen(prefix);
    char *out = malloc(plen + n + 1);
    assert_non_null(out);
    memcpy(out, prefix, plen);
    memset(out + plen, c, n);
    out[plen + n] = '\0';
    return out;
}

static const char *err_short(int err)
{
    if (err == 0) {
        return "0";
    }
    const char *name = mqttproto_err_name(err);
    const char *prefix = "MQTTPROTO_ERR_";
    size_t n = strlen(prefix);
    return strncmp(name, prefix, n) == 0 ? name + n : name;
}

/* ---- event rendering ---- */

/*
 * Properties in ascending id order, repeated ones in wire order. Topic Alias
 * is left out: the MESSAGE event's topic is the resolved one, and whether the
 * alias itself is kept in the event's properties is not part of the contract.
 */
static void render_props(struct sb *s, const mqttproto_properties *p)
{
    bool open = false;
    for (int id = 1; id < 64; id++) {
        if (!mqttproto_properties_has(p, id) || id == PR(TOPIC_ALIAS)) {
            continue;
        }
        sb_printf(s, "%s", open ? " " : " [");
        open = true;
        switch (id) {
        case PR(PAYLOAD_FORMAT_INDICATOR):
            sb_printf(s, "pfi=%u", (unsigned)p->payload_format_indicator);
            break;
        case PR(MESSAGE_EXPIRY_INTERVAL):
            sb_printf(s, "mei=%" PRIu32, p->message_expiry_interval);
            break;
        case PR(CONTENT_TYPE):
            sb_printf(s, "ct=");
            sb_view(s, p->content_type.data, p->content_type.len);
            break;
        case PR(RESPONSE_TOPIC):
            sb_printf(s, "rt=");
            sb_view(s, p->response_topic.data, p->response_topic.len);
            break;
        case PR(CORRELATION_DATA):
            sb_printf(s, "cd=");
            sb_hex(s, p->correlation_data.data, p->correlation_data.len);
            break;
        case PR(SUBSCRIPTION_IDENTIFIER): {
            size_t cursor = 0;
            uint32_t v;
            bool first = true;
            while (mqttproto_subscription_identifiers_next(p, &cursor, &v)) {
                sb_printf(s, "%ssid=%" PRIu32, first ? "" : " ", v);
                first = false;
            }
            break;
        }
        case PR(SESSION_EXPIRY_INTERVAL):
            sb_printf(s, "sei=%" PRIu32, p->session_expiry_interval);
            break;
        case PR(ASSIGNED_CLIENT_IDENTIFIER):
            sb_printf(s, "aci=");
            sb_view(s, p->assigned_client_identifier.data, p->assigned_client_identifier.len);
            break;
        case PR(SERVER_KEEP_ALIVE):
            sb_printf(s, "ska=%u", (unsigned)p->server_keep_alive);
            break;
        case PR(AUTHENTICATION_METHOD):
            sb_printf(s, "am=");
            sb_view(s, p->authentication_method.data, p->authentication_method.len);
            break;
        case PR(AUTHENTICATION_DATA):
            sb_printf(s, "ad=");
            sb_hex(s, p->authentication_data.data, p->authentication_data.len);
            break;
        case PR(REQUEST_PROBLEM_INFORMATION):
            sb_printf(s, "rpi=%u", (unsigned)p->request_problem_information);
            break;
        case PR(WILL_DELAY_INTERVAL):
            sb_printf(s, "wdi=%" PRIu32, p->will_delay_interval);
            break;
        case PR(REQUEST_RESPONSE_INFORMATION):
            sb_printf(s, "rri=%u", (unsigned)p->request_response_information);
            break;
        case PR(RESPONSE_INFORMATION):
            sb_printf(s, "ri=");
            sb_view(s, p->response_information.data, p->response_information.len);
            break;
        case PR(SERVER_REFERENCE):
            sb_printf(s, "sr=");
            sb_view(s, p->server_reference.data, p->server_reference.len);
            break;
        case PR(REASON_STRING):
            sb_printf(s, "rs=");
            sb_view(s, p->reason_string.data, p->reason_string.len);
            break;
        case PR(RECEIVE_MAXIMUM):
            sb_printf(s, "rm=%u", (unsigned)p->receive_maximum);
            break;
        case PR(TOPIC_ALIAS_MAXIMUM):
            sb_printf(s, "tam=%u", (unsigned)p->topic_alias_maximum);
            break;
        case PR(MAXIMUM_QOS):
            sb_printf(s, "mq=%u", (unsigned)p->maximum_qos);
            break;
        case PR(RETAIN_AVAILABLE):
            sb_printf(s, "ra=%u", (unsigned)p->retain_available);
            break;
        case PR(USER_PROPERTY): {
            size_t cursor = 0;
            mqttproto_user_property up;
            bool first = true;
            while (mqttproto_user_properties_next(p, &cursor, &up)) {
                sb_printf(s, "%sup=", first ? "" : " ");
                sb_view(s, up.name.data, up.name.len);
                sb_printf(s, ":");
                sb_view(s, up.value.data, up.value.len);
                first = false;
            }
            break;
        }
        case PR(MAXIMUM_PACKET_SIZE):
            sb_printf(s, "mps=%" PRIu32, p->maximum_packet_size);
            break;
        case PR(WILDCARD_SUBSCRIPTION_AVAILABLE):
            sb_printf(s, "wsa=%u", (unsigned)p->wildcard_subscription_available);
            break;
        case PR(SUBSCRIPTION_IDENTIFIER_AVAILABLE):
            sb_printf(s, "sia=%u", (unsigned)p->subscription_identifier_available);
            break;
        case PR(SHARED_SUBSCRIPTION_AVAILABLE):
            sb_printf(s, "ssa=%u", (unsigned)p->shared_subscription_available);
            break;
        default:
            sb_printf(s, "?%02x", (unsigned)id);
            break;
        }
    }
    if (open) {
        sb_printf(s, "]");
    }
}

/* Which fields apply to each event type; the others must be zero. */
enum { F_ID = 1, F_RC = 2, F_ERR = 4, F_SP = 8, F_MSG = 16, F_RCS = 32 };

static const struct {
    const char *name;
    unsigned fields;
} event_kinds[] = {
    {NULL, 0},
    {"CONNECTED", F_SP},
    {"CONNECT_REFUSED", F_RC},
    {"AUTH", F_RC},
    {"MESSAGE", F_ID | F_MSG},
    {"PUBLISH_COMPLETED", F_ID | F_RC},
    {"PUBLISH_FAILED", F_ID | F_RC | F_ERR},
    {"SUBSCRIBE_ACK", F_ID | F_RCS},
    {"UNSUBSCRIBE_ACK", F_ID | F_RCS},
    {"REQUEST_FAILED", F_ID | F_ERR},
    {"DISCONNECTED", F_RC},
};

/* The value the harness fills events with before next_event(). */
#define EVENT_FILL 0x5a

static void render_payload(struct sb *s, mqttproto_bin p)
{
    bool text = true;
    for (size_t i = 0; i < p.len; i++) {
        if (p.data[i] < 0x20 || p.data[i] > 0x7e) {
            text = false;
        }
    }
    if (text) {
        sb_view(s, (const char *)p.data, p.len);
    } else {
        sb_printf(s, "hex:");
        sb_hex(s, p.data, p.len);
    }
}

static void render_event(struct sb *s, const mqttproto_client_event *e)
{
    int type = (int)e->type;
    unsigned f = 0;
    if (type >= 1 && (size_t)type < ARRAY_LEN(event_kinds)) {
        sb_printf(s, "%s", event_kinds[type].name);
        f = event_kinds[type].fields;
    } else {
        sb_printf(s, "UNKNOWN(%d)", type);
    }
    /* Bools read as bytes: an unset one shows its raw value. */
    unsigned char sp, retain, dup;
    memcpy(&sp, &e->session_present, 1);
    memcpy(&retain, &e->retain, 1);
    memcpy(&dup, &e->dup, 1);

    if (f & F_SP) {
        sb_printf(s, " sp=%u", (unsigned)sp);
    } else if (sp != 0) {
        sb_printf(s, " !sp=%u", (unsigned)sp);
    }
    if (f & F_ID) {
        sb_printf(s, " id=%u", (unsigned)e->packet_id);
    } else if (e->packet_id != 0) {
        sb_printf(s, " !id=%u", (unsigned)e->packet_id);
    }
    if (f & F_MSG) {
        sb_printf(s, " q=%d r=%u d=%u t=", (int)e->qos, (unsigned)retain, (unsigned)dup);
        sb_view(s, e->topic.data, e->topic.len);
        sb_printf(s, " p=");
        render_payload(s, e->payload);
    } else {
        if ((int)e->qos != 0) {
            sb_printf(s, " !q=%d", (int)e->qos);
        }
        if (retain != 0 || dup != 0) {
            sb_printf(s, " !r=%u !d=%u", (unsigned)retain, (unsigned)dup);
        }
        if (e->topic.len != 0 || e->payload.len != 0) {
            sb_printf(s, " !topic/payload");
        }
    }
    if (f & F_RC) {
        sb_printf(s, " rc=%02x", (unsigned)e->reason_code);
    } else if (e->reason_code != 0) {
        sb_printf(s, " !rc=%02x", (unsigned)e->reason_code);
    }
    if (f & F_ERR) {
        sb_printf(s, " err=%s", err_short(e->error));
    } else if (e->error != 0) {
        sb_printf(s, " !err=%s", err_short(e->error));
    }
    if (f & F_RCS) {
        sb_printf(s, " rcs=");
        for (size_t i = 0; i < e->reason_code_count; i++) {
            sb_printf(s, i ? ",%02x" : "%02x", (unsigned)e->reason_codes[i]);
        }
    } else if (e->reason_code_count != 0 || e->reason_codes != NULL) {
        sb_printf(s, " !rcs");
    }
    const mqttproto_properties *unset;
    memset(&unset, EVENT_FILL, sizeof unset);
    if (e->properties == NULL) {
        sb_printf(s, " !props=NULL");
    } else if (e->properties == unset) {
        sb_printf(s, " !props=unset");
    } else {
        render_props(s, e->properties);
    }
}

/* ---- the harness ---- */

enum feed_mode { MODE_WHOLE, MODE_BYTES, MODE_SPLIT };

struct h {
    mqttproto_client *c;
    mqttproto_client_settings settings;
    uint64_t now;
    enum feed_mode mode;
    size_t split;    /* MODE_SPLIT: the first chunk's length */
    size_t max_feed; /* longest input fed in this run */
    char desc[48];
    char *log; /* the transcript */
    size_t log_len, log_cap;
};

__attribute__((format(printf, 2, 3))) static void h_log(struct h *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    size_t need = h->log_len + (size_t)n + 2;
    if (need > h->log_cap) {
        size_t cap = h->log_cap ? h->log_cap : 4096;
        while (cap < need) {
            cap *= 2;
        }
        char *p = realloc(h->log, cap);
        assert_non_null(p);
        h->log = p;
        h->log_cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(h->log + h->log_len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    h->log_len += (size_t)n;
    h->log[h->log_len++] = '\n';
    h->log[h->log_len] = '\0';
}

#define EQ(a, b)     h_eq(h, (long long)(a), (long long)(b), #a, __LINE__)
#define EQ_U64(a, b) h_eq_u64(h, (uint64_t)(a), (uint64_t)(b), #a, __LINE__)

static void h_eq(const struct h *h, long long got, long long want, const char *expr, int line)
{
    if (got != want) {
        fail_msg("[%s] line %d: %s is %lld, expected %lld", h->desc, line, expr, got, want);
    }
}

static void h_eq_u64(const struct h *h, uint64_t got, uint64_t want, const char *expr, int line)
{
    if (got != want) {
        fail_msg("[%s] line %d: %s is %" PRIu64 ", expected %" PRIu64, h->desc, line, expr, got,
                 want);
    }
}

static void h_streq(const struct h *h, mqttproto_str got, const char *want, int line)
{
    if (got.len != strlen(want) || (got.len > 0 && memcmp(got.data, want, got.len) != 0)) {
        fail_msg("[%s] line %d: \"%.*s\", expected \"%s\"", h->desc, line, (int)got.len,
                 got.len ? got.data : "", want);
    }
}
#define STREQ(got, want) h_streq(h, (got), (want), __LINE__)

/*
 * Feed hex to the client in the run's mode. want is 0 when every byte must be
 * taken, else the error the input must produce: once a chunk fails, every
 * later chunk must fail with the same error (the error is sticky).
 */
static void h_feed_check(struct h *h, const char *hex, int want, int line)
{
    size_t len;
    uint8_t *bytes = tu_hex(hex, &len);
    if (len > h->max_feed) {
        h->max_feed = len;
    }
    ptrdiff_t result = (ptrdiff_t)len;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off;
        if (h->mode == MODE_BYTES) {
            n = 1;
        } else if (h->mode == MODE_SPLIT && off == 0 && h->split < len) {
            n = h->split;
        }
        /* A private copy, freed at once: the client must keep what it needs. */
        uint8_t *chunk = malloc(n);
        assert_non_null(chunk);
        memcpy(chunk, bytes + off, n);
        ptrdiff_t r = mqttproto_client_feed_bytes(h->c, chunk, n, h->now);
        free(chunk);
        if (result >= 0) {
            if (r < 0) {
                result = r;
            } else if ((size_t)r != n) {
                fail_msg("[%s] line %d: feed_bytes took %td of %zu bytes", h->desc, line, r, n);
            }
        } else if (r != result) {
            fail_msg("[%s] line %d: after %s, feed_bytes returned %s (not sticky)", h->desc, line,
                     err_short((int)result), r < 0 ? err_short((int)r) : "a count");
        }
        off += n;
    }
    free(bytes);
    ptrdiff_t expected = want == 0 ? (ptrdiff_t)len : want;
    if (result != expected) {
        fail_msg("[%s] line %d: feeding \"%s\" gave %s (%td), expected %s (%td)", h->desc, line,
                 hex, result < 0 ? err_short((int)result) : "bytes", result,
                 expected < 0 ? err_short((int)expected) : "bytes", expected);
    }
    h_log(h, "feed %td", result);
}

#define FEED(h, hex)          h_feed_check((h), (hex), 0, __LINE__)
#define FEED_ERR(h, hex, err) h_feed_check((h), (hex), (err), __LINE__)

/* Drain every event; they must be exactly the expected lines, in order. */
static void h_events(struct h *h, const char *const *expected, int line)
{
    size_t i = 0;
    for (;;) {
        mqttproto_client_event ev;
        memset(&ev, EVENT_FILL, sizeof ev);
        int r = mqttproto_client_next_event(h->c, &ev);
        if (r == 0) {
            break;
        }
        if (r != 1) {
            fail_msg("[%s] line %d: next_event returned %d", h->desc, line, r);
        }
        struct sb s;
        sb_init(&s);
        render_event(&s, &ev);
        h_log(h, "event %s", s.buf);
        if (expected[i] == NULL) {
            fail_msg("[%s] line %d: unexpected event \"%s\"", h->desc, line, s.buf);
        }
        if (strcmp(expected[i], s.buf) != 0) {
            fail_msg("[%s] line %d: event %zu\n  expected \"%s\"\n  got      \"%s\"", h->desc, line,
                     i, expected[i], s.buf);
        }
        i++;
    }
    if (expected[i] != NULL) {
        fail_msg("[%s] line %d: missing event \"%s\"", h->desc, line, expected[i]);
    }
}

#define EV(h, ...) h_events((h), (const char *const[]){__VA_ARGS__, NULL}, __LINE__)
#define NO_EV(h)   h_events((h), (const char *const[]){NULL}, __LINE__)

/*
 * Drain every event; they must be the expected lines in any order. Only for
 * events whose relative order the contract leaves open.
 */
static void h_events_any_order(struct h *h, const char *const *expected, int line)
{
    size_t n = 0;
    while (expected[n] != NULL) {
        n++;
    }
    bool used[16] = {false};
    assert_true(n <= ARRAY_LEN(used));
    size_t got = 0;
    for (;;) {
        mqttproto_client_event ev;
        memset(&ev, EVENT_FILL, sizeof ev);
        int r = mqttproto_client_next_event(h->c, &ev);
        if (r == 0) {
            break;
        }
        assert_int_equal(r, 1);
        struct sb s;
        sb_init(&s);
        render_event(&s, &ev);
        h_log(h, "event %s", s.buf);
        bool found = false;
        for (size_t i = 0; i < n && !found; i++) {
            if (!used[i] && strcmp(expected[i], s.buf) == 0) {
                used[i] = true;
                found = true;
            }
        }
        if (!found) {
            fail_msg("[%s] line %d: unexpected event \"%s\"", h->desc, line, s.buf);
        }
        got++;
    }
    if (got != n) {
        fail_msg("[%s] line %d: %zu events, expected %zu", h->desc, line, got, n);
    }
}

#define EV_ANY_ORDER(h, ...)                                                                       \
    h_events_any_order((h), (const char *const[]){__VA_ARGS__, NULL}, __LINE__)

/*
 * The outbound bytes must be exactly hex ("" for none); then they are
 * consumed. A second peek must return the same bytes.
 */
static void h_out(struct h *h, const char *hex, int line)
{
    size_t want_len;
    uint8_t *want = tu_hex(hex, &want_len);
    const uint8_t *data = (const uint8_t *)hex; /* any non-NULL value */
    size_t n = mqttproto_client_get_outbound_data(h->c, &data);
    if (n == 0 && data != NULL) {
        fail_msg("[%s] line %d: nothing waits but data is not NULL", h->desc, line);
    }
    char *got_hex = hex_spaced(data, n);
    const uint8_t *again = NULL;
    size_t n2 = mqttproto_client_get_outbound_data(h->c, &again);
    char *again_hex = hex_spaced(again, n2);
    if (strcmp(got_hex, again_hex) != 0) {
        fail_msg("[%s] line %d: outbound changed between two peeks:\n  %s\n  %s", h->desc, line,
                 got_hex, again_hex);
    }
    char *want_hex = hex_spaced(want, want_len);
    if (strcmp(got_hex, want_hex) != 0) {
        fail_msg("[%s] line %d: outbound\n  expected %s\n  got      %s", h->desc, line, want_hex,
                 got_hex);
    }
    mqttproto_client_consume_outbound(h->c, n);
    h_log(h, "out %s", got_hex);
    free(want);
    free(want_hex);
    free(got_hex);
    free(again_hex);
}

#define OUT(h, hex) h_out((h), (hex), __LINE__)
#define NO_OUT(h)   h_out((h), "", __LINE__)

/* The outbound bytes must begin with hex; only those are consumed. */
static void h_out_prefix(struct h *h, const char *hex, int line)
{
    size_t want_len;
    uint8_t *want = tu_hex(hex, &want_len);
    const uint8_t *data = NULL;
    size_t n = mqttproto_client_get_outbound_data(h->c, &data);
    char *want_hex = hex_spaced(want, want_len);
    char *got_hex = hex_spaced(data, n < want_len ? n : want_len);
    if (n < want_len || strcmp(got_hex, want_hex) != 0) {
        fail_msg("[%s] line %d: outbound does not start with\n  %s\n  got %s", h->desc, line,
                 want_hex, got_hex);
    }
    mqttproto_client_consume_outbound(h->c, want_len);
    h_log(h, "out-prefix %s", got_hex);
    free(want);
    free(want_hex);
    free(got_hex);
}

#define OUT_PREFIX(h, hex) h_out_prefix((h), (hex), __LINE__)

/*
 * The client failed with err: FAILED state, the error kept, the DISCONNECT
 * (or none, "") queued, the error returned again by the next feed_bytes(),
 * and connection_lost() back to DISCONNECTED.
 */
static void h_fail(struct h *h, int err, const char *disconnect_hex, int line)
{
    h_eq(h, mqttproto_client_get_state(h->c), ST(FAILED), "state", line);
    h_eq(h, mqttproto_client_error(h->c), err, "mqttproto_client_error()", line);
    h_out(h, disconnect_hex, line);
    /* Sticky: a valid PINGRESP gets the same error, and nothing is sent. */
    h_feed_check(h, "d0 00", err, line);
    h_eq(
        h,
        mqttproto_client_publish(h->c, STR("a"), BIN("x"), MQTTPROTO_QOS_AT_MOST_ONCE, false, NULL),
        E(BAD_STATE), "publish() when FAILED", line);
    h_events(h, (const char *const[]){NULL}, line);
    h_out(h, "", line);
    h_eq(h, mqttproto_client_connection_lost(h->c), 0, "connection_lost()", line);
    h_eq(h, mqttproto_client_get_state(h->c), ST(DISCONNECTED), "state", line);
    h_eq(h, mqttproto_client_error(h->c), 0, "mqttproto_client_error()", line);
    h_out(h, "", line);
    h_feed_check(h, "d0 00", E(BAD_STATE), line);
}

#define FAILED(h, err, disconnect_hex) h_fail((h), (err), (disconnect_hex), __LINE__)

/* Input that must fail with err, giving no event, then the failure checks. */
static void h_fail_case(struct h *h, const char *in, int err, const char *disconnect_hex, int line)
{
    h_feed_check(h, in, err, line);
    h_events(h, (const char *const[]){NULL}, line);
    h_fail(h, err, disconnect_hex, line);
}

#define FAIL_CASE(h, in, err, disconnect_hex)                                                      \
    h_fail_case((h), (in), (err), (disconnect_hex), __LINE__)

static void h_begin(struct h *h, enum feed_mode mode, size_t split)
{
    memset(h, 0, sizeof *h);
    mqttproto_client_settings_default(&h->settings);
    h->now = 1000;
    h->mode = mode;
    h->split = split;
    if (mode == MODE_WHOLE) {
        snprintf(h->desc, sizeof h->desc, "whole");
    } else if (mode == MODE_BYTES) {
        snprintf(h->desc, sizeof h->desc, "byte by byte");
    } else {
        snprintf(h->desc, sizeof h->desc, "split at %zu", split);
    }
}

static void h_new(struct h *h)
{
    assert_null(h->c);
    assert_int_equal(mqttproto_client_create(&h->settings, &h->c), 0);
    assert_non_null(h->c);
}

/* End of a client's life: nothing may be left unread. */
static void h_end(struct h *h)
{
    if (h->c != NULL) {
        h_events(h, (const char *const[]){NULL}, 0);
        h_out(h, "", 0);
        mqttproto_client_destroy(h->c);
        h->c = NULL;
    }
    mqttproto_client_settings_default(&h->settings);
    h->now = 1000;
}

typedef void (*scenario_fn)(struct h *h);

static void compare_logs(const char *ref, const char *got, const char *desc)
{
    if (strcmp(ref, got) == 0) {
        return;
    }
    size_t line = 1, i = 0;
    while (ref[i] != '\0' && ref[i] == got[i]) {
        if (ref[i] == '\n') {
            line++;
        }
        i++;
    }
    fail_msg("[%s] transcript differs from the whole-input run at line %zu", desc, line);
}

/* Run a scenario whole, byte by byte and split at every offset. */
static void run3(scenario_fn fn)
{
    struct h h;
    h_begin(&h, MODE_WHOLE, 0);
    fn(&h);
    h_end(&h);
    char *ref = h.log;
    size_t max_feed = h.max_feed;
    assert_non_null(ref);

    h_begin(&h, MODE_BYTES, 0);
    fn(&h);
    h_end(&h);
    compare_logs(ref, h.log, h.desc);
    free(h.log);

    for (size_t k = 1; k < max_feed; k++) {
        h_begin(&h, MODE_SPLIT, k);
        fn(&h);
        h_end(&h);
        compare_logs(ref, h.log, h.desc);
        free(h.log);
    }
    free(ref);
}

#define SCENARIO(name)                                                                             \
    static void sc_##name(struct h *h);                                                            \
    static void test_##name(void **state)                                                          \
    {                                                                                              \
        (void)state;                                                                               \
        run3(sc_##name);                                                                           \
    }                                                                                              \
    static void sc_##name(struct h *h)

/* ---- fixtures ---- */

/* CONNECT of opts_default() with default settings: Client Identifier "cid",
   Clean Start, Keep Alive 60, Receive Maximum 64, Topic Alias Maximum 16,
   Maximum Packet Size 1 MiB. */
#define CONNECT_DEFAULT                                                                            \
    "10 1b 00 04 4d 51 54 54 05 02 00 3c 0b 21 00 40 22 00 10 27 00 10 00 00 00 03 63 69 64"
/* opts_session(): Clean Start 0, Session Expiry Interval 300. */
#define CONNECT_SESSION                                                                            \
    "10 20 00 04 4d 51 54 54 05 00 00 3c 10 11 00 00 01 2c 21 00 40 22 00 10 27 00 10 00 00 00 "   \
    "03 63 69 64"
/* opts_session() with Clean Start 1. */
#define CONNECT_SESSION_CLEAN                                                                      \
    "10 20 00 04 4d 51 54 54 05 02 00 3c 10 11 00 00 01 2c 21 00 40 22 00 10 27 00 10 00 00 00 "   \
    "03 63 69 64"
/* opts_auth(): Authentication Method "SCRAM", Authentication Data 01. */
#define CONNECT_AUTH                                                                               \
    "10 27 00 04 4d 51 54 54 05 02 00 3c 17 15 00 05 53 43 52 41 4d 16 00 01 01 21 00 40 22 00 "   \
    "10 27 00 10 00 00 00 03 63 69 64"
/* opts_default() with Request Problem Information 0. */
#define CONNECT_NO_PROBLEM_INFO                                                                    \
    "10 1d 00 04 4d 51 54 54 05 02 00 3c 0d 17 00 21 00 40 22 00 10 27 00 10 00 00 00 03 63 69 64"
/* opts_default() with Request Response Information 1. */
#define CONNECT_RESPONSE_INFO                                                                      \
    "10 1d 00 04 4d 51 54 54 05 02 00 3c 0d 19 01 21 00 40 22 00 10 27 00 10 00 00 00 03 63 69 64"
#define CONNACK_OK "20 03 00 00 00"
#define CONNACK_SP "20 03 01 00 00"

/* PUBLISH "a/b" "hi" at QoS 1 and 2 with packet identifier 00 <id>. */
#define PUB_Q1(id)     "32 0a 00 03 61 2f 62 00 " id " 00 68 69"
#define PUB_Q2(id)     "34 0a 00 03 61 2f 62 00 " id " 00 68 69"
#define PUB_Q1_DUP(id) "3a 0a 00 03 61 2f 62 00 " id " 00 68 69"
#define PUB_Q2_DUP(id) "3c 0a 00 03 61 2f 62 00 " id " 00 68 69"
#define PUB_Q0         "30 08 00 03 61 2f 62 00 68 69"
#define PUBACK(id)     "40 02 00 " id
#define PUBREC(id)     "50 02 00 " id
#define PUBREL(id)     "62 02 00 " id
#define PUBCOMP(id)    "70 02 00 " id

static mqttproto_connect_options opts_default(void)
{
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = STR("cid");
    return o;
}

static mqttproto_connect_options opts_session(void)
{
    mqttproto_connect_options o = opts_default();
    o.clean_start = false;
    o.session_expiry_interval = 300;
    return o;
}

static mqttproto_connect_options opts_auth(void)
{
    mqttproto_connect_options o = opts_default();
    o.authentication_method = STR("SCRAM");
    o.authentication_data = BIN("\x01");
    return o;
}

static void h_connect(struct h *h, const mqttproto_connect_options *o, const char *connect_hex,
                      int line)
{
    if (h->c == NULL) {
        h_new(h);
    }
    h_eq(h, mqttproto_client_connect(h->c, o, h->now), 0, "connect()", line);
    h_eq(h, mqttproto_client_get_state(h->c), ST(CONNECTING), "state", line);
    h_out(h, connect_hex, line);
}

#define CONNECT(h, o, hex) h_connect((h), (o), (hex), __LINE__)

/* Connect with opts_default() and the given CONNACK and its event. */
static void h_up(struct h *h, const char *connack, const char *event, int line)
{
    mqttproto_connect_options o = opts_default();
    h_connect(h, &o, CONNECT_DEFAULT, line);
    h_feed_check(h, connack, 0, line);
    h_events(h, (const char *const[]){event, NULL}, line);
    h_eq(h, mqttproto_client_get_state(h->c), ST(CONNECTED), "state", line);
}

#define UP(h)                   h_up((h), CONNACK_OK, "CONNECTED sp=0", __LINE__)
#define UP_WITH(h, connack, ev) h_up((h), (connack), (ev), __LINE__)

static int32_t pub(struct h *h, const char *topic, const char *payload, int qos, bool retain)
{
    return mqttproto_client_publish(h->c, mqttproto_str_from_cstr(topic),
                                    mqttproto_bin_make(payload, strlen(payload)),
                                    (mqttproto_qos)qos, retain, NULL);
}

static mqttproto_subscription subopt(const char *filter, int qos)
{
    mqttproto_subscription s;
    memset(&s, 0, sizeof s);
    s.topic_filter = mqttproto_str_from_cstr(filter);
    s.max_qos = (mqttproto_qos)qos;
    return s;
}

static int32_t sub1(struct h *h, const char *filter, int qos)
{
    mqttproto_subscription s = subopt(filter, qos);
    return mqttproto_client_subscribe(h->c, &s, 1, NULL);
}

static int32_t unsub1(struct h *h, const char *filter)
{
    mqttproto_str f = mqttproto_str_from_cstr(filter);
    return mqttproto_client_unsubscribe(h->c, &f, 1, NULL);
}

/* ---- plain API tests ---- */

static void test_defaults(void **state)
{
    (void)state;
    mqttproto_client_settings s;
    memset(&s, EVENT_FILL, sizeof s);
    mqttproto_client_settings_default(&s);
    assert_int_equal(s.version, MQTTPROTO_CLIENT_SETTINGS_VERSION);
    assert_null(s.mem);
    assert_int_equal(s.maximum_packet_size, 1048576);
    assert_int_equal(s.receive_maximum, 64);
    assert_int_equal(s.topic_alias_maximum, 16);
    assert_int_equal(s.outbound_topic_alias_maximum, 16);
    assert_int_equal(s.max_queued_messages, 1000);
    assert_int_equal(s.max_queued_bytes, 16 * 1024 * 1024);
    assert_int_equal(s.max_user_properties, 256);
    assert_int_equal(s.pingresp_timeout_ms, 0);
    assert_false(s.manual_ack);

    mqttproto_connect_options o;
    memset(&o, EVENT_FILL, sizeof o);
    mqttproto_connect_options_default(&o);
    assert_int_equal(o.version, MQTTPROTO_CONNECT_OPTIONS_VERSION);
    assert_int_equal(o.protocol_version, 5);
    assert_int_equal(o.client_id.len, 0);
    assert_true(o.clean_start);
    assert_int_equal(o.keep_alive, 60);
    assert_int_equal(o.session_expiry_interval, 0);
    assert_int_equal(o.receive_maximum, 0);
    assert_int_equal(o.maximum_packet_size, 0);
    assert_int_equal(o.topic_alias_maximum, -1);
    assert_false(o.request_response_information);
    assert_true(o.request_problem_information);
    assert_null(o.user_properties);
    assert_int_equal(o.user_property_count, 0);
    assert_false(o.has_username);
    assert_false(o.has_password);
    assert_null(o.will);
    assert_int_equal(o.authentication_method.len, 0);
    assert_int_equal(o.authentication_data.len, 0);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(mqttproto_client_state_name(ST(DISCONNECTED)), "DISCONNECTED");
    assert_string_equal(mqttproto_client_state_name(ST(CONNECTING)), "CONNECTING");
    assert_string_equal(mqttproto_client_state_name(ST(CONNECTED)), "CONNECTED");
    assert_string_equal(mqttproto_client_state_name(ST(FAILED)), "FAILED");
    assert_string_equal(mqttproto_client_state_name(4), "UNKNOWN");
    assert_string_equal(mqttproto_client_state_name(-1), "UNKNOWN");
    for (int t = 1; t < (int)ARRAY_LEN(event_kinds); t++) {
        assert_string_equal(mqttproto_client_event_type_name(t), event_kinds[t].name);
    }
    assert_string_equal(mqttproto_client_event_type_name(0), "UNKNOWN");
    assert_string_equal(mqttproto_client_event_type_name(11), "UNKNOWN");
}

static void test_create(void **state)
{
    (void)state;
    mqttproto_client_settings s;
    mqttproto_client *c = NULL;

    mqttproto_client_settings_default(&s);
    assert_int_equal(mqttproto_client_create(&s, NULL), E(INVALID_ARGUMENT));
    s.version = 2;
    assert_int_equal(mqttproto_client_create(&s, &c), E(INVALID_ARGUMENT));
    assert_null(c);
    mqttproto_client_settings_default(&s);
    s.receive_maximum = 0;
    assert_int_equal(mqttproto_client_create(&s, &c), E(INVALID_ARGUMENT));
    mqttproto_client_settings_default(&s);
    s.maximum_packet_size = 15;
    assert_int_equal(mqttproto_client_create(&s, &c), E(INVALID_ARGUMENT));
    s.maximum_packet_size = 16;
    assert_int_equal(mqttproto_client_create(&s, &c), 0);
    mqttproto_client_destroy(c);
    mqttproto_client_destroy(NULL);

    c = NULL;
    assert_int_equal(mqttproto_client_create(NULL, &c), 0);
    assert_non_null(c);
    assert_int_equal(mqttproto_client_get_state(c), ST(DISCONNECTED));
    assert_int_equal(mqttproto_client_error(c), 0);
    assert_true(mqttproto_client_get_expiry(c) == UINT64_MAX);
    assert_int_equal(mqttproto_client_client_id(c).len, 0);

    mqttproto_client_server_info si = mqttproto_client_server(c);
    assert_int_equal(si.maximum_qos, 2);
    assert_true(si.retain_available);
    assert_int_equal(si.receive_maximum, 65535);
    assert_int_equal(si.maximum_packet_size, MQTTPROTO_MAX_PACKET_SIZE);
    assert_int_equal(si.topic_alias_maximum, 0);

    mqttproto_client_event ev;
    assert_int_equal(mqttproto_client_next_event(c, &ev), 0);
    assert_int_equal(mqttproto_client_next_event(c, NULL), E(INVALID_ARGUMENT));
    const uint8_t *out = (const uint8_t *)"x";
    assert_int_equal(mqttproto_client_get_outbound_data(c, &out), 0);
    assert_null(out);
    uint8_t b[1] = {0xd0};
    assert_int_equal(mqttproto_client_feed_bytes(c, b, 1, 0), E(BAD_STATE));
    mqttproto_subscription sub = subopt("a", 0);
    assert_int_equal(mqttproto_client_subscribe(c, &sub, 1, NULL), E(BAD_STATE));
    mqttproto_str f = STR("a");
    assert_int_equal(mqttproto_client_unsubscribe(c, &f, 1, NULL), E(BAD_STATE));
    assert_int_equal(mqttproto_client_disconnect(c, 0, NULL), E(BAD_STATE));
    assert_int_equal(mqttproto_client_auth(c, 0x19, BIN("x"), NULL), E(BAD_STATE));
    assert_int_equal(mqttproto_client_handle_expiry(c, 5000), 0);
    mqttproto_client_destroy(c);
}

static void test_connect_arguments(void **state)
{
    (void)state;
    mqttproto_client *c = NULL;
    assert_int_equal(mqttproto_client_create(NULL, &c), 0);
    mqttproto_connect_options o = opts_default();
    const uint8_t *out;

    assert_int_equal(mqttproto_client_connect(c, NULL, 0), E(INVALID_ARGUMENT));
    o.version = 2;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(INVALID_ARGUMENT));
    o = opts_default();
    o.receive_maximum = 65; /* above the settings' 64 */
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(INVALID_ARGUMENT));
    o = opts_default();
    o.maximum_packet_size = 1048577;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(INVALID_ARGUMENT));
    o = opts_default();
    o.topic_alias_maximum = 17;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(INVALID_ARGUMENT));
    o = opts_default();
    mqttproto_will w;
    memset(&w, 0, sizeof w);
    w.topic = STR("w/#");
    mqttproto_properties_init(&w.properties);
    o.will = &w;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(TOPIC_NAME_INVALID));
    /* Each refusal changed nothing. */
    assert_int_equal(mqttproto_client_get_state(c), ST(DISCONNECTED));
    assert_int_equal(mqttproto_client_get_outbound_data(c, &out), 0);

    o = opts_default();
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(BAD_STATE));
    assert_int_equal(mqttproto_client_get_outbound_data(c, &out), 29);
    mqttproto_client_destroy(c);

    /* Topic Alias Maximum: -1 or 0 to the settings' value. */
    assert_int_equal(mqttproto_client_create(NULL, &c), 0);
    o = opts_default();
    o.topic_alias_maximum = -2;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_get_state(c), ST(DISCONNECTED));
    mqttproto_client_destroy(c);
}

static void test_outbound_copy_and_consume(void **state)
{
    (void)state;
    mqttproto_client *c = NULL;
    assert_int_equal(mqttproto_client_create(NULL, &c), 0);
    mqttproto_connect_options o = opts_default();
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);

    uint8_t buf[64];
    assert_int_equal(mqttproto_client_copy_outbound(c, buf, 4), 4);
    assert_memory_equal(buf, "\x10\x1b\x00\x04", 4);
    const uint8_t *out = NULL;
    assert_int_equal(mqttproto_client_get_outbound_data(c, &out), 25);
    assert_int_equal(out[0], 0x4d);
    mqttproto_client_consume_outbound(c, 3);
    assert_int_equal(mqttproto_client_get_outbound_data(c, &out), 22);
    assert_int_equal(out[0], 0x54); /* the last byte of "MQTT" */
    assert_int_equal(mqttproto_client_copy_outbound(c, buf, sizeof buf), 22);
    assert_memory_equal(buf, "\x54\x05\x02\x00\x3c", 5);
    assert_int_equal(mqttproto_client_copy_outbound(c, buf, sizeof buf), 0);

    /* consume_outbound() clamps. */
    mqttproto_client_connection_lost(c);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    mqttproto_client_consume_outbound(c, 1000);
    assert_int_equal(mqttproto_client_get_outbound_data(c, &out), 0);
    assert_null(out);
    mqttproto_client_destroy(c);
}

/*
 * A server DISCONNECT with more bytes behind it in the same read, then
 * connect() without connection_lost(): the old connection's bytes are not
 * read on the new one, where a PINGRESP before the CONNACK would be a
 * protocol error.
 */
static void test_reconnect_after_server_disconnect(void **state)
{
    (void)state;
    mqttproto_client *c = NULL;
    assert_int_equal(mqttproto_client_create(NULL, &c), 0);
    mqttproto_connect_options o = opts_default();
    uint8_t buf[64];
    for (int round = 0; round < 2; round++) {
        assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
        assert_int_equal(mqttproto_client_copy_outbound(c, buf, sizeof buf), 29);
        static const uint8_t in[] = {0x20, 0x03, 0x00, 0x00, 0x00, 0xe0, 0x00, 0xd0, 0x00};
        /* The second time the CONNECTED event is still unread. */
        size_t len = round == 0 ? sizeof in : 5;
        assert_int_equal(mqttproto_client_feed_bytes(c, in, len, 0), (ptrdiff_t)len);
        if (round == 1) {
            assert_int_equal(mqttproto_client_feed_bytes(c, in + 5, 4, 0), 4);
        }
        assert_int_equal(mqttproto_client_get_state(c), ST(DISCONNECTED));
        mqttproto_client_event ev;
        assert_int_equal(mqttproto_client_next_event(c, &ev), 1);
        assert_int_equal(ev.type, MQTTPROTO_CLIENT_EVENT_CONNECTED);
        if (round == 0) {
            assert_int_equal(mqttproto_client_next_event(c, &ev), 1);
            assert_int_equal(ev.type, MQTTPROTO_CLIENT_EVENT_DISCONNECTED);
            assert_int_equal(mqttproto_client_next_event(c, &ev), 0);
        }
    }
    /* The DISCONNECTED event of the second round waits; the new connection
       starts clean all the same. */
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    assert_int_equal(mqttproto_client_copy_outbound(c, buf, sizeof buf), 29);
    mqttproto_client_event ev;
    assert_int_equal(mqttproto_client_next_event(c, &ev), 1);
    assert_int_equal(ev.type, MQTTPROTO_CLIENT_EVENT_DISCONNECTED);
    assert_int_equal(mqttproto_client_feed_bytes(c, (const uint8_t *)"\x20\x03\x00\x00\x00", 5, 0),
                     5);
    assert_int_equal(mqttproto_client_next_event(c, &ev), 1);
    assert_int_equal(ev.type, MQTTPROTO_CLIENT_EVENT_CONNECTED);
    assert_int_equal(mqttproto_client_next_event(c, &ev), 0);
    assert_int_equal(mqttproto_client_get_state(c), ST(CONNECTED));
    mqttproto_client_destroy(c);
}

/*
 * Packet identifiers: all 65,535 in use, then the next publish fails; an
 * identifier freed by its PUBACK is the one handed out next.
 */
static void test_packet_id_exhaustion(void **state)
{
    (void)state;
    struct h hs;
    struct h *h = &hs;
    h_begin(h, MODE_WHOLE, 0);
    h->settings.max_queued_messages = 70000;
    UP(h);
    for (int32_t i = 1; i <= 65535; i++) {
        int32_t id = mqttproto_client_publish(h->c, STR("t"), BIN(""), MQTTPROTO_QOS_AT_LEAST_ONCE,
                                              false, NULL);
        if (id != i) {
            fail_msg("publish %d returned %d", i, id);
        }
    }
    const uint8_t *out;
    /* 65,535 PUBLISH of 8 bytes: 32 06 00 01 74 hi lo 00 */
    EQ(mqttproto_client_get_outbound_data(h->c, &out), 65535 * 8);
    EQ(out[0], 0x32);
    EQ(out[8 * 65534 + 5], 0xff);
    EQ(out[8 * 65534 + 6], 0xff);
    mqttproto_client_consume_outbound(h->c, 65535 * 8);
    EQ(pub(h, "t", "", 1, false), E(PACKET_ID_EXHAUSTED)); /* [MQTT-2.2.1-3] */
    FEED(h, PUBACK("07"));
    EV(h, "PUBLISH_COMPLETED id=7 rc=00");
    FEED(h, "40 02 12 34");
    EV(h, "PUBLISH_COMPLETED id=4660 rc=00");
    /* [MQTT-2.2.1-3] only identifiers not in use, never 0 */
    EQ(pub(h, "t", "", 1, false), 7);
    EQ(pub(h, "t", "", 2, false), 4660);
    EQ(pub(h, "t", "", 1, false), E(PACKET_ID_EXHAUSTED));
    EQ(mqttproto_client_subscribe(h->c, &(mqttproto_subscription){.topic_filter = STR("s")}, 1,
                                  NULL),
       E(PACKET_ID_EXHAUSTED));
    OUT(h, "32 06 00 01 74 00 07 00 34 06 00 01 74 12 34 00");
    h_end(h);
    free(h->log);
}

/*
 * Input the client cannot take yet: while undrained events hold the input
 * buffer at its limit, feed_bytes() takes fewer bytes; nothing is lost.
 */
static void test_input_backpressure(void **state)
{
    (void)state;
    struct h hs;
    struct h *h = &hs;
    h_begin(h, MODE_WHOLE, 0);
    UP(h);
    /* 40,000 QoS 0 PUBLISH of 100 bytes ("t" and a 94-byte payload): more than
       the input buffer holds beside the largest packet allowed (1 MiB). */
    enum { COUNT = 40000, SIZE = 100 };
    uint8_t *in = malloc((size_t)COUNT * SIZE);
    assert_non_null(in);
    for (size_t i = 0; i < COUNT; i++) {
        uint8_t *p = in + i * SIZE;
        p[0] = 0x30;
        p[1] = SIZE - 2;
        p[2] = 0x00;
        p[3] = 0x01;
        p[4] = 't';
        p[5] = 0x00;
        memset(p + 6, 'a' + (int)(i % 26), SIZE - 6);
    }
    size_t off = 0, events = 0;
    bool short_read = false;
    while (off < (size_t)COUNT * SIZE) {
        ptrdiff_t r = mqttproto_client_feed_bytes(h->c, in + off, (size_t)COUNT * SIZE - off, 0);
        assert_true(r >= 0);
        if ((size_t)r < (size_t)COUNT * SIZE - off) {
            short_read = true;
        }
        off += (size_t)r;
        mqttproto_client_event ev;
        int n = 0;
        while (mqttproto_client_next_event(h->c, &ev) == 1) {
            assert_int_equal(ev.type, MQTTPROTO_CLIENT_EVENT_MESSAGE);
            assert_int_equal(ev.payload.len, SIZE - 6);
            assert_int_equal(ev.payload.data[0], 'a' + (int)(events % 26));
            assert_int_equal(ev.payload.data[SIZE - 7], 'a' + (int)(events % 26));
            events++;
            n++;
        }
        /* Progress every round: either bytes were taken or events drained. */
        assert_true(r > 0 || n > 0);
    }
    assert_true(short_read);
    assert_int_equal(events, COUNT);
    free(in);
    h_end(h);
    free(h->log);
}

/* ---- CONNECT ---- */

SCENARIO(connect_default)
{
    h_new(h);
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));
    mqttproto_connect_options o = opts_default();
    EQ(mqttproto_client_connect(h->c, &o, h->now), 0);
    EQ(mqttproto_client_get_state(h->c), ST(CONNECTING));
    /* [MQTT-3.1.0-1] the first bytes of the connection are the CONNECT */
    OUT(h, CONNECT_DEFAULT);
    STREQ(mqttproto_client_client_id(h->c), "cid");
    NO_EV(h);
}

/* Receive Maximum 65535 and Topic Alias Maximum 0 are not sent; Keep Alive 0
   runs no timer; an empty Client Identifier is sent empty. */
SCENARIO(connect_minimal)
{
    h->settings.receive_maximum = 65535;
    h->settings.topic_alias_maximum = 0;
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.keep_alive = 0;
    CONNECT(h, &o, "10 12 00 04 4d 51 54 54 05 02 00 00 05 27 00 10 00 00 00 00");
    EQ_U64(mqttproto_client_get_expiry(h->c), UINT64_MAX);
    FEED(h, "20 0c 00 00 09 12 00 06 61 75 74 6f 2d 37");
    EV(h, "CONNECTED sp=0 [aci=auto-7]");
    STREQ(mqttproto_client_client_id(h->c), "auto-7");
    EQ_U64(mqttproto_client_get_expiry(h->c), UINT64_MAX);
    EQ(mqttproto_client_server(h->c).keep_alive, 0);
}

/* Every CONNECT field: will with every will property, user name, password,
   authentication, and every optional CONNECT property. */
SCENARIO(connect_full)
{
    static const mqttproto_user_property up_kv = {{"k", 1}, {"v", 1}};
    static const mqttproto_user_property up_ab = {{"a", 1}, {"b", 1}};
    const int W = MQTTPROTO_PROPERTY_CONTEXT_WILL;
    mqttproto_will w;
    memset(&w, 0, sizeof w);
    w.topic = STR("w/t");
    w.payload = BIN("bye");
    w.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    w.retain = true;
    mqttproto_properties_init(&w.properties);
    EQ(mqttproto_properties_set_int(&w.properties, W, PR(PAYLOAD_FORMAT_INDICATOR), 1), 0);
    EQ(mqttproto_properties_set_int(&w.properties, W, PR(MESSAGE_EXPIRY_INTERVAL), 10), 0);
    EQ(mqttproto_properties_set_str(&w.properties, W, PR(CONTENT_TYPE), STR("c")), 0);
    EQ(mqttproto_properties_set_str(&w.properties, W, PR(RESPONSE_TOPIC), STR("r")), 0);
    EQ(mqttproto_properties_set_bin(&w.properties, W, PR(CORRELATION_DATA), BIN("\xaa")), 0);
    EQ(mqttproto_properties_set_int(&w.properties, W, PR(WILL_DELAY_INTERVAL), 5), 0);
    EQ(mqttproto_properties_set_user_properties(&w.properties, W, &up_ab, 1), 0);

    char cid[] = "cl";
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = (mqttproto_str){cid, 2};
    o.clean_start = false;
    o.keep_alive = 0x1234;
    o.session_expiry_interval = 120;
    o.receive_maximum = 10;
    o.maximum_packet_size = 2048;
    o.topic_alias_maximum = 0;
    o.request_response_information = true;
    o.request_problem_information = false;
    o.user_properties = &up_kv;
    o.user_property_count = 1;
    o.has_username = true;
    o.username = STR("u");
    o.has_password = true;
    o.password = BIN("pw");
    o.will = &w;
    o.authentication_method = STR("M");
    o.authentication_data = BIN("\x01\x02");
    CONNECT(h, &o,
            "10 61 00 04 4d 51 54 54 05"
            " ec"    /* user name, password, will retain, will QoS 1, will, Clean Start 0 */
            " 12 34" /* Keep Alive */
            " 21 11 00 00 00 78 15 00 01 4d 16 00 02 01 02 17 00 19 01 21 00 0a"
            " 26 00 01 6b 00 01 76 27 00 00 08 00"
            " 00 02 63 6c"
            " 1f 01 01 02 00 00 00 0a 03 00 01 63 08 00 01 72 09 00 01 aa 18 00 00 00 05"
            " 26 00 01 61 00 01 62"
            " 00 03 77 2f 74 00 03 62 79 65 00 01 75 00 02 70 77");
    /* The options were copied. */
    cid[0] = 'X';
    STREQ(mqttproto_client_client_id(h->c), "cl");
    /* [MQTT-4.12.0-5] the CONNACK repeats the method */
    FEED(h, "20 07 00 00 04 15 00 01 4d");
    EV(h, "CONNECTED sp=0 [am=M]");
    STREQ(mqttproto_client_client_id(h->c), "cl");
    EQ_U64(mqttproto_client_get_expiry(h->c), 1000 + 0x1234 * 1000ull);
}

/* ---- CONNACK ---- */

SCENARIO(connack_properties)
{
    mqttproto_connect_options o = opts_default();
    o.client_id = STR("");
    CONNECT(h, &o, "10 18 00 04 4d 51 54 54 05 02 00 3c 0b 21 00 40 22 00 10 27 00 10 00 00 00 00");
    EQ(mqttproto_client_client_id(h->c).len, 0);
    FEED(h, "20 24 00 00 21 12 00 06 61 75 74 6f 2d 31 13 00 1e 21 00 02 22 00 03 24 01 25 00"
            " 27 00 00 00 64 28 00 29 00 2a 00");
    EV(h, "CONNECTED sp=0 [aci=auto-1 ska=30 rm=2 tam=3 mq=1 ra=0 mps=100 wsa=0 sia=0 ssa=0]");
    EQ(mqttproto_client_get_state(h->c), ST(CONNECTED));
    STREQ(mqttproto_client_client_id(h->c), "auto-1");
    mqttproto_client_server_info si = mqttproto_client_server(h->c);
    EQ(si.maximum_qos, 1);
    EQ(si.retain_available, false);
    EQ(si.wildcard_subscription_available, false);
    EQ(si.subscription_identifier_available, false);
    EQ(si.shared_subscription_available, false);
    EQ(si.receive_maximum, 2);
    EQ(si.maximum_packet_size, 100);
    EQ(si.topic_alias_maximum, 3);
    EQ(si.keep_alive, 30);
    /* [MQTT-3.1.2-21] [MQTT-3.2.2-21] Server Keep Alive replaces the 60 s asked for */
    EQ_U64(mqttproto_client_get_expiry(h->c), 1000 + 30000);

    /* [MQTT-3.2.2-11] QoS 2 goes out as QoS 1; the first use of a topic gets alias 1 */
    EQ(pub(h, "a/b", "hi", 2, false), 1);
    OUT(h, "32 0d 00 03 61 2f 62 00 01 03 23 00 01 68 69");
    /* [MQTT-3.2.2-14] */
    EQ(pub(h, "a/b", "hi", 0, true), E(RETAIN_NOT_SUPPORTED));
    EQ(pub(h, "a/b", "hi", 1, true), E(RETAIN_NOT_SUPPORTED));
    NO_OUT(h);
    /* [MQTT-3.2.2-15] 100 bytes fit, 101 do not */
    char payload[94];
    memset(payload, 'x', sizeof payload);
    payload[93] = '\0';
    EQ(pub(h, "a/b", payload, 0, false), E(PACKET_TOO_LARGE));
    payload[92] = '\0';
    EQ(pub(h, "a/b", payload, 0, false), 0);
    char *full = hex_fill("30 62 00 00 03 23 00 01", "78", 92);
    OUT(h, full);
    free(full);
    FEED(h, PUBACK("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");
}

SCENARIO(connack_refused)
{
    mqttproto_connect_options o = opts_default();
    CONNECT(h, &o, CONNECT_DEFAULT);
    FEED(h, "20 08 00 87 05 1f 00 02 6e 6f");
    EV(h, "CONNECT_REFUSED rc=87 [rs=no]");
    /* [MQTT-4.13.2-1] a refusal ends the connection */
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));
    EQ(mqttproto_client_error(h->c), 0);
    NO_OUT(h);
    FEED_ERR(h, "d0 00", E(BAD_STATE));

    /* The same client connects again; Use another server carries the reference. */
    EQ(mqttproto_client_connection_lost(h->c), 0);
    CONNECT(h, &o, CONNECT_DEFAULT);
    FEED(h, "20 0a 00 9c 07 1c 00 04 73 72 76 32");
    EV(h, "CONNECT_REFUSED rc=9c [sr=srv2]");
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));

    EQ(mqttproto_client_connection_lost(h->c), 0);
    CONNECT(h, &o, CONNECT_DEFAULT);
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    EQ(mqttproto_client_get_state(h->c), ST(CONNECTED));
}

/* [MQTT-3.2.2-4] Session Present 1 with no session: Clean Start 1. */
SCENARIO(session_present_after_clean_start)
{
    mqttproto_connect_options o = opts_default();
    CONNECT(h, &o, CONNECT_DEFAULT);
    FAIL_CASE(h, CONNACK_SP, E(SESSION_PRESENT_INVALID), "e0 01 82");
}

/* [MQTT-3.2.2-4] Session Present 1 with no session: the first connection. */
SCENARIO(session_present_first_connect)
{
    mqttproto_connect_options o = opts_session();
    CONNECT(h, &o, CONNECT_SESSION);
    FAIL_CASE(h, CONNACK_SP, E(SESSION_PRESENT_INVALID), "e0 01 82");
}

/* [MQTT-3.2.2-4] [MQTT-3.1.2-23] Session Expiry 0 on the last connection:
   the session ended with it, so Session Present 1 is invalid. */
SCENARIO(session_present_after_expiry_zero)
{
    mqttproto_connect_options o = opts_default();
    o.clean_start = false;
    const char *connect = "10 1b 00 04 4d 51 54 54 05 00 00 3c 0b 21 00 40 22 00 10 27 00 10 00 "
                          "00 00 03 63 69 64";
    CONNECT(h, &o, connect);
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    EQ(mqttproto_client_connection_lost(h->c), 0);
    CONNECT(h, &o, connect);
    FAIL_CASE(h, CONNACK_SP, E(SESSION_PRESENT_INVALID), "e0 01 82");
}

/* [MQTT-3.1.2-28] binds the server; a CONNACK that accepts the connection
   with Response Information nobody asked for is a Protocol Error: DISCONNECT
   0x82. */
SCENARIO(response_information_not_requested)
{
    mqttproto_connect_options o = opts_default();
    CONNECT(h, &o, CONNECT_DEFAULT);
    FAIL_CASE(h, "20 09 00 00 06 1a 00 03 61 2f 62", E(UNEXPECTED_PROPERTY), "e0 01 82");
    h_end(h);

    /* Asked for (Request Response Information 1): adopted into the event. */
    o.request_response_information = true;
    CONNECT(h, &o, CONNECT_RESPONSE_INFO);
    FEED(h, "20 09 00 00 06 1a 00 03 61 2f 62");
    EV(h, "CONNECTED sp=0 [ri=a/b]");
    EQ(mqttproto_client_get_state(h->c), ST(CONNECTED));
    h_end(h);

    /* A refusal ends the connection anyway: it is reported as it came. */
    o.request_response_information = false;
    CONNECT(h, &o, CONNECT_DEFAULT);
    FEED(h, "20 09 00 87 06 1a 00 03 61 2f 62");
    EV(h, "CONNECT_REFUSED rc=87 [ri=a/b]");
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));
    NO_OUT(h);
}

/* [MQTT-4.12.0-6] no Authentication Method in CONNECT: a CONNACK with one
   is a Protocol Error, answered with DISCONNECT 0x82 [MQTT-4.12.0-5]. */
SCENARIO(connack_auth_method_without_method)
{
    mqttproto_connect_options o = opts_default();
    CONNECT(h, &o, CONNECT_DEFAULT);
    FAIL_CASE(h, "20 0b 00 00 08 15 00 05 53 43 52 41 4d", E(AUTH_METHOD_MISMATCH), "e0 01 82");
}

/* ---- publishing ---- */

SCENARIO(publish_qos0)
{
    UP(h);
    /* [MQTT-4.3.1-1] QoS 0, DUP 0 */
    EQ(pub(h, "a/b", "hi", 0, false), 0);
    OUT(h, PUB_Q0);
    EQ(pub(h, "a/b", "hi", 0, true), 0);
    OUT(h, "31 08 00 03 61 2f 62 00 68 69");
    EQ(pub(h, "a/b", "", 0, false), 0);
    EQ(pub(h, "a/b", "hi", 0, false), 0);
    OUT(h, "30 06 00 03 61 2f 62 00"
           " " PUB_Q0);
}

SCENARIO(publish_qos1)
{
    UP(h);
    char topic[] = "a/b";
    char name[] = "x";
    mqttproto_user_property up = {{name, 1}, {"y", 1}};
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_int(&p, PK(PUBLISH), PR(MESSAGE_EXPIRY_INTERVAL), 60), 0);
    EQ(mqttproto_properties_set_user_properties(&p, PK(PUBLISH), &up, 1), 0);
    /* [MQTT-2.2.1-3] [MQTT-4.3.2-1] a fresh non-zero identifier */
    EQ(mqttproto_client_publish(h->c, (mqttproto_str){topic, 3}, BIN("hi"),
                                MQTTPROTO_QOS_AT_LEAST_ONCE, false, &p),
       1);
    /* The message was copied: the bytes are made later. */
    topic[0] = 'z';
    name[0] = 'z';
    /* [MQTT-4.3.2-2] QoS 1, DUP 0 */
    OUT(h, "32 16 00 03 61 2f 62 00 01 0c 02 00 00 00 3c 26 00 01 78 00 01 79 68 69");
    EQ(pub(h, "a/b", "hi", 1, false), 2);
    OUT(h, PUB_Q1("02"));
    /* [MQTT-4.3.2-3] the flow ends with the PUBACK */
    FEED(h, PUBACK("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");
    FEED(h, "40 0b 00 02 10 07 26 00 01 6b 00 01 76");
    EV(h, "PUBLISH_COMPLETED id=2 rc=10 [up=k:v]");
    EQ(pub(h, "a/b", "hi", 1, false), 3);
    OUT(h, PUB_Q1("03"));
    FEED(h, "40 08 00 03 97 04 1f 00 01 71");
    EV(h, "PUBLISH_FAILED id=3 rc=97 err=0 [rs=q]");
    /* [MQTT-4.4.0-2] an error reason code acknowledges: no retransmission */
    NO_OUT(h);
    /* Identifiers keep counting up. */
    EQ(pub(h, "a/b", "hi", 1, false), 4);
    OUT(h, PUB_Q1("04"));
    FEED(h, PUBACK("04"));
    EV(h, "PUBLISH_COMPLETED id=4 rc=00");
}

SCENARIO(publish_qos2)
{
    UP(h);
    /* [MQTT-4.3.3-1] [MQTT-4.3.3-2] QoS 2, DUP 0 */
    EQ(pub(h, "a/b", "hi", 2, false), 1);
    OUT(h, PUB_Q2("01"));
    /* [MQTT-4.3.3-3] held until the PUBREC */
    FEED(h, PUBREC("01"));
    NO_EV(h);
    /* [MQTT-4.3.3-4] [MQTT-2.2.1-5] PUBREL with the same identifier */
    OUT(h, PUBREL("01"));
    /* [MQTT-4.3.3-5] held until the PUBCOMP */
    FEED(h, PUBCOMP("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");

    EQ(pub(h, "a/b", "hi", 2, false), 2);
    OUT(h, PUB_Q2("02"));
    FEED(h, "50 03 00 02 10");
    OUT(h, PUBREL("02"));
    FEED(h, "70 03 00 02 00");
    EV(h, "PUBLISH_COMPLETED id=2 rc=00");

    /* [MQTT-4.4.0-2] PUBREC 0x80 ends the flow: no PUBREL */
    EQ(pub(h, "a/b", "hi", 2, false), 3);
    OUT(h, PUB_Q2("03"));
    FEED(h, "50 03 00 03 80");
    EV(h, "PUBLISH_FAILED id=3 rc=80 err=0");
    NO_OUT(h);

    /* PUBCOMP 0x92 fails the publish. */
    EQ(pub(h, "a/b", "hi", 2, false), 4);
    OUT(h, PUB_Q2("04"));
    FEED(h, PUBREC("04"));
    OUT(h, PUBREL("04"));
    FEED(h, "70 03 00 04 92");
    EV(h, "PUBLISH_FAILED id=4 rc=92 err=0");

    /* A PUBREC for an identifier not in use: PUBREL 0x92, not an error. */
    FEED(h, PUBREC("09"));
    NO_EV(h);
    OUT(h, "62 03 00 09 92");
    EQ(mqttproto_client_get_state(h->c), ST(CONNECTED));
}

SCENARIO(publish_bad_arguments)
{
    UP(h);
    EQ(pub(h, "a/+", "hi", 0, false), E(TOPIC_NAME_INVALID));
    EQ(pub(h, "a/b", "hi", 3, false), E(INVALID_ARGUMENT));
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_int(&p, PK(PUBLISH), PR(TOPIC_ALIAS), 1), 0);
    EQ(mqttproto_client_publish(h->c, STR("a/b"), BIN("hi"), MQTTPROTO_QOS_AT_LEAST_ONCE, false,
                                &p),
       E(PROPERTY_NOT_ALLOWED));
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_int(&p, PK(PUBLISH), PR(SUBSCRIPTION_IDENTIFIER), 5), 0);
    /* [MQTT-3.3.4-6] */
    EQ(mqttproto_client_publish(h->c, STR("a/b"), BIN("hi"), MQTTPROTO_QOS_AT_LEAST_ONCE, false,
                                &p),
       E(PROPERTY_NOT_ALLOWED));
    NO_OUT(h);
    /* Nothing changed: the first identifier is still 1. */
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    OUT(h, PUB_Q1("01"));
    FEED(h, PUBACK("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");
}

/* [MQTT-3.2.2-11] Maximum QoS 0: everything goes out at QoS 0. */
SCENARIO(publish_qos_downgrade_to_0)
{
    UP_WITH(h, "20 05 00 00 02 24 00", "CONNECTED sp=0 [mq=0]");
    EQ(mqttproto_client_server(h->c).maximum_qos, 0);
    EQ(pub(h, "a/b", "hi", 2, false), 0);
    EQ(pub(h, "a/b", "hi", 1, false), 0);
    OUT(h, PUB_Q0 " " PUB_Q0);
}

/* [MQTT-3.2.2-14] */
SCENARIO(publish_retain_refused)
{
    UP_WITH(h, "20 05 00 00 02 25 00", "CONNECTED sp=0 [ra=0]");
    EQ(pub(h, "a/b", "hi", 0, true), E(RETAIN_NOT_SUPPORTED));
    EQ(pub(h, "a/b", "hi", 2, true), E(RETAIN_NOT_SUPPORTED));
    NO_OUT(h);
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    OUT(h, PUB_Q1("01"));
    FEED(h, PUBACK("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");
}

/* [MQTT-3.2.2-15] Maximum Packet Size 20. */
SCENARIO(publish_too_large)
{
    UP_WITH(h, "20 08 00 00 05 27 00 00 00 14", "CONNECTED sp=0 [mps=20]");
    EQ(pub(h, "a/b", "xxxxxxxxxxxxx", 0, false), E(PACKET_TOO_LARGE));
    EQ(pub(h, "a/b", "xxxxxxxxxxx", 1, false), E(PACKET_TOO_LARGE));
    NO_OUT(h);
    EQ(pub(h, "a/b", "xxxxxxxxxxxx", 0, false), 0);
    OUT(h, "30 12 00 03 61 2f 62 00 78 78 78 78 78 78 78 78 78 78 78 78");
    EQ(pub(h, "a/b", "xxxxxxxxxx", 1, false), 1);
    OUT(h, "32 12 00 03 61 2f 62 00 01 00 78 78 78 78 78 78 78 78 78 78");
    FEED(h, PUBACK("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");
}

/*
 * [MQTT-3.4.2-2] [MQTT-3.4.2-3] [MQTT-3.5.2-2] [MQTT-3.5.2-3] [MQTT-3.6.2-2]
 * [MQTT-3.6.2-3] [MQTT-3.7.2-2] [MQTT-3.7.2-3] the client's PUBACK, PUBREC,
 * PUBREL and PUBCOMP carry no Reason String and no User Properties, with a
 * failure reason code too, so none exceeds the server's Maximum Packet Size
 * (8 here: the smallest QoS 2 PUBLISH fits, and every acknowledgement is 4 or
 * 5 bytes). The server's own acknowledgements may carry them.
 */
SCENARIO(acks_without_properties)
{
    h->settings.manual_ack = true;
    UP_WITH(h, "20 08 00 00 05 27 00 00 00 08", "CONNECTED sp=0 [mps=8]");
    /* PUBACK with a failure reason code. */
    FEED(h, "32 07 00 01 74 00 01 00 78");
    EV(h, "MESSAGE id=1 q=1 r=0 d=0 t=t p=x");
    EQ(mqttproto_client_acknowledge(h->c, 1, 0x87), 0);
    OUT(h, "40 03 00 01 87");
    /* PUBREC with a failure reason code, and with success. */
    FEED(h, "34 07 00 01 74 00 02 00 78 34 07 00 01 74 00 03 00 79");
    EV(h, "MESSAGE id=2 q=2 r=0 d=0 t=t p=x", "MESSAGE id=3 q=2 r=0 d=0 t=t p=y");
    EQ(mqttproto_client_acknowledge(h->c, 2, 0x80), 0);
    EQ(mqttproto_client_acknowledge(h->c, 3, 0x00), 0);
    OUT(h, "50 03 00 02 80 " PUBREC("03"));
    /* PUBCOMP with success, and 0x92 for an identifier not in use. */
    FEED(h, "62 08 00 03 00 04 1f 00 01 72");
    OUT(h, PUBCOMP("03"));
    FEED(h, PUBREL("09"));
    OUT(h, "70 03 00 09 92");
    /* PUBREL with success, and 0x92 for an identifier not in use. */
    EQ(pub(h, "t", "", 2, false), 1);
    OUT(h, "34 06 00 01 74 00 01 00");
    FEED(h, "50 0b 00 01 00 07 26 00 01 6b 00 01 76");
    OUT(h, PUBREL("01"));
    FEED(h, "50 02 00 09");
    OUT(h, "62 03 00 09 92");
    FEED(h, "70 08 00 01 00 04 1f 00 01 72");
    EV(h, "PUBLISH_COMPLETED id=1 rc=00 [rs=r]");
    EQ(mqttproto_client_get_state(h->c), ST(CONNECTED));
}

/* Server Receive Maximum 2: the rest wait in order; acknowledgements never wait. */
SCENARIO(publish_receive_maximum_queue)
{
    UP_WITH(h, "20 06 00 00 03 21 00 02", "CONNECTED sp=0 [rm=2]");
    EQ(mqttproto_client_server(h->c).receive_maximum, 2);
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    EQ(pub(h, "a/b", "hi", 2, false), 2);
    EQ(pub(h, "a/b", "hi", 1, false), 3);
    EQ(pub(h, "a/b", "hi", 2, false), 4);
    /* [MQTT-3.3.4-7] [MQTT-4.9.0-1] [MQTT-4.9.0-2] two in flight, no more */
    OUT(h, PUB_Q1("01") " " PUB_Q2("02"));
    NO_OUT(h);
    /* [MQTT-3.3.4-8] [MQTT-4.9.0-3] a PUBACK is not held back by the quota */
    FEED(h, PUB_Q1("07"));
    EV(h, "MESSAGE id=7 q=1 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBACK("07"));
    /* Nor a PUBREL; the QoS 2 flow still holds its slot. */
    FEED(h, PUBREC("02"));
    OUT(h, PUBREL("02"));
    FEED(h, PUBACK("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");
    OUT(h, PUB_Q1("03"));
    FEED(h, PUBCOMP("02"));
    EV(h, "PUBLISH_COMPLETED id=2 rc=00");
    OUT(h, PUB_Q2("04"));
    FEED(h, PUBACK("03"));
    EV(h, "PUBLISH_COMPLETED id=3 rc=00");
    NO_OUT(h);
    FEED(h, PUBREC("04") " " PUBCOMP("04"));
    EV(h, "PUBLISH_COMPLETED id=4 rc=00");
    OUT(h, PUBREL("04"));
}

SCENARIO(publish_queue_limit_messages)
{
    h->settings.max_queued_messages = 2;
    UP(h);
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    EQ(pub(h, "a/b", "hi", 2, false), 2);
    EQ(pub(h, "a/b", "hi", 1, false), E(QUEUE_FULL));
    OUT(h, PUB_Q1("01") " " PUB_Q2("02"));
    /* Sent but unacknowledged still counts. */
    EQ(pub(h, "a/b", "hi", 1, false), E(QUEUE_FULL));
    FEED(h, PUBACK("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");
    EQ(pub(h, "a/b", "hi", 1, false), 3);
    OUT(h, PUB_Q1("03"));
    FEED(h, PUBREC("02"));
    OUT(h, PUBREL("02"));
    FEED(h, PUBCOMP("02") " " PUBACK("03"));
    EV(h, "PUBLISH_COMPLETED id=2 rc=00", "PUBLISH_COMPLETED id=3 rc=00");
}

SCENARIO(publish_queue_limit_bytes)
{
    /* Each PUBLISH "a/b" "hi" at QoS 1 is 12 bytes. */
    h->settings.max_queued_bytes = 24;
    UP(h);
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    EQ(pub(h, "a/b", "hi", 1, false), 2);
    EQ(pub(h, "a/b", "hi", 1, false), E(QUEUE_FULL));
    OUT(h, PUB_Q1("01") " " PUB_Q1("02"));
    FEED(h, PUBACK("02"));
    EV(h, "PUBLISH_COMPLETED id=2 rc=00");
    EQ(pub(h, "a/b", "hi", 1, false), 3);
    OUT(h, PUB_Q1("03"));
    FEED(h, PUBACK("01") " " PUBACK("03"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00", "PUBLISH_COMPLETED id=3 rc=00");
}

/* [MQTT-2.2.1-3] PUBLISH, SUBSCRIBE and UNSUBSCRIBE share one identifier space. */
SCENARIO(packet_ids_shared)
{
    UP(h);
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    OUT(h, PUB_Q1("01"));
    EQ(sub1(h, "s", 1), 2);
    OUT(h, "82 07 00 02 00 00 01 73 01");
    EQ(pub(h, "a/b", "hi", 2, false), 3);
    OUT(h, PUB_Q2("03"));
    FEED(h, "90 04 00 02 00 01");
    EV(h, "SUBSCRIBE_ACK id=2 rcs=01");
    EQ(unsub1(h, "s"), 4);
    OUT(h, "a2 06 00 04 00 00 01 73");
    FEED(h, PUBACK("01") " " PUBREC("03"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");
    OUT(h, PUBREL("03"));
    FEED(h, PUBCOMP("03") " b0 04 00 04 00 00");
    EV(h, "PUBLISH_COMPLETED id=3 rc=00", "UNSUBSCRIBE_ACK id=4 rcs=00");
    /* Counting goes on; identifier 1 is free but not handed out again yet. */
    EQ(pub(h, "a/b", "hi", 1, false), 5);
    OUT(h, PUB_Q1("05"));
    FEED(h, PUBACK("05"));
    EV(h, "PUBLISH_COMPLETED id=5 rc=00");
}

/* Messages published before the connection exists wait for it: nothing may
   precede the CONNECT [MQTT-3.1.0-1]. */
SCENARIO(publish_before_connect)
{
    h_new(h);
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    NO_OUT(h);
    mqttproto_connect_options o = opts_default();
    EQ(mqttproto_client_connect(h->c, &o, h->now), 0);
    OUT_PREFIX(h, CONNECT_DEFAULT);
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    /* [MQTT-4.3.2-2] first transmission: DUP 0 */
    OUT(h, PUB_Q1("01"));
    FEED(h, PUBACK("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");
}

/*
 * A call refused for its arguments changes nothing: no packet identifier is
 * used up and the subscription table is as before.
 */
SCENARIO(refused_calls_change_nothing)
{
    UP(h);
    EQ(pub(h, "a/+", "hi", 1, false), E(TOPIC_NAME_INVALID));
    EQ(pub(h, "a/b", "hi", 2, true), 1);
    OUT(h, "35 0a 00 03 61 2f 62 00 01 00 68 69");
    mqttproto_subscription two[2] = {subopt("q", 0), subopt("a/#/b", 0)};
    EQ(mqttproto_client_subscribe(h->c, two, 2, NULL), E(TOPIC_FILTER_INVALID));
    NO_OUT(h);
    EQ(sub1(h, "q", 0), 2);
    OUT(h, "82 07 00 02 00 00 01 71 00");
    FEED(h, "90 04 00 02 00 00 " PUBREC("01"));
    EV(h, "SUBSCRIBE_ACK id=2 rcs=00");
    OUT(h, PUBREL("01"));
    FEED(h, PUBCOMP("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");
}

/* ---- outbound topic aliases ---- */

SCENARIO(outbound_topic_aliases)
{
    UP_WITH(h, "20 06 00 00 03 22 00 02", "CONNECTED sp=0 [tam=2]");
    EQ(pub(h, "a", "x", 0, false), 0);
    OUT(h, "30 08 00 01 61 03 23 00 01 78");
    EQ(pub(h, "b", "x", 0, false), 0);
    OUT(h, "30 08 00 01 62 03 23 00 02 78");
    /* [MQTT-3.2.2-17] [MQTT-3.3.2-9] no alias above the server's maximum of 2 */
    EQ(pub(h, "c", "x", 0, false), 0);
    OUT(h, "30 05 00 01 63 00 78");
    EQ(pub(h, "a", "x", 0, false), 0);
    OUT(h, "30 07 00 00 03 23 00 01 78");
    mqttproto_user_property up = {{"x", 1}, {"y", 1}};
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_user_properties(&p, PK(PUBLISH), &up, 1), 0);
    EQ(mqttproto_client_publish(h->c, STR("b"), BIN("x"), MQTTPROTO_QOS_AT_MOST_ONCE, false, &p),
       0);
    OUT(h, "30 0e 00 00 0a 23 00 02 26 00 01 78 00 01 79 78");
    EQ(pub(h, "c", "x", 0, false), 0);
    OUT(h, "30 05 00 01 63 00 78");
    EQ(pub(h, "a", "x", 1, false), 1);
    OUT(h, "32 09 00 00 00 01 03 23 00 01 78");
    FEED(h, PUBACK("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");

    /* [MQTT-3.3.2-7] a new connection starts with no aliases */
    EQ(mqttproto_client_connection_lost(h->c), 0);
    NO_EV(h);
    UP_WITH(h, "20 06 00 00 03 22 00 02", "CONNECTED sp=0 [tam=2]");
    EQ(pub(h, "c", "x", 0, false), 0);
    OUT(h, "30 08 00 01 63 03 23 00 01 78");
    EQ(pub(h, "a", "x", 0, false), 0);
    OUT(h, "30 08 00 01 61 03 23 00 02 78");

    /* [MQTT-3.2.2-18] no Topic Alias Maximum: no aliases */
    EQ(mqttproto_client_connection_lost(h->c), 0);
    UP(h);
    EQ(mqttproto_client_server(h->c).topic_alias_maximum, 0);
    EQ(pub(h, "c", "x", 0, false), 0);
    EQ(pub(h, "c", "x", 0, false), 0);
    OUT(h, "30 05 00 01 63 00 78 30 05 00 01 63 00 78");
}

/* The settings cap the aliases below the server's maximum. */
SCENARIO(outbound_topic_alias_settings_cap)
{
    h->settings.outbound_topic_alias_maximum = 1;
    UP_WITH(h, "20 06 00 00 03 22 00 05", "CONNECTED sp=0 [tam=5]");
    EQ(pub(h, "a", "x", 0, false), 0);
    EQ(pub(h, "b", "x", 0, false), 0);
    EQ(pub(h, "a", "x", 0, false), 0);
    EQ(pub(h, "b", "x", 0, false), 0);
    OUT(h, "30 08 00 01 61 03 23 00 01 78 30 05 00 01 62 00 78"
           " 30 07 00 00 03 23 00 01 78 30 05 00 01 62 00 78");
}

SCENARIO(outbound_topic_alias_disabled)
{
    h->settings.outbound_topic_alias_maximum = 0;
    UP_WITH(h, "20 06 00 00 03 22 00 05", "CONNECTED sp=0 [tam=5]");
    EQ(pub(h, "a", "x", 0, false), 0);
    EQ(pub(h, "a", "x", 0, false), 0);
    OUT(h, "30 05 00 01 61 00 78 30 05 00 01 61 00 78");
}

/* [MQTT-3.2.2-15] an alias that would make the packet too large is left out */
SCENARIO(outbound_topic_alias_too_large)
{
    UP_WITH(h, "20 0b 00 00 08 22 00 05 27 00 00 00 0a", "CONNECTED sp=0 [tam=5 mps=10]");
    EQ(pub(h, "a", "wxyz", 0, false), 0);
    OUT(h, "30 08 00 01 61 00 77 78 79 7a");
}

/*
 * [MQTT-4.3.3-7] a sent QoS 2 PUBLISH is not expired: its flow completes
 * long after the Message Expiry Interval. [MQTT-4.3.3-13] likewise for a
 * received one.
 */
SCENARIO(qos2_message_expiry)
{
    mqttproto_connect_options o = opts_default();
    o.keep_alive = 0;
    CONNECT(h, &o,
            "10 1b 00 04 4d 51 54 54 05 02 00 00 0b 21 00 40 22 00 10 27 00 10 00 00 00 03 63 69 "
            "64");
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_int(&p, PK(PUBLISH), PR(MESSAGE_EXPIRY_INTERVAL), 1), 0);
    EQ(mqttproto_client_publish(h->c, STR("a/b"), BIN("hi"), MQTTPROTO_QOS_EXACTLY_ONCE, false, &p),
       1);
    OUT(h, "34 0f 00 03 61 2f 62 00 01 05 02 00 00 00 01 68 69");
    h->now = 60000;
    EQ(mqttproto_client_handle_expiry(h->c, h->now), 0);
    NO_EV(h);
    NO_OUT(h);
    FEED(h, PUBREC("01"));
    OUT(h, PUBREL("01"));
    h->now = 120000;
    FEED(h, PUBCOMP("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");

    FEED(h, "34 0f 00 03 61 2f 62 00 02 05 02 00 00 00 01 68 69");
    EV(h, "MESSAGE id=2 q=2 r=0 d=0 t=a/b p=hi [mei=1]");
    OUT(h, PUBREC("02"));
    h->now = 180000;
    EQ(mqttproto_client_handle_expiry(h->c, h->now), 0);
    FEED(h, PUBREL("02"));
    OUT(h, PUBCOMP("02"));
}

/* ---- receiving ---- */

SCENARIO(inbound_qos0_qos1)
{
    UP(h);
    /* [MQTT-3.3.4-1] QoS 0: no answer */
    FEED(h, PUB_Q0);
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=hi");
    NO_OUT(h);
    FEED(h, "31 08 00 03 61 2f 62 00 68 69");
    EV(h, "MESSAGE id=0 q=0 r=1 d=0 t=a/b p=hi");
    FEED(h, "30 08 00 03 61 2f 62 00 00 ff");
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=hex:00ff");
    NO_OUT(h);
    /* [MQTT-4.3.2-4] [MQTT-2.2.1-5] [MQTT-4.5.0-2] QoS 1: PUBACK with its identifier */
    FEED(h, "32 0a 00 03 61 2f 62 00 05 00 68 69");
    EV(h, "MESSAGE id=5 q=1 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBACK("05"));
    /* [MQTT-4.3.2-5] after the PUBACK the identifier starts a new message */
    FEED(h, "3a 0a 00 03 61 2f 62 00 05 00 68 6f");
    EV(h, "MESSAGE id=5 q=1 r=0 d=1 t=a/b p=ho");
    OUT(h, PUBACK("05"));
    /* Every property reaches the event; repeated ones in order. */
    FEED(h, "30 32 00 03 61 2f 62 2a 01 01 02 00 00 00 0a 03 00 04 74 65 78 74 08 00 01 72"
            " 09 00 02 01 02 0b 01 0b ac 02 26 00 01 6b 00 01 76 26 00 01 6b 00 01 77 68 69");
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=hi [pfi=1 mei=10 ct=text rt=r cd=0102 sid=1 sid=300"
          " up=k:v up=k:w]");
    /* Several packets in one read, answered in order. */
    FEED(h, PUB_Q1("01") " " PUB_Q0 " " PUB_Q1("02"));
    EV(h, "MESSAGE id=1 q=1 r=0 d=0 t=a/b p=hi", "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=hi",
       "MESSAGE id=2 q=1 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBACK("01") " " PUBACK("02"));
}

SCENARIO(inbound_qos2)
{
    UP(h);
    /* [MQTT-4.3.3-8] PUBREC with the incoming identifier */
    FEED(h, PUB_Q2("07"));
    EV(h, "MESSAGE id=7 q=2 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBREC("07"));
    /* [MQTT-4.3.3-10] before PUBREL: PUBREC again, not delivered twice */
    FEED(h, PUB_Q2_DUP("07"));
    NO_EV(h);
    OUT(h, PUBREC("07"));
    FEED(h, PUB_Q2("07"));
    NO_EV(h);
    OUT(h, PUBREC("07"));
    /* [MQTT-4.3.3-11] */
    FEED(h, PUBREL("07"));
    NO_EV(h);
    OUT(h, PUBCOMP("07"));
    /* [MQTT-4.3.3-12] after PUBCOMP the identifier starts a new message */
    FEED(h, PUB_Q2("07"));
    EV(h, "MESSAGE id=7 q=2 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBREC("07"));
    FEED(h, PUBREL("07"));
    OUT(h, PUBCOMP("07"));
    /* Two flows, released in the other order. */
    FEED(h, PUB_Q2("01") " " PUB_Q2("02"));
    EV(h, "MESSAGE id=1 q=2 r=0 d=0 t=a/b p=hi", "MESSAGE id=2 q=2 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBREC("01") " " PUBREC("02"));
    FEED(h, PUBREL("02") " " PUBREL("01"));
    OUT(h, PUBCOMP("02") " " PUBCOMP("01"));
    /* PUBREL for an identifier not in use: PUBCOMP 0x92 */
    FEED(h, PUBREL("09"));
    NO_EV(h);
    OUT(h, "70 03 00 09 92");
    EQ(mqttproto_client_get_state(h->c), ST(CONNECTED));
}

/* [MQTT-4.3.3-10] a QoS 2 message waiting for PUBREL stays
   known across a resumed session. */
SCENARIO(inbound_qos2_across_reconnect)
{
    mqttproto_connect_options o = opts_session();
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    FEED(h, PUB_Q2("07"));
    EV(h, "MESSAGE id=7 q=2 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBREC("07"));
    EQ(mqttproto_client_connection_lost(h->c), 0);
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_SP);
    EV(h, "CONNECTED sp=1");
    NO_OUT(h);
    FEED(h, PUB_Q2_DUP("07"));
    NO_EV(h);
    OUT(h, PUBREC("07"));
    FEED(h, PUBREL("07"));
    OUT(h, PUBCOMP("07"));
}

/*
 * [MQTT-4.1.0-1] with Session Expiry Interval 0 the session ends with the
 * connection, but while it is open nothing of it is discarded: flows in both
 * directions outlive keep-alive rounds and a long silence, a QoS 2 message
 * re-sent before its PUBREL is still known, and every flow completes.
 */
SCENARIO(session_state_kept_while_connected)
{
    UP(h);
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    EQ(pub(h, "a/b", "hi", 2, false), 2);
    OUT(h, PUB_Q1("01") " " PUB_Q2("02"));
    FEED(h, PUB_Q2("07"));
    EV(h, "MESSAGE id=7 q=2 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBREC("07"));
    for (int i = 1; i <= 3; i++) {
        h->now = 1000 + (uint64_t)i * 60000;
        EQ(mqttproto_client_handle_expiry(h->c, h->now), 0);
        OUT(h, "c0 00");
        FEED(h, "d0 00");
    }
    FEED(h, PUB_Q2_DUP("07"));
    NO_EV(h);
    OUT(h, PUBREC("07"));
    FEED(h, PUBACK("01") " " PUBREC("02"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");
    OUT(h, PUBREL("02"));
    FEED(h, PUBCOMP("02") " " PUBREL("07"));
    EV(h, "PUBLISH_COMPLETED id=2 rc=00");
    OUT(h, PUBCOMP("07"));
}

/* Our Receive Maximum 2: QoS 2 counts until its PUBCOMP is sent. */
SCENARIO(inbound_receive_maximum_exceeded)
{
    h->settings.receive_maximum = 2;
    mqttproto_connect_options o = opts_default();
    CONNECT(h, &o,
            "10 1b 00 04 4d 51 54 54 05 02 00 3c 0b 21 00 02 22 00 10 27 00 10 00 00 00 03 63 69 "
            "64");
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    FEED(h, PUB_Q2("01") " " PUB_Q2("02"));
    EV(h, "MESSAGE id=1 q=2 r=0 d=0 t=a/b p=hi", "MESSAGE id=2 q=2 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBREC("01") " " PUBREC("02"));
    FEED(h, PUBREL("01"));
    OUT(h, PUBCOMP("01"));
    FEED(h, PUB_Q1("03") " " PUB_Q2("04"));
    EV(h, "MESSAGE id=3 q=1 r=0 d=0 t=a/b p=hi", "MESSAGE id=4 q=2 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBACK("03") " " PUBREC("04"));
    /* QoS 0 does not count. */
    FEED(h, PUB_Q0);
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=hi");
    /* 2 and 4 wait for PUBREL: a third is one too many. */
    FAIL_CASE(h, PUB_Q1("05"), E(RECEIVE_MAXIMUM_EXCEEDED), "e0 01 93");
}

SCENARIO(inbound_receive_maximum_manual_ack)
{
    h->settings.receive_maximum = 2;
    h->settings.manual_ack = true;
    mqttproto_connect_options o = opts_default();
    CONNECT(h, &o,
            "10 1b 00 04 4d 51 54 54 05 02 00 3c 0b 21 00 02 22 00 10 27 00 10 00 00 00 03 63 69 "
            "64");
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    FEED(h, PUB_Q1("01") " " PUB_Q1("02"));
    EV(h, "MESSAGE id=1 q=1 r=0 d=0 t=a/b p=hi", "MESSAGE id=2 q=1 r=0 d=0 t=a/b p=hi");
    NO_OUT(h);
    FEED_ERR(h, PUB_Q1("03"), E(RECEIVE_MAXIMUM_EXCEEDED));
    NO_EV(h);
    FAILED(h, E(RECEIVE_MAXIMUM_EXCEEDED), "e0 01 93");
}

SCENARIO(manual_ack_order)
{
    h->settings.manual_ack = true;
    UP(h);
    FEED(h, "32 07 00 01 61 00 01 00 31 34 07 00 01 61 00 02 00 32 32 07 00 01 61 00 03 00 33");
    EV(h, "MESSAGE id=1 q=1 r=0 d=0 t=a p=1", "MESSAGE id=2 q=2 r=0 d=0 t=a p=2",
       "MESSAGE id=3 q=1 r=0 d=0 t=a p=3");
    NO_OUT(h);
    /* [MQTT-4.6.0-2] the PUBACK for 3 waits for the earlier messages */
    EQ(mqttproto_client_acknowledge(h->c, 3, 0x00), 0);
    NO_OUT(h);
    EQ(mqttproto_client_acknowledge(h->c, 1, 0x10), 0);
    OUT(h, "40 03 00 01 10");
    EQ(mqttproto_client_acknowledge(h->c, 1, 0x00), E(UNKNOWN_PACKET_ID));
    /* [MQTT-4.6.0-3] then the PUBREC, then the waiting PUBACK */
    EQ(mqttproto_client_acknowledge(h->c, 2, 0x00), 0);
    OUT(h, PUBREC("02") " " PUBACK("03"));
    /* PUBCOMP needs no application decision. */
    FEED(h, PUBREL("02"));
    OUT(h, PUBCOMP("02"));
    EQ(mqttproto_client_acknowledge(h->c, 99, 0x00), E(UNKNOWN_PACKET_ID));

    FEED(h, "32 07 00 01 61 00 04 00 34");
    EV(h, "MESSAGE id=4 q=1 r=0 d=0 t=a p=4");
    EQ(mqttproto_client_acknowledge(h->c, 4, 0x04), E(INVALID_ARGUMENT));
    NO_OUT(h);
    EQ(mqttproto_client_acknowledge(h->c, 4, 0x87), 0);
    OUT(h, "40 03 00 04 87");

    /* [MQTT-4.3.3-9] after PUBREC 0x80 the identifier starts a new message */
    FEED(h, "34 07 00 01 61 00 05 00 35");
    EV(h, "MESSAGE id=5 q=2 r=0 d=0 t=a p=5");
    EQ(mqttproto_client_acknowledge(h->c, 5, 0x80), 0);
    OUT(h, "50 03 00 05 80");
    FEED(h, "34 07 00 01 61 00 05 00 36");
    EV(h, "MESSAGE id=5 q=2 r=0 d=0 t=a p=6");
    EQ(mqttproto_client_acknowledge(h->c, 5, 0x00), 0);
    OUT(h, PUBREC("05"));
    FEED(h, PUBREL("05"));
    OUT(h, PUBCOMP("05"));
}

SCENARIO(acknowledge_in_auto_mode)
{
    UP(h);
    EQ(mqttproto_client_acknowledge(h->c, 1, 0x00), E(INVALID_ARGUMENT));
    FEED(h, PUB_Q1("01"));
    EV(h, "MESSAGE id=1 q=1 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBACK("01"));
    EQ(mqttproto_client_acknowledge(h->c, 1, 0x00), E(INVALID_ARGUMENT));
    NO_OUT(h);
}

/* ---- inbound topic aliases ---- */

SCENARIO(inbound_topic_aliases)
{
    UP(h);
    FEED(h, "30 0a 00 03 61 2f 62 03 23 00 01 78");
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=x");
    FEED(h, "30 07 00 00 03 23 00 01 79");
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=y");
    /* A topic with a known alias replaces the mapping. */
    FEED(h, "30 08 00 01 63 03 23 00 01 7a");
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=c p=z");
    FEED(h, "30 07 00 00 03 23 00 01 77");
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=c p=w");
    /* [MQTT-3.3.2-10] every alias up to the maximum sent (16) is accepted */
    FEED(h, "30 08 00 01 64 03 23 00 10 78 30 07 00 00 03 23 00 10 79");
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=d p=x", "MESSAGE id=0 q=0 r=0 d=0 t=d p=y");
    FEED(h, "32 09 00 00 00 07 03 23 00 01 71");
    EV(h, "MESSAGE id=7 q=1 r=0 d=0 t=c p=q");
    OUT(h, PUBACK("07"));
}

SCENARIO(inbound_topic_alias_zero)
{
    UP(h);
    FAIL_CASE(h, "30 0a 00 03 61 2f 62 03 23 00 00 78", E(TOPIC_ALIAS_INVALID), "e0 01 94");
}

/* [MQTT-3.1.2-26] an alias above the Topic Alias Maximum sent (16). */
SCENARIO(inbound_topic_alias_over_maximum)
{
    UP(h);
    FAIL_CASE(h, "30 0a 00 03 61 2f 62 03 23 00 11 78", E(TOPIC_ALIAS_OUT_OF_RANGE), "e0 01 94");
}

SCENARIO(inbound_topic_alias_unknown)
{
    UP(h);
    FEED(h, "30 0a 00 03 61 2f 62 03 23 00 01 78");
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=x");
    FAIL_CASE(h, "30 07 00 00 03 23 00 02 78", E(TOPIC_ALIAS_UNKNOWN), "e0 01 82");
}

/* Topic Alias Maximum 0 is not sent, and any alias is out of range
   [MQTT-3.1.2-26]. */
SCENARIO(inbound_topic_alias_refused)
{
    h->settings.topic_alias_maximum = 0;
    mqttproto_connect_options o = opts_default();
    CONNECT(h, &o, "10 18 00 04 4d 51 54 54 05 02 00 3c 08 21 00 40 27 00 10 00 00 00 03 63 69 64");
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    FAIL_CASE(h, "30 0a 00 03 61 2f 62 03 23 00 01 78", E(TOPIC_ALIAS_OUT_OF_RANGE), "e0 01 94");
}

/* [MQTT-3.1.2-26] [MQTT-3.3.2-10] the Topic Alias Maximum sent in CONNECT
   (2, below the settings' 16) is the one enforced. */
SCENARIO(inbound_topic_alias_over_connect_option)
{
    mqttproto_connect_options o = opts_default();
    o.topic_alias_maximum = 2;
    CONNECT(h, &o,
            "10 1b 00 04 4d 51 54 54 05 02 00 3c 0b 21 00 40 22 00 02 27 00 10 00 00 00 03 63 69 "
            "64");
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    FEED(h, "30 0a 00 03 61 2f 62 03 23 00 02 78");
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=x");
    FAIL_CASE(h, "30 0a 00 03 61 2f 62 03 23 00 03 78", E(TOPIC_ALIAS_OUT_OF_RANGE), "e0 01 94");
}

/* [MQTT-3.3.2-7] the server's aliases do not survive the connection */
SCENARIO(inbound_topic_alias_reset)
{
    UP(h);
    FEED(h, "30 0a 00 03 61 2f 62 03 23 00 01 78");
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=x");
    EQ(mqttproto_client_connection_lost(h->c), 0);
    UP(h);
    FAIL_CASE(h, "30 07 00 00 03 23 00 01 79", E(TOPIC_ALIAS_UNKNOWN), "e0 01 82");
}

/* ---- subscriptions ---- */

SCENARIO(subscribe_reference_counting)
{
    UP(h);
    mqttproto_subscription two[2] = {subopt("a/+", 1), subopt("b", 2)};
    two[1].no_local = true;
    two[1].retain_as_published = true;
    two[1].retain_handling = MQTTPROTO_RETAIN_DO_NOT_SEND;
    EQ(mqttproto_client_subscribe(h->c, two, 2, NULL), 1);
    OUT(h, "82 0d 00 01 00 00 03 61 2f 2b 01 00 01 62 2e");
    FEED(h, "90 05 00 01 00 01 02");
    EV(h, "SUBSCRIBE_ACK id=1 rcs=01,02");
    /* Already subscribed: only the count rises. */
    EQ(sub1(h, "a/+", 0), 0);
    NO_OUT(h);
    mqttproto_subscription mixed[2] = {subopt("a/+", 2), subopt("c", 0)};
    EQ(mqttproto_client_subscribe(h->c, mixed, 2, NULL), 2);
    OUT(h, "82 07 00 02 00 00 01 63 00");
    /* A refused filter leaves the table. */
    FEED(h, "90 04 00 02 00 87");
    EV(h, "SUBSCRIBE_ACK id=2 rcs=87");
    EQ(unsub1(h, "c"), E(NOT_SUBSCRIBED));
    /* One unknown filter: the call changes nothing. */
    mqttproto_str bad[2] = {STR("a/+"), STR("zz")};
    EQ(mqttproto_client_unsubscribe(h->c, bad, 2, NULL), E(NOT_SUBSCRIBED));
    NO_OUT(h);
    /* a/+ has a count of 3. */
    EQ(unsub1(h, "a/+"), 0);
    EQ(unsub1(h, "a/+"), 0);
    NO_OUT(h);
    mqttproto_str both[2] = {STR("a/+"), STR("b")};
    EQ(mqttproto_client_unsubscribe(h->c, both, 2, NULL), 3);
    OUT(h, "a2 0b 00 03 00 00 03 61 2f 2b 00 01 62");
    FEED(h, "b0 05 00 03 00 00 11");
    EV(h, "UNSUBSCRIBE_ACK id=3 rcs=00,11");
    EQ(unsub1(h, "b"), E(NOT_SUBSCRIBED));
    EQ(unsub1(h, "a/+"), E(NOT_SUBSCRIBED));
    /* Gone: a new SUBSCRIBE. */
    EQ(sub1(h, "a/+", 0), 4);
    OUT(h, "82 09 00 04 00 00 03 61 2f 2b 00");
    FEED(h, "90 04 00 04 00 00");
    EV(h, "SUBSCRIBE_ACK id=4 rcs=00");
}

SCENARIO(subscribe_properties_and_arguments)
{
    UP(h);
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_int(&p, PK(SUBSCRIBE), PR(SUBSCRIPTION_IDENTIFIER), 5), 0);
    mqttproto_subscription x = subopt("x", 0);
    EQ(mqttproto_client_subscribe(h->c, &x, 1, &p), 1);
    OUT(h, "82 09 00 01 02 0b 05 00 01 78 00");
    FEED(h, "90 09 00 01 05 1f 00 02 6f 6b 00");
    EV(h, "SUBSCRIBE_ACK id=1 rcs=00 [rs=ok]");

    EQ(mqttproto_client_subscribe(h->c, &x, 0, NULL), E(INVALID_ARGUMENT));
    EQ(mqttproto_client_subscribe(h->c, NULL, 1, NULL), E(INVALID_ARGUMENT));
    mqttproto_str fx = STR("x");
    EQ(mqttproto_client_unsubscribe(h->c, &fx, 0, NULL), E(INVALID_ARGUMENT));
    EQ(mqttproto_client_unsubscribe(h->c, NULL, 1, NULL), E(INVALID_ARGUMENT));
    NO_OUT(h);
    /* No identifier was used up. */
    EQ(sub1(h, "y", 0), 2);
    OUT(h, "82 07 00 02 00 00 01 79 00");
    FEED(h, "90 04 00 02 00 00");
    EV(h, "SUBSCRIBE_ACK id=2 rcs=00");

    mqttproto_user_property up = {{"k", 1}, {"v", 1}};
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_user_properties(&p, PK(UNSUBSCRIBE), &up, 1), 0);
    EQ(mqttproto_client_unsubscribe(h->c, &fx, 1, &p), 3);
    OUT(h, "a2 0d 00 03 07 26 00 01 6b 00 01 76 00 01 78");
    FEED(h, "b0 04 00 03 00 00");
    EV(h, "UNSUBSCRIBE_ACK id=3 rcs=00");
}

/* [MQTT-3.8.4-6] one reason code per filter: fewer is a Protocol Error. */
SCENARIO(suback_count_mismatch)
{
    UP(h);
    mqttproto_subscription two[2] = {subopt("a", 0), subopt("b", 0)};
    EQ(mqttproto_client_subscribe(h->c, two, 2, NULL), 1);
    OUT(h, "82 0b 00 01 00 00 01 61 00 00 01 62 00");
    FAIL_CASE(h, "90 04 00 01 00 00", E(REASON_CODE_COUNT_MISMATCH), "e0 01 82");
    /* The SUBSCRIBE never got a valid answer. */
    EV(h, "REQUEST_FAILED id=1 err=CONNECTION_LOST");
}

/* [MQTT-3.8.4-6] and more too. */
SCENARIO(suback_count_too_many)
{
    UP(h);
    EQ(sub1(h, "a", 0), 1);
    OUT(h, "82 07 00 01 00 00 01 61 00");
    FAIL_CASE(h, "90 05 00 01 00 00 00", E(REASON_CODE_COUNT_MISMATCH), "e0 01 82");
    EV(h, "REQUEST_FAILED id=1 err=CONNECTION_LOST");
}

SCENARIO(unsuback_count_mismatch)
{
    UP(h);
    mqttproto_subscription two[2] = {subopt("a", 0), subopt("b", 0)};
    EQ(mqttproto_client_subscribe(h->c, two, 2, NULL), 1);
    OUT(h, "82 0b 00 01 00 00 01 61 00 00 01 62 00");
    FEED(h, "90 05 00 01 00 00 00");
    EV(h, "SUBSCRIBE_ACK id=1 rcs=00,00");
    mqttproto_str f[2] = {STR("a"), STR("b")};
    EQ(mqttproto_client_unsubscribe(h->c, f, 2, NULL), 2);
    OUT(h, "a2 09 00 02 00 00 01 61 00 01 62");
    FAIL_CASE(h, "b0 04 00 02 00 00", E(REASON_CODE_COUNT_MISMATCH), "e0 01 82");
    EV(h, "REQUEST_FAILED id=2 err=CONNECTION_LOST");
}

/* [MQTT-3.9.3-1] the SUBACK's reason codes follow the order of the filters:
   the second of three is refused and only it leaves the table. */
SCENARIO(suback_reason_code_order)
{
    UP(h);
    mqttproto_subscription three[3] = {subopt("a", 0), subopt("b", 1), subopt("c", 2)};
    EQ(mqttproto_client_subscribe(h->c, three, 3, NULL), 1);
    OUT(h, "82 0f 00 01 00 00 01 61 00 00 01 62 01 00 01 63 02");
    FEED(h, "90 06 00 01 00 00 87 02");
    EV(h, "SUBSCRIBE_ACK id=1 rcs=00,87,02");
    EQ(sub1(h, "a", 0), 0);
    EQ(sub1(h, "c", 0), 0);
    NO_OUT(h);
    EQ(unsub1(h, "b"), E(NOT_SUBSCRIBED));
    EQ(sub1(h, "b", 1), 2);
    OUT(h, "82 07 00 02 00 00 01 62 01");
    FEED(h, "90 04 00 02 00 01");
    EV(h, "SUBSCRIBE_ACK id=2 rcs=01");
}

/*
 * Wildcard Subscription Available 0, Subscription Identifier Available 0 and
 * Shared Subscription Available 0 (sections 3.2.2.3.11 to 3.2.2.3.13): what
 * the server does not support is refused locally and never sent; the call
 * changes nothing.
 */
SCENARIO(subscribe_features_unavailable)
{
    UP_WITH(h, "20 09 00 00 06 28 00 29 00 2a 00", "CONNECTED sp=0 [wsa=0 sia=0 ssa=0]");
    EQ(sub1(h, "a/+", 0), E(WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED));
    EQ(sub1(h, "#", 0), E(WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED));
    EQ(sub1(h, "+", 0), E(WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED));
    EQ(sub1(h, "$share/g/a/b", 0), E(SHARED_SUBSCRIPTIONS_NOT_SUPPORTED));
    /* The filter's syntax is checked first. */
    EQ(sub1(h, "a/#/b", 0), E(TOPIC_FILTER_INVALID));
    /* One filter the server cannot take refuses the whole call. */
    mqttproto_subscription mixed[2] = {subopt("a/b", 0), subopt("a/#", 0)};
    EQ(mqttproto_client_subscribe(h->c, mixed, 2, NULL), E(WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED));
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_int(&p, PK(SUBSCRIBE), PR(SUBSCRIPTION_IDENTIFIER), 5), 0);
    mqttproto_subscription plain = subopt("a/b", 0);
    EQ(mqttproto_client_subscribe(h->c, &plain, 1, &p), E(SUBSCRIPTION_IDS_NOT_SUPPORTED));
    NO_OUT(h);
    EQ(unsub1(h, "a/b"), E(NOT_SUBSCRIBED));
    /* Nothing was used up: the first identifier is still 1. */
    mqttproto_user_property up = {{"k", 1}, {"v", 1}};
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_user_properties(&p, PK(SUBSCRIBE), &up, 1), 0);
    EQ(mqttproto_client_subscribe(h->c, &plain, 1, &p), 1);
    OUT(h, "82 10 00 01 07 26 00 01 6b 00 01 76 00 03 61 2f 62 00");
    FEED(h, "90 04 00 01 00 00");
    EV(h, "SUBSCRIBE_ACK id=1 rcs=00");
    /* Already subscribed: the count rises, and the check still applies. */
    EQ(sub1(h, "a/b", 0), 0);
    NO_OUT(h);
}

/* Each feature on its own: only what the server lacks is refused. */
SCENARIO(subscribe_feature_each)
{
    mqttproto_properties sid;
    mqttproto_properties_init(&sid);
    EQ(mqttproto_properties_set_int(&sid, PK(SUBSCRIBE), PR(SUBSCRIPTION_IDENTIFIER), 5), 0);
    mqttproto_subscription shared_wild = subopt("$share/g/a/+", 0);
    mqttproto_subscription shared = subopt("$share/g/a/b", 0);
    mqttproto_subscription wild = subopt("a/#", 0);

    /* No wildcards: a shared subscription without one, and an identifier, go. */
    UP_WITH(h, "20 05 00 00 02 28 00", "CONNECTED sp=0 [wsa=0]");
    EQ(mqttproto_client_subscribe(h->c, &shared_wild, 1, NULL),
       E(WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED));
    EQ(mqttproto_client_subscribe(h->c, &shared, 1, &sid), 1);
    OUT(h, "82 14 00 01 02 0b 05 00 0c 24 73 68 61 72 65 2f 67 2f 61 2f 62 00");
    FEED(h, "90 04 00 01 00 00");
    EV(h, "SUBSCRIBE_ACK id=1 rcs=00");
    h_end(h);

    /* No shared subscriptions: wildcards and identifiers go. */
    UP_WITH(h, "20 05 00 00 02 2a 00", "CONNECTED sp=0 [ssa=0]");
    EQ(mqttproto_client_subscribe(h->c, &shared, 1, NULL), E(SHARED_SUBSCRIPTIONS_NOT_SUPPORTED));
    EQ(mqttproto_client_subscribe(h->c, &wild, 1, &sid), 1);
    OUT(h, "82 0b 00 01 02 0b 05 00 03 61 2f 23 00");
    FEED(h, "90 04 00 01 00 00");
    EV(h, "SUBSCRIBE_ACK id=1 rcs=00");
    h_end(h);

    /* No Subscription Identifiers: wildcards and shared filters go. */
    UP_WITH(h, "20 05 00 00 02 29 00", "CONNECTED sp=0 [sia=0]");
    EQ(mqttproto_client_subscribe(h->c, &wild, 1, &sid), E(SUBSCRIPTION_IDS_NOT_SUPPORTED));
    mqttproto_subscription both[2] = {wild, shared_wild};
    EQ(mqttproto_client_subscribe(h->c, both, 2, NULL), 1);
    OUT(h, "82 18 00 01 00 00 03 61 2f 23 00 00 0c 24 73 68 61 72 65 2f 67 2f 61 2f 2b 00");
    FEED(h, "90 05 00 01 00 00 00");
    EV(h, "SUBSCRIBE_ACK id=1 rcs=00,00");
}

/* SUBSCRIBE and UNSUBSCRIBE without an answer fail when the connection ends. */
SCENARIO(pending_requests_lost)
{
    UP(h);
    EQ(sub1(h, "u", 0), 1);
    OUT(h, "82 07 00 01 00 00 01 75 00");
    FEED(h, "90 04 00 01 00 00");
    EV(h, "SUBSCRIBE_ACK id=1 rcs=00");
    EQ(sub1(h, "s", 1), 2);
    EQ(unsub1(h, "u"), 3);
    OUT(h, "82 07 00 02 00 00 01 73 01 a2 06 00 03 00 00 01 75");
    EQ(mqttproto_client_connection_lost(h->c), 0);
    EV(h, "REQUEST_FAILED id=2 err=CONNECTION_LOST", "REQUEST_FAILED id=3 err=CONNECTION_LOST");
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));
    NO_OUT(h);
}

/* ---- keep alive ---- */

SCENARIO(keep_alive_ping)
{
    UP(h); /* the CONNECT was sent at 1000 */
    /* [MQTT-3.1.2-20] */
    EQ_U64(mqttproto_client_get_expiry(h->c), 61000);
    /* Receiving does not count as sending. */
    h->now = 10000;
    FEED(h, PUB_Q0);
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=hi");
    EQ_U64(mqttproto_client_get_expiry(h->c), 61000);
    h->now = 20000;
    FEED(h, PUB_Q1("01"));
    EV(h, "MESSAGE id=1 q=1 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBACK("01"));
    EQ_U64(mqttproto_client_get_expiry(h->c), 80000);
    EQ(mqttproto_client_handle_expiry(h->c, 79999), 0);
    NO_OUT(h);
    EQ_U64(mqttproto_client_get_expiry(h->c), 80000);
    EQ(mqttproto_client_handle_expiry(h->c, 80000), 0);
    OUT(h, "c0 00");
    /* The PINGRESP deadline: one keep-alive interval. */
    EQ_U64(mqttproto_client_get_expiry(h->c), 140000);
    h->now = 81000;
    FEED(h, "d0 00");
    NO_EV(h);
    NO_OUT(h);
    EQ(mqttproto_client_get_state(h->c), ST(CONNECTED));
    EQ(mqttproto_client_handle_expiry(h->c, 90000), 0);
    NO_OUT(h);
    EQ(pub(h, "a/b", "hi", 0, false), 0);
    OUT(h, PUB_Q0);
    EQ_U64(mqttproto_client_get_expiry(h->c), 150000);
    EQ(mqttproto_client_handle_expiry(h->c, 150000), 0);
    OUT(h, "c0 00");
    h->now = 150001;
    FEED(h, "d0 00");
    EQ_U64(mqttproto_client_get_expiry(h->c), 210000);
}

SCENARIO(keep_alive_timeout)
{
    h->settings.pingresp_timeout_ms = 5000;
    UP(h);
    EQ(mqttproto_client_handle_expiry(h->c, 61000), 0);
    OUT(h, "c0 00");
    EQ_U64(mqttproto_client_get_expiry(h->c), 66000);
    EQ(mqttproto_client_handle_expiry(h->c, 65999), 0);
    NO_OUT(h);
    EQ(mqttproto_client_handle_expiry(h->c, 66000), E(KEEP_ALIVE_TIMEOUT));
    EQ(mqttproto_client_get_state(h->c), ST(FAILED));
    EQ(mqttproto_client_error(h->c), E(KEEP_ALIVE_TIMEOUT));
    /* The server is gone: no DISCONNECT (0x8D is the server's to send). */
    NO_OUT(h);
    h->now = 66000;
    FEED_ERR(h, "d0 00", E(KEEP_ALIVE_TIMEOUT));
    EQ(mqttproto_client_connection_lost(h->c), 0);
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));
    EQ(mqttproto_client_error(h->c), 0);
}

SCENARIO(keep_alive_timeout_default)
{
    UP(h);
    EQ(mqttproto_client_handle_expiry(h->c, 61000), 0);
    OUT(h, "c0 00");
    EQ_U64(mqttproto_client_get_expiry(h->c), 121000);
    EQ(mqttproto_client_handle_expiry(h->c, 120999), 0);
    NO_OUT(h);
    EQ(mqttproto_client_handle_expiry(h->c, 121000), E(KEEP_ALIVE_TIMEOUT));
    EQ(mqttproto_client_get_state(h->c), ST(FAILED));
    NO_OUT(h);
    EQ(mqttproto_client_connection_lost(h->c), 0);
}

/* [MQTT-3.1.2-21] [MQTT-3.2.2-21] */
SCENARIO(keep_alive_server_override)
{
    UP_WITH(h, "20 06 00 00 03 13 00 05", "CONNECTED sp=0 [ska=5]");
    EQ(mqttproto_client_server(h->c).keep_alive, 5);
    EQ_U64(mqttproto_client_get_expiry(h->c), 6000);
    EQ(mqttproto_client_handle_expiry(h->c, 6000), 0);
    OUT(h, "c0 00");
    EQ_U64(mqttproto_client_get_expiry(h->c), 11000);
    h->now = 6500;
    FEED(h, "d0 00");
    EQ_U64(mqttproto_client_get_expiry(h->c), 11000);
    EQ(mqttproto_client_handle_expiry(h->c, 11000), 0);
    OUT(h, "c0 00");
    h->now = 11500;
    FEED(h, "d0 00");
    EQ_U64(mqttproto_client_get_expiry(h->c), 16000);
}

/* [MQTT-3.1.2-21] Server Keep Alive 0 switches keep alive off. */
SCENARIO(keep_alive_server_zero)
{
    UP_WITH(h, "20 06 00 00 03 13 00 00", "CONNECTED sp=0 [ska=0]");
    EQ(mqttproto_client_server(h->c).keep_alive, 0);
    EQ_U64(mqttproto_client_get_expiry(h->c), UINT64_MAX);
    EQ(mqttproto_client_handle_expiry(h->c, 1000000), 0);
    NO_OUT(h);
}

/* ---- sessions ---- */

SCENARIO(session_resume)
{
    mqttproto_connect_options o = opts_session();
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    EQ(sub1(h, "s", 1), 1);
    OUT(h, "82 07 00 01 00 00 01 73 01");
    FEED(h, "90 04 00 01 00 01");
    EV(h, "SUBSCRIBE_ACK id=1 rcs=01");
    EQ(pub(h, "a/b", "hi", 1, false), 2);
    EQ(pub(h, "a/b", "hi", 2, false), 3);
    EQ(pub(h, "a/b", "hi", 2, false), 4);
    EQ(pub(h, "a/b", "hi", 1, false), 5);
    OUT(h, PUB_Q1("02") " " PUB_Q2("03") " " PUB_Q2("04") " " PUB_Q1("05"));
    FEED(h, PUBREC("03"));
    OUT(h, PUBREL("03"));
    FEED(h, PUBACK("05"));
    EV(h, "PUBLISH_COMPLETED id=5 rc=00");

    /* [MQTT-3.1.2-23] the session outlives the connection */
    EQ(mqttproto_client_connection_lost(h->c), 0);
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));
    NO_EV(h);
    NO_OUT(h);
    /* [MQTT-3.1.0-1] nothing is re-sent before the CONNECT and its CONNACK */
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_SP);
    EV(h, "CONNECTED sp=1");
    /* [MQTT-4.4.0-1] [MQTT-3.3.1-1] [MQTT-4.6.0-1] original identifiers and
       order, PUBLISH with DUP; [MQTT-4.3.3-6] 3 is past PUBREC: PUBREL only */
    OUT(h, PUB_Q1_DUP("02") " " PUBREL("03") " " PUB_Q2_DUP("04"));
    /* The subscription table survived with the session. */
    EQ(sub1(h, "s", 1), 0);
    NO_OUT(h);
    FEED(h, PUBACK("02") " " PUBCOMP("03") " " PUBREC("04"));
    EV(h, "PUBLISH_COMPLETED id=2 rc=00", "PUBLISH_COMPLETED id=3 rc=00");
    OUT(h, PUBREL("04"));
    FEED(h, PUBCOMP("04"));
    EV(h, "PUBLISH_COMPLETED id=4 rc=00");
    NO_OUT(h);
    EQ(pub(h, "a/b", "hi", 1, false), 6);
    OUT(h, PUB_Q1("06"));
    FEED(h, PUBACK("06"));
    EV(h, "PUBLISH_COMPLETED id=6 rc=00");
}

/* [MQTT-4.4.0-1] [MQTT-4.6.0-4] PUBRELs re-sent in the order their PUBRECs came */
SCENARIO(session_resume_pubrels)
{
    mqttproto_connect_options o = opts_session();
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    EQ(pub(h, "a/b", "hi", 2, false), 1);
    EQ(pub(h, "a/b", "hi", 2, false), 2);
    OUT(h, PUB_Q2("01") " " PUB_Q2("02"));
    FEED(h, PUBREC("01") " " PUBREC("02"));
    OUT(h, PUBREL("01") " " PUBREL("02"));
    EQ(mqttproto_client_connection_lost(h->c), 0);
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_SP);
    EV(h, "CONNECTED sp=1");
    OUT(h, PUBREL("01") " " PUBREL("02"));
    FEED(h, PUBCOMP("01") " " PUBCOMP("02"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00", "PUBLISH_COMPLETED id=2 rc=00");
}

/* A message queued behind the Receive Maximum and never sent goes out after
   the re-sent one, without DUP [MQTT-3.3.1-3] [MQTT-4.3.2-2]. */
SCENARIO(session_resume_unsent)
{
    mqttproto_connect_options o = opts_session();
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, "20 06 00 00 03 21 00 01");
    EV(h, "CONNECTED sp=0 [rm=1]");
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    EQ(pub(h, "a/b", "hi", 1, false), 2);
    OUT(h, PUB_Q1("01"));
    EQ(mqttproto_client_connection_lost(h->c), 0);
    EQ(mqttproto_client_connect(h->c, &o, h->now), 0);
    OUT_PREFIX(h, CONNECT_SESSION);
    FEED(h, CONNACK_SP);
    EV(h, "CONNECTED sp=1");
    EQ(mqttproto_client_server(h->c).receive_maximum, 65535);
    OUT(h, PUB_Q1_DUP("01") " " PUB_Q1("02"));
    FEED(h, PUBACK("01") " " PUBACK("02"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00", "PUBLISH_COMPLETED id=2 rc=00");
}

/* [MQTT-3.2.2-11] A QoS 2 message queued before the CONNACK went out at the
   server's Maximum QoS 1; every retransmission keeps QoS 1 with the same
   identifier [MQTT-4.4.0-1] [MQTT-3.3.1-1], whatever the next CONNACK says. */
SCENARIO(session_resume_lowered_qos)
{
    mqttproto_connect_options o = opts_session();
    CONNECT(h, &o, CONNECT_SESSION);
    EQ(pub(h, "a/b", "hi", 2, false), 1);
    FEED(h, "20 05 00 00 02 24 01");
    EV(h, "CONNECTED sp=0 [mq=1]");
    OUT(h, PUB_Q1("01"));
    EQ(mqttproto_client_connection_lost(h->c), 0);
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, "20 05 01 00 02 24 01");
    EV(h, "CONNECTED sp=1 [mq=1]");
    OUT(h, PUB_Q1_DUP("01"));
    EQ(mqttproto_client_connection_lost(h->c), 0);
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_SP);
    EV(h, "CONNECTED sp=1");
    OUT(h, PUB_Q1_DUP("01"));
    FEED(h, PUBACK("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");
}

/* [MQTT-3.2.2-5] Session Present 0: the unfinished flows and the
   subscriptions are gone; nothing is re-sent [MQTT-4.4.0-1]. */
SCENARIO(session_lost)
{
    mqttproto_connect_options o = opts_session();
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    EQ(sub1(h, "s", 1), 1);
    OUT(h, "82 07 00 01 00 00 01 73 01");
    FEED(h, "90 04 00 01 00 01");
    EV(h, "SUBSCRIBE_ACK id=1 rcs=01");
    EQ(pub(h, "a/b", "hi", 1, false), 2);
    EQ(pub(h, "a/b", "hi", 2, false), 3);
    OUT(h, PUB_Q1("02") " " PUB_Q2("03"));
    FEED(h, PUBREC("03"));
    OUT(h, PUBREL("03"));
    EQ(mqttproto_client_connection_lost(h->c), 0);
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_OK);
    /* Whether CONNECTED comes before or after the failures is left open. */
    EV_ANY_ORDER(h, "CONNECTED sp=0", "PUBLISH_FAILED id=2 rc=00 err=SESSION_LOST",
                 "PUBLISH_FAILED id=3 rc=00 err=SESSION_LOST");
    NO_OUT(h);
    EQ(sub1(h, "s", 1), 4);
    OUT(h, "82 07 00 04 00 00 01 73 01");
    /* The server's PUBCOMP for the old flow is now for an unknown identifier. */
    FAIL_CASE(h, PUBCOMP("03"), E(UNKNOWN_PACKET_ID), "e0 01 82");
    EV(h, "REQUEST_FAILED id=4 err=CONNECTION_LOST");
}

/* [MQTT-3.1.2-4] Clean Start 1 throws the session away at connect(). */
SCENARIO(clean_start_discards_session)
{
    mqttproto_connect_options o = opts_session();
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    EQ(sub1(h, "s", 0), 1);
    OUT(h, "82 07 00 01 00 00 01 73 00");
    FEED(h, "90 04 00 01 00 00");
    EV(h, "SUBSCRIBE_ACK id=1 rcs=00");
    EQ(pub(h, "a/b", "hi", 1, false), 2);
    OUT(h, PUB_Q1("02"));
    EQ(mqttproto_client_connection_lost(h->c), 0);
    NO_EV(h);
    o.clean_start = true;
    EQ(mqttproto_client_connect(h->c, &o, h->now), 0);
    EV(h, "PUBLISH_FAILED id=2 rc=00 err=SESSION_LOST");
    OUT(h, CONNECT_SESSION_CLEAN);
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    NO_OUT(h);
    EQ(sub1(h, "s", 0), 3);
    OUT(h, "82 07 00 03 00 00 01 73 00");
    FEED(h, "90 04 00 03 00 00");
    EV(h, "SUBSCRIBE_ACK id=3 rcs=00");
}

/* [MQTT-3.1.3-2] session state belongs to the Client Identifier: another
   identifier with Clean Start 0 cannot resume it. */
SCENARIO(other_client_id_discards_session)
{
    mqttproto_connect_options o = opts_session();
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    OUT(h, PUB_Q1("01"));
    EQ(mqttproto_client_connection_lost(h->c), 0);
    o.client_id = STR("cie");
    EQ(mqttproto_client_connect(h->c, &o, h->now), 0);
    EV(h, "PUBLISH_FAILED id=1 rc=00 err=SESSION_LOST");
    OUT(h, "10 20 00 04 4d 51 54 54 05 00 00 3c 10 11 00 00 01 2c 21 00 40 22 00 10 27 00 10 00 "
           "00 00 03 63 69 65");
    /* Having no session, a Session Present 1 is an error [MQTT-3.2.2-4]. */
    FAIL_CASE(h, CONNACK_SP, E(SESSION_PRESENT_INVALID), "e0 01 82");
}

/* ---- enhanced authentication ---- */

SCENARIO(auth_exchange_and_reauth)
{
    mqttproto_connect_options o = opts_auth();
    CONNECT(h, &o, CONNECT_AUTH);
    /* [MQTT-3.1.2-30] until CONNACK only AUTH may follow the CONNECT */
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    NO_OUT(h);
    EQ(sub1(h, "s", 0), E(BAD_STATE));
    EQ(mqttproto_client_auth(h->c, 0x19, BIN("\x04"), NULL), E(BAD_STATE));
    FEED(h, "f0 0e 18 0c 15 00 05 53 43 52 41 4d 16 00 01 02");
    EV(h, "AUTH rc=18 [am=SCRAM ad=02]");
    NO_OUT(h);
    EQ(mqttproto_client_auth(h->c, 0x00, BIN("\x03"), NULL), E(INVALID_ARGUMENT));
    /* [MQTT-4.12.0-3] [MQTT-4.12.0-5] continue, with the same method */
    EQ(mqttproto_client_auth(h->c, 0x18, BIN("\x03"), NULL), 0);
    OUT(h, "f0 0e 18 0c 15 00 05 53 43 52 41 4d 16 00 01 03");
    EQ(mqttproto_client_get_state(h->c), ST(CONNECTING));
    FEED(h, "20 0b 00 00 08 15 00 05 53 43 52 41 4d");
    EV(h, "CONNECTED sp=0 [am=SCRAM]");
    OUT(h, PUB_Q1("01"));
    FEED(h, PUBACK("01"));
    EV(h, "PUBLISH_COMPLETED id=1 rc=00");

    /* [MQTT-4.12.1-1] re-authentication with the same method */
    EQ(mqttproto_client_auth(h->c, 0x19, BIN("\x04"), NULL), 0);
    OUT(h, "f0 0e 19 0c 15 00 05 53 43 52 41 4d 16 00 01 04");
    FEED(h, "f0 0e 18 0c 15 00 05 53 43 52 41 4d 16 00 01 05");
    EV(h, "AUTH rc=18 [am=SCRAM ad=05]");
    EQ(mqttproto_client_auth(h->c, 0x18, BIN("\x06"), NULL), 0);
    OUT(h, "f0 0e 18 0c 15 00 05 53 43 52 41 4d 16 00 01 06");
    /* Other traffic goes on during re-authentication. */
    FEED(h, PUB_Q1("09"));
    EV(h, "MESSAGE id=9 q=1 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBACK("09"));
    FEED(h, "f0 0a 00 08 15 00 05 53 43 52 41 4d");
    EV(h, "AUTH rc=00 [am=SCRAM]");
    EQ(mqttproto_client_get_state(h->c), ST(CONNECTED));

    /* Further AUTH properties go after the method and data. */
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_str(&p, PK(AUTH), PR(REASON_STRING), STR("r")), 0);
    EQ(mqttproto_client_auth(h->c, 0x19, BIN("\x07"), &p), 0);
    OUT(h, "f0 12 19 10 15 00 05 53 43 52 41 4d 16 00 01 07 1f 00 01 72");
    FEED(h, "f0 0a 00 08 15 00 05 53 43 52 41 4d");
    EV(h, "AUTH rc=00 [am=SCRAM]");
}

SCENARIO(auth_refused)
{
    mqttproto_connect_options o = opts_auth();
    CONNECT(h, &o, CONNECT_AUTH);
    FEED(h, "f0 0e 18 0c 15 00 05 53 43 52 41 4d 16 00 01 02");
    EV(h, "AUTH rc=18 [am=SCRAM ad=02]");
    EQ(mqttproto_client_auth(h->c, 0x18, BIN("\x03"), NULL), 0);
    OUT(h, "f0 0e 18 0c 15 00 05 53 43 52 41 4d 16 00 01 03");
    FEED(h, "20 03 00 8c 00");
    EV(h, "CONNECT_REFUSED rc=8c");
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));
    NO_OUT(h);
}

/* [MQTT-4.12.0-5] before CONNACK: no DISCONNECT, just FAILED */
SCENARIO(auth_method_mismatch_connecting)
{
    mqttproto_connect_options o = opts_auth();
    CONNECT(h, &o, CONNECT_AUTH);
    FAIL_CASE(h, "f0 0e 18 0c 15 00 05 4f 54 48 45 52 16 00 01 02", E(AUTH_METHOD_MISMATCH), "");
}

/* [MQTT-4.12.0-5] [MQTT-4.12.1-2] during re-authentication: DISCONNECT 0x82 */
SCENARIO(auth_method_mismatch_reauth)
{
    mqttproto_connect_options o = opts_auth();
    CONNECT(h, &o, CONNECT_AUTH);
    FEED(h, "20 0b 00 00 08 15 00 05 53 43 52 41 4d");
    EV(h, "CONNECTED sp=0 [am=SCRAM]");
    EQ(mqttproto_client_auth(h->c, 0x19, BIN("\x04"), NULL), 0);
    OUT(h, "f0 0e 19 0c 15 00 05 53 43 52 41 4d 16 00 01 04");
    FAIL_CASE(h, "f0 0e 18 0c 15 00 05 4f 54 48 45 52 16 00 01 02", E(AUTH_METHOD_MISMATCH),
              "e0 01 82");
}

/* [MQTT-4.12.0-7] [MQTT-4.12.0-6] no method in CONNECT: no AUTH either way */
SCENARIO(auth_without_method_connecting)
{
    mqttproto_connect_options o = opts_default();
    CONNECT(h, &o, CONNECT_DEFAULT);
    EQ(mqttproto_client_auth(h->c, 0x18, BIN("\x01"), NULL), E(BAD_STATE));
    NO_OUT(h);
    FAIL_CASE(h, "f0 0e 18 0c 15 00 05 53 43 52 41 4d 16 00 01 02", E(UNEXPECTED_PACKET), "");
}

SCENARIO(auth_without_method_connected)
{
    UP(h);
    EQ(mqttproto_client_auth(h->c, 0x19, BIN("\x01"), NULL), E(BAD_STATE));
    NO_OUT(h);
    FAIL_CASE(h, "f0 00", E(UNEXPECTED_PACKET), "e0 01 82");
}

/* [MQTT-3.15.2-2] [MQTT-3.15.2-3] Reason String and User Properties are left
   out of an AUTH that would exceed the server's Maximum Packet Size (30). */
SCENARIO(auth_properties_too_large)
{
    mqttproto_connect_options o = opts_auth();
    CONNECT(h, &o, CONNECT_AUTH);
    FEED(h, "20 10 00 00 0d 15 00 05 53 43 52 41 4d 27 00 00 00 1e");
    EV(h, "CONNECTED sp=0 [am=SCRAM mps=30]");
    mqttproto_user_property up = {STR("a-rather-long-property-name"), STR("v")};
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_str(&p, PK(AUTH), PR(REASON_STRING),
                                    STR("a reason string too long")),
       0);
    EQ(mqttproto_properties_set_user_properties(&p, PK(AUTH), &up, 1), 0);
    EQ(mqttproto_client_auth(h->c, 0x19, BIN("\x04"), &p), 0);
    OUT(h, "f0 0e 19 0c 15 00 05 53 43 52 41 4d 16 00 01 04");
    FEED(h, "f0 0a 00 08 15 00 05 53 43 52 41 4d");
    EV(h, "AUTH rc=00 [am=SCRAM]");
}

/* ---- disconnecting ---- */

/* [MQTT-3.14.4-1] [MQTT-3.14.4-2] after our DISCONNECT nothing is sent and
   no input is taken: the connection is for the application to close. */
SCENARIO(disconnect_normal)
{
    UP(h);
    EQ(mqttproto_client_disconnect(h->c, 0x00, NULL), 0);
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));
    /* [MQTT-3.14.4-1] nothing follows the DISCONNECT on this connection */
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    OUT(h, "e0 00");
    NO_OUT(h);
    EQ(mqttproto_client_disconnect(h->c, 0x00, NULL), E(BAD_STATE));
    FEED_ERR(h, PUBACK("01"), E(BAD_STATE));
    NO_EV(h);
}

SCENARIO(disconnect_with_will_and_reason_string)
{
    UP(h);
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_str(&p, PK(DISCONNECT), PR(REASON_STRING), STR("bye")), 0);
    EQ(mqttproto_client_disconnect(h->c, 0x04, &p), 0);
    OUT(h, "e0 08 04 06 1f 00 03 62 79 65");
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));
}

/* Session Expiry Interval 0 in CONNECT: a DISCONNECT may not raise it. */
SCENARIO(disconnect_session_expiry)
{
    UP(h);
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_int(&p, PK(DISCONNECT), PR(SESSION_EXPIRY_INTERVAL), 10), 0);
    EQ(mqttproto_client_disconnect(h->c, 0x00, &p), E(INVALID_ARGUMENT));
    EQ(mqttproto_client_get_state(h->c), ST(CONNECTED));
    NO_OUT(h);
    EQ(mqttproto_client_disconnect(h->c, 0x00, NULL), 0);
    OUT(h, "e0 00");

    /* With a session, it may be changed, to 0 as well. */
    EQ(mqttproto_client_connection_lost(h->c), 0);
    mqttproto_connect_options o = opts_session();
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_int(&p, PK(DISCONNECT), PR(SESSION_EXPIRY_INTERVAL), 0), 0);
    EQ(mqttproto_client_disconnect(h->c, 0x00, &p), 0);
    OUT(h, "e0 07 00 05 11 00 00 00 00");
}

/* [MQTT-3.14.2-3] [MQTT-3.14.2-4] Reason String and User Properties are left
   out when they would exceed the server's Maximum Packet Size (20). */
SCENARIO(disconnect_properties_too_large)
{
    UP_WITH(h, "20 08 00 00 05 27 00 00 00 14", "CONNECTED sp=0 [mps=20]");
    mqttproto_user_property up = {STR("a-rather-long-property-name"), STR("v")};
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    EQ(mqttproto_properties_set_str(&p, PK(DISCONNECT), PR(REASON_STRING),
                                    STR("a reason string far too long")),
       0);
    EQ(mqttproto_properties_set_user_properties(&p, PK(DISCONNECT), &up, 1), 0);
    EQ(mqttproto_client_disconnect(h->c, 0x04, &p), 0);
    OUT(h, "e0 01 04");
}

/* A connection ended by our DISCONNECT, and the next one begun with
   connect() without connection_lost(): nothing of the old connection
   carries over. Outbound and inbound Topic Aliases start over
   [MQTT-3.3.2-7], and the SUBSCRIBE left unanswered ends with
   REQUEST_FAILED. */
SCENARIO(reconnect_after_disconnect)
{
    UP_WITH(h, "20 06 00 00 03 22 00 02", "CONNECTED sp=0 [tam=2]");
    EQ(pub(h, "a/b", "hi", 0, false), 0);
    OUT(h, "30 0b 00 03 61 2f 62 03 23 00 01 68 69");
    FEED(h, "30 0a 00 03 61 2f 62 03 23 00 01 78");
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=x");
    EQ(sub1(h, "s", 1), 1);
    OUT(h, "82 07 00 01 00 00 01 73 01");
    EQ(mqttproto_client_disconnect(h->c, 0x00, NULL), 0);
    OUT(h, "e0 00");

    mqttproto_connect_options o = opts_default();
    CONNECT(h, &o, CONNECT_DEFAULT);
    EV(h, "REQUEST_FAILED id=1 err=CONNECTION_LOST");
    FEED(h, "20 06 00 00 03 22 00 02");
    EV(h, "CONNECTED sp=0 [tam=2]");
    EQ(pub(h, "a/b", "hi", 0, false), 0);
    EQ(pub(h, "a/b", "hi", 0, false), 0);
    OUT(h, "30 0b 00 03 61 2f 62 03 23 00 01 68 69 30 08 00 00 03 23 00 01 68 69");
    EQ(sub1(h, "s", 1), 2);
    OUT(h, "82 07 00 02 00 00 01 73 01");
    FEED(h, "90 04 00 02 00 01");
    EV(h, "SUBSCRIBE_ACK id=2 rcs=01");
    FAIL_CASE(h, "30 07 00 00 03 23 00 01 79", E(TOPIC_ALIAS_UNKNOWN), "e0 01 82");
}

/* [MQTT-3.14.2-2] a server DISCONNECT never carries Session Expiry
   Interval: a Protocol Error. No DISCONNECT answers it (the server closes
   the connection after sending its own [MQTT-3.14.4-2]), and no
   DISCONNECTED event reports it. */
SCENARIO(server_disconnect_session_expiry)
{
    UP(h);
    FAIL_CASE(h, "e0 07 00 05 11 00 00 00 0a", E(UNEXPECTED_PROPERTY), "");
    h_end(h);

    /* The value makes no difference, nor does a session of our own. */
    mqttproto_connect_options o = opts_session();
    CONNECT(h, &o, CONNECT_SESSION);
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    FAIL_CASE(h, "e0 0b 8b 09 11 00 00 00 00 1f 00 01 78", E(UNEXPECTED_PROPERTY), "");
}

SCENARIO(server_disconnect)
{
    UP(h);
    FEED(h, "e0 0e 9c 0c 1c 00 04 73 72 76 32 1f 00 02 62 79");
    EV(h, "DISCONNECTED rc=9c [sr=srv2 rs=by]");
    /* [MQTT-4.13.2-1] */
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));
    EQ(mqttproto_client_error(h->c), 0);
    NO_OUT(h);
    FEED_ERR(h, "d0 00", E(BAD_STATE));
    EQ(mqttproto_client_connection_lost(h->c), 0);
    UP(h);
    FEED(h, "e0 00");
    EV(h, "DISCONNECTED rc=00");
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));
    NO_OUT(h);
}

/* ---- Request Problem Information 0 ---- */

/* Connect with Request Problem Information 0. */
static void h_up_no_problem_info(struct h *h, const char *connack, const char *event, int line)
{
    mqttproto_connect_options o = opts_default();
    o.request_problem_information = false;
    h_connect(h, &o, CONNECT_NO_PROBLEM_INFO, line);
    h_feed_check(h, connack, 0, line);
    h_events(h, (const char *const[]){event, NULL}, line);
    h_eq(h, mqttproto_client_get_state(h->c), ST(CONNECTED), "state", line);
}

#define UP_NO_PROBLEM_INFO(h, connack, ev) h_up_no_problem_info((h), (connack), (ev), __LINE__)

/* [MQTT-3.1.2-29] Reason String and User Properties may still come on
   CONNACK, PUBLISH and DISCONNECT; reason codes without them anywhere. */
SCENARIO(problem_information_allowed)
{
    UP_NO_PROBLEM_INFO(h, "20 0f 00 00 0c 1f 00 02 68 69 26 00 01 6b 00 01 76",
                       "CONNECTED sp=0 [rs=hi up=k:v]");
    FEED(h, "32 11 00 03 61 2f 62 00 05 07 26 00 01 6b 00 01 76 68 69");
    EV(h, "MESSAGE id=5 q=1 r=0 d=0 t=a/b p=hi [up=k:v]");
    OUT(h, PUBACK("05"));
    EQ(pub(h, "a/b", "hi", 1, false), 1);
    OUT(h, PUB_Q1("01"));
    FEED(h, "40 03 00 01 10");
    EV(h, "PUBLISH_COMPLETED id=1 rc=10");
    FEED(h, "e0 08 8b 06 1f 00 03 62 79 65");
    EV(h, "DISCONNECTED rc=8b [rs=bye]");
    EQ(mqttproto_client_get_state(h->c), ST(DISCONNECTED));
}

/* [MQTT-3.1.2-29] on any other packet they are a Protocol Error: DISCONNECT
   0x82 (section 3.1.2.11.7), each packet otherwise one the client expects. */
SCENARIO(problem_information_refused)
{
    enum { PUBACK_RS, PUBREC_UP, PUBREL_RS, PUBCOMP_UP, SUBACK_RS, UNSUBACK_UP, AUTH_RS };
    for (int k = PUBACK_RS; k <= AUTH_RS; k++) {
        const char *in = NULL;
        switch (k) {
        case PUBACK_RS:
            UP_NO_PROBLEM_INFO(h, CONNACK_OK, "CONNECTED sp=0");
            EQ(pub(h, "a/b", "hi", 1, false), 1);
            OUT(h, PUB_Q1("01"));
            in = "40 08 00 01 00 04 1f 00 01 72";
            break;
        case PUBREC_UP:
            UP_NO_PROBLEM_INFO(h, CONNACK_OK, "CONNECTED sp=0");
            EQ(pub(h, "a/b", "hi", 2, false), 1);
            OUT(h, PUB_Q2("01"));
            in = "50 0b 00 01 00 07 26 00 01 6b 00 01 76";
            break;
        case PUBREL_RS:
            UP_NO_PROBLEM_INFO(h, CONNACK_OK, "CONNECTED sp=0");
            FEED(h, PUB_Q2("07"));
            EV(h, "MESSAGE id=7 q=2 r=0 d=0 t=a/b p=hi");
            OUT(h, PUBREC("07"));
            in = "62 08 00 07 00 04 1f 00 01 72";
            break;
        case PUBCOMP_UP:
            UP_NO_PROBLEM_INFO(h, CONNACK_OK, "CONNECTED sp=0");
            EQ(pub(h, "a/b", "hi", 2, false), 1);
            OUT(h, PUB_Q2("01"));
            FEED(h, PUBREC("01"));
            OUT(h, PUBREL("01"));
            in = "70 0b 00 01 00 07 26 00 01 6b 00 01 76";
            break;
        case SUBACK_RS:
            UP_NO_PROBLEM_INFO(h, CONNACK_OK, "CONNECTED sp=0");
            EQ(sub1(h, "s", 0), 1);
            OUT(h, "82 07 00 01 00 00 01 73 00");
            in = "90 08 00 01 04 1f 00 01 72 00";
            break;
        case UNSUBACK_UP:
            UP_NO_PROBLEM_INFO(h, CONNACK_OK, "CONNECTED sp=0");
            EQ(sub1(h, "s", 0), 1);
            OUT(h, "82 07 00 01 00 00 01 73 00");
            FEED(h, "90 04 00 01 00 00");
            EV(h, "SUBSCRIBE_ACK id=1 rcs=00");
            EQ(unsub1(h, "s"), 2);
            OUT(h, "a2 06 00 02 00 00 01 73");
            in = "b0 0b 00 02 07 26 00 01 6b 00 01 76 00";
            break;
        default: {
            /* During a re-authentication. */
            mqttproto_connect_options o = opts_auth();
            o.request_problem_information = false;
            CONNECT(h, &o,
                    "10 29 00 04 4d 51 54 54 05 02 00 3c 19 15 00 05 53 43 52 41 4d 16 00 01 01 "
                    "17 00 21 00 40 22 00 10 27 00 10 00 00 00 03 63 69 64");
            FEED(h, "20 0b 00 00 08 15 00 05 53 43 52 41 4d");
            EV(h, "CONNECTED sp=0 [am=SCRAM]");
            EQ(mqttproto_client_auth(h->c, 0x19, BIN("\x04"), NULL), 0);
            OUT(h, "f0 0e 19 0c 15 00 05 53 43 52 41 4d 16 00 01 04");
            in = "f0 12 18 10 15 00 05 53 43 52 41 4d 16 00 01 05 1f 00 01 72";
            break;
        }
        }
        FAIL_CASE(h, in, E(UNEXPECTED_PROPERTY), "e0 01 82");
        if (k == SUBACK_RS || k == UNSUBACK_UP) {
            EV(h, k == SUBACK_RS ? "REQUEST_FAILED id=1 err=CONNECTION_LOST"
                                 : "REQUEST_FAILED id=2 err=CONNECTION_LOST");
        }
        h_end(h);
    }
}

/* Before CONNACK the same AUTH fails the client without a DISCONNECT, like
   every error before a CONNACK accepted the connection. */
SCENARIO(problem_information_refused_connecting)
{
    mqttproto_connect_options o = opts_auth();
    o.request_problem_information = false;
    CONNECT(h, &o,
            "10 29 00 04 4d 51 54 54 05 02 00 3c 19 15 00 05 53 43 52 41 4d 16 00 01 01 "
            "17 00 21 00 40 22 00 10 27 00 10 00 00 00 03 63 69 64");
    FAIL_CASE(h, "f0 12 18 10 15 00 05 53 43 52 41 4d 16 00 01 05 1f 00 01 72",
              E(UNEXPECTED_PROPERTY), "");
}

/* ---- a server that breaks the protocol ---- */

/* [MQTT-3.2.0-1] before CONNACK only CONNACK and AUTH may come, and
   [MQTT-3.14.0-1] no DISCONNECT either; no DISCONNECT is sent. */
SCENARIO(packet_before_connack)
{
    static const char *const inputs[] = {
        PUB_Q0,        PUB_Q1("01"),        PUBACK("01"),        PUBREC("01"), PUBREL("01"),
        PUBCOMP("01"), "90 04 00 01 00 00", "b0 04 00 01 00 00", "d0 00",      "e0 00",
    };
    for (size_t i = 0; i < ARRAY_LEN(inputs); i++) {
        mqttproto_connect_options o = opts_default();
        CONNECT(h, &o, CONNECT_DEFAULT);
        FAIL_CASE(h, inputs[i], E(UNEXPECTED_PACKET), "");
        h_end(h);
    }
}

/* Broken packets before CONNACK: FAILED, no DISCONNECT. */
SCENARIO(bad_connack)
{
    static const struct {
        const char *in;
        int err;
    } cases[] = {
        {"20 06 00 00 03 23 00 01", E(PROPERTY_NOT_ALLOWED)},
        {"20 06 00 00 03 21 00 00", E(INVALID_PROPERTY_VALUE)},
        {"20 03 02 00 00", E(BAD_CONNACK_FLAGS)},
        {"20 03 01 87 00", E(SESSION_PRESENT_ON_ERROR)},
        {"21 03 00 00 00", E(BAD_FIXED_HEADER_FLAGS)},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        mqttproto_connect_options o = opts_default();
        CONNECT(h, &o, CONNECT_DEFAULT);
        FAIL_CASE(h, cases[i].in, cases[i].err, "");
        h_end(h);
    }
}

/* [MQTT-3.2.0-2] one CONNACK per connection. */
SCENARIO(second_connack)
{
    UP(h);
    FAIL_CASE(h, CONNACK_OK, E(UNEXPECTED_PACKET), "e0 01 82");
}

/* Packets only a client sends. */
SCENARIO(server_sends_client_packets)
{
    static const char *const inputs[] = {
        "10 0e 00 04 4d 51 54 54 05 02 00 3c 00 00 01 78", /* CONNECT */
        "82 07 00 01 00 00 01 61 00",                      /* SUBSCRIBE */
        "a2 06 00 01 00 00 01 61",                         /* UNSUBSCRIBE */
        "c0 00",                                           /* PINGREQ */
    };
    for (size_t i = 0; i < ARRAY_LEN(inputs); i++) {
        UP(h);
        FAIL_CASE(h, inputs[i], E(UNEXPECTED_PACKET), "e0 01 82");
        h_end(h);
    }
}

/* Acknowledgements for identifiers not in flight, or of the wrong kind:
   [MQTT-2.2.1-5] and, for SUBACK and UNSUBACK, [MQTT-2.2.1-6]. */
SCENARIO(unknown_packet_ids)
{
    enum { NONE, Q1, Q2, Q2_RELEASED, Q1_DONE, SUBSCRIBED, QUEUED };
    static const struct {
        int setup;
        const char *in;
    } cases[] = {
        {NONE, PUBACK("09")},
        {NONE, PUBCOMP("09")},
        {NONE, "90 04 00 09 00 00"},
        {NONE, "b0 04 00 09 00 00"},
        {Q2, PUBACK("01")},                /* PUBACK for QoS 2 */
        {Q2, PUBCOMP("01")},               /* PUBCOMP before PUBREC */
        {Q2_RELEASED, PUBACK("01")},       /* PUBACK past PUBREC */
        {Q1, PUBCOMP("01")},               /* PUBCOMP for QoS 1 */
        {Q1, "90 04 00 01 00 00"},         /* SUBACK for a PUBLISH */
        {Q1_DONE, PUBACK("01")},           /* a second PUBACK */
        {SUBSCRIBED, PUBACK("01")},        /* PUBACK for a SUBSCRIBE */
        {SUBSCRIBED, "b0 04 00 01 00 00"}, /* UNSUBACK for a SUBSCRIBE */
        {QUEUED, PUBACK("02")},            /* PUBACK for a PUBLISH never sent */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        if (cases[i].setup == QUEUED) {
            UP_WITH(h, "20 06 00 00 03 21 00 01", "CONNECTED sp=0 [rm=1]");
        } else {
            UP(h);
        }
        switch (cases[i].setup) {
        case Q1:
        case Q1_DONE:
            EQ(pub(h, "a/b", "hi", 1, false), 1);
            OUT(h, PUB_Q1("01"));
            if (cases[i].setup == Q1_DONE) {
                FEED(h, PUBACK("01"));
                EV(h, "PUBLISH_COMPLETED id=1 rc=00");
            }
            break;
        case Q2:
        case Q2_RELEASED:
            EQ(pub(h, "a/b", "hi", 2, false), 1);
            OUT(h, PUB_Q2("01"));
            if (cases[i].setup == Q2_RELEASED) {
                FEED(h, PUBREC("01"));
                OUT(h, PUBREL("01"));
            }
            break;
        case SUBSCRIBED:
            EQ(sub1(h, "s", 0), 1);
            OUT(h, "82 07 00 01 00 00 01 73 00");
            break;
        case QUEUED:
            EQ(pub(h, "a/b", "hi", 1, false), 1);
            EQ(pub(h, "a/b", "hi", 1, false), 2);
            OUT(h, PUB_Q1("01"));
            break;
        default:
            break;
        }
        FAIL_CASE(h, cases[i].in, E(UNKNOWN_PACKET_ID), "e0 01 82");
        if (cases[i].setup == SUBSCRIBED) {
            EV(h, "REQUEST_FAILED id=1 err=CONNECTION_LOST");
        }
        h_end(h);
    }
}

/* Malformed packets and invalid properties after CONNACK. */
SCENARIO(malformed_packets)
{
    static const struct {
        const char *in;
        int err;
        const char *disconnect;
    } cases[] = {
        {"30 0d 00 03 61 2f 62 05 11 00 00 00 01 68 69", E(PROPERTY_NOT_ALLOWED), "e0 01 81"},
        {"40 07 00 01 00 03 23 00 01", E(PROPERTY_NOT_ALLOWED), "e0 01 81"},
        {"30 10 00 03 61 2f 62 08 03 00 01 61 03 00 01 62 68 69", E(DUPLICATE_PROPERTY),
         "e0 01 82"},
        {"30 0a 00 03 61 2f 62 02 7f 00 68 69", E(UNKNOWN_PROPERTY), "e0 01 81"},
        {"00 00", E(RESERVED_PACKET_TYPE), "e0 01 81"},
        {"41 02 00 01", E(BAD_FIXED_HEADER_FLAGS), "e0 01 81"},
        {"36 0a 00 03 61 2f 62 00 01 00 68 69", E(BAD_QOS), "e0 01 81"},
        {"30 ff ff ff ff 01", E(MALFORMED_VARIABLE_INTEGER), "e0 01 81"},
        {"30 80 00", E(NON_MINIMAL_VARIABLE_INTEGER), "e0 01 81"},
        {"40 01 00", E(TRUNCATED), "e0 01 81"},
        {"d0 01 00", E(TRAILING_BYTES), "e0 01 81"},
        {"30 07 00 02 c0 80 00 68 69", E(INVALID_UTF8), "e0 01 81"},
        {"38 08 00 03 61 2f 62 00 68 69", E(DUP_ON_QOS0), "e0 01 81"},
        {"32 0a 00 03 61 2f 62 00 00 00 68 69", E(ZERO_PACKET_ID), "e0 01 82"},
        {"30 04 00 00 00 78", E(EMPTY_TOPIC_WITHOUT_ALIAS), "e0 01 82"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        UP(h);
        FAIL_CASE(h, cases[i].in, cases[i].err, cases[i].disconnect);
        h_end(h);
    }
}

/* Packets before the broken one are handled; the DISCONNECT comes last. */
SCENARIO(malformed_after_valid)
{
    UP(h);
    FEED_ERR(h, PUB_Q1("05") " 41 02 00 01", E(BAD_FIXED_HEADER_FLAGS));
    EV(h, "MESSAGE id=5 q=1 r=0 d=0 t=a/b p=hi");
    FAILED(h, E(BAD_FIXED_HEADER_FLAGS), PUBACK("05") " e0 01 81");
}

/*
 * A packet cut between two reads, with the events of the first read drained
 * in between: the second read completes it. The first read is 255 bytes
 * (25 whole PUBLISH and 5 bytes of the next).
 */
SCENARIO(packet_across_reads_after_drain)
{
    UP(h);
    char first[25 * 30 + 20] = "";
    for (int i = 0; i < 25; i++) {
        strcat(first, PUB_Q0 " ");
    }
    strcat(first, "30 08 00 03 61");
    FEED(h, first);
    const char *lines[26];
    for (size_t i = 0; i < 25; i++) {
        lines[i] = "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=hi";
    }
    lines[25] = NULL;
    h_events(h, lines, __LINE__);
    FEED(h, "2f 62 00 68 69 " PUB_Q1("01"));
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=hi", "MESSAGE id=1 q=1 r=0 d=0 t=a/b p=hi");
    OUT(h, PUBACK("01"));
}

/* [MQTT-3.1.2-24] our Maximum Packet Size 64: 64 bytes are taken, 65 are not. */
SCENARIO(inbound_packet_too_large)
{
    h->settings.maximum_packet_size = 64;
    mqttproto_connect_options o = opts_default();
    CONNECT(h, &o,
            "10 1b 00 04 4d 51 54 54 05 02 00 3c 0b 21 00 40 22 00 10 27 00 00 00 40 00 03 63 69 "
            "64");
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    char *fits = hex_fill("30 3e 00 01 74 00", "41", 58);
    char *event = text_fill("MESSAGE id=0 q=0 r=0 d=0 t=t p=", 'A', 58);
    FEED(h, fits);
    EV(h, event);
    free(fits);
    free(event);
    char *big = hex_fill("30 3f 00 01 74 00", "41", 59);
    FAIL_CASE(h, big, E(PACKET_TOO_LARGE), "e0 01 95");
    free(big);
}

/* [MQTT-3.1.2-24] the CONNACK too; before it no DISCONNECT. */
SCENARIO(inbound_connack_too_large)
{
    h->settings.maximum_packet_size = 64;
    mqttproto_connect_options o = opts_default();
    CONNECT(h, &o,
            "10 1b 00 04 4d 51 54 54 05 02 00 3c 0b 21 00 40 22 00 10 27 00 00 00 40 00 03 63 69 "
            "64");
    char *big = hex_fill("20 3f 00 00 3c 1f 00 39", "61", 57);
    FAIL_CASE(h, big, E(PACKET_TOO_LARGE), "");
    free(big);
}

/* [MQTT-3.1.2-24] the Maximum Packet Size sent in CONNECT (64, below the
   settings' 1 MiB) is the one enforced. Events of the connection before, with
   larger packets, still read whole after the new connect(). */
SCENARIO(inbound_packet_too_large_connect_option)
{
    UP(h);
    char *big_in = hex_fill("30 62 00 01 74 00", "42", 94);
    char *big_ev = text_fill("MESSAGE id=0 q=0 r=0 d=0 t=t p=", 'B', 94);
    FEED(h, big_in);
    FEED(h, "e0 00");
    mqttproto_connect_options o = opts_default();
    o.maximum_packet_size = 64;
    CONNECT(h, &o,
            "10 1b 00 04 4d 51 54 54 05 02 00 3c 0b 21 00 40 22 00 10 27 00 00 00 40 00 03 63 69 "
            "64");
    EV(h, big_ev, "DISCONNECTED rc=00");
    FEED(h, CONNACK_OK);
    EV(h, "CONNECTED sp=0");
    char *fits = hex_fill("30 3e 00 01 74 00", "41", 58);
    char *event = text_fill("MESSAGE id=0 q=0 r=0 d=0 t=t p=", 'A', 58);
    FEED(h, fits);
    EV(h, event);
    char *over = hex_fill("30 3f 00 01 74 00", "41", 59);
    FAIL_CASE(h, over, E(PACKET_TOO_LARGE), "e0 01 95");
    free(big_in);
    free(big_ev);
    free(fits);
    free(event);
    free(over);
}

SCENARIO(inbound_too_many_user_properties)
{
    h->settings.max_user_properties = 2;
    UP(h);
    FEED(h, "30 16 00 03 61 2f 62 0e 26 00 01 6b 00 01 76 26 00 01 6b 00 01 77 68 69");
    EV(h, "MESSAGE id=0 q=0 r=0 d=0 t=a/b p=hi [up=k:v up=k:w]");
    FAIL_CASE(h,
              "30 1d 00 03 61 2f 62 15 26 00 01 6b 00 01 76 26 00 01 6b 00 01 77 26 00 01 6b 00 "
              "01 78 68 69",
              E(TOO_MANY_PROPERTIES), "e0 01 83");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_connect_arguments),
        cmocka_unit_test(test_outbound_copy_and_consume),
        cmocka_unit_test(test_reconnect_after_server_disconnect),
        cmocka_unit_test(test_packet_id_exhaustion),
        cmocka_unit_test(test_input_backpressure),
        cmocka_unit_test(test_connect_default),
        cmocka_unit_test(test_connect_minimal),
        cmocka_unit_test(test_connect_full),
        cmocka_unit_test(test_connack_properties),
        cmocka_unit_test(test_connack_refused),
        cmocka_unit_test(test_session_present_after_clean_start),
        cmocka_unit_test(test_session_present_first_connect),
        cmocka_unit_test(test_session_present_after_expiry_zero),
        cmocka_unit_test(test_response_information_not_requested),
        cmocka_unit_test(test_connack_auth_method_without_method),
        cmocka_unit_test(test_publish_qos0),
        cmocka_unit_test(test_publish_qos1),
        cmocka_unit_test(test_publish_qos2),
        cmocka_unit_test(test_publish_bad_arguments),
        cmocka_unit_test(test_publish_qos_downgrade_to_0),
        cmocka_unit_test(test_publish_retain_refused),
        cmocka_unit_test(test_publish_too_large),
        cmocka_unit_test(test_acks_without_properties),
        cmocka_unit_test(test_publish_receive_maximum_queue),
        cmocka_unit_test(test_publish_queue_limit_messages),
        cmocka_unit_test(test_publish_queue_limit_bytes),
        cmocka_unit_test(test_packet_ids_shared),
        cmocka_unit_test(test_publish_before_connect),
        cmocka_unit_test(test_refused_calls_change_nothing),
        cmocka_unit_test(test_outbound_topic_aliases),
        cmocka_unit_test(test_outbound_topic_alias_settings_cap),
        cmocka_unit_test(test_outbound_topic_alias_disabled),
        cmocka_unit_test(test_outbound_topic_alias_too_large),
        cmocka_unit_test(test_qos2_message_expiry),
        cmocka_unit_test(test_inbound_qos0_qos1),
        cmocka_unit_test(test_inbound_qos2),
        cmocka_unit_test(test_inbound_qos2_across_reconnect),
        cmocka_unit_test(test_session_state_kept_while_connected),
        cmocka_unit_test(test_inbound_receive_maximum_exceeded),
        cmocka_unit_test(test_inbound_receive_maximum_manual_ack),
        cmocka_unit_test(test_manual_ack_order),
        cmocka_unit_test(test_acknowledge_in_auto_mode),
        cmocka_unit_test(test_inbound_topic_aliases),
        cmocka_unit_test(test_inbound_topic_alias_zero),
        cmocka_unit_test(test_inbound_topic_alias_over_maximum),
        cmocka_unit_test(test_inbound_topic_alias_unknown),
        cmocka_unit_test(test_inbound_topic_alias_refused),
        cmocka_unit_test(test_inbound_topic_alias_over_connect_option),
        cmocka_unit_test(test_inbound_topic_alias_reset),
        cmocka_unit_test(test_subscribe_reference_counting),
        cmocka_unit_test(test_subscribe_properties_and_arguments),
        cmocka_unit_test(test_suback_count_mismatch),
        cmocka_unit_test(test_suback_count_too_many),
        cmocka_unit_test(test_unsuback_count_mismatch),
        cmocka_unit_test(test_suback_reason_code_order),
        cmocka_unit_test(test_subscribe_features_unavailable),
        cmocka_unit_test(test_subscribe_feature_each),
        cmocka_unit_test(test_pending_requests_lost),
        cmocka_unit_test(test_keep_alive_ping),
        cmocka_unit_test(test_keep_alive_timeout),
        cmocka_unit_test(test_keep_alive_timeout_default),
        cmocka_unit_test(test_keep_alive_server_override),
        cmocka_unit_test(test_keep_alive_server_zero),
        cmocka_unit_test(test_session_resume),
        cmocka_unit_test(test_session_resume_pubrels),
        cmocka_unit_test(test_session_resume_unsent),
        cmocka_unit_test(test_session_resume_lowered_qos),
        cmocka_unit_test(test_session_lost),
        cmocka_unit_test(test_clean_start_discards_session),
        cmocka_unit_test(test_other_client_id_discards_session),
        cmocka_unit_test(test_auth_exchange_and_reauth),
        cmocka_unit_test(test_auth_refused),
        cmocka_unit_test(test_auth_method_mismatch_connecting),
        cmocka_unit_test(test_auth_method_mismatch_reauth),
        cmocka_unit_test(test_auth_without_method_connecting),
        cmocka_unit_test(test_auth_without_method_connected),
        cmocka_unit_test(test_auth_properties_too_large),
        cmocka_unit_test(test_disconnect_normal),
        cmocka_unit_test(test_disconnect_with_will_and_reason_string),
        cmocka_unit_test(test_disconnect_session_expiry),
        cmocka_unit_test(test_disconnect_properties_too_large),
        cmocka_unit_test(test_reconnect_after_disconnect),
        cmocka_unit_test(test_server_disconnect_session_expiry),
        cmocka_unit_test(test_server_disconnect),
        cmocka_unit_test(test_problem_information_allowed),
        cmocka_unit_test(test_problem_information_refused),
        cmocka_unit_test(test_problem_information_refused_connecting),
        cmocka_unit_test(test_packet_before_connack),
        cmocka_unit_test(test_bad_connack),
        cmocka_unit_test(test_second_connack),
        cmocka_unit_test(test_server_sends_client_packets),
        cmocka_unit_test(test_unknown_packet_ids),
        cmocka_unit_test(test_malformed_packets),
        cmocka_unit_test(test_malformed_after_valid),
        cmocka_unit_test(test_packet_across_reads_after_drain),
        cmocka_unit_test(test_inbound_packet_too_large),
        cmocka_unit_test(test_inbound_connack_too_large),
        cmocka_unit_test(test_inbound_packet_too_large_connect_option),
        cmocka_unit_test(test_inbound_too_many_user_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
