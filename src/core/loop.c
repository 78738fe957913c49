/*
 * loop.c: the event loop of a worker and of the supervisor (see loop.h).
 *
 * Role: one epoll set, one timer heap and one queue of deferred calls,
 * driven one round at a time: wait, run ready fds, run due timers, run
 * deferred calls.
 *
 * Interface: loop_new/loop_free; loop_io_add/mod/del register an embedded
 * struct loop_io (epoll's data.ptr is the loop_io itself); loop_timer_set
 * and loop_timer_cancel on the loop's clock; loop_defer queues a call for
 * the end of the round; loop_run_once / loop_run / loop_stop.
 *
 * Rules a caller can rely on:
 *   - The clock (loop_now_ms) is read once per round, right after
 *     epoll_wait, so every callback of a round sees the same "now" and a
 *     timer set with after_ms counts from it.
 *   - Events come in batches of at most LOOP_EVENTS_MAX.  loop_io_del
 *     removes the io's events still waiting in the current batch, so a
 *     callback may delete (and its owner then free) any other io, or its
 *     own, and no stale event reaches it.  Events are also masked with what
 *     the io asks for now (plus EPOLLERR/EPOLLHUP), so a loop_io_mod made
 *     earlier in the batch is honoured.  Readiness may still be spurious
 *     (another callback may have drained the fd): fds are non-blocking and
 *     callbacks handle EAGAIN.
 *   - An io's memory must stay valid until loop_io_del returns; owners
 *     that close from inside callbacks release their memory in a deferred
 *     call (conn.c does), which is what the defer queue is for.
 *   - Deferred calls run in FIFO order after the round's io callbacks and
 *     timers; one queued while the defer phase runs runs in the same phase,
 *     so a chain of releases completes within the round.  A deferred call
 *     that re-queues itself every time would never let the round end:
 *     continuations that must wait for the next round use a zero timer.
 *   - Anything queued before a round (by setup code) makes that round's
 *     wait zero, so it runs at once.
 *
 * Limits: LOOP_EVENTS_MAX events per epoll_wait, which bounds the work of
 * one round on the io side; what is left is reported by the next
 * epoll_wait (level-triggered).
 *
 * Known weaknesses: loop_free closes the epoll fd and the timer array but
 * leaves the struct to its region (region cleanups cannot be unregistered),
 * so the loop stays readable for ios deleted later; any other use after
 * loop_free is a bug.  The clock has millisecond resolution: a timer may
 * fire up to 1 ms late, never early.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "region.h"
#include "timer.h"

/* Events handled per epoll_wait: large enough to amortise the syscall,
 * small enough that a round stays short and the array lives in the loop. */
#define LOOP_EVENTS_MAX 64

struct loop {
	struct region *region;
	int epfd;
	struct timer_heap timers;
	uint64_t now_ms;
	struct loop_defer *defer_head;
	struct loop_defer *defer_tail;
	int stop;
	/* The batch being dispatched: loop_io_del clears its entries. */
	struct epoll_event events[LOOP_EVENTS_MAX];
	int nevents;
	int cur;
};

static void
loop_cleanup(void *arg)
{
	loop_free(arg);
}

struct loop *
loop_new(struct region *r)
{
	struct loop *l;

	l = region_zalloc(r, sizeof *l);
	if (l == NULL)
		return NULL;
	l->region = r;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int saved = errno;

		region_free(r, l);
		errno = saved;
		return NULL;
	}
	if (region_on_release(r, loop_cleanup, l) < 0) {
		close(l->epfd);
		region_free(r, l);
		errno = ENOMEM;
		return NULL;
	}
	timer_heap_init(&l->timers, r);
	l->now_ms = clock_ms();
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL || l->epfd < 0)
		return;
	struct loop_defer *d, *next;
	size_t i;

	close(l->epfd);
	l->epfd = -1;
	/* Timers still armed belong to owners that are going too: disarm
	 * them, so that a cancel from their cleanup is a no-op, and return
	 * the array now rather than with the region. */
	for (i = 0; i < l->timers.n; i++)
		l->timers.v[i]->heap_idx = TIMER_IDLE;
	region_free(l->region, l->timers.v);
	l->timers.v = NULL;
	l->timers.n = 0;
	l->timers.cap = 0;
	for (d = l->defer_head; d != NULL; d = next) {
		next = d->next;
		d->next = NULL;
		d->queued = 0;
	}
	l->defer_head = NULL;
	l->defer_tail = NULL;
}

void
loop_io_init(struct loop_io *io)
{
	io->fd = -1;
	io->events = 0;
	io->cb = NULL;
	io->arg = NULL;
}

int
loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_cb cb, void *arg)
{
	struct epoll_event ev = { 0 };

	if (fd < 0 || l->epfd < 0) {
		errno = EBADF;
		return -1;
	}
	if (io->fd >= 0) {
		errno = EEXIST;
		return -1;
	}
	ev.events = events;
	ev.data.ptr = io;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	io->fd = fd;
	io->events = events;
	io->cb = cb;
	io->arg = arg;
	return 0;
}

int
loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { 0 };

	if (io->fd < 0 || l->epfd < 0) {
		errno = EBADF;
		return -1;
	}
	if (events == io->events)
		return 0;
	ev.events = events;
	ev.data.ptr = io;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -1;
	io->events = events;
	return 0;
}

void
loop_io_del(struct loop *l, struct loop_io *io)
{
	int i;

	if (io->fd < 0)
		return;
	/* Fails only if the fd is already closed, which removed it anyway. */
	if (l->epfd >= 0)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	/* The rest of the batch may still name io; its owner may free it
	 * before we get there. */
	for (i = l->cur; i < l->nevents; i++)
		if (l->events[i].data.ptr == io)
			l->events[i].data.ptr = NULL;
	io->fd = -1;
	io->events = 0;
}

uint64_t
loop_now_ms(struct loop *l)
{
	return l->now_ms;
}

int
loop_timer_set(struct loop *l, struct timer *t, uint64_t after_ms)
{
	uint64_t deadline = l->now_ms + after_ms;

	if (deadline < l->now_ms)
		deadline = UINT64_MAX;
	return timer_heap_set(&l->timers, t, deadline);
}

void
loop_timer_cancel(struct loop *l, struct timer *t)
{
	timer_heap_cancel(&l->timers, t);
}

void
loop_defer(struct loop *l, struct loop_defer *d, void (*fn)(void *arg), void *arg)
{
	d->fn = fn;
	d->arg = arg;
	if (d->queued)
		return;  /* keeps its place: it runs once either way */
	d->queued = 1;
	d->next = NULL;
	if (l->defer_tail)
		l->defer_tail->next = d;
	else
		l->defer_head = d;
	l->defer_tail = d;
}

void
loop_defer_cancel(struct loop *l, struct loop_defer *d)
{
	struct loop_defer *p, *prev = NULL;

	if (!d->queued)
		return;
	/* Linear, but the queue holds only this round's closes and
	 * re-deliveries. */
	for (p = l->defer_head; p != NULL; prev = p, p = p->next) {
		if (p != d)
			continue;
		if (prev)
			prev->next = d->next;
		else
			l->defer_head = d->next;
		if (l->defer_tail == d)
			l->defer_tail = prev;
		break;
	}
	d->next = NULL;
	d->queued = 0;
}

static void
loop_run_defers(struct loop *l)
{
	struct loop_defer *d;

	while ((d = l->defer_head) != NULL) {
		l->defer_head = d->next;
		if (l->defer_head == NULL)
			l->defer_tail = NULL;
		d->next = NULL;
		/* Cleared first, so that fn may queue d again (next round's
		 * phase is this one: see the top comment). */
		d->queued = 0;
		d->fn(d->arg);
	}
}

/* How long epoll_wait may sleep: until the earliest timer, within
 * max_wait_ms, and not at all when calls are already queued. */
static int
loop_timeout(struct loop *l, int max_wait_ms)
{
	struct timer *t;
	int timeout = max_wait_ms < 0 ? -1 : max_wait_ms;
	uint64_t now;

	if (l->defer_head != NULL)
		return 0;
	t = timer_heap_peek(&l->timers);
	if (t != NULL) {
		now = clock_ms();
		if (t->deadline_ms <= now) {
			timeout = 0;
		} else {
			uint64_t d = t->deadline_ms - now;
			int ti = d > INT_MAX ? INT_MAX : (int)d;

			if (timeout < 0 || ti < timeout)
				timeout = ti;
		}
	}
	return timeout;
}

int
loop_run_once(struct loop *l, int max_wait_ms)
{
	int n, i;

	if (l->epfd < 0) {
		errno = EBADF;
		return -1;
	}
	n = epoll_wait(l->epfd, l->events, LOOP_EVENTS_MAX, loop_timeout(l, max_wait_ms));
	if (n < 0) {
		if (errno != EINTR)
			return -1;
		n = 0;
	}
	l->now_ms = clock_ms();
	l->nevents = n;
	for (i = 0; i < n; i++) {
		struct loop_io *io = l->events[i].data.ptr;
		uint32_t ev;

		/* Deleting from here on must clear entries after i only. */
		l->cur = i + 1;
		if (io == NULL || io->fd < 0)
			continue;
		ev = l->events[i].events & (io->events | EPOLLERR | EPOLLHUP);
		if (ev == 0 || io->cb == NULL)
			continue;
		io->cb(io, ev, io->arg);
		if (l->epfd < 0)
			break;  /* loop_free from a callback */
	}
	l->nevents = 0;
	l->cur = 0;
	if (l->epfd < 0) {
		errno = EBADF;
		return -1;
	}
	timer_heap_run(&l->timers, l->now_ms);
	loop_run_defers(l);
	return 0;
}

int
loop_run(struct loop *l)
{
	int rc = 0;

	while (!l->stop) {
		if (loop_run_once(l, -1) < 0) {
			rc = -1;
			break;
		}
	}
	l->stop = 0;
	return rc;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}
