/*
 * A counting allocator for the benchmarks: live bytes as requested, the
 * same rounded the way glibc's malloc rounds a chunk (what the heap really
 * pays), live blocks, and the bytes ever requested (for "allocated per
 * operation" figures).
 */
#ifndef MQTTPROTO_BENCH_COUNTING_ALLOC_H
#define MQTTPROTO_BENCH_COUNTING_ALLOC_H

#include <stddef.h>

#include "mqttproto/common.h"

struct counting {
    size_t bytes;  /* requested and live */
    size_t chunks; /* the same, rounded as glibc's malloc rounds a chunk */
    size_t blocks; /* live blocks */
    size_t total;  /* bytes ever requested (malloc, and realloc's new size) */
    size_t calls;  /* allocations ever made (malloc and realloc) */
};

/* An allocator that counts into @p c (zeroed first). */
mqttproto_mem counting_mem(struct counting *c);

#endif /* MQTTPROTO_BENCH_COUNTING_ALLOC_H */
