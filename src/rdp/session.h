/*
 * session.h: terminal sessions of the term service, in the worker.
 *
 * A session is a logged-in shell in a pty, drawn into a struct screen.  It
 * outlives the RDP connection that opened it when keep_disconnected is on:
 * a later login of the same user (checked again with PAM) resumes it.
 *
 * Logins and pty spawning happen in the broker (broker.h), a small
 * privileged process forked from the service's privileged hook while the
 * worker is still root; the worker only ever gets the pty master fd.
 *
 * Use from the term service (term.c):
 *   privileged hook:  session_setup(w, err, errlen)
 *   start:            session_start(term)        (after the privilege drop)
 *   stop:             session_stop(term)         (ends every session)
 *   busy:             session_count()            (live sessions, kept ones too)
 *   after Client Info: s = session_open(term, user, password, width, height, &ops, arg)
 *       user == NULL or "" (or a failed PAM check): the screen shows a login
 *       prompt and the user types name and password into the terminal.
 *       Never NULL except when out of memory or over session_max (then the
 *       connection should disconnect).  The password is copied into a
 *       wiped buffer; the caller wipes its own copy.
 *   input:            session_key_scancode / session_key_unicode
 *   output:           session_screen(s) + the screen's damage API, prompted
 *                     by ops->damage(arg)
 *   connection gone:  session_detach(s)           (kept or ended per config;
 *                     ops are never called again for this attachment)
 *   session gone:     ops->ended(arg, reason)     (shell exited, timeout,
 *                     login attempts spent); the connection should then
 *                     disconnect and must not touch s afterwards except
 *                     through session_detach(s), which is still required.
 */
#ifndef HF_RDP_SESSION_H
#define HF_RDP_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>


struct worker;
struct term;
struct screen;
struct session;

/* Configuration: the [term] keys of struct term_conf (term.h, parsed by
 * term.c).  Limits of this layer that are not configurable: */
#define SESSION_USER_MAX_BYTES       64     /* a Unix user name (useradd allows 32) */
#define SESSION_PASSWORD_MAX_BYTES   256    /* typed or from Client Info */
#define SESSION_PTY_READ_BYTES       4096   /* pty output read per loop callback */
#define SESSION_PTY_READS_PER_ROUND  2      /* then yield to the loop: 8 KiB per session per round (a scroll flood costs libvterm ~6 ms per KiB at 1080p, see README.md) */
#define SESSION_PTY_WBUF_BYTES       4096   /* keyboard bytes waiting for a full pty; more are dropped */
#define SESSION_LOGIN_DELAY_MS       2000   /* after a failed login, before the next prompt */
#define SESSION_LOGIN_TIMEOUT_MS     60000  /* at the in-terminal login prompt */
#define SESSION_PER_USER_MAX         8      /* live sessions of one user */
#define SESSION_REGION_BYTES         (24u * 1024 * 1024) /* a session's region: screen and framebuffer */
#define SESSION_KILL_GRACE_MS        2000   /* SIGHUP to SIGKILL of a session's process group */

struct session_ops {
	/* The screen changed: send its damage (coalesce; called often). */
	void (*damage)(void *arg);
	/* The session ended (text for the log); see above. */
	void (*ended)(void *arg, const char *reason);
	/* Optional: count a refusal under a reject reason ("rdp_login_rate"). */
	void (*count)(void *arg, const char *reason);
};

/* Privileged hook (root): forks the broker.  0, or -1 with err. */
int session_setup(struct worker *w, char *err, size_t errlen);
/* After the privilege drop and after term->font is loaded: session table
 * (in t->session_data), broker socket on the loop.  0 or -1 (logged). */
int session_start(struct term *t);
/* Ends every session and closes the broker socket (the broker then ends
 * its children and exits). */
void session_stop(struct term *t);
/* Live sessions, attached or kept. */
size_t session_count(void);

/* peer: the client's address, for the per-address login rate (NULL: one
 * bucket for every caller without an address). */
struct session *session_open(struct term *t, const char *user, const char *password, int width, int height,
                             const struct sockaddr_storage *peer, const struct session_ops *ops, void *arg);
void session_detach(struct session *s);

/* Keyboard input in RDP terms: flags as in TS_KEYBOARD_EVENT
 * (KBDFLAGS_RELEASE 0x8000, KBDFLAGS_EXTENDED 0x0100, ...), slow-path and
 * fast-path alike (term converts fast-path flags). */
void session_key_scancode(struct session *s, uint16_t flags, uint8_t scancode);
void session_key_unicode(struct session *s, uint16_t flags, uint16_t code);
/* Client synchronize event (toggle keys state: scroll/num/caps/kana). */
void session_key_sync(struct session *s, uint32_t toggle_flags);

/* The client's desktop changed size (display control channel): the
 * screen and the pty follow (the program gets SIGWINCH) and the whole
 * screen is damaged.  0, or -1 if the budget refuses (nothing changed). */
int session_resize(struct session *s, int width, int height);
#define SESSION_HAS_RESIZE 1

/* The screen to encode damage from; valid until ended/detach.  May change
 * after a resume (so fetch it for each update, do not keep it). */
struct screen *session_screen(struct session *s);

/* For holdfastctl term sessions: one line per session into out. */
size_t session_list(char *out, size_t outlen);

#endif
