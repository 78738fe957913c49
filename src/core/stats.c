/*
 * stats.c: the shared counters page (see stats.h).  The supervisor maps
 * it before fork; the worker writes it with plain stores (one writer, and
 * a torn 64-bit read on x86-64 cannot happen for aligned words).
 */
#include <string.h>
#include <sys/mman.h>

#include "stats.h"

const char *const refuse_reason_names[REFUSE_MAX] = {
	[REFUSE_GLOBAL_LIMIT] = "global_limit",
	[REFUSE_ADDR_LIMIT] = "address_limit",
	[REFUSE_BUDGET] = "budget",
	[REFUSE_FDS] = "fd_reserve",
	[REFUSE_SHUTDOWN] = "shutdown",
};

struct stats_page *
stats_page_new(void)
{
	void *p = mmap(NULL, sizeof(struct stats_page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, sizeof(struct stats_page));
	return p;
}

void
stats_page_free(struct stats_page *sp)
{
	if (sp)
		munmap(sp, sizeof *sp);
}

void
stats_page_reset(struct stats_page *sp)
{
	memset(sp, 0, sizeof *sp);
}

void
stats_refuse(struct stats_page *sp, enum refuse_reason why)
{
	if (sp && why < REFUSE_MAX)
		sp->refused[why]++;
}

void
stats_reject(struct stats_page *sp, const char *reason)
{
	size_t i;

	if (!sp)
		return;
	for (i = 0; i < STATS_REASONS_MAX - 1; i++) {
		struct stats_reason *r = &sp->rejected[i];

		if (r->name[0] == '\0') {
			strncpy(r->name, reason, sizeof r->name - 1);
			r->name[sizeof r->name - 1] = '\0';
		}
		if (strncmp(r->name, reason, sizeof r->name - 1) == 0) {
			r->count++;
			return;
		}
	}
	if (sp->rejected[i].name[0] == '\0')
		strcpy(sp->rejected[i].name, "other");
	sp->rejected[i].count++;
}

void
stats_gauge(struct stats_page *sp, const char *name, uint64_t value)
{
	size_t i;

	if (!sp)
		return;
	for (i = 0; i < STATS_GAUGES_MAX; i++) {
		struct stats_reason *g = &sp->gauges[i];

		if (g->name[0] == '\0') {
			strncpy(g->name, name, sizeof g->name - 1);
			g->name[sizeof g->name - 1] = '\0';
		}
		if (strncmp(g->name, name, sizeof g->name - 1) == 0) {
			g->count = value;
			return;
		}
	}
}
