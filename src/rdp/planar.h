/*
 * planar.h: the RDP 6.0 planar bitmap codec ([MS-RDPEGDI] 2.2.2.5.1,
 * 3.1.9), encoder side, for 32 bpp bitmap updates.
 *
 * Output: an RDP6_BITMAP_STREAM with FormatHeader 0x10 (RLE, alpha plane
 * present, ARGB planes, no colour loss, no subsampling): the alpha, red,
 * green and blue planes, each run-length encoded scanline by scanline,
 * rows bottom-up as in every TS_BITMAP_DATA.  rdesktop decodes only this
 * exact header (0x10); FreeRDP decodes every variant.
 */
#ifndef HF_RDP_PLANAR_H
#define HF_RDP_PLANAR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PLANAR_FORMAT_RLE          0x10
#define PLANAR_FORMAT_NO_ALPHA     0x20

/* Encodes w x h top-down 0x00RRGGBB pixels (stride in pixels; alpha
 * 0xff) into out.  Returns the stream length, or -1 if outlen is too
 * small or the arguments are bad (w, h in 1..4096, w * h at most 64 * 64). */
ssize_t planar_encode(const uint32_t *px, int stride, int w, int h, uint8_t *out, size_t outlen);

/* The largest stream planar_encode can produce for w x h. */
size_t planar_bound(int w, int h);

#endif
