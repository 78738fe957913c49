/*
 * test_rdp_font.c: unit tests for src/rdp/font.c.
 *
 * Debian's unifont.hex (the unifont package, as scripts/deps.sh installs
 * it): the glyph count, known bitmaps of 'A', 'é' (Latin-1) and '日'
 * (CJK, 16x16), no glyph for a private-use code point, memory charged to
 * the given region within the figure font.h documents.  The same file
 * gzipped loads the same.  Hand-made files: malformed lines are skipped,
 * a duplicate keeps its first glyph, planes beyond 0 work, a file with no
 * glyph fails, and a budget too small for the font fails with the
 * caller's region back where it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "region.h"
#include "rdp/font.h"

#define UNIFONT "/usr/share/unifont/unifont.hex"

static void
test_unifont(void **state)
{
	static const uint8_t A[16] = { 0x00, 0x00, 0x00, 0x00, 0x18, 0x24, 0x24, 0x42,
	                               0x42, 0x7e, 0x42, 0x42, 0x42, 0x42, 0x00, 0x00 };
	static const uint8_t e_acute[16] = { 0x00, 0x00, 0x0c, 0x30, 0x00, 0x00, 0x3c, 0x42,
	                                     0x42, 0x7e, 0x40, 0x40, 0x42, 0x3c, 0x00, 0x00 };
	struct region *root;
	struct font *f;
	const uint8_t *g;
	size_t used;
	int wide = -1, cp;

	(void)state;
	root = region_new(NULL, "worker", REGION_UNLIMITED);
	assert_non_null(root);
	f = font_load(root, UNIFONT);
	assert_non_null(f);
	assert_true(font_count(f) > 50000);
	g = font_glyph(f, 'A', &wide);
	assert_non_null(g);
	assert_int_equal(wide, 0);
	assert_memory_equal(g, A, 16);
	g = font_glyph(f, 0xe9, &wide);
	assert_non_null(g);
	assert_memory_equal(g, e_acute, 16);
	/* Every Latin-1 printable has a glyph. */
	for (cp = 0x20; cp <= 0xff; cp++)
		if (cp < 0x7f || cp >= 0xa0)
			assert_non_null(font_glyph(f, (uint32_t)cp, NULL));
	g = font_glyph(f, 0x65e5, &wide);       /* 日 */
	assert_non_null(g);
	assert_int_equal(wide, 1);
	assert_int_equal(g[0], 0x00);
	assert_int_equal(g[2], 0x1f);
	assert_int_equal(g[3], 0xf0);
	assert_int_equal(g[31], 0x10);
	assert_non_null(font_glyph(f, 0x672c, NULL));  /* 本 */
	assert_non_null(font_glyph(f, 0x8a9e, NULL));  /* 語 */
	assert_null(font_glyph(f, 0xe000, NULL));      /* private use: none */
	assert_null(font_glyph(f, 0x110000, NULL));
	assert_null(font_glyph(f, 0x1f600, NULL));     /* plane 1 is not in this file */
	/* Charged to root: glyphs (16 or 32 bytes) plus index, under 2.5 MiB. */
	used = region_used(root);
	assert_true(used > font_count(f) * 16);
	assert_true(used < 2560 * 1024);
	region_release(root);
}

static void
test_gzip(void **state)
{
	char path[] = "/tmp/test_rdp_font_XXXXXX";
	struct region *root;
	struct font *f;
	gzFile gz;
	FILE *in;
	char buf[8192];
	size_t n;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	gz = gzdopen(fd, "wb");
	assert_non_null(gz);
	in = fopen(UNIFONT, "rb");
	assert_non_null(in);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(gzwrite(gz, buf, (unsigned)n), (int)n);
	fclose(in);
	assert_int_equal(gzclose(gz), Z_OK);

	root = region_new(NULL, "worker", REGION_UNLIMITED);
	f = font_load(root, path);
	unlink(path);
	assert_non_null(f);
	assert_true(font_count(f) > 50000);
	assert_non_null(font_glyph(f, 0x65e5, NULL));
	region_release(root);
}

static void
test_malformed_lines(void **state)
{
	static const char text[] =
	        "# a comment\n"
	        "0041:00000000182424424" "27E424242420000\n"   /* A, valid */
	        "0041:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\n"     /* duplicate: ignored */
	        "0042:0000\n"                                 /* short bitmap */
	        "0043:0000000018242442427E42424242000\n"       /* 31 digits */
	        "0044:0000000018242442427E42424242000G\n"      /* not hex */
	        "110000:0000000018242442427E424242420000\n"    /* past U+10FFFF */
	        "1234567:0000000018242442427E424242420000\n"   /* 7 digits */
	        ":0000000018242442427E424242420000\n"          /* no code point */
	        "0045\n"                                      /* no colon */
	        "1F600:00001FF0101010101010101010101FF01010101010101010101010101FF01010\r\n"
	        "\n"
	        "0046:0000000018242442427E424242420000";      /* no final newline */
	struct region *root;
	struct font *f;
	const uint8_t *g;
	int wide;

	(void)state;
	root = region_new(NULL, "worker", REGION_UNLIMITED);
	f = font_load_mem(root, text, sizeof(text) - 1);
	assert_non_null(f);
	assert_int_equal(font_count(f), 3);
	g = font_glyph(f, 'A', &wide);
	assert_non_null(g);
	assert_int_equal(g[4], 0x18);
	assert_int_equal(wide, 0);
	assert_null(font_glyph(f, 'B', NULL));
	assert_null(font_glyph(f, 'C', NULL));
	assert_null(font_glyph(f, 'D', NULL));
	assert_null(font_glyph(f, 'E', NULL));
	g = font_glyph(f, 0x1f600, &wide);
	assert_non_null(g);
	assert_int_equal(wide, 1);
	assert_non_null(font_glyph(f, 'F', NULL));
	region_release(root);
}

static void
test_overlong_line(void **state)
{
	char text[600];
	struct region *root;
	struct font *f;

	(void)state;
	memset(text, '0', sizeof(text));
	memcpy(text, "0041:", 5);
	text[sizeof(text) - 1] = '\n';
	root = region_new(NULL, "worker", REGION_UNLIMITED);
	/* Only an overlong line: no glyph, so no font, nothing left. */
	f = font_load_mem(root, text, sizeof(text));
	assert_null(f);
	assert_int_equal(region_used(root), 0);
	region_release(root);
}

static void
test_no_glyphs_and_missing_file(void **state)
{
	struct region *root;

	(void)state;
	root = region_new(NULL, "worker", REGION_UNLIMITED);
	assert_null(font_load_mem(root, "", 0));
	assert_null(font_load_mem(root, "hello\nworld\n", 12));
	assert_null(font_load(root, "/nonexistent/unifont.hex"));
	assert_int_equal(region_used(root), 0);
	region_release(root);
}

static void
test_budget(void **state)
{
	struct region *root, *small;

	(void)state;
	root = region_new(NULL, "worker", REGION_UNLIMITED);
	small = region_new(root, "small", 256 * 1024);
	assert_non_null(small);
	assert_null(font_load(small, UNIFONT));
	assert_int_equal(region_used(small), 0);
	region_release(small);
	region_release(root);
}

static void
test_box(void **state)
{
	const uint8_t *b = font_box(0), *w = font_box(1);
	int i, on = 0;

	(void)state;
	for (i = 0; i < 16; i++)
		on += b[i] != 0;
	assert_true(on >= 10);
	for (i = 0, on = 0; i < 32; i++)
		on += w[i] != 0;
	assert_true(on >= 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unifont),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_no_glyphs_and_missing_file),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_box),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
