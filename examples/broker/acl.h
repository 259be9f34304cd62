/*
 * ACL files: which topics a client may publish to and subscribe to.
 *
 *   user NAME            rules for clients accepted with user name NAME
 *   client ID            rules for the client with Client Identifier ID
 *   pattern              rules for every client
 *   topic read|write|readwrite FILTER
 *
 * "topic" lines belong to the section above them. In FILTER, %c stands
 * for the client's Client Identifier and %u for its user name; a rule with
 * %u does not apply to a client without one, and neither applies when the
 * value would be empty or hold '/', '+' or '#'. read allows SUBSCRIBE to
 * filters the rule's filter covers; write allows PUBLISH (and a will) to
 * topics it matches. Anything no rule allows is denied (0x87). Sections
 * of the same kind and name add up. Blank lines and lines starting with
 * '#' are ignored.
 */
#ifndef BROKER_ACL_H
#define BROKER_ACL_H

#include "auth.h"

#include <stdbool.h>

/**
 * An authorizer for the ACL file @p path. False after writing
 * "FILE:LINE: reason" (or why the file cannot be read) to stderr.
 */
bool acl_authorizer_create(const char *path, struct authorizer *out);

#endif /* BROKER_ACL_H */
