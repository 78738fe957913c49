/*
 * test_rdp_screen.c: unit tests for src/rdp/screen.c with the real
 * libvterm and Debian's unifont.hex.
 *
 * Rendering: known text is drawn and specific pixels are compared with
 * the font's own glyph bits (foreground where the glyph has a bit, the
 * background elsewhere); "日本語.txt" takes two cells per CJK character
 * and each is drawn from its 16x16 glyph; colours (16, 256, truecolour),
 * bold, reverse, underline and the cursor change the pixels they should;
 * a code point without a glyph draws a box.
 * Damage: a new screen is all damaged and pops as tiles of at most 64x64
 * that cover it exactly once; once drained nothing is left; a one-cell
 * change pops a small cell-aligned rectangle holding that cell.
 * Encoding: each tile encoded with RLE (15, 16, 24 bpp) or planar (32 bpp)
 * and decoded by the test decoders equals screen_render; raw 16/24/32 bpp rows are bottom-up
 * and 4-byte padded; a too small buffer gives -1; bitmap header fields.
 * Memory: the screen's region stays within screen_budget_bytes for sizes
 * from the smallest to the largest, a screen_new refused by the budget
 * leaves nothing, screen_free returns everything, writing a lot of output
 * does not grow the region.
 * Terminal answers (DSR) come out of screen_take_output; resize.
 */
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
#include "rdp/rle.h"
#include "rdp/screen.h"
#include "planar_decode.h"
#include "rle_decode.h"

#define UNIFONT "/usr/share/unifont/unifont.hex"
#define FG 0xe5e5e5u
#define BG 0x000000u

static struct region *root;
static struct font *font;

static int
setup(void **state)
{
	(void)state;
	root = region_new(NULL, "worker", REGION_UNLIMITED);
	font = font_load(root, UNIFONT);
	return font == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	region_release(root);
	return 0;
}

static void
put(struct screen *s, const char *text)
{
	screen_write(s, text, strlen(text));
}

/* Pixels of cell (row, col) of a screen, 8x16, top-down. */
static void
cell_pixels(struct screen *s, int row, int col, int ncells, uint32_t *px)
{
	struct screen_rect r = { (uint16_t)(col * 8), (uint16_t)(row * 16), (uint16_t)(8 * ncells), 16 };

	assert_int_equal(screen_render(s, &r, px, 8 * ncells), 0);
}

/* The cell shows glyph g (narrow or wide) in fg on bg. */
static void
assert_glyph(const uint32_t *px, const uint8_t *g, int wide, uint32_t fg, uint32_t bg)
{
	int x, y, bit, w = wide ? 16 : 8;

	for (y = 0; y < 16; y++) {
		for (x = 0; x < w; x++) {
			bit = wide ? (g[y * 2 + x / 8] >> (7 - x % 8)) & 1 : (g[y] >> (7 - x)) & 1;
			if (px[y * w + x] != (bit ? fg : bg))
				fail_msg("pixel %d,%d: %06x, want %06x", x, y, px[y * w + x], bit ? fg : bg);
		}
	}
}

static void
drain(struct screen *s)
{
	struct screen_rect r;
	int n = 0;

	while (screen_next_update(s, &r))
		n++;
	assert_false(screen_has_damage(s));
}

static void
test_text_pixels(void **state)
{
	struct screen *s;
	uint32_t px[16 * 16];
	char row[256];
	const uint8_t *g;
	int wide;

	(void)state;
	s = screen_new(root, font, 640, 480);
	assert_non_null(s);
	assert_int_equal(screen_cols(s), 80);
	assert_int_equal(screen_rows(s), 30);
	put(s, "\e[?25lHi");                 /* cursor hidden: plain glyphs */
	assert_int_equal(screen_row_text(s, 0, row, sizeof(row)), 2);
	assert_string_equal(row, "Hi");
	g = font_glyph(font, 'H', &wide);
	cell_pixels(s, 0, 0, 1, px);
	assert_glyph(px, g, 0, FG, BG);
	g = font_glyph(font, 'i', &wide);
	cell_pixels(s, 0, 1, 1, px);
	assert_glyph(px, g, 0, FG, BG);
	/* An empty cell is all background. */
	cell_pixels(s, 5, 5, 1, px);
	assert_glyph(px, font_glyph(font, ' ', NULL), 0, FG, BG);
	screen_free(s);
}

static void
test_japanese_wide(void **state)
{
	struct screen *s;
	uint32_t px[16 * 16];
	char row[256];
	static const uint32_t cps[] = { 0x65e5, 0x672c, 0x8a9e };
	int i, wide;

	(void)state;
	s = screen_new(root, font, 640, 480);
	put(s, "\e[?25l\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt");   /* 日本語.txt */
	screen_row_text(s, 0, row, sizeof(row));
	assert_string_equal(row, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt");
	for (i = 0; i < 3; i++) {
		cell_pixels(s, 0, 2 * i, 2, px);
		assert_glyph(px, font_glyph(font, cps[i], &wide), 1, FG, BG);
		assert_int_equal(wide, 1);
	}
	/* ".txt" starts at column 6: the CJK took two cells each. */
	cell_pixels(s, 0, 6, 1, px);
	assert_glyph(px, font_glyph(font, '.', NULL), 0, FG, BG);
	/* The right half alone renders the same as within the pair. */
	{
		uint32_t half[8 * 16], both[16 * 16];
		int x, y;

		cell_pixels(s, 0, 0, 2, both);
		cell_pixels(s, 0, 1, 1, half);
		for (y = 0; y < 16; y++)
			for (x = 0; x < 8; x++)
				assert_int_equal(half[y * 8 + x], both[y * 16 + 8 + x]);
	}
	screen_free(s);
}

static uint32_t
fg_of(struct screen *s, int col)
{
	uint32_t px[8 * 16];

	/* 'H' has bit 7 set on row 4 (0x42 = 01000010: bit at x=1). */
	cell_pixels(s, 0, col, 1, px);
	return px[4 * 8 + 1];
}

static uint32_t
bg_of(struct screen *s, int col)
{
	uint32_t px[8 * 16];

	cell_pixels(s, 0, col, 1, px);
	return px[0];
}

static void
test_colours_and_attrs(void **state)
{
	struct screen *s;
	uint32_t px[8 * 16], c;
	int y, x, under = 0;

	(void)state;
	s = screen_new(root, font, 640, 480);
	put(s, "\e[?25l");
	put(s, "\e[31mH");                           /* col 0: red (16 colours) */
	put(s, "\e[38;5;196mH");                     /* col 1: 256-colour cube red */
	put(s, "\e[38;2;1;2;3;48;2;200;100;50mH");   /* col 2: truecolour */
	put(s, "\e[0;7mH");                          /* col 3: reverse */
	put(s, "\e[0;4mH");                          /* col 4: underline */
	put(s, "\e[0;44mH");                         /* col 5: blue background */
	put(s, "\e[0;1;31mH");                       /* col 6: bold red: bright */
	put(s, "\e[0m");
	c = fg_of(s, 0);
	assert_true((c >> 16) > 0x80 && ((c >> 8) & 0xff) < 0x40 && (c & 0xff) < 0x40);
	assert_int_equal(fg_of(s, 1), 0xff0000);
	assert_int_equal(fg_of(s, 2), 0x010203);
	assert_int_equal(bg_of(s, 2), 0xc86432);
	assert_int_equal(fg_of(s, 3), BG);
	assert_int_equal(bg_of(s, 3), FG);
	cell_pixels(s, 0, 4, 1, px);
	for (y = 12; y < 16; y++) {
		for (x = 0; x < 8 && px[y * 8 + x] == FG; x++)
			;
		under += x == 8;
	}
	assert_int_equal(under, 1);                  /* one full row */
	c = bg_of(s, 5);
	assert_true((c & 0xff) > 0x80 && (c >> 16) < 0x40);
	c = fg_of(s, 6);
	assert_true(c != fg_of(s, 0));               /* bright red differs */
	assert_true((c >> 16) > 0xe0);
	screen_free(s);
}

static void
test_cursor_and_missing_glyph(void **state)
{
	struct screen *s;
	uint32_t px[8 * 16];
	int row, col;

	(void)state;
	s = screen_new(root, font, 640, 480);
	put(s, "ab");
	screen_cursor(s, &row, &col);
	assert_int_equal(row, 0);
	assert_int_equal(col, 2);
	/* The cursor cell is drawn reversed: an empty cell all foreground. */
	cell_pixels(s, 0, 2, 1, px);
	assert_int_equal(px[0], FG);
	assert_int_equal(px[8 * 16 - 1], FG);
	/* DECSCUSR: underline (4) and bar (6) cursors are lines. */
	put(s, "\e[4 q");
	cell_pixels(s, 0, 2, 1, px);
	assert_int_equal(px[0], BG);
	assert_int_equal(px[15 * 8 + 3], FG);
	assert_int_equal(px[13 * 8 + 3], BG);
	put(s, "\e[6 q");
	cell_pixels(s, 0, 2, 1, px);
	assert_int_equal(px[5 * 8 + 0], FG);
	assert_int_equal(px[5 * 8 + 4], BG);
	assert_int_equal(px[15 * 8 + 4], BG);
	put(s, "\e[2 q");
	cell_pixels(s, 0, 2, 1, px);
	assert_int_equal(px[0], FG);
	put(s, "\e[?25l");
	cell_pixels(s, 0, 2, 1, px);
	assert_int_equal(px[0], BG);
	/* U+E000 has no glyph in unifont: a box. */
	put(s, "\xee\x80\x80");
	cell_pixels(s, 0, 2, 1, px);
	assert_glyph(px, font_box(0), 0, FG, BG);
	screen_free(s);
}

static void
test_damage_tiles(void **state)
{
	struct screen *s;
	struct screen_rect r;
	static uint8_t seen[1000 * 700];
	int x, y, n = 0, found = 0;

	(void)state;
	/* 1000x700: margins of 0 px (1000 = 125 * 8) and 12 px (700 = 43 * 16 + 12). */
	s = screen_new(root, font, 1000, 700);
	assert_non_null(s);
	assert_true(screen_has_damage(s));
	memset(seen, 0, sizeof(seen));
	while (screen_next_update(s, &r)) {
		assert_true(r.w > 0 && r.w <= 64 && r.h > 0 && r.h <= 64);
		assert_true(r.x + r.w <= 1000 && r.y + r.h <= 700);
		assert_int_equal(r.x / 64, (r.x + r.w - 1) / 64);
		assert_int_equal(r.y / 64, (r.y + r.h - 1) / 64);
		for (y = r.y; y < r.y + r.h; y++)
			for (x = r.x; x < r.x + r.w; x++)
				seen[y * 1000 + x]++;
		n++;
	}
	for (x = 0; x < 1000 * 700; x++)
		assert_int_equal(seen[x], 1);
	assert_int_equal(n, 16 * 11);
	assert_false(screen_has_damage(s));
	/* One character at row 10, col 20: a small rectangle holding it. */
	put(s, "\e[11;21HX");
	n = 0;
	while (screen_next_update(s, &r)) {
		assert_int_equal(r.x % 8, 0);
		assert_int_equal(r.y % 16, 0);
		assert_true(r.w <= 64 && r.h <= 64);
		if (r.x <= 160 && r.x + r.w >= 168 && r.y <= 160 && r.y + r.h >= 176)
			found = 1;
		n++;
	}
	assert_true(found);
	assert_true(n <= 2);
	/* Redraw marks everything again. */
	screen_redraw(s);
	assert_true(screen_has_damage(s));
	drain(s);
	/* A full clear damages every cell at once (the cheap path): every
	 * tile pops, with its cells; one popped, a change in it comes back. */
	put(s, "\e[2J");
	assert_true(screen_next_update(s, &r));
	assert_int_equal(r.x, 0);
	assert_int_equal(r.y, 0);
	assert_int_equal(r.w, 64);
	assert_int_equal(r.h, 64);
	put(s, "\e[1;1HQ");                         /* in the tile just popped */
	n = 1;
	found = 0;
	while (screen_next_update(s, &r)) {
		if (r.x == 0 && r.y == 0)
			found = 1;
		n++;
	}
	assert_true(found);
	assert_int_equal(n, 16 * 11 + 1);
	screen_free(s);
}

static void
check_round_trip(struct screen *s, const struct screen_rect *r, int bpp, int codec)
{
	static uint8_t out[SCREEN_ENCODE_MAX_BYTES];
	uint32_t want[64 * 64], got[64 * 64];
	struct screen_bitmap bm;
	struct screen_rect pr = *r;
	ssize_t n;
	int i, x, y, bypp = rle_bytes_per_pixel(bpp);
	size_t stride;
	const uint8_t *p;
	uint32_t v;

	n = screen_encode(s, r, bpp, codec, out, sizeof(out), &bm);
	assert_true(n > 0);
	assert_int_equal((size_t)n, bm.length);
	assert_int_equal(bm.dest_left, r->x);
	assert_int_equal(bm.dest_top, r->y);
	assert_int_equal(bm.dest_right, r->x + r->w - 1);
	assert_int_equal(bm.dest_bottom, r->y + r->h - 1);
	assert_int_equal(bm.width % 4, 0);
	assert_true(bm.width >= r->w && bm.width < r->w + 4);
	assert_int_equal(bm.height, r->h);
	assert_int_equal(bm.bpp, bpp);
	pr.w = bm.width;
	/* Pixels past the screen's right edge come back as margin. */
	if (pr.x + pr.w > screen_width(s))
		return;
	assert_int_equal(screen_render(s, &pr, want, bm.width), 0);
	if (bm.flags & SCREEN_BITMAP_COMPRESSION) {
		assert_int_equal(bm.flags, SCREEN_BITMAP_COMPRESSION | SCREEN_NO_BITMAP_COMPRESSION_HDR);
		assert_int_not_equal(codec, SCREEN_CODEC_NONE);
		if (bpp == 32) {
			assert_int_equal(planar_decode(out, (size_t)n, bm.width, bm.height, got), 0);
			for (i = 0; i < bm.width * bm.height; i++)
				assert_int_equal(got[i], 0xff000000u | want[i]);
			return;
		}
		assert_int_equal(codec, SCREEN_CODEC_RLE);
		assert_int_equal(rle_decode(out, (size_t)n, bm.width, bm.height, bpp, got), 0);
		for (i = 0; i < bm.width * bm.height; i++)
			assert_int_equal(got[i], rle_pixel(want[i], bpp));
		return;
	}
	assert_int_equal(bm.flags, 0);
	stride = ((size_t)bm.width * (size_t)bypp + 3) & ~(size_t)3;
	assert_int_equal((size_t)n, stride * bm.height);
	for (y = 0; y < bm.height; y++) {
		p = out + (size_t)(bm.height - 1 - y) * stride;  /* bottom-up */
		for (x = 0; x < bm.width; x++, p += bypp) {
			v = p[0] | (uint32_t)p[1] << 8 | (bypp >= 3 ? (uint32_t)p[2] << 16 : 0);
			if (bpp == 32) {
				assert_int_equal(p[3], 0xff);
				assert_int_equal(v, want[y * bm.width + x]);
			} else {
				assert_int_equal(v, rle_pixel(want[y * bm.width + x], bpp));
			}
		}
	}
}

static void
test_encode_round_trip(void **state)
{
	struct screen *s;
	struct screen_rect r;
	int n = 0, compressed = 0, i, n32 = 0, compressed32 = 0;
	static uint8_t out[SCREEN_ENCODE_MAX_BYTES];
	struct screen_bitmap bm;
	static const int bpps[] = { 16, 24, 15 };

	(void)state;
	s = screen_new(root, font, 804, 600);
	put(s, "$ ls -l\r\n\e[1;34mdir\e[0m  \e[32mscript.sh\e[0m  \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt\r\n");
	put(s, "\e[7m reverse \e[0m \e[4munder\e[0m \e[38;2;10;200;30;48;5;236mtrue\e[0m\r\n$ ");
	for (i = 0; i < 3; i++) {
		screen_redraw(s);
		while (screen_next_update(s, &r)) {
			check_round_trip(s, &r, bpps[i], SCREEN_CODEC_RLE);
			assert_true(screen_encode(s, &r, bpps[i], SCREEN_CODEC_RLE, out, sizeof(out), &bm) > 0);
			compressed += bm.flags != 0;
			n++;
		}
	}
	assert_true(compressed > n / 2);             /* text compresses */
	screen_redraw(s);
	while (screen_next_update(s, &r)) {
		check_round_trip(s, &r, 16, SCREEN_CODEC_NONE);
		check_round_trip(s, &r, 24, SCREEN_CODEC_NONE);
		check_round_trip(s, &r, 32, SCREEN_CODEC_NONE);
		check_round_trip(s, &r, 32, SCREEN_CODEC_RLE);   /* planar at 32 */
		check_round_trip(s, &r, 32, SCREEN_CODEC_PLANAR);
		check_round_trip(s, &r, 16, SCREEN_CODEC_PLANAR); /* raw at 16 */
		assert_true(screen_encode(s, &r, 32, SCREEN_CODEC_PLANAR, out, sizeof(out), &bm) > 0);
		compressed32 += bm.flags != 0;
		n32++;
	}
	assert_true(compressed32 > n32 / 2);
	/* Too small a buffer: -1. */
	r.x = 0;
	r.y = 0;
	r.w = 64;
	r.h = 64;
	assert_int_equal(screen_encode(s, &r, 32, SCREEN_CODEC_NONE, out, 64 * 64 * 4 - 1, &bm), -1);
	assert_int_equal(screen_encode(s, &r, 32, SCREEN_CODEC_NONE, out, 64 * 64 * 4, &bm), 64 * 64 * 4);
	/* Bad arguments. */
	assert_int_equal(screen_encode(s, &r, 8, SCREEN_CODEC_NONE, out, sizeof(out), &bm), -1);
	r.w = 65;
	assert_int_equal(screen_encode(s, &r, 16, SCREEN_CODEC_NONE, out, sizeof(out), &bm), -1);
	r.x = 900;
	r.w = 8;
	assert_int_equal(screen_encode(s, &r, 16, SCREEN_CODEC_NONE, out, sizeof(out), &bm), -1);
	/* The right edge: 804 px, the last tile is 36 px wide: exact. */
	r.x = 768;
	r.y = 0;
	r.w = 64;
	r.h = 16;
	assert_true(screen_encode(s, &r, 16, SCREEN_CODEC_NONE, out, sizeof(out), &bm) > 0);
	assert_int_equal(bm.dest_right, 803);
	assert_int_equal(bm.width, 36);
	screen_free(s);
}

static void
test_memory_bounds(void **state)
{
	static const int sizes[][2] = { { 200, 200 }, { 640, 480 }, { 1024, 768 }, { 1920, 1080 }, { 4096, 2048 } };
	struct region *sess;
	struct screen *s;
	size_t i, base, peak, k;
	char junk[4096];

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		sess = region_new(root, "session", REGION_UNLIMITED);
		base = region_used(sess);
		s = screen_new(sess, font, sizes[i][0], sizes[i][1]);
		assert_non_null(s);
		peak = region_used(sess) - base;
		print_message("screen %dx%d: %zu bytes (budget %zu)\n", sizes[i][0], sizes[i][1], peak,
		              screen_budget_bytes(sizes[i][0], sizes[i][1]));
		assert_true(peak <= screen_budget_bytes(sizes[i][0], sizes[i][1]));
		/* Output, scrolling, the alternate screen: no growth. */
		for (k = 0; k < sizeof(junk); k++)
			junk[k] = (char)(' ' + k % 90);
		for (k = 0; k < 50; k++) {
			screen_write(s, junk, sizeof(junk));
			put(s, "\r\n\e[?1049h\e[2J\e[31mx\e]0;title title title\a\e[?1049l\e[2;5r\e[5S\e[r");
		}
		assert_int_equal(region_used(sess) - base, peak);
		screen_free(s);
		assert_int_equal(region_used(sess), base);
		region_release(sess);
	}
	/* 1920x1080 stays under 1.5 MiB. */
	assert_true(screen_budget_bytes(1920, 1080) < 1536 * 1024);
}

static void
test_budget_refusal(void **state)
{
	struct region *sess;
	size_t need = screen_budget_bytes(1024, 768), b;

	(void)state;
	for (b = 1024; b < need; b += need / 7) {
		sess = region_new(root, "session", b);
		assert_null(screen_new(sess, font, 1024, 768));
		assert_int_equal(region_used(sess), 0);
		region_release(sess);
	}
	assert_null(screen_new(root, font, 4, 4));      /* below one cell */
	assert_null(screen_new(root, font, 8192, 600)); /* over SCREEN_COLS_MAX */
}

static void
test_answers_and_resize(void **state)
{
	struct screen *s;
	char buf[256];
	size_t n;
	struct screen_rect r;
	int rects = 0;

	(void)state;
	s = screen_new(root, font, 640, 480);
	put(s, "\e[5;10H\e[6n");                  /* cursor position report */
	n = screen_take_output(s, buf, sizeof(buf));
	assert_int_equal(n, 7);
	assert_memory_equal(buf, "\e[5;10R", 7);
	assert_int_equal(screen_output_pending(s), 0);
	/* A partial take leaves the rest. */
	put(s, "\e[6n");
	assert_int_equal(screen_take_output(s, buf, 3), 3);
	assert_int_equal(screen_output_pending(s), 4);
	assert_int_equal(screen_take_output(s, buf + 3, sizeof(buf) - 3), 4);
	assert_memory_equal(buf, "\e[5;10R", 7);

	drain(s);
	assert_int_equal(screen_resize(s, 1024, 768), 0);
	assert_int_equal(screen_cols(s), 128);
	assert_int_equal(screen_rows(s), 48);
	while (screen_next_update(s, &r))
		rects++;
	assert_int_equal(rects, 16 * 12);
	put(s, "\e[48;120Hz");
	n = screen_row_text(s, 47, buf, sizeof(buf));
	assert_int_equal(n, 120);
	assert_int_equal(buf[119], 'z');
	/* A short buffer truncates, NUL-terminated. */
	assert_int_equal(screen_row_text(s, 47, buf, 10), 0);   /* 9 blanks, trimmed */
	assert_int_equal(buf[0], '\0');
	assert_int_equal(screen_resize(s, 320, 240), 0);
	assert_int_equal(screen_cols(s), 40);
	assert_true(region_used(root) > 0);
	screen_free(s);
}

/* Inputs that crash libvterm 0.1.4 itself (found by fuzz_rdp_screen):
 * each runs in a fresh screen, and the screen must still work after. */
static void
test_libvterm_crashers(void **state)
{
	static const char *const bad[] = {
		"\e[;;;;;;;;;;;;;;;;m",                                  /* 17 arguments */
		"\e[;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;H",
		"\e[38:2:1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17m",    /* colons count too */
		"\e[?;;;;;;;;;;;;;;;;;;;;;h",
		"\e\x01[;;;;;;;;;;;;;;;;;;;;m",                          /* C0 inside ESC [ */
		"\e\x7f[;;;;;;;;;;;;;;;;;;;m",
		"\e]0;x\e[;;;;;;;;;;;;;;;;;;;;;;m",                      /* ESC [ ends a string */
		"\eP\e[;;;;;;;;;;;;;;;;;;;;m",
		"\e[b", "\e[5b", "\ec\e[99999999999b",                  /* REP with nothing before */
		"\xe8\xaa\x9e\e[30b", "\xe6\x97\xa5\e[?\e[9I\e[12b",     /* REP of a wide char, odd room */
		"\xe6\x97\xa5\e[23;45H\e[69b",
		"\eP$q m\e\\", "\e\x01P$q m\e\\",                     /* DECRQSS " m" */
		"\e[4h\xc2\x81\x84", "\e[4h\xc2\x85x", "\e[4h\e\xc2\x9fx", /* IRM + C1 in UTF-8 */
		"\e[99999999999999999999999999;99999999999999999999999H",
	};
	struct screen *s;
	char row[128];
	size_t i, k, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = screen_new(root, font, 320, 240);
		assert_non_null(s);
		put(s, bad[i]);
		/* Split at every byte: the shadow parser keeps its state. */
		for (k = 0; k < strlen(bad[i]); k++)
			screen_write(s, bad[i] + k, 1);
		put(s, "\e[H\e[2Jok");
		screen_row_text(s, 0, row, sizeof(row));
		if (strcmp(row, "ok") != 0)
			print_message("bad[%zu] leaves \"%s\"\n", i, row);
		assert_string_equal(row, "ok");
		screen_free(s);
	}
	/* libvterm 0.1.4 moves the cursor to a negative row when a resize
	 * cuts lines below it; the next erase wrote through NULL.  With and
	 * without a sequence half-written across the resize. */
	for (i = 0; i < 2; i++) {
		s = screen_new(root, font, 412, 245);
		assert_int_equal(screen_resize(s, 204, 531), 0);
		put(s, i ? "\e[30Bh\e[H\e[" : "\e[30Bh\e[H");
		assert_int_equal(screen_resize(s, 260, 229), 0);
		put(s, i ? "J" : "\e[J");
		put(s, "\e[H\e[2Jok");
		screen_row_text(s, 0, row, sizeof(row));
		assert_string_equal(row, "ok");
		screen_free(s);
	}
	/* DCS strings are dropped: no answer, no text; an ESC inside one
	 * starts a new escape; an unterminated one ends after
	 * SCREEN_DCS_MAX_BYTES. */
	s = screen_new(root, font, 320, 240);
	put(s, "\e[?25l\eP$qm\e\\A\ePhidden\x07" "B\ePzz\e[31mH\e\x01[32mH");
	assert_int_equal(screen_output_pending(s), 0);
	screen_row_text(s, 0, row, sizeof(row));
	assert_string_equal(row, "ABHH");
	assert_true((fg_of(s, 2) >> 16) > 0x80);        /* red */
	assert_true(((fg_of(s, 3) >> 8) & 0xff) > 0x80); /* green */
	put(s, "\e[H\e[2J\eP");
	for (k = 0; k < SCREEN_DCS_MAX_BYTES; k++)
		put(s, "x");
	put(s, "yz");
	screen_row_text(s, 0, row, sizeof(row));
	assert_string_equal(row, "yz");
	screen_free(s);
	/* A resize between a wide character, a held ESC and "[68b". */
	s = screen_new(root, font, 204, 532);
	put(s, "\xe6\x97\xa5\e");
	assert_int_equal(screen_resize(s, 424, 360), 0);
	put(s, "[68b");
	put(s, "\e[H\e[2Jok");
	screen_row_text(s, 0, row, sizeof(row));
	assert_string_equal(row, "ok");
	screen_free(s);
	/* C1 controls in UTF-8 are dropped, other 0xC2 characters stay. */
	s = screen_new(root, font, 320, 240);
	put(s, "a\xc2\x81" "b\xc2\xa9" "c\xc2");
	put(s, "\x9f" "d\xc2");
	put(s, "\xb5");
	screen_row_text(s, 0, row, sizeof(row));
	assert_string_equal(row, "ab\xc2\xa9" "cd\xc2\xb5");
	screen_free(s);
	/* ... and it keeps a scrolling region below the new last row. */
	for (i = 0; i < 2; i++) {
		s = screen_new(root, font, 200, 560);
		put(s, i ? "\e[?1049h\e[17;62r" : "\e[17;62r\e[20;5H");
		assert_int_equal(screen_resize(s, 248, 226), 0);
		put(s, "\e[38S\e[5T\e[3L\e[3M");
		put(s, "\e[H\e[2Jok");
		screen_row_text(s, 0, row, sizeof(row));
		assert_string_equal(row, "ok");
		screen_free(s);
	}
	/* Sixteen arguments still work: the last one (31, red) counts. */
	s = screen_new(root, font, 320, 240);
	put(s, "\e[?25l\e[0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;31mH");
	{
		uint64_t out, csi;

		screen_dropped(s, &out, &csi);
		assert_int_equal(csi, 0);
		put(s, "\e[0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0m\e[1234567m");
		screen_dropped(s, &out, &csi);
		assert_int_equal(csi, 2 + 2);            /* separators 16-17, digits 6-7 */
	}
	assert_true(fg_of(s, 0) >> 16 > 0x80);
	assert_true((fg_of(s, 0) & 0xff) < 0x40);
	/* REP after a character repeats it (done by screen.c, not libvterm). */
	put(s, "\e[H\e[2Jx\e[3b");
	screen_row_text(s, 0, row, sizeof(row));
	assert_string_equal(row, "xxxx");
	put(s, "\e[H\e[2Jy\e[b");                    /* no count: once */
	screen_row_text(s, 0, row, sizeof(row));
	assert_string_equal(row, "yy");
	put(s, "\e[H\e[2Je\xcc\x81\e[2b");           /* with its combining mark */
	screen_row_text(s, 0, row, sizeof(row));
	assert_string_equal(row, "e\xcc\x81" "e\xcc\x81" "e\xcc\x81");
	put(s, "\e[H\e[2Jq\e]0;title\a\e[1b");       /* a title is not printed text */
	screen_row_text(s, 0, row, sizeof(row));
	assert_string_equal(row, "qq");
	put(s, "\e[H\e[2Jab\e[1;38H\e[9b");          /* not past the right edge (40 cols) */
	screen_row_text(s, 1, row, sizeof(row));
	assert_string_equal(row, "");
	screen_free(s);
	/* A wide character with an odd number of cells left: 31 columns. */
	s = screen_new(root, font, 248, 240);
	put(s, "\xe6\x97\xa5\e[99b");
	n = screen_row_text(s, 0, row, sizeof(row));
	assert_int_equal(n, 15 * 3);                  /* 15 wide chars, 30 cells */
	screen_row_text(s, 1, row, sizeof(row));
	assert_string_equal(row, "");
	screen_free(s);
}

/* screen_write from a heap copy of exactly n bytes: nothing (no NUL)
 * follows it, so under ASan a read past its end fails the test. */
static void
put_exact(struct screen *s, const char *text, size_t n)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	memcpy(p, text, n);
	screen_write(s, p, n);
	free(p);
}

/* libvterm 0.1.4 takes "ESC \" ending a string, when the ESC and the
 * backslash come in two writes, as a string of length -1 and copies from
 * the second write's buffer past its end (found by fuzz_rdp_screen); and
 * it starts a DCS, CSI or OSC at P, [ or ] after an ESC's intermediates
 * ("ESC ( P"), which the filter took for a finished escape.  Each case
 * whole, then split at every byte, each piece in its own exact buffer. */
static void
test_libvterm_split_escapes(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *row;
	} cases[] = {
#define C(s, r) { s, sizeof(s) - 1, r }
		/* The fuzzer's input (a DCS after ESC NUL ( P, ended by ESC \). */
		C("\0\\\x10\x1e\x1b\0(P$qm\0(P$qm\x1b\\x\x0c\x0b", "\\x"),
		C("\e]0;title\e\\after", "after"),                   /* OSC ended by ST */
		C("\e]2;t\e\e\\x", "x"),                             /* ESC ESC \ in a string */
		C("\e]0;t\eP$q m\e\\y", "y"),                        /* a DCS starts in a string */
		C("\e]0;t\e\xc3\xa9z", "\xc3\xa9z"),               /* ESC and UTF-8 in a string */
		C("\e(Pxyz\e\\A", "A"),                              /* ESC ( P: dropped, as a DCS */
		C("\e([;;;;;;;;;;;;;;;;;;;;;;m", ";;;;;;;;;;;;;;;;;;;;;;m"),  /* no CSI of 23 arguments */
		C("\e(]0;t\e\\B", "0;tB"),                           /* no OSC either */
		C("\e(0q\e(Bq", "\xe2\x94\x80q"),                  /* designations still work */
		C("\e(((Bx", "Bx"),                                     /* 3 intermediates: dropped */
		C("\e#8", "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE"),   /* DECALN: 40 columns of E */
#undef C
	};
	struct screen *s;
	char row[256];
	size_t i, k;
	int split;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (split = 0; split < 2; split++) {
			s = screen_new(root, font, 320, 240);
			assert_non_null(s);
			if (!split)
				put_exact(s, cases[i].in, cases[i].len);
			else
				for (k = 0; k < cases[i].len; k++)
					put_exact(s, cases[i].in + k, 1);
			screen_row_text(s, 0, row, sizeof(row));
			if (strcmp(row, cases[i].row) != 0)
				print_message("case %zu (split %d) leaves \"%s\"\n", i, split, row);
			assert_string_equal(row, cases[i].row);
			put_exact(s, "\e[H\e[2Jok", 9);
			screen_row_text(s, 0, row, sizeof(row));
			assert_string_equal(row, "ok");
			screen_free(s);
		}
	}
}

/* Bounded stress: escape sequences that exercise libvterm's weak spots
 * (wide characters, REP, insert mode, scrolling regions, margins, the
 * alternate screen, DECRQSS, malformed UTF-8), split at random points,
 * with resizes between and inside sequences.  This is how the crashes
 * above were found; fixed seeds keep it reproducible.  Under ASan any
 * stray write fails the run; the region charge must not move except at
 * a resize, and the screen must still print afterwards. */
static uint32_t stress_state;

static uint32_t
stress_rng(void)
{
	stress_state ^= stress_state << 13;
	stress_state ^= stress_state >> 17;
	stress_state ^= stress_state << 5;
	return stress_state;
}

static void
test_stress_sequences(void **state)
{
	static const char *const frags[] = {
		"\e[H", "\e[J", "\e[2J", "\e[K", "\e[1K", "\e[%dB", "\e[%dA", "\e[%d;%dH", "\e[%d;%dr",
		"\e[r", "\e[?1049h", "\e[?1049l", "\e[?47h", "\e[?47l", "\e[%dL", "\e[%dM", "\e[%d@",
		"\e[%dP", "\e[%dX", "\e[%dS", "\e[%dT", "\n", "\r\n", "\x0b", "\x0c", "\x08", "\t",
		"\xe6\x97\xa5", "\xe8\xaa\x9e", "abc", "x\xcc\x81", "\e[?6h", "\e[?6l", "\e[?69h",
		"\e[%d;%ds", "\e[?69l", "\e#8", "\e[%db", "\e" "7", "\e" "8", "\e" "D", "\e" "M", "\e" "E",
		"\e[?7l", "\e[?7h", "\e[4h", "\e[4l", "\e[%dG", "\e[%dd", "\e[%dZ", "\e[%dI", "\e" "c",
		"\e[!p", "\e[?5h", "\e[?5l", "\e#3", "\e#6", "\e[%dJ", "\e[%dK", "\e[?%dJ", "\e[%dC",
		"\e[%dD", "\e[%de", "\e[%da", "\e[%dg", "\e[%d q", "\xef\xbc\xa1", "\xcc\x81",
		"\e(0lqk\e(B", "\eP$q m\e\\", "\e]0;t\x07", "\xc2", "\x92", "\xc2\r\x92", "\xf0\x9f",
	};
	struct region *sess;
	struct screen *s;
	struct screen_rect rc;
	char b[64], row[64];
	size_t n, cut, steady;
	int seed, it, k, w, h, a1, a2;
	const char *f;

	(void)state;
	for (seed = 1; seed <= 3; seed++) {
		stress_state = 0x9e3779b9u * (uint32_t)seed;
		for (it = 0; it < 30; it++) {
			sess = region_new(root, "session", REGION_UNLIMITED);
			w = 200 + (int)(stress_rng() % 200) / 4 * 4;
			h = 200 + (int)(stress_rng() % 400);
			s = screen_new(sess, font, w, h);
			assert_non_null(s);
			steady = region_used(sess);
			for (k = 0; k < 300; k++) {
				if (stress_rng() % 25 == 0) {
					w = 200 + (int)(stress_rng() % 300) / 4 * 4;
					h = 200 + (int)(stress_rng() % 600);
					assert_int_equal(screen_resize(s, w, h), 0);
					steady = region_used(sess);
					continue;
				}
				/* One call per statement: the same sequence with any compiler. */
				f = frags[stress_rng() % (sizeof(frags) / sizeof(frags[0]))];
				a1 = (int)(stress_rng() % 70);
				a2 = (int)(stress_rng() % 70);
				snprintf(b, sizeof(b), f, a1, a2);
				n = strlen(b);
				cut = stress_rng() % 8 == 0 ? stress_rng() % (n + 1) : n;
				screen_write(s, b, cut);
				if (cut < n && stress_rng() % 2) {
					w = 200 + (int)(stress_rng() % 300) / 4 * 4;
					h = 200 + (int)(stress_rng() % 600);
					assert_int_equal(screen_resize(s, w, h), 0);
					steady = region_used(sess);
				}
				screen_write(s, b + cut, n - cut);
				if (region_used(sess) != steady) {
					size_t q;
					print_message("grew after %zu bytes:", n);
					for (q = 0; q < n; q++)
						print_message(" %02x", (unsigned char)b[q]);
					print_message(" (cut %zu)\n", cut);
				}
				assert_int_equal(region_used(sess), steady);
				if (stress_rng() % 50 == 0)
					while (screen_next_update(s, &rc))
						;
			}
			/* Back to plain: G0 ASCII (a split "ESC ( 0" may have
			 * left line drawing), main screen, no insert, no margins. */
			put(s, "\x18\x0f\e(B\e[?1049l\e[4l\e[r\e[?6l\e[H\e[2Jok");
			screen_row_text(s, 0, row, sizeof(row));
			assert_string_equal(row, "ok");
			screen_free(s);
			region_release(sess);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_pixels),
		cmocka_unit_test(test_japanese_wide),
		cmocka_unit_test(test_colours_and_attrs),
		cmocka_unit_test(test_cursor_and_missing_glyph),
		cmocka_unit_test(test_damage_tiles),
		cmocka_unit_test(test_encode_round_trip),
		cmocka_unit_test(test_memory_bounds),
		cmocka_unit_test(test_budget_refusal),
		cmocka_unit_test(test_answers_and_resize),
		cmocka_unit_test(test_libvterm_crashers),
		cmocka_unit_test(test_libvterm_split_escapes),
		cmocka_unit_test(test_stress_sequences),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
