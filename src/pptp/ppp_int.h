/*
 * ppp_int.h: what the PPP engine's files share (ppp.c, lcp.c,
 * ppp_auth.c, ipcp.c, mppe.c).  Not for the tunnel service: it uses ppp.h.
 */
#ifndef HF_PPTP_PPP_INT_H
#define HF_PPTP_PPP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "timer.h"
#include "ppp.h"
#include "ppp_crypto.h"

/* Protocol field values (RFC 1700 / IANA PPP numbers). */
#define PPP_PROTO_IP     0x0021
#define PPP_PROTO_COMP   0x00fd   /* MPPE/MPPC compressed datagram (RFC 3078) */
#define PPP_PROTO_IPCP   0x8021
#define PPP_PROTO_CCP    0x80fd
#define PPP_PROTO_LCP    0xc021
#define PPP_PROTO_PAP    0xc023
#define PPP_PROTO_CHAP   0xc223

/* RFC 1661 5 codes. */
enum {
	CODE_CONF_REQ = 1, CODE_CONF_ACK, CODE_CONF_NAK, CODE_CONF_REJ,
	CODE_TERM_REQ, CODE_TERM_ACK, CODE_CODE_REJ, CODE_PROTO_REJ,
	CODE_ECHO_REQ, CODE_ECHO_REP, CODE_DISCARD_REQ,
	CODE_RESET_REQ = 14, CODE_RESET_ACK = 15,   /* CCP, RFC 1962 */
};

/* RFC 1661 4.2 states (Initial and Starting are never used: the lower
 * layer, the PPTP call, is up before ppp_new). */
enum fsm_state {
	FSM_CLOSED = 2, FSM_STOPPED, FSM_CLOSING, FSM_STOPPING,
	FSM_REQSENT, FSM_ACKRCVD, FSM_ACKSENT, FSM_OPENED,
};

#define FSM_REQ_MAX_BYTES 64   /* our own Configure-Request options, kept to check the Ack */

struct ppp_fsm;

/* The reply to one Configure-Request, built by the protocol's recv_req. */
struct fsm_reply {
	uint8_t rej[PPP_FRAME_MAX_BYTES];
	size_t rejlen;
	uint8_t nak[PPP_FRAME_MAX_BYTES];
	size_t naklen;
	uint8_t naked[PPP_FRAME_MAX_BYTES];   /* the peer's options we Naked, for Max-Failure */
	size_t nakedlen;
};
/* Rejects the option at opt (type, length, data) as received. */
void fsm_rej(struct fsm_reply *r, const uint8_t *opt);
/* Naks the option at opt (NULL if the peer did not send it) suggesting
 * type with data. */
void fsm_nak(struct fsm_reply *r, const uint8_t *opt, uint8_t type, const void *data, size_t dlen);

/* One negotiated protocol (LCP, IPCP, CCP). */
struct fsm_proto {
	const char *name;
	uint16_t proto;
	/* Writes our options; returns their length (<= cap). */
	size_t (*build_req)(struct ppp_fsm *f, uint8_t *out, size_t cap);
	/* Judges the peer's options (already checked: each option length
	 * >= 2 and inside the packet) with fsm_nak / fsm_rej; options it
	 * does neither to are acknowledged. */
	void (*recv_req)(struct ppp_fsm *f, const uint8_t *opt, size_t len,
	    struct fsm_reply *r);
	/* The peer Naked / Rejected our request.  0, or -1 to give up (the
	 * protocol closes). */
	int (*recv_nak)(struct ppp_fsm *f, const uint8_t *opt, size_t len);
	int (*recv_rej)(struct ppp_fsm *f, const uint8_t *opt, size_t len);
	void (*up)(struct ppp_fsm *f);
	void (*down)(struct ppp_fsm *f);
	void (*finished)(struct ppp_fsm *f);
	/* Codes beyond 7 (LCP echo, CCP reset).  0 handled, -1 unknown (Code-Reject). */
	int (*extcode)(struct ppp_fsm *f, uint8_t code, uint8_t id, const uint8_t *data, size_t len);
};

struct ppp_fsm {
	struct ppp *ppp;
	const struct fsm_proto *p;
	enum fsm_state state;
	uint8_t id;                /* of our last Configure- or Terminate-Request */
	uint8_t reqid_valid;
	int restart;               /* RFC 1661 restart counter */
	int failures;              /* Naks sent in a row (Max-Failure) */
	int reqs_rcvd;             /* Configure-Requests received (storm bound) */
	int naks_rcvd;             /* Naks/Rejects received (option loop bound) */
	struct timer timer;
	uint8_t req[FSM_REQ_MAX_BYTES];
	size_t reqlen;
	const char *close_why;
};

struct lcp_state {
	uint32_t our_magic, peer_magic;
	uint16_t our_mru, peer_mru;
	unsigned auth;             /* PPP_AUTH_* we ask for now; 0 none */
	unsigned auth_tried;
	int send_mru, send_magic;
	int loops;                 /* magic-number collisions */
	uint8_t echo_id;
	uint32_t echo_missed;
	struct timer echo_timer;
};

struct auth_state {
	unsigned proto;            /* PPP_AUTH_* in use */
	uint8_t id;
	uint8_t challenge[16];
	int attempts;
	int done;                  /* 1 success, -1 failure sent */
	int retries;
	struct timer timer;        /* challenge retransmission */
	uint64_t deadline_ms;
	uint8_t last_reply[128];   /* Success/Failure for a repeated Response */
	size_t last_reply_len;
	uint8_t last_reply_id;
	uint16_t last_reply_proto;
};

struct ipcp_state {
	int send_addr;
	int addr_naks_sent;
};

struct mppe_dir {
	uint8_t start[MPPE_KEY_BYTES];
	uint8_t session[MPPE_KEY_BYTES];
	uint16_t ccount;
	struct rc4 rc4;
};

struct mppe_state {
	int have_keys;             /* MS-CHAPv2 succeeded */
	int on;                    /* CCP opened with 128-bit stateless */
	uint8_t master[MPPE_KEY_BYTES];
	struct mppe_dir tx, rx;
	uint64_t rekey_ms;         /* token bucket of extra receive rekeys */
	uint32_t rekey_tokens;
};

struct ppp {
	struct region *region;
	struct ppp_conf conf;
	struct ppp_ops ops;
	void *arg;
	char name[PPP_NAME_MAX_BYTES + 1];        /* ours, for CHAP */
	char peer_name[PPP_NAME_MAX_BYTES + 1];   /* printable, after auth */
	enum ppp_phase phase;
	int down_called;
	struct ppp_fsm lcp, ipcp, ccp;
	struct lcp_state lcps;
	struct auth_state auth;
	struct ipcp_state ipcps;
	struct mppe_state mppe;
	int ipcp_up;
	struct ppp_stats stats;
	uint8_t tx[PPP_FRAME_MAX_BYTES];
};

/* ppp.c */
int ppp_send_frame(struct ppp *p, uint16_t proto, const uint8_t *info, size_t len);
int ppp_send_ctrl(struct ppp *p, uint16_t proto, uint8_t code, uint8_t id,
    const uint8_t *data, size_t len);
void ppp_finish(struct ppp *p, const char *reason);
void ppp_auth_done(struct ppp *p, int ok);
void ppp_network_check(struct ppp *p);
uint32_t ppp_random32(void);
void ppp_random_bytes(uint8_t *out, size_t n);
uint16_t ppp_get16(const uint8_t *b);
uint32_t ppp_get32(const uint8_t *b);
void ppp_put16(uint8_t *b, uint16_t v);
void ppp_put32(uint8_t *b, uint32_t v);

/* The automaton (ppp.c). */
void fsm_init(struct ppp_fsm *f, struct ppp *p, const struct fsm_proto *proto);
void fsm_open(struct ppp_fsm *f);
void fsm_close(struct ppp_fsm *f, const char *why);
void fsm_input(struct ppp_fsm *f, const uint8_t *pkt, size_t len);
void fsm_cancel(struct ppp_fsm *f);
/* Checks options: each at least 2 bytes and inside; at most PPP_OPTIONS_MAX. */
int fsm_options_ok(const uint8_t *opt, size_t len);

extern const struct fsm_proto lcp_proto, ipcp_proto, ccp_proto;

/* lcp.c */
void lcp_init(struct ppp *p);
void lcp_echo_start(struct ppp *p);
void lcp_cancel(struct ppp *p);

/* ppp_auth.c */
void auth_start(struct ppp *p);
void auth_input(struct ppp *p, uint16_t proto, const uint8_t *pkt, size_t len);
void auth_cancel(struct ppp *p);

/* ipcp.c */
void ipcp_reset(struct ppp *p);

/* mppe.c */
void mppe_set_keys(struct ppp *p, const uint8_t pw_hash_hash[16], const uint8_t nt_response[24]);
int mppe_encrypt(struct ppp *p, const uint8_t *ip, size_t len, uint8_t *out, size_t cap, size_t *outlen);
/* Decrypts one compressed datagram (data: after the 00fd protocol field)
 * in place; *ip is the IPv4 packet inside.  0, or -1 to discard (the
 * receive key state advances only for a packet that decrypts to IPv4). */
int mppe_decrypt(struct ppp *p, uint8_t *data, size_t len, const uint8_t **ip, size_t *iplen);

#endif
