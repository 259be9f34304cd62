/*
 * The event loop: one libuv loop owns the listeners, every connection, one
 * timer for all deadlines, the signal handlers and the broker state
 * machine. Nothing blocks the loop: slow authenticators run on libuv's
 * thread pool.
 *
 * Each loop iteration ends, right before libuv polls for I/O, with
 * server_flush_all(): connections the broker named in
 * mqttproto_broker_next_writable() and those the iteration touched write
 * what they have, so every read, timer or signal is answered before the
 * loop sleeps; then the timer is armed for the earliest deadline.
 */
#ifndef BROKER_SERVER_H
#define BROKER_SERVER_H

#include "auth.h"
#include "config.h"
#include "deadline_heap.h"

#include <mqttproto/mqttproto.h>

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define READ_BUFFER_SIZE (64u * 1024u)

struct connection;
struct tls_mem_ctx;
struct persistence;
struct store;

struct listener {
    struct server *server;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;
    enum listen_kind kind;
    enum listen_layers layers; /* TLS, WebSocket or both on TCP */
    char name[300];            /* what it is bound to, e.g. "127.0.0.1:1883", "unix:/run/x" */
    char *unix_path;           /* removed at exit */
    bool initialized;
};

struct server {
    uv_loop_t *loop;
    const struct broker_config *config;
    const struct auth_chain *auth;
    bool auth_may_block;  /* the authenticator chain runs on the thread pool */
    bool has_authorizers; /* SUBSCRIBE and PUBLISH are checked */
    mqttproto_broker *broker;

    struct listener **listeners; /* each allocated alone: libuv handles never move */
    struct tls_mem_ctx *tls_ctx; /* for tls: and wss: listeners (certfile...) */
    size_t listener_count;

    struct connection *conns; /* every connection not yet freed */
    size_t conn_count;        /* of them, the ones not yet closed */
    struct connection *dirty; /* to flush before the loop polls again */

    struct deadline_heap deadlines;
    uv_timer_t timer;
    uint64_t timer_due; /* DEADLINE_NONE when not armed */
    uv_prepare_t before_poll;
    uv_signal_t sigint, sigterm;
    uv_timer_t shutdown_timer;
    bool shutting_down;
    bool finished;
    int exit_status; /* of server_run() */

    /* The store, when persistence is on (NULL otherwise). */
    struct persistence *persist;
    /* The library's clock is wall-clock milliseconds, so that the times
       the store holds go on across a restart: uv_now() plus this. */
    uint64_t clock_offset;

    /* One read buffer for all: each read is fed to the library, which
       copies what it keeps, before the next read. */
    uint8_t read_buf[READ_BUFFER_SIZE];
    /* The same for what TLS and WebSocket layers decode from a read. */
    uint8_t layer_buf[READ_BUFFER_SIZE];
};

/**
 * Restore the broker from @p store (NULL: no persistence), bind the
 * listeners, run until SIGINT/SIGTERM, save and clean up. Returns the
 * process exit status: 0 after a clean shutdown, 1 when a listener cannot
 * be bound or set up (nothing is left running) or the store cannot be
 * written, 2 when the store cannot be restored.
 */
int server_run(const struct broker_config *config, const struct auth_chain *auth,
               struct store *store);

/**
 * The now_ms of every library call: wall-clock milliseconds (Unix time)
 * taken at start, advanced by the loop's monotonic clock, so it neither
 * jumps while the broker runs nor restarts from zero with the program.
 */
uint64_t server_now(const struct server *s);

/** Close every connection at once and stop the loop; exit with @p status. */
void server_stop_now(struct server *s, int status);

/** Write every connection that has output; then arm the timer. */
void server_flush_all(struct server *s);

/** A connection ended (its handle is closed): drop it from the server. */
void server_connection_freed(struct server *s, struct connection *c);

/** Take @p c off the list of connections to flush. */
void server_undirty(struct server *s, struct connection *c);

#endif /* BROKER_SERVER_H */
