/*
 * fastpath.c: fast-path input and output (fastpath.h).
 *
 * Input: the PDU length (1 or 2 bytes) must be at least the header and
 * at most RDP_PDU_MAX_BYTES; encrypted or checksummed PDUs are refused
 * (we negotiated TLS, no RDP encryption); numEvents (in the header, or in
 * a byte after the length when the header says 0) must account for every
 * byte of the PDU exactly, each event's size being fixed by its code.
 */
#include <string.h>

#include "rdp_limits.h"
#include "rdp_stream.h"
#include "fastpath.h"

#define FASTPATH_INPUT_EVENT_SCANCODE 0
#define FASTPATH_INPUT_EVENT_MOUSE 1
#define FASTPATH_INPUT_EVENT_MOUSEX 2
#define FASTPATH_INPUT_EVENT_SYNC 3
#define FASTPATH_INPUT_EVENT_UNICODE 4
#define FASTPATH_INPUT_EVENT_RELMOUSE 5
#define FASTPATH_INPUT_EVENT_QOE_TIMESTAMP 6
#define FASTPATH_INPUT_KBDFLAGS_RELEASE 0x01
#define FASTPATH_INPUT_KBDFLAGS_EXTENDED 0x02
#define FASTPATH_INPUT_KBDFLAGS_EXTENDED1 0x04

int
fastpath_frame(const uint8_t *p, size_t n, size_t max, size_t *pdu_len)
{
	size_t len;

	if (n < 1)
		return FASTPATH_MORE;
	if ((p[0] & 0x03) != 0)
		return FASTPATH_ERR_HEADER;
	if (p[0] & 0xc0)
		return FASTPATH_ERR_HEADER;   /* encrypted / checksum: never under TLS */
	if (n < 2)
		return FASTPATH_MORE;
	if (p[1] & 0x80) {
		if (n < 3)
			return FASTPATH_MORE;
		len = (size_t)(p[1] & 0x7f) << 8 | p[2];
		if (len < 3)
			return FASTPATH_ERR_LENGTH;
	} else {
		len = p[1];
		if (len < 2)
			return FASTPATH_ERR_LENGTH;
	}
	if (len > max)
		return FASTPATH_ERR_LENGTH;
	if (n < len)
		return FASTPATH_MORE;
	*pdu_len = len;
	return FASTPATH_OK;
}

static int
walk(struct rd *r, unsigned nev, rdp_input_cb cb, void *arg)
{
	unsigned i;

	for (i = 0; i < nev; i++) {
		struct rdp_input_event ev;
		uint8_t h = rd_u8(r);
		uint8_t fl = h & 0x1f;

		if (r->err)
			return FASTPATH_ERR_LENGTH;
		memset(&ev, 0, sizeof ev);
		switch (h >> 5) {
		case FASTPATH_INPUT_EVENT_SCANCODE:
			ev.kind = RDP_INPUT_SCANCODE;
			ev.code = rd_u8(r);
			ev.flags = (uint16_t)((fl & FASTPATH_INPUT_KBDFLAGS_RELEASE ? KBDFLAGS_RELEASE : KBDFLAGS_DOWN) |
			                      (fl & FASTPATH_INPUT_KBDFLAGS_EXTENDED ? KBDFLAGS_EXTENDED : 0) |
			                      (fl & FASTPATH_INPUT_KBDFLAGS_EXTENDED1 ? KBDFLAGS_EXTENDED1 : 0));
			break;
		case FASTPATH_INPUT_EVENT_MOUSE:
		case FASTPATH_INPUT_EVENT_MOUSEX:
			ev.kind = RDP_INPUT_MOUSE;
			ev.flags = rd_u16le(r);
			ev.x = rd_u16le(r);
			ev.y = rd_u16le(r);
			break;
		case FASTPATH_INPUT_EVENT_SYNC:
			ev.kind = RDP_INPUT_SYNC;
			ev.toggles = fl;
			break;
		case FASTPATH_INPUT_EVENT_UNICODE:
			ev.kind = RDP_INPUT_UNICODE;
			ev.code = rd_u16le(r);
			ev.flags = fl & FASTPATH_INPUT_KBDFLAGS_RELEASE ? KBDFLAGS_RELEASE : 0;
			break;
		case FASTPATH_INPUT_EVENT_RELMOUSE:
			ev.kind = RDP_INPUT_MOUSE;
			rd_skip(r, 6);
			break;
		case FASTPATH_INPUT_EVENT_QOE_TIMESTAMP:
			ev.kind = RDP_INPUT_OTHER;
			rd_skip(r, 4);
			break;
		default:
			return FASTPATH_ERR_EVENT;
		}
		if (r->err)
			return FASTPATH_ERR_LENGTH;
		if (cb)
			cb(arg, &ev);
	}
	return rd_left(r) == 0 ? FASTPATH_OK : FASTPATH_ERR_LENGTH;
}

int
fastpath_parse_input(const uint8_t *p, size_t n, rdp_input_cb cb, void *arg)
{
	struct rd r;
	size_t len;
	unsigned nev;
	int rc;

	if ((rc = fastpath_frame(p, n, RDP_PDU_MAX_BYTES, &len)) != FASTPATH_OK)
		return rc == FASTPATH_MORE ? FASTPATH_ERR_LENGTH : rc;
	if (len != n)
		return FASTPATH_ERR_LENGTH;
	rd_init(&r, p, n);
	nev = (rd_u8(&r) >> 2) & 0x0f;
	rd_skip(&r, p[1] & 0x80 ? 2 : 1);
	if (nev == 0) {
		nev = rd_u8(&r);
		if (r.err)
			return FASTPATH_ERR_LENGTH;
	}
	if (nev > RDP_FASTPATH_EVENTS_MAX)
		return FASTPATH_ERR_LENGTH;
	{
		struct rd check = r;

		if ((rc = walk(&check, nev, NULL, NULL)) != FASTPATH_OK)
			return rc;
	}
	return cb ? walk(&r, nev, cb, arg) : FASTPATH_OK;
}

void
fastpath_write_update_header(struct wr *w, uint8_t update_code, size_t size)
{
	size_t total = size + FASTPATH_UPDATE_HEADER_BYTES;

	if (total > RDP_FASTPATH_MAX_BYTES) {
		w->err = 1;
		return;
	}
	wr_u8(w, 0);                        /* FASTPATH_OUTPUT_ACTION_FASTPATH, no encryption */
	wr_u16be(w, (unsigned)(0x8000 | total));
	wr_u8(w, update_code & 0x0f);       /* FASTPATH_FRAGMENT_SINGLE, no compression */
	wr_u16le(w, (unsigned)size);
}

const char *
fastpath_strerror(int status)
{
	switch (status) {
	case FASTPATH_OK: return "ok";
	case FASTPATH_MORE: return "incomplete";
	case FASTPATH_ERR_HEADER: return "bad fast-path header";
	case FASTPATH_ERR_LENGTH: return "bad fast-path length";
	case FASTPATH_ERR_EVENT: return "unknown fast-path event";
	}
	return "unknown";
}
