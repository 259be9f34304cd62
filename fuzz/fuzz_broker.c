/*
 * Fuzz target for the whole broker with up to four connections: the input
 * chooses the broker settings (authorize_publish, limits, features), which
 * connection gets which bytes and in what chunks, the clock steps, drops
 * and reconnects, allocation failures and the application's answers, so
 * that routing, shared subscriptions, retained messages, sessions resumed
 * and taken over, wills and their delays all meet. The input language and
 * the invariants checked are described in broker_fuzz.c;
 * fuzz/gen_broker_seeds.py writes the seed corpus.
 */
#include "broker_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bf_run(data, size, 1, "fuzz_broker");
    return 0;
}
