/*
 * dvc.c: static channel chunks, dynamic virtual channels and display
 * control (dvc.h).
 *
 * Every length is checked against the bytes present before use; channel
 * names are written from our constants only; nothing allocates.
 */
#include <string.h>

#include "rdp_stream.h"
#include "dvc.h"

#define DISPLAYCONTROL_PDU_TYPE_MONITOR_LAYOUT 0x00000002u
#define DISPLAYCONTROL_PDU_TYPE_CAPS 0x00000005u
#define DISPLAYCONTROL_MONITOR_PRIMARY 0x00000001u
#define DISPLAYCONTROL_MONITOR_LAYOUT_BYTES 40u

int
svc_parse(const uint8_t *p, size_t n, const uint8_t **data, size_t *dlen)
{
	struct rd r;
	uint32_t len, flags;

	rd_init(&r, p, n);
	len = rd_u32le(&r);
	flags = rd_u32le(&r);
	if (r.err)
		return DVC_ERR_TRUNCATED;
	if ((flags & (CHANNEL_FLAG_FIRST | CHANNEL_FLAG_LAST)) != (CHANNEL_FLAG_FIRST | CHANNEL_FLAG_LAST) ||
	    (flags & CHANNEL_PACKET_COMPRESSED))
		return DVC_PARTIAL;
	if (len != rd_left(&r))
		return DVC_ERR_LENGTH;
	*data = rd_ptr(&r);
	*dlen = rd_left(&r);
	return DVC_OK;
}

void
svc_write_header(struct wr *w, size_t len)
{
	wr_u32le(w, (uint32_t)len);
	wr_u32le(w, CHANNEL_FLAG_FIRST | CHANNEL_FLAG_LAST);
}

static uint32_t
rd_var(struct rd *r, unsigned code)
{
	switch (code) {
	case 0: return rd_u8(r);
	case 1: return rd_u16le(r);
	case 2: return rd_u32le(r);
	}
	r->err = 1;
	return 0;
}

int
dvc_parse(const uint8_t *p, size_t n, struct dvc_pdu *d)
{
	struct rd r;
	uint8_t h;
	unsigned cb, sp;

	memset(d, 0, sizeof *d);
	rd_init(&r, p, n);
	h = rd_u8(&r);
	if (r.err)
		return DVC_ERR_TRUNCATED;
	d->cmd = h >> 4;
	sp = (h >> 2) & 3;
	cb = h & 3;
	switch (d->cmd) {
	case DVC_CMD_CAPS:
		rd_u8(&r);
		d->version = rd_u16le(&r);
		if (r.err)
			return DVC_ERR_TRUNCATED;
		return DVC_OK;   /* version 2/3 add priority charges we ignore */
	case DVC_CMD_CREATE:
		d->channel_id = rd_var(&r, cb);
		d->status = (int32_t)rd_u32le(&r);
		break;
	case DVC_CMD_DATA:
		d->channel_id = rd_var(&r, cb);
		if (r.err)
			return DVC_ERR_TRUNCATED;
		d->data = rd_ptr(&r);
		d->data_len = rd_left(&r);
		return DVC_OK;
	case DVC_CMD_CLOSE:
		d->channel_id = rd_var(&r, cb);
		break;
	case DVC_CMD_DATA_FIRST:
	case DVC_CMD_DATA_FIRST_COMPRESSED:
	case DVC_CMD_DATA_COMPRESSED:
		d->channel_id = rd_var(&r, cb);
		if (d->cmd != DVC_CMD_DATA_COMPRESSED)
			(void)rd_var(&r, sp);
		return r.err ? DVC_ERR_TRUNCATED : DVC_PARTIAL;
	case DVC_CMD_SOFT_SYNC_REQUEST:
	case DVC_CMD_SOFT_SYNC_RESPONSE:
		return DVC_PARTIAL;   /* multitransport: never negotiated */
	default:
		return DVC_ERR_CMD;
	}
	if (r.err)
		return DVC_ERR_TRUNCATED;
	return rd_left(&r) == 0 ? DVC_OK : DVC_ERR_LENGTH;
}

void
dvc_write_caps_request(struct wr *w)
{
	wr_u8(w, DVC_CMD_CAPS << 4);
	wr_u8(w, 0);
	wr_u16le(w, 1);              /* DYNVC_CAPS_VERSION1 */
}

void
dvc_write_create_request(struct wr *w, uint8_t channel_id, const char *name)
{
	wr_u8(w, DVC_CMD_CREATE << 4);   /* cbChId 0: a one-byte id */
	wr_u8(w, channel_id);
	wr_bytes(w, name, strlen(name) + 1);
}

void
dvc_write_data_header(struct wr *w, uint8_t channel_id)
{
	wr_u8(w, DVC_CMD_DATA << 4);
	wr_u8(w, channel_id);
}

int
disp_parse_monitor_layout(const uint8_t *p, size_t n, uint32_t *width, uint32_t *height)
{
	struct rd r;
	uint32_t type, len, size, count, i;
	int found = 0;

	rd_init(&r, p, n);
	type = rd_u32le(&r);
	len = rd_u32le(&r);
	if (r.err)
		return DVC_ERR_TRUNCATED;
	if (len != n)
		return DVC_ERR_LENGTH;
	if (type != DISPLAYCONTROL_PDU_TYPE_MONITOR_LAYOUT)
		return DVC_ERR_CMD;
	size = rd_u32le(&r);
	count = rd_u32le(&r);
	if (r.err)
		return DVC_ERR_TRUNCATED;
	if (size != DISPLAYCONTROL_MONITOR_LAYOUT_BYTES || count == 0 || count > DVC_MONITORS_MAX)
		return DVC_ERR_LAYOUT;
	if ((size_t)count * size != rd_left(&r))
		return DVC_ERR_LENGTH;
	for (i = 0; i < count; i++) {
		uint32_t flags = rd_u32le(&r), w, h;

		rd_skip(&r, 8);      /* left, top */
		w = rd_u32le(&r);
		h = rd_u32le(&r);
		rd_skip(&r, 20);     /* physical size, orientation, scale factors */
		if ((flags & DISPLAYCONTROL_MONITOR_PRIMARY) || !found) {
			*width = w;
			*height = h;
			if (flags & DISPLAYCONTROL_MONITOR_PRIMARY)
				found = 2;
			else if (!found)
				found = 1;
		}
		if (found == 2)
			break;
	}
	if (r.err)
		return DVC_ERR_TRUNCATED;
	return *width > 0 && *height > 0 ? DVC_OK : DVC_ERR_LAYOUT;
}

void
disp_write_caps(struct wr *w, uint32_t max_w, uint32_t max_h)
{
	wr_u32le(w, DISPLAYCONTROL_PDU_TYPE_CAPS);
	wr_u32le(w, 20);
	wr_u32le(w, 1);              /* MaxNumMonitors */
	wr_u32le(w, max_w);          /* MaxMonitorAreaFactorA */
	wr_u32le(w, max_h);          /* MaxMonitorAreaFactorB */
}

const char *
dvc_strerror(int status)
{
	switch (status) {
	case DVC_OK: return "ok";
	case DVC_PARTIAL: return "fragmented or compressed";
	case DVC_ERR_TRUNCATED: return "truncated";
	case DVC_ERR_LENGTH: return "bad length";
	case DVC_ERR_CMD: return "unknown command";
	case DVC_ERR_LAYOUT: return "bad monitor layout";
	}
	return "unknown";
}
