/*
 * mqttproto-sub: subscribe to topic filters and print the messages. Flags
 * follow mosquitto_sub; mqttproto-sub --help lists them.
 *
 * Exit status: 0 after -C messages (or a clean end); 27 when -W ran out;
 * 1 on an error (refused connection, bad certificate, not authorized, a
 * refused subscription, a lost connection), after one line on stderr.
 */
#include "cli_common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void print_message(const struct cli *cli, const mqttproto_blocking_message *m)
{
    if (cli->verbose) {
        fwrite(m->topic, 1, m->topic_len, stdout);
        fputc(' ', stdout);
    }
    fwrite(m->payload, 1, m->payload_len, stdout);
    if (!cli->no_eol) {
        fputc('\n', stdout);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct cli cli;
    cli_parse(&cli, CLI_SUB, argc, argv);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    mqttproto_blocking *c = NULL;
    int r = mqttproto_blocking_create(&cli.bo, &c);
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", cli.prog, mqttproto_blocking_err_name(r));
        return 1;
    }
    r = mqttproto_blocking_connect(c);
    if (r < 0) {
        cli_report(&cli, c, "cannot connect", r);
        mqttproto_blocking_destroy(c);
        return 1;
    }

    mqttproto_subscription subs[CLI_MAX_TOPICS];
    uint8_t codes[CLI_MAX_TOPICS];
    for (size_t i = 0; i < cli.ntopics; i++) {
        memset(&subs[i], 0, sizeof subs[i]);
        subs[i].topic_filter = mqttproto_str_from_cstr(cli.topics[i]);
        subs[i].max_qos = (mqttproto_qos)cli.qos;
        subs[i].no_local = cli.no_local;
        subs[i].retain_as_published = cli.rap;
        subs[i].retain_handling = (mqttproto_retain_handling)cli.retain_handling;
    }
    r = mqttproto_blocking_subscribe(c, subs, cli.ntopics, cli_props_get(&cli.subscribe), codes);
    if (r < 0) {
        cli_report(&cli, c, "subscribe failed", r);
        mqttproto_blocking_destroy(c);
        return 1;
    }
    if (cli.debug) {
        for (size_t i = 0; i < cli.ntopics; i++) {
            fprintf(stderr, "%s: subscribed to %s, granted QoS %u\n", cli.prog, cli.topics[i],
                    codes[i]);
        }
    }

    long long deadline = cli.timeout_s > 0 ? now_ms() + cli.timeout_s * 1000 : 0;
    long received = 0;
    int status = 0;
    while (!stop && (cli.count == 0 || received < cli.count)) {
        int wait = 1000;
        if (deadline != 0) {
            long long left = deadline - now_ms();
            if (left <= 0) {
                fprintf(stderr, "%s: timed out after %ld s with %ld message(s)\n", cli.prog,
                        cli.timeout_s, received);
                status = 27;
                break;
            }
            wait = left < wait ? (int)left : wait;
        }
        mqttproto_blocking_message *m = NULL;
        r = mqttproto_blocking_receive(c, &m, wait);
        if (r < 0) {
            cli_report(&cli, c, "connection lost", r);
            status = 1;
            break;
        }
        if (r == 0) {
            continue;
        }
        if (!(cli.skip_retained && m->retain)) {
            print_message(&cli, m);
            received++;
        }
        mqttproto_blocking_message_free(m);
    }
    if (status != 1) {
        r = mqttproto_blocking_disconnect(c, MQTTPROTO_RC_NORMAL_DISCONNECTION,
                                          cli_props_get(&cli.disconnect));
        if (r < 0 && status == 0) {
            cli_report(&cli, c, "disconnect failed", r);
            status = 1;
        }
    }
    mqttproto_blocking_destroy(c);
    return status;
}
