#include "tls_mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLS_READ_CHUNK 16384

struct tls_mem_ctx {
    SSL_CTX *ssl_ctx;
    tls_mem_role role;
    bool insecure;
};

struct tls_mem {
    SSL *ssl;
    BIO *rbio; /* ciphertext from the network (owned by ssl) */
    BIO *wbio; /* ciphertext for the network (owned by ssl) */
    tls_mem_role role;
    bool insecure;
    bool handshake_done;
    bool failed;
    bool peer_closed;
    bool shut;
    tbuf pending; /* plaintext written before the handshake completed */
    tbuf out;     /* ciphertext for the network */
    char *peer_cn;
    char server_name[256];
    char error[512];
};

static __attribute__((format(printf, 3, 4))) void put_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The reason of the oldest OpenSSL error queued, or @p fallback. */
static const char *ssl_reason(char *buf, size_t cap, const char *fallback)
{
    unsigned long e = ERR_get_error();
    if (e == 0) {
        snprintf(buf, cap, "%s", fallback);
        return buf;
    }
    const char *r = ERR_reason_error_string(e);
    if (r != NULL) {
        snprintf(buf, cap, "%s", r);
    } else {
        ERR_error_string_n(e, buf, cap);
    }
    ERR_clear_error();
    return buf;
}

static int file_problem(char *err, size_t errlen, const char *what, const char *path)
{
    char r[256];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        ERR_clear_error();
        put_err(err, errlen, "cannot load %s %s: %s", what, path, strerror(e));
    } else {
        fclose(f);
        put_err(err, errlen, "cannot load %s %s: %s", what, path,
                ssl_reason(r, sizeof r, "unusable file"));
    }
    return -1;
}

tls_mem_ctx *tls_mem_ctx_new(const tls_mem_config *cfg, char *err, size_t errlen)
{
    if (cfg == NULL) {
        put_err(err, errlen, "no TLS configuration");
        return NULL;
    }
    if (cfg->role == TLS_MEM_SERVER && cfg->cert_file == NULL) {
        put_err(err, errlen, "a TLS server needs a certificate and key");
        return NULL;
    }
    if (cfg->require_client_cert && cfg->ca_file == NULL && cfg->ca_path == NULL) {
        put_err(err, errlen, "requiring client certificates needs a CA file or directory");
        return NULL;
    }
    if (cfg->key_file != NULL && cfg->cert_file == NULL) {
        put_err(err, errlen, "a key file needs a certificate file");
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx =
        SSL_CTX_new(cfg->role == TLS_MEM_SERVER ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) {
        char r[256];
        put_err(err, errlen, "cannot create a TLS context: %s",
                ssl_reason(r, sizeof r, "out of memory"));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* No TLS 1.2 renegotiation: a peer could make the other side redo
       handshakes at will. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    if (cfg->cert_file != NULL) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
            file_problem(err, errlen, "certificate", cfg->cert_file);
            goto fail;
        }
        const char *key = cfg->key_file != NULL ? cfg->key_file : cfg->cert_file;
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
            file_problem(err, errlen, "private key", key);
            goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            char r[256];
            put_err(err, errlen, "private key %s does not match certificate %s: %s", key,
                    cfg->cert_file, ssl_reason(r, sizeof r, "mismatch"));
            goto fail;
        }
    }

    bool have_ca = cfg->ca_file != NULL || cfg->ca_path != NULL;
    if (have_ca && SSL_CTX_load_verify_locations(ctx, cfg->ca_file, cfg->ca_path) != 1) {
        file_problem(err, errlen, "CA certificates",
                     cfg->ca_file != NULL ? cfg->ca_file : cfg->ca_path);
        goto fail;
    }

    if (cfg->role == TLS_MEM_CLIENT) {
        if (cfg->insecure) {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        } else {
            if (!have_ca && SSL_CTX_set_default_verify_paths(ctx) != 1) {
                char r[256];
                put_err(err, errlen, "cannot load the system CA store: %s",
                        ssl_reason(r, sizeof r, "unknown"));
                goto fail;
            }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        }
    } else if (have_ca) {
        int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
        if (cfg->require_client_cert) {
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        }
        SSL_CTX_set_verify(ctx, mode, NULL);
        if (cfg->ca_file != NULL) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_file);
            if (names != NULL) {
                SSL_CTX_set_client_CA_list(ctx, names);
            }
        }
        /* Sessions resumed without a certificate would skip the check. */
        static const unsigned char sid[] = "mqttproto";
        SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    ERR_clear_error();

    tls_mem_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        put_err(err, errlen, "out of memory");
        goto fail;
    }
    c->ssl_ctx = ctx;
    c->role = cfg->role;
    c->insecure = cfg->insecure;
    return c;

fail:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return NULL;
}

void tls_mem_ctx_free(tls_mem_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

/* Moves the ciphertext OpenSSL produced into the output queue. */
static int collect(tls_mem *t)
{
    for (;;) {
        size_t pending = BIO_ctrl_pending(t->wbio);
        if (pending == 0) {
            return XPORT_OK;
        }
        uint8_t *p = tbuf_reserve(&t->out, pending);
        if (p == NULL) {
            return XPORT_ERR_NO_MEMORY;
        }
        int n = BIO_read(t->wbio, p, (int)(pending > INT32_MAX ? INT32_MAX : pending));
        if (n <= 0) {
            return XPORT_OK;
        }
        tbuf_commit(&t->out, (size_t)n);
    }
}

static int fail(tls_mem *t, const char *what, int ssl_err)
{
    char r[256];
    unsigned long e = ERR_peek_error();
    if (e != 0 && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long v = SSL_get_verify_result(t->ssl);
        ERR_clear_error();
        if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) {
            snprintf(t->error, sizeof t->error,
                     "%s: certificate verify failed: %s (the certificate is not for %s)", what,
                     X509_verify_cert_error_string(v), t->server_name);
        } else {
            snprintf(t->error, sizeof t->error, "%s: certificate verify failed: %s", what,
                     X509_verify_cert_error_string(v));
        }
    } else if (e == 0 && ssl_err == SSL_ERROR_SYSCALL) {
        snprintf(t->error, sizeof t->error, "%s: the connection ended during the exchange", what);
    } else {
        snprintf(t->error, sizeof t->error, "%s: %s", what,
                 ssl_reason(r, sizeof r, "unknown TLS error"));
    }
    t->failed = true;
    collect(t); /* an alert for the peer, if OpenSSL made one */
    return XPORT_ERR_TLS;
}

static void read_peer_cn(tls_mem *t)
{
    X509 *cert = SSL_get1_peer_certificate(t->ssl);
    if (cert == NULL) {
        return;
    }
    /* Only a certificate that was checked names anyone. */
    if (SSL_get_verify_result(t->ssl) == X509_V_OK &&
        SSL_get_verify_mode(t->ssl) != SSL_VERIFY_NONE) {
        X509_NAME *subject = X509_get_subject_name(cert);
        int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
        if (idx >= 0) {
            ASN1_STRING *data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
            unsigned char *utf8 = NULL;
            int n = ASN1_STRING_to_UTF8(&utf8, data);
            if (n >= 0 && memchr(utf8, '\0', (size_t)n) == NULL) {
                t->peer_cn = malloc((size_t)n + 1);
                if (t->peer_cn != NULL) {
                    memcpy(t->peer_cn, utf8, (size_t)n);
                    t->peer_cn[n] = '\0';
                }
            }
            OPENSSL_free(utf8);
        }
    }
    X509_free(cert);
}

/* Runs the handshake and writes held plaintext; collects the output. */
static int drive(tls_mem *t)
{
    if (t->failed) {
        return XPORT_ERR_TLS;
    }
    ERR_clear_error();
    if (!t->handshake_done) {
        int r = SSL_do_handshake(t->ssl);
        if (r == 1) {
            t->handshake_done = true;
            read_peer_cn(t);
        } else {
            int e = SSL_get_error(t->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                return fail(t, "TLS handshake failed", e);
            }
        }
    }
    if (t->handshake_done && !t->shut) {
        while (tbuf_len(&t->pending) > 0) {
            size_t n = tbuf_len(&t->pending);
            int w = SSL_write(t->ssl, tbuf_peek(&t->pending), n > INT32_MAX ? INT32_MAX : (int)n);
            if (w <= 0) {
                int e = SSL_get_error(t->ssl, w);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    break;
                }
                return fail(t, "TLS write failed", e);
            }
            tbuf_consume(&t->pending, (size_t)w);
        }
    }
    return collect(t);
}

tls_mem *tls_mem_new(tls_mem_ctx *ctx, const char *server_name, char *err, size_t errlen)
{
    if (ctx == NULL) {
        put_err(err, errlen, "no TLS context");
        return NULL;
    }
    if (ctx->role == TLS_MEM_CLIENT && !ctx->insecure &&
        (server_name == NULL || server_name[0] == '\0')) {
        put_err(err, errlen, "TLS needs the server's name to verify its certificate");
        return NULL;
    }
    if (server_name != NULL && strlen(server_name) >= 256) {
        put_err(err, errlen, "server name too long");
        return NULL;
    }
    tls_mem *t = calloc(1, sizeof *t);
    if (t == NULL) {
        put_err(err, errlen, "out of memory");
        return NULL;
    }
    tbuf_init(&t->pending);
    tbuf_init(&t->out);
    t->role = ctx->role;
    t->insecure = ctx->insecure;
    if (server_name != NULL) {
        snprintf(t->server_name, sizeof t->server_name, "%s", server_name);
    }
    ERR_clear_error();
    t->ssl = SSL_new(ctx->ssl_ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        t->rbio = t->wbio = NULL;
        put_err(err, errlen, "out of memory");
        tls_mem_free(t);
        return NULL;
    }
    /* An empty read BIO asks for more instead of signalling the end. */
    BIO_set_mem_eof_return(t->rbio, -1);
    BIO_set_mem_eof_return(t->wbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);

    if (ctx->role == TLS_MEM_CLIENT) {
        SSL_set_connect_state(t->ssl);
        if (t->server_name[0] != '\0') {
            unsigned char addr[16];
            bool is_ip = inet_pton(AF_INET, t->server_name, addr) == 1 ||
                         inet_pton(AF_INET6, t->server_name, addr) == 1;
            if (!is_ip) {
                SSL_set_tlsext_host_name(t->ssl, t->server_name);
            }
            if (!ctx->insecure) {
                int ok = is_ip
                             ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), t->server_name)
                             : SSL_set1_host(t->ssl, t->server_name);
                if (ok != 1) {
                    put_err(err, errlen, "cannot set the name to verify: %s", t->server_name);
                    tls_mem_free(t);
                    return NULL;
                }
            }
        }
        /* The ClientHello is ready at once. */
        if (drive(t) < 0) {
            put_err(err, errlen, "%s", t->error);
            tls_mem_free(t);
            return NULL;
        }
    } else {
        SSL_set_accept_state(t->ssl);
    }
    return t;
}

void tls_mem_free(tls_mem *t)
{
    if (t == NULL) {
        return;
    }
    SSL_free(t->ssl);
    tbuf_free(&t->pending);
    tbuf_free(&t->out);
    free(t->peer_cn);
    free(t);
}

int tls_mem_push_ciphertext(tls_mem *t, const uint8_t *data, size_t len)
{
    if (t->failed) {
        return XPORT_ERR_TLS;
    }
    size_t off = 0;
    while (off < len) {
        size_t n = len - off > INT32_MAX ? INT32_MAX : len - off;
        int w = BIO_write(t->rbio, data + off, (int)n);
        if (w <= 0) {
            return XPORT_ERR_NO_MEMORY;
        }
        off += (size_t)w;
    }
    return drive(t);
}

ptrdiff_t tls_mem_pull_plaintext(tls_mem *t, uint8_t *buf, size_t cap)
{
    if (t->failed) {
        return XPORT_ERR_TLS;
    }
    if (t->peer_closed) {
        return XPORT_ERR_CLOSED;
    }
    if (cap == 0) {
        return 0;
    }
    int d = drive(t);
    if (d < 0) {
        return d;
    }
    if (!t->handshake_done) {
        return 0;
    }
    ERR_clear_error();
    int r = SSL_read(t->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    int c = collect(t); /* TLS 1.3 may answer a key update */
    if (r > 0) {
        return c < 0 ? c : r;
    }
    int e = SSL_get_error(t->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        t->peer_closed = true;
        return XPORT_ERR_CLOSED;
    default:
        return fail(t, "TLS failed", e);
    }
}

int tls_mem_push_plaintext(tls_mem *t, const uint8_t *data, size_t len)
{
    if (t->failed) {
        return XPORT_ERR_TLS;
    }
    if (t->shut) {
        return XPORT_ERR_CLOSED;
    }
    if (!tbuf_append(&t->pending, data, len)) {
        return XPORT_ERR_NO_MEMORY;
    }
    return drive(t);
}

size_t tls_mem_peek_ciphertext(tls_mem *t, const uint8_t **data)
{
    *data = tbuf_peek(&t->out);
    return tbuf_len(&t->out);
}

void tls_mem_consume_ciphertext(tls_mem *t, size_t n)
{
    tbuf_consume(&t->out, n);
}

bool tls_mem_handshake_done(const tls_mem *t)
{
    return t->handshake_done;
}

bool tls_mem_finished(const tls_mem *t)
{
    return t->failed || t->peer_closed || t->shut;
}

const char *tls_mem_error(const tls_mem *t)
{
    return t->error;
}

const char *tls_mem_peer_cn(const tls_mem *t)
{
    return t->peer_cn;
}

const char *tls_mem_version(const tls_mem *t)
{
    return t->handshake_done ? SSL_get_version(t->ssl) : "";
}

void tls_mem_shutdown(tls_mem *t)
{
    if (t->failed || t->shut) {
        return;
    }
    drive(t); /* held plaintext first */
    t->shut = true;
    if (t->handshake_done) {
        ERR_clear_error();
        SSL_shutdown(t->ssl);
        ERR_clear_error();
        collect(t);
    }
}

/* ---- as a layer ---- */

static int l_net_in(void *self, const uint8_t *data, size_t len)
{
    return tls_mem_push_ciphertext(self, data, len);
}

static size_t l_net_out(void *self, const uint8_t **data)
{
    return tls_mem_peek_ciphertext(self, data);
}

static void l_net_consume(void *self, size_t n)
{
    tls_mem_consume_ciphertext(self, n);
}

static ptrdiff_t l_app_read(void *self, uint8_t *buf, size_t cap)
{
    return tls_mem_pull_plaintext(self, buf, cap);
}

static int l_app_write(void *self, const uint8_t *data, size_t len)
{
    return tls_mem_push_plaintext(self, data, len);
}

static bool l_ready(const void *self)
{
    return tls_mem_handshake_done(self);
}

static bool l_finished(const void *self)
{
    return tls_mem_finished(self);
}

static const char *l_error(const void *self)
{
    return tls_mem_error(self);
}

static void l_close(void *self)
{
    tls_mem_shutdown(self);
}

static void l_destroy(void *self)
{
    tls_mem_free(self);
}

static const xport_layer_ops tls_ops = {
    .name = "tls",
    .net_in = l_net_in,
    .net_out = l_net_out,
    .net_consume = l_net_consume,
    .app_read = l_app_read,
    .app_write = l_app_write,
    .ready = l_ready,
    .finished = l_finished,
    .error = l_error,
    .close = l_close,
    .destroy = l_destroy,
};

xport_layer tls_mem_layer(tls_mem *t)
{
    xport_layer l = {&tls_ops, t};
    return l;
}
