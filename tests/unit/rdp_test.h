/*
 * rdp_test.h: helpers shared by the test_rdp_*.c unit tests.
 */
#ifndef TEST_RDP_TEST_H
#define TEST_RDP_TEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A heap copy of exactly n bytes, so that ASan sees any read past it. */
static inline uint8_t *
rt_dup(const void *p, size_t n)
{
	uint8_t *c = calloc(1, n ? n : 1);

	if (!c)
		abort();
	if (n)
		memcpy(c, p, n);
	return c;
}

#endif
