/*
 * news_ctl.c: the news service's operator commands, "holdfastctl news
 * VERB [ARG...]", forwarded by the supervisor to the worker (service.h's
 * control callback).  The worker's loop calls news_control between
 * events, never from inside a store call or a connection callback.
 *
 * Interface: news_control (news_service.control); news_wildmat_list_match
 * (also used by the expiry timer in news.c for expire_groups).
 *
 * Verbs:
 *   newgroup NAME [y|n|m] [DESCRIPTION...]   creator "holdfastctl"; on an
 *            existing group a different explicit status is applied (as
 *            INN's ctlinnd newgroup), else it is an error
 *   rmgroup NAME         the group and its articles (cross-posts stay in
 *                        their other groups)
 *   list [WILDMAT]       "name high low status count", one group a line
 *   group NAME           one group's details
 *   expire [WILDMAT] [AGE]  articles posted (Date, capped at arrival) more
 *                        than AGE ago (default: expire_age); with one
 *                        argument, it is AGE if it parses as a duration
 *   check                PRAGMA integrity_check and foreign_key_check
 *   feeds                one line per outgoing peer (feed.c's
 *                        feed_status_text), or "no feeds configured"
 *   help                 the usage (any other word: the usage, status 1)
 *
 * The open batch: every verb that touches the store first commits the
 * open group-commit batch with news_commit_run, the same path as the
 * commit timer (the acknowledgements that waited for it are sent, or
 * refused if the commit fails).  We chose this over answering "busy, try
 * again": a streaming feed keeps a batch open nearly all the time, and
 * would starve the operator.  After it no batch is open, so a verb's
 * writes run in a transaction of their own and are durable once it
 * answers, and its reads see only committed articles.
 *
 * Limits: the answer fits in outlen bytes (CTL_TEXT_MAX_BYTES); a longer
 * one is cut at a line boundary and ends with "... (truncated)".
 * Arguments are at most CTL_ARGS_MAX words of CTL_ARG_MAX_BYTES (the
 * client's limits), so a long description goes as one quoted argument.
 * A description is refused if it holds control characters (it is sent in
 * LIST NEWSGROUPS lines).
 *
 * Weaknesses: a verb runs inside the worker's single loop, so an expire
 * or rmgroup over many articles stalls every connection of the worker
 * until it ends (the supervisor waits up to 60 s for the answer); the
 * forced commit costs an fsync.  expire's count is of articles that left
 * the store, not of cross-posts that only left a matching group.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "service.h"
#include "nntp/article.h"
#include "nntp/feed.h"
#include "nntp/news.h"
#include "nntp/storage.h"
#include "nntp/wildmat.h"

#define CTL_CREATOR "holdfastctl"

static const char news_ctl_usage[] =
	"usage: holdfastctl news VERB [ARG...]\n"
	"  newgroup NAME [y|n|m] [DESCRIPTION...]\n"
	"  rmgroup NAME\n"
	"  list [WILDMAT]\n"
	"  group NAME\n"
	"  expire [WILDMAT] [AGE]\n"
	"  check\n"
	"  feeds\n"
	"  help\n";

/* The answer being written: len < cap always, p NUL-terminated. */
struct ctl_out {
	char *p;
	size_t len, cap;
	int cut;
};

/* Appends one or more whole lines; a piece that does not fit is dropped
 * whole and marks the answer truncated. */
static void __attribute__((format(printf, 2, 3)))
ctl_printf(struct ctl_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->cut || o->cap == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->p[o->len] = '\0';
		o->cut = 1;
		return;
	}
	o->len += (size_t)n;
}

/* Ends a truncated answer with a line saying so, dropping whole lines to
 * make room for it. */
static void
ctl_finish(struct ctl_out *o)
{
	static const char tail[] = "... (truncated)\n";

	if (o->cap == 0)
		return;
	if (o->cut) {
		while (o->len > 0 && o->len + sizeof tail > o->cap) {
			do
				o->len--;
			while (o->len > 0 && o->p[o->len - 1] != '\n');
		}
		if (o->len + sizeof tail <= o->cap) {
			memcpy(o->p + o->len, tail, sizeof tail);
			o->len += sizeof tail - 1;
		}
	}
	o->p[o->len] = '\0';
}

int
news_wildmat_list_match(const struct conf_list *l, const char *group)
{
	size_t i, glen = strlen(group);
	int match = 0;

	for (i = 0; i < l->n; i++) {
		const char *p = l->v[i];
		int neg = p[0] == '!';

		if (wildmat_match_one(p + neg, strlen(p + neg), group, glen))
			match = !neg;
	}
	return match;
}

/* Commits the open batch (see the comment at the top). */
static void
ctl_quiesce(struct news *n)
{
	if (store_batch_size(n->store) > 0)
		news_commit_run(n);
}

static const char *
ctl_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

static int
ctl_group_name_ok(struct ctl_out *o, const char *verb, const char *name)
{
	if (article_group_valid(name, strlen(name)))
		return 1;
	ctl_printf(o, "%s: bad group name (lowercase a-z 0-9 + _ - components separated by dots, at most %d bytes)\n",
	           verb, NNTP_GROUP_MAX_BYTES);
	return 0;
}

/* ------------------------------------------------------------ newgroup */

static int
ctl_newgroup(struct news *n, int argc, char *const argv[], struct ctl_out *o)
{
	char desc[sizeof ((struct store_group *)0)->description];
	const char *name = argv[1];
	struct store_group g;
	char status = 'y';
	int i = 2, explicit_status = 0, rc;
	size_t dl = 0;

	if (argc < 2) {
		ctl_printf(o, "usage: holdfastctl news newgroup NAME [y|n|m] [DESCRIPTION...]\n");
		return 1;
	}
	if (!ctl_group_name_ok(o, "newgroup", name))
		return 1;
	if (argc > 2 && strlen(argv[2]) == 1) {
		if (strchr("ynm", argv[2][0]) == NULL) {
			ctl_printf(o, "newgroup: status must be y (posting allowed), n (no posting) or m (moderated)\n");
			return 1;
		}
		status = argv[2][0];
		explicit_status = 1;
		i = 3;
	}
	desc[0] = '\0';
	for (; i < argc; i++) {
		size_t l = strlen(argv[i]);

		for (size_t k = 0; k < l; k++)
			if ((unsigned char)argv[i][k] < 0x20 || argv[i][k] == 0x7f) {
				ctl_printf(o, "newgroup: control characters in the description\n");
				return 1;
			}
		if (dl + (dl > 0) + l >= sizeof desc) {
			ctl_printf(o, "newgroup: description longer than %zu bytes\n", sizeof desc - 1);
			return 1;
		}
		if (dl > 0)
			desc[dl++] = ' ';
		memcpy(desc + dl, argv[i], l);
		dl += l;
		desc[dl] = '\0';
	}
	ctl_quiesce(n);
	rc = store_group_create(n->store, name, status, CTL_CREATOR, desc);
	if (rc < 0) {
		ctl_printf(o, "newgroup: storage error (see the log)\n");
		return 1;
	}
	if (rc == 0) {
		log_info("holdfastctl: group %s created, status %c", name, status);
		ctl_printf(o, "created group %s, status %c\n", name, status);
		return 0;
	}
	/* It exists: an explicit, different status is a status change. */
	if (store_group_get(n->store, name, &g) != 0) {
		ctl_printf(o, "newgroup: storage error (see the log)\n");
		return 1;
	}
	if (!explicit_status || g.status == status) {
		ctl_printf(o, "newgroup: group %s already exists (status %c)\n", name, g.status);
		return 1;
	}
	if (store_group_set_status(n->store, name, status) != 0) {
		ctl_printf(o, "newgroup: storage error (see the log)\n");
		return 1;
	}
	log_info("holdfastctl: group %s status %c -> %c", name, g.status, status);
	ctl_printf(o, "group %s exists: status changed from %c to %c\n", name, g.status, status);
	return 0;
}

/* ------------------------------------------------------------- rmgroup */

static int
ctl_rmgroup(struct news *n, int argc, char *const argv[], struct ctl_out *o)
{
	struct store_group g;
	int rc;

	if (argc != 2) {
		ctl_printf(o, "usage: holdfastctl news rmgroup NAME\n");
		return 1;
	}
	if (!ctl_group_name_ok(o, "rmgroup", argv[1]))
		return 1;
	ctl_quiesce(n);
	if ((rc = store_group_get(n->store, argv[1], &g)) != 0) {
		ctl_printf(o, rc < 0 ? "rmgroup: storage error (see the log)\n" : "rmgroup: no such group %s\n", argv[1]);
		return 1;
	}
	if ((rc = store_group_remove(n->store, argv[1])) != 0) {
		ctl_printf(o, rc < 0 ? "rmgroup: storage error (see the log)\n" : "rmgroup: no such group %s\n", argv[1]);
		return 1;
	}
	log_info("holdfastctl: group %s removed with %llu articles", g.name, (unsigned long long)g.count);
	ctl_printf(o, "removed group %s (%llu articles)\n", g.name, (unsigned long long)g.count);
	return 0;
}

/* ---------------------------------------------------------- list, group */

struct ctl_list {
	struct ctl_out *o;
	const char *wildmat;
	size_t matched;
};

static int
ctl_list_cb(void *arg, const struct store_group *g)
{
	struct ctl_list *l = arg;

	if (l->wildmat != NULL && !wildmat_match(l->wildmat, strlen(l->wildmat), g->name, strlen(g->name)))
		return 0;
	l->matched++;
	ctl_printf(l->o, "%s %llu %llu %c %llu\n", g->name, (unsigned long long)g->high, (unsigned long long)g->low,
	           g->status, (unsigned long long)g->count);
	return l->o->cut;    /* stop once the answer is full */
}

static int
ctl_list(struct news *n, int argc, char *const argv[], struct ctl_out *o)
{
	struct ctl_list l = { o, NULL, 0 };

	if (argc > 2) {
		ctl_printf(o, "usage: holdfastctl news list [WILDMAT]\n");
		return 1;
	}
	if (argc == 2) {
		if (!wildmat_valid(argv[1], strlen(argv[1]))) {
			ctl_printf(o, "list: bad wildmat\n");
			return 1;
		}
		l.wildmat = argv[1];
	}
	ctl_quiesce(n);
	if (store_group_each(n->store, 0, ctl_list_cb, &l) != 0) {
		ctl_printf(o, "list: storage error (see the log)\n");
		return 1;
	}
	if (l.matched == 0)
		ctl_printf(o, "no groups%s%s\n", l.wildmat ? " match " : "", l.wildmat ? l.wildmat : "");
	return 0;
}

static int
ctl_group(struct news *n, int argc, char *const argv[], struct ctl_out *o)
{
	struct store_group g;
	char when[64];
	int rc;

	if (argc != 2) {
		ctl_printf(o, "usage: holdfastctl news group NAME\n");
		return 1;
	}
	if (!ctl_group_name_ok(o, "group", argv[1]))
		return 1;
	ctl_quiesce(n);
	if ((rc = store_group_get(n->store, argv[1], &g)) != 0) {
		ctl_printf(o, rc < 0 ? "group: storage error (see the log)\n" : "group: no such group %s\n", argv[1]);
		return 1;
	}
	ctl_printf(o, "name %s\nstatus %c\ncount %llu\nlow %llu\nhigh %llu\ncreated %s\ncreator %s\ndescription %s\n",
	           g.name, g.status, (unsigned long long)g.count, (unsigned long long)g.low,
	           (unsigned long long)g.high, ctl_time(g.created, when, sizeof when), g.creator, g.description);
	return 0;
}

/* -------------------------------------------------------------- expire */

static int
ctl_expire_ok(void *arg, const char *group)
{
	const char *w = arg;

	return wildmat_match(w, strlen(w), group, strlen(group));
}

static int
ctl_expire(struct news *n, int argc, char *const argv[], struct ctl_out *o)
{
	const char *wildmat = NULL, *age_arg = NULL;
	uint64_t age_ms = n->cf->expire_age, removed = 0;
	int64_t now = news_now(), age_s, cutoff;
	char when[64];

	if (argc > 3) {
		ctl_printf(o, "usage: holdfastctl news expire [WILDMAT] [AGE]\n");
		return 1;
	}
	if (argc == 3) {
		wildmat = argv[1];
		age_arg = argv[2];
	} else if (argc == 2) {
		uint64_t v;

		/* A group name such as "30d" is also a duration: give both
		 * arguments to expire such a group. */
		if (conf_parse_duration_ms(argv[1], &v) == 0)
			age_arg = argv[1];
		else
			wildmat = argv[1];
	}
	if (wildmat != NULL && !wildmat_valid(wildmat, strlen(wildmat))) {
		ctl_printf(o, "expire: bad wildmat\n");
		return 1;
	}
	if (age_arg != NULL && conf_parse_duration_ms(age_arg, &age_ms) != 0) {
		ctl_printf(o, "expire: bad AGE '%s' (a duration: 30d, 12h, 90m)\n", age_arg);
		return 1;
	}
	if (age_ms == 0) {
		ctl_printf(o, age_arg ? "expire: AGE 0 would remove every article: refused\n"
		                      : "expire: no AGE given and expire_age is not set\n");
		return 1;
	}
	if (age_ms < 1000) {
		ctl_printf(o, "expire: AGE must be at least 1s\n");
		return 1;
	}
	age_s = age_ms / 1000 > (uint64_t)now ? now : (int64_t)(age_ms / 1000);
	cutoff = now - age_s;
	ctl_quiesce(n);
	if (store_expire(n->store, cutoff, wildmat ? ctl_expire_ok : NULL, (void *)wildmat, &removed) != 0) {
		ctl_printf(o, "expire: storage error after %llu articles (see the log)\n", (unsigned long long)removed);
		return 1;
	}
	log_info("holdfastctl: expired %llu articles posted before %lld in %s", (unsigned long long)removed,
	         (long long)cutoff, wildmat ? "matching groups" : "all groups");
	ctl_printf(o, "expired %llu articles posted before %s from %s%s\n", (unsigned long long)removed,
	           ctl_time(cutoff, when, sizeof when), wildmat ? "groups matching " : "all groups",
	           wildmat ? wildmat : "");
	return 0;
}

/* -------------------------------------------------------- check, feeds */

static int
ctl_check(struct news *n, int argc, char *const argv[], struct ctl_out *o)
{
	char err[256];

	if (argc != 1) {
		ctl_printf(o, "usage: holdfastctl news check\n");
		return 1;
	}
	ctl_quiesce(n);
	if (store_check(n->store, err, sizeof err) != 0) {
		log_err("holdfastctl: storage check failed: %s", err);
		ctl_printf(o, "check failed: %s\n", err);
		return 1;
	}
	ctl_printf(o, "ok\n");
	return 0;
}

static int
ctl_feeds(struct news *n, int argc, char *const argv[], struct ctl_out *o)
{
	int rc;

	if (argc != 1) {
		ctl_printf(o, "usage: holdfastctl news feeds\n");
		return 1;
	}
	rc = feed_status_text(n, o->p + o->len, o->cap - o->len);
	o->p[o->cap - 1] = '\0';
	o->len += strlen(o->p + o->len);
	/* Exactly full: feed.c may have cut its text. */
	if (o->len + 1 >= o->cap)
		o->cut = 1;
	return rc != 0;
}

/* ---------------------------------------------------------------- entry */

static const struct ctl_verb {
	const char *name;
	int (*fn)(struct news *n, int argc, char *const argv[], struct ctl_out *o);
} ctl_verbs[] = {
	{ "newgroup", ctl_newgroup },
	{ "rmgroup", ctl_rmgroup },
	{ "list", ctl_list },
	{ "group", ctl_group },
	{ "expire", ctl_expire },
	{ "check", ctl_check },
	{ "feeds", ctl_feeds },
};

int
news_control(struct worker *w, int argc, char *const argv[], char *out, size_t outlen)
{
	struct ctl_out o = { out, 0, outlen, 0 };
	struct news *n = w->data;
	int rc = 1;
	size_t i;

	if (outlen == 0)
		return 1;
	out[0] = '\0';
	if (n == NULL || n->store == NULL) {
		ctl_printf(&o, "news: not serving\n");
		ctl_finish(&o);
		return 1;
	}
	for (i = 0; argc > 0 && i < sizeof ctl_verbs / sizeof ctl_verbs[0]; i++)
		if (strcmp(argv[0], ctl_verbs[i].name) == 0)
			break;
	if (argc > 0 && i < sizeof ctl_verbs / sizeof ctl_verbs[0]) {
		rc = ctl_verbs[i].fn(n, argc, argv, &o);
	} else {
		ctl_printf(&o, "%s", news_ctl_usage);
		rc = argc == 1 && strcmp(argv[0], "help") == 0 ? 0 : 1;
	}
	ctl_finish(&o);
	return rc;
}
