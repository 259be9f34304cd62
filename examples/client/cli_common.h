/*
 * Command-line options shared by mqttproto-pub, mqttproto-sub and the
 * libuv client, with the flags people know from mosquitto_pub and
 * mosquitto_sub, turned into mqttproto_blocking_options and property sets.
 */
#ifndef MQTTPROTO_CLI_COMMON_H
#define MQTTPROTO_CLI_COMMON_H

#include "mqttproto_blocking.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cli_mode { CLI_PUB, CLI_SUB, CLI_UV };

#define CLI_MAX_USER_PROPS 64
#define CLI_MAX_TOPICS     64

/* Properties given with -D for one packet type. */
struct cli_props {
    int context; /* packet type, or MQTTPROTO_PROPERTY_CONTEXT_WILL */
    mqttproto_properties props;
    mqttproto_user_property users[CLI_MAX_USER_PROPS];
    size_t nusers;
};

enum pub_source { SRC_NONE, SRC_MESSAGE, SRC_FILE, SRC_NULL, SRC_STDIN, SRC_LINES };

struct cli {
    enum cli_mode mode;
    const char *prog;
    mqttproto_blocking_options bo;
    bool debug;
    bool quiet;

    const char *topics[CLI_MAX_TOPICS];
    size_t ntopics;
    int qos;
    bool retain;

    /* pub */
    enum pub_source source;
    const char *message; /* -m, or the -f file name */

    /* sub */
    long count;          /* -C; 0 for no limit */
    long timeout_s;      /* -W; 0 for none */
    bool verbose;        /* -v */
    bool no_eol;         /* -N */
    bool no_local;       /* --nl */
    bool rap;            /* --rap */
    int retain_handling; /* --rh */
    bool skip_retained;  /* -R */

    /* will */
    mqttproto_will will;
    const char *will_topic;
    const char *will_payload;

    struct cli_props connect, publish, subscribe, will_props, disconnect;
    bool session_expiry_given;
};

/* Parses argv; prints a message and exits 1 on a usage error (or 0 after
   --help). */
void cli_parse(struct cli *cli, enum cli_mode mode, int argc, char **argv);

/* Properties of a set, or NULL when it is empty. */
const mqttproto_properties *cli_props_get(const struct cli_props *p);

/* Prints "<prog>: <what>: <the client's error message>" to stderr. */
void cli_report(const struct cli *cli, mqttproto_blocking *c, const char *what, int err);

#endif
