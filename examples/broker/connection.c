#include "connection.h"

#include "connect_request.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_closed(uv_handle_t *handle);

const char *conn_label(const struct connection *c, char *buf, size_t cap)
{
    mqttproto_str id =
        c->mc != NULL ? mqttproto_broker_client_client_id(c->mc) : (mqttproto_str){NULL, 0};
    if (c->connected && id.len > 0) {
        snprintf(buf, cap, "client %.*s (%s)", (int)id.len, id.data, c->info.peer);
    } else {
        snprintf(buf, cap, "connection from %s", c->info.peer);
    }
    return buf;
}

void conn_set_reason(struct connection *c, const char *fmt, ...)
{
    if (c->close_reason != NULL) {
        return;
    }
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    c->close_reason = malloc(len + 1);
    if (c->close_reason != NULL) {
        memcpy(c->close_reason, buf, len);
        c->close_reason[len] = '\0';
    }
}

void conn_mark_dirty(struct connection *c)
{
    if (c->dirty || c->phase == CONN_CLOSING) {
        return;
    }
    c->dirty = true;
    c->prev_dirty = NULL;
    c->next_dirty = c->server->dirty;
    if (c->next_dirty != NULL) {
        c->next_dirty->prev_dirty = c;
    }
    c->server->dirty = c;
}

/* ---- deadlines ---- */

uint64_t conn_deadline(const struct connection *c)
{
    uint64_t due = c->mc != NULL ? mqttproto_broker_client_get_expiry(c->mc) : DEADLINE_NONE;
    if (c->write != NULL) {
        uint64_t stall = c->write_since + c->server->config->write_timeout_ms;
        if (stall < due) {
            due = stall;
        }
    }
    return due;
}

void conn_schedule(struct connection *c)
{
    if (c->phase == CONN_CLOSING) {
        return;
    }
    uint64_t due = conn_deadline(c);
    /* A later deadline is found when the earlier one comes due (keep alive
       moves on with every packet): only earlier ones move the node now. */
    if (!deadline_node_queued(&c->deadline) || due < c->deadline.due) {
        if (!deadline_heap_set(&c->server->deadlines, &c->deadline, due)) {
            conn_set_reason(c, "out of memory for its timer");
            conn_abort(c);
        }
    }
}

void conn_on_deadline(struct connection *c, uint64_t now)
{
    if (c->phase == CONN_CLOSING) {
        return;
    }
    if (c->write != NULL && now >= c->write_since + c->server->config->write_timeout_ms) {
        /* Back-pressure: the peer stopped reading. */
        conn_set_reason(c, "it read nothing for %u s (write_timeout)",
                        c->server->config->write_timeout_ms / 1000u);
        conn_abort(c);
        return;
    }
    if (c->mc == NULL || now < mqttproto_broker_client_get_expiry(c->mc)) {
        return;
    }
    mqttproto_broker_client_state before = mqttproto_broker_client_get_state(c->mc);
    int e = mqttproto_broker_client_handle_expiry(c->mc, now);
    if (e == MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT) {
        conn_set_reason(c, "keep alive timeout: nothing received for 1.5 x %u s (DISCONNECT 0x8D)",
                        c->keep_alive);
    } else if (e == MQTTPROTO_ERR_BAD_STATE) {
        conn_set_reason(c, before == MQTTPROTO_BROKER_CLIENT_AUTHENTICATING
                               ? "authentication did not finish within connect_timeout"
                               : "no CONNECT within connect_timeout");
    }
    conn_mark_dirty(c);
}

/* ---- closing ---- */

static void log_end(struct connection *c)
{
    char label[256];
    const char *why = c->close_reason != NULL ? c->close_reason : "closed";
    if (c->connected) {
        log_info("%s disconnected: %s", conn_label(c, label, sizeof label), why);
    } else {
        log_debug("%s closed: %s", conn_label(c, label, sizeof label), why);
    }
}

/* The library's side ends: the session is detached (the will published
   unless a DISCONNECT 0x00 came), the client freed. */
static void release_client(struct connection *c)
{
    if (c->auth_job != NULL) {
        connect_request_detach(c->auth_job);
        c->auth_job = NULL;
    }
    deadline_heap_remove(&c->server->deadlines, &c->deadline);
    if (c->mc != NULL) {
        log_end(c);
        mqttproto_broker_client_destroy(c->mc, server_now(c->server));
        c->mc = NULL;
    }
    free(c->held);
    c->held = NULL;
    c->held_len = 0;
}

static void stop_reading(struct connection *c)
{
    if (c->reading) {
        uv_read_stop(&c->io.stream);
        c->reading = false;
    }
}

/* No more reading or writing: the connection no longer counts. */
static void enter_closing(struct connection *c)
{
    if (c->phase != CONN_CLOSING) {
        c->phase = CONN_CLOSING;
        c->server->conn_count--;
        server_undirty(c->server, c);
    }
}

static void close_handle(struct connection *c)
{
    enter_closing(c);
    if (!c->handle_closed) {
        c->handle_closed = true;
        uv_close(&c->io.handle, on_closed);
    }
}

void conn_abort(struct connection *c)
{
    if (c->handle_closed) {
        return;
    }
    stop_reading(c);
    release_client(c);
    close_handle(c);
}

void conn_finish(struct connection *c)
{
    if (c->phase == CONN_CLOSING) {
        return;
    }
    /* Nothing is left to write: close() sends the FIN after the bytes the
       kernel still holds, as shutdown() would, for one syscall less. */
    stop_reading(c);
    release_client(c);
    close_handle(c);
}

void conn_drain_and_close(struct connection *c)
{
    if (c->phase != CONN_OPEN) {
        return;
    }
    stop_reading(c);
    c->phase = CONN_DRAINING;
    conn_mark_dirty(c);
}

static void on_closed(uv_handle_t *handle)
{
    struct connection *c = handle->data;
    conn_output_free(c);
    conn_layers_free(c);
    server_connection_freed(c->server, c);
    free(c->close_reason);
    free(c);
}

void conn_server_shutdown(struct connection *c)
{
    if (c->phase == CONN_CLOSING) {
        return;
    }
    conn_set_reason(c, "the server is shutting down");
    mqttproto_broker_client_state st =
        c->mc != NULL ? mqttproto_broker_client_get_state(c->mc) : MQTTPROTO_BROKER_CLIENT_CLOSING;
    if (st == MQTTPROTO_BROKER_CLIENT_CONNECTED) {
        (void)mqttproto_broker_client_disconnect(c->mc, MQTTPROTO_RC_SERVER_SHUTTING_DOWN, NULL);
    } else if (st == MQTTPROTO_BROKER_CLIENT_AUTHENTICATING) {
        if (c->auth_job != NULL) {
            connect_request_detach(c->auth_job);
            c->auth_job = NULL;
        }
        (void)mqttproto_broker_client_acknowledge_connect(c->mc, MQTTPROTO_RC_SERVER_UNAVAILABLE,
                                                          (mqttproto_str){NULL, 0}, NULL,
                                                          server_now(c->server));
    }
    conn_drain_and_close(c);
}

/* ---- input ---- */

static void hold_input(struct connection *c, const uint8_t *data, size_t len)
{
    char label[256];
    log_debug("%s: %zu bytes of input held until its CONNECT is answered",
              conn_label(c, label, sizeof label), c->held_len + len);
    uint8_t *p = realloc(c->held, c->held_len + len);
    if (p == NULL) {
        conn_set_reason(c, "out of memory for its input");
        conn_abort(c);
        return;
    }
    memcpy(p + c->held_len, data, len);
    c->held = p;
    c->held_len += len;
    stop_reading(c);
}

static void feed_error(struct connection *c, ptrdiff_t err)
{
    char label[256];
    if (err == MQTTPROTO_ERR_BAD_STATE) {
        return; /* closing for another reason: the rest of the input is moot */
    }
    if (err == MQTTPROTO_ERR_NO_MEMORY) {
        conn_set_reason(c, "out of memory for its input");
        conn_abort(c);
        return;
    }
    uint8_t rc = mqttproto_err_reason_code((int)err);
    /* The library answers with a CONNACK (an error in the CONNECT) or a
       DISCONNECT carrying rc, or with nothing (no CONNECT first). */
    bool replied = mqttproto_broker_client_get_outbound_data(c->mc, NULL) > 0;
    if (replied) {
        log_warning("%s: protocol error: %s; sent %s 0x%02x (%s)",
                    conn_label(c, label, sizeof label), mqttproto_strerror((int)err),
                    c->connected ? "DISCONNECT" : "CONNACK", rc, mqttproto_reason_code_name(rc));
    } else {
        log_warning("%s: protocol error: %s; closing without a reply",
                    conn_label(c, label, sizeof label), mqttproto_strerror((int)err));
    }
    conn_set_reason(c, "protocol error: %s", mqttproto_strerror((int)err));
    conn_mark_dirty(c);
}

/* Feed bytes until the library takes no more. */
static void feed(struct connection *c, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len && c->mc != NULL && c->phase != CONN_CLOSING) {
        ptrdiff_t took =
            mqttproto_broker_client_feed_bytes(c->mc, data + off, len - off, server_now(c->server));
        if (took < 0) {
            (void)conn_drain_events(c); /* what came before the error */
            feed_error(c, took);
            return;
        }
        off += (size_t)took;
        size_t events = conn_drain_events(c);
        if (took == 0 && events == 0 && off < len) {
            /* Held at the library's limit until the CONNECT is answered. */
            hold_input(c, data + off, len - off);
            return;
        }
    }
}

void conn_input(struct connection *c, const uint8_t *data, size_t len)
{
    if (c->held_len > 0) {
        hold_input(c, data, len);
        return;
    }
    feed(c, data, len);
    conn_mark_dirty(c);
    conn_schedule(c);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct connection *c = handle->data;
    buf->base = (char *)c->server->read_buf;
    buf->len = sizeof c->server->read_buf;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct connection *c = stream->data;
    if (nread == 0 || c->phase == CONN_CLOSING) {
        return;
    }
    if (nread < 0) {
        if (nread == UV_EOF) {
            conn_set_reason(c, "the client closed the connection");
        } else {
            conn_set_reason(c, "read error: %s", uv_strerror((int)nread));
        }
        if (nread == UV_EOF && c->mc != NULL) {
            conn_drain_and_close(c);
        } else {
            conn_abort(c);
        }
        return;
    }
    if (c->chain != NULL) {
        conn_layers_input(c, (const uint8_t *)buf->base, (size_t)nread);
    } else {
        conn_input(c, (const uint8_t *)buf->base, (size_t)nread);
    }
    /* libuv reads a busy socket up to 32 times before it polls again: what
       this read routed goes out now, before session queues overflow. */
    server_flush_all(c->server);
}

static void start_reading(struct connection *c)
{
    if (c->reading || c->phase != CONN_OPEN) {
        return;
    }
    int e = uv_read_start(&c->io.stream, on_alloc, on_read);
    if (e != 0) {
        conn_set_reason(c, "cannot read: %s", uv_strerror(e));
        conn_abort(c);
        return;
    }
    c->reading = true;
}

void conn_resume_input(struct connection *c)
{
    if (c->held_len > 0 && c->mc != NULL) {
        uint8_t *data = c->held;
        size_t len = c->held_len;
        c->held = NULL;
        c->held_len = 0;
        feed(c, data, len);
        free(data);
        conn_mark_dirty(c);
        conn_schedule(c);
    }
    if (c->held_len == 0) {
        start_reading(c);
    }
}

/* ---- accepting ---- */

static void refuse(uv_handle_t *handle)
{
    struct connection *c = handle->data;
    conn_layers_free(c);
    free(c->close_reason);
    free(c);
}

void conn_accept(struct listener *l)
{
    struct server *s = l->server;
    struct connection *c = calloc(1, sizeof *c);
    if (c == NULL) {
        log_error("out of memory accepting a connection on %s", l->name);
        return;
    }
    c->server = s;
    deadline_node_init(&c->deadline);
    int e = l->kind == LISTEN_TCP ? uv_tcp_init(s->loop, &c->io.tcp)
                                  : uv_pipe_init(s->loop, &c->io.pipe, 0);
    if (e != 0) {
        log_error("cannot accept on %s: %s", l->name, uv_strerror(e));
        free(c);
        return;
    }
    c->io.handle.data = c;
    e = uv_accept(&l->io.stream, &c->io.stream);
    bool full = s->config->max_connections != 0 && s->conn_count >= s->config->max_connections;
    if (e != 0 || full || s->shutting_down) {
        if (e != 0) {
            log_warning("accept on %s failed: %s", l->name, uv_strerror(e));
        } else if (full) {
            log_warning("connection on %s refused: max_connections (%u) reached", l->name,
                        s->config->max_connections);
        }
        uv_close(&c->io.handle, refuse);
        return;
    }
    if (l->kind == LISTEN_TCP) {
        uv_tcp_nodelay(&c->io.tcp, 1);
        conn_info_from_tcp(&c->info, l->name, &c->io.tcp);
    } else {
        conn_info_from_pipe(&c->info, l->name, &c->io.pipe);
    }
    if (!conn_layers_setup(c, l)) {
        uv_close(&c->io.handle, refuse);
        return;
    }
    e = mqttproto_broker_client_create(s->broker, server_now(s), &c->mc);
    if (e != 0) {
        log_error("cannot take the connection from %s: %s", c->info.peer, mqttproto_strerror(e));
        uv_close(&c->io.handle, refuse);
        return;
    }
    mqttproto_broker_client_set_user_data(c->mc, c);
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->conn_count++;
    log_debug("new connection from %s on %s", c->info.peer, l->name);
    start_reading(c);
    conn_schedule(c);
}
