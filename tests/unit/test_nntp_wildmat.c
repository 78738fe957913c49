/*
 * test_nntp_wildmat.c: unit tests for src/nntp/wildmat.c.
 *
 * The RFC 3977 4.4 examples, "?", literals that other wildmat dialects
 * treat specially, validity rules at their length limit, an exhaustive
 * comparison with a dynamic-programming reference over short patterns,
 * and hostile patterns whose results (not their running times) are
 * asserted: within the step budget the answer is right, beyond it the
 * answer is "no match", for one pattern and for a whole list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nntp/wildmat.h"

static int
wm(const char *w, const char *s)
{
	return wildmat_match(w, strlen(w), s, strlen(s));
}

static int
one(const char *p, const char *s)
{
	return wildmat_match_one(p, strlen(p), s, strlen(s));
}

static int
valid(const char *w)
{
	return wildmat_valid(w, strlen(w));
}

static void
test_rfc3977_examples(void **state)
{
	(void)state;
	/* RFC 3977 4.4: "a*,!*b,*c*" */
	assert_int_equal(wm("a*,!*b,*c*", "aaa"), 1);
	assert_int_equal(wm("a*,!*b,*c*", "abb"), 0);
	assert_int_equal(wm("a*,!*b,*c*", "ccb"), 1);
	assert_int_equal(wm("a*,!*b,*c*", "xxx"), 0);
	/* The order matters: the last match wins. */
	assert_int_equal(wm("*c*,!*b", "ccb"), 0);
	assert_int_equal(wm("comp.*,!comp.lang.*", "comp.os.linux"), 1);
	assert_int_equal(wm("comp.*,!comp.lang.*", "comp.lang.c"), 0);
	assert_int_equal(wm("comp.*,!comp.lang.*,comp.lang.c", "comp.lang.c"), 1);
	assert_int_equal(wm("comp.*,!comp.lang.*,comp.lang.c", "comp.lang.c++"), 0);
	/* Only negations: never a match. */
	assert_int_equal(wm("!a", "b"), 0);
	assert_int_equal(wm("!a", "a"), 0);
	assert_int_equal(wm("*", ""), 1);
	assert_int_equal(wm("*", "anything.at.all"), 1);
}

static void
test_question_mark(void **state)
{
	(void)state;
	assert_int_equal(one("a?c", "abc"), 1);
	assert_int_equal(one("a?c", "a.c"), 1);
	assert_int_equal(one("a?c", "ac"), 0);
	assert_int_equal(one("a?c", "abbc"), 0);
	assert_int_equal(one("???", "abc"), 1);
	assert_int_equal(one("???", "ab"), 0);
	assert_int_equal(one("???", "abcd"), 0);
	assert_int_equal(one("*?", ""), 0);
	assert_int_equal(one("*?", "a"), 1);
	assert_int_equal(one("?*?", "a"), 0);
	assert_int_equal(one("?*?", "ab"), 1);
	/* Bytes, not characters: one "?" per byte of UTF-8. */
	assert_int_equal(one("caf?", "caf\xc3\xa9"), 0);
	assert_int_equal(one("caf??", "caf\xc3\xa9"), 1);
}

static void
test_star_and_literals(void **state)
{
	(void)state;
	assert_int_equal(one("", ""), 1);
	assert_int_equal(one("", "a"), 0);
	assert_int_equal(one("**", ""), 1);
	assert_int_equal(one("a*", "a"), 1);
	assert_int_equal(one("*a", "a"), 1);
	assert_int_equal(one("*a", "ba"), 1);
	assert_int_equal(one("*a", "ab"), 0);
	assert_int_equal(one("a*b*c", "aXbYc"), 1);
	assert_int_equal(one("a*b*c", "abc"), 1);
	assert_int_equal(one("a*b*c", "abcX"), 0);
	assert_int_equal(one("a*b*c", "acb"), 0);
	assert_int_equal(one("*ab*ab", "xabyabab"), 1);
	assert_int_equal(one("*aab", "aaab"), 1);
	assert_int_equal(one("abc", "abc"), 1);
	assert_int_equal(one("abc", "abd"), 0);
	assert_int_equal(one("abc", "ABC"), 0); /* case-sensitive */
	/* "\" "[" "]" are plain bytes in RFC 3977. */
	assert_int_equal(one("a\\*", "a\\b"), 1);
	assert_int_equal(one("a\\*", "a*"), 0);
	assert_int_equal(one("[ab]", "a"), 0);
	assert_int_equal(one("[ab]", "[ab]"), 1);
	/* One pattern: "!" and "," are literals here. */
	assert_int_equal(one("!a", "!a"), 1);
	assert_int_equal(one("a,b", "a,b"), 1);
	assert_int_equal(one("a,b", "a"), 0);
	/* Lengths rule, not NULs. */
	assert_int_equal(wildmat_match_one("a*", 2, "ab\0c", 4), 1);
	assert_int_equal(wildmat_match_one("a\0", 2, "a", 1), 0);
	assert_int_equal(wildmat_match_one("abc", 1, "a", 1), 1);
	assert_int_equal(wildmat_match_one(NULL, 0, "a", 1), 0);
	assert_int_equal(wildmat_match(NULL, 0, "a", 1), 0);
	assert_int_equal(wildmat_match("", 0, "", 0), 0);
	assert_int_equal(wildmat_match("a,b", 1, "b", 1), 0);
	assert_int_equal(wildmat_match("a,b", 3, "b", 1), 1);
}

static void
test_valid(void **state)
{
	char buf[600];

	(void)state;
	assert_int_equal(valid("*"), 1);
	assert_int_equal(valid("a"), 1);
	assert_int_equal(valid("a,b"), 1);
	assert_int_equal(valid("!a"), 1);
	assert_int_equal(valid("a,!b"), 1);
	assert_int_equal(valid("comp.*,!comp.lang.*"), 1);
	assert_int_equal(valid("a?c"), 1);
	/* Only the first "!" of an element negates; a later one is a byte. */
	assert_int_equal(valid("!!"), 1);
	assert_int_equal(wm("*,!!", "!"), 0);
	assert_int_equal(wm("*,!!", "!!"), 1);
	assert_int_equal(valid("caf\xc3\xa9.*"), 1);
	assert_int_equal(valid(""), 0);
	assert_int_equal(valid(","), 0);
	assert_int_equal(valid(",a"), 0);
	assert_int_equal(valid("a,"), 0);
	assert_int_equal(valid("a,,b"), 0);
	assert_int_equal(valid("!"), 0);
	assert_int_equal(valid("a,!"), 0);
	assert_int_equal(valid("!,a"), 0);
	assert_int_equal(valid("a b"), 0);
	assert_int_equal(valid("a\tb"), 0);
	assert_int_equal(valid("a\r\n"), 0);
	assert_int_equal(valid("a\x01"), 0);
	assert_int_equal(valid("a\x7f"), 0);
	assert_int_equal(wildmat_valid("a\0b", 3), 0);
	assert_int_equal(wildmat_valid(NULL, 0), 0);
	assert_int_equal(wildmat_valid(NULL, 3), 0);
	/* 512 bytes, then 513. */
	memset(buf, 'w', sizeof(buf));
	buf[100] = ',';
	buf[101] = '!';
	assert_int_equal(wildmat_valid(buf, 512), 1);
	assert_int_equal(wildmat_valid(buf, 513), 0);
}

/* Reference: dp[i][j] = pattern[0..i) matches s[0..j). */
#define REF_MAX 8

static int
ref_match(const char *p, size_t plen, const char *s, size_t slen)
{
	unsigned char dp[REF_MAX + 1][REF_MAX + 1];
	size_t i, j;

	memset(dp, 0, sizeof(dp));
	dp[0][0] = 1;
	for (i = 1; i <= plen; i++) {
		for (j = 0; j <= slen; j++) {
			if (p[i - 1] == '*')
				dp[i][j] = dp[i - 1][j] || (j > 0 && dp[i][j - 1]);
			else if (j > 0)
				dp[i][j] = dp[i - 1][j - 1] && (p[i - 1] == '?' || p[i - 1] == s[j - 1]);
		}
	}
	return dp[plen][slen];
}

static void
test_against_reference(void **state)
{
	static const char alpha_p[] = "ab*?";
	static const char alpha_s[] = "ab";
	char p[REF_MAX], s[REF_MAX];
	size_t plen, slen, k, ip, is, np, ns, x;

	(void)state;
	/* Every pattern over {a,b,*,?} up to 6 bytes against every subject
	 * over {a,b} up to 7 bytes. */
	for (plen = 0; plen <= 6; plen++) {
		for (np = 1, k = 0; k < plen; k++)
			np *= 4;
		for (ip = 0; ip < np; ip++) {
			for (x = ip, k = 0; k < plen; k++, x /= 4)
				p[k] = alpha_p[x % 4];
			for (slen = 0; slen <= 7; slen++) {
				ns = (size_t)1 << slen;
				for (is = 0; is < ns; is++) {
					for (k = 0; k < slen; k++)
						s[k] = alpha_s[(is >> k) & 1];
					if (wildmat_match_one(p, plen, s, slen) != ref_match(p, plen, s, slen))
						fail_msg("pattern \"%.*s\" subject \"%.*s\"", (int)plen, p, (int)slen, s);
				}
			}
		}
	}
}

#define LONG_BYTES 5000

static char *
long_subject(char first, char fill, char last, size_t n)
{
	char *s = malloc(n + 3);

	assert_non_null(s);
	memset(s, fill, n + 2);
	s[0] = first;
	s[n + 1] = last;
	s[n + 2] = '\0';
	return s;
}

static void
test_pathological(void **state)
{
	char pat[256], list[1024];
	char *s;

	(void)state;
	/* Classic exponential case for recursive matchers: right, and cheap
	 * enough here to be decided within the budget. */
	s = long_subject('a', 'a', 'a', LONG_BYTES);
	assert_int_equal(one("*a*a*a*a*a*a*a*b", s), 0);
	assert_int_equal(wm("*a*a*a*a*a*a*a*b", s), 0);
	assert_int_equal(wm("*a*a*a*a*a*a*a*a", s), 1);
	s[LONG_BYTES + 1] = 'b';
	assert_int_equal(one("*a*a*a*a*a*a*a*b", s), 1);
	assert_int_equal(wm("!*a*a*a*a*a*a*a*b", s), 0);
	assert_int_equal(wm("*,!*a*a*a*a*a*a*a*b", s), 0);
	/* "*" + 200 "a" + "b" would need about a million steps on this
	 * subject: past WILDMAT_STEPS_MAX the answer is "no match" even
	 * though the pattern matches, and a short subject still matches. */
	pat[0] = '*';
	memset(pat + 1, 'a', 200);
	pat[201] = 'b';
	pat[202] = '\0';
	assert_int_equal(one(pat, s), 0);
	assert_int_equal(wm(pat, s), 0);
	/* Fail closed: a negation that runs out of budget is not skipped. */
	snprintf(list, sizeof(list), "*,!%s", pat);
	assert_int_equal(wm(list, s), 0);
	assert_int_equal(wm("*,!x", s), 1);
	free(s);
	s = long_subject('a', 'a', 'b', 300);
	assert_int_equal(one(pat, s), 1);
	free(s);

	/* One budget for the whole list: "*aaaaaaaac" costs some 45000 steps
	 * on this subject; once it fits, three times it does not. */
	s = long_subject('x', 'a', 'a', LONG_BYTES - 1);
	assert_int_equal(one("*aaaaaaaac", s), 0);
	assert_int_equal(wm("x*", s), 1);
	assert_int_equal(wm("x*,*aaaaaaaac", s), 1);
	assert_int_equal(wm("x*,*aaaaaaaac,*aaaaaaaac,*aaaaaaaac", s), 0);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3977_examples),
		cmocka_unit_test(test_question_mark),
		cmocka_unit_test(test_star_and_literals),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_pathological),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
