/*
 * test_rdp_session.c: the term service's sessions (src/rdp/session.c) with
 * the real broker, PAM, ptys, libvterm screens and the event loop, as
 * term.c uses them, and the screen's text read back row by row.
 *
 * Needs root (as the broker does): otherwise every test is skipped.  A
 * Unix user with a random name and password is created for the group and
 * removed after.  The configured command (instead of a login shell) is
 * a small sh script, so the tests see exactly what the program printed.
 *
 * Covers: login with Client Info credentials, keys reaching the program
 * and its output reaching the screen, the in-terminal login prompt (the
 * password is not echoed), a wrong password, login attempts running out,
 * keep-on-disconnect and resume by the same user's next login, the shell
 * exiting, the idle timeout, session_max, and the worker region back at
 * its baseline after every session has gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "region.h"
#include "service.h"
#include "rdp/keymap.h"
#include "rdp/screen.h"
#include "rdp/session.h"
#include "rdp/term.h"

static char test_user[32];
static char test_pass[32];
static int have_user;

static struct term_conf tcf;
static struct worker w;
static struct term t;
static size_t baseline;

struct client {
	int damage;
	int ended;
	const char *reason;
};

static void
on_damage(void *arg)
{
	((struct client *)arg)->damage++;
}

static void
on_ended(void *arg, const char *reason)
{
	struct client *c = arg;

	c->ended++;
	c->reason = reason;
}

static const struct session_ops ops = { .damage = on_damage, .ended = on_ended };

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

static void
random_token(char *out, size_t n, const char *prefix)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[16];
	size_t i, p = strlen(prefix);
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, r, sizeof r) != (ssize_t)sizeof r)
		abort();
	close(fd);
	memcpy(out, prefix, p);
	for (i = 0; i < 8 && p + i < n - 1; i++)
		out[p + i] = al[r[i] % (sizeof al - 1)];
	out[p + i] = '\0';
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

static int
group_setup(void **state)
{
	struct stat st;
	char err[256];

	if (geteuid() != 0)
		return 0;
	if (stat("/etc/pam.d/holdfast", &st) != 0 && run("install -m 0644 etc/pam.d/holdfast /etc/pam.d/holdfast") != 0)
		return 0;
	random_token(test_user, sizeof test_user, "hfst");
	random_token(test_pass, sizeof test_pass, "Pw-");
	if (run("useradd -m -d /tmp/%s -s /bin/sh %s", test_user, test_user) != 0)
		return 0;
	if (run("echo '%s:%s' | chpasswd", test_user, test_pass) != 0) {
		run("userdel -r %s", test_user);
		return 0;
	}
	/* The program: says who it is, then echoes lines until EOF. */
	tcf.command = (char *)"echo \"hello-$(id -un)\"; while read line; do "
	                      "if [ \"$line\" = size ]; then echo \"size-$(stty size | tr ' ' x)\"; "
	                      "else echo \"got-$line\"; fi; done; echo bye";
	tcf.session_max = 4;
	tcf.keep_disconnected = 60000;
	tcf.login_attempts_max = 2;
	tcf.keymap = (char *)"us";
	w.conf = &tcf;
	if (session_setup(&w, err, sizeof err) != 0) {
		run("userdel -r %s", test_user);
		return 0;
	}
	w.region = region_new(NULL, "worker", 256u << 20);
	w.loop = loop_new(w.region);
	t.w = &w;
	t.cf = &tcf;
	t.font = NULL;
	if (!w.region || !w.loop || session_start(&t) != 0)
		return -1;
	baseline = region_used(w.region);
	have_user = 1;
	return 0;
}

static int
group_teardown(void **state)
{
	int i;

	if (!have_user)
		return 0;
	session_stop(&t);
	for (i = 0; i < 300 && session_count() > 0; i++)
		loop_run_once(w.loop, 20);
	region_release(w.region);
	kill_user_processes(test_user);
	run("userdel -r %s 2>/dev/null", test_user);
	return 0;
}

#define NEED_ROOT() do { if (!have_user) skip(); } while (0)

/* Does any row of the screen contain needle? */
static int
screen_has(struct session *s, const char *needle)
{
	struct screen *scr = session_screen(s);
	char row[1024];
	int r;

	if (!scr)
		return 0;
	for (r = 0; r < screen_rows(scr); r++) {
		screen_row_text(scr, r, row, sizeof row);
		if (strstr(row, needle))
			return 1;
	}
	return 0;
}

/* Runs the loop until the screen shows needle (bounded: 10 s of rounds). */
static int
wait_text(struct session *s, const char *needle)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (screen_has(s, needle))
			return 1;
		loop_run_once(w.loop, 20);
	}
	return 0;
}

static int
wait_ended(struct client *c)
{
	int i;

	for (i = 0; i < 500 && !c->ended; i++)
		loop_run_once(w.loop, 20);
	return c->ended;
}

static void
type(struct session *s, const char *text)
{
	for (; *text; text++) {
		if (*text == '\n') {
			session_key_scancode(s, KBDFLAGS_DOWN, 0x1c);
			session_key_scancode(s, KBDFLAGS_RELEASE, 0x1c);
		} else {
			session_key_unicode(s, 0, (uint16_t)(unsigned char)*text);
			session_key_unicode(s, KBDFLAGS_RELEASE, (uint16_t)(unsigned char)*text);
		}
	}
}

static void
key(struct session *s, uint8_t code, uint16_t ext)
{
	session_key_scancode(s, KBDFLAGS_DOWN | ext, code);
	session_key_scancode(s, KBDFLAGS_RELEASE | ext, code);
}

/* Ctrl + the key of scancode code. */
static void
ctrl(struct session *s, uint8_t code)
{
	session_key_scancode(s, KBDFLAGS_DOWN, 0x1d);
	key(s, code, 0);
	session_key_scancode(s, KBDFLAGS_RELEASE, 0x1d);
}

/* Ends s from the client's side and lets the loop settle. */
static void
drop(struct session *s)
{
	int i;

	session_detach(s);
	for (i = 0; i < 5; i++)
		loop_run_once(w.loop, 0);
}

static void
wait_count(size_t n)
{
	int i;

	for (i = 0; i < 300 && session_count() != n; i++)
		loop_run_once(w.loop, 20);
}

static void
test_client_info_login(void **state)
{
	struct client c = { 0, 0, NULL };
	struct session *s;
	char want[64];

	NEED_ROOT();
	s = session_open(&t, test_user, test_pass, 800, 600, NULL, &ops, &c);
	assert_non_null(s);
	snprintf(want, sizeof want, "hello-%s", test_user);
	assert_true(wait_text(s, want));
	assert_true(c.damage > 0);
	assert_int_equal(screen_cols(session_screen(s)), 100);
	type(s, "abc\n");
	assert_true(wait_text(s, "got-abc"));
	/* A client resize: screen and pty follow. */
	c.damage = 0;
	assert_int_equal(session_resize(s, 640, 400), 0);
	assert_int_equal(screen_cols(session_screen(s)), 80);
	assert_int_equal(screen_rows(session_screen(s)), 25);
	assert_true(c.damage > 0);
	type(s, "size\n");
	assert_true(wait_text(s, "size-25x80"));
	/* Ctrl-D: the program reads EOF and exits. */
	ctrl(s, 0x20);
	assert_true(wait_ended(&c));
	assert_string_equal(c.reason, "shell exited");
	drop(s);
	wait_count(0);
	assert_int_equal(session_count(), 0);
	assert_int_equal(region_used(w.region), baseline);
}

static void
test_prompt_login(void **state)
{
	struct client c = { 0, 0, NULL };
	struct session *s;
	char want[64];

	NEED_ROOT();
	s = session_open(&t, NULL, NULL, 640, 480, NULL, &ops, &c);
	assert_non_null(s);
	assert_true(wait_text(s, "login:"));
	/* Line editing: backspace, an arrow key (ignored), ^U. */
	type(s, "zq");
	key(s, 0x0e, 0);                     /* Backspace */
	key(s, 0x0e, 0);
	key(s, 0x48, KBDFLAGS_EXTENDED);     /* Up */
	type(s, "garbage");
	ctrl(s, 0x16);                       /* ^U */
	type(s, test_user);
	type(s, "\n");
	assert_true(wait_text(s, "Password:"));
	assert_false(screen_has(s, "garbage"));
	type(s, test_pass);
	assert_false(screen_has(s, test_pass));   /* no echo */
	type(s, "\n");
	snprintf(want, sizeof want, "hello-%s", test_user);
	assert_true(wait_text(s, want));
	assert_false(screen_has(s, test_pass));
	assert_int_equal(c.ended, 0);
	drop(s);   /* keep_disconnected: kept */
	assert_int_equal(session_count(), 1);

	/* The same user's next login resumes it, with its screen, at the new
	 * client's size (the program sees the pty resized). */
	memset(&c, 0, sizeof c);
	s = session_open(&t, test_user, test_pass, 800, 320, NULL, &ops, &c);
	assert_non_null(s);
	assert_true(wait_text(s, want));
	assert_int_equal(session_count(), 1);   /* the kept one was taken over */
	assert_int_equal(screen_cols(session_screen(s)), 100);
	assert_int_equal(screen_rows(session_screen(s)), 20);
	assert_true(c.damage > 0);
	type(s, "again\n");
	assert_true(wait_text(s, "got-again"));
	type(s, "size\n");
	assert_true(wait_text(s, "size-20x100"));
	assert_int_equal(c.ended, 0);

	/* Without keep_disconnected the session ends with the client. */
	tcf.keep_disconnected = 0;
	drop(s);
	tcf.keep_disconnected = 60000;
	wait_count(0);
	assert_int_equal(session_count(), 0);
	assert_int_equal(region_used(w.region), baseline);
}

static void
test_bad_logins(void **state)
{
	struct client c = { 0, 0, NULL };
	struct session *s;

	NEED_ROOT();
	/* A user name with a control character is not used: the prompt asks. */
	s = session_open(&t, "evil\nname", "x", 640, 480, NULL, &ops, &c);
	assert_non_null(s);
	assert_true(wait_text(s, "login:"));
	assert_false(screen_has(s, "Login incorrect"));
	drop(s);
	wait_count(0);

	/* Wrong Client Info password: "Login incorrect", then the prompt. */
	s = session_open(&t, test_user, "not-the-password", 640, 480, NULL, &ops, &c);
	assert_non_null(s);
	assert_true(wait_text(s, "Login incorrect"));
	assert_true(wait_text(s, "login:"));
	assert_int_equal(c.ended, 0);
	/* The second failure spends login_attempts_max (2). */
	type(s, test_user);
	type(s, "\nwrong-again\n");
	assert_true(wait_ended(&c));
	assert_string_equal(c.reason, "login attempts spent");
	drop(s);
	wait_count(0);
	assert_int_equal(region_used(w.region), baseline);
}

static void
test_idle_and_max(void **state)
{
	struct client c[5];
	struct session *s[5];
	char want[64];
	int i;

	NEED_ROOT();
	memset(c, 0, sizeof c);
	/* session_max = 4: prompts count too, but the oldest prompt gives
	 * way to a new connection; logged-in sessions never do. */
	for (i = 0; i < 4; i++) {
		s[i] = session_open(&t, NULL, NULL, 320, 240, NULL, &ops, &c[i]);
		assert_non_null(s[i]);
	}
	s[4] = session_open(&t, NULL, NULL, 320, 240, NULL, &ops, &c[4]);
	assert_non_null(s[4]);
	assert_true(wait_ended(&c[0]));
	assert_string_equal(c[0].reason, "shed for a new connection (session_max)");
	assert_int_equal(c[1].ended, 0);
	drop(s[0]);
	for (i = 1; i < 5; i++)
		drop(s[i]);
	wait_count(0);
	assert_int_equal(session_count(), 0);
	/* Four logged in: a fifth connection is refused. */
	snprintf(want, sizeof want, "hello-%s", test_user);
	for (i = 0; i < 4; i++) {
		memset(&c[i], 0, sizeof c[i]);
		s[i] = session_open(&t, test_user, test_pass, 320, 240, NULL, &ops, &c[i]);
		assert_non_null(s[i]);
		assert_true(wait_text(s[i], want));
	}
	assert_null(session_open(&t, NULL, NULL, 320, 240, NULL, &ops, &c[4]));
	tcf.keep_disconnected = 0;
	for (i = 0; i < 4; i++)
		drop(s[i]);
	tcf.keep_disconnected = 60000;
	wait_count(0);
	assert_int_equal(session_count(), 0);

	/* Idle timeout ends a logged-in session. */
	tcf.session_idle_timeout = 300;
	s[0] = session_open(&t, test_user, test_pass, 320, 240, NULL, &ops, &c[0]);
	snprintf(want, sizeof want, "hello-%s", test_user);
	assert_true(wait_text(s[0], want));
	assert_true(wait_ended(&c[0]));
	assert_string_equal(c[0].reason, "idle timeout");
	tcf.session_idle_timeout = 0;
	drop(s[0]);
	wait_count(0);
	assert_int_equal(region_used(w.region), baseline);

	/* session_timeout ends it however busy it is. */
	tcf.session_timeout = 600;
	memset(&c[0], 0, sizeof c[0]);
	s[0] = session_open(&t, test_user, test_pass, 320, 240, NULL, &ops, &c[0]);
	assert_true(wait_text(s[0], want));
	for (i = 0; i < 5000 && !c[0].ended; i++) {   /* bounded: 5000 rounds of at most 20 ms */
		if (i % 20 == 0)
			type(s[0], "x\n");
		loop_run_once(w.loop, 20);
	}
	assert_true(c[0].ended);
	assert_string_equal(c[0].reason, "session timeout");
	tcf.session_timeout = 0;
	drop(s[0]);
	wait_count(0);
	assert_int_equal(region_used(w.region), baseline);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_info_login),
		cmocka_unit_test(test_prompt_login),
		cmocka_unit_test(test_bad_logins),
		cmocka_unit_test(test_idle_and_max),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
