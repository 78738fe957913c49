/*
 * caps.c: Demand Active / Confirm Active (caps.h).
 *
 * What we offer: general (fast-path output, long credentials, no bitmap
 * compression header), bitmap (our desktop size and colour depth, resize
 * allowed, compression allowed), order (no orders: everything is bitmap
 * updates), pointer (colour pointers, small caches), input (scancodes,
 * unicode, fast-path), virtual channel (no compression), share, font,
 * multifragment update.  No large pointer, no surface commands.
 *
 * Confirm Active: lengthSourceDescriptor and lengthCombinedCapabilities
 * must fit the PDU; numberCapabilities at most RDP_CAPSETS_MAX, each set's
 * length at least 4 and inside the combined length; unknown sets are
 * skipped; a known set shorter than the fields we read is an error.
 */
#include <string.h>

#include "rdp_limits.h"
#include "rdp_stream.h"
#include "caps.h"
#include "pdu.h"

static size_t
cap_begin(struct wr *w, uint16_t type)
{
	size_t start = w->len;

	wr_u16le(w, type);
	wr_u16le(w, 0);
	return start;
}

static void
cap_end(struct wr *w, size_t start)
{
	wr_put_u16le_at(w, start + 2, (unsigned)(w->len - start));
}

void
caps_write_demand_active(struct wr *w, const struct caps_server *s)
{
	size_t pdu, comb_len_at, comb_start, c;
	unsigned ncaps = 0;

	pdu = pdu_begin_control(w, PDUTYPE_DEMANDACTIVEPDU, s->source);
	wr_u32le(w, s->share_id);
	wr_u16le(w, 4);                 /* lengthSourceDescriptor */
	comb_len_at = w->len;
	wr_u16le(w, 0);                 /* lengthCombinedCapabilities, patched */
	wr_bytes(w, "RDP", 4);
	comb_start = w->len;
	wr_u16le(w, 0);                 /* numberCapabilities, patched */
	wr_u16le(w, 0);

	c = cap_begin(w, CAPSTYPE_GENERAL);
	wr_u16le(w, 1);                 /* OSMAJORTYPE_WINDOWS: clients special-case nothing else */
	wr_u16le(w, 3);                 /* OSMINORTYPE_WINDOWS_NT */
	wr_u16le(w, 0x0200);            /* TS_CAPS_PROTOCOLVERSION */
	wr_u16le(w, 0);
	wr_u16le(w, 0);                 /* generalCompressionTypes */
	wr_u16le(w, FASTPATH_OUTPUT_SUPPORTED | LONG_CREDENTIALS_SUPPORTED | NO_BITMAP_COMPRESSION_HDR);
	wr_u16le(w, 0);
	wr_u16le(w, 0);
	wr_u16le(w, 0);
	wr_u8(w, 1);                    /* refreshRectSupport */
	wr_u8(w, 1);                    /* suppressOutputSupport */
	cap_end(w, c);
	ncaps++;

	c = cap_begin(w, CAPSTYPE_BITMAP);
	wr_u16le(w, s->bpp);
	wr_u16le(w, 1);
	wr_u16le(w, 1);
	wr_u16le(w, 1);
	wr_u16le(w, s->width);
	wr_u16le(w, s->height);
	wr_u16le(w, 0);
	wr_u16le(w, 1);                 /* desktopResizeFlag */
	wr_u16le(w, 1);                 /* bitmapCompressionFlag */
	wr_u8(w, 0);
	wr_u8(w, 0);
	wr_u16le(w, 1);                 /* multipleRectangleSupport */
	wr_u16le(w, 0);
	cap_end(w, c);
	ncaps++;

	c = cap_begin(w, CAPSTYPE_ORDER);
	wr_zero(w, 16);                 /* terminalDescriptor */
	wr_u32le(w, 0);
	wr_u16le(w, 1);                 /* desktopSaveXGranularity */
	wr_u16le(w, 20);                /* desktopSaveYGranularity */
	wr_u16le(w, 0);
	wr_u16le(w, 1);                 /* maximumOrderLevel */
	wr_u16le(w, 0);                 /* numberFonts */
	wr_u16le(w, 0x0022);            /* NEGOTIATEORDERSUPPORT | ZEROBOUNDSDELTASSUPPORT */
	wr_zero(w, 32);                 /* orderSupport: none */
	wr_u16le(w, 0);
	wr_u16le(w, 0);
	wr_u32le(w, 0);
	wr_u32le(w, 0);                 /* desktopSaveSize */
	wr_u16le(w, 0);
	wr_u16le(w, 0);
	wr_u16le(w, 0);
	wr_u16le(w, 0);
	cap_end(w, c);
	ncaps++;

	c = cap_begin(w, CAPSTYPE_POINTER);
	wr_u16le(w, 1);                 /* colorPointerFlag */
	wr_u16le(w, 25);
	wr_u16le(w, 25);
	cap_end(w, c);
	ncaps++;

	c = cap_begin(w, CAPSTYPE_INPUT);
	wr_u16le(w, INPUT_FLAG_SCANCODES | INPUT_FLAG_MOUSEX | INPUT_FLAG_FASTPATH_INPUT | INPUT_FLAG_UNICODE |
	            INPUT_FLAG_FASTPATH_INPUT2);
	wr_u16le(w, 0);
	wr_u32le(w, 0x409);             /* keyboardLayout: en-US */
	wr_u32le(w, 4);                 /* IBM enhanced (101/102) */
	wr_u32le(w, 0);
	wr_u32le(w, 12);
	wr_zero(w, 64);
	cap_end(w, c);
	ncaps++;

	c = cap_begin(w, CAPSTYPE_VIRTUALCHANNEL);
	wr_u32le(w, 0);                 /* VCCAPS_NO_COMPR */
	wr_u32le(w, 1600);              /* VCChunkSize */
	cap_end(w, c);
	ncaps++;

	c = cap_begin(w, CAPSTYPE_SHARE);
	wr_u16le(w, s->source);
	wr_u16le(w, 0);
	cap_end(w, c);
	ncaps++;

	c = cap_begin(w, CAPSTYPE_FONT);
	wr_u16le(w, 1);                 /* FONTSUPPORT_FONTLIST */
	wr_u16le(w, 0);
	cap_end(w, c);
	ncaps++;

	c = cap_begin(w, CAPSETTYPE_MULTIFRAGMENTUPDATE);
	wr_u32le(w, s->multifrag_max);
	cap_end(w, c);
	ncaps++;

	wr_put_u16le_at(w, comb_start, ncaps);
	wr_put_u16le_at(w, comb_len_at, (unsigned)(w->len - comb_start));
	wr_u32le(w, 0);                 /* sessionId */
	pdu_end_control(w, pdu);
}

int
caps_parse_confirm_active(const uint8_t *p, size_t n, struct caps_client *cc)
{
	struct share_pdu sp;
	struct rd r, comb;
	uint16_t lsrc, lcomb, ncaps, i;
	int rc;

	memset(cc, 0, sizeof *cc);
	if ((rc = pdu_parse_share(p, n, &sp)) != PDU_OK)
		return rc == PDU_ERR_TRUNCATED ? CAPS_ERR_TRUNCATED : CAPS_ERR_LENGTH;
	if (sp.pdu_type != PDUTYPE_CONFIRMACTIVEPDU)
		return CAPS_ERR_TYPE;
	rd_init(&r, sp.body, sp.body_len);
	cc->share_id = rd_u32le(&r);
	rd_u16le(&r);                   /* originatorId */
	lsrc = rd_u16le(&r);
	lcomb = rd_u16le(&r);
	if (r.err)
		return CAPS_ERR_TRUNCATED;
	if (lsrc > RDP_SOURCE_DESCRIPTOR_MAX_BYTES || lsrc > rd_left(&r))
		return CAPS_ERR_LENGTH;
	rd_skip(&r, lsrc);
	if (lcomb > rd_left(&r) || lcomb < 4)
		return CAPS_ERR_LENGTH;
	comb = rd_sub(&r, lcomb);
	ncaps = rd_u16le(&comb);
	rd_u16le(&comb);
	if (ncaps > RDP_CAPSETS_MAX)
		return CAPS_ERR_TOO_MANY;
	for (i = 0; i < ncaps; i++) {
		uint16_t type, len;
		struct rd s;

		type = rd_u16le(&comb);
		len = rd_u16le(&comb);
		if (comb.err)
			return CAPS_ERR_TRUNCATED;
		if (len < 4 || (size_t)len - 4 > rd_left(&comb))
			return CAPS_ERR_LENGTH;
		s = rd_sub(&comb, (size_t)len - 4);
		cc->nsets++;
		switch (type) {
		case CAPSTYPE_GENERAL:
			if (rd_left(&s) < 12)
				return CAPS_ERR_SET;
			rd_skip(&s, 10);
			cc->general_extra_flags = rd_u16le(&s);
			cc->has_general = 1;
			break;
		case CAPSTYPE_BITMAP:
			if (rd_left(&s) < 20)
				return CAPS_ERR_SET;
			cc->bitmap_bpp = rd_u16le(&s);
			rd_skip(&s, 6);
			cc->bitmap_width = rd_u16le(&s);
			cc->bitmap_height = rd_u16le(&s);
			rd_skip(&s, 4);
			cc->bitmap_compression = rd_u16le(&s);
			cc->has_bitmap = 1;
			break;
		case CAPSTYPE_INPUT:
			if (rd_left(&s) < 2)
				return CAPS_ERR_SET;
			cc->input_flags = rd_u16le(&s);
			cc->has_input = 1;
			break;
		case CAPSETTYPE_MULTIFRAGMENTUPDATE:
			if (rd_left(&s) < 4)
				return CAPS_ERR_SET;
			cc->multifrag_max = rd_u32le(&s);
			cc->has_multifrag = 1;
			break;
		default:
			cc->nunknown++;
			break;
		}
		if (s.err)
			return CAPS_ERR_SET;
	}
	/* Bytes after the sets inside lengthCombinedCapabilities are tolerated
	 * (rdesktop pads); after it, the 4-byte sessionId may follow. */
	return CAPS_OK;
}

const char *
caps_strerror(int status)
{
	switch (status) {
	case CAPS_OK: return "ok";
	case CAPS_ERR_TRUNCATED: return "truncated";
	case CAPS_ERR_TYPE: return "not a confirm active";
	case CAPS_ERR_LENGTH: return "bad length";
	case CAPS_ERR_TOO_MANY: return "too many capability sets";
	case CAPS_ERR_SET: return "short capability set";
	}
	return "unknown";
}
