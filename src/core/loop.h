/*
 * loop.h: the event loop of a worker (and of the supervisor): epoll for
 * fds, a timer heap, and deferred calls that run after the current round
 * of callbacks (so an object can be released from inside its own callback).
 *
 * Single-threaded.  Every struct loop_io, struct timer and struct loop_defer
 * is embedded in its owner; the loop never allocates on its behalf after
 * loop_new except to grow the timer heap.
 */
#ifndef HF_LOOP_H
#define HF_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

#include "timer.h"

struct region;
struct loop;
struct loop_io;

typedef void (*loop_io_cb)(struct loop_io *io, uint32_t events, void *arg);

struct loop_io {
	int fd;            /* -1 when not registered */
	uint32_t events;   /* EPOLLIN | EPOLLOUT ... */
	loop_io_cb cb;
	void *arg;
};

struct loop_defer {
	struct loop_defer *next;
	void (*fn)(void *arg);
	void *arg;
	int queued;
};

struct loop *loop_new(struct region *r);
void loop_free(struct loop *l);     /* also done by releasing its region */

void loop_io_init(struct loop_io *io);
int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_cb cb, void *arg);
int loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events);
/* Unregisters io (does not close its fd). Safe on an io that is not registered. */
void loop_io_del(struct loop *l, struct loop_io *io);

/* Timers fire on the loop's clock (milliseconds, monotonic, read once per round). */
int loop_timer_set(struct loop *l, struct timer *t, uint64_t after_ms);
void loop_timer_cancel(struct loop *l, struct timer *t);
uint64_t loop_now_ms(struct loop *l);

/* Queues fn(arg) to run once after the current round of callbacks. */
void loop_defer(struct loop *l, struct loop_defer *d, void (*fn)(void *arg), void *arg);
void loop_defer_cancel(struct loop *l, struct loop_defer *d);

/* One round: waits at most max_wait_ms (-1: until the next timer or event),
 * runs ready fds, due timers, then deferred calls.  Returns 0, or -1 on an
 * epoll error other than EINTR. */
int loop_run_once(struct loop *l, int max_wait_ms);
/* Rounds until loop_stop.  Returns 0 or -1 as loop_run_once. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
