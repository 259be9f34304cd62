#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LEVEL_INFO;
static bool buffered;
static char pending[64 * 1024];
static size_t pending_len;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_set_level(enum log_level level)
{
    current_level = level;
}

bool log_enabled(enum log_level level)
{
    return level <= current_level;
}

bool log_level_parse(const char *text, enum log_level *out)
{
    for (int i = LEVEL_ERROR; i <= LEVEL_DEBUG; i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    return false;
}

const char *log_level_name(enum log_level level)
{
    return level >= LEVEL_ERROR && level <= LEVEL_DEBUG ? level_names[level] : "unknown";
}

/* Whole lines with write(2), never split by stdio buffering. */
static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return; /* nowhere to log to */
        }
        p += w;
        n -= (size_t)w;
    }
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    time_t secs = tv.tv_sec;
    localtime_r(&secs, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    int k = snprintf(line + n, sizeof line - n, ".%03ld %s: ", (long)(tv.tv_usec / 1000),
                     log_level_name(level));
    if (k > 0) {
        n += (size_t)k;
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (m > 0) {
        n += (size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2;
    }
    line[n++] = '\n';
    if (buffered && level != LEVEL_ERROR) {
        if (pending_len + n > sizeof pending) {
            log_flush();
        }
        memcpy(pending + pending_len, line, n);
        pending_len += n;
        return;
    }
    log_flush();
    write_all(line, n);
}

void log_set_buffered(bool on)
{
    if (!on) {
        log_flush();
    }
    buffered = on;
}

void log_flush(void)
{
    if (pending_len > 0) {
        write_all(pending, pending_len);
        pending_len = 0;
    }
}
