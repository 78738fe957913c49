/*
 * send.c: the flood and the legitimate-client probe.
 *
 * Flood: --connections non-blocking TCP connections under one epoll loop.
 * Each connection sends the scenario's preamble, then batches of messages
 * (up to SOAK_BATCH bytes, or one message larger than that) written as fast
 * as the socket takes them: pipelined, never waiting for replies.  Replies
 * are read and discarded so the server never blocks on us.  A connection
 * the server closes (EOF, reset, error) is counted and reopened; a message
 * flagged SOAK_MSG_CLOSE (a truncated article, a PDU per connection) makes
 * us half-close after writing it (shutdown SHUT_WR), also counted, and
 * read the server's answer until it closes (at most --drain-wait, default
 * SHUT_WAIT_S; a connection still open then is closed and counted as a
 * drain timeout), so the server reads all of it: a plain close() with
 * replies unread sends a reset, and the server drops the backlog it had
 * not read yet (which would still count as read).  Every scenario does
 * this, never a close with unread data or SO_LINGER 0.  A message counts
 * as sent when its last byte is in our kernel; unsent messages of a
 * dropped connection go back to the pool, so messages_sent reaches
 * --count exactly.
 *
 * The x axis of the fit is messages the server has *read*: each
 * connection remembers where its last RING_CAP/2 messages end in its byte
 * stream (older ones are extrapolated); the unread bytes are our send
 * queue (SIOCOUTQ) plus the server socket's receive queue (sock_diag
 * exact lookup; /proc/net/tcp at most every 50 ms as fallback); messages
 * ending inside them are unread.  This is estimated every CHECK_S and the
 * target is sampled (measure.c) each time the read count passes a
 * multiple of the sampling step, once before the first message and once
 * at the end.  After --count (or --duration) nothing more is generated and
 * the loop waits at most DRAIN_S for the server to read what is queued.
 *
 * TLS (ms01-040 after TLS): a connection whose preamble sets g->tls
 * waits for the server's answer (read byte by byte, judged by the
 * scenario's tls_reply; a refusal is counted and the connection dropped),
 * then runs a TLS handshake through memory BIOs: the ciphertext goes
 * through the same send buffer, so message ends, SIOCOUTQ and the
 * server's receive queue are all in ciphertext bytes and the "read by the
 * server" count works unchanged.  A message is encrypted whole
 * (SOAK_TLS_MSG_MAX) and a closing one is followed by close_notify, then
 * the half-close.  Replies after the handshake are discarded unread.
 * Answer and handshake are bounded by --drain-wait.  --phase post stops
 * after TLS_GIVE_UP refusals/failures without one handshake; --phase both
 * falls back to pre-TLS connections after TLS_GIVE_UP_BOTH.
 *
 * --raw-only: no TCP flood; the raw thread's packets (raw.c) are the
 * messages.  With --raw or --raw-only, the host's Slab is sampled idle for
 * --baseline seconds before and after, and its drift (B/s) is taken out
 * of the per-packet Slab slope.
 *
 * Probe: one thread, one connection (or one per probe if the scenario
 * says so), a request every --probe-interval ms, the reply timed up to
 * --probe-timeout ms; a timeout, a refused connection or a bad reply is a
 * failure and the connection is reopened.
 *
 * Interface (soak.h): soak_flood(), soak_fit_samples().
 * Limits: SOAK_CONN_MAX connections; each holds SOAK_MSG_MAX + SOAK_BATCH
 * bytes of buffer and a RING_CAP x 8-byte ring; the run ends at --count
 * messages (+ drain), --duration seconds (+ drain), SIGINT/SIGTERM, a crash
 * of the target (checked every ALIVE_S), or after UNREACHABLE_S seconds
 * without any open connection.
 * Known weaknesses: the server's receive queue is visible only when the
 * server runs on this host (a remote target's backlog is underestimated);
 * bytes the server has read into its own buffers count as read; the
 * backlog of a connection we closed counts as read at once.
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "soak.h"

#define UNREACHABLE_S 5.0
#define READ_CHUNK 65536
#define DRAIN_S 10.0	/* at most this long for the server to read what is queued */
#define CHECK_S 0.0002	/* how often the unread backlog is estimated */
#define ALIVE_S 0.1	/* how often the target's processes are checked */
#define RING_CAP 65536u	/* message ends remembered per connection */
#define SHUT_WAIT_S 10.0	/* default --drain-wait: at most this long for the server to close after our FIN */

enum { C_IDLE, C_CONNECTING, C_OPEN };
/* Phases of an open connection: plain messages; or (g->tls) the preamble's
 * answer awaited, the TLS handshake, then messages through TLS. */
enum { P_PLAIN, P_REPLY, P_HANDSHAKE, P_TLS };
#define TLS_GIVE_UP 100	/* --phase post: refusals/failures with no handshake before the run stops */
#define TLS_GIVE_UP_BOTH 4	/* --phase both: ...before only pre-TLS connections are made */

struct fconn {
	int fd;
	int state;
	int close_after;
	int out_only;		/* EPOLLOUT dropped: nothing left to send */
	int shut;		/* our FIN is sent, waiting for the server's close */
	double shut_deadline;
	uint8_t *buf;
	size_t len, off;
	uint64_t bufbase;	/* wbytes when buf[0] was queued */
	uint64_t wbytes;	/* bytes written on this connection */
	uint64_t *ends;		/* ring: end offset (wbytes) of each message */
	uint64_t head;		/* messages generated on this connection */
	uint64_t cursor;	/* ...of which fully written */
	unsigned lport;		/* our port, to find the server's socket */
	struct sockaddr_storage local;
	double retry_at;
	struct soak_gen gen;
	int phase;		/* P_* */
	double setup_deadline;	/* P_REPLY, P_HANDSHAKE: give up then */
	uint8_t reply[SOAK_REPLY_MAX];
	size_t rlen;
	SSL *ssl;		/* memory BIOs: ciphertext goes through buf like any bytes */
	uint8_t *pt;		/* one message's plaintext (TLS), SOAK_TLS_MSG_MAX */
};

struct flood {
	const struct soak_opts *o;
	struct addrinfo *ai;
	int ep;
	struct fconn conns[SOAK_CONN_MAX];
	uint64_t generated;
	int nl;			/* NETLINK_SOCK_DIAG, or -1 */
	double next_proc;	/* when /proc/net/tcp may be read again (fallback) */
	uint64_t proc_rxq[SOAK_CONN_MAX];
	int no_more;		/* --duration passed: generate nothing more */
	SSL_CTX *tls;		/* scenarios with tls_reply */
	uint64_t conn_serial;
	double last_ok;
	struct soak_result *r;
};

static _Atomic uint64_t sent_now;	/* messages_sent, read by the probe thread */

static int
resolve(const struct soak_opts *o, struct addrinfo **ai, char *err, size_t errlen)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(o->host, o->port, &hints, ai);
	if (rc != 0) {
		snprintf(err, errlen, "--target %s:%s: %s", o->host, o->port, gai_strerror(rc));
		return -1;
	}
	return 0;
}

/* ---- flood ---- */

static void
conn_drop(struct flood *f, struct fconn *c, double retry_delay)
{
	if (c->fd >= 0) {
		epoll_ctl(f->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->state = C_IDLE;
	/* Messages not fully written go back to the pool. */
	f->generated -= c->head - c->cursor;
	c->head = c->cursor = 0;
	c->wbytes = c->bufbase = 0;
	c->len = c->off = 0;
	c->close_after = 0;
	c->out_only = 0;
	c->shut = 0;
	c->phase = P_PLAIN;
	c->rlen = 0;
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	c->retry_at = soak_now() + retry_delay;
}

static void
conn_start(struct flood *f, struct fconn *c)
{
	struct epoll_event ev;
	int fd, one = 1;

	fd = socket(f->ai->ai_family, f->ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, f->ai->ai_protocol);
	if (fd < 0) {
		f->r->connect_failures++;
		c->retry_at = soak_now() + 0.05;
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, f->ai->ai_addr, f->ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
		close(fd);
		f->r->connect_failures++;
		c->retry_at = soak_now() + 0.05;
		return;
	}
	c->fd = fd;
	c->state = C_CONNECTING;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.ptr = c;
	epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void
conn_opened(struct flood *f, struct fconn *c)
{
	struct soak_out out;
	unsigned idx = (unsigned)(c - f->conns);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	c->lport = 0;
	memset(&c->local, 0, sizeof(c->local));
	if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == 0) {
		c->local = ss;
		if (ss.ss_family == AF_INET)
			c->lport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			c->lport = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	c->state = C_OPEN;
	f->r->connects++;
	f->last_ok = soak_now();
	memset(&c->gen, 0, sizeof(c->gen));
	c->gen.seed = f->o->seed;
	c->gen.conn_serial = f->conn_serial++;
	c->gen.conn_index = idx;
	c->gen.valid = f->o->valid;
	c->gen.phase = f->o->phase;
	if (f->o->phase == SOAK_PHASE_BOTH && f->tls != NULL && f->r->tls_handshakes == 0 &&
	    f->r->tls_refused + f->r->tls_failures >= TLS_GIVE_UP_BOTH) {
		/* The target does not do TLS: the pre-TLS half goes on alone. */
		c->gen.phase = SOAK_PHASE_PRE;
		f->r->tls_gave_up = 1;
	}
	soak_rng_seed(&c->gen.rng, f->o->seed * 0x100000001b3ULL + c->gen.conn_serial);
	out.p = c->buf;
	out.len = 0;
	out.cap = SOAK_MSG_MAX + SOAK_BATCH;
	if (f->o->sc->preamble != NULL)
		f->o->sc->preamble(&c->gen, &out);
	c->len = out.len;
	c->off = 0;
	c->head = c->cursor = 0;
	c->wbytes = c->bufbase = 0;
	c->rlen = 0;
	c->phase = P_PLAIN;
	if (c->gen.tls && f->tls != NULL && f->o->sc->tls_reply != NULL) {
		c->phase = P_REPLY;
		c->setup_deadline = soak_now() + f->o->drain_wait;
	}
}

/* ---- TLS (memory BIOs) ---- */

/* Moves the ciphertext OpenSSL produced into the send buffer; -1 when it
 * does not fit. */
static int
tls_flush(struct fconn *c)
{
	BIO *w = SSL_get_wbio(c->ssl);

	while (BIO_ctrl_pending(w) > 0) {
		size_t room = SOAK_MSG_MAX + SOAK_BATCH - c->len;
		int n;

		if (room == 0)
			return -1;
		n = BIO_read(w, c->buf + c->len, room > 65536 ? 65536 : (int)room);
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
	return 0;
}

static void
tls_fail(struct flood *f, struct fconn *c)
{
	f->r->tls_failures++;
	conn_drop(f, c, 0.01);
}

/* Runs the handshake as far as the bytes allow; 0 on, -1 dropped. */
static int
tls_step(struct flood *f, struct fconn *c)
{
	int rc = SSL_do_handshake(c->ssl);

	if (tls_flush(c) != 0) {
		tls_fail(f, c);
		return -1;
	}
	if (rc == 1) {
		c->phase = P_TLS;
		f->r->tls_handshakes++;
		return 0;
	}
	rc = SSL_get_error(c->ssl, rc);
	if (rc != SSL_ERROR_WANT_READ && rc != SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		tls_fail(f, c);
		return -1;
	}
	return 0;
}

static int
tls_begin(struct flood *f, struct fconn *c)
{
	BIO *r, *w;

	c->ssl = SSL_new(f->tls);
	r = BIO_new(BIO_s_mem());
	w = BIO_new(BIO_s_mem());
	if (c->ssl == NULL || r == NULL || w == NULL) {
		BIO_free(r);
		BIO_free(w);
		tls_fail(f, c);
		return -1;
	}
	SSL_set_bio(c->ssl, r, w);
	SSL_set_connect_state(c->ssl);
	c->phase = P_HANDSHAKE;
	return tls_step(f, c);
}

/* One message through TLS into the send buffer (a SOAK_MSG_CLOSE one is
 * followed by close_notify).  Returns the message's flags, -1 on failure. */
static int
tls_message(struct flood *f, struct fconn *c)
{
	struct soak_out out;
	int fl;

	out.p = c->pt;
	out.len = 0;
	out.cap = SOAK_TLS_MSG_MAX;
	fl = f->o->sc->message(&c->gen, &out);
	if (out.len > 0 && SSL_write(c->ssl, out.p, (int)out.len) != (int)out.len)
		return -1;
	if (tls_flush(c) != 0)
		return -1;
	c->ends[c->head % RING_CAP] = c->bufbase + c->len;
	if (fl & SOAK_MSG_CLOSE) {
		SSL_shutdown(c->ssl);
		if (tls_flush(c) != 0)
			return -1;
	}
	return fl;
}

static void
set_out_interest(struct flood *f, struct fconn *c, int want_out)
{
	struct epoll_event ev;

	if (c->out_only == !want_out)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0);
	ev.data.ptr = c;
	epoll_ctl(f->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->out_only = !want_out;
}

static void
conn_write(struct flood *f, struct fconn *c)
{
	int round;

	for (round = 0; round < 2; round++) {
		ssize_t w;

		if (c->off == c->len) {
			c->len = c->off = 0;
			c->bufbase = c->wbytes;
			if (c->close_after) {
				/* Half-close: the server reads everything we
				 * sent, then our EOF (maybe mid-message); we
				 * keep reading its replies until it closes. */
				if (!c->shut) {
					shutdown(c->fd, SHUT_WR);
					c->shut = 1;
					c->shut_deadline = soak_now() + f->o->drain_wait;
					set_out_interest(f, c, 0);
				}
				return;
			}
			if (f->generated >= f->o->count || f->no_more || c->phase == P_REPLY ||
			    c->phase == P_HANDSHAKE) {
				set_out_interest(f, c, 0);
				return;
			}
			while (c->phase == P_TLS && c->len < SOAK_BATCH && f->generated < f->o->count &&
			    c->head - c->cursor < RING_CAP / 2) {
				int fl = tls_message(f, c);

				c->gen.msg_serial++;
				if (fl < 0) {
					tls_fail(f, c);
					return;
				}
				c->head++;
				f->generated++;
				if (fl & SOAK_MSG_CLOSE) {
					c->close_after = 1;
					break;
				}
			}
			while (c->phase == P_PLAIN && c->len < SOAK_BATCH && f->generated < f->o->count &&
			    c->head - c->cursor < RING_CAP / 2) {
				struct soak_out out;
				int fl;

				out.p = c->buf;
				out.len = c->len;
				out.cap = SOAK_MSG_MAX + SOAK_BATCH;
				fl = f->o->sc->message(&c->gen, &out);
				c->gen.msg_serial++;
				c->len = out.len;
				c->ends[c->head % RING_CAP] = c->bufbase + c->len;
				c->head++;
				f->generated++;
				if (fl & SOAK_MSG_CLOSE) {
					c->close_after = 1;
					break;
				}
			}
		}
		w = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			f->r->server_closes++;
			conn_drop(f, c, 0.001);
			return;
		}
		f->r->bytes_sent += (uint64_t)w;
		c->off += (size_t)w;
		c->wbytes += (uint64_t)w;
		while (c->cursor < c->head && c->ends[c->cursor % RING_CAP] <= c->wbytes) {
			c->cursor++;
			f->r->messages_sent++;
		}
		atomic_store(&sent_now, f->r->messages_sent);
	}
}

/* The server's receive queue for connection c by an exact sock_diag
 * lookup of its socket; -1 when that fails. */
static int
diag_rqueue(struct flood *f, const struct fconn *c, uint64_t *rq)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	union {
		struct nlmsghdr nlh;
		uint8_t b[8192];
	} resp;
	const struct sockaddr *srv = f->ai->ai_addr;
	ssize_t n;

	if (f->nl < 0 || srv->sa_family != c->local.ss_family)
		return -1;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = (uint8_t)srv->sa_family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (srv->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)srv;
		const struct sockaddr_in *l4 = (const struct sockaddr_in *)(const void *)&c->local;

		req.r.id.idiag_sport = s4->sin_port;
		req.r.id.idiag_dport = l4->sin_port;
		memcpy(req.r.id.idiag_src, &s4->sin_addr, 4);
		memcpy(req.r.id.idiag_dst, &l4->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)srv;
		const struct sockaddr_in6 *l6 = (const struct sockaddr_in6 *)(const void *)&c->local;

		req.r.id.idiag_sport = s6->sin6_port;
		req.r.id.idiag_dport = l6->sin6_port;
		memcpy(req.r.id.idiag_src, &s6->sin6_addr, 16);
		memcpy(req.r.id.idiag_dst, &l6->sin6_addr, 16);
	}
	if (send(f->nl, &req, sizeof(req), 0) != (ssize_t)sizeof(req))
		return -1;
	n = recv(f->nl, &resp, sizeof(resp), 0);
	if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct inet_diag_msg)) || resp.nlh.nlmsg_type == NLMSG_ERROR)
		return -1;
	*rq = ((const struct inet_diag_msg *)NLMSG_DATA(&resp.nlh))->idiag_rqueue;
	return 0;
}

/* Fallback: rx_queue of the server's sockets from /proc/net/tcp{,6},
 * found by the port pair (slow on hosts with many sockets: rate-limited). */
static void
proc_rqueues(struct flood *f)
{
	static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	unsigned tport = (unsigned)atoi(f->o->port), i, k;
	char line[512];

	memset(f->proc_rxq, 0, sizeof(f->proc_rxq));
	for (k = 0; k < 2; k++) {
		FILE *pf = fopen(files[k], "re");
		unsigned lines = 0;

		if (pf == NULL)
			continue;
		while (fgets(line, sizeof(line), pf) != NULL && lines++ < 1000000) {
			char la[64], ra[64];
			unsigned lp, rp, st;
			unsigned long txq, rq;

			if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%X %63[0-9A-Fa-f]:%X %X %lX:%lX", la, &lp, ra, &rp, &st,
			    &txq, &rq) != 7 || lp != tport)
				continue;
			for (i = 0; i < f->o->connections; i++)
				if (f->conns[i].state == C_OPEN && f->conns[i].lport == rp)
					f->proc_rxq[i] = rq;
		}
		fclose(pf);
	}
}

/*
 * Messages written but not yet read by the server: for each connection,
 * the bytes in our send queue (SIOCOUTQ) plus the bytes in the server's
 * receive queue (sock_diag, else /proc/net/tcp; visible only when the
 * target is on this host) are unread, and so are the messages that end
 * inside them.
 */
static uint64_t
unprocessed(struct flood *f)
{
	uint64_t total = 0;
	unsigned i;
	int proc_read = 0;

	for (i = 0; i < f->o->connections; i++) {
		struct fconn *c = &f->conns[i];
		int outq = 0;
		uint64_t inflight, p, j, n = 0, rq = 0;

		if (c->state != C_OPEN || c->cursor == 0)
			continue;
		if (ioctl(c->fd, SIOCOUTQ, &outq) != 0 || outq < 0)
			outq = 0;
		if (diag_rqueue(f, c, &rq) != 0) {
			if (!proc_read && soak_now() >= f->next_proc) {
				proc_rqueues(f);
				f->next_proc = soak_now() + 0.05;
			}
			proc_read = 1;
			rq = f->proc_rxq[i];
		}
		inflight = (uint64_t)outq + rq;
		p = c->wbytes > inflight ? c->wbytes - inflight : 0;
		for (j = c->cursor; j > 0 && n < RING_CAP / 2; j--, n++)
			if (c->ends[(j - 1) % RING_CAP] <= p)
				break;
		if (n == RING_CAP / 2 && j > 0 && c->ends[(j - 1) % RING_CAP] > p) {
			/* The backlog is longer than the ring remembers:
			 * extrapolate with the ring's mean message size. */
			uint64_t oldest = c->ends[j % RING_CAP], newest = c->ends[(c->cursor - 1) % RING_CAP];
			double mean = (double)(newest - oldest) / (double)(n - 1);

			if (mean > 0 && oldest > p)
				n += (uint64_t)((double)(oldest - p) / mean);
		}
		total += n;
	}
	return total;
}

/* 0 still open, -1 dropped. */
static int
conn_read(struct flood *f, struct fconn *c)
{
	static uint8_t sink[READ_CHUNK];
	int i;

	for (i = 0; i < 8 || (c->phase == P_REPLY && i < 8 + (int)SOAK_REPLY_MAX); i++) {
		ssize_t n;

		if (c->phase == P_REPLY) {
			/* The answer to the preamble, byte-exact: no more is
			 * read than it takes (TLS may follow at once). */
			int v;

			n = recv(c->fd, c->reply + c->rlen, 1, MSG_DONTWAIT);
			if (n > 0) {
				c->rlen++;
				v = f->o->sc->tls_reply(c->reply, c->rlen);
				if (v < 0 || (v == 0 && c->rlen == sizeof(c->reply))) {
					f->r->tls_refused++;
					conn_drop(f, c, 0.01);
					return -1;
				}
				if (v > 0) {
					if (tls_begin(f, c) != 0)
						return -1;
					set_out_interest(f, c, 1);
				}
				continue;
			}
		} else {
			n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
			if (n > 0 && c->phase == P_HANDSHAKE) {
				if (BIO_write(SSL_get_rbio(c->ssl), sink, (int)n) != (int)n) {
					tls_fail(f, c);
					return -1;
				}
				if (tls_step(f, c) != 0)
					return -1;
				set_out_interest(f, c, 1);
			}
		}
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (c->shut || (c->close_after && c->off == c->len))
			f->r->own_closes++;	/* the close we asked for (maybe before our FIN left) */
		else
			f->r->server_closes++;
		conn_drop(f, c, c->shut ? 0.0 : 0.001);
		return -1;
	}
	return 0;
}

/* ---- probe ---- */

struct probe {
	const struct soak_opts *o;
	struct addrinfo *ai;
	atomic_int stop;
	struct soak_probe_rec *recs;
	atomic_uint n;		/* read by the main thread for progress */
	atomic_uint failures;
	pthread_t th;
	SSL_CTX *tls;		/* the scenario's probe_wants_tls may ask for a handshake */
};

static int
wait_fd(int fd, short events, double deadline)
{
	struct pollfd p;
	double left;
	int rc;

	for (;;) {
		left = deadline - soak_now();
		if (left <= 0)
			return 0;
		p.fd = fd;
		p.events = events;
		p.revents = 0;
		rc = poll(&p, 1, (int)(left * 1000.0) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		return rc;
	}
}

static int
probe_connect(struct probe *p, double deadline)
{
	int fd, err = 0, one = 1;
	socklen_t len = sizeof(err);

	fd = socket(p->ai->ai_family, p->ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, p->ai->ai_protocol);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, p->ai->ai_addr, p->ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) <= 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Reads until judge() says complete (1), bad or timeout (-1); the bytes
 * read are left in buf (cap bytes), their count in *got. */
static int
probe_read_into(int fd, int (*judge)(const uint8_t *, size_t), double deadline, uint8_t *buf, size_t cap,
    size_t *got)
{
	size_t n = 0;

	*got = 0;
	for (;;) {
		ssize_t r;
		int v;

		if (wait_fd(fd, POLLIN, deadline) <= 0)
			return -1;
		r = recv(fd, buf + n, cap - n, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return -1;
		n += (size_t)r;
		*got = n;
		v = judge(buf, n);
		if (v != 0)
			return v > 0 ? 1 : -1;
		if (n == cap)
			return -1;
	}
}

static int
probe_read(int fd, int (*judge)(const uint8_t *, size_t), double deadline)
{
	uint8_t buf[8192];
	size_t got;

	return probe_read_into(fd, judge, deadline, buf, sizeof(buf), &got);
}

/* A TLS handshake on the probe's socket (non-blocking, bounded by the
 * deadline): a legitimate client must get through the server's TLS
 * accept during the flood, not only its first PDU.  0 done, -1 not. */
static int
probe_tls(SSL_CTX *ctx, int fd, double deadline)
{
	SSL *ssl = SSL_new(ctx);
	int rc = -1;

	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return -1;
	}
	SSL_set_connect_state(ssl);
	for (;;) {
		int r = SSL_do_handshake(ssl), e;

		if (r == 1) {
			rc = 0;
			break;
		}
		e = SSL_get_error(ssl, r);
		if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
		    wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) <= 0)
			break;
	}
	ERR_clear_error();
	SSL_free(ssl);
	return rc;
}

static int
probe_send(int fd, const uint8_t *b, size_t n, double deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) <= 0)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
probe_record(struct probe *p, double ms)
{
	unsigned n = atomic_load(&p->n);

	if (ms < 0)
		atomic_fetch_add(&p->failures, 1);
	if (n < SOAK_PROBES_MAX) {
		p->recs[n].msgs = (double)atomic_load(&sent_now);
		p->recs[n].ms = ms;
		atomic_store(&p->n, n + 1);
	}
}

static void *
probe_main(void *arg)
{
	struct probe *p = arg;
	const struct soak_scenario *sc = p->o->sc;
	double next = soak_now(), tmo = p->o->probe_timeout_ms / 1000.0;
	unsigned serial = 0;
	int fd = -1;
	uint8_t reqbuf[4096], rbuf[8192];
	size_t rgot;

	while (!atomic_load(&p->stop)) {
		struct soak_out req;
		double t0, deadline;
		struct timespec ts = {0, 5 * 1000 * 1000};

		if (soak_now() < next) {
			nanosleep(&ts, NULL);
			continue;
		}
		next += p->o->probe_ms / 1000.0;
		if (next < soak_now())
			next = soak_now() + p->o->probe_ms / 1000.0;
		t0 = soak_now();
		deadline = t0 + tmo;
		if (fd < 0) {
			fd = probe_connect(p, deadline);
			if (fd < 0) {
				probe_record(p, -1);
				continue;
			}
			if (sc->probe_hello != NULL) {
				struct soak_out hello = {reqbuf, 0, sizeof(reqbuf)};

				sc->probe_hello(&hello);
				if (probe_send(fd, hello.p, hello.len, deadline) < 0) {
					close(fd);
					fd = -1;
					probe_record(p, -1);
					continue;
				}
			}
			if (sc->probe_greeting != NULL && probe_read(fd, sc->probe_greeting, deadline) < 0) {
				close(fd);
				fd = -1;
				probe_record(p, -1);
				continue;
			}
			if (!sc->probe_reconnect)
				t0 = soak_now();	/* a kept connection: time the request only */
			deadline = t0 + tmo;
		}
		req.p = reqbuf;
		req.len = 0;
		req.cap = sizeof(reqbuf);
		sc->probe_request(serial++, &req);
		if (probe_send(fd, req.p, req.len, deadline) < 0 ||
		    probe_read_into(fd, sc->probe_reply, deadline, rbuf, sizeof(rbuf), &rgot) < 0 ||
		    (p->tls != NULL && sc->probe_wants_tls(rbuf, rgot) && probe_tls(p->tls, fd, deadline) != 0)) {
			close(fd);
			fd = -1;
			probe_record(p, -1);
			continue;
		}
		probe_record(p, (soak_now() - t0) * 1000.0);
		if (sc->probe_reconnect) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* ---- run ---- */

static void
take_sample(struct flood *f, struct soak_target *t, double t0, uint64_t processed)
{
	struct soak_result *r = f->r;
	struct soak_sample *s;

	if (r->nsamples >= SOAK_SAMPLES_MAX || t->crashed)
		return;
	s = &r->samples[r->nsamples];
	s->msgs = (double)processed;
	s->t = soak_now() - t0;
	s->raw = (double)raw_sent_now();
	if (measure_sample(t, s) != 0) {
		snprintf(r->crash_reason, sizeof(r->crash_reason), "%s", t->crash_reason);
		return;
	}
	r->nsamples++;
}

/* Estimates the backlog every CHECK_S and samples when the messages the
 * server has read pass the next step.  Returns the backlog (messages),
 * or UINT64_MAX when not checked this time. */
static uint64_t
sample_due(struct flood *f, struct soak_target *t, double t0, uint64_t *processed, double *next_sample,
    uint64_t step, double *next_check)
{
	struct soak_result *r = f->r;
	double now = soak_now();
	uint64_t un;

	if (now < *next_check)
		return UINT64_MAX;
	un = unprocessed(f);
	*processed = r->messages_sent - (un < r->messages_sent ? un : r->messages_sent);
	*next_check = now + CHECK_S;
	if ((double)*processed >= *next_sample) {
		take_sample(f, t, t0, *processed);
		while (*next_sample <= (double)*processed)
			*next_sample += (double)step;
	}
	return un;
}

static void
progress(const struct soak_opts *o, struct soak_result *r, double t0, int final)
{
	double el = soak_now() - t0;

	soak_fit_samples(o, r);
	fprintf(stderr, "\r%s: %llu/%llu msgs  %.0f msg/s  probes %u (fail %u)", o->sc->name,
	    (unsigned long long)r->messages_sent, (unsigned long long)o->count,
	    el > 0 ? (double)r->messages_sent / el : 0.0, r->nprobes, r->probe_failures);
	if (r->primary != NULL && r->primary->ok)
		fprintf(stderr, "  slope %.2f B/msg [%.2f, %.2f]", r->primary->slope, r->primary->lo, r->primary->hi);
	fprintf(stderr, "    %s", final ? "\n" : "");
	fflush(stderr);
}

#define DRIFT_STEP_S 0.1	/* idle Slab sampling interval */

/* The host's Slab drift while we send nothing, B/s (Theil-Sen against
 * time): on a shared host, builds and page cache move Slab by hundreds of
 * KiB/s, which a raw flood's slope per packet would otherwise absorb. */
static void
idle_drift(double secs, struct soak_fit *fit)
{
	size_t n = (size_t)(secs / DRIFT_STEP_S) + 1, i;
	double *x = calloc(n, sizeof(double)), *y = calloc(n, sizeof(double)), t0 = soak_now(), avail;
	struct timespec ts = {0, (long)(DRIFT_STEP_S * 1e9)};

	memset(fit, 0, sizeof(*fit));
	if (x == NULL || y == NULL || n < 4) {
		free(x);
		free(y);
		return;
	}
	for (i = 0; i < n && !soak_interrupted; i++) {
		x[i] = soak_now() - t0;
		measure_host(&avail, &y[i]);
		if (i + 1 < n)
			nanosleep(&ts, NULL);
	}
	if (i >= 4 && stats_theil_sen(x, y, i, fit) != 0)
		memset(fit, 0, sizeof(*fit));
	free(x);
	free(y);
}

/* --raw-only: the raw thread's packets are the messages; sample as their
 * count passes each step, stop at --count (the thread stops there too) or
 * --duration. */
static void
raw_only_loop(struct flood *f, struct soak_target *t, double t0, uint64_t step)
{
	struct soak_result *r = f->r;
	const struct soak_opts *o = f->o;
	double next_sample = (double)step, next_alive = 0, next_progress = t0 + 0.5;
	struct timespec ts = {0, 1000 * 1000};

	for (;;) {
		double now = soak_now();
		uint64_t sent = raw_sent_now();

		if (soak_interrupted) {
			r->stopped_by = 2;
			break;
		}
		if (now >= next_alive) {
			measure_alive(t);
			next_alive = now + ALIVE_S;
		}
		if (t->crashed) {
			r->stopped_by = 3;
			break;
		}
		r->messages_sent = sent;
		atomic_store(&sent_now, sent);
		if ((double)sent >= next_sample) {
			take_sample(f, t, t0, sent);
			while (next_sample <= (double)sent)
				next_sample += (double)step;
		}
		if (sent >= o->count) {
			r->stopped_by = 0;
			break;
		}
		if (now - t0 >= o->duration) {
			r->stopped_by = 1;
			break;
		}
		if (o->progress && now >= next_progress) {
			progress(o, r, t0, 0);
			next_progress = now + 0.5;
		}
		nanosleep(&ts, NULL);
	}
	r->elapsed = soak_now() - t0;
}

int
soak_flood(const struct soak_opts *o, struct soak_target *t, struct soak_result *r, char *err, size_t errlen)
{
	struct flood *f;
	struct probe pr;
	struct epoll_event evs[SOAK_CONN_MAX + 1];
	double t0, next_progress, next_sample, next_check, drain_end = 0, next_alive = 0;
	uint64_t step, processed = 0;
	int draining = 0;
	unsigned i;
	int probe_started = 0, rc = -1;

	memset(&pr, 0, sizeof(pr));
	f = calloc(1, sizeof(*f));
	r->samples = calloc(SOAK_SAMPLES_MAX, sizeof(*r->samples));
	r->probes = calloc(SOAK_PROBES_MAX, sizeof(*r->probes));
	if (f == NULL || r->samples == NULL || r->probes == NULL) {
		snprintf(err, errlen, "out of memory");
		free(f);
		return -1;
	}
	f->o = o;
	f->r = r;
	f->ep = -1;
	f->nl = -1;
	for (i = 0; i < SOAK_CONN_MAX; i++)
		f->conns[i].fd = -1;
	if (resolve(o, &f->ai, err, errlen) != 0) {
		free(f);
		return -1;
	}
	f->nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	f->ep = epoll_create1(EPOLL_CLOEXEC);
	if (f->ep < 0) {
		snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
		goto out;
	}
	if (o->sc->tls_reply != NULL) {
		/* No verification: the target's certificate is not what is
		 * tested, and old servers' choices are accepted too. */
		f->tls = SSL_CTX_new(TLS_client_method());
		if (f->tls == NULL) {
			snprintf(err, errlen, "SSL_CTX_new failed");
			goto out;
		}
		SSL_CTX_set_verify(f->tls, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_security_level(f->tls, 0);
		SSL_CTX_set_cipher_list(f->tls, "ALL:@SECLEVEL=0");
		SSL_CTX_set_options(f->tls, SSL_OP_LEGACY_SERVER_CONNECT);
		SSL_CTX_set_session_cache_mode(f->tls, SSL_SESS_CACHE_OFF);
	}
	for (i = 0; i < o->connections; i++) {
		f->conns[i].buf = malloc(SOAK_MSG_MAX + SOAK_BATCH);
		f->conns[i].ends = malloc(RING_CAP * sizeof(uint64_t));
		if (f->tls != NULL)
			f->conns[i].pt = malloc(SOAK_TLS_MSG_MAX);
		if (f->conns[i].buf == NULL || f->conns[i].ends == NULL || (f->tls != NULL && f->conns[i].pt == NULL)) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < t->ninitial && i < SOAK_PIDS_MAX; i++)
		r->pids[i] = t->initial[i].pid;
	r->npids = i;
	atomic_store(&sent_now, 0);
	step = o->sample_every != 0 ? o->sample_every : o->count / (o->samples ? o->samples : 1);
	if (step == 0)
		step = 1;
	if (o->raw && o->baseline > 0)
		idle_drift(o->baseline, &r->drift_before);
	/* The raw flood first: setting up its calls may take seconds, which
	 * must not count as time without a connection. */
	if (o->raw && raw_start(o->sc->raw_kind, f->ai->ai_addr, o->raw_rate, o->seed, o->raw_only ? o->count : 0,
	    o->sc->raw_kind == RAW_GRE ? o->gre_calls : 0, o->raw_window, err, errlen) != 0)
		goto out;
	t0 = soak_now();
	f->last_ok = t0;
	take_sample(f, t, t0, o->raw_only ? raw_sent_now() : 0);
	next_sample = (double)step;
	pr.o = o;
	pr.ai = f->ai;
	pr.recs = r->probes;
	pr.tls = o->sc->probe_wants_tls != NULL && !o->probe_no_tls ? f->tls : NULL;
	atomic_store(&pr.stop, 0);
	if (o->sc->probe_request != NULL && pthread_create(&pr.th, NULL, probe_main, &pr) == 0)
		probe_started = 1;
	if (o->raw_only) {
		raw_only_loop(f, t, t0, step);
		goto done;
	}
	for (i = 0; i < o->connections; i++)
		conn_start(f, &f->conns[i]);
	next_progress = t0 + 0.5;
	next_check = t0;
	for (;;) {
		double now = soak_now();
		int n, k;

		if (soak_interrupted) {
			r->stopped_by = 2;
			break;
		}
		if (now >= next_alive) {
			measure_alive(t);
			next_alive = now + ALIVE_S;
		}
		if (t->crashed) {
			r->stopped_by = 3;
			break;
		}
		if (!draining && (r->messages_sent >= o->count || now - t0 >= o->duration)) {
			/* Stop generating; let the server read what is queued. */
			r->stopped_by = r->messages_sent >= o->count ? 0 : 1;
			r->elapsed = now - t0;
			f->no_more = 1;
			draining = 1;
			drain_end = now + DRAIN_S;
		}
		if (draining && now >= drain_end)
			break;
		if (!draining && now - f->last_ok > UNREACHABLE_S) {
			int any_open = 0;

			for (i = 0; i < o->connections; i++)
				if (f->conns[i].state == C_OPEN)
					any_open = 1;
			if (!any_open) {
				r->stopped_by = 4;
				break;
			}
			f->last_ok = now;
		}
		for (i = 0; i < o->connections; i++)
			if (f->conns[i].state == C_OPEN && f->conns[i].shut && now >= f->conns[i].shut_deadline) {
				/* The server kept a half-closed connection open. */
				f->r->own_closes++;
				f->r->drain_timeouts++;
				conn_drop(f, &f->conns[i], 0.0);
			}
		for (i = 0; i < o->connections; i++)
			if (f->conns[i].state == C_OPEN &&
			    (f->conns[i].phase == P_REPLY || f->conns[i].phase == P_HANDSHAKE) &&
			    now >= f->conns[i].setup_deadline) {
				f->r->tls_timeouts++;
				tls_fail(f, &f->conns[i]);
			}
		if (!draining && o->phase == SOAK_PHASE_POST && f->tls != NULL && r->tls_handshakes == 0 &&
		    r->tls_refused + r->tls_failures >= TLS_GIVE_UP) {
			r->stopped_by = 5;
			break;
		}
		for (i = 0; i < o->connections && !draining; i++)
			if (f->conns[i].state == C_IDLE && f->conns[i].retry_at <= now)
				conn_start(f, &f->conns[i]);
		n = epoll_wait(f->ep, evs, SOAK_CONN_MAX + 1, draining ? 0 : 20);
		if (draining && n == 0) {
			/* Nothing to do but watch the backlog shrink: poll it
			 * finely without taking a whole core from the server. */
			struct timespec ts = {0, 200 * 1000};

			nanosleep(&ts, NULL);
		}
		for (k = 0; k < n; k++) {
			struct fconn *c = evs[k].data.ptr;
			uint32_t e = evs[k].events;

			if (c->state == C_CONNECTING) {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);

				if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0 ||
				    (e & (EPOLLERR | EPOLLHUP))) {
					r->connect_failures++;
					conn_drop(f, c, 0.05);
					continue;
				}
				if (!(e & EPOLLOUT))
					continue;
				conn_opened(f, c);
			}
			if (c->state != C_OPEN)
				continue;
			if ((e & (EPOLLIN | EPOLLERR | EPOLLHUP)) && conn_read(f, c) != 0)
				continue;
			if (e & EPOLLOUT)
				conn_write(f, c);
			if (sample_due(f, t, t0, &processed, &next_sample, step, &next_check) == 0 && draining)
				break;
		}
		now = soak_now();
		if (sample_due(f, t, t0, &processed, &next_sample, step, &next_check) == 0 && draining)
			break;
		if (o->progress && now >= next_progress) {
			r->nprobes = atomic_load(&pr.n);
			r->probe_failures = atomic_load(&pr.failures);
			progress(o, r, t0, 0);
			next_progress = now + 0.5;
		}
	}
	if (!draining)
		r->elapsed = soak_now() - t0;
done:
	/* A last sample at the end of the run, unless one was just taken. */
	if (!t->crashed) {
		uint64_t un = unprocessed(f);

		processed = r->messages_sent - (un < r->messages_sent ? un : r->messages_sent);
		if (r->nsamples == 0 || r->samples[r->nsamples - 1].msgs < (double)processed)
			take_sample(f, t, t0, processed);
	}
	if (t->crashed) {
		r->stopped_by = 3;
		snprintf(r->crash_reason, sizeof(r->crash_reason), "%s", t->crash_reason);
	}
	if (probe_started) {
		atomic_store(&pr.stop, 1);
		pthread_join(pr.th, NULL);
	}
	if (o->raw) {
		raw_stop(&r->raw);
		r->raw_sent = r->raw.sent;
		r->raw_errors = r->raw.errors;
		if (o->baseline > 0 && !soak_interrupted)
			idle_drift(o->baseline, &r->drift_after);
	}
	r->total_elapsed = soak_now() - t0;
	r->server_rate = r->total_elapsed > 0 ? (double)processed / r->total_elapsed : 0.0;
	r->nprobes = atomic_load(&pr.n);
	r->probe_failures = atomic_load(&pr.failures);
	r->send_rate = r->elapsed > 0 ? (double)r->messages_sent / r->elapsed : 0.0;
	if (o->progress)
		progress(o, r, t0, 1);
	rc = 0;
out:
	for (i = 0; i < SOAK_CONN_MAX; i++) {
		if (f->conns[i].fd >= 0)
			close(f->conns[i].fd);
		if (f->conns[i].ssl != NULL)
			SSL_free(f->conns[i].ssl);
		free(f->conns[i].buf);
		free(f->conns[i].ends);
		free(f->conns[i].pt);
	}
	if (f->tls != NULL)
		SSL_CTX_free(f->tls);
	if (f->ep >= 0)
		close(f->ep);
	if (f->nl >= 0)
		close(f->nl);
	freeaddrinfo(f->ai);
	free(f);
	return rc;
}

static void
fit_one(const double *x, double *y, size_t n, struct soak_fit *fit)
{
	if (stats_robust_slope(x, y, n, STATS_MAX_STEPS, STATS_STEP_FLOOR, fit) != 0)
		memset(fit, 0, sizeof(*fit));
}

void
soak_fit_samples(const struct soak_opts *o, struct soak_result *r)
{
	size_t n, i, w;
	double *x, *y;

	r->primary = NULL;
	r->primary_name = o->cgroup != NULL ? "cgroup" : "pss";
	memset(&r->pss_fit, 0, sizeof(r->pss_fit));
	memset(&r->rss_fit, 0, sizeof(r->rss_fit));
	memset(&r->uss_fit, 0, sizeof(r->uss_fit));
	memset(&r->cg_fit, 0, sizeof(r->cg_fit));
	memset(&r->avail_fit, 0, sizeof(r->avail_fit));
	memset(&r->slab_fit, 0, sizeof(r->slab_fit));
	w = (size_t)floor(o->warmup * (double)r->nsamples);
	r->warm_index = (unsigned)w;
	if (r->nsamples < w + 4)
		return;
	n = r->nsamples - w;
	x = calloc(n, sizeof(double));
	y = calloc(n, sizeof(double));
	if (x == NULL || y == NULL) {
		free(x);
		free(y);
		return;
	}
	for (i = 0; i < n; i++)
		x[i] = r->samples[w + i].msgs;
	if (o->have_target) {
		for (i = 0; i < n; i++)
			y[i] = r->samples[w + i].pss;
		fit_one(x, y, n, &r->pss_fit);
		for (i = 0; i < n; i++)
			y[i] = r->samples[w + i].rss;
		fit_one(x, y, n, &r->rss_fit);
		for (i = 0; i < n; i++)
			y[i] = r->samples[w + i].uss;
		fit_one(x, y, n, &r->uss_fit);
		if (o->cgroup != NULL) {
			for (i = 0; i < n; i++)
				y[i] = r->samples[w + i].cgroup;
			fit_one(x, y, n, &r->cg_fit);
		}
		r->primary = o->cgroup != NULL ? &r->cg_fit : &r->pss_fit;
	}
	for (i = 0; i < n; i++)
		y[i] = r->samples[w + i].memavail;
	fit_one(x, y, n, &r->avail_fit);
	for (i = 0; i < n; i++)
		y[i] = r->samples[w + i].slab;
	fit_one(x, y, n, &r->slab_fit);
	memset(&r->raw_pss_fit, 0, sizeof(r->raw_pss_fit));
	memset(&r->raw_slab_fit, 0, sizeof(r->raw_slab_fit));
	memset(&r->cpu_fit, 0, sizeof(r->cpu_fit));
	memset(&r->raw_cpu_fit, 0, sizeof(r->raw_cpu_fit));
	r->cpu_share = 0;
	if (o->have_target) {
		/* CPU is cumulative and steady: a plain Theil-Sen, no steps. */
		const struct soak_sample *a = &r->samples[w], *b = &r->samples[r->nsamples - 1];

		for (i = 0; i < n; i++) {
			x[i] = r->samples[w + i].msgs;
			y[i] = r->samples[w + i].cpu;
		}
		if (stats_theil_sen(x, y, n, &r->cpu_fit) != 0)
			memset(&r->cpu_fit, 0, sizeof(r->cpu_fit));
		if (o->raw) {
			for (i = 0; i < n; i++)
				x[i] = r->samples[w + i].raw;
			if (stats_theil_sen(x, y, n, &r->raw_cpu_fit) != 0)
				memset(&r->raw_cpu_fit, 0, sizeof(r->raw_cpu_fit));
		}
		if (b->t > a->t)
			r->cpu_share = (b->cpu - a->cpu) / (b->t - a->t);
		for (i = 0; i < n; i++)
			y[i] = r->samples[w + i].slab;
	}
	memset(&r->raw_slab_uncorrected, 0, sizeof(r->raw_slab_uncorrected));
	r->drift_ok = r->drift_before.ok || r->drift_after.ok;
	r->drift = r->drift_before.ok && r->drift_after.ok ? (r->drift_before.slope + r->drift_after.slope) / 2 :
	    r->drift_before.ok ? r->drift_before.slope : r->drift_after.ok ? r->drift_after.slope : 0.0;
	if (o->raw) {
		/* Per raw packet: the same samples against the packets sent,
		 * with the host's idle drift (B/s) taken out of Slab first. */
		for (i = 0; i < n; i++)
			x[i] = r->samples[w + i].raw;
		fit_one(x, y, n, &r->raw_slab_uncorrected);
		for (i = 0; i < n; i++)
			y[i] = r->samples[w + i].slab - r->drift * r->samples[w + i].t;
		fit_one(x, y, n, &r->raw_slab_fit);
		if (o->have_target) {
			for (i = 0; i < n; i++)
				y[i] = r->samples[w + i].pss;
			fit_one(x, y, n, &r->raw_pss_fit);
		}
	}
	free(x);
	free(y);
}
