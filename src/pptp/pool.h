/*
 * pool.h: the tunnel's address pool, pool_start..pool_end (IPv4), at most
 * PPTP_POOL_MAX_ADDRS addresses.  Each address taken has an owner (the
 * call it is routed to), which is how packets read from the TUN device
 * find their call: pool_owner() is one subtraction and one index.
 */
#ifndef HF_PPTP_POOL_H
#define HF_PPTP_POOL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct region;

struct pool {
	uint32_t start, end;     /* host byte order, inclusive */
	uint32_t next;           /* where the next search starts (round robin) */
	size_t used;
	void **owner;            /* end-start+1 slots; NULL: free */
};

/* Checks a range (start <= end, at most PPTP_POOL_MAX_ADDRS, local not in
 * it): 0, or -1 with err.  Used by the service's check in the supervisor. */
int pool_check(struct in_addr start, struct in_addr end, struct in_addr local, char *err, size_t errlen);
/* 0, or -1 if the region cannot hold the table. */
int pool_init(struct pool *p, struct region *r, struct in_addr start, struct in_addr end);
/* Takes a free address for owner: 0, or -1 if the pool is exhausted. */
int pool_take(struct pool *p, void *owner, struct in_addr *out);
/* Gives an address back (ignored if not taken by owner). */
void pool_put(struct pool *p, struct in_addr a, void *owner);
/* The owner of a (network byte order), or NULL. */
void *pool_owner(const struct pool *p, uint32_t a_net);
size_t pool_size(const struct pool *p);
/* Smallest prefix length whose network holds local and the whole pool. */
unsigned pool_prefix(struct in_addr start, struct in_addr end, struct in_addr local);

#endif
