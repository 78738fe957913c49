/*
 * addr_rate.c: token buckets per source address (see addr_rate.h).
 *
 * Tokens are counted in 1/60000 of a unit, so that a bucket refills by
 * exactly per_minute of them per millisecond: integers only.  The table
 * is scanned linearly; it is meant for a few hundred slots and is only
 * consulted for expensive operations, never per packet.
 */
#include <netinet/in.h>
#include <string.h>

#include "addr_rate.h"
#include "region.h"

#define UNIT 60000u                       /* token fractions per unit: ms per minute */

struct addr_bucket {
	uint8_t key[8];                   /* IPv4 address, or an IPv6 /64 */
	uint8_t family;                   /* 0: free */
	int64_t tokens;                   /* in 1/UNIT; below 0: debt */
	uint64_t at_ms;                   /* when tokens was last brought up to date */
};

struct addr_rate {
	size_t slots, used;
	int64_t per_ms;                   /* refill per millisecond, in 1/UNIT */
	int64_t cap;                      /* burst, in 1/UNIT; the debt limit is -cap */
	struct addr_bucket *b;
};

struct addr_rate *
addr_rate_new(struct region *r, size_t slots, uint32_t per_minute, uint32_t burst)
{
	struct addr_rate *ar;

	if (slots == 0 || slots > SIZE_MAX / sizeof(struct addr_bucket))
		return NULL;
	if ((ar = region_zalloc(r, sizeof *ar)) == NULL ||
	    (ar->b = region_zalloc(r, slots * sizeof *ar->b)) == NULL)
		return NULL;
	ar->slots = slots;
	ar->per_ms = per_minute;
	ar->cap = (int64_t)(burst ? burst : 1) * UNIT;
	return ar;
}

/* family 4 or 6 and the key; 0 for anything else (AF_UNIX: one bucket). */
static uint8_t
key_of(const struct sockaddr_storage *ss, uint8_t key[8])
{
	memset(key, 0, 8);
	if (ss->ss_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)(const void *)ss)->sin_addr, 4);
		return 4;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(key, a->s6_addr + 12, 4);
			return 4;
		}
		memcpy(key, a->s6_addr, 8);
		return 6;
	}
	return 1;
}

static void
refill(const struct addr_rate *ar, struct addr_bucket *e, uint64_t now_ms)
{
	uint64_t dt;

	if (now_ms <= e->at_ms)
		return;
	dt = now_ms - e->at_ms;
	e->at_ms = now_ms;
	/* per_ms > 0 here; tokens >= -cap, so the gap fits in 2 * cap. */
	if (dt >= (uint64_t)((ar->cap - e->tokens + ar->per_ms - 1) / ar->per_ms))
		e->tokens = ar->cap;
	else
		e->tokens += (int64_t)dt * ar->per_ms;
}

/* The bucket of ss, brought up to date: found, or made in a free slot or
 * in place of the fullest bucket (a new bucket starts full). */
static struct addr_bucket *
bucket(struct addr_rate *ar, const struct sockaddr_storage *ss, uint64_t now_ms)
{
	struct addr_bucket *e = NULL, *fullest = NULL;
	uint8_t key[8], fam;
	size_t i;

	fam = key_of(ss, key);
	for (i = 0; i < ar->slots; i++) {
		struct addr_bucket *x = &ar->b[i];

		if (x->family == 0) {
			if (!e)
				e = x;   /* the first free slot, if it is not found */
			continue;
		}
		if (x->family == fam && memcmp(x->key, key, sizeof key) == 0) {
			refill(ar, x, now_ms);
			return x;
		}
		refill(ar, x, now_ms);
		if (!fullest || x->tokens > fullest->tokens)
			fullest = x;
	}
	if (!e)
		e = fullest;
	else
		ar->used++;
	e->family = fam;
	memcpy(e->key, key, sizeof key);
	e->tokens = ar->cap;
	e->at_ms = now_ms;
	return e;
}

int
addr_rate_allow(struct addr_rate *ar, const struct sockaddr_storage *ss, uint64_t now_ms)
{
	if (ar->per_ms == 0)
		return 1;
	return bucket(ar, ss, now_ms)->tokens >= (int64_t)UNIT;
}

void
addr_rate_charge(struct addr_rate *ar, const struct sockaddr_storage *ss, uint64_t now_ms)
{
	struct addr_bucket *e;

	if (ar->per_ms == 0)
		return;
	e = bucket(ar, ss, now_ms);
	e->tokens -= UNIT;
	if (e->tokens < -ar->cap)
		e->tokens = -ar->cap;
}

int
addr_rate_take(struct addr_rate *ar, const struct sockaddr_storage *ss, uint64_t now_ms)
{
	if (!addr_rate_allow(ar, ss, now_ms))
		return 0;
	addr_rate_charge(ar, ss, now_ms);
	return 1;
}

size_t
addr_rate_used(const struct addr_rate *ar)
{
	return ar->used;
}
