/*
 * cmd_info.c: the news service's informational commands: CAPABILITIES,
 * HELP, DATE, MODE READER, MODE STREAM, LIST (ACTIVE, ACTIVE.TIMES,
 * NEWSGROUPS, OVERVIEW.FMT, HEADERS, DISTRIB.PATS), NEWGROUPS, NEWNEWS,
 * QUIT (RFC 3977 5, 7; RFC 4644 2.3), COMPRESS DEFLATE (RFC 8054).
 *
 * Interface: handlers of the command table in news.c, and
 * news_job_step_groups, which produces group lists in chunks.
 *
 * Limits: a group list is produced a few KiB at a time while
 * the write queue has room; resuming restarts the store's name-ordered
 * walk and skips names already sent (no cursor kept inside the store).
 * NEWNEWS collects message-ids in a request region (the store's walk
 * cannot be resumed) and sends them as a job; a list bigger than that
 * region is cut short and logged.
 *
 * Known weaknesses: resuming a group list is quadratic in the number of
 * groups (fine for thousands, not for a full Usenet active file).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conn.h"
#include "log.h"
#include "region.h"
#include "nntp/news.h"
#include "nntp/nntp_util.h"
#include "nntp/storage.h"
#include "nntp/wildmat.h"

/* NEWNEWS result list, per command. */
#define NEWS_NEWNEWS_MAX_BYTES   (512 * 1024)

/* COMPRESS costs a connection about 100 KiB (conn_compress_bytes): only
 * for peers that may do something, not for anyone who connects. */
static int
news_compress_allowed(const struct news_conn *nc)
{
	return nc->can_read || nc->can_post || nc->can_feed;
}

/* RFC 8054 2.2: once per connection; after TLS is fine, STARTTLS after it
 * is not (auth.c).  The zlib state is charged before the 206, so that a
 * connection region too full for it still gets its 403. */
int
news_cmd_compress(struct news_conn *nc, int argc, char **argv)
{
	if (conn_is_compressed(nc->c))
		return news_reply(nc, "502 Compression already active");
	if (!news_compress_allowed(nc)) {
		conn_reject(nc->c, "access_denied");
		if (!nc->authenticated && news_auth_available())
			return news_reply(nc, "480 Authentication required");
		return news_reply(nc, "502 Compression not permitted");
	}
	if (!nntp_word_eq(argv[1], "DEFLATE")) {
		news_error(nc, "syntax");
		return news_reply(nc, "503 Compression algorithm not supported");
	}
	if (conn_compress_prepare(nc->c) != 0)
		return news_reply(nc, "403 Unable to activate compression");
	if (news_reply(nc, "206 Compression active") != 0 || news_flush(nc) != 0)
		return -1;
	if (conn_compress(nc->c) != 0)
		return -1;
	return 0;
}

int
news_cmd_capabilities(struct news_conn *nc, int argc, char **argv)
{
	struct news *n = nc->n;
	int tls = conn_is_tls(nc->c);

	news_reply(nc, "101 Capability list:");
	news_printf(nc, "VERSION 2\r\n");
	news_printf(nc, "IMPLEMENTATION holdfast\r\n");
	if (nc->can_read || news_auth_available()) {
		news_printf(nc, "READER\r\n");
		news_printf(nc, "NEWNEWS\r\n");
		news_printf(nc, "HDR\r\n");
		news_printf(nc, "OVER\r\n");
		news_printf(nc, "LIST ACTIVE ACTIVE.TIMES NEWSGROUPS OVERVIEW.FMT HEADERS DISTRIB.PATS\r\n");
	}
	if (nc->can_post)
		news_printf(nc, "POST\r\n");
	if (nc->can_feed) {
		news_printf(nc, "IHAVE\r\n");
		news_printf(nc, "STREAMING\r\n");
	}
	/* RFC 4643 2.2: AUTHINFO USER only where the password would not go
	 * in the clear, unless the administrator allowed it. */
	if (news_auth_available() && !nc->authenticated) {
		/* RFC 8054 2.2.2: no AUTHINFO arguments once compressed. */
		if ((tls || n->cf->auth_plaintext) && !conn_is_compressed(nc->c))
			news_printf(nc, "AUTHINFO USER\r\n");
		else
			news_printf(nc, "AUTHINFO\r\n");
	}
	if (n->w->tls != NULL && !tls && !nc->authenticated && !conn_is_compressed(nc->c))
		news_printf(nc, "STARTTLS\r\n");
	/* RFC 8054 2.1: not once it is on. */
	if (news_compress_allowed(nc) && !conn_is_compressed(nc->c))
		news_printf(nc, "COMPRESS DEFLATE\r\n");
	return news_printf(nc, ".\r\n");
}

int
news_cmd_help(struct news_conn *nc, int argc, char **argv)
{
	static const char text[] =
	    "  ARTICLE [message-id|number]\r\n"
	    "  AUTHINFO USER name|PASS password\r\n"
	    "  BODY [message-id|number]\r\n"
	    "  CAPABILITIES\r\n"
	    "  CHECK message-id\r\n"
	    "  COMPRESS DEFLATE\r\n"
	    "  DATE\r\n"
	    "  GROUP newsgroup\r\n"
	    "  HDR header [message-id|range]\r\n"
	    "  HEAD [message-id|number]\r\n"
	    "  HELP\r\n"
	    "  IHAVE message-id\r\n"
	    "  LAST\r\n"
	    "  LIST [ACTIVE|ACTIVE.TIMES|NEWSGROUPS|OVERVIEW.FMT|HEADERS|DISTRIB.PATS] [wildmat]\r\n"
	    "  LISTGROUP [newsgroup [range]]\r\n"
	    "  MODE READER|STREAM\r\n"
	    "  NEWGROUPS [yy]yymmdd hhmmss [GMT]\r\n"
	    "  NEWNEWS wildmat [yy]yymmdd hhmmss [GMT]\r\n"
	    "  NEXT\r\n"
	    "  OVER [range|message-id]\r\n"
	    "  POST\r\n"
	    "  QUIT\r\n"
	    "  STARTTLS\r\n"
	    "  STAT [message-id|number]\r\n"
	    "  TAKETHIS message-id\r\n"
	    "  XHDR header [message-id|range]\r\n"
	    "  XOVER [range]\r\n"
	    ".\r\n";

	news_reply(nc, "100 Help text follows");
	return news_out(nc, text, sizeof text - 1);
}

int
news_cmd_date(struct news_conn *nc, int argc, char **argv)
{
	char d[15];

	nntp_format_date(news_now(), d);
	return news_reply(nc, "111 %s", d);
}

int
news_cmd_mode(struct news_conn *nc, int argc, char **argv)
{
	if (nntp_word_eq(argv[1], "READER")) {
		if (nc->can_post)
			return news_reply(nc, "200 Reader mode, posting allowed");
		return news_reply(nc, "201 Reader mode, no posting");
	}
	if (nntp_word_eq(argv[1], "STREAM")) {
		if (!nc->can_feed) {
			conn_reject(nc->c, "access_denied");
			return news_reply(nc, "502 Streaming not permitted");
		}
		nc->stream_mode = 1;
		return news_reply(nc, "203 Streaming permitted");
	}
	news_error(nc, "syntax");
	return news_reply(nc, "501 Unknown MODE variant");
}

int
news_cmd_quit(struct news_conn *nc, int argc, char **argv)
{
	news_reply(nc, "205 Bye");
	nc->quitting = 1;
	news_flush(nc);
	conn_close_after_flush(nc->c);
	return 0;
}

/* ----------------------------------------------------------- group lists */

struct groups_walk {
	struct news_conn *nc;
	int stopped;
	int err;
};

static int
groups_cb(void *arg, const struct store_group *g)
{
	struct groups_walk *gw = arg;
	struct news_conn *nc = gw->nc;
	struct news_job *j = &nc->job;
	size_t nl = strnlen(g->name, sizeof g->name);
	int rc = 0;

	if (j->last[0] != '\0' && strcmp(g->name, j->last) <= 0)
		return 0;
	if (j->wildmat[0] != '\0' && !wildmat_match(j->wildmat, strlen(j->wildmat), g->name, nl))
		goto sent;
	switch (j->fmt) {
	case NEWS_GROUPS_ACTIVE:
	case NEWS_GROUPS_NEWGROUPS:
		rc = news_printf(nc, "%s %llu %llu %c\r\n", g->name, (unsigned long long)g->high,
		                 (unsigned long long)g->low, g->status);
		break;
	case NEWS_GROUPS_TIMES:
		rc = news_printf(nc, "%s %lld %s\r\n", g->name, (long long)g->created,
		                 g->creator[0] ? g->creator : "unknown");
		break;
	case NEWS_GROUPS_NEWSGROUPS:
		rc = news_printf(nc, "%s\t%s\r\n", g->name, g->description[0] ? g->description : "");
		break;
	}
	if (rc != 0) {
		gw->err = 1;
		return 1;
	}
sent:
	memcpy(j->last, g->name, nl);
	j->last[nl] = '\0';
	if (buf_len(&nc->out) >= nc->flush_at / 2 || news_out_full(nc)) {
		gw->stopped = 1;
		return 1;
	}
	return 0;
}

int
news_job_step_groups(struct news_conn *nc)
{
	struct groups_walk gw = { nc, 0, 0 };
	int64_t since = nc->job.fmt == NEWS_GROUPS_NEWGROUPS ? nc->job.since : 0;

	/* A newly created group sorting before the cursor is missed by this
	 * listing; it will be in the next one. */
	if (store_group_each(nc->n->store, since, groups_cb, &gw) < 0 || gw.err)
		return -1;
	if (gw.stopped)
		return 0;
	if (news_printf(nc, ".\r\n") != 0)
		return -1;
	return 1;
}

static int
news_groups_job(struct news_conn *nc, enum news_groups_fmt fmt, const char *wildmat, int64_t since)
{
	struct news_job *j = &nc->job;

	if (wildmat && !wildmat_valid(wildmat, strlen(wildmat))) {
		news_error(nc, "bad_wildmat");
		return news_reply(nc, "501 Bad wildmat");
	}
	if (fmt == NEWS_GROUPS_NEWGROUPS)
		news_reply(nc, "231 List of new newsgroups follows");
	else
		news_reply(nc, "215 List follows");
	memset(j, 0, sizeof *j);
	j->kind = NEWS_JOB_GROUPS;
	j->fmt = fmt;
	j->since = since;
	if (wildmat)
		snprintf(j->wildmat, sizeof j->wildmat, "%s", wildmat);
	news_job_start(nc);
	return 0;
}

int
news_cmd_list(struct news_conn *nc, int argc, char **argv)
{
	const char *kw = argc > 1 ? argv[1] : "ACTIVE";
	const char *arg = argc > 2 ? argv[2] : NULL;

	if (nntp_word_eq(kw, "ACTIVE"))
		return news_groups_job(nc, NEWS_GROUPS_ACTIVE, arg, 0);
	if (nntp_word_eq(kw, "ACTIVE.TIMES"))
		return news_groups_job(nc, NEWS_GROUPS_TIMES, arg, 0);
	if (nntp_word_eq(kw, "NEWSGROUPS"))
		return news_groups_job(nc, NEWS_GROUPS_NEWSGROUPS, arg, 0);
	if (nntp_word_eq(kw, "OVERVIEW.FMT")) {
		if (arg)
			goto syntax;
		news_reply(nc, "215 Order of fields in overview database");
		return news_printf(nc, "Subject:\r\nFrom:\r\nDate:\r\nMessage-ID:\r\nReferences:\r\n"
		                       ":bytes\r\n:lines\r\nXref:full\r\n.\r\n");
	}
	if (nntp_word_eq(kw, "HEADERS")) {
		/* RFC 3977 8.6: ":" means any header may be asked for. */
		if (arg && !nntp_word_eq(arg, "MSGID") && !nntp_word_eq(arg, "RANGE"))
			goto syntax;
		news_reply(nc, "215 Field list follows");
		return news_printf(nc, ":\r\n:bytes\r\n:lines\r\n.\r\n");
	}
	if (nntp_word_eq(kw, "DISTRIB.PATS")) {
		if (arg)
			goto syntax;
		news_reply(nc, "215 Distribution patterns follow");
		return news_printf(nc, ".\r\n");
	}
	news_error(nc, "syntax");
	return news_reply(nc, "501 Unknown LIST keyword");
syntax:
	news_error(nc, "syntax");
	return news_reply(nc, "501 Syntax error");
}

int
news_cmd_newgroups(struct news_conn *nc, int argc, char **argv)
{
	int64_t since;

	if (nntp_parse_datetime(argv[1], argv[2], argc > 3 ? argv[3] : NULL, news_now(), &since) != 0) {
		news_error(nc, "bad_date");
		return news_reply(nc, "501 Bad date or time");
	}
	return news_groups_job(nc, NEWS_GROUPS_NEWGROUPS, NULL, since < 0 ? 0 : since);
}

/* ---------------------------------------------------------------- NEWNEWS */

struct newnews_walk {
	const char *wildmat;
	struct buf *b;
	int full;
};

static int
newnews_group_ok(void *arg, const char *group)
{
	struct newnews_walk *nw = arg;

	return wildmat_match(nw->wildmat, strlen(nw->wildmat), group, strlen(group));
}

static int
newnews_cb(void *arg, const char *msgid)
{
	struct newnews_walk *nw = arg;
	size_t len = strlen(msgid);

	if (nw->full)
		return 1;
	if (buf_append(nw->b, msgid, len) != 0 || buf_append(nw->b, "\r\n", 2) != 0) {
		nw->full = 1;
		return 1;
	}
	return 0;
}

int
news_cmd_newnews(struct news_conn *nc, int argc, char **argv)
{
	struct news_job *j = &nc->job;
	struct newnews_walk nw;
	struct region *req;
	struct buf b;
	int64_t since;

	if (!wildmat_valid(argv[1], strlen(argv[1]))) {
		news_error(nc, "bad_wildmat");
		return news_reply(nc, "501 Bad wildmat");
	}
	if (nntp_parse_datetime(argv[2], argv[3], argc > 4 ? argv[4] : NULL, news_now(), &since) != 0) {
		news_error(nc, "bad_date");
		return news_reply(nc, "501 Bad date or time");
	}
	if ((req = region_new(conn_region(nc->c), "newnews", NEWS_NEWNEWS_MAX_BYTES + 4096)) == NULL) {
		conn_reject(nc->c, "budget");
		return news_reply(nc, "403 Out of memory, try later");
	}
	buf_init(&b, req, NEWS_NEWNEWS_MAX_BYTES);
	nw.wildmat = argv[1];
	nw.b = &b;
	nw.full = 0;
	if (store_newnews(nc->n->store, since, newnews_group_ok, newnews_cb, &nw) < 0) {
		region_release(req);
		return news_reply(nc, "403 Storage error");
	}
	if (nw.full) {
		static struct log_rate rl;

		log_rated(&rl, LOG_LVL_WARN, "NEWNEWS from %s: list cut at %zu bytes", conn_peer_name(nc->c),
		          buf_len(&b));
	}
	news_reply(nc, "230 List of new articles follows");
	memset(j, 0, sizeof *j);
	j->kind = NEWS_JOB_TEXT;
	j->req = req;
	j->text = buf_data(&b);
	j->len = buf_len(&b);
	j->bol = 1;
	news_job_start(nc);
	return 0;
}
