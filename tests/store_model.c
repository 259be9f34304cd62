#include "store_model.h"

#include <stdio.h>
#include <string.h>

void model_init(struct store_model *m)
{
    memset(m, 0, sizeof *m);
}

static void logf_(struct store_model *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void logf_(struct store_model *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->log + m->log_len, MODEL_LOGCAP - m->log_len - 1, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < MODEL_LOGCAP - m->log_len - 2);
    m->log_len += (size_t)n;
    m->log[m->log_len++] = '\n';
    m->log[m->log_len] = '\0';
}

static void copy_str(char *dst, size_t cap, mqttproto_str s)
{
    assert_true(s.len < cap);
    if (s.len > 0) {
        memcpy(dst, s.data, s.len);
    }
    dst[s.len] = '\0';
}

static bool same(const char *a, mqttproto_str b)
{
    return strlen(a) == b.len && (b.len == 0 || memcmp(a, b.data, b.len) == 0);
}

/* The row matching the key, or a free one when @p create. */
static struct model_row *row_find(struct model_row *t, const mqttproto_str *client,
                                  const mqttproto_str *topic, uint64_t id, bool create)
{
    for (size_t i = 0; i < MODEL_MAX; i++) {
        struct model_row *r = &t[i];
        if (r->used && (client == NULL || same(r->client, *client)) &&
            (topic == NULL || same(r->topic, *topic)) && (id == 0 || r->id == id)) {
            return r;
        }
    }
    if (!create) {
        return NULL;
    }
    for (size_t i = 0; i < MODEL_MAX; i++) {
        if (!t[i].used) {
            memset(&t[i], 0, sizeof t[i]);
            t[i].used = true;
            if (client != NULL) {
                copy_str(t[i].client, sizeof t[i].client, *client);
            }
            if (topic != NULL) {
                copy_str(t[i].topic, sizeof t[i].topic, *topic);
            }
            t[i].id = id;
            return &t[i];
        }
    }
    fail_msg("model table full");
    return NULL;
}

static void drop_client_rows(struct model_row *t, mqttproto_str client)
{
    for (size_t i = 0; i < MODEL_MAX; i++) {
        if (t[i].used && same(t[i].client, client)) {
            t[i].used = false;
        }
    }
}

static void need_message(struct store_model *m, uint64_t id)
{
    if (row_find(m->messages, NULL, NULL, id, false) == NULL) {
        fail_msg("record names message %llu the store does not hold", (unsigned long long)id);
    }
}

static void need_session(struct store_model *m, mqttproto_str client)
{
    if (row_find(m->sessions, &client, NULL, 0, false) == NULL) {
        fail_msg("record names session %.*s the store does not hold", (int)client.len, client.data);
    }
}

static const char *at_text(uint64_t at, char *buf, size_t cap)
{
    if (at == UINT64_MAX) {
        return "-";
    }
    (void)snprintf(buf, cap, "%llu", (unsigned long long)at);
    return buf;
}

void model_record(void *ctx, const mqttproto_store_record *r)
{
    struct store_model *m = ctx;
    assert_int_equal(r->seq, m->last_seq + 1);
    m->last_seq = r->seq;
    m->records++;
    const mqttproto_str *cid = &r->client_id;
    int cl = (int)cid->len;
    const char *cd = cid->data;
    int tl = (int)r->topic.len;
    const char *td = r->topic.data;
    char a[32];
    struct model_row *row;
    switch (r->type) {
    case MQTTPROTO_STORE_SESSION_PUT:
        row = row_find(m->sessions, cid, NULL, 0, true);
        row->expiry = r->session_expiry_interval;
        row->at = r->expires_at;
        logf_(m, "SESSION_PUT %.*s exp=%u at=%s", cl, cd, r->session_expiry_interval,
              at_text(r->expires_at, a, sizeof a));
        break;
    case MQTTPROTO_STORE_SESSION_DELETE:
        drop_client_rows(m->sessions, *cid);
        drop_client_rows(m->subs, *cid);
        drop_client_rows(m->deliveries, *cid);
        drop_client_rows(m->wills, *cid);
        drop_client_rows(m->inbound, *cid);
        logf_(m, "SESSION_DELETE %.*s", cl, cd);
        break;
    case MQTTPROTO_STORE_SUBSCRIPTION_PUT:
        need_session(m, *cid);
        row = row_find(m->subs, cid, &r->topic, 0, true);
        row->options = r->options;
        row->subid = r->subscription_identifier;
        logf_(m, "SUBSCRIPTION_PUT %.*s %.*s o=%02x sid=%u", cl, cd, tl, td, r->options,
              r->subscription_identifier);
        break;
    case MQTTPROTO_STORE_SUBSCRIPTION_DELETE:
        row = row_find(m->subs, cid, &r->topic, 0, false);
        if (row != NULL) {
            row->used = false;
        }
        logf_(m, "SUBSCRIPTION_DELETE %.*s %.*s", cl, cd, tl, td);
        break;
    case MQTTPROTO_STORE_MESSAGE_PUT:
        assert_true(r->message_id != 0 && r->message.len <= sizeof row->blob);
        row = row_find(m->messages, NULL, NULL, r->message_id, true);
        memcpy(row->blob, r->message.data, r->message.len);
        row->blob_len = r->message.len;
        row->qos = r->qos;
        row->retain = r->retain;
        row->at = r->expires_at;
        logf_(m, "MESSAGE_PUT m%llu q%u r%d exp=%s", (unsigned long long)r->message_id, r->qos,
              r->retain, r->expires_at == 0 ? "-" : at_text(r->expires_at, a, sizeof a));
        break;
    case MQTTPROTO_STORE_MESSAGE_DELETE:
        row = row_find(m->messages, NULL, NULL, r->message_id, false);
        assert_non_null(row);
        row->used = false;
        logf_(m, "MESSAGE_DELETE m%llu", (unsigned long long)r->message_id);
        break;
    case MQTTPROTO_STORE_DELIVERY_PUT:
        need_session(m, *cid);
        need_message(m, r->message_id);
        row = row_find(m->deliveries, NULL, NULL, r->delivery_id, true);
        copy_str(row->client, sizeof row->client, *cid);
        row->msg = r->message_id;
        row->qos = r->qos;
        row->retain = r->retain;
        row->shared = r->shared;
        assert_true(r->subscription_identifier_count <= 8);
        row->nsubids = r->subscription_identifier_count;
        for (size_t i = 0; i < row->nsubids; i++) {
            row->subids[i] = r->subscription_identifiers[i];
        }
        logf_(m, "DELIVERY_PUT %.*s d%llu m%llu q%u r%d s%d sids=%zu", cl, cd,
              (unsigned long long)r->delivery_id, (unsigned long long)r->message_id, r->qos,
              r->retain, r->shared, r->subscription_identifier_count);
        break;
    case MQTTPROTO_STORE_DELIVERY_SENT:
    case MQTTPROTO_STORE_DELIVERY_RELEASED:
        row = row_find(m->deliveries, NULL, NULL, r->delivery_id, false);
        assert_non_null(row);
        assert_true(r->packet_id != 0);
        row->packet_id = r->packet_id;
        row->stage = r->type == MQTTPROTO_STORE_DELIVERY_SENT ? MQTTPROTO_STORE_STAGE_SENT
                                                              : MQTTPROTO_STORE_STAGE_RELEASED;
        logf_(m, "%s %.*s d%llu p%u", mqttproto_store_record_type_name((int)r->type), cl, cd,
              (unsigned long long)r->delivery_id, r->packet_id);
        break;
    case MQTTPROTO_STORE_DELIVERY_DELETE:
        row = row_find(m->deliveries, NULL, NULL, r->delivery_id, false);
        if (row != NULL) {
            row->used = false;
        }
        logf_(m, "DELIVERY_DELETE %.*s d%llu", cl, cd, (unsigned long long)r->delivery_id);
        break;
    case MQTTPROTO_STORE_RETAINED_PUT:
        need_message(m, r->message_id);
        row = row_find(m->retained, NULL, &r->topic, 0, true);
        row->msg = r->message_id;
        logf_(m, "RETAINED_PUT %.*s m%llu", tl, td, (unsigned long long)r->message_id);
        break;
    case MQTTPROTO_STORE_RETAINED_DELETE:
        row = row_find(m->retained, NULL, &r->topic, 0, false);
        if (row != NULL) {
            row->used = false;
        }
        logf_(m, "RETAINED_DELETE %.*s", tl, td);
        break;
    case MQTTPROTO_STORE_WILL_PUT:
        need_session(m, *cid);
        need_message(m, r->message_id);
        row = row_find(m->wills, cid, NULL, 0, true);
        row->msg = r->message_id;
        row->delay = r->will_delay;
        row->at = r->will_at;
        logf_(m, "WILL_PUT %.*s m%llu delay=%u at=%s", cl, cd, (unsigned long long)r->message_id,
              r->will_delay, at_text(r->will_at, a, sizeof a));
        break;
    case MQTTPROTO_STORE_WILL_DELETE:
        drop_client_rows(m->wills, *cid);
        logf_(m, "WILL_DELETE %.*s", cl, cd);
        break;
    case MQTTPROTO_STORE_INBOUND_PUT:
        need_session(m, *cid);
        (void)row_find(m->inbound, cid, NULL, r->packet_id, true);
        logf_(m, "INBOUND_PUT %.*s p%u", cl, cd, r->packet_id);
        break;
    case MQTTPROTO_STORE_INBOUND_DELETE:
        row = row_find(m->inbound, cid, NULL, r->packet_id, false);
        if (row != NULL) {
            row->used = false;
        }
        logf_(m, "INBOUND_DELETE %.*s p%u", cl, cd, r->packet_id);
        break;
    default:
        fail_msg("unknown record type %d", (int)r->type);
    }
}

static mqttproto_str row_client(const struct model_row *r)
{
    return mqttproto_str_from_cstr(r->client);
}

void model_restore(const struct store_model *m, mqttproto_broker *b, uint64_t now_ms)
{
    for (size_t i = 0; i < MODEL_MAX; i++) {
        const struct model_row *r = &m->sessions[i];
        if (r->used) {
            assert_int_equal(mqttproto_broker_restore_session(b, row_client(r), r->expiry, r->at),
                             0);
        }
    }
    for (size_t i = 0; i < MODEL_MAX; i++) {
        const struct model_row *r = &m->subs[i];
        if (r->used) {
            assert_int_equal(
                mqttproto_broker_restore_subscription(
                    b, row_client(r), mqttproto_str_from_cstr(r->topic), r->options, r->subid),
                0);
        }
    }
    for (size_t i = 0; i < MODEL_MAX; i++) {
        const struct model_row *r = &m->messages[i];
        if (r->used) {
            assert_int_equal(mqttproto_broker_restore_message(
                                 b, r->id, mqttproto_bin_make(r->blob, r->blob_len), r->qos, r->at),
                             0);
        }
    }
    /* Deliveries in increasing id: the queue's order. */
    uint64_t last = 0;
    for (;;) {
        const struct model_row *next = NULL;
        for (size_t i = 0; i < MODEL_MAX; i++) {
            const struct model_row *r = &m->deliveries[i];
            if (r->used && r->id > last && (next == NULL || r->id < next->id)) {
                next = r;
            }
        }
        if (next == NULL) {
            break;
        }
        assert_int_equal(mqttproto_broker_restore_delivery(
                             b, row_client(next), next->id, next->msg, next->qos, next->retain,
                             next->shared, next->subids, next->nsubids, next->packet_id,
                             (mqttproto_store_delivery_stage)next->stage),
                         0);
        last = next->id;
    }
    for (size_t i = 0; i < MODEL_MAX; i++) {
        const struct model_row *r = &m->retained[i];
        if (r->used) {
            assert_int_equal(
                mqttproto_broker_restore_retained(b, mqttproto_str_from_cstr(r->topic), r->msg), 0);
        }
    }
    for (size_t i = 0; i < MODEL_MAX; i++) {
        const struct model_row *r = &m->wills[i];
        if (r->used) {
            assert_int_equal(
                mqttproto_broker_restore_will(b, row_client(r), r->msg, r->delay, r->at), 0);
        }
    }
    for (size_t i = 0; i < MODEL_MAX; i++) {
        const struct model_row *r = &m->inbound[i];
        if (r->used) {
            assert_int_equal(mqttproto_broker_restore_inbound(b, row_client(r), (uint16_t)r->id),
                             0);
        }
    }
    assert_int_equal(mqttproto_broker_restore_finish(b, now_ms), 0);
}

size_t model_count(const struct model_row *t)
{
    size_t n = 0;
    for (size_t i = 0; i < MODEL_MAX; i++) {
        n += t[i].used ? 1u : 0u;
    }
    return n;
}

static bool refers(const struct model_row *t, uint64_t msg)
{
    for (size_t i = 0; i < MODEL_MAX; i++) {
        if (t[i].used && t[i].msg == msg) {
            return true;
        }
    }
    return false;
}

size_t model_orphans(const struct store_model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < MODEL_MAX; i++) {
        const struct model_row *r = &m->messages[i];
        if (r->used && !refers(m->deliveries, r->id) && !refers(m->retained, r->id) &&
            !refers(m->wills, r->id)) {
            n++;
        }
    }
    return n;
}

bool model_log_has(const struct store_model *m, const char *line)
{
    size_t n = strlen(line);
    const char *s = m->log;
    while ((s = strstr(s, line)) != NULL) {
        if ((s == m->log || s[-1] == '\n') && s[n] == '\n') {
            return true;
        }
        s += n;
    }
    return false;
}

void model_log_clear(struct store_model *m)
{
    m->log_len = 0;
    m->log[0] = '\0';
}
