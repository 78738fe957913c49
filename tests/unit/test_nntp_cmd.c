/* test_nntp_cmd.c: the pure helpers of the NNTP engine (src/nntp/nntp_util.c):
 * command splitting, article numbers and ranges, NEWGROUPS/NEWNEWS dates,
 * the DATE format and address prefixes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "nntp/nntp_util.h"

static void
test_split(void **state)
{
	char line[] = "  GROUP\t local.test  ";
	char *argv[4];
	char many[] = "a b c d e";

	assert_int_equal(nntp_split(line, argv, 4), 2);
	assert_string_equal(argv[0], "GROUP");
	assert_string_equal(argv[1], "local.test");
	assert_int_equal(nntp_split(many, argv, 4), -1);
	line[0] = '\0';
	assert_int_equal(nntp_split(line, argv, 4), 0);
}

static void
test_numbers(void **state)
{
	uint64_t v;

	assert_int_equal(nntp_parse_number("1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(nntp_parse_number("0001", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(nntp_parse_number("0", &v), -1);
	assert_int_equal(nntp_parse_number("", &v), -1);
	assert_int_equal(nntp_parse_number("-1", &v), -1);
	assert_int_equal(nntp_parse_number("1x", &v), -1);
	assert_int_equal(nntp_parse_number("9223372036854775807", &v), 0);
	assert_true(v == (uint64_t)INT64_MAX);
	/* One past 2^63-1, and an absurd length: refused, never wrapped. */
	assert_int_equal(nntp_parse_number("9223372036854775808", &v), -1);
	assert_int_equal(nntp_parse_number("99999999999999999999999", &v), -1);
}

static void
test_ranges(void **state)
{
	uint64_t lo, hi;

	assert_int_equal(nntp_parse_range("5", &lo, &hi), 0);
	assert_true(lo == 5 && hi == 5);
	assert_int_equal(nntp_parse_range("5-", &lo, &hi), 0);
	assert_true(lo == 5 && hi == NNTP_ARTNUM_MAX);
	assert_int_equal(nntp_parse_range("5-9", &lo, &hi), 0);
	assert_true(lo == 5 && hi == 9);
	/* An empty range is valid syntax (RFC 3977 3.1). */
	assert_int_equal(nntp_parse_range("9-5", &lo, &hi), 0);
	assert_true(lo == 9 && hi == 5);
	assert_int_equal(nntp_parse_range("-5", &lo, &hi), -1);
	assert_int_equal(nntp_parse_range("1-2-3", &lo, &hi), -1);
	assert_int_equal(nntp_parse_range("x-y", &lo, &hi), -1);
	assert_int_equal(nntp_parse_range("", &lo, &hi), -1);
	assert_int_equal(nntp_parse_range("1-99999999999999999999", &lo, &hi), -1);
}

static void
test_dates(void **state)
{
	int64_t t, now = 1795436278;   /* 2026-11-23 */
	char d[15];

	assert_int_equal(nntp_parse_datetime("20260101", "000000", NULL, now, &t), 0);
	assert_true(t == 1767225600);
	assert_int_equal(nntp_parse_datetime("20260101", "000000", "gmt", now, &t), 0);
	assert_true(t == 1767225600);
	assert_int_equal(nntp_parse_datetime("20260101", "000000", "PST", now, &t), -1);
	/* RFC 3977 7.3.2: yy not after this year's -> this century, else the last. */
	assert_int_equal(nntp_parse_datetime("260101", "000000", NULL, now, &t), 0);
	assert_true(t == 1767225600);
	assert_int_equal(nntp_parse_datetime("990101", "000000", NULL, now, &t), 0);
	assert_true(t == 915148800);
	assert_int_equal(nntp_parse_datetime("20240229", "235959", NULL, now, &t), 0);
	assert_int_equal(nntp_parse_datetime("20230229", "000000", NULL, now, &t), -1);
	assert_int_equal(nntp_parse_datetime("20261301", "000000", NULL, now, &t), -1);
	assert_int_equal(nntp_parse_datetime("20260101", "250000", NULL, now, &t), -1);
	assert_int_equal(nntp_parse_datetime("2026011", "000000", NULL, now, &t), -1);
	assert_int_equal(nntp_parse_datetime("20260101", "00000", NULL, now, &t), -1);
	assert_int_equal(nntp_parse_datetime("2026o101", "000000", NULL, now, &t), -1);
	nntp_format_date(1767225600, d);
	assert_string_equal(d, "20260101000000");
}

static void
sa4(struct sockaddr_storage *ss, const char *a)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof *ss);
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, a, &sin->sin_addr), 1);
}

static void
sa6(struct sockaddr_storage *ss, const char *a)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	sin6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, a, &sin6->sin6_addr), 1);
}

static void
test_acl(void **state)
{
	char *items[] = { "127.0.0.0/8", "::1/128", "10.1.2.3", "fd00::/8" };
	char *any[] = { "*" };
	char *bad1[] = { "127.0.0.0/33" };
	char *bad2[] = { "nonsense" };
	char *bad3[] = { "::1/" };
	struct nntp_acl_list l;
	struct sockaddr_storage ss;
	char err[128];

	assert_int_equal(nntp_acl_parse(items, 4, &l, err, sizeof err), 0);
	sa4(&ss, "127.1.2.3");
	assert_true(nntp_acl_match(&l, &ss));
	sa4(&ss, "128.0.0.1");
	assert_false(nntp_acl_match(&l, &ss));
	sa4(&ss, "10.1.2.3");
	assert_true(nntp_acl_match(&l, &ss));
	sa4(&ss, "10.1.2.4");
	assert_false(nntp_acl_match(&l, &ss));
	sa6(&ss, "::1");
	assert_true(nntp_acl_match(&l, &ss));
	sa6(&ss, "::2");
	assert_false(nntp_acl_match(&l, &ss));
	sa6(&ss, "fdab::1");
	assert_true(nntp_acl_match(&l, &ss));
	/* A v4-mapped v6 peer is its IPv4 address. */
	sa6(&ss, "::ffff:127.0.0.1");
	assert_true(nntp_acl_match(&l, &ss));
	assert_int_equal(nntp_acl_parse(any, 1, &l, err, sizeof err), 0);
	sa6(&ss, "2001:db8::1");
	assert_true(nntp_acl_match(&l, &ss));
	assert_int_equal(nntp_acl_parse(items, 0, &l, err, sizeof err), 0);
	assert_false(nntp_acl_match(&l, &ss));
	assert_int_equal(nntp_acl_parse(bad1, 1, &l, err, sizeof err), -1);
	assert_non_null(strstr(err, "127.0.0.0/33"));
	assert_int_equal(nntp_acl_parse(bad2, 1, &l, err, sizeof err), -1);
	assert_int_equal(nntp_acl_parse(bad3, 1, &l, err, sizeof err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_acl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
