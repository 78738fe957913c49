/*
 * term.h: the term service (RDP terminal server): its configuration and
 * the worker-wide state that the screen and session modules see.
 *
 * struct term lives in the worker region for the worker's lifetime.  One
 * struct term_conn per RDP connection lives in its connection region
 * (private to term.c).  The session module gets the struct term in
 * session_open() and reports back through its ops with the arg term.c
 * passes (the connection).
 */
#ifndef HF_RDP_TERM_H
#define HF_RDP_TERM_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "service.h"
#include "rdp_limits.h"

struct server;
struct font;

extern const struct service term_service;

/* [term] keys beyond the common ones (settings.h); etc/holdfast.conf
 * documents each. */
struct term_conf {
	struct conf_list allow_users;      /* empty: any user PAM accepts */
	struct conf_list allow_groups;     /* empty: any group */
	char *command;                     /* empty: the user's login shell */
	uint64_t session_idle_timeout;     /* ms without input; 0: none */
	uint64_t session_timeout;          /* ms a session may live; 0: none */
	uint64_t session_max;              /* live sessions per worker */
	uint64_t keep_disconnected;        /* ms a detached session waits for resume; 0: end at disconnect */
	char *keymap;                      /* "us" (default), others from screen's tables */
	char *font;                        /* unifont .hex */
	uint64_t login_attempts_max;       /* per connection, in-terminal prompt */
	uint64_t prelogin_budget;          /* bytes per connection region before login */
	int allow_root;                    /* logins as uid 0 (default no) */
	int connect_pipeline;              /* our connection-sequence PDUs in one flight (default yes) */
	uint64_t login_rate_per_address;   /* PAM attempts a minute per client address; 0: no limit */
	uint64_t login_burst_per_address;  /* ... and at once */
	uint64_t color_depth;              /* 15, 16, 24 or 32: preferred if the client supports it */
};

struct term {
	struct worker *w;
	const struct term_conf *cf;
	struct server *server;
	struct font *font;                 /* shared by every screen of the worker, or NULL */
	void *session_data;                /* the session module's worker-wide state */
	size_t nconns;
	uint64_t conn_budget;              /* connection region budget after login */
	uint64_t pdus_total;               /* PDUs read from closed connections */
	uint64_t updates_total;            /* update PDUs sent to them */
};

#endif
