/*
 * nntp_util.h: pure helpers of the NNTP protocol engine (no I/O, no
 * regions), split out so that they can be unit-tested: command-line
 * splitting, article numbers and ranges (RFC 3977 6.1.4 / 8.3), the
 * NEWGROUPS/NEWNEWS date (RFC 3977 7.3.2), and the DATE format.
 */
#ifndef HF_NNTP_UTIL_H
#define HF_NNTP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* RFC 3977 6: article numbers are 1..2^31-1 for compatibility, but the
 * syntax allows up to 16 digits; we accept up to 2^63-1 and never assign
 * numbers a client cannot hold. */
#define NNTP_ARTNUM_MAX  INT64_MAX

/* Splits line (modified in place) at runs of space/tab.  Up to max words
 * into argv; -1 if there are more, else the count. */
int nntp_split(char *line, char **argv, int max);

/* A decimal article number, 1..NNTP_ARTNUM_MAX (at most 16 digits are
 * read; leading zeros allowed).  0 or -1. */
int nntp_parse_number(const char *s, uint64_t *out);

/* "n", "n-", "n-m" (RFC 3977 3.1 range).  "n-" gives hi = NNTP_ARTNUM_MAX.
 * lo > hi is valid syntax (an empty range).  0 or -1. */
int nntp_parse_range(const char *s, uint64_t *lo, uint64_t *hi);

/* RFC 3977 7.3.2: date "yymmdd" or "yyyymmdd", time "hhmmss", gmt is the
 * optional third argument (NULL or "GMT", case-insensitive); now is the
 * current time (for two-digit years).  Local time is taken as UTC, which
 * is what a server without a configured zone can do.  0 or -1. */
int nntp_parse_datetime(const char *date, const char *time, const char *gmt, int64_t now, int64_t *out);

/* "yyyymmddhhmmss" (RFC 3977 7.1), out must hold 15 bytes. */
void nntp_format_date(int64_t t, char *out);

/* Case-insensitive compare of an ASCII word. */
int nntp_word_eq(const char *a, const char *b);

/* Address prefixes: "a.b.c.d/n", "v6addr/n", a bare address, or "*". */
#define NNTP_ACL_MAX 32
struct nntp_acl {
	uint8_t addr[16];     /* IPv4 as ::ffff:a.b.c.d */
	unsigned prefix;      /* bits over the 16-byte form */
	int any;
};
struct nntp_acl_list {
	struct nntp_acl v[NNTP_ACL_MAX];
	size_t n;
};
/* 0, or -1 with a message naming the bad item. */
int nntp_acl_parse(char *const *items, size_t nitems, struct nntp_acl_list *out, char *err, size_t errlen);
/* 1 if ss (AF_INET or AF_INET6) is inside one of the prefixes. */
int nntp_acl_match(const struct nntp_acl_list *l, const struct sockaddr_storage *ss);

/* Calendar arithmetic shared by the article Date parser and NEWNEWS/
 * NEWGROUPS: leap years and days since 1970-01-01 (proleptic Gregorian). */
int nntp_is_leap(int64_t y);
int64_t nntp_days_from_civil(int64_t y, int m, int d);

#endif
