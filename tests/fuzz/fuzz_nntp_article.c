/*
 * fuzz_nntp_article.c: libFuzzer target for src/nntp/article.c (MS01-043,
 * MS03-029).
 *
 * Every call gets a malloc'd copy of exactly its input, so ASan reports
 * any read past the end.  Two articles are parsed per input, each with
 * transit 0 and 1:
 *  - the input itself, as arbitrary bytes;
 *  - two articles built from it, so that the fuzzer reaches the field
 *    checks and the body without first having to invent a whole valid
 *    header: the input is cut at its first six LFs into the values of
 *    Path, From, Newsgroups, Subject, Date and Message-ID (an empty value
 *    takes a valid default, "-" leaves the field out); the rest follows
 *    the empty line as the body, or follows the fields directly (so it
 *    can add fields, folds and duplicates and must bring its own empty
 *    line).
 * Oracles on every parse: the result is a known error, the same when
 * repeated, and the caller's bytes are unchanged.  On ART_OK: the header,
 * the empty line and the body tile the text; no NUL, no bare CR or LF;
 * lines counts the body's CRLFs; every span lies in the header and
 * article_header() finds the same ones; the required fields are there
 * and valid; date_epoch comes from Injection-Date, else Date; a transit
 * article is also a valid POST, and its own Message-ID given as the
 * expected one is accepted while a different one is not.
 * article_msgid_valid, article_group_valid and article_parse_date also get
 * the input and each value: a valid message-id or group has the shape
 * documented, and a date that parses comes back from its own UTC
 * rendering as the same epoch.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nntp/article.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* The largest epoch a valid date can give: 9999-12-31 23:59:59 UTC. */
#define FZ_EPOCH_MAX 253402300799LL

static const char *const fz_names[] = { "Path", "From", "Newsgroups", "Subject", "Date", "Message-ID" };
static const char *const fz_defaults[] = { "news.example!not-for-mail", "a@example.org", "alt.test",
	                                   "s", "Thu, 01 Jan 1970 00:00:00 +0000", "<1@example.org>" };
#define FZ_NNAMES (sizeof(fz_names) / sizeof(fz_names[0]))

static uint8_t *
fz_copy(const void *p, size_t n)
{
	uint8_t *c = malloc(n > 0 ? n : 1);

	CHECK(c != NULL);
	if (n > 0)
		memcpy(c, p, n);
	return c;
}

static int
fz_in(struct span s, size_t off, size_t len)
{
	return s.off >= off && (size_t)s.off + s.len <= off + len;
}

static int
fz_same(struct span a, struct span b)
{
	return a.off == b.off && a.len == b.len;
}

/* Independent of article.c: components of [a-z0-9+_-] between dots. */
static int
fz_group_ref(const uint8_t *p, size_t n)
{
	size_t i, comp = 0;

	if (n == 0 || n > NNTP_GROUP_MAX_BYTES)
		return 0;
	for (i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (comp == 0)
				return 0;
			comp = 0;
			continue;
		}
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789+_-", p[i]) == NULL || p[i] == '\0')
			return 0;
		comp++;
	}
	return 1;
}

static void
fz_validators(const uint8_t *data, size_t size)
{
	uint8_t *c = fz_copy(data, size);
	char buf[96];
	struct tm tm;
	time_t tt;
	int64_t t, t2;
	size_t i;
	int n;

	if (article_msgid_valid((const char *)c, size)) {
		CHECK(size >= 5 && size <= NNTP_MSGID_MAX_BYTES);
		CHECK(c[0] == '<' && c[size - 1] == '>');
		CHECK(memchr(c, '@', size) != NULL);
		for (i = 1; i + 1 < size; i++)
			CHECK(c[i] > 32 && c[i] < 127 && c[i] != '<' && c[i] != '>');
	}
	CHECK(article_group_valid((const char *)c, size) == fz_group_ref(c, size));
	t = article_parse_date((const char *)c, size);
	CHECK(t >= -1 && t <= FZ_EPOCH_MAX);
	CHECK(article_parse_date((const char *)c, size) == t);
	if (t >= 0) {
		/* Round trip through our own rendering in UTC. */
		tt = (time_t)t;
		CHECK(gmtime_r(&tt, &tm) != NULL);
		n = (int)strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S +0000", &tm);
		CHECK(n > 0);
		t2 = article_parse_date(buf, (size_t)n);
		CHECK(t2 == t);
	}
	free(c);
}

static void
fz_check_ok(const uint8_t *t, size_t len, const struct article *a, int transit)
{
	static const char *const lookups[] = { "Message-ID", "Newsgroups", "From", "Subject", "Date", "Path" };
	const struct span *spans[6];
	size_t i, crlf = 0, hlen = a->header.len;
	int64_t want;

	CHECK(a->header.off == 0);
	CHECK(hlen <= NNTP_HEADER_MAX_BYTES);
	CHECK(hlen + 2 + (size_t)a->body.len == len);
	CHECK(a->body.off == hlen + 2);
	CHECK(t[hlen] == '\r' && t[hlen + 1] == '\n');
	CHECK(hlen == 0 || (t[hlen - 2] == '\r' && t[hlen - 1] == '\n'));
	CHECK(memchr(t, '\0', len) == NULL);
	for (i = 0; i < len; i++) {
		if (t[i] == '\r')
			CHECK(i + 1 < len && t[i + 1] == '\n');
		if (t[i] == '\n')
			CHECK(i > 0 && t[i - 1] == '\r');
		if (t[i] == '\n' && i > hlen + 1)
			crlf++;
	}
	CHECK(a->lines == crlf);
	CHECK(a->nfields <= NNTP_HEADER_FIELDS_MAX);

	spans[0] = &a->message_id;
	spans[1] = &a->newsgroups;
	spans[2] = &a->from;
	spans[3] = &a->subject;
	spans[4] = &a->date;
	spans[5] = &a->path;
	for (i = 0; i < 6; i++) {
		struct span s = article_header(t, a, lookups[i]);

		CHECK(fz_in(*spans[i], 0, hlen));
		if (spans[i]->len > 0)
			CHECK(fz_same(s, *spans[i]));
	}
	CHECK(fz_in(a->injection_date, 0, hlen));
	CHECK(fz_in(a->references, 0, hlen) && fz_in(a->xref, 0, hlen) && fz_in(a->lines_hdr, 0, hlen));

	CHECK(a->from.len > 0 && a->subject.len > 0);
	CHECK(a->ngroups >= 1 && a->ngroups <= NNTP_GROUPS_PER_ARTICLE_MAX);
	for (i = 0; i < a->ngroups; i++) {
		CHECK(fz_in(a->groups[i], a->newsgroups.off, a->newsgroups.len));
		CHECK(fz_group_ref(t + a->groups[i].off, a->groups[i].len));
		if (i > 0)
			CHECK(a->groups[i].off > a->groups[i - 1].off);
	}
	if (a->message_id.len > 0 || transit)
		CHECK(article_msgid_valid((const char *)t + a->message_id.off, a->message_id.len));
	if (transit)
		CHECK(a->date.len > 0 && a->path.len > 0);
	if (a->injection_date.len > 0)
		want = article_parse_date((const char *)t + a->injection_date.off, a->injection_date.len);
	else if (a->date.len > 0)
		want = article_parse_date((const char *)t + a->date.off, a->date.len);
	else
		want = -1;
	CHECK(a->date_epoch == want);
	CHECK(a->date.len == 0 || article_parse_date((const char *)t + a->date.off, a->date.len) >= 0);
}

static void
fz_parse(const uint8_t *data, size_t size)
{
	uint8_t *t = fz_copy(data, size);
	struct article_limits lim = { .article_max = NNTP_ARTICLE_MAX_BYTES };
	struct article a, b;
	enum article_err e[2], again;
	char other[NNTP_MSGID_MAX_BYTES + 1];
	int transit;

	for (transit = 0; transit <= 1; transit++) {
		lim.transit = transit;
		lim.expect_msgid = NULL;
		lim.expect_msgid_len = 0;
		e[transit] = article_parse(t, size, &lim, &a);
		CHECK((unsigned)e[transit] < ART_ERR_MAX);
		CHECK(article_reason(e[transit]) != NULL && article_strerror(e[transit]) != NULL);
		again = article_parse(t, size, &lim, &b);
		CHECK(again == e[transit]);
		if (e[transit] != ART_OK)
			continue;
		CHECK(memcmp(&a, &b, sizeof(a)) == 0);
		fz_check_ok(t, size, &a, transit);
		if (transit && a.message_id.len > 0) {
			/* Its own Message-ID is the one IHAVE would name. */
			lim.expect_msgid = (const char *)t + a.message_id.off;
			lim.expect_msgid_len = a.message_id.len;
			CHECK(article_parse(t, size, &lim, &b) == ART_OK);
			memcpy(other, t + a.message_id.off, a.message_id.len);
			other[1] ^= 1;
			lim.expect_msgid = other;
			CHECK(article_parse(t, size, &lim, &b) == ART_MESSAGE_ID_MISMATCH);
		}
	}
	/* POST asks for less than a feed. */
	if (e[1] == ART_OK)
		CHECK(e[0] == ART_OK);
	CHECK(memcmp(t, data, size) == 0);
	free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t built[4 * 65536];
	const uint8_t *p = data, *end = data + size, *lf, *v;
	size_t n = 0, k, i;

	if (size > NNTP_ARTICLE_MAX_BYTES)
		return 0;
	fz_parse(data, size);
	fz_validators(data, size);

	/* The same bytes as field values and a body. */
	for (i = 0; i < FZ_NNAMES; i++) {
		lf = memchr(p, '\n', (size_t)(end - p));
		k = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);
		v = p;
		p = lf != NULL ? lf + 1 : end;
		fz_validators(v, k);
		if (k == 1 && v[0] == '-')
			continue;
		if (k == 0) {
			v = (const uint8_t *)fz_defaults[i];
			k = strlen(fz_defaults[i]);
		}
		if (n + strlen(fz_names[i]) + 4 + k > sizeof(built))
			return 0;
		n += (size_t)snprintf((char *)built + n, sizeof(built) - n, "%s: ", fz_names[i]);
		memcpy(built + n, v, k);
		n += k;
		memcpy(built + n, "\r\n", 2);
		n += 2;
	}
	k = (size_t)(end - p);
	if (n + 2 + k > sizeof(built))
		return 0;
	memcpy(built + n, p, k);
	fz_parse(built, n + k);
	memmove(built + n + 2, built + n, k);
	memcpy(built + n, "\r\n", 2);
	fz_parse(built, n + 2 + k);
	return 0;
}
