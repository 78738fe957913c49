/*
 * feed_conf.c: reads feeds_file, the list of outgoing feed peers.
 *
 * Format: one peer per line, "NAME HOST:PORT WILDMAT [option=value ...]";
 * blank lines and lines starting with '#' are ignored.  NAME is
 * [A-Za-z0-9._-], at most FEED_NAME_MAX_BYTES; HOST is a name, an IPv4
 * address or "[IPv6]"; WILDMAT is an RFC 3977 wildmat of groups.
 * Options: mode=stream|ihave (default stream: MODE STREAM and
 * CHECK/TAKETHIS, falling back to IHAVE when the peer refuses streaming),
 * max_backlog=N (articles queued for the peer beyond N are dropped and
 * counted), path=NAME (the peer's Path identity when it differs from NAME;
 * an article whose Path names either is not sent back), accept=WILDMAT
 * (the groups the peer may send us: on IHAVE/TAKETHIS from the peer's
 * address the other groups are dropped, and an article left with none
 * is refused; default: all groups).
 *
 * Interface: feed_conf_parse (pure, for tests), feed_conf_load (reads the
 * file, parses, resolves HOST), feed_conf_current.  feed_conf_load runs in
 * the news service's check callback, i.e. in the supervisor as root
 * before the fork, so the file may be readable by root only; the table is
 * a static of this module that the worker inherits (as auth.c does).
 *
 * Limits: NNTP_FEED_PEERS_MAX peers, FEED_FILE_MAX_BYTES per file,
 * FEED_LINE_MAX_BYTES per line.  Every error names the file and line.
 *
 * Known weaknesses: HOST is resolved once, at configuration time (the
 * worker never blocks in a resolver); a peer that changes address needs a
 * restart.  Duplicate NAMEs are refused, duplicate addresses are not
 * (feed_conf_peer_by_addr takes the first).  Only the first resolved
 * address of HOST identifies the peer's incoming connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "nntp/feed.h"
#include "nntp/wildmat.h"

static struct feed_conf feed_table;

const struct feed_conf *
feed_conf_current(void)
{
	return &feed_table;
}

/* ss's address as 16 bytes (IPv4 as IPv4-mapped IPv6): 0, or -1. */
static int
feed_addr16(const struct sockaddr_storage *ss, uint8_t out[16])
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)ss;

		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &s4->sin_addr, 4);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)ss;

		memcpy(out, &s6->sin6_addr, 16);
		return 0;
	}
	return -1;
}

const struct feed_peer_conf *
feed_conf_peer_by_addr(const struct sockaddr_storage *ss)
{
	uint8_t a[16], b[16];
	size_t i;

	if (ss == NULL || feed_addr16(ss, a) != 0)
		return NULL;
	for (i = 0; i < feed_table.npeers; i++)
		if (feed_table.peer[i].addrlen > 0 && feed_addr16(&feed_table.peer[i].addr, b) == 0 &&
		    memcmp(a, b, sizeof a) == 0)
			return &feed_table.peer[i];
	return NULL;
}

static int
feed_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > FEED_NAME_MAX_BYTES)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

static int
feed_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* "host:port" or "[v6]:port" into p. */
static int
feed_parse_hostport(char *w, struct feed_peer_conf *p)
{
	char *colon, *host = w;
	uint64_t port;
	size_t hl;

	if ((colon = strrchr(w, ':')) == NULL)
		return -1;
	*colon = '\0';
	if (host[0] == '[') {
		hl = strlen(host);
		if (hl < 3 || host[hl - 1] != ']')
			return -1;
		host[hl - 1] = '\0';
		host++;
	} else if (strchr(host, ':') != NULL) {
		return -1;   /* IPv6 needs brackets */
	}
	hl = strlen(host);
	if (hl == 0 || hl > FEED_HOST_MAX_BYTES || strpbrk(host, "[]") != NULL)
		return -1;
	if (feed_parse_u64(colon + 1, &port) != 0 || port == 0 || port > 65535)
		return -1;
	memcpy(p->host, host, hl + 1);
	p->port = (uint16_t)port;
	return 0;
}

static int
feed_parse_line(char *line, struct feed_peer_conf *p, const char **why)
{
	char *save = NULL, *w;
	int field = 0;

	memset(p, 0, sizeof *p);
	p->mode = FEED_MODE_STREAM;
	for (w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save), field++) {
		size_t wl = strlen(w);

		switch (field) {
		case 0:
			if (!feed_name_ok(w, wl)) {
				*why = "bad peer name (letters, digits, '.', '-', '_', at most 64)";
				return -1;
			}
			memcpy(p->name, w, wl + 1);
			break;
		case 1:
			if (feed_parse_hostport(w, p) != 0) {
				*why = "expected HOST:PORT";
				return -1;
			}
			break;
		case 2:
			if (wl > FEED_WILDMAT_MAX_BYTES || !wildmat_valid(w, wl)) {
				*why = "bad wildmat";
				return -1;
			}
			memcpy(p->wildmat, w, wl + 1);
			break;
		default: {
			char *eq = strchr(w, '=');

			if (eq == NULL) {
				*why = "expected option=value";
				return -1;
			}
			*eq++ = '\0';
			if (strcmp(w, "mode") == 0) {
				if (strcmp(eq, "stream") == 0)
					p->mode = FEED_MODE_STREAM;
				else if (strcmp(eq, "ihave") == 0)
					p->mode = FEED_MODE_IHAVE;
				else {
					*why = "mode must be stream or ihave";
					return -1;
				}
			} else if (strcmp(w, "max_backlog") == 0) {
				if (feed_parse_u64(eq, &p->max_backlog) != 0 || p->max_backlog == 0) {
					*why = "max_backlog must be a positive number";
					return -1;
				}
			} else if (strcmp(w, "path") == 0) {
				size_t el = strlen(eq);

				if (!feed_name_ok(eq, el)) {
					*why = "bad path name";
					return -1;
				}
				memcpy(p->path, eq, el + 1);
			} else if (strcmp(w, "accept") == 0) {
				size_t el = strlen(eq);

				if (el > FEED_WILDMAT_MAX_BYTES || !wildmat_valid(eq, el)) {
					*why = "bad accept wildmat";
					return -1;
				}
				memcpy(p->accept, eq, el + 1);
			} else {
				*why = "unknown option (mode, max_backlog, path, accept)";
				return -1;
			}
			break;
		}
		}
	}
	if (field < 3) {
		*why = "expected NAME HOST:PORT WILDMAT [option=value ...]";
		return -1;
	}
	return 0;
}

int
feed_conf_parse(const char *fname, const char *text, size_t len, struct feed_conf *out, char *err, size_t errlen)
{
	char line[FEED_LINE_MAX_BYTES + 1];
	size_t pos = 0, i;
	unsigned lineno = 0;

	memset(out, 0, sizeof *out);
	if (len > FEED_FILE_MAX_BYTES) {
		snprintf(err, errlen, "feeds_file %s: bigger than %d bytes", fname, FEED_FILE_MAX_BYTES);
		return -1;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *why = NULL;
		char *s;

		lineno++;
		if (ll > FEED_LINE_MAX_BYTES) {
			snprintf(err, errlen, "feeds_file %s: line %u: longer than %d bytes", fname, lineno,
			         FEED_LINE_MAX_BYTES);
			return -1;
		}
		memcpy(line, text + pos, ll);
		line[ll] = '\0';
		pos += ll + (nl ? 1 : 0);
		if (memchr(line, '\0', ll) != NULL) {
			snprintf(err, errlen, "feeds_file %s: line %u: NUL byte", fname, lineno);
			return -1;
		}
		if (ll > 0 && line[ll - 1] == '\r')
			line[--ll] = '\0';
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		if (*s == '\0' || *s == '#')
			continue;
		if (out->npeers == NNTP_FEED_PEERS_MAX) {
			snprintf(err, errlen, "feeds_file %s: line %u: more than %d peers", fname, lineno,
			         NNTP_FEED_PEERS_MAX);
			return -1;
		}
		if (feed_parse_line(s, &out->peer[out->npeers], &why) != 0) {
			snprintf(err, errlen, "feeds_file %s: line %u: %s", fname, lineno, why);
			return -1;
		}
		for (i = 0; i < out->npeers; i++)
			if (strcmp(out->peer[i].name, out->peer[out->npeers].name) == 0) {
				snprintf(err, errlen, "feeds_file %s: line %u: peer %s named twice", fname, lineno,
				         out->peer[i].name);
				return -1;
			}
		out->npeers++;
	}
	return 0;
}

int
feed_conf_load(const char *path, char *err, size_t errlen)
{
	static struct feed_conf fc;
	char *text;
	size_t len = 0, i;
	ssize_t r;
	int fd, rc = -1;

	if (path == NULL || path[0] == '\0') {
		memset(&feed_table, 0, sizeof feed_table);
		return 0;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(err, errlen, "feeds_file %s: %s", path, strerror(errno));
		return -1;
	}
	if ((text = malloc(FEED_FILE_MAX_BYTES + 1)) == NULL) {
		snprintf(err, errlen, "feeds_file %s: out of memory", path);
		close(fd);
		return -1;
	}
	while (len <= FEED_FILE_MAX_BYTES && (r = read(fd, text + len, FEED_FILE_MAX_BYTES + 1 - len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "feeds_file %s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)r;
	}
	if (feed_conf_parse(path, text, len, &fc, err, errlen) != 0)
		goto out;
	for (i = 0; i < fc.npeers; i++) {
		struct feed_peer_conf *p = &fc.peer[i];
		struct addrinfo hints, *ai = NULL;
		char port[8];
		int g;

		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		snprintf(port, sizeof port, "%u", (unsigned)p->port);
		if ((g = getaddrinfo(p->host, port, &hints, &ai)) != 0 || ai == NULL) {
			snprintf(err, errlen, "feeds_file %s: peer %s: cannot resolve %s: %s", path, p->name, p->host,
			         gai_strerror(g));
			goto out;
		}
		memcpy(&p->addr, ai->ai_addr, ai->ai_addrlen);
		p->addrlen = ai->ai_addrlen;
		freeaddrinfo(ai);
	}
	feed_table = fc;
	rc = 0;
out:
	free(text);
	close(fd);
	return rc;
}
