/*
 * The broker's subscription store: a trie over topic levels that finds, for
 * one PUBLISH topic, every subscription whose filter matches it.
 *
 * Each trie node stands for one filter prefix. A node keeps the plain
 * entries of its filter (one per subscriber) and the shared subscription
 * groups of that filter ($share/{group}/{filter}, one group per name). The
 * '+' and '#' children hang off dedicated pointers, so routing a topic of
 * L levels looks up at most one literal child per visited node and never
 * scans siblings: its cost follows the number of matching filter prefixes,
 * not the number of stored filters.
 *
 * Nothing here recurses: matching uses an explicit stack bounded by the
 * topic's level count, and freeing walks the tree through parent links, so a
 * filter or topic of tens of thousands of levels costs heap, never C stack.
 */
#ifndef MQTTPROTO_SUBTRIE_H
#define MQTTPROTO_SUBTRIE_H

#include "alloc.h"

/*
 * Children of a node in a tree keyed by topic levels; the retained store's
 * tree uses the same scheme. Node types put this header first and the
 * level's bytes at a fixed offset (key_off) from the node's start.
 *
 * Up to 8 children live in a plain array (or in kids.one when there is only
 * one, the common case along a chain of unique levels); from 9 on they live
 * in an open-addressing table with linear probing and backward-shift
 * deletion, as in strmap.c, that also keeps each child's hash so a probe
 * rarely touches a child that does not match.
 */
struct level_node {
    struct level_node *parent;
    union {
        struct level_node *one;    /* capacity 1 */
        struct level_node **slots; /* capacity 2..8: array; 16 and up: table */
    } kids;
    uint32_t nkids;
    uint32_t slot;  /* index in the parent's child array or table */
    uint16_t len;   /* length of this node's level */
    uint8_t kshift; /* log2 of the child capacity */
};

/* The child whose level is s[0..len), or NULL. */
struct level_node *level_find(const struct level_node *n, size_t key_off, const char *s,
                              size_t len);
/*
 * Link a child that is not present yet (its level already in place):
 * 0 or MQTTPROTO_ERR_NO_MEMORY, and nothing changes on error.
 */
int level_insert(struct level_node *n, const mqttproto_mem *mem, size_t key_off,
                 struct level_node *child);
/* Unlink a child; never fails (a table that cannot shrink stays as it is). */
void level_remove(struct level_node *n, const mqttproto_mem *mem, struct level_node *child);
/*
 * The child with the lowest slot >= from, or NULL: with from = child->slot + 1
 * it walks all children without extra memory, while nothing is inserted or
 * removed.
 */
struct level_node *level_next(const struct level_node *n, uint32_t from);
/* Free the child array or table (not the children). */
void level_release(struct level_node *n, const mqttproto_mem *mem);

/* Where the level that starts at @p pos ends: the next '/' or the end. */
static inline size_t level_end(mqttproto_str s, size_t pos)
{
    const char *slash = memchr(s.data + pos, '/', s.len - pos);
    return slash != NULL ? (size_t)(slash - s.data) : s.len;
}

/* ---- subscriptions ------------------------------------------------------ */

struct subtrie_sub {
    void *subscriber;                 /* opaque (a session); the entry's identity with the filter */
    uint32_t subscription_identifier; /* 0: none */
    uint8_t qos;
    bool no_local;
    bool retain_as_published;
    uint8_t retain_handling;
};

/* A shared subscription group: one ShareName on one filter. */
struct subtrie_group;
struct subtrie_node;

struct subtrie {
    mqttproto_mem mem;
    struct subtrie_node *root; /* NULL while empty */
    size_t count;
};

/* @p mem may be NULL (the C library's allocator); it is copied. */
void subtrie_init(struct subtrie *t, const mqttproto_mem *mem);
void subtrie_free(struct subtrie *t);

/*
 * Add (filter, sub->subscriber), or replace that entry's options when it
 * exists already (*replaced = true; @p replaced may be NULL). @p filter may
 * be a shared filter; the entry then joins the group of that ShareName on
 * the inner filter, at the end of its round-robin order. The SUBSCRIBE rules
 * that involve options (No Local on a shared filter) are the caller's.
 * Returns 0, MQTTPROTO_ERR_TOPIC_FILTER_INVALID, MQTTPROTO_ERR_NO_MEMORY,
 * MQTTPROTO_ERR_INVALID_ARGUMENT (t or sub NULL, QoS or retain handling 3);
 * nothing changes on error.
 */
int subtrie_add(struct subtrie *t, mqttproto_str filter, const struct subtrie_sub *sub,
                bool *replaced);

/*
 * Remove the entry (filter, subscriber), and every node and group left
 * empty. False when there was no such entry (including an invalid filter).
 */
bool subtrie_remove(struct subtrie *t, mqttproto_str filter, void *subscriber);

/* The entry (filter, subscriber), or NULL; valid until the trie changes. */
const struct subtrie_sub *subtrie_get(const struct subtrie *t, mqttproto_str filter,
                                      const void *subscriber);

/*
 * Call @p visit for every plain entry whose filter matches @p topic, and
 * @p visit_group once for every shared group whose filter matches it (either
 * callback may be NULL). Visit order is unspecified. The topic is taken as a
 * valid topic name: its bytes are compared as they are. The callbacks must
 * not add or remove entries. Returns 0, MQTTPROTO_ERR_TOPIC_NAME_INVALID
 * (empty topic), MQTTPROTO_ERR_INVALID_ARGUMENT (t NULL, or NULL data with a
 * non-zero length) or MQTTPROTO_ERR_NO_MEMORY (a topic with more levels than
 * the built-in stack holds, and no memory); on error nothing was visited.
 */
int subtrie_match(const struct subtrie *t, mqttproto_str topic,
                  void (*visit)(void *ctx, const struct subtrie_sub *sub),
                  void (*visit_group)(void *ctx, struct subtrie_group *g), void *ctx);

/*
 * Pick one member of a group: round robin in the order members joined,
 * starting after the member picked last, skipping members for which
 * @p accept (NULL accepts all) returns false. NULL when none accepts; the
 * rotation then stays where it was. @p accept must not add or remove
 * entries. The entry returned is valid until the trie changes.
 */
const struct subtrie_sub *
subtrie_group_pick(struct subtrie_group *g,
                   bool (*accept)(void *ctx, const struct subtrie_sub *sub), void *ctx);
/* The ShareName; the view lives as long as the group. */
mqttproto_str subtrie_group_name(const struct subtrie_group *g);
/* The filter after "$share/{ShareName}/"; the view lives as long as the group. */
mqttproto_str subtrie_group_filter(const struct subtrie_group *g);
size_t subtrie_group_size(const struct subtrie_group *g);

/* Number of entries: plain entries plus the members of every group. */
size_t subtrie_count(const struct subtrie *t);

#endif /* MQTTPROTO_SUBTRIE_H */
