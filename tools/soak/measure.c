/*
 * measure.c: what the target costs.  RSS, PSS and USS (smaps_rollup;
 * USS = Private_Clean + Private_Dirty; falling back to statm for RSS) summed over a process tree (--pid: the process
 * and its descendants found through the ppid field of /proc/N/stat,
 * re-walked at every sample so forked workers count) or over the members
 * of a cgroup (--cgroup: memory.current for v2, memory.usage_in_bytes for
 * v1, plus the members' RSS/PSS from cgroup.procs); host MemAvailable and
 * Slab from /proc/meminfo.  CPU: utime + stime + cutime + cstime summed
 * over the live members (a reaped child's time moves into its parent's
 * cutime/cstime, so per-connection children count once).
 *
 * Interface (soak.h): measure_open_pid(), measure_open_cgroup(),
 * measure_sample(), measure_host().
 *
 * Crash detection: the set of processes present at open (pid and start
 * time) is recorded; a sample (or measure_alive(), cheap, called between
 * samples) that finds any of them gone, a zombie, or replaced by a new
 * process with the same pid reports a crash.
 *
 * Limits: SOAK_PIDS_MAX processes per tree; /proc is scanned up to
 * PROC_SCAN_MAX entries per sample.
 * Known weaknesses: a sample walks /proc (a few ms on a busy host); PSS
 * of processes of other users needs privilege (then RSS from statm is
 * used for both, and PSS is reported equal to RSS).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "soak.h"

#define PROC_SCAN_MAX 65536
#define MEMBERS_S 0.05

struct pinfo {
	pid_t pid, ppid;
	unsigned long long start;
	unsigned long long ticks;	/* utime + stime + cutime + cstime */
};

static ssize_t
read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, got = 0;

	if (fd < 0)
		return -1;
	while ((size_t)got + 1 < cap) {
		n = read(fd, buf + got, cap - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

/* 0 ok (not a zombie), -1 gone. */
static int
read_stat(pid_t pid, struct pinfo *pi)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	p++;
	pi->pid = pid;
	for (field = 3; field <= 22 && *p != '\0'; field++) {
		while (*p == ' ')
			p++;
		if (field == 3 && (*p == 'Z' || *p == 'X'))
			return -1;
		v = strtoull(p, &p, 10);
		if (field == 4)
			pi->ppid = (pid_t)v;
		if (field == 14)
			pi->ticks = 0;
		if (field >= 14 && field <= 17)
			pi->ticks += v;
		if (field == 22)
			pi->start = v;
		if (field == 3)
			while (*p != ' ' && *p != '\0')
				p++;
	}
	return field > 22 ? 0 : -1;
}

static double
clk_tck(void)
{
	long t = sysconf(_SC_CLK_TCK);

	return t > 0 ? (double)t : 100.0;
}

/* Adds RSS, PSS and USS (private clean + dirty) of pid in bytes. */
static void
add_mem(pid_t pid, double *rss, double *pss, double *uss)
{
	char path[64], buf[4096], *p;
	double r = -1, s = -1, u = -1;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (read_small(path, buf, sizeof(buf)) > 0) {
		p = strstr(buf, "\nRss:");
		if (p != NULL)
			r = strtod(p + 5, NULL) * 1024.0;
		p = strstr(buf, "\nPss:");
		if (p != NULL)
			s = strtod(p + 5, NULL) * 1024.0;
		p = strstr(buf, "\nPrivate_Clean:");
		if (p != NULL) {
			u = strtod(p + 15, NULL) * 1024.0;
			p = strstr(buf, "\nPrivate_Dirty:");
			u = p != NULL ? u + strtod(p + 15, NULL) * 1024.0 : -1;
		}
	}
	if (r < 0) {
		unsigned long long size, res;

		snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
		if (read_small(path, buf, sizeof(buf)) > 0 && sscanf(buf, "%llu %llu", &size, &res) == 2)
			r = (double)res * (double)sysconf(_SC_PAGESIZE);
	}
	if (r < 0)
		return;
	if (s < 0)
		s = r;
	if (u < 0)
		u = s;
	*rss += r;
	*pss += s;
	*uss += u;
}

void
measure_host(double *memavail, double *slab)
{
	char buf[8192], *p;

	*memavail = 0;
	*slab = 0;
	if (read_small("/proc/meminfo", buf, sizeof(buf)) <= 0)
		return;
	p = strstr(buf, "MemAvailable:");
	if (p != NULL)
		*memavail = strtod(p + 13, NULL) * 1024.0;
	p = strstr(buf, "\nSlab:");
	if (p != NULL)
		*slab = strtod(p + 6, NULL) * 1024.0;
}

/* Descendants of root (root first) into out; returns count. */
static unsigned
walk_tree(pid_t root, struct pinfo *out, unsigned cap)
{
	struct pinfo *all;
	DIR *d;
	struct dirent *de;
	unsigned nall = 0, n = 0, i, k;

	if (read_stat(root, &out[0]) != 0)
		return 0;
	n = 1;
	all = malloc(PROC_SCAN_MAX * sizeof(*all));
	d = opendir("/proc");
	if (all == NULL || d == NULL) {
		free(all);
		if (d != NULL)
			closedir(d);
		return n;
	}
	while ((de = readdir(d)) != NULL && nall < PROC_SCAN_MAX) {
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (pid != root && read_stat(pid, &all[nall]) == 0)
			nall++;
	}
	closedir(d);
	/* Breadth first: out[0..n) grows as children are found. */
	for (k = 0; k < n && n < cap; k++)
		for (i = 0; i < nall && n < cap; i++)
			if (all[i].ppid == out[k].pid)
				out[n++] = all[i];
	free(all);
	return n;
}

static unsigned
cgroup_members(const struct soak_target *t, struct pinfo *out, unsigned cap)
{
	char path[700];
	FILE *f;
	unsigned n = 0;
	long pid;

	snprintf(path, sizeof(path), "%s/cgroup.procs", t->cgroup_dir);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	while (n < cap && fscanf(f, "%ld", &pid) == 1)
		if (read_stat((pid_t)pid, &out[n]) == 0)
			n++;
	fclose(f);
	return n;
}

static unsigned
members(const struct soak_target *t, struct pinfo *out, unsigned cap)
{
	if (t->kind == TARGET_PID)
		return walk_tree(t->root, out, cap);
	if (t->kind == TARGET_CGROUP)
		return cgroup_members(t, out, cap);
	return 0;
}

static void
record_initial(struct soak_target *t)
{
	struct pinfo pi[SOAK_PIDS_MAX];
	unsigned n = members(t, pi, SOAK_PIDS_MAX), i;

	for (i = 0; i < n; i++) {
		t->initial[i].pid = pi[i].pid;
		t->initial[i].start = pi[i].start;
	}
	t->ninitial = n;
}

int
measure_open_pid(struct soak_target *t, pid_t pid, char *err, size_t errlen)
{
	struct pinfo pi;

	memset(t, 0, sizeof(*t));
	if (pid <= 0 || read_stat(pid, &pi) != 0) {
		snprintf(err, errlen, "--pid %d: no such live process", (int)pid);
		return -1;
	}
	t->kind = TARGET_PID;
	t->root = pid;
	record_initial(t);
	return 0;
}

int
measure_open_cgroup(struct soak_target *t, const char *path, char *err, size_t errlen)
{
	struct stat st;

	memset(t, 0, sizeof(*t));
	if (path[0] == '/')
		snprintf(t->cgroup_dir, sizeof(t->cgroup_dir), "%s", path);
	else
		snprintf(t->cgroup_dir, sizeof(t->cgroup_dir), "/sys/fs/cgroup/%s", path);
	if (stat(t->cgroup_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--cgroup %s: not a directory", t->cgroup_dir);
		return -1;
	}
	snprintf(t->cgroup_file, sizeof(t->cgroup_file), "%s/memory.current", t->cgroup_dir);
	if (access(t->cgroup_file, R_OK) != 0) {
		snprintf(t->cgroup_file, sizeof(t->cgroup_file), "%s/memory.usage_in_bytes", t->cgroup_dir);
		if (access(t->cgroup_file, R_OK) != 0) {
			snprintf(err, errlen, "--cgroup %s: neither memory.current nor memory.usage_in_bytes is readable",
			    t->cgroup_dir);
			return -1;
		}
	}
	t->kind = TARGET_CGROUP;
	record_initial(t);
	return 0;
}

int
measure_sample(struct soak_target *t, struct soak_sample *s)
{
	struct pinfo pi[SOAK_PIDS_MAX];
	unsigned n, i, j;
	char buf[64];

	s->rss = s->pss = s->uss = s->cgroup = s->cpu = 0;
	s->nprocs = 0;
	measure_host(&s->memavail, &s->slab);
	if (t->kind == TARGET_NONE)
		return 0;
	/* The tree is re-walked at most every MEMBERS_S; in between, the
	 * cached members are read (a walk of /proc costs about a millisecond). */
	if (soak_now() >= t->members_next || t->nmembers == 0) {
		n = members(t, pi, SOAK_PIDS_MAX);
		for (i = 0; i < n; i++) {
			t->members[i].pid = pi[i].pid;
			t->members[i].start = pi[i].start;
		}
		t->nmembers = n;
		t->members_next = soak_now() + MEMBERS_S;
	} else {
		n = 0;
		for (i = 0; i < t->nmembers; i++)
			if (read_stat(t->members[i].pid, &pi[n]) == 0 && pi[n].start == t->members[i].start)
				n++;
	}
	for (i = 0; i < n; i++) {
		add_mem(pi[i].pid, &s->rss, &s->pss, &s->uss);
		s->cpu += (double)pi[i].ticks;
	}
	s->cpu /= clk_tck();
	s->nprocs = n;
	if (t->kind == TARGET_CGROUP && read_small(t->cgroup_file, buf, sizeof(buf)) > 0)
		s->cgroup = strtod(buf, NULL);
	for (i = 0; i < t->ninitial; i++) {
		for (j = 0; j < n; j++)
			if (pi[j].pid == t->initial[i].pid && pi[j].start == t->initial[i].start)
				break;
		if (j == n) {
			t->crashed = 1;
			snprintf(t->crash_reason, sizeof(t->crash_reason), "pid %d (%s) exited or was replaced",
			    (int)t->initial[i].pid, i == 0 && t->kind == TARGET_PID ? "target" : "member");
			return -1;
		}
	}
	return 0;
}

int
measure_alive(struct soak_target *t)
{
	struct pinfo pi;
	unsigned i;

	if (t->kind == TARGET_NONE || t->crashed)
		return t->crashed ? -1 : 0;
	for (i = 0; i < t->ninitial; i++) {
		if (read_stat(t->initial[i].pid, &pi) != 0 || pi.start != t->initial[i].start) {
			t->crashed = 1;
			snprintf(t->crash_reason, sizeof(t->crash_reason), "pid %d (%s) exited or was replaced",
			    (int)t->initial[i].pid, i == 0 && t->kind == TARGET_PID ? "target" : "member");
			return -1;
		}
	}
	return 0;
}
