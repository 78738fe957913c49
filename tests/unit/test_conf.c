/*
 * test_conf.c: the configuration file (src/core/conf.c): syntax, every
 * value type good and bad, every limit at limit and limit+1, and that each
 * error names file, line and key.  Leaks are LSan's job (BUILD=asan).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

#define NAME "t.conf"
#define DIR "/etc/hf"

struct tcfg {
	char *str;
	char *path;
	int flag;
	uint64_t count;
	uint64_t size;
	uint64_t timeout;
	struct conf_list items;
	char *req;
};

#define T(f) offsetof(struct tcfg, f)
static const struct conf_key tkeys[] = {
	{ "str", CONF_STR, "dflt", T(str), 0, 0 },
	{ "path", CONF_PATH, "var/data", T(path), 0, 0 },
	{ "flag", CONF_BOOL, "no", T(flag), 0, 0 },
	{ "count", CONF_INT, "10", T(count), 1, 1000 },
	{ "size", CONF_SIZE, "64k", T(size), 0, 0 },
	{ "timeout", CONF_DURATION, "30s", T(timeout), 0, 0 },
	{ "items", CONF_LIST, "", T(items), 0, 0 },
	CONF_KEYS_END
};

/* Same table with a required key and bounded size/duration. */
static const struct conf_key tkeys_req[] = {
	{ "req", CONF_STR, NULL, T(req), 0, 0 },
	{ "size", CONF_SIZE, "64k", T(size), 1024, 1024 * 1024 * 1024 },
	{ "timeout", CONF_DURATION, "30s", T(timeout), 100, 0 },
	{ "str", CONF_STR, "dflt", T(str), 0, 0 },
	{ "items", CONF_LIST, "a,b", T(items), 0, 0 },
	CONF_KEYS_END
};

static char err[512];

/* Fails showing the message unless it starts with prefix and contains needle. */
static void
expect_err(const char *prefix, const char *needle)
{
	if (strncmp(err, prefix, strlen(prefix)) != 0 || (needle != NULL && strstr(err, needle) == NULL)) {
		print_error("error was \"%s\"; wanted prefix \"%s\" and \"%s\"\n", err, prefix,
		            needle != NULL ? needle : "");
		fail();
	}
}

static struct conf *
load(const char *text)
{
	err[0] = '\0';
	return conf_load_buf(NAME, DIR, text, strlen(text), err, sizeof err);
}

/* Loads "[t]\n" + body and applies [t] to tkeys; returns conf_apply's result. */
static int
apply_body(const char *body, struct tcfg *t)
{
	char text[8192];
	struct conf *c;
	struct conf_binding b = { tkeys, t };
	int rc;

	memset(t, 0, sizeof *t);
	snprintf(text, sizeof text, "[t]\n%s", body);
	c = load(text);
	assert_non_null(c);
	rc = conf_apply(c, conf_section_find(c, "t"), &b, 1, err, sizeof err);
	conf_free(c);
	return rc;
}

static void
free_t(struct tcfg *t)
{
	struct conf_binding b = { tkeys, t };

	conf_free_values(&b, 1);
}

/* After a failed apply every pointer is NULL and every list empty. */
static void
assert_t_cleared(const struct tcfg *t)
{
	assert_null(t->str);
	assert_null(t->path);
	assert_null(t->req);
	assert_int_equal(t->items.n, 0);
}

/* ---- value types ---- */

static void
test_str(void **state)
{
	struct tcfg t;

	assert_int_equal(apply_body("str   =   hello world # not a comment   \n", &t), 0);
	assert_string_equal(t.str, "hello world # not a comment");
	free_t(&t);

	assert_int_equal(apply_body("str=a=b\n", &t), 0);
	assert_string_equal(t.str, "a=b");
	free_t(&t);

	assert_int_equal(apply_body("str =\n", &t), 0);
	assert_string_equal(t.str, "");
	free_t(&t);

	assert_int_equal(apply_body("\tstr\t=\tx\t\n", &t), 0);
	assert_string_equal(t.str, "x");
	free_t(&t);
}

static void
test_bool(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	char body[64];
	struct tcfg t;
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(body, sizeof body, "flag = %s\n", yes[i]);
		assert_int_equal(apply_body(body, &t), 0);
		assert_int_equal(t.flag, 1);
		free_t(&t);
		snprintf(body, sizeof body, "flag = %s\n", no[i]);
		assert_int_equal(apply_body(body, &t), 0);
		assert_int_equal(t.flag, 0);
		free_t(&t);
	}
	assert_int_equal(apply_body("\nflag = maybe\n", &t), -1);
	expect_err(NAME ":3: ", "key 'flag': bad boolean 'maybe'");
	assert_t_cleared(&t);
	free_t(&t);
	assert_int_equal(apply_body("flag = Yes\n", &t), -1);
	expect_err(NAME ":2: ", "key 'flag'");
	assert_int_equal(apply_body("flag =\n", &t), -1);
	expect_err(NAME ":2: ", "key 'flag'");
}

static void
test_int(void **state)
{
	struct tcfg t;

	assert_int_equal(apply_body("count = 1000\n", &t), 0);
	assert_int_equal(t.count, 1000);
	free_t(&t);
	assert_int_equal(apply_body("count = 007\n", &t), 0);
	assert_int_equal(t.count, 7);
	free_t(&t);

	assert_int_equal(apply_body("count = -1\n", &t), -1);
	expect_err(NAME ":2: ", "key 'count': bad number '-1'");
	assert_int_equal(apply_body("count = +1\n", &t), -1);
	expect_err(NAME ":2: ", "key 'count'");
	assert_int_equal(apply_body("count = 12a\n", &t), -1);
	expect_err(NAME ":2: ", "key 'count': bad number '12a'");
	assert_int_equal(apply_body("count = 0x10\n", &t), -1);
	expect_err(NAME ":2: ", "key 'count'");
	assert_int_equal(apply_body("count = 1 2\n", &t), -1);
	expect_err(NAME ":2: ", "key 'count'");
	assert_int_equal(apply_body("count =\n", &t), -1);
	expect_err(NAME ":2: ", "key 'count': missing value");
	assert_int_equal(apply_body("count = 99999999999999999999\n", &t), -1);
	expect_err(NAME ":2: ", "key 'count': number '99999999999999999999' is too large");
	/* Range 1..1000: limit-1 and limit+1 on both ends. */
	assert_int_equal(apply_body("count = 0\n", &t), -1);
	expect_err(NAME ":2: ", "key 'count': '0' is out of range 1..1000");
	assert_int_equal(apply_body("count = 1001\n", &t), -1);
	expect_err(NAME ":2: ", "key 'count': '1001' is out of range 1..1000");
	assert_int_equal(apply_body("count = 1\n", &t), 0);
	assert_int_equal(t.count, 1);
	free_t(&t);
}

static void
test_size(void **state)
{
	struct tcfg t;
	uint64_t v;

	assert_int_equal(conf_parse_size("64k", &v), 0);
	assert_int_equal(v, 64 * 1024);
	assert_int_equal(conf_parse_size("1m", &v), 0);
	assert_int_equal(v, 1024 * 1024);
	assert_int_equal(conf_parse_size("1g", &v), 0);
	assert_int_equal(v, 1024ULL * 1024 * 1024);
	assert_int_equal(conf_parse_size("2K", &v), 0);
	assert_int_equal(v, 2048);
	assert_int_equal(conf_parse_size("3M", &v), 0);
	assert_int_equal(v, 3ULL << 20);
	assert_int_equal(conf_parse_size("4G", &v), 0);
	assert_int_equal(v, 4ULL << 30);
	assert_int_equal(conf_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(conf_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(conf_parse_size("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	/* 2^34 g is 2^64 bytes: one past what fits; 2^34-1 g fits. */
	assert_int_equal(conf_parse_size("17179869183g", &v), 0);
	assert_true(v == 17179869183ULL << 30);
	assert_int_equal(conf_parse_size("17179869184g", &v), -1);
	assert_int_equal(conf_parse_size("18446744073709551616", &v), -1);
	assert_int_equal(conf_parse_size("99999999999999999999g", &v), -1);

	assert_int_equal(conf_parse_size("64kb", &v), -1);
	assert_int_equal(conf_parse_size("64kB", &v), -1);
	assert_int_equal(conf_parse_size("64b", &v), -1);
	assert_int_equal(conf_parse_size("64 k", &v), -1);
	assert_int_equal(conf_parse_size(" 64k", &v), -1);
	assert_int_equal(conf_parse_size("k", &v), -1);
	assert_int_equal(conf_parse_size("", &v), -1);
	assert_int_equal(conf_parse_size("-1", &v), -1);
	assert_int_equal(conf_parse_size("1t", &v), -1);
	assert_int_equal(conf_parse_size("1.5m", &v), -1);

	assert_int_equal(apply_body("size = 1m\n", &t), 0);
	assert_int_equal(t.size, 1024 * 1024);
	free_t(&t);
	assert_int_equal(apply_body("size = 99999999999999999999g\n", &t), -1);
	expect_err(NAME ":2: ", "key 'size': size '99999999999999999999g' is too large");
	assert_int_equal(apply_body("size = 17179869184g\n", &t), -1);
	expect_err(NAME ":2: ", "key 'size'");
	assert_int_equal(apply_body("\n\nsize = 64kb\n", &t), -1);
	expect_err(NAME ":4: ", "key 'size': bad size '64kb' (use a number with optional k, m or g)");
	assert_int_equal(apply_body("size =\n", &t), -1);
	expect_err(NAME ":2: ", "key 'size': missing value");
}

static void
test_size_range(void **state)
{
	struct tcfg t;
	struct conf *c;
	struct conf_binding b = { tkeys_req, &t };
	static const char *const bad[] = { "1023", "1g1", "1025m" };
	static const char *const good[] = { "1k", "1024", "1g" };
	char text[128];
	size_t i;

	for (i = 0; i < 3; i++) {
		memset(&t, 0, sizeof t);
		snprintf(text, sizeof text, "[t]\nreq = r\nsize = %s\n", good[i]);
		assert_non_null(c = load(text));
		assert_int_equal(conf_apply(c, conf_section_at(c, 0), &b, 1, err, sizeof err), 0);
		conf_free_values(&b, 1);
		conf_free(c);
	}
	for (i = 0; i < 3; i++) {
		memset(&t, 0, sizeof t);
		snprintf(text, sizeof text, "[t]\nreq = r\nsize = %s\n", bad[i]);
		assert_non_null(c = load(text));
		assert_int_equal(conf_apply(c, conf_section_at(c, 0), &b, 1, err, sizeof err), -1);
		expect_err(NAME ":3: ", "key 'size'");
		assert_t_cleared(&t);
		conf_free(c);
	}
	/* The range is printed in size units. */
	assert_non_null(c = load("[t]\nreq = r\nsize = 2g\n"));
	assert_int_equal(conf_apply(c, conf_section_at(c, 0), &b, 1, err, sizeof err), -1);
	expect_err(NAME ":3: ", "key 'size': '2g' is out of range 1k..1g");
	conf_free(c);
}

static void
test_duration(void **state)
{
	static const struct { const char *s; uint64_t ms; } good[] = {
		{ "500ms", 500 }, { "30s", 30000 }, { "5m", 300000 }, { "1h", 3600000 },
		{ "2d", 172800000 }, { "30", 30000 }, { "0", 0 }, { "0ms", 0 },
		{ "18446744073709551615ms", UINT64_MAX }, { "213503982334d", 213503982334ULL * 86400000 },
	};
	static const char *const bad[] = {
		"3x", "5M", "5S", "1.5s", "1h30m", "ms", "", "-1s", " 5s", "5 s", "5sec", "5mss",
		"213503982335d", "18446744073709552s", "99999999999999999999ms",
	};
	struct tcfg t;
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		v = 1;
		assert_int_equal(conf_parse_duration_ms(good[i].s, &v), 0);
		assert_true(v == good[i].ms);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (conf_parse_duration_ms(bad[i], &v) != -1) {
			print_error("accepted '%s'\n", bad[i]);
			fail();
		}
	}

	assert_int_equal(apply_body("timeout = 500ms\n", &t), 0);
	assert_int_equal(t.timeout, 500);
	free_t(&t);
	assert_int_equal(apply_body("# c\n\ntimeout = 3x\n", &t), -1);
	assert_string_equal(err, NAME ":4: key 'timeout': bad duration '3x' (use ms, s, m, h or d)");
	assert_int_equal(apply_body("timeout = 213503982335d\n", &t), -1);
	expect_err(NAME ":2: ", "key 'timeout': duration '213503982335d' is too large");
	assert_int_equal(apply_body("timeout =\n", &t), -1);
	expect_err(NAME ":2: ", "key 'timeout': missing value");
}

static void
test_duration_range(void **state)
{
	struct tcfg t;
	struct conf *c;
	struct conf_binding b = { tkeys_req, &t };

	memset(&t, 0, sizeof t);
	assert_non_null(c = load("[t]\nreq = r\ntimeout = 99ms\n"));
	assert_int_equal(conf_apply(c, conf_section_at(c, 0), &b, 1, err, sizeof err), -1);
	expect_err(NAME ":3: ", "key 'timeout': '99ms' is below the minimum 100ms");
	conf_free(c);

	memset(&t, 0, sizeof t);
	assert_non_null(c = load("[t]\nreq = r\ntimeout = 100ms\n"));
	assert_int_equal(conf_apply(c, conf_section_at(c, 0), &b, 1, err, sizeof err), 0);
	assert_int_equal(t.timeout, 100);
	conf_free_values(&b, 1);
	conf_free(c);
}

static void
test_bool_parser(void **state)
{
	int v = -1;

	assert_int_equal(conf_parse_bool("on", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(conf_parse_bool("off", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(conf_parse_bool("", &v), -1);
	assert_int_equal(conf_parse_bool("yess", &v), -1);
	assert_int_equal(conf_parse_bool("2", &v), -1);
	assert_int_equal(conf_parse_bool("TRUE", &v), -1);
}

static void
test_list(void **state)
{
	char body[1024], last[16];
	struct tcfg t;
	size_t i, n;

	assert_int_equal(apply_body("items =  a , b,c  \n", &t), 0);
	assert_int_equal(t.items.n, 3);
	assert_string_equal(t.items.v[0], "a");
	assert_string_equal(t.items.v[1], "b");
	assert_string_equal(t.items.v[2], "c");
	free_t(&t);
	assert_int_equal(t.items.n, 0);

	assert_int_equal(apply_body("items = [::1]:119\n", &t), 0);
	assert_int_equal(t.items.n, 1);
	assert_string_equal(t.items.v[0], "[::1]:119");
	free_t(&t);

	assert_int_equal(apply_body("items =\n", &t), 0);
	assert_int_equal(t.items.n, 0);
	free_t(&t);

	assert_int_equal(apply_body("str = keep\nitems = a,,b\n", &t), -1);
	expect_err(NAME ":3: ", "key 'items': empty item");
	assert_t_cleared(&t);
	assert_int_equal(apply_body("items = a,\n", &t), -1);
	expect_err(NAME ":2: ", "key 'items': empty item");
	assert_int_equal(apply_body("items = ,a\n", &t), -1);
	expect_err(NAME ":2: ", "key 'items': empty item");
	assert_int_equal(apply_body("items = a, ,b\n", &t), -1);
	expect_err(NAME ":2: ", "key 'items': empty item");

	/* CONF_LIST_MAX_ITEMS - 1, CONF_LIST_MAX_ITEMS, CONF_LIST_MAX_ITEMS + 1. */
	for (n = CONF_LIST_MAX_ITEMS - 1; n <= CONF_LIST_MAX_ITEMS + 1; n++) {
		size_t off = (size_t)snprintf(body, sizeof body, "items = ");

		for (i = 0; i < n; i++)
			off += (size_t)snprintf(body + off, sizeof body - off, "%si%zu", i ? "," : "", i);
		snprintf(body + off, sizeof body - off, "\n");
		if (n <= CONF_LIST_MAX_ITEMS) {
			assert_int_equal(apply_body(body, &t), 0);
			assert_int_equal(t.items.n, n);
			snprintf(last, sizeof last, "i%zu", n - 1);
			assert_string_equal(t.items.v[n - 1], last);
			free_t(&t);
		} else {
			assert_int_equal(apply_body(body, &t), -1);
			expect_err(NAME ":2: ", "key 'items': more than");
			assert_t_cleared(&t);
		}
	}
}

static void
test_path(void **state)
{
	struct tcfg t;
	struct conf *c;
	struct conf_binding b = { tkeys, &t };

	assert_int_equal(apply_body("path = spool/news\n", &t), 0);
	assert_string_equal(t.path, DIR "/spool/news");
	free_t(&t);
	assert_int_equal(apply_body("path = /abs/x\n", &t), 0);
	assert_string_equal(t.path, "/abs/x");
	free_t(&t);
	/* Empty means "not set" (tls_cert), not the config directory. */
	assert_int_equal(apply_body("path =\n", &t), 0);
	assert_string_equal(t.path, "");
	free_t(&t);
	/* The default is relative too. */
	assert_int_equal(apply_body("", &t), 0);
	assert_string_equal(t.path, DIR "/var/data");
	free_t(&t);

	/* A config in / does not produce "//x". */
	memset(&t, 0, sizeof t);
	assert_non_null(c = conf_load_buf(NAME, "/", "[t]\npath = x\n", 13, err, sizeof err));
	assert_int_equal(conf_apply(c, conf_section_at(c, 0), &b, 1, err, sizeof err), 0);
	assert_string_equal(t.path, "/x");
	conf_free_values(&b, 1);
	conf_free(c);
}

static void
test_path_too_long(void **state)
{
	char *text = malloc(CONF_LINE_MAX_BYTES + 16);
	struct tcfg t;
	struct conf *c;
	struct conf_binding b = { tkeys, &t };
	size_t n;

	/* A relative value that fits a line but not PATH_MAX once joined. */
	n = (size_t)snprintf(text, CONF_LINE_MAX_BYTES + 16, "[t]\npath = ");
	memset(text + n, 'p', CONF_LINE_MAX_BYTES - 7);
	n += CONF_LINE_MAX_BYTES - 7;
	text[n] = '\0';
	memset(&t, 0, sizeof t);
	assert_non_null(c = conf_load_buf(NAME, DIR, text, n, err, sizeof err));
	assert_int_equal(conf_apply(c, conf_section_at(c, 0), &b, 1, err, sizeof err), -1);
	expect_err(NAME ":2: ", "key 'path': path too long");
	assert_t_cleared(&t);
	conf_free(c);
	free(text);
}

/* ---- syntax ---- */

static void
test_comments_and_blank(void **state)
{
	struct conf *c;

	c = load("# top\n; also\n\n   \t\n  # indented\n[a]\n  ; x = y\nk = v\n");
	assert_non_null(c);
	assert_int_equal(conf_section_count(c), 1);
	assert_string_equal(conf_section_name(conf_section_at(c, 0)), "a");
	assert_int_equal(conf_section_line(conf_section_at(c, 0)), 6);
	conf_free(c);

	assert_non_null(c = load(""));
	assert_int_equal(conf_section_count(c), 0);
	assert_int_equal(conf_check_claimed(c, err, sizeof err), 0);
	conf_free(c);
}

static void
test_sections_api(void **state)
{
	struct conf *c = load("[holdfast]\n[echo]\n[a-b_9]\n");

	assert_non_null(c);
	assert_string_equal(conf_path(c), NAME);
	assert_int_equal(conf_section_count(c), 3);
	assert_ptr_equal(conf_section_find(c, "echo"), conf_section_at(c, 1));
	assert_int_equal(conf_section_line(conf_section_find(c, "a-b_9")), 3);
	assert_null(conf_section_find(c, "ech"));
	assert_null(conf_section_find(c, "echoo"));
	assert_null(conf_section_at(c, 3));
	conf_free(c);
}

static void
test_unknown_key(void **state)
{
	struct tcfg t;
	struct conf *c;
	struct conf_binding b = { tkeys, &t };

	memset(&t, 0, sizeof t);
	c = load("[holdfast]\n\n[echo]\nstr = a\n\n\nlistne = x\n");
	assert_non_null(c);
	assert_int_equal(conf_apply(c, conf_section_find(c, "echo"), &b, 1, err, sizeof err), -1);
	assert_string_equal(err, NAME ":7: unknown key 'listne' in [echo]");
	assert_t_cleared(&t);
	conf_free_values(&b, 1);
	conf_free(c);
}

static void
test_duplicate_key(void **state)
{
	struct conf *c = load("[echo]\nuser = a\nuser = b\n");

	assert_null(c);
	assert_string_equal(err, NAME ":3: duplicate key 'user' (first on line 2)");

	/* The same key in two sections is fine. */
	assert_non_null(c = load("[a]\nuser = a\n[b]\nuser = b\n"));
	conf_free(c);
	/* A prefix is a different key. */
	assert_non_null(c = load("[a]\nuser = a\nuse = b\nusers = c\n"));
	conf_free(c);
}

static void
test_duplicate_section(void **state)
{
	struct conf *c = load("[holdfast]\n\n\n[echo]\nk = v\n[nntp]\n\n\n[echo]\n");

	assert_null(c);
	assert_string_equal(err, NAME ":9: duplicate section [echo] (first on line 4)");
}

static void
test_outside_section(void **state)
{
	assert_null(load("# c\n\n\n\nuser = x\n[a]\n"));
	assert_string_equal(err, NAME ":5: key = value outside any section");
}

static void
test_bad_lines(void **state)
{
	char name[CONF_NAME_MAX_BYTES + 2 + 16];
	struct conf *c;

	assert_null(load("[a]\njust words\n"));
	expect_err(NAME ":2: ", "expected");
	assert_null(load("[a]\n= v\n"));
	expect_err(NAME ":2: ", "missing key");
	assert_null(load("[a]\nUser = v\n"));
	expect_err(NAME ":2: ", "bad key name 'User'");
	assert_null(load("[a]\nmy-key = v\n"));
	expect_err(NAME ":2: ", "bad key name 'my-key'");
	assert_null(load("[a]\nmy key = v\n"));
	expect_err(NAME ":2: ", "bad key name");
	assert_null(load("[a\n"));
	expect_err(NAME ":1: ", "bad section header");
	assert_null(load("[]\n"));
	expect_err(NAME ":1: ", "bad section name");
	assert_null(load("[Echo]\n"));
	expect_err(NAME ":1: ", "bad section name [Echo]");
	assert_null(load("[echo main]\n"));
	expect_err(NAME ":1: ", "bad section name");
	assert_null(load("[ echo]\n"));
	expect_err(NAME ":1: ", "bad section name");
	assert_null(load("[echo] x\n"));
	expect_err(NAME ":1: ", "bad section header");

	/* Names at CONF_NAME_MAX_BYTES and one over. */
	memset(name, 0, sizeof name);
	name[0] = '[';
	memset(name + 1, 's', CONF_NAME_MAX_BYTES);
	name[CONF_NAME_MAX_BYTES + 1] = ']';
	assert_non_null(c = load(name));
	conf_free(c);
	name[CONF_NAME_MAX_BYTES + 1] = 's';
	name[CONF_NAME_MAX_BYTES + 2] = ']';
	assert_null(load(name));
	expect_err(NAME ":1: ", "section name too long");

	{
		char text[CONF_NAME_MAX_BYTES + 32];

		memset(text, 0, sizeof text);
		memcpy(text, "[a]\n", 4);
		memset(text + 4, 'k', CONF_NAME_MAX_BYTES);
		memcpy(text + 4 + CONF_NAME_MAX_BYTES, "=v\n", 3);
		assert_non_null(c = load(text));
		conf_free(c);
		memset(text + 4, 'k', CONF_NAME_MAX_BYTES + 1);
		memcpy(text + 5 + CONF_NAME_MAX_BYTES, "=v\n", 3);
		assert_null(load(text));
		expect_err(NAME ":2: ", "key name too long");
	}
}

/* A line of exactly n bytes (plus terminator) on line 3. */
static void
long_line(size_t n, const char *term, int ok)
{
	size_t cap = n + 64, off;
	char *text = malloc(cap);
	struct conf *c;

	off = (size_t)snprintf(text, cap, "[a]\n# x\n");
	memcpy(text + off, "k = ", 4);
	memset(text + off + 4, 'v', n - 4);
	off += n;
	off += (size_t)snprintf(text + off, cap - off, "%s[b]\n", term);
	c = conf_load_buf(NAME, DIR, text, off, err, sizeof err);
	if (ok) {
		if (c == NULL) {
			print_error("%s\n", err);
			fail();
		}
		conf_free(c);
	} else {
		assert_null(c);
		assert_string_equal(err, NAME ":3: line too long (max 4096 bytes)");
	}
	free(text);
}

static void
test_line_too_long(void **state)
{
	long_line(CONF_LINE_MAX_BYTES - 1, "\n", 1);
	long_line(CONF_LINE_MAX_BYTES, "\n", 1);
	long_line(CONF_LINE_MAX_BYTES + 1, "\n", 0);
	/* The terminator does not count, CRLF or not. */
	long_line(CONF_LINE_MAX_BYTES, "\r\n", 1);
	long_line(CONF_LINE_MAX_BYTES + 1, "\r\n", 0);
	/* Nor does the lack of one on the last line. */
	long_line(CONF_LINE_MAX_BYTES + 1, "", 0);
}

static void
test_nul_byte(void **state)
{
	static const char text[] = "[a]\n\nk = a\0b\nj = c\n";
	static const char text2[] = "[a]\n\0\n";

	assert_null(conf_load_buf(NAME, DIR, text, sizeof text - 1, err, sizeof err));
	expect_err(NAME ":3: ", "NUL");
	assert_null(conf_load_buf(NAME, DIR, text2, sizeof text2 - 1, err, sizeof err));
	expect_err(NAME ":2: ", "NUL");
}

static void
test_crlf(void **state)
{
	struct tcfg t;

	assert_int_equal(apply_body("str = x\r\nitems = a, b\r\npath = p\r\ncount = 5\r\n\r\n", &t), 0);
	assert_string_equal(t.str, "x");
	assert_int_equal(t.items.n, 2);
	assert_string_equal(t.items.v[1], "b");
	assert_string_equal(t.path, DIR "/p");
	assert_int_equal(t.count, 5);
	free_t(&t);

	/* Line numbers still count CRLF lines. */
	assert_int_equal(apply_body("str = x\r\n\r\ncount = z\r\n", &t), -1);
	expect_err(NAME ":4: ", "key 'count'");
}

static void
test_too_many(void **state)
{
	size_t cap = 32 * (CONF_ENTRIES_MAX + 2), off, i;
	char *text = malloc(cap);
	struct conf *c;

	/* Sections: limit and limit+1. */
	for (off = 0, i = 0; i < CONF_SECTIONS_MAX; i++)
		off += (size_t)snprintf(text + off, cap - off, "[s%zu]\n", i);
	assert_non_null(c = conf_load_buf(NAME, DIR, text, off, err, sizeof err));
	assert_int_equal(conf_section_count(c), CONF_SECTIONS_MAX);
	conf_free(c);
	off += (size_t)snprintf(text + off, cap - off, "[one_more]\n");
	assert_null(conf_load_buf(NAME, DIR, text, off, err, sizeof err));
	expect_err(NAME ":65: ", "too many sections");

	/* Entries: limit and limit+1, across two sections. */
	off = (size_t)snprintf(text, cap, "[a]\n");
	for (i = 0; i < CONF_ENTRIES_MAX; i++) {
		if (i == 10)
			off += (size_t)snprintf(text + off, cap - off, "[b]\n");
		off += (size_t)snprintf(text + off, cap - off, "k%zu = v\n", i);
	}
	assert_non_null(c = conf_load_buf(NAME, DIR, text, off, err, sizeof err));
	conf_free(c);
	off += (size_t)snprintf(text + off, cap - off, "extra = v\n");
	assert_null(conf_load_buf(NAME, DIR, text, off, err, sizeof err));
	expect_err(NAME ":1027: ", "too many entries");
	free(text);
}

static void
test_file_too_large_buf(void **state)
{
	char *text = malloc(CONF_FILE_MAX_BYTES + 1);
	struct conf *c;

	/* Exactly the limit is accepted: comment lines of 1023 '#' each. */
	memset(text, '#', CONF_FILE_MAX_BYTES + 1);
	for (size_t i = 1023; i < CONF_FILE_MAX_BYTES + 1; i += 1024)
		text[i] = '\n';
	assert_non_null(c = conf_load_buf(NAME, DIR, text, CONF_FILE_MAX_BYTES, err, sizeof err));
	conf_free(c);
	assert_null(conf_load_buf(NAME, DIR, text, CONF_FILE_MAX_BYTES + 1, err, sizeof err));
	expect_err(NAME ": ", "too large");
	free(text);
}

/* ---- binding ---- */

static void
test_defaults_without_section(void **state)
{
	struct tcfg t;
	struct conf *c = load("[other]\n");
	struct conf_binding b = { tkeys, &t };

	memset(&t, 0, sizeof t);
	assert_int_equal(conf_apply(c, conf_section_find(c, "absent"), &b, 1, err, sizeof err), 0);
	assert_string_equal(t.str, "dflt");
	assert_string_equal(t.path, DIR "/var/data");
	assert_int_equal(t.flag, 0);
	assert_int_equal(t.count, 10);
	assert_int_equal(t.size, 64 * 1024);
	assert_int_equal(t.timeout, 30000);
	assert_int_equal(t.items.n, 0);
	conf_free_values(&b, 1);
	assert_null(t.str);
	assert_null(t.path);
	/* Applying nothing claims nothing. */
	assert_int_equal(conf_check_claimed(c, err, sizeof err), -1);
	conf_free(c);
}

static void
test_values_override_defaults(void **state)
{
	struct tcfg t;

	assert_int_equal(apply_body("str = mine\ncount = 3\nflag = on\n", &t), 0);
	assert_string_equal(t.str, "mine");
	assert_int_equal(t.count, 3);
	assert_int_equal(t.flag, 1);
	assert_int_equal(t.size, 64 * 1024);
	free_t(&t);
}

static void
test_missing_required(void **state)
{
	struct tcfg t;
	struct conf *c;
	struct conf_binding b = { tkeys_req, &t };

	memset(&t, 0, sizeof t);
	c = load("[holdfast]\n\n[echo]\nstr = x\nitems = a\n");
	assert_int_equal(conf_apply(c, conf_section_find(c, "echo"), &b, 1, err, sizeof err), -1);
	assert_string_equal(err, NAME ":3: missing required key 'req' in [echo]");
	assert_null(t.req);
	assert_t_cleared(&t);
	conf_free_values(&b, 1);

	/* Section absent: still an error, naming file and key. */
	memset(&t, 0, sizeof t);
	assert_int_equal(conf_apply(c, NULL, &b, 1, err, sizeof err), -1);
	expect_err(NAME ": ", "missing required key 'req'");
	assert_t_cleared(&t);
	conf_free(c);

	/* Present: fine, and an empty STR value counts as present. */
	memset(&t, 0, sizeof t);
	c = load("[echo]\nreq =\n");
	assert_int_equal(conf_apply(c, conf_section_find(c, "echo"), &b, 1, err, sizeof err), 0);
	assert_string_equal(t.req, "");
	assert_int_equal(t.items.n, 2);
	conf_free_values(&b, 1);
	conf_free(c);
}

static void
test_error_frees_everything(void **state)
{
	struct tcfg t;

	/* Good STR, PATH and LIST values before the bad one are freed and NULLed. */
	assert_int_equal(apply_body("str = a\npath = b\nitems = x,y\nflag = z\n", &t), -1);
	expect_err(NAME ":5: ", "key 'flag'");
	assert_t_cleared(&t);
	free_t(&t);
}

static void
test_bad_default(void **state)
{
	static const struct conf_key keys[] = {
		{ "size", CONF_SIZE, "64q", 0, 0, 0 },
		CONF_KEYS_END
	};
	uint64_t v;
	struct conf *c = load("[a]\n");
	struct conf_binding b = { keys, &v };

	assert_int_equal(conf_apply(c, conf_section_at(c, 0), &b, 1, err, sizeof err), -1);
	expect_err(NAME ":1: ", "default of key 'size': bad size '64q'");
	conf_free(c);
}

/* Two bindings on one section, as a service section has: common keys and its own. */
static void
test_two_bindings(void **state)
{
	struct own { char *greeting; uint64_t n; } own;
	static const struct conf_key own_keys[] = {
		{ "greeting", CONF_STR, "hi", offsetof(struct own, greeting), 0, 0 },
		{ "n", CONF_INT, "1", offsetof(struct own, n), 0, 0 },
		CONF_KEYS_END
	};
	struct tcfg t;
	struct conf_binding b[2] = { { tkeys, &t }, { own_keys, &own } };
	struct conf *c = load("[echo]\nstr = s\ngreeting = hello\nbogus = 1\n");

	memset(&t, 0, sizeof t);
	memset(&own, 0, sizeof own);
	assert_int_equal(conf_apply(c, conf_section_at(c, 0), b, 2, err, sizeof err), -1);
	expect_err(NAME ":4: ", "unknown key 'bogus' in [echo]");
	assert_null(own.greeting);
	assert_null(t.str);
	conf_free(c);

	c = load("[echo]\nstr = s\ngreeting = hello\n");
	memset(&t, 0, sizeof t);
	memset(&own, 0, sizeof own);
	assert_int_equal(conf_apply(c, conf_section_at(c, 0), b, 2, err, sizeof err), 0);
	assert_string_equal(t.str, "s");
	assert_string_equal(own.greeting, "hello");
	assert_int_equal(own.n, 1);
	conf_free_values(b, 2);
	conf_free(c);
}

static void
test_check_claimed(void **state)
{
	struct tcfg t;
	struct conf *c = load("[holdfast]\n\n[echo]\n\n\n\n\n\n\n\n\n\n\n[nttp]\n[zzz]\n");
	struct conf_binding b = { tkeys, &t };

	assert_non_null(c);
	memset(&t, 0, sizeof t);
	assert_int_equal(conf_apply(c, conf_section_find(c, "holdfast"), &b, 1, err, sizeof err), 0);
	conf_free_values(&b, 1);
	assert_int_equal(conf_apply(c, conf_section_find(c, "echo"), &b, 1, err, sizeof err), 0);
	conf_free_values(&b, 1);
	assert_int_equal(conf_check_claimed(c, err, sizeof err), -1);
	assert_string_equal(err, NAME ":14: unknown section [nttp]");
	assert_int_equal(conf_apply(c, conf_section_find(c, "nttp"), &b, 1, err, sizeof err), 0);
	conf_free_values(&b, 1);
	assert_int_equal(conf_check_claimed(c, err, sizeof err), -1);
	assert_string_equal(err, NAME ":15: unknown section [zzz]");
	/* A failed apply still claims: its error was already reported. */
	assert_int_equal(conf_apply(c, conf_section_find(c, "zzz"), &(struct conf_binding){ tkeys_req, &t }, 1,
	                            err, sizeof err), -1);
	assert_int_equal(conf_check_claimed(c, err, sizeof err), 0);
	conf_free(c);
}

static void
test_small_err_buffer(void **state)
{
	char small[8];

	memset(small, 'x', sizeof small);
	assert_null(conf_load_buf(NAME, DIR, "k = v\n", 6, small, sizeof small));
	assert_string_equal(small, "t.conf:");
	assert_null(conf_load_buf(NAME, DIR, "k = v\n", 6, NULL, 0));
}

/* ---- files ---- */

static char tmpdir[64];

static int
setup_tmpdir(void **state)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_conf.XXXXXX");
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int
teardown_tmpdir(void **state)
{
	return rmdir(tmpdir);
}

static void
test_load_file(void **state)
{
	static const char body[] = "[t]\r\npath = data\r\nstr = from file\r\n";
	char path[128], want[160];
	struct tcfg t;
	struct conf *c;
	struct conf_binding b = { tkeys, &t };
	int fd;

	snprintf(path, sizeof path, "%s/conf.XXXXXX", tmpdir);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, body, sizeof body - 1), (ssize_t)(sizeof body - 1));
	close(fd);

	err[0] = '\0';
	c = conf_load(path, err, sizeof err);
	if (c == NULL) {
		print_error("%s\n", err);
		fail();
	}
	assert_string_equal(conf_path(c), path);
	memset(&t, 0, sizeof t);
	assert_int_equal(conf_apply(c, conf_section_find(c, "t"), &b, 1, err, sizeof err), 0);
	snprintf(want, sizeof want, "%s/data", tmpdir);
	assert_string_equal(t.path, want);
	assert_string_equal(t.str, "from file");
	conf_free_values(&b, 1);
	conf_free(c);

	/* Errors from a file carry its path. */
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "oops\n", 5), 5);
	close(fd);
	assert_null(conf_load(path, err, sizeof err));
	snprintf(want, sizeof want, "%s:4: ", path);
	expect_err(want, "expected");
	unlink(path);
}

static void
test_load_relative_path(void **state)
{
	char cwd[4096], want[4200];
	struct tcfg t;
	struct conf *c;
	struct conf_binding b = { tkeys, &t };
	int fd;

	/* A relative config path: the directory is absolute from cwd at load time. */
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir("/tmp"), 0);
	assert_true((fd = open(tmpdir + 5, O_RDONLY | O_DIRECTORY)) >= 0);
	close(fd);
	{
		char rel[128];

		snprintf(rel, sizeof rel, "%s/rel.conf", tmpdir + 5);
		fd = open(rel, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "[t]\npath = x\n", 13), 13);
		close(fd);
		c = conf_load(rel, err, sizeof err);
		assert_non_null(c);
		unlink(rel);
	}
	assert_int_equal(chdir(cwd), 0);
	memset(&t, 0, sizeof t);
	assert_int_equal(conf_apply(c, conf_section_at(c, 0), &b, 1, err, sizeof err), 0);
	snprintf(want, sizeof want, "%s/x", tmpdir);
	assert_string_equal(t.path, want);
	conf_free_values(&b, 1);
	conf_free(c);
}

static void
test_load_errors(void **state)
{
	char path[128], want[160];
	int fd;

	snprintf(path, sizeof path, "%s/does-not-exist.conf", tmpdir);
	assert_null(conf_load(path, err, sizeof err));
	snprintf(want, sizeof want, "%s: ", path);
	expect_err(want, "cannot open");
	assert_non_null(strstr(err, "No such file"));

	/* A directory, and a FIFO (which must not block start-up). */
	snprintf(want, sizeof want, "%s: ", tmpdir);
	assert_null(conf_load(tmpdir, err, sizeof err));
	expect_err(want, "not a regular file");
	snprintf(path, sizeof path, "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* A watchdog, not a timing test: without O_NONBLOCK the open never returns. */
	alarm(60);
	assert_null(conf_load(path, err, sizeof err));
	alarm(0);
	snprintf(want, sizeof want, "%s: ", path);
	expect_err(want, "not a regular file");
	unlink(path);

	/* Over CONF_FILE_MAX_BYTES by size alone (sparse, cheap). */
	snprintf(path, sizeof path, "%s/big.conf", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, CONF_FILE_MAX_BYTES + 1), 0);
	close(fd);
	assert_null(conf_load(path, err, sizeof err));
	snprintf(want, sizeof want, "%s: ", path);
	expect_err(want, "too large");
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_bool_parser),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_size_range),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_duration_range),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_path_too_long),
		cmocka_unit_test(test_comments_and_blank),
		cmocka_unit_test(test_sections_api),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_duplicate_section),
		cmocka_unit_test(test_outside_section),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_file_too_large_buf),
		cmocka_unit_test(test_defaults_without_section),
		cmocka_unit_test(test_values_override_defaults),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_error_frees_everything),
		cmocka_unit_test(test_bad_default),
		cmocka_unit_test(test_two_bindings),
		cmocka_unit_test(test_check_claimed),
		cmocka_unit_test(test_small_err_buffer),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_relative_path),
		cmocka_unit_test(test_load_errors),
	};

	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
