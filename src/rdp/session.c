/*
 * session.c: the term service's sessions, in the worker (see session.h).
 *
 * A struct session lives in the worker region (it is small and fixed);
 * its screen lives in a region of its own under the worker region, with a
 * budget of the largest screen a client may ask for, so a session's
 * memory is bounded and given back whole when it ends.
 *
 * States:
 *   PROMPT_USER / PROMPT_PASS  the in-terminal login prompt: keys go to
 *                              the screen's keymap, the bytes it produces
 *                              are read here as a line (the password is
 *                              not echoed), never written to a pty
 *   PENDING                    a LOGIN is with the broker (PAM)
 *   DELAY                      after a failed login (login rate limit)
 *   RUNNING                    a shell in a pty; its output goes into the
 *                              screen, keys go to the pty
 *   DETACHED                   RUNNING without a client, waiting for the
 *                              same user's next login (keep_disconnected)
 *   ENDED                      waiting for session_detach
 *
 * Logins go to the broker (broker.h) as fixed-size requests; the worker
 * gets back a status and, for a new shell, the pty master fd.  A login of
 * a user who has a detached session is checked without spawning and then
 * resumes it.  Passwords (from Client Info or typed) are held only until
 * the broker has answered, then wiped.
 *
 * Limits: session_max sessions per worker (login prompts included),
 * SESSION_PER_USER_MAX shells per user, login_attempts_max failed logins
 * per connection with SESSION_LOGIN_DELAY_MS between them, the login
 * prompt times out, pty output is read in bounded slices per loop round.
 *
 * Known weakness: the broker answers one login at a time (PAM inline).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "addr_rate.h"
#include "log.h"
#include "loop.h"
#include "region.h"
#include "service.h"
#include "broker.h"
#include "font.h"
#include "keymap.h"
#include "screen.h"
#include "session.h"
#include "term.h"

/* session_send_login copies the fields whole. */
_Static_assert(SESSION_USER_MAX_BYTES == BROKER_USER_MAX_BYTES, "user field sizes differ");
_Static_assert(SESSION_PASSWORD_MAX_BYTES == BROKER_PASSWORD_MAX_BYTES, "password field sizes differ");

enum session_state {
	SESSION_PROMPT_USER,
	SESSION_PROMPT_PASS,
	SESSION_PENDING,
	SESSION_DELAY,
	SESSION_RUNNING,
	SESSION_DETACHED,
	SESSION_ENDED,
};

static const char *const state_names[] = {
	"login", "password", "pending", "delay", "running", "detached", "ended",
};

struct session_mgr;

struct session {
	struct session_mgr *m;
	struct session *prev, *next;
	struct region *r;                 /* the screen's region */
	struct screen *scr;
	enum session_state state;
	const struct session_ops *ops;    /* NULL when no client is attached */
	void *arg;
	int width, height;
	uint32_t req_id;                  /* the LOGIN the broker is answering */
	int req_spawn;
	unsigned attempts;                /* failed logins on this attachment */
	struct sockaddr_storage peer;     /* the client's address (login rate) */
	char user[SESSION_USER_MAX_BYTES];
	char password[SESSION_PASSWORD_MAX_BYTES];
	size_t linelen;                   /* typed bytes of user or password */
	uint32_t uid;
	pid_t pid;                        /* session leader, 0 before spawn */
	int pty;
	struct loop_io io;
	char wbuf[SESSION_PTY_WBUF_BYTES];
	size_t wlen;
	uint64_t started_ms;
	struct timer t_login;             /* prompt timeout, or the delay after a failure */
	struct timer t_idle;
	struct timer t_life;
	struct timer t_keep;
	struct loop_defer d_free;         /* session_on_ended */
	const char *end_reason;           /* a static string */
};

struct session_mgr {
	struct term *t;
	struct loop *loop;
	struct region *wr;                /* the worker region */
	const struct keymap *keymap;
	struct session *head;
	size_t count;
	uint32_t next_id;
	struct loop_io bio;
	struct timer t_reap;              /* after stop: waits for the broker */
	struct addr_rate *login_rate;     /* PAM attempts per client address */
	int stopping;
};

/* Set in the privileged hook, before any region exists. */
static int broker_fd = -1;
static pid_t broker_pid = -1;
static struct session_mgr *mgr;

static struct log_rate rate_login, rate_broker;

static void session_end(struct session *s, const char *reason);
static void session_prompt(struct session *s, const char *notice);

/* ---- small helpers ---- */

static void
session_damage(struct session *s)
{
	if (s->ops && s->ops->damage && s->scr)
		s->ops->damage(s->arg);
}

static void
session_puts(struct session *s, const char *text)
{
	screen_write(s->scr, text, strlen(text));
}

static void
session_wipe(struct session *s)
{
	explicit_bzero(s->password, sizeof s->password);
	s->linelen = 0;
}

static const struct term_conf *
session_conf(const struct session *s)
{
	return s->m->t->cf;
}

static void
session_set_winsize(struct session *s)
{
	struct winsize ws;

	if (s->pty < 0)
		return;
	memset(&ws, 0, sizeof ws);
	ws.ws_col = (unsigned short)screen_cols(s->scr);
	ws.ws_row = (unsigned short)screen_rows(s->scr);
	if (ioctl(s->pty, TIOCSWINSZ, &ws) != 0)
		log_debug("session: TIOCSWINSZ: %s", strerror(errno));
}

static void
session_close_pty(struct session *s)
{
	if (s->pty >= 0) {
		loop_io_del(s->m->loop, &s->io);
		close(s->pty);
		s->pty = -1;
	}
	if (s->pid > 0 && broker_fd >= 0) {
		struct broker_req req;

		memset(&req, 0, sizeof req);
		req.type = BROKER_KILL;
		req.pid = (uint32_t)s->pid;
		if (send(broker_fd, &req, sizeof req, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof req)
			log_rated(&rate_broker, LOG_LVL_WARN, "session: cannot ask the broker to end pid %d: %s",
			          (int)s->pid, strerror(errno));
	}
	s->pid = 0;
}

static void
session_cancel_timers(struct session *s)
{
	loop_timer_cancel(s->m->loop, &s->t_login);
	loop_timer_cancel(s->m->loop, &s->t_idle);
	loop_timer_cancel(s->m->loop, &s->t_life);
	loop_timer_cancel(s->m->loop, &s->t_keep);
}

/* The mirror of session_new. */
static void
session_free(struct session *s)
{
	struct session_mgr *m = s->m;

	session_cancel_timers(s);
	loop_defer_cancel(m->loop, &s->d_free);
	session_close_pty(s);
	session_wipe(s);
	if (s->scr)
		screen_free(s->scr);
	region_release(s->r);
	if (s->prev)
		s->prev->next = s->next;
	else
		m->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	m->count--;
	region_free(m->wr, s);
}

/* After session_end, from the loop (never inside the caller's stack, so
 * that no caller can be left holding a freed session): tells the client,
 * or frees the session if no client holds it. */
static void
session_on_ended(void *arg)
{
	struct session *s = arg;

	if (!s->ops) {
		session_free(s);
		return;
	}
	if (s->ops->ended)
		s->ops->ended(s->arg, s->end_reason);
}

/* Ends s: the shell goes; the client (if any) is told after this round. */
static void
session_end(struct session *s, const char *reason)
{
	if (s->state == SESSION_ENDED)
		return;
	log_info("session of %s: ended: %s", s->user[0] ? s->user : "(no login)", reason);
	s->state = SESSION_ENDED;
	s->end_reason = reason;
	session_cancel_timers(s);
	session_close_pty(s);
	session_wipe(s);
	loop_defer(s->m->loop, &s->d_free, session_on_ended, s);
}

/* ---- timers ---- */

static void
session_on_idle(struct timer *t, void *arg)
{
	session_end(arg, "idle timeout");
}

static void
session_on_life(struct timer *t, void *arg)
{
	session_end(arg, "session timeout");
}

static void
session_on_keep(struct timer *t, void *arg)
{
	session_end(arg, "not resumed in time");
}

static void
session_on_login_timer(struct timer *t, void *arg)
{
	struct session *s = arg;

	if (s->state == SESSION_DELAY) {
		session_prompt(s, NULL);
		return;
	}
	session_puts(s, "\r\n\r\nLogin timed out.\r\n");
	session_damage(s);
	session_end(s, "login timeout");
}

static void
session_touch(struct session *s)
{
	uint64_t idle = session_conf(s)->session_idle_timeout;

	if (idle > 0 && s->state == SESSION_RUNNING)
		loop_timer_set(s->m->loop, &s->t_idle, idle);
}

/* ---- the pty ---- */

static void
session_flush_pty(struct session *s)
{
	ssize_t n;

	while (s->wlen > 0 && s->pty >= 0) {
		n = write(s->pty, s->wbuf, s->wlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		memmove(s->wbuf, s->wbuf + n, s->wlen - (size_t)n);
		s->wlen -= (size_t)n;
	}
	if (s->pty >= 0)
		loop_io_mod(s->m->loop, &s->io, EPOLLIN | (s->wlen ? EPOLLOUT : 0));
}

static void
session_on_pty(struct loop_io *io, uint32_t events, void *arg)
{
	static char buf[SESSION_PTY_READ_BYTES];
	struct session *s = arg;
	int i, got = 0;

	if (events & EPOLLOUT)
		session_flush_pty(s);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (i = 0; i < SESSION_PTY_READS_PER_ROUND; i++) {
			ssize_t n = read(s->pty, buf, sizeof buf);

			if (n > 0) {
				screen_write(s->scr, buf, (size_t)n);
				got = 1;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			/* EIO (or EOF): every holder of the slave has gone. */
			if (got)
				session_damage(s);
			session_end(s, "shell exited");
			return;
		}
		/* Answers to terminal queries (DA, DSR) go back to the program. */
		if (screen_output_pending(s->scr) > 0) {
			size_t room = sizeof s->wbuf - s->wlen;

			s->wlen += screen_take_output(s->scr, s->wbuf + s->wlen, room);
			session_flush_pty(s);
		}
	}
	if (got)
		session_damage(s);
}

static int
session_attach_pty(struct session *s, int pty, pid_t pid)
{
	int fl = fcntl(pty, F_GETFL);

	if (fl < 0 || fcntl(pty, F_SETFL, fl | O_NONBLOCK) != 0)
		return -1;
	s->pty = pty;
	s->pid = pid;
	if (loop_io_add(s->m->loop, &s->io, pty, EPOLLIN, session_on_pty, s) != 0) {
		s->pty = -1;
		return -1;
	}
	return 0;
}

/* ---- the broker ---- */

static int
session_send_login(struct session *s, int spawn)
{
	struct broker_req req;
	ssize_t n;

	memset(&req, 0, sizeof req);
	req.type = BROKER_LOGIN;
	req.id = s->req_id = ++s->m->next_id;
	req.spawn = (uint32_t)spawn;
	req.cols = (uint16_t)screen_cols(s->scr);
	req.rows = (uint16_t)screen_rows(s->scr);
	memcpy(req.user, s->user, sizeof req.user);
	memcpy(req.password, s->password, sizeof req.password);
	n = broker_fd >= 0 ? send(broker_fd, &req, sizeof req, MSG_DONTWAIT | MSG_NOSIGNAL) : -1;
	explicit_bzero(&req, sizeof req);
	if (n != (ssize_t)sizeof req)
		return -1;
	s->req_spawn = spawn;
	s->state = SESSION_PENDING;
	return 0;
}

static struct session *
session_find_detached(struct session_mgr *m, const char *user)
{
	struct session *s, *best = NULL;

	for (s = m->head; s; s = s->next)
		if (s->state == SESSION_DETACHED && strcmp(s->user, user) == 0)
			best = s;   /* the list is newest first: take the oldest kept */
	return best;
}

static size_t
session_user_count(struct session_mgr *m, const char *user)
{
	struct session *s;
	size_t n = 0;

	for (s = m->head; s; s = s->next)
		if ((s->state == SESSION_RUNNING || s->state == SESSION_DETACHED) && strcmp(s->user, user) == 0)
			n++;
	return n;
}

/* A login attempt failed (text: why, for the screen): the next prompt
 * after a pause, or the end once login_attempts_max are spent. */
static void
session_login_failed(struct session *s, const char *text)
{
	session_wipe(s);
	s->attempts++;
	if (s->attempts >= session_conf(s)->login_attempts_max) {
		session_puts(s, text);
		session_damage(s);
		session_end(s, "login attempts spent");
		return;
	}
	/* The next prompt only after a pause: a connection cannot guess
	 * faster than one password per SESSION_LOGIN_DELAY_MS. */
	s->state = SESSION_DELAY;
	session_puts(s, text);
	session_damage(s);
	loop_timer_set(s->m->loop, &s->t_login, SESSION_LOGIN_DELAY_MS);
}

/* Credentials are in s->user / s->password: ask the broker. */
static void
session_login(struct session *s)
{
	int spawn = session_find_detached(s->m, s->user) == NULL;

	/* PAM costs the broker far more than the client's attempt costs
	 * the client, and the broker serves everyone: an address may fail
	 * login_burst_per_address logins at once, then
	 * login_rate_per_address a minute (charged in session_on_result;
	 * logins that succeed cost nothing, so a crowd behind one NAT
	 * address is not held up by its own successes). */
	if (s->m->login_rate && !addr_rate_allow(s->m->login_rate, &s->peer, loop_now_ms(s->m->loop))) {
		log_rated(&rate_login, LOG_LVL_WARN, "session: login of %s refused: too many attempts from its address",
		          s->user);
		if (s->ops && s->ops->count)
			s->ops->count(s->arg, "rdp_login_rate");
		session_login_failed(s, "\r\nToo many login attempts from this address; wait a minute.\r\n");
		return;
	}

	if (spawn && session_user_count(s->m, s->user) >= SESSION_PER_USER_MAX) {
		session_wipe(s);
		s->attempts++;
		s->state = SESSION_DELAY;
		session_prompt(s, "Too many sessions for this user.");
		return;
	}
	if (session_send_login(s, spawn) != 0) {
		log_rated(&rate_broker, LOG_LVL_ERR, "session: broker unavailable: %s", strerror(errno));
		session_wipe(s);
		session_puts(s, "\r\nLogin service unavailable.\r\n");
		session_damage(s);
		session_end(s, "broker unavailable");
		return;
	}
	loop_timer_cancel(s->m->loop, &s->t_login);
}

/* Moves the kept session k into s (the handle the new connection holds):
 * its screen and its shell; k is freed. */
static void
session_resume(struct session *s, struct session *k)
{
	struct session_mgr *m = s->m;
	struct region *old_r = s->r;
	struct screen *old_scr = s->scr;
	int pty = k->pty;
	pid_t pid = k->pid;

	loop_io_del(m->loop, &k->io);
	k->pty = -1;
	k->pid = 0;
	s->r = k->r;
	s->scr = k->scr;
	s->started_ms = k->started_ms;
	k->r = NULL;
	k->scr = NULL;
	if (session_conf(s)->session_timeout > 0 && timer_armed(&k->t_life)) {
		uint64_t now = loop_now_ms(m->loop);
		uint64_t left = k->t_life.deadline_ms > now ? k->t_life.deadline_ms - now : 0;

		loop_timer_set(m->loop, &s->t_life, left);
	}
	s->wlen = 0;
	session_free(k);
	screen_free(old_scr);
	region_release(old_r);
	s->state = SESSION_RUNNING;
	if (session_attach_pty(s, pty, pid) != 0) {
		close(pty);
		s->pid = pid;
		session_end(s, "cannot watch the pty");
		return;
	}
	if (screen_width(s->scr) != s->width || screen_height(s->scr) != s->height) {
		if (screen_resize(s->scr, s->width, s->height) == 0)
			session_set_winsize(s);
	}
	screen_redraw(s->scr);
	session_touch(s);
	log_info("session of %s: resumed", s->user);
	session_damage(s);
}

static void
session_on_result(struct session *s, const struct broker_rep *rep, int pty)
{
	const struct term_conf *cf = session_conf(s);
	struct session *k;

	if (rep->status != BROKER_OK) {
		if (pty >= 0)
			close(pty);
		log_rated(&rate_login, LOG_LVL_INFO, "session: login of %s refused (%u)", s->user, rep->status);
		if (s->m->login_rate)
			addr_rate_charge(s->m->login_rate, &s->peer, loop_now_ms(s->m->loop));
		session_login_failed(s, rep->status == BROKER_NOT_ALLOWED && s->attempts + 1 < cf->login_attempts_max
		                        ? "\r\nLogin not allowed here.\r\n" : "\r\nLogin incorrect.\r\n");
		return;
	}
	s->uid = rep->uid;
	if (!s->req_spawn) {
		if (pty >= 0)
			close(pty);
		k = session_find_detached(s->m, s->user);
		if (k && k->uid == rep->uid) {
			session_wipe(s);
			session_resume(s, k);
			return;
		}
		/* The kept session ended meanwhile: a new one, same password. */
		if (session_send_login(s, 1) != 0) {
			session_wipe(s);
			session_end(s, "broker unavailable");
		}
		return;
	}
	session_wipe(s);
	if (pty < 0) {
		session_end(s, "no pty from the broker");
		return;
	}
	s->state = SESSION_RUNNING;
	s->started_ms = loop_now_ms(s->m->loop);
	if (session_attach_pty(s, pty, (pid_t)rep->pid) != 0) {
		close(pty);
		s->pid = (pid_t)rep->pid;
		session_end(s, "cannot watch the pty");
		return;
	}
	/* The prompt's text goes; the shell starts on a clean screen. */
	session_puts(s, "\x1b[0m\x1b[H\x1b[2J");
	session_set_winsize(s);
	if (cf->session_timeout > 0)
		loop_timer_set(s->m->loop, &s->t_life, cf->session_timeout);
	session_touch(s);
	log_info("session of %s: shell pid %d", s->user, (int)s->pid);
	session_damage(s);
}

static void
session_on_broker(struct loop_io *io, uint32_t events, void *arg)
{
	struct session_mgr *m = arg;
	struct broker_rep rep;
	struct session *s, *next;
	int pty, rc, i;

	for (i = 0; i < 64; i++) {
		rc = broker_recv(broker_fd, &rep, &pty);
		if (rc < 0 && errno == EAGAIN)
			return;
		if (rc < 0) {
			log_rated(&rate_broker, LOG_LVL_WARN, "session: malformed message from the broker dropped");
			continue;
		}
		if (rc == 0) {
			log_err("session: the broker has gone; no more logins");
			loop_io_del(m->loop, &m->bio);
			close(broker_fd);
			broker_fd = -1;
			for (s = m->head; s; s = next) {
				next = s->next;
				if (s->state != SESSION_ENDED)
					session_end(s, "broker gone");
			}
			return;
		}
		if (rep.type == BROKER_RESULT) {
			for (s = m->head; s; s = s->next)
				if (s->state == SESSION_PENDING && s->req_id == rep.id)
					break;
			if (s) {
				session_on_result(s, &rep, pty);
			} else {
				/* Its connection went while PAM was busy: end what came. */
				if (pty >= 0)
					close(pty);
				if (rep.status == BROKER_OK && rep.pid > 0) {
					struct broker_req req;

					memset(&req, 0, sizeof req);
					req.type = BROKER_KILL;
					req.pid = rep.pid;
					if (send(broker_fd, &req, sizeof req, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
						log_rated(&rate_broker, LOG_LVL_WARN, "session: broker: %s", strerror(errno));
				}
			}
		} else {
			if (pty >= 0)
				close(pty);
			for (s = m->head; s; s = s->next)
				if (s->pid > 0 && (uint32_t)s->pid == rep.pid && s->state != SESSION_ENDED)
					break;
			if (s) {
				s->pid = 0;   /* reaped: no KILL for it */
				if (s->pty >= 0)
					session_on_pty(&s->io, EPOLLIN, s);   /* its last words; may end it */
				session_end(s, "shell exited");
			}
		}
	}
}

/* ---- the login prompt ---- */

static void
session_prompt(struct session *s, const char *notice)
{
	char host[64];

	if (notice) {
		session_puts(s, "\r\n");
		session_puts(s, notice);
		session_puts(s, "\r\n");
	}
	if (s->attempts >= session_conf(s)->login_attempts_max) {
		session_damage(s);
		session_end(s, "login attempts spent");
		return;
	}
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "holdfast");
	host[sizeof host - 1] = '\0';
	session_wipe(s);
	s->user[0] = '\0';
	s->state = SESSION_PROMPT_USER;
	session_puts(s, "\r\n");
	session_puts(s, host);
	session_puts(s, " login: ");
	loop_timer_set(s->m->loop, &s->t_login, SESSION_LOGIN_TIMEOUT_MS);
	session_damage(s);
}

/* One byte typed at the prompt. */
static void
session_prompt_byte(struct session *s, unsigned char c)
{
	int pass = s->state == SESSION_PROMPT_PASS;
	char *line = pass ? s->password : s->user;
	size_t max = (pass ? sizeof s->password : sizeof s->user) - 1;

	if (c == '\r' || c == '\n') {
		line[s->linelen] = '\0';
		if (!pass) {
			if (s->linelen == 0) {
				session_puts(s, "\r\n");
				session_prompt(s, NULL);
				return;
			}
			s->linelen = 0;
			s->state = SESSION_PROMPT_PASS;
			session_puts(s, "\r\nPassword: ");
			return;
		}
		s->linelen = 0;
		session_puts(s, "\r\n");
		session_login(s);
		return;
	}
	if (c == 0x7f || c == 0x08) {
		if (s->linelen > 0) {
			s->linelen--;
			/* Whole UTF-8 characters: drop continuation bytes too. */
			while (s->linelen > 0 && ((unsigned char)line[s->linelen] & 0xc0) == 0x80)
				s->linelen--;
			line[s->linelen] = '\0';
			if (!pass)
				session_puts(s, "\b \b");
		}
		return;
	}
	if (c == 0x15) {   /* ^U */
		if (!pass)
			while (s->linelen-- > 0)
				session_puts(s, "\b \b");
		s->linelen = 0;
		line[0] = '\0';
		return;
	}
	if (c == 0x03) {   /* ^C: start over */
		session_puts(s, "^C\r\n");
		session_prompt(s, NULL);
		return;
	}
	if (c < 0x20)
		return;
	if (s->linelen >= max)
		return;
	line[s->linelen++] = (char)c;
	line[s->linelen] = '\0';
	if (!pass)
		screen_write(s->scr, (const char *)&c, 1);
}

/* Bytes the screen's keymap produced while at the prompt. */
static void
session_prompt_input(struct session *s)
{
	char buf[64];
	size_t n, i;

	while ((n = screen_take_output(s->scr, buf, sizeof buf)) > 0) {
		for (i = 0; i < n; i++) {
			if (s->state != SESSION_PROMPT_USER && s->state != SESSION_PROMPT_PASS)
				break;   /* the rest was typed ahead of a login: dropped */
			if (buf[i] == 0x1b)
				break;   /* an escape sequence (arrows, F-keys): ignored */
			session_prompt_byte(s, (unsigned char)buf[i]);
		}
		explicit_bzero(buf, sizeof buf);
		if (s->state == SESSION_ENDED)
			return;
	}
}

/* After a key event on the screen: route what it produced. */
static void
session_after_key(struct session *s)
{
	switch (s->state) {
	case SESSION_PROMPT_USER:
	case SESSION_PROMPT_PASS:
		session_prompt_input(s);
		if (s->state != SESSION_ENDED)
			session_damage(s);
		break;
	case SESSION_RUNNING:
		if (screen_output_pending(s->scr) > 0) {
			s->wlen += screen_take_output(s->scr, s->wbuf + s->wlen, sizeof s->wbuf - s->wlen);
			session_flush_pty(s);
			/* What did not fit is dropped: a human does not type 4 KiB
			 * ahead of a shell. */
			if (s->wlen == sizeof s->wbuf) {
				char sink[256];

				while (screen_take_output(s->scr, sink, sizeof sink) > 0)
					;
			}
		}
		session_touch(s);
		break;
	default: {
		/* Typed while PAM works or during the delay: dropped. */
		char sink[256];

		while (screen_take_output(s->scr, sink, sizeof sink) > 0)
			;
		explicit_bzero(sink, sizeof sink);
		break;
	}
	}
}

/* ---- the interface ---- */

int
session_setup(struct worker *w, char *err, size_t errlen)
{
	const struct term_conf *cf = w->conf;
	static struct broker_conf bc;

	memset(&bc, 0, sizeof bc);
	bc.allow_users = (const char *const *)cf->allow_users.v;
	bc.n_allow_users = cf->allow_users.n;
	bc.allow_groups = (const char *const *)cf->allow_groups.v;
	bc.n_allow_groups = cf->allow_groups.n;
	bc.allow_root = cf->allow_root;
	bc.command = cf->command;
	bc.pam_service = BROKER_PAM_SERVICE;
	if (broker_fork(&bc, &broker_fd, &broker_pid) != 0) {
		snprintf(err, errlen, "term: cannot start the login broker: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void
session_on_reap(struct timer *t, void *arg)
{
	struct session_mgr *m = arg;

	if (broker_pid > 0 && waitpid(broker_pid, NULL, WNOHANG) != 0)
		broker_pid = -1;
	if (broker_pid > 0)
		loop_timer_set(m->loop, &m->t_reap, 20);
}

int
session_start(struct term *t)
{
	struct session_mgr *m;

	if ((m = region_zalloc(t->w->region, sizeof *m)) == NULL)
		return -1;
	m->t = t;
	m->loop = t->w->loop;
	m->wr = t->w->region;
	m->keymap = keymap_find(t->cf->keymap && t->cf->keymap[0] ? t->cf->keymap : "us");
	if (!m->keymap) {
		log_warn("session: unknown keymap '%s', using us", t->cf->keymap);
		m->keymap = keymap_find("us");
	}
	loop_io_init(&m->bio);
	timer_init(&m->t_reap, session_on_reap, m);
	if (t->cf->login_rate_per_address > 0 &&
	    (m->login_rate = addr_rate_new(m->wr, RDP_LOGIN_RATE_SLOTS, (uint32_t)t->cf->login_rate_per_address,
	                                   (uint32_t)t->cf->login_burst_per_address)) == NULL) {
		log_err("session: no room for the login rate table");
		return -1;
	}
	if (broker_fd < 0) {
		log_err("session: no broker");
		return -1;
	}
	if (fcntl(broker_fd, F_SETFL, fcntl(broker_fd, F_GETFL) | O_NONBLOCK) != 0 ||
	    loop_io_add(m->loop, &m->bio, broker_fd, EPOLLIN, session_on_broker, m) != 0) {
		log_err("session: broker socket: %s", strerror(errno));
		return -1;
	}
	t->session_data = m;
	mgr = m;
	return 0;
}

void
session_stop(struct term *t)
{
	struct session_mgr *m = t->session_data;
	struct session *s, *next;

	if (!m || m->stopping)
		return;
	m->stopping = 1;
	for (s = m->head; s; s = next) {
		next = s->next;
		if (s->state != SESSION_ENDED)
			session_end(s, "server stopping");
	}
	/* Closing our end makes the broker end what is left and exit. */
	if (broker_fd >= 0) {
		loop_io_del(m->loop, &m->bio);
		close(broker_fd);
		broker_fd = -1;
	}
	if (broker_pid > 0)
		loop_timer_set(m->loop, &m->t_reap, 0);
}

size_t
session_count(void)
{
	if (!mgr)
		return 0;
	return mgr->count + (mgr->stopping && broker_pid > 0 ? 1 : 0);
}

/* A user name from the client is used only if it could be one: not
 * empty, not too long, no control characters (it reaches PAM and our
 * logs).  Otherwise the in-terminal prompt asks. */
static int
session_user_ok(const char *user)
{
	size_t i, n;

	if (!user || (n = strlen(user)) == 0 || n >= SESSION_USER_MAX_BYTES)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
			return 0;
	return 1;
}

/* Sessions that count against session_max: not those already ended
 * (they are freed at the end of the loop round). */
static size_t
session_live(const struct session_mgr *m)
{
	const struct session *s;
	size_t n = 0;

	for (s = m->head; s; s = s->next)
		if (s->state != SESSION_ENDED)
			n++;
	return n;
}

/* Full: the oldest session still at its login prompt gives way (nginx
 * sheds pre-authentication connections first), so that idle prompts
 * cannot keep logged-in users out.  0 if one was ended. */
static int
session_shed(struct session_mgr *m)
{
	struct session *s, *oldest = NULL;

	for (s = m->head; s; s = s->next)   /* newest first: the last match is the oldest */
		if (s->state == SESSION_PROMPT_USER || s->state == SESSION_PROMPT_PASS || s->state == SESSION_DELAY)
			oldest = s;
	if (!oldest)
		return -1;
	session_puts(oldest, "\r\n\r\nServer full: login prompt closed.\r\n");
	session_damage(oldest);
	session_end(oldest, "shed for a new connection (session_max)");
	return 0;
}

struct session *
session_open(struct term *t, const char *user, const char *password, int width, int height,
             const struct sockaddr_storage *peer, const struct session_ops *ops, void *arg)
{
	struct session_mgr *m = t->session_data;
	struct session *s;
	size_t budget;

	if (!m || m->stopping || broker_fd < 0)
		return NULL;
	if (session_live(m) >= t->cf->session_max && session_shed(m) != 0) {
		log_rated(&rate_login, LOG_LVL_WARN, "session: session_max (%zu) reached", m->count);
		return NULL;
	}
	if ((s = region_zalloc(m->wr, sizeof *s)) == NULL)
		return NULL;
	s->m = m;
	s->pty = -1;
	s->ops = ops;
	s->arg = arg;
	s->width = width;
	s->height = height;
	if (peer)
		s->peer = *peer;
	loop_io_init(&s->io);
	timer_init(&s->t_login, session_on_login_timer, s);
	timer_init(&s->t_idle, session_on_idle, s);
	timer_init(&s->t_life, session_on_life, s);
	timer_init(&s->t_keep, session_on_keep, s);
	/* The largest screen a client may ask for, so that a resume at
	 * another size always fits. */
	budget = screen_budget_bytes(RDP_DESKTOP_WIDTH_MAX, RDP_DESKTOP_HEIGHT_MAX);
	if (screen_budget_bytes(width, height) > budget)
		budget = screen_budget_bytes(width, height);
	budget += 4 * region_self_overhead() + 64 * region_block_overhead();
	if ((s->r = region_new(m->wr, "session", budget)) == NULL ||
	    (s->scr = screen_new(s->r, t->font, width, height)) == NULL) {
		region_release(s->r);
		region_free(m->wr, s);
		return NULL;
	}
	screen_set_keymap(s->scr, m->keymap);
	s->next = m->head;
	if (m->head)
		m->head->prev = s;
	m->head = s;
	m->count++;
	if (session_user_ok(user) && password && password[0] && strlen(password) < sizeof s->password) {
		memcpy(s->user, user, strlen(user) + 1);
		memcpy(s->password, password, strlen(password) + 1);
		session_login(s);   /* ends it if the broker cannot be asked */
		return s;
	}
	session_prompt(s, NULL);
	return s;
}

void
session_detach(struct session *s)
{
	const struct term_conf *cf;

	if (!s)
		return;
	cf = session_conf(s);
	s->ops = NULL;
	s->arg = NULL;
	if (s->state == SESSION_RUNNING && cf->keep_disconnected > 0 && !s->m->stopping) {
		s->state = SESSION_DETACHED;
		s->attempts = 0;
		loop_timer_cancel(s->m->loop, &s->t_idle);
		loop_timer_set(s->m->loop, &s->t_keep, cf->keep_disconnected);
		log_info("session of %s: detached, kept for %llu ms", s->user,
		         (unsigned long long)cf->keep_disconnected);
		return;
	}
	if (s->state != SESSION_ENDED)
		session_end(s, "client disconnected");   /* ops is NULL: freed after this round */
	else
		session_free(s);                         /* cancels a pending notice */
}

void
session_key_scancode(struct session *s, uint16_t flags, uint8_t scancode)
{
	if (!s || !s->scr || s->state == SESSION_ENDED || s->state == SESSION_DETACHED)
		return;
	screen_key_scancode(s->scr, flags, scancode);
	session_after_key(s);
}

void
session_key_unicode(struct session *s, uint16_t flags, uint16_t code)
{
	if (!s || !s->scr || s->state == SESSION_ENDED || s->state == SESSION_DETACHED)
		return;
	screen_key_unicode(s->scr, flags, code);
	session_after_key(s);
}

void
session_key_sync(struct session *s, uint32_t toggle_flags)
{
	if (!s || !s->scr || s->state == SESSION_ENDED || s->state == SESSION_DETACHED)
		return;
	screen_key_sync(s->scr, toggle_flags);
}

int
session_resize(struct session *s, int width, int height)
{
	if (!s || !s->scr || s->state == SESSION_ENDED)
		return -1;
	if (screen_resize(s->scr, width, height) != 0)
		return -1;
	s->width = width;
	s->height = height;
	session_set_winsize(s);   /* the program gets SIGWINCH */
	screen_redraw(s->scr);
	session_damage(s);
	return 0;
}

struct screen *
session_screen(struct session *s)
{
	if (!s || s->state == SESSION_ENDED)
		return NULL;
	return s->scr;
}

size_t
session_list(char *out, size_t outlen)
{
	struct session *s;
	size_t len = 0;
	int n;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	if (!mgr)
		return 0;
	for (s = mgr->head; s; s = s->next) {
		n = snprintf(out + len, outlen - len, "%s %s pid=%d %dx%d\n", s->user[0] ? s->user : "-",
		             state_names[s->state], (int)s->pid, s->width, s->height);
		if (n < 0 || (size_t)n >= outlen - len)
			break;
		len += (size_t)n;
	}
	return len;
}
