/*
 * test_rdp_x224.c: unit tests for src/rdp/x224.c: TPKT framing, the
 * Connection Request from real clients (xfreerdp, rdesktop) and its
 * hostile variants (every truncation, each length field one too large and
 * one too small, routing cookies at the limit), and the exact bytes of
 * our Connection Confirm and negotiation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rdp/rdp_stream.h"
#include "rdp/x224.h"
#include "rdp_captured.h"
#include "rdp_test.h"

static int
parse_cr(const uint8_t *p, size_t n, struct x224_cr *cr)
{
	uint8_t *c = rt_dup(p, n);
	int rc = x224_parse_cr(c, n, cr);

	free(c);
	return rc;
}

static void
test_cr_real_clients(void **state)
{
	struct x224_cr cr;

	(void)state;
	assert_int_equal(parse_cr(xf_cr, sizeof xf_cr, &cr), X224_OK);
	assert_true(cr.has_cookie);
	assert_string_equal(cr.cookie, "Cookie: mstshash=alice");
	assert_true(cr.has_neg_req);
	assert_int_equal(cr.requested_protocols, PROTOCOL_SSL);
	assert_int_equal(parse_cr(rd_cr, sizeof rd_cr, &cr), X224_OK);
	assert_string_equal(cr.cookie, "Cookie: mstshash=bob");
	assert_int_equal(cr.requested_protocols, PROTOCOL_SSL | PROTOCOL_HYBRID);
}

static void
test_cr_minimal(void **state)
{
	/* From the issue: no cookie, TLS requested. */
	static const uint8_t min[] = { 0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00,
	                               0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00 };
	/* No negotiation request at all (pre-RDP 5 client). */
	static const uint8_t bare[] = { 0x03, 0x00, 0x00, 0x0b, 0x06, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00 };
	struct x224_cr cr;

	(void)state;
	assert_int_equal(parse_cr(min, sizeof min, &cr), X224_OK);
	assert_false(cr.has_cookie);
	assert_int_equal(cr.requested_protocols, PROTOCOL_SSL);
	assert_int_equal(parse_cr(bare, sizeof bare, &cr), X224_OK);
	assert_false(cr.has_neg_req);
}

static void
test_cr_truncated(void **state)
{
	struct x224_cr cr;
	size_t n;

	(void)state;
	for (n = 0; n < sizeof xf_cr; n++) {
		uint8_t *c = rt_dup(xf_cr, n);

		/* The TPKT length still says 43: every prefix is refused. */
		assert_int_not_equal(x224_parse_cr(c, n, &cr), X224_OK);
		/* With the TPKT length made consistent, the X.224 LI still disagrees. */
		if (n >= 4) {
			c[2] = (uint8_t)(n >> 8);
			c[3] = (uint8_t)n;
			assert_int_not_equal(x224_parse_cr(c, n, &cr), X224_OK);
		}
		free(c);
	}
}

static void
test_cr_length_fields(void **state)
{
	/* TPKT length (offset 3), LI (4), RDP_NEG_REQ length (37): +-1 each. */
	static const size_t offs[] = { 3, 4, 37 };
	struct x224_cr cr;
	size_t i;
	int d;

	(void)state;
	assert_int_equal(xf_cr[37], 8);
	for (i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		for (d = -1; d <= 1; d += 2) {
			uint8_t *c = rt_dup(xf_cr, sizeof xf_cr);

			c[offs[i]] = (uint8_t)(c[offs[i]] + d);
			assert_int_not_equal(x224_parse_cr(c, sizeof xf_cr, &cr), X224_OK);
			free(c);
		}
	}
}

/* A CR with a cookie of cookie_len bytes (without CRLF), then a neg req. */
static size_t
build_cr(uint8_t *out, size_t cookie_len, int crlf)
{
	size_t n = 0, i;
	const char *pfx = "Cookie: mstshash=";

	out[n++] = 3;
	out[n++] = 0;
	n += 2;
	n++;   /* LI */
	out[n++] = 0xe0;
	memset(out + n, 0, 5);
	n += 5;
	for (i = 0; i < cookie_len; i++)
		out[n++] = (uint8_t)(i < strlen(pfx) ? pfx[i] : 'u');
	if (crlf) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	memcpy(out + n, "\x01\x00\x08\x00\x01\x00\x00\x00", 8);
	n += 8;
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	out[4] = (uint8_t)(n - 5);
	return n;
}

static void
test_cr_cookie_limit(void **state)
{
	uint8_t b[600];
	struct x224_cr cr;
	size_t n;

	(void)state;
	n = build_cr(b, RDP_COOKIE_MAX_BYTES - 1, 1);
	assert_int_equal(parse_cr(b, n, &cr), X224_OK);
	assert_int_equal(cr.cookie_len, RDP_COOKIE_MAX_BYTES - 1);
	n = build_cr(b, RDP_COOKIE_MAX_BYTES, 1);
	assert_int_equal(parse_cr(b, n, &cr), X224_OK);
	assert_int_equal(cr.cookie_len, RDP_COOKIE_MAX_BYTES);
	n = build_cr(b, RDP_COOKIE_MAX_BYTES + 1, 1);
	assert_int_equal(parse_cr(b, n, &cr), X224_ERR_COOKIE);
	n = build_cr(b, 40, 0);   /* no CRLF */
	assert_int_equal(parse_cr(b, n, &cr), X224_ERR_COOKIE);
	n = build_cr(b, 40, 1);
	b[11 + 20] = 0;           /* a NUL inside (found by fuzz_rdp_handshake) */
	assert_int_equal(parse_cr(b, n, &cr), X224_ERR_COOKIE);
	b[11 + 20] = '\n';        /* a bare LF */
	assert_int_equal(parse_cr(b, n, &cr), X224_ERR_COOKIE);
	/* Bigger than the whole-CR limit. */
	n = build_cr(b, RDP_X224_CR_MAX_BYTES, 1);
	assert_int_not_equal(parse_cr(b, n, &cr), X224_OK);
}

static void
test_cr_trailing_and_type(void **state)
{
	uint8_t b[64];
	struct x224_cr cr;

	(void)state;
	memcpy(b, xf_cr, sizeof xf_cr);
	b[sizeof xf_cr] = 0;
	b[3]++;
	b[4]++;
	assert_int_equal(parse_cr(b, sizeof xf_cr + 1, &cr), X224_ERR_NEG);
	memcpy(b, xf_cr, sizeof xf_cr);
	b[5] = 0xf0;   /* a data TPDU where the CR belongs */
	assert_int_equal(parse_cr(b, sizeof xf_cr, &cr), X224_ERR_TYPE);
	memcpy(b, xf_cr, sizeof xf_cr);
	b[35] = 2;     /* neg type: a response, not a request */
	assert_int_equal(parse_cr(b, sizeof xf_cr, &cr), X224_ERR_NEG);
}

static void
test_cc_bytes(void **state)
{
	static const uint8_t cc_ssl[] = { 0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34,
	                                  0x00, 0x02, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00 };
	/* The (and FreeRDP's server's) answer to a protocol-0 request. */
	static const uint8_t fail[] = { 0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34,
	                                0x00, 0x03, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00 };
	uint8_t b[32];
	struct wr w;

	(void)state;
	wr_init(&w, b, sizeof b);
	x224_write_cc(&w, PROTOCOL_SSL);
	assert_false(w.err);
	assert_int_equal(w.len, sizeof cc_ssl);
	assert_memory_equal(b, cc_ssl, sizeof cc_ssl);
	wr_init(&w, b, sizeof b);
	x224_write_neg_failure(&w, SSL_REQUIRED_BY_SERVER);
	assert_int_equal(w.len, sizeof fail);
	assert_memory_equal(b, fail, sizeof fail);
	wr_init(&w, b, 10);
	x224_write_cc(&w, PROTOCOL_SSL);
	assert_true(w.err);
}

static void
test_tpkt_frame(void **state)
{
	uint8_t b[8] = { 3, 0, 0x40, 0x00, 2, 0xf0, 0x80, 0 };
	size_t len = 0;

	(void)state;
	assert_int_equal(tpkt_frame(b, 0, 16384, &len), X224_MORE);
	assert_int_equal(tpkt_frame(b, 3, 16384, &len), X224_MORE);
	assert_int_equal(tpkt_frame(b, 8, 16384, &len), X224_MORE);           /* 0x4000 bytes announced */
	assert_int_equal(tpkt_frame(b, 8, 0x3fff, &len), X224_ERR_TOO_BIG);
	b[2] = 0;
	b[3] = 6;                                                             /* below header + X.224 DT */
	assert_int_equal(tpkt_frame(b, 8, 16384, &len), X224_ERR_TPKT);
	b[3] = 7;
	assert_int_equal(tpkt_frame(b, 8, 16384, &len), X224_OK);
	assert_int_equal(len, 7);
	b[0] = 4;
	assert_int_equal(tpkt_frame(b, 8, 16384, &len), X224_ERR_TPKT);
	assert_int_equal(tpkt_frame(b, 1, 16384, &len), X224_ERR_TPKT);
	b[0] = 3;
	b[1] = 1;                                                             /* reserved byte */
	assert_int_equal(tpkt_frame(b, 8, 16384, &len), X224_ERR_TPKT);
}

static void
test_data_tpdu(void **state)
{
	const uint8_t *d;
	size_t dl;
	uint8_t *c;

	(void)state;
	assert_int_equal(x224_parse_data(xf_attach, sizeof xf_attach, &d, &dl), X224_OK);
	assert_int_equal(dl, 1);
	assert_int_equal(d[0], 0x28);
	c = rt_dup(xf_attach, sizeof xf_attach);
	c[4] = 3;   /* LI */
	assert_int_not_equal(x224_parse_data(c, sizeof xf_attach, &d, &dl), X224_OK);
	c[4] = 2;
	c[6] = 0;   /* no EOT */
	assert_int_not_equal(x224_parse_data(c, sizeof xf_attach, &d, &dl), X224_OK);
	free(c);
	assert_int_not_equal(x224_parse_data(xf_attach, sizeof xf_attach - 1, &d, &dl), X224_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cr_real_clients),
		cmocka_unit_test(test_cr_minimal),
		cmocka_unit_test(test_cr_truncated),
		cmocka_unit_test(test_cr_length_fields),
		cmocka_unit_test(test_cr_cookie_limit),
		cmocka_unit_test(test_cr_trailing_and_type),
		cmocka_unit_test(test_cc_bytes),
		cmocka_unit_test(test_tpkt_frame),
		cmocka_unit_test(test_data_tpdu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
