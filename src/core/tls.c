/*
 * tls.c: server-side TLS over OpenSSL 3 for non-blocking sockets (see
 * tls.h).
 *
 * Role: the only file that speaks OpenSSL's I/O dialect.  It turns
 * SSL_get_error's answers into the four enum tls_result values, so that
 * conn.c needs no OpenSSL headers and no knowledge of its error queue.
 *
 * Interface: tls_ctx_new/tls_ctx_free per configured certificate (loaded
 * before the worker drops privileges); tls_new/tls_free per connection
 * (hung on the connection's region as a cleanup; tls_free does not close
 * the fd, the region's fd cleanup does); tls_handshake, tls_read,
 * tls_write, tls_shutdown each return at once.
 *
 * Choices, and why:
 *   - TLS 1.2 minimum, OpenSSL's default cipher list and security level:
 *     RDP clients (xfreerdp, mstsc) must keep working, so nothing beyond
 *     the defaults is removed.
 *   - No renegotiation (client-initiated renegotiation is a CPU DoS), no
 *     compression (CRIME), server cipher preference.
 *   - No session cache and no tickets: a worker is recycled and would
 *     lose the cache anyway, tickets would need a key shared across
 *     workers, and TLS 1.3 tickets would be one more write after the
 *     handshake that a non-blocking caller has to drive.  Every handshake
 *     is therefore a full one; the handshake timer and the connection
 *     limits bound what a client can make us compute.
 *   - SSL_MODE_RELEASE_BUFFERS: an idle connection gives its 16 KiB read
 *     and write buffers back (STYLE.md: idle connections hold no buffer).
 *   - Partial writes and moving write buffers, so that conn.c can write
 *     from its queue and compact the queue between retries.
 *   - The error queue is cleared before every SSL_* call (SSL_get_error
 *     is only meaningful on a clean queue) and after every failure, so one
 *     peer's error never turns another connection's WANT_READ into a
 *     failure.
 *   - A TCP EOF without close_notify is TLS_EOF, as tls.h promises:
 *     OpenSSL 3 reports it as SSL_R_UNEXPECTED_EOF_WHILE_READING, 1.1 as
 *     SSL_ERROR_SYSCALL with nothing queued.  Our protocols frame their
 *     own messages, so a truncation is seen by the protocol parser.
 *   - Nothing here logs: every failure can be caused by a peer, and the
 *     caller rate-limits.  The reason goes to tls_last_error().
 *   - A key protected by a passphrase is refused, not prompted for: a
 *     daemon has no terminal, and OpenSSL would otherwise read /dev/tty.
 *
 * Limits: one certificate (chain) and key per context; PEM only.
 * tls_read and tls_write move at most INT_MAX bytes per call.  Calling
 * them with n == 0 returns 0 without I/O.
 *
 * Known weaknesses: OpenSSL's allocations (tens of KiB per connection
 * while the handshake runs, a few KiB once its buffers are released) are
 * not charged to our regions; they are bounded by the record size and the
 * connection limits, not by the connection's budget.  tls_shutdown must not be called while a tls_write is pending
 * (after TLS_WANT_WRITE, before the retry succeeded): OpenSSL cannot send
 * the alert behind a half-written record and the call fails with TLS_FAIL.
 * The socket BIO writes with write(2), so SIGPIPE must be ignored by the
 * process (the worker does).  TLS 1.3 KeyUpdate requests from the peer are
 * answered without limit; they cost us one small record each and are paced
 * by our reading.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"

#define TLS_ERR_MAX_BYTES       128  /* an operation name and one OpenSSL reason */
#define TLS_OSSL_ERR_MAX_BYTES  256  /* ERR_error_string_n: 256 never truncates */

struct tls_ctx {
	SSL_CTX *ssl_ctx;
};

/* What is left of a connection after something other than data arrived. */
enum tls_state {
	TLS_STATE_OPEN,
	TLS_STATE_EOF,     /* TCP EOF without close_notify: OpenSSL refuses further I/O */
	TLS_STATE_FAILED,  /* a fatal error: OpenSSL forbids even SSL_shutdown */
};

struct tls {
	SSL *ssl;
	enum tls_state state;
	int shutdown_sent;      /* SSL_shutdown already queued and flushed our close_notify */
	char err[TLS_ERR_MAX_BYTES];
};

static void tls_set_err(struct tls *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
tls_set_err(struct tls *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->err, sizeof t->err, fmt, ap);
	va_end(ap);
}

/* Fills err with "what path: [note: ]OpenSSL's first queued error" and
 * empties the queue.  The first error is the root cause (fopen's errno,
 * "no start line"); later ones only say which wrapper gave up. */
static void
tls_ctx_err(char *err, size_t errlen, const char *what, const char *path, const char *note)
{
	char reason[TLS_OSSL_ERR_MAX_BYTES];
	unsigned long e = ERR_peek_error();

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof reason);
	else
		snprintf(reason, sizeof reason, "unknown error");
	if (err && errlen > 0)
		snprintf(err, errlen, "%s %s: %s%s%s", what, path, note ? note : "", note ? ": " : "", reason);
	ERR_clear_error();
}

/* OpenSSL's default callback prompts on the terminal; a daemon has none,
 * and start-up must fail rather than hang.  -1 is "could not read a
 * passphrase" (0 would try the empty passphrase).  u, when set, notes
 * that a passphrase was wanted, for a clearer message. */
static int
tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	if (u)
		*(int *)u = 1;
	return -1;
}

struct tls_ctx *
tls_ctx_new(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	struct tls_ctx *ctx;
	SSL_CTX *sc;
	int wanted_passphrase = 0, ret;

	if (err && errlen > 0)
		err[0] = '\0';
	if (!cert_path || !key_path || !cert_path[0] || !key_path[0]) {
		if (err && errlen > 0)
			snprintf(err, errlen, "certificate and key paths are both required");
		return NULL;
	}
	/* Whatever an earlier caller left queued is not about our files. */
	ERR_clear_error();
	if ((ctx = calloc(1, sizeof *ctx)) == NULL) {
		if (err && errlen > 0)
			snprintf(err, errlen, "certificate %s: out of memory", cert_path);
		return NULL;
	}
	if ((sc = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_ctx_err(err, errlen, "SSL_CTX_new for", cert_path, NULL);
		goto fail;
	}
	ctx->ssl_ctx = sc;
	if (SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION) != 1) {
		tls_ctx_err(err, errlen, "TLS 1.2 minimum for", cert_path, NULL);
		goto fail;
	}
	SSL_CTX_set_options(sc, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(sc, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                 SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
	/* SSL_OP_NO_TICKET alone still lets TLS 1.3 send stateful tickets. */
	if (SSL_CTX_set_num_tickets(sc, 0) != 1) {
		tls_ctx_err(err, errlen, "no session tickets for", cert_path, NULL);
		goto fail;
	}
	SSL_CTX_set_default_passwd_cb(sc, tls_no_passphrase);

	if (SSL_CTX_use_certificate_chain_file(sc, cert_path) != 1) {
		tls_ctx_err(err, errlen, "certificate", cert_path, NULL);
		goto fail;
	}
	SSL_CTX_set_default_passwd_cb_userdata(sc, &wanted_passphrase);
	ret = SSL_CTX_use_PrivateKey_file(sc, key_path, SSL_FILETYPE_PEM);
	/* &wanted_passphrase must not outlive this call inside the context. */
	SSL_CTX_set_default_passwd_cb_userdata(sc, NULL);
	if (ret != 1) {
		tls_ctx_err(err, errlen, "key", key_path,
		            wanted_passphrase ? "passphrase-protected keys are not supported" : NULL);
		goto fail;
	}
	if (SSL_CTX_check_private_key(sc) != 1) {
		/* Both files fine, from different pairs.  (OpenSSL 3 usually
		 * catches this already while loading the key.) */
		tls_ctx_err(err, errlen, "key", key_path, "does not match the certificate");
		goto fail;
	}
	return ctx;

fail:
	ERR_clear_error();
	tls_ctx_free(ctx);
	return NULL;
}

void
tls_ctx_free(struct tls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

struct tls *
tls_new(struct tls_ctx *ctx, int fd)
{
	struct tls *t;

	if (!ctx) {
		errno = EINVAL;
		return NULL;
	}
	if ((t = calloc(1, sizeof *t)) == NULL)
		return NULL;
	ERR_clear_error();
	/* SSL_set_fd's socket BIO does not own the fd (BIO_NOCLOSE): the
	 * connection's region closes it. */
	if ((t->ssl = SSL_new(ctx->ssl_ctx)) == NULL || SSL_set_fd(t->ssl, fd) != 1) {
		ERR_clear_error();
		SSL_free(t->ssl);
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	SSL_set_accept_state(t->ssl);
	return t;
}

void
tls_free(struct tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	free(t);
}

/* Called right after an SSL_* call returned ret (<= 0) with sys_errno its
 * errno; maps SSL_get_error to a tls_result and leaves the queue empty. */
static int
tls_io_result(struct tls *t, const char *op, int ret, int sys_errno)
{
	int code = SSL_get_error(t->ssl, ret);
	unsigned long e = ERR_peek_error();
	const char *reason;
	int result;

	switch (code) {
	case SSL_ERROR_WANT_READ:
		result = TLS_WANT_READ;
		break;
	case SSL_ERROR_WANT_WRITE:
		result = TLS_WANT_WRITE;
		break;
	case SSL_ERROR_ZERO_RETURN:
		/* close_notify: we may still send ours, so the state stays open. */
		result = TLS_EOF;
		break;
	case SSL_ERROR_SYSCALL:
		if (e == 0 && ret == 0) {
			/* OpenSSL 1.1's way of saying TCP EOF. */
			tls_set_err(t, "%s: connection closed without close_notify", op);
			t->state = TLS_STATE_EOF;
			result = TLS_EOF;
		} else if (e == 0) {
			tls_set_err(t, "%s: %s", op, sys_errno ? strerror(sys_errno) : "I/O error");
			t->state = TLS_STATE_FAILED;
			result = TLS_FAIL;
		} else {
			reason = ERR_reason_error_string(e);
			tls_set_err(t, "%s: %s", op, reason ? reason : "system error");
			t->state = TLS_STATE_FAILED;
			result = TLS_FAIL;
		}
		break;
	case SSL_ERROR_SSL:
		if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			/* OpenSSL 3's way of saying TCP EOF. */
			tls_set_err(t, "%s: connection closed without close_notify", op);
			t->state = TLS_STATE_EOF;
			result = TLS_EOF;
			break;
		}
		reason = e ? ERR_reason_error_string(e) : NULL;
		if (reason) {
			tls_set_err(t, "%s: %s", op, reason);
		} else {
			char buf[TLS_OSSL_ERR_MAX_BYTES];

			if (e)
				ERR_error_string_n(e, buf, sizeof buf);
			else
				snprintf(buf, sizeof buf, "protocol error");
			tls_set_err(t, "%s: %s", op, buf);
		}
		t->state = TLS_STATE_FAILED;
		result = TLS_FAIL;
		break;
	default:
		/* WANT_X509_LOOKUP, WANT_ASYNC ...: we install nothing that
		 * could ask for them. */
		tls_set_err(t, "%s: unexpected SSL_get_error %d", op, code);
		t->state = TLS_STATE_FAILED;
		result = TLS_FAIL;
		break;
	}
	ERR_clear_error();
	return result;
}

/* The answer for a connection OpenSSL no longer lets us use. */
static int
tls_dead_result(const struct tls *t)
{
	return t->state == TLS_STATE_EOF ? TLS_EOF : TLS_FAIL;
}

/* Every SSL_* I/O call starts on an empty queue (SSL_get_error reads the
 * queue first) and with errno 0 (so an old errno is never reported). */
static void
tls_io_begin(void)
{
	ERR_clear_error();
	errno = 0;
}

int
tls_handshake(struct tls *t)
{
	int ret;

	if (t->state != TLS_STATE_OPEN)
		return tls_dead_result(t);
	tls_io_begin();
	ret = SSL_do_handshake(t->ssl);
	if (ret == 1)
		return 0;
	return tls_io_result(t, "handshake", ret, errno);
}

ssize_t
tls_read(struct tls *t, void *p, size_t n)
{
	int ret;

	if (t->state != TLS_STATE_OPEN)
		return tls_dead_result(t);
	if (n == 0)
		return 0;
	tls_io_begin();
	ret = SSL_read(t->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (ret > 0)
		return ret;
	return tls_io_result(t, "read", ret, errno);
}

ssize_t
tls_write(struct tls *t, const void *p, size_t n)
{
	int ret;

	if (t->state == TLS_STATE_EOF) {
		/* OpenSSL has marked the connection fatal: nothing more can be
		 * sent, and that is a failure for a writer. */
		tls_set_err(t, "write: connection closed by the peer");
		return TLS_FAIL;
	}
	if (t->state != TLS_STATE_OPEN)
		return TLS_FAIL;
	if (n == 0)
		return 0;
	tls_io_begin();
	/* Clamping is stable across retries: the same n gives the same length. */
	ret = SSL_write(t->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (ret > 0)
		return ret;
	return tls_io_result(t, "write", ret, errno);
}

int
tls_shutdown(struct tls *t)
{
	int ret;

	if (t->state == TLS_STATE_FAILED)
		return TLS_FAIL;
	/* Nothing to send: the peer is gone, the handshake never finished (an
	 * alert there would be noise), or our close_notify is already out (a
	 * second SSL_shutdown would wait to read the peer's). */
	if (t->state == TLS_STATE_EOF || t->shutdown_sent || !SSL_is_init_finished(t->ssl))
		return 0;
	tls_io_begin();
	ret = SSL_shutdown(t->ssl);
	if (ret >= 0) {
		/* 0: sent, the peer's close_notify not seen yet; 1: both.  We
		 * never wait for the peer's: the caller closes the socket. */
		t->shutdown_sent = 1;
		return 0;
	}
	return tls_io_result(t, "shutdown", ret, errno);
}

size_t
tls_pending(struct tls *t)
{
	int n = SSL_pending(t->ssl);

	return n > 0 ? (size_t)n : 0;
}

void *
tls_ssl(struct tls *t)
{
	return t->ssl;
}

const char *
tls_last_error(struct tls *t)
{
	return t->err;
}
