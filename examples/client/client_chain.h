/*
 * The transport chain of a client connection, from the blocking options:
 * TLS for TLS and WSS, WebSocket for WS and WSS (examples/transport).
 * Shared by the blocking client and the libuv client.
 */
#ifndef MQTTPROTO_CLIENT_CHAIN_H
#define MQTTPROTO_CLIENT_CHAIN_H

#include "layer.h"
#include "mqttproto_blocking.h"
#include "tls_mem.h"

#include <stddef.h>

/* Pushes the layers @p o asks for onto an empty @p chain. *tls_ctx is
   created on first use and reused (free it with tls_mem_ctx_free()).
   0, or -1 with the reason in @p err (and *is_tls telling whether TLS or
   WebSocket failed). */
int client_chain_build(xport_chain *chain, tls_mem_ctx **tls_ctx,
                       const mqttproto_blocking_options *o, char *err, size_t errlen, bool *is_tls);

/* Where a connection stands: "the TLS handshake", "the WebSocket upgrade",
   or NULL once every layer is ready. */
const char *client_chain_phase(const xport_chain *chain);

#endif
