/*
 * echo.c: "echo", an internal line service that exists to prove the
 * runtime before the real services do, and to let integration tests reach
 * every runtime limit.  Not enabled in the default configuration, and not
 * meant for users.
 *
 * Protocol: greeting "200 holdfast echo ready"; lines of at most
 * echo_line_max bytes (CRLF or LF); every command gets one reply line:
 *   PING               200 PONG
 *   ECHO text          200 text
 *   ALLOC n            n bytes in a request region, released after the
 *                      reply: 200 allocated n | 400 budget exceeded
 *   HOLD n             n bytes kept in the connection region until it
 *                      closes: 200 holding N | 400 budget exceeded
 *   HOG n              n bytes of plain heap, touched and never released,
 *                      to drive the worker past its OS memory cap (only
 *                      when allow_hog = yes): 200 hogged N
 *   STARTTLS           382 begin TLS (then TLS, as RFC 4642 does it)
 *   STATS              200 conn=BYTES worker=BYTES
 *   QUIT               205 bye
 * Errors: "500 line too long", "500 unknown command", "501 bad argument";
 * after echo_max_errors errors, "400 too many errors" and close.
 * Timeouts answer "400 timeout" before closing.
 *
 * "echo2" is the same code under a second section (see the end).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "line.h"
#include "log.h"
#include "loop.h"
#include "region.h"
#include "service.h"
#include "stats.h"
#include "echo.h"

struct echo_conf {
	uint64_t line_max;
	uint64_t max_errors;
	int allow_hog;
};

#define C(f) offsetof(struct echo_conf, f)
static const struct conf_key echo_keys[] = {
	{ "echo_line_max", CONF_SIZE, "512", C(line_max), 16, 65536 },
	{ "echo_max_errors", CONF_INT, "20", C(max_errors), 1, 1000000 },
	{ "allow_hog", CONF_BOOL, "no", C(allow_hog), 0, 0 },
	CONF_KEYS_END
};

struct echo {
	struct worker *w;
	struct server *server;
	size_t hogged;
	void *hog;              /* HOG blocks, chained through their first word */
};

struct echo_conn {
	struct line_reader lr;
	uint64_t errors;
	size_t held;
	int tls_pending;
};

static int
echo_on_open(struct conn *c)
{
	struct echo *e = conn_service(c);
	const struct echo_conf *cf = e->w->conf;
	struct echo_conn *ec = region_zalloc(conn_region(c), sizeof *ec);

	if (!ec || conn_printf(c, "200 holdfast echo ready\r\n") != 0) {
		/* No memory left for even a greeting: the worker budget is spent. */
		conn_reject(c, "budget");
		return -1;
	}
	line_init(&ec->lr, (size_t)cf->line_max);
	conn_set_data(c, ec);
	return 0;
}

static int
parse_size(const char *arg, size_t *out)
{
	char *end;
	unsigned long long v;

	if (*arg < '0' || *arg > '9')
		return -1;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v > (1ULL << 40))
		return -1;
	*out = (size_t)v;
	return 0;
}

/* One command; the request region holds its copy of the line and dies with it. */
static int
echo_command(struct conn *c, struct echo_conn *ec, struct region *req, const char *cmd, const char *arg)
{
	struct echo *e = conn_service(c);
	const struct echo_conf *cf = e->w->conf;
	size_t n;

	if (strcasecmp(cmd, "PING") == 0)
		return conn_printf(c, "200 PONG\r\n");
	if (strcasecmp(cmd, "ECHO") == 0)
		return conn_printf(c, "200 %s\r\n", arg);
	if (strcasecmp(cmd, "QUIT") == 0) {
		conn_printf(c, "205 bye\r\n");
		conn_close_after_flush(c);
		return 0;
	}
	if (strcasecmp(cmd, "STATS") == 0)
		return conn_printf(c, "200 conn=%zu worker=%zu\r\n", region_used(conn_region(c)),
		                   region_used(e->w->region));
	if (strcasecmp(cmd, "STARTTLS") == 0) {
		if (conn_is_tls(c) || e->w->tls == NULL)
			return conn_printf(c, "502 TLS not available\r\n");
		if (conn_printf(c, "382 begin TLS\r\n") != 0)
			return -1;
		return conn_starttls(c);
	}
	if (strcasecmp(cmd, "ALLOC") == 0 || strcasecmp(cmd, "HOLD") == 0 || strcasecmp(cmd, "HOG") == 0) {
		if (parse_size(arg, &n) != 0) {
			conn_reject(c, "bad_argument");
			ec->errors++;
			return conn_printf(c, "501 bad argument\r\n");
		}
		if (strcasecmp(cmd, "ALLOC") == 0) {
			if (region_alloc(req, n) == NULL) {
				conn_reject(c, "budget");
				return conn_printf(c, "400 budget exceeded\r\n");
			}
			return conn_printf(c, "200 allocated %zu\r\n", n);
		}
		if (strcasecmp(cmd, "HOLD") == 0) {
			if (region_alloc(conn_region(c), n) == NULL) {
				conn_reject(c, "budget");
				return conn_printf(c, "400 budget exceeded\r\n");
			}
			ec->held += n;
			return conn_printf(c, "200 holding %zu\r\n", ec->held);
		}
		if (!cf->allow_hog)
			return conn_printf(c, "502 HOG disabled\r\n");
		{
			/* Deliberately outside every region: this is what the OS cap is for. */
			void **p = malloc(n < sizeof *p ? sizeof *p : n);

			if (!p)
				log_fatal("HOG: out of memory after %zu bytes (the OS cap held)", e->hogged);
			/* Touched and kept reachable, so neither the kernel nor the
			 * compiler can skip it. */
			memset(p, 0xa5, n < sizeof *p ? sizeof *p : n);
			*p = e->hog;
			e->hog = p;
			e->hogged += n;
			return conn_printf(c, "200 hogged %zu\r\n", e->hogged);
		}
	}
	conn_reject(c, "unknown_command");
	ec->errors++;
	return conn_printf(c, "500 unknown command\r\n");
}

static int
echo_on_read(struct conn *c, struct buf *in)
{
	struct echo *e = conn_service(c);
	const struct echo_conf *cf = e->w->conf;
	struct echo_conn *ec = conn_data(c);
	struct line l;
	enum line_status st;

	/* Stop at the first sign of back-pressure: conn re-delivers the rest. */
	while (!conn_closing(c) && !conn_wqueue_over(c)) {
		struct region *req;
		char *copy, *sp;
		int rc;

		if ((st = line_next(&ec->lr, in, &l)) == LINE_MORE)
			break;
		conn_ready(c);
		if (st == LINE_TOO_LONG) {
			conn_reject(c, "line_too_long");
			ec->errors++;
			rc = conn_printf(c, "500 line too long\r\n");
		} else if (l.has_nul || l.has_cr) {
			conn_reject(c, l.has_nul ? "nul_byte" : "bare_cr");
			ec->errors++;
			rc = conn_printf(c, "501 bad argument\r\n");
		} else {
			if ((req = region_new(conn_region(c), "request", (size_t)cf->line_max * 2 + 4096)) == NULL) {
				conn_reject(c, "budget");
				conn_printf(c, "400 budget exceeded\r\n");
				conn_close_after_flush(c);
				return 0;
			}
			if ((copy = region_strndup(req, l.p, l.len)) == NULL) {
				region_release(req);
				return -1;
			}
			if ((sp = strchr(copy, ' ')) != NULL)
				*sp++ = '\0';
			rc = echo_command(c, ec, req, copy, sp ? sp : "");
			region_release(req);
		}
		if (rc != 0)
			return -1;
		if (ec->errors >= cf->max_errors) {
			conn_printf(c, "400 too many errors\r\n");
			conn_close_after_flush(c);
			return 0;
		}
	}
	return 0;
}

static void
echo_on_timeout(struct conn *c, enum conn_timeout which)
{
	conn_reject(c, which == CONN_TIMEOUT_HANDSHAKE ? "handshake_timeout" : "idle_timeout");
	conn_printf(c, "400 timeout\r\n");
}

/* holdfastctl echo ping|stats|fail: exercises the operator command path. */
static int
echo_control(struct worker *w, int argc, char *const argv[], char *out, size_t outlen)
{
	struct echo *e = w->data;

	if (strcmp(argv[0], "ping") == 0 && argc == 1) {
		snprintf(out, outlen, "pong\n");
		return 0;
	}
	if (strcmp(argv[0], "stats") == 0 && argc == 1) {
		snprintf(out, outlen, "connections %zu\nregion_bytes %zu\nhogged %zu\n", server_conn_count(e->server),
		         region_used(w->region), e->hogged);
		return 0;
	}
	if (strcmp(argv[0], "echo") == 0) {
		size_t off = 0;
		int i;

		for (i = 1; i < argc && off < outlen; i++)
			off += (size_t)snprintf(out + off, outlen - off, "%s%s", argv[i], i + 1 < argc ? " " : "\n");
		return 0;
	}
	snprintf(out, outlen, "usage: echo ping | stats | echo WORD...\n");
	return 1;
}

static const struct conn_ops echo_ops = {
	.on_open = echo_on_open,
	.on_read = echo_on_read,
	.on_timeout = echo_on_timeout,
};

static int
echo_start(struct worker *w)
{
	struct server_conf cf;
	struct echo *e;
	size_t i;

	if ((e = region_zalloc(w->region, sizeof *e)) == NULL)
		return -1;
	e->w = w;
	w->data = e;
	worker_server_conf(w, &cf);
	if ((e->server = server_new(w->loop, w->region, &cf, &echo_ops, e, w->stats)) == NULL)
		return -1;
	for (i = 0; i < w->nlisteners; i++)
		if (server_add_listener(e->server, w->listeners[i].fd, w->listeners[i].implicit_tls) != 0)
			return -1;
	return 0;
}

static void
echo_stop(struct worker *w)
{
	struct echo *e = w->data;

	server_shutdown(e->server);
}

static size_t
echo_busy(struct worker *w)
{
	struct echo *e = w->data;

	return server_conn_count(e->server);
}

const struct service echo_service = {
	.name = "echo",
	.keys = echo_keys,
	.conf_size = sizeof(struct echo_conf),
	.start = echo_start,
	.stop = echo_stop,
	.busy = echo_busy,
	.control = echo_control,
};

/* A second instance of the same code under its own section, so that the
 * supervisor's isolation of one worker from another can be tested before
 * a second real service exists. */
const struct service echo2_service = {
	.name = "echo2",
	.keys = echo_keys,
	.conf_size = sizeof(struct echo_conf),
	.start = echo_start,
	.stop = echo_stop,
	.busy = echo_busy,
	.control = echo_control,
};
