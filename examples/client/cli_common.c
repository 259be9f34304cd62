#include "cli_common.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Long options without a short form. */
enum {
    OPT_WILL_TOPIC = 256,
    OPT_WILL_PAYLOAD,
    OPT_WILL_QOS,
    OPT_WILL_RETAIN,
    OPT_CAFILE,
    OPT_CAPATH,
    OPT_CERT,
    OPT_KEY,
    OPT_INSECURE,
    OPT_OS_CERTS,
    OPT_TLS_SERVER_NAME,
    OPT_UNIX,
    OPT_WS,
    OPT_NL,
    OPT_RAP,
    OPT_RH,
    OPT_HELP,
    OPT_RECONNECT,
};

static const struct option long_options[] = {
    {"will-topic", required_argument, NULL, OPT_WILL_TOPIC},
    {"will-payload", required_argument, NULL, OPT_WILL_PAYLOAD},
    {"will-qos", required_argument, NULL, OPT_WILL_QOS},
    {"will-retain", no_argument, NULL, OPT_WILL_RETAIN},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"capath", required_argument, NULL, OPT_CAPATH},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"tls-use-os-certs", no_argument, NULL, OPT_OS_CERTS},
    {"tls-server-name", required_argument, NULL, OPT_TLS_SERVER_NAME},
    {"unix", required_argument, NULL, OPT_UNIX},
    {"ws", required_argument, NULL, OPT_WS},
    {"nl", no_argument, NULL, OPT_NL},
    {"rap", no_argument, NULL, OPT_RAP},
    {"rh", required_argument, NULL, OPT_RH},
    {"reconnect", no_argument, NULL, OPT_RECONNECT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const char common_usage[] =
    "Connection:\n"
    "  -h HOST            broker host (default localhost)\n"
    "  -p PORT            port (default 1883; 8883 with TLS; 80/443 with --ws)\n"
    "  --unix PATH        connect to a UNIX socket instead of TCP\n"
    "  --ws PATH          MQTT over WebSocket at PATH (e.g. /mqtt); wss with TLS options\n"
    "  -i ID              client identifier (default: the broker assigns one)\n"
    "  -u USER, -P PASS   user name and password\n"
    "  -k SECONDS         keep alive (default 60; 0 disables)\n"
    "  -c                 no clean start: resume the session (never expires unless -x)\n"
    "  -x SECONDS         session expiry interval\n"
    "  --reconnect        reconnect and resume the session when the connection is lost\n"
    "  -D CMD PROP VALUE  an MQTT 5 property: CMD is connect, publish, subscribe, will or\n"
    "                     disconnect; e.g. -D publish message-expiry-interval 60,\n"
    "                     -D publish user-property KEY VALUE\n"
    "  -d                 print what happens on stderr\n"
    "Will:\n"
    "  --will-topic T --will-payload P --will-qos Q --will-retain\n"
    "TLS (any of these turns TLS on):\n"
    "  --cafile FILE      CA certificates to verify the broker with\n"
    "  --capath DIR       directory of hashed CA certificates\n"
    "  --tls-use-os-certs verify with the system's CA store\n"
    "  --cert FILE --key FILE  client certificate and key\n"
    "  --insecure         do not verify the broker's certificate or name\n"
    "  --tls-server-name NAME  the name to verify (default: the host)\n";

static void usage(const struct cli *cli, int status)
{
    FILE *f = status == 0 ? stdout : stderr;
    if (cli->mode == CLI_PUB) {
        fprintf(f,
                "usage: %s [options] -t TOPIC (-m MESSAGE | -f FILE | -n | -s | -l)\n"
                "Publish:\n"
                "  -t TOPIC           topic to publish to\n"
                "  -m MESSAGE         the payload\n"
                "  -f FILE            the payload is the file's content\n"
                "  -n                 an empty payload\n"
                "  -s                 the payload is standard input\n"
                "  -l                 one message per line of standard input\n"
                "  -q QOS             0, 1 or 2 (default 0); returns once PUBACK/PUBCOMP came\n"
                "  -r                 retain the message\n",
                cli->prog);
    } else if (cli->mode == CLI_SUB) {
        fprintf(f,
                "usage: %s [options] -t FILTER [-t FILTER...]\n"
                "Subscribe:\n"
                "  -t FILTER          topic filter (repeatable)\n"
                "  -q QOS             maximum QoS (default 0)\n"
                "  -C COUNT           exit after COUNT messages\n"
                "  -W SECONDS         exit after SECONDS (status 27 when the time ran out)\n"
                "  -v                 print the topic before the payload\n"
                "  -N                 no newline after the payload\n"
                "  -R                 skip retained messages sent on subscribing\n"
                "  --nl               no local: not our own messages\n"
                "  --rap              retain as published\n"
                "  --rh N             retain handling: 0 send, 1 send if new, 2 never\n",
                cli->prog);
    } else {
        fprintf(f,
                "usage: %s [options] [-t PREFIX] [-q]\n"
                "Subscribes to PREFIX/#, publishes at QoS 0, 1 and 2 to PREFIX/qos0..2,\n"
                "waits for its own messages, unsubscribes and disconnects.\n"
                "  -t PREFIX          topic prefix (default mqttproto/uv)\n"
                "  -W SECONDS         give up after SECONDS (default 20)\n"
                "  -q                 print nothing but errors\n",
                cli->prog);
    }
    fputs(common_usage, f);
    exit(status);
}

static __attribute__((format(printf, 2, 3))) _Noreturn void bad(const struct cli *cli,
                                                                const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cli->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try --help)\n");
    exit(1);
}

static long number(const struct cli *cli, const char *arg, const char *what, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
        bad(cli, "%s must be an integer from %ld to %ld, not '%s'", what, lo, hi, arg);
    }
    return v;
}

static uint32_t number_u32(const struct cli *cli, const char *arg, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (*arg == '\0' || *arg == '-' || *end != '\0' || errno != 0 || v > UINT32_MAX) {
        bad(cli, "%s must be an integer from 0 to %lu, not '%s'", what, (unsigned long)UINT32_MAX,
            arg);
    }
    return (uint32_t)v;
}

static const struct {
    const char *name;
    int id;
} prop_names[] = {
    {"payload-format-indicator", MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR},
    {"message-expiry-interval", MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL},
    {"content-type", MQTTPROTO_PROP_CONTENT_TYPE},
    {"response-topic", MQTTPROTO_PROP_RESPONSE_TOPIC},
    {"correlation-data", MQTTPROTO_PROP_CORRELATION_DATA},
    {"subscription-identifier", MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER},
    {"session-expiry-interval", MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL},
    {"authentication-method", MQTTPROTO_PROP_AUTHENTICATION_METHOD},
    {"authentication-data", MQTTPROTO_PROP_AUTHENTICATION_DATA},
    {"request-problem-information", MQTTPROTO_PROP_REQUEST_PROBLEM_INFORMATION},
    {"will-delay-interval", MQTTPROTO_PROP_WILL_DELAY_INTERVAL},
    {"request-response-information", MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION},
    {"reason-string", MQTTPROTO_PROP_REASON_STRING},
    {"receive-maximum", MQTTPROTO_PROP_RECEIVE_MAXIMUM},
    {"topic-alias-maximum", MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM},
    {"topic-alias", MQTTPROTO_PROP_TOPIC_ALIAS},
    {"user-property", MQTTPROTO_PROP_USER_PROPERTY},
    {"maximum-packet-size", MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE},
};

static void props_init(struct cli_props *p, int context)
{
    memset(p, 0, sizeof *p);
    p->context = context;
    mqttproto_properties_init(&p->props);
}

const mqttproto_properties *cli_props_get(const struct cli_props *p)
{
    return p->props.present != 0 || p->nusers > 0 ? &p->props : NULL;
}

/* -D CMD PROP VALUE [VALUE]: argv[optind] is PROP, then the values. */
static void parse_property(struct cli *cli, const char *cmd, int argc, char **argv)
{
    struct cli_props *set = NULL;
    if (strcmp(cmd, "connect") == 0) {
        set = &cli->connect;
    } else if (strcmp(cmd, "publish") == 0 && cli->mode != CLI_SUB) {
        set = &cli->publish;
    } else if (strcmp(cmd, "subscribe") == 0 && cli->mode != CLI_PUB) {
        set = &cli->subscribe;
    } else if (strcmp(cmd, "will") == 0) {
        set = &cli->will_props;
    } else if (strcmp(cmd, "disconnect") == 0) {
        set = &cli->disconnect;
    } else {
        bad(cli, "-D: unknown or unusable command '%s' (connect, %s, will, disconnect)", cmd,
            cli->mode == CLI_PUB   ? "publish"
            : cli->mode == CLI_SUB ? "subscribe"
                                   : "publish, subscribe");
    }
    if (optind >= argc) {
        bad(cli, "-D %s: a property name is missing", cmd);
    }
    const char *name = argv[optind++];
    int id = 0;
    for (size_t i = 0; i < sizeof prop_names / sizeof prop_names[0]; i++) {
        if (strcmp(prop_names[i].name, name) == 0) {
            id = prop_names[i].id;
        }
    }
    if (id == 0) {
        bad(cli, "-D %s: unknown property '%s'", cmd, name);
    }
    if (id == MQTTPROTO_PROP_TOPIC_ALIAS) {
        bad(cli, "-D %s topic-alias: libmqttproto assigns topic aliases itself", cmd);
    }
    const mqttproto_property_info *info = mqttproto_property_info_get(id);
    int values = info->type == MQTTPROTO_PTYPE_UTF8_PAIR ? 2 : 1;
    if (optind + values > argc) {
        bad(cli, "-D %s %s: %s missing", cmd, name,
            values == 2 ? "a name and a value are" : "a value is");
    }
    const char *v1 = argv[optind++];
    const char *v2 = values == 2 ? argv[optind++] : NULL;
    int r;
    switch (info->type) {
    case MQTTPROTO_PTYPE_UTF8_PAIR:
        if (set->nusers == CLI_MAX_USER_PROPS) {
            bad(cli, "-D %s: at most %d user properties", cmd, CLI_MAX_USER_PROPS);
        }
        set->users[set->nusers].name = mqttproto_str_from_cstr(v1);
        set->users[set->nusers].value = mqttproto_str_from_cstr(v2);
        /* Checked now against the packet type; attached at the end. */
        {
            mqttproto_properties probe;
            mqttproto_properties_init(&probe);
            r = mqttproto_properties_set_user_properties(&probe, set->context,
                                                         &set->users[set->nusers], 1);
        }
        set->nusers++;
        break;
    case MQTTPROTO_PTYPE_UTF8_STRING:
        r = mqttproto_properties_set_str(&set->props, set->context, id,
                                         mqttproto_str_from_cstr(v1));
        break;
    case MQTTPROTO_PTYPE_BINARY:
        r = mqttproto_properties_set_bin(&set->props, set->context, id,
                                         mqttproto_bin_make(v1, strlen(v1)));
        break;
    default:
        r = mqttproto_properties_set_int(&set->props, set->context, id, number_u32(cli, v1, name));
        break;
    }
    if (r < 0) {
        bad(cli, "-D %s %s: %s", cmd, name, mqttproto_strerror(r));
    }
}

static void finish_props(struct cli *cli, struct cli_props *p)
{
    if (p->nusers > 0) {
        int r =
            mqttproto_properties_set_user_properties(&p->props, p->context, p->users, p->nusers);
        if (r < 0) {
            bad(cli, "user properties: %s", mqttproto_strerror(r));
        }
    }
}

/* The connect properties become connect options. */
static void apply_connect_props(struct cli *cli)
{
    mqttproto_connect_options *o = &cli->bo.connect;
    const mqttproto_properties *p = &cli->connect.props;
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL)) {
        o->session_expiry_interval = p->session_expiry_interval;
        cli->session_expiry_given = true;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_RECEIVE_MAXIMUM)) {
        o->receive_maximum = p->receive_maximum;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE)) {
        o->maximum_packet_size = p->maximum_packet_size;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM)) {
        o->topic_alias_maximum = p->topic_alias_maximum;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION)) {
        o->request_response_information = p->request_response_information != 0;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_REQUEST_PROBLEM_INFORMATION)) {
        o->request_problem_information = p->request_problem_information != 0;
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_AUTHENTICATION_METHOD)) {
        bad(cli, "-D connect authentication-method: enhanced authentication is not supported "
                 "by this client");
    }
    o->user_properties = cli->connect.users;
    o->user_property_count = cli->connect.nusers;
}

void cli_parse(struct cli *cli, enum cli_mode mode, int argc, char **argv)
{
    memset(cli, 0, sizeof *cli);
    cli->mode = mode;
    const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
    cli->prog = argc > 0 ? (slash != NULL ? slash + 1 : argv[0]) : "mqttproto";
    mqttproto_blocking_options_default(&cli->bo);
    cli->bo.connect.clean_start = true;
    props_init(&cli->connect, MQTTPROTO_PACKET_CONNECT);
    props_init(&cli->publish, MQTTPROTO_PACKET_PUBLISH);
    props_init(&cli->subscribe, MQTTPROTO_PACKET_SUBSCRIBE);
    props_init(&cli->will_props, MQTTPROTO_PROPERTY_CONTEXT_WILL);
    props_init(&cli->disconnect, MQTTPROTO_PACKET_DISCONNECT);
    cli->will.qos = MQTTPROTO_QOS_AT_MOST_ONCE;

    const char *shorts = mode == CLI_PUB   ? "+h:p:i:u:P:k:cx:D:dt:m:f:nslq:r"
                         : mode == CLI_SUB ? "+h:p:i:u:P:k:cx:D:dt:q:C:W:vNR"
                                           : "+h:p:i:u:P:k:cx:D:dt:W:q";
    long port = 0;
    bool tls = false;
    const char *unix_path = NULL;
    const char *ws_path = NULL;
    bool will_retain = false;
    long will_qos = 0;
    if (mode == CLI_UV) {
        cli->timeout_s = 20;
    }
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, shorts, long_options, NULL)) != -1) {
        switch (opt) {
        case 'h':
            cli->bo.host = optarg;
            break;
        case 'p':
            port = number(cli, optarg, "-p", 1, 65535);
            break;
        case 'i':
            cli->bo.connect.client_id = mqttproto_str_from_cstr(optarg);
            break;
        case 'u':
            cli->bo.connect.has_username = true;
            cli->bo.connect.username = mqttproto_str_from_cstr(optarg);
            break;
        case 'P':
            cli->bo.connect.has_password = true;
            cli->bo.connect.password = mqttproto_bin_make(optarg, strlen(optarg));
            break;
        case 'k':
            cli->bo.connect.keep_alive = (uint16_t)number(cli, optarg, "-k", 0, 65535);
            break;
        case 'c':
            cli->bo.connect.clean_start = false;
            break;
        case 'x':
            cli->bo.connect.session_expiry_interval = number_u32(cli, optarg, "-x");
            cli->session_expiry_given = true;
            break;
        case 'D':
            parse_property(cli, optarg, argc, argv);
            break;
        case 'd':
            cli->debug = true;
            break;
        case 't':
            if (cli->ntopics == CLI_MAX_TOPICS || (mode != CLI_SUB && cli->ntopics == 1)) {
                bad(cli, "too many -t");
            }
            cli->topics[cli->ntopics++] = optarg;
            break;
        case 'm':
        case 'f':
        case 'n':
        case 's':
        case 'l':
            if (cli->source != SRC_NONE) {
                bad(cli, "only one of -m, -f, -n, -s, -l");
            }
            cli->source = opt == 'm'   ? SRC_MESSAGE
                          : opt == 'f' ? SRC_FILE
                          : opt == 'n' ? SRC_NULL
                          : opt == 's' ? SRC_STDIN
                                       : SRC_LINES;
            cli->message = optarg;
            break;
        case 'q':
            if (mode == CLI_UV) {
                cli->quiet = true;
            } else {
                cli->qos = (int)number(cli, optarg, "-q", 0, 2);
            }
            break;
        case 'r':
            cli->retain = true;
            break;
        case 'C':
            cli->count = number(cli, optarg, "-C", 1, LONG_MAX);
            break;
        case 'W':
            cli->timeout_s = number(cli, optarg, "-W", 1, 86400);
            break;
        case 'v':
            cli->verbose = true;
            break;
        case 'N':
            cli->no_eol = true;
            break;
        case 'R':
            cli->skip_retained = true;
            break;
        case OPT_NL:
            cli->no_local = true;
            break;
        case OPT_RAP:
            cli->rap = true;
            break;
        case OPT_RH:
            cli->retain_handling = (int)number(cli, optarg, "--rh", 0, 2);
            break;
        case OPT_WILL_TOPIC:
            cli->will_topic = optarg;
            break;
        case OPT_WILL_PAYLOAD:
            cli->will_payload = optarg;
            break;
        case OPT_WILL_QOS:
            will_qos = number(cli, optarg, "--will-qos", 0, 2);
            break;
        case OPT_WILL_RETAIN:
            will_retain = true;
            break;
        case OPT_CAFILE:
            cli->bo.tls.ca_file = optarg;
            tls = true;
            break;
        case OPT_CAPATH:
            cli->bo.tls.ca_path = optarg;
            tls = true;
            break;
        case OPT_CERT:
            cli->bo.tls.cert_file = optarg;
            tls = true;
            break;
        case OPT_KEY:
            cli->bo.tls.key_file = optarg;
            tls = true;
            break;
        case OPT_INSECURE:
            cli->bo.tls.insecure = true;
            tls = true;
            break;
        case OPT_OS_CERTS:
            tls = true;
            break;
        case OPT_TLS_SERVER_NAME:
            cli->bo.tls.server_name = optarg;
            break;
        case OPT_UNIX:
            unix_path = optarg;
            break;
        case OPT_WS:
            ws_path = optarg;
            break;
        case OPT_RECONNECT:
            cli->bo.reconnect = true;
            break;
        case OPT_HELP:
            usage(cli, 0);
            break;
        case ':':
            bad(cli, "%s needs a value", argv[optind - 1]);
        default:
            if (optopt != 0) {
                bad(cli, "unknown option -%c", optopt);
            }
            bad(cli, "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind != argc) {
        bad(cli, "unexpected argument '%s'", argv[optind]);
    }

    /* The transport. */
    if (unix_path != NULL) {
        if (tls || ws_path != NULL) {
            bad(cli, "--unix goes with neither TLS nor --ws");
        }
        cli->bo.transport = MQTTPROTO_BLOCKING_UNIX;
        cli->bo.host = unix_path;
    } else if (ws_path != NULL) {
        if (ws_path[0] != '/') {
            bad(cli, "--ws needs a path starting with /, such as /mqtt");
        }
        cli->bo.transport = tls ? MQTTPROTO_BLOCKING_WSS : MQTTPROTO_BLOCKING_WS;
        cli->bo.ws_path = ws_path;
    } else {
        cli->bo.transport = tls ? MQTTPROTO_BLOCKING_TLS : MQTTPROTO_BLOCKING_TCP;
    }
    cli->bo.port = (uint16_t)port;
    if (cli->bo.tls.key_file != NULL && cli->bo.tls.cert_file == NULL) {
        bad(cli, "--key needs --cert");
    }

    /* Properties. */
    for (struct cli_props *p = &cli->connect; p <= &cli->disconnect; p++) {
        finish_props(cli, p);
    }
    apply_connect_props(cli);
    if (!cli->bo.connect.clean_start && !cli->session_expiry_given) {
        /* As mosquitto's -c: the session outlives the connection. */
        cli->bo.connect.session_expiry_interval = 0xFFFFFFFFu;
    }
    if (cli->bo.reconnect && !cli->session_expiry_given && cli->bo.connect.clean_start) {
        cli->bo.connect.session_expiry_interval = 300;
    }

    /* The will. */
    if (cli->will_topic != NULL) {
        cli->will.topic = mqttproto_str_from_cstr(cli->will_topic);
        const char *wp = cli->will_payload != NULL ? cli->will_payload : "";
        cli->will.payload = mqttproto_bin_make(wp, strlen(wp));
        cli->will.qos = (mqttproto_qos)will_qos;
        cli->will.retain = will_retain;
        cli->will.properties = cli->will_props.props;
        cli->bo.connect.will = &cli->will;
    } else if (cli->will_payload != NULL || will_retain || will_qos != 0 ||
               cli_props_get(&cli->will_props) != NULL) {
        bad(cli, "the will options need --will-topic");
    }

    /* What each tool needs; topics are checked before connecting. */
    for (size_t i = 0; i < cli->ntopics; i++) {
        mqttproto_str t = mqttproto_str_from_cstr(cli->topics[i]);
        int v =
            mode == CLI_SUB ? mqttproto_topic_filter_validate(t) : mqttproto_topic_name_validate(t);
        if (mode == CLI_UV && v == 0) {
            v = mqttproto_topic_filter_validate(t); /* the prefix also starts a filter */
        }
        if (v < 0) {
            bad(cli, "-t '%s': %s", cli->topics[i], mqttproto_strerror(v));
        }
    }
    if (cli->will_topic != NULL) {
        int v = mqttproto_topic_name_validate(mqttproto_str_from_cstr(cli->will_topic));
        if (v < 0) {
            bad(cli, "--will-topic '%s': %s", cli->will_topic, mqttproto_strerror(v));
        }
    }
    if (mode == CLI_PUB) {
        if (cli->ntopics != 1) {
            bad(cli, "-t TOPIC is required");
        }
        if (cli->source == SRC_NONE) {
            bad(cli, "one of -m, -f, -n, -s or -l is required");
        }
    } else if (mode == CLI_SUB) {
        if (cli->ntopics == 0) {
            bad(cli, "at least one -t FILTER is required");
        }
    } else if (cli->ntopics == 0) {
        cli->topics[cli->ntopics++] = "mqttproto/uv";
    }
}

void cli_report(const struct cli *cli, mqttproto_blocking *c, const char *what, int err)
{
    const char *msg = c != NULL ? mqttproto_blocking_errmsg(c) : "";
    if (msg[0] == '\0') {
        msg = mqttproto_blocking_err_name(err);
    }
    fprintf(stderr, "%s: %s: %s\n", cli->prog, what, msg);
}
