/*
 * test_rdp_pdu.c: unit tests for src/rdp/pdu.c, caps.c, fastpath.c and
 * update.c: share control/data headers, the finalization PDUs, the
 * Confirm Active of real clients (and hostile ones: lengths +-1, too many
 * sets, unknown sets, short known sets), slow-path and fast-path input
 * (real events, counts and lengths that disagree, encrypted or unknown
 * events), our Demand Active and bitmap update layouts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rdp/caps.h"
#include "rdp/fastpath.h"
#include "rdp/pdu.h"
#include "rdp/rdp_limits.h"
#include "rdp/rdp_stream.h"
#include "rdp/update.h"
#include "rdp_captured.h"
#include "rdp_test.h"

#define SDR_OFF_2 15   /* ... with a 2-byte one */

struct events {
	size_t n;
	struct rdp_input_event ev[64];
};

static void
collect(void *arg, const struct rdp_input_event *ev)
{
	struct events *e = arg;

	if (e->n < 64)
		e->ev[e->n++] = *ev;
}

static void
test_share_headers(void **state)
{
	struct share_pdu sp;
	struct pdu_control ctl;
	uint16_t target;
	uint8_t *c;
	size_t n = sizeof xf_sync - SDR_OFF_2;

	(void)state;
	/* xf_sync: "70 80 16": a 2-byte PER length. */
	assert_int_equal(pdu_parse_share(xf_sync + SDR_OFF_2, n, &sp), PDU_OK);
	assert_int_equal(sp.pdu_type, PDUTYPE_DATAPDU);
	assert_int_equal(sp.pdu_type2, PDUTYPE2_SYNCHRONIZE);
	assert_int_equal(pdu_parse_synchronize(sp.body, sp.body_len, &target), PDU_OK);
	assert_int_equal(pdu_parse_share(xf_control_req + SDR_OFF_2, sizeof xf_control_req - SDR_OFF_2, &sp), PDU_OK);
	assert_int_equal(pdu_parse_control(sp.body, sp.body_len, &ctl), PDU_OK);
	assert_int_equal(ctl.action, CTRLACTION_REQUEST_CONTROL);
	assert_int_equal(pdu_parse_share(xf_font_list + SDR_OFF_2, sizeof xf_font_list - SDR_OFF_2, &sp), PDU_OK);
	assert_int_equal(sp.pdu_type2, PDUTYPE2_FONTLIST);
	assert_int_equal(pdu_parse_font_list(sp.body, sp.body_len), PDU_OK);
	assert_int_equal(pdu_parse_font_list(sp.body, sp.body_len - 1), PDU_ERR_TRUNCATED);

	/* totalLength +-1, truncation at every byte. */
	c = rt_dup(xf_sync + SDR_OFF_2, n);
	c[0]++;
	assert_int_equal(pdu_parse_share(c, n, &sp), PDU_ERR_LENGTH);
	c[0] = (uint8_t)(c[0] - 2);
	assert_int_equal(pdu_parse_share(c, n, &sp), PDU_ERR_LENGTH);
	free(c);
	{
		size_t i;

		for (i = 0; i < n; i++) {
			c = rt_dup(xf_sync + SDR_OFF_2, i);
			assert_int_not_equal(pdu_parse_share(c, i, &sp), PDU_OK);
			free(c);
		}
	}
	/* Bulk compression we never offered. */
	c = rt_dup(xf_sync + SDR_OFF_2, n);
	c[15] = 0x20;
	assert_int_equal(pdu_parse_share(c, n, &sp), PDU_ERR_COMPRESSED);
	free(c);
	/* A flow control PDU. */
	assert_int_equal(pdu_parse_share((const uint8_t *)"\x00\x80\x41\x00\x00\x00\x00\x00", 8, &sp), PDU_ERR_FLOW);
	/* Synchronize with a messageType other than SYNC. */
	assert_int_equal(pdu_parse_synchronize((const uint8_t *)"\x02\x00\xea\x03", 4, &target), PDU_ERR_LENGTH);
	assert_int_equal(pdu_parse_synchronize((const uint8_t *)"\x01\x00\xea", 3, &target), PDU_ERR_TRUNCATED);
}

static void
test_confirm_active_real(void **state)
{
	struct caps_client cc;

	(void)state;
	assert_int_equal(caps_parse_confirm_active(xf_confirm_active + SDR_OFF_2, sizeof xf_confirm_active - SDR_OFF_2,
	                                           &cc), CAPS_OK);
	assert_int_equal(cc.share_id, 0x000103ea);
	assert_true(cc.has_general);
	assert_true(cc.general_extra_flags & FASTPATH_OUTPUT_SUPPORTED);
	assert_true(cc.general_extra_flags & NO_BITMAP_COMPRESSION_HDR);
	assert_true(cc.has_bitmap);
	assert_int_equal(cc.bitmap_bpp, 16);
	assert_int_equal(cc.bitmap_width, 800);
	assert_true(cc.has_multifrag);
	assert_int_equal(cc.nsets, 16);
	assert_int_equal(caps_parse_confirm_active(rd_confirm_active + SDR_OFF_2, sizeof rd_confirm_active - SDR_OFF_2,
	                                           &cc), CAPS_OK);
	assert_int_equal(cc.bitmap_width, 640);
}

static void
test_confirm_active_hostile(void **state)
{
	const uint8_t *d = xf_confirm_active + SDR_OFF_2;
	size_t n = sizeof xf_confirm_active - SDR_OFF_2, i, off;
	struct caps_client cc;
	uint8_t *c;
	int delta;

	(void)state;
	for (i = 0; i < n; i++) {
		c = rt_dup(d, i);
		assert_int_not_equal(caps_parse_confirm_active(c, i, &cc), CAPS_OK);
		free(c);
	}
	/* lengthSourceDescriptor (12) and lengthCombinedCapabilities (14) too large. */
	c = rt_dup(d, n);
	c[12] = 0xff;
	assert_int_equal(caps_parse_confirm_active(c, n, &cc), CAPS_ERR_LENGTH);
	free(c);
	c = rt_dup(d, n);
	c[14] = (uint8_t)(c[14] + 1);
	assert_int_equal(caps_parse_confirm_active(c, n, &cc), CAPS_ERR_LENGTH);
	free(c);
	/* numberCapabilities over the limit, and one more than present. */
	c = rt_dup(d, n);
	c[24] = RDP_CAPSETS_MAX + 1;
	assert_int_equal(caps_parse_confirm_active(c, n, &cc), CAPS_ERR_TOO_MANY);
	c[24] = 17;
	assert_int_not_equal(caps_parse_confirm_active(c, n, &cc), CAPS_OK);
	free(c);
	/* Each set's length: below 4, and one more than fits for the last. */
	for (off = 28, i = 0; i < 16; i++) {
		size_t len = (size_t)(d[off + 2] | d[off + 3] << 8);

		c = rt_dup(d, n);
		c[off + 2] = 3;
		c[off + 3] = 0;
		assert_int_equal(caps_parse_confirm_active(c, n, &cc), CAPS_ERR_LENGTH);
		free(c);
		for (delta = -1; delta <= 1; delta += 2) {
			/* Off by one: the sets no longer tile, some later set or
			 * the count breaks (the parse must never succeed with the
			 * same number of sets read from misaligned data). */
			c = rt_dup(d, n);
			c[off + 2] = (uint8_t)(c[off + 2] + delta);
			if (caps_parse_confirm_active(c, n, &cc) == CAPS_OK)
				assert_int_not_equal(cc.nunknown, 0);
			free(c);
		}
		off += len;
	}
	/* An unknown set type is skipped. */
	c = rt_dup(d, n);
	c[28] = 0x77;
	assert_int_equal(caps_parse_confirm_active(c, n, &cc), CAPS_OK);
	assert_int_equal(cc.nunknown, 16 - 4 + 1);   /* 4 kinds of sets are read */
	/* A known set (input, 13) with a length too short for what we read. */
	memcpy(c, d, n);
	c[28] = CAPSTYPE_BITMAP;   /* general's 24 bytes read as bitmap: long enough */
	assert_int_equal(caps_parse_confirm_active(c, n, &cc), CAPS_OK);
	free(c);
	/* Not a confirm active. */
	c = rt_dup(d, n);
	c[2] = PDUTYPE_DEMANDACTIVEPDU | 0x10;
	assert_int_equal(caps_parse_confirm_active(c, n, &cc), CAPS_ERR_TYPE);
	free(c);
}

static void
test_demand_active(void **state)
{
	struct caps_server cs = { 0x000103ea, 1002, 1024, 768, 16, 65536 };
	struct caps_client cc;
	uint8_t b[1024];
	struct wr w;

	(void)state;
	wr_init(&w, b, sizeof b);
	caps_write_demand_active(&w, &cs);
	assert_false(w.err);
	assert_int_equal(b[0] | b[1] << 8, w.len);
	assert_int_equal(b[2], PDUTYPE_DEMANDACTIVEPDU | 0x10);
	/* Read back with the confirm parser: the same layout but for the
	 * originatorId a Confirm Active has after shareId. */
	{
		uint8_t c2[1024];

		memcpy(c2, b, 10);
		c2[10] = 0xea;
		c2[11] = 0x03;
		memcpy(c2 + 12, b + 10, w.len - 10);
		c2[0] = (uint8_t)(w.len + 2);
		c2[1] = (uint8_t)((w.len + 2) >> 8);
		c2[2] = PDUTYPE_CONFIRMACTIVEPDU | 0x10;
		assert_int_equal(caps_parse_confirm_active(c2, w.len + 2, &cc), CAPS_OK);
	}
	assert_int_equal(cc.nsets, 9);
	assert_int_equal(cc.bitmap_width, 1024);
	assert_int_equal(cc.bitmap_height, 768);
	assert_int_equal(cc.bitmap_bpp, 16);
	assert_int_equal(cc.input_flags & INPUT_FLAG_UNICODE, INPUT_FLAG_UNICODE);
	assert_int_equal(cc.multifrag_max, 65536);
	wr_init(&w, b, 100);
	caps_write_demand_active(&w, &cs);
	assert_true(w.err);
}

static void
test_slowpath_input(void **state)
{
	struct share_pdu sp;
	struct events e;
	uint8_t b[4 + 3 * 12];

	(void)state;
	memset(&e, 0, sizeof e);
	assert_int_equal(pdu_parse_share(rd_input + SDR_OFF_2, sizeof rd_input - SDR_OFF_2, &sp), PDU_OK);
	assert_int_equal(sp.pdu_type2, PDUTYPE2_INPUT);
	assert_int_equal(pdu_parse_input(sp.body, sp.body_len, collect, &e), PDU_OK);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.ev[0].kind, RDP_INPUT_SYNC);

	/* scancode 'a' down, unicode U+65E5, wheel */
	memset(b, 0, sizeof b);
	b[0] = 3;
	b[8] = 0x04;
	b[10] = 0x00;
	b[11] = 0x40;   /* KBDFLAGS_DOWN */
	b[12] = 0x1e;
	b[20] = 0x05;
	b[24] = 0xe5;
	b[25] = 0x65;
	b[32] = 0x01;
	b[33] = 0x80;   /* mouse */
	b[35] = 0x02;   /* PTRFLAGS_WHEEL */
	memset(&e, 0, sizeof e);
	assert_int_equal(pdu_parse_input(b, sizeof b, collect, &e), PDU_OK);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.ev[0].kind, RDP_INPUT_SCANCODE);
	assert_int_equal(e.ev[0].code, 0x1e);
	assert_int_equal(e.ev[0].flags, KBDFLAGS_DOWN);
	assert_int_equal(e.ev[1].kind, RDP_INPUT_UNICODE);
	assert_int_equal(e.ev[1].code, 0x65e5);
	assert_int_equal(e.ev[2].kind, RDP_INPUT_MOUSE);
	/* numEvents one too many or too few: nothing is delivered. */
	memset(&e, 0, sizeof e);
	b[0] = 4;
	assert_int_equal(pdu_parse_input(b, sizeof b, collect, &e), PDU_ERR_LENGTH);
	b[0] = 2;
	assert_int_equal(pdu_parse_input(b, sizeof b, collect, &e), PDU_ERR_LENGTH);
	assert_int_equal(e.n, 0);
	b[0] = 0;
	b[1] = 1;       /* 256 */
	assert_int_equal(pdu_parse_input(b, sizeof b, collect, &e), PDU_ERR_TOO_MANY);
	assert_int_equal(pdu_parse_input(b, 3, collect, &e), PDU_ERR_TRUNCATED);
}

static void
test_fastpath_input(void **state)
{
	struct events e;
	size_t len;
	uint8_t *c;

	(void)state;
	memset(&e, 0, sizeof e);
	assert_int_equal(fastpath_frame(xf_fp_key_down, sizeof xf_fp_key_down, 16384, &len), FASTPATH_OK);
	assert_int_equal(len, sizeof xf_fp_key_down);
	assert_int_equal(fastpath_parse_input(xf_fp_key_down, sizeof xf_fp_key_down, collect, &e), FASTPATH_OK);
	assert_int_equal(fastpath_parse_input(xf_fp_key_up, sizeof xf_fp_key_up, collect, &e), FASTPATH_OK);
	assert_int_equal(fastpath_parse_input(xf_fp_sync, sizeof xf_fp_sync, collect, &e), FASTPATH_OK);
	assert_int_equal(fastpath_parse_input(xf_fp_mouse, sizeof xf_fp_mouse, collect, &e), FASTPATH_OK);
	assert_int_equal(e.n, 6);
	assert_int_equal(e.ev[0].kind, RDP_INPUT_SCANCODE);
	assert_int_equal(e.ev[0].code, 0x1e);
	assert_int_equal(e.ev[0].flags, KBDFLAGS_DOWN);
	assert_int_equal(e.ev[1].flags, KBDFLAGS_RELEASE);
	assert_int_equal(e.ev[3].kind, RDP_INPUT_SYNC);
	assert_int_equal(e.ev[5].kind, RDP_INPUT_MOUSE);

	/* The length one too large and one too small. */
	c = rt_dup(xf_fp_sync, sizeof xf_fp_sync);
	c[2]++;
	assert_int_equal(fastpath_frame(c, sizeof xf_fp_sync, 16384, &len), FASTPATH_MORE);
	assert_int_not_equal(fastpath_parse_input(c, sizeof xf_fp_sync, collect, &e), FASTPATH_OK);
	c[2] = (uint8_t)(c[2] - 2);
	assert_int_not_equal(fastpath_parse_input(c, sizeof xf_fp_sync, collect, &e), FASTPATH_OK);
	free(c);
	/* numEvents one too many / too few. */
	c = rt_dup(xf_fp_sync, sizeof xf_fp_sync);
	c[0] = 4 << 2;
	assert_int_equal(fastpath_parse_input(c, sizeof xf_fp_sync, collect, &e), FASTPATH_ERR_LENGTH);
	c[0] = 2 << 2;
	assert_int_equal(fastpath_parse_input(c, sizeof xf_fp_sync, collect, &e), FASTPATH_ERR_LENGTH);
	/* Encrypted. */
	c[0] = 3 << 2 | 0x80;
	assert_int_equal(fastpath_parse_input(c, sizeof xf_fp_sync, collect, &e), FASTPATH_ERR_HEADER);
	free(c);
	assert_int_equal(e.n, 6);   /* none of the bad ones delivered anything */
	/* An unknown event code. */
	assert_int_equal(fastpath_parse_input((const uint8_t *)"\x04\x04\xe0\x00", 4, NULL, NULL), FASTPATH_ERR_EVENT);
	/* numEvents in its own byte (header says 0). */
	assert_int_equal(fastpath_parse_input((const uint8_t *)"\x00\x05\x01\x00\x1e", 5, collect, &e), FASTPATH_OK);
	assert_int_equal(e.n, 7);
	/* Lengths below the header. */
	assert_int_equal(fastpath_frame((const uint8_t *)"\x04\x01", 2, 16384, &len), FASTPATH_ERR_LENGTH);
	assert_int_equal(fastpath_frame((const uint8_t *)"\x04\x80\x02", 3, 16384, &len), FASTPATH_ERR_LENGTH);
	assert_int_equal(fastpath_frame((const uint8_t *)"\x04\xff\xff", 3, 16384, &len), FASTPATH_ERR_LENGTH);
	/* Truncation of a real PDU at every byte. */
	{
		size_t i;

		for (i = 0; i < sizeof xf_fp_mouse; i++) {
			c = rt_dup(xf_fp_mouse, i);
			assert_int_not_equal(fastpath_parse_input(c, i, NULL, NULL), FASTPATH_OK);
			free(c);
		}
	}
}

static void
test_update_layout(void **state)
{
	struct screen_bitmap bm = { 8, 16, 15, 31, 8, 16, 16, 0, 8 * 16 * 2 };
	uint8_t data[8 * 16 * 2], b[1024], h[16];
	struct wr w;
	size_t at;

	(void)state;
	memset(data, 0xab, sizeof data);
	wr_init(&w, b, sizeof b);
	at = update_bitmap_begin(&w);
	update_bitmap_rect(&w, &bm, data, 0);
	update_bitmap_end(&w, at, 1);
	assert_false(w.err);
	assert_int_equal(w.len, UPDATE_BITMAP_HEADER_BYTES + update_rect_bytes(&bm, 0));
	assert_int_equal(b[0], 1);      /* UPDATETYPE_BITMAP */
	assert_int_equal(b[2], 1);      /* numberRectangles */
	assert_int_equal(b[4], 8);      /* destLeft */
	assert_int_equal(b[8], 15);     /* destRight */
	assert_int_equal(b[16], 16);    /* bpp */
	assert_int_equal(b[20] | b[21] << 8, 256);
	/* Compressed, for a client that wants the TS_CD_HEADER. */
	bm.flags = SCREEN_BITMAP_COMPRESSION | SCREEN_NO_BITMAP_COMPRESSION_HDR;
	bm.length = 20;
	wr_init(&w, b, sizeof b);
	update_bitmap_rect(&w, &bm, data, 1);
	assert_int_equal(w.len, UPDATE_RECT_HEADER_BYTES + UPDATE_CD_HEADER_BYTES + 20);
	assert_int_equal(b[14] | b[15] << 8, SCREEN_BITMAP_COMPRESSION);
	assert_int_equal(b[16], 28);
	assert_int_equal(b[20], 20);    /* cbCompMainBodySize */
	/* The fast-path header. */
	wr_init(&w, h, sizeof h);
	fastpath_write_update_header(&w, FASTPATH_UPDATETYPE_BITMAP, 1000);
	assert_int_equal(w.len, FASTPATH_UPDATE_HEADER_BYTES);
	assert_memory_equal(h, "\x00\x83\xee\x01\xe8\x03", 6);
	wr_init(&w, h, sizeof h);
	fastpath_write_update_header(&w, FASTPATH_UPDATETYPE_BITMAP, RDP_FASTPATH_MAX_BYTES);
	assert_true(w.err);
}

static void
test_builders(void **state)
{
	struct share_pdu sp;
	uint8_t b[128];
	struct wr w;

	(void)state;
	wr_init(&w, b, sizeof b);
	pdu_write_font_map(&w, 0x103ea, 1002);
	assert_false(w.err);
	assert_int_equal(pdu_parse_share(b, w.len, &sp), PDU_OK);
	assert_int_equal(sp.pdu_type2, PDUTYPE2_FONTMAP);
	assert_int_equal(sp.body_len, 8);
	assert_int_equal(sp.uncompressed_length, 8);
	wr_init(&w, b, sizeof b);
	pdu_write_data_header(&w, 0x103ea, 1002, PDUTYPE2_UPDATE, 100);
	assert_int_equal(w.len, SHARE_DATA_HEADER_BYTES);
	assert_int_equal(b[0], 118);
	wr_init(&w, b, sizeof b);
	pdu_write_error_info(&w, 0x103ea, 1002, ERRINFO_LOGOFF_BY_USER);
	assert_int_equal(pdu_parse_share(b, w.len, &sp), PDU_OK);
	assert_int_equal(sp.body[0], ERRINFO_LOGOFF_BY_USER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share_headers),
		cmocka_unit_test(test_confirm_active_real),
		cmocka_unit_test(test_confirm_active_hostile),
		cmocka_unit_test(test_demand_active),
		cmocka_unit_test(test_slowpath_input),
		cmocka_unit_test(test_fastpath_input),
		cmocka_unit_test(test_update_layout),
		cmocka_unit_test(test_builders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
