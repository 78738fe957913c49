/*
 * lcp.c: the Link Control Protocol's options and codes (RFC 1661 6, 5.7-5.9)
 * for the server side of a PPTP call.
 *
 * We ask for: Authentication-Protocol (MS-CHAPv2, else CHAP-MD5, else PAP,
 * among those configured; a Nak naming another allowed one is followed,
 * anything else moves down our list), Magic-Number, and MRU when ours is
 * not 1500.  We accept from the peer: MRU (>= PPP_MRU_MIN, else Nak),
 * ACCM (meaningless on GRE, harmless), Magic-Number (equal to ours: a
 * loop, Nak with a fresh number; too many loops close the link), PFC and
 * ACFC (they only permit us to compress; we never do, and we accept
 * compressed frames anyway).  We reject: the peer asking us to
 * authenticate, callback, multilink and anything unknown.
 *
 * Echo: Echo-Request answered in Opened with our magic (RFC 1661 5.8);
 * with echo_interval_ms set, we send one when the timer fires and close
 * the link after echo_failures unanswered ones.
 */
#include <string.h>

#include "log.h"
#include "loop.h"
#include "ppp_int.h"

enum {
	LCP_OPT_MRU = 1, LCP_OPT_ACCM = 2, LCP_OPT_AUTH = 3, LCP_OPT_QUALITY = 4,
	LCP_OPT_MAGIC = 5, LCP_OPT_PFC = 7, LCP_OPT_ACFC = 8, LCP_OPT_CALLBACK = 13,
	LCP_OPT_MRRU = 17, LCP_OPT_SSNHF = 18, LCP_OPT_EPDISC = 19,
};

#define CHAP_ALG_MD5      5
#define CHAP_ALG_MSCHAPV2 0x81
#define LCP_LOOPS_MAX     5    /* magic collisions before we call it a looped-back line */

static void lcp_echo_fire(struct timer *t, void *arg);

static unsigned
lcp_next_auth(const struct ppp *p)
{
	static const unsigned order[] = { PPP_AUTH_MSCHAPV2, PPP_AUTH_CHAP_MD5, PPP_AUTH_PAP };
	size_t i;

	for (i = 0; i < sizeof order / sizeof order[0]; i++)
		if ((p->conf.auth & order[i]) && !(p->lcps.auth_tried & order[i]))
			return order[i];
	return 0;
}

static uint32_t
lcp_fresh_magic(uint32_t avoid)
{
	uint32_t m;

	do
		m = ppp_random32();
	while (m == 0 || m == avoid);
	return m;
}

void
lcp_init(struct ppp *p)
{
	struct lcp_state *l = &p->lcps;

	memset(l, 0, sizeof *l);
	timer_init(&l->echo_timer, lcp_echo_fire, p);
	l->our_mru = p->conf.mru;
	l->peer_mru = PPP_MRU_DEFAULT;
	l->send_mru = l->our_mru != PPP_MRU_DEFAULT;
	l->send_magic = 1;
	l->our_magic = lcp_fresh_magic(0);
	l->auth = lcp_next_auth(p);
	if (l->auth)
		l->auth_tried |= l->auth;
}

static size_t
lcp_build_req(struct ppp_fsm *f, uint8_t *out, size_t cap)
{
	struct lcp_state *l = &f->ppp->lcps;
	size_t n = 0;

	(void)cap;   /* at most 4 + 5 + 6 bytes, below FSM_REQ_MAX_BYTES */
	if (l->send_mru) {
		out[n++] = LCP_OPT_MRU;
		out[n++] = 4;
		ppp_put16(out + n, l->our_mru);
		n += 2;
	}
	switch (l->auth) {
	case PPP_AUTH_MSCHAPV2:
	case PPP_AUTH_CHAP_MD5:
		out[n++] = LCP_OPT_AUTH;
		out[n++] = 5;
		ppp_put16(out + n, PPP_PROTO_CHAP);
		out[n + 2] = l->auth == PPP_AUTH_MSCHAPV2 ? CHAP_ALG_MSCHAPV2 : CHAP_ALG_MD5;
		n += 3;
		break;
	case PPP_AUTH_PAP:
		out[n++] = LCP_OPT_AUTH;
		out[n++] = 4;
		ppp_put16(out + n, PPP_PROTO_PAP);
		n += 2;
		break;
	default:
		break;
	}
	if (l->send_magic) {
		out[n++] = LCP_OPT_MAGIC;
		out[n++] = 6;
		ppp_put32(out + n, l->our_magic);
		n += 4;
	}
	return n;
}

static void
lcp_recv_req(struct ppp_fsm *f, const uint8_t *opt, size_t len, struct fsm_reply *r)
{
	struct ppp *p = f->ppp;
	struct lcp_state *l = &p->lcps;
	size_t off;
	uint16_t mru = PPP_MRU_DEFAULT;
	uint32_t magic = 0;

	for (off = 0; off < len; off += opt[off + 1]) {
		const uint8_t *o = opt + off;
		uint8_t olen = o[1];

		switch (o[0]) {
		case LCP_OPT_MRU:
			if (olen != 4) {
				fsm_rej(r, o);
				break;
			}
			mru = ppp_get16(o + 2);
			if (mru < PPP_MRU_MIN) {
				uint8_t v[2];

				ppp_put16(v, PPP_MRU_MIN);
				fsm_nak(r, o, LCP_OPT_MRU, v, 2);
			}
			break;
		case LCP_OPT_ACCM:
			if (olen != 6)
				fsm_rej(r, o);
			break;
		case LCP_OPT_MAGIC:
			if (olen != 6) {
				fsm_rej(r, o);
				break;
			}
			magic = ppp_get32(o + 2);
			if (magic == 0 || (l->send_magic && magic == l->our_magic)) {
				uint8_t v[4];

				/* RFC 1661 6.4: a collision may mean a looped-back
				 * line; change ours and suggest another. */
				if (magic != 0 && ++l->loops > LCP_LOOPS_MAX) {
					fsm_close(f, "looped-back link");
					return;
				}
				if (magic != 0)
					l->our_magic = lcp_fresh_magic(magic);
				ppp_put32(v, lcp_fresh_magic(l->our_magic));
				fsm_nak(r, o, LCP_OPT_MAGIC, v, 4);
			}
			break;
		case LCP_OPT_PFC:
		case LCP_OPT_ACFC:
			if (olen != 2)
				fsm_rej(r, o);
			break;
		default:
			/* Auth (we are the authenticator), quality, callback,
			 * multilink, endpoint discriminator, unknown. */
			fsm_rej(r, o);
			break;
		}
	}
	if (r->rejlen == 0 && r->naklen == 0) {
		/* Only an Ack commits the peer's values. */
		l->peer_mru = mru > PPP_MRU_MAX ? PPP_MRU_MAX : mru;
		l->peer_magic = magic;
	}
}

static int
lcp_recv_nak(struct ppp_fsm *f, const uint8_t *opt, size_t len)
{
	struct ppp *p = f->ppp;
	struct lcp_state *l = &p->lcps;
	size_t off;

	for (off = 0; off < len; off += opt[off + 1]) {
		const uint8_t *o = opt + off;

		switch (o[0]) {
		case LCP_OPT_MRU:
			if (o[1] == 4) {
				uint16_t m = ppp_get16(o + 2);

				if (m >= PPP_MRU_MIN && m <= PPP_MRU_MAX) {
					l->our_mru = m;
					l->send_mru = m != PPP_MRU_DEFAULT;
				}
			}
			break;
		case LCP_OPT_MAGIC:
			if (o[1] == 6)
				l->our_magic = lcp_fresh_magic(ppp_get32(o + 2));
			break;
		case LCP_OPT_AUTH: {
			unsigned want = 0;

			if (o[1] == 4 && ppp_get16(o + 2) == PPP_PROTO_PAP)
				want = PPP_AUTH_PAP;
			else if (o[1] == 5 && ppp_get16(o + 2) == PPP_PROTO_CHAP)
				want = o[4] == CHAP_ALG_MSCHAPV2 ? PPP_AUTH_MSCHAPV2 :
				    o[4] == CHAP_ALG_MD5 ? PPP_AUTH_CHAP_MD5 : 0;
			if (!want || !(p->conf.auth & want) || (l->auth_tried & want))
				want = lcp_next_auth(p);
			if (!want) {
				f->close_why = "no authentication protocol acceptable to both";
				return -1;
			}
			l->auth = want;
			l->auth_tried |= want;
			break;
		}
		default:
			/* A Nak may suggest options we did not ask for; we
			 * ask for nothing more. */
			break;
		}
	}
	return 0;
}

static int
lcp_recv_rej(struct ppp_fsm *f, const uint8_t *opt, size_t len)
{
	struct lcp_state *l = &f->ppp->lcps;
	size_t off;

	for (off = 0; off < len; off += opt[off + 1]) {
		switch (opt[off]) {
		case LCP_OPT_MRU:
			l->send_mru = 0;
			l->our_mru = PPP_MRU_DEFAULT;
			break;
		case LCP_OPT_MAGIC:
			l->send_magic = 0;
			break;
		case LCP_OPT_AUTH:
			if (l->auth) {
				f->close_why = "peer refuses to authenticate";
				return -1;
			}
			break;
		default:
			break;
		}
	}
	return 0;
}

static void
lcp_echo_fire(struct timer *t, void *arg)
{
	struct ppp *p = arg;
	struct lcp_state *l = &p->lcps;
	uint8_t m[4];

	(void)t;
	if (p->lcp.state != FSM_OPENED || p->down_called)
		return;
	if (l->echo_missed >= p->conf.echo_failures) {
		p->phase = PPP_PHASE_TERMINATE;
		fsm_close(&p->lcp, "peer does not answer LCP echo");
		return;
	}
	l->echo_missed++;
	ppp_put32(m, l->send_magic ? l->our_magic : 0);
	ppp_send_ctrl(p, PPP_PROTO_LCP, CODE_ECHO_REQ, ++l->echo_id, m, 4);
	loop_timer_set(p->conf.loop, &l->echo_timer, p->conf.echo_interval_ms);
}

void
lcp_echo_start(struct ppp *p)
{
	if (p->conf.echo_interval_ms == 0)
		return;
	loop_timer_set(p->conf.loop, &p->lcps.echo_timer, p->conf.echo_interval_ms);
}

void
lcp_cancel(struct ppp *p)
{
	loop_timer_cancel(p->conf.loop, &p->lcps.echo_timer);
}

static void
lcp_up(struct ppp_fsm *f)
{
	struct ppp *p = f->ppp;

	p->lcps.echo_missed = 0;
	lcp_echo_start(p);
	if (p->lcps.auth) {
		p->phase = PPP_PHASE_AUTHENTICATE;
		auth_start(p);
	} else {
		ppp_auth_done(p, 1);
	}
}

static void
lcp_down(struct ppp_fsm *f)
{
	struct ppp *p = f->ppp;

	/* Everything above LCP goes with it (RFC 1661 3.4, This-Layer-Down). */
	lcp_cancel(p);
	auth_cancel(p);
	fsm_cancel(&p->ipcp);
	fsm_cancel(&p->ccp);
	p->ipcp.state = FSM_CLOSED;
	p->ccp.state = FSM_CLOSED;
	p->mppe.on = 0;
	/* A renegotiation starts over from the establish phase. */
	if (p->phase != PPP_PHASE_TERMINATE)
		p->phase = PPP_PHASE_ESTABLISH;
}

static void
lcp_finished(struct ppp_fsm *f)
{
	/* The server never renegotiates a finished link: the call ends. */
	ppp_finish(f->ppp, f->close_why ? f->close_why : "LCP finished");
}

static int
lcp_extcode(struct ppp_fsm *f, uint8_t code, uint8_t id, const uint8_t *data, size_t len)
{
	struct ppp *p = f->ppp;
	struct lcp_state *l = &p->lcps;

	switch (code) {
	case CODE_PROTO_REJ:
		if (len < 2) {
			p->stats.bad_frames++;
			return 0;
		}
		if (f->state != FSM_OPENED)
			return 0;
		switch (ppp_get16(data)) {
		case PPP_PROTO_CCP:
			fsm_cancel(&p->ccp);
			p->ccp.state = FSM_STOPPED;
			p->mppe.on = 0;
			if (p->conf.mppe == PPP_MPPE_REQUIRE) {
				p->phase = PPP_PHASE_TERMINATE;
				fsm_close(f, "peer refuses CCP and MPPE is required");
			} else {
				ppp_network_check(p);
			}
			break;
		case PPP_PROTO_IPCP:
		case PPP_PROTO_LCP:
		case PPP_PROTO_PAP:
		case PPP_PROTO_CHAP:
			p->phase = PPP_PHASE_TERMINATE;
			fsm_close(f, "peer rejects a protocol we need");
			break;
		default:
			break;
		}
		return 0;
	case CODE_ECHO_REQ:
		if (f->state == FSM_OPENED) {
			uint8_t *m = p->tx + PPP_HEADER_MAX_BYTES + 4;

			if (len < 4) {
				p->stats.bad_frames++;
				return 0;
			}
			if (l->send_magic && ppp_get32(data) == l->our_magic) {
				/* Our own echo came back: a looped-back line. */
				p->stats.bad_frames++;
				return 0;
			}
			/* Our magic and the peer's data back (RFC 1661 5.8);
			 * ppp_send_ctrl refuses what passes the peer's MRU. */
			memmove(m + 4, data + 4, len - 4);
			ppp_put32(m, l->send_magic ? l->our_magic : 0);
			ppp_send_ctrl(p, PPP_PROTO_LCP, CODE_ECHO_REP, id, m, len);
		}
		return 0;
	case CODE_ECHO_REP:
		if (len >= 4 && id == l->echo_id)
			l->echo_missed = 0;
		return 0;
	case CODE_DISCARD_REQ:
		return 0;
	default:
		return -1;
	}
}

const struct fsm_proto lcp_proto = {
	.name = "LCP",
	.proto = PPP_PROTO_LCP,
	.build_req = lcp_build_req,
	.recv_req = lcp_recv_req,
	.recv_nak = lcp_recv_nak,
	.recv_rej = lcp_recv_rej,
	.up = lcp_up,
	.down = lcp_down,
	.finished = lcp_finished,
	.extcode = lcp_extcode,
};
