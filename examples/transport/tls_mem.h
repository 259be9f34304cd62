/*
 * TLS as a byte transform (OpenSSL with memory BIOs): ciphertext from the
 * network goes in, plaintext comes out, and the other way round. No socket
 * is touched, so it fits any event loop, and it stacks under WebSocket
 * (wss) through the chain of layer.h.
 *
 *   client role: verifies the server's certificate against a CA file (or
 *     the system store) and its host name or IP address by default;
 *     optional client certificate; "insecure" skips every check.
 *   server role: certificate and key; with a CA file, asks for client
 *     certificates (optionally requires them) and exposes the verified
 *     peer's subject Common Name, for authenticators to use as a user name.
 *
 * Errors are kept as one line for a person: "TLS handshake failed:
 * certificate verify failed: unable to get local issuer certificate".
 */
#ifndef MQTTPROTO_TRANSPORT_TLS_MEM_H
#define MQTTPROTO_TRANSPORT_TLS_MEM_H

#include "layer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum tls_mem_role { TLS_MEM_CLIENT = 0, TLS_MEM_SERVER = 1 } tls_mem_role;

typedef struct tls_mem_config {
    tls_mem_role role;
    /* PEM file of trusted CA certificates: the client checks the server's
       certificate against it (NULL: the system store); a server given one
       asks clients for a certificate and checks it. */
    const char *ca_file;
    /* Directory of hashed CA certificates (c_rehash), with or instead of
       ca_file. */
    const char *ca_path;
    /* PEM certificate (chain): required for a server, optional for a client. */
    const char *cert_file;
    /* PEM private key of cert_file; NULL: read from cert_file. */
    const char *key_file;
    /* Client: accept any certificate and name (testing only). */
    bool insecure;
    /* Server: refuse a client without a valid certificate (needs ca_file
       or ca_path). */
    bool require_client_cert;
} tls_mem_config;

/* Shared settings (an SSL_CTX): one for a client, one per listener. */
typedef struct tls_mem_ctx tls_mem_ctx;

/* NULL on failure, with the reason in err (e.g. "cannot load certificate
   /x.pem: No such file or directory"). */
tls_mem_ctx *tls_mem_ctx_new(const tls_mem_config *cfg, char *err, size_t errlen);
/* Connections created from it keep what they need; free it when no more
   connections will be made. */
void tls_mem_ctx_free(tls_mem_ctx *ctx);

typedef struct tls_mem tls_mem;

/* One connection. server_name (client role): the host name or IP address
   to verify and, for a name, to send as SNI; required unless insecure.
   The client's first handshake bytes are ready at once. */
tls_mem *tls_mem_new(tls_mem_ctx *ctx, const char *server_name, char *err, size_t errlen);
void tls_mem_free(tls_mem *t);

/* Ciphertext from the network; always takes all of it. 0, or XPORT_ERR_TLS
   (the connection failed: send what tls_mem_peek_ciphertext() holds, an
   alert, then close) or XPORT_ERR_NO_MEMORY. */
int tls_mem_push_ciphertext(tls_mem *t, const uint8_t *data, size_t len);
/* Plaintext that arrived: bytes copied, 0 for none yet, XPORT_ERR_CLOSED
   after the peer's close_notify, or XPORT_ERR_TLS. */
ptrdiff_t tls_mem_pull_plaintext(tls_mem *t, uint8_t *buf, size_t cap);
/* Plaintext to send; held until the handshake completes. 0 or an error. */
int tls_mem_push_plaintext(tls_mem *t, const uint8_t *data, size_t len);
/* Ciphertext to write to the network: peek, then consume what was written. */
size_t tls_mem_peek_ciphertext(tls_mem *t, const uint8_t **data);
void tls_mem_consume_ciphertext(tls_mem *t, size_t n);

bool tls_mem_handshake_done(const tls_mem *t);
/* Failed, or closed by either side. */
bool tls_mem_finished(const tls_mem *t);
/* The failure as one line, or "". */
const char *tls_mem_error(const tls_mem *t);
/* After the handshake: the subject Common Name of the peer's certificate
   when it sent one that was verified, else NULL. */
const char *tls_mem_peer_cn(const tls_mem *t);
/* The protocol version in use ("TLSv1.3"), or "" before the handshake. */
const char *tls_mem_version(const tls_mem *t);
/* Queue a close_notify; later plaintext is refused. */
void tls_mem_shutdown(tls_mem *t);

/* This connection as a layer for xport_chain_push() (the chain then owns it). */
xport_layer tls_mem_layer(tls_mem *t);

#endif
