/*
 * Durable state: the records the broker gives the application's store, the
 * output each broker client holds behind records not yet durable, and the
 * restore calls that rebuild a broker from what the store kept.
 */
#include "broker_internal.h"
#include "codec_internal.h"
#include "mqttproto/topic.h"

#include <string.h>

const char *mqttproto_store_record_type_name(int type)
{
    static const char *const names[] = {
        NULL,
        "SESSION_PUT",
        "SESSION_DELETE",
        "SUBSCRIPTION_PUT",
        "SUBSCRIPTION_DELETE",
        "MESSAGE_PUT",
        "MESSAGE_DELETE",
        "DELIVERY_PUT",
        "DELIVERY_SENT",
        "DELIVERY_RELEASED",
        "DELIVERY_DELETE",
        "RETAINED_PUT",
        "RETAINED_DELETE",
        "WILL_PUT",
        "WILL_DELETE",
        "INBOUND_PUT",
        "INBOUND_DELETE",
    };
    if (type <= 0 || (size_t)type >= sizeof names / sizeof names[0]) {
        return "UNKNOWN";
    }
    return names[type];
}

int mqttproto_broker_set_store(mqttproto_broker *b, mqttproto_store_fn fn, void *ctx,
                               bool hold_acks)
{
    if (b == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    for (size_t i = 0; fn != NULL && b->store_fn == NULL && i < b->session_count; i++) {
        const struct session *s = b->sessions[i];
        if (s->expiry_interval != 0 && !s->stored) {
            return MQTTPROTO_ERR_BAD_STATE; /* the store would never hear of it */
        }
    }
    b->store_fn = fn;
    b->store_ctx = ctx;
    b->store_hold = fn != NULL && hold_acks;
    if (!b->store_hold) {
        /* Nothing waits any more. */
        (void)mqttproto_broker_store_synced(b, b->store_seq);
    }
    return 0;
}

uint64_t mqttproto_broker_store_last_seq(const mqttproto_broker *b)
{
    return b == NULL ? 0 : b->store_seq;
}

/* ---- records ---- */

/*
 * Whether what the broker writes after the record must wait until it is
 * durable: all but the records no promise to a client rests on. Lost, a
 * finished delivery or a message nothing refers to comes back and is sent
 * again, and so does a QoS 1 delivery whose sending was not stored (a
 * duplicate, which QoS 1 allows); a QoS 2 delivery's sending and release
 * are held, since a PUBLISH sent again under a new identifier, or a PUBLISH
 * after its PUBREL, would be a second delivery.
 */
static bool record_holds(const mqttproto_store_record *r)
{
    switch (r->type) {
    case MQTTPROTO_STORE_DELIVERY_DELETE:
    case MQTTPROTO_STORE_MESSAGE_DELETE:
        return false;
    case MQTTPROTO_STORE_DELIVERY_SENT:
        return r->qos == 2;
    default:
        return true;
    }
}

static void emit(mqttproto_broker *b, mqttproto_store_record *r)
{
    r->seq = ++b->store_seq;
    if (record_holds(r)) {
        b->store_hold_seq = r->seq;
    }
    b->store_fn(b->store_ctx, r);
}

static void record_init(mqttproto_store_record *r, mqttproto_store_record_type type,
                        const struct session *s)
{
    memset(r, 0, sizeof *r);
    r->type = type;
    if (s != NULL) {
        r->client_id.data = s->client_id;
        r->client_id.len = s->client_id_len;
    }
}

/* The message goes to the store once, before the first record naming it. */
static void store_message(mqttproto_broker *b, struct bmsg *m)
{
    if (m->store_id != 0) {
        return;
    }
    m->store_id = ++b->next_message_id;
    mqttproto_store_record r;
    record_init(&r, MQTTPROTO_STORE_MESSAGE_PUT, NULL);
    r.message_id = m->store_id;
    r.message.data = m->blob;
    r.message.len = m->len;
    r.qos = m->qos;
    r.retain = m->retain;
    r.expires_at = m->expires_at;
    emit(b, &r);
}

/* The last reference to a stored message is gone. */
void store_message_gone(struct bmsg *m)
{
    mqttproto_broker *b = m->broker;
    if (m->store_id == 0 || !store_on(b)) {
        return;
    }
    mqttproto_store_record r;
    record_init(&r, MQTTPROTO_STORE_MESSAGE_DELETE, NULL);
    r.message_id = m->store_id;
    emit(b, &r);
}

static uint8_t sub_options(const struct subtrie_sub *sub)
{
    return (uint8_t)(sub->qos | (sub->no_local ? 0x04u : 0u) |
                     (sub->retain_as_published ? 0x08u : 0u) |
                     ((unsigned)sub->retain_handling << 4u));
}

static void put_session(mqttproto_broker *b, struct session *s)
{
    mqttproto_store_record r;
    record_init(&r, MQTTPROTO_STORE_SESSION_PUT, s);
    r.session_expiry_interval = s->expiry_interval;
    r.expires_at = s->conn != NULL ? UINT64_MAX : s->expires_at;
    emit(b, &r);
}

static void put_delivery(mqttproto_broker *b, struct session *s, struct delivery *d)
{
    store_message(b, d->msg);
    if (d->store_id == 0) {
        d->store_id = ++b->next_delivery_id;
    }
    mqttproto_store_record r;
    record_init(&r, MQTTPROTO_STORE_DELIVERY_PUT, s);
    r.delivery_id = d->store_id;
    r.message_id = d->msg->store_id;
    r.qos = d->qos;
    r.retain = d->retain;
    r.shared = d->shared;
    r.subscription_identifiers = d->nsubids > 0 ? d->subids : NULL;
    r.subscription_identifier_count = d->nsubids;
    emit(b, &r);
}

static void put_stage(mqttproto_broker *b, struct session *s, struct delivery *d)
{
    mqttproto_store_record r;
    record_init(&r,
                d->stage == D_AWAIT_PUBCOMP ? MQTTPROTO_STORE_DELIVERY_RELEASED
                                            : MQTTPROTO_STORE_DELIVERY_SENT,
                s);
    r.delivery_id = d->store_id;
    r.packet_id = d->packet_id;
    r.qos = d->qos;
    emit(b, &r);
}

static void put_will(mqttproto_broker *b, struct session *s, struct bmsg *will, uint32_t delay,
                     uint64_t at)
{
    store_message(b, will);
    mqttproto_store_record r;
    record_init(&r, MQTTPROTO_STORE_WILL_PUT, s);
    r.message_id = will->store_id;
    r.will_delay = delay;
    r.will_at = at;
    emit(b, &r);
}

/* Everything of a session that becomes durable. */
static void put_snapshot(mqttproto_broker *b, struct session *s)
{
    put_session(b, s);
    for (uint32_t i = 0; s->subs.slots != NULL && i <= s->subs.mask; i++) {
        const struct strmap_entry *e = &s->subs.slots[i];
        if (e->key == NULL) {
            continue;
        }
        mqttproto_str f = {e->key, e->len};
        const struct subtrie_sub *sub = subtrie_get(&b->subs, f, s);
        if (sub != NULL) {
            store_subscription_put(b, s, f, sub);
        }
    }
    for (struct delivery *d = s->head; d != NULL; d = d->next) {
        if (d->qos == 0) {
            continue;
        }
        put_delivery(b, s, d);
        if (d->stage != D_QUEUED) {
            put_stage(b, s, d);
        }
    }
    for (uint32_t i = 0; s->qos2_in.keys != NULL && i <= s->qos2_in.mask; i++) {
        if (s->qos2_in.keys[i] != 0) {
            store_inbound(b, s, s->qos2_in.keys[i], true);
        }
    }
    if (s->will != NULL) {
        put_will(b, s, s->will, 0, s->will_at);
    }
}

void store_session_sync(mqttproto_broker *b, struct session *s)
{
    if (!store_on(b)) {
        return;
    }
    bool durable = s->expiry_interval != 0;
    if (durable && !s->stored) {
        s->stored = true;
        put_snapshot(b, s);
    } else if (durable) {
        put_session(b, s);
    } else if (s->stored) {
        store_session_delete(b, s);
    }
}

void store_session_delete(mqttproto_broker *b, struct session *s)
{
    if (!s->stored || !store_on(b)) {
        return;
    }
    s->stored = false;
    for (struct delivery *d = s->head; d != NULL; d = d->next) {
        d->store_id = 0; /* the session's delete took them */
    }
    mqttproto_store_record r;
    record_init(&r, MQTTPROTO_STORE_SESSION_DELETE, s);
    emit(b, &r);
}

void store_subscription_put(mqttproto_broker *b, struct session *s, mqttproto_str filter,
                            const struct subtrie_sub *sub)
{
    if (!s->stored || !store_on(b)) {
        return;
    }
    mqttproto_store_record r;
    record_init(&r, MQTTPROTO_STORE_SUBSCRIPTION_PUT, s);
    r.topic = filter;
    r.options = sub_options(sub);
    r.subscription_identifier = sub->subscription_identifier;
    emit(b, &r);
}

void store_subscription_delete(mqttproto_broker *b, struct session *s, mqttproto_str filter)
{
    if (!s->stored || !store_on(b)) {
        return;
    }
    mqttproto_store_record r;
    record_init(&r, MQTTPROTO_STORE_SUBSCRIPTION_DELETE, s);
    r.topic = filter;
    emit(b, &r);
}

void store_delivery_put(mqttproto_broker *b, struct session *s, struct delivery *d)
{
    if (d->qos == 0 || !s->stored || !store_on(b)) {
        return;
    }
    put_delivery(b, s, d);
}

void store_delivery_stage(mqttproto_broker *b, struct session *s, struct delivery *d)
{
    if (d->store_id == 0 || !s->stored || !store_on(b)) {
        return;
    }
    put_stage(b, s, d);
}

void store_delivery_delete(mqttproto_broker *b, struct session *s, struct delivery *d)
{
    if (d->store_id == 0 || !s->stored || !store_on(b)) {
        return;
    }
    mqttproto_store_record r;
    record_init(&r, MQTTPROTO_STORE_DELIVERY_DELETE, s);
    r.delivery_id = d->store_id;
    emit(b, &r);
}

void store_retained_put(mqttproto_broker *b, mqttproto_str topic, struct bmsg *m)
{
    if (!store_on(b)) {
        return;
    }
    store_message(b, m);
    mqttproto_store_record r;
    record_init(&r, MQTTPROTO_STORE_RETAINED_PUT, NULL);
    r.topic = topic;
    r.message_id = m->store_id;
    emit(b, &r);
}

void store_retained_delete(mqttproto_broker *b, mqttproto_str topic)
{
    if (!store_on(b)) {
        return;
    }
    mqttproto_store_record r;
    record_init(&r, MQTTPROTO_STORE_RETAINED_DELETE, NULL);
    r.topic = topic;
    emit(b, &r);
}

void store_will_put(mqttproto_broker *b, struct session *s, struct bmsg *will, uint32_t delay,
                    uint64_t at)
{
    if (!s->stored || !store_on(b)) {
        return;
    }
    put_will(b, s, will, delay, at);
}

void store_will_delete(mqttproto_broker *b, struct session *s)
{
    if (!s->stored || !store_on(b)) {
        return;
    }
    mqttproto_store_record r;
    record_init(&r, MQTTPROTO_STORE_WILL_DELETE, s);
    emit(b, &r);
}

void store_inbound(mqttproto_broker *b, struct session *s, uint16_t id, bool put)
{
    if (!s->stored || !store_on(b)) {
        return;
    }
    mqttproto_store_record r;
    record_init(&r, put ? MQTTPROTO_STORE_INBOUND_PUT : MQTTPROTO_STORE_INBOUND_DELETE, s);
    r.packet_id = id;
    emit(b, &r);
}

/* ---- output held behind records ---- */

/*
 * A client's held output: bytes from pos on (counted from the first byte
 * not yet consumed) wait until record seq is durable. Both grow along the
 * queue. The block is made with the client when the store holds output, so
 * holding never allocates: when its slots are full the last one takes the
 * newer record (it holds a little more for a little longer). Only a client
 * made before the store was set allocates it here; when that fails, the
 * broker holds every client's output until everything issued so far is
 * durable (hold_all).
 */
#define FENCES_MAX 4

struct out_fence {
    size_t pos;
    uint64_t seq;
};

struct out_fences {
    struct mqttproto_broker_client *prev, *next; /* the broker's fenced list */
    bool linked;
    uint8_t count;
    struct out_fence f[FENCES_MAX];
};

int conn_fences_make(struct mqttproto_broker_client *c)
{
    mqttproto_broker *b = c->broker;
    if (!b->store_hold || c->fences != NULL) {
        return 0;
    }
    c->fences = mem_alloc(&b->mem, sizeof *c->fences);
    if (c->fences == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memset(c->fences, 0, sizeof *c->fences);
    return 0;
}

static void fenced_link(mqttproto_broker *b, struct mqttproto_broker_client *c)
{
    struct out_fences *q = c->fences;
    if (q->linked) {
        return;
    }
    q->linked = true;
    q->prev = NULL;
    q->next = b->fenced_head;
    if (b->fenced_head != NULL) {
        b->fenced_head->fences->prev = c;
    }
    b->fenced_head = c;
}

static void fenced_unlink(mqttproto_broker *b, struct mqttproto_broker_client *c)
{
    struct out_fences *q = c->fences;
    if (!q->linked) {
        return;
    }
    q->linked = false;
    if (q->prev != NULL) {
        q->prev->fences->next = q->next;
    } else {
        b->fenced_head = q->next;
    }
    if (q->next != NULL) {
        q->next->fences->prev = q->prev;
    }
}

void conn_fence_at(struct mqttproto_broker_client *c, size_t pos)
{
    mqttproto_broker *b = c->broker;
    if (conn_fences_make(c) != 0) {
        b->hold_all = b->store_hold_seq;
        return;
    }
    struct out_fences *q = c->fences;
    if (q->count > 0) {
        struct out_fence *last = &q->f[q->count - 1];
        if (last->seq == b->store_hold_seq || last->pos >= pos || q->count == FENCES_MAX) {
            if (pos < last->pos) {
                last->pos = pos;
            }
            last->seq = b->store_hold_seq;
            return;
        }
    }
    q->f[q->count].pos = pos;
    q->f[q->count].seq = b->store_hold_seq;
    q->count++;
    fenced_link(b, c);
}

void conn_fence_slow(struct mqttproto_broker_client *c)
{
    conn_fence_at(c, bytebuf_size(&c->out));
}

size_t conn_out_ready(const struct mqttproto_broker_client *c, size_t n)
{
    const mqttproto_broker *b = c->broker;
    if (b->hold_all > b->store_synced) {
        return 0;
    }
    const struct out_fences *q = c->fences;
    if (q == NULL || q->count == 0 || q->f[0].seq <= b->store_synced) {
        return n;
    }
    return q->f[0].pos < n ? q->f[0].pos : n;
}

void conn_out_consumed(struct mqttproto_broker_client *c, size_t n)
{
    struct out_fences *q = c->fences;
    for (size_t i = 0; q != NULL && i < q->count; i++) {
        q->f[i].pos = q->f[i].pos > n ? q->f[i].pos - n : 0;
    }
}

void conn_fences_free(struct mqttproto_broker_client *c)
{
    if (c->fences != NULL) {
        fenced_unlink(c->broker, c);
        mem_free(&c->broker->mem, c->fences);
        c->fences = NULL;
    }
}

/* Release the fences of @p c up to b->store_synced. */
static void release_fences(mqttproto_broker *b, struct mqttproto_broker_client *c)
{
    struct out_fences *q = c->fences;
    if (q == NULL) {
        return;
    }
    size_t k = 0;
    while (k < q->count && q->f[k].seq <= b->store_synced) {
        k++;
    }
    if (k > 0) {
        memmove(q->f, q->f + k, (q->count - k) * sizeof q->f[0]);
        q->count = (uint8_t)(q->count - k);
        broker_mark_writable(b, c);
    }
    if (q->count == 0) {
        fenced_unlink(b, c);
    }
}

int mqttproto_broker_store_synced(mqttproto_broker *b, uint64_t seq)
{
    if (b == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (seq > b->store_seq) {
        seq = b->store_seq;
    }
    if (seq <= b->store_synced) {
        return 0;
    }
    b->store_synced = seq;
    if (b->hold_all != 0 && b->hold_all <= seq) {
        /* Every client waited. */
        b->hold_all = 0;
        for (struct mqttproto_broker_client *c = b->conns; c != NULL; c = c->next) {
            if (bytebuf_size(&c->out) > 0) {
                broker_mark_writable(b, c);
            }
        }
    }
    struct mqttproto_broker_client *c = b->fenced_head;
    while (c != NULL) {
        struct mqttproto_broker_client *next = c->fences->next;
        release_fences(b, c);
        c = next;
    }
    return 0;
}

void broker_store_free(mqttproto_broker *b)
{
    for (size_t i = 0; i < b->restore_count; i++) {
        if (b->restore_list[i] != NULL) {
            broker_msg_release(b, b->restore_list[i]);
        }
    }
    mem_free(&b->mem, b->restore_list);
    b->restore_list = NULL;
    b->restore_count = b->restore_cap = 0;
    strmap_free(&b->restore_msgs, &b->mem);
}

/* ---- restore ---- */

static int restore_open(const mqttproto_broker *b)
{
    return b == NULL                               ? MQTTPROTO_ERR_INVALID_ARGUMENT
           : b->restore_closed || b->conns != NULL ? MQTTPROTO_ERR_BAD_STATE
                                                   : 0;
}

static struct session *restored_session(mqttproto_broker *b, mqttproto_str id)
{
    if (id.len == 0 || id.data == NULL) {
        return NULL;
    }
    return broker_session_find(b, id.data, id.len);
}

static struct bmsg *restored_message(mqttproto_broker *b, uint64_t id)
{
    uint8_t key[8];
    for (int i = 0; i < 8; i++) {
        key[i] = (uint8_t)(id >> (8 * i));
    }
    const struct strmap_entry *e = strmap_find(&b->restore_msgs, (const char *)key, sizeof key);
    return e == NULL ? NULL : b->restore_list[e->value];
}

int mqttproto_broker_restore_session(mqttproto_broker *b, mqttproto_str client_id,
                                     uint32_t expiry_interval, uint64_t expires_at)
{
    int e = restore_open(b);
    if (e != 0) {
        return e;
    }
    if (client_id.len == 0 || client_id.data == NULL || expiry_interval == 0 ||
        mqttproto_utf8_validate((const uint8_t *)client_id.data, client_id.len) != 0 ||
        restored_session(b, client_id) != NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    struct session *s;
    e = broker_session_create(b, client_id.data, client_id.len, &s);
    if (e != 0) {
        return e;
    }
    s->expiry_interval = expiry_interval;
    s->expires_at = expires_at;
    s->stored = true;
    return 0;
}

int mqttproto_broker_restore_subscription(mqttproto_broker *b, mqttproto_str client_id,
                                          mqttproto_str filter, uint8_t options,
                                          uint32_t subscription_identifier)
{
    int e = restore_open(b);
    if (e != 0) {
        return e;
    }
    struct session *s = restored_session(b, client_id);
    if (s == NULL || (options & 0xC0u) != 0 || (options & 0x03u) == 3 ||
        ((options >> 4) & 0x03u) == 3 || subscription_identifier > 268435455u ||
        filter.data == NULL || mqttproto_topic_filter_validate(filter) != 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    struct subtrie_sub entry;
    memset(&entry, 0, sizeof entry);
    entry.subscriber = s;
    entry.subscription_identifier = subscription_identifier;
    entry.qos = options & 0x03u;
    entry.no_local = (options & 0x04u) != 0;
    entry.retain_as_published = (options & 0x08u) != 0;
    entry.retain_handling = (options >> 4) & 0x03u;
    bool existed = strmap_find(&s->subs, filter.data, filter.len) != NULL;
    if (!existed && strmap_insert(&s->subs, &b->mem, filter.data, filter.len, 0) == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    e = subtrie_add(&b->subs, filter, &entry, NULL);
    if (e != 0) {
        if (!existed) {
            strmap_remove(&s->subs, &b->mem, filter.data, filter.len);
        }
        return e == MQTTPROTO_ERR_NO_MEMORY ? e : MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    return 0;
}

int mqttproto_broker_restore_message(mqttproto_broker *b, uint64_t message_id,
                                     mqttproto_bin message, uint8_t qos, uint64_t expires_at)
{
    int e = restore_open(b);
    if (e != 0) {
        return e;
    }
    if (message_id == 0 || qos > 2 || message.data == NULL || message.len == 0 ||
        restored_message(b, message_id) != NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    mqttproto_packet pkt;
    if (mqttproto_decode(message.data, message.len, NULL, &pkt) != (ptrdiff_t)message.len ||
        pkt.type != MQTTPROTO_PACKET_PUBLISH || pkt.publish.qos != MQTTPROTO_QOS_AT_MOST_ONCE ||
        pkt.publish.dup || mqttproto_topic_name_validate(pkt.publish.topic) != 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (b->restore_count == b->restore_cap) {
        size_t cap = b->restore_cap == 0 ? 64 : b->restore_cap * 2;
        struct bmsg **a = mem_realloc(&b->mem, b->restore_list, cap * sizeof *a);
        if (a == NULL) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
        b->restore_list = a;
        b->restore_cap = cap;
    }
    struct bmsg *m = mem_alloc(&b->mem, sizeof *m + message.len);
    if (m == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    uint8_t key[8];
    for (int i = 0; i < 8; i++) {
        key[i] = (uint8_t)(message_id >> (8 * i));
    }
    if (strmap_insert(&b->restore_msgs, &b->mem, (const char *)key, sizeof key,
                      (uint32_t)b->restore_count) == NULL) {
        mem_free(&b->mem, m);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memset(m, 0, sizeof *m);
    m->broker = b;
    m->store_id = message_id;
    m->refs = 1; /* the restore's, until restore_finish() */
    m->qos = qos;
    m->retain = pkt.publish.retain;
    m->expires_at = expires_at;
    m->len = message.len;
    memcpy(m->blob, message.data, message.len);
    b->restore_list[b->restore_count++] = m;
    if (message_id > b->next_message_id) {
        b->next_message_id = message_id;
    }
    return 0;
}

int mqttproto_broker_restore_delivery(mqttproto_broker *b, mqttproto_str client_id,
                                      uint64_t delivery_id, uint64_t message_id, uint8_t qos,
                                      bool retain, bool shared, const uint32_t *subids,
                                      size_t nsubids, uint16_t packet_id,
                                      mqttproto_store_delivery_stage stage)
{
    int e = restore_open(b);
    if (e != 0) {
        return e;
    }
    struct session *s = restored_session(b, client_id);
    struct bmsg *m = restored_message(b, message_id);
    bool sent = stage == MQTTPROTO_STORE_STAGE_SENT || stage == MQTTPROTO_STORE_STAGE_RELEASED;
    if (s == NULL || m == NULL || delivery_id == 0 || (qos != 1 && qos != 2) ||
        nsubids > MAX_DELIVERY_SUBIDS || (nsubids > 0 && subids == NULL) ||
        (stage != MQTTPROTO_STORE_STAGE_QUEUED && !sent) ||
        (stage == MQTTPROTO_STORE_STAGE_RELEASED && qos != 2) || (sent != (packet_id != 0)) ||
        (packet_id != 0 && idmap_get(&s->ids, packet_id) != NULL)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    struct delivery *d = mem_alloc(&b->mem, sizeof *d + nsubids * sizeof(uint32_t));
    if (d == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memset(d, 0, sizeof *d);
    if (packet_id != 0 && idmap_put(&s->ids, &b->mem, packet_id, d) != 0) {
        mem_free(&b->mem, d);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    d->msg = m;
    m->refs++;
    d->store_id = delivery_id;
    d->qos = qos;
    d->retain = retain;
    d->shared = shared;
    d->packet_id = packet_id;
    d->ever_sent = sent;
    d->stage = stage == MQTTPROTO_STORE_STAGE_RELEASED ? D_AWAIT_PUBCOMP
               : sent                                  ? D_AWAIT_ACK
                                                       : D_QUEUED;
    d->nsubids = (uint8_t)nsubids;
    if (nsubids > 0) {
        memcpy(d->subids, subids, nsubids * sizeof(uint32_t));
    }
    /* The queue's limits applied when it was filled; a restore keeps it
       whole. */
    session_append(s, d);
    if (delivery_id > b->next_delivery_id) {
        b->next_delivery_id = delivery_id;
    }
    return 0;
}

int mqttproto_broker_restore_retained(mqttproto_broker *b, mqttproto_str topic, uint64_t message_id)
{
    int e = restore_open(b);
    if (e != 0) {
        return e;
    }
    struct bmsg *m = restored_message(b, message_id);
    if (m == NULL || topic.data == NULL || mqttproto_topic_name_validate(topic) != 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    m->refs++;
    e = retained_set(&b->retained, topic, m);
    if (e != 0) {
        m->refs--;
    }
    return e;
}

int mqttproto_broker_restore_will(mqttproto_broker *b, mqttproto_str client_id, uint64_t message_id,
                                  uint32_t will_delay, uint64_t will_at)
{
    int e = restore_open(b);
    if (e != 0) {
        return e;
    }
    struct session *s = restored_session(b, client_id);
    struct bmsg *m = restored_message(b, message_id);
    if (s == NULL || m == NULL || s->will != NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    m->refs++;
    s->will = m;
    /* UINT64_MAX: timed from restore_finish(); the delay waits here. */
    s->will_at = will_at == UINT64_MAX ? UINT64_MAX - will_delay : will_at;
    return 0;
}

int mqttproto_broker_restore_inbound(mqttproto_broker *b, mqttproto_str client_id,
                                     uint16_t packet_id)
{
    int e = restore_open(b);
    if (e != 0) {
        return e;
    }
    struct session *s = restored_session(b, client_id);
    if (s == NULL || packet_id == 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    static char awaiting_pubrel;
    return idmap_put(&s->qos2_in, &b->mem, packet_id, &awaiting_pubrel) != 0
               ? MQTTPROTO_ERR_NO_MEMORY
               : 0;
}

int mqttproto_broker_restore_finish(mqttproto_broker *b, uint64_t now_ms)
{
    if (b == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (b->restore_closed) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    if (now_ms > b->now_ms) {
        b->now_ms = now_ms;
    }
    /* Timers first (they cannot fail: every session has a heap slot). */
    for (size_t i = 0; i < b->session_count; i++) {
        struct session *s = b->sessions[i];
        bool changed = false;
        if (s->expires_at == UINT64_MAX && s->expiry_interval != UINT32_MAX) {
            s->expires_at = now_ms + (uint64_t)s->expiry_interval * 1000u;
            changed = true;
        }
        if (s->will != NULL && s->will_at > UINT64_MAX - UINT32_MAX) {
            uint64_t delay = UINT64_MAX - s->will_at;
            s->will_at = now_ms + delay * 1000u;
            store_will_put(b, s, s->will, (uint32_t)delay, s->will_at);
        }
        if (changed) {
            store_session_sync(b, s);
        }
        broker_timer_update(b, s);
    }
    int e = mqttproto_broker_handle_expiry(b, now_ms);
    if (e != 0) {
        return e;
    }
    for (size_t i = 0; i < b->restore_count; i++) {
        broker_msg_release(b, b->restore_list[i]);
    }
    mem_free(&b->mem, b->restore_list);
    b->restore_list = NULL;
    b->restore_count = b->restore_cap = 0;
    strmap_free(&b->restore_msgs, &b->mem);
    b->restore_closed = true;
    return 0;
}
