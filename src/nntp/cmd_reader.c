/*
 * cmd_reader.c: the news service's reading commands (RFC 3977 6, 8):
 * GROUP, LISTGROUP, LAST, NEXT, ARTICLE/HEAD/BODY/STAT by number, by the
 * current article or by message-id, OVER/XOVER, HDR/XHDR.
 *
 * Interface: handlers of the command table in news.c, and
 * news_job_step_reader, which produces the multi-line responses in chunks
 * (articles, overview ranges, header ranges, number lists).
 *
 * Memory: an article being sent lives in a request region (budget
 * article_max + slack) held by the job and released when the job ends,
 * whatever the outcome.  Range responses hold no memory between chunks:
 * the cursor is a number and each chunk asks the store again.
 *
 * Limits: a chunk ends after NEWS_RANGE_CHUNK records or once the write
 * queue plus staged output reach half the write budget; HDR on a field that
 * is not in the overview fetches and parses each article (bounded by the
 * same chunk, one article in memory at a time).
 *
 * Known weakness: ranges are clamped to the group's high-water mark at
 * each chunk, so articles arriving during a long OVER may be included.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conn.h"
#include "log.h"
#include "region.h"
#include "nntp/article.h"
#include "nntp/news.h"
#include "nntp/nntp_util.h"
#include "nntp/storage.h"

#define NEWS_RANGE_CHUNK     256     /* records per chunk of a range response */
#define NEWS_HDR_FETCH_CHUNK 32      /* articles fetched per chunk for non-overview HDR */

/* Field of HDR answered from the overview. */
enum over_field { OF_NONE, OF_SUBJECT, OF_FROM, OF_DATE, OF_MSGID, OF_REFERENCES, OF_BYTES, OF_LINES, OF_XREF };

static enum over_field
over_field_of(const char *name)
{
	static const struct {
		const char *name;
		enum over_field f;
	} t[] = {
		{ "Subject", OF_SUBJECT }, { "From", OF_FROM }, { "Date", OF_DATE },
		{ "Message-ID", OF_MSGID }, { "References", OF_REFERENCES }, { ":bytes", OF_BYTES },
		{ ":lines", OF_LINES }, { "Xref", OF_XREF }, { "Bytes", OF_BYTES }, { "Lines", OF_LINES },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcasecmp(name, t[i].name) == 0)
			return t[i].f;
	return OF_NONE;
}

/* Appends a header value as one overview/HDR field: unfolded, with TAB,
 * CR and LF turned into spaces (RFC 3977 8.3.2) and NUL dropped. */
static int
out_field(struct news_conn *nc, const char *p, size_t n)
{
	char tmp[512];
	size_t i, k = 0;

	if (p == NULL)
		return 0;
	/* Skip a fold (CRLF followed by WSP) entirely, as unfolding does. */
	for (i = 0; i < n; i++) {
		char ch = p[i];

		if (ch == '\r' || ch == '\n')
			continue;
		if (ch == '\0')
			continue;
		if (ch == '\t')
			ch = ' ';
		tmp[k++] = ch;
		if (k == sizeof tmp) {
			if (news_out(nc, tmp, k) != 0)
				return -1;
			k = 0;
		}
	}
	return k ? news_out(nc, tmp, k) : 0;
}

static int
out_cstr(struct news_conn *nc, const char *s)
{
	return s ? out_field(nc, s, strlen(s)) : 0;
}

static int
over_line(struct news_conn *nc, const struct store_over *o)
{
	char num[64];
	int rc = 0;

	snprintf(num, sizeof num, "%llu\t", (unsigned long long)o->number);
	rc |= news_out(nc, num, strlen(num));
	rc |= out_cstr(nc, o->subject);
	rc |= news_out(nc, "\t", 1);
	rc |= out_cstr(nc, o->from);
	rc |= news_out(nc, "\t", 1);
	rc |= out_cstr(nc, o->date);
	rc |= news_out(nc, "\t", 1);
	rc |= out_cstr(nc, o->msgid);
	rc |= news_out(nc, "\t", 1);
	rc |= out_cstr(nc, o->references);
	snprintf(num, sizeof num, "\t%llu\t%lu\t", (unsigned long long)o->bytes, (unsigned long)o->lines);
	rc |= news_out(nc, num, strlen(num));
	/* The store keeps "g:n ..." without the host (storage.h). */
	if (o->xref && o->xref[0]) {
		rc |= news_printf(nc, "Xref: %s ", nc->n->cf->pathhost);
		rc |= out_cstr(nc, o->xref);
	}
	rc |= news_out(nc, "\r\n", 2);
	return rc ? -1 : 0;
}

static int
hdr_line_over(struct news_conn *nc, const struct store_over *o, enum over_field f)
{
	char num[48];
	int rc = 0;

	snprintf(num, sizeof num, "%llu ", (unsigned long long)o->number);
	rc |= news_out(nc, num, strlen(num));
	switch (f) {
	case OF_SUBJECT: rc |= out_cstr(nc, o->subject); break;
	case OF_FROM: rc |= out_cstr(nc, o->from); break;
	case OF_DATE: rc |= out_cstr(nc, o->date); break;
	case OF_MSGID: rc |= out_cstr(nc, o->msgid); break;
	case OF_REFERENCES: rc |= out_cstr(nc, o->references); break;
	case OF_XREF:
		if (o->xref && o->xref[0]) {
			rc |= news_printf(nc, "%s ", nc->n->cf->pathhost);
			rc |= out_cstr(nc, o->xref);
		}
		break;
	case OF_BYTES:
		snprintf(num, sizeof num, "%llu", (unsigned long long)o->bytes);
		rc |= news_out(nc, num, strlen(num));
		break;
	case OF_LINES:
		snprintf(num, sizeof num, "%lu", (unsigned long)o->lines);
		rc |= news_out(nc, num, strlen(num));
		break;
	case OF_NONE: break;
	}
	rc |= news_out(nc, "\r\n", 2);
	return rc ? -1 : 0;
}

/* ------------------------------------------------------------ range walks */

struct walk {
	struct news_conn *nc;
	size_t count;
	uint64_t last;
	int err;
	int stopped;             /* the chunk ended before the range did */
	enum over_field f;
};

/* After one record: 1 stops the walk (chunk full by count or bytes). */
static int
walk_next(struct walk *wk, uint64_t number)
{
	wk->last = number;
	if (++wk->count >= NEWS_RANGE_CHUNK || news_out_full(wk->nc)) {
		wk->stopped = 1;
		return 1;
	}
	return 0;
}

static int
walk_over_cb(void *arg, const struct store_over *o)
{
	struct walk *wk = arg;

	if (over_line(wk->nc, o) != 0) {
		wk->err = 1;
		return 1;
	}
	return walk_next(wk, o->number);
}

static int
walk_hdr_cb(void *arg, const struct store_over *o)
{
	struct walk *wk = arg;

	if (hdr_line_over(wk->nc, o, wk->f) != 0) {
		wk->err = 1;
		return 1;
	}
	return walk_next(wk, o->number);
}

static int
walk_num_cb(void *arg, uint64_t number)
{
	struct walk *wk = arg;
	char num[32];
	int n = snprintf(num, sizeof num, "%llu\r\n", (unsigned long long)number);

	if (news_out(wk->nc, num, (size_t)n) != 0) {
		wk->err = 1;
		return 1;
	}
	return walk_next(wk, number);
}

struct numbers {
	uint64_t v[NEWS_HDR_FETCH_CHUNK];
	size_t n;
};

static int
collect_cb(void *arg, uint64_t number)
{
	struct numbers *ns = arg;

	ns->v[ns->n++] = number;
	return ns->n >= NEWS_HDR_FETCH_CHUNK;
}

static int
first_cb(void *arg, uint64_t number)
{
	*(int *)arg = 1;
	return 1;
}

/* One article's header field, fetched and parsed in a request region. */
static int
hdr_fetched(struct news_conn *nc, const char *group, uint64_t number, const char *msgid, size_t mlen,
            const char *field)
{
	struct region *req = region_new(conn_region(nc->c), "hdr", (size_t)nc->n->cf->article_max + NEWS_ARTICLE_SLACK_BYTES);
	struct article_limits lim = { .article_max = (size_t)nc->n->cf->article_max + NEWS_ARTICLE_SLACK_BYTES };
	struct store_text st;
	struct article a;
	char num[32];
	int rc;

	if (req == NULL)
		return -1;
	rc = group ? store_get_by_number(nc->n->store, group, number, req, &st)
	           : store_get_by_msgid(nc->n->store, msgid, mlen, req, &st);
	if (rc != 0) {
		region_release(req);
		return rc < 0 ? -1 : 1;
	}
	snprintf(num, sizeof num, "%llu ", (unsigned long long)number);
	rc = news_out(nc, num, strlen(num));
	if (rc == 0 && article_parse(st.text, st.len, &lim, &a) == ART_OK) {
		struct span sp = article_header(st.text, &a, field);

		if (sp.len > 0)
			rc = out_field(nc, (const char *)st.text + sp.off, sp.len);
	}
	if (rc == 0)
		rc = news_out(nc, "\r\n", 2);
	region_release(req);
	return rc;
}

/* Clamps a job's upper bound to what the group holds now. */
static int
job_clamp(struct news_conn *nc)
{
	struct store_group g;
	int rc = store_group_get(nc->n->store, nc->job.group, &g);

	if (rc < 0)
		return -1;
	if (rc == 1)
		return 1;    /* removed meanwhile: end the list */
	if (nc->job.hi > g.high)
		nc->job.hi = g.high;
	return nc->job.next > nc->job.hi ? 1 : 0;
}

static int
step_text(struct news_conn *nc)
{
	struct news_job *j = &nc->job;
	size_t budget = nc->flush_at;

	while (j->off < j->len && budget > 0) {
		const uint8_t *p = j->text + j->off;
		size_t rest = j->len - j->off, take;
		const uint8_t *nl;

		if (j->bol && p[0] == '.') {
			if (news_out(nc, ".", 1) != 0)
				return -1;
		}
		nl = memchr(p, '\n', rest < budget ? rest : budget);
		if (nl) {
			take = (size_t)(nl - p) + 1;
			j->bol = 1;
		} else {
			take = rest < budget ? rest : budget;
			j->bol = 0;
		}
		if (news_out(nc, (const char *)p, take) != 0)
			return -1;
		j->off += take;
		budget = take >= budget ? 0 : budget - take;
	}
	if (j->off < j->len)
		return 0;
	/* Stored text ends in CRLF; a body without one gets it here. */
	if (j->len > 0 && !j->bol && news_out(nc, "\r\n", 2) != 0)
		return -1;
	return news_out(nc, ".\r\n", 3) != 0 ? -1 : 1;
}

int
news_job_step_reader(struct news_conn *nc)
{
	struct news_job *j = &nc->job;
	struct walk wk = { .nc = nc, .f = OF_NONE };
	int rc;

	switch (j->kind) {
	case NEWS_JOB_TEXT:
		return step_text(nc);
	case NEWS_JOB_OVER:
	case NEWS_JOB_LISTGROUP:
	case NEWS_JOB_HDR:
		break;
	default:
		return 1;
	}
	if ((rc = job_clamp(nc)) < 0)
		return -1;
	if (rc == 1)
		return news_out(nc, ".\r\n", 3) != 0 ? -1 : 1;
	if (j->kind == NEWS_JOB_OVER) {
		rc = store_over_range(nc->n->store, j->group, j->next, j->hi, walk_over_cb, &wk);
	} else if (j->kind == NEWS_JOB_LISTGROUP) {
		rc = store_listgroup(nc->n->store, j->group, j->next, j->hi, walk_num_cb, &wk);
	} else if ((wk.f = over_field_of(j->field)) != OF_NONE) {
		rc = store_over_range(nc->n->store, j->group, j->next, j->hi, walk_hdr_cb, &wk);
	} else {
		struct numbers ns;
		size_t i;

		ns.n = 0;
		rc = store_listgroup(nc->n->store, j->group, j->next, j->hi, collect_cb, &ns);
		/* As many as asked: there may be more. */
		wk.stopped = ns.n == NEWS_HDR_FETCH_CHUNK;
		for (i = 0; rc >= 0 && i < ns.n; i++) {
			if (hdr_fetched(nc, j->group, ns.v[i], NULL, 0, j->field) < 0)
				return -1;
			wk.last = ns.v[i];
			if (i + 1 < ns.n && news_out_full(nc)) {
				wk.stopped = 1;
				break;
			}
		}
	}
	if (rc < 0 || wk.err)
		return -1;
	if (!wk.stopped || wk.last >= j->hi)
		return news_out(nc, ".\r\n", 3) != 0 ? -1 : 1;
	j->next = wk.last + 1;
	return 0;
}

/* --------------------------------------------------------------- commands */

static int
need_group(struct news_conn *nc)
{
	if (!nc->have_group) {
		news_reply(nc, "412 No newsgroup selected");
		return -1;
	}
	return 0;
}

static int
select_group(struct news_conn *nc, const char *name, struct store_group *g)
{
	int rc;

	if (!article_group_valid(name, strlen(name))) {
		news_reply(nc, "411 No such newsgroup");
		return 1;
	}
	if ((rc = store_group_get(nc->n->store, name, g)) < 0) {
		news_reply(nc, "403 Storage error");
		return -1;
	}
	if (rc == 1) {
		news_reply(nc, "411 No such newsgroup");
		return 1;
	}
	snprintf(nc->group, sizeof nc->group, "%s", g->name);
	nc->have_group = 1;
	nc->cur = g->count > 0 ? g->low : 0;
	return 0;
}

int
news_cmd_group(struct news_conn *nc, int argc, char **argv)
{
	struct store_group g;

	if (select_group(nc, argv[1], &g) != 0)
		return 0;
	return news_reply(nc, "211 %llu %llu %llu %s", (unsigned long long)g.count, (unsigned long long)g.low,
	                  (unsigned long long)g.high, g.name);
}

int
news_cmd_listgroup(struct news_conn *nc, int argc, char **argv)
{
	struct news_job *j = &nc->job;
	struct store_group g;
	uint64_t lo = 1, hi = NNTP_ARTNUM_MAX;
	int rc;

	if (argc > 2 && nntp_parse_range(argv[2], &lo, &hi) != 0) {
		news_error(nc, "bad_range");
		return news_reply(nc, "501 Bad range");
	}
	if (argc > 1) {
		if (select_group(nc, argv[1], &g) != 0)
			return 0;
	} else {
		if (need_group(nc) != 0)
			return 0;
		if ((rc = store_group_get(nc->n->store, nc->group, &g)) != 0)
			return news_reply(nc, rc < 0 ? "403 Storage error" : "411 No such newsgroup");
		nc->cur = g.count > 0 ? g.low : 0;
	}
	news_reply(nc, "211 %llu %llu %llu %s list follows", (unsigned long long)g.count, (unsigned long long)g.low,
	           (unsigned long long)g.high, g.name);
	if (lo < g.low)
		lo = g.low;
	memset(j, 0, sizeof *j);
	j->kind = NEWS_JOB_LISTGROUP;
	snprintf(j->group, sizeof j->group, "%s", g.name);
	j->next = lo;
	j->hi = hi;
	news_job_start(nc);
	return 0;
}

static int
news_step_cmd(struct news_conn *nc, int dir)
{
	char msgid[NNTP_MSGID_MAX_BYTES + 1];
	uint64_t n;
	int rc;

	if (need_group(nc) != 0)
		return 0;
	if (nc->cur == 0)
		return news_reply(nc, "420 No current article selected");
	if ((rc = store_step(nc->n->store, nc->group, nc->cur, dir, &n)) < 0)
		return news_reply(nc, "403 Storage error");
	if (rc == 1)
		return news_reply(nc, dir < 0 ? "422 No previous article in this group"
		                              : "421 No next article in this group");
	if ((rc = store_stat_number(nc->n->store, nc->group, n, msgid, sizeof msgid)) != 0)
		return news_reply(nc, rc < 0 ? "403 Storage error" : "420 No current article selected");
	nc->cur = n;
	return news_reply(nc, "223 %llu %s retrieved", (unsigned long long)n, msgid);
}

int
news_cmd_last(struct news_conn *nc, int argc, char **argv)
{
	return news_step_cmd(nc, -1);
}

int
news_cmd_next(struct news_conn *nc, int argc, char **argv)
{
	return news_step_cmd(nc, 1);
}

static int
stat_msgid_cb(void *arg, const struct store_over *o)
{
	*(int *)arg = 1;
	return 1;
}

/* ARTICLE, HEAD, BODY, STAT (RFC 3977 6.2). */
int
news_cmd_article(struct news_conn *nc, int argc, char **argv)
{
	struct news_job *j = &nc->job;
	int code, rc, by_id = 0;
	const char *what = argv[0];
	char msgid[NNTP_MSGID_MAX_BYTES + 1];
	uint64_t n = 0;
	struct region *req;
	struct store_text st;

	if (strcasecmp(what, "ARTICLE") == 0)
		code = 220;
	else if (strcasecmp(what, "HEAD") == 0)
		code = 221;
	else if (strcasecmp(what, "BODY") == 0)
		code = 222;
	else
		code = 223;

	if (argc > 1 && argv[1][0] == '<') {
		size_t len = strlen(argv[1]);

		if (!article_msgid_valid(argv[1], len)) {
			news_error(nc, "bad_message_id");
			return news_reply(nc, "501 Bad message-id");
		}
		by_id = 1;
		snprintf(msgid, sizeof msgid, "%s", argv[1]);
	} else {
		/* Syntax first (RFC 3977 3.2.1: 501 whatever the state). */
		if (argc > 1 && nntp_parse_number(argv[1], &n) != 0) {
			news_error(nc, "bad_number");
			return news_reply(nc, "501 Bad article number");
		}
		if (need_group(nc) != 0)
			return 0;
		if (argc == 1) {
			if (nc->cur == 0)
				return news_reply(nc, "420 No current article selected");
			n = nc->cur;
		}
	}

	if (code == 223) {
		if (by_id) {
			int found = 0;

			if (store_over_msgid(nc->n->store, msgid, strlen(msgid), stat_msgid_cb, &found) < 0)
				return news_reply(nc, "403 Storage error");
			if (!found)
				return news_reply(nc, "430 No article with that message-id");
			return news_reply(nc, "223 0 %s", msgid);
		}
		if ((rc = store_stat_number(nc->n->store, nc->group, n, msgid, sizeof msgid)) < 0)
			return news_reply(nc, "403 Storage error");
		if (rc == 1)
			return news_reply(nc, argc > 1 ? "423 No article with that number"
			                               : "420 Current article number is invalid");
		nc->cur = n;
		return news_reply(nc, "223 %llu %s", (unsigned long long)n, msgid);
	}

	req = region_new(conn_region(nc->c), "article_out", (size_t)nc->n->cf->article_max + NEWS_ARTICLE_SLACK_BYTES);
	if (req == NULL) {
		conn_reject(nc->c, "budget");
		return news_reply(nc, "403 Out of memory, try again later");
	}
	if (by_id)
		rc = store_get_by_msgid(nc->n->store, msgid, strlen(msgid), req, &st);
	else
		rc = store_get_by_number(nc->n->store, nc->group, n, req, &st);
	if (rc != 0) {
		region_release(req);
		if (rc < 0)
			return news_reply(nc, "403 Storage error");
		if (by_id)
			return news_reply(nc, "430 No article with that message-id");
		return news_reply(nc, argc > 1 ? "423 No article with that number"
		                               : "420 Current article number is invalid");
	}
	if (!by_id)
		nc->cur = n;
	news_reply(nc, "%d %llu %s", code, by_id ? 0ULL : (unsigned long long)n, st.msgid);
	memset(j, 0, sizeof *j);
	j->kind = NEWS_JOB_TEXT;
	j->req = req;
	j->bol = 1;
	if (st.header_len > st.len)
		st.header_len = st.len;
	if (code == 220) {
		j->text = st.text;
		j->len = st.len;
	} else if (code == 221) {
		/* Without the empty line that ends the header section. */
		size_t hl = st.header_len;

		if (hl >= 2 && st.text[hl - 1] == '\n' && st.text[hl - 2] == '\r' && hl >= 4 &&
		    st.text[hl - 3] == '\n')
			hl -= 2;
		j->text = st.text;
		j->len = hl;
	} else {
		j->text = st.text + st.header_len;
		j->len = st.len - st.header_len;
	}
	news_job_start(nc);
	return 0;
}

/* Parses the optional range argument of OVER/HDR against the current
 * group: 0 ok, 1 replied. */
static int
range_arg(struct news_conn *nc, const char *arg, uint64_t *lo, uint64_t *hi)
{
	if (arg != NULL && nntp_parse_range(arg, lo, hi) != 0) {
		news_error(nc, "bad_range");
		news_reply(nc, "501 Bad range");
		return 1;
	}
	if (need_group(nc) != 0)
		return 1;
	if (arg == NULL) {
		if (nc->cur == 0) {
			news_reply(nc, "420 No current article selected");
			return 1;
		}
		*lo = *hi = nc->cur;
	}
	return 0;
}

static int
range_empty(struct news_conn *nc, uint64_t lo, uint64_t hi)
{
	int found = 0;

	if (lo > hi)
		return 1;
	if (store_listgroup(nc->n->store, nc->group, lo, hi, first_cb, &found) < 0)
		return -1;
	return !found;
}

struct one_over {
	struct news_conn *nc;
	enum over_field f;
	int found, err, hdr;
};

static int
one_over_cb(void *arg, const struct store_over *o)
{
	struct one_over *oo = arg;

	oo->found = 1;
	if ((oo->hdr ? hdr_line_over(oo->nc, o, oo->f) : over_line(oo->nc, o)) != 0)
		oo->err = 1;
	return 1;
}

int
news_cmd_over(struct news_conn *nc, int argc, char **argv)
{
	struct news_job *j = &nc->job;
	uint64_t lo, hi;
	int rc;

	if (argc > 1 && argv[1][0] == '<') {
		struct one_over oo = { nc, OF_NONE, 0, 0, 0 };

		if (!article_msgid_valid(argv[1], strlen(argv[1]))) {
			news_error(nc, "bad_message_id");
			return news_reply(nc, "501 Bad message-id");
		}
		/* Probe first: the status line must precede the data. */
		{
			int found = 0;

			if (store_over_msgid(nc->n->store, argv[1], strlen(argv[1]), stat_msgid_cb, &found) < 0)
				return news_reply(nc, "403 Storage error");
			if (!found)
				return news_reply(nc, "430 No article with that message-id");
		}
		news_reply(nc, "224 Overview information follows");
		if (store_over_msgid(nc->n->store, argv[1], strlen(argv[1]), one_over_cb, &oo) < 0 || oo.err)
			return -1;
		return news_out(nc, ".\r\n", 3);
	}
	if (range_arg(nc, argc > 1 ? argv[1] : NULL, &lo, &hi) != 0)
		return 0;
	if ((rc = range_empty(nc, lo, hi)) < 0)
		return news_reply(nc, "403 Storage error");
	if (rc == 1)
		return news_reply(nc, argc > 1 ? "423 No articles in that range" : "420 Current article number is invalid");
	news_reply(nc, "224 Overview information follows");
	memset(j, 0, sizeof *j);
	j->kind = NEWS_JOB_OVER;
	snprintf(j->group, sizeof j->group, "%s", nc->group);
	j->next = lo;
	j->hi = hi;
	news_job_start(nc);
	return 0;
}

int
news_cmd_hdr(struct news_conn *nc, int argc, char **argv)
{
	struct news_job *j = &nc->job;
	int xhdr = strcasecmp(argv[0], "XHDR") == 0;
	const char *field = argv[1];
	uint64_t lo, hi;
	int rc;

	if (strlen(field) >= sizeof j->field || (strchr(field, ':') != NULL && field[0] != ':')) {
		news_error(nc, "syntax");
		return news_reply(nc, "501 Bad header name");
	}
	if (argc > 2 && argv[2][0] == '<') {
		const char *id = argv[2];
		enum over_field f = over_field_of(field);
		int found = 0;

		if (!article_msgid_valid(id, strlen(id))) {
			news_error(nc, "bad_message_id");
			return news_reply(nc, "501 Bad message-id");
		}
		if (store_over_msgid(nc->n->store, id, strlen(id), stat_msgid_cb, &found) < 0)
			return news_reply(nc, "403 Storage error");
		if (!found)
			return news_reply(nc, "430 No article with that message-id");
		news_reply(nc, xhdr ? "221 Header follows" : "225 Headers follow");
		if (f != OF_NONE) {
			struct one_over oo = { nc, f, 0, 0, 1 };

			if (store_over_msgid(nc->n->store, id, strlen(id), one_over_cb, &oo) < 0 || oo.err)
				return -1;
		} else if (hdr_fetched(nc, NULL, 0, id, strlen(id), field) < 0) {
			return -1;
		}
		return news_out(nc, ".\r\n", 3);
	}
	if (range_arg(nc, argc > 2 ? argv[2] : NULL, &lo, &hi) != 0)
		return 0;
	if ((rc = range_empty(nc, lo, hi)) < 0)
		return news_reply(nc, "403 Storage error");
	if (rc == 1)
		return news_reply(nc, argc > 2 ? "423 No articles in that range" : "420 Current article number is invalid");
	news_reply(nc, xhdr ? "221 Header follows" : "225 Headers follow");
	memset(j, 0, sizeof *j);
	j->kind = NEWS_JOB_HDR;
	snprintf(j->group, sizeof j->group, "%s", nc->group);
	snprintf(j->field, sizeof j->field, "%s", field);
	j->next = lo;
	j->hi = hi;
	news_job_start(nc);
	return 0;
}
