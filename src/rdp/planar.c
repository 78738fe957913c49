/*
 * planar.c: RDP 6.0 planar bitmap encoder (see planar.h).
 *
 * Role: compresses the screen's tiles when the client draws at 32 bpp,
 * where interleaved RLE does not apply.
 *
 * Stream: FormatHeader 0x10, then the A, R, G, B planes.  Each plane is a
 * list of scanlines from the bottom of the image up; the first is coded
 * with absolute values, every later one with the difference from the one
 * before it (as a sign-magnitude byte: d >= 0 -> 2d, d < 0 -> 2|d| - 1,
 * d taken modulo 256 in -128..127).  A scanline is a list of segments: a
 * control byte (high nibble: cRawBytes, low nibble: nRunLength), the raw
 * bytes, then the last raw byte repeated nRunLength times (a run is at
 * least 3).  nRunLength 1 or 2 means a run of 16 or 32 plus the high
 * nibble with no raw bytes.
 *
 * Decoder differences we stay clear of: the specification says a segment
 * without raw bytes runs the value zero, rdesktop and FreeRDP repeat the
 * last raw value of the scanline (zero at its start).  We emit raw-less
 * segments only for zero when the last raw value is zero too, where all
 * readings agree.
 *
 * Limits: PLANAR_PIXELS_MAX (one 64x64 tile: the plane bytes of a scanline
 * live on the stack); every write is checked against outlen.
 */
#include <string.h>

#include "rdp/planar.h"

#define PLANAR_PIXELS_MAX          (64 * 64)
#define PLANAR_WIDTH_MAX           4096
#define PLANAR_RAW_MAX             15
#define PLANAR_RUN_MAX             15
#define PLANAR_RUN_MIN             3

struct planar_out {
	uint8_t *p;
	size_t len, cap;
};

static int
planar_put(struct planar_out *o, uint8_t b)
{
	if (o->len >= o->cap)
		return -1;
	o->p[o->len++] = b;
	return 0;
}

size_t
planar_bound(int w, int h)
{
	if (w <= 0 || h <= 0)
		return 0;
	/* A control byte per 15 raw bytes, a scanline at least one segment. */
	return 1 + 4 * ((size_t)h * ((size_t)w + ((size_t)w + PLANAR_RAW_MAX - 1) / PLANAR_RAW_MAX + 1));
}

/* Run-length codes one scanline of plane bytes. */
static int
planar_scanline(struct planar_out *o, const uint8_t *b, int w)
{
	int i = 0, start, raw, run, r, k, j;
	uint8_t last = 0;

	while (i < w) {
		if (b[i] == 0 && last == 0) {
			for (r = 0; i + r < w && b[i + r] == 0; r++)
				;
			if (r >= 16) {
				while (r >= 16) {
					k = r > 47 ? 47 : r;
					if (planar_put(o, (uint8_t)(k >= 32 ? (k - 32) << 4 | 2 : (k - 16) << 4 | 1)) < 0)
						return -1;
					i += k;
					r -= k;
				}
				continue;
			}
		}
		start = i;
		raw = 0;
		run = 0;
		while (raw < PLANAR_RAW_MAX && i < w) {
			for (r = 1; i + r < w && b[i + r] == b[i]; r++)
				;
			raw++;
			i++;
			if (r >= PLANAR_RUN_MIN + 1) {
				run = r - 1 > PLANAR_RUN_MAX ? PLANAR_RUN_MAX : r - 1;
				break;
			}
		}
		if (planar_put(o, (uint8_t)(raw << 4 | run)) < 0)
			return -1;
		for (j = start; j < start + raw; j++)
			if (planar_put(o, b[j]) < 0)
				return -1;
		last = b[start + raw - 1];
		i += run;
	}
	return 0;
}

ssize_t
planar_encode(const uint32_t *px, int stride, int w, int h, uint8_t *out, size_t outlen)
{
	struct planar_out o = { out, 0, outlen };
	uint8_t line[PLANAR_WIDTH_MAX];
	static const int shift[4] = { 24, 16, 8, 0 };   /* A, R, G, B */
	const uint32_t *row, *prev;
	int plane, y, x, cur, d;

	if (px == NULL || out == NULL || w <= 0 || h <= 0 || w > PLANAR_WIDTH_MAX || stride < w ||
	    (size_t)w * (size_t)h > PLANAR_PIXELS_MAX)
		return -1;
	if (planar_put(&o, PLANAR_FORMAT_RLE) < 0)
		return -1;
	for (plane = 0; plane < 4; plane++) {
		for (y = h - 1; y >= 0; y--) {
			row = px + (size_t)y * (size_t)stride;
			prev = y == h - 1 ? NULL : row + stride;
			for (x = 0; x < w; x++) {
				cur = plane == 0 ? 0xff : (int)((row[x] >> shift[plane]) & 0xff);
				if (prev == NULL) {
					line[x] = (uint8_t)cur;
					continue;
				}
				d = cur - (plane == 0 ? 0xff : (int)((prev[x] >> shift[plane]) & 0xff));
				if (d > 127)
					d -= 256;
				else if (d < -128)
					d += 256;
				line[x] = (uint8_t)(d >= 0 ? 2 * d : -2 * d - 1);
			}
			if (planar_scanline(&o, line, w) < 0)
				return -1;
		}
	}
	return (ssize_t)o.len;
}
