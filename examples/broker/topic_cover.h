/*
 * Whether one topic filter covers another: every topic name the inner
 * filter matches, the outer one matches too. An ACL rule "sensors/#"
 * covers a SUBSCRIBE to "sensors/+/temperature"; "sensors/+" does not
 * cover "sensors/#".
 */
#ifndef BROKER_TOPIC_COVER_H
#define BROKER_TOPIC_COVER_H

#include <mqttproto/mqttproto.h>

#include <stdbool.h>

/**
 * Both filters are valid and not shared ("$share/..." stripped). For an
 * inner filter without wildcards this is mqttproto_topic_matches(outer,
 * inner), which it calls.
 */
bool topic_filter_covers(mqttproto_str outer, mqttproto_str inner);

#endif /* BROKER_TOPIC_COVER_H */
