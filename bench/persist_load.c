/*
 * persist_load: QoS 1 (or 2) load against a broker on 127.0.0.1 whose
 * subscribers hold persistent sessions, so that every message the broker
 * acknowledges is one a durable broker must store. bench/persistence.sh runs
 * it against mqttproto-broker with and without persistence and against
 * mosquitto.
 *
 * Usage: persist_load -p PORT [-P pubs] [-S subs] [-w window] [-q 1|2]
 *                     [-Q 1|2] [-s size] [-t seconds] [-d drain] [-T timeout]
 *                     [-e pub-expiry] [-i id-prefix] [-m topic] [-k]
 *
 *   -p PORT     broker port on 127.0.0.1 (required; loopback only)
 *   -P N        publisher connections (default 4, at most 256)
 *   -S N        subscriber connections (default 1, at most 64)
 *   -w W        window per publisher (default 100): messages published and
 *               not yet both acknowledged to the publisher and received by
 *               every subscriber; so at most P x W messages wait for a
 *               subscriber at a time, plus the deliveries whose PUBACK the
 *               broker has not read yet (mind the broker's per-session
 *               queue limit, 1000 messages in both brokers by default)
 *   -q 1|2      QoS of the publishes (default 1)
 *   -Q 1|2      QoS of the subscriptions (default 1)
 *   -s BYTES    payload size, 24 to 65536 (default 64)
 *   -t SECONDS  measured time (default 5)
 *   -d SECONDS  after it, how long to wait for the acknowledgements and
 *               deliveries still due (default 10)
 *   -T SECONDS  hard timeout of the whole run (default 10 + t + d + 5)
 *   -e SECONDS  Session Expiry Interval of the publishers (default 0: their
 *               sessions end with their connections)
 *   -i PREFIX   client identifier prefix (default persist_load); clients
 *               are PREFIX-sub-N and PREFIX-pub-N
 *   -m TOPIC    the topic (default persist_load/PREFIX)
 *   -k          keep the subscribers' sessions at the end (by default the
 *               final DISCONNECT sets their Session Expiry Interval to 0)
 *
 * The subscribers' sessions are persistent: each subscriber connects with
 * Clean Start 1 and Session Expiry Interval 300 (which resets any session
 * an earlier run left), subscribes, disconnects, and connects again with
 * Clean Start 0, where the broker must answer Session Present 1. Only then
 * do the publishers start: each keeps its window full for -t seconds, then
 * stops; the program waits (-d) until every message is acknowledged and
 * delivered, and disconnects everyone.
 *
 * Each payload starts with "PLD1", the publisher's index (u32), the
 * sequence number (u64) and the CLOCK_MONOTONIC time of the publish in ns
 * (u64), so that the subscribers (in this process) find losses, duplicates
 * and the latency. One line on stdout, for scripts:
 *
 *   persist_load qos=1 sub_qos=1 pubs=4 subs=1 window=100 size=64 seconds=5
 *     acked_per_s=A received_per_s=R acked=N received=N lost=L dup=D
 *     unacked=U p50_us=X p99_us=Y ack_p50_us=X ack_p99_us=Y
 *
 * acked_per_s: PUBACKs (PUBCOMPs at QoS 2) the publishers got per second of
 * the measured time; received_per_s: messages the subscribers got per
 * second, all subscribers together. lost: messages acknowledged to their
 * publisher that some subscriber never received (counted once per
 * subscriber); dup: messages a subscriber received more than once;
 * unacked: messages without an acknowledgement at the end of the drain.
 * p50_us, p99_us: publish to delivery at a subscriber; ack_p50_us,
 * ack_p99_us: publish to its acknowledgement. Rates, counts and latencies
 * are of the events within the measured time (lost, dup and unacked of the
 * whole run).
 *
 * Exit status: 0; 1 for an error (connection, protocol, refusal, timeout),
 * reported on stderr; 2 for a usage error; 3 when messages were lost, or
 * duplicated at QoS 2, or left unacknowledged (the line is printed).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <mqttproto/mqttproto.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PUBS           256u
#define MAX_SUBS           64u
#define MAX_WINDOW         65000u
#define HEADER_LEN         24u
#define READ_BUF_SIZE      65536u
#define SETUP_TIMEOUT_S    10u
#define CLOSE_TIMEOUT_MS   3000u
#define SUB_SESSION_EXPIRY 300u
#define KEEP_ALIVE_S       60u
#define NS_PER_MS          1000000ull
#define NS_PER_S           1000000000ull

enum role { ROLE_PUB, ROLE_SUB };

enum cstate {
    ST_CONNACK,        /* CONNECT queued (Clean Start 1) */
    ST_SUBACK,         /* subscriber: SUBSCRIBE queued */
    ST_RESET_DISC,     /* subscriber: DISCONNECT queued after the subscription */
    ST_RESUME_CONNACK, /* subscriber: CONNECT with Clean Start 0 queued */
    ST_READY,          /* connected, taking part in the load */
    ST_CLOSING,        /* final DISCONNECT queued; waiting for the server to close */
    ST_CLOSED
};

static const char *const state_names[] = {
    "CONNACK",
    "SUBACK",
    "the broker to close the connection after the reset",
    "CONNACK (Clean Start 0)",
    "acknowledgements and messages",
    "the broker to close the connection",
    "nothing",
};

enum phase { PH_SETUP, PH_RUN, PH_DRAIN, PH_CLOSE };

static const char *const phase_names[] = {"setup", "the load", "the drain", "the close"};

struct bitmap {
    uint8_t *bits;
    size_t cap; /* bytes */
};

struct pub_state {
    uint64_t next_seq;   /* next sequence number to publish */
    uint64_t base;       /* oldest sequence number still open */
    uint64_t acked;      /* messages acknowledged */
    uint16_t *remaining; /* [window]: events still due for an open message */
    uint64_t *sent_ns;   /* [window]: when it was published */
    uint32_t *pid_seq;   /* [65536]: sequence number + 1 of the packet id's message */
    struct bitmap acked_bits;
};

struct conn {
    enum role role;
    unsigned index;
    int fd;
    mqttproto_client *client;
    enum cstate state;
    bool shut_wr;
    char id[96];
    int32_t sub_pid;
    struct pub_state pub;    /* publishers */
    struct bitmap *received; /* subscribers: one per publisher */
};

struct samples {
    uint32_t *v;
    size_t n;
    size_t cap;
};

static struct {
    unsigned port;
    unsigned pubs;
    unsigned subs;
    unsigned window;
    unsigned qos;
    unsigned sub_qos;
    unsigned size;
    unsigned seconds;
    unsigned drain;
    unsigned timeout;
    unsigned pub_expiry;
    bool keep_session;
    const char *prefix;
    char topic[256];
} cfg;

static struct conn *conns;
static unsigned nconns;
static enum phase phase = PH_SETUP;
static unsigned ready_count;
static uint64_t t_start, t_end;
static uint64_t acked_window, received_window, dup_count;
static struct samples lat_e2e, lat_ack;
static uint8_t *payload_buf;

/* ---- utilities ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static __attribute__((format(printf, 1, 2))) _Noreturn void fail(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("persist_load: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void check(ptrdiff_t r, const struct conn *c, const char *what)
{
    if (r < 0) {
        fail("%s: %s failed: %s (%s)", c->id, what, mqttproto_strerror((int)r),
             mqttproto_err_name((int)r));
    }
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL) {
        fail("out of memory");
    }
    return p;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "persist_load: error: hard timeout reached (alarm)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

/* Sets bit @p i; returns whether it was set already. */
static bool bitmap_test_and_set(struct bitmap *b, uint64_t i)
{
    size_t byte = (size_t)(i >> 3);
    if (byte >= b->cap) {
        size_t cap = b->cap == 0 ? 4096 : b->cap;
        while (cap <= byte) {
            cap *= 2;
        }
        uint8_t *bits = realloc(b->bits, cap);
        if (bits == NULL) {
            fail("out of memory");
        }
        memset(bits + b->cap, 0, cap - b->cap);
        b->bits = bits;
        b->cap = cap;
    }
    uint8_t mask = (uint8_t)(1u << (i & 7u));
    bool was = (b->bits[byte] & mask) != 0;
    b->bits[byte] = (uint8_t)(b->bits[byte] | mask);
    return was;
}

static bool bitmap_test(const struct bitmap *b, uint64_t i)
{
    size_t byte = (size_t)(i >> 3);
    return byte < b->cap && (b->bits[byte] & (1u << (i & 7u))) != 0;
}

static void sample_add(struct samples *s, uint64_t ns)
{
    if (s->n == s->cap) {
        size_t cap = s->cap == 0 ? 65536 : s->cap * 2;
        uint32_t *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL) {
            fail("out of memory");
        }
        s->v = v;
        s->cap = cap;
    }
    uint64_t us = ns / 1000u;
    s->v[s->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile @p pct of the sorted samples; 0 when none. */
static uint32_t percentile(const struct samples *s, unsigned pct)
{
    if (s->n == 0) {
        return 0;
    }
    size_t rank = (s->n * pct + 99u) / 100u; /* ceil(n * pct / 100), 1-based */
    if (rank == 0) {
        rank = 1;
    }
    return s->v[rank - 1];
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * (3 - i)));
    }
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * (7 - i)));
    }
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v = (v << 8) | (uint32_t)p[i];
    }
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | (uint64_t)p[i];
    }
    return v;
}

/* ---- connections ---- */

static int tcp_connect(const struct conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        fail("%s: socket: %s", c->id, strerror(errno));
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Loopback: the connect completes (or is refused) at once. */
    while (connect(fd, (const struct sockaddr *)&sa, sizeof sa) < 0) {
        if (errno != EINTR) {
            fail("%s: cannot connect to 127.0.0.1:%u: %s", c->id, cfg.port, strerror(errno));
        }
    }
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
        fail("%s: TCP_NODELAY: %s", c->id, strerror(errno));
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        fail("%s: O_NONBLOCK: %s", c->id, strerror(errno));
    }
    return fd;
}

static void start_connect(struct conn *c, bool clean_start)
{
    c->fd = tcp_connect(c);
    c->shut_wr = false;
    mqttproto_connect_options opts;
    mqttproto_connect_options_default(&opts);
    opts.client_id = mqttproto_str_from_cstr(c->id);
    opts.clean_start = clean_start;
    opts.keep_alive = KEEP_ALIVE_S;
    opts.session_expiry_interval = c->role == ROLE_SUB ? SUB_SESSION_EXPIRY : cfg.pub_expiry;
    check(mqttproto_client_connect(c->client, &opts, now_ns() / NS_PER_MS), c, "connect");
    c->state = clean_start ? ST_CONNACK : ST_RESUME_CONNACK;
}

static void close_fd(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

static void write_outbound(struct conn *c)
{
    const uint8_t *data;
    size_t n = mqttproto_client_get_outbound_data(c->client, &data);
    while (n > 0) {
        ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;
            }
            fail("%s: write to the broker failed: %s (during %s, waiting for %s)", c->id,
                 strerror(errno), phase_names[phase], state_names[c->state]);
        }
        mqttproto_client_consume_outbound(c->client, (size_t)w);
        n = mqttproto_client_get_outbound_data(c->client, &data);
    }
}

static bool outbound_pending(struct conn *c)
{
    const uint8_t *data;
    return mqttproto_client_get_outbound_data(c->client, &data) > 0;
}

/* ---- the load ---- */

/* One of the events a message waits for (its acknowledgement, its delivery
   to one subscriber) happened. */
static void message_event(struct conn *p, uint64_t seq)
{
    struct pub_state *ps = &p->pub;
    if (seq < ps->base) {
        return;
    }
    uint16_t *r = &ps->remaining[seq % cfg.window];
    if (*r == 0) {
        fail("%s: message %" PRIu64 " completed twice", p->id, seq);
    }
    (*r)--;
    while (ps->base < ps->next_seq && ps->remaining[ps->base % cfg.window] == 0) {
        ps->base++;
    }
}

static void refill(struct conn *p)
{
    struct pub_state *ps = &p->pub;
    if (phase != PH_RUN || p->state != ST_READY) {
        return;
    }
    mqttproto_str topic = mqttproto_str_from_cstr(cfg.topic);
    while (ps->next_seq - ps->base < cfg.window) {
        uint64_t seq = ps->next_seq;
        uint64_t t = now_ns();
        memcpy(payload_buf, "PLD1", 4);
        put_u32(payload_buf + 4, p->index);
        put_u64(payload_buf + 8, seq);
        put_u64(payload_buf + 16, t);
        int32_t pid =
            mqttproto_client_publish(p->client, topic, mqttproto_bin_make(payload_buf, cfg.size),
                                     (mqttproto_qos)cfg.qos, false, NULL);
        if (pid == MQTTPROTO_ERR_QUEUE_FULL) {
            return;
        }
        check(pid, p, "publish");
        if (pid <= 0 || pid > 65535) {
            fail("%s: publish returned packet id %" PRId32, p->id, pid);
        }
        if (ps->pid_seq[pid] != 0) {
            fail("%s: packet id %" PRId32 " given again while in use", p->id, pid);
        }
        if (seq >= UINT32_MAX - 1u) {
            fail("%s: too many messages", p->id);
        }
        ps->pid_seq[pid] = (uint32_t)(seq + 1u);
        size_t slot = (size_t)(seq % cfg.window);
        ps->remaining[slot] = (uint16_t)(cfg.subs + 1u);
        ps->sent_ns[slot] = t;
        ps->next_seq++;
    }
}

static void on_completed(struct conn *p, uint16_t pid, uint64_t t)
{
    struct pub_state *ps = &p->pub;
    uint32_t s1 = ps->pid_seq[pid];
    if (s1 == 0) {
        fail("%s: acknowledgement for packet id %u, which is not in flight", p->id, pid);
    }
    ps->pid_seq[pid] = 0;
    uint64_t seq = s1 - 1u;
    if (bitmap_test_and_set(&ps->acked_bits, seq)) {
        fail("%s: message %" PRIu64 " acknowledged twice", p->id, seq);
    }
    ps->acked++;
    if (phase == PH_RUN && t <= t_end) {
        acked_window++;
        sample_add(&lat_ack, t - ps->sent_ns[seq % cfg.window]);
    }
    message_event(p, seq);
}

static void on_message(struct conn *s, const mqttproto_client_event *ev, uint64_t t)
{
    size_t tlen = strlen(cfg.topic);
    if (ev->topic.len != tlen || memcmp(ev->topic.data, cfg.topic, tlen) != 0) {
        fail("%s: message on an unexpected topic (%zu bytes)", s->id, ev->topic.len);
    }
    const uint8_t *pl = ev->payload.data;
    if (ev->payload.len != cfg.size || memcmp(pl, "PLD1", 4) != 0) {
        fail("%s: message with a foreign payload (%zu bytes)", s->id, ev->payload.len);
    }
    uint32_t pi = get_u32(pl + 4);
    uint64_t seq = get_u64(pl + 8);
    uint64_t sent = get_u64(pl + 16);
    if (pi >= cfg.pubs) {
        fail("%s: message from publisher %" PRIu32 ", which does not exist", s->id, pi);
    }
    struct conn *p = &conns[pi];
    if (seq >= p->pub.next_seq) {
        fail("%s: message %" PRIu64 " of %s, which was not published", s->id, seq, p->id);
    }
    unsigned want = cfg.qos < cfg.sub_qos ? cfg.qos : cfg.sub_qos;
    if ((unsigned)ev->qos != want) {
        fail("%s: message delivered at QoS %d, expected %u", s->id, (int)ev->qos, want);
    }
    if (bitmap_test_and_set(&s->received[pi], seq)) {
        dup_count++;
        return;
    }
    if (phase == PH_RUN && t <= t_end) {
        received_window++;
        sample_add(&lat_e2e, t - sent);
    }
    message_event(p, seq);
}

static void subscribe(struct conn *s)
{
    mqttproto_subscription sub;
    memset(&sub, 0, sizeof sub);
    sub.topic_filter = mqttproto_str_from_cstr(cfg.topic);
    sub.max_qos = (mqttproto_qos)cfg.sub_qos;
    sub.retain_handling = MQTTPROTO_RETAIN_DO_NOT_SEND;
    int32_t pid = mqttproto_client_subscribe(s->client, &sub, 1, NULL);
    check(pid, s, "subscribe");
    s->sub_pid = pid;
    s->state = ST_SUBACK;
}

static void on_event(struct conn *c, const mqttproto_client_event *ev, uint64_t t)
{
    switch (ev->type) {
    case MQTTPROTO_CLIENT_EVENT_CONNECTED:
        if (c->state == ST_CONNACK) {
            if (ev->session_present) {
                fail("%s: Session Present 1 after a CONNECT with Clean Start 1", c->id);
            }
            if (c->role == ROLE_SUB) {
                subscribe(c);
            } else {
                c->state = ST_READY;
                ready_count++;
            }
        } else if (c->state == ST_RESUME_CONNACK) {
            if (!ev->session_present) {
                fail("%s: the broker did not keep the session: Session Present 0 after "
                     "Clean Start 0 with Session Expiry Interval %u",
                     c->id, SUB_SESSION_EXPIRY);
            }
            c->state = ST_READY;
            ready_count++;
        } else {
            fail("%s: CONNACK while waiting for %s", c->id, state_names[c->state]);
        }
        break;
    case MQTTPROTO_CLIENT_EVENT_CONNECT_REFUSED:
        fail("%s: connection refused by the broker: %s (0x%02x)", c->id,
             mqttproto_reason_code_name(ev->reason_code), ev->reason_code);
    case MQTTPROTO_CLIENT_EVENT_AUTH:
        fail("%s: AUTH from the broker, but no authentication was asked for", c->id);
    case MQTTPROTO_CLIENT_EVENT_MESSAGE:
        if (c->role != ROLE_SUB) {
            fail("%s: a publisher received a message", c->id);
        }
        on_message(c, ev, t);
        break;
    case MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED:
        if (c->role != ROLE_PUB) {
            fail("%s: a subscriber got a publish acknowledgement", c->id);
        }
        on_completed(c, ev->packet_id, t);
        break;
    case MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED:
        if (ev->error != 0) {
            fail("%s: publish pid=%u failed: %s (%s)", c->id, ev->packet_id,
                 mqttproto_strerror(ev->error), mqttproto_err_name(ev->error));
        }
        fail("%s: publish pid=%u refused by the broker: %s (0x%02x)", c->id, ev->packet_id,
             mqttproto_reason_code_name(ev->reason_code), ev->reason_code);
    case MQTTPROTO_CLIENT_EVENT_SUBSCRIBE_ACK:
        if (c->state != ST_SUBACK || ev->packet_id != c->sub_pid || ev->reason_code_count != 1) {
            fail("%s: SUBACK that does not answer our SUBSCRIBE", c->id);
        }
        if (ev->reason_codes[0] >= 0x80) {
            fail("%s: subscription to %s refused: %s (0x%02x)", c->id, cfg.topic,
                 mqttproto_reason_code_name(ev->reason_codes[0]), ev->reason_codes[0]);
        }
        if (ev->reason_codes[0] != cfg.sub_qos) {
            fail("%s: subscription granted at QoS %u, asked for %u", c->id, ev->reason_codes[0],
                 cfg.sub_qos);
        }
        /* The session stays (Session Expiry Interval 300); connect again
           with Clean Start 0 once the broker closed this connection. */
        check(mqttproto_client_disconnect(c->client, MQTTPROTO_RC_NORMAL_DISCONNECTION, NULL), c,
              "disconnect");
        c->state = ST_RESET_DISC;
        break;
    case MQTTPROTO_CLIENT_EVENT_UNSUBSCRIBE_ACK:
        fail("%s: UNSUBACK, but nothing was unsubscribed", c->id);
    case MQTTPROTO_CLIENT_EVENT_REQUEST_FAILED:
        fail("%s: request pid=%u failed: %s", c->id, ev->packet_id, mqttproto_strerror(ev->error));
    case MQTTPROTO_CLIENT_EVENT_DISCONNECTED:
        fail("%s: the broker sent DISCONNECT: %s (0x%02x) during %s", c->id,
             mqttproto_reason_code_name(ev->reason_code), ev->reason_code, phase_names[phase]);
    default:
        fail("%s: unknown event type %d", c->id, (int)ev->type);
    }
}

static size_t drain_events(struct conn *c, uint64_t t)
{
    size_t count = 0;
    mqttproto_client_event ev;
    int r;
    while ((r = mqttproto_client_next_event(c->client, &ev)) == 1) {
        count++;
        on_event(c, &ev, t);
    }
    check(r, c, "next_event");
    return count;
}

/* The broker closed a connection we asked it to close. */
static void on_eof_expected(struct conn *c)
{
    close_fd(c);
    /* Nothing is pending: connection_lost() only forgets the connection. */
    check(mqttproto_client_connection_lost(c->client), c, "connection_lost");
    if (c->state == ST_RESET_DISC) {
        start_connect(c, false);
    } else {
        c->state = ST_CLOSED;
    }
}

static void read_input(struct conn *c, uint8_t *buf)
{
    ssize_t r = recv(c->fd, buf, READ_BUF_SIZE, 0);
    if (r < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        }
        if (c->state == ST_CLOSING || c->state == ST_RESET_DISC) {
            on_eof_expected(c);
            return;
        }
        fail("%s: read from the broker failed: %s (during %s, waiting for %s)", c->id,
             strerror(errno), phase_names[phase], state_names[c->state]);
    }
    if (r == 0) {
        if (c->state == ST_CLOSING || c->state == ST_RESET_DISC) {
            on_eof_expected(c);
            return;
        }
        fail("%s: the broker closed the connection (during %s, waiting for %s)", c->id,
             phase_names[phase], state_names[c->state]);
    }
    if (c->state == ST_CLOSING || c->state == ST_RESET_DISC) {
        return; /* after our DISCONNECT: not of interest */
    }
    uint64_t t = now_ns();
    size_t off = 0;
    while (off < (size_t)r && c->state != ST_RESET_DISC) {
        ptrdiff_t taken =
            mqttproto_client_feed_bytes(c->client, buf + off, (size_t)r - off, t / NS_PER_MS);
        if (taken < 0) {
            drain_events(c, t);
            write_outbound(c);
            fail("%s: protocol error from the broker: %s (%s)", c->id,
                 mqttproto_strerror((int)taken), mqttproto_err_name((int)taken));
        }
        off += (size_t)taken;
        if (drain_events(c, t) == 0 && taken == 0) {
            fail("%s: the client took no input and reported no event", c->id);
        }
    }
}

static void run_timers(struct conn *c, uint64_t t)
{
    mqttproto_client_state st = mqttproto_client_get_state(c->client);
    if (st != MQTTPROTO_CLIENT_CONNECTING && st != MQTTPROTO_CLIENT_CONNECTED) {
        return;
    }
    uint64_t ms = t / NS_PER_MS;
    if (ms >= mqttproto_client_get_expiry(c->client)) {
        int e = mqttproto_client_handle_expiry(c->client, ms);
        if (e == MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT) {
            fail("%s: no PINGRESP from the broker within the keep-alive timeout", c->id);
        }
        check(e, c, "handle_expiry");
    }
}

static void begin_close(void)
{
    for (unsigned i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        mqttproto_properties props;
        mqttproto_properties_init(&props);
        if (c->role == ROLE_SUB && !cfg.keep_session) {
            check(mqttproto_properties_set_int(&props, MQTTPROTO_PACKET_DISCONNECT,
                                               MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL, 0),
                  c, "properties_set_int");
        }
        check(mqttproto_client_disconnect(c->client, MQTTPROTO_RC_NORMAL_DISCONNECTION, &props), c,
              "disconnect");
        c->state = ST_CLOSING;
    }
    phase = PH_CLOSE;
}

static bool all_settled(void)
{
    for (unsigned i = 0; i < cfg.pubs; i++) {
        if (conns[i].pub.base != conns[i].pub.next_seq) {
            return false;
        }
    }
    return true;
}

static void run(void)
{
    uint8_t *buf = xcalloc(1, READ_BUF_SIZE);
    struct pollfd *pfds = xcalloc(nconns, sizeof *pfds);
    unsigned *pidx = xcalloc(nconns, sizeof *pidx);
    uint64_t t0 = now_ns();
    uint64_t hard_deadline = t0 + (uint64_t)cfg.timeout * NS_PER_S;
    uint64_t setup_deadline = t0 + SETUP_TIMEOUT_S * NS_PER_S;
    uint64_t drain_deadline = 0;
    uint64_t close_deadline = 0;

    /* Subscribers first: the publishers start once every one is ready. */
    for (unsigned i = 0; i < nconns; i++) {
        start_connect(&conns[(i + cfg.pubs) % nconns], true);
    }

    for (;;) {
        uint64_t t = now_ns();
        if (t >= hard_deadline) {
            fail("hard timeout (%u s) reached during %s", cfg.timeout, phase_names[phase]);
        }
        switch (phase) {
        case PH_SETUP:
            if (ready_count == nconns) {
                phase = PH_RUN;
                t_start = t;
                t_end = t + (uint64_t)cfg.seconds * NS_PER_S;
            } else if (t >= setup_deadline) {
                unsigned i = 0;
                while (i < nconns && conns[i].state == ST_READY) {
                    i++;
                }
                fail("%u of %u connections ready after %u s; %s waits for %s", ready_count, nconns,
                     SETUP_TIMEOUT_S, conns[i].id, state_names[conns[i].state]);
            }
            break;
        case PH_RUN:
            if (t >= t_end) {
                phase = PH_DRAIN;
                drain_deadline = t + (uint64_t)cfg.drain * NS_PER_S;
            }
            break;
        case PH_DRAIN:
            if (all_settled() || t >= drain_deadline) {
                begin_close();
                close_deadline = t + CLOSE_TIMEOUT_MS * NS_PER_MS;
            }
            break;
        case PH_CLOSE:
            break;
        }
        if (phase == PH_CLOSE) {
            bool open = false;
            for (unsigned i = 0; i < nconns; i++) {
                open = open || conns[i].state != ST_CLOSED;
            }
            if (!open) {
                break;
            }
            if (t >= close_deadline) {
                fprintf(stderr,
                        "persist_load: warning: the broker did not close every "
                        "connection within %u ms of our DISCONNECT\n",
                        CLOSE_TIMEOUT_MS);
                break;
            }
        }

        nfds_t n = 0;
        for (unsigned i = 0; i < nconns; i++) {
            struct conn *c = &conns[i];
            if (c->state == ST_CLOSED) {
                continue;
            }
            run_timers(c, t);
            if (c->role == ROLE_PUB) {
                refill(c);
            }
            write_outbound(c);
            bool pending = outbound_pending(c);
            if ((c->state == ST_RESET_DISC || c->state == ST_CLOSING) && !pending && !c->shut_wr) {
                /* Our DISCONNECT is out; the broker closes its side in turn. */
                shutdown(c->fd, SHUT_WR);
                c->shut_wr = true;
            }
            pfds[n].fd = c->fd;
            pfds[n].events = (short)(POLLIN | (pending ? POLLOUT : 0));
            pfds[n].revents = 0;
            pidx[n] = i;
            n++;
        }
        uint64_t wake = t + 50u * NS_PER_MS;
        if (phase == PH_RUN && t_end < wake) {
            wake = t_end;
        }
        int timeout_ms = (int)((wake - t + NS_PER_MS - 1u) / NS_PER_MS);
        int r = poll(pfds, n, timeout_ms);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail("poll: %s", strerror(errno));
        }
        for (nfds_t k = 0; k < n && r > 0; k++) {
            if ((pfds[k].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
                struct conn *c = &conns[pidx[k]];
                if (c->fd == pfds[k].fd && c->state != ST_CLOSED) {
                    read_input(c, buf);
                }
            }
        }
    }
    for (unsigned i = 0; i < nconns; i++) {
        close_fd(&conns[i]);
    }
    free(buf);
    free(pfds);
    free(pidx);
}

/* ---- main ---- */

static _Noreturn void usage(void)
{
    fprintf(stderr,
            "usage: persist_load -p PORT [-P pubs] [-S subs] [-w window] [-q 1|2] [-Q 1|2]\n"
            "                    [-s size] [-t seconds] [-d drain] [-T timeout] [-e pub-expiry]\n"
            "                    [-i id-prefix] [-m topic] [-k]\n"
            "  QoS 1/2 load on 127.0.0.1 to subscribers with persistent sessions;\n"
            "  see the comment at the top of bench/persist_load.c\n");
    exit(2);
}

static unsigned parse_uint(const char *arg, char opt, unsigned lo, unsigned hi)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (*arg == '\0' || *arg == '-' || *end != '\0' || errno != 0 || v < lo || v > hi) {
        fprintf(stderr, "persist_load: -%c must be an integer from %u to %u\n", opt, lo, hi);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    cfg.pubs = 4;
    cfg.subs = 1;
    cfg.window = 100;
    cfg.qos = 1;
    cfg.sub_qos = 1;
    cfg.size = 64;
    cfg.seconds = 5;
    cfg.drain = 10;
    cfg.prefix = "persist_load";
    const char *topic = NULL;
    bool have_timeout = false;

    int opt;
    while ((opt = getopt(argc, argv, "p:P:S:w:q:Q:s:t:d:T:e:i:m:kh")) != -1) {
        switch (opt) {
        case 'p':
            cfg.port = parse_uint(optarg, 'p', 1, 65535);
            break;
        case 'P':
            cfg.pubs = parse_uint(optarg, 'P', 1, MAX_PUBS);
            break;
        case 'S':
            cfg.subs = parse_uint(optarg, 'S', 1, MAX_SUBS);
            break;
        case 'w':
            cfg.window = parse_uint(optarg, 'w', 1, MAX_WINDOW);
            break;
        case 'q':
            cfg.qos = parse_uint(optarg, 'q', 1, 2);
            break;
        case 'Q':
            cfg.sub_qos = parse_uint(optarg, 'Q', 1, 2);
            break;
        case 's':
            cfg.size = parse_uint(optarg, 's', HEADER_LEN, 65536);
            break;
        case 't':
            cfg.seconds = parse_uint(optarg, 't', 1, 3600);
            break;
        case 'd':
            cfg.drain = parse_uint(optarg, 'd', 1, 600);
            break;
        case 'T':
            cfg.timeout = parse_uint(optarg, 'T', 1, 7200);
            have_timeout = true;
            break;
        case 'e':
            cfg.pub_expiry = parse_uint(optarg, 'e', 0, 86400);
            break;
        case 'i':
            cfg.prefix = optarg;
            break;
        case 'm':
            topic = optarg;
            break;
        case 'k':
            cfg.keep_session = true;
            break;
        default:
            usage();
        }
    }
    if (optind != argc || cfg.port == 0 || cfg.prefix[0] == '\0' || strlen(cfg.prefix) > 64) {
        usage();
    }
    if (!have_timeout) {
        cfg.timeout = SETUP_TIMEOUT_S + cfg.seconds + cfg.drain + 5u;
    }
    int tl = topic != NULL ? snprintf(cfg.topic, sizeof cfg.topic, "%s", topic)
                           : snprintf(cfg.topic, sizeof cfg.topic, "persist_load/%s", cfg.prefix);
    if (tl <= 0 || (size_t)tl >= sizeof cfg.topic || strpbrk(cfg.topic, "+#") != NULL) {
        fprintf(stderr, "persist_load: -m must be a topic name (no + or #) under 256 bytes\n");
        exit(2);
    }
    if ((unsigned long)cfg.pubs * cfg.window > 1000ul) {
        fprintf(stderr,
                "persist_load: note: up to %lu messages may be queued for a subscriber; "
                "both brokers limit a session's queue to 1000 messages by default\n",
                (unsigned long)cfg.pubs * cfg.window);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    alarm(cfg.timeout + 5u); /* a backstop: the loop checks the timeout itself */

    setvbuf(stdout, NULL, _IOLBF, 0);
    payload_buf = xcalloc(1, cfg.size);
    memset(payload_buf, 'x', cfg.size);

    nconns = cfg.pubs + cfg.subs;
    conns = xcalloc(nconns, sizeof *conns);
    for (unsigned i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->role = i < cfg.pubs ? ROLE_PUB : ROLE_SUB;
        c->index = c->role == ROLE_PUB ? i : i - cfg.pubs;
        c->fd = -1;
        snprintf(c->id, sizeof c->id, "%s-%s-%u", cfg.prefix, c->role == ROLE_PUB ? "pub" : "sub",
                 c->index);
        mqttproto_client_settings st;
        mqttproto_client_settings_default(&st);
        if (c->role == ROLE_PUB) {
            st.max_queued_messages = cfg.window + 16u;
            c->pub.remaining = xcalloc(cfg.window, sizeof *c->pub.remaining);
            c->pub.sent_ns = xcalloc(cfg.window, sizeof *c->pub.sent_ns);
            c->pub.pid_seq = xcalloc(65536, sizeof *c->pub.pid_seq);
        } else {
            st.receive_maximum = 65535;
            c->received = xcalloc(cfg.pubs, sizeof *c->received);
        }
        int r = mqttproto_client_create(&st, &c->client);
        if (r < 0) {
            fail("client_create: %s", mqttproto_strerror(r));
        }
    }

    run();

    uint64_t lost = 0;
    uint64_t unacked = 0;
    for (unsigned i = 0; i < cfg.pubs; i++) {
        struct pub_state *ps = &conns[i].pub;
        unacked += ps->next_seq - ps->acked;
        for (uint64_t seq = 0; seq < ps->next_seq; seq++) {
            if (!bitmap_test(&ps->acked_bits, seq)) {
                continue;
            }
            for (unsigned s = cfg.pubs; s < nconns; s++) {
                if (!bitmap_test(&conns[s].received[i], seq)) {
                    if (lost < 10) {
                        fprintf(stderr,
                                "persist_load: lost: message %" PRIu64 " of %s, never at %s\n", seq,
                                conns[i].id, conns[s].id);
                    }
                    lost++;
                }
            }
        }
    }
    qsort(lat_e2e.v, lat_e2e.n, sizeof *lat_e2e.v, cmp_u32);
    qsort(lat_ack.v, lat_ack.n, sizeof *lat_ack.v, cmp_u32);
    double secs = (double)(t_end - t_start) / 1e9;
    printf("persist_load qos=%u sub_qos=%u pubs=%u subs=%u window=%u size=%u seconds=%u "
           "acked_per_s=%.0f received_per_s=%.0f acked=%" PRIu64 " received=%" PRIu64
           " lost=%" PRIu64 " dup=%" PRIu64 " unacked=%" PRIu64 " p50_us=%" PRIu32
           " p99_us=%" PRIu32 " ack_p50_us=%" PRIu32 " ack_p99_us=%" PRIu32 "\n",
           cfg.qos, cfg.sub_qos, cfg.pubs, cfg.subs, cfg.window, cfg.size, cfg.seconds,
           (double)acked_window / secs, (double)received_window / secs, acked_window,
           received_window, lost, dup_count, unacked, percentile(&lat_e2e, 50),
           percentile(&lat_e2e, 99), percentile(&lat_ack, 50), percentile(&lat_ack, 99));

    bool bad = lost > 0 || unacked > 0 || (dup_count > 0 && cfg.qos == 2 && cfg.sub_qos == 2);
    for (unsigned i = 0; i < nconns; i++) {
        mqttproto_client_destroy(conns[i].client);
        free(conns[i].pub.remaining);
        free(conns[i].pub.sent_ns);
        free(conns[i].pub.pid_seq);
        free(conns[i].pub.acked_bits.bits);
        if (conns[i].received != NULL) {
            for (unsigned k = 0; k < cfg.pubs; k++) {
                free(conns[i].received[k].bits);
            }
            free(conns[i].received);
        }
    }
    free(conns);
    free(payload_buf);
    free(lat_e2e.v);
    free(lat_ack.v);
    if (bad) {
        fprintf(stderr,
                "persist_load: %" PRIu64 " lost, %" PRIu64 " duplicated, %" PRIu64
                " unacknowledged\n",
                lost, dup_count, unacked);
        return 3;
    }
    return 0;
}
