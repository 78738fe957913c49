/*
 * ipcp.c: the IP Control Protocol (RFC 1332, DNS options RFC 1877) for the
 * server side: our address is conf.local_addr, the peer's is
 * conf.peer_addr (from the tunnel's pool, chosen before ppp_new).
 *
 * The peer's IP-Address is Naked to the pool address until it asks for
 * exactly that one (0.0.0.0 is the usual first ask); a request without
 * IP-Address is Naked with it too (RFC 1332 3.3 allows a Nak to suggest an
 * option).  Primary/secondary DNS (129/131) are Naked to the configured
 * servers, or Rejected when none is configured.  NBNS (130/132),
 * IP-Compression-Protocol (VJ; we do not compress) and the obsolete
 * IP-Addresses option are Rejected, as is anything unknown.  A peer that
 * Naks our own address is ignored (we keep asking; Max-Failure and the
 * request bounds end a loop); a peer that Rejects it is fine.
 */
#include <string.h>

#include "ppp_int.h"

enum {
	IPCP_OPT_ADDRS = 1, IPCP_OPT_COMP = 2, IPCP_OPT_ADDR = 3,
	IPCP_OPT_DNS1 = 129, IPCP_OPT_NBNS1 = 130, IPCP_OPT_DNS2 = 131, IPCP_OPT_NBNS2 = 132,
};

static size_t
ipcp_build_req(struct ppp_fsm *f, uint8_t *out, size_t cap)
{
	struct ppp *p = f->ppp;

	(void)cap;
	if (!p->ipcps.send_addr)
		return 0;
	out[0] = IPCP_OPT_ADDR;
	out[1] = 6;
	memcpy(out + 2, &p->conf.local_addr.s_addr, 4);
	return 6;
}

static void
ipcp_want(struct fsm_reply *r, const uint8_t *o, uint8_t type, const struct in_addr *want)
{
	if (o[1] != 6) {
		fsm_rej(r, o);
		return;
	}
	if (memcmp(o + 2, &want->s_addr, 4) != 0)
		fsm_nak(r, o, type, &want->s_addr, 4);
}

static void
ipcp_recv_req(struct ppp_fsm *f, const uint8_t *opt, size_t len, struct fsm_reply *r)
{
	struct ppp *p = f->ppp;
	size_t off;
	int saw_addr = 0;

	for (off = 0; off < len; off += opt[off + 1]) {
		const uint8_t *o = opt + off;

		switch (o[0]) {
		case IPCP_OPT_ADDR:
			saw_addr = 1;
			ipcp_want(r, o, IPCP_OPT_ADDR, &p->conf.peer_addr);
			break;
		case IPCP_OPT_DNS1:
			if (p->conf.dns1.s_addr == 0)
				fsm_rej(r, o);
			else
				ipcp_want(r, o, IPCP_OPT_DNS1, &p->conf.dns1);
			break;
		case IPCP_OPT_DNS2:
			if (p->conf.dns2.s_addr == 0)
				fsm_rej(r, o);
			else
				ipcp_want(r, o, IPCP_OPT_DNS2, &p->conf.dns2);
			break;
		default:
			fsm_rej(r, o);
			break;
		}
	}
	if (!saw_addr && p->ipcps.addr_naks_sent < PPP_MAX_FAILURE) {
		p->ipcps.addr_naks_sent++;
		fsm_nak(r, NULL, IPCP_OPT_ADDR, &p->conf.peer_addr.s_addr, 4);
	}
}

static int
ipcp_recv_nak(struct ppp_fsm *f, const uint8_t *opt, size_t len)
{
	(void)f;
	(void)opt;
	(void)len;
	/* Our address is not negotiable; ask again as before. */
	return 0;
}

static int
ipcp_recv_rej(struct ppp_fsm *f, const uint8_t *opt, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += opt[off + 1])
		if (opt[off] == IPCP_OPT_ADDR)
			f->ppp->ipcps.send_addr = 0;
	return 0;
}

static void
ipcp_up(struct ppp_fsm *f)
{
	ppp_network_check(f->ppp);
}

static void
ipcp_down(struct ppp_fsm *f)
{
	ppp_network_check(f->ppp);
}

static void
ipcp_finished(struct ppp_fsm *f)
{
	/* A link without IP is of no use to a tunnel. */
	struct ppp *p = f->ppp;

	p->phase = PPP_PHASE_TERMINATE;
	fsm_close(&p->lcp, f->close_why ? f->close_why : "IPCP finished");
}

void
ipcp_reset(struct ppp *p)
{
	p->ipcps.send_addr = 1;
	p->ipcps.addr_naks_sent = 0;
}

const struct fsm_proto ipcp_proto = {
	.name = "IPCP",
	.proto = PPP_PROTO_IPCP,
	.build_req = ipcp_build_req,
	.recv_req = ipcp_recv_req,
	.recv_nak = ipcp_recv_nak,
	.recv_rej = ipcp_recv_rej,
	.up = ipcp_up,
	.down = ipcp_down,
	.finished = ipcp_finished,
	.extcode = NULL,
};
