/*
 * The built-in links of the authentication and authorization chains:
 * the password file authenticator, the anonymous policy (the chain's last
 * authenticator) and the ACL file authorizer (acl.h).
 */
#ifndef BROKER_AUTH_BUILTIN_H
#define BROKER_AUTH_BUILTIN_H

#include "auth.h"

#include <stdbool.h>

/**
 * Checks clients that give a user name against a password file: allow on
 * a match, deny 0x86 (Bad User Name or Password) otherwise; clients
 * without a user name continue. Runs on the thread pool (may_block).
 * False after writing why the file cannot be used.
 */
bool password_authenticator_create(const char *path, struct authenticator *out);

/**
 * The last authenticator: what happens to a client no earlier link
 * decided on. Without a user name: allowed when @p allow_anonymous, else
 * 0x87 (Not authorized). With a user name (so no password file checked
 * it): allowed when @p allow_anonymous, else 0x86.
 */
void anonymous_authenticator_create(bool allow_anonymous, struct authenticator *out);

#endif /* BROKER_AUTH_BUILTIN_H */
