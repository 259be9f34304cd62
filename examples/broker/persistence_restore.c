/*
 * Start-up: the store's rows given to the library's restore calls. A row
 * the library refuses (it names a session or message that is not there,
 * or breaks a limit) is logged and skipped, so one bad row does not cost
 * the rest; running out of memory stops the start.
 */
#include "persistence.h"

#include "log.h"

#include <mqttproto/mqttproto.h>

#include <string.h>

enum { R_SESSIONS, R_SUBSCRIPTIONS, R_MESSAGES, R_DELIVERIES, R_RETAINED, R_WILLS, R_INBOUND, R_N };

struct restore {
    mqttproto_broker *broker;
    size_t count[R_N];
    size_t refused;
};

/* 0: restored; 1: refused (the caller says what, and it is skipped); a
   negative error to stop at. */
static int judge(struct restore *r, int what, int e)
{
    if (e == 0) {
        r->count[what]++;
        return 0;
    }
    if (e == MQTTPROTO_ERR_NO_MEMORY || e == MQTTPROTO_ERR_BAD_STATE) {
        return e;
    }
    r->refused++;
    return 1;
}

#define REFUSED(...)                                                                               \
    do {                                                                                           \
        log_warning("store: " __VA_ARGS__);                                                        \
        return 0;                                                                                  \
    } while (0)

static int on_session(void *ctx, mqttproto_str id, uint32_t interval, uint64_t at)
{
    struct restore *r = ctx;
    int e = mqttproto_broker_restore_session(r->broker, id, interval, at);
    int v = judge(r, R_SESSIONS, e);
    if (v == 1) {
        REFUSED("session %.*s is not restored: %s", (int)id.len, id.data, mqttproto_strerror(e));
    }
    return v;
}

static int on_subscription(void *ctx, mqttproto_str id, mqttproto_str filter, uint8_t options,
                           uint32_t sub_id)
{
    struct restore *r = ctx;
    int e = mqttproto_broker_restore_subscription(r->broker, id, filter, options, sub_id);
    int v = judge(r, R_SUBSCRIPTIONS, e);
    if (v == 1) {
        REFUSED("subscription %.*s of session %.*s is not restored: %s", (int)filter.len,
                filter.data, (int)id.len, id.data, mqttproto_strerror(e));
    }
    return v;
}

static int on_message(void *ctx, uint64_t mid, mqttproto_bin m, uint8_t qos, uint64_t at)
{
    struct restore *r = ctx;
    int e = mqttproto_broker_restore_message(r->broker, mid, m, qos, at);
    int v = judge(r, R_MESSAGES, e);
    if (v == 1) {
        REFUSED("message %llu is not restored: %s", (unsigned long long)mid, mqttproto_strerror(e));
    }
    return v;
}

static int on_delivery(void *ctx, const struct store_delivery *d)
{
    struct restore *r = ctx;
    int e = mqttproto_broker_restore_delivery(
        r->broker, d->client_id, d->delivery_id, d->message_id, d->qos, d->retain, d->shared,
        d->subscription_identifiers, d->subscription_identifier_count, d->packet_id, d->stage);
    int v = judge(r, R_DELIVERIES, e);
    if (v == 1) {
        REFUSED("delivery %llu (message %llu) to session %.*s is not restored: %s",
                (unsigned long long)d->delivery_id, (unsigned long long)d->message_id,
                (int)d->client_id.len, d->client_id.data, mqttproto_strerror(e));
    }
    return v;
}

static int on_retained(void *ctx, mqttproto_str topic, uint64_t mid)
{
    struct restore *r = ctx;
    int e = mqttproto_broker_restore_retained(r->broker, topic, mid);
    int v = judge(r, R_RETAINED, e);
    if (v == 1) {
        REFUSED("the retained message of %.*s (message %llu) is not restored: %s", (int)topic.len,
                topic.data, (unsigned long long)mid, mqttproto_strerror(e));
    }
    return v;
}

static int on_will(void *ctx, mqttproto_str id, uint64_t mid, uint32_t delay, uint64_t at)
{
    struct restore *r = ctx;
    int e = mqttproto_broker_restore_will(r->broker, id, mid, delay, at);
    int v = judge(r, R_WILLS, e);
    if (v == 1) {
        REFUSED("the will of session %.*s (message %llu) is not restored: %s", (int)id.len, id.data,
                (unsigned long long)mid, mqttproto_strerror(e));
    }
    return v;
}

static int on_inbound(void *ctx, mqttproto_str id, uint16_t pid)
{
    struct restore *r = ctx;
    int e = mqttproto_broker_restore_inbound(r->broker, id, pid);
    int v = judge(r, R_INBOUND, e);
    if (v == 1) {
        REFUSED("inbound QoS 2 packet id %u of session %.*s is not restored: %s", pid, (int)id.len,
                id.data, mqttproto_strerror(e));
    }
    return v;
}

static const struct store_loader loader = {
    on_session, on_subscription, on_message, on_delivery, on_retained, on_will, on_inbound,
};

bool persistence_restore(mqttproto_broker *broker, struct store *st)
{
    struct restore r;
    memset(&r, 0, sizeof r);
    r.broker = broker;
    char err[1024];
    int e = store_load(st, &loader, &r, err, sizeof err);
    if (e == -1) {
        log_error("cannot restore the store: %s", err);
        return false;
    }
    if (e != 0) {
        log_error("cannot restore the store %s: %s", store_path(st), mqttproto_strerror(e));
        return false;
    }
    log_info("restored from %s: %zu sessions, %zu subscriptions, %zu messages, %zu deliveries, "
             "%zu retained, %zu wills, %zu inbound QoS 2 ids%s",
             store_path(st), r.count[R_SESSIONS], r.count[R_SUBSCRIPTIONS], r.count[R_MESSAGES],
             r.count[R_DELIVERIES], r.count[R_RETAINED], r.count[R_WILLS], r.count[R_INBOUND],
             r.refused > 0 ? " (some rows refused: see the warnings)" : "");
    return true;
}
