/*
 * A min-heap of deadlines (monotonic milliseconds), one node embedded in
 * each connection, so that one uv_timer serves every connection: it is
 * armed for the earliest node (and the broker's own expiry).
 */
#ifndef BROKER_DEADLINE_HEAP_H
#define BROKER_DEADLINE_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEADLINE_NONE UINT64_MAX

struct deadline_node {
    uint64_t due;
    size_t slot; /* index in the heap; SIZE_MAX when not in it */
};

struct deadline_heap {
    struct deadline_node **v;
    size_t count, cap;
};

void deadline_heap_init(struct deadline_heap *h);
void deadline_heap_free(struct deadline_heap *h);

static inline void deadline_node_init(struct deadline_node *n)
{
    n->due = DEADLINE_NONE;
    n->slot = SIZE_MAX;
}

static inline bool deadline_node_queued(const struct deadline_node *n)
{
    return n->slot != SIZE_MAX;
}

/** Put @p n in the heap at @p due (moving it if it is there); DEADLINE_NONE
    removes it. False when the heap cannot grow (the node stays out). */
bool deadline_heap_set(struct deadline_heap *h, struct deadline_node *n, uint64_t due);

void deadline_heap_remove(struct deadline_heap *h, struct deadline_node *n);

/** The earliest node, or NULL. */
struct deadline_node *deadline_heap_top(const struct deadline_heap *h);

#endif /* BROKER_DEADLINE_HEAP_H */
