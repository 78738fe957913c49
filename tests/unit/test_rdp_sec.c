/*
 * test_rdp_sec.c: unit tests for src/rdp/rdp_sec.c: the Client Info PDU
 * of real clients (credentials out of UTF-16LE), each cb* length one too
 * large and too small, over the limit, odd, past the PDU, truncation at
 * every byte, missing terminators, bad UTF-16; the licence PDU's bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rdp/rdp_sec.h"
#include "rdp/rdp_stream.h"
#include "rdp_captured.h"
#include "rdp_test.h"

#define SDR_OFF 15   /* TPKT, X.224, Send Data Request with a 2-byte length */

static struct rdp_client_info ci;

static int
info(const uint8_t *p, size_t n)
{
	uint8_t *c = rt_dup(p, n);
	int rc = rdp_sec_parse_client_info(c, n, &ci);

	free(c);
	return rc;
}

static void
test_real_clients(void **state)
{
	(void)state;
	assert_int_equal(info(xf_client_info + SDR_OFF, sizeof xf_client_info - SDR_OFF), RDP_SEC_OK);
	assert_string_equal(ci.user, "alice");
	assert_string_equal(ci.password, "secret");
	assert_true(ci.flags & INFO_UNICODE);
	assert_int_equal(info(rd_client_info + SDR_OFF, sizeof rd_client_info - SDR_OFF), RDP_SEC_OK);
	assert_string_equal(ci.user, "bob");
	assert_string_equal(ci.password, "pw");
	rdp_sec_wipe_client_info(&ci);
	assert_int_equal(ci.password[0], 0);
}

static void
test_truncated(void **state)
{
	const uint8_t *d = xf_client_info + SDR_OFF;
	size_t n = sizeof xf_client_info - SDR_OFF, i;
	/* Header 22 bytes, then domain "" (2), user (10 + 2), password
	 * (12 + 2), shell "" (2), working dir "" (2): the strings end at 54;
	 * the extended info after them is optional and ignored. */
	size_t strings_end = 22 + 2 + 12 + 14 + 2 + 2;

	(void)state;
	assert_int_equal(d[14] | d[15] << 8, 10);      /* cbUserName "alice" */
	assert_int_equal(d[16] | d[17] << 8, 12);      /* cbPassword "secret" */
	for (i = 0; i < strings_end; i++) {
		assert_int_not_equal(info(d, i), RDP_SEC_OK);
		assert_int_equal(ci.password[0], 0);   /* nothing half-parsed is left */
	}
	assert_int_equal(info(d, strings_end), RDP_SEC_OK);
	assert_int_equal(info(d, n), RDP_SEC_OK);
}

static void
test_length_fields(void **state)
{
	const uint8_t *d = xf_client_info + SDR_OFF;
	size_t n = sizeof xf_client_info - SDR_OFF;
	uint8_t *c;
	int f, delta;

	(void)state;
	/* Each cb* +-1 is odd for Unicode; +-2 moves the terminator. */
	for (f = 0; f < 5; f++) {
		for (delta = -2; delta <= 2; delta++) {
			size_t off = 12 + 2 * (size_t)f;
			unsigned v;

			if (delta == 0)
				continue;
			c = rt_dup(d, n);
			v = (unsigned)(c[off] | c[off + 1] << 8);
			if ((int)v + delta < 0) {
				free(c);
				continue;
			}
			v = (unsigned)((int)v + delta);
			c[off] = (uint8_t)v;
			c[off + 1] = (uint8_t)(v >> 8);
			assert_int_not_equal(rdp_sec_parse_client_info(c, n, &ci), RDP_SEC_OK);
			free(c);
		}
	}
	/* Over the limit (the PDU is long enough: it is the limit that says no). */
	{
		uint8_t big[2048];

		memset(big, 0, sizeof big);
		memcpy(big, d, 12);
		big[14] = (uint8_t)(RDP_INFO_FIELD_MAX_BYTES + 2);
		big[15] = (uint8_t)((RDP_INFO_FIELD_MAX_BYTES + 2) >> 8);
		assert_int_equal(rdp_sec_parse_client_info(big, sizeof big, &ci), RDP_SEC_ERR_LENGTH);
		/* At the limit: 256 'a's, then terminators. */
		for (f = 0; f < RDP_INFO_FIELD_MAX_BYTES; f += 2)
			big[24 + f] = 'a';
		big[14] = (uint8_t)RDP_INFO_FIELD_MAX_BYTES;
		big[15] = (uint8_t)(RDP_INFO_FIELD_MAX_BYTES >> 8);
		assert_int_equal(rdp_sec_parse_client_info(big, sizeof big, &ci), RDP_SEC_OK);
		assert_int_equal(strlen(ci.user), RDP_INFO_FIELD_MAX_BYTES / 2);
		/* Claiming 0xffff bytes. */
		big[14] = 0xff;
		big[15] = 0xff;
		assert_int_equal(rdp_sec_parse_client_info(big, sizeof big, &ci), RDP_SEC_ERR_LENGTH);
	}
}

static void
test_flags_and_terminators(void **state)
{
	const uint8_t *d = xf_client_info + SDR_OFF;
	size_t n = sizeof xf_client_info - SDR_OFF;
	uint8_t *c;

	(void)state;
	c = rt_dup(d, n);
	c[0] = 0;        /* not SEC_INFO_PKT */
	assert_int_equal(rdp_sec_parse_client_info(c, n, &ci), RDP_SEC_ERR_FLAGS);
	c[0] = SEC_INFO_PKT | SEC_ENCRYPT;
	assert_int_equal(rdp_sec_parse_client_info(c, n, &ci), RDP_SEC_ERR_FLAGS);
	free(c);
	/* The user name's terminator replaced by a letter. */
	c = rt_dup(d, n);
	c[22 + 2 + 10] = 'x';
	assert_int_equal(rdp_sec_parse_client_info(c, n, &ci), RDP_SEC_ERR_ENCODING);
	free(c);
	/* A NUL inside the user name. */
	c = rt_dup(d, n);
	c[22 + 2 + 2] = 0;
	assert_int_equal(rdp_sec_parse_client_info(c, n, &ci), RDP_SEC_ERR_ENCODING);
	free(c);
}

static void
test_utf16(void **state)
{
	/* "日本" + U+1F600 as a surrogate pair. */
	static const uint8_t jp[] = { 0xe5, 0x65, 0x2c, 0x67, 0x3d, 0xd8, 0x00, 0xde };
	char out[32];

	(void)state;
	assert_int_equal(rdp_utf16le_to_utf8(jp, sizeof jp, out, sizeof out), 0);
	assert_string_equal(out, "\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80");
	assert_int_equal(rdp_utf16le_to_utf8(jp, 6, out, sizeof out), -1);            /* lone high surrogate */
	assert_int_equal(rdp_utf16le_to_utf8(jp + 6, 2, out, sizeof out), -1);        /* lone low surrogate */
	assert_int_equal(rdp_utf16le_to_utf8(jp, 3, out, sizeof out), -1);            /* odd */
	assert_int_equal(rdp_utf16le_to_utf8(jp, sizeof jp, out, 10), -1);            /* no room for NUL */
	assert_int_equal(rdp_utf16le_to_utf8(jp, sizeof jp, out, 11), 0);
	assert_int_equal(rdp_utf16le_to_utf8((const uint8_t *)"a\0\0\0", 4, out, sizeof out), -1);
}

static void
test_license(void **state)
{
	static const uint8_t want[] = { 0x80, 0x00, 0x00, 0x00, 0xff, 0x03, 0x10, 0x00, 0x07, 0x00,
	                                0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00 };
	uint8_t b[32];
	struct wr w;

	(void)state;
	wr_init(&w, b, sizeof b);
	rdp_sec_write_license_valid_client(&w);
	assert_false(w.err);
	assert_int_equal(w.len, RDP_SEC_LICENSE_PDU_BYTES);
	assert_memory_equal(b, want, sizeof want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_clients),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_length_fields),
		cmocka_unit_test(test_flags_and_terminators),
		cmocka_unit_test(test_utf16),
		cmocka_unit_test(test_license),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
