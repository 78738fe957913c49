/*
 * line.c: a bounded line reader over a struct buf (see line.h).
 *
 * Role: frames LF-terminated lines (CRLF or bare LF) for the text
 * protocols, without copying and without ever needing more than
 * max_bytes of buffered input per line.
 *
 * Interface: line_next() returns LINE_OK with a line that is already
 * consumed from the buffer, LINE_MORE when the buffer holds no complete
 * line, or LINE_TOO_LONG once per overlong line.
 *
 * Limits: max_bytes counts the terminator (RFC 3977 3.1), so with 512 a
 * line may hold 510 bytes before CRLF or 511 before a bare LF.  A LF is
 * looked for only in the first max_bytes buffered bytes; as soon as that
 * many are buffered without one, the reader reports LINE_TOO_LONG,
 * consumes them (on that return, out->p/len show the discarded prefix,
 * for logging only), and then drops input up to and including the next
 * LF however many reads that takes, then carries on with the next line.
 * max_bytes 0 is treated as 1 (only empty lines fit).
 *
 * Scanning: `scanned` remembers how far the search for LF has got, so a
 * line arriving a byte per read costs O(length) overall, not O(length^2).
 * The NUL and bare-CR flags are found with one more pass over a complete
 * line only.
 *
 * Known weaknesses: the caller must size the buffer's max at least at
 * max_bytes, or a long line fills the buffer before the reader can decide
 * and the connection stalls.  If the caller consumes bytes itself it must
 * call line_reset().  On LINE_MORE, *out is left untouched.
 */
#include <string.h>

#include "buf.h"
#include "line.h"

void
line_init(struct line_reader *lr, size_t max_bytes)
{
	lr->max_bytes = max_bytes;
	lr->scanned = 0;
	lr->discarding = 0;
}

void
line_reset(struct line_reader *lr)
{
	lr->scanned = 0;
	lr->discarding = 0;
}

enum line_status
line_next(struct line_reader *lr, struct buf *b, struct line *out)
{
	size_t max = lr->max_bytes ? lr->max_bytes : 1;
	size_t avail, limit, i;
	const uint8_t *data, *lf;

	if (lr->discarding) {
		data = buf_data(b);
		avail = buf_len(b);
		lf = avail ? memchr(data, '\n', avail) : NULL;
		if (lf == NULL) {
			/* Nothing here is wanted: drop it so the buffer never
			 * fills while we wait for the end of the line. */
			buf_consume(b, avail);
			lr->scanned = 0;
			return LINE_MORE;
		}
		buf_consume(b, (size_t)(lf - data) + 1);
		lr->discarding = 0;
		lr->scanned = 0;
	}

	data = buf_data(b);
	avail = buf_len(b);
	/* A caller that consumed behind our back without line_reset(): scan
	 * again rather than read past the buffer. */
	if (lr->scanned > avail)
		lr->scanned = 0;
	/* A LF beyond the first max bytes would make the line too long anyway. */
	limit = avail < max ? avail : max;
	lf = NULL;
	if (limit > lr->scanned)
		lf = memchr(data + lr->scanned, '\n', limit - lr->scanned);
	if (lf != NULL) {
		i = (size_t)(lf - data);
		out->p = (const char *)data;
		out->crlf = i > 0 && data[i - 1] == '\r';
		out->len = out->crlf ? i - 1 : i;
		out->has_nul = out->len > 0 && memchr(data, '\0', out->len) != NULL;
		out->has_cr = out->len > 0 && memchr(data, '\r', out->len) != NULL;
		buf_consume(b, i + 1);
		lr->scanned = 0;
		return LINE_OK;
	}
	if (avail >= max) {
		out->p = (const char *)data;
		out->len = max;
		out->crlf = 0;
		out->has_nul = 0;
		out->has_cr = 0;
		buf_consume(b, max);
		lr->scanned = 0;
		lr->discarding = 1;
		return LINE_TOO_LONG;
	}
	lr->scanned = limit;
	return LINE_MORE;
}
