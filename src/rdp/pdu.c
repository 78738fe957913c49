/*
 * pdu.c: share control/data PDUs (pdu.h).
 *
 * totalLength of the share control header must equal the Send Data
 * Request's user data exactly (mstsc, FreeRDP and rdesktop all do so);
 * uncompressedLength is not trusted for anything.  Compressed share data
 * is refused: we never offer bulk compression.  Input PDUs are checked
 * whole (numEvents against the bytes, RDP_SLOWPATH_EVENTS_MAX) before any
 * event is delivered.
 */
#include <string.h>

#include "rdp_limits.h"
#include "rdp_stream.h"
#include "pdu.h"

#define PACKET_COMPRESSED 0x20
#define STREAM_LOW 0x01
#define INPUT_EVENT_SYNC 0x0000
#define INPUT_EVENT_UNUSED 0x0002
#define INPUT_EVENT_SCANCODE 0x0004
#define INPUT_EVENT_UNICODE 0x0005
#define INPUT_EVENT_MOUSE 0x8001
#define INPUT_EVENT_MOUSEX 0x8002
#define INPUT_EVENT_BYTES 12

int
pdu_parse_share(const uint8_t *p, size_t n, struct share_pdu *s)
{
	struct rd r;

	memset(s, 0, sizeof *s);
	rd_init(&r, p, n);
	s->total_length = rd_u16le(&r);
	if (r.err)
		return PDU_ERR_TRUNCATED;
	if (s->total_length == 0x8000)
		return PDU_ERR_FLOW;
	s->pdu_type = rd_u16le(&r) & 0x0f;
	s->pdu_source = rd_u16le(&r);
	if (r.err)
		return PDU_ERR_TRUNCATED;
	if (s->total_length != n)
		return PDU_ERR_LENGTH;
	if (s->pdu_type == PDUTYPE_DATAPDU) {
		uint8_t ctype;

		s->share_id = rd_u32le(&r);
		rd_u8(&r);
		s->stream_id = rd_u8(&r);
		s->uncompressed_length = rd_u16le(&r);
		s->pdu_type2 = rd_u8(&r);
		ctype = rd_u8(&r);
		rd_u16le(&r);
		if (r.err)
			return PDU_ERR_TRUNCATED;
		if (ctype & PACKET_COMPRESSED)
			return PDU_ERR_COMPRESSED;
	}
	s->body = rd_ptr(&r);
	s->body_len = rd_left(&r);
	return PDU_OK;
}

int
pdu_parse_input(const uint8_t *p, size_t n, rdp_input_cb cb, void *arg)
{
	struct rd r;
	uint16_t nev, i;

	rd_init(&r, p, n);
	nev = rd_u16le(&r);
	rd_u16le(&r);
	if (r.err)
		return PDU_ERR_TRUNCATED;
	if (nev > RDP_SLOWPATH_EVENTS_MAX)
		return PDU_ERR_TOO_MANY;
	if ((size_t)nev * INPUT_EVENT_BYTES != rd_left(&r))
		return PDU_ERR_LENGTH;
	if (!cb)
		return PDU_OK;
	for (i = 0; i < nev; i++) {
		struct rdp_input_event ev;
		uint16_t type;

		memset(&ev, 0, sizeof ev);
		rd_u32le(&r);   /* eventTime */
		type = rd_u16le(&r);
		switch (type) {
		case INPUT_EVENT_SYNC:
			ev.kind = RDP_INPUT_SYNC;
			rd_u16le(&r);
			ev.toggles = rd_u32le(&r);
			break;
		case INPUT_EVENT_SCANCODE:
		case INPUT_EVENT_UNICODE:
			ev.kind = type == INPUT_EVENT_SCANCODE ? RDP_INPUT_SCANCODE : RDP_INPUT_UNICODE;
			ev.flags = rd_u16le(&r);
			ev.code = rd_u16le(&r);
			rd_u16le(&r);
			break;
		case INPUT_EVENT_MOUSE:
		case INPUT_EVENT_MOUSEX:
			ev.kind = RDP_INPUT_MOUSE;
			ev.flags = rd_u16le(&r);
			ev.x = rd_u16le(&r);
			ev.y = rd_u16le(&r);
			break;
		default:
			ev.kind = RDP_INPUT_OTHER;
			rd_skip(&r, 6);
			break;
		}
		cb(arg, &ev);
	}
	return PDU_OK;
}

int
pdu_parse_synchronize(const uint8_t *p, size_t n, uint16_t *target_user)
{
	struct rd r;

	rd_init(&r, p, n);
	if (rd_u16le(&r) != 1 && !r.err)
		return PDU_ERR_LENGTH;   /* messageType must be SYNCMSGTYPE_SYNC */
	*target_user = rd_u16le(&r);
	return r.err ? PDU_ERR_TRUNCATED : PDU_OK;
}

int
pdu_parse_control(const uint8_t *p, size_t n, struct pdu_control *c)
{
	struct rd r;

	rd_init(&r, p, n);
	c->action = rd_u16le(&r);
	c->grant_id = rd_u16le(&r);
	c->control_id = rd_u32le(&r);
	return r.err ? PDU_ERR_TRUNCATED : PDU_OK;
}

int
pdu_parse_font_list(const uint8_t *p, size_t n)
{
	/* numberFonts, totalNumFonts, listFlags, entrySize: nothing we use. */
	return n >= 8 ? PDU_OK : PDU_ERR_TRUNCATED;
}

int
pdu_parse_refresh_rect(const uint8_t *p, size_t n, struct pdu_rect *out, size_t *nout)
{
	struct rd r;
	uint8_t na, i;

	rd_init(&r, p, n);
	na = rd_u8(&r);
	rd_skip(&r, 3);
	if (r.err)
		return PDU_ERR_TRUNCATED;
	if ((size_t)na * 8 > rd_left(&r))
		return PDU_ERR_TRUNCATED;
	if (na > PDU_REFRESH_AREAS_MAX)
		return PDU_ERR_TOO_MANY;
	for (i = 0; i < na; i++) {
		out[i].left = rd_u16le(&r);
		out[i].top = rd_u16le(&r);
		out[i].right = rd_u16le(&r);
		out[i].bottom = rd_u16le(&r);
	}
	*nout = na;
	return PDU_OK;
}

int
pdu_parse_suppress_output(const uint8_t *p, size_t n, int *allow)
{
	struct rd r;

	rd_init(&r, p, n);
	*allow = rd_u8(&r) != 0;
	rd_skip(&r, 3);
	if (!r.err && *allow)
		rd_skip(&r, 8);   /* desktopRect */
	return r.err ? PDU_ERR_TRUNCATED : PDU_OK;
}

size_t
pdu_begin_control(struct wr *w, uint16_t pdu_type, uint16_t source)
{
	size_t start = w->len;

	wr_u16le(w, 0);
	wr_u16le(w, (unsigned)(pdu_type | PDU_VERSION));
	wr_u16le(w, source);
	return start;
}

void
pdu_end_control(struct wr *w, size_t start)
{
	if (w->len - start > 0xffff)
		w->err = 1;
	wr_put_u16le_at(w, start, (unsigned)(w->len - start));
}

size_t
pdu_begin_data(struct wr *w, uint32_t share_id, uint16_t source, uint8_t pdu_type2)
{
	size_t start = pdu_begin_control(w, PDUTYPE_DATAPDU, source);

	wr_u32le(w, share_id);
	wr_u8(w, 0);
	wr_u8(w, STREAM_LOW);
	wr_u16le(w, 0);        /* uncompressedLength, patched */
	wr_u8(w, pdu_type2);
	wr_u8(w, 0);
	wr_u16le(w, 0);
	return start;
}

void
pdu_end_data(struct wr *w, size_t start)
{
	pdu_end_control(w, start);
	/* uncompressedLength: the body after the share data header. */
	wr_put_u16le_at(w, start + 12, (unsigned)(w->len - start - SHARE_DATA_HEADER_BYTES));
}

void
pdu_write_data_header(struct wr *w, uint32_t share_id, uint16_t source, uint8_t pdu_type2, size_t body_len)
{
	if (body_len > 0xffff - SHARE_DATA_HEADER_BYTES) {
		w->err = 1;
		return;
	}
	wr_u16le(w, (unsigned)(body_len + SHARE_DATA_HEADER_BYTES));
	wr_u16le(w, PDUTYPE_DATAPDU | PDU_VERSION);
	wr_u16le(w, source);
	wr_u32le(w, share_id);
	wr_u8(w, 0);
	wr_u8(w, STREAM_LOW);
	wr_u16le(w, (unsigned)body_len);
	wr_u8(w, pdu_type2);
	wr_u8(w, 0);
	wr_u16le(w, 0);
}

void
pdu_write_synchronize(struct wr *w, uint32_t share_id, uint16_t source, uint16_t target_user)
{
	size_t s = pdu_begin_data(w, share_id, source, PDUTYPE2_SYNCHRONIZE);

	wr_u16le(w, 1);
	wr_u16le(w, target_user);
	pdu_end_data(w, s);
}

void
pdu_write_control(struct wr *w, uint32_t share_id, uint16_t source, uint16_t action, uint16_t grant_id,
                  uint32_t control_id)
{
	size_t s = pdu_begin_data(w, share_id, source, PDUTYPE2_CONTROL);

	wr_u16le(w, action);
	wr_u16le(w, grant_id);
	wr_u32le(w, control_id);
	pdu_end_data(w, s);
}

void
pdu_write_font_map(struct wr *w, uint32_t share_id, uint16_t source)
{
	size_t s = pdu_begin_data(w, share_id, source, PDUTYPE2_FONTMAP);

	wr_u16le(w, 0);        /* numberEntries */
	wr_u16le(w, 0);        /* totalNumEntries */
	wr_u16le(w, 0x0003);   /* FONTMAP_FIRST | FONTMAP_LAST */
	wr_u16le(w, 0x0004);   /* entrySize */
	pdu_end_data(w, s);
}

void
pdu_write_shutdown_denied(struct wr *w, uint32_t share_id, uint16_t source)
{
	size_t s = pdu_begin_data(w, share_id, source, PDUTYPE2_SHUTDOWN_DENIED);

	pdu_end_data(w, s);
}

void
pdu_write_error_info(struct wr *w, uint32_t share_id, uint16_t source, uint32_t info)
{
	size_t s = pdu_begin_data(w, share_id, source, PDUTYPE2_SET_ERROR_INFO_PDU);

	wr_u32le(w, info);
	pdu_end_data(w, s);
}

void
pdu_write_deactivate_all(struct wr *w, uint32_t share_id, uint16_t source)
{
	size_t s = pdu_begin_control(w, PDUTYPE_DEACTIVATEALLPDU, source);

	wr_u32le(w, share_id);
	wr_u16le(w, 1);        /* lengthSourceDescriptor */
	wr_u8(w, 0);
	pdu_end_control(w, s);
}

const char *
pdu_strerror(int status)
{
	switch (status) {
	case PDU_OK: return "ok";
	case PDU_ERR_TRUNCATED: return "truncated";
	case PDU_ERR_LENGTH: return "bad length";
	case PDU_ERR_COMPRESSED: return "compressed data";
	case PDU_ERR_EVENT: return "bad input event";
	case PDU_ERR_TOO_MANY: return "too many entries";
	case PDU_ERR_FLOW: return "flow control";
	}
	return "unknown";
}
