/* The in-memory pump between client state machines and a broker. */
#include "pump.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void pump_logf(struct pump *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->log + p->log_len, sizeof p->log - p->log_len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n + 1 < sizeof p->log - p->log_len);
    p->log_len += (size_t)n;
    p->log[p->log_len++] = '\n';
    p->log[p->log_len] = '\0';
}

void pump_log_clear(struct pump *p)
{
    p->log_len = 0;
    p->log[0] = '\0';
}

int pump_log_count(const struct pump *p, const char *line)
{
    size_t n = strlen(line);
    int count = 0;
    const char *s = p->log;
    while (*s != '\0') {
        const char *eol = strchr(s, '\n');
        size_t len = eol != NULL ? (size_t)(eol - s) : strlen(s);
        if (len == n && memcmp(s, line, n) == 0) {
            count++;
        }
        s += len + (eol != NULL);
    }
    return count;
}

bool pump_log_has(const struct pump *p, const char *line)
{
    return pump_log_count(p, line) > 0;
}

void pump_init(struct pump *p, const mqttproto_broker_settings *settings)
{
    memset(p, 0, sizeof *p);
    p->subscribe_rc = 0xFF;
    p->now_ms = 1000;
    assert_int_equal(mqttproto_broker_create(settings, &p->broker), 0);
}

void pump_free(struct pump *p)
{
    for (int i = 0; i < PUMP_MAX_PEERS; i++) {
        if (p->peers[i].conn != NULL) {
            mqttproto_broker_client_destroy(p->peers[i].conn, p->now_ms);
        }
        mqttproto_client_destroy(p->peers[i].client);
    }
    mqttproto_broker_destroy(p->broker);
    memset(p->peers, 0, sizeof p->peers);
    p->broker = NULL;
}

void pump_add_client(struct pump *p, int i, const mqttproto_client_settings *settings)
{
    assert_true(i >= 0 && i < PUMP_MAX_PEERS && p->peers[i].client == NULL);
    assert_int_equal(mqttproto_client_create(settings, &p->peers[i].client), 0);
    p->peers[i].in_use = true;
}

void pump_open_raw(struct pump *p, int i)
{
    assert_true(i >= 0 && i < PUMP_MAX_PEERS && p->peers[i].conn == NULL);
    assert_int_equal(mqttproto_broker_client_create(p->broker, p->now_ms, &p->peers[i].conn), 0);
    mqttproto_broker_client_set_user_data(p->peers[i].conn, &p->peers[i]);
    p->peers[i].in_use = true;
}

void pump_connect(struct pump *p, int i, const mqttproto_connect_options *o)
{
    pump_open_raw(p, i);
    assert_int_equal(mqttproto_client_connect(p->peers[i].client, o, p->now_ms), 0);
}

void pump_connect_simple(struct pump *p, int i, const char *client_id, bool clean_start,
                         uint32_t session_expiry)
{
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = mqttproto_str_from_cstr(client_id);
    o.clean_start = clean_start;
    o.session_expiry_interval = session_expiry;
    pump_connect(p, i, &o);
}

static void log_codes(char *buf, size_t cap, const uint8_t *codes, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < n && len + 4 < cap; k++) {
        len += (size_t)snprintf(buf + len, cap - len, "%s%02x", k > 0 ? "," : "", codes[k]);
    }
}

static void answer_subscribe(struct pump *p, mqttproto_broker_client *bc,
                             const mqttproto_broker_event *ev)
{
    uint8_t codes[64];
    size_t n = 0, cursor = 0;
    mqttproto_subscription s;
    while (n < 64 && mqttproto_subscriptions_next(ev->subscriptions, &cursor, &s)) {
        if (p->deny_subscribe != NULL && s.topic_filter.len == strlen(p->deny_subscribe) &&
            memcmp(s.topic_filter.data, p->deny_subscribe, s.topic_filter.len) == 0) {
            codes[n++] = MQTTPROTO_RC_NOT_AUTHORIZED;
        } else {
            codes[n++] = p->subscribe_rc == 0xFF ? (uint8_t)s.max_qos : p->subscribe_rc;
        }
    }
    assert_int_equal(mqttproto_broker_client_acknowledge_subscribe(bc, ev->packet_id, codes, n), 0);
}

/* Drain the broker side's events, logging and answering them. */
static void drain_broker(struct pump *p, int i)
{
    mqttproto_broker_client *bc = p->peers[i].conn;
    mqttproto_broker_event ev;
    int r;
    while ((r = mqttproto_broker_client_next_event(bc, &ev)) == 1) {
        switch (ev.type) {
        case MQTTPROTO_BROKER_EVENT_CONNECT:
            pump_logf(p, "B%d CONNECT id=%.*s clean=%d ka=%u", i, (int)ev.client_id.len,
                      ev.client_id.len > 0 ? ev.client_id.data : "", ev.clean_start, ev.keep_alive);
            if (!p->hold_decisions) {
                assert_int_equal(
                    mqttproto_broker_client_acknowledge_connect(
                        bc, p->connect_rc, mqttproto_str_from_cstr(""), NULL, p->now_ms),
                    0);
            }
            break;
        case MQTTPROTO_BROKER_EVENT_PUBLISH:
            pump_logf(p, "B%d PUBLISH %.*s q%d r%d '%.*s'", i, (int)ev.topic.len, ev.topic.data,
                      (int)ev.qos, ev.retain, (int)ev.payload.len,
                      ev.payload.len > 0 ? (const char *)ev.payload.data : "");
            if (ev.ticket != 0 && !p->hold_decisions) {
                bool deny = p->deny_publish_to != NULL &&
                            ev.topic.len == strlen(p->deny_publish_to) &&
                            memcmp(ev.topic.data, p->deny_publish_to, ev.topic.len) == 0;
                assert_int_equal(
                    mqttproto_broker_client_authorize_publish(
                        bc, ev.ticket, deny ? MQTTPROTO_RC_NOT_AUTHORIZED : 0, p->now_ms),
                    0);
            }
            break;
        case MQTTPROTO_BROKER_EVENT_SUBSCRIBE:
            pump_logf(p, "B%d SUBSCRIBE id=%u n=%zu", i, ev.packet_id, ev.subscriptions->count);
            if (!p->hold_decisions) {
                answer_subscribe(p, bc, &ev);
            }
            break;
        case MQTTPROTO_BROKER_EVENT_UNSUBSCRIBE: {
            char codes[256];
            log_codes(codes, sizeof codes, ev.reason_codes, ev.reason_code_count);
            pump_logf(p, "B%d UNSUBSCRIBE id=%u rc=%s", i, ev.packet_id, codes);
            break;
        }
        case MQTTPROTO_BROKER_EVENT_AUTH:
            pump_logf(p, "B%d AUTH rc=%02x", i, ev.reason_code);
            break;
        case MQTTPROTO_BROKER_EVENT_DISCONNECTED:
            pump_logf(p, "B%d DISCONNECTED rc=%02x", i, ev.reason_code);
            break;
        case MQTTPROTO_BROKER_EVENT_TAKEN_OVER:
            pump_logf(p, "B%d TAKEN_OVER", i);
            break;
        default:
            fail_msg("unknown broker event %d", (int)ev.type);
        }
    }
    assert_int_equal(r, 0);
}

static void log_message(struct pump *p, int i, const mqttproto_client_event *ev)
{
    char extra[256];
    size_t len = 0;
    extra[0] = '\0';
    size_t cursor = 0;
    uint32_t id;
    bool first = true;
    while (mqttproto_subscription_identifiers_next(ev->properties, &cursor, &id)) {
        len += (size_t)snprintf(extra + len, sizeof extra - len, "%s%u", first ? " sid=" : ",", id);
        first = false;
    }
    if (mqttproto_properties_has(ev->properties, MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL)) {
        (void)snprintf(extra + len, sizeof extra - len, " exp=%u",
                       ev->properties->message_expiry_interval);
    }
    pump_logf(p, "C%d MESSAGE %.*s q%d r%d d%d '%.*s'%s", i, (int)ev->topic.len, ev->topic.data,
              (int)ev->qos, ev->retain, ev->dup, (int)ev->payload.len,
              ev->payload.len > 0 ? (const char *)ev->payload.data : "", extra);
}

static void drain_client(struct pump *p, int i)
{
    mqttproto_client *c = p->peers[i].client;
    mqttproto_client_event ev;
    int r;
    char codes[256];
    while ((r = mqttproto_client_next_event(c, &ev)) == 1) {
        switch (ev.type) {
        case MQTTPROTO_CLIENT_EVENT_CONNECTED:
            pump_logf(p, "C%d CONNECTED sp=%d", i, ev.session_present);
            break;
        case MQTTPROTO_CLIENT_EVENT_CONNECT_REFUSED:
            pump_logf(p, "C%d CONNECT_REFUSED rc=%02x", i, ev.reason_code);
            break;
        case MQTTPROTO_CLIENT_EVENT_AUTH:
            pump_logf(p, "C%d AUTH rc=%02x", i, ev.reason_code);
            break;
        case MQTTPROTO_CLIENT_EVENT_MESSAGE:
            log_message(p, i, &ev);
            break;
        case MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED:
            pump_logf(p, "C%d PUBLISH_COMPLETED id=%u rc=%02x", i, ev.packet_id, ev.reason_code);
            break;
        case MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED:
            pump_logf(p, "C%d PUBLISH_FAILED id=%u rc=%02x err=%s", i, ev.packet_id, ev.reason_code,
                      ev.error != 0 ? mqttproto_err_name(ev.error) : "0");
            break;
        case MQTTPROTO_CLIENT_EVENT_SUBSCRIBE_ACK:
            log_codes(codes, sizeof codes, ev.reason_codes, ev.reason_code_count);
            pump_logf(p, "C%d SUBSCRIBE_ACK id=%u rc=%s", i, ev.packet_id, codes);
            break;
        case MQTTPROTO_CLIENT_EVENT_UNSUBSCRIBE_ACK:
            log_codes(codes, sizeof codes, ev.reason_codes, ev.reason_code_count);
            pump_logf(p, "C%d UNSUBSCRIBE_ACK id=%u rc=%s", i, ev.packet_id, codes);
            break;
        case MQTTPROTO_CLIENT_EVENT_REQUEST_FAILED:
            pump_logf(p, "C%d REQUEST_FAILED id=%u", i, ev.packet_id);
            break;
        case MQTTPROTO_CLIENT_EVENT_DISCONNECTED:
            pump_logf(p, "C%d DISCONNECTED rc=%02x", i, ev.reason_code);
            break;
        default:
            fail_msg("unknown client event %d", (int)ev.type);
        }
    }
    assert_int_equal(r, 0);
}

/* Move what one side wants to send to the other; true when bytes moved. */
static bool move_client_to_broker(struct pump *p, int i)
{
    struct pump_peer *pe = &p->peers[i];
    const uint8_t *data;
    size_t n = mqttproto_client_get_outbound_data(pe->client, &data);
    if (n == 0) {
        return false;
    }
    if (p->chunk > 0 && n > p->chunk) {
        n = p->chunk;
    }
    if (mqttproto_broker_client_get_state(pe->conn) == MQTTPROTO_BROKER_CLIENT_CLOSING) {
        mqttproto_client_consume_outbound(pe->client, n); /* the peer stopped reading */
        return true;
    }
    ptrdiff_t r = mqttproto_broker_client_feed_bytes(pe->conn, data, n, p->now_ms);
    if (r < 0) {
        pump_logf(p, "B%d ERROR %s", i, mqttproto_err_name((int)r));
        mqttproto_client_consume_outbound(pe->client, n);
        return true;
    }
    mqttproto_client_consume_outbound(pe->client, (size_t)r);
    return r > 0;
}

static bool move_broker_to_client(struct pump *p, int i)
{
    struct pump_peer *pe = &p->peers[i];
    const uint8_t *data;
    size_t n = mqttproto_broker_client_get_outbound_data(pe->conn, &data);
    if (n == 0) {
        return false;
    }
    if (p->chunk > 0 && n > p->chunk) {
        n = p->chunk;
    }
    if (pe->client == NULL) {
        return false; /* a raw peer reads with pump_take_out_hex() */
    }
    mqttproto_client_state st = mqttproto_client_get_state(pe->client);
    if (st == MQTTPROTO_CLIENT_FAILED || st == MQTTPROTO_CLIENT_DISCONNECTED) {
        mqttproto_broker_client_consume_outbound(pe->conn, n);
        return true;
    }
    ptrdiff_t r = mqttproto_client_feed_bytes(pe->client, data, n, p->now_ms);
    if (r < 0) {
        pump_logf(p, "C%d ERROR %s", i, mqttproto_err_name((int)r));
        mqttproto_broker_client_consume_outbound(pe->conn, n);
        return true;
    }
    mqttproto_broker_client_consume_outbound(pe->conn, (size_t)r);
    return r > 0;
}

int pump_run(struct pump *p)
{
    int rounds = 0;
    for (;;) {
        bool moved = false;
        for (int i = 0; i < PUMP_MAX_PEERS; i++) {
            struct pump_peer *pe = &p->peers[i];
            if (pe->conn == NULL) {
                continue;
            }
            if (pe->client != NULL) {
                moved |= move_client_to_broker(p, i);
            }
            drain_broker(p, i);
            if (pe->client != NULL) {
                moved |= move_broker_to_client(p, i);
                drain_client(p, i);
            }
        }
        mqttproto_broker_client *w;
        while (mqttproto_broker_next_writable(p->broker, &w) == 1) {
            moved = true; /* its bytes move on the next round */
        }
        rounds++;
        assert_true(rounds < 100000);
        if (!moved) {
            return rounds;
        }
    }
}

void pump_drop(struct pump *p, int i)
{
    struct pump_peer *pe = &p->peers[i];
    if (pe->conn != NULL) {
        drain_broker(p, i);
        mqttproto_broker_client_destroy(pe->conn, p->now_ms);
        pe->conn = NULL;
    }
    if (pe->client != NULL) {
        if (mqttproto_client_get_state(pe->client) != MQTTPROTO_CLIENT_DISCONNECTED) {
            (void)mqttproto_client_connection_lost(pe->client);
        }
        drain_client(p, i);
    }
}

void pump_crash(struct pump *p, const mqttproto_broker_settings *settings)
{
    for (int i = 0; i < PUMP_MAX_PEERS; i++) {
        struct pump_peer *pe = &p->peers[i];
        /* The process dies: its broker clients are not closed one by one
           (no will, no session detach); the broker's memory just goes. */
        pe->conn = NULL;
        if (pe->client != NULL &&
            mqttproto_client_get_state(pe->client) != MQTTPROTO_CLIENT_DISCONNECTED) {
            (void)mqttproto_client_connection_lost(pe->client);
            drain_client(p, i);
        }
    }
    mqttproto_broker_destroy(p->broker);
    p->broker = NULL;
    assert_int_equal(mqttproto_broker_create(settings, &p->broker), 0);
}

void pump_advance(struct pump *p, uint64_t ms)
{
    p->now_ms += ms;
    for (int i = 0; i < PUMP_MAX_PEERS; i++) {
        struct pump_peer *pe = &p->peers[i];
        if (pe->conn != NULL && mqttproto_broker_client_get_expiry(pe->conn) <= p->now_ms) {
            int e = mqttproto_broker_client_handle_expiry(pe->conn, p->now_ms);
            if (e != 0) {
                pump_logf(p, "B%d EXPIRY %s", i, mqttproto_err_name(e));
            }
        }
        if (pe->client != NULL && mqttproto_client_get_expiry(pe->client) <= p->now_ms) {
            int e = mqttproto_client_handle_expiry(pe->client, p->now_ms);
            if (e != 0) {
                pump_logf(p, "C%d EXPIRY %s", i, mqttproto_err_name(e));
            }
        }
    }
    if (mqttproto_broker_get_expiry(p->broker) <= p->now_ms) {
        assert_int_equal(mqttproto_broker_handle_expiry(p->broker, p->now_ms), 0);
    }
}

int32_t pump_subscribe(struct pump *p, int i, const char *filter, mqttproto_qos qos)
{
    mqttproto_subscription s;
    memset(&s, 0, sizeof s);
    s.topic_filter = mqttproto_str_from_cstr(filter);
    s.max_qos = qos;
    return mqttproto_client_subscribe(p->peers[i].client, &s, 1, NULL);
}

int32_t pump_publish(struct pump *p, int i, const char *topic, const char *payload,
                     mqttproto_qos qos, bool retain)
{
    return mqttproto_client_publish(p->peers[i].client, mqttproto_str_from_cstr(topic),
                                    mqttproto_bin_make(payload, strlen(payload)), qos, retain,
                                    NULL);
}

ptrdiff_t pump_feed_raw(struct pump *p, int i, const uint8_t *data, size_t len)
{
    ptrdiff_t r = mqttproto_broker_client_feed_bytes(p->peers[i].conn, data, len, p->now_ms);
    drain_broker(p, i);
    return r;
}

const char *pump_take_out_hex(struct pump *p, int i, char *buf, size_t cap)
{
    const uint8_t *data;
    size_t n = mqttproto_broker_client_get_outbound_data(p->peers[i].conn, &data);
    size_t len = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < n && len + 3 <= cap; k++) {
        len += (size_t)snprintf(buf + len, cap - len, "%02x", data[k]);
    }
    mqttproto_broker_client_consume_outbound(p->peers[i].conn, n);
    return buf;
}
