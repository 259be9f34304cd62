/*
 * Properties (MQTT 5.0 section 2.2.2): one table gives each property's wire
 * type, the packets it may appear in, whether it repeats, its value rule and
 * where it lives in mqttproto_properties. Decoding, sizing, validation,
 * encoding and the builder all read the same table.
 */
#include "properties.h"

#include "mqttproto/topic.h"

#define CTX(t)      (1u << MQTTPROTO_PACKET_##t)
#define CTX_WILL    (1u << MQTTPROTO_PROPERTY_CONTEXT_WILL)
#define CTX_MESSAGE (CTX(PUBLISH) | CTX_WILL)
#define CTX_ACKS    (CTX(PUBACK) | CTX(PUBREC) | CTX(PUBREL) | CTX(PUBCOMP))
#define CTX_ALL                                                                                    \
    (CTX(CONNECT) | CTX(CONNACK) | CTX_MESSAGE | CTX_ACKS | CTX(SUBSCRIBE) | CTX(SUBACK) |         \
     CTX(UNSUBSCRIBE) | CTX(UNSUBACK) | CTX(DISCONNECT) | CTX(AUTH))

/* How a value is checked beyond its wire type. */
enum value_rule {
    RULE_ANY = 0,
    RULE_BOOLEAN,     /* a byte that must be 0 or 1 */
    RULE_NONZERO,     /* an integer that must not be 0 */
    RULE_TOPIC_ALIAS, /* non-zero, with its own error [MQTT-3.3.2-8] */
    RULE_TOPIC_NAME   /* a string that must be a topic name [MQTT-3.3.2-14] */
};

struct prop_def {
    mqttproto_property_info info;
    uint32_t repeat_contexts; /* contexts in which it may repeat */
    uint8_t rule;
    uint16_t offset; /* of its field in mqttproto_properties */
};

#define FIELD(f) ((uint16_t)offsetof(mqttproto_properties, f))
#define DEF(ID, TYPE, CONTEXTS, REPEAT, RULE, F)                                                   \
    [MQTTPROTO_PROP_##                                                                             \
        ID] = {{MQTTPROTO_PROP_##ID, MQTTPROTO_PTYPE_##TYPE, (REPEAT) != 0, (CONTEXTS), #ID},      \
               (REPEAT),                                                                           \
               (RULE),                                                                             \
               FIELD(F)},

/* Identifier, wire type, contexts, contexts in which it repeats, value rule,
   field. */
#define PROPERTY_TABLE(X)                                                                          \
    X(PAYLOAD_FORMAT_INDICATOR, BYTE, CTX_MESSAGE, 0, RULE_BOOLEAN, payload_format_indicator)      \
    X(MESSAGE_EXPIRY_INTERVAL, FOUR_BYTE_INT, CTX_MESSAGE, 0, RULE_ANY, message_expiry_interval)   \
    X(CONTENT_TYPE, UTF8_STRING, CTX_MESSAGE, 0, RULE_ANY, content_type)                           \
    X(RESPONSE_TOPIC, UTF8_STRING, CTX_MESSAGE, 0, RULE_TOPIC_NAME, response_topic)                \
    X(CORRELATION_DATA, BINARY, CTX_MESSAGE, 0, RULE_ANY, correlation_data)                        \
    X(SUBSCRIPTION_IDENTIFIER, VARIABLE_INT, CTX(PUBLISH) | CTX(SUBSCRIBE), CTX(PUBLISH),          \
      RULE_NONZERO, subscription_identifier)                                                       \
    X(SESSION_EXPIRY_INTERVAL, FOUR_BYTE_INT, CTX(CONNECT) | CTX(CONNACK) | CTX(DISCONNECT), 0,    \
      RULE_ANY, session_expiry_interval)                                                           \
    X(ASSIGNED_CLIENT_IDENTIFIER, UTF8_STRING, CTX(CONNACK), 0, RULE_ANY,                          \
      assigned_client_identifier)                                                                  \
    X(SERVER_KEEP_ALIVE, TWO_BYTE_INT, CTX(CONNACK), 0, RULE_ANY, server_keep_alive)               \
    X(AUTHENTICATION_METHOD, UTF8_STRING, CTX(CONNECT) | CTX(CONNACK) | CTX(AUTH), 0, RULE_ANY,    \
      authentication_method)                                                                       \
    X(AUTHENTICATION_DATA, BINARY, CTX(CONNECT) | CTX(CONNACK) | CTX(AUTH), 0, RULE_ANY,           \
      authentication_data)                                                                         \
    X(REQUEST_PROBLEM_INFORMATION, BYTE, CTX(CONNECT), 0, RULE_BOOLEAN,                            \
      request_problem_information)                                                                 \
    X(WILL_DELAY_INTERVAL, FOUR_BYTE_INT, CTX_WILL, 0, RULE_ANY, will_delay_interval)              \
    X(REQUEST_RESPONSE_INFORMATION, BYTE, CTX(CONNECT), 0, RULE_BOOLEAN,                           \
      request_response_information)                                                                \
    X(RESPONSE_INFORMATION, UTF8_STRING, CTX(CONNACK), 0, RULE_ANY, response_information)          \
    X(SERVER_REFERENCE, UTF8_STRING, CTX(CONNACK) | CTX(DISCONNECT), 0, RULE_ANY,                  \
      server_reference)                                                                            \
    X(REASON_STRING, UTF8_STRING,                                                                  \
      CTX(CONNACK) | CTX_ACKS | CTX(SUBACK) | CTX(UNSUBACK) | CTX(DISCONNECT) | CTX(AUTH), 0,      \
      RULE_ANY, reason_string)                                                                     \
    X(RECEIVE_MAXIMUM, TWO_BYTE_INT, CTX(CONNECT) | CTX(CONNACK), 0, RULE_NONZERO,                 \
      receive_maximum)                                                                             \
    X(TOPIC_ALIAS_MAXIMUM, TWO_BYTE_INT, CTX(CONNECT) | CTX(CONNACK), 0, RULE_ANY,                 \
      topic_alias_maximum)                                                                         \
    X(TOPIC_ALIAS, TWO_BYTE_INT, CTX(PUBLISH), 0, RULE_TOPIC_ALIAS, topic_alias)                   \
    X(MAXIMUM_QOS, BYTE, CTX(CONNACK), 0, RULE_BOOLEAN, maximum_qos)                               \
    X(RETAIN_AVAILABLE, BYTE, CTX(CONNACK), 0, RULE_BOOLEAN, retain_available)                     \
    X(USER_PROPERTY, UTF8_PAIR, CTX_ALL, CTX_ALL, RULE_ANY, user_properties)                       \
    X(MAXIMUM_PACKET_SIZE, FOUR_BYTE_INT, CTX(CONNECT) | CTX(CONNACK), 0, RULE_NONZERO,            \
      maximum_packet_size)                                                                         \
    X(WILDCARD_SUBSCRIPTION_AVAILABLE, BYTE, CTX(CONNACK), 0, RULE_BOOLEAN,                        \
      wildcard_subscription_available)                                                             \
    X(SUBSCRIPTION_IDENTIFIER_AVAILABLE, BYTE, CTX(CONNACK), 0, RULE_BOOLEAN,                      \
      subscription_identifier_available)                                                           \
    X(SHARED_SUBSCRIPTION_AVAILABLE, BYTE, CTX(CONNACK), 0, RULE_BOOLEAN,                          \
      shared_subscription_available)

static const struct prop_def props[64] = {PROPERTY_TABLE(DEF)};

/*
 * A switch on the identifier with one case per property, each handing its
 * table entry to an always-inlined handler: the entry is then a constant,
 * so the handler's tests on type, contexts and rule fold away, and the
 * walks pay one indirect jump per property instead of table look-ups.
 * Used by the hot walks (decoding, sizing, writing), each defining
 * PROPERTY_HANDLER(d, id) around its switch.
 */
#define PROPERTY_CASE(ID, TYPE, CONTEXTS, REPEAT, RULE, F)                                         \
    case MQTTPROTO_PROP_##ID:                                                                      \
        PROPERTY_HANDLER(&props[MQTTPROTO_PROP_##ID], MQTTPROTO_PROP_##ID);                        \
        break;

static inline const struct prop_def *prop_def(unsigned id)
{
    return id < 64 && props[id].info.type != 0 ? &props[id] : NULL;
}

const mqttproto_property_info *mqttproto_property_info_get(int id)
{
    const struct prop_def *d = id >= 0 ? prop_def((unsigned)id) : NULL;
    return d ? &d->info : NULL;
}

const char *mqttproto_property_name(int id)
{
    const mqttproto_property_info *info = mqttproto_property_info_get(id);
    return info ? info->name : "UNKNOWN";
}

bool mqttproto_property_allowed(int id, int context)
{
    const mqttproto_property_info *info = mqttproto_property_info_get(id);
    return info != NULL && context >= 1 && context <= MQTTPROTO_PROPERTY_CONTEXT_WILL &&
           (info->contexts & (1u << context)) != 0;
}

void mqttproto_properties_init(mqttproto_properties *p)
{
    if (p != NULL) {
        memset(p, 0, sizeof *p);
    }
}

/* Field access through the table's offsets. */
#define FIELD_PTR(T, p, d)  ((T *)(void *)((char *)(p) + (d)->offset))
#define CFIELD_PTR(T, p, d) ((const T *)(const void *)((const char *)(p) + (d)->offset))

/* Check a decoded or supplied integer value against its rule. */
static int check_int_rule(const struct prop_def *d, uint32_t v)
{
    switch (d->rule) {
    case RULE_BOOLEAN:
        return v > 1 ? MQTTPROTO_ERR_INVALID_PROPERTY_VALUE : 0;
    case RULE_NONZERO:
        return v == 0 ? MQTTPROTO_ERR_INVALID_PROPERTY_VALUE : 0;
    case RULE_TOPIC_ALIAS:
        return v == 0 ? MQTTPROTO_ERR_TOPIC_ALIAS_INVALID : 0; /* [MQTT-3.3.2-8] */
    default:
        return 0;
    }
}

/* Every string property is a UTF-8 Encoded String, e.g. Response Topic
   [MQTT-3.3.2-13] and Content Type [MQTT-3.3.2-19]. */
static int check_string(const struct prop_def *d, const char *s, size_t len)
{
    int r = mqttproto_utf8_validate((const uint8_t *)s, len);
    if (r != 0) {
        return r;
    }
    if (d->rule == RULE_TOPIC_NAME && wire_has_wildcard(s, len)) {
        return MQTTPROTO_ERR_TOPIC_NAME_INVALID; /* [MQTT-3.3.2-14] */
    }
    return 0;
}

/* Read a UTF-8 string or binary value (u16 length then bytes) within end. */
static inline int read_lenbytes(const uint8_t **pp, const uint8_t *end, const uint8_t **data,
                                size_t *len)
{
    const uint8_t *p = *pp;
    if (end - p < 2) {
        return MQTTPROTO_ERR_TRUNCATED;
    }
    size_t n = wire_get_u16(p);
    p += 2;
    if ((size_t)(end - p) < n) {
        return MQTTPROTO_ERR_TRUNCATED;
    }
    *data = p;
    *len = n;
    *pp = p + n;
    return 0;
}

/* Read a User Property's name and value (two length-prefixed strings) within end. */
static inline int read_pair(const uint8_t **pp, const uint8_t *end, mqttproto_user_property *up)
{
    const uint8_t *name, *value;
    size_t name_len, value_len;
    int r = read_lenbytes(pp, end, &name, &name_len);
    if (r == 0) {
        r = read_lenbytes(pp, end, &value, &value_len);
    }
    if (r != 0) {
        return r;
    }
    up->name.data = (const char *)name;
    up->name.len = name_len;
    up->value.data = (const char *)value;
    up->value.len = value_len;
    return 0;
}

/*
 * Both halves of a User Property are UTF-8 strings [MQTT-1.5.7-1]. The
 * fast path looks at both before its one branch; the exact check, name
 * first, runs only when it finds a byte that needs it.
 */
static inline int check_pair(const mqttproto_user_property *up)
{
    const uint8_t *name = (const uint8_t *)up->name.data;
    const uint8_t *value = (const uint8_t *)up->value.data;
    unsigned suspect = (unsigned)wire_needs_exact_check(name, up->name.len, false) |
                       (unsigned)wire_needs_exact_check(value, up->value.len, false);
    if (MQTTPROTO_LIKELY(suspect == 0)) {
        return 0;
    }
    int r = mqttproto_utf8_validate_slow(name, up->name.len);
    return r != 0 ? r : mqttproto_utf8_validate_slow(value, up->value.len);
}

/* A caller's string view with no bytes behind it is refused, not read. */
static inline bool view_unreadable(const void *data, size_t len)
{
    return data == NULL && len != 0;
}

/*
 * Decode one property other than the User Property, d its table entry: its
 * context, repetition, wire type and value rule. *subid_count counts the
 * Subscription Identifiers. Returns 0 or an error.
 */
static MQTTPROTO_ALWAYS_INLINE int decode_property(const struct prop_def *d, unsigned id,
                                                   const uint8_t **pp, const uint8_t *block_end,
                                                   uint32_t ctx_bit, uint64_t present,
                                                   size_t *subid_count, mqttproto_properties *out)
{
    if ((d->info.contexts & ctx_bit) == 0) {
        return MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED;
    }
    if ((present & MQTTPROTO_PROP_BIT(id)) != 0 && (d->repeat_contexts & ctx_bit) == 0) {
        return MQTTPROTO_ERR_DUPLICATE_PROPERTY;
    }
    const uint8_t *p = *pp;
    int r = 0;
    uint32_t v = 0;
    switch (d->info.type) {
    case MQTTPROTO_PTYPE_BYTE:
        if (p >= block_end) {
            return MQTTPROTO_ERR_TRUNCATED;
        }
        v = *p++;
        *FIELD_PTR(uint8_t, out, d) = (uint8_t)v;
        r = check_int_rule(d, v);
        break;
    case MQTTPROTO_PTYPE_TWO_BYTE_INT:
        if (block_end - p < 2) {
            return MQTTPROTO_ERR_TRUNCATED;
        }
        v = wire_get_u16(p);
        p += 2;
        *FIELD_PTR(uint16_t, out, d) = (uint16_t)v;
        r = check_int_rule(d, v);
        break;
    case MQTTPROTO_PTYPE_FOUR_BYTE_INT:
        if (block_end - p < 4) {
            return MQTTPROTO_ERR_TRUNCATED;
        }
        v = wire_get_u32(p);
        p += 4;
        *FIELD_PTR(uint32_t, out, d) = v;
        r = check_int_rule(d, v);
        break;
    case MQTTPROTO_PTYPE_VARIABLE_INT: {
        int n = wire_get_vbi(p, (size_t)(block_end - p), &v);
        if (n <= 0) {
            return n == 0 ? MQTTPROTO_ERR_TRUNCATED : n;
        }
        p += n;
        if ((*subid_count)++ == 0) {
            *FIELD_PTR(uint32_t, out, d) = v;
        }
        r = check_int_rule(d, v);
        break;
    }
    case MQTTPROTO_PTYPE_UTF8_PAIR: /* decoded by the caller, not here */
        break;
    default: { /* UTF-8 string or binary data */
        const uint8_t *data;
        size_t len;
        r = read_lenbytes(&p, block_end, &data, &len);
        if (r != 0) {
            return r;
        }
        if (d->info.type == MQTTPROTO_PTYPE_UTF8_STRING) {
            r = check_string(d, (const char *)data, len);
            mqttproto_str *s = FIELD_PTR(mqttproto_str, out, d);
            s->data = (const char *)data;
            s->len = len;
        } else {
            mqttproto_bin *b = FIELD_PTR(mqttproto_bin, out, d);
            b->data = data;
            b->len = len;
        }
        break;
    }
    }
    *pp = p;
    return r;
}

/* Any property but the User Property, by its identifier: an unknown one is
   refused, a known one decoded with its constant table entry. */
static inline int decode_table_property(unsigned id, const uint8_t **pp, const uint8_t *block_end,
                                        uint32_t ctx_bit, uint64_t present, size_t *subid_count,
                                        mqttproto_properties *out)
{
    int r;
    switch (id) {
#define PROPERTY_HANDLER(d, id)                                                                    \
    r = decode_property(d, id, pp, block_end, ctx_bit, present, subid_count, out)
        PROPERTY_TABLE(PROPERTY_CASE)
#undef PROPERTY_HANDLER
    default:
        return MQTTPROTO_ERR_UNKNOWN_PROPERTY;
    }
    return r;
}

ptrdiff_t mqttproto_props_decode(const uint8_t *p, const uint8_t *end, int context,
                                 uint32_t max_user_properties, mqttproto_properties *out)
{
    const uint8_t *start = p;
    uint32_t block_len;
    int n = wire_get_vbi(p, (size_t)(end - p), &block_len);
    if (n <= 0) {
        return n == 0 ? MQTTPROTO_ERR_TRUNCATED : n;
    }
    p += n;
    if ((size_t)(end - p) < block_len) {
        return MQTTPROTO_ERR_TRUNCATED;
    }
    const uint8_t *block_end = p + block_len;
    const uint32_t ctx_bit = 1u << context;
    const size_t user_limit = max_user_properties != 0 ? max_user_properties : SIZE_MAX;
    uint64_t present = 0;
    size_t user_count = 0;
    size_t subid_count = 0;

    out->wire.data = p;
    out->wire.len = block_len;
    out->user_properties = NULL;
    out->subscription_identifiers = NULL;

    while (p < block_end) {
        /* Identifiers are VBIs, but every defined one fits one byte: a byte
           with the continuation bit can only start an unknown identifier. */
        unsigned id = *p++;
        int r;
        if (id == MQTTPROTO_PROP_USER_PROPERTY) {
            /* The property most often repeated, decoded without the table:
               its entry allows it, and its repetition, in every context
               (CTX_ALL in both columns), so there is nothing to look up. */
            mqttproto_user_property up;
            r = read_pair(&p, block_end, &up);
            if (r != 0) {
                return r;
            }
            r = check_pair(&up);
            if (++user_count > user_limit) {
                return MQTTPROTO_ERR_TOO_MANY_PROPERTIES;
            }
        } else {
            r = decode_table_property(id, &p, block_end, ctx_bit, present, &subid_count, out);
        }
        if (r != 0) {
            return r;
        }
        present |= MQTTPROTO_PROP_BIT(id);
    }
    out->present = present;
    out->user_property_count = user_count;
    out->subscription_identifier_count = subid_count;
    return p - start;
}

/*
 * The size of the value of an entry with identifier id whose value starts
 * at v, with avail bytes left in the block; 0 when the identifier is
 * unknown or the value runs past the block (no value is empty).
 * Bounds-checked, so a block that was not produced by the decoder cannot
 * make the iterators read out of range.
 */
static MQTTPROTO_ALWAYS_INLINE size_t value_size_of(const struct prop_def *d, const uint8_t *v,
                                                    size_t avail)
{
    size_t n;
    switch (d->info.type) {
    case MQTTPROTO_PTYPE_BYTE:
        n = 1;
        break;
    case MQTTPROTO_PTYPE_TWO_BYTE_INT:
        n = 2;
        break;
    case MQTTPROTO_PTYPE_FOUR_BYTE_INT:
        n = 4;
        break;
    case MQTTPROTO_PTYPE_VARIABLE_INT: {
        uint32_t ignored;
        int k = wire_get_vbi(v, avail, &ignored);
        return k > 0 ? (size_t)k : 0;
    }
    case MQTTPROTO_PTYPE_UTF8_PAIR:
        if (avail < 4) {
            return 0;
        }
        n = 2u + wire_get_u16(v);
        if (avail - 2 < n) {
            return 0;
        }
        n += 2u + wire_get_u16(v + n);
        break;
    default: /* UTF-8 string or binary data */
        if (avail < 2) {
            return 0;
        }
        n = 2u + wire_get_u16(v);
        break;
    }
    return n <= avail ? n : 0;
}

static inline size_t entry_value_size(unsigned id, const uint8_t *v, size_t avail)
{
    size_t n;
    switch (id) {
#define PROPERTY_HANDLER(d, id) n = value_size_of(d, v, avail)
        PROPERTY_TABLE(PROPERTY_CASE)
#undef PROPERTY_HANDLER
    default:
        return 0;
    }
    return n;
}

/*
 * Walk the entries of a decoded block from *cursor, a byte offset into
 * wire, to the next one whose identifier is want; set [*value, *value_end)
 * to its value and move *cursor past it.
 */
static inline bool wire_next_entry(const mqttproto_properties *p, size_t *cursor, unsigned want,
                                   const uint8_t **value, const uint8_t **value_end)
{
    const uint8_t *base = p->wire.data;
    size_t len = p->wire.len;
    size_t c = *cursor;
    if (base == NULL) {
        return false;
    }
    while (c < len) {
        unsigned id = base[c];
        size_t n = entry_value_size(id, base + c + 1, len - c - 1);
        if (n == 0) {
            return false;
        }
        if (id == want) {
            *value = base + c + 1;
            *value_end = base + c + 1 + n;
            *cursor = c + 1 + n;
            return true;
        }
        c += 1 + n;
    }
    return false;
}

/* A User Property's name and value from its entry's value at v, which
   entry_value_size() found to be n bytes long. */
static inline void pair_from_value(const uint8_t *v, size_t n, mqttproto_user_property *out)
{
    size_t name_len = wire_get_u16(v);
    out->name.data = (const char *)v + 2;
    out->name.len = name_len;
    out->value.data = (const char *)v + 4 + name_len;
    out->value.len = n - 4 - name_len;
}

/* The User Properties iterator past other entries: out of line, so that
   the usual call, on an entry that is a User Property, saves nothing. */
MQTTPROTO_NOINLINE static bool user_properties_walk_next(const mqttproto_properties *p,
                                                         size_t *cursor,
                                                         mqttproto_user_property *out)
{
    const uint8_t *v, *v_end;
    if (!wire_next_entry(p, cursor, MQTTPROTO_PROP_USER_PROPERTY, &v, &v_end)) {
        return false;
    }
    pair_from_value(v, (size_t)(v_end - v), out);
    return true;
}

/* mqttproto_user_properties_next() once its arguments are known good. */
static inline bool user_properties_next(const mqttproto_properties *p, size_t *cursor,
                                        mqttproto_user_property *out)
{
    size_t c = *cursor;
    if (p->user_properties != NULL) {
        if (c >= p->user_property_count) {
            return false;
        }
        *out = p->user_properties[c];
        *cursor = c + 1;
        return true;
    }
    const uint8_t *base = p->wire.data;
    size_t len = p->wire.len;
    if (base == NULL || c >= len) {
        return false;
    }
    if (base[c] == MQTTPROTO_PROP_USER_PROPERTY) { /* consecutive ones, the usual layout */
        size_t n = entry_value_size(MQTTPROTO_PROP_USER_PROPERTY, base + c + 1, len - c - 1);
        if (n == 0) {
            return false;
        }
        pair_from_value(base + c + 1, n, out);
        *cursor = c + 1 + n;
        return true;
    }
    return user_properties_walk_next(p, cursor, out);
}

bool mqttproto_user_properties_next(const mqttproto_properties *p, size_t *cursor,
                                    mqttproto_user_property *out)
{
    if (p == NULL || cursor == NULL || out == NULL) {
        return false;
    }
    return user_properties_next(p, cursor, out);
}

bool mqttproto_subscription_identifiers_next(const mqttproto_properties *p, size_t *cursor,
                                             uint32_t *out)
{
    if (p == NULL || cursor == NULL || out == NULL) {
        return false;
    }
    if (p->subscription_identifiers != NULL) {
        if (*cursor >= p->subscription_identifier_count) {
            return false;
        }
        *out = p->subscription_identifiers[(*cursor)++];
        return true;
    }
    if (p->wire.data == NULL) {
        /* Built by hand with one identifier set through the field. */
        if (*cursor == 0 && mqttproto_properties_has(p, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER)) {
            *cursor = 1;
            *out = p->subscription_identifier;
            return true;
        }
        return false;
    }
    const uint8_t *v, *v_end;
    if (!wire_next_entry(p, cursor, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, &v, &v_end)) {
        return false;
    }
    return wire_get_vbi(v, (size_t)(v_end - v), out) > 0;
}

/* Iterate the bits set in a mask, lowest first. */
static inline unsigned next_bit(uint64_t *mask)
{
    unsigned id = (unsigned)__builtin_ctzll(*mask);
    *mask &= *mask - 1;
    return id;
}

/*
 * The User Properties, either form: their size on the wire, or a shape
 * error; with check, *check_err receives the first UTF-8 error of a pair
 * (0 when there is none). Sizing and checking share one walk.
 */
/* The User Properties of a decoded block, read back through the iterator.
   Out of line: the caller's array is the usual form when encoding. */
MQTTPROTO_NOINLINE static ptrdiff_t wire_user_properties_walk(const mqttproto_properties *p,
                                                              bool check, int *check_err)
{
    size_t total = 0;
    int err = 0;
    size_t cursor = 0;
    mqttproto_user_property up;
    size_t seen = 0;
    while (user_properties_next(p, &cursor, &up)) {
        total += 5 + up.name.len + up.value.len;
        seen++;
        if (check && err == 0) {
            err = check_pair(&up);
        }
    }
    if (seen != p->user_property_count) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (total > MQTTPROTO_MAX_VARIABLE_INT) {
        return MQTTPROTO_ERR_VALUE_TOO_LARGE;
    }
    *check_err = err;
    return (ptrdiff_t)total;
}

static inline ptrdiff_t user_properties_walk(const mqttproto_properties *p, bool check,
                                             int *check_err)
{
    if (p->user_properties == NULL) {
        return wire_user_properties_walk(p, check, check_err);
    }
    size_t total = 0;
    int err = 0;
    const mqttproto_user_property *up = p->user_properties;
    const mqttproto_user_property *up_end = up + p->user_property_count;
    for (; up < up_end; up++) {
        if (up->name.len > 65535 || up->value.len > 65535) {
            return MQTTPROTO_ERR_STRING_TOO_LONG;
        }
        total += 5 + up->name.len + up->value.len;
        if (check && err == 0) {
            err = view_unreadable(up->name.data, up->name.len) ||
                          view_unreadable(up->value.data, up->value.len)
                      ? MQTTPROTO_ERR_INVALID_ARGUMENT
                      : check_pair(up);
        }
    }
    if (total > MQTTPROTO_MAX_VARIABLE_INT) {
        return MQTTPROTO_ERR_VALUE_TOO_LARGE;
    }
    *check_err = err;
    return (ptrdiff_t)total;
}

static ptrdiff_t subscription_identifiers_size(const mqttproto_properties *p)
{
    size_t total = 0;
    size_t cursor = 0;
    uint32_t id;
    while (mqttproto_subscription_identifiers_next(p, &cursor, &id)) {
        if (id > MQTTPROTO_MAX_VARIABLE_INT) {
            return MQTTPROTO_ERR_VALUE_TOO_LARGE;
        }
        total += 1 + wire_vbi_size(id);
    }
    return (ptrdiff_t)total;
}

static int validate_subscription_identifiers(const mqttproto_properties *p, int context)
{
    size_t cursor = 0;
    size_t count = 0;
    uint32_t id;
    while (mqttproto_subscription_identifiers_next(p, &cursor, &id)) {
        if (id == 0 || id > MQTTPROTO_MAX_VARIABLE_INT) {
            return MQTTPROTO_ERR_INVALID_PROPERTY_VALUE;
        }
        count++;
    }
    if (count > 1 && context != MQTTPROTO_PACKET_PUBLISH) {
        return MQTTPROTO_ERR_DUPLICATE_PROPERTY;
    }
    return 0;
}

/* A string or binary property: its size on the wire, or STRING_TOO_LONG. */
static inline ptrdiff_t lenbytes_size(size_t len)
{
    return len > 65535 ? MQTTPROTO_ERR_STRING_TOO_LONG : (ptrdiff_t)(3 + len);
}

/*
 * One property of props_walk(): the size of its entries on the wire or a
 * shape error; with c, its first content error goes to *e.
 */
static MQTTPROTO_ALWAYS_INLINE ptrdiff_t walk_property(const struct prop_def *d,
                                                       const mqttproto_properties *p, int context,
                                                       uint32_t ctx_bit, bool c, int *e)
{
    if ((d->info.contexts & ctx_bit) == 0) {
        return MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED;
    }
    ptrdiff_t extra;
    switch (d->info.type) {
    case MQTTPROTO_PTYPE_BYTE:
        *e = c ? check_int_rule(d, *CFIELD_PTR(uint8_t, p, d)) : 0;
        return 2;
    case MQTTPROTO_PTYPE_TWO_BYTE_INT:
        *e = c ? check_int_rule(d, *CFIELD_PTR(uint16_t, p, d)) : 0;
        return 3;
    case MQTTPROTO_PTYPE_FOUR_BYTE_INT:
        *e = c ? check_int_rule(d, *CFIELD_PTR(uint32_t, p, d)) : 0;
        return 5;
    case MQTTPROTO_PTYPE_VARIABLE_INT:
        extra = subscription_identifiers_size(p);
        *e = c && extra >= 0 ? validate_subscription_identifiers(p, context) : 0;
        return extra;
    case MQTTPROTO_PTYPE_UTF8_STRING: {
        const mqttproto_str *str = CFIELD_PTR(mqttproto_str, p, d);
        extra = lenbytes_size(str->len);
        if (c && extra >= 0) {
            *e = view_unreadable(str->data, str->len) ? MQTTPROTO_ERR_INVALID_ARGUMENT
                                                      : check_string(d, str->data, str->len);
        }
        return extra;
    }
    case MQTTPROTO_PTYPE_BINARY: {
        const mqttproto_bin *bin = CFIELD_PTR(mqttproto_bin, p, d);
        extra = lenbytes_size(bin->len);
        if (c && extra >= 0 && view_unreadable(bin->data, bin->len)) {
            *e = MQTTPROTO_ERR_INVALID_ARGUMENT; /* as for a string: never read NULL */
        }
        return extra;
    }
    default: /* MQTTPROTO_PTYPE_UTF8_PAIR */
        return user_properties_walk(p, c, e);
    }
}

/*
 * The one walk over the properties to encode: the content length of the
 * block, or the first shape error in identifier order. With check, the
 * value checks run in the same walk and *check_err receives the first of
 * their errors in identifier order: what a second, checking walk after a
 * successful sizing walk would find.
 */
static inline ptrdiff_t props_walk(const mqttproto_properties *p, int context, bool check,
                                   int *check_err)
{
    const uint32_t ctx_bit = 1u << context;
    size_t total = 0;
    int err = 0;
    for (uint64_t m = p->present; m != 0;) {
        unsigned id = next_bit(&m);
        const bool c = check && err == 0;
        ptrdiff_t extra;
        int e = 0;
        switch (id) {
#define PROPERTY_HANDLER(d, id) extra = walk_property(d, p, context, ctx_bit, c, &e)
            PROPERTY_TABLE(PROPERTY_CASE)
#undef PROPERTY_HANDLER
        default:
            return MQTTPROTO_ERR_UNKNOWN_PROPERTY;
        }
        if (extra < 0) {
            return extra;
        }
        err = err != 0 ? err : e;
        total += (size_t)extra;
    }
    if (total > MQTTPROTO_MAX_VARIABLE_INT) {
        return MQTTPROTO_ERR_VALUE_TOO_LARGE;
    }
    if (check) {
        *check_err = err;
    }
    return (ptrdiff_t)total;
}

ptrdiff_t mqttproto_props_size(const mqttproto_properties *p, int context, int *check_err)
{
    if (p->present == 0) {
        if (check_err != NULL) {
            *check_err = 0;
        }
        return 0;
    }
    if (check_err != NULL) {
        return props_walk(p, context, true, check_err);
    }
    int unused;
    return props_walk(p, context, false, &unused);
}

/* One User Property: its fields are read before the bytes are written,
   since a byte store may alias anything. */
static inline uint8_t *write_pair(uint8_t *out, mqttproto_user_property up)
{
    *out++ = MQTTPROTO_PROP_USER_PROPERTY;
    out = wire_put_bytes(out, up.name.data, up.name.len);
    return wire_put_bytes(out, up.value.data, up.value.len);
}

/* The User Properties of a decoded block; out of line as above. */
MQTTPROTO_NOINLINE static uint8_t *write_wire_pairs(const mqttproto_properties *p, uint8_t *out)
{
    size_t cursor = 0;
    mqttproto_user_property up;
    while (user_properties_next(p, &cursor, &up)) {
        out = write_pair(out, up);
    }
    return out;
}

/* The Subscription Identifiers, either form. */
MQTTPROTO_NOINLINE static uint8_t *write_subscription_identifiers(const mqttproto_properties *p,
                                                                  uint8_t *out)
{
    size_t cursor = 0;
    uint32_t v;
    while (mqttproto_subscription_identifiers_next(p, &cursor, &v)) {
        *out++ = MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER;
        out = wire_put_vbi(out, v);
    }
    return out;
}

/* One property of mqttproto_props_write(): its entries. */
static MQTTPROTO_ALWAYS_INLINE uint8_t *write_property(const struct prop_def *d, unsigned id,
                                                       const mqttproto_properties *p, uint8_t *out)
{
    switch (d->info.type) {
    case MQTTPROTO_PTYPE_BYTE:
        out[0] = (uint8_t)id;
        out[1] = *CFIELD_PTR(uint8_t, p, d);
        return out + 2;
    case MQTTPROTO_PTYPE_TWO_BYTE_INT: {
        uint16_t v = *CFIELD_PTR(uint16_t, p, d);
        *out = (uint8_t)id;
        return wire_put_u16(out + 1, v);
    }
    case MQTTPROTO_PTYPE_FOUR_BYTE_INT: {
        uint32_t v = *CFIELD_PTR(uint32_t, p, d);
        *out = (uint8_t)id;
        return wire_put_u32(out + 1, v);
    }
    case MQTTPROTO_PTYPE_VARIABLE_INT:
        return write_subscription_identifiers(p, out);
    case MQTTPROTO_PTYPE_UTF8_STRING: {
        const mqttproto_str v = *CFIELD_PTR(mqttproto_str, p, d);
        *out = (uint8_t)id;
        return wire_put_bytes(out + 1, v.data, v.len);
    }
    case MQTTPROTO_PTYPE_BINARY: {
        const mqttproto_bin v = *CFIELD_PTR(mqttproto_bin, p, d);
        *out = (uint8_t)id;
        return wire_put_bytes(out + 1, v.data, v.len);
    }
    default: /* MQTTPROTO_PTYPE_UTF8_PAIR */
        if (p->user_properties == NULL) {
            return write_wire_pairs(p, out);
        }
        const mqttproto_user_property *up = p->user_properties;
        const mqttproto_user_property *up_end = up + p->user_property_count;
        for (; up < up_end; up++) {
            out = write_pair(out, *up);
        }
        return out;
    }
}

uint8_t *mqttproto_props_write(const mqttproto_properties *p, size_t content_len, uint8_t *out)
{
    /* The length is written even when it is 0 [MQTT-2.2.2-1]. */
    out = wire_put_vbi(out, (uint32_t)content_len);
    if (content_len == 0) {
        return out;
    }
    for (uint64_t m = p->present; m != 0;) {
        unsigned id = next_bit(&m);
        switch (id) {
#define PROPERTY_HANDLER(d, id) out = write_property(d, id, p, out)
            PROPERTY_TABLE(PROPERTY_CASE)
#undef PROPERTY_HANDLER
        default: /* refused by the sizing walk */
            break;
        }
    }
    return out;
}

/* Common checks of the builder: the property exists, fits the context, is new. */
static int builder_check(const mqttproto_properties *p, int context, int id, int type_a, int type_b,
                         const struct prop_def **out)
{
    if (p == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    const struct prop_def *d = id >= 0 ? prop_def((unsigned)id) : NULL;
    if (d == NULL) {
        return MQTTPROTO_ERR_UNKNOWN_PROPERTY;
    }
    if (d->info.type != type_a && d->info.type != type_b) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (!mqttproto_property_allowed(id, context)) {
        return MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED;
    }
    if ((p->present & MQTTPROTO_PROP_BIT(id)) != 0) {
        return MQTTPROTO_ERR_DUPLICATE_PROPERTY;
    }
    *out = d;
    return 0;
}

int mqttproto_properties_set_int(mqttproto_properties *p, int context, int id, uint32_t value)
{
    const struct prop_def *d;
    int r = builder_check(p, context, id, MQTTPROTO_PTYPE_BYTE, MQTTPROTO_PTYPE_TWO_BYTE_INT, &d);
    if (r == MQTTPROTO_ERR_INVALID_ARGUMENT && p != NULL) {
        r = builder_check(p, context, id, MQTTPROTO_PTYPE_FOUR_BYTE_INT,
                          MQTTPROTO_PTYPE_VARIABLE_INT, &d);
    }
    if (r != 0) {
        return r;
    }
    r = check_int_rule(d, value);
    if (r != 0) {
        return r;
    }
    switch (d->info.type) {
    case MQTTPROTO_PTYPE_BYTE:
        if (value > 255) {
            return MQTTPROTO_ERR_INVALID_PROPERTY_VALUE;
        }
        *FIELD_PTR(uint8_t, p, d) = (uint8_t)value;
        break;
    case MQTTPROTO_PTYPE_TWO_BYTE_INT:
        if (value > 65535) {
            return MQTTPROTO_ERR_INVALID_PROPERTY_VALUE;
        }
        *FIELD_PTR(uint16_t, p, d) = (uint16_t)value;
        break;
    case MQTTPROTO_PTYPE_VARIABLE_INT:
        if (value > MQTTPROTO_MAX_VARIABLE_INT) {
            return MQTTPROTO_ERR_INVALID_PROPERTY_VALUE;
        }
        p->subscription_identifier_count = 1;
        *FIELD_PTR(uint32_t, p, d) = value;
        break;
    default:
        *FIELD_PTR(uint32_t, p, d) = value;
        break;
    }
    p->present |= MQTTPROTO_PROP_BIT(id);
    return 0;
}

int mqttproto_properties_set_str(mqttproto_properties *p, int context, int id, mqttproto_str value)
{
    const struct prop_def *d;
    int r =
        builder_check(p, context, id, MQTTPROTO_PTYPE_UTF8_STRING, MQTTPROTO_PTYPE_UTF8_STRING, &d);
    if (r != 0) {
        return r;
    }
    if (value.data == NULL && value.len != 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (value.len > 65535) {
        return MQTTPROTO_ERR_STRING_TOO_LONG;
    }
    r = check_string(d, value.data, value.len);
    if (r != 0) {
        return r;
    }
    *FIELD_PTR(mqttproto_str, p, d) = value;
    p->present |= MQTTPROTO_PROP_BIT(id);
    return 0;
}

int mqttproto_properties_set_bin(mqttproto_properties *p, int context, int id, mqttproto_bin value)
{
    const struct prop_def *d;
    int r = builder_check(p, context, id, MQTTPROTO_PTYPE_BINARY, MQTTPROTO_PTYPE_BINARY, &d);
    if (r != 0) {
        return r;
    }
    if (value.data == NULL && value.len != 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (value.len > 65535) {
        return MQTTPROTO_ERR_STRING_TOO_LONG;
    }
    *FIELD_PTR(mqttproto_bin, p, d) = value;
    p->present |= MQTTPROTO_PROP_BIT(id);
    return 0;
}

int mqttproto_properties_set_user_properties(mqttproto_properties *p, int context,
                                             const mqttproto_user_property *items, size_t count)
{
    const struct prop_def *d;
    int r = builder_check(p, context, MQTTPROTO_PROP_USER_PROPERTY, MQTTPROTO_PTYPE_UTF8_PAIR,
                          MQTTPROTO_PTYPE_UTF8_PAIR, &d);
    if (r != 0) {
        return r;
    }
    if (items == NULL && count != 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < count; i++) {
        if (items[i].name.len > 65535 || items[i].value.len > 65535) {
            return MQTTPROTO_ERR_STRING_TOO_LONG;
        }
        if ((items[i].name.data == NULL && items[i].name.len != 0) ||
            (items[i].value.data == NULL && items[i].value.len != 0)) {
            return MQTTPROTO_ERR_INVALID_ARGUMENT;
        }
        r = mqttproto_utf8_validate((const uint8_t *)items[i].name.data, items[i].name.len);
        if (r == 0) {
            r = mqttproto_utf8_validate((const uint8_t *)items[i].value.data, items[i].value.len);
        }
        if (r != 0) {
            return r; /* [MQTT-1.5.7-1] */
        }
    }
    if (count == 0) {
        return 0;
    }
    p->user_properties = items;
    p->user_property_count = count;
    p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_USER_PROPERTY);
    return 0;
}

int mqttproto_properties_set_subscription_identifiers(mqttproto_properties *p, int context,
                                                      const uint32_t *ids, size_t count)
{
    const struct prop_def *d;
    int r = builder_check(p, context, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER,
                          MQTTPROTO_PTYPE_VARIABLE_INT, MQTTPROTO_PTYPE_VARIABLE_INT, &d);
    if (r != 0) {
        return r;
    }
    if (context != MQTTPROTO_PACKET_PUBLISH || (ids == NULL && count != 0)) {
        return context != MQTTPROTO_PACKET_PUBLISH ? MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED
                                                   : MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < count; i++) {
        if (ids[i] == 0 || ids[i] > MQTTPROTO_MAX_VARIABLE_INT) {
            return MQTTPROTO_ERR_INVALID_PROPERTY_VALUE;
        }
    }
    if (count == 0) {
        return 0;
    }
    p->subscription_identifiers = ids;
    p->subscription_identifier_count = count;
    p->subscription_identifier = ids[0];
    p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER);
    return 0;
}
