/**
 * @file mqttproto.h
 * @brief libmqttproto: a sans-I/O MQTT 5 library. Include this header only.
 */
#ifndef MQTTPROTO_H
#define MQTTPROTO_H

#include "mqttproto/version.h"
#include "mqttproto/common.h"
#include "mqttproto/codec.h"
#include "mqttproto/topic.h"
#include "mqttproto/client.h"
#include "mqttproto/broker.h"
#include "mqttproto/broker_store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief The library's version string at run time, e.g. "0.1.0". */
MQTTPROTO_API const char *mqttproto_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* MQTTPROTO_H */
