/*
 * scen_ms03_029.c: MS03-029, an overlong parameter that made a server
 * function free memory it did not own.  For NNTP: every command argument
 * and every article header value, overlong: lengths straddle the RFC 3977
 * line limit (510/511/512/513), then 1 KiB, 4 KiB, 64 KiB and 256 KiB.
 *
 * Fields: the command word itself; GROUP/LISTGROUP group names;
 * ARTICLE/HEAD/BODY/STAT message-ids and numbers; NEWGROUPS and NEWNEWS
 * dates, times and wildmats; OVER/XOVER ranges; HDR/XHDR header names;
 * LIST ACTIVE/NEWSGROUPS wildmats; MODE, CAPABILITIES and HELP keywords;
 * AUTHINFO USER/PASS; IHAVE/CHECK/TAKETHIS message-ids; and through POST,
 * the From, Subject, Newsgroups, Message-ID, Date, References and Path
 * values.  --valid: the same commands with ordinary values.
 * Probe: as ms01-043.
 * Interface: scen_ms03_029 (soak.h).
 * Limits: one message at most 256 KiB + a short article.
 * --protocol rdp (scen_ms03_029_rdp): X.224 Connection Requests whose
 * cookie user name ("mstshash="), routing token ("msts=") or
 * RDP_NEG_REQ tail is overlong: within the 65535-byte TPKT, and beyond it
 * with the TPKT length saturated (then close); one per connection.
 * --protocol pptp (scen_ms03_029_pptp): Start-Control-Connection-Requests
 * and Outgoing-Call-Requests whose host name, vendor, phone number or
 * subaddress runs past its fixed field, with the length field telling
 * the truth (up to 65535) or not.  --valid: the well-formed messages.
 * Known weaknesses: no user names after TLS (RDP) or PPP (PPTP).
 */
#include "soak.h"

static const size_t lens[] = {510, 511, 512, 513, 1024, 4096, 65536, 262144};

static void
value(struct soak_gen *g, struct soak_out *o, size_t normal)
{
	size_t n = g->valid ? normal : lens[soak_rng_below(&g->rng, sizeof(lens) / sizeof(lens[0]))];

	/* Large ones are rarer so the flood stays a flood of commands. */
	if (!g->valid && n > 4096 && soak_rng_below(&g->rng, 8) != 0)
		n = 513 + soak_rng_below(&g->rng, 3000);
	out_rand_text(o, &g->rng, n);
}

static void
mid(struct soak_gen *g, struct soak_out *o)
{
	out_str(o, "<");
	value(g, o, 12);
	out_str(o, "@holdfast.invalid>");
}

static int
m029_message(struct soak_gen *g, struct soak_out *o)
{
	static const char *const hdrs[] = {"From", "Subject", "Newsgroups", "Message-ID", "Date", "References",
	    "Path"};
	unsigned which = soak_rng_below(&g->rng, 24);

	switch (which) {
	case 0:
		if (g->valid)
			out_str(o, "HELP");
		else
			value(g, o, 4);
		break;
	case 1:
		out_str(o, "GROUP local.");
		value(g, o, 4);
		break;
	case 2:
		out_str(o, "LISTGROUP local.");
		value(g, o, 4);
		break;
	case 3:
	case 4:
	case 5:
	case 6: {
		static const char *const v[] = {"ARTICLE ", "HEAD ", "BODY ", "STAT "};

		out_str(o, v[which - 3]);
		if (soak_rng_below(&g->rng, 2))
			mid(g, o);
		else
			value(g, o, 3);	/* an article number, overlong */
		break;
	}
	case 7:
		out_str(o, "NEWGROUPS ");
		value(g, o, 8);
		out_str(o, " ");
		value(g, o, 6);
		out_str(o, " GMT");
		break;
	case 8:
		out_str(o, "NEWNEWS local.");
		value(g, o, 4);
		out_str(o, " 20260101 000000");
		break;
	case 9:
		out_str(o, soak_rng_below(&g->rng, 2) ? "OVER 1-" : "XOVER 1-");
		value(g, o, 3);
		break;
	case 10:
		out_str(o, soak_rng_below(&g->rng, 2) ? "HDR X-" : "XHDR X-");
		value(g, o, 6);
		out_str(o, " 1-10");
		break;
	case 11:
		out_str(o, soak_rng_below(&g->rng, 2) ? "LIST ACTIVE local.*" : "LIST NEWSGROUPS local.*");
		value(g, o, 3);
		break;
	case 12:
		out_str(o, "MODE ");
		value(g, o, 6);
		break;
	case 13:
		out_str(o, "CAPABILITIES ");
		value(g, o, 6);
		break;
	case 14:
		out_str(o, "HELP ");
		value(g, o, 6);
		break;
	case 15:
		out_str(o, "AUTHINFO USER ");
		value(g, o, 8);
		break;
	case 16:
		out_str(o, "AUTHINFO PASS ");
		value(g, o, 8);
		break;
	case 17:
		out_str(o, "IHAVE ");
		mid(g, o);
		out_str(o, "\r\n.");	/* an empty article, if one is asked for */
		break;
	case 18:
		out_str(o, "CHECK ");
		mid(g, o);
		break;
	default: {
		/* POST with one overlong header value. */
		const char *h = hdrs[soak_rng_below(&g->rng, sizeof(hdrs) / sizeof(hdrs[0]))];

		out_str(o, "POST\r\nFrom: soak@holdfast.invalid\r\nNewsgroups: local.test\r\nSubject: s\r\n");
		out_fmt(o, "X-Field: %s\r\n%s: ", h, h);
		value(g, o, 12);
		out_str(o, "\r\n\r\nbody\r\n.");
		break;
	}
	}
	out_str(o, "\r\n");
	return 0;
}

/* ---- RDP ---- */

static int
m029_rdp_message(struct soak_gen *g, struct soak_out *o)
{
	static const char *const prefix[] = {"Cookie: mstshash=", "Cookie: msts="};
	size_t start = o->len, n, total;

	/* Above 65 KiB the TPKT length saturates at 65535 and the rest of
	 * the cookie runs on into what would be the next PDU. */
	n = g->valid ? 4 + soak_rng_below(&g->rng, 12) : lens[soak_rng_below(&g->rng, sizeof(lens) / sizeof(lens[0]))];
	out_put(o, "\x03\x00\x00\x00\x00\xe0\x00\x00\x00\x00\x00", 11);
	out_str(o, prefix[g->valid ? 0 : soak_rng_below(&g->rng, 2)]);
	out_rand_text(o, &g->rng, n);
	out_str(o, "\r\n");
	out_put(o, "\x01\x00\x08\x00\x03\x00\x00\x00", 8);
	total = o->len - start;
	if (total > 65535)
		total = 65535;
	o->p[start + 2] = (uint8_t)(total >> 8);
	o->p[start + 3] = (uint8_t)total;
	o->p[start + 4] = (uint8_t)(total - 5 > 254 ? 254 : total - 5);	/* LI is one byte */
	return SOAK_MSG_CLOSE;
}

const struct soak_scenario scen_ms03_029_rdp = {
	.name = "ms03-029",
	.summary = "RDP: overlong cookie user names and routing tokens (MS03-029, --protocol rdp)",
	.default_port = 3389,
	.message = m029_rdp_message,
	.probe_request = rdp_probe_request,
	.probe_reply = rdp_probe_reply,
	.probe_reconnect = 1,
};

/* ---- PPTP ---- */

static void
pptp_hdr(struct soak_out *o, unsigned len, unsigned ctype)
{
	out_u16be(o, len);
	out_u16be(o, 1);
	out_u32be(o, 0x1A2B3C4Du);
	out_u16be(o, ctype);
	out_u16be(o, 0);
}

static int
m029_pptp_message(struct soak_gen *g, struct soak_out *o)
{
	size_t start = o->len, n, len;
	int sccrq = g->valid || (g->msg_serial & 1) == 0;

	n = g->valid ? 64 : 64 + lens[soak_rng_below(&g->rng, 5)];	/* 574 .. 4160 bytes */
	if (!g->valid && soak_rng_below(&g->rng, 8) == 0)
		n = 60000;
	if (sccrq) {
		pptp_hdr(o, 0, 1);
		out_u16be(o, 0x0100);
		out_u16be(o, 0);
		out_u32be(o, 3);
		out_u32be(o, 3);
		out_u16be(o, 1);
		out_u16be(o, 1);
		out_rand_text(o, &g->rng, n);	/* host name */
		out_rand_text(o, &g->rng, g->valid ? 64 : n);	/* vendor */
	} else {
		pptp_hdr(o, 0, 7);
		out_u16be(o, 1);
		out_u16be(o, 1);
		out_u32be(o, 300);
		out_u32be(o, 100000000);
		out_u32be(o, 3);
		out_u32be(o, 3);
		out_u16be(o, 64);
		out_u16be(o, 0);
		out_u16be(o, (unsigned)(n > 65535 ? 65535 : n));	/* phone number length */
		out_u16be(o, 0);
		out_rand_text(o, &g->rng, n);	/* phone number */
		out_rand_text(o, &g->rng, 64);	/* subaddress */
	}
	len = o->len - start;
	/* The length field tells the truth (capped at 65535) half the time,
	 * else claims the fixed size of the message type. */
	if (g->valid)
		len = sccrq ? 156 : 168;
	else if (soak_rng_below(&g->rng, 2))
		len = sccrq ? 156 : 168;
	if (len > 65535)
		len = 65535;
	o->p[start] = (uint8_t)(len >> 8);
	o->p[start + 1] = (uint8_t)len;
	return g->valid ? 0 : SOAK_MSG_CLOSE;
}

const struct soak_scenario scen_ms03_029_pptp = {
	.name = "ms03-029",
	.summary = "PPTP: overlong host, vendor and phone fields (MS03-029, --protocol pptp)",
	.default_port = 1723,
	.message = m029_pptp_message,
	.probe_request = pptp_probe_request,
	.probe_reply = pptp_probe_reply,
	.probe_reconnect = 1,
};

const struct soak_scenario scen_ms03_029 = {
	.name = "ms03-029",
	.summary = "overlong values: NNTP arguments and headers (default), --protocol rdp|pptp (MS03-029)",
	.default_port = 119,
	.preamble = nntp_preamble,
	.message = m029_message,
	.probe_greeting = nntp_probe_greeting,
	.probe_request = nntp_probe_request,
	.probe_reply = nntp_probe_reply,
};
