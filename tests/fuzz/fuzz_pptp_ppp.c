/*
 * fuzz_pptp_ppp.c: libFuzzer target for the PPP engine (src/pptp/ppp.c and
 * its protocol files) as the tunnel drives it: frames from GRE in, frames
 * and IP out.
 *
 * Input layout: byte 0 chooses the configuration (bits 0-1: auth =
 * MS-CHAPv2 / CHAP-MD5 / PAP / none; bits 2-3: MPPE refuse / allow /
 * require; bit 4: the harness plays a cooperative client, which Acks
 * every Configure-Request the engine sends and answers an MS-CHAPv2
 * Challenge correctly, so the fuzzer reaches the authenticated, network
 * and MPPE states); byte 1 MRU/echo choices; the rest is a sequence of
 * frames, each a 2-byte big-endian length (clamped to what is left)
 * followed by the frame.  A frame whose first byte is 0xee (after the
 * length) is instead an IP packet for ppp_send_ip.
 *
 * Checks: no crash or sanitizer report; every frame the engine sends has
 * ff 03, a 2-byte protocol and fits PPP_FRAME_MAX_BYTES; a control packet
 * it sends has a Length equal to the frame's; the call region's charge
 * never moves after ppp_new (the engine allocates nothing per frame);
 * ops->down is called at most once and nothing is sent after it.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "region.h"
#include "pptp/ppp.h"
#include "pptp/ppp_crypto.h"
#include "pptp/users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_PPP_TRACE=1 in the environment lists the frames sent (debugging seeds). */
static int trace;

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

struct h {
	struct ppp *ppp;
	int coop, downs, in_send;
	/* Frames the cooperative client owes an answer to. */
	uint8_t pending[4][PPP_FRAME_MAX_BYTES];
	size_t pending_len[4];
	int npending;
};

static int
h_send(void *arg, const uint8_t *f, size_t len)
{
	struct h *h = arg;

	if (trace)
		fprintf(stderr, "sent %02x%02x code %u id %u len %zu\n", f[2], f[3], len > 4 ? f[4] : 0,
		    len > 5 ? f[5] : 0, len);
	CHECK(h->downs == 0);
	CHECK(len >= 4 && len <= PPP_FRAME_MAX_BYTES);
	CHECK(f[0] == 0xff && f[1] == 0x03);
	CHECK((f[3] & 1) == 1 && (f[2] & 1) == 0);
	if (f[2] >= 0x80 && len >= 8)
		CHECK((size_t)(f[6] << 8 | f[7]) == len - 4);
	if (h->coop && h->npending < 4 && (f[2] >= 0x80) && len >= 8 && (f[4] == 1 || f[2] == 0xc2)) {
		memcpy(h->pending[h->npending], f, len);
		h->pending_len[h->npending++] = len;
	}
	return 0;
}

static void
h_up(void *arg, struct in_addr a)
{
	(void)arg;
	(void)a;
}

static void
h_ip(void *arg, const uint8_t *p, size_t len)
{
	CHECK(len >= 20 && len <= PPP_FRAME_MAX_BYTES);
	CHECK((p[0] >> 4) == 4);
	(void)arg;
}

static void
h_down(void *arg, const char *why)
{
	struct h *h = arg;

	CHECK(why != NULL);
	h->downs++;
	CHECK(h->downs == 1);
}

static const struct ppp_ops ops = { h_send, h_up, h_ip, h_down };

/* The cooperative client: Acks Configure-Requests, answers Challenges. */
static void
h_answer(struct h *h)
{
	static uint8_t todo[4][PPP_FRAME_MAX_BYTES];
	size_t todo_len[4];
	int n = h->npending, i;

	/* Answers may make the engine send more: work on a copy. */
	for (i = 0; i < n; i++) {
		memcpy(todo[i], h->pending[i], h->pending_len[i]);
		todo_len[i] = h->pending_len[i];
	}
	h->npending = 0;
	for (i = 0; i < n; i++) {
		uint8_t *f = todo[i], out[PPP_FRAME_MAX_BYTES];
		size_t len = todo_len[i];

		if (f[2] == 0xc2 && f[3] == 0x23 && f[4] == 1 && len >= 8 + 17 && f[8] == 16) {
			static const uint8_t peer_chal[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
			uint8_t nt[24];

			mschap_nt_response(f + 9, peer_chal, "User", 4, "clientPass", 10, nt);
			memcpy(out, f, 4);
			out[4] = 2;
			out[5] = f[5];
			out[6] = 0;
			out[7] = 4 + 1 + 49 + 4;
			out[8] = 49;
			memcpy(out + 9, peer_chal, 16);
			memset(out + 25, 0, 8);
			memcpy(out + 33, nt, 24);
			out[57] = 0;
			memcpy(out + 58, "User", 4);
			ppp_input(h->ppp, out, 62);
		} else if (f[4] == 1 && f[2] >= 0x80) {
			memcpy(out, f, len);
			out[4] = 2;
			ppp_input(h->ppp, out, len);
		}
	}
}

/* A few rounds of answers (each may draw more frames), bounded. */
static void
h_settle(struct h *h)
{
	int k;

	for (k = 0; k < 8 && h->npending > 0; k++)
		h_answer(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char users[] = "User clientPass\nalice s3cret\n";
	static const unsigned auths[4] = { PPP_AUTH_MSCHAPV2, PPP_AUTH_CHAP_MD5, PPP_AUTH_PAP, 0 };
	struct region *root, *call;
	struct loop *l;
	struct ppp_conf conf;
	struct h h;
	size_t base, off;
	char err[128];

	if (size < 2)
		return 0;
	trace = getenv("FUZZ_PPP_TRACE") != NULL;
	if (users_count() == 0) {
		/* Logins succeed thousands of times a second here: warnings only. */
		log_init("fuzz_pptp_ppp", 0, LOG_LVL_WARN);
		if (users_load_buf(users, sizeof users - 1, err, sizeof err) != 0)
			abort();
	}
	root = region_new(NULL, "fuzz", REGION_UNLIMITED);
	l = loop_new(root);
	CHECK(l != NULL);
	call = region_new(root, "call", 64 * 1024);
	CHECK(call != NULL);
	memset(&conf, 0, sizeof conf);
	memset(&h, 0, sizeof h);
	conf.loop = l;
	conf.auth = auths[data[0] & 3];
	conf.mppe = (enum ppp_mppe)((data[0] >> 2) & 3) % 3;
	if (conf.auth == 0 && conf.mppe == PPP_MPPE_REQUIRE)
		conf.mppe = PPP_MPPE_ALLOW;
	h.coop = (data[0] >> 4) & 1;
	conf.local_addr.s_addr = htonl(0x0a630001);
	conf.peer_addr.s_addr = htonl(0x0a63000a);
	conf.dns1.s_addr = (data[1] & 1) ? htonl(0x0a630002) : 0;
	conf.mru = (data[1] & 2) ? 1400 : 0;
	conf.echo_interval_ms = (data[1] & 4) ? 1000 : 0;
	h.ppp = ppp_new(call, &conf, &ops, &h);
	CHECK(h.ppp != NULL);
	base = region_used(call);
	ppp_start(h.ppp);
	h_settle(&h);
	off = 2;
	while (off + 2 <= size) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (len > size - off)
			len = size - off;
		if (len > 0 && data[off] == 0xee)
			ppp_send_ip(h.ppp, data + off + 1, len - 1);
		else
			ppp_input(h.ppp, data + off, len);
		h_settle(&h);
		CHECK(region_used(call) == base);
		off += len;
	}
	if (data[1] & 8)
		ppp_close(h.ppp, "fuzz");
	CHECK(region_used(call) == base);
	region_release(root);
	return 0;
}
