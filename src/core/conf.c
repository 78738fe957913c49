/*
 * conf.c: the configuration file (syntax and typed binding; see conf.h).
 *
 * Role: read once by the supervisor at start-up (and by holdfastctl), never
 * from a peer, so it uses plain malloc/free rather than regions.  It is
 * still written as if the file were hostile: every length is checked
 * against its limit before it is used, and no error leaves memory behind.
 *
 * Interface: conf_load()/conf_load_buf() run one pass over the text that
 * splits it into lines and tokenizes each into a fixed array of entries
 * (key, value, line) grouped by section; the text is copied once and the
 * entries point into that copy.  conf_apply() then binds one section to
 * tables of typed keys: defaults for every key of every binding first, then
 * the section's entries in file order, then the check for required keys.
 * conf_check_claimed() reports the first section nobody applied.
 *
 * Limits (hf_limits.h): CONF_FILE_MAX_BYTES per file, CONF_LINE_MAX_BYTES per
 * line (without its "\n" or "\r\n"), CONF_SECTIONS_MAX sections,
 * CONF_ENTRIES_MAX entries in all, CONF_NAME_MAX_BYTES per section or key
 * name, CONF_LIST_MAX_ITEMS per list; a joined path must fit PATH_MAX.
 * Anything over a limit is an error naming the line, never a truncation.
 *
 * Rules worth knowing:
 *  - conf_apply() does not free what the bound structs held before: the
 *    caller zeroes them first (after conf_free_values() if they held values
 *    from an earlier conf_apply()).  On error conf_apply() frees everything
 *    it stored, so every STR/PATH pointer is NULL and every list empty, and
 *    conf_free_values() stays safe.
 *  - An empty value is an empty string (STR), "not set" (PATH: stays "",
 *    not the config directory) or an empty list (LIST); numbers, sizes,
 *    durations and booleans need a value.
 *  - Numbers are unsigned decimal only: no sign, no hex, no spaces, so "-1"
 *    can never wrap to a huge size (INN's 4 GB allocation).
 *  - Boolean words and duration units are lowercase only; size suffixes
 *    take either case.
 *  - If two bindings of one conf_apply() name the same key, an entry sets
 *    the first; the second keeps its default.
 *
 * Known weaknesses: a missing required key when the section is absent (s
 * NULL) has no line to name, so that message is "FILE: ..."; the same holds
 * for I/O errors.  Control characters other than NUL are accepted in
 * values.  The directory of a relative config path is taken from the
 * current directory at load time, without resolving symlinks or "..".
 * Duplicate-key detection is quadratic in the entries of one section
 * (bounded by CONF_ENTRIES_MAX).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>   /* PATH_MAX; gcc resolves <limits.h> to src/core/limits.h even under -iquote */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "hf_limits.h"

struct conf_entry {
	const char *key;     /* into conf.text */
	const char *value;   /* into conf.text, trimmed, may be "" */
	unsigned line;
};

struct conf_section {
	char name[CONF_NAME_MAX_BYTES + 1];
	unsigned line;
	size_t first;        /* entries of a section are contiguous: a section cannot reopen */
	size_t n;
	int claimed;
};

struct conf {
	char *name;          /* for messages; the path for conf_load() */
	char *dir;           /* absolute; relative PATH values are joined to it */
	char *text;          /* the NUL-split copy the entries point into */
	size_t nsections;
	size_t nentries;
	struct conf_section sections[CONF_SECTIONS_MAX];
	struct conf_entry entries[CONF_ENTRIES_MAX];
};

/* A parsed value before it is stored, so a bad value never half-replaces a good one. */
struct conf_value {
	char *str;
	int b;
	uint64_t u;
	struct conf_list list;
};

/* Internal parser results: a syntax error and an overflow get different messages. */
enum { PARSE_OK = 0, PARSE_SYNTAX = -1, PARSE_OVERFLOW = -2 };

#define KIB 1024ULL
#define MIB (1024ULL * 1024)
#define GIB (1024ULL * 1024 * 1024)
#define MS_S 1000ULL
#define MS_M (60ULL * MS_S)
#define MS_H (60ULL * MS_M)
#define MS_D (24ULL * MS_H)

static void conf_err(char *err, size_t errlen, const char *name, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* "name:line: message", or "name: message" when no line applies. */
static void
conf_err(char *err, size_t errlen, const char *name, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return;
	if (name == NULL)
		name = "(config)";
	if (line > 0)
		n = snprintf(err, errlen, "%s:%u: ", name, line);
	else
		n = snprintf(err, errlen, "%s: ", name);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static int
conf_is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* Trims [*p, *end) in place (pointers only; nothing is written). */
static void
conf_trim(const char **p, const char **end)
{
	while (*p < *end && conf_is_blank(**p))
		(*p)++;
	while (*end > *p && conf_is_blank((*end)[-1]))
		(*end)--;
}

static int
conf_name_ok(const char *p, size_t n, int dash_ok)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = p[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')
			continue;
		if (dash_ok && ch == '-')
			continue;
		return 0;
	}
	return 1;
}

/* ---- value parsers ---- */

/* Unsigned decimal digits at *sp; advances past them. */
static int
conf_parse_digits(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return PARSE_SYNTAX;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return PARSE_OVERFLOW;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return PARSE_OK;
}

static int
conf_scale(uint64_t v, uint64_t mult, uint64_t *out)
{
	if (mult != 0 && v > UINT64_MAX / mult)
		return PARSE_OVERFLOW;
	*out = v * mult;
	return PARSE_OK;
}

static int
conf_parse_int_r(const char *s, uint64_t *out)
{
	uint64_t v;
	int rc;

	if ((rc = conf_parse_digits(&s, &v)) != PARSE_OK)
		return rc;
	if (*s != '\0')
		return PARSE_SYNTAX;
	*out = v;
	return PARSE_OK;
}

static int
conf_parse_size_r(const char *s, uint64_t *out)
{
	uint64_t v, mult = 1;
	int rc;

	if ((rc = conf_parse_digits(&s, &v)) != PARSE_OK)
		return rc;
	switch (*s) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = KIB;
		s++;
		break;
	case 'm': case 'M':
		mult = MIB;
		s++;
		break;
	case 'g': case 'G':
		mult = GIB;
		s++;
		break;
	default:
		return PARSE_SYNTAX;
	}
	if (*s != '\0')
		return PARSE_SYNTAX;
	return conf_scale(v, mult, out);
}

static int
conf_parse_duration_r(const char *s, uint64_t *out)
{
	uint64_t v, mult;
	int rc;

	if ((rc = conf_parse_digits(&s, &v)) != PARSE_OK)
		return rc;
	if (strcmp(s, "") == 0 || strcmp(s, "s") == 0)
		mult = MS_S;
	else if (strcmp(s, "ms") == 0)
		mult = 1;
	else if (strcmp(s, "m") == 0)
		mult = MS_M;
	else if (strcmp(s, "h") == 0)
		mult = MS_H;
	else if (strcmp(s, "d") == 0)
		mult = MS_D;
	else
		return PARSE_SYNTAX;
	return conf_scale(v, mult, out);
}

int
conf_parse_size(const char *s, uint64_t *out)
{
	return conf_parse_size_r(s, out) == PARSE_OK ? 0 : -1;
}

int
conf_parse_duration_ms(const char *s, uint64_t *out)
{
	return conf_parse_duration_r(s, out) == PARSE_OK ? 0 : -1;
}

int
conf_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Range bounds are printed the way a user would write them. */
static void
conf_fmt_value(enum conf_type t, uint64_t v, char *buf, size_t len)
{
	static const struct { uint64_t mult; const char *unit; } sizes[] = {
		{ GIB, "g" }, { MIB, "m" }, { KIB, "k" },
	}, durations[] = {
		{ MS_D, "d" }, { MS_H, "h" }, { MS_M, "m" }, { MS_S, "s" },
	};
	size_t i;

	if (t == CONF_SIZE && v != 0) {
		for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			if (v % sizes[i].mult == 0) {
				snprintf(buf, len, "%llu%s", (unsigned long long)(v / sizes[i].mult), sizes[i].unit);
				return;
			}
		}
	} else if (t == CONF_DURATION) {
		if (v == 0) {
			snprintf(buf, len, "0s");
			return;
		}
		for (i = 0; i < sizeof durations / sizeof durations[0]; i++) {
			if (v % durations[i].mult == 0) {
				snprintf(buf, len, "%llu%s", (unsigned long long)(v / durations[i].mult),
				         durations[i].unit);
				return;
			}
		}
		snprintf(buf, len, "%llums", (unsigned long long)v);
		return;
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* ---- loading ---- */

static void
conf_destroy(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->dir);
	free(c->text);
	free(c);
}

void
conf_free(struct conf *c)
{
	conf_destroy(c);
}

/*
 * dir made absolute now, while the current directory is still the one the
 * operator meant: the supervisor may chdir later.  NULL dir means cwd.
 */
static char *
conf_absolute_dir(const char *dir)
{
	char cwd[PATH_MAX];
	size_t a, b;
	char *out;

	if (dir != NULL && dir[0] == '/')
		return strdup(dir);
	if (getcwd(cwd, sizeof cwd) == NULL)
		return NULL;
	if (dir == NULL || dir[0] == '\0' || strcmp(dir, ".") == 0)
		return strdup(cwd);
	a = strlen(cwd);
	b = strlen(dir);
	if (a + 1 + b >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if ((out = malloc(a + 1 + b + 1)) == NULL)
		return NULL;
	memcpy(out, cwd, a);
	out[a] = '/';
	memcpy(out + a + 1, dir, b + 1);
	return out;
}

static struct conf_section *
conf_find_section_n(struct conf *c, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < c->nsections; i++) {
		if (strlen(c->sections[i].name) == n && memcmp(c->sections[i].name, name, n) == 0)
			return &c->sections[i];
	}
	return NULL;
}

/* One line, already stripped of its terminator and checked for length and NUL. */
static int
conf_parse_line(struct conf *c, char *line, size_t len, unsigned lineno, char *err, size_t errlen)
{
	const char *p = line, *end = line + len, *eq, *k, *kend, *v, *vend;
	struct conf_section *s, *dup;
	struct conf_entry *e;
	size_t i, n;

	conf_trim(&p, &end);
	if (p == end || *p == '#' || *p == ';')
		return 0;

	if (*p == '[') {
		if (end[-1] != ']' || end - p < 2) {
			conf_err(err, errlen, c->name, lineno, "bad section header (use [name])");
			return -1;
		}
		k = p + 1;
		n = (size_t)(end - 1 - k);
		if (n > CONF_NAME_MAX_BYTES) {
			conf_err(err, errlen, c->name, lineno, "section name too long (max %d bytes)",
			         CONF_NAME_MAX_BYTES);
			return -1;
		}
		if (!conf_name_ok(k, n, 1)) {
			conf_err(err, errlen, c->name, lineno, "bad section name [%.*s] (use a-z, 0-9, _ and -)",
			         (int)n, k);
			return -1;
		}
		if ((dup = conf_find_section_n(c, k, n)) != NULL) {
			conf_err(err, errlen, c->name, lineno, "duplicate section [%s] (first on line %u)",
			         dup->name, dup->line);
			return -1;
		}
		if (c->nsections >= CONF_SECTIONS_MAX) {
			conf_err(err, errlen, c->name, lineno, "too many sections (max %d)", CONF_SECTIONS_MAX);
			return -1;
		}
		s = &c->sections[c->nsections++];
		memcpy(s->name, k, n);
		s->name[n] = '\0';
		s->line = lineno;
		s->first = c->nentries;
		s->n = 0;
		s->claimed = 0;
		return 0;
	}

	if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL) {
		conf_err(err, errlen, c->name, lineno, "expected [section] or key = value");
		return -1;
	}
	if (c->nsections == 0) {
		conf_err(err, errlen, c->name, lineno, "key = value outside any section");
		return -1;
	}
	k = p;
	kend = eq;
	v = eq + 1;
	vend = end;
	conf_trim(&k, &kend);
	conf_trim(&v, &vend);
	n = (size_t)(kend - k);
	if (n == 0) {
		conf_err(err, errlen, c->name, lineno, "missing key before '='");
		return -1;
	}
	if (n > CONF_NAME_MAX_BYTES) {
		conf_err(err, errlen, c->name, lineno, "key name too long (max %d bytes)", CONF_NAME_MAX_BYTES);
		return -1;
	}
	if (!conf_name_ok(k, n, 0)) {
		conf_err(err, errlen, c->name, lineno, "bad key name '%.*s' (use a-z, 0-9 and _)", (int)n, k);
		return -1;
	}
	s = &c->sections[c->nsections - 1];
	for (i = s->first; i < s->first + s->n; i++) {
		if (strlen(c->entries[i].key) == n && memcmp(c->entries[i].key, k, n) == 0) {
			conf_err(err, errlen, c->name, lineno, "duplicate key '%.*s' (first on line %u)",
			         (int)n, k, c->entries[i].line);
			return -1;
		}
	}
	if (c->nentries >= CONF_ENTRIES_MAX) {
		conf_err(err, errlen, c->name, lineno, "too many entries (max %d)", CONF_ENTRIES_MAX);
		return -1;
	}
	/* Split in place: key and value end where their trimmed text ends. */
	line[kend - line] = '\0';
	line[vend - line] = '\0';
	e = &c->entries[c->nentries++];
	e->key = k;
	e->value = v;
	e->line = lineno;
	s->n++;
	return 0;
}

/* Takes ownership of text (len bytes, malloc'd with room for one more). */
static struct conf *
conf_parse(const char *name, const char *dir, char *text, size_t len, char *err, size_t errlen)
{
	struct conf *c;
	size_t off = 0;
	unsigned lineno = 0;

	if (name == NULL)
		name = "(config)";
	if (len > CONF_FILE_MAX_BYTES) {
		conf_err(err, errlen, name, 0, "file too large (%zu bytes, max %d)", len, CONF_FILE_MAX_BYTES);
		free(text);
		return NULL;
	}
	if ((c = malloc(sizeof *c)) == NULL) {
		conf_err(err, errlen, name, 0, "out of memory");
		free(text);
		return NULL;
	}
	c->nsections = 0;
	c->nentries = 0;
	c->text = text;
	c->dir = NULL;
	if ((c->name = strdup(name)) == NULL) {
		conf_err(err, errlen, name, 0, "out of memory");
		conf_destroy(c);
		return NULL;
	}
	if ((c->dir = conf_absolute_dir(dir)) == NULL) {
		conf_err(err, errlen, name, 0, "cannot resolve the config directory: %s", strerror(errno));
		conf_destroy(c);
		return NULL;
	}
	text[len] = '\0';

	while (off < len) {
		char *line = text + off, *nl;
		size_t n;

		lineno++;
		nl = memchr(line, '\n', len - off);
		n = nl != NULL ? (size_t)(nl - line) : len - off;
		off += n + (nl != NULL);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		line[n] = '\0';
		if (n > CONF_LINE_MAX_BYTES) {
			conf_err(err, errlen, c->name, lineno, "line too long (max %d bytes)", CONF_LINE_MAX_BYTES);
			conf_destroy(c);
			return NULL;
		}
		if (memchr(line, '\0', n) != NULL) {
			conf_err(err, errlen, c->name, lineno, "NUL byte in line");
			conf_destroy(c);
			return NULL;
		}
		if (conf_parse_line(c, line, n, lineno, err, errlen) < 0) {
			conf_destroy(c);
			return NULL;
		}
	}
	return c;
}

struct conf *
conf_load_buf(const char *name, const char *dir, const char *text, size_t len, char *err, size_t errlen)
{
	char *copy;

	if (len > CONF_FILE_MAX_BYTES) {
		conf_err(err, errlen, name, 0, "file too large (%zu bytes, max %d)", len, CONF_FILE_MAX_BYTES);
		return NULL;
	}
	if ((copy = malloc(len + 1)) == NULL) {
		conf_err(err, errlen, name, 0, "out of memory");
		return NULL;
	}
	if (len > 0)
		memcpy(copy, text, len);
	return conf_parse(name, dir, copy, len, err, errlen);
}

struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *buf, *dir, *slash;
	size_t cap, got = 0;
	struct conf *c;
	int fd;

	/* O_NONBLOCK: opening a FIFO must not hang start-up; fstat rejects it next. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		conf_err(err, errlen, path, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		conf_err(err, errlen, path, 0, "cannot stat: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_err(err, errlen, path, 0, "not a regular file");
		close(fd);
		return NULL;
	}
	if (st.st_size < 0 || st.st_size > CONF_FILE_MAX_BYTES) {
		conf_err(err, errlen, path, 0, "file too large (%lld bytes, max %d)", (long long)st.st_size,
		         CONF_FILE_MAX_BYTES);
		close(fd);
		return NULL;
	}
	/* One byte more than fstat said, to notice a file that grows under us. */
	cap = (size_t)st.st_size + 1;
	if ((buf = malloc(cap + 1)) == NULL) {
		conf_err(err, errlen, path, 0, "out of memory");
		close(fd);
		return NULL;
	}
	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			conf_err(err, errlen, path, 0, "cannot read: %s", strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got == cap) {
		conf_err(err, errlen, path, 0, "file changed while being read");
		free(buf);
		return NULL;
	}

	if ((slash = strrchr(path, '/')) == NULL)
		dir = NULL;
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (slash != NULL && dir == NULL) {
		conf_err(err, errlen, path, 0, "out of memory");
		free(buf);
		return NULL;
	}
	c = conf_parse(path, dir, buf, got, err, errlen);
	free(dir);
	return c;
}

const char *
conf_path(const struct conf *c)
{
	return c->name;
}

size_t
conf_section_count(const struct conf *c)
{
	return c->nsections;
}

struct conf_section *
conf_section_at(struct conf *c, size_t i)
{
	return i < c->nsections ? &c->sections[i] : NULL;
}

struct conf_section *
conf_section_find(struct conf *c, const char *name)
{
	return conf_find_section_n(c, name, strlen(name));
}

const char *
conf_section_name(const struct conf_section *s)
{
	return s->name;
}

unsigned
conf_section_line(const struct conf_section *s)
{
	return s->line;
}

/* ---- binding ---- */

static void
conf_list_clear(struct conf_list *l)
{
	size_t i;

	for (i = 0; i < l->n && i < CONF_LIST_MAX_ITEMS; i++) {
		free(l->v[i]);
		l->v[i] = NULL;
	}
	l->n = 0;
}

/* dir "/" joins without doubling the slash; the caller checked the length. */
static char *
conf_path_join(const char *dir, const char *rel)
{
	size_t a = strlen(dir), b = strlen(rel);
	int slash = a > 0 && dir[a - 1] == '/';
	char *out;

	if ((out = malloc(a + !slash + b + 1)) == NULL)
		return NULL;
	memcpy(out, dir, a);
	if (!slash)
		out[a++] = '/';
	memcpy(out + a, rel, b + 1);
	return out;
}

static int
conf_parse_list(struct conf *c, const char *what, const char *text,
                unsigned line, struct conf_list *out, char *err, size_t errlen)
{
	const char *p = text, *end = text + strlen(text);

	out->n = 0;
	if (p == end)
		return 0;
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *ip = p, *iend = comma != NULL ? comma : end;

		conf_trim(&ip, &iend);
		if (ip == iend) {
			conf_err(err, errlen, c->name, line, "%s: empty item in list '%s'", what, text);
			goto fail;
		}
		if (out->n >= CONF_LIST_MAX_ITEMS) {
			conf_err(err, errlen, c->name, line, "%s: more than %d items in list", what,
			         CONF_LIST_MAX_ITEMS);
			goto fail;
		}
		if ((out->v[out->n] = strndup(ip, (size_t)(iend - ip))) == NULL) {
			conf_err(err, errlen, c->name, line, "%s: out of memory", what);
			goto fail;
		}
		out->n++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
fail:
	conf_list_clear(out);
	return -1;
}

static int
conf_check_range(struct conf *c, const struct conf_key *k, const char *what, const char *text,
                 unsigned line, uint64_t v, char *err, size_t errlen)
{
	char lo[32], hi[32];

	if (v >= k->min && (k->max == 0 || v <= k->max))
		return 0;
	conf_fmt_value(k->type, k->min, lo, sizeof lo);
	conf_fmt_value(k->type, k->max, hi, sizeof hi);
	if (k->max == 0)
		conf_err(err, errlen, c->name, line, "%s: '%s' is below the minimum %s", what, text, lo);
	else
		conf_err(err, errlen, c->name, line, "%s: '%s' is out of range %s..%s", what, text, lo, hi);
	return -1;
}

/*
 * text into out according to k's type.  what is "key 'x'" or "default of
 * key 'x'" so a broken table is told apart from a broken file.
 */
static int
conf_parse_value(struct conf *c, const struct conf_key *k, const char *what, const char *text,
                 unsigned line, struct conf_value *out, char *err, size_t errlen)
{
	static const char *const kind[] = {
		[CONF_INT] = "number", [CONF_SIZE] = "size", [CONF_DURATION] = "duration",
	};
	static const char *const hint[] = {
		[CONF_INT] = "use decimal digits",
		[CONF_SIZE] = "use a number with optional k, m or g",
		[CONF_DURATION] = "use ms, s, m, h or d",
	};
	int rc;

	memset(out, 0, sizeof *out);
	switch (k->type) {
	case CONF_STR:
		if ((out->str = strdup(text)) == NULL)
			goto nomem;
		return 0;
	case CONF_PATH:
		if (text[0] == '\0' || text[0] == '/') {
			out->str = strdup(text);
		} else if (strlen(c->dir) + 1 + strlen(text) >= PATH_MAX) {
			conf_err(err, errlen, c->name, line, "%s: path too long once joined to %s", what, c->dir);
			return -1;
		} else {
			out->str = conf_path_join(c->dir, text);
		}
		if (out->str == NULL)
			goto nomem;
		return 0;
	case CONF_BOOL:
		if (conf_parse_bool(text, &out->b) < 0) {
			conf_err(err, errlen, c->name, line,
			         "%s: bad boolean '%s' (use yes, no, true, false, on, off, 1 or 0)", what, text);
			return -1;
		}
		return 0;
	case CONF_INT:
	case CONF_SIZE:
	case CONF_DURATION:
		if (text[0] == '\0') {
			conf_err(err, errlen, c->name, line, "%s: missing value (expected a %s)", what,
			         kind[k->type]);
			return -1;
		}
		if (k->type == CONF_INT)
			rc = conf_parse_int_r(text, &out->u);
		else if (k->type == CONF_SIZE)
			rc = conf_parse_size_r(text, &out->u);
		else
			rc = conf_parse_duration_r(text, &out->u);
		if (rc == PARSE_OVERFLOW) {
			conf_err(err, errlen, c->name, line, "%s: %s '%s' is too large", what, kind[k->type], text);
			return -1;
		}
		if (rc != PARSE_OK) {
			conf_err(err, errlen, c->name, line, "%s: bad %s '%s' (%s)", what, kind[k->type], text,
			         hint[k->type]);
			return -1;
		}
		return conf_check_range(c, k, what, text, line, out->u, err, errlen);
	case CONF_LIST:
		return conf_parse_list(c, what, text, line, &out->list, err, errlen);
	}
	conf_err(err, errlen, c->name, line, "%s: unknown type %d in the key table", what, (int)k->type);
	return -1;
nomem:
	conf_err(err, errlen, c->name, line, "%s: out of memory", what);
	return -1;
}

/* Moves v into the field; frees what the field held only if told to (see the top comment). */
static void
conf_store(const struct conf_key *k, void *base, struct conf_value *v, int free_old)
{
	char *field = (char *)base + k->offset;

	switch (k->type) {
	case CONF_STR:
	case CONF_PATH:
		if (free_old)
			free(*(char **)(void *)field);
		*(char **)(void *)field = v->str;
		v->str = NULL;
		break;
	case CONF_BOOL:
		*(int *)(void *)field = v->b;
		break;
	case CONF_INT:
	case CONF_SIZE:
	case CONF_DURATION:
		*(uint64_t *)(void *)field = v->u;
		break;
	case CONF_LIST:
		if (free_old)
			conf_list_clear((struct conf_list *)(void *)field);
		*(struct conf_list *)(void *)field = v->list;
		v->list.n = 0;
		break;
	}
}

void
conf_free_values(const struct conf_binding *b, size_t nb)
{
	const struct conf_key *k;
	size_t i;

	for (i = 0; i < nb; i++) {
		for (k = b[i].keys; k != NULL && k->name != NULL; k++) {
			char *field = (char *)b[i].base + k->offset;

			if (k->type == CONF_STR || k->type == CONF_PATH) {
				free(*(char **)(void *)field);
				*(char **)(void *)field = NULL;
			} else if (k->type == CONF_LIST) {
				conf_list_clear((struct conf_list *)(void *)field);
			}
		}
	}
}

static const struct conf_entry *
conf_section_entry(struct conf *c, const struct conf_section *s, const char *key)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = s->first; i < s->first + s->n; i++) {
		if (strcmp(c->entries[i].key, key) == 0)
			return &c->entries[i];
	}
	return NULL;
}

int
conf_apply(struct conf *c, struct conf_section *s, const struct conf_binding *b, size_t nb,
           char *err, size_t errlen)
{
	char what[CONF_NAME_MAX_BYTES + 32];
	const struct conf_key *k = NULL;
	struct conf_value v;
	unsigned hline = s != NULL ? s->line : 0;
	size_t i, j;

	if (s != NULL)
		s->claimed = 1;

	/* Defaults for every key first, so a field is never left unset. */
	for (i = 0; i < nb; i++) {
		for (k = b[i].keys; k != NULL && k->name != NULL; k++) {
			if (k->def == NULL) {
				memset(&v, 0, sizeof v);
			} else {
				snprintf(what, sizeof what, "default of key '%s'", k->name);
				if (conf_parse_value(c, k, what, k->def, hline, &v, err, errlen) < 0)
					goto fail;
			}
			conf_store(k, b[i].base, &v, 0);
		}
	}

	/* Then the file's entries, in file order, so the first bad line is reported. */
	for (j = 0; s != NULL && j < s->n; j++) {
		const struct conf_entry *e = &c->entries[s->first + j];
		size_t bi = 0;

		k = NULL;
		for (i = 0; i < nb && k == NULL; i++) {
			const struct conf_key *kk;

			for (kk = b[i].keys; kk != NULL && kk->name != NULL; kk++) {
				if (strcmp(kk->name, e->key) == 0) {
					k = kk;
					bi = i;
					break;
				}
			}
		}
		if (k == NULL) {
			conf_err(err, errlen, c->name, e->line, "unknown key '%s' in [%s]", e->key, s->name);
			goto fail;
		}
		snprintf(what, sizeof what, "key '%s'", k->name);
		if (conf_parse_value(c, k, what, e->value, e->line, &v, err, errlen) < 0)
			goto fail;
		conf_store(k, b[bi].base, &v, 1);
	}

	for (i = 0; i < nb; i++) {
		for (k = b[i].keys; k != NULL && k->name != NULL; k++) {
			if (k->def != NULL || conf_section_entry(c, s, k->name) != NULL)
				continue;
			if (s != NULL)
				conf_err(err, errlen, c->name, hline, "missing required key '%s' in [%s]", k->name,
				         s->name);
			else
				conf_err(err, errlen, c->name, 0, "missing required key '%s' (its section is absent)",
				         k->name);
			goto fail;
		}
	}
	return 0;

fail:
	conf_free_values(b, nb);
	return -1;
}

int
conf_check_claimed(struct conf *c, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < c->nsections; i++) {
		if (!c->sections[i].claimed) {
			conf_err(err, errlen, c->name, c->sections[i].line, "unknown section [%s]",
			         c->sections[i].name);
			return -1;
		}
	}
	return 0;
}
