/*
 * main.c: holdfast-soak, replay a bulletin's attack against a server and
 * measure what it costs (issue 4).
 *
 *   holdfast-soak SCENARIO --target HOST:PORT [--pid PID | --cgroup PATH]
 *       [--count N] [--duration S] [--connections C] [--valid]
 *       [--threshold B] [--json FILE] [--svg FILE] [--allow-remote] ...
 *   holdfast-soak ms01-003 --as-user USER --path P [--path P ...]
 *   holdfast-soak --help | --list
 *
 * Verdict and exit code: crashed (4) when a process of the target vanishes
 * or is replaced; else leak (1) when the 95% CI of the verdict slope (PSS,
 * or memory.current with --cgroup) lies above --threshold; else degraded
 * (3) when the probe's p99 passes --probe-p99-limit or its failures pass
 * --probe-fail-pct; else no leak (0) when the CI lies below the threshold,
 * inconclusive (2) otherwise (and when nothing was measured).  64: usage.
 *
 * Safety: --count and --duration bound every run (defaults 200000 and
 * 300 s, hard maxima SOAK_COUNT_MAX and SOAK_DURATION_MAX); every address
 * the target name resolves to must be loopback unless --allow-remote.
 * Known weaknesses: one target address is used (the first resolved).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include "soak.h"

#define EXIT_USAGE 64

static const struct soak_scenario *const scenarios[] = {
	&scen_calibrate, &scen_ms01_043, &scen_ms03_029, &scen_ms01_040, &scen_ms01_009, &scen_ms01_003,
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: holdfast-soak SCENARIO --target HOST:PORT [--pid PID | --cgroup PATH]\n"
	    "         [--count N] [--duration SECONDS] [--connections C] [--valid]\n"
	    "         [--threshold BYTES] [--json FILE] [--svg FILE] [--allow-remote]\n"
	    "         [--seed N] [--samples N] [--sample-every N] [--warmup FRACTION]\n"
	    "         [--probe-interval MS] [--probe-timeout MS] [--probe-p99-limit MS]\n"
	    "         [--probe-fail-pct P] [--no-probe] [--progress | --no-progress]\n"
	    "         [--drain-wait SECONDS]\n"
	    "         [--protocol nntp|rdp|pptp]   (ms03-029 only)\n"
	    "         [--phase pre|post|both]      (ms01-040: before TLS, after TLS, both; default both)\n"
	    "         [--probe-no-tls]             (ms01-040: the probe stops at the Connection Confirm)\n"
	    "         [--raw | --raw-only] [--raw-rate PPS]  (ms01-009: GRE, ms01-040: bad TCP checksums; root)\n"
	    "         [--gre-calls N]              (ms01-009 --raw: established calls the GRE aims at; 2)\n"
	    "         [--baseline SECONDS]         (--raw: idle host Slab drift sampled before and after; 5)\n"
	    "         [--raw-window SECONDS]       (--raw: send this long, rest as long, pair them; 0.5, 0: always)\n"
	    "       holdfast-soak ms01-003 --as-user USER --path PATH [--path PATH ...] [--hold SECONDS]\n"
	    "exit: 0 no leak, 1 leak, 2 inconclusive, 3 degraded, 4 crashed, 64 usage\n"
	    "scenarios:\n");
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		fprintf(f, "  %-10s %s\n", scenarios[i]->name, scenarios[i]->summary);
}

static int
bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "holdfast-soak: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return EXIT_USAGE;
}

static int
num_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (s[0] == '-' || s[0] == '\0')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
num_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_target(const char *s, struct soak_opts *o)
{
	const char *colon;
	size_t hl;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - s - 1);
		if (hl == 0 || hl >= sizeof(o->host))
			return -1;
		memcpy(o->host, s + 1, hl);
		o->host[hl] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hl = (size_t)(colon - s);
		if (hl == 0 || hl >= sizeof(o->host))
			return -1;
		memcpy(o->host, s, hl);
		o->host[hl] = '\0';
	}
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(o->port) ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) < 1 || atoi(colon + 1) > 65535)
		return -1;
	snprintf(o->port, sizeof(o->port), "%s", colon + 1);
	return 0;
}

/* 1 when every address of host is loopback, 0 when not, -1 unresolvable. */
static int
all_loopback(const struct soak_opts *o)
{
	struct addrinfo hints, *ai, *p;
	int ok = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(o->host, o->port, &hints, &ai) != 0)
		return -1;
	for (p = ai; p != NULL; p = p->ai_next) {
		if (p->ai_family == AF_INET) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)p->ai_addr;

			if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
				ok = 0;
		} else if (p->ai_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)p->ai_addr;

			if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
				ok = 0;
		} else {
			ok = 0;
		}
	}
	freeaddrinfo(ai);
	return ok;
}

static void
on_signal(int sig)
{
	(void)sig;
	soak_interrupted = 1;
}

static void
probe_stats(struct soak_result *r)
{
	double *v = malloc((r->nprobes + 1) * sizeof(double));
	unsigned i, n = 0;

	if (v == NULL)
		return;
	for (i = 0; i < r->nprobes; i++)
		if (r->probes[i].ms >= 0)
			v[n++] = r->probes[i].ms;
	r->p50 = stats_quantile(v, n, 0.5);
	r->p99 = stats_quantile(v, n, 0.99);
	r->pmax = n > 0 ? v[n - 1] : 0.0;
	free(v);
}

static void
verdict(const struct soak_opts *o, struct soak_result *r)
{
	const struct soak_fit *p = r->primary;
	int degraded = 0;

	if (!o->have_target || p == NULL || !p->ok)
		r->memory_verdict = "inconclusive";
	else if (p->lo > o->threshold)
		r->memory_verdict = "leak";
	else if (p->hi < o->threshold)
		r->memory_verdict = "no leak";
	else
		r->memory_verdict = "inconclusive";
	if (r->nprobes > 0 && (r->p99 > o->probe_p99_limit_ms ||
	    (double)r->probe_failures * 100.0 > o->probe_fail_pct * (double)r->nprobes))
		degraded = 1;
	if (r->stopped_by == 3) {
		r->verdict = "crashed";
		r->exit_code = 4;
	} else if (strcmp(r->memory_verdict, "leak") == 0) {
		r->verdict = "leak";
		r->exit_code = 1;
	} else if (degraded) {
		r->verdict = "degraded";
		r->exit_code = 3;
	} else if (strcmp(r->memory_verdict, "no leak") == 0) {
		r->verdict = "no leak";
		r->exit_code = 0;
	} else {
		r->verdict = "inconclusive";
		r->exit_code = 2;
	}
	if (r->stopped_by == 4)
		snprintf(r->note, sizeof(r->note), "target unreachable: no connection for 5 s");
	else if (r->stopped_by == 5)
		snprintf(r->note, sizeof(r->note), "the target never completed a TLS handshake (%llu refused, %llu failed)",
		    (unsigned long long)r->tls_refused, (unsigned long long)r->tls_failures);
	else if (r->stopped_by == 2)
		snprintf(r->note, sizeof(r->note), "interrupted");
	else if (r->tls_gave_up)
		snprintf(r->note, sizeof(r->note), "the target never completed a TLS handshake (%llu refused, %llu failed): "
		    "only pre-TLS PDUs were sent after that", (unsigned long long)r->tls_refused,
		    (unsigned long long)r->tls_failures);
	else if (!o->have_target)
		snprintf(r->note, sizeof(r->note), "no --pid or --cgroup: memory not measured");
	else if (p == NULL || !p->ok)
		snprintf(r->note, sizeof(r->note), "too few samples after warm-up to fit a slope");
}

enum {
	OPT_TARGET = 256, OPT_PID, OPT_CGROUP, OPT_COUNT, OPT_DURATION, OPT_CONNS, OPT_VALID, OPT_THRESHOLD,
	OPT_JSON, OPT_SVG, OPT_REMOTE, OPT_SEED, OPT_SAMPLES, OPT_EVERY, OPT_WARMUP, OPT_PINT, OPT_PTMO,
	OPT_PP99, OPT_PFAIL, OPT_NOPROBE, OPT_PROGRESS, OPT_NOPROGRESS, OPT_ASUSER, OPT_PATH, OPT_HOLD, OPT_LIST,
	OPT_PROTOCOL, OPT_RAW, OPT_RAWRATE, OPT_DRAINWAIT, OPT_PHASE, OPT_RAWONLY, OPT_GRECALLS, OPT_BASELINE, OPT_RAWWINDOW, OPT_PROBENOTLS,
};

static const struct option longopts[] = {
	{"target", required_argument, NULL, OPT_TARGET},
	{"pid", required_argument, NULL, OPT_PID},
	{"cgroup", required_argument, NULL, OPT_CGROUP},
	{"count", required_argument, NULL, OPT_COUNT},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"connections", required_argument, NULL, OPT_CONNS},
	{"valid", no_argument, NULL, OPT_VALID},
	{"threshold", required_argument, NULL, OPT_THRESHOLD},
	{"json", required_argument, NULL, OPT_JSON},
	{"svg", required_argument, NULL, OPT_SVG},
	{"allow-remote", no_argument, NULL, OPT_REMOTE},
	{"seed", required_argument, NULL, OPT_SEED},
	{"samples", required_argument, NULL, OPT_SAMPLES},
	{"sample-every", required_argument, NULL, OPT_EVERY},
	{"warmup", required_argument, NULL, OPT_WARMUP},
	{"probe-interval", required_argument, NULL, OPT_PINT},
	{"probe-timeout", required_argument, NULL, OPT_PTMO},
	{"probe-p99-limit", required_argument, NULL, OPT_PP99},
	{"probe-fail-pct", required_argument, NULL, OPT_PFAIL},
	{"no-probe", no_argument, NULL, OPT_NOPROBE},
	{"progress", no_argument, NULL, OPT_PROGRESS},
	{"no-progress", no_argument, NULL, OPT_NOPROGRESS},
	{"as-user", required_argument, NULL, OPT_ASUSER},
	{"path", required_argument, NULL, OPT_PATH},
	{"hold", required_argument, NULL, OPT_HOLD},
	{"list", no_argument, NULL, OPT_LIST},
	{"protocol", required_argument, NULL, OPT_PROTOCOL},
	{"raw", no_argument, NULL, OPT_RAW},
	{"raw-rate", required_argument, NULL, OPT_RAWRATE},
	{"drain-wait", required_argument, NULL, OPT_DRAINWAIT},
	{"phase", required_argument, NULL, OPT_PHASE},
	{"raw-only", no_argument, NULL, OPT_RAWONLY},
	{"gre-calls", required_argument, NULL, OPT_GRECALLS},
	{"baseline", required_argument, NULL, OPT_BASELINE},
	{"raw-window", required_argument, NULL, OPT_RAWWINDOW},
	{"probe-no-tls", no_argument, NULL, OPT_PROBENOTLS},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int
main(int argc, char **argv)
{
	static struct soak_opts o;
	static struct soak_result r;
	static struct soak_target t;
	struct soak_scenario probeless;
	char err[512];
	const char *target = NULL;
	uint64_t v;
	int c, no_probe = 0, progress = -1;
	size_t i;
	struct sigaction sa;

	o.count = 200000;
	o.duration = 300;
	o.connections = 4;
	o.threshold = 1.0;
	o.warmup = 0.2;
	o.samples = 200;
	o.seed = 1;
	o.probe_ms = 100;
	o.probe_timeout_ms = 2000;
	o.probe_p99_limit_ms = 1000;
	o.probe_fail_pct = 1.0;
	o.raw_rate = 10000;
	o.drain_wait = 10.0;
	o.gre_calls = 2;
	o.baseline = 5.0;
	o.raw_window = 0.5;
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--list") == 0) {
		for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
			printf("%s\n", scenarios[i]->name);
		return 0;
	}
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(argv[1], scenarios[i]->name) == 0)
			o.sc = scenarios[i];
	if (o.sc == NULL)
		return bad("unknown scenario '%s' (--list shows them)", argv[1]);
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TARGET:
			target = optarg;
			break;
		case OPT_PID:
			if (num_u64(optarg, 4194304, &v) != 0 || v == 0)
				return bad("--pid %s: not a process id", optarg);
			o.pid = (pid_t)v;
			break;
		case OPT_CGROUP:
			o.cgroup = optarg;
			break;
		case OPT_COUNT:
			if (num_u64(optarg, SOAK_COUNT_MAX, &o.count) != 0 || o.count == 0)
				return bad("--count %s: 1 to 100000000", optarg);
			break;
		case OPT_DURATION:
			if (num_double(optarg, 0.1, SOAK_DURATION_MAX, &o.duration) != 0)
				return bad("--duration %s: 0.1 to 86400 seconds", optarg);
			break;
		case OPT_CONNS:
			if (num_u64(optarg, SOAK_CONN_MAX, &v) != 0 || v == 0)
				return bad("--connections %s: 1 to 64", optarg);
			o.connections = (unsigned)v;
			break;
		case OPT_VALID:
			o.valid = 1;
			break;
		case OPT_THRESHOLD:
			if (num_double(optarg, 0, 1e12, &o.threshold) != 0)
				return bad("--threshold %s: bytes per message, >= 0", optarg);
			break;
		case OPT_JSON:
			o.json = optarg;
			break;
		case OPT_SVG:
			o.svg = optarg;
			break;
		case OPT_REMOTE:
			o.allow_remote = 1;
			break;
		case OPT_SEED:
			if (num_u64(optarg, UINT64_MAX, &o.seed) != 0)
				return bad("--seed %s: an unsigned integer", optarg);
			break;
		case OPT_SAMPLES:
			if (num_u64(optarg, SOAK_SAMPLES_MAX - 2, &v) != 0 || v < 8)
				return bad("--samples %s: 8 to 19998", optarg);
			o.samples = (unsigned)v;
			break;
		case OPT_EVERY:
			if (num_u64(optarg, SOAK_COUNT_MAX, &o.sample_every) != 0 || o.sample_every == 0)
				return bad("--sample-every %s: a positive message count", optarg);
			break;
		case OPT_WARMUP:
			if (num_double(optarg, 0, 0.9, &o.warmup) != 0)
				return bad("--warmup %s: a fraction from 0 to 0.9", optarg);
			break;
		case OPT_PINT:
			if (num_u64(optarg, 60000, &v) != 0 || v < 1)
				return bad("--probe-interval %s: 1 to 60000 ms", optarg);
			o.probe_ms = (unsigned)v;
			break;
		case OPT_PTMO:
			if (num_u64(optarg, 600000, &v) != 0 || v < 1)
				return bad("--probe-timeout %s: 1 to 600000 ms", optarg);
			o.probe_timeout_ms = (unsigned)v;
			break;
		case OPT_PP99:
			if (num_double(optarg, 0, 1e9, &o.probe_p99_limit_ms) != 0)
				return bad("--probe-p99-limit %s: milliseconds", optarg);
			break;
		case OPT_PFAIL:
			if (num_double(optarg, 0, 100, &o.probe_fail_pct) != 0)
				return bad("--probe-fail-pct %s: 0 to 100", optarg);
			break;
		case OPT_NOPROBE:
			no_probe = 1;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case OPT_NOPROGRESS:
			progress = 0;
			break;
		case OPT_ASUSER:
			o.as_user = optarg;
			break;
		case OPT_PATH:
			if (o.npaths >= SOAK_PATHS_MAX)
				return bad("--path %s: too many paths (32 at most)", optarg);
			o.paths[o.npaths++] = optarg;
			break;
		case OPT_PROTOCOL:
			if (o.sc != &scen_ms03_029 && o.sc != &scen_ms03_029_rdp && o.sc != &scen_ms03_029_pptp)
				return bad("--protocol %s: only ms03-029 takes it", optarg);
			if (strcmp(optarg, "nntp") == 0)
				o.sc = &scen_ms03_029;
			else if (strcmp(optarg, "rdp") == 0)
				o.sc = &scen_ms03_029_rdp;
			else if (strcmp(optarg, "pptp") == 0)
				o.sc = &scen_ms03_029_pptp;
			else
				return bad("--protocol %s: nntp, rdp or pptp", optarg);
			break;
		case OPT_RAW:
			o.raw = 1;
			break;
		case OPT_RAWONLY:
			o.raw = 1;
			o.raw_only = 1;
			break;
		case OPT_GRECALLS:
			if (num_u64(optarg, GRE_CALLS_MAX, &v) != 0)
				return bad("--gre-calls %s: 0 to 16", optarg);
			o.gre_calls = (unsigned)v;
			break;
		case OPT_PROBENOTLS:
			o.probe_no_tls = 1;
			break;
		case OPT_RAWWINDOW:
			if (num_double(optarg, 0, 60, &o.raw_window) != 0 || (o.raw_window > 0 && o.raw_window < 0.05))
				return bad("--raw-window %s: 0 (always on) or 0.05 to 60 seconds", optarg);
			break;
		case OPT_BASELINE:
			if (num_double(optarg, 0, 600, &o.baseline) != 0)
				return bad("--baseline %s: 0 to 600 seconds", optarg);
			break;
		case OPT_RAWRATE:
			if (num_u64(optarg, 1000000, &v) != 0 || v == 0)
				return bad("--raw-rate %s: 1 to 1000000 packets/s", optarg);
			o.raw_rate = (unsigned)v;
			break;
		case OPT_PHASE:
			if (o.sc != &scen_ms01_040)
				return bad("--phase %s: only ms01-040 takes it", optarg);
			if (strcmp(optarg, "both") == 0)
				o.phase = SOAK_PHASE_BOTH;
			else if (strcmp(optarg, "pre") == 0)
				o.phase = SOAK_PHASE_PRE;
			else if (strcmp(optarg, "post") == 0)
				o.phase = SOAK_PHASE_POST;
			else
				return bad("--phase %s: pre, post or both", optarg);
			break;
		case OPT_DRAINWAIT:
			if (num_double(optarg, 0.01, 600, &o.drain_wait) != 0)
				return bad("--drain-wait %s: 0.01 to 600 seconds", optarg);
			break;
		case OPT_HOLD:
			if (num_double(optarg, 0, 3600, &o.hold) != 0)
				return bad("--hold %s: 0 to 3600 seconds", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (o.sc->local_run != NULL)
		return o.sc->local_run(o.sc, &o);
	if (target == NULL)
		return bad("%s needs --target HOST:PORT", o.sc->name);
	if (parse_target(target, &o) != 0)
		return bad("--target %s: expected HOST:PORT or [V6ADDR]:PORT", target);
	switch (all_loopback(&o)) {
	case -1:
		return bad("--target %s: cannot resolve", target);
	case 0:
		if (!o.allow_remote)
			return bad("--target %s: not a loopback address; give --allow-remote to attack another host",
			    target);
		break;
	default:
		break;
	}
	if (o.pid != 0 && o.cgroup != NULL)
		return bad("%s", "--pid and --cgroup exclude each other");
	if (o.raw && o.sc->raw_kind == RAW_NONE)
		return bad("--raw: %s has no raw side flood (ms01-009: GRE, ms01-040: bad TCP checksums)", o.sc->name);
	if (o.pid != 0 && measure_open_pid(&t, o.pid, err, sizeof(err)) != 0)
		return bad("%s", err);
	if (o.cgroup != NULL && measure_open_cgroup(&t, o.cgroup, err, sizeof(err)) != 0)
		return bad("%s", err);
	o.have_target = o.pid != 0 || o.cgroup != NULL;
	o.progress = progress >= 0 ? progress : isatty(STDERR_FILENO);
	if (no_probe) {
		probeless = *o.sc;
		probeless.probe_request = NULL;
		o.sc = &probeless;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (soak_flood(&o, &t, &r, err, sizeof(err)) != 0) {
		fprintf(stderr, "holdfast-soak: %s\n", err);
		return EXIT_USAGE;
	}
	soak_fit_samples(&o, &r);
	probe_stats(&r);
	verdict(&o, &r);
	report_text(&o, &r, stdout);
	if (o.json != NULL && report_json(&o, &r, o.json) != 0)
		fprintf(stderr, "holdfast-soak: --json %s: %s\n", o.json, strerror(errno));
	if (o.svg != NULL && report_svg(&o, &r, o.svg) != 0)
		fprintf(stderr, "holdfast-soak: --svg %s: %s\n", o.svg, strerror(errno));
	free(r.samples);
	free(r.probes);
	return r.exit_code;
}
