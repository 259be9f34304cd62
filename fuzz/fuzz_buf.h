/* A growable byte buffer for the fuzz harnesses' own bytes (never the
   library's memory): appended at the end, dropped from the front. */
#ifndef MQTTPROTO_FUZZ_BUF_H
#define MQTTPROTO_FUZZ_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *d;
    size_t len;
    size_t cap;
};

/* Append @p n bytes; out of memory aborts the run. */
void buf_append(struct buf *b, const uint8_t *p, size_t n);
/* Drop the first @p n bytes (all of them when there are fewer). */
void buf_drop(struct buf *b, size_t n);
void buf_free(struct buf *b);

#endif /* MQTTPROTO_FUZZ_BUF_H */
