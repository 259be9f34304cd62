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
               FIELD(F)}

static const struct prop_def props[64] = {
    DEF(PAYLOAD_FORMAT_INDICATOR, BYTE, CTX_MESSAGE, 0, RULE_BOOLEAN, payload_format_indicator),
    DEF(MESSAGE_EXPIRY_INTERVAL, FOUR_BYTE_INT, CTX_MESSAGE, 0, RULE_ANY, message_expiry_interval),
    DEF(CONTENT_TYPE, UTF8_STRING, CTX_MESSAGE, 0, RULE_ANY, content_type),
    DEF(RESPONSE_TOPIC, UTF8_STRING, CTX_MESSAGE, 0, RULE_TOPIC_NAME, response_topic),
    DEF(CORRELATION_DATA, BINARY, CTX_MESSAGE, 0, RULE_ANY, correlation_data),
    DEF(SUBSCRIPTION_IDENTIFIER, VARIABLE_INT, CTX(PUBLISH) | CTX(SUBSCRIBE), CTX(PUBLISH),
        RULE_NONZERO, subscription_identifier),
    DEF(SESSION_EXPIRY_INTERVAL, FOUR_BYTE_INT, CTX(CONNECT) | CTX(CONNACK) | CTX(DISCONNECT), 0,
        RULE_ANY, session_expiry_interval),
    DEF(ASSIGNED_CLIENT_IDENTIFIER, UTF8_STRING, CTX(CONNACK), 0, RULE_ANY,
        assigned_client_identifier),
    DEF(SERVER_KEEP_ALIVE, TWO_BYTE_INT, CTX(CONNACK), 0, RULE_ANY, server_keep_alive),
    DEF(AUTHENTICATION_METHOD, UTF8_STRING, CTX(CONNECT) | CTX(CONNACK) | CTX(AUTH), 0, RULE_ANY,
        authentication_method),
    DEF(AUTHENTICATION_DATA, BINARY, CTX(CONNECT) | CTX(CONNACK) | CTX(AUTH), 0, RULE_ANY,
        authentication_data),
    DEF(REQUEST_PROBLEM_INFORMATION, BYTE, CTX(CONNECT), 0, RULE_BOOLEAN,
        request_problem_information),
    DEF(WILL_DELAY_INTERVAL, FOUR_BYTE_INT, CTX_WILL, 0, RULE_ANY, will_delay_interval),
    DEF(REQUEST_RESPONSE_INFORMATION, BYTE, CTX(CONNECT), 0, RULE_BOOLEAN,
        request_response_information),
    DEF(RESPONSE_INFORMATION, UTF8_STRING, CTX(CONNACK), 0, RULE_ANY, response_information),
    DEF(SERVER_REFERENCE, UTF8_STRING, CTX(CONNACK) | CTX(DISCONNECT), 0, RULE_ANY,
        server_reference),
    DEF(REASON_STRING, UTF8_STRING,
        CTX(CONNACK) | CTX_ACKS | CTX(SUBACK) | CTX(UNSUBACK) | CTX(DISCONNECT) | CTX(AUTH), 0,
        RULE_ANY, reason_string),
    DEF(RECEIVE_MAXIMUM, TWO_BYTE_INT, CTX(CONNECT) | CTX(CONNACK), 0, RULE_NONZERO,
        receive_maximum),
    DEF(TOPIC_ALIAS_MAXIMUM, TWO_BYTE_INT, CTX(CONNECT) | CTX(CONNACK), 0, RULE_ANY,
        topic_alias_maximum),
    DEF(TOPIC_ALIAS, TWO_BYTE_INT, CTX(PUBLISH), 0, RULE_TOPIC_ALIAS, topic_alias),
    DEF(MAXIMUM_QOS, BYTE, CTX(CONNACK), 0, RULE_BOOLEAN, maximum_qos),
    DEF(RETAIN_AVAILABLE, BYTE, CTX(CONNACK), 0, RULE_BOOLEAN, retain_available),
    DEF(USER_PROPERTY, UTF8_PAIR, CTX_ALL, CTX_ALL, RULE_ANY, user_properties),
    DEF(MAXIMUM_PACKET_SIZE, FOUR_BYTE_INT, CTX(CONNECT) | CTX(CONNACK), 0, RULE_NONZERO,
        maximum_packet_size),
    DEF(WILDCARD_SUBSCRIPTION_AVAILABLE, BYTE, CTX(CONNACK), 0, RULE_BOOLEAN,
        wildcard_subscription_available),
    DEF(SUBSCRIPTION_IDENTIFIER_AVAILABLE, BYTE, CTX(CONNACK), 0, RULE_BOOLEAN,
        subscription_identifier_available),
    DEF(SHARED_SUBSCRIPTION_AVAILABLE, BYTE, CTX(CONNACK), 0, RULE_BOOLEAN,
        shared_subscription_available),
};

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
        const struct prop_def *d = prop_def(id);
        if (d == NULL) {
            return MQTTPROTO_ERR_UNKNOWN_PROPERTY;
        }
        if ((d->info.contexts & ctx_bit) == 0) {
            return MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED;
        }
        const uint64_t bit = MQTTPROTO_PROP_BIT(id);
        if ((present & bit) != 0 && (d->repeat_contexts & ctx_bit) == 0) {
            return MQTTPROTO_ERR_DUPLICATE_PROPERTY;
        }
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
        case MQTTPROTO_PTYPE_VARIABLE_INT:
            n = wire_get_vbi(p, (size_t)(block_end - p), &v);
            if (n <= 0) {
                return n == 0 ? MQTTPROTO_ERR_TRUNCATED : n;
            }
            p += n;
            if (subid_count++ == 0) {
                *FIELD_PTR(uint32_t, out, d) = v;
            }
            r = check_int_rule(d, v);
            break;
        case MQTTPROTO_PTYPE_UTF8_STRING:
        case MQTTPROTO_PTYPE_BINARY: {
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
        default: { /* MQTTPROTO_PTYPE_UTF8_PAIR: the User Property */
            const uint8_t *name, *value;
            size_t name_len, value_len;
            r = read_lenbytes(&p, block_end, &name, &name_len);
            if (r == 0) {
                r = read_lenbytes(&p, block_end, &value, &value_len);
            }
            if (r != 0) {
                return r;
            }
            /* Both halves are UTF-8 strings [MQTT-1.5.7-1]. */
            r = mqttproto_utf8_validate(name, name_len);
            if (r == 0) {
                r = mqttproto_utf8_validate(value, value_len);
            }
            if (++user_count > max_user_properties && max_user_properties != 0) {
                return MQTTPROTO_ERR_TOO_MANY_PROPERTIES;
            }
            break;
        }
        }
        if (r != 0) {
            return r;
        }
        present |= bit;
    }
    out->present = present;
    out->user_property_count = user_count;
    out->subscription_identifier_count = subid_count;
    return p - start;
}

/* Size of one property's value on the wire. */
static size_t value_size(const struct prop_def *d, const mqttproto_properties *p)
{
    switch (d->info.type) {
    case MQTTPROTO_PTYPE_BYTE:
        return 1;
    case MQTTPROTO_PTYPE_TWO_BYTE_INT:
        return 2;
    case MQTTPROTO_PTYPE_FOUR_BYTE_INT:
        return 4;
    case MQTTPROTO_PTYPE_UTF8_STRING:
        return 2 + CFIELD_PTR(mqttproto_str, p, d)->len;
    case MQTTPROTO_PTYPE_BINARY:
        return 2 + CFIELD_PTR(mqttproto_bin, p, d)->len;
    default:
        return 0; /* the repeatable ones are sized apart */
    }
}

/*
 * Walk the entries of a decoded block, returning the next entry whose id is
 * want: *cursor is a byte offset into wire. Bounds-checked, so a block that
 * was not produced by the decoder cannot make it read out of range.
 */
static bool wire_next_entry(mqttproto_bin wire, size_t *cursor, unsigned want,
                            const uint8_t **value, const uint8_t **value_end)
{
    if (wire.data == NULL || *cursor >= wire.len) {
        return false;
    }
    const uint8_t *p = wire.data + *cursor;
    const uint8_t *end = wire.data + wire.len;
    if (want == MQTTPROTO_PROP_USER_PROPERTY && end - p >= 5 && *p == want) {
        /* Consecutive user properties, the usual layout: no table walk. */
        size_t room = (size_t)(end - p) - 5;
        size_t name_len = wire_get_u16(p + 1);
        if (name_len <= room) {
            size_t value_len = wire_get_u16(p + 3 + name_len);
            if (value_len <= room - name_len) {
                *value = p + 1;
                *value_end = p + 5 + name_len + value_len;
                *cursor = (size_t)(*value_end - wire.data);
                return true;
            }
        }
        return false;
    }
    while (p < end) {
        unsigned id = *p++;
        const struct prop_def *d = prop_def(id);
        if (d == NULL) {
            return false;
        }
        const uint8_t *v = p;
        size_t n;
        uint32_t ignored;
        switch (d->info.type) {
        case MQTTPROTO_PTYPE_BYTE:
        case MQTTPROTO_PTYPE_TWO_BYTE_INT:
        case MQTTPROTO_PTYPE_FOUR_BYTE_INT:
            n = d->info.type == MQTTPROTO_PTYPE_BYTE           ? 1u
                : d->info.type == MQTTPROTO_PTYPE_TWO_BYTE_INT ? 2u
                                                               : 4u;
            break;
        case MQTTPROTO_PTYPE_VARIABLE_INT: {
            int k = wire_get_vbi(p, (size_t)(end - p), &ignored);
            if (k <= 0) {
                return false;
            }
            n = (size_t)k;
            break;
        }
        case MQTTPROTO_PTYPE_UTF8_PAIR:
            if (end - p < 2 || (size_t)(end - p) - 2 < wire_get_u16(p)) {
                return false;
            }
            n = 2u + wire_get_u16(p);
            if ((size_t)(end - p) - n < 2 || (size_t)(end - p) - n - 2 < wire_get_u16(p + n)) {
                return false;
            }
            n += 2u + wire_get_u16(p + n);
            break;
        default:
            if (end - p < 2) {
                return false;
            }
            n = 2u + wire_get_u16(p);
            break;
        }
        if ((size_t)(end - p) < n) {
            return false;
        }
        p += n;
        if (id == want) {
            *value = v;
            *value_end = p;
            *cursor = (size_t)(p - wire.data);
            return true;
        }
    }
    return false;
}

bool mqttproto_user_properties_next(const mqttproto_properties *p, size_t *cursor,
                                    mqttproto_user_property *out)
{
    if (p == NULL || cursor == NULL || out == NULL) {
        return false;
    }
    if (p->user_properties != NULL) {
        if (*cursor >= p->user_property_count) {
            return false;
        }
        *out = p->user_properties[(*cursor)++];
        return true;
    }
    const uint8_t *v, *v_end;
    if (!wire_next_entry(p->wire, cursor, MQTTPROTO_PROP_USER_PROPERTY, &v, &v_end)) {
        return false;
    }
    size_t name_len = wire_get_u16(v);
    out->name.data = (const char *)v + 2;
    out->name.len = name_len;
    out->value.data = (const char *)v + 4 + name_len;
    out->value.len = wire_get_u16(v + 2 + name_len);
    return true;
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
    if (!wire_next_entry(p->wire, cursor, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, &v, &v_end)) {
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

/* The User Properties size on the wire, either form. */
static ptrdiff_t user_properties_size(const mqttproto_properties *p)
{
    size_t total = 0;
    if (p->user_properties != NULL) {
        for (size_t i = 0; i < p->user_property_count; i++) {
            const mqttproto_user_property *up = &p->user_properties[i];
            if (up->name.len > 65535 || up->value.len > 65535) {
                return MQTTPROTO_ERR_STRING_TOO_LONG;
            }
            total += 5 + up->name.len + up->value.len;
        }
        return total > MQTTPROTO_MAX_VARIABLE_INT ? MQTTPROTO_ERR_VALUE_TOO_LARGE
                                                  : (ptrdiff_t)total;
    }
    size_t cursor = 0;
    mqttproto_user_property up;
    size_t seen = 0;
    while (mqttproto_user_properties_next(p, &cursor, &up)) {
        total += 5 + up.name.len + up.value.len;
        seen++;
    }
    if (seen != p->user_property_count) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    return total > MQTTPROTO_MAX_VARIABLE_INT ? MQTTPROTO_ERR_VALUE_TOO_LARGE : (ptrdiff_t)total;
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

ptrdiff_t mqttproto_props_size(const mqttproto_properties *p, int context)
{
    uint64_t present = p->present;
    if (present == 0) {
        return 0;
    }
    const uint32_t ctx_bit = 1u << context;
    size_t total = 0;
    for (uint64_t m = present; m != 0;) {
        unsigned id = next_bit(&m);
        const struct prop_def *d = prop_def(id);
        if (d == NULL) {
            return MQTTPROTO_ERR_UNKNOWN_PROPERTY;
        }
        if ((d->info.contexts & ctx_bit) == 0) {
            return MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED;
        }
        ptrdiff_t extra;
        if (id == MQTTPROTO_PROP_USER_PROPERTY) {
            extra = user_properties_size(p);
        } else if (id == MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER) {
            extra = subscription_identifiers_size(p);
        } else {
            size_t n = value_size(d, p);
            if (n > 65537) {
                return MQTTPROTO_ERR_STRING_TOO_LONG;
            }
            extra = (ptrdiff_t)(1 + n);
        }
        if (extra < 0) {
            return extra;
        }
        total += (size_t)extra;
    }
    if (total > MQTTPROTO_MAX_VARIABLE_INT) {
        return MQTTPROTO_ERR_VALUE_TOO_LARGE;
    }
    return (ptrdiff_t)total;
}

static inline int validate_pair(const mqttproto_user_property *up)
{
    int r = mqttproto_utf8_validate((const uint8_t *)up->name.data, up->name.len);
    if (r == 0) {
        r = mqttproto_utf8_validate((const uint8_t *)up->value.data, up->value.len);
    }
    return r; /* [MQTT-1.5.7-1] */
}

static int validate_user_properties(const mqttproto_properties *p)
{
    if (p->user_properties != NULL) {
        for (size_t i = 0; i < p->user_property_count; i++) {
            int r = validate_pair(&p->user_properties[i]);
            if (r != 0) {
                return r;
            }
        }
        return 0;
    }
    size_t cursor = 0;
    mqttproto_user_property up;
    while (mqttproto_user_properties_next(p, &cursor, &up)) {
        int r = validate_pair(&up);
        if (r != 0) {
            return r;
        }
    }
    return 0;
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

int mqttproto_props_validate(const mqttproto_properties *p, int context)
{
    for (uint64_t m = p->present; m != 0;) {
        unsigned id = next_bit(&m);
        const struct prop_def *d = prop_def(id);
        if (d == NULL) {
            return MQTTPROTO_ERR_UNKNOWN_PROPERTY;
        }
        int r = 0;
        switch (d->info.type) {
        case MQTTPROTO_PTYPE_BYTE:
            r = check_int_rule(d, *CFIELD_PTR(uint8_t, p, d));
            break;
        case MQTTPROTO_PTYPE_TWO_BYTE_INT:
            r = check_int_rule(d, *CFIELD_PTR(uint16_t, p, d));
            break;
        case MQTTPROTO_PTYPE_FOUR_BYTE_INT:
            r = check_int_rule(d, *CFIELD_PTR(uint32_t, p, d));
            break;
        case MQTTPROTO_PTYPE_VARIABLE_INT:
            r = validate_subscription_identifiers(p, context);
            break;
        case MQTTPROTO_PTYPE_UTF8_STRING: {
            const mqttproto_str *s = CFIELD_PTR(mqttproto_str, p, d);
            r = check_string(d, s->data, s->len);
            break;
        }
        case MQTTPROTO_PTYPE_UTF8_PAIR:
            r = validate_user_properties(p);
            break;
        default:
            break;
        }
        if (r != 0) {
            return r;
        }
    }
    return 0;
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
        const struct prop_def *d = prop_def(id);
        if (id == MQTTPROTO_PROP_USER_PROPERTY && p->user_properties != NULL) {
            for (size_t i = 0; i < p->user_property_count; i++) {
                const mqttproto_user_property *up = &p->user_properties[i];
                *out++ = (uint8_t)id;
                out = wire_put_bytes(out, up->name.data, up->name.len);
                out = wire_put_bytes(out, up->value.data, up->value.len);
            }
            continue;
        }
        if (id == MQTTPROTO_PROP_USER_PROPERTY) {
            size_t cursor = 0;
            mqttproto_user_property up;
            while (mqttproto_user_properties_next(p, &cursor, &up)) {
                *out++ = (uint8_t)id;
                out = wire_put_bytes(out, up.name.data, up.name.len);
                out = wire_put_bytes(out, up.value.data, up.value.len);
            }
            continue;
        }
        if (id == MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER) {
            size_t cursor = 0;
            uint32_t v;
            while (mqttproto_subscription_identifiers_next(p, &cursor, &v)) {
                *out++ = (uint8_t)id;
                out = wire_put_vbi(out, v);
            }
            continue;
        }
        *out++ = (uint8_t)id;
        switch (d->info.type) {
        case MQTTPROTO_PTYPE_BYTE:
            *out++ = *CFIELD_PTR(uint8_t, p, d);
            break;
        case MQTTPROTO_PTYPE_TWO_BYTE_INT:
            out = wire_put_u16(out, *CFIELD_PTR(uint16_t, p, d));
            break;
        case MQTTPROTO_PTYPE_FOUR_BYTE_INT:
            out = wire_put_u32(out, *CFIELD_PTR(uint32_t, p, d));
            break;
        case MQTTPROTO_PTYPE_UTF8_STRING: {
            const mqttproto_str *s = CFIELD_PTR(mqttproto_str, p, d);
            out = wire_put_bytes(out, s->data, s->len);
            break;
        }
        default: {
            const mqttproto_bin *b = CFIELD_PTR(mqttproto_bin, p, d);
            out = wire_put_bytes(out, b->data, b->len);
            break;
        }
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
