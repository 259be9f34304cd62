/*
 * The client's QoS flows: outbound PUBLISH queued in order and sent as the
 * server's Receive Maximum allows, with topic aliases, retransmission on a
 * resumed session; inbound PUBLISH acknowledged in arrival order, QoS 2
 * exactly once, inbound topic aliases.
 */
#include "client_internal.h"
#include "codec_internal.h"

#include <string.h>

/* ---- packet identifiers ---- */

uint16_t client_free_packet_id(const mqttproto_client *c)
{
    /* [MQTT-2.2.1-3] [MQTT-4.3.2-1] [MQTT-4.3.3-1] unused by any flow. */
    uint16_t id = c->next_id;
    for (uint32_t tries = 0; tries < 65535u; tries++) {
        if (idmap_get(&c->ids, id) == NULL) {
            return id;
        }
        id = (uint16_t)(id == 65535u ? 1u : id + 1u);
    }
    return 0;
}

void client_take_packet_id(mqttproto_client *c, uint16_t id)
{
    c->next_id = (uint16_t)(id == 65535u ? 1u : id + 1u);
}

/* ---- the outbound list ---- */

static struct out_msg *msg_alloc(mqttproto_client *c, size_t size)
{
    for (size_t i = c->spare_count; i > 0; i--) {
        struct out_msg *m = c->spare[i - 1];
        if (m->cap >= size) {
            c->spare[i - 1] = c->spare[--c->spare_count];
            return m;
        }
    }
    size_t cap = size < 256 ? 256 : size;
    struct out_msg *m = mem_alloc(&c->mem, sizeof *m + cap);
    if (m != NULL) {
        m->cap = cap;
    }
    return m;
}

static void msg_free(mqttproto_client *c, struct out_msg *m)
{
    if (m->cap <= OUT_SPARE_SIZE && c->spare_count < OUT_SPARE_MAX) {
        c->spare[c->spare_count++] = m;
        return;
    }
    mem_free(&c->mem, m);
}

static void list_remove(mqttproto_client *c, struct out_msg *m)
{
    if (c->out_cursor == m) {
        c->out_cursor = m->next;
    }
    if (m->prev != NULL) {
        m->prev->next = m->next;
    } else {
        c->out_head = m->next;
    }
    if (m->next != NULL) {
        m->next->prev = m->prev;
    } else {
        c->out_tail = m->prev;
    }
    c->out_count--;
    c->out_bytes -= m->len;
}

/* Remove and free a message whose flow ended. */
static void msg_end(mqttproto_client *c, struct out_msg *m)
{
    if (m->wired && m->qos > 0 && c->inflight > 0) {
        c->inflight--;
    }
    list_remove(c, m);
    if (m->packet_id != 0) {
        idmap_remove(&c->ids, m->packet_id);
    }
    msg_free(c, m);
}

static int push_publish_event(mqttproto_client *c, uint8_t type, uint16_t id, uint8_t rc, int err,
                              size_t off, size_t len)
{
    struct ev_rec ev = {0};
    ev.type = type;
    ev.packet_id = id;
    ev.reason_code = rc;
    ev.error = err;
    ev.pkt_off = off;
    ev.pkt_len = len;
    ev.topic_off = SIZE_MAX;
    return client_push_event(c, &ev);
}

/* ---- publish() ---- */

static bool props_forbidden(const mqttproto_properties *p)
{
    /* The client assigns Topic Aliases itself; a Subscription Identifier is
       the server's to send [MQTT-3.3.4-6]. */
    return mqttproto_properties_has(p, MQTTPROTO_PROP_TOPIC_ALIAS) ||
           mqttproto_properties_has(p, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER) ||
           p->subscription_identifier_count > 0;
}

int32_t mqttproto_client_publish(mqttproto_client *c, mqttproto_str topic, mqttproto_bin payload,
                                 mqttproto_qos qos, bool retain, const mqttproto_properties *props)
{
    if (c == NULL || (unsigned)qos > 2u || (topic.data == NULL && topic.len > 0) ||
        (payload.data == NULL && payload.len > 0)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (c->state == MQTTPROTO_CLIENT_FAILED) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    if (client_is_v3(c) && client_props_given(props)) {
        return MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION; /* no properties before MQTT 5 */
    }
    if (props != NULL && props_forbidden(props)) {
        return MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED;
    }
    bool connected = c->state == MQTTPROTO_CLIENT_CONNECTED;
    if (connected && retain && !c->server.retain_available) {
        return MQTTPROTO_ERR_RETAIN_NOT_SUPPORTED; /* [MQTT-3.2.2-14] */
    }
    if (connected && (unsigned)qos > c->server.maximum_qos) {
        qos = (mqttproto_qos)c->server.maximum_qos; /* [MQTT-3.2.2-11] */
    }
    if (topic.len == 0) {
        return MQTTPROTO_ERR_TOPIC_NAME_INVALID;
    }
    if (c->out_count >= c->settings.max_queued_messages) {
        return MQTTPROTO_ERR_QUEUE_FULL;
    }
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_PUBLISH;
    pkt.publish.topic = topic;
    pkt.publish.payload = payload;
    pkt.publish.qos = qos;
    pkt.publish.retain = retain;
    pkt.publish.packet_id = qos > 0 ? 1 : 0; /* the size does not depend on it */
    if (props != NULL) {
        pkt.publish.properties = *props;
    } else {
        mqttproto_properties_init(&pkt.publish.properties);
    }
    /* [MQTT-3.2.2-15] over the server's limit: never sent. The message is
       kept in the MQTT 5 form whatever the connection's version; a 3.1.1
       connection gets it re-encoded by write_publish(). */
    mqttproto_codec_options limit;
    mqttproto_codec_options_default(&limit);
    limit.maximum_packet_size = connected ? c->out_opts.maximum_packet_size : 0;
    ptrdiff_t size = mqttproto_encoded_size(&pkt, &limit);
    if (size < 0) {
        return (int32_t)size;
    }
    if ((size_t)size > c->settings.max_queued_bytes - c->out_bytes ||
        c->out_bytes > c->settings.max_queued_bytes) {
        return MQTTPROTO_ERR_QUEUE_FULL;
    }
    uint16_t id = 0;
    if (qos > 0) {
        id = client_free_packet_id(c);
        if (id == 0) {
            return MQTTPROTO_ERR_PACKET_ID_EXHAUSTED;
        }
        pkt.publish.packet_id = id;
    }
    struct out_msg *m = msg_alloc(c, (size_t)size);
    if (m == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    size_t cap = m->cap;
    memset(m, 0, sizeof *m);
    m->cap = cap;
    m->kind = FLOW_PUBLISH;
    m->qos = (uint8_t)qos;
    m->stage = OUT_QUEUED;
    m->retain = retain;
    m->packet_id = id;
    m->len = (size_t)size;
    ptrdiff_t n = mqttproto_encode(&pkt, NULL, m->blob, m->len);
    if (n != size || (id != 0 && idmap_put(&c->ids, &c->mem, id, m) != 0)) {
        msg_free(c, m);
        return n < 0 ? (int32_t)n : MQTTPROTO_ERR_NO_MEMORY;
    }
    if (id != 0) {
        client_take_packet_id(c, id);
    }
    /* The topic follows the fixed header (1 byte + its length VBI). */
    size_t hdr = 2;
    while (m->blob[hdr - 1] & 0x80u) {
        hdr++;
    }
    m->topic_off = hdr + 2;
    m->topic_len = topic.len;
    m->prev = c->out_tail;
    if (c->out_tail != NULL) {
        c->out_tail->next = m;
    } else {
        c->out_head = m;
    }
    c->out_tail = m;
    if (c->out_cursor == NULL) {
        c->out_cursor = m;
    }
    c->out_count++;
    c->out_bytes += m->len;
    return id;
}

/* ---- sending ---- */

static int write_ack(mqttproto_client *c, mqttproto_packet_type type, uint16_t id, uint8_t rc);

static int write_pubrel(mqttproto_client *c, uint16_t id, uint8_t rc)
{
    return write_ack(c, MQTTPROTO_PACKET_PUBREL, id, rc);
}

/* The alias for @p m's topic on this connection: its number, and whether
   the topic must still be sent with it. 0 when none applies. */
static uint16_t alias_for(mqttproto_client *c, const struct out_msg *m, bool *first)
{
    *first = false;
    if (c->out_alias_limit == 0) {
        return 0; /* [MQTT-3.2.2-18] */
    }
    const char *topic = (const char *)m->blob + m->topic_off;
    struct strmap_entry *e = strmap_find(&c->out_aliases, topic, m->topic_len);
    if (e != NULL) {
        return (uint16_t)e->value;
    }
    if (c->out_aliases.count >= c->out_alias_limit) {
        return 0; /* [MQTT-3.2.2-17] [MQTT-3.3.2-9] aliases are never reassigned */
    }
    *first = true;
    return (uint16_t)(c->out_aliases.count + 1);
}

/*
 * Write @p m as the server's limits want it now. Returns 0, a local error
 * that ends the message (too large, retain refused), or NO_MEMORY.
 */
static int write_publish(mqttproto_client *c, struct out_msg *m)
{
    if (m->retain && !c->server.retain_available) {
        return MQTTPROTO_ERR_RETAIN_NOT_SUPPORTED; /* [MQTT-3.2.2-14] */
    }
    bool first = false;
    uint16_t alias = alias_for(c, m, &first);
    bool downgrade = m->qos > c->server.maximum_qos;
    if (alias == 0 && !downgrade && !client_is_v3(c)) {
        if (m->len > c->server.maximum_packet_size) {
            return MQTTPROTO_ERR_PACKET_TOO_LARGE; /* [MQTT-3.2.2-15] */
        }
        if (bytebuf_append(&c->out, &c->mem, m->blob, m->len) != 0) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
        if (m->ever_sent) {
            /* [MQTT-3.3.1-1] [MQTT-3.3.1-3] DUP only on a retransmission;
               [MQTT-4.3.1-1] [MQTT-4.3.2-2] [MQTT-4.3.3-2] never on a first
               send or at QoS 0 (publish() encoded DUP 0). */
            c->out.data[c->out.len - m->len] |= 0x08u;
        }
        return 0;
    }
    mqttproto_codec_options any;
    mqttproto_codec_options_default(&any);
    mqttproto_packet pkt;
    if (mqttproto_decode(m->blob, m->len, &any, &pkt) <= 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT; /* cannot happen: we encoded it */
    }
    mqttproto_publish *p = &pkt.publish;
    if (downgrade) {
        p->qos = (mqttproto_qos)c->server.maximum_qos; /* [MQTT-3.2.2-11] */
        if (p->qos == MQTTPROTO_QOS_AT_MOST_ONCE) {
            p->packet_id = 0;
        }
    }
    p->dup = m->ever_sent && p->qos > 0;
    mqttproto_packet plain = pkt;
    if (alias != 0) {
        p->properties.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_TOPIC_ALIAS);
        p->properties.topic_alias = alias;
        if (!first) {
            p->topic.len = 0;
        }
    }
    ptrdiff_t size = mqttproto_encoded_size(&pkt, &c->out_opts);
    if (size == MQTTPROTO_ERR_PACKET_TOO_LARGE && alias != 0) {
        /* The alias would push it over the limit: send the topic alone. */
        pkt = plain;
        alias = 0;
        size = mqttproto_encoded_size(&pkt, &c->out_opts);
    }
    if (size < 0) {
        return (int)size;
    }
    if (alias != 0 && first &&
        strmap_insert(&c->out_aliases, &c->mem, pkt.publish.topic.data, m->topic_len, alias) ==
            NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    uint8_t *dst = bytebuf_reserve(&c->out, &c->mem, (size_t)size);
    if (dst == NULL) {
        if (alias != 0 && first) {
            strmap_remove(&c->out_aliases, &c->mem, pkt.publish.topic.data, m->topic_len);
        }
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    bytebuf_commit(&c->out, (size_t)mqttproto_encode(&pkt, &c->out_opts, dst, (size_t)size));
    return 0;
}

void client_out_pump(mqttproto_client *c)
{
    while (c->out_cursor != NULL) {
        struct out_msg *m = c->out_cursor;
        if (m->stage == OUT_AWAIT_PUBCOMP) {
            /* [MQTT-4.4.0-1] a resumed session re-sends the PUBREL. */
            if (write_pubrel(c, m->packet_id, MQTTPROTO_RC_SUCCESS) != 0) {
                return;
            }
            c->inflight++;
            m->wired = true;
            c->out_cursor = m->next;
            continue;
        }
        if (m->qos > 0 && c->inflight >= c->server.receive_maximum) {
            /* [MQTT-3.3.4-7] [MQTT-4.9.0-1] [MQTT-4.9.0-2] the quota starts at
               the server's Receive Maximum; acknowledgements and other
               packets are written apart and never wait [MQTT-3.3.4-8]
               [MQTT-4.9.0-3]. */
            return;
        }
        if (client_reserve_events(c, 1) != 0) {
            return;
        }
        int e = write_publish(c, m);
        if (e == MQTTPROTO_ERR_NO_MEMORY) {
            return;
        }
        if (e != 0) {
            (void)push_publish_event(c, MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED, m->packet_id, 0, e,
                                     0, 0);
            msg_end(c, m);
            continue;
        }
        c->out_cursor = m->next;
        if (m->qos == 0) {
            msg_end(c, m);
            continue;
        }
        if (c->server.maximum_qos == 0) {
            /* Sent at QoS 0 after all: nothing will acknowledge it. */
            (void)push_publish_event(c, MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED, m->packet_id, 0,
                                     0, 0, 0);
            msg_end(c, m);
            continue;
        }
        if (m->qos > c->server.maximum_qos) {
            /* Sent at the server's Maximum QoS [MQTT-3.2.2-11]: so is every
               retransmission, which copies the blob when it needs no alias.
               The packet identifier stays, so does the size. */
            m->qos = c->server.maximum_qos;
            m->blob[0] = (uint8_t)((m->blob[0] & ~0x06u) | (unsigned)m->qos << 1);
        }
        /* [MQTT-4.3.2-3] [MQTT-4.3.3-3] held until acknowledged;
           [MQTT-4.3.3-7] the client applies no Message Expiry to what it
           sent, so the flow runs to its end whatever the interval. */
        m->ever_sent = true;
        m->wired = true;
        m->stage = OUT_AWAIT_ACK;
        c->inflight++;
    }
}

/* ---- acknowledgements of our PUBLISH ---- */

static struct out_msg *find_out(mqttproto_client *c, uint16_t id)
{
    struct out_msg *m = idmap_get(&c->ids, id);
    return m != NULL && m->kind == FLOW_PUBLISH && m->wired ? m : NULL;
}

int client_handle_puback(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len)
{
    struct out_msg *m = find_out(c, pkt->puback.packet_id); /* [MQTT-2.2.1-5] */
    if (m == NULL || m->qos != 1 || m->stage != OUT_AWAIT_ACK) {
        return MQTTPROTO_ERR_UNKNOWN_PACKET_ID;
    }
    uint8_t rc = pkt->puback.reason_code;
    /* [MQTT-4.4.0-2] a failure reason also ends the flow. */
    int e = push_publish_event(c,
                               rc < 0x80 ? MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED
                                         : MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED,
                               m->packet_id, rc, 0, off, len);
    if (e != 0) {
        return e;
    }
    msg_end(c, m);
    return 0;
}

int client_handle_pubrec(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len)
{
    uint16_t id = pkt->pubrec.packet_id;
    struct out_msg *m = find_out(c, id);
    if (m == NULL || m->qos != 2) {
        /* Not ours (any more): tell the server so. */
        return write_pubrel(c, id, MQTTPROTO_RC_PACKET_IDENTIFIER_NOT_FOUND);
    }
    if (m->stage == OUT_AWAIT_PUBCOMP) {
        return write_pubrel(c, id, MQTTPROTO_RC_SUCCESS);
    }
    uint8_t rc = pkt->pubrec.reason_code;
    if (rc >= 0x80) {
        /* [MQTT-4.4.0-2] refused: the flow ends, no PUBREL. */
        int e = push_publish_event(c, MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED, id, rc, 0, off, len);
        if (e != 0) {
            return e;
        }
        msg_end(c, m);
        return 0;
    }
    /* [MQTT-4.3.3-4] [MQTT-4.6.0-4] PUBREL in the order the PUBRECs came */
    int e = write_pubrel(c, id, MQTTPROTO_RC_SUCCESS);
    if (e != 0) {
        return e;
    }
    /* [MQTT-4.3.3-5] held until PUBCOMP; [MQTT-4.3.3-6] the PUBLISH is never
       re-sent */
    m->stage = OUT_AWAIT_PUBCOMP;
    return 0;
}

int client_handle_pubcomp(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len)
{
    struct out_msg *m = find_out(c, pkt->pubcomp.packet_id);
    if (m == NULL || m->qos != 2 || m->stage != OUT_AWAIT_PUBCOMP) {
        return MQTTPROTO_ERR_UNKNOWN_PACKET_ID;
    }
    uint8_t rc = pkt->pubcomp.reason_code;
    int e = push_publish_event(c,
                               rc < 0x80 ? MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED
                                         : MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED,
                               m->packet_id, rc, 0, off, len);
    if (e != 0) {
        return e;
    }
    msg_end(c, m);
    return 0;
}

/* ---- sessions ---- */

static void unwire_all(mqttproto_client *c)
{
    for (struct out_msg *m = c->out_head; m != NULL; m = m->next) {
        m->wired = false;
    }
    c->out_cursor = c->out_head;
    c->inflight = 0;
}

void client_out_connection_lost(mqttproto_client *c)
{
    /* Everything goes out again on the next connection, from the start. */
    unwire_all(c);
    /* Inbound messages the application has not acknowledged yet will be
       re-sent by the server; only QoS 2 awaiting PUBREL is session state. */
    struct in_msg *x = c->in_order_head;
    while (x != NULL) {
        struct in_msg *next = x->next_order;
        idmap_remove(&c->inbound, x->packet_id);
        mem_free(&c->mem, x);
        x = next;
    }
    c->in_order_head = c->in_order_tail = NULL;
}

/* [MQTT-4.4.0-1] [MQTT-4.6.0-1] a resumed session re-sends every unfinished
   PUBLISH and PUBREL with its identifier, in the original order: the list is
   in publish order and the pump walks it from the start. */
void client_out_resume(mqttproto_client *c)
{
    unwire_all(c);
}

static void free_inbound(mqttproto_client *c)
{
    if (c->inbound.keys == NULL) {
        return;
    }
    for (uint32_t i = 0; i <= c->inbound.mask; i++) {
        if (c->inbound.keys[i] != 0) {
            mem_free(&c->mem, c->inbound.vals[i]);
        }
    }
    idmap_free(&c->inbound, &c->mem);
    c->in_order_head = c->in_order_tail = NULL;
}

size_t client_out_session_events(const mqttproto_client *c)
{
    size_t lost = 0;
    for (const struct out_msg *m = c->out_head; m != NULL; m = m->next) {
        lost += m->ever_sent ? 1u : 0u;
    }
    return lost;
}

void client_out_discard_session(mqttproto_client *c)
{
    /* Messages never sent are not session state: they stay queued. */
    struct out_msg *m = c->out_head;
    while (m != NULL) {
        struct out_msg *next = m->next;
        if (m->ever_sent) {
            /* Room reserved by the caller. */
            (void)push_publish_event(c, MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED, m->packet_id, 0,
                                     MQTTPROTO_ERR_SESSION_LOST, 0, 0);
            msg_end(c, m);
        }
        m = next;
    }
    unwire_all(c);
    free_inbound(c);
}

void client_out_free(mqttproto_client *c)
{
    struct out_msg *m = c->out_head;
    while (m != NULL) {
        struct out_msg *next = m->next;
        mem_free(&c->mem, m);
        m = next;
    }
    c->out_head = c->out_tail = c->out_cursor = NULL;
    for (size_t i = 0; i < c->spare_count; i++) {
        mem_free(&c->mem, c->spare[i]);
    }
    c->spare_count = 0;
    free_inbound(c);
}

/* ---- inbound PUBLISH ---- */

void client_in_reset_aliases(mqttproto_client *c)
{
    if (c->in_aliases == NULL) {
        return;
    }
    for (size_t i = 0; i < c->settings.topic_alias_maximum; i++) {
        mem_free(&c->mem, c->in_aliases[i]);
        c->in_aliases[i] = NULL;
        c->in_alias_lens[i] = 0;
    }
}

/*
 * Resolve the Topic Alias of @p p: *topic is the full topic. When the PUBLISH
 * sets an alias, *copy receives a copy of its topic, recorded by
 * record_alias() once nothing else can fail (else freed).
 */
static int resolve_alias(mqttproto_client *c, const mqttproto_publish *p, mqttproto_str *topic,
                         char **copy)
{
    *topic = p->topic;
    *copy = NULL;
    if (!mqttproto_properties_has(&p->properties, MQTTPROTO_PROP_TOPIC_ALIAS)) {
        return 0;
    }
    uint16_t alias = p->properties.topic_alias;
    if (alias > c->our_topic_alias_maximum) {
        /* [MQTT-3.3.2-10] up to ours only; [MQTT-3.1.2-26] the server sends
           none above it. */
        return MQTTPROTO_ERR_TOPIC_ALIAS_OUT_OF_RANGE;
    }
    if (c->in_aliases == NULL) {
        size_t n = c->settings.topic_alias_maximum;
        c->in_aliases = mem_alloc(&c->mem, n * sizeof *c->in_aliases);
        c->in_alias_lens = mem_alloc(&c->mem, n * sizeof *c->in_alias_lens);
        if (c->in_aliases == NULL || c->in_alias_lens == NULL) {
            mem_free(&c->mem, c->in_aliases);
            mem_free(&c->mem, c->in_alias_lens);
            c->in_aliases = NULL;
            c->in_alias_lens = NULL;
            return MQTTPROTO_ERR_NO_MEMORY;
        }
        memset(c->in_aliases, 0, n * sizeof *c->in_aliases);
        memset(c->in_alias_lens, 0, n * sizeof *c->in_alias_lens);
    }
    size_t i = (size_t)alias - 1u;
    if (p->topic.len == 0) {
        if (c->in_aliases[i] == NULL) {
            return MQTTPROTO_ERR_TOPIC_ALIAS_UNKNOWN;
        }
        topic->data = c->in_aliases[i];
        topic->len = c->in_alias_lens[i];
        return 0;
    }
    *copy = mem_alloc(&c->mem, p->topic.len);
    if (*copy == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memcpy(*copy, p->topic.data, p->topic.len);
    return 0;
}

/* The alias of @p p now stands for its topic (in @p copy), replacing what
   it stood for (section 3.3.2.3.4). */
static void record_alias(mqttproto_client *c, const mqttproto_publish *p, char *copy)
{
    size_t i = (size_t)p->properties.topic_alias - 1u;
    mem_free(&c->mem, c->in_aliases[i]);
    c->in_aliases[i] = copy;
    c->in_alias_lens[i] = p->topic.len;
}

/*
 * The acknowledgements the client sends carry a reason code and no property:
 * never a Reason String or User Properties, so none of them can take one
 * over the server's Maximum Packet Size [MQTT-3.4.2-2] [MQTT-3.4.2-3]
 * [MQTT-3.5.2-2] [MQTT-3.5.2-3] [MQTT-3.6.2-2] [MQTT-3.6.2-3]
 * [MQTT-3.7.2-2] [MQTT-3.7.2-3]: 4 bytes on success, 5 otherwise.
 */
static void ack_packet(mqttproto_packet *pkt, mqttproto_packet_type type, uint16_t id, uint8_t rc)
{
    memset(pkt, 0, sizeof *pkt);
    pkt->type = type;
    pkt->puback.packet_id = id; /* [MQTT-2.2.1-5] */
    pkt->puback.reason_code = rc;
    mqttproto_properties_init(&pkt->puback.properties);
}

/* The encoded size of an acknowledgement written by write_ack(), or a
   negative error when it cannot be sent. */
static ptrdiff_t ack_size(const mqttproto_client *c, mqttproto_packet_type type, uint16_t id,
                          uint8_t rc)
{
    if (rc == MQTTPROTO_RC_SUCCESS) {
        return 4;
    }
    mqttproto_packet pkt;
    ack_packet(&pkt, type, id, rc);
    return mqttproto_encoded_size(&pkt, &c->out_opts);
}

static int write_ack(mqttproto_client *c, mqttproto_packet_type type, uint16_t id, uint8_t rc)
{
    if (rc == MQTTPROTO_RC_SUCCESS) {
        /* The usual acknowledgement: success and no properties, which the
           specification lets the sender shorten to the packet identifier
           alone (section 3.4.2.1): 4 bytes, no encoder needed. */
        uint8_t *p = bytebuf_reserve(&c->out, &c->mem, 4);
        if (p == NULL) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
        p[0] = (uint8_t)((unsigned)type << 4 | (type == MQTTPROTO_PACKET_PUBREL ? 2u : 0u));
        p[1] = 2;
        p[2] = (uint8_t)(id >> 8);
        p[3] = (uint8_t)id;
        bytebuf_commit(&c->out, 4);
        return 0;
    }
    mqttproto_packet pkt;
    ack_packet(&pkt, type, id, rc);
    return client_write_packet(c, &pkt);
}

static mqttproto_packet_type ack_type(const struct in_msg *x)
{
    return x->qos == 1 ? MQTTPROTO_PACKET_PUBACK : MQTTPROTO_PACKET_PUBREC;
}

/* Send the acknowledgements that are due, oldest first [MQTT-4.6.0-2]
   [MQTT-4.6.0-3]: all of them, or on an error none. */
static int flush_acks(mqttproto_client *c)
{
    size_t need = 0;
    for (const struct in_msg *x = c->in_order_head; x != NULL && x->stage == IN_ACK_READY;
         x = x->next_order) {
        ptrdiff_t size = ack_size(c, ack_type(x), x->packet_id, x->reason_code);
        if (size < 0) {
            return (int)size;
        }
        need += (size_t)size;
    }
    if (need == 0) {
        return 0;
    }
    /* With room for all of them, no write below can fail. */
    if (bytebuf_reserve(&c->out, &c->mem, need) == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    while (c->in_order_head != NULL && c->in_order_head->stage == IN_ACK_READY) {
        struct in_msg *x = c->in_order_head;
        (void)write_ack(c, ack_type(x), x->packet_id, x->reason_code);
        c->in_order_head = x->next_order;
        if (c->in_order_head == NULL) {
            c->in_order_tail = NULL;
        }
        if (x->qos == 2 && x->reason_code < 0x80) {
            x->stage = IN_AWAIT_PUBREL;
            x->next_order = NULL;
        } else {
            /* [MQTT-4.3.2-5] [MQTT-4.3.3-9] the identifier is free again */
            idmap_remove(&c->inbound, x->packet_id);
            mem_free(&c->mem, x);
        }
    }
    return 0;
}

int client_handle_publish(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len)
{
    const mqttproto_publish *p = &pkt->publish;
    uint16_t id = p->packet_id;
    struct in_msg *known = p->qos > 0 ? idmap_get(&c->inbound, id) : NULL;
    if (known != NULL && p->qos == 2 && known->qos == 2) {
        /* [MQTT-4.3.3-10] a retransmission: acknowledged again once ours is
           out, never delivered twice. */
        if (known->stage == IN_AWAIT_PUBREL) {
            return write_ack(c, MQTTPROTO_PACKET_PUBREC, id, MQTTPROTO_RC_SUCCESS);
        }
        return 0;
    }
    mqttproto_str topic;
    char *alias_copy;
    int e = resolve_alias(c, p, &topic, &alias_copy);
    if (e != 0) {
        return e;
    }
    bool tracked = p->qos > 0 && (c->settings.manual_ack || p->qos == 2);
    if (p->qos > 0 && known == NULL && c->inbound.count >= c->our_receive_maximum) {
        /* Counts the messages still unacknowledged, and QoS 2 awaiting
           PUBREL. */
        mem_free(&c->mem, alias_copy);
        return MQTTPROTO_ERR_RECEIVE_MAXIMUM_EXCEEDED;
    }
    /* Everything that can fail comes first, so that on NO_MEMORY nothing of
       the packet took effect: room for the acknowledgement and the event. */
    if (bytebuf_reserve(&c->out, &c->mem, 16) == NULL || client_reserve_events(c, 1) != 0) {
        mem_free(&c->mem, alias_copy);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    struct ev_rec ev = {0};
    ev.type = MQTTPROTO_CLIENT_EVENT_MESSAGE;
    ev.packet_id = id;
    ev.pkt_off = off;
    ev.pkt_len = len;
    ev.topic_off = SIZE_MAX;
    size_t arena_mark = c->arena.len;
    if (p->topic.len == 0) {
        /* The alias may be remapped before the event is read: keep a copy. */
        ev.topic_off = c->arena.len;
        ev.topic_len = topic.len;
        if (bytebuf_append(&c->arena, &c->mem, topic.data, topic.len) != 0) {
            mem_free(&c->mem, alias_copy);
            return MQTTPROTO_ERR_NO_MEMORY;
        }
    }
    struct in_msg *x = NULL;
    if (tracked && known == NULL) {
        x = mem_alloc(&c->mem, sizeof *x);
        if (x == NULL || idmap_put(&c->inbound, &c->mem, id, x) != 0) {
            mem_free(&c->mem, x);
            mem_free(&c->mem, alias_copy);
            c->arena.len = arena_mark; /* no event refers to the copy */
            return MQTTPROTO_ERR_NO_MEMORY;
        }
    }
    /* Nothing below can fail. */
    if (alias_copy != NULL) {
        record_alias(c, p, alias_copy);
    }
    if (x != NULL) {
        x->packet_id = id;
        x->qos = (uint8_t)p->qos;
        x->stage = c->settings.manual_ack ? IN_AWAIT_APP : IN_ACK_READY;
        x->reason_code = MQTTPROTO_RC_SUCCESS;
        x->next_order = NULL;
        if (c->in_order_tail != NULL) {
            c->in_order_tail->next_order = x;
        } else {
            c->in_order_head = x;
        }
        c->in_order_tail = x;
    }
    (void)client_push_event(c, &ev); /* room reserved above */
    /* [MQTT-4.5.0-2] [MQTT-3.3.4-1] every QoS 1/2 PUBLISH is acknowledged;
       the room reserved above holds it. */
    if (p->qos == 1 && !c->settings.manual_ack) {
        return write_ack(c, MQTTPROTO_PACKET_PUBACK, id, MQTTPROTO_RC_SUCCESS); /* [MQTT-4.3.2-4] */
    }
    if (p->qos == 2 && !c->settings.manual_ack) {
        return flush_acks(c); /* [MQTT-4.3.3-8] */
    }
    return 0;
}

int client_handle_pubrel(mqttproto_client *c, const mqttproto_packet *pkt)
{
    uint16_t id = pkt->pubrel.packet_id;
    struct in_msg *x = idmap_get(&c->inbound, id);
    if (x == NULL) {
        /* Already completed (e.g. before a reconnect). */
        return write_ack(c, MQTTPROTO_PACKET_PUBCOMP, id, MQTTPROTO_RC_PACKET_IDENTIFIER_NOT_FOUND);
    }
    if (x->qos != 2 || x->stage != IN_AWAIT_PUBREL) {
        return MQTTPROTO_ERR_UNEXPECTED_PACKET; /* no PUBREC was sent for it */
    }
    /* [MQTT-4.3.3-11]; [MQTT-4.3.3-13] whatever the message's expiry (the
       client expires nothing it received). */
    int e = write_ack(c, MQTTPROTO_PACKET_PUBCOMP, id, MQTTPROTO_RC_SUCCESS);
    if (e != 0) {
        return e;
    }
    idmap_remove(&c->inbound, id); /* [MQTT-4.3.3-12] */
    mem_free(&c->mem, x);
    return 0;
}

int mqttproto_client_acknowledge(mqttproto_client *c, uint16_t packet_id, uint8_t reason_code)
{
    if (c == NULL || !c->settings.manual_ack) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (c->state != MQTTPROTO_CLIENT_CONNECTED) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    struct in_msg *x = idmap_get(&c->inbound, packet_id);
    if (x == NULL || x->stage != IN_AWAIT_APP) {
        return MQTTPROTO_ERR_UNKNOWN_PACKET_ID;
    }
    mqttproto_packet_type type = x->qos == 1 ? MQTTPROTO_PACKET_PUBACK : MQTTPROTO_PACKET_PUBREC;
    if (!mqttproto_reason_code_allowed(reason_code, (int)type)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (client_is_v3(c) && reason_code != MQTTPROTO_RC_SUCCESS) {
        return MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION; /* a 3.1.1 ack has no reason code */
    }
    x->stage = IN_ACK_READY;
    x->reason_code = reason_code;
    int e = flush_acks(c);
    if (e != 0) {
        /* flush_acks() wrote nothing and freed nothing: the application may
           try again. */
        x->stage = IN_AWAIT_APP;
        x->reason_code = MQTTPROTO_RC_SUCCESS;
    }
    return e;
}
