/*
 * Output: the library's outbound bytes go to the socket with uv_try_write()
 * straight from the library's buffer; what the socket does not take at once
 * is copied (at most WRITE_CHUNK bytes) into one asynchronous uv_write(),
 * and consumed from the library only once that write completes. While it
 * is under way nothing else is written.
 *
 * Back-pressure policy (docs/broker-program.md):
 *  - when the bytes waiting for the socket (the library's unwritten output,
 *    which includes the chunk being written) exceed max_outbound_bytes, the
 *    connection is closed at once;
 *  - when a write makes no progress for write_timeout (the peer reads
 *    nothing), the connection is closed.
 * Behind that, the library bounds each session's queue
 * (max_queued_messages, max_queued_bytes): messages beyond it are dropped.
 */
#include "connection.h"

#include "layer.h"
#include "log.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define WRITE_CHUNK (256u * 1024u)

/* The bytes for the socket: the library's output, or on a connection with
   TLS or WebSocket layers the chain's (fed from the library's). */
static size_t out_peek(struct connection *c, const uint8_t **data)
{
    if (c->chain != NULL) {
        conn_layers_pump(c);
        return xport_chain_net_out(c->chain, data);
    }
    return mqttproto_broker_client_get_outbound_data(c->mc, data);
}

static void out_consume(struct connection *c, size_t n)
{
    if (c->chain != NULL) {
        xport_chain_net_consume(c->chain, n);
    } else {
        mqttproto_broker_client_consume_outbound(c->mc, n);
    }
}

struct pending_write {
    uv_write_t req; /* first: the callback gets its address */
    struct connection *conn;
    size_t len;
    uint8_t data[];
};

static void backlog_exceeded(struct connection *c, size_t waiting)
{
    char label[256];
    log_warning("%s: %zu bytes wait to be written, over max_outbound_bytes (%zu): closing",
                conn_label(c, label, sizeof label), waiting, c->server->config->max_outbound_bytes);
    conn_set_reason(c, "its unwritten output exceeded max_outbound_bytes (%zu bytes)",
                    c->server->config->max_outbound_bytes);
    conn_abort(c);
}

static void on_written(uv_write_t *req, int status)
{
    struct pending_write *w = (struct pending_write *)(void *)req;
    struct connection *c = w->conn;
    size_t len = w->len;
    c->write = NULL;
    free(w);
    if (status < 0) {
        if (status != UV_ECANCELED) {
            conn_set_reason(c, "write error: %s", uv_strerror(status));
            conn_abort(c);
        }
        return;
    }
    if (c->mc != NULL) {
        out_consume(c, len);
    }
    conn_flush(c);
}

/* The socket is full: write a copy of the next chunk asynchronously. */
static void start_write(struct connection *c)
{
    const uint8_t *data;
    size_t n = out_peek(c, &data);
    if (n > c->server->config->max_outbound_bytes) {
        backlog_exceeded(c, n);
        return;
    }
    size_t len = n < WRITE_CHUNK ? n : WRITE_CHUNK;
    struct pending_write *w = malloc(sizeof *w + len);
    if (w == NULL) {
        conn_set_reason(c, "out of memory for its output");
        conn_abort(c);
        return;
    }
    memcpy(w->data, data, len);
    w->conn = c;
    w->len = len;
    uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
    int e = uv_write(&w->req, &c->io.stream, &buf, 1, on_written);
    if (e != 0) {
        free(w);
        conn_set_reason(c, "write error: %s", uv_strerror(e));
        conn_abort(c);
        return;
    }
    c->write = w;
    c->write_since = server_now(c->server);
    conn_schedule(c);
}

void conn_flush(struct connection *c)
{
    if (c->phase == CONN_CLOSING || c->mc == NULL) {
        return;
    }
    (void)conn_drain_events(c); /* e.g. TAKEN_OVER, after another connection's CONNECT */
    if (c->phase == CONN_CLOSING) {
        return;
    }
    if (mqttproto_broker_client_get_state(c->mc) == MQTTPROTO_BROKER_CLIENT_CONNECTED) {
        /* Work-around: the library encodes deliveries with the time this
           client was last fed, so an idle subscriber would get a Message
           Expiry Interval too long by its idle time [MQTT-3.3.2-6]. An
           empty feed moves its clock to now. */
        (void)mqttproto_broker_client_feed_bytes(c->mc, NULL, 0, server_now(c->server));
    }
    for (;;) {
        const uint8_t *data;
        size_t n = out_peek(c, &data);
        if (c->phase == CONN_CLOSING) {
            return; /* the layers failed */
        }
        if (c->write != NULL) {
            /* Deliveries pile up behind a write that waits for the peer. */
            if (n > c->server->config->max_outbound_bytes) {
                backlog_exceeded(c, n);
            }
            return;
        }
        if (n == 0) {
            break;
        }
        uv_buf_t buf = uv_buf_init((char *)(uintptr_t)data, n > UINT_MAX ? UINT_MAX : (unsigned)n);
        int w = uv_try_write(&c->io.stream, &buf, 1);
        if (w == UV_EAGAIN) {
            w = 0;
        }
        if (w < 0) {
            conn_set_reason(c, "write error: %s", uv_strerror(w));
            conn_abort(c);
            return;
        }
        out_consume(c, (size_t)w);
        if ((size_t)w < n) {
            start_write(c);
            return;
        }
        /* All written; the library may have more queued (it encodes
           deliveries as its output buffer drains). */
    }
    /* Nothing left to write. A CONNECT still being authenticated gets its
       CONNACK first. */
    if (c->auth_job == NULL &&
        (c->phase == CONN_DRAINING ||
         mqttproto_broker_client_get_state(c->mc) == MQTTPROTO_BROKER_CLIENT_CLOSING)) {
        conn_finish(c);
    }
}

void conn_output_free(struct connection *c)
{
    free(c->write);
    c->write = NULL;
}
