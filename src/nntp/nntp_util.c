/*
 * nntp_util.c: pure helpers of the NNTP engine (see nntp_util.h).
 *
 * Interface: string in, numbers out; nothing allocates, nothing keeps
 * state.  Address prefixes (allow_read, allow_post, allow_feed) are
 * compared in their 16-byte form, IPv4 as v4-mapped IPv6, so one list
 * serves both families.  Limits: numbers are read digit by digit with an overflow check,
 * never with strtoull on unbounded input.  Known weakness: NEWGROUPS and
 * NEWNEWS without "GMT" are taken as UTC (the server has no local zone).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "nntp_util.h"

int
nntp_split(char *line, char **argv, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (*p == '\0')
			return n;
		if (n == max)
			return -1;
		argv[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
	}
}

static int
parse_digits(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (NNTP_ARTNUM_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int
nntp_parse_number(const char *s, uint64_t *out)
{
	uint64_t v;

	if (parse_digits(s, strlen(s), &v) != 0 || v == 0)
		return -1;
	*out = v;
	return 0;
}

int
nntp_parse_range(const char *s, uint64_t *lo, uint64_t *hi)
{
	const char *dash = strchr(s, '-');

	if (dash == NULL) {
		if (parse_digits(s, strlen(s), lo) != 0)
			return -1;
		*hi = *lo;
		return 0;
	}
	if (parse_digits(s, (size_t)(dash - s), lo) != 0)
		return -1;
	if (dash[1] == '\0') {
		*hi = NNTP_ARTNUM_MAX;
		return 0;
	}
	return parse_digits(dash + 1, strlen(dash + 1), hi);
}

static int
fixed_digits(const char *s, size_t n, int *out)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
nntp_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil): no timegm(), so TZ and the libc cannot change it. */
int64_t
nntp_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
nntp_parse_datetime(const char *date, const char *tm, const char *gmt, int64_t now, int64_t *out)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t dl = strlen(date);
	int y, mo, d, h, mi, s;

	if (gmt != NULL && strcasecmp(gmt, "GMT") != 0)
		return -1;
	if (strlen(tm) != 6 || fixed_digits(tm, 2, &h) != 0 || fixed_digits(tm + 2, 2, &mi) != 0 ||
	    fixed_digits(tm + 4, 2, &s) != 0)
		return -1;
	if (dl == 8) {
		if (fixed_digits(date, 4, &y) != 0)
			return -1;
		date += 4;
	} else if (dl == 6) {
		/* RFC 3977 7.3.2: the current century if yy is not after the
		 * current year's last two digits, else the previous one. */
		time_t t = (time_t)now;
		struct tm g;
		int cur, yy;

		if (gmtime_r(&t, &g) == NULL || fixed_digits(date, 2, &yy) != 0)
			return -1;
		cur = g.tm_year + 1900;
		y = cur - cur % 100 + yy;
		if (yy > cur % 100)
			y -= 100;
		date += 2;
	} else {
		return -1;
	}
	if (fixed_digits(date, 2, &mo) != 0 || fixed_digits(date + 2, 2, &d) != 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && nntp_is_leap(y)) || h > 23 || mi > 59 ||
	    s > 60)
		return -1;
	*out = nntp_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return 0;
}

void
nntp_format_date(int64_t t, char *out)
{
	time_t tt = (time_t)t;
	struct tm g;

	if (gmtime_r(&tt, &g) == NULL || strftime(out, 15, "%Y%m%d%H%M%S", &g) != 14)
		memcpy(out, "19700101000000", 15);
}

int
nntp_word_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* ---------------------------------------------------------------- address */

static int
to16(const struct sockaddr_storage *ss, uint8_t out[16])
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &sin->sin_addr, 4);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		return 0;
	}
	return -1;
}

int
nntp_acl_parse(char *const *items, size_t nitems, struct nntp_acl_list *out, char *err, size_t errlen)
{
	size_t i;

	memset(out, 0, sizeof *out);
	if (nitems > NNTP_ACL_MAX) {
		snprintf(err, errlen, "more than %d address prefixes", NNTP_ACL_MAX);
		return -1;
	}
	for (i = 0; i < nitems; i++) {
		struct nntp_acl *a = &out->v[out->n];
		char tmp[INET6_ADDRSTRLEN + 8];
		char *slash;
		unsigned long bits;
		struct in_addr v4;

		if (strcmp(items[i], "*") == 0) {
			a->any = 1;
			out->n++;
			continue;
		}
		if (strlen(items[i]) >= sizeof tmp)
			goto bad;
		strcpy(tmp, items[i]);
		bits = (unsigned long)-1;
		if ((slash = strchr(tmp, '/')) != NULL) {
			char *end;

			*slash = '\0';
			errno = 0;
			bits = strtoul(slash + 1, &end, 10);
			if (errno || *end || slash[1] == '\0')
				goto bad;
		}
		if (inet_pton(AF_INET, tmp, &v4) == 1) {
			memset(a->addr, 0, 10);
			a->addr[10] = a->addr[11] = 0xff;
			memcpy(a->addr + 12, &v4, 4);
			if (bits == (unsigned long)-1)
				bits = 32;
			if (bits > 32)
				goto bad;
			a->prefix = 96 + (unsigned)bits;
		} else if (inet_pton(AF_INET6, tmp, a->addr) == 1) {
			if (bits == (unsigned long)-1)
				bits = 128;
			if (bits > 128)
				goto bad;
			a->prefix = (unsigned)bits;
		} else {
			goto bad;
		}
		out->n++;
	}
	return 0;
bad:
	snprintf(err, errlen, "bad address prefix '%s' (want a.b.c.d/n, v6/n or *)", items[i]);
	return -1;
}

int
nntp_acl_match(const struct nntp_acl_list *l, const struct sockaddr_storage *ss)
{
	uint8_t a[16];
	size_t i;

	if (to16(ss, a) != 0)
		return 0;
	for (i = 0; i < l->n; i++) {
		const struct nntp_acl *e = &l->v[i];
		unsigned full = e->prefix / 8, rest = e->prefix % 8;

		if (e->any)
			return 1;
		if (memcmp(a, e->addr, full) != 0)
			continue;
		if (rest && ((a[full] ^ e->addr[full]) & (uint8_t)(0xff << (8 - rest))) != 0)
			continue;
		return 1;
	}
	return 0;
}
