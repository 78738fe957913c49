/*
 * pool.c: the address pool (pool.h).  A flat table of owners, one slot
 * per address, allocated once in the worker region; taking an address is
 * a round-robin scan (bounded by the pool size), so an address just given
 * back is the last to be handed out again.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "region.h"
#include "pptp/pool.h"
#include "pptp/pptp_limits.h"

int
pool_check(struct in_addr start, struct in_addr end, struct in_addr local, char *err, size_t errlen)
{
	uint32_t s = ntohl(start.s_addr), e = ntohl(end.s_addr), l = ntohl(local.s_addr);

	if (s == 0 || e < s) {
		snprintf(err, errlen, "pool_start must be a non-zero address not above pool_end");
		return -1;
	}
	if (e - s + 1 > PPTP_POOL_MAX_ADDRS) {
		snprintf(err, errlen, "the pool holds more than %d addresses", PPTP_POOL_MAX_ADDRS);
		return -1;
	}
	if (l >= s && l <= e) {
		snprintf(err, errlen, "local_address is inside the pool");
		return -1;
	}
	if (pool_prefix(start, end, local) < 8) {
		snprintf(err, errlen, "local_address and the pool must share at least a /8");
		return -1;
	}
	return 0;
}

int
pool_init(struct pool *p, struct region *r, struct in_addr start, struct in_addr end)
{
	p->start = ntohl(start.s_addr);
	p->end = ntohl(end.s_addr);
	p->next = 0;
	p->used = 0;
	p->owner = region_zalloc(r, pool_size(p) * sizeof *p->owner);
	return p->owner ? 0 : -1;
}

size_t
pool_size(const struct pool *p)
{
	return (size_t)(p->end - p->start) + 1;
}

int
pool_take(struct pool *p, void *owner, struct in_addr *out)
{
	size_t n = pool_size(p), i;

	for (i = 0; i < n; i++) {
		uint32_t k = (uint32_t)((p->next + i) % n);

		if (p->owner[k] == NULL) {
			p->owner[k] = owner;
			p->next = (uint32_t)((k + 1) % n);
			p->used++;
			out->s_addr = htonl(p->start + k);
			return 0;
		}
	}
	return -1;
}

void
pool_put(struct pool *p, struct in_addr a, void *owner)
{
	uint32_t h = ntohl(a.s_addr);

	if (h < p->start || h > p->end || p->owner[h - p->start] != owner || owner == NULL)
		return;
	p->owner[h - p->start] = NULL;
	p->used--;
}

void *
pool_owner(const struct pool *p, uint32_t a_net)
{
	uint32_t h = ntohl(a_net);

	if (h < p->start || h > p->end)
		return NULL;
	return p->owner[h - p->start];
}

unsigned
pool_prefix(struct in_addr start, struct in_addr end, struct in_addr local)
{
	uint32_t s = ntohl(start.s_addr), e = ntohl(end.s_addr), l = ntohl(local.s_addr);
	unsigned plen;

	for (plen = 32; plen > 0; plen--) {
		uint32_t mask = plen == 32 ? 0xffffffffu : ~(0xffffffffu >> plen);

		if ((s & mask) == (l & mask) && (e & mask) == (l & mask))
			return plen;
	}
	return 0;
}
