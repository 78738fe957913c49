/*
 * test_timer.c: unit tests for src/core/timer.c.
 *
 * Deadlines are plain numbers handed to timer_heap_run: nothing here
 * depends on the clock.  Covers ordering, ties in set order, re-arming and
 * cancelling from the middle of the heap, callbacks that re-arm themselves
 * or touch other timers, a large random workload checked against the heap
 * invariant, growth refused by a tiny budget, and that the array is given
 * back when the heap empties.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "region.h"
#include "timer.h"

#define FIRED_MAX 20000

/* What fired, in order. */
static struct timer *fired[FIRED_MAX];
static size_t nfired;

static void
record_cb(struct timer *t, void *arg)
{
	assert_false(timer_armed(t));  /* disarmed before the call */
	assert_true(nfired < FIRED_MAX);
	fired[nfired++] = t;
}

static int
setup(void **state)
{
	struct region *r = region_new(NULL, "test", REGION_UNLIMITED);

	assert_non_null(r);
	nfired = 0;
	*state = r;
	return 0;
}

static int
teardown(void **state)
{
	struct region *r = *state;

	region_release(r);
	return 0;
}

static void
test_order_by_deadline(void **state)
{
	struct timer_heap h;
	struct timer t[5];
	uint64_t d[5] = { 50, 10, 40, 20, 30 };
	size_t i;

	timer_heap_init(&h, *state);
	for (i = 0; i < 5; i++) {
		timer_init(&t[i], record_cb, NULL);
		assert_false(timer_armed(&t[i]));
		assert_int_equal(timer_heap_set(&h, &t[i], d[i]), 0);
		assert_true(timer_armed(&t[i]));
	}
	assert_ptr_equal(timer_heap_peek(&h), &t[1]);
	/* Nothing due yet. */
	assert_int_equal(timer_heap_run(&h, 9), 0);
	assert_int_equal(nfired, 0);
	/* Due at exactly the deadline. */
	assert_int_equal(timer_heap_run(&h, 20), 2);
	assert_ptr_equal(fired[0], &t[1]);
	assert_ptr_equal(fired[1], &t[3]);
	assert_int_equal(timer_heap_run(&h, 1000), 3);
	assert_ptr_equal(fired[2], &t[4]);
	assert_ptr_equal(fired[3], &t[2]);
	assert_ptr_equal(fired[4], &t[0]);
	assert_null(timer_heap_peek(&h));
	/* Empty: the array went back to the region. */
	assert_null(h.v);
	assert_int_equal(region_used(*state), 0);
}

static void
test_ties_in_set_order(void **state)
{
	struct timer_heap h;
	struct timer t[8];
	size_t i;

	timer_heap_init(&h, *state);
	for (i = 0; i < 8; i++)
		timer_init(&t[i], record_cb, NULL);
	/* Set in a scrambled order, all at the same deadline. */
	{
		size_t order[8] = { 3, 7, 0, 5, 1, 6, 2, 4 };

		for (i = 0; i < 8; i++)
			assert_int_equal(timer_heap_set(&h, &t[order[i]], 100), 0);
		assert_int_equal(timer_heap_run(&h, 100), 8);
		for (i = 0; i < 8; i++)
			assert_ptr_equal(fired[i], &t[order[i]]);
	}
	/* Re-arming moves a timer behind its equals. */
	nfired = 0;
	for (i = 0; i < 3; i++)
		assert_int_equal(timer_heap_set(&h, &t[i], 5), 0);
	assert_int_equal(timer_heap_set(&h, &t[0], 5), 0);
	assert_int_equal(timer_heap_run(&h, 5), 3);
	assert_ptr_equal(fired[0], &t[1]);
	assert_ptr_equal(fired[1], &t[2]);
	assert_ptr_equal(fired[2], &t[0]);
}

static void
test_cancel_middle(void **state)
{
	struct timer_heap h;
	struct timer t[40];
	size_t i;

	timer_heap_init(&h, *state);
	for (i = 0; i < 40; i++) {
		timer_init(&t[i], record_cb, NULL);
		assert_int_equal(timer_heap_set(&h, &t[i], 1000 - i * 7 % 97), 0);
	}
	/* Cancel from the middle, the top and the last slot. */
	timer_heap_cancel(&h, &t[20]);
	timer_heap_cancel(&h, timer_heap_peek(&h));
	timer_heap_cancel(&h, h.v[h.n - 1]);
	assert_false(timer_armed(&t[20]));
	assert_int_equal(h.n, 37);
	/* Cancelling an idle timer is a no-op. */
	timer_heap_cancel(&h, &t[20]);
	assert_int_equal(h.n, 37);
	assert_int_equal(timer_heap_run(&h, UINT64_MAX), 37);
	for (i = 0; i < nfired; i++) {
		assert_ptr_not_equal(fired[i], &t[20]);
		if (i > 0)
			assert_true(fired[i - 1]->deadline_ms <= fired[i]->deadline_ms);
	}
}

/* Re-arms itself for "now" every time: must run once per run call. */
static struct timer_heap *rearm_heap;
static uint64_t rearm_now;
static int rearm_count;

static void
rearm_cb(struct timer *t, void *arg)
{
	rearm_count++;
	assert_int_equal(timer_heap_set(rearm_heap, t, rearm_now), 0);
}

static void
test_rearm_in_callback(void **state)
{
	struct timer_heap h;
	struct timer self, other, later;

	timer_heap_init(&h, *state);
	rearm_heap = &h;
	rearm_now = 10;
	rearm_count = 0;
	timer_init(&self, rearm_cb, NULL);
	timer_init(&other, record_cb, NULL);
	timer_init(&later, record_cb, NULL);
	assert_int_equal(timer_heap_set(&h, &self, 3), 0);
	assert_int_equal(timer_heap_set(&h, &other, 8), 0);
	assert_int_equal(timer_heap_set(&h, &later, 11), 0);
	/* self re-arms at 10 (<= now): it does not loop, and it does not
	 * hide other, which was due before it. */
	assert_int_equal(timer_heap_run(&h, 10), 2);
	assert_int_equal(rearm_count, 1);
	assert_int_equal(nfired, 1);
	assert_ptr_equal(fired[0], &other);
	assert_true(timer_armed(&self));
	/* Next run: it runs once more. */
	assert_int_equal(timer_heap_run(&h, 10), 1);
	assert_int_equal(rearm_count, 2);
	/* Re-armed into the past, it still runs before later. */
	rearm_now = 0;
	assert_int_equal(timer_heap_run(&h, 11), 2);
	assert_int_equal(rearm_count, 3);
	assert_ptr_equal(fired[1], &later);
	timer_heap_cancel(&h, &self);
	assert_null(timer_heap_peek(&h));
}

/* Cancels the next due timer and arms a new one from a callback. */
static struct timer *victim, *newcomer;

static void
meddle_cb(struct timer *t, void *arg)
{
	struct timer_heap *h = arg;

	fired[nfired++] = t;
	timer_heap_cancel(h, victim);
	assert_int_equal(timer_heap_set(h, newcomer, 1), 0);
}

static void
test_callback_touches_others(void **state)
{
	struct timer_heap h;
	struct timer a, b, c, n;

	timer_heap_init(&h, *state);
	timer_init(&a, meddle_cb, &h);
	timer_init(&b, record_cb, NULL);
	timer_init(&c, record_cb, NULL);
	timer_init(&n, record_cb, NULL);
	victim = &b;
	newcomer = &n;
	timer_heap_set(&h, &a, 1);
	timer_heap_set(&h, &b, 2);
	timer_heap_set(&h, &c, 3);
	/* b is cancelled before its turn; n, armed during the run for a
	 * past deadline, waits for the next run. */
	assert_int_equal(timer_heap_run(&h, 5), 2);
	assert_int_equal(nfired, 2);
	assert_ptr_equal(fired[0], &a);
	assert_ptr_equal(fired[1], &c);
	assert_false(timer_armed(&b));
	assert_true(timer_armed(&n));
	assert_int_equal(timer_heap_run(&h, 5), 1);
	assert_ptr_equal(fired[2], &n);
}

static int
heap_ok(const struct timer_heap *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		const struct timer *t = h->v[i];

		if (t->heap_idx != i)
			return 0;
		if (i > 0) {
			const struct timer *p = h->v[(i - 1) / 2];

			if (p->deadline_ms > t->deadline_ms ||
			    (p->deadline_ms == t->deadline_ms && p->seq > t->seq))
				return 0;
		}
	}
	return 1;
}

static void
test_random_10000(void **state)
{
	enum { N = 10000 };
	struct timer_heap h;
	struct timer *t = calloc(N, sizeof *t);
	uint64_t now;
	size_t i, total = 0, armed = 0;

	assert_non_null(t);
	srandom(12345);
	timer_heap_init(&h, *state);
	for (i = 0; i < N; i++) {
		timer_init(&t[i], record_cb, NULL);
		/* Few distinct deadlines, so ties are common. */
		assert_int_equal(timer_heap_set(&h, &t[i], (uint64_t)(random() % 5000)), 0);
	}
	/* Re-arm and cancel a share of them. */
	for (i = 0; i < N / 4; i++) {
		struct timer *x = &t[random() % N];

		if (random() % 2)
			timer_heap_cancel(&h, x);
		else
			assert_int_equal(timer_heap_set(&h, x, (uint64_t)(random() % 5000)), 0);
	}
	assert_true(heap_ok(&h));
	for (i = 0; i < N; i++)
		armed += timer_armed(&t[i]) ? 1 : 0;
	assert_int_equal(armed, h.n);
	/* Pop in steps; every step fires in (deadline, seq) order. */
	for (now = 0; now < 5000; now += 137) {
		size_t before = nfired, j;

		total += timer_heap_run(&h, now);
		for (j = before; j < nfired; j++) {
			assert_true(fired[j]->deadline_ms <= now);
			/* Globally sorted too: earlier steps took only <= their now. */
			if (j > 0) {
				const struct timer *p = fired[j - 1], *q = fired[j];

				assert_true(p->deadline_ms < q->deadline_ms ||
				            (p->deadline_ms == q->deadline_ms && p->seq < q->seq));
			}
		}
		assert_true(heap_ok(&h));
		if (h.n > 0)
			assert_true(timer_heap_peek(&h)->deadline_ms > now);
	}
	total += timer_heap_run(&h, UINT64_MAX);
	assert_int_equal(total, armed);
	assert_int_equal(nfired, armed);
	assert_int_equal(h.n, 0);
	assert_int_equal(region_used(*state), 0);
	free(t);
}

static void
test_growth_failure(void **state)
{
	struct region *tiny = region_new(NULL, "tiny", 64);
	struct timer_heap h;
	struct timer t;

	assert_non_null(tiny);
	timer_heap_init(&h, tiny);
	timer_init(&t, record_cb, NULL);
	errno = 0;
	assert_int_equal(timer_heap_set(&h, &t, 1), -1);
	assert_int_equal(errno, ENOMEM);
	assert_false(timer_armed(&t));
	assert_null(timer_heap_peek(&h));
	assert_int_equal(region_used(tiny), 0);
	region_release(tiny);
}

static void
test_growth_failure_later(void **state)
{
	/* Room for the first array but not for its doubling. */
	struct region *r = region_new(NULL, "small", 16 * sizeof(void *) + region_block_overhead());
	struct timer_heap h;
	struct timer t[17];
	size_t i;

	assert_non_null(r);
	timer_heap_init(&h, r);
	for (i = 0; i < 16; i++) {
		timer_init(&t[i], record_cb, NULL);
		assert_int_equal(timer_heap_set(&h, &t[i], 100 - i), 0);
	}
	timer_init(&t[16], record_cb, NULL);
	assert_int_equal(timer_heap_set(&h, &t[16], 1), -1);
	assert_false(timer_armed(&t[16]));
	/* Re-arming an armed timer needs no memory. */
	assert_int_equal(timer_heap_set(&h, &t[3], 0), 0);
	assert_ptr_equal(timer_heap_peek(&h), &t[3]);
	assert_int_equal(timer_heap_run(&h, 1000), 16);
	assert_int_equal(region_used(r), 0);
	region_release(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_by_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ties_in_set_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rearm_in_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_touches_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_10000, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth_failure_later, setup, teardown),
	};

	/* A callback that loops forever must fail the test, not hang it. */
	alarm(30);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
