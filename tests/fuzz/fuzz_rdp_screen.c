/*
 * fuzz_rdp_screen.c: libFuzzer target for the term service's screen
 * (src/rdp/screen.c with libvterm, keymap, font, RLE encoder).
 *
 * Input layout: byte 0 picks the width (200..4096 px, small ones more
 * often), byte 1 the height (200..2048), byte 2 the keymap; then a list of operations,
 * each one byte of kind and its arguments:
 *   0-7   pty output: a length byte, then that many bytes (the usual case)
 *   8     scancode event: flags byte, scancode byte
 *   9     unicode event: two bytes (one UTF-16 unit)
 *   10    synchronize event: one byte of toggles
 *   11    drain damage, encoding each rectangle at 16/24/32 bpp, RLE or raw
 *   12    take the pty-bound output
 *   13    resize: two bytes as for the start
 *   14    redraw
 * Checks: nothing crashes; the session region is charged exactly the same
 * after every operation as after screen_new (libvterm allocates nothing
 * while parsing, the screen nothing while drawing), except that a resize
 * may change it, never past screen_budget_bytes of the larger size; every
 * update rectangle lies in the screen and within one 64x64 tile; an
 * encoded bitmap fits SCREEN_ENCODE_MAX_BYTES; output pending never
 * exceeds SCREEN_OUTPUT_MAX_BYTES; screen_free gives everything back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "region.h"
#include "rdp/font.h"
#include "rdp/keymap.h"
#include "rdp/screen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static struct region *worker;
static struct font *font;

/* A few glyphs, narrow and wide, so that both drawing paths run. */
static void
init_font(void)
{
	static const char hex[] =
	        "0041:0000000018242442427E424242420000\n"
	        "0061:0000000000003C42023E4242463A0000\n"
	        "0020:00000000000000000000000000000000\n"
	        "65E5:00001FF0101010101010101010101FF01010101010101010101010101FF01010\n";

	worker = region_new(NULL, "worker", REGION_UNLIMITED);
	CHECK(worker != NULL);
	font = font_load_mem(worker, hex, sizeof(hex) - 1);
	CHECK(font != NULL);
}

static int
dim(uint8_t b, int min, int max)
{
	/* Quadratic: mostly small screens (fast runs), the largest still
	 * reachable.  Widths are made multiples of 4 as term.c hands them
	 * over; heights may be anything. */
	return min + (int)((unsigned)b * (unsigned)b * (unsigned)(max - min) / (255u * 255u));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[SCREEN_ENCODE_MAX_BYTES];
	static const int bpps[] = { 16, 24, 32, 15 };
	struct region *sess;
	struct screen *s;
	struct screen_rect r;
	struct screen_bitmap bm;
	size_t pos = 3, base, steady, n, limit;
	int w, h, nw, nh, updates;
	char buf[512];
	uint8_t op;
	ssize_t len;

	if (font == NULL)
		init_font();
	if (size < 3)
		return 0;
	w = dim(data[0], 200, 4096) & ~3;
	h = dim(data[1], 200, 2048);
	sess = region_new(worker, "session", REGION_UNLIMITED);
	CHECK(sess != NULL);
	base = region_used(sess);
	s = screen_new(sess, font, w, h);
	CHECK(s != NULL);
	screen_set_keymap(s, keymap_find(data[2] & 1 ? "de" : "us"));
	steady = region_used(sess);
	limit = screen_budget_bytes(w, h);
	CHECK(steady - base <= limit);

	while (pos < size) {
		op = data[pos++];
		switch (op % 16) {
		case 8:
			if (size - pos < 2)
				break;
			screen_key_scancode(s, (uint16_t)(data[pos] << 8), data[pos + 1]);
			pos += 2;
			break;
		case 9:
			if (size - pos < 2)
				break;
			screen_key_unicode(s, 0, (uint16_t)(data[pos] << 8 | data[pos + 1]));
			pos += 2;
			break;
		case 10:
			if (size - pos < 1)
				break;
			screen_key_sync(s, data[pos++]);
			break;
		case 11:
			updates = 0;
			while (screen_next_update(s, &r)) {
				CHECK(r.w > 0 && r.h > 0 && r.w <= SCREEN_TILE_PX && r.h <= SCREEN_TILE_PX);
				CHECK(r.x + r.w <= screen_width(s) && r.y + r.h <= screen_height(s));
				CHECK(r.x / SCREEN_TILE_PX == (r.x + r.w - 1) / SCREEN_TILE_PX);
				CHECK(r.y / SCREEN_TILE_PX == (r.y + r.h - 1) / SCREEN_TILE_PX);
				/* Encoding every tile of a 4096x2048 screen is slow:
				 * encode the first few, pop the rest. */
				if (updates++ < 64) {
					len = screen_encode(s, &r, bpps[updates % 4],
					                    updates % 3 ? SCREEN_CODEC_RLE : SCREEN_CODEC_NONE, out,
					                    sizeof(out), &bm);
					CHECK(len > 0 && (size_t)len <= sizeof(out) && (size_t)len == bm.length);
				}
			}
			CHECK(!screen_has_damage(s));
			break;
		case 12:
			CHECK(screen_output_pending(s) <= SCREEN_OUTPUT_MAX_BYTES);
			while (screen_take_output(s, buf, sizeof(buf)) > 0)
				;
			break;
		case 13:
			if (size - pos < 2)
				break;
			nw = dim(data[pos], 200, 4096) & ~3;
			nh = dim(data[pos + 1], 200, 2048);
			pos += 2;
			if (screen_resize(s, nw, nh) == 0) {
				steady = region_used(sess);
				if (screen_budget_bytes(nw, nh) > limit)
					limit = screen_budget_bytes(nw, nh);
				CHECK(steady - base <= limit);
				CHECK(screen_cols(s) == nw / FONT_CELL_WIDTH_PX);
			}
			break;
		case 14:
			screen_redraw(s);
			break;
		default:
			if (size - pos < 1)
				break;
			n = data[pos++];
			if (n > size - pos)
				n = size - pos;
			screen_write(s, (const char *)data + pos, n);
			pos += n;
			break;
		}
		CHECK(region_used(sess) == steady);
		CHECK(screen_output_pending(s) <= SCREEN_OUTPUT_MAX_BYTES);
	}
	screen_free(s);
	CHECK(region_used(sess) == base);
	region_release(sess);
	return 0;
}
