/*
 * compress.c: one connection's raw DEFLATE streams over zlib (see
 * compress.h).
 *
 * Role: the zlib calls of the compression layer, nothing else; conn.c
 * owns the buffers around them, the flow control and the limits on how
 * much output it asks for.
 *
 * Interface: zcomp_new, zcomp_deflate (always ending with a sync flush:
 * conn.c calls it once it has nothing more queued, which is the end of a
 * response or of a batch of them, as RFC 8054 2.2.2 requires),
 * zcomp_inflate.
 *
 * Memory: zlib allocates through our zalloc/zfree hooks from the region
 * given to zcomp_new, so the connection's budget sees it and can refuse
 * it.  Everything is allocated in zcomp_new: deflateInit2 takes all the
 * compressor's memory up front, and the decompressor's 32 KiB window,
 * which zlib would allocate at the first output, is forced at once with
 * an empty inflateSetDictionary (allowed at any time on a raw stream), so
 * a stream can never fail for memory half-way.  A region cleanup calls
 * deflateEnd and inflateEnd, so no path that releases the region leaks.
 *
 * Limits: zlib counts in uInt; longer inputs and outputs are cut to
 * ZCOMP_STEP_MAX_BYTES per call (callers loop anyway).
 *
 * Known weaknesses: zlib's deflate keeps no hard bound on the output for
 * a given input beyond deflateBound, so callers give output space and
 * loop on ZCOMP_MORE instead of sizing it in advance.  The compressor
 * shares one history across responses, so a peer able both to choose
 * part of a response and to see its compressed size could guess the
 * rest (CRIME); NNTP responses carry no secrets of another party, but a
 * service mixing secrets with peer-chosen text must not compress.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <zlib.h>

#include "compress.h"
#include "region.h"

/* Bytes handed to one zlib call: well below UINT_MAX. */
#define ZCOMP_STEP_MAX_BYTES  (1024 * 1024 * 1024)

struct zcomp {
	struct region *r;
	z_stream out;           /* deflate: what we send */
	z_stream in;            /* inflate: what we receive */
	unsigned out_init : 1;
	unsigned in_init : 1;
	unsigned in_ended : 1;  /* the peer's final block was seen */
	const char *err;
};

static voidpf
zcomp_zalloc(voidpf opaque, uInt items, uInt size)
{
	struct zcomp *z = opaque;

	if (size != 0 && items > SIZE_MAX / size)
		return Z_NULL;
	return region_alloc(z->r, (size_t)items * size);
}

static void
zcomp_zfree(voidpf opaque, voidpf p)
{
	struct zcomp *z = opaque;

	if (p != Z_NULL)
		region_free(z->r, p);
}

static void
zcomp_end(struct zcomp *z)
{
	if (z->out_init)
		deflateEnd(&z->out);
	if (z->in_init)
		inflateEnd(&z->in);
	z->out_init = z->in_init = 0;
}

/* Region cleanup: zlib's blocks go back while the region is still valid. */
static void
zcomp_cleanup(void *arg)
{
	zcomp_end(arg);
}

struct zcomp *
zcomp_new(struct region *r)
{
	struct zcomp *z = region_zalloc(r, sizeof *z);

	if (z == NULL)
		return NULL;
	z->r = r;
	z->err = "";
	z->out.zalloc = z->in.zalloc = zcomp_zalloc;
	z->out.zfree = z->in.zfree = zcomp_zfree;
	z->out.opaque = z->in.opaque = z;
	/* Negative window bits: raw deflate, no zlib header (RFC 8054 2.2.2). */
	if (deflateInit2(&z->out, ZCOMP_DEFLATE_LEVEL, Z_DEFLATED, -ZCOMP_DEFLATE_WINDOW_BITS,
	                 ZCOMP_DEFLATE_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
		goto fail;
	z->out_init = 1;
	if (inflateInit2(&z->in, -ZCOMP_INFLATE_WINDOW_BITS) != Z_OK)
		goto fail;
	z->in_init = 1;
	/* Allocates the window now (see the top). */
	if (inflateSetDictionary(&z->in, (const Bytef *)"", 0) != Z_OK)
		goto fail;
	if (region_on_release(r, zcomp_cleanup, z) < 0)
		goto fail;
	return z;
fail:
	zcomp_end(z);
	region_free(r, z);
	errno = ENOMEM;
	return NULL;
}

int
zcomp_deflate(struct zcomp *z, const void *in, size_t inlen, size_t *used, void *out, size_t outlen,
              size_t *made)
{
	int rc;

	if (inlen > ZCOMP_STEP_MAX_BYTES)
		inlen = ZCOMP_STEP_MAX_BYTES;
	if (outlen > ZCOMP_STEP_MAX_BYTES)
		outlen = ZCOMP_STEP_MAX_BYTES;
	z->out.next_in = (Bytef *)(uintptr_t)in;
	z->out.avail_in = (uInt)inlen;
	z->out.next_out = out;
	z->out.avail_out = (uInt)outlen;
	rc = deflate(&z->out, Z_SYNC_FLUSH);
	*used = inlen - z->out.avail_in;
	*made = outlen - z->out.avail_out;
	/* Z_BUF_ERROR: nothing to do (the flush was complete already). */
	if (rc != Z_OK && rc != Z_BUF_ERROR) {
		z->err = z->out.msg ? z->out.msg : "deflate failed";
		return ZCOMP_ERROR;
	}
	/* zlib: a flush is complete only when it returns with room left. */
	return z->out.avail_out == 0 ? ZCOMP_MORE : ZCOMP_OK;
}

int
zcomp_inflate(struct zcomp *z, const void *in, size_t inlen, size_t *used, void *out, size_t outlen,
              size_t *made)
{
	int rc;

	*used = *made = 0;
	if (z->in_ended) {
		if (inlen == 0)
			return ZCOMP_OK;
		z->err = "data after the final block";
		return ZCOMP_ERROR;
	}
	if (inlen > ZCOMP_STEP_MAX_BYTES)
		inlen = ZCOMP_STEP_MAX_BYTES;
	if (outlen > ZCOMP_STEP_MAX_BYTES)
		outlen = ZCOMP_STEP_MAX_BYTES;
	z->in.next_in = (Bytef *)(uintptr_t)in;
	z->in.avail_in = (uInt)inlen;
	z->in.next_out = out;
	z->in.avail_out = (uInt)outlen;
	rc = inflate(&z->in, Z_SYNC_FLUSH);
	*used = inlen - z->in.avail_in;
	*made = outlen - z->in.avail_out;
	switch (rc) {
	case Z_OK:
	case Z_BUF_ERROR:   /* no progress possible: needs input or room */
		break;
	case Z_STREAM_END:
		z->in_ended = 1;
		if (z->in.avail_in > 0) {
			z->err = "data after the final block";
			return ZCOMP_ERROR;
		}
		return ZCOMP_OK;
	default:            /* Z_DATA_ERROR, Z_NEED_DICT, Z_MEM_ERROR */
		z->err = z->in.msg ? z->in.msg : "inflate failed";
		return ZCOMP_ERROR;
	}
	return z->in.avail_out == 0 ? ZCOMP_MORE : ZCOMP_OK;
}

const char *
zcomp_last_error(const struct zcomp *z)
{
	return z->err;
}
