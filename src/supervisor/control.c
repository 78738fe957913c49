/*
 * control.c: the control socket, RUNDIR/control (mode 0600, root).
 *
 * One request per connection: a struct ctl_hdr and, for CTL_REQ_SERVICE,
 * a struct ctl_service_cmd that is forwarded to the service's worker over
 * its SOCK_SEQPACKET pair; the answer is one message (ctl_proto.h).  At most CTL_CLIENTS_MAX clients at once,
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

#define CTL_SERVICE_TIMEOUT_MS (60 * 1000)   /* expire or a big LIST may take a while */
#define CTL_MAX(a, b) ((a) > (b) ? (a) : (b))

struct ctl_client {
	struct supervisor *sup;
	int fd;
	struct loop_io io;
	struct timer timeout;
	unsigned char in[sizeof(struct ctl_hdr) + sizeof(struct ctl_service_cmd)];
	size_t in_len, in_want;
	unsigned char out[sizeof(struct ctl_hdr) + CTL_MAX(sizeof(struct ctl_status), sizeof(struct ctl_text))];
	size_t out_len, out_off;
	int stop_after;
	struct sup_service *waiting;         /* a worker owes this client an answer */
};

static struct ctl_client clients[CTL_CLIENTS_MAX];

static void
client_close(struct ctl_client *c)
{
	struct supervisor *sup = c->sup;
	int stop = c->stop_after;

	loop_io_del(sup->loop, &c->io);
	loop_timer_cancel(sup->loop, &c->timeout);
	if (c->waiting) {
		/* The late answer, if any, is read and dropped. */
		c->waiting->ctl_pending = NULL;
		c->waiting = NULL;
	}
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
			memcpy(o->gauges, s->stats->gauges, sizeof o->gauges);
			for (j = 0; j < STATS_GAUGES_MAX; j++)
				o->gauges[j].name[STATS_REASON_NAME_MAX - 1] = '\0';
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
client_service(struct ctl_client *c)
{
	struct supervisor *sup = c->sup;
	struct ctl_service_cmd cmd;
	struct sup_service *s = NULL;
	size_t i;

	memcpy(&cmd, c->in + sizeof(struct ctl_hdr), sizeof cmd);
	cmd.service[sizeof cmd.service - 1] = '\0';
	for (i = 0; i < sup->nservices; i++)
		if (sup->services[i].settings.enable && strcmp(sup->services[i].svc->name, cmd.service) == 0)
			s = &sup->services[i];
	if (s == NULL || cmd.argc == 0 || cmd.argc > CTL_ARGS_MAX) {
		client_error(c, s ? "malformed command" : "no such service enabled");
		return;
	}
	if (s->pid == 0 || s->ctl_fd < 0) {
		client_error(c, "the service's worker is not running");
		return;
	}
	if (s->ctl_pending != NULL) {
		client_error(c, "the service is answering another command; try again");
		return;
	}
	if (send(s->ctl_fd, &cmd, sizeof cmd, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof cmd) {
		client_error(c, "cannot reach the worker");
		return;
	}
	s->ctl_pending = c;
	c->waiting = s;
	loop_io_mod(sup->loop, &c->io, 0);
	loop_timer_set(sup->loop, &c->timeout, CTL_SERVICE_TIMEOUT_MS);
}

/* The worker's answer: exactly one struct ctl_text per datagram. */
static void
service_ctl_io(struct loop_io *io, uint32_t events, void *arg)
{
	struct sup_service *s = arg;
	static struct ctl_text text;
	ssize_t n;

	while ((n = recv(s->ctl_fd, &text, sizeof text, MSG_DONTWAIT | MSG_TRUNC)) > 0) {
		struct ctl_client *c = s->ctl_pending;

		if ((size_t)n != sizeof text || c == NULL)
			continue;
		text.text[sizeof text.text - 1] = '\0';
		s->ctl_pending = NULL;
		c->waiting = NULL;
		loop_timer_set(c->sup->loop, &c->timeout, CTL_IO_TIMEOUT_MS);
		client_answer(c, CTL_RESP_TEXT, &text, sizeof text);
	}
	if (n == 0)
		sup_service_ctl_detach(s);
}

void
sup_service_ctl_attach(struct sup_service *s)
{
	loop_io_init(&s->ctl_io);
	if (s->ctl_fd >= 0 && loop_io_add(s->sup->loop, &s->ctl_io, s->ctl_fd, EPOLLIN, service_ctl_io, s) != 0) {
		close(s->ctl_fd);
		s->ctl_fd = -1;
	}
}

void
sup_service_ctl_detach(struct sup_service *s)
{
	if (s->ctl_pending) {
		struct ctl_client *c = s->ctl_pending;

		s->ctl_pending = NULL;
		c->waiting = NULL;
		client_error(c, "the worker went away");
	}
	if (s->ctl_fd >= 0) {
		loop_io_del(s->sup->loop, &s->ctl_io);
		close(s->ctl_fd);
		s->ctl_fd = -1;
	}
}

static void
client_request(struct ctl_client *c)
{
	struct ctl_hdr h;
	static struct ctl_status st;

	memcpy(&h, c->in, sizeof h);
	if (h.type == CTL_REQ_SERVICE) {
		client_service(c);
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

	if (c->waiting)
		return;
	if (c->out_len == 0) {
		n = read(c->fd, c->in + c->in_len, c->in_want - c->in_len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(c);
			return;
		}
		if (n <= 0 || (c->in_len += (size_t)n) < c->in_want)
			return;
		if (c->in_want == sizeof(struct ctl_hdr)) {
			struct ctl_hdr h;

			/* Exact payload size per type; anything else is malformed. */
			memcpy(&h, c->in, sizeof h);
			if (h.magic != CTL_MAGIC || h.version != CTL_VERSION ||
			    h.len != (h.type == CTL_REQ_SERVICE ? sizeof(struct ctl_service_cmd) : 0)) {
				client_error(c, "malformed request");
				return;
			}
			c->in_want += h.len;
			if (c->in_len < c->in_want)
				return;
		}
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
		c->in_want = sizeof(struct ctl_hdr);
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
