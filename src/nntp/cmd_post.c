/*
 * cmd_post.c: articles coming in: POST (RFC 3977 6.3.1), IHAVE (6.3.2),
 * CHECK and TAKETHIS (RFC 4644), article preparation and control
 * messages.
 *
 * Interface: the handlers of the command table, and news_article_done,
 * which news.c calls when an article's "." line arrived (or the article
 * was eaten because it passed a limit).
 *
 * Preparation, in place in the article buffer (no second copy, so one
 * article costs article_max plus NEWS_ARTICLE_SLACK_BYTES): the article
 * is parsed once as the peer sent it, so nothing we add counts against
 * its limits (POST may omit Message-ID, Date and Path: RFC 5537 3.4.1).
 * Then the Path and Xref fields (on POST also Injection-Date and
 * Injection-Info) are cut out and ours put in front: "Path:
 * pathhost!<old path>" (POST without Path: "pathhost!not-for-mail"),
 * "Xref: pathhost group:number ..." with the numbers store_peek_numbers
 * gives, and on POST Message-ID ("<random.time@pathhost>", getrandom)
 * and Date when missing, Injection-Date, and "Injection-Info: pathhost;
 * posting-host=ADDR".  The overview spans are moved by what was cut and
 * added (no second parse), and the article is staged with store_add (and
 * queued in the same batch for the outgoing feeds that want it: feed.c);
 * its acknowledgement waits for the group commit.
 *
 * Policy: POST needs at least one existing group; a group with status
 * 'n' refuses the post, a moderated group ('m') refuses it without
 * Approved.  Transit keeps only the groups that exist here and refuses an
 * article with none (437/439, remembered so feeds stop offering it); from
 * the address of a feeds_file peer with accept=WILDMAT it also keeps
 * only the groups that wildmat matches, and refuses an article with none
 * of them as "peer_groups".
 * Control messages (newgroup, rmgroup, cancel) are stored like any
 * article and acted on only when the From address is one of
 * control_authorities.
 *
 * Memory: the article's request region is released in every outcome
 * before news_article_done returns (the memory of a post belongs to the
 * post).
 *
 * Known weaknesses: no PGP verification of control messages (the From
 * address is all we check, as INN's "verify" = no); supersedes is stored
 * but not acted on.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"
#include "conn.h"
#include "log.h"
#include "region.h"
#include "nntp/article.h"
#include "nntp/feed.h"
#include "nntp/news.h"
#include "nntp/storage.h"
#include "nntp/wildmat.h"

#define NEWS_DATE_FUTURE_MAX_S (24 * 3600)   /* RFC 5537 3.5: Date more than 24 hours ahead */
/* Our header fields: Path, Xref with a number per group, and on POST
 * Message-ID, Date, Injection-Date, Injection-Info. */
#define NEWS_PREFIX_MAX_BYTES \
	(NNTP_PATH_MAX_BYTES + 2 * 1024 + NNTP_GROUPS_PER_ARTICLE_MAX * (NNTP_GROUP_MAX_BYTES + 24))

/* ------------------------------------------------------------- commands */

int
news_cmd_post(struct news_conn *nc, int argc, char **argv)
{
	if (news_data_begin(nc, NEWS_DATA_POST, NULL) != 0) {
		conn_reject(nc->c, "budget");
		return news_reply(nc, "440 Posting not possible now, try again later");
	}
	return news_reply(nc, "340 Send article to be posted. End with <CR-LF>.<CR-LF>");
}

static int
msgid_ok(const char *id)
{
	return article_msgid_valid(id, strlen(id));
}

int
news_cmd_ihave(struct news_conn *nc, int argc, char **argv)
{
	const char *id = argv[1];
	struct news_inflight *inf;
	int rc;

	if (!msgid_ok(id)) {
		news_error(nc, "bad_message_id");
		return news_reply(nc, "501 Bad message-id");
	}
	if ((rc = store_have(nc->n->store, id, strlen(id))) < 0)
		return news_reply(nc, "436 Storage error, try again later");
	if (rc == 1)
		return news_reply(nc, "435 Duplicate");
	if (news_inflight_has(nc->n, id, strlen(id)))
		return news_reply(nc, "436 Transfer in progress elsewhere, try again later");
	if ((inf = news_inflight_add(nc, id, strlen(id))) == NULL ||
	    news_data_begin(nc, NEWS_DATA_IHAVE, id) != 0) {
		if (inf)
			news_inflight_del(inf);
		conn_reject(nc->c, "budget");
		return news_reply(nc, "436 Out of resources, try again later");
	}
	nc->data_inflight = inf;
	return news_reply(nc, "335 Send it; end with <CR-LF>.<CR-LF>");
}

/* This connection's own in-flight entry for id (a CHECK it answered 238). */
static struct news_inflight *
own_inflight(struct news_conn *nc, const char *id)
{
	struct news_inflight *e;
	size_t len = strlen(id);

	for (e = nc->inflight; e; e = e->conn_next)
		if (e->len == len && memcmp(e->msgid, id, len) == 0)
			return e;
	return NULL;
}

int
news_cmd_check(struct news_conn *nc, int argc, char **argv)
{
	const char *id = argv[1];
	struct news_inflight *inf;
	int rc;

	if (!msgid_ok(id)) {
		news_error(nc, "bad_message_id");
		return news_reply(nc, "501 Bad message-id");
	}
	if ((rc = store_have(nc->n->store, id, strlen(id))) < 0)
		return news_reply(nc, "431 %s", id);
	if (rc == 1)
		return news_reply(nc, "438 %s", id);
	/* RFC 4644 2.4: 431 is "not now"; another connection is sending it. */
	if (news_inflight_has(nc->n, id, strlen(id)))
		return news_reply(nc, own_inflight(nc, id) ? "238 %s" : "431 %s", id);
	/* Promise it to this peer.  A peer that never sends what it was
	 * promised would keep the promise forever: at the per-connection
	 * bound the oldest promise goes.  If the set is still full, say yes
	 * anyway (the store's duplicate check stays the final word). */
	if (nc->ninflight >= NNTP_STREAM_INFLIGHT_MAX) {
		struct news_inflight *e, *oldest = NULL;

		for (e = nc->inflight; e; e = e->conn_next)
			if (e->promised)
				oldest = e;
		if (oldest)
			news_inflight_del(oldest);
	}
	if ((inf = news_inflight_add(nc, id, strlen(id))) != NULL)
		inf->promised = 1;
	return news_reply(nc, "238 %s", id);
}

int
news_cmd_takethis(struct news_conn *nc, int argc, char **argv)
{
	const char *id = argv[1];
	struct news_inflight *inf;
	char reply[NNTP_MSGID_MAX_BYTES + 64];
	int rc;

	/* The article follows whatever we think of it: every refusal eats it
	 * and answers after the "." line. */
	if (!msgid_ok(id)) {
		conn_reject(nc->c, "bad_message_id");
		snprintf(reply, sizeof reply, "439 %.*s", NNTP_MSGID_MAX_BYTES, id);
		news_eat_begin(nc, NEWS_DATA_TAKETHIS, reply);
		return 0;
	}
	snprintf(reply, sizeof reply, "439 %s", id);
	if ((rc = store_have(nc->n->store, id, strlen(id))) != 0) {
		conn_reject(nc->c, rc < 0 ? "storage" : "duplicate");
		news_eat_begin(nc, NEWS_DATA_TAKETHIS, reply);
		return 0;
	}
	inf = own_inflight(nc, id);
	if (inf == NULL && news_inflight_has(nc->n, id, strlen(id))) {
		conn_reject(nc->c, "in_flight");
		news_eat_begin(nc, NEWS_DATA_TAKETHIS, reply);
		return 0;
	}
	if (inf == NULL)
		inf = news_inflight_add(nc, id, strlen(id));
	if (inf)
		inf->promised = 0;
	if (news_data_begin(nc, NEWS_DATA_TAKETHIS, id) != 0) {
		if (inf)
			news_inflight_del(inf);
		conn_reject(nc->c, "budget");
		news_eat_begin(nc, NEWS_DATA_TAKETHIS, reply);
		return 0;
	}
	nc->data_inflight = inf;
	return 0;
}

/* ------------------------------------------------------- header surgery */

static int
name_is(const uint8_t *p, size_t avail, const char *name)
{
	size_t n = strlen(name);

	return avail > n && strncasecmp((const char *)p, name, n) == 0 && p[n] == ':';
}

/* Length of the field starting at t[0] (with continuation lines and CRLF). */
static size_t
field_len(const uint8_t *t, size_t avail)
{
	size_t i = 0;

	for (;;) {
		const uint8_t *nl = memchr(t + i, '\n', avail - i);

		if (nl == NULL)
			return avail;
		i = (size_t)(nl - t) + 1;
		if (i >= avail || (t[i] != ' ' && t[i] != '\t'))
			return i;
	}
}

/* Puts prefix in front of the article in b.  0, or -1 (over the budget). */
static int
prepend(struct buf *b, const char *prefix, size_t plen)
{
	size_t len = buf_len(b);
	uint8_t *t;

	if (buf_reserve(b, plen) != 0)
		return -1;
	t = (uint8_t *)buf_data(b);
	memmove(t + plen, t, len);
	memcpy(t, prefix, plen);
	buf_commit(b, plen);
	return 0;
}

static void
rfc5322_date(int64_t now, char *out, size_t size)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)now;
	struct tm g;

	if (gmtime_r(&t, &g) == NULL)
		memset(&g, 0, sizeof g);
	snprintf(out, size, "%s, %d %s %d %02d:%02d:%02d +0000", days[g.tm_wday % 7], g.tm_mday,
	         months[g.tm_mon % 12], g.tm_year + 1900, g.tm_hour, g.tm_min, g.tm_sec);
}

static void
new_msgid(struct news_conn *nc, char *out, size_t size)
{
	unsigned char r[12];
	char hex[sizeof r * 2 + 1];
	size_t i;

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		uint64_t x = clock_ms() ^ (uint64_t)(uintptr_t)nc;

		for (i = 0; i < sizeof r; i++)
			r[i] = (unsigned char)(x >> (8 * (i % 8))) ^ (unsigned char)i;
	}
	for (i = 0; i < sizeof r; i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	snprintf(out, size, "<%s.%lld@%s>", hex, (long long)news_now(), nc->n->cf->pathhost);
}

/* The peer's address without the port, for posting-host. */
static void
peer_host(struct news_conn *nc, char *out, size_t size)
{
	const char *p = conn_peer_name(nc->c);
	const char *colon = strrchr(p, ':');
	size_t n = colon ? (size_t)(colon - p) : strlen(p);

	snprintf(out, size, "%.*s", (int)n, p);
}

/* --------------------------------------------------------------- control */

static int
from_is_authority(struct news_conn *nc, const uint8_t *t, struct span from)
{
	const struct conf_list *l = &nc->n->cf->control_authorities;
	const char *p = (const char *)t + from.off, *lt, *gt;
	size_t n = from.len, i;

	if ((lt = memchr(p, '<', n)) != NULL && (gt = memchr(lt, '>', n - (size_t)(lt - p))) != NULL) {
		p = lt + 1;
		n = (size_t)(gt - p);
	} else {
		size_t k = 0;

		while (k < n && p[k] != ' ' && p[k] != '\t' && p[k] != '(')
			k++;
		n = k;
	}
	for (i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == n && strncasecmp(l->v[i], p, n) == 0)
			return 1;
	return 0;
}

static void
control_act(struct news_conn *nc, const uint8_t *t, const struct article *a)
{
	char ctl[NNTP_COMMAND_MAX_BYTES];
	char *argv[4];
	char *p, *save = NULL;
	int argc = 0;
	size_t n = a->control.len < sizeof ctl - 1 ? a->control.len : sizeof ctl - 1;

	memcpy(ctl, t + a->control.off, n);
	ctl[n] = '\0';
	for (p = strtok_r(ctl, " \t\r\n", &save); p && argc < 4; p = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = p;
	if (argc < 2)
		return;
	if (!from_is_authority(nc, t, a->from)) {
		static struct log_rate rl;

		conn_reject(nc->c, "control_unauthorized");
		log_rated(&rl, LOG_LVL_INFO, "control message '%s' from an unlisted sender: stored, not acted on",
		          argv[0]);
		return;
	}
	if (strcasecmp(argv[0], "newgroup") == 0 && article_group_valid(argv[1], strlen(argv[1]))) {
		char status = argc > 2 && strcasecmp(argv[2], "moderated") == 0 ? 'm' : 'y';
		struct store_group g;
		int rc = store_group_get(nc->n->store, argv[1], &g);

		if (rc == 1)
			rc = store_group_create(nc->n->store, argv[1], status, "control", "");
		else if (rc == 0 && g.status != status)
			rc = store_group_set_status(nc->n->store, argv[1], status);
		log_info("control: newgroup %s (%c): %s", argv[1], status, rc == 0 ? "done" : "failed");
	} else if (strcasecmp(argv[0], "rmgroup") == 0 && article_group_valid(argv[1], strlen(argv[1]))) {
		int rc = store_group_remove(nc->n->store, argv[1]);

		log_info("control: rmgroup %s: %s", argv[1], rc == 0 ? "done" : "failed");
	} else if (strcasecmp(argv[0], "cancel") == 0 && article_msgid_valid(argv[1], strlen(argv[1]))) {
		int rc = store_cancel(nc->n->store, argv[1], strlen(argv[1]));

		log_info("control: cancel %s: %s", argv[1], rc == 0 ? "done" : rc == 1 ? "not found" : "failed");
	}
}

/* -------------------------------------------------------------- articles */

struct outcome {
	int staged;          /* acknowledgement pending */
	int transient;       /* temporary failure (436) */
	const char *reason;  /* reject reason for stats */
	char text[128];      /* refusal text */
};

static void
refuse(struct outcome *o, const char *reason, const char *text)
{
	o->reason = reason;
	snprintf(o->text, sizeof o->text, "%s", text);
}

/* A header field we take out of the article (Path, Xref, Injection-*). */
struct drop {
	uint32_t off, len;
};

/* Finds the fields named in names[] in the header section t[0..hlen). */
static size_t
collect_drops(const uint8_t *t, size_t hlen, const char *const *names, size_t nnames, struct drop *d,
              size_t dmax)
{
	size_t i = 0, n = 0, k;

	while (i < hlen && n < dmax) {
		size_t fl = field_len(t + i, hlen - i);

		for (k = 0; k < nnames; k++)
			if (name_is(t + i, hlen - i, names[k])) {
				d[n].off = (uint32_t)i;
				d[n].len = (uint32_t)fl;
				n++;
				break;
			}
		i += fl;
	}
	return n;
}

/* Where original offset off lands once the drops are gone and plen bytes
 * were put in front. */
static uint32_t
shifted(uint32_t off, const struct drop *d, size_t nd, size_t plen)
{
	size_t k, gone = 0;

	for (k = 0; k < nd; k++)
		if (d[k].off < off)
			gone += d[k].len;
	return (uint32_t)(off + plen - gone);
}

/* Validates, prepares and stages the article in nc->art.  The article is
 * parsed once, as the peer sent it (so nothing we add counts against its
 * limits); the spans the store needs are then moved by what the surgery
 * removed and added, rather than parsed a second time. */
static void
accept_article(struct news_conn *nc, struct outcome *o)
{
	static const char *const transit_drop[] = { "Path", "Xref" };
	static const char *const post_drop[] = { "Path", "Xref", "Injection-Date", "Injection-Info" };
	struct news *n = nc->n;
	const struct news_conf *cf = n->cf;
	int post = nc->data_kind == NEWS_DATA_POST;
	struct article_limits lim = { .article_max = (size_t)cf->article_max, .transit = !post };
	struct article a;
	enum article_err e;
	char names[NNTP_GROUPS_PER_ARTICLE_MAX][NNTP_GROUP_MAX_BYTES + 1];
	const char *groups[NNTP_GROUPS_PER_ARTICLE_MAX];
	uint64_t numbers[NNTP_GROUPS_PER_ARTICLE_MAX];
	char msgid[NNTP_MSGID_MAX_BYTES + 1];
	char prefix[NEWS_PREFIX_MAX_BYTES];
	struct drop drops[NNTP_HEADER_FIELDS_MAX + 1];
	size_t ng = 0, nd, i, pl = 0, k, accepted = 0;
	int moderated = 0, refused_n = 0, rc;
	const struct feed_peer_conf *peer = NULL;
	const char *accept = NULL;
	uint32_t date_off = 0, date_len = 0;
	const uint8_t *t;
	uint8_t *w;
	size_t len;
	struct store_new sn;

	if (!post) {
		lim.expect_msgid = nc->data_msgid;
		lim.expect_msgid_len = strlen(nc->data_msgid);
		/* A listed peer may be limited to the groups it may send us. */
		if ((peer = feed_conf_peer_by_addr(conn_peer_addr(nc->c))) != NULL && peer->accept[0] != '\0')
			accept = peer->accept;
	}
	t = buf_data(&nc->art);
	len = buf_len(&nc->art);
	if ((e = article_parse(t, len, &lim, &a)) != ART_OK) {
		refuse(o, article_reason(e), article_strerror(e));
		return;
	}
	if (a.message_id.len > NNTP_MSGID_MAX_BYTES) {
		refuse(o, "bad_message_id", "Bad Message-ID");
		return;
	}
	/* RFC 5537 3.5 (8) and 3.6 (4): more than a day ahead is not clock
	 * skew; such an article would sort first for days and dodge expiry. */
	if (a.date_epoch > news_now() + NEWS_DATE_FUTURE_MAX_S) {
		refuse(o, "date_in_future", "Date is too far in the future");
		return;
	}
	if (a.message_id.len > 0) {
		memcpy(msgid, t + a.message_id.off, a.message_id.len);
		msgid[a.message_id.len] = '\0';
	} else {
		/* POST without one (RFC 5537 3.4.1: the injecting agent adds it). */
		new_msgid(nc, msgid, sizeof msgid);
	}
	if ((rc = store_have(n->store, msgid, strlen(msgid))) != 0) {
		if (rc < 0) {
			o->transient = 1;
			refuse(o, "storage", "Storage error, try again later");
		} else {
			refuse(o, "duplicate", "Duplicate article");
		}
		return;
	}
	if (post && news_inflight_has(n, msgid, strlen(msgid))) {
		refuse(o, "duplicate", "Duplicate article (in transfer)");
		return;
	}

	/* Groups that exist here (and that the sending peer may send us). */
	for (i = 0; i < a.ngroups && i < NNTP_GROUPS_PER_ARTICLE_MAX; i++) {
		struct store_group g;
		size_t gl = a.groups[i].len;

		if (gl > NNTP_GROUP_MAX_BYTES)
			continue;
		memcpy(names[ng], t + a.groups[i].off, gl);
		names[ng][gl] = '\0';
		if (accept != NULL && !wildmat_match(accept, strlen(accept), names[ng], gl))
			continue;
		accepted++;
		if ((rc = store_group_get(n->store, names[ng], &g)) < 0) {
			o->transient = 1;
			refuse(o, "storage", "Storage error, try again later");
			return;
		}
		if (rc == 1)
			continue;
		for (k = 0; k < ng; k++)
			if (strcmp(names[k], names[ng]) == 0)
				break;
		if (k < ng)
			continue;   /* listed twice: one Xref entry, one number */
		if (g.status == 'n')
			refused_n = 1;
		if (g.status == 'm')
			moderated = 1;
		groups[ng] = names[ng];
		ng++;
	}
	if (accept != NULL && accepted == 0) {
		refuse(o, "peer_groups", "No newsgroups accepted from this peer");
		return;
	}
	if (ng == 0) {
		refuse(o, "no_such_group", post ? "No such newsgroup" : "No wanted newsgroups");
		return;
	}
	if (post && refused_n) {
		refuse(o, "posting_not_allowed", "Posting to this newsgroup is not allowed");
		return;
	}
	if (moderated && a.approved.len == 0) {
		/* RFC 5537 3.5 (injecting) and 3.6 (relaying): no moderator to
		 * mail here, so refuse rather than drop. */
		refuse(o, "moderated", "Moderated newsgroup: article needs approval");
		return;
	}

	/* Our header fields, in front; the old ones go. */
	if (store_peek_numbers(n->store, groups, ng, numbers) != 0) {
		o->transient = 1;
		refuse(o, "storage", "Storage error, try again later");
		return;
	}
	if (a.path.len > 0) {
		if (a.path.len + strlen(cf->pathhost) + 16 > NNTP_PATH_MAX_BYTES) {
			refuse(o, "path_too_long", "Path too long");
			return;
		}
		pl += (size_t)snprintf(prefix + pl, sizeof prefix - pl, "Path: %s!%.*s\r\n", cf->pathhost,
		                       (int)a.path.len, (const char *)t + a.path.off);
	} else {
		pl += (size_t)snprintf(prefix + pl, sizeof prefix - pl, "Path: %s!not-for-mail\r\n", cf->pathhost);
	}
	pl += (size_t)snprintf(prefix + pl, sizeof prefix - pl, "Xref: %s", cf->pathhost);
	for (i = 0; i < ng && pl < sizeof prefix; i++)
		pl += (size_t)snprintf(prefix + pl, sizeof prefix - pl, " %s:%llu", groups[i],
		                       (unsigned long long)numbers[i]);
	if (pl < sizeof prefix)
		pl += (size_t)snprintf(prefix + pl, sizeof prefix - pl, "\r\n");
	if (post && pl < sizeof prefix) {
		char d[128], host[INET6_ADDRSTRLEN + 8];

		rfc5322_date(news_now(), d, sizeof d);
		peer_host(nc, host, sizeof host);
		if (a.message_id.len == 0 && pl < sizeof prefix)
			pl += (size_t)snprintf(prefix + pl, sizeof prefix - pl, "Message-ID: %s\r\n", msgid);
		if (a.date.len == 0 && pl < sizeof prefix) {
			date_off = (uint32_t)(pl + 6);
			date_len = (uint32_t)strlen(d);
			pl += (size_t)snprintf(prefix + pl, sizeof prefix - pl, "Date: %s\r\n", d);
		}
		if (pl < sizeof prefix)
			pl += (size_t)snprintf(prefix + pl, sizeof prefix - pl,
			                       "Injection-Date: %s\r\nInjection-Info: %s; posting-host=%s\r\n", d,
			                       cf->pathhost, host);
	}
	if (pl >= sizeof prefix) {
		refuse(o, "header_too_big", "Header too big");
		return;
	}
	nd = collect_drops(t, a.body.off, post ? post_drop : transit_drop, post ? 4 : 2, drops,
	                   sizeof drops / sizeof drops[0]);

	/* Spans as they will be in the text we store. */
	memset(&sn, 0, sizeof sn);
	sn.msgid = msgid;
	sn.msgid_len = strlen(msgid);
	sn.groups = groups;
	sn.ngroups = ng;
	sn.header_len = shifted(a.body.off, drops, nd, pl);
	sn.subject_len = a.subject.len;
	sn.from_len = a.from.len;
	sn.references_len = a.references.len;
	sn.lines = a.lines;
	sn.arrived = news_now();
	sn.posted = a.date_epoch > 0 ? a.date_epoch : sn.arrived;
	{
		uint32_t s_off = shifted(a.subject.off, drops, nd, pl);
		uint32_t f_off = shifted(a.from.off, drops, nd, pl);
		uint32_t r_off = shifted(a.references.off, drops, nd, pl);
		uint32_t d_off = a.date.len ? shifted(a.date.off, drops, nd, pl) : date_off;
		uint32_t c_off = shifted(a.control.off, drops, nd, pl);

		if (a.date.len)
			date_len = a.date.len;
		/* The surgery: drops back to front, then the prefix. */
		w = (uint8_t *)buf_data(&nc->art);
		for (k = nd; k-- > 0;) {
			memmove(w + drops[k].off, w + drops[k].off + drops[k].len, len - drops[k].off - drops[k].len);
			len -= drops[k].len;
			nc->art.len -= drops[k].len;
		}
		if (prepend(&nc->art, prefix, pl) != 0) {
			refuse(o, "budget", "Article too big");
			return;
		}
		t = buf_data(&nc->art);
		sn.text = t;
		sn.len = buf_len(&nc->art);
		sn.subject = (const char *)t + s_off;
		sn.from = (const char *)t + f_off;
		sn.date = (const char *)t + d_off;
		sn.date_len = date_len;
		sn.references = a.references.len ? (const char *)t + r_off : NULL;
		a.control.off = c_off;
		a.from.off = f_off;
	}
	if (store_add(n->store, &sn, numbers) != 0) {
		o->transient = 1;
		refuse(o, "storage", "Storage error, try again later");
		return;
	}
	/* Queued for the outgoing feeds in the same batch.  Our Path field
	 * is first in the text: "Path: pathhost!<old path>". */
	{
		const uint8_t *pv = t + 6, *cr = memchr(pv, '\r', sn.header_len - 6);

		feed_article(n, groups, ng, (const char *)pv, cr ? (size_t)(cr - pv) : 0, msgid);
	}
	if (a.control.len > 0)
		control_act(nc, t, &a);
	snprintf(nc->data_msgid, sizeof nc->data_msgid, "%s", msgid);
	o->staged = 1;
}

int
news_article_done(struct news_conn *nc, int eaten_err)
{
	struct news *n = nc->n;
	struct news_inflight *inf = nc->data_inflight;
	enum news_data_kind kind = nc->data_kind;
	struct outcome o;
	int rc;

	nc->data_inflight = NULL;
	memset(&o, 0, sizeof o);
	if (eaten_err == NEWS_EAT_BUDGET) {
		o.transient = 1;
		refuse(&o, "budget", "Out of memory, try again later");
	} else if (eaten_err != ART_OK)
		refuse(&o, article_reason((enum article_err)eaten_err), article_strerror((enum article_err)eaten_err));
	else if (nc->art_region != NULL)
		accept_article(nc, &o);
	else
		refuse(&o, "budget", "Out of memory");
	/* The article's memory goes now, whatever happened. */
	if (nc->art_region) {
		region_release(nc->art_region);
		nc->art_region = NULL;
	}
	memset(&nc->art, 0, sizeof nc->art);

	if (o.staged) {
		enum news_reply_kind rk = kind == NEWS_DATA_POST    ? NEWS_REPLY_POST
		                          : kind == NEWS_DATA_IHAVE ? NEWS_REPLY_IHAVE
		                                                    : NEWS_REPLY_TAKETHIS;

		if (kind == NEWS_DATA_POST && inf == NULL)
			inf = news_inflight_add(nc, nc->data_msgid, strlen(nc->data_msgid));
		if (news_reply_pending(nc, rk, nc->data_msgid, inf) != 0) {
			/* Out of connection budget for even a reply record: the
			 * article is staged, its ack cannot be kept in order. */
			if (inf)
				news_inflight_del(inf);
			conn_reject(nc->c, "budget");
			news_flush(nc);
			conn_close_after_flush(nc->c);
			news_commit_soon(n);
			return 0;
		}
		news_commit_soon(n);
		return 0;
	}
	if (inf)
		news_inflight_del(inf);
	conn_reject(nc->c, o.reason ? o.reason : "rejected");
	if (!o.transient && kind != NEWS_DATA_POST && nc->data_msgid[0])
		store_remember_rejected(n->store, nc->data_msgid, strlen(nc->data_msgid), news_now());
	switch (kind) {
	case NEWS_DATA_POST:
		rc = news_reply(nc, "441 %s", o.text);
		break;
	case NEWS_DATA_IHAVE:
		rc = news_reply(nc, o.transient ? "436 %s" : "437 %s", o.text);
		break;
	default:
		rc = news_reply(nc, "439 %s", nc->data_msgid);
		break;
	}
	return rc;
}
