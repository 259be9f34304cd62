/*
 * The server role on one connection: CONNECT and its answer, enhanced
 * authentication, inbound PUBLISH with QoS 1/2 flows and authorization,
 * SUBSCRIBE/UNSUBSCRIBE, keep alive, DISCONNECT, and the events that let the
 * application decide.
 */
#include "broker_internal.h"
#include "codec_internal.h"

#include <stdio.h>
#include <string.h>

/* Output held before deliveries wait in the session queue: a client that
   does not read costs at most this plus its queue. */
#define OUT_PUMP_LIMIT (256u * 1024u)

/* Events without a packet show these. */
static const mqttproto_properties no_properties;

const char *mqttproto_broker_client_state_name(int state)
{
    static const char *const names[] = {"AWAIT_CONNECT", "AUTHENTICATING", "CONNECTED", "CLOSING"};
    return state >= 0 && state < 4 ? names[state] : "UNKNOWN";
}

const char *mqttproto_broker_event_type_name(int type)
{
    static const char *const names[] = {NULL,          "CONNECT", "AUTH",         "SUBSCRIBE",
                                        "UNSUBSCRIBE", "PUBLISH", "DISCONNECTED", "TAKEN_OVER"};
    return type >= 1 && type <= 7 ? names[type] : "UNKNOWN";
}

int mqttproto_broker_client_create(mqttproto_broker *b, uint64_t now_ms,
                                   mqttproto_broker_client **out)
{
    if (b == NULL || out == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    mqttproto_broker_client *c = mem_alloc(&b->mem, sizeof *c);
    if (c == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memset(c, 0, sizeof *c);
    c->broker = b;
    if (conn_fences_make(c) != 0) {
        mem_free(&b->mem, c);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    c->state = MQTTPROTO_BROKER_CLIENT_AWAIT_CONNECT;
    mqttproto_codec_options_default(&c->in_opts);
    c->in_opts.maximum_packet_size = b->settings.maximum_packet_size;
    c->in_opts.max_user_properties = b->settings.max_user_properties;
    mqttproto_codec_options_default(&c->out_opts);
    c->now_ms = now_ms;
    if (now_ms > b->now_ms) {
        b->now_ms = now_ms;
    }
    c->last_recv_ms = now_ms;
    c->connect_deadline = now_ms + b->settings.connect_timeout_ms;
    c->next = b->conns;
    if (b->conns != NULL) {
        b->conns->prev = c;
    }
    b->conns = c;
    b->stats.connections++;
    *out = c;
    return 0;
}

static void free_aliases(mqttproto_broker_client *c)
{
    if (c->in_aliases == NULL) {
        return;
    }
    for (size_t i = 0; i < c->broker->settings.topic_alias_maximum; i++) {
        mem_free(&c->broker->mem, c->in_aliases[i]);
    }
    mem_free(&c->broker->mem, c->in_aliases);
    mem_free(&c->broker->mem, c->in_alias_lens);
    c->in_aliases = NULL;
    c->in_alias_lens = NULL;
}

static void free_conn(mqttproto_broker_client *c)
{
    mqttproto_broker *b = c->broker;
    const mqttproto_mem *m = &b->mem;
    while (c->pending_pubs != NULL) {
        struct pending_publish *p = c->pending_pubs;
        c->pending_pubs = p->next;
        broker_msg_release(b, p->msg);
        mem_free(m, p);
    }
    while (c->pending_subs != NULL) {
        struct pending_subscribe *p = c->pending_subs;
        c->pending_subs = p->next;
        conn_discard_held(b, p->held);
        mem_free(m, p);
    }
    if (c->will != NULL) {
        broker_msg_release(b, c->will);
    }
    conn_fences_free(c);
    free_aliases(c);
    bytebuf_free(&c->in, m);
    bytebuf_free(&c->out, m);
    bytebuf_free(&c->arena, m);
    mem_free(m, c->evs);
    mem_free(m, c->view);
    mem_free(m, c->connect_blob);
    mem_free(m, c->client_id);
    mem_free(m, c->username);
    mem_free(m, c->auth_method);
    mem_free(m, c);
}

static void unlink_conn(mqttproto_broker_client *c)
{
    mqttproto_broker *b = c->broker;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        b->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    if (c->in_writable) {
        /* Rare: unlink from the singly linked writable list by a walk. */
        mqttproto_broker_client **pp = &b->writable_head;
        mqttproto_broker_client *last = NULL;
        while (*pp != NULL) {
            if (*pp == c) {
                *pp = c->next_writable;
                break;
            }
            last = *pp;
            pp = &(*pp)->next_writable;
        }
        if (b->writable_tail == c) {
            b->writable_tail = last;
        }
        c->in_writable = false;
    }
    b->stats.connections--;
}

void mqttproto_broker_client_destroy(mqttproto_broker_client *c, uint64_t now_ms)
{
    if (c == NULL) {
        return;
    }
    mqttproto_broker *b = c->broker;
    struct session *s = c->session;
    if (s != NULL && s->conn == c) {
        /* [MQTT-3.1.2-10] no will after DISCONNECT 0x00 */
        struct bmsg *will = c->will_cancelled ? NULL : c->will;
        if (will != NULL) {
            c->will = NULL;
        } else if (c->will != NULL) {
            store_will_delete(b, s); /* [MQTT-3.1.2-10] */
        }
        broker_session_detach(b, s, will, c->will_delay, now_ms);
    }
    unlink_conn(c);
    free_conn(c);
}

void conn_clock(mqttproto_broker_client *c, uint64_t now_ms)
{
    if (now_ms > c->now_ms) {
        c->now_ms = now_ms;
    }
    if (now_ms > c->broker->now_ms) {
        c->broker->now_ms = now_ms;
    }
}

void conn_free_all(mqttproto_broker *b)
{
    while (b->conns != NULL) {
        mqttproto_broker_client *c = b->conns;
        unlink_conn(c);
        free_conn(c);
    }
}

/* ---- events ---- */

int conn_reserve_events(mqttproto_broker_client *c, size_t n)
{
    if (c->view == NULL) {
        /* next_event() decodes into it: held with the events, so that
           taking an event never needs memory. */
        c->view = mem_alloc(&c->broker->mem, sizeof *c->view);
        if (c->view == NULL) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
    }
    if (c->ev_cap - c->ev_count >= n) {
        return 0;
    }
    size_t cap = c->ev_cap < 8 ? 8 : c->ev_cap;
    while (cap - c->ev_count < n) {
        cap *= 2;
    }
    struct conn_event *evs = mem_alloc(&c->broker->mem, cap * sizeof *evs);
    if (evs == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < c->ev_count; i++) {
        evs[i] = c->evs[(c->ev_head + i) & (c->ev_cap - 1)];
    }
    mem_free(&c->broker->mem, c->evs);
    c->evs = evs;
    c->ev_cap = cap;
    c->ev_head = 0;
    return 0;
}

int conn_push_event(mqttproto_broker_client *c, const struct conn_event *ev)
{
    if (conn_reserve_events(c, 1) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    c->evs[(c->ev_head + c->ev_count) & (c->ev_cap - 1)] = *ev;
    c->ev_count++;
    return 0;
}

struct conn_event conn_new_event(uint8_t type, size_t off, size_t len)
{
    struct conn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.pkt_off = (uint32_t)off;
    ev.pkt_len = (uint32_t)len;
    ev.topic_off = NO_OFFSET;
    ev.codes_off = NO_OFFSET;
    return ev;
}

/* Every event was taken: what backed their views goes. An idle connection
   keeps no buffer, so that thousands of quiet clients cost little. */
void conn_release_event_memory(mqttproto_broker_client *c)
{
    if (c->ev_count != 0) {
        return;
    }
    const mqttproto_mem *m = &c->broker->mem;
    bytebuf_free(&c->arena, m);
    if (c->parsed > 0) {
        bytebuf_consume(&c->in, c->parsed);
        c->parsed = 0;
    }
    if (bytebuf_size(&c->in) == 0) {
        bytebuf_free(&c->in, m);
    }
    mem_free(m, c->view);
    c->view = NULL;
    mem_free(m, c->evs);
    c->evs = NULL;
    c->ev_cap = 0;
    c->ev_head = 0;
}

int mqttproto_broker_client_next_event(mqttproto_broker_client *c, mqttproto_broker_event *ev)
{
    if (c == NULL || ev == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    memset(ev, 0, sizeof *ev);
    ev->properties = &no_properties;
    if (c->ev_count == 0) {
        conn_release_event_memory(c);
        return 0;
    }
    struct conn_event r = c->evs[c->ev_head];
    c->ev_head = (c->ev_head + 1) & (c->ev_cap - 1);
    c->ev_count--;
    ev->type = (mqttproto_broker_event_type)r.type;
    ev->packet_id = r.packet_id;
    ev->ticket = r.ticket;
    ev->reason_code = r.reason_code;
    if (r.codes_off != NO_OFFSET) {
        ev->reason_codes = c->arena.data + r.codes_off;
        ev->reason_code_count = r.codes_len;
    }
    if (r.pkt_len == 0) {
        return 1;
    }
    if (c->view == NULL) {
        c->view = mem_alloc(&c->broker->mem, sizeof *c->view);
        if (c->view == NULL) {
            /* The event is given without its packet's views. */
            return 1;
        }
    }
    struct event_view *v = c->view;
    mqttproto_packet *p = &v->pkt;
    if (mqttproto_decode(bytebuf_data(&c->in) + r.pkt_off, r.pkt_len, &c->in_opts, p) <= 0) {
        return 1; /* cannot happen: the packet was checked when it came */
    }
    switch (p->type) {
    case MQTTPROTO_PACKET_CONNECT:
        ev->client_id = p->connect.client_id;
        ev->clean_start = p->connect.clean_start;
        ev->keep_alive = p->connect.keep_alive;
        /* The decoder leaves absent fields unspecified: empty views here. */
        ev->has_username = p->connect.has_username;
        if (p->connect.has_username) {
            ev->username = p->connect.username;
        }
        ev->has_password = p->connect.has_password;
        if (p->connect.has_password) {
            ev->password = p->connect.password;
        }
        ev->has_will = p->connect.has_will;
        ev->will = p->connect.has_will ? &p->connect.will : NULL;
        ev->properties = &p->connect.properties;
        break;
    case MQTTPROTO_PACKET_PUBLISH:
        ev->topic = p->publish.topic;
        if (r.topic_off != NO_OFFSET) {
            ev->topic.data = (const char *)c->arena.data + r.topic_off;
            ev->topic.len = r.topic_len;
        }
        ev->payload = p->publish.payload;
        ev->qos = p->publish.qos;
        ev->retain = p->publish.retain;
        ev->properties = &p->publish.properties;
        break;
    case MQTTPROTO_PACKET_SUBSCRIBE:
        v->subs = p->subscribe.subscriptions;
        ev->subscriptions = &v->subs;
        ev->properties = &p->subscribe.properties;
        break;
    case MQTTPROTO_PACKET_UNSUBSCRIBE:
        v->filters = p->unsubscribe.topic_filters;
        ev->topic_filters = &v->filters;
        ev->properties = &p->unsubscribe.properties;
        break;
    case MQTTPROTO_PACKET_DISCONNECT:
    case MQTTPROTO_PACKET_AUTH:
        ev->properties = &p->disconnect.properties;
        break;
    default:
        break;
    }
    return 1;
}

/* ---- output ---- */

/*
 * The CONNACK return code of MQTT 3.1.1 and 3.1 for an MQTT 5 CONNACK reason
 * code, or -1 when none applies: the connection is then closed without a
 * CONNACK [MQTT-3.2.2-6] (3.1.1). 0x84 -> 1 (unacceptable protocol version),
 * 0x85 -> 2 (identifier rejected), 0x88 0x89 0x97 0x9F -> 3 (server
 * unavailable), 0x86 -> 4 (bad user name or password), 0x87 0x8A 0x8C -> 5
 * (not authorized).
 */
static int v3_return_code(uint8_t rc)
{
    switch (rc) {
    case MQTTPROTO_RC_SUCCESS:
        return MQTTPROTO_CONNACK_ACCEPTED;
    case MQTTPROTO_RC_UNSUPPORTED_PROTOCOL_VERSION:
        return MQTTPROTO_CONNACK_UNACCEPTABLE_PROTOCOL_VERSION;
    case MQTTPROTO_RC_CLIENT_IDENTIFIER_NOT_VALID:
        return MQTTPROTO_CONNACK_IDENTIFIER_REJECTED;
    case MQTTPROTO_RC_SERVER_UNAVAILABLE:
    case MQTTPROTO_RC_SERVER_BUSY:
    case MQTTPROTO_RC_QUOTA_EXCEEDED:
    case MQTTPROTO_RC_CONNECTION_RATE_EXCEEDED:
        return MQTTPROTO_CONNACK_SERVER_UNAVAILABLE;
    case MQTTPROTO_RC_BAD_USERNAME_OR_PASSWORD:
        return MQTTPROTO_CONNACK_BAD_USERNAME_OR_PASSWORD;
    case MQTTPROTO_RC_NOT_AUTHORIZED:
    case MQTTPROTO_RC_BANNED:
    case MQTTPROTO_RC_BAD_AUTHENTICATION_METHOD:
        return MQTTPROTO_CONNACK_NOT_AUTHORIZED;
    default:
        return -1;
    }
}

int conn_write_packet(mqttproto_broker_client *c, const mqttproto_packet *pkt)
{
    mqttproto_packet v3;
    if (c->out_opts.protocol_version != MQTTPROTO_PROTOCOL_V5) {
        if (pkt->type == MQTTPROTO_PACKET_DISCONNECT) {
            /* A 3.1.1 server sends no DISCONNECT: the connection just closes. */
            return 0;
        }
        if (pkt->type == MQTTPROTO_PACKET_CONNACK) {
            int code = v3_return_code(pkt->connack.reason_code);
            if (code < 0) {
                return 0;
            }
            v3 = *pkt;
            v3.connack.reason_code = (uint8_t)code;
            pkt = &v3;
        }
    }
    ptrdiff_t size = mqttproto_encoded_size(pkt, &c->out_opts);
    mqttproto_packet trimmed;
    if (size == MQTTPROTO_ERR_PACKET_TOO_LARGE) {
        /* Leave out what the client may do without [MQTT-3.14.2-3]
           [MQTT-3.14.2-4] [MQTT-3.15.2-2] [MQTT-3.15.2-3]. */
        trimmed = *pkt;
        mqttproto_properties *p = NULL;
        if (pkt->type == MQTTPROTO_PACKET_CONNACK) {
            p = &trimmed.connack.properties;
        } else if (pkt->type == MQTTPROTO_PACKET_DISCONNECT || pkt->type == MQTTPROTO_PACKET_AUTH) {
            p = &trimmed.disconnect.properties;
        } else if (pkt->type == MQTTPROTO_PACKET_SUBACK || pkt->type == MQTTPROTO_PACKET_UNSUBACK) {
            p = &trimmed.suback.properties;
        }
        if (p == NULL) {
            return MQTTPROTO_ERR_PACKET_TOO_LARGE;
        }
        p->present &= ~(MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_REASON_STRING) |
                        MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_USER_PROPERTY));
        p->user_properties = NULL;
        p->user_property_count = 0;
        p->wire.data = NULL;
        p->wire.len = 0;
        pkt = &trimmed;
        size = mqttproto_encoded_size(pkt, &c->out_opts);
    }
    if (size < 0) {
        return (int)size;
    }
    conn_out_fence(c);
    uint8_t *dst = bytebuf_reserve(&c->out, &c->broker->mem, (size_t)size);
    if (dst == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    ptrdiff_t n = mqttproto_encode(pkt, &c->out_opts, dst, (size_t)size);
    if (n < 0) {
        return (int)n;
    }
    bytebuf_commit(&c->out, (size_t)n);
    return 0;
}

/* An acknowledgement: 4 bytes for success, 5 with a reason code. */
int conn_write_short(mqttproto_broker_client *c, uint8_t first, uint16_t id, uint8_t rc)
{
    conn_out_fence(c);
    uint8_t *p = bytebuf_reserve(&c->out, &c->broker->mem, 5);
    if (p == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    if (c->out_opts.protocol_version != MQTTPROTO_PROTOCOL_V5) {
        rc = 0; /* a 3.1.1 acknowledgement has only the packet identifier */
    }
    p[0] = first;
    p[1] = rc == 0 ? 2 : 3;
    p[2] = (uint8_t)(id >> 8);
    p[3] = (uint8_t)id;
    p[4] = rc;
    bytebuf_commit(&c->out, rc == 0 ? 4u : 5u);
    return 0;
}

size_t mqttproto_broker_client_get_outbound_data(mqttproto_broker_client *c, const uint8_t **data)
{
    if (c == NULL) {
        if (data != NULL) {
            *data = NULL;
        }
        return 0;
    }
    if (bytebuf_size(&c->out) < OUT_PUMP_LIMIT) {
        conn_pump(c);
    }
    size_t n = conn_out_ready(c, bytebuf_size(&c->out));
    if (data != NULL) {
        *data = n == 0 ? NULL : bytebuf_data(&c->out);
    }
    return n;
}

void mqttproto_broker_client_consume_outbound(mqttproto_broker_client *c, size_t n)
{
    if (c != NULL) {
        /* Held bytes are not there to consume. */
        n = conn_out_ready(c, n);
        bytebuf_consume(&c->out, n);
        conn_out_consumed(c, n);
        if (bytebuf_size(&c->out) == 0) {
            bytebuf_free(&c->out, &c->broker->mem); /* idle: hold nothing */
        }
    }
}

size_t mqttproto_broker_client_copy_outbound(mqttproto_broker_client *c, uint8_t *buf, size_t cap)
{
    const uint8_t *data;
    size_t n = mqttproto_broker_client_get_outbound_data(c, &data);
    if (buf == NULL || n == 0) {
        return 0;
    }
    if (n > cap) {
        n = cap;
    }
    memcpy(buf, data, n);
    mqttproto_broker_client_consume_outbound(c, n);
    return n;
}

/* ---- accessors ---- */

mqttproto_broker_client_state mqttproto_broker_client_get_state(const mqttproto_broker_client *c)
{
    return c == NULL ? MQTTPROTO_BROKER_CLIENT_CLOSING : c->state;
}

int mqttproto_broker_client_error(const mqttproto_broker_client *c)
{
    return c == NULL ? 0 : c->error;
}

mqttproto_str mqttproto_broker_client_client_id(const mqttproto_broker_client *c)
{
    mqttproto_str s = {NULL, 0};
    if (c != NULL) {
        s.data = c->client_id;
        s.len = c->client_id_len;
    }
    return s;
}

mqttproto_str mqttproto_broker_client_username(const mqttproto_broker_client *c)
{
    mqttproto_str s = {NULL, 0};
    if (c != NULL) {
        s.data = c->username;
        s.len = c->username_len;
    }
    return s;
}

void mqttproto_broker_client_set_user_data(mqttproto_broker_client *c, void *user_data)
{
    if (c != NULL) {
        c->user_data = user_data;
    }
}

void *mqttproto_broker_client_get_user_data(const mqttproto_broker_client *c)
{
    return c == NULL ? NULL : c->user_data;
}

static bool copy_bytes(mqttproto_broker_client *c, char **dst, size_t *dst_len, const void *src,
                       size_t len)
{
    char *p = NULL;
    if (len > 0) {
        p = mem_alloc(&c->broker->mem, len);
        if (p == NULL) {
            return false;
        }
        memcpy(p, src, len);
    }
    mem_free(&c->broker->mem, *dst);
    *dst = p;
    *dst_len = len;
    return true;
}

/* ---- closing ---- */

void conn_enter_closing(mqttproto_broker_client *c)
{
    c->state = MQTTPROTO_BROKER_CLIENT_CLOSING;
    broker_mark_writable(c->broker, c);
}

/* [MQTT-4.13.1-1] a Malformed Packet or Protocol Error closes the
   connection, after a DISCONNECT with its reason code */
int conn_fail(mqttproto_broker_client *c, int err)
{
    if (c->state == MQTTPROTO_BROKER_CLIENT_CONNECTED) {
        mqttproto_packet d;
        memset(&d, 0, sizeof d);
        d.type = MQTTPROTO_PACKET_DISCONNECT;
        d.disconnect.reason_code = mqttproto_err_reason_code(err);
        mqttproto_properties_init(&d.disconnect.properties);
        (void)conn_write_packet(c, &d);
    }
    c->error = err;
    conn_enter_closing(c);
    return err;
}

void conn_taken_over(mqttproto_broker_client *c)
{
    mqttproto_packet d;
    memset(&d, 0, sizeof d);
    d.type = MQTTPROTO_PACKET_DISCONNECT;
    d.disconnect.reason_code = MQTTPROTO_RC_SESSION_TAKEN_OVER; /* [MQTT-3.1.4-3] */
    mqttproto_properties_init(&d.disconnect.properties);
    struct conn_event ev = conn_new_event(MQTTPROTO_BROKER_EVENT_TAKEN_OVER, 0, 0);
    (void)conn_push_event(c, &ev);
    c->session = NULL;
    if (c->state == MQTTPROTO_BROKER_CLIENT_CLOSING) {
        return; /* closed already: nothing after its DISCONNECT [MQTT-3.14.4-1], its error stays */
    }
    (void)conn_write_packet(c, &d);
    c->error = MQTTPROTO_ERR_SESSION_TAKEN_OVER;
    conn_enter_closing(c);
}

int mqttproto_broker_client_disconnect(mqttproto_broker_client *c, uint8_t reason_code,
                                       const mqttproto_properties *props)
{
    if (c == NULL || !mqttproto_reason_code_allowed(reason_code, MQTTPROTO_PACKET_DISCONNECT)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (c->state != MQTTPROTO_BROKER_CLIENT_CONNECTED) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    mqttproto_packet d;
    memset(&d, 0, sizeof d);
    d.type = MQTTPROTO_PACKET_DISCONNECT;
    d.disconnect.reason_code = reason_code;
    if (props != NULL) {
        d.disconnect.properties = *props;
        if (mqttproto_properties_has(props, MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL)) {
            return MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED; /* [MQTT-3.14.2-2] */
        }
    } else {
        mqttproto_properties_init(&d.disconnect.properties);
    }
    int e = conn_write_packet(c, &d);
    if (e == 0) {
        conn_enter_closing(c);
    }
    return e;
}

/* ---- timers ---- */

uint64_t mqttproto_broker_client_get_expiry(const mqttproto_broker_client *c)
{
    if (c == NULL || c->state == MQTTPROTO_BROKER_CLIENT_CLOSING) {
        return UINT64_MAX;
    }
    if (c->state != MQTTPROTO_BROKER_CLIENT_CONNECTED) {
        return c->connect_deadline;
    }
    if (c->keep_alive == 0) {
        return UINT64_MAX;
    }
    return c->last_recv_ms + (uint64_t)c->keep_alive * 1500u; /* [MQTT-3.1.2-22] */
}

int mqttproto_broker_client_handle_expiry(mqttproto_broker_client *c, uint64_t now_ms)
{
    if (c == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    conn_clock(c, now_ms);
    uint64_t due = mqttproto_broker_client_get_expiry(c);
    if (now_ms < due) {
        return 0;
    }
    if (c->state != MQTTPROTO_BROKER_CLIENT_CONNECTED) {
        c->error = MQTTPROTO_ERR_BAD_STATE;
        conn_enter_closing(c);
        return MQTTPROTO_ERR_BAD_STATE;
    }
    return conn_fail(c, MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT);
}

/* ---- CONNECT ---- */

static int send_connack(mqttproto_broker_client *c, uint8_t rc, bool session_present,
                        const mqttproto_properties *props)
{
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_CONNACK;
    pkt.connack.reason_code = rc;
    pkt.connack.session_present = session_present;
    if (props != NULL) {
        pkt.connack.properties = *props;
    } else {
        mqttproto_properties_init(&pkt.connack.properties);
    }
    return conn_write_packet(c, &pkt);
}

/* [MQTT-3.1.3-5] every Client Identifier the codec accepts is accepted
   here; the application may refuse one with 0x85. */
int conn_handle_connect(mqttproto_broker_client *c, const mqttproto_packet *pkt, size_t off,
                        size_t len)
{
    if (c->state != MQTTPROTO_BROKER_CLIENT_AWAIT_CONNECT) {
        return MQTTPROTO_ERR_UNEXPECTED_PACKET; /* [MQTT-3.1.0-2] */
    }
    const mqttproto_connect *cn = &pkt->connect;
    const mqttproto_properties *p = &cn->properties;
    mqttproto_broker *b = c->broker;
    if (cn->has_will && (uint8_t)cn->will.qos > b->settings.maximum_qos) {
        return MQTTPROTO_ERR_QOS_NOT_SUPPORTED; /* [MQTT-3.2.2-12] CONNACK 0x9B */
    }
    if (cn->has_will && cn->will.retain && !b->settings.retain_available) {
        return MQTTPROTO_ERR_RETAIN_NOT_SUPPORTED; /* [MQTT-3.2.2-13] CONNACK 0x9A */
    }
    if (conn_reserve_events(c, 1) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    uint8_t *blob = mem_alloc(&b->mem, len);
    if (blob == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memcpy(blob, bytebuf_data(&c->in) + off, len);
    if (!copy_bytes(c, &c->auth_method, &c->auth_method_len, p->authentication_method.data,
                    mqttproto_properties_has(p, MQTTPROTO_PROP_AUTHENTICATION_METHOD)
                        ? p->authentication_method.len
                        : 0) ||
        !copy_bytes(c, &c->username, &c->username_len, cn->username.data,
                    cn->has_username ? cn->username.len : 0)) {
        mem_free(&b->mem, blob);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    mem_free(&b->mem, c->connect_blob);
    c->connect_blob = blob;
    c->connect_len = len;
    c->clean_start = cn->clean_start;
    c->no_problem_info = mqttproto_properties_has(p, MQTTPROTO_PROP_REQUEST_PROBLEM_INFORMATION) &&
                         p->request_problem_information == 0;
    c->keep_alive = cn->keep_alive;
    c->session_expiry = mqttproto_properties_has(p, MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL)
                            ? p->session_expiry_interval
                            : 0;
    if (cn->protocol_version != MQTTPROTO_PROTOCOL_V5) {
        /* Clean Session 1 is Clean Start 1 with Session Expiry 0, Clean
           Session 0 is Clean Start 0 with Session Expiry 0xFFFFFFFF (MQTT
           5.0 section 3.1.2.11.2, non-normative comment). */
        c->session_expiry = cn->clean_start ? 0 : 0xFFFFFFFFu;
    }
    c->connect_session_expiry = c->session_expiry;
    c->peer_receive_maximum =
        mqttproto_properties_has(p, MQTTPROTO_PROP_RECEIVE_MAXIMUM) ? p->receive_maximum : 65535;
    c->peer_maximum_packet_size = mqttproto_properties_has(p, MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE)
                                      ? p->maximum_packet_size
                                      : MQTTPROTO_MAX_PACKET_SIZE;
    /* From here on every packet, the CONNACK and AUTH among them, fits the
       client's limit [MQTT-3.1.2-24] [MQTT-3.2.2-19] [MQTT-3.2.2-20]. */
    c->out_opts.maximum_packet_size = c->peer_maximum_packet_size;
    struct conn_event ev = conn_new_event(MQTTPROTO_BROKER_EVENT_CONNECT, off, len);
    (void)conn_push_event(c, &ev);
    c->state = MQTTPROTO_BROKER_CLIENT_AUTHENTICATING;
    return 0;
}

/* Reserve the output a success CONNACK with properties @p cp needs. */
static int reserve_connack(mqttproto_broker_client *c, const mqttproto_properties *cp)
{
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_CONNACK;
    pkt.connack.properties = *cp;
    ptrdiff_t size = mqttproto_encoded_size(&pkt, NULL);
    if (size > 0 && bytebuf_reserve(&c->out, &c->broker->mem, (size_t)size) == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    return 0;
}

/* "auto-N", not used by any session. */
/* [MQTT-3.1.3-6] [MQTT-3.1.3-7] [MQTT-3.2.2-16] unique, and used as if
   the client had sent it */
static int assign_client_id(mqttproto_broker_client *c)
{
    mqttproto_broker *b = c->broker;
    char id[32];
    for (;;) {
        int n = snprintf(id, sizeof id, "auto-%llu", (unsigned long long)++b->assigned_counter);
        if (n <= 0) {
            return MQTTPROTO_ERR_INVALID_ARGUMENT;
        }
        if (broker_valid_client_id_free(b, id, (size_t)n)) {
            if (!copy_bytes(c, &c->client_id, &c->client_id_len, id, (size_t)n)) {
                return MQTTPROTO_ERR_NO_MEMORY;
            }
            c->assigned_id = true;
            return 0;
        }
    }
}

/* The will of a CONNECT as a message: its properties minus Will Delay. */
/* [MQTT-3.1.2-7] the will is stored with the session it belongs to */
static int make_will(mqttproto_broker_client *c, const mqttproto_connect *cn)
{
    if (!cn->has_will) {
        return 0;
    }
    mqttproto_publish p;
    memset(&p, 0, sizeof p);
    p.topic = cn->will.topic;
    p.payload = cn->will.payload;
    p.qos = cn->will.qos;
    p.retain = cn->will.retain;
    p.properties = cn->will.properties;
    c->will_delay = mqttproto_properties_has(&p.properties, MQTTPROTO_PROP_WILL_DELAY_INTERVAL)
                        ? p.properties.will_delay_interval
                        : 0;
    p.properties.present &= ~MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_WILL_DELAY_INTERVAL);
    int e;
    c->will = broker_msg_new(c->broker, &p, c->now_ms, &e);
    return c->will == NULL ? e : 0;
}

static int build_connack_props(mqttproto_broker_client *c, const mqttproto_properties *extra,
                               uint32_t granted_expiry, bool expiry_lowered,
                               mqttproto_properties *out)
{
    const mqttproto_broker_settings *s = &c->broker->settings;
    if (extra != NULL) {
        *out = *extra;
    } else {
        mqttproto_properties_init(out);
    }
    const int ctx = MQTTPROTO_PACKET_CONNACK;
    int e = 0;
    if (expiry_lowered) {
        e = mqttproto_properties_set_int(out, ctx, MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL,
                                         granted_expiry);
    }
    if (e == 0 && s->receive_maximum != 65535) {
        e = mqttproto_properties_set_int(out, ctx, MQTTPROTO_PROP_RECEIVE_MAXIMUM,
                                         s->receive_maximum);
    }
    /* [MQTT-3.2.2-9] */
    if (e == 0 && s->maximum_qos < 2) {
        e = mqttproto_properties_set_int(out, ctx, MQTTPROTO_PROP_MAXIMUM_QOS, s->maximum_qos);
    }
    if (e == 0 && !s->retain_available) {
        e = mqttproto_properties_set_int(out, ctx, MQTTPROTO_PROP_RETAIN_AVAILABLE, 0);
    }
    if (e == 0) {
        e = mqttproto_properties_set_int(out, ctx, MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE,
                                         s->maximum_packet_size);
    }
    if (e == 0 && c->assigned_id) {
        mqttproto_str id = {c->client_id, c->client_id_len};
        e = mqttproto_properties_set_str(out, ctx, MQTTPROTO_PROP_ASSIGNED_CLIENT_IDENTIFIER, id);
    }
    if (e == 0 && s->topic_alias_maximum > 0) {
        e = mqttproto_properties_set_int(out, ctx, MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM,
                                         s->topic_alias_maximum);
    }
    if (e == 0 && !s->wildcard_subscription_available) {
        e = mqttproto_properties_set_int(out, ctx, MQTTPROTO_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE,
                                         0);
    }
    if (e == 0 && !s->subscription_identifier_available) {
        e = mqttproto_properties_set_int(out, ctx, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE,
                                         0);
    }
    if (e == 0 && !s->shared_subscription_available) {
        e = mqttproto_properties_set_int(out, ctx, MQTTPROTO_PROP_SHARED_SUBSCRIPTION_AVAILABLE, 0);
    }
    /* [MQTT-3.2.2-22] without Server Keep Alive the client's value holds;
       a 3.1.1 client cannot be told another */
    if (e == 0 && s->max_keep_alive > 0 && c->out_opts.protocol_version == MQTTPROTO_PROTOCOL_V5 &&
        (c->keep_alive == 0 || c->keep_alive > s->max_keep_alive)) {
        c->keep_alive = s->max_keep_alive;
        e = mqttproto_properties_set_int(out, ctx, MQTTPROTO_PROP_SERVER_KEEP_ALIVE,
                                         s->max_keep_alive);
    }
    if (e == 0 && c->auth_method_len > 0) {
        mqttproto_str m = {c->auth_method, c->auth_method_len};
        e = mqttproto_properties_set_str(out, ctx, MQTTPROTO_PROP_AUTHENTICATION_METHOD, m);
    }
    return e;
}

int mqttproto_broker_client_acknowledge_connect(mqttproto_broker_client *c, uint8_t reason_code,
                                                mqttproto_str username,
                                                const mqttproto_properties *props, uint64_t now_ms)
{
    if (c == NULL || !mqttproto_reason_code_allowed(reason_code, MQTTPROTO_PACKET_CONNACK)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (c->state != MQTTPROTO_BROKER_CLIENT_AUTHENTICATING) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    conn_clock(c, now_ms);
    mqttproto_broker *b = c->broker;
    mqttproto_packet pkt;
    if (mqttproto_decode(c->connect_blob, c->connect_len, &c->in_opts, &pkt) <= 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    const mqttproto_connect *cn = &pkt.connect;
    mqttproto_properties extra;
    if (props != NULL && mqttproto_properties_has(props, MQTTPROTO_PROP_RESPONSE_INFORMATION) &&
        !(mqttproto_properties_has(&cn->properties, MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION) &&
          cn->properties.request_response_information == 1)) {
        /* [MQTT-3.1.2-28] Response Information only when it was asked for */
        extra = *props;
        extra.present &= ~MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_RESPONSE_INFORMATION);
        props = &extra;
    }
    /* [MQTT-3.1.4-2] [MQTT-3.1.3-8] [MQTT-3.2.2-7] [MQTT-4.12.0-4] a refusal
       (e.g. 0x85, 0x86, 0x87) is sent and the connection closes */
    if (reason_code >= 0x80) {
        int e = send_connack(c, reason_code, false, props);
        if (e == 0) {
            conn_enter_closing(c);
        }
        return e;
    }
    int e = 0;
    if (cn->client_id.len == 0) {
        e = assign_client_id(c);
    } else if (!copy_bytes(c, &c->client_id, &c->client_id_len, cn->client_id.data,
                           cn->client_id.len)) {
        e = MQTTPROTO_ERR_NO_MEMORY;
    }
    if (e == 0 && username.len > 0 &&
        !copy_bytes(c, &c->username, &c->username_len, username.data, username.len)) {
        e = MQTTPROTO_ERR_NO_MEMORY;
    }
    if (e == 0 && c->will == NULL) {
        e = make_will(c, cn);
    }
    uint32_t expiry = c->session_expiry;
    bool lowered = expiry > b->settings.max_session_expiry;
    if (lowered) {
        expiry = b->settings.max_session_expiry;
    }
    mqttproto_properties cp;
    if (e == 0) {
        e = build_connack_props(c, props, expiry, lowered, &cp);
    }
    if (e != 0) {
        return e;
    }
    /* Room for the CONNACK, and for what a takeover gives the old
       connection, before anything changes: the packet, its session and
       the takeover then do not depend on memory. */
    struct session *s = broker_session_find(b, c->client_id, c->client_id_len);
    e = reserve_connack(c, &cp);
    if (e == 0 && s != NULL && s->conn != NULL &&
        (bytebuf_reserve(&s->conn->out, &b->mem, 8) == NULL ||
         conn_reserve_events(s->conn, 1) != 0)) {
        e = MQTTPROTO_ERR_NO_MEMORY;
    }
    if (e != 0) {
        return e;
    }
    /* The session: taken over, discarded or resumed. */
    if (s != NULL && s->conn != NULL) {
        mqttproto_broker_client *old = s->conn;
        struct bmsg *old_will = old->will_cancelled ? NULL : old->will;
        if (old->will_cancelled && old->will != NULL) {
            broker_msg_release(b, old->will); /* DISCONNECT 0x00 dropped it [MQTT-3.1.2-10] */
        }
        old->will = NULL;
        s->conn = NULL;
        conn_taken_over(old);
        if (old_will != NULL) {
            /* Published now unless the new connection resumes the session
               within the will delay [MQTT-3.1.3-9]. */
            if (old->will_delay == 0 || c->clean_start) {
                s->will = old_will;
                s->will_at = c->now_ms;
                /* Due now: in the timer heap, so that the expiry run below
                   (or the session's end) publishes it [MQTT-3.1.2-8]. */
                broker_timer_update(b, s);
            } else {
                broker_msg_release(b, old_will);
            }
        }
    }
    bool present = false;
    /* [MQTT-3.1.4-4] [MQTT-3.1.2-5] resumed with Clean Start 0,
       [MQTT-3.1.2-6] created when none exists */
    if (s != NULL && c->clean_start) {
        /* [MQTT-3.1.2-4]; out of memory, called again it ends it then */
        e = broker_session_end(b, s, c->now_ms);
        if (e != 0) {
            return e;
        }
        s = NULL;
    } else if (s != NULL) {
        /* [MQTT-3.2.2-2] Session Present: set below, after the will */
        if (s->will != NULL) {
            if (s->will_at <= c->now_ms) {
                /* A will due now (a takeover without delay) still goes. */
                e = mqttproto_broker_handle_expiry(b, c->now_ms);
                if (e != 0) {
                    return e;
                }
            } else {
                broker_msg_release(b, s->will); /* [MQTT-3.1.3-9] */
                s->will = NULL;
            }
        }
        s = broker_session_find(b, c->client_id, c->client_id_len);
        present = s != NULL; /* [MQTT-3.2.2-2] */
    }
    if (s == NULL) {
        e = broker_session_create(b, c->client_id, c->client_id_len, &s);
        if (e == MQTTPROTO_ERR_QUEUE_FULL) {
            e = send_connack(c, MQTTPROTO_RC_QUOTA_EXCEEDED, false, NULL);
            if (e == 0) {
                conn_enter_closing(c);
            }
            return e;
        }
        if (e != 0) {
            return e;
        }
    }
    /* [MQTT-3.1.4-5] */
    size_t connack_at = bytebuf_size(&c->out);
    e = send_connack(c, MQTTPROTO_RC_SUCCESS, present, &cp); /* [MQTT-3.2.2-3] */
    if (e != 0) {
        return e;
    }
    s->conn = c;
    s->expiry_interval = expiry;
    s->expires_at = UINT64_MAX;
    broker_timer_update(b, s);
    /* The session as it now is, and the connection's will, which goes out
       after a restart if the connection was open then; the CONNACK waits
       for them. */
    store_session_sync(b, s);
    if (c->will != NULL) {
        store_will_put(b, s, c->will, c->will_delay, UINT64_MAX);
    } else {
        store_will_delete(b, s);
    }
    if (b->store_hold && b->store_hold_seq > b->store_synced) {
        conn_fence_at(c, connack_at);
    }
    c->session = s;
    c->session_expiry = expiry;
    c->state = MQTTPROTO_BROKER_CLIENT_CONNECTED;
    c->last_recv_ms = c->now_ms;
    c->out_opts.maximum_packet_size = c->peer_maximum_packet_size;
    mem_free(&b->mem, c->connect_blob);
    c->connect_blob = NULL;
    session_resume(s); /* [MQTT-4.4.0-1] */
    broker_mark_writable(b, c);
    /* Packets that came after the CONNECT waited for this answer. */
    (void)conn_process_input(c);
    return 0;
}

/* ---- AUTH ---- */

static bool method_matches(const mqttproto_broker_client *c, const mqttproto_properties *p)
{
    return mqttproto_properties_has(p, MQTTPROTO_PROP_AUTHENTICATION_METHOD) &&
           p->authentication_method.len == c->auth_method_len &&
           memcmp(p->authentication_method.data, c->auth_method, c->auth_method_len) == 0;
}

int conn_handle_auth(mqttproto_broker_client *c, const mqttproto_packet *pkt, size_t off,
                     size_t len)
{
    uint8_t rc = pkt->auth.reason_code;
    if (c->auth_method_len == 0) {
        return MQTTPROTO_ERR_UNEXPECTED_PACKET; /* [MQTT-4.12.0-1]-style: no method */
    }
    if (!method_matches(c, &pkt->auth.properties)) {
        return MQTTPROTO_ERR_AUTH_METHOD_MISMATCH; /* [MQTT-4.12.0-5] */
    }
    if (c->state == MQTTPROTO_BROKER_CLIENT_AUTHENTICATING) {
        if (rc != MQTTPROTO_RC_CONTINUE_AUTHENTICATION) {
            return MQTTPROTO_ERR_UNEXPECTED_PACKET;
        }
    } else if (rc == MQTTPROTO_RC_REAUTHENTICATE) {
        if (c->reauthenticating) {
            return MQTTPROTO_ERR_UNEXPECTED_PACKET;
        }
        c->reauthenticating = true;
    } else if (rc != MQTTPROTO_RC_CONTINUE_AUTHENTICATION || !c->reauthenticating) {
        return MQTTPROTO_ERR_UNEXPECTED_PACKET;
    }
    struct conn_event ev = conn_new_event(MQTTPROTO_BROKER_EVENT_AUTH, off, len);
    ev.reason_code = rc;
    return conn_push_event(c, &ev);
}

int mqttproto_broker_client_auth(mqttproto_broker_client *c, uint8_t reason_code,
                                 mqttproto_bin data, const mqttproto_properties *props)
{
    if (c == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (c->auth_method_len == 0) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    bool connecting = c->state == MQTTPROTO_BROKER_CLIENT_AUTHENTICATING;
    bool reauth = c->state == MQTTPROTO_BROKER_CLIENT_CONNECTED && c->reauthenticating;
    /* [MQTT-4.12.0-2] more data is asked for with 0x18 */
    if (reason_code == MQTTPROTO_RC_CONTINUE_AUTHENTICATION) {
        if (!connecting && !reauth) {
            return MQTTPROTO_ERR_BAD_STATE;
        }
    } else if (reason_code == MQTTPROTO_RC_SUCCESS) {
        if (!reauth) {
            return MQTTPROTO_ERR_BAD_STATE; /* a connect ends with CONNACK */
        }
    } else {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_AUTH;
    pkt.auth.reason_code = reason_code;
    if (props != NULL) {
        pkt.auth.properties = *props;
    } else {
        mqttproto_properties_init(&pkt.auth.properties);
    }
    mqttproto_properties *p = &pkt.auth.properties;
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_AUTHENTICATION_METHOD) ||
        mqttproto_properties_has(p, MQTTPROTO_PROP_AUTHENTICATION_DATA)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (c->no_problem_info) {
        /* [MQTT-3.1.2-29] no Reason String or User Properties in AUTH */
        p->present &= ~(MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_REASON_STRING) |
                        MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_USER_PROPERTY));
        p->user_properties = NULL;
        p->user_property_count = 0;
        p->wire.data = NULL;
        p->wire.len = 0;
    }
    mqttproto_str method = {c->auth_method, c->auth_method_len};
    int e = mqttproto_properties_set_str(p, MQTTPROTO_PACKET_AUTH,
                                         MQTTPROTO_PROP_AUTHENTICATION_METHOD, method);
    if (e == 0 && data.len > 0) {
        e = mqttproto_properties_set_bin(p, MQTTPROTO_PACKET_AUTH,
                                         MQTTPROTO_PROP_AUTHENTICATION_DATA, data);
    }
    if (e == 0) {
        e = conn_write_packet(c, &pkt);
    }
    if (e == 0 && reason_code == MQTTPROTO_RC_SUCCESS) {
        c->reauthenticating = false;
    }
    return e;
}
