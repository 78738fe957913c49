/*
 * test_line.c: unit tests for src/core/line.c.
 *
 * Limits are tested at limit-1, limit and limit+1 for both terminators;
 * input arrives whole, byte by byte and in odd chunks; overlong lines must
 * give exactly one LINE_TOO_LONG each and leave the reader in step.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "line.h"
#include "region.h"

struct fixture {
	struct region *r;
	size_t base;
	struct buf b;
	struct line_reader lr;
};

static int
setup(void **state)
{
	static struct fixture f;

	f.r = region_new(NULL, "test", REGION_UNLIMITED);
	if (f.r == NULL)
		return -1;
	f.base = region_used(f.r);
	buf_init(&f.b, f.r, 1024 * 1024);
	line_init(&f.lr, 512);
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	buf_reset(&f->b);
	/* Nothing but the buffer was ever allocated. */
	assert_int_equal(region_used(f->r), f->base);
	region_release(f->r);
	return 0;
}

static void
feed(struct buf *b, const void *p, size_t n)
{
	assert_int_equal(buf_append(b, p, n), 0);
}

static void
feeds(struct buf *b, const char *s)
{
	feed(b, s, strlen(s));
}

static void
feed_fill(struct buf *b, int c, size_t n)
{
	assert_int_equal(buf_reserve(b, n), 0);
	memset(buf_tail(b), c, n);
	buf_commit(b, n);
}

static void
expect_line(struct fixture *f, const char *want, size_t want_len, int crlf)
{
	struct line l;
	enum line_status st = line_next(&f->lr, &f->b, &l);

	if (st != LINE_OK)
		fail_msg("expected LINE_OK, got %d", (int)st);
	assert_int_equal(l.len, want_len);
	assert_memory_equal(l.p, want, want_len);
	assert_int_equal(l.crlf, crlf);
	assert_int_equal(l.has_nul, memchr(want, '\0', want_len) != NULL);
	assert_int_equal(l.has_cr, memchr(want, '\r', want_len) != NULL);
}

static void
expect_status(struct fixture *f, enum line_status want)
{
	struct line l;
	enum line_status st = line_next(&f->lr, &f->b, &l);

	if (st != want)
		fail_msg("expected status %d, got %d", (int)want, (int)st);
}

/* A line of n 'a's (not NUL-terminated) for comparisons. */
static char *
as(size_t n)
{
	static char s[4096];

	assert_true(n <= sizeof s);
	memset(s, 'a', n);
	return s;
}

static void
test_crlf_at_limit(void **state)
{
	struct fixture *f = *state;

	/* 510 + CRLF = 512: fits. */
	feed_fill(&f->b, 'a', 510);
	feeds(&f->b, "\r\n");
	expect_line(f, as(510), 510, 1);
	expect_status(f, LINE_MORE);
	assert_int_equal(buf_len(&f->b), 0);
}

static void
test_crlf_one_over(void **state)
{
	struct fixture *f = *state;

	/* 511 + CRLF = 513: too long, then the next line arrives intact. */
	feed_fill(&f->b, 'a', 511);
	feeds(&f->b, "\r\nNEXT\r\n");
	expect_status(f, LINE_TOO_LONG);
	expect_line(f, "NEXT", 4, 1);
	expect_status(f, LINE_MORE);
	assert_int_equal(buf_len(&f->b), 0);
}

static void
test_lf_at_limit_and_over(void **state)
{
	struct fixture *f = *state;

	/* 511 + LF = 512: fits. */
	feed_fill(&f->b, 'a', 511);
	feeds(&f->b, "\n");
	expect_line(f, as(511), 511, 0);
	/* 512 + LF = 513: does not. */
	feed_fill(&f->b, 'a', 512);
	feeds(&f->b, "\nok\n");
	expect_status(f, LINE_TOO_LONG);
	expect_line(f, "ok", 2, 0);
	/* 509 + CRLF = 511: one under. */
	feed_fill(&f->b, 'a', 509);
	feeds(&f->b, "\r\n");
	expect_line(f, as(509), 509, 1);
	expect_status(f, LINE_MORE);
}

static void
test_too_long_reported_without_waiting(void **state)
{
	struct fixture *f = *state;
	struct line l;

	/* 511 bytes and no LF: a bare-LF line could still fit. */
	feed_fill(&f->b, 'a', 511);
	expect_status(f, LINE_MORE);
	assert_int_equal(f->lr.scanned, 511);
	/* The 512th without a LF decides it, with no more input. */
	feeds(&f->b, "\r");
	assert_int_equal(line_next(&f->lr, &f->b, &l), LINE_TOO_LONG);
	/* The discarded prefix is shown for logging. */
	assert_int_equal(l.len, 512);
	assert_int_equal(l.p[0], 'a');
	assert_int_equal(buf_len(&f->b), 0);
	expect_status(f, LINE_MORE);
	feeds(&f->b, "\nNEXT\r\n");
	expect_line(f, "NEXT", 4, 1);
}

static void
test_lf_right_after_limit(void **state)
{
	struct fixture *f = *state;

	line_init(&f->lr, 5);
	feeds(&f->b, "abcde\nY\n");
	expect_status(f, LINE_TOO_LONG);
	expect_line(f, "Y", 1, 0);
	expect_status(f, LINE_MORE);
	/* And at 4 + LF it fits. */
	feeds(&f->b, "abcd\n");
	expect_line(f, "abcd", 4, 0);
}

static void
test_byte_by_byte(void **state)
{
	struct fixture *f = *state;
	const char *in = "hello world\r\nsecond\n";
	size_t n = strlen(in), i;

	for (i = 0; i < 13; i++) {
		expect_status(f, LINE_MORE);
		/* Everything buffered has been searched once: no rescans. */
		assert_int_equal(f->lr.scanned, buf_len(&f->b));
		feed(&f->b, in + i, 1);
	}
	expect_line(f, "hello world", 11, 1);
	assert_int_equal(f->lr.scanned, 0);
	for (; i < n; i++) {
		expect_status(f, LINE_MORE);
		feed(&f->b, in + i, 1);
	}
	expect_line(f, "second", 6, 0);
	expect_status(f, LINE_MORE);
}

static void
test_nul_inside(void **state)
{
	struct fixture *f = *state;

	feed(&f->b, "a\0b\r\n", 5);
	expect_line(f, "a\0b", 3, 1);
	feed(&f->b, "\0\n", 2);
	expect_line(f, "\0", 1, 0);
	feeds(&f->b, "clean\r\n");
	expect_line(f, "clean", 5, 1);
}

static void
test_bare_cr(void **state)
{
	struct fixture *f = *state;

	feeds(&f->b, "a\rb\r\n");
	expect_line(f, "a\rb", 3, 1);
	/* CR CR LF: the first CR is bare and part of the line. */
	feeds(&f->b, "ab\r\r\n");
	expect_line(f, "ab\r", 3, 1);
	/* A CR that is not the terminator's does not end a line. */
	feeds(&f->b, "abc\rdef\n");
	expect_line(f, "abc\rdef", 7, 0);
	feeds(&f->b, "\r");
	expect_status(f, LINE_MORE);
	feeds(&f->b, "\r\n");
	expect_line(f, "\r", 1, 1);
}

static void
test_lf_vs_crlf_and_empty(void **state)
{
	struct fixture *f = *state;

	feeds(&f->b, "a\nb\r\n\n\r\nlast");
	expect_line(f, "a", 1, 0);
	expect_line(f, "b", 1, 1);
	expect_line(f, "", 0, 0);
	expect_line(f, "", 0, 1);
	expect_status(f, LINE_MORE);
	assert_int_equal(buf_len(&f->b), 4);
	feeds(&f->b, "\n");
	expect_line(f, "last", 4, 0);
}

/* Appends up to n bytes of c as a reader would (never past the buffer's
 * room), then runs the reader until it wants more; returns how many
 * LINE_TOO_LONG it saw and fails on any complete line. */
static int
feed_overlong(struct line_reader *lr, struct buf *b, int c, size_t n)
{
	uint8_t chunk[7];
	struct line l;
	enum line_status st;
	size_t k;
	int too_long = 0;

	memset(chunk, c, sizeof chunk);
	while (n > 0) {
		k = n < sizeof chunk ? n : sizeof chunk;
		if (k > buf_room(b))
			k = buf_room(b);
		/* The reader must keep draining, or the sender would stall. */
		assert_true(k > 0);
		assert_int_equal(buf_append(b, chunk, k), 0);
		n -= k;
		while ((st = line_next(lr, b, &l)) != LINE_MORE) {
			assert_int_equal(st, LINE_TOO_LONG);
			too_long++;
		}
		assert_true(buf_len(b) < lr->max_bytes);
		assert_true(b->cap <= b->max);
	}
	return too_long;
}

static void
test_overlong_across_many_reads(void **state)
{
	struct fixture *f = *state;
	struct buf small;
	struct line l;

	/* The buffer holds no more than the line limit. */
	line_init(&f->lr, 64);
	buf_init(&small, f->r, 64);
	assert_int_equal(feed_overlong(&f->lr, &small, 'x', 10000), 1);
	assert_int_equal(buf_append(&small, "\r\nOK\r\n", 6), 0);
	assert_int_equal(line_next(&f->lr, &small, &l), LINE_OK);
	assert_int_equal(l.len, 2);
	assert_memory_equal(l.p, "OK", 2);
	assert_int_equal(line_next(&f->lr, &small, &l), LINE_MORE);
	/* A second overlong line is reported again, once; one byte per read
	 * too. */
	assert_int_equal(feed_overlong(&f->lr, &small, 'y', 700), 1);
	for (int i = 0; i < 200; i++)
		assert_int_equal(feed_overlong(&f->lr, &small, 'y', 1), 0);
	assert_int_equal(buf_append(&small, "\nz\n", 3), 0);
	assert_int_equal(line_next(&f->lr, &small, &l), LINE_OK);
	assert_int_equal(l.len, 1);
	assert_memory_equal(l.p, "z", 1);
	buf_reset(&small);
}

static void
test_consecutive_overlong_lines(void **state)
{
	struct fixture *f = *state;

	line_init(&f->lr, 8);
	feeds(&f->b, "0123456789\n0123456789abcdef\r\nfine\r\n0123456789");
	expect_status(f, LINE_TOO_LONG);
	expect_status(f, LINE_TOO_LONG);
	expect_line(f, "fine", 4, 1);
	expect_status(f, LINE_TOO_LONG);
	expect_status(f, LINE_MORE);
	expect_status(f, LINE_MORE);
	feeds(&f->b, "rest\nafter\n");
	expect_line(f, "after", 5, 0);
}

static void
test_pipelined_10000(void **state)
{
	struct fixture *f = *state;
	struct line l;
	char want[32];
	int n;

	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_printf(&f->b, i % 3 ? "LINE %d\r\n" : "LINE %d\n", i), 0);
	for (int i = 0; i < 10000; i++) {
		n = snprintf(want, sizeof want, "LINE %d", i);
		assert_int_equal(line_next(&f->lr, &f->b, &l), LINE_OK);
		assert_int_equal(l.len, (size_t)n);
		assert_memory_equal(l.p, want, (size_t)n);
		assert_int_equal(l.crlf, i % 3 ? 1 : 0);
	}
	assert_int_equal(line_next(&f->lr, &f->b, &l), LINE_MORE);
	assert_int_equal(buf_len(&f->b), 0);
}

static void
test_lines_stay_valid_until_growth(void **state)
{
	struct fixture *f = *state;
	struct line a, b;

	feeds(&f->b, "first\r\nsecond\r\n");
	assert_int_equal(line_next(&f->lr, &f->b, &a), LINE_OK);
	assert_int_equal(line_next(&f->lr, &f->b, &b), LINE_OK);
	/* Consumed, but the bytes are still where the lines point. */
	assert_memory_equal(a.p, "first", 5);
	assert_memory_equal(b.p, "second", 6);
}

static void
test_reset_after_external_consume(void **state)
{
	struct fixture *f = *state;

	feeds(&f->b, "partial line");
	expect_status(f, LINE_MORE);
	assert_int_equal(f->lr.scanned, 12);
	/* The caller takes bytes itself (a binary payload, say). */
	buf_consume(&f->b, 8);
	line_reset(&f->lr);
	assert_int_equal(f->lr.scanned, 0);
	feeds(&f->b, "\n");
	expect_line(f, "line", 4, 0);
	/* Forgetting line_reset must not read past the buffer. */
	feeds(&f->b, "abcdef");
	expect_status(f, LINE_MORE);
	buf_consume(&f->b, 6);
	feeds(&f->b, "x\n");
	expect_line(f, "x", 1, 0);
	/* line_reset also leaves discard mode. */
	line_init(&f->lr, 5);
	feeds(&f->b, "abcdefgh");
	expect_status(f, LINE_TOO_LONG);
	assert_true(f->lr.discarding);
	line_reset(&f->lr);
	assert_false(f->lr.discarding);
	feeds(&f->b, "\n");
	expect_line(f, "fgh", 3, 0);
}

static void
test_tiny_limits(void **state)
{
	struct fixture *f = *state;

	/* max 1: only empty lines. */
	line_init(&f->lr, 1);
	feeds(&f->b, "\n");
	expect_line(f, "", 0, 0);
	feeds(&f->b, "\r\n\n");
	expect_status(f, LINE_TOO_LONG);
	expect_line(f, "", 0, 0);
	/* max 0 behaves as 1 rather than looping on an empty buffer. */
	line_init(&f->lr, 0);
	expect_status(f, LINE_MORE);
	feeds(&f->b, "\na\n");
	expect_line(f, "", 0, 0);
	expect_status(f, LINE_TOO_LONG);
	expect_status(f, LINE_MORE);
	assert_int_equal(buf_len(&f->b), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_crlf_at_limit),
		T(test_crlf_one_over),
		T(test_lf_at_limit_and_over),
		T(test_too_long_reported_without_waiting),
		T(test_lf_right_after_limit),
		T(test_byte_by_byte),
		T(test_nul_inside),
		T(test_bare_cr),
		T(test_lf_vs_crlf_and_empty),
		T(test_overlong_across_many_reads),
		T(test_consecutive_overlong_lines),
		T(test_pipelined_10000),
		T(test_lines_stay_valid_until_growth),
		T(test_reset_after_external_consume),
		T(test_tiny_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
