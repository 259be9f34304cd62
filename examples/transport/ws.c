#include "ws.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <wslay/wslay.h>

/* RFC 6455 section 1.3. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum ws_state {
    WS_HANDSHAKE, /* waiting for the request (server) or response (client) */
    WS_OPEN,
    WS_FAILED
};

struct ws {
    ws_role role;
    enum ws_state state;
    wslay_event_context_ptr ctx;
    char *host;
    char *path;         /* client: asked for; server: accepted (NULL: any) */
    char *request_path; /* server: what the client asked for */
    char accept[32];    /* client: the Sec-WebSocket-Accept expected */
    uint64_t max_frame_size;
    size_t max_send_frame;
    size_t max_handshake;
    tbuf head;          /* the HTTP head being collected */
    tbuf net_in;        /* frame bytes not yet taken by wslay */
    tbuf net_out;       /* bytes for the network */
    tbuf app_in;        /* MQTT bytes decoded */
    tbuf pending;       /* MQTT bytes written before the upgrade completed */
    uint8_t msg_opcode; /* opcode of the data message being received */
    bool in_ctrl;       /* the frame being received is a control frame */
    bool discard;       /* ignore the rest of the frame being received */
    bool violated;      /* a frame broke a rule: close queued */
    uint16_t close_received;
    uint16_t close_sent;
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

static __attribute__((format(printf, 2, 3))) void set_error(ws *w, const char *fmt, ...)
{
    if (w->error[0] != '\0') {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->error, sizeof w->error, fmt, ap);
    va_end(ap);
}

void ws_config_default(ws_config *cfg, ws_role role)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->role = role;
    cfg->path = role == WS_CLIENT ? "/mqtt" : NULL;
    cfg->max_frame_size = 1024 * 1024 + 64 * 1024;
    cfg->max_send_frame = 64 * 1024;
    cfg->max_handshake = 8192;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n + 1);
    }
    return d;
}

/* base64(SHA-1(key + GUID)), RFC 6455 section 4.2.2. */
static bool accept_for_key(const char *key, size_t key_len, char out[32])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha1(), NULL) == 1 &&
              EVP_DigestUpdate(md, key, key_len) == 1 &&
              EVP_DigestUpdate(md, ws_guid, sizeof ws_guid - 1) == 1 &&
              EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen == 20;
    EVP_MD_CTX_free(md);
    if (!ok) {
        return false;
    }
    EVP_EncodeBlock((unsigned char *)out, digest, 20); /* 28 characters and a NUL */
    return true;
}

/* ---- wslay callbacks ---- */

static ssize_t cb_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user_data)
{
    (void)flags;
    ws *w = user_data;
    size_t n = tbuf_take(&w->net_in, buf, len);
    if (n == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    return (ssize_t)n;
}

static ssize_t cb_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user_data)
{
    (void)flags;
    ws *w = user_data;
    if (!tbuf_append(&w->net_out, data, len)) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int cb_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user_data)
{
    (void)user_data;
    if (RAND_bytes(buf, (int)len) != 1) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return 0;
}

static void violation(ws *w, uint16_t code, const char *what)
{
    if (w->violated) {
        return;
    }
    w->violated = true;
    w->discard = true;
    set_error(w, "WebSocket: %s; closed with %u", what, code);
    wslay_event_queue_close(w->ctx, code, (const uint8_t *)what, strlen(what));
    wslay_event_shutdown_read(w->ctx);
}

static void cb_frame_start(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *arg, void *user_data)
{
    (void)ctx;
    ws *w = user_data;
    if (w->violated) {
        return;
    }
    w->in_ctrl = wslay_is_ctrl_frame(arg->opcode);
    if (w->in_ctrl) {
        return; /* close, ping, pong: wslay answers them */
    }
    if (arg->opcode != WSLAY_CONTINUATION_FRAME) {
        w->msg_opcode = arg->opcode;
    }
    w->discard = false;
    if (w->msg_opcode != WSLAY_BINARY_FRAME) {
        /* [MQTT-6.0.0-1] */
        violation(w, WSLAY_CODE_UNSUPPORTED_DATA, "text frame received; MQTT uses binary frames");
    }
    /* Frames above max_frame_size never get here: wslay refuses them with
       1009 before their payload is read (see ws_push_net). */
}

static void cb_frame_chunk(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user_data)
{
    ws *w = user_data;
    if (w->in_ctrl || w->discard || w->violated) {
        return;
    }
    /* [MQTT-6.0.0-2] the payload joins one byte stream, whatever the frames. */
    if (!tbuf_append(&w->app_in, arg->data, arg->data_length)) {
        wslay_event_set_error(ctx, WSLAY_ERR_NOMEM);
        violation(w, WSLAY_CODE_INTERNAL_SERVER_ERROR, "out of memory");
    }
}

static void cb_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user_data)
{
    (void)ctx;
    ws *w = user_data;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        w->close_received = arg->status_code != 0 ? arg->status_code : WSLAY_CODE_NO_STATUS_RCVD;
    }
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = cb_recv,
    .send_callback = cb_send,
    .genmask_callback = cb_genmask,
    .on_frame_recv_start_callback = cb_frame_start,
    .on_frame_recv_chunk_callback = cb_frame_chunk,
    .on_frame_recv_end_callback = NULL,
    .on_msg_recv_callback = cb_msg,
};

/* ---- HTTP heads ---- */

static bool ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen) {
        return false;
    }
    for (size_t i = 0; i < alen; i++) {
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) {
            return false;
        }
    }
    return true;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t')) {
        (*len)--;
    }
}

/* The head split into the start line and header lines (CRLF or LF). */
typedef struct http_head {
    const char *start;
    size_t start_len;
    const char *text; /* after the start line */
    size_t text_len;
    bool malformed;
} http_head;

static bool next_line(const char **p, const char *end, const char **line, size_t *len)
{
    if (*p >= end) {
        return false;
    }
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *e = nl != NULL ? nl : end;
    *line = *p;
    *len = (size_t)(e - *p);
    if (*len > 0 && (*line)[*len - 1] == '\r') {
        (*len)--;
    }
    *p = nl != NULL ? nl + 1 : end;
    return true;
}

static void parse_head(http_head *h, const char *text, size_t len)
{
    memset(h, 0, sizeof *h);
    const char *p = text;
    const char *end = text + len;
    if (!next_line(&p, end, &h->start, &h->start_len)) {
        h->malformed = true;
        return;
    }
    h->text = p;
    h->text_len = (size_t)(end - p);
    const char *line;
    size_t ll;
    while (next_line(&p, end, &line, &ll)) {
        if (ll == 0) {
            continue;
        }
        const char *colon = memchr(line, ':', ll);
        /* No header name, a name with spaces, a control byte, or an obsolete
           folded line: reject. */
        if (colon == NULL || colon == line || line[0] == ' ' || line[0] == '\t') {
            h->malformed = true;
            return;
        }
        for (const char *c = line; c < colon; c++) {
            if (*c <= ' ' || *c >= 0x7f) {
                h->malformed = true;
                return;
            }
        }
        for (const char *c = colon; c < line + ll; c++) {
            if ((unsigned char)*c < 0x20 && *c != '\t') {
                h->malformed = true;
                return;
            }
        }
    }
}

/* Every value of header @p name joined with ", " into @p out; false when
   absent (or too long to hold). */
static bool header(const http_head *h, const char *name, char *out, size_t cap)
{
    const char *p = h->text;
    const char *end = h->text + h->text_len;
    const char *line;
    size_t ll;
    size_t used = 0;
    bool found = false;
    out[0] = '\0';
    while (next_line(&p, end, &line, &ll)) {
        const char *colon = ll > 0 ? memchr(line, ':', ll) : NULL;
        if (colon == NULL || !ieq(line, (size_t)(colon - line), name)) {
            continue;
        }
        const char *v = colon + 1;
        size_t vl = ll - (size_t)(v - line);
        trim(&v, &vl);
        size_t need = vl + (found ? 2 : 0);
        if (used + need + 1 > cap) {
            return false;
        }
        if (found) {
            memcpy(out + used, ", ", 2);
            used += 2;
        }
        memcpy(out + used, v, vl);
        used += vl;
        out[used] = '\0';
        found = true;
    }
    return found;
}

/* Whether a comma-separated list holds @p token (case-insensitive). */
static bool has_token(const char *list, const char *token)
{
    const char *p = list;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *t = p;
        trim(&t, &n);
        if (ieq(t, n, token)) {
            return true;
        }
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    return false;
}

/* Finds the end of the head ("\r\n\r\n" or "\n\n"); 0 when not there yet. */
static size_t head_end(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d[i] != '\n') {
            continue;
        }
        if (i + 1 < n && d[i + 1] == '\n') {
            return i + 2;
        }
        if (i + 2 < n && d[i + 1] == '\r' && d[i + 2] == '\n') {
            return i + 3;
        }
    }
    return 0;
}

/* ---- opening ---- */

static int open_ws(ws *w)
{
    int r = w->role == WS_SERVER ? wslay_event_context_server_init(&w->ctx, &ws_callbacks, w)
                                 : wslay_event_context_client_init(&w->ctx, &ws_callbacks, w);
    if (r != 0) {
        w->ctx = NULL;
        w->state = WS_FAILED;
        set_error(w, "WebSocket: out of memory");
        return XPORT_ERR_NO_MEMORY;
    }
    /* Data frames come through the chunk callback, not whole messages. */
    wslay_event_config_set_no_buffering(w->ctx, 1);
    /* Without buffering this bounds each data frame: a larger one is
       refused with 1009 from its header, before any payload is read. */
    wslay_event_config_set_max_recv_msg_length(w->ctx, w->max_frame_size);
    w->state = WS_OPEN;
    return XPORT_OK;
}

static int flush_frames(ws *w);

/* Sends @p data as binary frames of at most max_send_frame bytes. */
static int queue_data(ws *w, const uint8_t *data, size_t len)
{
    if (wslay_event_get_close_sent(w->ctx) || !wslay_event_get_write_enabled(w->ctx)) {
        return XPORT_ERR_CLOSED;
    }
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < w->max_send_frame ? len - off : w->max_send_frame;
        struct wslay_event_msg msg = {WSLAY_BINARY_FRAME, data + off, n};
        if (wslay_event_queue_msg(w->ctx, &msg) != 0) {
            return XPORT_ERR_NO_MEMORY;
        }
        off += n;
    }
    return flush_frames(w);
}

static int flush_frames(ws *w)
{
    if (w->ctx == NULL) {
        return XPORT_OK;
    }
    while (wslay_event_want_write(w->ctx)) {
        size_t before = wslay_event_get_queued_msg_count(w->ctx);
        size_t out_before = tbuf_len(&w->net_out);
        if (wslay_event_send(w->ctx) != 0) {
            return XPORT_ERR_NO_MEMORY;
        }
        if (wslay_event_get_queued_msg_count(w->ctx) == before &&
            tbuf_len(&w->net_out) == out_before) {
            break;
        }
    }
    if (wslay_event_get_close_sent(w->ctx) && w->close_sent == 0) {
        w->close_sent = wslay_event_get_status_code_sent(w->ctx);
        if (w->close_sent == 0) {
            w->close_sent = WSLAY_CODE_NO_STATUS_RCVD;
        }
    }
    return XPORT_OK;
}

static int after_open(ws *w, const uint8_t *rest, size_t rest_len)
{
    int r = open_ws(w);
    if (r < 0) {
        return r;
    }
    if (tbuf_len(&w->pending) > 0) {
        r = queue_data(w, tbuf_peek(&w->pending), tbuf_len(&w->pending));
        tbuf_clear(&w->pending);
        if (r < 0) {
            return r;
        }
    }
    if (rest_len > 0) {
        return ws_push_net(w, rest, rest_len);
    }
    return flush_frames(w);
}

/* Server: answers a bad request and fails. */
static int refuse(ws *w, int status, const char *text, const char *extra, const char *why)
{
    char resp[1024];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d %s\r\nConnection: close\r\n%sContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\n%s\n",
                     status, text, extra, strlen(why) + 1, why);
    if (n > 0 && (size_t)n < sizeof resp) {
        tbuf_append(&w->net_out, resp, (size_t)n);
    }
    set_error(w, "WebSocket upgrade refused with %d %s: %s", status, text, why);
    w->state = WS_FAILED;
    return XPORT_ERR_HANDSHAKE;
}

static int server_handshake(ws *w, const char *text, size_t len)
{
    http_head h;
    parse_head(&h, text, len);
    if (h.malformed) {
        return refuse(w, 400, "Bad Request", "", "malformed HTTP request");
    }
    /* "GET <path> HTTP/1.1" */
    const char *sp1 = memchr(h.start, ' ', h.start_len);
    const char *sp2 =
        sp1 != NULL ? memchr(sp1 + 1, ' ', h.start_len - (size_t)(sp1 + 1 - h.start)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp2 == sp1 + 1) {
        return refuse(w, 400, "Bad Request", "", "malformed request line");
    }
    const char *version = sp2 + 1;
    size_t vlen = h.start_len - (size_t)(version - h.start);
    if (!(vlen == 8 && memcmp(version, "HTTP/1.1", 8) == 0)) {
        return refuse(w, 400, "Bad Request", "", "not an HTTP/1.1 request");
    }
    if (!((size_t)(sp1 - h.start) == 3 && memcmp(h.start, "GET", 3) == 0)) {
        return refuse(w, 405, "Method Not Allowed", "Allow: GET\r\n",
                      "a WebSocket upgrade is a GET request");
    }
    size_t plen = (size_t)(sp2 - (sp1 + 1));
    if (sp1[1] != '/') {
        return refuse(w, 400, "Bad Request", "", "the request path must start with /");
    }
    for (size_t i = 0; i < plen; i++) {
        if ((unsigned char)sp1[1 + i] <= ' ' || (unsigned char)sp1[1 + i] >= 0x7f) {
            return refuse(w, 400, "Bad Request", "", "bad character in the request path");
        }
    }
    char value[1024];
    if (!header(&h, "Host", value, sizeof value) || value[0] == '\0') {
        return refuse(w, 400, "Bad Request", "", "no Host header");
    }
    if (!header(&h, "Upgrade", value, sizeof value) || !has_token(value, "websocket")) {
        return refuse(w, 426, "Upgrade Required", "Upgrade: websocket\r\nConnection: Upgrade\r\n",
                      "this endpoint only speaks WebSocket (Upgrade: websocket)");
    }
    if (!header(&h, "Connection", value, sizeof value) || !has_token(value, "upgrade")) {
        return refuse(w, 400, "Bad Request", "", "no Connection: Upgrade header");
    }
    if (!header(&h, "Sec-WebSocket-Version", value, sizeof value) || strcmp(value, "13") != 0) {
        return refuse(w, 426, "Upgrade Required", "Sec-WebSocket-Version: 13\r\n",
                      "only WebSocket version 13 is supported");
    }
    char key[64];
    if (!header(&h, "Sec-WebSocket-Key", key, sizeof key)) {
        return refuse(w, 400, "Bad Request", "", "no valid Sec-WebSocket-Key header");
    }
    /* 16 random bytes in base64: 24 characters ending in "==". */
    unsigned char raw[20];
    size_t klen = strlen(key);
    if (klen != 24 || key[22] != '=' || key[23] != '=' ||
        EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18) {
        return refuse(w, 400, "Bad Request", "", "Sec-WebSocket-Key is not 16 bytes in base64");
    }
    /* [MQTT-6.0.0-4] the server selects "mqtt"; without it no MQTT can follow. */
    if (!header(&h, "Sec-WebSocket-Protocol", value, sizeof value) || !has_token(value, "mqtt")) {
        return refuse(w, 400, "Bad Request", "",
                      "the client must offer the WebSocket subprotocol mqtt");
    }
    w->request_path = malloc(plen + 1);
    if (w->request_path == NULL) {
        return XPORT_ERR_NO_MEMORY;
    }
    memcpy(w->request_path, sp1 + 1, plen);
    w->request_path[plen] = '\0';
    if (w->path != NULL) {
        /* The query string is not part of the path. */
        size_t cmp = strcspn(w->request_path, "?");
        if (cmp != strlen(w->path) || memcmp(w->request_path, w->path, cmp) != 0) {
            char why[300];
            snprintf(why, sizeof why, "no WebSocket endpoint at %.200s", w->request_path);
            return refuse(w, 404, "Not Found", "", why);
        }
    }
    char accept[32];
    if (!accept_for_key(key, klen, accept)) {
        return XPORT_ERR_NO_MEMORY;
    }
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
                     accept);
    if (n < 0 || (size_t)n >= sizeof resp || !tbuf_append(&w->net_out, resp, (size_t)n)) {
        return XPORT_ERR_NO_MEMORY;
    }
    return XPORT_OK;
}

static __attribute__((format(printf, 2, 3))) int client_fail(ws *w, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    set_error(w, "WebSocket upgrade failed: %s", why);
    w->state = WS_FAILED;
    return XPORT_ERR_HANDSHAKE;
}

static int client_handshake(ws *w, const char *text, size_t len)
{
    http_head h;
    parse_head(&h, text, len);
    char line[200];
    size_t sl = h.start_len < sizeof line - 1 ? h.start_len : sizeof line - 1;
    for (size_t i = 0; i < sl; i++) {
        unsigned char c = (unsigned char)h.start[i];
        line[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    line[sl] = '\0';
    if (h.malformed || h.start_len < 12 || memcmp(h.start, "HTTP/1.", 7) != 0) {
        return client_fail(w, "the server's answer is not HTTP: %s", line);
    }
    if (memcmp(h.start + 8, " 101", 4) != 0) {
        return client_fail(w, "the server answered %s", line);
    }
    char value[1024];
    if (!header(&h, "Upgrade", value, sizeof value) || !has_token(value, "websocket")) {
        return client_fail(w, "%s", "the server's answer has no Upgrade: websocket");
    }
    if (!header(&h, "Connection", value, sizeof value) || !has_token(value, "upgrade")) {
        return client_fail(w, "%s", "the server's answer has no Connection: Upgrade");
    }
    if (!header(&h, "Sec-WebSocket-Accept", value, sizeof value) || strcmp(value, w->accept) != 0) {
        return client_fail(w, "%s", "wrong or missing Sec-WebSocket-Accept");
    }
    /* [MQTT-6.0.0-4] */
    if (!header(&h, "Sec-WebSocket-Protocol", value, sizeof value) || strcmp(value, "mqtt") != 0) {
        return client_fail(w, "%s", "the server did not select the subprotocol mqtt");
    }
    return XPORT_OK;
}

static int handshake_input(ws *w, const uint8_t *data, size_t len)
{
    /* Look for the end of the head only in what is new (and 3 bytes back). */
    size_t old = tbuf_len(&w->head);
    size_t room = w->max_handshake > old ? w->max_handshake - old : 0;
    size_t take = len < room ? len : room;
    if (!tbuf_append(&w->head, data, take)) {
        return XPORT_ERR_NO_MEMORY;
    }
    size_t back = old < 3 ? old : 3;
    size_t end = head_end(tbuf_peek(&w->head) + old - back, take + back);
    if (end == 0) {
        if (take < len || tbuf_len(&w->head) >= w->max_handshake) {
            if (w->role == WS_SERVER) {
                return refuse(w, 431, "Request Header Fields Too Large", "",
                              "the HTTP request head is too large");
            }
            return client_fail(w, "%s", "the server's HTTP answer is too large");
        }
        return XPORT_OK;
    }
    end += old - back;
    size_t used_of_data = end - old; /* bytes of @p data in the head */
    int r = w->role == WS_SERVER ? server_handshake(w, (const char *)tbuf_peek(&w->head), end)
                                 : client_handshake(w, (const char *)tbuf_peek(&w->head), end);
    tbuf_free(&w->head);
    if (r < 0) {
        return r;
    }
    return after_open(w, data + used_of_data, len - used_of_data);
}

ws *ws_new(const ws_config *cfg, char *err, size_t errlen)
{
    if (cfg == NULL) {
        put_err(err, errlen, "no WebSocket configuration");
        return NULL;
    }
    const char *path = cfg->path;
    if (cfg->role == WS_CLIENT && (path == NULL || path[0] == '\0')) {
        path = "/mqtt";
    }
    if (path != NULL) {
        if (path[0] != '/') {
            put_err(err, errlen, "the WebSocket path must start with /: %s", path);
            return NULL;
        }
        for (const char *c = path; *c != '\0'; c++) {
            if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) {
                put_err(err, errlen, "bad character in the WebSocket path");
                return NULL;
            }
        }
    }
    const char *host = cfg->host != NULL ? cfg->host : "localhost";
    for (const char *c = host; *c != '\0'; c++) {
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) {
            put_err(err, errlen, "bad character in the WebSocket host");
            return NULL;
        }
    }
    ws *w = calloc(1, sizeof *w);
    if (w == NULL) {
        put_err(err, errlen, "out of memory");
        return NULL;
    }
    w->role = cfg->role;
    w->state = WS_HANDSHAKE;
    w->max_frame_size = cfg->max_frame_size ? cfg->max_frame_size : 1024 * 1024 + 64 * 1024;
    w->max_send_frame = cfg->max_send_frame ? cfg->max_send_frame : 64 * 1024;
    w->max_handshake = cfg->max_handshake ? cfg->max_handshake : 8192;
    tbuf_init(&w->head);
    tbuf_init(&w->net_in);
    tbuf_init(&w->net_out);
    tbuf_init(&w->app_in);
    tbuf_init(&w->pending);
    w->host = dup_str(host);
    w->path = path != NULL ? dup_str(path) : NULL;
    if (w->host == NULL || (path != NULL && w->path == NULL)) {
        put_err(err, errlen, "out of memory");
        ws_free(w);
        return NULL;
    }
    if (w->role == WS_CLIENT) {
        unsigned char nonce[16];
        char key[32];
        char req[2048];
        if (RAND_bytes(nonce, sizeof nonce) != 1) {
            put_err(err, errlen, "no random bytes for the WebSocket key");
            ws_free(w);
            return NULL;
        }
        EVP_EncodeBlock((unsigned char *)key, nonce, sizeof nonce);
        if (!accept_for_key(key, strlen(key), w->accept)) {
            put_err(err, errlen, "SHA-1 unavailable");
            ws_free(w);
            return NULL;
        }
        /* [MQTT-6.0.0-3] the client offers "mqtt". */
        int n = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                         "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
                         w->path, w->host, key);
        if (n < 0 || (size_t)n >= sizeof req) {
            put_err(err, errlen, "WebSocket path or host too long");
            ws_free(w);
            return NULL;
        }
        if (!tbuf_append(&w->net_out, req, (size_t)n)) {
            put_err(err, errlen, "out of memory");
            ws_free(w);
            return NULL;
        }
    }
    return w;
}

void ws_free(ws *w)
{
    if (w == NULL) {
        return;
    }
    if (w->ctx != NULL) {
        wslay_event_context_free(w->ctx);
    }
    tbuf_free(&w->head);
    tbuf_free(&w->net_in);
    tbuf_free(&w->net_out);
    tbuf_free(&w->app_in);
    tbuf_free(&w->pending);
    free(w->host);
    free(w->path);
    free(w->request_path);
    free(w);
}

int ws_push_net(ws *w, const uint8_t *data, size_t len)
{
    switch (w->state) {
    case WS_FAILED:
        return w->violated ? XPORT_ERR_PROTOCOL : XPORT_ERR_HANDSHAKE;
    case WS_HANDSHAKE:
        return handshake_input(w, data, len);
    case WS_OPEN:
        break;
    }
    if (w->violated) {
        return XPORT_ERR_PROTOCOL;
    }
    if (!wslay_event_get_read_enabled(w->ctx)) {
        return XPORT_OK; /* after a close: nothing more is read */
    }
    if (!tbuf_append(&w->net_in, data, len)) {
        return XPORT_ERR_NO_MEMORY;
    }
    int r = wslay_event_recv(w->ctx);
    int f = flush_frames(w);
    if (!w->violated &&
        (r != 0 || (!wslay_event_get_read_enabled(w->ctx) && w->close_received == 0))) {
        /* wslay refused a frame and queued a close itself: 1002 for a
           framing error (an unmasked client frame, a reserved bit, a bad
           opcode), 1009 for a frame above the limit, 1007 for a close
           reason that is not UTF-8. */
        w->violated = true;
        if (!wslay_event_get_close_sent(w->ctx) && wslay_event_get_write_enabled(w->ctx) &&
            !wslay_event_want_write(w->ctx)) {
            wslay_event_queue_close(w->ctx, WSLAY_CODE_PROTOCOL_ERROR, NULL, 0);
        }
        wslay_event_shutdown_read(w->ctx);
        flush_frames(w);
        uint16_t code = wslay_event_get_status_code_sent(w->ctx);
        if (r == WSLAY_ERR_NOMEM) {
            set_error(w, "WebSocket: out of memory");
        } else if (code == WSLAY_CODE_MESSAGE_TOO_BIG) {
            set_error(w, "WebSocket: frame exceeds the limit of %llu bytes; closed with %u",
                      (unsigned long long)w->max_frame_size, code);
        } else if (code == WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA) {
            set_error(w, "WebSocket: invalid UTF-8 in a close frame; closed with %u", code);
        } else {
            set_error(w, "WebSocket: malformed frame; closed with %u", code);
        }
    }
    if (w->violated) {
        tbuf_clear(&w->net_in);
        return XPORT_ERR_PROTOCOL;
    }
    return f;
}

size_t ws_peek_net(ws *w, const uint8_t **data)
{
    *data = tbuf_peek(&w->net_out);
    return tbuf_len(&w->net_out);
}

void ws_consume_net(ws *w, size_t n)
{
    tbuf_consume(&w->net_out, n);
}

ptrdiff_t ws_pull_app(ws *w, uint8_t *buf, size_t cap)
{
    size_t n = tbuf_take(&w->app_in, buf, cap);
    if (n > 0) {
        return (ptrdiff_t)n;
    }
    if (w->state == WS_FAILED) {
        return XPORT_ERR_HANDSHAKE;
    }
    if (w->violated) {
        return XPORT_ERR_PROTOCOL;
    }
    if (w->close_received != 0) {
        return XPORT_ERR_CLOSED;
    }
    return 0;
}

int ws_push_app(ws *w, const uint8_t *data, size_t len)
{
    switch (w->state) {
    case WS_FAILED:
        return XPORT_ERR_HANDSHAKE;
    case WS_HANDSHAKE:
        return tbuf_append(&w->pending, data, len) ? XPORT_OK : XPORT_ERR_NO_MEMORY;
    case WS_OPEN:
        break;
    }
    return queue_data(w, data, len);
}

bool ws_ready(const ws *w)
{
    return w->state == WS_OPEN;
}

bool ws_finished(const ws *w)
{
    return w->state == WS_FAILED || w->violated || w->close_received != 0 || w->close_sent != 0;
}

const char *ws_error(const ws *w)
{
    return w->error;
}

uint16_t ws_close_code_received(const ws *w)
{
    return w->close_received;
}

uint16_t ws_close_code_sent(const ws *w)
{
    return w->close_sent;
}

const char *ws_request_path(const ws *w)
{
    return w->request_path;
}

void ws_close(ws *w, uint16_t code, const char *reason)
{
    if (w->state != WS_OPEN || wslay_event_get_close_sent(w->ctx)) {
        return;
    }
    const char *r = reason != NULL ? reason : "";
    size_t n = strlen(r) > 123 ? 123 : strlen(r);
    wslay_event_queue_close(w->ctx, code, (const uint8_t *)r, n);
    flush_frames(w);
}

/* ---- as a layer ---- */

static int l_net_in(void *self, const uint8_t *data, size_t len)
{
    return ws_push_net(self, data, len);
}

static size_t l_net_out(void *self, const uint8_t **data)
{
    return ws_peek_net(self, data);
}

static void l_net_consume(void *self, size_t n)
{
    ws_consume_net(self, n);
}

static ptrdiff_t l_app_read(void *self, uint8_t *buf, size_t cap)
{
    return ws_pull_app(self, buf, cap);
}

static int l_app_write(void *self, const uint8_t *data, size_t len)
{
    return ws_push_app(self, data, len);
}

static bool l_ready(const void *self)
{
    return ws_ready(self);
}

static bool l_finished(const void *self)
{
    return ws_finished(self);
}

static const char *l_error(const void *self)
{
    return ws_error(self);
}

static void l_close(void *self)
{
    ws_close(self, WSLAY_CODE_NORMAL_CLOSURE, NULL);
}

static void l_destroy(void *self)
{
    ws_free(self);
}

static const xport_layer_ops ws_ops = {
    .name = "websocket",
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

xport_layer ws_layer(ws *w)
{
    xport_layer l = {&ws_ops, w};
    return l;
}
