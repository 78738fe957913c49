/*
 * article.c: parsing and validating one article (see article.h; RFC 5536,
 * RFC 5537, RFC 5322, RFC 3977; MS01-043, MS03-029).
 *
 * Role: the one place that decides whether the bytes of an article are
 * well-formed enough to store or relay, and that indexes its header
 * fields as offsets into the caller's buffer.  Nothing is allocated,
 * copied, kept or freed here, so a hostile article can cost time in
 * proportion to its length and nothing else.
 *
 * Interface: article_parse() walks the article once, left to right:
 *   1. len > lim->article_max (or > UINT32_MAX, the reach of a span)
 *                                          ART_TOO_BIG, before any byte
 *   2. header lines, each checked as it is reached: NUL, bare CR, bare
 *      LF, over NNTP_HEADER_LINE_MAX_BYTES, header section over
 *      NNTP_HEADER_MAX_BYTES, continuation first or bad field name,
 *      field number NNTP_HEADER_FIELDS_MAX + 1, unfolded field over
 *      NNTP_HEADER_FIELD_MAX_BYTES; when a field ends: a second copy of a
 *      singleton field, a bad Message-ID, Newsgroups, Date or
 *      Injection-Date.  The end of the text before the empty line is
 *      ART_NO_BODY_SEPARATOR.
 *   3. fields required, in this order: Message-ID (transit, or when
 *      lim->expect_msgid is set; then it must equal that argument byte
 *      for byte), Newsgroups, From, Subject, Date (transit), Path
 *      (transit).  POST may omit Message-ID, Date and Path because the
 *      injecting agent adds them (RFC 5537 3.4.1); present ones are
 *      still validated.
 *   4. body lines: NUL, bare CR, bare LF, over NNTP_BODY_LINE_MAX_BYTES.
 * The first defect found is returned; on error *out is partly filled and
 * must not be used.  lim == NULL means NNTP_ARTICLE_MAX_BYTES and transit
 * rules (the stricter ones).  article_header() finds any other field by
 * name in an article that parsed.
 *
 * Dates (article_parse_date): [day-name ","] day month year time zone
 * [CFWS], names case-insensitive, FWS (folds included) between tokens,
 * 2-digit years per RFC 5322 4.3, seconds optional and 60 allowed, zones
 * +hhmm/-hhmm (hh <= 23, mm <= 59), UT, GMT, the US names and military
 * letters (read as +0000), then comments (nested, with quoted pairs).
 * The instant must fall in 1970..9999 in UTC, so -1 is never a date.
 *
 * Spans: a value excludes "Name:", the whitespace around the value and
 * the CRLF ending the field; a folded value keeps its inner CRLFs (the
 * caller unfolds when it needs to).  A field whose value is empty counts
 * as absent for From, Subject and Path (RFC 5536 requires content), and
 * is a bad value for Message-ID, Newsgroups and Date.
 *
 * date_epoch is Injection-Date when present, else Date (RFC 5536 3.2.8:
 * Injection-Date is the server's own stamp, meant for the staleness
 * check, where Date is the poster's), else -1 (a POST without either:
 * the server stamps it).
 *
 * Limits: nntp_limits.h.  Work is O(len): every byte is looked at a
 * bounded number of times (one line scan, plus one pass over the values
 * of the few fields we validate, plus article_parse_date's single pass).
 *
 * Known weaknesses:
 *  - A final line without CRLF in the body is reported as ART_BARE_CR
 *    (its CRLF is missing); there is no separate code for it.  The
 *    protocol engine assembles articles from CRLF lines, so only a
 *    caller's bug produces one.
 *  - Newsgroup names are restricted beyond RFC 5536 3.1.4 (lowercase
 *    ASCII, digits, "+-_"), and duplicate names in Newsgroups are kept.
 *  - References, Supersedes, Expires, Path, From and Xref are indexed
 *    but not validated; Date's day-of-week is not checked against the
 *    date; zone names other than those of RFC 5322 4.3 are refused
 *    rather than read as -0000.
 *  - Header fields may carry 8-bit bytes; their encoding is not checked.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nntp/article.h"
#include "nntp/nntp_util.h"

/* How one line ended, as seen by art_line(). */
enum art_line {
	AL_OK,          /* CRLF at *eol */
	AL_NUL,
	AL_BARE_CR,
	AL_BARE_LF,
	AL_LONG,        /* more than the cap before CRLF */
	AL_EOF          /* the text ended before CRLF */
};

/* What we do with a field we know by name. */
enum art_kind {
	AK_PLAIN,
	AK_MSGID,
	AK_NEWSGROUPS,
	AK_DATE,
	AK_INJECTION_DATE
};

#define ART_NO_SPAN SIZE_MAX

struct art_field_def {
	const char *name;
	size_t name_len;
	size_t span_off;        /* offsetof(struct article, ...) or ART_NO_SPAN */
	enum art_kind kind;
};

#define ART_FIELD(n, member, kind) { n, sizeof(n) - 1, offsetof(struct article, member), kind }
#define ART_FIELD_NOSPAN(n) { n, sizeof(n) - 1, ART_NO_SPAN, AK_PLAIN }

/*
 * The singleton fields: RFC 5536 3 allows each at most once, and a second
 * copy is how conflicting values would slip past one reader and reach
 * another.  Fields not listed may repeat.
 */
static const struct art_field_def art_fields[] = {
	ART_FIELD("Message-ID", message_id, AK_MSGID),
	ART_FIELD("Newsgroups", newsgroups, AK_NEWSGROUPS),
	ART_FIELD("From", from, AK_PLAIN),
	ART_FIELD("Subject", subject, AK_PLAIN),
	ART_FIELD("Date", date, AK_DATE),
	ART_FIELD("Path", path, AK_PLAIN),
	ART_FIELD("References", references, AK_PLAIN),
	ART_FIELD("Approved", approved, AK_PLAIN),
	ART_FIELD("Control", control, AK_PLAIN),
	ART_FIELD("Distribution", distribution, AK_PLAIN),
	ART_FIELD("Xref", xref, AK_PLAIN),
	ART_FIELD("Lines", lines_hdr, AK_PLAIN),
	ART_FIELD("Supersedes", supersedes, AK_PLAIN),
	ART_FIELD("Expires", expires, AK_PLAIN),
	ART_FIELD("Injection-Date", injection_date, AK_INJECTION_DATE),
	ART_FIELD_NOSPAN("Followup-To"),
	ART_FIELD_NOSPAN("Organization"),
	ART_FIELD_NOSPAN("Sender"),
};

#define ART_NFIELDS (sizeof(art_fields) / sizeof(art_fields[0]))

/* Indexes into art_fields that article_parse looks at afterwards. */
enum { AF_MSGID, AF_NEWSGROUPS, AF_FROM, AF_SUBJECT, AF_DATE, AF_PATH };

/* The field being read: from its first line to the CR of its last. */
struct art_cur {
	size_t name_off, name_len;
	size_t value_off;       /* just after the colon */
	size_t end;             /* CR of the last line */
	size_t unfolded;        /* bytes without the fold CRLFs */
};

static const char *const art_text[ART_ERR_MAX] = {
	[ART_OK] = "article accepted",
	[ART_TOO_BIG] = "article too big",
	[ART_NO_BODY_SEPARATOR] = "no empty line after the header",
	[ART_HEADER_LINE_TOO_LONG] = "header line too long",
	[ART_HEADER_TOO_BIG] = "header or header field too big",
	[ART_TOO_MANY_HEADERS] = "too many header fields",
	[ART_BAD_HEADER_SYNTAX] = "malformed header field",
	[ART_NUL] = "NUL byte in article",
	[ART_BARE_CR] = "CR without LF (or line without CRLF)",
	[ART_BARE_LF] = "LF without CR",
	[ART_MISSING_MESSAGE_ID] = "missing Message-ID header",
	[ART_BAD_MESSAGE_ID] = "malformed Message-ID header",
	[ART_MISSING_NEWSGROUPS] = "missing Newsgroups header",
	[ART_BAD_NEWSGROUPS] = "malformed Newsgroups header",
	[ART_TOO_MANY_GROUPS] = "too many newsgroups",
	[ART_MISSING_FROM] = "missing From header",
	[ART_MISSING_SUBJECT] = "missing Subject header",
	[ART_MISSING_DATE] = "missing Date header",
	[ART_BAD_DATE] = "malformed Date or Injection-Date header",
	[ART_MISSING_PATH] = "missing Path header",
	[ART_DUPLICATE_HEADER] = "duplicate header field",
	[ART_MESSAGE_ID_MISMATCH] = "Message-ID differs from the command's",
	[ART_BODY_LINE_TOO_LONG] = "body line too long",
};

/* Stats keys: snake_case, at most 23 bytes so they fit fixed counters. */
static const char *const art_reasons[ART_ERR_MAX] = {
	[ART_OK] = "ok",
	[ART_TOO_BIG] = "too_big",
	[ART_NO_BODY_SEPARATOR] = "no_body_separator",
	[ART_HEADER_LINE_TOO_LONG] = "header_line_too_long",
	[ART_HEADER_TOO_BIG] = "header_too_big",
	[ART_TOO_MANY_HEADERS] = "too_many_headers",
	[ART_BAD_HEADER_SYNTAX] = "bad_header_syntax",
	[ART_NUL] = "nul",
	[ART_BARE_CR] = "bare_cr",
	[ART_BARE_LF] = "bare_lf",
	[ART_MISSING_MESSAGE_ID] = "missing_message_id",
	[ART_BAD_MESSAGE_ID] = "bad_message_id",
	[ART_MISSING_NEWSGROUPS] = "missing_newsgroups",
	[ART_BAD_NEWSGROUPS] = "bad_newsgroups",
	[ART_TOO_MANY_GROUPS] = "too_many_groups",
	[ART_MISSING_FROM] = "missing_from",
	[ART_MISSING_SUBJECT] = "missing_subject",
	[ART_MISSING_DATE] = "missing_date",
	[ART_BAD_DATE] = "bad_date",
	[ART_MISSING_PATH] = "missing_path",
	[ART_DUPLICATE_HEADER] = "duplicate_header",
	[ART_MESSAGE_ID_MISMATCH] = "message_id_mismatch",
	[ART_BODY_LINE_TOO_LONG] = "body_line_too_long",
};

const char *
article_strerror(enum article_err e)
{
	if ((unsigned)e >= ART_ERR_MAX || art_text[e] == NULL)
		return "unknown article error";
	return art_text[e];
}

const char *
article_reason(enum article_err e)
{
	if ((unsigned)e >= ART_ERR_MAX || art_reasons[e] == NULL)
		return "unknown";
	return art_reasons[e];
}

static int
art_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Folding white space as it can appear inside a value already checked
 * for bare CR and LF: SP, HTAB and the CRLF of a fold. */
static int
art_fws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
art_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
art_casecmp(const uint8_t *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (art_lower(a[i]) != art_lower((unsigned char)b[i]))
			return 1;
	return 0;
}

/*
 * Finds the CRLF ending the line at pos, looking at no more than cap
 * bytes of content: the first NUL, bare CR or bare LF ends the search, so
 * the defect reported is the first one in the text.
 */
static enum art_line
art_line(const uint8_t *t, size_t pos, size_t len, size_t cap, size_t *eol)
{
	size_t i;
	uint8_t c;

	for (i = pos; i < len; i++) {
		c = t[i];
		if (c == '\r') {
			if (i + 1 < len && t[i + 1] == '\n') {
				*eol = i;
				return AL_OK;
			}
			return AL_BARE_CR;
		}
		if (c == '\n')
			return AL_BARE_LF;
		if (c == '\0')
			return AL_NUL;
		if (i - pos >= cap)
			return AL_LONG;
	}
	return AL_EOF;
}

static enum article_err
art_line_err(enum art_line l, enum article_err too_long, enum article_err eof)
{
	switch (l) {
	case AL_NUL:
		return ART_NUL;
	case AL_BARE_CR:
		return ART_BARE_CR;
	case AL_BARE_LF:
		return ART_BARE_LF;
	case AL_LONG:
		return too_long;
	case AL_EOF:
		return eof;
	case AL_OK:
		break;
	}
	return ART_OK;
}

/* [off, end) without surrounding folding white space. */
static struct span
art_trim(const uint8_t *t, size_t off, size_t end)
{
	struct span s;

	while (off < end && art_fws(t[off]))
		off++;
	while (end > off && art_fws(t[end - 1]))
		end--;
	s.off = (uint32_t)off;
	s.len = (uint32_t)(end - off);
	return s;
}

/*
 * RFC 5536 3.1.4: newsgroup-list = [FWS] newsgroup-name
 * *([FWS] "," [FWS] newsgroup-name) [FWS].  Empty elements are errors.
 */
static enum article_err
art_newsgroups(const uint8_t *t, struct span v, struct article *out)
{
	size_t p = v.off, end = (size_t)v.off + v.len, start;

	out->ngroups = 0;
	if (v.len == 0)
		return ART_BAD_NEWSGROUPS;
	for (;;) {
		while (p < end && art_fws(t[p]))
			p++;
		start = p;
		while (p < end && t[p] != ',' && !art_fws(t[p]))
			p++;
		if (p == start)
			return ART_BAD_NEWSGROUPS;
		if (out->ngroups == NNTP_GROUPS_PER_ARTICLE_MAX)
			return ART_TOO_MANY_GROUPS;
		if (!article_group_valid((const char *)t + start, p - start))
			return ART_BAD_NEWSGROUPS;
		out->groups[out->ngroups].off = (uint32_t)start;
		out->groups[out->ngroups].len = (uint32_t)(p - start);
		out->ngroups++;
		while (p < end && art_fws(t[p]))
			p++;
		if (p == end)
			return ART_OK;
		if (t[p] != ',')
			return ART_BAD_NEWSGROUPS;
		p++;
	}
}

/* The field in *cur has ended: index it if we know it. */
static enum article_err
art_field_end(const uint8_t *t, const struct art_cur *cur, unsigned *seen, struct article *out,
              int64_t *date, int64_t *inj)
{
	const struct art_field_def *d;
	struct span v;
	enum article_err e;
	size_t i;

	for (i = 0; i < ART_NFIELDS; i++) {
		d = &art_fields[i];
		if (d->name_len == cur->name_len && art_casecmp(t + cur->name_off, d->name, d->name_len) == 0)
			break;
	}
	if (i == ART_NFIELDS)
		return ART_OK;
	if (*seen & (1u << i))
		return ART_DUPLICATE_HEADER;
	*seen |= 1u << i;
	v = art_trim(t, cur->value_off, cur->end);
	if (d->span_off != ART_NO_SPAN)
		memcpy((char *)out + d->span_off, &v, sizeof(v));
	switch (d->kind) {
	case AK_MSGID:
		if (!article_msgid_valid((const char *)t + v.off, v.len))
			return ART_BAD_MESSAGE_ID;
		break;
	case AK_NEWSGROUPS:
		e = art_newsgroups(t, v, out);
		if (e != ART_OK)
			return e;
		break;
	case AK_DATE:
		*date = article_parse_date((const char *)t + v.off, v.len);
		if (*date < 0)
			return ART_BAD_DATE;
		break;
	case AK_INJECTION_DATE:
		*inj = article_parse_date((const char *)t + v.off, v.len);
		if (*inj < 0)
			return ART_BAD_DATE;
		break;
	case AK_PLAIN:
		break;
	}
	return ART_OK;
}

static int
art_is_seen(unsigned seen, unsigned idx)
{
	return (seen & (1u << idx)) != 0;
}

/* Field name: printable US-ASCII except ':' (RFC 5322 2.2, ftext). */
static int
art_ftext(uint8_t c)
{
	return c >= 33 && c <= 126 && c != ':';
}

enum article_err
article_parse(const uint8_t *text, size_t len, const struct article_limits *lim, struct article *out)
{
	struct art_cur cur = { 0, 0, 0, 0, 0 };
	size_t pos = 0, eol = 0, n, i, article_max = NNTP_ARTICLE_MAX_BYTES;
	unsigned seen = 0;
	int64_t date = -1, inj = -1;
	int infield = 0, transit = 1;
	enum art_line l;
	enum article_err e;

	memset(out, 0, sizeof(*out));
	out->date_epoch = -1;
	/* Without limits, judge as strictly as a feed would be. */
	if (lim != NULL) {
		article_max = lim->article_max;
		transit = lim->transit;
	}
	/* Before any byte is read: the work is bounded by article_max. */
	if (len > article_max || len > UINT32_MAX)
		return ART_TOO_BIG;
	if (text == NULL && len > 0)
		return ART_NO_BODY_SEPARATOR;

	/* The header section, a physical line at a time. */
	for (;;) {
		l = art_line(text, pos, len, NNTP_HEADER_LINE_MAX_BYTES, &eol);
		e = art_line_err(l, ART_HEADER_LINE_TOO_LONG, ART_NO_BODY_SEPARATOR);
		if (e != ART_OK)
			return e;
		if (eol == pos)
			break; /* the empty line */
		if (eol + 2 > NNTP_HEADER_MAX_BYTES)
			return ART_HEADER_TOO_BIG;
		n = eol - pos;
		if (art_wsp(text[pos])) {
			if (!infield)
				return ART_BAD_HEADER_SYNTAX;
			cur.unfolded += n;
			cur.end = eol;
		} else {
			if (infield) {
				e = art_field_end(text, &cur, &seen, out, &date, &inj);
				if (e != ART_OK)
					return e;
			}
			if (out->nfields == NNTP_HEADER_FIELDS_MAX)
				return ART_TOO_MANY_HEADERS;
			out->nfields++;
			for (i = pos; i < eol && art_ftext(text[i]); i++)
				;
			if (i == pos || i == eol || text[i] != ':')
				return ART_BAD_HEADER_SYNTAX;
			cur.name_off = pos;
			cur.name_len = i - pos;
			cur.value_off = i + 1;
			cur.end = eol;
			cur.unfolded = n;
			infield = 1;
		}
		if (cur.unfolded > NNTP_HEADER_FIELD_MAX_BYTES)
			return ART_HEADER_TOO_BIG;
		pos = eol + 2;
	}
	if (infield) {
		e = art_field_end(text, &cur, &seen, out, &date, &inj);
		if (e != ART_OK)
			return e;
	}
	out->header.off = 0;
	out->header.len = (uint32_t)pos;
	out->body.off = (uint32_t)(pos + 2);
	out->body.len = (uint32_t)(len - (pos + 2));

	/* Required fields. */
	if (!art_is_seen(seen, AF_MSGID)) {
		if (transit || (lim != NULL && lim->expect_msgid != NULL))
			return ART_MISSING_MESSAGE_ID;
	} else if (lim != NULL && lim->expect_msgid != NULL) {
		if (lim->expect_msgid_len != out->message_id.len ||
		    memcmp(lim->expect_msgid, text + out->message_id.off, out->message_id.len) != 0)
			return ART_MESSAGE_ID_MISMATCH;
	}
	if (!art_is_seen(seen, AF_NEWSGROUPS))
		return ART_MISSING_NEWSGROUPS;
	if (out->from.len == 0)
		return ART_MISSING_FROM;
	if (out->subject.len == 0)
		return ART_MISSING_SUBJECT;
	if (transit && !art_is_seen(seen, AF_DATE))
		return ART_MISSING_DATE;
	if (transit && out->path.len == 0)
		return ART_MISSING_PATH;
	out->date_epoch = inj >= 0 ? inj : date;

	/* The body. */
	pos += 2;
	while (pos < len) {
		l = art_line(text, pos, len, NNTP_BODY_LINE_MAX_BYTES, &eol);
		e = art_line_err(l, ART_BODY_LINE_TOO_LONG, ART_BARE_CR);
		if (e != ART_OK)
			return e;
		out->lines++;
		pos = eol + 2;
	}
	return ART_OK;
}

/*
 * RFC 5536 3.1.3 / RFC 3977 3.6, kept practical: "<", printable US-ASCII
 * without "<" or ">", ">" last, and an "@" with something on both sides.
 * The last "@" is taken because id-right cannot hold one while a quoted
 * id-left can.
 */
int
article_msgid_valid(const char *p, size_t len)
{
	size_t i, at = 0;
	unsigned char c;

	if (p == NULL || len < 5 || len > NNTP_MSGID_MAX_BYTES)
		return 0;
	if (p[0] != '<' || p[len - 1] != '>')
		return 0;
	for (i = 1; i < len - 1; i++) {
		c = (unsigned char)p[i];
		if (c < 33 || c > 126 || c == '<' || c == '>')
			return 0;
		if (c == '@')
			at = i;
	}
	return at > 1 && at < len - 2;
}

static int
art_group_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '_' || c == '-';
}

int
article_group_valid(const char *p, size_t len)
{
	size_t i;
	unsigned char c, prev = '.';

	if (p == NULL || len == 0 || len > NNTP_GROUP_MAX_BYTES)
		return 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)p[i];
		if (c == '.') {
			if (prev == '.')
				return 0; /* leading dot or ".." */
		} else if (!art_group_char(c)) {
			return 0;
		}
		prev = c;
	}
	return prev != '.';
}

/* ---- dates ---- */

#define ART_YEAR_MIN 1970
#define ART_YEAR_MAX 9999
#define ART_EPOCH_MAX 253402300799LL /* 9999-12-31 23:59:59 UTC */

struct art_cursor {
	const unsigned char *p, *end;
};

/* Skips FWS; returns how many bytes it skipped. */
static size_t
date_ws(struct art_cursor *c)
{
	const unsigned char *start = c->p;

	while (c->p < c->end && art_fws(*c->p))
		c->p++;
	return (size_t)(c->p - start);
}

/* Up to max digits; returns how many were read, 0 if none. More than max
 * digits in a row reads none, so "00123" cannot pass for a 4-digit year. */
static size_t
date_num(struct art_cursor *c, size_t max, int *val)
{
	size_t n = 0;
	int v = 0;

	while (c->p + n < c->end && c->p[n] >= '0' && c->p[n] <= '9') {
		if (n == max)
			return 0;
		v = v * 10 + (c->p[n] - '0');
		n++;
	}
	c->p += n;
	*val = v;
	return n;
}

/* A run of letters, at most max of them; its length or 0. */
static size_t
date_word(struct art_cursor *c, size_t max, const unsigned char **w)
{
	size_t n = 0;
	int ch;

	*w = c->p;
	while (c->p + n < c->end) {
		ch = art_lower(c->p[n]);
		if (ch < 'a' || ch > 'z')
			break;
		if (n == max)
			return 0;
		n++;
	}
	c->p += n;
	return n;
}

/* Index of w (case-insensitive) in a table of 3-letter names, or -1. */
static int
date_name(const unsigned char *w, size_t n, const char *const *tab, int ntab)
{
	int i;

	if (n != 3)
		return -1;
	for (i = 0; i < ntab; i++)
		if (art_casecmp(w, tab[i], 3) == 0)
			return i;
	return -1;
}

/* RFC 5322 4.3 obs-zone, in minutes east of UTC; 1 if known. */
static int
date_zone_name(const unsigned char *w, size_t n, int *minutes)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {
		{ "ut", 0 }, { "gmt", 0 }, { "est", -5 }, { "edt", -4 }, { "cst", -6 },
		{ "cdt", -5 }, { "mst", -7 }, { "mdt", -6 }, { "pst", -8 }, { "pdt", -7 },
	};
	size_t i;
	int ch;

	if (n == 1) {
		/* Military zones were defined with the wrong sign in RFC 822;
		 * RFC 5322 4.3 says to read them as -0000.  "J" is not one. */
		ch = art_lower(w[0]);
		if (ch == 'j')
			return 0;
		*minutes = 0;
		return 1;
	}
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strlen(zones[i].name) == n && art_casecmp(w, zones[i].name, n) == 0) {
			*minutes = zones[i].hours * 60;
			return 1;
		}
	}
	return 0;
}

/* CFWS after the zone: white space and comments, nested, with quoted
 * pairs; a depth counter instead of recursion.  1 if the text ends. */
static int
date_tail(struct art_cursor *c)
{
	size_t depth;

	for (;;) {
		date_ws(c);
		if (c->p == c->end)
			return 1;
		if (*c->p != '(')
			return 0;
		depth = 0;
		do {
			if (c->p == c->end)
				return 0;
			if (*c->p == '\\') {
				if (++c->p == c->end)
					return 0;
			} else if (*c->p == '(') {
				depth++;
			} else if (*c->p == ')') {
				depth--;
			}
			c->p++;
		} while (depth > 0);
	}
}

int64_t
article_parse_date(const char *p, size_t len)
{
	static const char *const days[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
	static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
		                              "jul", "aug", "sep", "oct", "nov", "dec" };
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct art_cursor c;
	const unsigned char *w;
	size_t n;
	int day, mon, year, hh, mm, ss = 0, zh, zone;
	int64_t t;

	if (p == NULL)
		return -1;
	c.p = (const unsigned char *)p;
	c.end = c.p + len;
	date_ws(&c);
	/* [ day-of-week "," ] */
	if (c.p < c.end && !(*c.p >= '0' && *c.p <= '9')) {
		n = date_word(&c, 3, &w);
		if (date_name(w, n, days, 7) < 0)
			return -1;
		date_ws(&c);
		if (c.p == c.end || *c.p != ',')
			return -1;
		c.p++;
		date_ws(&c);
	}
	/* day month year */
	if (date_num(&c, 2, &day) == 0 || date_ws(&c) == 0)
		return -1;
	n = date_word(&c, 3, &w);
	mon = date_name(w, n, months, 12);
	if (mon < 0 || date_ws(&c) == 0)
		return -1;
	n = date_num(&c, 4, &year);
	if (n == 2)
		year += year < 50 ? 2000 : 1900; /* RFC 5322 4.3 */
	else if (n != 4)
		return -1;
	if (date_ws(&c) == 0)
		return -1;
	if (year < ART_YEAR_MIN || year > ART_YEAR_MAX)
		return -1;
	if (day < 1 || day > mdays[mon] + (mon == 1 && nntp_is_leap(year)))
		return -1;
	/* hour ":" minute [ ":" second ] */
	if (date_num(&c, 2, &hh) != 2 || c.p == c.end || *c.p++ != ':')
		return -1;
	if (date_num(&c, 2, &mm) != 2)
		return -1;
	if (c.p < c.end && *c.p == ':') {
		c.p++;
		if (date_num(&c, 2, &ss) != 2)
			return -1;
	}
	/* 60: a leap second (RFC 5322 3.3). */
	if (hh > 23 || mm > 59 || ss > 60)
		return -1;
	if (date_ws(&c) == 0 || c.p == c.end)
		return -1;
	/* zone */
	if (*c.p == '+' || *c.p == '-') {
		int sign = *c.p++ == '-' ? -1 : 1;

		if (date_num(&c, 4, &zh) != 4 || zh / 100 > 23 || zh % 100 > 59)
			return -1;
		zone = sign * (zh / 100 * 60 + zh % 100);
	} else {
		n = date_word(&c, 3, &w);
		if (n == 0 || !date_zone_name(w, n, &zone))
			return -1;
	}
	if (!date_tail(&c))
		return -1;
	t = nntp_days_from_civil(year, mon + 1, day) * 86400 + (int64_t)hh * 3600 + mm * 60 + ss - (int64_t)zone * 60;
	/* The instant itself must lie in 1970..9999 UTC: before the epoch
	 * (by the zone) would make -1 ambiguous, and 9999-12-31 23:59:60 or
	 * a negative zone on the last day would fall in year 10000. */
	return t < 0 || t > ART_EPOCH_MAX ? -1 : t;
}

/* ---- lookup ---- */

struct span
article_header(const uint8_t *text, const struct article *a, const char *name)
{
	struct span none = { 0, 0 };
	size_t pos, end, nlen, eol, vend;
	const uint8_t *lf;

	if (text == NULL || a == NULL || name == NULL)
		return none;
	nlen = strlen(name);
	if (nlen == 0)
		return none;
	pos = a->header.off;
	end = (size_t)a->header.off + a->header.len;
	while (pos < end) {
		lf = memchr(text + pos, '\n', end - pos);
		eol = lf != NULL ? (size_t)(lf - text) + 1 : end;
		if (!art_wsp(text[pos]) && eol - pos > nlen && text[pos + nlen] == ':' &&
		    art_casecmp(text + pos, name, nlen) == 0) {
			/* Take in the continuation lines. */
			vend = eol;
			while (vend < end && art_wsp(text[vend])) {
				lf = memchr(text + vend, '\n', end - vend);
				vend = lf != NULL ? (size_t)(lf - text) + 1 : end;
			}
			return art_trim(text, pos + nlen + 1, vend);
		}
		pos = eol;
	}
	return none;
}
