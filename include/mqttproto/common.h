/**
 * @file common.h
 * @brief Types shared by every part of libmqttproto: errors, enums, views.
 *
 * Lifetime rule for the whole library: every view (::mqttproto_str,
 * ::mqttproto_bin and the lists built on them) points into memory owned by
 * someone else and is valid only as long as that memory is; a view returned
 * by a decoder points into the caller's input buffer.
 */
#ifndef MQTTPROTO_COMMON_H
#define MQTTPROTO_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqttproto/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief The list of every error libmqttproto returns.
 *
 * Columns: name, value, the reason code a peer is sent when the error comes
 * from its input (see mqttproto_err_reason_code()), and a message.
 */
#define MQTTPROTO_ERROR_LIST(X)                                                                    \
    X(INVALID_ARGUMENT, -1, 0x80, "invalid argument (caller error)")                               \
    X(NO_MEMORY, -2, 0x80, "out of memory")                                                        \
    X(BUFFER_TOO_SMALL, -3, 0x80, "output buffer too small")                                       \
    X(MALFORMED_VARIABLE_INTEGER, -10, 0x81, "variable byte integer longer than 4 bytes")          \
    X(NON_MINIMAL_VARIABLE_INTEGER, -11, 0x81, "variable byte integer not minimally encoded")      \
    X(RESERVED_PACKET_TYPE, -12, 0x81, "reserved packet type (0, or 15 before MQTT 5)")            \
    X(BAD_FIXED_HEADER_FLAGS, -13, 0x81, "reserved fixed header flags have wrong values")          \
    X(TRUNCATED, -14, 0x81, "a field runs past the end of the packet")                             \
    X(TRAILING_BYTES, -15, 0x81, "bytes left over at the end of the packet")                       \
    X(INVALID_UTF8, -16, 0x81, "ill-formed UTF-8 string")                                          \
    X(UTF8_NULL_CHARACTER, -17, 0x81, "UTF-8 string contains U+0000")                              \
    X(BAD_QOS, -18, 0x81, "QoS value 3")                                                           \
    X(DUP_ON_QOS0, -19, 0x81, "DUP flag set on a QoS 0 PUBLISH")                                   \
    X(BAD_CONNECT_FLAGS, -20, 0x81, "reserved or inconsistent CONNECT flags")                      \
    X(BAD_CONNACK_FLAGS, -21, 0x81, "reserved CONNACK acknowledge flags set")                      \
    X(BAD_SUBSCRIPTION_OPTIONS, -22, 0x81, "reserved subscription option bits set")                \
    X(UNKNOWN_PROPERTY, -23, 0x81, "unknown property identifier")                                  \
    X(PROPERTY_NOT_ALLOWED, -24, 0x81, "property not allowed in this packet")                      \
    X(DUPLICATE_PROPERTY, -25, 0x82, "property given more than once")                              \
    X(INVALID_PROPERTY_VALUE, -26, 0x82, "property value out of range")                            \
    X(INVALID_REASON_CODE, -27, 0x82, "reason code not allowed in this packet")                    \
    X(ZERO_PACKET_ID, -28, 0x82, "packet identifier 0")                                            \
    X(UNEXPECTED_PACKET_ID, -29, 0x82, "packet identifier given on a QoS 0 PUBLISH")               \
    X(EMPTY_SUBSCRIPTION_LIST, -30, 0x82, "SUBSCRIBE or UNSUBSCRIBE without a topic filter")       \
    X(EMPTY_REASON_CODE_LIST, -31, 0x82, "SUBACK or UNSUBACK without a reason code")               \
    X(TOPIC_NAME_INVALID, -32, 0x82, "invalid topic name")                                         \
    X(TOPIC_FILTER_INVALID, -33, 0x8F, "invalid topic filter")                                     \
    X(EMPTY_TOPIC_WITHOUT_ALIAS, -34, 0x82, "empty topic name and no topic alias")                 \
    X(TOPIC_ALIAS_INVALID, -35, 0x94, "topic alias 0")                                             \
    X(NO_LOCAL_ON_SHARED, -36, 0x82, "No Local set on a shared subscription")                      \
    X(BAD_RETAIN_HANDLING, -37, 0x82, "retain handling value 3")                                   \
    X(SESSION_PRESENT_ON_ERROR, -38, 0x82, "session present set on a refused CONNACK")             \
    X(BAD_PROTOCOL_NAME, -39, 0x84, "protocol name is not MQTT")                                   \
    X(UNSUPPORTED_PROTOCOL_VERSION, -40, 0x84, "unsupported protocol version")                     \
    X(PACKET_TOO_LARGE, -41, 0x95, "packet larger than the maximum packet size")                   \
    X(TOO_MANY_PROPERTIES, -42, 0x83, "more user properties than the configured limit")            \
    X(STRING_TOO_LONG, -43, 0x80, "string or binary value longer than 65,535 bytes")               \
    X(VALUE_TOO_LARGE, -44, 0x80, "value does not fit its wire field")                             \
    X(SUBSCRIPTION_QOS_INVALID, -45, 0x82, "subscription maximum QoS 3")                           \
    X(BAD_STATE, -50, 0x80, "operation not allowed in the current state")                          \
    X(QUEUE_FULL, -51, 0x97, "outbound queue limit reached")                                       \
    X(RETAIN_NOT_SUPPORTED, -52, 0x9A, "the server does not support retained messages")            \
    X(PACKET_ID_EXHAUSTED, -53, 0x80, "every packet identifier is in use")                         \
    X(NOT_SUBSCRIBED, -54, 0x80, "topic filter not subscribed")                                    \
    X(UNEXPECTED_PACKET, -55, 0x82, "packet not allowed in the current state")                     \
    X(UNKNOWN_PACKET_ID, -56, 0x82, "acknowledgement for a packet identifier not in use")          \
    X(REASON_CODE_COUNT_MISMATCH, -57, 0x82, "reason code count differs from the request")         \
    X(RECEIVE_MAXIMUM_EXCEEDED, -58, 0x93, "more QoS 1/2 PUBLISH in flight than Receive Maximum")  \
    X(TOPIC_ALIAS_OUT_OF_RANGE, -59, 0x94, "topic alias above the Topic Alias Maximum")            \
    X(TOPIC_ALIAS_UNKNOWN, -60, 0x82, "topic alias with no topic mapped to it")                    \
    X(KEEP_ALIVE_TIMEOUT, -61, 0x8D, "no PINGRESP within the keep-alive timeout")                  \
    X(SESSION_PRESENT_INVALID, -62, 0x82, "session present where no session can exist")            \
    X(AUTH_METHOD_MISMATCH, -63, 0x82, "authentication method differs from the one in CONNECT")    \
    X(CONNECTION_LOST, -64, 0x80, "the connection ended before the flow completed")                \
    X(SESSION_LOST, -65, 0x80, "the session was not resumed; the message was discarded")           \
    X(QOS_NOT_SUPPORTED, -66, 0x9B, "QoS above the server's Maximum QoS")                          \
    X(SUBSCRIPTION_IDS_NOT_SUPPORTED, -67, 0xA1, "subscription identifiers are not supported")     \
    X(SUBSCRIPTION_ID_FROM_CLIENT, -68, 0x82,                                                      \
      "Subscription Identifier in a PUBLISH from a client")                                        \
    X(SESSION_TAKEN_OVER, -69, 0x8E, "another connection took the session over")                   \
    X(UNEXPECTED_PROPERTY, -70, 0x82, "property the peer must not send in this packet or state")   \
    X(WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED, -71, 0xA2,                                             \
      "the server does not support wildcard subscriptions")                                        \
    X(SHARED_SUBSCRIPTIONS_NOT_SUPPORTED, -72, 0x9E,                                               \
      "the server does not support shared subscriptions")                                          \
    X(CLIENT_IDENTIFIER_INVALID, -73, 0x85,                                                        \
      "client identifier not allowed by the protocol version")                                     \
    X(NOT_IN_PROTOCOL_VERSION, -74, 0x80, "not available in the connection's MQTT version")

/** @brief Error codes: always negative; 0 is success. */
typedef enum mqttproto_error {
    MQTTPROTO_OK = 0,
#define MQTTPROTO_X_ENUM(name, value, rc, msg) MQTTPROTO_ERR_##name = (value),
    MQTTPROTO_ERROR_LIST(MQTTPROTO_X_ENUM)
#undef MQTTPROTO_X_ENUM
} mqttproto_error;

/**
 * @brief A human-readable message for an error code.
 * @param err A value returned by any libmqttproto function.
 * @return A static string; never NULL ("unknown error" for an unknown code,
 *         "success" for 0 or a positive value).
 */
MQTTPROTO_API const char *mqttproto_strerror(int err);

/**
 * @brief The symbolic name of an error code, e.g. "MQTTPROTO_ERR_TRUNCATED".
 * @return A static string; never NULL ("MQTTPROTO_OK" for 0 or a positive
 *         value, "MQTTPROTO_ERR_UNKNOWN" for an unknown code).
 */
MQTTPROTO_API const char *mqttproto_err_name(int err);

/**
 * @brief The reason code to send a peer whose input caused @p err.
 *
 * For example 0x81 (Malformed Packet) for ::MQTTPROTO_ERR_TRUNCATED, 0x82
 * (Protocol Error) for ::MQTTPROTO_ERR_DUPLICATE_PROPERTY, 0x95 (Packet Too
 * Large) for ::MQTTPROTO_ERR_PACKET_TOO_LARGE.
 * @return The reason code; 0x00 for 0 or positive values, 0x80 (Unspecified
 *         error) for an unknown code.
 */
MQTTPROTO_API uint8_t mqttproto_err_reason_code(int err);

/** @brief A string view: @p len bytes at @p data, not NUL-terminated. */
typedef struct mqttproto_str {
    const char *data; /**< First byte; may be NULL when len is 0. */
    size_t len;       /**< Length in bytes. */
} mqttproto_str;

/** @brief A binary view: @p len bytes at @p data. */
typedef struct mqttproto_bin {
    const uint8_t *data; /**< First byte; may be NULL when len is 0. */
    size_t len;          /**< Length in bytes. */
} mqttproto_bin;

/**
 * @brief A view of a NUL-terminated string (NULL gives an empty view).
 * The view borrows @p s; it does not copy it.
 */
static inline mqttproto_str mqttproto_str_from_cstr(const char *s)
{
    mqttproto_str v;
    v.data = s;
    v.len = s ? strlen(s) : 0;
    return v;
}

/** @brief A view of @p len bytes at @p data (borrowed, not copied). */
static inline mqttproto_bin mqttproto_bin_make(const void *data, size_t len)
{
    mqttproto_bin v;
    v.data = (const uint8_t *)data;
    v.len = len;
    return v;
}

/** @brief MQTT protocol levels (the CONNECT "Protocol Version" byte). */
typedef enum mqttproto_protocol_version {
    MQTTPROTO_PROTOCOL_V31 = 3,  /**< MQTT 3.1 (protocol name "MQIsdp"). */
    MQTTPROTO_PROTOCOL_V311 = 4, /**< MQTT 3.1.1. */
    MQTTPROTO_PROTOCOL_V5 = 5    /**< MQTT 5.0. */
} mqttproto_protocol_version;

/** @brief Quality of service levels. */
typedef enum mqttproto_qos {
    MQTTPROTO_QOS_AT_MOST_ONCE = 0,
    MQTTPROTO_QOS_AT_LEAST_ONCE = 1,
    MQTTPROTO_QOS_EXACTLY_ONCE = 2
} mqttproto_qos;

/** @brief Retain handling subscription option (MQTT 5.0 section 3.8.3.1). */
typedef enum mqttproto_retain_handling {
    MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE = 0, /**< Send retained messages on subscribe. */
    MQTTPROTO_RETAIN_SEND_IF_NEW = 1,       /**< Only if the subscription did not exist. */
    MQTTPROTO_RETAIN_DO_NOT_SEND = 2        /**< Never send retained messages on subscribe. */
} mqttproto_retain_handling;

/** @brief Where an outbound QoS 1/2 PUBLISH is in its flow (seed's PublishAckState). */
typedef enum mqttproto_publish_ack_state {
    MQTTPROTO_ACK_STATE_PENDING = 0,  /**< Queued or sent; no acknowledgement yet. */
    MQTTPROTO_ACK_STATE_RECEIVED = 1, /**< PUBREC received (QoS 2); PUBREL sent. */
    MQTTPROTO_ACK_STATE_COMPLETED = 2 /**< PUBACK or PUBCOMP received. */
} mqttproto_publish_ack_state;

/**
 * @brief Optional allocator. Every object that allocates takes one; NULL
 * means the C library's malloc, realloc and free. The three functions go
 * together: a struct with any of them NULL counts as NULL (all three of the
 * C library are used, so a block is never freed by another allocator than
 * the one that made it). The struct is copied by the object's create call;
 * @c user_data must outlive the object.
 */
typedef struct mqttproto_mem {
    void *(*malloc_fn)(size_t size, void *user_data);
    void *(*realloc_fn)(void *ptr, size_t size, void *user_data);
    void (*free_fn)(void *ptr, void *user_data);
    void *user_data; /**< Passed to each function unchanged. */
} mqttproto_mem;

/** @brief Name of a QoS value ("AT_MOST_ONCE", ...); "UNKNOWN" otherwise. */
MQTTPROTO_API const char *mqttproto_qos_name(int qos);
/** @brief Name of a retain handling value; "UNKNOWN" otherwise. */
MQTTPROTO_API const char *mqttproto_retain_handling_name(int rh);
/** @brief Name of a publish acknowledgement state; "UNKNOWN" otherwise. */
MQTTPROTO_API const char *mqttproto_publish_ack_state_name(int state);

#ifdef __cplusplus
}
#endif

#endif /* MQTTPROTO_COMMON_H */
