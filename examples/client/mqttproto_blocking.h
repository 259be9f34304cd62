/**
 * @file mqttproto_blocking.h
 * @brief A blocking MQTT 5 client on libmqttproto: each call returns once
 * its exchange with the server is over (CONNACK, PUBACK/PUBCOMP, SUBACK,
 * UNSUBACK) or failed, with the reason.
 *
 * Transports: TCP, UNIX sockets, TLS, WebSocket and WebSocket over TLS,
 * through the byte-transform layers of examples/transport. Keep alive runs
 * inside every call that waits (receive() and loop() included), from the
 * state machine's mqttproto_client_get_expiry(): an application that waits
 * elsewhere for longer than the keep alive calls mqttproto_blocking_loop()
 * now and then.
 *
 * With @c reconnect set, a connection lost while a call waits is made
 * again (Clean Start 0, so a session kept by the server with a Session
 * Expiry Interval above 0 is resumed: unacknowledged messages are re-sent
 * by the state machine), and the call goes on. Subscriptions the server
 * forgot (Session Present 0) are made again.
 *
 * Link with `pkg-config --cflags --libs mqttproto-blocking`.
 * One thread at a time may use a client object.
 */
#ifndef MQTTPROTO_BLOCKING_H
#define MQTTPROTO_BLOCKING_H

#include <mqttproto/mqttproto.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MQTTPROTO_BLOCKING_BUILDING) && defined(__GNUC__)
#define MQTTPROTO_BLOCKING_API __attribute__((visibility("default")))
#else
#define MQTTPROTO_BLOCKING_API
#endif

/** @brief Errors: negative, apart from libmqttproto's own codes. */
typedef enum mqttproto_blocking_error {
    MQTTPROTO_BLOCKING_OK = 0,
    MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT = -1000, /**< A caller error. */
    MQTTPROTO_BLOCKING_ERR_NO_MEMORY = -1001,
    MQTTPROTO_BLOCKING_ERR_RESOLVE = -1002,   /**< The host name did not resolve. */
    MQTTPROTO_BLOCKING_ERR_CONNECT = -1003,   /**< The socket did not connect. */
    MQTTPROTO_BLOCKING_ERR_TLS = -1004,       /**< TLS set-up or handshake failed (certificate). */
    MQTTPROTO_BLOCKING_ERR_WEBSOCKET = -1005, /**< The upgrade was refused, or a framing error. */
    MQTTPROTO_BLOCKING_ERR_TIMEOUT = -1006,   /**< No answer in time. */
    MQTTPROTO_BLOCKING_ERR_REFUSED = -1007,   /**< CONNACK refused: see reason_code(). */
    MQTTPROTO_BLOCKING_ERR_REJECTED = -1008,  /**< PUBACK/PUBREC/PUBCOMP/SUBACK/UNSUBACK
                                                   with a failure: see reason_code(). */
    MQTTPROTO_BLOCKING_ERR_PROTOCOL = -1009,  /**< The server broke the protocol. */
    MQTTPROTO_BLOCKING_ERR_CONNECTION_LOST = -1010, /**< Closed, an I/O error, no PINGRESP. */
    MQTTPROTO_BLOCKING_ERR_DISCONNECTED = -1011, /**< The server sent DISCONNECT: reason_code(). */
    MQTTPROTO_BLOCKING_ERR_NOT_CONNECTED = -1012,
    MQTTPROTO_BLOCKING_ERR_MQTT = -1013 /**< libmqttproto refused the request (an invalid topic,
                                             a full queue): see mqtt_error(). */
} mqttproto_blocking_error;

/** @brief A static name for an error ("MQTTPROTO_BLOCKING_ERR_REFUSED", ...). */
MQTTPROTO_BLOCKING_API const char *mqttproto_blocking_err_name(int err);

/** @brief Transports. */
typedef enum mqttproto_blocking_transport {
    MQTTPROTO_BLOCKING_TCP = 0,  /**< Plain TCP; default port 1883. */
    MQTTPROTO_BLOCKING_UNIX = 1, /**< A UNIX stream socket; host is its path. */
    MQTTPROTO_BLOCKING_TLS = 2,  /**< TLS over TCP; default port 8883. */
    MQTTPROTO_BLOCKING_WS = 3,   /**< WebSocket; default port 80. */
    MQTTPROTO_BLOCKING_WSS = 4   /**< WebSocket over TLS; default port 443. */
} mqttproto_blocking_transport;

/** @brief The default port of a transport (0 for UNIX). */
MQTTPROTO_BLOCKING_API uint16_t mqttproto_blocking_default_port(int transport);

/** @brief TLS options (TLS and WSS). */
typedef struct mqttproto_blocking_tls {
    const char *ca_file;   /**< PEM CA certificates; NULL (with ca_path NULL): the system store. */
    const char *ca_path;   /**< A directory of hashed CA certificates. */
    const char *cert_file; /**< Client certificate (PEM), or NULL. */
    const char *key_file;  /**< Its key; NULL: in cert_file. */
    bool insecure;         /**< Skip every check of the server certificate and name. */
    const char *server_name; /**< Name to verify and send as SNI; NULL: the host. */
} mqttproto_blocking_tls;

/** @brief Version of ::mqttproto_blocking_options this header describes. */
#define MQTTPROTO_BLOCKING_OPTIONS_VERSION 1

/**
 * @brief How to connect. Fill with mqttproto_blocking_options_default().
 * The structure is copied by create(), but not what it points to: strings,
 * the will, user properties and files named must stay valid until destroy(),
 * since every reconnect uses them again.
 */
typedef struct mqttproto_blocking_options {
    uint32_t version; /**< ::MQTTPROTO_BLOCKING_OPTIONS_VERSION. */
    mqttproto_blocking_transport transport;
    /** Host name or address (default "localhost"); for UNIX, the socket path. */
    const char *host;
    uint16_t port;       /**< 0: the transport's default port. */
    const char *ws_path; /**< WebSocket request path; NULL: "/mqtt". */
    mqttproto_blocking_tls tls;
    /** Everything the CONNECT carries: client id, clean start, keep alive,
        session expiry, receive maximum, maximum packet size, user name,
        password, will, user properties... (libmqttproto's defaults). The
        receive maximum and maximum packet size given here also become the
        client's own limits. */
    mqttproto_connect_options connect;
    uint32_t connect_timeout_ms;   /**< Socket, TLS, WebSocket and CONNACK; default 10000. */
    uint32_t operation_timeout_ms; /**< Each publish/subscribe/unsubscribe; default 10000. */
    /** Reconnect when the connection is lost during a call (Clean Start 0
        from then on). Default false. */
    bool reconnect;
    uint32_t reconnect_attempts; /**< Attempts per loss; default 5. */
    uint32_t reconnect_delay_ms; /**< First delay, doubled each time up to 8 s; default 250. */
} mqttproto_blocking_options;

/** @brief Fill @p o with the defaults documented on each field. */
MQTTPROTO_BLOCKING_API void mqttproto_blocking_options_default(mqttproto_blocking_options *o);

/** @brief A client (opaque). */
typedef struct mqttproto_blocking mqttproto_blocking;

/**
 * @brief A received message: the topic and payload are copies with a NUL
 * after them; the properties' views point into the message itself (read
 * User Properties with mqttproto_user_properties_next()). Free with
 * mqttproto_blocking_message_free().
 */
typedef struct mqttproto_blocking_message {
    char *topic;
    size_t topic_len;
    uint8_t *payload;
    size_t payload_len;
    mqttproto_qos qos;
    bool retain;
    bool dup;
    mqttproto_properties properties;
} mqttproto_blocking_message;

MQTTPROTO_BLOCKING_API void mqttproto_blocking_message_free(mqttproto_blocking_message *m);

/**
 * @brief Create a client; nothing is sent yet.
 * @return 0, ::MQTTPROTO_BLOCKING_ERR_INVALID_ARGUMENT (NULL, an unknown
 *         version, no host), ::MQTTPROTO_BLOCKING_ERR_NO_MEMORY.
 */
MQTTPROTO_BLOCKING_API int mqttproto_blocking_create(const mqttproto_blocking_options *options,
                                                     mqttproto_blocking **out);

/** @brief Close the connection without DISCONNECT (if one is open) and free. */
MQTTPROTO_BLOCKING_API void mqttproto_blocking_destroy(mqttproto_blocking *c);

/**
 * @brief Connect: socket, TLS and WebSocket handshakes, CONNECT, CONNACK.
 * @return 0; RESOLVE, CONNECT, TLS, WEBSOCKET, TIMEOUT, REFUSED (the
 *         CONNACK's reason code in mqttproto_blocking_reason_code()),
 *         PROTOCOL, CONNECTION_LOST, MQTT (a field the CONNECT cannot
 *         carry). mqttproto_blocking_errmsg() says what happened.
 */
MQTTPROTO_BLOCKING_API int mqttproto_blocking_connect(mqttproto_blocking *c);

/** @brief Whether the last CONNACK said Session Present. */
MQTTPROTO_BLOCKING_API bool mqttproto_blocking_session_present(const mqttproto_blocking *c);

/**
 * @brief Publish and wait until the flow completes at the QoS asked for:
 * written to the connection (QoS 0), PUBACK (QoS 1), PUBCOMP (QoS 2). The
 * QoS is lowered to the server's Maximum QoS.
 * @param properties PUBLISH properties (message expiry, content type, user
 *        properties, ...), or NULL.
 * @return 0; REJECTED (the server's reason code in reason_code()), MQTT
 *         (invalid topic, too large, retain not supported...), TIMEOUT,
 *         CONNECTION_LOST, DISCONNECTED, PROTOCOL, NOT_CONNECTED.
 */
MQTTPROTO_BLOCKING_API int mqttproto_blocking_publish(mqttproto_blocking *c, const char *topic,
                                                      const void *payload, size_t payload_len,
                                                      mqttproto_qos qos, bool retain,
                                                      const mqttproto_properties *properties);

/**
 * @brief Subscribe and wait for the SUBACK.
 * @param reason_codes NULL, or @p count entries that receive the SUBACK's
 *        reason codes (the granted QoS, or a failure >= 0x80).
 * @return 0 when every filter was granted; REJECTED when one was refused
 *         (its code in reason_code()); MQTT, TIMEOUT, CONNECTION_LOST, ...
 */
MQTTPROTO_BLOCKING_API int mqttproto_blocking_subscribe(mqttproto_blocking *c,
                                                        const mqttproto_subscription *subs,
                                                        size_t count,
                                                        const mqttproto_properties *properties,
                                                        uint8_t *reason_codes);

/** @brief Unsubscribe and wait for the UNSUBACK; like subscribe(). */
MQTTPROTO_BLOCKING_API int mqttproto_blocking_unsubscribe(mqttproto_blocking *c,
                                                          const char *const *filters, size_t count,
                                                          uint8_t *reason_codes);

/**
 * @brief Wait up to @p timeout_ms (negative: forever) for a message.
 * @return 1 with *msg set (free it with mqttproto_blocking_message_free()),
 *         0 when the time ran out, or an error (CONNECTION_LOST,
 *         DISCONNECTED, PROTOCOL, NOT_CONNECTED). Messages that arrived
 *         before a lost connection are still returned first.
 */
MQTTPROTO_BLOCKING_API int
mqttproto_blocking_receive(mqttproto_blocking *c, mqttproto_blocking_message **msg, int timeout_ms);

/** @brief Serve the connection (keep alive, incoming messages, which are
    queued for receive()) for @p timeout_ms. 0 or an error as receive(). */
MQTTPROTO_BLOCKING_API int mqttproto_blocking_loop(mqttproto_blocking *c, int timeout_ms);

/**
 * @brief Send DISCONNECT with @p reason_code (0x04 asks for the will), wait
 * until it is written, close the transport politely and the socket.
 * @return 0, or the error that prevented the DISCONNECT from being sent
 *         (the connection is closed all the same).
 */
MQTTPROTO_BLOCKING_API int mqttproto_blocking_disconnect(mqttproto_blocking *c, uint8_t reason_code,
                                                         const mqttproto_properties *properties);

/** @brief What the last failure was, as one line ("" after success). */
MQTTPROTO_BLOCKING_API const char *mqttproto_blocking_errmsg(const mqttproto_blocking *c);

/** @brief The server's reason code behind the last REFUSED, REJECTED or
    DISCONNECTED error; 0 otherwise. */
MQTTPROTO_BLOCKING_API uint8_t mqttproto_blocking_reason_code(const mqttproto_blocking *c);

/** @brief The libmqttproto error behind the last MQTT or PROTOCOL error; 0 otherwise. */
MQTTPROTO_BLOCKING_API int mqttproto_blocking_mqtt_error(const mqttproto_blocking *c);

/** @brief The state machine underneath (server information, client id):
    read-only use; it stays owned by @p c. */
MQTTPROTO_BLOCKING_API mqttproto_client *mqttproto_blocking_client(mqttproto_blocking *c);

/** @brief How many times the connection was made again after a loss. */
MQTTPROTO_BLOCKING_API unsigned mqttproto_blocking_reconnects(const mqttproto_blocking *c);

#ifdef __cplusplus
}
#endif

#endif /* MQTTPROTO_BLOCKING_H */
