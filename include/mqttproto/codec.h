/**
 * @file codec.h
 * @brief The MQTT 5 packet codec: every packet type, property and reason code.
 *
 * The decoder never allocates: every string, binary value and list in a
 * decoded ::mqttproto_packet is a view into the input buffer and is valid as
 * long as that buffer is unchanged. The encoder writes into a caller buffer.
 * Both are pure functions of their arguments and are safe to call from any
 * number of threads at once.
 */
#ifndef MQTTPROTO_CODEC_H
#define MQTTPROTO_CODEC_H

#include "mqttproto/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief The 15 MQTT 5 control packet types (the high nibble of byte 0). */
typedef enum mqttproto_packet_type {
    MQTTPROTO_PACKET_CONNECT = 1,
    MQTTPROTO_PACKET_CONNACK = 2,
    MQTTPROTO_PACKET_PUBLISH = 3,
    MQTTPROTO_PACKET_PUBACK = 4,
    MQTTPROTO_PACKET_PUBREC = 5,
    MQTTPROTO_PACKET_PUBREL = 6,
    MQTTPROTO_PACKET_PUBCOMP = 7,
    MQTTPROTO_PACKET_SUBSCRIBE = 8,
    MQTTPROTO_PACKET_SUBACK = 9,
    MQTTPROTO_PACKET_UNSUBSCRIBE = 10,
    MQTTPROTO_PACKET_UNSUBACK = 11,
    MQTTPROTO_PACKET_PINGREQ = 12,
    MQTTPROTO_PACKET_PINGRESP = 13,
    MQTTPROTO_PACKET_DISCONNECT = 14,
    MQTTPROTO_PACKET_AUTH = 15
} mqttproto_packet_type;

/**
 * @brief Property context of the Will Properties in a CONNECT payload. Used
 * where a packet type is expected, to name the will's property block.
 */
#define MQTTPROTO_PROPERTY_CONTEXT_WILL 16

/** @brief Name of a packet type ("CONNECT", ...); "UNKNOWN" otherwise. */
MQTTPROTO_API const char *mqttproto_packet_type_name(int type);

/** @brief All 27 MQTT 5 properties (MQTT 5.0 section 2.2.2.2). */
typedef enum mqttproto_property_id {
    MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR = 0x01,
    MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL = 0x02,
    MQTTPROTO_PROP_CONTENT_TYPE = 0x03,
    MQTTPROTO_PROP_RESPONSE_TOPIC = 0x08,
    MQTTPROTO_PROP_CORRELATION_DATA = 0x09,
    MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER = 0x0B,
    MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL = 0x11,
    MQTTPROTO_PROP_ASSIGNED_CLIENT_IDENTIFIER = 0x12,
    MQTTPROTO_PROP_SERVER_KEEP_ALIVE = 0x13,
    MQTTPROTO_PROP_AUTHENTICATION_METHOD = 0x15,
    MQTTPROTO_PROP_AUTHENTICATION_DATA = 0x16,
    MQTTPROTO_PROP_REQUEST_PROBLEM_INFORMATION = 0x17,
    MQTTPROTO_PROP_WILL_DELAY_INTERVAL = 0x18,
    MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION = 0x19,
    MQTTPROTO_PROP_RESPONSE_INFORMATION = 0x1A,
    MQTTPROTO_PROP_SERVER_REFERENCE = 0x1C,
    MQTTPROTO_PROP_REASON_STRING = 0x1F,
    MQTTPROTO_PROP_RECEIVE_MAXIMUM = 0x21,
    MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
    MQTTPROTO_PROP_TOPIC_ALIAS = 0x23,
    MQTTPROTO_PROP_MAXIMUM_QOS = 0x24,
    MQTTPROTO_PROP_RETAIN_AVAILABLE = 0x25,
    MQTTPROTO_PROP_USER_PROPERTY = 0x26,
    MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE = 0x27,
    MQTTPROTO_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28,
    MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29,
    MQTTPROTO_PROP_SHARED_SUBSCRIPTION_AVAILABLE = 0x2A
} mqttproto_property_id;

/** @brief Wire data types of properties (MQTT 5.0 section 1.5). */
typedef enum mqttproto_property_type {
    MQTTPROTO_PTYPE_BYTE = 1,          /**< One byte. */
    MQTTPROTO_PTYPE_TWO_BYTE_INT = 2,  /**< Big-endian 16-bit integer. */
    MQTTPROTO_PTYPE_FOUR_BYTE_INT = 3, /**< Big-endian 32-bit integer. */
    MQTTPROTO_PTYPE_VARIABLE_INT = 4,  /**< Variable byte integer. */
    MQTTPROTO_PTYPE_UTF8_STRING = 5,   /**< UTF-8 encoded string. */
    MQTTPROTO_PTYPE_BINARY = 6,        /**< Binary data. */
    MQTTPROTO_PTYPE_UTF8_PAIR = 7      /**< UTF-8 string pair. */
} mqttproto_property_type;

/** @brief Static facts about one property, from the codec's single table. */
typedef struct mqttproto_property_info {
    uint8_t id;        /**< ::mqttproto_property_id value. */
    uint8_t type;      /**< ::mqttproto_property_type value. */
    bool repeatable;   /**< May appear more than once in one packet. */
    uint32_t contexts; /**< Bit (1u << packet type) for each packet it may appear
                            in, and bit (1u << ::MQTTPROTO_PROPERTY_CONTEXT_WILL)
                            for Will Properties. */
    const char *name;  /**< "PAYLOAD_FORMAT_INDICATOR", ... */
} mqttproto_property_info;

/**
 * @brief Look up a property by id.
 * @return A pointer to static data, or NULL when @p id is not an MQTT 5
 *         property.
 */
MQTTPROTO_API const mqttproto_property_info *mqttproto_property_info_get(int id);

/** @brief Name of a property id; "UNKNOWN" for an id that is not one. */
MQTTPROTO_API const char *mqttproto_property_name(int id);

/**
 * @brief Whether property @p id may appear in packet type @p context (or in
 * Will Properties, with ::MQTTPROTO_PROPERTY_CONTEXT_WILL).
 */
MQTTPROTO_API bool mqttproto_property_allowed(int id, int context);

/** @brief All 45 MQTT 5 reason codes (MQTT 5.0 section 2.4); 0x00 has three names. */
typedef enum mqttproto_reason_code {
    MQTTPROTO_RC_SUCCESS = 0x00,
    MQTTPROTO_RC_NORMAL_DISCONNECTION = 0x00,
    MQTTPROTO_RC_GRANTED_QOS_0 = 0x00,
    MQTTPROTO_RC_GRANTED_QOS_1 = 0x01,
    MQTTPROTO_RC_GRANTED_QOS_2 = 0x02,
    MQTTPROTO_RC_DISCONNECT_WITH_WILL_MESSAGE = 0x04,
    MQTTPROTO_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    MQTTPROTO_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
    MQTTPROTO_RC_CONTINUE_AUTHENTICATION = 0x18,
    MQTTPROTO_RC_REAUTHENTICATE = 0x19,
    MQTTPROTO_RC_UNSPECIFIED_ERROR = 0x80,
    MQTTPROTO_RC_MALFORMED_PACKET = 0x81,
    MQTTPROTO_RC_PROTOCOL_ERROR = 0x82,
    MQTTPROTO_RC_IMPLEMENTATION_SPECIFIC_ERROR = 0x83,
    MQTTPROTO_RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84,
    MQTTPROTO_RC_CLIENT_IDENTIFIER_NOT_VALID = 0x85,
    MQTTPROTO_RC_BAD_USERNAME_OR_PASSWORD = 0x86,
    MQTTPROTO_RC_NOT_AUTHORIZED = 0x87,
    MQTTPROTO_RC_SERVER_UNAVAILABLE = 0x88,
    MQTTPROTO_RC_SERVER_BUSY = 0x89,
    MQTTPROTO_RC_BANNED = 0x8A,
    MQTTPROTO_RC_SERVER_SHUTTING_DOWN = 0x8B,
    MQTTPROTO_RC_BAD_AUTHENTICATION_METHOD = 0x8C,
    MQTTPROTO_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
    MQTTPROTO_RC_SESSION_TAKEN_OVER = 0x8E,
    MQTTPROTO_RC_TOPIC_FILTER_INVALID = 0x8F,
    MQTTPROTO_RC_TOPIC_NAME_INVALID = 0x90,
    MQTTPROTO_RC_PACKET_IDENTIFIER_IN_USE = 0x91,
    MQTTPROTO_RC_PACKET_IDENTIFIER_NOT_FOUND = 0x92,
    MQTTPROTO_RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93,
    MQTTPROTO_RC_TOPIC_ALIAS_INVALID = 0x94,
    MQTTPROTO_RC_PACKET_TOO_LARGE = 0x95,
    MQTTPROTO_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
    MQTTPROTO_RC_QUOTA_EXCEEDED = 0x97,
    MQTTPROTO_RC_ADMINISTRATIVE_ACTION = 0x98,
    MQTTPROTO_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    MQTTPROTO_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    MQTTPROTO_RC_QOS_NOT_SUPPORTED = 0x9B,
    MQTTPROTO_RC_USE_ANOTHER_SERVER = 0x9C,
    MQTTPROTO_RC_SERVER_MOVED = 0x9D,
    MQTTPROTO_RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E,
    MQTTPROTO_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    MQTTPROTO_RC_MAXIMUM_CONNECT_TIME = 0xA0,
    MQTTPROTO_RC_SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1,
    MQTTPROTO_RC_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2
} mqttproto_reason_code;

/**
 * @brief Name of a reason code ("SUCCESS", "MALFORMED_PACKET", ...); for
 * 0x00 the name is "SUCCESS". "UNKNOWN" for a value that is not a reason code.
 */
MQTTPROTO_API const char *mqttproto_reason_code_name(int rc);

/**
 * @brief Whether reason code @p rc may appear in packet type @p type
 * (CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH).
 * False for every other packet type.
 */
MQTTPROTO_API bool mqttproto_reason_code_allowed(int rc, int type);

/** @brief One User Property: a name and a value (views). */
typedef struct mqttproto_user_property {
    mqttproto_str name;
    mqttproto_str value;
} mqttproto_user_property;

/** @brief Bit of property @p id in mqttproto_properties::present. */
#define MQTTPROTO_PROP_BIT(id) ((uint64_t)1 << (id))

/**
 * @brief The properties of one packet (or of a will).
 *
 * A field is meaningful only when its bit, MQTTPROTO_PROP_BIT(id), is set in
 * @ref present: the decoder sets only the fields it found, so the others hold
 * unspecified values. Build outbound properties from mqttproto_properties_init()
 * and the mqttproto_properties_set_*() functions (which check each property
 * against its packet), or by setting fields and bits directly.
 *
 * The repeatable properties (User Property, and Subscription Identifier in a
 * PUBLISH) come in one of two forms, read with mqttproto_user_properties_next()
 * and mqttproto_subscription_identifiers_next(): an array the caller supplies
 * for encoding, or, after decoding, the raw property block in @ref wire, from
 * which the iterators read them in order without allocating.
 */
typedef struct mqttproto_properties {
    uint64_t present; /**< MQTTPROTO_PROP_BIT(id) for each property present. */

    uint32_t message_expiry_interval;          /**< 0x02, seconds. */
    uint32_t session_expiry_interval;          /**< 0x11, seconds. */
    uint32_t will_delay_interval;              /**< 0x18, seconds. */
    uint32_t maximum_packet_size;              /**< 0x27, bytes, non-zero. */
    uint32_t subscription_identifier;          /**< 0x0B, the first one (1..268,435,455). */
    uint16_t server_keep_alive;                /**< 0x13, seconds. */
    uint16_t receive_maximum;                  /**< 0x21, non-zero. */
    uint16_t topic_alias_maximum;              /**< 0x22. */
    uint16_t topic_alias;                      /**< 0x23, non-zero. */
    uint8_t payload_format_indicator;          /**< 0x01, 0 or 1. */
    uint8_t request_problem_information;       /**< 0x17, 0 or 1. */
    uint8_t request_response_information;      /**< 0x19, 0 or 1. */
    uint8_t maximum_qos;                       /**< 0x24, 0 or 1. */
    uint8_t retain_available;                  /**< 0x25, 0 or 1. */
    uint8_t wildcard_subscription_available;   /**< 0x28, 0 or 1. */
    uint8_t subscription_identifier_available; /**< 0x29, 0 or 1. */
    uint8_t shared_subscription_available;     /**< 0x2A, 0 or 1. */
    mqttproto_str content_type;                /**< 0x03. */
    mqttproto_str response_topic;              /**< 0x08, a topic name. */
    mqttproto_str assigned_client_identifier;  /**< 0x12. */
    mqttproto_str authentication_method;       /**< 0x15. */
    mqttproto_str response_information;        /**< 0x1A. */
    mqttproto_str server_reference;            /**< 0x1C. */
    mqttproto_str reason_string;               /**< 0x1F. */
    mqttproto_bin correlation_data;            /**< 0x09. */
    mqttproto_bin authentication_data;         /**< 0x16. */

    /** Caller-supplied User Properties to encode (NULL after decoding). */
    const mqttproto_user_property *user_properties;
    size_t user_property_count; /**< Number of User Properties, in either form. */
    /** Caller-supplied Subscription Identifiers to encode (NULL after decoding). */
    const uint32_t *subscription_identifiers;
    size_t subscription_identifier_count; /**< Number of Subscription Identifiers. */
    /** After decoding: the property block's bytes (without its length). */
    mqttproto_bin wire;
} mqttproto_properties;

/** @brief Empty properties: every field zero, nothing present. */
MQTTPROTO_API void mqttproto_properties_init(mqttproto_properties *props);

/** @brief Whether property @p id is present in @p props. */
static inline bool mqttproto_properties_has(const mqttproto_properties *props, int id)
{
    return id > 0 && id < 64 && (props->present & MQTTPROTO_PROP_BIT(id)) != 0;
}

/**
 * @brief Set an integer property (byte, two-byte, four-byte or variable
 * byte integer) for a packet of type @p context.
 * @param props   Properties being built; unchanged on error.
 * @param context Packet type, or ::MQTTPROTO_PROPERTY_CONTEXT_WILL.
 * @param id      An integer property.
 * @param value   Its value.
 * @return 0, or ::MQTTPROTO_ERR_INVALID_ARGUMENT (NULL @p props, or @p id not
 *         an integer property), ::MQTTPROTO_ERR_UNKNOWN_PROPERTY,
 *         ::MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED (not allowed in @p context),
 *         ::MQTTPROTO_ERR_DUPLICATE_PROPERTY (already set),
 *         ::MQTTPROTO_ERR_INVALID_PROPERTY_VALUE (out of the property's range,
 *         e.g. Receive Maximum 0 or Maximum QoS 2),
 *         ::MQTTPROTO_ERR_TOPIC_ALIAS_INVALID (Topic Alias 0).
 */
MQTTPROTO_API int mqttproto_properties_set_int(mqttproto_properties *props, int context, int id,
                                               uint32_t value);

/**
 * @brief Set a UTF-8 string property. The string is borrowed, not copied:
 * it must outlive every use of @p props.
 * @return 0, or the errors of mqttproto_properties_set_int() (with
 *         ::MQTTPROTO_ERR_INVALID_ARGUMENT when @p id is not a string
 *         property), ::MQTTPROTO_ERR_INVALID_UTF8,
 *         ::MQTTPROTO_ERR_UTF8_NULL_CHARACTER, ::MQTTPROTO_ERR_STRING_TOO_LONG,
 *         ::MQTTPROTO_ERR_TOPIC_NAME_INVALID (a Response Topic with wildcards).
 */
MQTTPROTO_API int mqttproto_properties_set_str(mqttproto_properties *props, int context, int id,
                                               mqttproto_str value);

/**
 * @brief Set a binary property (Correlation Data, Authentication Data).
 * The bytes are borrowed, not copied.
 * @return 0, or the errors of mqttproto_properties_set_int(),
 *         ::MQTTPROTO_ERR_STRING_TOO_LONG.
 */
MQTTPROTO_API int mqttproto_properties_set_bin(mqttproto_properties *props, int context, int id,
                                               mqttproto_bin value);

/**
 * @brief Attach User Properties. The array and its strings are borrowed.
 * @return 0, or ::MQTTPROTO_ERR_INVALID_ARGUMENT (NULL array with a non-zero
 *         count), ::MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED,
 *         ::MQTTPROTO_ERR_DUPLICATE_PROPERTY (already attached),
 *         ::MQTTPROTO_ERR_INVALID_UTF8, ::MQTTPROTO_ERR_UTF8_NULL_CHARACTER,
 *         ::MQTTPROTO_ERR_STRING_TOO_LONG.
 */
MQTTPROTO_API int mqttproto_properties_set_user_properties(mqttproto_properties *props, int context,
                                                           const mqttproto_user_property *items,
                                                           size_t count);

/**
 * @brief Attach several Subscription Identifiers (a PUBLISH sent by a
 * server may carry one per matching subscription). The array is borrowed.
 * For SUBSCRIBE use mqttproto_properties_set_int(), which sets one.
 * @return 0, or ::MQTTPROTO_ERR_INVALID_ARGUMENT,
 *         ::MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED (not a PUBLISH),
 *         ::MQTTPROTO_ERR_DUPLICATE_PROPERTY,
 *         ::MQTTPROTO_ERR_INVALID_PROPERTY_VALUE (0 or over 268,435,455).
 */
MQTTPROTO_API int mqttproto_properties_set_subscription_identifiers(mqttproto_properties *props,
                                                                    int context,
                                                                    const uint32_t *ids,
                                                                    size_t count);

/**
 * @brief Iterate over the User Properties of @p props, in wire order.
 * @param cursor Set to 0 before the first call; opaque afterwards.
 * @param out    Receives the next pair (views into the same memory as @p props).
 * @return true when @p out was filled, false at the end.
 */
MQTTPROTO_API bool mqttproto_user_properties_next(const mqttproto_properties *props, size_t *cursor,
                                                  mqttproto_user_property *out);

/**
 * @brief Iterate over the Subscription Identifiers of @p props, in wire order.
 * @param cursor Set to 0 before the first call; opaque afterwards.
 * @return true when @p out was filled, false at the end.
 */
MQTTPROTO_API bool mqttproto_subscription_identifiers_next(const mqttproto_properties *props,
                                                           size_t *cursor, uint32_t *out);

/**
 * @brief A subscription: a topic filter and its options (the seed's
 * Subscription). Also the entry type of a SUBSCRIBE payload.
 */
typedef struct mqttproto_subscription {
    mqttproto_str topic_filter;                /**< Topic filter (may be $share/...). */
    mqttproto_qos max_qos;                     /**< Maximum QoS. */
    bool no_local;                             /**< Do not receive own messages. */
    bool retain_as_published;                  /**< Keep the RETAIN flag as published. */
    mqttproto_retain_handling retain_handling; /**< When to send retained messages. */
} mqttproto_subscription;

/** @brief The will message of a CONNECT (the seed's Will). */
typedef struct mqttproto_will {
    mqttproto_str topic;             /**< Will Topic, a topic name. */
    mqttproto_bin payload;           /**< Will Payload. */
    mqttproto_qos qos;               /**< Will QoS. */
    bool retain;                     /**< Will Retain. */
    mqttproto_properties properties; /**< Will Properties. */
} mqttproto_will;

/**
 * @brief CONNACK return codes of MQTT 3.1.1 and 3.1 (3.1.1 section 3.2.2.3),
 * held in mqttproto_connack::reason_code when the codec options say 4 or 3.
 */
typedef enum mqttproto_connack_return_code {
    MQTTPROTO_CONNACK_ACCEPTED = 0,
    MQTTPROTO_CONNACK_UNACCEPTABLE_PROTOCOL_VERSION = 1,
    MQTTPROTO_CONNACK_IDENTIFIER_REJECTED = 2,
    MQTTPROTO_CONNACK_SERVER_UNAVAILABLE = 3,
    MQTTPROTO_CONNACK_BAD_USERNAME_OR_PASSWORD = 4,
    MQTTPROTO_CONNACK_NOT_AUTHORIZED = 5
} mqttproto_connack_return_code;

/** @brief CONNECT. */
typedef struct mqttproto_connect {
    /** The protocol level: 5, 4 (3.1.1, name "MQTT") or 3 (3.1, name
        "MQIsdp"). Decoding accepts all three whatever the options say and
        reports the CONNECT's own level here; encoding writes the form of
        this level, and treats 0 as the options' protocol_version. */
    uint8_t protocol_version;
    bool clean_start;
    uint16_t keep_alive;     /**< Seconds; 0 disables keep alive. */
    mqttproto_str client_id; /**< May be empty. */
    bool has_will;
    mqttproto_will will; /**< Meaningful when has_will. */
    bool has_username;
    mqttproto_str username; /**< Meaningful when has_username. */
    bool has_password;
    mqttproto_bin password; /**< Binary data; meaningful when has_password. */
    mqttproto_properties properties;
} mqttproto_connect;

/** @brief CONNACK. */
typedef struct mqttproto_connack {
    bool session_present;
    uint8_t reason_code;
    mqttproto_properties properties;
} mqttproto_connack;

/** @brief PUBLISH. */
typedef struct mqttproto_publish {
    mqttproto_str topic; /**< Empty only with a Topic Alias property. */
    mqttproto_bin payload;
    mqttproto_qos qos;
    bool retain;
    bool dup;
    uint16_t packet_id; /**< Non-zero for QoS 1 and 2; 0 for QoS 0. */
    mqttproto_properties properties;
} mqttproto_publish;

/** @brief PUBACK, PUBREC, PUBREL and PUBCOMP. */
typedef struct mqttproto_ack {
    uint16_t packet_id;
    uint8_t reason_code;
    mqttproto_properties properties;
} mqttproto_ack;

/**
 * @brief The subscriptions of a SUBSCRIBE: a caller array to encode, or after
 * decoding the payload bytes in @ref wire. Read with mqttproto_subscriptions_next().
 */
typedef struct mqttproto_subscription_list {
    const mqttproto_subscription *items; /**< Caller array (NULL after decoding). */
    size_t count;                        /**< Number of subscriptions. */
    mqttproto_bin wire;                  /**< After decoding: the payload bytes. */
} mqttproto_subscription_list;

/** @brief SUBSCRIBE. */
typedef struct mqttproto_subscribe {
    uint16_t packet_id;
    mqttproto_properties properties;
    mqttproto_subscription_list subscriptions;
} mqttproto_subscribe;

/**
 * @brief The topic filters of an UNSUBSCRIBE: a caller array to encode, or
 * after decoding the payload bytes in @ref wire. Read with
 * mqttproto_topic_filters_next().
 */
typedef struct mqttproto_topic_filter_list {
    const mqttproto_str *items; /**< Caller array (NULL after decoding). */
    size_t count;               /**< Number of topic filters. */
    mqttproto_bin wire;         /**< After decoding: the payload bytes. */
} mqttproto_topic_filter_list;

/** @brief UNSUBSCRIBE. */
typedef struct mqttproto_unsubscribe {
    uint16_t packet_id;
    mqttproto_properties properties;
    mqttproto_topic_filter_list topic_filters;
} mqttproto_unsubscribe;

/** @brief SUBACK and UNSUBACK: one reason code per topic filter. */
typedef struct mqttproto_suback {
    uint16_t packet_id;
    mqttproto_properties properties;
    const uint8_t *reason_codes; /**< After decoding, a view into the input. */
    size_t reason_code_count;
} mqttproto_suback;

/** @brief DISCONNECT and AUTH. */
typedef struct mqttproto_disconnect {
    uint8_t reason_code;
    mqttproto_properties properties;
} mqttproto_disconnect;

/** @brief Any MQTT packet: a tagged union on @ref type. */
typedef struct mqttproto_packet {
    mqttproto_packet_type type;
    union {
        mqttproto_connect connect;
        mqttproto_connack connack;
        mqttproto_publish publish;
        mqttproto_ack puback; /**< Also pubrec, pubrel, pubcomp: same layout. */
        mqttproto_ack pubrec;
        mqttproto_ack pubrel;
        mqttproto_ack pubcomp;
        mqttproto_subscribe subscribe;
        mqttproto_suback suback; /**< Also unsuback: same layout. */
        mqttproto_unsubscribe unsubscribe;
        mqttproto_suback unsuback;
        mqttproto_disconnect disconnect; /**< Also auth: same layout. */
        mqttproto_disconnect auth;
    };
} mqttproto_packet;

/**
 * @brief Iterate over the subscriptions of a SUBSCRIBE, in wire order.
 * @param cursor Set to 0 before the first call; opaque afterwards.
 * @return true when @p out was filled, false at the end.
 */
MQTTPROTO_API bool mqttproto_subscriptions_next(const mqttproto_subscription_list *list,
                                                size_t *cursor, mqttproto_subscription *out);

/**
 * @brief Iterate over the topic filters of an UNSUBSCRIBE, in wire order.
 * @param cursor Set to 0 before the first call; opaque afterwards.
 * @return true when @p out was filled, false at the end.
 */
MQTTPROTO_API bool mqttproto_topic_filters_next(const mqttproto_topic_filter_list *list,
                                                size_t *cursor, mqttproto_str *out);

/** @brief Version of ::mqttproto_codec_options this header describes. */
#define MQTTPROTO_CODEC_OPTIONS_VERSION 1

/** @brief Largest packet MQTT allows: 268,435,455 bytes plus a 5-byte fixed header. */
#define MQTTPROTO_MAX_PACKET_SIZE 268435460u

/** @brief Largest Variable Byte Integer: 268,435,455. */
#define MQTTPROTO_MAX_VARIABLE_INT 268435455u

/** @brief Codec options: fill with mqttproto_codec_options_default(). */
typedef struct mqttproto_codec_options {
    /** ::MQTTPROTO_CODEC_OPTIONS_VERSION; any other value (or another
        protocol_version) makes every call fail with
        ::MQTTPROTO_ERR_INVALID_ARGUMENT. */
    uint32_t version;
    /** ::MQTTPROTO_PROTOCOL_V5 (default), ::MQTTPROTO_PROTOCOL_V311 or
        ::MQTTPROTO_PROTOCOL_V31: the packet forms of that version (no
        properties before 5; see docs/codec.md). A CONNECT is read in the
        form of its own protocol level whatever this says. */
    uint8_t protocol_version;
    /** Largest whole packet (fixed header included) accepted or produced;
        default ::MQTTPROTO_MAX_PACKET_SIZE, and 0 means the same. */
    uint32_t maximum_packet_size;
    /** Most User Properties in one property block; 0 (default) for no limit.
        Decoding is linear in their number and never allocates. */
    uint32_t max_user_properties;
} mqttproto_codec_options;

/** @brief Fill @p opts with the defaults (MQTT 5, no size limit beyond MQTT's). */
MQTTPROTO_API void mqttproto_codec_options_default(mqttproto_codec_options *opts);

/**
 * @brief Decode one packet from the start of @p data.
 *
 * Validates everything the MQTT 5.0 specification lets a receiver check
 * without connection state (see docs/codec.md). Reads no byte at or past
 * data + len. Never allocates: every view in @p out points into @p data.
 *
 * @param data Input bytes (may be NULL when @p len is 0).
 * @param len  Number of bytes available.
 * @param opts Options, or NULL for the defaults.
 * @param out  Receives the packet. Its content is unspecified unless the
 *             return value is positive.
 * @return The size of the packet (> 0) when a whole valid packet was decoded;
 *         0 when more bytes are needed; or a negative ::mqttproto_error:
 *         ::MQTTPROTO_ERR_INVALID_ARGUMENT (NULL @p out, or NULL @p data with
 *         a non-zero @p len, or unsupported @p opts),
 *         ::MQTTPROTO_ERR_PACKET_TOO_LARGE (reported as soon as the fixed
 *         header is complete), or any decoding error in ::MQTTPROTO_ERROR_LIST
 *         (map it to a reason code with mqttproto_err_reason_code()).
 */
MQTTPROTO_API ptrdiff_t mqttproto_decode(const uint8_t *data, size_t len,
                                         const mqttproto_codec_options *opts,
                                         mqttproto_packet *out);

/**
 * @brief Check the fixed header at the start of @p data.
 * @param type_out  Receives the packet type (may be NULL).
 * @return The whole packet's size (> 0) once the fixed header is complete,
 *         even if fewer bytes are available; 0 when the fixed header itself
 *         is incomplete; or ::MQTTPROTO_ERR_INVALID_ARGUMENT,
 *         ::MQTTPROTO_ERR_RESERVED_PACKET_TYPE,
 *         ::MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS, ::MQTTPROTO_ERR_BAD_QOS,
 *         ::MQTTPROTO_ERR_DUP_ON_QOS0,
 *         ::MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER,
 *         ::MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER,
 *         ::MQTTPROTO_ERR_PACKET_TOO_LARGE.
 */
MQTTPROTO_API ptrdiff_t mqttproto_frame_size(const uint8_t *data, size_t len,
                                             const mqttproto_codec_options *opts,
                                             mqttproto_packet_type *type_out);

/**
 * @brief The number of bytes mqttproto_encode() would write for @p pkt.
 * Checks the packet's shape (lengths, properties allowed in the packet) but
 * not the content of its strings; mqttproto_encode() checks everything.
 * @return The size (> 0), or ::MQTTPROTO_ERR_INVALID_ARGUMENT (NULL or
 *         unknown packet type), ::MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED,
 *         ::MQTTPROTO_ERR_STRING_TOO_LONG, ::MQTTPROTO_ERR_VALUE_TOO_LARGE,
 *         ::MQTTPROTO_ERR_PACKET_TOO_LARGE (over opts->maximum_packet_size).
 */
MQTTPROTO_API ptrdiff_t mqttproto_encoded_size(const mqttproto_packet *pkt,
                                               const mqttproto_codec_options *opts);

/**
 * @brief Encode @p pkt into @p buf, validating it as the decoder would: the
 * bytes written always decode back to the same packet.
 * @param buf Output buffer (may be NULL when @p cap is 0).
 * @param cap Its capacity in bytes.
 * @return The number of bytes written, or ::MQTTPROTO_ERR_BUFFER_TOO_SMALL
 *         (nothing useful written), the errors of mqttproto_encoded_size(),
 *         or the same validation errors mqttproto_decode() reports for the
 *         same content (e.g. ::MQTTPROTO_ERR_TOPIC_NAME_INVALID,
 *         ::MQTTPROTO_ERR_ZERO_PACKET_ID, ::MQTTPROTO_ERR_INVALID_REASON_CODE).
 */
MQTTPROTO_API ptrdiff_t mqttproto_encode(const mqttproto_packet *pkt,
                                         const mqttproto_codec_options *opts, uint8_t *buf,
                                         size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* MQTTPROTO_CODEC_H */
