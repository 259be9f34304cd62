/*
 * Runs a libFuzzer target without libFuzzer, so that every corpus file is
 * also an ordinary test with any compiler.
 *
 * Usage: replay <file or directory>...
 * Each file is passed to LLVMFuzzerTestOneInput once, in a heap buffer of
 * exactly its size; the files of a directory (not its subdirectories or
 * hidden files) run in name order, so that a failure is reproducible. A
 * missing path, an unreadable file or a directory with no input is an error:
 * an empty corpus must not pass silently. A failing input aborts inside the
 * target; its name has been printed just before.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096;
    size_t len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) {
            fprintf(stderr, "replay: out of memory reading %s\n", path);
            fclose(f);
            return -1;
        }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) {
            break;
        }
        cap *= 2;
        uint8_t *bigger = realloc(buf, cap);
        if (bigger == NULL) {
            free(buf);
        }
        buf = bigger;
    }
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy lets AddressSanitizer see reads past the input. */
    uint8_t *exact = malloc(len > 0 ? len : 1);
    if (exact == NULL) {
        fprintf(stderr, "replay: out of memory for %s\n", path);
        free(buf);
        return -1;
    }
    if (len > 0) {
        memcpy(exact, buf, len);
    }
    free(buf);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p != NULL) {
        snprintf(p, n, "%s/%s", dir, name);
    }
    return p;
}

/* Runs the regular files of dir; returns how many ran, or -1. */
static long run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: cannot open directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **paths = NULL;
    size_t count = 0;
    size_t cap = 0;
    int status = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char *path = join(dir, e->d_name);
        struct stat st;
        if (path == NULL || stat(path, &st) != 0) {
            fprintf(stderr, "replay: cannot stat %s/%s\n", dir, e->d_name);
            free(path);
            status = -1;
            break;
        }
        if (!S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (count == cap) {
            cap = cap == 0 ? 64 : cap * 2;
            char **bigger = realloc(paths, cap * sizeof *paths);
            if (bigger == NULL) {
                free(path);
                status = -1;
                break;
            }
            paths = bigger;
        }
        paths[count++] = path;
    }
    closedir(d);
    if (status == 0 && count > 0) {
        qsort(paths, count, sizeof *paths, compare_names);
    }
    long ran = 0;
    for (size_t i = 0; i < count; i++) {
        if (status == 0) {
            if (run_file(paths[i]) != 0) {
                status = -1;
            } else {
                ran++;
            }
        }
        free(paths[i]);
    }
    free(paths);
    if (status != 0) {
        return -1;
    }
    if (ran == 0) {
        fprintf(stderr, "replay: no input in %s\n", dir);
        return -1;
    }
    return ran;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <file or directory>...\n", argv[0]);
        return 2;
    }
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        long ran;
        if (S_ISDIR(st.st_mode)) {
            ran = run_dir(argv[i]);
        } else {
            ran = run_file(argv[i]) == 0 ? 1 : -1;
        }
        if (ran < 0) {
            return 1;
        }
        total += ran;
    }
    printf("replay: ran %ld inputs\n", total);
    return 0;
}
