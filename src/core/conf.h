/*
 * conf.h: the configuration file.
 *
 * Syntax: one file; "[section]" headers; "key = value" lines; blank lines
 * and lines whose first non-blank character is '#' or ';' are ignored
 * (there are no trailing comments: '#' inside a value is part of it).
 * Keys are lowercase [a-z0-9_]; a key may appear once per section and a
 * section once per file.
 *
 * Reading happens in two steps.  conf_load() checks the syntax and keeps
 * every entry with its line number.  conf_apply() binds one section to
 * tables of typed keys, filling defaults first; an unknown key, a missing
 * required key or a bad value is an error naming file, line and key.
 * Finally conf_check_claimed() reports any section nobody applied.
 *
 * Values: strings; booleans (yes/no/true/false/on/off/1/0); integers;
 * sizes with optional k/m/g suffix (powers of 1024: "64k", "1m"); durations
 * with ms/s/m/h/d suffix ("30s", "500ms"; a bare number is seconds),
 * stored in milliseconds; paths, made absolute relative to the directory
 * of the configuration file; lists, comma-separated, items trimmed.
 */
#ifndef HF_CONF_H
#define HF_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "hf_limits.h"

enum conf_type {
	CONF_STR,       /* char *          (malloc'd, owned by the caller's struct; conf_free_values frees) */
	CONF_PATH,      /* char *          absolute */
	CONF_BOOL,      /* int             0/1 */
	CONF_INT,       /* uint64_t        min..max */
	CONF_SIZE,      /* uint64_t bytes  min..max */
	CONF_DURATION,  /* uint64_t ms     min..max */
	CONF_LIST,      /* struct conf_list */
};

struct conf_list {
	size_t n;
	char *v[CONF_LIST_MAX_ITEMS];
};

struct conf_key {
	const char *name;
	enum conf_type type;
	const char *def;     /* default as text; NULL means required */
	size_t offset;       /* offsetof(the caller's struct, field) */
	uint64_t min, max;   /* INT, SIZE, DURATION (max 0: no upper bound) */
};
#define CONF_KEYS_END { NULL, 0, NULL, 0, 0, 0 }

/* One table of keys and the struct it fills. */
struct conf_binding {
	const struct conf_key *keys;
	void *base;
};

struct conf;
struct conf_section;

/* NULL with "file:line: message" in err on a syntax or I/O error. */
struct conf *conf_load(const char *path, char *err, size_t errlen);
/* Same, from memory; name is used in messages and dir for relative paths. */
struct conf *conf_load_buf(const char *name, const char *dir, const char *text, size_t len, char *err, size_t errlen);
void conf_free(struct conf *c);
const char *conf_path(const struct conf *c);

/* Sections in file order. */
size_t conf_section_count(const struct conf *c);
struct conf_section *conf_section_at(struct conf *c, size_t i);
struct conf_section *conf_section_find(struct conf *c, const char *name);
const char *conf_section_name(const struct conf_section *s);
unsigned conf_section_line(const struct conf_section *s);

/* Fills every binding's defaults, then the section's values.  s may be
 * NULL (defaults only).  Marks s claimed.  0, or -1 with err. */
int conf_apply(struct conf *c, struct conf_section *s, const struct conf_binding *b, size_t nb,
               char *err, size_t errlen);
/* Frees the strings and lists conf_apply stored for these bindings. */
void conf_free_values(const struct conf_binding *b, size_t nb);
/* -1 with "file:line: unknown section [x]" if a section was never applied. */
int conf_check_claimed(struct conf *c, char *err, size_t errlen);

/* Value parsers, also for command-line arguments.  0 or -1. */
int conf_parse_size(const char *s, uint64_t *out);
int conf_parse_duration_ms(const char *s, uint64_t *out);
int conf_parse_bool(const char *s, int *out);

#endif
