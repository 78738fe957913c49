/*
 * buf.c: a byte buffer in a region, with a hard maximum size (see buf.h).
 *
 * Role: input and output buffers for connections and parsers.
 *
 * Interface: buf_reserve() makes tail room; buf_append() and buf_printf()
 * copy in; buf_consume() drops from the front by moving an offset only;
 * buf_reset() gives the storage back to the region.
 *
 * Growth: storage starts at BUF_INITIAL_BYTES and doubles, as bytes
 * arrive, never from a length a peer declared; if the region's budget
 * refuses the doubled size, the exact size needed is tried instead.  Before growing, consumed
 * bytes at the front are reclaimed by moving the readable bytes to offset
 * 0 when that alone makes room.  Storage never exceeds max (cap <= max),
 * so a peer can make a buffer cost at most max plus one block overhead.
 * Every failure (ENOBUFS past max, ENOMEM past the region's budget) leaves
 * the readable bytes and their position unchanged.
 *
 * Known weaknesses: growing copies the whole old storage (realloc),
 * consumed prefix included, before compacting.  buf_printf() formats
 * twice; when the text fits only without vsnprintf's terminating NUL (the
 * buffer would end exactly at max), it formats through a scratch copy
 * that is charged to the region for the moment, so a region at the edge
 * of its budget may refuse that case with ENOMEM.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "region.h"

/* Small enough that an idle-ish connection costs little, big enough that
 * a typical command line fits without growing. */
#define BUF_INITIAL_BYTES 256

/* Texts this short are formatted on the stack in the exact-fit case. */
#define BUF_PRINTF_STACK_BYTES 256

void
buf_init(struct buf *b, struct region *r, size_t max_bytes)
{
	b->region = r;
	b->data = NULL;
	b->off = 0;
	b->len = 0;
	b->cap = 0;
	b->max = max_bytes;
}

static void __attribute__((noreturn))
buf_misuse(const char *what)
{
	/* A caller claiming more bytes than exist would turn the next read
	 * into an overflow; stopping here is cheaper than that. */
	fprintf(stderr, "buf: %s\n", what);
	abort();
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t readable = b->len - b->off, need, newcap;
	uint8_t *p;

	if (n <= b->cap - b->len)
		return 0;
	if (readable > b->max || n > b->max - readable) {
		errno = ENOBUFS;
		return -1;
	}
	need = readable + n;
	if (need <= b->cap) {
		memmove(b->data, b->data + b->off, readable);
		b->off = 0;
		b->len = readable;
		return 0;
	}
	newcap = b->cap ? b->cap : BUF_INITIAL_BYTES;
	if (newcap > b->max)
		newcap = b->max;
	while (newcap < need) {
		if (newcap > b->max / 2) {
			newcap = b->max;
			break;
		}
		newcap *= 2;
	}
	/* region_realloc keeps the old storage intact if it refuses, so the
	 * buffer is unchanged on ENOMEM; compact only once it succeeded. */
	p = region_realloc(b->region, b->data, newcap);
	if (p == NULL && newcap > need) {
		/* Near the budget, the doubled size may be refused where the
		 * size actually needed is not. */
		newcap = need;
		p = region_realloc(b->region, b->data, newcap);
	}
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (b->off > 0)
		memmove(p, p + b->off, readable);
	b->data = p;
	b->off = 0;
	b->len = readable;
	b->cap = newcap;
	return 0;
}

uint8_t *
buf_tail(struct buf *b)
{
	/* NULL + 0 is undefined behaviour in C, and UBSan says so. */
	return b->data != NULL ? b->data + b->len : NULL;
}

size_t
buf_tail_room(const struct buf *b)
{
	return b->cap - b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	if (n > b->cap - b->len)
		buf_misuse("commit past the end of storage");
	b->len += n;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char stack[BUF_PRINTF_STACK_BYTES];
	char *scratch;
	size_t n, readable = b->len - b->off;
	int rc;

	va_start(ap, fmt);
	rc = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	n = (size_t)rc;
	if (readable > b->max || n > b->max - readable) {
		errno = ENOBUFS;
		return -1;
	}
	if (n < b->max - readable) {
		/* Room for vsnprintf's NUL too: format in place; the NUL lands
		 * in tail room and is not committed. */
		if (buf_reserve(b, n + 1) < 0)
			return -1;
		va_start(ap, fmt);
		vsnprintf((char *)b->data + b->len, n + 1, fmt, ap);
		va_end(ap);
		b->len += n;
		return 0;
	}
	/* Exact fit: storage may end right after the text, with no byte for
	 * the NUL.  Format elsewhere, then copy; the scratch is taken before
	 * reserving so that a refusal leaves the buffer as it was. */
	if (n < sizeof stack) {
		scratch = stack;
	} else {
		scratch = region_alloc(b->region, n + 1);
		if (scratch == NULL) {
			errno = ENOMEM;
			return -1;
		}
	}
	va_start(ap, fmt);
	vsnprintf(scratch, n + 1, fmt, ap);
	va_end(ap);
	rc = buf_append(b, scratch, n);
	if (scratch != stack) {
		int saved = errno;

		region_free(b->region, scratch);
		errno = saved;
	}
	return rc;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n > b->len - b->off)
		buf_misuse("consume past the readable bytes");
	b->off += n;
}

void
buf_reset(struct buf *b)
{
	region_free(b->region, b->data);
	b->data = NULL;
	b->off = 0;
	b->len = 0;
	b->cap = 0;
}
