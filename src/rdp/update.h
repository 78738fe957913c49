/*
 * update.h: bitmap updates ([MS-RDPBCGR] 2.2.9.1.1.3.1.2): the
 * TS_UPDATE_BITMAP_DATA body shared by slow-path (inside a share data PDU
 * of type UPDATE) and fast-path (after a fast-path update header) output,
 * filled with rectangles encoded by the screen module.
 */
#ifndef HF_RDP_UPDATE_H
#define HF_RDP_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "screen.h"

struct wr;

#define UPDATE_BITMAP_HEADER_BYTES 4   /* updateType, numberRectangles */
#define UPDATE_RECT_HEADER_BYTES 18    /* TS_BITMAP_DATA before bitmapDataStream */
#define UPDATE_CD_HEADER_BYTES 8       /* TS_CD_HEADER, for clients without NO_BITMAP_COMPRESSION_HDR */

/* Bytes one rectangle takes in the update. */
size_t update_rect_bytes(const struct screen_bitmap *bm, int cd_header);
/* Starts a TS_UPDATE_BITMAP_DATA; returns where its count lives. */
size_t update_bitmap_begin(struct wr *w);
/* Appends one TS_BITMAP_DATA: bm's header fields, data[0..bm->length). */
void update_bitmap_rect(struct wr *w, const struct screen_bitmap *bm, const uint8_t *data, int cd_header);
void update_bitmap_end(struct wr *w, size_t at, unsigned nrects);

#endif
