/*
 * ctrl.c: the PPTP control connection state machine (RFC 2637 section 2),
 * server (PAC) side.
 *
 * Interface: ctrl.h.  The service feeds buffered TCP bytes to ctrl_input,
 * one message per call, and gets replies, call set-up and tear-down back
 * through struct ctrl_ops.
 *
 * Framing: every message starts with a 12-byte header (length, message
 * type 1, magic cookie 0x1A2B3C4D, control message type, reserved0) and
 * every control message type has one fixed size (2.2 .. 2.16); nothing
 * larger than PPTP_CTRL_MSG_MAX_BYTES is ever waited for.  A length
 * outside 12..220, a wrong magic cookie or message type means the stream
 * cannot be trusted: Stop-Control-Connection-Request (if established) and
 * close.  A well-framed message that is wrong for its type (unknown type,
 * length not the type's fixed size, reserved0 not zero) or out of state
 * is skipped and counted as a protocol error; after PPTP_CTRL_ERRORS_MAX
 * of them (PPTP_CTRL_PRE_ERRORS_MAX before Start-Control-Connection) the
 * connection is stopped.
 *
 * Calls: Outgoing-Call-Request makes a call (at most calls_max per
 * connection); its call id is ours, allocated by the service (unique in
 * the worker, which is what GRE is demultiplexed by).  The PNS's call id
 * is only ever used to address it: a second call with a PNS call id
 * already in use on this connection is refused (call-id reuse).
 * Incoming-Call-Request is refused with Incoming-Call-Reply "do not
 * accept" (we place no calls for a PNS); Incoming-Call-Connected,
 * Call-Disconnect-Notify, replies we never asked for and anything a PAC
 * alone sends are out of state.  Wan-Error-Notify (a PAC's message) and
 * Set-Link-Info are accepted for a call of this connection and otherwise
 * counted.
 *
 * Known weaknesses: we never send Echo-Request ourselves; a dead peer is
 * found by the connection's idle timeout (pptp-linux and Windows send
 * Echo-Request every 60 s, so idle_timeout must stay above that).
 */
#include <string.h>

#include "region.h"
#include "pptp/ctrl.h"
#include "pptp/pptp_bytes.h"

static const struct {
	const char *name;
	size_t len;
} ctrl_types[PPTP_CTRL_TYPE_MAX + 1] = {
	[PPTP_SCCRQ] = { "sccrq", 156 },
	[PPTP_SCCRP] = { "sccrp", 156 },
	[PPTP_STOPCCRQ] = { "stopccrq", 16 },
	[PPTP_STOPCCRP] = { "stopccrp", 16 },
	[PPTP_ECHORQ] = { "echorq", 16 },
	[PPTP_ECHORP] = { "echorp", 20 },
	[PPTP_OCRQ] = { "ocrq", 168 },
	[PPTP_OCRP] = { "ocrp", 32 },
	[PPTP_ICRQ] = { "icrq", 220 },
	[PPTP_ICRP] = { "icrp", 24 },
	[PPTP_ICCN] = { "iccn", 28 },
	[PPTP_CCRQ] = { "ccrq", 16 },
	[PPTP_CDN] = { "cdn", 148 },
	[PPTP_WEN] = { "wen", 40 },
	[PPTP_SLI] = { "sli", 24 },
};

size_t
ctrl_fixed_len(unsigned type)
{
	return type >= 1 && type <= PPTP_CTRL_TYPE_MAX ? ctrl_types[type].len : 0;
}

const char *
ctrl_type_name(unsigned type)
{
	return type >= 1 && type <= PPTP_CTRL_TYPE_MAX ? ctrl_types[type].name : "unknown";
}

enum ctrl_hdr_status
ctrl_check_header(const uint8_t *p, size_t avail, size_t *msg_len, unsigned *type, const char **reason)
{
	size_t len;

	*reason = NULL;
	if (avail < 2)
		return CTRL_HDR_MORE;
	len = get16(p);
	/* Check what can be checked before waiting for the rest: a peer must
	 * not make us wait for bytes we would refuse anyway. */
	if (len < PPTP_CTRL_HDR_BYTES || len > PPTP_CTRL_MSG_MAX_BYTES) {
		*reason = "ctrl_bad_length";
		return CTRL_HDR_FATAL;
	}
	if (avail >= 4 && get16(p + 2) != PPTP_MSG_CONTROL) {
		*reason = "ctrl_bad_msg_type";
		return CTRL_HDR_FATAL;
	}
	if (avail >= 8 && get32(p + 4) != PPTP_MAGIC_COOKIE) {
		*reason = "ctrl_bad_magic";
		return CTRL_HDR_FATAL;
	}
	if (avail < len)
		return CTRL_HDR_MORE;
	*msg_len = len;
	*type = get16(p + 8);
	if (ctrl_fixed_len(*type) == 0) {
		*reason = "ctrl_unknown_type";
		return CTRL_HDR_SKIP;
	}
	if (ctrl_fixed_len(*type) != len) {
		*reason = "ctrl_wrong_length";
		return CTRL_HDR_SKIP;
	}
	if (get16(p + 10) != 0) {
		*reason = "ctrl_reserved0";
		return CTRL_HDR_SKIP;
	}
	return CTRL_HDR_OK;
}

static void
put_hdr(uint8_t *out, unsigned type)
{
	size_t len = ctrl_fixed_len(type);

	memset(out, 0, len);
	put16(out, (uint16_t)len);
	put16(out + 2, PPTP_MSG_CONTROL);
	put32(out + 4, PPTP_MAGIC_COOKIE);
	put16(out + 8, (uint16_t)type);
}

size_t
ctrl_build_sccrp(uint8_t *out, uint8_t result, uint8_t error, uint16_t max_channels)
{
	put_hdr(out, PPTP_SCCRP);
	put16(out + 12, PPTP_PROTOCOL_VERSION);
	out[14] = result;
	out[15] = error;
	put32(out + 16, 3);            /* framing: async and sync */
	put32(out + 20, 3);            /* bearer: analog and digital */
	put16(out + 24, max_channels);
	put16(out + 26, 1);            /* firmware revision */
	memcpy(out + 28, "holdfast", 8);
	memcpy(out + 92, "holdfast", 8);
	return ctrl_fixed_len(PPTP_SCCRP);
}

size_t
ctrl_build_stopccrq(uint8_t *out, uint8_t reason)
{
	put_hdr(out, PPTP_STOPCCRQ);
	out[12] = reason;
	return ctrl_fixed_len(PPTP_STOPCCRQ);
}

size_t
ctrl_build_stopccrp(uint8_t *out, uint8_t result, uint8_t error)
{
	put_hdr(out, PPTP_STOPCCRP);
	out[12] = result;
	out[13] = error;
	return ctrl_fixed_len(PPTP_STOPCCRP);
}

size_t
ctrl_build_echorp(uint8_t *out, const uint8_t ident[4], uint8_t result, uint8_t error)
{
	put_hdr(out, PPTP_ECHORP);
	memcpy(out + 12, ident, 4);
	out[16] = result;
	out[17] = error;
	return ctrl_fixed_len(PPTP_ECHORP);
}

size_t
ctrl_build_ocrp(uint8_t *out, uint16_t call_id, uint16_t peer_call_id, uint8_t result, uint8_t error,
                uint32_t speed, uint16_t window)
{
	put_hdr(out, PPTP_OCRP);
	put16(out + 12, call_id);
	put16(out + 14, peer_call_id);
	out[16] = result;
	out[17] = error;
	put32(out + 20, speed);
	put16(out + 24, window);
	return ctrl_fixed_len(PPTP_OCRP);
}

size_t
ctrl_build_icrp(uint8_t *out, uint16_t call_id, uint16_t peer_call_id, uint8_t result, uint8_t error)
{
	put_hdr(out, PPTP_ICRP);
	put16(out + 12, call_id);
	put16(out + 14, peer_call_id);
	out[16] = result;
	out[17] = error;
	put16(out + 18, PPTP_RECV_WINDOW_PKTS);
	return ctrl_fixed_len(PPTP_ICRP);
}

size_t
ctrl_build_cdn(uint8_t *out, uint16_t call_id, uint8_t result, uint8_t error)
{
	put_hdr(out, PPTP_CDN);
	put16(out + 12, call_id);
	out[14] = result;
	out[15] = error;
	return ctrl_fixed_len(PPTP_CDN);
}

int
ctrl_init(struct ctrl *c, struct region *r, size_t calls_max, const struct ctrl_ops *ops, void *arg)
{
	memset(c, 0, sizeof *c);
	if (calls_max == 0 || calls_max > PPTP_CALLS_PER_CONN_MAX)
		return -1;
	if ((c->calls = region_zalloc(r, calls_max * sizeof *c->calls)) == NULL)
		return -1;
	c->calls_max = calls_max;
	c->ops = ops;
	c->arg = arg;
	c->state = CTRL_WAIT_SCCRQ;
	return 0;
}

static int
ctrl_send(struct ctrl *c, const uint8_t *msg, size_t len)
{
	if (c->state == CTRL_CLOSED)
		return 0;
	c->msgs_out++;
	if (c->ops->send(c->arg, msg, len) != 0) {
		/* The output budget is spent (the peer is not reading) or the
		 * peer is gone: nothing more can be said to it. */
		ctrl_release(c);
		c->state = CTRL_CLOSED;
		c->ops->reject(c->arg, "ctrl_write_failed");
		c->ops->close(c->arg);
		return -1;
	}
	return 0;
}

static void
call_free(struct ctrl *c, struct ctrl_call *call, const char *why)
{
	if (call->state == CALL_FREE)
		return;
	c->ops->call_close(c->arg, call, why);
	memset(call, 0, sizeof *call);
	c->ncalls--;
}

void
ctrl_release(struct ctrl *c)
{
	size_t i;

	for (i = 0; i < c->calls_max; i++)
		call_free(c, &c->calls[i], "control connection closed");
}

void
ctrl_stop(struct ctrl *c, uint8_t reason)
{
	uint8_t msg[PPTP_CTRL_MSG_MAX_BYTES];

	if (c->state == CTRL_CLOSED)
		return;
	ctrl_release(c);
	if (c->state == CTRL_ESTABLISHED)
		ctrl_send(c, msg, ctrl_build_stopccrq(msg, reason));
	c->state = CTRL_CLOSED;
	c->ops->close(c->arg);
}

void
ctrl_call_disconnect(struct ctrl *c, struct ctrl_call *call, uint8_t result)
{
	uint8_t msg[PPTP_CTRL_MSG_MAX_BYTES];
	uint16_t peer = call->peer_call_id;

	if (call->state == CALL_FREE)
		return;
	call_free(c, call, "disconnected by us");
	ctrl_send(c, msg, ctrl_build_cdn(msg, peer, result, 0));
}

/* One protocol error; past the budget the connection is stopped. */
static void
ctrl_error(struct ctrl *c, const char *reason)
{
	c->ops->reject(c->arg, reason);
	c->errors++;
	if (c->state == CTRL_WAIT_SCCRQ ? c->errors >= PPTP_CTRL_PRE_ERRORS_MAX : c->errors >= PPTP_CTRL_ERRORS_MAX) {
		c->ops->reject(c->arg, "ctrl_too_many_errors");
		ctrl_stop(c, 1);
	}
}

static struct ctrl_call *
call_by_peer_id(struct ctrl *c, uint16_t peer_call_id)
{
	size_t i;

	for (i = 0; i < c->calls_max; i++)
		if (c->calls[i].state != CALL_FREE && c->calls[i].peer_call_id == peer_call_id)
			return &c->calls[i];
	return NULL;
}

static struct ctrl_call *
call_by_id(struct ctrl *c, uint16_t call_id)
{
	size_t i;

	for (i = 0; i < c->calls_max; i++)
		if (c->calls[i].state != CALL_FREE && c->calls[i].call_id == call_id)
			return &c->calls[i];
	return NULL;
}

static void
on_sccrq(struct ctrl *c, const uint8_t *m)
{
	uint8_t out[PPTP_CTRL_MSG_MAX_BYTES];

	if (c->state != CTRL_WAIT_SCCRQ) {
		ctrl_error(c, "ctrl_out_of_state");
		return;
	}
	if (get16(m + 12) != PPTP_PROTOCOL_VERSION) {
		/* 2.3: result 5, protocol version not supported; then close. */
		c->ops->reject(c->arg, "ctrl_bad_version");
		ctrl_send(c, out, ctrl_build_sccrp(out, 5, 0, 0));
		c->state = CTRL_CLOSED;
		c->ops->close(c->arg);
		return;
	}
	if (ctrl_send(c, out, ctrl_build_sccrp(out, 1, 0, (uint16_t)c->calls_max)) != 0)
		return;
	c->state = CTRL_ESTABLISHED;
	c->ops->established(c->arg);
}

static void
on_stopccrq(struct ctrl *c, const uint8_t *m)
{
	uint8_t out[PPTP_CTRL_MSG_MAX_BYTES];

	ctrl_release(c);
	ctrl_send(c, out, ctrl_build_stopccrp(out, 1, 0));
	c->state = CTRL_CLOSED;
	c->ops->close(c->arg);
}

static void
on_echorq(struct ctrl *c, const uint8_t *m)
{
	uint8_t out[PPTP_CTRL_MSG_MAX_BYTES];

	ctrl_send(c, out, ctrl_build_echorp(out, m + 12, 1, 0));
}

static void
on_ocrq(struct ctrl *c, const uint8_t *m)
{
	uint8_t out[PPTP_CTRL_MSG_MAX_BYTES];
	uint16_t peer_id = get16(m + 12);
	uint16_t window = get16(m + 32);
	uint32_t max_bps = get32(m + 20);
	struct ctrl_call *call = NULL;
	size_t i;

	if (get16(m + 36) > PPTP_CTRL_PHONE_MAX_BYTES) {
		/* 2.7: the phone number field is 64 bytes. */
		c->ops->reject(c->arg, "ctrl_bad_value");
		c->errors++;
		ctrl_send(c, out, ctrl_build_ocrp(out, 0, peer_id, 2, 3, 0, 0));
		return;
	}
	if (call_by_peer_id(c, peer_id) != NULL) {
		/* The PNS reuses a call id it already has with us: refuse the
		 * second call, keep the first. */
		c->ops->reject(c->arg, "ctrl_call_id_reuse");
		c->errors++;
		ctrl_send(c, out, ctrl_build_ocrp(out, 0, peer_id, 2, 3, 0, 0));
		return;
	}
	for (i = 0; i < c->calls_max && call == NULL; i++)
		if (c->calls[i].state == CALL_FREE)
			call = &c->calls[i];
	if (call == NULL) {
		c->ops->reject(c->arg, "ctrl_calls_max");
		ctrl_send(c, out, ctrl_build_ocrp(out, 0, peer_id, 4, 0, 0, 0));
		return;
	}
	memset(call, 0, sizeof *call);
	call->peer_call_id = peer_id;
	call->serial = get16(m + 14);
	call->peer_window = window == 0 ? 1 : window > PPTP_PEER_WINDOW_MAX_PKTS ? PPTP_PEER_WINDOW_MAX_PKTS : window;
	call->send_accm = call->recv_accm = 0xffffffffu;
	if (c->ops->call_open(c->arg, call) != 0) {
		c->ops->reject(c->arg, "ctrl_no_resource");
		memset(call, 0, sizeof *call);
		ctrl_send(c, out, ctrl_build_ocrp(out, 0, peer_id, 2, 4, 0, 0));
		return;
	}
	call->state = CALL_ESTABLISHED;
	c->ncalls++;
	if (max_bps == 0)
		max_bps = 100000000;
	ctrl_send(c, out, ctrl_build_ocrp(out, call->call_id, peer_id, 1, 0, max_bps, PPTP_RECV_WINDOW_PKTS));
}

static void
on_icrq(struct ctrl *c, const uint8_t *m)
{
	uint8_t out[PPTP_CTRL_MSG_MAX_BYTES];

	/* 2.9: we are not a PNS; result 3, do not accept. */
	c->ops->reject(c->arg, "ctrl_icrq_refused");
	ctrl_send(c, out, ctrl_build_icrp(out, 0, get16(m + 12), 3, 0));
}

static void
on_ccrq(struct ctrl *c, const uint8_t *m)
{
	uint8_t out[PPTP_CTRL_MSG_MAX_BYTES];
	uint16_t peer_id = get16(m + 12);
	struct ctrl_call *call = call_by_peer_id(c, peer_id);

	if (call == NULL) {
		ctrl_error(c, "ctrl_unknown_call");
		return;
	}
	call_free(c, call, "call clear request");
	/* 2.13: result 4, call cleared on request. */
	ctrl_send(c, out, ctrl_build_cdn(out, peer_id, 4, 0));
}

static void
on_sli(struct ctrl *c, const uint8_t *m)
{
	struct ctrl_call *call = call_by_id(c, get16(m + 12));

	if (call == NULL) {
		ctrl_error(c, "ctrl_unknown_call");
		return;
	}
	call->send_accm = get32(m + 16);
	call->recv_accm = get32(m + 20);
}

static void
on_wen(struct ctrl *c, const uint8_t *m)
{
	/* A PAC's message; a PNS has no business sending it, but it only
	 * reports counters: note it for a call of ours, else an error. */
	if (call_by_id(c, get16(m + 12)) == NULL) {
		ctrl_error(c, "ctrl_unknown_call");
		return;
	}
	c->wen_count++;
}

size_t
ctrl_input(struct ctrl *c, const uint8_t *p, size_t avail)
{
	enum ctrl_hdr_status st;
	const char *reason;
	size_t len = 0;
	unsigned type = 0;

	if (c->state == CTRL_CLOSED)
		return 0;
	st = ctrl_check_header(p, avail, &len, &type, &reason);
	if (st == CTRL_HDR_MORE)
		return 0;
	if (st == CTRL_HDR_FATAL) {
		c->ops->reject(c->arg, reason);
		ctrl_stop(c, 1);
		return 0;
	}
	c->msgs_in++;
	if (st == CTRL_HDR_SKIP) {
		ctrl_error(c, reason);
		return len;
	}
	if (c->state == CTRL_WAIT_SCCRQ && type != PPTP_SCCRQ) {
		ctrl_error(c, "ctrl_out_of_state");
		return len;
	}
	switch (type) {
	case PPTP_SCCRQ:
		on_sccrq(c, p);
		break;
	case PPTP_STOPCCRQ:
		on_stopccrq(c, p);
		break;
	case PPTP_ECHORQ:
		on_echorq(c, p);
		break;
	case PPTP_OCRQ:
		on_ocrq(c, p);
		break;
	case PPTP_ICRQ:
		on_icrq(c, p);
		break;
	case PPTP_CCRQ:
		on_ccrq(c, p);
		break;
	case PPTP_SLI:
		on_sli(c, p);
		break;
	case PPTP_WEN:
		on_wen(c, p);
		break;
	default:
		/* SCCRP, StopCCRP, Echo-Reply, OCRP, ICRP, ICCN, CDN: replies to
		 * requests we never make, or a PAC's messages. */
		ctrl_error(c, "ctrl_out_of_state");
		break;
	}
	if (c->state != CTRL_CLOSED && c->errors >= PPTP_CTRL_ERRORS_MAX) {
		c->ops->reject(c->arg, "ctrl_too_many_errors");
		ctrl_stop(c, 1);
	}
	return len;
}
