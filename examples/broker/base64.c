#include "base64.h"

#include <openssl/evp.h>
#include <stdlib.h>

void base64_encode(const uint8_t *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

bool base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    if (len == 0 || len % 4 != 0 || len / 4 * 3 > cap || len > 4096) {
        return false;
    }
    size_t pad = 0;
    if (in[len - 1] == '=') {
        pad++;
        if (in[len - 2] == '=') {
            pad++;
        }
    }
    for (size_t i = 0; i < len - pad; i++) {
        if (in[i] == '=') {
            return false;
        }
    }
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0 || (size_t)n < pad) {
        return false;
    }
    *out_len = (size_t)n - pad;
    return true;
}
