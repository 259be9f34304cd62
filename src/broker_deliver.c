/*
 * Deliveries to a session: queued in order, sent on its connection as the
 * client's Receive Maximum and Maximum Packet Size allow, each with the
 * session's own packet identifier, re-sent with DUP on a resumed session,
 * and acknowledged by PUBACK, PUBREC/PUBREL/PUBCOMP.
 */
#include "broker_internal.h"
#include "codec_internal.h"

#include <string.h>

static void list_remove(struct session *s, struct delivery *d)
{
    if (s->cursor == d) {
        s->cursor = d->next;
    }
    if (d->prev != NULL) {
        d->prev->next = d->next;
    } else {
        s->head = d->next;
    }
    if (d->next != NULL) {
        d->next->prev = d->prev;
    } else {
        s->tail = d->prev;
    }
    s->count--;
    s->bytes -= d->msg->len;
}

static void delivery_end(mqttproto_broker *b, struct session *s, struct delivery *d)
{
    if (d->wired && d->qos > 0 && s->inflight > 0) {
        s->inflight--;
    }
    store_delivery_delete(b, s, d);
    list_remove(s, d);
    if (d->packet_id != 0) {
        idmap_remove(&s->ids, d->packet_id);
    }
    broker_msg_release(b, d->msg);
    mem_free(&b->mem, d);
}

static bool session_full(const mqttproto_broker *b, const struct session *s, const struct bmsg *m)
{
    return s->count >= b->settings.max_queued_messages ||
           m->len > b->settings.max_queued_bytes - s->bytes;
}

/* A delivery of @p m to @p s, not queued yet; NULL with *err 0 when it is
   not kept (QoS 0 offline, a full queue), or with MQTTPROTO_ERR_NO_MEMORY. */
struct delivery *delivery_new(mqttproto_broker *b, struct session *s, struct bmsg *m, uint8_t qos,
                              bool retain, const uint32_t *subids, uint8_t nsubids, bool shared,
                              int *err)
{
    *err = 0;
    if (s->conn == NULL && qos == 0) {
        return NULL; /* QoS 0 is not kept for an offline session */
    }
    if (session_full(b, s, m)) {
        b->stats.messages_dropped_queue++;
        return NULL;
    }
    struct delivery *d = mem_alloc(&b->mem, sizeof *d + (size_t)nsubids * sizeof(uint32_t));
    if (d == NULL) {
        *err = MQTTPROTO_ERR_NO_MEMORY;
        return NULL;
    }
    memset(d, 0, sizeof *d);
    d->msg = m;
    m->refs++;
    d->qos = qos;
    d->retain = retain;
    d->shared = shared;
    d->stage = D_QUEUED;
    d->nsubids = nsubids;
    if (nsubids > 0) {
        memcpy(d->subids, subids, (size_t)nsubids * sizeof(uint32_t));
    }
    return d;
}

/* Free a delivery delivery_new() made that was never queued. */
void delivery_discard(mqttproto_broker *b, struct delivery *d)
{
    broker_msg_release(b, d->msg);
    mem_free(&b->mem, d);
}

/* [MQTT-4.6.0-5] [MQTT-4.6.0-6] at the end of the queue: in arrival order */
void session_append(struct session *s, struct delivery *d)
{
    d->prev = s->tail;
    d->next = NULL;
    if (s->tail != NULL) {
        s->tail->next = d;
    } else {
        s->head = d;
    }
    s->tail = d;
    if (s->cursor == NULL) {
        s->cursor = d;
    }
    s->count++;
    s->bytes += d->msg->len;
}

/* Queue a delivery from delivery_new(): 1, or 0 when the queue filled up
   since (the delivery is then dropped). Never fails. */
int session_link(mqttproto_broker *b, struct session *s, struct delivery *d)
{
    struct bmsg *m = d->msg;
    if (session_full(b, s, m)) {
        b->stats.messages_dropped_queue++;
        delivery_discard(b, d);
        return 0;
    }
    session_append(s, d);
    b->stats.messages_delivered++;
    store_delivery_put(b, s, d);
    if (s->conn != NULL) {
        broker_mark_writable(b, s->conn);
    }
    return 1;
}

/* 1 when queued, 0 when dropped by a limit, or an error. */
int session_enqueue(mqttproto_broker *b, struct session *s, struct bmsg *m, uint8_t qos,
                    bool retain, const uint32_t *subids, uint8_t nsubids, bool shared)
{
    int err;
    struct delivery *d = delivery_new(b, s, m, qos, retain, subids, nsubids, shared, &err);
    return d == NULL ? err : session_link(b, s, d);
}

void session_free_deliveries(mqttproto_broker *b, struct session *s)
{
    struct delivery *d = s->head;
    while (d != NULL) {
        struct delivery *next = d->next;
        broker_msg_release(b, d->msg);
        mem_free(&b->mem, d);
        d = next;
    }
    s->head = s->tail = s->cursor = NULL;
    s->count = 0;
    s->bytes = 0;
    s->inflight = 0;
}

/* The next connection sends everything unfinished again, from the start;
   QoS 0 deliveries that did not go out are not kept. */
/* [MQTT-4.8.2-4] a shared QoS 2 delivery stays with its member. */
void session_resume(struct session *s)
{
    mqttproto_broker *b = s->broker;
    struct delivery *d = s->head;
    while (d != NULL) {
        struct delivery *next = d->next;
        d->wired = false;
        if (d->qos == 0) {
            delivery_end(b, s, d);
        }
        d = next;
    }
    s->cursor = s->head;
    s->inflight = 0;
}

/* [MQTT-2.2.1-4] non-zero, and not in use in this session */
static uint16_t free_packet_id(struct session *s)
{
    uint16_t id = s->next_id;
    for (uint32_t tries = 0; tries < 65535u; tries++) {
        if (idmap_get(&s->ids, id) == NULL) {
            s->next_id = (uint16_t)(id == 65535u ? 1u : id + 1u);
            return id;
        }
        id = (uint16_t)(id == 65535u ? 1u : id + 1u);
    }
    return 0;
}

/*
 * Encode delivery @p d into the connection's output. Returns 0, 1 when the
 * delivery must be dropped (over the client's Maximum Packet Size), or
 * NO_MEMORY.
 */
static int write_delivery(struct mqttproto_broker_client *c, struct delivery *d, uint64_t now)
{
    mqttproto_packet pkt;
    if (mqttproto_decode(d->msg->blob, d->msg->len, NULL, &pkt) <= 0) {
        return 1;
    }
    mqttproto_publish *p = &pkt.publish;
    p->qos = (mqttproto_qos)d->qos;
    p->packet_id = d->packet_id;
    p->retain = d->retain;
    p->dup = d->ever_sent && d->qos > 0; /* [MQTT-3.3.1-1] [MQTT-3.3.1-3] */
    if (d->msg->expires_at != 0) {
        /* [MQTT-3.3.2-6] the time that remains */
        uint64_t left = d->msg->expires_at > now ? d->msg->expires_at - now : 0;
        p->properties.message_expiry_interval = (uint32_t)((left + 999u) / 1000u);
    }
    if (d->nsubids > 0) {
        p->properties.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER);
        p->properties.subscription_identifier = d->subids[0];
        p->properties.subscription_identifiers = d->subids;
        p->properties.subscription_identifier_count = d->nsubids;
    }
    ptrdiff_t size = mqttproto_encoded_size(&pkt, &c->out_opts);
    if (size == MQTTPROTO_ERR_PACKET_TOO_LARGE) {
        return 1; /* [MQTT-3.1.2-25] */
    }
    if (size < 0) {
        return 1;
    }
    conn_out_fence(c);
    uint8_t *dst = bytebuf_reserve(&c->out, &c->broker->mem, (size_t)size);
    if (dst == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    ptrdiff_t n = mqttproto_encode(&pkt, &c->out_opts, dst, (size_t)size);
    if (n != size) {
        return 1;
    }
    bytebuf_commit(&c->out, (size_t)n);
    return 0;
}

void conn_pump(struct mqttproto_broker_client *c)
{
    /* [MQTT-3.3.2-6] the expiry that remains now: the latest time the
       broker was given, even if this connection was quiet since. */
    uint64_t now = c->now_ms > c->broker->now_ms ? c->now_ms : c->broker->now_ms;
    struct session *s = c->session;
    mqttproto_broker *b = c->broker;
    if (s == NULL || c->state != MQTTPROTO_BROKER_CLIENT_CONNECTED) {
        return;
    }
    while (s->cursor != NULL) {
        struct delivery *d = s->cursor;
        if (d->stage == D_AWAIT_PUBCOMP) {
            /* [MQTT-4.4.0-1] a resumed session re-sends the PUBREL */
            if (conn_write_short(c, 0x62, d->packet_id, 0) != 0) {
                return;
            }
            d->wired = true;
            s->inflight++;
            s->cursor = d->next;
            continue;
        }
        if (d->stage == D_QUEUED && d->msg->expires_at != 0 && d->msg->expires_at <= now) {
            /* [MQTT-3.3.2-5] expired before it could be sent */
            b->stats.messages_expired++;
            delivery_end(b, s, d);
            continue;
        }
        /* [MQTT-3.3.4-10] only PUBLISH waits for the quota: control packets
           are written when they are made */
        if (d->qos > 0 && s->inflight >= c->peer_receive_maximum) {
            return; /* [MQTT-3.3.4-9] [MQTT-4.9.0-2] the client's quota */
        }
        bool new_id = false;
        if (d->qos > 0 && d->packet_id == 0) {
            uint16_t id = free_packet_id(s);
            if (id == 0 || idmap_put(&s->ids, &b->mem, id, d) != 0) {
                return;
            }
            d->packet_id = id;
            new_id = true;
            /* Stored before the PUBLISH goes, so that a restart sends it
               again with the same identifier, and DUP. */
            store_delivery_stage(b, s, d);
        }
        int e = write_delivery(c, d, now);
        if (e == MQTTPROTO_ERR_NO_MEMORY) {
            if (new_id) {
                idmap_remove(&s->ids, d->packet_id);
                d->packet_id = 0;
            }
            return;
        }
        if (e == 1) {
            b->stats.messages_dropped_size++;
            delivery_end(b, s, d);
            continue;
        }
        s->cursor = d->next;
        if (d->qos == 0) {
            delivery_end(b, s, d);
            continue;
        }
        d->wired = true;
        d->ever_sent = true;
        d->stage = D_AWAIT_ACK;
        s->inflight++;
    }
}

static struct delivery *find_wired(struct session *s, uint16_t id)
{
    struct delivery *d = idmap_get(&s->ids, id);
    return d != NULL && d->wired ? d : NULL;
}

int conn_handle_puback(struct mqttproto_broker_client *c, const mqttproto_packet *pkt)
{
    struct session *s = c->session;
    struct delivery *d = find_wired(s, pkt->puback.packet_id);
    if (d == NULL || d->qos != 1 || d->stage != D_AWAIT_ACK) {
        return MQTTPROTO_ERR_UNKNOWN_PACKET_ID;
    }
    /* [MQTT-4.8.2-6] a refused shared delivery is not given to another member */
    delivery_end(c->broker, s, d); /* [MQTT-4.4.0-2] any reason code ends it */
    broker_mark_writable(c->broker, c);
    return 0;
}

int conn_handle_pubrec(struct mqttproto_broker_client *c, const mqttproto_packet *pkt)
{
    struct session *s = c->session;
    uint16_t id = pkt->pubrec.packet_id;
    struct delivery *d = find_wired(s, id);
    if (d == NULL || d->qos != 2) {
        return conn_write_short(c, 0x62, id, MQTTPROTO_RC_PACKET_IDENTIFIER_NOT_FOUND);
    }
    if (d->stage == D_AWAIT_PUBCOMP) {
        return conn_write_short(c, 0x62, id, 0);
    }
    if (pkt->pubrec.reason_code >= 0x80) {
        delivery_end(c->broker, s, d); /* [MQTT-4.4.0-2] */
        broker_mark_writable(c->broker, c);
        return 0;
    }
    d->stage = D_AWAIT_PUBCOMP; /* [MQTT-4.3.3-6] */
    store_delivery_stage(c->broker, s, d);
    int e = conn_write_short(c, 0x62, id, 0); /* [MQTT-4.3.3-4] */
    if (e != 0) {
        d->stage = D_AWAIT_ACK; /* fed again, the PUBREC gets its PUBREL */
    }
    return e;
}

int conn_handle_pubcomp(struct mqttproto_broker_client *c, const mqttproto_packet *pkt)
{
    struct session *s = c->session;
    struct delivery *d = find_wired(s, pkt->pubcomp.packet_id);
    if (d == NULL || d->qos != 2 || d->stage != D_AWAIT_PUBCOMP) {
        return MQTTPROTO_ERR_UNKNOWN_PACKET_ID;
    }
    delivery_end(c->broker, s, d);
    broker_mark_writable(c->broker, c);
    return 0;
}
