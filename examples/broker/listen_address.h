/*
 * Listener addresses as written on the command line and in the config file:
 *
 *   HOST:PORT        TCP (HOST: an IPv4 address, a name, or [IPv6])
 *   tcp:HOST:PORT    the same, spelled out
 *   unix:PATH        a UNIX stream socket
 *   tls:HOST:PORT    TCP with TLS (certfile, keyfile, cafile in the config)
 *   ws:HOST:PORT     TCP with WebSocket (subprotocol mqtt, any path)
 *   wss:HOST:PORT    TCP with TLS, then WebSocket
 *
 * PORT 0 lets the kernel choose; the log names the port bound.
 */
#ifndef BROKER_LISTEN_ADDRESS_H
#define BROKER_LISTEN_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum listen_kind {
    LISTEN_TCP,
    LISTEN_UNIX,
};

/* The byte-transform layers (examples/transport/) on a TCP listener. */
enum listen_layers {
    LAYERS_NONE,
    LAYERS_TLS,
    LAYERS_WS,
    LAYERS_WSS,
};

struct listen_address {
    enum listen_kind kind;
    enum listen_layers layers;
    char *text; /* as written, for messages */
    char *host; /* TCP: without brackets */
    uint16_t port;
    char *path; /* UNIX */
};

/**
 * Parse @p text. On failure returns false and writes the reason (without
 * the file or option it came from) into @p err.
 */
bool listen_address_parse(const char *text, struct listen_address *out, char *err, size_t errlen);

void listen_address_free(struct listen_address *a);

#endif /* BROKER_LISTEN_ADDRESS_H */
