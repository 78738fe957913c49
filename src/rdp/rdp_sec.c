/*
 * rdp_sec.c: Client Info PDU and licensing under TLS (rdp_sec.h).
 *
 * Each of the five strings of TS_INFO_PACKET is declared by a cb* field
 * that excludes its terminator: it must be at most RDP_INFO_FIELD_MAX_BYTES,
 * even for Unicode, and the string plus its terminator must lie inside
 * the PDU; the terminator must be there (a missing one is an error, not a
 * read past).  The optional extended info after the strings is ignored.
 * Non-Unicode (ANSI) info packets are accepted for 7-bit text only: no
 * code page tables here.
 */
#include <string.h>

#include "rdp_stream.h"
#include "rdp_sec.h"

int
rdp_utf16le_to_utf8(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	if (n % 2 || outlen == 0)
		return -1;
	for (i = 0; i < n; i += 2) {
		uint32_t c = (uint32_t)(p[i] | p[i + 1] << 8);

		if (c == 0)
			return -1;
		if (c >= 0xd800 && c <= 0xdbff) {
			uint32_t lo;

			if (i + 3 >= n)
				return -1;
			lo = (uint32_t)(p[i + 2] | p[i + 3] << 8);
			if (lo < 0xdc00 || lo > 0xdfff)
				return -1;
			c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
			i += 2;
		} else if (c >= 0xdc00 && c <= 0xdfff) {
			return -1;
		}
		if (c < 0x80) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
		} else if (c < 0x800) {
			if (o + 2 >= outlen)
				return -1;
			out[o++] = (char)(0xc0 | c >> 6);
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else if (c < 0x10000) {
			if (o + 3 >= outlen)
				return -1;
			out[o++] = (char)(0xe0 | c >> 12);
			out[o++] = (char)(0x80 | (c >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else {
			if (o + 4 >= outlen)
				return -1;
			out[o++] = (char)(0xf0 | c >> 18);
			out[o++] = (char)(0x80 | (c >> 12 & 0x3f));
			out[o++] = (char)(0x80 | (c >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (c & 0x3f));
		}
	}
	out[o] = '\0';
	return 0;
}

static int
read_string(struct rd *r, size_t cb, int unicode, char *out, size_t outlen)
{
	size_t term = unicode ? 2 : 1;
	const uint8_t *s;

	if (cb > RDP_INFO_FIELD_MAX_BYTES || (unicode && cb % 2))
		return RDP_SEC_ERR_LENGTH;
	if (cb + term > rd_left(r))
		return RDP_SEC_ERR_TRUNCATED;
	s = rd_bytes(r, cb + term);
	if (s[cb] != 0 || (unicode && s[cb + 1] != 0))
		return RDP_SEC_ERR_ENCODING;
	if (unicode) {
		if (rdp_utf16le_to_utf8(s, cb, out, outlen) != 0)
			return RDP_SEC_ERR_ENCODING;
	} else {
		size_t i;

		if (cb + 1 > outlen)
			return RDP_SEC_ERR_LENGTH;
		for (i = 0; i < cb; i++) {
			if (s[i] == 0 || s[i] >= 0x80)
				return RDP_SEC_ERR_ENCODING;
			out[i] = (char)s[i];
		}
		out[cb] = '\0';
	}
	return RDP_SEC_OK;
}

int
rdp_sec_parse_client_info(const uint8_t *p, size_t n, struct rdp_client_info *ci)
{
	struct rd r;
	uint16_t flags, cb[5];
	char *dst[5];
	int i, rc, unicode;

	memset(ci, 0, sizeof *ci);
	rd_init(&r, p, n);
	flags = rd_u16le(&r);
	rd_u16le(&r);   /* flagsHi */
	if (r.err)
		return RDP_SEC_ERR_TRUNCATED;
	if (!(flags & SEC_INFO_PKT) || (flags & SEC_ENCRYPT))
		return RDP_SEC_ERR_FLAGS;
	ci->codepage = rd_u32le(&r);
	ci->flags = rd_u32le(&r);
	for (i = 0; i < 5; i++)
		cb[i] = rd_u16le(&r);
	if (r.err)
		return RDP_SEC_ERR_TRUNCATED;
	unicode = (ci->flags & INFO_UNICODE) != 0;
	dst[0] = ci->domain;
	dst[1] = ci->user;
	dst[2] = ci->password;
	dst[3] = ci->shell;
	dst[4] = ci->workdir;
	for (i = 0; i < 5; i++) {
		if ((rc = read_string(&r, cb[i], unicode, dst[i], RDP_INFO_UTF8_MAX_BYTES)) != RDP_SEC_OK) {
			rdp_sec_wipe_client_info(ci);
			return rc;
		}
	}
	return RDP_SEC_OK;
}

void
rdp_sec_wipe_client_info(struct rdp_client_info *ci)
{
	explicit_bzero(ci->password, sizeof ci->password);
	explicit_bzero(ci->user, sizeof ci->user);
	explicit_bzero(ci->domain, sizeof ci->domain);
}

void
rdp_sec_write_license_valid_client(struct wr *w)
{
	wr_u16le(w, SEC_LICENSE_PKT);
	wr_u16le(w, 0);
	/* LICENSE_PREAMBLE: ERROR_ALERT, PREAMBLE_VERSION_3_0, wMsgSize 16. */
	wr_u8(w, 0xff);
	wr_u8(w, 0x03);
	wr_u16le(w, 16);
	wr_u32le(w, 0x00000007);   /* STATUS_VALID_CLIENT */
	wr_u32le(w, 0x00000002);   /* ST_NO_TRANSITION */
	wr_u16le(w, 0x0004);       /* BB_ERROR_BLOB */
	wr_u16le(w, 0);
}

const char *
rdp_sec_strerror(int status)
{
	switch (status) {
	case RDP_SEC_OK: return "ok";
	case RDP_SEC_ERR_TRUNCATED: return "truncated";
	case RDP_SEC_ERR_FLAGS: return "bad security flags";
	case RDP_SEC_ERR_LENGTH: return "bad string length";
	case RDP_SEC_ERR_ENCODING: return "bad string encoding";
	}
	return "unknown";
}
