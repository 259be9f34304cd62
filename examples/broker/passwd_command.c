#include "passwd_command.h"

#include "password_file.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <termios.h>
#include <unistd.h>

#define MAX_PASSWORD 65535 /* what a CONNECT can carry */

static int usage(void)
{
    fputs("usage: mqttproto-broker passwd [--iterations N] FILE USER\n"
          "The password is read from standard input (one line), or asked twice on a terminal.\n",
          stderr);
    return 2;
}

/* One line from @p f without its line ending; NULL at end of input. */
static char *read_line(FILE *f, size_t *len)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (n < 0) {
        free(line);
        return NULL;
    }
    size_t l = (size_t)n;
    while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r')) {
        line[--l] = '\0';
    }
    *len = l;
    return line;
}

static void wipe_free(char *s, size_t len)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, len);
        free(s);
    }
}

static char *prompt(const char *question, size_t *len)
{
    struct termios old, quiet;
    bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    fputs(question, stderr);
    fflush(stderr);
    char *line = read_line(stdin, len);
    if (restore) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    }
    fputc('\n', stderr);
    return line;
}

static char *read_password(size_t *len)
{
    if (!isatty(STDIN_FILENO)) {
        char *line = read_line(stdin, len);
        if (line == NULL) {
            fputs("mqttproto-broker passwd: no password on standard input\n", stderr);
        }
        return line;
    }
    char *a = prompt("Password: ", len);
    if (a == NULL) {
        return NULL;
    }
    size_t blen;
    char *b = prompt("Password again: ", &blen);
    if (b == NULL || blen != *len || memcmp(a, b, blen) != 0) {
        fputs("mqttproto-broker passwd: the passwords differ\n", stderr);
        wipe_free(a, *len);
        wipe_free(b, blen);
        return NULL;
    }
    wipe_free(b, blen);
    return a;
}

/* The user name of a line of the file, if it is a user line. */
static bool line_user(const char *line, size_t *user_len)
{
    const char *s = line;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '\0' || *s == '#' || *s == '\n') {
        return false;
    }
    const char *colon = strchr(line, ':');
    if (colon == NULL) {
        return false;
    }
    *user_len = (size_t)(colon - line);
    return true;
}

/* Write @p path anew: its lines with the user's replaced (or added). */
static int update_file(const char *path, const char *user, const char *entry)
{
    FILE *in = fopen(path, "r");
    if (in == NULL && errno != ENOENT) {
        fprintf(stderr, "mqttproto-broker passwd: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    mode_t mode = 0600;
    struct stat st;
    if (in != NULL && fstat(fileno(in), &st) == 0) {
        mode = st.st_mode & 07777;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (tmp == NULL) {
        if (in != NULL) {
            fclose(in);
        }
        return 1;
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (out == NULL) {
        fprintf(stderr, "mqttproto-broker passwd: cannot write next to %s: %s\n", path,
                strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        if (in != NULL) {
            fclose(in);
        }
        return 1;
    }
    (void)fchmod(fd, mode);
    bool replaced = false;
    size_t ulen = strlen(user);
    if (in != NULL) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, in)) >= 0) {
            size_t l;
            if (line_user(line, &l) && l == ulen && memcmp(line, user, ulen) == 0) {
                if (!replaced) {
                    fprintf(out, "%s:%s\n", user, entry);
                    replaced = true;
                }
                continue; /* a repeated line for the same user goes */
            }
            fwrite(line, 1, (size_t)n, out);
            if (n > 0 && line[n - 1] != '\n') {
                fputc('\n', out);
            }
        }
        free(line);
        fclose(in);
    }
    if (!replaced) {
        fprintf(out, "%s:%s\n", user, entry);
    }
    bool ok = fflush(out) == 0 && fsync(fd) == 0;
    ok = fclose(out) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "mqttproto-broker passwd: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return 1;
    }
    free(tmp);
    printf("mqttproto-broker passwd: %s user '%s' in %s\n", replaced ? "updated" : "added", user,
           path);
    return 0;
}

int passwd_command(int argc, char **argv)
{
    unsigned long iterations = PASSWORD_DEFAULT_ITERATIONS;
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            iterations = strtoul(argv[i + 1], &end, 10);
            if (*argv[i + 1] == '\0' || *end != '\0' || errno != 0 ||
                iterations < PASSWORD_MIN_ITERATIONS || iterations > PASSWORD_MAX_ITERATIONS) {
                fprintf(stderr, "mqttproto-broker passwd: --iterations must be from %d to %d\n",
                        PASSWORD_MIN_ITERATIONS, PASSWORD_MAX_ITERATIONS);
                return 2;
            }
            i += 2;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            return usage();
        }
    }
    if (argc - i != 2) {
        return usage();
    }
    const char *path = argv[i];
    const char *user = argv[i + 1];
    if (!password_user_valid(user)) {
        fputs("mqttproto-broker passwd: a user name must not be empty or hold ':' or a control "
              "character\n",
              stderr);
        return 2;
    }
    size_t len = 0;
    char *pw = read_password(&len);
    if (pw == NULL) {
        return 1;
    }
    if (len == 0 || len > MAX_PASSWORD) {
        fputs("mqttproto-broker passwd: the password must have 1 to 65535 bytes\n", stderr);
        wipe_free(pw, len);
        return 1;
    }
    struct password_entry e;
    memset(&e, 0, sizeof e);
    char field[256];
    bool made = password_make((const uint8_t *)pw, len, (uint32_t)iterations, &e) &&
                password_format(&e, field, sizeof field);
    wipe_free(pw, len);
    OPENSSL_cleanse(&e, sizeof e);
    if (!made) {
        fputs("mqttproto-broker passwd: hashing failed\n", stderr);
        return 1;
    }
    return update_file(path, user, field);
}
