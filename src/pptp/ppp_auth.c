/*
 * ppp_auth.c: the authenticator side of PAP (RFC 1334), CHAP with MD5
 * (RFC 1994) and MS-CHAPv2 (RFC 2759), against the users file (users.h).
 *
 * CHAP: one Challenge (16 random bytes, random identifier), resent with
 * the same identifier and value every restart period, at most
 * PPP_MAX_CONFIGURE times; a Response must carry that identifier.  A
 * repeated Response after our Success gets the same Success again (our
 * Success may have been lost, RFC 1994 4.1).  MS-CHAPv2 failure answers
 * "E=691 R=0 C=... V=3" (no retry offered, RFC 2759 6) and closes the
 * link.  PAP allows PPP_AUTH_ATTEMPTS_MAX Authenticate-Requests.  The
 * whole phase is bounded by auth_timeout_ms.
 *
 * Names: a CHAP/PAP name of 1..PPP_NAME_MAX_BYTES; "DOMAIN\user" is looked
 * up as given, then as "user" (Windows clients prepend the domain).
 * Passwords are compared in constant time.  After MS-CHAPv2 succeeds the
 * MPPE master key is derived (mppe_set_keys); the password is never kept.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "users.h"
#include "ppp_int.h"

enum { CHAP_CHALLENGE = 1, CHAP_RESPONSE, CHAP_SUCCESS, CHAP_FAILURE };
enum { PAP_REQ = 1, PAP_ACK, PAP_NAK };

#define MSCHAPV2_VALUE_BYTES 49   /* RFC 2759 4: peer challenge 16, reserved 8, NT-Response 24, flags 1 */

static int
ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static const char *
auth_lookup(const char *name, size_t len, size_t *pwlen)
{
	const char *pw = users_lookup(name, len, pwlen);
	const char *bs;

	if (!pw && (bs = memrchr(name, '\\', len)) != NULL)
		pw = users_lookup(bs + 1, len - (size_t)(bs + 1 - name), pwlen);
	return pw;
}

static void
auth_set_peer_name(struct ppp *p, const uint8_t *name, size_t len)
{
	size_t i;

	if (len > PPP_NAME_MAX_BYTES)
		len = PPP_NAME_MAX_BYTES;
	for (i = 0; i < len; i++)
		p->peer_name[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? (char)name[i] : '?';
	p->peer_name[len] = '\0';
}

static void
auth_send_challenge(struct ppp *p)
{
	struct auth_state *a = &p->auth;
	uint8_t *b = p->tx + PPP_HEADER_MAX_BYTES + 4;
	size_t nlen = strlen(p->name);

	b[0] = 16;
	memcpy(b + 1, a->challenge, 16);
	memcpy(b + 17, p->name, nlen);
	ppp_send_ctrl(p, PPP_PROTO_CHAP, CHAP_CHALLENGE, a->id, b, 17 + nlen);
}

static void
auth_timer(struct timer *t, void *arg)
{
	struct ppp *p = arg;
	struct auth_state *a = &p->auth;

	(void)t;
	if (a->done || p->down_called)
		return;
	if (loop_now_ms(p->conf.loop) >= a->deadline_ms ||
	    (a->proto != PPP_AUTH_PAP && a->retries >= PPP_MAX_CONFIGURE)) {
		static struct log_rate rl_timeout;

		log_rated(&rl_timeout, LOG_LVL_INFO, "ppp: authentication timed out");
		a->done = -1;
		ppp_auth_done(p, 0);
		return;
	}
	if (a->proto != PPP_AUTH_PAP) {
		a->retries++;
		auth_send_challenge(p);
	}
	loop_timer_set(p->conf.loop, &a->timer,
	    a->proto == PPP_AUTH_PAP ? p->conf.auth_timeout_ms : p->conf.restart_ms);
}

void
auth_start(struct ppp *p)
{
	struct auth_state *a = &p->auth;

	memset(a, 0, sizeof *a);
	timer_init(&a->timer, auth_timer, p);
	a->proto = p->lcps.auth;
	a->deadline_ms = loop_now_ms(p->conf.loop) + p->conf.auth_timeout_ms;
	if (a->proto == PPP_AUTH_PAP) {
		loop_timer_set(p->conf.loop, &a->timer, p->conf.auth_timeout_ms);
		return;
	}
	ppp_random_bytes(a->challenge, sizeof a->challenge);
	ppp_random_bytes(&a->id, 1);
	auth_send_challenge(p);
	loop_timer_set(p->conf.loop, &a->timer, p->conf.restart_ms);
}

void
auth_cancel(struct ppp *p)
{
	if (p->auth.timer.cb)
		loop_timer_cancel(p->conf.loop, &p->auth.timer);
}

/* Sends a reply and keeps it for a repeated request. */
static void
auth_reply(struct ppp *p, uint16_t proto, uint8_t code, uint8_t id, const char *msg, int pap)
{
	struct auth_state *a = &p->auth;
	uint8_t *b = a->last_reply;
	size_t mlen = strlen(msg), n = 0;

	if (mlen > sizeof a->last_reply - 1)
		mlen = sizeof a->last_reply - 1;
	if (pap)
		b[n++] = (uint8_t)mlen;
	memcpy(b + n, msg, mlen);
	n += mlen;
	a->last_reply_len = n;
	a->last_reply_id = id;
	a->last_reply_proto = code;
	ppp_send_ctrl(p, proto, code, id, b, n);
}

static void
auth_finish(struct ppp *p, int ok)
{
	static struct log_rate rl_fail;
	struct auth_state *a = &p->auth;

	a->done = ok ? 1 : -1;
	loop_timer_cancel(p->conf.loop, &a->timer);
	/* Failures are the peer's to trigger: rate-limited. */
	if (ok)
		log_info("ppp: peer \"%s\" authenticated", p->peer_name);
	else
		log_rated(&rl_fail, LOG_LVL_INFO, "ppp: authentication of \"%s\" failed", p->peer_name);
	ppp_auth_done(p, ok);
}

static void
chap_response(struct ppp *p, uint8_t id, const uint8_t *d, size_t len)
{
	struct auth_state *a = &p->auth;
	const uint8_t *value, *name;
	size_t vlen, nlen, pwlen;
	const char *pw;
	int ok = 0;

	if (a->done == 1 && id == a->last_reply_id) {
		ppp_send_ctrl(p, PPP_PROTO_CHAP, (uint8_t)a->last_reply_proto, id,
		    a->last_reply, a->last_reply_len);
		return;
	}
	if (a->done || id != a->id || len < 1) {
		p->stats.bad_frames++;
		return;
	}
	vlen = d[0];
	if (vlen + 1 > len) {
		p->stats.bad_frames++;
		return;
	}
	value = d + 1;
	name = d + 1 + vlen;
	nlen = len - 1 - vlen;
	if ((a->proto == PPP_AUTH_MSCHAPV2 && vlen != MSCHAPV2_VALUE_BYTES) ||
	    (a->proto == PPP_AUTH_CHAP_MD5 && vlen != MD5_DIGEST_BYTES)) {
		p->stats.bad_frames++;
		return;
	}
	auth_set_peer_name(p, name, nlen);
	pw = (nlen >= 1 && nlen <= PPP_NAME_MAX_BYTES) ?
	    auth_lookup((const char *)name, nlen, &pwlen) : NULL;
	if (a->proto == PPP_AUTH_CHAP_MD5) {
		uint8_t want[MD5_DIGEST_BYTES];

		if (pw && md5_digest3(&id, 1, pw, pwlen, a->challenge, 16, want) == 0)
			ok = ct_equal(want, value, MD5_DIGEST_BYTES);
		explicit_bzero(want, sizeof want);
		auth_reply(p, PPP_PROTO_CHAP, ok ? CHAP_SUCCESS : CHAP_FAILURE, id,
		    ok ? "Access granted" : "Authentication failure", 0);
	} else {
		const uint8_t *peer_chal = value, *nt = value + 24;
		uint8_t want[MSCHAP_NT_RESPONSE_BYTES], hash[16], hh[16];
		char msg[96];

		if (pw) {
			mschap_nt_response(a->challenge, peer_chal, (const char *)name, nlen,
			    pw, pwlen, want);
			ok = ct_equal(want, nt, sizeof want);
		}
		if (ok) {
			char s[MSCHAP_AUTH_RESPONSE_CHARS + 1];

			mschap_authenticator_response(pw, pwlen, nt, peer_chal, a->challenge,
			    (const char *)name, nlen, s);
			snprintf(msg, sizeof msg, "%s M=Access granted", s);
			mschap_nt_password_hash(pw, pwlen, hash);
			mschap_hash_nt_password_hash(hash, hh);
			mppe_set_keys(p, hh, nt);
			explicit_bzero(hash, sizeof hash);
			explicit_bzero(hh, sizeof hh);
		} else {
			static const char hex[] = "0123456789ABCDEF";
			uint8_t c[16];
			char ch[33];
			int i;

			/* A fresh challenge, as RFC 2759 6 asks, though R=0
			 * tells the peer not to retry. */
			ppp_random_bytes(c, sizeof c);
			for (i = 0; i < 16; i++) {
				ch[2 * i] = hex[c[i] >> 4];
				ch[2 * i + 1] = hex[c[i] & 15];
			}
			ch[32] = '\0';
			snprintf(msg, sizeof msg, "E=691 R=0 C=%s V=3 M=Authentication failure", ch);
		}
		explicit_bzero(want, sizeof want);
		auth_reply(p, PPP_PROTO_CHAP, ok ? CHAP_SUCCESS : CHAP_FAILURE, id, msg, 0);
	}
	auth_finish(p, ok);
}

static void
pap_request(struct ppp *p, uint8_t id, const uint8_t *d, size_t len)
{
	struct auth_state *a = &p->auth;
	size_t ulen, plen, pwlen;
	const uint8_t *user, *pass;
	const char *pw;
	int ok = 0;

	if (a->done == 1) {
		/* A repeated request after our Ack: Ack again (RFC 1334 2.2.1). */
		ppp_send_ctrl(p, PPP_PROTO_PAP, PAP_ACK, id, a->last_reply, a->last_reply_len);
		return;
	}
	if (a->done || len < 2) {
		p->stats.bad_frames++;
		return;
	}
	ulen = d[0];
	if (1 + ulen + 1 > len) {
		p->stats.bad_frames++;
		return;
	}
	user = d + 1;
	plen = d[1 + ulen];
	if (2 + ulen + plen > len) {
		p->stats.bad_frames++;
		return;
	}
	pass = d + 2 + ulen;
	auth_set_peer_name(p, user, ulen);
	pw = (ulen >= 1 && ulen <= PPP_NAME_MAX_BYTES) ?
	    auth_lookup((const char *)user, ulen, &pwlen) : NULL;
	if (pw && pwlen == plen)
		ok = ct_equal((const uint8_t *)pw, pass, plen);
	auth_reply(p, PPP_PROTO_PAP, ok ? PAP_ACK : PAP_NAK, id,
	    ok ? "Access granted" : "Authentication failure", 1);
	if (ok) {
		auth_finish(p, 1);
		return;
	}
	if (++a->attempts >= PPP_AUTH_ATTEMPTS_MAX)
		auth_finish(p, 0);
	else
		p->stats.auth_failures++;
}

void
auth_input(struct ppp *p, uint16_t proto, const uint8_t *pkt, size_t len)
{
	struct auth_state *a = &p->auth;
	size_t plen;

	if (len < 4) {
		p->stats.bad_frames++;
		return;
	}
	plen = ppp_get16(pkt + 2);
	if (plen < 4 || plen > len) {
		p->stats.bad_frames++;
		return;
	}
	if ((proto == PPP_PROTO_PAP) != (a->proto == PPP_AUTH_PAP) || a->proto == 0) {
		/* Not the protocol LCP agreed on. */
		p->stats.bad_frames++;
		return;
	}
	if (proto == PPP_PROTO_CHAP && pkt[0] == CHAP_RESPONSE)
		chap_response(p, pkt[1], pkt + 4, plen - 4);
	else if (proto == PPP_PROTO_PAP && pkt[0] == PAP_REQ)
		pap_request(p, pkt[1], pkt + 4, plen - 4);
	else
		p->stats.bad_frames++;
}
