/*
 * screen.c: a terminal screen for the term service (see screen.h).
 *
 * Role: libvterm parses the pty's output into a cell grid; we track which
 * cells changed, and draw them with the Unifont glyphs into RDP bitmaps
 * when the connection asks for updates.  Keyboard events become the bytes
 * the pty should read.
 *
 * Damage: the screen is cut into 64x64 px tiles (8 cols x 4 rows of 8x16
 * cells, so a cell never straddles two tiles).  libvterm's damage and
 * cursor callbacks only grow one cell-aligned bounding box per tile, so
 * screen_write stays cheap however much the program writes; a tile is
 * popped as one rectangle.  screen_redraw marks whole tiles, margins
 * (pixels right of and below the cell grid) included.
 *
 * Rendering: no pixel framebuffer is kept.  screen_encode draws the
 * rectangle's cells from libvterm's cell grid into a 64x64 scratch tile:
 * colours (default, 16, 256, truecolour) resolved by libvterm, bold as
 * bright colour plus a one-pixel smear, reverse, underline (single and
 * double), strike-through, wide cells drawn with 16x16 glyphs across two
 * cells, the cursor as a reversed cell (or a line: DECSCUSR), DECSCNM
 * reverse video.  Missing glyphs draw a box.  Combining characters are
 * not drawn (the base is).  Encoding: interleaved RLE at 15/16/24 bpp,
 * planar at 32, raw whenever that is not smaller.
 *
 * libvterm 0.1.4 bugs defused here: see screen_write.
 *
 * Memory: everything, libvterm included, is allocated from a child region
 * of the caller's, whose budget is screen_budget_bytes(); libvterm does not
 * check its allocations, so screen_new (and screen_resize) first prove
 * the whole budget can be had, then hand it to libvterm.  After that
 * libvterm allocates nothing while parsing (the fuzz target checks).
 *
 * Limits: SCREEN_COLS_MAX x SCREEN_ROWS_MAX cells; SCREEN_OUTPUT_MAX_BYTES
 * of bytes for the pty (beyond that, key bytes are dropped and counted);
 * SCREEN_CSI_ARGS_MAX, SCREEN_CSI_DIGITS_MAX.
 *
 * Weaknesses: every scrolled line costs libvterm a move of the whole cell
 * grid (~11 us at 1920x1080), so a flood of short lines is CPU-bound;
 * the caller bounds how much it feeds per loop round.
 */
#include <string.h>

#include <vterm.h>

#include "region.h"
#include "rdp/font.h"
#include "rdp/keymap.h"
#include "rdp/planar.h"
#include "rdp/rle.h"
#include "rdp/screen.h"

#define CELL_W           FONT_CELL_WIDTH_PX
#define CELL_H           FONT_CELL_HEIGHT_PX
#define TILE             SCREEN_TILE_PX
#define TILE_COLS        (TILE / CELL_W)
#define TILE_ROWS        (TILE / CELL_H)

#define DEFAULT_FG_RGB   0xe5e5e5
#define DEFAULT_BG_RGB   0x000000

/* States of the shadow of libvterm's parser (screen_write). */
enum { FILTER_GROUND, FILTER_ESC, FILTER_CSI, FILTER_STRING, FILTER_DCS };

/* A cell-aligned box of one tile, in cells relative to the tile. */
struct tile_damage {
	uint8_t dirty;          /* 0, 1: the box, 2: the whole tile with margins */
	uint8_t c0, r0, c1, r1; /* [c0, c1) x [r0, r1) */
};

struct screen {
	struct region *r;
	const struct font *font;
	VTerm *vt;
	VTermScreen *vs;
	VTermState *vst;
	int width, height, cols, rows;
	int tiles_x, tiles_y;
	struct tile_damage *tiles;
	size_t ndirty;
	size_t scan;
	int all_dirty;          /* every tile's box holds all its cells */
	VTermPos cursor;
	int cursor_visible;
	int cursor_shape;       /* VTERM_PROP_CURSORSHAPE_* */
	int reverse;            /* DECSCNM */
	const struct keymap *km;
	struct keymap_state ks;
	uint16_t surrogate;     /* a high surrogate waiting for its low half */
	uint8_t filter;         /* shadow of libvterm's parser (screen_write) */
	uint8_t esc_held;       /* an ESC not yet passed to libvterm */
	uint8_t esc_in_string;  /* ... that came inside a string libvterm is in */
	uint8_t esc_nint;       /* intermediates held after it */
	char esc_int[SCREEN_ESC_INTERMED_MAX];
	uint8_t dcs_esc;        /* in a DCS: the last byte was ESC */
	size_t dcs_len;
	uint8_t csi_seps, csi_digits, csi_private;
	unsigned csi_value;     /* first argument, for REP */
	uint8_t u8buf[4];       /* the character being printed, UTF-8 */
	size_t u8len, u8need;
	unsigned zw_count;      /* characters in a row that left the cursor at zw_pos */
	VTermPos zw_pos;
	char last[16];          /* the last printed character, combining marks included */
	size_t lastlen;
	int last_wide;
	uint64_t seq_dropped;
	size_t outlen;
	uint64_t out_dropped;
	char out[SCREEN_OUTPUT_MAX_BYTES];
	uint32_t tile[TILE * TILE];
};

/* libvterm's allocator, routed to the screen's region (zeroed, as
 * libvterm requires). */
static void *
screen_vt_malloc(size_t size, void *arg)
{
	struct screen *s = arg;

	return region_zalloc(s->r, size);
}

static void
screen_vt_free(void *p, void *arg)
{
	struct screen *s = arg;

	if (p != NULL)
		region_free(s->r, p);
}

static VTermAllocatorFunctions screen_vt_alloc = { screen_vt_malloc, screen_vt_free };

/* ---- damage ---- */

/* Every cell of the grid is in its tile's box already: damage is free
 * until a tile is popped (scrolling and clears come in floods). */
static void
damage_all_cells(struct screen *s)
{
	size_t i, n = (size_t)s->tiles_x * (size_t)s->tiles_y;
	struct tile_damage *t;

	for (i = 0; i < n; i++) {
		t = &s->tiles[i];
		if (!t->dirty) {
			t->dirty = 1;
			s->ndirty++;
		}
		t->c0 = 0;
		t->r0 = 0;
		t->c1 = TILE_COLS;
		t->r1 = TILE_ROWS;
	}
	s->all_dirty = 1;
}

static void
damage_cells(struct screen *s, int r0, int c0, int r1, int c1)
{
	int tr, tc, a0, a1, b0, b1;
	struct tile_damage *t;

	if (s->all_dirty)
		return;
	if (r0 < 0)
		r0 = 0;
	if (c0 < 0)
		c0 = 0;
	if (r1 > s->rows)
		r1 = s->rows;
	if (c1 > s->cols)
		c1 = s->cols;
	if (r0 >= r1 || c0 >= c1)
		return;
	if (r0 == 0 && c0 == 0 && r1 == s->rows && c1 == s->cols) {
		damage_all_cells(s);
		return;
	}
	if (r1 - r0 == 1 && c1 - c0 == 1) {
		/* One cell (libvterm reports most changes so): one tile. */
		t = &s->tiles[(size_t)(r0 / TILE_ROWS) * (size_t)s->tiles_x + (size_t)(c0 / TILE_COLS)];
		a0 = r0 % TILE_ROWS;
		b0 = c0 % TILE_COLS;
		if (!t->dirty) {
			t->dirty = 1;
			t->r0 = (uint8_t)a0;
			t->r1 = (uint8_t)(a0 + 1);
			t->c0 = (uint8_t)b0;
			t->c1 = (uint8_t)(b0 + 1);
			s->ndirty++;
			return;
		}
		if (a0 < t->r0)
			t->r0 = (uint8_t)a0;
		if (a0 + 1 > t->r1)
			t->r1 = (uint8_t)(a0 + 1);
		if (b0 < t->c0)
			t->c0 = (uint8_t)b0;
		if (b0 + 1 > t->c1)
			t->c1 = (uint8_t)(b0 + 1);
		return;
	}
	for (tr = r0 / TILE_ROWS; tr <= (r1 - 1) / TILE_ROWS; tr++) {
		for (tc = c0 / TILE_COLS; tc <= (c1 - 1) / TILE_COLS; tc++) {
			t = &s->tiles[(size_t)tr * (size_t)s->tiles_x + (size_t)tc];
			a0 = r0 > tr * TILE_ROWS ? r0 - tr * TILE_ROWS : 0;
			a1 = r1 < (tr + 1) * TILE_ROWS ? r1 - tr * TILE_ROWS : TILE_ROWS;
			b0 = c0 > tc * TILE_COLS ? c0 - tc * TILE_COLS : 0;
			b1 = c1 < (tc + 1) * TILE_COLS ? c1 - tc * TILE_COLS : TILE_COLS;
			if (!t->dirty) {
				t->dirty = 1;
				t->r0 = (uint8_t)a0;
				t->r1 = (uint8_t)a1;
				t->c0 = (uint8_t)b0;
				t->c1 = (uint8_t)b1;
				s->ndirty++;
				continue;
			}
			if (a0 < t->r0)
				t->r0 = (uint8_t)a0;
			if (a1 > t->r1)
				t->r1 = (uint8_t)a1;
			if (b0 < t->c0)
				t->c0 = (uint8_t)b0;
			if (b1 > t->c1)
				t->c1 = (uint8_t)b1;
		}
	}
}

void
screen_redraw(struct screen *s)
{
	size_t i, n = (size_t)s->tiles_x * (size_t)s->tiles_y;

	for (i = 0; i < n; i++) {
		s->tiles[i].dirty = 2;
		s->tiles[i].c0 = 0;
		s->tiles[i].r0 = 0;
		s->tiles[i].c1 = TILE_COLS;
		s->tiles[i].r1 = TILE_ROWS;
	}
	s->ndirty = n;
	s->scan = 0;
	s->all_dirty = 1;
}

int
screen_has_damage(const struct screen *s)
{
	return s->ndirty > 0;
}

int
screen_next_update(struct screen *s, struct screen_rect *out)
{
	size_t n = (size_t)s->tiles_x * (size_t)s->tiles_y, k, i;
	struct tile_damage *t;
	int tx, ty, x0, y0, x1, y1;

	if (s->ndirty == 0)
		return 0;
	for (k = 0; k < n; k++) {
		i = (s->scan + k) % n;
		t = &s->tiles[i];
		if (!t->dirty)
			continue;
		tx = (int)(i % (size_t)s->tiles_x);
		ty = (int)(i / (size_t)s->tiles_x);
		if (t->dirty == 2) {
			x0 = tx * TILE;
			y0 = ty * TILE;
			x1 = x0 + TILE;
			y1 = y0 + TILE;
		} else {
			x0 = tx * TILE + t->c0 * CELL_W;
			y0 = ty * TILE + t->r0 * CELL_H;
			x1 = tx * TILE + t->c1 * CELL_W;
			y1 = ty * TILE + t->r1 * CELL_H;
		}
		if (x1 > s->width)
			x1 = s->width;
		if (y1 > s->height)
			y1 = s->height;
		t->dirty = 0;
		s->ndirty--;
		s->all_dirty = 0;
		s->scan = (i + 1) % n;
		if (x0 >= x1 || y0 >= y1)
			continue;   /* cannot happen for a screen of whole tiles; be safe */
		out->x = (uint16_t)x0;
		out->y = (uint16_t)y0;
		out->w = (uint16_t)(x1 - x0);
		out->h = (uint16_t)(y1 - y0);
		return 1;
	}
	s->ndirty = 0;
	s->all_dirty = 0;
	return 0;
}

/* ---- libvterm callbacks ---- */

static int
cb_damage(VTermRect rect, void *arg)
{
	struct screen *s = arg;

	damage_cells(s, rect.start_row, rect.start_col, rect.end_row, rect.end_col);
	return 1;
}

static void
damage_cursor(struct screen *s, VTermPos p)
{
	/* A wide cell under the cursor is drawn from both halves. */
	damage_cells(s, p.row, p.col - 1, p.row + 1, p.col + 2);
}

static int
cb_movecursor(VTermPos pos, VTermPos oldpos, int visible, void *arg)
{
	struct screen *s = arg;

	damage_cursor(s, oldpos);
	s->cursor = pos;
	s->cursor_visible = visible;
	damage_cursor(s, pos);
	return 1;
}

static int
cb_settermprop(VTermProp prop, VTermValue *val, void *arg)
{
	struct screen *s = arg;

	switch (prop) {
	case VTERM_PROP_CURSORVISIBLE:
		s->cursor_visible = val->boolean;
		damage_cursor(s, s->cursor);
		break;
	case VTERM_PROP_CURSORSHAPE:
		s->cursor_shape = val->number;
		damage_cursor(s, s->cursor);
		break;
	case VTERM_PROP_REVERSE:
		if (s->reverse != !!val->boolean) {
			s->reverse = !!val->boolean;
			screen_redraw(s);
		}
		break;
	default:
		break;
	}
	return 1;
}

static int
cb_bell(void *arg)
{
	return 1;
}

static int
cb_resize(int rows, int cols, void *arg)
{
	return 1;
}

static const VTermScreenCallbacks screen_cbs = {
	.damage = cb_damage,
	.movecursor = cb_movecursor,
	.settermprop = cb_settermprop,
	.bell = cb_bell,
	.resize = cb_resize,
	/* No sb_pushline: no scrollback, and libvterm then skips copying
	 * each line that scrolls off (a sixth of the cost of a scroll). */
};

static void
cb_output(const char *p, size_t len, void *arg)
{
	struct screen *s = arg;
	size_t room = sizeof(s->out) - s->outlen;

	if (len > room) {
		s->out_dropped += len - room;
		len = room;
	}
	memcpy(s->out + s->outlen, p, len);
	s->outlen += len;
}

/* ---- construction ---- */

size_t
screen_budget_bytes(int width, int height)
{
	size_t cols = (size_t)(width / CELL_W), rows = (size_t)(height / CELL_H);
	size_t tiles = (size_t)((width + TILE - 1) / TILE) * (size_t)((height + TILE - 1) / TILE);

	/* libvterm: two cell buffers (primary, alternate) of 36 bytes a cell
	 * and a scrollback line of 40 bytes a column, rounded up to 40 and 64;
	 * line info and tab stops per row/column; about 9 KiB of fixed state
	 * (parser and state buffers).  Each block costs the region's overhead:
	 * libvterm makes a dozen, we make three. */
	return 2 * rows * cols * 40 + cols * 64 + rows * 32 + cols
	       + tiles * sizeof(struct tile_damage) + sizeof(struct screen)
	       + 32 * 1024 + 32 * region_block_overhead() + region_self_overhead();
}

/* Proves that `bytes` more can be charged to r (and its ancestors) now. */
static int
screen_reserve(struct region *r, size_t bytes)
{
	void *p;
	size_t ov = region_block_overhead();

	if (bytes <= ov)
		return 0;
	p = region_alloc(r, bytes - ov);
	if (p == NULL)
		return -1;
	region_free(r, p);
	return 0;
}

static int
screen_dims(int width, int height, int *cols, int *rows)
{
	if (width < CELL_W || height < CELL_H)
		return -1;
	*cols = width / CELL_W;
	*rows = height / CELL_H;
	if (*cols > SCREEN_COLS_MAX || *rows > SCREEN_ROWS_MAX)
		return -1;
	return 0;
}

struct screen *
screen_new(struct region *parent, const struct font *f, int width, int height)
{
	struct region *r;
	struct screen *s;
	VTermColor fg, bg;
	size_t budget;
	int cols, rows;

	if (screen_dims(width, height, &cols, &rows) < 0)
		return NULL;
	budget = screen_budget_bytes(width, height);
	r = region_new(parent, "screen", budget);
	if (r == NULL)
		return NULL;
	if (screen_reserve(r, budget - region_used(r)) < 0) {
		region_release(r);
		return NULL;
	}
	s = region_zalloc(r, sizeof(*s));
	if (s == NULL) {
		region_release(r);
		return NULL;
	}
	s->r = r;
	s->font = f;
	s->width = width;
	s->height = height;
	s->cols = cols;
	s->rows = rows;
	s->tiles_x = (width + TILE - 1) / TILE;
	s->tiles_y = (height + TILE - 1) / TILE;
	s->tiles = region_zalloc(r, (size_t)s->tiles_x * (size_t)s->tiles_y * sizeof(*s->tiles));
	if (s->tiles == NULL) {
		region_release(r);
		return NULL;
	}
	s->km = keymap_find("us");
	keymap_state_init(&s->ks);
	s->cursor_visible = 1;
	s->cursor_shape = VTERM_PROP_CURSORSHAPE_BLOCK;

	s->vt = vterm_new_with_allocator(rows, cols, &screen_vt_alloc, s);
	if (s->vt == NULL) {
		region_release(r);
		return NULL;
	}
	vterm_set_utf8(s->vt, 1);
	vterm_output_set_callback(s->vt, cb_output, s);
	s->vst = vterm_obtain_state(s->vt);
	s->vs = vterm_obtain_screen(s->vt);
	vterm_screen_set_callbacks(s->vs, &screen_cbs, s);
	vterm_screen_enable_altscreen(s->vs, 1);
	vterm_state_set_bold_highbright(s->vst, 1);
	vterm_color_rgb(&fg, (DEFAULT_FG_RGB >> 16) & 0xff, (DEFAULT_FG_RGB >> 8) & 0xff, DEFAULT_FG_RGB & 0xff);
	vterm_color_rgb(&bg, (DEFAULT_BG_RGB >> 16) & 0xff, (DEFAULT_BG_RGB >> 8) & 0xff, DEFAULT_BG_RGB & 0xff);
	vterm_state_set_default_colors(s->vst, &fg, &bg);
	vterm_screen_reset(s->vs, 1);
	/* REP needs a previous character (see screen_write). */
	vterm_input_write(s->vt, " \r", 2);
	screen_redraw(s);
	return s;
}

void
screen_free(struct screen *s)
{
	if (s == NULL)
		return;
	/* vterm_free would only give blocks back to the region we drop. */
	region_release(s->r);
}

int
screen_resize(struct screen *s, int width, int height)
{
	struct tile_damage *tiles;
	size_t oldb, newb, used;
	int cols, rows, tx, ty;
	VTermPos pos;

	if (screen_dims(width, height, &cols, &rows) < 0)
		return -1;
	if (width == s->width && height == s->height)
		return 0;
	oldb = region_budget(s->r);
	newb = screen_budget_bytes(width, height);
	used = region_used(s->r);
	/* libvterm holds the old and the new buffers at once for a moment. */
	if (region_set_budget(s->r, used + newb) < 0 || screen_reserve(s->r, newb) < 0) {
		region_set_budget(s->r, oldb);
		return -1;
	}
	tx = (width + TILE - 1) / TILE;
	ty = (height + TILE - 1) / TILE;
	tiles = region_zalloc(s->r, (size_t)tx * (size_t)ty * sizeof(*tiles));
	if (tiles == NULL) {
		region_set_budget(s->r, oldb);
		return -1;
	}
	region_free(s->r, s->tiles);
	s->tiles = tiles;
	s->tiles_x = tx;
	s->tiles_y = ty;
	s->width = width;
	s->height = height;
	s->cols = cols;
	s->rows = rows;
	s->ndirty = 0;
	s->all_dirty = 0;
	vterm_set_size(s->vt, rows, cols);
	/* libvterm 0.1.4 bugs: shrinking scrolls the lines below the new last
	 * row up, and moves the cursor up with them even past the top, to a
	 * negative row; and it keeps a scrolling region that now ends below
	 * the last row.  Either makes the next erase or scroll write outside
	 * its buffers (`ESC [ J` or `ESC [ S` after a resize is a SEGV).  So:
	 * such a cursor goes home, and the scrolling region is reset (the
	 * cursor saved and restored around it; the program gets SIGWINCH and
	 * sets its region again).  CAN first ends any sequence the program
	 * left half-written. */
	vterm_state_get_cursorpos(s->vst, &pos);
	if (pos.row < 0 || pos.col < 0 || pos.row >= rows || pos.col >= cols)
		vterm_input_write(s->vt, "\x18\x1b[H", 4);
	vterm_input_write(s->vt, "\x18\x1b" "7" "\x1b[r" "\x1b" "8", 8);
	s->filter = FILTER_GROUND;
	s->esc_held = 0;        /* the CAN ended whatever the program had begun */
	s->esc_in_string = 0;
	s->esc_nint = 0;
	s->u8need = 0;
	s->u8len = 0;
	vterm_state_get_cursorpos(s->vst, &s->cursor);
	screen_redraw(s);
	/* Back to the steady-state budget (the larger of old and new holds). */
	used = region_used(s->r);
	region_set_budget(s->r, used > newb ? used : newb);
	return 0;
}

int screen_width(const struct screen *s) { return s->width; }
int screen_height(const struct screen *s) { return s->height; }
int screen_cols(const struct screen *s) { return s->cols; }
int screen_rows(const struct screen *s) { return s->rows; }

void
screen_cursor(const struct screen *s, int *row, int *col)
{
	*row = s->cursor.row;
	*col = s->cursor.col;
}

void
screen_set_keymap(struct screen *s, const struct keymap *km)
{
	if (km != NULL)
		s->km = km;
}

/* ---- input and output ---- */

/*
 * libvterm 0.1.4 (Debian 12) crashes or hangs on inputs any program in
 * the pty (or a `cat` of a hostile file) can produce, and one crash would
 * end every session of the worker:
 *  - a CSI with more than 16 arguments (';' or ':' separated): its parser
 *    writes past args[CSI_ARGS_MAX];
 *  - REP (CSI Pn b) before any character was printed: an endless loop;
 *  - REP of a wide character where the rest of the row is an odd number
 *    of cells: the last copy is written past the end of the row;
 *  - DECRQSS (DCS $ q ... ST) for " m": a bad format argument, SEGV or
 *    stack bytes sent back to the program;
 *  - a C1 control in UTF-8 (U+0080-U+009F, "\xc2\x80".."\xc2\x9f")
 *    followed by any character in insert mode (IRM): a wild memmove;
 *  - combining characters: a buffer that grows without bound (see
 *    text_emit).
 * So we shadow the parser.  DCS strings (ESC P ... ST) never reach
 * libvterm (it only answers DECRQSS with them): an ESC is held back until
 * the byte after it is known, and ESC P starts a string we drop, up to
 * ST, BEL, CAN or SUB, or SCREEN_DCS_MAX_BYTES.  C0 controls between an
 * ESC and its next byte (which libvterm would obey inside the escape)
 * are dropped, so that what follows an ESC is always its next byte.
 * Text is re-encoded: bytes >= 0x80 reach libvterm only as whole, valid
 * UTF-8 characters (anything else becomes U+FFFD), C1 controls in UTF-8
 * are dropped (nothing prints them), and bytes >= 0x80 inside escapes
 * and strings are dropped, so libvterm's decoder never holds half a
 * character across a control (where it would join "\xc2", CR, "\x92"
 * into U+0092).  From ESC '[' (C0 controls and DEL between
 * them do not break an escape in libvterm) to the final byte (0x40-0x7e)
 * we count separators and drop those beyond SCREEN_CSI_ARGS_MAX - 1, and
 * digits beyond SCREEN_CSI_DIGITS_MAX per argument (libvterm's arguments
 * overflow silently).  REP never reaches libvterm: its final byte becomes
 * 'z' (a CSI libvterm ignores) and we print the last character ourselves,
 * as many times as fit before the right edge (REP does not wrap).  The
 * shadow enters CSI at least whenever libvterm does (also inside strings,
 * where libvterm would not), so it can only drop more than needed, and
 * only from malformed sequences.  It also follows strings (OSC, DCS, ...)
 * so that their text is not taken for the last printed character.
 */
static int
char_is_combining(uint32_t cp)
{
	return (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
	       (cp >= 0x1dc0 && cp <= 0x1dff) || (cp >= 0x20d0 && cp <= 0x20ff) ||
	       (cp >= 0xfe20 && cp <= 0xfe2f);
}

static int
char_is_wide(uint32_t cp)
{
	/* East Asian Wide and Fullwidth blocks, as libvterm's table has them. */
	return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp != 0x303f) ||
	       (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	       (cp >= 0xfe30 && cp <= 0xfe6f) || (cp >= 0xff00 && cp <= 0xff60) ||
	       (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
	       (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd);
}

/* A complete character for libvterm: remembered for REP, then written.
 * libvterm appends each combining character to the previous glyph in a
 * buffer it doubles and never shrinks (a flood of U+0301 grows it without
 * end).  A character that leaves the cursor where it was is such an
 * appendix; after SCREEN_COMBINING_MAX of them in a row at one place (all
 * a cell shows is 5), non-ASCII characters there are dropped until the
 * cursor moves or ASCII text comes. */
static void
text_emit(struct screen *s, const uint8_t *u, size_t n, uint32_t cp)
{
	VTermPos before = s->cursor;

	if (s->zw_count >= SCREEN_COMBINING_MAX && s->cursor.row == s->zw_pos.row && s->cursor.col == s->zw_pos.col) {
		s->seq_dropped += n;
		return;
	}
	if (char_is_combining(cp)) {
		if (s->lastlen > 0 && s->lastlen + n <= sizeof(s->last)) {
			memcpy(s->last + s->lastlen, u, n);
			s->lastlen += n;
		}
	} else {
		memcpy(s->last, u, n);
		s->lastlen = n;
		s->last_wide = char_is_wide(cp);
	}
	vterm_input_write(s->vt, (const char *)u, n);
	if (s->cursor.row != before.row || s->cursor.col != before.col) {
		s->zw_count = 0;
		return;
	}
	if (s->zw_count > 0 && (s->zw_pos.row != s->cursor.row || s->zw_pos.col != s->cursor.col))
		s->zw_count = 0;
	s->zw_count++;
	s->zw_pos = s->cursor;
}

/* A broken sequence shows as U+FFFD, as libvterm would show it. */
static void
text_invalid(struct screen *s)
{
	static const uint8_t fffd[3] = { 0xef, 0xbf, 0xbd };

	s->u8need = 0;
	s->u8len = 0;
	text_emit(s, fffd, sizeof(fffd), 0xfffd);
	s->seq_dropped++;
}

/* One byte of text >= 0x80 (ground state): strict UTF-8, re-encoded. */
static void
text_byte(struct screen *s, unsigned char c)
{
	uint32_t cp;
	size_t k;

	if (c >= 0x80 && c <= 0xbf) {
		if (s->u8need == 0) {
			text_invalid(s);            /* a stray continuation */
			return;
		}
		s->u8buf[s->u8len++] = c;
		if (--s->u8need > 0)
			return;
		cp = s->u8buf[0] & (0x3f >> (s->u8len - 1));
		for (k = 1; k < s->u8len; k++)
			cp = cp << 6 | (s->u8buf[k] & 0x3f);
		if ((s->u8len == 2 && cp < 0x80) || (s->u8len == 3 && cp < 0x800) ||
		    (s->u8len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
			text_invalid(s);            /* overlong, surrogate, past U+10FFFF */
			return;
		}
		k = s->u8len;
		s->u8len = 0;
		if (cp >= 0x80 && cp <= 0x9f) {
			s->seq_dropped += k;        /* C1 control: nothing prints it */
			return;
		}
		text_emit(s, s->u8buf, k, cp);
		return;
	}
	if (s->u8need > 0)
		text_invalid(s);                    /* a new lead before the end */
	if (c >= 0xc2 && c <= 0xf4) {
		s->u8buf[0] = c;
		s->u8len = 1;
		s->u8need = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
		return;
	}
	text_invalid(s);                            /* 0xc0, 0xc1, 0xf5-0xff */
}

/* REP, done here: the last character count times, not past the edge,
 * and only while each copy moves the cursor (a copy that does not is
 * being appended to the glyph before it; see text_emit). */
static void
screen_rep(struct screen *s, unsigned count)
{
	VTermPos before;
	int room, w = s->last_wide ? 2 : 1;

	if (s->lastlen == 0)
		return;
	room = (s->cols - s->cursor.col) / w;
	if (count == 0)
		count = 1;
	if (room <= 0)
		return;
	if (count > (unsigned)room)
		count = (unsigned)room;
	while (count-- > 0) {
		before = s->cursor;
		vterm_input_write(s->vt, s->last, s->lastlen);
		if (s->cursor.row == before.row && s->cursor.col == before.col)
			break;
	}
}

void
screen_write(struct screen *s, const char *bytes, size_t len)
{
	size_t i, start = 0;
	unsigned char c;
	int drop, rep;

	for (i = 0; i < len; i++) {
		c = (unsigned char)bytes[i];
		drop = 0;
		rep = 0;
		if (s->esc_held) {
			/* The byte after an ESC (and its intermediates) we
			 * have not passed on yet.  libvterm only ever gets the
			 * ESC, its intermediates and the next byte in one
			 * write: 0.1.4 takes "ESC \" ending a string across two
			 * writes as a string of length -1 and copies from before
			 * the second write's buffer, past its end. */
			int cancel = 0;

			if (c >= 0x20 && c <= 0x2f) {
				if (s->esc_nint < SCREEN_ESC_INTERMED_MAX) {
					s->esc_int[s->esc_nint++] = (char)c;
					drop = 3;       /* held, not lost */
				} else {
					cancel = 1;     /* too many to mean anything */
				}
			} else if (c == 'P' || (s->esc_nint > 0 && (c == '[' || c == ']'))) {
				/* A DCS is dropped whole (FILTER_DCS).  libvterm
				 * also starts a DCS, CSI or OSC at P, [ or ] after
				 * intermediates ("ESC ( P"): nothing means that, and
				 * it would slip past this filter; the sequence goes. */
				cancel = 1;
			} else if (c == 0x1b || c == 0x7f || (c < 0x20 && c != 0x18 && c != 0x1a)) {
				drop = 1;           /* C0 inside an escape, or ESC ESC: keep holding */
			} else if (c == 0x18 || c == 0x1a) {
				/* CAN/SUB cancel the escape: the ESC goes, the CAN
				 * goes on to libvterm and ends its string if any. */
				s->esc_held = 0;
				s->esc_in_string = 0;
				s->esc_nint = 0;
				s->filter = FILTER_GROUND;
				continue;
			} else if (c >= 0x80) {
				cancel = 1;         /* ESC and an 8-bit byte mean nothing */
			} else {
				char seq[2 + SCREEN_ESC_INTERMED_MAX];
				size_t n = 0;

				if (i > start)
					vterm_input_write(s->vt, bytes + start, i - start);
				start = i + 1;
				seq[n++] = 0x1b;
				memcpy(seq + n, s->esc_int, s->esc_nint);
				n += s->esc_nint;
				seq[n++] = (char)c;
				vterm_input_write(s->vt, seq, n);
				s->esc_held = 0;
				s->esc_in_string = 0;
				if (s->esc_nint > 0) {
					/* ESC, intermediates, final: complete in libvterm. */
					s->esc_nint = 0;
					s->filter = FILTER_GROUND;
					continue;
				}
				/* c goes through FILTER_ESC below (already written). */
			}
			if (cancel) {
				if (i > start)
					vterm_input_write(s->vt, bytes + start, i - start);
				start = i + 1;
				if (s->esc_in_string)
					vterm_input_write(s->vt, "\x07", 1);   /* libvterm leaves its string too */
				s->esc_held = 0;
				s->esc_in_string = 0;
				s->esc_nint = 0;
				s->seq_dropped++;
				if (c == 'P') {
					s->filter = FILTER_DCS;
					s->dcs_len = 0;
					s->dcs_esc = 0;
					continue;
				}
				s->filter = FILTER_GROUND;
				if (c < 0x80)
					continue;
				start = i;          /* the 8-bit byte is text again: below */
			}
			if (drop) {
				if (i > start)
					vterm_input_write(s->vt, bytes + start, i - start);
				start = i + 1;
				if (drop != 3)
					s->seq_dropped++;
				continue;
			}
		}
		switch (s->filter) {
		case FILTER_GROUND:
			/* Text: ASCII goes as it is; bytes >= 0x80 only through
			 * text_byte, whole characters at a time, so libvterm's own
			 * UTF-8 decoder never holds half a character (it would join
			 * it across controls) nor sees a C1 control in UTF-8. */
			if (c >= 0x80) {
				if (i > start)
					vterm_input_write(s->vt, bytes + start, i - start);
				start = i + 1;
				text_byte(s, c);
				continue;
			}
			if (s->u8need > 0) {
				if (i > start)
					vterm_input_write(s->vt, bytes + start, i - start);
				start = i;
				text_invalid(s);
			}
			if (c == 0x1b) {
				s->filter = FILTER_ESC;
				s->esc_held = 1;
				drop = 2;
			} else if (c >= 0x20 && c != 0x7f) {
				s->last[0] = (char)c;
				s->lastlen = 1;
				s->last_wide = 0;
				s->zw_count = 0;    /* never combining: a new glyph */
			}
			break;
		case FILTER_ESC:
			/* The byte right after an ESC that libvterm has seen. */
			if (c == '[') {
				s->filter = FILTER_CSI;
				s->csi_seps = 0;
				s->csi_digits = 0;
				s->csi_private = 0;
				s->csi_value = 0;
			} else if (c == ']' || c == '_' || c == '^' || c == 'X') {
				s->filter = FILTER_STRING;
			} else {
				s->filter = FILTER_GROUND;
			}
			break;
		case FILTER_STRING:
			if (c >= 0x80) {
				drop = 1;           /* titles lose non-ASCII; never text for libvterm */
			} else if (c == 0x1b) {
				s->filter = FILTER_ESC;
				s->esc_held = 1;
				s->esc_in_string = 1;
				drop = 1;
			} else if (c == 0x07 || c == 0x18 || c == 0x1a) {
				s->filter = FILTER_GROUND;
			}
			break;
		case FILTER_DCS:
			if (s->dcs_len >= SCREEN_DCS_MAX_BYTES && !s->dcs_esc) {
				/* Too long to be a request: text again, from this byte. */
				s->filter = FILTER_GROUND;
				i--;
				continue;
			}
			drop = 1;
			if (s->dcs_esc) {
				s->dcs_esc = 0;
				if (c != '\\') {
					/* ESC and something else: a new escape. */
					s->filter = FILTER_ESC;
					s->esc_held = 1;
					if (i > start)
						vterm_input_write(s->vt, bytes + start, i - start);
					start = i;
					i--;
					continue;
				}
				s->filter = FILTER_GROUND;
			} else if (c == 0x1b) {
				s->dcs_esc = 1;
			} else if (c == 0x07 || c == 0x18 || c == 0x1a) {
				s->filter = FILTER_GROUND;
			} else {
				s->dcs_len++;
			}
			break;
		default:
			if (c >= 0x80) {
				drop = 1;           /* never part of a CSI */
			} else if (c >= '0' && c <= '9') {
				drop = ++s->csi_digits > SCREEN_CSI_DIGITS_MAX;
				if (drop)
					s->csi_digits = SCREEN_CSI_DIGITS_MAX;
				else if (s->csi_seps == 0)
					s->csi_value = s->csi_value * 10 + (unsigned)(c - '0');
			} else if (c == ';' || c == ':') {
				s->csi_digits = 0;
				drop = ++s->csi_seps >= SCREEN_CSI_ARGS_MAX;
				if (drop)
					s->csi_seps = SCREEN_CSI_ARGS_MAX;
			} else if (c == 0x1b) {
				s->filter = FILTER_ESC;
				s->esc_held = 1;
				drop = 1;
			} else if ((c >= 0x20 && c <= 0x2f) || (c >= 0x3c && c <= 0x3f)) {
				s->csi_private = 1;    /* leader or intermediate: not plain REP */
			} else if (c >= 0x40 && c <= 0x7e) {
				s->filter = FILTER_GROUND;
				rep = c == 'b' && !s->csi_private && s->csi_seps == 0;
			}
			break;
		}
		if (drop || rep) {
			if (i > start)
				vterm_input_write(s->vt, bytes + start, i - start);
			start = i + 1;
			if (drop == 1 && !s->esc_held)
				s->seq_dropped++;
			if (rep) {
				vterm_input_write(s->vt, "z", 1);    /* ends the CSI, does nothing */
				screen_rep(s, s->csi_value);
			}
		}
	}
	if (len > start)
		vterm_input_write(s->vt, bytes + start, len - start);
}

size_t
screen_take_output(struct screen *s, char *out, size_t len)
{
	if (len > s->outlen)
		len = s->outlen;
	memcpy(out, s->out, len);
	memmove(s->out, s->out + len, s->outlen - len);
	s->outlen -= len;
	return len;
}

size_t
screen_output_pending(const struct screen *s)
{
	return s->outlen;
}

void
screen_dropped(const struct screen *s, uint64_t *output_bytes, uint64_t *seq_bytes)
{
	*output_bytes = s->out_dropped;
	*seq_bytes = s->seq_dropped;
}

void
screen_key_scancode(struct screen *s, uint16_t flags, uint16_t scancode)
{
	struct keymap_event ev;
	char b[KEYMAP_CHAR_MAX_BYTES];
	size_t n;

	keymap_scancode(s->km, &s->ks, flags, scancode, &ev);
	switch (ev.kind) {
	case KEYMAP_CHAR:
		n = keymap_char_bytes(&ev, b);
		cb_output(b, n, s);
		break;
	case KEYMAP_KEY:
		vterm_keyboard_key(s->vt, (VTermKey)ev.value, (VTermModifier)ev.mods);
		break;
	default:
		break;
	}
}

void
screen_key_unicode(struct screen *s, uint16_t flags, uint16_t code)
{
	uint32_t cp;

	if (flags & KBDFLAGS_RELEASE)
		return;
	if (code >= 0xd800 && code <= 0xdbff) {
		s->surrogate = code;
		return;
	}
	if (code >= 0xdc00 && code <= 0xdfff) {
		if (s->surrogate == 0)
			return;
		cp = 0x10000 + (((uint32_t)s->surrogate - 0xd800) << 10) + (code - 0xdc00);
	} else {
		cp = code;
	}
	s->surrogate = 0;
	if (cp == 0)
		return;
	vterm_keyboard_unichar(s->vt, cp, VTERM_MOD_NONE);
}

void
screen_key_sync(struct screen *s, uint32_t toggle_flags)
{
	keymap_sync(&s->ks, toggle_flags);
}

size_t
screen_row_text(const struct screen *s, int row, char *out, size_t outlen)
{
	VTermRect rect;
	size_t n;

	if (row < 0 || row >= s->rows || outlen == 0)
		return 0;
	rect.start_row = row;
	rect.end_row = row + 1;
	rect.start_col = 0;
	rect.end_col = s->cols;
	n = vterm_screen_get_text(s->vs, out, outlen - 1, rect);
	if (n > outlen - 1)
		n = outlen - 1;
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	return n;
}

/* ---- rendering ---- */

static uint32_t
color_rgb(const VTermScreen *vs, VTermColor c)
{
	vterm_screen_convert_color_to_rgb(vs, &c);
	return (uint32_t)c.rgb.red << 16 | (uint32_t)c.rgb.green << 8 | c.rgb.blue;
}

/* Pixel (gx, gy) of a glyph, 0 outside it. */
static int
glyph_bit(const uint8_t *g, int wide, int gx, int gy)
{
	if (gx < 0 || gy < 0 || gy >= CELL_H || gx >= (wide ? 2 * CELL_W : CELL_W))
		return 0;
	if (wide)
		return (g[gy * 2 + gx / 8] >> (7 - gx % 8)) & 1;
	return (g[gy] >> (7 - gx)) & 1;
}

/* Draws the part of cell (row, col) that lies in [x0,x1) x [y0,y1) (screen
 * pixels) into px, whose pixel (0,0) is screen pixel (ox, oy). */
static void
draw_cell(struct screen *s, int row, int col, int x0, int y0, int x1, int y1, uint32_t *px, int stride, int ox,
          int oy)
{
	VTermScreenCell cell;
	VTermPos pos = { row, col };
	const uint8_t *g = NULL;
	uint32_t fg, bg, t, cp;
	int gw = 0, wide = 0, shift = 0, x, y, gx, gy, on, ul, cursor, cursor_line;

	vterm_screen_get_cell(s->vs, pos, &cell);
	if (cell.chars[0] == (uint32_t)-1 && col > 0) {
		/* The right half of a wide character. */
		pos.col = col - 1;
		vterm_screen_get_cell(s->vs, pos, &cell);
		shift = CELL_W;
	}
	fg = color_rgb(s->vs, cell.fg);
	bg = color_rgb(s->vs, cell.bg);
	cursor = s->cursor_visible && s->cursor.row == row &&
	         (s->cursor.col == pos.col || (cell.width == 2 && s->cursor.col == pos.col + 1));
	/* A block cursor reverses the cell; underline and bar cursors draw
	 * lines in the foreground (DECSCUSR, e.g. vim's insert mode). */
	cursor_line = cursor && s->cursor_shape != VTERM_PROP_CURSORSHAPE_BLOCK ? s->cursor_shape : 0;
	if (cursor_line)
		cursor = 0;
	if (cell.attrs.reverse ^ s->reverse ^ cursor) {
		t = fg;
		fg = bg;
		bg = t;
	}
	cp = cell.chars[0];
	if (cp != 0 && cp != ' ' && cp != (uint32_t)-1) {
		g = font_glyph(s->font, cp, &gw);
		if (g == NULL) {
			gw = cell.width == 2;
			g = font_box(gw);
		}
	}
	wide = gw && cell.width == 2;
	if (!wide)
		shift = shift ? -1 : 0;     /* a narrow glyph in a wide cell: left half only */
	ul = cell.attrs.underline;
	for (y = y0; y < y1; y++) {
		gy = y - row * CELL_H;
		for (x = x0; x < x1; x++) {
			gx = x - col * CELL_W + (shift > 0 ? shift : 0);
			on = 0;
			if (g != NULL && shift >= 0) {
				on = glyph_bit(g, gw, gx, gy);
				if (!on && cell.attrs.bold)
					on = glyph_bit(g, gw, gx - 1, gy);
			}
			if ((ul == VTERM_UNDERLINE_SINGLE || ul == VTERM_UNDERLINE_CURLY) && gy == CELL_H - 2)
				on = 1;
			if (ul == VTERM_UNDERLINE_DOUBLE && (gy == CELL_H - 1 || gy == CELL_H - 3))
				on = 1;
			if (cell.attrs.strike && gy == CELL_H / 2)
				on = 1;
			if (cursor_line == VTERM_PROP_CURSORSHAPE_UNDERLINE && gy >= CELL_H - 2)
				on = 1;
			if (cursor_line == VTERM_PROP_CURSORSHAPE_BAR_LEFT && pos.col == col && x - col * CELL_W < 2)
				on = 1;
			px[(size_t)(y - oy) * (size_t)stride + (size_t)(x - ox)] = on ? fg : bg;
		}
	}
}

int
screen_render(struct screen *s, const struct screen_rect *r, uint32_t *px, int stride)
{
	int x0 = r->x, y0 = r->y, x1 = r->x + r->w, y1 = r->y + r->h;
	int row, col, cx0, cy0, cx1, cy1, x, y;
	uint32_t margin = s->reverse ? DEFAULT_FG_RGB : DEFAULT_BG_RGB;

	if (r->w == 0 || r->h == 0 || r->w > TILE || r->h > TILE || stride < r->w)
		return -1;
	/* Everything outside the cell grid (and the screen) is background. */
	for (y = y0; y < y1; y++)
		for (x = x0; x < x1; x++)
			if (x >= s->cols * CELL_W || y >= s->rows * CELL_H)
				px[(size_t)(y - y0) * (size_t)stride + (size_t)(x - x0)] = margin;
	for (row = y0 / CELL_H; row < s->rows && row * CELL_H < y1; row++) {
		cy0 = row * CELL_H > y0 ? row * CELL_H : y0;
		cy1 = (row + 1) * CELL_H < y1 ? (row + 1) * CELL_H : y1;
		for (col = x0 / CELL_W; col < s->cols && col * CELL_W < x1; col++) {
			cx0 = col * CELL_W > x0 ? col * CELL_W : x0;
			cx1 = (col + 1) * CELL_W < x1 ? (col + 1) * CELL_W : x1;
			draw_cell(s, row, col, cx0, cy0, cx1, cy1, px, stride, x0, y0);
		}
	}
	return 0;
}

/* Raw rows bottom-up, 4-byte aligned (w is a multiple of 4 already). */
static ssize_t
encode_raw(const uint32_t *px, int w, int h, int bpp, uint8_t *out, size_t outlen)
{
	int bypp = rle_bytes_per_pixel(bpp), x, y;
	size_t row = (size_t)w * (size_t)bypp, padded = (row + 3) & ~(size_t)3, n = padded * (size_t)h;
	uint8_t *o = out;
	uint32_t v;

	if (n > outlen)
		return -1;
	for (y = h - 1; y >= 0; y--) {
		for (x = 0; x < w; x++) {
			v = px[(size_t)y * (size_t)w + (size_t)x];
			if (bpp == 32) {
				*o++ = (uint8_t)v;
				*o++ = (uint8_t)(v >> 8);
				*o++ = (uint8_t)(v >> 16);
				*o++ = 0xff;
				continue;
			}
			v = rle_pixel(v, bpp);
			*o++ = (uint8_t)v;
			*o++ = (uint8_t)(v >> 8);
			if (bypp == 3)
				*o++ = (uint8_t)(v >> 16);
		}
		memset(o, 0, padded - row);
		o += padded - row;
	}
	return (ssize_t)n;
}

ssize_t
screen_encode(struct screen *s, const struct screen_rect *rin, int bpp, enum screen_codec codec, uint8_t *out,
              size_t outlen, struct screen_bitmap *bm)
{
	struct screen_rect r = *rin, padr;
	size_t raw;
	ssize_t n = -1;
	int pw;

	if (rle_bytes_per_pixel(bpp) == 0 || out == NULL || bm == NULL)
		return -1;
	if (r.x >= s->width || r.y >= s->height || r.w == 0 || r.h == 0)
		return -1;
	if (r.x + r.w > s->width)
		r.w = (uint16_t)(s->width - r.x);
	if (r.y + r.h > s->height)
		r.h = (uint16_t)(s->height - r.y);
	pw = (r.w + 3) & ~3;
	if (pw > TILE || r.h > TILE)
		return -1;
	padr = r;
	padr.w = (uint16_t)pw;
	if (screen_render(s, &padr, s->tile, pw) < 0)
		return -1;
	raw = (((size_t)pw * (size_t)rle_bytes_per_pixel(bpp) + 3) & ~(size_t)3) * r.h;
	memset(bm, 0, sizeof(*bm));
	/* Compressed only if smaller than raw; at 32 bpp "compressed" is planar. */
	if (codec != SCREEN_CODEC_NONE) {
		if (bpp == 32)
			n = planar_encode(s->tile, pw, pw, r.h, out, outlen < raw ? outlen : raw - 1);
		else if (codec == SCREEN_CODEC_RLE)
			n = rle_encode(s->tile, pw, pw, r.h, bpp, out, outlen < raw ? outlen : raw - 1);
		if (n >= 0)
			bm->flags = SCREEN_BITMAP_COMPRESSION | SCREEN_NO_BITMAP_COMPRESSION_HDR;
	}
	if (n < 0)
		n = encode_raw(s->tile, pw, r.h, bpp, out, outlen);
	if (n < 0)
		return -1;
	bm->dest_left = r.x;
	bm->dest_top = r.y;
	bm->dest_right = (uint16_t)(r.x + r.w - 1);
	bm->dest_bottom = (uint16_t)(r.y + r.h - 1);
	bm->width = (uint16_t)pw;
	bm->height = r.h;
	bm->bpp = (uint16_t)bpp;
	bm->length = (size_t)n;
	return n;
}
