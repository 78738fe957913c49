/*
 * broker.c: the term service's privileged helper (see broker.h for the
 * protocol).  Runs as root in its own process: checks logins with PAM,
 * opens ptys, starts shells as their users, kills and reaps them.
 *
 * Interface: broker_fork() in the worker's privileged hook, then fixed-size
 * struct broker_req / struct broker_rep datagrams.  The broker's own state
 * is a fixed table of session leaders (BROKER_SESSIONS_MAX); it allocates
 * nothing per request itself (PAM and getpw* do, and give it back).
 *
 * Passwords: each request buffer is wiped as soon as PAM has answered.
 *
 * Known weaknesses: PAM runs inline, one login at a time; pam_open_session
 * is not called (no utmp/lastlog/limits), which is enough for pam_unix.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "broker.h"

#define BROKER_GROUPS_MAX 256     /* supplementary groups looked at for allow_groups */
#define BROKER_PWBUF_BYTES 16384  /* getpwnam_r / getgrnam_r scratch */

struct broker_child {
	pid_t pid;               /* 0: free slot */
	uint64_t kill_at_ms;     /* 0: no SIGKILL pending */
	int leader_gone;         /* reaped; the slot waits for the group's SIGKILL */
};

static struct broker_child children[BROKER_SESSIONS_MAX];

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the worker's side ---- */

int
broker_fork(const struct broker_conf *cf, int *fd, pid_t *pid)
{
	int sv[2];
	pid_t p;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	p = fork();
	if (p < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		errno = e;
		return -1;
	}
	if (p == 0) {
		close(sv[0]);
		broker_main(sv[1], cf);
	}
	close(sv[1]);
	*fd = sv[0];
	*pid = p;
	return 0;
}

int
broker_recv(int fd, struct broker_rep *rep, int *pty)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { rep, sizeof *rep };
	struct msghdr mh;
	struct cmsghdr *cm;
	ssize_t n;
	int got = -1;

	*pty = -1;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof u.buf;
	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t k, nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (k = 0; k < nfd; k++) {
				int f;

				memcpy(&f, CMSG_DATA(cm) + k * sizeof(int), sizeof f);
				if (got < 0)
					got = f;
				else
					close(f);
			}
		}
	}
	if ((size_t)n != sizeof *rep || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (rep->type != BROKER_RESULT && rep->type != BROKER_EXITED)) {
		if (got >= 0)
			close(got);
		errno = EPROTO;
		return -1;
	}
	*pty = got;
	return 1;
}

/* ---- the broker ---- */

static void
broker_send(int fd, const struct broker_rep *rep, int pty)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { (void *)rep, sizeof *rep };
	struct msghdr mh;

	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (pty >= 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof u);
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof u.buf;
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pty, sizeof pty);
	}
	/* Blocking: the worker reads its end in every loop round; a reply
	 * that cannot be delivered means the worker is gone. */
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof *rep && errno != EPIPE)
		log_warn("broker: cannot answer the worker: %s", strerror(errno));
}

struct pam_answer {
	const char *user;
	const char *password;
};

static int
broker_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	const struct pam_answer *a = data;
	struct pam_response *r;
	int i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	if ((r = calloc((size_t)n, sizeof *r)) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		const char *ans = NULL;

		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			ans = a->password;
			break;
		case PAM_PROMPT_ECHO_ON:
			ans = a->user;
			break;
		default:   /* PAM_ERROR_MSG, PAM_TEXT_INFO: nothing to say */
			break;
		}
		if (ans && (r[i].resp = strdup(ans)) == NULL) {
			int k;

			for (k = 0; k < i; k++) {
				if (r[k].resp) {
					explicit_bzero(r[k].resp, strlen(r[k].resp));
					free(r[k].resp);
				}
			}
			free(r);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* PAM modules sleep after a failure (pam_faildelay, pam_unix's nodelay
 * aside): that would stall every other login in this one process.  The
 * worker rate-limits failed logins per connection instead. */
static void
broker_no_delay(int retval, unsigned usec_delay, void *appdata)
{
}

static int
broker_pam(const struct broker_conf *cf, const char *user, const char *password)
{
	struct pam_answer a = { user, password };
	struct pam_conv conv = { broker_conv, &a };
	pam_handle_t *ph = NULL;
	int rc;

	rc = pam_start(cf->pam_service ? cf->pam_service : BROKER_PAM_SERVICE, user, &conv, &ph);
	if (rc != PAM_SUCCESS)
		return -1;
	pam_set_item(ph, PAM_FAIL_DELAY, (const void *)broker_no_delay);
	rc = pam_authenticate(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	pam_end(ph, rc);
	return rc == PAM_SUCCESS ? 0 : -1;
}

/* Is the user in one of the allowed groups (primary or supplementary)? */
static int
broker_in_groups(const struct broker_conf *cf, const struct passwd *pw)
{
	gid_t groups[BROKER_GROUPS_MAX];
	int ng = BROKER_GROUPS_MAX;
	size_t i;
	int k;

	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ng) < 0)
		ng = BROKER_GROUPS_MAX;   /* more than we look at: the first ones count */
	for (i = 0; i < cf->n_allow_groups; i++) {
		struct group g, *gp = NULL;
		char buf[BROKER_PWBUF_BYTES];

		if (getgrnam_r(cf->allow_groups[i], &g, buf, sizeof buf, &gp) != 0 || gp == NULL)
			continue;
		for (k = 0; k < ng; k++)
			if (groups[k] == gp->gr_gid)
				return 1;
	}
	return 0;
}

static int
broker_allowed(const struct broker_conf *cf, const struct passwd *pw)
{
	size_t i;
	int ok;

	if (pw->pw_uid == 0 && !cf->allow_root)
		return 0;
	if (cf->n_allow_users == 0 && cf->n_allow_groups == 0)
		return 1;
	ok = 0;
	for (i = 0; i < cf->n_allow_users && !ok; i++)
		if (strcmp(cf->allow_users[i], pw->pw_name) == 0)
			ok = 1;
	if (!ok && cf->n_allow_groups > 0)
		ok = broker_in_groups(cf, pw);
	return ok;
}

static struct broker_child *
broker_slot(pid_t pid)
{
	size_t i;

	for (i = 0; i < BROKER_SESSIONS_MAX; i++)
		if (children[i].pid == pid)
			return &children[i];
	return NULL;
}

/* In the child: become the user, in a new session whose controlling
 * terminal is the pty; never returns. */
static void __attribute__((noreturn))
broker_exec(const struct broker_conf *cf, const struct passwd *pw, int s)
{
	const char *shell = pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh";
	const char *base;
	char argv0[256];
	sigset_t none;
	int sig, fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	/* The slave was opened (O_NOCTTY) before the fork: it is open before
	 * the worker gets the master, so the worker never reads EIO from a
	 * pty whose slave is not open yet.  TIOCSCTTY makes it ours. */
	if (setsid() < 0)
		_exit(126);
	if (ioctl(s, TIOCSCTTY, 0) != 0)
		_exit(126);
	if (dup2(s, 0) < 0 || dup2(s, 1) < 0 || dup2(s, 2) < 0)
		_exit(126);
	if (s > 2)
		close(s);
	close_range(3, ~0U, 0);
	/* A user's runaway process should be the OOM killer's first choice,
	 * before the worker that serves everyone (they share a cgroup). */
	if ((fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC)) >= 0) {
		if (write(fd, "500", 3) != 3) {
			/* not fatal */
		}
		close(fd);
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
		_exit(126);
	if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() != pw->pw_uid))
		_exit(126);
	if (chdir(pw->pw_dir) != 0 && chdir("/") != 0)
		_exit(126);
	clearenv();
	setenv("HOME", pw->pw_dir, 1);
	setenv("USER", pw->pw_name, 1);
	setenv("LOGNAME", pw->pw_name, 1);
	setenv("SHELL", shell, 1);
	setenv("PATH", pw->pw_uid == 0 ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	                               : "/usr/local/bin:/usr/bin:/bin", 1);
	setenv("TERM", "xterm-256color", 1);
	setenv("LANG", "C.UTF-8", 1);
	if (cf->command && cf->command[0]) {
		execl("/bin/sh", "sh", "-c", cf->command, (char *)NULL);
		_exit(127);
	}
	base = strrchr(shell, '/');
	base = base ? base + 1 : shell;
	snprintf(argv0, sizeof argv0, "-%s", base);   /* a login shell, as login(1) starts it */
	execl(shell, argv0, (char *)NULL);
	_exit(127);
}

/* Opens a pty of cols x rows and starts the user's session in it.
 * Returns the master fd (the leader's pid in *pid), or -1. */
static int
broker_spawn(const struct broker_conf *cf, const struct passwd *pw, unsigned cols, unsigned rows, pid_t *pid)
{
	struct broker_child *slot = broker_slot(0);
	struct winsize ws;
	char name[128];
	struct group g, *gp = NULL;
	char gbuf[BROKER_PWBUF_BYTES];
	gid_t tty_gid;
	int m, sl;
	pid_t p;

	if (!slot)
		return -2;
	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return -1;
	if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, sizeof name) != 0)
		goto fail;
	/* The slave belongs to the user, group tty, as login(1) leaves it. */
	tty_gid = (getgrnam_r("tty", &g, gbuf, sizeof gbuf, &gp) == 0 && gp) ? gp->gr_gid : pw->pw_gid;
	if (chown(name, pw->pw_uid, tty_gid) != 0 || chmod(name, 0620) != 0)
		goto fail;
	memset(&ws, 0, sizeof ws);
	ws.ws_col = (unsigned short)cols;
	ws.ws_row = (unsigned short)rows;
	if (ioctl(m, TIOCSWINSZ, &ws) != 0)
		goto fail;
	if ((sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		goto fail;
	p = fork();
	if (p < 0) {
		close(sl);
		goto fail;
	}
	if (p == 0) {
		int fl = fcntl(sl, F_GETFD);

		if (fl >= 0)
			fcntl(sl, F_SETFD, fl & ~FD_CLOEXEC);
		broker_exec(cf, pw, sl);
	}
	close(sl);
	slot->pid = p;
	slot->kill_at_ms = 0;
	slot->leader_gone = 0;
	*pid = p;
	return m;
fail:
	close(m);
	return -1;
}

static void
broker_login(int fd, const struct broker_conf *cf, struct broker_req *req)
{
	struct broker_rep rep;
	struct passwd pw, *pwp = NULL;
	char buf[BROKER_PWBUF_BYTES];
	int pty = -1, authed;
	pid_t pid = 0;

	memset(&rep, 0, sizeof rep);
	rep.type = BROKER_RESULT;
	rep.id = req->id;
	if (memchr(req->user, '\0', sizeof req->user) == NULL ||
	    memchr(req->password, '\0', sizeof req->password) == NULL || req->user[0] == '\0' ||
	    req->spawn > 1 || (req->spawn && (req->cols == 0 || req->cols > BROKER_PTY_COLS_MAX ||
	                                      req->rows == 0 || req->rows > BROKER_PTY_ROWS_MAX))) {
		explicit_bzero(req, sizeof *req);
		rep.status = BROKER_MALFORMED;
		broker_send(fd, &rep, -1);
		return;
	}
	/* PAM first even for a user that does not exist, so that the answer
	 * and its timing say nothing about which names exist. */
	authed = broker_pam(cf, req->user, req->password) == 0;
	explicit_bzero(req->password, sizeof req->password);
	if (getpwnam_r(req->user, &pw, buf, sizeof buf, &pwp) != 0 || pwp == NULL)
		authed = 0;
	if (!authed) {
		rep.status = BROKER_BAD_LOGIN;
	} else if (!broker_allowed(cf, &pw)) {
		rep.status = BROKER_NOT_ALLOWED;
	} else {
		rep.uid = (uint32_t)pw.pw_uid;
		if (req->spawn) {
			pty = broker_spawn(cf, &pw, req->cols, req->rows, &pid);
			if (pty == -2) {
				rep.status = BROKER_FULL;
				pty = -1;
			} else if (pty < 0) {
				rep.status = BROKER_SPAWN_FAILED;
			} else {
				rep.status = BROKER_OK;
				rep.pid = (uint32_t)pid;
			}
		} else {
			rep.status = BROKER_OK;
		}
	}
	broker_send(fd, &rep, pty);
	if (pty >= 0)
		close(pty);
	explicit_bzero(req, sizeof *req);
}

/* Set once the worker's end has closed: everything goes, quickly (the
 * worker waits for us within its own stop grace). */
static int broker_closing;

static void
broker_kill(struct broker_child *c, uint64_t now)
{
	kill(-c->pid, SIGHUP);
	kill(-c->pid, SIGCONT);
	if (c->kill_at_ms == 0)
		c->kill_at_ms = now + (broker_closing ? BROKER_STOP_GRACE_MS : BROKER_KILL_GRACE_MS);
}

/* Reaps everything that exited: leaders are reported, the rest (their
 * stray children, adopted as subreaper) just reaped. */
static void
broker_reap(int fd, uint64_t now)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		struct broker_child *c = broker_slot(p);
		struct broker_rep rep;

		if (!c || c->leader_gone)
			continue;
		c->leader_gone = 1;
		if (broker_closing) {
			/* No grace for what is left of its group. */
			kill(-c->pid, SIGKILL);
			memset(c, 0, sizeof *c);
			continue;
		}
		/* What the leader left in its group goes too. */
		broker_kill(c, now);
		if (fd >= 0) {
			memset(&rep, 0, sizeof rep);
			rep.type = BROKER_EXITED;
			rep.pid = (uint32_t)p;
			rep.wstatus = st;
			broker_send(fd, &rep, -1);
		}
	}
}

/* SIGKILLs that are due; frees the slots of reaped leaders whose group
 * has had its SIGKILL.  Returns the poll timeout until the next one. */
static int
broker_timers(uint64_t now)
{
	uint64_t next = 0;
	size_t i;

	for (i = 0; i < BROKER_SESSIONS_MAX; i++) {
		struct broker_child *c = &children[i];

		if (c->pid == 0 || c->kill_at_ms == 0)
			continue;
		if (c->kill_at_ms <= now) {
			kill(-c->pid, SIGKILL);
			if (!c->leader_gone)
				kill(c->pid, SIGKILL);
			if (c->leader_gone)
				memset(c, 0, sizeof *c);
			else
				c->kill_at_ms = now + BROKER_KILL_GRACE_MS;   /* until it is reaped */
			continue;
		}
		if (next == 0 || c->kill_at_ms < next)
			next = c->kill_at_ms;
	}
	if (next == 0)
		return -1;
	return (int)(next - now);
}

static int
broker_live(void)
{
	size_t i;

	for (i = 0; i < BROKER_SESSIONS_MAX; i++)
		if (children[i].pid != 0)
			return 1;
	return 0;
}

/* At exit: processes that left their session (setsid daemons) were
 * adopted by us as subreaper; they go with the service, and are reaped
 * here rather than left to a PID 1 that may not reap. */
static void
broker_kill_strays(void)
{
	char path[64], line[512];
	struct dirent *de;
	DIR *d;
	pid_t self = getpid();
	int round;

	for (round = 0; round < 3; round++) {
		if ((d = opendir("/proc")) == NULL)
			break;
		while ((de = readdir(d)) != NULL) {
			FILE *f;
			char *p;
			long ppid;
			pid_t pid = (pid_t)atoi(de->d_name);

			if (pid <= 0)
				continue;
			snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
			if ((f = fopen(path, "re")) == NULL)
				continue;
			p = fgets(line, sizeof line, f);
			fclose(f);
			/* "pid (comm) state ppid ...": comm may hold anything, so
			 * parse after its last ')'. */
			if (!p || (p = strrchr(line, ')')) == NULL || sscanf(p + 1, " %*c %ld", &ppid) != 1)
				continue;
			if ((pid_t)ppid == self)
				kill(pid, SIGKILL);
		}
		closedir(d);
		usleep(20000);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

void
broker_main(int fd, const struct broker_conf *cf)
{
	static struct broker_req req;
	struct pollfd pfd[2];
	sigset_t set;
	int sfd, closing = 0;

	log_set_ident("term-broker");
	prctl(PR_SET_NAME, "term-broker", 0, 0, 0);
	/* Orphans of sessions come back to us instead of PID 1, which does
	 * not reap in every sandbox. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	/* Nothing of the worker but the socket and stdio (listeners, the
	 * control socket and the rest are not the broker's business). */
	if (fd > 3)
		close_range(3, (unsigned)fd - 1, 0);
	close_range((unsigned)fd + 1, ~0U, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_SETMASK, &set, NULL);
	if ((sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		_exit(1);
	signal(SIGPIPE, SIG_IGN);
	memset(children, 0, sizeof children);

	for (;;) {
		uint64_t now = now_ms();
		int timeout = broker_timers(now);
		int n;

		if (closing && !broker_live())
			break;
		pfd[0].fd = closing ? -1 : fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = sfd;
		pfd[1].events = POLLIN;
		n = poll(pfd, 2, timeout);
		if (n < 0 && errno != EINTR)
			break;
		now = now_ms();
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo != SIGCHLD && !closing)
					closing = 1;   /* TERM/INT/HUP: end everything */
			}
			broker_reap(closing ? -1 : fd, now);
		}
		if (!closing && (pfd[0].revents & POLLIN)) {
			ssize_t r = recv(fd, &req, sizeof req, MSG_TRUNC | MSG_DONTWAIT);

			if (r == 0) {
				closing = 1;
			} else if (r == (ssize_t)sizeof req && req.type == BROKER_LOGIN) {
				broker_login(fd, cf, &req);
			} else if (r == (ssize_t)sizeof req && req.type == BROKER_KILL) {
				struct broker_child *c = req.pid ? broker_slot((pid_t)req.pid) : NULL;

				if (c && !c->leader_gone)
					broker_kill(c, now);
				explicit_bzero(&req, sizeof req);
			} else if (r > 0) {
				explicit_bzero(&req, sizeof req);
				log_warn("broker: malformed request (%zd bytes) dropped", r);
			}
		} else if (!closing && (pfd[0].revents & (POLLHUP | POLLERR))) {
			closing = 1;
		}
		if (closing) {
			size_t i;

			broker_closing = 1;
			for (i = 0; i < BROKER_SESSIONS_MAX; i++) {
				struct broker_child *c = &children[i];

				if (c->pid && c->leader_gone) {
					kill(-c->pid, SIGKILL);
					memset(c, 0, sizeof *c);
				} else if (c->pid && c->kill_at_ms == 0) {
					broker_kill(c, now);
				} else if (c->pid && c->kill_at_ms > now + BROKER_STOP_GRACE_MS) {
					c->kill_at_ms = now + BROKER_STOP_GRACE_MS;
				}
			}
			broker_reap(-1, now);
		}
	}
	broker_kill_strays();
	_exit(0);
}
