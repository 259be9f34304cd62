/*
 * The blocking client: a poll() loop around one mqttproto_client and one
 * transport chain (examples/transport), run inside each call until the
 * call's exchange is over.
 */
#include "mqttproto_blocking.h"

#include "client_chain.h"
#include "layer.h"
#include "tls_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 16384

enum wait_kind { WAIT_NONE, WAIT_SUBSCRIBE, WAIT_UNSUBSCRIBE };

struct msg_node {
    mqttproto_blocking_message m; /* first: message_free() casts back */
    struct msg_node *next;
};

struct sub_rec {
    char *filter;
    mqttproto_subscription sub; /* topic_filter views filter */
};

struct mqttproto_blocking {
    mqttproto_blocking_options o;
    mqttproto_client *mc;
    tls_mem_ctx *tls_ctx;
    int fd;
    xport_chain chain;
    tbuf in; /* MQTT bytes the state machine has not taken yet */

    bool ever_connected;
    bool session_present;
    int connack; /* 0 waiting, 1 accepted, -1 refused */
    int lost;    /* the error that ended the connection, or 0 */

    /* The publish being waited for (apart from SUBSCRIBE/UNSUBSCRIBE, so
       that a re-subscription after a reconnect cannot hide its answer). */
    int32_t pub_pid;
    bool pub_done;
    int pub_result;

    /* The SUBSCRIBE or UNSUBSCRIBE being waited for. */
    enum wait_kind wait_kind;
    int32_t wait_pid;
    bool wait_done;
    int wait_result;
    uint8_t *wait_codes;
    size_t wait_count;

    struct msg_node *head, *tail;

    struct sub_rec *subs;
    size_t nsubs, capsubs;

    uint8_t reason_code;
    int mqtt_error;
    unsigned reconnects;
    char errmsg[512];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static __attribute__((format(printf, 2, 3))) void set_msg(mqttproto_blocking *c, const char *fmt,
                                                          ...)
{
    if (c->errmsg[0] != '\0') {
        return; /* the first reason of a failure is the one that counts */
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
}

static void begin_call(mqttproto_blocking *c)
{
    c->errmsg[0] = '\0';
    c->reason_code = 0;
    c->mqtt_error = 0;
}

const char *mqttproto_blocking_err_name(int err)
{
    switch (err) {
    case MQTTPROTO_BLOCKING_OK:
        return "MQTTPROTO_BLOCKING_OK";
    case MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT:
        return "MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT";
    case MQTTPROTO_BLOCKING_ERR_NO_MEMORY:
        return "MQTTPROTO_BLOCKING_ERR_NO_MEMORY";
    case MQTTPROTO_BLOCKING_ERR_RESOLVE:
        return "MQTTPROTO_BLOCKING_ERR_RESOLVE";
    case MQTTPROTO_BLOCKING_ERR_CONNECT:
        return "MQTTPROTO_BLOCKING_ERR_CONNECT";
    case MQTTPROTO_BLOCKING_ERR_TLS:
        return "MQTTPROTO_BLOCKING_ERR_TLS";
    case MQTTPROTO_BLOCKING_ERR_WEBSOCKET:
        return "MQTTPROTO_BLOCKING_ERR_WEBSOCKET";
    case MQTTPROTO_BLOCKING_ERR_TIMEOUT:
        return "MQTTPROTO_BLOCKING_ERR_TIMEOUT";
    case MQTTPROTO_BLOCKING_ERR_REFUSED:
        return "MQTTPROTO_BLOCKING_ERR_REFUSED";
    case MQTTPROTO_BLOCKING_ERR_REJECTED:
        return "MQTTPROTO_BLOCKING_ERR_REJECTED";
    case MQTTPROTO_BLOCKING_ERR_PROTOCOL:
        return "MQTTPROTO_BLOCKING_ERR_PROTOCOL";
    case MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST:
        return "MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST";
    case MQTTPROTO_BLOCKING_ERR_DISCONNECTED:
        return "MQTTPROTO_BLOCKING_ERR_DISCONNECTED";
    case MQTTPROTO_BLOCKING_ERR_NOT_CONNECTED:
        return "MQTTPROTO_BLOCKING_ERR_NOT_CONNECTED";
    case MQTTPROTO_BLOCKING_ERR_MQTT:
        return "MQTTPROTO_BLOCKING_ERR_MQTT";
    default:
        return "MQTTPROTO_BLOCKING_ERR_UNKNOWN";
    }
}

uint16_t mqttproto_blocking_default_port(int transport)
{
    switch (transport) {
    case MQTTPROTO_BLOCKING_TCP:
        return 1883;
    case MQTTPROTO_BLOCKING_TLS:
        return 8883;
    case MQTTPROTO_BLOCKING_WS:
        return 80;
    case MQTTPROTO_BLOCKING_WSS:
        return 443;
    default:
        return 0;
    }
}

void mqttproto_blocking_options_default(mqttproto_blocking_options *o)
{
    if (o == NULL) {
        return;
    }
    memset(o, 0, sizeof *o);
    o->version = MQTTPROTO_BLOCKING_OPTIONS_VERSION;
    o->transport = MQTTPROTO_BLOCKING_TCP;
    o->host = "localhost";
    mqttproto_connect_options_default(&o->connect);
    o->connect_timeout_ms = 10000;
    o->operation_timeout_ms = 10000;
    o->reconnect_attempts = 5;
    o->reconnect_delay_ms = 250;
}

static bool uses_ws(const mqttproto_blocking *c)
{
    return c->o.transport == MQTTPROTO_BLOCKING_WS || c->o.transport == MQTTPROTO_BLOCKING_WSS;
}

static uint16_t port_of(const mqttproto_blocking *c)
{
    return c->o.port != 0 ? c->o.port : mqttproto_blocking_default_port((int)c->o.transport);
}

int mqttproto_blocking_create(const mqttproto_blocking_options *options, mqttproto_blocking **out)
{
    if (out == NULL) {
        return MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    if (options == NULL || options->version != MQTTPROTO_BLOCKING_OPTIONS_VERSION ||
        options->host == NULL || options->host[0] == '\0' ||
        (int)options->transport < MQTTPROTO_BLOCKING_TCP ||
        options->transport > MQTTPROTO_BLOCKING_WSS) {
        return MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT;
    }
    mqttproto_blocking *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return MQTTPROTO_BLOCKING_ERR_NO_MEMORY;
    }
    c->o = *options;
    c->fd = -1;
    c->pub_pid = -1;
    c->wait_pid = -1;
    tbuf_init(&c->in);
    xport_chain_init(&c->chain);

    mqttproto_client_settings s;
    mqttproto_client_settings_default(&s);
    if (c->o.connect.receive_maximum != 0) {
        s.receive_maximum = c->o.connect.receive_maximum;
    }
    if (c->o.connect.maximum_packet_size != 0) {
        s.maximum_packet_size = c->o.connect.maximum_packet_size;
    }
    int r = mqttproto_client_create(&s, &c->mc);
    if (r < 0) {
        free(c);
        return r == MQTTPROTO_ERR_NO_MEMORY ? MQTTPROTO_BLOCKING_ERR_NO_MEMORY
                                            : MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT;
    }
    *out = c;
    return 0;
}

static void close_transport(mqttproto_blocking *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    xport_chain_free(&c->chain);
    xport_chain_init(&c->chain);
    tbuf_clear(&c->in);
}

static void free_subs(mqttproto_blocking *c)
{
    for (size_t i = 0; i < c->nsubs; i++) {
        free(c->subs[i].filter);
    }
    free(c->subs);
    c->subs = NULL;
    c->nsubs = c->capsubs = 0;
}

void mqttproto_blocking_destroy(mqttproto_blocking *c)
{
    if (c == NULL) {
        return;
    }
    close_transport(c);
    xport_chain_free(&c->chain);
    tbuf_free(&c->in);
    mqttproto_client_destroy(c->mc);
    tls_mem_ctx_free(c->tls_ctx);
    while (c->head != NULL) {
        struct msg_node *n = c->head;
        c->head = n->next;
        free(n);
    }
    free_subs(c);
    free(c);
}

/* Ends the connection with error @p err; the first message set stays. */
static __attribute__((format(printf, 3, 4))) int lose(mqttproto_blocking *c, int err,
                                                      const char *fmt, ...)
{
    if (c->errmsg[0] == '\0' && fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
        va_end(ap);
    }
    if (c->lost == 0) {
        c->lost = err;
    }
    close_transport(c);
    mqttproto_client_connection_lost(c->mc);
    return c->lost;
}

/* The blocking error for a failed layer. */
static int layer_error_kind(int xerr)
{
    switch (xerr) {
    case XPORT_ERR_TLS:
        return MQTTPROTO_BLOCKING_ERR_TLS;
    case XPORT_ERR_HANDSHAKE:
    case XPORT_ERR_PROTOCOL:
        return MQTTPROTO_BLOCKING_ERR_WEBSOCKET;
    case XPORT_ERR_NO_MEMORY:
        return MQTTPROTO_BLOCKING_ERR_NO_MEMORY;
    default:
        return MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST;
    }
}

static void put_reason_string(char *buf, size_t cap, const mqttproto_properties *p)
{
    buf[0] = '\0';
    if (p != NULL && mqttproto_properties_has(p, MQTTPROTO_PROP_REASON_STRING)) {
        snprintf(buf, cap, ": %.*s", (int)(p->reason_string.len > 200 ? 200 : p->reason_string.len),
                 p->reason_string.data);
    }
}

/* ---- messages ---- */

static void rebase_str(mqttproto_str *s, uintptr_t from, size_t len, char *to)
{
    uintptr_t p = (uintptr_t)s->data;
    if (s->len == 0 || p < from || p - from > len || s->len > len - (p - from)) {
        s->data = NULL;
        s->len = 0;
        return;
    }
    s->data = to + (p - from);
}

static void rebase_bin(mqttproto_bin *b, uintptr_t from, size_t len, uint8_t *to)
{
    uintptr_t p = (uintptr_t)b->data;
    if (b->len == 0 || p < from || p - from > len || b->len > len - (p - from)) {
        b->data = NULL;
        b->len = 0;
        return;
    }
    b->data = to + (p - from);
}

static struct msg_node *copy_message(const mqttproto_client_event *ev)
{
    const mqttproto_properties *src = ev->properties;
    size_t wlen = src != NULL ? src->wire.len : 0;
    size_t size = sizeof(struct msg_node) + ev->topic.len + 1 + ev->payload.len + 1 + wlen;
    struct msg_node *n = malloc(size);
    if (n == NULL) {
        return NULL;
    }
    memset(n, 0, sizeof *n);
    char *topic = (char *)(n + 1);
    uint8_t *payload = (uint8_t *)topic + ev->topic.len + 1;
    uint8_t *wire = payload + ev->payload.len + 1;
    if (ev->topic.len > 0) {
        memcpy(topic, ev->topic.data, ev->topic.len);
    }
    topic[ev->topic.len] = '\0';
    if (ev->payload.len > 0) {
        memcpy(payload, ev->payload.data, ev->payload.len);
    }
    payload[ev->payload.len] = '\0';
    n->m.topic = topic;
    n->m.topic_len = ev->topic.len;
    n->m.payload = payload;
    n->m.payload_len = ev->payload.len;
    n->m.qos = ev->qos;
    n->m.retain = ev->retain;
    n->m.dup = ev->dup;
    if (src == NULL) {
        mqttproto_properties_init(&n->m.properties);
        return n;
    }
    /* The decoded views point into the property block: copy it and move
       every view into the copy. */
    mqttproto_properties *p = &n->m.properties;
    *p = *src;
    uintptr_t from = (uintptr_t)src->wire.data;
    if (wlen > 0) {
        memcpy(wire, src->wire.data, wlen);
    }
    p->wire.data = wlen > 0 ? wire : NULL;
    rebase_str(&p->content_type, from, wlen, (char *)wire);
    rebase_str(&p->response_topic, from, wlen, (char *)wire);
    rebase_str(&p->assigned_client_identifier, from, wlen, (char *)wire);
    rebase_str(&p->authentication_method, from, wlen, (char *)wire);
    rebase_str(&p->response_information, from, wlen, (char *)wire);
    rebase_str(&p->server_reference, from, wlen, (char *)wire);
    rebase_str(&p->reason_string, from, wlen, (char *)wire);
    rebase_bin(&p->correlation_data, from, wlen, wire);
    rebase_bin(&p->authentication_data, from, wlen, wire);
    p->user_properties = NULL;
    p->subscription_identifiers = NULL;
    return n;
}

void mqttproto_blocking_message_free(mqttproto_blocking_message *m)
{
    free(m); /* the node starts with the message */
}

/* ---- events ---- */

static void finish_wait(mqttproto_blocking *c, int result, uint8_t rc)
{
    c->wait_done = true;
    c->wait_result = result;
    if (result == MQTTPROTO_BLOCKING_ERR_REJECTED) {
        c->reason_code = rc;
    }
}

static void on_acks(mqttproto_blocking *c, const mqttproto_client_event *ev)
{
    if (c->wait_pid != (int32_t)ev->packet_id ||
        (ev->type == MQTTPROTO_CLIENT_EVENT_SUBSCRIBE_ACK && c->wait_kind != WAIT_SUBSCRIBE) ||
        (ev->type == MQTTPROTO_CLIENT_EVENT_UNSUBSCRIBE_ACK && c->wait_kind != WAIT_UNSUBSCRIBE)) {
        return; /* a re-subscription after a reconnect */
    }
    int result = 0;
    uint8_t first_bad = 0;
    for (size_t i = 0; i < ev->reason_code_count; i++) {
        if (c->wait_codes != NULL && i < c->wait_count) {
            c->wait_codes[i] = ev->reason_codes[i];
        }
        if (ev->reason_codes[i] >= 0x80 && result == 0) {
            result = MQTTPROTO_BLOCKING_ERR_REJECTED;
            first_bad = ev->reason_codes[i];
        }
    }
    if (result != 0) {
        char rs[220];
        put_reason_string(rs, sizeof rs, ev->properties);
        set_msg(c, "refused by the server: %s (0x%02x)%s", mqttproto_reason_code_name(first_bad),
                first_bad, rs);
    }
    finish_wait(c, result, first_bad);
}

static int drain_events(mqttproto_blocking *c)
{
    int count = 0;
    mqttproto_client_event ev;
    char rs[220];
    while (mqttproto_client_next_event(c->mc, &ev) == 1) {
        count++;
        switch (ev.type) {
        case MQTTPROTO_CLIENT_EVENT_CONNECTED:
            c->connack = 1;
            c->session_present = ev.session_present;
            break;
        case MQTTPROTO_CLIENT_EVENT_CONNECT_REFUSED:
            c->connack = -1;
            c->reason_code = ev.reason_code;
            put_reason_string(rs, sizeof rs, ev.properties);
            set_msg(c, "connection refused: %s (0x%02x)%s",
                    mqttproto_reason_code_name(ev.reason_code), ev.reason_code, rs);
            break;
        case MQTTPROTO_CLIENT_EVENT_AUTH:
            set_msg(c, "the server asked for enhanced authentication, which this client does "
                       "not do");
            c->connack = -1;
            break;
        case MQTTPROTO_CLIENT_EVENT_MESSAGE: {
            struct msg_node *n = copy_message(&ev);
            if (n == NULL) {
                break; /* acknowledged by the state machine all the same */
            }
            if (c->tail != NULL) {
                c->tail->next = n;
            } else {
                c->head = n;
            }
            c->tail = n;
            break;
        }
        case MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED:
            if (c->pub_pid == (int32_t)ev.packet_id && !c->pub_done) {
                c->pub_done = true;
                c->pub_result = 0;
            }
            break;
        case MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED:
            if (c->pub_pid == (int32_t)ev.packet_id && !c->pub_done) {
                c->pub_done = true;
                if (ev.error != 0) {
                    c->mqtt_error = ev.error;
                    set_msg(c, "%s", mqttproto_strerror(ev.error));
                    c->pub_result = MQTTPROTO_BLOCKING_ERR_MQTT;
                } else {
                    put_reason_string(rs, sizeof rs, ev.properties);
                    set_msg(c, "refused by the server: %s (0x%02x)%s",
                            mqttproto_reason_code_name(ev.reason_code), ev.reason_code, rs);
                    c->reason_code = ev.reason_code;
                    c->pub_result = MQTTPROTO_BLOCKING_ERR_REJECTED;
                }
            }
            break;
        case MQTTPROTO_CLIENT_EVENT_SUBSCRIBE_ACK:
        case MQTTPROTO_CLIENT_EVENT_UNSUBSCRIBE_ACK:
            on_acks(c, &ev);
            break;
        case MQTTPROTO_CLIENT_EVENT_REQUEST_FAILED:
            if (c->wait_pid == (int32_t)ev.packet_id && c->wait_kind != WAIT_NONE) {
                finish_wait(c, MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST, 0);
            }
            break;
        case MQTTPROTO_CLIENT_EVENT_DISCONNECTED:
            c->reason_code = ev.reason_code;
            put_reason_string(rs, sizeof rs, ev.properties);
            set_msg(c, "the server disconnected: %s (0x%02x)%s",
                    mqttproto_reason_code_name(ev.reason_code), ev.reason_code, rs);
            if (c->lost == 0) {
                c->lost = MQTTPROTO_BLOCKING_ERR_DISCONNECTED;
            }
            break;
        default:
            break;
        }
    }
    return count;
}

/* ---- bytes ---- */

static bool live(const mqttproto_blocking *c)
{
    return c->fd >= 0 && c->lost == 0;
}

/* Moves the state machine's bytes into the chain and the chain's bytes
   into the socket, as far as it takes them now. */
static int flush_out(mqttproto_blocking *c)
{
    if (!live(c)) {
        return c->lost != 0 ? c->lost : MQTTPROTO_BLOCKING_ERR_NOT_CONNECTED;
    }
    const uint8_t *p;
    size_t n;
    while ((n = mqttproto_client_get_outbound_data(c->mc, &p)) > 0) {
        int r = xport_chain_app_write(&c->chain, p, n);
        if (r < 0) {
            return lose(c, layer_error_kind(r), "%s", xport_chain_error(&c->chain));
        }
        mqttproto_client_consume_outbound(c->mc, n);
    }
    while ((n = xport_chain_net_out(&c->chain, &p)) > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            return lose(c, MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST, "write to the server failed: %s",
                        strerror(errno));
        }
        xport_chain_net_consume(&c->chain, (size_t)w);
    }
    return 0;
}

static bool out_pending(mqttproto_blocking *c)
{
    const uint8_t *p;
    return live(c) && (mqttproto_client_get_outbound_data(c->mc, &p) > 0 ||
                       xport_chain_net_out(&c->chain, &p) > 0);
}

static bool mqtt_active(const mqttproto_blocking *c)
{
    mqttproto_client_state st = mqttproto_client_get_state(c->mc);
    return st == MQTTPROTO_CLIENT_CONNECTING || st == MQTTPROTO_CLIENT_CONNECTED;
}

/* Hands the state machine what the chain decoded. */
static int feed(mqttproto_blocking *c)
{
    while (tbuf_len(&c->in) > 0 && mqtt_active(c)) {
        ptrdiff_t t =
            mqttproto_client_feed_bytes(c->mc, tbuf_peek(&c->in), tbuf_len(&c->in), now_ms());
        if (t < 0) {
            drain_events(c);
            flush_out(c); /* the DISCONNECT the state machine queued */
            c->mqtt_error = (int)t;
            if (t == MQTTPROTO_ERR_SESSION_PRESENT_INVALID && !c->ever_connected) {
                /* [MQTT-3.2.2-4]: a new client object holds no session state,
                   so it may not resume a session an earlier process left. */
                return lose(c, MQTTPROTO_BLOCKING_ERR_PROTOCOL,
                            "the server resumed a session (Session Present 1) that this new "
                            "client holds no state for, which MQTT forbids [MQTT-3.2.2-4]; "
                            "sessions resume only within one process (reconnect)");
            }
            return lose(c, MQTTPROTO_BLOCKING_ERR_PROTOCOL,
                        "protocol error from the server: %s; sent DISCONNECT 0x%02x",
                        mqttproto_strerror((int)t), mqttproto_err_reason_code((int)t));
        }
        tbuf_consume(&c->in, (size_t)t);
        if (drain_events(c) == 0 && t == 0) {
            break;
        }
    }
    drain_events(c);
    if (!mqtt_active(c)) {
        tbuf_clear(&c->in); /* after a refusal or a DISCONNECT */
    }
    return 0;
}

static const char *phase(mqttproto_blocking *c)
{
    const char *p = client_chain_phase(&c->chain);
    if (p != NULL) {
        return p;
    }
    return mqttproto_client_get_state(c->mc) == MQTTPROTO_CLIENT_CONNECTING ? "CONNACK"
                                                                            : "the server";
}

static int read_in(mqttproto_blocking *c)
{
    uint8_t buf[READ_CHUNK];
    ssize_t r = recv(c->fd, buf, sizeof buf, 0);
    if (r < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        }
        return lose(c, MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST,
                    "read from the server failed while we waited for %s: %s", phase(c),
                    strerror(errno));
    }
    if (r == 0) {
        const char *e = xport_chain_error(&c->chain);
        if (e[0] != '\0') {
            return lose(c, layer_error_kind(c->chain.error), "%s", e);
        }
        if (c->lost == 0 && mqttproto_client_get_state(c->mc) == MQTTPROTO_CLIENT_DISCONNECTED &&
            c->connack != 0) {
            return lose(c, MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST, NULL);
        }
        return lose(c, MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST,
                    "the server closed the connection while we waited for %s", phase(c));
    }
    int xr = xport_chain_net_in(&c->chain, buf, (size_t)r);
    for (;;) {
        uint8_t *dst = tbuf_reserve(&c->in, READ_CHUNK);
        if (dst == NULL) {
            return lose(c, MQTTPROTO_BLOCKING_ERR_NO_MEMORY, "out of memory");
        }
        ptrdiff_t n = xport_chain_app_read(&c->chain, dst, READ_CHUNK);
        if (n <= 0) {
            if (n < 0 && n != XPORT_ERR_CLOSED && xr == 0) {
                xr = (int)n;
            }
            if (n == XPORT_ERR_CLOSED && xr == 0) {
                xr = XPORT_ERR_CLOSED;
            }
            break;
        }
        tbuf_commit(&c->in, (size_t)n);
    }
    feed(c);
    if (xr < 0 && c->lost == 0) {
        /* Send the alert, HTTP answer or close frame the layer queued. */
        flush_out(c);
        if (xr == XPORT_ERR_CLOSED) {
            return lose(c, MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST,
                        "the server closed the %s connection", uses_ws(c) ? "WebSocket" : "TLS");
        }
        return lose(c, layer_error_kind(xr), "%s", xport_chain_error(&c->chain));
    }
    return c->lost;
}

/* One round: timers, writes, one poll() of at most until @p deadline
   (UINT64_MAX: no limit), reads. With @p until_written, returns without
   waiting once every byte was written. */
static int io_step_ex(mqttproto_blocking *c, uint64_t deadline, bool until_written)
{
    if (!live(c)) {
        return c->lost != 0 ? c->lost : MQTTPROTO_BLOCKING_ERR_NOT_CONNECTED;
    }
    uint64_t now = now_ms();
    uint64_t expiry = UINT64_MAX;
    if (mqtt_active(c)) {
        expiry = mqttproto_client_get_expiry(c->mc);
        if (now >= expiry) {
            int e = mqttproto_client_handle_expiry(c->mc, now);
            if (e == MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT) {
                return lose(c, MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST,
                            "no PINGRESP from the server within the keep alive");
            }
            expiry = mqttproto_client_get_expiry(c->mc);
        }
    }
    int r = flush_out(c);
    if (r < 0) {
        return r;
    }
    if (until_written && !out_pending(c)) {
        return 0;
    }
    uint64_t wake = expiry < deadline ? expiry : deadline;
    int timeout = -1;
    if (wake != UINT64_MAX) {
        timeout = wake > now ? (int)(wake - now > 60000 ? 60000 : wake - now) : 0;
    }
    struct pollfd pfd = {
        .fd = c->fd, .events = (short)(POLLIN | (out_pending(c) ? POLLOUT : 0)), .revents = 0};
    int n = poll(&pfd, 1, timeout);
    if (n < 0) {
        if (errno == EINTR) {
            return 0;
        }
        return lose(c, MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST, "poll failed: %s", strerror(errno));
    }
    if (n > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        return read_in(c);
    }
    return 0;
}

static int io_step(mqttproto_blocking *c, uint64_t deadline)
{
    return io_step_ex(c, deadline, false);
}

/* ---- connecting ---- */

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Waits for a non-blocking connect(); 0 or an errno value. */
static int finish_connect(int fd, uint64_t deadline)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline) {
            return ETIMEDOUT;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT, .revents = 0};
        int n = poll(&pfd, 1, (int)(deadline - now));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno;
        }
        if (n == 0) {
            continue;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
            return errno;
        }
        return soerr;
    }
}

static int open_unix(mqttproto_blocking *c, uint64_t deadline)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(c->o.host);
    if (len >= sizeof sa.sun_path) {
        set_msg(c, "UNIX socket path too long: %s", c->o.host);
        return MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT;
    }
    memcpy(sa.sun_path, c->o.host, len + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || set_nonblocking(fd) < 0) {
        set_msg(c, "cannot create a socket: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return MQTTPROTO_BLOCKING_ERR_CONNECT;
    }
    int e = 0;
    if (connect(fd, (const struct sockaddr *)&sa, sizeof sa) < 0) {
        e = errno == EINPROGRESS || errno == EAGAIN ? finish_connect(fd, deadline) : errno;
    }
    if (e != 0) {
        close(fd);
        set_msg(c, "cannot connect to %s: %s", c->o.host, strerror(e));
        return e == ETIMEDOUT ? MQTTPROTO_BLOCKING_ERR_TIMEOUT : MQTTPROTO_BLOCKING_ERR_CONNECT;
    }
    c->fd = fd;
    return 0;
}

static int open_tcp(mqttproto_blocking *c, uint64_t deadline)
{
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)port_of(c));
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    struct addrinfo *list = NULL;
    int g = getaddrinfo(c->o.host, port, &hints, &list);
    if (g != 0) {
        set_msg(c, "cannot resolve %s: %s", c->o.host, gai_strerror(g));
        return MQTTPROTO_BLOCKING_ERR_RESOLVE;
    }
    int last = 0;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (set_nonblocking(fd) < 0) {
            last = errno;
            close(fd);
            continue;
        }
        int e = 0;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            e = errno == EINPROGRESS ? finish_connect(fd, deadline) : errno;
        }
        if (e == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            freeaddrinfo(list);
            c->fd = fd;
            return 0;
        }
        last = e;
        close(fd);
        if (e == ETIMEDOUT) {
            break;
        }
    }
    freeaddrinfo(list);
    set_msg(c, "cannot connect to %s port %s: %s", c->o.host, port,
            last != 0 ? strerror(last) : "no address");
    return last == ETIMEDOUT ? MQTTPROTO_BLOCKING_ERR_TIMEOUT : MQTTPROTO_BLOCKING_ERR_CONNECT;
}

static int build_chain(mqttproto_blocking *c)
{
    char err[512];
    bool is_tls = false;
    if (client_chain_build(&c->chain, &c->tls_ctx, &c->o, err, sizeof err, &is_tls) < 0) {
        set_msg(c, "%s", err);
        return is_tls ? MQTTPROTO_BLOCKING_ERR_TLS : MQTTPROTO_BLOCKING_ERR_WEBSOCKET;
    }
    return 0;
}

static int connect_once(mqttproto_blocking *c, bool clean_start)
{
    uint64_t deadline = now_ms() + c->o.connect_timeout_ms;
    close_transport(c);
    c->lost = 0;
    c->connack = 0;
    if (mqttproto_client_get_state(c->mc) != MQTTPROTO_CLIENT_DISCONNECTED) {
        mqttproto_client_connection_lost(c->mc);
    }
    int r =
        c->o.transport == MQTTPROTO_BLOCKING_UNIX ? open_unix(c, deadline) : open_tcp(c, deadline);
    if (r < 0) {
        return r;
    }
    r = build_chain(c);
    if (r < 0) {
        close_transport(c);
        return r;
    }
    mqttproto_connect_options opts = c->o.connect;
    opts.clean_start = clean_start;
    r = mqttproto_client_connect(c->mc, &opts, now_ms());
    if (r < 0) {
        close_transport(c);
        c->mqtt_error = r;
        set_msg(c, "cannot connect: %s", mqttproto_strerror(r));
        return MQTTPROTO_BLOCKING_ERR_MQTT;
    }
    while (c->connack == 0) {
        if (now_ms() >= deadline) {
            return lose(c, MQTTPROTO_BLOCKING_ERR_TIMEOUT, "timed out after %u ms waiting for %s",
                        (unsigned)c->o.connect_timeout_ms, phase(c));
        }
        r = io_step(c, deadline);
        if (r < 0 && c->connack == 0) {
            return r;
        }
    }
    if (c->connack < 0) {
        return lose(c, MQTTPROTO_BLOCKING_ERR_REFUSED, NULL);
    }
    c->ever_connected = true;
    return 0;
}

int mqttproto_blocking_connect(mqttproto_blocking *c)
{
    if (c == NULL) {
        return MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT;
    }
    begin_call(c);
    return connect_once(c, c->o.connect.clean_start);
}

bool mqttproto_blocking_session_present(const mqttproto_blocking *c)
{
    return c != NULL && c->session_present;
}

/* ---- waiting, reconnecting ---- */

static int subscribe_wait(mqttproto_blocking *c, const mqttproto_subscription *subs, size_t count,
                          const mqttproto_properties *props, uint8_t *codes, bool remember);

/* Connects again after a loss, when asked to; 0 once connected. */
static int recover(mqttproto_blocking *c)
{
    int lost = c->lost != 0 ? c->lost : MQTTPROTO_BLOCKING_ERR_NOT_CONNECTED;
    if (!c->o.reconnect || !c->ever_connected || lost == MQTTPROTO_BLOCKING_ERR_REFUSED) {
        return lost;
    }
    uint32_t delay = c->o.reconnect_delay_ms;
    for (uint32_t attempt = 0; attempt < c->o.reconnect_attempts; attempt++) {
        if (delay > 0) {
            poll(NULL, 0, (int)delay);
        }
        delay = delay * 2 > 8000 ? 8000 : delay * 2;
        c->errmsg[0] = '\0';
        int r = connect_once(c, false);
        if (r == 0) {
            c->reconnects++;
            if (!c->session_present && c->nsubs > 0) {
                /* The server forgot the subscriptions: make them again. */
                mqttproto_subscription *copy = malloc(c->nsubs * sizeof *copy);
                if (copy != NULL) {
                    for (size_t i = 0; i < c->nsubs; i++) {
                        copy[i] = c->subs[i].sub;
                    }
                    enum wait_kind k = c->wait_kind;
                    int32_t pid = c->wait_pid;
                    bool done = c->wait_done;
                    int res = c->wait_result;
                    uint8_t *codes = c->wait_codes;
                    size_t wc = c->wait_count;
                    subscribe_wait(c, copy, c->nsubs, NULL, NULL, false);
                    c->wait_kind = k;
                    c->wait_pid = pid;
                    c->wait_done = done;
                    c->wait_result = res;
                    c->wait_codes = codes;
                    c->wait_count = wc;
                    free(copy);
                }
            }
            c->errmsg[0] = '\0';
            return live(c) ? 0 : c->lost;
        }
        if (r == MQTTPROTO_BLOCKING_ERR_REFUSED || r == MQTTPROTO_BLOCKING_ERR_TLS) {
            return r;
        }
    }
    return c->lost != 0 ? c->lost : MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST;
}

/* Runs the connection until *done or @p deadline; a lost connection is
   made again when reconnect is on. */
static int wait_until(mqttproto_blocking *c, uint64_t deadline, const char *what, const bool *done)
{
    while (!*done) {
        if (now_ms() >= deadline) {
            set_msg(c, "timed out waiting for %s", what);
            return MQTTPROTO_BLOCKING_ERR_TIMEOUT;
        }
        int r = io_step(c, deadline);
        if (r < 0 && !*done) {
            r = recover(c);
            if (r < 0) {
                return r;
            }
        }
    }
    return 0;
}

static int wait_answer(mqttproto_blocking *c, uint64_t deadline, const char *what)
{
    int r = wait_until(c, deadline, what, &c->wait_done);
    c->wait_kind = WAIT_NONE;
    return r < 0 ? r : c->wait_result;
}

static void start_wait(mqttproto_blocking *c, enum wait_kind kind, int32_t pid, uint8_t *codes,
                       size_t count)
{
    c->wait_kind = kind;
    c->wait_pid = pid;
    c->wait_done = false;
    c->wait_result = 0;
    c->wait_codes = codes;
    c->wait_count = count;
}

static int need_connection(mqttproto_blocking *c)
{
    if (live(c)) {
        return 0;
    }
    return recover(c);
}

int mqttproto_blocking_publish(mqttproto_blocking *c, const char *topic, const void *payload,
                               size_t payload_len, mqttproto_qos qos, bool retain,
                               const mqttproto_properties *properties)
{
    if (c == NULL || topic == NULL || (payload == NULL && payload_len > 0) || (int)qos < 0 ||
        qos > MQTTPROTO_QOS_EXACTLY_ONCE) {
        return MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT;
    }
    begin_call(c);
    int r = need_connection(c);
    if (r < 0) {
        return r;
    }
    int32_t pid =
        mqttproto_client_publish(c->mc, mqttproto_str_from_cstr(topic),
                                 mqttproto_bin_make(payload, payload_len), qos, retain, properties);
    if (pid < 0) {
        c->mqtt_error = pid;
        set_msg(c, "publish: %s", mqttproto_strerror(pid));
        return MQTTPROTO_BLOCKING_ERR_MQTT;
    }
    uint64_t deadline = now_ms() + c->o.operation_timeout_ms;
    if (pid == 0) {
        /* QoS 0 (also one lowered by the server's Maximum QoS): done once written. */
        while (out_pending(c)) {
            if (now_ms() >= deadline) {
                set_msg(c, "timed out writing the message");
                return MQTTPROTO_BLOCKING_ERR_TIMEOUT;
            }
            r = io_step_ex(c, deadline, true);
            if (r < 0) {
                return r;
            }
        }
        return live(c) ? 0 : c->lost;
    }
    c->pub_pid = pid;
    c->pub_done = false;
    c->pub_result = 0;
    r = wait_until(c, deadline, qos == MQTTPROTO_QOS_AT_LEAST_ONCE ? "PUBACK" : "PUBCOMP",
                   &c->pub_done);
    c->pub_pid = -1;
    return r < 0 ? r : c->pub_result;
}

static int remember_subs(mqttproto_blocking *c, const mqttproto_subscription *subs, size_t count,
                         const uint8_t *codes)
{
    for (size_t i = 0; i < count; i++) {
        if (codes != NULL && codes[i] >= 0x80) {
            continue;
        }
        bool known = false;
        for (size_t j = 0; j < c->nsubs && !known; j++) {
            known =
                strlen(c->subs[j].filter) == subs[i].topic_filter.len &&
                memcmp(c->subs[j].filter, subs[i].topic_filter.data, subs[i].topic_filter.len) == 0;
        }
        if (known) {
            continue;
        }
        if (c->nsubs == c->capsubs) {
            size_t cap = c->capsubs ? c->capsubs * 2 : 8;
            struct sub_rec *n = realloc(c->subs, cap * sizeof *n);
            if (n == NULL) {
                return MQTTPROTO_BLOCKING_ERR_NO_MEMORY;
            }
            c->subs = n;
            c->capsubs = cap;
        }
        char *f = malloc(subs[i].topic_filter.len + 1);
        if (f == NULL) {
            return MQTTPROTO_BLOCKING_ERR_NO_MEMORY;
        }
        memcpy(f, subs[i].topic_filter.data, subs[i].topic_filter.len);
        f[subs[i].topic_filter.len] = '\0';
        c->subs[c->nsubs].filter = f;
        c->subs[c->nsubs].sub = subs[i];
        c->subs[c->nsubs].sub.topic_filter = mqttproto_str_from_cstr(f);
        c->nsubs++;
    }
    return 0;
}

static void forget_sub(mqttproto_blocking *c, const char *filter)
{
    for (size_t j = 0; j < c->nsubs; j++) {
        if (strcmp(c->subs[j].filter, filter) == 0) {
            free(c->subs[j].filter);
            c->subs[j] = c->subs[--c->nsubs];
            return;
        }
    }
}

static int subscribe_wait(mqttproto_blocking *c, const mqttproto_subscription *subs, size_t count,
                          const mqttproto_properties *props, uint8_t *codes, bool remember)
{
    uint8_t *tmp = NULL;
    if (codes == NULL) {
        tmp = malloc(count);
        if (tmp == NULL) {
            return MQTTPROTO_BLOCKING_ERR_NO_MEMORY;
        }
        codes = tmp;
    }
    int result = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        int r = need_connection(c);
        if (r < 0) {
            result = r;
            break;
        }
        int32_t pid = mqttproto_client_subscribe(c->mc, subs, count, props);
        if (pid < 0) {
            c->mqtt_error = pid;
            set_msg(c, "subscribe: %s", mqttproto_strerror(pid));
            result = MQTTPROTO_BLOCKING_ERR_MQTT;
            break;
        }
        if (pid == 0) {
            /* Already subscribed (the state machine counts references). */
            for (size_t i = 0; i < count; i++) {
                codes[i] = (uint8_t)subs[i].max_qos;
            }
            result = 0;
            break;
        }
        start_wait(c, WAIT_SUBSCRIBE, pid, codes, count);
        result = wait_answer(c, now_ms() + c->o.operation_timeout_ms, "SUBACK");
        if (result != MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST || !c->o.reconnect) {
            break;
        }
    }
    if (remember && (result == 0 || result == MQTTPROTO_BLOCKING_ERR_REJECTED)) {
        int m = remember_subs(c, subs, count, codes);
        if (m < 0 && result == 0) {
            result = m;
        }
    }
    free(tmp);
    return result;
}

int mqttproto_blocking_subscribe(mqttproto_blocking *c, const mqttproto_subscription *subs,
                                 size_t count, const mqttproto_properties *properties,
                                 uint8_t *reason_codes)
{
    if (c == NULL || subs == NULL || count == 0) {
        return MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT;
    }
    begin_call(c);
    return subscribe_wait(c, subs, count, properties, reason_codes, true);
}

int mqttproto_blocking_unsubscribe(mqttproto_blocking *c, const char *const *filters, size_t count,
                                   uint8_t *reason_codes)
{
    if (c == NULL || filters == NULL || count == 0) {
        return MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT;
    }
    begin_call(c);
    mqttproto_str *views = malloc(count * sizeof *views);
    if (views == NULL) {
        return MQTTPROTO_BLOCKING_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < count; i++) {
        views[i] = mqttproto_str_from_cstr(filters[i]);
    }
    int r = need_connection(c);
    if (r == 0) {
        int32_t pid = mqttproto_client_unsubscribe(c->mc, views, count, NULL);
        if (pid < 0) {
            c->mqtt_error = pid;
            set_msg(c, "unsubscribe: %s", mqttproto_strerror(pid));
            r = MQTTPROTO_BLOCKING_ERR_MQTT;
        } else if (pid > 0) {
            start_wait(c, WAIT_UNSUBSCRIBE, pid, reason_codes, count);
            r = wait_answer(c, now_ms() + c->o.operation_timeout_ms, "UNSUBACK");
        }
    }
    if (r == 0) {
        for (size_t i = 0; i < count; i++) {
            forget_sub(c, filters[i]);
        }
    }
    free(views);
    return r;
}

int mqttproto_blocking_receive(mqttproto_blocking *c, mqttproto_blocking_message **msg,
                               int timeout_ms)
{
    if (c == NULL || msg == NULL) {
        return MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT;
    }
    *msg = NULL;
    begin_call(c);
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (c->head != NULL) {
            struct msg_node *n = c->head;
            c->head = n->next;
            if (c->head == NULL) {
                c->tail = NULL;
            }
            n->next = NULL;
            *msg = &n->m;
            return 1;
        }
        if (now_ms() >= deadline) {
            return 0;
        }
        int r = io_step(c, deadline);
        if (r < 0 && c->head == NULL) {
            r = recover(c);
            if (r < 0) {
                return r;
            }
        }
    }
}

int mqttproto_blocking_loop(mqttproto_blocking *c, int timeout_ms)
{
    if (c == NULL) {
        return MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT;
    }
    begin_call(c);
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_ms() + (uint64_t)timeout_ms;
    while (now_ms() < deadline) {
        int r = io_step(c, deadline);
        if (r < 0) {
            r = recover(c);
            if (r < 0) {
                return r;
            }
        }
    }
    return 0;
}

int mqttproto_blocking_disconnect(mqttproto_blocking *c, uint8_t reason_code,
                                  const mqttproto_properties *properties)
{
    if (c == NULL) {
        return MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT;
    }
    begin_call(c);
    if (!live(c)) {
        close_transport(c);
        return c->lost != 0 ? c->lost : MQTTPROTO_BLOCKING_ERR_NOT_CONNECTED;
    }
    int result = 0;
    int r = mqttproto_client_disconnect(c->mc, reason_code, properties);
    if (r < 0) {
        c->mqtt_error = r;
        set_msg(c, "disconnect: %s", mqttproto_strerror(r));
        result = MQTTPROTO_BLOCKING_ERR_MQTT;
    }
    /* Write the DISCONNECT, then close each layer (WebSocket close frame,
       TLS close_notify), then the socket's sending side; wait briefly for
       the server to close its side. */
    uint64_t deadline = now_ms() + 2000;
    while (out_pending(c) && now_ms() < deadline) {
        if (io_step_ex(c, deadline, true) < 0) {
            break;
        }
    }
    if (live(c)) {
        xport_chain_close(&c->chain);
        while (out_pending(c) && now_ms() < deadline) {
            if (flush_out(c) < 0) {
                break;
            }
            struct pollfd pfd = {.fd = c->fd, .events = POLLOUT, .revents = 0};
            poll(&pfd, 1, 100);
        }
    }
    if (c->fd >= 0) {
        shutdown(c->fd, SHUT_WR);
        uint64_t end = now_ms() + 1000;
        uint8_t buf[4096];
        for (;;) {
            uint64_t now = now_ms();
            if (now >= end) {
                break;
            }
            struct pollfd pfd = {.fd = c->fd, .events = POLLIN, .revents = 0};
            if (poll(&pfd, 1, (int)(end - now)) <= 0) {
                break;
            }
            ssize_t n = recv(c->fd, buf, sizeof buf, 0);
            if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN))) {
                break;
            }
        }
    }
    close_transport(c);
    c->lost = MQTTPROTO_BLOCKING_ERR_NOT_CONNECTED;
    c->ever_connected = false; /* no reconnect after our own DISCONNECT */
    return result;
}

const char *mqttproto_blocking_errmsg(const mqttproto_blocking *c)
{
    return c != NULL ? c->errmsg : "";
}

uint8_t mqttproto_blocking_reason_code(const mqttproto_blocking *c)
{
    return c != NULL ? c->reason_code : 0;
}

int mqttproto_blocking_mqtt_error(const mqttproto_blocking *c)
{
    return c != NULL ? c->mqtt_error : 0;
}

mqttproto_client *mqttproto_blocking_client(mqttproto_blocking *c)
{
    return c != NULL ? c->mc : NULL;
}

unsigned mqttproto_blocking_reconnects(const mqttproto_blocking *c)
{
    return c != NULL ? c->reconnects : 0;
}
