/*
 * test_tls.c: src/core/tls.c against a real OpenSSL client over a
 * non-blocking socketpair, and scripts/gen-cert.sh.
 *
 * The group setup makes two certificate pairs with scripts/gen-cert.sh
 * (run from the repository root) in a mkdtemp directory, plus a garbage
 * file and a passphrase-protected key.  Client and server run in this one
 * thread: each step of one side returns WANT_* instead of blocking, and the
 * test alternates them, with a bound on the number of steps so that a
 * stuck exchange fails instead of hanging.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"

#define TEST_PATH_MAX_BYTES      512
#define TEST_HANDSHAKE_STEPS_MAX 64         /* a TLS 1.2 handshake takes about 4 rounds */
#define TEST_PUMP_STEPS_MAX      64         /* small transfers: a few rounds at most */
#define TEST_LARGE_BYTES         (1024 * 1024)
#define TEST_LARGE_STEPS_MAX     100000     /* >= one record or one drain per step */
#define TEST_RECORD_BYTES        100        /* one record, well below 16 KiB */

static struct {
	char dir[TEST_PATH_MAX_BYTES];
	char cert_a[TEST_PATH_MAX_BYTES], key_a[TEST_PATH_MAX_BYTES];
	char cert_b[TEST_PATH_MAX_BYTES], key_b[TEST_PATH_MAX_BYTES];
	char garbage[TEST_PATH_MAX_BYTES];
	char missing[TEST_PATH_MAX_BYTES];
	char enc_key[TEST_PATH_MAX_BYTES];
	struct tls_ctx *ctx;       /* pair A */
	SSL_CTX *cctx;             /* the client side: no verification */
} fx;

struct pair {
	int sfd, cfd;
	struct tls *t;             /* server, the code under test */
	SSL *c;                    /* client, plain OpenSSL */
};

static void
path_join(char *dst, const char *dir, const char *name)
{
	int n = snprintf(dst, TEST_PATH_MAX_BYTES, "%s/%s", dir, name);

	assert_true(n > 0 && n < TEST_PATH_MAX_BYTES);
}

static int
run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	char cmd[4 * TEST_PATH_MAX_BYTES];
	va_list ap;
	int n, st;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof cmd)
		return -1;
	st = system(cmd);
	return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int
group_setup(void **state)
{
	char a[TEST_PATH_MAX_BYTES], b[TEST_PATH_MAX_BYTES];
	char err[512];

	/* Writes to a peer that closed must fail with EPIPE, not kill us (the
	 * worker ignores SIGPIPE the same way). */
	signal(SIGPIPE, SIG_IGN);
	snprintf(fx.dir, sizeof fx.dir, "/tmp/hf-test-tls-XXXXXX");
	if (!mkdtemp(fx.dir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	path_join(a, fx.dir, "a");
	path_join(b, fx.dir, "b");
	if (run("scripts/gen-cert.sh '%s' && scripts/gen-cert.sh '%s'", a, b) != 0) {
		fprintf(stderr, "scripts/gen-cert.sh failed (run the tests from the repository root)\n");
		return -1;
	}
	path_join(fx.cert_a, a, "cert.pem");
	path_join(fx.key_a, a, "key.pem");
	path_join(fx.cert_b, b, "cert.pem");
	path_join(fx.key_b, b, "key.pem");
	path_join(fx.garbage, fx.dir, "garbage.pem");
	path_join(fx.missing, fx.dir, "missing.pem");
	path_join(fx.enc_key, fx.dir, "enc-key.pem");
	if (write_file(fx.garbage, "this is not PEM\n-----BEGIN NOTHING-----\nxx\n") != 0)
		return -1;
	/* EC: a quick key to make; only its passphrase matters here. */
	if (run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-128-cbc "
	        "-pass pass:secret -out '%s' 2>/dev/null", fx.enc_key) != 0) {
		fprintf(stderr, "openssl genpkey failed\n");
		return -1;
	}

	fx.ctx = tls_ctx_new(fx.cert_a, fx.key_a, err, sizeof err);
	if (!fx.ctx) {
		fprintf(stderr, "tls_ctx_new: %s\n", err);
		return -1;
	}
	fx.cctx = SSL_CTX_new(TLS_client_method());
	if (!fx.cctx)
		return -1;
	SSL_CTX_set_verify(fx.cctx, SSL_VERIFY_NONE, NULL);
	return 0;
}

static int
group_teardown(void **state)
{
	tls_ctx_free(fx.ctx);
	SSL_CTX_free(fx.cctx);
	if (fx.dir[0] && strncmp(fx.dir, "/tmp/hf-test-tls-", 17) == 0)
		run("rm -rf -- '%s'", fx.dir);
	return 0;
}

/* --- helpers --- */

static void
pair_open_with(struct pair *p, SSL_CTX *cctx)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	p->sfd = sv[0];
	p->cfd = sv[1];
	p->t = tls_new(fx.ctx, p->sfd);
	assert_non_null(p->t);
	p->c = SSL_new(cctx);
	assert_non_null(p->c);
	assert_int_equal(SSL_set_fd(p->c, p->cfd), 1);
	SSL_set_connect_state(p->c);
}

static void
pair_open(struct pair *p)
{
	pair_open_with(p, fx.cctx);
}

static void
pair_close(struct pair *p)
{
	tls_free(p->t);
	SSL_free(p->c);
	if (p->sfd >= 0)
		close(p->sfd);
	if (p->cfd >= 0)
		close(p->cfd);
}

/* Alternates client and server handshake steps until both are done. */
static void
handshake(struct pair *p)
{
	int server_done = 0, client_done = 0;
	int i, r;

	/* Nothing has arrived yet: the server must say so, not wait. */
	assert_int_equal(tls_handshake(p->t), TLS_WANT_READ);
	for (i = 0; i < TEST_HANDSHAKE_STEPS_MAX && !(server_done && client_done); i++) {
		if (!client_done) {
			ERR_clear_error();
			r = SSL_do_handshake(p->c);
			if (r == 1) {
				client_done = 1;
			} else {
				r = SSL_get_error(p->c, r);
				assert_true(r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE);
			}
		}
		if (!server_done) {
			r = tls_handshake(p->t);
			if (r == 0)
				server_done = 1;
			else
				assert_true(r == TLS_WANT_READ || r == TLS_WANT_WRITE);
		}
	}
	assert_true(client_done);
	assert_true(server_done);
	/* Done is done: asking again does no I/O and still says 0. */
	assert_int_equal(tls_handshake(p->t), 0);
	assert_string_equal(tls_last_error(p->t), "");
}

/* Client reads exactly n bytes, which the server has already sent. */
static void
client_read_exact(struct pair *p, void *buf, size_t n)
{
	size_t got = 0;
	int i, r;

	for (i = 0; i < TEST_PUMP_STEPS_MAX && got < n; i++) {
		ERR_clear_error();
		r = SSL_read(p->c, (char *)buf + got, (int)(n - got));
		if (r > 0)
			got += (size_t)r;
		else
			assert_int_equal(SSL_get_error(p->c, r), SSL_ERROR_WANT_READ);
	}
	assert_int_equal(got, n);
}

/* Server reads exactly n bytes, which the client has already sent. */
static void
server_read_exact(struct pair *p, void *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;
	int i;

	for (i = 0; i < TEST_PUMP_STEPS_MAX && got < n; i++) {
		r = tls_read(p->t, (char *)buf + got, n - got);
		if (r > 0)
			got += (size_t)r;
		else
			assert_int_equal(r, TLS_WANT_READ);
	}
	assert_int_equal(got, n);
}

static void
client_write_all(struct pair *p, const void *buf, size_t n)
{
	ERR_clear_error();
	assert_int_equal(SSL_write(p->c, buf, (int)n), (int)n);
}

/* --- tls_ctx_new --- */

static void
ctx_fails_saying(const char *cert, const char *key, const char *named, const char *also)
{
	char err[512];
	struct tls_ctx *ctx;

	memset(err, 'x', sizeof err);
	ctx = tls_ctx_new(cert, key, err, sizeof err);
	assert_null(ctx);
	assert_non_null(memchr(err, '\0', sizeof err));
	if (!strstr(err, named))
		fail_msg("error \"%s\" does not name %s", err, named);
	if (also && !strstr(err, also))
		fail_msg("error \"%s\" does not say \"%s\"", err, also);
	/* The failure's errors must not wait in the queue for the next caller. */
	assert_int_equal(ERR_peek_error(), 0);
}

static void
ctx_fails_naming(const char *cert, const char *key, const char *named)
{
	ctx_fails_saying(cert, key, named, NULL);
}

static void
test_ctx_ok(void **state)
{
	char err[512] = "stale";
	struct tls_ctx *ctx = tls_ctx_new(fx.cert_b, fx.key_b, err, sizeof err);

	assert_non_null(ctx);
	assert_string_equal(err, "");
	tls_ctx_free(ctx);
	tls_ctx_free(NULL);
}

static void
test_ctx_missing_cert(void **state)
{
	ctx_fails_naming(fx.missing, fx.key_a, fx.missing);
}

static void
test_ctx_missing_key(void **state)
{
	ctx_fails_naming(fx.cert_a, fx.missing, fx.missing);
}

static void
test_ctx_mismatched_key(void **state)
{
	ctx_fails_saying(fx.cert_a, fx.key_b, fx.key_b, "match");
}

static void
test_ctx_garbage_cert(void **state)
{
	ctx_fails_naming(fx.garbage, fx.key_a, fx.garbage);
}

static void
test_ctx_garbage_key(void **state)
{
	ctx_fails_naming(fx.cert_a, fx.garbage, fx.garbage);
}

static void
test_ctx_key_is_cert(void **state)
{
	ctx_fails_naming(fx.cert_a, fx.cert_a, fx.cert_a);
}

/* A passphrase-protected key is refused, never prompted for: OpenSSL's
 * own prompt would hang on a terminal, or read stdin without one. */
static void
test_ctx_encrypted_key(void **state)
{
	ctx_fails_saying(fx.cert_a, fx.enc_key, fx.enc_key, "passphrase");
}

static void
test_ctx_small_err(void **state)
{
	char err[8];

	memset(err, 'x', sizeof err);
	assert_null(tls_ctx_new(fx.missing, fx.key_a, err, sizeof err));
	assert_true(strlen(err) < sizeof err);
	assert_null(tls_ctx_new(fx.missing, fx.key_a, NULL, 0));
	assert_null(tls_ctx_new(NULL, fx.key_a, err, sizeof err));
	assert_int_equal(ERR_peek_error(), 0);
}

/* The settings tls.h and conn.c rely on, read back from a connection. */
static void
test_ctx_settings(void **state)
{
	struct pair p;
	SSL *ssl;
	uint64_t opts;
	long mode;

	pair_open(&p);
	ssl = tls_ssl(p.t);
	assert_non_null(ssl);
	assert_true(SSL_is_server(ssl));
	assert_int_equal(SSL_get_min_proto_version(ssl), TLS1_2_VERSION);
	opts = SSL_get_options(ssl);
	assert_true(opts & SSL_OP_NO_RENEGOTIATION);
	assert_true(opts & SSL_OP_NO_COMPRESSION);
	assert_true(opts & SSL_OP_CIPHER_SERVER_PREFERENCE);
	mode = SSL_get_mode(ssl);
	assert_true(mode & SSL_MODE_ENABLE_PARTIAL_WRITE);
	assert_true(mode & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	assert_true(mode & SSL_MODE_RELEASE_BUFFERS);
	assert_int_equal(SSL_CTX_get_session_cache_mode(SSL_get_SSL_CTX(ssl)), SSL_SESS_CACHE_OFF);
	pair_close(&p);
}

/* --- connections --- */

static void
exchange(struct pair *p)
{
	static const char from_server[] = "200 holdfast ready\r\n";
	static const char from_client[] = "QUIT\r\n";
	char buf[64];

	assert_int_equal(tls_write(p->t, from_server, sizeof from_server - 1), (ssize_t)(sizeof from_server - 1));
	client_read_exact(p, buf, sizeof from_server - 1);
	assert_memory_equal(buf, from_server, sizeof from_server - 1);

	/* Nothing sent yet: WANT_READ, at once. */
	assert_int_equal(tls_read(p->t, buf, sizeof buf), TLS_WANT_READ);
	client_write_all(p, from_client, sizeof from_client - 1);
	server_read_exact(p, buf, sizeof from_client - 1);
	assert_memory_equal(buf, from_client, sizeof from_client - 1);
	assert_int_equal(tls_read(p->t, buf, sizeof buf), TLS_WANT_READ);
}

static void
test_handshake_and_data(void **state)
{
	struct pair p;

	pair_open(&p);
	handshake(&p);
	assert_int_equal(SSL_version(tls_ssl(p.t)), TLS1_3_VERSION);
	exchange(&p);
	pair_close(&p);
}

static void
test_handshake_tls12(void **state)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	struct pair p;

	assert_non_null(cctx);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION), 1);
	pair_open_with(&p, cctx);
	handshake(&p);
	assert_int_equal(SSL_version(tls_ssl(p.t)), TLS1_2_VERSION);
	exchange(&p);
	pair_close(&p);
	SSL_CTX_free(cctx);
}

/* Another OpenSSL user in the process left an error queued: our calls
 * must still see WANT_READ, not a failure that is not theirs. */
static void
test_stale_error_queue(void **state)
{
	struct pair p;
	char buf[16];

	pair_open(&p);
	ERR_raise(ERR_LIB_SSL, SSL_R_HTTP_REQUEST);
	assert_int_equal(tls_handshake(p.t), TLS_WANT_READ);
	assert_int_equal(ERR_peek_error(), 0);
	handshake(&p);
	ERR_raise(ERR_LIB_SSL, SSL_R_HTTP_REQUEST);
	assert_int_equal(tls_read(p.t, buf, sizeof buf), TLS_WANT_READ);
	ERR_raise(ERR_LIB_SYS, EPIPE);
	assert_int_equal(tls_read(p.t, buf, sizeof buf), TLS_WANT_READ);
	pair_close(&p);
}

static void
fill(unsigned char *p, size_t n)
{
	uint32_t x = 2463534242u;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

/* 1 MiB through a socket buffer far smaller: partial writes, WANT_WRITE,
 * and after each WANT_WRITE the retry comes from another address holding
 * the same bytes, as when conn.c compacts its write queue. */
static void
test_large_write(void **state)
{
	unsigned char *a = malloc(TEST_LARGE_BYTES), *b = malloc(TEST_LARGE_BYTES);
	unsigned char *rbuf = malloc(TEST_LARGE_BYTES);
	const unsigned char *src;
	size_t off = 0, got = 0;
	int wants = 0, partials = 0, i, r;
	struct pair p;
	ssize_t w;

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(rbuf);
	fill(a, TEST_LARGE_BYTES);
	memcpy(b, a, TEST_LARGE_BYTES);
	src = a;
	pair_open(&p);
	handshake(&p);
	for (i = 0; i < TEST_LARGE_STEPS_MAX && got < TEST_LARGE_BYTES; i++) {
		if (off < TEST_LARGE_BYTES) {
			w = tls_write(p.t, src + off, TEST_LARGE_BYTES - off);
			if (w > 0) {
				assert_true((size_t)w <= TEST_LARGE_BYTES - off);
				if ((size_t)w < TEST_LARGE_BYTES - off)
					partials++;
				off += (size_t)w;
				continue;
			}
			assert_int_equal(w, TLS_WANT_WRITE);
			wants++;
			src = src == a ? b : a;
		}
		/* The client drains what is there, and no more. */
		for (;;) {
			ERR_clear_error();
			r = SSL_read(p.c, rbuf + got, (int)(TEST_LARGE_BYTES - got));
			if (r <= 0) {
				assert_int_equal(SSL_get_error(p.c, r), SSL_ERROR_WANT_READ);
				break;
			}
			got += (size_t)r;
			if (got == TEST_LARGE_BYTES)
				break;
		}
	}
	assert_int_equal(off, TEST_LARGE_BYTES);
	assert_int_equal(got, TEST_LARGE_BYTES);
	assert_true(wants > 0);
	assert_true(partials > 0);
	assert_memory_equal(rbuf, a, TEST_LARGE_BYTES);
	pair_close(&p);
	free(a);
	free(b);
	free(rbuf);
}

static void
test_pending(void **state)
{
	unsigned char out[TEST_RECORD_BYTES], in[TEST_RECORD_BYTES * 2];
	struct pair p;

	fill(out, sizeof out);
	pair_open(&p);
	handshake(&p);
	assert_int_equal(tls_pending(p.t), 0);
	client_write_all(&p, out, sizeof out);      /* one record */
	assert_int_equal(tls_read(p.t, in, 10), 10);
	assert_int_equal(tls_pending(p.t), sizeof out - 10);
	/* The rest comes from OpenSSL's buffer, even with the socket empty. */
	assert_int_equal(tls_read(p.t, in + 10, sizeof in - 10), (ssize_t)(sizeof out - 10));
	assert_memory_equal(in, out, sizeof out);
	assert_int_equal(tls_pending(p.t), 0);
	assert_int_equal(tls_read(p.t, in, sizeof in), TLS_WANT_READ);
	pair_close(&p);
}

/* The client sends close_notify: TLS_EOF; we can still answer with ours. */
static void
test_peer_close_notify(void **state)
{
	struct pair p;
	char buf[16];

	pair_open(&p);
	handshake(&p);
	ERR_clear_error();
	assert_int_equal(SSL_shutdown(p.c), 0);
	assert_int_equal(tls_read(p.t, buf, sizeof buf), TLS_EOF);
	assert_int_equal(tls_read(p.t, buf, sizeof buf), TLS_EOF);
	assert_int_equal(tls_shutdown(p.t), 0);
	ERR_clear_error();
	assert_int_equal(SSL_shutdown(p.c), 1);     /* the client saw ours */
	pair_close(&p);
}

/* TCP EOF without close_notify is TLS_EOF too (tls.h), and stays so. */
static void
test_peer_tcp_eof(void **state)
{
	struct pair p;
	char buf[16];

	pair_open(&p);
	handshake(&p);
	/* Nothing unread on the client, or its close would be a reset. */
	ERR_clear_error();
	assert_int_equal(SSL_get_error(p.c, SSL_read(p.c, buf, sizeof buf)), SSL_ERROR_WANT_READ);
	close(p.cfd);
	p.cfd = -1;
	assert_int_equal(tls_read(p.t, buf, sizeof buf), TLS_EOF);
	assert_true(strlen(tls_last_error(p.t)) > 0);
	assert_int_equal(ERR_peek_error(), 0);
	assert_int_equal(tls_read(p.t, buf, sizeof buf), TLS_EOF);
	assert_int_equal(tls_write(p.t, "x", 1), TLS_FAIL);
	assert_int_equal(tls_shutdown(p.t), 0);
	pair_close(&p);
}

/* The client closes with our data unread: Linux reports ECONNRESET on an
 * AF_UNIX stream as on TCP.  A reset is a failure, with errno's words. */
static void
test_peer_reset(void **state)
{
	static const char msg[] = "200 unread\r\n";
	struct pair p;
	char buf[16];

	pair_open(&p);
	handshake(&p);
	assert_int_equal(tls_write(p.t, msg, sizeof msg - 1), (ssize_t)(sizeof msg - 1));
	close(p.cfd);
	p.cfd = -1;
	assert_int_equal(tls_read(p.t, buf, sizeof buf), TLS_FAIL);
	if (!strstr(tls_last_error(p.t), strerror(ECONNRESET)))
		fail_msg("last error \"%s\"", tls_last_error(p.t));
	assert_int_equal(ERR_peek_error(), 0);
	pair_close(&p);
}

/* Writing to a closed peer: EPIPE (SIGPIPE is ignored), a failure. */
static void
test_write_to_closed_peer(void **state)
{
	struct pair p;

	pair_open(&p);
	handshake(&p);
	close(p.cfd);
	p.cfd = -1;
	assert_int_equal(tls_write(p.t, "x", 1), TLS_FAIL);
	if (!strstr(tls_last_error(p.t), strerror(EPIPE)))
		fail_msg("last error \"%s\"", tls_last_error(p.t));
	assert_int_equal(ERR_peek_error(), 0);
	assert_int_equal(tls_shutdown(p.t), TLS_FAIL);
	pair_close(&p);
}

/* A scanner connects and leaves: EOF, not a failure. */
static void
test_eof_during_handshake(void **state)
{
	struct pair p;

	pair_open(&p);
	assert_int_equal(tls_handshake(p.t), TLS_WANT_READ);
	close(p.cfd);
	p.cfd = -1;
	assert_int_equal(tls_handshake(p.t), TLS_EOF);
	assert_int_equal(ERR_peek_error(), 0);
	/* Half a handshake: nothing to send. */
	assert_int_equal(tls_shutdown(p.t), 0);
	pair_close(&p);
}

static void
test_garbage_then_fresh(void **state)
{
	static const char http[] = "GET / HTTP/1.0\r\n\r\n";
	struct pair p;
	char buf[16], why[256];

	pair_open(&p);
	assert_int_equal(write(p.cfd, http, sizeof http - 1), (ssize_t)(sizeof http - 1));
	assert_int_equal(tls_handshake(p.t), TLS_FAIL);
	assert_true(strlen(tls_last_error(p.t)) > 0);
	assert_int_equal(ERR_peek_error(), 0);
	snprintf(why, sizeof why, "%s", tls_last_error(p.t));
	/* Failed is final, harmless to poke, and keeps its first reason. */
	assert_int_equal(tls_handshake(p.t), TLS_FAIL);
	assert_int_equal(tls_read(p.t, buf, sizeof buf), TLS_FAIL);
	assert_int_equal(tls_write(p.t, "x", 1), TLS_FAIL);
	assert_int_equal(tls_shutdown(p.t), TLS_FAIL);
	assert_string_equal(tls_last_error(p.t), why);
	assert_int_equal(ERR_peek_error(), 0);
	pair_close(&p);

	/* The next peer on the same context is unaffected. */
	pair_open(&p);
	handshake(&p);
	exchange(&p);
	pair_close(&p);
}

/* Garbage after a good handshake: a bad record is a failure. */
static void
test_garbage_record(void **state)
{
	static const char junk[] = "\x17\x03\x03\x00\x05hello";
	struct pair p;
	char buf[16];

	pair_open(&p);
	handshake(&p);
	assert_int_equal(write(p.cfd, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
	assert_int_equal(tls_read(p.t, buf, sizeof buf), TLS_FAIL);
	assert_true(strlen(tls_last_error(p.t)) > 0);
	assert_int_equal(ERR_peek_error(), 0);
	pair_close(&p);
}

static void
test_shutdown(void **state)
{
	static const char bye[] = "205 bye\r\n";
	struct pair p;
	char buf[16];
	int r;

	pair_open(&p);
	handshake(&p);
	assert_int_equal(tls_write(p.t, bye, sizeof bye - 1), (ssize_t)(sizeof bye - 1));
	assert_int_equal(tls_shutdown(p.t), 0);
	/* Already sent: a second call neither waits for the peer nor fails. */
	assert_int_equal(tls_shutdown(p.t), 0);
	client_read_exact(&p, buf, sizeof bye - 1);
	assert_memory_equal(buf, bye, sizeof bye - 1);
	ERR_clear_error();
	r = SSL_read(p.c, buf, sizeof buf);
	assert_int_equal(r, 0);
	assert_int_equal(SSL_get_error(p.c, r), SSL_ERROR_ZERO_RETURN);
	/* Nothing may follow our close_notify. */
	assert_int_equal(tls_write(p.t, "x", 1), TLS_FAIL);
	pair_close(&p);
}

static void
test_shutdown_before_handshake(void **state)
{
	struct pair p;

	pair_open(&p);
	assert_int_equal(tls_shutdown(p.t), 0);
	pair_close(&p);
}

static void
test_zero_length(void **state)
{
	struct pair p;
	char buf[1];

	pair_open(&p);
	handshake(&p);
	assert_int_equal(tls_read(p.t, buf, 0), 0);
	assert_int_equal(tls_write(p.t, buf, 0), 0);
	exchange(&p);
	pair_close(&p);
	tls_free(NULL);
}

/* --- scripts/gen-cert.sh --- */

static int
file_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

static int
files_equal(const char *x, const char *y)
{
	return run("cmp -s '%s' '%s'", x, y) == 0;
}

static void
test_gen_cert(void **state)
{
	char dir[TEST_PATH_MAX_BYTES], cert[TEST_PATH_MAX_BYTES], key[TEST_PATH_MAX_BYTES];
	char cert0[TEST_PATH_MAX_BYTES], key0[TEST_PATH_MAX_BYTES];
	char err[512];
	struct tls_ctx *ctx;

	path_join(dir, fx.dir, "gen/nested");
	path_join(cert, dir, "cert.pem");
	path_join(key, dir, "key.pem");
	path_join(cert0, fx.dir, "gen-cert0.pem");
	path_join(key0, fx.dir, "gen-key0.pem");

	assert_int_equal(run("scripts/gen-cert.sh '%s'", dir), 0);
	assert_int_equal(file_mode(dir), 0700);
	assert_int_equal(file_mode(key), 0600);
	assert_int_equal(file_mode(cert), 0644);
	assert_int_equal(run("cp '%s' '%s' && cp '%s' '%s'", cert, cert0, key, key0), 0);

	/* Both present: untouched. */
	assert_int_equal(run("scripts/gen-cert.sh '%s'", dir), 0);
	assert_true(files_equal(cert, cert0));
	assert_true(files_equal(key, key0));

	/* One missing: a new, matching pair. */
	assert_int_equal(unlink(key), 0);
	assert_int_equal(run("scripts/gen-cert.sh '%s'", dir), 0);
	assert_false(files_equal(cert, cert0));
	assert_int_equal(file_mode(key), 0600);
	ctx = tls_ctx_new(cert, key, err, sizeof err);
	if (!ctx)
		fail_msg("regenerated pair: %s", err);
	tls_ctx_free(ctx);

	assert_int_not_equal(run("scripts/gen-cert.sh 2>/dev/null"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx_ok),
		cmocka_unit_test(test_ctx_missing_cert),
		cmocka_unit_test(test_ctx_missing_key),
		cmocka_unit_test(test_ctx_mismatched_key),
		cmocka_unit_test(test_ctx_garbage_cert),
		cmocka_unit_test(test_ctx_garbage_key),
		cmocka_unit_test(test_ctx_key_is_cert),
		cmocka_unit_test(test_ctx_encrypted_key),
		cmocka_unit_test(test_ctx_small_err),
		cmocka_unit_test(test_ctx_settings),
		cmocka_unit_test(test_handshake_and_data),
		cmocka_unit_test(test_handshake_tls12),
		cmocka_unit_test(test_stale_error_queue),
		cmocka_unit_test(test_large_write),
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_peer_close_notify),
		cmocka_unit_test(test_peer_tcp_eof),
		cmocka_unit_test(test_peer_reset),
		cmocka_unit_test(test_write_to_closed_peer),
		cmocka_unit_test(test_eof_during_handshake),
		cmocka_unit_test(test_garbage_then_fresh),
		cmocka_unit_test(test_garbage_record),
		cmocka_unit_test(test_shutdown),
		cmocka_unit_test(test_shutdown_before_handshake),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_gen_cert),
	};

	return cmocka_run_group_tests_name("tls", tests, group_setup, group_teardown);
}
