/*
 * auth.c: who may do what on the news service: address-based access
 * (allow_read, allow_post, allow_feed: CIDR prefixes or "*"), AUTHINFO
 * USER/PASS (RFC 4643) against auth_file, and STARTTLS (RFC 4642).
 *
 * auth_file: lines "user:sha256-hex-of-password"; blank lines and lines
 * starting with '#' are ignored.  It is read by news_auth_check, i.e. in
 * the service's check callback, which runs in the supervisor as root
 * before any fork; the table is a static of this module, so the worker
 * inherits it at fork and the file itself may stay readable by root only
 * (the worker has already dropped privileges when start() runs).  A
 * reload re-reads it; a worker restarted after a crash inherits the
 * table of the last successful check.
 *
 * Access: the address grants read/post/feed; a successful AUTHINFO grants
 * read and post (never feed: peers are configured by address).  AUTHINFO
 * is refused with 483 unless the connection is under TLS or
 * auth_plaintext is set; after NNTP_AUTH_ATTEMPTS_MAX failures the
 * connection is closed.
 *
 * Known weaknesses: unsalted SHA-256 hashes are what the configuration
 * format specifies; a salted, slow hash (crypt(3) yescrypt) would be
 * better against a stolen file.  Verification time does not depend on
 * the password, but an unknown user is checked against a dummy hash so
 * that it costs the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "conn.h"
#include "line.h"
#include "log.h"
#include "nntp/news.h"
#include "nntp/nntp_util.h"

struct auth_user {
	char name[NEWS_AUTH_USER_MAX_BYTES + 1];
	unsigned char hash[32];
};

static struct auth_user *auth_users;
static size_t auth_nusers;
static int auth_loaded;

int
news_auth_available(void)
{
	return auth_loaded;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
news_auth_check(const struct news_conf *cf, char *err, size_t errlen)
{
	struct auth_user *users = NULL;
	size_t nusers = 0, len = 0;
	char *text = NULL;
	unsigned lineno = 0;
	char *line, *save = NULL;
	ssize_t r;
	int fd;

	free(auth_users);
	auth_users = NULL;
	auth_nusers = 0;
	auth_loaded = 0;
	if (cf->auth_file == NULL || cf->auth_file[0] == '\0')
		return 0;
	if ((fd = open(cf->auth_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(err, errlen, "auth_file %s: %s", cf->auth_file, strerror(errno));
		return -1;
	}
	if ((text = malloc(NEWS_AUTH_FILE_MAX_BYTES + 1)) == NULL ||
	    (users = calloc(NEWS_AUTH_USERS_MAX, sizeof *users)) == NULL) {
		snprintf(err, errlen, "auth_file: out of memory");
		goto fail;
	}
	while ((r = read(fd, text + len, NEWS_AUTH_FILE_MAX_BYTES + 1 - len)) > 0)
		len += (size_t)r;
	if (r < 0 || len > NEWS_AUTH_FILE_MAX_BYTES) {
		snprintf(err, errlen, "auth_file %s: %s", cf->auth_file, r < 0 ? strerror(errno) : "too big");
		goto fail;
	}
	text[len] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon;
		size_t ul, i;

		lineno++;
		line[strcspn(line, "\r")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if ((colon = strchr(line, ':')) == NULL || (ul = (size_t)(colon - line)) == 0 ||
		    ul > NEWS_AUTH_USER_MAX_BYTES || strlen(colon + 1) != 64 || strpbrk(line, " \t") != NULL) {
			snprintf(err, errlen, "auth_file %s: line %u: expected user:sha256hex", cf->auth_file, lineno);
			goto fail;
		}
		if (nusers == NEWS_AUTH_USERS_MAX) {
			snprintf(err, errlen, "auth_file %s: more than %d users", cf->auth_file, NEWS_AUTH_USERS_MAX);
			goto fail;
		}
		memcpy(users[nusers].name, line, ul);
		users[nusers].name[ul] = '\0';
		for (i = 0; i < 32; i++) {
			int hi = hexval(colon[1 + 2 * i]), lo = hexval(colon[2 + 2 * i]);

			if (hi < 0 || lo < 0) {
				snprintf(err, errlen, "auth_file %s: line %u: bad hex", cf->auth_file, lineno);
				goto fail;
			}
			users[nusers].hash[i] = (unsigned char)(hi << 4 | lo);
		}
		nusers++;
	}
	close(fd);
	free(text);
	auth_users = users;
	auth_nusers = nusers;
	auth_loaded = 1;
	return 0;
fail:
	close(fd);
	free(text);
	free(users);
	return -1;
}

int
news_auth_verify(const char *user, const char *pass)
{
	static const unsigned char dummy[32];
	unsigned char h[32];
	unsigned int hl = 0;
	const unsigned char *want = dummy;
	size_t i;
	int found = 0;

	for (i = 0; i < auth_nusers; i++)
		if (strcmp(auth_users[i].name, user) == 0) {
			want = auth_users[i].hash;
			found = 1;
			break;
		}
	if (EVP_Digest(pass, strlen(pass), h, &hl, EVP_sha256(), NULL) != 1 || hl != sizeof h)
		return 0;
	return CRYPTO_memcmp(h, want, sizeof h) == 0 && found;
}

/* --------------------------------------------------------------- commands */

int
news_cmd_authinfo(struct news_conn *nc, int argc, char **argv)
{
	int tls = conn_is_tls(nc->c);

	if (argc != 3 || (!nntp_word_eq(argv[1], "USER") && !nntp_word_eq(argv[1], "PASS"))) {
		news_error(nc, "syntax");
		return news_reply(nc, "501 Syntax: AUTHINFO USER name | AUTHINFO PASS password");
	}
	if (nc->authenticated)
		return news_reply(nc, "502 Already authenticated");
	if (!news_auth_available())
		return news_reply(nc, "502 Authentication not available");
	/* RFC 8054 2.2.2: a password must not share a compressor's history
	 * with text the peer chooses (CRIME). */
	if (conn_is_compressed(nc->c))
		return news_reply(nc, "502 Compression active, authentication not allowed");
	if (!tls && !nc->n->cf->auth_plaintext) {
		conn_reject(nc->c, "auth_needs_tls");
		return news_reply(nc, "483 Encryption required (use STARTTLS)");
	}
	if (nntp_word_eq(argv[1], "USER")) {
		if (strlen(argv[2]) > NEWS_AUTH_USER_MAX_BYTES) {
			nc->user_given = 0;
			conn_reject(nc->c, "auth_failed");
			nc->auth_failures++;
			goto failed;
		}
		snprintf(nc->auth_user, sizeof nc->auth_user, "%s", argv[2]);
		nc->user_given = 1;
		return news_reply(nc, "381 Password required");
	}
	if (!nc->user_given)
		return news_reply(nc, "482 Authentication commands issued out of sequence");
	nc->user_given = 0;
	if (news_auth_verify(nc->auth_user, argv[2])) {
		nc->authenticated = 1;
		nc->auth_via_tls = tls;
		nc->can_read = 1;
		nc->can_post = 1;
		log_info("news: %s authenticated as %s", conn_peer_name(nc->c), nc->auth_user);
		return news_reply(nc, "281 Authentication accepted");
	}
	conn_reject(nc->c, "auth_failed");
	nc->auth_failures++;
failed:
	{
		static struct log_rate rl;

		log_rated(&rl, LOG_LVL_WARN, "news: authentication failed from %s", conn_peer_name(nc->c));
	}
	if (nc->auth_failures >= NNTP_AUTH_ATTEMPTS_MAX) {
		news_reply(nc, "481 Authentication failed, closing connection");
		news_flush(nc);
		nc->quitting = 1;
		conn_close_after_flush(nc->c);
		return 0;
	}
	return news_reply(nc, "481 Authentication failed");
}

int
news_cmd_starttls(struct news_conn *nc, int argc, char **argv)
{
	if (nc->n->w->tls == NULL)
		return news_reply(nc, "580 TLS not available");
	/* RFC 8054 2.2.2: TLS cannot go under compression already on. */
	if (conn_is_tls(nc->c) || nc->authenticated || conn_is_compressed(nc->c))
		return news_reply(nc, "502 STARTTLS not allowed now");
	if (news_reply(nc, "382 Continue with TLS negotiation") != 0 || news_flush(nc) != 0)
		return -1;
	/* RFC 4642 2.2.2: everything known before TLS is forgotten. */
	nc->user_given = 0;
	line_reset(&nc->lr);
	if (conn_starttls(nc->c) != 0)
		return -1;
	return 0;
}
