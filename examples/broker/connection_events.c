/*
 * The library's events on one connection and the decisions they ask for:
 * CONNECT through the authenticator chain (and the will through the
 * authorizers), SUBSCRIBE and PUBLISH through the authorizer chain.
 */
#include "connection.h"

#include "connect_request.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mqttproto_str no_str(void)
{
    mqttproto_str s = {NULL, 0};
    return s;
}

/* A deny verdict's code, or 0x87 when it is not one @p packet_type carries. */
static uint8_t refusal_code(struct auth_result r, int packet_type)
{
    if (r.reason_code >= 0x80 && mqttproto_reason_code_allowed(r.reason_code, packet_type)) {
        return r.reason_code;
    }
    return MQTTPROTO_RC_NOT_AUTHORIZED;
}

/* ---- CONNECT ---- */

static void on_connect(struct connection *c, const mqttproto_broker_event *ev)
{
    struct server *s = c->server;
    c->has_username = ev->has_username;
    /* The keep alive in force: the library imposes max_keep_alive on
       clients asking for more or for none (Server Keep Alive). */
    uint16_t max_ka = s->config->max_keep_alive;
    c->keep_alive =
        max_ka > 0 && (ev->keep_alive == 0 || ev->keep_alive > max_ka) ? max_ka : ev->keep_alive;
    if (mqttproto_properties_has(ev->properties, MQTTPROTO_PROP_AUTHENTICATION_METHOD)) {
        /* No enhanced authentication method is offered [MQTT-4.12.0-1]. */
        const mqttproto_str m = ev->properties->authentication_method;
        log_info("connection from %s refused: authentication method '%.*s' is not supported",
                 c->info.peer, (int)m.len, m.data);
        conn_set_reason(c, "refused: unsupported authentication method");
        (void)mqttproto_broker_client_acknowledge_connect(
            c->mc, MQTTPROTO_RC_BAD_AUTHENTICATION_METHOD, no_str(), NULL, server_now(s));
        conn_mark_dirty(c);
        return;
    }
    mqttproto_broker_event as_identity;
    if (s->config->use_identity_as_username && c->tls != NULL) {
        /* The certificate's CN is the user name the chains see. */
        if (c->info.tls_identity == NULL) {
            log_info("connection from %s refused: no client certificate to take the user "
                     "name from (use_identity_as_username)",
                     c->info.peer);
            conn_set_reason(c, "refused: no client certificate");
            (void)mqttproto_broker_client_acknowledge_connect(c->mc, MQTTPROTO_RC_NOT_AUTHORIZED,
                                                              no_str(), NULL, server_now(s));
            conn_mark_dirty(c);
            return;
        }
        as_identity = *ev;
        as_identity.has_username = true;
        as_identity.username = (mqttproto_str){c->info.tls_identity, strlen(c->info.tls_identity)};
        ev = &as_identity;
        c->has_username = true;
        c->identity_user = c->info.tls_identity;
    }
    struct connect_request *r = connect_request_new(ev, &c->info, s->auth);
    if (r == NULL) {
        conn_set_reason(c, "out of memory for its CONNECT");
        conn_abort(c);
        return;
    }
    if (s->auth_may_block) {
        r->conn = c;
        int e = connect_request_queue(r, s->loop);
        if (e == 0) {
            c->auth_job = r;
            return;
        }
        log_error("cannot queue the authentication of %s: %s", c->info.peer, uv_strerror(e));
        r->conn = NULL;
    }
    connect_request_authenticate(r);
    conn_connect_decided(c, r);
    connect_request_free(r);
}

void conn_connect_decided(struct connection *c, const struct connect_request *req)
{
    struct server *s = c->server;
    if (c->mc == NULL ||
        mqttproto_broker_client_get_state(c->mc) != MQTTPROTO_BROKER_CLIENT_AUTHENTICATING) {
        conn_mark_dirty(c); /* e.g. the CONNECT timeout ran out meanwhile */
        return;
    }
    struct auth_result r = req->result;
    const char *what = "authentication";
    if (r.verdict == AUTH_ALLOW && req->has_will && s->has_authorizers) {
        struct auth_request a;
        memset(&a, 0, sizeof a);
        a.topic = req->will_topic;
        a.qos = req->will_qos;
        a.retain = req->will_retain;
        a.is_will = true;
        a.client_id = req->client_id;
        a.has_username = req->has_username;
        a.username = req->username;
        a.conn = &c->info;
        struct auth_result w = auth_chain_authorize_publish(s->auth, &a);
        if (w.verdict == AUTH_DENY) {
            r = w;
            what = "the will topic";
        }
    }
    uint8_t rc =
        r.verdict == AUTH_ALLOW ? MQTTPROTO_RC_SUCCESS : refusal_code(r, MQTTPROTO_PACKET_CONNACK);
    int e = mqttproto_broker_client_acknowledge_connect(c->mc, rc, no_str(), NULL, server_now(s));
    if (e != 0) {
        conn_set_reason(c, "cannot answer its CONNECT: %s", mqttproto_strerror(e));
        conn_abort(c);
        return;
    }
    int uid_len = (int)req->username.len;
    if (rc == MQTTPROTO_RC_SUCCESS) {
        c->connected = true;
        mqttproto_str id = mqttproto_broker_client_client_id(c->mc);
        log_info("client %.*s connected from %s%s%.*s (keep alive %u s%s)", (int)id.len, id.data,
                 c->info.peer, req->has_username ? " as user " : "", uid_len, req->username.data,
                 c->keep_alive, req->clean_start ? ", clean start" : "");
    } else {
        log_info("connection from %s (client id '%.*s'%s%.*s) refused by %s: %s (0x%02x)",
                 c->info.peer, (int)req->client_id.len, req->client_id.data,
                 req->has_username ? ", user " : "", uid_len, req->username.data, what,
                 mqttproto_reason_code_name(rc), rc);
        conn_set_reason(c, "CONNECT refused: %s (0x%02x)", mqttproto_reason_code_name(rc), rc);
    }
    conn_mark_dirty(c);
    conn_schedule(c);
}

/* ---- SUBSCRIBE ---- */

static void fill_identity(const struct connection *c, struct auth_request *a)
{
    a->client_id = mqttproto_broker_client_client_id(c->mc);
    a->has_username = c->has_username;
    a->username = c->identity_user != NULL
                      ? (mqttproto_str){c->identity_user, strlen(c->identity_user)}
                      : mqttproto_broker_client_username(c->mc);
    a->conn = &c->info;
}

static void on_subscribe(struct connection *c, const mqttproto_broker_event *ev)
{
    struct server *s = c->server;
    size_t count = ev->subscriptions->count;
    uint8_t local[64];
    uint8_t *codes = count <= sizeof local ? local : malloc(count);
    if (codes == NULL) {
        conn_set_reason(c, "out of memory for its SUBSCRIBE");
        conn_abort(c);
        return;
    }
    char label[256];
    size_t cursor = 0, i = 0;
    mqttproto_subscription sub;
    while (i < count && mqttproto_subscriptions_next(ev->subscriptions, &cursor, &sub)) {
        codes[i] = MQTTPROTO_RC_GRANTED_QOS_2; /* the library lowers it to what was asked */
        if (s->has_authorizers) {
            struct auth_request a;
            memset(&a, 0, sizeof a);
            mqttproto_str group, inner;
            if (mqttproto_shared_filter_parse(sub.topic_filter, &group, &inner) == 1) {
                a.share_group = group;
            }
            a.topic = inner;
            a.qos = sub.max_qos;
            fill_identity(c, &a);
            struct auth_result r = auth_chain_authorize_subscribe(s->auth, &a);
            if (r.verdict == AUTH_DENY) {
                codes[i] = refusal_code(r, MQTTPROTO_PACKET_SUBACK);
                log_info("%s: subscription to %.*s refused: %s (0x%02x)",
                         conn_label(c, label, sizeof label), (int)sub.topic_filter.len,
                         sub.topic_filter.data, mqttproto_reason_code_name(codes[i]), codes[i]);
            } else if (r.verdict == AUTH_ALLOW && r.reason_code < codes[i]) {
                codes[i] = r.reason_code;
            }
        }
        log_debug("%s: subscribe %.*s (maximum QoS %d)", conn_label(c, label, sizeof label),
                  (int)sub.topic_filter.len, sub.topic_filter.data, (int)sub.max_qos);
        i++;
    }
    int e = mqttproto_broker_client_acknowledge_subscribe(c->mc, ev->packet_id, codes, i);
    if (codes != local) {
        free(codes);
    }
    if (e != 0) {
        conn_set_reason(c, "cannot answer its SUBSCRIBE: %s", mqttproto_strerror(e));
        conn_abort(c);
    }
}

/* ---- PUBLISH ---- */

static void on_publish(struct connection *c, const mqttproto_broker_event *ev)
{
    struct server *s = c->server;
    char label[256];
    log_debug("%s: publish %.*s (QoS %d%s, %zu bytes)", conn_label(c, label, sizeof label),
              (int)ev->topic.len, ev->topic.data, (int)ev->qos, ev->retain ? ", retained" : "",
              ev->payload.len);
    if (!s->has_authorizers || ev->reason_code != 0) {
        return; /* routed on arrival, or refused by the library (topic levels) */
    }
    struct auth_request a;
    memset(&a, 0, sizeof a);
    a.topic = ev->topic;
    a.qos = ev->qos;
    a.retain = ev->retain;
    fill_identity(c, &a);
    struct auth_result r = auth_chain_authorize_publish(s->auth, &a);
    uint8_t rc = MQTTPROTO_RC_SUCCESS;
    if (r.verdict == AUTH_DENY) {
        rc = refusal_code(r, MQTTPROTO_PACKET_PUBACK);
        log_info("%s: publish to %.*s refused: %s (0x%02x)%s", conn_label(c, label, sizeof label),
                 (int)ev->topic.len, ev->topic.data, mqttproto_reason_code_name(rc), rc,
                 ev->qos == MQTTPROTO_QOS_AT_MOST_ONCE ? ", dropped" : "");
    }
    int e = mqttproto_broker_client_authorize_publish(c->mc, ev->ticket, rc, server_now(s));
    if (e != 0) {
        conn_set_reason(c, "cannot decide on its PUBLISH: %s", mqttproto_strerror(e));
        conn_abort(c);
    }
}

/* ---- the rest ---- */

static void on_event(struct connection *c, const mqttproto_broker_event *ev)
{
    char label[256];
    switch (ev->type) {
    case MQTTPROTO_BROKER_EVENT_CONNECT:
        on_connect(c, ev);
        break;
    case MQTTPROTO_BROKER_EVENT_SUBSCRIBE:
        on_subscribe(c, ev);
        break;
    case MQTTPROTO_BROKER_EVENT_PUBLISH:
        on_publish(c, ev);
        break;
    case MQTTPROTO_BROKER_EVENT_UNSUBSCRIBE:
        log_debug("%s: unsubscribe (%zu filters)", conn_label(c, label, sizeof label),
                  ev->reason_code_count);
        break;
    case MQTTPROTO_BROKER_EVENT_DISCONNECTED:
        conn_set_reason(c, "it sent DISCONNECT: %s (0x%02x)",
                        ev->reason_code == 0 ? "normal disconnection"
                                             : mqttproto_reason_code_name(ev->reason_code),
                        ev->reason_code);
        conn_mark_dirty(c);
        break;
    case MQTTPROTO_BROKER_EVENT_TAKEN_OVER:
        conn_set_reason(c, "a new connection took its session over (DISCONNECT 0x8E)");
        conn_mark_dirty(c);
        break;
    case MQTTPROTO_BROKER_EVENT_AUTH:
        /* Only with an authentication method, which CONNECT refuses. */
        log_debug("%s: unexpected AUTH", conn_label(c, label, sizeof label));
        break;
    }
}

size_t conn_drain_events(struct connection *c)
{
    size_t n = 0;
    mqttproto_broker_event ev;
    while (c->mc != NULL && c->phase != CONN_CLOSING &&
           mqttproto_broker_client_next_event(c->mc, &ev) == 1) {
        n++;
        on_event(c, &ev);
    }
    return n;
}
