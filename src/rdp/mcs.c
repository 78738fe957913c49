/*
 * mcs.c: MCS Connect-Initial/Response (BER, T.125 annex A) and the domain
 * PDUs (PER aligned) of RDP; see mcs.h.
 *
 * BER: only definite lengths of at most two length bytes (RDP_PDU_MAX_BYTES
 * is far below 64 KiB); every element must lie inside its parent and the
 * outermost element must fill the X.224 user data exactly.  The three
 * DomainParameters are checked to be sequences of small INTEGERs and
 * otherwise ignored: we answer with our own.
 *
 * PER: the domain PDUs we read have fixed layouts; a Send Data Request's
 * length (1 or 2 bytes) must match the bytes present exactly.
 */
#include <string.h>

#include "rdp_stream.h"
#include "mcs.h"

#define BER_TAG_BOOLEAN 0x01
#define BER_TAG_INTEGER 0x02
#define BER_TAG_OCTET_STRING 0x04
#define BER_TAG_ENUMERATED 0x0a
#define BER_TAG_SEQUENCE 0x30
#define MCS_TAG_CONNECT_INITIAL 0x65   /* [APPLICATION 101] */
#define MCS_TAG_CONNECT_RESPONSE 0x66
#define DOMAIN_PARAMS_INTEGERS 8

/* A BER length: short form, or 0x81/0x82 long form. */
static int
ber_len(struct rd *r, size_t *len)
{
	uint8_t b = rd_u8(r);

	if (r->err)
		return MCS_ERR_TRUNCATED;
	if (b < 0x80) {
		*len = b;
	} else if (b == 0x81) {
		*len = rd_u8(r);
	} else if (b == 0x82) {
		*len = rd_u16be(r);
	} else {
		return MCS_ERR_LENGTH;
	}
	if (r->err)
		return MCS_ERR_TRUNCATED;
	if (*len > rd_left(r))
		return MCS_ERR_TRUNCATED;
	return MCS_OK;
}

/* One element with a one-byte tag: its contents as a sub-reader. */
static int
ber_elem(struct rd *r, uint8_t tag, struct rd *sub)
{
	size_t len;
	int rc;

	if (rd_left(r) < 1)
		return MCS_ERR_TRUNCATED;
	if (rd_u8(r) != tag)
		return MCS_ERR_TAG;
	if ((rc = ber_len(r, &len)) != MCS_OK)
		return rc;
	*sub = rd_sub(r, len);
	return MCS_OK;
}

static int
ber_domain_params(struct rd *r)
{
	struct rd seq, in;
	int i, rc;

	if ((rc = ber_elem(r, BER_TAG_SEQUENCE, &seq)) != MCS_OK)
		return rc;
	for (i = 0; i < DOMAIN_PARAMS_INTEGERS; i++) {
		if ((rc = ber_elem(&seq, BER_TAG_INTEGER, &in)) != MCS_OK)
			return rc;
		if (in.len < 1 || in.len > 4)
			return MCS_ERR_LENGTH;
	}
	return rd_left(&seq) == 0 ? MCS_OK : MCS_ERR_TRAILING;
}

int
mcs_parse_connect_initial(const uint8_t *p, size_t n, struct mcs_connect_initial *ci)
{
	struct rd r, body, e;
	size_t len;
	int rc, i;

	memset(ci, 0, sizeof *ci);
	rd_init(&r, p, n);
	if (n < 2)
		return MCS_ERR_TRUNCATED;
	if (rd_u8(&r) != 0x7f || rd_u8(&r) != MCS_TAG_CONNECT_INITIAL)
		return MCS_ERR_TAG;
	if ((rc = ber_len(&r, &len)) != MCS_OK)
		return rc;
	if (len != rd_left(&r))
		return len < rd_left(&r) ? MCS_ERR_TRAILING : MCS_ERR_TRUNCATED;
	body = rd_sub(&r, len);
	/* callingDomainSelector, calledDomainSelector */
	for (i = 0; i < 2; i++)
		if ((rc = ber_elem(&body, BER_TAG_OCTET_STRING, &e)) != MCS_OK)
			return rc;
	/* upwardFlag */
	if ((rc = ber_elem(&body, BER_TAG_BOOLEAN, &e)) != MCS_OK)
		return rc;
	if (e.len != 1)
		return MCS_ERR_LENGTH;
	/* target, minimum, maximum parameters */
	for (i = 0; i < 3; i++)
		if ((rc = ber_domain_params(&body)) != MCS_OK)
			return rc;
	if ((rc = ber_elem(&body, BER_TAG_OCTET_STRING, &e)) != MCS_OK)
		return rc;
	if (rd_left(&body) != 0)
		return MCS_ERR_TRAILING;
	ci->user_data = e.p;
	ci->user_data_len = e.len;
	return MCS_OK;
}

static void
ber_write_len(struct wr *w, size_t len)
{
	if (len < 0x80) {
		wr_u8(w, (unsigned)len);
	} else if (len <= 0xff) {
		wr_u8(w, 0x81);
		wr_u8(w, (unsigned)len);
	} else if (len <= 0xffff) {
		wr_u8(w, 0x82);
		wr_u16be(w, (unsigned)len);
	} else {
		w->err = 1;
	}
}

static size_t
ber_len_bytes(size_t len)
{
	return len < 0x80 ? 1 : len <= 0xff ? 2 : 3;
}

/* Our DomainParameters: what xrdp and FreeRDP answer (T.125 defaults
 * trimmed to RDP: 34 channels, 3 users, 0 tokens, 1 priority, height 1,
 * 65528-byte PDUs, protocol version 2). */
static const uint8_t domain_params[] = {
	BER_TAG_SEQUENCE, 26,
	2, 1, 34, 2, 1, 3, 2, 1, 0, 2, 1, 1, 2, 1, 0, 2, 1, 1, 2, 3, 0x00, 0xff, 0xf8, 2, 1, 2,
};

void
mcs_write_connect_response(struct wr *w, const uint8_t *gcc, size_t gcc_len)
{
	size_t body = 3 /* result */ + 3 /* calledConnectId */ + sizeof domain_params + 1 + ber_len_bytes(gcc_len) +
	              gcc_len;

	wr_u8(w, 0x7f);
	wr_u8(w, MCS_TAG_CONNECT_RESPONSE);
	ber_write_len(w, body);
	wr_u8(w, BER_TAG_ENUMERATED);
	wr_u8(w, 1);
	wr_u8(w, 0);    /* rt-successful */
	wr_u8(w, BER_TAG_INTEGER);
	wr_u8(w, 1);
	wr_u8(w, 0);
	wr_bytes(w, domain_params, sizeof domain_params);
	wr_u8(w, BER_TAG_OCTET_STRING);
	ber_write_len(w, gcc_len);
	wr_bytes(w, gcc, gcc_len);
}

int
mcs_parse_domain(const uint8_t *p, size_t n, struct mcs_domain_pdu *d)
{
	struct rd r;
	uint8_t b;
	size_t len;

	memset(d, 0, sizeof *d);
	rd_init(&r, p, n);
	if (n < 1)
		return MCS_ERR_TRUNCATED;
	b = rd_u8(&r);
	d->type = b >> 2;
	switch (d->type) {
	case MCS_ERECT_DOMAIN_REQUEST:
		/* subHeight, subInterval: PER integers (a length byte, then the
		 * value) from FreeRDP and mstsc, but two raw 16-bit values from
		 * rdesktop.  We use neither: accept 4 to 10 bytes. */
		if (rd_left(&r) < 4 || rd_left(&r) > 10)
			return rd_left(&r) < 4 ? MCS_ERR_TRUNCATED : MCS_ERR_TRAILING;
		rd_skip(&r, rd_left(&r));
		break;
	case MCS_ATTACH_USER_REQUEST:
		break;
	case MCS_DISCONNECT_PROVIDER_ULTIMATUM:
		/* reason: 3 bits straddling the two bytes. */
		d->reason = (uint8_t)((b & 0x03) << 1 | rd_u8(&r) >> 7);
		break;
	case MCS_CHANNEL_JOIN_REQUEST:
		d->initiator = (uint16_t)(rd_u16be(&r) + MCS_BASE_CHANNEL_ID);
		d->channel = rd_u16be(&r);
		break;
	case MCS_SEND_DATA_REQUEST:
		d->initiator = (uint16_t)(rd_u16be(&r) + MCS_BASE_CHANNEL_ID);
		d->channel = rd_u16be(&r);
		rd_u8(&r);      /* dataPriority, segmentation */
		b = rd_u8(&r);
		if (r.err)
			return MCS_ERR_TRUNCATED;
		if (b & 0x80) {
			if (b & 0x40)
				return MCS_ERR_LENGTH;   /* PER fragments: never needed below 16 KiB */
			len = (size_t)(b & 0x3f) << 8 | rd_u8(&r);
		} else {
			len = b;
		}
		if (r.err)
			return MCS_ERR_TRUNCATED;
		if (len != rd_left(&r))
			return len > rd_left(&r) ? MCS_ERR_TRUNCATED : MCS_ERR_TRAILING;
		d->data = rd_ptr(&r);
		d->data_len = len;
		rd_skip(&r, len);
		break;
	default:
		return MCS_ERR_TAG;
	}
	if (r.err)
		return MCS_ERR_TRUNCATED;
	/* An ultimatum may carry padding bits in a trailing byte; nothing else may trail. */
	if (rd_left(&r) != 0 && d->type != MCS_DISCONNECT_PROVIDER_ULTIMATUM)
		return MCS_ERR_TRAILING;
	return MCS_OK;
}

void
mcs_write_attach_user_confirm(struct wr *w, uint16_t user)
{
	wr_u8(w, MCS_ATTACH_USER_CONFIRM << 2 | 2);  /* initiator present */
	wr_u8(w, 0);                                 /* rt-successful */
	wr_u16be(w, (unsigned)(user - MCS_BASE_CHANNEL_ID));
}

void
mcs_write_channel_join_confirm(struct wr *w, uint16_t user, uint16_t channel)
{
	wr_u8(w, MCS_CHANNEL_JOIN_CONFIRM << 2 | 2); /* channelId present */
	wr_u8(w, 0);
	wr_u16be(w, (unsigned)(user - MCS_BASE_CHANNEL_ID));
	wr_u16be(w, channel);   /* requested */
	wr_u16be(w, channel);   /* channelId */
}

void
mcs_write_sdi_header(struct wr *w, uint16_t user, uint16_t channel, size_t dlen)
{
	wr_u8(w, MCS_SEND_DATA_INDICATION << 2);
	wr_u16be(w, (unsigned)(user - MCS_BASE_CHANNEL_ID));
	wr_u16be(w, channel);
	wr_u8(w, 0x70);         /* high priority, begin | end */
	if (dlen > 0x3fff) {
		w->err = 1;
		return;
	}
	/* Always the two-byte form: header size then does not depend on dlen. */
	wr_u16be(w, (unsigned)(0x8000 | dlen));
}

void
mcs_write_disconnect_ultimatum(struct wr *w, uint8_t reason)
{
	wr_u8(w, (unsigned)(MCS_DISCONNECT_PROVIDER_ULTIMATUM << 2 | (reason >> 1 & 3)));
	wr_u8(w, (unsigned)((reason & 1) << 7));
}

const char *
mcs_strerror(int status)
{
	switch (status) {
	case MCS_OK: return "ok";
	case MCS_ERR_TRUNCATED: return "truncated";
	case MCS_ERR_TAG: return "unexpected tag";
	case MCS_ERR_LENGTH: return "bad length";
	case MCS_ERR_TRAILING: return "trailing bytes";
	}
	return "unknown";
}
