/*
 * path.h: names beneath a directory fd (MS03-029).
 *
 * Every name a peer or a configuration supplies is resolved below a
 * directory the caller already holds open, never from the root or the
 * working directory.  A name is checked before any system call: empty,
 * overlong (whole name PATH_NAME_MAX_BYTES, one component
 * PATH_COMPONENT_MAX_BYTES, depth PATH_COMPONENTS_MAX), containing NUL,
 * containing a ".." component, empty or "." components, and absolute
 * names are each refused with their own error.  Resolution uses openat2()
 * with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it, else
 * a component-by-component walk with O_NOFOLLOW.  Symlinks are never
 * followed.
 *
 * The functions borrow the caller's buffer (name, len: the length is
 * explicit so that a NUL inside is seen) and neither keep nor free it.
 */
#ifndef HF_PATH_H
#define HF_PATH_H

#include <stddef.h>
#include <sys/types.h>

#include "hf_limits.h"

enum path_err {
	PATH_OK = 0,
	PATH_EMPTY = -1,              /* len 0 */
	PATH_TOO_LONG = -2,           /* len > PATH_NAME_MAX_BYTES */
	PATH_COMPONENT_TOO_LONG = -3, /* a component > PATH_COMPONENT_MAX_BYTES */
	PATH_DOTDOT = -4,             /* a ".." component */
	PATH_NUL = -5,                /* a NUL byte inside len */
	PATH_ABSOLUTE = -6,           /* starts with '/' */
	PATH_TOO_DEEP = -7,           /* more than PATH_COMPONENTS_MAX components */
	PATH_BAD_COMPONENT = -8,      /* empty ("a//b", trailing '/') or "." component */
	PATH_SYSTEM = -9,             /* a system call failed: see errno (ELOOP: a symlink) */
};

const char *path_strerror(int err);

/* PATH_OK or the first problem with name. */
int path_check(const char *name, size_t len);

/* Opens name beneath dirfd; O_NOFOLLOW | O_CLOEXEC are always added.
 * Returns an fd, or a negative enum path_err. */
int path_open(int dirfd, const char *name, size_t len, int flags, mode_t mode);
/* Creates the last component as a directory (parents must exist). */
int path_mkdir(int dirfd, const char *name, size_t len, mode_t mode);
/* Removes a file (not a directory) named beneath dirfd. */
int path_unlink(int dirfd, const char *name, size_t len);

/* For tests: on != 0 makes every call use the component walk instead of
 * openat2(), so both resolvers can be exercised on one kernel. */
void path_force_walk(int on);

#endif
