/*
 * test_region.c: unit tests for src/core/region.c.
 *
 * Covers the accounting (every level of a worker > connection > request
 * tree, exact boundaries, nothing charged on refusal), release of trees
 * with live children and their cleanups, realloc, overflow guards, and,
 * under HF_DEBUG, that misuse aborts with the caller's location (checked
 * in a forked child, since abort() ends the process).
 */
#include <errno.h>
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

#include "region.h"

#define OVH (region_block_overhead())
#define SELF (region_self_overhead())

/* Worker > connection > request, with room for the headers of the
 * regions below each level. */
struct tree {
	struct region *worker, *conn, *req;
};

static void
tree_make(struct tree *t, size_t wbudget, size_t cbudget, size_t rbudget)
{
	t->worker = region_new(NULL, "worker", wbudget);
	assert_non_null(t->worker);
	t->conn = region_new(t->worker, "conn", cbudget);
	assert_non_null(t->conn);
	t->req = region_new(t->conn, "req", rbudget);
	assert_non_null(t->req);
}

struct snap {
	size_t used[3], peak[3];
};

static void
tree_snap(const struct tree *t, struct snap *s)
{
	const struct region *r[3] = { t->worker, t->conn, t->req };

	for (int i = 0; i < 3; i++) {
		s->used[i] = region_used(r[i]);
		s->peak[i] = region_peak(r[i]);
	}
}

static void
assert_snap_equal(const struct snap *a, const struct snap *b)
{
	for (int i = 0; i < 3; i++) {
		assert_int_equal(a->used[i], b->used[i]);
		assert_int_equal(a->peak[i], b->peak[i]);
	}
}

static void
test_overheads_are_positive(void **state)
{
	/* A zero overhead would let many tiny allocations hide under a budget. */
	assert_true(region_block_overhead() > 0);
	assert_true(region_self_overhead() > 0);
	/* The payload must be aligned like malloc's. */
	{
		struct region *r = region_new(NULL, "align", REGION_UNLIMITED);
		void *p = region_alloc(r, 1);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
		region_release(r);
	}
}

static void
test_accounting_up_the_chain(void **state)
{
	struct tree t;
	void *p;

	tree_make(&t, REGION_UNLIMITED, REGION_UNLIMITED, REGION_UNLIMITED);
	assert_int_equal(region_used(t.req), 0);
	assert_int_equal(region_used(t.conn), SELF);
	assert_int_equal(region_used(t.worker), 2 * SELF);
	assert_string_equal(region_name(t.req), "req");
	assert_ptr_equal(region_parent(t.req), t.conn);
	assert_ptr_equal(region_parent(t.worker), NULL);

	p = region_alloc(t.req, 100);
	assert_non_null(p);
	memset(p, 0xa5, 100);
	assert_int_equal(region_used(t.req), 100 + OVH);
	assert_int_equal(region_used(t.conn), SELF + 100 + OVH);
	assert_int_equal(region_used(t.worker), 2 * SELF + 100 + OVH);

	region_free(t.req, p);
	assert_int_equal(region_used(t.req), 0);
	assert_int_equal(region_used(t.conn), SELF);
	assert_int_equal(region_used(t.worker), 2 * SELF);
	assert_int_equal(region_peak(t.req), 100 + OVH);
	assert_int_equal(region_peak(t.worker), 2 * SELF + 100 + OVH);
	region_release(t.worker);
}

static void
test_name_is_copied_and_truncated(void **state)
{
	char name[100];
	struct region *r;

	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	r = region_new(NULL, name, REGION_UNLIMITED);
	assert_non_null(r);
	name[0] = 'X';
	assert_true(region_name(r)[0] == 'n');
	assert_true(strlen(region_name(r)) < sizeof name - 1);
	assert_true(strlen(region_name(r)) > 0);
	region_release(r);
}

/* The request's own budget is the one that refuses. */
static void
test_budget_request_level(void **state)
{
	struct tree t;
	struct snap before, after;
	size_t rbudget = 1000;
	void *p;

	tree_make(&t, 100000, 10000, rbudget);
	tree_snap(&t, &before);
	errno = 0;
	assert_null(region_alloc(t.req, rbudget - OVH + 1));
	assert_int_equal(errno, ENOMEM);
	tree_snap(&t, &after);
	assert_snap_equal(&before, &after);

	/* Exactly at the budget is allowed, then not one more block. */
	p = region_alloc(t.req, rbudget - OVH);
	assert_non_null(p);
	assert_int_equal(region_used(t.req), rbudget);
	tree_snap(&t, &before);
	errno = 0;
	assert_null(region_alloc(t.req, 0));
	assert_int_equal(errno, ENOMEM);
	tree_snap(&t, &after);
	assert_snap_equal(&before, &after);
	/* The connection still has room for itself. */
	assert_non_null(region_alloc(t.conn, 100));
	region_release(t.worker);
}

/* The request has room, the connection does not. */
static void
test_budget_connection_level(void **state)
{
	struct tree t;
	struct snap before, after;
	size_t cbudget = 2000, room;

	tree_make(&t, 100000, cbudget, 50000);
	room = cbudget - region_used(t.conn);
	tree_snap(&t, &before);
	errno = 0;
	assert_null(region_alloc(t.req, room - OVH + 1));
	assert_int_equal(errno, ENOMEM);
	tree_snap(&t, &after);
	assert_snap_equal(&before, &after);

	assert_non_null(region_alloc(t.req, room - OVH));
	assert_int_equal(region_used(t.conn), cbudget);
	tree_snap(&t, &before);
	assert_null(region_alloc(t.req, 0));
	assert_null(region_alloc(t.conn, 0));
	/* No room for another request region either. */
	errno = 0;
	assert_null(region_new(t.conn, "req2", REGION_UNLIMITED));
	assert_int_equal(errno, ENOMEM);
	tree_snap(&t, &after);
	assert_snap_equal(&before, &after);
	region_release(t.worker);
}

/* Request and connection have room, the worker does not. */
static void
test_budget_worker_level(void **state)
{
	struct tree t;
	struct snap before, after;
	size_t wbudget = 3000, room;

	tree_make(&t, wbudget, 50000, 50000);
	room = wbudget - region_used(t.worker);
	tree_snap(&t, &before);
	errno = 0;
	assert_null(region_alloc(t.req, room - OVH + 1));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(region_zalloc(t.req, room - OVH + 1));
	assert_int_equal(errno, ENOMEM);
	tree_snap(&t, &after);
	assert_snap_equal(&before, &after);

	assert_non_null(region_alloc(t.req, room - OVH));
	assert_int_equal(region_used(t.worker), wbudget);
	assert_null(region_alloc(t.worker, 0));
	region_release(t.worker);
}

static void
test_region_new_refused_by_parent(void **state)
{
	struct region *w = region_new(NULL, "w", SELF - 1), *c;

	assert_non_null(w);
	errno = 0;
	c = region_new(w, "c", REGION_UNLIMITED);
	assert_null(c);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(region_used(w), 0);
	assert_int_equal(region_peak(w), 0);
	assert_int_equal(region_set_budget(w, SELF), 0);
	c = region_new(w, "c", REGION_UNLIMITED);
	assert_non_null(c);
	assert_int_equal(region_used(w), SELF);
	region_release(w);
}

static void
test_overflow_guard(void **state)
{
	struct tree t;
	struct snap before, after;
	void *p;

	tree_make(&t, REGION_UNLIMITED, REGION_UNLIMITED, REGION_UNLIMITED);
	tree_snap(&t, &before);
	errno = 0;
	assert_null(region_alloc(t.req, SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(region_alloc(t.req, SIZE_MAX - OVH + 1));
	assert_int_equal(errno, ENOMEM);
	tree_snap(&t, &after);
	assert_snap_equal(&before, &after);

	p = region_alloc(t.req, 8);
	assert_non_null(p);
	memcpy(p, "12345678", 8);
	tree_snap(&t, &before);
	errno = 0;
	assert_null(region_realloc(t.req, p, SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	tree_snap(&t, &after);
	assert_snap_equal(&before, &after);
	assert_memory_equal(p, "12345678", 8);
	region_release(t.worker);
}

static void
test_child_release_restores_parent(void **state)
{
	struct region *w = region_new(NULL, "w", REGION_UNLIMITED);
	struct region *c, *r;
	size_t w0, c0;

	assert_non_null(w);
	assert_non_null(region_alloc(w, 10));
	w0 = region_used(w);
	c = region_new(w, "c", REGION_UNLIMITED);
	assert_non_null(c);
	c0 = region_used(c);
	assert_int_equal(c0, 0);
	r = region_new(c, "r", REGION_UNLIMITED);
	assert_non_null(region_alloc(r, 4000));
	assert_non_null(region_strdup(r, "hello"));
	assert_true(region_used(c) > c0);
	region_release(r);
	assert_int_equal(region_used(c), c0);
	assert_non_null(region_alloc(c, 123));
	region_release(c);
	assert_int_equal(region_used(w), w0);
	region_release(w);
}

/* Cleanup bookkeeping shared by the tests below. */
static int cleanup_log[32];
static int cleanup_count;

static void
cleanup_record(void *arg)
{
	if (cleanup_count < (int)(sizeof cleanup_log / sizeof cleanup_log[0]))
		cleanup_log[cleanup_count] = (int)(intptr_t)arg;
	cleanup_count++;
}

static void
test_cleanups_reverse_order(void **state)
{
	struct region *r = region_new(NULL, "r", REGION_UNLIMITED);

	cleanup_count = 0;
	for (intptr_t i = 1; i <= 5; i++)
		assert_int_equal(region_on_release(r, cleanup_record, (void *)i), 0);
	/* Each record is charged. */
	assert_true(region_used(r) >= 5 * OVH);
	assert_int_equal(cleanup_count, 0);
	region_release(r);
	assert_int_equal(cleanup_count, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(cleanup_log[i], 5 - i);
}

struct peek {
	const char *p;
	char seen[16];
};

static void
cleanup_peek(void *arg)
{
	struct peek *pk = arg;

	/* Reads a block of the region being released: must still be live
	 * (ASan would report otherwise). */
	memcpy(pk->seen, pk->p, 6);
}

static void
test_cleanups_run_before_memory_freed(void **state)
{
	struct region *c = region_new(NULL, "c", REGION_UNLIMITED);
	struct region *r = region_new(c, "r", REGION_UNLIMITED);
	struct peek pk_parent, pk_child;

	memset(&pk_parent, 0, sizeof pk_parent);
	memset(&pk_child, 0, sizeof pk_child);
	/* The parent's cleanup reads the child's memory too: every cleanup of
	 * the subtree runs before any of it is freed. */
	pk_child.p = region_strdup(r, "child");
	pk_parent.p = pk_child.p;
	assert_int_equal(region_on_release(r, cleanup_peek, &pk_child), 0);
	assert_int_equal(region_on_release(c, cleanup_peek, &pk_parent), 0);
	region_release(c);
	assert_string_equal(pk_child.seen, "child");
	assert_string_equal(pk_parent.seen, "child");
}

static void
test_cleanup_refused_by_budget(void **state)
{
	struct region *w = region_new(NULL, "w", REGION_UNLIMITED);
	struct region *r = region_new(w, "r", OVH);
	size_t wu = region_used(w);

	errno = 0;
	assert_int_equal(region_on_release(r, cleanup_record, NULL), -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(region_used(r), 0);
	assert_int_equal(region_used(w), wu);
	cleanup_count = 0;
	region_release(w);
	assert_int_equal(cleanup_count, 0);
}

static void
test_release_parent_with_live_children(void **state)
{
	struct region *w = region_new(NULL, "worker", REGION_UNLIMITED);
	struct region *c, *r1, *r2, *g;
	size_t w0 = region_used(w);

	c = region_new(w, "conn", REGION_UNLIMITED);
	r1 = region_new(c, "r1", REGION_UNLIMITED);
	r2 = region_new(c, "r2", REGION_UNLIMITED);
	g = region_new(r1, "g", REGION_UNLIMITED);
	assert_non_null(c);
	assert_non_null(r1);
	assert_non_null(r2);
	assert_non_null(g);
	for (int i = 0; i < 10; i++) {
		assert_non_null(region_alloc(c, 17 * i));
		assert_non_null(region_alloc(r1, 31 * i));
		assert_non_null(region_alloc(r2, 7 * i));
		assert_non_null(region_alloc(g, 3 * i));
	}
	cleanup_count = 0;
	assert_int_equal(region_on_release(c, cleanup_record, (void *)1), 0);
	assert_int_equal(region_on_release(r1, cleanup_record, (void *)2), 0);
	assert_int_equal(region_on_release(g, cleanup_record, (void *)3), 0);
	assert_int_equal(region_on_release(r2, cleanup_record, (void *)4), 0);
	assert_int_equal(region_on_release(c, cleanup_record, (void *)5), 0);
	region_release(c);
	assert_int_equal(cleanup_count, 5);
	/* Children before their parent: g before r1; both requests before
	 * the connection, whose own run newest first (5 then 1). */
	{
		int pos[6] = { 0 };

		for (int i = 0; i < 5; i++)
			pos[cleanup_log[i]] = i;
		assert_true(pos[3] < pos[2]);
		assert_true(pos[2] < pos[5]);
		assert_true(pos[4] < pos[5]);
		assert_true(pos[5] < pos[1]);
		assert_int_equal(pos[1], 4);
	}
	assert_int_equal(region_used(w), w0);
	region_release(w);
}

static struct region *nested_child;
static struct region *nested_worker;
static void *nested_worker_block;

static void
cleanup_misbehaves(void *arg)
{
	struct region *r = arg;

	/* Releasing a region already on its way out is a no-op. */
	region_release(nested_child);
	region_release(r);
	/* Nothing new can hang on a region being released. */
	errno = 0;
	assert_null(region_new(r, "late", REGION_UNLIMITED));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(region_on_release(r, cleanup_record, NULL), -1);
	assert_int_equal(errno, EINVAL);
	/* Memory of the region itself still works and is freed with it. */
	assert_non_null(region_alloc(r, 50));
	/* The parent chain may be touched: give back a worker block. */
	region_free(nested_worker, nested_worker_block);
	nested_worker_block = NULL;
	cleanup_count++;
}

static void
test_cleanup_may_touch_regions(void **state)
{
	struct region *c;
	size_t w0;

	nested_worker = region_new(NULL, "w", REGION_UNLIMITED);
	w0 = region_used(nested_worker);
	nested_worker_block = region_alloc(nested_worker, 64);
	assert_non_null(nested_worker_block);
	c = region_new(nested_worker, "c", REGION_UNLIMITED);
	nested_child = region_new(c, "child", REGION_UNLIMITED);
	assert_non_null(region_alloc(nested_child, 10));
	cleanup_count = 0;
	assert_int_equal(region_on_release(c, cleanup_misbehaves, c), 0);
	region_release(c);
	assert_int_equal(cleanup_count, 1);
	assert_null(nested_worker_block);
	assert_int_equal(region_used(nested_worker), w0);
	region_release(nested_worker);
}

static void
test_release_deep_and_wide_tree(void **state)
{
	struct region *w = region_new(NULL, "w", REGION_UNLIMITED);
	struct region *r = w;
	size_t n = 20000;

	/* A chain deep enough to hurt a recursive release, with siblings. */
	for (size_t i = 0; i < n; i++) {
		r = region_new(r, "d", REGION_UNLIMITED);
		assert_non_null(r);
		if (i % 100 == 0)
			assert_non_null(region_new(region_parent(r), "s", REGION_UNLIMITED));
	}
	assert_int_equal(region_used(w), (n + n / 100) * SELF);
	region_release(region_parent(region_parent(r)));
	region_release(w);
	region_release(NULL);
}

static void
test_realloc_keeps_data(void **state)
{
	struct tree t;
	struct snap before, after;
	unsigned char *p, *q;
	size_t c0;

	tree_make(&t, REGION_UNLIMITED, REGION_UNLIMITED, 1000);
	/* NULL acts as alloc. */
	p = region_realloc(t.req, NULL, 10);
	assert_non_null(p);
	assert_int_equal(region_used(t.req), 10 + OVH);
	for (int i = 0; i < 10; i++)
		p[i] = (unsigned char)i;
	c0 = region_used(t.conn);
	/* Grow: data kept, only the difference charged. */
	q = region_realloc(t.req, p, 500);
	assert_non_null(q);
	for (int i = 0; i < 10; i++)
		assert_int_equal(q[i], i);
	assert_int_equal(region_used(t.req), 500 + OVH);
	assert_int_equal(region_used(t.conn), c0 + 490);
	memset(q + 10, 0x5a, 490);
	/* Failure: NULL, old block intact, nothing charged. */
	tree_snap(&t, &before);
	errno = 0;
	assert_null(region_realloc(t.req, q, 1000));
	assert_int_equal(errno, ENOMEM);
	tree_snap(&t, &after);
	assert_snap_equal(&before, &after);
	for (int i = 0; i < 10; i++)
		assert_int_equal(q[i], i);
	assert_int_equal(q[499], 0x5a);
	/* Shrink: prefix kept, charge drops. */
	p = region_realloc(t.req, q, 5);
	assert_non_null(p);
	for (int i = 0; i < 5; i++)
		assert_int_equal(p[i], i);
	assert_int_equal(region_used(t.req), 5 + OVH);
	assert_int_equal(region_used(t.conn), c0 - 5);
	/* Same size is a no-op. */
	assert_ptr_equal(region_realloc(t.req, p, 5), p);
	/* Blocks around a moved one stay linked: free them all one by one. */
	{
		void *a = region_alloc(t.req, 1), *b = region_alloc(t.req, 2);

		p = region_realloc(t.req, p, 700);
		assert_non_null(p);
		region_free(t.req, a);
		region_free(t.req, p);
		region_free(t.req, b);
		assert_int_equal(region_used(t.req), 0);
	}
	region_free(t.req, NULL);
	region_release(t.worker);
}

static void
test_peak(void **state)
{
	struct region *r = region_new(NULL, "r", REGION_UNLIMITED);
	void *a, *b;

	a = region_alloc(r, 1000);
	b = region_alloc(r, 2000);
	assert_int_equal(region_peak(r), 3000 + 2 * OVH);
	region_free(r, b);
	region_free(r, a);
	assert_int_equal(region_used(r), 0);
	assert_int_equal(region_peak(r), 3000 + 2 * OVH);
	a = region_alloc(r, 10);
	assert_int_equal(region_peak(r), 3000 + 2 * OVH);
	region_free(r, a);
	region_release(r);
}

static void
test_set_budget(void **state)
{
	struct region *r = region_new(NULL, "r", 5000);

	assert_int_equal(region_budget(r), 5000);
	assert_non_null(region_alloc(r, 1000));
	errno = 0;
	assert_int_equal(region_set_budget(r, 1000 + OVH - 1), -1);
	assert_int_equal(region_budget(r), 5000);
	assert_int_equal(region_set_budget(r, 1000 + OVH), 0);
	assert_int_equal(region_budget(r), 1000 + OVH);
	assert_null(region_alloc(r, 0));
	region_release(r);
}

static void
test_strdup_zalloc(void **state)
{
	struct region *r = region_new(NULL, "r", REGION_UNLIMITED);
	char *s;
	unsigned char *z;

	s = region_strndup(r, "abcdef", 3);
	assert_string_equal(s, "abc");
	assert_int_equal(region_used(r), 4 + OVH);
	s = region_strndup(r, "ab", 10);
	assert_string_equal(s, "ab");
	s = region_strdup(r, "");
	assert_string_equal(s, "");
	z = region_zalloc(r, 300);
	for (int i = 0; i < 300; i++)
		assert_int_equal(z[i], 0);
	region_release(r);
}

#ifdef HF_DEBUG
/*
 * Runs stmt in a forked child with stderr captured; the child must die of
 * SIGABRT and name this file and the line of the EXPECT_ABORT (where stmt
 * expands, so its __LINE__ is the same).
 */
#define EXPECT_ABORT(stmt) do { \
	int fds_[2]; \
	pid_t pid_; \
	assert_int_equal(pipe(fds_), 0); \
	fflush(NULL); \
	pid_ = fork(); \
	assert_true(pid_ >= 0); \
	if (pid_ == 0) { \
		close(fds_[0]); \
		dup2(fds_[1], 2); \
		stmt; \
		_exit(0); \
	} \
	close(fds_[1]); \
	expect_abort_in(pid_, fds_[0], __LINE__); \
} while (0)

static void
expect_abort_in(pid_t pid, int fd, int line)
{
	char out[4096], where[256];
	size_t n = 0;
	ssize_t k;
	int status;

	while (n < sizeof out - 1 && (k = read(fd, out + n, sizeof out - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = '\0';
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	snprintf(where, sizeof where, "%s:%d:", __FILE__, line);
	if (strstr(out, where) == NULL)
		fail_msg("abort message lacks \"%s\": %s", where, out);
}

static void
test_debug_foreign_free_aborts(void **state)
{
	struct region *a = region_new(NULL, "a", REGION_UNLIMITED);
	struct region *b = region_new(NULL, "b", REGION_UNLIMITED);
	void *p = region_alloc(a, 32);

	EXPECT_ABORT(region_free(b, p));
	EXPECT_ABORT(region_realloc(b, p, 64));
	/* A child's block is not its parent's either. */
	{
		struct region *c = region_new(a, "c", REGION_UNLIMITED);
		void *q = region_alloc(c, 8);

		EXPECT_ABORT(region_free(a, q));
	}
	/* The parent's copy was untouched by the children's aborts. */
	region_free(a, p);
	region_release(a);
	region_release(b);
}

static void
test_debug_double_free_aborts(void **state)
{
	struct region *a = region_new(NULL, "a", REGION_UNLIMITED);
	void *p = region_alloc(a, 32), *q = region_alloc(a, 32);

	region_free(a, p);
	EXPECT_ABORT(region_free(a, p));
	EXPECT_ABORT(region_realloc(a, p, 8));
	/* Freeing a block of a region released already. */
	{
		struct region *c = region_new(a, "c", REGION_UNLIMITED);
		void *r = region_alloc(c, 8);

		region_release(c);
		EXPECT_ABORT(region_free(a, r));
	}
	region_free(a, q);
	region_release(a);
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overheads_are_positive),
		cmocka_unit_test(test_accounting_up_the_chain),
		cmocka_unit_test(test_name_is_copied_and_truncated),
		cmocka_unit_test(test_budget_request_level),
		cmocka_unit_test(test_budget_connection_level),
		cmocka_unit_test(test_budget_worker_level),
		cmocka_unit_test(test_region_new_refused_by_parent),
		cmocka_unit_test(test_overflow_guard),
		cmocka_unit_test(test_child_release_restores_parent),
		cmocka_unit_test(test_cleanups_reverse_order),
		cmocka_unit_test(test_cleanups_run_before_memory_freed),
		cmocka_unit_test(test_cleanup_refused_by_budget),
		cmocka_unit_test(test_release_parent_with_live_children),
		cmocka_unit_test(test_cleanup_may_touch_regions),
		cmocka_unit_test(test_release_deep_and_wide_tree),
		cmocka_unit_test(test_realloc_keeps_data),
		cmocka_unit_test(test_peak),
		cmocka_unit_test(test_set_budget),
		cmocka_unit_test(test_strdup_zalloc),
#ifdef HF_DEBUG
		cmocka_unit_test(test_debug_foreign_free_aborts),
		cmocka_unit_test(test_debug_double_free_aborts),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
