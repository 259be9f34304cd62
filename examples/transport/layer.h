/*
 * Transport layers: byte transforms between a socket and the MQTT state
 * machine, with no socket, thread or clock inside. Each layer has a network
 * side (bytes to and from the layer below: the socket, or another layer)
 * and an application side (bytes to and from the layer above: MQTT, or
 * another layer). TLS (tls_mem.h) and WebSocket (ws.h) are layers; a chain
 * stacks them (socket <-> TLS <-> WebSocket <-> MQTT for wss) and moves the
 * bytes between them, so an event loop only ever sees one pair of byte
 * streams, whatever the transport.
 *
 * The same layers serve both roles: a client creates them in client mode,
 * a server (the broker) in server mode, one chain per connection.
 */
#ifndef MQTTPROTO_TRANSPORT_LAYER_H
#define MQTTPROTO_TRANSPORT_LAYER_H

#include "tbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results shared by every layer and the chain: 0 or positive is success. */
enum xport_status {
    XPORT_OK = 0,
    XPORT_ERR_NO_MEMORY = -1,
    XPORT_ERR_INVALID = -2,   /* a caller error (bad argument or state) */
    XPORT_ERR_TLS = -3,       /* TLS failed: handshake, certificate, record */
    XPORT_ERR_HANDSHAKE = -4, /* WebSocket upgrade refused or malformed */
    XPORT_ERR_PROTOCOL = -5,  /* WebSocket framing error: a close was queued */
    XPORT_ERR_CLOSED = -6     /* the peer closed the layer (close_notify, close frame) */
};

/* A short name for an xport_status ("XPORT_ERR_TLS", ...). */
const char *xport_status_name(int status);

typedef struct xport_layer_ops {
    const char *name; /* "tls", "websocket" */
    /* Bytes that arrived from the network side; takes all of them. 0 or a
       negative xport_status (the layer failed: flush net_out, then close). */
    int (*net_in)(void *self, const uint8_t *data, size_t len);
    /* Bytes waiting for the network side: a peek that stays valid until
       net_consume() or the next call that changes the layer. */
    size_t (*net_out)(void *self, const uint8_t **data);
    void (*net_consume)(void *self, size_t n);
    /* Decoded application bytes: copies up to cap, returns the count, 0
       when none are ready now, or a negative xport_status (XPORT_ERR_CLOSED
       once the peer closed and every byte before the close was read). */
    ptrdiff_t (*app_read)(void *self, uint8_t *buf, size_t cap);
    /* Application bytes to send; takes all of them (held while the
       handshake runs). 0 or a negative xport_status. */
    int (*app_write)(void *self, const uint8_t *data, size_t len);
    /* Whether the handshake completed. */
    bool (*ready)(const void *self);
    /* Whether the layer ended (failed, or closed by either side): once its
       net_out is flushed, the connection can be closed. */
    bool (*finished)(const void *self);
    /* What went wrong, as one line for a person; "" when nothing did. */
    const char *(*error)(const void *self);
    /* Ask the layer to close politely (close_notify, close frame 1000). */
    void (*close)(void *self);
    void (*destroy)(void *self);
} xport_layer_ops;

typedef struct xport_layer {
    const xport_layer_ops *ops;
    void *self;
} xport_layer;

#define XPORT_MAX_LAYERS 4

/*
 * A stack of layers, index 0 nearest the network. With no layer at all it
 * passes bytes through (plain TCP or a UNIX socket), so callers need only
 * one code path.
 */
typedef struct xport_chain {
    xport_layer layers[XPORT_MAX_LAYERS];
    size_t count;
    tbuf in;  /* passthrough only: bytes from the network for the application */
    tbuf out; /* passthrough only: bytes from the application for the network */
    int error;
    bool closed; /* a layer below the top was closed by the peer */
} xport_chain;

void xport_chain_init(xport_chain *c);
/* Destroys every layer pushed. */
void xport_chain_free(xport_chain *c);
/* Adds a layer above those already pushed (push TLS before WebSocket); the
   chain owns it from now on, even when this fails (it is then destroyed).
   0 or XPORT_ERR_INVALID (the chain is full). */
int xport_chain_push(xport_chain *c, xport_layer layer);

/* Bytes read from the socket. 0 or a negative xport_status (sticky; flush
   net_out once more, then close). */
int xport_chain_net_in(xport_chain *c, const uint8_t *data, size_t len);
/* Bytes to write to the socket (peek) and, once written, consume. */
size_t xport_chain_net_out(xport_chain *c, const uint8_t **data);
void xport_chain_net_consume(xport_chain *c, size_t n);
/* Application bytes (MQTT) that arrived: the count copied, 0 for none now,
   or a negative xport_status (XPORT_ERR_CLOSED after an orderly close). */
ptrdiff_t xport_chain_app_read(xport_chain *c, uint8_t *buf, size_t cap);
/* Application bytes (MQTT) to send: 0 or a negative xport_status. */
int xport_chain_app_write(xport_chain *c, const uint8_t *data, size_t len);
/* Whether every layer finished its handshake. */
bool xport_chain_ready(const xport_chain *c);
/* Whether some layer ended: flush net_out, then close the socket. */
bool xport_chain_finished(const xport_chain *c);
/* Politely closes the top layer (and so the ones below, in turn). */
void xport_chain_close(xport_chain *c);
/* The error of the lowest layer that has one (each layer's message names
   the layer: "TLS handshake failed: ...", "WebSocket upgrade refused: ..."),
   or "". Valid until the next call on the chain. */
const char *xport_chain_error(const xport_chain *c);

#endif
