/* The "passwd" subcommand: add a user to a password file or change its password. */
#ifndef BROKER_PASSWD_COMMAND_H
#define BROKER_PASSWD_COMMAND_H

/** argv[0] is "passwd". Returns the exit status (0, 1 failure, 2 usage). */
int passwd_command(int argc, char **argv);

#endif /* BROKER_PASSWD_COMMAND_H */
