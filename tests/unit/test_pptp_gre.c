/*
 * test_pptp_gre.c: unit tests for src/pptp/gre.c (enhanced GRE, RFC 2637
 * 4.1) and src/pptp/pool.c.
 *
 * Datagrams are built here byte by byte as the raw socket delivers them
 * (IPv4 header included).  Covers: a valid data packet, ack-only packets,
 * every bad field (IP version, IHL, total length, protocol, GRE version,
 * each forbidden flag, K missing, protocol type, payload length one short
 * and one long, payload without S, neither S nor A, oversize), every
 * truncation of a valid packet, sequence numbers (first packet any
 * number, duplicates and older ones dropped, serial wrap-around),
 * acknowledgements (only for what we sent), the send window, the token
 * bucket (burst, refill by the clock value handed in, no refill without
 * time), the headers we build, and the address pool.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region.h"
#include "pptp/gre.h"
#include "pptp/pool.h"

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* IPv4 (20 bytes) + GRE with S and A as asked + payload of plen bytes. */
static size_t
mkpkt(uint8_t *d, int s, int a, uint16_t call_id, uint32_t seq, uint32_t ack, size_t plen)
{
	size_t off = 20, tot;

	memset(d, 0, 20);
	d[0] = 0x45;
	d[9] = 47;
	d[12] = 192;
	d[13] = 0;
	d[14] = 2;
	d[15] = 7;
	d[20] = 0x20 | (s ? 0x10 : 0);
	d[21] = 0x01 | (a ? 0x80 : 0);
	put16(d + 22, 0x880b);
	put16(d + 24, (uint16_t)plen);
	put16(d + 26, call_id);
	off = 28;
	if (s) {
		put32(d + off, seq);
		off += 4;
	}
	if (a) {
		put32(d + off, ack);
		off += 4;
	}
	memset(d + off, 0xab, plen);
	tot = off + plen;
	put16(d + 2, (uint16_t)tot);
	return tot;
}

static void
test_parse_valid(void **state)
{
	uint8_t d[2048];
	struct gre_pkt p;
	const char *why = NULL;
	size_t n = mkpkt(d, 1, 1, 0x1234, 7, 3, 100);

	assert_int_equal(gre_parse(d, n, &p, &why), 0);
	assert_int_equal(p.call_id, 0x1234);
	assert_true(p.has_seq);
	assert_true(p.has_ack);
	assert_int_equal(p.seq, 7);
	assert_int_equal(p.ack, 3);
	assert_int_equal(p.payload_len, 100);
	assert_ptr_equal(p.payload, d + 36);
	assert_int_equal(ntohl(p.src), 0xc0000207);

	n = mkpkt(d, 0, 1, 9, 0, 5, 0);
	assert_int_equal(gre_parse(d, n, &p, &why), 0);
	assert_false(p.has_seq);
	assert_int_equal(p.ack, 5);
	assert_int_equal(p.payload_len, 0);

	n = mkpkt(d, 1, 0, 9, 1, 0, 1);
	assert_int_equal(gre_parse(d, n, &p, &why), 0);
}

static void
expect_bad(const uint8_t *d, size_t n, const char *reason)
{
	struct gre_pkt p;
	const char *why = NULL;

	assert_int_equal(gre_parse(d, n, &p, &why), -1);
	assert_non_null(why);
	assert_string_equal(why, reason);
}

static void
test_parse_bad_fields(void **state)
{
	uint8_t d[4096];
	size_t n;
	static const uint8_t bad_flags0[] = { 0x80, 0x40, 0x08, 0x01, 0x04 };
	static const uint8_t bad_flags1[] = { 0x40, 0x20, 0x10, 0x08 };
	size_t i;

	n = mkpkt(d, 1, 1, 1, 1, 1, 10);
	d[0] = 0x65;
	expect_bad(d, n, "gre_bad_ip");
	n = mkpkt(d, 1, 1, 1, 1, 1, 10);
	d[0] = 0x44;                     /* IHL 16 bytes */
	expect_bad(d, n, "gre_bad_ip");
	n = mkpkt(d, 1, 1, 1, 1, 1, 10);
	put16(d + 2, (uint16_t)(n + 1));
	expect_bad(d, n, "gre_bad_ip");
	n = mkpkt(d, 1, 1, 1, 1, 1, 10);
	put16(d + 2, (uint16_t)(n - 1));
	expect_bad(d, n, "gre_bad_ip");
	n = mkpkt(d, 1, 1, 1, 1, 1, 10);
	d[9] = 17;
	expect_bad(d, n, "gre_bad_ip");
	n = mkpkt(d, 1, 1, 1, 1, 1, 10);
	d[21] = (uint8_t)((d[21] & ~7) | 0);   /* version 0: plain GRE */
	expect_bad(d, n, "gre_bad_version");
	for (i = 0; i < sizeof bad_flags0; i++) {
		n = mkpkt(d, 1, 1, 1, 1, 1, 10);
		d[20] |= bad_flags0[i];
		expect_bad(d, n, "gre_bad_flags");
	}
	for (i = 0; i < sizeof bad_flags1; i++) {
		n = mkpkt(d, 1, 1, 1, 1, 1, 10);
		d[21] |= bad_flags1[i];
		expect_bad(d, n, "gre_bad_flags");
	}
	n = mkpkt(d, 1, 1, 1, 1, 1, 10);
	d[20] &= (uint8_t)~0x20;               /* K missing */
	expect_bad(d, n, "gre_bad_flags");
	n = mkpkt(d, 1, 1, 1, 1, 1, 10);
	put16(d + 22, 0x0800);
	expect_bad(d, n, "gre_bad_protocol");
	n = mkpkt(d, 1, 1, 1, 1, 1, 10);
	put16(d + 24, 11);
	expect_bad(d, n, "gre_bad_length");
	n = mkpkt(d, 1, 1, 1, 1, 1, 10);
	put16(d + 24, 9);
	expect_bad(d, n, "gre_bad_length");
	/* a payload without a sequence number */
	n = mkpkt(d, 0, 1, 1, 0, 1, 0);
	d[n] = 0x55;
	put16(d + 24, 1);
	put16(d + 2, (uint16_t)(n + 1));
	expect_bad(d, n + 1, "gre_bad_length");
	/* neither S nor A: nothing to carry */
	n = mkpkt(d, 0, 0, 1, 0, 0, 0);
	expect_bad(d, n, "gre_bad_length");
	n = mkpkt(d, 1, 0, 1, 1, 0, PPTP_GRE_PAYLOAD_MAX_BYTES + 1);
	expect_bad(d, n, "gre_bad_length");
	n = mkpkt(d, 1, 0, 1, 1, 0, PPTP_GRE_PAYLOAD_MAX_BYTES);
	{
		struct gre_pkt p;
		const char *why;

		assert_int_equal(gre_parse(d, n, &p, &why), 0);
	}
}

/* Every truncation of a valid packet (with a consistent IP length) fails. */
static void
test_parse_truncations(void **state)
{
	uint8_t d[2048];
	size_t n = mkpkt(d, 1, 1, 1, 1, 1, 4), k;

	for (k = 0; k < n; k++) {
		uint8_t c[2048];
		struct gre_pkt p;
		const char *why = NULL;

		memcpy(c, d, n);
		if (k >= 4)
			put16(c + 2, (uint16_t)k);
		assert_int_equal(gre_parse(c, k, &p, &why), -1);
		assert_non_null(why);
	}
}

static void
test_sequence(void **state)
{
	struct gre_call g;
	struct gre_pkt p;

	gre_call_init(&g, 5, 8, 100, 0);
	memset(&p, 0, sizeof p);
	p.has_seq = 1;
	p.seq = 1;                            /* pptp-linux starts at 1 */
	assert_int_equal(gre_call_receive(&g, &p), 1);
	assert_int_equal(gre_call_receive(&g, &p), 0);    /* duplicate */
	p.seq = 3;
	assert_int_equal(gre_call_receive(&g, &p), 1);
	p.seq = 2;                            /* late */
	assert_int_equal(gre_call_receive(&g, &p), 0);
	assert_int_equal(g.drop_seq, 2);
	assert_int_equal(g.rx_pkts, 2);
	assert_true(g.ack_owed);

	gre_call_init(&g, 5, 8, 100, 0);
	p.seq = 0;                            /* pptpd starts at 0 */
	assert_int_equal(gre_call_receive(&g, &p), 1);
	gre_call_init(&g, 5, 8, 100, 0);
	p.seq = 0xfffffffe;
	assert_int_equal(gre_call_receive(&g, &p), 1);
	p.seq = 0xffffffff;
	assert_int_equal(gre_call_receive(&g, &p), 1);
	p.seq = 0;                            /* wraps */
	assert_int_equal(gre_call_receive(&g, &p), 1);
	p.seq = 0xffffffff;
	assert_int_equal(gre_call_receive(&g, &p), 0);
}

static void
test_ack_and_window(void **state)
{
	struct gre_call g;
	struct gre_pkt p;
	uint8_t h[PPTP_GRE_HDR_MAX_BYTES];
	int i;

	gre_call_init(&g, 5, 3, 100, 0);
	memset(&p, 0, sizeof p);
	p.has_ack = 1;
	p.ack = 0;                            /* acks nothing we sent */
	gre_call_receive(&g, &p);
	assert_int_equal(g.ack_in, 0xffffffffu);
	for (i = 0; i < 3; i++) {
		assert_true(gre_call_window_open(&g));
		gre_build(&g, h, 10);
	}
	assert_false(gre_call_window_open(&g));
	p.ack = 7;                            /* beyond what we sent: ignored */
	gre_call_receive(&g, &p);
	assert_false(gre_call_window_open(&g));
	p.ack = 1;
	gre_call_receive(&g, &p);
	assert_int_equal(g.ack_in, 1);
	assert_true(gre_call_window_open(&g));
	p.ack = 0;                            /* going back: ignored */
	gre_call_receive(&g, &p);
	assert_int_equal(g.ack_in, 1);
}

static void
test_rate(void **state)
{
	struct gre_call g;
	int i, ok = 0;

	gre_call_init(&g, 5, 8, 10, 1000);
	for (i = 0; i < 25; i++)
		ok += gre_call_rate_ok(&g, 1000);
	assert_int_equal(ok, 10);             /* one second's burst */
	assert_int_equal(g.drop_rate, 15);
	assert_int_equal(gre_call_rate_ok(&g, 1050), 0);   /* half a packet */
	assert_int_equal(gre_call_rate_ok(&g, 1100), 1);   /* 100 ms = 1 packet */
	assert_int_equal(gre_call_rate_ok(&g, 1100), 0);
	ok = 0;
	for (i = 0; i < 100; i++)
		ok += gre_call_rate_ok(&g, 100000);        /* long idle: capped at the burst */
	assert_int_equal(ok, 10);
	ok = 0;
	for (i = 0; i < 100; i++)
		ok += gre_call_rate_ok(&g, 99000);         /* clock going back: no tokens */
	assert_int_equal(ok, 0);
}

static void
test_build(void **state)
{
	struct gre_call g;
	struct gre_pkt p;
	uint8_t d[64];
	size_t hl;
	const char *why;

	gre_call_init(&g, 0xbeef, 8, 100, 0);
	hl = gre_build(&g, d + 20, 4);
	assert_int_equal(hl, 12);             /* no ack owed yet */
	assert_int_equal(d[20], 0x30);
	assert_int_equal(d[21], 0x01);
	memset(&p, 0, sizeof p);
	p.has_seq = 1;
	p.seq = 41;
	gre_call_receive(&g, &p);
	hl = gre_build(&g, d + 20, 4);
	assert_int_equal(hl, 16);
	assert_int_equal(d[21], 0x81);
	/* what we build parses (with an IP header in front) */
	memset(d, 0, 20);
	d[0] = 0x45;
	d[9] = 47;
	put16(d + 2, (uint16_t)(20 + hl + 4));
	memset(d + 20 + hl, 0, 4);
	assert_int_equal(gre_parse(d, 20 + hl + 4, &p, &why), 0);
	assert_int_equal(p.call_id, 0xbeef);
	assert_int_equal(p.seq, 1);
	assert_int_equal(p.ack, 41);
	/* ack-only */
	p.seq = 42;
	gre_call_receive(&g, &p);
	hl = gre_build(&g, d + 20, 0);
	assert_int_equal(hl, 12);
	assert_int_equal(d[20], 0x20);
	assert_int_equal(d[21], 0x81);
	assert_int_equal(g.seq_out, 2);       /* ack-only uses no sequence number */
}

static void
test_pool(void **state)
{
	struct region *r = region_new(NULL, "t", 1 << 20);
	struct pool p;
	struct in_addr s, e, l, a, b, c;
	char err[128];
	int owner1, owner2, owner3;

	inet_pton(AF_INET, "10.99.0.10", &s);
	inet_pton(AF_INET, "10.99.0.11", &e);
	inet_pton(AF_INET, "10.99.0.1", &l);
	assert_int_equal(pool_check(s, e, l, err, sizeof err), 0);
	assert_int_equal(pool_prefix(s, e, l), 28);
	assert_int_equal(pool_check(e, s, l, err, sizeof err), -1);
	assert_int_equal(pool_check(s, e, s, err, sizeof err), -1);
	{
		struct in_addr big;

		inet_pton(AF_INET, "10.100.0.0", &big);
		assert_int_equal(pool_check(s, big, l, err, sizeof err), -1);
	}
	assert_int_equal(pool_init(&p, r, s, e), 0);
	assert_int_equal(pool_take(&p, &owner1, &a), 0);
	assert_int_equal(pool_take(&p, &owner2, &b), 0);
	assert_int_not_equal(a.s_addr, b.s_addr);
	assert_int_equal(pool_take(&p, &owner3, &c), -1);   /* exhausted */
	assert_ptr_equal(pool_owner(&p, a.s_addr), &owner1);
	assert_null(pool_owner(&p, l.s_addr));
	pool_put(&p, a, &owner2);                           /* not its owner */
	assert_ptr_equal(pool_owner(&p, a.s_addr), &owner1);
	pool_put(&p, a, &owner1);
	assert_null(pool_owner(&p, a.s_addr));
	assert_int_equal(pool_take(&p, &owner3, &c), 0);
	assert_int_equal(c.s_addr, a.s_addr);
	region_release(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_bad_fields),
		cmocka_unit_test(test_parse_truncations),
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_ack_and_window),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
