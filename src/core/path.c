/*
 * path.c: names beneath a directory fd (see path.h; MS03-029).
 *
 * Role: the one place where a name that came from a peer or from the
 * configuration turns into a file descriptor.  Nothing here resolves from
 * "/" or from the working directory, and nothing follows a symlink.
 *
 * Interface: path_check() validates in memory only; path_open(),
 * path_mkdir() and path_unlink() check first, then resolve beneath dirfd.
 * path_force_walk() (tests only) disables openat2() so that the fallback
 * resolver can be exercised on a kernel that has openat2().
 *
 * Order of precedence in path_check() (each error is reachable alone):
 *   1. len == 0                         PATH_EMPTY
 *   2. len > PATH_NAME_MAX_BYTES        PATH_TOO_LONG
 *   3. a NUL byte within len            PATH_NUL
 *   4. name[0] == '/'                   PATH_ABSOLUTE
 *   5. components, left to right; the first bad component decides, and
 *      within one component: ".." PATH_DOTDOT, then "" or "."
 *      PATH_BAD_COMPONENT, then > PATH_COMPONENT_MAX_BYTES
 *      PATH_COMPONENT_TOO_LONG, then being component number
 *      PATH_COMPONENTS_MAX + 1 PATH_TOO_DEEP.
 * The length is checked before the bytes are scanned for NUL so that the
 * work done on a hostile name is bounded by PATH_NAME_MAX_BYTES whatever
 * len the caller passes (THREATS.md: every length is checked against a
 * named limit before use).
 *
 * Memory: the caller's buffer is only read, within [name, name + len),
 * and never kept or freed; every function copies it into a fixed stack
 * buffer of PATH_NAME_MAX_BYTES + 1 after the check has bounded len.
 * Nothing is allocated.
 *
 * Resolvers: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS) when the kernel has it (5.6+); if it answers
 * ENOSYS, EPERM (a seccomp filter) or E2BIG (an older struct open_how),
 * a walk that opens each intermediate component with O_PATH | O_DIRECTORY
 * | O_NOFOLLOW relative to the previous one, and the last with O_NOFOLLOW.
 * ENOSYS is remembered so later calls go straight to the walk.
 *
 * Limits: PATH_NAME_MAX_BYTES, PATH_COMPONENT_MAX_BYTES,
 * PATH_COMPONENTS_MAX (hf_limits.h).  The walk holds at most two fds.
 *
 * Known weaknesses:
 *  - The walk checks each component at the moment it is opened; a rename
 *    of a directory on the walked chain by someone with write access to
 *    dirfd's tree can move the walk elsewhere inside the tree, but never
 *    out of it by a symlink or "..", since neither is ever taken.
 *  - A bind mount inside dirfd's tree is crossed by both resolvers
 *    (RESOLVE_NO_XDEV is not asked for); the tree's owner controls that.
 *  - With O_PATH | O_NOFOLLOW the kernel would hand back an fd for a
 *    final symlink itself; path_open refuses that too (ELOOP) so that
 *    "no symlinks" holds for every flag combination.
 *  - The "openat2 is missing" flag is a plain static: the services are
 *    single-threaded processes, and the race is benign anyway.
 *  - EPERM from openat2 is ambiguous (seccomp or a real EPERM, e.g. an
 *    immutable file opened for writing); the walk then simply fails again
 *    with the same error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "path.h"

/* The stack copy of a checked name: the name plus its terminating NUL. */
#define PATH_COPY_BYTES (PATH_NAME_MAX_BYTES + 1)

/* Intermediate components: only ever searched, never read or written. */
#define PATH_WALK_DIR_FLAGS (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

#define PATH_RESOLVE_FLAGS (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

static int path_walk_forced;    /* path_force_walk(): tests only */
static int path_openat2_absent; /* the kernel (or a filter) said no once */

void
path_force_walk(int on)
{
	path_walk_forced = on != 0;
}

const char *
path_strerror(int err)
{
	switch (err) {
	case PATH_OK:
		return "no error";
	case PATH_EMPTY:
		return "empty name";
	case PATH_TOO_LONG:
		return "name too long";
	case PATH_COMPONENT_TOO_LONG:
		return "name component too long";
	case PATH_DOTDOT:
		return "name contains a '..' component";
	case PATH_NUL:
		return "name contains a NUL byte";
	case PATH_ABSOLUTE:
		return "name is absolute";
	case PATH_TOO_DEEP:
		return "name has too many components";
	case PATH_BAD_COMPONENT:
		return "name has an empty or '.' component";
	case PATH_SYSTEM:
		return "system call failed";
	default:
		return "unknown path error";
	}
}

int
path_check(const char *name, size_t len)
{
	size_t i, start, clen;
	unsigned depth = 0;

	if (len == 0)
		return PATH_EMPTY;
	if (len > PATH_NAME_MAX_BYTES)
		return PATH_TOO_LONG;
	if (name == NULL)
		return PATH_EMPTY; /* a non-zero len with no buffer: treat as nothing */
	if (memchr(name, '\0', len) != NULL)
		return PATH_NUL;
	if (name[0] == '/')
		return PATH_ABSOLUTE;
	/* One pass; i == len closes the last component (a trailing '/'
	 * therefore yields an empty last component). */
	for (start = 0, i = 0; i <= len; i++) {
		if (i < len && name[i] != '/')
			continue;
		clen = i - start;
		if (clen == 2 && name[start] == '.' && name[start + 1] == '.')
			return PATH_DOTDOT;
		if (clen == 0 || (clen == 1 && name[start] == '.'))
			return PATH_BAD_COMPONENT;
		if (clen > PATH_COMPONENT_MAX_BYTES)
			return PATH_COMPONENT_TOO_LONG;
		if (++depth > PATH_COMPONENTS_MAX)
			return PATH_TOO_DEEP;
		start = i + 1;
	}
	return PATH_OK;
}

/* Checks name and copies it NUL-terminated into copy (PATH_COPY_BYTES). */
static int
path_copy(char *copy, const char *name, size_t len)
{
	int rc = path_check(name, len);

	if (rc != PATH_OK)
		return rc;
	memcpy(copy, name, len);
	copy[len] = '\0';
	return PATH_OK;
}

/* Closes fd without letting close() overwrite the errno being reported. */
static void
path_close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

/* openat2() beneath dirfd.  Returns the fd, or -1 with errno; sets *fallback
 * when the caller should use the walk instead. */
static int
path_openat2(int dirfd, const char *copy, int flags, mode_t mode, int *fallback)
{
	struct open_how how;
	long fd;

	*fallback = 0;
	if (path_walk_forced || path_openat2_absent) {
		*fallback = 1;
		return -1;
	}
	memset(&how, 0, sizeof how);
	/* The flags are passed as an unsigned 64-bit field; go through
	 * unsigned int so that a negative int is not sign-extended into
	 * bits openat2 would reject. */
	how.flags = (unsigned int)(flags | O_NOFOLLOW | O_CLOEXEC);
	/* openat2, unlike openat, refuses a mode without O_CREAT/O_TMPFILE
	 * and any bit outside 07777. */
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		how.mode = mode & 07777;
	how.resolve = PATH_RESOLVE_FLAGS;
	fd = syscall(SYS_openat2, dirfd, copy, &how, sizeof how);
	if (fd >= 0)
		return (int)fd;
	if (errno == ENOSYS) {
		path_openat2_absent = 1;
		*fallback = 1;
	} else if (errno == EPERM || errno == E2BIG) {
		*fallback = 1;
	}
	return -1;
}

/* After ENOTDIR from an open with O_DIRECTORY | O_NOFOLLOW of name beneath
 * fd: a symlink there makes the kernel say ENOTDIR, while
 * openat2(RESOLVE_NO_SYMLINKS) says ELOOP.  Report ELOOP for both so that
 * callers see one errno for "a symlink was in the way" whichever resolver
 * ran.  The fstatat only picks the errno; it decides nothing. */
static void
path_enotdir_errno(int fd, const char *name)
{
	struct stat st;

	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		errno = ELOOP;
	else
		errno = ENOTDIR;
}

/* Opens one intermediate component of the walk beneath fd. */
static int
path_walk_dir(int fd, const char *component)
{
	int next = openat(fd, component, PATH_WALK_DIR_FLAGS);

	if (next < 0 && errno == ENOTDIR)
		path_enotdir_errno(fd, component);
	return next;
}

/* Walks every component of copy but the last, modifying copy in place
 * ('/' becomes NUL).  Returns the parent fd (dirfd itself when there is a
 * single component: the caller must not close that one) and points *last
 * at the last component; -1 with errno on failure. */
static int
path_walk_parent(int dirfd, char *copy, const char **last)
{
	char *comp = copy, *slash;
	int cur = dirfd, next;

	/* path_check bounded the number of iterations to PATH_COMPONENTS_MAX. */
	while ((slash = strchr(comp, '/')) != NULL) {
		*slash = '\0';
		next = path_walk_dir(cur, comp);
		if (cur != dirfd)
			path_close_keep_errno(cur);
		if (next < 0)
			return -1;
		cur = next;
		comp = slash + 1;
	}
	*last = comp;
	return cur;
}

/* Refuses an fd that refers to a symlink (only possible with O_PATH). */
static int
path_refuse_symlink_fd(int fd, int flags)
{
	struct stat st;

	if (!(flags & O_PATH))
		return fd;
	if (fstat(fd, &st) != 0) {
		path_close_keep_errno(fd);
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		close(fd);
		errno = ELOOP;
		return -1;
	}
	return fd;
}

int
path_open(int dirfd, const char *name, size_t len, int flags, mode_t mode)
{
	char copy[PATH_COPY_BYTES];
	const char *last;
	int rc, fd, parent, fallback;

	if ((rc = path_copy(copy, name, len)) != PATH_OK)
		return rc;
	fd = path_openat2(dirfd, copy, flags, mode, &fallback);
	if (fd < 0 && fallback) {
		parent = path_walk_parent(dirfd, copy, &last);
		if (parent < 0)
			return PATH_SYSTEM;
		fd = openat(parent, last, flags | O_NOFOLLOW | O_CLOEXEC, mode);
		if (parent != dirfd)
			path_close_keep_errno(parent);
	}
	if (fd < 0)
		return PATH_SYSTEM;
	if (path_refuse_symlink_fd(fd, flags) < 0)
		return PATH_SYSTEM;
	return fd;
}

/* Opens the directory that holds the last component of copy (modifying
 * copy) and points *last at that component.  Returns the fd (dirfd itself
 * for a one-component name: not to be closed), or -1 with errno. */
static int
path_parent(int dirfd, char *copy, const char **last)
{
	char *slash = strrchr(copy, '/');
	const char *dirname;
	int fd, grand, fallback;

	if (slash == NULL) {
		*last = copy;
		return dirfd;
	}
	*slash = '\0';
	*last = slash + 1;
	fd = path_openat2(dirfd, copy, O_PATH | O_DIRECTORY, 0, &fallback);
	if (fd < 0 && !fallback && errno == ENOTDIR)
		path_enotdir_errno(dirfd, copy);
	if (fd >= 0 || !fallback)
		return fd;
	/* The walk: copy now holds only the parent's name; walk to its own
	 * parent, then open it as one more intermediate component. */
	if ((grand = path_walk_parent(dirfd, copy, &dirname)) < 0)
		return -1;
	fd = path_walk_dir(grand, dirname);
	if (grand != dirfd)
		path_close_keep_errno(grand);
	return fd;
}

int
path_mkdir(int dirfd, const char *name, size_t len, mode_t mode)
{
	char copy[PATH_COPY_BYTES];
	const char *last;
	int rc, parent;

	if ((rc = path_copy(copy, name, len)) != PATH_OK)
		return rc;
	if ((parent = path_parent(dirfd, copy, &last)) < 0)
		return PATH_SYSTEM;
	rc = mkdirat(parent, last, mode);
	if (parent != dirfd)
		path_close_keep_errno(parent);
	return rc == 0 ? PATH_OK : PATH_SYSTEM;
}

int
path_unlink(int dirfd, const char *name, size_t len)
{
	char copy[PATH_COPY_BYTES];
	const char *last;
	int rc, parent;

	if ((rc = path_copy(copy, name, len)) != PATH_OK)
		return rc;
	if ((parent = path_parent(dirfd, copy, &last)) < 0)
		return PATH_SYSTEM;
	/* Flag 0: a directory is refused (EISDIR); a symlink is removed
	 * itself, never its target. */
	rc = unlinkat(parent, last, 0);
	if (parent != dirfd)
		path_close_keep_errno(parent);
	return rc == 0 ? PATH_OK : PATH_SYSTEM;
}
