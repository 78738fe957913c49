/*
 * gcc.c: the GCC Conference Create Request and Response of RDP (gcc.h).
 *
 * The T.124 wrapper is fixed for RDP (every client sends the same
 * object identifier and "Duca" key), so it is compared byte for byte
 * except for its two PER lengths, which must each equal the bytes that
 * follow.  Client data blocks follow as (type, length) records; each
 * length must be at least 4 and fit what remains; a known block must be
 * long enough for its mandatory fields, its optional fields are read only
 * when its length covers them; unknown blocks are skipped.  At most
 * RDP_GCC_BLOCKS_MAX blocks, each known type once.
 */
#include <string.h>

#include "rdp_stream.h"
#include "gcc.h"

static const uint8_t t124_oid_hdr[] = { 0x00, 0x05, 0x00, 0x14, 0x7c, 0x00, 0x01 };
static const uint8_t ccr_hdr[] = { 0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xc0, 0x00, 'D', 'u', 'c', 'a' };
/* Response: choice 0x14, nodeID 0x79f3 - 1001, tag 1, result 0, one set, choice 0xc0, "McDn". */
static const uint8_t ccresp_hdr[] = { 0x14, 0x76, 0x0a, 0x01, 0x01, 0x00, 0x01, 0xc0, 0x00, 'M', 'c', 'D', 'n' };

#define CS_CORE_MANDATORY_BYTES 128  /* version .. imeFileName, without the header */

static int
per_len(struct rd *r, size_t *len)
{
	uint8_t b = rd_u8(r);

	if (b & 0x80) {
		if (b & 0x40)
			return GCC_ERR_LENGTH;
		*len = (size_t)(b & 0x3f) << 8 | rd_u8(r);
	} else {
		*len = b;
	}
	return r->err ? GCC_ERR_LENGTH : GCC_OK;
}

/* UTF-16LE (up to n units, NUL-terminated) to printable ASCII, '?' for
 * the rest: the client name is only ever logged. */
static void
name_from_utf16(const uint8_t *p, size_t units, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < units && o + 1 < outlen; i++) {
		unsigned c = (unsigned)(p[2 * i] | p[2 * i + 1] << 8);

		if (c == 0)
			break;
		out[o++] = (char)(c >= 0x20 && c < 0x7f ? c : '?');
	}
	out[o] = '\0';
}

static int
parse_core(struct rd *b, struct gcc_client *cc)
{
	const uint8_t *name;

	if (rd_left(b) < CS_CORE_MANDATORY_BYTES)
		return GCC_ERR_BLOCK;
	cc->version = rd_u32le(b);
	cc->desktop_width = rd_u16le(b);
	cc->desktop_height = rd_u16le(b);
	cc->color_depth = rd_u16le(b);
	rd_u16le(b);                     /* SASSequence */
	cc->keyboard_layout = rd_u32le(b);
	cc->client_build = rd_u32le(b);
	name = rd_bytes(b, 32);
	if (name)
		name_from_utf16(name, 16, cc->client_name, sizeof cc->client_name);
	cc->keyboard_type = rd_u32le(b);
	cc->keyboard_subtype = rd_u32le(b);
	cc->keyboard_function_keys = rd_u32le(b);
	rd_skip(b, 64);                  /* imeFileName */
	/* Optional fields, each present only if every earlier one is. */
	if (rd_left(b) < 2)
		return GCC_OK;
	rd_u16le(b);                     /* postBeta2ColorDepth */
	if (rd_left(b) < 2)
		return GCC_OK;
	rd_u16le(b);                     /* clientProductId */
	if (rd_left(b) < 4)
		return GCC_OK;
	rd_u32le(b);                     /* serialNumber */
	if (rd_left(b) < 2)
		return GCC_OK;
	cc->high_color_depth = rd_u16le(b);
	if (rd_left(b) < 2)
		return GCC_OK;
	cc->supported_color_depths = rd_u16le(b);
	cc->has_high_color = 1;
	if (rd_left(b) < 2)
		return GCC_OK;
	cc->early_capability_flags = rd_u16le(b);
	if (rd_left(b) < 64 + 2 + 4)
		return GCC_OK;
	rd_skip(b, 64 + 2);              /* clientDigProductId, connectionType, pad1octet */
	cc->server_selected_protocol = rd_u32le(b);
	cc->has_selected_protocol = 1;
	return b->err ? GCC_ERR_BLOCK : GCC_OK;
}

static int
parse_net(struct rd *b, struct gcc_client *cc)
{
	uint32_t n, i;

	if (rd_left(b) < 4)
		return GCC_ERR_BLOCK;
	n = rd_u32le(b);
	if (n > RDP_CHANNELS_MAX)
		return GCC_ERR_CHANNELS;
	if (rd_left(b) < (size_t)n * 12)
		return GCC_ERR_BLOCK;
	for (i = 0; i < n; i++) {
		const uint8_t *name = rd_bytes(b, 8);
		size_t j;

		for (j = 0; j < 8 && name[j] != 0; j++)
			cc->channels[i].name[j] = (char)(name[j] >= 0x20 && name[j] < 0x7f ? name[j] : '?');
		cc->channels[i].name[j] = '\0';
		cc->channels[i].options = rd_u32le(b);
	}
	cc->nchannels = n;
	return b->err ? GCC_ERR_BLOCK : GCC_OK;
}

int
gcc_parse_conference_create_request(const uint8_t *p, size_t n, struct gcc_client *cc)
{
	struct rd r;
	size_t len;
	unsigned seen = 0, nblocks = 0;
	int rc;

	memset(cc, 0, sizeof *cc);
	rd_init(&r, p, n);
	if (rd_left(&r) < sizeof t124_oid_hdr || memcmp(rd_ptr(&r), t124_oid_hdr, sizeof t124_oid_hdr) != 0)
		return GCC_ERR_HEADER;
	rd_skip(&r, sizeof t124_oid_hdr);
	if ((rc = per_len(&r, &len)) != GCC_OK)
		return rc;
	if (len != rd_left(&r))
		return GCC_ERR_LENGTH;
	if (rd_left(&r) < sizeof ccr_hdr || memcmp(rd_ptr(&r), ccr_hdr, sizeof ccr_hdr) != 0)
		return GCC_ERR_HEADER;
	rd_skip(&r, sizeof ccr_hdr);
	if ((rc = per_len(&r, &len)) != GCC_OK)
		return rc;
	if (len != rd_left(&r))
		return GCC_ERR_LENGTH;

	while (rd_left(&r) > 0) {
		uint16_t type, blen;
		struct rd b;
		unsigned bit;

		if (++nblocks > RDP_GCC_BLOCKS_MAX)
			return GCC_ERR_TOO_MANY;
		if (rd_left(&r) < 4)
			return GCC_ERR_LENGTH;
		type = rd_u16le(&r);
		blen = rd_u16le(&r);
		if (blen < 4 || (size_t)blen - 4 > rd_left(&r))
			return GCC_ERR_LENGTH;
		b = rd_sub(&r, (size_t)blen - 4);
		if ((type & 0xff00) == 0xc000 && (type & 0xff) < 16) {
			bit = 1u << (type & 0xff);
			if (seen & bit)
				return GCC_ERR_TOO_MANY;
			seen |= bit;
		}
		switch (type) {
		case CS_CORE:
			if ((rc = parse_core(&b, cc)) != GCC_OK)
				return rc;
			break;
		case CS_SECURITY:
			if (rd_left(&b) < 8)
				return GCC_ERR_BLOCK;
			cc->encryption_methods = rd_u32le(&b);
			cc->has_security = 1;
			break;
		case CS_NET:
			if ((rc = parse_net(&b, cc)) != GCC_OK)
				return rc;
			break;
		case CS_CLUSTER:
			if (rd_left(&b) < 8)
				return GCC_ERR_BLOCK;
			cc->cluster_flags = rd_u32le(&b);
			cc->has_cluster = 1;
			break;
		case CS_MCS_MSGCHANNEL:
			if (rd_left(&b) < 4)
				return GCC_ERR_BLOCK;
			cc->has_msgchannel = 1;
			break;
		default:
			break;   /* monitor, multitransport, unknown: not used */
		}
	}
	if (!(seen & (1u << (CS_CORE & 0xff))))
		return GCC_ERR_MISSING;
	return GCC_OK;
}

static void
per_write_len(struct wr *w, size_t len)
{
	if (len < 0x80) {
		wr_u8(w, (unsigned)len);
	} else if (len <= 0x3fff) {
		wr_u16be(w, (unsigned)(0x8000 | len));
	} else {
		w->err = 1;
	}
}

void
gcc_write_conference_create_response(struct wr *w, const struct gcc_server *s)
{
	size_t net_len = 8 + 2 * s->nchannels + (s->nchannels % 2 ? 2 : 0);
	size_t data_len = 12 + 12 + net_len;
	size_t i;

	wr_bytes(w, t124_oid_hdr, sizeof t124_oid_hdr);
	/* connectPDU length: what follows (FreeRDP and xrdp write it the same way). */
	per_write_len(w, sizeof ccresp_hdr + (data_len < 0x80 ? 1 : 2) + data_len);
	wr_bytes(w, ccresp_hdr, sizeof ccresp_hdr);
	per_write_len(w, data_len);
	/* SC_CORE: RDP 5.0+ (0x00080004), the client's requestedProtocols. */
	wr_u16le(w, SC_CORE);
	wr_u16le(w, 12);
	wr_u32le(w, 0x00080004);
	wr_u32le(w, s->client_requested_protocols);
	/* SC_SECURITY: ENCRYPTION_METHOD_NONE, ENCRYPTION_LEVEL_NONE (TLS). */
	wr_u16le(w, SC_SECURITY);
	wr_u16le(w, 12);
	wr_u32le(w, 0);
	wr_u32le(w, 0);
	/* SC_NET */
	wr_u16le(w, SC_NET);
	wr_u16le(w, (unsigned)net_len);
	wr_u16le(w, s->io_channel);
	wr_u16le(w, (unsigned)s->nchannels);
	for (i = 0; i < s->nchannels; i++)
		wr_u16le(w, s->channel_ids[i]);
	if (s->nchannels % 2)
		wr_u16le(w, 0);
}

const char *
gcc_strerror(int status)
{
	switch (status) {
	case GCC_OK: return "ok";
	case GCC_ERR_HEADER: return "bad conference create header";
	case GCC_ERR_LENGTH: return "bad length";
	case GCC_ERR_BLOCK: return "short data block";
	case GCC_ERR_MISSING: return "no core data";
	case GCC_ERR_CHANNELS: return "too many channels";
	case GCC_ERR_TOO_MANY: return "too many or repeated blocks";
	}
	return "unknown";
}
