/*
 * main.c: holdfastd [-f] [-c FILE]
 *
 * Start-up, in order, each step refusing at once with a message naming
 * what is wrong: read the configuration; prepare the runtime directory
 * (MS01-003 rules, rundir.c) and take its lock without waiting; bind every
 * listener; prepare each service's storage directory and memory cap;
 * open the control socket; fork the workers.  Then only reap, restart and
 * answer the control socket until SIGTERM/SIGINT or "holdfastctl stop".
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "region.h"
#include "rundir.h"
#include "supervisor.h"

static void
usage(void)
{
	fprintf(stderr, "usage: holdfastd [-f] [-c FILE]\n"
	                "  -f       stay in the foreground\n"
	                "  -c FILE  configuration (default " HOLDFAST_DEFAULT_CONF ")\n");
	exit(2);
}

static int
all_stopped(struct supervisor *sup)
{
	size_t i;

	for (i = 0; i < sup->nservices; i++)
		if (sup->services[i].pid > 0)
			return 0;
	return 1;
}

static void
stop_deadline(struct timer *t, void *arg)
{
	struct supervisor *sup = arg;
	size_t i;

	for (i = 0; i < sup->nservices; i++)
		if (sup->services[i].pid > 0) {
			log_warn("[%s] worker %ld did not stop in time: killing it", sup->services[i].svc->name,
			         (long)sup->services[i].pid);
			kill(sup->services[i].pid, SIGKILL);
		}
}

void
sup_stop(struct supervisor *sup)
{
	size_t i;

	if (sup->stopping)
		return;
	log_info("stopping");
	sup->stopping = 1;
	for (i = 0; i < sup->nservices; i++) {
		struct sup_service *s = &sup->services[i];

		loop_timer_cancel(sup->loop, &s->restart_timer);
		if (s->pid > 0)
			kill(s->pid, SIGTERM);
		else
			s->state = CTL_STATE_STOPPED;
	}
	timer_init(&sup->stop_timer, stop_deadline, sup);
	loop_timer_set(sup->loop, &sup->stop_timer, SUPERVISOR_STOP_GRACE_MS);
	if (all_stopped(sup))
		loop_stop(sup->loop);
}

static void
reap(struct supervisor *sup)
{
	pid_t pid;
	int status;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < sup->nservices; i++)
			if (sup->services[i].pid == pid) {
				sup_reaped(&sup->services[i], status);
				break;
			}
	if (sup->stopping && all_stopped(sup))
		loop_stop(sup->loop);
}

static void
on_signal(struct loop_io *io, uint32_t events, void *arg)
{
	struct supervisor *sup = arg;
	struct signalfd_siginfo si;

	while (read(sup->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(sup);
			break;
		case SIGTERM:
		case SIGINT:
			sup_stop(sup);
			break;
		case SIGHUP:
			log_info("SIGHUP: reload is not supported yet; restart holdfastd to apply changes");
			break;
		}
	}
}

static void
daemonize(void)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) < 0)
		log_fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	setsid();
	if ((pid = fork()) < 0)
		log_fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

static int
prepare_storage(struct supervisor *sup)
{
	char err[512];
	size_t i;
	int fd;

	if ((fd = rundir_prepare(sup->g.state_dir, 0, 0, 0755, err, sizeof err)) < 0) {
		log_err("state_dir: %s", err);
		return -1;
	}
	close(fd);
	for (i = 0; i < sup->nservices; i++) {
		struct sup_service *s = &sup->services[i];

		if (!s->settings.enable)
			continue;
		if (asprintf(&s->state_dir, "%s/%s", sup->g.state_dir, s->svc->name) < 0)
			log_fatal("out of memory");
		if ((s->state_dirfd = rundir_prepare(s->state_dir, s->uid, s->gid, 0700, err, sizeof err)) < 0) {
			log_err("[%s] storage: %s", s->svc->name, err);
			return -1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct supervisor sup;
	const char *conf_path = HOLDFAST_DEFAULT_CONF;
	char err[512];
	int foreground = 0, c, rc = 0;
	sigset_t set;
	size_t i;
	enum log_level lvl;

	while ((c = getopt(argc, argv, "fc:")) != -1) {
		switch (c) {
		case 'f':
			foreground = 1;
			break;
		case 'c':
			conf_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("holdfastd", 0, LOG_LVL_INFO);
	memset(&sup, 0, sizeof sup);
	sup.rundir_fd = sup.lock_fd = sup.ctl_fd = sup.sig_fd = -1;
	if (geteuid() != 0)
		log_fatal("must be started as root (it binds ports, prepares %s and drops each worker to its user)",
		          HOLDFAST_DEFAULT_RUNDIR);
	if (sup_config_load(&sup, conf_path) != 0)
		exit(1);
	if (strcmp(sup.g.log_level, "error") == 0)
		lvl = LOG_LVL_ERR;
	else if (strcmp(sup.g.log_level, "warning") == 0)
		lvl = LOG_LVL_WARN;
	else if (strcmp(sup.g.log_level, "info") == 0)
		lvl = LOG_LVL_INFO;
	else if (strcmp(sup.g.log_level, "debug") == 0)
		lvl = LOG_LVL_DEBUG;
	else
		log_fatal("%s: [holdfast] key 'log_level': '%s' is not error, warning, info or debug", conf_path,
		          sup.g.log_level);
	if (strcmp(sup.g.memory_cap, "auto") != 0 && strcmp(sup.g.memory_cap, "rlimit") != 0)
		log_fatal("%s: [holdfast] key 'memory_cap': '%s' is not auto or rlimit", conf_path, sup.g.memory_cap);
	if (strcmp(sup.g.log, "stderr") != 0 && strcmp(sup.g.log, "syslog") != 0)
		log_fatal("%s: [holdfast] key 'log': '%s' is not stderr or syslog", conf_path, sup.g.log);
	log_init("holdfastd", strcmp(sup.g.log, "syslog") == 0, lvl);

	umask(077);
	if ((sup.rundir_fd = rundir_prepare(sup.g.rundir, 0, 0, 0750, err, sizeof err)) < 0)
		log_fatal("rundir: %s", err);
	if ((sup.lock_fd = rundir_lock(sup.rundir_fd, sup.g.rundir, HOLDFAST_LOCK_NAME, err, sizeof err)) < 0)
		log_fatal("%s", err);
	if (sup_bind_listeners(&sup) != 0 || prepare_storage(&sup) != 0)
		exit(1);
	if (!foreground)
		daemonize();
	if (rundir_write_pid(sup.lock_fd, getpid()) != 0)
		log_fatal("%s/%s: %s", sup.g.rundir, HOLDFAST_LOCK_NAME, strerror(errno));
	if ((sup.ctl_fd = rundir_listen_unix(sup.rundir_fd, sup.g.rundir, HOLDFAST_CONTROL_NAME, 0600, err,
	                                     sizeof err)) < 0)
		log_fatal("%s", err);

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sup.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		log_fatal("signalfd: %s", strerror(errno));
	/* The supervisor's region is for its loop only; it never holds peer data. */
	if ((sup.region = region_new(NULL, "supervisor", 4 * 1024 * 1024)) == NULL ||
	    (sup.loop = loop_new(sup.region)) == NULL)
		log_fatal("cannot create the event loop");
	loop_io_init(&sup.sig_io);
	if (loop_io_add(sup.loop, &sup.sig_io, sup.sig_fd, EPOLLIN, on_signal, &sup) != 0 ||
	    sup_control_start(&sup) != 0)
		log_fatal("event loop: %s", strerror(errno));

	sup.started_ms = clock_ms();
	for (i = 0; i < sup.nservices; i++) {
		struct sup_service *s = &sup.services[i];

		timer_init(&s->restart_timer, NULL, s);
		s->ctl_fd = s->ctl_child_fd = -1;
		loop_io_init(&s->ctl_io);
		if (!s->settings.enable)
			continue;
		sup_cap_prepare(s);
		if (sup_spawn(s) != 0)
			rc = 1;
	}
	log_info("started with %s; control socket %s/%s", conf_path, sup.g.rundir, HOLDFAST_CONTROL_NAME);
	if (rc == 0 && loop_run(sup.loop) != 0)
		log_err("event loop: %s", strerror(errno));
	if (!sup.stopping)
		sup_stop(&sup);
	while (!all_stopped(&sup) && loop_run(sup.loop) == 0)
		;
	for (i = 0; i < sup.nservices; i++) {
		sup_cap_cleanup(&sup.services[i]);
		stats_page_free(sup.services[i].stats);
	}
	unlinkat(sup.rundir_fd, HOLDFAST_CONTROL_NAME, 0);
	(void)!ftruncate(sup.lock_fd, 0);
	region_release(sup.region);
	close(sup.sig_fd);
	close(sup.ctl_fd);
	close(sup.lock_fd);
	close(sup.rundir_fd);
	sup_config_free(&sup);
	log_info("stopped");
	return rc;
}
