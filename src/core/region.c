/*
 * region.c: hierarchical memory regions with budgets (see region.h).
 *
 * Role: the only allocator for memory spent on a peer.  Each block is one
 * malloc() with a small header in front that links it into its region's
 * doubly-linked block list, so region_free() is O(1) and region_release()
 * frees everything without the caller keeping track.  Each region links
 * into its parent's child list the same way.
 *
 * Accounting: a block costs its size plus region_block_overhead(), a
 * region costs region_self_overhead() to its parent chain (not to itself,
 * so a fresh region reports 0 and a released child gives its parent back
 * exactly what it took).  Every charge first checks every ancestor's
 * budget and only then charges, so a refused allocation changes nothing.
 * The overheads include an estimate of malloc's own per-chunk cost, so
 * that a peer cannot hide many tiny allocations under a budget.
 *
 * Release runs in two passes over the subtree, both iterative (no
 * recursion, whatever the depth): first every cleanup runs, children
 * before parents and each region's in reverse order of registration,
 * while all the subtree's memory is still valid; then every block and
 * region is freed, children first.  Cleanups may allocate from and free
 * to any region, and may call region_release() on a region inside the
 * subtree being released (a no-op: it is already on its way out).
 * Creating a child of, or registering a cleanup on, a region that is being
 * released fails with EINVAL, since nothing would ever run or free it.
 *
 * HF_DEBUG: each block carries a magic and its owner region.  Freeing or
 * reallocating a block through a region that does not own it, a double
 * free, or a pointer that is not a region block prints the caller's
 * file:line to stderr and aborts.  Freed blocks are not given back to
 * malloc at once but kept in a small quarantine (their payload poisoned
 * under ASan), so that a double free reads our own header and not freed
 * memory.  Release checks that each region's blocks add up to its charge
 * and that the parent's charge drops by exactly what the child held.
 *
 * Limits: names are copied and truncated to REGION_NAME_MAX_BYTES - 1.
 *
 * Known weaknesses: not thread-safe (workers are single-threaded by
 * design).  Without HF_DEBUG a foreign or double free is not detected and
 * corrupts the accounting.  The quarantine is global and bounded
 * (REGION_QUARANTINE_BLOCKS), so a double free of a block freed long ago
 * reads freed memory; ASan reports that instead.  A cleanup that releases
 * an ancestor of the region being released is undefined.
 */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "region.h"

/* Copied so that a caller may build a name on the stack ("conn 10.0.0.1"). */
#define REGION_NAME_MAX_BYTES 32

/* glibc's chunk header and rounding cost roughly this per malloc(); charging
 * it keeps a budget close to what the process really spends. */
#define REGION_MALLOC_OVERHEAD_BYTES 16

#if defined(__SANITIZE_ADDRESS__)
#define REGION_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REGION_ASAN 1
#endif
#endif

#ifdef HF_DEBUG
#ifdef REGION_ASAN
#include <sanitizer/asan_interface.h>
#define REGION_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define REGION_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define REGION_POISON(p, n) ((void)(p), (void)(n))
#define REGION_UNPOISON(p, n) ((void)(p), (void)(n))
#endif
/* Freed blocks kept back from malloc so that a double free is caught. */
#define REGION_QUARANTINE_BLOCKS 256
#define BLOCK_MAGIC_LIVE ((size_t)0x6846426c6f636b31ULL)  /* "hFBlock1" */
#define BLOCK_MAGIC_FREED ((size_t)0x6846467265656421ULL) /* "hFFreed!" */
#endif

struct block {
	struct block *prev;
	struct block *next;
	size_t size;            /* as requested */
#ifdef HF_DEBUG
	struct region *owner;
	size_t magic;
#endif
};

/* The payload must be aligned like malloc's own result. */
#define BLOCK_HDR_BYTES \
	((sizeof(struct block) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))

struct cleanup {
	void (*fn)(void *arg);
	void *arg;
	struct cleanup *next;   /* older registrations */
};

struct region {
	struct region *parent;
	struct region *first_child;
	struct region *prev_sibling;
	struct region *next_sibling;
	struct block *blocks;
	struct cleanup *cleanups; /* newest first */
	size_t used;
	size_t peak;
	size_t budget;
	int releasing;
	char name[REGION_NAME_MAX_BYTES];
};

size_t
region_block_overhead(void)
{
	return BLOCK_HDR_BYTES + REGION_MALLOC_OVERHEAD_BYTES;
}

size_t
region_self_overhead(void)
{
	return sizeof(struct region) + REGION_MALLOC_OVERHEAD_BYTES;
}

static inline struct block *
block_of(void *p)
{
	return (struct block *)(void *)((char *)p - BLOCK_HDR_BYTES);
}

static inline void *
block_payload(struct block *b)
{
	return (char *)b + BLOCK_HDR_BYTES;
}

/* Every ancestor is checked before anything is charged, so a refusal
 * leaves every counter as it was.  used <= budget always holds, so
 * budget - used cannot wrap. */
static int
charge_fits(const struct region *r, size_t n)
{
	for (; r != NULL; r = r->parent)
		if (n > r->budget - r->used)
			return 0;
	return 1;
}

static void
charge_add(struct region *r, size_t n)
{
	for (; r != NULL; r = r->parent) {
		r->used += n;
		if (r->used > r->peak)
			r->peak = r->used;
	}
}

static void
charge_sub(struct region *r, size_t n)
{
	for (; r != NULL; r = r->parent)
		r->used -= n;
}

#ifdef HF_DEBUG
static struct block *region_quarantine[REGION_QUARANTINE_BLOCKS];
static size_t region_quarantine_next;

static void __attribute__((noreturn))
region_die(const char *file, int line, const char *what, const struct region *r, const void *p)
{
	/* Straight to stderr: the logger may be syslog, and this must be seen
	 * by whoever runs the test. */
	fprintf(stderr, "%s:%d: region %s: %s (block %p)\n", file ? file : "?", line,
	        r ? r->name : "(null)", what, p);
	fflush(stderr);
	abort();
}

/* Reads only our own header: quarantine keeps freed headers readable. */
static void
block_check(const struct region *r, void *p, const char *file, int line)
{
	struct block *b = block_of(p);

	if (b->magic == BLOCK_MAGIC_FREED)
		region_die(file, line, "double free", r, p);
	if (b->magic != BLOCK_MAGIC_LIVE)
		region_die(file, line, "not a region block", r, p);
	if (b->owner != r)
		region_die(file, line, "block belongs to another region", r, p);
}

static void
block_release_memory(struct block *b)
{
	struct block *old;

	b->magic = BLOCK_MAGIC_FREED;
	REGION_POISON(block_payload(b), b->size);
	old = region_quarantine[region_quarantine_next];
	region_quarantine[region_quarantine_next] = b;
	region_quarantine_next = (region_quarantine_next + 1) % REGION_QUARANTINE_BLOCKS;
	if (old != NULL) {
		REGION_UNPOISON(block_payload(old), old->size);
		free(old);
	}
}
#else
static inline void
block_check(const struct region *r, void *p, const char *file, int line)
{
}

static inline void
block_release_memory(struct block *b)
{
	free(b);
}
#endif

static void
block_link(struct region *r, struct block *b)
{
	b->prev = NULL;
	b->next = r->blocks;
	if (r->blocks != NULL)
		r->blocks->prev = b;
	r->blocks = b;
#ifdef HF_DEBUG
	b->owner = r;
	b->magic = BLOCK_MAGIC_LIVE;
#endif
}

static void
block_unlink(struct region *r, struct block *b)
{
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		r->blocks = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
}

struct region *
region_new(struct region *parent, const char *name, size_t budget)
{
	struct region *r;

	if (parent != NULL && parent->releasing) {
		errno = EINVAL;
		return NULL;
	}
	if (parent != NULL && !charge_fits(parent, region_self_overhead())) {
		errno = ENOMEM;
		return NULL;
	}
	r = calloc(1, sizeof *r);
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	r->budget = budget;
	snprintf(r->name, sizeof r->name, "%s", name ? name : "");
	r->parent = parent;
	if (parent != NULL) {
		r->next_sibling = parent->first_child;
		if (parent->first_child != NULL)
			parent->first_child->prev_sibling = r;
		parent->first_child = r;
		charge_add(parent, region_self_overhead());
	}
	return r;
}

/* Pre-order walk of the subtree under top: the next region after r. */
static struct region *
subtree_next_preorder(struct region *top, struct region *r)
{
	if (r->first_child != NULL)
		return r->first_child;
	while (r != top) {
		if (r->next_sibling != NULL)
			return r->next_sibling;
		r = r->parent;
	}
	return NULL;
}

static struct region *
subtree_deepest_first(struct region *r)
{
	while (r->first_child != NULL)
		r = r->first_child;
	return r;
}

/* Post-order walk: children before their parent; NULL after top. */
static struct region *
subtree_next_postorder(struct region *top, struct region *r)
{
	if (r == top)
		return NULL;
	if (r->next_sibling != NULL)
		return subtree_deepest_first(r->next_sibling);
	return r->parent;
}

static void
region_run_cleanups(struct region *r)
{
	struct cleanup *c;

	/* Popped before running, so a cleanup never sees itself; the record
	 * is a block of r and is freed with the others. */
	while ((c = r->cleanups) != NULL) {
		r->cleanups = c->next;
		c->fn(c->arg);
	}
}

/* Frees a region that has no children left, with its blocks, and gives
 * its charge back to every ancestor. */
static void
region_destroy_leaf(struct region *r)
{
	struct block *b, *next;
	size_t freed = 0, held;

	for (b = r->blocks; b != NULL; b = next) {
		next = b->next;
#ifdef HF_DEBUG
		if (b->magic != BLOCK_MAGIC_LIVE || b->owner != r)
			region_die(__FILE__, __LINE__, "corrupt block list at release", r, block_payload(b));
#endif
		freed += b->size + region_block_overhead();
		block_release_memory(b);
	}
	r->blocks = NULL;
#ifdef HF_DEBUG
	if (freed != r->used) {
		fprintf(stderr, "region %s: released blocks total %zu bytes but used is %zu\n",
		        r->name, freed, r->used);
		region_die(__FILE__, __LINE__, "charge does not match blocks at release", r, NULL);
	}
#endif
	/* What the ancestors were charged on r's behalf, which is r->used
	 * (its children are gone already) plus r itself. */
	held = r->used + region_self_overhead();
	r->used -= freed;
	if (r->parent != NULL) {
		charge_sub(r->parent, held);
		if (r->prev_sibling != NULL)
			r->prev_sibling->next_sibling = r->next_sibling;
		else
			r->parent->first_child = r->next_sibling;
		if (r->next_sibling != NULL)
			r->next_sibling->prev_sibling = r->prev_sibling;
	}
	free(r);
}

void
region_release(struct region *r)
{
	struct region *cur, *next, *parent;
#ifdef HF_DEBUG
	size_t parent_before = 0, held;
#endif

	if (r == NULL || r->releasing)
		return;

	/* Mark first, so that no cleanup can hang anything new on a region
	 * that is about to disappear. */
	for (cur = r; cur != NULL; cur = subtree_next_preorder(r, cur))
		cur->releasing = 1;

	/* Pass 1: cleanups, children first, all memory still valid.  The tree
	 * cannot change shape here: new children are refused, and releasing a
	 * marked region is a no-op. */
	for (cur = subtree_deepest_first(r); cur != NULL; cur = subtree_next_postorder(r, cur))
		region_run_cleanups(cur);

	/* Pass 2: memory.  Cleanups may have charged or freed on the parent
	 * chain, so the parent is measured only now. */
	parent = r->parent;
#ifdef HF_DEBUG
	held = r->used + region_self_overhead();
	if (parent != NULL)
		parent_before = parent->used;
#endif
	for (cur = subtree_deepest_first(r); cur != NULL; cur = next) {
		/* Found before cur goes; cur is a leaf by now. */
		next = subtree_next_postorder(r, cur);
		region_destroy_leaf(cur);
	}
#ifdef HF_DEBUG
	if (parent != NULL && parent_before - parent->used != held) {
		fprintf(stderr, "region %s: parent dropped by %zu at release, child held %zu\n",
		        parent->name, parent_before - parent->used, held);
		region_die(__FILE__, __LINE__, "parent charge mismatch at release", parent, NULL);
	}
#else
	(void)parent;
#endif
}

void *
region_alloc(struct region *r, size_t size)
{
	struct block *b;
	size_t charge;

	if (size > SIZE_MAX - region_block_overhead()) {
		errno = ENOMEM;
		return NULL;
	}
	charge = size + region_block_overhead();
	if (!charge_fits(r, charge)) {
		errno = ENOMEM;
		return NULL;
	}
	b = malloc(BLOCK_HDR_BYTES + size);
	if (b == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	b->size = size;
	block_link(r, b);
	charge_add(r, charge);
	return block_payload(b);
}

void *
region_zalloc(struct region *r, size_t size)
{
	void *p = region_alloc(r, size);

	if (p != NULL)
		memset(p, 0, size);
	return p;
}

void *
region_realloc_at(struct region *r, void *p, size_t size, const char *file, int line)
{
	struct block *b, *nb, *prev, *next;
	size_t old;

	if (p == NULL)
		return region_alloc(r, size);
	block_check(r, p, file, line);
	b = block_of(p);
	old = b->size;
	if (size == old)
		return p;
	if (size > SIZE_MAX - region_block_overhead()) {
		errno = ENOMEM;
		return NULL;
	}
	if (size > old && !charge_fits(r, size - old)) {
		errno = ENOMEM;
		return NULL;
	}
	/* realloc() may move the header; remember the neighbours to relink. */
	prev = b->prev;
	next = b->next;
	nb = realloc(b, BLOCK_HDR_BYTES + size);
	if (nb == NULL) {
		if (size < old)
			return p;  /* the old block is big enough; keep its charge */
		errno = ENOMEM;
		return NULL;
	}
	if (prev != NULL)
		prev->next = nb;
	else
		r->blocks = nb;
	if (next != NULL)
		next->prev = nb;
	nb->size = size;
	if (size > old)
		charge_add(r, size - old);
	else
		charge_sub(r, old - size);
	return block_payload(nb);
}

void
region_free_at(struct region *r, void *p, const char *file, int line)
{
	struct block *b;
	size_t charge;

	if (p == NULL)
		return;
	block_check(r, p, file, line);
	b = block_of(p);
	charge = b->size + region_block_overhead();
	block_unlink(r, b);
	block_release_memory(b);
	charge_sub(r, charge);
}

char *
region_strndup(struct region *r, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d;

	if (len == SIZE_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	d = region_alloc(r, len + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *
region_strdup(struct region *r, const char *s)
{
	return region_strndup(r, s, strlen(s));
}

int
region_on_release(struct region *r, void (*fn)(void *arg), void *arg)
{
	struct cleanup *c;

	if (fn == NULL || r->releasing) {
		errno = EINVAL;
		return -1;
	}
	c = region_alloc(r, sizeof *c);
	if (c == NULL)
		return -1;
	c->fn = fn;
	c->arg = arg;
	c->next = r->cleanups;
	r->cleanups = c;
	return 0;
}

size_t
region_used(const struct region *r)
{
	return r->used;
}

size_t
region_peak(const struct region *r)
{
	return r->peak;
}

size_t
region_budget(const struct region *r)
{
	return r->budget;
}

int
region_set_budget(struct region *r, size_t budget)
{
	if (r->used > budget) {
		errno = EINVAL;
		return -1;
	}
	r->budget = budget;
	return 0;
}

const char *
region_name(const struct region *r)
{
	return r->name;
}

struct region *
region_parent(const struct region *r)
{
	return r->parent;
}
