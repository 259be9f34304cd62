/*
 * An MQTT 5 client over TCP, driven by a poll() loop: the program owns the
 * socket and the clock, libmqttproto owns the protocol.
 *
 * It connects, subscribes to <prefix>/#, publishes one message at QoS 0, 1
 * and 2 to <prefix>/qos0 .. <prefix>/qos2, waits until its own three
 * messages came back and the QoS 1 and 2 flows completed, unsubscribes and
 * disconnects. Every event is printed as one line; any failure ends the
 * program with a message on stderr and exit status 1 (2 for a usage error).
 *
 * Usage: client_demo [-h host] [-p port] [-t topic-prefix] [-i client-id]
 *                    [-k keepalive] [-q]
 */
#include <mqttproto/mqttproto.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* The whole exchange, TCP connect included, must finish within this. */
#define OVERALL_TIMEOUT_MS 10000u
#define READ_BUF_SIZE      4096

enum phase {
    PHASE_TCP,      /* waiting for the TCP connection */
    PHASE_CONNACK,  /* CONNECT queued */
    PHASE_SUBACK,   /* SUBSCRIBE queued */
    PHASE_EXCHANGE, /* the three messages published */
    PHASE_UNSUBACK, /* UNSUBSCRIBE queued */
    PHASE_CLOSING,  /* DISCONNECT queued; waiting for the server to close */
    PHASE_DONE
};

static const char *const phase_waits[] = {
    "the TCP connection",
    "CONNACK",
    "SUBACK",
    "the messages and their acknowledgements",
    "UNSUBACK",
    "the server to close the connection",
    "nothing",
};

struct demo {
    mqttproto_client *client;
    uint8_t protocol_version;
    int fd;
    bool quiet;
    enum phase phase;
    const char *host;
    const char *port;
    char *filter;    /* <prefix>/# */
    char *topics[3]; /* <prefix>/qos0 .. <prefix>/qos2 */
    char payloads[3][16];
    int32_t sub_pid;
    int32_t unsub_pid;
    int32_t pub_pid[3];
    bool received[3];
    bool completed[3]; /* [0] unused: QoS 0 has no acknowledgement */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void cleanup(struct demo *d)
{
    mqttproto_client_destroy(d->client);
    d->client = NULL;
    if (d->fd >= 0) {
        close(d->fd);
        d->fd = -1;
    }
    free(d->filter);
    d->filter = NULL;
    for (int q = 0; q < 3; q++) {
        free(d->topics[q]);
        d->topics[q] = NULL;
    }
}

static _Noreturn __attribute__((format(printf, 2, 3))) void fail(struct demo *d, const char *fmt,
                                                                 ...)
{
    va_list ap;
    fflush(stdout);
    fputs("client_demo: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cleanup(d);
    exit(1);
}

/* Fails with the library's name and message for error @p r. */
static void check(struct demo *d, ptrdiff_t r, const char *what)
{
    if (r < 0) {
        fail(d, "%s failed: %s (%s)", what, mqttproto_strerror((int)r), mqttproto_err_name((int)r));
    }
}

static __attribute__((format(printf, 2, 3))) void say(const struct demo *d, const char *fmt, ...)
{
    if (d->quiet) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* Writes a string from the wire, which may hold any byte, on one line. */
static void put_escaped(FILE *f, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c >= 0x21 && c < 0x7f && c != '\\') {
            fputc(c, f);
        } else {
            fprintf(f, "\\x%02x", c);
        }
    }
}

static bool str_eq(mqttproto_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.data, c, n) == 0);
}

/* ": <Reason String>" when the packet behind an event carried one, else "". */
static const char *reason_string(char *buf, size_t cap, const mqttproto_properties *props)
{
    buf[0] = '\0';
    if (!mqttproto_properties_has(props, MQTTPROTO_PROP_REASON_STRING)) {
        return buf;
    }
    FILE *f = fmemopen(buf, cap, "w");
    if (f == NULL) {
        return buf;
    }
    fputs(": ", f);
    put_escaped(f, props->reason_string.data, props->reason_string.len);
    fclose(f);
    return buf;
}

static char *join(struct demo *d, const char *prefix, const char *suffix)
{
    size_t a = strlen(prefix);
    size_t b = strlen(suffix);
    char *s = malloc(a + b + 1);
    if (s == NULL) {
        fail(d, "out of memory");
    }
    memcpy(s, prefix, a);
    memcpy(s + a, suffix, b + 1);
    return s;
}

/* ---- TCP ---- */

/* Non-blocking connect to each address of host:port in turn, until one
   answers or the deadline passes. */
static int tcp_connect(struct demo *d, uint64_t deadline)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    struct addrinfo *list = NULL;
    int g = getaddrinfo(d->host, d->port, &hints, &list);
    if (g != 0) {
        fail(d, "cannot resolve %s: %s", d->host, gai_strerror(g));
    }
    int last_err = 0;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            last_err = errno;
            continue;
        }
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
            last_err = errno;
            close(fd);
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(list);
            return fd;
        }
        if (errno != EINPROGRESS) {
            last_err = errno;
            close(fd);
            continue;
        }
        for (;;) {
            uint64_t now = now_ms();
            if (now >= deadline) {
                close(fd);
                freeaddrinfo(list);
                fail(d, "timed out after %u s waiting for %s", OVERALL_TIMEOUT_MS / 1000u,
                     phase_waits[PHASE_TCP]);
            }
            struct pollfd pfd = {.fd = fd, .events = POLLOUT, .revents = 0};
            int n = poll(&pfd, 1, (int)(deadline - now));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                last_err = errno;
                break;
            }
            if (n == 0) {
                continue;
            }
            int soerr = 0;
            socklen_t len = sizeof soerr;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
                soerr = errno;
            }
            if (soerr == 0) {
                freeaddrinfo(list);
                return fd;
            }
            last_err = soerr;
            break;
        }
        close(fd);
    }
    freeaddrinfo(list);
    fail(d, "cannot connect to %s port %s: %s", d->host, d->port,
         last_err != 0 ? strerror(last_err) : "no address");
}

/* Writes what the socket takes now; a partial write leaves the rest
   queued in the client for the next POLLOUT. */
static void write_outbound(struct demo *d)
{
    const uint8_t *data;
    size_t n = mqttproto_client_get_outbound_data(d->client, &data);
    while (n > 0) {
        ssize_t w = send(d->fd, data, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;
            }
            fail(d, "write to the server failed: %s", strerror(errno));
        }
        mqttproto_client_consume_outbound(d->client, (size_t)w);
        n = mqttproto_client_get_outbound_data(d->client, &data);
    }
}

/* ---- the exchange ---- */

static void publish_all(struct demo *d)
{
    for (int q = 0; q < 3; q++) {
        mqttproto_str topic = mqttproto_str_from_cstr(d->topics[q]);
        mqttproto_bin payload = mqttproto_bin_make(d->payloads[q], strlen(d->payloads[q]));
        int32_t pid =
            mqttproto_client_publish(d->client, topic, payload, (mqttproto_qos)q, false, NULL);
        check(d, pid, "publish");
        d->pub_pid[q] = pid;
        say(d, "publish pid=%" PRId32 " qos=%d topic=%s payload=%s", pid, q, d->topics[q],
            d->payloads[q]);
    }
    d->phase = PHASE_EXCHANGE;
}

static void subscribe_all(struct demo *d)
{
    mqttproto_subscription sub;
    memset(&sub, 0, sizeof sub);
    sub.topic_filter = mqttproto_str_from_cstr(d->filter);
    sub.max_qos = MQTTPROTO_QOS_EXACTLY_ONCE;
    /* Retain Handling exists from MQTT 5 on; the topics are fresh anyway. */
    if (d->protocol_version == MQTTPROTO_PROTOCOL_V5) {
        sub.retain_handling = MQTTPROTO_RETAIN_DO_NOT_SEND;
    }
    int32_t pid = mqttproto_client_subscribe(d->client, &sub, 1, NULL);
    check(d, pid, "subscribe");
    d->sub_pid = pid;
    say(d, "subscribe pid=%" PRId32 " filter=%s", pid, d->filter);
    d->phase = PHASE_SUBACK;
}

static void unsubscribe_all(struct demo *d)
{
    mqttproto_str filter = mqttproto_str_from_cstr(d->filter);
    int32_t pid = mqttproto_client_unsubscribe(d->client, &filter, 1, NULL);
    check(d, pid, "unsubscribe");
    d->unsub_pid = pid;
    say(d, "unsubscribe pid=%" PRId32 " filter=%s", pid, d->filter);
    d->phase = PHASE_UNSUBACK;
}

static int qos_of_pid(const struct demo *d, uint16_t pid)
{
    for (int q = 1; q < 3; q++) {
        if (d->pub_pid[q] == (int32_t)pid) {
            return q;
        }
    }
    return -1;
}

static void on_message(struct demo *d, const mqttproto_client_event *ev)
{
    if (!d->quiet) {
        printf("received topic=");
        put_escaped(stdout, ev->topic.data, ev->topic.len);
        printf(" qos=%d payload=", (int)ev->qos);
        put_escaped(stdout, (const char *)ev->payload.data, ev->payload.len);
        if (ev->dup) {
            printf(" dup=1");
        }
        putchar('\n');
    }
    for (int q = 0; q < 3; q++) {
        if (str_eq(ev->topic, d->topics[q])) {
            size_t n = strlen(d->payloads[q]);
            if ((int)ev->qos != q || ev->payload.len != n ||
                memcmp(ev->payload.data, d->payloads[q], n) != 0) {
                fail(d, "message on %s differs from the one published", d->topics[q]);
            }
            d->received[q] = true;
        }
    }
}

static void on_event(struct demo *d, const mqttproto_client_event *ev)
{
    char text[512];
    switch (ev->type) {
    case MQTTPROTO_CLIENT_EVENT_CONNECTED: {
        say(d, "connected session_present=%d", ev->session_present ? 1 : 0);
        mqttproto_client_server_info info = mqttproto_client_server(d->client);
        mqttproto_str id = mqttproto_client_client_id(d->client);
        if (!d->quiet) {
            printf("server client_id=");
            put_escaped(stdout, id.data, id.len);
            printf(" keep_alive=%u maximum_qos=%u receive_maximum=%u\n", info.keep_alive,
                   info.maximum_qos, info.receive_maximum);
        }
        subscribe_all(d);
        break;
    }
    case MQTTPROTO_CLIENT_EVENT_CONNECT_REFUSED:
        fail(d, "connection refused by the server: %s (0x%02x)%s",
             mqttproto_reason_code_name(ev->reason_code), ev->reason_code,
             reason_string(text, sizeof text, ev->properties));
    case MQTTPROTO_CLIENT_EVENT_AUTH:
        fail(d, "AUTH from the server, but this client asked for no authentication method");
    case MQTTPROTO_CLIENT_EVENT_MESSAGE:
        on_message(d, ev);
        break;
    case MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED: {
        int q = qos_of_pid(d, ev->packet_id);
        say(d, "published pid=%u qos=%d rc=0x%02x", ev->packet_id, q, ev->reason_code);
        if (q < 0) {
            fail(d, "completion for packet id %u, which was not published", ev->packet_id);
        }
        d->completed[q] = true;
        break;
    }
    case MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED:
        if (ev->error != 0) {
            fail(d, "publish pid=%u failed: %s (%s)", ev->packet_id, mqttproto_strerror(ev->error),
                 mqttproto_err_name(ev->error));
        }
        fail(d, "publish pid=%u refused by the server: %s (0x%02x)", ev->packet_id,
             mqttproto_reason_code_name(ev->reason_code), ev->reason_code);
    case MQTTPROTO_CLIENT_EVENT_SUBSCRIBE_ACK:
        for (size_t i = 0; i < ev->reason_code_count; i++) {
            say(d, "subscribed pid=%u rc=0x%02x", ev->packet_id, ev->reason_codes[i]);
        }
        if (ev->packet_id != d->sub_pid || ev->reason_code_count != 1) {
            fail(d, "SUBACK does not answer the SUBSCRIBE");
        }
        if (ev->reason_codes[0] >= 0x80) {
            fail(d, "subscription to %s refused: %s (0x%02x)", d->filter,
                 mqttproto_reason_code_name(ev->reason_codes[0]), ev->reason_codes[0]);
        }
        publish_all(d);
        break;
    case MQTTPROTO_CLIENT_EVENT_UNSUBSCRIBE_ACK:
        for (size_t i = 0; i < ev->reason_code_count; i++) {
            say(d, "unsubscribed pid=%u rc=0x%02x", ev->packet_id, ev->reason_codes[i]);
        }
        if (ev->reason_code_count == 0) {
            say(d, "unsubscribed pid=%u", ev->packet_id); /* before MQTT 5: no codes */
        }
        /* An MQTT 5 UNSUBACK has one code per filter; an older one none. */
        if (ev->packet_id != d->unsub_pid ||
            ev->reason_code_count != (d->protocol_version == MQTTPROTO_PROTOCOL_V5 ? 1u : 0u)) {
            fail(d, "UNSUBACK does not answer the UNSUBSCRIBE");
        }
        if (ev->reason_code_count > 0 && ev->reason_codes[0] >= 0x80) {
            fail(d, "unsubscribe from %s refused: %s (0x%02x)", d->filter,
                 mqttproto_reason_code_name(ev->reason_codes[0]), ev->reason_codes[0]);
        }
        check(d, mqttproto_client_disconnect(d->client, MQTTPROTO_RC_NORMAL_DISCONNECTION, NULL),
              "disconnect");
        say(d, "disconnect rc=0x00");
        d->phase = PHASE_CLOSING;
        break;
    case MQTTPROTO_CLIENT_EVENT_REQUEST_FAILED:
        fail(d, "request pid=%u failed: %s", ev->packet_id, mqttproto_strerror(ev->error));
    case MQTTPROTO_CLIENT_EVENT_DISCONNECTED:
        fail(d, "the server sent DISCONNECT: %s (0x%02x)%s",
             mqttproto_reason_code_name(ev->reason_code), ev->reason_code,
             reason_string(text, sizeof text, ev->properties));
    default:
        fail(d, "unknown event type %d", (int)ev->type);
    }

    if (d->phase == PHASE_EXCHANGE && d->received[0] && d->received[1] && d->received[2] &&
        d->completed[1] && d->completed[2]) {
        unsubscribe_all(d);
    }
}

/* Processes every queued event; returns how many there were. */
static size_t drain_events(struct demo *d)
{
    size_t count = 0;
    mqttproto_client_event ev;
    int r;
    while ((r = mqttproto_client_next_event(d->client, &ev)) == 1) {
        count++;
        on_event(d, &ev);
    }
    check(d, r, "next_event");
    return count;
}

/* The server broke the protocol: the client queued a DISCONNECT, which is
   sent if the socket takes it at once. */
static _Noreturn void protocol_error(struct demo *d, ptrdiff_t err)
{
    drain_events(d);
    write_outbound(d);
    fail(d, "protocol error from the server: %s (%s); sent DISCONNECT 0x%02x",
         mqttproto_strerror((int)err), mqttproto_err_name((int)err),
         mqttproto_err_reason_code((int)err));
}

static void read_input(struct demo *d)
{
    uint8_t buf[READ_BUF_SIZE];
    ssize_t r = recv(d->fd, buf, sizeof buf, 0);
    if (r < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        }
        fail(d, "read from the server failed: %s (while waiting for %s)", strerror(errno),
             phase_waits[d->phase]);
    }
    if (r == 0) {
        if (d->phase == PHASE_CLOSING) {
            say(d, "disconnected");
            d->phase = PHASE_DONE;
            return;
        }
        fail(d, "the server closed the connection while we were waiting for %s",
             phase_waits[d->phase]);
    }
    size_t off = 0;
    while (off < (size_t)r && d->phase != PHASE_CLOSING) {
        ptrdiff_t taken =
            mqttproto_client_feed_bytes(d->client, buf + off, (size_t)r - off, now_ms());
        if (taken < 0) {
            protocol_error(d, taken);
        }
        off += (size_t)taken;
        /* Fewer bytes are taken only while events hold the input buffer;
           draining them makes room for the rest. */
        if (drain_events(d) == 0 && taken == 0) {
            fail(d, "the client took no input and reported no event");
        }
    }
    /* After our DISCONNECT the rest of the input is of no interest. */
}

static void run(struct demo *d, uint64_t deadline, uint16_t keep_alive, const char *client_id,
                uint8_t protocol_version)
{
    d->fd = tcp_connect(d, deadline);
    say(d, "tcp connected host=%s port=%s", d->host, d->port);

    mqttproto_connect_options opts;
    mqttproto_connect_options_default(&opts);
    opts.client_id = mqttproto_str_from_cstr(client_id);
    opts.keep_alive = keep_alive;
    opts.protocol_version = protocol_version;
    d->protocol_version = protocol_version;
    check(d, mqttproto_client_connect(d->client, &opts, now_ms()), "connect");
    d->phase = PHASE_CONNACK;

    bool shut = false;
    while (d->phase != PHASE_DONE) {
        uint64_t now = now_ms();
        if (now >= deadline) {
            fail(d, "timed out after %u s waiting for %s", OVERALL_TIMEOUT_MS / 1000u,
                 phase_waits[d->phase]);
        }
        mqttproto_client_state st = mqttproto_client_get_state(d->client);
        uint64_t expiry = UINT64_MAX;
        if (st == MQTTPROTO_CLIENT_CONNECTING || st == MQTTPROTO_CLIENT_CONNECTED) {
            expiry = mqttproto_client_get_expiry(d->client);
            if (now >= expiry) {
                int e = mqttproto_client_handle_expiry(d->client, now);
                if (e == MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT) {
                    fail(d, "no PINGRESP from the server within the keep-alive timeout");
                }
                check(d, e, "handle_expiry");
                expiry = mqttproto_client_get_expiry(d->client);
            }
        }

        write_outbound(d);
        const uint8_t *pending_data;
        bool pending = mqttproto_client_get_outbound_data(d->client, &pending_data) > 0;
        if (d->phase == PHASE_CLOSING && !pending && !shut) {
            /* The DISCONNECT is out; the server closes its side in turn. */
            shutdown(d->fd, SHUT_WR);
            shut = true;
        }

        uint64_t wake = expiry < deadline ? expiry : deadline;
        int timeout = wake > now ? (int)(wake - now) : 0;
        struct pollfd pfd = {
            .fd = d->fd, .events = (short)(POLLIN | (pending ? POLLOUT : 0)), .revents = 0};
        int n = poll(&pfd, 1, timeout);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail(d, "poll failed: %s", strerror(errno));
        }
        if (n > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            read_input(d);
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: client_demo [-h host] [-p port] [-t topic-prefix] [-i client-id] "
                    "[-k keepalive] [-V 3|4|5] [-q]\n"
                    "  -V  MQTT protocol level: 5 (default), 4 (3.1.1) or 3 (3.1)\n");
    exit(2);
}

static unsigned long parse_number(const char *arg, const char *what, unsigned long lo,
                                  unsigned long hi)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
        fprintf(stderr, "client_demo: %s must be an integer from %lu to %lu\n", what, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    struct demo d;
    memset(&d, 0, sizeof d);
    d.fd = -1;
    d.host = "127.0.0.1";
    d.port = "1883";
    const char *prefix = "mqttproto/demo";
    const char *client_id = ""; /* the server assigns one */
    unsigned long keep_alive = 60;
    unsigned long protocol_version = MQTTPROTO_PROTOCOL_V5;

    int opt;
    while ((opt = getopt(argc, argv, "h:p:t:i:k:V:q")) != -1) {
        switch (opt) {
        case 'h':
            d.host = optarg;
            break;
        case 'p':
            parse_number(optarg, "port", 1, 65535);
            d.port = optarg;
            break;
        case 't':
            prefix = optarg;
            break;
        case 'i':
            client_id = optarg;
            break;
        case 'k':
            keep_alive = parse_number(optarg, "keepalive", 0, 65535);
            break;
        case 'V':
            protocol_version = parse_number(optarg, "protocol level", 3, 5);
            break;
        case 'q':
            d.quiet = true;
            break;
        default:
            usage();
        }
    }
    if (optind != argc || prefix[0] == '\0') {
        usage();
    }
    /* Line by line, so that output and errors interleave in order. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    uint64_t deadline = now_ms() + OVERALL_TIMEOUT_MS;
    d.filter = join(&d, prefix, "/#");
    for (int q = 0; q < 3; q++) {
        char suffix[8];
        snprintf(suffix, sizeof suffix, "/qos%d", q);
        d.topics[q] = join(&d, prefix, suffix);
        snprintf(d.payloads[q], sizeof d.payloads[q], "hello-qos%d", q);
    }

    check(&d, mqttproto_client_create(NULL, &d.client), "client_create");
    run(&d, deadline, (uint16_t)keep_alive, client_id, (uint8_t)protocol_version);
    cleanup(&d);
    return 0;
}
