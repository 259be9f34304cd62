/*
 * Field-by-field packet comparison. Only the fields that are meaningful for
 * the packet are compared: a property only when its present bit is set, the
 * will only with has_will, and so on, because the others hold unspecified
 * values after decoding.
 */
#include "packet_equal.h"

#include <string.h>

static bool bytes_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool str_equal(mqttproto_str a, mqttproto_str b)
{
    return bytes_equal(a.data, a.len, b.data, b.len);
}

static bool bin_equal(mqttproto_bin a, mqttproto_bin b)
{
    return bytes_equal(a.data, a.len, b.data, b.len);
}

static bool has(const mqttproto_properties *p, int id)
{
    return mqttproto_properties_has(p, id);
}

static const char *user_properties_difference(const mqttproto_properties *a,
                                              const mqttproto_properties *b)
{
    if (a->user_property_count != b->user_property_count) {
        return "user_property_count";
    }
    size_t ca = 0;
    size_t cb = 0;
    size_t seen = 0;
    for (;;) {
        mqttproto_user_property ua;
        mqttproto_user_property ub;
        bool more_a = mqttproto_user_properties_next(a, &ca, &ua);
        bool more_b = mqttproto_user_properties_next(b, &cb, &ub);
        if (more_a != more_b) {
            return "user property list length";
        }
        if (!more_a) {
            break;
        }
        if (!str_equal(ua.name, ub.name)) {
            return "user property name";
        }
        if (!str_equal(ua.value, ub.value)) {
            return "user property value";
        }
        seen++;
    }
    return seen == a->user_property_count ? NULL : "user property iterator count";
}

static const char *subscription_identifiers_difference(const mqttproto_properties *a,
                                                       const mqttproto_properties *b)
{
    if (a->subscription_identifier_count != b->subscription_identifier_count) {
        return "subscription_identifier_count";
    }
    if (a->subscription_identifier != b->subscription_identifier) {
        return "subscription_identifier";
    }
    size_t ca = 0;
    size_t cb = 0;
    size_t seen = 0;
    for (;;) {
        uint32_t ia;
        uint32_t ib;
        bool more_a = mqttproto_subscription_identifiers_next(a, &ca, &ia);
        bool more_b = mqttproto_subscription_identifiers_next(b, &cb, &ib);
        if (more_a != more_b) {
            return "subscription identifier list length";
        }
        if (!more_a) {
            break;
        }
        if (ia != ib) {
            return "subscription identifier value";
        }
        seen++;
    }
    return seen == a->subscription_identifier_count ? NULL
                                                    : "subscription identifier iterator count";
}

/* Compare one fixed-width field when its property is present. */
#define CMP_INT(ID, field)                                                                         \
    do {                                                                                           \
        if (has(a, MQTTPROTO_PROP_##ID) && a->field != b->field) {                                 \
            return "property " #field;                                                             \
        }                                                                                          \
    } while (0)

#define CMP_STR(ID, field)                                                                         \
    do {                                                                                           \
        if (has(a, MQTTPROTO_PROP_##ID) && !str_equal(a->field, b->field)) {                       \
            return "property " #field;                                                             \
        }                                                                                          \
    } while (0)

#define CMP_BIN(ID, field)                                                                         \
    do {                                                                                           \
        if (has(a, MQTTPROTO_PROP_##ID) && !bin_equal(a->field, b->field)) {                       \
            return "property " #field;                                                             \
        }                                                                                          \
    } while (0)

static const char *properties_difference(const mqttproto_properties *a,
                                         const mqttproto_properties *b)
{
    if (a->present != b->present) {
        return "properties present mask";
    }
    CMP_INT(PAYLOAD_FORMAT_INDICATOR, payload_format_indicator);
    CMP_INT(MESSAGE_EXPIRY_INTERVAL, message_expiry_interval);
    CMP_STR(CONTENT_TYPE, content_type);
    CMP_STR(RESPONSE_TOPIC, response_topic);
    CMP_BIN(CORRELATION_DATA, correlation_data);
    CMP_INT(SESSION_EXPIRY_INTERVAL, session_expiry_interval);
    CMP_STR(ASSIGNED_CLIENT_IDENTIFIER, assigned_client_identifier);
    CMP_INT(SERVER_KEEP_ALIVE, server_keep_alive);
    CMP_STR(AUTHENTICATION_METHOD, authentication_method);
    CMP_BIN(AUTHENTICATION_DATA, authentication_data);
    CMP_INT(REQUEST_PROBLEM_INFORMATION, request_problem_information);
    CMP_INT(WILL_DELAY_INTERVAL, will_delay_interval);
    CMP_INT(REQUEST_RESPONSE_INFORMATION, request_response_information);
    CMP_STR(RESPONSE_INFORMATION, response_information);
    CMP_STR(SERVER_REFERENCE, server_reference);
    CMP_STR(REASON_STRING, reason_string);
    CMP_INT(RECEIVE_MAXIMUM, receive_maximum);
    CMP_INT(TOPIC_ALIAS_MAXIMUM, topic_alias_maximum);
    CMP_INT(TOPIC_ALIAS, topic_alias);
    CMP_INT(MAXIMUM_QOS, maximum_qos);
    CMP_INT(RETAIN_AVAILABLE, retain_available);
    CMP_INT(MAXIMUM_PACKET_SIZE, maximum_packet_size);
    CMP_INT(WILDCARD_SUBSCRIPTION_AVAILABLE, wildcard_subscription_available);
    CMP_INT(SUBSCRIPTION_IDENTIFIER_AVAILABLE, subscription_identifier_available);
    CMP_INT(SHARED_SUBSCRIPTION_AVAILABLE, shared_subscription_available);
    if (has(a, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER)) {
        const char *d = subscription_identifiers_difference(a, b);
        if (d != NULL) {
            return d;
        }
    }
    if (has(a, MQTTPROTO_PROP_USER_PROPERTY)) {
        return user_properties_difference(a, b);
    }
    return NULL;
}

#undef CMP_INT
#undef CMP_STR
#undef CMP_BIN

/* Encoding treats protocol version 0 as 5. */
static unsigned effective_version(uint8_t v)
{
    return v == 0 ? MQTTPROTO_PROTOCOL_V5 : v;
}

static const char *connect_difference(const mqttproto_connect *a, const mqttproto_connect *b)
{
    if (effective_version(a->protocol_version) != effective_version(b->protocol_version)) {
        return "connect protocol_version";
    }
    if (a->clean_start != b->clean_start) {
        return "connect clean_start";
    }
    if (a->keep_alive != b->keep_alive) {
        return "connect keep_alive";
    }
    if (!str_equal(a->client_id, b->client_id)) {
        return "connect client_id";
    }
    if (a->has_will != b->has_will) {
        return "connect has_will";
    }
    if (a->has_will) {
        if (!str_equal(a->will.topic, b->will.topic)) {
            return "will topic";
        }
        if (!bin_equal(a->will.payload, b->will.payload)) {
            return "will payload";
        }
        if (a->will.qos != b->will.qos) {
            return "will qos";
        }
        if (a->will.retain != b->will.retain) {
            return "will retain";
        }
        const char *d = properties_difference(&a->will.properties, &b->will.properties);
        if (d != NULL) {
            return d;
        }
    }
    if (a->has_username != b->has_username) {
        return "connect has_username";
    }
    if (a->has_username && !str_equal(a->username, b->username)) {
        return "connect username";
    }
    if (a->has_password != b->has_password) {
        return "connect has_password";
    }
    if (a->has_password && !bin_equal(a->password, b->password)) {
        return "connect password";
    }
    return properties_difference(&a->properties, &b->properties);
}

static const char *publish_difference(const mqttproto_publish *a, const mqttproto_publish *b)
{
    if (!str_equal(a->topic, b->topic)) {
        return "publish topic";
    }
    if (!bin_equal(a->payload, b->payload)) {
        return "publish payload";
    }
    if (a->qos != b->qos) {
        return "publish qos";
    }
    if (a->retain != b->retain) {
        return "publish retain";
    }
    if (a->dup != b->dup) {
        return "publish dup";
    }
    if (a->packet_id != b->packet_id) {
        return "publish packet_id";
    }
    return properties_difference(&a->properties, &b->properties);
}

static const char *subscribe_difference(const mqttproto_subscribe *a, const mqttproto_subscribe *b)
{
    if (a->packet_id != b->packet_id) {
        return "subscribe packet_id";
    }
    if (a->subscriptions.count != b->subscriptions.count) {
        return "subscription count";
    }
    size_t ca = 0;
    size_t cb = 0;
    size_t seen = 0;
    for (;;) {
        mqttproto_subscription sa;
        mqttproto_subscription sb;
        bool more_a = mqttproto_subscriptions_next(&a->subscriptions, &ca, &sa);
        bool more_b = mqttproto_subscriptions_next(&b->subscriptions, &cb, &sb);
        if (more_a != more_b) {
            return "subscription list length";
        }
        if (!more_a) {
            break;
        }
        if (!str_equal(sa.topic_filter, sb.topic_filter)) {
            return "subscription topic_filter";
        }
        if (sa.max_qos != sb.max_qos) {
            return "subscription max_qos";
        }
        if (sa.no_local != sb.no_local) {
            return "subscription no_local";
        }
        if (sa.retain_as_published != sb.retain_as_published) {
            return "subscription retain_as_published";
        }
        if (sa.retain_handling != sb.retain_handling) {
            return "subscription retain_handling";
        }
        seen++;
    }
    if (seen != a->subscriptions.count) {
        return "subscription iterator count";
    }
    return properties_difference(&a->properties, &b->properties);
}

static const char *unsubscribe_difference(const mqttproto_unsubscribe *a,
                                          const mqttproto_unsubscribe *b)
{
    if (a->packet_id != b->packet_id) {
        return "unsubscribe packet_id";
    }
    if (a->topic_filters.count != b->topic_filters.count) {
        return "topic filter count";
    }
    size_t ca = 0;
    size_t cb = 0;
    size_t seen = 0;
    for (;;) {
        mqttproto_str fa;
        mqttproto_str fb;
        bool more_a = mqttproto_topic_filters_next(&a->topic_filters, &ca, &fa);
        bool more_b = mqttproto_topic_filters_next(&b->topic_filters, &cb, &fb);
        if (more_a != more_b) {
            return "topic filter list length";
        }
        if (!more_a) {
            break;
        }
        if (!str_equal(fa, fb)) {
            return "topic filter";
        }
        seen++;
    }
    if (seen != a->topic_filters.count) {
        return "topic filter iterator count";
    }
    return properties_difference(&a->properties, &b->properties);
}

static const char *suback_difference(const mqttproto_suback *a, const mqttproto_suback *b)
{
    if (a->packet_id != b->packet_id) {
        return "suback packet_id";
    }
    if (!bytes_equal(a->reason_codes, a->reason_code_count, b->reason_codes,
                     b->reason_code_count)) {
        return "suback reason codes";
    }
    return properties_difference(&a->properties, &b->properties);
}

const char *packet_difference(const mqttproto_packet *a, const mqttproto_packet *b)
{
    if (a->type != b->type) {
        return "packet type";
    }
    switch (a->type) {
    case MQTTPROTO_PACKET_CONNECT:
        return connect_difference(&a->connect, &b->connect);
    case MQTTPROTO_PACKET_CONNACK:
        if (a->connack.session_present != b->connack.session_present) {
            return "connack session_present";
        }
        if (a->connack.reason_code != b->connack.reason_code) {
            return "connack reason_code";
        }
        return properties_difference(&a->connack.properties, &b->connack.properties);
    case MQTTPROTO_PACKET_PUBLISH:
        return publish_difference(&a->publish, &b->publish);
    case MQTTPROTO_PACKET_PUBACK:
    case MQTTPROTO_PACKET_PUBREC:
    case MQTTPROTO_PACKET_PUBREL:
    case MQTTPROTO_PACKET_PUBCOMP:
        if (a->puback.packet_id != b->puback.packet_id) {
            return "ack packet_id";
        }
        if (a->puback.reason_code != b->puback.reason_code) {
            return "ack reason_code";
        }
        return properties_difference(&a->puback.properties, &b->puback.properties);
    case MQTTPROTO_PACKET_SUBSCRIBE:
        return subscribe_difference(&a->subscribe, &b->subscribe);
    case MQTTPROTO_PACKET_SUBACK:
    case MQTTPROTO_PACKET_UNSUBACK:
        return suback_difference(&a->suback, &b->suback);
    case MQTTPROTO_PACKET_UNSUBSCRIBE:
        return unsubscribe_difference(&a->unsubscribe, &b->unsubscribe);
    case MQTTPROTO_PACKET_PINGREQ:
    case MQTTPROTO_PACKET_PINGRESP:
        return NULL;
    case MQTTPROTO_PACKET_DISCONNECT:
    case MQTTPROTO_PACKET_AUTH:
        if (a->disconnect.reason_code != b->disconnect.reason_code) {
            return "reason_code";
        }
        return properties_difference(&a->disconnect.properties, &b->disconnect.properties);
    default:
        return "unknown packet type";
    }
}

bool packet_equal(const mqttproto_packet *a, const mqttproto_packet *b)
{
    return packet_difference(a, b) == NULL;
}
