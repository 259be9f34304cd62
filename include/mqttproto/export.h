/**
 * @file export.h
 * @brief The one export macro: libmqttproto is built with hidden visibility
 * and marks each public function with MQTTPROTO_API.
 */
#ifndef MQTTPROTO_EXPORT_H
#define MQTTPROTO_EXPORT_H

#if defined(_WIN32) || defined(__CYGWIN__)
#if defined(MQTTPROTO_BUILDING_DLL)
#define MQTTPROTO_API __declspec(dllexport)
#elif defined(MQTTPROTO_STATIC)
#define MQTTPROTO_API
#else
#define MQTTPROTO_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define MQTTPROTO_API __attribute__((visibility("default")))
#else
#define MQTTPROTO_API
#endif

#endif /* MQTTPROTO_EXPORT_H */
