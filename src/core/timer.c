/*
 * timer.c: a binary min-heap of timers (see timer.h).
 *
 * Role: the timer queue under the event loop: handshake, idle and linger
 * timers of connections, restart back-off in the supervisor.
 *
 * Interface: timer_heap_set arms (or re-arms) a timer embedded in its
 * owner, timer_heap_cancel disarms it, timer_heap_run pops and runs what
 * is due.  The key is (deadline_ms, seq): seq is taken from a counter at
 * every set, so equal deadlines fire in the order they were set and the
 * order never depends on the heap's shape.  Every operation is O(log n);
 * each timer knows its own slot (heap_idx), so cancelling from the middle
 * of the heap needs no search.
 *
 * Re-arming from a callback: timer_heap_run takes a snapshot of the seq
 * counter when it starts and runs only timers set before it.  A timer set
 * during the run for a time already past is moved to "now" (it is overdue
 * either way), so it sorts after every older due timer and cannot hide
 * them; it runs at the next timer_heap_run.  A callback that re-arms itself
 * with a zero delay therefore runs once per call, never in a loop.
 *
 * Memory: the array of pointers grows by doubling in the heap's region
 * (TIMER_HEAP_MIN_CAP first) and shrinks by half when a quarter full; it
 * is freed when the heap empties, so a worker whose connections have all
 * gone returns to the memory it had before they came.  Shrinking is best
 * effort (a refused realloc keeps the larger array).
 *
 * Limits: at most SIZE_MAX / sizeof(void *) armed timers, in practice the
 * region's budget.  seq is 64 bits and cannot wrap in the life of a process.
 *
 * Known weaknesses: a timer must be cancelled (or have fired) before its
 * memory goes; the heap keeps a pointer to it.  Owners hang the cancel on
 * their region as a cleanup.  A timer armed in one heap and cancelled
 * through another is caught only in HF_DEBUG builds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "region.h"
#include "timer.h"

/* Small enough that a loop with a handful of timers costs one tiny block. */
#define TIMER_HEAP_MIN_CAP 16

void
timer_init(struct timer *t, timer_cb cb, void *arg)
{
	t->deadline_ms = 0;
	t->seq = 0;
	t->heap_idx = TIMER_IDLE;
	t->cb = cb;
	t->arg = arg;
}

void
timer_heap_init(struct timer_heap *h, struct region *r)
{
	h->region = r;
	h->v = NULL;
	h->n = 0;
	h->cap = 0;
	h->next_seq = 0;
}

static inline int
timer_before(const struct timer *a, const struct timer *b)
{
	if (a->deadline_ms != b->deadline_ms)
		return a->deadline_ms < b->deadline_ms;
	return a->seq < b->seq;
}

static inline void
heap_place(struct timer_heap *h, struct timer *t, size_t i)
{
	h->v[i] = t;
	t->heap_idx = i;
}

static void
heap_sift_up(struct timer_heap *h, size_t i)
{
	struct timer *t = h->v[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!timer_before(t, h->v[p]))
			break;
		heap_place(h, h->v[p], i);
		i = p;
	}
	heap_place(h, t, i);
}

static void
heap_sift_down(struct timer_heap *h, size_t i)
{
	struct timer *t = h->v[i];

	for (;;) {
		size_t l = 2 * i + 1, m;

		if (l >= h->n)
			break;
		m = l;
		if (l + 1 < h->n && timer_before(h->v[l + 1], h->v[l]))
			m = l + 1;
		if (!timer_before(h->v[m], t))
			break;
		heap_place(h, h->v[m], i);
		i = m;
	}
	heap_place(h, t, i);
}

/* After the key of the timer at i changed in either direction. */
static void
heap_fix(struct timer_heap *h, size_t i)
{
	if (i > 0 && timer_before(h->v[i], h->v[(i - 1) / 2]))
		heap_sift_up(h, i);
	else
		heap_sift_down(h, i);
}

static int
heap_grow(struct timer_heap *h)
{
	size_t ncap = h->cap ? h->cap * 2 : TIMER_HEAP_MIN_CAP;
	struct timer **v;

	if (ncap < h->cap || ncap > SIZE_MAX / sizeof *h->v) {
		errno = ENOMEM;
		return -1;
	}
	v = region_realloc(h->region, h->v, ncap * sizeof *h->v);
	if (v == NULL) {
		errno = ENOMEM;
		return -1;
	}
	h->v = v;
	h->cap = ncap;
	return 0;
}

/* Gives memory back as the heap empties; never fails visibly. */
static void
heap_shrink(struct timer_heap *h)
{
	struct timer **v;

	if (h->n == 0) {
		region_free(h->region, h->v);
		h->v = NULL;
		h->cap = 0;
		return;
	}
	if (h->cap <= TIMER_HEAP_MIN_CAP || h->n > h->cap / 4)
		return;
	v = region_realloc(h->region, h->v, (h->cap / 2) * sizeof *h->v);
	if (v == NULL)
		return;
	h->v = v;
	h->cap /= 2;
}

#ifdef HF_DEBUG
static void
heap_check_member(const struct timer_heap *h, const struct timer *t, const char *what)
{
	if (t->heap_idx >= h->n || h->v[t->heap_idx] != t) {
		fprintf(stderr, "timer: %s of a timer that is not in this heap (%p)\n", what, (const void *)t);
		abort();
	}
}
#else
#define heap_check_member(h, t, what) ((void)0)
#endif

static void
heap_remove(struct timer_heap *h, struct timer *t)
{
	size_t i = t->heap_idx;
	struct timer *last;

	heap_check_member(h, t, "removal");
	last = h->v[--h->n];
	t->heap_idx = TIMER_IDLE;
	if (last != t) {
		heap_place(h, last, i);
		heap_fix(h, i);
	}
	heap_shrink(h);
}

int
timer_heap_set(struct timer_heap *h, struct timer *t, uint64_t deadline_ms)
{
	if (timer_armed(t)) {
		/* Re-arming needs no memory, so it cannot fail. */
		heap_check_member(h, t, "re-arm");
		t->deadline_ms = deadline_ms;
		t->seq = h->next_seq++;
		heap_fix(h, t->heap_idx);
		return 0;
	}
	if (h->n == h->cap && heap_grow(h) < 0)
		return -1;
	t->deadline_ms = deadline_ms;
	t->seq = h->next_seq++;
	heap_place(h, t, h->n++);
	heap_sift_up(h, h->n - 1);
	return 0;
}

void
timer_heap_cancel(struct timer_heap *h, struct timer *t)
{
	if (!timer_armed(t))
		return;
	heap_remove(h, t);
}

struct timer *
timer_heap_peek(const struct timer_heap *h)
{
	return h->n ? h->v[0] : NULL;
}

size_t
timer_heap_run(struct timer_heap *h, uint64_t now_ms)
{
	uint64_t seq_limit = h->next_seq;
	size_t ran = 0;

	while (h->n > 0) {
		struct timer *t = h->v[0];

		if (t->deadline_ms > now_ms)
			break;
		if (t->seq >= seq_limit) {
			/* Set by a callback of this run.  Once at "now" with a
			 * newer seq than every older due timer, it is behind all
			 * of them; finding it on top then means none is left. */
			if (t->deadline_ms == now_ms)
				break;
			t->deadline_ms = now_ms;
			heap_sift_down(h, 0);
			continue;
		}
		/* Disarmed before the call, so the callback sees an idle timer
		 * it may set again. */
		heap_remove(h, t);
		ran++;
		if (t->cb)
			t->cb(t, t->arg);
	}
	return ran;
}
