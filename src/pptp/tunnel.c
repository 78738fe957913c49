/*
 * tunnel.c: the tunnel service, a PPTP VPN server (RFC 2637): control
 * connections on TCP 1723, PPP frames in enhanced GRE over one raw
 * IPPROTO_GRE socket, IP packets between each call and one TUN device.
 *
 * Interface: tunnel_service (services.c); holdfastctl tunnel status|calls.
 *
 * Privileged hook (root, before the worker drops privileges): opens the
 * raw GRE socket and the TUN device (tun.c: address, prefix covering the
 * pool, MTU, up) and loads the users file (users.c).  Those fds are
 * static state of this file; the worker keeps them after the drop.
 *
 * Objects and lifetimes:
 *   worker region  struct tunnel: call table (PPTP_CALLS_MAX slots, our
 *                  call id -> call), the pool, the GRE and TUN fds' loop
 *                  handlers.
 *   connection     struct tconn: the control state machine (ctrl.c) with
 *                  calls_max call slots.  Budget: connection_budget.
 *   call region    struct tcall (PPTP_CALL_BUDGET_BYTES): GRE state, the
 *                  PPP engine (ppp.c), its pool address.  A child of the
 *                  worker region, not of the connection: a call is torn
 *                  down from inside PPP and ctrl callbacks, so its region
 *                  is released by a deferred call that must not find it
 *                  already freed with the connection.
 *
 * GRE demultiplexing: the raw socket receives every GRE packet for the
 * host (or namespace).  Each is parsed in place (gre.c), its key's call id
 * indexes the call table (id = generation << 12 | slot, so one array
 * lookup), and its IPv4 source must equal the control connection's peer;
 * anything else is dropped and counted by reason before any per-call
 * work.  Each call then has a token bucket of gre_rate packets per second:
 * excess is dropped before PPP sees it, so a flood of valid-looking
 * packets costs at most gre_rate PPP frames per call per second.  At most
 * PPTP_GRE_BATCH_PKTS datagrams are read per loop round (one recvmmsg),
 * so the control connections and the TUN device get their turn.
 *
 * TUN: a packet read from the device is routed by its destination
 * address (pool_owner) to the call that holds it, once PPP is up; the
 * rest is counted (tun_no_call).  Packets from a call must come from its
 * pool address (anti-spoofing), else they are counted (ip_spoofed).
 *
 * Known weaknesses: IPv4 only (GRE and the pool); packets on loopback
 * between a client and the server in one namespace reach our own raw
 * socket too (they are dropped by the source check unless the peer is
 * ourselves, which tests avoid with network namespaces).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "region.h"
#include "service.h"
#include "stats.h"
#include "pptp/ctrl.h"
#include "pptp/gre.h"
#include "pptp/pool.h"
#include "pptp/ppp.h"
#include "pptp/pptp_limits.h"
#include "pptp/tun.h"
#include "pptp/tunnel.h"
#include "pptp/users.h"

struct tunnel_conf {
	char *tun_name;
	char *local_address;
	char *pool_start;
	char *pool_end;
	struct conf_list dns;
	char *users_file;
	struct conf_list auth;
	char *mppe;
	uint64_t gre_rate;
	uint64_t calls_max;
	uint64_t lcp_echo_interval;
};

#define C(f) offsetof(struct tunnel_conf, f)
static const struct conf_key tunnel_keys[] = {
	{ "tun_name", CONF_STR, "hft0", C(tun_name), 0, 0 },
	{ "local_address", CONF_STR, "10.99.0.1", C(local_address), 0, 0 },
	{ "pool_start", CONF_STR, "10.99.0.10", C(pool_start), 0, 0 },
	{ "pool_end", CONF_STR, "10.99.0.50", C(pool_end), 0, 0 },
	{ "dns", CONF_LIST, "", C(dns), 0, 0 },
	{ "users_file", CONF_PATH, "", C(users_file), 0, 0 },
	{ "auth", CONF_LIST, "mschapv2", C(auth), 0, 0 },
	{ "mppe", CONF_STR, "require", C(mppe), 0, 0 },
	{ "gre_rate", CONF_INT, "2000", C(gre_rate), 1, 1000000 },
	{ "calls_max", CONF_INT, "4", C(calls_max), 1, PPTP_CALLS_PER_CONN_MAX },
	{ "lcp_echo_interval", CONF_DURATION, "30s", C(lcp_echo_interval), 0, 3600 * 1000 },
	CONF_KEYS_END
};
#undef C

/* Opened as root by the privileged hook, kept by the worker. */
static int tunnel_gre_fd = -1;
static int tunnel_tun_fd = -1;

#define CALL_SLOTS PPTP_CALLS_MAX          /* 4096: the low 12 bits of a call id */
#define CALL_SLOT_BITS 12

struct tcall;

struct tunnel {
	struct worker *w;
	const struct tunnel_conf *cf;
	struct server *server;
	struct in_addr local, dns1, dns2;
	unsigned auth;
	enum ppp_mppe mppe;
	struct pool pool;
	struct tcall **calls;              /* CALL_SLOTS, by call id & 0xfff */
	uint16_t next_slot;
	uint8_t gen;
	size_t ncalls;
	struct loop_io gre_io, tun_io;
	/* counters for holdfastctl (the reasons also go to the stats page) */
	uint64_t gre_in, gre_bad, gre_unknown_call, gre_wrong_source, gre_rate_drops, gre_dup;
	uint64_t gre_out, gre_send_errors, gre_window_drops;
	uint64_t tun_in, tun_out, tun_no_call, ip_spoofed;
	uint64_t calls_total;
};

struct tconn {
	struct tunnel *t;
	struct conn *c;
	struct ctrl ctrl;
	uint32_t peer_v4;                  /* network byte order; 0: not IPv4 */
};

struct tcall {
	struct tunnel *t;
	struct region *region;
	struct tconn *tc;                  /* NULL once the call is closed */
	struct ctrl_call *cc;
	uint16_t call_id;
	uint32_t peer_v4;
	struct in_addr addr;               /* from the pool */
	struct gre_call gre;
	struct ppp *ppp;
	int up, dead;
	struct timer ack_timer;
	struct loop_defer start_defer, release_defer;
};

/* What `holdfastctl status` shows beside the runtime's numbers. */
static void
tunnel_publish(struct tunnel *t)
{
	stats_gauge(t->w->stats, "calls", t->ncalls);
	stats_gauge(t->w->stats, "pool_used", t->pool.used);
	stats_gauge(t->w->stats, "pool_size", pool_size(&t->pool));
	stats_gauge(t->w->stats, "call_budget", PPTP_CALL_BUDGET_BYTES);
	stats_gauge(t->w->stats, "gre_rate", t->cf->gre_rate);
}

/* ------------------------------------------------------------------ GRE out */

static int
tcall_gre_send(struct tcall *k, const uint8_t *payload, size_t len)
{
	struct tunnel *t = k->t;
	uint8_t pkt[PPTP_GRE_HDR_MAX_BYTES + PPTP_GRE_PAYLOAD_MAX_BYTES];
	struct sockaddr_in to;
	size_t hl;

	if (len > PPTP_GRE_PAYLOAD_MAX_BYTES)
		return -1;
	/* PPP control frames (protocol 0x8000 and up: LCP, authentication,
	 * NCPs) go whatever the window says: dropping one costs the peer a
	 * restart timer (3 s) and races its state machine.  Data obeys the
	 * window, with a floor (pptp_limits.h). */
	if (len >= 4 && payload[2] < 0x80 && !gre_call_window_open(&k->gre)) {
		t->gre_window_drops++;
		k->gre.drop_window++;
		stats_reject(t->w->stats, "gre_window_full");
		return -1;
	}
	hl = gre_build(&k->gre, pkt, len);
	if (len)
		memcpy(pkt + hl, payload, len);
	memset(&to, 0, sizeof to);
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = k->peer_v4;
	if (sendto(tunnel_gre_fd, pkt, hl + len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to) < 0) {
		t->gre_send_errors++;
		return -1;
	}
	t->gre_out++;
	loop_timer_cancel(t->w->loop, &k->ack_timer);
	return 0;
}

static void
tcall_ack_cb(struct timer *tm, void *arg)
{
	struct tcall *k = arg;

	if (!k->dead && k->gre.ack_owed)
		tcall_gre_send(k, NULL, 0);
}

/* ------------------------------------------------------------------ PPP ops */

static int
ppp_op_send(void *arg, const uint8_t *frame, size_t len)
{
	struct tcall *k = arg;

	if (k->dead)
		return -1;
	return tcall_gre_send(k, frame, len);
}

static void
ppp_op_up(void *arg, struct in_addr peer)
{
	struct tcall *k = arg;
	char a[INET_ADDRSTRLEN];

	k->up = 1;
	inet_ntop(AF_INET, &k->addr, a, sizeof a);
	log_info("call %u: up, %s (%s%s)", k->call_id, a, ppp_peer_name(k->ppp),
	         ppp_mppe_on(k->ppp) ? ", mppe" : "");
}

static void
ppp_op_ip_input(void *arg, const uint8_t *pkt, size_t len)
{
	struct tcall *k = arg;
	struct tunnel *t = k->t;

	if (k->dead || !k->up)
		return;
	/* The peer may only speak from the address it was given. */
	if (len < 20 || (pkt[0] >> 4) != 4 || memcmp(pkt + 12, &k->addr.s_addr, 4) != 0) {
		t->ip_spoofed++;
		stats_reject(t->w->stats, "ip_spoofed");
		return;
	}
	if (write(tunnel_tun_fd, pkt, len) == (ssize_t)len)
		t->tun_out++;
}

static void
ppp_op_down(void *arg, const char *reason)
{
	struct tcall *k = arg;

	k->up = 0;
	log_info("call %u: down: %s", k->call_id, reason);
	if (!k->dead && k->tc != NULL && k->cc != NULL)
		/* CDN result 3: administrative shutdown (our side ended it). */
		ctrl_call_disconnect(&k->tc->ctrl, k->cc, 3);
}

static const struct ppp_ops tunnel_ppp_ops = {
	.send = ppp_op_send,
	.up = ppp_op_up,
	.ip_input = ppp_op_ip_input,
	.down = ppp_op_down,
};

/* ------------------------------------------------------------------ calls */

static void
tcall_start_cb(void *arg)
{
	struct tcall *k = arg;

	if (!k->dead)
		ppp_start(k->ppp);
}

static void
tcall_release_cb(void *arg)
{
	struct tcall *k = arg;

	region_release(k->region);
}

static int
tunnel_call_open(void *arg, struct ctrl_call *cc)
{
	static struct log_rate pool_rl;
	struct tconn *tc = arg;
	struct tunnel *t = tc->t;
	struct ppp_conf pc;
	struct region *r;
	struct tcall *k;
	size_t i;
	unsigned slot = 0;

	if (tc->peer_v4 == 0 || t->ncalls >= CALL_SLOTS - 1)
		return -1;
	for (i = 0; i < CALL_SLOTS; i++) {
		slot = (unsigned)((t->next_slot + i) % CALL_SLOTS);
		if (slot != 0 && t->calls[slot] == NULL)
			break;
	}
	if (i == CALL_SLOTS)
		return -1;
	if ((r = region_new(t->w->region, "call", PPTP_CALL_BUDGET_BYTES)) == NULL)
		return -1;
	if ((k = region_zalloc(r, sizeof *k)) == NULL)
		goto fail;
	k->t = t;
	k->region = r;
	k->tc = tc;
	k->cc = cc;
	k->peer_v4 = tc->peer_v4;
	/* A generation in the high bits: a stale call id from a previous call
	 * in the same slot does not reach the new call. */
	t->gen = (uint8_t)((t->gen + 1) & 0x0f);
	k->call_id = (uint16_t)(t->gen << CALL_SLOT_BITS | slot);   /* never 0: slot 0 is not used */
	timer_init(&k->ack_timer, tcall_ack_cb, k);
	if (pool_take(&t->pool, k, &k->addr) != 0) {
		log_rated(&pool_rl, LOG_LVL_WARN, "tunnel: the address pool is exhausted");
		goto fail;
	}
	gre_call_init(&k->gre, cc->peer_call_id,
	              cc->peer_window < PPTP_PEER_WINDOW_MIN_PKTS ? PPTP_PEER_WINDOW_MIN_PKTS : cc->peer_window,
	              (uint32_t)t->cf->gre_rate, loop_now_ms(t->w->loop));
	memset(&pc, 0, sizeof pc);
	pc.loop = t->w->loop;
	pc.auth = t->auth;
	pc.mppe = t->mppe;
	pc.local_addr = t->local;
	pc.peer_addr = k->addr;
	pc.dns1 = t->dns1;
	pc.dns2 = t->dns2;
	pc.name = "holdfast";
	pc.echo_interval_ms = (uint32_t)t->cf->lcp_echo_interval;
	if ((k->ppp = ppp_new(r, &pc, &tunnel_ppp_ops, k)) == NULL) {
		pool_put(&t->pool, k->addr, k);
		goto fail;
	}
	t->calls[slot] = k;
	t->next_slot = (uint16_t)((slot + 1) % CALL_SLOTS);
	t->ncalls++;
	t->calls_total++;
	tunnel_publish(t);
	cc->call_id = k->call_id;
	cc->data = k;
	/* PPP speaks once the OCRP carrying our call id has been queued. */
	loop_defer(t->w->loop, &k->start_defer, tcall_start_cb, k);
	return 0;
fail:
	region_release(r);
	return -1;
}

static void
tunnel_call_close(void *arg, struct ctrl_call *cc, const char *why)
{
	struct tconn *tc = arg;
	struct tunnel *t = tc->t;
	struct tcall *k = cc->data;
	unsigned slot;

	if (k == NULL || k->dead)
		return;
	k->dead = 1;
	k->up = 0;
	k->tc = NULL;
	k->cc = NULL;
	slot = k->call_id & (CALL_SLOTS - 1);
	if (t->calls[slot] == k) {
		t->calls[slot] = NULL;
		t->ncalls--;
	}
	pool_put(&t->pool, k->addr, k);
	tunnel_publish(t);
	loop_timer_cancel(t->w->loop, &k->ack_timer);
	loop_defer_cancel(t->w->loop, &k->start_defer);
	log_info("call %u: closed: %s", k->call_id, why);
	/* We may be inside a PPP callback of this very call. */
	loop_defer(t->w->loop, &k->release_defer, tcall_release_cb, k);
}

/* ------------------------------------------------------------------ GRE in */

static void
tunnel_gre_packet(struct tunnel *t, const uint8_t *d, size_t len)
{
	struct gre_pkt pkt;
	const char *reason;
	struct tcall *k;

	t->gre_in++;
	if (gre_parse(d, len, &pkt, &reason) != 0) {
		t->gre_bad++;
		stats_reject(t->w->stats, reason);
		return;
	}
	k = t->calls[pkt.call_id & (CALL_SLOTS - 1)];
	if (k == NULL || k->call_id != pkt.call_id || k->dead) {
		t->gre_unknown_call++;
		stats_reject(t->w->stats, "gre_unknown_call");
		return;
	}
	if (pkt.src != k->peer_v4) {
		t->gre_wrong_source++;
		stats_reject(t->w->stats, "gre_wrong_source");
		return;
	}
	if (!gre_call_rate_ok(&k->gre, loop_now_ms(t->w->loop))) {
		t->gre_rate_drops++;
		stats_reject(t->w->stats, "gre_rate");
		return;
	}
	if (!gre_call_receive(&k->gre, &pkt)) {
		if (pkt.has_seq) {
			t->gre_dup++;
			stats_reject(t->w->stats, "gre_duplicate");
		}
		return;
	}
	if (!timer_armed(&k->ack_timer))
		loop_timer_set(t->w->loop, &k->ack_timer, PPTP_GRE_ACK_DELAY_MS);
	if (pkt.payload_len > 0)
		ppp_input(k->ppp, pkt.payload, pkt.payload_len);
}

/* One batch of datagrams (static: one worker, one reader).  Touched at
 * start, so that the first deep batch of a flood does not show up as
 * memory growth. */
static uint8_t gre_bufs[PPTP_GRE_BATCH_PKTS][PPTP_GRE_PKT_MAX_BYTES];
static struct mmsghdr gre_msgs[PPTP_GRE_BATCH_PKTS];
static struct iovec gre_iov[PPTP_GRE_BATCH_PKTS];

static void
tunnel_gre_bufs_init(void)
{
	int i;

	memset(gre_bufs, 0, sizeof gre_bufs);
	for (i = 0; i < PPTP_GRE_BATCH_PKTS; i++) {
		gre_iov[i].iov_base = gre_bufs[i];
		gre_iov[i].iov_len = sizeof gre_bufs[i];
	}
}

static void
tunnel_gre_cb(struct loop_io *io, uint32_t events, void *arg)
{
	struct mmsghdr *msgs = gre_msgs;
	struct tunnel *t = arg;
	int n, i;

	for (i = 0; i < PPTP_GRE_BATCH_PKTS; i++) {
		memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
		msgs[i].msg_hdr.msg_iov = &gre_iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	/* One batch per round: level-triggered epoll brings us back for the rest. */
	n = recvmmsg(tunnel_gre_fd, msgs, PPTP_GRE_BATCH_PKTS, MSG_DONTWAIT, NULL);
	for (i = 0; i < n; i++) {
		if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			t->gre_in++;
			t->gre_bad++;
			stats_reject(t->w->stats, "gre_bad_length");
			continue;
		}
		tunnel_gre_packet(t, gre_bufs[i], msgs[i].msg_len);
	}
}

/* ------------------------------------------------------------------ TUN in */

static void
tunnel_tun_cb(struct loop_io *io, uint32_t events, void *arg)
{
	static uint8_t pkt[PPTP_GRE_PAYLOAD_MAX_BYTES];
	struct tunnel *t = arg;
	int i;

	for (i = 0; i < PPTP_TUN_BATCH_PKTS; i++) {
		ssize_t n = read(tunnel_tun_fd, pkt, sizeof pkt);
		struct tcall *k;
		uint32_t dst;

		if (n < 0)
			break;
		t->tun_in++;
		if (n < 20 || (pkt[0] >> 4) != 4) {
			t->tun_no_call++;
			continue;
		}
		memcpy(&dst, pkt + 16, 4);
		k = pool_owner(&t->pool, dst);
		if (k == NULL || !k->up || k->dead) {
			/* Counted in holdfastctl tunnel status only: the stats
			 * page's reasons are few (STATS_REASONS_MAX). */
			t->tun_no_call++;
			continue;
		}
		ppp_send_ip(k->ppp, pkt, (size_t)n);
	}
}

/* ------------------------------------------------------------------ control connection */

static int
tconn_send(void *arg, const uint8_t *msg, size_t len)
{
	struct tconn *tc = arg;

	return conn_write(tc->c, msg, len);
}

static void
tconn_reject(void *arg, const char *reason)
{
	struct tconn *tc = arg;

	conn_reject(tc->c, reason);
}

static void
tconn_established(void *arg)
{
	struct tconn *tc = arg;

	conn_ready(tc->c);
}

static void
tconn_close(void *arg)
{
	struct tconn *tc = arg;

	conn_close_after_flush(tc->c);
}

static const struct ctrl_ops tunnel_ctrl_ops = {
	.send = tconn_send,
	.call_open = tunnel_call_open,
	.call_close = tunnel_call_close,
	.reject = tconn_reject,
	.established = tconn_established,
	.close = tconn_close,
};

static int
tunnel_on_open(struct conn *c)
{
	struct tunnel *t = conn_service(c);
	const struct sockaddr_storage *ss = conn_peer_addr(c);
	struct tconn *tc = region_zalloc(conn_region(c), sizeof *tc);

	if (tc == NULL || ctrl_init(&tc->ctrl, conn_region(c), (size_t)t->cf->calls_max, &tunnel_ctrl_ops, tc) != 0) {
		conn_reject(c, "budget");
		return -1;
	}
	tc->t = t;
	tc->c = c;
	if (ss->ss_family == AF_INET) {
		tc->peer_v4 = ((const struct sockaddr_in *)ss)->sin_addr.s_addr;
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			memcpy(&tc->peer_v4, s6->sin6_addr.s6_addr + 12, 4);
	}
	conn_set_data(c, tc);
	return 0;
}

static int
tunnel_on_read(struct conn *c, struct buf *in)
{
	struct tconn *tc = conn_data(c);

	/* One message at a time, and only while our replies are being read
	 * (back-pressure: conn re-delivers the rest once the queue drains). */
	while (!conn_closing(c) && !conn_wqueue_over(c)) {
		size_t n = ctrl_input(&tc->ctrl, buf_data(in), buf_len(in));

		if (n == 0)
			break;
		buf_consume(in, n);
	}
	return 0;
}

static void
tunnel_on_timeout(struct conn *c, enum conn_timeout which)
{
	struct tconn *tc = conn_data(c);

	conn_reject(c, which == CONN_TIMEOUT_HANDSHAKE ? "handshake_timeout" : "idle_timeout");
	if (tc)
		ctrl_stop(&tc->ctrl, 1);
}

static void
tunnel_on_close(struct conn *c)
{
	struct tconn *tc = conn_data(c);

	if (tc)
		ctrl_release(&tc->ctrl);
}

static const struct conn_ops tunnel_conn_ops = {
	.on_open = tunnel_on_open,
	.on_read = tunnel_on_read,
	.on_timeout = tunnel_on_timeout,
	.on_close = tunnel_on_close,
};

/* ------------------------------------------------------------------ configuration */

static int
parse_v4(const char *s, struct in_addr *a)
{
	return inet_pton(AF_INET, s, a) == 1 ? 0 : -1;
}

static int
tunnel_parse_auth(const struct conf_list *l, unsigned *out, char *err, size_t errlen)
{
	size_t i;

	*out = 0;
	for (i = 0; i < l->n; i++) {
		if (strcasecmp(l->v[i], "mschapv2") == 0)
			*out |= PPP_AUTH_MSCHAPV2;
		else if (strcasecmp(l->v[i], "chap") == 0)
			*out |= PPP_AUTH_CHAP_MD5;
		else if (strcasecmp(l->v[i], "pap") == 0)
			*out |= PPP_AUTH_PAP;
		else if (strcasecmp(l->v[i], "none") == 0 && l->n == 1)
			*out = 0;
		else {
			snprintf(err, errlen, "auth: '%s' is not mschapv2, chap, pap (or none alone)", l->v[i]);
			return -1;
		}
	}
	return 0;
}

static int
tunnel_parse_mppe(const char *s, enum ppp_mppe *m)
{
	if (strcmp(s, "require") == 0)
		*m = PPP_MPPE_REQUIRE;
	else if (strcmp(s, "allow") == 0)
		*m = PPP_MPPE_ALLOW;
	else if (strcmp(s, "refuse") == 0)
		*m = PPP_MPPE_REFUSE;
	else
		return -1;
	return 0;
}

static int
tunnel_parse(const struct tunnel_conf *cf, struct in_addr *local, struct in_addr *ps, struct in_addr *pe,
             struct in_addr *dns1, struct in_addr *dns2, unsigned *auth, enum ppp_mppe *mppe, char *err, size_t errlen)
{
	if (parse_v4(cf->local_address, local) != 0 || local->s_addr == 0) {
		snprintf(err, errlen, "local_address: '%s' is not an IPv4 address", cf->local_address);
		return -1;
	}
	if (parse_v4(cf->pool_start, ps) != 0 || parse_v4(cf->pool_end, pe) != 0) {
		snprintf(err, errlen, "pool_start, pool_end: IPv4 addresses");
		return -1;
	}
	if (pool_check(*ps, *pe, *local, err, errlen) != 0)
		return -1;
	dns1->s_addr = dns2->s_addr = 0;
	if (cf->dns.n > 2 || (cf->dns.n >= 1 && parse_v4(cf->dns.v[0], dns1) != 0) ||
	    (cf->dns.n == 2 && parse_v4(cf->dns.v[1], dns2) != 0)) {
		snprintf(err, errlen, "dns: at most two IPv4 addresses");
		return -1;
	}
	if (tunnel_parse_auth(&cf->auth, auth, err, errlen) != 0)
		return -1;
	if (tunnel_parse_mppe(cf->mppe, mppe) != 0) {
		snprintf(err, errlen, "mppe: require, allow or refuse");
		return -1;
	}
	if (*mppe == PPP_MPPE_REQUIRE && !(*auth & PPP_AUTH_MSCHAPV2)) {
		snprintf(err, errlen, "mppe = require needs auth to include mschapv2 (MPPE keys come from it)");
		return -1;
	}
	if (*auth != 0 && cf->users_file[0] == '\0') {
		snprintf(err, errlen, "users_file: required unless auth = none");
		return -1;
	}
	return 0;
}

static int
tunnel_check(const struct service_settings *common, const void *conf, char *err, size_t errlen)
{
	const struct tunnel_conf *cf = conf;
	struct in_addr local, ps, pe, d1, d2;
	unsigned auth;
	enum ppp_mppe mppe;

	if (tunnel_parse(cf, &local, &ps, &pe, &d1, &d2, &auth, &mppe, err, errlen) != 0)
		return -1;
	if (strlen(cf->tun_name) == 0 || strlen(cf->tun_name) > 15 || strchr(cf->tun_name, '/') != NULL) {
		snprintf(err, errlen, "tun_name: 1 to 15 characters, no '/'");
		return -1;
	}
	/* The users file is read as root in the worker's privileged hook; a
	 * first check here names a bad file before anything starts. */
	if (auth != 0) {
		if (users_load(cf->users_file, err, errlen) != 0)
			return -1;
		/* The supervisor has no use for the passwords: the worker reads
		 * the file again in its privileged hook. */
		users_clear();
	}
	return 0;
}

static int
tunnel_privileged(struct worker *w, char *err, size_t errlen)
{
	const struct tunnel_conf *cf = w->conf;
	struct in_addr local, ps, pe, d1, d2;
	unsigned auth;
	enum ppp_mppe mppe;

	if (tunnel_parse(cf, &local, &ps, &pe, &d1, &d2, &auth, &mppe, err, errlen) != 0)
		return -1;
	if (auth != 0 && users_load(cf->users_file, err, errlen) != 0)
		return -1;
	if ((tunnel_gre_fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_GRE)) < 0) {
		snprintf(err, errlen, "raw GRE socket: %s", strerror(errno));
		return -1;
	}
	/* Every GRE packet of the host lands in this one socket: a burst from
	 * a flood must not push established calls' packets out while the
	 * worker is descheduled.  Kernel memory, fixed, set as root. */
	if (setsockopt(tunnel_gre_fd, SOL_SOCKET, SO_RCVBUFFORCE, &(int){ PPTP_GRE_RCVBUF_BYTES },
	               sizeof(int)) != 0)
		log_warn("tunnel: SO_RCVBUFFORCE: %s", strerror(errno));
	if ((tunnel_tun_fd = tun_open(cf->tun_name, local, pool_prefix(ps, pe, local), PPTP_TUN_MTU_BYTES, err,
	                              errlen)) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ operator commands */

static int
tunnel_control(struct worker *w, int argc, char *const argv[], char *out, size_t outlen)
{
	struct tunnel *t = w->data;
	size_t off = 0, i;

#define OUT(...)                                                                    \
	do {                                                                        \
		if (off < outlen)                                                   \
			off += (size_t)snprintf(out + off, outlen - off, __VA_ARGS__); \
	} while (0)
	if (strcmp(argv[0], "status") == 0 && argc == 1) {
		OUT("connections %zu\ncalls %zu\ncalls_total %llu\npool_used %zu\npool_size %zu\n",
		    server_conn_count(t->server), t->ncalls, (unsigned long long)t->calls_total, t->pool.used,
		    pool_size(&t->pool));
		OUT("region_bytes %zu\nregion_budget %zu\ncall_budget %d\ngre_rate %llu\ncalls_max %llu\n",
		    region_used(w->region), region_budget(w->region), PPTP_CALL_BUDGET_BYTES,
		    (unsigned long long)t->cf->gre_rate, (unsigned long long)t->cf->calls_max);
		OUT("gre_in %llu\ngre_bad %llu\ngre_unknown_call %llu\ngre_wrong_source %llu\ngre_rate_drops %llu\n"
		    "gre_duplicates %llu\ngre_out %llu\ngre_window_drops %llu\ngre_send_errors %llu\n",
		    (unsigned long long)t->gre_in, (unsigned long long)t->gre_bad,
		    (unsigned long long)t->gre_unknown_call, (unsigned long long)t->gre_wrong_source,
		    (unsigned long long)t->gre_rate_drops, (unsigned long long)t->gre_dup,
		    (unsigned long long)t->gre_out, (unsigned long long)t->gre_window_drops,
		    (unsigned long long)t->gre_send_errors);
		OUT("tun_in %llu\ntun_out %llu\ntun_no_call %llu\nip_spoofed %llu\n", (unsigned long long)t->tun_in,
		    (unsigned long long)t->tun_out, (unsigned long long)t->tun_no_call,
		    (unsigned long long)t->ip_spoofed);
		return 0;
	}
	if (strcmp(argv[0], "calls") == 0 && argc == 1) {
		OUT("# call_id peer_call_id peer address phase user mppe rx tx rate_drops dup_drops window_drops region "
		    "peer_window\n");
		for (i = 0; i < CALL_SLOTS; i++) {
			struct tcall *k = t->calls[i];
			char peer[INET_ADDRSTRLEN], a[INET_ADDRSTRLEN];
			const char *user;

			if (k == NULL || k->dead)
				continue;
			inet_ntop(AF_INET, &k->peer_v4, peer, sizeof peer);
			inet_ntop(AF_INET, &k->addr, a, sizeof a);
			user = ppp_peer_name(k->ppp);
			OUT("%u %u %s %s %s %s %s %llu %llu %llu %llu %llu %zu %u\n", k->call_id, k->gre.peer_call_id, peer,
			    a, ppp_phase_name(ppp_phase(k->ppp)), user[0] ? user : "-", ppp_mppe_on(k->ppp) ? "yes" : "no",
			    (unsigned long long)k->gre.rx_pkts, (unsigned long long)k->gre.tx_pkts,
			    (unsigned long long)k->gre.drop_rate, (unsigned long long)k->gre.drop_seq,
			    (unsigned long long)k->gre.drop_window, region_used(k->region), k->gre.peer_window);
		}
		return 0;
	}
#undef OUT
	snprintf(out, outlen, "usage: tunnel status | calls\n");
	return 1;
}

/* ------------------------------------------------------------------ service */

static int
tunnel_start(struct worker *w)
{
	const struct tunnel_conf *cf = w->conf;
	struct server_conf scf;
	struct in_addr ps, pe;
	char err[256];
	struct tunnel *t;
	size_t i;

	if ((t = region_zalloc(w->region, sizeof *t)) == NULL)
		return -1;
	t->w = w;
	t->cf = cf;
	w->data = t;
	loop_io_init(&t->gre_io);
	loop_io_init(&t->tun_io);
	if (tunnel_parse(cf, &t->local, &ps, &pe, &t->dns1, &t->dns2, &t->auth, &t->mppe, err, sizeof err) != 0) {
		log_err("tunnel: %s", err);
		return -1;
	}
	if (tunnel_gre_fd < 0 || tunnel_tun_fd < 0) {
		log_err("tunnel: no GRE socket or TUN device (the privileged hook did not run)");
		return -1;
	}
	if (pool_init(&t->pool, w->region, ps, pe) != 0 ||
	    (t->calls = region_zalloc(w->region, CALL_SLOTS * sizeof *t->calls)) == NULL)
		return -1;
	if (getrandom(&t->next_slot, sizeof t->next_slot, 0) != sizeof t->next_slot)
		t->next_slot = (uint16_t)clock_ms();
	t->next_slot %= CALL_SLOTS;
	tunnel_gre_bufs_init();
	if (loop_io_add(w->loop, &t->gre_io, tunnel_gre_fd, EPOLLIN, tunnel_gre_cb, t) != 0 ||
	    loop_io_add(w->loop, &t->tun_io, tunnel_tun_fd, EPOLLIN, tunnel_tun_cb, t) != 0) {
		log_err("tunnel: loop: %s", strerror(errno));
		return -1;
	}
	worker_server_conf(w, &scf);
	if ((t->server = server_new(w->loop, w->region, &scf, &tunnel_conn_ops, t, w->stats)) == NULL)
		return -1;
	for (i = 0; i < w->nlisteners; i++)
		if (server_add_listener(t->server, w->listeners[i].fd, w->listeners[i].implicit_tls) != 0)
			return -1;
	tunnel_publish(t);
	log_info("tunnel: %s %s, pool %s-%s, %zu users", cf->tun_name, cf->local_address, cf->pool_start,
	         cf->pool_end, users_count());
	return 0;
}

static void
tunnel_stop(struct worker *w)
{
	struct tunnel *t = w->data;

	server_shutdown(t->server);
}

static size_t
tunnel_busy(struct worker *w)
{
	struct tunnel *t = w->data;

	return server_conn_count(t->server);
}

const struct service tunnel_service = {
	.name = "tunnel",
	.keys = tunnel_keys,
	.conf_size = sizeof(struct tunnel_conf),
	.check = tunnel_check,
	.privileged = tunnel_privileged,
	.start = tunnel_start,
	.stop = tunnel_stop,
	.busy = tunnel_busy,
	.control = tunnel_control,
};
