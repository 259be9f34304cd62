/*
 * Password files: one user per line,
 *
 *   NAME:$pbkdf2-sha512$ITERATIONS$SALT$HASH
 *
 * SALT and HASH in standard base64; HASH is PBKDF2-HMAC-SHA512 of the
 * password (as the CONNECT carries it, binary) with that salt and
 * iteration count. Blank lines and lines starting with '#' are ignored.
 * NAME is everything before the first ':', so it has no ':' itself.
 */
#ifndef BROKER_PASSWORD_FILE_H
#define BROKER_PASSWORD_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PASSWORD_SCHEME             "$pbkdf2-sha512$"
#define PASSWORD_HASH_LEN           64 /* SHA-512 */
#define PASSWORD_SALT_LEN           16 /* what new entries get */
#define PASSWORD_MAX_SALT_LEN       64
#define PASSWORD_DEFAULT_ITERATIONS 210000 /* OWASP's advice for PBKDF2-HMAC-SHA512 (2023) */
#define PASSWORD_MIN_ITERATIONS     1000
#define PASSWORD_MAX_ITERATIONS     10000000

struct password_entry {
    char *user; /* NUL-terminated */
    size_t user_len;
    uint32_t iterations;
    uint8_t salt[PASSWORD_MAX_SALT_LEN];
    size_t salt_len;
    uint8_t hash[PASSWORD_HASH_LEN];
    unsigned line; /* in the file it was read from */
};

struct password_db {
    struct password_entry *entries; /* sorted by user */
    size_t count;
};

/**
 * Split "NAME:HASHFIELD" in place. False when there is no ':' or the name
 * is empty.
 */
bool password_line_split(char *line, char **user, char **hash_field);

/** Parse the hash field. False with a reason in @p why. */
bool password_parse_hash(const char *field, struct password_entry *e, const char **why);

/** A new entry's salt (random) and hash for @p password. */
bool password_make(const uint8_t *password, size_t len, uint32_t iterations,
                   struct password_entry *e);

/** The hash field of @p e, NUL-terminated, into @p buf. */
bool password_format(const struct password_entry *e, char *buf, size_t cap);

/** Whether @p password hashes to @p e's hash (constant-time compare). */
bool password_verify(const struct password_entry *e, const uint8_t *password, size_t len);

/**
 * Load a password file. False after writing "FILE:LINE: reason" (or why
 * the file cannot be read) to stderr.
 */
bool password_db_load(struct password_db *db, const char *path);

const struct password_entry *password_db_find(const struct password_db *db, const char *user,
                                              size_t len);

void password_db_free(struct password_db *db);

/** Whether @p user may be a name in the file: not empty, no ':', no control character. */
bool password_user_valid(const char *user);

#endif /* BROKER_PASSWORD_FILE_H */
