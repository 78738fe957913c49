/*
 * buf.h: a byte buffer in a region, with a hard maximum size.
 *
 * Readable bytes are data[off .. len); free room is data[len .. cap).
 * Positions are kept as offsets, never as pointers, because the storage
 * moves when the buffer grows or compacts: a pointer returned by buf_data()
 * or buf_tail() is valid only until the next call that may grow or compact
 * (buf_reserve, buf_append, buf_printf) or buf_reset.  buf_consume only
 * advances off, so lines returned by the line reader stay valid until then.
 *
 * Storage grows as bytes arrive, never from a length a peer declared, and
 * buf_reset gives it back so that an idle connection holds no buffer.
 */
#ifndef HF_BUF_H
#define HF_BUF_H

#include <stddef.h>
#include <stdint.h>

struct region;

struct buf {
	struct region *region;
	uint8_t *data;
	size_t off;     /* first unread byte */
	size_t len;     /* end of readable bytes */
	size_t cap;     /* allocated size */
	size_t max;     /* len - off never exceeds this */
};

void buf_init(struct buf *b, struct region *r, size_t max_bytes);

/* Makes room for n more bytes at the tail, compacting or growing (within
 * max and the region's budget).  0, or -1 with errno ENOBUFS (max) or
 * ENOMEM (budget); the buffer is unchanged on failure. */
int buf_reserve(struct buf *b, size_t n);
uint8_t *buf_tail(struct buf *b);          /* where the next byte goes */
size_t buf_tail_room(const struct buf *b); /* cap - len */
void buf_commit(struct buf *b, size_t n);  /* n bytes were written at the tail */

int buf_append(struct buf *b, const void *p, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline const uint8_t *buf_data(const struct buf *b) { return b->data ? b->data + b->off : (const uint8_t *)""; }
static inline size_t buf_len(const struct buf *b) { return b->len - b->off; }
static inline size_t buf_room(const struct buf *b) { return b->max - (b->len - b->off); }

/* Drops n readable bytes from the front (n <= buf_len). */
void buf_consume(struct buf *b, size_t n);
/* Drops everything and returns the storage to the region. */
void buf_reset(struct buf *b);

#endif
