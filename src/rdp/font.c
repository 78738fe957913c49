/*
 * font.c: GNU Unifont .hex files as an in-memory bitmap font (see font.h).
 *
 * Role: the term service draws every terminal cell with these glyphs.  The
 * font is loaded once per worker and read by every screen.
 *
 * Format: one glyph per line, "CODEPOINT:BITMAP", the code point in 4 to 6
 * hex digits, the bitmap 32 hex digits (8x16) or 64 (16x16), rows top
 * down.  Lines that do not match (comments, other sizes, code points past
 * U+10FFFF) are counted and skipped; a file without any glyph is an error.
 * A code point seen twice keeps its first glyph.
 *
 * Storage: glyph bitmaps are packed into 64 KiB chunks; a two-level index
 * (plane -> page of 256 code points -> 32-bit reference) finds them.  A
 * reference is 0 for "no glyph", else bit 31 = wide and the low bits the
 * offset + 1 of the bitmap in chunk space.  Everything lives in a child
 * region of the caller's region, so that a failed load releases it whole.
 *
 * Limits: FONT_FILE_MAX_BYTES of text, FONT_GLYPHS_MAX glyphs (font.h);
 * a line longer than FONT_LINE_MAX_BYTES is skipped.
 * Input is the operator's file, not a peer's, yet it is parsed as if it
 * were hostile.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "log.h"
#include "region.h"
#include "rdp/font.h"

#define FONT_LINE_MAX_BYTES     160      /* 6 + 1 + 64 + CRLF, with room */
#define FONT_CHUNK_BYTES        (64 * 1024)
#define FONT_CHUNKS_MAX         ((FONT_GLYPHS_MAX * 32) / FONT_CHUNK_BYTES + 2)
#define FONT_PLANES             17
#define FONT_PAGE_CPS           256
#define FONT_REF_WIDE           0x80000000u

struct font_page {
	uint32_t ref[FONT_PAGE_CPS];
};

struct font {
	struct region *r;
	struct font_page **planes[FONT_PLANES];   /* each: 256 page pointers */
	uint8_t *chunks[FONT_CHUNKS_MAX];
	size_t nchunks;
	size_t chunk_used;                        /* bytes used in the last chunk */
	size_t count;
	size_t skipped;
};

/* The outline of a cell: 8x16 and 16x16. */
static const uint8_t box_narrow[16] = {
	0x00, 0x00, 0x7e, 0x42, 0x42, 0x42, 0x42, 0x42,
	0x42, 0x42, 0x42, 0x42, 0x42, 0x7e, 0x00, 0x00,
};
static const uint8_t box_wide[32] = {
	0x00, 0x00, 0x00, 0x00, 0x7f, 0xfe, 0x40, 0x02,
	0x40, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02,
	0x40, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02,
	0x40, 0x02, 0x7f, 0xfe, 0x00, 0x00, 0x00, 0x00,
};

const uint8_t *
font_box(int wide)
{
	return wide ? box_wide : box_narrow;
}

size_t
font_count(const struct font *f)
{
	return f ? f->count : 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Room for n bytes of bitmap; returns its reference offset (+1) or 0. */
static uint32_t
font_store(struct font *f, const uint8_t *bits, size_t n)
{
	uint8_t *dst;
	size_t off;

	if (f->nchunks == 0 || f->chunk_used + n > FONT_CHUNK_BYTES) {
		if (f->nchunks == FONT_CHUNKS_MAX)
			return 0;
		f->chunks[f->nchunks] = region_alloc(f->r, FONT_CHUNK_BYTES);
		if (f->chunks[f->nchunks] == NULL)
			return 0;
		f->nchunks++;
		f->chunk_used = 0;
	}
	dst = f->chunks[f->nchunks - 1] + f->chunk_used;
	memcpy(dst, bits, n);
	off = (f->nchunks - 1) * FONT_CHUNK_BYTES + f->chunk_used;
	f->chunk_used += n;
	return (uint32_t)off + 1;
}

/* Parses one line (without its newline).  1 glyph added, 0 skipped, -1
 * out of memory or over the glyph limit. */
static int
font_line(struct font *f, const char *p, size_t len)
{
	uint8_t bits[32];
	uint32_t cp = 0, ref;
	size_t i, ndig = 0, nhex;
	struct font_page **pages, *page;
	int v, hi, lo;

	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' '))
		len--;
	for (i = 0; i < len && p[i] != ':'; i++) {
		v = hexval((unsigned char)p[i]);
		if (v < 0 || ++ndig > 6)
			return 0;
		cp = cp << 4 | (uint32_t)v;
	}
	if (i == len || ndig < 2 || cp > FONT_CODEPOINT_MAX)
		return 0;
	p += i + 1;
	nhex = len - i - 1;
	if (nhex != 32 && nhex != 64)
		return 0;
	for (i = 0; i < nhex / 2; i++) {
		hi = hexval((unsigned char)p[2 * i]);
		lo = hexval((unsigned char)p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return 0;
		bits[i] = (uint8_t)(hi << 4 | lo);
	}
	pages = f->planes[cp >> 16];
	if (pages == NULL) {
		pages = region_zalloc(f->r, 256 * sizeof(*pages));
		if (pages == NULL)
			return -1;
		f->planes[cp >> 16] = pages;
	}
	page = pages[(cp >> 8) & 0xff];
	if (page == NULL) {
		page = region_zalloc(f->r, sizeof(*page));
		if (page == NULL)
			return -1;
		pages[(cp >> 8) & 0xff] = page;
	}
	if (page->ref[cp & 0xff] != 0)
		return 0;           /* duplicate: the first one stays */
	if (f->count >= FONT_GLYPHS_MAX)
		return -1;
	ref = font_store(f, bits, nhex / 2);
	if (ref == 0)
		return -1;
	page->ref[cp & 0xff] = ref | (nhex == 64 ? FONT_REF_WIDE : 0);
	f->count++;
	return 1;
}

static struct font *
font_new(struct region *r)
{
	struct region *fr;
	struct font *f;

	fr = region_new(r, "font", REGION_UNLIMITED);
	if (fr == NULL)
		return NULL;
	f = region_zalloc(fr, sizeof(*f));
	if (f == NULL) {
		region_release(fr);
		return NULL;
	}
	f->r = fr;
	return f;
}

/* Feeds text in pieces; carries a partial line in line/linelen. */
struct font_parser {
	char line[FONT_LINE_MAX_BYTES];
	size_t linelen;
	int overlong;
	size_t total;
};

static int
font_feed(struct font *f, struct font_parser *ps, const char *p, size_t n)
{
	const char *nl;
	size_t k;
	int rc;

	ps->total += n;
	if (ps->total > FONT_FILE_MAX_BYTES)
		return -1;
	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl ? (size_t)(nl - p) : n;
		if (!ps->overlong) {
			if (ps->linelen + k > sizeof(ps->line)) {
				ps->overlong = 1;
			} else {
				memcpy(ps->line + ps->linelen, p, k);
				ps->linelen += k;
			}
		}
		if (nl == NULL)
			return 0;
		if (ps->overlong) {
			f->skipped++;
		} else {
			rc = font_line(f, ps->line, ps->linelen);
			if (rc < 0)
				return -1;
			if (rc == 0 && ps->linelen > 0)
				f->skipped++;
		}
		ps->linelen = 0;
		ps->overlong = 0;
		p += k + 1;
		n -= k + 1;
	}
	return 0;
}

static int
font_finish(struct font *f, struct font_parser *ps)
{
	if (ps->linelen > 0 && !ps->overlong && font_line(f, ps->line, ps->linelen) < 0)
		return -1;
	return f->count > 0 ? 0 : -1;
}

struct font *
font_load_mem(struct region *r, const char *text, size_t len)
{
	struct font_parser ps;
	struct font *f;

	f = font_new(r);
	if (f == NULL)
		return NULL;
	memset(&ps, 0, sizeof(ps));
	if (font_feed(f, &ps, text, len) < 0 || font_finish(f, &ps) < 0) {
		region_release(f->r);
		return NULL;
	}
	return f;
}

struct font *
font_load(struct region *r, const char *path)
{
	struct font_parser ps;
	struct font *f;
	char buf[16384];
	gzFile gz;
	int n, err = 0;

	gz = gzopen(path, "rb");    /* reads plain files as they are */
	if (gz == NULL) {
		log_err("font: %s: %s", path, strerror(errno ? errno : ENOMEM));
		return NULL;
	}
	f = font_new(r);
	if (f == NULL) {
		gzclose(gz);
		log_err("font: %s: out of memory", path);
		return NULL;
	}
	memset(&ps, 0, sizeof(ps));
	while ((n = gzread(gz, buf, sizeof(buf))) > 0) {
		if (font_feed(f, &ps, buf, (size_t)n) < 0) {
			err = 1;
			break;
		}
	}
	if (n < 0)
		err = 1;
	gzclose(gz);
	if (err || font_finish(f, &ps) < 0) {
		log_err("font: %s: unreadable, too large, out of memory or no glyphs", path);
		region_release(f->r);
		return NULL;
	}
	log_info("font: %s: %zu glyphs (%zu lines skipped), %zu bytes", path, f->count, f->skipped,
	         region_used(f->r));
	return f;
}

const uint8_t *
font_glyph(const struct font *f, uint32_t cp, int *wide)
{
	struct font_page **pages, *page;
	uint32_t ref, off;

	if (f == NULL || cp > FONT_CODEPOINT_MAX)
		return NULL;
	pages = f->planes[cp >> 16];
	if (pages == NULL)
		return NULL;
	page = pages[(cp >> 8) & 0xff];
	if (page == NULL)
		return NULL;
	ref = page->ref[cp & 0xff];
	if (ref == 0)
		return NULL;
	off = (ref & ~FONT_REF_WIDE) - 1;
	if (wide)
		*wide = (ref & FONT_REF_WIDE) != 0;
	return f->chunks[off / FONT_CHUNK_BYTES] + off % FONT_CHUNK_BYTES;
}
