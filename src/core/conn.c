/*
 * conn.c: accepted TCP connections, their limits and their lifetime (see
 * conn.h).
 *
 * Role: everything between a listening socket and a service's on_read:
 * admission, the connection region, buffered non-blocking I/O with
 * back-pressure, timeouts, TLS (implicit and STARTTLS), compression
 * (COMPRESS, over compress.c) and closing.
 *
 * Admission (accept, in this order; each refusal closes the socket at once
 * and is counted in the stats page by reason): the server is shutting down;
 * max_connections live; max_per_addr live from the source address; the fd
 * number within CONN_FD_RESERVE of RLIMIT_NOFILE (read at server_new); the
 * worker region cannot hold a connection region.  accept4 itself failing
 * with EMFILE/ENFILE pauses the listener for CONN_FD_PAUSE_MS (level-
 * triggered epoll would otherwise spin on the backlog).  At most
 * CONN_ACCEPT_BATCH accepts per wakeup, so a flood cannot starve the
 * connections already in.
 *
 * Per-address counts: an open-addressing table keyed by the address only
 * (IPv4 as v4-mapped IPv6, so both spellings of an address share a count),
 * sized once at server_new at twice max_connections (load <= 1/2, so a
 * probe always ends) and never grown by peers.  Deletion shifts entries
 * back, so no tombstones accumulate.  The hash is seeded from getrandom.
 *
 * Memory: struct conn, c->in (at most read_max_bytes), c->out (at most
 * wqueue_max_bytes) and everything the service hangs on the connection
 * live in the connection's region (budget conn_budget_bytes, the whole
 * cost of a connection; the configuration keeps read_max + write_budget
 * within three quarters of it).  One cleanup on that region deletes the
 * io, cancels the timers and deferred calls, frees TLS, closes the fd and
 * gives back the address count, so releasing the region, however it
 * happens, leaves nothing behind; the service's own cleanups and child
 * regions go first, while all of that is still valid.  Nothing
 * connection-related is allocated on the worker region (HF_DEBUG checks
 * the worker's charge at every close).
 * Reads go through one static scratch buffer and only the bytes received
 * are copied into c->in, so a connection holding a partial line holds a
 * buffer the size of that line, not a whole read chunk; c->in and c->out
 * are returned to the region whenever they empty.
 *
 * Input: at most CONN_READ_CHUNKS_PER_WAKEUP reads of CONN_READ_CHUNK_BYTES
 * per wakeup, on_read after each.  Reading stops while: the service paused
 * it; the write queue is over half its budget (back-pressure, until it
 * drains below a quarter, then buffered input is re-delivered from a
 * deferred call); c->in is full; STARTTLS or a TLS handshake is under way;
 * the connection is closing.
 *
 * Output: conn_write sends at once when nothing is queued (no copy), and
 * queues the rest, within wqueue_max_bytes (ENOBUFS past it).
 *
 * Timers: one per connection, whose meaning changes: handshake (accept to
 * conn_ready, and any later STARTTLS handshake), then idle (reset by
 * input), then linger (graceful close).  A zero-delay "kick" timer resumes
 * reading of bytes OpenSSL holds, which epoll cannot report.
 *
 * Closing: conn_close drops everything and releases the region from a
 * deferred call (after ops->on_close, which runs only if on_open ran).
 * conn_close_after_flush stops reading, sends what is queued, sends TLS
 * close_notify and shuts down the write side.  It then reads and drops
 * what the peer has sent: closing with unread input would send a RST that
 * can destroy the reply in flight.  If nothing was waiting it closes at
 * once (the kernel still delivers our data, then FIN); if the peer was
 * still sending, it keeps draining until the peer's FIN.  All of it within
 * CONN_CLOSE_LINGER_MS.
 *
 * STARTTLS: conn_starttls discards input already buffered after the
 * command (pipelined plaintext must never be read as if it came over TLS:
 * CVE-2011-0411), sends the bytes queued so far in the clear, then starts
 * the TLS handshake; bytes queued after the call go over TLS.  A service
 * using a line reader on c->in does not need to line_reset it: the reader
 * notices that the buffer shrank.
 *
 * COMPRESS: a raw DEFLATE layer between c->in/c->out and the socket (or
 * TLS: compress, then encrypt).  conn_compress_prepare charges zlib's
 * state to the connection region (compress.h: about 78 KiB) so that a
 * refusal can still be answered in the clear; conn_compress drops input
 * pipelined after the command (as STARTTLS does), lets the bytes queued so
 * far (the 206) go as they are (plain_left), and compresses the rest.
 * Output: c->out keeps what the service queued, uncompressed, so the
 * write budget and back-pressure mean what they meant; conn_write does
 * not send at once but defers to the end of the round, when conn_flush
 * deflates the whole queue into c->zout (at most CONN_ZOUT_BYTES, refilled
 * only when empty, so a TLS retry sees the same bytes) with a sync flush,
 * so the peer can decode each batch of replies as soon as it arrives
 * (RFC 8054 2.2.2).  Input: each read (a whole CONN_ZIN_BYTES chunk) is
 * inflated into c->in only as far as c->in has room, CONN_ZIN_STEP_BYTES
 * at a time; what does not fit waits in c->zin and nothing more is read
 * until it has been inflated, so a decompression bomb costs at most
 * read_max + CONN_ZIN_BYTES, however far it expands, and is swallowed a
 * bounded amount per wakeup (the kick timer resumes it, as for OpenSSL's
 * buffered records).  Corrupt input closes the connection, counted as
 * "compress_error".  A region cleanup (compress.c) ends zlib's streams.
 *
 * Known weaknesses: the per-address limit keys a whole IPv6 address, and a
 * peer owning a /64 has many.  The hash is a seeded mixer, not a PRF.  The
 * idle timer counts input only, so a slow sender that trickles a byte per
 * idle period keeps a connection (services bound commands and the whole
 * pre-login phase with conn_ready).  OpenSSL's memory is not charged to the
 * connection region (see tls.c); zlib's is.  RLIMIT_NOFILE is read once.  Input a
 * peer sends only after we closed draws a RST, which may cost it the unread
 * tail of our reply; we do not wait for input that is not already there.
 * conn_printf of a text of CONN_PRINTF_STACK_BYTES or more needs one byte
 * of queue room beyond the text.  What the service holds in the region
 * leaves less for the buffers, so conn_write can fail with ENOMEM before
 * the write budget's ENOBUFS.  COMPRESS: a compressed connection holds its
 * zlib state (about 78 KiB) until it closes, idle or not; output waits for
 * the end of the round even when the socket could take it at once; the
 * write budget counts uncompressed bytes, so a peer's reads are not
 * what fills it; c->zout and c->zin come on top of it (16 KiB each, while
 * in use).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "compress.h"
#include "conn.h"
#include "hf_limits.h"
#include "log.h"
#include "loop.h"
#include "region.h"
#include "stats.h"
#include "timer.h"
#include "tls.h"

/* Accepts per listener wakeup: fairness to live connections in a flood. */
#define CONN_ACCEPT_BATCH            64
/* Reads per connection wakeup: fairness among connections. */
#define CONN_READ_CHUNKS_PER_WAKEUP  4
/* After accept4 says EMFILE/ENFILE: how long the listener rests. */
#define CONN_FD_PAUSE_MS             100
/* conn_printf formats this much on the stack before asking the region. */
#define CONN_PRINTF_STACK_BYTES      512
/* "[" INET6_ADDRSTRLEN "]:" 5 digits NUL, rounded up. */
#define CONN_PEER_NAME_BYTES         64
/* Smallest per-address table; a power of two. */
#define CONN_ADDR_TABLE_MIN          16
/* COMPRESS: compressed output produced ahead of the socket (one TLS
 * record's worth), and compressed input held back while c->in is full
 * (at most one read, since nothing is read while any is held). */
#define CONN_ZOUT_BYTES              CONN_READ_CHUNK_BYTES
#define CONN_ZIN_BYTES               CONN_READ_CHUNK_BYTES
/* COMPRESS: c->in grows by at most this much per inflate step, so a
 * short command does not cost a whole read_max buffer. */
#define CONN_ZIN_STEP_BYTES          4096

enum conn_tls_state {
	CONN_TLS_NONE,
	CONN_TLS_HANDSHAKE,
	CONN_TLS_ON,
	CONN_TLS_SHUTDOWN,   /* close_notify being sent */
	CONN_TLS_DONE,       /* close_notify sent (or impossible) */
};

enum conn_timer_kind {
	CONN_TIMER_HANDSHAKE,
	CONN_TIMER_IDLE,
	CONN_TIMER_LINGER,
};

struct addr_slot {
	uint8_t key[16];
	uint32_t count;      /* 0: empty slot */
};

struct listener {
	struct server *s;
	struct loop_io io;
	int fd;              /* -1: slot unused or closed */
	int implicit_tls;
};

struct server {
	struct loop *loop;
	struct region *worker;
	struct server_conf cf;
	const struct conn_ops *ops;
	void *service_data;
	struct stats_page *stats;
	struct listener listeners[SERVICE_LISTENERS_MAX];
	size_t nlisteners;
	struct conn *conns;
	size_t nconns;
	struct addr_slot *addrs;
	size_t addr_cap;     /* power of two, >= 2 * max_connections */
	uint64_t hash_k0, hash_k1;
	rlim_t nofile;
	struct timer fd_pause;
	int shutting_down;
	int paused_service;
	int paused_fds;
};

struct conn {
	struct conn *prev, *next;   /* server's list of live connections */
	struct server *s;
	struct region *region;
	int fd;
	struct loop_io io;
	struct buf in;
	struct buf out;
	struct tls *tls;
	enum conn_tls_state tls_state;
	enum conn_timer_kind timer_kind;
	struct timer timer;
	struct timer kick;
	struct loop_defer redeliver;
	struct loop_defer finish;
	struct loop_defer close_defer;
	size_t plain_left;          /* STARTTLS, COMPRESS: queued bytes still to send as they are */
	struct zcomp *z;            /* COMPRESS: zlib state (prepared or on) */
	struct buf zin;             /* COMPRESS: received, not yet inflated (c->in full) */
	struct buf zout;            /* COMPRESS: compressed, not yet sent */
	struct loop_defer zflush;   /* COMPRESS: compress and send at the end of the round */
	void *data;
	struct sockaddr_storage peer;
	uint8_t addr_key[16];
	char peer_name[CONN_PEER_NAME_BYTES];
	unsigned opened : 1;        /* on_open was called: on_close will be */
	unsigned ready : 1;
	unsigned closing : 1;
	unsigned flushing : 1;
	unsigned lingering : 1;     /* write side shut; discarding input */
	unsigned eof : 1;
	unsigned delivering : 1;    /* inside on_read: c->in is borrowed */
	unsigned paused_service : 1;
	unsigned paused_bp : 1;
	unsigned starttls_pending : 1;
	unsigned tls_want_write : 1;       /* handshake/shutdown waits for EPOLLOUT */
	unsigned tls_read_wants_write : 1;
	unsigned tls_write_wants_read : 1;
	unsigned counted : 1;       /* in nconns and the address table */
	unsigned compress_in : 1;   /* input is inflated */
	unsigned compress_pending : 1; /* output: plain_left bytes, then compressed */
	unsigned compress_out : 1;  /* output is deflated */
	unsigned zin_more : 1;      /* inflate may hold output (c->in filled up) */
	unsigned zout_more : 1;     /* deflate may hold output (c->zout filled up) */
};

/* Single-threaded worker: one scratch for every read (see the top). */
static uint8_t conn_scratch[CONN_READ_CHUNK_BYTES];

static void conn_update(struct conn *c);
static int conn_flush(struct conn *c);
static void conn_read(struct conn *c);

void
server_conf_defaults(struct server_conf *cf)
{
	memset(cf, 0, sizeof *cf);
	cf->conn_budget_bytes = CONN_DEFAULT_BUDGET_BYTES;
	cf->read_max_bytes = CONN_DEFAULT_READ_MAX_BYTES;
	cf->wqueue_max_bytes = CONN_DEFAULT_WQUEUE_BYTES;
	cf->max_connections = CONN_DEFAULT_MAX;
	cf->max_per_addr = CONN_DEFAULT_MAX_PER_ADDR;
	cf->idle_ms = CONN_DEFAULT_IDLE_MS;
	cf->handshake_ms = CONN_DEFAULT_HANDSHAKE_MS;
	cf->tls = NULL;
}

/* ---- per-address table ---- */

static uint64_t
addr_mix(uint64_t x)
{
	/* MurmurHash3's 64-bit finaliser: every input bit reaches every
	 * output bit, so the seed scatters clustered addresses. */
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static size_t
addr_home(const struct server *s, const uint8_t key[16])
{
	uint64_t a, b;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	return (size_t)addr_mix(addr_mix(a ^ s->hash_k0) ^ b ^ s->hash_k1) & (s->addr_cap - 1);
}

static void
addr_key_of(const struct sockaddr_storage *ss, uint8_t key[16])
{
	memset(key, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ss;

		key[10] = 0xff;
		key[11] = 0xff;
		memcpy(key + 12, &sin->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)ss;

		memcpy(key, &sin6->sin6_addr, 16);
	}
	/* Anything else (AF_UNIX) shares the all-zero key. */
}

/* The live slot for key, or NULL. */
static struct addr_slot *
addr_find(struct server *s, const uint8_t key[16])
{
	size_t mask = s->addr_cap - 1, i = addr_home(s, key);

	for (;;) {
		struct addr_slot *e = &s->addrs[i];

		if (e->count == 0)
			return NULL;
		if (memcmp(e->key, key, 16) == 0)
			return e;
		i = (i + 1) & mask;
	}
}

static uint32_t
addr_count(struct server *s, const uint8_t key[16])
{
	struct addr_slot *e = addr_find(s, key);

	return e ? e->count : 0;
}

static void
addr_inc(struct server *s, const uint8_t key[16])
{
	size_t mask = s->addr_cap - 1, i = addr_home(s, key);

	for (;;) {
		struct addr_slot *e = &s->addrs[i];

		if (e->count == 0) {
			memcpy(e->key, key, 16);
			e->count = 1;
			return;
		}
		if (memcmp(e->key, key, 16) == 0) {
			e->count++;
			return;
		}
		i = (i + 1) & mask;
	}
}

static void
addr_dec(struct server *s, const uint8_t key[16])
{
	struct addr_slot *e = addr_find(s, key);
	size_t mask = s->addr_cap - 1, i, j;

	if (e == NULL)
		return;
	if (--e->count > 0)
		return;
	/* Backward-shift deletion: pull later members of the probe run into
	 * the hole unless that would move them before their home slot. */
	i = (size_t)(e - s->addrs);
	j = i;
	for (;;) {
		size_t k;

		j = (j + 1) & mask;
		if (s->addrs[j].count == 0)
			break;
		k = addr_home(s, s->addrs[j].key);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		s->addrs[i] = s->addrs[j];
		s->addrs[j].count = 0;
		i = j;
	}
	s->addrs[i].count = 0;
}

/* ---- server ---- */

static void
server_stats_update(struct server *s)
{
	if (!s->stats)
		return;
	s->stats->region_bytes = region_used(s->worker);
	s->stats->region_peak_bytes = region_peak(s->worker);
	s->stats->budget_bytes = region_budget(s->worker);
}

static void server_accept_cb(struct loop_io *io, uint32_t events, void *arg);

/* Polls every listener exactly when accepting is allowed. */
static void
server_listen_update(struct server *s)
{
	int want = !s->shutting_down && !s->paused_service && !s->paused_fds;
	size_t i;

	for (i = 0; i < s->nlisteners; i++) {
		struct listener *li = &s->listeners[i];

		if (li->fd < 0)
			continue;
		if (want && li->io.fd < 0) {
			if (loop_io_add(s->loop, &li->io, li->fd, EPOLLIN, server_accept_cb, li) < 0)
				log_err("listener fd %d: epoll: %s", li->fd, strerror(errno));
		} else if (!want && li->io.fd >= 0) {
			loop_io_del(s->loop, &li->io);
		}
	}
}

static void
server_fd_pause_end(struct timer *t, void *arg)
{
	struct server *s = arg;

	s->paused_fds = 0;
	server_listen_update(s);
}

static void
server_fd_pause(struct server *s)
{
	if (s->paused_fds)
		return;
	s->paused_fds = 1;
	if (loop_timer_set(s->loop, &s->fd_pause, CONN_FD_PAUSE_MS) < 0) {
		/* Without a timer the pause would never end; spinning on
		 * the backlog is the lesser evil. */
		s->paused_fds = 0;
		return;
	}
	server_listen_update(s);
}

static void
server_close_listeners(struct server *s)
{
	size_t i;

	for (i = 0; i < s->nlisteners; i++) {
		struct listener *li = &s->listeners[i];

		loop_io_del(s->loop, &li->io);
		if (li->fd >= 0)
			close(li->fd);
		li->fd = -1;
	}
}

/* Worker region released (the worker exits): the connections, children of
 * that region, are gone already. */
static void
server_cleanup(void *arg)
{
	struct server *s = arg;

	loop_timer_cancel(s->loop, &s->fd_pause);
	server_close_listeners(s);
}

static void
server_seed(struct server *s)
{
	uint64_t k[2];

	if (getrandom(k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
		/* Early boot without entropy: still differs per process. */
		k[0] = clock_ms() ^ ((uint64_t)getpid() << 32);
		k[1] = (uint64_t)(uintptr_t)s ^ 0x9e3779b97f4a7c15ULL;
	}
	s->hash_k0 = k[0];
	s->hash_k1 = k[1];
}

struct server *
server_new(struct loop *l, struct region *worker_region, const struct server_conf *cf,
           const struct conn_ops *ops, void *service_data, struct stats_page *stats)
{
	struct server *s;
	struct rlimit rl;
	size_t cap = CONN_ADDR_TABLE_MIN, i;

	if (!l || !worker_region || !cf || !ops || !ops->on_read) {
		errno = EINVAL;
		return NULL;
	}
	while (cap / 2 < cf->max_connections) {
		if (cap > SIZE_MAX / 2 / sizeof(struct addr_slot)) {
			errno = EINVAL;
			return NULL;
		}
		cap *= 2;
	}
	if ((s = region_zalloc(worker_region, sizeof *s)) == NULL)
		return NULL;
	if ((s->addrs = region_zalloc(worker_region, cap * sizeof *s->addrs)) == NULL) {
		region_free(worker_region, s);
		errno = ENOMEM;
		return NULL;
	}
	if (region_on_release(worker_region, server_cleanup, s) < 0) {
		region_free(worker_region, s->addrs);
		region_free(worker_region, s);
		errno = ENOMEM;
		return NULL;
	}
	s->loop = l;
	s->worker = worker_region;
	s->cf = *cf;
	s->ops = ops;
	s->service_data = service_data;
	s->stats = stats;
	s->addr_cap = cap;
	server_seed(s);
	s->nofile = RLIM_INFINITY;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		s->nofile = rl.rlim_cur;
	for (i = 0; i < SERVICE_LISTENERS_MAX; i++) {
		s->listeners[i].s = s;
		s->listeners[i].fd = -1;
		loop_io_init(&s->listeners[i].io);
	}
	timer_init(&s->fd_pause, server_fd_pause_end, s);
	server_stats_update(s);
	return s;
}

int
server_add_listener(struct server *s, int fd, int implicit_tls)
{
	struct listener *li;
	int fl;

	if (fd < 0 || (implicit_tls && s->cf.tls == NULL) || s->shutting_down) {
		errno = EINVAL;
		return -1;
	}
	if (s->nlisteners >= SERVICE_LISTENERS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	li = &s->listeners[s->nlisteners++];
	li->fd = fd;
	li->implicit_tls = implicit_tls != 0;
	server_listen_update(s);
	if (!s->paused_service && !s->paused_fds && li->io.fd < 0) {
		/* epoll refused it: give the slot back, the caller owns fd. */
		li->fd = -1;
		s->nlisteners--;
		return -1;
	}
	return 0;
}

size_t
server_conn_count(const struct server *s)
{
	return s->nconns;
}

void
server_pause_accept(struct server *s)
{
	s->paused_service = 1;
	server_listen_update(s);
}

void
server_resume_accept(struct server *s)
{
	s->paused_service = 0;
	server_listen_update(s);
}

void
server_shutdown(struct server *s)
{
	struct conn *c, *next;

	s->shutting_down = 1;
	loop_timer_cancel(s->loop, &s->fd_pause);
	/* The worker is on its way out: nothing will accept on these again. */
	server_close_listeners(s);
	/* Closing is deferred, so the list stays intact while we walk it. */
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		conn_close_after_flush(c);
	}
}

/* ---- connection lifetime ---- */

static void
conn_link(struct conn *c)
{
	struct server *s = c->s;

	c->prev = NULL;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	addr_inc(s, c->addr_key);
	s->nconns++;
	c->counted = 1;
	if (s->stats)
		s->stats->connections++;
}

static void
conn_unlink(struct conn *c)
{
	struct server *s = c->s;

	if (!c->counted)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	addr_dec(s, c->addr_key);
	s->nconns--;
	c->counted = 0;
	if (s->stats && s->stats->connections > 0)
		s->stats->connections--;
}

/* The one cleanup on the connection region: whatever path releases it. */
static void
conn_on_release(void *arg)
{
	struct conn *c = arg;
	struct loop *l = c->s->loop;

	loop_io_del(l, &c->io);
	loop_timer_cancel(l, &c->timer);
	loop_timer_cancel(l, &c->kick);
	loop_defer_cancel(l, &c->redeliver);
	loop_defer_cancel(l, &c->finish);
	loop_defer_cancel(l, &c->close_defer);
	loop_defer_cancel(l, &c->zflush);
	if (c->tls) {
		tls_free(c->tls);
		c->tls = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	conn_unlink(c);
}

static void
conn_close_deferred(void *arg)
{
	struct conn *c = arg;
	struct server *s = c->s;
	struct region *r = c->region;
#ifdef HF_DEBUG
	size_t worker_before, held;
#endif

	if (c->opened && s->ops->on_close)
		s->ops->on_close(c);
#ifdef HF_DEBUG
	/* Everything a connection costs must hang on its own region: the
	 * worker gets back exactly the child's charge and its header. */
	worker_before = region_used(s->worker);
	held = region_used(r) + region_self_overhead();
#endif
	region_release(r);
#ifdef HF_DEBUG
	if (worker_before - region_used(s->worker) != held) {
		fprintf(stderr, "conn: worker region %s dropped by %zu at close, connection held %zu\n",
		        region_name(s->worker), worker_before - region_used(s->worker), held);
		abort();
	}
#endif
	server_stats_update(s);
}

void
conn_close(struct conn *c)
{
	struct loop *l = c->s->loop;

	if (c->closing)
		return;
	c->closing = 1;
	loop_io_del(l, &c->io);
	loop_timer_cancel(l, &c->timer);
	loop_timer_cancel(l, &c->kick);
	loop_defer_cancel(l, &c->redeliver);
	loop_defer_cancel(l, &c->finish);
	loop_defer_cancel(l, &c->zflush);
	loop_defer(l, &c->close_defer, conn_close_deferred, c);
}

int
conn_closing(const struct conn *c)
{
	return c->closing || c->flushing;
}

static int
conn_can_read(const struct conn *c)
{
	return c->opened && !c->closing && !c->flushing && !c->lingering && !c->eof &&
	       !c->paused_service && !c->paused_bp && !c->starttls_pending &&
	       (c->tls_state == CONN_TLS_NONE || c->tls_state == CONN_TLS_ON) &&
	       buf_room(&c->in) > 0;
}

/* Output not yet on the socket: queued, compressed, or inside zlib. */
static size_t
conn_out_pending(const struct conn *c)
{
	return buf_len(&c->out) + buf_len(&c->zout) + c->zout_more;
}

/* Input held where epoll cannot see it: inside OpenSSL, or compressed
 * input waiting for room in c->in. */
static int
conn_input_hidden(const struct conn *c)
{
	return c->tls != NULL || buf_len(&c->zin) > 0 || c->zin_more;
}

/* Sets the epoll mask from the state; every entry point ends here. */
static void
conn_update(struct conn *c)
{
	uint32_t ev = 0;

	if (c->closing || c->io.fd < 0)
		return;
	if (c->tls_state == CONN_TLS_HANDSHAKE || c->tls_state == CONN_TLS_SHUTDOWN) {
		ev = c->tls_want_write ? EPOLLOUT : EPOLLIN;
	} else if (c->lingering) {
		ev = EPOLLIN;
	} else {
		if (conn_can_read(c) || c->tls_write_wants_read)
			ev |= EPOLLIN;
		if ((conn_out_pending(c) > 0 && !c->tls_write_wants_read) || c->tls_read_wants_write)
			ev |= EPOLLOUT;
	}
	if (loop_io_mod(c->s->loop, &c->io, ev) < 0)
		conn_close(c);
}

static int
conn_arm(struct conn *c, enum conn_timer_kind kind, uint64_t ms)
{
	c->timer_kind = kind;
	if (ms == 0 && kind != CONN_TIMER_LINGER) {
		/* 0 in the configuration: no such timeout. */
		loop_timer_cancel(c->s->loop, &c->timer);
		return 0;
	}
	return loop_timer_set(c->s->loop, &c->timer, ms);
}

/* Calls on_read on what c->in holds.  -1 if the connection is closing. */
static int
conn_deliver(struct conn *c)
{
	int rc;

	c->delivering = 1;
	rc = c->s->ops->on_read(c, &c->in);
	c->delivering = 0;
	/* Three stores: cheap enough to keep the published usage current
	 * after every command, not only at the worker's next refresh. */
	server_stats_update(c->s);
	if (rc < 0) {
		conn_close(c);
		return -1;
	}
	if (c->closing)
		return -1;
	/* Idle connections hold no buffer; a closing one wants no input.
	 * While compressed input waits to be inflated, the buffer is about
	 * to be refilled: kept, not freed and allocated again at every step
	 * of a long inflation (a bomb would churn the allocator). */
	if (c->flushing || (buf_len(&c->in) == 0 && buf_len(&c->zin) == 0 && !c->zin_more))
		buf_reset(&c->in);
	return 0;
}

static void
conn_peer_eof(struct conn *c)
{
	c->eof = 1;
	if (buf_len(&c->in) > 0 && c->s->ops->on_eof) {
		c->s->ops->on_eof(c);
		if (c->closing)
			return;
	}
	conn_close_after_flush(c);
}

/* Re-delivers input buffered while reading was paused. */
static void
conn_redeliver_cb(void *arg)
{
	struct conn *c = arg;

	if (c->closing)
		return;
	if (conn_can_read(c) && buf_len(&c->in) > 0 && conn_deliver(c) < 0)
		return;
	/* Bytes OpenSSL or the inflater hold do not wake epoll. */
	if (conn_input_hidden(c) && conn_can_read(c))
		loop_timer_set(c->s->loop, &c->kick, 0);
	conn_update(c);
}

static void
conn_kick_cb(struct timer *t, void *arg)
{
	struct conn *c = arg;

	if (c->closing)
		return;
	if (conn_can_read(c))
		conn_read(c);
	if (!c->closing)
		conn_update(c);
}

/* Back-pressure with hysteresis: stop reading at half the write budget
 * (conn_wqueue_over, the services' own test), start again below a
 * quarter.  (It was "len > max / 2" while services stopped at
 * "len >= room": at exactly half, a service left its input in c->in and
 * conn, not paused, never re-delivered it; the tunnel's back-pressure
 * test stalled on it once in CI.) */
static void
conn_wqueue_check(struct conn *c)
{
	size_t len = buf_len(&c->out) + buf_len(&c->zout), max = c->s->cf.wqueue_max_bytes;

	if (!c->paused_bp) {
		if (conn_wqueue_over(c))
			c->paused_bp = 1;
		return;
	}
	if (len < max / 4 || len == 0) {
		c->paused_bp = 0;
		if (buf_len(&c->in) > 0 || conn_input_hidden(c))
			loop_defer(c->s->loop, &c->redeliver, conn_redeliver_cb, c);
	}
}

static void conn_finish_cb(void *arg);
static void conn_linger_drain(struct conn *c, int first);

static int
conn_tls_begin(struct conn *c)
{
	c->starttls_pending = 0;
	c->tls = tls_new(c->s->cf.tls, c->fd);
	if (c->tls == NULL) {
		conn_reject(c, "tls_handshake");
		conn_close(c);
		return -1;
	}
	c->tls_state = CONN_TLS_HANDSHAKE;
	c->tls_want_write = 0;
	/* The handshake is bounded like the first one; before conn_ready the
	 * accept-time timer keeps running (no extension by STARTTLS). */
	if (c->ready && conn_arm(c, CONN_TIMER_HANDSHAKE, c->s->cf.handshake_ms) < 0) {
		conn_close(c);
		return -1;
	}
	return 0;
}

/* COMPRESS: deflates what is queued into c->zout (empty), ending with a
 * sync flush, so the peer can decode every response as soon as it has
 * it.  -1 if the connection is closing. */
static int
conn_deflate(struct conn *c)
{
	static struct log_rate rate;
	size_t len = buf_len(&c->out), want, used, made;
	int rc;

	if (len == 0 && !c->zout_more)
		return 0;
	/* Room for what this queue usually compresses to; a longer output
	 * comes out in more steps (ZCOMP_MORE). */
	want = c->zout_more ? CONN_ZOUT_BYTES : len + len / 8 + 64;
	if (want > CONN_ZOUT_BYTES)
		want = CONN_ZOUT_BYTES;
	if (buf_reserve(&c->zout, want) < 0) {
		conn_reject(c, "conn_budget");
		conn_close(c);
		return -1;
	}
	rc = zcomp_deflate(c->z, buf_data(&c->out), len, &used, buf_tail(&c->zout), want, &made);
	if (rc == ZCOMP_ERROR) {
		log_rated(&rate, LOG_LVL_WARN, "%s: compress: %s", c->peer_name, zcomp_last_error(c->z));
		conn_close(c);
		return -1;
	}
	buf_commit(&c->zout, made);
	buf_consume(&c->out, used);
	c->zout_more = rc == ZCOMP_MORE;
	return 0;
}

/* Sends what is queued, as far as the socket takes it.  -1 if the
 * connection is closing. */
static int
conn_flush(struct conn *c)
{
	for (;;) {
		struct buf *b = &c->out;
		size_t n;
		ssize_t w;

		if (c->tls_state == CONN_TLS_HANDSHAKE || c->tls_state == CONN_TLS_SHUTDOWN ||
		    c->tls_state == CONN_TLS_DONE || c->lingering)
			break;
		if (c->compress_out) {
			/* Only an empty c->zout is refilled: after a TLS WANT
			 * the same bytes are offered again. */
			if (buf_len(&c->zout) == 0 && conn_deflate(c) < 0)
				return -1;
			b = &c->zout;
		}
		if ((n = buf_len(b)) == 0)
			break;
		if (c->starttls_pending || c->compress_pending) {
			if (c->plain_left == 0)
				break;
			if (n > c->plain_left)
				n = c->plain_left;
		}
		if (c->tls_state == CONN_TLS_ON) {
			/* After a WANT, n is at least what was tried: the queue
			 * only grows at the tail until a write succeeds. */
			w = tls_write(c->tls, buf_data(b), n);
			if (w == TLS_WANT_WRITE)
				break;
			if (w == TLS_WANT_READ) {
				c->tls_write_wants_read = 1;
				break;
			}
			if (w <= 0) {
				conn_close(c);
				return -1;
			}
		} else {
			w = send(c->fd, buf_data(b), n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				conn_close(c);
				return -1;
			}
		}
		buf_consume(b, (size_t)w);
		if (c->starttls_pending || c->compress_pending)
			c->plain_left -= (size_t)w;
		if (c->compress_pending && c->plain_left == 0) {
			/* The 206 is out: compress from here on. */
			c->compress_pending = 0;
			c->compress_out = 1;
		}
	}
	if (buf_len(&c->zout) == 0)
		buf_reset(&c->zout);
	if (buf_len(&c->out) == 0)
		buf_reset(&c->out);
	conn_wqueue_check(c);
	if (c->starttls_pending && c->plain_left == 0) {
		if (c->flushing) {
			/* Closing: what was meant to go over TLS cannot. */
			c->starttls_pending = 0;
			buf_reset(&c->out);
		} else if (conn_tls_begin(c) < 0) {
			return -1;
		}
	}
	if (c->flushing && !c->lingering && conn_out_pending(c) == 0)
		loop_defer(c->s->loop, &c->finish, conn_finish_cb, c);
	return 0;
}

/* Graceful close, once the queue is empty: close_notify, then FIN, then
 * drain the peer's input (see conn_linger_drain), all under the linger
 * timer. */
static void
conn_finish_cb(void *arg)
{
	struct conn *c = arg;
	int rc;

	if (c->closing || !c->flushing || c->lingering || conn_out_pending(c) > 0)
		return;
	if (c->tls_state == CONN_TLS_ON || c->tls_state == CONN_TLS_SHUTDOWN) {
		c->tls_state = CONN_TLS_SHUTDOWN;
		rc = tls_shutdown(c->tls);
		if (rc == TLS_WANT_WRITE || rc == TLS_WANT_READ) {
			c->tls_want_write = rc == TLS_WANT_WRITE;
			conn_update(c);
			return;
		}
		c->tls_state = CONN_TLS_DONE;
	}
	if (c->eof || shutdown(c->fd, SHUT_WR) < 0) {
		conn_close(c);
		return;
	}
	c->lingering = 1;
	conn_linger_drain(c, 1);
	if (!c->closing)
		conn_update(c);
}

/* Reads and drops what the peer sends after our FIN.  first: right after
 * the shutdown, when an empty receive queue means close() sends a plain
 * FIN after our data and nothing is worth waiting for. */
static void
conn_linger_drain(struct conn *c, int first)
{
	int i, got = 0;

	for (i = 0; i < CONN_READ_CHUNKS_PER_WAKEUP; i++) {
		ssize_t n = read(c->fd, conn_scratch, sizeof conn_scratch);

		if (n > 0) {
			got = 1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (first && !got)
				conn_close(c);
			return;
		}
		conn_close(c);  /* the peer's FIN (or an error): done */
		return;
	}
}

void
conn_close_after_flush(struct conn *c)
{
	if (c->closing || c->flushing)
		return;
	if (c->tls_state == CONN_TLS_HANDSHAKE) {
		/* Nothing can be sent before the handshake completes. */
		conn_close(c);
		return;
	}
	c->flushing = 1;
	loop_timer_cancel(c->s->loop, &c->kick);
	loop_defer_cancel(c->s->loop, &c->redeliver);
	if (conn_arm(c, CONN_TIMER_LINGER, CONN_CLOSE_LINGER_MS) < 0) {
		conn_close(c);
		return;
	}
	/* Inside on_read the service may still hold lines pointing into
	 * c->in; conn_deliver drops it on return. */
	if (!c->delivering)
		buf_reset(&c->in);
	buf_reset(&c->zin);
	c->zin_more = 0;
	if (conn_flush(c) < 0)
		return;
	conn_update(c);
}

static void
conn_timer_cb(struct timer *t, void *arg)
{
	struct conn *c = arg;
	enum conn_timeout which;

	if (c->closing)
		return;
	if (c->timer_kind == CONN_TIMER_LINGER) {
		conn_close(c);
		return;
	}
	which = c->timer_kind == CONN_TIMER_HANDSHAKE ? CONN_TIMEOUT_HANDSHAKE : CONN_TIMEOUT_IDLE;
	/* No service callback before on_open (implicit TLS handshake). */
	if (c->opened && c->s->ops->on_timeout) {
		c->s->ops->on_timeout(c, which);
		if (c->closing)
			return;
	}
	conn_close_after_flush(c);
}

static void
conn_open(struct conn *c)
{
	c->opened = 1;
	if (c->s->ops->on_open && c->s->ops->on_open(c) < 0) {
		conn_close(c);
		return;
	}
	conn_update(c);
}

static void
conn_tls_handshake(struct conn *c)
{
	static struct log_rate rate;
	int rc = tls_handshake(c->tls);

	if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
		c->tls_want_write = rc == TLS_WANT_WRITE;
		conn_update(c);
		return;
	}
	if (rc != 0) {
		log_rated(&rate, LOG_LVL_INFO, "%s: TLS handshake: %s", c->peer_name, tls_last_error(c->tls));
		conn_reject(c, "tls_handshake");
		conn_close(c);
		return;
	}
	c->tls_state = CONN_TLS_ON;
	c->tls_want_write = 0;
	if (c->ready && conn_arm(c, CONN_TIMER_IDLE, c->s->cf.idle_ms) < 0) {
		conn_close(c);
		return;
	}
	if (!c->opened) {
		conn_open(c);
		if (c->closing)
			return;
	}
	/* Output queued during the handshake goes now; application data
	 * that came with the client's last flight may sit inside OpenSSL,
	 * where epoll cannot see it, so read at once (WANT_READ if none). */
	if (conn_flush(c) < 0)
		return;
	if (conn_can_read(c))
		conn_read(c);
	if (!c->closing)
		conn_update(c);
}

/* COMPRESS: inflates p[0..n) into c->in as far as it has room (never
 * beyond read_max, whatever the input would expand to); what does not fit
 * waits in c->zin, and reading stops until c->in has room again.  p may
 * be c->zin's own data.  -1 if the connection is closing. */
static int
conn_inflate(struct conn *c, const uint8_t *p, size_t n)
{
	static struct log_rate rate;
	size_t taken = 0, made = 0;
	int rc = ZCOMP_OK;

	for (;;) {
		size_t room = buf_room(&c->in), used, got;

		if (room == 0)
			break;
		if (room > CONN_ZIN_STEP_BYTES)
			room = CONN_ZIN_STEP_BYTES;
		if (buf_reserve(&c->in, room) < 0) {
			conn_reject(c, "conn_budget");
			conn_close(c);
			return -1;
		}
		rc = zcomp_inflate(c->z, p + taken, n - taken, &used, buf_tail(&c->in), room, &got);
		if (rc == ZCOMP_ERROR) {
			log_rated(&rate, LOG_LVL_INFO, "%s: compressed input: %s", c->peer_name,
			          zcomp_last_error(c->z));
			conn_reject(c, "compress_error");
			conn_close(c);
			return -1;
		}
		buf_commit(&c->in, got);
		taken += used;
		made += got;
		if (rc == ZCOMP_OK)
			break;
	}
	c->zin_more = rc == ZCOMP_MORE;
	if (p == buf_data(&c->zin)) {
		buf_consume(&c->zin, taken);
		if (buf_len(&c->zin) == 0)
			buf_reset(&c->zin);
	} else if (taken < n && buf_append(&c->zin, p + taken, n - taken) < 0) {
		conn_reject(c, "conn_budget");
		conn_close(c);
		return -1;
	}
	if (made > 0)
		return conn_deliver(c);
	if (buf_len(&c->in) == 0)
		buf_reset(&c->in);
	return 0;
}

static void
conn_read(struct conn *c)
{
	int i;

	for (i = 0; i < CONN_READ_CHUNKS_PER_WAKEUP; i++) {
		size_t want;
		ssize_t n;

		if (!conn_can_read(c))
			return;
		if (c->compress_in && (buf_len(&c->zin) > 0 || c->zin_more)) {
			/* Held-back input first; nothing new is read until it
			 * has all been inflated. */
			if (conn_inflate(c, buf_data(&c->zin), buf_len(&c->zin)) < 0)
				return;
			continue;
		}
		/* Compressed input is read a whole chunk at a time: it is
		 * inflated only as far as c->in has room. */
		want = c->compress_in ? CONN_ZIN_BYTES : buf_room(&c->in);
		if (want > sizeof conn_scratch)
			want = sizeof conn_scratch;
		if (c->tls) {
			n = tls_read(c->tls, conn_scratch, want);
			if (n == TLS_WANT_READ)
				return;
			if (n == TLS_WANT_WRITE) {
				c->tls_read_wants_write = 1;
				return;
			}
			if (n == TLS_EOF) {
				conn_peer_eof(c);
				return;
			}
			if (n <= 0) {
				conn_close(c);
				return;
			}
		} else {
			n = read(c->fd, conn_scratch, want);
			if (n == 0) {
				conn_peer_eof(c);
				return;
			}
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					conn_close(c);
				return;
			}
		}
		if (c->ready && c->timer_kind == CONN_TIMER_IDLE && c->s->cf.idle_ms > 0)
			loop_timer_set(c->s->loop, &c->timer, c->s->cf.idle_ms);
		if (c->compress_in) {
			if (conn_inflate(c, conn_scratch, (size_t)n) < 0)
				return;
		} else {
			if (buf_append(&c->in, conn_scratch, (size_t)n) < 0) {
				/* The region is spent: the bytes are read and
				 * cannot be kept, so the stream cannot continue. */
				conn_reject(c, "conn_budget");
				conn_close(c);
				return;
			}
			if (conn_deliver(c) < 0)
				return;
		}
		/* A short read drained the socket; TLS returns a record at a
		 * time, so only WANT_READ says that. */
		if (!c->tls && (size_t)n < want)
			break;
	}
	/* Input epoll cannot report (OpenSSL's, or held back for want of
	 * room in c->in): another round, so that other connections get
	 * their turn in between. */
	if (conn_can_read(c) && ((c->tls && tls_pending(c->tls) > 0) || buf_len(&c->zin) > 0 || c->zin_more))
		loop_timer_set(c->s->loop, &c->kick, 0);
}

static void
conn_io_cb(struct loop_io *io, uint32_t events, void *arg)
{
	struct conn *c = arg;
	int do_read = 0, do_write = 0;

	if (c->closing)
		return;
	if (events & EPOLLERR) {
		conn_close(c);
		return;
	}
	if (c->tls_state == CONN_TLS_HANDSHAKE) {
		conn_tls_handshake(c);
		return;
	}
	if (c->tls_state == CONN_TLS_SHUTDOWN) {
		conn_finish_cb(c);
		return;
	}
	if (c->lingering) {
		conn_linger_drain(c, 0);
		return;
	}
	if (events & EPOLLOUT) {
		do_write = 1;
		if (c->tls_read_wants_write) {
			c->tls_read_wants_write = 0;
			do_read = 1;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP)) {
		do_read = 1;
		if (c->tls_write_wants_read) {
			c->tls_write_wants_read = 0;
			do_write = 1;
		}
	}
	if (do_write && conn_flush(c) < 0)
		return;
	if (do_read) {
		if (conn_can_read(c)) {
			conn_read(c);
		} else if (events & EPOLLHUP) {
			/* Both directions are gone and we are not reading:
			 * nothing more can happen on this socket. */
			conn_close(c);
			return;
		}
	}
	if (!c->closing)
		conn_update(c);
}

static void
conn_peer_format(struct conn *c)
{
	char a[INET6_ADDRSTRLEN];

	if (c->peer.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)&c->peer;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof a);
		snprintf(c->peer_name, sizeof c->peer_name, "%s:%u", a, (unsigned)ntohs(sin->sin_port));
	} else if (c->peer.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)&c->peer;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof a);
		snprintf(c->peer_name, sizeof c->peer_name, "[%s]:%u", a, (unsigned)ntohs(sin6->sin6_port));
	} else {
		snprintf(c->peer_name, sizeof c->peer_name, "local");
	}
}

static void
server_refuse(struct server *s, int fd, enum refuse_reason why)
{
	static struct log_rate rate;

	close(fd);
	stats_refuse(s->stats, why);
	log_rated(&rate, LOG_LVL_INFO, "refused a connection: %s", refuse_reason_names[why]);
}

static void
server_admit(struct server *s, struct listener *li, int fd, const struct sockaddr_storage *ss)
{
	uint8_t key[16];
	struct region *r;
	struct conn *c;
	enum refuse_reason why;

	addr_key_of(ss, key);
	if (s->shutting_down) {
		why = REFUSE_SHUTDOWN;
		goto refuse;
	}
	if (s->nconns >= s->cf.max_connections) {
		why = REFUSE_GLOBAL_LIMIT;
		goto refuse;
	}
	if (addr_count(s, key) >= s->cf.max_per_addr) {
		why = REFUSE_ADDR_LIMIT;
		goto refuse;
	}
	if (s->nofile != RLIM_INFINITY && (rlim_t)fd + CONN_FD_RESERVE >= s->nofile) {
		why = REFUSE_FDS;
		goto refuse;
	}
	why = REFUSE_BUDGET;
	if ((r = region_new(s->worker, "conn", s->cf.conn_budget_bytes)) == NULL)
		goto refuse;
	if ((c = region_zalloc(r, sizeof *c)) == NULL || region_on_release(r, conn_on_release, c) < 0) {
		region_release(r);
		goto refuse;
	}
	c->s = s;
	c->region = r;
	c->fd = fd;   /* from here on the region's cleanup closes it */
	c->peer = *ss;
	memcpy(c->addr_key, key, sizeof key);
	conn_peer_format(c);
	loop_io_init(&c->io);
	buf_init(&c->in, r, s->cf.read_max_bytes);
	buf_init(&c->out, r, s->cf.wqueue_max_bytes);
	timer_init(&c->timer, conn_timer_cb, c);
	timer_init(&c->kick, conn_kick_cb, c);
	conn_link(c);
	if (loop_io_add(s->loop, &c->io, fd, EPOLLIN, conn_io_cb, c) < 0 ||
	    conn_arm(c, CONN_TIMER_HANDSHAKE, s->cf.handshake_ms) < 0 ||
	    (li->implicit_tls && (c->tls = tls_new(s->cf.tls, fd)) == NULL)) {
		region_release(r);
		stats_refuse(s->stats, REFUSE_BUDGET);
		server_stats_update(s);
		return;
	}
	if (s->stats)
		s->stats->connections_total++;
	server_stats_update(s);
	if (li->implicit_tls) {
		/* on_open waits for the handshake. */
		c->tls_state = CONN_TLS_HANDSHAKE;
		return;
	}
	conn_open(c);
	return;
refuse:
	server_refuse(s, fd, why);
}

static void
server_accept_cb(struct loop_io *io, uint32_t events, void *arg)
{
	static struct log_rate rate;
	struct listener *li = arg;
	struct server *s = li->s;
	int i;

	for (i = 0; i < CONN_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd;

		/* A callback (on_open) may have paused or shut the server. */
		if (li->fd < 0 || li->io.fd < 0)
			return;
		memset(&ss, 0, sizeof ss);
		fd = accept4(li->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			switch (errno) {
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
			case EPERM:       /* a firewall rule said no */
				continue;
			case EAGAIN:
#if EWOULDBLOCK != EAGAIN
			case EWOULDBLOCK:
#endif
				return;
			case EMFILE:
			case ENFILE:
				stats_refuse(s->stats, REFUSE_FDS);
				log_rated(&rate, LOG_LVL_WARN, "accept: %s; pausing the listener", strerror(errno));
				server_fd_pause(s);
				return;
			default:
				/* ENOBUFS, ENOMEM: the kernel is short; rest too. */
				log_rated(&rate, LOG_LVL_WARN, "accept: %s; pausing the listener", strerror(errno));
				server_fd_pause(s);
				return;
			}
		}
		/* Output leaves in one write per burst of replies, so Nagle
		 * would only hold the last segment of each burst for the
		 * peer's delayed ACK (INN's 22 ARTICLE/s with ordinary
		 * clients).  Not fatal if refused (a unix socket). */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		server_admit(s, li, fd, &ss);
	}
}

/* ---- accessors ---- */

struct region *
conn_region(struct conn *c)
{
	return c->region;
}

struct loop *
conn_loop(struct conn *c)
{
	return c->s->loop;
}

void *
conn_service(struct conn *c)
{
	return c->s->service_data;
}

void
conn_set_data(struct conn *c, void *data)
{
	c->data = data;
}

void *
conn_data(struct conn *c)
{
	return c->data;
}

const char *
conn_peer_name(struct conn *c)
{
	return c->peer_name;
}

const struct sockaddr_storage *
conn_peer_addr(struct conn *c)
{
	return &c->peer;
}

int
conn_fd(struct conn *c)
{
	return c->fd;
}

size_t
conn_wqueue_len(const struct conn *c)
{
	/* With COMPRESS, what waits compressed counts too: a service that
	 * waits for the queue to drain waits for the socket. */
	return buf_len(&c->out) + buf_len(&c->zout);
}

size_t
conn_wqueue_room(const struct conn *c)
{
	return buf_room(&c->out);
}

int
conn_wqueue_over(const struct conn *c)
{
	return conn_wqueue_len(c) >= conn_wqueue_room(c);
}

int
conn_is_tls(const struct conn *c)
{
	return c->tls != NULL && c->tls_state != CONN_TLS_HANDSHAKE;
}

struct tls *
conn_tls(struct conn *c)
{
	return c->tls;
}

void
conn_reject(struct conn *c, const char *reason)
{
	stats_reject(c->s->stats, reason);
}

/* ---- service calls ---- */

static void
conn_zflush_cb(void *arg)
{
	struct conn *c = arg;

	if (c->closing)
		return;
	if (conn_flush(c) < 0)
		return;
	conn_update(c);
}

/* After bytes were added to c->out: send now if nothing was waiting
 * before (else the socket is known to be full).  Compressed output waits
 * for the end of the round, when the service has queued all it will: one
 * sync flush per batch of replies, not one per conn_write. */
static int
conn_queued(struct conn *c, int try_now)
{
	if (c->compress_pending || c->compress_out) {
		loop_defer(c->s->loop, &c->zflush, conn_zflush_cb, c);
		try_now = 0;
	}
	if (try_now) {
		if (conn_flush(c) < 0) {
			errno = EPIPE;
			return -1;
		}
	} else {
		conn_wqueue_check(c);
	}
	conn_update(c);
	return 0;
}

int
conn_write(struct conn *c, const void *p, size_t n)
{
	const uint8_t *q = p;
	int was_empty = buf_len(&c->out) == 0, tried = 0;

	if (c->closing || c->lingering) {
		errno = EPIPE;
		return -1;
	}
	if (n == 0)
		return 0;
	if (n > buf_room(&c->out)) {
		errno = ENOBUFS;
		return -1;
	}
	if (was_empty && c->tls_state == CONN_TLS_NONE && !c->starttls_pending && !c->compress_pending &&
	    !c->compress_out) {
		/* Nothing queued: straight to the socket, no copy. */
		ssize_t w;

		do
			w = send(c->fd, q, n, MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_close(c);
			errno = EPIPE;
			return -1;
		}
		tried = 1;
		if (w > 0) {
			q += w;
			n -= (size_t)w;
		}
		if (n == 0)
			return 0;
	}
	if (buf_append(&c->out, q, n) < 0) {
		if (tried && q != p) {
			/* Half a message is on the wire and the rest cannot
			 * follow: the stream is broken. */
			conn_close(c);
		}
		return -1;
	}
	return conn_queued(c, was_empty && !tried);
}

int
conn_printf(struct conn *c, const char *fmt, ...)
{
	char stack[CONN_PRINTF_STACK_BYTES];
	va_list ap;
	int n, was_empty;

	va_start(ap, fmt);
	n = vsnprintf(stack, sizeof stack, fmt, ap);
	va_end(ap);
	if (n < 0) {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)n < sizeof stack)
		return conn_write(c, stack, (size_t)n);
	if (c->closing || c->lingering) {
		errno = EPIPE;
		return -1;
	}
	/* Longer texts are formatted straight into the queue, so that no
	 * second copy is charged; vsnprintf's NUL needs one byte of room
	 * beyond the text. */
	if ((size_t)n >= buf_room(&c->out)) {
		errno = ENOBUFS;
		return -1;
	}
	was_empty = buf_len(&c->out) == 0;
	if (buf_reserve(&c->out, (size_t)n + 1) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf((char *)buf_tail(&c->out), (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_commit(&c->out, (size_t)n);
	return conn_queued(c, was_empty);
}

void
conn_ready(struct conn *c)
{
	if (c->ready || c->closing)
		return;
	c->ready = 1;
	if (c->flushing || c->tls_state == CONN_TLS_HANDSHAKE)
		return;  /* the linger or TLS handshake timer stays */
	if (conn_arm(c, CONN_TIMER_IDLE, c->s->cf.idle_ms) < 0)
		conn_close(c);
}

int
conn_starttls(struct conn *c)
{
	if (c->s->cf.tls == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (c->tls != NULL || c->starttls_pending) {
		errno = EALREADY;
		return -1;
	}
	if (c->compress_in) {
		/* TLS would have to go under the compression layer that is
		 * already on (RFC 8054 2.2.2 forbids it anyway). */
		errno = EPROTO;
		return -1;
	}
	if (c->closing || c->flushing) {
		errno = EPIPE;
		return -1;
	}
	if (buf_len(&c->in) > 0) {
		/* Plaintext pipelined after the command (CVE-2011-0411). */
		conn_reject(c, "starttls_pipelined");
		buf_consume(&c->in, buf_len(&c->in));
	}
	c->starttls_pending = 1;
	c->plain_left = buf_len(&c->out);
	if (c->plain_left == 0 && conn_tls_begin(c) < 0)
		return -1;
	conn_update(c);
	return 0;
}

int
conn_compress_prepare(struct conn *c)
{
	if (c->z != NULL)
		return 0;
	if ((c->z = zcomp_new(c->region)) == NULL) {
		conn_reject(c, "compress_memory");
		errno = ENOMEM;
		return -1;
	}
	buf_init(&c->zin, c->region, CONN_ZIN_BYTES);
	buf_init(&c->zout, c->region, CONN_ZOUT_BYTES);
	return 0;
}

int
conn_compress(struct conn *c)
{
	if (c->compress_in) {
		errno = EALREADY;
		return -1;
	}
	if (c->starttls_pending || c->tls_state == CONN_TLS_HANDSHAKE) {
		errno = EBUSY;
		return -1;
	}
	if (c->closing || c->flushing) {
		errno = EPIPE;
		return -1;
	}
	if (conn_compress_prepare(c) < 0)
		return -1;
	if (buf_len(&c->in) > 0) {
		/* Sent before the peer saw our answer: RFC 8054 forbids
		 * pipelining COMPRESS, and whether these bytes were meant
		 * compressed or not, they cannot be trusted as either. */
		conn_reject(c, "compress_pipelined");
		buf_consume(&c->in, buf_len(&c->in));
	}
	c->compress_in = 1;
	c->plain_left = buf_len(&c->out);
	if (c->plain_left > 0)
		c->compress_pending = 1;
	else
		c->compress_out = 1;
	conn_update(c);
	return 0;
}

int
conn_is_compressed(const struct conn *c)
{
	return c->compress_in;
}

size_t
conn_compress_bytes(void)
{
	return ZCOMP_STATE_BYTES + CONN_ZIN_BYTES + CONN_ZOUT_BYTES + 3 * region_block_overhead();
}

void
conn_pause_read(struct conn *c)
{
	c->paused_service = 1;
	conn_update(c);
}

void
conn_resume_read(struct conn *c)
{
	if (c->closing)
		return;
	/* Also after a service consumed from a full c->in on its own. */
	c->paused_service = 0;
	if (buf_len(&c->in) > 0 || conn_input_hidden(c))
		loop_defer(c->s->loop, &c->redeliver, conn_redeliver_cb, c);
	conn_update(c);
}
