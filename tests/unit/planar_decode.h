/*
 * planar_decode.h: a test-only decoder of RDP6_BITMAP_STREAM planes with
 * RLE ([MS-RDPEGDI] 2.2.2.5.1, 3.1.9.2), written from the specification
 * to check src/rdp/planar.c.  Strict where readings differ: a segment
 * without raw bytes is accepted only where the specification (run of
 * zero) and the clients (run of the scanline's last raw value) agree.
 * Only FormatHeader 0x10 (what rdesktop accepts) is decoded.
 *
 * Output: w x h top-down 0xAARRGGBB pixels.  0, or -1 on any malformed
 * or ambiguous stream, or one with bytes left over.
 */
#ifndef TEST_PLANAR_DECODE_H
#define TEST_PLANAR_DECODE_H

#include <stddef.h>
#include <stdint.h>

static int
planar_decode(const uint8_t *in, size_t len, int w, int h, uint32_t *out)
{
	static const int shift[4] = { 24, 16, 8, 0 };
	size_t ip = 1;
	int plane, sy, y, x, raw, run, k, delta;
	uint8_t c, v, last, above;

	if (len < 1 || in[0] != 0x10)
		return -1;
	for (x = 0; x < w * h; x++)
		out[x] = 0;
	for (plane = 0; plane < 4; plane++) {
		for (sy = 0; sy < h; sy++) {
			y = h - 1 - sy;                 /* bottom-up */
			x = 0;
			last = 0;
			delta = 0;
			while (x < w) {
				if (ip >= len)
					return -1;
				c = in[ip++];
				if (c == 0)
					return -1;
				raw = c >> 4;
				run = c & 0x0f;
				if (run == 1 || run == 2) {
					run = run * 16 + raw;
					raw = 0;
					if (last != 0)
						return -1;      /* ambiguous between readings */
				}
				if ((size_t)raw > len - ip || raw + run > w - x)
					return -1;
				for (k = 0; k < raw + run; k++, x++) {
					if (k < raw)
						last = in[ip++];
					v = last;
					if (sy > 0) {
						/* sign-magnitude delta from the scanline before */
						delta = v & 1 ? -(int)(v >> 1) - 1 : (int)(v >> 1);
						above = (uint8_t)(out[(size_t)(y + 1) * (size_t)w + (size_t)x] >> shift[plane]);
						v = (uint8_t)(above + delta);
					}
					out[(size_t)y * (size_t)w + (size_t)x] |= (uint32_t)v << shift[plane];
				}
			}
		}
	}
	(void)delta;
	return ip == len ? 0 : -1;
}

#endif
