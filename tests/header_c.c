/*
 * The public header compiles as C11 with every warning enabled, and the
 * library links: a user includes one header and gets the whole API.
 */
#include <mqttproto/mqttproto.h>

#include <stdio.h>
#include <string.h>

_Static_assert(MQTTPROTO_VERSION_MAJOR >= 0, "version macros are integers");
_Static_assert(MQTTPROTO_OK == 0, "success is 0");
_Static_assert(MQTTPROTO_ERR_INVALID_ARGUMENT < 0, "errors are negative");

int main(void)
{
    int failures = 0;

    const char *msg = mqttproto_strerror(0);
    if (msg == NULL || mqttproto_strerror(MQTTPROTO_ERR_TRUNCATED) == NULL) {
        fprintf(stderr, "mqttproto_strerror returned NULL\n");
        failures++;
    }
    if (MQTTPROTO_VERSION_STRING[0] == '\0') {
        fprintf(stderr, "MQTTPROTO_VERSION_STRING is empty\n");
        failures++;
    }
    /* A program built against these headers runs with the matching library. */
    if (strcmp(mqttproto_version_string(), MQTTPROTO_VERSION_STRING) != 0) {
        fprintf(stderr, "library version %s, headers %s\n", mqttproto_version_string(),
                MQTTPROTO_VERSION_STRING);
        failures++;
    }

    mqttproto_codec_options opts;
    mqttproto_codec_options_default(&opts);
    if (opts.version != MQTTPROTO_CODEC_OPTIONS_VERSION ||
        opts.protocol_version != MQTTPROTO_PROTOCOL_V5) {
        fprintf(stderr, "unexpected codec option defaults\n");
        failures++;
    }

    mqttproto_str topic = mqttproto_str_from_cstr("sensors/room1");
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_PUBLISH;
    pkt.publish.topic = topic;
    pkt.publish.payload = mqttproto_bin_make("x", 1);
    pkt.publish.qos = MQTTPROTO_QOS_AT_MOST_ONCE;
    mqttproto_properties_init(&pkt.publish.properties);
    if (pkt.publish.topic.len != 13 || pkt.publish.payload.len != 1) {
        fprintf(stderr, "views have the wrong length\n");
        failures++;
    }
    if (strcmp(mqttproto_packet_type_name((int)pkt.type), "PUBLISH") != 0) {
        fprintf(stderr, "packet type name is wrong\n");
        failures++;
    }
    return failures == 0 ? 0 : 1;
}
