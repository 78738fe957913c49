/*
 * gre.c: enhanced GRE for PPTP (RFC 2637 section 4.1): parsing what the
 * raw IPPROTO_GRE socket delivers, per-call sequence/ack/window state, a
 * per-call token bucket, and building the headers we send.
 *
 * Interface: gre.h.  No allocation: a datagram is parsed in place, call
 * state is embedded in the service's call object.
 *
 * Checks on input: an IPv4 header of sane length whose total length is
 * what was read and whose protocol is 47; GRE flags C, R, s, recursion
 * and the flag bits zero, K set, version 1, protocol 0x880B; the key's
 * payload length equal to the bytes after the header (so a packet
 * without S carries no payload), at most PPTP_GRE_PAYLOAD_MAX_BYTES.
 * Sequence numbers must grow (serial arithmetic): duplicates and
 * reordered packets are dropped and counted, never queued (pptp-linux
 * once leaked a queue entry per duplicate, 2014).  The first packet of a
 * call may carry any number (pptp-linux starts at 1, pptpd at 0).
 *
 * Known weakness: no reordering buffer, so a network that reorders loses
 * the late packet; PPP and TCP above recover.
 */
#include <string.h>

#include "pptp/gre.h"
#include "pptp/pptp_bytes.h"

#define GRE_F_C   0x80
#define GRE_F_R   0x40
#define GRE_F_K   0x20
#define GRE_F_S   0x10
#define GRE_F_SSR 0x08
#define GRE_RECUR 0x07
#define GRE_F_A   0x80
#define GRE_FLAGS 0x78
#define GRE_VER   0x07

int
gre_parse(const uint8_t *d, size_t len, struct gre_pkt *pkt, const char **reason)
{
	size_t ihl, tot, off, hl;
	const uint8_t *g;

	memset(pkt, 0, sizeof *pkt);
	if (len < 20) {
		*reason = "gre_short";
		return -1;
	}
	if ((d[0] >> 4) != 4) {
		*reason = "gre_bad_ip";
		return -1;
	}
	ihl = (size_t)(d[0] & 0x0f) * 4;
	tot = get16(d + 2);
	/* The kernel delivers what it reassembled: total length must be
	 * exactly what we read. */
	if (ihl < 20 || tot != len || ihl > len) {
		*reason = "gre_bad_ip";
		return -1;
	}
	if (d[9] != 47) {
		*reason = "gre_bad_ip";
		return -1;
	}
	memcpy(&pkt->src, d + 12, 4);
	g = d + ihl;
	off = len - ihl;
	if (off < 8) {
		*reason = "gre_short";
		return -1;
	}
	if ((g[1] & GRE_VER) != 1) {
		*reason = "gre_bad_version";
		return -1;
	}
	if ((g[0] & (GRE_F_C | GRE_F_R | GRE_F_SSR | GRE_RECUR)) != 0 || (g[0] & GRE_F_K) == 0 ||
	    (g[1] & GRE_FLAGS) != 0) {
		*reason = "gre_bad_flags";
		return -1;
	}
	if (get16(g + 2) != GRE_PROTO_PPP) {
		*reason = "gre_bad_protocol";
		return -1;
	}
	pkt->has_seq = (g[0] & GRE_F_S) != 0;
	pkt->has_ack = (g[1] & GRE_F_A) != 0;
	hl = 8 + (pkt->has_seq ? 4u : 0u) + (pkt->has_ack ? 4u : 0u);
	if (off < hl) {
		*reason = "gre_short";
		return -1;
	}
	pkt->payload_len = get16(g + 4);
	pkt->call_id = get16(g + 6);
	if (pkt->has_seq)
		pkt->seq = get32(g + 8);
	if (pkt->has_ack)
		pkt->ack = get32(g + 8 + (pkt->has_seq ? 4 : 0));
	if (pkt->payload_len != off - hl || (!pkt->has_seq && pkt->payload_len != 0) ||
	    (!pkt->has_seq && !pkt->has_ack)) {
		*reason = "gre_bad_length";
		return -1;
	}
	if (pkt->payload_len > PPTP_GRE_PAYLOAD_MAX_BYTES) {
		*reason = "gre_bad_length";
		return -1;
	}
	pkt->payload = g + hl;
	return 0;
}

void
gre_call_init(struct gre_call *g, uint16_t peer_call_id, uint16_t peer_window, uint32_t rate, uint64_t now_ms)
{
	memset(g, 0, sizeof *g);
	g->peer_call_id = peer_call_id;
	g->peer_window = peer_window ? peer_window : 1;
	g->seq_out = 0;
	g->ack_in = 0xffffffffu;   /* nothing sent, nothing acknowledged */
	g->rate = rate ? rate : 1;
	g->tokens = (uint64_t)g->rate * 1000;
	g->last_ms = now_ms;
}

int
gre_call_rate_ok(struct gre_call *g, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)g->rate * 1000;

	if (now_ms > g->last_ms) {
		uint64_t add = (now_ms - g->last_ms) * g->rate;

		g->tokens = add >= cap || g->tokens + add >= cap ? cap : g->tokens + add;
		g->last_ms = now_ms;
	}
	if (g->tokens < 1000) {
		g->drop_rate++;
		return 0;
	}
	g->tokens -= 1000;
	return 1;
}

int
gre_call_receive(struct gre_call *g, const struct gre_pkt *pkt)
{
	if (pkt->has_ack) {
		/* Only an ack for something we sent moves ack_in forward. */
		uint32_t ahead = pkt->ack - g->ack_in;
		uint32_t sent = g->seq_out - g->ack_in - 1;

		if (ahead != 0 && ahead <= sent)
			g->ack_in = pkt->ack;
	}
	if (!pkt->has_seq)
		return 0;
	if (g->seq_in_valid && (int32_t)(pkt->seq - g->seq_in) <= 0) {
		g->drop_seq++;
		return 0;
	}
	g->seq_in = pkt->seq;
	g->seq_in_valid = 1;
	g->ack_owed = 1;
	g->rx_pkts++;
	return 1;
}

int
gre_call_window_open(const struct gre_call *g)
{
	uint32_t outstanding = g->seq_out - g->ack_in - 1;

	return outstanding < g->peer_window;
}

size_t
gre_build(struct gre_call *g, uint8_t *out, size_t payload_len)
{
	size_t hl = 8;

	out[0] = GRE_F_K;
	out[1] = 1;
	put16(out + 2, GRE_PROTO_PPP);
	put16(out + 4, (uint16_t)payload_len);
	put16(out + 6, g->peer_call_id);
	if (payload_len > 0) {
		out[0] |= GRE_F_S;
		put32(out + hl, g->seq_out++);
		hl += 4;
		g->tx_pkts++;
	}
	if (g->ack_owed) {
		out[1] |= GRE_F_A;
		put32(out + hl, g->seq_in);
		hl += 4;
		g->ack_owed = 0;
	}
	return hl;
}
