/*
 * article.h: parsing and validating one article (RFC 5536, RFC 5537).
 *
 * article_parse reads a complete article as received (CRLF line endings,
 * dot-stuffing already removed, no terminating "." line), checks it against
 * the limits in struct article_limits and fills struct article with
 * offsets into the caller's buffer: nothing is copied, nothing is kept,
 * nothing the caller owns is freed (MS03-029).  Every defect has its own
 * enum article_err, which the protocol maps to 441/437/439 and counts as a
 * reject reason (article_strerror gives the text and the reason name).
 */
#ifndef HF_NNTP_ARTICLE_H
#define HF_NNTP_ARTICLE_H

#include <stddef.h>
#include <stdint.h>

#include "nntp_limits.h"

enum article_err {
	ART_OK = 0,
	ART_TOO_BIG,              /* over article_max */
	ART_NO_BODY_SEPARATOR,    /* no empty line after the headers */
	ART_HEADER_LINE_TOO_LONG, /* a physical header line over NNTP_HEADER_LINE_MAX_BYTES */
	ART_HEADER_TOO_BIG,       /* header section or one unfolded field too big */
	ART_TOO_MANY_HEADERS,
	ART_BAD_HEADER_SYNTAX,    /* no colon, bad field name, continuation first */
	ART_NUL,                  /* a NUL byte anywhere */
	ART_BARE_CR,              /* a CR not followed by LF */
	ART_BARE_LF,              /* a LF not preceded by CR */
	ART_MISSING_MESSAGE_ID,
	ART_BAD_MESSAGE_ID,
	ART_MISSING_NEWSGROUPS,
	ART_BAD_NEWSGROUPS,
	ART_TOO_MANY_GROUPS,
	ART_MISSING_FROM,
	ART_MISSING_SUBJECT,
	ART_MISSING_DATE,
	ART_BAD_DATE,
	ART_MISSING_PATH,         /* required for transit (IHAVE/TAKETHIS), not for POST */
	ART_DUPLICATE_HEADER,     /* a header that must appear once appears twice */
	ART_MESSAGE_ID_MISMATCH,  /* IHAVE/TAKETHIS argument differs from the header */
	ART_BODY_LINE_TOO_LONG,
	ART_ERR_MAX
};

const char *article_strerror(enum article_err e);   /* human text for the reply */
const char *article_reason(enum article_err e);     /* short reject reason, e.g. "bad_message_id" */

struct span {
	uint32_t off;
	uint32_t len;
};

struct article_limits {
	size_t article_max;
	int transit;                 /* 1: IHAVE/TAKETHIS (Path required), 0: POST */
	/* IHAVE/TAKETHIS argument, compared byte for byte with the Message-ID
	 * header (ART_MESSAGE_ID_MISMATCH); NULL: not compared. */
	const char *expect_msgid;
	size_t expect_msgid_len;
};

struct article {
	struct span header;          /* header section, final CRLF of the last field included */
	struct span body;            /* after the empty line */
	struct span message_id;      /* "<...>" */
	struct span newsgroups;      /* raw field value, trimmed */
	struct span groups[NNTP_GROUPS_PER_ARTICLE_MAX]; /* each group name */
	size_t ngroups;
	struct span from, subject, date, path, references, approved, control, distribution, xref, lines_hdr,
	    supersedes, expires, injection_date;
	int64_t date_epoch;          /* parsed Date (or Injection-Date), seconds since 1970 */
	uint32_t lines;              /* body lines */
	uint32_t nfields;
};

/* Validates and indexes text[0..len).  ART_OK or the first defect. */
enum article_err article_parse(const uint8_t *text, size_t len, const struct article_limits *lim,
                               struct article *out);

/* Checks a message-id as it appears in a command or header: "<" id-left
 * "@" id-right ">", printable US-ASCII, no spaces, within
 * NNTP_MSGID_MAX_BYTES.  1 valid, 0 not. */
int article_msgid_valid(const char *p, size_t len);

/* Checks a newsgroup name: dot-separated components of [a-z0-9+_-],
 * within NNTP_GROUP_MAX_BYTES.  1 valid, 0 not. */
int article_group_valid(const char *p, size_t len);

/* RFC 5322 date-time (and the obsolete forms RFC 5536 tolerates) to epoch
 * seconds; -1 if not a date. */
int64_t article_parse_date(const char *p, size_t len);

/* Value of header field name (case-insensitive) within the header span,
 * unfolded length not computed: returns the raw span, or len 0 if absent. */
struct span article_header(const uint8_t *text, const struct article *a, const char *name);

#endif
