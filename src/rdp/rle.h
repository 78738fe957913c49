/*
 * rle.h: the interleaved RLE bitmap codec of [MS-RDPBCGR] 2.2.9.1.1.3.1.2.4
 * (RLE_BITMAP_STREAM), encoder side, for 15, 16 and 24 bpp.
 *
 * Input: top-down rows of 0x00RRGGBB pixels; output: the compressed stream
 * for a TS_BITMAP_DATA with BITMAP_COMPRESSION and
 * NO_BITMAP_COMPRESSION_HDR, which describes rows bottom-up (the encoder
 * walks the rows from the last to the first).  Width should be a multiple
 * of 4 (screen.c pads tiles) since some decoders assume it.  Uses only
 * the orders every client decodes: REGULAR/MEGA_MEGA background, colour,
 * foreground-background (FG runs), colour image and the SPECIAL_FGBG
 * order are not needed for a correct stream and are not emitted.
 */
#ifndef HF_RDP_RLE_H
#define HF_RDP_RLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The pixel as the client sees it at bpp (15: RGB555, 16: RGB565, 24: BGR). */
uint32_t rle_pixel(uint32_t rgb, int bpp);
/* Bytes per pixel at bpp (15/16: 2, 24: 3, 32: 4). */
int rle_bytes_per_pixel(int bpp);

/* Encodes w x h pixels (stride: pixels between row starts) at bpp 15, 16
 * or 24.  Returns the stream length, or -1 if outlen is too small or the
 * arguments are bad; out's contents are then unspecified. */
ssize_t rle_encode(const uint32_t *px, int stride, int w, int h, int bpp, uint8_t *out, size_t outlen);

/* The largest stream rle_encode can produce for w x h (worst case). */
size_t rle_bound(int w, int h, int bpp);

#endif
