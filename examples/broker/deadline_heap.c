#include "deadline_heap.h"

#include <stdlib.h>

void deadline_heap_init(struct deadline_heap *h)
{
    h->v = NULL;
    h->count = h->cap = 0;
}

void deadline_heap_free(struct deadline_heap *h)
{
    for (size_t i = 0; i < h->count; i++) {
        h->v[i]->slot = SIZE_MAX;
    }
    free(h->v);
    deadline_heap_init(h);
}

static void place(struct deadline_heap *h, size_t i, struct deadline_node *n)
{
    h->v[i] = n;
    n->slot = i;
}

static void sift_up(struct deadline_heap *h, size_t i)
{
    struct deadline_node *n = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent]->due <= n->due) {
            break;
        }
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, n);
}

static void sift_down(struct deadline_heap *h, size_t i)
{
    struct deadline_node *n = h->v[i];
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= h->count) {
            break;
        }
        size_t m = l + 1 < h->count && h->v[l + 1]->due < h->v[l]->due ? l + 1 : l;
        if (n->due <= h->v[m]->due) {
            break;
        }
        place(h, i, h->v[m]);
        i = m;
    }
    place(h, i, n);
}

void deadline_heap_remove(struct deadline_heap *h, struct deadline_node *n)
{
    size_t i = n->slot;
    if (i == SIZE_MAX) {
        return;
    }
    n->slot = SIZE_MAX;
    n->due = DEADLINE_NONE;
    h->count--;
    if (i == h->count) {
        return;
    }
    struct deadline_node *last = h->v[h->count];
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->slot);
}

bool deadline_heap_set(struct deadline_heap *h, struct deadline_node *n, uint64_t due)
{
    if (due == DEADLINE_NONE) {
        deadline_heap_remove(h, n);
        return true;
    }
    if (n->slot != SIZE_MAX) {
        uint64_t old = n->due;
        n->due = due;
        if (due < old) {
            sift_up(h, n->slot);
        } else {
            sift_down(h, n->slot);
        }
        return true;
    }
    if (h->count == h->cap) {
        size_t cap = h->cap == 0 ? 64 : h->cap * 2;
        struct deadline_node **v = realloc(h->v, cap * sizeof *v);
        if (v == NULL) {
            return false;
        }
        h->v = v;
        h->cap = cap;
    }
    n->due = due;
    place(h, h->count, n);
    h->count++;
    sift_up(h, n->slot);
    return true;
}

struct deadline_node *deadline_heap_top(const struct deadline_heap *h)
{
    return h->count == 0 ? NULL : h->v[0];
}
