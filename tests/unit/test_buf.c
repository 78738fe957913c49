/*
 * test_buf.c: unit tests for src/core/buf.c.
 *
 * Covers the hard maximum (ENOBUFS, buffer unchanged), the region budget
 * (ENOMEM, buffer unchanged), geometric growth capped at max, compaction
 * instead of growth, storage returned on reset, buf_printf including the
 * case where the text fits only without vsnprintf's NUL, and misuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "region.h"

#define OVH (region_block_overhead())

struct fixture {
	struct region *r;
	size_t base;
};

static int
setup(void **state)
{
	static struct fixture f;

	f.r = region_new(NULL, "test", REGION_UNLIMITED);
	if (f.r == NULL)
		return -1;
	f.base = region_used(f.r);
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	region_release(f->r);
	return 0;
}

/* Copies bytes 0..n-1 of a pattern so that moves are visible. */
static void
pattern(uint8_t *p, size_t n, size_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((start + i) * 7 + 3);
}

static void
assert_pattern(const uint8_t *p, size_t n, size_t start)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)((start + i) * 7 + 3))
			fail_msg("byte %zu is %u", i, p[i]);
}

/* What must not change when an operation is refused. */
struct bufsnap {
	struct buf b;
	size_t used;
	uint8_t bytes[4096];
};

static void
bufsnap_take(struct bufsnap *s, const struct buf *b)
{
	s->b = *b;
	s->used = region_used(b->region);
	assert_true(buf_len(b) <= sizeof s->bytes);
	memcpy(s->bytes, buf_data(b), buf_len(b));
}

static void
bufsnap_check(const struct bufsnap *s, const struct buf *b)
{
	assert_ptr_equal(b->data, s->b.data);
	assert_int_equal(b->off, s->b.off);
	assert_int_equal(b->len, s->b.len);
	assert_int_equal(b->cap, s->b.cap);
	assert_int_equal(b->max, s->b.max);
	assert_int_equal(region_used(b->region), s->used);
	assert_memory_equal(buf_data(b), s->bytes, buf_len(b));
}

static void
test_init_holds_nothing(void **state)
{
	struct fixture *f = *state;
	struct buf b;

	buf_init(&b, f->r, 1000);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_room(&b), 1000);
	assert_int_equal(buf_tail_room(&b), 0);
	assert_non_null(buf_data(&b));
	assert_int_equal(region_used(f->r), f->base);
	/* Reserving nothing allocates nothing. */
	assert_int_equal(buf_reserve(&b, 0), 0);
	assert_int_equal(buf_append(&b, "x", 0), 0);
	assert_int_equal(region_used(f->r), f->base);
	buf_reset(&b);
	assert_int_equal(region_used(f->r), f->base);
}

static void
test_append_consume(void **state)
{
	struct fixture *f = *state;
	struct buf b;

	buf_init(&b, f->r, 1000);
	assert_int_equal(buf_append(&b, "hello ", 6), 0);
	assert_int_equal(buf_append(&b, "world", 5), 0);
	assert_int_equal(buf_len(&b), 11);
	assert_memory_equal(buf_data(&b), "hello world", 11);
	buf_consume(&b, 6);
	assert_int_equal(buf_len(&b), 5);
	assert_memory_equal(buf_data(&b), "world", 5);
	assert_int_equal(buf_room(&b), 995);
	buf_consume(&b, 5);
	assert_int_equal(buf_len(&b), 0);
	buf_reset(&b);
}

static void
test_max_enforced(void **state)
{
	struct fixture *f = *state;
	struct buf b;
	struct bufsnap s;
	uint8_t in[200];

	pattern(in, sizeof in, 0);
	buf_init(&b, f->r, 100);
	assert_int_equal(buf_append(&b, in, 99), 0);
	assert_int_equal(buf_append(&b, in + 99, 1), 0);
	assert_int_equal(buf_len(&b), 100);
	assert_int_equal(buf_room(&b), 0);
	assert_true(b.cap <= 100);
	bufsnap_take(&s, &b);
	errno = 0;
	assert_int_equal(buf_append(&b, in, 1), -1);
	assert_int_equal(errno, ENOBUFS);
	bufsnap_check(&s, &b);
	errno = 0;
	assert_int_equal(buf_reserve(&b, 1), -1);
	assert_int_equal(errno, ENOBUFS);
	errno = 0;
	assert_int_equal(buf_reserve(&b, SIZE_MAX), -1);
	assert_int_equal(errno, ENOBUFS);
	errno = 0;
	assert_int_equal(buf_printf(&b, "x"), -1);
	assert_int_equal(errno, ENOBUFS);
	bufsnap_check(&s, &b);

	/* Room comes back as bytes are consumed, by compaction. */
	buf_consume(&b, 10);
	assert_int_equal(buf_append(&b, in + 100, 10), 0);
	assert_int_equal(buf_len(&b), 100);
	assert_pattern(buf_data(&b), 100, 10);
	assert_true(b.cap <= 100);
	/* A single request larger than max fails at once. */
	buf_reset(&b);
	bufsnap_take(&s, &b);
	errno = 0;
	assert_int_equal(buf_append(&b, in, 101), -1);
	assert_int_equal(errno, ENOBUFS);
	bufsnap_check(&s, &b);
	buf_reset(&b);
}

static void
test_max_zero(void **state)
{
	struct fixture *f = *state;
	struct buf b;

	buf_init(&b, f->r, 0);
	errno = 0;
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(region_used(f->r), f->base);
}

static void
test_growth_geometric_capped(void **state)
{
	struct fixture *f = *state;
	struct buf b;
	size_t max = 10000, caps = 0, last = 0;
	uint8_t in[1];

	buf_init(&b, f->r, max);
	for (size_t i = 0; i < max; i++) {
		pattern(in, 1, i);
		assert_int_equal(buf_append(&b, in, 1), 0);
		assert_true(b.cap <= max);
		assert_true(b.cap >= buf_len(&b));
		if (b.cap != last) {
			/* Each growth at least doubles, except the last clipped to max. */
			if (last != 0 && b.cap != max)
				assert_true(b.cap >= 2 * last);
			caps++;
			last = b.cap;
		}
		/* Storage is charged once, as one block. */
		assert_int_equal(region_used(f->r), f->base + b.cap + OVH);
	}
	/* The first allocation is small, not max. */
	assert_true(caps >= 5);
	assert_true(caps <= 10);
	assert_int_equal(b.cap, max);
	assert_pattern(buf_data(&b), max, 0);
	errno = 0;
	assert_int_equal(buf_append(&b, in, 1), -1);
	assert_int_equal(errno, ENOBUFS);
	buf_reset(&b);
	assert_int_equal(region_used(f->r), f->base);
}

static void
test_first_allocation_small(void **state)
{
	struct fixture *f = *state;
	struct buf b;

	buf_init(&b, f->r, 1024 * 1024);
	assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_true(b.cap >= 1);
	assert_true(b.cap <= 4096);
	/* A large request gets what it needs, not max. */
	assert_int_equal(buf_reserve(&b, 100000), 0);
	assert_true(b.cap >= 100001);
	assert_true(b.cap < 1024 * 1024);
	assert_memory_equal(buf_data(&b), "x", 1);
	buf_reset(&b);
}

static void
test_compaction_before_growth(void **state)
{
	struct fixture *f = *state;
	struct buf b;
	uint8_t in[4096];
	size_t cap, used;
	uint8_t *data;

	pattern(in, sizeof in, 0);
	buf_init(&b, f->r, 4096);
	assert_int_equal(buf_append(&b, in, 200), 0);
	cap = b.cap;
	assert_int_equal(buf_append(&b, in + 200, cap - 200), 0);
	assert_int_equal(b.cap, cap);
	assert_int_equal(buf_tail_room(&b), 0);
	used = region_used(f->r);
	data = b.data;
	buf_consume(&b, 150);
	/* cap - 150 readable; 100 more fit once the front is reclaimed. */
	assert_int_equal(buf_reserve(&b, 100), 0);
	assert_int_equal(b.cap, cap);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.off, 0);
	assert_int_equal(region_used(f->r), used);
	assert_pattern(buf_data(&b), cap - 150, 150);
	assert_true(buf_tail_room(&b) >= 100);
	/* When compaction is not enough, it grows and keeps the bytes. */
	buf_consume(&b, 10);
	assert_int_equal(buf_reserve(&b, cap), 0);
	assert_true(b.cap > cap);
	assert_int_equal(b.off, 0);
	assert_pattern(buf_data(&b), cap - 160, 160);
	buf_reset(&b);
	assert_int_equal(region_used(f->r), f->base);
}

static void
test_budget_enforced(void **state)
{
	struct fixture *f = *state;
	struct region *c;
	struct buf b;
	struct bufsnap s;
	uint8_t in[2000];
	size_t cap;

	pattern(in, sizeof in, 0);
	/* Enough for a small buffer, not for growing it. */
	c = region_new(f->r, "conn", 300 + OVH);
	assert_non_null(c);
	buf_init(&b, c, 100000);
	assert_int_equal(buf_append(&b, in, 10), 0);
	cap = b.cap;
	assert_true(cap <= 300);
	assert_int_equal(buf_append(&b, in + 10, cap - 10), 0);
	bufsnap_take(&s, &b);
	errno = 0;
	assert_int_equal(buf_append(&b, in, 1000), -1);
	assert_int_equal(errno, ENOMEM);
	bufsnap_check(&s, &b);
	errno = 0;
	assert_int_equal(buf_printf(&b, "%0500d", 7), -1);
	assert_int_equal(errno, ENOMEM);
	bufsnap_check(&s, &b);
	assert_pattern(buf_data(&b), cap, 0);
	/* Reset gives the budget back; near the budget the buffer takes
	 * what it needs rather than a doubled size. */
	buf_reset(&b);
	assert_int_equal(region_used(c), 0);
	assert_int_equal(buf_append(&b, in, 300), 0);
	assert_int_equal(b.cap, 300);
	assert_pattern(buf_data(&b), 300, 0);
	buf_reset(&b);
	region_release(c);
	assert_int_equal(region_used(f->r), f->base);
}

static void
test_reset_frees_storage(void **state)
{
	struct fixture *f = *state;
	struct buf b;
	uint8_t in[3000];

	pattern(in, sizeof in, 0);
	buf_init(&b, f->r, 5000);
	assert_int_equal(buf_append(&b, in, sizeof in), 0);
	assert_true(region_used(f->r) > f->base + sizeof in);
	buf_reset(&b);
	assert_int_equal(region_used(f->r), f->base);
	assert_null(b.data);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 5000);
	/* And the buffer works again. */
	assert_int_equal(buf_append(&b, in, 10), 0);
	assert_pattern(buf_data(&b), 10, 0);
	buf_reset(&b);
	buf_reset(&b);
	assert_int_equal(region_used(f->r), f->base);
}

static void
test_tail_commit(void **state)
{
	struct fixture *f = *state;
	struct buf b;

	buf_init(&b, f->r, 64);
	assert_null(buf_tail(&b));
	assert_int_equal(buf_reserve(&b, 10), 0);
	assert_true(buf_tail_room(&b) >= 10);
	memcpy(buf_tail(&b), "0123456789", 10);
	buf_commit(&b, 4);
	assert_int_equal(buf_len(&b), 4);
	assert_memory_equal(buf_data(&b), "0123", 4);
	assert_ptr_equal(buf_tail(&b), b.data + 4);
	buf_commit(&b, 0);
	assert_int_equal(buf_len(&b), 4);
	buf_reset(&b);
}

static void
test_printf(void **state)
{
	struct fixture *f = *state;
	struct buf b;
	struct bufsnap s;
	char big[1001];

	buf_init(&b, f->r, 32);
	assert_int_equal(buf_printf(&b, "%d %s", 200, "OK"), 0);
	assert_int_equal(buf_len(&b), 6);
	assert_memory_equal(buf_data(&b), "200 OK", 6);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(buf_len(&b), 6);
	/* Exactly up to max: no byte left for vsnprintf's NUL. */
	assert_int_equal(buf_printf(&b, "%026d", 5), 0);
	assert_int_equal(buf_len(&b), 32);
	assert_memory_equal(buf_data(&b), "200 OK00000000000000000000000005", 32);
	assert_true(b.cap <= 32);
	bufsnap_take(&s, &b);
	errno = 0;
	assert_int_equal(buf_printf(&b, "%c", 'x'), -1);
	assert_int_equal(errno, ENOBUFS);
	bufsnap_check(&s, &b);
	buf_reset(&b);

	/* The exact fit with a text too long for the stack copy. */
	memset(big, 'q', 1000);
	big[1000] = '\0';
	buf_init(&b, f->r, 1000);
	assert_int_equal(buf_printf(&b, "%s", big), 0);
	assert_int_equal(buf_len(&b), 1000);
	assert_memory_equal(buf_data(&b), big, 1000);
	assert_true(b.cap <= 1000);
	buf_consume(&b, 1);
	assert_int_equal(buf_printf(&b, "%s", "Z"), 0);
	assert_int_equal(buf_len(&b), 1000);
	assert_int_equal(buf_data(&b)[999], 'Z');
	buf_reset(&b);
	assert_int_equal(region_used(f->r), f->base);

	/* One under max: formatted in place. */
	buf_init(&b, f->r, 1000);
	big[999] = '\0';
	assert_int_equal(buf_printf(&b, "%s", big), 0);
	assert_int_equal(buf_len(&b), 999);
	assert_memory_equal(buf_data(&b), big, 999);
	buf_reset(&b);
	assert_int_equal(region_used(f->r), f->base);
}

static void
test_printf_exact_fit_budget(void **state)
{
	struct fixture *f = *state;
	struct region *c;
	struct buf b;
	struct bufsnap s;
	char big[601];

	/* Room for the 600-byte storage but not for a scratch copy too. */
	c = region_new(f->r, "conn", 600 + OVH + 100);
	assert_non_null(c);
	memset(big, 'a', 600);
	big[600] = '\0';
	buf_init(&b, c, 600);
	bufsnap_take(&s, &b);
	errno = 0;
	assert_int_equal(buf_printf(&b, "%s", big), -1);
	assert_int_equal(errno, ENOMEM);
	bufsnap_check(&s, &b);
	/* Appended, it fits. */
	assert_int_equal(buf_append(&b, big, 600), 0);
	buf_reset(&b);
	region_release(c);

	/* A short text needs no scratch from the region: with room for the
	 * storage alone, the exact fit still succeeds. */
	c = region_new(f->r, "conn", 32 + OVH);
	assert_non_null(c);
	buf_init(&b, c, 32);
	assert_int_equal(buf_printf(&b, "%032d", 1), 0);
	assert_int_equal(buf_len(&b), 32);
	assert_int_equal(buf_data(&b)[31], '1');
	buf_reset(&b);
	region_release(c);
}

static void
test_consume_all_then_reuse(void **state)
{
	struct fixture *f = *state;
	struct buf b;
	uint8_t in[256];
	size_t cap, used;

	pattern(in, sizeof in, 0);
	buf_init(&b, f->r, 100000);
	assert_int_equal(buf_append(&b, in, 100), 0);
	cap = b.cap;
	used = region_used(f->r);
	/* Many fill/drain cycles never grow the storage. */
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(buf_append(&b, in, 100), 0);
		buf_consume(&b, 100);
		assert_int_equal(b.cap, cap);
		assert_int_equal(region_used(f->r), used);
	}
	assert_int_equal(buf_len(&b), 100);
	buf_reset(&b);
}

static void
expect_abort(void (*fn)(struct region *), struct region *r)
{
	pid_t pid;
	int status, devnull;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, 2);
		fn(r);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void
commit_too_much(struct region *r)
{
	struct buf b;

	buf_init(&b, r, 100);
	if (buf_reserve(&b, 10) == 0)
		buf_commit(&b, b.cap + 1);
}

static void
consume_too_much(struct region *r)
{
	struct buf b;

	buf_init(&b, r, 100);
	if (buf_append(&b, "abc", 3) == 0)
		buf_consume(&b, 4);
}

static void
test_misuse_aborts(void **state)
{
	struct fixture *f = *state;

	expect_abort(commit_too_much, f->r);
	expect_abort(consume_too_much, f->r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init_holds_nothing),
		T(test_append_consume),
		T(test_max_enforced),
		T(test_max_zero),
		T(test_growth_geometric_capped),
		T(test_first_allocation_small),
		T(test_compaction_before_growth),
		T(test_budget_enforced),
		T(test_reset_frees_storage),
		T(test_tail_commit),
		T(test_printf),
		T(test_printf_exact_fit_budget),
		T(test_consume_all_then_reuse),
		T(test_misuse_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
