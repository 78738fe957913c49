/*
 * test_nntp_article.c: unit tests for src/nntp/article.c.
 *
 * Every article is parsed from a malloc'd copy of exactly its length, so
 * ASan reports any read past the end.  Every enum article_err value is
 * produced by at least one crafted article (test_every_error checks that
 * its table covers them all), and each limit is tested at the limit and
 * one past it.  Epochs were computed with GNU date and Python's
 * calendar.timegm, not with the code under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nntp/article.h"

/* Big enough for an article of NNTP_ARTICLE_MAX_BYTES + 1. */
#define TB_CAP (NNTP_ARTICLE_MAX_BYTES + 4096)

struct tb {
	char *p;
	size_t len;
};

static struct tb tb;

static int
setup(void **state)
{
	(void)state;
	tb.p = malloc(TB_CAP);
	tb.len = 0;
	return tb.p == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(tb.p);
	tb.p = NULL;
	return 0;
}

static void
tb_reset(void)
{
	tb.len = 0;
}

static void
tb_mem(const void *p, size_t n)
{
	assert_true(tb.len + n <= TB_CAP);
	memcpy(tb.p + tb.len, p, n);
	tb.len += n;
}

static void
tb_str(const char *s)
{
	tb_mem(s, strlen(s));
}

static void
tb_fill(char c, size_t n)
{
	assert_true(tb.len + n <= TB_CAP);
	memset(tb.p + tb.len, c, n);
	tb.len += n;
}

/* A header line "X-Fill: aaa...\r\n" of exactly total bytes (>= 10). */
static void
tb_filler(size_t total)
{
	assert_true(total >= 10);
	tb_str("X-Fill: ");
	tb_fill('f', total - 10);
	tb_str("\r\n");
}

#define STD_PATH "Path: news.example.org!not-for-mail\r\n"
#define STD_FROM "From: Alice <alice@example.org>\r\n"
#define STD_NG "Newsgroups: comp.lang.c\r\n"
#define STD_SUBJ "Subject: test\r\n"
#define STD_DATE "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"
#define STD_MID "Message-ID: <1@example.org>\r\n"
#define STD_HDRS STD_PATH STD_FROM STD_NG STD_SUBJ STD_DATE STD_MID

/* Parses (t, len) from an exact-size copy. */
static enum article_err
parse_lim(const void *t, size_t len, const struct article_limits *lim, struct article *a)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	enum article_err e;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, t, len);
	e = article_parse(len > 0 ? copy : NULL, len, lim, a);
	/* Nothing the caller owns was touched. */
	assert_true(len == 0 || memcmp(copy, t, len) == 0);
	free(copy);
	return e;
}

static enum article_err
parse(const void *t, size_t len, int transit, struct article *a)
{
	struct article_limits lim = { .article_max = NNTP_ARTICLE_MAX_BYTES, .transit = transit };

	return parse_lim(t, len, &lim, a);
}

static enum article_err
parse_tb(int transit, struct article *a)
{
	return parse(tb.p, tb.len, transit, a);
}

static void
assert_span(const void *text, struct span s, const char *want)
{
	char got[256];
	size_t n = s.len < sizeof(got) - 1 ? s.len : sizeof(got) - 1;

	memcpy(got, (const char *)text + s.off, n);
	got[n] = '\0';
	assert_int_equal(s.len, strlen(want));
	assert_string_equal(got, want);
}

/* ---- valid articles ---- */

static void
test_valid_post(void **state)
{
	static const char art[] =
	    "From: Alice <alice@example.org>\r\n"
	    "Newsgroups: comp.lang.c , alt.test,\r\n misc.misc\r\n"
	    "Subject:   Hello there  \r\n"
	    "X-Custom: one\r\n"
	    "\r\n"
	    "Hi.\r\n"
	    ".\r\n"
	    "\r\n"
	    "bye\r\n";
	struct article a;
	size_t hlen = strlen(art) - strlen("\r\nHi.\r\n.\r\n\r\nbye\r\n");

	(void)state;
	assert_int_equal(parse(art, strlen(art), 0, &a), ART_OK);
	assert_int_equal(a.header.off, 0);
	assert_int_equal(a.header.len, hlen);
	assert_int_equal(a.body.off, hlen + 2);
	assert_int_equal(a.body.len, strlen("Hi.\r\n.\r\n\r\nbye\r\n"));
	assert_int_equal(a.lines, 4);
	assert_int_equal(a.nfields, 4);
	assert_span(art, a.from, "Alice <alice@example.org>");
	assert_span(art, a.subject, "Hello there");
	assert_span(art, a.newsgroups, "comp.lang.c , alt.test,\r\n misc.misc");
	assert_int_equal(a.ngroups, 3);
	assert_span(art, a.groups[0], "comp.lang.c");
	assert_span(art, a.groups[1], "alt.test");
	assert_span(art, a.groups[2], "misc.misc");
	/* POST: no Message-ID, Date or Path yet; the server adds them. */
	assert_int_equal(a.message_id.len, 0);
	assert_int_equal(a.date.len, 0);
	assert_int_equal(a.path.len, 0);
	assert_int_equal(a.date_epoch, -1);
	assert_span(art, article_header((const uint8_t *)art, &a, "x-custom"), "one");
	assert_int_equal(article_header((const uint8_t *)art, &a, "X-Absent").len, 0);
	/* The same article is not enough for a feed. */
	assert_int_equal(parse(art, strlen(art), 1, &a), ART_MISSING_MESSAGE_ID);
}

static void
test_valid_transit(void **state)
{
	static const char art[] =
	    "Path: news.example.org!feeder!not-for-mail\r\n"
	    "From: bob@example.net\r\n"
	    "Newsgroups: alt.test\r\n"
	    "Subject: Re: transit\r\n"
	    "Date: Mon, 23 Nov 2026 12:00:00 -0500\r\n"
	    "Message-ID: <abc.123@example.net>\r\n"
	    "References: <x@y> <z@w>\r\n"
	    "Lines: 2\r\n"
	    "Xref: news.example.org alt.test:12\r\n"
	    "\r\n"
	    "line one\r\n"
	    "line two\r\n";
	struct article a;

	(void)state;
	assert_int_equal(parse(art, strlen(art), 1, &a), ART_OK);
	assert_span(art, a.path, "news.example.org!feeder!not-for-mail");
	assert_span(art, a.message_id, "<abc.123@example.net>");
	assert_span(art, a.date, "Mon, 23 Nov 2026 12:00:00 -0500");
	assert_span(art, a.references, "<x@y> <z@w>");
	assert_span(art, a.lines_hdr, "2");
	assert_span(art, a.xref, "news.example.org alt.test:12");
	assert_span(art, a.newsgroups, "alt.test");
	assert_int_equal(a.ngroups, 1);
	assert_int_equal(a.date_epoch, 1795453200);
	assert_int_equal(a.lines, 2);
	assert_int_equal(a.nfields, 9);
	assert_span(art, a.body, "line one\r\nline two\r\n");
	assert_int_equal(a.header.len + 2 + a.body.len, strlen(art));
	assert_int_equal(a.header.len, strstr(art, "\r\n\r\n") - art + 2);
	/* Exactly the expected message-id from IHAVE/TAKETHIS. */
	{
		struct article_limits lim = { NNTP_ARTICLE_MAX_BYTES, 1, "<abc.123@example.net>", 21 };

		assert_int_equal(parse_lim(art, strlen(art), &lim, &a), ART_OK);
	}
}

static void
test_injection_date_wins(void **state)
{
	static const char art[] =
	    STD_HDRS
	    "Injection-Date: Mon, 23 Nov 2026 17:00:00 GMT\r\n"
	    "\r\n";
	struct article a;

	(void)state;
	assert_int_equal(parse(art, strlen(art), 1, &a), ART_OK);
	assert_int_equal(a.date_epoch, 1795453200);
	assert_span(art, a.injection_date, "Mon, 23 Nov 2026 17:00:00 GMT");
	assert_int_equal(a.lines, 0);
	assert_int_equal(a.body.len, 0);
}

static void
test_empty_body(void **state)
{
	struct article a;

	(void)state;
	assert_int_equal(parse(STD_HDRS "\r\n", strlen(STD_HDRS "\r\n"), 1, &a), ART_OK);
	assert_int_equal(a.lines, 0);
	assert_int_equal(a.body.len, 0);
	assert_int_equal(a.body.off, strlen(STD_HDRS) + 2);
	/* Empty lines in the body are lines. */
	assert_int_equal(parse(STD_HDRS "\r\n\r\n\r\n", strlen(STD_HDRS) + 6, 1, &a), ART_OK);
	assert_int_equal(a.lines, 2);
}

static void
test_folded_subject(void **state)
{
	static const char art[] =
	    STD_PATH STD_FROM STD_NG STD_DATE STD_MID
	    "Subject: a folded\r\n\tsubject\r\n  line\r\n"
	    "X-After: yes\r\n"
	    "\r\n"
	    "b\r\n";
	struct article a;
	struct span s;

	(void)state;
	assert_int_equal(parse(art, strlen(art), 1, &a), ART_OK);
	assert_span(art, a.subject, "a folded\r\n\tsubject\r\n  line");
	s = article_header((const uint8_t *)art, &a, "SUBJECT");
	assert_int_equal(s.off, a.subject.off);
	assert_int_equal(s.len, a.subject.len);
	assert_span(art, article_header((const uint8_t *)art, &a, "x-after"), "yes");
	assert_int_equal(a.nfields, 7);
}

static void
test_case_insensitive_names(void **state)
{
	static const char art[] =
	    "PATH: a!b\r\n"
	    "from: x@y\r\n"
	    "NEWSGROUPS: a.b\r\n"
	    "sUbJeCt: s\r\n"
	    "date: 1 Jan 1970 00:00:01 +0000\r\n"
	    "message-id: <m@n>\r\n"
	    "\r\n";
	struct article a;

	(void)state;
	assert_int_equal(parse(art, strlen(art), 1, &a), ART_OK);
	assert_span(art, a.message_id, "<m@n>");
	assert_span(art, a.subject, "s");
	assert_int_equal(a.date_epoch, 1);
	assert_span(art, article_header((const uint8_t *)art, &a, "Message-ID"), "<m@n>");
	/* A prefix of a name is not the name. */
	assert_int_equal(article_header((const uint8_t *)art, &a, "Message").len, 0);
	assert_int_equal(article_header((const uint8_t *)art, &a, "").len, 0);
	assert_int_equal(article_header((const uint8_t *)art, &a, NULL).len, 0);
}

static void
test_header_repeatable_first_wins(void **state)
{
	static const char art[] =
	    STD_HDRS
	    "X-Trace: first\r\n"
	    "Received: a\r\n"
	    "x-trace: second\r\n"
	    "\r\n";
	struct article a;

	(void)state;
	assert_int_equal(parse(art, strlen(art), 1, &a), ART_OK);
	assert_span(art, article_header((const uint8_t *)art, &a, "X-Trace"), "first");
	/* Body text that looks like a header is not one. */
	assert_int_equal(parse(STD_HDRS "\r\nX-Body: no\r\n", strlen(STD_HDRS "\r\nX-Body: no\r\n"), 1, &a),
	                 ART_OK);
	assert_int_equal(article_header((const uint8_t *)STD_HDRS "\r\nX-Body: no\r\n", &a, "X-Body").len, 0);
}

/* ---- every error ---- */

struct bad {
	const char *what;
	const char *text;
	size_t len;            /* 0: strlen */
	int transit;
	size_t article_max;    /* 0: the default */
	const char *expect;    /* expected message-id or NULL */
	enum article_err want;
};

#define LIT(s) s, sizeof(s) - 1

static const struct bad bad_articles[] = {
	{ "ok", STD_HDRS "\r\nbody\r\n", 0, 1, 0, NULL, ART_OK },
	{ "too big", STD_HDRS "\r\nbody\r\n", 0, 1, 10, NULL, ART_TOO_BIG },
	{ "too big before NUL", LIT("\0\0\0\0"), 1, 3, NULL, ART_TOO_BIG },
	{ "no separator", STD_HDRS, 0, 1, 0, NULL, ART_NO_BODY_SEPARATOR },
	{ "unterminated header", STD_HDRS "X-Last: x", 0, 1, 0, NULL, ART_NO_BODY_SEPARATOR },
	{ "empty article", "", 0, 0, 0, NULL, ART_NO_BODY_SEPARATOR },
	{ "continuation first", " cont\r\n" STD_HDRS "\r\n", 0, 1, 0, NULL, ART_BAD_HEADER_SYNTAX },
	{ "no colon", STD_HDRS "NoColon\r\n\r\n", 0, 1, 0, NULL, ART_BAD_HEADER_SYNTAX },
	{ "space in name", STD_HDRS "Bad Name: x\r\n\r\n", 0, 1, 0, NULL, ART_BAD_HEADER_SYNTAX },
	{ "space before colon", STD_HDRS "Name : x\r\n\r\n", 0, 1, 0, NULL, ART_BAD_HEADER_SYNTAX },
	{ "empty name", STD_HDRS ": x\r\n\r\n", 0, 1, 0, NULL, ART_BAD_HEADER_SYNTAX },
	{ "8-bit name", STD_HDRS "N\xe4me: x\r\n\r\n", 0, 1, 0, NULL, ART_BAD_HEADER_SYNTAX },
	{ "NUL in body", LIT(STD_HDRS "\r\nab\0c\r\n"), 1, 0, NULL, ART_NUL },
	{ "NUL in header", LIT(STD_HDRS "X-A: a\0b\r\n\r\n"), 1, 0, NULL, ART_NUL },
	{ "NUL in name", LIT(STD_HDRS "X\0A: b\r\n\r\n"), 1, 0, NULL, ART_NUL },
	{ "bare CR in header", STD_HDRS "X-A: a\rb\r\n\r\n", 0, 1, 0, NULL, ART_BARE_CR },
	{ "CR CR LF in header", STD_HDRS "X-A: a\r\r\n\r\n", 0, 1, 0, NULL, ART_BARE_CR },
	{ "bare CR last byte", STD_HDRS "\r\nbody\r", 0, 1, 0, NULL, ART_BARE_CR },
	{ "unterminated body line", STD_HDRS "\r\nbody", 0, 1, 0, NULL, ART_BARE_CR },
	{ "bare CR in body", STD_HDRS "\r\na\rb\r\n", 0, 1, 0, NULL, ART_BARE_CR },
	{ "bare LF in body", STD_HDRS "\r\na\nb\r\n", 0, 1, 0, NULL, ART_BARE_LF },
	{ "bare LF in header", STD_HDRS "X-A: a\nX-B: b\r\n\r\n", 0, 1, 0, NULL, ART_BARE_LF },
	{ "LF-only separator", STD_HDRS "\nbody\r\n", 0, 1, 0, NULL, ART_BARE_LF },
	{ "missing message-id", STD_PATH STD_FROM STD_NG STD_SUBJ STD_DATE "\r\n", 0, 1, 0, NULL,
	  ART_MISSING_MESSAGE_ID },
	{ "missing message-id with argument", STD_FROM STD_NG STD_SUBJ "\r\n", 0, 0, 0, "<1@example.org>",
	  ART_MISSING_MESSAGE_ID },
	{ "bad message-id", STD_PATH STD_FROM STD_NG STD_SUBJ STD_DATE "Message-ID: 1@x\r\n\r\n", 0, 1, 0,
	  NULL, ART_BAD_MESSAGE_ID },
	{ "bad message-id on POST", STD_FROM STD_NG STD_SUBJ "Message-ID: <a b@c>\r\n\r\n", 0, 0, 0, NULL,
	  ART_BAD_MESSAGE_ID },
	{ "empty message-id", STD_FROM STD_NG STD_SUBJ "Message-ID:\r\n\r\n", 0, 0, 0, NULL,
	  ART_BAD_MESSAGE_ID },
	{ "message-id with comment", STD_FROM STD_NG STD_SUBJ "Message-ID: <a@b> (c)\r\n\r\n", 0, 0, 0, NULL,
	  ART_BAD_MESSAGE_ID },
	{ "missing newsgroups", STD_PATH STD_FROM STD_SUBJ STD_DATE STD_MID "\r\n", 0, 1, 0, NULL,
	  ART_MISSING_NEWSGROUPS },
	{ "uppercase group", STD_FROM STD_SUBJ "Newsgroups: Comp.lang.c\r\n\r\n", 0, 0, 0, NULL,
	  ART_BAD_NEWSGROUPS },
	{ "empty group", STD_FROM STD_SUBJ "Newsgroups: a.b,,c.d\r\n\r\n", 0, 0, 0, NULL, ART_BAD_NEWSGROUPS },
	{ "trailing comma", STD_FROM STD_SUBJ "Newsgroups: a.b,\r\n\r\n", 0, 0, 0, NULL, ART_BAD_NEWSGROUPS },
	{ "leading comma", STD_FROM STD_SUBJ "Newsgroups: ,a.b\r\n\r\n", 0, 0, 0, NULL, ART_BAD_NEWSGROUPS },
	{ "space-separated groups", STD_FROM STD_SUBJ "Newsgroups: a.b c.d\r\n\r\n", 0, 0, 0, NULL,
	  ART_BAD_NEWSGROUPS },
	{ "empty newsgroups", STD_FROM STD_SUBJ "Newsgroups:   \r\n\r\n", 0, 0, 0, NULL, ART_BAD_NEWSGROUPS },
	{ "group with dots", STD_FROM STD_SUBJ "Newsgroups: a..b\r\n\r\n", 0, 0, 0, NULL, ART_BAD_NEWSGROUPS },
	{ "missing from", STD_PATH STD_NG STD_SUBJ STD_DATE STD_MID "\r\n", 0, 1, 0, NULL, ART_MISSING_FROM },
	{ "empty from", STD_NG STD_SUBJ "From:  \r\n\r\n", 0, 0, 0, NULL, ART_MISSING_FROM },
	{ "missing subject", STD_PATH STD_FROM STD_NG STD_DATE STD_MID "\r\n", 0, 1, 0, NULL,
	  ART_MISSING_SUBJECT },
	{ "missing subject on POST", STD_FROM STD_NG "\r\n", 0, 0, 0, NULL, ART_MISSING_SUBJECT },
	{ "missing date", STD_PATH STD_FROM STD_NG STD_SUBJ STD_MID "\r\n", 0, 1, 0, NULL, ART_MISSING_DATE },
	{ "bad date", STD_PATH STD_FROM STD_NG STD_SUBJ STD_MID "Date: yesterday\r\n\r\n", 0, 1, 0, NULL,
	  ART_BAD_DATE },
	{ "bad date on POST", STD_FROM STD_NG STD_SUBJ "Date: 32 Jan 2020 00:00 GMT\r\n\r\n", 0, 0, 0, NULL,
	  ART_BAD_DATE },
	{ "bad injection-date", STD_HDRS "Injection-Date: never\r\n\r\n", 0, 1, 0, NULL, ART_BAD_DATE },
	{ "missing path", STD_FROM STD_NG STD_SUBJ STD_DATE STD_MID "\r\n", 0, 1, 0, NULL, ART_MISSING_PATH },
	{ "duplicate subject", STD_HDRS "subject: again\r\n\r\n", 0, 1, 0, NULL, ART_DUPLICATE_HEADER },
	{ "duplicate message-id", STD_HDRS "MESSAGE-ID: <2@example.org>\r\n\r\n", 0, 1, 0, NULL,
	  ART_DUPLICATE_HEADER },
	{ "duplicate followup-to", STD_HDRS "Followup-To: a\r\nFollowup-To: b\r\n\r\n", 0, 1, 0, NULL,
	  ART_DUPLICATE_HEADER },
	{ "duplicate newsgroups", STD_HDRS "Newsgroups: a.b\r\n\r\n", 0, 1, 0, NULL, ART_DUPLICATE_HEADER },
	{ "message-id mismatch", STD_HDRS "\r\n", 0, 1, 0, "<2@example.org>", ART_MESSAGE_ID_MISMATCH },
	{ "message-id mismatch by case", STD_HDRS "\r\n", 0, 1, 0, "<1@EXAMPLE.ORG>", ART_MESSAGE_ID_MISMATCH },
	{ "message-id prefix", STD_HDRS "\r\n", 0, 1, 0, "<1@example.org", ART_MESSAGE_ID_MISMATCH },
	/* First defect wins: a header error before a body error. */
	{ "order header first", STD_HDRS "X-A: a\rb\r\n\r\na\nb\0\r\n", 0, 1, 0, NULL, ART_BARE_CR },
	{ "order structural first", STD_PATH "X\0: x\r\n\r\n", sizeof(STD_PATH "X\0: x\r\n\r\n") - 1, 1, 0, NULL,
	  ART_NUL },
};

/* Built at run time: limits on sizes and counts. */
static enum article_err
build_and_parse(enum article_err which, int over, struct article *a)
{
	size_t i;

	tb_reset();
	tb_str(STD_HDRS);
	switch (which) {
	case ART_HEADER_LINE_TOO_LONG:
		/* "X-Long: " + fill: a physical line of 998 (+1) bytes. */
		tb_str("X-Long: ");
		tb_fill('l', NNTP_HEADER_LINE_MAX_BYTES - 8 + (size_t)over);
		tb_str("\r\n\r\n");
		break;
	case ART_HEADER_TOO_BIG:
		/* One field of exactly NNTP_HEADER_FIELD_MAX_BYTES (+1) unfolded. */
		tb_str("X-Big: ");
		tb_fill('b', 990 - 7);
		for (i = 990; i + 991 <= NNTP_HEADER_FIELD_MAX_BYTES; i += 991) {
			tb_str("\r\n ");
			tb_fill('b', 990);
		}
		tb_str("\r\n ");
		tb_fill('c', NNTP_HEADER_FIELD_MAX_BYTES - i - 1 + (size_t)over);
		tb_str("\r\n\r\n");
		break;
	case ART_TOO_MANY_HEADERS:
		for (i = 6; i < NNTP_HEADER_FIELDS_MAX + (size_t)over; i++)
			tb_str("X-N: n\r\n");
		tb_str("\r\n");
		break;
	case ART_TOO_MANY_GROUPS:
		tb_reset();
		tb_str(STD_PATH STD_FROM STD_SUBJ STD_DATE STD_MID "Newsgroups: g.0");
		for (i = 1; i < NNTP_GROUPS_PER_ARTICLE_MAX + (size_t)over; i++) {
			char g[32];

			snprintf(g, sizeof(g), ",g.%zu", i);
			tb_str(g);
		}
		tb_str("\r\n\r\n");
		break;
	case ART_BODY_LINE_TOO_LONG:
		tb_str("\r\nfirst\r\n");
		tb_fill('x', NNTP_BODY_LINE_MAX_BYTES + (size_t)over);
		tb_str("\r\nlast\r\n");
		break;
	default:
		fail_msg("no builder for %d", which);
	}
	return parse_tb(1, a);
}

static void
test_every_error(void **state)
{
	static const enum article_err built[] = {
		ART_HEADER_LINE_TOO_LONG, ART_HEADER_TOO_BIG, ART_TOO_MANY_HEADERS, ART_TOO_MANY_GROUPS,
		ART_BODY_LINE_TOO_LONG,
	};
	int covered[ART_ERR_MAX] = { 0 };
	struct article_limits lim;
	struct article a;
	const struct bad *b;
	enum article_err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_articles) / sizeof(bad_articles[0]); i++) {
		b = &bad_articles[i];
		lim.article_max = b->article_max ? b->article_max : NNTP_ARTICLE_MAX_BYTES;
		lim.transit = b->transit;
		lim.expect_msgid = b->expect;
		lim.expect_msgid_len = b->expect ? strlen(b->expect) : 0;
		e = parse_lim(b->text, b->len ? b->len : strlen(b->text), &lim, &a);
		if (e != b->want)
			fail_msg("%s: got %s, want %s", b->what, article_reason(e), article_reason(b->want));
		covered[e] = 1;
	}
	for (i = 0; i < sizeof(built) / sizeof(built[0]); i++) {
		assert_int_equal(build_and_parse(built[i], 0, &a), ART_OK);
		e = build_and_parse(built[i], 1, &a);
		if (e != built[i])
			fail_msg("built %s: got %s", article_reason(built[i]), article_reason(e));
		covered[e] = 1;
	}
	for (i = 0; i < ART_ERR_MAX; i++)
		if (!covered[i])
			fail_msg("no article gives %s", article_reason((enum article_err)i));
}

/* ---- boundaries ---- */

static void
test_header_line_boundary(void **state)
{
	struct article a;

	(void)state;
	assert_int_equal(build_and_parse(ART_HEADER_LINE_TOO_LONG, 0, &a), ART_OK);
	assert_int_equal(article_header((const uint8_t *)tb.p, &a, "X-Long").len, NNTP_HEADER_LINE_MAX_BYTES - 8);
	assert_int_equal(build_and_parse(ART_HEADER_LINE_TOO_LONG, 1, &a), ART_HEADER_LINE_TOO_LONG);
	/* A continuation line is a physical line too. */
	tb_reset();
	tb_str(STD_HDRS "X-Fold: a\r\n ");
	tb_fill('c', NNTP_HEADER_LINE_MAX_BYTES - 1);
	tb_str("\r\n\r\n");
	assert_int_equal(parse_tb(1, &a), ART_OK);
	tb_reset();
	tb_str(STD_HDRS "X-Fold: a\r\n ");
	tb_fill('c', NNTP_HEADER_LINE_MAX_BYTES);
	tb_str("\r\n\r\n");
	assert_int_equal(parse_tb(1, &a), ART_HEADER_LINE_TOO_LONG);
	/* A body line may be longer than a header line. */
	tb_reset();
	tb_str(STD_HDRS "\r\n");
	tb_fill('c', NNTP_HEADER_LINE_MAX_BYTES + 1);
	tb_str("\r\n");
	assert_int_equal(parse_tb(1, &a), ART_OK);
}

static void
test_field_and_section_boundary(void **state)
{
	struct article a;
	size_t n;

	(void)state;
	assert_int_equal(build_and_parse(ART_HEADER_TOO_BIG, 0, &a), ART_OK);
	assert_int_equal(build_and_parse(ART_HEADER_TOO_BIG, 1, &a), ART_HEADER_TOO_BIG);
	/* The header section: exactly NNTP_HEADER_MAX_BYTES with its last CRLF. */
	for (n = 0; n <= 1; n++) {
		size_t rest;

		tb_reset();
		tb_str(STD_HDRS);
		rest = NNTP_HEADER_MAX_BYTES + n - tb.len;
		while (rest > 1000) {
			tb_filler(990);
			rest -= 990;
		}
		tb_filler(rest);
		tb_str("\r\n");
		assert_int_equal(parse_tb(1, &a), n == 0 ? ART_OK : ART_HEADER_TOO_BIG);
		if (n == 0)
			assert_int_equal(a.header.len, NNTP_HEADER_MAX_BYTES);
	}
	assert_int_equal(build_and_parse(ART_TOO_MANY_HEADERS, 0, &a), ART_OK);
	assert_int_equal(a.nfields, NNTP_HEADER_FIELDS_MAX);
	assert_int_equal(build_and_parse(ART_TOO_MANY_HEADERS, 1, &a), ART_TOO_MANY_HEADERS);
}

static void
test_groups_boundary(void **state)
{
	struct article a;

	(void)state;
	assert_int_equal(build_and_parse(ART_TOO_MANY_GROUPS, 0, &a), ART_OK);
	assert_int_equal(a.ngroups, NNTP_GROUPS_PER_ARTICLE_MAX);
	assert_span(tb.p, a.groups[0], "g.0");
	assert_span(tb.p, a.groups[NNTP_GROUPS_PER_ARTICLE_MAX - 1], "g.31");
	assert_int_equal(build_and_parse(ART_TOO_MANY_GROUPS, 1, &a), ART_TOO_MANY_GROUPS);
}

static void
test_body_line_boundary(void **state)
{
	struct article a;

	(void)state;
	assert_int_equal(build_and_parse(ART_BODY_LINE_TOO_LONG, 0, &a), ART_OK);
	assert_int_equal(a.lines, 3);
	assert_int_equal(build_and_parse(ART_BODY_LINE_TOO_LONG, 1, &a), ART_BODY_LINE_TOO_LONG);
}

/* An article of exactly len bytes: standard headers and lines of x. */
static void
build_sized(size_t len)
{
	size_t rest;

	tb_reset();
	tb_str(STD_HDRS "\r\n");
	rest = len - tb.len;
	while (rest > 0) {
		size_t n = rest > 1000 ? 1000 : rest;

		assert_true(n >= 2);
		if (rest - n == 1)
			n--;
		tb_fill('x', n - 2);
		tb_str("\r\n");
		rest -= n;
	}
	assert_int_equal(tb.len, len);
}

static void
test_article_max_boundary(void **state)
{
	struct article_limits lim = { .article_max = NNTP_ARTICLE_MAX_BYTES, .transit = 1 };
	struct article a;

	(void)state;
	build_sized(NNTP_ARTICLE_MAX_BYTES);
	assert_int_equal(parse_lim(tb.p, tb.len, &lim, &a), ART_OK);
	assert_int_equal(a.header.len + 2 + a.body.len, NNTP_ARTICLE_MAX_BYTES);
	build_sized(NNTP_ARTICLE_MAX_BYTES + 1);
	assert_int_equal(parse_lim(tb.p, tb.len, &lim, &a), ART_TOO_BIG);
	/* A configured smaller max, at and over. */
	build_sized(4000);
	lim.article_max = 4000;
	assert_int_equal(parse_lim(tb.p, tb.len, &lim, &a), ART_OK);
	lim.article_max = 3999;
	assert_int_equal(parse_lim(tb.p, tb.len, &lim, &a), ART_TOO_BIG);
	/* No limits given: the default max, transit rules. */
	assert_int_equal(parse_lim(tb.p, tb.len, NULL, &a), ART_OK);
	assert_int_equal(parse_lim(STD_FROM STD_NG STD_SUBJ "\r\n", strlen(STD_FROM STD_NG STD_SUBJ "\r\n"), NULL, &a),
	                 ART_MISSING_MESSAGE_ID);
}

static void
test_msgid_boundary_in_article(void **state)
{
	struct article a;
	size_t over;

	(void)state;
	for (over = 0; over <= 1; over++) {
		tb_reset();
		tb_str(STD_PATH STD_FROM STD_NG STD_SUBJ STD_DATE "Message-ID: <");
		tb_fill('m', NNTP_MSGID_MAX_BYTES - 10 + over);
		tb_str("@example>\r\n\r\n");
		assert_int_equal(parse_tb(1, &a), over ? ART_BAD_MESSAGE_ID : ART_OK);
		if (!over)
			assert_int_equal(a.message_id.len, NNTP_MSGID_MAX_BYTES);
	}
}

/* ---- message-ids, groups ---- */

static int
mid(const char *s)
{
	return article_msgid_valid(s, strlen(s));
}

static void
test_msgid_valid(void **state)
{
	char buf[NNTP_MSGID_MAX_BYTES + 2];

	(void)state;
	assert_int_equal(mid("<a@b>"), 1);
	assert_int_equal(mid("<a.b.c@d.e>"), 1);
	assert_int_equal(mid("<\"q@r\"@x>"), 1);
	assert_int_equal(mid("<a@[1.2.3.4]>"), 1);
	assert_int_equal(mid("<!#$%&'*+/=?^_`{|}~-@x>"), 1);
	assert_int_equal(mid(""), 0);
	assert_int_equal(mid("<>"), 0);
	assert_int_equal(mid("<@>"), 0);
	assert_int_equal(mid("<a@>"), 0);
	assert_int_equal(mid("<@b>"), 0);
	assert_int_equal(mid("<@bc>"), 0);
	assert_int_equal(mid("<ab@>"), 0);
	assert_int_equal(mid("<a@b@>"), 0); /* the last "@" counts */
	assert_int_equal(mid("<a@b@c>"), 1);
	assert_int_equal(mid("<ab>"), 0);
	assert_int_equal(mid("a@b"), 0);
	assert_int_equal(mid("<a@b"), 0);
	assert_int_equal(mid("a@b>"), 0);
	assert_int_equal(mid(" <a@b>"), 0);
	assert_int_equal(mid("<a@b> "), 0);
	assert_int_equal(mid("<a b@c>"), 0);
	assert_int_equal(mid("<a\t@c>"), 0);
	assert_int_equal(mid("<a@b>>"), 0);
	assert_int_equal(mid("<<a@b>"), 0);
	assert_int_equal(mid("<a<b@c>"), 0);
	assert_int_equal(mid("<a>b@c>"), 0);
	assert_int_equal(mid("<a@b\x7f>"), 0);
	assert_int_equal(mid("<a@b\x80>"), 0);
	assert_int_equal(mid("<a@b\x01>"), 0);
	assert_int_equal(article_msgid_valid("<a@\0b>", 6), 0);
	assert_int_equal(article_msgid_valid("<a@b>", 4), 0); /* len rules */
	assert_int_equal(article_msgid_valid(NULL, 5), 0);
	/* 250 bytes with the brackets, then 251. */
	buf[0] = '<';
	memset(buf + 1, 'x', NNTP_MSGID_MAX_BYTES - 4);
	memcpy(buf + NNTP_MSGID_MAX_BYTES - 3, "@y>", 3);
	assert_int_equal(article_msgid_valid(buf, NNTP_MSGID_MAX_BYTES), 1);
	buf[0] = '<';
	memset(buf + 1, 'x', NNTP_MSGID_MAX_BYTES - 3);
	memcpy(buf + NNTP_MSGID_MAX_BYTES - 2, "@y>", 3);
	assert_int_equal(article_msgid_valid(buf, NNTP_MSGID_MAX_BYTES + 1), 0);
}

static int
grp(const char *s)
{
	return article_group_valid(s, strlen(s));
}

static void
test_group_valid(void **state)
{
	char buf[NNTP_GROUP_MAX_BYTES + 1];

	(void)state;
	assert_int_equal(grp("a"), 1);
	assert_int_equal(grp("comp.lang.c"), 1);
	assert_int_equal(grp("comp.lang.c++"), 1);
	assert_int_equal(grp("alt.0d"), 1);
	assert_int_equal(grp("a_b.c-d"), 1);
	assert_int_equal(grp("123"), 1);
	assert_int_equal(grp(""), 0);
	assert_int_equal(grp("."), 0);
	assert_int_equal(grp(".a"), 0);
	assert_int_equal(grp("a."), 0);
	assert_int_equal(grp("a..b"), 0);
	assert_int_equal(grp("Comp.lang"), 0);
	assert_int_equal(grp("a b"), 0);
	assert_int_equal(grp("a,b"), 0);
	assert_int_equal(grp("a/b"), 0);
	assert_int_equal(grp("a*"), 0);
	assert_int_equal(grp("a:b"), 0);
	assert_int_equal(grp("caf\xc3\xa9"), 0);
	assert_int_equal(article_group_valid("a\0b", 3), 0);
	assert_int_equal(article_group_valid(NULL, 1), 0);
	memset(buf, 'g', sizeof(buf));
	buf[10] = '.';
	assert_int_equal(article_group_valid(buf, NNTP_GROUP_MAX_BYTES), 1);
	assert_int_equal(article_group_valid(buf, NNTP_GROUP_MAX_BYTES + 1), 0);
}

/* ---- dates ---- */

struct date_case {
	const char *text;
	int64_t epoch;
};

static const struct date_case good_dates[] = {
	{ "Thu, 01 Jan 1970 00:00:00 +0000", 0 },
	{ "Mon, 23 Nov 2026 12:00:00 -0500", 1795453200 },
	{ "23 Nov 2026 12:00:00 -0500", 1795453200 },
	{ "Mon, 23 Nov 2026 12:00 -0500", 1795453200 },
	{ "Mon,23 Nov 2026 12:00:00 -0500", 1795453200 },
	{ "  Mon , 23 Nov 2026 12:00:00 -0500  ", 1795453200 },
	{ "Mon, 23 Nov 26 12:00:00 -0500", 1795453200 },
	{ "mon, 23 nov 2026 17:00:00 gmt", 1795453200 },
	{ "Mon, 23 Nov 2026 17:00:00 GMT", 1795453200 },
	{ "Mon, 23 Nov 2026 17:00:00 UT", 1795453200 },
	{ "Mon, 23 Nov 2026 17:00:00 Z", 1795453200 },
	{ "Mon, 23 Nov 2026 17:00:00 a", 1795453200 },
	{ "Mon, 23 Nov 2026 17:00:00 -0000", 1795453200 },
	{ "Mon, 23 Nov 2026 12:00:00 EST", 1795453200 },
	{ "Mon, 23 Nov 2026 13:00:00 EDT", 1795453200 },
	{ "Mon, 23 Nov 2026 11:00:00 CST", 1795453200 },
	{ "Mon, 23 Nov 2026 12:00:00 CDT", 1795453200 },
	{ "Mon, 23 Nov 2026 10:00:00 MST", 1795453200 },
	{ "Mon, 23 Nov 2026 11:00:00 MDT", 1795453200 },
	{ "Mon, 23 Nov 2026 09:00:00 PST", 1795453200 },
	{ "Mon, 23 Nov 2026 10:00:00 PDT", 1795453200 },
	{ "Mon, 23 Nov 2026 22:30:00 +0530", 1795453200 },
	{ "Tue, 24 Nov 2026 07:00:00 +1400", 1795453200 },
	{ "Mon, 23 Nov 2026 17:00:00 +0000 (UTC)", 1795453200 },
	{ "Mon, 23 Nov 2026 17:00:00 +0000 (a (nested) \\) comment) (two)", 1795453200 },
	{ "Mon, 23 Nov 2026\r\n 17:00:00\r\n\t+0000", 1795453200 },
	{ "1 Jan 70 00:00:00 GMT", 0 },
	{ "1 Jan 1970 00:00:01 +0000", 1 },
	{ "01 Jan 00 00:00:00 +0000", 946684800 },
	{ "31 Dec 49 23:59:59 +0000", 2524607999 },
	{ "Fri, 31 Dec 1999 23:59:59 +0000", 946684799 },
	{ "29 Feb 2024 00:00:00 +0000", 1709164800 },
	{ "29 Feb 2000 12:34:56 +0000", 951827696 },
	{ "31 Dec 2016 23:59:60 +0000", 1483228800 },
	{ "31 Dec 9999 23:59:59 +0000", 253402300799LL },
	{ "31 Dec 9999 22:59:59 -0100", 253402300799LL },
	{ "Thu, 01 Jan 1970 01:00:00 +0100", 0 },
};

static const char *const bad_dates[] = {
	"",
	"   ",
	"yesterday",
	"Thu 01 Jan 1970 00:00:00 +0000",
	"Xyz, 01 Jan 1970 00:00:00 +0000",
	"Thursday, 01 Jan 1970 00:00:00 +0000",
	"Thu, 32 Jan 2020 00:00:00 +0000",
	"Thu, 00 Jan 2020 00:00:00 +0000",
	"Thu, 001 Jan 2020 00:00:00 +0000",
	"31 Apr 2020 00:00:00 +0000",
	"29 Feb 2023 00:00:00 +0000",
	"29 Feb 2100 00:00:00 +0000",
	"1 Foo 2020 00:00:00 +0000",
	"1 January 2020 00:00:00 +0000",
	"1Jan 2020 00:00:00 +0000",
	"1 Jan2020 00:00:00 +0000",
	"1 Jan 1969 23:59:59 +0000",
	"1 Jan 10000 00:00:00 +0000",
	"1 Jan 202 00:00:00 +0000",
	"1 Jan 2 00:00:00 +0000",
	"1 Jan 69 00:00:00 +0000",
	"1 Jan 50 00:00:00 +0000",
	"1 Jan 2020 24:00:00 +0000",
	"1 Jan 2020 12:60:00 +0000",
	"1 Jan 2020 12:00:61 +0000",
	"1 Jan 2020 1:00:00 +0000",
	"1 Jan 2020 12:0:00 +0000",
	"1 Jan 2020 12:00: +0000",
	"1 Jan 2020 12 +0000",
	"1 Jan 2020 12:00:00",
	"1 Jan 2020 12:00:00 ",
	"1 Jan 2020 12:00:00+0000",
	"1 Jan 2020 12:00:00 +2400",
	"1 Jan 2020 12:00:00 +0060",
	"1 Jan 2020 12:00:00 +000",
	"1 Jan 2020 12:00:00 +00000",
	"1 Jan 2020 12:00:00 0000",
	"1 Jan 2020 12:00:00 CET",
	"1 Jan 2020 12:00:00 J",
	"1 Jan 2020 12:00:00 GMTX",
	"1 Jan 2020 12:00:00 +0000 x",
	"1 Jan 2020 12:00:00 +0000 (open",
	"1 Jan 2020 12:00:00 +0000 (a (b)",
	"1 Jan 2020 12:00:00 +0000 (a\\",
	"1 Jan 2020 12:00:00 +0000 )",
	"Thu, 01 Jan 1970 00:59:59 +0100",
	"Thu, 01 Jan 1970 00:00:00 -0000 ,",
	"31 Dec 9999 23:59:60 +0000",
	"31 Dec 9999 23:00:00 -0100",
};

static void
test_dates(void **state)
{
	size_t i;
	int64_t got;

	(void)state;
	for (i = 0; i < sizeof(good_dates) / sizeof(good_dates[0]); i++) {
		got = article_parse_date(good_dates[i].text, strlen(good_dates[i].text));
		if (got != good_dates[i].epoch)
			fail_msg("\"%s\": got %lld, want %lld", good_dates[i].text, (long long)got,
			         (long long)good_dates[i].epoch);
	}
	for (i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
		got = article_parse_date(bad_dates[i], strlen(bad_dates[i]));
		if (got != -1)
			fail_msg("\"%s\": got %lld, want -1", bad_dates[i], (long long)got);
	}
	/* The length rules, not a terminating NUL. */
	assert_int_equal(article_parse_date("1 Jan 1970 00:00:05 +0000 junk", 25), 5);
	assert_int_equal(article_parse_date("1 Jan 1970 00:00:05 +0000", 24), -1);
	assert_int_equal(article_parse_date("1 Jan 1970 00:00:05 +0000\0", 26), -1);
	assert_int_equal(article_parse_date(NULL, 0), -1);
}

/* ---- names ---- */

static void
test_strerror_reason(void **state)
{
	size_t i, j, n;
	const char *r;

	(void)state;
	for (i = 0; i < ART_ERR_MAX; i++) {
		r = article_reason((enum article_err)i);
		assert_non_null(r);
		n = strlen(r);
		assert_true(n > 0 && n <= 23);
		for (j = 0; j < n; j++)
			assert_true((r[j] >= 'a' && r[j] <= 'z') || r[j] == '_');
		assert_true(strcmp(r, "unknown") != 0);
		for (j = 0; j < i; j++)
			assert_string_not_equal(r, article_reason((enum article_err)j));
		assert_true(strlen(article_strerror((enum article_err)i)) > 0);
		assert_string_not_equal(article_strerror((enum article_err)i), "unknown article error");
	}
	assert_string_equal(article_reason(ART_BAD_MESSAGE_ID), "bad_message_id");
	assert_string_equal(article_reason(ART_ERR_MAX), "unknown");
	assert_string_equal(article_reason((enum article_err)-1), "unknown");
	assert_string_equal(article_strerror(ART_ERR_MAX), "unknown article error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_post),
		cmocka_unit_test(test_valid_transit),
		cmocka_unit_test(test_injection_date_wins),
		cmocka_unit_test(test_empty_body),
		cmocka_unit_test(test_folded_subject),
		cmocka_unit_test(test_case_insensitive_names),
		cmocka_unit_test(test_header_repeatable_first_wins),
		cmocka_unit_test(test_every_error),
		cmocka_unit_test(test_header_line_boundary),
		cmocka_unit_test(test_field_and_section_boundary),
		cmocka_unit_test(test_groups_boundary),
		cmocka_unit_test(test_body_line_boundary),
		cmocka_unit_test(test_article_max_boundary),
		cmocka_unit_test(test_msgid_boundary_in_article),
		cmocka_unit_test(test_msgid_valid),
		cmocka_unit_test(test_group_valid),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_strerror_reason),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
