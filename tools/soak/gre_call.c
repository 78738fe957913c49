/*
 * gre_call.c: established PPTP calls for the ms01-009 GRE flood (raw.c).
 * Malformed GRE aimed at a random call id only reaches a server's
 * "no such call" path; aimed at an established call it reaches the
 * per-call receive path (sequence numbers, acks, the PPP engine), where
 * pptpd's 2014 leak per duplicate sequence number was.  So before the
 * flood, each call is set up as a client would (RFC 2637): a control
 * connection, Start-Control-Connection-Request / -Reply, then
 * Outgoing-Call-Request / -Reply; the server's Call ID from the OCRP is
 * what enhanced GRE carries in its key field to reach that call.
 *
 * During the flood the raw thread calls gre_calls_service(): it answers
 * the server's Echo-Requests (RFC 2637 2.5: no answer tears the control
 * connection down), notices a Call-Disconnect-Notify, a Stop-Control-
 * Connection-Request or a closed connection (a lost call: counted) and
 * sets the call up again after RETRY_S; and, asked to, sends one
 * survivable bad control message on a call's own connection (Set-Link-Info
 * or WAN-Error-Notify for a call id that is not there, an Echo-Reply
 * nobody asked for, a Set-Link-Info with all-ones ACCMs for the call).
 *
 * Interface (soak.h): gre_calls_open(), gre_calls_count(),
 * gre_call_peer_id(), gre_calls_service(), gre_calls_close().
 * Limits: GRE_CALLS_MAX calls; setup bounded by GRE_CALL_SETUP_S; one
 * control message read at most CTL_MSG_MAX bytes (longer: the connection
 * is dropped as lost).
 * Known weaknesses: the setup blocks the raw thread while it runs (at
 * most GRE_CALL_SETUP_S per call); if no call can be set up at the start,
 * none is tried again (the GRE goes to random call ids); IPv4 or IPv6
 * control, but the GRE itself is IPv4 only (raw.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "soak.h"

#define PPTP_MAGIC 0x1A2B3C4Du
#define CTL_MSG_MAX 1024
#define CALL_ID_BASE 0x4000	/* our call ids: CALL_ID_BASE + slot */
#define RETRY_S 0.2	/* a lost call is set up again after this long */

enum { SCCRQ = 1, SCCRP = 2, STOPCCRQ = 3, ECHORQ = 5, ECHORP = 6, OCRQ = 7, OCRP = 8, CALLCLR = 12, CDN = 13,
	WANERR = 14, SLI = 15 };

struct call {
	int fd;			/* -1: not established */
	uint16_t peer_id;	/* the server's call id (OCRP Call ID) */
	uint8_t in[CTL_MSG_MAX];
	size_t inlen;
	double retry_at;
	uint32_t serial;
};

static struct {
	struct sockaddr_storage dst;
	socklen_t dstlen;
	unsigned n;
	struct call calls[GRE_CALLS_MAX];
} gc;

static void
hdr(struct soak_out *o, unsigned len, unsigned ctype)
{
	out_u16be(o, len);
	out_u16be(o, 1);
	out_u32be(o, PPTP_MAGIC);
	out_u16be(o, ctype);
	out_u16be(o, 0);
}

static int
wait_fd(int fd, short ev, double deadline)
{
	for (;;) {
		struct pollfd p = {fd, ev, 0};
		double left = deadline - soak_now();
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&p, 1, (int)(left * 1000.0) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		return rc;
	}
}

static int
send_all(int fd, const uint8_t *b, size_t n, double deadline)
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

/* One whole control message into b (its length returned), or -1. */
static int
read_msg(int fd, uint8_t *b, double deadline)
{
	size_t have = 0, want = 12;

	while (have < want) {
		ssize_t r;

		if (wait_fd(fd, POLLIN, deadline) <= 0)
			return -1;
		r = recv(fd, b + have, want - have, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return -1;
		have += (size_t)r;
		if (have == 12) {
			want = (size_t)b[0] << 8 | b[1];
			if (want < 12 || want > CTL_MSG_MAX)
				return -1;
		}
	}
	return (int)have;
}

static unsigned
ctype_of(const uint8_t *b)
{
	return (unsigned)b[8] << 8 | b[9];
}

/* SCCRQ/SCCRP then OCRQ/OCRP; 0 and c->fd, c->peer_id set, or -1. */
static int
call_setup(unsigned slot, char *err, size_t errlen)
{
	struct call *c = &gc.calls[slot];
	uint8_t buf[256], in[CTL_MSG_MAX];
	struct soak_out o = {buf, 0, sizeof(buf)};
	double deadline = soak_now() + GRE_CALL_SETUP_S;
	int fd, one = 1, n, soerr = 0;
	socklen_t sl = sizeof(soerr);

	fd = socket(gc.dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&gc.dst, gc.dstlen) != 0 &&
	    (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) <= 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0)) {
		snprintf(err, errlen, "control connection: %s", strerror(soerr ? soerr : errno));
		close(fd);
		return -1;
	}
	hdr(&o, 156, SCCRQ);
	out_u16be(&o, 0x0100);
	out_u16be(&o, 0);
	out_u32be(&o, 3);
	out_u32be(&o, 3);
	out_u16be(&o, 1);
	out_u16be(&o, 1);
	out_str(&o, "soak");
	out_fill(&o, 0, 60);
	out_str(&o, "holdfast-soak");
	out_fill(&o, 0, 51);
	if (send_all(fd, buf, o.len, deadline) != 0 || (n = read_msg(fd, in, deadline)) < 16 ||
	    ctype_of(in) != SCCRP || in[14] != 1) {
		snprintf(err, errlen, "no Start-Control-Connection-Reply with result 1 (OK)");
		close(fd);
		return -1;
	}
	o.len = 0;
	c->serial++;
	hdr(&o, 168, OCRQ);
	out_u16be(&o, CALL_ID_BASE + slot);
	out_u16be(&o, c->serial & 0xffff);
	out_u32be(&o, 2400);
	out_u32be(&o, 100000000);
	out_u32be(&o, 3);	/* bearer: analog | digital */
	out_u32be(&o, 3);	/* framing: async | sync */
	out_u16be(&o, 64);	/* our receive window */
	out_u16be(&o, 0);
	out_u16be(&o, 0);	/* phone number length */
	out_u16be(&o, 0);
	out_fill(&o, 0, 128);
	if (send_all(fd, buf, o.len, deadline) != 0) {
		snprintf(err, errlen, "Outgoing-Call-Request not sent");
		close(fd);
		return -1;
	}
	for (;;) {
		n = read_msg(fd, in, deadline);
		if (n < 0) {
			snprintf(err, errlen, "no Outgoing-Call-Reply within %.0f s", GRE_CALL_SETUP_S);
			close(fd);
			return -1;
		}
		if (ctype_of(in) == OCRP)
			break;
		if (ctype_of(in) == ECHORQ && n >= 16) {
			uint8_t rep[20];
			struct soak_out r = {rep, 0, sizeof(rep)};

			hdr(&r, 20, ECHORP);
			out_put(&r, in + 12, 4);
			out_put(&r, "\x01\x00\x00\x00", 4);
			send_all(fd, rep, r.len, deadline);
		}
	}
	if (n < 21 || in[16] != 1) {
		snprintf(err, errlen, "Outgoing-Call-Reply result %u (1 is Connected)", n >= 17 ? in[16] : 0);
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->peer_id = (uint16_t)(in[12] << 8 | in[13]);
	c->inlen = 0;
	return 0;
}

unsigned
gre_calls_open(const struct sockaddr *dst, unsigned n, char *err, size_t errlen)
{
	unsigned i, ok = 0;

	memset(&gc, 0, sizeof(gc));
	gc.dstlen = dst->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	memcpy(&gc.dst, dst, gc.dstlen);
	gc.n = n > GRE_CALLS_MAX ? GRE_CALLS_MAX : n;
	for (i = 0; i < gc.n; i++)
		gc.calls[i].fd = -1;
	for (i = 0; i < gc.n; i++) {
		if (call_setup(i, err, errlen) == 0) {
			ok++;
		} else if (ok == 0) {
			/* Not a PPTP server that sets up calls: stop asking
			 * (each attempt may block GRE_CALL_SETUP_S). */
			gc.n = 0;
			break;
		} else {
			gc.calls[i].retry_at = soak_now() + RETRY_S;
		}
	}
	return ok;
}

unsigned
gre_calls_count(void)
{
	return gc.n;
}

int
gre_call_peer_id(unsigned i, uint16_t *id)
{
	if (i >= gc.n || gc.calls[i].fd < 0)
		return -1;
	*id = gc.calls[i].peer_id;
	return 0;
}

static void
call_lost(struct call *c, struct raw_report *rep)
{
	close(c->fd);
	c->fd = -1;
	c->inlen = 0;
	c->retry_at = soak_now() + RETRY_S;
	rep->gre_call_losses++;
}

/* Handles the messages read so far on c; -1 when the call is gone. */
static int
call_input(struct call *c, struct raw_report *rep)
{
	size_t off = 0;

	while (c->inlen - off >= 12) {
		const uint8_t *m = c->in + off;
		size_t len = (size_t)m[0] << 8 | m[1];

		if (len < 12 || len > CTL_MSG_MAX)
			return -1;
		if (c->inlen - off < len)
			break;
		switch (ctype_of(m)) {
		case ECHORQ:
			if (len >= 16) {
				uint8_t b[20];
				struct soak_out o = {b, 0, sizeof(b)};

				hdr(&o, 20, ECHORP);
				out_put(&o, m + 12, 4);
				out_put(&o, "\x01\x00\x00\x00", 4);
				if (send(c->fd, b, o.len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)o.len)
					rep->echo_replies++;
			}
			break;
		case CDN:
		case STOPCCRQ:
			return -1;
		default:
			break;
		}
		off += len;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return 0;
}

static void
bad_ctl(struct call *c, struct soak_rng *r, struct raw_report *rep)
{
	uint8_t b[64];
	struct soak_out o = {b, 0, sizeof(b)};
	unsigned i;

	switch (soak_rng_below(r, 4)) {
	case 0:	/* Set-Link-Info for a call that is not there */
		hdr(&o, 24, SLI);
		out_u16be(&o, (unsigned)(c->peer_id ^ (1 + soak_rng_below(r, 0xfffe))));
		out_u16be(&o, 0);
		out_u32be(&o, (uint32_t)soak_rng_next(r));
		out_u32be(&o, (uint32_t)soak_rng_next(r));
		break;
	case 1:	/* WAN-Error-Notify (a PAC's message) with absurd counters */
		hdr(&o, 40, WANERR);
		out_u16be(&o, (unsigned)soak_rng_below(r, 65536));
		out_u16be(&o, 0);
		for (i = 0; i < 6; i++)
			out_u32be(&o, 0xffffffffu);
		break;
	case 2:	/* an Echo-Reply nobody asked for */
		hdr(&o, 20, ECHORP);
		out_u32be(&o, (uint32_t)soak_rng_next(r));
		out_put(&o, "\x01\x00\x00\x00", 4);
		break;
	default:	/* Set-Link-Info for the call itself, all-ones ACCMs */
		hdr(&o, 24, SLI);
		out_u16be(&o, c->peer_id);
		out_u16be(&o, 0);
		out_u32be(&o, 0xffffffffu);
		out_u32be(&o, 0xffffffffu);
		break;
	}
	if (send(c->fd, b, o.len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)o.len)
		rep->ctl_sent++;
}

void
gre_calls_service(struct soak_rng *r, int bad, struct raw_report *rep)
{
	unsigned i;
	char err[128];

	for (i = 0; i < gc.n; i++) {
		struct call *c = &gc.calls[i];

		if (c->fd < 0) {
			if (soak_now() >= c->retry_at) {
				if (call_setup(i, err, sizeof(err)) == 0)
					rep->gre_call_setups++;
				else
					c->retry_at = soak_now() + RETRY_S;
			}
			continue;
		}
		for (;;) {
			ssize_t n;

			if (c->inlen == sizeof(c->in)) {
				call_lost(c, rep);
				break;
			}
			n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				call_lost(c, rep);
				break;
			}
			c->inlen += (size_t)n;
			if (call_input(c, rep) != 0) {
				call_lost(c, rep);
				break;
			}
		}
	}
	if (bad && gc.n > 0) {
		struct call *c = &gc.calls[soak_rng_below(r, gc.n)];

		if (c->fd >= 0)
			bad_ctl(c, r, rep);
	}
}

void
gre_calls_close(void)
{
	unsigned i;

	for (i = 0; i < gc.n; i++) {
		if (gc.calls[i].fd >= 0) {
			/* Half-close: the server reads all we sent. */
			shutdown(gc.calls[i].fd, SHUT_WR);
			close(gc.calls[i].fd);
		}
		gc.calls[i].fd = -1;
	}
	gc.n = 0;
}
