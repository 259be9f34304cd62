/* The command line: options, --help and --version. */
#ifndef BROKER_CLI_H
#define BROKER_CLI_H

#include "log.h"

#include <stdbool.h>
#include <stddef.h>

struct cli_options {
    const char *config_file; /* NULL: none */
    const char **listeners;  /* --listen, in order */
    size_t listener_count;
    bool has_log_level;
    enum log_level log_level;
    const char *data_dir; /* --data-dir; NULL: none */
};

enum cli_outcome {
    CLI_RUN,   /* start the broker */
    CLI_EXIT,  /* --help or --version printed: exit 0 */
    CLI_ERROR, /* a message was printed: exit 2 */
};

enum cli_outcome cli_parse(int argc, char **argv, struct cli_options *out);
void cli_free(struct cli_options *o);

#endif /* BROKER_CLI_H */
