/*
 * test_rdp_freerdp.c: our bitmap encoders against the decoders of a real
 * client, FreeRDP 2 (Debian's libfreerdp2, what xfreerdp draws with).
 *
 * libfreerdp2 ships no headers here (no -dev package), so the library is
 * opened with dlopen and the three entry points are declared below with
 * the signatures of FreeRDP 2's public headers (codec/interleaved.h,
 * codec/planar.h); the test skips if the library is absent.  Decoded
 * into PIXEL_FORMAT_BGRA32 (bytes B, G, R, A: 0xAARRGGBB as a
 * little-endian word) with vertical flip, as FreeRDP's gdi does for
 * bitmap updates.
 *
 * Checked: every tile of a screen full of coloured text and CJK, encoded
 * by screen_encode at 15, 16, 24 (interleaved RLE) and 32 bpp (planar),
 * decodes in FreeRDP to what screen_render drew (exact at 24/32 bpp;
 * within the 5/6-bit precision at 15/16); and random images straight
 * through rle_encode / planar_encode.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region.h"
#include "rdp/font.h"
#include "rdp/planar.h"
#include "rdp/rle.h"
#include "rdp/screen.h"

#define UNIFONT "/usr/share/unifont/unifont.hex"
#define LIBFREERDP "libfreerdp2.so.2"
/* FREERDP_PIXEL_FORMAT(32, FREERDP_PIXEL_FORMAT_TYPE_BGRA (4), 8, 8, 8, 8) */
#define PIXEL_FORMAT_BGRA32 ((32u << 24) | (4u << 16) | (8u << 12) | (8u << 8) | (8u << 4) | 8u)

typedef int (*interleaved_decompress_fn)(void *ctx, const uint8_t *src, uint32_t srclen, uint32_t w, uint32_t h,
                                         uint32_t bpp, uint8_t *dst, uint32_t dstfmt, uint32_t dststep,
                                         uint32_t xdst, uint32_t ydst, uint32_t dstw, uint32_t dsth,
                                         const void *palette);
typedef void *(*interleaved_new_fn)(int compressor);
typedef void (*interleaved_free_fn)(void *ctx);
typedef int (*planar_decompress_fn)(void *ctx, const uint8_t *src, uint32_t srclen, uint32_t w, uint32_t h,
                                    uint8_t *dst, uint32_t dstfmt, uint32_t dststep, uint32_t xdst, uint32_t ydst,
                                    uint32_t dstw, uint32_t dsth, int vflip);
typedef void *(*planar_new_fn)(uint32_t flags, uint32_t w, uint32_t h);
typedef void (*planar_free_fn)(void *ctx);

static void *lib;
static interleaved_decompress_fn interleaved_decompress;
static interleaved_new_fn interleaved_new;
static interleaved_free_fn interleaved_free;
static planar_decompress_fn planar_decompress;
static planar_new_fn planar_new;
static planar_free_fn planar_free;
static void *ictx, *pctx;
static struct region *root;
static struct font *font;

static int
setup(void **state)
{
	(void)state;
	root = region_new(NULL, "worker", REGION_UNLIMITED);
	font = font_load(root, UNIFONT);
	lib = dlopen(LIBFREERDP, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL)
		return 0;
	*(void **)&interleaved_decompress = dlsym(lib, "interleaved_decompress");
	*(void **)&interleaved_new = dlsym(lib, "bitmap_interleaved_context_new");
	*(void **)&interleaved_free = dlsym(lib, "bitmap_interleaved_context_free");
	*(void **)&planar_decompress = dlsym(lib, "planar_decompress");
	*(void **)&planar_new = dlsym(lib, "freerdp_bitmap_planar_context_new");
	*(void **)&planar_free = dlsym(lib, "freerdp_bitmap_planar_context_free");
	if (!interleaved_decompress || !interleaved_new || !interleaved_free || !planar_decompress || !planar_new ||
	    !planar_free)
		return -1;
	ictx = interleaved_new(0);
	pctx = planar_new(0, 64, 64);
	return ictx && pctx && font ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	if (ictx)
		interleaved_free(ictx);
	if (pctx)
		planar_free(pctx);
	/* No dlclose: FreeRDP's libraries keep global state (WLog). */
	region_release(root);
	return 0;
}

/* Channels of a and b differ by at most tol. */
static int
close_rgb(uint32_t a, uint32_t b, int tol)
{
	int s, d;

	for (s = 0; s < 24; s += 8) {
		d = (int)((a >> s) & 0xff) - (int)((b >> s) & 0xff);
		if (d > tol || d < -tol)
			return 0;
	}
	return 1;
}

/* FreeRDP decodes data (w x h at bpp, compressed per flags) into dst. */
static int
freerdp_decode(const uint8_t *data, size_t len, int w, int h, int bpp, uint32_t *dst)
{
	memset(dst, 0, (size_t)w * (size_t)h * 4);
	if (bpp == 32)
		return planar_decompress(pctx, data, (uint32_t)len, (uint32_t)w, (uint32_t)h, (uint8_t *)dst,
		                         PIXEL_FORMAT_BGRA32, (uint32_t)w * 4, 0, 0, (uint32_t)w, (uint32_t)h, 1);
	return interleaved_decompress(ictx, data, (uint32_t)len, (uint32_t)w, (uint32_t)h, (uint32_t)bpp,
	                              (uint8_t *)dst, PIXEL_FORMAT_BGRA32, (uint32_t)w * 4, 0, 0, (uint32_t)w,
	                              (uint32_t)h, NULL);
}

static void
compare(const uint32_t *want, const uint32_t *got, int n, int bpp, const char *what)
{
	int i, tol = bpp <= 16 ? 8 : 0;

	for (i = 0; i < n; i++)
		if (!close_rgb(want[i], got[i], tol))
			fail_msg("%s at %d bpp, pixel %d: FreeRDP %08x, we drew %06x", what, bpp, i, got[i], want[i]);
}

static void
put(struct screen *s, const char *text)
{
	screen_write(s, text, strlen(text));
}

static void
test_screen_tiles(void **state)
{
	static const int bpps[] = { 15, 16, 24, 32 };
	static uint8_t out[SCREEN_ENCODE_MAX_BYTES];
	uint32_t want[64 * 64], got[64 * 64];
	struct screen_bitmap bm;
	struct screen_rect r, pr;
	struct screen *s;
	int b, tiles = 0, compressed = 0;
	ssize_t n;

	(void)state;
	if (lib == NULL)
		skip();
	s = screen_new(root, font, 800, 600);
	assert_non_null(s);
	put(s, "$ ls --color\r\n\e[1;34mbin\e[0m  \e[32mrun.sh\e[0m  \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt\r\n");
	put(s, "\e[41m red \e[44m blue \e[48;2;0;200;0m green \e[0m \e[7mrev\e[0m \e[4mul\e[0m\r\n");
	put(s, "\e[38;5;208morange\e[38;2;17;34;51m rgb \e[0m$ ");
	for (b = 0; b < 4; b++) {
		screen_redraw(s);
		while (screen_next_update(s, &r)) {
			n = screen_encode(s, &r, bpps[b], SCREEN_CODEC_RLE, out, sizeof(out), &bm);
			assert_true(n > 0);
			pr = r;
			pr.w = bm.width;
			if (pr.x + pr.w > screen_width(s))
				continue;
			assert_int_equal(screen_render(s, &pr, want, bm.width), 0);
			if (!(bm.flags & SCREEN_BITMAP_COMPRESSION))
				continue;            /* raw: nothing of ours to decode */
			assert_true(freerdp_decode(out, (size_t)n, bm.width, bm.height, bpps[b], got));
			compare(want, got, bm.width * bm.height, bpps[b], "screen tile");
			compressed++;
			tiles++;
		}
	}
	print_message("%d compressed tiles decoded by FreeRDP\n", compressed);
	assert_true(tiles > 4 * 50);
	screen_free(s);
}

static uint32_t rng_state = 777;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void
test_random_images(void **state)
{
	static const int bpps[] = { 15, 16, 24, 32 };
	static uint32_t px[64 * 64], got[64 * 64];
	static uint8_t out[64 * 64 * 5 + 64];
	uint32_t pal[6];
	int round, w, h, i, b, k, run;
	ssize_t n;

	(void)state;
	if (lib == NULL)
		skip();
	for (round = 0; round < 200; round++) {
		w = 4 * (1 + (int)(rng() % 16));
		h = 1 + (int)(rng() % 64);
		b = bpps[round % 4];
		for (k = 0; k < 6; k++)
			pal[k] = k == 0 ? 0 : rng() & 0xffffff;
		for (i = 0; i < w * h;) {
			uint32_t c = round % 5 == 0 ? rng() & 0xffffff : pal[rng() % (1 + round % 6)];
			for (run = 1 + (int)(rng() % 30); run > 0 && i < w * h; run--, i++)
				px[i] = c;
		}
		if (round % 3 == 0)         /* repeated rows: background runs, zero deltas */
			for (i = w; i < w * h; i++)
				px[i] = px[i % w];
		n = b == 32 ? planar_encode(px, w, w, h, out, sizeof(out))
		            : rle_encode(px, w, w, h, b, out, sizeof(out));
		assert_true(n > 0);
		assert_true(freerdp_decode(out, (size_t)n, w, h, b, got));
		compare(px, got, w * h, b, "random image");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_screen_tiles),
		cmocka_unit_test(test_random_images),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
