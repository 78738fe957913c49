/*
 * rdp_stream.h: bounds-checked little/big-endian readers and writers over
 * a borrowed buffer, for every RDP parser and builder.
 *
 * A reader never reads past len: a short read sets err, returns 0 and
 * leaves off at len, so a parser can read a whole structure and check err
 * once.  A writer never writes past cap: an overflow sets err and writes
 * nothing.  Neither allocates.
 */
#ifndef HF_RDP_STREAM_H
#define HF_RDP_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rd {
	const uint8_t *p;
	size_t len;
	size_t off;
	int err;
};

static inline void rd_init(struct rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = 0;
}
static inline size_t rd_left(const struct rd *r) { return r->len - r->off; }
static inline int rd_need(struct rd *r, size_t n)
{
	if (r->err || n > r->len - r->off) {
		r->err = 1;
		r->off = r->len;
		return 0;
	}
	return 1;
}
static inline const uint8_t *rd_ptr(const struct rd *r) { return r->p + r->off; }
static inline uint8_t rd_u8(struct rd *r)
{
	if (!rd_need(r, 1))
		return 0;
	return r->p[r->off++];
}
static inline uint16_t rd_u16le(struct rd *r)
{
	uint16_t v;

	if (!rd_need(r, 2))
		return 0;
	v = (uint16_t)(r->p[r->off] | r->p[r->off + 1] << 8);
	r->off += 2;
	return v;
}
static inline uint16_t rd_u16be(struct rd *r)
{
	uint16_t v;

	if (!rd_need(r, 2))
		return 0;
	v = (uint16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
	r->off += 2;
	return v;
}
static inline uint32_t rd_u32le(struct rd *r)
{
	uint32_t v;

	if (!rd_need(r, 4))
		return 0;
	v = (uint32_t)r->p[r->off] | (uint32_t)r->p[r->off + 1] << 8 | (uint32_t)r->p[r->off + 2] << 16 |
	    (uint32_t)r->p[r->off + 3] << 24;
	r->off += 4;
	return v;
}
/* A pointer to the next n bytes (borrowed), or NULL with err set. */
static inline const uint8_t *rd_bytes(struct rd *r, size_t n)
{
	const uint8_t *p;

	if (!rd_need(r, n))
		return NULL;
	p = r->p + r->off;
	r->off += n;
	return p;
}
static inline void rd_skip(struct rd *r, size_t n) { (void)rd_bytes(r, n); }
/* A sub-reader over the next n bytes; the parent advances past them. */
static inline struct rd rd_sub(struct rd *r, size_t n)
{
	struct rd s;
	const uint8_t *p = rd_bytes(r, n);

	rd_init(&s, p ? p : (const uint8_t *)"", p ? n : 0);
	s.err = p ? 0 : 1;
	return s;
}

struct wr {
	uint8_t *p;
	size_t cap;
	size_t len;
	int err;
};

static inline void wr_init(struct wr *w, void *p, size_t cap)
{
	w->p = p;
	w->cap = cap;
	w->len = 0;
	w->err = 0;
}
static inline int wr_room(struct wr *w, size_t n)
{
	if (w->err || n > w->cap - w->len) {
		w->err = 1;
		return 0;
	}
	return 1;
}
static inline void wr_u8(struct wr *w, unsigned v)
{
	if (wr_room(w, 1))
		w->p[w->len++] = (uint8_t)v;
}
static inline void wr_u16le(struct wr *w, unsigned v)
{
	if (wr_room(w, 2)) {
		w->p[w->len++] = (uint8_t)v;
		w->p[w->len++] = (uint8_t)(v >> 8);
	}
}
static inline void wr_u16be(struct wr *w, unsigned v)
{
	if (wr_room(w, 2)) {
		w->p[w->len++] = (uint8_t)(v >> 8);
		w->p[w->len++] = (uint8_t)v;
	}
}
static inline void wr_u32le(struct wr *w, uint32_t v)
{
	if (wr_room(w, 4)) {
		w->p[w->len++] = (uint8_t)v;
		w->p[w->len++] = (uint8_t)(v >> 8);
		w->p[w->len++] = (uint8_t)(v >> 16);
		w->p[w->len++] = (uint8_t)(v >> 24);
	}
}
static inline void wr_bytes(struct wr *w, const void *p, size_t n)
{
	if (wr_room(w, n)) {
		memcpy(w->p + w->len, p, n);
		w->len += n;
	}
}
static inline void wr_zero(struct wr *w, size_t n)
{
	if (wr_room(w, n)) {
		memset(w->p + w->len, 0, n);
		w->len += n;
	}
}
/* Patches a 16-bit field written earlier at off. */
static inline void wr_put_u16le_at(struct wr *w, size_t off, unsigned v)
{
	if (!w->err && off + 2 <= w->len) {
		w->p[off] = (uint8_t)v;
		w->p[off + 1] = (uint8_t)(v >> 8);
	}
}
static inline void wr_put_u16be_at(struct wr *w, size_t off, unsigned v)
{
	if (!w->err && off + 2 <= w->len) {
		w->p[off] = (uint8_t)(v >> 8);
		w->p[off + 1] = (uint8_t)v;
	}
}

#endif
