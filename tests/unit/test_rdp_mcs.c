/*
 * test_rdp_mcs.c: unit tests for src/rdp/mcs.c and src/rdp/gcc.c: the MCS
 * Connect-Initial and GCC client data of real clients (xfreerdp,
 * rdesktop), every truncation, BER/PER/block lengths one too large and
 * one too small, channel and block limits, our Connect-Response, and the
 * domain PDUs (erect domain in both clients' encodings, attach user,
 * channel join, send data, disconnect provider ultimatum).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rdp/gcc.h"
#include "rdp/mcs.h"
#include "rdp/rdp_stream.h"
#include "rdp/x224.h"
#include "rdp_captured.h"
#include "rdp_test.h"

#define X224_OFF (TPKT_HEADER_BYTES + X224_DATA_HEADER_BYTES)

/* In place: ci borrows from p (the captured arrays are globals, which
 * ASan guards with redzones too). */
static int
ci_parse(const uint8_t *p, size_t n, struct mcs_connect_initial *ci)
{
	return mcs_parse_connect_initial(p, n, ci);
}

static int
gcc_parse(const uint8_t *p, size_t n, struct gcc_client *cc)
{
	uint8_t *c = rt_dup(p, n);
	int rc = gcc_parse_conference_create_request(c, n, cc);

	free(c);
	return rc;
}

static void
test_ci_real_clients(void **state)
{
	struct mcs_connect_initial ci;
	struct gcc_client cc;

	(void)state;
	assert_int_equal(ci_parse(xf_mcs_ci + X224_OFF, sizeof xf_mcs_ci - X224_OFF, &ci), MCS_OK);
	assert_int_equal(gcc_parse(ci.user_data, ci.user_data_len, &cc), GCC_OK);
	assert_int_equal(cc.desktop_width, 800);
	assert_int_equal(cc.desktop_height, 600);
	assert_int_equal(cc.nchannels, 4);
	assert_string_equal(cc.channels[0].name, "rdpdr");
	assert_string_equal(cc.channels[3].name, "drdynvc");
	assert_true(cc.has_selected_protocol);
	assert_int_equal(cc.server_selected_protocol, PROTOCOL_SSL);
	assert_true(cc.supported_color_depths & RNS_UD_16BPP_SUPPORT);
	assert_true(cc.has_security);
	assert_true(cc.has_cluster);

	assert_int_equal(ci_parse(rd_mcs_ci + X224_OFF, sizeof rd_mcs_ci - X224_OFF, &ci), MCS_OK);
	assert_int_equal(gcc_parse(ci.user_data, ci.user_data_len, &cc), GCC_OK);
	assert_int_equal(cc.desktop_width, 640);
	assert_int_equal(cc.desktop_height, 480);
	assert_int_equal(cc.nchannels, 5);
	assert_string_equal(cc.channels[0].name, "cliprdr");
}

static void
test_ci_truncated(void **state)
{
	const uint8_t *d = xf_mcs_ci + X224_OFF;
	size_t n = sizeof xf_mcs_ci - X224_OFF, i;
	struct mcs_connect_initial ci;
	struct gcc_client cc;

	(void)state;
	for (i = 0; i < n; i++)
		assert_int_not_equal(ci_parse(d, i, &ci), MCS_OK);
	assert_int_equal(ci_parse(d, n, &ci), MCS_OK);
	for (i = 0; i < ci.user_data_len; i++)
		assert_int_not_equal(gcc_parse(ci.user_data, i, &cc), GCC_OK);
}

static void
test_ci_ber_lengths(void **state)
{
	const uint8_t *d = xf_mcs_ci + X224_OFF;
	size_t n = sizeof xf_mcs_ci - X224_OFF;
	struct mcs_connect_initial ci;
	size_t offs[8], no = 0, i, ud;
	int delta;

	(void)state;
	assert_int_equal(ci_parse(d, n, &ci), MCS_OK);
	ud = (size_t)(ci.user_data - d);
	offs[no++] = 4;        /* outer length, low byte (82 hi lo) */
	offs[no++] = 6;        /* callingDomainSelector */
	offs[no++] = 9;        /* calledDomainSelector */
	offs[no++] = 12;       /* upwardFlag */
	offs[no++] = 15;       /* targetParameters SEQUENCE */
	offs[no++] = 17;       /* its first INTEGER */
	offs[no++] = ud - 1;   /* userData OCTET STRING, low byte */
	assert_int_equal(d[5], 0x04);
	assert_int_equal(d[11], 0x01);
	assert_int_equal(d[14], 0x30);
	for (i = 0; i < no; i++) {
		for (delta = -1; delta <= 1; delta += 2) {
			uint8_t *c = rt_dup(d, n);

			c[offs[i]] = (uint8_t)(c[offs[i]] + delta);
			assert_int_not_equal(mcs_parse_connect_initial(c, n, &ci), MCS_OK);
			free(c);
		}
	}
	/* A long-form length of three bytes is refused, not read. */
	{
		uint8_t *c = rt_dup(d, n);

		c[2] = 0x83;
		assert_int_equal(mcs_parse_connect_initial(c, n, &ci), MCS_ERR_LENGTH);
		c[2] = 0x82;
		c[0] = 0x30;
		assert_int_equal(mcs_parse_connect_initial(c, n, &ci), MCS_ERR_TAG);
		free(c);
	}
}

static void
test_gcc_lengths(void **state)
{
	struct mcs_connect_initial ci;
	struct gcc_client cc;
	uint8_t *u;
	size_t n, off, nblocks = 0;
	int delta;

	(void)state;
	assert_int_equal(ci_parse(xf_mcs_ci + X224_OFF, sizeof xf_mcs_ci - X224_OFF, &ci), MCS_OK);
	n = ci.user_data_len;
	/* The two PER lengths (each 2 bytes, low byte at 8 and 22). */
	for (delta = -1; delta <= 1; delta += 2) {
		u = rt_dup(ci.user_data, n);
		u[8] = (uint8_t)(u[8] + delta);
		assert_int_equal(gcc_parse_conference_create_request(u, n, &cc), GCC_ERR_LENGTH);
		free(u);
		u = rt_dup(ci.user_data, n);
		u[22] = (uint8_t)(u[22] + delta);
		assert_int_equal(gcc_parse_conference_create_request(u, n, &cc), GCC_ERR_LENGTH);
		free(u);
	}
	/* Each block's length +-1: the blocks no longer tile the data. */
	for (off = 23; off + 4 <= n; nblocks++) {
		size_t blen = (size_t)(ci.user_data[off + 2] | ci.user_data[off + 3] << 8);

		for (delta = -1; delta <= 1; delta += 2) {
			u = rt_dup(ci.user_data, n);
			u[off + 2] = (uint8_t)(u[off + 2] + delta);
			assert_int_not_equal(gcc_parse_conference_create_request(u, n, &cc), GCC_OK);
			free(u);
		}
		/* Length 3 (below the header) and 0. */
		u = rt_dup(ci.user_data, n);
		u[off + 2] = 3;
		u[off + 3] = 0;
		assert_int_equal(gcc_parse_conference_create_request(u, n, &cc), GCC_ERR_LENGTH);
		free(u);
		off += blen;
	}
	assert_int_equal(off, n);
	assert_int_equal(nblocks, 4);   /* core, cluster, security, network */
}

/* User data with a core block and a network block of nch channels whose
 * count field says count. */
static size_t
build_gcc(uint8_t *out, size_t cap, uint32_t count, size_t nch, int with_core)
{
	static const uint8_t hdr[] = { 0x00, 0x05, 0x00, 0x14, 0x7c, 0x00, 0x01, 0x80, 0x00, 0x00, 0x08, 0x00,
	                               0x10, 0x00, 0x01, 0xc0, 0x00, 'D', 'u', 'c', 'a', 0x80, 0x00 };
	struct wr w;
	size_t i, blocks;

	wr_init(&w, out, cap);
	wr_bytes(&w, hdr, sizeof hdr);
	if (with_core) {
		wr_u16le(&w, CS_CORE);
		wr_u16le(&w, 4 + 128);
		wr_u32le(&w, 0x00080004);
		wr_u16le(&w, 1024);
		wr_u16le(&w, 768);
		wr_zero(&w, 128 - 8);
	}
	wr_u16le(&w, CS_NET);
	wr_u16le(&w, (unsigned)(8 + 12 * nch));
	wr_u32le(&w, count);
	for (i = 0; i < nch; i++) {
		wr_bytes(&w, "chan\0\0\0\0", 8);
		wr_u32le(&w, 0x80000000u);
	}
	assert_false(w.err);
	blocks = w.len - sizeof hdr;
	out[7] = (uint8_t)(0x80 | (blocks + 14) >> 8);
	out[8] = (uint8_t)(blocks + 14);
	out[21] = (uint8_t)(0x80 | blocks >> 8);
	out[22] = (uint8_t)blocks;
	return w.len;
}

static void
test_gcc_limits(void **state)
{
	uint8_t b[1024];
	struct gcc_client cc;
	size_t n;

	(void)state;
	n = build_gcc(b, sizeof b, RDP_CHANNELS_MAX, RDP_CHANNELS_MAX, 1);
	assert_int_equal(gcc_parse(b, n, &cc), GCC_OK);
	assert_int_equal(cc.nchannels, RDP_CHANNELS_MAX);
	assert_int_equal(cc.desktop_width, 1024);
	assert_false(cc.has_high_color);   /* only the mandatory core fields */
	n = build_gcc(b, sizeof b, RDP_CHANNELS_MAX + 1, RDP_CHANNELS_MAX + 1, 1);
	assert_int_equal(gcc_parse(b, n, &cc), GCC_ERR_CHANNELS);
	/* A count larger than the channels present. */
	n = build_gcc(b, sizeof b, 3, 2, 1);
	assert_int_equal(gcc_parse(b, n, &cc), GCC_ERR_BLOCK);
	n = build_gcc(b, sizeof b, 0xffffffffu, 2, 1);
	assert_int_equal(gcc_parse(b, n, &cc), GCC_ERR_CHANNELS);
	n = build_gcc(b, sizeof b, 1, 1, 0);
	assert_int_equal(gcc_parse(b, n, &cc), GCC_ERR_MISSING);
}

static void
test_gcc_repeated_and_many_blocks(void **state)
{
	uint8_t b[2048];
	struct gcc_client cc;
	size_t n, i;

	(void)state;
	n = build_gcc(b, sizeof b, 0, 0, 1);
	/* Append 16 unknown empty blocks: 18 in all, over RDP_GCC_BLOCKS_MAX. */
	for (i = 0; i < RDP_GCC_BLOCKS_MAX; i++) {
		b[n++] = 0x99;
		b[n++] = 0xc0;
		b[n++] = 4;
		b[n++] = 0;
	}
	b[8] = (uint8_t)(n - 9);
	b[7] = (uint8_t)(0x80 | (n - 9) >> 8);
	b[22] = (uint8_t)(n - 23);
	b[21] = (uint8_t)(0x80 | (n - 23) >> 8);
	assert_int_equal(gcc_parse(b, n, &cc), GCC_ERR_TOO_MANY);
	/* The same with two of them: fine (unknown blocks are skipped). */
	n = n - 4 * (RDP_GCC_BLOCKS_MAX - 2);
	b[8] = (uint8_t)(n - 9);
	b[7] = (uint8_t)(0x80 | (n - 9) >> 8);
	b[22] = (uint8_t)(n - 23);
	b[21] = (uint8_t)(0x80 | (n - 23) >> 8);
	assert_int_equal(gcc_parse(b, n, &cc), GCC_OK);
	/* A second network block. */
	n = build_gcc(b, sizeof b, 0, 0, 1);
	memcpy(b + n, "\x03\xc0\x08\x00\x00\x00\x00\x00", 8);
	n += 8;
	b[8] = (uint8_t)(n - 9);
	b[7] = (uint8_t)(0x80 | (n - 9) >> 8);
	b[22] = (uint8_t)(n - 23);
	b[21] = (uint8_t)(0x80 | (n - 23) >> 8);
	assert_int_equal(gcc_parse(b, n, &cc), GCC_ERR_TOO_MANY);
}

static void
test_connect_response(void **state)
{
	uint16_t ids[3] = { 1004, 1005, 1006 };
	struct gcc_server gs = { PROTOCOL_SSL | PROTOCOL_HYBRID, 1003, 3, ids };
	uint8_t g[256], b[512];
	struct wr gw, w;
	size_t ulen;

	(void)state;
	wr_init(&gw, g, sizeof g);
	gcc_write_conference_create_response(&gw, &gs);
	assert_false(gw.err);
	/* Data blocks: core 12 + security 12 + net 8 + 3*2 + pad 2 = 40. */
	assert_int_equal(gw.len, 7 + 1 + 13 + 1 + 40);
	assert_int_equal(g[7], 13 + 1 + 40);     /* connectPDU length */
	assert_int_equal(g[21], 40);             /* user data length */
	assert_int_equal(g[22] | g[23] << 8, SC_CORE);
	assert_int_equal(g[26] | g[27] << 8 | g[28] << 16 | g[29] << 24, 0x00080004);
	assert_int_equal(g[30], 3);              /* clientRequestedProtocols */
	assert_int_equal(g[46] | g[47] << 8, SC_NET);
	assert_int_equal(g[48] | g[49] << 8, 16);
	assert_int_equal(g[50] | g[51] << 8, 1003);
	assert_int_equal(g[52] | g[53] << 8, 3);
	assert_int_equal(g[58] | g[59] << 8, 1006);
	wr_init(&w, b, sizeof b);
	mcs_write_connect_response(&w, g, gw.len);
	assert_false(w.err);
	assert_int_equal(b[0], 0x7f);
	assert_int_equal(b[1], 0x66);
	ulen = b[2];
	assert_int_equal(ulen, w.len - 3);       /* short-form BER length covers the rest */
	assert_memory_equal(b + w.len - gw.len, g, gw.len);
	assert_int_equal(b[w.len - gw.len - 1], gw.len);
}

static int
dom(const uint8_t *tpkt, size_t n, struct mcs_domain_pdu *d)
{
	const uint8_t *data;
	size_t dl;

	if (x224_parse_data(tpkt, n, &data, &dl) != X224_OK)
		return -100;
	return mcs_parse_domain(data, dl, d);
}

static void
test_domain_pdus(void **state)
{
	struct mcs_domain_pdu d;
	uint8_t b[16];
	struct wr w;

	(void)state;
	assert_int_equal(dom(xf_erect, sizeof xf_erect, &d), MCS_OK);
	assert_int_equal(d.type, MCS_ERECT_DOMAIN_REQUEST);
	assert_int_equal(dom(rd_erect, sizeof rd_erect, &d), MCS_OK);
	assert_int_equal(d.type, MCS_ERECT_DOMAIN_REQUEST);
	assert_int_equal(dom(xf_attach, sizeof xf_attach, &d), MCS_OK);
	assert_int_equal(d.type, MCS_ATTACH_USER_REQUEST);
	assert_int_equal(dom(xf_join_user, sizeof xf_join_user, &d), MCS_OK);
	assert_int_equal(d.type, MCS_CHANNEL_JOIN_REQUEST);
	assert_int_equal(d.initiator, 1008);
	assert_int_equal(d.channel, 1008);
	assert_int_equal(dom(xf_join_io, sizeof xf_join_io, &d), MCS_OK);
	assert_int_equal(d.channel, 1003);
	assert_int_equal(dom(xf_client_info, sizeof xf_client_info, &d), MCS_OK);
	assert_int_equal(d.type, MCS_SEND_DATA_REQUEST);
	assert_int_equal(d.channel, 1003);
	assert_int_equal(d.data_len, sizeof xf_client_info - 15);

	/* Truncated join; send data whose PER length is off by one either way. */
	assert_int_equal(mcs_parse_domain(xf_join_user + 7, 4, &d), MCS_ERR_TRUNCATED);
	{
		uint8_t *c = rt_dup(xf_sync, sizeof xf_sync);

		c[14]++;
		assert_int_equal(dom(c, sizeof xf_sync, &d), MCS_ERR_TRUNCATED);
		c[14] = (uint8_t)(c[14] - 2);
		assert_int_equal(dom(c, sizeof xf_sync, &d), MCS_ERR_TRAILING);
		c[13] = 0xc0;   /* PER fragment bit */
		assert_int_equal(dom(c, sizeof xf_sync, &d), MCS_ERR_LENGTH);
		free(c);
	}
	/* Erect domain bodies out of range; an unknown choice. */
	assert_int_equal(mcs_parse_domain((const uint8_t *)"\x04\x01\x00", 3, &d), MCS_ERR_TRUNCATED);
	assert_int_equal(mcs_parse_domain((const uint8_t *)"\x04\x01\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00", 12, &d),
	                 MCS_ERR_TRAILING);
	assert_int_equal(mcs_parse_domain((const uint8_t *)"\x7c", 1, &d), MCS_ERR_TAG);
	assert_int_equal(mcs_parse_domain((const uint8_t *)"\x28\x00", 2, &d), MCS_ERR_TRAILING);
	assert_int_equal(mcs_parse_domain(b, 0, &d), MCS_ERR_TRUNCATED);

	/* Disconnect provider ultimatum: "21 80" is rn-user-requested. */
	assert_int_equal(mcs_parse_domain((const uint8_t *)"\x21\x80", 2, &d), MCS_OK);
	assert_int_equal(d.type, MCS_DISCONNECT_PROVIDER_ULTIMATUM);
	assert_int_equal(d.reason, MCS_RN_USER_REQUESTED);
	wr_init(&w, b, sizeof b);
	mcs_write_disconnect_ultimatum(&w, MCS_RN_USER_REQUESTED);
	assert_int_equal(w.len, 2);
	assert_memory_equal(b, "\x21\x80", 2);

	wr_init(&w, b, sizeof b);
	mcs_write_attach_user_confirm(&w, 1007);
	assert_memory_equal(b, "\x2e\x00\x00\x06", 4);
	wr_init(&w, b, sizeof b);
	mcs_write_channel_join_confirm(&w, 1007, 1003);
	assert_memory_equal(b, "\x3e\x00\x00\x06\x03\xeb\x03\xeb", 8);
	wr_init(&w, b, sizeof b);
	mcs_write_sdi_header(&w, 1007, 1003, 0x4000);
	assert_true(w.err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ci_real_clients),
		cmocka_unit_test(test_ci_truncated),
		cmocka_unit_test(test_ci_ber_lengths),
		cmocka_unit_test(test_gcc_lengths),
		cmocka_unit_test(test_gcc_limits),
		cmocka_unit_test(test_gcc_repeated_and_many_blocks),
		cmocka_unit_test(test_connect_response),
		cmocka_unit_test(test_domain_pdus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
