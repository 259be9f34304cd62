/*
 * Test helper: two chains (a client side and a server side) wired to each
 * other in memory. shuttle() moves the bytes each one has for the network
 * into the other until neither has any, optionally a few bytes at a time.
 */
#ifndef MQTTPROTO_TRANSPORT_TEST_PAIR_H
#define MQTTPROTO_TRANSPORT_TEST_PAIR_H

#include "layer.h"

#include <string.h>

typedef struct pair {
    xport_chain client;
    xport_chain server;
    int client_status; /* the last negative net_in result, or 0 */
    int server_status;
    size_t chunk; /* bytes moved per step; 0 moves everything at once */
} pair;

static inline void pair_init(pair *p)
{
    memset(p, 0, sizeof *p);
    xport_chain_init(&p->client);
    xport_chain_init(&p->server);
}

static inline void pair_free(pair *p)
{
    xport_chain_free(&p->client);
    xport_chain_free(&p->server);
}

static inline size_t move_bytes(xport_chain *from, xport_chain *to, size_t chunk, int *status)
{
    size_t moved = 0;
    const uint8_t *d;
    size_t n;
    while ((n = xport_chain_net_out(from, &d)) > 0) {
        if (chunk != 0 && n > chunk) {
            n = chunk;
        }
        int r = xport_chain_net_in(to, d, n);
        xport_chain_net_consume(from, n);
        moved += n;
        if (r < 0 && *status == 0) {
            *status = r;
        }
    }
    return moved;
}

/* Moves bytes both ways until nothing moves; returns the bytes moved. */
static inline size_t shuttle(pair *p)
{
    size_t total = 0;
    for (int i = 0; i < 10000; i++) {
        size_t a = move_bytes(&p->client, &p->server, p->chunk, &p->server_status);
        size_t b = move_bytes(&p->server, &p->client, p->chunk, &p->client_status);
        total += a + b;
        if (a == 0 && b == 0) {
            break;
        }
    }
    return total;
}

/* Reads every application byte a chain has now; returns the count or the
   first negative status when no byte came. */
static inline ptrdiff_t read_all(xport_chain *c, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ptrdiff_t n = xport_chain_app_read(c, buf + got, cap - got);
        if (n < 0) {
            return got > 0 ? (ptrdiff_t)got : n;
        }
        if (n == 0) {
            return (ptrdiff_t)got;
        }
        got += (size_t)n;
        if (got == cap) {
            return (ptrdiff_t)got;
        }
    }
}

#endif
