#include "store_batch.h"

#include <stdlib.h>
#include <string.h>

/* What an emptied batch keeps for the next one: a burst must not pin its
   memory for the rest of the broker's life. */
#define KEEP_RECORDS 4096u
#define KEEP_BYTES   (1024u * 1024u)

void store_batch_init(struct store_batch *b)
{
    memset(b, 0, sizeof *b);
}

void store_batch_free(struct store_batch *b)
{
    free(b->v);
    free(b->bytes);
    memset(b, 0, sizeof *b);
}

void store_batch_clear(struct store_batch *b)
{
    if (b->cap > KEEP_RECORDS) {
        free(b->v);
        b->v = NULL;
        b->cap = 0;
    }
    if (b->bytes_cap > KEEP_BYTES) {
        free(b->bytes);
        b->bytes = NULL;
        b->bytes_cap = 0;
    }
    b->count = 0;
    b->used = 0;
    b->incomplete = false;
}

void store_batch_drop_front(struct store_batch *b, size_t n, size_t nbytes)
{
    if (n == 0 && nbytes == 0) {
        return;
    }
    if (b->count > n) {
        memmove(b->v, b->v + n, (b->count - n) * sizeof *b->v);
    }
    b->count -= n;
    if (b->used > nbytes) {
        memmove(b->bytes, b->bytes + nbytes, b->used - nbytes);
    }
    b->used -= nbytes;
    for (size_t i = 0; i < b->count; i++) {
        struct batch_record *r = &b->v[i];
        r->client_id.off -= nbytes;
        r->topic.off -= nbytes;
        r->message.off -= nbytes;
        r->subscription_identifiers.off -= nbytes;
    }
}

static bool reserve_bytes(struct store_batch *b, size_t more)
{
    if (more <= b->bytes_cap - b->used) {
        return true;
    }
    if (more > SIZE_MAX / 2 - b->used) {
        return false;
    }
    size_t cap = b->bytes_cap != 0 ? b->bytes_cap : 4096u;
    while (cap - b->used < more) {
        cap *= 2;
    }
    uint8_t *p = realloc(b->bytes, cap);
    if (p == NULL) {
        return false;
    }
    b->bytes = p;
    b->bytes_cap = cap;
    return true;
}

static struct batch_span put_bytes(struct store_batch *b, const void *data, size_t len)
{
    struct batch_span s = {b->used, len};
    if (len > 0) {
        memcpy(b->bytes + b->used, data, len);
        b->used += len;
    }
    return s;
}

uint8_t *store_batch_grow(struct store_batch *b, size_t len)
{
    if (!reserve_bytes(b, len)) {
        return NULL;
    }
    uint8_t *p = b->bytes + b->used;
    b->used += len;
    return p;
}

struct batch_record *store_batch_push(struct store_batch *b)
{
    if (b->count == b->cap) {
        size_t cap = b->cap != 0 ? b->cap * 2 : 64u;
        struct batch_record *v = realloc(b->v, cap * sizeof *v);
        if (v == NULL) {
            return NULL;
        }
        b->v = v;
        b->cap = cap;
    }
    struct batch_record *c = &b->v[b->count++];
    memset(c, 0, sizeof *c);
    return c;
}

bool store_batch_add(struct store_batch *b, const mqttproto_store_record *r)
{
    size_t ids = r->subscription_identifiers != NULL ? r->subscription_identifier_count : 0;
    if (ids > SIZE_MAX / 8) {
        b->incomplete = true;
        return false;
    }
    size_t need = r->client_id.len + r->topic.len + r->message.len + ids * 4u;
    if (!reserve_bytes(b, need)) {
        b->incomplete = true;
        return false;
    }
    struct batch_record *c = store_batch_push(b);
    if (c == NULL) {
        b->incomplete = true;
        return false;
    }
    c->type = r->type;
    c->seq = r->seq;
    c->client_id = put_bytes(b, r->client_id.data, r->client_id.len);
    c->session_expiry_interval = r->session_expiry_interval;
    c->expires_at = r->expires_at;
    c->topic = put_bytes(b, r->topic.data, r->topic.len);
    c->options = r->options;
    c->subscription_identifier = r->subscription_identifier;
    c->message_id = r->message_id;
    c->message = put_bytes(b, r->message.data, r->message.len);
    c->delivery_id = r->delivery_id;
    c->qos = r->qos;
    c->retain = r->retain;
    c->shared = r->shared;
    c->subscription_identifiers.off = b->used;
    c->subscription_identifiers.len = ids * 4u;
    for (size_t i = 0; i < ids; i++) {
        uint32_t x = r->subscription_identifiers[i];
        uint8_t *p = b->bytes + b->used;
        p[0] = (uint8_t)(x >> 24);
        p[1] = (uint8_t)(x >> 16);
        p[2] = (uint8_t)(x >> 8);
        p[3] = (uint8_t)x;
        b->used += 4;
    }
    c->packet_id = r->packet_id;
    c->will_delay = r->will_delay;
    c->will_at = r->will_at;
    return true;
}
