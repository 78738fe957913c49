/*
 * test_addr_rate.c: unit tests for src/core/addr_rate.c.
 *
 * Time is a number passed in: nothing depends on the clock.  Covers the
 * burst, the refill per minute (and its cap), addresses kept apart (IPv4,
 * IPv4-mapped IPv6 as IPv4, IPv6 by /64), a full table giving up its
 * fullest bucket and never a spent one, "no limit", and the table's
 * memory fixed at creation.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr_rate.h"
#include "region.h"

static struct sockaddr_storage
v4(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;

	memset(&ss, 0, sizeof ss);
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, a, &sin->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage
v6(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;

	memset(&ss, 0, sizeof ss);
	sin6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, a, &sin6->sin6_addr), 1);
	return ss;
}

/* How many takes succeed in a row at time t. */
static int
drain(struct addr_rate *ar, const struct sockaddr_storage *ss, uint64_t t)
{
	int n = 0;

	while (n < 1000 && addr_rate_take(ar, ss, t))
		n++;
	return n;
}

static void
test_burst_then_rate(void **state)
{
	struct region *r = region_new(NULL, "t", 1 << 20);
	struct addr_rate *ar = addr_rate_new(r, 8, 6, 3);   /* 3 at once, then one per 10 s */
	struct sockaddr_storage a = v4("192.0.2.1");

	(void)state;
	assert_non_null(ar);
	assert_int_equal(drain(ar, &a, 1000), 3);
	assert_int_equal(addr_rate_take(ar, &a, 10999), 0);   /* 9.999 s later: not yet */
	assert_int_equal(addr_rate_take(ar, &a, 11000), 1);     /* 10 s: one */
	assert_int_equal(addr_rate_take(ar, &a, 11000), 0);
	assert_int_equal(drain(ar, &a, 31000), 2);              /* 20 s more: two */
	assert_int_equal(drain(ar, &a, 10000000), 3);           /* a long pause: the burst, no more */
	assert_int_equal(addr_rate_used(ar), 1);
	region_release(r);
}

static void
test_addresses_apart(void **state)
{
	struct region *r = region_new(NULL, "t", 1 << 20);
	struct addr_rate *ar = addr_rate_new(r, 8, 1, 2);
	struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2"), am = v6("::ffff:192.0.2.1");
	struct sockaddr_storage p1 = v6("2001:db8:1:2::1"), p2 = v6("2001:db8:1:2:ffff::9"),
	                        q = v6("2001:db8:1:3::1");

	(void)state;
	assert_int_equal(drain(ar, &a, 0), 2);
	assert_int_equal(drain(ar, &am, 0), 0);   /* the same IPv4 address, mapped */
	assert_int_equal(drain(ar, &b, 0), 2);
	assert_int_equal(drain(ar, &p1, 0), 2);
	assert_int_equal(drain(ar, &p2, 0), 0);   /* same /64 */
	assert_int_equal(drain(ar, &q, 0), 2);    /* the next /64 */
	assert_int_equal(addr_rate_used(ar), 4);
	region_release(r);
}

static void
test_full_table_forgets_the_fullest(void **state)
{
	struct region *r = region_new(NULL, "t", 1 << 20);
	struct addr_rate *ar = addr_rate_new(r, 4, 1, 2);
	struct sockaddr_storage spent = v4("198.51.100.1");
	char name[32];
	int i;

	(void)state;
	assert_int_equal(drain(ar, &spent, 0), 2);
	/* 3 addresses that take one each fill the table; then 100 more
	 * addresses (each taking one, so each leaves a half-full bucket)
	 * keep replacing the fullest bucket, never the spent one. */
	for (i = 0; i < 103; i++) {
		struct sockaddr_storage x;

		snprintf(name, sizeof name, "203.0.113.%d", i % 250);
		x = v4(name);
		assert_int_equal(addr_rate_take(ar, &x, 0), 1);
	}
	assert_int_equal(addr_rate_used(ar), 4);
	assert_int_equal(addr_rate_take(ar, &spent, 0), 0);
	/* 3 more addresses spend their whole burst and take the other
	 * slots: the first spent address is still remembered. */
	for (i = 0; i < 3; i++) {
		struct sockaddr_storage x;

		snprintf(name, sizeof name, "192.0.2.%d", 100 + i);
		x = v4(name);
		assert_int_equal(drain(ar, &x, 0), 2);
	}
	assert_int_equal(addr_rate_take(ar, &spent, 0), 0);   /* still remembered */
	region_release(r);
}

static void
test_charge_on_outcome(void **state)
{
	struct region *r = region_new(NULL, "t", 1 << 20);
	struct addr_rate *ar = addr_rate_new(r, 8, 6, 3);   /* one unit per 10 s */
	struct sockaddr_storage a = v4("192.0.2.7");
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		assert_int_equal(addr_rate_allow(ar, &a, 0), 1);   /* asking spends nothing */
	for (i = 0; i < 3; i++)
		addr_rate_charge(ar, &a, 0);
	assert_int_equal(addr_rate_allow(ar, &a, 0), 0);
	assert_int_equal(addr_rate_allow(ar, &a, 10000), 1);      /* one unit back */
	/* Ten failures allowed together: the debt stops at the burst (3), so
	 * from 0 units it takes 4 units' time, 40 s, to be allowed again. */
	for (i = 0; i < 10; i++)
		addr_rate_charge(ar, &a, 10000);
	assert_int_equal(addr_rate_allow(ar, &a, 49999), 0);
	assert_int_equal(addr_rate_allow(ar, &a, 50000), 1);
	assert_int_equal(addr_rate_take(ar, &a, 50000), 1);
	assert_int_equal(addr_rate_take(ar, &a, 50000), 0);
	region_release(r);
}

static void
test_no_limit(void **state)
{
	struct region *r = region_new(NULL, "t", 1 << 20);
	struct addr_rate *ar = addr_rate_new(r, 1, 0, 1);
	struct sockaddr_storage a = v4("192.0.2.1");

	(void)state;
	assert_int_equal(drain(ar, &a, 0), 1000);
	assert_int_equal(addr_rate_used(ar), 0);
	region_release(r);
}

static void
test_fixed_memory(void **state)
{
	struct region *r = region_new(NULL, "t", 4096);
	struct addr_rate *ar;
	size_t before;
	int i;

	(void)state;
	assert_null(addr_rate_new(r, 100000, 1, 1));   /* over the budget: refused */
	assert_null(addr_rate_new(r, 0, 1, 1));
	ar = addr_rate_new(r, 16, 1, 1);
	assert_non_null(ar);
	before = region_used(r);
	for (i = 0; i < 5000; i++) {
		struct sockaddr_storage x = v4("10.0.0.0");

		((struct sockaddr_in *)(void *)&x)->sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)i);
		(void)addr_rate_take(ar, &x, (uint64_t)i);
	}
	assert_int_equal(region_used(r), before);
	assert_int_equal(addr_rate_used(ar), 16);
	region_release(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_addresses_apart),
		cmocka_unit_test(test_full_table_forgets_the_fullest),
		cmocka_unit_test(test_charge_on_outcome),
		cmocka_unit_test(test_no_limit),
		cmocka_unit_test(test_fixed_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
