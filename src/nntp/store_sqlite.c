/*
 * store_sqlite.c: the news service's storage engine (storage.h) on SQLite,
 * one database file news.db in WAL mode in the storage directory.
 *
 * Role: articles, their overview, group membership and numbering, the
 * history of message-ids seen (remembered rejects, expired and cancelled
 * articles) and the outgoing feed queues, behind the verbs of storage.h.
 *
 * Interface: storage.h.  All statements are prepared once in store_open
 * and reset after each use; every caller string is bound with its length
 * (message-ids are not NUL-terminated; names are, and are measured with
 * strnlen against their limit).
 *
 * Batches (group commit): store_add opens BEGIN IMMEDIATE on the first
 * staged article and stages each article with atomic statements; a failed
 * article (a duplicate message-id hitting the UNIQUE backstop, an unknown
 * group) is taken back alone by store_unstage and the others stay
 * staged.  (Not a SAVEPOINT per article: it halves the ingest rate, see
 * store_add.)
 * store_commit COMMITs (an fsync under synchronous=FULL); on failure it
 * ROLLBACKs and the whole batch was never there.  Every other write
 * (remember_rejected, feed queue, cancel, groups, expire) joins the open
 * batch when there is one (inside a SAVEPOINT if it takes several
 * statements) and becomes durable with it;
 * otherwise it runs in its own short BEGIN IMMEDIATE ... COMMIT.  If SQLite
 * rolls the open transaction back by itself (disk full, I/O error), the
 * batch is marked lost: store_batch_size keeps counting it, writes fail,
 * and the next store_commit returns -1 (so no lost article is acked).
 * Reads on the same connection see the staged batch.
 *
 * store_peek_numbers remembers what it answered; store_add refuses (-1,
 * EAGAIN) to assign numbers different from that answer for the same
 * group, so an article is never stored under an Xref header that names
 * other numbers (possible only if another process wrote between the peek
 * and the first BEGIN IMMEDIATE of a batch).
 *
 * Results storage.h leaves open: store_group_create returns 1 when the
 * group exists (unchanged); store_group_set_status and store_group_remove
 * return 1 for no such group; store_listgroup and store_over_range return
 * 1 for no such group and 0 otherwise (an inverted or empty range calls
 * nothing); store_feed_done of an id not queued is 0; store_feed_backlog
 * is 0 on error (logged).  store_add needs 1..NNTP_GROUPS_PER_ARTICLE_MAX
 * existing groups.  store_expire's *removed counts articles that left the
 * store, not those that only left a chosen group (cross-posts).  The
 * overview's xref is "g1:n1 g2:n2": the protocol prefixes its path host
 * for OVER's "Xref: host ..." field.  errno after -1: EINVAL bad
 * arguments, EEXIST duplicate message-id, EAGAIN numbers moved since the
 * peek, ENOMEM the caller's region refused, EBUSY called from a callback,
 * EIO anything SQLite refused.
 *
 * Schema (PRAGMA user_version 1):
 *   groups(id INTEGER PRIMARY KEY, name TEXT UNIQUE, status TEXT ('y',
 *     'n', 'm'), low, high, count, created, creator, description)
 *     low is high + 1 when the group is empty (RFC 3977 6.1.1.2).
 *   articles(id INTEGER PRIMARY KEY, msgid TEXT UNIQUE, header_len,
 *     bytes, lines, subject, from_, date, refs, xref, posted, arrived)
 *     the overview: small rows, so that OVER and expiry scans read dense
 *     pages.  Index on arrived for NEWNEWS.  xref is "g1:n1 g2:n2" (the
 *     numbers assigned here, without the path host).
 *   bodies(id INTEGER PRIMARY KEY -> articles.id ON DELETE CASCADE, text)
 *     the text as served, apart from the overview so that large blobs
 *     and their overflow pages are touched only by ARTICLE/HEAD/BODY.
 *   art_group(group_id -> groups, number, article_id -> articles,
 *     PRIMARY KEY(group_id, number)) WITHOUT ROWID, index on article_id;
 *     both references cascade on delete.
 *   history(msgid TEXT PRIMARY KEY, seen, rejected) WITHOUT ROWID, index
 *     on seen: ids refused, expired or cancelled; store_have answers 1
 *     for them.  store_expire prunes entries seen before its cutoff.
 *   feed_queue(id INTEGER PRIMARY KEY, peer, msgid, queued,
 *     UNIQUE(peer, msgid)), index on peer (with the rowid: oldest first).
 * There is no index on articles(posted): expiry walks each chosen group's
 * art_group range and reads posted from the (small) overview row, which
 * costs less than maintaining a fourth index on every insert.
 *
 * Limits: message-ids 1..NNTP_MSGID_MAX_BYTES without NUL; group names
 * 1..NNTP_GROUP_MAX_BYTES; 1..NNTP_GROUPS_PER_ARTICLE_MAX groups per
 * article (a group named twice gets one number); overview fields of at
 * most NNTP_HEADER_MAX_BYTES together (unfolded in a fixed scratch buffer
 * of that size, allocated once at open); peers STORE_PEER_MAX_BYTES;
 * article numbers up to STORE_NUMBER_MAX.  Creator and description are cut
 * to the size of struct store_group's fields at a UTF-8 boundary.
 *
 * Known weaknesses:
 * - SQLite allocates with its own malloc, outside our regions: each
 *   statement's working memory, its copy of an article being read, the
 *   page cache.  The page cache is bounded by PRAGMA cache_size
 *   (STORE_CACHE_KIB), mmap is off, and row sizes are bounded by what the
 *   protocol lets in (article_max), but there is no hard per-connection
 *   heap limit (sqlite3_hard_heap_limit64 is process-wide: the worker's
 *   to set).
 * - Calls block: a contending writer (holdfastctl) can stall the worker
 *   up to STORE_BUSY_TIMEOUT_MS; a COMMIT under FULL waits for fsync.
 * - Callbacks must not call back into the store (refused, EBUSY).
 * - One transaction per group during expiry, one for a whole group
 *   removal: removing a huge group grows the WAL until the next
 *   checkpoint (journal_size_limit truncates it afterwards), and the
 *   call blocks the worker throughout (about 7,000 articles removed a
 *   second on the development VM).  Their statement journals spill past
 *   64 KiB to temporary files in SQLite's temporary directory
 *   (SQLITE_TMPDIR, else /var/tmp, /usr/tmp, /tmp), which the worker's
 *   sandbox must leave writable.
 * - A failed or lost batch gives its article numbers back: a reader on
 *   this connection may have seen them staged (OVER during the batch).
 * - store_add does not consult the history; the caller's store_have does
 *   (the UNIQUE constraint only backs up present articles).  Articles are
 *   expired by Date (capped at arrival): an old Date expires at the next
 *   run unless the protocol refuses such articles (INN's artcutoff).
 * - Message-ids are compared byte for byte (no case folding of the
 *   domain part, which INN does).  A cancel for an article not yet here
 *   is not remembered.  Feed queue entries of expired articles stay
 *   until the feeder finds them missing and calls store_feed_done.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "region.h"
#include "storage.h"

#define STORE_DB_NAME          "news.db"
#define STORE_SCHEMA_VERSION   1
#define STORE_BUSY_TIMEOUT_MS  2000       /* only holdfastctl contends; longer would stall the event loop */
#define STORE_CACHE_KIB        2000       /* PRAGMA cache_size -N: page cache bound per connection */
#define STORE_WAL_LIMIT_BYTES  (64 * 1024 * 1024)  /* WAL file truncated to this after a checkpoint */
#define STORE_PEER_MAX_BYTES   255        /* a feed peer's name, from our configuration */
#define STORE_NUMBER_MAX       ((uint64_t)INT64_MAX - 1)  /* SQLite integers are signed; one below so a clamp to INT64_MAX stays past every number */
/* "name:number " per group, numbers of at most 20 digits. */
#define STORE_XREF_MAX_BYTES   (NNTP_GROUPS_PER_ARTICLE_MAX * (NNTP_GROUP_MAX_BYTES + 22))

/* Rate-limited at each call site: many of these a peer can trigger. errno
 * is kept, since callers read it after -1. */
#define STORE_LOG(lvl, ...)                                     \
	do {                                                    \
		static struct log_rate store_rl_;               \
		int store_errno_ = errno;                       \
		log_rated(&store_rl_, (lvl), __VA_ARGS__);      \
		errno = store_errno_;                           \
	} while (0)

#define STORE_DBERR(s, what) \
	STORE_LOG(LOG_LVL_ERR, "store: %s: %s", (what), sqlite3_errmsg((s)->db))

enum store_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_GROUP_GET,
	ST_GROUP_ID,
	ST_GROUP_INSERT,
	ST_GROUP_STATUS,
	ST_GROUP_DELETE,
	ST_GROUP_EACH,
	ST_GROUP_NEXT,
	ST_GROUP_BUMP,
	ST_GROUP_UNBUMP,
	ST_GROUP_RECOUNT,
	ST_HAVE,
	ST_ART_INSERT,
	ST_BODY_INSERT,
	ST_AG_INSERT,
	ST_REJECT,
	ST_GET_MSGID,
	ST_GET_NUMBER,
	ST_STAT_NUMBER,
	ST_STEP_NEXT,
	ST_STEP_PREV,
	ST_LISTGROUP,
	ST_OVER_RANGE,
	ST_OVER_MSGID,
	ST_NEWNEWS,
	ST_ART_FIND,
	ST_AG_GROUPS,
	ST_HIST_ADD_ID,
	ST_ART_DELETE,
	ST_EXP_HIST,
	ST_EXP_ART,
	ST_EXP_AG,
	ST_HIST_PRUNE,
	ST_FEED_ADD,
	ST_FEED_PEEK,
	ST_FEED_DONE,
	ST_FEED_COUNT,
	ST_INTEGRITY,
	ST_FK_CHECK,
	ST_COUNT
};

/* The articles to expire from group ?1: all (?3) or posted before ?2. */
#define STORE_EXP_WHERE "ag.group_id = ?1 AND (?3 OR a.posted < ?2)"
/* ... and in no other group, so they leave the store entirely. */
#define STORE_EXP_ORPHAN \
	STORE_EXP_WHERE " AND NOT EXISTS (SELECT 1 FROM art_group x WHERE x.article_id = a.id AND x.group_id <> ?1)"

static const char *const store_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT store_sp",
	[ST_RELEASE] = "RELEASE store_sp",
	[ST_ROLLBACK_TO] = "ROLLBACK TO store_sp",
	[ST_GROUP_GET] = "SELECT name, low, high, count, status, created, creator, description"
	                 " FROM groups WHERE name = ?1",
	[ST_GROUP_ID] = "SELECT id, high FROM groups WHERE name = ?1",
	[ST_GROUP_INSERT] = "INSERT INTO groups(name, status, low, high, count, created, creator, description)"
	                    " VALUES(?1, ?2, 1, 0, 0, ?3, ?4, ?5) ON CONFLICT(name) DO NOTHING",
	[ST_GROUP_STATUS] = "UPDATE groups SET status = ?2 WHERE name = ?1",
	[ST_GROUP_DELETE] = "DELETE FROM groups WHERE id = ?1",
	[ST_GROUP_EACH] = "SELECT name, low, high, count, status, created, creator, description"
	                  " FROM groups WHERE created >= ?1 ORDER BY name",
	[ST_GROUP_NEXT] = "SELECT id, name FROM groups WHERE name > ?1 ORDER BY name LIMIT 1",
	/* Adding to an empty group: its low (high + 1) is the new number already. */
	[ST_GROUP_BUMP] = "UPDATE groups SET high = ?2, count = count + 1 WHERE id = ?1",
	[ST_GROUP_UNBUMP] = "UPDATE groups SET high = ?2, count = count - 1 WHERE id = ?1",
	[ST_GROUP_RECOUNT] = "UPDATE groups SET count = (SELECT count(*) FROM art_group WHERE group_id = ?1),"
	                     " low = coalesce((SELECT min(number) FROM art_group WHERE group_id = ?1), high + 1)"
	                     " WHERE id = ?1",
	[ST_HAVE] = "SELECT 1 FROM articles WHERE msgid = ?1 UNION ALL SELECT 1 FROM history WHERE msgid = ?1",
	[ST_ART_INSERT] = "INSERT INTO articles(msgid, header_len, bytes, lines, subject, from_, date, refs, xref,"
	                  " posted, arrived) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_BODY_INSERT] = "INSERT INTO bodies(id, text) VALUES(?1, ?2)",
	[ST_AG_INSERT] = "INSERT INTO art_group(group_id, number, article_id) VALUES(?1, ?2, ?3)",
	[ST_REJECT] = "INSERT INTO history(msgid, seen, rejected) VALUES(?1, ?2, 1)"
	              " ON CONFLICT(msgid) DO UPDATE SET seen = excluded.seen",
	[ST_GET_MSGID] = "SELECT b.text, a.header_len, a.msgid FROM articles a JOIN bodies b ON b.id = a.id"
	                 " WHERE a.msgid = ?1",
	[ST_GET_NUMBER] = "SELECT b.text, a.header_len, a.msgid FROM groups g"
	                  " JOIN art_group ag ON ag.group_id = g.id JOIN articles a ON a.id = ag.article_id"
	                  " JOIN bodies b ON b.id = a.id WHERE g.name = ?1 AND ag.number = ?2",
	[ST_STAT_NUMBER] = "SELECT a.msgid FROM groups g JOIN art_group ag ON ag.group_id = g.id"
	                   " JOIN articles a ON a.id = ag.article_id WHERE g.name = ?1 AND ag.number = ?2",
	[ST_STEP_NEXT] = "SELECT ag.number FROM groups g JOIN art_group ag ON ag.group_id = g.id"
	                 " WHERE g.name = ?1 AND ag.number > ?2 ORDER BY ag.number ASC LIMIT 1",
	[ST_STEP_PREV] = "SELECT ag.number FROM groups g JOIN art_group ag ON ag.group_id = g.id"
	                 " WHERE g.name = ?1 AND ag.number < ?2 ORDER BY ag.number DESC LIMIT 1",
	[ST_LISTGROUP] = "SELECT number FROM art_group WHERE group_id = ?1 AND number BETWEEN ?2 AND ?3"
	                 " ORDER BY number",
	[ST_OVER_RANGE] = "SELECT ag.number, a.subject, a.from_, a.date, a.msgid, a.refs, a.xref, a.bytes, a.lines"
	                  " FROM art_group ag JOIN articles a ON a.id = ag.article_id"
	                  " WHERE ag.group_id = ?1 AND ag.number BETWEEN ?2 AND ?3 ORDER BY ag.number",
	[ST_OVER_MSGID] = "SELECT 0, subject, from_, date, msgid, refs, xref, bytes, lines FROM articles"
	                  " WHERE msgid = ?1",
	/* CROSS JOIN fixes the loop order: articles by arrival outermost. */
	[ST_NEWNEWS] = "SELECT a.id, a.msgid, g.name FROM articles a INDEXED BY articles_arrived"
	               " CROSS JOIN art_group ag ON ag.article_id = a.id CROSS JOIN groups g ON g.id = ag.group_id"
	               " WHERE a.arrived >= ?1 ORDER BY a.arrived, a.id",
	[ST_ART_FIND] = "SELECT id FROM articles WHERE msgid = ?1",
	[ST_AG_GROUPS] = "SELECT group_id FROM art_group WHERE article_id = ?1",
	[ST_HIST_ADD_ID] = "INSERT INTO history(msgid, seen, rejected) SELECT msgid, ?2, 0 FROM articles"
	                   " WHERE id = ?1 ON CONFLICT(msgid) DO UPDATE SET seen = excluded.seen",
	[ST_ART_DELETE] = "DELETE FROM articles WHERE id = ?1",
	[ST_EXP_HIST] = "INSERT INTO history(msgid, seen, rejected) SELECT a.msgid, ?4, 0"
	                " FROM art_group ag JOIN articles a ON a.id = ag.article_id WHERE " STORE_EXP_ORPHAN
	                " ON CONFLICT(msgid) DO UPDATE SET seen = excluded.seen",
	[ST_EXP_ART] = "DELETE FROM articles WHERE id IN (SELECT a.id FROM art_group ag"
	               " JOIN articles a ON a.id = ag.article_id WHERE " STORE_EXP_ORPHAN ")",
	[ST_EXP_AG] = "DELETE FROM art_group WHERE group_id = ?1 AND number IN (SELECT ag.number"
	              " FROM art_group ag JOIN articles a ON a.id = ag.article_id WHERE " STORE_EXP_WHERE ")",
	[ST_HIST_PRUNE] = "DELETE FROM history WHERE seen < ?1",
	[ST_FEED_ADD] = "INSERT INTO feed_queue(peer, msgid, queued) VALUES(?1, ?2, ?3)"
	                " ON CONFLICT(peer, msgid) DO NOTHING",
	[ST_FEED_PEEK] = "SELECT msgid FROM feed_queue WHERE peer = ?1 ORDER BY id LIMIT ?2",
	[ST_FEED_DONE] = "DELETE FROM feed_queue WHERE peer = ?1 AND msgid = ?2",
	[ST_FEED_COUNT] = "SELECT count(*) FROM feed_queue WHERE peer = ?1",
	[ST_INTEGRITY] = "PRAGMA integrity_check",
	[ST_FK_CHECK] = "PRAGMA foreign_key_check",
};

static const char store_schema[] =
	"CREATE TABLE IF NOT EXISTS groups("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" status TEXT NOT NULL,"
	" low INTEGER NOT NULL,"
	" high INTEGER NOT NULL,"
	" count INTEGER NOT NULL,"
	" created INTEGER NOT NULL,"
	" creator TEXT NOT NULL,"
	" description TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS articles("
	" id INTEGER PRIMARY KEY,"
	" msgid TEXT NOT NULL UNIQUE,"
	" header_len INTEGER NOT NULL,"
	" bytes INTEGER NOT NULL,"
	" lines INTEGER NOT NULL,"
	" subject TEXT NOT NULL,"
	" from_ TEXT NOT NULL,"
	" date TEXT NOT NULL,"
	" refs TEXT NOT NULL,"
	" xref TEXT NOT NULL,"
	" posted INTEGER NOT NULL,"
	" arrived INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS articles_arrived ON articles(arrived);"
	"CREATE TABLE IF NOT EXISTS bodies("
	" id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,"
	" text BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS art_group("
	" group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	" number INTEGER NOT NULL,"
	" article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,"
	" PRIMARY KEY(group_id, number)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS art_group_article ON art_group(article_id);"
	"CREATE TABLE IF NOT EXISTS history("
	" msgid TEXT PRIMARY KEY,"
	" seen INTEGER NOT NULL,"
	" rejected INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS history_seen ON history(seen);"
	"CREATE TABLE IF NOT EXISTS feed_queue("
	" id INTEGER PRIMARY KEY,"
	" peer TEXT NOT NULL,"
	" msgid TEXT NOT NULL,"
	" queued INTEGER NOT NULL,"
	" UNIQUE(peer, msgid));"
	"CREATE INDEX IF NOT EXISTS feed_queue_peer ON feed_queue(peer);";

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[ST_COUNT];
	size_t batch;           /* articles staged in the open transaction */
	int in_txn;             /* the batch's BEGIN IMMEDIATE is open */
	int lost;               /* SQLite rolled a non-empty batch back by itself: the next commit fails */
	int in_cb;              /* a caller's callback is running: re-entry would reset a live statement */
	enum { STORE_WR_OWN, STORE_WR_SAVEPOINT, STORE_WR_JOINED } wr;    /* how the current write began */
	/* The last store_peek_numbers answer, checked by the next store_add. */
	size_t peek_n;
	int64_t peek_gid[NNTP_GROUPS_PER_ARTICLE_MAX];
	uint64_t peek_num[NNTP_GROUPS_PER_ARTICLE_MAX];
	char xref[STORE_XREF_MAX_BYTES];
	/* Unfolded overview fields of the article being added, bound in place. */
	char scratch[NNTP_HEADER_MAX_BYTES];
};

/* ---- small helpers ---- */

static void
store_stmt_done(sqlite3_stmt *q)
{
	sqlite3_reset(q);
	/* Drop SQLITE_STATIC pointers into caller memory now, not at next use. */
	sqlite3_clear_bindings(q);
}

/* Length of a NUL-terminated name within 1..max, or 0 when out of range. */
static size_t
store_name_len(const char *name, size_t max)
{
	size_t n;

	if (name == NULL)
		return 0;
	n = strnlen(name, max + 1);
	return n > max ? 0 : n;
}

static int
store_msgid_ok(const char *msgid, size_t len)
{
	return msgid != NULL && len > 0 && len <= NNTP_MSGID_MAX_BYTES && memchr(msgid, '\0', len) == NULL;
}

static int
store_bind_str(sqlite3_stmt *q, int i, const char *p, size_t len)
{
	return sqlite3_bind_text64(q, i, p != NULL ? p : "", p != NULL ? len : 0, SQLITE_STATIC, SQLITE_UTF8);
}

/* Numbers from callers are uint64_t; anything past SQLite's range is past
 * every stored number too. */
static int
store_bind_num(sqlite3_stmt *q, int i, uint64_t v)
{
	return sqlite3_bind_int64(q, i, v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v);
}

static uint64_t
store_col_u64(sqlite3_stmt *q, int i)
{
	sqlite3_int64 v = sqlite3_column_int64(q, i);

	return v < 0 ? 0 : (uint64_t)v;
}

static const char *
store_col_str(sqlite3_stmt *q, int i)
{
	const unsigned char *p = sqlite3_column_text(q, i);

	return p != NULL ? (const char *)p : "";
}

/* Copies a text column into dst[size]; -1 if it does not fit. */
static int
store_col_copy(sqlite3_stmt *q, int i, char *dst, size_t size)
{
	const unsigned char *p = sqlite3_column_text(q, i);
	size_t n = (size_t)sqlite3_column_bytes(q, i);

	if (p == NULL)
		n = 0;
	if (n >= size)
		return -1;
	if (n > 0)
		memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static size_t
store_utf8_cut(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* RFC 3977 8.3.2: CRLF before WSP is removed (the WSP stays), then every
 * TAB, CR and LF becomes a space, so no field can break the tab-separated
 * OVER line.  NUL (refused by the parser anyway) also becomes a space so
 * the field stays one C string when read back.  Never grows. */
static size_t
store_unfold(char *dst, const char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (c == '\r' && i + 2 < len && src[i + 1] == '\n' && (src[i + 2] == ' ' || src[i + 2] == '\t')) {
			i++;
			continue;
		}
		if (c == '\t' || c == '\r' || c == '\n' || c == '\0')
			c = ' ';
		dst[o++] = c;
	}
	return o;
}

/* A peer's bytes made safe for a log line: printable ASCII only, cut at
 * size - 1, so a message-id cannot forge log lines or send escapes. */
static const char *
store_printable(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = len < size - 1 ? len : size - 1;

	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] > 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[n] = '\0';
	return dst;
}

/* Refuses re-entry from a callback: the iterating statement would be
 * reset under the caller's feet. */
static int
store_enter(struct store *s)
{
	if (s == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (s->in_cb) {
		errno = EBUSY;
		STORE_LOG(LOG_LVL_ERR, "store: called from inside a store callback");
		return -1;
	}
	return 0;
}

/* After a failed step inside the batch: did SQLite end the transaction
 * itself (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM may)? */
static void
store_check_txn(struct store *s)
{
	if (s->in_txn && sqlite3_get_autocommit(s->db)) {
		/* The batch count stays: a caller that commits only when
		 * store_batch_size() > 0 must still call store_commit and hear
		 * -1, or it would acknowledge articles that are gone. */
		if (s->batch > 0)
			s->lost = 1;
		s->in_txn = 0;
		s->peek_n = 0;
		STORE_LOG(LOG_LVL_ERR, "store: transaction rolled back by SQLite: batch lost");
	}
}

/* Runs a statement that returns no rows. */
static int
store_exec(struct store *s, enum store_stmt id)
{
	sqlite3_stmt *q = s->q[id];
	int rc = sqlite3_step(q);

	store_stmt_done(q);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		STORE_DBERR(s, store_sql[id]);
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Starts a write: outside a batch, a transaction of its own; inside the
 * open batch, a savepoint when it takes several statements (multi), or
 * nothing when it is one statement, which SQLite keeps atomic anyway (a
 * savepoint costs a statement journal, see store_add). */
static int
store_wr_begin(struct store *s, int multi)
{
	if (s->lost) {
		errno = EIO;
		STORE_LOG(LOG_LVL_WARN, "store: write refused until the lost batch is committed");
		return -1;
	}
	if (s->in_txn && !multi) {
		s->wr = STORE_WR_JOINED;
		return 0;
	}
	if (s->in_txn) {
		if (store_exec(s, ST_SAVEPOINT) < 0) {
			store_check_txn(s);
			return -1;
		}
		s->wr = STORE_WR_SAVEPOINT;
		return 0;
	}
	s->wr = STORE_WR_OWN;
	return store_exec(s, ST_BEGIN);
}

/* Ends a write begun by store_wr_begin: keeps it (ok) or undoes it alone. */
static int
store_wr_end(struct store *s, int ok)
{
	int e = errno;

	if (s->wr == STORE_WR_JOINED) {
		if (ok)
			return 0;
		store_check_txn(s);
		errno = e;
		return -1;
	}
	if (s->wr == STORE_WR_SAVEPOINT) {
		if (ok && store_exec(s, ST_RELEASE) == 0)
			return 0;
		if (!sqlite3_get_autocommit(s->db)) {
			(void)store_exec(s, ST_ROLLBACK_TO);
			(void)store_exec(s, ST_RELEASE);
		}
		store_check_txn(s);
		errno = ok ? EIO : e;
		return -1;
	}
	if (ok && store_exec(s, ST_COMMIT) == 0)
		return 0;
	if (!sqlite3_get_autocommit(s->db))
		(void)store_exec(s, ST_ROLLBACK);
	errno = ok ? EIO : e;
	return -1;
}

/* Group id and high water mark by name: 0, 1 not found, -1. */
static int
store_group_id(struct store *s, const char *name, size_t len, int64_t *id, uint64_t *high)
{
	sqlite3_stmt *q = s->q[ST_GROUP_ID];
	int rc;

	if (store_bind_str(q, 1, name, len) != SQLITE_OK) {
		store_stmt_done(q);
		STORE_DBERR(s, "group id bind");
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		if (high != NULL)
			*high = store_col_u64(q, 1);
		store_stmt_done(q);
		return 0;
	}
	store_stmt_done(q);
	if (rc == SQLITE_DONE)
		return 1;
	STORE_DBERR(s, "group id");
	store_check_txn(s);
	errno = EIO;
	return -1;
}

/* ---- open and close ---- */

static int
store_pragma_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		snprintf(out, size, "%s", store_col_str(q, 0));
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int
store_setup(struct store *s, const struct store_opts *o, char *err, size_t errlen)
{
	char buf[32];
	char sql[128];
	long version;

	sqlite3_extended_result_codes(s->db, 1);
	if (sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK)
		goto dberr;
	snprintf(sql, sizeof sql,
	         "PRAGMA foreign_keys = ON; PRAGMA cache_size = -%d; PRAGMA mmap_size = 0;"
	         " PRAGMA journal_size_limit = %d;", STORE_CACHE_KIB, STORE_WAL_LIMIT_BYTES);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		goto dberr;
	if (store_pragma_text(s->db, "PRAGMA journal_mode = WAL", buf, sizeof buf) < 0)
		goto dberr;
	if (strcmp(buf, "wal") != 0) {
		snprintf(err, errlen, "journal_mode is %s, not wal", buf);
		return -1;
	}
	if (sqlite3_exec(s->db, o->synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
	                 NULL, NULL, NULL) != SQLITE_OK)
		goto dberr;
	/* foreign_keys is a no-op inside a transaction and silently off in a
	 * build without it: verify, since cascades keep the tables consistent. */
	if (store_pragma_text(s->db, "PRAGMA foreign_keys", buf, sizeof buf) < 0 || strcmp(buf, "1") != 0) {
		snprintf(err, errlen, "foreign keys unavailable");
		return -1;
	}

	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto dberr;
	if (store_pragma_text(s->db, "PRAGMA user_version", buf, sizeof buf) < 0)
		goto dberr_rollback;
	version = strtol(buf, NULL, 10);
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "schema version %ld is newer than %d", version, STORE_SCHEMA_VERSION);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (sqlite3_exec(s->db, store_schema, NULL, NULL, NULL) != SQLITE_OK)
		goto dberr_rollback;
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		goto dberr_rollback;
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto dberr_rollback;

	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL)
		    != SQLITE_OK) {
			snprintf(err, errlen, "prepare %s: %s", store_sql[i], sqlite3_errmsg(s->db));
			return -1;
		}
	}
	return 0;

dberr_rollback:
	snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
dberr:
	snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
	return -1;
}

int
store_open(struct store **out, const char *dir, const struct store_opts *o, char *err, size_t errlen)
{
	static const struct store_opts defaults = { .synchronous_full = 1 };
	char path[PATH_MAX];
	char dummy[1];
	struct store *s;
	int n;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	if (out == NULL || dir == NULL) {
		snprintf(err, errlen, "no storage directory");
		errno = EINVAL;
		return -1;
	}
	*out = NULL;
	if (o == NULL)
		o = &defaults;
	n = snprintf(path, sizeof path, "%s/%s", dir, STORE_DB_NAME);
	if (n < 0 || (size_t)n >= sizeof path) {
		snprintf(err, errlen, "storage path too long");
		errno = ENAMETOOLONG;
		return -1;
	}
	s = calloc(1, sizeof *s);
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* NOFOLLOW: the database is ours; a symlink planted in the storage
	 * directory must not redirect writes.  NOMUTEX: one thread per worker. */
	if (sqlite3_open_v2(path, &s->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
		store_close(s);
		errno = EIO;
		return -1;
	}
	if (store_setup(s, o, err, errlen) < 0) {
		store_close(s);
		errno = EIO;
		return -1;
	}
	*out = s;
	return 0;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	/* Anything staged and not committed was never acknowledged: drop it. */
	if (s->db != NULL && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->q[i]);
	if (s->db != NULL)
		sqlite3_close(s->db);
	free(s);
}

/* ---- groups ---- */

static void
store_group_fill(sqlite3_stmt *q, struct store_group *g)
{
	const char *st;

	memset(g, 0, sizeof *g);
	(void)store_col_copy(q, 0, g->name, sizeof g->name);
	g->low = store_col_u64(q, 1);
	g->high = store_col_u64(q, 2);
	g->count = store_col_u64(q, 3);
	st = store_col_str(q, 4);
	g->status = st[0] != '\0' ? st[0] : 'n';
	g->created = sqlite3_column_int64(q, 5);
	(void)store_col_copy(q, 6, g->creator, sizeof g->creator);
	(void)store_col_copy(q, 7, g->description, sizeof g->description);
}

int
store_group_get(struct store *s, const char *name, struct store_group *out)
{
	sqlite3_stmt *q;
	size_t len;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	len = store_name_len(name, NNTP_GROUP_MAX_BYTES);
	if (len == 0)
		return 1;
	q = s->q[ST_GROUP_GET];
	if (store_bind_str(q, 1, name, len) != SQLITE_OK) {
		store_stmt_done(q);
		STORE_DBERR(s, "group get bind");
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		store_group_fill(q, out);
	store_stmt_done(q);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	STORE_DBERR(s, "group get");
	store_check_txn(s);
	errno = EIO;
	return -1;
}

static int
store_status_ok(char status)
{
	return status == 'y' || status == 'n' || status == 'm';
}

int
store_group_create(struct store *s, const char *name, char status, const char *creator, const char *description)
{
	sqlite3_stmt *q;
	size_t len;
	int rc, created;

	if (store_enter(s) < 0)
		return -1;
	len = store_name_len(name, NNTP_GROUP_MAX_BYTES);
	if (len == 0 || !store_status_ok(status)) {
		errno = EINVAL;
		STORE_LOG(LOG_LVL_WARN, "store: group create: bad name or status");
		return -1;
	}
	if (creator == NULL)
		creator = "";
	if (description == NULL)
		description = "";
	if (store_wr_begin(s, 0) < 0)
		return -1;
	q = s->q[ST_GROUP_INSERT];
	if (store_bind_str(q, 1, name, len) || store_bind_str(q, 2, &status, 1) ||
	    sqlite3_bind_int64(q, 3, (sqlite3_int64)time(NULL)) ||
	    store_bind_str(q, 4, creator, store_utf8_cut(creator, sizeof ((struct store_group *)0)->creator - 1)) ||
	    store_bind_str(q, 5, description,
	                   store_utf8_cut(description, sizeof ((struct store_group *)0)->description - 1))) {
		store_stmt_done(q);
		STORE_DBERR(s, "group create bind");
		store_wr_end(s, 0);
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE) {
		STORE_DBERR(s, "group create");
		store_wr_end(s, 0);
		errno = EIO;
		return -1;
	}
	created = sqlite3_changes(s->db) > 0;
	if (store_wr_end(s, 1) < 0)
		return -1;
	return created ? 0 : 1;
}

int
store_group_set_status(struct store *s, const char *name, char status)
{
	sqlite3_stmt *q;
	size_t len;
	int rc, changed;

	if (store_enter(s) < 0)
		return -1;
	len = store_name_len(name, NNTP_GROUP_MAX_BYTES);
	if (!store_status_ok(status)) {
		errno = EINVAL;
		return -1;
	}
	if (len == 0)
		return 1;
	if (store_wr_begin(s, 0) < 0)
		return -1;
	q = s->q[ST_GROUP_STATUS];
	if (store_bind_str(q, 1, name, len) || store_bind_str(q, 2, &status, 1)) {
		store_stmt_done(q);
		STORE_DBERR(s, "group status bind");
		store_wr_end(s, 0);
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE) {
		STORE_DBERR(s, "group status");
		store_wr_end(s, 0);
		errno = EIO;
		return -1;
	}
	changed = sqlite3_changes(s->db) > 0;
	if (store_wr_end(s, 1) < 0)
		return -1;
	return changed ? 0 : 1;
}

/* Runs one of the ST_EXP_* statements for group gid; *changes receives
 * sqlite3_changes (cascaded rows not included). */
static int
store_exp_run(struct store *s, enum store_stmt id, int64_t gid, int64_t cutoff, int all, int64_t now,
              uint64_t *changes)
{
	sqlite3_stmt *q = s->q[id];
	int rc;

	if (sqlite3_bind_int64(q, 1, gid) || sqlite3_bind_int64(q, 2, cutoff) || sqlite3_bind_int(q, 3, all) ||
	    (id == ST_EXP_HIST && sqlite3_bind_int64(q, 4, now))) {
		store_stmt_done(q);
		STORE_DBERR(s, "expire bind");
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE) {
		STORE_DBERR(s, store_sql[id]);
		errno = EIO;
		return -1;
	}
	if (changes != NULL)
		*changes = (uint64_t)sqlite3_changes64(s->db);
	return 0;
}

static int
store_recount(struct store *s, int64_t gid)
{
	sqlite3_stmt *q = s->q[ST_GROUP_RECOUNT];
	int rc;

	if (sqlite3_bind_int64(q, 1, gid)) {
		store_stmt_done(q);
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE) {
		STORE_DBERR(s, "group recount");
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Removes group gid's articles (all, or those posted before cutoff):
 * the ones in no other group leave the store and go to history; the
 * cross-posted ones only lose this group.  *removed: articles deleted. */
static int
store_expire_group(struct store *s, int64_t gid, int64_t cutoff, int all, uint64_t *removed)
{
	int64_t now = (int64_t)time(NULL);

	if (store_exp_run(s, ST_EXP_HIST, gid, cutoff, all, now, NULL) < 0 ||
	    store_exp_run(s, ST_EXP_ART, gid, cutoff, all, now, removed) < 0 ||
	    store_exp_run(s, ST_EXP_AG, gid, cutoff, all, now, NULL) < 0)
		return -1;
	return store_recount(s, gid);
}

int
store_group_remove(struct store *s, const char *name)
{
	uint64_t removed = 0;
	sqlite3_stmt *q;
	int64_t gid;
	size_t len;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	len = store_name_len(name, NNTP_GROUP_MAX_BYTES);
	if (len == 0)
		return 1;
	if (store_wr_begin(s, 1) < 0)
		return -1;
	rc = store_group_id(s, name, len, &gid, NULL);
	if (rc != 0) {
		if (store_wr_end(s, rc == 1) < 0)
			return -1;
		return rc;
	}
	if (store_expire_group(s, gid, 0, 1, &removed) < 0)
		goto fail;
	q = s->q[ST_GROUP_DELETE];
	sqlite3_bind_int64(q, 1, gid);
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE) {
		STORE_DBERR(s, "group delete");
		goto fail;
	}
	return store_wr_end(s, 1);
fail:
	store_wr_end(s, 0);
	errno = EIO;
	return -1;
}

int
store_group_each(struct store *s, int64_t since, int (*cb)(void *arg, const struct store_group *g), void *arg)
{
	struct store_group g;
	sqlite3_stmt *q;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	q = s->q[ST_GROUP_EACH];
	sqlite3_bind_int64(q, 1, since);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int stop;

		store_group_fill(q, &g);
		s->in_cb = 1;
		stop = cb(arg, &g);
		s->in_cb = 0;
		if (stop)
			break;
	}
	store_stmt_done(q);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	STORE_DBERR(s, "group list");
	store_check_txn(s);
	errno = EIO;
	return -1;
}

/* ---- articles: ingest ---- */

int
store_have(struct store *s, const char *msgid, size_t len)
{
	sqlite3_stmt *q;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	if (!store_msgid_ok(msgid, len))
		return 0;    /* could never have been stored */
	q = s->q[ST_HAVE];
	if (store_bind_str(q, 1, msgid, len) != SQLITE_OK) {
		store_stmt_done(q);
		STORE_DBERR(s, "have bind");
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	STORE_DBERR(s, "have");
	store_check_txn(s);
	errno = EIO;
	return -1;
}

/* Resolves the article's groups to ids and next numbers; a group named
 * twice gets the number of its first mention.  uniq[i] is 1 for the first
 * mention.  0, or -1 (an unknown group: EINVAL; numbers exhausted: EOVERFLOW). */
static int
store_numbers(struct store *s, const char *const *groups, size_t ngroups, int64_t *gid, uint64_t *numbers,
              int *uniq)
{
	if (groups == NULL || ngroups == 0 || ngroups > NNTP_GROUPS_PER_ARTICLE_MAX) {
		errno = EINVAL;
		STORE_LOG(LOG_LVL_WARN, "store: %zu groups for one article", ngroups);
		return -1;
	}
	for (size_t i = 0; i < ngroups; i++) {
		size_t len = store_name_len(groups[i], NNTP_GROUP_MAX_BYTES);
		uint64_t high;
		int rc;

		if (len == 0) {
			errno = EINVAL;
			STORE_LOG(LOG_LVL_WARN, "store: bad group name in an article");
			return -1;
		}
		rc = store_group_id(s, groups[i], len, &gid[i], &high);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			char shown[80];

			errno = EINVAL;
			STORE_LOG(LOG_LVL_WARN, "store: article for unknown group %s",
			          store_printable(shown, sizeof shown, groups[i], len));
			return -1;
		}
		uniq[i] = 1;
		for (size_t j = 0; j < i; j++) {
			if (gid[j] == gid[i]) {
				uniq[i] = 0;
				high = numbers[j] - 1;
				break;
			}
		}
		if (high >= STORE_NUMBER_MAX) {
			char shown[80];

			errno = EOVERFLOW;
			STORE_LOG(LOG_LVL_ERR, "store: group %s has no article numbers left",
			          store_printable(shown, sizeof shown, groups[i], len));
			return -1;
		}
		numbers[i] = high + 1;
	}
	return 0;
}

int
store_peek_numbers(struct store *s, const char *const *groups, size_t ngroups, uint64_t *numbers)
{
	int64_t gid[NNTP_GROUPS_PER_ARTICLE_MAX];
	uint64_t num[NNTP_GROUPS_PER_ARTICLE_MAX];
	int uniq[NNTP_GROUPS_PER_ARTICLE_MAX];

	if (store_enter(s) < 0)
		return -1;
	s->peek_n = 0;
	if (store_numbers(s, groups, ngroups, gid, num, uniq) < 0)
		return -1;
	memcpy(s->peek_gid, gid, ngroups * sizeof gid[0]);
	memcpy(s->peek_num, num, ngroups * sizeof num[0]);
	memcpy(numbers, num, ngroups * sizeof num[0]);
	s->peek_n = ngroups;
	return 0;
}

/* 0 if the numbers agree with the last peek wherever it named the group. */
static int
store_peek_agrees(const struct store *s, const int64_t *gid, const uint64_t *num, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < s->peek_n; j++)
			if (s->peek_gid[j] == gid[i] && s->peek_num[j] != num[i])
				return -1;
	return 0;
}

/* "g1:n1 g2:n2" for the overview's Xref field. */
static int
store_xref(struct store *s, const struct store_new *a, const uint64_t *num, const int *uniq, size_t *len)
{
	size_t o = 0;

	for (size_t i = 0; i < a->ngroups; i++) {
		int n;

		if (!uniq[i])
			continue;
		n = snprintf(s->xref + o, sizeof s->xref - o, "%s%s:%llu", o > 0 ? " " : "", a->groups[i],
		             (unsigned long long)num[i]);
		if (n < 0 || (size_t)n >= sizeof s->xref - o)
			return -1;
		o += (size_t)n;
	}
	*len = o;
	return 0;
}

/* Validates what store_add is given, before anything is staged. */
static int
store_new_ok(const struct store_new *a)
{
	if (a == NULL || !store_msgid_ok(a->msgid, a->msgid_len))
		return 0;
	if (a->text == NULL || a->len == 0 || a->header_len > a->len)
		return 0;
	if ((a->subject == NULL && a->subject_len) || (a->from == NULL && a->from_len) ||
	    (a->date == NULL && a->date_len) || (a->references == NULL && a->references_len))
		return 0;
	/* The four fields come from one header section; each check first, so
	 * the sum cannot wrap. */
	if (a->subject_len > NNTP_HEADER_MAX_BYTES || a->from_len > NNTP_HEADER_MAX_BYTES ||
	    a->date_len > NNTP_HEADER_MAX_BYTES || a->references_len > NNTP_HEADER_MAX_BYTES ||
	    a->subject_len + a->from_len + a->date_len + a->references_len > NNTP_HEADER_MAX_BYTES)
		return 0;
	return 1;
}

/* Binds one overview field, unfolded into the scratch buffer at *off. */
static int
store_bind_over(struct store *s, sqlite3_stmt *q, int i, const char *p, size_t len, size_t *off)
{
	size_t n = p != NULL ? store_unfold(s->scratch + *off, p, len) : 0;
	int rc = sqlite3_bind_text64(q, i, s->scratch + *off, n, SQLITE_STATIC, SQLITE_UTF8);

	*off += n;
	return rc;
}

/* Stages the article's rows, one atomic statement at a time.  *art_out
 * receives the article's rowid once its row is in (0 before), *bumped how
 * many of the groups (in order) had high and count raised, for
 * store_unstage. */
static int
store_stage(struct store *s, const struct store_new *a, const int64_t *gid, const uint64_t *num, const int *uniq,
            sqlite3_int64 *art_out, size_t *bumped)
{
	sqlite3_stmt *q = s->q[ST_ART_INSERT];
	/* Expiry goes by posted, which comes from the peer's Date: a date in
	 * the future would keep the article forever, so never later than arrival. */
	int64_t posted = a->posted < a->arrived ? a->posted : a->arrived;
	size_t xlen, off = 0;
	sqlite3_int64 art;
	int rc;

	if (store_xref(s, a, num, uniq, &xlen) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (store_bind_str(q, 1, a->msgid, a->msgid_len) || sqlite3_bind_int64(q, 2, (sqlite3_int64)a->header_len) ||
	    sqlite3_bind_int64(q, 3, (sqlite3_int64)a->len) || sqlite3_bind_int64(q, 4, a->lines) ||
	    store_bind_over(s, q, 5, a->subject, a->subject_len, &off) ||
	    store_bind_over(s, q, 6, a->from, a->from_len, &off) ||
	    store_bind_over(s, q, 7, a->date, a->date_len, &off) ||
	    store_bind_over(s, q, 8, a->references, a->references_len, &off) ||
	    store_bind_str(q, 9, s->xref, xlen) || sqlite3_bind_int64(q, 10, posted) ||
	    sqlite3_bind_int64(q, 11, a->arrived)) {
		store_stmt_done(q);
		STORE_DBERR(s, "article bind");
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE) {
		if ((rc & 0xff) == SQLITE_CONSTRAINT) {
			char shown[80];

			errno = EEXIST;
			STORE_LOG(LOG_LVL_INFO, "store: duplicate %s",
			          store_printable(shown, sizeof shown, a->msgid, a->msgid_len));
		} else {
			STORE_DBERR(s, "article insert");
			errno = EIO;
		}
		return -1;
	}
	art = sqlite3_last_insert_rowid(s->db);
	*art_out = art;

	q = s->q[ST_BODY_INSERT];
	if (sqlite3_bind_int64(q, 1, art) ||
	    sqlite3_bind_blob64(q, 2, a->text, (sqlite3_uint64)a->len, SQLITE_STATIC)) {
		store_stmt_done(q);
		STORE_DBERR(s, "body bind");
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE) {
		STORE_DBERR(s, "body insert");
		errno = EIO;
		return -1;
	}

	for (size_t i = 0; i < a->ngroups; i++) {
		if (!uniq[i])
			continue;
		q = s->q[ST_AG_INSERT];
		if (sqlite3_bind_int64(q, 1, gid[i]) || store_bind_num(q, 2, num[i]) || sqlite3_bind_int64(q, 3, art)) {
			store_stmt_done(q);
			errno = EIO;
			return -1;
		}
		rc = sqlite3_step(q);
		store_stmt_done(q);
		if (rc != SQLITE_DONE) {
			STORE_DBERR(s, "art_group insert");
			errno = EIO;
			return -1;
		}
		q = s->q[ST_GROUP_BUMP];
		if (sqlite3_bind_int64(q, 1, gid[i]) || store_bind_num(q, 2, num[i])) {
			store_stmt_done(q);
			errno = EIO;
			return -1;
		}
		rc = sqlite3_step(q);
		store_stmt_done(q);
		if (rc != SQLITE_DONE) {
			STORE_DBERR(s, "group bump");
			errno = EIO;
			return -1;
		}
		*bumped = i + 1;
	}
	return 0;
}

/* Takes back what store_stage put in before it failed: the article row
 * (its body and art_group rows go by cascade) and the groups' high and
 * count.  Bumps never touch low (see ST_GROUP_BUMP), so neither does this. */
static int
store_unstage(struct store *s, sqlite3_int64 art, const int64_t *gid, const uint64_t *num, const int *uniq,
              size_t bumped)
{
	sqlite3_stmt *q = s->q[ST_ART_DELETE];
	int rc;

	sqlite3_bind_int64(q, 1, art);
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE) {
		STORE_DBERR(s, "unstage article");
		return -1;
	}
	for (size_t i = 0; i < bumped; i++) {
		if (!uniq[i])
			continue;
		q = s->q[ST_GROUP_UNBUMP];
		sqlite3_bind_int64(q, 1, gid[i]);
		store_bind_num(q, 2, num[i] - 1);
		rc = sqlite3_step(q);
		store_stmt_done(q);
		if (rc != SQLITE_DONE) {
			STORE_DBERR(s, "unstage group");
			return -1;
		}
	}
	return 0;
}

int
store_add(struct store *s, const struct store_new *a, uint64_t *numbers)
{
	int64_t gid[NNTP_GROUPS_PER_ARTICLE_MAX];
	uint64_t num[NNTP_GROUPS_PER_ARTICLE_MAX];
	int uniq[NNTP_GROUPS_PER_ARTICLE_MAX];
	sqlite3_int64 art = 0;
	size_t bumped = 0;
	int e;

	if (store_enter(s) < 0)
		return -1;
	if (!store_new_ok(a)) {
		errno = EINVAL;
		STORE_LOG(LOG_LVL_WARN, "store: article refused: bad message-id, lengths or fields");
		return -1;
	}
	if (s->lost) {
		errno = EIO;
		STORE_LOG(LOG_LVL_WARN, "store: article refused until the lost batch is committed");
		return -1;
	}
	if (!s->in_txn) {
		if (store_exec(s, ST_BEGIN) < 0)
			return -1;
		s->in_txn = 1;
		s->batch = 0;
	}
	if (store_numbers(s, a->groups, a->ngroups, gid, num, uniq) < 0)
		goto fail;
	if (store_peek_agrees(s, gid, num, a->ngroups) < 0) {
		errno = EAGAIN;
		STORE_LOG(LOG_LVL_ERR, "store: article numbers changed since store_peek_numbers");
		goto fail;
	}
	if (store_stage(s, a, gid, num, uniq, &art, &bumped) < 0)
		goto fail;
	s->batch++;
	s->peek_n = 0;
	if (numbers != NULL)
		memcpy(numbers, num, a->ngroups * sizeof num[0]);
	return 0;

fail:
	e = errno;
	/* Undo this article alone, so the rest of the batch stays staged.
	 * Not with a SAVEPOINT per article: pages changed under a savepoint
	 * are copied to a statement journal (a temporary file once it passes
	 * 64 KiB), which measured at half the ingest rate.  Each statement
	 * is atomic by itself, so only rows of earlier statements need taking
	 * back; if that fails too, the whole batch goes. */
	if (art != 0 && !sqlite3_get_autocommit(s->db) && store_unstage(s, art, gid, num, uniq, bumped) < 0) {
		(void)store_exec(s, ST_ROLLBACK);
		s->in_txn = 0;
		s->peek_n = 0;
		if (s->batch > 0)
			s->lost = 1;
	}
	s->peek_n = 0;
	store_check_txn(s);
	/* An empty batch must not keep the write lock. */
	if (s->in_txn && s->batch == 0) {
		(void)store_exec(s, ST_ROLLBACK);
		s->in_txn = 0;
	}
	errno = e;
	return -1;
}

int
store_commit(struct store *s)
{
	if (store_enter(s) < 0)
		return -1;
	s->peek_n = 0;
	if (s->lost) {
		s->lost = 0;
		s->batch = 0;
		errno = EIO;
		STORE_LOG(LOG_LVL_ERR, "store: commit of a lost batch");
		return -1;
	}
	if (!s->in_txn)
		return 0;
	s->in_txn = 0;
	s->batch = 0;
	if (store_exec(s, ST_COMMIT) < 0) {
		if (!sqlite3_get_autocommit(s->db))
			(void)store_exec(s, ST_ROLLBACK);
		errno = EIO;
		return -1;
	}
	return 0;
}

size_t
store_batch_size(const struct store *s)
{
	return s != NULL ? s->batch : 0;
}

int
store_remember_rejected(struct store *s, const char *msgid, size_t len, int64_t now)
{
	sqlite3_stmt *q;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	if (!store_msgid_ok(msgid, len)) {
		errno = EINVAL;
		return -1;
	}
	if (store_wr_begin(s, 0) < 0)
		return -1;
	q = s->q[ST_REJECT];
	if (store_bind_str(q, 1, msgid, len) || sqlite3_bind_int64(q, 2, now)) {
		store_stmt_done(q);
		store_wr_end(s, 0);
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE) {
		STORE_DBERR(s, "remember rejected");
		store_wr_end(s, 0);
		errno = EIO;
		return -1;
	}
	return store_wr_end(s, 1);
}

/* ---- articles: retrieval ---- */

/* Copies the row (text, header_len, msgid) into r and out: all or nothing. */
static int
store_text_copy(struct store *s, sqlite3_stmt *q, struct region *r, uint64_t number, struct store_text *out)
{
	const void *blob = sqlite3_column_blob(q, 0);
	size_t len = (size_t)sqlite3_column_bytes(q, 0);
	size_t header_len = (size_t)store_col_u64(q, 1);
	char msgid[NNTP_MSGID_MAX_BYTES + 1];
	uint8_t *text;

	if (blob == NULL && len > 0) {
		errno = ENOMEM;    /* SQLite's own allocation failed */
		return -1;
	}
	if (store_col_copy(q, 2, msgid, sizeof msgid) < 0 || header_len > len) {
		errno = EIO;
		STORE_LOG(LOG_LVL_ERR, "store: corrupt article row");
		return -1;
	}
	text = region_alloc(r, len > 0 ? len : 1);
	if (text == NULL) {
		errno = ENOMEM;
		STORE_LOG(LOG_LVL_WARN, "store: no room for a %zu-byte article in the region", len);
		return -1;
	}
	if (len > 0)
		memcpy(text, blob, len);
	out->text = text;
	out->len = len;
	out->header_len = header_len;
	memcpy(out->msgid, msgid, strlen(msgid) + 1);
	out->number = number;
	return 0;
}

/* Steps a statement expected to return at most one article row. */
static int
store_get_row(struct store *s, sqlite3_stmt *q, struct region *r, uint64_t number, struct store_text *out)
{
	int rc = sqlite3_step(q);
	int ret;

	if (rc == SQLITE_ROW) {
		ret = store_text_copy(s, q, r, number, out);
		store_stmt_done(q);
		return ret;
	}
	store_stmt_done(q);
	if (rc == SQLITE_DONE)
		return 1;
	STORE_DBERR(s, "article get");
	store_check_txn(s);
	errno = EIO;
	return -1;
}

int
store_get_by_msgid(struct store *s, const char *msgid, size_t len, struct region *r, struct store_text *out)
{
	sqlite3_stmt *q;

	if (store_enter(s) < 0)
		return -1;
	if (!store_msgid_ok(msgid, len))
		return 1;
	q = s->q[ST_GET_MSGID];
	if (store_bind_str(q, 1, msgid, len)) {
		store_stmt_done(q);
		errno = EIO;
		return -1;
	}
	return store_get_row(s, q, r, 0, out);
}

int
store_get_by_number(struct store *s, const char *group, uint64_t number, struct region *r, struct store_text *out)
{
	size_t len = store_name_len(group, NNTP_GROUP_MAX_BYTES);
	sqlite3_stmt *q;

	if (store_enter(s) < 0)
		return -1;
	if (len == 0 || number == 0 || number > STORE_NUMBER_MAX)
		return 1;
	q = s->q[ST_GET_NUMBER];
	if (store_bind_str(q, 1, group, len) || store_bind_num(q, 2, number)) {
		store_stmt_done(q);
		errno = EIO;
		return -1;
	}
	return store_get_row(s, q, r, number, out);
}

int
store_stat_number(struct store *s, const char *group, uint64_t number, char *msgid, size_t msgid_size)
{
	size_t len = store_name_len(group, NNTP_GROUP_MAX_BYTES);
	sqlite3_stmt *q;
	int rc, ret;

	if (store_enter(s) < 0)
		return -1;
	if (len == 0 || number == 0 || number > STORE_NUMBER_MAX)
		return 1;
	q = s->q[ST_STAT_NUMBER];
	if (store_bind_str(q, 1, group, len) || store_bind_num(q, 2, number)) {
		store_stmt_done(q);
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		ret = 0;
		if (msgid == NULL || store_col_copy(q, 0, msgid, msgid_size) < 0) {
			errno = ERANGE;
			ret = -1;
		}
		store_stmt_done(q);
		return ret;
	}
	store_stmt_done(q);
	if (rc == SQLITE_DONE)
		return 1;
	STORE_DBERR(s, "stat");
	store_check_txn(s);
	errno = EIO;
	return -1;
}

int
store_step(struct store *s, const char *group, uint64_t number, int dir, uint64_t *out)
{
	size_t len = store_name_len(group, NNTP_GROUP_MAX_BYTES);
	sqlite3_stmt *q;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	if (dir == 0) {
		errno = EINVAL;
		return -1;
	}
	if (len == 0 || (dir > 0 && number >= STORE_NUMBER_MAX))
		return 1;
	q = s->q[dir > 0 ? ST_STEP_NEXT : ST_STEP_PREV];
	if (store_bind_str(q, 1, group, len) || store_bind_num(q, 2, number)) {
		store_stmt_done(q);
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*out = store_col_u64(q, 0);
	store_stmt_done(q);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	STORE_DBERR(s, "step");
	store_check_txn(s);
	errno = EIO;
	return -1;
}

/* Binds group id and [lo, hi] for a range statement: 0, 1 (no group or
 * empty range: nothing to do), -1. */
static int
store_range(struct store *s, sqlite3_stmt *q, const char *group, uint64_t lo, uint64_t hi)
{
	size_t len = store_name_len(group, NNTP_GROUP_MAX_BYTES);
	int64_t gid;
	int rc;

	if (len == 0)
		return 1;
	rc = store_group_id(s, group, len, &gid, NULL);
	if (rc != 0)
		return rc;
	if (sqlite3_bind_int64(q, 1, gid) || store_bind_num(q, 2, lo) || store_bind_num(q, 3, hi)) {
		store_stmt_done(q);
		errno = EIO;
		return -1;
	}
	return 0;
}

static void
store_over_fill(sqlite3_stmt *q, struct store_over *o)
{
	o->number = store_col_u64(q, 0);
	o->subject = store_col_str(q, 1);
	o->from = store_col_str(q, 2);
	o->date = store_col_str(q, 3);
	o->msgid = store_col_str(q, 4);
	o->references = store_col_str(q, 5);
	o->xref = store_col_str(q, 6);
	o->bytes = store_col_u64(q, 7);
	o->lines = (uint32_t)store_col_u64(q, 8);
}

/* Iterates q's rows into cb until done or cb returns non-zero. */
static int
store_iterate(struct store *s, sqlite3_stmt *q, int over, int (*ncb)(void *, uint64_t),
              int (*ocb)(void *, const struct store_over *), void *arg, const char *what)
{
	struct store_over o;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int stop;

		s->in_cb = 1;
		if (over) {
			store_over_fill(q, &o);
			stop = ocb(arg, &o);
		} else {
			stop = ncb(arg, store_col_u64(q, 0));
		}
		s->in_cb = 0;
		if (stop)
			break;
	}
	store_stmt_done(q);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	STORE_DBERR(s, what);
	store_check_txn(s);
	errno = EIO;
	return -1;
}

int
store_listgroup(struct store *s, const char *group, uint64_t lo, uint64_t hi, int (*cb)(void *arg, uint64_t number),
                void *arg)
{
	sqlite3_stmt *q;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	q = s->q[ST_LISTGROUP];
	rc = store_range(s, q, group, lo, hi);
	if (rc != 0)
		return rc;
	if (lo > hi) {
		store_stmt_done(q);
		return 0;
	}
	return store_iterate(s, q, 0, cb, NULL, arg, "listgroup");
}

int
store_over_range(struct store *s, const char *group, uint64_t lo, uint64_t hi,
                 int (*cb)(void *arg, const struct store_over *o), void *arg)
{
	sqlite3_stmt *q;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	q = s->q[ST_OVER_RANGE];
	rc = store_range(s, q, group, lo, hi);
	if (rc != 0)
		return rc;
	if (lo > hi) {
		store_stmt_done(q);
		return 0;
	}
	return store_iterate(s, q, 1, NULL, cb, arg, "over");
}

int
store_over_msgid(struct store *s, const char *msgid, size_t len, int (*cb)(void *arg, const struct store_over *o),
                 void *arg)
{
	struct store_over o;
	sqlite3_stmt *q;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	if (!store_msgid_ok(msgid, len))
		return 1;
	q = s->q[ST_OVER_MSGID];
	if (store_bind_str(q, 1, msgid, len)) {
		store_stmt_done(q);
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		store_over_fill(q, &o);
		s->in_cb = 1;
		(void)cb(arg, &o);
		s->in_cb = 0;
	}
	store_stmt_done(q);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	STORE_DBERR(s, "over msgid");
	store_check_txn(s);
	errno = EIO;
	return -1;
}

int
store_newnews(struct store *s, int64_t since, int (*group_ok)(void *arg, const char *group),
              int (*cb)(void *arg, const char *msgid), void *arg)
{
	sqlite3_stmt *q;
	sqlite3_int64 done = 0;    /* article already sent or decided; rowids start at 1 */
	int rc;

	if (store_enter(s) < 0)
		return -1;
	q = s->q[ST_NEWNEWS];
	sqlite3_bind_int64(q, 1, since);
	/* Rows come grouped by article (ordered by arrived, id): one row per
	 * group it is in; the first group that passes sends it. */
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		sqlite3_int64 id = sqlite3_column_int64(q, 0);
		int stop = 0;

		if (id == done)
			continue;
		s->in_cb = 1;
		if (group_ok == NULL || group_ok(arg, store_col_str(q, 2)) == 1) {
			done = id;
			stop = cb(arg, store_col_str(q, 1));
		}
		s->in_cb = 0;
		if (stop)
			break;
	}
	store_stmt_done(q);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	STORE_DBERR(s, "newnews");
	store_check_txn(s);
	errno = EIO;
	return -1;
}

/* ---- removal ---- */

int
store_cancel(struct store *s, const char *msgid, size_t len)
{
	int64_t gids[NNTP_GROUPS_PER_ARTICLE_MAX];
	size_t ng = 0;
	sqlite3_stmt *q;
	sqlite3_int64 art;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	if (!store_msgid_ok(msgid, len))
		return 1;
	if (store_wr_begin(s, 1) < 0)
		return -1;
	q = s->q[ST_ART_FIND];
	if (store_bind_str(q, 1, msgid, len)) {
		store_stmt_done(q);
		goto fail;
	}
	rc = sqlite3_step(q);
	art = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	store_stmt_done(q);
	if (rc == SQLITE_DONE)
		return store_wr_end(s, 1) < 0 ? -1 : 1;
	if (rc != SQLITE_ROW)
		goto dberr;

	/* The groups to recount once the article (and, by cascade, its
	 * art_group rows) is gone. */
	q = s->q[ST_AG_GROUPS];
	sqlite3_bind_int64(q, 1, art);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (ng == NNTP_GROUPS_PER_ARTICLE_MAX) {
			rc = SQLITE_CORRUPT;    /* store_add never files one article in more */
			break;
		}
		gids[ng++] = sqlite3_column_int64(q, 0);
	}
	store_stmt_done(q);
	if (rc != SQLITE_DONE)
		goto dberr;

	q = s->q[ST_HIST_ADD_ID];
	sqlite3_bind_int64(q, 1, art);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE)
		goto dberr;
	q = s->q[ST_ART_DELETE];
	sqlite3_bind_int64(q, 1, art);
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE)
		goto dberr;
	for (size_t i = 0; i < ng; i++)
		if (store_recount(s, gids[i]) < 0)
			goto fail;
	return store_wr_end(s, 1);

dberr:
	STORE_DBERR(s, "cancel");
fail:
	store_wr_end(s, 0);
	errno = EIO;
	return -1;
}

int
store_expire(struct store *s, int64_t cutoff, int (*group_ok)(void *arg, const char *group), void *arg,
             uint64_t *removed)
{
	char name[NNTP_GROUP_MAX_BYTES + 1] = "";
	uint64_t total = 0;
	sqlite3_stmt *q;

	if (store_enter(s) < 0)
		return -1;
	/* One group at a time by name, with no statement open while the
	 * caller's predicate runs or while rows are deleted; each group is
	 * its own transaction (or savepoint inside an open batch). */
	for (;;) {
		uint64_t n = 0;
		int64_t gid;
		int rc, ok;

		q = s->q[ST_GROUP_NEXT];
		if (store_bind_str(q, 1, name, strlen(name))) {
			store_stmt_done(q);
			errno = EIO;
			return -1;
		}
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			gid = sqlite3_column_int64(q, 0);
			if (store_col_copy(q, 1, name, sizeof name) < 0)
				rc = SQLITE_CORRUPT;    /* store_group_create keeps names within the limit */
		}
		store_stmt_done(q);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			STORE_DBERR(s, "expire: next group");
			store_check_txn(s);
			errno = EIO;
			return -1;
		}
		ok = 1;
		if (group_ok != NULL) {
			s->in_cb = 1;
			ok = group_ok(arg, name) == 1;
			s->in_cb = 0;
		}
		if (!ok)
			continue;
		if (store_wr_begin(s, 1) < 0)
			return -1;
		if (store_expire_group(s, gid, cutoff, 0, &n) < 0) {
			store_wr_end(s, 0);
			return -1;
		}
		if (store_wr_end(s, 1) < 0)
			return -1;
		total += n;
		if (removed != NULL)
			*removed = total;
	}
	/* History only has to outlast the articles it stands for: an id seen
	 * before the cutoff would be refused as too old anyway. */
	if (store_wr_begin(s, 0) < 0)
		return -1;
	q = s->q[ST_HIST_PRUNE];
	sqlite3_bind_int64(q, 1, cutoff);
	if (sqlite3_step(q) != SQLITE_DONE) {
		store_stmt_done(q);
		STORE_DBERR(s, "expire: history");
		store_wr_end(s, 0);
		errno = EIO;
		return -1;
	}
	store_stmt_done(q);
	if (store_wr_end(s, 1) < 0)
		return -1;
	if (removed != NULL)
		*removed = total;
	return 0;
}

/* ---- feeds ---- */

int
store_feed_enqueue(struct store *s, const char *peer, const char *msgid, size_t len)
{
	size_t plen = store_name_len(peer, STORE_PEER_MAX_BYTES);
	sqlite3_stmt *q;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	if (plen == 0 || !store_msgid_ok(msgid, len)) {
		errno = EINVAL;
		return -1;
	}
	if (store_wr_begin(s, 0) < 0)
		return -1;
	q = s->q[ST_FEED_ADD];
	if (store_bind_str(q, 1, peer, plen) || store_bind_str(q, 2, msgid, len) ||
	    sqlite3_bind_int64(q, 3, (sqlite3_int64)time(NULL))) {
		store_stmt_done(q);
		store_wr_end(s, 0);
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE) {
		STORE_DBERR(s, "feed enqueue");
		store_wr_end(s, 0);
		errno = EIO;
		return -1;
	}
	return store_wr_end(s, 1);
}

int
store_feed_peek(struct store *s, const char *peer, size_t max, int (*cb)(void *arg, const char *msgid), void *arg)
{
	size_t plen = store_name_len(peer, STORE_PEER_MAX_BYTES);
	sqlite3_stmt *q;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	if (plen == 0) {
		errno = EINVAL;
		return -1;
	}
	if (max == 0)
		return 0;
	q = s->q[ST_FEED_PEEK];
	if (store_bind_str(q, 1, peer, plen) || store_bind_num(q, 2, max)) {
		store_stmt_done(q);
		errno = EIO;
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int stop;

		s->in_cb = 1;
		stop = cb(arg, store_col_str(q, 0));
		s->in_cb = 0;
		if (stop)
			break;
	}
	store_stmt_done(q);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	STORE_DBERR(s, "feed peek");
	store_check_txn(s);
	errno = EIO;
	return -1;
}

int
store_feed_done(struct store *s, const char *peer, const char *msgid, size_t len)
{
	size_t plen = store_name_len(peer, STORE_PEER_MAX_BYTES);
	sqlite3_stmt *q;
	int rc;

	if (store_enter(s) < 0)
		return -1;
	if (plen == 0 || !store_msgid_ok(msgid, len)) {
		errno = EINVAL;
		return -1;
	}
	if (store_wr_begin(s, 0) < 0)
		return -1;
	q = s->q[ST_FEED_DONE];
	if (store_bind_str(q, 1, peer, plen) || store_bind_str(q, 2, msgid, len)) {
		store_stmt_done(q);
		store_wr_end(s, 0);
		errno = EIO;
		return -1;
	}
	rc = sqlite3_step(q);
	store_stmt_done(q);
	if (rc != SQLITE_DONE) {
		STORE_DBERR(s, "feed done");
		store_wr_end(s, 0);
		errno = EIO;
		return -1;
	}
	return store_wr_end(s, 1);
}

uint64_t
store_feed_backlog(struct store *s, const char *peer)
{
	size_t plen = store_name_len(peer, STORE_PEER_MAX_BYTES);
	sqlite3_stmt *q;
	uint64_t n = 0;
	int rc;

	if (store_enter(s) < 0 || plen == 0)
		return 0;
	q = s->q[ST_FEED_COUNT];
	if (store_bind_str(q, 1, peer, plen)) {
		store_stmt_done(q);
		return 0;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		n = store_col_u64(q, 0);
	store_stmt_done(q);
	if (rc != SQLITE_ROW) {
		STORE_DBERR(s, "feed backlog");
		store_check_txn(s);
	}
	return n;
}

/* ---- maintenance ---- */

int
store_check(struct store *s, char *err, size_t errlen)
{
	char dummy[1];
	sqlite3_stmt *q;
	int rc, ret = 0;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	if (store_enter(s) < 0)
		return -1;
	q = s->q[ST_INTEGRITY];
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *msg = store_col_str(q, 0);

		if (strcmp(msg, "ok") != 0) {
			snprintf(err, errlen, "%s", msg);
			ret = -1;
		}
	} else {
		snprintf(err, errlen, "integrity_check: %s", sqlite3_errmsg(s->db));
		ret = -1;
	}
	store_stmt_done(q);
	if (ret < 0)
		return -1;
	/* Cascades keep the tables consistent only if nothing bypassed them. */
	q = s->q[ST_FK_CHECK];
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		snprintf(err, errlen, "foreign key violation in %s", store_col_str(q, 0));
		ret = -1;
	} else if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "foreign_key_check: %s", sqlite3_errmsg(s->db));
		ret = -1;
	}
	store_stmt_done(q);
	return ret;
}
