/*
 * addr_rate.h: token buckets per source address, in a fixed table.
 *
 * For things an unauthenticated peer can make us do that cost far more
 * than the peer's own effort (a PAM login: 65-145 ms of yescrypt), so
 * that one address cannot spend them at the rate it can connect.  IPv4
 * addresses count alone (IPv4-mapped IPv6 too), IPv6 by their /64: one
 * host usually owns a whole /64.
 *
 * Each address may spend `burst` at once and then `per_minute` per
 * minute.  The table has a fixed number of slots, allocated once: an
 * address not in it takes a free slot, or the slot whose bucket is the
 * fullest (an address that has spent least lately: forgetting it costs
 * nothing, a new bucket starts full anyway).  So many addresses cannot
 * grow memory, and flushing the table to reset one's own bucket takes
 * as many addresses with spent buckets as there are slots.
 *
 * Time is the caller's (milliseconds, monotonic), so this is plain
 * arithmetic and the tests need no clock.
 */
#ifndef HF_ADDR_RATE_H
#define HF_ADDR_RATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct region;
struct addr_rate;

/* slots > 0; per_minute == 0 means no limit (take always succeeds).
 * NULL if the region's budget has no room. */
struct addr_rate *addr_rate_new(struct region *r, size_t slots, uint32_t per_minute, uint32_t burst);
/* 1: one unit spent for this address; 0: its bucket is empty. */
int addr_rate_take(struct addr_rate *ar, const struct sockaddr_storage *ss, uint64_t now_ms);
/* Charge on outcome: allow() says whether the address has a unit left
 * (spending nothing); charge() spends one afterwards, when the operation
 * turned out to count (a failed login), and may leave the bucket in debt
 * of up to `burst` units: attempts that were allowed together and all
 * failed are paid back by waiting. */
int addr_rate_allow(struct addr_rate *ar, const struct sockaddr_storage *ss, uint64_t now_ms);
void addr_rate_charge(struct addr_rate *ar, const struct sockaddr_storage *ss, uint64_t now_ms);
/* Slots in use (for tests and status). */
size_t addr_rate_used(const struct addr_rate *ar);

#endif
