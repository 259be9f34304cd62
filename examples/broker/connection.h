/*
 * One client connection: the socket (a libuv stream: TCP or UNIX), the
 * library's broker client, and the glue between them.
 *
 *   connection.c          accepting, reading and feeding input, deadlines,
 *                         closing
 *   connection_events.c   the library's events and the decisions they ask
 *                         for (CONNECT, SUBSCRIBE, PUBLISH) through the
 *                         auth chains
 *   connect_request.c     a CONNECT's credentials copied for an
 *                         authenticator chain that runs on the thread pool
 *   connection_output.c   writing the library's outbound bytes, the
 *                         back-pressure policy
 *   connection_layers.c   TLS and WebSocket (examples/transport/) between
 *                         the stream and conn_input()/conn_flush()
 *
 * A transport that transforms bytes (TLS, WebSocket) goes between the
 * stream and conn_input()/conn_flush(): it feeds conn_input() with what it
 * decodes and takes what the library has to write.
 */
#ifndef BROKER_CONNECTION_H
#define BROKER_CONNECTION_H

#include "conn_info.h"
#include "deadline_heap.h"
#include "server.h"

#include <mqttproto/mqttproto.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum conn_phase {
    CONN_OPEN,     /* reading and writing */
    CONN_DRAINING, /* no more reading: write what is left, then close */
    CONN_CLOSING,  /* shut down / closed: waiting for libuv's close callback */
};

struct pending_write; /* connection_output.c */
struct connect_request;
struct xport_chain; /* examples/transport/layer.h */
struct tls_mem;

struct connection {
    struct server *server;
    struct connection *prev, *next;             /* server->conns */
    struct connection *prev_dirty, *next_dirty; /* server->dirty */
    bool dirty;

    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;
    enum conn_phase phase;
    bool handle_closed; /* uv_close() called */

    mqttproto_broker_client *mc; /* NULL once destroyed */
    struct connection_info info;
    bool connected;    /* CONNACK 0x00 sent */
    bool has_username; /* from the CONNECT (the library keeps the name) */
    uint16_t keep_alive;

    /* Input the library could not take yet (its CONNECT waits for the
       thread pool): kept here while reading is stopped. */
    uint8_t *held;
    size_t held_len;
    bool reading;

    /* Output: one asynchronous write at a time, of bytes copied from the
       library; they are consumed from it when the write completes. */
    struct pending_write *write;
    uint64_t write_since;

    struct deadline_node deadline;
    struct connect_request *auth_job; /* on the thread pool */

    char *close_reason; /* why it ends: set once, at the end (malloc'ed) */

    /* tls:, ws:, wss: listeners: the layers between the stream and the
       library (NULL for plain TCP and UNIX sockets). */
    struct xport_chain *chain;
    struct tls_mem *tls;       /* the chain's TLS layer, if any */
    const char *identity_user; /* use_identity_as_username: the CN */
};

/* ---- connection.c ---- */

/** Accept a connection waiting on @p l. */
void conn_accept(struct listener *l);

/** Bytes read from the peer (or decoded by a transport). */
void conn_input(struct connection *c, const uint8_t *data, size_t len);

/** Feed input kept while the library could not take it; resume reading. */
void conn_resume_input(struct connection *c);

/** Queue @p c for server_flush_all(). */
void conn_mark_dirty(struct connection *c);

/** The deadline changed (or may have): update the server's heap. */
void conn_schedule(struct connection *c);

/** The earliest of the library's expiry and the write-stall deadline. */
uint64_t conn_deadline(const struct connection *c);

/** The heap says @p c is due at @p now. */
void conn_on_deadline(struct connection *c, uint64_t now);

/** Record why the connection ends (the first reason given is kept). */
__attribute__((format(printf, 2, 3))) void conn_set_reason(struct connection *c, const char *fmt,
                                                           ...);

/** Stop reading; write what is queued, then close (reason: see above). */
void conn_drain_and_close(struct connection *c);

/** Close now, without writing what is left. */
void conn_abort(struct connection *c);

/** Output is written and the library is done: close. */
void conn_finish(struct connection *c);

/** The server shuts down: DISCONNECT 0x8B, or a refusal before CONNACK. */
void conn_server_shutdown(struct connection *c);

/** "client ID" or "connection from PEER" for log lines. */
const char *conn_label(const struct connection *c, char *buf, size_t cap);

/* ---- connection_events.c ---- */

/** Handle every pending event; returns how many there were. */
size_t conn_drain_events(struct connection *c);

/** The authenticator chain's answer for a CONNECT. */
void conn_connect_decided(struct connection *c, const struct connect_request *req);

/* ---- connection_layers.c ---- */

/** Give @p c the layers its listener asks for; false when that failed. */
bool conn_layers_setup(struct connection *c, const struct listener *l);

/** Bytes read from the socket of a connection with layers. */
void conn_layers_input(struct connection *c, const uint8_t *data, size_t len);

/** Move the library's output into the layers (while they hold little). */
void conn_layers_pump(struct connection *c);

/** Free the layers (the handle is closed). */
void conn_layers_free(struct connection *c);

/* ---- connection_output.c ---- */

/** Write what the library has for the peer, as far as the socket takes it. */
void conn_flush(struct connection *c);

/** Free the output state (the handle is closed). */
void conn_output_free(struct connection *c);

#endif /* BROKER_CONNECTION_H */
