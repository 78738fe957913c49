/*
 * compress.h: one connection's raw DEFLATE streams (RFC 1951), both
 * directions, with all of zlib's memory charged to a region.
 *
 * Used by conn.c for NNTP COMPRESS DEFLATE (RFC 8054; IMAP's RFC 4978 is
 * the same layer).  A zcomp is a compressor for what we send and a
 * decompressor for what we receive; both are set up at once, so that the
 * whole cost is charged (or refused) when compression is negotiated and
 * never later, in the middle of a stream.
 *
 * Cost, charged to the region given to zcomp_new (zlib 1.2.13, 64-bit;
 * test_conn.c measures it): the compressor's state, 4 KiB window (x2),
 * hash chains and pending buffer, about 38 KiB with the parameters below;
 * the decompressor's state and a 32 KiB window, about 39 KiB.  About
 * 78 KiB in all, against some 300 KiB at zlib's defaults.
 */
#ifndef HF_COMPRESS_H
#define HF_COMPRESS_H

#include <stddef.h>

struct region;
struct zcomp;

/* zlib's middle level: most of level 9's ratio on text at a third of
 * the time. */
#define ZCOMP_DEFLATE_LEVEL          6
/* Our compressor's history: 2^12 = 4 KiB instead of 32 KiB.  RFC 1951
 * lets a compressor refer back less far than 32 KiB, and the peer's
 * decompressor cannot tell; news text repeats mostly within a few lines
 * (header names, overview fields), so the ratio loses little while the
 * window, hash chains and pending buffer shrink from 256 KiB to 32 KiB. */
#define ZCOMP_DEFLATE_WINDOW_BITS    12
/* zlib's memLevel: 2^(5+7) hash heads and 2^(5+6) buffered symbols. */
#define ZCOMP_DEFLATE_MEM_LEVEL      5
/* The peer may refer back 32 KiB (RFC 1951 3.2.5): a decompressor must
 * keep that much history, whatever we would like. */
#define ZCOMP_INFLATE_WINDOW_BITS    15
/* What zcomp_new charges to its region with the parameters above,
 * region overheads included: 79504 bytes measured (test_conn.c) with
 * zlib 1.2.13 on x86_64, rounded up for other zlib builds. */
#define ZCOMP_STATE_BYTES            (84 * 1024)

enum zcomp_result {
	ZCOMP_OK = 0,       /* all input taken and all output given */
	ZCOMP_MORE = 1,     /* the output space ran out: call again (with the rest of the input) */
	ZCOMP_ERROR = -1,   /* corrupt input, or a stream used after its end */
};

/* A compressor and a decompressor on r, with a cleanup that ends both
 * when r is released.  NULL (errno ENOMEM) if r's budget refuses any part
 * of it; then nothing is left on r. */
struct zcomp *zcomp_new(struct region *r);

/* Compresses in[0..inlen) into out[0..outlen) and ends with a sync flush
 * (RFC 1951 empty stored block), so that the peer can decode everything
 * given so far.  *used and *made say how much was taken and produced.
 * ZCOMP_MORE: out was filled before the flush completed; call again, with
 * in advanced by *used (inlen may be 0).  outlen must be at least 16. */
int zcomp_deflate(struct zcomp *z, const void *in, size_t inlen, size_t *used, void *out, size_t outlen,
                  size_t *made);

/* Decompresses in[0..inlen) into out[0..outlen).  ZCOMP_MORE: out was
 * filled and more output may be waiting inside zlib even if all input was
 * taken: call again (inlen may be 0).  The amount of output is never
 * trusted: it is bounded by outlen, whatever the input claims.  After the
 * peer's final block, more input is an error. */
int zcomp_inflate(struct zcomp *z, const void *in, size_t inlen, size_t *used, void *out, size_t outlen,
                  size_t *made);

/* A short description of the last failure (for logs). */
const char *zcomp_last_error(const struct zcomp *z);

#endif
