/*
 * test_pptp_ppp.c: unit tests for the PPP engine (src/pptp/ppp.c, lcp.c,
 * ppp_auth.c, ipcp.c, mppe.c) against a scripted peer.
 *
 * The test plays the client: it reads what the engine sends (ops->send
 * captures frames), answers with hand-built frames, and computes
 * MS-CHAPv2 and MPPE with ppp_crypto (itself checked against the RFC
 * vectors in test_pptp_crypto.c).  Covers the whole MS-CHAPv2 + IPCP +
 * MPPE negotiation and data both ways, CHAP-MD5 and PAP, wrong passwords,
 * Naks and Rejects, option loops and Configure-Request storms, every
 * length field wrong, unknown codes, options and protocols, replayed and
 * forged MPPE packets, echo, termination by either side; and that none of
 * it changes the call region's charge (no allocation after ppp_new).
 *
 * Timers: restart_ms is 1 ms and a test that needs a timeout runs the
 * loop for a bounded number of rounds until the event it waits for; no
 * test asserts on time.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "region.h"
#include "pptp/ppp.h"
#include "pptp/ppp_crypto.h"
#include "pptp/users.h"

#define LCP  0xc021
#define PAP  0xc023
#define CHAP 0xc223
#define IPCP 0x8021
#define CCP  0x80fd
#define IP   0x0021
#define COMP 0x00fd

#define QMAX 64
#define ROUNDS_MAX 200

struct frame {
	uint8_t b[PPP_FRAME_MAX_BYTES];
	size_t len;
};

struct t {
	struct region *root, *call;
	struct loop *loop;
	struct ppp *ppp;
	struct ppp_conf conf;
	struct frame q[QMAX];
	size_t qhead, qtail;
	int up, down;
	struct in_addr up_addr;
	char down_reason[128];
	uint8_t ip_in[PPP_FRAME_MAX_BYTES];
	size_t ip_in_len;
	int ip_in_count;
	int refuse_send;
	/* client side of MS-CHAPv2/MPPE */
	uint8_t nt[24];
	uint8_t master[16];
	uint8_t tx_start[16], tx_key[16], rx_start[16], rx_key[16];
	uint16_t tx_cc, rx_cc;
	uint8_t lcp_id, ipcp_id, ccp_id;
};

static int
op_send(void *arg, const uint8_t *frame, size_t len)
{
	struct t *t = arg;

	if (t->refuse_send)
		return -1;
	assert_true(len <= PPP_FRAME_MAX_BYTES);
	assert_true(t->qtail - t->qhead < QMAX);
	memcpy(t->q[t->qtail % QMAX].b, frame, len);
	t->q[t->qtail % QMAX].len = len;
	t->qtail++;
	return 0;
}

static void
op_up(void *arg, struct in_addr a)
{
	struct t *t = arg;

	t->up++;
	t->up_addr = a;
}

static void
op_ip_input(void *arg, const uint8_t *p, size_t len)
{
	struct t *t = arg;

	assert_true(len <= sizeof t->ip_in);
	memcpy(t->ip_in, p, len);
	t->ip_in_len = len;
	t->ip_in_count++;
}

static void
op_down(void *arg, const char *reason)
{
	struct t *t = arg;

	t->down++;
	snprintf(t->down_reason, sizeof t->down_reason, "%s", reason);
}

static const struct ppp_ops ops = { op_send, op_up, op_ip_input, op_down };

static const char users_text[] =
    "# test users\n"
    "User clientPass\n"
    "alice   s3cret  \n"
    "\n";

static struct t *
t_new(unsigned auth, enum ppp_mppe mppe)
{
	struct t *t = calloc(1, sizeof *t);
	char err[200];

	assert_non_null(t);
	assert_int_equal(users_load_buf(users_text, sizeof users_text - 1, err, sizeof err), 0);
	t->root = region_new(NULL, "worker", REGION_UNLIMITED);
	t->loop = loop_new(t->root);
	assert_non_null(t->loop);
	t->call = region_new(t->root, "call", 64 * 1024);
	assert_non_null(t->call);
	t->conf.loop = t->loop;
	t->conf.auth = auth;
	t->conf.mppe = mppe;
	inet_pton(AF_INET, "10.99.0.1", &t->conf.local_addr);
	inet_pton(AF_INET, "10.99.0.10", &t->conf.peer_addr);
	inet_pton(AF_INET, "10.99.0.2", &t->conf.dns1);
	t->conf.restart_ms = 1;
	t->ppp = ppp_new(t->call, &t->conf, &ops, t);
	assert_non_null(t->ppp);
	return t;
}

static void
t_free(struct t *t)
{
	region_release(t->root);
	users_clear();
	free(t);
}

static size_t
q_len(const struct t *t)
{
	return t->qtail - t->qhead;
}

static void
q_clear(struct t *t)
{
	t->qhead = t->qtail;
}

/* The next frame the engine sent: checks ff 03, protocol and code; returns
 * the packet (code id len data) and its length. */
static const uint8_t *
expect(struct t *t, uint16_t proto, int code, size_t *len)
{
	struct frame *f;

	assert_true(q_len(t) > 0);
	f = &t->q[t->qhead % QMAX];
	t->qhead++;
	assert_true(f->len >= 4);
	assert_int_equal(f->b[0], 0xff);
	assert_int_equal(f->b[1], 0x03);
	assert_int_equal((f->b[2] << 8) | f->b[3], proto);
	if (code >= 0) {
		assert_true(f->len >= 8);
		assert_int_equal(f->b[4], code);
		/* The Length field matches what was sent. */
		assert_int_equal((size_t)((f->b[6] << 8) | f->b[7]), f->len - 4);
	}
	if (len)
		*len = f->len - 4;
	return f->b + 4;
}

/* Finds the next frame of proto (skipping others, which are kept out). */
static const uint8_t *
find(struct t *t, uint16_t proto, int code, size_t *len)
{
	while (q_len(t) > 0) {
		struct frame *f = &t->q[t->qhead % QMAX];

		if (((f->b[2] << 8) | f->b[3]) == proto && (code < 0 || f->b[4] == code))
			return expect(t, proto, code, len);
		t->qhead++;
	}
	fail_msg("no frame of protocol %04x code %d", proto, code);
	return NULL;
}

static void
feed_raw(struct t *t, const uint8_t *b, size_t len)
{
	ppp_input(t->ppp, b, len);
}

static void
feed(struct t *t, uint16_t proto, uint8_t code, uint8_t id, const void *data, size_t len)
{
	uint8_t b[PPP_FRAME_MAX_BYTES + 64];

	assert_true(len + 8 <= sizeof b);
	b[0] = 0xff;
	b[1] = 0x03;
	b[2] = (uint8_t)(proto >> 8);
	b[3] = (uint8_t)proto;
	b[4] = code;
	b[5] = id;
	b[6] = (uint8_t)((len + 4) >> 8);
	b[7] = (uint8_t)(len + 4);
	if (len)
		memcpy(b + 8, data, len);
	feed_raw(t, b, len + 8);
}

static int
run_until(struct t *t, int *flag)
{
	int i;

	for (i = 0; i < ROUNDS_MAX && !*flag; i++)
		loop_run_once(t->loop, 5);
	return *flag;
}

/* ---- the scripted client ---- */

static const uint8_t peer_lcp_opts[] = {
	1, 4, 0x05, 0x78,               /* MRU 1400 */
	2, 6, 0, 0, 0, 0,               /* ACCM */
	5, 6, 0x12, 0x34, 0x56, 0x78,   /* magic */
	7, 2, 8, 2,                     /* PFC, ACFC */
};

/* LCP to Opened; returns with the engine's first auth frame queued. */
static void
lcp_open(struct t *t)
{
	const uint8_t *p;
	size_t len;
	uint8_t id;

	ppp_start(t->ppp);
	assert_int_equal(ppp_phase(t->ppp), PPP_PHASE_ESTABLISH);
	p = expect(t, LCP, 1, &len);
	id = p[1];
	feed(t, LCP, 1, 7, peer_lcp_opts, sizeof peer_lcp_opts);
	p = expect(t, LCP, 2, &len);
	assert_int_equal(p[1], 7);
	assert_int_equal(len, 4 + sizeof peer_lcp_opts);
	assert_memory_equal(p + 4, peer_lcp_opts, sizeof peer_lcp_opts);
	/* Ack the engine's request: echo its options back. */
	{
		struct frame *f = &t->q[(t->qhead - 2) % QMAX];
		size_t olen = f->len - 8;

		feed(t, LCP, 2, id, f->b + 8, olen);
	}
}

static const uint8_t *
lcp_req_opt(const uint8_t *pkt, size_t len, uint8_t type)
{
	size_t off = 4;

	while (off + 2 <= len) {
		if (pkt[off] == type)
			return pkt + off;
		off += pkt[off + 1];
	}
	return NULL;
}

/* MS-CHAPv2 login as name/pw; returns the engine's reply packet. */
static const uint8_t *
mschapv2_login(struct t *t, const char *name, const char *pw, size_t *rlen)
{
	const uint8_t *p;
	size_t len, nlen = strlen(name);
	uint8_t auth_chal[16], peer_chal[16], resp[1 + 49 + 64];
	uint8_t id;

	p = expect(t, CHAP, 1, &len);
	id = p[1];
	assert_int_equal(p[4], 16);
	memcpy(auth_chal, p + 5, 16);
	assert_memory_equal(p + 21, "holdfast", 8);
	memset(peer_chal, 0x5a, 16);
	mschap_nt_response(auth_chal, peer_chal, name, nlen, pw, strlen(pw), t->nt);
	resp[0] = 49;
	memcpy(resp + 1, peer_chal, 16);
	memset(resp + 17, 0, 8);
	memcpy(resp + 25, t->nt, 24);
	resp[49] = 0;
	memcpy(resp + 50, name, nlen);
	feed(t, CHAP, 2, id, resp, 50 + nlen);
	p = find(t, CHAP, -1, rlen);
	if (p[0] == 3) {
		char want[MSCHAP_AUTH_RESPONSE_CHARS + 1];

		mschap_authenticator_response(pw, strlen(pw), t->nt, peer_chal, auth_chal,
		    name, nlen, want);
		assert_true(*rlen >= 4 + 42);
		assert_memory_equal(p + 4, want, 42);
	}
	return p;
}

static void
client_keys(struct t *t, const char *pw)
{
	uint8_t h[16], hh[16];

	mschap_nt_password_hash(pw, strlen(pw), h);
	mschap_hash_nt_password_hash(h, hh);
	mppe_master_key(hh, t->nt, t->master);
	mppe_start_key(t->master, 1, 0, t->tx_start);
	mppe_start_key(t->master, 0, 0, t->rx_start);
	mppe_new_key_sha(t->tx_start, t->tx_start, t->tx_key);
	mppe_new_key_sha(t->rx_start, t->rx_start, t->rx_key);
	t->tx_cc = 0xfff;
	t->rx_cc = 0xfff;
}

/* IPCP and (if mppe) CCP from the client's side until up. */
static void
network_open(struct t *t, int mppe)
{
	const uint8_t *p;
	size_t len;
	uint8_t ipcp_req_id, ccp_req_id = 0;
	uint8_t zero_addr[] = { 3, 6, 0, 0, 0, 0, 129, 6, 0, 0, 0, 0 };
	uint8_t want_addr[] = { 3, 6, 10, 99, 0, 10, 129, 6, 10, 99, 0, 2 };

	p = find(t, IPCP, 1, &len);
	ipcp_req_id = p[1];
	assert_int_equal(len, 4 + 6);
	assert_int_equal(p[4], 3);
	assert_memory_equal(p + 6, &t->conf.local_addr.s_addr, 4);
	if (mppe) {
		uint8_t ours[] = { 18, 6, 0x01, 0, 0, 0x40 };

		p = find(t, CCP, 1, &len);
		ccp_req_id = p[1];
		assert_int_equal(len, 10);
		assert_memory_equal(p + 4, ours, 6);
	}
	q_clear(t);
	/* IPCP: 0.0.0.0 is Naked to the pool address and DNS. */
	feed(t, IPCP, 1, 1, zero_addr, sizeof zero_addr);
	p = expect(t, IPCP, 3, &len);
	assert_int_equal(len, 4 + sizeof want_addr);
	assert_memory_equal(p + 4, want_addr, sizeof want_addr);
	feed(t, IPCP, 1, 2, want_addr, sizeof want_addr);
	p = expect(t, IPCP, 2, &len);
	assert_int_equal(p[1], 2);
	{
		uint8_t ack[] = { 3, 6, 10, 99, 0, 1 };

		feed(t, IPCP, 2, ipcp_req_id, ack, sizeof ack);
	}
	if (!mppe)
		return;
	assert_int_equal(t->up, 0);   /* no IP before MPPE when it is required */
	{
		/* Windows offers everything first; we Nak to 128-bit stateless. */
		uint8_t all[] = { 18, 6, 0x01, 0, 0, 0xe1 };
		uint8_t ours[] = { 18, 6, 0x01, 0, 0, 0x40 };

		feed(t, CCP, 1, 1, all, sizeof all);
		p = expect(t, CCP, 3, &len);
		assert_memory_equal(p + 4, ours, 6);
		feed(t, CCP, 1, 2, ours, sizeof ours);
		p = expect(t, CCP, 2, &len);
		feed(t, CCP, 2, ccp_req_id, ours, sizeof ours);
	}
}

static void
login_mppe(struct t *t)
{
	const uint8_t *p;
	size_t len;

	lcp_open(t);
	p = mschapv2_login(t, "User", "clientPass", &len);
	assert_int_equal(p[0], 3);
	client_keys(t, "clientPass");
	network_open(t, 1);
	assert_int_equal(t->up, 1);
	assert_int_equal(ppp_phase(t->ppp), PPP_PHASE_RUNNING);
	assert_true(ppp_mppe_on(t->ppp));
	q_clear(t);
}

static size_t
make_ip(uint8_t *b, size_t len, uint8_t fill)
{
	memset(b, fill, len);
	b[0] = 0x45;
	b[1] = 0;
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	return len;
}

/* The client encrypts an IP packet as an MPPE frame (ff 03 00 fd ...). */
static size_t
client_encrypt(struct t *t, const uint8_t *ip, size_t len, uint8_t *out)
{
	struct rc4 r;
	uint8_t k[16];

	t->tx_cc = (t->tx_cc + 1) & 0xfff;
	mppe_rekey(t->tx_start, t->tx_key, k);
	memcpy(t->tx_key, k, 16);
	out[0] = 0xff;
	out[1] = 0x03;
	out[2] = 0x00;
	out[3] = 0xfd;
	out[4] = (uint8_t)(0x90 | (t->tx_cc >> 8));
	out[5] = (uint8_t)t->tx_cc;
	out[6] = 0x00;
	out[7] = 0x21;
	memcpy(out + 8, ip, len);
	rc4_setkey(&r, t->tx_key, 16);
	rc4_crypt(&r, out + 6, out + 6, len + 2);
	return len + 8;
}

/* ---- tests ---- */

static void
test_mschapv2_mppe_both_ways(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2 | PPP_AUTH_CHAP_MD5 | PPP_AUTH_PAP, PPP_MPPE_REQUIRE);
	uint8_t ip[100], frame[PPP_FRAME_MAX_BYTES], dec[PPP_FRAME_MAX_BYTES];
	const uint8_t *p;
	size_t len, n, i;
	size_t used;

	login_mppe(t);
	assert_string_equal(ppp_peer_name(t->ppp), "User");
	assert_int_equal(t->up_addr.s_addr, t->conf.peer_addr.s_addr);
	used = region_used(t->call);

	/* Server to client: three packets, each with the next count and key. */
	for (i = 0; i < 3; i++) {
		struct rc4 r;
		uint8_t k[16];
		uint16_t hdr;

		make_ip(ip, sizeof ip, (uint8_t)(0xa0 + i));
		assert_int_equal(ppp_send_ip(t->ppp, ip, sizeof ip), 0);
		p = expect(t, COMP, -1, &len);
		hdr = (uint16_t)(p[0] << 8 | p[1]);
		assert_int_equal(hdr & 0xf000, 0x9000);      /* flushed + encrypted */
		assert_int_equal(hdr & 0x0fff, i);
		t->rx_cc = (t->rx_cc + 1) & 0xfff;
		mppe_rekey(t->rx_start, t->rx_key, k);
		memcpy(t->rx_key, k, 16);
		rc4_setkey(&r, t->rx_key, 16);
		rc4_crypt(&r, p + 2, dec, len - 2);
		assert_int_equal(dec[0], 0x00);
		assert_int_equal(dec[1], 0x21);
		assert_int_equal(len - 4, sizeof ip);
		assert_memory_equal(dec + 2, ip, sizeof ip);
	}

	/* Client to server. */
	make_ip(ip, sizeof ip, 0x11);
	n = client_encrypt(t, ip, sizeof ip, frame);
	feed_raw(t, frame, n);
	assert_int_equal(t->ip_in_count, 1);
	assert_int_equal(t->ip_in_len, sizeof ip);
	assert_memory_equal(t->ip_in, ip, sizeof ip);

	/* The same frame again (a replay) is discarded. */
	feed_raw(t, frame, n);
	assert_int_equal(t->ip_in_count, 1);
	assert_true(ppp_stats(t->ppp)->mppe_discards >= 1);

	/* A forged frame with the next count does not decrypt to IPv4 and
	 * does not move the receiver's keys: the real next packet passes. */
	memcpy(dec, frame, n);
	dec[4] = 0x90;
	dec[5] = (uint8_t)(t->tx_cc + 1);
	for (i = 6; i < n; i++)
		dec[i] = (uint8_t)(i * 7);
	feed_raw(t, dec, n);
	assert_int_equal(t->ip_in_count, 1);
	make_ip(ip, sizeof ip, 0x22);
	n = client_encrypt(t, ip, sizeof ip, frame);
	feed_raw(t, frame, n);
	assert_int_equal(t->ip_in_count, 2);
	assert_memory_equal(t->ip_in, ip, sizeof ip);

	/* A gap of a few lost packets is fine; plain IP on an MPPE link is not. */
	t->tx_cc = (t->tx_cc + 3) & 0xfff;
	{
		uint8_t k[16];
		int j;

		for (j = 0; j < 3; j++) {
			mppe_rekey(t->tx_start, t->tx_key, k);
			memcpy(t->tx_key, k, 16);
		}
	}
	n = client_encrypt(t, ip, sizeof ip, frame);
	feed_raw(t, frame, n);
	assert_int_equal(t->ip_in_count, 3);
	frame[2] = 0x00;
	frame[3] = 0x21;
	memcpy(frame + 4, ip, sizeof ip);
	feed_raw(t, frame, 4 + sizeof ip);
	assert_int_equal(t->ip_in_count, 3);

	/* CCP Reset-Request on an open link: Reset-Ack (stateless: no rekey). */
	feed(t, CCP, 14, 7, NULL, 0);
	p = expect(t, CCP, 15, NULL);
	assert_int_equal(p[1], 7);
	/* The peer's MRU (1400) bounds the information field, MPPE's 4 bytes
	 * included: 1396 bytes of IP fit, 1397 do not. */
	q_clear(t);
	make_ip(frame, 1396, 0x55);
	assert_int_equal(ppp_send_ip(t->ppp, frame, 1396), 0);
	expect(t, COMP, -1, &len);
	assert_int_equal(len, 1400);
	make_ip(frame, 1397, 0x55);
	assert_int_equal(ppp_send_ip(t->ppp, frame, 1397), -1);
	assert_int_equal(q_len(t), 0);
	assert_int_equal(region_used(t->call), used);
	assert_int_equal(t->down, 0);
	t_free(t);
}

/* Skipped coherency counts cost rekeys; forged ones drain a per-call
 * budget, after which skips are refused until it refills. */
static void
test_mppe_rekey_budget(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_REQUIRE);
	uint8_t ip[60], frame[PPP_FRAME_MAX_BYTES], forged[PPP_FRAME_MAX_BYTES];
	uint64_t disc;
	size_t n, i;
	int k, r;

	login_mppe(t);
	make_ip(ip, sizeof ip, 0x44);
	/* Forged packets 1000, 100, 10, 2 counts ahead (each costs gap - 1
	 * extra rekeys) until the budget is spent. */
	memset(forged, 0x3c, sizeof forged);
	forged[0] = 0xff;
	forged[1] = 0x03;
	forged[2] = 0x00;
	forged[3] = 0xfd;
	for (k = 0; k < 40; k++) {
		static const uint16_t gaps[4] = { 1000, 100, 10, 2 };
		uint16_t cc = (uint16_t)((t->tx_cc + gaps[k / 10]) & 0xfff);

		forged[4] = (uint8_t)(0x90 | (cc >> 8));
		forged[5] = (uint8_t)cc;
		feed_raw(t, forged, 80);
	}
	assert_int_equal(t->ip_in_count, 0);
	disc = ppp_stats(t->ppp)->mppe_discards;
	assert_int_equal(disc, 40);
	/* A real packet after two lost ones needs 2 extra rekeys: refused
	 * while the budget is spent (the loop's clock has not moved). */
	for (i = 0; i < 2; i++) {
		uint8_t kk[16];

		t->tx_cc = (t->tx_cc + 1) & 0xfff;
		mppe_rekey(t->tx_start, t->tx_key, kk);
		memcpy(t->tx_key, kk, 16);
	}
	n = client_encrypt(t, ip, sizeof ip, frame);
	feed_raw(t, frame, n);
	assert_int_equal(t->ip_in_count, 0);
	assert_int_equal(ppp_stats(t->ppp)->mppe_discards, disc + 1);
	/* Once the budget refills, the next one (now 3 skipped) passes. */
	for (r = 0; r < ROUNDS_MAX && t->ip_in_count == 0; r++) {
		loop_run_once(t->loop, 5);
		n = client_encrypt(t, ip, sizeof ip, frame);
		feed_raw(t, frame, n);
	}
	assert_int_equal(t->ip_in_count, 1);
	assert_memory_equal(t->ip_in, ip, sizeof ip);
	t_free(t);
}

static void
test_mschapv2_wrong_password(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_REQUIRE);
	const uint8_t *p;
	size_t len;

	lcp_open(t);
	p = mschapv2_login(t, "User", "clientPasS", &len);
	assert_int_equal(p[0], 4);
	assert_true(len >= 4 + 10);
	assert_memory_equal(p + 4, "E=691 R=0 ", 10);
	assert_non_null(memmem(p + 4, len - 4, " V=3 M=", 7));
	/* Whole, not cut by a buffer: ends with its message. */
	assert_int_equal(len - 4, 12 + 32 + 4 + 25);
	assert_memory_equal(p + len - 7, "failure", 7);
	p = expect(t, LCP, 5, &len);   /* Terminate-Request */
	feed(t, LCP, 6, p[1], NULL, 0);
	assert_int_equal(t->down, 1);
	assert_string_equal(t->down_reason, "authentication failed");
	assert_int_equal(t->up, 0);
	assert_int_equal(ppp_stats(t->ppp)->auth_failures, 1);
	/* After down the engine is inert. */
	q_clear(t);
	feed(t, LCP, 1, 9, peer_lcp_opts, sizeof peer_lcp_opts);
	assert_int_equal(q_len(t), 0);
	t_free(t);
}

static void
test_unknown_user_and_domain_prefix(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_ALLOW);
	const uint8_t *p;
	size_t len;

	lcp_open(t);
	/* "CORP\User" is looked up as "User" when not found as given. */
	p = mschapv2_login(t, "CORP\\User", "clientPass", &len);
	assert_int_equal(p[0], 3);
	t_free(t);

	t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_ALLOW);
	lcp_open(t);
	p = mschapv2_login(t, "nobody", "clientPass", &len);
	assert_int_equal(p[0], 4);
	t_free(t);
}

static void
test_chap_md5_after_nak(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2 | PPP_AUTH_CHAP_MD5, PPP_MPPE_ALLOW);
	const uint8_t *p, *o;
	size_t len;
	uint8_t id, nak[] = { 3, 5, 0xc2, 0x23, 0x05 }, resp[1 + 16 + 5], chal[16];

	ppp_start(t->ppp);
	p = expect(t, LCP, 1, &len);
	o = lcp_req_opt(p, len, 3);
	assert_non_null(o);
	assert_int_equal(o[1], 5);
	assert_int_equal(o[4], 0x81);   /* MS-CHAPv2 first */
	feed(t, LCP, 3, p[1], nak, sizeof nak);
	p = expect(t, LCP, 1, &len);
	o = lcp_req_opt(p, len, 3);
	assert_non_null(o);
	assert_int_equal(o[4], 0x05);   /* then CHAP-MD5, as the peer asked */
	id = p[1];
	{
		uint8_t opts[64];

		memcpy(opts, p + 4, len - 4);
		feed(t, LCP, 2, id, opts, len - 4);
	}
	feed(t, LCP, 1, 1, peer_lcp_opts, sizeof peer_lcp_opts);
	expect(t, LCP, 2, NULL);
	p = expect(t, CHAP, 1, &len);
	assert_int_equal(p[4], 16);
	memcpy(chal, p + 5, 16);
	id = p[1];
	resp[0] = 16;
	assert_int_equal(md5_digest3(&id, 1, "s3cret", 6, chal, 16, resp + 1), 0);
	memcpy(resp + 17, "alice", 5);
	feed(t, CHAP, 2, id, resp, sizeof resp);
	p = expect(t, CHAP, 3, &len);
	/* A repeated Response gets the same Success (ours may have been lost). */
	feed(t, CHAP, 2, id, resp, sizeof resp);
	p = find(t, CHAP, 3, &len);
	assert_string_equal(ppp_peer_name(t->ppp), "alice");
	/* No MS-CHAPv2: no MPPE keys, so no CCP; IPCP alone brings it up. */
	q_clear(t);
	t_free(t);
}

static void
test_pap_retries_bounded(void **state)
{
	struct t *t = t_new(PPP_AUTH_PAP, PPP_MPPE_ALLOW);
	uint8_t req[1 + 5 + 1 + 6];
	int i;

	lcp_open(t);
	assert_int_equal(ppp_phase(t->ppp), PPP_PHASE_AUTHENTICATE);
	q_clear(t);
	req[0] = 5;
	memcpy(req + 1, "alice", 5);
	req[6] = 6;
	memcpy(req + 7, "wrong!", 6);
	for (i = 0; i < PPP_AUTH_ATTEMPTS_MAX; i++) {
		feed(t, PAP, 1, (uint8_t)i, req, sizeof req);
		expect(t, PAP, 3, NULL);
	}
	expect(t, LCP, 5, NULL);
	assert_int_equal(run_until(t, &t->down), 1);
	t_free(t);

	t = t_new(PPP_AUTH_PAP, PPP_MPPE_ALLOW);
	lcp_open(t);
	q_clear(t);
	memcpy(req + 7, "s3cret", 6);
	feed(t, PAP, 1, 1, req, sizeof req);
	expect(t, PAP, 2, NULL);
	/* MPPE allowed but no keys: IPCP alone; the network phase begins. */
	assert_int_equal(ppp_phase(t->ppp), PPP_PHASE_NETWORK);
	network_open(t, 0);
	assert_int_equal(t->up, 1);
	assert_false(ppp_mppe_on(t->ppp));
	{
		uint8_t ip[40], f[4 + 40];

		make_ip(ip, sizeof ip, 1);
		f[0] = 0xff;
		f[1] = 0x03;
		f[2] = 0;
		f[3] = 0x21;
		memcpy(f + 4, ip, sizeof ip);
		feed_raw(t, f, sizeof f);
		assert_int_equal(t->ip_in_count, 1);
		/* Compressed protocol and no address/control field (PFC, ACFC). */
		feed_raw(t, f + 3, sizeof f - 3);
		assert_int_equal(t->ip_in_count, 2);
		q_clear(t);
		assert_int_equal(ppp_send_ip(t->ppp, ip, sizeof ip), 0);
		expect(t, IP, -1, NULL);
	}
	t_free(t);
}

static void
test_mppe_required_but_pap(void **state)
{
	struct t *t = t_new(PPP_AUTH_PAP, PPP_MPPE_REQUIRE);
	uint8_t req[] = { 5, 'a', 'l', 'i', 'c', 'e', 6, 's', '3', 'c', 'r', 'e', 't' };

	lcp_open(t);
	q_clear(t);
	feed(t, PAP, 1, 1, req, sizeof req);
	expect(t, PAP, 2, NULL);
	expect(t, LCP, 5, NULL);
	assert_int_equal(run_until(t, &t->down), 1);
	assert_int_equal(t->up, 0);
	t_free(t);
}

static void
test_lcp_options(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_ALLOW);
	const uint8_t *p;
	size_t len;
	uint32_t our_magic;

	ppp_start(t->ppp);
	p = expect(t, LCP, 1, &len);
	our_magic = (uint32_t)p[len - 4] << 24 | (uint32_t)p[len - 3] << 16 | p[len - 2] << 8 | p[len - 1];
	assert_int_equal(p[len - 6], 5);

	/* Unknown, callback, auth-protocol and multilink options are Rejected
	 * together; the valid ones are not in the Reject. */
	{
		uint8_t o[] = { 1, 4, 5, 0xdc, 3, 4, 0xc0, 0x23, 13, 3, 6, 17, 4, 5, 0xdc, 99, 3, 1 };
		uint8_t rej[] = { 3, 4, 0xc0, 0x23, 13, 3, 6, 17, 4, 5, 0xdc, 99, 3, 1 };

		feed(t, LCP, 1, 1, o, sizeof o);
		p = expect(t, LCP, 4, &len);
		assert_int_equal(len, 4 + sizeof rej);
		assert_memory_equal(p + 4, rej, sizeof rej);
	}
	/* A small MRU is Naked up to the minimum; options with a wrong
	 * length are Rejected. */
	{
		uint8_t o[] = { 1, 4, 0, 100 };
		uint8_t o2[] = { 1, 3, 0, 7, 3, 0 };

		feed(t, LCP, 1, 2, o, sizeof o);
		p = expect(t, LCP, 3, &len);
		assert_int_equal(len, 8);
		assert_int_equal(p[4], 1);
		assert_int_equal((p[6] << 8) | p[7], PPP_MRU_MIN);
		feed(t, LCP, 1, 3, o2, sizeof o2);
		p = expect(t, LCP, 4, &len);
		assert_int_equal(len, 4 + sizeof o2);
		assert_memory_equal(p + 4, o2, sizeof o2);
	}
	/* Our own magic from the peer: a loop; Naked with another number. */
	{
		uint8_t o[6] = { 5, 6 };
		uint32_t sugg;

		o[2] = (uint8_t)(our_magic >> 24);
		o[3] = (uint8_t)(our_magic >> 16);
		o[4] = (uint8_t)(our_magic >> 8);
		o[5] = (uint8_t)our_magic;
		feed(t, LCP, 1, 4, o, sizeof o);
		p = expect(t, LCP, 3, &len);
		assert_int_equal(len, 10);
		sugg = (uint32_t)p[6] << 24 | (uint32_t)p[7] << 16 | p[8] << 8 | p[9];
		assert_int_not_equal(sugg, our_magic);
		assert_int_not_equal(sugg, 0);
	}
	/* An Ack that is not of our last request (wrong id, wrong options) is dropped. */
	{
		uint8_t o[] = { 5, 6, 1, 2, 3, 4 };
		uint64_t bad = ppp_stats(t->ppp)->bad_frames;

		feed(t, LCP, 2, 200, o, sizeof o);
		assert_int_equal(ppp_stats(t->ppp)->bad_frames, bad + 1);
		assert_int_equal(q_len(t), 0);
	}
	t_free(t);
}

/* The peer keeps sending our own magic number back: a looped-back line.
 * Each time we Nak and change ours; past the bound the link closes with a
 * Terminate-Request and no reply to that request. */
static void
test_magic_loop_closes(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_ALLOW);
	const uint8_t *p;
	size_t len;
	int k, term = 0;

	ppp_start(t->ppp);
	for (k = 0; k < 10 && !term; k++) {
		uint8_t o[6] = { 5, 6 };
		int r;

		/* The latest Configure-Request carries our current magic. */
		p = NULL;
		for (r = 0; r < ROUNDS_MAX && !p; r++) {
			while (q_len(t) > 0 && !p) {
				struct frame *f = &t->q[t->qhead % QMAX];

				t->qhead++;
				if (f->b[2] == 0xc0 && f->b[3] == 0x21 && f->b[4] == 1)
					p = f->b + 4;
				else if (f->b[2] == 0xc0 && f->b[3] == 0x21 && f->b[4] == 5)
					term = 1;
			}
			if (!p && !term)
				loop_run_once(t->loop, 5);
			if (term)
				break;
		}
		if (term)
			break;
		assert_non_null(p);
		len = (size_t)(p[2] << 8 | p[3]);
		memcpy(o + 2, p + len - 4, 4);
		q_clear(t);
		feed(t, LCP, 1, (uint8_t)k, o, sizeof o);
		assert_true(q_len(t) >= 1);
		p = expect(t, LCP, -1, &len);
		if (p[0] == 5) {
			term = 1;
			assert_int_equal(q_len(t), 0);   /* no Nak after giving up */
		} else {
			assert_int_equal(p[0], 3);
		}
	}
	assert_true(term);
	assert_int_equal(k, 6);   /* 5 Naks (LCP_LOOPS_MAX), the close on the 6th */
	t_free(t);
}

static void
test_peer_rejects_auth(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_ALLOW);
	const uint8_t *p;
	size_t len;
	uint8_t rej[] = { 3, 5, 0xc2, 0x23, 0x81 };

	ppp_start(t->ppp);
	p = expect(t, LCP, 1, &len);
	feed(t, LCP, 4, p[1], rej, sizeof rej);
	expect(t, LCP, 5, NULL);
	assert_int_equal(run_until(t, &t->down), 1);
	assert_string_equal(t->down_reason, "peer refuses to authenticate");
	t_free(t);
}

static void
test_nak_loops_and_storms_bounded(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_ALLOW);
	const uint8_t *p;
	size_t len, used;
	uint8_t mru[] = { 1, 4, 0, 100 };
	int i, saw_rej = 0;

	ppp_start(t->ppp);
	q_clear(t);
	used = region_used(t->call);
	/* The peer insists on a tiny MRU: Naks, then (Max-Failure) a Reject. */
	for (i = 0; i < PPP_MAX_FAILURE + 1; i++) {
		feed(t, LCP, 1, (uint8_t)i, mru, sizeof mru);
		p = expect(t, LCP, -1, &len);
		if (p[0] == 4)
			saw_rej = 1;
		else
			assert_int_equal(p[0], 3);
	}
	assert_true(saw_rej);
	/* A storm of Configure-Requests: answered up to PPP_CONF_REQ_MAX in
	 * all, then one Terminate-Request and silence. */
	{
		int answered = 0, terms = 0, after_term = 0;

		for (i = 0; i < 1000; i++) {
			feed(t, LCP, 1, (uint8_t)i, peer_lcp_opts, sizeof peer_lcp_opts);
			while (q_len(t) > 0) {
				p = expect(t, LCP, -1, &len);
				if (p[0] == 5)
					terms++;
				else if (terms)
					after_term++;
				else if (p[0] >= 2 && p[0] <= 4)
					answered++;
			}
		}
		assert_int_equal(answered, PPP_CONF_REQ_MAX - (PPP_MAX_FAILURE + 1));
		assert_int_equal(terms, 1);
		assert_int_equal(after_term, 0);
	}
	run_until(t, &t->down);
	assert_int_equal(t->down, 1);
	assert_int_equal(region_used(t->call), used);
	t_free(t);
}

static void
test_lengths_wrong(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_REQUIRE);
	uint8_t b[64];
	uint64_t bad;
	size_t used;
	int k;

	ppp_start(t->ppp);
	q_clear(t);
	used = region_used(t->call);
	bad = ppp_stats(t->ppp)->bad_frames;
	/* Empty, one byte, bad protocol field (even last octet). */
	feed_raw(t, b, 0);
	b[0] = 0xff; b[1] = 0x03;
	feed_raw(t, b, 2);
	b[2] = 0xc0; b[3] = 0x20;
	feed_raw(t, b, 4);
	b[2] = 0xc0;
	feed_raw(t, b, 3);
	assert_int_equal(ppp_stats(t->ppp)->bad_frames, bad + 4);
	/* LCP: every Length from 0 to 3, and past the frame. */
	b[2] = 0xc0; b[3] = 0x21; b[4] = 1; b[5] = 1;
	for (k = 0; k < 4; k++) {
		b[6] = 0;
		b[7] = (uint8_t)k;
		feed_raw(t, b, 8);
	}
	b[6] = 0; b[7] = 20;
	feed_raw(t, b, 8 + 10);
	b[6] = 0xff; b[7] = 0xff;
	feed_raw(t, b, 8 + 10);
	/* Shorter than a header. */
	feed_raw(t, b, 7);
	assert_int_equal(ppp_stats(t->ppp)->bad_frames, bad + 4 + 7);
	/* Options: length 0, 1, past the end. */
	{
		uint8_t o0[] = { 1, 0, 5, 0xdc }, o1[] = { 1, 1 }, o2[] = { 1, 4, 5 }, o3[] = { 5 };

		feed(t, LCP, 1, 1, o0, sizeof o0);
		feed(t, LCP, 1, 1, o1, sizeof o1);
		feed(t, LCP, 1, 1, o2, sizeof o2);
		feed(t, LCP, 1, 1, o3, sizeof o3);
	}
	assert_int_equal(ppp_stats(t->ppp)->bad_frames, bad + 4 + 7 + 4);
	/* Nothing answered any of it. */
	assert_int_equal(q_len(t), 0);
	/* Too long a frame. */
	{
		static uint8_t big[PPP_FRAME_MAX_BYTES + 10];

		memset(big, 0, sizeof big);
		big[0] = 0xff; big[1] = 0x03; big[2] = 0xc0; big[3] = 0x21;
		feed_raw(t, big, sizeof big);
	}
	/* NCP and auth before their phase are dropped. */
	feed(t, IPCP, 1, 1, NULL, 0);
	feed(t, CHAP, 2, 1, NULL, 0);
	feed(t, CCP, 1, 1, NULL, 0);
	assert_int_equal(q_len(t), 0);
	assert_int_equal(region_used(t->call), used);
	assert_int_equal(t->down, 0);
	t_free(t);
}

static void
test_auth_lengths_wrong(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_ALLOW);
	const uint8_t *p;
	size_t len;
	uint8_t id, r[80];
	uint64_t bad;

	lcp_open(t);
	p = expect(t, CHAP, 1, &len);
	id = p[1];
	bad = ppp_stats(t->ppp)->bad_frames;
	memset(r, 0, sizeof r);
	/* Value-Size beyond the packet, the wrong size, no value at all,
	 * the wrong identifier, an unknown code, a PAP packet. */
	r[0] = 200;
	feed(t, CHAP, 2, id, r, 60);
	r[0] = 48;
	feed(t, CHAP, 2, id, r, 60);
	feed(t, CHAP, 2, id, r, 0);
	r[0] = 49;
	feed(t, CHAP, 2, (uint8_t)(id + 1), r, 60);
	feed(t, CHAP, 9, id, r, 60);
	feed(t, PAP, 1, id, r, 10);
	assert_int_equal(ppp_stats(t->ppp)->bad_frames, bad + 6);
	assert_int_equal(q_len(t), 0);
	/* The real login still works afterwards (same challenge). */
	t->qhead--;   /* put the Challenge back */
	p = mschapv2_login(t, "User", "clientPass", &len);
	assert_int_equal(p[0], 3);
	t_free(t);
}

static void
test_codes_and_protocols(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_REQUIRE);
	const uint8_t *p;
	size_t len;
	uint8_t data[] = { 0xde, 0xad, 0xbe, 0xef, 'h', 'i' };

	lcp_open(t);
	q_clear(t);
	/* Echo-Request: Echo-Reply with our magic and the data. */
	feed(t, LCP, 9, 42, data, sizeof data);
	p = expect(t, LCP, 10, &len);
	assert_int_equal(p[1], 42);
	assert_int_equal(len, 4 + sizeof data);
	assert_memory_equal(p + 8, "hi", 2);
	assert_memory_not_equal(p + 4, data, 4);
	/* Unknown code: Code-Reject carrying the packet. */
	feed(t, LCP, 77, 3, data, sizeof data);
	p = expect(t, LCP, 7, &len);
	assert_int_equal(len, 4 + 4 + sizeof data);
	assert_int_equal(p[4], 77);
	/* Unknown protocol after LCP is up: Protocol-Reject. */
	{
		uint8_t f[] = { 0xff, 0x03, 0x80, 0x57, 1, 1, 0, 4 };

		feed_raw(t, f, sizeof f);
		p = expect(t, LCP, 8, &len);
		assert_int_equal(len, 4 + 2 + 4);
		assert_int_equal(p[4], 0x80);
		assert_int_equal(p[5], 0x57);
		assert_int_equal(ppp_stats(t->ppp)->unknown_proto, 1);
	}
	/* Discard-Request: nothing. */
	feed(t, LCP, 11, 1, data, sizeof data);
	assert_int_equal(q_len(t), 0);
	t_free(t);
}

static void
test_terminate_both_ways(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_REQUIRE);
	const uint8_t *p;

	login_mppe(t);
	feed(t, LCP, 5, 9, "bye", 3);
	p = expect(t, LCP, 6, NULL);
	assert_int_equal(p[1], 9);
	assert_int_equal(ppp_phase(t->ppp), PPP_PHASE_ESTABLISH);
	assert_int_equal(ppp_send_ip(t->ppp, (const uint8_t *)"x", 1), -1);
	assert_int_equal(run_until(t, &t->down), 1);
	assert_string_equal(t->down_reason, "peer terminated");
	t_free(t);

	t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_REQUIRE);
	login_mppe(t);
	ppp_close(t->ppp, "administrative");
	p = expect(t, LCP, 5, NULL);
	assert_int_equal(t->down, 0);
	feed(t, LCP, 6, p[1], NULL, 0);
	assert_int_equal(t->down, 1);
	assert_string_equal(t->down_reason, "administrative");
	/* Exactly once, and inert afterwards. */
	ppp_close(t->ppp, "again");
	assert_int_equal(t->down, 1);
	t_free(t);
}

static void
test_silent_peer_times_out(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_REQUIRE);
	size_t n;

	ppp_start(t->ppp);
	assert_int_equal(run_until(t, &t->down), 1);
	/* Max-Configure requests, then give up. */
	n = q_len(t);
	assert_int_equal(n, PPP_MAX_CONFIGURE);
	t_free(t);
}

static void
test_echo_timeout(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_REQUIRE);

	t->conf.echo_interval_ms = 1;
	t->conf.echo_failures = 2;
	region_release(t->call);
	t->call = region_new(t->root, "call", 64 * 1024);
	t->ppp = ppp_new(t->call, &t->conf, &ops, t);
	login_mppe(t);
	assert_int_equal(run_until(t, &t->down), 1);
	assert_string_equal(t->down_reason, "peer does not answer LCP echo");
	t_free(t);
}

/* 200,000 malformed frames of every kind at a running link: no growth,
 * and the link still carries traffic afterwards. */
static void
test_flood_no_growth(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_REQUIRE);
	uint8_t b[256], ip[60], frame[PPP_FRAME_MAX_BYTES];
	size_t used, root_used, n;
	uint32_t x = 12345;
	int i;

	login_mppe(t);
	used = region_used(t->call);
	root_used = region_used(t->root);
	for (i = 0; i < 200000; i++) {
		size_t len, k;

		x = x * 1103515245u + 12345u;
		len = (x >> 8) % sizeof b;
		for (k = 0; k < len; k++) {
			x = x * 1103515245u + 12345u;
			b[k] = (uint8_t)(x >> 16);
		}
		/* Aim at the interesting protocols most of the time. */
		if (len >= 4 && (i & 3) != 0) {
			static const uint16_t protos[] = { LCP, IPCP, CCP, CHAP, COMP, IP };
			uint16_t pr = protos[(x >> 4) % 6];

			b[0] = 0xff;
			b[1] = 0x03;
			b[2] = (uint8_t)(pr >> 8);
			b[3] = (uint8_t)pr;
			if (pr == LCP && len >= 8)
				b[4] = (uint8_t)(8 + (x & 3));   /* echo/discard/codes, not Term/Conf */
		}
		feed_raw(t, b, len);
		q_clear(t);
	}
	assert_int_equal(region_used(t->call), used);
	assert_int_equal(region_used(t->root), root_used);
	assert_int_equal(t->down, 0);
	make_ip(ip, sizeof ip, 0x33);
	n = client_encrypt(t, ip, sizeof ip, frame);
	/* Random COMP frames may have advanced the receiver a little, but
	 * only on a plausible decryption; the next real packet must pass
	 * unless a forgery decrypted to IPv4 (chance ~2^-30 each). */
	feed_raw(t, frame, n);
	assert_int_equal(t->ip_in_count, 1);
	assert_memory_equal(t->ip_in, ip, sizeof ip);
	t_free(t);
}

static void
test_ipcp_and_ccp_options(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_ALLOW);
	const uint8_t *p;
	size_t len;
	/* Address, primary DNS, NBNS, secondary DNS (not configured), VJ. */
	uint8_t req[] = { 3, 6, 0, 0, 0, 0, 129, 6, 0, 0, 0, 0, 130, 6, 0, 0, 0, 0,
	    131, 6, 0, 0, 0, 0, 2, 6, 0, 0x2d, 0x0f, 0x01 };
	uint8_t rej[] = { 130, 6, 0, 0, 0, 0, 131, 6, 0, 0, 0, 0, 2, 6, 0, 0x2d, 0x0f, 0x01 };
	uint8_t noaddr[] = { 129, 6, 10, 99, 0, 2 };
	uint8_t stac[] = { 17, 5, 0, 1, 0 }, mppe40[] = { 18, 6, 0, 0, 0, 0x20 };

	lcp_open(t);
	p = mschapv2_login(t, "User", "clientPass", &len);
	assert_int_equal(p[0], 3);
	q_clear(t);
	/* Rejects first, the rest in the next round (RFC 1661 5.4). */
	feed(t, IPCP, 1, 1, req, sizeof req);
	p = expect(t, IPCP, 4, &len);
	assert_int_equal(len, 4 + sizeof rej);
	assert_memory_equal(p + 4, rej, sizeof rej);
	/* No address option at all: Naked with the pool address. */
	feed(t, IPCP, 1, 2, noaddr, sizeof noaddr);
	p = expect(t, IPCP, 3, &len);
	assert_int_equal(len, 4 + 6);
	assert_int_equal(p[4], 3);
	assert_memory_equal(p + 6, &t->conf.peer_addr.s_addr, 4);
	/* CCP: other compressors are Rejected, 40-bit MPPE Naked to 128-bit stateless. */
	feed(t, CCP, 1, 1, stac, sizeof stac);
	p = expect(t, CCP, 4, &len);
	assert_memory_equal(p + 4, stac, sizeof stac);
	feed(t, CCP, 1, 2, mppe40, sizeof mppe40);
	p = expect(t, CCP, 3, &len);
	assert_int_equal(p[6], 0x01);
	assert_int_equal(p[9], 0x40);
	/* Reset-Request before CCP is up: not answered; unknown CCP code: Code-Reject. */
	feed(t, CCP, 14, 5, NULL, 0);
	assert_int_equal(q_len(t), 0);
	feed(t, CCP, 42, 5, NULL, 0);
	expect(t, CCP, 7, NULL);
	t_free(t);

	/* With MPPE refused, CCP itself is Protocol-Rejected. */
	t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_REFUSE);
	lcp_open(t);
	p = mschapv2_login(t, "User", "clientPass", &len);
	assert_int_equal(p[0], 3);
	q_clear(t);
	feed(t, CCP, 1, 1, mppe40, sizeof mppe40);
	p = expect(t, LCP, 8, &len);
	assert_int_equal(p[4], 0x80);
	assert_int_equal(p[5], 0xfd);
	t_free(t);
}

/* MPPE allowed and MS-CHAPv2 gave keys: IP waits for CCP; when the peer
 * Protocol-Rejects CCP, plain IP flows. */
static void
test_mppe_allowed_waits_for_ccp(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_ALLOW);
	const uint8_t *p;
	size_t len;
	uint8_t ccp_rej[] = { 0x80, 0xfd, 1, 1, 0, 10, 18, 6, 1, 0, 0, 0x40 };
	uint8_t ip[40];

	lcp_open(t);
	p = mschapv2_login(t, "User", "clientPass", &len);
	assert_int_equal(p[0], 3);
	client_keys(t, "clientPass");
	network_open(t, 0);             /* IPCP only; CCP left unanswered */
	assert_int_equal(t->up, 0);
	make_ip(ip, sizeof ip, 7);
	assert_int_equal(ppp_send_ip(t->ppp, ip, sizeof ip), -1);
	feed(t, LCP, 8, 77, ccp_rej, sizeof ccp_rej);
	assert_int_equal(t->up, 1);
	assert_false(ppp_mppe_on(t->ppp));
	q_clear(t);
	assert_int_equal(ppp_send_ip(t->ppp, ip, sizeof ip), 0);
	expect(t, IP, -1, NULL);
	t_free(t);
}

static void
test_send_refused_counted(void **state)
{
	struct t *t = t_new(PPP_AUTH_MSCHAPV2, PPP_MPPE_REQUIRE);
	uint8_t ip[40];

	login_mppe(t);
	t->refuse_send = 1;
	make_ip(ip, sizeof ip, 1);
	assert_int_equal(ppp_send_ip(t->ppp, ip, sizeof ip), -1);
	assert_int_equal(ppp_stats(t->ppp)->send_drops, 1);
	t_free(t);
}

static void
test_users_file_parse(void **state)
{
	char err[200], text[PPP_USERS_FILE_MAX_BYTES + 2];
	size_t pwlen;
	const char *pw;

	assert_int_equal(users_load_buf(users_text, sizeof users_text - 1, err, sizeof err), 0);
	assert_int_equal(users_count(), 2);
	pw = users_lookup("alice", 5, &pwlen);
	assert_non_null(pw);
	assert_int_equal(pwlen, 6);
	assert_memory_equal(pw, "s3cret", 6);
	assert_null(users_lookup("alic", 4, &pwlen));
	assert_null(users_lookup("ALICE", 5, &pwlen));
	/* Errors name the line, and leave the old table in place. */
	assert_int_equal(users_load_buf("a b\nnopassword\n", 15, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 2"));
	assert_int_equal(users_count(), 2);
	assert_int_equal(users_load_buf("a b c\n", 6, err, sizeof err), -1);
	assert_int_equal(users_load_buf("a b\na c\n", 8, err, sizeof err), -1);
	assert_non_null(strstr(err, "twice"));
	memset(text, 'x', PPP_NAME_MAX_BYTES + 1);
	memcpy(text + PPP_NAME_MAX_BYTES + 1, " pw\n", 4);
	assert_int_equal(users_load_buf(text, PPP_NAME_MAX_BYTES + 5, err, sizeof err), -1);
	memcpy(text + PPP_NAME_MAX_BYTES, " pw\n", 4);
	assert_int_equal(users_load_buf(text, PPP_NAME_MAX_BYTES + 4, err, sizeof err), 0);
	memset(text, '#', sizeof text);
	text[sizeof text - 1] = '\n';
	assert_int_equal(users_load_buf(text, sizeof text, err, sizeof err), -1);
	users_clear();
	assert_int_equal(users_count(), 0);
}

static void
test_users_file_permissions(void **state)
{
	char path[] = "/tmp/hf-users-XXXXXX", err[300];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "bob pw\n", 7), 7);
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);
	if (geteuid() == 0) {
		assert_int_equal(users_load(path, err, sizeof err), -1);
		assert_non_null(strstr(err, "0644"));
		assert_int_equal(chmod(path, 0600), 0);
		assert_int_equal(users_load(path, err, sizeof err), 0);
		assert_int_equal(users_count(), 1);
		assert_int_equal(chown(path, 65534, 0), 0);
		assert_int_equal(users_load(path, err, sizeof err), -1);
		assert_non_null(strstr(err, "root"));
	} else {
		assert_int_equal(chmod(path, 0600), 0);
		assert_int_equal(users_load(path, err, sizeof err), -1);
		assert_non_null(strstr(err, "root"));
	}
	unlink(path);
	assert_int_equal(users_load(path, err, sizeof err), -1);
	users_clear();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mschapv2_mppe_both_ways),
		cmocka_unit_test(test_mppe_rekey_budget),
		cmocka_unit_test(test_mschapv2_wrong_password),
		cmocka_unit_test(test_unknown_user_and_domain_prefix),
		cmocka_unit_test(test_chap_md5_after_nak),
		cmocka_unit_test(test_pap_retries_bounded),
		cmocka_unit_test(test_mppe_required_but_pap),
		cmocka_unit_test(test_lcp_options),
		cmocka_unit_test(test_magic_loop_closes),
		cmocka_unit_test(test_peer_rejects_auth),
		cmocka_unit_test(test_nak_loops_and_storms_bounded),
		cmocka_unit_test(test_lengths_wrong),
		cmocka_unit_test(test_auth_lengths_wrong),
		cmocka_unit_test(test_codes_and_protocols),
		cmocka_unit_test(test_terminate_both_ways),
		cmocka_unit_test(test_silent_peer_times_out),
		cmocka_unit_test(test_echo_timeout),
		cmocka_unit_test(test_flood_no_growth),
		cmocka_unit_test(test_ipcp_and_ccp_options),
		cmocka_unit_test(test_mppe_allowed_waits_for_ccp),
		cmocka_unit_test(test_send_refused_counted),
		cmocka_unit_test(test_users_file_parse),
		cmocka_unit_test(test_users_file_permissions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
