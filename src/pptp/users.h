/*
 * users.h: the tunnel's users file: "name password" per line, '#'
 * comments and blank lines ignored.  Read by the service's privileged
 * hook (as root) into static memory, before privileges are dropped; the
 * worker never opens it again.
 *
 * The file must be a regular file owned by root with no group or other
 * permission bits (0600 or narrower), else users_load refuses with an
 * error naming the path and the fault.  Names up to PPP_NAME_MAX_BYTES,
 * passwords up to PPP_PASSWORD_MAX_BYTES, at most PPP_USERS_MAX entries,
 * the file at most PPP_USERS_FILE_MAX_BYTES; anything longer is an error
 * naming the line.  A password has no spaces (the rest of the line after
 * one run of blanks, trailing blanks removed).
 */
#ifndef HF_PPTP_USERS_H
#define HF_PPTP_USERS_H

#include <stddef.h>

/* Loads path, replacing any table loaded before.  0, or -1 with err. */
int users_load(const char *path, char *err, size_t errlen);
/* Parses a buffer as users_load does the file, with no ownership checks
 * (unit tests, fuzzing).  0, or -1 with err. */
int users_load_buf(const char *text, size_t len, char *err, size_t errlen);
/* The password of name (exact, case-sensitive), NUL-terminated, with its
 * length, or NULL.  Static memory. */
const char *users_lookup(const char *name, size_t namelen, size_t *pwlen);
size_t users_count(void);
void users_clear(void);   /* wipes the passwords */

#endif
