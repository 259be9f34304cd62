#include "password_file.h"

#include "base64.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

bool password_line_split(char *line, char **user, char **hash_field)
{
    char *colon = strchr(line, ':');
    if (colon == NULL || colon == line) {
        return false;
    }
    *colon = '\0';
    *user = line;
    *hash_field = colon + 1;
    return true;
}

bool password_user_valid(const char *user)
{
    if (*user == '\0') {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++) {
        if (*p == ':' || *p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

static bool derive(const uint8_t *password, size_t len, const uint8_t *salt, size_t salt_len,
                   uint32_t iterations, uint8_t out[PASSWORD_HASH_LEN])
{
    static const char empty = 0;
    return PKCS5_PBKDF2_HMAC(len > 0 ? (const char *)password : &empty, (int)len, salt,
                             (int)salt_len, (int)iterations, EVP_sha512(), PASSWORD_HASH_LEN,
                             out) == 1;
}

bool password_parse_hash(const char *field, struct password_entry *e, const char **why)
{
    size_t scheme_len = strlen(PASSWORD_SCHEME);
    if (strncmp(field, PASSWORD_SCHEME, scheme_len) != 0) {
        *why = "the hash does not start with $pbkdf2-sha512$";
        return false;
    }
    const char *p = field + scheme_len;
    char *end;
    errno = 0;
    unsigned long it = strtoul(p, &end, 10);
    if (end == p || *end != '$' || errno != 0 || *p < '0' || *p > '9') {
        *why = "the iteration count is not a number";
        return false;
    }
    if (it < PASSWORD_MIN_ITERATIONS || it > PASSWORD_MAX_ITERATIONS) {
        *why = "the iteration count is outside 1000..10000000";
        return false;
    }
    const char *salt = end + 1;
    const char *dollar = strchr(salt, '$');
    if (dollar == NULL) {
        *why = "expected $SALT$HASH after the iteration count";
        return false;
    }
    if (!base64_decode(salt, (size_t)(dollar - salt), e->salt, sizeof e->salt, &e->salt_len) ||
        e->salt_len < 8) {
        *why = "the salt is not base64 of 8 to 64 bytes";
        return false;
    }
    const char *hash = dollar + 1;
    uint8_t buf[PASSWORD_HASH_LEN + 3];
    size_t n;
    if (!base64_decode(hash, strlen(hash), buf, sizeof buf, &n) || n != PASSWORD_HASH_LEN) {
        *why = "the hash is not base64 of 64 bytes";
        return false;
    }
    memcpy(e->hash, buf, PASSWORD_HASH_LEN);
    e->iterations = (uint32_t)it;
    return true;
}

bool password_make(const uint8_t *password, size_t len, uint32_t iterations,
                   struct password_entry *e)
{
    e->iterations = iterations;
    e->salt_len = PASSWORD_SALT_LEN;
    return RAND_bytes(e->salt, (int)e->salt_len) == 1 &&
           derive(password, len, e->salt, e->salt_len, iterations, e->hash);
}

bool password_format(const struct password_entry *e, char *buf, size_t cap)
{
    char salt[BASE64_ENCODED_LEN(PASSWORD_MAX_SALT_LEN) + 1];
    char hash[BASE64_ENCODED_LEN(PASSWORD_HASH_LEN) + 1];
    base64_encode(e->salt, e->salt_len, salt);
    base64_encode(e->hash, PASSWORD_HASH_LEN, hash);
    int n = snprintf(buf, cap, "%s%lu$%s$%s", PASSWORD_SCHEME, (unsigned long)e->iterations, salt,
                     hash);
    return n > 0 && (size_t)n < cap;
}

bool password_verify(const struct password_entry *e, const uint8_t *password, size_t len)
{
    uint8_t got[PASSWORD_HASH_LEN];
    bool ok = derive(password, len, e->salt, e->salt_len, e->iterations, got) &&
              CRYPTO_memcmp(got, e->hash, PASSWORD_HASH_LEN) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return ok;
}

static int compare_entries(const void *a, const void *b)
{
    const struct password_entry *x = a, *y = b;
    size_t n = x->user_len < y->user_len ? x->user_len : y->user_len;
    int c = memcmp(x->user, y->user, n);
    if (c != 0) {
        return c;
    }
    return x->user_len < y->user_len ? -1 : x->user_len > y->user_len;
}

bool password_db_load(struct password_db *db, const char *path)
{
    memset(db, 0, sizeof *db);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "mqttproto-broker: cannot read the password file %s: %s\n", path,
                strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0, entries_cap = 0;
    unsigned lineno = 0;
    bool ok = true;
    ssize_t got;
    while (ok && (got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        const char *s = line;
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s == '\0' || *s == '#') {
            continue;
        }
        char *user, *field;
        const char *why = NULL;
        struct password_entry e;
        memset(&e, 0, sizeof e);
        if (strlen(line) != n) {
            why = "the line holds a NUL byte";
        } else if (!password_line_split(line, &user, &field)) {
            why = "expected NAME:$pbkdf2-sha512$ITERATIONS$SALT$HASH";
        } else if (!password_user_valid(user)) {
            why = "the user name has a control character";
        } else {
            (void)password_parse_hash(field, &e, &why);
        }
        if (why == NULL && db->count == entries_cap) {
            size_t ncap = entries_cap == 0 ? 16 : entries_cap * 2;
            struct password_entry *v = realloc(db->entries, ncap * sizeof *v);
            if (v == NULL) {
                why = "out of memory";
            } else {
                db->entries = v;
                entries_cap = ncap;
            }
        }
        if (why == NULL) {
            e.user_len = strlen(user);
            e.user = malloc(e.user_len + 1);
            if (e.user == NULL) {
                why = "out of memory";
            } else {
                memcpy(e.user, user, e.user_len + 1);
                e.line = lineno;
                db->entries[db->count++] = e;
            }
        }
        if (why != NULL) {
            fprintf(stderr, "mqttproto-broker: %s:%u: %s\n", path, lineno, why);
            ok = false;
        }
    }
    free(line);
    fclose(f);
    if (!ok) {
        password_db_free(db);
        return false;
    }
    if (db->count > 1) {
        qsort(db->entries, db->count, sizeof *db->entries, compare_entries);
    }
    for (size_t i = 1; i < db->count; i++) {
        const struct password_entry *a = &db->entries[i - 1], *b = &db->entries[i];
        if (compare_entries(a, b) == 0) {
            unsigned first = a->line < b->line ? a->line : b->line;
            unsigned second = a->line < b->line ? b->line : a->line;
            fprintf(stderr, "mqttproto-broker: %s:%u: user '%s' is already listed on line %u\n",
                    path, second, a->user, first);
            password_db_free(db);
            return false;
        }
    }
    return true;
}

const struct password_entry *password_db_find(const struct password_db *db, const char *user,
                                              size_t len)
{
    struct password_entry key;
    memset(&key, 0, sizeof key);
    key.user = (char *)(uintptr_t)user;
    key.user_len = len;
    if (db->count == 0) {
        return NULL;
    }
    return bsearch(&key, db->entries, db->count, sizeof *db->entries, compare_entries);
}

void password_db_free(struct password_db *db)
{
    for (size_t i = 0; i < db->count; i++) {
        free(db->entries[i].user);
    }
    free(db->entries);
    memset(db, 0, sizeof *db);
}
