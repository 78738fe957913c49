/*
 * test_rdp_broker.c: the term service's login broker (src/rdp/broker.c),
 * driven over its socketpair as the worker drives it.
 *
 * Needs root (PAM reads /etc/shadow, spawning changes user): as another
 * user every test is skipped.  Setup creates a Unix user with a random
 * name and password (useradd/chpasswd) and installs etc/pam.d/holdfast
 * as /etc/pam.d/holdfast if it is not there; teardown removes the user.
 *
 * Covers: malformed datagrams dropped without killing the broker, unknown
 * user and wrong password refused alike, check-only login, allow_groups,
 * a uid-0 alias refused unless allow_root (a second name for uid 0 is
 * created for that test and removed at once), a spawned
 * shell that runs as the user in a pty with the promised environment,
 * allow_users refusing, KILL of a foreign pid ignored, KILL of a session
 * reported as EXITED, and the broker ending its sessions and exiting when
 * the worker's end closes (no process of the user left).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rdp/broker.h"

static char test_user[32];
static char test_pass[32];
static int have_user;

static void
random_token(char *out, size_t n, const char *prefix)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[16];
	size_t i, p = strlen(prefix);
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, r, sizeof r), (ssize_t)sizeof r);
	close(fd);
	memcpy(out, prefix, p);
	for (i = 0; i < 8 && p + i < n - 1; i++)
		out[p + i] = al[r[i] % (sizeof al - 1)];
	out[p + i] = '\0';
}

static int
run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Safety net at teardown: SIGKILL, by PID, whatever still runs as the
 * test user (the broker should have left nothing). */
static void
kill_user_processes(const char *user)
{
	struct passwd *pw = getpwnam(user);
	struct dirent *de;
	DIR *d;

	if (!pw || pw->pw_uid == 0 || (d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[64], line[256];
		FILE *f;
		int pid = atoi(de->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/status", pid);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		while (fgets(line, sizeof line, f)) {
			unsigned uid;

			if (sscanf(line, "Uid: %u", &uid) == 1) {
				if (uid == pw->pw_uid)
					kill(pid, SIGKILL);
				break;
			}
		}
		fclose(f);
	}
	closedir(d);
}

/* A second name for uid 0 with a known password (useradd -o -u 0, no
 * home of its own), removed by the test or the group teardown: PAM
 * accepts it, the broker must still refuse it unless allow_root.  Never
 * "userdel -r" it: its home is /root. */
static char root_alias[32];

static void
remove_root_alias(void)
{
	if (root_alias[0])
		run("userdel -f %s 2>/dev/null", root_alias);
	root_alias[0] = '\0';
}

static int
group_setup(void **state)
{
	struct stat st;

	if (geteuid() != 0)
		return 0;
	if (stat("/etc/pam.d/holdfast", &st) != 0 &&
	    run("install -m 0644 etc/pam.d/holdfast /etc/pam.d/holdfast 2>/dev/null || "
	        "install -m 0644 ../../etc/pam.d/holdfast /etc/pam.d/holdfast") != 0)
		return 0;
	random_token(test_user, sizeof test_user, "hfbt");
	random_token(test_pass, sizeof test_pass, "Pw-");
	if (run("useradd -m -d /tmp/%s -s /bin/sh %s", test_user, test_user) != 0)
		return 0;
	if (run("echo '%s:%s' | chpasswd", test_user, test_pass) != 0) {
		run("userdel -r %s 2>/dev/null", test_user);
		return 0;
	}
	have_user = 1;
	return 0;
}

static int
group_teardown(void **state)
{
	remove_root_alias();
	if (have_user) {
		kill_user_processes(test_user);
		run("userdel -r %s 2>/dev/null", test_user);
	}
	return 0;
}

#define NEED_ROOT() do { if (!have_user) skip(); } while (0)

static const char *const no_list[] = { NULL };

static void
start(struct broker_conf *cf, int *fd, pid_t *pid)
{
	assert_int_equal(broker_fork(cf, fd, pid), 0);
}

static void
stop(int fd, pid_t pid)
{
	int st;
	int i;

	close(fd);
	/* The broker exits once its sessions are gone (bounded: SIGKILL
	 * after BROKER_KILL_GRACE_MS). */
	for (i = 0; i < 500; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			assert_true(WIFEXITED(st));
			assert_int_equal(WEXITSTATUS(st), 0);
			return;
		}
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	fail_msg("broker did not exit after its socket closed");
}

/* Waits for one reply (bounded). */
static int
wait_rep(int fd, struct broker_rep *rep, int *pty)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int rc;

	if (poll(&p, 1, 10000) != 1)
		return -2;
	rc = broker_recv(fd, rep, pty);
	return rc;
}

static void
login(int fd, const char *user, const char *pass, int spawn, uint32_t id, struct broker_rep *rep, int *pty)
{
	struct broker_req req;

	memset(&req, 0, sizeof req);
	req.type = BROKER_LOGIN;
	req.id = id;
	req.spawn = (uint32_t)spawn;
	req.cols = 80;
	req.rows = 24;
	snprintf(req.user, sizeof req.user, "%s", user);
	snprintf(req.password, sizeof req.password, "%s", pass);
	assert_int_equal(send(fd, &req, sizeof req, 0), (ssize_t)sizeof req);
	assert_int_equal(wait_rep(fd, rep, pty), 1);
	assert_int_equal(rep->type, BROKER_RESULT);
	assert_int_equal(rep->id, id);
}

/* Reads the pty until needle shows up (bounded) into out. */
static int
read_until(int pty, const char *needle, char *out, size_t outlen)
{
	size_t len = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < 100 && len < outlen - 1; i++) {
		struct pollfd p = { pty, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(pty, out + len, outlen - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		out[len] = '\0';
		if (strstr(out, needle))
			return 1;
	}
	return 0;
}

static void
test_refusals(void **state)
{
	struct broker_conf cf = { no_list, 0, no_list, 0, 0, NULL, NULL };
	struct broker_rep rep;
	struct broker_req req;
	char junk[sizeof req + 8];
	int fd, pty;
	pid_t pid;

	int extra[2];
	char path[64];

	NEED_ROOT();
	/* An fd of the "worker" that the broker must not keep. */
	assert_int_equal(pipe(extra), 0);
	start(&cf, &fd, &pid);
	close(extra[0]);
	close(extra[1]);
	/* Wrong sizes, an unknown type, an unterminated user: dropped or
	 * answered MALFORMED, and the broker goes on. */
	memset(junk, 'A', sizeof junk);
	assert_int_equal(send(fd, junk, 10, 0), 10);
	assert_int_equal(send(fd, junk, sizeof junk, 0), (ssize_t)sizeof junk);
	memset(&req, 0, sizeof req);
	req.type = 77;
	assert_int_equal(send(fd, &req, sizeof req, 0), (ssize_t)sizeof req);
	memset(&req, 'x', sizeof req);
	req.type = BROKER_LOGIN;
	req.id = 5;
	req.spawn = 0;
	assert_int_equal(send(fd, &req, sizeof req, 0), (ssize_t)sizeof req);
	assert_int_equal(wait_rep(fd, &rep, &pty), 1);
	assert_int_equal(rep.id, 5);
	/* By now the broker has closed what it inherited: no pipe among its
	 * fds (its own are stdio, the socket and a signalfd). */
	{
		char target[128];
		int k;

		for (k = 3; k < 64; k++) {   /* stdio may be pipes of whoever runs the test */
			ssize_t tl;

			snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, k);
			if ((tl = readlink(path, target, sizeof target - 1)) < 0)
				continue;
			target[tl] = '\0';
			assert_null(strstr(target, "pipe:"));
		}
	}
	assert_int_equal(rep.status, BROKER_MALFORMED);
	assert_int_equal(pty, -1);
	/* A pty size beyond the limits. */
	memset(&req, 0, sizeof req);
	req.type = BROKER_LOGIN;
	req.id = 6;
	req.spawn = 1;
	req.cols = BROKER_PTY_COLS_MAX + 1;
	req.rows = 24;
	snprintf(req.user, sizeof req.user, "%s", test_user);
	snprintf(req.password, sizeof req.password, "%s", test_pass);
	assert_int_equal(send(fd, &req, sizeof req, 0), (ssize_t)sizeof req);
	assert_int_equal(wait_rep(fd, &rep, &pty), 1);
	assert_int_equal(rep.status, BROKER_MALFORMED);

	login(fd, "hf-no-such-user-xyz", "whatever", 0, 7, &rep, &pty);
	assert_int_equal(rep.status, BROKER_BAD_LOGIN);
	login(fd, test_user, "wrong-password", 1, 8, &rep, &pty);
	assert_int_equal(rep.status, BROKER_BAD_LOGIN);
	assert_int_equal(pty, -1);
	login(fd, test_user, "", 0, 9, &rep, &pty);
	assert_int_equal(rep.status, BROKER_BAD_LOGIN);
	/* root: no password we know, and refused anyway. */
	login(fd, "root", "x", 0, 10, &rep, &pty);
	assert_int_not_equal(rep.status, BROKER_OK);
	/* Still alive and right. */
	login(fd, test_user, test_pass, 0, 11, &rep, &pty);
	assert_int_equal(rep.status, BROKER_OK);
	assert_int_equal(pty, -1);
	assert_int_equal(rep.uid, getpwnam(test_user)->pw_uid);
	stop(fd, pid);
}

static void
test_allow_users(void **state)
{
	static const char *const only[] = { "somebody-else" };
	static const char *const groups[] = { "root" };
	struct broker_conf cf = { only, 1, no_list, 0, 0, NULL, NULL };
	struct broker_conf cg = { no_list, 0, groups, 1, 0, NULL, NULL };
	struct broker_rep rep;
	int fd, pty;
	pid_t pid;

	NEED_ROOT();
	start(&cf, &fd, &pid);
	login(fd, test_user, test_pass, 1, 1, &rep, &pty);
	assert_int_equal(rep.status, BROKER_NOT_ALLOWED);
	assert_int_equal(pty, -1);
	stop(fd, pid);
	/* A group the user is not in. */
	start(&cg, &fd, &pid);
	login(fd, test_user, test_pass, 0, 2, &rep, &pty);
	assert_int_equal(rep.status, BROKER_NOT_ALLOWED);
	stop(fd, pid);
}

static void
test_root_refused(void **state)
{
	struct broker_conf no_root = { no_list, 0, no_list, 0, 0, NULL, NULL };
	struct broker_conf root_ok = { no_list, 0, no_list, 0, 1, NULL, NULL };
	struct broker_rep rep;
	int fd, pty;
	pid_t pid;

	NEED_ROOT();
	random_token(root_alias, sizeof root_alias, "hfr0");
	if (run("useradd -o -u 0 -g 0 -M -d /root -s /bin/sh %s", root_alias) != 0) {
		root_alias[0] = '\0';
		skip();
	}
	if (run("echo '%s:%s' | chpasswd", root_alias, test_pass) != 0) {
		remove_root_alias();
		skip();
	}
	start(&no_root, &fd, &pid);
	login(fd, root_alias, test_pass, 1, 1, &rep, &pty);
	assert_int_equal(rep.status, BROKER_NOT_ALLOWED);
	assert_int_equal(pty, -1);
	stop(fd, pid);
	start(&root_ok, &fd, &pid);
	login(fd, root_alias, test_pass, 0, 2, &rep, &pty);
	assert_int_equal(rep.status, BROKER_OK);
	assert_int_equal(rep.uid, 0);
	stop(fd, pid);
	remove_root_alias();
}

static void
test_spawn_kill(void **state)
{
	const char *cmd = "printf 'ready:%s:%s:%s:%s\\n' \"$(id -un)\" \"$TERM\" \"$HOME\" \"$(tty)\"; "
	                  "stty -echo; read x; echo got:$x; sleep 60";
	struct broker_conf cf = { no_list, 0, no_list, 0, 0, cmd, NULL };
	struct broker_rep rep;
	struct broker_req req;
	char out[2048], want[128];
	int fd, pty, pty2, i;
	pid_t pid, leader;

	NEED_ROOT();
	start(&cf, &fd, &pid);
	login(fd, test_user, test_pass, 1, 42, &rep, &pty);
	assert_int_equal(rep.status, BROKER_OK);
	assert_true(pty >= 0);
	leader = (pid_t)rep.pid;
	assert_true(leader > 0);
	snprintf(want, sizeof want, "ready:%s:xterm-256color:/tmp/%s:/dev/pts/", test_user, test_user);
	assert_true(read_until(pty, "\n", out, sizeof out));
	assert_non_null(strstr(out, want));
	assert_int_equal(write(pty, "hello\r", 6), 6);
	assert_true(read_until(pty, "got:hello", out, sizeof out));

	/* A pid the broker did not spawn is not its business. */
	memset(&req, 0, sizeof req);
	req.type = BROKER_KILL;
	req.pid = (uint32_t)getpid();
	assert_int_equal(send(fd, &req, sizeof req, 0), (ssize_t)sizeof req);
	/* Its own session: ended and reported. */
	req.pid = (uint32_t)leader;
	assert_int_equal(send(fd, &req, sizeof req, 0), (ssize_t)sizeof req);
	assert_int_equal(wait_rep(fd, &rep, &pty2), 1);
	assert_int_equal(rep.type, BROKER_EXITED);
	assert_int_equal(rep.pid, (uint32_t)leader);
	assert_true(WIFSIGNALED(rep.wstatus));
	close(pty);
	/* The leader is gone (reaped by the broker, not a zombie). */
	for (i = 0; i < 100 && kill(leader, 0) == 0; i++)
		usleep(20000);
	assert_int_equal(kill(leader, 0), -1);
	stop(fd, pid);
}

static void
test_close_ends_sessions(void **state)
{
	const char *cmd = "(setsid sleep 300 &) ; sleep 300";
	struct broker_conf cf = { no_list, 0, no_list, 0, 0, cmd, NULL };
	struct broker_rep rep;
	int fd, pty, i;
	pid_t pid, leader;
	char out[64];

	NEED_ROOT();
	start(&cf, &fd, &pid);
	login(fd, test_user, test_pass, 1, 1, &rep, &pty);
	assert_int_equal(rep.status, BROKER_OK);
	leader = (pid_t)rep.pid;
	read_until(pty, "never", out, sizeof out);   /* let the daemon start (about 1 s) */
	close(pty);
	stop(fd, pid);
	assert_int_equal(kill(leader, 0), -1);
	/* No process of the user is left, daemonised or not. */
	for (i = 0; i < 50; i++) {
		if (run("pgrep -u %s >/dev/null", test_user) != 0)
			break;
		usleep(20000);
	}
	assert_int_not_equal(run("pgrep -u %s >/dev/null", test_user), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_allow_users),
		cmocka_unit_test(test_root_refused),
		cmocka_unit_test(test_spawn_kill),
		cmocka_unit_test(test_close_ends_sessions),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
