/*
 * mqttproto-broker: an MQTT 5 broker over TCP and UNIX sockets, built on
 * libmqttproto's public API and libuv. See --help and
 * docs/broker-program.md.
 */
#include "acl.h"
#include "auth.h"
#include "auth_builtin.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "passwd_command.h"
#include "server.h"
#include "store_sqlite.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* Everything given on the command line and in the file, checked, before
   anything starts: false after printing why (exit status 2). */
static bool configure(int argc, char **argv, struct broker_config *cfg, bool *exit_now)
{
    struct cli_options opts;
    enum cli_outcome o = cli_parse(argc, argv, &opts);
    *exit_now = o == CLI_EXIT;
    if (o != CLI_RUN) {
        cli_free(&opts);
        return o == CLI_EXIT;
    }
    bool ok = opts.config_file == NULL || config_load_file(cfg, opts.config_file);
    if (ok && opts.listener_count > 0) {
        config_clear_listeners(cfg);
        for (size_t i = 0; ok && i < opts.listener_count; i++) {
            ok = config_add_listener(cfg, opts.listeners[i], "--listen");
        }
    }
    if (ok && opts.has_log_level) {
        cfg->log_level = opts.log_level;
    }
    if (ok && opts.data_dir != NULL) {
        ok = config_set_data_dir(cfg, opts.data_dir);
    }
    ok = ok && config_finish(cfg);
    cli_free(&opts);
    return ok;
}

static bool build_auth(const struct broker_config *cfg, struct auth_chain *chain)
{
    struct authenticator a;
    if (cfg->password_file != NULL) {
        if (!password_authenticator_create(cfg->password_file, &a)) {
            return false;
        }
        if (!auth_chain_add_authenticator(chain, &a)) {
            a.destroy(a.user_data);
            return false;
        }
    }
    anonymous_authenticator_create(cfg->allow_anonymous != 0, &a);
    if (!auth_chain_add_authenticator(chain, &a)) {
        return false;
    }
    if (cfg->acl_file != NULL) {
        struct authorizer z;
        if (!acl_authorizer_create(cfg->acl_file, &z)) {
            return false;
        }
        if (!auth_chain_add_authorizer(chain, &z)) {
            z.destroy(z.user_data);
            return false;
        }
    }
    return true;
}

/* Many clients need many descriptors: take what the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
            log_debug("open file limit raised from %llu to %llu", (unsigned long long)old,
                      (unsigned long long)rl.rlim_cur);
        }
    }
}

/* The store, opened before anything starts: a file that cannot be used
   stops the program (status 2) rather than leaving an empty broker. */
static bool open_store(const struct broker_config *cfg, struct store **out)
{
    *out = NULL;
    if (!cfg->persistence) {
        return true;
    }
    if (cfg->data_dir != NULL && mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "mqttproto-broker: --data-dir %s: cannot create it: %s\n", cfg->data_dir,
                strerror(errno));
        return false;
    }
    char err[1024];
    *out = store_open(cfg->persistence_file, err, sizeof err);
    if (*out == NULL) {
        fprintf(stderr, "mqttproto-broker: %s\n", err);
        return false;
    }
    return true;
}

static void warn_about(const struct broker_config *cfg)
{
    if (cfg->max_outbound_bytes < cfg->max_queued_bytes + cfg->max_packet_size) {
        log_warning("max_outbound_bytes (%zu) is below max_queued_bytes + max_packet_size "
                    "(%zu): a client resuming a full session may be closed for its backlog",
                    cfg->max_outbound_bytes, cfg->max_queued_bytes + cfg->max_packet_size);
    }
    if (cfg->allow_anonymous && cfg->password_file != NULL) {
        log_info("allow_anonymous is true: clients without a user name get in");
    }
    if (!cfg->allow_anonymous && cfg->password_file == NULL) {
        log_warning("allow_anonymous is false and there is no password_file: nobody can connect");
    }
    if (!cfg->persistence && cfg->persistence_file != NULL) {
        log_warning("persistence_file is set but persistence is not true: nothing is saved");
    }
    if (cfg->persistence) {
        log_info("persistence on: %s, persistence_mode %s", cfg->persistence_file,
                 cfg->persistence_mode == PERSISTENCE_SYNC ? "sync" : "periodic");
    }
}

int main(int argc, char **argv)
{
    /* A peer that closes while we write must not kill the broker. */
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "passwd") == 0) {
        return passwd_command(argc - 1, argv + 1);
    }
    struct broker_config cfg;
    config_init(&cfg);
    bool exit_now = false;
    if (!configure(argc, argv, &cfg, &exit_now)) {
        config_free(&cfg);
        return 2;
    }
    if (exit_now) {
        config_free(&cfg);
        return 0;
    }
    log_set_level(cfg.log_level);
    struct auth_chain chain;
    auth_chain_init(&chain);
    if (!build_auth(&cfg, &chain)) {
        auth_chain_free(&chain);
        config_free(&cfg);
        return 2;
    }
    struct store *store;
    if (!open_store(&cfg, &store)) {
        auth_chain_free(&chain);
        config_free(&cfg);
        return 2;
    }
    warn_about(&cfg);
    raise_fd_limit();
    int status = server_run(&cfg, &chain, store);
    store_close(store);
    auth_chain_free(&chain);
    config_free(&cfg);
    return status;
}
