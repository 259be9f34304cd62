#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define DEFAULT_LISTENER "127.0.0.1:1883"

void config_init(struct broker_config *c)
{
    memset(c, 0, sizeof *c);
    mqttproto_broker_settings d;
    mqttproto_broker_settings_default(&d);
    c->max_connections = 0;
    c->receive_maximum = d.receive_maximum;
    c->max_packet_size = d.maximum_packet_size;
    c->max_queued_messages = d.max_queued_messages;
    c->max_queued_bytes = d.max_queued_bytes;
    c->max_keep_alive = 0;
    c->connect_timeout_ms = d.connect_timeout_ms;
    c->max_session_expiry = UINT32_MAX;
    c->max_outbound_bytes = 32u * 1024u * 1024u;
    c->write_timeout_ms = 30000;
    c->shutdown_timeout_ms = 5000;
    c->allow_anonymous = -1;
    c->log_level = LEVEL_INFO;
    c->persistence = false;
    c->persistence_mode = PERSISTENCE_SYNC;
    c->autosave_interval_ms = 60000;
}

void config_clear_listeners(struct broker_config *c)
{
    for (size_t i = 0; i < c->listener_count; i++) {
        listen_address_free(&c->listeners[i]);
    }
    free(c->listeners);
    c->listeners = NULL;
    c->listener_count = 0;
}

void config_free(struct broker_config *c)
{
    config_clear_listeners(c);
    free(c->password_file);
    free(c->acl_file);
    free(c->certfile);
    free(c->keyfile);
    free(c->cafile);
    free(c->persistence_file);
    free(c->data_dir);
    memset(c, 0, sizeof *c);
}

__attribute__((format(printf, 2, 3))) static void report(const char *where, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mqttproto-broker: %s: ", where);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool config_add_listener(struct broker_config *c, const char *text, const char *where)
{
    char err[256];
    struct listen_address a;
    if (!listen_address_parse(text, &a, err, sizeof err)) {
        report(where, "bad listener %s", err);
        return false;
    }
    for (size_t i = 0; i < c->listener_count; i++) {
        if (strcmp(c->listeners[i].text, a.text) == 0) {
            report(where, "listener '%s' is given twice", a.text);
            listen_address_free(&a);
            return false;
        }
    }
    struct listen_address *l = realloc(c->listeners, (c->listener_count + 1) * sizeof *l);
    if (l == NULL) {
        report(where, "out of memory");
        listen_address_free(&a);
        return false;
    }
    c->listeners = l;
    c->listeners[c->listener_count++] = a;
    return true;
}

/* ---- values ---- */

/* A decimal integer from lo to hi. */
static bool parse_uint(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (*v == '\0') {
        return false;
    }
    uint64_t n = 0;
    for (const char *p = v; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10) {
            return false;
        }
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (n < lo || n > hi) {
        return false;
    }
    *out = n;
    return true;
}

/* Bytes: a decimal integer with an optional K, M or G suffix (powers of
   1024; "KiB", "MiB", "GiB" are accepted too). */
static bool parse_size(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    size_t len = strlen(v);
    size_t digits = 0;
    while (digits < len && isdigit((unsigned char)v[digits])) {
        digits++;
    }
    const char *suffix = v + digits;
    uint64_t mult = 1;
    if (*suffix != '\0') {
        char u = (char)toupper((unsigned char)suffix[0]);
        if (u == 'K') {
            mult = 1024u;
        } else if (u == 'M') {
            mult = 1024u * 1024u;
        } else if (u == 'G') {
            mult = 1024u * 1024u * 1024u;
        } else {
            return false;
        }
        if (suffix[1] != '\0' && strcmp(suffix + 1, "iB") != 0 && strcmp(suffix + 1, "B") != 0) {
            return false;
        }
    }
    char num[32];
    if (digits == 0 || digits >= sizeof num) {
        return false;
    }
    memcpy(num, v, digits);
    num[digits] = '\0';
    uint64_t n;
    if (!parse_uint(num, 0, UINT64_MAX / mult, &n)) {
        return false;
    }
    n *= mult;
    if (n < lo || n > hi) {
        return false;
    }
    *out = n;
    return true;
}

static bool parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "true") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(v, "false") == 0) {
        *out = false;
        return true;
    }
    return false;
}

/* A path from the file: relative ones are taken from the file's directory. */
static char *resolve_path(const char *config_path, const char *value)
{
    const char *slash = strrchr(config_path, '/');
    size_t dir_len = value[0] == '/' || slash == NULL ? 0 : (size_t)(slash - config_path) + 1;
    size_t len = strlen(value);
    char *p = malloc(dir_len + len + 1);
    if (p != NULL) {
        memcpy(p, config_path, dir_len);
        memcpy(p + dir_len, value, len + 1);
    }
    return p;
}

/* ---- keys ---- */

enum key_type {
    KEY_LISTENER,
    KEY_UINT,
    KEY_SIZE,
    KEY_SECONDS,
    KEY_BOOL,
    KEY_FLAG, /* a bool field */
    KEY_PATH,
    KEY_LEVEL,
    KEY_PERSISTENCE_MODE,
};

struct key {
    const char *name;
    enum key_type type;
    uint64_t lo, hi;
    size_t offset; /* into struct broker_config */
    size_t width;  /* of the integer field */
};

#define FIELD(f) offsetof(struct broker_config, f), sizeof(((struct broker_config *)0)->f)

static const struct key keys[] = {
    {"listener", KEY_LISTENER, 0, 0, 0, 0},
    {"max_connections", KEY_UINT, 0, 10000000, FIELD(max_connections)},
    {"receive_maximum", KEY_UINT, 1, 65535, FIELD(receive_maximum)},
    {"max_packet_size", KEY_SIZE, 64, 268435455, FIELD(max_packet_size)},
    {"max_queued_messages", KEY_UINT, 1, 10000000, FIELD(max_queued_messages)},
    {"max_queued_bytes", KEY_SIZE, 1024, (uint64_t)1 << 40, FIELD(max_queued_bytes)},
    {"max_keep_alive", KEY_UINT, 0, 65535, FIELD(max_keep_alive)},
    {"connect_timeout", KEY_SECONDS, 1, 3600, FIELD(connect_timeout_ms)},
    {"max_session_expiry", KEY_UINT, 0, UINT32_MAX, FIELD(max_session_expiry)},
    {"max_outbound_bytes", KEY_SIZE, 4096, (uint64_t)1 << 40, FIELD(max_outbound_bytes)},
    {"write_timeout", KEY_SECONDS, 1, 86400, FIELD(write_timeout_ms)},
    {"shutdown_timeout", KEY_SECONDS, 0, 3600, FIELD(shutdown_timeout_ms)},
    {"password_file", KEY_PATH, 0, 0, offsetof(struct broker_config, password_file), 0},
    {"acl_file", KEY_PATH, 0, 0, offsetof(struct broker_config, acl_file), 0},
    {"allow_anonymous", KEY_BOOL, 0, 0, 0, 0},
    {"log_level", KEY_LEVEL, 0, 0, 0, 0},
    {"certfile", KEY_PATH, 0, 0, offsetof(struct broker_config, certfile), 0},
    {"keyfile", KEY_PATH, 0, 0, offsetof(struct broker_config, keyfile), 0},
    {"cafile", KEY_PATH, 0, 0, offsetof(struct broker_config, cafile), 0},
    {"require_certificate", KEY_FLAG, 0, 0, offsetof(struct broker_config, require_certificate), 0},
    {"use_identity_as_username", KEY_FLAG, 0, 0,
     offsetof(struct broker_config, use_identity_as_username), 0},
    {"persistence", KEY_FLAG, 0, 0, offsetof(struct broker_config, persistence), 0},
    {"persistence_file", KEY_PATH, 0, 0, offsetof(struct broker_config, persistence_file), 0},
    {"persistence_mode", KEY_PERSISTENCE_MODE, 0, 0, 0, 0},
    {"autosave_interval", KEY_SECONDS, 1, 86400, FIELD(autosave_interval_ms)},
};
#define KEY_COUNT (sizeof keys / sizeof keys[0])

static void store_uint(struct broker_config *c, const struct key *k, uint64_t v)
{
    char *field = (char *)c + k->offset;
    switch (k->width) {
    case 2: {
        uint16_t x = (uint16_t)v;
        memcpy(field, &x, sizeof x);
        break;
    }
    case 4: {
        uint32_t x = (uint32_t)v;
        memcpy(field, &x, sizeof x);
        break;
    }
    default: {
        size_t x = (size_t)v;
        memcpy(field, &x, sizeof x);
        break;
    }
    }
}

static bool apply_key(struct broker_config *c, const struct key *k, const char *value,
                      const char *path, const char *where)
{
    uint64_t v;
    switch (k->type) {
    case KEY_LISTENER:
        return config_add_listener(c, value, where);
    case KEY_UINT:
        if (!parse_uint(value, k->lo, k->hi, &v)) {
            report(where, "%s must be an integer from %llu to %llu, not '%s'", k->name,
                   (unsigned long long)k->lo, (unsigned long long)k->hi, value);
            return false;
        }
        store_uint(c, k, v);
        return true;
    case KEY_SIZE:
        if (!parse_size(value, k->lo, k->hi, &v)) {
            report(where,
                   "%s must be a size in bytes from %llu to %llu (a K, M or G suffix "
                   "multiplies by 1024, 1024^2, 1024^3), not '%s'",
                   k->name, (unsigned long long)k->lo, (unsigned long long)k->hi, value);
            return false;
        }
        store_uint(c, k, v);
        return true;
    case KEY_SECONDS:
        if (!parse_uint(value, k->lo, k->hi, &v)) {
            report(where, "%s must be a number of seconds from %llu to %llu, not '%s'", k->name,
                   (unsigned long long)k->lo, (unsigned long long)k->hi, value);
            return false;
        }
        store_uint(c, k, v * 1000u);
        return true;
    case KEY_BOOL: {
        bool b;
        if (!parse_bool(value, &b)) {
            report(where, "%s must be true or false, not '%s'", k->name, value);
            return false;
        }
        c->allow_anonymous = b ? 1 : 0;
        return true;
    }
    case KEY_FLAG: {
        bool b;
        if (!parse_bool(value, &b)) {
            report(where, "%s must be true or false, not '%s'", k->name, value);
            return false;
        }
        memcpy((char *)c + k->offset, &b, sizeof b);
        return true;
    }
    case KEY_PATH: {
        char **field = (char **)(void *)((char *)c + k->offset);
        char *p = resolve_path(path, value);
        if (p == NULL) {
            report(where, "out of memory");
            return false;
        }
        free(*field);
        *field = p;
        return true;
    }
    case KEY_LEVEL:
        if (!log_level_parse(value, &c->log_level)) {
            report(where, "log_level must be error, warning, info or debug, not '%s'", value);
            return false;
        }
        return true;
    case KEY_PERSISTENCE_MODE:
        if (strcmp(value, "sync") == 0) {
            c->persistence_mode = PERSISTENCE_SYNC;
        } else if (strcmp(value, "periodic") == 0) {
            c->persistence_mode = PERSISTENCE_PERIODIC;
        } else {
            report(where, "persistence_mode must be sync or periodic, not '%s'", value);
            return false;
        }
        return true;
    }
    return false;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) {
        s[--n] = '\0';
    }
    return s;
}

bool config_load_file(struct broker_config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "mqttproto-broker: cannot read the config file %s: %s\n", path,
                strerror(errno));
        return false;
    }
    unsigned seen[KEY_COUNT];
    memset(seen, 0, sizeof seen);
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    bool ok = true;
    char where[4200];
    ssize_t got;
    while (ok && (got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        snprintf(where, sizeof where, "%s:%u", path, lineno);
        if (strlen(line) != (size_t)got) {
            report(where, "the line holds a NUL byte");
            ok = false;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#') {
            continue;
        }
        char *value = s;
        while (*value != '\0' && *value != ' ' && *value != '\t') {
            value++;
        }
        if (*value != '\0') {
            *value++ = '\0';
        }
        value = trim(value);
        size_t i = 0;
        while (i < KEY_COUNT && strcmp(keys[i].name, s) != 0) {
            i++;
        }
        if (i == KEY_COUNT) {
            report(where, "unknown key '%s' (docs/broker-program.md lists the keys)", s);
            ok = false;
            break;
        }
        if (*value == '\0') {
            report(where, "%s needs a value", s);
            ok = false;
            break;
        }
        if (keys[i].type != KEY_LISTENER && seen[i] != 0) {
            report(where, "%s is already set on line %u", s, seen[i]);
            ok = false;
            break;
        }
        seen[i] = lineno;
        ok = apply_key(c, &keys[i], value, path, where);
    }
    if (ok && ferror(f)) {
        fprintf(stderr, "mqttproto-broker: error reading %s: %s\n", path, strerror(errno));
        ok = false;
    }
    free(line);
    fclose(f);
    return ok;
}

bool config_set_data_dir(struct broker_config *c, const char *dir)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') {
        len--; /* "data/" names the same directory as "data" */
    }
    if (len == 0) {
        report("--data-dir", "the directory is missing");
        return false;
    }
    char *d = malloc(len + 1);
    char *f = malloc(len + sizeof "/" DATA_DIR_STORE_NAME);
    if (d == NULL || f == NULL) {
        free(d);
        free(f);
        report("--data-dir", "out of memory");
        return false;
    }
    memcpy(d, dir, len);
    d[len] = '\0';
    snprintf(f, len + sizeof "/" DATA_DIR_STORE_NAME, "%s%s" DATA_DIR_STORE_NAME, d,
             strcmp(d, "/") == 0 ? "" : "/");
    free(c->data_dir);
    free(c->persistence_file);
    c->data_dir = d;
    c->persistence_file = f;
    c->persistence = true;
    return true;
}

bool config_finish(struct broker_config *c)
{
    if (c->listener_count == 0 && !config_add_listener(c, DEFAULT_LISTENER, "default listener")) {
        return false;
    }
    if (c->allow_anonymous < 0) {
        c->allow_anonymous = c->password_file == NULL ? 1 : 0;
    }
    for (size_t i = 0; i < c->listener_count; i++) {
        enum listen_layers ly = c->listeners[i].layers;
        if ((ly == LAYERS_TLS || ly == LAYERS_WSS) && c->certfile == NULL) {
            fprintf(stderr, "mqttproto-broker: listener '%s' needs a certfile (and keyfile)\n",
                    c->listeners[i].text);
            return false;
        }
    }
    if (c->require_certificate && c->cafile == NULL) {
        fprintf(stderr, "mqttproto-broker: require_certificate needs a cafile\n");
        return false;
    }
    if (c->persistence && c->persistence_file == NULL) {
        fprintf(stderr, "mqttproto-broker: persistence is true but there is no persistence_file "
                        "(or --data-dir)\n");
        return false;
    }
    return true;
}

void config_broker_settings(const struct broker_config *c, mqttproto_broker_settings *s)
{
    mqttproto_broker_settings_default(s);
    s->receive_maximum = c->receive_maximum;
    s->maximum_packet_size = c->max_packet_size;
    s->max_queued_messages = c->max_queued_messages;
    s->max_queued_bytes = c->max_queued_bytes;
    s->max_keep_alive = c->max_keep_alive;
    s->connect_timeout_ms = c->connect_timeout_ms;
    s->max_session_expiry = c->max_session_expiry;
}
