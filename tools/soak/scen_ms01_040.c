/*
 * scen_ms01_040.c: MS01-040, the RDP packet leak.  Malformed TPKT / X.224
 * / MCS / GCC PDUs before TLS, one attack per connection (a server is
 * expected to drop a connection on a bad PDU; we close after writing).
 *
 * Malformations: TPKT length below 4, above what follows (then close:
 * truncated), version not 3; X.224 length indicator larger than the TPKT
 * or zero, unknown TPDU codes; an oversized cookie (up to ~64 KiB) and a
 * cookie without CRLF; RDP_NEG_REQ with a bad length; a Data TPDU carrying
 * an MCS Connect-Initial whose BER lengths overflow (0x84 ff ff ff ff) and
 * whose GCC user data claims 64 KiB; half a TPKT header; a run of empty
 * TPKTs.  --valid: a well-formed Connection Request (cookie, RDP_NEG_REQ
 * for TLS) per connection.
 * Probe: a new connection per probe sends a Connection Request and waits
 * for a TPKT carrying a Connection Confirm (0xD0).
 * Interface: scen_ms01_040 (soak.h).
 * Limits: one PDU at most 65535 bytes.
 * Known weaknesses: nothing after TLS (the issue asks for malformed PDUs
 * after TLS too), and no raw TCP segments with bad checksums (needs root
 * and raw sockets); both missing.
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

static int
m040_message(struct soak_gen *g, struct soak_out *o)
{
	size_t start = o->len;
	unsigned i, n;

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

const struct soak_scenario scen_ms01_040 = {
	.name = "ms01-040",
	.summary = "RDP: malformed TPKT/X.224/MCS/GCC PDUs before TLS (MS01-040)",
	.default_port = 3389,
	.message = m040_message,
	.probe_request = rdp_probe_request,
	.probe_reply = rdp_probe_reply,
	.probe_reconnect = 1,
	.raw_kind = RAW_TCP_BADSUM,
};
