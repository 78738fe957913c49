/*
 * test_rdp_dvc.c: unit tests for src/rdp/dvc.c: xfreerdp's drdynvc
 * messages (caps, create response, display control monitor layout),
 * every truncation, lengths one too large and too small, fragmented and
 * compressed messages set aside, monitor limits; our requests' bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rdp/dvc.h"
#include "rdp/rdp_stream.h"
#include "rdp_captured.h"
#include "rdp_test.h"

static int
whole(const uint8_t *p, size_t n, struct dvc_pdu *d)
{
	const uint8_t *data;
	size_t dl;
	int rc = svc_parse(p, n, &data, &dl);

	return rc != DVC_OK ? rc : dvc_parse(data, dl, d);
}

static void
test_real_messages(void **state)
{
	struct dvc_pdu d;
	uint32_t w = 0, h = 0;

	(void)state;
	assert_int_equal(whole(xf_dvc_caps, sizeof xf_dvc_caps, &d), DVC_OK);
	assert_int_equal(d.cmd, DVC_CMD_CAPS);
	assert_int_equal(d.version, 1);
	assert_int_equal(whole(xf_dvc_create, sizeof xf_dvc_create, &d), DVC_OK);
	assert_int_equal(d.cmd, DVC_CMD_CREATE);
	assert_int_equal(d.channel_id, 1);
	assert_int_equal(d.status, 0);
	assert_int_equal(whole(xf_dvc_layout, sizeof xf_dvc_layout, &d), DVC_OK);
	assert_int_equal(d.cmd, DVC_CMD_DATA);
	assert_int_equal(d.channel_id, 1);
	assert_int_equal(disp_parse_monitor_layout(d.data, d.data_len, &w, &h), DVC_OK);
	assert_int_equal(w, 800);
	assert_int_equal(h, 600);
}

static void
test_truncated_and_lengths(void **state)
{
	struct dvc_pdu d;
	uint32_t w, h;
	size_t i;
	uint8_t *c;
	int delta;

	(void)state;
	for (i = 0; i < sizeof xf_dvc_layout; i++) {
		c = rt_dup(xf_dvc_layout, i);
		assert_int_not_equal(whole(c, i, &d), DVC_OK);
		free(c);
	}
	for (i = 0; i < sizeof xf_dvc_create; i++) {
		c = rt_dup(xf_dvc_create, i);
		assert_int_not_equal(whole(c, i, &d), DVC_OK);
		free(c);
	}
	/* CHANNEL_PDU_HEADER length, DISPLAYCONTROL Length, MonitorLayoutSize,
	 * NumMonitors: each +-1. */
	{
		static const size_t offs[] = { 0, 14, 18, 22 };
		size_t k;

		for (k = 0; k < sizeof offs / sizeof offs[0]; k++) {
			for (delta = -1; delta <= 1; delta += 2) {
				c = rt_dup(xf_dvc_layout, sizeof xf_dvc_layout);
				c[offs[k]] = (uint8_t)(c[offs[k]] + delta);
				w = h = 0;
				if (whole(c, sizeof xf_dvc_layout, &d) == DVC_OK)
					assert_int_not_equal(disp_parse_monitor_layout(d.data, d.data_len, &w, &h), DVC_OK);
				free(c);
			}
		}
	}
	/* The create response with a trailing byte. */
	{
		uint8_t b[16];

		memcpy(b, xf_dvc_create, sizeof xf_dvc_create);
		b[sizeof xf_dvc_create] = 0;
		b[0]++;
		assert_int_equal(whole(b, sizeof xf_dvc_create + 1, &d), DVC_ERR_LENGTH);
	}
}

static void
test_partial_and_unknown(void **state)
{
	struct dvc_pdu d;
	const uint8_t *data;
	size_t dl;
	uint8_t *c;

	(void)state;
	/* Not FIRST|LAST, or compressed: set aside, not an error. */
	c = rt_dup(xf_dvc_layout, sizeof xf_dvc_layout);
	c[4] = CHANNEL_FLAG_FIRST;
	assert_int_equal(svc_parse(c, sizeof xf_dvc_layout, &data, &dl), DVC_PARTIAL);
	c[4] = 3;
	c[6] = 0x20;
	assert_int_equal(svc_parse(c, sizeof xf_dvc_layout, &data, &dl), DVC_PARTIAL);
	free(c);
	/* DATA_FIRST and compressed data: set aside. */
	assert_int_equal(dvc_parse((const uint8_t *)"\x24\x01\x10\x00", 4, &d), DVC_PARTIAL);
	assert_int_equal(dvc_parse((const uint8_t *)"\x70\x01", 2, &d), DVC_PARTIAL);
	assert_int_equal(dvc_parse((const uint8_t *)"\x24\x01", 2, &d), DVC_ERR_TRUNCATED);
	/* Unknown command; 4-byte and bad channel id sizes. */
	assert_int_equal(dvc_parse((const uint8_t *)"\xf0\x01", 2, &d), DVC_ERR_CMD);
	assert_int_equal(dvc_parse((const uint8_t *)"\x32\x01\x00\x00\x00\xaa", 6, &d), DVC_OK);
	assert_int_equal(d.channel_id, 1);
	assert_int_equal(d.data_len, 1);
	assert_int_equal(dvc_parse((const uint8_t *)"\x33\x01\x00\x00\x00", 5, &d), DVC_ERR_TRUNCATED);
}

static void
test_layout_limits(void **state)
{
	uint8_t b[8 + 8 + 40 * (DVC_MONITORS_MAX + 1)];
	struct wr w;
	uint32_t width, height, i;

	(void)state;
	for (i = DVC_MONITORS_MAX; i <= DVC_MONITORS_MAX + 1; i++) {
		uint32_t k;

		wr_init(&w, b, sizeof b);
		wr_u32le(&w, 2);
		wr_u32le(&w, 16 + 40 * i);
		wr_u32le(&w, 40);
		wr_u32le(&w, i);
		for (k = 0; k < i; k++) {
			wr_u32le(&w, k == 3 ? 1 : 0);   /* the fourth is primary */
			wr_u32le(&w, 0);
			wr_u32le(&w, 0);
			wr_u32le(&w, 100 * (k + 1));
			wr_u32le(&w, 50 * (k + 1));
			wr_zero(&w, 20);
		}
		assert_false(w.err);
		width = height = 0;
		if (i <= DVC_MONITORS_MAX) {
			assert_int_equal(disp_parse_monitor_layout(b, w.len, &width, &height), DVC_OK);
			assert_int_equal(width, 400);
			assert_int_equal(height, 200);
		} else {
			assert_int_equal(disp_parse_monitor_layout(b, w.len, &width, &height), DVC_ERR_LAYOUT);
		}
	}
	/* Zero monitors; a zero-sized monitor; another PDU type. */
	wr_init(&w, b, sizeof b);
	wr_u32le(&w, 2);
	wr_u32le(&w, 16);
	wr_u32le(&w, 40);
	wr_u32le(&w, 0);
	assert_int_equal(disp_parse_monitor_layout(b, w.len, &width, &height), DVC_ERR_LAYOUT);
	wr_init(&w, b, sizeof b);
	wr_u32le(&w, 2);
	wr_u32le(&w, 56);
	wr_u32le(&w, 40);
	wr_u32le(&w, 1);
	wr_zero(&w, 40);
	width = height = 0;
	assert_int_equal(disp_parse_monitor_layout(b, w.len, &width, &height), DVC_ERR_LAYOUT);
	b[0] = 5;
	assert_int_equal(disp_parse_monitor_layout(b, w.len, &width, &height), DVC_ERR_CMD);
}

static void
test_builders(void **state)
{
	uint8_t b[128];
	struct wr w;

	(void)state;
	wr_init(&w, b, sizeof b);
	dvc_write_caps_request(&w);
	assert_int_equal(w.len, 4);
	assert_memory_equal(b, "\x50\x00\x01\x00", 4);
	wr_init(&w, b, sizeof b);
	dvc_write_create_request(&w, 1, DVC_DISPLAY_CONTROL_NAME);
	assert_int_equal(w.len, 2 + strlen(DVC_DISPLAY_CONTROL_NAME) + 1);
	assert_int_equal(b[0], 0x10);
	assert_int_equal(b[w.len - 1], 0);
	wr_init(&w, b, sizeof b);
	dvc_write_data_header(&w, 1);
	disp_write_caps(&w, 4096, 2048);
	assert_int_equal(w.len, 22);
	assert_memory_equal(b, "\x30\x01\x05\x00\x00\x00\x14\x00\x00\x00\x01\x00\x00\x00\x00\x10\x00\x00\x00\x08\x00\x00", 22);
	wr_init(&w, b, sizeof b);
	svc_write_header(&w, 22);
	assert_memory_equal(b, "\x16\x00\x00\x00\x03\x00\x00\x00", 8);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_messages),
		cmocka_unit_test(test_truncated_and_lengths),
		cmocka_unit_test(test_partial_and_unknown),
		cmocka_unit_test(test_layout_limits),
		cmocka_unit_test(test_builders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
