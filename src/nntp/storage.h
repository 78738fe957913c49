/*
 * storage.h: the news service's storage, behind one narrow interface (as
 * INN's storage API: store/retrieve/cancel by token, overview
 * open/search/close), so that a second engine can be added later.  The
 * engine today is SQLite in WAL mode (store_sqlite.c), one database file
 * news.db in the service's storage directory.
 *
 * Durability: store_add only stages an article in the open batch; it is
 * durable, and may be acknowledged (235, 239, 240), only once store_commit
 * has returned 0.  The protocol layer commits a batch when it reaches
 * NNTP_COMMIT_BATCH_MAX articles or is commit_delay old (group
 * commit), then sends every acknowledgement that waited for it.  A failed
 * commit rolls the whole batch back: its articles were never there.
 *
 * Memory: results that outlive a call are copied into the region the
 * caller passes (typically its request region); callbacks receive
 * pointers valid only during the callback.  No call keeps or frees caller
 * memory.  Errors: -1 (logged, rate-limited, inside the engine).
 */
#ifndef HF_NNTP_STORAGE_H
#define HF_NNTP_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "nntp_limits.h"

struct region;
struct store;

struct store_group {
	char name[NNTP_GROUP_MAX_BYTES + 1];
	uint64_t low;            /* lowest article number present (high + 1 if empty, per RFC 3977 6.1.1.2) */
	uint64_t high;           /* highest number ever assigned */
	uint64_t count;          /* articles present */
	char status;             /* 'y' posting allowed, 'n' not, 'm' moderated */
	int64_t created;         /* epoch seconds */
	char creator[64];
	char description[256];
};

/* An article to store: the text exactly as it will be served (CRLF line
 * endings, no dot-stuffing, our Path/Xref/Injection-* already in it). */
struct store_new {
	const char *msgid;
	size_t msgid_len;
	const char *const *groups;    /* NUL-terminated names, only groups that exist here */
	size_t ngroups;
	const uint8_t *text;
	size_t len;
	size_t header_len;            /* bytes of header section incl. the empty line */
	/* Overview fields (RFC 3977 8.3), raw header values (unfolded by the engine). */
	const char *subject, *from, *date, *references;
	size_t subject_len, from_len, date_len, references_len;
	uint32_t lines;
	int64_t arrived;              /* epoch seconds */
	int64_t posted;               /* Date header, epoch seconds (for expiry by age) */
};

/* An article read back, copied into the caller's region. */
struct store_text {
	uint8_t *text;
	size_t len;
	size_t header_len;
	char msgid[NNTP_MSGID_MAX_BYTES + 1];
	uint64_t number;              /* in the group asked for, or 0 when fetched by message-id */
};

/* One overview record; pointers valid during the callback only. */
struct store_over {
	uint64_t number;
	const char *subject, *from, *date, *msgid, *references, *xref;
	uint64_t bytes;
	uint32_t lines;
};

struct store_opts {
	int synchronous_full;         /* 1: fsync on every commit (the default, for the ack rule) */
};

/* Opens (creating if needed) news.db inside the directory dirfd/dir. */
int store_open(struct store **out, const char *dir, const struct store_opts *o, char *err, size_t errlen);
void store_close(struct store *s);

/* Groups.  get: 0 found, 1 not found, -1 error. */
int store_group_get(struct store *s, const char *name, struct store_group *out);
int store_group_create(struct store *s, const char *name, char status, const char *creator, const char *description);
int store_group_set_status(struct store *s, const char *name, char status);
int store_group_remove(struct store *s, const char *name);     /* its articles go too */
/* Every group created at or after since (0: all), in name order. cb returning non-zero stops. */
int store_group_each(struct store *s, int64_t since, int (*cb)(void *arg, const struct store_group *g), void *arg);

/* Articles.  have: 1 present or seen before (history), 0 never seen, -1 error. */
int store_have(struct store *s, const char *msgid, size_t len);
/* Stages a with the next number in each group; numbers[i] receives the
 * number in groups[i] (for Xref).  The text must already carry its Xref:
 * call store_peek_numbers first to learn them.  0, or -1. */
int store_peek_numbers(struct store *s, const char *const *groups, size_t ngroups, uint64_t *numbers);
int store_add(struct store *s, const struct store_new *a, uint64_t *numbers);
int store_commit(struct store *s);
size_t store_batch_size(const struct store *s);    /* articles staged, not yet committed */
/* Remembers a refused message-id for a while, so feeds don't resend it (437/439). */
int store_remember_rejected(struct store *s, const char *msgid, size_t len, int64_t now);

/* Retrieval: 0 found, 1 not found, -1 error.  Text goes in r. */
int store_get_by_msgid(struct store *s, const char *msgid, size_t len, struct region *r, struct store_text *out);
int store_get_by_number(struct store *s, const char *group, uint64_t number, struct region *r,
                        struct store_text *out);
/* Message-id of group:number without the text (STAT), into out. 0/1/-1. */
int store_stat_number(struct store *s, const char *group, uint64_t number, char *msgid, size_t msgid_size);
/* The nearest existing number after (dir > 0) or before (dir < 0) number. 0/1/-1. */
int store_step(struct store *s, const char *group, uint64_t number, int dir, uint64_t *out);
/* Numbers in [lo, hi] present in group, ascending. */
int store_listgroup(struct store *s, const char *group, uint64_t lo, uint64_t hi,
                    int (*cb)(void *arg, uint64_t number), void *arg);
/* Overview of [lo, hi] in group, ascending. */
int store_over_range(struct store *s, const char *group, uint64_t lo, uint64_t hi,
                     int (*cb)(void *arg, const struct store_over *o), void *arg);
/* Overview of one article by message-id (number 0). 0/1/-1. */
int store_over_msgid(struct store *s, const char *msgid, size_t len,
                     int (*cb)(void *arg, const struct store_over *o), void *arg);
/* Message-ids of articles that arrived at or after since, in any group for
 * which group_ok(arg, name) returns 1. */
int store_newnews(struct store *s, int64_t since, int (*group_ok)(void *arg, const char *group),
                  int (*cb)(void *arg, const char *msgid), void *arg);

/* Removes an article everywhere (cancel); 0 removed, 1 not found. */
int store_cancel(struct store *s, const char *msgid, size_t len);
/* Removes articles posted before cutoff (epoch) in groups for which
 * group_ok returns 1; *removed counts them. */
int store_expire(struct store *s, int64_t cutoff, int (*group_ok)(void *arg, const char *group), void *arg,
                 uint64_t *removed);

/* Outgoing feeds: a durable queue per peer, written in the same
 * transaction as the article (store_add's batch). */
int store_feed_enqueue(struct store *s, const char *peer, const char *msgid, size_t len);
/* Up to max queued message-ids for peer, oldest first. */
int store_feed_peek(struct store *s, const char *peer, size_t max, int (*cb)(void *arg, const char *msgid),
                    void *arg);
int store_feed_done(struct store *s, const char *peer, const char *msgid, size_t len);
uint64_t store_feed_backlog(struct store *s, const char *peer);

/* PRAGMA integrity_check: 0 ok, -1 not (message in err). */
int store_check(struct store *s, char *err, size_t errlen);

#endif
