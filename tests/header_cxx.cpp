/*
 * The public header compiles as C++ with every warning enabled: its
 * declarations are wrapped in extern "C" and use nothing C++ rejects.
 */
#include <mqttproto/mqttproto.h>

#include <cstdio>
#include <cstring>

static_assert(MQTTPROTO_OK == 0, "success is 0");
static_assert(MQTTPROTO_ERR_INVALID_ARGUMENT < 0, "errors are negative");
static_assert(sizeof(mqttproto_str) == sizeof(const char *) + sizeof(size_t), "a view is 2 words");

int main()
{
    int failures = 0;

    const char *msg = mqttproto_strerror(0);
    if (msg == nullptr || mqttproto_err_name(MQTTPROTO_ERR_TRUNCATED) == nullptr) {
        std::fprintf(stderr, "mqttproto_strerror returned NULL\n");
        failures++;
    }
    if (MQTTPROTO_VERSION_STRING[0] == '\0') {
        std::fprintf(stderr, "MQTTPROTO_VERSION_STRING is empty\n");
        failures++;
    }
    if (std::strcmp(mqttproto_version_string(), MQTTPROTO_VERSION_STRING) != 0) {
        std::fprintf(stderr, "library version %s, headers %s\n", mqttproto_version_string(),
                     MQTTPROTO_VERSION_STRING);
        failures++;
    }

    mqttproto_codec_options opts;
    mqttproto_codec_options_default(&opts);
    if (opts.version != MQTTPROTO_CODEC_OPTIONS_VERSION) {
        std::fprintf(stderr, "unexpected codec options version\n");
        failures++;
    }

    mqttproto_packet pkt{};
    pkt.type = MQTTPROTO_PACKET_PUBLISH;
    pkt.publish.topic = mqttproto_str_from_cstr("sensors/room1");
    pkt.publish.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    pkt.publish.packet_id = 1;
    mqttproto_properties_init(&pkt.publish.properties);
    if (pkt.publish.topic.len != 13 ||
        mqttproto_properties_has(&pkt.publish.properties, MQTTPROTO_PROP_TOPIC_ALIAS)) {
        std::fprintf(stderr, "unexpected packet contents\n");
        failures++;
    }
    if (!mqttproto_topic_matches(mqttproto_str_from_cstr("sensors/+"), pkt.publish.topic)) {
        std::fprintf(stderr, "topic filter did not match\n");
        failures++;
    }
    return failures == 0 ? 0 : 1;
}
