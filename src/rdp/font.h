/*
 * font.h: GNU Unifont (.hex, optionally gzipped) as an in-memory bitmap
 * font for the term service's screens.
 *
 * Loaded once per worker (term.c start) and charged to the region given;
 * read-only afterwards, shared by every screen.  Glyphs are 8x16 (narrow)
 * or 16x16 (wide) pixels, one bit per pixel, most significant bit on the
 * left, top row first: a narrow glyph is 16 bytes (one per row), a wide
 * glyph 32 bytes (two per row).
 *
 * Memory: about 16 or 32 bytes per glyph plus a two-level index (a 4 KiB
 * page table per Unicode plane present, and one 1 KiB page of offsets per
 * 256 code points that have a glyph): for Debian's unifont.hex (57,086
 * glyphs of plane 0) about 1.6 MiB.
 */
#ifndef HF_RDP_FONT_H
#define HF_RDP_FONT_H

#include <stddef.h>
#include <stdint.h>

struct region;
struct font;

#define FONT_CELL_WIDTH_PX       8        /* a narrow glyph; wide glyphs are two cells */
#define FONT_CELL_HEIGHT_PX      16
#define FONT_GLYPHS_MAX          (200 * 1000)  /* Unifont 15 has ~57,000 in plane 0; refuse absurd files */
#define FONT_FILE_MAX_BYTES      (32 * 1024 * 1024)  /* decompressed .hex text */
#define FONT_CODEPOINT_MAX       0x10ffff

/* Loads a .hex file (plain or gzip).  The font, its index and glyphs are
 * allocated in r; on failure NULL (logged) and nothing stays in r. */
struct font *font_load(struct region *r, const char *path);

/* Same, from a .hex text in memory (tests, fuzzing). */
struct font *font_load_mem(struct region *r, const char *text, size_t len);

/* Bitmap of cp (see above), or NULL if the font has no glyph for it.
 * *wide (if not NULL) is set to 1 for a 16x16 glyph, 0 for 8x16. */
const uint8_t *font_glyph(const struct font *f, uint32_t cp, int *wide);

/* A box glyph (the outline of a cell), narrow or wide, for missing ones. */
const uint8_t *font_box(int wide);

size_t font_count(const struct font *f);

#endif
