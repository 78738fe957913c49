/*
 * control.c: the control socket, RUNDIR/control (mode 0600, root).
 *
 * One request per connection: a struct ctl_hdr, no payload; the answer is
 * one message (ctl_proto.h).  At most CTL_CLIENTS_MAX clients at once,
 * each given CTL_IO_TIMEOUT_MS to send its request and take its answer;
 * a client that connects and says nothing cannot stall the supervisor.
 * Only root (or our own uid) may talk to it: SO_PEERCRED is checked even
 * though the socket's mode already says so.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

struct ctl_client {
	struct supervisor *sup;
	int fd;
	struct loop_io io;
	struct timer timeout;
	unsigned char in[sizeof(struct ctl_hdr)];
	size_t in_len;
	unsigned char out[sizeof(struct ctl_hdr) + sizeof(struct ctl_status)];
	size_t out_len, out_off;
	int stop_after;
};

static struct ctl_client clients[CTL_CLIENTS_MAX];

static void
client_close(struct ctl_client *c)
{
	struct supervisor *sup = c->sup;
	int stop = c->stop_after;

	loop_io_del(sup->loop, &c->io);
	loop_timer_cancel(sup->loop, &c->timeout);
	close(c->fd);
	c->fd = -1;
	if (stop)
		sup_stop(sup);
}

static void
client_timeout(struct timer *t, void *arg)
{
	client_close(arg);
}

static uint64_t
proc_kb(pid_t pid, const char *file, const char *field)
{
	char path[64], line[256];
	size_t fl = strlen(field);
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, file);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
			v = strtoull(line + fl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return (uint64_t)v * 1024;
}

static uint64_t
proc_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	uint64_t n = 0;
	DIR *d;

	snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void
sup_status(struct supervisor *sup, struct ctl_status *st)
{
	uint64_t now = clock_ms();
	size_t i, j;

	memset(st, 0, sizeof *st);
	st->supervisor_pid = (uint32_t)getpid();
	st->uptime_ms = now - sup->started_ms;
	for (i = 0; i < sup->nservices; i++) {
		struct sup_service *s = &sup->services[i];
		struct ctl_service_status *o;

		if (!s->settings.enable)
			continue;
		o = &st->services[st->nservices++];
		snprintf(o->name, sizeof o->name, "%s", s->svc->name);
		o->state = s->state;
		o->cap_kind = s->cap_kind;
		o->pid = (uint32_t)s->pid;
		o->restarts = s->restarts;
		o->memory_max = s->settings.memory_max;
		if (s->pid > 0) {
			o->uptime_ms = now - s->started_ms;
			o->rss_bytes = proc_kb(s->pid, "status", "VmRSS");
			o->pss_bytes = proc_kb(s->pid, "smaps_rollup", "Pss");
			o->fds = proc_fds(s->pid);
		}
		/* The page is written by the worker: copy numbers, clamp names. */
		if (s->stats && s->stats->magic == STATS_MAGIC && s->pid > 0) {
			o->connections = s->stats->connections;
			o->connections_total = s->stats->connections_total;
			o->region_bytes = s->stats->region_bytes;
			o->region_peak_bytes = s->stats->region_peak_bytes;
			o->budget_bytes = s->stats->budget_bytes;
			memcpy(o->refused, s->stats->refused, sizeof o->refused);
			memcpy(o->rejected, s->stats->rejected, sizeof o->rejected);
			for (j = 0; j < STATS_REASONS_MAX; j++)
				o->rejected[j].name[STATS_REASON_NAME_MAX - 1] = '\0';
		}
	}
}

static void
client_answer(struct ctl_client *c, uint16_t type, const void *payload, uint32_t len)
{
	struct ctl_hdr h = { CTL_MAGIC, CTL_VERSION, type, len, 0 };

	memcpy(c->out, &h, sizeof h);
	if (len)
		memcpy(c->out + sizeof h, payload, len);
	c->out_len = sizeof h + len;
	c->out_off = 0;
	loop_io_mod(c->sup->loop, &c->io, EPOLLOUT);
}

static void
client_error(struct ctl_client *c, const char *msg)
{
	struct ctl_error e;

	memset(&e, 0, sizeof e);
	snprintf(e.message, sizeof e.message, "%s", msg);
	client_answer(c, CTL_RESP_ERROR, &e, sizeof e);
}

static void
client_request(struct ctl_client *c)
{
	struct ctl_hdr h;
	static struct ctl_status st;

	memcpy(&h, c->in, sizeof h);
	if (h.magic != CTL_MAGIC || h.version != CTL_VERSION || h.len != 0) {
		client_error(c, "malformed request");
		return;
	}
	switch (h.type) {
	case CTL_REQ_STATUS:
		sup_status(c->sup, &st);
		client_answer(c, CTL_RESP_STATUS, &st, sizeof st);
		break;
	case CTL_REQ_STOP:
		c->stop_after = 1;
		client_answer(c, CTL_RESP_OK, NULL, 0);
		break;
	default:
		client_error(c, "unknown request");
	}
}

static void
client_io(struct loop_io *io, uint32_t events, void *arg)
{
	struct ctl_client *c = arg;
	ssize_t n;

	if (c->out_len == 0) {
		n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(c);
			return;
		}
		if (n > 0 && (c->in_len += (size_t)n) == sizeof c->in)
			client_request(c);
		return;
	}
	n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || (c->out_off += (size_t)n) == c->out_len)
		client_close(c);
}

static void
ctl_accept(struct loop_io *io, uint32_t events, void *arg)
{
	struct supervisor *sup = arg;
	struct ucred cred;
	socklen_t cl = sizeof cred;
	struct ctl_client *c = NULL;
	size_t i;
	int fd;

	while ((fd = accept4(sup->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		for (i = 0, c = NULL; i < CTL_CLIENTS_MAX; i++)
			if (clients[i].fd < 0) {
				c = &clients[i];
				break;
			}
		if (c == NULL || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
		    (cred.uid != 0 && cred.uid != geteuid())) {
			close(fd);
			continue;
		}
		memset(c, 0, sizeof *c);
		c->sup = sup;
		c->fd = fd;
		loop_io_init(&c->io);
		timer_init(&c->timeout, client_timeout, c);
		if (loop_io_add(sup->loop, &c->io, fd, EPOLLIN, client_io, c) != 0) {
			close(fd);
			c->fd = -1;
			continue;
		}
		loop_timer_set(sup->loop, &c->timeout, CTL_IO_TIMEOUT_MS);
	}
}

int
sup_control_start(struct supervisor *sup)
{
	size_t i;

	for (i = 0; i < CTL_CLIENTS_MAX; i++)
		clients[i].fd = -1;
	loop_io_init(&sup->ctl_io);
	return loop_io_add(sup->loop, &sup->ctl_io, sup->ctl_fd, EPOLLIN, ctl_accept, sup);
}
