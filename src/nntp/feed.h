/*
 * feed.h: outgoing news feeds.  feed_conf.c reads feeds_file (one peer
 * per line) in the supervisor; feed.c queues accepted articles for the
 * peers that want them (durably, in the store's feed queue, in the same
 * batch as the article) and sends them from the worker's loop with
 * CHECK/TAKETHIS (RFC 4644) or IHAVE (RFC 3977 6.3.2).
 */
#ifndef HF_NNTP_FEED_H
#define HF_NNTP_FEED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nntp_limits.h"

#define FEED_NAME_MAX_BYTES      64           /* a peer's NAME or path= alias (Path entries are short) */
#define FEED_HOST_MAX_BYTES      255          /* RFC 1035 2.3.4: a domain name */
#define FEED_WILDMAT_MAX_BYTES   1024         /* a peer's group wildmat */
#define FEED_FILE_MAX_BYTES      (64 * 1024)  /* feeds_file: NNTP_FEED_PEERS_MAX lines fit many times over */
#define FEED_LINE_MAX_BYTES      2048         /* one line of feeds_file */

enum feed_mode { FEED_MODE_STREAM, FEED_MODE_IHAVE };

struct feed_peer_conf {
	char name[FEED_NAME_MAX_BYTES + 1];
	char path[FEED_NAME_MAX_BYTES + 1];   /* pathhost alias ("" if none) */
	char host[FEED_HOST_MAX_BYTES + 1];
	uint16_t port;
	char wildmat[FEED_WILDMAT_MAX_BYTES + 1];
	char accept[FEED_WILDMAT_MAX_BYTES + 1];  /* groups it may send us ("": all) */
	enum feed_mode mode;
	uint64_t max_backlog;                 /* 0: unbounded */
	struct sockaddr_storage addr;         /* resolved by feed_conf_load */
	socklen_t addrlen;
};

struct feed_conf {
	struct feed_peer_conf peer[NNTP_FEED_PEERS_MAX];
	size_t npeers;
};

/* feed_conf.c.  Parses text (len bytes, the contents of file fname) into
 * out.  0, or -1 with err naming the file and line.  Does not resolve. */
int feed_conf_parse(const char *fname, const char *text, size_t len, struct feed_conf *out, char *err,
                    size_t errlen);
/* Reads, parses and resolves path (empty or NULL: no feeds) into the
 * module's table, which the worker inherits at fork.  0 or -1 with err;
 * on failure the previous table is kept. */
int feed_conf_load(const char *path, char *err, size_t errlen);
/* The table of the last successful feed_conf_load (npeers 0 if none). */
const struct feed_conf *feed_conf_current(void);
/* The peer of the current table whose resolved address equals ss (the
 * port is ignored; an IPv4-mapped IPv6 address equals its IPv4 one), or
 * NULL when ss belongs to no listed peer. */
const struct feed_peer_conf *feed_conf_peer_by_addr(const struct sockaddr_storage *ss);

/* feed.c */
struct news;
int feed_start(struct news *n);
void feed_stop(struct news *n);
/* An article was staged (store_add): queue it for every peer whose
 * wildmat matches one of groups and whose name is not in path (the Path
 * header's value, "!"-separated). */
void feed_article(struct news *n, const char *const *groups, size_t ngroups, const char *path, size_t pathlen,
                  const char *msgid);
/* One line per peer: counters and state, for "holdfastctl news feeds".
 * Always NUL-terminates out; returns 0. */
int feed_status_text(struct news *n, char *out, size_t outlen);

#endif
