/*
 * TLS and WebSocket on a connection (tls:, ws:, wss: listeners): a chain of
 * layers from examples/transport/ between the libuv stream and the library.
 * What the socket reads goes through the chain into conn_input(); what the
 * library has to write goes into the chain, and connection_output.c writes
 * the chain's bytes to the socket. A failed handshake (the ws layer answers
 * with an HTTP status, TLS with an alert) or a bad frame (a close frame)
 * gets that answer written, then the connection is closed.
 */
#include "connection.h"

#include "layer.h"
#include "log.h"
#include "tls_mem.h"
#include "ws.h"

#include <stdlib.h>
#include <string.h>

/* The library's output is moved into the chain while the chain holds less
   than this for the socket: behind it, the library's queues apply. */
#define CHAIN_HIGH_WATER (256u * 1024u)

bool conn_layers_setup(struct connection *c, const struct listener *l)
{
    if (l->layers == LAYERS_NONE) {
        return true;
    }
    char err[256] = "";
    xport_chain *chain = malloc(sizeof *chain);
    if (chain == NULL) {
        return false;
    }
    xport_chain_init(chain);
    c->chain = chain;
    if (l->layers == LAYERS_TLS || l->layers == LAYERS_WSS) {
        tls_mem *t = tls_mem_new(c->server->tls_ctx, NULL, err, sizeof err);
        if (t == NULL || xport_chain_push(chain, tls_mem_layer(t)) != 0) {
            log_error("cannot set up TLS for %s: %s", c->info.peer, err);
            return false;
        }
        c->tls = t;
    }
    if (l->layers == LAYERS_WS || l->layers == LAYERS_WSS) {
        ws_config wc;
        ws_config_default(&wc, WS_SERVER);
        wc.path = NULL; /* any path: clients use /mqtt, /, ... */
        /* A frame may carry the largest packet accepted, and some more. */
        wc.max_frame_size = (uint64_t)c->server->config->max_packet_size + 16u;
        ws *w = ws_new(&wc, err, sizeof err);
        if (w == NULL || xport_chain_push(chain, ws_layer(w)) != 0) {
            log_error("cannot set up WebSocket for %s: %s", c->info.peer, err);
            return false;
        }
    }
    c->info.transport = l->layers == LAYERS_TLS ? "tls" : l->layers == LAYERS_WS ? "ws" : "wss";
    return true;
}

static void layers_failed(struct connection *c, int e)
{
    char label[256];
    const char *why = xport_chain_error(c->chain);
    if (e == XPORT_ERR_CLOSED) {
        conn_set_reason(c, "the client closed its %s session", c->info.transport);
    } else {
        log_warning("%s: %s", conn_label(c, label, sizeof label),
                    why[0] != '\0' ? why : xport_status_name(e));
        conn_set_reason(c, "%s", why[0] != '\0' ? why : xport_status_name(e));
    }
    /* What the layer queued (HTTP status, alert, close frame) goes out. */
    conn_drain_and_close(c);
    conn_mark_dirty(c);
}

void conn_layers_input(struct connection *c, const uint8_t *data, size_t len)
{
    int e = xport_chain_net_in(c->chain, data, len);
    if (c->tls != NULL && c->info.tls_identity == NULL && tls_mem_handshake_done(c->tls)) {
        c->info.tls_identity = tls_mem_peer_cn(c->tls);
        if (c->info.tls_identity != NULL) {
            char label[256];
            log_debug("%s: TLS client certificate of '%s' (%s)", conn_label(c, label, sizeof label),
                      c->info.tls_identity, tls_mem_version(c->tls));
        }
    }
    uint8_t *buf = c->server->layer_buf;
    while (c->phase == CONN_OPEN && c->mc != NULL) {
        ptrdiff_t n = xport_chain_app_read(c->chain, buf, sizeof c->server->layer_buf);
        if (n < 0) {
            e = (int)n;
            break;
        }
        if (n == 0) {
            break;
        }
        conn_input(c, buf, (size_t)n);
    }
    if (e < 0 && c->phase == CONN_OPEN) {
        layers_failed(c, e);
        return;
    }
    conn_mark_dirty(c); /* handshake bytes to write */
}

void conn_layers_pump(struct connection *c)
{
    if (c->mc == NULL) {
        return;
    }
    for (;;) {
        const uint8_t *unused;
        if (xport_chain_net_out(c->chain, &unused) >= CHAIN_HIGH_WATER) {
            return;
        }
        const uint8_t *data;
        size_t n = mqttproto_broker_client_get_outbound_data(c->mc, &data);
        if (n == 0) {
            return;
        }
        if (n > CHAIN_HIGH_WATER) {
            n = CHAIN_HIGH_WATER;
        }
        int e = xport_chain_app_write(c->chain, data, n);
        if (e < 0) {
            /* The layer ended (the peer closed it, or it failed): the
               rest of the output has nowhere to go. */
            mqttproto_broker_client_consume_outbound(
                c->mc, mqttproto_broker_client_get_outbound_data(c->mc, NULL));
            if (c->phase == CONN_OPEN) {
                layers_failed(c, e);
            }
            return;
        }
        mqttproto_broker_client_consume_outbound(c->mc, n);
    }
}

void conn_layers_free(struct connection *c)
{
    if (c->chain != NULL) {
        xport_chain_free(c->chain);
        free(c->chain);
        c->chain = NULL;
        c->tls = NULL;
        c->info.tls_identity = NULL;
    }
}
