/*
 * test_rundir.c: unit tests for src/core/rundir.c (MS01-003).
 *
 * Each test gets a fresh mkdtemp directory under /tmp (root-owned 0700 in
 * the sticky, root-owned /tmp) and plays the local user who got there
 * first: wider modes, foreign owners (uid 65534, set with chown since the
 * tests run as root), symlinks, FIFOs, hard links, held locks and stale
 * sockets.  Every refusal must come at once with a message naming the
 * path.  An alarm turns a hang into a failure; nothing is timed.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "rundir.h"

#define NOBODY ((uid_t)65534)
#define LOCK_NAME "holdfastd.lock"
#define SOCK_NAME "control.sock"
#define HANG_GUARD_SECONDS 60 /* not a timing check: only turns a hang into a failure */

struct fx {
	char base[64];
	char path[256]; /* scratch: base + something */
	char err[512];
};

static int
rm_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(p);
	return 0;
}

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	if (f == NULL)
		return -1;
	strcpy(f->base, "/tmp/hf_rundir_XXXXXX");
	if (mkdtemp(f->base) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* f->path = base/rel */
static const char *
at(struct fx *f, const char *rel)
{
	snprintf(f->path, sizeof f->path, "%s/%s", f->base, rel);
	return f->path;
}

/* A directory base/rel with exactly mode, owner uid:gid. */
static void
make_dir(struct fx *f, const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	char p[256];

	snprintf(p, sizeof p, "%s/%s", f->base, rel);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(chown(p, uid, gid), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static void
make_file(const char *p, mode_t mode)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

#define assert_contains(hay, needle)                                                             \
	do {                                                                                     \
		if (strstr((hay), (needle)) == NULL)                                             \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));             \
	} while (0)

/* A socket inode at p whose listener is gone (a stale control socket). */
static void
make_socket(const char *p)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	assert_true((size_t)snprintf(sun.sun_path, sizeof sun.sun_path, "%s", p) < sizeof sun.sun_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	close(fd);
}

/* A refusal: -1 and a message naming path and saying what. */
static void
assert_refused(int rc, const char *err, const char *path, const char *what)
{
	if (rc >= 0)
		close(rc);
	assert_int_equal(rc, -1);
	assert_contains(err, path);
	assert_contains(err, what);
}

static void
assert_dir(const char *p, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;

	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
}

/* A prepared run directory base/run (0750 root) and its fd. */
static int
prepare_run(struct fx *f)
{
	int fd = rundir_prepare(at(f, "run"), 0, 0, 0750, f->err, sizeof f->err);

	if (fd < 0)
		fail_msg("rundir_prepare: %s", f->err);
	return fd;
}

/* ------------------------------------------------------------------ */
/* rundir_prepare                                                      */

static void
test_prepare_creates(void **state)
{
	struct fx *f = *state;
	mode_t old = umask(077); /* the result must not depend on it */
	int fd, fl, sub;

	fd = rundir_prepare(at(f, "run"), 0, 0, 0750, f->err, sizeof f->err);
	umask(old);
	assert_true(fd >= 0);
	assert_dir(at(f, "run"), 0750, 0, 0);
	/* A real O_DIRECTORY fd (not O_PATH), close-on-exec. */
	fl = fcntl(fd, F_GETFL);
	assert_true(fl >= 0);
	assert_int_equal(fl & O_PATH, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	sub = openat(fd, "probe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(sub >= 0);
	close(sub);
	close(fd);

	/* Accepted again as it is now; a narrower existing mode is fine. */
	fd = rundir_prepare(at(f, "run"), 0, 0, 0750, f->err, sizeof f->err);
	assert_true(fd >= 0);
	close(fd);
	fd = rundir_prepare(at(f, "run"), 0, 0, 0755, f->err, sizeof f->err);
	assert_true(fd >= 0);
	close(fd);

	/* For another user (a service's storage), with trailing slashes. */
	old = umask(0);
	fd = rundir_prepare(at(f, "svc//"), NOBODY, NOBODY, 0700, f->err, sizeof f->err);
	umask(old);
	assert_true(fd >= 0);
	close(fd);
	assert_dir(at(f, "svc"), 0700, NOBODY, NOBODY);
}

static void
test_prepare_wider_mode(void **state)
{
	struct fx *f = *state;

	make_dir(f, "run", 0777, 0, 0);
	assert_refused(rundir_prepare(at(f, "run"), 0, 0, 0750, f->err, sizeof f->err), f->err, at(f, "run"),
	               "mode 0777 is wider than 0750");
	/* Not "repaired" behind the operator's back. */
	assert_dir(at(f, "run"), 0777, 0, 0);
	assert_int_equal(chmod(at(f, "run"), 02750), 0);
	assert_refused(rundir_prepare(at(f, "run"), 0, 0, 0750, f->err, sizeof f->err), f->err, at(f, "run"),
	               "mode 2750 is wider than 0750");
}

static void
test_prepare_symlink_final(void **state)
{
	struct fx *f = *state;
	char target[256];

	make_dir(f, "real", 0750, 0, 0);
	snprintf(target, sizeof target, "%s/real", f->base);
	assert_int_equal(symlink(target, at(f, "run")), 0);
	assert_refused(rundir_prepare(at(f, "run"), 0, 0, 0750, f->err, sizeof f->err), f->err, at(f, "run"),
	               "is a symlink");
	/* A dangling one too: never created through. */
	assert_int_equal(symlink("nowhere", at(f, "run2")), 0);
	assert_refused(rundir_prepare(at(f, "run2"), 0, 0, 0750, f->err, sizeof f->err), f->err, at(f, "run2"),
	               "is a symlink");
	assert_int_equal(access(at(f, "nowhere"), F_OK), -1);
}

static void
test_prepare_other_owner(void **state)
{
	struct fx *f = *state;
	int fd;

	make_dir(f, "run", 0750, NOBODY, 0);
	assert_refused(rundir_prepare(at(f, "run"), 0, 0, 0750, f->err, sizeof f->err), f->err, at(f, "run"),
	               "owned by uid 65534, expected 0");
	/* Group checked unless (gid_t)-1. */
	make_dir(f, "grp", 0750, 0, NOBODY);
	assert_refused(rundir_prepare(at(f, "grp"), 0, 0, 0750, f->err, sizeof f->err), f->err, at(f, "grp"),
	               "gid 65534, expected 0");
	fd = rundir_prepare(at(f, "grp"), 0, (gid_t)-1, 0750, f->err, sizeof f->err);
	assert_true(fd >= 0);
	close(fd);
}

static void
test_prepare_parent_writable(void **state)
{
	struct fx *f = *state;
	char parent[256];

	make_dir(f, "open", 0777, 0, 0);
	snprintf(parent, sizeof parent, "parent %s/open is writable by others", f->base);
	assert_refused(rundir_prepare(at(f, "open/run"), 0, 0, 0750, f->err, sizeof f->err), f->err,
	               at(f, "open/run"), parent);
	assert_int_equal(access(at(f, "open/run"), F_OK), -1); /* nothing created */
	/* Group-writable is refused as well, and a deeper path too. */
	make_dir(f, "g", 0775, 0, 0);
	make_dir(f, "g/x", 0755, 0, 0);
	assert_refused(rundir_prepare(at(f, "g/x/run"), 0, 0, 0750, f->err, sizeof f->err), f->err,
	               at(f, "g/x/run"), "writable by others");
}

static void
test_prepare_parent_sticky(void **state)
{
	struct fx *f = *state;
	int fd;

	make_dir(f, "sticky", 01777, 0, 0);
	fd = rundir_prepare(at(f, "sticky/run"), 0, 0, 0750, f->err, sizeof f->err);
	if (fd < 0)
		fail_msg("%s", f->err);
	close(fd);
	assert_dir(at(f, "sticky/run"), 0750, 0, 0);
	/* What another user put in the sticky directory is not accepted,
	 * neither as the directory nor as an ancestor. */
	make_dir(f, "sticky/squat", 0750, NOBODY, NOBODY);
	assert_refused(rundir_prepare(at(f, "sticky/squat"), 0, 0, 0750, f->err, sizeof f->err), f->err,
	               at(f, "sticky/squat"), "owned by uid 65534");
	assert_refused(rundir_prepare(at(f, "sticky/squat/run"), 0, 0, 0750, f->err, sizeof f->err), f->err,
	               at(f, "sticky/squat/run"), "is owned by uid 65534");
}

static void
test_prepare_parent_owner(void **state)
{
	struct fx *f = *state;
	int fd;

	make_dir(f, "u", 0755, NOBODY, NOBODY);
	assert_refused(rundir_prepare(at(f, "u/run"), 0, 0, 0750, f->err, sizeof f->err), f->err, at(f, "u/run"),
	               "is owned by uid 65534");
	/* The target user may own its own ancestors. */
	fd = rundir_prepare(at(f, "u/run"), NOBODY, NOBODY, 0700, f->err, sizeof f->err);
	if (fd < 0)
		fail_msg("%s", f->err);
	close(fd);
}

static void
test_prepare_intermediate_symlink(void **state)
{
	struct fx *f = *state;
	char target[256];
	int fd;

	/* Root-owned links to a good directory are followed (like
	 * /var/run -> /run or ../run): absolute, relative, with "..". */
	make_dir(f, "real", 0755, 0, 0);
	make_dir(f, "x", 0755, 0, 0);
	snprintf(target, sizeof target, "%s/real", f->base);
	assert_int_equal(symlink(target, at(f, "abs")), 0);
	assert_int_equal(symlink("real", at(f, "rel")), 0);
	assert_int_equal(symlink("../real", at(f, "x/up")), 0);
	assert_int_equal(symlink("rel", at(f, "chain")), 0);

	fd = rundir_prepare(at(f, "abs/r1"), 0, 0, 0750, f->err, sizeof f->err);
	if (fd < 0)
		fail_msg("%s", f->err);
	close(fd);
	assert_dir(at(f, "real/r1"), 0750, 0, 0);
	fd = rundir_prepare(at(f, "rel/r2"), 0, 0, 0750, f->err, sizeof f->err);
	if (fd < 0)
		fail_msg("%s", f->err);
	close(fd);
	assert_dir(at(f, "real/r2"), 0750, 0, 0);
	fd = rundir_prepare(at(f, "x/up/r3"), 0, 0, 0750, f->err, sizeof f->err);
	if (fd < 0)
		fail_msg("%s", f->err);
	close(fd);
	assert_dir(at(f, "real/r3"), 0750, 0, 0);
	fd = rundir_prepare(at(f, "chain/r4"), 0, 0, 0750, f->err, sizeof f->err);
	if (fd < 0)
		fail_msg("%s", f->err);
	close(fd);
	assert_dir(at(f, "real/r4"), 0750, 0, 0);

	/* The link's target directory is checked like any other. */
	make_dir(f, "bad", 0777, 0, 0);
	assert_int_equal(symlink("bad", at(f, "tobad")), 0);
	assert_refused(rundir_prepare(at(f, "tobad/run"), 0, 0, 0750, f->err, sizeof f->err), f->err,
	               at(f, "tobad/run"), "writable by others");

	/* A link not owned by root is not followed. */
	assert_int_equal(symlink("real", at(f, "userlink")), 0);
	assert_int_equal(lchown(at(f, "userlink"), NOBODY, NOBODY), 0);
	assert_refused(rundir_prepare(at(f, "userlink/run"), 0, 0, 0750, f->err, sizeof f->err), f->err,
	               at(f, "userlink/run"), "symlink owned by uid 65534");
	assert_int_equal(access(at(f, "real/run"), F_OK), -1);
}

static void
test_prepare_symlink_loop(void **state)
{
	struct fx *f = *state;

	assert_int_equal(symlink("loop", at(f, "loop")), 0);
	assert_refused(rundir_prepare(at(f, "loop/run"), 0, 0, 0750, f->err, sizeof f->err), f->err,
	               at(f, "loop/run"), "symlinks");
	assert_int_equal(symlink("pong", at(f, "ping")), 0);
	assert_int_equal(symlink("ping", at(f, "pong")), 0);
	assert_refused(rundir_prepare(at(f, "ping/run"), 0, 0, 0750, f->err, sizeof f->err), f->err,
	               at(f, "ping/run"), "symlinks");
}

static void
test_prepare_not_dirs(void **state)
{
	struct fx *f = *state;

	assert_refused(rundir_prepare("relative/run", 0, 0, 0750, f->err, sizeof f->err), f->err, "relative/run",
	               "not an absolute path");
	assert_int_equal(rundir_prepare(NULL, 0, 0, 0750, f->err, sizeof f->err), -1);
	assert_refused(rundir_prepare("/", 0, 0, 0750, f->err, sizeof f->err), f->err, "/", "root directory");

	make_file(at(f, "file"), 0600);
	assert_refused(rundir_prepare(at(f, "file"), 0, 0, 0750, f->err, sizeof f->err), f->err, at(f, "file"),
	               "is not a directory");
	assert_refused(rundir_prepare(at(f, "file/run"), 0, 0, 0750, f->err, sizeof f->err), f->err,
	               at(f, "file/run"), "is not a directory");
	/* A FIFO squatting the name: refused at once, never opened. */
	assert_int_equal(mkfifo(at(f, "fifo"), 0600), 0);
	assert_refused(rundir_prepare(at(f, "fifo"), 0, 0, 0750, f->err, sizeof f->err), f->err, at(f, "fifo"),
	               "is not a directory");
	/* A missing intermediate directory is not created. */
	assert_refused(rundir_prepare(at(f, "a/b"), 0, 0, 0750, f->err, sizeof f->err), f->err, at(f, "a/b"),
	               "No such file");
	/* An error buffer of 0 bytes is left alone. */
	assert_int_equal(rundir_prepare(at(f, "file"), 0, 0, 0750, NULL, 0), -1);
}

/* ------------------------------------------------------------------ */
/* rundir_lock, rundir_write_pid                                        */

static void
test_lock_twice(void **state)
{
	struct fx *f = *state;
	char lockpath[256], want[400];
	struct stat st;
	int dfd = prepare_run(f), l1, l2;

	snprintf(lockpath, sizeof lockpath, "%s/run/%s", f->base, LOCK_NAME);
	l1 = rundir_lock(dfd, at(f, "run"), LOCK_NAME, f->err, sizeof f->err);
	if (l1 < 0)
		fail_msg("%s", f->err);
	assert_int_equal(fstat(l1, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(fcntl(l1, F_GETFD) & FD_CLOEXEC);
	/* A second open file description, same process: flock says no. */
	l2 = rundir_lock(dfd, at(f, "run"), LOCK_NAME, f->err, sizeof f->err);
	snprintf(want, sizeof want, "%s is locked by another process (is holdfastd already running?)", lockpath);
	assert_refused(l2, f->err, lockpath, want);
	/* Released with its holder. */
	close(l1);
	l2 = rundir_lock(dfd, at(f, "run"), LOCK_NAME, f->err, sizeof f->err);
	assert_true(l2 >= 0);
	close(l2);
	close(dfd);
}

static void
test_lock_symlink(void **state)
{
	struct fx *f = *state;
	char lockpath[256], target[256];
	struct stat st;
	int dfd = prepare_run(f);

	snprintf(target, sizeof target, "%s/victim", f->base);
	make_file(target, 0644);
	assert_int_equal(symlinkat(target, dfd, LOCK_NAME), 0);
	snprintf(lockpath, sizeof lockpath, "%s/run/%s", f->base, LOCK_NAME);
	assert_refused(rundir_lock(dfd, at(f, "run"), LOCK_NAME, f->err, sizeof f->err), f->err, lockpath,
	               "is a symlink");
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* A dangling one creates nothing. */
	assert_int_equal(unlinkat(dfd, LOCK_NAME, 0), 0);
	snprintf(target, sizeof target, "%s/created", f->base);
	assert_int_equal(symlinkat(target, dfd, LOCK_NAME), 0);
	assert_refused(rundir_lock(dfd, at(f, "run"), LOCK_NAME, f->err, sizeof f->err), f->err, lockpath,
	               "is a symlink");
	assert_int_equal(access(target, F_OK), -1);
	close(dfd);
}

static void
test_lock_fifo(void **state)
{
	struct fx *f = *state;
	char lockpath[256];
	int dfd = prepare_run(f);

	assert_int_equal(mkfifoat(dfd, LOCK_NAME, 0600), 0);
	snprintf(lockpath, sizeof lockpath, "%s/run/%s", f->base, LOCK_NAME);
	assert_refused(rundir_lock(dfd, at(f, "run"), LOCK_NAME, f->err, sizeof f->err), f->err, lockpath,
	               "not a regular file");
	close(dfd);
}

static void
test_lock_hardlink(void **state)
{
	struct fx *f = *state;
	char lockpath[256];
	int dfd = prepare_run(f);

	make_file(at(f, "run/other"), 0600);
	assert_int_equal(linkat(dfd, "other", dfd, LOCK_NAME, 0), 0);
	snprintf(lockpath, sizeof lockpath, "%s/run/%s", f->base, LOCK_NAME);
	assert_refused(rundir_lock(dfd, at(f, "run"), LOCK_NAME, f->err, sizeof f->err), f->err, lockpath,
	               "hard links");
	close(dfd);
}

static void
test_lock_owner_mode(void **state)
{
	struct fx *f = *state;
	char lockpath[256];
	int dfd = prepare_run(f);

	snprintf(lockpath, sizeof lockpath, "%s/run/%s", f->base, LOCK_NAME);
	make_file(lockpath, 0600);
	assert_int_equal(chown(lockpath, NOBODY, NOBODY), 0);
	assert_refused(rundir_lock(dfd, at(f, "run"), LOCK_NAME, f->err, sizeof f->err), f->err, lockpath,
	               "owned by uid 65534");
	assert_int_equal(chown(lockpath, 0, 0), 0);
	/* Readable by others means lockable by others (flock needs no
	 * write access). */
	assert_int_equal(chmod(lockpath, 0644), 0);
	assert_refused(rundir_lock(dfd, at(f, "run"), LOCK_NAME, f->err, sizeof f->err), f->err, lockpath,
	               "mode 0644 is wider than 0600");
	/* A directory, a socket, a bad name. */
	assert_int_equal(mkdirat(dfd, "d", 0700), 0);
	assert_refused(rundir_lock(dfd, at(f, "run"), "d", f->err, sizeof f->err), f->err, "/run/d",
	               "not a regular file");
	make_socket(at(f, "run/s"));
	assert_refused(rundir_lock(dfd, at(f, "run"), "s", f->err, sizeof f->err), f->err, "/run/s",
	               "not a regular file");
	assert_int_equal(rundir_lock(dfd, at(f, "run"), "../escape", f->err, sizeof f->err), -1);
	assert_contains(f->err, "escape");
	assert_int_equal(rundir_lock(dfd, at(f, "run"), "a/b", f->err, sizeof f->err), -1);
	assert_int_equal(access(at(f, "escape"), F_OK), -1);
	close(dfd);
}

static void
test_write_pid(void **state)
{
	struct fx *f = *state;
	char buf[64];
	ssize_t n;
	int dfd = prepare_run(f), l;

	l = rundir_lock(dfd, at(f, "run"), LOCK_NAME, f->err, sizeof f->err);
	assert_true(l >= 0);
	assert_int_equal(pwrite(l, "99999999999999\n", 15, 0), 15); /* an old, longer pid file */
	assert_int_equal(rundir_write_pid(l, 1234), 0);
	n = pread(l, buf, sizeof buf - 1, 0);
	assert_int_equal(n, 5);
	buf[n] = '\0';
	assert_string_equal(buf, "1234\n");
	assert_int_equal(rundir_write_pid(-1, 1), -1);
	close(l);
	close(dfd);
}

/* ------------------------------------------------------------------ */
/* rundir_listen_unix                                                  */

static int
connect_to(const char *p)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	assert_true(fd >= 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	assert_true((size_t)snprintf(sun.sun_path, sizeof sun.sun_path, "%s", p) < sizeof sun.sun_path);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	close(fd);
	return rc;
}

static void
test_listen_stale(void **state)
{
	struct fx *f = *state;
	char sockpath[256];
	struct stat st;
	int dfd = prepare_run(f), s;

	snprintf(sockpath, sizeof sockpath, "%s/run/%s", f->base, SOCK_NAME);
	make_socket(sockpath);
	assert_int_equal(connect_to(sockpath), -1);

	s = rundir_listen_unix(dfd, at(f, "run"), SOCK_NAME, 0600, f->err, sizeof f->err);
	if (s < 0)
		fail_msg("%s", f->err);
	assert_int_equal(lstat(sockpath, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(fcntl(s, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(s, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(connect_to(sockpath), 0);
	close(s);
	close(dfd);
}

static void
test_listen_refuses(void **state)
{
	struct fx *f = *state;
	char sockpath[256], longdir[200];
	struct stat st;
	int dfd = prepare_run(f);

	snprintf(sockpath, sizeof sockpath, "%s/run/%s", f->base, SOCK_NAME);
	make_file(sockpath, 0600);
	assert_refused(rundir_listen_unix(dfd, at(f, "run"), SOCK_NAME, 0600, f->err, sizeof f->err), f->err,
	               sockpath, "not a socket");
	assert_int_equal(lstat(sockpath, &st), 0);
	assert_true(S_ISREG(st.st_mode)); /* left in place */
	assert_int_equal(unlink(sockpath), 0);

	assert_int_equal(symlink("/tmp", sockpath), 0);
	assert_refused(rundir_listen_unix(dfd, at(f, "run"), SOCK_NAME, 0600, f->err, sizeof f->err), f->err,
	               sockpath, "not a socket");
	assert_int_equal(unlink(sockpath), 0);

	assert_int_equal(mkfifo(sockpath, 0600), 0);
	assert_refused(rundir_listen_unix(dfd, at(f, "run"), SOCK_NAME, 0600, f->err, sizeof f->err), f->err,
	               sockpath, "not a socket");
	assert_int_equal(unlink(sockpath), 0);

	/* Longer than sun_path: refused, not truncated. */
	memset(longdir, 'd', sizeof longdir - 1);
	longdir[0] = '/';
	longdir[sizeof longdir - 1] = '\0';
	assert_refused(rundir_listen_unix(dfd, longdir, SOCK_NAME, 0600, f->err, sizeof f->err), f->err, SOCK_NAME,
	               "too long for a unix socket address");
	assert_int_equal(lstat(sockpath, &st), -1);
	close(dfd);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_prepare_creates),
		T(test_prepare_wider_mode),
		T(test_prepare_symlink_final),
		T(test_prepare_other_owner),
		T(test_prepare_parent_writable),
		T(test_prepare_parent_sticky),
		T(test_prepare_parent_owner),
		T(test_prepare_intermediate_symlink),
		T(test_prepare_symlink_loop),
		T(test_prepare_not_dirs),
		T(test_lock_twice),
		T(test_lock_symlink),
		T(test_lock_fifo),
		T(test_lock_hardlink),
		T(test_lock_owner_mode),
		T(test_write_pid),
		T(test_listen_stale),
		T(test_listen_refuses),
	};
#undef T

	if (geteuid() != 0) {
		/* chown to 65534 and root-owned expectations need root. */
		fprintf(stderr, "test_rundir: must run as root; skipped\n");
		return 77;
	}
	signal(SIGALRM, SIG_DFL);
	alarm(HANG_GUARD_SECONDS);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
