/*
 * wildmat.c: RFC 3977 4 wildmats (see wildmat.h).
 *
 * Role: matching group names (and other short names) against the
 * wildmats that clients send (LIST ACTIVE, NEWNEWS, ...) and that the
 * configuration holds.
 *
 * Interface: wildmat_match_one() matches one pattern; wildmat_match() a
 * comma-separated list in which each element may start with "!", where
 * the last element that matches decides (a negated one: no match) and no
 * matching element means no match (RFC 3977 4.2).  wildmat_valid() says
 * whether a wildmat may be used at all; callers check it before matching.
 *
 * Syntax: "*" matches any run of bytes, "?" any one byte, and every other
 * byte itself, "\" "[" "]" included: RFC 3977 gives them no meaning (and
 * wildmat.h says character classes are not supported), so treating them
 * as literals can only make a pattern match less, never more.
 *
 * Matching: the classic loop with one backtrack point (the last "*"):
 * when the rest fails, that star takes one more byte.  Backtracking only
 * to the last star is complete for "*" and "?" because a later star can
 * absorb whatever an earlier one would have.  Work is O(plen * slen) at
 * worst and every step is counted; after WILDMAT_STEPS_MAX steps the
 * answer is "no match".  wildmat_match() evaluates the elements from the
 * last to the first and stops at the first that matches, and its budget
 * covers the whole list; running out fails the whole wildmat, not one
 * element, so that a costly negation ("*,!*a*a*a*b") cannot be skipped
 * into a match.
 *
 * Limits: WILDMAT_STEPS_MAX (wildmat.h); WILDMAT_MAX_BYTES for
 * wildmat_valid.  No recursion, no allocation.
 *
 * Known weaknesses:
 *  - Bytes, not characters: "?" matches one byte of a UTF-8 sequence,
 *    and UTF-8 is not validated (RFC 3977 4.1 allows UTF-8).  Newsgroup
 *    names are ASCII here (article_group_valid), so this matters only for
 *    other names.
 *  - wildmat_valid accepts a first element that starts with "!" and "!"
 *    inside a pattern (as a literal), which RFC 3977's grammar does not;
 *    INN accepts them too.  An element of "!" alone is refused.
 *  - A legitimate but costly match over WILDMAT_STEPS_MAX fails.
 */
#include <stddef.h>
#include <stdint.h>

#include "nntp/nntp_limits.h"
#include "nntp/wildmat.h"

/* A wildmat comes on a command line at most (RFC 3977 3.1). */
#define WILDMAT_MAX_BYTES NNTP_COMMAND_MAX_BYTES

/* 1 match, 0 no match, -1 the step budget is spent. */
static int
wm_one(const char *pat, size_t plen, const char *s, size_t slen, unsigned long *steps)
{
	size_t p = 0, i = 0, star_p = 0, star_i = 0;
	int star = 0;

	while (i < slen) {
		if (++*steps > WILDMAT_STEPS_MAX)
			return -1;
		if (p < plen && pat[p] == '*') {
			/* Let the star match nothing first; remember where. */
			star = 1;
			star_p = ++p;
			star_i = i;
		} else if (p < plen && (pat[p] == '?' || pat[p] == s[i])) {
			p++;
			i++;
		} else if (star) {
			/* The last star takes one more byte; try again. */
			p = star_p;
			i = ++star_i;
		} else {
			return 0;
		}
	}
	/* The subject is used up: only stars may remain. */
	while (p < plen && pat[p] == '*')
		p++;
	return p == plen;
}

int
wildmat_match_one(const char *pat, size_t plen, const char *s, size_t slen)
{
	unsigned long steps = 0;

	if (pat == NULL || (s == NULL && slen > 0))
		return 0;
	return wm_one(pat, plen, s, slen, &steps) == 1;
}

int
wildmat_match(const char *wildmat, size_t wlen, const char *s, size_t slen)
{
	unsigned long steps = 0;
	size_t start, end = wlen;
	const char *e;
	int neg, r;

	if (wildmat == NULL || wlen == 0 || (s == NULL && slen > 0))
		return 0;
	/* From the last element: the first that matches decides. */
	for (;;) {
		start = end;
		while (start > 0 && wildmat[start - 1] != ',')
			start--;
		e = wildmat + start;
		neg = end > start && e[0] == '!';
		r = wm_one(e + neg, end - start - (size_t)neg, s, slen, &steps);
		if (r < 0)
			return 0;
		if (r == 1)
			return !neg;
		if (start == 0)
			return 0;
		end = start - 1;
	}
}

int
wildmat_valid(const char *wildmat, size_t wlen)
{
	size_t i, plen = 0;
	int at_start = 1;
	unsigned char c;

	if (wildmat == NULL || wlen == 0 || wlen > WILDMAT_MAX_BYTES)
		return 0;
	for (i = 0; i < wlen; i++) {
		c = (unsigned char)wildmat[i];
		/* No white space or controls: they end a command argument. */
		if (c <= ' ' || c == 0x7f)
			return 0;
		if (c == ',') {
			if (plen == 0)
				return 0;
			plen = 0;
			at_start = 1;
			continue;
		}
		if (c == '!' && at_start) {
			at_start = 0;
			continue;
		}
		at_start = 0;
		plen++;
	}
	return plen > 0;
}
