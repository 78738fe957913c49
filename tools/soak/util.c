/*
 * util.c: small helpers shared by the soak parts: the deterministic PRNG
 * (splitmix64, seeded by --seed), the fixed-capacity output buffer the
 * generators append to, line-reply judging for probes, the clock.
 *
 * Interface: soak.h (soak_rng_*, out_*, soak_line_reply, soak_now).
 * Limits: out_* never writes past cap; what does not fit is dropped
 * silently (generators size their messages below SOAK_MSG_MAX).
 * Known weaknesses: soak_rng_below() has a tiny modulo bias.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "soak.h"

volatile int soak_interrupted;

void
soak_rng_seed(struct soak_rng *r, uint64_t seed)
{
	r->s = seed ^ 0x6a09e667f3bcc909ULL;
}

uint64_t
soak_rng_next(struct soak_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint32_t
soak_rng_below(struct soak_rng *r, uint32_t n)
{
	return n == 0 ? 0 : (uint32_t)(soak_rng_next(r) % n);
}

size_t
out_room(const struct soak_out *o)
{
	return o->cap - o->len;
}

void
out_put(struct soak_out *o, const void *b, size_t n)
{
	if (n > out_room(o))
		n = out_room(o);
	memcpy(o->p + o->len, b, n);
	o->len += n;
}

void
out_str(struct soak_out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

void
out_fmt(struct soak_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;
	size_t room = out_room(o);

	if (room == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf((char *)o->p + o->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* vsnprintf wrote a NUL we do not keep; on truncation keep room - 1. */
	o->len += (size_t)n < room ? (size_t)n : room - 1;
}

void
out_fill(struct soak_out *o, int c, size_t n)
{
	if (n > out_room(o))
		n = out_room(o);
	memset(o->p + o->len, c, n);
	o->len += n;
}

void
out_rand_text(struct soak_out *o, struct soak_rng *r, size_t n)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t i;

	if (n > out_room(o))
		n = out_room(o);
	for (i = 0; i < n; i++)
		o->p[o->len + i] = (uint8_t)al[soak_rng_below(r, sizeof(al) - 1)];
	o->len += n;
}

void
out_u16be(struct soak_out *o, unsigned v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	out_put(o, b, 2);
}

void
out_u32be(struct soak_out *o, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	out_put(o, b, 4);
}

int
soak_line_reply(const uint8_t *b, size_t n, const char *good)
{
	if (memchr(b, '\n', n) == NULL)
		return n > 4096 ? -1 : 0;
	return n > 0 && strchr(good, b[0]) != NULL && b[0] != '\0' ? 1 : -1;
}

double
soak_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
