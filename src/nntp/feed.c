/*
 * feed.c: outgoing news feeds, one TCP connection per configured peer
 * (feeds_file, see feed_conf.c) in the news worker's loop.
 *
 * Queueing: feed_article, called by cmd_post.c right after store_add,
 * puts the message-id in the store's durable per-peer queue
 * (store_feed_enqueue) inside the same open batch, so the queue entry is
 * committed with the article or not at all.  A peer gets an article when
 * its wildmat matches one of the article's groups and neither its NAME
 * nor its path= alias is an entry of the Path header (no echo).
 *
 * Sending, per peer, a small state machine: DOWN -> CONNECTING
 * (non-blocking connect, FEED_CONNECT_TIMEOUT_MS) -> greeting 200/201 ->
 * MODE STREAM (203: streaming; 5xx: IHAVE) -> rounds.  A round takes up
 * to FEED_WINDOW_MAX ids from store_feed_peek (oldest first), only while
 * no article batch is open (so nothing uncommitted is offered).
 * Streaming: every CHECK of the round is pipelined; 238 queues a
 * TAKETHIS (article read with store_get_by_msgid into a request region,
 * dot-stuffed into the output buffer as room allows), 438 is done; 239
 * and 439 are done (a rejection counts as delivered); 431 is deferred.
 * IHAVE: one article at a time; 335 sends it; 235/437/435 done, 436
 * deferred; 501 to CHECK or IHAVE (an id the peer cannot parse) is done
 * as a rejection, so that it cannot block the queue.  "Done" is
 * store_feed_done, which joins the open batch (and commits with it) or
 * runs in its own short transaction; replies are matched to commands
 * through a FIFO, since NNTP answers in order.  A
 * round with deferrals waits FEED_DEFER_RETRY_MS before the next one.
 * Connect failure, EOF, a reply we do not expect, or no reply within
 * FEED_RESPONSE_TIMEOUT_MS close the connection and retry after a
 * backoff of FEED_BACKOFF_MIN_MS doubling to FEED_BACKOFF_MAX_MS; ids not
 * done stay queued, so a peer that is down loses nothing, and after a
 * worker restart feeding resumes from the queue.
 *
 * Memory: struct feed in the worker region; per peer a region under it
 * (budget article_max + FEED_PEER_SLACK_BYTES) holding the connection
 * region (buffers, fd cleanup), which holds the request region of the
 * article being sent (released once it is written).  Input lines are
 * bounded by NNTP_COMMAND_MAX_BYTES, the output buffer by
 * FEED_OUT_MAX_BYTES; nothing is sized from what the peer says.
 *
 * Interface: feed.h.  Status: feed_status_text (one line per peer).
 *
 * Known weaknesses: the backlog count is kept in memory (from
 * store_feed_backlog at start and when a peer runs dry) and may be off
 * while a batch is rolled back; max_backlog is checked against it.  A
 * store_feed_done outside a batch is a transaction of its own (an fsync
 * per article under synchronous=FULL).  Under an article batch that never
 * closes, rounds wait (FEED_BATCH_WAIT_MS polls).  Deferred ids (431/436)
 * at the head of the queue hold back the round behind them until the
 * peer takes them.  No CAPABILITIES: streaming is tried with MODE STREAM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "line.h"
#include "log.h"
#include "loop.h"
#include "region.h"
#include "service.h"
#include "timer.h"
#include "nntp/feed.h"
#include "nntp/news.h"
#include "nntp/storage.h"
#include "nntp/wildmat.h"

#define FEED_WINDOW_MAX            32              /* CHECKs pipelined per round */
#define FEED_EXPECT_MAX            (2 * FEED_WINDOW_MAX + 4)  /* replies owed: CHECK + TAKETHIS per id, greeting, MODE */
#define FEED_CONNECT_TIMEOUT_MS    (10 * 1000)
#define FEED_RESPONSE_TIMEOUT_MS   (60 * 1000)     /* no reply while one is owed */
#define FEED_BACKOFF_MIN_MS        1000
#define FEED_BACKOFF_MAX_MS        (300 * 1000)
#define FEED_DEFER_RETRY_MS        2000            /* after 431/436 */
#define FEED_BATCH_WAIT_MS         2               /* poll while an article batch is open */
#define FEED_IDLE_POLL_MS          (5 * 1000)      /* safety poll of an idle, connected peer */
#define FEED_READ_MAX_BYTES        (16 * 1024)     /* unread replies: a window of them fits */
#define FEED_OUT_MAX_BYTES         (64 * 1024)     /* staged output; an article is stuffed into it in pieces */
#define FEED_OUT_CHUNK_BYTES       (16 * 1024)
#define FEED_PEER_SLACK_BYTES      (512 * 1024)    /* buffers and regions beyond one article */
#define FEED_ERROR_MAX_BYTES       120

enum feed_state {
	FEED_DOWN,        /* no connection; timer: backoff */
	FEED_CONNECTING,  /* timer: connect timeout */
	FEED_HELLO,       /* greeting / MODE STREAM owed */
	FEED_READY,       /* connected, no round */
	FEED_ROUND,       /* a round in progress */
};

enum feed_expect_kind { FX_GREETING, FX_MODE, FX_CHECK, FX_TAKETHIS, FX_IHAVE, FX_IHAVE_ART };

struct feed_expect {
	uint8_t kind;
	uint8_t idx;
};

struct feed_item {
	char msgid[NNTP_MSGID_MAX_BYTES + 1];
};

struct feed_peer {
	struct feed *f;
	const struct feed_peer_conf *cf;
	struct region *region;             /* the peer's */
	struct region *cr;                 /* the connection's, or NULL */
	struct region *ar;                 /* the article being sent, or NULL */
	int fd;
	struct loop_io io;
	struct timer timer;                /* connect/response timeout, backoff */
	struct timer kick;                 /* look for work */
	enum feed_state st;
	int stream;
	struct buf in, out;
	struct line_reader lr;
	uint64_t backoff_ms;
	/* The round. */
	struct feed_item items[FEED_WINDOW_MAX];
	size_t nitems;
	size_t ihave_next;                 /* IHAVE: next item to offer */
	int round_deferred;
	struct feed_expect fx[FEED_EXPECT_MAX];
	size_t fx_head, fx_n;
	uint8_t tt[FEED_WINDOW_MAX];       /* TAKETHIS owed (238 received), FIFO */
	size_t tt_head, tt_n;
	/* The article being written. */
	const uint8_t *art;
	size_t art_off, art_len;
	int art_bol, art_active, art_loaded;
	int art_idx;
	/* Counters. */
	uint64_t sent, refused, rejected, deferred, missing, dropped, errors, connects;
	uint64_t backlog;
	char last_error[FEED_ERROR_MAX_BYTES];
};

struct feed {
	struct news *n;
	struct feed_peer peer[NNTP_FEED_PEERS_MAX];
	size_t npeers;
	size_t article_max;
	int stopping;
};

static void feed_connect(struct feed_peer *p);
static void feed_pump(struct feed_peer *p);
static void feed_round_start(struct feed_peer *p);
static void feed_round_check_end(struct feed_peer *p);

static struct loop *
feed_loop(const struct feed_peer *p)
{
	return p->f->n->w->loop;
}

static struct store *
feed_store(const struct feed_peer *p)
{
	return p->f->n->store;
}

static const char *
feed_state_name(enum feed_state st)
{
	switch (st) {
	case FEED_DOWN:
		return "down";
	case FEED_CONNECTING:
		return "connecting";
	case FEED_HELLO:
		return "greeting";
	case FEED_READY:
		return "idle";
	case FEED_ROUND:
		return "sending";
	}
	return "?";
}

/* ------------------------------------------------------------ connection */

static void
feed_fd_cleanup(void *arg)
{
	struct feed_peer *p = arg;

	loop_io_del(feed_loop(p), &p->io);
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
}

static void
feed_article_release(struct feed_peer *p)
{
	region_release(p->ar);
	p->ar = NULL;
	p->art = NULL;
	p->art_active = 0;
	p->art_loaded = 0;
}

/* Closes the connection.  failed: count it and retry after the backoff;
 * else (an idle peer closed) reconnect when there is work. */
static void
feed_close(struct feed_peer *p, int failed, const char *why)
{
	loop_timer_cancel(feed_loop(p), &p->timer);
	feed_article_release(p);
	if (p->cr) {
		region_release(p->cr);   /* runs feed_fd_cleanup */
		p->cr = NULL;
	}
	memset(&p->in, 0, sizeof p->in);
	memset(&p->out, 0, sizeof p->out);
	p->fx_n = p->fx_head = 0;
	p->tt_n = p->tt_head = 0;
	p->nitems = 0;
	p->st = FEED_DOWN;
	if (!failed || p->f->stopping)
		return;
	p->errors++;
	snprintf(p->last_error, sizeof p->last_error, "%s", why);
	{
		static struct log_rate rl;

		log_rated(&rl, LOG_LVL_WARN, "feed %s: %s; retrying in %llu ms", p->cf->name, why,
		          (unsigned long long)p->backoff_ms);
	}
	loop_timer_set(feed_loop(p), &p->timer, p->backoff_ms);
	p->backoff_ms = p->backoff_ms * 2 > FEED_BACKOFF_MAX_MS ? FEED_BACKOFF_MAX_MS : p->backoff_ms * 2;
}

static void
feed_want_write(struct feed_peer *p, int on)
{
	uint32_t ev = EPOLLIN | (on ? EPOLLOUT : 0);

	if (p->io.fd >= 0 && p->io.events != ev)
		loop_io_mod(feed_loop(p), &p->io, ev);
}

static int
feed_expect(struct feed_peer *p, enum feed_expect_kind kind, size_t idx)
{
	size_t at;

	if (p->fx_n == FEED_EXPECT_MAX)
		return -1;
	at = (p->fx_head + p->fx_n) % FEED_EXPECT_MAX;
	p->fx[at].kind = (uint8_t)kind;
	p->fx[at].idx = (uint8_t)idx;
	p->fx_n++;
	return 0;
}

/* Arms the response timeout while a reply is owed. */
static void
feed_arm_response(struct feed_peer *p)
{
	if (p->fx_n > 0)
		loop_timer_set(feed_loop(p), &p->timer, FEED_RESPONSE_TIMEOUT_MS);
	else
		loop_timer_cancel(feed_loop(p), &p->timer);
}

/* ---------------------------------------------------------------- queue */

static void
feed_done(struct feed_peer *p, size_t idx)
{
	const char *id = p->items[idx].msgid;

	if (store_feed_done(feed_store(p), p->cf->name, id, strlen(id)) != 0) {
		static struct log_rate rl;

		/* It stays queued: sent again later, a duplicate at worst. */
		log_rated(&rl, LOG_LVL_WARN, "feed %s: cannot dequeue %s", p->cf->name, id);
		return;
	}
	if (p->backlog > 0)
		p->backlog--;
}

static int
feed_peek_cb(void *arg, const char *msgid)
{
	struct feed_peer *p = arg;
	size_t l = strlen(msgid);

	if (p->nitems == FEED_WINDOW_MAX)
		return 1;
	if (l == 0 || l > NNTP_MSGID_MAX_BYTES)
		return 0;
	memcpy(p->items[p->nitems].msgid, msgid, l + 1);
	p->nitems++;
	return 0;
}

/* Reads item idx into a fresh request region.  0 loaded, 1 missing (it
 * is dequeued), -1 error (memory or storage: retry later). */
static int
feed_article_load(struct feed_peer *p, size_t idx)
{
	struct store_text t;
	const char *id = p->items[idx].msgid;
	int rc;

	feed_article_release(p);
	if ((p->ar = region_new(p->cr, "feed-article", REGION_UNLIMITED)) == NULL)
		return -1;
	rc = store_get_by_msgid(feed_store(p), id, strlen(id), p->ar, &t);
	if (rc != 0) {
		feed_article_release(p);
		if (rc == 1) {
			p->missing++;
			feed_done(p, idx);
		}
		return rc;
	}
	p->art = t.text;
	p->art_len = t.len;
	p->art_off = 0;
	p->art_bol = 1;
	p->art_loaded = 1;
	p->art_idx = (int)idx;
	return 0;
}

/* ---------------------------------------------------------------- output */

/* Dot-stuffs the article into the output buffer as far as room allows;
 * 1 when it is all there (with its "." line), 0 if it must wait. */
static int
feed_art_fill(struct feed_peer *p)
{
	while (p->art_off < p->art_len) {
		size_t room, n = 0;
		uint8_t *w;

		if (buf_room(&p->out) < 2 || buf_reserve(&p->out, FEED_OUT_CHUNK_BYTES < buf_room(&p->out)
		                                                      ? FEED_OUT_CHUNK_BYTES
		                                                      : buf_room(&p->out)) != 0)
			return 0;
		w = buf_tail(&p->out);
		room = buf_tail_room(&p->out);
		if (room > buf_room(&p->out))
			room = buf_room(&p->out);
		while (p->art_off < p->art_len && n + 2 <= room) {
			uint8_t c = p->art[p->art_off];

			if (p->art_bol && c == '.')
				w[n++] = '.';
			w[n++] = c;
			p->art_bol = c == '\n';
			p->art_off++;
		}
		buf_commit(&p->out, n);
		if (n == 0)
			return 0;
	}
	if (buf_append(&p->out, p->art_bol ? ".\r\n" : "\r\n.\r\n", p->art_bol ? 3 : 5) != 0)
		return 0;
	feed_article_release(p);
	return 1;
}

/* Writes what is staged; -1 if the connection failed (closed). */
static int
feed_write(struct feed_peer *p)
{
	while (buf_len(&p->out) > 0) {
		ssize_t w = send(p->fd, buf_data(&p->out), buf_len(&p->out), MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			feed_close(p, 1, strerror(errno));
			return -1;
		}
		buf_consume(&p->out, (size_t)w);
	}
	if (buf_len(&p->out) == 0)
		buf_reset(&p->out);
	return 0;
}

/* Moves commands and articles into the output buffer and writes. */
static void
feed_pump(struct feed_peer *p)
{
	if (p->cr == NULL || p->st == FEED_CONNECTING)
		return;
	for (;;) {
		if (p->art_active) {
			if (!feed_art_fill(p))
				break;
			continue;
		}
		if (p->stream && p->tt_n > 0) {
			size_t idx = p->tt[p->tt_head];
			int rc;

			if (buf_room(&p->out) < NNTP_COMMAND_MAX_BYTES)
				break;
			p->tt_head = (p->tt_head + 1) % FEED_WINDOW_MAX;
			p->tt_n--;
			if ((rc = feed_article_load(p, idx)) == 1)
				continue;   /* gone (expired): the peer waits for a TAKETHIS in vain, harmlessly */
			if (rc < 0) {
				feed_close(p, 1, "cannot read an article from storage");
				return;
			}
			if (buf_printf(&p->out, "TAKETHIS %s\r\n", p->items[idx].msgid) != 0 ||
			    feed_expect(p, FX_TAKETHIS, idx) != 0) {
				feed_close(p, 1, "out of buffer");
				return;
			}
			p->art_active = 1;
			continue;
		}
		break;
	}
	if (feed_write(p) != 0)
		return;
	feed_want_write(p, buf_len(&p->out) > 0 || p->art_active);
	feed_arm_response(p);
	/* Every TAKETHIS owed may have been of a vanished article. */
	feed_round_check_end(p);
}

/* ----------------------------------------------------------------- rounds */

/* IHAVE: offers the next item (its article read first, so that 335 can
 * always be answered).  Returns 1 when the round has no more to offer. */
static int
feed_ihave_next(struct feed_peer *p)
{
	while (p->ihave_next < p->nitems) {
		size_t idx = p->ihave_next++;
		int rc = feed_article_load(p, idx);

		if (rc == 1)
			continue;
		if (rc < 0) {
			feed_close(p, 1, "cannot read an article from storage");
			return -1;
		}
		if (buf_printf(&p->out, "IHAVE %s\r\n", p->items[idx].msgid) != 0 || feed_expect(p, FX_IHAVE, idx) != 0) {
			feed_close(p, 1, "out of buffer");
			return -1;
		}
		return 0;
	}
	return 1;
}

static void
feed_round_end(struct feed_peer *p)
{
	int full = p->nitems == FEED_WINDOW_MAX;

	p->st = FEED_READY;
	p->nitems = 0;
	if (p->round_deferred)
		loop_timer_set(feed_loop(p), &p->kick, FEED_DEFER_RETRY_MS);
	else if (full || p->backlog > 0)
		loop_timer_set(feed_loop(p), &p->kick, 0);
	else
		loop_timer_set(feed_loop(p), &p->kick, FEED_IDLE_POLL_MS);
}

static void
feed_round_check_end(struct feed_peer *p)
{
	if (p->st == FEED_ROUND && p->fx_n == 0 && p->tt_n == 0 && !p->art_active &&
	    (p->stream || p->ihave_next >= p->nitems))
		feed_round_end(p);
}

static void
feed_round_start(struct feed_peer *p)
{
	size_t i;

	if (p->st != FEED_READY)
		return;
	if (store_batch_size(feed_store(p)) > 0) {
		/* Offer only what is committed. */
		loop_timer_set(feed_loop(p), &p->kick, FEED_BATCH_WAIT_MS);
		return;
	}
	p->nitems = 0;
	p->round_deferred = 0;
	p->ihave_next = 0;
	if (store_feed_peek(feed_store(p), p->cf->name, FEED_WINDOW_MAX, feed_peek_cb, p) != 0) {
		p->nitems = 0;
		loop_timer_set(feed_loop(p), &p->kick, FEED_DEFER_RETRY_MS);
		return;
	}
	if (p->nitems == 0) {
		p->backlog = 0;
		loop_timer_set(feed_loop(p), &p->kick, FEED_IDLE_POLL_MS);
		return;
	}
	p->st = FEED_ROUND;
	if (p->stream) {
		for (i = 0; i < p->nitems; i++)
			if (buf_printf(&p->out, "CHECK %s\r\n", p->items[i].msgid) != 0 ||
			    feed_expect(p, FX_CHECK, i) != 0) {
				feed_close(p, 1, "out of buffer");
				return;
			}
	} else {
		int rc = feed_ihave_next(p);

		if (rc < 0)
			return;
		if (rc == 1) {
			feed_round_end(p);
			return;
		}
	}
	feed_pump(p);
}

/* ---------------------------------------------------------------- replies */

static int
feed_code(const struct line *l)
{
	if (l->len < 3 || l->p[0] < '1' || l->p[0] > '5' || l->p[1] < '0' || l->p[1] > '9' || l->p[2] < '0' ||
	    l->p[2] > '9' || (l->len > 3 && l->p[3] != ' '))
		return -1;
	return (l->p[0] - '0') * 100 + (l->p[1] - '0') * 10 + (l->p[2] - '0');
}

/* RFC 4644 replies name the message-id they answer ("238 <id>"): a reply
 * for any other id is a protocol error, never an answer for the article we
 * offered (it would take that article off the queue unsent). */
static int
feed_reply_names(const struct line *l, const char *msgid)
{
	size_t n = strlen(msgid), i = 4;

	if (l->len < i + n || memcmp(l->p + i, msgid, n) != 0)
		return 0;
	return l->len == i + n || l->p[i + n] == ' ';
}

/* Up to 60 bytes of what the peer said, for logs and holdfastctl: bytes
 * outside printable ASCII become '?' so a peer cannot drive the operator's
 * terminal or forge status fields. */
static void
feed_quote(char *out, size_t outlen, const struct line *l)
{
	size_t i, n = l->len > 60 ? 60 : l->len;
	char tmp[61];

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)l->p[i];

		tmp[i] = ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '=' ? (char)ch : '?';
	}
	tmp[n] = '\0';
	snprintf(out, outlen, "unexpected reply \"%s\"", tmp);
}

/* One reply line.  0, or -1 once the connection was closed. */
static int
feed_reply(struct feed_peer *p, const struct line *l)
{
	struct feed_expect x;
	int code = feed_code(l);
	char why[FEED_ERROR_MAX_BYTES];

	if (p->fx_n == 0) {
		/* A peer closing an idle connection may say 400 first. */
		feed_close(p, code != 400, "reply nobody asked for");
		return -1;
	}
	x = p->fx[p->fx_head];
	p->fx_head = (p->fx_head + 1) % FEED_EXPECT_MAX;
	p->fx_n--;
	switch (x.kind) {
	case FX_GREETING:
		if (code != 200 && code != 201)
			goto unexpected;
		p->backoff_ms = FEED_BACKOFF_MIN_MS;
		if (p->cf->mode == FEED_MODE_STREAM) {
			if (buf_printf(&p->out, "MODE STREAM\r\n") != 0 || feed_expect(p, FX_MODE, 0) != 0)
				goto unexpected;
			return 0;
		}
		p->stream = 0;
		p->st = FEED_READY;
		feed_round_start(p);
		return p->cr ? 0 : -1;
	case FX_MODE:
		if (code == 203)
			p->stream = 1;
		else if (code >= 500 && code <= 599)
			p->stream = 0;   /* no streaming: IHAVE */
		else
			goto unexpected;
		p->st = FEED_READY;
		feed_round_start(p);
		return p->cr ? 0 : -1;
	case FX_CHECK:
		if (!feed_reply_names(l, p->items[x.idx].msgid) && code != 431 && code != 501)
			goto unexpected;
		if (code == 238) {
			p->tt[(p->tt_head + p->tt_n) % FEED_WINDOW_MAX] = x.idx;
			p->tt_n++;
		} else if (code == 438) {
			p->refused++;
			feed_done(p, x.idx);
		} else if (code == 431) {
			p->deferred++;
			p->round_deferred = 1;
		} else if (code == 501) {
			/* The peer cannot parse this id: offering it again
			 * would block the queue forever. */
			p->rejected++;
			feed_done(p, x.idx);
		} else
			goto unexpected;
		break;
	case FX_TAKETHIS:
		if (!feed_reply_names(l, p->items[x.idx].msgid) && code != 431)
			goto unexpected;
		if (code == 239) {
			p->sent++;
			feed_done(p, x.idx);
		} else if (code == 439) {
			p->rejected++;
			feed_done(p, x.idx);
		} else if (code == 431) {
			p->deferred++;
			p->round_deferred = 1;
		} else
			goto unexpected;
		break;
	case FX_IHAVE:
		if (code == 335) {
			if (!p->art_loaded || p->art_idx != x.idx || feed_expect(p, FX_IHAVE_ART, x.idx) != 0)
				goto unexpected;
			p->art_active = 1;
			return 0;
		}
		feed_article_release(p);
		if (code == 435) {
			p->refused++;
			feed_done(p, x.idx);
		} else if (code == 501) {
			p->rejected++;   /* as for CHECK */
			feed_done(p, x.idx);
		} else if (code == 436) {
			p->deferred++;
			p->round_deferred = 1;
		} else
			goto unexpected;
		if (feed_ihave_next(p) < 0)
			return -1;
		break;
	case FX_IHAVE_ART:
		if (code == 235) {
			p->sent++;
			feed_done(p, x.idx);
		} else if (code == 437) {
			p->rejected++;
			feed_done(p, x.idx);
		} else if (code == 436) {
			p->deferred++;
			p->round_deferred = 1;
		} else
			goto unexpected;
		if (feed_ihave_next(p) < 0)
			return -1;
		break;
	}
	return 0;

unexpected:
	feed_quote(why, sizeof why, l);
	feed_close(p, 1, why);
	return -1;
}

static void
feed_read(struct feed_peer *p)
{
	for (;;) {
		struct line l;
		enum line_status ls;
		ssize_t r;

		while ((ls = line_next(&p->lr, &p->in, &l)) == LINE_OK) {
			if (feed_reply(p, &l) != 0)
				return;
		}
		if (ls == LINE_TOO_LONG) {
			feed_close(p, 1, "reply line too long");
			return;
		}
		if (buf_reserve(&p->in, 4096) != 0) {
			feed_close(p, 1, "input buffer full");
			return;
		}
		r = recv(p->fd, buf_tail(&p->in), buf_tail_room(&p->in) < buf_room(&p->in) ? buf_tail_room(&p->in)
		                                                                              : buf_room(&p->in), 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			feed_close(p, 1, strerror(errno));
			return;
		}
		if (r == 0) {
			/* An idle peer may close (timeout): not a failure. */
			feed_close(p, p->fx_n > 0 || p->st == FEED_ROUND, "connection closed by peer");
			return;
		}
		buf_commit(&p->in, (size_t)r);
	}
	if (buf_len(&p->in) == 0) {
		buf_reset(&p->in);
		line_reset(&p->lr);
	}
	feed_round_check_end(p);
	if (p->cr)
		feed_pump(p);
}

static void
feed_io_cb(struct loop_io *io, uint32_t events, void *arg)
{
	struct feed_peer *p = arg;

	if (p->st == FEED_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof err;

		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
			err = errno;
		if (err != 0) {
			char why[FEED_ERROR_MAX_BYTES];

			snprintf(why, sizeof why, "connect: %s", strerror(err));
			feed_close(p, 1, why);
			return;
		}
		p->st = FEED_HELLO;
		p->connects++;
		loop_io_mod(feed_loop(p), &p->io, EPOLLIN);
		feed_expect(p, FX_GREETING, 0);
		feed_arm_response(p);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		feed_read(p);
		if (p->cr == NULL)
			return;
	}
	if (events & EPOLLOUT)
		feed_pump(p);
}

static void
feed_connect(struct feed_peer *p)
{
	int fd;

	if (p->st != FEED_DOWN || p->f->stopping)
		return;
	if ((p->cr = region_new(p->region, "feed-conn", REGION_UNLIMITED)) == NULL) {
		feed_close(p, 1, "out of memory");
		return;
	}
	fd = socket(p->cf->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		feed_close(p, 1, strerror(errno));
		return;
	}
	p->fd = fd;
	if (region_on_release(p->cr, feed_fd_cleanup, p) != 0) {
		close(fd);
		p->fd = -1;
		feed_close(p, 1, "out of memory");
		return;
	}
	buf_init(&p->in, p->cr, FEED_READ_MAX_BYTES);
	buf_init(&p->out, p->cr, FEED_OUT_MAX_BYTES);
	line_init(&p->lr, NNTP_COMMAND_MAX_BYTES);
	p->stream = 0;
	p->fx_head = p->fx_n = 0;
	p->tt_head = p->tt_n = 0;
	p->st = FEED_CONNECTING;
	if (connect(fd, (const struct sockaddr *)&p->cf->addr, p->cf->addrlen) != 0 && errno != EINPROGRESS) {
		char why[FEED_ERROR_MAX_BYTES];

		snprintf(why, sizeof why, "connect: %s", strerror(errno));
		feed_close(p, 1, why);
		return;
	}
	if (loop_io_add(feed_loop(p), &p->io, fd, EPOLLOUT, feed_io_cb, p) != 0) {
		feed_close(p, 1, "cannot watch the socket");
		return;
	}
	loop_timer_set(feed_loop(p), &p->timer, FEED_CONNECT_TIMEOUT_MS);
}

/* ----------------------------------------------------------------- timers */

static void
feed_timer_cb(struct timer *t, void *arg)
{
	struct feed_peer *p = arg;

	switch (p->st) {
	case FEED_DOWN:
		/* Backoff over. */
		if (p->backlog > 0)
			feed_connect(p);
		break;
	case FEED_CONNECTING:
		feed_close(p, 1, "connect timed out");
		break;
	default:
		feed_close(p, 1, "no reply in time");
		break;
	}
}

static void
feed_kick_cb(struct timer *t, void *arg)
{
	struct feed_peer *p = arg;

	if (p->f->stopping)
		return;
	switch (p->st) {
	case FEED_DOWN:
		if (!timer_armed(&p->timer) && p->backlog > 0)
			feed_connect(p);
		break;
	case FEED_READY:
		feed_round_start(p);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------- interface */

/* 1 if name (len) is one of the "!"-separated entries of path. */
static int
feed_in_path(const char *path, size_t pathlen, const char *name)
{
	size_t nl = strlen(name), i = 0;

	if (nl == 0)
		return 0;
	while (i < pathlen) {
		size_t j = i;

		while (j < pathlen && path[j] != '!')
			j++;
		if (j - i == nl && strncasecmp(path + i, name, nl) == 0)
			return 1;
		i = j + 1;
	}
	return 0;
}

void
feed_article(struct news *n, const char *const *groups, size_t ngroups, const char *path, size_t pathlen,
             const char *msgid)
{
	struct feed *f = n->feed;
	size_t i, k;

	if (f == NULL)
		return;
	for (i = 0; i < f->npeers; i++) {
		struct feed_peer *p = &f->peer[i];
		const struct feed_peer_conf *cf = p->cf;
		int want = 0;

		for (k = 0; k < ngroups && !want; k++)
			want = wildmat_match(cf->wildmat, strlen(cf->wildmat), groups[k], strlen(groups[k]));
		if (!want || feed_in_path(path, pathlen, cf->name) || feed_in_path(path, pathlen, cf->path))
			continue;
		if (cf->max_backlog > 0 && p->backlog >= cf->max_backlog) {
			static struct log_rate rl;

			p->dropped++;
			log_rated(&rl, LOG_LVL_WARN, "feed %s: backlog at max_backlog %llu: article dropped", cf->name,
			          (unsigned long long)cf->max_backlog);
			continue;
		}
		if (store_feed_enqueue(n->store, cf->name, msgid, strlen(msgid)) != 0) {
			static struct log_rate rl;

			log_rated(&rl, LOG_LVL_ERR, "feed %s: cannot queue %s", cf->name, msgid);
			continue;
		}
		p->backlog++;
		/* Once the group commit has made it durable; an earlier look
		 * stays. */
		{
			uint64_t after = n->cf->commit_delay + 1;

			if (!timer_armed(&p->kick) || p->kick.deadline_ms > loop_now_ms(n->w->loop) + after)
				loop_timer_set(n->w->loop, &p->kick, after);
		}
	}
}

int
feed_start(struct news *n)
{
	const struct feed_conf *fc = feed_conf_current();
	struct feed *f;
	size_t i;

	n->feed = NULL;
	if (fc->npeers == 0)
		return 0;
	if ((f = region_zalloc(n->w->region, sizeof *f)) == NULL)
		return -1;
	f->n = n;
	f->article_max = (size_t)n->cf->article_max;
	for (i = 0; i < fc->npeers; i++) {
		struct feed_peer *p = &f->peer[i];

		p->f = f;
		p->cf = &fc->peer[i];
		p->fd = -1;
		p->st = FEED_DOWN;
		p->backoff_ms = FEED_BACKOFF_MIN_MS;
		loop_io_init(&p->io);
		timer_init(&p->timer, feed_timer_cb, p);
		timer_init(&p->kick, feed_kick_cb, p);
		p->region = region_new(n->w->region, "feed-peer", f->article_max + FEED_PEER_SLACK_BYTES);
		if (p->region == NULL)
			return -1;
		p->backlog = store_feed_backlog(n->store, p->cf->name);
		f->npeers++;
		loop_timer_set(n->w->loop, &p->kick, 0);
		log_info("feed %s: %s:%u %s, mode %s, %llu queued", p->cf->name, p->cf->host, (unsigned)p->cf->port,
		         p->cf->wildmat, p->cf->mode == FEED_MODE_STREAM ? "stream" : "ihave",
		         (unsigned long long)p->backlog);
	}
	n->feed = f;
	return 0;
}

void
feed_stop(struct news *n)
{
	struct feed *f = n->feed;
	size_t i;

	if (f == NULL)
		return;
	f->stopping = 1;
	for (i = 0; i < f->npeers; i++) {
		struct feed_peer *p = &f->peer[i];

		loop_timer_cancel(feed_loop(p), &p->kick);
		feed_close(p, 0, "stopping");
	}
}

int
feed_status_text(struct news *n, char *out, size_t outlen)
{
	struct feed *f = n->feed;
	size_t i, off = 0;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	if (f == NULL) {
		snprintf(out, outlen, "no feeds configured\n");
		return 0;
	}
	for (i = 0; i < f->npeers && off < outlen; i++) {
		const struct feed_peer *p = &f->peer[i];
		int w = snprintf(out + off, outlen - off,
		                 "%s state=%s mode=%s sent=%llu refused=%llu rejected=%llu deferred=%llu "
		                 "missing=%llu dropped=%llu backlog=%llu errors=%llu connects=%llu%s%s\n",
		                 p->cf->name, feed_state_name(p->st),
		                 p->cr && p->st >= FEED_READY ? (p->stream ? "stream" : "ihave")
		                                              : (p->cf->mode == FEED_MODE_STREAM ? "stream" : "ihave"),
		                 (unsigned long long)p->sent, (unsigned long long)p->refused,
		                 (unsigned long long)p->rejected, (unsigned long long)p->deferred,
		                 (unsigned long long)p->missing, (unsigned long long)p->dropped,
		                 (unsigned long long)p->backlog, (unsigned long long)p->errors,
		                 (unsigned long long)p->connects, p->last_error[0] ? " last_error=" : "", p->last_error);

		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (off >= outlen)
		out[outlen - 1] = '\0';
	return 0;
}
