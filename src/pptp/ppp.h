/*
 * ppp.h: PPP in user space, server side, one struct ppp per PPTP call.
 *
 * The contract between the tunnel service (tunnel.c, gre.c: the caller)
 * and the PPP engine (ppp.c, lcp.c, ppp_auth.c, ipcp.c, mppe.c).
 *
 * Frames: PPP rides GRE directly (RFC 2637 4.1), no HDLC-like framing, no
 * FCS.  ppp_input takes one frame as carried in a GRE payload: optional
 * address/control ff 03, the protocol field (1 or 2 bytes), the
 * information field.  Frames we send always carry ff 03 and a 2-byte
 * protocol field (we Ack the peer's PFC/ACFC, which only allow us to
 * compress, and never do).
 *
 * Memory: ppp_new allocates everything once from the call region (state,
 * one transmit buffer of PPP_FRAME_MAX_BYTES, the MPPE state); no
 * allocation per frame.  Releasing the call region cancels the timers
 * (a cleanup) and frees the lot; no ppp_free.
 *
 * Re-entrance: ops are called from inside ppp_input, ppp_send_ip,
 * ppp_close and the timers.  The caller must not release the call region
 * from inside an op; defer it (loop_defer) instead.  After ops->down the
 * engine ignores input and sends nothing more.
 *
 * Timers run on conf->loop (LCP/IPCP/CCP restart timer, LCP echo, the
 * authentication deadline).
 */
#ifndef HF_PPTP_PPP_H
#define HF_PPTP_PPP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "ppp_limits.h"

struct loop;
struct region;
struct ppp;

/* Authentication protocols we may ask for (bits of ppp_conf.auth).  We
 * ask for the strongest allowed one (MS-CHAPv2, then CHAP-MD5, then PAP)
 * and take the peer's Nak suggestion if it is allowed too. */
#define PPP_AUTH_PAP       0x1u
#define PPP_AUTH_CHAP_MD5  0x2u
#define PPP_AUTH_MSCHAPV2  0x4u

/* MPPE (RFC 3078, 128-bit stateless only).  MPPE keys come from
 * MS-CHAPv2, so with any other authentication MPPE cannot be negotiated
 * and PPP_MPPE_REQUIRE ends the call. */
enum ppp_mppe {
	PPP_MPPE_REFUSE = 0,   /* never offer; reject the peer's CCP */
	PPP_MPPE_ALLOW,        /* offer after MS-CHAPv2; plain IP if the peer refuses */
	PPP_MPPE_REQUIRE,      /* no IP until CCP is up with 128-bit MPPE (Windows' default) */
};

struct ppp_conf {
	struct loop *loop;
	unsigned auth;                 /* PPP_AUTH_* bits; 0 = no authentication (tests only) */
	enum ppp_mppe mppe;
	struct in_addr local_addr;     /* ours in IPCP (the server's tunnel address) */
	struct in_addr peer_addr;      /* the address from the pool for this call */
	struct in_addr dns1, dns2;     /* IPCP options 129/131; s_addr 0 = not offered */
	const char *name;              /* our name in CHAP Challenges ("holdfast" if NULL) */
	uint16_t mru;                  /* our MRU, <= PPP_MRU_MAX; 0 = PPP_MRU_DEFAULT */
	uint32_t restart_ms;           /* RFC 1661 restart timer; 0 = PPP_RESTART_MS */
	uint32_t echo_interval_ms;     /* LCP echo when idle; 0 = none */
	uint32_t echo_failures;        /* unanswered echoes before down; 0 = PPP_ECHO_FAILURES */
	uint32_t auth_timeout_ms;      /* from LCP up to auth done; 0 = PPP_AUTH_TIMEOUT_MS */
};

struct ppp_ops {
	/* Hand one PPP frame (ff 03 proto info) to GRE.  frame is borrowed:
	 * valid only during the call.  Return 0, or -1 if it was dropped (the
	 * engine counts it; the restart timer will resend control frames). */
	int (*send)(void *arg, const uint8_t *frame, size_t len);
	/* IPCP opened, and CCP settled (up if MPPE is required; up or refused
	 * by the peer if it is allowed and MS-CHAPv2 gave keys): route
	 * peer_addr to this call from now on.  May be called again after a
	 * renegotiation. */
	void (*up)(void *arg, struct in_addr peer_addr);
	/* One IP packet from the peer, decrypted; borrowed.  Only after up. */
	void (*ip_input)(void *arg, const uint8_t *packet, size_t len);
	/* The link is finished (terminated by either side, auth failure,
	 * echo timeout, negotiation failure).  Called once.  reason is a
	 * short static string for the log. */
	void (*down)(void *arg, const char *reason);
};

enum ppp_phase {
	PPP_PHASE_DEAD = 0,
	PPP_PHASE_ESTABLISH,   /* LCP negotiating */
	PPP_PHASE_AUTHENTICATE,
	PPP_PHASE_NETWORK,     /* IPCP (and CCP) negotiating */
	PPP_PHASE_RUNNING,     /* up was called: IP flows */
	PPP_PHASE_TERMINATE,
};

struct ppp_stats {
	uint64_t frames_in, frames_out;
	uint64_t bytes_in, bytes_out;         /* IP payload bytes */
	uint64_t ip_in, ip_out;               /* IP packets */
	uint64_t bad_frames;                  /* malformed: dropped and counted */
	uint64_t unknown_proto;               /* answered with Protocol-Reject */
	uint64_t send_drops;                  /* ops->send refused */
	uint64_t mppe_discards;               /* undecryptable or out of order */
	uint64_t auth_failures;
};

/* A new PPP state for one call, in call_region (which must outlive it).
 * conf is copied; conf->name is copied too.  NULL on budget failure. */
struct ppp *ppp_new(struct region *call_region, const struct ppp_conf *conf,
    const struct ppp_ops *ops, void *arg);
/* Server side: opens LCP and sends the first Configure-Request. */
void ppp_start(struct ppp *p);
/* One PPP frame from GRE (borrowed).  Malformed frames are counted and
 * dropped (or answered with the protocol's own Reject). */
void ppp_input(struct ppp *p, const uint8_t *frame, size_t len);
/* One IP packet for the peer (from the TUN device).  0 if sent, -1 if
 * dropped (not running, too big for the peer's MRU, send refused).  With
 * MPPE the packet may be at most the peer's MRU less 4 bytes: a TUN MTU
 * of 1396 fits the common MRU of 1400. */
int ppp_send_ip(struct ppp *p, const uint8_t *ip_packet, size_t len);
/* Closes the link: LCP Terminate-Request, then ops->down after the
 * Terminate-Ack or the restart counter.  why is logged. */
void ppp_close(struct ppp *p, const char *why);

enum ppp_phase ppp_phase(const struct ppp *p);
const char *ppp_phase_name(enum ppp_phase ph);
const struct ppp_stats *ppp_stats(const struct ppp *p);
/* The authenticated peer name (NUL-terminated, printable), or "" before. */
const char *ppp_peer_name(const struct ppp *p);
/* 1 if MPPE is on for this link. */
int ppp_mppe_on(const struct ppp *p);

#endif
