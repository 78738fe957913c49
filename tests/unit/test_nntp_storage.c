/*
 * test_nntp_storage.c: unit tests for src/nntp/store_sqlite.c through
 * storage.h.
 *
 * Each test gets a fresh store in a mkdtemp directory.  Covers groups,
 * ingest and group commit (numbering, cross-posts, a failing article
 * inside a batch, durability only at commit), the history (present,
 * rejected, expired, cancelled), NEXT/LAST, LISTGROUP/OVER ranges at their
 * edges, overview unfolding, NEWNEWS, expiry, cancel, group removal, feed
 * queues, the integrity check, message-ids that are not NUL-terminated
 * (exact-size heap copies, so ASan catches an over-read), a region too
 * small for an article, and misuse that the engine must refuse (callback
 * re-entry, numbers changed between peek and add by another writer).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "nntp/storage.h"
#include "region.h"

struct fx {
	char dir[64];
	struct store *s;
};

static struct store *
fx_open(struct fx *f)
{
	char err[256];
	struct store *s = NULL;
	struct store_opts o = { .synchronous_full = 1 };

	if (store_open(&s, f->dir, &o, err, sizeof err) != 0)
		fail_msg("store_open: %s", err);
	return s;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/hf-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->s = fx_open(f);
	*state = f;
	return 0;
}

static void
fx_unlink(const struct fx *f, const char *suffix)
{
	char path[128];

	snprintf(path, sizeof path, "%s/news.db%s", f->dir, suffix);
	unlink(path);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	fx_unlink(f, "");
	fx_unlink(f, "-wal");
	fx_unlink(f, "-shm");
	rmdir(f->dir);
	free(f);
	return 0;
}

/* An article "<id>" in groups, with the given Subject and times. */
struct art {
	char msgid[64];
	char text[1024];
	struct store_new n;
};

static void
art_make(struct art *a, const char *id, const char *const *groups, size_t ngroups, const char *subject,
         int64_t posted, int64_t arrived)
{
	int hl, len;

	memset(a, 0, sizeof *a);
	snprintf(a->msgid, sizeof a->msgid, "<%s@test.example>", id);
	hl = snprintf(a->text, sizeof a->text, "Message-ID: %s\r\nSubject: %s\r\nFrom: a@b.example\r\n\r\n",
	              a->msgid, subject);
	len = hl + snprintf(a->text + hl, sizeof a->text - (size_t)hl, "body of %s\r\nline 2\r\n", id);
	a->n.msgid = a->msgid;
	a->n.msgid_len = strlen(a->msgid);
	a->n.groups = groups;
	a->n.ngroups = ngroups;
	a->n.text = (const uint8_t *)a->text;
	a->n.len = (size_t)len;
	a->n.header_len = (size_t)hl;
	a->n.subject = subject;
	a->n.subject_len = strlen(subject);
	a->n.from = "a@b.example";
	a->n.from_len = strlen(a->n.from);
	a->n.date = "Mon, 23 Nov 2026 12:00:00 +0000";
	a->n.date_len = strlen(a->n.date);
	a->n.references = "";
	a->n.references_len = 0;
	a->n.lines = 2;
	a->n.posted = posted;
	a->n.arrived = arrived;
}

/* Adds (not commits) an article; returns store_add's result. */
static int
add(struct store *s, const char *id, const char *const *groups, size_t ngroups, int64_t posted, int64_t arrived,
    uint64_t *numbers)
{
	struct art a;
	uint64_t tmp[NNTP_GROUPS_PER_ARTICLE_MAX];

	art_make(&a, id, groups, ngroups, "subject", posted, arrived);
	return store_add(s, &a.n, numbers != NULL ? numbers : tmp);
}

static int
have(struct store *s, const char *id)
{
	char m[64];

	snprintf(m, sizeof m, "<%s@test.example>", id);
	return store_have(s, m, strlen(m));
}

static void
group_expect(struct store *s, const char *name, uint64_t low, uint64_t high, uint64_t count)
{
	struct store_group g;

	assert_int_equal(store_group_get(s, name, &g), 0);
	assert_int_equal(g.low, low);
	assert_int_equal(g.high, high);
	assert_int_equal(g.count, count);
}

/* Collects numbers from listgroup; stops after `stop` if non-zero. */
struct nums {
	uint64_t v[64];
	size_t n;
	size_t stop;
};

static int
nums_cb(void *arg, uint64_t number)
{
	struct nums *ns = arg;

	if (ns->n < 64)
		ns->v[ns->n] = number;
	ns->n++;
	return ns->stop != 0 && ns->n >= ns->stop;
}

struct overs {
	size_t n;
	uint64_t number[16];
	char subject[16][128];
	char from[16][128];
	char references[16][128];
	char xref[16][256];
	char msgid[16][64];
	uint64_t bytes[16];
	uint32_t lines[16];
};

static int
over_cb(void *arg, const struct store_over *o)
{
	struct overs *ov = arg;

	if (ov->n < 16) {
		ov->number[ov->n] = o->number;
		snprintf(ov->subject[ov->n], sizeof ov->subject[0], "%s", o->subject);
		snprintf(ov->from[ov->n], sizeof ov->from[0], "%s", o->from);
		snprintf(ov->references[ov->n], sizeof ov->references[0], "%s", o->references);
		snprintf(ov->xref[ov->n], sizeof ov->xref[0], "%s", o->xref);
		snprintf(ov->msgid[ov->n], sizeof ov->msgid[0], "%s", o->msgid);
		ov->bytes[ov->n] = o->bytes;
		ov->lines[ov->n] = o->lines;
	}
	ov->n++;
	return 0;
}

static void
mkgroups(struct store *s)
{
	assert_int_equal(store_group_create(s, "alt.a", 'y', "tester", "group a"), 0);
	assert_int_equal(store_group_create(s, "alt.b", 'y', "tester", "group b"), 0);
	assert_int_equal(store_group_create(s, "alt.c", 'm', NULL, NULL), 0);
}

static const char *const GA[] = { "alt.a" };
static const char *const GB[] = { "alt.b" };
static const char *const GAB[] = { "alt.a", "alt.b" };

/* ---- tests ---- */

static void
test_open_schema_and_pragmas(void **state)
{
	struct fx *f = *state;
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *q;

	/* A second open of an existing store keeps working (IF NOT EXISTS). */
	store_close(f->s);
	f->s = fx_open(f);
	snprintf(path, sizeof path, "%s/news.db", f->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

static void
test_open_refuses_newer_schema(void **state)
{
	struct fx *f = *state;
	char path[128], err[256];
	struct store *s2 = NULL;
	sqlite3 *db;

	store_close(f->s);
	f->s = NULL;
	snprintf(path, sizeof path, "%s/news.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(&s2, f->dir, NULL, err, sizeof err), -1);
	assert_null(s2);
	assert_non_null(strstr(err, "newer"));
	/* A directory that does not exist. */
	assert_int_equal(store_open(&s2, "/nonexistent/hf-store", NULL, err, sizeof err), -1);
	assert_null(s2);
}

struct glist {
	char names[8][NNTP_GROUP_MAX_BYTES + 1];
	size_t n;
	size_t stop;
};

static int
glist_cb(void *arg, const struct store_group *g)
{
	struct glist *l = arg;

	if (l->n < 8)
		snprintf(l->names[l->n], sizeof l->names[0], "%s", g->name);
	l->n++;
	return l->stop != 0 && l->n >= l->stop;
}

static void
test_groups(void **state)
{
	struct fx *f = *state;
	struct store_group g;
	struct glist l;
	char longname[NNTP_GROUP_MAX_BYTES + 2];
	char longdesc[400];

	assert_int_equal(store_group_get(f->s, "alt.a", &g), 1);
	assert_int_equal(store_group_create(f->s, "alt.b", 'y', "me", "second"), 0);
	assert_int_equal(store_group_create(f->s, "alt.a", 'm', "me", "first"), 0);
	assert_int_equal(store_group_create(f->s, "alt.a", 'y', "other", "again"), 1);    /* exists: unchanged */
	assert_int_equal(store_group_create(f->s, "alt.x", 'q', "me", ""), -1);           /* bad status */
	assert_int_equal(store_group_create(f->s, "", 'y', "me", ""), -1);
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_int_equal(store_group_create(f->s, longname, 'y', "me", ""), -1);         /* limit + 1 */
	longname[NNTP_GROUP_MAX_BYTES] = '\0';
	assert_int_equal(store_group_create(f->s, longname, 'y', "me", ""), 0);          /* at the limit */
	memset(longdesc, 'd', sizeof longdesc - 1);
	longdesc[sizeof longdesc - 1] = '\0';
	assert_int_equal(store_group_create(f->s, "alt.long", 'n', "me", longdesc), 0);  /* cut to fit */
	assert_int_equal(store_group_get(f->s, "alt.long", &g), 0);
	assert_int_equal(strlen(g.description), sizeof g.description - 1);

	assert_int_equal(store_group_get(f->s, "alt.a", &g), 0);
	assert_string_equal(g.name, "alt.a");
	assert_int_equal(g.status, 'm');
	assert_string_equal(g.creator, "me");
	assert_string_equal(g.description, "first");
	assert_int_equal(g.low, 1);
	assert_int_equal(g.high, 0);
	assert_int_equal(g.count, 0);
	assert_true(g.created > 0);

	assert_int_equal(store_group_set_status(f->s, "alt.a", 'n'), 0);
	assert_int_equal(store_group_get(f->s, "alt.a", &g), 0);
	assert_int_equal(g.status, 'n');
	assert_int_equal(store_group_set_status(f->s, "alt.none", 'y'), 1);
	assert_int_equal(store_group_set_status(f->s, "alt.a", 'z'), -1);

	/* In name order; since filters; a callback stops early. */
	memset(&l, 0, sizeof l);
	assert_int_equal(store_group_each(f->s, 0, glist_cb, &l), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.names[0], longname);
	assert_string_equal(l.names[1], "alt.a");
	assert_string_equal(l.names[2], "alt.b");
	assert_string_equal(l.names[3], "alt.long");
	memset(&l, 0, sizeof l);
	assert_int_equal(store_group_each(f->s, g.created + 3600, glist_cb, &l), 0);
	assert_int_equal(l.n, 0);
	memset(&l, 0, sizeof l);
	l.stop = 2;
	assert_int_equal(store_group_each(f->s, g.created, glist_cb, &l), 0);
	assert_int_equal(l.n, 2);

	assert_int_equal(store_group_remove(f->s, "alt.b"), 0);
	assert_int_equal(store_group_remove(f->s, "alt.b"), 1);
	assert_int_equal(store_group_get(f->s, "alt.b", &g), 1);
	memset(&l, 0, sizeof l);
	assert_int_equal(store_group_each(f->s, 0, glist_cb, &l), 0);
	assert_int_equal(l.n, 3);
}

static void
test_add_commit_get(void **state)
{
	struct fx *f = *state;
	struct region *r = region_new(NULL, "req", REGION_UNLIMITED);
	struct store_text t;
	struct art a;
	uint64_t num[1] = { 0 };
	char msgid[NNTP_MSGID_MAX_BYTES + 1];

	mkgroups(f->s);
	art_make(&a, "one", GA, 1, "hello", 1000, 2000);
	assert_int_equal(store_batch_size(f->s), 0);
	assert_int_equal(store_add(f->s, &a.n, num), 0);
	assert_int_equal(num[0], 1);
	assert_int_equal(store_batch_size(f->s), 1);
	/* Reads on the same connection see the staged batch. */
	assert_int_equal(have(f->s, "one"), 1);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_batch_size(f->s), 0);
	assert_int_equal(store_commit(f->s), 0);    /* nothing open: a no-op */

	memset(&t, 0, sizeof t);
	assert_int_equal(store_get_by_msgid(f->s, a.msgid, strlen(a.msgid), r, &t), 0);
	assert_int_equal(t.len, a.n.len);
	assert_memory_equal(t.text, a.text, a.n.len);
	assert_int_equal(t.header_len, a.n.header_len);
	assert_string_equal(t.msgid, a.msgid);
	assert_int_equal(t.number, 0);

	memset(&t, 0, sizeof t);
	assert_int_equal(store_get_by_number(f->s, "alt.a", 1, r, &t), 0);
	assert_int_equal(t.len, a.n.len);
	assert_memory_equal(t.text, a.text, a.n.len);
	assert_int_equal(t.number, 1);
	assert_string_equal(t.msgid, a.msgid);

	assert_int_equal(store_get_by_number(f->s, "alt.a", 2, r, &t), 1);
	assert_int_equal(store_get_by_number(f->s, "alt.a", 0, r, &t), 1);
	assert_int_equal(store_get_by_number(f->s, "alt.a", UINT64_MAX, r, &t), 1);
	assert_int_equal(store_get_by_number(f->s, "alt.none", 1, r, &t), 1);
	assert_int_equal(store_get_by_msgid(f->s, "<none@x>", 8, r, &t), 1);

	assert_int_equal(store_stat_number(f->s, "alt.a", 1, msgid, sizeof msgid), 0);
	assert_string_equal(msgid, a.msgid);
	assert_int_equal(store_stat_number(f->s, "alt.a", 1, msgid, 4), -1);    /* too small */
	assert_int_equal(store_stat_number(f->s, "alt.a", 7, msgid, sizeof msgid), 1);

	group_expect(f->s, "alt.a", 1, 1, 1);
	group_expect(f->s, "alt.b", 1, 0, 0);
	region_release(r);
}

static void
test_numbers_and_crosspost(void **state)
{
	struct fx *f = *state;
	const char *const dup[] = { "alt.b", "alt.a", "alt.b" };
	uint64_t peek[NNTP_GROUPS_PER_ARTICLE_MAX], num[NNTP_GROUPS_PER_ARTICLE_MAX];
	struct overs ov;

	mkgroups(f->s);
	assert_int_equal(add(f->s, "a1", GA, 1, 1, 1, num), 0);
	assert_int_equal(num[0], 1);
	assert_int_equal(add(f->s, "a2", GA, 1, 1, 1, num), 0);
	assert_int_equal(num[0], 2);
	assert_int_equal(add(f->s, "b1", GB, 1, 1, 1, num), 0);
	assert_int_equal(num[0], 1);
	/* Peek inside an open batch agrees with what add then assigns. */
	assert_int_equal(store_peek_numbers(f->s, GAB, 2, peek), 0);
	assert_int_equal(peek[0], 3);
	assert_int_equal(peek[1], 2);
	assert_int_equal(add(f->s, "ab", GAB, 2, 1, 1, num), 0);
	assert_int_equal(num[0], 3);
	assert_int_equal(num[1], 2);
	/* A group named twice gets one number. */
	assert_int_equal(store_peek_numbers(f->s, dup, 3, peek), 0);
	assert_int_equal(peek[0], 3);
	assert_int_equal(peek[1], 4);
	assert_int_equal(peek[2], 3);
	assert_int_equal(add(f->s, "dup", dup, 3, 1, 1, num), 0);
	assert_memory_equal(num, peek, 3 * sizeof num[0]);
	assert_int_equal(store_batch_size(f->s), 5);
	assert_int_equal(store_commit(f->s), 0);

	group_expect(f->s, "alt.a", 1, 4, 4);
	group_expect(f->s, "alt.b", 1, 3, 3);

	memset(&ov, 0, sizeof ov);
	assert_int_equal(store_over_range(f->s, "alt.b", 2, 3, over_cb, &ov), 0);
	assert_int_equal(ov.n, 2);
	assert_string_equal(ov.xref[0], "alt.a:3 alt.b:2");
	assert_string_equal(ov.xref[1], "alt.b:3 alt.a:4");

	/* Not after commit either: numbers continue. */
	assert_int_equal(store_peek_numbers(f->s, GA, 1, peek), 0);
	assert_int_equal(peek[0], 5);
	/* An unknown group, none, too many. */
	{
		const char *const bad[] = { "alt.a", "alt.nowhere" };
		const char *many[NNTP_GROUPS_PER_ARTICLE_MAX + 1];

		for (size_t i = 0; i < NNTP_GROUPS_PER_ARTICLE_MAX + 1; i++)
			many[i] = "alt.a";
		assert_int_equal(store_peek_numbers(f->s, bad, 2, peek), -1);
		assert_int_equal(add(f->s, "bad", bad, 2, 1, 1, num), -1);
		assert_int_equal(add(f->s, "none", GA, 0, 1, 1, num), -1);
		assert_int_equal(add(f->s, "many", many, NNTP_GROUPS_PER_ARTICLE_MAX + 1, 1, 1, num), -1);
		assert_int_equal(add(f->s, "max", many, NNTP_GROUPS_PER_ARTICLE_MAX, 1, 1, num), 0);
		assert_int_equal(num[0], 5);
		assert_int_equal(num[NNTP_GROUPS_PER_ARTICLE_MAX - 1], 5);
	}
	assert_int_equal(store_batch_size(f->s), 1);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(have(f->s, "bad"), 0);
	group_expect(f->s, "alt.a", 1, 5, 5);
}

static void
test_batch_failure_isolated(void **state)
{
	struct fx *f = *state;
	uint64_t num[1];

	mkgroups(f->s);
	assert_int_equal(add(f->s, "x1", GA, 1, 1, 1, num), 0);
	assert_int_equal(add(f->s, "x2", GA, 1, 1, 1, num), 0);
	/* The UNIQUE backstop: a duplicate inside the batch fails alone. */
	assert_int_equal(add(f->s, "x1", GA, 1, 1, 1, num), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(store_batch_size(f->s), 2);
	assert_int_equal(add(f->s, "x3", GA, 1, 1, 1, num), 0);
	assert_int_equal(num[0], 3);    /* the failed article used no number */
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(have(f->s, "x1"), 1);
	assert_int_equal(have(f->s, "x2"), 1);
	assert_int_equal(have(f->s, "x3"), 1);
	group_expect(f->s, "alt.a", 1, 3, 3);

	/* A duplicate of a committed article, as the only one of a batch:
	 * refused, and the write lock is not kept (another connection can
	 * write at once). */
	assert_int_equal(add(f->s, "x2", GA, 1, 1, 1, num), -1);
	assert_int_equal(store_batch_size(f->s), 0);
	{
		struct store *s2 = fx_open(f);

		assert_int_equal(store_group_create(s2, "alt.other", 'y', "", ""), 0);
		store_close(s2);
	}
	group_expect(f->s, "alt.a", 1, 3, 3);
}

/* A failure after the article row is in (here the art_group insert, made
 * to collide by a row planted behind the engine's back) must take the
 * article's other rows with it, and leave the rest of the batch staged. */
static void
test_batch_late_failure_rolls_back_article(void **state)
{
	struct fx *f = *state;
	char path[128];
	uint64_t num[2];
	sqlite3 *db;

	mkgroups(f->s);
	assert_int_equal(add(f->s, "x1", GA, 1, 1, 1, num), 0);
	assert_int_equal(store_commit(f->s), 0);
	snprintf(path, sizeof path, "%s/news.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "INSERT INTO art_group(group_id, number, article_id) VALUES("
	                              "(SELECT id FROM groups WHERE name = 'alt.b'), 1, (SELECT min(id) FROM articles))",
	                              NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(add(f->s, "y1", GA, 1, 1, 1, num), 0);
	assert_int_equal(num[0], 2);
	assert_int_equal(add(f->s, "y2", GAB, 2, 1, 1, num), -1);    /* alt.b:1 is taken */
	assert_int_equal(have(f->s, "y2"), 0);
	assert_int_equal(store_batch_size(f->s), 1);
	assert_int_equal(add(f->s, "y3", GA, 1, 1, 1, num), 0);
	assert_int_equal(num[0], 3);    /* y2's alt.a:3 was undone too */
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(have(f->s, "y1"), 1);
	assert_int_equal(have(f->s, "y2"), 0);
	assert_int_equal(have(f->s, "y3"), 1);
	group_expect(f->s, "alt.a", 1, 3, 3);
	group_expect(f->s, "alt.b", 1, 0, 0);
	{
		struct overs ov;

		memset(&ov, 0, sizeof ov);
		assert_int_equal(store_over_msgid(f->s, "<y2@test.example>", 17, over_cb, &ov), 1);
	}
}

/* Makes every file write past limit bytes fail (EFBIG), so SQLite sees a
 * full disk; restored by fsize_unlimit. */
static struct rlimit fsize_saved;

static void
fsize_limit(off_t limit)
{
	struct rlimit rl;

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &fsize_saved), 0);
	rl = fsize_saved;
	rl.rlim_cur = (rlim_t)limit;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void
fsize_unlimit(void)
{
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &fsize_saved), 0);
	signal(SIGXFSZ, SIG_DFL);
}

static off_t
wal_size(const struct fx *f)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof path, "%s/news.db-wal", f->dir);
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* A big article: its pages cannot all stay in the 2 MiB page cache. */
static int
add_big(struct store *s, const char *id, size_t body)
{
	struct art a;
	uint8_t *text = malloc(body);
	uint64_t num[1];
	int rc;

	assert_non_null(text);
	art_make(&a, id, GA, 1, "big", 1, 1);
	memcpy(text, a.text, a.n.header_len);
	memset(text + a.n.header_len, 'b', body - a.n.header_len);
	a.n.text = text;
	a.n.len = body;
	rc = store_add(s, &a.n, num);
	free(text);
	return rc;
}

/* The disk refuses the COMMIT: -1, and the batch was never there. */
static void
test_commit_failure_rolls_back(void **state)
{
	struct fx *f = *state;
	int rc;

	mkgroups(f->s);
	assert_int_equal(add(f->s, "ok1", GA, 1, 1, 1, NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(add(f->s, "w1", GA, 1, 1, 1, NULL), 0);
	assert_int_equal(add_big(f->s, "w2", 512 * 1024), 0);
	fsize_limit(wal_size(f) + 4096);
	rc = store_commit(f->s);
	fsize_unlimit();
	assert_int_equal(rc, -1);
	assert_int_equal(store_batch_size(f->s), 0);
	assert_int_equal(have(f->s, "w1"), 0);
	assert_int_equal(have(f->s, "w2"), 0);
	group_expect(f->s, "alt.a", 1, 1, 1);
	/* Still usable, and the numbers of the lost batch are reused. */
	assert_int_equal(add(f->s, "w3", GA, 1, 1, 1, NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	group_expect(f->s, "alt.a", 1, 2, 2);
	store_close(f->s);
	f->s = fx_open(f);
	assert_int_equal(have(f->s, "w1"), 0);
	assert_int_equal(have(f->s, "w3"), 1);
	assert_int_equal(store_check(f->s, NULL, 0), 0);
}

/* The disk fails in the middle of a batch (the page cache spills a big
 * article): whatever SQLite does with the rest of the batch, store_commit
 * may return 0 only if the staged article really is durable.  A caller
 * that commits only when store_batch_size() > 0 must still be told. */
static void
test_failure_mid_batch_never_acks_lost(void **state)
{
	struct fx *f = *state;
	int add_rc, commit_rc, durable;
	size_t batch;

	mkgroups(f->s);
	assert_int_equal(add(f->s, "ok1", GA, 1, 1, 1, NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(add(f->s, "m1", GA, 1, 1, 1, NULL), 0);
	fsize_limit(wal_size(f) + 4096);
	add_rc = add_big(f->s, "m2", 3 * 1024 * 1024);
	fsize_unlimit();
	assert_int_equal(add_rc, -1);
	batch = store_batch_size(f->s);
	assert_int_equal(batch, 1);    /* m1, staged or lost, still to be answered */
	commit_rc = batch > 0 ? store_commit(f->s) : 0;
	assert_int_equal(store_batch_size(f->s), 0);
	store_close(f->s);
	f->s = fx_open(f);
	durable = have(f->s, "m1");
	assert_int_equal(commit_rc == 0, durable == 1);
	assert_int_equal(have(f->s, "m2"), 0);
	assert_int_equal(store_check(f->s, NULL, 0), 0);
	print_message("mid-batch failure: commit %d, m1 durable %d\n", commit_rc, durable);
}

static void
test_uncommitted_lost_on_close(void **state)
{
	struct fx *f = *state;
	struct store_group g;

	mkgroups(f->s);
	assert_int_equal(add(f->s, "kept", GA, 1, 1, 1, NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(add(f->s, "lost", GA, 1, 1, 1, NULL), 0);
	assert_int_equal(store_feed_enqueue(f->s, "peer", "<lost@test.example>", 19), 0);
	assert_int_equal(have(f->s, "lost"), 1);
	store_close(f->s);
	f->s = fx_open(f);
	assert_int_equal(have(f->s, "kept"), 1);
	assert_int_equal(have(f->s, "lost"), 0);
	assert_int_equal(store_feed_backlog(f->s, "peer"), 0);
	assert_int_equal(store_group_get(f->s, "alt.a", &g), 0);
	assert_int_equal(g.high, 1);
	assert_int_equal(g.count, 1);
}

static void
test_have_and_history(void **state)
{
	struct fx *f = *state;

	mkgroups(f->s);
	assert_int_equal(add(f->s, "present", GA, 1, 100, 100, NULL), 0);
	assert_int_equal(add(f->s, "old", GA, 1, 10, 10, NULL), 0);
	assert_int_equal(add(f->s, "cancelme", GA, 1, 100, 100, NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	/* Offered again later: refreshed, so the prune below (seen < 50) keeps it. */
	assert_int_equal(store_remember_rejected(f->s, "<rej@test.example>", 18, 40), 0);
	assert_int_equal(store_remember_rejected(f->s, "<rej@test.example>", 18, 60), 0);
	assert_int_equal(store_remember_rejected(f->s, "<stale@test.example>", 20, 40), 0);
	assert_int_equal(have(f->s, "stale"), 1);
	assert_int_equal(store_expire(f->s, 50, NULL, NULL, NULL), 0);
	assert_int_equal(store_cancel(f->s, "<cancelme@test.example>", 23), 0);

	assert_int_equal(have(f->s, "present"), 1);
	assert_int_equal(have(f->s, "rej"), 1);
	assert_int_equal(have(f->s, "old"), 1);         /* expired, still a duplicate */
	assert_int_equal(have(f->s, "cancelme"), 1);    /* cancelled, too */
	assert_int_equal(have(f->s, "never"), 0);
	assert_int_equal(have(f->s, "stale"), 0);       /* remembered before the cutoff: pruned */
	assert_int_equal(store_have(f->s, "", 0), 0);
	assert_int_equal(store_remember_rejected(f->s, "<bad", 0, 1), -1);
}

static void
test_step_edges(void **state)
{
	struct fx *f = *state;
	uint64_t n = 0;

	mkgroups(f->s);
	for (int i = 0; i < 4; i++) {
		char id[16];

		snprintf(id, sizeof id, "s%d", i + 1);
		assert_int_equal(add(f->s, id, GA, 1, 1, 1, NULL), 0);
	}
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_cancel(f->s, "<s3@test.example>", 17), 0);

	assert_int_equal(store_step(f->s, "alt.a", 1, 1, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_step(f->s, "alt.a", 2, 1, &n), 0);
	assert_int_equal(n, 4);    /* skips the cancelled 3 */
	assert_int_equal(store_step(f->s, "alt.a", 4, 1, &n), 1);
	assert_int_equal(store_step(f->s, "alt.a", UINT64_MAX, 1, &n), 1);
	assert_int_equal(store_step(f->s, "alt.a", 4, -1, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_step(f->s, "alt.a", 1, -1, &n), 1);
	assert_int_equal(store_step(f->s, "alt.a", 0, -1, &n), 1);
	assert_int_equal(store_step(f->s, "alt.a", UINT64_MAX, -1, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(store_step(f->s, "alt.a", 0, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_step(f->s, "alt.b", 0, 1, &n), 1);       /* empty group */
	assert_int_equal(store_step(f->s, "alt.none", 0, 1, &n), 1);
	assert_int_equal(store_step(f->s, "alt.a", 1, 0, &n), -1);
}

static void
test_ranges(void **state)
{
	struct fx *f = *state;
	struct nums ns;
	struct overs ov;

	mkgroups(f->s);
	for (int i = 0; i < 5; i++) {
		char id[16];

		snprintf(id, sizeof id, "r%d", i + 1);
		assert_int_equal(add(f->s, id, GA, 1, 1, 1, NULL), 0);
	}
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_cancel(f->s, "<r2@test.example>", 17), 0);

	memset(&ns, 0, sizeof ns);
	assert_int_equal(store_listgroup(f->s, "alt.a", 1, 5, nums_cb, &ns), 0);
	assert_int_equal(ns.n, 4);
	assert_int_equal(ns.v[0], 1);
	assert_int_equal(ns.v[1], 3);
	assert_int_equal(ns.v[3], 5);
	memset(&ns, 0, sizeof ns);
	assert_int_equal(store_listgroup(f->s, "alt.a", 3, 3, nums_cb, &ns), 0);
	assert_int_equal(ns.n, 1);
	memset(&ns, 0, sizeof ns);
	assert_int_equal(store_listgroup(f->s, "alt.a", 2, 2, nums_cb, &ns), 0);    /* the hole */
	assert_int_equal(ns.n, 0);
	memset(&ns, 0, sizeof ns);
	assert_int_equal(store_listgroup(f->s, "alt.a", 6, 100, nums_cb, &ns), 0);  /* past the end */
	assert_int_equal(ns.n, 0);
	memset(&ns, 0, sizeof ns);
	assert_int_equal(store_listgroup(f->s, "alt.a", 4, 2, nums_cb, &ns), 0);    /* inverted */
	assert_int_equal(ns.n, 0);
	memset(&ns, 0, sizeof ns);
	assert_int_equal(store_listgroup(f->s, "alt.a", UINT64_MAX, 0, nums_cb, &ns), 0);
	assert_int_equal(ns.n, 0);
	memset(&ns, 0, sizeof ns);
	assert_int_equal(store_listgroup(f->s, "alt.a", 0, UINT64_MAX, nums_cb, &ns), 0);  /* "N-" */
	assert_int_equal(ns.n, 4);
	memset(&ns, 0, sizeof ns);
	ns.stop = 2;
	assert_int_equal(store_listgroup(f->s, "alt.a", 0, UINT64_MAX, nums_cb, &ns), 0);
	assert_int_equal(ns.n, 2);
	memset(&ns, 0, sizeof ns);
	assert_int_equal(store_listgroup(f->s, "alt.b", 0, UINT64_MAX, nums_cb, &ns), 0);
	assert_int_equal(ns.n, 0);
	assert_int_equal(store_listgroup(f->s, "alt.none", 0, UINT64_MAX, nums_cb, &ns), 1);

	memset(&ov, 0, sizeof ov);
	assert_int_equal(store_over_range(f->s, "alt.a", 2, 4, over_cb, &ov), 0);
	assert_int_equal(ov.n, 2);
	assert_int_equal(ov.number[0], 3);
	assert_int_equal(ov.number[1], 4);
	assert_string_equal(ov.msgid[0], "<r3@test.example>");
	assert_int_equal(ov.lines[0], 2);
	assert_true(ov.bytes[0] > 0);
	memset(&ov, 0, sizeof ov);
	assert_int_equal(store_over_range(f->s, "alt.a", 5, 1, over_cb, &ov), 0);
	assert_int_equal(ov.n, 0);
	assert_int_equal(store_over_range(f->s, "alt.a", 10, UINT64_MAX, over_cb, &ov), 0);
	assert_int_equal(ov.n, 0);
	assert_int_equal(store_over_range(f->s, "alt.none", 1, 2, over_cb, &ov), 1);
}

static void
test_overview_unfolding(void **state)
{
	struct fx *f = *state;
	static const char subject[] = "Hello\r\n\tfolded\tworld\r\n again";
	static const char refs[] = "<a@b>\r\n <c@d>\t<e@f>";
	static const char from[] = "Name\r\n <n@x.example>";
	struct overs ov;
	struct art a;
	uint64_t num[1];

	mkgroups(f->s);
	art_make(&a, "fold", GA, 1, subject, 1, 1);
	a.n.references = refs;
	a.n.references_len = strlen(refs);
	a.n.from = from;
	a.n.from_len = strlen(from);
	assert_int_equal(store_add(f->s, &a.n, num), 0);
	assert_int_equal(store_commit(f->s), 0);

	memset(&ov, 0, sizeof ov);
	assert_int_equal(store_over_range(f->s, "alt.a", 1, 1, over_cb, &ov), 0);
	assert_int_equal(ov.n, 1);
	assert_string_equal(ov.subject[0], "Hello folded world again");
	assert_string_equal(ov.references[0], "<a@b> <c@d> <e@f>");
	assert_string_equal(ov.from[0], "Name <n@x.example>");
	assert_string_equal(ov.xref[0], "alt.a:1");
	assert_int_equal(ov.bytes[0], a.n.len);

	memset(&ov, 0, sizeof ov);
	assert_int_equal(store_over_msgid(f->s, a.msgid, strlen(a.msgid), over_cb, &ov), 0);
	assert_int_equal(ov.n, 1);
	assert_int_equal(ov.number[0], 0);
	assert_string_equal(ov.subject[0], "Hello folded world again");
	assert_int_equal(store_over_msgid(f->s, "<no@x>", 6, over_cb, &ov), 1);
}

struct nn {
	size_t n;
	char ids[8][64];
	const char *only;    /* group_ok accepts only this group, or all if NULL */
};

static int
nn_group_ok(void *arg, const char *group)
{
	struct nn *x = arg;

	return x->only == NULL || strcmp(group, x->only) == 0;
}

static int
nn_cb(void *arg, const char *msgid)
{
	struct nn *x = arg;

	if (x->n < 8)
		snprintf(x->ids[x->n], sizeof x->ids[0], "%s", msgid);
	x->n++;
	return 0;
}

static void
test_newnews(void **state)
{
	struct fx *f = *state;
	struct nn x;

	mkgroups(f->s);
	assert_int_equal(add(f->s, "n1", GA, 1, 1, 100, NULL), 0);
	assert_int_equal(add(f->s, "n2", GAB, 2, 1, 200, NULL), 0);
	assert_int_equal(add(f->s, "n3", GB, 1, 1, 300, NULL), 0);
	assert_int_equal(store_commit(f->s), 0);

	memset(&x, 0, sizeof x);
	assert_int_equal(store_newnews(f->s, 150, nn_group_ok, nn_cb, &x), 0);
	assert_int_equal(x.n, 2);    /* the cross-post once */
	assert_string_equal(x.ids[0], "<n2@test.example>");
	assert_string_equal(x.ids[1], "<n3@test.example>");
	memset(&x, 0, sizeof x);
	x.only = "alt.a";
	assert_int_equal(store_newnews(f->s, 0, nn_group_ok, nn_cb, &x), 0);
	assert_int_equal(x.n, 2);
	assert_string_equal(x.ids[0], "<n1@test.example>");
	assert_string_equal(x.ids[1], "<n2@test.example>");
	memset(&x, 0, sizeof x);
	x.only = "alt.b";
	assert_int_equal(store_newnews(f->s, 250, nn_group_ok, nn_cb, &x), 0);
	assert_int_equal(x.n, 1);
	memset(&x, 0, sizeof x);
	assert_int_equal(store_newnews(f->s, 301, nn_group_ok, nn_cb, &x), 0);
	assert_int_equal(x.n, 0);
}

static int
only_a(void *arg, const char *group)
{
	(void)arg;
	return strcmp(group, "alt.a") == 0;
}

static void
test_expire(void **state)
{
	struct fx *f = *state;
	uint64_t removed = 99;
	struct nums ns;

	mkgroups(f->s);
	assert_int_equal(add(f->s, "e1", GA, 1, 10, 10, NULL), 0);     /* a:1 old */
	assert_int_equal(add(f->s, "e2", GAB, 2, 10, 10, NULL), 0);    /* a:2 b:1 old, cross-posted */
	assert_int_equal(add(f->s, "e3", GA, 1, 90, 90, NULL), 0);     /* a:3 new */
	assert_int_equal(add(f->s, "e4", GB, 1, 10, 10, NULL), 0);     /* b:2 old, b not chosen */
	assert_int_equal(add(f->s, "e6", GB, 1, INT64_MAX, 20, NULL), 0);  /* b:3 dated in the future: goes by arrival */
	assert_int_equal(store_commit(f->s), 0);

	assert_int_equal(store_expire(f->s, 50, only_a, NULL, &removed), 0);
	assert_int_equal(removed, 1);    /* e1 left the store; e2 only left alt.a */
	assert_int_equal(have(f->s, "e1"), 1);
	{
		struct region *r = region_new(NULL, "req", REGION_UNLIMITED);
		struct store_text t;

		assert_int_equal(store_get_by_msgid(f->s, "<e1@test.example>", 17, r, &t), 1);
		assert_int_equal(store_get_by_msgid(f->s, "<e2@test.example>", 17, r, &t), 0);
		region_release(r);
	}
	group_expect(f->s, "alt.a", 3, 3, 1);
	group_expect(f->s, "alt.b", 1, 3, 3);
	memset(&ns, 0, sizeof ns);
	assert_int_equal(store_listgroup(f->s, "alt.b", 0, UINT64_MAX, nums_cb, &ns), 0);
	assert_int_equal(ns.n, 3);

	/* All groups: e2, e4 and e6 go; alt.b empties: low = high + 1. */
	assert_int_equal(store_expire(f->s, 50, NULL, NULL, &removed), 0);
	assert_int_equal(removed, 3);
	group_expect(f->s, "alt.b", 4, 3, 0);
	group_expect(f->s, "alt.a", 3, 3, 1);
	assert_int_equal(have(f->s, "e2"), 1);
	assert_int_equal(have(f->s, "e4"), 1);
	/* Numbers are never reused. */
	{
		uint64_t num[1];

		assert_int_equal(add(f->s, "e5", GB, 1, 90, 90, num), 0);
		assert_int_equal(num[0], 4);
		assert_int_equal(store_commit(f->s), 0);
		group_expect(f->s, "alt.b", 4, 4, 1);
	}
	/* A cutoff past the time e1 went to history prunes it. */
	assert_int_equal(store_expire(f->s, (int64_t)time(NULL) + 3600, only_a, NULL, &removed), 0);
	assert_int_equal(removed, 1);    /* e3 */
	assert_int_equal(have(f->s, "e1"), 0);
	group_expect(f->s, "alt.a", 4, 3, 0);
	group_expect(f->s, "alt.b", 4, 4, 1);
	assert_int_equal(store_check(f->s, NULL, 0), 0);
}

static void
test_cancel(void **state)
{
	struct fx *f = *state;
	struct region *r = region_new(NULL, "req", REGION_UNLIMITED);
	struct store_text t;

	mkgroups(f->s);
	assert_int_equal(add(f->s, "c1", GA, 1, 1, 1, NULL), 0);
	assert_int_equal(add(f->s, "c2", GAB, 2, 1, 1, NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_cancel(f->s, "<c2@test.example>", 17), 0);
	assert_int_equal(store_cancel(f->s, "<c2@test.example>", 17), 1);
	assert_int_equal(store_cancel(f->s, "<zz@test.example>", 17), 1);
	assert_int_equal(store_get_by_number(f->s, "alt.a", 2, r, &t), 1);
	assert_int_equal(store_get_by_number(f->s, "alt.b", 1, r, &t), 1);
	group_expect(f->s, "alt.a", 1, 2, 1);
	group_expect(f->s, "alt.b", 2, 1, 0);
	assert_int_equal(store_cancel(f->s, "<c1@test.example>", 17), 0);
	group_expect(f->s, "alt.a", 3, 2, 0);
	assert_int_equal(have(f->s, "c1"), 1);
	assert_int_equal(store_check(f->s, NULL, 0), 0);

	/* Inside an open batch, a cancel joins it. */
	assert_int_equal(add(f->s, "c3", GA, 1, 1, 1, NULL), 0);
	assert_int_equal(store_cancel(f->s, "<c3@test.example>", 17), 0);
	assert_int_equal(store_batch_size(f->s), 1);
	assert_int_equal(store_commit(f->s), 0);
	group_expect(f->s, "alt.a", 4, 3, 0);
	region_release(r);
}

static void
test_group_remove_with_articles(void **state)
{
	struct fx *f = *state;
	struct region *r = region_new(NULL, "req", REGION_UNLIMITED);
	struct store_text t;

	mkgroups(f->s);
	assert_int_equal(add(f->s, "g1", GA, 1, 1, 1, NULL), 0);
	assert_int_equal(add(f->s, "g2", GAB, 2, 1, 1, NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_group_remove(f->s, "alt.a"), 0);
	assert_int_equal(store_get_by_msgid(f->s, "<g1@test.example>", 17, r, &t), 1);
	assert_int_equal(have(f->s, "g1"), 1);
	assert_int_equal(store_get_by_msgid(f->s, "<g2@test.example>", 17, r, &t), 0);
	group_expect(f->s, "alt.b", 1, 1, 1);
	assert_int_equal(store_check(f->s, NULL, 0), 0);
	region_release(r);
}

struct fq {
	size_t n;
	char ids[8][64];
};

static int
fq_cb(void *arg, const char *msgid)
{
	struct fq *q = arg;

	if (q->n < 8)
		snprintf(q->ids[q->n], sizeof q->ids[0], "%s", msgid);
	q->n++;
	return 0;
}

static void
test_feed_queue(void **state)
{
	struct fx *f = *state;
	struct fq q;

	assert_int_equal(store_feed_enqueue(f->s, "peerA", "<f3@x>", 6), 0);
	assert_int_equal(store_feed_enqueue(f->s, "peerA", "<f1@x>", 6), 0);
	assert_int_equal(store_feed_enqueue(f->s, "peerA", "<f2@x>", 6), 0);
	assert_int_equal(store_feed_enqueue(f->s, "peerA", "<f1@x>", 6), 0);    /* again: once */
	assert_int_equal(store_feed_enqueue(f->s, "peerB", "<f1@x>", 6), 0);
	assert_int_equal(store_feed_enqueue(f->s, "", "<f1@x>", 6), -1);
	assert_int_equal(store_feed_backlog(f->s, "peerA"), 3);
	assert_int_equal(store_feed_backlog(f->s, "peerB"), 1);
	assert_int_equal(store_feed_backlog(f->s, "peerC"), 0);

	memset(&q, 0, sizeof q);
	assert_int_equal(store_feed_peek(f->s, "peerA", 2, fq_cb, &q), 0);
	assert_int_equal(q.n, 2);
	assert_string_equal(q.ids[0], "<f3@x>");    /* oldest first */
	assert_string_equal(q.ids[1], "<f1@x>");
	memset(&q, 0, sizeof q);
	assert_int_equal(store_feed_peek(f->s, "peerA", 0, fq_cb, &q), 0);
	assert_int_equal(q.n, 0);

	assert_int_equal(store_feed_done(f->s, "peerA", "<f3@x>", 6), 0);
	assert_int_equal(store_feed_done(f->s, "peerA", "<f3@x>", 6), 0);    /* idempotent */
	assert_int_equal(store_feed_backlog(f->s, "peerA"), 2);
	assert_int_equal(store_feed_backlog(f->s, "peerB"), 1);
	memset(&q, 0, sizeof q);
	assert_int_equal(store_feed_peek(f->s, "peerA", 10, fq_cb, &q), 0);
	assert_int_equal(q.n, 2);
	assert_string_equal(q.ids[0], "<f1@x>");
	assert_string_equal(q.ids[1], "<f2@x>");

	/* Durable only with the batch it joined. */
	mkgroups(f->s);
	assert_int_equal(add(f->s, "fb", GA, 1, 1, 1, NULL), 0);
	assert_int_equal(store_feed_enqueue(f->s, "peerB", "<fb@test.example>", 17), 0);
	assert_int_equal(store_commit(f->s), 0);
	store_close(f->s);
	f->s = fx_open(f);
	assert_int_equal(store_feed_backlog(f->s, "peerB"), 2);
}

static void
test_check_ok(void **state)
{
	struct fx *f = *state;
	char err[128];

	mkgroups(f->s);
	assert_int_equal(add(f->s, "k1", GAB, 2, 1, 1, NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	err[0] = 'x';
	assert_int_equal(store_check(f->s, err, sizeof err), 0);
	assert_string_equal(err, "");
}

/* An exact-size heap copy: any read past len is an ASan error. */
static char *
exact(const char *s, size_t *len)
{
	char *p;

	*len = strlen(s);
	p = malloc(*len);
	assert_non_null(p);
	memcpy(p, s, *len);
	return p;
}

static void
test_msgid_not_nul_terminated(void **state)
{
	struct fx *f = *state;
	struct region *r = region_new(NULL, "req", REGION_UNLIMITED);
	struct store_text t;
	struct overs ov;
	struct art a;
	size_t len;
	char *m = exact("<exact@test.example>", &len);
	char *rej = NULL;
	size_t rlen;

	mkgroups(f->s);
	art_make(&a, "exact", GA, 1, "s", 1, 1);
	a.n.msgid = m;
	a.n.msgid_len = len;
	assert_int_equal(store_have(f->s, m, len), 0);
	assert_int_equal(store_add(f->s, &a.n, (uint64_t[1]){ 0 }), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_have(f->s, m, len), 1);
	/* A prefix of it is another id. */
	assert_int_equal(store_have(f->s, m, len - 1), 0);
	assert_int_equal(store_get_by_msgid(f->s, m, len, r, &t), 0);
	assert_string_equal(t.msgid, "<exact@test.example>");
	memset(&ov, 0, sizeof ov);
	assert_int_equal(store_over_msgid(f->s, m, len, over_cb, &ov), 0);
	assert_int_equal(store_feed_enqueue(f->s, "p", m, len), 0);
	assert_int_equal(store_feed_done(f->s, "p", m, len), 0);
	assert_int_equal(store_cancel(f->s, m, len), 0);
	assert_int_equal(store_have(f->s, m, len), 1);
	rej = exact("<rejected@test.example>", &rlen);
	assert_int_equal(store_remember_rejected(f->s, rej, rlen, 5), 0);
	assert_int_equal(store_have(f->s, rej, rlen), 1);
	/* A NUL inside, or over the limit: refused, never stored. */
	{
		char big[NNTP_MSGID_MAX_BYTES + 1];

		memset(big, 'a', sizeof big);
		assert_int_equal(store_remember_rejected(f->s, "<a\0b>", 5, 5), -1);
		assert_int_equal(store_remember_rejected(f->s, big, sizeof big, 5), -1);
		assert_int_equal(store_have(f->s, big, sizeof big), 0);
		a.n.msgid = big;
		a.n.msgid_len = sizeof big;
		assert_int_equal(store_add(f->s, &a.n, (uint64_t[1]){ 0 }), -1);
		assert_int_equal(store_batch_size(f->s), 0);
	}
	free(rej);
	free(m);
	region_release(r);
}

static void
test_region_too_small(void **state)
{
	struct fx *f = *state;
	struct region *r = region_new(NULL, "req", 64);
	struct store_text t;
	struct art a;
	size_t before;

	assert_non_null(r);
	mkgroups(f->s);
	art_make(&a, "big", GA, 1, "s", 1, 1);
	assert_true(a.n.len > 64);
	assert_int_equal(store_add(f->s, &a.n, (uint64_t[1]){ 0 }), 0);
	assert_int_equal(store_commit(f->s), 0);

	before = region_used(r);
	memset(&t, 0, sizeof t);
	errno = 0;
	assert_int_equal(store_get_by_msgid(f->s, a.msgid, strlen(a.msgid), r, &t), -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(region_used(r), before);
	assert_null(t.text);    /* nothing handed over on failure */
	errno = 0;
	assert_int_equal(store_get_by_number(f->s, "alt.a", 1, r, &t), -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(region_used(r), before);
	/* The statement was reset: the store still works, and with room it succeeds. */
	assert_int_equal(region_set_budget(r, 4096), 0);
	assert_int_equal(store_get_by_number(f->s, "alt.a", 1, r, &t), 0);
	assert_int_equal(t.len, a.n.len);
	/* Only the text is handed over: one block, nothing else left behind. */
	assert_int_equal(region_used(r), before + t.len + region_block_overhead());
	region_release(r);
}

struct reenter {
	struct store *s;
	int inner;
	int inner_errno;
};

static int
reenter_cb(void *arg, uint64_t number)
{
	struct reenter *x = arg;

	(void)number;
	x->inner = store_have(x->s, "<a@b>", 5);
	x->inner_errno = errno;
	return 0;
}

static void
test_callback_reentry_refused(void **state)
{
	struct fx *f = *state;
	struct reenter x = { .s = f->s, .inner = 42 };

	mkgroups(f->s);
	assert_int_equal(add(f->s, "re", GA, 1, 1, 1, NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_listgroup(f->s, "alt.a", 1, 1, reenter_cb, &x), 0);
	assert_int_equal(x.inner, -1);
	assert_int_equal(x.inner_errno, EBUSY);
	/* ... and usable again after the callback. */
	assert_int_equal(store_have(f->s, "<a@b>", 5), 0);
}

static void
test_peek_then_other_writer(void **state)
{
	struct fx *f = *state;
	struct store *s2;
	uint64_t peek[1], num[1];

	mkgroups(f->s);
	assert_int_equal(store_peek_numbers(f->s, GA, 1, peek), 0);
	assert_int_equal(peek[0], 1);
	/* Another process takes number 1 between our peek and our add. */
	s2 = fx_open(f);
	assert_int_equal(add(s2, "other", GA, 1, 1, 1, NULL), 0);
	assert_int_equal(store_commit(s2), 0);
	store_close(s2);
	/* Our text would carry Xref alt.a:1: refused, not misfiled. */
	assert_int_equal(add(f->s, "ours", GA, 1, 1, 1, num), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(store_batch_size(f->s), 0);
	/* Peek again and it goes through. */
	assert_int_equal(store_peek_numbers(f->s, GA, 1, peek), 0);
	assert_int_equal(peek[0], 2);
	assert_int_equal(add(f->s, "ours", GA, 1, 1, 1, num), 0);
	assert_int_equal(num[0], 2);
	assert_int_equal(store_commit(f->s), 0);
}

static void
test_bad_article_fields(void **state)
{
	struct fx *f = *state;
	struct art a;
	uint64_t num[1];

	mkgroups(f->s);
	art_make(&a, "bad", GA, 1, "s", 1, 1);
	a.n.header_len = a.n.len + 1;
	assert_int_equal(store_add(f->s, &a.n, num), -1);
	art_make(&a, "bad", GA, 1, "s", 1, 1);
	a.n.subject_len = NNTP_HEADER_MAX_BYTES + 1;    /* never read: refused first */
	assert_int_equal(store_add(f->s, &a.n, num), -1);
	art_make(&a, "bad", GA, 1, "s", 1, 1);
	a.n.len = 0;
	assert_int_equal(store_add(f->s, &a.n, num), -1);
	assert_int_equal(store_batch_size(f->s), 0);
	assert_int_equal(have(f->s, "bad"), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_schema_and_pragmas),
		T(test_open_refuses_newer_schema),
		T(test_groups),
		T(test_add_commit_get),
		T(test_numbers_and_crosspost),
		T(test_batch_failure_isolated),
		T(test_batch_late_failure_rolls_back_article),
		T(test_commit_failure_rolls_back),
		T(test_failure_mid_batch_never_acks_lost),
		T(test_uncommitted_lost_on_close),
		T(test_have_and_history),
		T(test_step_edges),
		T(test_ranges),
		T(test_overview_unfolding),
		T(test_newnews),
		T(test_expire),
		T(test_cancel),
		T(test_group_remove_with_articles),
		T(test_feed_queue),
		T(test_check_ok),
		T(test_msgid_not_nul_terminated),
		T(test_region_too_small),
		T(test_callback_reentry_refused),
		T(test_peek_then_other_writer),
		T(test_bad_article_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
