/*
 * region.h: hierarchical memory regions with budgets.
 *
 * Every byte a service spends on a peer comes from a region:
 *   worker region > connection region > request region.
 * An allocation is charged to its region and to every ancestor; if any of
 * them would pass its budget the allocation fails with NULL (errno ENOMEM)
 * and nothing is charged.  A region is released as a whole, children first,
 * running its cleanups (fds, timers, TLS objects) in reverse order of
 * registration.  Charges include a fixed per-block overhead so that many
 * tiny allocations cannot hide under a budget.
 *
 * With HF_DEBUG, every block carries an owner tag: freeing a block through
 * a region that does not own it, or twice, aborts with the caller's
 * location (MS03-029 caught mechanically), and region_release verifies that
 * the parent's charge drops by exactly what the child held.
 */
#ifndef HF_REGION_H
#define HF_REGION_H

#include <stddef.h>

struct region;

#define REGION_UNLIMITED ((size_t)-1)

/* A new region charged to parent (which may be NULL for a root).  The region
 * header itself is charged to the parent.  NULL if the parent's budget or
 * malloc refuses. */
struct region *region_new(struct region *parent, const char *name, size_t budget);

/* Releases r, its children and all their blocks; runs cleanups. NULL is a no-op. */
void region_release(struct region *r);

/* Uninitialised (region_alloc) or zeroed (region_zalloc) memory, or NULL. */
void *region_alloc(struct region *r, size_t size);
void *region_zalloc(struct region *r, size_t size);

/* Grows or shrinks a block of r; on failure returns NULL and p is intact.
 * p == NULL acts as region_alloc. */
#define region_realloc(r, p, size) region_realloc_at((r), (p), (size), __FILE__, __LINE__)
void *region_realloc_at(struct region *r, void *p, size_t size, const char *file, int line);

/* Returns one block early.  p must belong to r (checked with HF_DEBUG). */
#define region_free(r, p) region_free_at((r), (p), __FILE__, __LINE__)
void region_free_at(struct region *r, void *p, const char *file, int line);

char *region_strndup(struct region *r, const char *s, size_t n);
char *region_strdup(struct region *r, const char *s);

/* Runs fn(arg) when r is released (reverse order of registration).
 * Returns 0, or -1 if the budget refuses the small record it needs. */
int region_on_release(struct region *r, void (*fn)(void *arg), void *arg);

/* Bytes charged to r, including its blocks, its children and overhead. */
size_t region_used(const struct region *r);
/* High-water mark of region_used. */
size_t region_peak(const struct region *r);
size_t region_budget(const struct region *r);
/* Changes the budget; fails (-1) if the region already uses more. */
int region_set_budget(struct region *r, size_t budget);
const char *region_name(const struct region *r);
struct region *region_parent(const struct region *r);

/* Bytes charged per block and per region beyond what was asked for. */
size_t region_block_overhead(void);
size_t region_self_overhead(void);

#endif
