/*
 * update.c: TS_UPDATE_BITMAP_DATA (update.h).  term.c decides how many
 * rectangles go in one PDU (RDP_UPDATE_MAX_BYTES) and which path carries
 * it; this file only lays out the bytes.
 */
#include "rdp_stream.h"
#include "update.h"

#define UPDATETYPE_BITMAP 0x0001

size_t
update_rect_bytes(const struct screen_bitmap *bm, int cd_header)
{
	return UPDATE_RECT_HEADER_BYTES + (cd_header && (bm->flags & SCREEN_BITMAP_COMPRESSION) ? UPDATE_CD_HEADER_BYTES : 0) +
	       bm->length;
}

size_t
update_bitmap_begin(struct wr *w)
{
	size_t at;

	wr_u16le(w, UPDATETYPE_BITMAP);
	at = w->len;
	wr_u16le(w, 0);
	return at;
}

void
update_bitmap_rect(struct wr *w, const struct screen_bitmap *bm, const uint8_t *data, int cd_header)
{
	int cd = cd_header && (bm->flags & SCREEN_BITMAP_COMPRESSION);
	size_t len = bm->length + (cd ? UPDATE_CD_HEADER_BYTES : 0);
	unsigned bytespp = (bm->bpp + 7u) / 8u;

	if (len > 0xffff) {
		w->err = 1;
		return;
	}
	wr_u16le(w, bm->dest_left);
	wr_u16le(w, bm->dest_top);
	wr_u16le(w, bm->dest_right);
	wr_u16le(w, bm->dest_bottom);
	wr_u16le(w, bm->width);
	wr_u16le(w, bm->height);
	wr_u16le(w, bm->bpp);
	wr_u16le(w, cd ? (unsigned)(bm->flags & ~SCREEN_NO_BITMAP_COMPRESSION_HDR) : bm->flags);
	wr_u16le(w, (unsigned)len);
	if (cd) {
		wr_u16le(w, 0);                               /* cbCompFirstRowSize */
		wr_u16le(w, (unsigned)bm->length);            /* cbCompMainBodySize */
		wr_u16le(w, bm->width * bytespp);             /* cbScanWidth */
		wr_u16le(w, (unsigned)((size_t)bm->width * bm->height * bytespp)); /* cbUncompressedSize */
	}
	wr_bytes(w, data, bm->length);
}

void
update_bitmap_end(struct wr *w, size_t at, unsigned nrects)
{
	wr_put_u16le_at(w, at, nrects);
}
