/*
 * conn.h: accepted TCP connections, their limits and their lifetime.
 *
 * A struct server owns listening sockets and the connections accepted on
 * them.  At accept it enforces the global and per-source-address limits
 * and the fd reserve (counting each refusal by reason), creates the
 * connection's region under the worker region with the configured budget,
 * and arms the handshake timer; the service calls conn_ready() once the
 * peer has completed its first exchange, which replaces the handshake
 * timer with the idle timer.
 *
 * Input: the connection reads into c->in (at most read_max_bytes; the
 * buffer is returned to the region whenever it is empty, so idle
 * connections hold none) and calls ops->on_read, which consumes what it
 * can.  Output: conn_write queues bytes, charged to a write budget; while
 * the queue is above half of it the connection stops reading, and resumes
 * (calling on_read again for pipelined input already buffered) once it
 * drains below a quarter.  A write past the budget fails with ENOBUFS.
 *
 * COMPRESS (conn_compress) puts a DEFLATE layer between the service and
 * the socket (or TLS): the write budget and back-pressure count the bytes
 * the service queued, before compression.
 *
 * Closing is deferred to the end of the loop round, so a connection may
 * be closed from inside its own callbacks.  ops->on_close runs, then the
 * region is released, which closes the fd and frees TLS state.
 */
#ifndef HF_CONN_H
#define HF_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct loop;
struct region;
struct buf;
struct tls_ctx;
struct stats_page;
struct server;
struct conn;

struct server_conf {
	size_t conn_budget_bytes;   /* each connection's region */
	size_t read_max_bytes;      /* input buffered but not consumed */
	size_t wqueue_max_bytes;    /* output queued but not sent */
	size_t max_connections;     /* live, per worker */
	size_t max_per_addr;        /* live, per source address */
	uint64_t idle_ms;           /* no input for this long: close */
	uint64_t handshake_ms;      /* accept to conn_ready(): close */
	struct tls_ctx *tls;        /* NULL: no TLS on this server */
};
/* Fills defaults from hf_limits.h. */
void server_conf_defaults(struct server_conf *cf);

enum conn_timeout { CONN_TIMEOUT_HANDSHAKE, CONN_TIMEOUT_IDLE };

struct conn_ops {
	/* After accept (and the TLS handshake for implicit TLS).  Typically
	 * writes a greeting.  Return -1 to close. */
	int (*on_open)(struct conn *c);
	/* New input in *in: consume what can be handled now (buf_consume or
	 * the line reader).  Return -1 to close at once. */
	int (*on_read)(struct conn *c, struct buf *in);
	/* Optional: a timer expired; the service may queue a last message
	 * (NNTP "400 ..."); the connection then closes after flushing. */
	void (*on_timeout)(struct conn *c, enum conn_timeout which);
	/* Optional: the peer closed its side (EOF) with input still unconsumed. */
	void (*on_eof)(struct conn *c);
	/* Optional: just before the connection's region is released. */
	void (*on_close)(struct conn *c);
};

struct server *server_new(struct loop *l, struct region *worker_region, const struct server_conf *cf,
                          const struct conn_ops *ops, void *service_data, struct stats_page *stats);
/* Takes a listening socket (non-blocking is set here). implicit_tls needs cf->tls. */
int server_add_listener(struct server *s, int fd, int implicit_tls);
/* Stops accepting and closes every connection gracefully; the caller runs
 * the loop until server_conn_count() is 0 or its own deadline passes. */
void server_shutdown(struct server *s);
size_t server_conn_count(const struct server *s);
void server_pause_accept(struct server *s);
void server_resume_accept(struct server *s);

struct region *conn_region(struct conn *c);
struct loop *conn_loop(struct conn *c);
void *conn_service(struct conn *c);            /* service_data of server_new */
void conn_set_data(struct conn *c, void *data);
void *conn_data(struct conn *c);
const char *conn_peer_name(struct conn *c);    /* "127.0.0.1:40000", "[::1]:40000" */
const struct sockaddr_storage *conn_peer_addr(struct conn *c);
int conn_fd(struct conn *c);

/* Queues output.  0, or -1 with errno ENOBUFS (write budget) or ENOMEM. */
int conn_write(struct conn *c, const void *p, size_t n);
int conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t conn_wqueue_len(const struct conn *c);
size_t conn_wqueue_room(const struct conn *c);
/* Back-pressure: the queue is half full (conn_wqueue_len >=
 * conn_wqueue_room).  A service that stops consuming input when this is
 * true gets what it left in c->in re-delivered once the queue drains; it
 * is the very test conn pauses reading on, so nothing is left waiting
 * for a re-delivery that never comes. */
int conn_wqueue_over(const struct conn *c);

/* The peer finished its handshake/first line: handshake timer -> idle timer. */
void conn_ready(struct conn *c);
/* Starts server TLS once the queued output has been sent (STARTTLS: queue
 * the "go ahead" reply first).  -1 if the server has no TLS context, TLS
 * is already on, or compression is.  Input is not delivered until the
 * handshake completes. */
int conn_starttls(struct conn *c);
int conn_is_tls(const struct conn *c);
struct tls *conn_tls(struct conn *c);

/* COMPRESS (RFC 8054, raw DEFLATE inside TLS if TLS is on).
 * conn_compress_prepare charges the zlib state to the connection region
 * (about 80 KiB, see compress.h) without changing anything else: -1 with
 * errno ENOMEM if the budget refuses it, so the service can still answer
 * that it cannot (NNTP 403) before it promises anything.
 * conn_compress then switches on, like conn_starttls: queue the "go
 * ahead" reply (NNTP 206) first; it goes as it is, everything queued
 * after the call goes compressed, with a sync flush whenever the queue
 * would go idle at the end of a round.  All input after the call is
 * inflated before it reaches c->in (never beyond read_max_bytes, however
 * far it would expand); input already buffered after the command was
 * pipelined and is dropped (counted "compress_pipelined").  Corrupt input
 * closes the connection (counted "compress_error").  It prepares if that
 * was not done, so it can also fail with ENOMEM; EALREADY if compression
 * is on; EBUSY during a TLS handshake or STARTTLS; EPIPE while closing.
 * STARTTLS after COMPRESS is refused (EPROTO). */
int conn_compress_prepare(struct conn *c);
int conn_compress(struct conn *c);
int conn_is_compressed(const struct conn *c);
/* The most COMPRESS adds to a connection region: zlib's state and the two
 * staging buffers (a service that offers COMPRESS raises its connection
 * budget by this much). */
size_t conn_compress_bytes(void);

/* Service-driven flow control; resume re-delivers buffered input. */
void conn_pause_read(struct conn *c);
void conn_resume_read(struct conn *c);

/* Counts one rejected input in the worker's stats under reason. */
void conn_reject(struct conn *c, const char *reason);

/* Hard close: drop queued output. */
void conn_close(struct conn *c);
/* Graceful close: stop reading, flush output (at most CONN_CLOSE_LINGER_MS), close. */
void conn_close_after_flush(struct conn *c);
int conn_closing(const struct conn *c);

#endif
