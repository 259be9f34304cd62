/*
 * The client role: lifecycle, CONNECT/CONNACK, the byte interface, events,
 * keep alive, enhanced authentication and DISCONNECT. Publishing lives in
 * client_publish.c, subscriptions in client_subscribe.c.
 */
#include "client_internal.h"
#include "codec_internal.h"

#include <string.h>

#define DEFAULT_MAXIMUM_PACKET_SIZE (1024u * 1024u)
#define MIN_MAXIMUM_PACKET_SIZE     16u

void mqttproto_client_settings_default(mqttproto_client_settings *s)
{
    if (s == NULL) {
        return;
    }
    memset(s, 0, sizeof *s);
    s->version = MQTTPROTO_CLIENT_SETTINGS_VERSION;
    s->maximum_packet_size = DEFAULT_MAXIMUM_PACKET_SIZE;
    s->receive_maximum = 64;
    s->topic_alias_maximum = 16;
    s->outbound_topic_alias_maximum = 16;
    s->max_queued_messages = 1000;
    s->max_queued_bytes = 16u * 1024u * 1024u;
    s->max_user_properties = 256;
}

void mqttproto_connect_options_default(mqttproto_connect_options *o)
{
    if (o == NULL) {
        return;
    }
    memset(o, 0, sizeof *o);
    o->version = MQTTPROTO_CONNECT_OPTIONS_VERSION;
    o->protocol_version = MQTTPROTO_PROTOCOL_V5;
    o->clean_start = true;
    o->keep_alive = 60;
    o->topic_alias_maximum = -1;
    o->request_problem_information = true;
}

const char *mqttproto_client_state_name(int state)
{
    static const char *const names[] = {"DISCONNECTED", "CONNECTING", "CONNECTED", "FAILED"};
    return state >= 0 && state < 4 ? names[state] : "UNKNOWN";
}

const char *mqttproto_client_event_type_name(int type)
{
    static const char *const names[] = {NULL,
                                        "CONNECTED",
                                        "CONNECT_REFUSED",
                                        "AUTH",
                                        "MESSAGE",
                                        "PUBLISH_COMPLETED",
                                        "PUBLISH_FAILED",
                                        "SUBSCRIBE_ACK",
                                        "UNSUBSCRIBE_ACK",
                                        "REQUEST_FAILED",
                                        "DISCONNECTED"};
    return type >= 1 && type <= 10 ? names[type] : "UNKNOWN";
}

static void server_defaults(mqttproto_client_server_info *s, uint16_t keep_alive)
{
    s->maximum_qos = 2;
    s->retain_available = true;
    s->wildcard_subscription_available = true;
    s->subscription_identifier_available = true;
    s->shared_subscription_available = true;
    s->receive_maximum = 65535;
    s->maximum_packet_size = MQTTPROTO_MAX_PACKET_SIZE;
    s->topic_alias_maximum = 0;
    s->keep_alive = keep_alive;
}

int mqttproto_client_create(const mqttproto_client_settings *settings, mqttproto_client **out)
{
    if (out == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    mqttproto_client_settings s;
    if (settings == NULL) {
        mqttproto_client_settings_default(&s);
    } else {
        s = *settings;
    }
    if (s.version != MQTTPROTO_CLIENT_SETTINGS_VERSION || s.receive_maximum == 0 ||
        s.maximum_packet_size < MIN_MAXIMUM_PACKET_SIZE) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    mqttproto_mem mem;
    mqttproto_mem_resolve(s.mem, &mem);
    mqttproto_client *c = mem_alloc(&mem, sizeof *c);
    if (c == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memset(c, 0, sizeof *c);
    c->mem = mem;
    c->settings = s;
    c->settings.mem = NULL; /* copied into c->mem */
    mqttproto_codec_options_default(&c->in_opts);
    c->in_opts.maximum_packet_size = s.maximum_packet_size;
    c->in_opts.max_user_properties = s.max_user_properties;
    mqttproto_codec_options_default(&c->out_opts);
    c->protocol_version = MQTTPROTO_PROTOCOL_V5;
    mqttproto_properties_init(&c->no_props);
    server_defaults(&c->server, 0);
    c->next_id = 1;
    c->state = MQTTPROTO_CLIENT_DISCONNECTED;
    *out = c;
    return 0;
}

void mqttproto_client_destroy(mqttproto_client *c)
{
    if (c == NULL) {
        return;
    }
    const mqttproto_mem *m = &c->mem;
    client_requests_free(c);
    client_out_free(c);
    client_in_reset_aliases(c);
    mem_free(m, c->in_aliases);
    mem_free(m, c->in_alias_lens);
    idmap_free(&c->ids, m);
    strmap_free(&c->out_aliases, m);
    strmap_free(&c->subs, m);
    bytebuf_free(&c->in, m);
    bytebuf_free(&c->out, m);
    bytebuf_free(&c->arena, m);
    mem_free(m, c->evs);
    mem_free(m, c->client_id);
    mem_free(m, c->auth_method);
    mem_free(m, c);
}

/* ---- events ---- */

int client_reserve_events(mqttproto_client *c, size_t n)
{
    if (c->ev_cap - c->ev_count >= n) {
        return 0;
    }
    /* A power of two: ring positions are masked, not divided. */
    size_t cap = c->ev_cap < 8 ? 8 : c->ev_cap;
    while (cap - c->ev_count < n) {
        cap *= 2;
    }
    struct ev_rec *evs = mem_alloc(&c->mem, cap * sizeof *evs);
    if (evs == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    /* Unroll the ring into the new array. */
    for (size_t i = 0; i < c->ev_count; i++) {
        evs[i] = c->evs[(c->ev_head + i) & (c->ev_cap - 1)];
    }
    mem_free(&c->mem, c->evs);
    c->evs = evs;
    c->ev_cap = cap;
    c->ev_head = 0;
    return 0;
}

int client_push_event(mqttproto_client *c, const struct ev_rec *ev)
{
    if (client_reserve_events(c, 1) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    struct ev_rec *slot = &c->evs[(c->ev_head + c->ev_count) & (c->ev_cap - 1)];
    *slot = *ev;
    slot->protocol_version = c->in_opts.protocol_version;
    c->ev_count++;
    return 0;
}

/* Once no event holds them, input bytes already processed and arena copies
   can go. */
static void release_event_memory(mqttproto_client *c)
{
    if (c->ev_count != 0) {
        return;
    }
    bytebuf_clear(&c->arena);
    if (c->parsed > 0) {
        bytebuf_consume(&c->in, c->parsed);
        c->parsed = 0;
    }
}

int mqttproto_client_next_event(mqttproto_client *c, mqttproto_client_event *ev)
{
    if (c == NULL || ev == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    memset(ev, 0, sizeof *ev);
    ev->properties = &c->no_props;
    if (c->ev_count == 0) {
        release_event_memory(c);
        return 0;
    }
    struct ev_rec r = c->evs[c->ev_head];
    c->ev_head = (c->ev_head + 1) & (c->ev_cap - 1);
    c->ev_count--;
    ev->type = (mqttproto_client_event_type)r.type;
    ev->packet_id = r.packet_id;
    ev->reason_code = r.reason_code;
    ev->error = r.error;
    ev->session_present = r.session_present;
    if (r.pkt_len == 0) {
        return 1;
    }
    /* The packet was validated when it arrived: decoding it again from the
       input buffer cannot fail, and keeps every view in place. It may have
       come on an earlier connection, under a larger Maximum Packet Size than
       the one in force now: only the settings' limit applies here. */
    mqttproto_codec_options opts = c->in_opts;
    opts.maximum_packet_size = c->settings.maximum_packet_size;
    opts.protocol_version = r.protocol_version; /* also from an earlier connection */
    ptrdiff_t n = mqttproto_decode(bytebuf_data(&c->in) + r.pkt_off, r.pkt_len, &opts, &c->ev_pkt);
    if (n <= 0) {
        return 1;
    }
    const mqttproto_packet *p = &c->ev_pkt;
    switch (p->type) {
    case MQTTPROTO_PACKET_PUBLISH:
        ev->topic = p->publish.topic;
        if (r.topic_off != SIZE_MAX) {
            ev->topic.data = (const char *)c->arena.data + r.topic_off;
            ev->topic.len = r.topic_len;
        }
        ev->payload = p->publish.payload;
        ev->qos = p->publish.qos;
        ev->retain = p->publish.retain;
        ev->dup = p->publish.dup;
        ev->properties = &p->publish.properties;
        break;
    case MQTTPROTO_PACKET_SUBACK:
    case MQTTPROTO_PACKET_UNSUBACK:
        ev->reason_codes = p->suback.reason_codes;
        ev->reason_code_count = p->suback.reason_code_count;
        ev->properties = &p->suback.properties;
        break;
    case MQTTPROTO_PACKET_CONNACK:
        ev->properties = &p->connack.properties;
        break;
    case MQTTPROTO_PACKET_PUBACK:
    case MQTTPROTO_PACKET_PUBREC:
    case MQTTPROTO_PACKET_PUBCOMP:
        ev->properties = &p->puback.properties;
        break;
    case MQTTPROTO_PACKET_DISCONNECT:
    case MQTTPROTO_PACKET_AUTH:
        ev->properties = &p->disconnect.properties;
        break;
    default:
        break;
    }
    return 1;
}

/* ---- outbound bytes ---- */

/* Leave out what the receiver may do without when a packet is over its
   Maximum Packet Size. */
static void strip_optional(mqttproto_properties *p)
{
    p->present &= ~(MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_REASON_STRING) |
                    MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_USER_PROPERTY));
    p->reason_string.len = 0;
    p->user_properties = NULL;
    p->user_property_count = 0;
    p->wire.data = NULL;
    p->wire.len = 0;
}

int client_write_packet(mqttproto_client *c, const mqttproto_packet *pkt)
{
    ptrdiff_t size = mqttproto_encoded_size(pkt, &c->out_opts);
    mqttproto_packet trimmed;
    if (size == MQTTPROTO_ERR_PACKET_TOO_LARGE) {
        trimmed = *pkt;
        switch (pkt->type) {
        case MQTTPROTO_PACKET_DISCONNECT:
        case MQTTPROTO_PACKET_AUTH:
            /* [MQTT-3.14.2-3] [MQTT-3.14.2-4] [MQTT-3.15.2-2] [MQTT-3.15.2-3] */
            strip_optional(&trimmed.disconnect.properties);
            break;
        default:
            return MQTTPROTO_ERR_PACKET_TOO_LARGE;
        }
        pkt = &trimmed;
        size = mqttproto_encoded_size(pkt, &c->out_opts);
    }
    if (size < 0) {
        return (int)size;
    }
    uint8_t *dst = bytebuf_reserve(&c->out, &c->mem, (size_t)size);
    if (dst == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    ptrdiff_t n = mqttproto_encode(pkt, &c->out_opts, dst, (size_t)size);
    if (n < 0) {
        return (int)n;
    }
    bytebuf_commit(&c->out, (size_t)n);
    return 0;
}

size_t mqttproto_client_get_outbound_data(mqttproto_client *c, const uint8_t **data)
{
    if (c == NULL) {
        if (data != NULL) {
            *data = NULL;
        }
        return 0;
    }
    if (c->state == MQTTPROTO_CLIENT_CONNECTED) {
        /* [MQTT-3.1.2-30] nothing but AUTH before CONNACK */
        client_out_pump(c);
    }
    size_t n = bytebuf_size(&c->out);
    if (data != NULL) {
        *data = n == 0 ? NULL : bytebuf_data(&c->out);
    }
    return n;
}

void mqttproto_client_consume_outbound(mqttproto_client *c, size_t n)
{
    if (c == NULL || n == 0) {
        return;
    }
    bytebuf_consume(&c->out, n);
    /* The application gives no clock here: the latest time it gave is never
       later than the real one, so keep alive errs on the early side. */
    c->last_send_ms = c->now_ms;
}

size_t mqttproto_client_copy_outbound(mqttproto_client *c, uint8_t *buf, size_t cap)
{
    const uint8_t *data;
    size_t n = mqttproto_client_get_outbound_data(c, &data);
    if (buf == NULL || n == 0) {
        return 0;
    }
    if (n > cap) {
        n = cap;
    }
    memcpy(buf, data, n);
    mqttproto_client_consume_outbound(c, n);
    return n;
}

/* ---- state ---- */

mqttproto_client_state mqttproto_client_get_state(const mqttproto_client *c)
{
    return c == NULL ? MQTTPROTO_CLIENT_DISCONNECTED : c->state;
}

int mqttproto_client_error(const mqttproto_client *c)
{
    return c == NULL || c->state != MQTTPROTO_CLIENT_FAILED ? 0 : c->error;
}

mqttproto_str mqttproto_client_client_id(const mqttproto_client *c)
{
    mqttproto_str s = {NULL, 0};
    if (c != NULL) {
        s.data = c->client_id;
        s.len = c->client_id_len;
    }
    return s;
}

mqttproto_client_server_info mqttproto_client_server(const mqttproto_client *c)
{
    mqttproto_client_server_info s;
    if (c == NULL) {
        server_defaults(&s, 0);
        return s;
    }
    return c->server;
}

static void disconnect_packet(mqttproto_packet *d, int err)
{
    memset(d, 0, sizeof *d);
    d->type = MQTTPROTO_PACKET_DISCONNECT;
    d->disconnect.reason_code = mqttproto_err_reason_code(err);
    mqttproto_properties_init(&d->disconnect.properties);
}

/* Room for the DISCONNECT that client_fail() queues for @p err. */
static int reserve_disconnect(mqttproto_client *c, int err)
{
    mqttproto_packet d;
    disconnect_packet(&d, err);
    ptrdiff_t size = mqttproto_encoded_size(&d, &c->out_opts);
    if (size < 0) {
        return 0; /* the server takes none that small: none is sent */
    }
    return bytebuf_reserve(&c->out, &c->mem, (size_t)size) != NULL ? 0 : MQTTPROTO_ERR_NO_MEMORY;
}

int client_fail(mqttproto_client *c, int err)
{
    /* MQTT 3.1.1 and 3.1 have no DISCONNECT that tells of an error: theirs
       ends the connection normally and discards the will
       [MQTT-3.14.4-3] (3.1.1), so on an error the connection is only closed. */
    if (c->state == MQTTPROTO_CLIENT_CONNECTED && !client_is_v3(c)) {
        /* Before a CONNACK accepted the connection nothing but CONNECT and
           AUTH has been accepted, so the connection is simply closed. Once
           FAILED, nothing more is sent [MQTT-3.14.4-1] and no input is
           taken: the application closes the connection [MQTT-3.14.4-2]. */
        mqttproto_packet d;
        disconnect_packet(&d, err);
        if (client_write_packet(c, &d) == MQTTPROTO_ERR_NO_MEMORY) {
            return MQTTPROTO_ERR_NO_MEMORY; /* nothing changed */
        }
    }
    c->state = MQTTPROTO_CLIENT_FAILED;
    c->error = err;
    return err;
}

static bool copy_str(mqttproto_client *c, char **dst, size_t *dst_len, const char *src, size_t len)
{
    char *p = NULL;
    if (len > 0) {
        p = mem_alloc(&c->mem, len);
        if (p == NULL) {
            return false;
        }
        memcpy(p, src, len);
    }
    mem_free(&c->mem, *dst);
    *dst = p;
    *dst_len = len;
    return true;
}

/* ---- CONNECT ---- */

static int build_connect(mqttproto_client *c, const mqttproto_connect_options *o,
                         mqttproto_packet *pkt, uint16_t *receive_maximum,
                         uint16_t *topic_alias_maximum, uint32_t *maximum_packet_size)
{
    const mqttproto_client_settings *s = &c->settings;
    uint16_t rm = o->receive_maximum == 0 ? s->receive_maximum : o->receive_maximum;
    uint32_t mps = o->maximum_packet_size == 0 ? s->maximum_packet_size : o->maximum_packet_size;
    int32_t tam = o->topic_alias_maximum < 0 ? s->topic_alias_maximum : o->topic_alias_maximum;
    if (o->topic_alias_maximum < -1 || rm > s->receive_maximum || mps > s->maximum_packet_size ||
        mps < MIN_MAXIMUM_PACKET_SIZE || tam > s->topic_alias_maximum) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    const uint8_t version = o->protocol_version == 0 ? MQTTPROTO_PROTOCOL_V5 : o->protocol_version;
    if (version != MQTTPROTO_PROTOCOL_V5 &&
        (o->session_expiry_interval != 0 || o->receive_maximum != 0 ||
         o->maximum_packet_size != 0 || o->topic_alias_maximum > 0 ||
         o->request_response_information || !o->request_problem_information ||
         o->user_property_count > 0 || o->authentication_method.len > 0 ||
         o->authentication_data.len > 0 ||
         (o->will != NULL && client_props_given(&o->will->properties)))) {
        /* What only an MQTT 5 CONNECT can say. */
        return MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION;
    }
    memset(pkt, 0, sizeof *pkt);
    pkt->type = MQTTPROTO_PACKET_CONNECT;
    mqttproto_connect *cn = &pkt->connect;
    cn->protocol_version = version;
    cn->clean_start = o->clean_start;
    cn->keep_alive = o->keep_alive;
    cn->client_id = o->client_id;
    cn->has_username = o->has_username;
    cn->username = o->username;
    cn->has_password = o->has_password;
    cn->password = o->password;
    if (o->will != NULL) {
        cn->has_will = true;
        cn->will = *o->will;
    } else {
        mqttproto_properties_init(&cn->will.properties);
    }
    mqttproto_properties *p = &cn->properties;
    mqttproto_properties_init(p);
    const int ctx = MQTTPROTO_PACKET_CONNECT;
    int e = 0;
    if (o->session_expiry_interval != 0) {
        e = mqttproto_properties_set_int(p, ctx, MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL,
                                         o->session_expiry_interval);
    }
    if (e == 0 && rm != 65535) {
        e = mqttproto_properties_set_int(p, ctx, MQTTPROTO_PROP_RECEIVE_MAXIMUM, rm);
    }
    if (e == 0) {
        e = mqttproto_properties_set_int(p, ctx, MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE, mps);
    }
    if (e == 0 && tam > 0) {
        e = mqttproto_properties_set_int(p, ctx, MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM, (uint32_t)tam);
    }
    if (e == 0 && o->request_response_information) {
        e = mqttproto_properties_set_int(p, ctx, MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION, 1);
    }
    if (e == 0 && !o->request_problem_information) {
        e = mqttproto_properties_set_int(p, ctx, MQTTPROTO_PROP_REQUEST_PROBLEM_INFORMATION, 0);
    }
    if (e == 0 && o->user_property_count > 0) {
        e = mqttproto_properties_set_user_properties(p, ctx, o->user_properties,
                                                     o->user_property_count);
    }
    if (e == 0 && o->authentication_method.len > 0) {
        e = mqttproto_properties_set_str(p, ctx, MQTTPROTO_PROP_AUTHENTICATION_METHOD,
                                         o->authentication_method);
        if (e == 0 && o->authentication_data.len > 0) {
            e = mqttproto_properties_set_bin(p, ctx, MQTTPROTO_PROP_AUTHENTICATION_DATA,
                                             o->authentication_data);
        }
    } else if (e == 0 && o->authentication_data.len > 0) {
        e = MQTTPROTO_ERR_INVALID_ARGUMENT; /* data without a method */
    }
    if (version != MQTTPROTO_PROTOCOL_V5) {
        /* Nothing of it is sent: no Receive Maximum or Topic Aliases
           (inbound QoS 1/2 are not limited, and no alias can arrive). The
           Maximum Packet Size stays the local limit of the settings. */
        mqttproto_properties_init(p);
        rm = 65535;
        tam = 0;
    }
    *receive_maximum = rm;
    *topic_alias_maximum = (uint16_t)tam;
    *maximum_packet_size = mps;
    return e;
}

/*
 * Forget what belongs to the connection that ended, so that nothing of it
 * counts on the next one: by connection_lost(), and by connect() when the
 * connection ended without it (a DISCONNECT either way, a refused CONNACK).
 * Doing it twice changes nothing. Only the REQUEST_FAILED events need
 * memory: NO_MEMORY when some could not be queued, everything else is done
 * all the same.
 */
static int end_connection(mqttproto_client *c)
{
    /* Input of the old connection means nothing on the next one, but events
       already queued still point into it. */
    if (c->ev_count == 0) {
        bytebuf_clear(&c->in);
        c->parsed = 0;
    } else {
        c->in.len = c->in.head + c->parsed;
    }
    client_out_connection_lost(c);
    int e = client_requests_connection_lost(c);
    client_in_reset_aliases(c); /* [MQTT-3.3.2-7] */
    strmap_clear(&c->out_aliases, &c->mem);
    c->ping_pending = false;
    c->reauthenticating = false;
    if (c->session_expiry == 0) {
        /* [MQTT-3.1.2-23] the server forgets the session with the connection. */
        c->has_session = false;
    }
    return e;
}

int mqttproto_client_connect(mqttproto_client *c, const mqttproto_connect_options *o,
                             uint64_t now_ms)
{
    if (c == NULL || o == NULL || o->version != MQTTPROTO_CONNECT_OPTIONS_VERSION ||
        (o->protocol_version != 0 && o->protocol_version != MQTTPROTO_PROTOCOL_V5 &&
         o->protocol_version != MQTTPROTO_PROTOCOL_V311 &&
         o->protocol_version != MQTTPROTO_PROTOCOL_V31)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (c->state != MQTTPROTO_CLIENT_DISCONNECTED || bytebuf_size(&c->out) != 0) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    mqttproto_packet pkt;
    uint16_t rm, tam;
    uint32_t mps;
    int e = build_connect(c, o, &pkt, &rm, &tam, &mps);
    if (e != 0) {
        return e;
    }
    /* A field the CONNECT cannot carry is refused before anything else. */
    ptrdiff_t size = mqttproto_encoded_size(&pkt, NULL);
    if (size < 0) {
        return (int)size;
    }
    /* [MQTT-3.1.3-2] session state belongs to one Client Identifier. */
    bool same_id = c->client_id_len == o->client_id.len && o->client_id.len > 0 &&
                   memcmp(c->client_id, o->client_id.data, o->client_id.len) == 0;
    /* [MQTT-3.1.2-4] a new session: what the old one held is gone. */
    bool new_session = o->clean_start || !same_id;
    /* Everything that can fail comes first: NO_MEMORY changes nothing. The
       events: requests of a connection that ended without connection_lost(),
       and the messages of a session that is gone. */
    size_t events = client_requests_pending(c);
    if (new_session) {
        events += client_out_session_events(c);
    }
    if (client_reserve_events(c, events) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    char *id = NULL, *method = NULL;
    size_t id_len = 0, method_len = 0;
    if (!copy_str(c, &id, &id_len, o->client_id.data, o->client_id.len) ||
        !copy_str(c, &method, &method_len, o->authentication_method.data,
                  o->authentication_method.len)) {
        mem_free(&c->mem, id);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    /* Encode without a limit: the server's is not known yet. */
    mqttproto_codec_options old_opts = c->out_opts;
    mqttproto_codec_options_default(&c->out_opts);
    c->out_opts.protocol_version = pkt.connect.protocol_version;
    e = client_write_packet(c, &pkt); /* [MQTT-3.1.0-1] the first packet */
    if (e != 0) {
        c->out_opts = old_opts;
        mem_free(&c->mem, id);
        mem_free(&c->mem, method);
        return e;
    }
    (void)end_connection(c); /* room reserved above */
    if (new_session) {
        client_out_discard_session(c); /* room reserved above */
        strmap_clear(&c->subs, &c->mem);
        c->has_session = false;
    }
    mem_free(&c->mem, c->client_id);
    mem_free(&c->mem, c->auth_method);
    c->client_id = id;
    c->client_id_len = id_len;
    c->auth_method = method;
    c->auth_method_len = method_len;
    c->clean_start = o->clean_start;
    c->keep_alive_requested = o->keep_alive;
    c->session_expiry = o->session_expiry_interval;
    c->protocol_version = pkt.connect.protocol_version;
    c->in_opts.protocol_version = pkt.connect.protocol_version;
    if (client_is_v3(c)) {
        /* Clean Session 0 keeps the session after the connection without a
           limit; Clean Session 1 ends it with the connection
           [MQTT-3.1.2-4] [MQTT-3.1.2-6] (3.1.1), as MQTT 5.0 section 3.1.2.4
           relates the two. */
        c->session_expiry = o->clean_start ? 0 : 0xFFFFFFFFu;
    }
    c->our_receive_maximum = rm;
    c->our_topic_alias_maximum = tam;
    /* [MQTT-3.1.2-24] the server sends nothing larger than the Maximum
       Packet Size sent: a larger packet ends the connection with 0x95. */
    c->in_opts.maximum_packet_size = mps;
    c->request_problem_information = o->request_problem_information;
    c->request_response_information = o->request_response_information;
    c->reauthenticating = false;
    server_defaults(&c->server, o->keep_alive);
    c->now_ms = now_ms;
    c->last_send_ms = now_ms;
    c->ping_pending = false;
    c->state = MQTTPROTO_CLIENT_CONNECTING;
    return 0;
}

/* ---- CONNACK ---- */

static bool method_matches(const mqttproto_client *c, const mqttproto_properties *p)
{
    bool has = mqttproto_properties_has(p, MQTTPROTO_PROP_AUTHENTICATION_METHOD);
    if (c->auth_method_len == 0) {
        return !has;
    }
    return has && p->authentication_method.len == c->auth_method_len &&
           memcmp(p->authentication_method.data, c->auth_method, c->auth_method_len) == 0;
}

static void adopt_server_limits(mqttproto_client *c, const mqttproto_properties *p)
{
    mqttproto_client_server_info *s = &c->server;
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_MAXIMUM_QOS)) {
        s->maximum_qos = p->maximum_qos;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_RETAIN_AVAILABLE)) {
        s->retain_available = p->retain_available != 0;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE)) {
        s->wildcard_subscription_available = p->wildcard_subscription_available != 0;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE)) {
        s->subscription_identifier_available = p->subscription_identifier_available != 0;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_SHARED_SUBSCRIPTION_AVAILABLE)) {
        s->shared_subscription_available = p->shared_subscription_available != 0;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_RECEIVE_MAXIMUM)) {
        s->receive_maximum = p->receive_maximum;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE)) {
        s->maximum_packet_size = p->maximum_packet_size;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM)) {
        s->topic_alias_maximum = p->topic_alias_maximum;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_SERVER_KEEP_ALIVE)) {
        /* [MQTT-3.1.2-21] [MQTT-3.2.2-21] */
        s->keep_alive = p->server_keep_alive;
    }
    /* [MQTT-3.2.2-15] never send more than the server accepts. */
    c->out_opts.maximum_packet_size = s->maximum_packet_size;
    /* [MQTT-3.2.2-17] [MQTT-3.2.2-18] [MQTT-3.3.2-9] */
    c->out_alias_limit = s->topic_alias_maximum < c->settings.outbound_topic_alias_maximum
                             ? s->topic_alias_maximum
                             : c->settings.outbound_topic_alias_maximum;
}

static int handle_connack(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len)
{
    if (c->state != MQTTPROTO_CLIENT_CONNECTING) {
        return MQTTPROTO_ERR_UNEXPECTED_PACKET; /* [MQTT-3.2.0-2] one CONNACK */
    }
    const mqttproto_connack *ca = &pkt->connack;
    struct ev_rec ev = {0};
    ev.pkt_off = off;
    ev.pkt_len = len;
    ev.topic_off = SIZE_MAX;
    ev.reason_code = ca->reason_code;
    /* 3.1.1 and 3.1: return codes 1 to 5 refuse [MQTT-3.2.2-5] (3.1.1). */
    if (client_is_v3(c) ? ca->reason_code != 0 : ca->reason_code >= 0x80) {
        /* [MQTT-4.13.2-1] the server closes the connection. */
        ev.type = MQTTPROTO_CLIENT_EVENT_CONNECT_REFUSED;
        int e = client_push_event(c, &ev);
        if (e != 0) {
            return e;
        }
        c->state = MQTTPROTO_CLIENT_DISCONNECTED;
        return 0;
    }
    /* The errors below come with a CONNACK that accepted the connection, so
       the connection is established and a DISCONNECT may say why it ends. */
    int err = 0;
    if (ca->session_present && (c->clean_start || !c->has_session)) {
        /* [MQTT-3.2.2-4] a session we do not have cannot be present. */
        err = MQTTPROTO_ERR_SESSION_PRESENT_INVALID;
    } else if (!method_matches(c, &ca->properties)) {
        /* [MQTT-4.12.0-5] the method of the CONNECT; [MQTT-4.12.0-6] none
           when the CONNECT had none. */
        err = MQTTPROTO_ERR_AUTH_METHOD_MISMATCH;
    } else if (!c->request_response_information &&
               mqttproto_properties_has(&ca->properties, MQTTPROTO_PROP_RESPONSE_INFORMATION)) {
        /* [MQTT-3.1.2-28] binds the server; the client treats a breach as
           the Protocol Error it is (section 4.13). */
        err = MQTTPROTO_ERR_UNEXPECTED_PROPERTY;
    }
    if (err != 0) {
        /* With room for the DISCONNECT, client_fail() cannot fail. */
        if (reserve_disconnect(c, err) != 0) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
        c->state = MQTTPROTO_CLIENT_CONNECTED;
        return err;
    }
    const mqttproto_properties *p = &ca->properties;
    /* What can fail comes first: on NO_MEMORY nothing changed and the CONNACK
       is processed again on the retry. The CONNECTED event, and when the
       session is gone a PUBLISH_FAILED for each message it held, need room. */
    size_t events = 1u + (ca->session_present ? 0u : client_out_session_events(c));
    if (client_reserve_events(c, events) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_ASSIGNED_CLIENT_IDENTIFIER) &&
        !copy_str(c, &c->client_id, &c->client_id_len, p->assigned_client_identifier.data,
                  p->assigned_client_identifier.len)) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    adopt_server_limits(c, p);
    c->state = MQTTPROTO_CLIENT_CONNECTED;
    if (ca->session_present) {
        client_out_resume(c); /* [MQTT-4.4.0-1] */
    } else {
        /* [MQTT-3.2.2-5] the server has no session: neither do we. */
        client_out_discard_session(c);
        strmap_clear(&c->subs, &c->mem);
    }
    ev.type = MQTTPROTO_CLIENT_EVENT_CONNECTED;
    ev.session_present = ca->session_present;
    (void)client_push_event(c, &ev); /* room reserved above */
    /* [MQTT-3.1.2-23] state is kept only when the session outlives the
       connection. [MQTT-4.1.0-1] While the connection is open nothing of it
       is discarded whatever the expiry: only connect() and a CONNACK with
       Session Present 0 drop session state. */
    c->has_session = c->session_expiry != 0;
    return 0;
}

/* ---- AUTH ---- */

static int handle_auth(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len)
{
    if (c->auth_method_len == 0) {
        return MQTTPROTO_ERR_UNEXPECTED_PACKET; /* [MQTT-4.12.0-7] */
    }
    if (!method_matches(c, &pkt->auth.properties)) {
        /* [MQTT-4.12.0-5]; during a re-authentication the failure closes
           the connection after DISCONNECT 0x82 [MQTT-4.12.1-2]. */
        return MQTTPROTO_ERR_AUTH_METHOD_MISMATCH;
    }
    uint8_t rc = pkt->auth.reason_code;
    if (c->state == MQTTPROTO_CLIENT_CONNECTING) {
        if (rc != MQTTPROTO_RC_CONTINUE_AUTHENTICATION) {
            return MQTTPROTO_ERR_UNEXPECTED_PACKET;
        }
    } else if (!c->reauthenticating || rc == MQTTPROTO_RC_REAUTHENTICATE) {
        return MQTTPROTO_ERR_UNEXPECTED_PACKET;
    }
    struct ev_rec ev = {0};
    ev.type = MQTTPROTO_CLIENT_EVENT_AUTH;
    ev.reason_code = rc;
    ev.pkt_off = off;
    ev.pkt_len = len;
    ev.topic_off = SIZE_MAX;
    int e = client_push_event(c, &ev);
    if (e != 0) {
        /* Nothing changed: the AUTH is processed again on the retry. */
        return e;
    }
    if (rc == MQTTPROTO_RC_SUCCESS) {
        c->reauthenticating = false; /* the re-authentication succeeded */
    }
    return 0;
}

int mqttproto_client_auth(mqttproto_client *c, uint8_t reason_code, mqttproto_bin data,
                          const mqttproto_properties *props)
{
    if (c == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (client_is_v3(c)) {
        return MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION; /* AUTH is reserved in 3.1.1 */
    }
    if (c->auth_method_len == 0) {
        return MQTTPROTO_ERR_BAD_STATE; /* [MQTT-4.12.0-7] */
    }
    if (reason_code == MQTTPROTO_RC_CONTINUE_AUTHENTICATION) {
        if (c->state != MQTTPROTO_CLIENT_CONNECTING &&
            !(c->state == MQTTPROTO_CLIENT_CONNECTED && c->reauthenticating)) {
            return MQTTPROTO_ERR_BAD_STATE;
        }
    } else if (reason_code == MQTTPROTO_RC_REAUTHENTICATE) {
        if (c->state != MQTTPROTO_CLIENT_CONNECTED || c->reauthenticating) {
            return MQTTPROTO_ERR_BAD_STATE;
        }
    } else {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_AUTH;
    pkt.auth.reason_code = reason_code; /* [MQTT-4.12.0-3] */
    if (props != NULL) {
        pkt.auth.properties = *props;
    } else {
        mqttproto_properties_init(&pkt.auth.properties);
    }
    mqttproto_properties *p = &pkt.auth.properties;
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_AUTHENTICATION_METHOD) ||
        mqttproto_properties_has(p, MQTTPROTO_PROP_AUTHENTICATION_DATA)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT; /* the client sets them */
    }
    mqttproto_str method = {c->auth_method, c->auth_method_len};
    /* [MQTT-4.12.1-1] the method of the connection */
    int e = mqttproto_properties_set_str(p, MQTTPROTO_PACKET_AUTH,
                                         MQTTPROTO_PROP_AUTHENTICATION_METHOD, method);
    if (e == 0 && data.len > 0) {
        e = mqttproto_properties_set_bin(p, MQTTPROTO_PACKET_AUTH,
                                         MQTTPROTO_PROP_AUTHENTICATION_DATA, data);
    }
    if (e == 0) {
        e = client_write_packet(c, &pkt);
    }
    if (e == 0 && reason_code == MQTTPROTO_RC_REAUTHENTICATE) {
        c->reauthenticating = true;
    }
    return e;
}

/* ---- DISCONNECT ---- */

int mqttproto_client_disconnect(mqttproto_client *c, uint8_t reason_code,
                                const mqttproto_properties *props)
{
    if (c == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (c->state != MQTTPROTO_CLIENT_CONNECTED) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    if (client_is_v3(c) && (reason_code != 0 || client_props_given(props))) {
        /* A 3.1.1 DISCONNECT has neither: it always discards the will. */
        return MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION;
    }
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_DISCONNECT;
    pkt.disconnect.reason_code = reason_code;
    if (props != NULL) {
        pkt.disconnect.properties = *props;
    } else {
        mqttproto_properties_init(&pkt.disconnect.properties);
    }
    const mqttproto_properties *p = &pkt.disconnect.properties;
    bool sets_expiry = mqttproto_properties_has(p, MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL);
    if (sets_expiry && c->session_expiry == 0 && p->session_expiry_interval != 0) {
        /* A session that ended with the connection cannot be kept now. */
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    int e = client_write_packet(c, &pkt);
    if (e != 0) {
        return e;
    }
    if (sets_expiry) {
        c->session_expiry = p->session_expiry_interval;
    }
    /* [MQTT-3.14.4-1] nothing more is sent on this connection, and no input
       is taken: the application closes it [MQTT-3.14.4-2]. */
    c->state = MQTTPROTO_CLIENT_DISCONNECTED;
    c->has_session = c->session_expiry != 0 && c->has_session;
    return 0;
}

static int handle_disconnect(mqttproto_client *c, const mqttproto_packet *pkt, size_t off,
                             size_t len)
{
    if (mqttproto_properties_has(&pkt->disconnect.properties,
                                 MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL)) {
        /* [MQTT-3.14.2-2] the server never sends it: a Protocol Error. It is
           not answered with a DISCONNECT: the server closes the connection
           after its DISCONNECT [MQTT-3.14.4-2], and one DISCONNECT already
           ends it. With the state FAILED here, client_fail() queues none. */
        c->state = MQTTPROTO_CLIENT_FAILED;
        return MQTTPROTO_ERR_UNEXPECTED_PROPERTY;
    }
    struct ev_rec ev = {0};
    ev.type = MQTTPROTO_CLIENT_EVENT_DISCONNECTED;
    ev.reason_code = pkt->disconnect.reason_code;
    ev.pkt_off = off;
    ev.pkt_len = len;
    ev.topic_off = SIZE_MAX;
    int e = client_push_event(c, &ev);
    if (e != 0) {
        return e;
    }
    c->state = MQTTPROTO_CLIENT_DISCONNECTED;
    return 0;
}

/* ---- the byte interface ---- */

/* The properties of a packet that may carry Reason String and User
   Properties only when the client asked for problem information: every one
   the server sends but PUBLISH, CONNACK and DISCONNECT. NULL for others. */
static const mqttproto_properties *problem_info_properties(const mqttproto_packet *pkt)
{
    switch (pkt->type) {
    case MQTTPROTO_PACKET_PUBACK:
    case MQTTPROTO_PACKET_PUBREC:
    case MQTTPROTO_PACKET_PUBREL:
    case MQTTPROTO_PACKET_PUBCOMP:
        return &pkt->puback.properties;
    case MQTTPROTO_PACKET_SUBACK:
    case MQTTPROTO_PACKET_UNSUBACK:
        return &pkt->suback.properties;
    case MQTTPROTO_PACKET_AUTH:
        return &pkt->auth.properties;
    default:
        return NULL;
    }
}

static int dispatch(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len)
{
    if (c->state == MQTTPROTO_CLIENT_CONNECTING && pkt->type != MQTTPROTO_PACKET_CONNACK &&
        pkt->type != MQTTPROTO_PACKET_AUTH) {
        /* [MQTT-3.2.0-1] CONNACK comes first (AUTH may precede it);
           [MQTT-3.14.0-1] no DISCONNECT before it either. */
        return MQTTPROTO_ERR_UNEXPECTED_PACKET;
    }
    if (!c->request_problem_information) {
        const mqttproto_properties *p = problem_info_properties(pkt);
        if (p != NULL && (p->present & (MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_REASON_STRING) |
                                        MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_USER_PROPERTY))) != 0) {
            /* [MQTT-3.1.2-29] Request Problem Information 0: a Protocol
               Error, answered with DISCONNECT 0x82 (section 3.1.2.11.7). */
            return MQTTPROTO_ERR_UNEXPECTED_PROPERTY;
        }
    }
    switch (pkt->type) {
    case MQTTPROTO_PACKET_CONNACK:
        return handle_connack(c, pkt, off, len);
    case MQTTPROTO_PACKET_PUBLISH:
        return client_handle_publish(c, pkt, off, len);
    case MQTTPROTO_PACKET_PUBACK:
        return client_handle_puback(c, pkt, off, len);
    case MQTTPROTO_PACKET_PUBREC:
        return client_handle_pubrec(c, pkt, off, len);
    case MQTTPROTO_PACKET_PUBREL:
        return client_handle_pubrel(c, pkt);
    case MQTTPROTO_PACKET_PUBCOMP:
        return client_handle_pubcomp(c, pkt, off, len);
    case MQTTPROTO_PACKET_SUBACK:
    case MQTTPROTO_PACKET_UNSUBACK:
        return client_handle_suback(c, pkt, off, len);
    case MQTTPROTO_PACKET_PINGRESP:
        c->ping_pending = false;
        return 0;
    case MQTTPROTO_PACKET_DISCONNECT:
        return handle_disconnect(c, pkt, off, len);
    case MQTTPROTO_PACKET_AUTH:
        return handle_auth(c, pkt, off, len);
    default:
        /* CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ: never from a server. */
        return MQTTPROTO_ERR_UNEXPECTED_PACKET;
    }
}

/* PUBACK, PUBREC, PUBREL (with its required flags) and PUBCOMP. */
static inline bool is_short_ack(uint8_t first)
{
    return first == 0x40u || first == 0x50u || first == 0x62u || first == 0x70u;
}

/* Input bytes held at most: one packet of the largest size we accept, and
   room for the events that still point into the buffer. */
static size_t input_limit(const mqttproto_client *c)
{
    return (size_t)c->settings.maximum_packet_size + 65536u;
}

/*
 * The packet at c->parsed could not be processed for want of memory, and
 * nothing of it took effect. The bytes this call added from that packet on
 * (those from @p start, where this call's bytes begin) are given back, so
 * that the caller feeds them again: returns how many of this call's bytes
 * stay taken (every packet in them processed), or NO_MEMORY when none do
 * and the call changed nothing.
 */
static ptrdiff_t give_back(mqttproto_client *c, size_t start)
{
    size_t keep = c->parsed > start ? c->parsed : start;
    c->in.len = c->in.head + keep;
    return keep > start ? (ptrdiff_t)(keep - start) : MQTTPROTO_ERR_NO_MEMORY;
}

ptrdiff_t mqttproto_client_feed_bytes(mqttproto_client *c, const uint8_t *data, size_t len,
                                      uint64_t now_ms)
{
    if (c == NULL || (data == NULL && len > 0)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (c->state == MQTTPROTO_CLIENT_FAILED) {
        return c->error;
    }
    if (c->state == MQTTPROTO_CLIENT_DISCONNECTED) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    if (now_ms > c->now_ms) {
        c->now_ms = now_ms;
    }
    release_event_memory(c);
    size_t held = bytebuf_size(&c->in);
    size_t limit = input_limit(c);
    size_t take = held >= limit ? 0 : limit - held;
    if (take > len) {
        take = len;
    }
    if (take > 0 && bytebuf_append(&c->in, &c->mem, data, take) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    /* Offsets count from in.head, which stays put until the next call. */
    size_t start = held;
    while (c->state == MQTTPROTO_CLIENT_CONNECTING || c->state == MQTTPROTO_CLIENT_CONNECTED) {
        size_t avail = bytebuf_size(&c->in) - c->parsed;
        if (avail == 0) {
            break;
        }
        const uint8_t *p = bytebuf_data(&c->in) + c->parsed;
        if (avail >= 4 && p[1] == 2 && is_short_ack(p[0]) && (p[2] | p[3]) != 0) {
            /* The common acknowledgement: success, no properties. Its event
               has no properties to show, so it refers to no input bytes. */
            mqttproto_packet ack;
            ack.type = (mqttproto_packet_type)(p[0] >> 4);
            ack.puback.packet_id = (uint16_t)(p[2] << 8 | p[3]);
            ack.puback.reason_code = MQTTPROTO_RC_SUCCESS;
            ack.puback.properties.present = 0; /* all dispatch() reads of them */
            int e = dispatch(c, &ack, c->parsed, 0);
            if (e != 0 && e != MQTTPROTO_ERR_NO_MEMORY) {
                e = client_fail(c, e);
            }
            if (e == MQTTPROTO_ERR_NO_MEMORY) {
                return give_back(c, start);
            }
            if (e != 0) {
                return e;
            }
            c->parsed += 4;
            continue;
        }
        /* [MQTT-3.1.2-24] over our Maximum Packet Size: PACKET_TOO_LARGE. */
        ptrdiff_t size = mqttproto_frame_size(p, avail, &c->in_opts, NULL);
        if (size == 0 || (size > 0 && (size_t)size > avail)) {
            break;
        }
        mqttproto_packet pkt;
        ptrdiff_t n = size < 0 ? size : mqttproto_decode(p, (size_t)size, &c->in_opts, &pkt);
        int e = n < 0 ? (int)n : dispatch(c, &pkt, c->parsed, (size_t)n);
        if (e != 0 && e != MQTTPROTO_ERR_NO_MEMORY) {
            e = client_fail(c, e); /* NO_MEMORY: the DISCONNECT did not fit */
        }
        if (e == MQTTPROTO_ERR_NO_MEMORY) {
            /* Nothing of the packet took effect: its bytes go back to the
               caller, who feeds them again. */
            return give_back(c, start);
        }
        if (e != 0) {
            return e;
        }
        c->parsed += (size_t)n;
    }
    return (ptrdiff_t)take;
}

/* ---- timers ---- */

static uint64_t keep_alive_ms(const mqttproto_client *c)
{
    return (uint64_t)c->server.keep_alive * 1000u;
}

uint64_t mqttproto_client_get_expiry(const mqttproto_client *c)
{
    if (c == NULL || c->state != MQTTPROTO_CLIENT_CONNECTED || c->server.keep_alive == 0) {
        return UINT64_MAX;
    }
    if (c->ping_pending) {
        return c->ping_deadline;
    }
    return c->last_send_ms + keep_alive_ms(c);
}

int mqttproto_client_handle_expiry(mqttproto_client *c, uint64_t now_ms)
{
    if (c == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (now_ms > c->now_ms) {
        c->now_ms = now_ms;
    }
    if (c->state != MQTTPROTO_CLIENT_CONNECTED || c->server.keep_alive == 0) {
        return 0;
    }
    if (c->ping_pending) {
        if (now_ms >= c->ping_deadline) {
            /* The server is gone: no DISCONNECT, the connection is closed. */
            c->state = MQTTPROTO_CLIENT_FAILED;
            c->error = MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT;
            return c->error;
        }
        return 0;
    }
    if (now_ms < c->last_send_ms + keep_alive_ms(c)) {
        return 0;
    }
    mqttproto_packet ping;
    memset(&ping, 0, sizeof ping);
    ping.type = MQTTPROTO_PACKET_PINGREQ;
    int e = client_write_packet(c, &ping); /* [MQTT-3.1.2-20] */
    if (e != 0) {
        return e;
    }
    uint64_t wait =
        c->settings.pingresp_timeout_ms != 0 ? c->settings.pingresp_timeout_ms : keep_alive_ms(c);
    c->ping_pending = true;
    c->ping_deadline = now_ms + wait;
    return 0;
}

/* ---- the end of a connection ---- */

int mqttproto_client_connection_lost(mqttproto_client *c)
{
    if (c == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    bytebuf_clear(&c->out);
    int e = end_connection(c);
    c->state = MQTTPROTO_CLIENT_DISCONNECTED;
    c->error = 0;
    return e;
}
