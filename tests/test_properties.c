/*
 * The property table and the property builder: mqttproto_property_info_get(),
 * mqttproto_property_allowed(), mqttproto_properties_set_*(),
 * mqttproto_properties_has() and the User Property and Subscription
 * Identifier iterators. Expectations come from this file's own copy of the
 * specification's property table (MQTT 5.0 section 2.2.2.2), so a wrong entry
 * in the library's table shows up here.
 */
#include "testutil.h"

#include <limits.h>
#include <stdlib.h>

#define CTX(t)   (1u << MQTTPROTO_PACKET_##t)
#define CTX_WILL (1u << MQTTPROTO_PROPERTY_CONTEXT_WILL)

struct spec_prop {
    int id;
    int type;
    bool repeatable;
    uint32_t contexts;
    const char *name;
};

/* MQTT 5.0 section 2.2.2.2, row by row. */
static const struct spec_prop spec[] = {
    {0x01, MQTTPROTO_PTYPE_BYTE, false, CTX(PUBLISH) | CTX_WILL, "PAYLOAD_FORMAT_INDICATOR"},
    {0x02, MQTTPROTO_PTYPE_FOUR_BYTE_INT, false, CTX(PUBLISH) | CTX_WILL,
     "MESSAGE_EXPIRY_INTERVAL"},
    {0x03, MQTTPROTO_PTYPE_UTF8_STRING, false, CTX(PUBLISH) | CTX_WILL, "CONTENT_TYPE"},
    {0x08, MQTTPROTO_PTYPE_UTF8_STRING, false, CTX(PUBLISH) | CTX_WILL, "RESPONSE_TOPIC"},
    {0x09, MQTTPROTO_PTYPE_BINARY, false, CTX(PUBLISH) | CTX_WILL, "CORRELATION_DATA"},
    {0x0B, MQTTPROTO_PTYPE_VARIABLE_INT, true, CTX(PUBLISH) | CTX(SUBSCRIBE),
     "SUBSCRIPTION_IDENTIFIER"},
    {0x11, MQTTPROTO_PTYPE_FOUR_BYTE_INT, false, CTX(CONNECT) | CTX(CONNACK) | CTX(DISCONNECT),
     "SESSION_EXPIRY_INTERVAL"},
    {0x12, MQTTPROTO_PTYPE_UTF8_STRING, false, CTX(CONNACK), "ASSIGNED_CLIENT_IDENTIFIER"},
    {0x13, MQTTPROTO_PTYPE_TWO_BYTE_INT, false, CTX(CONNACK), "SERVER_KEEP_ALIVE"},
    {0x15, MQTTPROTO_PTYPE_UTF8_STRING, false, CTX(CONNECT) | CTX(CONNACK) | CTX(AUTH),
     "AUTHENTICATION_METHOD"},
    {0x16, MQTTPROTO_PTYPE_BINARY, false, CTX(CONNECT) | CTX(CONNACK) | CTX(AUTH),
     "AUTHENTICATION_DATA"},
    {0x17, MQTTPROTO_PTYPE_BYTE, false, CTX(CONNECT), "REQUEST_PROBLEM_INFORMATION"},
    {0x18, MQTTPROTO_PTYPE_FOUR_BYTE_INT, false, CTX_WILL, "WILL_DELAY_INTERVAL"},
    {0x19, MQTTPROTO_PTYPE_BYTE, false, CTX(CONNECT), "REQUEST_RESPONSE_INFORMATION"},
    {0x1A, MQTTPROTO_PTYPE_UTF8_STRING, false, CTX(CONNACK), "RESPONSE_INFORMATION"},
    {0x1C, MQTTPROTO_PTYPE_UTF8_STRING, false, CTX(CONNACK) | CTX(DISCONNECT), "SERVER_REFERENCE"},
    {0x1F, MQTTPROTO_PTYPE_UTF8_STRING, false,
     CTX(CONNACK) | CTX(PUBACK) | CTX(PUBREC) | CTX(PUBREL) | CTX(PUBCOMP) | CTX(SUBACK) |
         CTX(UNSUBACK) | CTX(DISCONNECT) | CTX(AUTH),
     "REASON_STRING"},
    {0x21, MQTTPROTO_PTYPE_TWO_BYTE_INT, false, CTX(CONNECT) | CTX(CONNACK), "RECEIVE_MAXIMUM"},
    {0x22, MQTTPROTO_PTYPE_TWO_BYTE_INT, false, CTX(CONNECT) | CTX(CONNACK), "TOPIC_ALIAS_MAXIMUM"},
    {0x23, MQTTPROTO_PTYPE_TWO_BYTE_INT, false, CTX(PUBLISH), "TOPIC_ALIAS"},
    {0x24, MQTTPROTO_PTYPE_BYTE, false, CTX(CONNACK), "MAXIMUM_QOS"},
    {0x25, MQTTPROTO_PTYPE_BYTE, false, CTX(CONNACK), "RETAIN_AVAILABLE"},
    {0x26, MQTTPROTO_PTYPE_UTF8_PAIR, true,
     CTX(CONNECT) | CTX(CONNACK) | CTX(PUBLISH) | CTX_WILL | CTX(PUBACK) | CTX(PUBREC) |
         CTX(PUBREL) | CTX(PUBCOMP) | CTX(SUBSCRIBE) | CTX(SUBACK) | CTX(UNSUBSCRIBE) |
         CTX(UNSUBACK) | CTX(DISCONNECT) | CTX(AUTH),
     "USER_PROPERTY"},
    {0x27, MQTTPROTO_PTYPE_FOUR_BYTE_INT, false, CTX(CONNECT) | CTX(CONNACK),
     "MAXIMUM_PACKET_SIZE"},
    {0x28, MQTTPROTO_PTYPE_BYTE, false, CTX(CONNACK), "WILDCARD_SUBSCRIPTION_AVAILABLE"},
    {0x29, MQTTPROTO_PTYPE_BYTE, false, CTX(CONNACK), "SUBSCRIPTION_IDENTIFIER_AVAILABLE"},
    {0x2A, MQTTPROTO_PTYPE_BYTE, false, CTX(CONNACK), "SHARED_SUBSCRIPTION_AVAILABLE"},
};
#define N_SPEC (sizeof spec / sizeof spec[0])

static const struct spec_prop *spec_find(int id)
{
    for (size_t i = 0; i < N_SPEC; i++) {
        if (spec[i].id == id) {
            return &spec[i];
        }
    }
    return NULL;
}

static bool spec_allowed(int id, int context)
{
    const struct spec_prop *sp = spec_find(id);
    return sp != NULL && context >= 1 && context <= MQTTPROTO_PROPERTY_CONTEXT_WILL &&
           (sp->contexts & (1u << context)) != 0;
}

/* The lowest context a property may appear in. */
static int first_context(const struct spec_prop *sp)
{
    for (int c = 1; c <= MQTTPROTO_PROPERTY_CONTEXT_WILL; c++) {
        if ((sp->contexts & (1u << c)) != 0) {
            return c;
        }
    }
    return -1;
}

/* ---- field access by id ---- */

static uint32_t int_field(const mqttproto_properties *p, int id)
{
    switch (id) {
    case MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR:
        return p->payload_format_indicator;
    case MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL:
        return p->message_expiry_interval;
    case MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER:
        return p->subscription_identifier;
    case MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL:
        return p->session_expiry_interval;
    case MQTTPROTO_PROP_SERVER_KEEP_ALIVE:
        return p->server_keep_alive;
    case MQTTPROTO_PROP_REQUEST_PROBLEM_INFORMATION:
        return p->request_problem_information;
    case MQTTPROTO_PROP_WILL_DELAY_INTERVAL:
        return p->will_delay_interval;
    case MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION:
        return p->request_response_information;
    case MQTTPROTO_PROP_RECEIVE_MAXIMUM:
        return p->receive_maximum;
    case MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM:
        return p->topic_alias_maximum;
    case MQTTPROTO_PROP_TOPIC_ALIAS:
        return p->topic_alias;
    case MQTTPROTO_PROP_MAXIMUM_QOS:
        return p->maximum_qos;
    case MQTTPROTO_PROP_RETAIN_AVAILABLE:
        return p->retain_available;
    case MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE:
        return p->maximum_packet_size;
    case MQTTPROTO_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE:
        return p->wildcard_subscription_available;
    case MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE:
        return p->subscription_identifier_available;
    case MQTTPROTO_PROP_SHARED_SUBSCRIPTION_AVAILABLE:
        return p->shared_subscription_available;
    default:
        fail_msg("property 0x%02X is not an integer", id);
        return 0;
    }
}

static mqttproto_str str_field(const mqttproto_properties *p, int id)
{
    switch (id) {
    case MQTTPROTO_PROP_CONTENT_TYPE:
        return p->content_type;
    case MQTTPROTO_PROP_RESPONSE_TOPIC:
        return p->response_topic;
    case MQTTPROTO_PROP_ASSIGNED_CLIENT_IDENTIFIER:
        return p->assigned_client_identifier;
    case MQTTPROTO_PROP_AUTHENTICATION_METHOD:
        return p->authentication_method;
    case MQTTPROTO_PROP_RESPONSE_INFORMATION:
        return p->response_information;
    case MQTTPROTO_PROP_SERVER_REFERENCE:
        return p->server_reference;
    case MQTTPROTO_PROP_REASON_STRING:
        return p->reason_string;
    default:
        fail_msg("property 0x%02X is not a string", id);
        return (mqttproto_str){NULL, 0};
    }
}

static mqttproto_bin bin_field(const mqttproto_properties *p, int id)
{
    if (id == MQTTPROTO_PROP_CORRELATION_DATA) {
        return p->correlation_data;
    }
    if (id == MQTTPROTO_PROP_AUTHENTICATION_DATA) {
        return p->authentication_data;
    }
    fail_msg("property 0x%02X is not binary", id);
    return (mqttproto_bin){NULL, 0};
}

/* ---- setting a valid value of each type ---- */

static const uint8_t sample_bin[] = {0x00, 0xFF, 0xC0, 0xAF};
static const mqttproto_user_property sample_pairs[] = {
    {{"unit", 4}, {"celsius", 7}}, {{"unit", 4}, {"kelvin", 6}}, /* a name may repeat */
};

/* An integer every integer property accepts. */
#define SAMPLE_INT 1u

static int set_valid(mqttproto_properties *p, int context, const struct spec_prop *sp)
{
    switch (sp->type) {
    case MQTTPROTO_PTYPE_UTF8_STRING:
        return mqttproto_properties_set_str(p, context, sp->id, mqttproto_str_from_cstr("a/b"));
    case MQTTPROTO_PTYPE_BINARY:
        return mqttproto_properties_set_bin(p, context, sp->id,
                                            mqttproto_bin_make(sample_bin, sizeof sample_bin));
    case MQTTPROTO_PTYPE_UTF8_PAIR:
        return mqttproto_properties_set_user_properties(p, context, sample_pairs, 2);
    default:
        return mqttproto_properties_set_int(p, context, sp->id, SAMPLE_INT);
    }
}

static void check_valid_value(const mqttproto_properties *p, const struct spec_prop *sp)
{
    assert_true(mqttproto_properties_has(p, sp->id));
    assert_true(p->present == MQTTPROTO_PROP_BIT(sp->id));
    switch (sp->type) {
    case MQTTPROTO_PTYPE_UTF8_STRING: {
        mqttproto_str s = str_field(p, sp->id);
        assert_int_equal(s.len, 3);
        assert_memory_equal(s.data, "a/b", 3);
        break;
    }
    case MQTTPROTO_PTYPE_BINARY: {
        mqttproto_bin b = bin_field(p, sp->id);
        assert_ptr_equal(b.data, sample_bin);
        assert_int_equal(b.len, sizeof sample_bin);
        break;
    }
    case MQTTPROTO_PTYPE_UTF8_PAIR:
        assert_ptr_equal(p->user_properties, sample_pairs);
        assert_int_equal(p->user_property_count, 2);
        break;
    default:
        assert_int_equal(int_field(p, sp->id), SAMPLE_INT);
        break;
    }
}

/* Properties are unchanged by a failed call: compare with a snapshot. */
#define ASSERT_UNCHANGED(p, snap) assert_memory_equal(&(p), &(snap), sizeof(p))

/* ---- the table ---- */

static void test_info_every_id(void **state)
{
    (void)state;
    for (int id = -3; id <= 300; id++) {
        const mqttproto_property_info *info = mqttproto_property_info_get(id);
        const struct spec_prop *sp = spec_find(id);
        if (sp == NULL) {
            if (info != NULL) {
                fail_msg("id %d is not a property but has info", id);
            }
            assert_string_equal(mqttproto_property_name(id), "UNKNOWN");
            continue;
        }
        if (info == NULL) {
            fail_msg("property 0x%02X has no info", id);
        }
        assert_int_equal(info->id, id);
        assert_int_equal(info->type, sp->type);
        if (info->repeatable != sp->repeatable) {
            fail_msg("property 0x%02X: repeatable %d", id, info->repeatable);
        }
        if (info->contexts != sp->contexts) {
            fail_msg("property 0x%02X: contexts 0x%05X, expected 0x%05X", id, info->contexts,
                     sp->contexts);
        }
        assert_string_equal(info->name, sp->name);
        assert_string_equal(mqttproto_property_name(id), sp->name);
    }
    assert_null(mqttproto_property_info_get(INT_MIN));
    assert_null(mqttproto_property_info_get(INT_MAX));
}

static void test_info_count(void **state)
{
    (void)state;
    size_t n = 0;
    for (int id = 0; id < 256; id++) {
        n += mqttproto_property_info_get(id) != NULL ? 1u : 0u;
    }
    assert_int_equal(n, 27);
    assert_int_equal(N_SPEC, 27);
}

static void test_allowed_matrix(void **state)
{
    (void)state;
    for (int id = -1; id <= 130; id++) {
        for (int ctx = -1; ctx <= 20; ctx++) {
            bool got = mqttproto_property_allowed(id, ctx);
            if (got != spec_allowed(id, ctx)) {
                fail_msg("property %d in context %d: allowed %d", id, ctx, got);
            }
        }
        assert_false(mqttproto_property_allowed(id, 32));
        assert_false(mqttproto_property_allowed(id, INT_MAX));
        assert_false(mqttproto_property_allowed(id, INT_MIN));
    }
}

/* ---- the builder ---- */

static void test_builder_every_context(void **state)
{
    (void)state;
    static const int extra_contexts[] = {-1, 0, 17, 31, 32, 100};
    for (size_t i = 0; i < N_SPEC; i++) {
        const struct spec_prop *sp = &spec[i];
        for (int k = 0; k < 17 + 6; k++) {
            int ctx = k < 17 ? k : extra_contexts[k - 17];
            mqttproto_properties p, snap;
            mqttproto_properties_init(&p);
            memcpy(&snap, &p, sizeof p);
            int r = set_valid(&p, ctx, sp);
            if (spec_allowed(sp->id, ctx)) {
                if (r != 0) {
                    fail_msg("%s in context %d: %s", sp->name, ctx, mqttproto_err_name(r));
                }
                check_valid_value(&p, sp);
            } else {
                if (r != MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED) {
                    fail_msg("%s in context %d: %s", sp->name, ctx, mqttproto_err_name(r));
                }
                ASSERT_UNCHANGED(p, snap);
            }
        }
    }
}

static void test_builder_unknown_ids(void **state)
{
    (void)state;
    static const int ids[] = {0,  4,  5,  6,  7,  10, 12,  13,  14,  15,  16, 20,      27,     29,
                              30, 32, 43, 44, 63, 64, 127, 128, 255, 256, -1, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        mqttproto_properties p, snap;
        mqttproto_properties_init(&p);
        memcpy(&snap, &p, sizeof p);
        assert_int_equal(mqttproto_properties_set_int(&p, MQTTPROTO_PACKET_PUBLISH, ids[i], 1),
                         MQTTPROTO_ERR_UNKNOWN_PROPERTY);
        assert_int_equal(mqttproto_properties_set_str(&p, MQTTPROTO_PACKET_PUBLISH, ids[i],
                                                      mqttproto_str_from_cstr("x")),
                         MQTTPROTO_ERR_UNKNOWN_PROPERTY);
        assert_int_equal(mqttproto_properties_set_bin(&p, MQTTPROTO_PACKET_PUBLISH, ids[i],
                                                      mqttproto_bin_make("x", 1)),
                         MQTTPROTO_ERR_UNKNOWN_PROPERTY);
        ASSERT_UNCHANGED(p, snap);
    }
}

static void test_builder_wrong_type(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SPEC; i++) {
        const struct spec_prop *sp = &spec[i];
        int ctx = first_context(sp);
        bool is_int =
            sp->type == MQTTPROTO_PTYPE_BYTE || sp->type == MQTTPROTO_PTYPE_TWO_BYTE_INT ||
            sp->type == MQTTPROTO_PTYPE_FOUR_BYTE_INT || sp->type == MQTTPROTO_PTYPE_VARIABLE_INT;
        mqttproto_properties p, snap;
        mqttproto_properties_init(&p);
        memcpy(&snap, &p, sizeof p);
        if (!is_int) {
            assert_int_equal(mqttproto_properties_set_int(&p, ctx, sp->id, 1),
                             MQTTPROTO_ERR_INVALID_ARGUMENT);
        }
        if (sp->type != MQTTPROTO_PTYPE_UTF8_STRING) {
            assert_int_equal(
                mqttproto_properties_set_str(&p, ctx, sp->id, mqttproto_str_from_cstr("x")),
                MQTTPROTO_ERR_INVALID_ARGUMENT);
        }
        if (sp->type != MQTTPROTO_PTYPE_BINARY) {
            assert_int_equal(
                mqttproto_properties_set_bin(&p, ctx, sp->id, mqttproto_bin_make("x", 1)),
                MQTTPROTO_ERR_INVALID_ARGUMENT);
        }
        ASSERT_UNCHANGED(p, snap);
    }
}

static void test_builder_duplicates(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SPEC; i++) {
        const struct spec_prop *sp = &spec[i];
        int ctx = first_context(sp);
        mqttproto_properties p, snap;
        mqttproto_properties_init(&p);
        assert_int_equal(set_valid(&p, ctx, sp), 0);
        memcpy(&snap, &p, sizeof p);
        int r = set_valid(&p, ctx, sp);
        if (r != MQTTPROTO_ERR_DUPLICATE_PROPERTY) {
            fail_msg("%s set twice: %s", sp->name, mqttproto_err_name(r));
        }
        ASSERT_UNCHANGED(p, snap);
    }

    /* One Subscription Identifier in a PUBLISH, then a list, and the reverse. */
    static const uint32_t ids[] = {7, 9};
    mqttproto_properties p, snap;
    mqttproto_properties_init(&p);
    assert_int_equal(mqttproto_properties_set_int(&p, MQTTPROTO_PACKET_PUBLISH,
                                                  MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, 3),
                     0);
    memcpy(&snap, &p, sizeof p);
    assert_int_equal(
        mqttproto_properties_set_subscription_identifiers(&p, MQTTPROTO_PACKET_PUBLISH, ids, 2),
        MQTTPROTO_ERR_DUPLICATE_PROPERTY);
    ASSERT_UNCHANGED(p, snap);

    mqttproto_properties_init(&p);
    assert_int_equal(
        mqttproto_properties_set_subscription_identifiers(&p, MQTTPROTO_PACKET_PUBLISH, ids, 2), 0);
    memcpy(&snap, &p, sizeof p);
    assert_int_equal(mqttproto_properties_set_int(&p, MQTTPROTO_PACKET_PUBLISH,
                                                  MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, 3),
                     MQTTPROTO_ERR_DUPLICATE_PROPERTY);
    assert_int_equal(
        mqttproto_properties_set_subscription_identifiers(&p, MQTTPROTO_PACKET_PUBLISH, ids, 1),
        MQTTPROTO_ERR_DUPLICATE_PROPERTY);
    ASSERT_UNCHANGED(p, snap);
}

struct int_case {
    int id;
    int context;
    uint32_t value;
    int expected;
};

static void test_builder_int_ranges(void **state)
{
    (void)state;
    enum {
        CONNECT = MQTTPROTO_PACKET_CONNECT,
        CONNACK = MQTTPROTO_PACKET_CONNACK,
        PUBLISH = MQTTPROTO_PACKET_PUBLISH,
        SUBSCRIBE = MQTTPROTO_PACKET_SUBSCRIBE,
        WILL = MQTTPROTO_PROPERTY_CONTEXT_WILL,
        BAD = MQTTPROTO_ERR_INVALID_PROPERTY_VALUE
    };
    static const struct int_case cases[] = {
        /* Bytes that are 0 or 1 only. */
        {MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR, PUBLISH, 0, 0},
        {MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR, WILL, 1, 0},
        {MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR, PUBLISH, 2, BAD},
        {MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR, PUBLISH, 255, BAD},
        {MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR, PUBLISH, 256, BAD},
        {MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR, PUBLISH, 0xFFFFFFFFu, BAD},
        {MQTTPROTO_PROP_REQUEST_PROBLEM_INFORMATION, CONNECT, 0, 0},
        {MQTTPROTO_PROP_REQUEST_PROBLEM_INFORMATION, CONNECT, 2, BAD},
        {MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION, CONNECT, 1, 0},
        {MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION, CONNECT, 2, BAD},
        {MQTTPROTO_PROP_MAXIMUM_QOS, CONNACK, 0, 0},
        {MQTTPROTO_PROP_MAXIMUM_QOS, CONNACK, 1, 0},
        {MQTTPROTO_PROP_MAXIMUM_QOS, CONNACK, 2, BAD},
        {MQTTPROTO_PROP_RETAIN_AVAILABLE, CONNACK, 0, 0},
        {MQTTPROTO_PROP_RETAIN_AVAILABLE, CONNACK, 2, BAD},
        {MQTTPROTO_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE, CONNACK, 1, 0},
        {MQTTPROTO_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE, CONNACK, 2, BAD},
        {MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE, CONNACK, 0, 0},
        {MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE, CONNACK, 7, BAD},
        {MQTTPROTO_PROP_SHARED_SUBSCRIPTION_AVAILABLE, CONNACK, 1, 0},
        {MQTTPROTO_PROP_SHARED_SUBSCRIPTION_AVAILABLE, CONNACK, 128, BAD},
        /* Two-byte integers. */
        {MQTTPROTO_PROP_RECEIVE_MAXIMUM, CONNECT, 0, BAD},
        {MQTTPROTO_PROP_RECEIVE_MAXIMUM, CONNECT, 1, 0},
        {MQTTPROTO_PROP_RECEIVE_MAXIMUM, CONNACK, 65535, 0},
        {MQTTPROTO_PROP_RECEIVE_MAXIMUM, CONNACK, 65536, BAD},
        {MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM, CONNECT, 0, 0},
        {MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM, CONNACK, 65535, 0},
        {MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM, CONNACK, 65536, BAD},
        {MQTTPROTO_PROP_SERVER_KEEP_ALIVE, CONNACK, 0, 0},
        {MQTTPROTO_PROP_SERVER_KEEP_ALIVE, CONNACK, 65535, 0},
        {MQTTPROTO_PROP_SERVER_KEEP_ALIVE, CONNACK, 0x10000, BAD},
        {MQTTPROTO_PROP_TOPIC_ALIAS, PUBLISH, 0, MQTTPROTO_ERR_TOPIC_ALIAS_INVALID},
        {MQTTPROTO_PROP_TOPIC_ALIAS, PUBLISH, 1, 0},
        {MQTTPROTO_PROP_TOPIC_ALIAS, PUBLISH, 65535, 0},
        {MQTTPROTO_PROP_TOPIC_ALIAS, PUBLISH, 65536, BAD},
        /* Four-byte integers: any value except a Maximum Packet Size of 0. */
        {MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, PUBLISH, 0, 0},
        {MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, WILL, 0xFFFFFFFFu, 0},
        {MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL, CONNECT, 0xFFFFFFFFu, 0},
        {MQTTPROTO_PROP_WILL_DELAY_INTERVAL, WILL, 0, 0},
        {MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE, CONNECT, 0, BAD},
        {MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE, CONNACK, 1, 0},
        {MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE, CONNACK, 0xFFFFFFFFu, 0},
        /* Subscription Identifier: 1 to 268,435,455. */
        {MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, SUBSCRIBE, 0, BAD},
        {MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, SUBSCRIBE, 1, 0},
        {MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, PUBLISH, 268435455u, 0},
        {MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, SUBSCRIBE, 268435456u, BAD},
        {MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, PUBLISH, 0xFFFFFFFFu, BAD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct int_case *c = &cases[i];
        mqttproto_properties p, snap;
        mqttproto_properties_init(&p);
        memcpy(&snap, &p, sizeof p);
        int r = mqttproto_properties_set_int(&p, c->context, c->id, c->value);
        if (r != c->expected) {
            fail_msg("property 0x%02X = %u: got %s, expected %s", c->id, c->value,
                     mqttproto_err_name(r), mqttproto_err_name(c->expected));
        }
        if (r == 0) {
            assert_int_equal(int_field(&p, c->id), c->value);
            assert_true(mqttproto_properties_has(&p, c->id));
        } else {
            ASSERT_UNCHANGED(p, snap);
        }
    }
}

static void test_builder_response_topic(void **state)
{
    (void)state;
    static const char *const bad[] = {"+", "#", "a/+", "a/#", "a/+/b", "a+b", "#/a"};
    static const int contexts[] = {MQTTPROTO_PACKET_PUBLISH, MQTTPROTO_PROPERTY_CONTEXT_WILL};
    for (size_t c = 0; c < 2; c++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            mqttproto_properties p, snap;
            mqttproto_properties_init(&p);
            memcpy(&snap, &p, sizeof p);
            /* [MQTT-3.3.2-14] */
            assert_int_equal(mqttproto_properties_set_str(&p, contexts[c],
                                                          MQTTPROTO_PROP_RESPONSE_TOPIC,
                                                          mqttproto_str_from_cstr(bad[i])),
                             MQTTPROTO_ERR_TOPIC_NAME_INVALID);
            ASSERT_UNCHANGED(p, snap);
        }
        mqttproto_properties p;
        mqttproto_properties_init(&p);
        assert_int_equal(mqttproto_properties_set_str(&p, contexts[c],
                                                      MQTTPROTO_PROP_RESPONSE_TOPIC,
                                                      mqttproto_str_from_cstr("reply/to/me")),
                         0);
    }
}

/* Strings that are not UTF-8 Encoded Strings, with the error each gives. */
static const struct {
    const char *bytes;
    size_t len;
    int expected;
} bad_strings[] = {
    {"\xC0\xAF", 2, MQTTPROTO_ERR_INVALID_UTF8},         /* overlong */
    {"a\xED\xA0\x80", 4, MQTTPROTO_ERR_INVALID_UTF8},    /* surrogate */
    {"\xF4\x90\x80\x80", 4, MQTTPROTO_ERR_INVALID_UTF8}, /* past U+10FFFF */
    {"abc\xE2\x82", 5, MQTTPROTO_ERR_INVALID_UTF8},      /* truncated */
    {"\xFF", 1, MQTTPROTO_ERR_INVALID_UTF8},
    {"a\0b", 3, MQTTPROTO_ERR_UTF8_NULL_CHARACTER},
    {"\0", 1, MQTTPROTO_ERR_UTF8_NULL_CHARACTER},
};
#define N_BAD_STRINGS (sizeof bad_strings / sizeof bad_strings[0])

static void test_builder_bad_utf8(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SPEC; i++) {
        const struct spec_prop *sp = &spec[i];
        int ctx = first_context(sp);
        for (size_t k = 0; k < N_BAD_STRINGS; k++) {
            mqttproto_properties p, snap;
            mqttproto_properties_init(&p);
            memcpy(&snap, &p, sizeof p);
            mqttproto_str s = {bad_strings[k].bytes, bad_strings[k].len};
            int r;
            if (sp->type == MQTTPROTO_PTYPE_UTF8_STRING) {
                /* [MQTT-1.5.4-1] [MQTT-1.5.4-2] [MQTT-3.3.2-13] [MQTT-3.3.2-19] */
                r = mqttproto_properties_set_str(&p, ctx, sp->id, s);
                assert_int_equal(r, bad_strings[k].expected);
                ASSERT_UNCHANGED(p, snap);
            } else if (sp->type == MQTTPROTO_PTYPE_BINARY) {
                /* Binary Data is not UTF-8: the same bytes are fine. */
                r = mqttproto_properties_set_bin(&p, ctx, sp->id,
                                                 mqttproto_bin_make(s.data, s.len));
                assert_int_equal(r, 0);
            } else if (sp->type == MQTTPROTO_PTYPE_UTF8_PAIR) {
                /* Both halves of a pair are UTF-8 strings [MQTT-1.5.7-1]. */
                mqttproto_user_property pairs[2] = {{{"ok", 2}, {"fine", 4}}, {s, {"v", 1}}};
                r = mqttproto_properties_set_user_properties(&p, ctx, pairs, 2);
                assert_int_equal(r, bad_strings[k].expected);
                ASSERT_UNCHANGED(p, snap);
                pairs[1].name = (mqttproto_str){"n", 1};
                pairs[1].value = s;
                r = mqttproto_properties_set_user_properties(&p, ctx, pairs, 2);
                assert_int_equal(r, bad_strings[k].expected);
                ASSERT_UNCHANGED(p, snap);
            }
        }
    }
}

static char big[65536];

static void test_builder_too_long(void **state)
{
    (void)state;
    memset(big, 'a', sizeof big);
    mqttproto_str longest = {big, 65535};
    mqttproto_str too_long = {big, 65536};
    for (size_t i = 0; i < N_SPEC; i++) {
        const struct spec_prop *sp = &spec[i];
        int ctx = first_context(sp);
        mqttproto_properties p, snap;
        mqttproto_properties_init(&p);
        memcpy(&snap, &p, sizeof p);
        if (sp->type == MQTTPROTO_PTYPE_UTF8_STRING) {
            assert_int_equal(mqttproto_properties_set_str(&p, ctx, sp->id, too_long),
                             MQTTPROTO_ERR_STRING_TOO_LONG);
            ASSERT_UNCHANGED(p, snap);
            assert_int_equal(mqttproto_properties_set_str(&p, ctx, sp->id, longest), 0);
            assert_int_equal(str_field(&p, sp->id).len, 65535);
        } else if (sp->type == MQTTPROTO_PTYPE_BINARY) {
            assert_int_equal(
                mqttproto_properties_set_bin(&p, ctx, sp->id, mqttproto_bin_make(big, 65536)),
                MQTTPROTO_ERR_STRING_TOO_LONG);
            ASSERT_UNCHANGED(p, snap);
            assert_int_equal(
                mqttproto_properties_set_bin(&p, ctx, sp->id, mqttproto_bin_make(big, 65535)), 0);
        } else if (sp->type == MQTTPROTO_PTYPE_UTF8_PAIR) {
            mqttproto_user_property pair = {too_long, {"v", 1}};
            assert_int_equal(mqttproto_properties_set_user_properties(&p, ctx, &pair, 1),
                             MQTTPROTO_ERR_STRING_TOO_LONG);
            pair = (mqttproto_user_property){{"n", 1}, too_long};
            assert_int_equal(mqttproto_properties_set_user_properties(&p, ctx, &pair, 1),
                             MQTTPROTO_ERR_STRING_TOO_LONG);
            ASSERT_UNCHANGED(p, snap);
            pair = (mqttproto_user_property){longest, longest};
            assert_int_equal(mqttproto_properties_set_user_properties(&p, ctx, &pair, 1), 0);
        }
    }
}

static void test_builder_null_arguments(void **state)
{
    (void)state;
    const int pub = MQTTPROTO_PACKET_PUBLISH;
    static const uint32_t ids[] = {1};
    static const mqttproto_user_property pair = {{"a", 1}, {"b", 1}};
    assert_int_equal(
        mqttproto_properties_set_int(NULL, pub, MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, 1),
        MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(mqttproto_properties_set_str(NULL, pub, MQTTPROTO_PROP_CONTENT_TYPE,
                                                  mqttproto_str_from_cstr("x")),
                     MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(mqttproto_properties_set_bin(NULL, pub, MQTTPROTO_PROP_CORRELATION_DATA,
                                                  mqttproto_bin_make("x", 1)),
                     MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(mqttproto_properties_set_user_properties(NULL, pub, &pair, 1),
                     MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(mqttproto_properties_set_subscription_identifiers(NULL, pub, ids, 1),
                     MQTTPROTO_ERR_INVALID_ARGUMENT);
    mqttproto_properties_init(NULL); /* must not crash */

    mqttproto_properties p, snap;
    mqttproto_properties_init(&p);
    memcpy(&snap, &p, sizeof p);
    mqttproto_str no_data = {NULL, 3};
    assert_int_equal(mqttproto_properties_set_str(&p, pub, MQTTPROTO_PROP_CONTENT_TYPE, no_data),
                     MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(mqttproto_properties_set_bin(&p, pub, MQTTPROTO_PROP_CORRELATION_DATA,
                                                  mqttproto_bin_make(NULL, 2)),
                     MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(mqttproto_properties_set_user_properties(&p, pub, NULL, 2),
                     MQTTPROTO_ERR_INVALID_ARGUMENT);
    mqttproto_user_property holes[2] = {{{"a", 1}, {"b", 1}}, {{NULL, 1}, {"b", 1}}};
    assert_int_equal(mqttproto_properties_set_user_properties(&p, pub, holes, 2),
                     MQTTPROTO_ERR_INVALID_ARGUMENT);
    holes[1] = (mqttproto_user_property){{"a", 1}, {NULL, 4}};
    assert_int_equal(mqttproto_properties_set_user_properties(&p, pub, holes, 2),
                     MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(mqttproto_properties_set_subscription_identifiers(&p, pub, NULL, 2),
                     MQTTPROTO_ERR_INVALID_ARGUMENT);
    ASSERT_UNCHANGED(p, snap);

    /* An empty string needs no bytes behind it. */
    mqttproto_str empty = {NULL, 0};
    assert_int_equal(mqttproto_properties_set_str(&p, pub, MQTTPROTO_PROP_CONTENT_TYPE, empty), 0);
    assert_true(mqttproto_properties_has(&p, MQTTPROTO_PROP_CONTENT_TYPE));
    assert_int_equal(p.content_type.len, 0);
    assert_int_equal(mqttproto_properties_set_bin(&p, pub, MQTTPROTO_PROP_CORRELATION_DATA,
                                                  mqttproto_bin_make(NULL, 0)),
                     0);
}

static void test_builder_empty_lists(void **state)
{
    (void)state;
    mqttproto_properties p, snap;
    mqttproto_properties_init(&p);
    memcpy(&snap, &p, sizeof p);
    static const mqttproto_user_property pair = {{"a", 1}, {"b", 1}};
    static const uint32_t ids[] = {1};
    /* Attaching nothing sets nothing, so a later list is no duplicate. */
    assert_int_equal(
        mqttproto_properties_set_user_properties(&p, MQTTPROTO_PACKET_CONNECT, NULL, 0), 0);
    assert_int_equal(
        mqttproto_properties_set_subscription_identifiers(&p, MQTTPROTO_PACKET_PUBLISH, NULL, 0),
        0);
    ASSERT_UNCHANGED(p, snap);
    assert_false(mqttproto_properties_has(&p, MQTTPROTO_PROP_USER_PROPERTY));
    assert_int_equal(
        mqttproto_properties_set_user_properties(&p, MQTTPROTO_PACKET_CONNECT, &pair, 1), 0);
    assert_int_equal(
        mqttproto_properties_set_subscription_identifiers(&p, MQTTPROTO_PACKET_PUBLISH, ids, 1), 0);
}

static void test_builder_subscription_identifiers(void **state)
{
    (void)state;
    static const uint32_t good[] = {1, 268435455u, 42};
    static const uint32_t zero[] = {5, 0};
    static const uint32_t huge[] = {268435456u};
    mqttproto_properties p, snap;
    mqttproto_properties_init(&p);
    memcpy(&snap, &p, sizeof p);

    /* A list only in a PUBLISH; a SUBSCRIBE carries one at most. */
    static const int not_publish[] = {MQTTPROTO_PACKET_SUBSCRIBE, MQTTPROTO_PACKET_CONNECT,
                                      MQTTPROTO_PROPERTY_CONTEXT_WILL, 0, 17};
    for (size_t i = 0; i < sizeof not_publish / sizeof not_publish[0]; i++) {
        assert_int_equal(
            mqttproto_properties_set_subscription_identifiers(&p, not_publish[i], good, 3),
            MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED);
    }
    assert_int_equal(
        mqttproto_properties_set_subscription_identifiers(&p, MQTTPROTO_PACKET_PUBLISH, zero, 2),
        MQTTPROTO_ERR_INVALID_PROPERTY_VALUE);
    assert_int_equal(
        mqttproto_properties_set_subscription_identifiers(&p, MQTTPROTO_PACKET_PUBLISH, huge, 1),
        MQTTPROTO_ERR_INVALID_PROPERTY_VALUE);
    ASSERT_UNCHANGED(p, snap);

    assert_int_equal(
        mqttproto_properties_set_subscription_identifiers(&p, MQTTPROTO_PACKET_PUBLISH, good, 3),
        0);
    assert_true(mqttproto_properties_has(&p, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER));
    assert_int_equal(p.subscription_identifier_count, 3);
    assert_int_equal(p.subscription_identifier, 1);
    size_t cursor = 0;
    uint32_t v;
    for (size_t i = 0; i < 3; i++) {
        assert_true(mqttproto_subscription_identifiers_next(&p, &cursor, &v));
        assert_int_equal(v, good[i]);
    }
    assert_false(mqttproto_subscription_identifiers_next(&p, &cursor, &v));
}

static void test_properties_has(void **state)
{
    (void)state;
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    for (int id = -1; id < 70; id++) {
        assert_false(mqttproto_properties_has(&p, id));
    }
    assert_int_equal(mqttproto_properties_set_str(&p, MQTTPROTO_PACKET_PUBLISH,
                                                  MQTTPROTO_PROP_CONTENT_TYPE,
                                                  mqttproto_str_from_cstr("text/plain")),
                     0);
    assert_int_equal(
        mqttproto_properties_set_int(&p, MQTTPROTO_PACKET_PUBLISH, MQTTPROTO_PROP_TOPIC_ALIAS, 3),
        0);
    for (int id = -1; id < 70; id++) {
        bool want = id == MQTTPROTO_PROP_CONTENT_TYPE || id == MQTTPROTO_PROP_TOPIC_ALIAS;
        assert_int_equal(mqttproto_properties_has(&p, id), want);
    }
    /* Ids outside 1..63 are never present, whatever the bits say. */
    p.present = ~(uint64_t)0;
    assert_false(mqttproto_properties_has(&p, 0));
    assert_false(mqttproto_properties_has(&p, 64));
    assert_false(mqttproto_properties_has(&p, -1));
    assert_false(mqttproto_properties_has(&p, INT_MAX));
    assert_true(mqttproto_properties_has(&p, 63));
}

/* ---- iterators ---- */

static void test_user_properties_iterator_hand_built(void **state)
{
    (void)state;
    static const mqttproto_user_property items[] = {
        {{"a", 1}, {"1", 1}},
        {{"b", 1}, {"", 0}},
        {{"a", 1}, {"3", 1}},
    };
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    assert_int_equal(
        mqttproto_properties_set_user_properties(&p, MQTTPROTO_PACKET_DISCONNECT, items, 3), 0);
    size_t cursor = 0;
    mqttproto_user_property up;
    for (size_t i = 0; i < 3; i++) {
        assert_true(mqttproto_user_properties_next(&p, &cursor, &up));
        assert_ptr_equal(up.name.data, items[i].name.data);
        assert_int_equal(up.name.len, items[i].name.len);
        assert_ptr_equal(up.value.data, items[i].value.data);
        assert_int_equal(up.value.len, items[i].value.len);
    }
    assert_false(mqttproto_user_properties_next(&p, &cursor, &up));
    assert_false(mqttproto_user_properties_next(&p, &cursor, &up));

    assert_false(mqttproto_user_properties_next(NULL, &cursor, &up));
    cursor = 0;
    assert_false(mqttproto_user_properties_next(&p, NULL, &up));
    assert_false(mqttproto_user_properties_next(&p, &cursor, NULL));
    uint32_t v;
    assert_false(mqttproto_subscription_identifiers_next(NULL, &cursor, &v));
}

static void test_subscription_identifier_iterator_single(void **state)
{
    (void)state;
    /* One identifier set through set_int is read back by the iterator. */
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    assert_int_equal(mqttproto_properties_set_int(&p, MQTTPROTO_PACKET_SUBSCRIBE,
                                                  MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, 777),
                     0);
    size_t cursor = 0;
    uint32_t v = 0;
    assert_true(mqttproto_subscription_identifiers_next(&p, &cursor, &v));
    assert_int_equal(v, 777);
    assert_false(mqttproto_subscription_identifiers_next(&p, &cursor, &v));
    assert_int_equal(p.subscription_identifier_count, 1);
}

static void test_iterators_on_decoded(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* PUBLISH QoS 1, topic "t", id 1; properties in wire order:
       user (a,1), message expiry 3600, user (b,""), subscription id 5,
       subscription id 128, user ("",c), content type "x"; payload "P". */
    const char *hex = "32 28 0001 74 0001"
                      "21"
                      "26 0001 61 0001 31"
                      "02 00000E10"
                      "26 0001 62 0000"
                      "0B 05"
                      "0B 8001"
                      "26 0000 0001 63"
                      "03 0001 78"
                      "50";
    assert_int_equal(tu_decode_hex(hex, &pkt), 42);
    const mqttproto_properties *p = &pkt.publish.properties;
    assert_int_equal(p->user_property_count, 3);
    assert_int_equal(p->subscription_identifier_count, 2);
    assert_int_equal(p->message_expiry_interval, 3600);
    assert_true(mqttproto_properties_has(p, MQTTPROTO_PROP_USER_PROPERTY));
    assert_true(mqttproto_properties_has(p, MQTTPROTO_PROP_CONTENT_TYPE));
    assert_false(mqttproto_properties_has(p, MQTTPROTO_PROP_TOPIC_ALIAS));

    static const char *const names[] = {"a", "b", ""};
    static const char *const values[] = {"1", "", "c"};
    size_t cursor = 0;
    mqttproto_user_property up;
    for (size_t i = 0; i < 3; i++) {
        assert_true(mqttproto_user_properties_next(p, &cursor, &up));
        assert_int_equal(up.name.len, strlen(names[i]));
        assert_memory_equal(up.name.data, names[i], up.name.len);
        assert_int_equal(up.value.len, strlen(values[i]));
        assert_memory_equal(up.value.data, values[i], up.value.len);
    }
    assert_false(mqttproto_user_properties_next(p, &cursor, &up));

    cursor = 0;
    uint32_t v;
    assert_true(mqttproto_subscription_identifiers_next(p, &cursor, &v));
    assert_int_equal(v, 5);
    assert_true(mqttproto_subscription_identifiers_next(p, &cursor, &v));
    assert_int_equal(v, 128);
    assert_false(mqttproto_subscription_identifiers_next(p, &cursor, &v));
    assert_int_equal(pkt.publish.payload.len, 1);

    /* A decoded block without either list. */
    assert_int_equal(tu_decode_hex("E0 07 00 05 11 00000001", &pkt), 9);
    cursor = 0;
    assert_false(mqttproto_user_properties_next(&pkt.disconnect.properties, &cursor, &up));
    cursor = 0;
    assert_false(mqttproto_subscription_identifiers_next(&pkt.disconnect.properties, &cursor, &v));

    /* A decoded SUBSCRIBE with its one identifier. */
    assert_int_equal(tu_decode_hex("82 0A 0001 03 0B FF7F 0001 74 01", &pkt), 12);
    cursor = 0;
    assert_true(mqttproto_subscription_identifiers_next(&pkt.subscribe.properties, &cursor, &v));
    assert_int_equal(v, 16383);
    assert_false(mqttproto_subscription_identifiers_next(&pkt.subscribe.properties, &cursor, &v));
}

static void test_built_properties_encode(void **state)
{
    (void)state;
    /* What the builder accepts, the encoder writes and the decoder reads. */
    static const mqttproto_user_property pairs[] = {{{"k", 1}, {"v", 1}}};
    static const uint32_t ids[] = {3, 200};
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_PUBLISH;
    pkt.publish.topic = mqttproto_str_from_cstr("t");
    mqttproto_properties *p = &pkt.publish.properties;
    mqttproto_properties_init(p);
    const int ctx = MQTTPROTO_PACKET_PUBLISH;
    assert_int_equal(
        mqttproto_properties_set_int(p, ctx, MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR, 1), 0);
    assert_int_equal(mqttproto_properties_set_str(p, ctx, MQTTPROTO_PROP_RESPONSE_TOPIC,
                                                  mqttproto_str_from_cstr("r")),
                     0);
    assert_int_equal(mqttproto_properties_set_user_properties(p, ctx, pairs, 1), 0);
    assert_int_equal(mqttproto_properties_set_subscription_identifiers(p, ctx, ids, 2), 0);
    uint8_t buf[64];
    ptrdiff_t n = mqttproto_encode(&pkt, NULL, buf, sizeof buf);
    /* 30 LL | 0001 74 | 10 | 01 01 | 08 0001 72 | 0B 03 | 0B C8 01 | 26 0001 6B 0001 76 */
    size_t len;
    uint8_t *want = tu_hex("30 16 0001 74 12 0101 08000172 0B03 0BC801 26 00016B 000176", &len);
    assert_int_equal(n, (ptrdiff_t)len);
    assert_memory_equal(buf, want, len);
    free(want);
}

/*
 * Views of length 0 may have a NULL data pointer (common.h), and properties
 * fresh from mqttproto_properties_init() or from a short-form acknowledgement
 * have no wire block at all. Reading or setting them must not do arithmetic
 * on NULL or pass NULL to memchr(): the sanitizer build checks that. Last in
 * the list, as an undefined-behaviour report ends the program.
 */
static void test_empty_views_without_data(void **state)
{
    (void)state;
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    size_t cursor = 0;
    mqttproto_user_property up;
    uint32_t v;
    assert_false(mqttproto_user_properties_next(&p, &cursor, &up));
    cursor = 0;
    assert_false(mqttproto_subscription_identifiers_next(&p, &cursor, &v));

    /* A PUBACK of remaining length 2 and a DISCONNECT of 0 carry no block. */
    mqttproto_packet pkt;
    assert_int_equal(tu_decode_hex("40 02 00 01", &pkt), 4);
    cursor = 0;
    assert_false(mqttproto_user_properties_next(&pkt.puback.properties, &cursor, &up));
    assert_int_equal(tu_decode_hex("E0 00", &pkt), 2);
    cursor = 0;
    assert_false(mqttproto_user_properties_next(&pkt.disconnect.properties, &cursor, &up));

    /* An empty Response Topic without bytes behind it: refused as an empty
       topic name or accepted, but never read. */
    mqttproto_properties_init(&p);
    mqttproto_str empty = {NULL, 0};
    int r = mqttproto_properties_set_str(&p, MQTTPROTO_PACKET_PUBLISH,
                                         MQTTPROTO_PROP_RESPONSE_TOPIC, empty);
    assert_true(r == 0 || r == MQTTPROTO_ERR_TOPIC_NAME_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_every_id),
        cmocka_unit_test(test_info_count),
        cmocka_unit_test(test_allowed_matrix),
        cmocka_unit_test(test_builder_every_context),
        cmocka_unit_test(test_builder_unknown_ids),
        cmocka_unit_test(test_builder_wrong_type),
        cmocka_unit_test(test_builder_duplicates),
        cmocka_unit_test(test_builder_int_ranges),
        cmocka_unit_test(test_builder_response_topic),
        cmocka_unit_test(test_builder_bad_utf8),
        cmocka_unit_test(test_builder_too_long),
        cmocka_unit_test(test_builder_null_arguments),
        cmocka_unit_test(test_builder_empty_lists),
        cmocka_unit_test(test_builder_subscription_identifiers),
        cmocka_unit_test(test_properties_has),
        cmocka_unit_test(test_user_properties_iterator_hand_built),
        cmocka_unit_test(test_subscription_identifier_iterator_single),
        cmocka_unit_test(test_iterators_on_decoded),
        cmocka_unit_test(test_built_properties_encode),
        cmocka_unit_test(test_empty_views_without_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
