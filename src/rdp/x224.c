/*
 * x224.c: TPKT framing and the X.224 Connection Request/Confirm exchange
 * of RDP (see x224.h).
 *
 * Every length is checked against its container: the TPKT length against
 * RDP_PDU_MAX_BYTES and what is buffered, the X.224 length indicator
 * against the TPKT length, the cookie against RDP_COOKIE_MAX_BYTES, the
 * negotiation request's own length field against 8.  Trailing bytes other
 * than an RDP_NEG_CORRELATION_INFO are an error.
 *
 * Nothing here allocates: the cookie is copied into the caller's struct.
 */
#include <string.h>

#include "rdp_stream.h"
#include "x224.h"

#define X224_TPDU_CR 0xe0
#define X224_TPDU_CC 0xd0
#define X224_TPDU_DT 0xf0
#define X224_EOT     0x80
#define X224_CR_FIXED_BYTES 7   /* LI, code, dst-ref, src-ref, class */

#define RDP_NEG_REQ  0x01
#define RDP_NEG_RSP  0x02
#define RDP_NEG_FAILURE 0x03
#define RDP_NEG_CORRELATION_INFO 0x06
#define RDP_NEG_CORRELATION_INFO_BYTES 36

int
tpkt_frame(const uint8_t *p, size_t n, size_t max, size_t *pdu_len)
{
	size_t len;

	if (n < TPKT_HEADER_BYTES)
		return n > 0 && p[0] != 3 ? X224_ERR_TPKT : X224_MORE;
	if (p[0] != 3 || p[1] != 0)
		return X224_ERR_TPKT;
	len = (size_t)p[2] << 8 | p[3];
	if (len < TPKT_HEADER_BYTES + X224_DATA_HEADER_BYTES)
		return X224_ERR_TPKT;
	if (len > max)
		return X224_ERR_TOO_BIG;
	if (n < len)
		return X224_MORE;
	*pdu_len = len;
	return X224_OK;
}

int
x224_parse_cr(const uint8_t *pdu, size_t len, struct x224_cr *cr)
{
	struct rd r;
	uint8_t li, code;
	size_t tlen;

	memset(cr, 0, sizeof *cr);
	if (len < TPKT_HEADER_BYTES + X224_CR_FIXED_BYTES || pdu[0] != 3)
		return X224_ERR_TPKT;
	tlen = (size_t)pdu[2] << 8 | pdu[3];
	if (tlen != len)
		return X224_ERR_TPKT;
	if (len > RDP_X224_CR_MAX_BYTES)
		return X224_ERR_TOO_BIG;
	rd_init(&r, pdu + TPKT_HEADER_BYTES, len - TPKT_HEADER_BYTES);
	li = rd_u8(&r);
	if ((size_t)li + 1 != len - TPKT_HEADER_BYTES)
		return X224_ERR_LI;
	code = rd_u8(&r);
	if ((code & 0xf0) != X224_TPDU_CR)
		return X224_ERR_TYPE;
	rd_skip(&r, 5);   /* dst-ref, src-ref, class option */
	if (r.err)
		return X224_ERR_LI;

	/* Routing token or cookie: "Cookie: ...\r\n" ([MS-RDPBCGR] 2.2.1.1). */
	if (rd_left(&r) >= 8 && memcmp(rd_ptr(&r), "Cookie: ", 8) == 0) {
		const uint8_t *s = rd_ptr(&r);
		size_t avail = rd_left(&r), i, lim;

		lim = avail < RDP_COOKIE_MAX_BYTES + 2 ? avail : RDP_COOKIE_MAX_BYTES + 2;
		for (i = 0; i + 1 < lim; i++) {
			if (s[i] == '\r' && s[i + 1] == '\n')
				break;
			/* Control bytes (NUL included) never belong in a cookie:
			 * it is only ever logged, and must stay one C string. */
			if (s[i] < 0x20 || s[i] == 0x7f)
				return X224_ERR_COOKIE;
		}
		if (i + 1 >= lim)
			return X224_ERR_COOKIE;
		cr->has_cookie = 1;
		cr->cookie_len = i;
		memcpy(cr->cookie, s, i);
		cr->cookie[i] = '\0';
		rd_skip(&r, i + 2);
	}
	if (rd_left(&r) == 0)
		return X224_OK;
	/* RDP_NEG_REQ (2.2.1.1.1). */
	if (rd_left(&r) < 8 || *rd_ptr(&r) != RDP_NEG_REQ)
		return X224_ERR_NEG;
	rd_u8(&r);
	cr->neg_flags = rd_u8(&r);
	if (rd_u16le(&r) != 8)
		return X224_ERR_NEG;
	cr->requested_protocols = rd_u32le(&r);
	cr->has_neg_req = 1;
	if (rd_left(&r) == 0)
		return X224_OK;
	/* RDP_NEG_CORRELATION_INFO (2.2.1.1.2): mstsc sends it; we ignore it. */
	if (rd_left(&r) == RDP_NEG_CORRELATION_INFO_BYTES && rd_ptr(&r)[0] == RDP_NEG_CORRELATION_INFO &&
	    rd_ptr(&r)[2] == RDP_NEG_CORRELATION_INFO_BYTES && rd_ptr(&r)[3] == 0)
		return X224_OK;
	return X224_ERR_NEG;
}

static void
write_cc(struct wr *w, uint8_t type, uint8_t flags, uint32_t v)
{
	wr_u8(w, 3);
	wr_u8(w, 0);
	wr_u16be(w, 19);
	wr_u8(w, 14);          /* LI */
	wr_u8(w, X224_TPDU_CC);
	wr_u16be(w, 0);        /* dst-ref */
	wr_u16be(w, 0x1234);   /* src-ref */
	wr_u8(w, 0);           /* class 0 */
	wr_u8(w, type);
	wr_u8(w, flags);
	wr_u16le(w, 8);
	wr_u32le(w, v);
}

void
x224_write_cc(struct wr *w, uint32_t selected)
{
	write_cc(w, RDP_NEG_RSP, 0, selected);
}

void
x224_write_neg_failure(struct wr *w, uint32_t code)
{
	write_cc(w, RDP_NEG_FAILURE, 0, code);
}

int
x224_parse_data(const uint8_t *pdu, size_t len, const uint8_t **data, size_t *dlen)
{
	if (len < TPKT_HEADER_BYTES + X224_DATA_HEADER_BYTES || pdu[0] != 3 ||
	    ((size_t)pdu[2] << 8 | pdu[3]) != len)
		return X224_ERR_TPKT;
	if (pdu[4] != 2)
		return X224_ERR_LI;
	if (pdu[5] != X224_TPDU_DT || pdu[6] != X224_EOT)
		return X224_ERR_TYPE;
	*data = pdu + TPKT_HEADER_BYTES + X224_DATA_HEADER_BYTES;
	*dlen = len - TPKT_HEADER_BYTES - X224_DATA_HEADER_BYTES;
	return X224_OK;
}

void
x224_write_data_header(struct wr *w, size_t dlen)
{
	size_t total = dlen + TPKT_HEADER_BYTES + X224_DATA_HEADER_BYTES;

	if (total > 0xffff) {
		w->err = 1;
		return;
	}
	wr_u8(w, 3);
	wr_u8(w, 0);
	wr_u16be(w, (unsigned)total);
	wr_u8(w, 2);
	wr_u8(w, X224_TPDU_DT);
	wr_u8(w, X224_EOT);
}

const char *
x224_strerror(int status)
{
	switch (status) {
	case X224_OK: return "ok";
	case X224_MORE: return "incomplete";
	case X224_ERR_TPKT: return "bad TPKT header";
	case X224_ERR_TOO_BIG: return "PDU too big";
	case X224_ERR_LI: return "bad X.224 length indicator";
	case X224_ERR_TYPE: return "unexpected TPDU type";
	case X224_ERR_COOKIE: return "bad routing cookie";
	case X224_ERR_NEG: return "bad negotiation request";
	}
	return "unknown";
}
