/*
 * WebSocket layer: a client and a server layer against each other in
 * memory, and raw bytes (handshakes, frames) fed to either side.
 */
#include "pair.h"
#include "ws.h"

#include <mqttproto/mqttproto.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <wslay/wslay.h>

typedef struct ws_pair {
    pair p;
    ws *client;
    ws *server;
} ws_pair;

static void ws_pair_open(ws_pair *wp, const ws_config *ccfg, const ws_config *scfg)
{
    char err[256];
    ws_config c, s;
    ws_config_default(&c, WS_CLIENT);
    ws_config_default(&s, WS_SERVER);
    pair_init(&wp->p);
    wp->client = ws_new(ccfg != NULL ? ccfg : &c, err, sizeof err);
    assert_non_null(wp->client);
    wp->server = ws_new(scfg != NULL ? scfg : &s, err, sizeof err);
    assert_non_null(wp->server);
    assert_int_equal(xport_chain_push(&wp->p.client, ws_layer(wp->client)), 0);
    assert_int_equal(xport_chain_push(&wp->p.server, ws_layer(wp->server)), 0);
}

static void ws_pair_connect(ws_pair *wp, const ws_config *ccfg, const ws_config *scfg)
{
    ws_pair_open(wp, ccfg, scfg);
    shuttle(&wp->p);
    assert_true(ws_ready(wp->client));
    assert_true(ws_ready(wp->server));
    assert_int_equal(wp->p.client_status, 0);
    assert_int_equal(wp->p.server_status, 0);
}

/* A frame as a client (masked) or a server (unmasked) would send it. */
static size_t make_frame(uint8_t *out, uint8_t opcode, bool fin, const void *payload, size_t len,
                         bool masked)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        out[n++] = (uint8_t)(m | 126);
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = (uint8_t)(m | 127);
        for (int i = 7; i >= 0; i--) {
            out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
        }
    }
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    if (masked) {
        memcpy(out + n, key, 4);
        n += 4;
    }
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++) {
        out[n + i] = masked ? (uint8_t)(p[i] ^ key[i % 4]) : p[i];
    }
    return n + len;
}

/* The status code of the close frame at the front of @p d (server frames
   are unmasked); 0 when it is not a close frame. */
static unsigned close_code_in(const uint8_t *d, size_t n)
{
    if (n < 4 || d[0] != 0x88 || (d[1] & 0x7f) < 2) {
        return 0;
    }
    return (unsigned)(d[2] << 8 | d[3]);
}

static void test_upgrade_and_data(void **state)
{
    (void)state;
    ws_pair wp;
    ws_pair_connect(&wp, NULL, NULL);
    assert_string_equal(ws_request_path(wp.server), "/mqtt");
    assert_true(xport_chain_ready(&wp.p.client));

    assert_int_equal(xport_chain_app_write(&wp.p.client, (const uint8_t *)"hello", 5), 0);
    shuttle(&wp.p);
    uint8_t buf[64];
    assert_int_equal(read_all(&wp.p.server, buf, sizeof buf), 5);
    assert_memory_equal(buf, "hello", 5);

    assert_int_equal(xport_chain_app_write(&wp.p.server, (const uint8_t *)"world!", 6), 0);
    shuttle(&wp.p);
    assert_int_equal(read_all(&wp.p.client, buf, sizeof buf), 6);
    assert_memory_equal(buf, "world!", 6);
    assert_false(xport_chain_finished(&wp.p.client));
    pair_free(&wp.p);
}

/* Bytes written before the upgrade completes wait for it; the handshake
   survives being cut at every byte. */
static void test_upgrade_byte_by_byte(void **state)
{
    (void)state;
    ws_pair wp;
    ws_pair_open(&wp, NULL, NULL);
    wp.p.chunk = 1;
    assert_int_equal(xport_chain_app_write(&wp.p.client, (const uint8_t *)"early", 5), 0);
    shuttle(&wp.p);
    assert_true(ws_ready(wp.client));
    assert_true(ws_ready(wp.server));
    uint8_t buf[16];
    assert_int_equal(read_all(&wp.p.server, buf, sizeof buf), 5);
    assert_memory_equal(buf, "early", 5);
    pair_free(&wp.p);
}

static size_t encode(const mqttproto_packet *pkt, uint8_t *out, size_t cap)
{
    ptrdiff_t n = mqttproto_encode(pkt, NULL, out, cap);
    assert_true(n > 0);
    return (size_t)n;
}

/* PINGREQ followed by a PUBLISH with a 300-byte payload. */
static size_t two_packets(uint8_t *out, size_t cap)
{
    static uint8_t payload[300];
    memset(payload, 'p', sizeof payload);
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_PINGREQ;
    size_t n = encode(&pkt, out, cap);
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_PUBLISH;
    pkt.publish.topic = mqttproto_str_from_cstr("a/b");
    pkt.publish.payload = mqttproto_bin_make(payload, sizeof payload);
    pkt.publish.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    pkt.publish.packet_id = 7;
    mqttproto_properties_init(&pkt.publish.properties);
    return n + encode(&pkt, out + n, cap - n);
}

/* Decodes the MQTT stream @p d and checks it holds exactly the two packets. */
static void expect_two_packets(const uint8_t *d, size_t n)
{
    mqttproto_packet pkt;
    ptrdiff_t a = mqttproto_decode(d, n, NULL, &pkt);
    assert_true(a > 0);
    assert_int_equal(pkt.type, MQTTPROTO_PACKET_PINGREQ);
    ptrdiff_t b = mqttproto_decode(d + a, n - (size_t)a, NULL, &pkt);
    assert_true(b > 0);
    assert_int_equal(pkt.type, MQTTPROTO_PACKET_PUBLISH);
    assert_int_equal(pkt.publish.packet_id, 7);
    assert_int_equal(pkt.publish.payload.len, 300);
    assert_int_equal((size_t)(a + b), n);
}

/* [MQTT-6.0.0-2] packets cut into many small frames arrive whole. */
static void test_packets_span_frames(void **state)
{
    (void)state;
    ws_config c;
    ws_config_default(&c, WS_CLIENT);
    c.max_send_frame = 5;
    ws_pair wp;
    ws_pair_connect(&wp, &c, NULL);
    uint8_t pk[512];
    size_t n = two_packets(pk, sizeof pk);
    assert_int_equal(xport_chain_app_write(&wp.p.client, pk, n), 0);
    const uint8_t *out;
    size_t wire = xport_chain_net_out(&wp.p.client, &out);
    /* Every 5 bytes cost a 6-byte header (2 + 4 mask) on the wire. */
    assert_true(wire >= n + ((n + 4) / 5) * 6);
    shuttle(&wp.p);
    uint8_t got[512];
    assert_int_equal(read_all(&wp.p.server, got, sizeof got), n);
    expect_two_packets(got, n);
    pair_free(&wp.p);
}

/* [MQTT-6.0.0-2] raw frames: two packets in one frame, and one message
   fragmented into continuation frames with a ping between them. */
static void test_raw_frames_stream(void **state)
{
    (void)state;
    ws_pair wp;
    ws_pair_connect(&wp, NULL, NULL);
    uint8_t pk[512];
    size_t n = two_packets(pk, sizeof pk);
    uint8_t frame[1024];
    size_t f = make_frame(frame, WSLAY_BINARY_FRAME, true, pk, n, true);
    assert_int_equal(xport_chain_net_in(&wp.p.server, frame, f), 0);
    uint8_t got[1024];
    assert_int_equal(read_all(&wp.p.server, got, sizeof got), n);
    expect_two_packets(got, n);

    /* The same bytes as a fragmented message: binary (fin 0), a ping,
       continuation (fin 0), continuation (fin 1). */
    size_t cut1 = 1, cut2 = 150;
    f = make_frame(frame, WSLAY_BINARY_FRAME, false, pk, cut1, true);
    f += make_frame(frame + f, WSLAY_PING, true, "hi", 2, true);
    f += make_frame(frame + f, WSLAY_CONTINUATION_FRAME, false, pk + cut1, cut2 - cut1, true);
    f += make_frame(frame + f, WSLAY_CONTINUATION_FRAME, true, pk + cut2, n - cut2, true);
    for (size_t i = 0; i < f; i++) { /* one byte at a time */
        assert_int_equal(xport_chain_net_in(&wp.p.server, frame + i, 1), 0);
    }
    assert_int_equal(read_all(&wp.p.server, got, sizeof got), n);
    expect_two_packets(got, n);
    /* The ping was answered with a pong carrying its payload. */
    const uint8_t *out;
    size_t on = xport_chain_net_out(&wp.p.server, &out);
    assert_int_equal(on, 4);
    assert_int_equal(out[0], 0x8A);
    assert_int_equal(out[1], 2);
    assert_memory_equal(out + 2, "hi", 2);
    pair_free(&wp.p);
}

/* [MQTT-6.0.0-1] a text frame closes the connection with 1003. */
static void test_text_frame_closes_1003(void **state)
{
    (void)state;
    ws_pair wp;
    ws_pair_connect(&wp, NULL, NULL);
    uint8_t frame[64];
    size_t f = make_frame(frame, WSLAY_TEXT_FRAME, true, "{\"x\":1}", 7, true);
    assert_int_equal(xport_chain_net_in(&wp.p.server, frame, f), XPORT_ERR_PROTOCOL);
    const uint8_t *out;
    size_t on = xport_chain_net_out(&wp.p.server, &out);
    assert_int_equal(close_code_in(out, on), 1003);
    assert_non_null(strstr(ws_error(wp.server), "text frame"));
    assert_true(xport_chain_finished(&wp.p.server));
    uint8_t buf[16];
    assert_int_equal(xport_chain_app_read(&wp.p.server, buf, sizeof buf), XPORT_ERR_PROTOCOL);

    shuttle(&wp.p);
    assert_int_equal(ws_close_code_received(wp.client), 1003);
    assert_int_equal(xport_chain_app_read(&wp.p.client, buf, sizeof buf), XPORT_ERR_CLOSED);
    /* Later input is refused, never parsed. */
    f = make_frame(frame, WSLAY_BINARY_FRAME, true, "\xc0\x00", 2, true);
    assert_int_equal(xport_chain_net_in(&wp.p.server, frame, f), XPORT_ERR_PROTOCOL);
    pair_free(&wp.p);
}

/* Data before the text frame in the same read is still delivered. */
static void test_text_frame_after_data(void **state)
{
    (void)state;
    ws_pair wp;
    ws_pair_connect(&wp, NULL, NULL);
    uint8_t frame[64];
    size_t f = make_frame(frame, WSLAY_BINARY_FRAME, true, "\xc0\x00", 2, true);
    f += make_frame(frame + f, WSLAY_TEXT_FRAME, true, "no", 2, true);
    assert_int_equal(xport_chain_net_in(&wp.p.server, frame, f), XPORT_ERR_PROTOCOL);
    uint8_t buf[16];
    assert_int_equal(xport_chain_app_read(&wp.p.server, buf, sizeof buf), 2);
    assert_memory_equal(buf, "\xc0\x00", 2);
    assert_int_equal(xport_chain_app_read(&wp.p.server, buf, sizeof buf), XPORT_ERR_PROTOCOL);
    pair_free(&wp.p);
}

/* A frame larger than the limit closes with 1009, before its payload is
   read; both directions. */
static void test_oversized_frame_1009(void **state)
{
    (void)state;
    ws_config s;
    ws_config_default(&s, WS_SERVER);
    s.max_frame_size = 64;
    ws_pair wp;
    ws_pair_connect(&wp, NULL, &s);
    uint8_t big[100];
    memset(big, 'x', sizeof big);
    assert_int_equal(xport_chain_app_write(&wp.p.client, big, sizeof big), 0);
    shuttle(&wp.p);
    assert_int_equal(wp.p.server_status, XPORT_ERR_PROTOCOL);
    assert_non_null(strstr(ws_error(wp.server), "exceeds the limit"));
    assert_int_equal(ws_close_code_sent(wp.server), 1009);
    assert_int_equal(ws_close_code_received(wp.client), 1009);
    uint8_t buf[128];
    assert_int_equal(xport_chain_app_read(&wp.p.server, buf, sizeof buf), XPORT_ERR_PROTOCOL);
    pair_free(&wp.p);

    /* The header and one byte of a 2^40-byte frame are enough. */
    ws_pair_connect(&wp, NULL, NULL);
    uint8_t hdr[15] = {0x82, 0xFF, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4, 'x'};
    assert_int_equal(xport_chain_net_in(&wp.p.server, hdr, sizeof hdr), XPORT_ERR_PROTOCOL);
    const uint8_t *out;
    size_t on = xport_chain_net_out(&wp.p.server, &out);
    assert_int_equal(close_code_in(out, on), 1009);
    pair_free(&wp.p);

    /* A client refuses an oversized server frame the same way. */
    ws_config c;
    ws_config_default(&c, WS_CLIENT);
    c.max_frame_size = 10;
    ws_pair_connect(&wp, &c, NULL);
    assert_int_equal(xport_chain_app_write(&wp.p.server, big, 11), 0);
    shuttle(&wp.p);
    assert_int_equal(wp.p.client_status, XPORT_ERR_PROTOCOL);
    assert_int_equal(ws_close_code_received(wp.server), 1009);
    pair_free(&wp.p);
}

/* An unmasked frame from a client is a protocol error: close 1002. */
static void test_unmasked_client_frame_1002(void **state)
{
    (void)state;
    ws_pair wp;
    ws_pair_connect(&wp, NULL, NULL);
    uint8_t frame[16];
    size_t f = make_frame(frame, WSLAY_BINARY_FRAME, true, "ab", 2, false);
    assert_int_equal(xport_chain_net_in(&wp.p.server, frame, f), XPORT_ERR_PROTOCOL);
    const uint8_t *out;
    size_t on = xport_chain_net_out(&wp.p.server, &out);
    assert_int_equal(close_code_in(out, on), 1002);
    pair_free(&wp.p);
}

static void test_close_normal(void **state)
{
    (void)state;
    ws_pair wp;
    ws_pair_connect(&wp, NULL, NULL);
    xport_chain_close(&wp.p.client);
    assert_int_equal(ws_close_code_sent(wp.client), 1000);
    assert_int_equal(xport_chain_app_write(&wp.p.client, (const uint8_t *)"x", 1),
                     XPORT_ERR_CLOSED);
    shuttle(&wp.p);
    uint8_t buf[8];
    assert_int_equal(xport_chain_app_read(&wp.p.server, buf, sizeof buf), XPORT_ERR_CLOSED);
    assert_int_equal(ws_close_code_received(wp.server), 1000);
    assert_int_equal(ws_close_code_sent(wp.server), 1000); /* the answer */
    assert_int_equal(ws_close_code_received(wp.client), 1000);
    assert_true(xport_chain_finished(&wp.p.server));
    pair_free(&wp.p);
}

/* ---- the server's handshake ---- */

typedef struct bad_request {
    const char *name;
    const char *text;
    int status;
    const char *extra; /* a header the answer must carry, or NULL */
} bad_request;

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define GOOD_HEADERS                                                                               \
    "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " KEY              \
    "\r\nSec-WebSocket-Version: 13\r\n"

static const char binary_request[] = "\x01\x02\x00\xff\xfe \x10\r\n\x00\x00: \x7f\r\n\r\n";

static const bad_request bad_requests[] = {
    {"garbage", "garbage\r\n\r\n", 400, NULL},
    {"empty lines", "\r\n\r\n", 400, NULL},
    {"binary", binary_request, 400, NULL},
    {"POST", "POST /mqtt HTTP/1.1\r\n" GOOD_HEADERS "Sec-WebSocket-Protocol: mqtt\r\n\r\n", 405,
     "Allow: GET"},
    {"HTTP/1.0", "GET /mqtt HTTP/1.0\r\n" GOOD_HEADERS "Sec-WebSocket-Protocol: mqtt\r\n\r\n", 400,
     NULL},
    {"no Upgrade", "GET /mqtt HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n",
     426, "Upgrade: websocket"},
    {"no Host",
     "GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " KEY
     "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
     400, NULL},
    {"no Connection: Upgrade",
     "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: " KEY
     "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
     400, NULL},
    {"version 8",
     "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Key: " KEY
     "\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
     426, "Sec-WebSocket-Version: 13"},
    {"no key",
     "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
     400, NULL},
    {"short key",
     "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n"
     "\r\n",
     400, NULL},
    /* [MQTT-6.0.0-3] [MQTT-6.0.0-4] no "mqtt" among the subprotocols */
    {"no subprotocol", "GET /mqtt HTTP/1.1\r\n" GOOD_HEADERS "\r\n", 400, NULL},
    {"other subprotocol",
     "GET /mqtt HTTP/1.1\r\n" GOOD_HEADERS "Sec-WebSocket-Protocol: mqttv3.1, chat\r\n\r\n", 400,
     NULL},
    {"wrong path", "GET /other HTTP/1.1\r\n" GOOD_HEADERS "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
     404, NULL},
    {"relative path", "GET mqtt HTTP/1.1\r\n" GOOD_HEADERS "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
     400, NULL},
    {"folded header",
     "GET /mqtt HTTP/1.1\r\n" GOOD_HEADERS " folded\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n", 400,
     NULL},
    {"control byte in value",
     "GET /mqtt HTTP/1.1\r\n" GOOD_HEADERS "Sec-WebSocket-Protocol: mq\x01tt\r\n\r\n", 400, NULL},
};

static void expect_refusal(const char *name, const uint8_t *req, size_t len, int status,
                           const char *extra)
{
    char err[128];
    ws_config s;
    ws_config_default(&s, WS_SERVER);
    s.path = "/mqtt";
    ws *w = ws_new(&s, err, sizeof err);
    assert_non_null(w);
    int r = ws_push_net(w, req, len);
    if (r != XPORT_ERR_HANDSHAKE) {
        fail_msg("%s: ws_push_net returned %d", name, r);
    }
    const uint8_t *out;
    size_t n = ws_peek_net(w, &out);
    char expect[32];
    snprintf(expect, sizeof expect, "HTTP/1.1 %d ", status);
    if (n < strlen(expect) || memcmp(out, expect, strlen(expect)) != 0) {
        fail_msg("%s: the answer does not start with %s: %.*s", name, expect, (int)n,
                 (const char *)out);
    }
    char *text = malloc(n + 1);
    assert_non_null(text);
    memcpy(text, out, n);
    text[n] = '\0';
    assert_non_null(strstr(text, "Connection: close\r\n"));
    if (extra != NULL && strstr(text, extra) == NULL) {
        fail_msg("%s: the answer lacks %s", name, extra);
    }
    free(text);
    assert_true(ws_error(w)[0] != '\0');
    assert_false(ws_ready(w));
    assert_true(ws_finished(w));
    assert_int_equal(ws_push_app(w, (const uint8_t *)"x", 1), XPORT_ERR_HANDSHAKE);
    uint8_t buf[4];
    assert_int_equal(ws_pull_app(w, buf, sizeof buf), XPORT_ERR_HANDSHAKE);
    ws_free(w);
}

static void test_handshake_garbage(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_requests / sizeof bad_requests[0]; i++) {
        const bad_request *b = &bad_requests[i];
        size_t len = strlen(b->text);
        if (strcmp(b->name, "binary") == 0) {
            len = sizeof binary_request - 1; /* holds NUL bytes */
        }
        expect_refusal(b->name, (const uint8_t *)b->text, len, b->status, b->extra);
    }
    /* A head that never ends: 431 once the limit is passed. */
    uint8_t *junk = malloc(9000);
    assert_non_null(junk);
    memset(junk, 'A', 9000);
    expect_refusal("endless head", junk, 9000, 431, NULL);
    /* Random bytes, fed in one go: any refusal, never a crash. */
    srand(7);
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)(rand() % 600) + 1;
        for (size_t i = 0; i < n; i++) {
            junk[i] = (uint8_t)rand();
        }
        memcpy(junk + n, "\r\n\r\n", 4);
        expect_refusal("random", junk, n + 4, 400, NULL);
    }
    free(junk);
}

static char *accept_of(const char *key)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char md[20];
    unsigned int mdlen = 0;
    EVP_Digest(buf, strlen(buf), md, &mdlen, EVP_sha1(), NULL);
    char *out = calloc(1, 32);
    assert_non_null(out);
    EVP_EncodeBlock((unsigned char *)out, md, 20);
    return out;
}

/* Requests that vary within the rules are accepted: lower-case names, LF
   line ends, a list of subprotocols, a repeated header, a query string. */
static void test_handshake_variants(void **state)
{
    (void)state;
    static const char *const good[] = {
        "GET /mqtt HTTP/1.1\r\nhost: x\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n"
        "sec-websocket-key: " KEY "\r\nsec-websocket-version: 13\r\n"
        "sec-websocket-protocol: mqttv3.1, mqtt\r\n\r\n",
        "GET /mqtt?client=1 HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
        "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 13\nSec-WebSocket-Protocol: chat\n"
        "Sec-WebSocket-Protocol: mqtt\n\n",
    };
    char *expected = accept_of(KEY);
    assert_string_equal(expected, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); /* RFC 6455 section 1.3 */
    for (size_t i = 0; i < 2; i++) {
        char err[128];
        ws_config s;
        ws_config_default(&s, WS_SERVER);
        s.path = "/mqtt";
        ws *w = ws_new(&s, err, sizeof err);
        assert_non_null(w);
        assert_int_equal(ws_push_net(w, (const uint8_t *)good[i], strlen(good[i])), 0);
        assert_true(ws_ready(w));
        const uint8_t *out;
        size_t n = ws_peek_net(w, &out);
        char *text = calloc(1, n + 1);
        assert_non_null(text);
        memcpy(text, out, n);
        assert_true(strncmp(text, "HTTP/1.1 101 ", 13) == 0);
        assert_non_null(strstr(text, expected));
        assert_non_null(strstr(text, "\r\nSec-WebSocket-Protocol: mqtt\r\n"));
        free(text);
        ws_free(w);
    }
    free(expected);
}

/* The key the client sent, from its request. */
static char *client_key(ws *w)
{
    const uint8_t *out;
    size_t n = ws_peek_net(w, &out);
    char *text = calloc(1, n + 1);
    assert_non_null(text);
    memcpy(text, out, n);
    assert_true(strncmp(text, "GET /mqtt HTTP/1.1\r\n", 20) == 0);
    assert_non_null(strstr(text, "\r\nSec-WebSocket-Protocol: mqtt\r\n")); /* [MQTT-6.0.0-3] */
    char *k = strstr(text, "Sec-WebSocket-Key: ");
    assert_non_null(k);
    k += strlen("Sec-WebSocket-Key: ");
    char *key = calloc(1, 32);
    assert_non_null(key);
    memcpy(key, k, 24);
    free(text);
    ws_consume_net(w, n);
    return key;
}

/* @p answer with "@ACCEPT@" replaced by the right Sec-WebSocket-Accept
   (or a wrong one). */
static void expect_client_refuses(const char *answer_tmpl, bool with_accept, const char *why)
{
    char err[128];
    ws_config c;
    ws_config_default(&c, WS_CLIENT);
    ws *w = ws_new(&c, err, sizeof err);
    assert_non_null(w);
    char *key = client_key(w);
    char *acc = accept_of(key);
    char answer[1024];
    const char *at = strstr(answer_tmpl, "@ACCEPT@");
    if (at == NULL) {
        snprintf(answer, sizeof answer, "%s", answer_tmpl);
    } else {
        snprintf(answer, sizeof answer, "%.*s%s%s", (int)(at - answer_tmpl), answer_tmpl,
                 with_accept ? acc : "AAAA", at + 8);
    }
    assert_int_equal(ws_push_net(w, (const uint8_t *)answer, strlen(answer)), XPORT_ERR_HANDSHAKE);
    if (strstr(ws_error(w), why) == NULL) {
        fail_msg("error '%s' lacks '%s'", ws_error(w), why);
    }
    assert_false(ws_ready(w));
    free(key);
    free(acc);
    ws_free(w);
}

static void test_client_refuses_bad_answers(void **state)
{
    (void)state;
    expect_client_refuses("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", true,
                          "answered HTTP/1.1 404 Not Found");
    expect_client_refuses("SSH-2.0-OpenSSH\r\n\r\n", true, "not HTTP");
    expect_client_refuses("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Accept: @ACCEPT@\r\n"
                          "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
                          false, "Sec-WebSocket-Accept");
    /* [MQTT-6.0.0-4] the server must select mqtt */
    expect_client_refuses("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Accept: @ACCEPT@\r\n\r\n",
                          true, "did not select the subprotocol mqtt");
    expect_client_refuses("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Accept: @ACCEPT@\r\n"
                          "Sec-WebSocket-Protocol: chat\r\n\r\n",
                          true, "did not select the subprotocol mqtt");
    expect_client_refuses("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: @ACCEPT@\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
                          true, "Upgrade: websocket");
}

/* Frames right behind the 101 in the same read are not lost. */
static void test_frames_behind_the_answer(void **state)
{
    (void)state;
    char err[128];
    ws_config c;
    ws_config_default(&c, WS_CLIENT);
    ws *w = ws_new(&c, err, sizeof err);
    assert_non_null(w);
    char *key = client_key(w);
    char *acc = accept_of(key);
    uint8_t buf[512];
    int n = snprintf((char *)buf, sizeof buf,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
                     acc);
    size_t len =
        (size_t)n + make_frame(buf + n, WSLAY_BINARY_FRAME, true, "\x20\x03\x00\x00\x00", 5, false);
    assert_int_equal(ws_push_net(w, buf, len), 0);
    assert_true(ws_ready(w));
    uint8_t got[16];
    assert_int_equal(ws_pull_app(w, got, sizeof got), 5);
    assert_memory_equal(got, "\x20\x03\x00\x00\x00", 5);
    free(key);
    free(acc);
    ws_free(w);
}

/* Random bytes after the upgrade: an error or data, never a crash. */
static void test_random_frames(void **state)
{
    (void)state;
    srand(11);
    for (int round = 0; round < 300; round++) {
        ws_pair wp;
        ws_pair_connect(&wp, NULL, NULL);
        uint8_t junk[256];
        size_t n = (size_t)(rand() % (int)sizeof junk) + 1;
        for (size_t i = 0; i < n; i++) {
            junk[i] = (uint8_t)rand();
        }
        int r = xport_chain_net_in(&wp.p.server, junk, n);
        assert_true(r == 0 || r == XPORT_ERR_PROTOCOL);
        uint8_t buf[256];
        (void)read_all(&wp.p.server, buf, sizeof buf);
        shuttle(&wp.p);
        pair_free(&wp.p);
    }
}

static void test_bad_config(void **state)
{
    (void)state;
    char err[128];
    ws_config c;
    ws_config_default(&c, WS_CLIENT);
    c.path = "mqtt";
    assert_null(ws_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "must start with /"));
    c.path = "/a b";
    assert_null(ws_new(&c, err, sizeof err));
    c.path = "/mqtt";
    c.host = "evil\r\nX: y";
    assert_null(ws_new(&c, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_and_data),
        cmocka_unit_test(test_upgrade_byte_by_byte),
        cmocka_unit_test(test_packets_span_frames),
        cmocka_unit_test(test_raw_frames_stream),
        cmocka_unit_test(test_text_frame_closes_1003),
        cmocka_unit_test(test_text_frame_after_data),
        cmocka_unit_test(test_oversized_frame_1009),
        cmocka_unit_test(test_unmasked_client_frame_1002),
        cmocka_unit_test(test_close_normal),
        cmocka_unit_test(test_handshake_garbage),
        cmocka_unit_test(test_handshake_variants),
        cmocka_unit_test(test_client_refuses_bad_answers),
        cmocka_unit_test(test_frames_behind_the_answer),
        cmocka_unit_test(test_random_frames),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
