/*
 * Error codes, their messages, names and reason codes, and the names of the
 * small enums (QoS, retain handling, publish acknowledgement state).
 */
#include "testutil.h"

#include <limits.h>
#include <stdio.h>

struct expected_error {
    int value;
    int reason_code;
    const char *name;
    const char *message;
};

/* The list as the public header states it: the API contract. */
static const struct expected_error listed[] = {
#define X_EXPECT(name, value, rc, msg) {value, rc, "MQTTPROTO_ERR_" #name, msg},
    MQTTPROTO_ERROR_LIST(X_EXPECT)
#undef X_EXPECT
};
#define N_LISTED (sizeof listed / sizeof listed[0])

static bool is_listed(int value)
{
    for (size_t i = 0; i < N_LISTED; i++) {
        if (listed[i].value == value) {
            return true;
        }
    }
    return false;
}

static void test_values_distinct_and_negative(void **state)
{
    (void)state;
    assert_true(N_LISTED >= 39);
    for (size_t i = 0; i < N_LISTED; i++) {
        assert_true(listed[i].value < 0);
        for (size_t j = i + 1; j < N_LISTED; j++) {
            if (listed[i].value == listed[j].value) {
                fail_msg("%s and %s share the value %d", listed[i].name, listed[j].name,
                         listed[i].value);
            }
        }
    }
}

static void test_enum_matches_list(void **state)
{
    (void)state;
    /* The enum is generated from the same list; spot-check that it is. */
    assert_int_equal(MQTTPROTO_OK, 0);
    assert_int_equal(MQTTPROTO_ERR_INVALID_ARGUMENT, -1);
    assert_int_equal(MQTTPROTO_ERR_BUFFER_TOO_SMALL, -3);
    assert_int_equal(MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER, -10);
    assert_int_equal(MQTTPROTO_ERR_PACKET_TOO_LARGE, -41);
    assert_int_equal(MQTTPROTO_ERR_SUBSCRIPTION_QOS_INVALID, -45);
    assert_int_equal(MQTTPROTO_ERR_BAD_STATE, -50);
    assert_int_equal(MQTTPROTO_ERR_SESSION_LOST, -65);
#define X_ENUM_CHECK(name, value, rc, msg) assert_int_equal(MQTTPROTO_ERR_##name, value);
    MQTTPROTO_ERROR_LIST(X_ENUM_CHECK)
#undef X_ENUM_CHECK
}

static void test_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_LISTED; i++) {
        const char *m = mqttproto_strerror(listed[i].value);
        assert_non_null(m);
        assert_true(strlen(m) > 0);
        assert_string_equal(m, listed[i].message);
        assert_string_not_equal(m, "unknown error");
        assert_string_not_equal(m, "success");
    }
}

static void test_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_LISTED; i++) {
        const char *n = mqttproto_err_name(listed[i].value);
        assert_non_null(n);
        assert_string_equal(n, listed[i].name);
        assert_true(strncmp(n, "MQTTPROTO_ERR_", 14) == 0);
        assert_true(strlen(n) > 14);
    }
    assert_string_equal(mqttproto_err_name(MQTTPROTO_ERR_TRUNCATED), "MQTTPROTO_ERR_TRUNCATED");
    assert_string_equal(mqttproto_err_name(MQTTPROTO_ERR_NO_LOCAL_ON_SHARED),
                        "MQTTPROTO_ERR_NO_LOCAL_ON_SHARED");
}

static void test_reason_codes_from_list(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_LISTED; i++) {
        uint8_t rc = mqttproto_err_reason_code(listed[i].value);
        if (rc != listed[i].reason_code) {
            fail_msg("%s: reason code 0x%02X, listed 0x%02X", listed[i].name, rc,
                     (unsigned)listed[i].reason_code);
        }
        /* Only failure reason codes make sense for an error. */
        assert_true(rc >= 0x80);
    }
}

/*
 * The reason code a peer should get for each decoding error, from the
 * specification's own words ("is a Malformed Packet", "is a Protocol Error",
 * the 0x84, 0x8F, 0x94 and 0x95 reason codes): an independent check that the
 * list was not edited by mistake.
 */
static const struct {
    int err;
    uint8_t rc;
} spec_reason_codes[] = {
    {MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER, 0x81},
    {MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER, 0x81},
    {MQTTPROTO_ERR_RESERVED_PACKET_TYPE, 0x81},
    {MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS, 0x81},
    {MQTTPROTO_ERR_TRUNCATED, 0x81},
    {MQTTPROTO_ERR_TRAILING_BYTES, 0x81},
    {MQTTPROTO_ERR_INVALID_UTF8, 0x81},
    {MQTTPROTO_ERR_UTF8_NULL_CHARACTER, 0x81},
    {MQTTPROTO_ERR_BAD_QOS, 0x81},
    {MQTTPROTO_ERR_BAD_CONNECT_FLAGS, 0x81},
    {MQTTPROTO_ERR_BAD_CONNACK_FLAGS, 0x81},
    {MQTTPROTO_ERR_BAD_SUBSCRIPTION_OPTIONS, 0x81},
    {MQTTPROTO_ERR_UNKNOWN_PROPERTY, 0x81},
    {MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED, 0x81},
    {MQTTPROTO_ERR_DUPLICATE_PROPERTY, 0x82},
    {MQTTPROTO_ERR_INVALID_PROPERTY_VALUE, 0x82},
    {MQTTPROTO_ERR_EMPTY_SUBSCRIPTION_LIST, 0x82},
    {MQTTPROTO_ERR_EMPTY_TOPIC_WITHOUT_ALIAS, 0x82},
    {MQTTPROTO_ERR_NO_LOCAL_ON_SHARED, 0x82},
    {MQTTPROTO_ERR_BAD_RETAIN_HANDLING, 0x82},
    {MQTTPROTO_ERR_SUBSCRIPTION_QOS_INVALID, 0x82},
    {MQTTPROTO_ERR_TOPIC_FILTER_INVALID, 0x8F},
    {MQTTPROTO_ERR_TOPIC_ALIAS_INVALID, 0x94},
    {MQTTPROTO_ERR_BAD_PROTOCOL_NAME, 0x84},
    {MQTTPROTO_ERR_UNSUPPORTED_PROTOCOL_VERSION, 0x84},
    {MQTTPROTO_ERR_PACKET_TOO_LARGE, 0x95},
    {MQTTPROTO_ERR_TOO_MANY_PROPERTIES, 0x83},
    /* State machine errors caused by the peer. */
    {MQTTPROTO_ERR_UNEXPECTED_PACKET, 0x82},
    {MQTTPROTO_ERR_UNKNOWN_PACKET_ID, 0x82},
    {MQTTPROTO_ERR_REASON_CODE_COUNT_MISMATCH, 0x82},
    {MQTTPROTO_ERR_RECEIVE_MAXIMUM_EXCEEDED, 0x93},
    {MQTTPROTO_ERR_TOPIC_ALIAS_OUT_OF_RANGE, 0x94},
    {MQTTPROTO_ERR_TOPIC_ALIAS_UNKNOWN, 0x82},
    {MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT, 0x8D},
    {MQTTPROTO_ERR_SESSION_PRESENT_INVALID, 0x82},
    {MQTTPROTO_ERR_AUTH_METHOD_MISMATCH, 0x82},
    {MQTTPROTO_ERR_QUEUE_FULL, 0x97},
    {MQTTPROTO_ERR_RETAIN_NOT_SUPPORTED, 0x9A},
    /* Caller errors never come from a peer: Unspecified error. */
    {MQTTPROTO_ERR_INVALID_ARGUMENT, 0x80},
    {MQTTPROTO_ERR_NO_MEMORY, 0x80},
    {MQTTPROTO_ERR_BUFFER_TOO_SMALL, 0x80},
};

static void test_reason_codes_match_spec(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof spec_reason_codes / sizeof spec_reason_codes[0]; i++) {
        int err = spec_reason_codes[i].err;
        uint8_t rc = mqttproto_err_reason_code(err);
        if (rc != spec_reason_codes[i].rc) {
            fail_msg("%s: reason code 0x%02X, expected 0x%02X", mqttproto_err_name(err), rc,
                     (unsigned)spec_reason_codes[i].rc);
        }
    }
}

static void test_unknown_codes(void **state)
{
    (void)state;
    int unknown[] = {INT_MIN, INT_MIN + 1, -1000000, -1000, -100, -46, -9, -4};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_false(is_listed(unknown[i]));
        assert_string_equal(mqttproto_strerror(unknown[i]), "unknown error");
        assert_string_equal(mqttproto_err_name(unknown[i]), "MQTTPROTO_ERR_UNKNOWN");
        assert_int_equal(mqttproto_err_reason_code(unknown[i]), 0x80);
    }
    /* Every gap in the negative range near the list. */
    for (int v = -200; v < 0; v++) {
        if (is_listed(v)) {
            continue;
        }
        assert_string_equal(mqttproto_strerror(v), "unknown error");
        assert_string_equal(mqttproto_err_name(v), "MQTTPROTO_ERR_UNKNOWN");
        assert_int_equal(mqttproto_err_reason_code(v), 0x80);
    }
}

static void test_success_codes(void **state)
{
    (void)state;
    int ok[] = {0, 1, 2, 42, 65535, 268435460, INT_MAX};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_string_equal(mqttproto_strerror(ok[i]), "success");
        assert_string_equal(mqttproto_err_name(ok[i]), "MQTTPROTO_OK");
        assert_int_equal(mqttproto_err_reason_code(ok[i]), 0x00);
    }
}

struct name_case {
    int value;
    const char *name;
};

static void check_names(const char *(*fn)(int), const struct name_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *got = fn(cases[i].value);
        assert_non_null(got);
        if (strcmp(got, cases[i].name) != 0) {
            fail_msg("value %d: got \"%s\", expected \"%s\"", cases[i].value, got, cases[i].name);
        }
    }
}

static void test_qos_names(void **state)
{
    (void)state;
    static const struct name_case cases[] = {
        {MQTTPROTO_QOS_AT_MOST_ONCE, "AT_MOST_ONCE"},
        {MQTTPROTO_QOS_AT_LEAST_ONCE, "AT_LEAST_ONCE"},
        {MQTTPROTO_QOS_EXACTLY_ONCE, "EXACTLY_ONCE"},
        {3, "UNKNOWN"},
        {-1, "UNKNOWN"},
        {128, "UNKNOWN"},
        {INT_MIN, "UNKNOWN"},
        {INT_MAX, "UNKNOWN"},
    };
    check_names(mqttproto_qos_name, cases, sizeof cases / sizeof cases[0]);
}

static void test_retain_handling_names(void **state)
{
    (void)state;
    static const struct name_case cases[] = {
        {MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE, "SEND_ON_SUBSCRIBE"},
        {MQTTPROTO_RETAIN_SEND_IF_NEW, "SEND_IF_NEW"},
        {MQTTPROTO_RETAIN_DO_NOT_SEND, "DO_NOT_SEND"},
        {3, "UNKNOWN"},
        {-1, "UNKNOWN"},
        {INT_MIN, "UNKNOWN"},
        {INT_MAX, "UNKNOWN"},
    };
    check_names(mqttproto_retain_handling_name, cases, sizeof cases / sizeof cases[0]);
}

static void test_publish_ack_state_names(void **state)
{
    (void)state;
    static const struct name_case cases[] = {
        {MQTTPROTO_ACK_STATE_PENDING, "PENDING"},
        {MQTTPROTO_ACK_STATE_RECEIVED, "RECEIVED"},
        {MQTTPROTO_ACK_STATE_COMPLETED, "COMPLETED"},
        {3, "UNKNOWN"},
        {-1, "UNKNOWN"},
        {INT_MIN, "UNKNOWN"},
        {INT_MAX, "UNKNOWN"},
    };
    check_names(mqttproto_publish_ack_state_name, cases, sizeof cases / sizeof cases[0]);
}

static void test_packet_type_names(void **state)
{
    (void)state;
    static const struct name_case cases[] = {
        {1, "CONNECT"},   {2, "CONNACK"},      {3, "PUBLISH"},       {4, "PUBACK"},
        {5, "PUBREC"},    {6, "PUBREL"},       {7, "PUBCOMP"},       {8, "SUBSCRIBE"},
        {9, "SUBACK"},    {10, "UNSUBSCRIBE"}, {11, "UNSUBACK"},     {12, "PINGREQ"},
        {13, "PINGRESP"}, {14, "DISCONNECT"},  {15, "AUTH"},         {0, "UNKNOWN"},
        {16, "UNKNOWN"},  {-1, "UNKNOWN"},     {INT_MAX, "UNKNOWN"},
    };
    check_names(mqttproto_packet_type_name, cases, sizeof cases / sizeof cases[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_distinct_and_negative),
        cmocka_unit_test(test_enum_matches_list),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_reason_codes_from_list),
        cmocka_unit_test(test_reason_codes_match_spec),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_success_codes),
        cmocka_unit_test(test_qos_names),
        cmocka_unit_test(test_retain_handling_names),
        cmocka_unit_test(test_publish_ack_state_names),
        cmocka_unit_test(test_packet_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
