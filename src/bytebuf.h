/*
 * A growable byte buffer with a consumed prefix: bytes are appended at the
 * end and released from the front, so a partial write loses nothing.
 */
#ifndef MQTTPROTO_BYTEBUF_H
#define MQTTPROTO_BYTEBUF_H

#include "alloc.h"

struct bytebuf {
    uint8_t *data;
    size_t head; /* first byte not yet consumed */
    size_t len;  /* end of the bytes held */
    size_t cap;
};

static inline size_t bytebuf_size(const struct bytebuf *b)
{
    return b->len - b->head;
}

static inline const uint8_t *bytebuf_data(const struct bytebuf *b)
{
    return b->data == NULL ? NULL : b->data + b->head;
}

/* Room for @p n more bytes at the end; returns where they go, or NULL. The
   bytes count once bytebuf_commit() is called. */
uint8_t *bytebuf_reserve(struct bytebuf *b, const mqttproto_mem *mem, size_t n);

static inline void bytebuf_commit(struct bytebuf *b, size_t n)
{
    b->len += n;
}

int bytebuf_append(struct bytebuf *b, const mqttproto_mem *mem, const void *data, size_t n);

/* Release @p n bytes from the front (clamped). */
void bytebuf_consume(struct bytebuf *b, size_t n);

/* Drop everything held. */
static inline void bytebuf_clear(struct bytebuf *b)
{
    b->head = 0;
    b->len = 0;
}

void bytebuf_free(struct bytebuf *b, const mqttproto_mem *mem);

#endif /* MQTTPROTO_BYTEBUF_H */
