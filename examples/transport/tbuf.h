/*
 * A byte queue for the transport layers: append at the back, peek and
 * consume at the front. Grows as needed; compacts when the front is empty
 * enough, so a long-lived connection does not creep.
 */
#ifndef MQTTPROTO_TRANSPORT_TBUF_H
#define MQTTPROTO_TRANSPORT_TBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tbuf {
    uint8_t *data;
    size_t start; /* first byte in use */
    size_t len;   /* bytes in use from start */
    size_t cap;
} tbuf;

void tbuf_init(tbuf *b);
void tbuf_free(tbuf *b);
/* Appends @p n bytes; returns false (and changes nothing) when memory ran out. */
bool tbuf_append(tbuf *b, const void *data, size_t n);
/* Room for @p n more bytes at the back, returned for the caller to fill and
   then commit with tbuf_commit(); NULL when memory ran out. */
uint8_t *tbuf_reserve(tbuf *b, size_t n);
void tbuf_commit(tbuf *b, size_t n);
static inline size_t tbuf_len(const tbuf *b)
{
    return b->len;
}
static inline const uint8_t *tbuf_peek(const tbuf *b)
{
    return b->len > 0 ? b->data + b->start : NULL;
}
void tbuf_consume(tbuf *b, size_t n);
/* Copies up to @p cap bytes out and consumes them; returns the count. */
size_t tbuf_take(tbuf *b, uint8_t *out, size_t cap);
void tbuf_clear(tbuf *b);

#endif
