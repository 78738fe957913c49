/*
 * stats.h: the counters a worker publishes and the supervisor reads.
 *
 * The page is an anonymous MAP_SHARED mapping made by the supervisor before
 * it forks the worker.  Only the worker writes it; the supervisor treats
 * what it reads as untrusted numbers (it clamps names and never follows a
 * pointer from it).  Reasons are registered by name on first use, up to
 * STATS_REASONS_MAX; later names share the last slot, "other".
 */
#ifndef HF_STATS_H
#define HF_STATS_H

#include <stdint.h>

#include "hf_limits.h"

/* Why a connection was refused at accept. */
enum refuse_reason {
	REFUSE_GLOBAL_LIMIT,     /* max_connections reached */
	REFUSE_ADDR_LIMIT,       /* max_connections_per_address reached */
	REFUSE_BUDGET,           /* worker region could not hold another connection */
	REFUSE_FDS,              /* fd reserve reached */
	REFUSE_SHUTDOWN,         /* worker is stopping */
	REFUSE_MAX
};
extern const char *const refuse_reason_names[REFUSE_MAX];

struct stats_reason {
	char name[STATS_REASON_NAME_MAX];
	uint64_t count;
};

struct stats_page {
	uint32_t magic;                   /* STATS_MAGIC once the worker set it up */
	uint32_t pid;
	uint64_t connections;             /* live */
	uint64_t connections_total;       /* accepted since the worker started */
	uint64_t region_bytes;            /* worker region in use */
	uint64_t region_peak_bytes;
	uint64_t budget_bytes;            /* worker region budget */
	uint64_t refused[REFUSE_MAX];
	struct stats_reason rejected[STATS_REASONS_MAX];
	/* A service's own current values by name (count holds the value):
	 * the tunnel's live calls and pool use.  Set, not added. */
	struct stats_reason gauges[STATS_GAUGES_MAX];
};
#define STATS_MAGIC 0x68667374u     /* "hfst" */

/* Supervisor: a zeroed shared page, or NULL. */
struct stats_page *stats_page_new(void);
void stats_page_free(struct stats_page *sp);
void stats_page_reset(struct stats_page *sp);

/* Worker side. */
void stats_refuse(struct stats_page *sp, enum refuse_reason why);
/* Counts one rejected input under reason (e.g. "line_too_long", "budget"). */
void stats_reject(struct stats_page *sp, const char *reason);
/* Sets the gauge name to value (registered on first use; names past
 * STATS_GAUGES_MAX are ignored). */
void stats_gauge(struct stats_page *sp, const char *name, uint64_t value);

#endif
