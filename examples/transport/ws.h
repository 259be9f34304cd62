/*
 * WebSocket (RFC 6455) for MQTT as a byte transform, on wslay: the HTTP
 * upgrade handshake for both roles, then binary frames carrying an MQTT
 * byte stream. No socket inside; stacks over TLS for wss (layer.h).
 *
 *   - the client offers the subprotocol "mqtt" [MQTT-6.0.0-3] and refuses
 *     a server that does not select it; the server requires it and selects
 *     it [MQTT-6.0.0-4];
 *   - MQTT bytes go in binary frames only; a text frame closes the
 *     connection with 1003 [MQTT-6.0.0-1];
 *   - frames are a byte stream, not packet boundaries: a packet may span
 *     frames and a frame may hold several packets [MQTT-6.0.0-2];
 *   - a frame larger than max_frame_size closes the connection with 1009;
 *   - a malformed or refused handshake gets an HTTP status from the server
 *     (400, 404, 405, 426, 431) and a one-line error on both sides.
 */
#ifndef MQTTPROTO_TRANSPORT_WS_H
#define MQTTPROTO_TRANSPORT_WS_H

#include "layer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ws_role { WS_CLIENT = 0, WS_SERVER = 1 } ws_role;

typedef struct ws_config {
    ws_role role;
    /* Client: the Host header ("broker.example" or "broker.example:8080");
       NULL sends "localhost". */
    const char *host;
    /* Client: the request path (default "/mqtt"). Server: the only path
       accepted (404 otherwise); NULL accepts any. */
    const char *path;
    /* Largest frame payload accepted; a larger frame closes with 1009.
       Default 1 MiB + 64 KiB. */
    uint64_t max_frame_size;
    /* Outbound bytes are cut into frames of at most this size (default 64 KiB). */
    size_t max_send_frame;
    /* Largest HTTP request or response head accepted (default 8 KiB). */
    size_t max_handshake;
} ws_config;

void ws_config_default(ws_config *cfg, ws_role role);

typedef struct ws ws;

/* NULL on failure (err says why). A client's upgrade request is ready at once. */
ws *ws_new(const ws_config *cfg, char *err, size_t errlen);
void ws_free(ws *w);

/* Bytes from the network; takes all. 0, XPORT_ERR_HANDSHAKE (the upgrade
   failed; a server has queued its HTTP answer), XPORT_ERR_PROTOCOL (a frame
   broke the rules; a close frame is queued) or XPORT_ERR_NO_MEMORY. */
int ws_push_net(ws *w, const uint8_t *data, size_t len);
/* Bytes for the network: peek, then consume what was written. */
size_t ws_peek_net(ws *w, const uint8_t **data);
void ws_consume_net(ws *w, size_t n);
/* MQTT bytes that arrived: the count, 0 for none now, XPORT_ERR_CLOSED after
   the peer's close frame, or the error that ended the connection. */
ptrdiff_t ws_pull_app(ws *w, uint8_t *buf, size_t cap);
/* MQTT bytes to send (held until the upgrade completes). */
int ws_push_app(ws *w, const uint8_t *data, size_t len);

bool ws_ready(const ws *w);
/* Failed, or a close frame went either way. */
bool ws_finished(const ws *w);
const char *ws_error(const ws *w);
/* Status code of the close frame received / sent; 0 when none. */
uint16_t ws_close_code_received(const ws *w);
uint16_t ws_close_code_sent(const ws *w);
/* Server, after the upgrade: the path the client asked for. */
const char *ws_request_path(const ws *w);
/* Queue a close frame with @p code (1000 for a normal end). */
void ws_close(ws *w, uint16_t code, const char *reason);

/* This connection as a layer for xport_chain_push() (the chain then owns it). */
xport_layer ws_layer(ws *w);

#endif
