/*
 * fuzz_line.c: libFuzzer target for the line reader over a buf in a region.
 *
 * Input layout: bytes 0-1 choose max_bytes (1..1024), byte 2 how much
 * larger than max_bytes the buffer's max is, byte 3 the largest read size,
 * byte 4 seeds the read sizes and the moments an empty buffer is given
 * back (as conn.c does for idle connections); the rest is the peer's
 * byte stream.
 *
 * The stream is fed in reads no larger than the buffer's room, and the
 * reader is run after each read until it asks for more.  Every event is
 * checked against a model that frames the whole stream at once (so
 * splitting must not matter), and after every call: a line never exceeds
 * max_bytes with its terminator and holds no LF, its flags are right,
 * each non-MORE result consumes input, MORE means everything buffered was
 * searched (or discarded), the buffer stays within its max, its storage
 * within max plus one block of the region (whose budget is exactly that,
 * so any larger allocation would fail the run), and the region returns to
 * its baseline after buf_reset and at the end.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "line.h"
#include "region.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEADER_BYTES 5

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* Frames the bytes fed so far (in[0..len)) with no reference to how they
 * were split into reads. */
struct model {
	const uint8_t *in;
	size_t len;
	size_t pos;
	size_t max;
	int discarding;
};

struct event {
	enum line_status st;
	const uint8_t *p;
	size_t len;
	int crlf;
};

/* The next event the whole stream implies, or LINE_MORE if none yet. */
static enum line_status
model_next(struct model *m, struct event *ev)
{
	const uint8_t *lf;
	size_t rest = m->len - m->pos, n;

	if (m->discarding) {
		lf = rest ? memchr(m->in + m->pos, '\n', rest) : NULL;
		if (lf == NULL) {
			m->pos = m->len;
			ev->st = LINE_MORE;
			return ev->st;
		}
		m->pos = (size_t)(lf - m->in) + 1;
		m->discarding = 0;
		rest = m->len - m->pos;
	}
	lf = rest ? memchr(m->in + m->pos, '\n', rest) : NULL;
	if (lf == NULL) {
		if (rest >= m->max) {
			/* Unterminated yet already too long: skip to its LF. */
			ev->st = LINE_TOO_LONG;
			m->pos = m->len;
			m->discarding = 1;
			return ev->st;
		}
		ev->st = LINE_MORE;
		return ev->st;
	}
	n = (size_t)(lf - (m->in + m->pos));
	if (n + 1 > m->max) {
		ev->st = LINE_TOO_LONG;
	} else {
		ev->st = LINE_OK;
		ev->p = m->in + m->pos;
		ev->crlf = n > 0 && ev->p[n - 1] == '\r';
		ev->len = ev->crlf ? n - 1 : n;
	}
	m->pos += n + 1;
	return ev->st;
}

static uint32_t
rng_next(uint32_t *s)
{
	/* xorshift32: reproducible from the input, no libc state. */
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Runs the reader until it wants more; returns how many events it gave. */
static size_t
drain(struct line_reader *lr, struct buf *b, struct model *m)
{
	struct line l;
	struct event want;
	enum line_status st;
	size_t before, events = 0;

	for (;;) {
		before = buf_len(b);
		st = line_next(lr, b, &l);
		CHECK(buf_len(b) <= before);
		if (st == LINE_MORE) {
			if (lr->discarding)
				CHECK(buf_len(b) == 0);
			else
				CHECK(buf_len(b) < m->max && lr->scanned == buf_len(b));
			/* The model must not know of a complete event either. */
			CHECK(model_next(m, &want) == LINE_MORE);
			return events;
		}
		/* Progress: every event consumes input. */
		CHECK(buf_len(b) < before);
		CHECK(model_next(m, &want) == st);
		if (st == LINE_OK) {
			CHECK(l.len + 1 + l.crlf <= m->max);
			CHECK(l.len == want.len);
			CHECK(l.crlf == (unsigned)want.crlf);
			CHECK(l.len == 0 || memcmp(l.p, want.p, l.len) == 0);
			CHECK(l.len == 0 || memchr(l.p, '\n', l.len) == NULL);
			CHECK(l.has_nul == (l.len > 0 && memchr(l.p, '\0', l.len) != NULL));
			CHECK(l.has_cr == (l.len > 0 && memchr(l.p, '\r', l.len) != NULL));
			CHECK(!lr->discarding);
		} else {
			CHECK(st == LINE_TOO_LONG);
			CHECK(lr->discarding);
			CHECK(l.len == m->max);
		}
		events++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct region *root, *conn;
	struct buf b;
	struct line_reader lr;
	struct model m;
	struct event ev;
	size_t max_bytes, buf_max, chunk_max, pos = 0, k, events = 0, budget;
	uint32_t seed;

	if (size < FUZZ_HEADER_BYTES)
		return 0;
	max_bytes = 1 + (((size_t)data[0] << 8 | data[1]) % 1024);
	buf_max = max_bytes + data[2] % 64;
	chunk_max = 1 + (size_t)data[3];
	seed = 0x9e3779b9u ^ data[4];
	data += FUZZ_HEADER_BYTES;
	size -= FUZZ_HEADER_BYTES;

	/* The connection can hold the buffer's storage and nothing more. */
	budget = buf_max + region_block_overhead();
	root = region_new(NULL, "worker", REGION_UNLIMITED);
	CHECK(root != NULL);
	conn = region_new(root, "conn", budget);
	CHECK(conn != NULL);
	CHECK(region_used(conn) == 0);
	CHECK(region_used(root) == region_self_overhead());

	buf_init(&b, conn, buf_max);
	line_init(&lr, max_bytes);
	m.in = data;
	m.len = 0;
	m.pos = 0;
	m.max = max_bytes;
	m.discarding = 0;

	while (pos < size) {
		k = 1 + rng_next(&seed) % chunk_max;
		if (k > size - pos)
			k = size - pos;
		/* Never read more than fits: the reader must leave room. */
		if (k > buf_room(&b))
			k = buf_room(&b);
		CHECK(k > 0);
		CHECK(buf_append(&b, data + pos, k) == 0);
		pos += k;
		CHECK(buf_len(&b) <= buf_max);
		CHECK(b.cap <= buf_max);
		m.len = pos;
		events += drain(&lr, &b, &m);
		CHECK(events <= pos);
		if (buf_len(&b) == 0 && rng_next(&seed) % 4 == 0) {
			/* An idle connection gives its buffer back. */
			buf_reset(&b);
			CHECK(region_used(conn) == 0);
		}
		CHECK(region_used(conn) <= budget);
	}
	/* Nothing left that the whole stream implies. */
	CHECK(model_next(&m, &ev) == LINE_MORE);
	CHECK(region_peak(conn) <= budget);
	buf_reset(&b);
	CHECK(region_used(conn) == 0);
	CHECK(region_used(root) == region_self_overhead());
	region_release(conn);
	CHECK(region_used(root) == 0);
	region_release(root);
	return 0;
}
