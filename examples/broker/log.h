/*
 * Logging with levels to stderr: one line per message, prefixed with the
 * local time and the level. Messages above the current level cost one
 * comparison: the macros test the level before the arguments are evaluated.
 */
#ifndef BROKER_LOG_H
#define BROKER_LOG_H

#include <stdbool.h>

enum log_level {
    LEVEL_ERROR = 0,
    LEVEL_WARNING = 1,
    LEVEL_INFO = 2,
    LEVEL_DEBUG = 3,
};

/** Messages of @p level and more severe ones are written (default: info). */
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

/** "error", "warning", "info" or "debug" into @p out; false otherwise. */
bool log_level_parse(const char *text, enum log_level *out);
const char *log_level_name(enum log_level level);

__attribute__((format(printf, 2, 3))) void log_write(enum log_level level, const char *fmt, ...);

/**
 * Buffered mode (the event loop's): lines are kept and written by
 * log_flush(), which the loop calls before it waits for I/O, so a busy
 * loop makes one write() per iteration instead of one per line. Errors
 * are written at once. Off by default: every line is written at once.
 * Only the loop thread logs (thread-pool authenticators do not).
 */
void log_set_buffered(bool on);
void log_flush(void);

#define log_error(...) log_write(LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...)                                                                           \
    do {                                                                                           \
        if (log_enabled(LEVEL_WARNING)) {                                                          \
            log_write(LEVEL_WARNING, __VA_ARGS__);                                                 \
        }                                                                                          \
    } while (0)
#define log_info(...)                                                                              \
    do {                                                                                           \
        if (log_enabled(LEVEL_INFO)) {                                                             \
            log_write(LEVEL_INFO, __VA_ARGS__);                                                    \
        }                                                                                          \
    } while (0)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LEVEL_DEBUG)) {                                                            \
            log_write(LEVEL_DEBUG, __VA_ARGS__);                                                   \
        }                                                                                          \
    } while (0)

#endif /* BROKER_LOG_H */
