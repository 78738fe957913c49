/*
 * screen.h: one terminal screen of the term service: libvterm state, the
 * keyboard state, damage, and rendering to RDP bitmaps.
 *
 * Use:
 *   s = screen_new(r, font, width_px, height_px)   (r: the session region)
 *   pty output      -> screen_write(s, bytes, n)     (cheap: marks damage)
 *   keyboard        -> screen_key_scancode / screen_key_unicode / screen_key_sync
 *   bytes for pty   <- screen_take_output(s, buf, len) (keys, terminal answers)
 *   updates:        while (screen_next_update(s, &rect))
 *                       n = screen_encode(s, &rect, bpp, codec, out, outlen, &bm);
 *                   each rect is one TS_BITMAP_DATA (at most 64x64 px);
 *                   bm gives its header fields.
 *   screen_resize(s, w, h) after a client resize; screen_redraw(s) marks
 *   the whole screen damaged (a new or resumed client).
 *
 * Cells are FONT_CELL_WIDTH_PX x FONT_CELL_HEIGHT_PX (8x16); cols = width
 * / 8, rows = height / 16; the pixels right of and below the last cell are
 * background.  There is no stored pixel framebuffer: screen_encode and
 * screen_render draw the rectangle's cells from libvterm's cell grid into
 * a 64x64 scratch tile, which keeps a 1920x1080 screen near 1.3 MiB
 * instead of 8 MiB of pixels.
 *
 * Memory, all from r (libvterm's allocations too, through its allocator):
 * at most screen_budget_bytes(width, height), about
 *   2 * rows * cols * 40 (vterm primary + alternate screen cells)
 *   + cols * 64 (vterm line buffer) + 5 bytes per 64x64 tile (damage)
 *   + 20 KiB (struct screen: 16 KiB tile + SCREEN_OUTPUT_MAX_BYTES)
 *   + 32 KiB (vterm fixed state) + block overheads
 * Nothing is allocated after screen_new except by screen_resize.
 */
#ifndef HF_RDP_SCREEN_H
#define HF_RDP_SCREEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct region;
struct font;
struct keymap;
struct screen;

#define SCREEN_TILE_PX               64      /* an update rectangle is at most 64x64 (what xrdp sends) */
#define SCREEN_OUTPUT_MAX_BYTES      4096    /* bytes for the pty not yet taken; more is dropped */
#define SCREEN_COLS_MAX              512     /* 4096 px / 8 */
#define SCREEN_ROWS_MAX              128     /* 2048 px / 16 */
#define SCREEN_CSI_ARGS_MAX          16      /* libvterm's CSI_ARGS_MAX, which 0.1.4 does not enforce */
#define SCREEN_CSI_DIGITS_MAX        5       /* digits of one CSI argument; the largest meaningful is 65535 */
#define SCREEN_DCS_MAX_BYTES         4096    /* a DCS string we drop; past this it is text again */
#define SCREEN_ESC_INTERMED_MAX      2       /* intermediates held after an ESC (ESC ( B needs one); more: dropped */
#define SCREEN_COMBINING_MAX         8       /* combining characters on one glyph (a cell shows 5; libvterm's buffer starts at 16) */

/* A rectangle in pixels (x, y: top-left). */
struct screen_rect {
	uint16_t x, y, w, h;
};

/* What screen_encode may use; it falls back to raw whenever the
 * compressed form would not be smaller. */
enum screen_codec {
	SCREEN_CODEC_NONE = 0,        /* raw rows, bottom-up, padded to 4 bytes */
	SCREEN_CODEC_RLE = 1,         /* compressed: interleaved RLE at 15/16/24 bpp, planar at 32 */
	SCREEN_CODEC_PLANAR = 2,      /* planar at 32 bpp ([MS-RDPEGDI] 2.2.2.5.1), raw otherwise */
};

/* TS_BITMAP_DATA flags ([MS-RDPBCGR] 2.2.9.1.1.3.1.2.2). */
#define SCREEN_BITMAP_COMPRESSION         0x0001
#define SCREEN_NO_BITMAP_COMPRESSION_HDR  0x0400

/* The header fields of one TS_BITMAP_DATA, as screen_encode filled them. */
struct screen_bitmap {
	uint16_t dest_left, dest_top, dest_right, dest_bottom; /* inclusive */
	uint16_t width, height;       /* of the data: width padded to 4 px */
	uint16_t bpp;
	uint16_t flags;               /* 0, or COMPRESSION | NO_..._HDR */
	size_t length;                /* bitmapLength: bytes written to out */
};

/* A screen of width x height pixels (at least one cell; at most
 * SCREEN_COLS_MAX x SCREEN_ROWS_MAX cells) drawing with font f (which
 * must outlive it; NULL draws boxes).  Everything is damaged at first.
 * NULL if r's budget refuses (nothing stays in r). */
struct screen *screen_new(struct region *r, const struct font *f, int width, int height);
/* Returns the screen's memory to r (the mirror of screen_new). */
void screen_free(struct screen *s);

/* The most screen_new (or screen_resize to this size) charges to r. */
size_t screen_budget_bytes(int width, int height);

int screen_width(const struct screen *s);
int screen_height(const struct screen *s);
int screen_cols(const struct screen *s);
int screen_rows(const struct screen *s);

/* Keyboard layout (default "us"); NULL keeps the current one. */
void screen_set_keymap(struct screen *s, const struct keymap *km);

/* Output of the program in the pty. */
void screen_write(struct screen *s, const char *bytes, size_t len);

/* Bytes for the pty (keys, answers to queries): copies at most len, and
 * returns how many; the rest stays for the next call. */
size_t screen_take_output(struct screen *s, char *out, size_t len);
size_t screen_output_pending(const struct screen *s);
/* Bytes dropped so far: for the pty (nobody took them in time), and of
 * the program's output: excess CSI arguments (SCREEN_CSI_ARGS_MAX), DCS
 * strings, controls inside escapes; for the session's statistics. */
void screen_dropped(const struct screen *s, uint64_t *output_bytes, uint64_t *seq_bytes);

/* RDP keyboard events (flags: KBDFLAGS_* of keymap.h). */
void screen_key_scancode(struct screen *s, uint16_t flags, uint16_t scancode);
/* TS_UNICODE_KEYBOARD_EVENT: one UTF-16 unit (surrogate pairs arrive as
 * two events); key-up events are ignored. */
void screen_key_unicode(struct screen *s, uint16_t flags, uint16_t code);
void screen_key_sync(struct screen *s, uint32_t toggle_flags);

/* Damage. */
int screen_has_damage(const struct screen *s);
/* Pops the next damaged rectangle (cell-aligned, at most 64x64 px, inside
 * one tile of the 64x64 grid): 1, or 0 if nothing is damaged. */
int screen_next_update(struct screen *s, struct screen_rect *out);
void screen_redraw(struct screen *s);

/* Encodes r (clipped to the screen) as one TS_BITMAP_DATA's data at bpp
 * 15, 16, 24 or 32, compressed with codec if it helps (bm->flags says).
 * Returns the byte count (== bm->length), or -1 if outlen is too small or
 * the arguments are bad.  SCREEN_ENCODE_MAX_BYTES always suffices for a
 * rectangle from screen_next_update. */
#define SCREEN_ENCODE_MAX_BYTES      (SCREEN_TILE_PX * SCREEN_TILE_PX * 4 + 1024)
ssize_t screen_encode(struct screen *s, const struct screen_rect *r, int bpp, enum screen_codec codec,
                      uint8_t *out, size_t outlen, struct screen_bitmap *bm);

/* Draws r (at most 64x64, clipped) as top-down 0x00RRGGBB pixels into
 * px (stride in pixels): what screen_encode encodes (tests, debugging). */
int screen_render(struct screen *s, const struct screen_rect *r, uint32_t *px, int stride);

/* Resizes the terminal (the program gets SIGWINCH from the session). 0 or
 * -1 if the budget refuses (the screen keeps its old size). */
int screen_resize(struct screen *s, int width, int height);

/* The text of one row (UTF-8, trailing blanks dropped) for tests and the
 * login prompt's own checks; returns the length. */
size_t screen_row_text(const struct screen *s, int row, char *out, size_t outlen);
/* Cursor cell. */
void screen_cursor(const struct screen *s, int *row, int *col);

#endif
