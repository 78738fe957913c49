/*
 * gre.h: enhanced GRE (RFC 2637 section 4.1) as PPTP carries PPP in it:
 * version 1, protocol 0x880B, key present (payload length, call id),
 * optional sequence and acknowledgement numbers.
 *
 * gre_parse takes one datagram as an IPv4 raw socket delivers it (IP
 * header included) and checks every field; gre_call_* keep one call's
 * sequence, acknowledgement, window and rate state; gre_build writes the
 * header of a packet we send (the kernel adds the IP header).
 */
#ifndef HF_PPTP_GRE_H
#define HF_PPTP_GRE_H

#include <stddef.h>
#include <stdint.h>

#include "pptp/pptp_limits.h"

#define GRE_PROTO_PPP 0x880B

struct gre_pkt {
	uint32_t src;              /* IPv4 source address, network byte order */
	uint16_t call_id;          /* the receiver's call id (ours, for what we read) */
	uint8_t has_seq, has_ack;
	uint32_t seq, ack;
	const uint8_t *payload;    /* points into the datagram */
	size_t payload_len;
};

/* 0 and *pkt filled, or -1 with a reason name for the stats
 * (gre_short, gre_bad_ip: not IPv4, inconsistent lengths or not protocol
 * 47, gre_bad_version, gre_bad_flags, gre_bad_protocol, gre_bad_length:
 * the key's length is not what is there, or too big).  Few names on
 * purpose: the stats page holds STATS_REASONS_MAX for the whole worker. */
int gre_parse(const uint8_t *dgram, size_t len, struct gre_pkt *pkt, const char **reason);

struct gre_call {
	uint16_t peer_call_id;     /* goes in the key of what we send */
	uint16_t peer_window;      /* the peer's receive window, packets */
	uint32_t seq_out;          /* next sequence number we send */
	uint32_t ack_in;           /* last of our sequence numbers the peer acknowledged */
	uint32_t seq_in;           /* last sequence number we accepted */
	uint8_t seq_in_valid;
	uint8_t ack_owed;          /* seq_in not yet acknowledged to the peer */
	uint32_t rate;             /* packets per second accepted */
	uint64_t tokens;           /* milli-packets */
	uint64_t last_ms;
	/* counters */
	uint64_t rx_pkts, tx_pkts;
	uint64_t drop_rate, drop_seq, drop_window;
};

void gre_call_init(struct gre_call *g, uint16_t peer_call_id, uint16_t peer_window, uint32_t rate, uint64_t now_ms);
/* Token bucket (burst: one second's worth): 1 if the packet may be
 * processed, 0 if it is over the rate (counted in drop_rate). */
int gre_call_rate_ok(struct gre_call *g, uint64_t now_ms);
/* Sequence and acknowledgement of an accepted packet: updates ack_in from
 * its ack; returns 1 if its payload is new, 0 if it is a duplicate or
 * older than one already accepted (counted in drop_seq; PPP copes with
 * loss, not with reordering under MPPE stateless mode either). */
int gre_call_receive(struct gre_call *g, const struct gre_pkt *pkt);
/* 1 if a data packet may be sent now (fewer than peer_window unacknowledged). */
int gre_call_window_open(const struct gre_call *g);
/* Writes the GRE header for a packet with payload_len bytes (0: an
 * ack-only packet) into out (PPTP_GRE_HDR_MAX_BYTES), consuming a
 * sequence number for a data packet and carrying the ack owed, if any.
 * Returns the header length. */
size_t gre_build(struct gre_call *g, uint8_t *out, size_t payload_len);

#endif
