/*
 * What a client sends to the server role: framing of the input, the order
 * of packets a connection may send, inbound PUBLISH with its QoS 1/2 flows,
 * Topic Aliases and authorization, SUBSCRIBE/UNSUBSCRIBE, PINGREQ and
 * DISCONNECT.
 *
 * A packet that fails with MQTTPROTO_ERR_NO_MEMORY has no effect: every
 * allocation it needs is made before its first change of state, and the
 * packet is processed again on the next call.
 */
#include "broker_internal.h"
#include "codec_internal.h"
#include "mqttproto/topic.h"

#include <string.h>

/* Marks an inbound QoS 2 packet identifier whose PUBREC went out. */
static char pubrec_sent;

/* Input bytes held at most: one packet of the largest size we accept, and
   room for the events that still point into the buffer. */
static size_t input_limit(const mqttproto_broker_client *c)
{
    return (size_t)c->broker->settings.maximum_packet_size + 65536u;
}

static size_t topic_levels(mqttproto_str t)
{
    size_t n = 1;
    for (size_t i = 0; i < t.len; i++) {
        n += t.data[i] == '/';
    }
    return n;
}

/* ---- failing ---- */

/* The protocol version a CONNECT that failed to decode names: 4 or 3 for
   the 3.1.1 and 3.1 protocol names with their level, 5 otherwise. */
static uint8_t connect_level(const uint8_t *p, size_t len)
{
    size_t i = 1;
    while (i < len && i < 5 && (p[i] & 0x80u) != 0) {
        i++;
    }
    i++; /* past the Remaining Length */
    static const uint8_t mqtt[7] = {0, 4, 'M', 'Q', 'T', 'T', MQTTPROTO_PROTOCOL_V311};
    static const uint8_t mqisdp[9] = {0, 6, 'M', 'Q', 'I', 's', 'd', 'p', MQTTPROTO_PROTOCOL_V31};
    if (len >= i + sizeof mqtt && memcmp(p + i, mqtt, sizeof mqtt) == 0) {
        return MQTTPROTO_PROTOCOL_V311;
    }
    if (len >= i + sizeof mqisdp && memcmp(p + i, mqisdp, sizeof mqisdp) == 0) {
        return MQTTPROTO_PROTOCOL_V31;
    }
    return MQTTPROTO_PROTOCOL_V5;
}

/*
 * The client broke the protocol with @p err. Before CONNACK the answer is a
 * CONNACK carrying the reason code; after it, a DISCONNECT.
 */
static int fail_input(mqttproto_broker_client *c, int err, bool in_connect)
{
    if (c->state == MQTTPROTO_BROKER_CLIENT_AUTHENTICATING || in_connect) {
        uint8_t rc = mqttproto_err_reason_code(err);
        if (!mqttproto_reason_code_allowed(rc, MQTTPROTO_PACKET_CONNACK)) {
            rc = MQTTPROTO_RC_PROTOCOL_ERROR;
        }
        mqttproto_packet ack;
        memset(&ack, 0, sizeof ack);
        ack.type = MQTTPROTO_PACKET_CONNACK;
        ack.connack.reason_code = rc;
        mqttproto_properties_init(&ack.connack.properties);
        (void)conn_write_packet(c, &ack);
        c->error = err;
        conn_enter_closing(c);
        return err;
    }
    return conn_fail(c, err);
}

/* ---- PUBLISH ---- */

static struct pending_publish *pending_find_id(const mqttproto_broker_client *c, uint16_t id)
{
    for (struct pending_publish *p = c->pending_pubs; p != NULL; p = p->next) {
        if (p->qos > 0 && p->packet_id == id) {
            return p;
        }
    }
    return NULL;
}

/* Inbound QoS 1/2 messages not fully acknowledged: our Receive Maximum's count. */
static size_t inbound_in_flight(const mqttproto_broker_client *c)
{
    return (size_t)c->pending_count + c->session->qos2_in.count;
}

/*
 * The topic of an inbound PUBLISH with its Topic Alias applied: the alias
 * is (re)mapped when a topic comes with it, looked up when none does.
 * *remap says whether the alias must be stored once the packet is sure to
 * take effect.
 */
static int resolve_alias(mqttproto_broker_client *c, const mqttproto_publish *pub,
                         mqttproto_str *topic, bool *remap)
{
    const mqttproto_broker_settings *s = &c->broker->settings;
    *topic = pub->topic;
    *remap = false;
    if (!mqttproto_properties_has(&pub->properties, MQTTPROTO_PROP_TOPIC_ALIAS)) {
        return 0;
    }
    uint16_t alias = pub->properties.topic_alias;
    if (alias == 0 || alias > s->topic_alias_maximum) {
        return MQTTPROTO_ERR_TOPIC_ALIAS_OUT_OF_RANGE; /* [MQTT-3.3.2-12] */
    }
    if (pub->topic.len > 0) {
        *remap = true;
        return 0;
    }
    if (c->in_aliases == NULL || c->in_aliases[alias - 1] == NULL) {
        return MQTTPROTO_ERR_TOPIC_ALIAS_UNKNOWN;
    }
    topic->data = c->in_aliases[alias - 1];
    topic->len = c->in_alias_lens[alias - 1];
    return 0;
}

/* What remapping a Topic Alias to @p topic needs, made before the packet
   takes effect: the tables, and the copy of the topic (NULL: no memory). */
static char *alias_prepare(mqttproto_broker_client *c, mqttproto_str topic)
{
    const mqttproto_mem *m = &c->broker->mem;
    size_t max = c->broker->settings.topic_alias_maximum;
    if (c->in_aliases == NULL) {
        c->in_aliases = mem_alloc(m, max * sizeof *c->in_aliases);
        c->in_alias_lens = mem_alloc(m, max * sizeof *c->in_alias_lens);
        if (c->in_aliases == NULL || c->in_alias_lens == NULL) {
            mem_free(m, c->in_aliases);
            mem_free(m, c->in_alias_lens);
            c->in_aliases = NULL;
            c->in_alias_lens = NULL;
            return NULL;
        }
        memset(c->in_aliases, 0, max * sizeof *c->in_aliases);
        memset(c->in_alias_lens, 0, max * sizeof *c->in_alias_lens);
    }
    char *copy = mem_alloc(m, topic.len);
    if (copy != NULL) {
        memcpy(copy, topic.data, topic.len);
    }
    return copy;
}

static void alias_install(mqttproto_broker_client *c, uint16_t alias, char *copy, size_t len)
{
    mem_free(&c->broker->mem, c->in_aliases[alias - 1]);
    c->in_aliases[alias - 1] = copy;
    c->in_alias_lens[alias - 1] = len;
}

/* Store as retained (when asked) and route an accepted message. *rc is
   the reason code of its acknowledgement: 0x97 Quota exceeded when it
   matched subscriptions but every session's queue was full, so that it went
   nowhere (and it is not kept as retained either); else 0x00. */
static int accept_message(mqttproto_broker_client *c, struct bmsg *m, mqttproto_str topic,
                          uint8_t *rc)
{
    mqttproto_broker *b = c->broker;
    *rc = MQTTPROTO_RC_SUCCESS;
    /* [MQTT-3.3.1-8] RETAIN 0 leaves the retained store alone */
    if (m->retain) {
        int e = broker_retain(b, m, topic);
        if (e != 0) {
            return e;
        }
    }
    uint64_t dropped = b->stats.messages_dropped_queue;
    int n = broker_route(b, m, c->session, c->now_ms);
    if (n < 0) {
        return n;
    }
    if (n == 0 && b->stats.messages_dropped_queue != dropped && !m->retain) {
        *rc = MQTTPROTO_RC_QUOTA_EXCEEDED;
    }
    return 0;
}

/* The acknowledgement an inbound PUBLISH gets once decided. */
static void ack_publish(mqttproto_broker_client *c, uint8_t qos, uint16_t id, uint8_t rc)
{
    if (qos == 1) {
        (void)conn_write_short(c, 0x40, id, rc); /* [MQTT-3.3.4-1] */
    } else if (qos == 2) {
        if (rc < 0x80) {
            /* [MQTT-4.3.3-8] owned until PUBREL; space was reserved */
            (void)idmap_put(&c->session->qos2_in, &c->broker->mem, id, &pubrec_sent);
            store_inbound(c->broker, c->session, id, true);
        }
        (void)conn_write_short(c, 0x50, id, rc); /* [MQTT-4.3.3-9] >= 0x80: a new message next */
    }
}

static int inbound_publish(mqttproto_broker_client *c, const mqttproto_packet *pkt, size_t off,
                           size_t len)
{
    mqttproto_broker *b = c->broker;
    const mqttproto_broker_settings *set = &b->settings;
    const mqttproto_publish *pub = &pkt->publish;
    struct session *s = c->session;
    uint8_t qos = (uint8_t)pub->qos;

    if (mqttproto_properties_has(&pub->properties, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER)) {
        return MQTTPROTO_ERR_SUBSCRIPTION_ID_FROM_CLIENT; /* [MQTT-3.3.4-6] */
    }
    if (qos > set->maximum_qos) {
        return MQTTPROTO_ERR_QOS_NOT_SUPPORTED; /* [MQTT-3.2.2-11] */
    }
    if (pub->retain && !set->retain_available) {
        return MQTTPROTO_ERR_RETAIN_NOT_SUPPORTED; /* [MQTT-3.2.2-14] */
    }
    mqttproto_str topic;
    bool remap;
    int e = resolve_alias(c, pub, &topic, &remap);
    if (e != 0) {
        return e;
    }
    if (qos == 2 && (idmap_get(&s->qos2_in, pub->packet_id) != NULL ||
                     pending_find_id(c, pub->packet_id) != NULL)) {
        /* [MQTT-4.3.3-10] a repeat before PUBREL: PUBREC again (once the
           decision is made, for one that waits), never routed twice */
        if (idmap_get(&s->qos2_in, pub->packet_id) != NULL) {
            return conn_write_short(c, 0x50, pub->packet_id, 0);
        }
        return 0;
    }
    if (qos == 1 && pending_find_id(c, pub->packet_id) != NULL) {
        return 0; /* a repeat of a QoS 1 message that waits for its decision */
    }
    if (qos > 0 && inbound_in_flight(c) >= set->receive_maximum) {
        return MQTTPROTO_ERR_RECEIVE_MAXIMUM_EXCEEDED; /* [MQTT-3.3.4-9] our quota */
    }

    /* Everything that can fail, before anything changes. */
    if (conn_reserve_events(c, 1) != 0 || bytebuf_reserve(&c->out, &b->mem, 5) == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    if (qos == 2 && idmap_put(&s->qos2_in, &b->mem, pub->packet_id, &pubrec_sent) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    if (qos == 2) {
        idmap_remove(&s->qos2_in, pub->packet_id); /* the slot stays allocated */
    }
    uint32_t topic_off = NO_OFFSET;
    if (pub->topic.len == 0) {
        /* The event shows the topic the alias stands for. */
        size_t at = bytebuf_size(&c->arena);
        if (bytebuf_append(&c->arena, &b->mem, topic.data, topic.len) != 0) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
        topic_off = (uint32_t)at;
    }
    bool levels_ok = set->max_topic_levels == 0 || topic_levels(topic) <= set->max_topic_levels;
    char *alias_copy = NULL;
    if (remap) {
        alias_copy = alias_prepare(c, topic);
        if (alias_copy == NULL) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
    }
    struct bmsg *m = NULL;
    struct pending_publish *pp = NULL;
    uint8_t rc = MQTTPROTO_RC_SUCCESS;
    if (levels_ok) {
        mqttproto_publish full = *pub;
        full.topic = topic;
        m = broker_msg_new(b, &full, c->now_ms, &e);
        if (m == NULL) {
            mem_free(&b->mem, alias_copy);
            return e;
        }
        if (set->authorize_publish) {
            pp = mem_alloc(&b->mem, sizeof *pp);
            if (pp == NULL) {
                mem_free(&b->mem, alias_copy);
                broker_msg_release(b, m);
                return MQTTPROTO_ERR_NO_MEMORY;
            }
        } else {
            /* Routed last: once it is, nothing fails. */
            e = accept_message(c, m, topic, &rc);
            if (e != 0) {
                mem_free(&b->mem, alias_copy);
                broker_msg_release(b, m);
                return e;
            }
        }
    }
    if (remap) {
        alias_install(c, pub->properties.topic_alias, alias_copy, topic.len);
    }

    /* From here nothing fails. */
    struct conn_event ev = conn_new_event(MQTTPROTO_BROKER_EVENT_PUBLISH, off, len);
    ev.packet_id = pub->packet_id;
    ev.topic_off = topic_off;
    ev.topic_len = (uint32_t)topic.len;
    if (!levels_ok) {
        /* Over the topic level limit: refused, and the application sees it
           with the reason code. */
        ev.reason_code = MQTTPROTO_RC_TOPIC_NAME_INVALID;
        ack_publish(c, qos, pub->packet_id, MQTTPROTO_RC_TOPIC_NAME_INVALID);
    } else if (pp != NULL) {
        pp->next = NULL;
        pp->ticket = ++c->next_ticket;
        pp->packet_id = pub->packet_id;
        pp->qos = qos;
        pp->msg = m;
        if (c->pending_pubs_tail != NULL) {
            c->pending_pubs_tail->next = pp;
        } else {
            c->pending_pubs = pp;
        }
        c->pending_pubs_tail = pp;
        if (qos > 0) {
            c->pending_count++;
        }
        ev.ticket = pp->ticket;
    } else {
        broker_msg_release(b, m);
        ev.reason_code = rc;
        ack_publish(c, qos, pub->packet_id, rc);
    }
    (void)conn_push_event(c, &ev);
    return 0;
}

int mqttproto_broker_client_authorize_publish(mqttproto_broker_client *c, uint32_t ticket,
                                              uint8_t reason_code, uint64_t now_ms)
{
    if (c == NULL || (reason_code != 0 && reason_code < 0x80) ||
        !mqttproto_reason_code_allowed(reason_code, MQTTPROTO_PACKET_PUBACK)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    struct pending_publish *prev = NULL, *p = c->pending_pubs;
    while (p != NULL && p->ticket != ticket) {
        prev = p;
        p = p->next;
    }
    if (p == NULL) {
        return MQTTPROTO_ERR_UNKNOWN_PACKET_ID;
    }
    if (c->state != MQTTPROTO_BROKER_CLIENT_CONNECTED) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    conn_clock(c, now_ms);
    mqttproto_broker *b = c->broker;
    if (bytebuf_reserve(&c->out, &b->mem, 5) == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    if (p->qos == 2 && reason_code == 0 &&
        idmap_put(&c->session->qos2_in, &b->mem, p->packet_id, &pubrec_sent) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    if (reason_code == 0) {
        mqttproto_packet pkt;
        if (mqttproto_decode(p->msg->blob, p->msg->len, NULL, &pkt) <= 0) {
            return MQTTPROTO_ERR_INVALID_ARGUMENT; /* cannot happen */
        }
        int e = accept_message(c, p->msg, pkt.publish.topic, &reason_code);
        if (e != 0 || (reason_code != 0 && p->qos == 2)) {
            if (p->qos == 2) {
                idmap_remove(&c->session->qos2_in, p->packet_id);
            }
            if (e != 0) {
                return e;
            }
        }
    }
    if (prev != NULL) {
        prev->next = p->next;
    } else {
        c->pending_pubs = p->next;
    }
    if (c->pending_pubs_tail == p) {
        c->pending_pubs_tail = prev;
    }
    if (p->qos > 0) {
        c->pending_count--;
    }
    ack_publish(c, p->qos, p->packet_id, reason_code);
    broker_msg_release(b, p->msg);
    mem_free(&b->mem, p);
    broker_mark_writable(b, c);
    return 0;
}

static int inbound_pubrel(mqttproto_broker_client *c, const mqttproto_packet *pkt)
{
    uint16_t id = pkt->pubrel.packet_id;
    if (bytebuf_reserve(&c->out, &c->broker->mem, 5) == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    if (idmap_remove(&c->session->qos2_in, id) == NULL) {
        return conn_write_short(c, 0x70, id, MQTTPROTO_RC_PACKET_IDENTIFIER_NOT_FOUND);
    }
    store_inbound(c->broker, c->session, id, false);
    return conn_write_short(c, 0x70, id, 0); /* [MQTT-4.3.3-11] [MQTT-4.3.3-12] */
}

/* ---- SUBSCRIBE and UNSUBSCRIBE ---- */

static int inbound_subscribe(mqttproto_broker_client *c, const mqttproto_packet *pkt, size_t off,
                             size_t len)
{
    mqttproto_broker *b = c->broker;
    if (!b->settings.subscription_identifier_available &&
        mqttproto_properties_has(&pkt->subscribe.properties,
                                 MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER)) {
        return MQTTPROTO_ERR_SUBSCRIPTION_IDS_NOT_SUPPORTED;
    }
    if (conn_reserve_events(c, 1) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    /* The packet, then room for one reason code per filter. */
    size_t count = pkt->subscribe.subscriptions.count;
    struct pending_subscribe *ps = mem_alloc(&b->mem, sizeof *ps + len + count);
    if (ps == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    ps->packet_id = pkt->subscribe.packet_id;
    ps->len = len;
    ps->done = 0;
    ps->held = NULL;
    memcpy(ps->bytes, bytebuf_data(&c->in) + off, len);
    /* Answered in the order they came. */
    struct pending_subscribe **pp = &c->pending_subs;
    while (*pp != NULL) {
        pp = &(*pp)->next;
    }
    ps->next = NULL;
    *pp = ps;
    struct conn_event ev = conn_new_event(MQTTPROTO_BROKER_EVENT_SUBSCRIBE, off, len);
    ev.packet_id = ps->packet_id;
    (void)conn_push_event(c, &ev);
    return 0;
}

struct retained_ctx {
    mqttproto_broker *b;
    struct session *s;
    uint8_t qos;
    uint32_t subid;
    uint64_t now_ms;
    int error;
    struct delivery *head, *tail; /* made, not queued yet (linked by next) */
};

static void queue_retained(void *ctx, mqttproto_str topic, void *msg)
{
    (void)topic;
    struct retained_ctx *r = ctx;
    struct bmsg *m = msg;
    if (r->error != 0 || (m->expires_at != 0 && m->expires_at <= r->now_ms)) {
        return; /* [MQTT-3.3.2-5] expired: not sent */
    }
    uint8_t qos = m->qos < r->qos ? m->qos : r->qos;
    /* Sent because of a subscription: RETAIN 1 [MQTT-3.3.1-9]. */
    int e;
    struct delivery *d =
        delivery_new(r->b, r->s, m, qos, true, &r->subid, r->subid != 0 ? 1 : 0, false, &e);
    if (d == NULL) {
        r->error = e;
        return;
    }
    d->next = NULL;
    if (r->tail != NULL) {
        r->tail->next = d;
    } else {
        r->head = d;
    }
    r->tail = d;
}

/* Keep the retained deliveries made for a subscription until the SUBACK
   (@p held), or discard them (NULL). */
static void retained_finish(struct retained_ctx *r, struct delivery **held)
{
    if (held != NULL) {
        while (*held != NULL) {
            held = &(*held)->next;
        }
        *held = r->head;
    } else {
        conn_discard_held(r->b, r->head);
    }
    r->head = r->tail = NULL;
}

/* Free a chain of deliveries never queued (linked by next). */
void conn_discard_held(mqttproto_broker *b, struct delivery *d)
{
    while (d != NULL) {
        struct delivery *next = d->next;
        delivery_discard(b, d);
        d = next;
    }
}

/* One subscription of a SUBSCRIBE: stored (the granted QoS), the failure
   code, or MQTTPROTO_ERR_NO_MEMORY with nothing changed. */
static int subscribe_one(mqttproto_broker_client *c, const mqttproto_subscription *sub,
                         uint8_t requested, uint32_t subid, struct delivery **held)
{
    mqttproto_broker *b = c->broker;
    const mqttproto_broker_settings *set = &b->settings;
    struct session *s = c->session;
    if (requested >= 0x80) {
        return requested;
    }
    mqttproto_str share, inner;
    bool shared = mqttproto_shared_filter_parse(sub->topic_filter, &share, &inner) == 1;
    if (shared && !set->shared_subscription_available) {
        return MQTTPROTO_RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED;
    }
    if (!set->wildcard_subscription_available && (memchr(inner.data, '+', inner.len) != NULL ||
                                                  memchr(inner.data, '#', inner.len) != NULL)) {
        return MQTTPROTO_RC_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED;
    }
    if (set->max_topic_levels != 0 && topic_levels(inner) > set->max_topic_levels) {
        return MQTTPROTO_RC_TOPIC_FILTER_INVALID;
    }
    bool existed = strmap_find(&s->subs, sub->topic_filter.data, sub->topic_filter.len) != NULL;
    if (!existed && s->subs.count >= set->max_subscriptions_per_session) {
        return MQTTPROTO_RC_QUOTA_EXCEEDED;
    }
    /* [MQTT-3.2.2-10] [MQTT-3.8.4-7] the lower of what was asked, what the
       application granted and what the server supports */
    uint8_t granted = requested;
    if ((uint8_t)sub->max_qos < granted) {
        granted = (uint8_t)sub->max_qos;
    }
    if (set->maximum_qos < granted) {
        granted = set->maximum_qos;
    }
    struct subtrie_sub entry;
    memset(&entry, 0, sizeof entry);
    entry.subscriber = s;
    entry.subscription_identifier = subid;
    entry.qos = granted;
    entry.no_local = sub->no_local;
    entry.retain_as_published = sub->retain_as_published;
    entry.retain_handling = (uint8_t)sub->retain_handling;
    /* [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] [MQTT-3.8.4-4]; no
       retained messages for a shared subscription. The session holds the
       filter exactly when the trie holds it for the session, so a
       subscription is new when the session did not hold it. The retained
       deliveries are made first, and queued once the subscription is
       stored: out of memory, nothing changed. */
    bool send_retained =
        !shared && (entry.retain_handling == MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE ||
                    (entry.retain_handling == MQTTPROTO_RETAIN_SEND_IF_NEW && !existed));
    struct retained_ctx r = {b, s, granted, subid, c->now_ms, 0, NULL, NULL};
    if (send_retained) {
        int e = retained_match(&b->retained, inner, queue_retained, &r);
        if (e == MQTTPROTO_ERR_NO_MEMORY || r.error != 0) {
            retained_finish(&r, NULL);
            return MQTTPROTO_ERR_NO_MEMORY;
        }
    }
    if (!existed && strmap_insert(&s->subs, &b->mem, sub->topic_filter.data, sub->topic_filter.len,
                                  0) == NULL) {
        retained_finish(&r, NULL);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    /* [MQTT-3.8.4-3] the same filter replaces the subscription's options */
    int e = subtrie_add(&b->subs, sub->topic_filter, &entry, NULL);
    if (e != 0) {
        if (!existed) {
            strmap_remove(&s->subs, &b->mem, sub->topic_filter.data, sub->topic_filter.len);
        }
        retained_finish(&r, NULL);
        return e == MQTTPROTO_ERR_NO_MEMORY ? e : MQTTPROTO_RC_UNSPECIFIED_ERROR;
    }
    store_subscription_put(b, s, sub->topic_filter, &entry);
    retained_finish(&r, held);
    return granted;
}

int mqttproto_broker_client_acknowledge_subscribe(mqttproto_broker_client *c, uint16_t packet_id,
                                                  const uint8_t *reason_codes, size_t count)
{
    if (c == NULL || (reason_codes == NULL && count > 0)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    struct pending_subscribe **pp = &c->pending_subs;
    while (*pp != NULL && (*pp)->packet_id != packet_id) {
        pp = &(*pp)->next;
    }
    struct pending_subscribe *ps = *pp;
    if (ps == NULL) {
        return MQTTPROTO_ERR_UNKNOWN_PACKET_ID;
    }
    if (c->state != MQTTPROTO_BROKER_CLIENT_CONNECTED) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    mqttproto_packet pkt;
    if (mqttproto_decode(ps->bytes, ps->len, &c->in_opts, &pkt) <= 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT; /* cannot happen */
    }
    const mqttproto_subscribe *sp = &pkt.subscribe;
    if (count != sp->subscriptions.count) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT; /* [MQTT-3.8.4-6] */
    }
    for (size_t i = 0; i < count; i++) {
        if (!mqttproto_reason_code_allowed(reason_codes[i], MQTTPROTO_PACKET_SUBACK)) {
            return MQTTPROTO_ERR_INVALID_ARGUMENT;
        }
    }
    mqttproto_broker *b = c->broker;
    uint8_t *codes = ps->bytes + ps->len;
    /* SUBACK: fixed header (at most 5), packet id, empty properties, codes. */
    if (bytebuf_reserve(&c->out, &b->mem, count + 8) == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    uint32_t subid =
        mqttproto_properties_has(&sp->properties, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER)
            ? sp->properties.subscription_identifier
            : 0;
    size_t cursor = 0;
    mqttproto_subscription sub;
    /* [MQTT-3.8.4-5] each filter as if alone, answered together; after
       running out of memory, called again, it goes on with the filter that
       met it (those before are not done twice) */
    for (size_t i = 0; i < count && mqttproto_subscriptions_next(&sp->subscriptions, &cursor, &sub);
         i++) {
        if (i < ps->done) {
            continue;
        }
        int code = subscribe_one(c, &sub, reason_codes[i], subid, &ps->held);
        if (code < 0) {
            ps->done = i;
            return code;
        }
        /* 3.1.1 has one failure code, 0x80 [MQTT-3.9.3-2] (3.1.1). */
        codes[i] = c->out_opts.protocol_version != MQTTPROTO_PROTOCOL_V5 && code >= 0x80
                       ? MQTTPROTO_RC_UNSPECIFIED_ERROR
                       : (uint8_t)code;
    }
    mqttproto_packet ack;
    memset(&ack, 0, sizeof ack);
    ack.type = MQTTPROTO_PACKET_SUBACK;
    ack.suback.packet_id = packet_id; /* [MQTT-3.8.4-1] [MQTT-3.8.4-2] */
    mqttproto_properties_init(&ack.suback.properties);
    ack.suback.reason_codes = codes;
    ack.suback.reason_code_count = count;
    (void)conn_write_packet(c, &ack);
    for (struct delivery *d = ps->held; d != NULL;) {
        struct delivery *next = d->next;
        (void)session_link(b, c->session, d);
        d = next;
    }
    *pp = ps->next;
    mem_free(&b->mem, ps);
    broker_mark_writable(b, c);
    return 0;
}

static int inbound_unsubscribe(mqttproto_broker_client *c, const mqttproto_packet *pkt, size_t off,
                               size_t len)
{
    mqttproto_broker *b = c->broker;
    struct session *s = c->session;
    const mqttproto_unsubscribe *u = &pkt->unsubscribe;
    size_t count = u->topic_filters.count;
    size_t at = bytebuf_size(&c->arena);
    if (conn_reserve_events(c, 1) != 0 || bytebuf_reserve(&c->arena, &b->mem, count) == NULL ||
        bytebuf_reserve(&c->out, &b->mem, count + 8) == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    uint8_t *codes = c->arena.data + c->arena.len;
    size_t cursor = 0;
    mqttproto_str f;
    /* [MQTT-3.10.4-6] each filter as if alone, answered together */
    for (size_t i = 0; i < count && mqttproto_topic_filters_next(&u->topic_filters, &cursor, &f);
         i++) {
        /* [MQTT-3.10.4-1] byte-for-byte; [MQTT-3.10.4-2] no new messages;
           [MQTT-3.10.4-3] deliveries under way continue */
        if (strmap_remove(&s->subs, &b->mem, f.data, f.len)) {
            subtrie_remove(&b->subs, f, s);
            store_subscription_delete(b, s, f);
            codes[i] = MQTTPROTO_RC_SUCCESS;
        } else {
            /* [MQTT-3.11.3-1] in the order of the filters */
            codes[i] = MQTTPROTO_RC_NO_SUBSCRIPTION_EXISTED;
        }
    }
    bytebuf_commit(&c->arena, count);
    mqttproto_packet ack;
    memset(&ack, 0, sizeof ack);
    ack.type = MQTTPROTO_PACKET_UNSUBACK;
    ack.unsuback.packet_id = u->packet_id; /* [MQTT-3.10.4-4] [MQTT-3.10.4-5] */
    mqttproto_properties_init(&ack.unsuback.properties);
    ack.unsuback.reason_codes = codes;
    ack.unsuback.reason_code_count = count;
    (void)conn_write_packet(c, &ack);
    struct conn_event ev = conn_new_event(MQTTPROTO_BROKER_EVENT_UNSUBSCRIBE, off, len);
    ev.packet_id = u->packet_id;
    ev.codes_off = (uint32_t)at;
    ev.codes_len = (uint32_t)count;
    (void)conn_push_event(c, &ev);
    return 0;
}

/* ---- DISCONNECT ---- */

static int inbound_disconnect(mqttproto_broker_client *c, const mqttproto_packet *pkt, size_t off,
                              size_t len)
{
    const mqttproto_disconnect *d = &pkt->disconnect;
    if (conn_reserve_events(c, 1) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    if (mqttproto_properties_has(&d->properties, MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL) &&
        c->state == MQTTPROTO_BROKER_CLIENT_CONNECTED) {
        uint32_t v = d->properties.session_expiry_interval;
        if (c->connect_session_expiry == 0 && v != 0) {
            /* MQTT 5.0 section 3.14.2.2.2: a Protocol Error */
            return MQTTPROTO_ERR_INVALID_PROPERTY_VALUE;
        }
        if (v > c->broker->settings.max_session_expiry) {
            v = c->broker->settings.max_session_expiry;
        }
        c->session->expiry_interval = v;
        c->session_expiry = v;
    }
    /* [MQTT-3.1.2-10] a normal DISCONNECT drops the will; 0x04 keeps it */
    /* [MQTT-3.14.4-3] */
    c->will_cancelled = d->reason_code != MQTTPROTO_RC_DISCONNECT_WITH_WILL_MESSAGE;
    struct conn_event ev = conn_new_event(MQTTPROTO_BROKER_EVENT_DISCONNECTED, off, len);
    ev.reason_code = d->reason_code;
    (void)conn_push_event(c, &ev);
    conn_enter_closing(c);
    return 0;
}

/* ---- dispatch ---- */

static int dispatch_connected(mqttproto_broker_client *c, const mqttproto_packet *pkt, size_t off,
                              size_t len)
{
    switch (pkt->type) {
    case MQTTPROTO_PACKET_PUBLISH:
        return inbound_publish(c, pkt, off, len);
    case MQTTPROTO_PACKET_PUBACK:
        return conn_handle_puback(c, pkt);
    case MQTTPROTO_PACKET_PUBREC:
        return conn_handle_pubrec(c, pkt);
    case MQTTPROTO_PACKET_PUBREL:
        return inbound_pubrel(c, pkt);
    case MQTTPROTO_PACKET_PUBCOMP:
        return conn_handle_pubcomp(c, pkt);
    case MQTTPROTO_PACKET_SUBSCRIBE:
        return inbound_subscribe(c, pkt, off, len);
    case MQTTPROTO_PACKET_UNSUBSCRIBE:
        return inbound_unsubscribe(c, pkt, off, len);
    case MQTTPROTO_PACKET_PINGREQ: {
        uint8_t *p = bytebuf_reserve(&c->out, &c->broker->mem, 2);
        if (p == NULL) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
        p[0] = 0xD0; /* [MQTT-3.12.4-1] */
        p[1] = 0x00;
        bytebuf_commit(&c->out, 2);
        return 0;
    }
    case MQTTPROTO_PACKET_DISCONNECT:
        return inbound_disconnect(c, pkt, off, len);
    case MQTTPROTO_PACKET_AUTH:
        return conn_handle_auth(c, pkt, off, len);
    case MQTTPROTO_PACKET_CONNECT:
        return MQTTPROTO_ERR_UNEXPECTED_PACKET; /* [MQTT-3.1.0-2] */
    default:
        /* CONNACK, SUBACK, UNSUBACK, PINGRESP go only to clients. */
        return MQTTPROTO_ERR_UNEXPECTED_PACKET;
    }
}

/* Whether a packet waits while the application decides on the CONNECT:
   only AUTH and DISCONNECT are looked at before CONNACK [MQTT-3.1.4-6]. */
static bool held_until_connack(const mqttproto_broker_client *c, uint8_t first)
{
    uint8_t type = (uint8_t)(first >> 4);
    return c->state == MQTTPROTO_BROKER_CLIENT_AUTHENTICATING && type != MQTTPROTO_PACKET_AUTH &&
           type != MQTTPROTO_PACKET_DISCONNECT;
}

int conn_process_input(mqttproto_broker_client *c)
{
    while (c->state != MQTTPROTO_BROKER_CLIENT_CLOSING) {
        size_t avail = bytebuf_size(&c->in) - c->parsed;
        if (avail == 0) {
            break;
        }
        const uint8_t *p = bytebuf_data(&c->in) + c->parsed;
        if (held_until_connack(c, p[0])) {
            break;
        }
        bool awaiting = c->state == MQTTPROTO_BROKER_CLIENT_AWAIT_CONNECT;
        bool is_connect = awaiting && p[0] == 0x10;
        ptrdiff_t size = mqttproto_frame_size(p, avail, &c->in_opts, NULL);
        if (size == 0 || (size > 0 && (size_t)size > avail)) {
            break;
        }
        mqttproto_packet pkt;
        ptrdiff_t n = size < 0 ? size : mqttproto_decode(p, (size_t)size, &c->in_opts, &pkt);
        int e;
        if (n < 0 && is_connect) {
            /* The refusal takes the form of the version the CONNECT names. */
            uint8_t v = connect_level(p, avail);
            c->in_opts.protocol_version = v;
            c->out_opts.protocol_version = v;
        }
        if (n < 0) {
            /* [MQTT-3.1.4-1] a CONNECT that does not conform is refused */
            e = (int)n;
        } else if (awaiting) {
            /* [MQTT-3.1.0-1] the first packet is a CONNECT */
            if (pkt.type == MQTTPROTO_PACKET_CONNECT) {
                /* The connection's version is its CONNECT's: 5, 3.1.1 or 3.1. */
                c->in_opts.protocol_version = pkt.connect.protocol_version;
                c->out_opts.protocol_version = pkt.connect.protocol_version;
            }
            e = pkt.type == MQTTPROTO_PACKET_CONNECT
                    ? conn_handle_connect(c, &pkt, c->parsed, (size_t)n)
                    : MQTTPROTO_ERR_UNEXPECTED_PACKET;
        } else if (c->state == MQTTPROTO_BROKER_CLIENT_AUTHENTICATING) {
            e = pkt.type == MQTTPROTO_PACKET_AUTH
                    ? conn_handle_auth(c, &pkt, c->parsed, (size_t)n)
                    : inbound_disconnect(c, &pkt, c->parsed, (size_t)n);
        } else {
            e = dispatch_connected(c, &pkt, c->parsed, (size_t)n);
        }
        if (e == MQTTPROTO_ERR_NO_MEMORY) {
            return e;
        }
        if (e != 0) {
            return fail_input(c, e, is_connect && e != MQTTPROTO_ERR_UNEXPECTED_PACKET);
        }
        c->parsed += (size_t)n;
        c->last_recv_ms = c->now_ms; /* [MQTT-3.1.2-22] any packet counts */
    }
    return 0;
}

ptrdiff_t mqttproto_broker_client_feed_bytes(mqttproto_broker_client *c, const uint8_t *data,
                                             size_t len, uint64_t now_ms)
{
    if (c == NULL || (data == NULL && len > 0)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (c->state == MQTTPROTO_BROKER_CLIENT_CLOSING) {
        return c->error != 0 ? c->error : MQTTPROTO_ERR_BAD_STATE;
    }
    conn_clock(c, now_ms);
    conn_release_event_memory(c);
    size_t held = bytebuf_size(&c->in);
    size_t limit = input_limit(c);
    size_t take = held >= limit ? 0 : limit - held;
    if (take > len) {
        take = len;
    }
    if (take > 0 && bytebuf_append(&c->in, &c->broker->mem, data, take) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    int e = conn_process_input(c);
    if (e == MQTTPROTO_ERR_NO_MEMORY) {
        /* Give back the new bytes the failed packet starts in or after, so
           that the caller feeds them again: a partial take, or none. */
        size_t keep = c->parsed > held ? c->parsed : held;
        c->in.len = c->in.head + keep;
        return keep > held ? (ptrdiff_t)(keep - held) : e;
    }
    return e < 0 ? e : (ptrdiff_t)take;
}
