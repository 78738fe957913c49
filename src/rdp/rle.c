/*
 * rle.c: interleaved RLE bitmap encoder ([MS-RDPBCGR] 2.2.9.1.1.3.1.2.4),
 * see rle.h.
 *
 * Role: compresses the screen's tiles for bitmap updates at 15, 16 and 24
 * bpp, which both xfreerdp and rdesktop decode.
 *
 * Stream: rows from the bottom of the image to the top; the decoder's
 * "previous line" of a row is therefore the image row below it, and the
 * first row's previous line is black.  We emit three orders:
 *   background run  (code 0x0 / MEGA_MEGA 0xF0): pixels equal to the
 *                   pixel one row earlier (black on the first row);
 *   colour run      (0x3 / 0xF3): one pixel repeated;
 *   colour image    (0x4 / 0xF4): literal pixels.
 * Regular orders hold lengths 1-31 in their low 5 bits, or 0 and a byte
 * holding length - 32 (32-287); MEGA_MEGA orders a 16-bit length.
 *
 * Decoder quirks we stay clear of: two background runs in a row make the
 * decoder XOR the second one's first pixel with the foreground colour
 * (insertFgPel), so a background run never follows a background run; and
 * FreeRDP decides "first line" once per order, so no background run
 * crosses from the first row into the second.
 *
 * Limits: w * h at most RLE_PIXELS_MAX (a 64x64 tile); every write is
 * checked against outlen.
 */
#include <stdint.h>
#include <string.h>

#include "rdp/rle.h"

#define RLE_PIXELS_MAX           (64 * 64)   /* one tile; the converted copy lives on the stack */
#define RLE_REGULAR_MAX          31
#define RLE_REGULAR_EXT_MAX      (255 + 32)
#define RLE_MEGA_MAX             0xffff

#define RLE_BG_RUN               0x0
#define RLE_COLOR_RUN            0x3
#define RLE_COLOR_IMAGE          0x4
#define RLE_MEGA_BG_RUN          0xf0
#define RLE_MEGA_COLOR_RUN       0xf3
#define RLE_MEGA_COLOR_IMAGE     0xf4

int
rle_bytes_per_pixel(int bpp)
{
	switch (bpp) {
	case 15: case 16: return 2;
	case 24: return 3;
	case 32: return 4;
	default: return 0;
	}
}

uint32_t
rle_pixel(uint32_t rgb, int bpp)
{
	uint32_t r = (rgb >> 16) & 0xff, g = (rgb >> 8) & 0xff, b = rgb & 0xff;

	switch (bpp) {
	case 15: return (r >> 3) << 10 | (g >> 3) << 5 | (b >> 3);
	case 16: return (r >> 3) << 11 | (g >> 2) << 5 | (b >> 3);
	default: return rgb & 0xffffff;
	}
}

size_t
rle_bound(int w, int h, int bpp)
{
	/* The encoder never spends more than one order byte per literal
	 * pixel beyond the pixel, plus a mega header. */
	if (w <= 0 || h <= 0)
		return 0;
	return (size_t)w * (size_t)h * (size_t)(rle_bytes_per_pixel(bpp) + 1) + 8;
}

struct rle_out {
	uint8_t *p;
	size_t len, cap;
	int bpp_bytes;
};

static int
rle_put(struct rle_out *o, const uint8_t *b, size_t n)
{
	if (n > o->cap - o->len)
		return -1;
	memcpy(o->p + o->len, b, n);
	o->len += n;
	return 0;
}

static int
rle_put_pixel(struct rle_out *o, uint32_t v)
{
	uint8_t b[3] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16) };

	/* 16 bpp little-endian; 24 bpp as B, G, R. */
	return rle_put(o, b, (size_t)o->bpp_bytes);
}

static int
rle_header(struct rle_out *o, int code, int mega, size_t n)
{
	uint8_t b[3];

	if (n <= RLE_REGULAR_MAX) {
		b[0] = (uint8_t)(code << 5 | (int)n);
		return rle_put(o, b, 1);
	}
	if (n <= RLE_REGULAR_EXT_MAX) {
		b[0] = (uint8_t)(code << 5);
		b[1] = (uint8_t)(n - 32);
		return rle_put(o, b, 2);
	}
	b[0] = (uint8_t)mega;
	b[1] = (uint8_t)n;
	b[2] = (uint8_t)(n >> 8);
	return rle_put(o, b, 3);
}

/* Literal pixels [from, to) of the converted image. */
static int
rle_image(struct rle_out *o, const uint32_t *v, size_t from, size_t to)
{
	size_t n;

	while (from < to) {
		n = to - from;
		if (n > RLE_MEGA_MAX)
			n = RLE_MEGA_MAX;
		if (rle_header(o, RLE_COLOR_IMAGE, RLE_MEGA_COLOR_IMAGE, n) < 0)
			return -1;
		for (; n > 0; n--, from++)
			if (rle_put_pixel(o, v[from]) < 0)
				return -1;
	}
	return 0;
}

ssize_t
rle_encode(const uint32_t *px, int stride, int w, int h, int bpp, uint8_t *out, size_t outlen)
{
	uint32_t v[RLE_PIXELS_MAX];
	struct rle_out o = { out, 0, outlen, rle_bytes_per_pixel(bpp) };
	size_t total, i, j, k, img = SIZE_MAX, nbg, nrun, wz = (size_t)w, limit;
	int last_bg = 0, y, x;

	if (px == NULL || out == NULL || w <= 0 || h <= 0 || stride < w ||
	    (size_t)w * (size_t)h > RLE_PIXELS_MAX || (bpp != 15 && bpp != 16 && bpp != 24))
		return -1;
	total = wz * (size_t)h;
	/* The image in stream order (bottom row first), converted. */
	for (k = 0, y = h - 1; y >= 0; y--)
		for (x = 0; x < w; x++)
			v[k++] = rle_pixel(px[(size_t)y * (size_t)stride + (size_t)x], bpp);

	i = 0;
	while (i < total) {
		/* A background run from i: pixels equal to the one a row
		 * earlier (black on the first row), not leaving the first row,
		 * never right after another background run. */
		nbg = 0;
		if (!last_bg) {
			limit = i < wz ? wz : total;
			for (j = i; j < limit && nbg < RLE_MEGA_MAX; j++, nbg++)
				if (v[j] != (j < wz ? 0 : v[j - wz]))
					break;
		}
		nrun = 1;
		for (j = i + 1; j < total && nrun < RLE_MEGA_MAX && v[j] == v[i]; j++)
			nrun++;
		if (nbg >= 2 || (nbg == 1 && img == SIZE_MAX && nrun < 3)) {
			if (img != SIZE_MAX && rle_image(&o, v, img, i) < 0)
				return -1;
			img = SIZE_MAX;
			if (rle_header(&o, RLE_BG_RUN, RLE_MEGA_BG_RUN, nbg) < 0)
				return -1;
			i += nbg;
			last_bg = 1;
			continue;
		}
		if (nrun >= 3) {
			if (img != SIZE_MAX && rle_image(&o, v, img, i) < 0)
				return -1;
			img = SIZE_MAX;
			if (rle_header(&o, RLE_COLOR_RUN, RLE_MEGA_COLOR_RUN, nrun) < 0 ||
			    rle_put_pixel(&o, v[i]) < 0)
				return -1;
			i += nrun;
			last_bg = 0;
			continue;
		}
		if (img == SIZE_MAX)
			img = i;
		i++;
		last_bg = 0;
	}
	if (img != SIZE_MAX && rle_image(&o, v, img, total) < 0)
		return -1;
	return (ssize_t)o.len;
}
