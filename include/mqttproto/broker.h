/**
 * @file broker.h
 * @brief The MQTT 5 server role as sans-I/O state machines: a broker that
 * owns sessions, subscriptions, retained messages, wills and routing, and
 * one broker client per network connection.
 *
 * The application accepts connections, owns the sockets and the clock, and
 * decides authentication and authorization at the decision points the
 * events expose; the library applies every protocol rule. For each
 * connection: mqttproto_broker_client_create(), then feed_bytes() what was
 * read, next_event() until it returns 0, write get_outbound_data() and
 * consume_outbound() what was written. Routing a PUBLISH queues messages on
 * other connections: mqttproto_broker_next_writable() names each connection
 * that has new bytes to write. Timers: mqttproto_broker_get_expiry() /
 * mqttproto_broker_handle_expiry() for the broker (session expiry, will
 * delay), and the same pair on each client (CONNECT timeout, keep alive).
 *
 * Lifetime rule: every view an event holds stays valid until the next call
 * on the same broker client (or on the broker, for broker-wide calls).
 *
 * Errors: a call with bad arguments or in the wrong state returns a
 * negative ::mqttproto_error and changes nothing. When a client breaks the
 * protocol, feed_bytes() returns the error, a DISCONNECT with the reason
 * code the specification names is queued (a CONNACK with it, when the
 * error is in the CONNECT), the client enters
 * ::MQTTPROTO_BROKER_CLIENT_CLOSING, and the application closes the
 * connection once the bytes are written.
 *
 * Neither object is thread-safe: one thread at a time uses a broker and
 * all its clients.
 */
#ifndef MQTTPROTO_BROKER_H
#define MQTTPROTO_BROKER_H

#include "mqttproto/codec.h"
#include "mqttproto/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief The broker (opaque): sessions, subscriptions, retained messages. */
typedef struct mqttproto_broker mqttproto_broker;

/** @brief One network connection in the server role (opaque). */
typedef struct mqttproto_broker_client mqttproto_broker_client;

/** @brief Version of ::mqttproto_broker_settings this header describes. */
#define MQTTPROTO_BROKER_SETTINGS_VERSION 1

/**
 * @brief Broker settings: capabilities announced in CONNACK and the bounds
 * on everything clients control. Fill with mqttproto_broker_settings_default().
 */
typedef struct mqttproto_broker_settings {
    uint32_t version; /**< ::MQTTPROTO_BROKER_SETTINGS_VERSION. */
    /** Allocator; NULL for malloc/realloc/free. Copied by create. */
    const mqttproto_mem *mem;

    /** Inbound QoS 1/2 PUBLISH in flight per client (Receive Maximum);
        one more ends the connection with 0x93. Default 64. */
    uint16_t receive_maximum;
    /** Maximum QoS (0, 1 or 2); a PUBLISH above it ends the connection with
        0x9B. Default 2. */
    uint8_t maximum_qos;
    /** Retained messages accepted; a retained PUBLISH otherwise ends the
        connection with 0x9A. Default true. */
    bool retain_available;
    /** Largest packet accepted from a client (Maximum Packet Size); over it:
        0x95. Default 1 MiB. */
    uint32_t maximum_packet_size;
    /** Highest Topic Alias accepted from a client. Default 16. */
    uint16_t topic_alias_maximum;
    bool wildcard_subscription_available;   /**< Default true; else 0xA2. */
    bool subscription_identifier_available; /**< Default true; else 0xA1. */
    bool shared_subscription_available;     /**< Default true; else 0x9E. */
    /** Keep alive imposed on clients that ask for more (or for 0), sent as
        Server Keep Alive; 0 (default) accepts what each client asks. */
    uint16_t max_keep_alive;
    /** Longest Session Expiry Interval granted; a longer request is lowered
        and the CONNACK says so. Default 0xFFFFFFFF (no limit). */
    uint32_t max_session_expiry;
    /** A connection that sends no CONNECT this long is closed. Default 10 s. */
    uint32_t connect_timeout_ms;

    /** Most sessions; a CONNECT beyond it gets CONNACK 0x97. Default 100000. */
    uint32_t max_sessions;
    /** Most subscriptions per session; beyond it SUBACK gives 0x97. Default 1000. */
    uint32_t max_subscriptions_per_session;
    /** Most messages queued or in flight per session; beyond it new
        messages for the session are dropped and counted. Default 1000. */
    uint32_t max_queued_messages;
    /** Most bytes of messages queued per session; the same policy. Default 16 MiB. */
    size_t max_queued_bytes;
    /** Most retained messages; a new retained topic beyond it is not stored
        (counted). Default 100000. */
    uint32_t max_retained_messages;
    /** Most levels in a topic name or filter; beyond it a PUBLISH gets 0x90
        (Topic Name invalid) in its acknowledgement (dropped at QoS 0) and a
        subscription 0x8F (Topic Filter invalid). Default 128. */
    uint32_t max_topic_levels;
    /** Most User Properties in one inbound packet; over it 0x83. Default 256. */
    uint32_t max_user_properties;
    /** When true, every inbound PUBLISH waits for
        mqttproto_broker_client_authorize_publish(); when false (default)
        it is routed on arrival. */
    bool authorize_publish;
} mqttproto_broker_settings;

/** @brief Fill @p s with the defaults documented on each field. */
MQTTPROTO_API void mqttproto_broker_settings_default(mqttproto_broker_settings *s);

/** @brief Counters of what the limits dropped, and of what the broker holds. */
typedef struct mqttproto_broker_stats {
    uint64_t sessions;               /**< Sessions held (connected or not). */
    uint64_t connections;            /**< Broker clients that exist. */
    uint64_t subscriptions;          /**< Subscriptions held. */
    uint64_t retained_messages;      /**< Retained messages held. */
    uint64_t messages_routed;        /**< PUBLISH routed (after authorization). */
    uint64_t messages_delivered;     /**< Deliveries queued to sessions. */
    uint64_t messages_dropped_queue; /**< Deliveries dropped: session queue full. */
    uint64_t messages_dropped_size;  /**< Deliveries dropped: over the client's
                                          Maximum Packet Size. */
    uint64_t messages_expired;       /**< Deliveries dropped: Message Expiry reached. */
    uint64_t retained_dropped;       /**< Retained messages not stored: limit. */
} mqttproto_broker_stats;

/**
 * @brief Create a broker.
 * @param settings Settings (copied), or NULL for the defaults.
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT (NULL @p out, an unknown
 *         settings version, receive_maximum 0, maximum_qos above 2,
 *         maximum_packet_size below 16); ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_create(const mqttproto_broker_settings *settings,
                                          mqttproto_broker **out);

/**
 * @brief Delete a broker, its sessions and messages, and every broker client
 * still attached to it (their pointers become invalid). NULL is allowed.
 */
MQTTPROTO_API void mqttproto_broker_destroy(mqttproto_broker *broker);

/** @brief Counters; see ::mqttproto_broker_stats. */
MQTTPROTO_API mqttproto_broker_stats mqttproto_broker_get_stats(const mqttproto_broker *broker);

/**
 * @brief When mqttproto_broker_handle_expiry() must next be called (session
 * expiry, will delay); UINT64_MAX when no timer runs.
 */
MQTTPROTO_API uint64_t mqttproto_broker_get_expiry(const mqttproto_broker *broker);

/**
 * @brief Run the broker timers due at @p now_ms: end expired sessions,
 * publish wills whose delay ran out.
 * @return 0 or ::MQTTPROTO_ERR_NO_MEMORY (what could not be done is retried
 *         on the next call).
 */
MQTTPROTO_API int mqttproto_broker_handle_expiry(mqttproto_broker *broker, uint64_t now_ms);

/**
 * @brief Take the next broker client that has bytes to write since it was
 * last returned here (after routing, a takeover, a timer).
 * @return 1 and sets @p *client, or 0 when none waits.
 */
MQTTPROTO_API int mqttproto_broker_next_writable(mqttproto_broker *broker,
                                                 mqttproto_broker_client **client);

/**
 * @brief Publish a message from the application (not from a client), as
 * if a client with no session had sent it.
 * @return The number of sessions it was queued for, or
 *         ::MQTTPROTO_ERR_INVALID_ARGUMENT, ::MQTTPROTO_ERR_TOPIC_NAME_INVALID
 *         and the other codec errors of the PUBLISH, ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_publish(mqttproto_broker *broker, mqttproto_str topic,
                                           mqttproto_bin payload, mqttproto_qos qos, bool retain,
                                           const mqttproto_properties *properties, uint64_t now_ms);

/** @brief Broker client states. */
typedef enum mqttproto_broker_client_state {
    /** Waiting for CONNECT. */
    MQTTPROTO_BROKER_CLIENT_AWAIT_CONNECT = 0,
    /** CONNECT received: waiting for the application's decision
        (acknowledge_connect(), or auth() for an AUTH exchange). */
    MQTTPROTO_BROKER_CLIENT_AUTHENTICATING = 1,
    /** CONNACK success sent. */
    MQTTPROTO_BROKER_CLIENT_CONNECTED = 2,
    /** The connection must be closed once the outbound bytes are written:
        a DISCONNECT was sent or received, the CONNECT was refused, the
        session was taken over, keep alive or the CONNECT timeout ran out,
        or the client broke the protocol (see error()). */
    MQTTPROTO_BROKER_CLIENT_CLOSING = 3
} mqttproto_broker_client_state;

/** @brief Name of a broker client state; "UNKNOWN" otherwise. */
MQTTPROTO_API const char *mqttproto_broker_client_state_name(int state);

/** @brief Kinds of broker client events. */
typedef enum mqttproto_broker_event_type {
    /** CONNECT: client_id (empty when the client sent none; the assigned
        one is given to acknowledge_connect's CONNACK), username, password,
        will, clean_start, keep_alive, properties (Authentication Method
        among them). Answer with acknowledge_connect() or auth(). */
    MQTTPROTO_BROKER_EVENT_CONNECT = 1,
    /** AUTH from the client: reason_code (0x18 continue, 0x19
        re-authenticate), properties (method and data). Answer with auth()
        (0x18), or end it with acknowledge_connect() during connect, or with
        auth(0x00) during a re-authentication. */
    MQTTPROTO_BROKER_EVENT_AUTH = 2,
    /** SUBSCRIBE: packet_id, subscriptions (read with
        mqttproto_subscriptions_next()), properties. Answer with
        acknowledge_subscribe(). */
    MQTTPROTO_BROKER_EVENT_SUBSCRIBE = 3,
    /** UNSUBSCRIBE, already answered: packet_id, topic_filters,
        reason_codes (0x00 or 0x11 per filter), properties. */
    MQTTPROTO_BROKER_EVENT_UNSUBSCRIBE = 4,
    /** PUBLISH: ticket, topic (resolved from a Topic Alias), payload, qos,
        retain, properties. With authorize_publish, answer with
        authorize_publish(ticket, reason_code); otherwise it was routed. */
    MQTTPROTO_BROKER_EVENT_PUBLISH = 5,
    /** DISCONNECT from the client: reason_code, properties. The client is
        CLOSING; a reason of 0x04 publishes the will. */
    MQTTPROTO_BROKER_EVENT_DISCONNECTED = 6,
    /** A new connection took this session over: a DISCONNECT 0x8E is queued
        and the client is CLOSING. */
    MQTTPROTO_BROKER_EVENT_TAKEN_OVER = 7
} mqttproto_broker_event_type;

/** @brief Name of a broker event type; "UNKNOWN" otherwise. */
MQTTPROTO_API const char *mqttproto_broker_event_type_name(int type);

/**
 * @brief One broker client event. Fields that do not apply to the type are
 * zero; views follow the lifetime rule of this header.
 */
typedef struct mqttproto_broker_event {
    mqttproto_broker_event_type type;
    uint16_t packet_id; /**< SUBSCRIBE, UNSUBSCRIBE, PUBLISH (0 at QoS 0). */
    uint32_t ticket;    /**< PUBLISH: what authorize_publish() names. */
    /** AUTH, DISCONNECTED; PUBLISH: the code its acknowledgement carried
        when the broker refused it (0x90 over max_topic_levels, 0x97 when
        every matching session's queue was full), else 0. */
    uint8_t reason_code;
    mqttproto_str client_id;    /**< CONNECT. */
    bool clean_start;           /**< CONNECT. */
    uint16_t keep_alive;        /**< CONNECT. */
    bool has_username;          /**< CONNECT. */
    mqttproto_str username;     /**< CONNECT. */
    bool has_password;          /**< CONNECT. */
    mqttproto_bin password;     /**< CONNECT. */
    bool has_will;              /**< CONNECT. */
    const mqttproto_will *will; /**< CONNECT, when has_will. */
    mqttproto_str topic;        /**< PUBLISH. */
    mqttproto_bin payload;      /**< PUBLISH. */
    mqttproto_qos qos;          /**< PUBLISH. */
    bool retain;                /**< PUBLISH. */
    /** SUBSCRIBE: the subscriptions, in order. */
    const mqttproto_subscription_list *subscriptions;
    /** UNSUBSCRIBE: the topic filters, in order. */
    const mqttproto_topic_filter_list *topic_filters;
    const uint8_t *reason_codes; /**< UNSUBSCRIBE: one per filter. */
    size_t reason_code_count;    /**< UNSUBSCRIBE. */
    /** Properties of the packet; never NULL (empty when none). */
    const mqttproto_properties *properties;
} mqttproto_broker_event;

/**
 * @brief A new connection. The client waits for CONNECT; it is closed if
 * none comes within connect_timeout_ms of @p now_ms.
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT; ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_client_create(mqttproto_broker *broker, uint64_t now_ms,
                                                 mqttproto_broker_client **out);

/**
 * @brief The connection is closed: detach it from its session (the will is
 * published unless a DISCONNECT 0x00 came; the session expires per its
 * Session Expiry Interval) and free the client. NULL is allowed.
 * @param now_ms The time of the close (for will delay and session expiry).
 */
MQTTPROTO_API void mqttproto_broker_client_destroy(mqttproto_broker_client *client,
                                                   uint64_t now_ms);

/**
 * @brief Bytes read from the connection; every complete packet that may be
 * processed now is. While the CONNECT waits for acknowledge_connect(), only
 * AUTH and DISCONNECT are processed; the packets after them wait in the
 * input and are processed once the CONNECT is accepted, never if it is
 * refused [MQTT-3.1.4-6].
 * @return Bytes taken: fewer than @p len while undrained events or packets
 *         waiting for the CONNACK hold the input at its limit (one maximum
 *         packet plus 64 KiB), or when memory ran out part-way (the bytes
 *         not taken must be fed again). The protocol error that closed the
 *         connection (the same error again on later calls); its reason code
 *         (mqttproto_err_reason_code()) is the one sent in the DISCONNECT,
 *         or in the CONNACK when the error is in the CONNECT.
 *         ::MQTTPROTO_ERR_BAD_STATE when CLOSING for another reason;
 *         ::MQTTPROTO_ERR_NO_MEMORY when none of @p data was taken (nothing
 *         of the packet it completes took effect; feed it again).
 */
MQTTPROTO_API ptrdiff_t mqttproto_broker_client_feed_bytes(mqttproto_broker_client *client,
                                                           const uint8_t *data, size_t len,
                                                           uint64_t now_ms);

/**
 * @brief Take the next event, oldest first.
 * @return 1 when @p event was filled, 0 when none remains, or
 *         ::MQTTPROTO_ERR_INVALID_ARGUMENT.
 */
MQTTPROTO_API int mqttproto_broker_client_next_event(mqttproto_broker_client *client,
                                                     mqttproto_broker_event *event);

/**
 * @brief Peek at the bytes to write; queued deliveries are encoded here, as
 * the client's Receive Maximum and Maximum Packet Size allow. The bytes
 * returned stay the same until consume_outbound().
 * @param[out] data First byte (valid until the next call), or NULL.
 * @return The number of bytes waiting.
 */
MQTTPROTO_API size_t mqttproto_broker_client_get_outbound_data(mqttproto_broker_client *client,
                                                               const uint8_t **data);

/** @brief Release @p n written bytes (clamped to what waits). */
MQTTPROTO_API void mqttproto_broker_client_consume_outbound(mqttproto_broker_client *client,
                                                            size_t n);

/** @brief Copy up to @p cap bytes to write into @p buf and consume them. */
MQTTPROTO_API size_t mqttproto_broker_client_copy_outbound(mqttproto_broker_client *client,
                                                           uint8_t *buf, size_t cap);

/** @brief The state. */
MQTTPROTO_API mqttproto_broker_client_state
mqttproto_broker_client_get_state(const mqttproto_broker_client *client);

/** @brief The protocol error that closed the connection, else 0. */
MQTTPROTO_API int mqttproto_broker_client_error(const mqttproto_broker_client *client);

/** @brief The Client Identifier (assigned or given); empty before CONNECT. */
MQTTPROTO_API mqttproto_str
mqttproto_broker_client_client_id(const mqttproto_broker_client *client);

/** @brief The user name the connection was accepted with; empty if none. */
MQTTPROTO_API mqttproto_str mqttproto_broker_client_username(const mqttproto_broker_client *client);

/** @brief Attach application data (e.g. the socket's context). */
MQTTPROTO_API void mqttproto_broker_client_set_user_data(mqttproto_broker_client *client,
                                                         void *user_data);

/** @brief The application data, or NULL. */
MQTTPROTO_API void *mqttproto_broker_client_get_user_data(const mqttproto_broker_client *client);

/**
 * @brief When mqttproto_broker_client_handle_expiry() must next be called:
 * the CONNECT timeout, or 1.5 times the keep alive after the last packet
 * received [MQTT-3.1.2-22]; UINT64_MAX when no timer runs.
 */
MQTTPROTO_API uint64_t mqttproto_broker_client_get_expiry(const mqttproto_broker_client *client);

/**
 * @brief Run the client's timers due at @p now_ms.
 * @return 0; ::MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT (DISCONNECT 0x8D queued,
 *         CLOSING; the will is published when the connection is then
 *         closed with mqttproto_broker_client_destroy());
 *         ::MQTTPROTO_ERR_BAD_STATE when the CONNECT did not come in time
 *         (CLOSING, nothing queued).
 */
MQTTPROTO_API int mqttproto_broker_client_handle_expiry(mqttproto_broker_client *client,
                                                        uint64_t now_ms);

/**
 * @brief Answer the CONNECT (or end an AUTH exchange): a CONNACK with
 * @p reason_code. On success (0x00) the session is created or resumed
 * (Session Present set accordingly), a connection holding the same Client
 * Identifier is taken over (DISCONNECT 0x8E), and queued messages start to
 * flow. Otherwise the client is CLOSING.
 * @param username The identity to record for the connection (e.g. from a
 *        certificate), or an empty view to keep the CONNECT's user name.
 * @param properties Further CONNACK properties (Reason String, User
 *        Properties, Authentication Data, Response Information, Server
 *        Reference), or NULL; the broker adds its capabilities.
 * @return 0; ::MQTTPROTO_ERR_BAD_STATE (not AUTHENTICATING);
 *         ::MQTTPROTO_ERR_INVALID_ARGUMENT (a reason code CONNACK cannot
 *         carry); codec errors; ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_client_acknowledge_connect(
    mqttproto_broker_client *client, uint8_t reason_code, mqttproto_str username,
    const mqttproto_properties *properties, uint64_t now_ms);

/**
 * @brief Send AUTH: 0x18 to continue an exchange the client started (in
 * its CONNECT or with AUTH 0x19), or 0x00 to end a re-authentication with
 * success. The method is the client's.
 * @return 0; ::MQTTPROTO_ERR_BAD_STATE; ::MQTTPROTO_ERR_INVALID_ARGUMENT;
 *         ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_client_auth(mqttproto_broker_client *client, uint8_t reason_code,
                                               mqttproto_bin data,
                                               const mqttproto_properties *properties);

/**
 * @brief Answer a SUBSCRIBE: one reason code per subscription, in order
 * (the granted QoS 0x00-0x02, or a failure such as 0x87 Not authorized).
 * A granted QoS above the requested one or the broker's Maximum QoS is
 * lowered. The broker then refuses what it cannot hold (0x97 over the
 * subscription limit, 0xA2/0x9E for wildcard/shared subscriptions announced
 * as unavailable), stores the rest and queues the matching retained
 * messages per each subscription's Retain Handling. (A SUBSCRIBE with a
 * Subscription Identifier when they are announced as unavailable never
 * reaches the application: it ends the connection with DISCONNECT 0xA1,
 * MQTT 5.0 section 3.2.2.3.12.)
 * @return 0; ::MQTTPROTO_ERR_UNKNOWN_PACKET_ID (no SUBSCRIBE waits with
 *         that identifier); ::MQTTPROTO_ERR_INVALID_ARGUMENT (wrong count, a
 *         code SUBACK cannot carry); ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_client_acknowledge_subscribe(mqttproto_broker_client *client,
                                                                uint16_t packet_id,
                                                                const uint8_t *reason_codes,
                                                                size_t count);

/**
 * @brief Decide on a PUBLISH when authorize_publish is set: 0x00 routes it;
 * a code of 0x80 or more refuses it (sent in the PUBACK or PUBREC; a QoS 0
 * message is dropped).
 * @return 0; ::MQTTPROTO_ERR_UNKNOWN_PACKET_ID (no PUBLISH waits with that
 *         ticket); ::MQTTPROTO_ERR_INVALID_ARGUMENT; ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_client_authorize_publish(mqttproto_broker_client *client,
                                                            uint32_t ticket, uint8_t reason_code,
                                                            uint64_t now_ms);

/**
 * @brief Queue a DISCONNECT with @p reason_code (e.g. 0x8B Server shutting
 * down) and enter CLOSING.
 * @return 0; ::MQTTPROTO_ERR_BAD_STATE (not CONNECTED);
 *         ::MQTTPROTO_ERR_INVALID_ARGUMENT; ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_client_disconnect(mqttproto_broker_client *client,
                                                     uint8_t reason_code,
                                                     const mqttproto_properties *properties);

#ifdef __cplusplus
}
#endif

#endif /* MQTTPROTO_BROKER_H */
