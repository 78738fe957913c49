/*
 * wildmat.h: RFC 3977 4 wildmats ("comp.*,!comp.lang.*", "*", "a?c",
 * "[abc]" is not part of RFC 3977 and is not supported).  Matching is
 * iterative with a bounded backtrack (no recursion on input), so a hostile
 * pattern cannot take unbounded time: at most WILDMAT_STEPS_MAX steps,
 * after which the match fails.
 */
#ifndef HF_NNTP_WILDMAT_H
#define HF_NNTP_WILDMAT_H

#include <stddef.h>

#define WILDMAT_STEPS_MAX 100000

/* One pattern without commas: 1 match, 0 no match. */
int wildmat_match_one(const char *pat, size_t plen, const char *s, size_t slen);
/* A full wildmat (comma-separated, '!' negation, last match wins): 1/0. */
int wildmat_match(const char *wildmat, size_t wlen, const char *s, size_t slen);
/* 1 if the wildmat is syntactically acceptable (non-empty, printable, no
 * empty elements), else 0. */
int wildmat_valid(const char *wildmat, size_t wlen);

#endif
