/*
 * nntp_limits.h: the news service's limits, each with its unit in its name
 * and its reason.  Article limits are defaults of configuration keys.
 */
#ifndef HF_NNTP_LIMITS_H
#define HF_NNTP_LIMITS_H

#define NNTP_COMMAND_MAX_BYTES       512      /* RFC 3977 3.1: a command line, CRLF included */
#define NNTP_ARGS_MAX                16       /* words on a command line (RFC 3977 allows fewer in practice) */
#define NNTP_MSGID_MAX_BYTES         250      /* RFC 3977 3.6 / RFC 5536 3.1.3, angle brackets included */
#define NNTP_GROUP_MAX_BYTES         128      /* a newsgroup name (RFC 5536 3.1.4 suggests <= 80 per component) */
#define NNTP_GROUPS_PER_ARTICLE_MAX  32       /* Newsgroups entries; more is a spam signature */
#define NNTP_ARTICLE_MAX_BYTES       (1024 * 1024)  /* default article_max: whole article, CRLFs included, after dot-unstuffing */
#define NNTP_HEADER_LINE_MAX_BYTES   998      /* RFC 5322 2.1.1: a physical line, CRLF excluded */
#define NNTP_HEADER_FIELD_MAX_BYTES  (32 * 1024)  /* one unfolded header field */
#define NNTP_HEADER_FIELDS_MAX       128      /* header fields per article */
#define NNTP_HEADER_MAX_BYTES        (64 * 1024)  /* the whole header section */
#define NNTP_BODY_LINE_MAX_BYTES     (64 * 1024)  /* a body line; RFC 5536 asks for 998, real feeds exceed it */
#define NNTP_PATH_MAX_BYTES          4096     /* Path header after we prepend ourselves */
#define NNTP_ERRORS_MAX              20       /* protocol errors per session before 400 */
#define NNTP_AUTH_ATTEMPTS_MAX       3        /* AUTHINFO failures per session */
#define NNTP_PIPELINE_REPLIES_MAX    64       /* replies owed before we stop reading (back-pressure) */
#define NNTP_STREAM_INFLIGHT_MAX     1024     /* TAKETHIS/CHECK awaiting commit per connection */
#define NNTP_COMMIT_BATCH_MAX        512      /* articles per group commit */
#define NNTP_FEED_PEERS_MAX          16       /* outgoing feed peers (feeds_file): one connection each from the worker */

#endif
