/*
 * test_conn.c: unit tests for src/core/conn.c.
 *
 * A real listening TCP socket on 127.0.0.1 (port 0), non-blocking client
 * sockets in the test itself, and a small line service ("tsvc") driven by
 * loop_run_once.  Waits are bounded by a round count; no assertion is
 * about how long something took, only about what happened and in which
 * order.  Timeouts use small real timers (tens of ms).
 *
 * Covers: echo of pipelined lines, graceful close (all output before EOF),
 * the write budget (ENOBUFS) and back-pressure (reading paused over half,
 * buffered input re-delivered after the drain), per-address, global and fd
 * reserve limits, handshake and idle timeouts, the connection budget
 * (one connection's exhaustion does not touch another), the worker
 * region's return to its baseline, EOF with unconsumed input, on_read
 * failing, server_shutdown, and TLS: STARTTLS (with pipelined plaintext
 * discarded), implicit TLS and a failed handshake.  The TLS tests make a
 * certificate with scripts/gen-cert.sh and are skipped if that fails.
 * COMPRESS, with a zlib client here: a round trip (and what the zlib
 * state costs the connection region), big output under back-pressure and
 * a graceful close, pipelined input dropped, a region too small for zlib,
 * corrupt input, and a decompression bomb (100 MiB from about 100 KiB)
 * that never grows c->in past read_max.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include <cmocka.h>

#include "buf.h"
#include "compress.h"
#include "conn.h"
#include "hf_limits.h"
#include "line.h"
#include "loop.h"
#include "region.h"
#include "stats.h"
#include "tls.h"

/* Bounded progress: at most this many rounds of at most WAIT_MS each. */
#define ROUNDS_MAX 1000
#define WAIT_MS 20
#define CLIENTS_MAX 8

/* ---- the test service ---- */

struct tsvc {
	struct region *worker;
	struct loop *l;
	struct server *s;
	struct stats_page *sp;
	struct tls_ctx *tls;
	int lfd, lfd_tls;
	uint16_t port, port_tls;
	size_t baseline;
	/* What the service saw. */
	int opens, closes, eofs, timeouts, lines;
	enum conn_timeout last_timeout;
	struct conn *last;
	/* Knobs. */
	int sndbuf;        /* > 0: SO_SNDBUF of accepted sockets */
	int greet;         /* on_open writes "HI\n" */
	/* FLOOD results. */
	int flood_errno;
	size_t flood_len;
};

struct tconn {
	struct line_reader lr;
};

static struct tsvc *T;  /* for the callbacks */

static int
tsvc_on_open(struct conn *c)
{
	struct tsvc *t = conn_service(c);
	struct tconn *tc = region_zalloc(conn_region(c), sizeof *tc);

	assert_ptr_equal(t, T);
	if (tc == NULL)
		return -1;
	line_init(&tc->lr, 512);
	conn_set_data(c, tc);
	t->opens++;
	t->last = c;
	if (t->sndbuf > 0)
		setsockopt(conn_fd(c), SOL_SOCKET, SO_SNDBUF, &t->sndbuf, sizeof t->sndbuf);
	if (t->greet)
		return conn_printf(c, "HI\n");
	return 0;
}

/* n bytes of a pattern that shows where a byte came from. */
static int
tsvc_write_pattern(struct conn *c, size_t n)
{
	uint8_t chunk[4096];
	size_t off = 0, i;

	while (off < n) {
		size_t k = n - off < sizeof chunk ? n - off : sizeof chunk;

		for (i = 0; i < k; i++)
			chunk[i] = (uint8_t)((off + i) % 251);
		if (conn_write(c, chunk, k) < 0)
			return -1;
		off += k;
	}
	return 0;
}

/* Pseudo-random bytes that do not compress (xorshift32, fixed seed). */
static uint8_t
noise_next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return (uint8_t)(*x >> 11);
}

static int
tsvc_write_noise(struct conn *c, size_t n)
{
	uint8_t chunk[4096];
	uint32_t x = 2463534242u;
	size_t off = 0, i;

	while (off < n) {
		size_t k = n - off < sizeof chunk ? n - off : sizeof chunk;

		for (i = 0; i < k; i++)
			chunk[i] = noise_next(&x);
		if (conn_write(c, chunk, k) < 0)
			return -1;
		off += k;
	}
	return 0;
}

static int
tsvc_command(struct conn *c, const char *cmd, size_t len)
{
	struct tsvc *t = conn_service(c);
	char line[600];
	unsigned long n = 0;

	memcpy(line, cmd, len);
	line[len] = '\0';
	t->lines++;
	if (strcmp(line, "READY") == 0) {
		conn_ready(c);
		return conn_printf(c, "OK\n");
	}
	if (strcmp(line, "PING") == 0)
		return conn_printf(c, "PONG\n");
	if (strcmp(line, "QUIT") == 0) {
		conn_printf(c, "BYE\n");
		conn_close_after_flush(c);
		return 0;
	}
	if (strcmp(line, "FAIL") == 0)
		return -1;
	if (strcmp(line, "FLOOD") == 0) {
		char chunk[1024];

		memset(chunk, 'f', sizeof chunk);
		t->flood_len = 0;
		for (;;) {
			if (conn_write(c, chunk, sizeof chunk) < 0) {
				t->flood_errno = errno;
				break;
			}
			t->flood_len += sizeof chunk;
			assert_true(t->flood_len < 64 * 1024 * 1024);
		}
		return 0;
	}
	if (strcmp(line, "STARTTLS") == 0) {
		if (conn_printf(c, "GO\n") < 0)
			return -1;
		return conn_starttls(c);
	}
	if (strcmp(line, "COMPRESS") == 0) {
		/* As NNTP does it: refuse before promising, then switch. */
		if (conn_is_compressed(c))
			return conn_printf(c, "ALREADY\n");
		if (conn_compress_prepare(c) < 0)
			return conn_printf(c, "NOZ\n");
		if (conn_printf(c, "ZGO\n") < 0)
			return -1;
		return conn_compress(c);
	}
	if (strcmp(line, "TLS?") == 0)
		return conn_printf(c, "%s\n", conn_is_tls(c) ? "YES" : "NO");
	if (sscanf(line, "NOISE %lu", &n) == 1)
		return tsvc_write_noise(c, n);
	if (sscanf(line, "BIG %lu", &n) == 1)
		return tsvc_write_pattern(c, n);
	if (sscanf(line, "FILLTO %lu", &n) == 1) {
		/* Pads the queue to exactly n bytes (it must not be empty:
		 * then conn_write only appends). */
		assert_true(conn_wqueue_len(c) > 0 && conn_wqueue_len(c) <= n);
		return tsvc_write_pattern(c, n - conn_wqueue_len(c));
	}
	if (sscanf(line, "DUMP %lu", &n) == 1) {
		if (tsvc_write_pattern(c, n) < 0)
			return -1;
		conn_close_after_flush(c);
		return 0;
	}
	if (sscanf(line, "HOLD %lu", &n) == 1)
		return conn_printf(c, "%s\n", region_alloc(conn_region(c), n) ? "HELD" : "NOMEM");
	/* Anything else comes back as it was. */
	if (conn_write(c, line, len) < 0)
		return -1;
	return conn_write(c, "\n", 1);
}

static int
tsvc_on_read(struct conn *c, struct buf *in)
{
	struct tconn *tc = conn_data(c);
	struct line l;
	enum line_status st;

	/* As a real service does: stop at back-pressure, conn re-delivers. */
	while (!conn_closing(c) && !conn_wqueue_over(c)) {
		if ((st = line_next(&tc->lr, in, &l)) == LINE_MORE)
			break;
		if (st == LINE_TOO_LONG) {
			if (conn_printf(c, "TOO LONG\n") < 0)
				return -1;
			continue;
		}
		if (tsvc_command(c, l.p, l.len) < 0)
			return -1;
	}
	return 0;
}

static void
tsvc_on_timeout(struct conn *c, enum conn_timeout which)
{
	struct tsvc *t = conn_service(c);

	t->timeouts++;
	t->last_timeout = which;
	conn_printf(c, "TIMEOUT\n");
}

static void
tsvc_on_eof(struct conn *c)
{
	struct tsvc *t = conn_service(c);

	t->eofs++;
}

static void
tsvc_on_close(struct conn *c)
{
	struct tsvc *t = conn_service(c);

	t->closes++;
	if (t->last == c)
		t->last = NULL;
}

static const struct conn_ops tsvc_ops = {
	.on_open = tsvc_on_open,
	.on_read = tsvc_on_read,
	.on_timeout = tsvc_on_timeout,
	.on_eof = tsvc_on_eof,
	.on_close = tsvc_on_close,
};

/* ---- fixture ---- */

static int
listen_local(uint16_t *port)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int
setup(void **state)
{
	struct tsvc *t = calloc(1, sizeof *t);

	assert_non_null(t);
	t->worker = region_new(NULL, "worker", 64 * 1024 * 1024);
	assert_non_null(t->worker);
	t->l = loop_new(t->worker);
	assert_non_null(t->l);
	t->sp = stats_page_new();
	assert_non_null(t->sp);
	t->lfd = listen_local(&t->port);
	t->lfd_tls = -1;
	T = t;
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tsvc *t = *state;

	/* Releases the connections, the server (closing the listeners it
	 * took) and the loop. */
	if (t->s == NULL && t->lfd >= 0)
		close(t->lfd);
	region_release(t->worker);
	if (t->tls)
		tls_ctx_free(t->tls);
	stats_page_free(t->sp);
	free(t);
	T = NULL;
	return 0;
}

static void
conf_small(struct server_conf *cf)
{
	server_conf_defaults(cf);
	cf->conn_budget_bytes = 1024 * 1024;
	cf->read_max_bytes = 4096;
	cf->wqueue_max_bytes = 256 * 1024;
	cf->max_connections = 16;
	cf->max_per_addr = 16;
}

static void
tsvc_start(struct tsvc *t, const struct server_conf *cf)
{
	t->s = server_new(t->l, t->worker, cf, &tsvc_ops, t, t->sp);
	assert_non_null(t->s);
	assert_int_equal(server_add_listener(t->s, t->lfd, 0), 0);
	if (t->lfd_tls >= 0)
		assert_int_equal(server_add_listener(t->s, t->lfd_tls, 1), 0);
	t->baseline = region_used(t->worker);
}

static void
round1(struct tsvc *t)
{
	assert_int_equal(loop_run_once(t->l, WAIT_MS), 0);
}

/* ---- client side ---- */

struct client {
	int fd;
	char *got;
	size_t len, cap;
	int eof;        /* read returned 0 */
	int err;        /* read failed (ECONNRESET ...) */
};

static void
client_open(struct tsvc *t, struct client *cl, uint16_t port, int rcvbuf)
{
	struct sockaddr_in a;
	int rc;

	memset(cl, 0, sizeof *cl);
	cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(cl->fd >= 0);
	if (rcvbuf > 0)
		setsockopt(cl->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	rc = connect(cl->fd, (struct sockaddr *)&a, sizeof a);
	assert_true(rc == 0 || errno == EINPROGRESS);
}

static void
client_close(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
	free(cl->got);
	cl->got = NULL;
	cl->len = cl->cap = 0;
}

/* Reads what is there; never blocks. */
static void
client_poll(struct client *cl)
{
	for (;;) {
		ssize_t n;

		if (cl->fd < 0 || cl->eof || cl->err)
			return;
		if (cl->cap - cl->len < 65536) {
			cl->cap = cl->cap ? cl->cap * 2 : 131072;
			cl->got = realloc(cl->got, cl->cap + 1);
			assert_non_null(cl->got);
		}
		n = read(cl->fd, cl->got + cl->len, cl->cap - cl->len);
		if (n > 0) {
			cl->len += (size_t)n;
			cl->got[cl->len] = '\0';
			continue;
		}
		if (n == 0)
			cl->eof = 1;
		else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			cl->err = errno;
		return;
	}
}

static void
client_send(struct client *cl, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(write(cl->fd, s, n), (ssize_t)n);
}

static int
client_has(const struct client *cl, const char *s)
{
	return cl->got != NULL && strstr(cl->got, s) != NULL;
}

/* Runs rounds, reading on the client side, until cond holds. */
#define PUMP_UNTIL(t, cond, ...)                                         \
	do {                                                             \
		int pump_i_;                                             \
		for (pump_i_ = 0; pump_i_ < ROUNDS_MAX && !(cond); pump_i_++) { \
			round1(t);                                       \
			__VA_ARGS__;                                     \
		}                                                        \
		assert_true(cond);                                       \
	} while (0)

/* Lets the loop run a fixed number of rounds (for "nothing happens"). */
#define PUMP_ROUNDS(t, n, ...)                                           \
	do {                                                             \
		int pump_i_;                                             \
		for (pump_i_ = 0; pump_i_ < (n); pump_i_++) {            \
			round1(t);                                       \
			__VA_ARGS__;                                     \
		}                                                        \
	} while (0)

/* ---- tests ---- */

static void
test_echo_and_quit(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;
	size_t idle;

	conf_small(&cf);
	t->greet = 1;
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port, 0);
	PUMP_UNTIL(t, client_has(&cl, "HI\n"), client_poll(&cl));
	assert_int_equal(t->opens, 1);
	assert_int_equal(server_conn_count(t->s), 1);
	assert_int_equal(t->sp->connections, 1);
	assert_int_equal(t->sp->connections_total, 1);
	assert_true(t->sp->region_bytes > t->baseline);
	assert_int_equal(t->sp->budget_bytes, 64 * 1024 * 1024);
	assert_memory_equal(conn_peer_name(t->last), "127.0.0.1:", 10);
	assert_int_equal(conn_peer_addr(t->last)->ss_family, AF_INET);
	idle = region_used(conn_region(t->last));

	/* Pipelined, split across writes, CRLF and LF. */
	client_send(&cl, "hello\r\nwor");
	PUMP_UNTIL(t, client_has(&cl, "hello\n"), client_poll(&cl));
	client_send(&cl, "ld\nPING\nagain\n");
	PUMP_UNTIL(t, client_has(&cl, "again\n"), client_poll(&cl));
	assert_string_equal(cl.got, "HI\nhello\nworld\nPONG\nagain\n");
	/* All consumed and sent: no read or write buffer is kept. */
	assert_int_equal(region_used(conn_region(t->last)), idle);

	/* QUIT, with input pipelined behind it: the reply, then a clean EOF
	 * (no RST: the server drained what we sent before closing). */
	client_send(&cl, "QUIT\nignored\n");
	PUMP_UNTIL(t, cl.eof || cl.err, client_poll(&cl));
	assert_int_equal(cl.err, 0);
	assert_string_equal(cl.got, "HI\nhello\nworld\nPONG\nagain\nBYE\n");
	/* Nothing more was waiting: the server does not wait for our FIN.
	 * It closed in the very round it shut down its side, so by the time
	 * we see EOF it is gone (no linger timer involved). */
	assert_int_equal(server_conn_count(t->s), 0);
	assert_int_equal(t->closes, 1);
	client_close(&cl);
	assert_int_equal(t->sp->connections, 0);
	assert_int_equal(t->sp->connections_total, 1);
	assert_int_equal(region_used(t->worker), t->baseline);
	assert_int_equal(t->sp->region_bytes, t->baseline);
}

static void
test_graceful_close_flushes(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;
	size_t i, n = 600 * 1000;

	conf_small(&cf);
	cf.wqueue_max_bytes = 1024 * 1024;
	cf.conn_budget_bytes = 4 * 1024 * 1024;
	/* Small socket buffers, so most of the dump waits in our queue. */
	t->sndbuf = 4096;
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port, 4096);
	PUMP_UNTIL(t, t->opens == 1);
	client_send(&cl, "DUMP 600000\n");
	/* Do not read for a while: the output queues up on our side. */
	PUMP_ROUNDS(t, 5);
	assert_true(conn_wqueue_len(t->last) > 0);
	assert_int_equal(server_conn_count(t->s), 1);
	PUMP_UNTIL(t, cl.eof || cl.err, client_poll(&cl));
	/* Every byte, in order, before the EOF; no reset. */
	assert_int_equal(cl.err, 0);
	assert_int_equal(cl.len, n);
	for (i = 0; i < n; i++)
		if ((uint8_t)cl.got[i] != (uint8_t)(i % 251))
			fail_msg("byte %zu is %u", i, (unsigned)(uint8_t)cl.got[i]);
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_write_budget_and_backpressure(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;
	int lines;
	size_t idle;

	conf_small(&cf);
	cf.wqueue_max_bytes = 64 * 1024;
	t->sndbuf = 4096;
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port, 4096);
	PUMP_UNTIL(t, t->opens == 1);
	idle = region_used(conn_region(t->last));

	/* The service writes until the budget says no. */
	client_send(&cl, "FLOOD\n");
	PUMP_UNTIL(t, t->flood_errno != 0);
	assert_int_equal(t->flood_errno, ENOBUFS);
	assert_true(conn_wqueue_len(t->last) > cf.wqueue_max_bytes / 2);
	assert_true(conn_wqueue_len(t->last) <= cf.wqueue_max_bytes);
	assert_true(conn_wqueue_room(t->last) < 1024);
	/* Over half: more input is not read while the peer does not read. */
	lines = t->lines;
	client_send(&cl, "PING\n");
	PUMP_ROUNDS(t, 10);
	assert_int_equal(t->lines, lines);
	assert_int_equal(server_conn_count(t->s), 1);
	/* The peer reads: the queue drains, reading resumes, PING answered. */
	PUMP_UNTIL(t, client_has(&cl, "PONG\n"), client_poll(&cl));
	assert_int_equal(t->lines, lines + 1);
	assert_int_equal(cl.len, t->flood_len + 5);
	assert_int_equal(conn_wqueue_len(t->last), 0);
	assert_int_equal(region_used(conn_region(t->last)), idle);
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_backpressure_redelivers_buffered_input(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;
	const char *tail = "PONG\nPONG\nmore\n";

	conf_small(&cf);
	cf.wqueue_max_bytes = 64 * 1024;
	t->sndbuf = 4096;
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port, 4096);
	PUMP_UNTIL(t, t->opens == 1);
	/* One write: the PINGs arrive in the same read as BIG, so they sit
	 * in c->in while the service waits for the queue to drain. */
	client_send(&cl, "BIG 50000\nPING\nPING\nmore\n");
	PUMP_UNTIL(t, t->lines >= 1);
	PUMP_ROUNDS(t, 5);
	assert_int_equal(t->lines, 1);
	assert_true(conn_wqueue_len(t->last) > cf.wqueue_max_bytes / 2);
	/* Nothing new comes from the peer: only a re-delivery can finish. */
	PUMP_UNTIL(t, cl.len >= 50000 + strlen(tail), client_poll(&cl));
	assert_int_equal(t->lines, 4);
	assert_int_equal(cl.len, 50000 + strlen(tail));
	assert_memory_equal(cl.got + 50000, tail, strlen(tail));
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
}

/* The boundary: a service stops consuming at exactly half the write
 * budget (conn_wqueue_over); conn must have paused reading there too, or
 * the input left in c->in is never re-delivered and the peer waits for
 * ever (seen once in CI, in the tunnel's back-pressure test). */
static void
test_backpressure_at_exactly_half(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;
	const char *tail = "PONG\nPONG\n";
	size_t half = 32 * 1024;

	conf_small(&cf);
	cf.wqueue_max_bytes = 2 * half;
	t->sndbuf = 4096;
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port, 4096);
	PUMP_UNTIL(t, t->opens == 1);
	client_send(&cl, "BIG 30000\nFILLTO 32768\nPING\nPING\n");
	PUMP_UNTIL(t, t->lines >= 2);
	PUMP_ROUNDS(t, 5);
	assert_int_equal(t->lines, 2);                    /* stopped at FILLTO */
	assert_true(conn_wqueue_over(t->last));
	assert_true(conn_wqueue_len(t->last) <= half);
	/* The client reads: the queue drains; nothing new comes from the
	 * client, so only a re-delivery can answer the PINGs. */
	PUMP_UNTIL(t, t->lines == 4 && cl.len >= half + strlen(tail) &&
	                  memcmp(cl.got + cl.len - strlen(tail), tail, strlen(tail)) == 0,
	           client_poll(&cl));
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
}

static void
test_per_address_limit(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl[3], again;
	int i;

	conf_small(&cf);
	cf.max_per_addr = 2;
	tsvc_start(t, &cf);
	for (i = 0; i < 3; i++) {
		client_open(t, &cl[i], t->port, 0);
		PUMP_UNTIL(t, t->opens + (int)t->sp->refused[REFUSE_ADDR_LIMIT] == i + 1);
	}
	assert_int_equal(t->opens, 2);
	assert_int_equal(server_conn_count(t->s), 2);
	assert_int_equal(t->sp->refused[REFUSE_ADDR_LIMIT], 1);
	assert_int_equal(t->sp->refused[REFUSE_GLOBAL_LIMIT], 0);
	/* The third was closed at once. */
	PUMP_UNTIL(t, cl[2].eof || cl[2].err, client_poll(&cl[2]));
	/* The others still work. */
	client_send(&cl[0], "PING\n");
	PUMP_UNTIL(t, client_has(&cl[0], "PONG\n"), client_poll(&cl[0]));
	/* One leaves: its slot is free again. */
	client_close(&cl[1]);
	PUMP_UNTIL(t, server_conn_count(t->s) == 1);
	client_open(t, &again, t->port, 0);
	PUMP_UNTIL(t, t->opens == 3);
	assert_int_equal(t->sp->refused[REFUSE_ADDR_LIMIT], 1);
	assert_int_equal(server_conn_count(t->s), 2);
	client_close(&cl[0]);
	client_close(&cl[2]);
	client_close(&again);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_global_limit(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl[4];
	int i;

	conf_small(&cf);
	cf.max_connections = 2;
	tsvc_start(t, &cf);
	for (i = 0; i < 4; i++) {
		client_open(t, &cl[i], t->port, 0);
		PUMP_UNTIL(t, t->opens + (int)t->sp->refused[REFUSE_GLOBAL_LIMIT] == i + 1);
	}
	assert_int_equal(t->opens, 2);
	assert_int_equal(server_conn_count(t->s), 2);
	assert_int_equal(t->sp->refused[REFUSE_GLOBAL_LIMIT], 2);
	assert_int_equal(t->sp->refused[REFUSE_ADDR_LIMIT], 0);
	assert_int_equal(t->sp->connections, 2);
	for (i = 2; i < 4; i++)
		PUMP_UNTIL(t, cl[i].eof || cl[i].err, client_poll(&cl[i]));
	for (i = 0; i < 4; i++)
		client_close(&cl[i]);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
}

static void
test_fd_reserve(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct rlimit saved, low;
	struct client cl;
	int next;

	/* The client socket takes the lowest free fd, the accepted one the
	 * next: a limit that leaves no reserve above it refuses. */
	next = dup(0);
	assert_true(next >= 0);
	close(next);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)next + 1 + CONN_FD_RESERVE;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	conf_small(&cf);
	tsvc_start(t, &cf);  /* reads the limit */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	client_open(t, &cl, t->port, 0);
	PUMP_UNTIL(t, t->sp->refused[REFUSE_FDS] == 1);
	assert_int_equal(t->opens, 0);
	assert_int_equal(server_conn_count(t->s), 0);
	PUMP_UNTIL(t, cl.eof || cl.err, client_poll(&cl));
	client_close(&cl);
}

static void
test_handshake_timeout(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;

	conf_small(&cf);
	cf.handshake_ms = 50;
	cf.idle_ms = 60 * 1000;
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port, 0);
	PUMP_UNTIL(t, t->opens == 1);
	/* Silence: the handshake timer fires, the service says its last
	 * word, and the connection closes after flushing it. */
	PUMP_UNTIL(t, cl.eof || cl.err, client_poll(&cl));
	assert_int_equal(t->timeouts, 1);
	assert_int_equal(t->last_timeout, CONN_TIMEOUT_HANDSHAKE);
	assert_int_equal(cl.err, 0);
	assert_string_equal(cl.got, "TIMEOUT\n");
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(t->closes, 1);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_idle_timeout(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;

	conf_small(&cf);
	cf.handshake_ms = 60 * 1000;
	cf.idle_ms = 50;
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port, 0);
	PUMP_UNTIL(t, t->opens == 1);
	/* Before conn_ready the (long) handshake timer runs, not idle. */
	PUMP_ROUNDS(t, 5, client_poll(&cl));
	client_send(&cl, "READY\n");
	PUMP_UNTIL(t, client_has(&cl, "OK\n"), client_poll(&cl));
	assert_int_equal(t->timeouts, 0);
	PUMP_UNTIL(t, cl.eof || cl.err, client_poll(&cl));
	assert_int_equal(t->timeouts, 1);
	assert_int_equal(t->last_timeout, CONN_TIMEOUT_IDLE);
	assert_string_equal(cl.got, "OK\nTIMEOUT\n");
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
}

static void
test_conn_budget_isolated(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client a, b;
	size_t used_a;

	conf_small(&cf);
	cf.conn_budget_bytes = 16 * 1024;
	tsvc_start(t, &cf);
	client_open(t, &a, t->port, 0);
	PUMP_UNTIL(t, t->opens == 1);
	client_open(t, &b, t->port, 0);
	PUMP_UNTIL(t, t->opens == 2);
	/* Past the budget: refused, and the connection carries on. */
	client_send(&a, "HOLD 20000\n");
	PUMP_UNTIL(t, client_has(&a, "NOMEM\n"), client_poll(&a));
	client_send(&a, "HOLD 9000\nHOLD 9000\n");
	PUMP_UNTIL(t, client_has(&a, "HELD\nNOMEM\n"), client_poll(&a));
	/* The other connection has its whole budget. */
	client_send(&b, "HOLD 12000\n");
	PUMP_UNTIL(t, client_has(&b, "HELD\n"), client_poll(&b));
	assert_false(client_has(&b, "NOMEM"));
	client_send(&a, "PING\n");
	PUMP_UNTIL(t, client_has(&a, "PONG\n"), client_poll(&a));
	used_a = region_used(t->worker);
	assert_true(used_a > t->baseline + 9000 + 12000);
	client_close(&a);
	client_close(&b);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_worker_baseline(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl[CLIENTS_MAX];
	char line[64];
	int i;

	conf_small(&cf);
	t->greet = 1;
	tsvc_start(t, &cf);
	for (i = 0; i < CLIENTS_MAX; i++)
		client_open(t, &cl[i], t->port, 0);
	PUMP_UNTIL(t, t->opens == CLIENTS_MAX);
	assert_true(region_used(t->worker) > t->baseline);
	/* Some traffic on each, some partial lines left unconsumed. */
	for (i = 0; i < CLIENTS_MAX; i++) {
		snprintf(line, sizeof line, "line %d\nREADY\nHOLD 100\npartial", i);
		client_send(&cl[i], line);
	}
	for (i = 0; i < CLIENTS_MAX; i++)
		PUMP_UNTIL(t, client_has(&cl[i], "HELD\n"), client_poll(&cl[i]));
	/* Half close from the client side, half from the server side. */
	for (i = 0; i < CLIENTS_MAX; i++) {
		if (i % 2)
			client_close(&cl[i]);
		else
			client_send(&cl[i], "\nQUIT\n");
	}
	for (i = 0; i < CLIENTS_MAX; i += 2) {
		PUMP_UNTIL(t, cl[i].eof || cl[i].err, client_poll(&cl[i]));
		client_close(&cl[i]);
	}
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(t->closes, CLIENTS_MAX);
	assert_int_equal(t->eofs, CLIENTS_MAX / 2);  /* "partial" unconsumed at EOF */
	assert_int_equal(region_used(t->worker), t->baseline);
	assert_int_equal(t->sp->connections, 0);
	assert_int_equal(t->sp->connections_total, CLIENTS_MAX);
}

static void
test_read_error_closes(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;

	conf_small(&cf);
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port, 0);
	PUMP_UNTIL(t, t->opens == 1);
	/* on_read returning -1: a hard close, nothing after FAIL runs. */
	client_send(&cl, "PING\nFAIL\nPING\n");
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(t->closes, 1);
	assert_int_equal(t->lines, 2);
	PUMP_UNTIL(t, cl.eof || cl.err, client_poll(&cl));
	client_close(&cl);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_line_overflow_bounded(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;
	char *big = malloc(20001);
	int i;

	assert_non_null(big);
	conf_small(&cf);
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port, 0);
	PUMP_UNTIL(t, t->opens == 1);
	/* 20000 bytes without LF against a 4096-byte read_max and 512-byte
	 * lines: the buffer never passes read_max, the service stays in step. */
	memset(big, 'a', 20000);
	big[20000] = '\0';
	for (i = 0; i < 20000; i += 5000) {
		char save = big[i + 5000 < 20000 ? i + 5000 : 20000];

		big[i + 5000 < 20000 ? i + 5000 : 20000] = '\0';
		client_send(&cl, big + i);
		big[i + 5000 < 20000 ? i + 5000 : 20000] = save;
		PUMP_ROUNDS(t, 2, client_poll(&cl));
	}
	client_send(&cl, "\nPING\n");
	PUMP_UNTIL(t, client_has(&cl, "PONG\n"), client_poll(&cl));
	assert_true(client_has(&cl, "TOO LONG\n"));
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	free(big);
}

static void
test_server_shutdown(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client a, b, late;
	int i;

	conf_small(&cf);
	t->greet = 1;
	tsvc_start(t, &cf);
	client_open(t, &a, t->port, 0);
	client_open(t, &b, t->port, 0);
	PUMP_UNTIL(t, t->opens == 2);
	client_send(&a, "BIG 1000\n");
	PUMP_UNTIL(t, t->lines == 1);
	server_shutdown(t->s);
	/* Both see their output, then EOF. */
	PUMP_UNTIL(t, (a.eof || a.err) && (b.eof || b.err), client_poll(&a); client_poll(&b));
	assert_int_equal(a.err, 0);
	assert_int_equal(a.len, 3 + 1000);
	assert_string_equal(b.got, "HI\n");
	client_close(&a);
	client_close(&b);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	/* The listener is closed: nobody new gets in. */
	client_open(t, &late, t->port, 0);
	for (i = 0; i < 5; i++)
		round1(t);
	client_poll(&late);
	assert_int_equal(t->opens, 2);
	assert_true(late.err != 0 || late.eof);
	client_close(&late);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_pause_accept(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;

	conf_small(&cf);
	tsvc_start(t, &cf);
	server_pause_accept(t->s);
	client_open(t, &cl, t->port, 0);
	PUMP_ROUNDS(t, 5);
	assert_int_equal(t->opens, 0);
	server_resume_accept(t->s);
	PUMP_UNTIL(t, t->opens == 1);
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
}

/* ---- TLS ---- */

static char cert_dir[64];

static int
tls_prepare(struct tsvc *t)
{
	char cmd[256], cert[128], key[128], err[256];

	if (access("scripts/gen-cert.sh", R_OK) != 0)
		return -1;
	if (cert_dir[0] == '\0') {
		snprintf(cert_dir, sizeof cert_dir, "/tmp/hf-test-conn-XXXXXX");
		if (mkdtemp(cert_dir) == NULL)
			return -1;
	}
	snprintf(cmd, sizeof cmd, "sh scripts/gen-cert.sh %s >/dev/null 2>&1", cert_dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(cert, sizeof cert, "%s/cert.pem", cert_dir);
	snprintf(key, sizeof key, "%s/key.pem", cert_dir);
	t->tls = tls_ctx_new(cert, key, err, sizeof err);
	if (t->tls == NULL) {
		fprintf(stderr, "tls_ctx_new: %s\n", err);
		return -1;
	}
	return 0;
}

struct tls_client {
	SSL_CTX *ctx;
	SSL *ssl;
	char got[4096];
	size_t len;
	int eof;
};

static void
tls_client_start(struct tls_client *tc, int fd)
{
	memset(tc, 0, sizeof *tc);
	tc->ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(tc->ctx);
	SSL_CTX_set_verify(tc->ctx, SSL_VERIFY_NONE, NULL);
	tc->ssl = SSL_new(tc->ctx);
	assert_non_null(tc->ssl);
	assert_int_equal(SSL_set_fd(tc->ssl, fd), 1);
	SSL_set_connect_state(tc->ssl);
}

static void
tls_client_free(struct tls_client *tc)
{
	SSL_free(tc->ssl);
	SSL_CTX_free(tc->ctx);
}

/* One non-blocking step of the client handshake: 1 done, 0 again, -1 failed. */
static int
tls_client_step(struct tls_client *tc)
{
	int rc = SSL_do_handshake(tc->ssl), e;

	if (rc == 1)
		return 1;
	e = SSL_get_error(tc->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	ERR_clear_error();
	return -1;
}

static void
tls_client_poll(struct tls_client *tc)
{
	for (;;) {
		int n = SSL_read(tc->ssl, tc->got + tc->len, (int)(sizeof tc->got - 1 - tc->len)), e;

		if (n > 0) {
			tc->len += (size_t)n;
			tc->got[tc->len] = '\0';
			continue;
		}
		e = SSL_get_error(tc->ssl, n);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			tc->eof = 1;
		ERR_clear_error();
		return;
	}
}

static void
tls_client_send(struct tsvc *t, struct tls_client *tc, const char *s)
{
	int n = (int)strlen(s), i;

	for (i = 0; i < ROUNDS_MAX; i++) {
		int w = SSL_write(tc->ssl, s, n);

		if (w == n)
			return;
		assert_true(SSL_get_error(tc->ssl, w) == SSL_ERROR_WANT_WRITE ||
		            SSL_get_error(tc->ssl, w) == SSL_ERROR_WANT_READ);
		round1(t);
	}
	fail_msg("SSL_write did not complete");
}

static uint64_t
rejected(const struct stats_page *sp, const char *name)
{
	size_t i;

	for (i = 0; i < STATS_REASONS_MAX; i++)
		if (strcmp(sp->rejected[i].name, name) == 0)
			return sp->rejected[i].count;
	return 0;
}

static void
test_starttls(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;
	struct tls_client tc;
	int done = 0;

	if (tls_prepare(t) != 0)
		skip();
	conf_small(&cf);
	cf.tls = t->tls;
	t->greet = 1;
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port, 0);
	PUMP_UNTIL(t, client_has(&cl, "HI\n"), client_poll(&cl));
	client_send(&cl, "TLS?\n");
	PUMP_UNTIL(t, client_has(&cl, "NO\n"), client_poll(&cl));
	/* A command pipelined after STARTTLS in clear must be dropped, not
	 * run as if it had come over TLS (CVE-2011-0411). */
	client_send(&cl, "STARTTLS\nINJECTED\n");
	PUMP_UNTIL(t, client_has(&cl, "GO\n"), client_poll(&cl));
	assert_string_equal(cl.got, "HI\nNO\nGO\n");
	assert_int_equal(rejected(t->sp, "starttls_pipelined"), 1);
	tls_client_start(&tc, cl.fd);
	PUMP_UNTIL(t, done != 0, done = tls_client_step(&tc));
	assert_int_equal(done, 1);
	tls_client_send(t, &tc, "TLS?\nsecret\n");
	PUMP_UNTIL(t, strstr(tc.got, "secret\n") != NULL, tls_client_poll(&tc));
	assert_string_equal(tc.got, "YES\nsecret\n");
	assert_false(strstr(tc.got, "INJECTED"));
	/* STARTTLS twice: the second is refused (the service closes on -1). */
	assert_int_equal(conn_starttls(t->last), -1);
	assert_true(conn_is_tls(t->last));
	/* QUIT: reply, close_notify, EOF. */
	tls_client_send(t, &tc, "QUIT\n");
	PUMP_UNTIL(t, tc.eof, tls_client_poll(&tc));
	assert_string_equal(tc.got, "YES\nsecret\nBYE\n");
	tls_client_free(&tc);
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	/* TLS? STARTTLS, then over TLS: TLS? secret QUIT; INJECTED never. */
	assert_int_equal(t->lines, 5);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_implicit_tls(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl, bad;
	struct tls_client tc;
	int done = 0;

	if (tls_prepare(t) != 0)
		skip();
	conf_small(&cf);
	cf.tls = t->tls;
	t->greet = 1;
	t->lfd_tls = listen_local(&t->port_tls);
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port_tls, 0);
	PUMP_UNTIL(t, server_conn_count(t->s) == 1);
	/* on_open waits for the handshake. */
	PUMP_ROUNDS(t, 3);
	assert_int_equal(t->opens, 0);
	tls_client_start(&tc, cl.fd);
	PUMP_UNTIL(t, done != 0, done = tls_client_step(&tc));
	assert_int_equal(done, 1);
	PUMP_UNTIL(t, strstr(tc.got, "HI\n") != NULL, tls_client_poll(&tc));
	assert_int_equal(t->opens, 1);
	tls_client_send(t, &tc, "TLS?\n");
	PUMP_UNTIL(t, strstr(tc.got, "YES\n") != NULL, tls_client_poll(&tc));

	/* Garbage instead of a ClientHello: handshake failure, counted, closed,
	 * and on_open/on_close never run for it. */
	client_open(t, &bad, t->port_tls, 0);
	PUMP_UNTIL(t, server_conn_count(t->s) == 2);
	client_send(&bad, "GET / HTTP/1.0\r\n\r\n");
	PUMP_UNTIL(t, server_conn_count(t->s) == 1);
	assert_int_equal(rejected(t->sp, "tls_handshake"), 1);
	assert_int_equal(t->opens, 1);
	assert_int_equal(t->closes, 0);
	client_close(&bad);

	tls_client_free(&tc);
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(t->closes, 1);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_tls_handshake_timeout(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;

	if (tls_prepare(t) != 0)
		skip();
	conf_small(&cf);
	cf.tls = t->tls;
	cf.handshake_ms = 50;
	t->lfd_tls = listen_local(&t->port_tls);
	tsvc_start(t, &cf);
	/* Connects to the TLS port and says nothing: the handshake counts
	 * under the handshake timer. */
	client_open(t, &cl, t->port_tls, 0);
	PUMP_UNTIL(t, server_conn_count(t->s) == 1);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(t->opens, 0);
	/* The service never saw it, so it is not told of the timeout. */
	assert_int_equal(t->timeouts, 0);
	client_close(&cl);
	assert_int_equal(region_used(t->worker), t->baseline);
}

/* ---- COMPRESS ---- */

/* The peer's side of RFC 8054: raw deflate both ways, a sync flush after
 * each batch of commands. */
struct zclient {
	z_stream d, i;
	size_t raw_off;     /* how much of cl->got has been inflated */
	char *plain;
	size_t len, cap;
	int err;
};

static void
zclient_init(struct zclient *z, size_t raw_off)
{
	memset(z, 0, sizeof *z);
	assert_int_equal(deflateInit2(&z->d, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	assert_int_equal(inflateInit2(&z->i, -15), Z_OK);
	z->raw_off = raw_off;
}

static void
zclient_free(struct zclient *z)
{
	deflateEnd(&z->d);
	inflateEnd(&z->i);
	free(z->plain);
}

/* Inflates src[z->raw_off..len) into z->plain. */
static void
zclient_inflate(struct zclient *z, const char *src, size_t len)
{
	while (z->raw_off < len && !z->err) {
		size_t room;
		int rc;

		if (z->cap - z->len < 65536) {
			z->cap = z->cap ? z->cap * 2 : 131072;
			z->plain = realloc(z->plain, z->cap + 1);
			assert_non_null(z->plain);
		}
		room = z->cap - z->len;
		z->i.next_in = (Bytef *)(uintptr_t)src + z->raw_off;
		z->i.avail_in = (uInt)(len - z->raw_off);
		z->i.next_out = (Bytef *)z->plain + z->len;
		z->i.avail_out = (uInt)room;
		rc = inflate(&z->i, Z_SYNC_FLUSH);
		z->raw_off = len - z->i.avail_in;
		z->len += room - z->i.avail_out;
		z->plain[z->len] = '\0';
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			z->err = 1;
		if (rc == Z_BUF_ERROR)
			break;
	}
}

/* Reads what is there and inflates it. */
static void
zclient_poll(struct client *cl, struct zclient *z)
{
	client_poll(cl);
	zclient_inflate(z, cl->got, cl->len);
}

static int
zclient_has(const struct zclient *z, const char *s)
{
	return z->plain != NULL && strstr(z->plain, s) != NULL;
}

/* Writes all of p, running the server while the socket is full. */
static void
client_write_all(struct tsvc *t, struct client *cl, const void *p, size_t n, struct zclient *z)
{
	const uint8_t *q = p;
	long i;

	for (i = 0; n > 0 && i < 200000; i++) {
		ssize_t w = write(cl->fd, q, n);

		if (w > 0) {
			q += w;
			n -= (size_t)w;
			continue;
		}
		assert_true(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
		round1(t);
		if (z)
			zclient_poll(cl, z);
	}
	assert_int_equal(n, 0);
}

/* s compressed and sync-flushed, as a client sends a batch; free it. */
static uint8_t *
zclient_deflate(struct zclient *z, const char *s, size_t *len)
{
	size_t n = strlen(s), cap = deflateBound(&z->d, n) + 64;
	uint8_t *out = malloc(cap);

	assert_non_null(out);
	z->d.next_in = (Bytef *)(uintptr_t)s;
	z->d.avail_in = (uInt)n;
	z->d.next_out = out;
	z->d.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z->d, Z_SYNC_FLUSH), Z_OK);
	assert_int_equal(z->d.avail_in, 0);
	assert_true(z->d.avail_out > 0);
	*len = cap - z->d.avail_out;
	return out;
}

static void
zclient_send(struct tsvc *t, struct client *cl, struct zclient *z, const char *s)
{
	size_t len;
	uint8_t *out = zclient_deflate(z, s, &len);

	client_write_all(t, cl, out, len, z);
	free(out);
}

/* Opens a client, says COMPRESS and returns the connection region's
 * charge before it (idle, greeting sent). */
static size_t
compress_open(struct tsvc *t, struct client *cl, struct zclient *z, int rcvbuf)
{
	size_t idle;

	t->greet = 1;
	client_open(t, cl, t->port, rcvbuf);
	PUMP_UNTIL(t, client_has(cl, "HI\n"), client_poll(cl));
	idle = region_used(conn_region(t->last));
	client_send(cl, "COMPRESS\n");
	PUMP_UNTIL(t, client_has(cl, "ZGO\n"), client_poll(cl));
	assert_string_equal(cl->got, "HI\nZGO\n");
	assert_true(conn_is_compressed(t->last));
	zclient_init(z, cl->len);
	return idle;
}

static void
test_compress_round_trip(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;
	struct zclient z;
	size_t idle, cost;

	conf_small(&cf);
	tsvc_start(t, &cf);
	idle = compress_open(t, &cl, &z, 0);
	PUMP_ROUNDS(t, 2);
	/* Idle again: what is left is the zlib state and nothing else. */
	cost = region_used(conn_region(t->last)) - idle;
	print_message("COMPRESS: %zu bytes on the connection region (zlib state and block overheads)\n", cost);
	assert_true(cost > 32 * 1024);
	assert_true(cost <= ZCOMP_STATE_BYTES);
	assert_true(cost + 2 * 16384 <= conn_compress_bytes());

	zclient_send(t, &cl, &z, "PING\nhel");
	PUMP_UNTIL(t, zclient_has(&z, "PONG\n"), zclient_poll(&cl, &z));
	zclient_send(t, &cl, &z, "lo\nagain\n");
	PUMP_UNTIL(t, zclient_has(&z, "again\n"), zclient_poll(&cl, &z));
	assert_string_equal(z.plain, "PONG\nhello\nagain\n");
	/* Everything after the ZGO was one compressed stream. */
	assert_int_equal(z.raw_off, cl.len);
	PUMP_ROUNDS(t, 2);
	assert_int_equal(region_used(conn_region(t->last)), idle + cost);
	/* Once only; STARTTLS cannot go under it. */
	zclient_send(t, &cl, &z, "COMPRESS\n");
	PUMP_UNTIL(t, zclient_has(&z, "ALREADY\n"), zclient_poll(&cl, &z));
	assert_int_equal(conn_compress(t->last), -1);
	assert_int_equal(errno, EALREADY);
	/* QUIT: the reply, compressed, then EOF. */
	zclient_send(t, &cl, &z, "QUIT\n");
	PUMP_UNTIL(t, cl.eof || cl.err, zclient_poll(&cl, &z));
	assert_int_equal(cl.err, 0);
	assert_int_equal(z.err, 0);
	assert_string_equal(z.plain, "PONG\nhello\nagain\nALREADY\nBYE\n");
	zclient_free(&z);
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_compress_big_output(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;
	struct zclient z;
	size_t i, n = 600000, dump = 300000;
	uint32_t x = 2463534242u;

	conf_small(&cf);
	cf.wqueue_max_bytes = 1024 * 1024;
	cf.conn_budget_bytes = 4 * 1024 * 1024;
	t->sndbuf = 4096;
	tsvc_start(t, &cf);
	compress_open(t, &cl, &z, 4096);
	/* Incompressible output, a peer that does not read for a while:
	 * it waits in our queue, compressed a chunk at a time. */
	zclient_send(t, &cl, &z, "NOISE 600000\nPING\n");
	PUMP_ROUNDS(t, 5);
	assert_true(conn_wqueue_len(t->last) > 0);
	assert_true(region_peak(conn_region(t->last)) <= cf.conn_budget_bytes);
	PUMP_UNTIL(t, z.len >= n + 5, zclient_poll(&cl, &z));
	assert_int_equal(z.err, 0);
	assert_int_equal(z.len, n + 5);
	for (i = 0; i < n; i++)
		if ((uint8_t)z.plain[i] != noise_next(&x))
			fail_msg("byte %zu differs", i);
	assert_memory_equal(z.plain + n, "PONG\n", 5);
	/* Compressed, a graceful close still sends every byte before EOF. */
	zclient_send(t, &cl, &z, "DUMP 300000\n");
	PUMP_UNTIL(t, cl.eof || cl.err, zclient_poll(&cl, &z));
	assert_int_equal(cl.err, 0);
	assert_int_equal(z.err, 0);
	assert_int_equal(z.len, n + 5 + dump);
	for (i = 0; i < dump; i++)
		if ((uint8_t)z.plain[n + 5 + i] != (uint8_t)(i % 251))
			fail_msg("dump byte %zu differs", i);
	zclient_free(&z);
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_compress_pipelined_and_corrupt(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;

	conf_small(&cf);
	t->greet = 1;
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port, 0);
	PUMP_UNTIL(t, client_has(&cl, "HI\n"), client_poll(&cl));
	/* Sent before the answer: dropped, neither run nor inflated. */
	client_send(&cl, "COMPRESS\nPING\n");
	PUMP_UNTIL(t, client_has(&cl, "ZGO\n"), client_poll(&cl));
	PUMP_ROUNDS(t, 3, client_poll(&cl));
	assert_string_equal(cl.got, "HI\nZGO\n");
	assert_int_equal(rejected(t->sp, "compress_pipelined"), 1);
	assert_int_equal(t->lines, 1);
	/* 0xff: a final block of the reserved type 3 (RFC 1951 3.2.3). */
	client_send(&cl, "\xff\xff\xff\xff");
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(rejected(t->sp, "compress_error"), 1);
	assert_int_equal(t->closes, 1);
	assert_int_equal(t->lines, 1);
	client_close(&cl);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_compress_budget_refused(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;
	size_t idle;

	conf_small(&cf);
	cf.conn_budget_bytes = 48 * 1024;
	cf.wqueue_max_bytes = 8 * 1024;
	t->greet = 1;
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port, 0);
	PUMP_UNTIL(t, client_has(&cl, "HI\n"), client_poll(&cl));
	idle = region_used(conn_region(t->last));
	/* The region cannot hold zlib: refused before anything was promised,
	 * nothing left behind, and the connection goes on in the clear. */
	client_send(&cl, "COMPRESS\nPING\n");
	PUMP_UNTIL(t, client_has(&cl, "PONG\n"), client_poll(&cl));
	assert_string_equal(cl.got, "HI\nNOZ\nPONG\n");
	assert_false(conn_is_compressed(t->last));
	assert_int_equal(rejected(t->sp, "compress_memory"), 1);
	assert_int_equal(region_used(conn_region(t->last)), idle);
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static void
test_compress_bomb(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl;
	struct zclient z;
	z_stream b;
	uint8_t *chunk = malloc(1024 * 1024), *out;
	size_t cap = 1024 * 1024, len = 0, idle_z, bound;
	long i;

	assert_non_null(chunk);
	out = malloc(cap);
	assert_non_null(out);
	conf_small(&cf);
	tsvc_start(t, &cf);
	compress_open(t, &cl, &z, 0);
	PUMP_ROUNDS(t, 2);
	idle_z = region_used(conn_region(t->last));
	/* 100 MiB without a line end, then a command: about 100 KiB. */
	memset(&b, 0, sizeof b);
	assert_int_equal(deflateInit2(&b, 9, Z_DEFLATED, -15, 9, Z_RLE), Z_OK);
	memset(chunk, 'A', 1024 * 1024);
	for (i = 0; i <= 100; i++) {
		int last = i == 100;

		b.next_in = last ? (Bytef *)"\nPING\n" : chunk;
		b.avail_in = last ? 6 : 1024 * 1024;
		do {
			if (cap - len < 65536) {
				cap *= 2;
				out = realloc(out, cap);
				assert_non_null(out);
			}
			b.next_out = out + len;
			b.avail_out = (uInt)(cap - len);
			assert_int_not_equal(deflate(&b, last ? Z_SYNC_FLUSH : Z_NO_FLUSH), Z_STREAM_ERROR);
			len = cap - b.avail_out;
		} while (b.avail_in > 0 || b.avail_out == 0);
	}
	deflateEnd(&b);
	print_message("bomb: 100 MiB + 6 bytes compressed to %zu bytes\n", len);
	assert_true(len < 1024 * 1024);
	client_write_all(t, &cl, out, len, &z);
	for (i = 0; i < 200000 && !zclient_has(&z, "PONG\n") && cl.eof == 0; i++) {
		round1(t);
		zclient_poll(&cl, &z);
	}
	assert_true(zclient_has(&z, "PONG\n"));
	assert_true(zclient_has(&z, "TOO LONG\n"));
	/* c->in never held more than read_max, held-back input never more
	 * than one read: the connection's high-water mark says so. */
	bound = idle_z + cf.read_max_bytes + 16384 + 4096;
	print_message("bomb: connection peak %zu, idle %zu, bound %zu\n", region_peak(conn_region(t->last)), idle_z,
	              bound);
	assert_true(region_peak(conn_region(t->last)) <= bound);
	assert_int_equal(rejected(t->sp, "conn_budget"), 0);
	assert_int_equal(server_conn_count(t->s), 1);
	/* Swallowed whole: back to the idle charge, no buffer kept. */
	PUMP_ROUNDS(t, 3, zclient_poll(&cl, &z));
	assert_int_equal(region_used(conn_region(t->last)), idle_z);
	zclient_free(&z);
	client_close(&cl);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(region_used(t->worker), t->baseline);
	free(chunk);
	free(out);
}

static void
tls_client_write(struct tsvc *t, struct tls_client *tc, const void *p, size_t n)
{
	int i;

	for (i = 0; i < ROUNDS_MAX; i++) {
		int w = SSL_write(tc->ssl, p, (int)n);

		if (w == (int)n)
			return;
		assert_true(SSL_get_error(tc->ssl, w) == SSL_ERROR_WANT_WRITE ||
		            SSL_get_error(tc->ssl, w) == SSL_ERROR_WANT_READ);
		round1(t);
	}
	fail_msg("SSL_write did not complete");
}

static void
ztls_send(struct tsvc *t, struct tls_client *tc, struct zclient *z, const char *s)
{
	size_t len;
	uint8_t *out = zclient_deflate(z, s, &len);

	tls_client_write(t, tc, out, len);
	free(out);
}

static void
test_compress_over_tls(void **state)
{
	struct tsvc *t = *state;
	struct server_conf cf;
	struct client cl, plain;
	struct tls_client tc;
	struct zclient z;
	int done = 0;

	if (tls_prepare(t) != 0)
		skip();
	conf_small(&cf);
	cf.tls = t->tls;
	t->greet = 1;
	t->lfd_tls = listen_local(&t->port_tls);
	tsvc_start(t, &cf);
	client_open(t, &cl, t->port_tls, 0);
	tls_client_start(&tc, cl.fd);
	PUMP_UNTIL(t, done != 0, done = tls_client_step(&tc));
	assert_int_equal(done, 1);
	PUMP_UNTIL(t, strstr(tc.got, "HI\n") != NULL, tls_client_poll(&tc));
	tls_client_send(t, &tc, "COMPRESS\n");
	PUMP_UNTIL(t, strstr(tc.got, "ZGO\n") != NULL, tls_client_poll(&tc));
	assert_string_equal(tc.got, "HI\nZGO\n");
	/* Compression inside TLS: deflated bytes are what TLS carries. */
	zclient_init(&z, tc.len);
	ztls_send(t, &tc, &z, "TLS?\nPING\n");
	PUMP_UNTIL(t, zclient_has(&z, "PONG\n"), tls_client_poll(&tc); zclient_inflate(&z, tc.got, tc.len));
	assert_string_equal(z.plain, "YES\nPONG\n");
	ztls_send(t, &tc, &z, "QUIT\n");
	PUMP_UNTIL(t, tc.eof, tls_client_poll(&tc); zclient_inflate(&z, tc.got, tc.len));
	assert_string_equal(z.plain, "YES\nPONG\nBYE\n");
	assert_int_equal(z.err, 0);
	zclient_free(&z);
	tls_client_free(&tc);
	client_close(&cl);

	/* The other order is refused: TLS cannot go under compression. */
	client_open(t, &plain, t->port, 0);
	PUMP_UNTIL(t, client_has(&plain, "HI\n"), client_poll(&plain));
	client_send(&plain, "COMPRESS\n");
	PUMP_UNTIL(t, client_has(&plain, "ZGO\n"), client_poll(&plain));
	assert_int_equal(conn_starttls(t->last), -1);
	assert_int_equal(errno, EPROTO);
	assert_false(conn_is_tls(t->last));
	client_close(&plain);
	PUMP_UNTIL(t, server_conn_count(t->s) == 0);
	assert_int_equal(region_used(t->worker), t->baseline);
}

static int
cleanup_cert_dir(void **state)
{
	char cmd[128];

	if (cert_dir[0] != '\0') {
		snprintf(cmd, sizeof cmd, "rm -rf %s", cert_dir);
		(void)!system(cmd);
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo_and_quit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_graceful_close_flushes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_budget_and_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure_redelivers_buffered_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure_at_exactly_half, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_address_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_reserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conn_budget_isolated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_baseline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_error_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_overflow_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_accept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_starttls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_implicit_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_handshake_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compress_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compress_big_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compress_pipelined_and_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compress_budget_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compress_bomb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compress_over_tls, setup, teardown),
	};

	/* A hang is a failure too (bounded rounds should prevent one). */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, cleanup_cert_dir);
}
