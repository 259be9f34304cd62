/*
 * What authenticators, authorizers and the log know about a connection's
 * transport: the listener, the peer address, the peer's credentials on a
 * UNIX socket, and on TLS the identity of its client certificate.
 */
#ifndef BROKER_CONN_INFO_H
#define BROKER_CONN_INFO_H

#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

struct connection_info {
    const char *transport; /* "tcp", "unix", "tls", "ws" or "wss" */
    const char *listener;  /* the listener's address as configured */
    /* "127.0.0.1:50312", "[::1]:50312", or for a UNIX socket
       "unix pid=123 uid=1000" (or "unix" when the credentials are unknown). */
    char peer[56];
    /* UNIX sockets: the peer process's credentials (SO_PEERCRED), taken
       when the connection was accepted. */
    bool has_peer_credentials;
    pid_t pid;
    uid_t uid;
    gid_t gid;
    /* The verified TLS client certificate's identity (its subject's common
       name) for authenticators to use as a user name; NULL without TLS
       or without a verified client certificate. */
    const char *tls_identity;
};

/** Fill @p info for a connection accepted on a TCP listener. */
void conn_info_from_tcp(struct connection_info *info, const char *listener, const uv_tcp_t *tcp);

/** Fill @p info for a connection accepted on a UNIX listener. */
void conn_info_from_pipe(struct connection_info *info, const char *listener, const uv_pipe_t *pipe);

#endif /* BROKER_CONN_INFO_H */
