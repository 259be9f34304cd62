/*
 * The broker's configuration: defaults, the config file, the checks made
 * before anything starts, and the library settings derived from it.
 *
 * Config file: one "key value" per line; blank lines and lines whose first
 * non-blank character is '#' are ignored; the value is the rest of the line
 * with surrounding blanks removed. docs/broker-program.md lists the keys.
 */
#ifndef BROKER_CONFIG_H
#define BROKER_CONFIG_H

#include "listen_address.h"
#include "log.h"

#include <mqttproto/mqttproto.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* When what the store is given becomes durable (docs/broker-program.md). */
enum persistence_mode {
    PERSISTENCE_SYNC,     /* before each acknowledgement that depends on it */
    PERSISTENCE_PERIODIC, /* every autosave_interval and at shutdown */
};

#define DATA_DIR_STORE_NAME "mqttproto-broker.db"

struct broker_config {
    struct listen_address *listeners;
    size_t listener_count;
    uint32_t max_connections; /* 0: no limit */
    uint16_t receive_maximum;
    uint32_t max_packet_size;
    uint32_t max_queued_messages;
    size_t max_queued_bytes;
    uint16_t max_keep_alive; /* 0: what each client asks */
    uint32_t connect_timeout_ms;
    uint32_t max_session_expiry; /* seconds; UINT32_MAX: no limit */
    size_t max_outbound_bytes;
    uint32_t write_timeout_ms;
    uint32_t shutdown_timeout_ms;
    char *password_file; /* NULL: none */
    char *acl_file;      /* NULL: none */
    int allow_anonymous; /* -1 until set: then true without a password file */
    /* TLS for the tls: and wss: listeners (NULL: not set). */
    char *certfile;                /* PEM certificate (chain) */
    char *keyfile;                 /* its PEM key; NULL: in certfile */
    char *cafile;                  /* CAs of client certificates: asks for one */
    bool require_certificate;      /* refuse clients without a valid one */
    bool use_identity_as_username; /* the certificate's CN is the user name */
    enum log_level log_level;
    /* The durable store (off by default). */
    bool persistence;
    char *persistence_file; /* the SQLite file */
    enum persistence_mode persistence_mode;
    uint32_t autosave_interval_ms; /* periodic: time between saves */
    char *data_dir;                /* --data-dir: created if missing */
};

void config_init(struct broker_config *c);
void config_free(struct broker_config *c);

/**
 * Read a config file. Returns false after writing "FILE:LINE: reason" to
 * stderr for the first bad line (or a message for an unreadable file).
 */
bool config_load_file(struct broker_config *c, const char *path);

/** Add a listener; false after writing "WHERE: reason" to stderr. */
bool config_add_listener(struct broker_config *c, const char *text, const char *where);

/** Drop the listeners (the command line's --listen replaces the file's). */
void config_clear_listeners(struct broker_config *c);

/**
 * --data-dir: persistence on, the store DIR/mqttproto-broker.db (in place
 * of the file's persistence and persistence_file). False when out of
 * memory or DIR is empty, after writing why.
 */
bool config_set_data_dir(struct broker_config *c, const char *dir);

/** Fill in derived defaults; false after writing why the whole is invalid. */
bool config_finish(struct broker_config *c);

/** The library settings this configuration asks for. */
void config_broker_settings(const struct broker_config *c, mqttproto_broker_settings *s);

#endif /* BROKER_CONFIG_H */
