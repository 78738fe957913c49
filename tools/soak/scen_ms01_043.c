/*
 * scen_ms01_043.c: MS01-043, the NNTP post leak.  Malformed articles
 * through POST, IHAVE and TAKETHIS, pipelined.
 *
 * Each connection alternates (by its serial) between a reader role
 * ("MODE READER", then POST) and a transit role ("MODE STREAM", then
 * IHAVE and TAKETHIS).  Each message is one command with its article and
 * one malformation drawn from: missing From / Newsgroups / Subject /
 * Message-ID, a duplicated header, a bad Message-ID, bad Newsgroups, a bad
 * Date, an overlong header line (1 KiB to 64 KiB), a NUL byte, bare CR or
 * bare LF line ends, a missing terminator (we close the connection in the
 * middle of the article), a huge body (64 KiB to 1 MiB, rare), a header
 * line without a colon or a missing blank line, bad dot-stuffing, and a
 * flood of headers.  Message-IDs are unique per run (seed, connection,
 * message).  --valid: the same commands with well-formed articles to
 * local.test of the same size distribution.
 *
 * Probe (shared with ms03-029): greeting 200/201, then "GROUP local.test"
 * (a reader's command that touches the store, not only the command loop);
 * any status line 1xx-4xx is an answer.
 * The missing terminator is a half-close (send.c): the server reads
 * every article queued before it, then EOF in the middle of an article.
 * Interface: scen_ms01_043, nntp_* (soak.h).
 * Limits: a message is at most about 1 MiB + headers (< SOAK_MSG_MAX).
 * Known weaknesses: commands are pipelined without waiting for 340/335,
 * so a server that refuses POST reads the article as commands (still
 * malformed input, but a different code path); no AUTHINFO.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "soak.h"

enum { V_POST, V_IHAVE, V_TAKETHIS };

enum {
	K_NO_FROM, K_NO_GROUPS, K_NO_SUBJECT, K_NO_MSGID, K_DUP_HEADER, K_BAD_MSGID, K_BAD_GROUPS, K_BAD_DATE,
	K_LONG_HEADER, K_NUL, K_BARE_EOL, K_NO_TERMINATOR, K_HUGE_BODY, K_NO_COLON, K_BAD_DOTS, K_MANY_HEADERS,
	K_MAX
};

void
nntp_preamble(struct soak_gen *g, struct soak_out *o)
{
	g->state = (g->conn_serial & 1) ? 1 : 0;	/* 1 reader, 0 transit */
	out_str(o, g->state ? "MODE READER\r\n" : "MODE STREAM\r\n");
}

int
nntp_probe_greeting(const uint8_t *b, size_t n)
{
	return soak_line_reply(b, n, "2");
}

void
nntp_probe_request(unsigned serial, struct soak_out *o)
{
	(void)serial;
	out_str(o, "GROUP local.test\r\n");
}

int
nntp_probe_reply(const uint8_t *b, size_t n)
{
	return soak_line_reply(b, n, "1234");
}

static void
msgid(struct soak_gen *g, struct soak_out *o)
{
	out_fmt(o, "<soak.%llx.%llx.%llx@holdfast.invalid>", (unsigned long long)g->seed,
	    (unsigned long long)g->conn_serial, (unsigned long long)g->msg_serial);
}

static void
date_now(struct soak_out *o)
{
	char buf[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	out_str(o, buf);
}

/* Body of nlines random text lines ended with eol; never a lone ".". */
static void
body(struct soak_gen *g, struct soak_out *o, unsigned nlines, const char *eol)
{
	unsigned i;

	for (i = 0; i < nlines; i++) {
		out_str(o, "x");
		out_rand_text(o, &g->rng, 10 + soak_rng_below(&g->rng, 60));
		out_str(o, eol);
	}
}

static unsigned
body_lines(struct soak_gen *g, int huge)
{
	if (huge)
		return 1000 + soak_rng_below(&g->rng, 14000);	/* ~64 KiB to ~1 MiB */
	return 1 + soak_rng_below(&g->rng, 20);
}

static void
bad_msgid(struct soak_gen *g, struct soak_out *o)
{
	switch (soak_rng_below(&g->rng, 7)) {
	case 0:
		out_str(o, "no-angle-brackets@holdfast.invalid");
		break;
	case 1:
		out_str(o, "<>");
		break;
	case 2:
		out_str(o, "<sp ace@holdfast.invalid>");
		break;
	case 3:
		out_str(o, "<a@b@c@");
		break;
	case 4:
		out_str(o, "<");
		out_rand_text(o, &g->rng, 250 + soak_rng_below(&g->rng, 4000));
		out_str(o, "@holdfast.invalid>");
		break;
	case 5:
		out_str(o, "<no-at-sign>");
		break;
	default:
		out_str(o, "<<<>>>");
		break;
	}
}

static void
bad_groups(struct soak_gen *g, struct soak_out *o)
{
	unsigned i, n;

	switch (soak_rng_below(&g->rng, 6)) {
	case 0:
		break;	/* empty */
	case 1:
		out_str(o, "local..test");
		break;
	case 2:
		out_str(o, ",,,,");
		break;
	case 3:
		out_str(o, "local.test, spaced group,*?[]");
		break;
	case 4:
		n = 200 + soak_rng_below(&g->rng, 2000);
		for (i = 0; i < n; i++)
			out_fmt(o, "%sno.such.group%u", i ? "," : "", i);
		break;
	default:
		out_str(o, ".leading.dot.");
		break;
	}
}

int
nntp_article(struct soak_gen *g, struct soak_out *o, int verb, int kind)
{
	const char *eol = "\r\n";
	int huge = kind == K_HUGE_BODY || (g->valid && soak_rng_below(&g->rng, 240) == 0);
	int rc = 0;
	unsigned i;

	switch (verb) {
	case V_POST:
		out_str(o, "POST\r\n");
		break;
	case V_IHAVE:
		out_str(o, "IHAVE ");
		msgid(g, o);
		out_str(o, "\r\n");
		break;
	default:
		out_str(o, "TAKETHIS ");
		msgid(g, o);
		out_str(o, "\r\n");
		break;
	}
	if (kind == K_BARE_EOL)
		eol = soak_rng_below(&g->rng, 2) ? "\n" : "\r";
	if (verb != V_POST) {
		out_str(o, "Path: soak!not-for-mail");
		out_str(o, eol);
	}
	if (kind != K_NO_FROM) {
		out_str(o, "From: Soak <soak@holdfast.invalid>");
		out_str(o, eol);
	}
	if (kind != K_NO_GROUPS) {
		out_str(o, "Newsgroups: ");
		if (kind == K_BAD_GROUPS)
			bad_groups(g, o);
		else
			out_str(o, "local.test");
		out_str(o, eol);
	}
	if (kind != K_NO_SUBJECT) {
		out_str(o, "Subject: soak ");
		out_rand_text(o, &g->rng, 8);
		out_str(o, eol);
	}
	if (kind != K_NO_MSGID) {
		out_str(o, "Message-ID: ");
		if (kind == K_BAD_MSGID)
			bad_msgid(g, o);
		else
			msgid(g, o);
		out_str(o, eol);
	}
	out_str(o, "Date: ");
	if (kind == K_BAD_DATE) {
		static const char *const dates[] = {"yesterday", "Mon, 99 Foo 20266 25:61:61 +9999", "", "0",
		    "Thu, 01 Jan 1970 00:00:00 +0000", "Fri, 31 Dec 9999 23:59:59 -2400"};

		out_str(o, dates[soak_rng_below(&g->rng, 6)]);
	} else {
		date_now(o);
	}
	out_str(o, eol);
	if (kind == K_DUP_HEADER) {
		static const char *const dups[] = {"Newsgroups: local.test", "From: Other <o@holdfast.invalid>",
		    "Subject: again", "Date: Mon, 1 Jan 2001 00:00:00 +0000"};

		out_str(o, dups[soak_rng_below(&g->rng, 4)]);
		out_str(o, eol);
		if (soak_rng_below(&g->rng, 2)) {
			out_str(o, "Message-ID: ");
			msgid(g, o);
			out_str(o, eol);
		}
	}
	if (kind == K_LONG_HEADER) {
		out_str(o, "X-Long: ");
		out_rand_text(o, &g->rng, 1000 + soak_rng_below(&g->rng, 64000));
		out_str(o, eol);
	}
	if (kind == K_NUL) {
		out_str(o, "X-Nul: a");
		out_put(o, "\0", 1);
		out_str(o, "b");
		out_str(o, eol);
	}
	if (kind == K_NO_COLON) {
		out_str(o, soak_rng_below(&g->rng, 2) ? "NoColonHere" : " continuation-without-header");
		out_str(o, eol);
	}
	if (kind == K_MANY_HEADERS) {
		unsigned n = 500 + soak_rng_below(&g->rng, 2000);

		for (i = 0; i < n; i++)
			out_fmt(o, "X-H%u: %u%s", i, i, eol);
	}
	if (g->valid)
		out_str(o, "X-Soak: control");
	else
		out_fmt(o, "X-Soak: attack %d", kind);
	out_str(o, eol);
	if (!(kind == K_NO_COLON && soak_rng_below(&g->rng, 2)))
		out_str(o, eol);	/* else: no blank line before the body */
	if (kind == K_NO_TERMINATOR) {
		body(g, o, 1 + soak_rng_below(&g->rng, 5), eol);
		/* Stop mid-line half the time; then close. */
		if (soak_rng_below(&g->rng, 2))
			out_str(o, "half a line");
		return SOAK_MSG_CLOSE;
	}
	body(g, o, body_lines(g, huge), eol);
	if (kind == K_NUL)
		out_put(o, "body\0nul\r\n", 10);
	if (kind == K_BAD_DOTS) {
		out_str(o, "..");
		out_str(o, eol);
		out_str(o, ". not the end");
		out_str(o, eol);
		out_str(o, ".\t");
		out_str(o, eol);
	}
	/* Terminator: with bare line ends, a correct one follows after
	 * them so the stream resynchronises. */
	if (kind == K_BARE_EOL)
		out_str(o, eol);
	out_str(o, ".\r\n");
	if (kind == K_BARE_EOL)
		out_str(o, "\r\n.\r\n");
	return rc;
}

static int
m043_message(struct soak_gen *g, struct soak_out *o)
{
	int verb = g->state ? V_POST : (soak_rng_below(&g->rng, 2) ? V_IHAVE : V_TAKETHIS);
	int kind;

	if (g->valid)
		return nntp_article(g, o, verb, -1);
	/* Huge bodies are rare so they do not take all the bandwidth. */
	do
		kind = (int)soak_rng_below(&g->rng, K_MAX);
	while (kind == K_HUGE_BODY && soak_rng_below(&g->rng, 16) != 0);
	return nntp_article(g, o, verb, kind);
}

const struct soak_scenario scen_ms01_043 = {
	.name = "ms01-043",
	.summary = "NNTP: malformed articles through POST, IHAVE, TAKETHIS (MS01-043)",
	.default_port = 119,
	.preamble = nntp_preamble,
	.message = m043_message,
	.probe_greeting = nntp_probe_greeting,
	.probe_request = nntp_probe_request,
	.probe_reply = nntp_probe_reply,
};
