/*
 * A store for the broker's durable-state records, held in memory the way a
 * database would hold them (tables keyed as broker_store.h describes), with
 * a text log of every record, and the restore of a new broker from it.
 *
 * Log lines (one per record):
 *   "SESSION_PUT <id> exp=<s> at=<ms|->"   "SESSION_DELETE <id>"
 *   "SUBSCRIPTION_PUT <id> <filter> o=<hex> sid=<n>"   "SUBSCRIPTION_DELETE <id> <filter>"
 *   "MESSAGE_PUT m<n> q<qos> r<retain> exp=<ms|->"   "MESSAGE_DELETE m<n>"
 *   "DELIVERY_PUT <id> d<n> m<n> q<qos> r<retain> s<shared> sids=<n>"
 *   "DELIVERY_SENT <id> d<n> p<packet id>"   "DELIVERY_RELEASED <id> d<n> p<packet id>"
 *   "DELIVERY_DELETE <id> d<n>"
 *   "RETAINED_PUT <topic> m<n>"   "RETAINED_DELETE <topic>"
 *   "WILL_PUT <id> m<n> delay=<s> at=<ms|->"   "WILL_DELETE <id>"
 *   "INBOUND_PUT <id> p<n>"   "INBOUND_DELETE <id> p<n>"
 */
#ifndef MQTTPROTO_TEST_STORE_MODEL_H
#define MQTTPROTO_TEST_STORE_MODEL_H

#include "testutil.h"

#define MODEL_MAX    512
#define MODEL_LOGCAP 65536

struct model_row {
    bool used;
    char client[64];
    char topic[128];
    uint32_t expiry;
    uint64_t at;
    uint8_t options;
    uint32_t subid;
    uint64_t msg;
    uint64_t id;
    uint8_t qos;
    bool retain, shared;
    uint32_t subids[8];
    size_t nsubids;
    uint16_t packet_id;
    uint8_t stage;
    uint32_t delay;
    uint8_t blob[512];
    size_t blob_len;
};

struct store_model {
    struct model_row sessions[MODEL_MAX], subs[MODEL_MAX], messages[MODEL_MAX],
        deliveries[MODEL_MAX], retained[MODEL_MAX], wills[MODEL_MAX], inbound[MODEL_MAX];
    uint64_t last_seq;
    size_t records;
    char log[MODEL_LOGCAP];
    size_t log_len;
};

void model_init(struct store_model *m);

/* The callback for mqttproto_broker_set_store() (ctx: the model). It
   checks that sequence numbers follow each other and that every record
   names a message the model holds. */
void model_record(void *ctx, const mqttproto_store_record *r);

/* Restore @p b from the model and finish the restore at @p now_ms. */
void model_restore(const struct store_model *m, mqttproto_broker *b, uint64_t now_ms);

/* Rows in use in a table. */
size_t model_count(const struct model_row *table);

/* Messages no delivery, retained entry or will refers to. */
size_t model_orphans(const struct store_model *m);

bool model_log_has(const struct store_model *m, const char *line);
void model_log_clear(struct store_model *m);

#endif /* MQTTPROTO_TEST_STORE_MODEL_H */
