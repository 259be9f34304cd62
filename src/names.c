/* Names of the packet types and of the small enums. */
#include "mqttproto/codec.h"

static const char *const packet_names[16] = {
    NULL,      "CONNECT",  "CONNACK",    "PUBLISH", "PUBACK",      "PUBREC",
    "PUBREL",  "PUBCOMP",  "SUBSCRIBE",  "SUBACK",  "UNSUBSCRIBE", "UNSUBACK",
    "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
};

const char *mqttproto_packet_type_name(int type)
{
    if (type < 1 || type > 15) {
        return "UNKNOWN";
    }
    return packet_names[type];
}

const char *mqttproto_qos_name(int qos)
{
    static const char *const names[] = {"AT_MOST_ONCE", "AT_LEAST_ONCE", "EXACTLY_ONCE"};
    return qos >= 0 && qos <= 2 ? names[qos] : "UNKNOWN";
}

const char *mqttproto_retain_handling_name(int rh)
{
    static const char *const names[] = {"SEND_ON_SUBSCRIBE", "SEND_IF_NEW", "DO_NOT_SEND"};
    return rh >= 0 && rh <= 2 ? names[rh] : "UNKNOWN";
}

const char *mqttproto_publish_ack_state_name(int state)
{
    static const char *const names[] = {"PENDING", "RECEIVED", "COMPLETED"};
    return state >= 0 && state <= 2 ? names[state] : "UNKNOWN";
}
