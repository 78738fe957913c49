/*
 * holdfastctl: talk to holdfastd over its control socket.
 *
 *   holdfastctl [-c FILE] [-s SOCKET] status [--json]
 *   holdfastctl [-c FILE] [-s SOCKET] stop
 *   holdfastctl [-c FILE] [-s SOCKET] SERVICE COMMAND [ARG...]
 *
 * SERVICE commands are forwarded by holdfastd to that service's worker
 * (e.g. "news newgroup local.test"); the worker's text answer is printed.
 *
 * The socket is RUNDIR/control, RUNDIR from [holdfast] rundir of the
 * configuration (-c, default /etc/holdfast/holdfast.conf; when that file
 * does not exist, /run/holdfast).  Answers are fixed-size messages
 * (ctl_proto.h) checked for type and exact length.  Exit status: 0, 1 on
 * error, 3 when holdfastd is not running.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_proto.h"
#include "settings.h"

static void
usage(void)
{
	fprintf(stderr, "usage: holdfastctl [-c FILE] [-s SOCKET] status [--json]\n"
	                "       holdfastctl [-c FILE] [-s SOCKET] stop\n"
	                "       holdfastctl [-c FILE] [-s SOCKET] SERVICE COMMAND [ARG...]\n"
	                "         e.g. holdfastctl news newgroup local.test\n");
	exit(2);
}

static int
io_full(int fd, void *p, size_t n, int writing)
{
	size_t done = 0;

	while (done < n) {
		struct pollfd pfd = { fd, writing ? POLLOUT : POLLIN, 0 };
		ssize_t r;

		if (poll(&pfd, 1, 5000) <= 0)
			return -1;
		r = writing ? write(fd, (char *)p + done, n - done) : read(fd, (char *)p + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static int
request(const char *sock, uint16_t type, const void *body, uint32_t bodylen, struct ctl_hdr *h, void *payload,
        size_t maxlen)
{
	struct sockaddr_un sa;
	struct ctl_hdr req = { CTL_MAGIC, CTL_VERSION, type, bodylen, 0 };
	int fd;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof sa.sun_path) {
		fprintf(stderr, "holdfastctl: socket path too long: %s\n", sock);
		exit(1);
	}
	strcpy(sa.sun_path, sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		fprintf(stderr, "holdfastctl: %s: %s (is holdfastd running?)\n", sock, strerror(errno));
		exit(3);
	}
	if (io_full(fd, &req, sizeof req, 1) != 0 || (bodylen && io_full(fd, (void *)body, bodylen, 1) != 0) ||
	    io_full(fd, h, sizeof *h, 0) != 0) {
		fprintf(stderr, "holdfastctl: %s: no answer\n", sock);
		exit(1);
	}
	if (h->magic != CTL_MAGIC || h->version != CTL_VERSION || h->len > maxlen) {
		fprintf(stderr, "holdfastctl: malformed answer\n");
		exit(1);
	}
	if (h->len > 0 && io_full(fd, payload, h->len, 0) != 0) {
		fprintf(stderr, "holdfastctl: truncated answer\n");
		exit(1);
	}
	close(fd);
	if (h->type == CTL_RESP_ERROR && h->len == sizeof(struct ctl_error)) {
		struct ctl_error *e = payload;

		e->message[sizeof e->message - 1] = '\0';
		fprintf(stderr, "holdfastctl: holdfastd says: %s\n", e->message);
		exit(1);
	}
	return 0;
}

static const char *const state_names[] = { "stopped", "running", "backoff" };
static const char *const cap_names[] = { "none", "cgroup2", "cgroup1", "rlimit" };

static const char *
name_of(const char *const *names, size_t n, uint32_t v)
{
	return v < n ? names[v] : "?";
}

static void
json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void
print_json(const struct ctl_status *st)
{
	uint32_t i, j;

	printf("{\"supervisor_pid\":%u,\"uptime_ms\":%llu,\"services\":[", st->supervisor_pid,
	       (unsigned long long)st->uptime_ms);
	for (i = 0; i < st->nservices; i++) {
		const struct ctl_service_status *s = &st->services[i];
		int first = 1;

		printf("%s{\"name\":", i ? "," : "");
		json_string(s->name);
		printf(",\"state\":\"%s\",\"pid\":%u,\"uptime_ms\":%llu,\"restarts\":%u,"
		       "\"connections\":%llu,\"connections_total\":%llu,"
		       "\"region_bytes\":%llu,\"region_peak_bytes\":%llu,\"budget_bytes\":%llu,"
		       "\"memory_max\":%llu,\"memory_cap\":\"%s\",\"rss_bytes\":%llu,\"pss_bytes\":%llu,\"fds\":%llu,"
		       "\"refused\":{",
		       name_of(state_names, 3, s->state), s->pid, (unsigned long long)s->uptime_ms, s->restarts,
		       (unsigned long long)s->connections, (unsigned long long)s->connections_total,
		       (unsigned long long)s->region_bytes, (unsigned long long)s->region_peak_bytes,
		       (unsigned long long)s->budget_bytes, (unsigned long long)s->memory_max,
		       name_of(cap_names, 4, s->cap_kind), (unsigned long long)s->rss_bytes,
		       (unsigned long long)s->pss_bytes, (unsigned long long)s->fds);
		for (j = 0; j < REFUSE_MAX; j++)
			printf("%s\"%s\":%llu", j ? "," : "", refuse_reason_names[j], (unsigned long long)s->refused[j]);
		printf("},\"rejected\":{");
		for (j = 0; j < STATS_REASONS_MAX; j++) {
			if (s->rejected[j].name[0] == '\0')
				continue;
			printf("%s", first ? "" : ",");
			json_string(s->rejected[j].name);
			printf(":%llu", (unsigned long long)s->rejected[j].count);
			first = 0;
		}
		printf("},\"gauges\":{");
		first = 1;
		for (j = 0; j < STATS_GAUGES_MAX; j++) {
			if (s->gauges[j].name[0] == '\0')
				continue;
			printf("%s", first ? "" : ",");
			json_string(s->gauges[j].name);
			printf(":%llu", (unsigned long long)s->gauges[j].count);
			first = 0;
		}
		printf("}}");
	}
	printf("]}\n");
}

static void
human_bytes(char *out, size_t n, uint64_t v)
{
	if (v >= 10ULL * 1024 * 1024)
		snprintf(out, n, "%lluM", (unsigned long long)(v >> 20));
	else if (v >= 10 * 1024)
		snprintf(out, n, "%lluK", (unsigned long long)(v >> 10));
	else
		snprintf(out, n, "%llu", (unsigned long long)v);
}

static void
print_text(const struct ctl_status *st)
{
	uint32_t i, j;

	printf("holdfastd pid %u, up %llus, %u service%s\n", st->supervisor_pid,
	       (unsigned long long)(st->uptime_ms / 1000), st->nservices, st->nservices == 1 ? "" : "s");
	if (st->nservices == 0)
		return;
	printf("%-8s %-8s %7s %8s %8s %6s %9s %9s %9s %9s %5s\n", "SERVICE", "STATE", "PID", "UPTIME", "RESTARTS",
	       "CONNS", "REGION", "BUDGET", "RSS", "CAP", "FDS");
	for (i = 0; i < st->nservices; i++) {
		const struct ctl_service_status *s = &st->services[i];
		char region[16], budget[16], rss[16], cap[16];
		int any = 0;

		human_bytes(region, sizeof region, s->region_bytes);
		human_bytes(budget, sizeof budget, s->budget_bytes);
		human_bytes(rss, sizeof rss, s->rss_bytes);
		human_bytes(cap, sizeof cap, s->memory_max);
		printf("%-8s %-8s %7u %7llus %8u %6llu %9s %9s %9s %9s %5llu\n", s->name,
		       name_of(state_names, 3, s->state), s->pid, (unsigned long long)(s->uptime_ms / 1000),
		       s->restarts, (unsigned long long)s->connections, region, budget, rss, cap,
		       (unsigned long long)s->fds);
		printf("    memory cap: %s; connections accepted: %llu\n", name_of(cap_names, 4, s->cap_kind),
		       (unsigned long long)s->connections_total);
		printf("    refused:");
		for (j = 0; j < REFUSE_MAX; j++)
			printf(" %s=%llu", refuse_reason_names[j], (unsigned long long)s->refused[j]);
		printf("\n    rejected:");
		for (j = 0; j < STATS_REASONS_MAX; j++)
			if (s->rejected[j].name[0] != '\0') {
				printf(" %s=%llu", s->rejected[j].name, (unsigned long long)s->rejected[j].count);
				any = 1;
			}
		printf("%s\n", any ? "" : " none");
		any = 0;
		for (j = 0; j < STATS_GAUGES_MAX; j++)
			if (s->gauges[j].name[0] != '\0') {
				printf("%s %s=%llu", any ? "" : "    now:", s->gauges[j].name,
				       (unsigned long long)s->gauges[j].count);
				any = 1;
			}
		if (any)
			printf("\n");
	}
}

int
main(int argc, char **argv)
{
	const char *conf = NULL, *sock = NULL, *cmd;
	static char sockbuf[256], err[512];
	static struct ctl_status st;
	struct global_settings g;
	struct ctl_hdr h;
	int c, json = 0;
	static struct ctl_service_cmd scmd;
	static struct ctl_text text;

	while ((c = getopt(argc, argv, "+c:s:")) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	cmd = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--json") == 0 && strcmp(cmd, "status") == 0) {
		json = 1;
		optind++;
	}
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "stop") == 0) {
		if (optind != argc)
			usage();
	} else {
		/* SERVICE COMMAND [ARG...] */
		int i;

		if (argc - optind < 1 || argc - optind > CTL_ARGS_MAX || strlen(cmd) >= sizeof scmd.service)
			usage();
		snprintf(scmd.service, sizeof scmd.service, "%s", cmd);
		for (i = 0; optind + i < argc; i++) {
			if (strlen(argv[optind + i]) >= CTL_ARG_MAX_BYTES) {
				fprintf(stderr, "holdfastctl: argument too long (max %d bytes)\n", CTL_ARG_MAX_BYTES - 1);
				return 2;
			}
			snprintf(scmd.argv[i], CTL_ARG_MAX_BYTES, "%s", argv[optind + i]);
		}
		scmd.argc = (uint32_t)i;
	}
	if (sock == NULL) {
		const char *path = conf ? conf : HOLDFAST_DEFAULT_CONF;

		if (conf == NULL && access(path, F_OK) != 0) {
			snprintf(sockbuf, sizeof sockbuf, "%s/%s", HOLDFAST_DEFAULT_RUNDIR, HOLDFAST_CONTROL_NAME);
		} else {
			if (settings_read_global(path, &g, err, sizeof err) != 0) {
				fprintf(stderr, "holdfastctl: %s\n", err);
				return 1;
			}
			snprintf(sockbuf, sizeof sockbuf, "%s/%s", g.rundir, HOLDFAST_CONTROL_NAME);
			free(g.rundir);
			free(g.state_dir);
			free(g.log);
			free(g.log_level);
			free(g.memory_cap);
		}
		sock = sockbuf;
	}
	if (strcmp(cmd, "status") == 0) {
		request(sock, CTL_REQ_STATUS, NULL, 0, &h, &st, sizeof st);
		if (h.type != CTL_RESP_STATUS || h.len != sizeof st || st.nservices > SERVICES_MAX) {
			fprintf(stderr, "holdfastctl: malformed status answer\n");
			return 1;
		}
		if (json)
			print_json(&st);
		else
			print_text(&st);
		return 0;
	}
	if (strcmp(cmd, "stop") == 0) {
		request(sock, CTL_REQ_STOP, NULL, 0, &h, &st, sizeof st);
		if (h.type != CTL_RESP_OK || h.len != 0) {
			fprintf(stderr, "holdfastctl: malformed answer\n");
			return 1;
		}
		printf("holdfastd is stopping\n");
		return 0;
	}
	request(sock, CTL_REQ_SERVICE, &scmd, sizeof scmd, &h, &text, sizeof text);
	if (h.type != CTL_RESP_TEXT || h.len != sizeof text || text.len >= sizeof text.text) {
		fprintf(stderr, "holdfastctl: malformed answer\n");
		return 1;
	}
	text.text[text.len] = '\0';
	fputs(text.text, text.status == 0 ? stdout : stderr);
	return text.status == 0 ? 0 : 1;
}
