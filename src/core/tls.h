/*
 * tls.h: server-side TLS over OpenSSL for non-blocking sockets.
 *
 * A tls_ctx holds the certificate and key from the configuration; a tls is
 * one connection's state.  Every call returns at once: the WANT results say
 * which readiness to wait for.  Used both for implicit TLS (handshake right
 * after accept) and for upgrades (STARTTLS, RDP's TLS after X.224).
 *
 * Known weakness: OpenSSL's own allocations are not charged to our regions;
 * they are bounded by its record size and by the connection limits.
 */
#ifndef HF_TLS_H
#define HF_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct tls_ctx;
struct tls;

enum tls_result {
	TLS_WANT_READ = -2,
	TLS_WANT_WRITE = -3,
	TLS_EOF = -4,       /* clean close_notify or TCP EOF */
	TLS_FAIL = -5,      /* protocol or I/O error: close the connection */
};

/* Loads cert_path (PEM chain) and key_path (PEM); TLS 1.2 minimum.  NULL
 * with a message naming the file in err on failure. */
struct tls_ctx *tls_ctx_new(const char *cert_path, const char *key_path, char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx *ctx);

struct tls *tls_new(struct tls_ctx *ctx, int fd);
void tls_free(struct tls *t);

/* 0 when the handshake is complete, else a negative enum tls_result. */
int tls_handshake(struct tls *t);
/* Bytes read (> 0) or a negative enum tls_result. */
ssize_t tls_read(struct tls *t, void *p, size_t n);
/* Bytes written (> 0) or a negative enum tls_result.  After WANT_*, retry
 * with the same arguments (the wrapper enables partial writes and moving
 * buffers, so the buffer may have been compacted in between). */
ssize_t tls_write(struct tls *t, const void *p, size_t n);
/* Sends close_notify; 0 done, or a negative enum tls_result. */
int tls_shutdown(struct tls *t);
/* Decrypted bytes OpenSSL holds that the next tls_read returns without I/O. */
size_t tls_pending(struct tls *t);
/* The underlying SSL *, for protocols that need the peer key (CredSSP). */
void *tls_ssl(struct tls *t);
/* A short description of the last failure (for logs). */
const char *tls_last_error(struct tls *t);

#endif
