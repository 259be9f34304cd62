/* The allocator every object uses: the caller's, or the C library's. */
#ifndef MQTTPROTO_ALLOC_H
#define MQTTPROTO_ALLOC_H

#include "mqttproto/common.h"

/* Copy @p in, or the C library's functions when it is NULL. */
void mqttproto_mem_resolve(const mqttproto_mem *in, mqttproto_mem *out);

static inline void *mem_alloc(const mqttproto_mem *m, size_t n)
{
    return m->malloc_fn(n == 0 ? 1 : n, m->user_data);
}

static inline void *mem_realloc(const mqttproto_mem *m, void *p, size_t n)
{
    return m->realloc_fn(p, n == 0 ? 1 : n, m->user_data);
}

static inline void mem_free(const mqttproto_mem *m, void *p)
{
    if (p != NULL) {
        m->free_fn(p, m->user_data);
    }
}

#endif /* MQTTPROTO_ALLOC_H */
