/*
 * fuzz_nntp_wildmat.c: libFuzzer target for src/nntp/wildmat.c.
 *
 * Input layout: bytes 0-1 give the wildmat's length (modulo what is
 * left); the wildmat follows, the subject is the rest.  Each goes to the
 * code under test as a malloc'd copy of exactly its length, so ASan
 * reports any read past it.  Termination is checked by libFuzzer's
 * -timeout: matching must stay within its step budget.
 *
 * Oracles, against a dynamic-programming reference written here:
 *  - whenever the work cannot exceed WILDMAT_STEPS_MAX (every element
 *    costs at most (slen + 2) * (plen + 2) steps: at most slen backtracks,
 *    plen stars, and plen advances between backtracks), wildmat_match_one and
 *    wildmat_match agree with the reference (for the list: the last
 *    element that matches decides, "!" negates);
 *  - beyond that, they may say "no match" but never a match the
 *    reference denies (fail closed);
 *  - wildmat_valid agrees with a reference split on commas.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nntp/wildmat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* The reference's work per input, so a run stays fast. */
#define FZ_REF_CELLS_MAX (1u << 20)

static unsigned char fz_row[2][4096 + 2];

/* pat[0..plen) against s[0..slen), two rows of the usual table; -1 if
 * too big to compute here. */
static int
fz_ref_one(const uint8_t *pat, size_t plen, const uint8_t *s, size_t slen)
{
	unsigned char *prev = fz_row[0], *cur = fz_row[1], *tmp;
	size_t i, j;

	if (slen + 1 > sizeof(fz_row[0]) || (plen + 1) * (slen + 1) > FZ_REF_CELLS_MAX)
		return -1;
	memset(prev, 0, slen + 1);
	prev[0] = 1;
	for (i = 1; i <= plen; i++) {
		cur[0] = pat[i - 1] == '*' && prev[0];
		for (j = 1; j <= slen; j++) {
			if (pat[i - 1] == '*')
				cur[j] = prev[j] || cur[j - 1];
			else
				cur[j] = prev[j - 1] && (pat[i - 1] == '?' || pat[i - 1] == s[j - 1]);
		}
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	return prev[slen];
}

/* Last matching element decides; -1 if any element is too big. */
static int
fz_ref_list(const uint8_t *w, size_t wlen, const uint8_t *s, size_t slen, size_t *cost)
{
	size_t start = 0, end, neg;
	int r, result = 0;

	*cost = 0;
	if (wlen == 0)
		return 0;
	for (;;) {
		end = start;
		while (end < wlen && w[end] != ',')
			end++;
		neg = end > start && w[start] == '!';
		r = fz_ref_one(w + start + neg, end - start - neg, s, slen);
		if (r < 0)
			return -1;
		*cost += (slen + 2) * (end - start - neg + 2);
		if (r)
			result = !neg;
		if (end == wlen)
			return result;
		start = end + 1;
	}
}

static int
fz_ref_valid(const uint8_t *w, size_t wlen)
{
	size_t start = 0, end, i;

	if (wlen == 0 || wlen > 512)
		return 0;
	for (i = 0; i < wlen; i++)
		if (w[i] <= ' ' || w[i] == 0x7f)
			return 0;
	for (;;) {
		end = start;
		while (end < wlen && w[end] != ',')
			end++;
		if (end - start == 0 || (w[start] == '!' && end - start == 1))
			return 0;
		if (end == wlen)
			return 1;
		start = end + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t wlen, slen, cost;
	uint8_t *w, *s;
	int got, want;

	if (size < 2)
		return 0;
	wlen = ((size_t)data[0] << 8 | data[1]) % (size - 1);
	slen = size - 2 - wlen;
	w = malloc(wlen > 0 ? wlen : 1);
	s = malloc(slen > 0 ? slen : 1);
	CHECK(w != NULL && s != NULL);
	memcpy(w, data + 2, wlen);
	memcpy(s, data + 2 + wlen, slen);

	got = wildmat_match_one((const char *)w, wlen, (const char *)s, slen);
	CHECK(got == 0 || got == 1);
	want = fz_ref_one(w, wlen, s, slen);
	if (want >= 0) {
		if ((slen + 2) * (wlen + 2) <= WILDMAT_STEPS_MAX)
			CHECK(got == want);
		else
			CHECK(got <= want);
	}

	got = wildmat_match((const char *)w, wlen, (const char *)s, slen);
	CHECK(got == 0 || got == 1);
	want = fz_ref_list(w, wlen, s, slen, &cost);
	if (want >= 0) {
		if (cost <= WILDMAT_STEPS_MAX)
			CHECK(got == want);
		else
			CHECK(got <= want);
	}
	CHECK(wildmat_match((const char *)w, wlen, (const char *)s, slen) == got);

	CHECK(wildmat_valid((const char *)w, wlen) == fz_ref_valid(w, wlen));
	free(w);
	free(s);
	return 0;
}
