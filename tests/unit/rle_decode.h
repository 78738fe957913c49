/*
 * rle_decode.h: a test-only decoder of the interleaved RLE bitmap stream
 * ([MS-RDPBCGR] 2.2.9.1.1.3.1.2.4), written from the specification to
 * check src/rdp/rle.c by round trips.  It follows the stricter of the two
 * clients we target (FreeRDP) where they differ: "first line" is decided
 * at the start of each order, and a background run right after another
 * background run XORs its first pixel with the foreground colour (white
 * by default).  Every order of the specification is decoded, so a stream
 * that uses anything is checked, not only what our encoder emits today.
 *
 * Output: top-down rows of pixels in the wire format of bpp (RGB565 ...)
 * as uint32_t, w x h.  Returns 0, or -1 on any malformed stream (bad
 * order, overrun of input or output, short output).
 */
#ifndef TEST_RLE_DECODE_H
#define TEST_RLE_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static int
rled_bpp_bytes(int bpp)
{
	return bpp == 24 ? 3 : 2;
}

static uint32_t
rled_white(int bpp)
{
	return bpp == 15 ? 0x7fff : bpp == 16 ? 0xffff : 0xffffff;
}

/* Decodes into out (w*h pixels, top-down). */
static int
rle_decode(const uint8_t *in, size_t len, int w, int h, int bpp, uint32_t *out)
{
	size_t total = (size_t)w * (size_t)h, pos = 0, ip = 0, n, i, hdr_len;
	uint32_t fg = rled_white(bpp), pix, above, c1, c2;
	uint32_t *st;                   /* stream order: bottom row first */
	int insert_fg = 0, first = 1, bypp = rled_bpp_bytes(bpp), code, k, y;
	uint8_t mask, hdr;
	int set_fg, special;

	st = calloc(total ? total : 1, sizeof(*st));
	if (st == NULL)
		return -1;
#define NEED(k) do { if ((size_t)(k) > len - ip) goto bad; } while (0)
#define PIXEL(v) do { NEED(bypp); (v) = in[ip] | (uint32_t)in[ip + 1] << 8 | \
	(bypp == 3 ? (uint32_t)in[ip + 2] << 16 : 0); ip += (size_t)bypp; } while (0)
#define ABOVE(p) ((p) < (size_t)w ? 0u : st[(p) - (size_t)w])
	while (ip < len) {
		if (first && pos >= (size_t)w) {
			first = 0;
			insert_fg = 0;
		}
		hdr = in[ip];
		set_fg = 0;
		special = 0;
		/* Order code and run length. */
		if (hdr >= 0xf0) {
			code = hdr;
			if (hdr <= 0xf8 && hdr != 0xf5) {
				NEED(3);
				n = in[ip + 1] | (size_t)in[ip + 2] << 8;
				ip += 3;
			} else {
				ip++;
				n = 0;
			}
		} else if ((hdr >> 4) >= 0xc) {
			code = hdr >> 4;       /* lite orders: 0xc, 0xd, 0xe */
			n = hdr & 0x0f;
			hdr_len = 1;
			if (n == 0) {
				NEED(2);
				n = (size_t)in[ip + 1] + (code == 0xd ? 1 : 16);
				hdr_len = 2;
			} else if (code == 0xd) {
				n *= 8;
			}
			ip += hdr_len;
		} else {
			code = hdr >> 5;       /* regular orders 0-4 */
			n = hdr & 0x1f;
			hdr_len = 1;
			if (n == 0) {
				NEED(2);
				n = (size_t)in[ip + 1] + (code == 2 ? 1 : 32);
				hdr_len = 2;
			} else if (code == 2) {
				n *= 8;
			}
			ip += hdr_len;
		}
		switch (code) {
		case 0x0: case 0xf0:                     /* background run */
			if (n == 0 || n > total - pos)
				goto bad;
			if (insert_fg) {
				st[pos] = (first ? 0 : ABOVE(pos)) ^ fg;
				pos++;
				n--;
			}
			for (; n > 0; n--, pos++)
				st[pos] = first ? 0 : ABOVE(pos);
			insert_fg = 1;
			continue;
		case 0x1: case 0xf1:                     /* foreground run */
			break;
		case 0xc: case 0xf6:                     /* set fg + fg run */
			set_fg = 1;
			break;
		case 0x2: case 0xf2:                     /* fg/bg image */
			break;
		case 0xd: case 0xf7:
			set_fg = 1;
			break;
		case 0x3: case 0xf3: case 0xe: case 0xf8: case 0x4: case 0xf4:
			break;
		case 0xf9: case 0xfa: case 0xfd: case 0xfe:
			special = 1;
			break;
		default:
			goto bad;
		}
		insert_fg = 0;
		if (special) {
			if (code == 0xfd || code == 0xfe) {
				if (pos >= total)
					goto bad;
				st[pos++] = code == 0xfd ? rled_white(bpp) : 0;
				continue;
			}
			mask = code == 0xf9 ? 0x03 : 0x05;
			if (8 > total - pos)
				goto bad;
			for (k = 0; k < 8; k++, pos++)
				st[pos] = (mask >> k & 1) ? (first ? fg : ABOVE(pos) ^ fg) : (first ? 0 : ABOVE(pos));
			continue;
		}
		if (set_fg)
			PIXEL(fg);
		if (n == 0 || n > total - pos)
			goto bad;
		switch (code) {
		case 0x1: case 0xf1: case 0xc: case 0xf6:
			for (; n > 0; n--, pos++)
				st[pos] = first ? fg : ABOVE(pos) ^ fg;
			break;
		case 0x2: case 0xf2: case 0xd: case 0xf7:
			while (n > 0) {
				NEED(1);
				mask = in[ip++];
				for (k = 0; k < 8 && n > 0; k++, n--, pos++) {
					above = first ? 0 : ABOVE(pos);
					st[pos] = (mask >> k & 1) ? above ^ fg : above;
				}
			}
			break;
		case 0x3: case 0xf3:
			PIXEL(pix);
			for (; n > 0; n--, pos++)
				st[pos] = pix;
			break;
		case 0xe: case 0xf8:
			PIXEL(c1);
			PIXEL(c2);
			if (2 * n > total - pos)
				goto bad;
			for (; n > 0; n--) {
				st[pos++] = c1;
				st[pos++] = c2;
			}
			break;
		case 0x4: case 0xf4:
			for (; n > 0; n--, pos++)
				PIXEL(st[pos]);
			break;
		default:
			goto bad;
		}
	}
	if (pos != total)
		goto bad;
	for (y = 0; y < h; y++)
		for (i = 0; i < (size_t)w; i++)
			out[(size_t)y * (size_t)w + i] = st[(size_t)(h - 1 - y) * (size_t)w + i];
	free(st);
	return 0;
bad:
	free(st);
	return -1;
#undef NEED
#undef PIXEL
#undef ABOVE
}

#endif
