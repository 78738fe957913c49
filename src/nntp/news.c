/*
 * news.c: the news service (NNTP, RFC 3977 with RFC 4642, 4643, 4644):
 * configuration, start/stop, connections, the command table and dispatch,
 * the article reception state machine, ordered replies and group commit.
 *
 * Interface: news_service (services.c); to the cmd_*.c files, the reply
 * and job helpers of news.h.
 *
 * Per connection: commands are read with a line reader bounded by
 * NNTP_COMMAND_MAX_BYTES; articles with a second reader bounded by
 * NNTP_BODY_LINE_MAX_BYTES.  States: CMD, DATA (appending unstuffed lines
 * to the article buffer in a request region), EAT (discarding an article
 * that is too big, or refused before its data, until its "." line, so the
 * connection stays in step).  Bare-LF line endings in article data are
 * accepted and normalised to CRLF (the line reader has already removed the
 * terminator; many feeders and Python's nntplib send CRLF anyway); a bare
 * CR inside a line is kept so that article_parse rejects it.
 *
 * Output: replies are staged in nc->out and handed to conn_write once per
 * batch of pipelined commands (or every nc->flush_at bytes), so a batch
 * costs one write.  Before each command the write queue must be below half
 * its budget (back-pressure; conn re-delivers input once it drains).  Big
 * multi-line responses are jobs (news.h) produced in chunks while the
 * queue has room; conn has no drain callback for a connection without
 * buffered input, so a job that is waiting polls every NEWS_DRAIN_POLL_MS.
 *
 * Group commit: an accepted article is staged with store_add and its
 * acknowledgement waits in the connection's ordered reply queue; replies
 * behind a waiting one wait too, so nothing overtakes an ack.  The batch
 * is committed after commit_delay (0: in the timer phase of the same loop
 * round, so what arrived together shares one fsync) or at
 * NNTP_COMMIT_BATCH_MAX articles,
 * then every waiting reply of every connection is released.  While a
 * connection has waiting replies it reads only CHECK and TAKETHIS (the
 * streaming pipeline, bounded by NNTP_STREAM_INFLIGHT_MAX and by its
 * region budget); any other command waits for the commit, so a reader
 * never sees an article whose commit may still fail.
 *
 * Limits: NNTP_ERRORS_MAX protocol errors (500/501, overlong lines, NUL
 * bytes) per connection, then 400 and close.  Rejected articles are
 * counted in the stats but are not protocol errors: a feed legitimately
 * offers articles we refuse.
 *
 * Budgets: a connection must hold one whole article (article_parse needs
 * it contiguous) besides its buffers, so start() raises the connection
 * budget by article_max plus slack, and raises read_max to hold one body
 * line of NNTP_BODY_LINE_MAX_BYTES (else a long line would wait forever on
 * a full input buffer).  Idle connections hold neither; the worker budget
 * bounds the sum.
 *
 * Known weaknesses: the drain poll (see above); a single response line
 * (an overview record of huge header fields) larger than what is left of
 * the write budget closes the connection; POST and IHAVE wait for the
 * previous acknowledgement's commit (only CHECK/TAKETHIS pipeline past
 * it); the in-flight set is per worker, not per host (two workers behind
 * SO_REUSEPORT may both accept an article, the second store_add then
 * finds it a duplicate).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"
#include "conn.h"
#include "line.h"
#include "log.h"
#include "loop.h"
#include "region.h"
#include "service.h"
#include "stats.h"
#include "nntp/article.h"
#include "nntp/feed.h"
#include "nntp/news.h"
#include "nntp/nntp_util.h"
#include "nntp/storage.h"
#include "nntp/wildmat.h"

#define C(f) offsetof(struct news_conf, f)
static const struct conf_key news_keys[] = {
	{ "pathhost", CONF_STR, "holdfast.localhost", C(pathhost), 0, 0 },
	{ "article_max", CONF_SIZE, "1m", C(article_max), 4096, 64ULL * 1024 * 1024 },
	{ "create_groups", CONF_LIST, "", C(create_groups), 0, 0 },
	{ "moderated_groups", CONF_LIST, "", C(moderated_groups), 0, 0 },
	{ "allow_read", CONF_LIST, "127.0.0.0/8, ::1/128", C(allow_read), 0, 0 },
	{ "allow_post", CONF_LIST, "127.0.0.0/8, ::1/128", C(allow_post), 0, 0 },
	{ "allow_feed", CONF_LIST, "127.0.0.0/8, ::1/128", C(allow_feed), 0, 0 },
	{ "auth_file", CONF_PATH, "", C(auth_file), 0, 0 },
	{ "auth_plaintext", CONF_BOOL, "no", C(auth_plaintext), 0, 0 },
	{ "feeds_file", CONF_PATH, "", C(feeds_file), 0, 0 },
	{ "control_authorities", CONF_LIST, "", C(control_authorities), 0, 0 },
	{ "commit_delay", CONF_DURATION, "0", C(commit_delay), 0, 10 * 1000 },
	{ "expire_age", CONF_DURATION, "0", C(expire_age), 0, 0 },
	{ "expire_groups", CONF_LIST, "*", C(expire_groups), 0, 0 },
	CONF_KEYS_END
};
#undef C

/* Who may run a command: the permission it needs. */
#define CMD_NEEDS_READ  0x01
#define CMD_NEEDS_POST  0x02
#define CMD_NEEDS_FEED  0x04

struct news_cmd {
	const char *name;
	news_cmd_fn fn;
	unsigned char min_args, max_args;   /* words after the command */
	unsigned flags;
};

/* One table (STYLE.md): the permission column says what is allowed before
 * authentication (0: always; READ/POST: the address or AUTHINFO; FEED:
 * the address only).  Transit commands need no MODE STREAM: we advertise
 * STREAMING and are not mode-switching (RFC 4644 2.3). */
static const struct news_cmd news_cmds[] = {
	{ "ARTICLE", news_cmd_article, 0, 1, CMD_NEEDS_READ },
	{ "AUTHINFO", news_cmd_authinfo, 1, 2, 0 },
	{ "BODY", news_cmd_article, 0, 1, CMD_NEEDS_READ },
	{ "CAPABILITIES", news_cmd_capabilities, 0, 1, 0 },
	{ "CHECK", news_cmd_check, 1, 1, CMD_NEEDS_FEED },
	{ "COMPRESS", news_cmd_compress, 1, 1, 0 },   /* access checked inside (RFC 8054) */
	{ "DATE", news_cmd_date, 0, 0, 0 },
	{ "GROUP", news_cmd_group, 1, 1, CMD_NEEDS_READ },
	{ "HDR", news_cmd_hdr, 1, 2, CMD_NEEDS_READ },
	{ "HEAD", news_cmd_article, 0, 1, CMD_NEEDS_READ },
	{ "HELP", news_cmd_help, 0, 0, 0 },
	{ "IHAVE", news_cmd_ihave, 1, 1, CMD_NEEDS_FEED },
	{ "LAST", news_cmd_last, 0, 0, CMD_NEEDS_READ },
	{ "LIST", news_cmd_list, 0, 2, CMD_NEEDS_READ },
	{ "LISTGROUP", news_cmd_listgroup, 0, 2, CMD_NEEDS_READ },
	{ "MODE", news_cmd_mode, 1, 1, 0 },
	{ "NEWGROUPS", news_cmd_newgroups, 2, 3, CMD_NEEDS_READ },
	{ "NEWNEWS", news_cmd_newnews, 3, 4, CMD_NEEDS_READ },
	{ "NEXT", news_cmd_next, 0, 0, CMD_NEEDS_READ },
	{ "OVER", news_cmd_over, 0, 1, CMD_NEEDS_READ },
	{ "POST", news_cmd_post, 0, 0, CMD_NEEDS_POST },
	{ "QUIT", news_cmd_quit, 0, 0, 0 },
	{ "STARTTLS", news_cmd_starttls, 0, 0, 0 },
	{ "STAT", news_cmd_article, 0, 1, CMD_NEEDS_READ },
	{ "TAKETHIS", news_cmd_takethis, 1, 1, CMD_NEEDS_FEED },
	{ "XHDR", news_cmd_hdr, 1, 2, CMD_NEEDS_READ },
	{ "XOVER", news_cmd_over, 0, 1, CMD_NEEDS_READ },
};

int64_t
news_now(void)
{
	return (int64_t)time(NULL);
}

/* ---------------------------------------------------------------- output */

int
news_out(struct news_conn *nc, const char *p, size_t n)
{
	if (buf_append(&nc->out, p, n) != 0)
		return -1;
	if (buf_len(&nc->out) >= nc->flush_at)
		return news_flush(nc);
	return 0;
}

int
news_out_full(struct news_conn *nc)
{
	size_t queued = conn_wqueue_len(nc->c), max = queued + conn_wqueue_room(nc->c);

	return queued + buf_len(&nc->out) >= max / 2;
}

int
news_printf(struct news_conn *nc, const char *fmt, ...)
{
	char line[NNTP_COMMAND_MAX_BYTES * 2];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof line)
		n = (int)sizeof line - 1;
	return news_out(nc, line, (size_t)n);
}

int
news_out_line(struct news_conn *nc, const char *p, size_t n)
{
	if (n > 0 && p[0] == '.' && news_out(nc, ".", 1) != 0)
		return -1;
	if (news_out(nc, p, n) != 0)
		return -1;
	return news_out(nc, "\r\n", 2);
}

int
news_flush(struct news_conn *nc)
{
	size_t len = buf_len(&nc->out);

	if (len == 0)
		return 0;
	if (conn_write(nc->c, buf_data(&nc->out), len) != 0) {
		/* EPIPE: the peer reset or we are closing; nothing to count.
		 * Otherwise only a response bigger than the write budget gets
		 * here (jobs keep below half of it): the budget is too small. */
		if (errno != EPIPE)
			conn_reject(nc->c, errno == ENOMEM ? "connection_budget" : "write_budget");
		buf_reset(&nc->out);
		conn_close(nc->c);
		return -1;
	}
	buf_reset(&nc->out);
	return 0;
}

static void news_rq_drain(struct news_conn *nc);

static struct news_reply *
news_rq_new(struct news_conn *nc, enum news_reply_kind kind, const char *text, size_t len)
{
	struct news_reply *r = region_alloc(conn_region(nc->c), sizeof *r + len + 1);

	if (r == NULL)
		return NULL;
	r->next = NULL;
	r->kind = kind;
	r->waiting = 0;
	r->failed = 0;
	r->inflight = NULL;
	memcpy(r->line, text, len);
	r->line[len] = '\0';
	if (nc->rq_tail)
		nc->rq_tail->next = r;
	else
		nc->rq_head = r;
	nc->rq_tail = r;
	nc->rq_len++;
	return r;
}

int
news_reply(struct news_conn *nc, const char *fmt, ...)
{
	char line[NNTP_COMMAND_MAX_BYTES * 2];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof line - 2)
		n = (int)sizeof line - 3;
	if (nc->rq_head == NULL) {
		memcpy(line + n, "\r\n", 2);
		return news_out(nc, line, (size_t)n + 2);
	}
	if (news_rq_new(nc, NEWS_REPLY_TEXT, line, (size_t)n) == NULL) {
		conn_reject(nc->c, "budget");
		return -1;
	}
	return 0;
}

int
news_reply_pending(struct news_conn *nc, enum news_reply_kind kind, const char *msgid, struct news_inflight *inf)
{
	struct news_reply *r = news_rq_new(nc, kind, msgid, strlen(msgid));

	if (r == NULL)
		return -1;
	r->waiting = 1;
	r->inflight = inf;
	nc->rq_waiting++;
	return 0;
}

/* Sends every reply at the head of the queue that no longer waits. */
static void
news_rq_drain(struct news_conn *nc)
{
	struct news_reply *r;

	while ((r = nc->rq_head) != NULL && !r->waiting) {
		switch (r->kind) {
		case NEWS_REPLY_TEXT:
			news_printf(nc, "%s\r\n", r->line);
			break;
		case NEWS_REPLY_POST:
			if (r->failed)
				news_printf(nc, "441 Posting failed (storage)\r\n");
			else
				news_printf(nc, "240 Article received %s\r\n", r->line);
			break;
		case NEWS_REPLY_IHAVE:
			if (r->failed)
				news_printf(nc, "436 Transfer failed, try again later\r\n");
			else
				news_printf(nc, "235 Article transferred OK\r\n");
			break;
		case NEWS_REPLY_TAKETHIS:
			news_printf(nc, r->failed ? "439 %s\r\n" : "239 %s\r\n", r->line);
			break;
		}
		if (r->inflight)
			news_inflight_del(r->inflight);
		nc->rq_head = r->next;
		if (nc->rq_head == NULL)
			nc->rq_tail = NULL;
		nc->rq_len--;
		region_free(conn_region(nc->c), r);
	}
}

static void
news_rq_free(struct news_conn *nc)
{
	struct news_reply *r, *next;

	for (r = nc->rq_head; r; r = next) {
		next = r->next;
		if (r->inflight)
			news_inflight_del(r->inflight);
		region_free(conn_region(nc->c), r);
	}
	nc->rq_head = nc->rq_tail = NULL;
	nc->rq_len = nc->rq_waiting = 0;
}

void
news_error(struct news_conn *nc, const char *reason)
{
	conn_reject(nc->c, reason);
	nc->errors++;
}

/* ------------------------------------------------------------- in-flight */

static uint32_t
news_hash(const struct news *n, const char *p, size_t len)
{
	uint32_t h = 2166136261u ^ n->hash_seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (uint8_t)p[i];
		h *= 16777619u;
	}
	return h;
}

int
news_inflight_has(struct news *n, const char *msgid, size_t len)
{
	uint32_t h = news_hash(n, msgid, len);
	struct news_inflight *e;

	for (e = n->inflight[h % NEWS_INFLIGHT_BUCKETS]; e; e = e->next)
		if (e->hash == h && e->len == len && memcmp(e->msgid, msgid, len) == 0)
			return 1;
	return 0;
}

struct news_inflight *
news_inflight_add(struct news_conn *nc, const char *msgid, size_t len)
{
	struct news *n = nc->n;
	struct news_inflight *e;
	uint32_t h;

	if (len > NNTP_MSGID_MAX_BYTES || nc->ninflight >= NNTP_STREAM_INFLIGHT_MAX ||
	    n->ninflight >= NEWS_INFLIGHT_WORKER_MAX)
		return NULL;
	if ((e = region_alloc(conn_region(nc->c), sizeof *e + len + 1)) == NULL)
		return NULL;
	h = news_hash(n, msgid, len);
	e->hash = h;
	e->len = (uint8_t)len;
	memcpy(e->msgid, msgid, len);
	e->msgid[len] = '\0';
	e->owner = nc;
	e->promised = 0;
	e->next = n->inflight[h % NEWS_INFLIGHT_BUCKETS];
	n->inflight[h % NEWS_INFLIGHT_BUCKETS] = e;
	e->conn_next = nc->inflight;
	nc->inflight = e;
	nc->ninflight++;
	n->ninflight++;
	return e;
}

void
news_inflight_del(struct news_inflight *e)
{
	struct news_conn *nc = e->owner;
	struct news *n = nc->n;
	struct news_inflight **pp;

	for (pp = &n->inflight[e->hash % NEWS_INFLIGHT_BUCKETS]; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	for (pp = &nc->inflight; *pp; pp = &(*pp)->conn_next)
		if (*pp == e) {
			*pp = e->conn_next;
			break;
		}
	nc->ninflight--;
	n->ninflight--;
	region_free(conn_region(nc->c), e);
}

/* ---------------------------------------------------------- group commit */

void
news_commit_run(struct news *n)
{
	struct news_conn *nc;
	int rc = 0;

	loop_timer_cancel(n->w->loop, &n->commit_timer);
	if (store_batch_size(n->store) > 0 && (rc = store_commit(n->store)) != 0) {
		static struct log_rate rl;

		log_rated(&rl, LOG_LVL_ERR, "group commit failed: batch rolled back, acknowledgements refused");
	}
	for (nc = n->conns; nc; nc = nc->next) {
		struct news_reply *r;

		if (nc->rq_waiting == 0)
			continue;
		for (r = nc->rq_head; r; r = r->next)
			if (r->waiting) {
				r->waiting = 0;
				r->failed = rc != 0;
			}
		nc->rq_waiting = 0;
		news_rq_drain(nc);
		news_flush(nc);
		if (nc->paused_for_commit) {
			nc->paused_for_commit = 0;
			conn_resume_read(nc->c);
		}
	}
}

static void
news_commit_cb(struct timer *t, void *arg)
{
	news_commit_run(arg);
}

void
news_commit_soon(struct news *n)
{
	if (store_batch_size(n->store) >= NNTP_COMMIT_BATCH_MAX) {
		news_commit_run(n);
		return;
	}
	if (!timer_armed(&n->commit_timer) &&
	    loop_timer_set(n->w->loop, &n->commit_timer, n->cf->commit_delay) != 0)
		news_commit_run(n);   /* no timer: commit now rather than never */
}

/* ------------------------------------------------------------------ jobs */

void
news_job_end(struct news_conn *nc)
{
	if (nc->job.req)
		region_release(nc->job.req);
	memset(&nc->job, 0, sizeof nc->job);
	nc->job.kind = NEWS_JOB_NONE;
}

/* Runs the job while the write queue has room.  1 finished (or none), 0
 * still running (the drain poll is armed), -1 connection closed. */
static int
news_job_run(struct news_conn *nc)
{
	while (nc->job.kind != NEWS_JOB_NONE) {
		int rc;

		if (conn_closing(nc->c))
			return -1;
		if (conn_wqueue_over(nc->c)) {
			loop_timer_set(conn_loop(nc->c), &nc->drain_timer, NEWS_DRAIN_POLL_MS);
			return 0;
		}
		if (nc->job.kind == NEWS_JOB_GROUPS)
			rc = news_job_step_groups(nc);
		else
			rc = news_job_step_reader(nc);
		if (rc < 0) {
			/* A storage error in the middle of a multi-line
			 * response: the only honest end is to close. */
			news_job_end(nc);
			news_flush(nc);
			conn_reject(nc->c, "storage");
			conn_close_after_flush(nc->c);
			return -1;
		}
		if (rc == 1)
			news_job_end(nc);
		if (news_flush(nc) != 0)
			return -1;
	}
	return 1;
}

void
news_job_start(struct news_conn *nc)
{
	news_job_run(nc);
}

static void
news_drain_cb(struct timer *t, void *arg)
{
	struct news_conn *nc = arg;

	if (conn_closing(nc->c))
		return;
	if (news_job_run(nc) == 1)
		conn_resume_read(nc->c);   /* pipelined commands may be waiting */
}

/* ------------------------------------------------------------ connection */

static void
news_access(struct news_conn *nc)
{
	struct news *n = nc->n;
	const struct sockaddr_storage *ss = conn_peer_addr(nc->c);

	nc->can_read = nntp_acl_match(&n->acl_read, ss);
	nc->can_post = nntp_acl_match(&n->acl_post, ss);
	nc->can_feed = nntp_acl_match(&n->acl_feed, ss);
}

static int
news_on_open(struct conn *c)
{
	struct news *n = conn_service(c);
	struct news_conn *nc = region_zalloc(conn_region(c), sizeof *nc);

	if (nc == NULL) {
		conn_reject(c, "budget");
		return -1;
	}
	nc->n = n;
	nc->c = c;
	line_init(&nc->lr, NNTP_COMMAND_MAX_BYTES);
	line_init(&nc->dlr, NNTP_BODY_LINE_MAX_BYTES + 2);
	buf_init(&nc->out, conn_region(c), (size_t)n->conn_budget);
	nc->flush_at = conn_wqueue_room(c) / 4;
	if (nc->flush_at > NEWS_OUT_FLUSH_BYTES)
		nc->flush_at = NEWS_OUT_FLUSH_BYTES;
	if (nc->flush_at < NNTP_COMMAND_MAX_BYTES)
		nc->flush_at = NNTP_COMMAND_MAX_BYTES;
	timer_init(&nc->drain_timer, news_drain_cb, nc);
	nc->state = NEWS_CMD;
	conn_set_data(c, nc);
	nc->next = n->conns;
	if (n->conns)
		n->conns->prev = nc;
	n->conns = nc;
	news_access(nc);
	if (!nc->can_read && !nc->can_post && !nc->can_feed && !news_auth_available()) {
		/* RFC 3977 5.1.1: 502 and close. */
		conn_reject(c, "access_denied");
		news_printf(nc, "502 Access denied\r\n");
		news_flush(nc);
		conn_close_after_flush(c);
		return 0;
	}
	if (nc->can_post)
		news_printf(nc, "200 %s holdfast NNTP server ready, posting allowed\r\n", n->cf->pathhost);
	else
		news_printf(nc, "201 %s holdfast NNTP server ready, no posting\r\n", n->cf->pathhost);
	return news_flush(nc);
}

static void
news_on_close(struct conn *c)
{
	struct news_conn *nc = conn_data(c);
	struct news *n;

	if (nc == NULL)
		return;
	n = nc->n;
	/* An article cut off by the close is a refused input like any other. */
	if (nc->state != NEWS_CMD)
		conn_reject(c, "article_cut_off");
	loop_timer_cancel(conn_loop(c), &nc->drain_timer);
	news_job_end(nc);
	/* Articles this connection staged stay staged: the batch is shared
	 * and they will be committed; only their acknowledgements are lost
	 * (the peer will offer them again and find them present). */
	news_rq_free(nc);
	if (nc->data_inflight) {
		news_inflight_del(nc->data_inflight);
		nc->data_inflight = NULL;
	}
	while (nc->inflight)
		news_inflight_del(nc->inflight);
	if (nc->art_region) {
		region_release(nc->art_region);
		nc->art_region = NULL;
	}
	buf_reset(&nc->out);
	if (nc->prev)
		nc->prev->next = nc->next;
	else
		n->conns = nc->next;
	if (nc->next)
		nc->next->prev = nc->prev;
	conn_set_data(c, NULL);
}

static void
news_on_timeout(struct conn *c, enum conn_timeout which)
{
	struct news_conn *nc = conn_data(c);

	conn_reject(c, which == CONN_TIMEOUT_HANDSHAKE ? "handshake_timeout" : "idle_timeout");
	if (nc) {
		buf_reset(&nc->out);
		conn_printf(c, "400 Timeout, closing connection\r\n");
	}
}

/* ------------------------------------------------------- article reception */

int
news_data_begin(struct news_conn *nc, enum news_data_kind kind, const char *msgid)
{
	const struct news_conf *cf = nc->n->cf;

	nc->art_region = region_new(conn_region(nc->c), "article", (size_t)cf->article_max + NEWS_ARTICLE_SLACK_BYTES);
	if (nc->art_region == NULL)
		return -1;
	/* article_max is checked line by line (news_data_line); the buffer may
	 * grow past it by our own header fields (cmd_post.c). */
	buf_init(&nc->art, nc->art_region, (size_t)cf->article_max + NEWS_ARTICLE_SLACK_BYTES / 2);
	nc->data_kind = kind;
	snprintf(nc->data_msgid, sizeof nc->data_msgid, "%s", msgid ? msgid : "");
	nc->eat_reply[0] = '\0';
	nc->art_eat_err = ART_TOO_BIG;
	line_init(&nc->dlr, NNTP_BODY_LINE_MAX_BYTES + 2);
	nc->state = NEWS_DATA;
	return 0;
}

void
news_eat_begin(struct news_conn *nc, enum news_data_kind kind, const char *reply)
{
	nc->data_kind = kind;
	snprintf(nc->eat_reply, sizeof nc->eat_reply, "%s", reply);
	nc->art_eat_err = ART_TOO_BIG;
	line_init(&nc->dlr, NNTP_BODY_LINE_MAX_BYTES + 2);
	nc->state = NEWS_EAT;
}

/* The article went past a limit: free its memory now, keep reading to "."
 * (INN's eat state). */
static void
news_eat_switch(struct news_conn *nc, int err)
{
	if (nc->art_region) {
		region_release(nc->art_region);
		nc->art_region = NULL;
	}
	memset(&nc->art, 0, sizeof nc->art);
	nc->art_eat_err = err;
	nc->state = NEWS_EAT;
}

static int
news_data_line(struct news_conn *nc, const struct line *l)
{
	const char *p = l->p;
	size_t len = l->len;

	if (len == 1 && p[0] == '.') {
		int rc, err;

		if (nc->state == NEWS_EAT)
			err = nc->eat_reply[0] ? -1 : nc->art_eat_err;
		else
			err = ART_OK;
		nc->state = NEWS_CMD;
		line_reset(&nc->lr);
		if (err == -1) {
			rc = news_reply(nc, "%s", nc->eat_reply);
			nc->eat_reply[0] = '\0';
			return rc;
		}
		return news_article_done(nc, err);
	}
	if (nc->state == NEWS_EAT)
		return 0;
	/* RFC 3977 3.1.1: undo dot-stuffing. */
	if (len > 0 && p[0] == '.') {
		p++;
		len--;
	}
	if (buf_len(&nc->art) + len + 2 > nc->n->cf->article_max) {
		news_eat_switch(nc, ART_TOO_BIG);
		return 0;
	}
	if (buf_append(&nc->art, p, len) != 0 || buf_append(&nc->art, "\r\n", 2) != 0) {
		/* The budget (connection or worker) is spent: eat it. */
		news_eat_switch(nc, NEWS_EAT_BUDGET);
		return 0;
	}
	return 0;
}

/* -------------------------------------------------------------- dispatch */

static const struct news_cmd *
news_cmd_find(const char *word)
{
	size_t i;

	for (i = 0; i < sizeof news_cmds / sizeof news_cmds[0]; i++)
		if (strcasecmp(news_cmds[i].name, word) == 0)
			return &news_cmds[i];
	return NULL;
}

static int
news_dispatch(struct news_conn *nc, const struct line *l)
{
	char line[NNTP_COMMAND_MAX_BYTES + 1];
	char *argv[NNTP_ARGS_MAX + 1];
	const struct news_cmd *cmd;
	int argc, ok;

	if (l->len >= sizeof line)
		return news_reply(nc, "500 Line too long");
	memcpy(line, l->p, l->len);
	line[l->len] = '\0';
	if (strncasecmp(line, "AUTHINFO", 8) == 0 && (line[8] == ' ' || line[8] == '\t')) {
		/* RFC 4643 2.3: a password may contain spaces; the rest of the
		 * line after "AUTHINFO PASS " is the argument. */
		char *p = line + 8, *kw;

		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		kw = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		argv[0] = line;
		argv[1] = kw;
		argc = *kw ? 2 : 1;
		if (*p) {
			*p++ = '\0';
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p) {
				argv[2] = p;
				argc = 3;
			}
		}
	} else if ((argc = nntp_split(line, argv, NNTP_ARGS_MAX)) < 0) {
		news_error(nc, "too_many_args");
		return news_reply(nc, "501 Too many arguments");
	}
	if (argc == 0) {
		news_error(nc, "empty_command");
		return news_reply(nc, "500 Empty command");
	}
	argv[argc] = NULL;
	if ((cmd = news_cmd_find(argv[0])) == NULL) {
		news_error(nc, "unknown_command");
		return news_reply(nc, "500 Unknown command");
	}
	if (argc - 1 < cmd->min_args || argc - 1 > cmd->max_args) {
		news_error(nc, "syntax");
		if (cmd->fn == news_cmd_takethis) {
			news_eat_begin(nc, NEWS_DATA_TAKETHIS, "501 Syntax error");
			return 0;
		}
		return news_reply(nc, "501 Syntax error");
	}
	ok = 1;
	if ((cmd->flags & CMD_NEEDS_READ) && !nc->can_read)
		ok = 0;
	if ((cmd->flags & CMD_NEEDS_POST) && !nc->can_post)
		ok = 0;
	if ((cmd->flags & CMD_NEEDS_FEED) && !nc->can_feed)
		ok = 0;
	if (!ok) {
		conn_reject(nc->c, "access_denied");
		if (cmd->fn == news_cmd_takethis) {
			news_eat_begin(nc, NEWS_DATA_TAKETHIS, "502 Transit not allowed");
			return 0;
		}
		if (cmd->fn == news_cmd_post)
			return news_reply(nc, nc->authenticated || !news_auth_available() ? "440 Posting not permitted"
			                                                                : "480 Authentication required");
		if (!nc->authenticated && news_auth_available() && !(cmd->flags & CMD_NEEDS_FEED))
			return news_reply(nc, "480 Authentication required");
		return news_reply(nc, "502 Access denied");
	}
	return cmd->fn(nc, argc, argv);
}

/* While replies wait for a commit, only the streaming pipeline goes on:
 * 1 the next command may run, 0 it must wait for the commit, 2 not
 * enough input to tell (wait for more without pausing, so that a feed
 * whose next CHECK arrives in pieces is not held for a whole commit). */
static int
news_may_pass_commit(struct news_conn *nc, struct buf *in)
{
	const char *p = (const char *)buf_data(in);
	size_t len = buf_len(in);

	if (nc->rq_len >= NNTP_STREAM_INFLIGHT_MAX)
		return 0;
	if (region_budget(conn_region(nc->c)) - region_used(conn_region(nc->c)) < NEWS_QUEUE_RESERVE_BYTES)
		return 0;
	if (len >= 6 && strncasecmp(p, "CHECK ", 6) == 0)
		return 1;
	if (len >= 9 && strncasecmp(p, "TAKETHIS ", 9) == 0)
		return 1;
	if (len < 9 && memchr(p, '\n', len) == NULL)
		return 2;
	return 0;
}

static int
news_on_read(struct conn *c, struct buf *in)
{
	struct news_conn *nc = conn_data(c);
	struct line l;
	enum line_status st;

	if (nc == NULL)
		return -1;
	while (!conn_closing(c)) {
		if (nc->job.kind != NEWS_JOB_NONE && news_job_run(nc) != 1)
			break;
		if (nc->state == NEWS_CMD) {
			if (nc->quitting)
				break;
			if (conn_wqueue_len(c) >= conn_wqueue_room(c))
				break;
			if (nc->rq_waiting > 0) {
				int pass = news_may_pass_commit(nc, in);

				if (pass == 2)
					break;
				if (pass == 0) {
					/* The commit releases us (news_commit_run). */
					nc->paused_for_commit = 1;
					conn_pause_read(c);
					break;
				}
			}
			if ((st = line_next(&nc->lr, in, &l)) == LINE_MORE)
				break;
			if (!nc->ready) {
				nc->ready = 1;
				conn_ready(c);
			}
			if (st == LINE_TOO_LONG) {
				news_error(nc, "line_too_long");
				if (news_reply(nc, "500 Line too long") != 0)
					return -1;
			} else if (l.has_nul || l.has_cr) {
				news_error(nc, l.has_nul ? "nul_byte" : "bare_cr");
				if (news_reply(nc, "501 Bad character in command") != 0)
					return -1;
			} else if (news_dispatch(nc, &l) != 0) {
				news_flush(nc);
				return conn_closing(c) ? 0 : -1;
			}
			if (nc->errors >= NNTP_ERRORS_MAX) {
				news_reply(nc, "400 Too many errors, closing connection");
				news_flush(nc);
				conn_close_after_flush(c);
				return 0;
			}
		} else {
			if ((st = line_next(&nc->dlr, in, &l)) == LINE_MORE)
				break;
			if (st == LINE_TOO_LONG) {
				/* Counted once, when the "." line comes. */
				if (nc->state == NEWS_DATA)
					news_eat_switch(nc, ART_BODY_LINE_TOO_LONG);
				continue;
			}
			if (news_data_line(nc, &l) != 0) {
				news_flush(nc);
				return conn_closing(c) ? 0 : -1;
			}
		}
	}
	news_flush(nc);
	return 0;
}

static const struct conn_ops news_ops = {
	.on_open = news_on_open,
	.on_read = news_on_read,
	.on_timeout = news_on_timeout,
	.on_close = news_on_close,
};

/* ----------------------------------------------------------------- expiry */

/* expire_groups: its items are the elements of one wildmat (the
 * configuration splits at commas); the last that matches decides. */
static int
news_expire_wanted(void *arg, const char *group)
{
	const struct news *n = arg;

	return news_wildmat_list_match(&n->cf->expire_groups, group);
}

static void
news_expire_cb(struct timer *t, void *arg)
{
	struct news *n = arg;
	uint64_t removed = 0;
	int64_t cutoff = news_now() - (int64_t)(n->cf->expire_age / 1000);

	/* Expiry writes in the open batch; commit what waits first so that
	 * acknowledgements do not wait on an expiry run. */
	news_commit_run(n);
	if (store_expire(n->store, cutoff, news_expire_wanted, n, &removed) == 0 && store_commit(n->store) == 0)
		log_info("expiry: removed %llu articles posted before %lld (expire_age)", (unsigned long long)removed,
		         (long long)cutoff);
	else
		log_warn("expiry failed");
	loop_timer_set(n->w->loop, &n->expire_timer, NEWS_EXPIRE_INTERVAL_MS);
}

/* ---------------------------------------------------------------- service */

static int
news_check(const struct service_settings *common, const void *conf, char *err, size_t errlen)
{
	const struct news_conf *cf = conf;
	struct nntp_acl_list acl;
	size_t i;

	if (cf->pathhost[0] == '\0' || strpbrk(cf->pathhost, " \t!:/") != NULL) {
		snprintf(err, errlen, "pathhost: must be a non-empty name without spaces, '!', ':' or '/'");
		return -1;
	}
	if (nntp_acl_parse(cf->allow_read.v, cf->allow_read.n, &acl, err, errlen) != 0 ||
	    nntp_acl_parse(cf->allow_post.v, cf->allow_post.n, &acl, err, errlen) != 0 ||
	    nntp_acl_parse(cf->allow_feed.v, cf->allow_feed.n, &acl, err, errlen) != 0)
		return -1;
	for (i = 0; i < cf->create_groups.n; i++)
		if (!article_group_valid(cf->create_groups.v[i], strlen(cf->create_groups.v[i]))) {
			snprintf(err, errlen, "create_groups: bad group name '%s'", cf->create_groups.v[i]);
			return -1;
		}
	for (i = 0; i < cf->moderated_groups.n; i++)
		if (!article_group_valid(cf->moderated_groups.v[i], strlen(cf->moderated_groups.v[i]))) {
			snprintf(err, errlen, "moderated_groups: bad group name '%s'", cf->moderated_groups.v[i]);
			return -1;
		}
	for (i = 0; i < cf->expire_groups.n; i++)
		if (!wildmat_valid(cf->expire_groups.v[i], strlen(cf->expire_groups.v[i]))) {
			snprintf(err, errlen, "expire_groups: bad wildmat '%s'", cf->expire_groups.v[i]);
			return -1;
		}
	if (news_auth_check(cf, err, errlen) != 0)
		return -1;
	/* Read here, as root, like auth_file; the worker inherits the table. */
	return feed_conf_load(cf->feeds_file, err, errlen);
}

static void
news_store_release(void *arg)
{
	struct news *n = arg;

	if (n->store) {
		if (store_batch_size(n->store) > 0)
			store_commit(n->store);
		store_close(n->store);
		n->store = NULL;
	}
}

static int
news_ensure_group(struct news *n, const char *name, char status)
{
	struct store_group g;
	int rc = store_group_get(n->store, name, &g);

	if (rc < 0)
		return -1;
	if (rc == 1)
		return store_group_create(n->store, name, status, n->cf->pathhost, "");
	if (g.status != status && status == 'm')
		return store_group_set_status(n->store, name, status);
	return 0;
}

static int
news_start(struct worker *w)
{
	const struct news_conf *cf = w->conf;
	struct store_opts so = { .synchronous_full = 1 };
	struct server_conf scf;
	char err[256];
	struct news *n;
	size_t i;

	if ((n = region_zalloc(w->region, sizeof *n)) == NULL)
		return -1;
	n->w = w;
	n->cf = cf;
	w->data = n;
	if (getrandom(&n->hash_seed, sizeof n->hash_seed, 0) != sizeof n->hash_seed)
		n->hash_seed = (uint32_t)clock_ms();
	if (nntp_acl_parse(cf->allow_read.v, cf->allow_read.n, &n->acl_read, err, sizeof err) != 0 ||
	    nntp_acl_parse(cf->allow_post.v, cf->allow_post.n, &n->acl_post, err, sizeof err) != 0 ||
	    nntp_acl_parse(cf->allow_feed.v, cf->allow_feed.n, &n->acl_feed, err, sizeof err) != 0) {
		log_err("%s", err);
		return -1;
	}
	if (w->state_dir == NULL) {
		log_err("news: no storage directory");
		return -1;
	}
	if (store_open(&n->store, w->state_dir, &so, err, sizeof err) != 0) {
		log_err("news: storage: %s", err);
		return -1;
	}
	if (region_on_release(w->region, news_store_release, n) != 0) {
		store_close(n->store);
		n->store = NULL;
		return -1;
	}
	for (i = 0; i < cf->create_groups.n; i++)
		if (news_ensure_group(n, cf->create_groups.v[i], 'y') != 0)
			log_warn("news: cannot create group %s", cf->create_groups.v[i]);
	for (i = 0; i < cf->moderated_groups.n; i++)
		if (news_ensure_group(n, cf->moderated_groups.v[i], 'm') != 0)
			log_warn("news: cannot create group %s", cf->moderated_groups.v[i]);
	/* Group creation is written like articles: in a batch. */
	if (store_commit(n->store) != 0)
		log_warn("news: cannot commit the configured groups");
	timer_init(&n->commit_timer, news_commit_cb, n);
	timer_init(&n->expire_timer, news_expire_cb, n);
	if (cf->expire_age > 0)
		loop_timer_set(w->loop, &n->expire_timer, NEWS_EXPIRE_INTERVAL_MS);

	worker_server_conf(w, &scf);
	/* A connection must be able to hold one article besides its buffers
	 * (article_parse needs it whole): its budget grows by article_max.
	 * The worker budget still bounds the sum over connections. */
	scf.conn_budget_bytes += (size_t)cf->article_max + 2 * NEWS_ARTICLE_SLACK_BYTES;
	/* COMPRESS (RFC 8054) adds zlib's state and its staging buffers;
	 * only a connection that asks for it spends this. */
	scf.conn_budget_bytes += conn_compress_bytes();
	/* A body line may be NNTP_BODY_LINE_MAX_BYTES long: the input buffer
	 * must be able to hold one, or the line reader would wait forever on
	 * a full buffer.  Idle connections hold no input buffer, so this
	 * costs only while such a line is arriving. */
	if (scf.read_max_bytes < NNTP_BODY_LINE_MAX_BYTES + NNTP_COMMAND_MAX_BYTES) {
		scf.conn_budget_bytes += NNTP_BODY_LINE_MAX_BYTES + NNTP_COMMAND_MAX_BYTES - scf.read_max_bytes;
		scf.read_max_bytes = NNTP_BODY_LINE_MAX_BYTES + NNTP_COMMAND_MAX_BYTES;
	}
	n->conn_budget = scf.conn_budget_bytes;
	if ((n->server = server_new(w->loop, w->region, &scf, &news_ops, n, w->stats)) == NULL)
		return -1;
	for (i = 0; i < w->nlisteners; i++)
		if (server_add_listener(n->server, w->listeners[i].fd, w->listeners[i].implicit_tls) != 0)
			return -1;
	if (feed_start(n) != 0) {
		log_err("news: cannot start the outgoing feeds");
		return -1;
	}
	log_info("news: serving as %s, storage in %s", cf->pathhost, w->state_dir);
	return 0;
}

static void
news_stop(struct worker *w)
{
	struct news *n = w->data;

	/* Send the acknowledgements the open batch owes before closing. */
	news_commit_run(n);
	feed_stop(n);
	loop_timer_cancel(w->loop, &n->expire_timer);
	server_shutdown(n->server);
}

static size_t
news_busy(struct worker *w)
{
	struct news *n = w->data;

	return server_conn_count(n->server);
}

const struct service news_service = {
	.name = "news",
	.keys = news_keys,
	.conf_size = sizeof(struct news_conf),
	.check = news_check,
	.start = news_start,
	.stop = news_stop,
	.busy = news_busy,
	.control = news_control,
};
