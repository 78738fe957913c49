/*
 * line.h: a bounded line reader over a struct buf.
 *
 * Frames lines ending in LF (CRLF or bare LF); the terminator is not part
 * of the returned line.  max_bytes bounds a line including its terminator
 * (RFC 3977 3.1 counts the CRLF in its 512 octets).  When max_bytes pass
 * without a LF the reader returns LINE_TOO_LONG once, consumes what it has,
 * and silently discards input up to and including the next LF: the caller
 * answers with its protocol's error and the connection stays in step
 * without ever buffering more than max_bytes.
 *
 * The reader keeps how far it has scanned, so a line split across many
 * reads is scanned once.  A returned line points into the buffer and has
 * already been consumed; it stays valid until the buffer next grows or
 * compacts (see buf.h).
 */
#ifndef HF_LINE_H
#define HF_LINE_H

#include <stddef.h>

struct buf;

enum line_status {
	LINE_OK,        /* *out holds a complete line */
	LINE_MORE,      /* no complete line yet: read more */
	LINE_TOO_LONG,  /* a line passed max_bytes; it is being discarded */
};

struct line {
	const char *p;    /* not NUL-terminated; may contain NUL (see has_nul) */
	size_t len;       /* without terminator */
	unsigned crlf:1;    /* ended in CRLF (else bare LF) */
	unsigned has_nul:1; /* contains a NUL byte */
	unsigned has_cr:1;  /* contains a CR not followed by LF (bare CR) */
};

struct line_reader {
	size_t max_bytes;
	size_t scanned;     /* bytes after buf off already searched for LF */
	int discarding;     /* inside an overlong line */
};

void line_init(struct line_reader *lr, size_t max_bytes);
enum line_status line_next(struct line_reader *lr, struct buf *b, struct line *out);
/* Forget scan state (after the caller consumed bytes from b itself). */
void line_reset(struct line_reader *lr);

#endif
