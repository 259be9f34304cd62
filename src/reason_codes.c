/*
 * The reason code table (MQTT 5.0 section 2.4): for each code, its name and
 * the packets that may carry it.
 */
#include "mqttproto/codec.h"

#define B(t)    (1u << MQTTPROTO_PACKET_##t)
#define ACKS    (B(PUBACK) | B(PUBREC))
#define ERR_ALL (B(CONNACK) | ACKS | B(SUBACK) | B(UNSUBACK) | B(DISCONNECT))

struct reason_code_info {
    const char *name;
    uint16_t packets;
};

static const struct reason_code_info reason_codes[256] = {
    [0x00] = {"SUCCESS", B(CONNACK) | ACKS | B(PUBREL) | B(PUBCOMP) | B(SUBACK) | B(UNSUBACK) |
                             B(DISCONNECT) | B(AUTH)},
    [0x01] = {"GRANTED_QOS_1", B(SUBACK)},
    [0x02] = {"GRANTED_QOS_2", B(SUBACK)},
    [0x04] = {"DISCONNECT_WITH_WILL_MESSAGE", B(DISCONNECT)},
    [0x10] = {"NO_MATCHING_SUBSCRIBERS", ACKS},
    [0x11] = {"NO_SUBSCRIPTION_EXISTED", B(UNSUBACK)},
    [0x18] = {"CONTINUE_AUTHENTICATION", B(AUTH)},
    [0x19] = {"REAUTHENTICATE", B(AUTH)},
    [0x80] = {"UNSPECIFIED_ERROR", ERR_ALL},
    [0x81] = {"MALFORMED_PACKET", B(CONNACK) | B(DISCONNECT)},
    [0x82] = {"PROTOCOL_ERROR", B(CONNACK) | B(DISCONNECT)},
    [0x83] = {"IMPLEMENTATION_SPECIFIC_ERROR", ERR_ALL},
    [0x84] = {"UNSUPPORTED_PROTOCOL_VERSION", B(CONNACK)},
    [0x85] = {"CLIENT_IDENTIFIER_NOT_VALID", B(CONNACK)},
    [0x86] = {"BAD_USERNAME_OR_PASSWORD", B(CONNACK)},
    [0x87] = {"NOT_AUTHORIZED", ERR_ALL},
    [0x88] = {"SERVER_UNAVAILABLE", B(CONNACK)},
    [0x89] = {"SERVER_BUSY", B(CONNACK) | B(DISCONNECT)},
    [0x8A] = {"BANNED", B(CONNACK)},
    [0x8B] = {"SERVER_SHUTTING_DOWN", B(DISCONNECT)},
    [0x8C] = {"BAD_AUTHENTICATION_METHOD", B(CONNACK) | B(DISCONNECT)},
    [0x8D] = {"KEEP_ALIVE_TIMEOUT", B(DISCONNECT)},
    [0x8E] = {"SESSION_TAKEN_OVER", B(DISCONNECT)},
    [0x8F] = {"TOPIC_FILTER_INVALID", B(SUBACK) | B(UNSUBACK) | B(DISCONNECT)},
    [0x90] = {"TOPIC_NAME_INVALID", B(CONNACK) | ACKS | B(DISCONNECT)},
    [0x91] = {"PACKET_IDENTIFIER_IN_USE", ACKS | B(SUBACK) | B(UNSUBACK)},
    [0x92] = {"PACKET_IDENTIFIER_NOT_FOUND", B(PUBREL) | B(PUBCOMP)},
    [0x93] = {"RECEIVE_MAXIMUM_EXCEEDED", B(DISCONNECT)},
    [0x94] = {"TOPIC_ALIAS_INVALID", B(DISCONNECT)},
    [0x95] = {"PACKET_TOO_LARGE", B(CONNACK) | B(DISCONNECT)},
    [0x96] = {"MESSAGE_RATE_TOO_HIGH", B(DISCONNECT)},
    [0x97] = {"QUOTA_EXCEEDED", B(CONNACK) | ACKS | B(SUBACK) | B(DISCONNECT)},
    [0x98] = {"ADMINISTRATIVE_ACTION", B(DISCONNECT)},
    [0x99] = {"PAYLOAD_FORMAT_INVALID", B(CONNACK) | ACKS | B(DISCONNECT)},
    [0x9A] = {"RETAIN_NOT_SUPPORTED", B(CONNACK) | B(DISCONNECT)},
    [0x9B] = {"QOS_NOT_SUPPORTED", B(CONNACK) | B(DISCONNECT)},
    [0x9C] = {"USE_ANOTHER_SERVER", B(CONNACK) | B(DISCONNECT)},
    [0x9D] = {"SERVER_MOVED", B(CONNACK) | B(DISCONNECT)},
    [0x9E] = {"SHARED_SUBSCRIPTIONS_NOT_SUPPORTED", B(SUBACK) | B(DISCONNECT)},
    [0x9F] = {"CONNECTION_RATE_EXCEEDED", B(CONNACK) | B(DISCONNECT)},
    [0xA0] = {"MAXIMUM_CONNECT_TIME", B(DISCONNECT)},
    [0xA1] = {"SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED", B(SUBACK) | B(DISCONNECT)},
    [0xA2] = {"WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED", B(SUBACK) | B(DISCONNECT)},
};

bool mqttproto_reason_code_allowed(int rc, int type)
{
    if (rc < 0 || rc > 255 || type < 1 || type > 15) {
        return false;
    }
    return (reason_codes[rc].packets & (1u << type)) != 0;
}

const char *mqttproto_reason_code_name(int rc)
{
    if (rc < 0 || rc > 255 || reason_codes[rc].name == NULL) {
        return "UNKNOWN";
    }
    return reason_codes[rc].name;
}
