/*
 * ctrl.h: the PPTP control connection (RFC 2637 section 2), server side
 * (we are the PAC; the client is the PNS).
 *
 * A struct ctrl lives in a connection's region.  ctrl_input() takes the
 * bytes the connection has buffered and handles at most one message; the
 * caller loops while ctrl_input consumes and its write queue has room
 * (back-pressure).  Everything the state machine needs from the service
 * goes through struct ctrl_ops: replies to send, calls to open and close,
 * rejects to count.
 */
#ifndef HF_PPTP_CTRL_H
#define HF_PPTP_CTRL_H

#include <stddef.h>
#include <stdint.h>

#include "pptp/pptp_limits.h"

struct region;

#define PPTP_MAGIC_COOKIE     0x1A2B3C4Du
#define PPTP_MSG_CONTROL      1
#define PPTP_PROTOCOL_VERSION 0x0100

/* Control message types (2.1). */
enum pptp_ctrl_type {
	PPTP_SCCRQ = 1,
	PPTP_SCCRP = 2,
	PPTP_STOPCCRQ = 3,
	PPTP_STOPCCRP = 4,
	PPTP_ECHORQ = 5,
	PPTP_ECHORP = 6,
	PPTP_OCRQ = 7,
	PPTP_OCRP = 8,
	PPTP_ICRQ = 9,
	PPTP_ICRP = 10,
	PPTP_ICCN = 11,
	PPTP_CCRQ = 12,
	PPTP_CDN = 13,
	PPTP_WEN = 14,
	PPTP_SLI = 15,
	PPTP_CTRL_TYPE_MAX = 15,
};

/* Fixed length of each type (2.2 .. 2.16), 0 for an unknown type. */
size_t ctrl_fixed_len(unsigned type);
const char *ctrl_type_name(unsigned type);

/* Header check of a complete message of len bytes (len >= the length field).
 * Returns 0 and the type, or -1 and a reason name for the stats. */
enum ctrl_hdr_status {
	CTRL_HDR_OK,
	CTRL_HDR_MORE,        /* fewer than 12 bytes, or the declared length not yet here */
	CTRL_HDR_FATAL,       /* framing cannot be trusted: length outside 12..220, bad magic or message type */
	CTRL_HDR_SKIP,        /* framed, but wrong for its type: unknown type, length != fixed, reserved0 != 0 */
};
enum ctrl_hdr_status ctrl_check_header(const uint8_t *p, size_t avail, size_t *msg_len, unsigned *type,
                                       const char **reason);

enum ctrl_state {
	CTRL_WAIT_SCCRQ,      /* accepted, nothing valid heard yet */
	CTRL_ESTABLISHED,     /* SCCRQ answered with success */
	CTRL_CLOSED,          /* nothing more is read or sent */
};

enum ctrl_call_state {
	CALL_FREE,
	CALL_ESTABLISHED,     /* OCRP sent with Connected */
};

struct ctrl_call {
	enum ctrl_call_state state;
	uint16_t call_id;       /* ours: allocated by ops->call_open, unique in the worker */
	uint16_t peer_call_id;  /* the PNS's: only ever used to address it, never trusted as an index */
	uint16_t peer_window;   /* the PNS's receive window (OCRQ), clamped to PPTP_PEER_WINDOW_MAX_PKTS */
	uint16_t serial;
	uint32_t send_accm, recv_accm;  /* Set-Link-Info (carried for PPP; no meaning over GRE) */
	void *data;             /* the service's call object */
};

struct ctrl_ops {
	/* Queue one complete message; 0, or -1 (write budget: the caller closes). */
	int (*send)(void *arg, const uint8_t *msg, size_t len);
	/* An Outgoing-Call-Request passed every check: set call->call_id and
	 * call->data, 0; or -1 if no call can be made (no id, no address,
	 * no memory). */
	int (*call_open)(void *arg, struct ctrl_call *call);
	/* The call ends (CCRQ, StopCCRQ, close).  The ctrl frees the slot after. */
	void (*call_close)(void *arg, struct ctrl_call *call, const char *why);
	/* Count one rejected input under reason. */
	void (*reject)(void *arg, const char *reason);
	/* The first valid SCCRQ was answered (conn_ready). */
	void (*established)(void *arg);
	/* Close the connection once the queued output is sent. */
	void (*close)(void *arg);
};

struct ctrl {
	enum ctrl_state state;
	const struct ctrl_ops *ops;
	void *arg;
	unsigned errors;
	size_t calls_max;
	size_t ncalls;
	uint16_t next_serial;
	struct ctrl_call *calls;   /* calls_max slots in the connection region */
	/* counters for holdfastctl */
	uint64_t msgs_in, msgs_out, wen_count;
};

/* 0, or -1 if the region cannot hold calls_max slots. */
int ctrl_init(struct ctrl *c, struct region *r, size_t calls_max, const struct ctrl_ops *ops, void *arg);

/* Handles at most one message from p[0..avail).  Returns the number of
 * bytes consumed (0: need more input, or closed). */
size_t ctrl_input(struct ctrl *c, const uint8_t *p, size_t avail);

/* We end the control connection (shutdown, error budget): StopCCRQ with
 * reason (1 none, 2 stop-protocol, 3 stop-local-shutdown), calls closed. */
void ctrl_stop(struct ctrl *c, uint8_t reason);

/* The service ends one call (PPP closed, idle): CDN to the peer, slot freed.
 * result: 1 lost carrier, 2 general error, 3 admin shutdown, 4 request. */
void ctrl_call_disconnect(struct ctrl *c, struct ctrl_call *call, uint8_t result);

/* The connection is going away: every call is closed, nothing is sent. */
void ctrl_release(struct ctrl *c);

/* Message builders (exposed for tests): write the message into out (at
 * least its fixed size) and return its length. */
size_t ctrl_build_sccrp(uint8_t *out, uint8_t result, uint8_t error, uint16_t max_channels);
size_t ctrl_build_stopccrq(uint8_t *out, uint8_t reason);
size_t ctrl_build_stopccrp(uint8_t *out, uint8_t result, uint8_t error);
size_t ctrl_build_echorp(uint8_t *out, const uint8_t ident[4], uint8_t result, uint8_t error);
size_t ctrl_build_ocrp(uint8_t *out, uint16_t call_id, uint16_t peer_call_id, uint8_t result, uint8_t error,
                       uint32_t speed, uint16_t window);
size_t ctrl_build_icrp(uint8_t *out, uint16_t call_id, uint16_t peer_call_id, uint8_t result, uint8_t error);
size_t ctrl_build_cdn(uint8_t *out, uint16_t call_id, uint8_t result, uint8_t error);

#endif
