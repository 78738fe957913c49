/*
 * rundir.c: the runtime and storage directories (see rundir.h; MS01-003).
 *
 * Role: make sure nothing holdfast depends on (its runtime directory, the
 * lock and pid file, the control socket, the storage directories) can be
 * created, held or replaced by an unprivileged local user, and say which
 * path is wrong, at once, when it could be.
 *
 * Interface: rundir_prepare() walks an absolute path from "/" one
 * component at a time (openat O_PATH | O_NOFOLLOW, then fstat on the fd,
 * so what is checked is what is walked into), creates the last component
 * if absent and returns an O_DIRECTORY fd for it.  rundir_lock(),
 * rundir_write_pid() and rundir_listen_unix() work relative to that fd.
 *
 * Rules applied by the walk:
 *  - every ancestor, "/" included, is a directory owned by root or by the
 *    target uid and is not group/other writable unless it is sticky; in a
 *    sticky ancestor the next component must itself be owned by root or
 *    uid, which the check of that component covers;
 *  - an intermediate symlink (/var/run -> /run) is followed only if it is
 *    owned by root and sits in a directory that passed the checks; its
 *    target is read with readlinkat on the O_PATH fd and the walk restarts
 *    from "/" on the result, at most RUNDIR_SYMLINKS_MAX times.  ".." is
 *    taken lexically against the real directories walked so far, which is
 *    exact because every symlink before it has already been resolved;
 *  - the last component is never a symlink; if it exists it must be a
 *    directory owned by uid, group gid (unless gid is (gid_t)-1), with no
 *    permission bit outside mode; if absent it is created 0700, then
 *    chowned and chmodded to exactly uid:gid mode (umask-independent).
 *
 * Nothing here blocks: components are opened with O_PATH (a FIFO is never
 * really opened), the lock file with O_NONBLOCK and the lock with LOCK_NB.
 *
 * Limits: a path of at most PATH_MAX - 1 bytes, components of at most
 * NAME_MAX bytes, RUNDIR_SYMLINKS_MAX symlinks and RUNDIR_RESTARTS_MAX
 * restarts of the walk in all (symlinks, ".." and creation races).
 * Names inside the directory (lock, socket) must pass path_check() and be
 * a single component.
 *
 * Known weaknesses:
 *  - The control socket is bound by path (dirpath/name): bind(2) has no
 *    *at form.  The directory was verified writable only by root (or the
 *    target user), so only they could swap it between the check and the
 *    bind.  fchmodat afterwards also goes by name, for the same reason.
 *  - rundir_listen_unix sets the process umask around bind() so that the
 *    socket never exists with a wider mode; umask is process-wide, so it
 *    must not race another thread creating files (the supervisor is
 *    single-threaded).
 *  - Group-writable ancestors are refused even when the group is root's;
 *    a system with such a directory on the path must fix its modes.
 *  - An ancestor's ownership is checked, not its ACLs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h> /* PATH_MAX, NAME_MAX: <limits.h> would be src/core/limits.h */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "path.h"
#include "rundir.h"

#define RUNDIR_SYMLINKS_MAX   8   /* intermediate symlinks followed in one prepare */
#define RUNDIR_RESTARTS_MAX   64  /* walks in one prepare: symlinks, "..", creation races */
#define RUNDIR_LOCK_MODE      0600
#define RUNDIR_LISTEN_BACKLOG 16

#define RUNDIR_WALK_RESTART (-2) /* the walk changed w->pending: walk again from "/" */

struct rundir_walk {
	const char *path; /* as the caller gave it: every message names it */
	uid_t uid;
	gid_t gid;
	mode_t mode;
	char *err;
	size_t errlen;
	unsigned symlinks;
	char pending[PATH_MAX];  /* the absolute path still to walk */
	char resolved[PATH_MAX]; /* real directories walked so far; "" is "/" */
	size_t rlen;
};

static void __attribute__((format(printf, 3, 4)))
rundir_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

static void
rundir_close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

/* ------------------------------------------------------------------ */
/* rundir_prepare                                                      */

static const char *
walk_where(const struct rundir_walk *w)
{
	return w->rlen > 0 ? w->resolved : "/";
}

static int
walk_append(struct rundir_walk *w, const char *comp)
{
	size_t clen = strlen(comp);

	if (w->rlen + 1 + clen >= sizeof w->resolved) {
		errno = ENAMETOOLONG;
		rundir_errf(w->err, w->errlen, "%s: resolves to a path longer than %d bytes", w->path, PATH_MAX - 1);
		return -1;
	}
	w->resolved[w->rlen++] = '/';
	memcpy(w->resolved + w->rlen, comp, clen + 1);
	w->rlen += clen;
	return 0;
}

static void
walk_pop(struct rundir_walk *w)
{
	while (w->rlen > 0 && w->resolved[w->rlen - 1] != '/')
		w->rlen--;
	if (w->rlen > 0)
		w->rlen--;
	w->resolved[w->rlen] = '\0';
}

/* pending = a b c d (concatenated).  Any part may point into pending
 * itself, so the result is built aside first. */
static int
walk_set_pending(struct rundir_walk *w, const char *a, const char *b, const char *c, const char *d)
{
	char next[PATH_MAX];
	int n = snprintf(next, sizeof next, "%s%s%s%s", a, b, c, d);

	if (n < 0 || (size_t)n >= sizeof next) {
		errno = ENAMETOOLONG;
		rundir_errf(w->err, w->errlen, "%s: resolves to a path longer than %d bytes", w->path, PATH_MAX - 1);
		return -1;
	}
	memcpy(w->pending, next, (size_t)n + 1);
	return 0;
}

/* An ancestor (walk_where(w)) the walk is about to descend into. */
static int
walk_check_ancestor(struct rundir_walk *w, const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != w->uid) {
		errno = EPERM;
		rundir_errf(w->err, w->errlen, "%s: parent %s is owned by uid %ju, expected root or uid %ju", w->path,
		            walk_where(w), (uintmax_t)st->st_uid, (uintmax_t)w->uid);
		return -1;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st->st_mode & S_ISVTX) == 0) {
		errno = EPERM;
		rundir_errf(w->err, w->errlen, "%s: parent %s is writable by others (mode %04o, not sticky)", w->path,
		            walk_where(w), (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

/* The directory itself, existing or just created. */
static int
walk_check_final(struct rundir_walk *w, const struct stat *st)
{
	errno = EPERM;
	if (!S_ISDIR(st->st_mode)) {
		errno = ENOTDIR;
		rundir_errf(w->err, w->errlen, "%s: is not a directory", w->path);
		return -1;
	}
	if (st->st_uid != w->uid) {
		rundir_errf(w->err, w->errlen, "%s: owned by uid %ju, expected %ju", w->path, (uintmax_t)st->st_uid,
		            (uintmax_t)w->uid);
		return -1;
	}
	if (w->gid != (gid_t)-1 && st->st_gid != w->gid) {
		rundir_errf(w->err, w->errlen, "%s: group is gid %ju, expected %ju", w->path, (uintmax_t)st->st_gid,
		            (uintmax_t)w->gid);
		return -1;
	}
	if ((st->st_mode & 07777 & ~w->mode) != 0) {
		rundir_errf(w->err, w->errlen, "%s: mode %04o is wider than %04o", w->path,
		            (unsigned)(st->st_mode & 07777), (unsigned)w->mode);
		return -1;
	}
	return 0;
}

/* The last component is absent beneath cur (which passed the ancestor
 * checks): create it.  Returns the O_DIRECTORY fd, -1, or a restart when
 * something appeared there meanwhile (the next walk then checks it). */
static int
walk_create(struct rundir_walk *w, int cur, const char *comp)
{
	struct stat st;
	int fd;

	/* 0700 first: nobody but the owner (root) can use it until it has
	 * its final owner and exact mode. */
	if (mkdirat(cur, comp, 0700) != 0) {
		if (errno == EEXIST)
			return RUNDIR_WALK_RESTART;
		rundir_errf(w->err, w->errlen, "%s: cannot create: %s", w->path, strerror(errno));
		return -1;
	}
	fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rundir_errf(w->err, w->errlen, "%s: cannot open after creating it: %s", w->path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		rundir_errf(w->err, w->errlen, "%s: fstat: %s", w->path, strerror(errno));
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		/* Only possible if someone who may write the parent replaced
		 * our new directory; do not chown theirs. */
		errno = EPERM;
		rundir_errf(w->err, w->errlen, "%s: replaced by uid %ju while being created", w->path,
		            (uintmax_t)st.st_uid);
		goto fail;
	}
	/* chown before chmod: chown may clear set-id bits, chmod then sets
	 * exactly mode; together they make the result umask-independent. */
	if (fchown(fd, w->uid, w->gid) != 0 || fchmod(fd, w->mode) != 0) {
		rundir_errf(w->err, w->errlen, "%s: cannot set owner %ju and mode %04o: %s", w->path,
		            (uintmax_t)w->uid, (unsigned)w->mode, strerror(errno));
		goto fail_remove;
	}
	if (fstat(fd, &st) != 0) {
		rundir_errf(w->err, w->errlen, "%s: fstat: %s", w->path, strerror(errno));
		goto fail;
	}
	if (walk_check_final(w, &st) != 0)
		goto fail;
	return fd;

fail_remove:
	/* Ours and empty: do not leave a half-made directory that the next
	 * start would refuse. */
	unlinkat(cur, comp, AT_REMOVEDIR);
fail:
	rundir_close_keep_errno(fd);
	return -1;
}

/* An intermediate or final symlink, fd its O_PATH | O_NOFOLLOW fd, its own
 * name the last component of w->resolved.  Follows it by rewriting
 * w->pending (restart) or refuses it (-1). */
static int
walk_symlink(struct rundir_walk *w, int fd, const struct stat *st, int last, const char *rest)
{
	char target[PATH_MAX];
	ssize_t n;
	int rc;

	errno = ELOOP;
	if (last) {
		rundir_errf(w->err, w->errlen, "%s: is a symlink", w->path);
		return -1;
	}
	if (st->st_uid != 0) {
		rundir_errf(w->err, w->errlen, "%s: %s is a symlink owned by uid %ju, not root", w->path, w->resolved,
		            (uintmax_t)st->st_uid);
		return -1;
	}
	if (++w->symlinks > RUNDIR_SYMLINKS_MAX) {
		rundir_errf(w->err, w->errlen, "%s: more than %d symlinks", w->path, RUNDIR_SYMLINKS_MAX);
		return -1;
	}
	/* "" with an O_PATH fd on the link: reads this very link, no name
	 * lookup that could be raced. */
	n = readlinkat(fd, "", target, sizeof target);
	if (n < 0) {
		rundir_errf(w->err, w->errlen, "%s: readlink %s: %s", w->path, w->resolved, strerror(errno));
		return -1;
	}
	if (n == 0 || (size_t)n >= sizeof target) {
		errno = ENAMETOOLONG;
		rundir_errf(w->err, w->errlen, "%s: symlink %s has an empty or overlong target", w->path, w->resolved);
		return -1;
	}
	target[n] = '\0';
	walk_pop(w); /* the link's own name: a relative target starts from its directory */
	if (target[0] == '/')
		rc = walk_set_pending(w, target, "", "", rest);
	else
		rc = walk_set_pending(w, w->resolved, "/", target, rest);
	return rc != 0 ? -1 : RUNDIR_WALK_RESTART;
}

/* One walk of w->pending from "/".  Returns the final directory fd, -1 on
 * a refusal (message in w->err), or RUNDIR_WALK_RESTART. */
static int
walk_once(struct rundir_walk *w)
{
	char comp[NAME_MAX + 1];
	const char *p = w->pending, *start, *rest;
	struct stat st;
	size_t clen;
	int cur, fd, last, rc;

	w->rlen = 0;
	w->resolved[0] = '\0';
	if ((cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rundir_errf(w->err, w->errlen, "%s: cannot open /: %s", w->path, strerror(errno));
		return -1;
	}
	if (fstat(cur, &st) != 0) {
		rundir_errf(w->err, w->errlen, "%s: fstat /: %s", w->path, strerror(errno));
		goto fail;
	}
	if (walk_check_ancestor(w, &st) != 0)
		goto fail;
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0') {
			/* Only reached when there is no component at all. */
			errno = EINVAL;
			rundir_errf(w->err, w->errlen, "%s: names the root directory", w->path);
			goto fail;
		}
		start = p;
		while (*p != '\0' && *p != '/')
			p++;
		clen = (size_t)(p - start);
		rest = p; /* into pending: walk_set_pending copies before it writes */
		while (*p == '/')
			p++;
		last = *p == '\0';
		if (clen > NAME_MAX) {
			errno = ENAMETOOLONG;
			rundir_errf(w->err, w->errlen, "%s: a component is longer than %d bytes", w->path, NAME_MAX);
			goto fail;
		}
		memcpy(comp, start, clen);
		comp[clen] = '\0';
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			if (last) {
				errno = EINVAL;
				rundir_errf(w->err, w->errlen, "%s: must not end in '.' or '..'", w->path);
				goto fail;
			}
			if (comp[1] == '\0')
				continue;
			/* "..": everything in resolved is a real directory, so
			 * dropping its last component is the real parent. */
			walk_pop(w);
			if (walk_set_pending(w, w->resolved, "", "", rest) != 0)
				goto fail;
			close(cur);
			return RUNDIR_WALK_RESTART;
		}
		if (walk_append(w, comp) != 0)
			goto fail;
		/* O_PATH: nothing is really opened (no FIFO wait, no device
		 * side effect); O_NOFOLLOW: a symlink is seen, not taken. */
		fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT && last) {
				rc = walk_create(w, cur, comp);
				rundir_close_keep_errno(cur);
				return rc;
			}
			rundir_errf(w->err, w->errlen, "%s: %s: %s", w->path, w->resolved, strerror(errno));
			goto fail;
		}
		if (fstat(fd, &st) != 0) {
			rundir_errf(w->err, w->errlen, "%s: fstat %s: %s", w->path, w->resolved, strerror(errno));
			rundir_close_keep_errno(fd);
			goto fail;
		}
		if (S_ISLNK(st.st_mode)) {
			rc = walk_symlink(w, fd, &st, last, rest);
			rundir_close_keep_errno(fd);
			rundir_close_keep_errno(cur);
			return rc;
		}
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			if (last)
				rundir_errf(w->err, w->errlen, "%s: is not a directory", w->path);
			else
				rundir_errf(w->err, w->errlen, "%s: %s is not a directory", w->path, w->resolved);
			rundir_close_keep_errno(fd);
			goto fail;
		}
		if (last) {
			close(cur);
			cur = fd;
			break;
		}
		if (walk_check_ancestor(w, &st) != 0) {
			rundir_close_keep_errno(fd);
			goto fail;
		}
		close(cur);
		cur = fd;
	}
	/* cur: the existing last component (O_PATH), st: its status. */
	if (walk_check_final(w, &st) != 0)
		goto fail;
	fd = openat(cur, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rundir_errf(w->err, w->errlen, "%s: cannot open: %s", w->path, strerror(errno));
		goto fail;
	}
	close(cur);
	return fd;

fail:
	rundir_close_keep_errno(cur);
	return -1;
}

int
rundir_prepare(const char *path, uid_t uid, gid_t gid, mode_t mode, char *err, size_t errlen)
{
	struct rundir_walk w;
	size_t len;
	int rc, walks;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL || path[0] != '/') {
		errno = EINVAL;
		rundir_errf(err, errlen, "%s: not an absolute path", path != NULL ? path : "(no path)");
		return -1;
	}
	len = strnlen(path, sizeof w.pending);
	if (len >= sizeof w.pending) {
		errno = ENAMETOOLONG;
		rundir_errf(err, errlen, "%.64s...: longer than %d bytes", path, PATH_MAX - 1);
		return -1;
	}
	w.path = path;
	w.uid = uid;
	w.gid = gid;
	w.mode = mode & 07777;
	w.err = err;
	w.errlen = errlen;
	w.symlinks = 0;
	w.rlen = 0;
	w.resolved[0] = '\0';
	memcpy(w.pending, path, len + 1);
	for (walks = 0; walks < RUNDIR_RESTARTS_MAX; walks++) {
		rc = walk_once(&w);
		if (rc != RUNDIR_WALK_RESTART)
			return rc;
	}
	errno = ELOOP;
	rundir_errf(err, errlen, "%s: too many symlinks, '..' components or concurrent changes", path);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Files inside the directory                                          */

static const char *
rundir_dirpath(const char *dirpath)
{
	return dirpath != NULL ? dirpath : "(directory)";
}

/* name must be one plain component: no '/', no "..", no NUL, short. */
static int
rundir_check_name(const char *dirpath, const char *name, char *err, size_t errlen)
{
	int rc;

	if (name == NULL) {
		errno = EINVAL;
		rundir_errf(err, errlen, "%s: no file name given", rundir_dirpath(dirpath));
		return -1;
	}
	rc = path_check(name, strnlen(name, PATH_NAME_MAX_BYTES + 1));
	if (rc == PATH_OK && strchr(name, '/') != NULL)
		rc = PATH_TOO_DEEP;
	if (rc != PATH_OK) {
		errno = EINVAL;
		rundir_errf(err, errlen, "%s/%.255s: not a single file name (%s)", rundir_dirpath(dirpath), name,
		            rc == PATH_TOO_DEEP ? "contains '/'" : path_strerror(rc));
		return -1;
	}
	return 0;
}

int
rundir_lock(int dirfd, const char *dirpath, const char *name, char *err, size_t errlen)
{
	const char *dp = rundir_dirpath(dirpath);
	struct stat st;
	int fd;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (rundir_check_name(dirpath, name, err, errlen) != 0)
		return -1;
	/* O_NONBLOCK: a FIFO squatting the name must not make us wait (it is
	 * refused after fstat).  O_NOCTTY: nor may a terminal become ours.
	 * No O_TRUNC: nothing is written before the checks pass. */
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, RUNDIR_LOCK_MODE);
	if (fd < 0) {
		if (errno == ELOOP)
			rundir_errf(err, errlen, "%s/%s: is a symlink", dp, name);
		else if (errno == EISDIR || errno == ENXIO)
			/* a directory; a socket or a device without a driver */
			rundir_errf(err, errlen, "%s/%s: is not a regular file (%s)", dp, name, strerror(errno));
		else
			rundir_errf(err, errlen, "%s/%s: %s", dp, name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		rundir_errf(err, errlen, "%s/%s: fstat: %s", dp, name, strerror(errno));
		goto fail;
	}
	errno = EPERM;
	if (!S_ISREG(st.st_mode)) {
		rundir_errf(err, errlen, "%s/%s: is not a regular file", dp, name);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		rundir_errf(err, errlen, "%s/%s: owned by uid %ju, expected %ju", dp, name, (uintmax_t)st.st_uid,
		            (uintmax_t)geteuid());
		goto fail;
	}
	if (st.st_nlink != 1) {
		rundir_errf(err, errlen, "%s/%s: has %ju hard links, expected 1", dp, name, (uintmax_t)st.st_nlink);
		goto fail;
	}
	/* flock needs only a read-only fd: a lock file anyone else may open
	 * is a lock anyone else may hold (MS01-003). */
	if ((st.st_mode & 077) != 0) {
		rundir_errf(err, errlen, "%s/%s: mode %04o is wider than %04o", dp, name, (unsigned)(st.st_mode & 07777),
		            (unsigned)RUNDIR_LOCK_MODE);
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			rundir_errf(err, errlen, "%s/%s is locked by another process (is holdfastd already running?)", dp,
			            name);
		else
			rundir_errf(err, errlen, "%s/%s: flock: %s", dp, name, strerror(errno));
		goto fail;
	}
	return fd;

fail:
	rundir_close_keep_errno(fd);
	return -1;
}

int
rundir_write_pid(int fd, pid_t pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)pid);
	size_t off = 0;
	ssize_t wr;

	if (n < 0 || (size_t)n >= sizeof buf) {
		errno = EOVERFLOW;
		return -1;
	}
	if (ftruncate(fd, 0) != 0)
		return -1;
	while (off < (size_t)n) {
		wr = pwrite(fd, buf + off, (size_t)n - off, (off_t)off);
		if (wr < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (wr == 0) {
			errno = EIO;
			return -1;
		}
		off += (size_t)wr;
	}
	return 0;
}

int
rundir_listen_unix(int dirfd, const char *dirpath, const char *name, mode_t mode, char *err, size_t errlen)
{
	const char *dp = rundir_dirpath(dirpath);
	struct sockaddr_un sun;
	struct stat st;
	mode_t old_umask;
	int fd, n, rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (rundir_check_name(dirpath, name, err, errlen) != 0)
		return -1;
	if (dirpath == NULL) {
		errno = EINVAL;
		rundir_errf(err, errlen, "%s/%s: no directory path to bind to", dp, name);
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof sun.sun_path, "%s/%s", dirpath, name);
	if (n < 0 || (size_t)n >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		rundir_errf(err, errlen, "%s/%s: too long for a unix socket address (%d bytes, at most %zu)", dp, name, n,
		            sizeof sun.sun_path - 1);
		return -1;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errno = EEXIST;
			rundir_errf(err, errlen, "%s/%s: exists and is not a socket; refusing to replace it", dp, name);
			return -1;
		}
		/* The caller holds the lock: no live holdfastd owns it. */
		if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
			rundir_errf(err, errlen, "%s/%s: cannot remove stale socket: %s", dp, name, strerror(errno));
			return -1;
		}
	} else if (errno != ENOENT) {
		rundir_errf(err, errlen, "%s/%s: %s", dp, name, strerror(errno));
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rundir_errf(err, errlen, "%s/%s: socket: %s", dp, name, strerror(errno));
		return -1;
	}
	/* bind creates the inode with 0777 & ~umask: with this umask it
	 * never exists with more than mode, not even between bind and chmod. */
	old_umask = umask((mode_t)(~mode & 0777));
	rc = bind(fd, (const struct sockaddr *)&sun, sizeof sun);
	umask(old_umask);
	if (rc != 0) {
		rundir_errf(err, errlen, "%s/%s: bind: %s", dp, name, strerror(errno));
		rundir_close_keep_errno(fd);
		return -1;
	}
	if (fchmodat(dirfd, name, mode & 07777, 0) != 0) {
		rundir_errf(err, errlen, "%s/%s: chmod %04o: %s", dp, name, (unsigned)(mode & 07777), strerror(errno));
		goto fail;
	}
	if (listen(fd, RUNDIR_LISTEN_BACKLOG) != 0) {
		rundir_errf(err, errlen, "%s/%s: listen: %s", dp, name, strerror(errno));
		goto fail;
	}
	return fd;

fail:
	unlinkat(dirfd, name, 0);
	rundir_close_keep_errno(fd);
	return -1;
}
