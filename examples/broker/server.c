#include "server.h"

#include "connection.h"
#include "log.h"
#include "persistence.h"
#include "tls_mem.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4096

uint64_t server_now(const struct server *s)
{
    return uv_now(s->loop) + s->clock_offset;
}

static void start_clock(struct server *s)
{
    uv_update_time(s->loop);
    struct timespec ts;
    uint64_t loop_ms = uv_now(s->loop);
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
        uint64_t wall = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        s->clock_offset = wall > loop_ms ? wall - loop_ms : 0;
    }
}

/* ---- flushing and the timer ---- */

void server_undirty(struct server *s, struct connection *c)
{
    if (!c->dirty) {
        return;
    }
    if (c->prev_dirty != NULL) {
        c->prev_dirty->next_dirty = c->next_dirty;
    } else {
        s->dirty = c->next_dirty;
    }
    if (c->next_dirty != NULL) {
        c->next_dirty->prev_dirty = c->prev_dirty;
    }
    c->dirty = false;
    c->prev_dirty = c->next_dirty = NULL;
}

static struct connection *conn_of_node(struct deadline_node *n)
{
    return (struct connection *)(void *)((char *)n - offsetof(struct connection, deadline));
}

static void on_timer(uv_timer_t *t);

static void arm_timer(struct server *s)
{
    if (s->finished) {
        return;
    }
    uint64_t due = mqttproto_broker_get_expiry(s->broker);
    struct deadline_node *top = deadline_heap_top(&s->deadlines);
    if (top != NULL && top->due < due) {
        due = top->due;
    }
    if (due == s->timer_due) {
        return;
    }
    s->timer_due = due;
    if (due == DEADLINE_NONE) {
        uv_timer_stop(&s->timer);
        return;
    }
    uint64_t now = server_now(s);
    uv_timer_start(&s->timer, on_timer, due > now ? due - now : 0, 0);
}

void server_flush_all(struct server *s)
{
    for (;;) {
        mqttproto_broker_client *mc;
        while (mqttproto_broker_next_writable(s->broker, &mc) == 1) {
            struct connection *c = mqttproto_broker_client_get_user_data(mc);
            if (c != NULL) {
                conn_mark_dirty(c);
            }
        }
        struct connection *c = s->dirty;
        if (c == NULL) {
            break;
        }
        server_undirty(s, c);
        conn_flush(c);
    }
    arm_timer(s);
}

static void on_timer(uv_timer_t *t)
{
    struct server *s = t->data;
    s->timer_due = DEADLINE_NONE;
    uint64_t now = server_now(s);
    if (mqttproto_broker_get_expiry(s->broker) <= now) {
        /* Session expiry and delayed wills. */
        (void)mqttproto_broker_handle_expiry(s->broker, now);
    }
    struct deadline_node *top;
    while ((top = deadline_heap_top(&s->deadlines)) != NULL && top->due <= now) {
        struct connection *c = conn_of_node(top);
        uint64_t actual = conn_deadline(c);
        if (actual > now) {
            (void)deadline_heap_set(&s->deadlines, top, actual); /* moved on meanwhile */
            continue;
        }
        deadline_heap_remove(&s->deadlines, top);
        conn_on_deadline(c, now);
        if (c->phase != CONN_CLOSING) {
            uint64_t next = conn_deadline(c);
            (void)deadline_heap_set(&s->deadlines, &c->deadline, next <= now ? now + 1 : next);
        }
    }
    server_flush_all(s);
}

static void on_before_poll(uv_prepare_t *p)
{
    struct server *s = p->data;
    server_flush_all(s);
    if (s->persist != NULL && !s->finished) {
        /* The group commit: what this iteration changed, then what it
           released. */
        persistence_before_poll(s->persist);
    }
    log_flush(); /* the loop may sleep now: the log is up to date */
}

/* ---- listeners ---- */

static void on_connection(uv_stream_t *stream, int status)
{
    struct listener *l = stream->data;
    if (status < 0) {
        log_warning("listener %s: %s", l->name, uv_strerror(status));
        return;
    }
    conn_accept(l);
}

static void free_listener(uv_handle_t *h)
{
    struct listener *l = h->data;
    free(l->unix_path);
    free(l);
}

static void close_listener(struct listener *l)
{
    if (l->unix_path != NULL) {
        unlink(l->unix_path);
    }
    if (l->initialized) {
        uv_close(&l->io.handle, free_listener);
    } else {
        free(l->unix_path);
        free(l);
    }
}

static void close_listeners(struct server *s)
{
    for (size_t i = 0; i < s->listener_count; i++) {
        close_listener(s->listeners[i]);
    }
    free(s->listeners);
    s->listeners = NULL;
    s->listener_count = 0;
}

static struct listener *new_listener(struct server *s, enum listen_kind kind)
{
    struct listener **v = realloc(s->listeners, (s->listener_count + 1) * sizeof *v);
    if (v == NULL) {
        return NULL;
    }
    s->listeners = v;
    struct listener *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return NULL;
    }
    l->server = s;
    l->kind = kind;
    v[s->listener_count++] = l;
    return l;
}

static bool bind_tcp(struct server *s, const struct listen_address *a)
{
    char port[8];
    snprintf(port, sizeof port, "%u", a->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(a->host, port, &hints, &res);
    if (g != 0) {
        log_error("cannot listen on %s: %s", a->text, gai_strerror(g));
        return false;
    }
    bool ok = true;
    for (struct addrinfo *ai = res; ai != NULL && ok; ai = ai->ai_next) {
        struct listener *l = new_listener(s, LISTEN_TCP);
        if (l == NULL) {
            log_error("out of memory");
            ok = false;
            break;
        }
        l->layers = a->layers;
        int e = uv_tcp_init(s->loop, &l->io.tcp);
        if (e == 0) {
            l->initialized = true;
            l->io.handle.data = l;
            /* An IPv6 address listens for IPv6 only: "[::]" and "0.0.0.0"
               are separate listeners. */
            e = uv_tcp_bind(&l->io.tcp, ai->ai_addr,
                            ai->ai_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
        }
        if (e == 0) {
            e = uv_listen(&l->io.stream, LISTEN_BACKLOG, on_connection);
        }
        if (e != 0) {
            log_error("cannot listen on %s: %s", a->text, uv_strerror(e));
            ok = false;
            break;
        }
        struct sockaddr_storage ss;
        int len = (int)sizeof ss;
        char host[64];
        static const char *const scheme[] = {"", "tls:", "ws:", "wss:"};
        const char *sch = scheme[l->layers];
        uv_tcp_getsockname(&l->io.tcp, (struct sockaddr *)&ss, &len);
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
            uv_ip6_name(v6, host, sizeof host);
            snprintf(l->name, sizeof l->name, "%s[%s]:%u", sch, host, ntohs(v6->sin6_port));
        } else {
            const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
            uv_ip4_name(v4, host, sizeof host);
            snprintf(l->name, sizeof l->name, "%s%s:%u", sch, host, ntohs(v4->sin_port));
        }
        log_info("listening on %s", l->name);
    }
    freeaddrinfo(res);
    return ok;
}

/* A socket file left by a broker that is gone is removed; one that a live
   server answers on, or a file that is not a socket, is an error. */
static bool clear_stale_socket(const char *path, const char *text)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return true;
    }
    if (!S_ISSOCK(st.st_mode)) {
        log_error("cannot listen on %s: %s exists and is not a socket", text, path);
        return false;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return true;
    }
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int r = connect(fd, (const struct sockaddr *)&sun, sizeof sun);
    int err = errno;
    close(fd);
    if (r == 0) {
        log_error("cannot listen on %s: another server answers on %s", text, path);
        return false;
    }
    if (err == ECONNREFUSED && unlink(path) == 0) {
        log_info("removed the stale socket %s", path);
    }
    return true;
}

static bool bind_unix(struct server *s, const struct listen_address *a)
{
    if (!clear_stale_socket(a->path, a->text)) {
        return false;
    }
    struct listener *l = new_listener(s, LISTEN_UNIX);
    if (l == NULL) {
        log_error("out of memory");
        return false;
    }
    int e = uv_pipe_init(s->loop, &l->io.pipe, 0);
    if (e == 0) {
        l->initialized = true;
        l->io.handle.data = l;
        e = uv_pipe_bind(&l->io.pipe, a->path);
    }
    if (e == 0) {
        l->unix_path = strdup(a->path);
        e = uv_listen(&l->io.stream, LISTEN_BACKLOG, on_connection);
    }
    if (e != 0) {
        log_error("cannot listen on %s: %s", a->text, uv_strerror(e));
        return false;
    }
    snprintf(l->name, sizeof l->name, "unix:%s", a->path);
    log_info("listening on %s", l->name);
    return true;
}

/* ---- shutdown ---- */

static void close_handle_if_open(uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

static void finish(struct server *s)
{
    if (s->finished) {
        return;
    }
    s->finished = true;
    close_handle_if_open((uv_handle_t *)&s->timer);
    close_handle_if_open((uv_handle_t *)&s->before_poll);
    close_handle_if_open((uv_handle_t *)&s->sigint);
    close_handle_if_open((uv_handle_t *)&s->sigterm);
    close_handle_if_open((uv_handle_t *)&s->shutdown_timer);
    if (s->persist != NULL) {
        persistence_close_handles(s->persist);
    }
}

void server_connection_freed(struct server *s, struct connection *c)
{
    server_undirty(s, c);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    if (s->shutting_down && s->conns == NULL) {
        finish(s);
    }
}

static void abort_all(struct server *s)
{
    for (struct connection *c = s->conns; c != NULL; c = c->next) {
        conn_set_reason(c, "the server is shutting down (shutdown_timeout)");
        conn_abort(c);
    }
}

void server_stop_now(struct server *s, int status)
{
    s->exit_status = status;
    if (!s->shutting_down) {
        s->shutting_down = true;
        close_listeners(s);
    }
    abort_all(s);
    if (s->conns == NULL) {
        finish(s);
    }
}

static void on_shutdown_timeout(uv_timer_t *t)
{
    struct server *s = t->data;
    log_warning("%zu connections still open after shutdown_timeout: closing them", s->conn_count);
    abort_all(s);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct server *s = sig->data;
    if (s->shutting_down) {
        log_info("%s again: closing every connection now", signum == SIGINT ? "SIGINT" : "SIGTERM");
        abort_all(s);
        return;
    }
    s->shutting_down = true;
    log_info("%s: shutting down, %zu connections to close", signum == SIGINT ? "SIGINT" : "SIGTERM",
             s->conn_count);
    close_listeners(s);
    for (struct connection *c = s->conns; c != NULL; c = c->next) {
        conn_server_shutdown(c);
    }
    if (s->conns == NULL) {
        finish(s);
        return;
    }
    uv_timer_start(&s->shutdown_timer, on_shutdown_timeout, s->config->shutdown_timeout_ms, 0);
}

/* ---- running ---- */

static void init_handles(struct server *s)
{
    uv_timer_init(s->loop, &s->timer);
    s->timer.data = s;
    uv_timer_init(s->loop, &s->shutdown_timer);
    s->shutdown_timer.data = s;
    uv_prepare_init(s->loop, &s->before_poll);
    s->before_poll.data = s;
    uv_signal_init(s->loop, &s->sigint);
    s->sigint.data = s;
    uv_signal_init(s->loop, &s->sigterm);
    s->sigterm.data = s;
}

/* One TLS context for every tls: and wss: listener. */
static bool setup_tls(struct server *s)
{
    const struct broker_config *cfg = s->config;
    bool wanted = false;
    for (size_t i = 0; i < cfg->listener_count; i++) {
        wanted = wanted || cfg->listeners[i].layers == LAYERS_TLS ||
                 cfg->listeners[i].layers == LAYERS_WSS;
    }
    if (!wanted) {
        return true;
    }
    tls_mem_config tc;
    memset(&tc, 0, sizeof tc);
    tc.role = TLS_MEM_SERVER;
    tc.cert_file = cfg->certfile;
    tc.key_file = cfg->keyfile;
    tc.ca_file = cfg->cafile;
    tc.require_client_cert = cfg->require_certificate;
    char err[512];
    s->tls_ctx = tls_mem_ctx_new(&tc, err, sizeof err);
    if (s->tls_ctx == NULL) {
        log_error("cannot set up TLS: %s", err);
        return false;
    }
    return true;
}

/* Returns 0, or the exit status of a failed start. */
static int start(struct server *s, struct store *store)
{
    mqttproto_broker_settings bs;
    config_broker_settings(s->config, &bs);
    bs.authorize_publish = s->has_authorizers;
    int e = mqttproto_broker_create(&bs, &s->broker);
    if (e != 0) {
        log_error("cannot create the broker: %s", mqttproto_strerror(e));
        return 1;
    }
    if (store != NULL) {
        /* Before any listener: no client may exist while restoring. */
        s->persist = calloc(1, sizeof *s->persist);
        if (s->persist == NULL) {
            log_error("out of memory");
            return 1;
        }
        if (!persistence_start(s->persist, s, store, server_now(s))) {
            return 2;
        }
    }
    if (!setup_tls(s)) {
        return 1;
    }
    for (size_t i = 0; i < s->config->listener_count; i++) {
        const struct listen_address *a = &s->config->listeners[i];
        if (!(a->kind == LISTEN_TCP ? bind_tcp(s, a) : bind_unix(s, a))) {
            return 1;
        }
    }
    if (uv_signal_start(&s->sigint, on_signal, SIGINT) != 0 ||
        uv_signal_start(&s->sigterm, on_signal, SIGTERM) != 0) {
        log_error("cannot install the signal handlers");
        return 1;
    }
    uv_prepare_start(&s->before_poll, on_before_poll);
    return 0;
}

int server_run(const struct broker_config *config, const struct auth_chain *auth,
               struct store *store)
{
    struct server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        log_error("out of memory");
        return 1;
    }
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        log_error("cannot create the event loop");
        free(s);
        return 1;
    }
    s->loop = &loop;
    s->config = config;
    s->auth = auth;
    s->auth_may_block = auth_chain_may_block(auth);
    s->has_authorizers = auth->authorizer_count > 0;
    s->timer_due = DEADLINE_NONE;
    deadline_heap_init(&s->deadlines);
    init_handles(s);
    start_clock(s);
    int status = start(s, store);
    if (status != 0) {
        /* Nothing was served: close what was opened and leave. */
        if (s->persist != NULL) {
            (void)mqttproto_broker_set_store(s->broker, NULL, NULL, false);
        }
        s->shutting_down = true;
        close_listeners(s);
        finish(s);
    } else {
        log_info("mqttproto-broker %s ready (libmqttproto %s, libuv %s)", MQTTPROTO_VERSION_STRING,
                 mqttproto_version_string(), uv_version_string());
        log_set_buffered(true);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    log_set_buffered(false);
    if (status == 0) {
        status = s->exit_status;
        /* The last records (sessions of the connections just closed). */
        if (s->persist != NULL && !persistence_stop(s->persist)) {
            status = 1;
        }
        log_info("stopped");
    }
    mqttproto_broker_destroy(s->broker);
    free(s->persist);
    if (s->tls_ctx != NULL) {
        tls_mem_ctx_free(s->tls_ctx);
    }
    deadline_heap_free(&s->deadlines);
    free(s->listeners);
    if (uv_loop_close(&loop) != 0) {
        log_warning("the event loop still had open handles at exit");
    }
    free(s);
    return status;
}
