/*
 * TLS layer: client and server connections against each other in memory,
 * with the throwaway PKI that gen_certs.sh made in $MQTTPROTO_TEST_CERTS
 * (with_certs.sh sets it). Also TLS under WebSocket (wss) as one chain.
 */
#include "pair.h"
#include "tls_mem.h"
#include "ws.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *cert_dir;

static const char *path_of(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 512, "%s/%s", cert_dir, name);
    return b;
}

typedef struct tls_side {
    const char *ca;
    const char *cert; /* base name: "server" gives server.pem and server.key */
    bool insecure;
    bool require;
} tls_side;

static tls_mem_ctx *make_ctx(tls_mem_role role, const tls_side *s)
{
    tls_mem_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = role;
    char cert[64], key[64];
    if (s->ca != NULL) {
        snprintf(cert, sizeof cert, "%s.pem", s->ca);
        cfg.ca_file = path_of(cert);
    }
    if (s->cert != NULL) {
        snprintf(cert, sizeof cert, "%s.pem", s->cert);
        snprintf(key, sizeof key, "%s.key", s->cert);
        cfg.cert_file = path_of(cert);
        cfg.key_file = path_of(key);
    }
    cfg.insecure = s->insecure;
    cfg.require_client_cert = s->require;
    char err[256];
    tls_mem_ctx *ctx = tls_mem_ctx_new(&cfg, err, sizeof err);
    if (ctx == NULL) {
        fail_msg("tls_mem_ctx_new: %s", err);
    }
    return ctx;
}

typedef struct tls_pair {
    pair p;
    tls_mem_ctx *cctx, *sctx;
    tls_mem *client, *server;
} tls_pair;

static void tls_pair_open(tls_pair *tp, const tls_side *c, const tls_side *s, const char *name)
{
    char err[256];
    pair_init(&tp->p);
    tp->cctx = make_ctx(TLS_MEM_CLIENT, c);
    tp->sctx = make_ctx(TLS_MEM_SERVER, s);
    tp->client = tls_mem_new(tp->cctx, name, err, sizeof err);
    assert_non_null(tp->client);
    tp->server = tls_mem_new(tp->sctx, NULL, err, sizeof err);
    assert_non_null(tp->server);
    assert_int_equal(xport_chain_push(&tp->p.client, tls_mem_layer(tp->client)), 0);
    assert_int_equal(xport_chain_push(&tp->p.server, tls_mem_layer(tp->server)), 0);
    /* The layers hold their own references to the contexts. */
    tls_mem_ctx_free(tp->cctx);
    tls_mem_ctx_free(tp->sctx);
}

/* Runs the handshake, then lets each side read once (TLS 1.3 reports a
   refused client certificate to the client on its first read). */
static void tls_pair_run(tls_pair *tp)
{
    shuttle(&tp->p);
    uint8_t buf[64];
    (void)xport_chain_app_read(&tp->p.server, buf, sizeof buf);
    (void)xport_chain_app_read(&tp->p.client, buf, sizeof buf);
    shuttle(&tp->p);
    (void)xport_chain_app_read(&tp->p.client, buf, sizeof buf);
}

static const tls_side default_client = {"ca", NULL, false, false};
static const tls_side default_server = {NULL, "server", false, false};

static void exchange_data(pair *p)
{
    static uint8_t big[100000];
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (uint8_t)(i * 7);
    }
    assert_int_equal(xport_chain_app_write(&p->client, big, sizeof big), 0);
    shuttle(p);
    static uint8_t got[100001];
    assert_int_equal(read_all(&p->server, got, sizeof got), sizeof big);
    assert_memory_equal(got, big, sizeof big);
    assert_int_equal(xport_chain_app_write(&p->server, (const uint8_t *)"pong", 4), 0);
    shuttle(p);
    assert_int_equal(read_all(&p->client, got, sizeof got), 4);
    assert_memory_equal(got, "pong", 4);
}

static void test_handshake_and_data(void **state)
{
    (void)state;
    tls_pair tp;
    tls_pair_open(&tp, &default_client, &default_server, "localhost");
    /* Written before the handshake: held, then sent. */
    assert_int_equal(xport_chain_app_write(&tp.p.client, (const uint8_t *)"early", 5), 0);
    shuttle(&tp.p);
    assert_true(tls_mem_handshake_done(tp.client));
    assert_true(tls_mem_handshake_done(tp.server));
    assert_string_equal(tls_mem_error(tp.client), "");
    assert_non_null(strstr(tls_mem_version(tp.client), "TLSv1."));
    assert_null(tls_mem_peer_cn(tp.server)); /* no client certificate asked for */
    uint8_t buf[16];
    assert_int_equal(read_all(&tp.p.server, buf, sizeof buf), 5);
    assert_memory_equal(buf, "early", 5);
    exchange_data(&tp.p);
    pair_free(&tp.p);
}

/* The handshake survives ciphertext cut into single bytes. */
static void test_byte_by_byte(void **state)
{
    (void)state;
    tls_pair tp;
    tls_pair_open(&tp, &default_client, &default_server, "127.0.0.1");
    tp.p.chunk = 1;
    shuttle(&tp.p);
    assert_true(tls_mem_handshake_done(tp.client));
    assert_true(tls_mem_handshake_done(tp.server));
    assert_int_equal(xport_chain_app_write(&tp.p.client, (const uint8_t *)"abc", 3), 0);
    shuttle(&tp.p);
    uint8_t buf[8];
    assert_int_equal(read_all(&tp.p.server, buf, sizeof buf), 3);
    pair_free(&tp.p);
}

static void expect_failure(tls_pair *tp, const char *client_msg, const char *server_msg)
{
    tls_pair_run(tp);
    if (client_msg != NULL) {
        if (strstr(tls_mem_error(tp->client), client_msg) == NULL) {
            fail_msg("client error '%s' lacks '%s'", tls_mem_error(tp->client), client_msg);
        }
        assert_true(xport_chain_finished(&tp->p.client));
        assert_int_equal(xport_chain_app_write(&tp->p.client, (const uint8_t *)"x", 1),
                         XPORT_ERR_TLS);
        uint8_t buf[4];
        assert_int_equal(xport_chain_app_read(&tp->p.client, buf, sizeof buf), XPORT_ERR_TLS);
    }
    if (server_msg != NULL && strstr(tls_mem_error(tp->server), server_msg) == NULL) {
        fail_msg("server error '%s' lacks '%s'", tls_mem_error(tp->server), server_msg);
    }
}

/* The server's certificate comes from a CA the client does not trust. */
static void test_wrong_ca(void **state)
{
    (void)state;
    tls_pair tp;
    tls_side s = {NULL, "other-server", false, false};
    tls_pair_open(&tp, &default_client, &s, "localhost");
    expect_failure(&tp, "certificate verify failed: unable to get local issuer certificate",
                   "alert");
    assert_false(tls_mem_handshake_done(tp.client));
    pair_free(&tp.p);
}

static void test_host_name_mismatch(void **state)
{
    (void)state;
    tls_pair tp;
    tls_pair_open(&tp, &default_client, &default_server, "broker.example");
    expect_failure(&tp, "hostname mismatch (the certificate is not for broker.example)", NULL);
    pair_free(&tp.p);

    tls_side s = {NULL, "wrongname", false, false};
    tls_pair_open(&tp, &default_client, &s, "localhost");
    expect_failure(&tp, "hostname mismatch", NULL);
    pair_free(&tp.p);

    /* An IP address is checked against the IP addresses the certificate names. */
    tls_pair_open(&tp, &default_client, &s, "127.0.0.1");
    expect_failure(&tp, "IP address mismatch", NULL);
    pair_free(&tp.p);
}

static void test_insecure_accepts_anything(void **state)
{
    (void)state;
    tls_pair tp;
    tls_side c = {NULL, NULL, true, false};
    tls_side s = {NULL, "other-server", false, false};
    tls_pair_open(&tp, &c, &s, "wrong.example");
    tls_pair_run(&tp);
    assert_true(tls_mem_handshake_done(tp.client));
    exchange_data(&tp.p);
    pair_free(&tp.p);
}

static void test_client_certificate(void **state)
{
    (void)state;
    tls_side s = {"ca", "server", false, true};
    tls_side c = {"ca", "client", false, false};
    tls_pair tp;
    tls_pair_open(&tp, &c, &s, "localhost");
    tls_pair_run(&tp);
    assert_true(tls_mem_handshake_done(tp.server));
    assert_string_equal(tls_mem_error(tp.server), "");
    assert_non_null(tls_mem_peer_cn(tp.server));
    assert_string_equal(tls_mem_peer_cn(tp.server), "mqttproto-test-client");
    /* The client also knows who the server is. */
    assert_string_equal(tls_mem_peer_cn(tp.client), "localhost");
    exchange_data(&tp.p);
    pair_free(&tp.p);
}

static void test_client_certificate_missing(void **state)
{
    (void)state;
    tls_side s = {"ca", "server", false, true};
    tls_pair tp;
    tls_pair_open(&tp, &default_client, &s, "localhost");
    expect_failure(&tp, "certificate required", "did not return a certificate");
    assert_null(tls_mem_peer_cn(tp.server));
    pair_free(&tp.p);
}

static void test_client_certificate_wrong_ca(void **state)
{
    (void)state;
    tls_side s = {"ca", "server", false, true};
    tls_side c = {"ca", "other-client", false, false};
    tls_pair tp;
    tls_pair_open(&tp, &c, &s, "localhost");
    expect_failure(&tp, "alert", "certificate verify failed");
    assert_null(tls_mem_peer_cn(tp.server));
    pair_free(&tp.p);
}

/* Optional client certificates: a client without one gets in, unnamed. */
static void test_client_certificate_optional(void **state)
{
    (void)state;
    tls_side s = {"ca", "server", false, false};
    tls_pair tp;
    tls_pair_open(&tp, &default_client, &s, "localhost");
    tls_pair_run(&tp);
    assert_true(tls_mem_handshake_done(tp.server));
    assert_null(tls_mem_peer_cn(tp.server));
    exchange_data(&tp.p);
    pair_free(&tp.p);
}

static void test_garbage_to_server(void **state)
{
    (void)state;
    char err[256];
    tls_mem_ctx *ctx = make_ctx(TLS_MEM_SERVER, &default_server);
    tls_mem *t = tls_mem_new(ctx, NULL, err, sizeof err);
    assert_non_null(t);
    tls_mem_ctx_free(ctx);
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(tls_mem_push_ciphertext(t, (const uint8_t *)req, sizeof req - 1),
                     XPORT_ERR_TLS);
    assert_non_null(strstr(tls_mem_error(t), "TLS handshake failed: "));
    assert_true(tls_mem_finished(t));
    tls_mem_free(t);

    /* Random bytes, rounds of them: an error, never a crash. */
    srand(3);
    for (int round = 0; round < 100; round++) {
        ctx = make_ctx(TLS_MEM_SERVER, &default_server);
        t = tls_mem_new(ctx, NULL, err, sizeof err);
        tls_mem_ctx_free(ctx);
        uint8_t junk[300];
        size_t n = (size_t)(rand() % 300) + 1;
        for (size_t i = 0; i < n; i++) {
            junk[i] = (uint8_t)rand();
        }
        if (round % 2 == 0) {
            junk[0] = 0x16; /* looks like a handshake record */
            junk[1] = 3;
        }
        int r = tls_mem_push_ciphertext(t, junk, n);
        assert_true(r == 0 || r == XPORT_ERR_TLS);
        uint8_t buf[16];
        assert_true(tls_mem_pull_plaintext(t, buf, sizeof buf) <= 0);
        tls_mem_free(t);
    }
}

static void test_close_notify(void **state)
{
    (void)state;
    tls_pair tp;
    tls_pair_open(&tp, &default_client, &default_server, "localhost");
    shuttle(&tp.p);
    assert_int_equal(xport_chain_app_write(&tp.p.client, (const uint8_t *)"last", 4), 0);
    xport_chain_close(&tp.p.client);
    assert_int_equal(xport_chain_app_write(&tp.p.client, (const uint8_t *)"x", 1),
                     XPORT_ERR_CLOSED);
    shuttle(&tp.p);
    uint8_t buf[16];
    /* The bytes before the close_notify, then the end. */
    assert_int_equal(xport_chain_app_read(&tp.p.server, buf, sizeof buf), 4);
    assert_int_equal(xport_chain_app_read(&tp.p.server, buf, sizeof buf), XPORT_ERR_CLOSED);
    assert_true(xport_chain_finished(&tp.p.server));
    pair_free(&tp.p);
}

static void test_config_errors(void **state)
{
    (void)state;
    char err[256];
    tls_mem_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = TLS_MEM_SERVER;
    assert_null(tls_mem_ctx_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "needs a certificate"));

    cfg.cert_file = "/nonexistent/server.pem";
    assert_null(tls_mem_ctx_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "cannot load certificate /nonexistent/server.pem: No such file"));

    cfg.cert_file = path_of("server.pem");
    cfg.key_file = path_of("client.key");
    assert_null(tls_mem_ctx_new(&cfg, err, sizeof err));
    if (strstr(err, "mismatch") == NULL) {
        fail_msg("%s", err);
    }

    cfg.key_file = path_of("server.key");
    cfg.require_client_cert = true;
    assert_null(tls_mem_ctx_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "needs a CA"));

    memset(&cfg, 0, sizeof cfg);
    cfg.role = TLS_MEM_CLIENT;
    cfg.ca_file = "/nonexistent/ca.pem";
    assert_null(tls_mem_ctx_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "cannot load CA certificates /nonexistent/ca.pem"));

    /* A CA file that holds no certificate. */
    cfg.ca_file = path_of("ca.key");
    assert_null(tls_mem_ctx_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "cannot load CA certificates"));

    /* A verifying client needs a name. */
    cfg.ca_file = path_of("ca.pem");
    tls_mem_ctx *ctx = tls_mem_ctx_new(&cfg, err, sizeof err);
    assert_non_null(ctx);
    assert_null(tls_mem_new(ctx, NULL, err, sizeof err));
    assert_non_null(strstr(err, "server's name"));
    tls_mem_ctx_free(ctx);

    /* The system store loads when no CA file is given. */
    cfg.ca_file = NULL;
    ctx = tls_mem_ctx_new(&cfg, err, sizeof err);
    assert_non_null(ctx);
    tls_mem_ctx_free(ctx);
}

/* ---- wss: TLS below WebSocket, in one chain on each side ---- */

typedef struct wss_pair {
    pair p;
    ws *wsc, *wss;
} wss_pair;

static void wss_open(wss_pair *wp, const ws_config *scfg)
{
    char err[256];
    pair_init(&wp->p);
    tls_mem_ctx *cctx = make_ctx(TLS_MEM_CLIENT, &default_client);
    tls_mem_ctx *sctx = make_ctx(TLS_MEM_SERVER, &default_server);
    ws_config c, s;
    ws_config_default(&c, WS_CLIENT);
    c.host = "localhost:8443";
    ws_config_default(&s, WS_SERVER);
    s.path = "/mqtt";
    wp->wsc = ws_new(&c, err, sizeof err);
    wp->wss = ws_new(scfg != NULL ? scfg : &s, err, sizeof err);
    assert_int_equal(
        xport_chain_push(&wp->p.client, tls_mem_layer(tls_mem_new(cctx, "localhost", err, 256))),
        0);
    assert_int_equal(xport_chain_push(&wp->p.client, ws_layer(wp->wsc)), 0);
    assert_int_equal(
        xport_chain_push(&wp->p.server, tls_mem_layer(tls_mem_new(sctx, NULL, err, 256))), 0);
    assert_int_equal(xport_chain_push(&wp->p.server, ws_layer(wp->wss)), 0);
    tls_mem_ctx_free(cctx);
    tls_mem_ctx_free(sctx);
}

static void test_wss_chain(void **state)
{
    (void)state;
    wss_pair wp;
    wss_open(&wp, NULL);
    /* MQTT bytes written at once wait for both handshakes. */
    assert_int_equal(xport_chain_app_write(&wp.p.client,
                                           (const uint8_t *)"\x10\x02"
                                                            "ab",
                                           4),
                     0);
    shuttle(&wp.p);
    assert_true(xport_chain_ready(&wp.p.client));
    assert_true(xport_chain_ready(&wp.p.server));
    uint8_t buf[16];
    assert_int_equal(read_all(&wp.p.server, buf, sizeof buf), 4);
    assert_memory_equal(buf,
                        "\x10\x02"
                        "ab",
                        4);
    exchange_data(&wp.p);
    assert_string_equal(ws_request_path(wp.wss), "/mqtt");

    /* An orderly close goes through both layers. */
    xport_chain_close(&wp.p.client);
    shuttle(&wp.p);
    assert_int_equal(ws_close_code_received(wp.wss), 1000);
    assert_true(xport_chain_finished(&wp.p.server));
    pair_free(&wp.p);
}

/* A refused upgrade inside TLS: the 404 still reaches the client. */
static void test_wss_refused(void **state)
{
    (void)state;
    ws_config s;
    ws_config_default(&s, WS_SERVER);
    s.path = "/elsewhere";
    wss_pair wp;
    wss_open(&wp, &s);
    shuttle(&wp.p);
    assert_int_equal(wp.p.server_status, XPORT_ERR_HANDSHAKE);
    assert_int_equal(wp.p.client_status, XPORT_ERR_HANDSHAKE);
    assert_non_null(strstr(xport_chain_error(&wp.p.client), "404 Not Found"));
    assert_non_null(strstr(xport_chain_error(&wp.p.server), "refused with 404"));
    pair_free(&wp.p);
}

int main(void)
{
    cert_dir = getenv("MQTTPROTO_TEST_CERTS");
    if (cert_dir == NULL) {
        fprintf(stderr, "test_transport_tls: set MQTTPROTO_TEST_CERTS (with_certs.sh does)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_data),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_wrong_ca),
        cmocka_unit_test(test_host_name_mismatch),
        cmocka_unit_test(test_insecure_accepts_anything),
        cmocka_unit_test(test_client_certificate),
        cmocka_unit_test(test_client_certificate_missing),
        cmocka_unit_test(test_client_certificate_wrong_ca),
        cmocka_unit_test(test_client_certificate_optional),
        cmocka_unit_test(test_garbage_to_server),
        cmocka_unit_test(test_close_notify),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_wss_chain),
        cmocka_unit_test(test_wss_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
