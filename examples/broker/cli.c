#include "cli.h"

#include <mqttproto/mqttproto.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_text[] =
    "Usage: mqttproto-broker [OPTIONS]\n"
    "       mqttproto-broker passwd [--iterations N] FILE USER\n"
    "\n"
    "An MQTT 5 broker built on libmqttproto. Without options it listens on\n"
    "127.0.0.1:1883 and lets clients in without a user name.\n"
    "\n"
    "Options:\n"
    "  -l, --listen ADDRESS   listen on ADDRESS; repeatable. Replaces the config\n"
    "                         file's listeners. ADDRESS is HOST:PORT (IPv4 or a\n"
    "                         name), [IPV6]:PORT, tcp:HOST:PORT or unix:PATH;\n"
    "                         tls:HOST:PORT (TLS), ws:HOST:PORT (WebSocket),\n"
    "                         wss:HOST:PORT (WebSocket over TLS); port 0 picks\n"
    "                         a free port (the log names it)\n"
    "  -c, --config FILE      read settings from FILE (keys below)\n"
    "      --log-level LEVEL  error, warning, info or debug; overrides the file\n"
    "      --data-dir DIR     keep sessions, subscriptions, queued and retained\n"
    "                         messages and wills in DIR/mqttproto-broker.db across\n"
    "                         restarts (persistence true; DIR is created if missing)\n"
    "  -h, --help             print this help and exit\n"
    "  -V, --version          print the version and exit\n"
    "\n"
    "Subcommand:\n"
    "  passwd [--iterations N] FILE USER\n"
    "                         add USER to the password file FILE (created if\n"
    "                         needed, mode 0600) or change its password. The\n"
    "                         password is read from standard input (one line),\n"
    "                         or asked twice when that is a terminal. N: PBKDF2\n"
    "                         iterations, 1000 to 10000000 (default 210000)\n"
    "\n"
    "Config file: one \"key value\" per line; lines starting with '#' are comments.\n"
    "Sizes take a K, M or G suffix (x1024); times are in seconds.\n"
    "  listener ADDRESS          as --listen; repeatable (default 127.0.0.1:1883)\n"
    "  max_connections N         open connections at most; 0: no limit (default 0)\n"
    "  receive_maximum N         QoS 1/2 PUBLISH a client may have in flight to us\n"
    "                            (1-65535, default 64)\n"
    "  max_packet_size SIZE      largest packet accepted (default 1M)\n"
    "  max_queued_messages N     messages queued per session; more are dropped\n"
    "                            (default 1000)\n"
    "  max_queued_bytes SIZE     bytes queued per session; more are dropped\n"
    "                            (default 16M)\n"
    "  max_keep_alive SECONDS    keep alive imposed on clients asking for more or\n"
    "                            for none; 0: what each asks (default 0)\n"
    "  connect_timeout SECONDS   close connections that send no CONNECT (default 10)\n"
    "  max_session_expiry SECONDS  longest session expiry granted (default: no limit)\n"
    "  max_outbound_bytes SIZE   close a connection whose unwritten output exceeds\n"
    "                            this (default 32M)\n"
    "  write_timeout SECONDS     close a connection that reads nothing for this\n"
    "                            long while output waits (default 30)\n"
    "  shutdown_timeout SECONDS  on SIGINT/SIGTERM, wait this long for clients to\n"
    "                            take their DISCONNECT (default 5)\n"
    "  password_file PATH        users and PBKDF2-SHA512 hashes (see passwd)\n"
    "  acl_file PATH             topic access rules per user, client id, pattern\n"
    "  allow_anonymous BOOL      true or false: let in clients no password file\n"
    "                            checked (default: true without a password file,\n"
    "                            false with one)\n"
    "  log_level LEVEL           error, warning, info (default) or debug\n";

/* Split: a string literal this long is beyond what C99 guarantees. */
static const char help_text_tls[] =
    "  certfile PATH             PEM certificate (chain) of tls: and wss: listeners\n"
    "  keyfile PATH              its PEM private key (default: in certfile)\n"
    "  cafile PATH               CAs for client certificates: clients are asked\n"
    "                            for one, and one sent must verify\n"
    "  require_certificate BOOL  refuse TLS clients without a valid certificate\n"
    "                            (needs cafile; default false)\n"
    "  use_identity_as_username BOOL  the client certificate's subject CN is the\n"
    "                            user name authenticators and ACLs see (default\n"
    "                            false)\n";

static const char help_text_store[] =
    "  persistence BOOL          keep the broker's state in persistence_file across\n"
    "                            restarts (default false)\n"
    "  persistence_file PATH     the SQLite file of that state\n"
    "  persistence_mode MODE     sync (default): nothing acknowledged is lost in a\n"
    "                            crash; periodic: saved every autosave_interval and\n"
    "                            at shutdown; a crash loses what changed since\n"
    "                            the last save\n"
    "  autosave_interval SECONDS  periodic mode's interval (default 60)\n"
    "Relative paths in the file are taken from the file's directory.\n"
    "\n"
    "Signals: SIGINT or SIGTERM send DISCONNECT 0x8B (Server shutting down) to\n"
    "every client, close the connections, save the store and exit 0; a second\n"
    "one closes them at once.\n"
    "Exit status: 0 after a clean shutdown, 1 when the broker cannot start\n"
    "serving (e.g. a port in use) or cannot save its store, 2 for a bad option,\n"
    "configuration or store file.\n"
    "docs/broker-program.md describes all of it.\n";

static void usage_hint(void)
{
    fputs("Try 'mqttproto-broker --help'.\n", stderr);
}

enum cli_outcome cli_parse(int argc, char **argv, struct cli_options *out)
{
    memset(out, 0, sizeof *out);
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"data-dir", required_argument, NULL, 'D'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":l:c:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'l': {
            const char **v = realloc(out->listeners, (out->listener_count + 1) * sizeof *v);
            if (v == NULL) {
                fputs("mqttproto-broker: out of memory\n", stderr);
                return CLI_ERROR;
            }
            out->listeners = v;
            v[out->listener_count++] = optarg;
            break;
        }
        case 'c':
            if (out->config_file != NULL) {
                fputs("mqttproto-broker: -c/--config is given twice\n", stderr);
                return CLI_ERROR;
            }
            out->config_file = optarg;
            break;
        case 'L':
            if (!log_level_parse(optarg, &out->log_level)) {
                fprintf(stderr,
                        "mqttproto-broker: --log-level must be error, warning, info or "
                        "debug, not '%s'\n",
                        optarg);
                return CLI_ERROR;
            }
            out->has_log_level = true;
            break;
        case 'D':
            if (out->data_dir != NULL) {
                fputs("mqttproto-broker: --data-dir is given twice\n", stderr);
                return CLI_ERROR;
            }
            out->data_dir = optarg;
            break;
        case 'h':
            fputs(help_text, stdout);
            fputs(help_text_tls, stdout);
            fputs(help_text_store, stdout);
            return CLI_EXIT;
        case 'V':
            printf("mqttproto-broker %s (libmqttproto %s)\n", MQTTPROTO_VERSION_STRING,
                   mqttproto_version_string());
            return CLI_EXIT;
        case ':':
            fprintf(stderr, "mqttproto-broker: option '%s' needs a value\n", argv[optind - 1]);
            usage_hint();
            return CLI_ERROR;
        default:
            fprintf(stderr, "mqttproto-broker: unknown option '%s'\n", argv[optind - 1]);
            usage_hint();
            return CLI_ERROR;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mqttproto-broker: unexpected argument '%s'\n", argv[optind]);
        usage_hint();
        return CLI_ERROR;
    }
    return CLI_RUN;
}

void cli_free(struct cli_options *o)
{
    free(o->listeners);
    memset(o, 0, sizeof *o);
}
