/*
 * spawn.c: starting, capping and restarting workers.
 *
 * Memory cap, in order of preference: a cgroup v2 directory with
 * memory.max (the kernel OOM-kills the worker alone when it passes), a
 * cgroup v1 memory directory with memory.limit_in_bytes, else
 * RLIMIT_DATA in the child (allocations past it fail; the runtime treats
 * that as fatal and the worker is restarted).  Which one applies is shown
 * by holdfastctl status.
 *
 * Restarts: a worker that dies is started again after a delay that begins
 * at SUPERVISOR_RESTART_MIN_MS and doubles for each death within
 * SUPERVISOR_STABLE_MS of its start, up to SUPERVISOR_RESTART_MAX_MS.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "region.h"
#include "stats.h"
#include "supervisor.h"

static int
write_file(const char *path, const char *text)
{
	int fd, rc = 0;
	size_t n = strlen(text);

	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	if (write(fd, text, n) != (ssize_t)n)
		rc = -1;
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

/* Our own cgroup path for a hierarchy: "0::" (v2) or a line naming controller. */
static int
own_cgroup(const char *controller, char *out, size_t outlen)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[512];
	int found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *a = strchr(line, ':'), *b;

		if (!a || (b = strchr(a + 1, ':')) == NULL)
			continue;
		*b = '\0';
		b[strcspn(b + 1, "\n") + 1] = '\0';
		if ((controller == NULL && strcmp(a + 1, "") == 0 && strncmp(line, "0:", 2) == 0) ||
		    (controller != NULL && strstr(a + 1, controller) != NULL)) {
			snprintf(out, outlen, "%s", b + 1);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

static int
try_cgroup(struct sup_service *s, const char *mount, const char *own, const char *limit_file, enum ctl_cap kind)
{
	char dir[256], path[320], val[32];
	struct stat st;

	/* The hierarchy may be mounted at our own cgroup (a container) or at its root. */
	snprintf(dir, sizeof dir, "%s%s", mount, own);
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		snprintf(dir, sizeof dir, "%s", mount);
	if (snprintf(s->cgroup, sizeof s->cgroup, "%s/holdfast-%s", strcmp(dir, "/") ? dir : "", s->svc->name) >=
	    (int)sizeof s->cgroup)
		return -1;
	if (mkdir(s->cgroup, 0755) != 0 && errno != EEXIST)
		goto fail;
	snprintf(path, sizeof path, "%s/%s", s->cgroup, limit_file);
	snprintf(val, sizeof val, "%llu", (unsigned long long)s->settings.memory_max);
	if (write_file(path, val) != 0)
		goto fail_rm;
	if (kind == CTL_CAP_CGROUP2) {
		/* No swap either, or a capped worker would just swap. */
		snprintf(path, sizeof path, "%s/memory.swap.max", s->cgroup);
		(void)write_file(path, "0");
	}
	s->cap_kind = kind;
	return 0;
fail_rm:
	rmdir(s->cgroup);
fail:
	s->cgroup[0] = '\0';
	return -1;
}

int
sup_cap_prepare(struct sup_service *s)
{
	char own[256];
	struct stat st;

	s->cap_kind = CTL_CAP_RLIMIT;
	s->cgroup[0] = '\0';
	if (strcmp(s->sup->g.memory_cap, "rlimit") == 0)
		return 0;
	if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0 && own_cgroup(NULL, own, sizeof own) == 0 &&
	    try_cgroup(s, "/sys/fs/cgroup", own, "memory.max", CTL_CAP_CGROUP2) == 0)
		return 0;
	if (stat("/sys/fs/cgroup/memory/memory.limit_in_bytes", &st) == 0 &&
	    own_cgroup("memory", own, sizeof own) == 0 &&
	    try_cgroup(s, "/sys/fs/cgroup/memory", own, "memory.limit_in_bytes", CTL_CAP_CGROUP1) == 0)
		return 0;
	return 0;
}

void
sup_cap_cleanup(struct sup_service *s)
{
	if (s->cgroup[0] != '\0' && rmdir(s->cgroup) != 0 && errno != ENOENT)
		log_warn("[%s] cannot remove %s: %s", s->svc->name, s->cgroup, strerror(errno));
	s->cgroup[0] = '\0';
}

/* gcc says __SANITIZE_ADDRESS__; clang 14 only answers __has_feature
 * (under `ip netns exec` there is no cgroup, so this path is taken). */
#if defined(__SANITIZE_ADDRESS__)
#define SPAWN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPAWN_ASAN 1
#endif
#endif

/* In the child: join the cgroup, or set the rlimit. */
static void
cap_apply(struct sup_service *s)
{
	char path[320], pid[16];

	if (s->cap_kind == CTL_CAP_CGROUP2 || s->cap_kind == CTL_CAP_CGROUP1) {
		snprintf(path, sizeof path, "%s/cgroup.procs", s->cgroup);
		snprintf(pid, sizeof pid, "%ld", (long)getpid());
		if (write_file(path, pid) == 0)
			return;
		log_warn("cannot join %s (%s); using RLIMIT_DATA", s->cgroup, strerror(errno));
	}
#if defined(SPAWN_ASAN)
	/* AddressSanitizer reserves terabytes of shadow: an rlimit would stop it at start. */
	log_warn("memory cap not applied under AddressSanitizer (no writable cgroup)");
#else
	{
		struct rlimit rl = { (rlim_t)s->settings.memory_max, (rlim_t)s->settings.memory_max };

		if (setrlimit(RLIMIT_DATA, &rl) != 0)
			log_fatal("setrlimit RLIMIT_DATA: %s", strerror(errno));
	}
#endif
}

/*
 * In the child: close every fd but stdio and the service's own listeners
 * and storage dir.  Everything else (other services' listeners, the
 * control socket, the lock, the supervisor's epoll and signalfd, and
 * whatever our own parent left open) must not reach a worker.
 */
void
sup_close_inherited(struct supervisor *sup, const struct sup_service *keep)
{
	int fds[1024];
	size_t n = 0, i, j;
	struct dirent *de;
	DIR *d;

	(void)sup;
	if ((d = opendir("/proc/self/fd")) == NULL)
		log_fatal("/proc/self/fd: %s", strerror(errno));
	while ((de = readdir(d)) != NULL && n < sizeof fds / sizeof fds[0]) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd <= STDERR_FILENO || fd == dirfd(d) || fd == keep->state_dirfd ||
		    fd == keep->ctl_child_fd)
			continue;
		for (j = 0; j < keep->nlisteners; j++)
			if (fd == keep->listeners[j].fd)
				break;
		if (j == keep->nlisteners)
			fds[n++] = fd;
	}
	closedir(d);
	for (i = 0; i < n; i++)
		close(fds[i]);
}

static void
restart_due(struct timer *t, void *arg)
{
	struct sup_service *s = arg;

	if (!s->sup->stopping && s->pid == 0)
		sup_spawn(s);
}

int
sup_spawn(struct sup_service *s)
{
	struct supervisor *sup = s->sup;
	pid_t parent = getpid(), pid;
	struct worker w;
	sigset_t all;

	if (s->stats == NULL && (s->stats = stats_page_new()) == NULL) {
		log_err("[%s] cannot map the stats page: %s", s->svc->name, strerror(errno));
		return -1;
	}
	stats_page_reset(s->stats);
	{
		int pair[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
			log_err("[%s] socketpair: %s", s->svc->name, strerror(errno));
			pair[0] = pair[1] = -1;
		}
		s->ctl_fd = pair[0];
		s->ctl_child_fd = pair[1];
	}
	if ((pid = fork()) < 0) {
		log_err("[%s] fork: %s", s->svc->name, strerror(errno));
		sup_service_ctl_detach(s);
		if (s->ctl_child_fd >= 0)
			close(s->ctl_child_fd);
		s->ctl_child_fd = -1;
		s->state = CTL_STATE_BACKOFF;
		loop_timer_set(sup->loop, &s->restart_timer, SUPERVISOR_RESTART_MAX_MS);
		return -1;
	}
	if (pid > 0) {
		if (s->ctl_child_fd >= 0)
			close(s->ctl_child_fd);
		s->ctl_child_fd = -1;
		sup_service_ctl_attach(s);
		s->pid = pid;
		s->state = CTL_STATE_RUNNING;
		s->started_ms = clock_ms();
		log_info("[%s] worker started, pid %ld", s->svc->name, (long)pid);
		return 0;
	}

	/* Child. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	sup_close_inherited(sup, s);
	cap_apply(s);
	memset(&w, 0, sizeof w);
	w.service = s->svc;
	w.settings = &s->settings;
	w.conf = s->conf;
	w.stats = s->stats;
	memcpy(w.listeners, s->listeners, sizeof w.listeners);
	w.nlisteners = s->nlisteners;
	w.state_dirfd = s->state_dirfd;
	w.state_dir = s->state_dir;
	w.ctl_fd = s->ctl_child_fd;
	/* The supervisor's loop and region are not the worker's: forget them
	 * without releasing (their fds were closed above, the memory is a
	 * copy-on-write image that exit frees). */
	worker_main(&w, s->uid, s->gid);
}

void
sup_reaped(struct sup_service *s, int status)
{
	struct supervisor *sup = s->sup;
	uint64_t lived = clock_ms() - s->started_ms;

	if (WIFSIGNALED(status))
		log_warn("[%s] worker %ld killed by signal %d after %llu ms", s->svc->name, (long)s->pid,
		         WTERMSIG(status), (unsigned long long)lived);
	else if (!sup->stopping || WEXITSTATUS(status) != 0)
		log_warn("[%s] worker %ld exited with status %d after %llu ms", s->svc->name, (long)s->pid,
		         WEXITSTATUS(status), (unsigned long long)lived);
	s->pid = 0;
	sup_service_ctl_detach(s);
	if (s->stats)
		s->stats->connections = 0;
	if (sup->stopping) {
		s->state = CTL_STATE_STOPPED;
		return;
	}
	if (lived >= SUPERVISOR_STABLE_MS || s->backoff_ms == 0)
		s->backoff_ms = SUPERVISOR_RESTART_MIN_MS;
	else if ((s->backoff_ms *= 2) > SUPERVISOR_RESTART_MAX_MS)
		s->backoff_ms = SUPERVISOR_RESTART_MAX_MS;
	s->restarts++;
	s->state = CTL_STATE_BACKOFF;
	log_info("[%s] restarting in %llu ms", s->svc->name, (unsigned long long)s->backoff_ms);
	timer_init(&s->restart_timer, restart_due, s);
	loop_timer_set(sup->loop, &s->restart_timer, s->backoff_ms);
}
