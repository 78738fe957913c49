/*
 * fuzz_conf.c: conf_load_buf() on arbitrary bytes, then conf_apply() of the
 * first section to a table with every value type, then the value parsers
 * on the raw input.  Beyond "no crash, no leak" it checks what conf_apply()
 * promises: on success every value is in range, every path absolute or
 * empty, every list item non-empty and trimmed; on failure every pointer
 * NULL and every list empty, with a "name:" prefixed message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.conf"

struct fcfg {
	char *s;
	char *p;
	int b;
	uint64_t i;
	uint64_t z;
	uint64_t d;
	struct conf_list l;
	char *r;
};

#define F(f) offsetof(struct fcfg, f)
/* Short names, so the fuzzer finds them quickly. */
static const struct conf_key fkeys[] = {
	{ "s", CONF_STR, "x", F(s), 0, 0 },
	{ "p", CONF_PATH, "rel", F(p), 0, 0 },
	{ "b", CONF_BOOL, "no", F(b), 0, 0 },
	{ "i", CONF_INT, "5", F(i), 1, 1000 },
	{ "z", CONF_SIZE, "64k", F(z), 1024, 1024ULL * 1024 * 1024 },
	{ "d", CONF_DURATION, "30s", F(d), 100, 0 },
	{ "l", CONF_LIST, "a,b", F(l), 0, 0 },
	{ "r", CONF_STR, NULL, F(r), 0, 0 },
	CONF_KEYS_END
};

static int
fuzz_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

static void
fuzz_check_ok(const struct fcfg *f)
{
	size_t j;

	if (f->s == NULL || f->p == NULL || f->r == NULL)
		abort();
	if (f->p[0] != '\0' && f->p[0] != '/')
		abort();
	if (f->b != 0 && f->b != 1)
		abort();
	if (f->i < 1 || f->i > 1000 || f->z < 1024 || f->z > 1024ULL * 1024 * 1024 || f->d < 100)
		abort();
	if (f->l.n > CONF_LIST_MAX_ITEMS)
		abort();
	for (j = 0; j < f->l.n; j++) {
		size_t n = strlen(f->l.v[j]);

		if (n == 0 || fuzz_blank(f->l.v[j][0]) || fuzz_blank(f->l.v[j][n - 1]) ||
		    strchr(f->l.v[j], ',') != NULL)
			abort();
	}
}

static void
fuzz_check_cleared(const struct fcfg *f, const char *err)
{
	if (f->s != NULL || f->p != NULL || f->r != NULL || f->l.n != 0)
		abort();
	if (strncmp(err, NAME ":", sizeof NAME) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct fcfg f;
	struct conf_binding b = { fkeys, &f };
	struct conf *c;
	char *str;
	uint64_t u;
	int v;

	err[0] = '\0';
	c = conf_load_buf(NAME, "/etc/holdfast", (const char *)data, size, err, sizeof err);
	if (c == NULL) {
		if (strncmp(err, NAME ":", sizeof NAME) != 0)
			abort();
	} else {
		memset(&f, 0, sizeof f);
		if (conf_apply(c, conf_section_at(c, 0), &b, 1, err, sizeof err) == 0)
			fuzz_check_ok(&f);
		else
			fuzz_check_cleared(&f, err);
		conf_free_values(&b, 1);
		/* Only the first section was applied: any second one must be reported. */
		if ((conf_check_claimed(c, err, sizeof err) == 0) != (conf_section_count(c) <= 1))
			abort();
		conf_free(c);
	}

	/* The parsers are also used on command-line arguments. */
	if ((str = malloc(size + 1)) == NULL)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	(void)conf_parse_size(str, &u);
	(void)conf_parse_duration_ms(str, &u);
	(void)conf_parse_bool(str, &v);
	free(str);
	return 0;
}
