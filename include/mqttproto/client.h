/**
 * @file client.h
 * @brief The MQTT 5 client role as a sans-I/O state machine.
 *
 * The application owns the socket and the clock; the client owns every
 * protocol rule. Bytes read from the network go in with
 * mqttproto_client_feed_bytes(); what happened comes out of
 * mqttproto_client_next_event(); bytes to write come from
 * mqttproto_client_get_outbound_data() and are released with
 * mqttproto_client_consume_outbound() once written. Time is passed in as a
 * monotonic millisecond count (`now_ms`); mqttproto_client_get_expiry() says
 * when mqttproto_client_handle_expiry() must next be called.
 *
 * Lifetime rule: every view an event or accessor returns (topic, payload,
 * properties, reason codes) points into memory owned by the client and stays
 * valid until the next call on the same client object.
 *
 * Errors: a function that rejects its arguments or is called in the wrong
 * state returns a negative ::mqttproto_error and changes nothing. So does
 * one that returns ::MQTTPROTO_ERR_NO_MEMORY, unless it says otherwise
 * (mqttproto_client_connection_lost()): the same call can be made again
 * once memory is back, and does what the first should have done. When the
 * server breaks the protocol, the client queues a DISCONNECT with the reason
 * code the specification names (when a DISCONNECT may be sent), enters
 * ::MQTTPROTO_CLIENT_FAILED and returns the same error from every later
 * feed_bytes() until mqttproto_client_connection_lost() is called.
 *
 * A client object is not thread-safe; one thread at a time may use it.
 */
#ifndef MQTTPROTO_CLIENT_H
#define MQTTPROTO_CLIENT_H

#include "mqttproto/codec.h"
#include "mqttproto/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief An MQTT client state machine (opaque). */
typedef struct mqttproto_client mqttproto_client;

/** @brief Version of ::mqttproto_client_settings this header describes. */
#define MQTTPROTO_CLIENT_SETTINGS_VERSION 1

/**
 * @brief Settings fixed for the life of a client: the bounds on everything
 * the server controls. Fill with mqttproto_client_settings_default().
 */
typedef struct mqttproto_client_settings {
    uint32_t version; /**< ::MQTTPROTO_CLIENT_SETTINGS_VERSION. */
    /** Allocator; NULL for malloc/realloc/free. Copied by create. */
    const mqttproto_mem *mem;
    /** Largest packet accepted from the server (fixed header included), sent
        as Maximum Packet Size; a larger one ends the connection with 0x95.
        Default 1 MiB. */
    uint32_t maximum_packet_size;
    /** Inbound QoS 1 and 2 PUBLISH in flight at once, sent as Receive
        Maximum; one more ends the connection with 0x93. Default 64. */
    uint16_t receive_maximum;
    /** Highest inbound Topic Alias accepted, sent as Topic Alias Maximum;
        0 refuses aliases. Default 16. */
    uint16_t topic_alias_maximum;
    /** Most outbound Topic Aliases the client assigns (also capped by the
        server's Topic Alias Maximum); 0 never uses aliases. Default 16. */
    uint16_t outbound_topic_alias_maximum;
    /** Most outbound PUBLISH held at once (queued or in flight); publish()
        fails with ::MQTTPROTO_ERR_QUEUE_FULL beyond it. Default 1000. */
    uint32_t max_queued_messages;
    /** Most bytes of encoded outbound PUBLISH held at once. Default 16 MiB. */
    size_t max_queued_bytes;
    /** Most User Properties in one inbound packet; 0 for no limit.
        Default 256. */
    uint32_t max_user_properties;
    /** Wait for a PINGRESP this long before the connection is declared lost;
        0 (default) waits one keep-alive interval. */
    uint32_t pingresp_timeout_ms;
    /** When true, the application acknowledges each inbound QoS 1 and 2
        PUBLISH with mqttproto_client_acknowledge(); when false (default)
        the client acknowledges on arrival. */
    bool manual_ack;
} mqttproto_client_settings;

/** @brief Fill @p s with the defaults documented on each field. */
MQTTPROTO_API void mqttproto_client_settings_default(mqttproto_client_settings *s);

/** @brief Version of ::mqttproto_connect_options this header describes. */
#define MQTTPROTO_CONNECT_OPTIONS_VERSION 1

/**
 * @brief What a CONNECT asks for. Fill with
 * mqttproto_connect_options_default(); every view is copied by
 * mqttproto_client_connect(), so it need not outlive the call.
 */
typedef struct mqttproto_connect_options {
    uint32_t version; /**< ::MQTTPROTO_CONNECT_OPTIONS_VERSION. */
    /** ::MQTTPROTO_PROTOCOL_V5 (default; 0 means the same),
        ::MQTTPROTO_PROTOCOL_V311 or ::MQTTPROTO_PROTOCOL_V31. Before MQTT 5
        the options and calls only MQTT 5 has give
        ::MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION (docs/client.md). */
    uint8_t protocol_version;
    /** Client Identifier; empty asks the server to assign one, which the
        client then adopts (see mqttproto_client_client_id()). */
    mqttproto_str client_id;
    bool clean_start;                 /**< Start a new session. Default true. */
    uint16_t keep_alive;              /**< Seconds; 0 disables. Default 60. */
    uint32_t session_expiry_interval; /**< Seconds; 0 (default) ends the session with
                                           the connection; 0xFFFFFFFF never. */
    /** Receive Maximum to send; 0 (default) sends the settings' value. Must
        not exceed the settings' value. */
    uint16_t receive_maximum;
    /** Maximum Packet Size to send; 0 (default) sends the settings' value.
        Must not exceed the settings' value. The value sent is the one
        enforced: a larger packet from the server ends the connection with
        ::MQTTPROTO_ERR_PACKET_TOO_LARGE and DISCONNECT 0x95 [MQTT-3.1.2-24]. */
    uint32_t maximum_packet_size;
    /** Topic Alias Maximum to send; -1 (default) sends the settings' value;
        otherwise 0 to the settings' value. The value sent is the one
        enforced: a higher alias from the server ends the connection with
        ::MQTTPROTO_ERR_TOPIC_ALIAS_OUT_OF_RANGE and DISCONNECT 0x94
        [MQTT-3.1.2-26]. */
    int32_t topic_alias_maximum;
    /** Default false. While false, a CONNACK that accepts the connection
        with Response Information is a protocol error
        (::MQTTPROTO_ERR_UNEXPECTED_PROPERTY, DISCONNECT 0x82): the server
        must not send it [MQTT-3.1.2-28]. A refusing CONNACK is reported as
        it came. */
    bool request_response_information;
    /** Default true (the protocol default). When false, a Reason String or
        User Property on any server packet other than PUBLISH, CONNACK and
        DISCONNECT is a protocol error (::MQTTPROTO_ERR_UNEXPECTED_PROPERTY,
        DISCONNECT 0x82 once CONNECTED) [MQTT-3.1.2-29]. */
    bool request_problem_information;
    const mqttproto_user_property *user_properties; /**< CONNECT User Properties. */
    size_t user_property_count;
    bool has_username;
    mqttproto_str username;
    bool has_password;
    mqttproto_bin password;
    /** Will message with its properties (build them with the property
        builder and ::MQTTPROTO_PROPERTY_CONTEXT_WILL); NULL for none. */
    const mqttproto_will *will;
    /** Authentication Method for enhanced authentication; empty for none. */
    mqttproto_str authentication_method;
    mqttproto_bin authentication_data; /**< Initial Authentication Data. */
} mqttproto_connect_options;

/** @brief Fill @p o with the defaults documented on each field. */
MQTTPROTO_API void mqttproto_connect_options_default(mqttproto_connect_options *o);

/** @brief Client states. */
typedef enum mqttproto_client_state {
    /** No connection: before connect(), after a DISCONNECT either way, a
        refused CONNACK, or mqttproto_client_connection_lost(). */
    MQTTPROTO_CLIENT_DISCONNECTED = 0,
    /** CONNECT queued; waiting for CONNACK (AUTH exchanges happen here). */
    MQTTPROTO_CLIENT_CONNECTING = 1,
    /** CONNACK with success received. */
    MQTTPROTO_CLIENT_CONNECTED = 2,
    /** A protocol error, or a keep-alive timeout: the connection must be
        closed, then mqttproto_client_connection_lost() called. */
    MQTTPROTO_CLIENT_FAILED = 3
} mqttproto_client_state;

/** @brief Name of a client state ("CONNECTED", ...); "UNKNOWN" otherwise. */
MQTTPROTO_API const char *mqttproto_client_state_name(int state);

/** @brief Kinds of client events. */
typedef enum mqttproto_client_event_type {
    /** CONNACK success: session_present, properties (the CONNACK's). */
    MQTTPROTO_CLIENT_EVENT_CONNECTED = 1,
    /** CONNACK refusal: reason_code, properties. The client is DISCONNECTED. */
    MQTTPROTO_CLIENT_EVENT_CONNECT_REFUSED = 2,
    /** AUTH from the server: reason_code (0x18 continue, 0x00 success of a
        re-authentication), properties (method and data). Answer 0x18 with
        mqttproto_client_auth(). */
    MQTTPROTO_CLIENT_EVENT_AUTH = 3,
    /** An application message: topic (resolved from a Topic Alias), payload,
        qos, retain, dup, packet_id (0 for QoS 0), properties. */
    MQTTPROTO_CLIENT_EVENT_MESSAGE = 4,
    /** An outbound QoS 1/2 PUBLISH completed: packet_id, reason_code (< 0x80)
        and properties of the PUBACK or PUBCOMP. */
    MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED = 5,
    /** An outbound PUBLISH will not be delivered: packet_id, and either
        error == 0 with the server's reason_code (>= 0x80, from PUBACK, PUBREC
        or PUBCOMP) and properties, or a local error (e.g.
        ::MQTTPROTO_ERR_SESSION_LOST, ::MQTTPROTO_ERR_PACKET_TOO_LARGE). */
    MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED = 6,
    /** SUBACK: packet_id, reason_codes (one per filter sent), properties. */
    MQTTPROTO_CLIENT_EVENT_SUBSCRIBE_ACK = 7,
    /** UNSUBACK: packet_id, reason_codes (one per filter sent), properties. */
    MQTTPROTO_CLIENT_EVENT_UNSUBSCRIBE_ACK = 8,
    /** A SUBSCRIBE or UNSUBSCRIBE got no answer before the connection ended:
        packet_id, error (::MQTTPROTO_ERR_CONNECTION_LOST). */
    MQTTPROTO_CLIENT_EVENT_REQUEST_FAILED = 9,
    /** DISCONNECT from the server: reason_code, properties (Reason String,
        Server Reference, ...). The client is DISCONNECTED. A DISCONNECT with
        a Session Expiry Interval, which the server must not send
        [MQTT-3.14.2-2], gives no event: the client is FAILED with
        ::MQTTPROTO_ERR_UNEXPECTED_PROPERTY and sends no DISCONNECT back. */
    MQTTPROTO_CLIENT_EVENT_DISCONNECTED = 10
} mqttproto_client_event_type;

/** @brief Name of a client event type ("MESSAGE", ...); "UNKNOWN" otherwise. */
MQTTPROTO_API const char *mqttproto_client_event_type_name(int type);

/**
 * @brief One event. Fields that do not apply to the type are zero; views
 * follow the lifetime rule of this header.
 */
typedef struct mqttproto_client_event {
    mqttproto_client_event_type type;
    uint16_t packet_id;          /**< See the event types. */
    uint8_t reason_code;         /**< See the event types. */
    int error;                   /**< A local ::mqttproto_error, or 0. */
    bool session_present;        /**< CONNECTED. */
    mqttproto_str topic;         /**< MESSAGE. */
    mqttproto_bin payload;       /**< MESSAGE. */
    mqttproto_qos qos;           /**< MESSAGE. */
    bool retain;                 /**< MESSAGE. */
    bool dup;                    /**< MESSAGE. */
    const uint8_t *reason_codes; /**< SUBSCRIBE_ACK, UNSUBSCRIBE_ACK. */
    size_t reason_code_count;    /**< SUBSCRIBE_ACK, UNSUBSCRIBE_ACK. */
    /** Properties of the packet behind the event; never NULL (empty when the
        event has no packet). Read repeatable ones with the iterators. */
    const mqttproto_properties *properties;
} mqttproto_client_event;

/** @brief What the server announced in its CONNACK (defaults before it). */
typedef struct mqttproto_client_server_info {
    uint8_t maximum_qos;   /**< 2 unless the server said 0 or 1. */
    bool retain_available; /**< Default true. */
    bool wildcard_subscription_available;
    bool subscription_identifier_available;
    bool shared_subscription_available;
    uint16_t receive_maximum;     /**< Server's Receive Maximum; default 65535. */
    uint32_t maximum_packet_size; /**< Server's limit; default ::MQTTPROTO_MAX_PACKET_SIZE. */
    uint16_t topic_alias_maximum; /**< Server's Topic Alias Maximum; default 0. */
    uint16_t keep_alive;          /**< Keep alive in force (Server Keep Alive if sent). */
} mqttproto_client_server_info;

/**
 * @brief Create a client.
 * @param settings Settings (copied), or NULL for the defaults.
 * @param[out] out The new client; delete it with mqttproto_client_destroy().
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT (NULL @p out, an unknown
 *         settings version, receive_maximum 0, maximum_packet_size below 16);
 *         ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_client_create(const mqttproto_client_settings *settings,
                                          mqttproto_client **out);

/** @brief Delete a client and everything it holds. NULL is allowed. */
MQTTPROTO_API void mqttproto_client_destroy(mqttproto_client *client);

/**
 * @brief Queue a CONNECT ([MQTT-3.1.0-1]: the first packet of a connection).
 *
 * Allowed in ::MQTTPROTO_CLIENT_DISCONNECTED; pending outbound bytes of an
 * earlier connection must have been written or dropped with
 * mqttproto_client_connection_lost(). When the earlier connection ended
 * with a DISCONNECT (either way) or a refused CONNACK and
 * connection_lost() was not called, connect() forgets it just as that
 * would (topic aliases, unread input, acknowledgements not yet sent), and
 * its unanswered SUBSCRIBE/UNSUBSCRIBE end with REQUEST_FAILED events.
 * With clean_start, any session state the client holds is discarded first
 * and unfinished publishes are reported as PUBLISH_FAILED with
 * ::MQTTPROTO_ERR_SESSION_LOST.
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT (NULL, an unknown options
 *         version, a limit above the settings'); ::MQTTPROTO_ERR_BAD_STATE;
 *         a codec error for a field the CONNECT cannot carry (e.g.
 *         ::MQTTPROTO_ERR_TOPIC_NAME_INVALID for the will topic);
 *         ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_client_connect(mqttproto_client *client,
                                           const mqttproto_connect_options *options,
                                           uint64_t now_ms);

/**
 * @brief Hand the client bytes read from the connection; every complete
 * packet is processed at once (replies are queued as outbound data, events
 * for next_event()).
 * @return The number of bytes taken, at most @p len; fewer while undrained
 *         events hold the input buffer at its limit (drain them and feed
 *         the rest), or when memory ran out part way through: the packets
 *         in the bytes taken were processed, the packet that needed the
 *         memory and everything after it were not taken, and nothing of
 *         them took effect (feed them again). A negative error when the
 *         server broke the protocol (the error's reason code,
 *         mqttproto_err_reason_code(), is the one sent in DISCONNECT) or
 *         when the client was already failed (the same error again);
 *         ::MQTTPROTO_ERR_BAD_STATE when disconnected;
 *         ::MQTTPROTO_ERR_NO_MEMORY when not one packet of @p data could be
 *         processed: no byte was taken and nothing changed.
 */
MQTTPROTO_API ptrdiff_t mqttproto_client_feed_bytes(mqttproto_client *client, const uint8_t *data,
                                                    size_t len, uint64_t now_ms);

/**
 * @brief Take the next event, oldest first.
 * @return 1 when @p event was filled, 0 when no event remains, or
 *         ::MQTTPROTO_ERR_INVALID_ARGUMENT.
 */
MQTTPROTO_API int mqttproto_client_next_event(mqttproto_client *client,
                                              mqttproto_client_event *event);

/**
 * @brief Peek at the bytes waiting to be written. Queued publishes are
 * turned into bytes here, as the server's limits allow. The bytes already
 * returned stay the same until mqttproto_client_consume_outbound().
 * @param[out] data Set to the first byte (valid until the next call on the
 *             client), or NULL when nothing waits.
 * @return The number of bytes waiting.
 */
MQTTPROTO_API size_t mqttproto_client_get_outbound_data(mqttproto_client *client,
                                                        const uint8_t **data);

/**
 * @brief Release @p n bytes from the front of the outbound data, once they
 * were written. @p n larger than what waits is clamped.
 */
MQTTPROTO_API void mqttproto_client_consume_outbound(mqttproto_client *client, size_t n);

/**
 * @brief Copy up to @p cap outbound bytes into @p buf and consume them.
 * @return The number of bytes copied.
 */
MQTTPROTO_API size_t mqttproto_client_copy_outbound(mqttproto_client *client, uint8_t *buf,
                                                    size_t cap);

/** @brief The current state. */
MQTTPROTO_API mqttproto_client_state mqttproto_client_get_state(const mqttproto_client *client);

/** @brief The sticky error of a FAILED client, else 0. */
MQTTPROTO_API int mqttproto_client_error(const mqttproto_client *client);

/**
 * @brief The Client Identifier in use: the one given to connect(), or the
 * Assigned Client Identifier once adopted. Valid until the next call.
 */
MQTTPROTO_API mqttproto_str mqttproto_client_client_id(const mqttproto_client *client);

/** @brief What the server announced (or the defaults before CONNACK). */
MQTTPROTO_API mqttproto_client_server_info mqttproto_client_server(const mqttproto_client *client);

/**
 * @brief When mqttproto_client_handle_expiry() must next be called, in the
 * same clock as now_ms; UINT64_MAX when no timer runs.
 */
MQTTPROTO_API uint64_t mqttproto_client_get_expiry(const mqttproto_client *client);

/**
 * @brief Run the timers due at @p now_ms: a PINGREQ when nothing was sent for
 * the keep-alive interval [MQTT-3.1.2-20], and the PINGRESP deadline.
 * @return 0; ::MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT when the PINGRESP did not
 *         come (the client is FAILED: close the connection);
 *         ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_client_handle_expiry(mqttproto_client *client, uint64_t now_ms);

/**
 * @brief The transport closed (or the application closed it). Back to
 * DISCONNECTED, keeping the session: unacknowledged publishes are re-sent
 * after a reconnect that finds the session present. Unsent outbound bytes
 * are dropped; SUBSCRIBE/UNSUBSCRIBE without an answer end, each reported
 * as a REQUEST_FAILED event, in the order they were sent; topic aliases
 * are forgotten [MQTT-3.3.2-7].
 *
 * It never fails to do this: only the REQUEST_FAILED events need memory.
 * @return 0, or ::MQTTPROTO_ERR_NO_MEMORY when some REQUEST_FAILED events
 *         could not be queued. Unlike other calls it then changed
 *         everything all the same (the client is DISCONNECTED, every
 *         request has ended and its packet identifier is free) and the
 *         missing events are not reported later: treat every request still
 *         unanswered as failed. Calling it again does no harm, but brings
 *         no event back.
 */
MQTTPROTO_API int mqttproto_client_connection_lost(mqttproto_client *client);

/**
 * @brief Publish an application message.
 *
 * Allowed while DISCONNECTED (queued for the next connection), CONNECTING
 * or CONNECTED. QoS is lowered to the server's Maximum QoS
 * [MQTT-3.2.2-11]. The message is copied; it is sent when the server's
 * Receive Maximum allows [MQTT-3.3.4-7], in publish order.
 * @param properties PUBLISH properties, or NULL. Topic Alias is the
 *        client's to assign, and Subscription Identifier is not allowed
 *        [MQTT-3.3.4-6]: both give ::MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED.
 * @return The packet identifier (1..65535) for QoS 1 and 2, 0 for QoS 0, or
 *         ::MQTTPROTO_ERR_INVALID_ARGUMENT; ::MQTTPROTO_ERR_BAD_STATE (FAILED);
 *         ::MQTTPROTO_ERR_TOPIC_NAME_INVALID and the other codec errors of
 *         the PUBLISH; ::MQTTPROTO_ERR_RETAIN_NOT_SUPPORTED (the server said
 *         Retain Available 0 [MQTT-3.2.2-14]); ::MQTTPROTO_ERR_PACKET_TOO_LARGE
 *         (over the server's Maximum Packet Size [MQTT-3.2.2-15]);
 *         ::MQTTPROTO_ERR_QUEUE_FULL; ::MQTTPROTO_ERR_PACKET_ID_EXHAUSTED;
 *         ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int32_t mqttproto_client_publish(mqttproto_client *client, mqttproto_str topic,
                                               mqttproto_bin payload, mqttproto_qos qos,
                                               bool retain, const mqttproto_properties *properties);

/**
 * @brief Subscribe, with reference counting per topic filter: a filter
 * already subscribed only has its count raised (its options stay as first
 * given), and a SUBSCRIBE carries only the new filters.
 *
 * What the server's CONNACK said it does not support is refused before
 * anything else, for every filter given (also one already subscribed), and
 * the call changes nothing: the specification makes such a SUBSCRIBE a
 * Protocol Error (sections 3.2.2.3.11 to 3.2.2.3.13).
 * @param properties SUBSCRIBE properties (Subscription Identifier, User
 *        Properties), or NULL.
 * @return The packet identifier of the SUBSCRIBE, 0 when no SUBSCRIBE was
 *         needed, or ::MQTTPROTO_ERR_INVALID_ARGUMENT (NULL, no filters);
 *         ::MQTTPROTO_ERR_BAD_STATE (not CONNECTED);
 *         ::MQTTPROTO_ERR_TOPIC_FILTER_INVALID and the other codec errors;
 *         ::MQTTPROTO_ERR_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED (a filter with
 *         '+' or '#' after Wildcard Subscription Available 0);
 *         ::MQTTPROTO_ERR_SUBSCRIPTION_IDS_NOT_SUPPORTED (a Subscription
 *         Identifier after Subscription Identifier Available 0);
 *         ::MQTTPROTO_ERR_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED (a `$share/`
 *         filter after Shared Subscription Available 0);
 *         ::MQTTPROTO_ERR_PACKET_TOO_LARGE; ::MQTTPROTO_ERR_PACKET_ID_EXHAUSTED;
 *         ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int32_t mqttproto_client_subscribe(mqttproto_client *client,
                                                 const mqttproto_subscription *subscriptions,
                                                 size_t count,
                                                 const mqttproto_properties *properties);

/**
 * @brief Unsubscribe: lower each filter's count; an UNSUBSCRIBE carries the
 * filters whose count reached zero.
 * @return The packet identifier of the UNSUBSCRIBE, 0 when none was needed,
 *         or ::MQTTPROTO_ERR_INVALID_ARGUMENT; ::MQTTPROTO_ERR_NOT_SUBSCRIBED
 *         (a filter not subscribed; nothing changes);
 *         ::MQTTPROTO_ERR_BAD_STATE; codec errors;
 *         ::MQTTPROTO_ERR_PACKET_ID_EXHAUSTED; ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int32_t mqttproto_client_unsubscribe(mqttproto_client *client,
                                                   const mqttproto_str *filters, size_t count,
                                                   const mqttproto_properties *properties);

/**
 * @brief Acknowledge an inbound QoS 1 or 2 PUBLISH in manual-ack mode: a
 * PUBACK or PUBREC with @p reason_code. Acknowledgements go out in the
 * order the messages arrived [MQTT-4.6.0-2] [MQTT-4.6.0-3], so one may wait
 * for an earlier message's acknowledgement.
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT (not manual-ack mode, or a
 *         reason code not allowed in PUBACK/PUBREC);
 *         ::MQTTPROTO_ERR_UNKNOWN_PACKET_ID (no such message awaiting an
 *         acknowledgement); ::MQTTPROTO_ERR_BAD_STATE; ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_client_acknowledge(mqttproto_client *client, uint16_t packet_id,
                                               uint8_t reason_code);

/**
 * @brief Send AUTH: 0x18 (continue) to answer a server AUTH during connect
 * or re-authentication [MQTT-4.12.0-3], or 0x19 to start a
 * re-authentication once CONNECTED. The method is the one given to connect()
 * [MQTT-4.12.1-1].
 * @param properties Further AUTH properties (Reason String, User
 *        Properties), or NULL.
 * @return 0; ::MQTTPROTO_ERR_BAD_STATE (no Authentication Method was
 *         sent [MQTT-4.12.0-7], or the state does not allow it);
 *         ::MQTTPROTO_ERR_INVALID_ARGUMENT; ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_client_auth(mqttproto_client *client, uint8_t reason_code,
                                        mqttproto_bin data, const mqttproto_properties *properties);

/**
 * @brief Queue a DISCONNECT and go to DISCONNECTED; the application closes
 * the connection once the bytes are written [MQTT-3.14.4-2]. Reason 0x04
 * asks the server to publish the will.
 * @param properties Session Expiry Interval, Reason String, User
 *        Properties, or NULL. A non-zero Session Expiry Interval after a
 *        CONNECT that sent 0 is refused (a Protocol Error, section 3.14.2.2.2).
 * @return 0; ::MQTTPROTO_ERR_BAD_STATE (not CONNECTED);
 *         ::MQTTPROTO_ERR_INVALID_ARGUMENT; codec errors;
 *         ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_client_disconnect(mqttproto_client *client, uint8_t reason_code,
                                              const mqttproto_properties *properties);

#ifdef __cplusplus
}
#endif

#endif /* MQTTPROTO_CLIENT_H */
