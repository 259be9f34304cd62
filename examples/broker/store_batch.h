/*
 * The records of one batch, copied: a record's views are valid only
 * during the library's callback, and the batch is written later. The
 * bytes of every record (client id, topic, message, identifiers) go into
 * one growing buffer; records refer to them by offset, so growing it
 * moves nothing they hold.
 */
#ifndef BROKER_STORE_BATCH_H
#define BROKER_STORE_BATCH_H

#include <mqttproto/broker_store.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A slice of the batch's buffer. */
struct batch_span {
    size_t off, len;
};

struct batch_record {
    mqttproto_store_record_type type;
    uint64_t seq;
    struct batch_span client_id;
    uint32_t session_expiry_interval;
    uint64_t expires_at;
    struct batch_span topic;
    uint8_t options;
    uint32_t subscription_identifier;
    uint64_t message_id;
    struct batch_span message;
    uint64_t delivery_id;
    uint8_t qos;
    bool retain;
    bool shared;
    /* The identifiers as 4-byte big-endian values: what the file holds. */
    struct batch_span subscription_identifiers;
    uint16_t packet_id;
    uint32_t will_delay;
    uint64_t will_at;
};

struct store_batch {
    struct batch_record *v;
    size_t count, cap;
    uint8_t *bytes;
    size_t used, bytes_cap;
    bool incomplete; /* a record could not be copied */
};

void store_batch_init(struct store_batch *b);
void store_batch_free(struct store_batch *b);

/** Empty it, keeping the memory for the next batch (up to a limit). */
void store_batch_clear(struct store_batch *b);

/** Drop the first @p n records, whose bytes are the first @p nbytes. */
void store_batch_drop_front(struct store_batch *b, size_t n, size_t nbytes);

/** Copy @p r in; false (and incomplete set) when out of memory. */
bool store_batch_add(struct store_batch *b, const mqttproto_store_record *r);

/** A zeroed record at the end; NULL when out of memory. */
struct batch_record *store_batch_push(struct store_batch *b);

/** @p len more bytes at the end of the buffer, to be filled by the caller
    (the pointer is valid until the buffer grows again); NULL when out of
    memory. */
uint8_t *store_batch_grow(struct store_batch *b, size_t len);

/** The bytes of @p s. */
static inline const uint8_t *store_batch_at(const struct store_batch *b, struct batch_span s)
{
    return b->bytes + s.off;
}

#endif /* BROKER_STORE_BATCH_H */
