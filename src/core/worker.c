/*
 * worker.c: the body of a worker process, shared by every service.
 *
 * Runs in the child the supervisor forked: loads TLS (the key may be
 * readable by root only), drops to the service's user for good, makes the
 * worker region (its budget is memory_max less a quarter kept for libc,
 * OpenSSL and the stack, which regions cannot see) and the loop, starts the
 * service, publishes its counters, and on SIGTERM asks the service to stop
 * and exits when it is idle or after WORKER_STOP_GRACE_MS.
 *
 * Known weakness: memory OpenSSL allocates is charged to the OS cap only.
 */
#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "ctl_proto.h"
#include "log.h"
#include "loop.h"
#include "region.h"
#include "service.h"
#include "stats.h"
#include "tls.h"

#define WORKER_STOP_GRACE_MS   2000   /* SIGTERM to exit, whatever is still open */
#define WORKER_PUBLISH_MS      250    /* stats page refresh */
#define WORKER_MMAP_THRESHOLD  (128 * 1024)  /* malloc: larger blocks are mmapped */
#define WORKER_TRIM_THRESHOLD  (256 * 1024)  /* malloc: free heap top above this is returned */

struct worker_rt {
	struct worker *w;
	struct loop_io sig_io;
	struct loop_io ctl_io;
	struct timer publish;
	struct timer grace;
	int sigfd;
};

static void __attribute__((noreturn))
worker_exit(struct worker *w, int code)
{
	/* Release everything, and leave through exit(), so that LeakSanitizer
	 * checks the worker in sanitizer builds. */
	if (w->tls)
		tls_ctx_free(w->tls);
	region_release(w->region);
	exit(code);
}

void
worker_publish(struct worker *w)
{
	if (!w->stats)
		return;
	w->stats->region_bytes = region_used(w->region);
	w->stats->region_peak_bytes = region_peak(w->region);
	w->stats->budget_bytes = region_budget(w->region);
}

static void
worker_on_publish(struct timer *t, void *arg)
{
	struct worker_rt *rt = arg;

	/* Re-armed first: with this timer popped and no other armed, the
	 * timer heap gives its array back (176 B), and region_bytes read at
	 * idle went up or down by that much depending on whether some other
	 * timer happened to be armed (the term leak test saw both). */
	loop_timer_set(rt->w->loop, t, rt->w->stopping ? 20 : WORKER_PUBLISH_MS);
	worker_publish(rt->w);
	if (rt->w->stopping && rt->w->service->busy(rt->w) == 0)
		loop_stop(rt->w->loop);
}

static void
worker_on_grace(struct timer *t, void *arg)
{
	struct worker_rt *rt = arg;

	log_warn("stop: grace period over, exiting with %zu busy", rt->w->service->busy(rt->w));
	loop_stop(rt->w->loop);
}

static void
worker_on_signal(struct loop_io *io, uint32_t events, void *arg)
{
	struct worker_rt *rt = arg;
	struct signalfd_siginfo si;

	while (read(rt->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !rt->w->stopping) {
			log_info("stopping");
			rt->w->stopping = 1;
			rt->w->service->stop(rt->w);
			loop_timer_set(rt->w->loop, &rt->grace, WORKER_STOP_GRACE_MS);
			loop_timer_set(rt->w->loop, &rt->publish, 0);
		}
	}
}

/*
 * An operator's command from the supervisor: one struct ctl_service_cmd
 * per SOCK_SEQPACKET datagram, answered with one struct ctl_text.  Sizes
 * are exact; anything else is dropped (the supervisor times out).
 */
static void
worker_on_ctl(struct loop_io *io, uint32_t events, void *arg)
{
	struct worker_rt *rt = arg;
	static struct ctl_service_cmd cmd;
	static struct ctl_text reply;
	char *argv[CTL_ARGS_MAX + 1];
	ssize_t n;
	uint32_t i;

	while ((n = recv(rt->w->ctl_fd, &cmd, sizeof cmd, MSG_DONTWAIT | MSG_TRUNC)) >= 0) {
		if (n == 0) {
			/* The supervisor went away: PR_SET_PDEATHSIG will follow. */
			loop_io_del(rt->w->loop, &rt->ctl_io);
			return;
		}
		if ((size_t)n != sizeof cmd || cmd.argc == 0 || cmd.argc > CTL_ARGS_MAX) {
			log_warn("control: malformed command (%zd bytes) dropped", n);
			continue;
		}
		for (i = 0; i < cmd.argc; i++) {
			cmd.argv[i][CTL_ARG_MAX_BYTES - 1] = '\0';
			argv[i] = cmd.argv[i];
		}
		argv[cmd.argc] = NULL;
		memset(&reply, 0, sizeof reply);
		if (rt->w->service->control == NULL) {
			reply.status = 1;
			snprintf(reply.text, sizeof reply.text, "%s has no commands\n", rt->w->service->name);
		} else {
			reply.status = (uint32_t)rt->w->service->control(rt->w, (int)cmd.argc, argv, reply.text,
			                                                 sizeof reply.text);
			reply.text[sizeof reply.text - 1] = '\0';
		}
		reply.len = (uint32_t)strlen(reply.text);
		if (send(rt->w->ctl_fd, &reply, sizeof reply, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof reply)
			log_warn("control: cannot answer: %s", strerror(errno));
		worker_publish(rt->w);
	}
}

static void
worker_drop(uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
		log_fatal("cannot drop privileges to uid %u: %s", (unsigned)uid, strerror(errno));
	if (uid != 0 && setuid(0) == 0)
		log_fatal("privileges were not dropped");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		log_fatal("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
}

void
worker_server_conf(const struct worker *w, struct server_conf *cf)
{
	const struct service_settings *s = w->settings;

	server_conf_defaults(cf);
	cf->conn_budget_bytes = s->connection_budget;
	cf->read_max_bytes = s->read_max;
	cf->wqueue_max_bytes = s->write_budget;
	cf->max_connections = s->max_connections;
	cf->max_per_addr = s->max_connections_per_address;
	cf->idle_ms = s->idle_timeout;
	cf->handshake_ms = s->handshake_timeout;
	cf->tls = w->tls;
}

/*
 * glibc raises its mmap threshold to the size of the largest mmapped block
 * freed so far (up to 32 MiB), and its trim threshold to twice that.  After
 * the first large article, requests of that size come from the heap, and up
 * to twice that much free heap top is never returned: a one-off growth of a
 * megabyte or more whenever a peer sets a new size record, which a flood of
 * malformed posts with huge bodies does at random.  Fixed thresholds (setting
 * either turns the adjustment off) keep large request buffers in their own
 * mappings, returned to the kernel when their region is released.
 */
static void
worker_malloc_fixed(void)
{
#ifndef HF_DEBUG /* sanitizer builds: their allocator ignores mallopt */
	if (mallopt(M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD) != 1)
		log_warn("mallopt: cannot fix malloc's thresholds");
#endif
}

void
worker_main(struct worker *w, uid_t uid, gid_t gid)
{
	struct worker_rt rt;
	sigset_t set;
	char err[512];
	size_t budget;
	pid_t supervisor;

	log_set_ident(w->service->name);
	worker_malloc_fixed();
	if (chdir("/") != 0)
		log_fatal("chdir /: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((rt.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		log_fatal("signalfd: %s", strerror(errno));

	w->tls = NULL;
	if (w->settings->tls_cert[0] != '\0') {
		w->tls = tls_ctx_new(w->settings->tls_cert, w->settings->tls_key, err, sizeof err);
		if (!w->tls)
			log_fatal("tls: %s", err);
	}
	if (w->service->privileged && w->service->privileged(w, err, sizeof err) != 0)
		log_fatal("%s", err);
	supervisor = getppid();
	worker_drop(uid, gid);
	/* Changing credentials cleared the parent-death signal spawn.c set
	 * (prctl(2)): without it a worker outlived a killed supervisor, with
	 * its listeners, TUN device and raw socket.  Set it again, and leave
	 * if the supervisor died in between. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != supervisor)
		log_fatal("the supervisor is gone");

	budget = (size_t)(w->settings->memory_max - w->settings->memory_max / 4);
	if ((w->region = region_new(NULL, w->service->name, budget)) == NULL)
		log_fatal("cannot create the worker region");
	if ((w->loop = loop_new(w->region)) == NULL)
		log_fatal("cannot create the event loop");
	if (w->stats) {
		stats_page_reset(w->stats);
		w->stats->pid = (uint32_t)getpid();
		w->stats->magic = STATS_MAGIC;
	}
	rt.w = w;
	loop_io_init(&rt.sig_io);
	loop_io_init(&rt.ctl_io);
	timer_init(&rt.publish, worker_on_publish, &rt);
	timer_init(&rt.grace, worker_on_grace, &rt);
	if (loop_io_add(w->loop, &rt.sig_io, rt.sigfd, EPOLLIN, worker_on_signal, &rt) != 0)
		log_fatal("loop: %s", strerror(errno));
	if (w->ctl_fd >= 0 && loop_io_add(w->loop, &rt.ctl_io, w->ctl_fd, EPOLLIN, worker_on_ctl, &rt) != 0)
		log_fatal("loop: %s", strerror(errno));
	if (w->service->start(w) != 0)
		log_fatal("service did not start");
	worker_publish(w);
	loop_timer_set(w->loop, &rt.publish, WORKER_PUBLISH_MS);
	log_info("serving as uid %u", (unsigned)uid);
	if (loop_run(w->loop) != 0)
		log_err("event loop: %s", strerror(errno));
	loop_io_del(w->loop, &rt.sig_io);
	loop_io_del(w->loop, &rt.ctl_io);
	loop_timer_cancel(w->loop, &rt.publish);
	loop_timer_cancel(w->loop, &rt.grace);
	close(rt.sigfd);
	worker_exit(w, 0);
}
