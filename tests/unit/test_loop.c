/*
 * test_loop.c: unit tests for src/core/loop.c.
 *
 * Drives loop_run_once over socketpairs and pipes.  Waits are bounded
 * (max_wait_ms) and a test asserts only on what happened and in which
 * order, never on how long it took.  Covers readiness, mod/del, deleting
 * another io whose event is in the same batch (and freeing it), the order
 * io -> timers -> deferred calls, defers queued from defers, cancel,
 * loop_stop, and that releasing the region closes the epoll fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "region.h"

/* Bounded rounds instead of wall-clock waits. */
#define ROUNDS_MAX 200
#define WAIT_MS 50

struct fixture {
	struct region *r;
	struct loop *l;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	f->r = region_new(NULL, "test", REGION_UNLIMITED);
	assert_non_null(f->r);
	f->l = loop_new(f->r);
	assert_non_null(f->l);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	region_release(f->r);
	free(f);
	return 0;
}

/* A log of what ran, as short tags. */
static char trace[256];

static void
trace_add(const char *s)
{
	assert_true(strlen(trace) + strlen(s) + 2 < sizeof trace);
	if (trace[0])
		strcat(trace, " ");
	strcat(trace, s);
}

static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

struct reader {
	struct loop_io io;
	int fd;
	int calls;
	uint32_t last;
	char got[64];
	size_t ngot;
};

static void
reader_cb(struct loop_io *io, uint32_t events, void *arg)
{
	struct reader *rd = arg;
	ssize_t n;

	assert_ptr_equal(io, &rd->io);
	rd->calls++;
	rd->last = events;
	if (events & EPOLLIN) {
		n = read(rd->fd, rd->got + rd->ngot, sizeof rd->got - 1 - rd->ngot);
		if (n > 0)
			rd->ngot += (size_t)n;
	}
}

static void
test_io_readiness(void **state)
{
	struct fixture *f = *state;
	struct reader rd = { 0 };
	int sv[2], i;

	pair(sv);
	rd.fd = sv[0];
	loop_io_init(&rd.io);
	assert_int_equal(rd.io.fd, -1);
	assert_int_equal(loop_io_add(f->l, &rd.io, sv[0], EPOLLIN, reader_cb, &rd), 0);
	assert_int_equal(rd.io.fd, sv[0]);
	/* Adding twice is refused. */
	assert_int_equal(loop_io_add(f->l, &rd.io, sv[0], EPOLLIN, reader_cb, &rd), -1);

	/* Nothing to read: a bounded wait returns with no callback. */
	assert_int_equal(loop_run_once(f->l, 0), 0);
	assert_int_equal(rd.calls, 0);

	assert_int_equal(write(sv[1], "hello", 5), 5);
	for (i = 0; i < ROUNDS_MAX && rd.ngot < 5; i++)
		assert_int_equal(loop_run_once(f->l, WAIT_MS), 0);
	assert_int_equal(rd.ngot, 5);
	assert_memory_equal(rd.got, "hello", 5);
	assert_true(rd.last & EPOLLIN);

	/* Writable: mod to EPOLLOUT reports it (and not EPOLLIN). */
	rd.calls = 0;
	assert_int_equal(loop_io_mod(f->l, &rd.io, EPOLLOUT), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(loop_run_once(f->l, WAIT_MS), 0);
	assert_int_equal(rd.calls, 1);
	assert_true(rd.last & EPOLLOUT);
	assert_false(rd.last & EPOLLIN);

	/* After del, nothing is reported; del twice is harmless. */
	loop_io_del(f->l, &rd.io);
	assert_int_equal(rd.io.fd, -1);
	loop_io_del(f->l, &rd.io);
	assert_int_equal(loop_io_mod(f->l, &rd.io, EPOLLIN), -1);
	rd.calls = 0;
	assert_int_equal(loop_run_once(f->l, 0), 0);
	assert_int_equal(rd.calls, 0);

	/* Peer closes: EPOLLIN (EOF) and EPOLLHUP reach the callback. */
	assert_int_equal(loop_io_add(f->l, &rd.io, sv[0], EPOLLIN, reader_cb, &rd), 0);
	close(sv[1]);
	for (i = 0; i < ROUNDS_MAX && rd.calls == 0; i++)
		assert_int_equal(loop_run_once(f->l, WAIT_MS), 0);
	assert_true(rd.calls > 0);
	assert_true(rd.last & (EPOLLIN | EPOLLHUP));
	loop_io_del(f->l, &rd.io);
	close(sv[0]);
}

static void
test_pipe(void **state)
{
	struct fixture *f = *state;
	struct reader rd = { 0 };
	int p[2], i;

	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	rd.fd = p[0];
	loop_io_init(&rd.io);
	assert_int_equal(loop_io_add(f->l, &rd.io, p[0], EPOLLIN, reader_cb, &rd), 0);
	assert_int_equal(write(p[1], "abc", 3), 3);
	for (i = 0; i < ROUNDS_MAX && rd.ngot < 3; i++)
		assert_int_equal(loop_run_once(f->l, WAIT_MS), 0);
	assert_memory_equal(rd.got, "abc", 3);
	loop_io_del(f->l, &rd.io);
	close(p[0]);
	close(p[1]);
}

/* Two ios ready in the same batch; whichever runs first deletes the
 * other, frees it, and the other's callback must never run. */
struct killer {
	struct loop_io io;
	struct loop *l;
	struct killer **peer;   /* the other one, freed through this */
	int calls;
	int *victim_calls;
};

static void
killer_cb(struct loop_io *io, uint32_t events, void *arg)
{
	struct killer *k = arg;
	struct killer *other = *k->peer;

	k->calls++;
	if (other != NULL) {
		loop_io_del(k->l, &other->io);
		/* Its owner frees it at once: a stale event would be a
		 * use-after-free, which ASan reports. */
		free(other);
		*k->peer = NULL;
		*k->victim_calls = 1;  /* marks which one was deleted */
	}
}

static void
test_del_other_in_batch(void **state)
{
	struct fixture *f = *state;
	struct killer *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	int sa[2], sb[2], a_deleted = 0, b_deleted = 0, a_calls, b_calls;
	int i;

	assert_non_null(a);
	assert_non_null(b);
	pair(sa);
	pair(sb);
	a->l = b->l = f->l;
	a->peer = &b;
	b->peer = &a;
	a->victim_calls = &b_deleted;
	b->victim_calls = &a_deleted;
	loop_io_init(&a->io);
	loop_io_init(&b->io);
	assert_int_equal(loop_io_add(f->l, &a->io, sa[0], EPOLLIN, killer_cb, a), 0);
	assert_int_equal(loop_io_add(f->l, &b->io, sb[0], EPOLLIN, killer_cb, b), 0);
	/* Both readable before the round: one epoll_wait returns both. */
	assert_int_equal(write(sa[1], "a", 1), 1);
	assert_int_equal(write(sb[1], "b", 1), 1);
	assert_int_equal(loop_run_once(f->l, WAIT_MS), 0);
	/* Exactly one ran and deleted the other. */
	assert_int_equal(a_deleted + b_deleted, 1);
	if (a_deleted) {
		assert_null(a);
		b_calls = b->calls;
		assert_int_equal(b_calls, 1);
	} else {
		assert_null(b);
		a_calls = a->calls;
		assert_int_equal(a_calls, 1);
	}
	/* The survivor keeps working; the deleted fd is not reported again. */
	for (i = 0; i < 3; i++)
		assert_int_equal(loop_run_once(f->l, 0), 0);
	if (a) {
		assert_true(a->calls >= 2);  /* still readable: level-triggered */
		loop_io_del(f->l, &a->io);
		free(a);
	}
	if (b) {
		assert_true(b->calls >= 2);
		loop_io_del(f->l, &b->io);
		free(b);
	}
	close(sa[0]);
	close(sa[1]);
	close(sb[0]);
	close(sb[1]);
}

/* An io that deletes itself and then is re-added on another fd in the
 * same callback: no stale event for the old registration. */
struct selfdel {
	struct loop_io io;
	struct loop *l;
	int fd2;
	int calls;
};

static void
selfdel_cb(struct loop_io *io, uint32_t events, void *arg)
{
	struct selfdel *s = arg;

	s->calls++;
	loop_io_del(s->l, io);
	if (s->calls == 1)
		assert_int_equal(loop_io_add(s->l, io, s->fd2, EPOLLIN, selfdel_cb, s), 0);
}

static void
test_del_self_and_readd(void **state)
{
	struct fixture *f = *state;
	struct selfdel s = { .l = f->l };
	int s1[2], s2[2];

	pair(s1);
	pair(s2);
	s.fd2 = s2[0];
	loop_io_init(&s.io);
	assert_int_equal(loop_io_add(f->l, &s.io, s1[0], EPOLLIN, selfdel_cb, &s), 0);
	assert_int_equal(write(s1[1], "x", 1), 1);
	assert_int_equal(loop_run_once(f->l, WAIT_MS), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.io.fd, s2[0]);
	/* s2 has nothing: no call. */
	assert_int_equal(loop_run_once(f->l, 0), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(write(s2[1], "y", 1), 1);
	assert_int_equal(loop_run_once(f->l, WAIT_MS), 0);
	assert_int_equal(s.calls, 2);
	assert_int_equal(s.io.fd, -1);
	close(s1[0]);
	close(s1[1]);
	close(s2[0]);
	close(s2[1]);
}

/* Round order: io callbacks, then timers, then deferred calls; a defer
 * queued from a defer runs in the same round. */
struct order_ctx {
	struct loop *l;
	struct loop_io io;
	struct timer t;
	struct loop_defer d1, d2, d3, dc;
	int fd;
};

static void
d3_fn(void *arg)
{
	trace_add("d3");
}

static void
d2_fn(void *arg)
{
	struct order_ctx *o = arg;

	trace_add("d2");
	loop_defer(o->l, &o->d3, d3_fn, o);
}

static void
d1_fn(void *arg)
{
	struct order_ctx *o = arg;

	trace_add("d1");
	loop_defer(o->l, &o->d2, d2_fn, o);
}

static void
dc_fn(void *arg)
{
	trace_add("cancelled");
}

static void
order_timer(struct timer *t, void *arg)
{
	trace_add("timer");
}

static void
order_io(struct loop_io *io, uint32_t events, void *arg)
{
	struct order_ctx *o = arg;
	char c;

	assert_int_equal(read(o->fd, &c, 1), 1);
	trace_add("io");
	/* Queued during the io phase: runs after the timer. */
	loop_defer(o->l, &o->d1, d1_fn, o);
	/* Queued twice: runs once. */
	loop_defer(o->l, &o->d1, d1_fn, o);
	loop_defer(o->l, &o->dc, dc_fn, o);
	loop_defer_cancel(o->l, &o->dc);
	assert_int_equal(loop_timer_set(o->l, &o->t, 0), 0);
	loop_io_del(o->l, io);
}

static void
test_round_order_and_defers(void **state)
{
	struct fixture *f = *state;
	struct order_ctx o = { .l = f->l };
	int sv[2], i;

	pair(sv);
	o.fd = sv[0];
	trace[0] = '\0';
	loop_io_init(&o.io);
	timer_init(&o.t, order_timer, &o);
	assert_int_equal(loop_io_add(f->l, &o.io, sv[0], EPOLLIN, order_io, &o), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	for (i = 0; i < ROUNDS_MAX && trace[0] == '\0'; i++)
		assert_int_equal(loop_run_once(f->l, WAIT_MS), 0);
	assert_string_equal(trace, "io timer d1 d2 d3");
	assert_false(o.d1.queued);
	assert_false(o.d3.queued);
	assert_false(o.dc.queued);
	/* Nothing left over for the next round. */
	assert_int_equal(loop_run_once(f->l, 0), 0);
	assert_string_equal(trace, "io timer d1 d2 d3");
	close(sv[0]);
	close(sv[1]);
}

static void
test_defer_before_round(void **state)
{
	struct fixture *f = *state;
	struct order_ctx o = { .l = f->l };
	struct loop_defer a, b, c;

	trace[0] = '\0';
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	memset(&c, 0, sizeof c);
	/* FIFO; cancelling from the middle keeps the rest in order. */
	loop_defer(f->l, &a, d3_fn, &o);
	loop_defer(f->l, &b, dc_fn, &o);
	loop_defer(f->l, &c, d2_fn, &o);
	loop_defer_cancel(f->l, &b);
	loop_defer_cancel(f->l, &b);
	/* Queued before the round: an unbounded wait must not block. */
	assert_int_equal(loop_run_once(f->l, -1), 0);
	assert_string_equal(trace, "d3 d2 d3");
}

static void
stop_timer(struct timer *t, void *arg)
{
	struct loop *l = arg;

	trace_add("stop");
	loop_stop(l);
}

static int tick_count;

static void
tick_timer(struct timer *t, void *arg)
{
	struct loop *l = arg;

	tick_count++;
	assert_int_equal(loop_timer_set(l, t, 0), 0);
}

static void
test_loop_stop(void **state)
{
	struct fixture *f = *state;
	struct timer stop, tick;

	trace[0] = '\0';
	tick_count = 0;
	timer_init(&stop, stop_timer, f->l);
	timer_init(&tick, tick_timer, f->l);
	/* A timer that re-arms itself at zero delay runs once per round, so
	 * the loop keeps turning until the stop timer fires. */
	assert_int_equal(loop_timer_set(f->l, &tick, 0), 0);
	assert_int_equal(loop_timer_set(f->l, &stop, 5), 0);
	assert_int_equal(loop_run(f->l), 0);
	assert_string_equal(trace, "stop");
	assert_true(tick_count >= 1);
	assert_false(timer_armed(&stop));
	/* loop_run can run again after a stop. */
	trace[0] = '\0';
	assert_int_equal(loop_timer_set(f->l, &stop, 1), 0);
	assert_int_equal(loop_run(f->l), 0);
	assert_string_equal(trace, "stop");
	loop_timer_cancel(f->l, &tick);
	assert_false(timer_armed(&tick));
}

static void
test_timer_fires_without_io(void **state)
{
	struct fixture *f = *state;
	struct timer a;
	int i;

	trace[0] = '\0';
	timer_init(&a, order_timer, NULL);
	assert_int_equal(loop_timer_set(f->l, &a, 1), 0);
	/* An unbounded wait returns once the timer is due. */
	for (i = 0; i < ROUNDS_MAX && trace[0] == '\0'; i++)
		assert_int_equal(loop_run_once(f->l, -1), 0);
	assert_string_equal(trace, "timer");
	assert_true(loop_now_ms(f->l) >= a.deadline_ms);
}

static int
count_fds(void)
{
	int n = 0, fd;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void
test_release_closes_epoll(void **state)
{
	struct region *r;
	struct loop *l;
	struct timer t;
	int before = count_fds();

	r = region_new(NULL, "own", REGION_UNLIMITED);
	assert_non_null(r);
	l = loop_new(r);
	assert_non_null(l);
	assert_int_equal(count_fds(), before + 1);
	timer_init(&t, order_timer, NULL);
	assert_int_equal(loop_timer_set(l, &t, 1000), 0);
	/* Releasing the region runs loop_free: the epoll fd and the timer
	 * array go, and the armed timer is left disarmed. */
	region_release(r);
	assert_int_equal(count_fds(), before);
	assert_false(timer_armed(&t));

	/* loop_free first, then the region: no double close. */
	r = region_new(NULL, "own", REGION_UNLIMITED);
	assert_non_null(r);
	l = loop_new(r);
	assert_non_null(l);
	assert_int_equal(loop_timer_set(l, &t, 1000), 0);
	loop_free(l);
	assert_int_equal(count_fds(), before);
	assert_false(timer_armed(&t));
	loop_timer_cancel(l, &t);
	loop_free(l);
	assert_int_equal(loop_run_once(l, 0), -1);
	region_release(r);

	/* Too small a budget: loop_new fails and leaves nothing. */
	r = region_new(NULL, "tiny", 64);
	assert_non_null(r);
	assert_null(loop_new(r));
	assert_int_equal(region_used(r), 0);
	assert_int_equal(count_fds(), before);
	region_release(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_io_readiness, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del_other_in_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del_self_and_readd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_order_and_defers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defer_before_round, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_fires_without_io, setup, teardown),
		cmocka_unit_test(test_release_closes_epoll),
	};

	/* A callback that loops forever must fail the test, not hang it. */
	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
