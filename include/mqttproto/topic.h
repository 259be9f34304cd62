/**
 * @file topic.h
 * @brief Topic names, topic filters, matching and shared subscriptions.
 *
 * All functions are pure, never allocate, and take views that they only
 * read during the call.
 */
#ifndef MQTTPROTO_TOPIC_H
#define MQTTPROTO_TOPIC_H

#include "mqttproto/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Validate a topic name (as in PUBLISH, a will or a Response Topic).
 * @return 0, or ::MQTTPROTO_ERR_TOPIC_NAME_INVALID (empty, longer than
 *         65,535 bytes, containing '+' or '#', or a NULL data pointer with a
 *         non-zero length),
 *         ::MQTTPROTO_ERR_INVALID_UTF8, ::MQTTPROTO_ERR_UTF8_NULL_CHARACTER.
 */
MQTTPROTO_API int mqttproto_topic_name_validate(mqttproto_str topic);

/**
 * @brief Validate a topic filter, including a shared subscription filter
 * `$share/{ShareName}/{filter}`.
 * @return 0, or ::MQTTPROTO_ERR_TOPIC_FILTER_INVALID (empty, too long, '#'
 *         not alone and last, '+' not a whole level, bad shared form, or a
 *         NULL data pointer with a non-zero length),
 *         ::MQTTPROTO_ERR_INVALID_UTF8, ::MQTTPROTO_ERR_UTF8_NULL_CHARACTER.
 */
MQTTPROTO_API int mqttproto_topic_filter_validate(mqttproto_str filter);

/**
 * @brief Split a shared subscription filter.
 * @param filter     A topic filter.
 * @param share_name Receives the ShareName when the filter is shared (may be NULL).
 * @param inner      Receives the topic filter after the ShareName, or the
 *                   whole filter when it is not shared (may be NULL).
 * @return 1 when @p filter is a valid shared subscription filter, 0 when it
 *         does not start with "$share/", or ::MQTTPROTO_ERR_TOPIC_FILTER_INVALID
 *         when it starts with "$share/" but is not a valid shared filter, or
 *         when @p filter has a NULL data pointer with a non-zero length.
 *         The views point into @p filter. On 0, @p share_name is empty and
 *         @p inner is the whole filter; on an error both are empty.
 */
MQTTPROTO_API int mqttproto_shared_filter_parse(mqttproto_str filter, mqttproto_str *share_name,
                                                mqttproto_str *inner);

/**
 * @brief Whether topic name @p topic matches topic filter @p filter.
 *
 * '+' matches one whole level, '#' the parent level and any number of
 * levels below it; a filter starting with a wildcard does not match a topic
 * starting with '$'. The filter must not be a shared filter (strip it with
 * mqttproto_shared_filter_parse()). Both are assumed valid; invalid input
 * gives a defined false or true, never a fault. Iterative: the depth of
 * either argument costs no stack.
 */
MQTTPROTO_API bool mqttproto_topic_matches(mqttproto_str filter, mqttproto_str topic);

#ifdef __cplusplus
}
#endif

#endif /* MQTTPROTO_TOPIC_H */
