/* Error messages, names and reason codes, all generated from the one list. */
#include "mqttproto/common.h"

struct error_info {
    int code;
    uint8_t reason_code;
    const char *name;
    const char *message;
};

static const struct error_info errors[] = {
#define X_INFO(name, value, rc, msg) {value, rc, "MQTTPROTO_ERR_" #name, msg},
    MQTTPROTO_ERROR_LIST(X_INFO)
#undef X_INFO
};

static const struct error_info *find_error(int err)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        if (errors[i].code == err) {
            return &errors[i];
        }
    }
    return NULL;
}

const char *mqttproto_strerror(int err)
{
    if (err >= 0) {
        return "success";
    }
    const struct error_info *e = find_error(err);
    return e ? e->message : "unknown error";
}

const char *mqttproto_err_name(int err)
{
    if (err >= 0) {
        return "MQTTPROTO_OK";
    }
    const struct error_info *e = find_error(err);
    return e ? e->name : "MQTTPROTO_ERR_UNKNOWN";
}

uint8_t mqttproto_err_reason_code(int err)
{
    if (err >= 0) {
        return 0x00;
    }
    const struct error_info *e = find_error(err);
    return e ? e->reason_code : 0x80;
}
