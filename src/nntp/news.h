/*
 * news.h: the news service's internal structures, shared by the files of
 * the protocol engine (news.c, cmd_info.c, cmd_reader.c, cmd_post.c,
 * auth.c).  Nothing outside src/nntp includes this file except
 * src/supervisor/services.c, for news_service.
 *
 * Lifetimes: struct news lives in the worker region; struct news_conn,
 * its staging output buffer and its queued replies live in the
 * connection region; an article being received, and any big response
 * being produced, live in a request region under the connection region
 * that is released after the reply in every outcome.
 */
#ifndef HF_NNTP_NEWS_H
#define HF_NNTP_NEWS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "conf.h"
#include "line.h"
#include "service.h"
#include "timer.h"
#include "nntp_limits.h"
#include "nntp_util.h"

struct conn;
struct region;
struct store;

extern const struct service news_service;

/* Room kept in the connection region beyond article_max for the copy we
 * build with our own headers (Path, Xref, Injection-*), and buffer growth. */
#define NEWS_ARTICLE_SLACK_BYTES     (64 * 1024)
/* Staged output is handed to conn_write once it reaches this size, or a
 * quarter of the write budget if that is smaller (one write for a batch
 * of pipelined replies, bounded chunks for big ones). */
#define NEWS_OUT_FLUSH_BYTES         (16 * 1024)
/* A connection keeps this much of its budget free while it queues
 * replies that wait for a commit; below it, it stops reading. */
#define NEWS_QUEUE_RESERVE_BYTES     (4 * 1024)
/* Poll interval while a big response waits for its write queue to drain
 * (conn has no drain callback for a connection without pending input). */
#define NEWS_DRAIN_POLL_MS           2
/* Worker-wide set of message-ids being received or promised (CHECK 238),
 * so that two feeds do not both send one article. */
#define NEWS_INFLIGHT_BUCKETS        1024
#define NEWS_INFLIGHT_WORKER_MAX     (16 * 1024)
/* Expiry runs this often when expire_age is set. */
#ifndef NEWS_EXPIRE_INTERVAL_MS
#define NEWS_EXPIRE_INTERVAL_MS      (3600 * 1000)
#endif
/* Accounts in auth_file, and its size. */
#define NEWS_AUTH_USERS_MAX          1024
#define NEWS_AUTH_FILE_MAX_BYTES     (256 * 1024)
#define NEWS_AUTH_USER_MAX_BYTES     64
struct news_conf {
	char *pathhost;
	uint64_t article_max;
	struct conf_list create_groups;
	struct conf_list moderated_groups;
	struct conf_list allow_read;
	struct conf_list allow_post;
	struct conf_list allow_feed;
	char *auth_file;
	int auth_plaintext;
	char *feeds_file;                   /* outgoing feed peers (feed_conf.c); empty: none */
	struct conf_list control_authorities;
	uint64_t commit_delay;
	uint64_t expire_age;
	struct conf_list expire_groups;     /* wildmat elements; expiry applies to matching groups */
};

struct news_inflight {
	struct news_inflight *next;       /* bucket chain */
	struct news_inflight *conn_next;  /* the owner's list */
	struct news_conn *owner;
	uint32_t hash;
	uint8_t len;
	uint8_t promised;                 /* CHECK said 238; no TAKETHIS yet */
	char msgid[];
};

struct news {
	struct worker *w;
	const struct news_conf *cf;
	struct server *server;
	struct store *store;
	struct nntp_acl_list acl_read, acl_post, acl_feed;
	struct news_conn *conns;          /* every live connection */
	struct timer commit_timer;
	struct timer expire_timer;
	struct news_inflight *inflight[NEWS_INFLIGHT_BUCKETS];
	size_t ninflight;
	uint32_t hash_seed;
	uint64_t conn_budget;             /* each connection region's budget */
	struct feed *feed;                /* outgoing feeds (feed.c), or NULL */
};

enum news_state {
	NEWS_CMD,          /* reading command lines */
	NEWS_DATA,         /* reading an article's lines */
	NEWS_EAT,          /* discarding an article until its "." line */
};

enum news_data_kind { NEWS_DATA_POST, NEWS_DATA_IHAVE, NEWS_DATA_TAKETHIS };

/* A reply owed to the peer, in order.  Waiting ones block those behind. */
enum news_reply_kind {
	NEWS_REPLY_TEXT,       /* line is ready */
	NEWS_REPLY_POST,       /* 240 after commit, 441 if it fails */
	NEWS_REPLY_IHAVE,      /* 235 / 436 */
	NEWS_REPLY_TAKETHIS,   /* 239 / 439 */
};

struct news_reply {
	struct news_reply *next;
	enum news_reply_kind kind;
	int waiting;                      /* staged in the open batch */
	int failed;                       /* its commit failed */
	struct news_inflight *inflight;   /* released with the reply */
	char line[];                      /* reply text without CRLF, or the message-id */
};

/* A big multi-line response produced in chunks across drains. */
enum news_job_kind {
	NEWS_JOB_NONE,
	NEWS_JOB_TEXT,      /* text[off..len) dot-stuffed, then "." (ARTICLE, HEAD, BODY) */
	NEWS_JOB_OVER,      /* OVER/XOVER over [next, hi] */
	NEWS_JOB_HDR,       /* HDR over [next, hi] */
	NEWS_JOB_LISTGROUP, /* numbers over [next, hi] */
	NEWS_JOB_GROUPS,    /* LIST ACTIVE/ACTIVE.TIMES/NEWSGROUPS, NEWGROUPS: names after last */
};

enum news_groups_fmt { NEWS_GROUPS_ACTIVE, NEWS_GROUPS_TIMES, NEWS_GROUPS_NEWSGROUPS, NEWS_GROUPS_NEWGROUPS };

struct news_job {
	enum news_job_kind kind;
	struct region *req;               /* holds text; released when the job ends */
	const uint8_t *text;
	size_t off, len;
	int bol;                          /* at the beginning of a line (dot-stuffing) */
	uint64_t next, hi;
	char group[NNTP_GROUP_MAX_BYTES + 1];
	char field[64];                   /* HDR field name */
	char last[NNTP_GROUP_MAX_BYTES + 1]; /* LIST: last name sent */
	char wildmat[NNTP_COMMAND_MAX_BYTES];
	enum news_groups_fmt fmt;
	int64_t since;
};

struct news_conn {
	struct news *n;
	struct conn *c;
	struct news_conn *prev, *next;    /* news->conns */
	struct line_reader lr;            /* commands */
	struct line_reader dlr;           /* article data */
	enum news_state state;
	struct buf out;                   /* staged replies, one conn_write per batch */
	size_t flush_at;                  /* staged bytes that trigger a conn_write */
	unsigned errors;
	unsigned auth_failures;
	int ready;
	/* Access, from the address and AUTHINFO. */
	int can_read, can_post, can_feed;
	int authenticated;
	int auth_via_tls;
	char auth_user[NEWS_AUTH_USER_MAX_BYTES + 1];
	int user_given;
	int stream_mode;
	int quitting;
	/* Current group and article (RFC 3977 6.1.1). */
	char group[NNTP_GROUP_MAX_BYTES + 1];
	int have_group;
	uint64_t cur;                     /* 0: no current article */
	/* Article reception. */
	enum news_data_kind data_kind;
	struct region *art_region;
	struct buf art;
	int art_eat_err;                  /* why an article is being eaten */
	char data_msgid[NNTP_MSGID_MAX_BYTES + 1];
	char eat_reply[NNTP_MSGID_MAX_BYTES + 64]; /* reply after eating, if set */
	struct news_inflight *data_inflight;
	/* Replies owed in order; tail for appending. */
	struct news_reply *rq_head, *rq_tail;
	size_t rq_len;
	size_t rq_waiting;
	int paused_for_commit;
	struct news_inflight *inflight;   /* owned entries */
	size_t ninflight;
	/* A big response in progress. */
	struct news_job job;
	struct timer drain_timer;
};

/* news.c: replies and output. */
int news_out(struct news_conn *nc, const char *p, size_t n);
int news_printf(struct news_conn *nc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A single-line reply, queued behind replies waiting for a commit. */
int news_reply(struct news_conn *nc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line of a multi-line block, dot-stuffed, CRLF added. */
int news_out_line(struct news_conn *nc, const char *p, size_t n);
int news_flush(struct news_conn *nc);
/* 1 once queued plus staged output reach half the write budget: a job
 * step stops there and resumes when the queue drains. */
int news_out_full(struct news_conn *nc);
/* Counts a protocol error (reject reason) against the error budget. */
void news_error(struct news_conn *nc, const char *reason);
/* Queues a reply that waits for the next commit. */
int news_reply_pending(struct news_conn *nc, enum news_reply_kind kind, const char *msgid,
                       struct news_inflight *inf);
/* Arms or runs the group commit after store_add. */
void news_commit_soon(struct news *n);
/* Commits the open batch now and releases every acknowledgement that
 * waited for it (sent as failures if the commit failed). */
void news_commit_run(struct news *n);
/* Begins receiving an article. */
int news_data_begin(struct news_conn *nc, enum news_data_kind kind, const char *msgid);
/* Discards an article that follows (TAKETHIS refused before its data);
 * reply is sent once its "." line arrived. */
void news_eat_begin(struct news_conn *nc, enum news_data_kind kind, const char *reply);
/* Starts a job; runs as far as output room allows. */
void news_job_start(struct news_conn *nc);
void news_job_end(struct news_conn *nc);
/* In-flight message-ids (worker-wide). */
int news_inflight_has(struct news *n, const char *msgid, size_t len);
struct news_inflight *news_inflight_add(struct news_conn *nc, const char *msgid, size_t len);
void news_inflight_del(struct news_inflight *inf);
/* Wall-clock seconds. */
int64_t news_now(void);

/* cmd_*.c: command handlers; argv[0] is the command word. */
typedef int (*news_cmd_fn)(struct news_conn *nc, int argc, char **argv);
int news_cmd_capabilities(struct news_conn *nc, int argc, char **argv);
int news_cmd_help(struct news_conn *nc, int argc, char **argv);
int news_cmd_date(struct news_conn *nc, int argc, char **argv);
int news_cmd_mode(struct news_conn *nc, int argc, char **argv);
int news_cmd_list(struct news_conn *nc, int argc, char **argv);
int news_cmd_newgroups(struct news_conn *nc, int argc, char **argv);
int news_cmd_newnews(struct news_conn *nc, int argc, char **argv);
int news_cmd_quit(struct news_conn *nc, int argc, char **argv);
int news_cmd_group(struct news_conn *nc, int argc, char **argv);
int news_cmd_listgroup(struct news_conn *nc, int argc, char **argv);
int news_cmd_last(struct news_conn *nc, int argc, char **argv);
int news_cmd_next(struct news_conn *nc, int argc, char **argv);
int news_cmd_article(struct news_conn *nc, int argc, char **argv);
int news_cmd_over(struct news_conn *nc, int argc, char **argv);
int news_cmd_hdr(struct news_conn *nc, int argc, char **argv);
int news_cmd_post(struct news_conn *nc, int argc, char **argv);
int news_cmd_ihave(struct news_conn *nc, int argc, char **argv);
int news_cmd_check(struct news_conn *nc, int argc, char **argv);
int news_cmd_takethis(struct news_conn *nc, int argc, char **argv);
int news_cmd_authinfo(struct news_conn *nc, int argc, char **argv);
int news_cmd_starttls(struct news_conn *nc, int argc, char **argv);
int news_cmd_compress(struct news_conn *nc, int argc, char **argv);

/* cmd_reader.c: one step of a reader job; 1 done, 0 more, -1 error. */
int news_job_step_reader(struct news_conn *nc);
/* cmd_info.c: one step of a group-list job. */
int news_job_step_groups(struct news_conn *nc);

/* cmd_post.c: a complete article arrived (nc->art) or was eaten (err:
 * an enum article_err, or NEWS_EAT_BUDGET when memory ran out). */
#define NEWS_EAT_BUDGET (-2)
int news_article_done(struct news_conn *nc, int eaten_err);

/* news_ctl.c: "holdfastctl news ..." (service.h's control). */
int news_control(struct worker *w, int argc, char *const argv[], char *out, size_t outlen);
/* 1 if group matches the wildmat whose elements are the list's items
 * (last match wins, "!" negates), else 0. */
int news_wildmat_list_match(const struct conf_list *l, const char *group);

/* auth.c */
int news_auth_check(const struct news_conf *cf, char *err, size_t errlen);
int news_auth_verify(const char *user, const char *pass);
int news_auth_available(void);

#endif
