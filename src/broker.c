/*
 * The broker: settings, sessions keyed by Client Identifier, the shared
 * messages, routing through the subscription trie, retained messages, wills
 * and the timers of sessions that outlive their connection.
 */
#include "broker_internal.h"
#include "codec_internal.h"
#include "mqttproto/topic.h"

#include <stdio.h>
#include <string.h>

void mqttproto_broker_settings_default(mqttproto_broker_settings *s)
{
    if (s == NULL) {
        return;
    }
    memset(s, 0, sizeof *s);
    s->version = MQTTPROTO_BROKER_SETTINGS_VERSION;
    s->receive_maximum = 64;
    s->maximum_qos = 2;
    s->retain_available = true;
    s->maximum_packet_size = 1024u * 1024u;
    s->topic_alias_maximum = 16;
    s->wildcard_subscription_available = true;
    s->subscription_identifier_available = true;
    s->shared_subscription_available = true;
    s->max_session_expiry = UINT32_MAX;
    s->connect_timeout_ms = 10000;
    s->max_sessions = 100000;
    s->max_subscriptions_per_session = 1000;
    s->max_queued_messages = 1000;
    s->max_queued_bytes = 16u * 1024u * 1024u;
    s->max_retained_messages = 100000;
    s->max_topic_levels = 128;
    s->max_user_properties = 256;
}

static void retained_release(void *msg)
{
    struct bmsg *m = msg;
    if (--m->refs == 0) {
        store_message_gone(m);
        mem_free(&m->broker->mem, m);
    }
}

int mqttproto_broker_create(const mqttproto_broker_settings *settings, mqttproto_broker **out)
{
    if (out == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    mqttproto_broker_settings s;
    if (settings == NULL) {
        mqttproto_broker_settings_default(&s);
    } else {
        s = *settings;
    }
    if (s.version != MQTTPROTO_BROKER_SETTINGS_VERSION || s.receive_maximum == 0 ||
        s.maximum_qos > 2 || s.maximum_packet_size < 16) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    mqttproto_mem mem;
    mqttproto_mem_resolve(s.mem, &mem);
    mqttproto_broker *b = mem_alloc(&mem, sizeof *b);
    if (b == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memset(b, 0, sizeof *b);
    b->mem = mem;
    b->settings = s;
    b->settings.mem = NULL;
    b->gathered = mem_alloc(&mem, MAX_DELIVERY_SUBIDS * sizeof *b->gathered);
    if (b->gathered == NULL) {
        mem_free(&mem, b);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    subtrie_init(&b->subs, &b->mem);
    retained_init(&b->retained, &b->mem, retained_release);
    *out = b;
    return 0;
}

static void session_free(mqttproto_broker *b, struct session *s)
{
    session_free_deliveries(b, s);
    idmap_free(&s->ids, &b->mem);
    idmap_free(&s->qos2_in, &b->mem);
    strmap_free(&s->subs, &b->mem);
    if (s->will != NULL) {
        broker_msg_release(b, s->will);
    }
    mem_free(&b->mem, s); /* its client id is the key of sessions_by_id */
}

void mqttproto_broker_destroy(mqttproto_broker *b)
{
    if (b == NULL) {
        return;
    }
    b->store_muted = true; /* shutting down changes nothing durable */
    conn_free_all(b);
    for (size_t i = 0; i < b->session_count; i++) {
        session_free(b, b->sessions[i]);
    }
    mem_free(&b->mem, b->sessions);
    strmap_free(&b->sessions_by_id, &b->mem);
    subtrie_free(&b->subs);
    retained_free(&b->retained);
    mem_free(&b->mem, b->timers);
    mem_free(&b->mem, b->targets);
    mem_free(&b->mem, b->route_extra);
    mem_free(&b->mem, b->gathered);
    mem_free(&b->mem, b->groups);
    broker_store_free(b);
    mem_free(&b->mem, b);
}

mqttproto_broker_stats mqttproto_broker_get_stats(const mqttproto_broker *b)
{
    mqttproto_broker_stats st;
    memset(&st, 0, sizeof st);
    if (b == NULL) {
        return st;
    }
    st = b->stats;
    st.sessions = b->session_count;
    st.subscriptions = subtrie_count(&b->subs);
    st.retained_messages = retained_count(&b->retained);
    return st;
}

/* ---- messages ---- */

struct bmsg *broker_msg_new(mqttproto_broker *b, const mqttproto_publish *p, uint64_t now_ms,
                            int *err)
{
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_PUBLISH;
    pkt.publish.topic = p->topic;
    pkt.publish.payload = p->payload;
    pkt.publish.qos = MQTTPROTO_QOS_AT_MOST_ONCE;
    pkt.publish.retain = p->retain;
    pkt.publish.properties = p->properties;
    /* Every other property goes on as it came, User Properties in their order:
       [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17]
       [MQTT-3.3.2-18] [MQTT-3.3.2-20] [MQTT-3.1.3-10] */
    mqttproto_properties *props = &pkt.publish.properties;
    /* Topic Aliases belong to one connection (and the broker sends none,
       so never one above the client's maximum [MQTT-3.1.2-26]
       [MQTT-3.1.2-27] [MQTT-3.3.2-11]); Subscription Identifiers are
       added per delivery. */
    props->present &= ~(MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_TOPIC_ALIAS) |
                        MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER));
    props->subscription_identifiers = NULL;
    props->subscription_identifier_count = 0;
    ptrdiff_t size = mqttproto_encoded_size(&pkt, NULL);
    if (size < 0) {
        *err = (int)size;
        return NULL;
    }
    struct bmsg *m = mem_alloc(&b->mem, sizeof *m + (size_t)size);
    if (m == NULL) {
        *err = MQTTPROTO_ERR_NO_MEMORY;
        return NULL;
    }
    ptrdiff_t n = mqttproto_encode(&pkt, NULL, m->blob, (size_t)size);
    if (n != size) {
        mem_free(&b->mem, m);
        *err = n < 0 ? (int)n : MQTTPROTO_ERR_INVALID_ARGUMENT;
        return NULL;
    }
    m->broker = b;
    m->store_id = 0;
    m->refs = 1;
    m->qos = (uint8_t)p->qos;
    m->retain = p->retain;
    m->len = (size_t)size;
    m->expires_at = 0;
    if (mqttproto_properties_has(&p->properties, MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL)) {
        m->expires_at = now_ms + (uint64_t)p->properties.message_expiry_interval * 1000u;
    }
    *err = 0;
    return m;
}

void broker_msg_release(mqttproto_broker *b, struct bmsg *m)
{
    (void)b;
    retained_release(m);
}

/* ---- sessions ---- */

struct session *broker_session_find(mqttproto_broker *b, const char *id, size_t len)
{
    struct strmap_entry *e = strmap_find(&b->sessions_by_id, id, len);
    return e == NULL ? NULL : b->sessions[e->value];
}

int broker_session_create(mqttproto_broker *b, const char *id, size_t len, struct session **out)
{
    if (b->session_count >= b->settings.max_sessions) {
        return MQTTPROTO_ERR_QUEUE_FULL;
    }
    if (b->session_count == b->session_cap) {
        size_t cap = b->session_cap == 0 ? 16 : b->session_cap * 2;
        struct session **a = mem_realloc(&b->mem, b->sessions, cap * sizeof *a);
        if (a == NULL) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
        b->sessions = a;
        b->session_cap = cap;
    }
    if (b->timer_cap < b->session_cap) {
        /* A slot in the timer heap for every session, so that starting a
           timer never fails. */
        struct session **t = mem_realloc(&b->mem, b->timers, b->session_cap * sizeof *t);
        if (t == NULL) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
        b->timers = t;
        b->timer_cap = b->session_cap;
    }
    struct session *s = mem_alloc(&b->mem, sizeof *s);
    if (s == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memset(s, 0, sizeof *s);
    struct strmap_entry *e =
        strmap_insert(&b->sessions_by_id, &b->mem, id, len, (uint32_t)b->session_count);
    if (e == NULL) {
        mem_free(&b->mem, s);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    s->broker = b;
    /* One copy of the id: the map's key, which stays in place while the
       map grows and is freed when the session leaves the map. */
    s->client_id = e->key;
    s->client_id_len = len;
    s->next_id = 1;
    s->expires_at = UINT64_MAX;
    s->timer_slot = SIZE_MAX;
    s->route_slot = SIZE_MAX;
    b->sessions[b->session_count++] = s;
    *out = s;
    return 0;
}

bool broker_valid_client_id_free(mqttproto_broker *b, const char *id, size_t len)
{
    return strmap_find(&b->sessions_by_id, id, len) == NULL;
}

/* ---- timers: a min-heap of sessions on their next deadline ---- */

static uint64_t session_deadline(const struct session *s)
{
    uint64_t t = s->conn == NULL ? s->expires_at : UINT64_MAX;
    if (s->will != NULL && s->will_at < t) {
        t = s->will_at;
    }
    return t;
}

static void heap_swap(mqttproto_broker *b, size_t i, size_t j)
{
    struct session *t = b->timers[i];
    b->timers[i] = b->timers[j];
    b->timers[j] = t;
    b->timers[i]->timer_slot = i;
    b->timers[j]->timer_slot = j;
}

static void heap_fix(mqttproto_broker *b, size_t i)
{
    while (i > 0 && session_deadline(b->timers[(i - 1) / 2]) > session_deadline(b->timers[i])) {
        heap_swap(b, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < b->timer_count && session_deadline(b->timers[l]) < session_deadline(b->timers[m])) {
            m = l;
        }
        if (r < b->timer_count && session_deadline(b->timers[r]) < session_deadline(b->timers[m])) {
            m = r;
        }
        if (m == i) {
            return;
        }
        heap_swap(b, i, m);
        i = m;
    }
}

static void heap_remove(mqttproto_broker *b, struct session *s)
{
    size_t i = s->timer_slot;
    if (i == SIZE_MAX) {
        return;
    }
    s->timer_slot = SIZE_MAX;
    b->timer_count--;
    if (i != b->timer_count) {
        b->timers[i] = b->timers[b->timer_count];
        b->timers[i]->timer_slot = i;
        heap_fix(b, i);
    }
}

/* Put @p s in the heap when it has a deadline, out of it otherwise. A
   failure to grow the heap leaves the session without a timer until the
   next update; it is reported by handle_expiry's retry. */
void broker_timer_update(mqttproto_broker *b, struct session *s)
{
    if (session_deadline(s) == UINT64_MAX) {
        heap_remove(b, s);
        return;
    }
    if (s->timer_slot != SIZE_MAX) {
        heap_fix(b, s->timer_slot);
        return;
    }
    if (b->timer_count == b->timer_cap) {
        size_t cap = b->timer_cap == 0 ? 16 : b->timer_cap * 2;
        struct session **t = mem_realloc(&b->mem, b->timers, cap * sizeof *t);
        if (t == NULL) {
            return;
        }
        b->timers = t;
        b->timer_cap = cap;
    }
    s->timer_slot = b->timer_count;
    b->timers[b->timer_count++] = s;
    heap_fix(b, s->timer_slot);
}

uint64_t mqttproto_broker_get_expiry(const mqttproto_broker *b)
{
    if (b == NULL || b->timer_count == 0) {
        return UINT64_MAX;
    }
    return session_deadline(b->timers[0]);
}

static int deliver_to(mqttproto_broker *b, struct bmsg *m, struct session *s, uint8_t sub_qos,
                      bool rap, const uint32_t *subids, uint8_t nsubids, bool shared);

/* Publish a will now: 0, and the message reference is consumed; or
   MQTTPROTO_ERR_NO_MEMORY, and the caller keeps it to try again (storing
   it as retained again and routing it repeat nothing). */
static int publish_will(mqttproto_broker *b, struct bmsg *will, struct session *origin,
                        uint64_t now_ms)
{
    /* [MQTT-3.1.2-14] [MQTT-3.1.2-15] the will's RETAIN decides */
    if (will->retain) {
        mqttproto_packet pkt;
        if (mqttproto_decode(will->blob, will->len, NULL, &pkt) > 0 &&
            broker_retain(b, will, pkt.publish.topic) == MQTTPROTO_ERR_NO_MEMORY) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
    }
    if (broker_route(b, will, origin, now_ms) == MQTTPROTO_ERR_NO_MEMORY) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    broker_msg_release(b, will);
    return 0;
}

/* ---- shared subscriptions: a member's session ends ---- */

struct regive_ctx {
    mqttproto_broker *b;
    struct session *leaving;
    struct bmsg *msg;
    bool online_only;
    int error;
};

static bool other_member(void *ctx, const struct subtrie_sub *sub)
{
    const struct regive_ctx *r = ctx;
    const struct session *s = sub->subscriber;
    return s != r->leaving && (!r->online_only || s->conn != NULL);
}

/* Whether @p s is a member of group @p g: it holds "$share/{name}/{filter}". */
static bool session_in_group(const struct session *s, const struct subtrie_group *g)
{
    mqttproto_str name = subtrie_group_name(g), filter = subtrie_group_filter(g);
    char small[512];
    size_t len = 7 + name.len + 1 + filter.len;
    char *key = len <= sizeof small ? small : mem_alloc(&s->broker->mem, len);
    if (key == NULL) {
        return false; /* out of memory: this message is not given on */
    }
    memcpy(key, "$share/", 7);
    memcpy(key + 7, name.data, name.len);
    key[7 + name.len] = '/';
    memcpy(key + 8 + name.len, filter.data, filter.len);
    bool member = strmap_find(&s->subs, key, len) != NULL;
    if (key != small) {
        mem_free(&s->broker->mem, key);
    }
    return member;
}

static void regive_group(void *ctx, struct subtrie_group *g)
{
    struct regive_ctx *r = ctx;
    if (!session_in_group(r->leaving, g)) {
        return;
    }
    r->online_only = true;
    const struct subtrie_sub *sub = subtrie_group_pick(g, other_member, r);
    if (sub == NULL) {
        r->online_only = false;
        sub = subtrie_group_pick(g, other_member, r);
    }
    if (sub == NULL) {
        return;
    }
    uint32_t id = sub->subscription_identifier;
    if (deliver_to(r->b, r->msg, sub->subscriber, sub->qos, false, &id, id != 0 ? 1 : 0, true) ==
        MQTTPROTO_ERR_NO_MEMORY) {
        r->error = MQTTPROTO_ERR_NO_MEMORY;
    }
}

/*
 * The session of a shared subscription member ends with messages it was
 * given and did not acknowledge: a QoS 1 message goes to another member of
 * the group (MQTT 5.0 section 4.8.2: "SHOULD"); a QoS 2 message that was
 * sent stays lost to the group [MQTT-4.8.2-5], one never sent is given on.
 */
static int regive_shared(mqttproto_broker *b, struct session *s)
{
    for (struct delivery *d = s->head; d != NULL; d = d->next) {
        if (!d->shared || d->qos == 0 || d->stage == D_AWAIT_PUBCOMP ||
            (d->qos == 2 && d->ever_sent)) {
            continue;
        }
        mqttproto_packet pkt;
        if (mqttproto_decode(d->msg->blob, d->msg->len, NULL, &pkt) <= 0) {
            continue;
        }
        struct regive_ctx r = {b, s, d->msg, true, 0};
        if (subtrie_match(&b->subs, pkt.publish.topic, NULL, regive_group, &r) != 0 ||
            r.error != 0) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
        d->shared = false; /* given on: not again when this is tried again */
    }
    return 0;
}

/* Remove a session for good: its subscriptions, deliveries and timer.
   MQTTPROTO_ERR_NO_MEMORY when its will or its shared messages could not
   go: the session stays, to be ended again (what went is not repeated). */
int broker_session_end(mqttproto_broker *b, struct session *s, uint64_t now_ms)
{
    if (s->will != NULL) {
        /* [MQTT-3.1.3-9] the session ends before the will delay: the will
           goes now. */
        if (publish_will(b, s->will, s, now_ms) != 0) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
        s->will = NULL;
    }
    if (regive_shared(b, s) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    heap_remove(b, s);
    for (uint32_t i = 0; s->subs.slots != NULL && i <= s->subs.mask; i++) {
        struct strmap_entry *e = &s->subs.slots[i];
        if (e->key != NULL) {
            mqttproto_str f = {e->key, e->len};
            subtrie_remove(&b->subs, f, s);
        }
    }
    store_session_delete(b, s);
    struct strmap_entry *e = strmap_find(&b->sessions_by_id, s->client_id, s->client_id_len);
    size_t idx = e->value;
    strmap_remove(&b->sessions_by_id, &b->mem, s->client_id, s->client_id_len);
    b->session_count--;
    if (idx != b->session_count) {
        struct session *moved = b->sessions[b->session_count];
        b->sessions[idx] = moved;
        strmap_find(&b->sessions_by_id, moved->client_id, moved->client_id_len)->value =
            (uint32_t)idx;
    }
    session_free(b, s);
    return 0;
}

/* The connection of @p s ended: keep the session per its expiry, start the
   will's delay or publish it. */
void broker_session_detach(mqttproto_broker *b, struct session *s, struct bmsg *will,
                           uint32_t will_delay, uint64_t now_ms)
{
    s->conn = NULL;
    s->expires_at = s->expiry_interval == UINT32_MAX
                        ? UINT64_MAX
                        : now_ms + (uint64_t)s->expiry_interval * 1000u;
    if (will != NULL) {
        /* Due now without a delay, or when the session ends with the
           connection (broker_session_end() publishes it then); out of
           memory, the will timer tries again. */
        bool due = will_delay == 0 || s->expiry_interval == 0;
        s->will = will;
        s->will_at = due ? now_ms : now_ms + (uint64_t)will_delay * 1000u;
        if (due && s->expiry_interval != 0 && publish_will(b, will, s, now_ms) == 0) {
            s->will = NULL;
            store_will_delete(b, s);
        }
    }
    if (s->expiry_interval == 0 && broker_session_end(b, s, now_ms) == 0) {
        return; /* [MQTT-3.1.2-23]; out of memory, its timer ends it */
    }
    store_session_sync(b, s);
    if (s->will != NULL) {
        store_will_put(b, s, s->will, will_delay, s->will_at);
    }
    session_resume(s);
    broker_timer_update(b, s);
}

int mqttproto_broker_handle_expiry(mqttproto_broker *b, uint64_t now_ms)
{
    if (b == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (now_ms > b->now_ms) {
        b->now_ms = now_ms;
    }
    while (b->timer_count > 0 && session_deadline(b->timers[0]) <= now_ms) {
        struct session *s = b->timers[0];
        if (s->will != NULL && s->will_at <= now_ms) {
            if (publish_will(b, s->will, s, now_ms) != 0) {
                return MQTTPROTO_ERR_NO_MEMORY;
            }
            s->will = NULL;
            store_will_delete(b, s);
            broker_timer_update(b, s);
            continue;
        }
        /* [MQTT-4.1.0-2] the Session Expiry Interval passed */
        if (broker_session_end(b, s, now_ms) != 0) {
            return MQTTPROTO_ERR_NO_MEMORY;
        }
    }
    return 0;
}

/* ---- writable connections ---- */

void broker_mark_writable(mqttproto_broker *b, struct mqttproto_broker_client *c)
{
    if (c->in_writable) {
        return;
    }
    c->in_writable = true;
    c->next_writable = NULL;
    if (b->writable_tail != NULL) {
        b->writable_tail->next_writable = c;
    } else {
        b->writable_head = c;
    }
    b->writable_tail = c;
}

int mqttproto_broker_next_writable(mqttproto_broker *b, mqttproto_broker_client **client)
{
    if (b == NULL || client == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    struct mqttproto_broker_client *c = b->writable_head;
    if (c == NULL) {
        *client = NULL;
        return 0;
    }
    b->writable_head = c->next_writable;
    if (b->writable_head == NULL) {
        b->writable_tail = NULL;
    }
    c->in_writable = false;
    c->next_writable = NULL;
    *client = c;
    return 1;
}

/* ---- retained messages ---- */

int broker_retain(mqttproto_broker *b, struct bmsg *m, mqttproto_str topic)
{
    mqttproto_packet pkt;
    if (mqttproto_decode(m->blob, m->len, NULL, &pkt) <= 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (pkt.publish.payload.len == 0) {
        if (retained_get(&b->retained, topic) != NULL) {
            store_retained_delete(b, topic);
        }
        retained_clear(&b->retained, topic); /* [MQTT-3.3.1-6] [MQTT-3.3.1-7] */
        return 0;
    }
    if (retained_get(&b->retained, topic) == m) {
        return 0; /* stored by an attempt that then ran out of memory */
    }
    if (retained_get(&b->retained, topic) == NULL &&
        retained_count(&b->retained) >= b->settings.max_retained_messages) {
        b->stats.retained_dropped++;
        return 0;
    }
    m->refs++;
    int e = retained_set(&b->retained, topic, m); /* [MQTT-3.3.1-5] */
    if (e != 0) {
        m->refs--;
    } else {
        store_retained_put(b, topic, m);
    }
    return e;
}

/* ---- routing ---- */

struct route_ctx {
    mqttproto_broker *b;
    struct session *origin;
    size_t count;
    int error;
};

static void visit_sub(void *ctx, const struct subtrie_sub *sub)
{
    struct route_ctx *r = ctx;
    mqttproto_broker *b = r->b;
    struct session *s = sub->subscriber;
    if (sub->no_local && s == r->origin) {
        return; /* [MQTT-3.8.3-3] */
    }
    struct route_target *t;
    if (s->route_mark == b->route_mark) {
        t = &b->targets[s->route_slot];
        /* [MQTT-3.3.4-2] one delivery, at the highest QoS granted */
        if (sub->qos > t->qos) {
            t->qos = sub->qos;
        }
        t->retain_as_published = t->retain_as_published || sub->retain_as_published;
    } else {
        if (r->count == b->target_cap) {
            size_t cap = b->target_cap == 0 ? 16 : b->target_cap * 2;
            struct route_target *a = mem_realloc(&b->mem, b->targets, cap * sizeof *a);
            if (a == NULL) {
                r->error = MQTTPROTO_ERR_NO_MEMORY;
                return;
            }
            b->targets = a;
            b->target_cap = cap;
        }
        s->route_mark = b->route_mark;
        s->route_slot = r->count;
        t = &b->targets[r->count++];
        t->session = s;
        t->qos = sub->qos;
        t->retain_as_published = sub->retain_as_published;
        t->nsubids = 0;
        t->extra_head = 0;
    }
    /* [MQTT-3.3.4-3] every matching subscription's identifier, up to
       MAX_DELIVERY_SUBIDS; [MQTT-3.3.4-4] one copy carries them all, in
       no particular order */
    if (sub->subscription_identifier == 0 || t->nsubids >= MAX_DELIVERY_SUBIDS) {
        return;
    }
    if (t->nsubids < 8) {
        t->subids[t->nsubids++] = sub->subscription_identifier;
        return;
    }
    if (b->extra_count == b->extra_cap) {
        size_t cap = b->extra_cap == 0 ? 16 : b->extra_cap * 2;
        struct route_extra *a = mem_realloc(&b->mem, b->route_extra, cap * sizeof *a);
        if (a == NULL) {
            r->error = MQTTPROTO_ERR_NO_MEMORY;
            return;
        }
        b->route_extra = a;
        b->extra_cap = cap;
    }
    b->route_extra[b->extra_count].id = sub->subscription_identifier;
    b->route_extra[b->extra_count].next = t->extra_head;
    t->extra_head = (uint32_t)++b->extra_count;
    t->nsubids++;
}

/* The identifiers of target @p t in one array (valid until the next call). */
static const uint32_t *target_subids(mqttproto_broker *b, const struct route_target *t)
{
    if (t->nsubids <= 8) {
        return t->subids;
    }
    memcpy(b->gathered, t->subids, sizeof t->subids);
    size_t n = 8;
    for (uint32_t k = t->extra_head; k != 0 && n < t->nsubids; k = b->route_extra[k - 1].next) {
        b->gathered[n++] = b->route_extra[k - 1].id;
    }
    return b->gathered;
}

static void visit_group(void *ctx, struct subtrie_group *g)
{
    struct route_ctx *r = ctx;
    mqttproto_broker *b = r->b;
    if (b->group_count == b->group_cap) {
        size_t cap = b->group_cap == 0 ? 8 : b->group_cap * 2;
        struct subtrie_group **a = mem_realloc(&b->mem, b->groups, cap * sizeof *a);
        if (a == NULL) {
            r->error = MQTTPROTO_ERR_NO_MEMORY;
            return;
        }
        b->groups = a;
        b->group_cap = cap;
    }
    b->groups[b->group_count++] = g;
}

static bool member_online(void *ctx, const struct subtrie_sub *sub)
{
    (void)ctx;
    const struct session *s = sub->subscriber;
    return s->conn != NULL;
}

static int deliver_to(mqttproto_broker *b, struct bmsg *m, struct session *s, uint8_t sub_qos,
                      bool rap, const uint32_t *subids, uint8_t nsubids, bool shared)
{
    uint8_t qos = m->qos < sub_qos ? m->qos : sub_qos;
    /* [MQTT-3.3.1-12] [MQTT-3.3.1-13] RETAIN only when asked to keep it */
    bool retain = rap && m->retain;
    return session_enqueue(b, s, m, qos, retain, subids, nsubids, shared);
}

/* [MQTT-4.5.0-1] a message goes to every session with a matching
   subscription; a shared group's copy is separate and carries its own
   identifier [MQTT-3.3.4-5]. */
int broker_route(mqttproto_broker *b, struct bmsg *m, struct session *origin, uint64_t now_ms)
{
    (void)now_ms;
    mqttproto_packet pkt;
    if (mqttproto_decode(m->blob, m->len, NULL, &pkt) <= 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    b->route_mark++;
    b->group_count = 0;
    b->extra_count = 0;
    struct route_ctx r = {b, origin, 0, 0};
    int e = subtrie_match(&b->subs, pkt.publish.topic, visit_sub, visit_group, &r);
    if (e == 0) {
        e = r.error;
    }
    if (e != 0) {
        return e;
    }
    for (size_t i = 0; i < r.count; i++) {
        b->targets[i].shared = false;
    }
    for (size_t i = 0; i < b->group_count; i++) {
        /* [MQTT-4.8.2-3] one member of each group: a connected one if any */
        const struct subtrie_sub *sub = subtrie_group_pick(b->groups[i], member_online, NULL);
        if (sub == NULL) {
            sub = subtrie_group_pick(b->groups[i], NULL, NULL);
        }
        if (sub == NULL) {
            continue;
        }
        if (r.count == b->target_cap) {
            size_t cap = b->target_cap == 0 ? 16 : b->target_cap * 2;
            struct route_target *a = mem_realloc(&b->mem, b->targets, cap * sizeof *a);
            if (a == NULL) {
                return MQTTPROTO_ERR_NO_MEMORY;
            }
            b->targets = a;
            b->target_cap = cap;
        }
        struct route_target *t = &b->targets[r.count++];
        t->session = sub->subscriber;
        t->qos = sub->qos;
        t->retain_as_published = false;
        t->shared = true;
        t->subids[0] = sub->subscription_identifier;
        t->nsubids = t->subids[0] != 0 ? 1 : 0;
        t->extra_head = 0;
    }
    /* Every delivery is made before any is queued: out of memory, the
       message went nowhere and routing it again repeats nothing. */
    for (size_t i = 0; i < r.count; i++) {
        struct route_target *t = &b->targets[i];
        /* [MQTT-3.8.4-8] the lower of the published and the granted QoS */
        uint8_t qos = m->qos < t->qos ? m->qos : t->qos;
        /* [MQTT-3.3.1-12] [MQTT-3.3.1-13] RETAIN only when asked to keep it */
        t->made = delivery_new(b, t->session, m, qos, t->retain_as_published && m->retain,
                               target_subids(b, t), t->nsubids, t->shared, &e);
        if (e != 0) {
            while (i-- > 0) {
                if (b->targets[i].made != NULL) {
                    delivery_discard(b, b->targets[i].made);
                }
            }
            return e;
        }
    }
    b->stats.messages_routed++;
    int delivered = 0;
    for (size_t i = 0; i < r.count; i++) {
        struct route_target *t = &b->targets[i];
        if (t->made != NULL && session_link(b, t->session, t->made) > 0) {
            delivered++;
        }
    }
    return delivered;
}

int mqttproto_broker_publish(mqttproto_broker *b, mqttproto_str topic, mqttproto_bin payload,
                             mqttproto_qos qos, bool retain, const mqttproto_properties *props,
                             uint64_t now_ms)
{
    if (b == NULL || (unsigned)qos > 2u) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (now_ms > b->now_ms) {
        b->now_ms = now_ms;
    }
    mqttproto_publish p;
    memset(&p, 0, sizeof p);
    p.topic = topic;
    p.payload = payload;
    p.qos = qos;
    p.retain = retain;
    if (props != NULL) {
        p.properties = *props;
    } else {
        mqttproto_properties_init(&p.properties);
    }
    int e = mqttproto_topic_name_validate(topic);
    if (e != 0) {
        return e;
    }
    struct bmsg *m = broker_msg_new(b, &p, now_ms, &e);
    if (m == NULL) {
        return e;
    }
    if (retain) {
        e = broker_retain(b, m, topic);
    }
    int n = e == 0 ? broker_route(b, m, NULL, now_ms) : e;
    broker_msg_release(b, m);
    return n;
}
