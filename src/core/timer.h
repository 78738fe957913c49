/*
 * timer.h: a binary min-heap of timers, ordered by deadline and, for equal
 * deadlines, by the order they were set (so ties fire first-set first).
 *
 * A struct timer is embedded in its owner (a connection, a session) and
 * never allocated by the heap; the heap's array grows in its region.
 * Setting an armed timer re-arms it.  Cancelling an idle timer is a no-op.
 */
#ifndef HF_TIMER_H
#define HF_TIMER_H

#include <stddef.h>
#include <stdint.h>

struct region;
struct timer;

typedef void (*timer_cb)(struct timer *t, void *arg);

struct timer {
	uint64_t deadline_ms;
	uint64_t seq;
	size_t heap_idx;          /* TIMER_IDLE when not armed */
	timer_cb cb;
	void *arg;
};
#define TIMER_IDLE ((size_t)-1)

struct timer_heap {
	struct region *region;
	struct timer **v;
	size_t n, cap;
	uint64_t next_seq;
};

void timer_init(struct timer *t, timer_cb cb, void *arg);
static inline int timer_armed(const struct timer *t) { return t->heap_idx != TIMER_IDLE; }

void timer_heap_init(struct timer_heap *h, struct region *r);
/* Arms t to fire at deadline_ms.  -1 (ENOMEM) if the heap cannot grow. */
int timer_heap_set(struct timer_heap *h, struct timer *t, uint64_t deadline_ms);
void timer_heap_cancel(struct timer_heap *h, struct timer *t);
/* Earliest armed timer, or NULL. */
struct timer *timer_heap_peek(const struct timer_heap *h);
/* Disarms and runs every timer due at or before now_ms, in order.  A
 * callback may set or cancel any timer, itself included.  Returns the
 * number run. */
size_t timer_heap_run(struct timer_heap *h, uint64_t now_ms);

#endif
