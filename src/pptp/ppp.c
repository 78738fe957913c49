/*
 * ppp.c: the PPP engine's frame demultiplexer, the RFC 1661 option
 * negotiation automaton shared by LCP, IPCP and CCP, and the phases
 * (establish, authenticate, network, running, terminate).  Interface in
 * ppp.h; the protocols' options live in lcp.c, ipcp.c, mppe.c, the
 * authentication in ppp_auth.c.
 *
 * Memory: everything is in struct ppp, allocated once by ppp_new in the
 * call region; frames are parsed in place and replies built in the one
 * transmit buffer, so no input can make the engine allocate.  Every
 * length in a frame is checked against what was received; a malformed
 * frame is counted (stats.bad_frames) and dropped, as RFC 1661 asks
 * ("silently discarded"), and never closes the link: GRE packets can be
 * forged, so a forger must not be able to end a call with garbage.
 *
 * Bounds on the peer: Configure-Requests per protocol (PPP_CONF_REQ_MAX,
 * storms and option loops), Naks in a row before we Reject
 * (PPP_MAX_FAILURE), retransmissions (PPP_MAX_CONFIGURE,
 * PPP_MAX_TERMINATE), authentication time and attempts.
 *
 * Weakness: replies (Echo-Reply, Protocol-Reject, Code-Reject) are sent
 * one per frame received; the GRE layer's per-call rate limit bounds them.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "loop.h"
#include "region.h"
#include "ppp_int.h"

uint16_t
ppp_get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

uint32_t
ppp_get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

void
ppp_put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

void
ppp_put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

void
ppp_random_bytes(uint8_t *out, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(out + got, n - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* getrandom cannot fail after boot on Linux >= 3.17; if
			 * it does, refuse to run with a guessable challenge. */
			log_fatal("ppp: getrandom: %s", strerror(errno));
		}
		got += (size_t)r;
	}
}

uint32_t
ppp_random32(void)
{
	uint8_t b[4];

	ppp_random_bytes(b, 4);
	return ppp_get32(b);
}

/* ---- output ---- */

int
ppp_send_frame(struct ppp *p, uint16_t proto, const uint8_t *info, size_t len)
{
	if (p->down_called)
		return -1;
	if (len > sizeof p->tx - PPP_HEADER_MAX_BYTES) {
		p->stats.send_drops++;
		return -1;
	}
	/* info may already sit in p->tx + 4 (built in place). */
	if (len > 0 && info != p->tx + PPP_HEADER_MAX_BYTES)
		memmove(p->tx + PPP_HEADER_MAX_BYTES, info, len);
	p->tx[0] = 0xff;
	p->tx[1] = 0x03;
	ppp_put16(p->tx + 2, proto);
	if (p->ops.send(p->arg, p->tx, len + PPP_HEADER_MAX_BYTES) != 0) {
		p->stats.send_drops++;
		return -1;
	}
	p->stats.frames_out++;
	return 0;
}

int
ppp_send_ctrl(struct ppp *p, uint16_t proto, uint8_t code, uint8_t id,
    const uint8_t *data, size_t len)
{
	uint8_t *b = p->tx + PPP_HEADER_MAX_BYTES;
	size_t cap = sizeof p->tx - PPP_HEADER_MAX_BYTES;

	/* A reply never exceeds the peer's MRU (RFC 1661 5.7 truncation for
	 * Protocol-/Code-Reject is done by the callers passing len). */
	if (len + 4 > cap || len + 4 > p->lcps.peer_mru) {
		p->stats.send_drops++;
		return -1;
	}
	if (len > 0 && data != b + 4)
		memmove(b + 4, data, len);
	b[0] = code;
	b[1] = id;
	ppp_put16(b + 2, (uint16_t)(len + 4));
	return ppp_send_frame(p, proto, b, len + 4);
}

/* ---- the automaton (RFC 1661 4) ---- */

static void fsm_timeout(struct timer *t, void *arg);

void
fsm_init(struct ppp_fsm *f, struct ppp *p, const struct fsm_proto *proto)
{
	memset(f, 0, sizeof *f);
	f->ppp = p;
	f->p = proto;
	f->state = FSM_CLOSED;
	timer_init(&f->timer, fsm_timeout, f);
}

void
fsm_cancel(struct ppp_fsm *f)
{
	loop_timer_cancel(f->ppp->conf.loop, &f->timer);
}

static void
fsm_arm(struct ppp_fsm *f)
{
	if (loop_timer_set(f->ppp->conf.loop, &f->timer, f->ppp->conf.restart_ms) != 0)
		log_warn("ppp %s: cannot arm the restart timer", f->p->name);
}

static void
fsm_send_conf_req(struct ppp_fsm *f)
{
	struct ppp *p = f->ppp;
	uint8_t *opt = p->tx + PPP_HEADER_MAX_BYTES + 4;

	f->reqlen = f->p->build_req(f, f->req, sizeof f->req);
	memcpy(opt, f->req, f->reqlen);
	f->id++;
	f->reqid_valid = 1;
	ppp_send_ctrl(p, f->p->proto, CODE_CONF_REQ, f->id, opt, f->reqlen);
	f->restart--;
	fsm_arm(f);
}

static void
fsm_send_term_req(struct ppp_fsm *f)
{
	static const char why[] = "bye";

	f->id++;
	ppp_send_ctrl(f->ppp, f->p->proto, CODE_TERM_REQ, f->id,
	    (const uint8_t *)why, sizeof why - 1);
	f->restart--;
	fsm_arm(f);
}

static void
fsm_this_layer_up(struct ppp_fsm *f)
{
	f->state = FSM_OPENED;
	if (f->p->up)
		f->p->up(f);
}

static void
fsm_this_layer_down(struct ppp_fsm *f)
{
	if (f->p->down)
		f->p->down(f);
}

static void
fsm_this_layer_finished(struct ppp_fsm *f, enum fsm_state st)
{
	f->state = st;
	fsm_cancel(f);
	if (f->p->finished)
		f->p->finished(f);
}

void
fsm_open(struct ppp_fsm *f)
{
	if (f->state != FSM_CLOSED && f->state != FSM_STOPPED)
		return;
	f->restart = PPP_MAX_CONFIGURE;
	f->failures = 0;
	f->state = FSM_REQSENT;
	fsm_send_conf_req(f);
}

void
fsm_close(struct ppp_fsm *f, const char *why)
{
	f->close_why = why;
	switch (f->state) {
	case FSM_STOPPED:
		f->state = FSM_CLOSED;
		break;
	case FSM_STOPPING:
		f->state = FSM_CLOSING;
		break;
	case FSM_OPENED:
	case FSM_REQSENT:
	case FSM_ACKRCVD:
	case FSM_ACKSENT:
		if (f->state == FSM_OPENED)
			fsm_this_layer_down(f);
		f->restart = PPP_MAX_TERMINATE;
		f->state = FSM_CLOSING;
		fsm_send_term_req(f);
		break;
	default:
		break;
	}
}

static void
fsm_timeout(struct timer *t, void *arg)
{
	struct ppp_fsm *f = arg;

	(void)t;
	if (f->restart > 0) {
		switch (f->state) {
		case FSM_CLOSING:
		case FSM_STOPPING:
			fsm_send_term_req(f);
			break;
		case FSM_REQSENT:
		case FSM_ACKRCVD:
			f->state = FSM_REQSENT;
			fsm_send_conf_req(f);
			break;
		case FSM_ACKSENT:
			fsm_send_conf_req(f);
			break;
		default:
			break;
		}
		return;
	}
	switch (f->state) {
	case FSM_CLOSING:
		fsm_this_layer_finished(f, FSM_CLOSED);
		break;
	case FSM_STOPPING:
	case FSM_REQSENT:
	case FSM_ACKRCVD:
	case FSM_ACKSENT:
		if (!f->close_why)
			f->close_why = "negotiation timed out";
		fsm_this_layer_finished(f, FSM_STOPPED);
		break;
	default:
		break;
	}
}

int
fsm_options_ok(const uint8_t *opt, size_t len)
{
	size_t off = 0;
	int n = 0;

	while (off < len) {
		if (len - off < 2 || opt[off + 1] < 2 || opt[off + 1] > len - off)
			return 0;
		if (++n > PPP_OPTIONS_MAX)
			return 0;
		off += opt[off + 1];
	}
	return 1;
}

void
fsm_rej(struct fsm_reply *r, const uint8_t *opt)
{
	/* Option lengths were checked against the packet, whose size is
	 * below PPP_FRAME_MAX_BYTES: the sum fits. */
	if (r->rejlen + opt[1] <= sizeof r->rej) {
		memcpy(r->rej + r->rejlen, opt, opt[1]);
		r->rejlen += opt[1];
	}
}

void
fsm_nak(struct fsm_reply *r, const uint8_t *opt, uint8_t type, const void *data, size_t dlen)
{
	if (r->naklen + 2 + dlen <= sizeof r->nak && dlen <= 253) {
		r->nak[r->naklen] = type;
		r->nak[r->naklen + 1] = (uint8_t)(2 + dlen);
		memcpy(r->nak + r->naklen + 2, data, dlen);
		r->naklen += 2 + dlen;
	}
	if (opt && r->nakedlen + opt[1] <= sizeof r->naked) {
		memcpy(r->naked + r->nakedlen, opt, opt[1]);
		r->nakedlen += opt[1];
	}
}

static void
fsm_rcr(struct ppp_fsm *f, uint8_t id, const uint8_t *opt, size_t len)
{
	struct ppp *p = f->ppp;
	struct fsm_reply r;
	const uint8_t *reply;
	size_t rlen;
	uint8_t code;

	switch (f->state) {
	case FSM_CLOSED:
		ppp_send_ctrl(p, f->p->proto, CODE_TERM_ACK, id, NULL, 0);
		return;
	case FSM_CLOSING:
	case FSM_STOPPING:
		return;
	default:
		break;
	}
	if (!fsm_options_ok(opt, len)) {
		p->stats.bad_frames++;
		return;
	}
	if (++f->reqs_rcvd > PPP_CONF_REQ_MAX) {
		fsm_close(f, "configure-request storm");
		return;
	}
	r.rejlen = r.naklen = r.nakedlen = 0;
	f->p->recv_req(f, opt, len, &r);
	if (f->state == FSM_CLOSING || f->state == FSM_CLOSED)
		return;   /* recv_req gave up on the link (a loop) */
	if (r.rejlen > 0) {
		code = CODE_CONF_REJ;
		reply = r.rej;
		rlen = r.rejlen;
	} else if (r.naklen > 0 && f->failures >= PPP_MAX_FAILURE && r.nakedlen > 0) {
		/* RFC 1661 4.6 Max-Failure: a Nak loop becomes a Reject of the
		 * options we kept Naking, which the peer must then drop. */
		code = CODE_CONF_REJ;
		reply = r.naked;
		rlen = r.nakedlen;
	} else if (r.naklen > 0) {
		code = CODE_CONF_NAK;
		f->failures++;
		reply = r.nak;
		rlen = r.naklen;
	} else {
		code = CODE_CONF_ACK;
		f->failures = 0;
		reply = opt;
		rlen = len;
	}
	ppp_send_ctrl(p, f->p->proto, code, id, reply, rlen);
	if (code == CODE_CONF_ACK) {
		switch (f->state) {
		case FSM_STOPPED:
			f->restart = PPP_MAX_CONFIGURE;
			fsm_send_conf_req(f);
			f->state = FSM_ACKSENT;
			break;
		case FSM_REQSENT:
			f->state = FSM_ACKSENT;
			break;
		case FSM_ACKRCVD:
			fsm_cancel(f);
			fsm_this_layer_up(f);
			break;
		case FSM_OPENED:
			fsm_this_layer_down(f);
			fsm_send_conf_req(f);
			f->state = FSM_ACKSENT;
			break;
		default:
			break;
		}
	} else {
		switch (f->state) {
		case FSM_STOPPED:
			f->restart = PPP_MAX_CONFIGURE;
			fsm_send_conf_req(f);
			f->state = FSM_REQSENT;
			break;
		case FSM_ACKSENT:
			f->state = FSM_REQSENT;
			break;
		case FSM_OPENED:
			fsm_this_layer_down(f);
			fsm_send_conf_req(f);
			f->state = FSM_REQSENT;
			break;
		default:
			break;
		}
	}
}

static void
fsm_rca(struct ppp_fsm *f, uint8_t id, const uint8_t *opt, size_t len)
{
	if (!f->reqid_valid || id != f->id || len != f->reqlen || memcmp(opt, f->req, len) != 0) {
		/* Not an Ack of our last request: RFC 1661 5.2 says discard. */
		f->ppp->stats.bad_frames++;
		return;
	}
	switch (f->state) {
	case FSM_CLOSED:
	case FSM_STOPPED:
		ppp_send_ctrl(f->ppp, f->p->proto, CODE_TERM_ACK, id, NULL, 0);
		break;
	case FSM_REQSENT:
		f->reqid_valid = 0;
		f->restart = PPP_MAX_CONFIGURE;
		f->state = FSM_ACKRCVD;
		break;
	case FSM_ACKRCVD:
		fsm_send_conf_req(f);
		f->state = FSM_REQSENT;
		break;
	case FSM_ACKSENT:
		f->reqid_valid = 0;
		f->restart = PPP_MAX_CONFIGURE;
		fsm_cancel(f);
		fsm_this_layer_up(f);
		break;
	case FSM_OPENED:
		fsm_this_layer_down(f);
		fsm_send_conf_req(f);
		f->state = FSM_REQSENT;
		break;
	default:
		break;
	}
}

static void
fsm_rcn(struct ppp_fsm *f, uint8_t code, uint8_t id, const uint8_t *opt, size_t len)
{
	int r;

	if (!f->reqid_valid || id != f->id) {
		f->ppp->stats.bad_frames++;
		return;
	}
	if (!fsm_options_ok(opt, len)) {
		f->ppp->stats.bad_frames++;
		return;
	}
	switch (f->state) {
	case FSM_CLOSED:
	case FSM_STOPPED:
		ppp_send_ctrl(f->ppp, f->p->proto, CODE_TERM_ACK, id, NULL, 0);
		return;
	case FSM_CLOSING:
	case FSM_STOPPING:
		return;
	default:
		break;
	}
	if (++f->naks_rcvd > PPP_CONF_REQ_MAX) {
		fsm_close(f, "option negotiation loop");
		return;
	}
	f->reqid_valid = 0;
	r = code == CODE_CONF_NAK ? f->p->recv_nak(f, opt, len) : f->p->recv_rej(f, opt, len);
	if (r < 0) {
		fsm_close(f, f->close_why ? f->close_why : "options refused");
		return;
	}
	switch (f->state) {
	case FSM_REQSENT:
	case FSM_ACKRCVD:
		f->restart = PPP_MAX_CONFIGURE;
		fsm_send_conf_req(f);
		f->state = FSM_REQSENT;
		break;
	case FSM_ACKSENT:
		f->restart = PPP_MAX_CONFIGURE;
		fsm_send_conf_req(f);
		break;
	case FSM_OPENED:
		fsm_this_layer_down(f);
		fsm_send_conf_req(f);
		f->state = FSM_REQSENT;
		break;
	default:
		break;
	}
}

static void
fsm_rtr(struct ppp_fsm *f, uint8_t id)
{
	ppp_send_ctrl(f->ppp, f->p->proto, CODE_TERM_ACK, id, NULL, 0);
	switch (f->state) {
	case FSM_ACKRCVD:
	case FSM_ACKSENT:
		f->state = FSM_REQSENT;
		break;
	case FSM_OPENED:
		if (!f->close_why)
			f->close_why = "peer terminated";
		fsm_this_layer_down(f);
		f->restart = 0;
		f->state = FSM_STOPPING;
		/* Zero restart counter: wait one restart period, then finish. */
		fsm_arm(f);
		break;
	default:
		break;
	}
}

static void
fsm_rta(struct ppp_fsm *f)
{
	switch (f->state) {
	case FSM_CLOSING:
		fsm_this_layer_finished(f, FSM_CLOSED);
		break;
	case FSM_STOPPING:
		fsm_this_layer_finished(f, FSM_STOPPED);
		break;
	case FSM_ACKRCVD:
		f->state = FSM_REQSENT;
		break;
	case FSM_OPENED:
		fsm_this_layer_down(f);
		fsm_send_conf_req(f);
		f->state = FSM_REQSENT;
		break;
	default:
		break;
	}
}

void
fsm_input(struct ppp_fsm *f, const uint8_t *pkt, size_t len)
{
	struct ppp *p = f->ppp;
	uint8_t code, id;
	size_t plen;

	if (len < 4) {
		p->stats.bad_frames++;
		return;
	}
	code = pkt[0];
	id = pkt[1];
	plen = ppp_get16(pkt + 2);
	/* Octets beyond Length are padding (RFC 1661 5); fewer is malformed. */
	if (plen < 4 || plen > len) {
		p->stats.bad_frames++;
		return;
	}
	pkt += 4;
	plen -= 4;
	switch (code) {
	case CODE_CONF_REQ:
		fsm_rcr(f, id, pkt, plen);
		break;
	case CODE_CONF_ACK:
		fsm_rca(f, id, pkt, plen);
		break;
	case CODE_CONF_NAK:
	case CODE_CONF_REJ:
		fsm_rcn(f, code, id, pkt, plen);
		break;
	case CODE_TERM_REQ:
		fsm_rtr(f, id);
		break;
	case CODE_TERM_ACK:
		fsm_rta(f);
		break;
	case CODE_CODE_REJ:
		/* RXJ: we only send codes every implementation knows; a
		 * rejection of one of them is catastrophic (RFC 1661 4.3). */
		if (plen >= 1 && pkt[0] >= CODE_CONF_REQ && pkt[0] <= CODE_TERM_ACK) {
			f->close_why = "peer rejected a basic code";
			if (f->state == FSM_CLOSING)
				fsm_this_layer_finished(f, FSM_CLOSED);
			else if (f->state != FSM_CLOSED && f->state != FSM_STOPPED)
				fsm_this_layer_finished(f, FSM_STOPPED);
		}
		break;
	default:
		if (f->p->extcode && f->p->extcode(f, code, id, pkt, plen) == 0)
			break;
		if (f->state == FSM_CLOSED || f->state == FSM_STOPPED)
			break;
		/* RUC: Code-Reject carrying the rejected packet, truncated. */
		{
			size_t n = plen + 4;
			size_t max = (size_t)p->lcps.peer_mru - 4;

			if (n > max)
				n = max;
			ppp_send_ctrl(p, f->p->proto, CODE_CODE_REJ, ++f->id, pkt - 4, n);
		}
		break;
	}
}

/* ---- phases ---- */

void
ppp_finish(struct ppp *p, const char *reason)
{
	if (p->down_called)
		return;
	p->down_called = 1;
	p->phase = PPP_PHASE_DEAD;
	fsm_cancel(&p->lcp);
	fsm_cancel(&p->ipcp);
	fsm_cancel(&p->ccp);
	lcp_cancel(p);
	auth_cancel(p);
	explicit_bzero(&p->mppe, sizeof p->mppe);
	p->ops.down(p->arg, reason ? reason : "closed");
}

/* Called by auth when it finishes; ok: authenticated. */
void
ppp_auth_done(struct ppp *p, int ok)
{
	if (!ok) {
		p->stats.auth_failures++;
		p->phase = PPP_PHASE_TERMINATE;
		fsm_close(&p->lcp, "authentication failed");
		return;
	}
	if (p->conf.mppe == PPP_MPPE_REQUIRE && !p->mppe.have_keys) {
		p->phase = PPP_PHASE_TERMINATE;
		fsm_close(&p->lcp, "MPPE required but authentication gave no keys");
		return;
	}
	p->phase = PPP_PHASE_NETWORK;
	fsm_open(&p->ipcp);
	if (p->conf.mppe != PPP_MPPE_REFUSE && p->mppe.have_keys)
		fsm_open(&p->ccp);
}

/* Called when IPCP or CCP opens or goes down: are we running? */
void
ppp_network_check(struct ppp *p)
{
	/* While MPPE is being negotiated (we have keys, CCP is neither up nor
	 * given up), no IP flows even when MPPE is only allowed: nothing goes
	 * out in clear that would have been encrypted a moment later. */
	int ccp_pending = p->mppe.have_keys && p->conf.mppe != PPP_MPPE_REFUSE && !p->mppe.on &&
	    p->ccp.state != FSM_CLOSED && p->ccp.state != FSM_STOPPED;
	int ready = p->ipcp.state == FSM_OPENED &&
	    (p->conf.mppe == PPP_MPPE_REQUIRE ? p->mppe.on : !ccp_pending);

	if (ready && p->phase == PPP_PHASE_NETWORK) {
		p->phase = PPP_PHASE_RUNNING;
		p->ops.up(p->arg, p->conf.peer_addr);
	} else if (!ready && p->phase == PPP_PHASE_RUNNING) {
		p->phase = PPP_PHASE_NETWORK;
	}
}

static void
ppp_cleanup(void *arg)
{
	struct ppp *p = arg;

	fsm_cancel(&p->lcp);
	fsm_cancel(&p->ipcp);
	fsm_cancel(&p->ccp);
	lcp_cancel(p);
	auth_cancel(p);
	explicit_bzero(&p->mppe, sizeof p->mppe);
	explicit_bzero(&p->auth, sizeof p->auth);
}

struct ppp *
ppp_new(struct region *call_region, const struct ppp_conf *conf,
    const struct ppp_ops *ops, void *arg)
{
	struct ppp *p = region_zalloc(call_region, sizeof *p);
	const char *name;

	if (!p)
		return NULL;
	if (region_on_release(call_region, ppp_cleanup, p) != 0) {
		region_free(call_region, p);
		return NULL;
	}
	p->region = call_region;
	p->conf = *conf;
	p->ops = *ops;
	p->arg = arg;
	name = conf->name ? conf->name : "holdfast";
	strncpy(p->name, name, sizeof p->name - 1);
	p->conf.name = p->name;
	if (p->conf.mru == 0 || p->conf.mru > PPP_MRU_MAX)
		p->conf.mru = PPP_MRU_DEFAULT;
	if (p->conf.mru < PPP_MRU_MIN)
		p->conf.mru = PPP_MRU_MIN;
	if (p->conf.restart_ms == 0)
		p->conf.restart_ms = PPP_RESTART_MS;
	if (p->conf.echo_failures == 0)
		p->conf.echo_failures = PPP_ECHO_FAILURES;
	if (p->conf.auth_timeout_ms == 0)
		p->conf.auth_timeout_ms = PPP_AUTH_TIMEOUT_MS;
	p->conf.auth &= PPP_AUTH_PAP | PPP_AUTH_CHAP_MD5 | PPP_AUTH_MSCHAPV2;
	p->phase = PPP_PHASE_DEAD;
	fsm_init(&p->lcp, p, &lcp_proto);
	fsm_init(&p->ipcp, p, &ipcp_proto);
	fsm_init(&p->ccp, p, &ccp_proto);
	lcp_init(p);
	ipcp_reset(p);
	return p;
}

void
ppp_start(struct ppp *p)
{
	if (p->phase != PPP_PHASE_DEAD || p->down_called)
		return;
	p->phase = PPP_PHASE_ESTABLISH;
	fsm_open(&p->lcp);
}

void
ppp_close(struct ppp *p, const char *why)
{
	if (p->down_called)
		return;
	if (p->lcp.state == FSM_CLOSED || p->lcp.state == FSM_STOPPED) {
		ppp_finish(p, why);
		return;
	}
	p->phase = PPP_PHASE_TERMINATE;
	fsm_close(&p->lcp, why);
}

static void
ppp_ip_input(struct ppp *p, const uint8_t *ip, size_t len)
{
	if (p->phase != PPP_PHASE_RUNNING) {
		p->stats.bad_frames++;
		return;
	}
	/* The least an IPv4 header must be; the TUN side checks the rest. */
	if (len < 20 || (ip[0] >> 4) != 4) {
		p->stats.bad_frames++;
		return;
	}
	p->stats.ip_in++;
	p->stats.bytes_in += len;
	p->ops.ip_input(p->arg, ip, len);
}

static void
ppp_proto_reject(struct ppp *p, const uint8_t *frame, size_t len)
{
	/* frame: the protocol field (2 bytes, uncompressed) and information. */
	size_t max = (size_t)p->lcps.peer_mru - 4;

	p->stats.unknown_proto++;
	if (p->lcp.state != FSM_OPENED)
		return;
	if (len > max)
		len = max;
	ppp_send_ctrl(p, PPP_PROTO_LCP, CODE_PROTO_REJ, ++p->lcp.id, frame, len);
}

void
ppp_input(struct ppp *p, const uint8_t *frame, size_t len)
{
	uint16_t proto;
	size_t hdr;
	uint8_t rej[PPP_FRAME_MAX_BYTES];

	if (p->down_called)
		return;
	p->stats.frames_in++;
	if (len > PPP_FRAME_MAX_BYTES) {
		p->stats.bad_frames++;
		return;
	}
	if (len >= 2 && frame[0] == 0xff && frame[1] == 0x03) {
		frame += 2;
		len -= 2;
	}
	if (len < 1) {
		p->stats.bad_frames++;
		return;
	}
	/* RFC 1661 2: the protocol field's last octet is odd, the others even. */
	if (frame[0] & 1) {
		proto = frame[0];
		hdr = 1;
	} else {
		if (len < 2 || !(frame[1] & 1)) {
			p->stats.bad_frames++;
			return;
		}
		proto = ppp_get16(frame);
		hdr = 2;
	}
	frame += hdr;
	len -= hdr;
	switch (proto) {
	case PPP_PROTO_LCP:
		fsm_input(&p->lcp, frame, len);
		return;
	case PPP_PROTO_PAP:
	case PPP_PROTO_CHAP:
		if (p->phase == PPP_PHASE_AUTHENTICATE || p->phase == PPP_PHASE_NETWORK ||
		    p->phase == PPP_PHASE_RUNNING)
			auth_input(p, proto, frame, len);
		else
			p->stats.bad_frames++;
		return;
	case PPP_PROTO_IPCP:
	case PPP_PROTO_CCP:
		/* RFC 1661 3.5: NCP packets before the network phase are dropped. */
		if (p->phase != PPP_PHASE_NETWORK && p->phase != PPP_PHASE_RUNNING) {
			p->stats.bad_frames++;
			return;
		}
		if (proto == PPP_PROTO_CCP && p->conf.mppe == PPP_MPPE_REFUSE)
			break;
		fsm_input(proto == PPP_PROTO_IPCP ? &p->ipcp : &p->ccp, frame, len);
		return;
	case PPP_PROTO_IP:
		if (p->mppe.on) {
			/* Plain IP on an encrypted link: refuse, do not forward. */
			p->stats.mppe_discards++;
			return;
		}
		if (p->conf.mppe == PPP_MPPE_REQUIRE) {
			p->stats.bad_frames++;
			return;
		}
		ppp_ip_input(p, frame, len);
		return;
	case PPP_PROTO_COMP:
		if (p->mppe.on && p->phase == PPP_PHASE_RUNNING) {
			const uint8_t *inner;
			size_t ilen;
			uint8_t *buf = rej;

			memcpy(buf, frame, len);
			if (mppe_decrypt(p, buf, len, &inner, &ilen) == 0)
				ppp_ip_input(p, inner, ilen);
			return;
		}
		if (p->phase != PPP_PHASE_RUNNING && p->phase != PPP_PHASE_NETWORK)
			break;
		p->stats.mppe_discards++;
		return;
	default:
		break;
	}
	if (p->phase == PPP_PHASE_ESTABLISH || p->phase == PPP_PHASE_DEAD ||
	    p->phase == PPP_PHASE_TERMINATE) {
		p->stats.bad_frames++;
		return;
	}
	/* Unknown (or refused) protocol: LCP Protocol-Reject (RFC 1661 5.7). */
	ppp_put16(rej, proto);
	if (len > sizeof rej - 2)
		len = sizeof rej - 2;
	memcpy(rej + 2, frame, len);
	ppp_proto_reject(p, rej, len + 2);
}

int
ppp_send_ip(struct ppp *p, const uint8_t *ip, size_t len)
{
	if (p->down_called || p->phase != PPP_PHASE_RUNNING)
		return -1;
	/* The peer's MRU bounds the information field: with MPPE that is the
	 * 2-byte header and the 2-byte inner protocol as well (pppd lowers
	 * its MTU by the same 4 bytes, MPPE_PAD). */
	if (len == 0 || len + (p->mppe.on ? PPP_MPPE_OVERHEAD_BYTES : 0) > p->lcps.peer_mru ||
	    len > PPP_MRU_MAX) {
		p->stats.send_drops++;
		return -1;
	}
	if (p->mppe.on) {
		size_t n;
		uint8_t *out = p->tx + PPP_HEADER_MAX_BYTES;

		if (mppe_encrypt(p, ip, len, out, sizeof p->tx - PPP_HEADER_MAX_BYTES, &n) != 0) {
			p->stats.send_drops++;
			return -1;
		}
		if (ppp_send_frame(p, PPP_PROTO_COMP, out, n) != 0)
			return -1;
	} else if (ppp_send_frame(p, PPP_PROTO_IP, ip, len) != 0) {
		return -1;
	}
	p->stats.ip_out++;
	p->stats.bytes_out += len;
	return 0;
}

enum ppp_phase
ppp_phase(const struct ppp *p)
{
	return p->phase;
}

const char *
ppp_phase_name(enum ppp_phase ph)
{
	switch (ph) {
	case PPP_PHASE_DEAD: return "dead";
	case PPP_PHASE_ESTABLISH: return "establish";
	case PPP_PHASE_AUTHENTICATE: return "authenticate";
	case PPP_PHASE_NETWORK: return "network";
	case PPP_PHASE_RUNNING: return "running";
	case PPP_PHASE_TERMINATE: return "terminate";
	}
	return "?";
}

const struct ppp_stats *
ppp_stats(const struct ppp *p)
{
	return &p->stats;
}

const char *
ppp_peer_name(const struct ppp *p)
{
	return p->peer_name;
}

int
ppp_mppe_on(const struct ppp *p)
{
	return p->mppe.on;
}
