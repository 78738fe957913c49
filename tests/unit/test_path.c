/*
 * test_path.c: unit tests for src/core/path.c (MS03-029).
 *
 * path_check: every error code, each limit at its exact boundary, the
 * documented precedence.  path_open / path_mkdir / path_unlink: real files
 * under a fresh mkdtemp directory, run once with openat2() and once with
 * the component walk (path_force_walk), so both resolvers are held to the
 * same contract: nested names work, a symlink anywhere is refused (ELOOP)
 * with and without O_CREAT, nothing outside the directory is reached, and
 * the caller's buffer is only read, within len.  A seccomp filter in a
 * child process proves which resolver ran: openat2() made to fail with
 * EDOM shows the default uses it and the forced walk does not; made to
 * fail with ENOSYS or EPERM, the automatic fallback must still keep every
 * promise.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "path.h"

#define NAME_BUF_BYTES (PATH_NAME_MAX_BYTES + 64)

/* ------------------------------------------------------------------ */
/* path_check                                                          */

static int
check_str(const char *s)
{
	return path_check(s, strlen(s));
}

/* Fills buf[0..len) with a valid name of components of complen bytes. */
static void
fill_name(char *buf, size_t len, size_t complen)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (i + 1) % (complen + 1) == 0 ? '/' : (char)('a' + i % 26);
	if (len > 0 && buf[len - 1] == '/')
		buf[len - 1] = 'z'; /* the last component grows by one byte */
}

/* n components "q/q/.../q"; returns the length. */
static size_t
fill_depth(char *buf, size_t n)
{
	size_t i, len = 0;

	for (i = 0; i < n; i++) {
		if (i > 0)
			buf[len++] = '/';
		buf[len++] = 'q';
	}
	buf[len] = '\0';
	return len;
}

static void
test_check_empty(void **state)
{
	(void)state;
	assert_int_equal(path_check("", 0), PATH_EMPTY);
	assert_int_equal(path_check("abc", 0), PATH_EMPTY); /* len rules, not the NUL */
	assert_int_equal(path_check(NULL, 0), PATH_EMPTY);
}

static void
test_check_nul(void **state)
{
	(void)state;
	assert_int_equal(path_check("a\0b", 3), PATH_NUL);
	assert_int_equal(path_check("ab\0", 3), PATH_NUL);
	assert_int_equal(path_check("\0", 1), PATH_NUL);
	assert_int_equal(path_check("a/b\0/../c", 9), PATH_NUL); /* NUL before "..": NUL */
	assert_int_equal(path_check("a\0b", 1), PATH_OK);        /* beyond len: not seen */
}

static void
test_check_total_length(void **state)
{
	char buf[NAME_BUF_BYTES];

	(void)state;
	fill_name(buf, PATH_NAME_MAX_BYTES, 100);
	assert_int_equal(path_check(buf, PATH_NAME_MAX_BYTES), PATH_OK);
	fill_name(buf, PATH_NAME_MAX_BYTES + 1, 100);
	assert_int_equal(path_check(buf, PATH_NAME_MAX_BYTES + 1), PATH_TOO_LONG);
	/* Precedence: the length is judged before any byte is looked at. */
	buf[3] = '\0';
	assert_int_equal(path_check(buf, PATH_NAME_MAX_BYTES + 1), PATH_TOO_LONG);
	buf[0] = '/';
	assert_int_equal(path_check(buf, PATH_NAME_MAX_BYTES + 1), PATH_TOO_LONG);
	assert_int_equal(path_check(buf, SIZE_MAX), PATH_TOO_LONG); /* never read */
}

static void
test_check_component_length(void **state)
{
	char buf[NAME_BUF_BYTES];

	(void)state;
	memset(buf, 'c', PATH_COMPONENT_MAX_BYTES + 1);
	assert_int_equal(path_check(buf, PATH_COMPONENT_MAX_BYTES), PATH_OK);
	assert_int_equal(path_check(buf, PATH_COMPONENT_MAX_BYTES + 1), PATH_COMPONENT_TOO_LONG);
	/* As a middle component, and as the last of several. */
	buf[0] = 'x';
	buf[1] = '/';
	memset(buf + 2, 'c', PATH_COMPONENT_MAX_BYTES + 1);
	buf[2 + PATH_COMPONENT_MAX_BYTES + 1] = '/';
	buf[2 + PATH_COMPONENT_MAX_BYTES + 2] = 'y';
	assert_int_equal(path_check(buf, 2 + PATH_COMPONENT_MAX_BYTES + 3), PATH_COMPONENT_TOO_LONG);
	assert_int_equal(path_check(buf, 2 + PATH_COMPONENT_MAX_BYTES + 1), PATH_COMPONENT_TOO_LONG);
	assert_int_equal(path_check(buf, 2 + PATH_COMPONENT_MAX_BYTES), PATH_OK);
}

static void
test_check_depth(void **state)
{
	char buf[NAME_BUF_BYTES];
	size_t len;

	(void)state;
	len = fill_depth(buf, PATH_COMPONENTS_MAX);
	assert_int_equal(path_check(buf, len), PATH_OK);
	len = fill_depth(buf, PATH_COMPONENTS_MAX + 1);
	assert_int_equal(path_check(buf, len), PATH_TOO_DEEP);
	/* The first bad component decides: a ".." as component 33 is
	 * DOTDOT; component 34 being ".." is too late, 33 already was deep. */
	len = fill_depth(buf, PATH_COMPONENTS_MAX);
	memcpy(buf + len, "/..", 4);
	assert_int_equal(path_check(buf, len + 3), PATH_DOTDOT);
	len = fill_depth(buf, PATH_COMPONENTS_MAX + 1);
	memcpy(buf + len, "/..", 4);
	assert_int_equal(path_check(buf, len + 3), PATH_TOO_DEEP);
}

static void
test_check_dotdot(void **state)
{
	(void)state;
	assert_int_equal(check_str(".."), PATH_DOTDOT);
	assert_int_equal(check_str("a/../b"), PATH_DOTDOT);
	assert_int_equal(check_str("../a"), PATH_DOTDOT);
	assert_int_equal(check_str("a/.."), PATH_DOTDOT);
	assert_int_equal(check_str("../"), PATH_DOTDOT); /* ".." comes before the empty last one */
	/* Names that merely contain dots are names. */
	assert_int_equal(check_str("..."), PATH_OK);
	assert_int_equal(check_str("..a"), PATH_OK);
	assert_int_equal(check_str("a.."), PATH_OK);
	assert_int_equal(check_str(".hidden/x"), PATH_OK);
}

static void
test_check_absolute(void **state)
{
	(void)state;
	assert_int_equal(check_str("/etc/passwd"), PATH_ABSOLUTE);
	assert_int_equal(check_str("/"), PATH_ABSOLUTE);
	assert_int_equal(check_str("/.."), PATH_ABSOLUTE); /* absolute before components */
	assert_int_equal(check_str("//a"), PATH_ABSOLUTE);
}

static void
test_check_bad_component(void **state)
{
	(void)state;
	assert_int_equal(check_str("a//b"), PATH_BAD_COMPONENT);
	assert_int_equal(check_str("./a"), PATH_BAD_COMPONENT);
	assert_int_equal(check_str("a/./b"), PATH_BAD_COMPONENT);
	assert_int_equal(check_str("a/."), PATH_BAD_COMPONENT);
	assert_int_equal(check_str("."), PATH_BAD_COMPONENT);
	assert_int_equal(check_str("a/"), PATH_BAD_COMPONENT);
	assert_int_equal(check_str("./.."), PATH_BAD_COMPONENT); /* left to right */
	assert_int_equal(check_str("a/b/c.txt"), PATH_OK);
	assert_int_equal(check_str("a"), PATH_OK);
}

static void
test_strerror_distinct(void **state)
{
	static const int codes[] = {
		PATH_OK, PATH_EMPTY, PATH_TOO_LONG, PATH_COMPONENT_TOO_LONG, PATH_DOTDOT,
		PATH_NUL, PATH_ABSOLUTE, PATH_TOO_DEEP, PATH_BAD_COMPONENT, PATH_SYSTEM,
	};
	const size_t n = sizeof codes / sizeof codes[0];
	const char *unknown = path_strerror(12345);
	size_t i, j;

	(void)state;
	assert_non_null(unknown);
	assert_non_null(path_strerror(-12345));
	for (i = 0; i < n; i++) {
		const char *si = path_strerror(codes[i]);

		assert_non_null(si);
		assert_true(si[0] != '\0');
		assert_string_not_equal(si, unknown);
		for (j = i + 1; j < n; j++)
			assert_string_not_equal(si, path_strerror(codes[j]));
		/* every code is distinct, too */
		for (j = i + 1; j < n; j++)
			assert_int_not_equal(codes[i], codes[j]);
	}
}

/* ------------------------------------------------------------------ */
/* The resolvers, on a real directory                                  */

static const int resolver_openat2 = 0;
static const int resolver_walk = 1;

struct fx {
	int walk;
	int dfd;
	char dir[64];
	char outside[64];
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

static void
rm_tree(const char *p)
{
	nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
write_file(int dfd, const char *name, const char *content)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static int
fx_setup(void **state)
{
	const int *walk = *state;
	struct fx *f = calloc(1, sizeof *f);
	int odfd;

	if (f == NULL)
		return -1;
	f->walk = *walk;
	strcpy(f->dir, "/tmp/hf_path_XXXXXX");
	strcpy(f->outside, "/tmp/hf_path_out_XXXXXX");
	if (mkdtemp(f->dir) == NULL || mkdtemp(f->outside) == NULL)
		return -1;
	f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dfd < 0)
		return -1;
	/* a/b/c.txt, and a secret outside the tree. */
	if (mkdirat(f->dfd, "a", 0755) != 0 || mkdirat(f->dfd, "a/b", 0755) != 0)
		return -1;
	write_file(f->dfd, "a/b/c.txt", "hello");
	odfd = open(f->outside, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (odfd < 0)
		return -1;
	write_file(odfd, "secret", "secret");
	close(odfd);
	path_force_walk(f->walk);
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	path_force_walk(0);
	close(f->dfd);
	rm_tree(f->dir);
	rm_tree(f->outside);
	free(f);
	return 0;
}

static void
assert_content(int fd, const char *want)
{
	char buf[64];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

/* Expects PATH_SYSTEM with errno want. */
static void
assert_system(int rc, int want)
{
	int e = errno;

	if (rc >= 0)
		close(rc);
	assert_int_equal(rc, PATH_SYSTEM);
	assert_int_equal(e, want);
}

static int
exists(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void
test_openat2_present(void **state)
{
	struct open_how how;
	long fd;

	(void)state;
	/* The "[openat2]" variants below are only meaningful if the kernel
	 * has it; say so rather than pass by testing the walk twice. */
	memset(&how, 0, sizeof how);
	how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		skip();
	assert_true(fd >= 0);
	close((int)fd);
}

static void
test_open_nested(void **state)
{
	struct fx *f = *state;
	struct stat st;
	int fd;

	fd = path_open(f->dfd, "a/b/c.txt", 9, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_content(fd, "hello");
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	fd = path_open(f->dfd, "a/b/new.txt", 11, O_WRONLY | O_CREAT | O_EXCL, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(fstatat(f->dfd, "a/b/new.txt", &st, 0), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0077 & ~0040, 0); /* no more than asked (umask may narrow) */

	/* A mode without O_CREAT is ignored, as by openat (openat2 would
	 * otherwise say EINVAL). */
	fd = path_open(f->dfd, "a/b/c.txt", 9, O_RDONLY, 0644);
	assert_true(fd >= 0);
	close(fd);

	/* A directory, one component. */
	fd = path_open(f->dfd, "a", 1, O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	close(fd);
}

static void
test_open_missing(void **state)
{
	struct fx *f = *state;

	assert_system(path_open(f->dfd, "nope/x", 6, O_RDONLY, 0), ENOENT);
	assert_system(path_open(f->dfd, "a/b/nope", 8, O_RDONLY, 0), ENOENT);
	assert_system(path_open(f->dfd, "a/b/c.txt/x", 11, O_RDONLY, 0), ENOTDIR);
}

static void
test_open_check_first(void **state)
{
	struct fx *f = *state;

	/* Check errors come back as such, before any system call. */
	assert_int_equal(path_open(f->dfd, "../x", 4, O_RDONLY, 0), PATH_DOTDOT);
	assert_int_equal(path_open(f->dfd, "/etc/passwd", 11, O_RDONLY, 0), PATH_ABSOLUTE);
	assert_int_equal(path_open(f->dfd, "a\0b", 3, O_RDONLY, 0), PATH_NUL);
	assert_int_equal(path_open(f->dfd, "", 0, O_RDONLY, 0), PATH_EMPTY);
	assert_int_equal(path_open(f->dfd, "x/", 2, O_WRONLY | O_CREAT, 0600), PATH_BAD_COMPONENT);
	assert_false(exists(f->dfd, "x"));
	assert_int_equal(path_mkdir(f->dfd, "a/..", 4, 0700), PATH_DOTDOT);
	assert_int_equal(path_unlink(f->dfd, "./a", 3), PATH_BAD_COMPONENT);
}

static void
test_open_final_symlink(void **state)
{
	struct fx *f = *state;

	assert_int_equal(symlinkat("b/c.txt", f->dfd, "a/link"), 0);
	assert_int_equal(symlinkat("nowhere", f->dfd, "a/dangle"), 0);

	assert_system(path_open(f->dfd, "a/link", 6, O_RDONLY, 0), ELOOP);
	assert_system(path_open(f->dfd, "a/link", 6, O_WRONLY | O_CREAT, 0600), ELOOP);
	assert_system(path_open(f->dfd, "a/link", 6, O_PATH, 0), ELOOP);
	/* O_CREAT through a dangling link must not create its target. */
	assert_system(path_open(f->dfd, "a/dangle", 8, O_WRONLY | O_CREAT, 0600), ELOOP);
	assert_false(exists(f->dfd, "a/nowhere"));
}

static void
test_open_intermediate_symlink(void **state)
{
	struct fx *f = *state;

	assert_int_equal(symlinkat("b", f->dfd, "a/lb"), 0);
	assert_system(path_open(f->dfd, "a/lb/c.txt", 10, O_RDONLY, 0), ELOOP);
	assert_system(path_open(f->dfd, "a/lb/new", 8, O_WRONLY | O_CREAT, 0600), ELOOP);
	assert_false(exists(f->dfd, "a/b/new"));
	assert_int_equal(path_mkdir(f->dfd, "a/lb/d", 6, 0700), PATH_SYSTEM);
	assert_int_equal(errno, ELOOP);
	assert_false(exists(f->dfd, "a/b/d"));
	assert_int_equal(path_unlink(f->dfd, "a/lb/c.txt", 10), PATH_SYSTEM);
	assert_int_equal(errno, ELOOP);
	assert_true(exists(f->dfd, "a/b/c.txt"));
	/* The link as the parent of the last component, one level down. */
	assert_int_equal(path_mkdir(f->dfd, "a/lb/d/e", 8, 0700), PATH_SYSTEM);
	assert_int_equal(errno, ELOOP);
}

static void
test_open_symlink_outside(void **state)
{
	struct fx *f = *state;
	int fd;

	assert_int_equal(symlinkat(f->outside, f->dfd, "esc"), 0);
	assert_int_equal(symlinkat("..", f->dfd, "up"), 0);
	assert_int_equal(symlinkat("/etc/passwd", f->dfd, "a/pw"), 0);

	assert_system(path_open(f->dfd, "esc/secret", 10, O_RDONLY, 0), ELOOP);
	/* A final link opened with O_DIRECTORY: the kernel says ENOTDIR
	 * before it gets to ELOOP; either way it is refused. */
	fd = path_open(f->dfd, "esc", 3, O_RDONLY | O_DIRECTORY, 0);
	assert_int_equal(fd, PATH_SYSTEM);
	assert_true(errno == ENOTDIR || errno == ELOOP);
	assert_system(path_open(f->dfd, "up/a/b/c.txt", 12, O_RDONLY, 0), ELOOP);
	assert_system(path_open(f->dfd, "a/pw", 4, O_RDONLY, 0), ELOOP);
	assert_system(path_open(f->dfd, "esc/new", 7, O_WRONLY | O_CREAT, 0600), ELOOP);
	fd = open(f->outside, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_false(exists(fd, "new"));
	close(fd);
}

static void
test_open_caller_buffer(void **state)
{
	struct fx *f = *state;
	const char want[] = "a/b/c.txtTRAILING";
	char buf[sizeof want], before[sizeof want];
	char *exact;
	int fd;

	/* A buffer with bytes after len: only len counts, nothing changes. */
	memcpy(buf, want, sizeof want);
	memcpy(before, buf, sizeof buf);
	fd = path_open(f->dfd, buf, 9, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_content(fd, "hello");
	close(fd);
	assert_memory_equal(buf, before, sizeof buf);

	/* Exactly len bytes, no NUL anywhere: ASan sees any over-read. */
	exact = malloc(9);
	assert_non_null(exact);
	memcpy(exact, "a/b/c.txt", 9);
	fd = path_open(f->dfd, exact, 9, O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
	assert_memory_equal(exact, "a/b/c.txt", 9);
	assert_int_equal(path_check(exact, 9), PATH_OK);
	memcpy(exact, "a/b/x/y.d", 9);
	assert_int_equal(path_mkdir(f->dfd, exact, 5, 0700), PATH_OK);
	assert_memory_equal(exact, "a/b/x/y.d", 9);
	assert_true(exists(f->dfd, "a/b/x"));
	free(exact);

	/* A failing call leaves the buffer alone too. */
	memcpy(buf, "a/b/zz", 7);
	memcpy(before, buf, 7);
	assert_system(path_open(f->dfd, buf, 6, O_RDONLY, 0), ENOENT);
	assert_memory_equal(buf, before, 7);
}

static void
test_open_longest(void **state)
{
	struct fx *f = *state;
	char name[NAME_BUF_BYTES];
	size_t len;
	int fd;

	/* The deepest legal name, created level by level, then opened. */
	len = fill_depth(name, PATH_COMPONENTS_MAX);
	for (size_t i = 1; i < len; i += 2) {
		assert_int_equal(path_mkdir(f->dfd, name, i, 0700), PATH_OK);
	}
	fd = path_open(f->dfd, name, len, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	fd = path_open(f->dfd, name, len, O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
	/* A longest component. */
	memset(name, 'L', PATH_COMPONENT_MAX_BYTES);
	fd = path_open(f->dfd, name, PATH_COMPONENT_MAX_BYTES, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
}

static void
test_mkdir_unlink(void **state)
{
	struct fx *f = *state;
	struct stat st;

	assert_int_equal(path_mkdir(f->dfd, "a/b/d", 5, 0700), PATH_OK);
	assert_int_equal(fstatat(f->dfd, "a/b/d", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(path_mkdir(f->dfd, "top", 3, 0700), PATH_OK);
	assert_true(exists(f->dfd, "top"));
	assert_int_equal(path_mkdir(f->dfd, "a/b/d", 5, 0700), PATH_SYSTEM);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(path_mkdir(f->dfd, "a/nope/d", 8, 0700), PATH_SYSTEM);
	assert_int_equal(errno, ENOENT);

	/* unlink: files yes, directories no, a final symlink itself only. */
	assert_int_equal(path_unlink(f->dfd, "a/b/c.txt", 9), PATH_OK);
	assert_false(exists(f->dfd, "a/b/c.txt"));
	assert_int_equal(path_unlink(f->dfd, "a/b/d", 5), PATH_SYSTEM);
	assert_int_equal(errno, EISDIR);
	assert_true(exists(f->dfd, "a/b/d"));
	write_file(f->dfd, "a/target", "t");
	assert_int_equal(symlinkat("target", f->dfd, "a/l"), 0);
	assert_int_equal(path_unlink(f->dfd, "a/l", 3), PATH_OK);
	assert_false(exists(f->dfd, "a/l"));
	assert_true(exists(f->dfd, "a/target"));
	assert_int_equal(path_unlink(f->dfd, "gone", 4), PATH_SYSTEM);
	assert_int_equal(errno, ENOENT);
}

/* ------------------------------------------------------------------ */
/* Which resolver ran: openat2 under a seccomp filter, in a child      */

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef TEST_AUDIT_ARCH
/* From now on openat2() fails with errno e in this process. */
static int
deny_openat2(int e)
{
	struct sock_filter filt[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)e & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof filt / sizeof filt[0], .filter = filt };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* The child's checks: 0 if all hold, else the number of the first that
 * failed (plain code: cmocka's state belongs to the parent). */
static int
child_edom(int dfd)
{
	int fd;

	if (deny_openat2(EDOM) != 0)
		return 100;
	path_force_walk(0);
	fd = path_open(dfd, "a/b/c.txt", 9, O_RDONLY, 0);
	if (fd != PATH_SYSTEM || errno != EDOM)
		return 1; /* the default did not use openat2, or fell back on EDOM */
	if (path_mkdir(dfd, "a/b/m", 5, 0700) != PATH_SYSTEM || errno != EDOM)
		return 2;
	path_force_walk(1);
	fd = path_open(dfd, "a/b/c.txt", 9, O_RDONLY, 0);
	if (fd < 0)
		return 3; /* the forced walk called openat2 */
	close(fd);
	if (path_mkdir(dfd, "a/b/m", 5, 0700) != PATH_OK || path_unlink(dfd, "a/b/c.txt", 9) != PATH_OK)
		return 4;
	if (path_open(dfd, "a/lb/x", 6, O_RDONLY, 0) != PATH_SYSTEM || errno != ELOOP)
		return 5;
	return 0;
}

static int
child_fallback(int dfd, int e)
{
	int fd, round;

	if (deny_openat2(e) != 0)
		return 100;
	path_force_walk(0);
	/* Twice: the first ENOSYS is remembered, the second call skips it. */
	for (round = 0; round < 2; round++) {
		fd = path_open(dfd, "a/b/c.txt", 9, O_RDONLY, 0);
		if (fd < 0)
			return 1 + round;
		close(fd);
	}
	if (path_open(dfd, "a/lb/c.txt", 10, O_RDONLY, 0) != PATH_SYSTEM || errno != ELOOP)
		return 3;
	if (path_open(dfd, "a/lb/n", 6, O_WRONLY | O_CREAT, 0600) != PATH_SYSTEM || errno != ELOOP)
		return 4;
	if (path_open(dfd, "a/lc", 4, O_WRONLY | O_CREAT, 0600) != PATH_SYSTEM || errno != ELOOP)
		return 5;
	if (path_mkdir(dfd, "a/b/m", 5, 0700) != PATH_OK)
		return 6;
	if (path_mkdir(dfd, "a/lb/m2", 7, 0700) != PATH_SYSTEM || errno != ELOOP)
		return 7;
	if (path_unlink(dfd, "a/b/m", 5) != PATH_SYSTEM || errno != EISDIR)
		return 8;
	return 0;
}

static int
run_child(struct fx *f, int mode)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(mode == 0 ? child_edom(f->dfd) : child_fallback(f->dfd, mode));
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}
#endif

static void
test_resolver_used(void **state)
{
#ifdef TEST_AUDIT_ARCH
	struct fx *f = *state;

	assert_int_equal(symlinkat("b", f->dfd, "a/lb"), 0);
	assert_int_equal(symlinkat("b/c.txt", f->dfd, "a/lc"), 0);
	/* 0 from a child: every numbered check in it held. */
	assert_int_equal(run_child(f, 0), 0);
	write_file(f->dfd, "a/b/c.txt", "hello");
	assert_int_equal(unlinkat(f->dfd, "a/b/m", AT_REMOVEDIR), 0);
	assert_int_equal(run_child(f, ENOSYS), 0);
	assert_int_equal(unlinkat(f->dfd, "a/b/m", AT_REMOVEDIR), 0);
	assert_int_equal(run_child(f, EPERM), 0);
#else
	(void)state;
	skip();
#endif
}

#define BOTH(fn)                                                                          \
	{ #fn " [openat2]", fn, fx_setup, fx_teardown, (void *)&resolver_openat2 },         \
	{ #fn " [walk]", fn, fx_setup, fx_teardown, (void *)&resolver_walk }

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_empty),
		cmocka_unit_test(test_check_nul),
		cmocka_unit_test(test_check_total_length),
		cmocka_unit_test(test_check_component_length),
		cmocka_unit_test(test_check_depth),
		cmocka_unit_test(test_check_dotdot),
		cmocka_unit_test(test_check_absolute),
		cmocka_unit_test(test_check_bad_component),
		cmocka_unit_test(test_strerror_distinct),
		cmocka_unit_test(test_openat2_present),
		BOTH(test_open_nested),
		BOTH(test_open_missing),
		BOTH(test_open_check_first),
		BOTH(test_open_final_symlink),
		BOTH(test_open_intermediate_symlink),
		BOTH(test_open_symlink_outside),
		BOTH(test_open_caller_buffer),
		BOTH(test_open_longest),
		BOTH(test_mkdir_unlink),
		cmocka_unit_test_prestate_setup_teardown(test_resolver_used, fx_setup, fx_teardown,
		                                         (void *)&resolver_openat2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
