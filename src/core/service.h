/*
 * service.h: what a service gives the runtime, and what the runtime gives
 * a service's worker process.
 *
 * The supervisor forks one worker per enabled service; in the child,
 * worker_main() applies the memory cap, loads TLS, drops privileges and
 * builds the worker region (budget: memory_max) and the loop, then calls
 * service->start.  SIGTERM calls service->stop; the worker exits once
 * service->busy reports no live work, or after a grace period.
 */
#ifndef HF_SERVICE_H
#define HF_SERVICE_H

#include <stddef.h>
#include <sys/types.h>

#include "conf.h"
#include "hf_limits.h"
#include "settings.h"

struct region;
struct loop;
struct stats_page;
struct tls_ctx;
struct worker;

struct service {
	const char *name;             /* section name and log ident */
	const struct conf_key *keys;  /* service-specific keys, or NULL */
	size_t conf_size;             /* size of the struct those keys fill */
	/* Validates the service-specific settings in the supervisor (before
	 * any fork); optional.  0, or -1 with err. */
	int (*check)(const struct service_settings *common, const void *conf, char *err, size_t errlen);
	/* Optional: runs in the worker process while it is still root, after
	 * the memory cap and before privileges are dropped, to open what only
	 * root may (a raw socket, a TUN device) or to fork a small privileged
	 * helper.  Keep what it opens in the service's own static state; the
	 * worker region does not exist yet.  0, or -1 with err (fatal). */
	int (*privileged)(struct worker *w, char *err, size_t errlen);
	int (*start)(struct worker *w);
	void (*stop)(struct worker *w);
	/* Live connections or work still in progress; 0 lets the worker exit. */
	size_t (*busy)(struct worker *w);
	/* Optional: an operator's command ("holdfastctl NAME ARGS..."),
	 * argv[0] the verb.  Writes at most outlen-1 bytes of text to out
	 * (always NUL-terminated) and returns 0 on success, else non-zero. */
	int (*control)(struct worker *w, int argc, char *const argv[], char *out, size_t outlen);
};

struct worker_listener {
	int fd;
	int implicit_tls;
};

struct worker {
	const struct service *service;
	const struct service_settings *settings;
	const void *conf;                 /* the service-specific struct */
	struct region *region;            /* budget: settings->memory_max */
	struct loop *loop;
	struct stats_page *stats;
	struct tls_ctx *tls;              /* NULL unless tls_cert/tls_key are set */
	struct worker_listener listeners[SERVICE_LISTENERS_MAX];
	size_t nlisteners;
	int state_dirfd;                  /* the service's storage dir, or -1 */
	int ctl_fd;                       /* SOCK_SEQPACKET to the supervisor, or -1 */
	const char *state_dir;
	void *data;                       /* the service's own state */
	int stopping;
};

/* Worker process body; never returns.  uid/gid: the user to drop to. */
void worker_main(struct worker *w, uid_t uid, gid_t gid) __attribute__((noreturn));

/* Fills the server_conf of conn.h from the common settings. */
struct server_conf;
void worker_server_conf(const struct worker *w, struct server_conf *cf);

/* Publishes region usage into the stats page (called by conn and the loop). */
void worker_publish(struct worker *w);

#endif
