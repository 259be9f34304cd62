#include "subtrie.h"

#include "mqttproto/topic.h"

/* ---- child tables --------------------------------------------------------- */

#define ARRAY_MAX_SHIFT 3 /* up to 8 children: a linear scan beats hashing */
#define TABLE_MIN_SHIFT 4

/*
 * A multiply-xorshift mix of the level, eight bytes at a time: routing hashes
 * a level at every table it probes, and FNV-1a's byte loop (strmap.c) would
 * cost more than the probe.
 */
static uint32_t level_hash(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ (uint64_t)len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9u;
        h ^= h >> 31;
        s += 8;
        len -= 8;
    }
    uint64_t w = 0;
    if (len > 0) {
        memcpy(&w, s, len);
    }
    h = (h ^ w) * 0x94d049bb133111ebu;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 32;
    return (uint32_t)h;
}

static inline const char *level_text(const struct level_node *n, size_t key_off)
{
    return (const char *)n + key_off;
}

static inline bool level_is(const struct level_node *n, size_t key_off, const char *s, size_t len)
{
    return n->len == len && memcmp(level_text(n, key_off), s, len) == 0;
}

static inline uint32_t *table_hashes(struct level_node **slots, uint32_t cap)
{
    return (uint32_t *)(void *)(slots + cap);
}

struct level_node *level_find(const struct level_node *n, size_t key_off, const char *s, size_t len)
{
    if (n->kshift == 0) {
        struct level_node *c = n->kids.one;
        return c != NULL && level_is(c, key_off, s, len) ? c : NULL;
    }
    struct level_node **slots = n->kids.slots;
    if (n->kshift <= ARRAY_MAX_SHIFT) {
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (level_is(slots[i], key_off, s, len)) {
                return slots[i];
            }
        }
        return NULL;
    }
    uint32_t mask = (1u << n->kshift) - 1;
    const uint32_t *hashes = table_hashes(slots, mask + 1);
    uint32_t h = level_hash(s, len);
    for (uint32_t i = h & mask; slots[i] != NULL; i = (i + 1) & mask) {
        if (hashes[i] == h && level_is(slots[i], key_off, s, len)) {
            return slots[i];
        }
    }
    return NULL;
}

static void table_put(struct level_node **slots, uint32_t shift, struct level_node *c, uint32_t h)
{
    uint32_t mask = (1u << shift) - 1;
    uint32_t *hashes = table_hashes(slots, mask + 1);
    uint32_t i = h & mask;
    while (slots[i] != NULL) {
        i = (i + 1) & mask;
    }
    slots[i] = c;
    hashes[i] = h;
    c->slot = i;
}

/*
 * Move every child (and @p extra when not NULL) into a new array or table of
 * capacity 1 << shift. Allocates first, so nothing changes on failure.
 */
static int rebuild(struct level_node *n, const mqttproto_mem *mem, size_t key_off, uint32_t shift,
                   struct level_node *extra)
{
    uint32_t cap = 1u << shift;
    bool table = shift >= TABLE_MIN_SHIFT;
    size_t bytes = (size_t)cap * (sizeof(struct level_node *) + (table ? sizeof(uint32_t) : 0));
    struct level_node **slots = mem_alloc(mem, bytes);
    if (slots == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memset(slots, 0, bytes);
    uint32_t k = 0;
    bool was_table = n->kshift >= TABLE_MIN_SHIFT;
    const uint32_t *old_hashes = was_table ? table_hashes(n->kids.slots, 1u << n->kshift) : NULL;
    for (uint32_t from = 0;;) {
        struct level_node *c = level_next(n, from);
        if (c == NULL) {
            break;
        }
        /* Read before table_put moves c->slot into the new table. */
        from = c->slot + 1;
        if (table) {
            uint32_t h =
                was_table ? old_hashes[c->slot] : level_hash(level_text(c, key_off), c->len);
            table_put(slots, shift, c, h);
        } else {
            slots[k] = c;
            k++;
        }
    }
    if (n->kshift > 0) {
        mem_free(mem, n->kids.slots);
    }
    if (!table) {
        for (uint32_t i = 0; i < k; i++) {
            slots[i]->slot = i;
        }
    }
    n->kids.slots = slots;
    n->kshift = (uint8_t)shift;
    if (extra != NULL) {
        extra->parent = n;
        if (table) {
            table_put(slots, shift, extra, level_hash(level_text(extra, key_off), extra->len));
        } else {
            slots[k] = extra;
            extra->slot = k;
        }
        n->nkids++;
    }
    return 0;
}

int level_insert(struct level_node *n, const mqttproto_mem *mem, size_t key_off,
                 struct level_node *child)
{
    uint32_t cap = 1u << n->kshift;
    if (n->kshift == 0 && n->nkids == 0) {
        n->kids.one = child;
        child->slot = 0;
    } else if (n->kshift >= TABLE_MIN_SHIFT) {
        if ((uint64_t)(n->nkids + 1) * 4 > (uint64_t)cap * 3) {
            if (n->kshift >= 30) {
                return MQTTPROTO_ERR_NO_MEMORY;
            }
            return rebuild(n, mem, key_off, n->kshift + 1u, child);
        }
        table_put(n->kids.slots, n->kshift, child,
                  level_hash(level_text(child, key_off), child->len));
    } else if (n->nkids == cap || n->kshift == 0) {
        return rebuild(n, mem, key_off, n->kshift + 1u, child);
    } else {
        n->kids.slots[n->nkids] = child;
        child->slot = n->nkids;
    }
    child->parent = n;
    n->nkids++;
    return 0;
}

/* Back to a single inline child; needs no memory. */
static void collapse_to_one(struct level_node *n, const mqttproto_mem *mem)
{
    struct level_node *last = level_next(n, 0);
    mem_free(mem, n->kids.slots);
    n->kids.one = last;
    n->kshift = 0;
    if (last != NULL) {
        last->slot = 0;
    }
}

void level_remove(struct level_node *n, const mqttproto_mem *mem, struct level_node *child)
{
    uint32_t hole = child->slot;
    n->nkids--;
    child->parent = NULL;
    if (n->kshift == 0) {
        n->kids.one = NULL;
        return;
    }
    struct level_node **slots = n->kids.slots;
    if (n->kshift <= ARRAY_MAX_SHIFT) {
        slots[hole] = slots[n->nkids];
        slots[hole]->slot = hole;
        slots[n->nkids] = NULL;
        if (n->nkids <= 1) {
            collapse_to_one(n, mem);
        }
        return;
    }
    uint32_t mask = (1u << n->kshift) - 1;
    uint32_t *hashes = table_hashes(slots, mask + 1);
    for (uint32_t j = (hole + 1) & mask; slots[j] != NULL; j = (j + 1) & mask) {
        uint32_t home = hashes[j] & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            slots[hole] = slots[j];
            hashes[hole] = hashes[j];
            slots[hole]->slot = hole;
            hole = j;
        }
    }
    slots[hole] = NULL;
    if (n->nkids <= 1) {
        collapse_to_one(n, mem);
    } else if (n->nkids <= (1u << ARRAY_MAX_SHIFT) / 2) {
        /* No key_off needed (0): an array keeps no hashes, a smaller table
           reuses the stored ones. A failed shrink leaves the table as is. */
        (void)rebuild(n, mem, 0, ARRAY_MAX_SHIFT, NULL);
    } else if ((uint64_t)n->nkids * 8 < mask + 1) {
        /* Down to a load of about a half. */
        uint32_t shift = TABLE_MIN_SHIFT;
        while ((1u << shift) < n->nkids * 2) {
            shift++;
        }
        (void)rebuild(n, mem, 0, shift, NULL);
    }
}

struct level_node *level_next(const struct level_node *n, uint32_t from)
{
    if (n->kshift == 0) {
        return from == 0 ? n->kids.one : NULL;
    }
    if (n->kshift <= ARRAY_MAX_SHIFT) {
        return from < n->nkids ? n->kids.slots[from] : NULL;
    }
    uint32_t cap = 1u << n->kshift;
    for (uint32_t i = from; i < cap; i++) {
        if (n->kids.slots[i] != NULL) {
            return n->kids.slots[i];
        }
    }
    return NULL;
}

void level_release(struct level_node *n, const mqttproto_mem *mem)
{
    if (n->kshift > 0) {
        mem_free(mem, n->kids.slots);
    }
    n->kids.one = NULL;
    n->kshift = 0;
    n->nkids = 0;
}

/* ---- entry sets ----------------------------------------------------------- */

/*
 * The entries of one filter, or the members of one group. One entry lives
 * inline (most filters have a single subscriber); more live in a block that,
 * from SUBSET_INDEX_MIN entries on, also holds an index by subscriber so
 * that adding, replacing and removing stay O(1) on a filter that thousands
 * of sessions share.
 */
struct subset {
    uint32_t count;
    uint32_t cap; /* 0: the entry, if any, is u.one */
    union {
        struct subtrie_sub one;
        struct subtrie_sub *items;
    } u;
};

#define SUBSET_INDEX_MIN 16
#define NOT_FOUND        UINT32_MAX

static inline struct subtrie_sub *subset_items(struct subset *s)
{
    return s->cap == 0 ? &s->u.one : s->u.items;
}

static inline const struct subtrie_sub *subset_citems(const struct subset *s)
{
    return s->cap == 0 ? &s->u.one : s->u.items;
}

/* Open addressing over 2 * cap slots; a slot holds entry index + 1, 0 empty. */
static inline uint32_t *subset_index(const struct subset *s)
{
    return s->cap >= SUBSET_INDEX_MIN ? (uint32_t *)(void *)(s->u.items + s->cap) : NULL;
}

static inline uint32_t ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu;
    x ^= x >> 33;
    return (uint32_t)x;
}

static uint32_t subset_find(const struct subset *s, const void *subscriber)
{
    const struct subtrie_sub *it = subset_citems(s);
    const uint32_t *ix = subset_index(s);
    if (ix == NULL) {
        for (uint32_t i = 0; i < s->count; i++) {
            if (it[i].subscriber == subscriber) {
                return i;
            }
        }
        return NOT_FOUND;
    }
    uint32_t mask = 2 * s->cap - 1;
    for (uint32_t j = ptr_hash(subscriber) & mask; ix[j] != 0; j = (j + 1) & mask) {
        if (it[ix[j] - 1].subscriber == subscriber) {
            return ix[j] - 1;
        }
    }
    return NOT_FOUND;
}

static void index_put(struct subset *s, uint32_t i)
{
    uint32_t *ix = subset_index(s);
    uint32_t mask = 2 * s->cap - 1;
    uint32_t j = ptr_hash(s->u.items[i].subscriber) & mask;
    while (ix[j] != 0) {
        j = (j + 1) & mask;
    }
    ix[j] = i + 1;
}

static void index_rebuild(struct subset *s)
{
    uint32_t *ix = subset_index(s);
    if (ix == NULL) {
        return;
    }
    memset(ix, 0, 2 * (size_t)s->cap * sizeof *ix);
    for (uint32_t i = 0; i < s->count; i++) {
        index_put(s, i);
    }
}

/* The index slot that holds entry i. */
static uint32_t index_slot(const struct subset *s, uint32_t i)
{
    const uint32_t *ix = subset_index(s);
    uint32_t mask = 2 * s->cap - 1;
    uint32_t j = ptr_hash(s->u.items[i].subscriber) & mask;
    while (ix[j] != i + 1) {
        j = (j + 1) & mask;
    }
    return j;
}

static void index_delete(struct subset *s, uint32_t i)
{
    uint32_t *ix = subset_index(s);
    uint32_t mask = 2 * s->cap - 1;
    uint32_t hole = index_slot(s, i);
    for (uint32_t j = (hole + 1) & mask; ix[j] != 0; j = (j + 1) & mask) {
        uint32_t home = ptr_hash(s->u.items[ix[j] - 1].subscriber) & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            ix[hole] = ix[j];
            hole = j;
        }
    }
    ix[hole] = 0;
}

/* new_cap 0 (count <= 1) frees the block and cannot fail. */
static int subset_resize(struct subset *s, const mqttproto_mem *mem, uint32_t new_cap)
{
    const struct subtrie_sub *old = subset_citems(s);
    if (new_cap == 0) {
        struct subtrie_sub keep = {0};
        if (s->count == 1) {
            keep = old[0];
        }
        if (s->cap != 0) {
            mem_free(mem, s->u.items);
        }
        s->u.one = keep;
        s->cap = 0;
        return 0;
    }
    size_t bytes = (size_t)new_cap * sizeof(struct subtrie_sub);
    if (new_cap >= SUBSET_INDEX_MIN) {
        bytes += 2 * (size_t)new_cap * sizeof(uint32_t);
    }
    struct subtrie_sub *items = mem_alloc(mem, bytes);
    if (items == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memcpy(items, old, s->count * sizeof *items);
    if (s->cap != 0) {
        mem_free(mem, s->u.items);
    }
    s->u.items = items;
    s->cap = new_cap;
    index_rebuild(s);
    return 0;
}

/* Room for one more entry: 0 or MQTTPROTO_ERR_NO_MEMORY, nothing changed. */
static int subset_reserve(struct subset *s, const mqttproto_mem *mem)
{
    if (s->count < (s->cap == 0 ? 1u : s->cap)) {
        return 0;
    }
    if (s->cap >= (1u << 30)) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    return subset_resize(s, mem, s->cap == 0 ? 2 : s->cap * 2);
}

static void subset_push(struct subset *s, const struct subtrie_sub *sub)
{
    subset_items(s)[s->count] = *sub;
    s->count++;
    if (subset_index(s) != NULL) {
        index_put(s, s->count - 1);
    }
}

/*
 * Ordered removal keeps the members of a group in the order they joined, so
 * the round robin stays fair; plain entries take the cheaper swap with the
 * last one.
 */
static void subset_remove(struct subset *s, const mqttproto_mem *mem, uint32_t i, bool ordered)
{
    struct subtrie_sub *it = subset_items(s);
    bool indexed = subset_index(s) != NULL;
    uint32_t last = s->count - 1;
    if (ordered) {
        memmove(&it[i], &it[i + 1], (last - i) * sizeof *it);
        s->count--;
        index_rebuild(s);
    } else {
        if (indexed) {
            index_delete(s, i);
        }
        if (i != last) {
            uint32_t *ix = subset_index(s);
            uint32_t j = indexed ? index_slot(s, last) : 0;
            it[i] = it[last];
            if (indexed) {
                ix[j] = i + 1;
            }
        }
        s->count--;
    }
    if (s->cap != 0 && s->count <= 1) {
        (void)subset_resize(s, mem, 0);
    } else if (s->cap > 2 && s->count * 4 <= s->cap) {
        (void)subset_resize(s, mem, s->cap / 2); /* on failure the larger block stays */
    }
}

/* ---- trie nodes and groups ----------------------------------------------- */

/* Where a '+' or '#' child sits in its parent: outside the child table. */
#define SLOT_PLUS (UINT32_MAX - 1)
#define SLOT_HASH UINT32_MAX

struct subtrie_node {
    struct level_node h;
    struct subtrie_node *plus;
    struct subtrie_node *hash;
    struct subtrie_group *groups;
    struct subset subs;
    char level[];
};

#define KEY_OFF offsetof(struct subtrie_node, level)

struct subtrie_group {
    struct subtrie_group *next;
    struct subset members;
    uint32_t cursor; /* where the next pick starts */
    uint16_t name_len;
    uint16_t filter_len;
    char text[]; /* the ShareName, then the inner filter */
};

static inline struct subtrie_node *as_node(struct level_node *h)
{
    return (struct subtrie_node *)(void *)h;
}

static inline struct subtrie_node *parent_of(const struct subtrie_node *n)
{
    return n->h.parent != NULL ? as_node(n->h.parent) : NULL;
}

static struct subtrie_node *node_new(const mqttproto_mem *mem, const char *level, size_t len)
{
    struct subtrie_node *n = mem_alloc(mem, sizeof *n + len);
    if (n == NULL) {
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->h.len = (uint16_t)len;
    if (len > 0) {
        memcpy(n->level, level, len);
    }
    return n;
}

static bool node_is_empty(const struct subtrie_node *n)
{
    return n->h.nkids == 0 && n->plus == NULL && n->hash == NULL && n->groups == NULL &&
           n->subs.count == 0;
}

/* Free n and its entries and groups; its children are gone already. */
static void node_destroy(const mqttproto_mem *mem, struct subtrie_node *n)
{
    struct subtrie_group *g = n->groups;
    while (g != NULL) {
        struct subtrie_group *next = g->next;
        if (g->members.cap != 0) {
            mem_free(mem, g->members.u.items);
        }
        mem_free(mem, g);
        g = next;
    }
    if (n->subs.cap != 0) {
        mem_free(mem, n->subs.u.items);
    }
    level_release(&n->h, mem);
    mem_free(mem, n);
}

/* Unlink and free empty nodes from n up to the root. */
static void prune(struct subtrie *t, struct subtrie_node *n)
{
    while (n != NULL && node_is_empty(n)) {
        struct subtrie_node *p = parent_of(n);
        if (p == NULL) {
            t->root = NULL;
        } else if (n->h.slot == SLOT_PLUS) {
            p->plus = NULL;
        } else if (n->h.slot == SLOT_HASH) {
            p->hash = NULL;
        } else {
            level_remove(&p->h, &t->mem, &n->h);
        }
        node_destroy(&t->mem, n);
        n = p;
    }
}

/* Children in a fixed order: the table's slots, then '+', then '#'. */
static struct subtrie_node *child_from(const struct subtrie_node *n, uint32_t from)
{
    if (from < SLOT_PLUS) {
        struct level_node *c = level_next(&n->h, from);
        if (c != NULL) {
            return as_node(c);
        }
    }
    if (from <= SLOT_PLUS && n->plus != NULL) {
        return n->plus;
    }
    return n->hash;
}

/* The node of a (non-shared) filter, created as needed; NULL: no memory. */
static struct subtrie_node *path_make(struct subtrie *t, mqttproto_str filter)
{
    if (t->root == NULL) {
        t->root = node_new(&t->mem, NULL, 0);
        if (t->root == NULL) {
            return NULL;
        }
    }
    struct subtrie_node *n = t->root;
    size_t pos = 0;
    for (;;) {
        size_t end = level_end(filter, pos);
        const char *lv = filter.data + pos;
        size_t len = end - pos;
        bool plus = len == 1 && lv[0] == '+';
        bool hash = len == 1 && lv[0] == '#';
        struct subtrie_node *c = plus   ? n->plus
                                 : hash ? n->hash
                                        : as_node(level_find(&n->h, KEY_OFF, lv, len));
        if (c == NULL) {
            c = node_new(&t->mem, lv, len);
            if (c == NULL) {
                prune(t, n);
                return NULL;
            }
            if (plus || hash) {
                c->h.parent = &n->h;
                c->h.slot = plus ? SLOT_PLUS : SLOT_HASH;
                *(plus ? &n->plus : &n->hash) = c;
            } else if (level_insert(&n->h, &t->mem, KEY_OFF, &c->h) != 0) {
                mem_free(&t->mem, c);
                prune(t, n);
                return NULL;
            }
        }
        n = c;
        if (end == filter.len) {
            return n;
        }
        pos = end + 1;
    }
}

/* The node of a (non-shared) filter, or NULL. */
static struct subtrie_node *path_find(const struct subtrie *t, mqttproto_str filter)
{
    struct subtrie_node *n = t->root;
    size_t pos = 0;
    while (n != NULL) {
        size_t end = level_end(filter, pos);
        const char *lv = filter.data + pos;
        size_t len = end - pos;
        if (len == 1 && lv[0] == '+') {
            n = n->plus;
        } else if (len == 1 && lv[0] == '#') {
            n = n->hash;
        } else {
            n = as_node(level_find(&n->h, KEY_OFF, lv, len));
        }
        if (end == filter.len) {
            return n;
        }
        pos = end + 1;
    }
    return NULL;
}

/* The link that points at the group named @p name, or at the list's NULL end. */
static struct subtrie_group **group_link(struct subtrie_node *n, mqttproto_str name)
{
    struct subtrie_group **link = &n->groups;
    while (*link != NULL &&
           !((*link)->name_len == name.len && memcmp((*link)->text, name.data, name.len) == 0)) {
        link = &(*link)->next;
    }
    return link;
}

/* Add or replace sub in s; 1 when it replaced an entry. */
static int subset_put(struct subset *s, const mqttproto_mem *mem, const struct subtrie_sub *sub)
{
    uint32_t i = subset_find(s, sub->subscriber);
    if (i != NOT_FOUND) {
        subset_items(s)[i] = *sub;
        return 1;
    }
    if (subset_reserve(s, mem) != 0) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    subset_push(s, sub);
    return 0;
}

static int group_put(struct subtrie *t, struct subtrie_node *n, mqttproto_str name,
                     mqttproto_str filter, const struct subtrie_sub *sub)
{
    struct subtrie_group *g = *group_link(n, name);
    if (g != NULL) {
        return subset_put(&g->members, &t->mem, sub);
    }
    /* A valid shared filter is at most 65,535 bytes, so both lengths fit. */
    g = mem_alloc(&t->mem, sizeof *g + name.len + filter.len);
    if (g == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memset(g, 0, sizeof *g);
    g->name_len = (uint16_t)name.len;
    g->filter_len = (uint16_t)filter.len;
    memcpy(g->text, name.data, name.len);
    memcpy(g->text + name.len, filter.data, filter.len);
    subset_push(&g->members, sub);
    g->next = n->groups;
    n->groups = g;
    return 0;
}

/* ---- public API ----------------------------------------------------------- */

void subtrie_init(struct subtrie *t, const mqttproto_mem *mem)
{
    mqttproto_mem_resolve(mem, &t->mem);
    t->root = NULL;
    t->count = 0;
}

static struct subtrie_node *deepest_first(struct subtrie_node *n)
{
    for (struct subtrie_node *c = child_from(n, 0); c != NULL; c = child_from(n, 0)) {
        n = c;
    }
    return n;
}

void subtrie_free(struct subtrie *t)
{
    if (t == NULL || t->root == NULL) {
        return;
    }
    /* Post-order through parent links: each parent's table stays intact
       until all its children are gone, so it can still be walked. */
    struct subtrie_node *n = deepest_first(t->root);
    while (n != NULL) {
        struct subtrie_node *p = parent_of(n);
        struct subtrie_node *sib = NULL;
        if (p != NULL && n->h.slot != SLOT_HASH) {
            sib = child_from(p, n->h.slot + 1);
        }
        node_destroy(&t->mem, n);
        n = sib != NULL ? deepest_first(sib) : p;
    }
    t->root = NULL;
    t->count = 0;
}

int subtrie_add(struct subtrie *t, mqttproto_str filter, const struct subtrie_sub *sub,
                bool *replaced)
{
    if (replaced != NULL) {
        *replaced = false;
    }
    if (t == NULL || sub == NULL || sub->qos > 2 || sub->retain_handling > 2) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    /* Parsing a shared filter validates all of it; a plain one is validated here. */
    mqttproto_str name;
    mqttproto_str inner;
    int shared = mqttproto_shared_filter_parse(filter, &name, &inner);
    if (shared < 0 || (shared == 0 && mqttproto_topic_filter_validate(filter) != 0)) {
        /* [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.7.3-1] [MQTT-4.8.2-1] [MQTT-4.8.2-2] */
        return MQTTPROTO_ERR_TOPIC_FILTER_INVALID;
    }
    struct subtrie_node *n = path_make(t, inner);
    if (n == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    int r = shared ? group_put(t, n, name, inner, sub) : subset_put(&n->subs, &t->mem, sub);
    if (r < 0) {
        prune(t, n);
        return r;
    }
    if (r == 1) {
        /* Same filter, same session: the new options replace the old [MQTT-3.8.4-3]. */
        if (replaced != NULL) {
            *replaced = true;
        }
    } else {
        t->count++;
    }
    return 0;
}

const struct subtrie_sub *subtrie_get(const struct subtrie *t, mqttproto_str filter,
                                      const void *subscriber)
{
    if (t == NULL || t->root == NULL || filter.len == 0) {
        return NULL;
    }
    mqttproto_str name;
    mqttproto_str inner;
    int shared = mqttproto_shared_filter_parse(filter, &name, &inner);
    struct subtrie_node *n = shared < 0 ? NULL : path_find(t, inner);
    if (n == NULL) {
        return NULL;
    }
    const struct subset *set = &n->subs;
    if (shared == 1) {
        struct subtrie_group *g = *group_link(n, name);
        if (g == NULL) {
            return NULL;
        }
        set = &g->members;
    }
    uint32_t i = subset_find(set, subscriber);
    return i == NOT_FOUND ? NULL : &subset_citems(set)[i];
}

bool subtrie_remove(struct subtrie *t, mqttproto_str filter, void *subscriber)
{
    if (t == NULL || t->root == NULL || filter.len == 0) {
        return false;
    }
    mqttproto_str name;
    mqttproto_str inner;
    int shared = mqttproto_shared_filter_parse(filter, &name, &inner);
    if (shared < 0) {
        return false;
    }
    struct subtrie_node *n = path_find(t, inner);
    if (n == NULL) {
        return false;
    }
    if (shared == 0) {
        uint32_t i = subset_find(&n->subs, subscriber);
        if (i == NOT_FOUND) {
            return false;
        }
        subset_remove(&n->subs, &t->mem, i, false);
    } else {
        struct subtrie_group **link = group_link(n, name);
        struct subtrie_group *g = *link;
        uint32_t i = g != NULL ? subset_find(&g->members, subscriber) : NOT_FOUND;
        if (i == NOT_FOUND) {
            return false;
        }
        subset_remove(&g->members, &t->mem, i, true);
        if (i < g->cursor) {
            g->cursor--;
        }
        if (g->members.count == 0) {
            *link = g->next;
            mem_free(&t->mem, g);
        } else if (g->cursor >= g->members.count) {
            g->cursor = 0;
        }
    }
    t->count--;
    prune(t, n);
    return true;
}

struct frame {
    const struct subtrie_node *n;
    size_t pos; /* start of the next topic level; topic.len + 1 once all are used */
};

#define INLINE_FRAMES 64

static void visit_entries(const struct subtrie_node *n,
                          void (*visit)(void *ctx, const struct subtrie_sub *sub),
                          void (*visit_group)(void *ctx, struct subtrie_group *g), void *ctx)
{
    if (visit != NULL) {
        const struct subtrie_sub *it = subset_citems(&n->subs);
        for (uint32_t i = 0; i < n->subs.count; i++) {
            visit(ctx, &it[i]);
        }
    }
    if (visit_group != NULL) {
        for (struct subtrie_group *g = n->groups; g != NULL; g = g->next) {
            visit_group(ctx, g);
        }
    }
}

int subtrie_match(const struct subtrie *t, mqttproto_str topic,
                  void (*visit)(void *ctx, const struct subtrie_sub *sub),
                  void (*visit_group)(void *ctx, struct subtrie_group *g), void *ctx)
{
    if (t == NULL || (topic.data == NULL && topic.len > 0)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (topic.len == 0) {
        return MQTTPROTO_ERR_TOPIC_NAME_INVALID;
    }
    if (t->root == NULL) {
        return 0;
    }
    /*
     * Each frame popped pushes at most two, one level deeper, so the stack
     * never holds more than levels + 1 frames; a topic short enough cannot
     * have more levels than the inline stack holds, and only longer ones
     * pay for counting.
     */
    struct frame inline_stack[INLINE_FRAMES];
    struct frame *stack = inline_stack;
    if (topic.len + 2 > INLINE_FRAMES) {
        size_t levels = 1;
        for (const char *p = topic.data, *end = topic.data + topic.len;
             (p = memchr(p, '/', (size_t)(end - p))) != NULL; p++) {
            levels++;
        }
        if (levels + 1 > INLINE_FRAMES) {
            stack = mem_alloc(&t->mem, (levels + 1) * sizeof *stack);
            if (stack == NULL) {
                return MQTTPROTO_ERR_NO_MEMORY;
            }
        }
    }
    const struct subtrie_node *root = t->root;
    bool dollar = topic.data[0] == '$';
    size_t done = topic.len + 1;
    size_t sp = 0;
    stack[sp++] = (struct frame){root, 0};
    while (sp > 0) {
        struct frame f = stack[--sp];
        const struct subtrie_node *n = f.n;
        /* A filter starting with a wildcard does not match a '$' topic [MQTT-4.7.2-1]. */
        bool wild_ok = !(dollar && n == root);
        /* "x/#" matches x's level and everything below, x itself included. */
        if (n->hash != NULL && wild_ok) {
            visit_entries(n->hash, visit, visit_group, ctx);
        }
        if (f.pos == done) {
            visit_entries(n, visit, visit_group, ctx); /* [MQTT-3.3.2-3] */
            continue;
        }
        size_t end = level_end(topic, f.pos);
        size_t next = end == topic.len ? done : end + 1;
        if (n->plus != NULL && wild_ok) {
            stack[sp++] = (struct frame){n->plus, next};
        }
        struct level_node *c =
            level_find(&n->h, KEY_OFF, topic.data + f.pos, end - f.pos); /* [MQTT-4.7.3-4] */
        if (c != NULL) {
            stack[sp++] = (struct frame){as_node(c), next};
        }
    }
    if (stack != inline_stack) {
        mem_free(&t->mem, stack);
    }
    return 0;
}

const struct subtrie_sub *
subtrie_group_pick(struct subtrie_group *g,
                   bool (*accept)(void *ctx, const struct subtrie_sub *sub), void *ctx)
{
    uint32_t n = g->members.count;
    const struct subtrie_sub *it = subset_citems(&g->members);
    uint32_t i = g->cursor < n ? g->cursor : 0;
    for (uint32_t k = 0; k < n; k++) {
        /* The member's own options go with it, QoS included [MQTT-4.8.2-3]. */
        if (accept == NULL || accept(ctx, &it[i])) {
            g->cursor = i + 1 == n ? 0 : i + 1;
            return &it[i];
        }
        i = i + 1 == n ? 0 : i + 1;
    }
    return NULL;
}

mqttproto_str subtrie_group_name(const struct subtrie_group *g)
{
    return (mqttproto_str){g->text, g->name_len};
}

mqttproto_str subtrie_group_filter(const struct subtrie_group *g)
{
    return (mqttproto_str){g->text + g->name_len, g->filter_len};
}

size_t subtrie_group_size(const struct subtrie_group *g)
{
    return g->members.count;
}

size_t subtrie_count(const struct subtrie *t)
{
    return t->count;
}
