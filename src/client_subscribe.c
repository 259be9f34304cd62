/*
 * The client's subscriptions: a reference count per topic filter, so that
 * SUBSCRIBE and UNSUBSCRIBE go out only when a filter is new or no longer
 * wanted, and the requests waiting for SUBACK/UNSUBACK.
 */
#include "client_internal.h"

#include "mqttproto/topic.h"

#include <string.h>

static void request_link(mqttproto_client *c, struct request *r)
{
    r->prev = c->req_tail;
    r->next = NULL;
    if (c->req_tail != NULL) {
        c->req_tail->next = r;
    } else {
        c->req_head = r;
    }
    c->req_tail = r;
}

static void request_unlink(mqttproto_client *c, struct request *r)
{
    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else {
        c->req_head = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    } else {
        c->req_tail = r->prev;
    }
}

static void request_free(mqttproto_client *c, struct request *r)
{
    mem_free(&c->mem, r->lens);
    mem_free(&c->mem, r->text);
    mem_free(&c->mem, r);
}

/* A request recording @p count filters (copied). */
static struct request *request_new(mqttproto_client *c, uint8_t kind, const mqttproto_str *filters,
                                   size_t count)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        total += filters[i].len;
    }
    struct request *r = mem_alloc(&c->mem, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->kind = kind;
    r->packet_id = 0;
    r->prev = r->next = NULL;
    r->count = count;
    r->lens = mem_alloc(&c->mem, count * sizeof *r->lens);
    r->text = mem_alloc(&c->mem, total);
    if (r->lens == NULL || r->text == NULL) {
        request_free(c, r);
        return NULL;
    }
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        r->lens[i] = filters[i].len;
        if (filters[i].len > 0) {
            memcpy(r->text + off, filters[i].data, filters[i].len);
        }
        off += filters[i].len;
    }
    return r;
}

/* Encode a SUBSCRIBE or UNSUBSCRIBE and record it under a new identifier. */
static int32_t send_request(mqttproto_client *c, mqttproto_packet *pkt, struct request *r)
{
    uint16_t id = client_free_packet_id(c);
    if (id == 0) {
        return MQTTPROTO_ERR_PACKET_ID_EXHAUSTED;
    }
    if (pkt->type == MQTTPROTO_PACKET_SUBSCRIBE) {
        pkt->subscribe.packet_id = id;
    } else {
        pkt->unsubscribe.packet_id = id;
    }
    r->packet_id = id;
    if (idmap_put(&c->ids, &c->mem, id, r) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    int e = client_write_packet(c, pkt);
    if (e != 0) {
        idmap_remove(&c->ids, id);
        return e;
    }
    client_take_packet_id(c, id);
    request_link(c, r);
    return id;
}

/*
 * What the server said in its CONNACK it does not support is never asked
 * for: a SUBSCRIBE with it would be a Protocol Error on the server's side
 * (sections 3.2.2.3.11 to 3.2.2.3.13). Every filter of the call is checked,
 * also those already subscribed, so that the answer does not depend on the
 * table: 0 or the error, and nothing changed.
 */
static int check_server_support(const mqttproto_client *c, const mqttproto_subscription *subs,
                                size_t count, const mqttproto_properties *props)
{
    const mqttproto_client_server_info *s = &c->server;
    if (client_is_v3(c)) {
        /* Only the Requested QoS, and no properties, before MQTT 5. */
        if (client_props_given(props)) {
            return MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION;
        }
        for (size_t i = 0; i < count; i++) {
            if (subs[i].no_local || subs[i].retain_as_published || subs[i].retain_handling != 0) {
                return MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION;
            }
        }
    }
    for (size_t i = 0; i < count; i++) {
        mqttproto_str f = subs[i].topic_filter;
        int e = mqttproto_topic_filter_validate(f);
        if (e != 0) {
            return e;
        }
        mqttproto_str inner;
        if (mqttproto_shared_filter_parse(f, NULL, &inner) == 1 &&
            !s->shared_subscription_available) {
            return MQTTPROTO_ERR_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED;
        }
        /* In a valid filter '+' and '#' are always wildcards. */
        if (!s->wildcard_subscription_available && (memchr(inner.data, '+', inner.len) != NULL ||
                                                    memchr(inner.data, '#', inner.len) != NULL)) {
            return MQTTPROTO_ERR_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED;
        }
    }
    if (props != NULL && !s->subscription_identifier_available &&
        (mqttproto_properties_has(props, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER) ||
         props->subscription_identifier_count > 0)) {
        return MQTTPROTO_ERR_SUBSCRIPTION_IDS_NOT_SUPPORTED;
    }
    return 0;
}

int32_t mqttproto_client_subscribe(mqttproto_client *c, const mqttproto_subscription *subs,
                                   size_t count, const mqttproto_properties *props)
{
    if (c == NULL || subs == NULL || count == 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (c->state != MQTTPROTO_CLIENT_CONNECTED) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    int e = check_server_support(c, subs, count, props);
    if (e != 0) {
        return e;
    }
    /* The new filters, in the caller's order, each once. */
    mqttproto_subscription *fresh = mem_alloc(&c->mem, count * sizeof *fresh);
    mqttproto_str *names = mem_alloc(&c->mem, count * sizeof *names);
    if (fresh == NULL || names == NULL) {
        mem_free(&c->mem, fresh);
        mem_free(&c->mem, names);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        mqttproto_str f = subs[i].topic_filter;
        bool seen = strmap_find(&c->subs, f.data, f.len) != NULL;
        for (size_t j = 0; j < n && !seen; j++) {
            seen = names[j].len == f.len && memcmp(names[j].data, f.data, f.len) == 0;
        }
        if (!seen) {
            fresh[n] = subs[i];
            names[n] = f;
            n++;
        }
    }
    int32_t result = 0;
    struct request *r = NULL;
    if (n > 0) {
        mqttproto_packet pkt;
        memset(&pkt, 0, sizeof pkt);
        pkt.type = MQTTPROTO_PACKET_SUBSCRIBE;
        pkt.subscribe.subscriptions.items = fresh;
        pkt.subscribe.subscriptions.count = n;
        if (props != NULL) {
            pkt.subscribe.properties = *props;
        } else {
            mqttproto_properties_init(&pkt.subscribe.properties);
        }
        /* Validate everything before any state changes. */
        ptrdiff_t size = mqttproto_encoded_size(&pkt, &c->out_opts);
        result = size < 0 ? (int32_t)size : 0;
        if (result == 0) {
            r = request_new(c, FLOW_SUBSCRIBE, names, n);
            result = r == NULL ? MQTTPROTO_ERR_NO_MEMORY : 0;
        }
        /* Count the new filters in before sending, so a failure can undo it. */
        size_t added = 0;
        for (; result == 0 && added < n; added++) {
            if (strmap_insert(&c->subs, &c->mem, names[added].data, names[added].len, 0) == NULL) {
                result = MQTTPROTO_ERR_NO_MEMORY;
                break;
            }
        }
        if (result == 0) {
            result = send_request(c, &pkt, r);
        }
        if (result < 0) {
            for (size_t i = 0; i < added; i++) {
                strmap_remove(&c->subs, &c->mem, names[i].data, names[i].len);
            }
            if (r != NULL) {
                request_free(c, r);
            }
        }
    }
    if (result >= 0) {
        for (size_t i = 0; i < count; i++) {
            mqttproto_str f = subs[i].topic_filter;
            strmap_find(&c->subs, f.data, f.len)->value++;
        }
    }
    mem_free(&c->mem, fresh);
    mem_free(&c->mem, names);
    return result;
}

int32_t mqttproto_client_unsubscribe(mqttproto_client *c, const mqttproto_str *filters,
                                     size_t count, const mqttproto_properties *props)
{
    if (c == NULL || filters == NULL || count == 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (c->state != MQTTPROTO_CLIENT_CONNECTED) {
        return MQTTPROTO_ERR_BAD_STATE;
    }
    if (client_is_v3(c) && client_props_given(props)) {
        return MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION;
    }
    /* Check every filter first: the call changes nothing when one is not
       subscribed. A filter named twice takes two counts. */
    mqttproto_str *gone = mem_alloc(&c->mem, count * sizeof *gone);
    uint32_t *taken = mem_alloc(&c->mem, count * sizeof *taken);
    if (gone == NULL || taken == NULL) {
        mem_free(&c->mem, gone);
        mem_free(&c->mem, taken);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    int32_t result = 0;
    size_t n = 0;
    for (size_t i = 0; i < count && result == 0; i++) {
        struct strmap_entry *e = strmap_find(&c->subs, filters[i].data, filters[i].len);
        uint32_t uses = 1;
        for (size_t j = 0; j < i; j++) {
            if (filters[j].len == filters[i].len &&
                memcmp(filters[j].data, filters[i].data, filters[i].len) == 0) {
                uses++;
            }
        }
        if (e == NULL || e->value < uses) {
            result = MQTTPROTO_ERR_NOT_SUBSCRIBED;
        } else if (e->value == uses) {
            gone[n++] = filters[i];
        }
        taken[i] = uses;
    }
    struct request *r = NULL;
    if (result == 0 && n > 0) {
        mqttproto_packet pkt;
        memset(&pkt, 0, sizeof pkt);
        pkt.type = MQTTPROTO_PACKET_UNSUBSCRIBE;
        pkt.unsubscribe.topic_filters.items = gone;
        pkt.unsubscribe.topic_filters.count = n;
        if (props != NULL) {
            pkt.unsubscribe.properties = *props;
        } else {
            mqttproto_properties_init(&pkt.unsubscribe.properties);
        }
        r = request_new(c, FLOW_UNSUBSCRIBE, gone, n);
        result = r == NULL ? MQTTPROTO_ERR_NO_MEMORY : send_request(c, &pkt, r);
        if (result < 0 && r != NULL) {
            request_free(c, r);
        }
    }
    if (result >= 0) {
        for (size_t i = 0; i < count; i++) {
            struct strmap_entry *e = strmap_find(&c->subs, filters[i].data, filters[i].len);
            if (e != NULL && --e->value == 0) {
                strmap_remove(&c->subs, &c->mem, filters[i].data, filters[i].len);
            }
        }
    }
    (void)taken;
    mem_free(&c->mem, gone);
    mem_free(&c->mem, taken);
    return result;
}

int client_handle_suback(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len)
{
    const mqttproto_suback *a = &pkt->suback;
    uint8_t want = pkt->type == MQTTPROTO_PACKET_SUBACK ? FLOW_SUBSCRIBE : FLOW_UNSUBSCRIBE;
    struct request *r = idmap_get(&c->ids, a->packet_id);
    if (r == NULL || r->kind != want) {
        /* [MQTT-2.2.1-6] the identifier of a SUBSCRIBE (UNSUBSCRIBE) waiting
           for its answer */
        return MQTTPROTO_ERR_UNKNOWN_PACKET_ID;
    }
    /* A 3.1.1 UNSUBACK carries no reason codes. */
    bool counted = !(client_is_v3(c) && pkt->type == MQTTPROTO_PACKET_UNSUBACK);
    if (counted && a->reason_code_count != r->count) {
        /* [MQTT-3.8.4-6] one reason code per filter sent */
        return MQTTPROTO_ERR_REASON_CODE_COUNT_MISMATCH;
    }
    struct ev_rec ev = {0};
    ev.type = want == FLOW_SUBSCRIBE ? MQTTPROTO_CLIENT_EVENT_SUBSCRIBE_ACK
                                     : MQTTPROTO_CLIENT_EVENT_UNSUBSCRIBE_ACK;
    ev.packet_id = a->packet_id;
    ev.pkt_off = off;
    ev.pkt_len = len;
    ev.topic_off = SIZE_MAX;
    int e = client_push_event(c, &ev);
    if (e != 0) {
        return e;
    }
    if (want == FLOW_SUBSCRIBE) {
        /* A refused filter is not subscribed. [MQTT-3.9.3-1] the reason
           codes are in the order of the filters sent. */
        const char *text = r->text;
        for (size_t i = 0; i < r->count; i++) {
            if (a->reason_codes[i] >= 0x80) {
                strmap_remove(&c->subs, &c->mem, text, r->lens[i]);
            }
            text += r->lens[i];
        }
    }
    idmap_remove(&c->ids, a->packet_id);
    request_unlink(c, r);
    request_free(c, r);
    return 0;
}

/* End every request waiting for an answer. With @p report, each ends with a
   REQUEST_FAILED event, in the order the requests were sent; returns
   NO_MEMORY when some of those could not be queued (the requests end all
   the same). */
static int end_requests(mqttproto_client *c, bool report)
{
    int result = 0;
    while (c->req_head != NULL) {
        struct request *r = c->req_head;
        if (report) {
            struct ev_rec ev = {0};
            ev.type = MQTTPROTO_CLIENT_EVENT_REQUEST_FAILED;
            ev.packet_id = r->packet_id;
            ev.error = MQTTPROTO_ERR_CONNECTION_LOST;
            ev.topic_off = SIZE_MAX;
            if (client_push_event(c, &ev) != 0) {
                result = MQTTPROTO_ERR_NO_MEMORY;
            }
            if (r->kind == FLOW_SUBSCRIBE) {
                /* Never confirmed: not subscribed. */
                const char *text = r->text;
                for (size_t k = 0; k < r->count; k++) {
                    strmap_remove(&c->subs, &c->mem, text, r->lens[k]);
                    text += r->lens[k];
                }
            }
        }
        idmap_remove(&c->ids, r->packet_id);
        request_unlink(c, r);
        request_free(c, r);
    }
    return result;
}

size_t client_requests_pending(const mqttproto_client *c)
{
    size_t n = 0;
    for (const struct request *r = c->req_head; r != NULL; r = r->next) {
        n++;
    }
    return n;
}

int client_requests_connection_lost(mqttproto_client *c)
{
    return end_requests(c, true);
}

void client_requests_free(mqttproto_client *c)
{
    (void)end_requests(c, false);
}
