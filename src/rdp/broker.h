/*
 * broker.h: the term service's privileged helper, and the messages the
 * worker exchanges with it.
 *
 * The broker is forked from the worker while it is still root (the
 * service's privileged hook) and keeps root; the worker then drops to its
 * own user.  They talk over a SOCK_SEQPACKET socketpair, one fixed-size
 * struct per datagram (anything else is dropped and counted):
 *
 *   worker -> broker  struct broker_req
 *     BROKER_LOGIN  user + password checked with PAM (service "holdfast",
 *                   auth and account), then against allow_users /
 *                   allow_groups / allow_root; with spawn = 1 a pty is
 *                   opened and the user's login shell (or the configured
 *                   command) is started in it as that user.
 *     BROKER_KILL   ends the session whose leader is pid (one the broker
 *                   spawned; any other pid is ignored): SIGHUP to its
 *                   process group, SIGKILL after BROKER_KILL_GRACE_MS.
 *   broker -> worker  struct broker_rep
 *     BROKER_RESULT answers a LOGIN (same id); with status BROKER_OK and
 *                   spawn, the pty master fd rides along (SCM_RIGHTS).
 *     BROKER_EXITED a session leader was reaped (pid, wait status).
 *
 * The broker trusts nothing in a request beyond its size: strings must be
 * NUL-terminated inside their fields, sizes within limits, and a KILL only
 * touches its own children.  It reaps everything (it is a child subreaper,
 * so daemonised grandchildren come back to it too), and when the worker's
 * end closes it ends every session and exits.
 *
 * Known weakness: one PAM conversation at a time; a slow PAM module
 * delays other logins (pam_unix takes milliseconds; its failure delay is
 * switched off here, the worker pauses the connection instead).
 */
#ifndef HF_RDP_BROKER_H
#define HF_RDP_BROKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BROKER_USER_MAX_BYTES      64      /* with the NUL; Linux user names are at most 32 */
#define BROKER_PASSWORD_MAX_BYTES  256     /* with the NUL */
#define BROKER_SESSIONS_MAX        1024    /* live session leaders per broker */
#define BROKER_KILL_GRACE_MS       2000    /* SIGHUP to SIGKILL */
#define BROKER_STOP_GRACE_MS       500     /* the same when the worker stops (its grace is 2 s) */
#define BROKER_PTY_COLS_MAX        1024
#define BROKER_PTY_ROWS_MAX        512
#define BROKER_PAM_SERVICE         "holdfast"

enum broker_type {
	BROKER_LOGIN = 1,
	BROKER_KILL = 2,
	BROKER_RESULT = 3,
	BROKER_EXITED = 4,
};

enum broker_status {
	BROKER_OK = 0,
	BROKER_BAD_LOGIN = 1,     /* PAM said no, or no such user (indistinguishable on purpose) */
	BROKER_NOT_ALLOWED = 2,   /* authenticated, but not in allow_users/allow_groups, or root */
	BROKER_SPAWN_FAILED = 3,  /* pty or fork failed */
	BROKER_FULL = 4,          /* BROKER_SESSIONS_MAX */
	BROKER_MALFORMED = 5,
};

struct broker_req {
	uint32_t type;
	uint32_t id;              /* echoed in the reply */
	uint32_t spawn;           /* LOGIN: 1 start a shell, 0 only check */
	uint32_t pid;             /* KILL */
	uint16_t cols, rows;      /* LOGIN with spawn: pty size */
	char user[BROKER_USER_MAX_BYTES];
	char password[BROKER_PASSWORD_MAX_BYTES];
};

struct broker_rep {
	uint32_t type;
	uint32_t id;
	uint32_t status;          /* enum broker_status */
	uint32_t pid;             /* RESULT with spawn: the session leader; EXITED: who */
	uint32_t uid;
	int32_t wstatus;          /* EXITED */
};

/* What the broker keeps of the configuration (copied at fork time). */
struct broker_conf {
	const char *const *allow_users;   /* n_allow_users names; 0: any */
	size_t n_allow_users;
	const char *const *allow_groups;
	size_t n_allow_groups;
	int allow_root;
	const char *command;              /* NULL or "": the login shell */
	const char *pam_service;          /* NULL: BROKER_PAM_SERVICE */
};

/* Forks the broker (the caller must be root for PAM and spawning to work).
 * *fd: the worker's end (SOCK_SEQPACKET, close-on-exec, blocking: the
 * caller sets O_NONBLOCK if it wants).  0, or -1 with errno. */
int broker_fork(const struct broker_conf *cf, int *fd, pid_t *pid);

/* The broker's body, in the child; exits. */
void broker_main(int fd, const struct broker_conf *cf) __attribute__((noreturn));

/* Receives one reply; *pty gets the fd that came with it, or -1.
 * 1: a well-formed reply; 0: the broker closed; -1: errno (EAGAIN) or a
 * malformed datagram (EPROTO, dropped). */
int broker_recv(int fd, struct broker_rep *rep, int *pty);

#endif
