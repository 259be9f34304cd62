#include "retained.h"

#include "mqttproto/topic.h"
#include "subtrie.h"

/* The visit callback hands out the topic, so the value keeps its own copy. */
struct retained_value {
    void *msg;
    size_t len;
    char topic[];
};

struct retained_node {
    struct level_node h;
    struct retained_value *val;
    char level[];
};

#define KEY_OFF       offsetof(struct retained_node, level)
#define INLINE_FRAMES 32

static inline struct retained_node *as_rnode(struct level_node *h)
{
    return (struct retained_node *)(void *)h;
}

static inline struct retained_node *parent_of(const struct retained_node *n)
{
    return n->h.parent != NULL ? as_rnode(n->h.parent) : NULL;
}

static struct retained_node *node_new(const mqttproto_mem *mem, const char *level, size_t len)
{
    struct retained_node *n = mem_alloc(mem, sizeof *n + len);
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

static void node_destroy(struct retained *s, struct retained_node *n)
{
    if (n->val != NULL) {
        if (s->release != NULL) {
            s->release(n->val->msg);
        }
        mem_free(&s->mem, n->val);
    }
    level_release(&n->h, &s->mem);
    mem_free(&s->mem, n);
}

/* Unlink and free nodes left without message or children, up to the root. */
static void prune(struct retained *s, struct retained_node *n)
{
    while (n != NULL && n->val == NULL && n->h.nkids == 0) {
        struct retained_node *p = parent_of(n);
        if (p == NULL) {
            s->root = NULL;
        } else {
            level_remove(&p->h, &s->mem, &n->h);
        }
        node_destroy(s, n);
        n = p;
    }
}

static struct retained_node *path_make(struct retained *s, mqttproto_str topic)
{
    if (s->root == NULL) {
        s->root = node_new(&s->mem, NULL, 0);
        if (s->root == NULL) {
            return NULL;
        }
    }
    struct retained_node *n = s->root;
    size_t pos = 0;
    for (;;) {
        size_t end = level_end(topic, pos);
        const char *lv = topic.data + pos;
        struct level_node *c = level_find(&n->h, KEY_OFF, lv, end - pos);
        if (c == NULL) {
            struct retained_node *fresh = node_new(&s->mem, lv, end - pos);
            if (fresh == NULL || level_insert(&n->h, &s->mem, KEY_OFF, &fresh->h) != 0) {
                mem_free(&s->mem, fresh);
                prune(s, n);
                return NULL;
            }
            c = &fresh->h;
        }
        n = as_rnode(c);
        if (end == topic.len) {
            return n;
        }
        pos = end + 1;
    }
}

static struct retained_node *path_find(const struct retained *s, mqttproto_str topic)
{
    if (topic.len == 0 || topic.data == NULL) {
        return NULL;
    }
    struct retained_node *n = s->root;
    size_t pos = 0;
    while (n != NULL) {
        size_t end = level_end(topic, pos);
        struct level_node *c = level_find(&n->h, KEY_OFF, topic.data + pos, end - pos);
        n = c != NULL ? as_rnode(c) : NULL;
        if (end == topic.len) {
            return n;
        }
        pos = end + 1;
    }
    return NULL;
}

void retained_init(struct retained *s, const mqttproto_mem *mem, void (*release)(void *msg))
{
    mqttproto_mem_resolve(mem, &s->mem);
    s->release = release;
    s->root = NULL;
    s->count = 0;
}

static struct retained_node *deepest_first(struct retained_node *n)
{
    for (struct level_node *c = level_next(&n->h, 0); c != NULL; c = level_next(&n->h, 0)) {
        n = as_rnode(c);
    }
    return n;
}

void retained_free(struct retained *s)
{
    if (s == NULL || s->root == NULL) {
        return;
    }
    /* Post-order through parent links, as in subtrie_free(). */
    struct retained_node *n = deepest_first(s->root);
    while (n != NULL) {
        struct retained_node *p = parent_of(n);
        struct level_node *sib = p != NULL ? level_next(&p->h, n->h.slot + 1) : NULL;
        node_destroy(s, n);
        n = sib != NULL ? deepest_first(as_rnode(sib)) : p;
    }
    s->root = NULL;
    s->count = 0;
}

int retained_set(struct retained *s, mqttproto_str topic, void *msg)
{
    if (s == NULL || msg == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (mqttproto_topic_name_validate(topic) != 0) {
        return MQTTPROTO_ERR_TOPIC_NAME_INVALID;
    }
    struct retained_node *n = path_make(s, topic);
    if (n == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    if (n->val != NULL) {
        /* The new message replaces the topic's retained message [MQTT-3.3.1-5]. */
        void *old = n->val->msg;
        n->val->msg = msg;
        if (old != msg && s->release != NULL) {
            s->release(old);
        }
        return 0;
    }
    struct retained_value *v = mem_alloc(&s->mem, sizeof *v + topic.len);
    if (v == NULL) {
        prune(s, n);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    v->msg = msg;
    v->len = topic.len;
    memcpy(v->topic, topic.data, topic.len);
    n->val = v;
    s->count++;
    return 0;
}

bool retained_clear(struct retained *s, mqttproto_str topic)
{
    if (s == NULL) {
        return false;
    }
    struct retained_node *n = path_find(s, topic);
    if (n == NULL || n->val == NULL) {
        return false;
    }
    struct retained_value *v = n->val;
    n->val = NULL;
    s->count--;
    if (s->release != NULL) {
        s->release(v->msg);
    }
    mem_free(&s->mem, v);
    prune(s, n);
    return true;
}

void *retained_get(const struct retained *s, mqttproto_str topic)
{
    struct retained_node *n = s != NULL ? path_find(s, topic) : NULL;
    return n != NULL && n->val != NULL ? n->val->msg : NULL;
}

/*
 * The first child at a slot >= from, passing over '$' levels when the
 * wildcard that reaches them is the filter's first level [MQTT-4.7.2-1].
 */
static struct retained_node *kid_from(const struct retained_node *n, uint32_t from,
                                      bool skip_dollar)
{
    for (struct level_node *c = level_next(&n->h, from); c != NULL;
         c = level_next(&n->h, c->slot + 1)) {
        struct retained_node *r = as_rnode(c);
        if (!(skip_dollar && r->h.len > 0 && r->level[0] == '$')) {
            return r;
        }
    }
    return NULL;
}

static void visit_value(const struct retained_node *n,
                        void (*visit)(void *ctx, mqttproto_str topic, void *msg), void *ctx)
{
    if (n->val != NULL) {
        visit(ctx, (mqttproto_str){n->val->topic, n->val->len}, n->val->msg);
    }
}

/* "#" at @p top: top itself (the parent level) and everything below it. */
static void visit_subtree(const struct retained_node *top, bool skip_dollar,
                          void (*visit)(void *ctx, mqttproto_str topic, void *msg), void *ctx)
{
    const struct retained_node *n = top;
    for (;;) {
        visit_value(n, visit, ctx);
        struct retained_node *c = kid_from(n, 0, skip_dollar && n == top);
        while (c == NULL) {
            if (n == top) {
                return;
            }
            const struct retained_node *p = parent_of(n);
            c = kid_from(p, n->h.slot + 1, skip_dollar && p == top);
            n = p;
        }
        n = c;
    }
}

struct rframe {
    const struct retained_node *n;
    size_t pos;         /* start of the next filter level; filter.len + 1 once all are used */
    uint32_t next_slot; /* on a '+' level: the next child to try */
};

int retained_match(const struct retained *s, mqttproto_str filter,
                   void (*visit)(void *ctx, mqttproto_str topic, void *msg), void *ctx)
{
    if (s == NULL || visit == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    /* Parsing a shared filter validates all of it; a plain one is validated here. */
    mqttproto_str inner;
    int shared = mqttproto_shared_filter_parse(filter, NULL, &inner);
    if (shared < 0 || (shared == 0 && mqttproto_topic_filter_validate(filter) != 0)) {
        return MQTTPROTO_ERR_TOPIC_FILTER_INVALID;
    }
    if (s->root == NULL) {
        return 0;
    }
    /*
     * A literal level replaces its frame and only a '+' level keeps one
     * while its children are tried, so 1 + the '+' count frames suffice.
     */
    struct rframe inline_stack[INLINE_FRAMES];
    struct rframe *stack = inline_stack;
    if (inner.len + 2 > INLINE_FRAMES) {
        size_t need = 1;
        for (size_t i = 0; i < inner.len; i++) {
            need += inner.data[i] == '+';
        }
        if (need > INLINE_FRAMES) {
            stack = mem_alloc(&s->mem, need * sizeof *stack);
            if (stack == NULL) {
                return MQTTPROTO_ERR_NO_MEMORY;
            }
        }
    }
    size_t done = inner.len + 1;
    size_t sp = 0;
    stack[sp++] = (struct rframe){s->root, 0, 0};
    while (sp > 0) {
        struct rframe *f = &stack[sp - 1];
        if (f->pos == done) {
            visit_value(f->n, visit, ctx);
            sp--;
            continue;
        }
        size_t end = level_end(inner, f->pos);
        const char *lv = inner.data + f->pos;
        size_t len = end - f->pos;
        size_t next = end == inner.len ? done : end + 1;
        bool first = f->pos == 0;
        if (len == 1 && lv[0] == '#') {
            visit_subtree(f->n, first, visit, ctx);
            sp--;
        } else if (len == 1 && lv[0] == '+') {
            struct retained_node *c = kid_from(f->n, f->next_slot, first);
            if (c == NULL) {
                sp--;
            } else {
                f->next_slot = c->h.slot + 1;
                stack[sp++] = (struct rframe){c, next, 0};
            }
        } else {
            /* Byte for byte, no normalization [MQTT-4.7.3-4]. */
            struct level_node *c = level_find(&f->n->h, KEY_OFF, lv, len);
            if (c == NULL) {
                sp--;
            } else {
                *f = (struct rframe){as_rnode(c), next, 0};
            }
        }
    }
    if (stack != inline_stack) {
        mem_free(&s->mem, stack);
    }
    return 0;
}

size_t retained_count(const struct retained *s)
{
    return s->count;
}
