/*
 * mppe.c: CCP (RFC 1962) carrying only MPPE (RFC 3078), 128-bit keys
 * (RFC 3079) in stateless mode (the H bit), and the data path's
 * encryption and decryption.
 *
 * Keys: after MS-CHAPv2 succeeds, mppe_set_keys derives the master key
 * from the password hash-hash and the peer's NT-Response.  When CCP
 * opens, each direction gets its start key (server send: Magic3, server
 * receive: Magic2) and an initial session key GetNewKeyFromSHA(start,
 * start).  In stateless mode the key changes before every packet:
 * session = RC4(interim)(interim), interim = GetNewKeyFromSHA(start,
 * session); the coherency count (12 bits) says how many changes the
 * sender made.
 *
 * Receiving: a packet whose count is equal to the last one (a replay) or
 * more than PPP_MPPE_CCOUNT_GAP_MAX ahead (an old packet) is discarded;
 * the rekeys a skipped count costs (one per lost packet) come from a
 * per-call budget of PPP_MPPE_REKEYS_PER_S, so forged counts cannot make
 * us spend more than about 10 ms of CPU per second per call.  The rekeys and
 * the decryption happen on copies; the key state advances only when the
 * result is a plausible IPv4 packet (protocol 0x21, version 4, header
 * length >= 5, total length equal to what is left: about one chance in
 * 2^30 for a forgery).  MPPE has no integrity check, so this is
 * what keeps a forger without keys from desynchronising the receiver.
 *
 * Weaknesses: RC4 and MS-CHAPv2-derived keys are broken cryptography; the
 * tunnel README says so.  MPPC compression is not offered (the C bit is
 * Naked away).
 */
#include <string.h>

#include "loop.h"
#include "ppp_int.h"

#define CCP_OPT_MPPE      18
#define MPPE_BIT_H        0x01000000u   /* stateless */
#define MPPE_BIT_M        0x00000080u   /* 56-bit */
#define MPPE_BIT_S        0x00000040u   /* 128-bit */
#define MPPE_BIT_L        0x00000020u   /* 40-bit */
#define MPPE_BIT_C        0x00000001u   /* MPPC compression */
#define MPPE_OURS         (MPPE_BIT_H | MPPE_BIT_S)

#define MPPE_HDR_FLUSHED   0x8000u      /* A: flushed (set on every stateless packet) */
#define MPPE_HDR_COMP      0x2000u      /* C: MPPC-compressed */
#define MPPE_HDR_ENCRYPTED 0x1000u      /* D: encrypted */
#define MPPE_CCOUNT_MASK   0x0fffu

void
mppe_set_keys(struct ppp *p, const uint8_t pw_hash_hash[16], const uint8_t nt_response[24])
{
	mppe_master_key(pw_hash_hash, nt_response, p->mppe.master);
	p->mppe.have_keys = 1;
}

static void
mppe_dir_init(struct mppe_dir *d, const uint8_t master[16], int is_send)
{
	mppe_start_key(master, is_send, 1, d->start);
	mppe_new_key_sha(d->start, d->start, d->session);
	d->ccount = MPPE_CCOUNT_MASK;   /* the first packet carries 0 */
}

int
mppe_encrypt(struct ppp *p, const uint8_t *ip, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	struct mppe_dir *d = &p->mppe.tx;
	uint8_t next[MPPE_KEY_BYTES];

	if (len + 4 > cap)
		return -1;
	d->ccount = (d->ccount + 1) & MPPE_CCOUNT_MASK;
	mppe_rekey(d->start, d->session, next);
	memcpy(d->session, next, sizeof next);
	explicit_bzero(next, sizeof next);
	rc4_setkey(&d->rc4, d->session, MPPE_KEY_BYTES);
	ppp_put16(out, (uint16_t)(MPPE_HDR_FLUSHED | MPPE_HDR_ENCRYPTED | d->ccount));
	/* The encrypted part starts with the protocol field (RFC 3078 3). */
	out[2] = 0x00;
	out[3] = 0x21;
	memmove(out + 4, ip, len);
	rc4_crypt(&d->rc4, out + 2, out + 2, len + 2);
	*outlen = len + 4;
	return 0;
}

int
mppe_decrypt(struct ppp *p, uint8_t *data, size_t len, const uint8_t **ip, size_t *iplen)
{
	struct mppe_dir *d = &p->mppe.rx;
	uint8_t key[MPPE_KEY_BYTES], next[MPPE_KEY_BYTES];
	struct rc4 rc4;
	uint16_t hdr, ccount, gap, i;
	uint8_t *in;
	size_t n, hl, tot;

	if (len < 2 + 1 + 20) {
		p->stats.mppe_discards++;
		return -1;
	}
	hdr = ppp_get16(data);
	ccount = hdr & MPPE_CCOUNT_MASK;
	if (!(hdr & MPPE_HDR_ENCRYPTED) || (hdr & MPPE_HDR_COMP)) {
		p->stats.mppe_discards++;
		return -1;
	}
	gap = (uint16_t)((ccount - d->ccount) & MPPE_CCOUNT_MASK);
	if (gap == 0 || gap > PPP_MPPE_CCOUNT_GAP_MAX) {
		p->stats.mppe_discards++;
		return -1;
	}
	if (gap > 1) {
		/* Skipped counts cost rekeys; a forger picks the count, so
		 * the extra ones come from a per-call budget. */
		uint64_t now = loop_now_ms(p->conf.loop);
		uint64_t add = (now - p->mppe.rekey_ms) * PPP_MPPE_REKEYS_PER_S / 1000;

		if (add > 0) {
			uint64_t t = p->mppe.rekey_tokens + add;

			p->mppe.rekey_tokens = t > PPP_MPPE_REKEYS_PER_S ? PPP_MPPE_REKEYS_PER_S : (uint32_t)t;
			p->mppe.rekey_ms = now;
		}
		if (p->mppe.rekey_tokens < (uint32_t)(gap - 1)) {
			p->stats.mppe_discards++;
			return -1;
		}
		p->mppe.rekey_tokens -= gap - 1;
	}
	memcpy(key, d->session, sizeof key);
	for (i = 0; i < gap; i++) {
		mppe_rekey(d->start, key, next);
		memcpy(key, next, sizeof key);
	}
	rc4_setkey(&rc4, key, MPPE_KEY_BYTES);
	in = data + 2;
	n = len - 2;
	rc4_crypt(&rc4, in, in, n);
	explicit_bzero(&rc4, sizeof rc4);
	if (in[0] == 0x21)
		hl = 1;
	else if (in[0] == 0x00 && in[1] == 0x21)
		hl = 2;
	else
		goto bad;
	in += hl;
	n -= hl;
	if (n < 20 || (in[0] >> 4) != 4 || (in[0] & 0x0f) < 5)
		goto bad;
	/* PPP has no padding (we negotiate none): the IPv4 total length is
	 * the packet's.  This is most of what stops a forgery. */
	tot = ppp_get16(in + 2);
	if (tot != n)
		goto bad;
	memcpy(d->session, key, sizeof key);
	d->ccount = ccount;
	explicit_bzero(key, sizeof key);
	explicit_bzero(next, sizeof next);
	*ip = in;
	*iplen = tot;
	return 0;
bad:
	explicit_bzero(key, sizeof key);
	explicit_bzero(next, sizeof next);
	p->stats.mppe_discards++;
	return -1;
}

/* ---- CCP ---- */

static size_t
ccp_build_req(struct ppp_fsm *f, uint8_t *out, size_t cap)
{
	(void)f;
	(void)cap;
	out[0] = CCP_OPT_MPPE;
	out[1] = 6;
	ppp_put32(out + 2, MPPE_OURS);
	return 6;
}

static void
ccp_recv_req(struct ppp_fsm *f, const uint8_t *opt, size_t len, struct fsm_reply *r)
{
	struct ppp *p = f->ppp;
	size_t off;

	for (off = 0; off < len; off += opt[off + 1]) {
		const uint8_t *o = opt + off;

		if (o[0] != CCP_OPT_MPPE || o[1] != 6 || !p->mppe.have_keys) {
			fsm_rej(r, o);
			continue;
		}
		if (ppp_get32(o + 2) != MPPE_OURS) {
			uint8_t v[4];

			ppp_put32(v, MPPE_OURS);
			fsm_nak(r, o, CCP_OPT_MPPE, v, 4);
		}
	}
}

static int
ccp_recv_nak(struct ppp_fsm *f, const uint8_t *opt, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += opt[off + 1]) {
		if (opt[off] == CCP_OPT_MPPE && opt[off + 1] == 6) {
			uint32_t bits = ppp_get32(opt + off + 2);

			if ((bits & MPPE_OURS) != MPPE_OURS) {
				f->close_why = "peer cannot do 128-bit stateless MPPE";
				return -1;
			}
		}
	}
	return 0;
}

static int
ccp_recv_rej(struct ppp_fsm *f, const uint8_t *opt, size_t len)
{
	(void)opt;
	(void)len;
	f->close_why = "peer refuses MPPE";
	return -1;
}

static void
ccp_up(struct ppp_fsm *f)
{
	struct ppp *p = f->ppp;

	mppe_dir_init(&p->mppe.tx, p->mppe.master, 1);
	mppe_dir_init(&p->mppe.rx, p->mppe.master, 0);
	p->mppe.rekey_tokens = PPP_MPPE_REKEYS_PER_S;
	p->mppe.rekey_ms = loop_now_ms(p->conf.loop);
	p->mppe.on = 1;
	ppp_network_check(p);
}

static void
ccp_down(struct ppp_fsm *f)
{
	struct ppp *p = f->ppp;

	p->mppe.on = 0;
	ppp_network_check(p);
}

static void
ccp_finished(struct ppp_fsm *f)
{
	struct ppp *p = f->ppp;

	p->mppe.on = 0;
	if (p->conf.mppe == PPP_MPPE_REQUIRE) {
		p->phase = PPP_PHASE_TERMINATE;
		fsm_close(&p->lcp, f->close_why ? f->close_why : "MPPE negotiation failed");
		return;
	}
	/* MPPE only allowed: plain IP from now on. */
	ppp_network_check(p);
}

static int
ccp_extcode(struct ppp_fsm *f, uint8_t code, uint8_t id, const uint8_t *data, size_t len)
{
	(void)data;
	(void)len;
	switch (code) {
	case CODE_RESET_REQ:
		/* Stateless: every packet is already flushed; just answer. */
		if (f->state == FSM_OPENED)
			ppp_send_ctrl(f->ppp, PPP_PROTO_CCP, CODE_RESET_ACK, id, NULL, 0);
		return 0;
	case CODE_RESET_ACK:
		return 0;
	default:
		return -1;
	}
}

const struct fsm_proto ccp_proto = {
	.name = "CCP",
	.proto = PPP_PROTO_CCP,
	.build_req = ccp_build_req,
	.recv_req = ccp_recv_req,
	.recv_nak = ccp_recv_nak,
	.recv_rej = ccp_recv_rej,
	.up = ccp_up,
	.down = ccp_down,
	.finished = ccp_finished,
	.extcode = ccp_extcode,
};
