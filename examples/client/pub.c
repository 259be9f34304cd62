/*
 * mqttproto-pub: publish one message (or one per line of standard input)
 * and return once the flow completed at the QoS asked for. Flags follow
 * mosquitto_pub; mqttproto-pub --help lists them.
 *
 * Exit status: 0 when every message was published; 1 otherwise (refused
 * connection, bad certificate, not authorized, a refused PUBLISH, ...),
 * after one line on stderr saying why.
 */
#include "cli_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_stream(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            break;
        }
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int publish_one(const struct cli *cli, mqttproto_blocking *c, const void *data, size_t len)
{
    int r = mqttproto_blocking_publish(c, cli->topics[0], data, len, (mqttproto_qos)cli->qos,
                                       cli->retain, cli_props_get(&cli->publish));
    if (r < 0) {
        cli_report(cli, c, "publish failed", r);
        return r;
    }
    if (cli->debug) {
        fprintf(stderr, "%s: published %zu bytes to %s at QoS %d\n", cli->prog, len, cli->topics[0],
                cli->qos);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct cli cli;
    cli_parse(&cli, CLI_PUB, argc, argv);

    char *payload = NULL;
    size_t payload_len = 0;
    if (cli.source == SRC_MESSAGE) {
        payload_len = strlen(cli.message);
    } else if (cli.source == SRC_FILE || cli.source == SRC_STDIN) {
        FILE *f = cli.source == SRC_FILE ? fopen(cli.message, "rb") : stdin;
        if (f == NULL) {
            fprintf(stderr, "%s: cannot open %s: %s\n", cli.prog, cli.message, strerror(errno));
            return 1;
        }
        payload = read_stream(f, &payload_len);
        if (f != stdin) {
            fclose(f);
        }
        if (payload == NULL) {
            fprintf(stderr, "%s: cannot read %s\n", cli.prog,
                    cli.source == SRC_FILE ? cli.message : "standard input");
            return 1;
        }
    }

    mqttproto_blocking *c = NULL;
    int r = mqttproto_blocking_create(&cli.bo, &c);
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", cli.prog, mqttproto_blocking_err_name(r));
        free(payload);
        return 1;
    }
    r = mqttproto_blocking_connect(c);
    if (r < 0) {
        cli_report(&cli, c, "cannot connect", r);
        mqttproto_blocking_destroy(c);
        free(payload);
        return 1;
    }
    if (cli.debug) {
        mqttproto_str id = mqttproto_client_client_id(mqttproto_blocking_client(c));
        fprintf(stderr, "%s: connected as %.*s\n", cli.prog, (int)id.len, id.data);
    }

    int status = 0;
    if (cli.source == SRC_LINES) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            if (n > 0 && line[n - 1] == '\n') {
                n--;
            }
            if (publish_one(&cli, c, line, (size_t)n) < 0) {
                status = 1;
                break;
            }
        }
        free(line);
    } else {
        const void *data = cli.source == SRC_MESSAGE ? (const void *)cli.message : payload;
        if (publish_one(&cli, c, data, payload_len) < 0) {
            status = 1;
        }
    }
    if (status == 0) {
        r = mqttproto_blocking_disconnect(c, MQTTPROTO_RC_NORMAL_DISCONNECTION,
                                          cli_props_get(&cli.disconnect));
        if (r < 0) {
            cli_report(&cli, c, "disconnect failed", r);
            status = 1;
        }
    }
    mqttproto_blocking_destroy(c);
    free(payload);
    return status;
}
