#include "mqttproto/mqttproto.h"

const char *mqttproto_version_string(void)
{
    return MQTTPROTO_VERSION_STRING;
}
