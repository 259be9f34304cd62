/*
 * An MQTT 5 client on libuv, the event-loop counterpart of the blocking
 * client: libuv owns the socket and the timers, the transport chain
 * (examples/transport) does TLS and WebSocket in memory, libmqttproto owns
 * the protocol. It takes the connection options of mqttproto-pub and
 * mqttproto-sub (TCP, --unix, TLS, --ws, credentials, will, -D properties).
 *
 * It connects, subscribes to PREFIX/#, publishes one message at QoS 0, 1
 * and 2 to PREFIX/qos0 .. PREFIX/qos2, waits until its own three messages
 * came back and the QoS 1 and 2 flows completed, unsubscribes and
 * disconnects, printing one line per step. Exit status 0 on success, 1 on
 * any failure or usage error (with the reason on stderr).
 */
#include "cli_common.h"
#include "client_chain.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum phase {
    PHASE_SOCKET,
    PHASE_CONNACK,
    PHASE_SUBACK,
    PHASE_EXCHANGE,
    PHASE_UNSUBACK,
    PHASE_CLOSING,
    PHASE_DONE
};

static const char *const phase_waits[] = {
    "the connection", "CONNACK",
    "SUBACK",         "the messages and their acknowledgements",
    "UNSUBACK",       "the server to close the connection",
    "nothing",
};

struct app {
    struct cli cli;
    uv_loop_t *loop;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;
    bool io_open;
    uv_timer_t expiry;
    uv_timer_t deadline;
    uv_getaddrinfo_t gai;
    struct addrinfo *addrs;
    struct addrinfo *next_addr;
    uv_connect_t conn;
    uv_write_t wreq;
    uint8_t *wdata;
    bool writing;
    uv_shutdown_t sreq;
    bool layers_closed;
    bool shut;

    mqttproto_client *mc;
    xport_chain chain;
    tls_mem_ctx *tls_ctx;
    tbuf in;

    enum phase phase;
    char *filter;
    char *topics[3];
    char payloads[3][32];
    int32_t sub_pid, unsub_pid, pub_pid[3];
    bool received[3], completed[3];
    int status;
};

static uint8_t read_buf[65536];

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static void stop_everything(struct app *a)
{
    if (a->io_open && !uv_is_closing(&a->io.handle)) {
        uv_close(&a->io.handle, NULL);
    }
    if (!uv_is_closing((uv_handle_t *)&a->expiry)) {
        uv_close((uv_handle_t *)&a->expiry, NULL);
    }
    if (!uv_is_closing((uv_handle_t *)&a->deadline)) {
        uv_close((uv_handle_t *)&a->deadline, NULL);
    }
}

static __attribute__((format(printf, 2, 3))) void fail(struct app *a, const char *fmt, ...)
{
    if (a->status != 0 || a->phase == PHASE_DONE) {
        return;
    }
    fflush(stdout);
    fprintf(stderr, "%s: ", a->cli.prog);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    a->status = 1;
    stop_everything(a);
}

static __attribute__((format(printf, 2, 3))) void say(const struct app *a, const char *fmt, ...)
{
    if (a->cli.quiet) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static bool str_eq(mqttproto_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.data, c, n) == 0);
}

static bool active(const struct app *a)
{
    mqttproto_client_state st = mqttproto_client_get_state(a->mc);
    return st == MQTTPROTO_CLIENT_CONNECTING || st == MQTTPROTO_CLIENT_CONNECTED;
}

/* ---- writing ---- */

static void pump(struct app *a);

static void on_write(uv_write_t *req, int status)
{
    struct app *a = req->data;
    free(a->wdata);
    a->wdata = NULL;
    a->writing = false;
    if (status < 0) {
        fail(a, "write to the server failed: %s", uv_strerror(status));
        return;
    }
    pump(a);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status; /* the server's EOF ends the program */
}

static void on_expiry(uv_timer_t *t);

static void schedule_expiry(struct app *a)
{
    if (uv_is_closing((uv_handle_t *)&a->expiry)) {
        return;
    }
    uint64_t exp = active(a) ? mqttproto_client_get_expiry(a->mc) : UINT64_MAX;
    if (exp == UINT64_MAX) {
        uv_timer_stop(&a->expiry);
        return;
    }
    uint64_t now = now_ms();
    uv_timer_start(&a->expiry, on_expiry, exp > now ? exp - now : 0, 0);
}

/* Moves bytes from the state machine through the chain to the socket. */
static void pump(struct app *a)
{
    if (a->status != 0 || !a->io_open || uv_is_closing(&a->io.handle)) {
        return;
    }
    const uint8_t *p;
    size_t n;
    while ((n = mqttproto_client_get_outbound_data(a->mc, &p)) > 0) {
        if (xport_chain_app_write(&a->chain, p, n) < 0) {
            fail(a, "%s", xport_chain_error(&a->chain));
            return;
        }
        mqttproto_client_consume_outbound(a->mc, n);
    }
    if (a->phase == PHASE_CLOSING && !a->layers_closed) {
        /* The DISCONNECT is in the chain: close frame, close_notify. */
        xport_chain_close(&a->chain);
        a->layers_closed = true;
    }
    if (!a->writing && (n = xport_chain_net_out(&a->chain, &p)) > 0) {
        a->wdata = malloc(n);
        if (a->wdata == NULL) {
            fail(a, "out of memory");
            return;
        }
        memcpy(a->wdata, p, n);
        xport_chain_net_consume(&a->chain, n);
        uv_buf_t buf = uv_buf_init((char *)a->wdata, (unsigned)n);
        a->wreq.data = a;
        int r = uv_write(&a->wreq, &a->io.stream, &buf, 1, on_write);
        if (r < 0) {
            free(a->wdata);
            a->wdata = NULL;
            fail(a, "write to the server failed: %s", uv_strerror(r));
            return;
        }
        a->writing = true;
    }
    if (a->phase == PHASE_CLOSING && !a->writing && !a->shut) {
        a->shut = true;
        a->sreq.data = a;
        uv_shutdown(&a->sreq, &a->io.stream, on_shutdown);
    }
    schedule_expiry(a);
}

/* ---- the exchange ---- */

static void publish_all(struct app *a)
{
    for (int q = 0; q < 3; q++) {
        int32_t pid =
            mqttproto_client_publish(a->mc, mqttproto_str_from_cstr(a->topics[q]),
                                     mqttproto_bin_make(a->payloads[q], strlen(a->payloads[q])),
                                     (mqttproto_qos)q, false, cli_props_get(&a->cli.publish));
        if (pid < 0) {
            fail(a, "publish failed: %s", mqttproto_strerror(pid));
            return;
        }
        a->pub_pid[q] = pid;
        say(a, "publish qos=%d topic=%s payload=%s", q, a->topics[q], a->payloads[q]);
    }
    a->phase = PHASE_EXCHANGE;
}

static void maybe_finish_exchange(struct app *a)
{
    if (a->phase != PHASE_EXCHANGE || !a->received[0] || !a->received[1] || !a->received[2] ||
        !a->completed[1] || !a->completed[2]) {
        return;
    }
    mqttproto_str f = mqttproto_str_from_cstr(a->filter);
    a->unsub_pid = mqttproto_client_unsubscribe(a->mc, &f, 1, NULL);
    if (a->unsub_pid <= 0) {
        fail(a, "unsubscribe failed: %s", mqttproto_strerror(a->unsub_pid));
        return;
    }
    say(a, "unsubscribe filter=%s", a->filter);
    a->phase = PHASE_UNSUBACK;
}

static void on_event(struct app *a, const mqttproto_client_event *ev)
{
    switch (ev->type) {
    case MQTTPROTO_CLIENT_EVENT_CONNECTED: {
        say(a, "connected session_present=%d", ev->session_present ? 1 : 0);
        mqttproto_subscription sub;
        memset(&sub, 0, sizeof sub);
        sub.topic_filter = mqttproto_str_from_cstr(a->filter);
        sub.max_qos = MQTTPROTO_QOS_EXACTLY_ONCE;
        sub.retain_handling = MQTTPROTO_RETAIN_DO_NOT_SEND;
        a->sub_pid = mqttproto_client_subscribe(a->mc, &sub, 1, cli_props_get(&a->cli.subscribe));
        if (a->sub_pid <= 0) {
            fail(a, "subscribe failed: %s", mqttproto_strerror(a->sub_pid));
            return;
        }
        say(a, "subscribe filter=%s", a->filter);
        a->phase = PHASE_SUBACK;
        break;
    }
    case MQTTPROTO_CLIENT_EVENT_CONNECT_REFUSED:
        fail(a, "connection refused: %s (0x%02x)", mqttproto_reason_code_name(ev->reason_code),
             ev->reason_code);
        break;
    case MQTTPROTO_CLIENT_EVENT_MESSAGE:
        say(a, "received topic=%.*s qos=%d payload=%.*s", (int)ev->topic.len, ev->topic.data,
            (int)ev->qos, (int)ev->payload.len, (const char *)ev->payload.data);
        for (int q = 0; q < 3; q++) {
            if (str_eq(ev->topic, a->topics[q])) {
                size_t n = strlen(a->payloads[q]);
                if ((int)ev->qos != q || ev->payload.len != n ||
                    memcmp(ev->payload.data, a->payloads[q], n) != 0) {
                    fail(a, "the message on %s differs from the one published", a->topics[q]);
                    return;
                }
                a->received[q] = true;
            }
        }
        maybe_finish_exchange(a);
        break;
    case MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED:
        for (int q = 1; q < 3; q++) {
            if (a->pub_pid[q] == (int32_t)ev->packet_id) {
                a->completed[q] = true;
                say(a, "published qos=%d rc=0x%02x", q, ev->reason_code);
            }
        }
        maybe_finish_exchange(a);
        break;
    case MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED:
        if (ev->error != 0) {
            fail(a, "publish failed: %s", mqttproto_strerror(ev->error));
        } else {
            fail(a, "publish refused: %s (0x%02x)", mqttproto_reason_code_name(ev->reason_code),
                 ev->reason_code);
        }
        break;
    case MQTTPROTO_CLIENT_EVENT_SUBSCRIBE_ACK:
        if (ev->reason_code_count != 1 || ev->reason_codes[0] >= 0x80) {
            fail(a, "subscription refused: %s (0x%02x)",
                 mqttproto_reason_code_name(ev->reason_codes[0]), ev->reason_codes[0]);
            return;
        }
        say(a, "subscribed rc=0x%02x", ev->reason_codes[0]);
        publish_all(a);
        break;
    case MQTTPROTO_CLIENT_EVENT_UNSUBSCRIBE_ACK: {
        say(a, "unsubscribed rc=0x%02x", ev->reason_code_count > 0 ? ev->reason_codes[0] : 0);
        int r = mqttproto_client_disconnect(a->mc, MQTTPROTO_RC_NORMAL_DISCONNECTION,
                                            cli_props_get(&a->cli.disconnect));
        if (r < 0) {
            fail(a, "disconnect failed: %s", mqttproto_strerror(r));
            return;
        }
        say(a, "disconnect");
        a->phase = PHASE_CLOSING;
        break;
    }
    case MQTTPROTO_CLIENT_EVENT_DISCONNECTED:
        fail(a, "the server disconnected: %s (0x%02x)", mqttproto_reason_code_name(ev->reason_code),
             ev->reason_code);
        break;
    case MQTTPROTO_CLIENT_EVENT_AUTH:
        fail(a, "the server asked for enhanced authentication, which this client does not do");
        break;
    case MQTTPROTO_CLIENT_EVENT_REQUEST_FAILED:
        fail(a, "a request failed: %s", mqttproto_strerror(ev->error));
        break;
    default:
        break;
    }
}

static size_t drain_events(struct app *a)
{
    size_t count = 0;
    mqttproto_client_event ev;
    while (a->status == 0 && mqttproto_client_next_event(a->mc, &ev) == 1) {
        count++;
        on_event(a, &ev);
    }
    return count;
}

static void feed(struct app *a)
{
    while (a->status == 0 && tbuf_len(&a->in) > 0 && active(a)) {
        ptrdiff_t t =
            mqttproto_client_feed_bytes(a->mc, tbuf_peek(&a->in), tbuf_len(&a->in), now_ms());
        if (t < 0) {
            drain_events(a);
            pump(a); /* the DISCONNECT the state machine queued */
            fail(a, "protocol error from the server: %s", mqttproto_strerror((int)t));
            return;
        }
        tbuf_consume(&a->in, (size_t)t);
        if (drain_events(a) == 0 && t == 0) {
            break;
        }
    }
    drain_events(a);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init((char *)read_buf, sizeof read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct app *a = s->data;
    if (nread == 0) {
        return;
    }
    if (nread < 0) {
        /* Once the DISCONNECT is out, how the server closes (an EOF, or a
           reset when our close_notify or close frame reached a socket it
           had closed) makes no difference. */
        if (a->phase == PHASE_CLOSING && (nread == UV_EOF || a->shut)) {
            say(a, "disconnected");
            a->phase = PHASE_DONE;
            stop_everything(a);
            return;
        }
        const char *why = xport_chain_error(&a->chain);
        const char *phase = client_chain_phase(&a->chain);
        fail(a, "%s%s%s while we waited for %s", why[0] != '\0' ? why : "the connection ended: ",
             why[0] != '\0' ? "" : uv_strerror((int)nread), why[0] != '\0' ? "," : "",
             phase != NULL ? phase : phase_waits[a->phase]);
        return;
    }
    int xr = xport_chain_net_in(&a->chain, (const uint8_t *)buf->base, (size_t)nread);
    for (;;) {
        uint8_t *dst = tbuf_reserve(&a->in, 16384);
        if (dst == NULL) {
            fail(a, "out of memory");
            return;
        }
        ptrdiff_t n = xport_chain_app_read(&a->chain, dst, 16384);
        if (n <= 0) {
            if (n < 0 && xr == 0 && n != XPORT_ERR_CLOSED) {
                xr = (int)n;
            }
            break;
        }
        tbuf_commit(&a->in, (size_t)n);
    }
    if (a->phase != PHASE_CLOSING) {
        feed(a);
    }
    if (xr < 0) {
        pump(a); /* the alert or close frame the layer queued */
        fail(a, "%s", xport_chain_error(&a->chain));
        return;
    }
    pump(a);
}

/* ---- timers ---- */

static void on_expiry(uv_timer_t *t)
{
    struct app *a = t->data;
    if (!active(a)) {
        return;
    }
    int r = mqttproto_client_handle_expiry(a->mc, now_ms());
    if (r == MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT) {
        fail(a, "no PINGRESP from the server within the keep alive");
        return;
    }
    pump(a);
}

static void on_deadline(uv_timer_t *t)
{
    struct app *a = t->data;
    const char *phase = client_chain_phase(&a->chain);
    fail(a, "timed out after %ld s waiting for %s", a->cli.timeout_s,
         a->phase == PHASE_CONNACK && phase != NULL ? phase : phase_waits[a->phase]);
}

/* ---- connecting ---- */

static void start_mqtt(struct app *a)
{
    char err[512];
    bool is_tls;
    if (client_chain_build(&a->chain, &a->tls_ctx, &a->cli.bo, err, sizeof err, &is_tls) < 0) {
        fail(a, "%s", err);
        return;
    }
    int r = mqttproto_client_connect(a->mc, &a->cli.bo.connect, now_ms());
    if (r < 0) {
        fail(a, "connect failed: %s", mqttproto_strerror(r));
        return;
    }
    a->phase = PHASE_CONNACK;
    a->io.stream.data = a;
    r = uv_read_start(&a->io.stream, on_alloc, on_read);
    if (r < 0) {
        fail(a, "cannot read: %s", uv_strerror(r));
        return;
    }
    pump(a);
}

static void try_next_address(struct app *a);

static void on_failed_closed(uv_handle_t *h)
{
    struct app *a = h->data;
    a->io_open = false;
    try_next_address(a);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct app *a = req->data;
    if (a->status != 0) {
        return;
    }
    if (status < 0) {
        if (a->cli.bo.transport != MQTTPROTO_BLOCKING_UNIX && a->next_addr != NULL) {
            a->io.handle.data = a;
            uv_close(&a->io.handle, on_failed_closed);
            return;
        }
        fail(a, "cannot connect to %s: %s", a->cli.bo.host, uv_strerror(status));
        return;
    }
    if (a->cli.bo.transport != MQTTPROTO_BLOCKING_UNIX) {
        uv_tcp_nodelay(&a->io.tcp, 1);
    }
    say(a, "socket connected");
    start_mqtt(a);
}

static void try_next_address(struct app *a)
{
    struct addrinfo *ai = a->next_addr;
    if (ai == NULL) {
        fail(a, "cannot connect to %s: no address left", a->cli.bo.host);
        return;
    }
    a->next_addr = ai->ai_next;
    uv_tcp_init(a->loop, &a->io.tcp);
    a->io_open = true;
    a->conn.data = a;
    int r = uv_tcp_connect(&a->conn, &a->io.tcp, ai->ai_addr, on_connect);
    if (r < 0) {
        on_connect(&a->conn, r);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct app *a = req->data;
    if (status < 0) {
        fail(a, "cannot resolve %s: %s", a->cli.bo.host, uv_strerror(status));
        return;
    }
    a->addrs = res;
    a->next_addr = res;
    try_next_address(a);
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    char *s = malloc(n + m + 1);
    if (s != NULL) {
        memcpy(s, a, n);
        memcpy(s + n, b, m + 1);
    }
    return s;
}

int main(int argc, char **argv)
{
    static struct app a;
    cli_parse(&a.cli, CLI_UV, argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    a.loop = uv_default_loop();
    tbuf_init(&a.in);
    xport_chain_init(&a.chain);

    const char *prefix = a.cli.topics[0];
    a.filter = join(prefix, "/#");
    for (int q = 0; q < 3; q++) {
        char suffix[8];
        snprintf(suffix, sizeof suffix, "/qos%d", q);
        a.topics[q] = join(prefix, suffix);
        snprintf(a.payloads[q], sizeof a.payloads[q], "uv-hello-qos%d", q);
        if (a.topics[q] == NULL) {
            fprintf(stderr, "%s: out of memory\n", a.cli.prog);
            return 1;
        }
    }
    mqttproto_client_settings s;
    mqttproto_client_settings_default(&s);
    if (a.cli.bo.connect.receive_maximum != 0) {
        s.receive_maximum = a.cli.bo.connect.receive_maximum;
    }
    if (a.cli.bo.connect.maximum_packet_size != 0) {
        s.maximum_packet_size = a.cli.bo.connect.maximum_packet_size;
    }
    if (a.filter == NULL || mqttproto_client_create(&s, &a.mc) < 0) {
        fprintf(stderr, "%s: cannot create the client\n", a.cli.prog);
        return 1;
    }

    uv_timer_init(a.loop, &a.expiry);
    a.expiry.data = &a;
    uv_timer_init(a.loop, &a.deadline);
    a.deadline.data = &a;
    uv_timer_start(&a.deadline, on_deadline, (uint64_t)a.cli.timeout_s * 1000u, 0);

    if (a.cli.bo.transport == MQTTPROTO_BLOCKING_UNIX) {
        uv_pipe_init(a.loop, &a.io.pipe, 0);
        a.io_open = true;
        a.conn.data = &a;
        uv_pipe_connect(&a.conn, &a.io.pipe, a.cli.bo.host, on_connect);
    } else {
        char port[8];
        uint16_t p = a.cli.bo.port != 0 ? a.cli.bo.port
                                        : mqttproto_blocking_default_port((int)a.cli.bo.transport);
        snprintf(port, sizeof port, "%u", (unsigned)p);
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_protocol = IPPROTO_TCP;
        a.gai.data = &a;
        int r = uv_getaddrinfo(a.loop, &a.gai, on_resolved, a.cli.bo.host, port, &hints);
        if (r < 0) {
            fail(&a, "cannot resolve %s: %s", a.cli.bo.host, uv_strerror(r));
        }
    }

    uv_run(a.loop, UV_RUN_DEFAULT);
    if (a.phase != PHASE_DONE && a.status == 0) {
        a.status = 1;
    }
    uv_loop_close(a.loop);
    if (a.addrs != NULL) {
        uv_freeaddrinfo(a.addrs);
    }
    free(a.wdata);
    xport_chain_free(&a.chain);
    tls_mem_ctx_free(a.tls_ctx);
    tbuf_free(&a.in);
    mqttproto_client_destroy(a.mc);
    free(a.filter);
    for (int q = 0; q < 3; q++) {
        free(a.topics[q]);
    }
    return a.status;
}
