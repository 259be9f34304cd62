/*
 * Fuzz target for one broker client (the server role on one connection):
 * the input chooses the broker settings, the bytes fed and their chunking,
 * the clock steps, allocation failures and the application's answers
 * (acknowledge_connect, acknowledge_subscribe, authorize_publish, auth,
 * disconnect). The input language and the invariants checked are described
 * in broker_fuzz.c; fuzz/gen_broker_seeds.py writes the seed corpus.
 */
#include "broker_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bf_run(data, size, 0, "fuzz_broker_client");
    return 0;
}
