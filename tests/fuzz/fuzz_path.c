/*
 * fuzz_path.c: libFuzzer target for src/core/path.c (MS03-029).
 *
 * The input is a name, whole: (data, size) go to path_check and path_open
 * as (name, len), from a malloc'd copy of exactly size bytes so ASan
 * reports any read past len.  Oracles:
 *  - path_check is deterministic and agrees with an independent reference
 *    written here from the documented precedence (path.c's header);
 *  - path_open returns path_check's error unchanged when the name is bad;
 *  - openat2 and the forced walk agree on every name: both fail with the
 *    same errno, or both open the same inode;
 *  - every fd that comes back is beneath the private directory (its
 *    /proc/self/fd link starts with that directory's path);
 *  - the caller's buffer is unchanged.
 * The private directory is made once, with files, subdirectories and
 * symlinks that point up, out, at themselves and nowhere.  When the first
 * byte is odd and the name is valid, the name is also created (O_EXCL) and
 * then removed with path_unlink, so the tree does not grow.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_dfd = -1;
static char fz_dir[4096]; /* canonical path of the private directory */
static size_t fz_dirlen;

static void
fz_die(const char *what)
{
	fprintf(stderr, "fuzz_path: %s\n", what);
	abort();
}

static int
fz_rm_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(p);
	return 0;
}

/* libFuzzer ends a timed run with exit(): leave no directory behind. */
static void
fz_cleanup(void)
{
	if (fz_dirlen > 0)
		nftw(fz_dir, fz_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
fz_setup(void)
{
	char tmpl[] = "/tmp/hf_fuzz_path_XXXXXX", link[64];
	ssize_t n;
	int fd;

	if (mkdtemp(tmpl) == NULL)
		fz_die("mkdtemp");
	if ((fz_dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		fz_die("open tmpdir");
	/* The name the kernel gives it, so the prefix test below compares
	 * like with like even if /tmp is itself a symlink. */
	snprintf(link, sizeof link, "/proc/self/fd/%d", fz_dfd);
	n = readlink(link, fz_dir, sizeof fz_dir - 1);
	if (n <= 0)
		fz_die("readlink tmpdir");
	fz_dir[n] = '\0';
	fz_dirlen = (size_t)n;
	atexit(fz_cleanup);
	if (mkdirat(fz_dfd, "a", 0755) || mkdirat(fz_dfd, "a/b", 0755) || mkdirat(fz_dfd, "d", 0755))
		fz_die("mkdir");
	if ((fd = openat(fz_dfd, "a/b/c", O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
		fz_die("create a/b/c");
	close(fd);
	if ((fd = openat(fz_dfd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
		fz_die("create f");
	close(fd);
	if (symlinkat("..", fz_dfd, "a/up") || symlinkat("/", fz_dfd, "esc") || symlinkat(".", fz_dfd, "a/b/self") ||
	    symlinkat("/etc/passwd", fz_dfd, "abs") || symlinkat("nowhere", fz_dfd, "a/b/dang") ||
	    symlinkat("../../..", fz_dfd, "a/b/up3") || symlinkat("c", fz_dfd, "a/b/lc"))
		fz_die("symlink");
}

/* The documented precedence, written independently of path.c. */
static int
ref_check(const char *s, size_t len)
{
	size_t pos = 0, depth = 0;

	if (len == 0)
		return PATH_EMPTY;
	if (len > PATH_NAME_MAX_BYTES)
		return PATH_TOO_LONG;
	if (memchr(s, 0, len))
		return PATH_NUL;
	if (s[0] == '/')
		return PATH_ABSOLUTE;
	for (;;) {
		const char *slash = memchr(s + pos, '/', len - pos);
		size_t end = slash ? (size_t)(slash - s) : len;
		size_t clen = end - pos;

		if (clen == 2 && memcmp(s + pos, "..", 2) == 0)
			return PATH_DOTDOT;
		if (clen == 0 || (clen == 1 && s[pos] == '.'))
			return PATH_BAD_COMPONENT;
		if (clen > PATH_COMPONENT_MAX_BYTES)
			return PATH_COMPONENT_TOO_LONG;
		if (++depth > PATH_COMPONENTS_MAX)
			return PATH_TOO_DEEP;
		if (!slash)
			return PATH_OK;
		pos = end + 1;
	}
}

/* fd is open on something beneath the private directory. */
static void
fz_assert_beneath(int fd)
{
	char link[64], target[4096];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof target - 1);
	if (n < 0)
		fz_die("readlink fd");
	target[n] = '\0';
	if ((size_t)n <= fz_dirlen || memcmp(target, fz_dir, fz_dirlen) != 0 || target[fz_dirlen] != '/') {
		fprintf(stderr, "fuzz_path: fd resolves to %s, outside %s\n", target, fz_dir);
		abort();
	}
}

/* Opens name with each resolver; they must agree.  Returns one fd or -1. */
static int
fz_open_both(const char *name, size_t len, int flags, mode_t mode, int want)
{
	struct stat s1, s2;
	int fd1, fd2, e1, e2;

	path_force_walk(0);
	fd1 = path_open(fz_dfd, name, len, flags, mode);
	e1 = errno;
	if (fd1 >= 0 && (flags & O_CREAT) && (flags & O_EXCL)) {
		/* The second would find it; compare by reopening instead. */
		path_force_walk(1);
		fd2 = path_open(fz_dfd, name, len, flags & ~(O_CREAT | O_EXCL), 0);
	} else {
		path_force_walk(1);
		fd2 = path_open(fz_dfd, name, len, flags, mode);
	}
	e2 = errno;
	path_force_walk(0);
	if (want != PATH_OK) {
		if (fd1 != want || fd2 != want)
			fz_die("path_open did not return path_check's error");
		return -1;
	}
	if ((fd1 >= 0) != (fd2 >= 0))
		fz_die("openat2 and the walk disagree on success");
	if (fd1 < 0) {
		if (fd1 != PATH_SYSTEM || fd2 != PATH_SYSTEM)
			fz_die("a checked name failed with a check error");
		if (e1 != e2) {
			fprintf(stderr, "fuzz_path: errno %d (openat2) vs %d (walk)\n", e1, e2);
			abort();
		}
		return -1;
	}
	if (fstat(fd1, &s1) || fstat(fd2, &s2) || s1.st_dev != s2.st_dev || s1.st_ino != s2.st_ino)
		fz_die("openat2 and the walk opened different files");
	fz_assert_beneath(fd1);
	fz_assert_beneath(fd2);
	close(fd2);
	return fd1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name, *saved;
	int rc, fd;

	if (fz_dfd < 0)
		fz_setup();
	/* Exactly size bytes, no terminator: an over-read is an ASan report. */
	name = malloc(size ? size : 1);
	saved = malloc(size ? size : 1);
	if (name == NULL || saved == NULL)
		fz_die("malloc");
	if (size)
		memcpy(name, data, size);
	memcpy(saved, name, size);

	rc = path_check(name, size);
	if (rc != path_check(name, size))
		fz_die("path_check is not deterministic");
	if (rc != ref_check(name, size)) {
		fprintf(stderr, "fuzz_path: path_check %d, reference %d\n", rc, ref_check(name, size));
		abort();
	}
	if (rc > 0 || rc < PATH_BAD_COMPONENT)
		fz_die("path_check returned a value outside enum path_err");
	if (path_strerror(rc) == NULL)
		fz_die("path_strerror NULL");

	/* O_NONBLOCK: no FIFO exists here, but a hang must never be the
	 * fuzzer's fault. */
	fd = fz_open_both(name, size, O_RDONLY | O_NONBLOCK, 0, rc);
	if (fd >= 0)
		close(fd);

	if (rc == PATH_OK && (data[0] & 1)) {
		fd = path_open(fz_dfd, name, size, O_WRONLY | O_CREAT | O_EXCL | O_NONBLOCK, 0600);
		if (fd >= 0) {
			fz_assert_beneath(fd);
			close(fd);
			/* The walk must see what openat2 created, and the
			 * name must be removable again. */
			fd = fz_open_both(name, size, O_RDONLY | O_NONBLOCK, 0, PATH_OK);
			if (fd < 0)
				fz_die("created file not found again");
			close(fd);
			if (path_unlink(fz_dfd, name, size) != PATH_OK)
				fz_die("created file not removable");
		}
	}
	if (memcmp(saved, name, size) != 0)
		fz_die("caller's buffer modified");
	free(name);
	free(saved);
	return 0;
}
