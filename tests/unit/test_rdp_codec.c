/*
 * test_rdp_codec.c: unit tests for src/rdp/rle.c, the interleaved RLE
 * encoder.
 *
 * Every encoded stream is decoded by the independent decoder in
 * rle_decode.h (FreeRDP's semantics, the stricter client) and must give
 * back the input converted to the wire pixel format: blank tiles, text-like
 * tiles, noise, few-colour random tiles (which make long runs, background
 * runs next to each other across the first-row boundary, and mega
 * lengths), every width 1..64 at 15/16/24 bpp.  Also: the stream is
 * smaller than raw for text, a too-small output buffer gives -1 and
 * never writes past its end, bad arguments give -1, and a hand-made stream
 * with two background runs in a row shows the decoder really applies the
 * insertFgPel rule (so that the round trips would catch an encoder that
 * broke it).
 * Planar (32 bpp): the same images through planar_decode.h, alpha 0xff,
 * long zero runs (the raw-less segments), a too-small buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rdp/planar.h"
#include "rdp/rle.h"
#include "planar_decode.h"
#include "rle_decode.h"

static uint32_t rng_state = 12345;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Encodes, decodes, compares; returns the stream length. */
static size_t
round_trip(const uint32_t *px, int w, int h, int bpp)
{
	size_t cap = rle_bound(w, h, bpp);
	uint8_t *out = malloc(cap);
	uint32_t *dec = malloc((size_t)w * (size_t)h * sizeof(*dec));
	ssize_t n;
	int i;

	assert_non_null(out);
	assert_non_null(dec);
	n = rle_encode(px, w, w, h, bpp, out, cap);
	assert_true(n > 0);
	assert_true((size_t)n <= cap);
	assert_int_equal(rle_decode(out, (size_t)n, w, h, bpp, dec), 0);
	for (i = 0; i < w * h; i++) {
		if (dec[i] != rle_pixel(px[i], bpp))
			fail_msg("pixel %d (x %d y %d) of %dx%d at %d bpp: got %06x want %06x", i, i % w, i / w, w, h,
			         bpp, dec[i], rle_pixel(px[i], bpp));
	}
	free(out);
	free(dec);
	return (size_t)n;
}

static void text_tile(uint32_t *px, int w, int h, uint32_t bg, uint32_t fg);

/* Planar: encodes, decodes, compares; returns the stream length. */
static size_t
planar_round_trip(const uint32_t *px, int w, int h)
{
	size_t cap = planar_bound(w, h);
	uint8_t *out = malloc(cap);
	uint32_t *dec = malloc((size_t)w * (size_t)h * sizeof(*dec));
	ssize_t n;
	int i;

	assert_non_null(out);
	assert_non_null(dec);
	n = planar_encode(px, w, w, h, out, cap);
	assert_true(n > 0);
	assert_true((size_t)n <= cap);
	assert_int_equal(planar_decode(out, (size_t)n, w, h, dec), 0);
	for (i = 0; i < w * h; i++) {
		if (dec[i] != (0xff000000u | (px[i] & 0xffffff)))
			fail_msg("planar pixel %d (x %d y %d) of %dx%d: got %08x want %06x", i, i % w, i / w, w, h,
			         dec[i], px[i]);
	}
	free(out);
	free(dec);
	return (size_t)n;
}

static void
test_planar(void **state)
{
	static uint32_t px[64 * 64];
	static const uint32_t pal[] = { 0x000000, 0xffffff, 0xaa0000, 0x0000aa, 0x010101, 0x808080 };
	uint8_t small[64];
	size_t n;
	int w, h, i, round;

	(void)state;
	memset(px, 0, sizeof(px));
	n = planar_round_trip(px, 64, 64);
	assert_true(n < 64 * 4 * 4);                /* black: a few bytes a row */
	text_tile(px, 64, 64, 0x000000, 0xe5e5e5);
	n = planar_round_trip(px, 64, 64);
	assert_true(n < 64 * 64 * 4 / 4);           /* text: well under raw */
	text_tile(px, 64, 64, 0x0000aa, 0xffff55);
	(void)planar_round_trip(px, 64, 64);
	for (i = 0; i < 64 * 64; i++)
		px[i] = rng() & 0xffffff;
	(void)planar_round_trip(px, 64, 64);
	for (round = 0; round < 3; round++) {
		for (w = 1; w <= 64; w++) {
			h = 1 + (int)(rng() % 64);
			for (i = 0; i < w * h;) {
				uint32_t c = pal[rng() % (round == 0 ? 2u : 6u)];
				int run = 1 + (int)(rng() % (round == 2 ? 70 : 20));
				for (; run > 0 && i < w * h; run--, i++)
					px[i] = c;
			}
			(void)planar_round_trip(px, w, h);
		}
	}
	/* Big deltas both ways (the -128 / +127 edges of the byte code). */
	for (i = 0; i < 64 * 64; i++)
		px[i] = (i / 64) % 2 ? 0xff00ff : 0x00ff00;
	(void)planar_round_trip(px, 64, 64);
	for (i = 0; i < 64 * 64; i++)
		px[i] = (i / 64) % 2 ? 0x800000 : 0x000080;
	(void)planar_round_trip(px, 64, 64);
	/* Too small a buffer: -1, nothing past its end. */
	memset(small, 0xa5, sizeof(small));
	assert_int_equal(planar_encode(px, 64, 64, 64, small, 32), -1);
	for (i = 32; i < (int)sizeof(small); i++)
		assert_int_equal(small[i], 0xa5);
	assert_int_equal(planar_encode(px, 64, 0, 64, small, sizeof(small)), -1);
	assert_int_equal(planar_encode(px, 64, 65, 64, small, sizeof(small)), -1);
	assert_int_equal(planar_encode(NULL, 64, 64, 64, small, sizeof(small)), -1);
}

static void
test_planar_decoder_strict(void **state)
{
	/* 4x1: each plane raw + run 3: A ff, R 01, G 02, B 03. */
	static const uint8_t ok[] = { 0x10, 0x13, 0xff, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03 };
	/* A run of 16 (0x01) is longer than the 4-pixel scanline. */
	static const uint8_t overlong[] = { 0x10, 0x13, 0xff, 0x01 };
	uint32_t out[64];
	uint8_t s[64];
	size_t n = 0;
	int i;

	(void)state;
	assert_int_equal(planar_decode(ok, sizeof(ok), 4, 1, out), 0);
	assert_int_equal(out[0], 0xff010203);
	assert_int_equal(out[3], 0xff010203);
	assert_int_equal(planar_decode(ok, sizeof(ok) - 1, 4, 1, out), -1);
	assert_int_equal(planar_decode(overlong, sizeof(overlong), 4, 1, out), -1);
	/* 17x1, alpha plane: raw 05 then a raw-less run of 16, which the
	 * specification reads as zeros and the clients as 05: refused. */
	s[n++] = 0x10;
	s[n++] = 0x10;
	s[n++] = 0x05;
	s[n++] = 0x01;
	for (i = 0; i < 3; i++) {
		s[n++] = 0x10;
		s[n++] = 0x00;
		s[n++] = 0x01;
	}
	assert_int_equal(planar_decode(s, n, 17, 1, out), -1);
	/* The same with raw 00 first is unambiguous and fine. */
	s[2] = 0x00;
	assert_int_equal(planar_decode(s, n, 17, 1, out), 0);
	assert_int_equal(out[16], 0);
}

static void
test_pixel_formats(void **state)
{
	(void)state;
	assert_int_equal(rle_pixel(0xffffff, 16), 0xffff);
	assert_int_equal(rle_pixel(0xff0000, 16), 0xf800);
	assert_int_equal(rle_pixel(0x00ff00, 16), 0x07e0);
	assert_int_equal(rle_pixel(0x0000ff, 16), 0x001f);
	assert_int_equal(rle_pixel(0xff0000, 15), 0x7c00);
	assert_int_equal(rle_pixel(0x123456, 24), 0x123456);
	assert_int_equal(rle_bytes_per_pixel(16), 2);
	assert_int_equal(rle_bytes_per_pixel(24), 3);
	assert_int_equal(rle_bytes_per_pixel(8), 0);
}

static void
test_blank_tile(void **state)
{
	uint32_t px[64 * 64];
	size_t n;

	(void)state;
	memset(px, 0, sizeof(px));
	n = round_trip(px, 64, 64, 16);
	/* Black: one background run on the first row, then one more. */
	assert_true(n <= 8);
	for (int i = 0; i < 64 * 64; i++)
		px[i] = 0x336699;
	n = round_trip(px, 64, 64, 24);
	assert_true(n <= 8);
}

/* A text-like tile: a background, glyph-like strokes in one colour. */
static void
text_tile(uint32_t *px, int w, int h, uint32_t bg, uint32_t fg)
{
	int x, y;

	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++)
			px[y * w + x] = ((x % 8 == 2 || x % 8 == 5) && y % 16 > 3 && y % 16 < 13) ||
			                (y % 16 == 8 && x % 8 > 1 && x % 8 < 6) ? fg : bg;
}

static void
test_text_compresses(void **state)
{
	uint32_t px[64 * 64];
	size_t n;

	(void)state;
	text_tile(px, 64, 64, 0x000000, 0xe5e5e5);
	n = round_trip(px, 64, 64, 16);
	assert_true(n < 64 * 64 * 2 / 2);   /* well under raw */
	text_tile(px, 64, 64, 0x0000aa, 0xffff55);
	n = round_trip(px, 64, 64, 24);
	assert_true(n < 64 * 64 * 3 / 2);
}

static void
test_noise(void **state)
{
	uint32_t px[64 * 64];
	int i, bpp;
	static const int bpps[] = { 15, 16, 24 };

	(void)state;
	for (bpp = 0; bpp < 3; bpp++) {
		for (i = 0; i < 64 * 64; i++)
			px[i] = rng() & 0xffffff;
		(void)round_trip(px, 64, 64, bpps[bpp]);
	}
}

static void
test_few_colours_every_width(void **state)
{
	uint32_t px[64 * 64];
	static const uint32_t pal[] = { 0x000000, 0xffffff, 0xaa0000, 0x0000aa };
	static const int bpps[] = { 15, 16, 24 };
	int w, h, i, b, round, ncol;

	(void)state;
	for (round = 0; round < 4; round++) {
		for (w = 1; w <= 64; w++) {
			for (b = 0; b < 3; b++) {
				h = 1 + (int)(rng() % 64);
				ncol = 1 + round % 4;
				/* Runs of random lengths, so that rows repeat,
				 * runs cross rows, and backgrounds touch. */
				for (i = 0; i < w * h;) {
					uint32_t c = pal[rng() % (uint32_t)ncol];
					int run = 1 + (int)(rng() % 40);
					for (; run > 0 && i < w * h; run--, i++)
						px[i] = c;
				}
				if (round == 3)     /* every row a copy of the first */
					for (i = w; i < w * h; i++)
						px[i] = px[i % w];
				(void)round_trip(px, w, h, bpps[b]);
			}
		}
	}
}

static void
test_long_runs(void **state)
{
	static uint32_t px[64 * 64];
	int i;

	(void)state;
	/* First row black, the rest one colour: a colour run of 4032 (mega). */
	for (i = 0; i < 64 * 64; i++)
		px[i] = i < 64 * 63 ? 0x808080 : 0;
	(void)round_trip(px, 64, 64, 16);
	/* 300 literal pixels in a row: the extended and mega image lengths. */
	for (i = 0; i < 64 * 64; i++)
		px[i] = (uint32_t)i * 2654435761u & 0xffffff;
	(void)round_trip(px, 64, 64, 24);
	/* Bottom row (the stream's first) not black but the rest equal to it. */
	for (i = 0; i < 64 * 64; i++)
		px[i] = (i % 64) < 32 ? 0x00ff00 : 0;
	(void)round_trip(px, 64, 64, 16);
}

static void
test_small_output(void **state)
{
	uint32_t px[16 * 16];
	uint8_t out[600];
	ssize_t full, n;
	size_t cap;
	int i;

	(void)state;
	for (i = 0; i < 16 * 16; i++)
		px[i] = rng() & 0xffffff;
	full = rle_encode(px, 16, 16, 16, 16, out, sizeof(out));
	assert_true(full > 0);
	for (cap = 0; cap < (size_t)full; cap++) {
		memset(out, 0xa5, sizeof(out));
		n = rle_encode(px, 16, 16, 16, 16, out, cap);
		assert_int_equal(n, -1);
		for (i = (int)cap; i < (int)sizeof(out); i++)
			assert_int_equal(out[i], 0xa5);
	}
	assert_int_equal(rle_encode(px, 16, 16, 16, 16, out, (size_t)full), full);
}

static void
test_bad_arguments(void **state)
{
	uint32_t px[4 * 4] = { 0 };
	uint8_t out[256];

	(void)state;
	assert_int_equal(rle_encode(px, 4, 4, 4, 8, out, sizeof(out)), -1);
	assert_int_equal(rle_encode(px, 4, 4, 4, 32, out, sizeof(out)), -1);
	assert_int_equal(rle_encode(px, 4, 0, 4, 16, out, sizeof(out)), -1);
	assert_int_equal(rle_encode(px, 4, 4, 0, 16, out, sizeof(out)), -1);
	assert_int_equal(rle_encode(px, 3, 4, 4, 16, out, sizeof(out)), -1);
	assert_int_equal(rle_encode(NULL, 4, 4, 4, 16, out, sizeof(out)), -1);
	assert_int_equal(rle_encode(px, 65, 65, 65, 16, out, sizeof(out)), -1);
}

static void
test_decoder_insert_fg(void **state)
{
	/* 4x2 at 16 bpp: first row black by a BG run of 4; second row: BG
	 * run of 2 then BG run of 2.  The second run's first pixel must be
	 * black ^ white. */
	static const uint8_t s1[] = { 0x04, 0x02, 0x02 };
	/* A row of 4 via a colour run, then BG 2 and BG 2 on the first row:
	 * the same rule applies within the first line (fg itself). */
	static const uint8_t s2[] = { 0x02, 0x02, 0x64, 0x34, 0x12 };
	uint32_t out[8];

	(void)state;
	assert_int_equal(rle_decode(s1, sizeof(s1), 4, 2, 16, out), 0);
	/* top row = second in the stream */
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], 0xffff);
	assert_int_equal(out[3], 0);
	assert_int_equal(rle_decode(s2, sizeof(s2), 4, 2, 16, out), 0);
	assert_int_equal(out[4], 0);
	assert_int_equal(out[5], 0);
	assert_int_equal(out[6], 0xffff);
	assert_int_equal(out[7], 0);
	assert_int_equal(out[0], 0x1234);
	/* Short and overlong streams are refused. */
	assert_int_equal(rle_decode(s1, 2, 4, 2, 16, out), -1);
	assert_int_equal(rle_decode(s1, sizeof(s1), 4, 1, 16, out), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pixel_formats),
		cmocka_unit_test(test_blank_tile),
		cmocka_unit_test(test_text_compresses),
		cmocka_unit_test(test_noise),
		cmocka_unit_test(test_few_colours_every_width),
		cmocka_unit_test(test_long_runs),
		cmocka_unit_test(test_small_output),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_decoder_insert_fg),
		cmocka_unit_test(test_planar),
		cmocka_unit_test(test_planar_decoder_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
