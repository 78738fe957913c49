/*
 * fuzz_rdp_codec.c: libFuzzer target for the term service's bitmap
 * encoders, interleaved RLE (src/rdp/rle.c) and planar (src/rdp/planar.c).
 *
 * Input layout: byte 0 the width (1..64), byte 1 the height (1..64),
 * byte 2 the depth (15, 16, 24, or 32 = planar), byte 3 the palette size
 * (1..16), then the palette (3 bytes a colour), then one byte per pixel
 * choosing its colour (missing pixels are colour 0).  Few colours make
 * the runs and repeated rows that exercise the orders.
 *
 * Checks: the stream fits the encoder's bound; decoding it with the
 * independent test decoders (tests/unit/rle_decode.h, planar_decode.h,
 * strict where clients differ) gives the image back; with one byte less
 * of room the encoder fails with -1 and writes nothing past the end.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rdp/planar.h"
#include "rdp/rle.h"
#include "../unit/planar_decode.h"
#include "../unit/rle_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint32_t px[64 * 64], dec[64 * 64];
	static uint8_t out[64 * 64 * 5 + 64], out2[64 * 64 * 5 + 64 + 16];
	static const int bpps[] = { 15, 16, 24, 32 };
	uint32_t pal[16];
	size_t pos = 4, cap, i;
	ssize_t n, m;
	int w, h, bpp, npal, k;

	if (size < 4)
		return 0;
	w = 1 + data[0] % 64;
	h = 1 + data[1] % 64;
	bpp = bpps[data[2] % 4];
	npal = 1 + data[3] % 16;
	for (k = 0; k < npal; k++) {
		pal[k] = 0;
		if (size - pos >= 3) {
			pal[k] = (uint32_t)data[pos] << 16 | (uint32_t)data[pos + 1] << 8 | data[pos + 2];
			pos += 3;
		}
	}
	for (i = 0; i < (size_t)w * (size_t)h; i++)
		px[i] = pal[(pos < size ? data[pos++] : 0) % npal];

	cap = bpp == 32 ? planar_bound(w, h) : rle_bound(w, h, bpp);
	CHECK(cap <= sizeof(out));
	n = bpp == 32 ? planar_encode(px, w, w, h, out, cap) : rle_encode(px, w, w, h, bpp, out, cap);
	CHECK(n > 0 && (size_t)n <= cap);
	if (bpp == 32) {
		CHECK(planar_decode(out, (size_t)n, w, h, dec) == 0);
		for (i = 0; i < (size_t)w * (size_t)h; i++)
			CHECK(dec[i] == (0xff000000u | px[i]));
	} else {
		CHECK(rle_decode(out, (size_t)n, w, h, bpp, dec) == 0);
		for (i = 0; i < (size_t)w * (size_t)h; i++)
			CHECK(dec[i] == rle_pixel(px[i], bpp));
	}
	/* One byte short: refused, and nothing written past the room. */
	memset(out2, 0xa5, sizeof(out2));
	m = bpp == 32 ? planar_encode(px, w, w, h, out2, (size_t)n - 1)
	              : rle_encode(px, w, w, h, bpp, out2, (size_t)n - 1);
	CHECK(m == -1);
	for (i = (size_t)n - 1; i < sizeof(out2); i++)
		CHECK(out2[i] == 0xa5);
	return 0;
}
