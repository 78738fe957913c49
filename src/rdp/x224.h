/*
 * x224.h: TPKT (RFC 1006) and X.224 (ISO 8073 class 0) as RDP uses them
 * ([MS-RDPBCGR] 2.2.1.1, 2.2.1.2): framing, the Connection Request with its
 * routing cookie and RDP Negotiation Request, the Connection Confirm or
 * Negotiation Failure, and the Data TPDU header around every later PDU.
 */
#ifndef HF_RDP_X224_H
#define HF_RDP_X224_H

#include <stddef.h>
#include <stdint.h>

#include "rdp_limits.h"

struct wr;

#define TPKT_HEADER_BYTES      4
#define X224_DATA_HEADER_BYTES 3        /* LI=2, DT (0xf0), EOT (0x80) */

/* requestedProtocols / selectedProtocol (2.2.1.1.1). */
#define PROTOCOL_RDP           0x00000000u
#define PROTOCOL_SSL           0x00000001u
#define PROTOCOL_HYBRID        0x00000002u
#define PROTOCOL_RDSTLS        0x00000004u
#define PROTOCOL_HYBRID_EX     0x00000008u

/* failureCode of RDP_NEG_FAILURE (2.2.1.2.2). */
#define SSL_REQUIRED_BY_SERVER 0x00000001u
#define SSL_NOT_ALLOWED_BY_SERVER 0x00000002u
#define HYBRID_REQUIRED_BY_SERVER 0x00000005u

enum x224_status {
	X224_OK = 0,
	X224_MORE = 1,          /* framing: not all of the PDU is here yet */
	X224_ERR_TPKT = -1,     /* bad version or length */
	X224_ERR_TOO_BIG = -2,  /* TPKT length past RDP_PDU_MAX_BYTES */
	X224_ERR_LI = -3,       /* X.224 length indicator disagrees with TPKT */
	X224_ERR_TYPE = -4,     /* not the TPDU expected here */
	X224_ERR_COOKIE = -5,   /* unterminated or longer than RDP_COOKIE_MAX_BYTES */
	X224_ERR_NEG = -6,      /* malformed negotiation request or trailing bytes */
};

struct x224_cr {
	int has_cookie;
	size_t cookie_len;                       /* without CRLF */
	char cookie[RDP_COOKIE_MAX_BYTES + 1];   /* NUL-terminated copy */
	int has_neg_req;
	uint8_t neg_flags;
	uint32_t requested_protocols;
};

/* Framing of a TPKT at the start of p[0..n): X224_OK with *pdu_len (the
 * whole TPKT), X224_MORE, or an error.  max bounds the length. */
int tpkt_frame(const uint8_t *p, size_t n, size_t max, size_t *pdu_len);

/* A whole TPKT holding an X.224 Connection Request. */
int x224_parse_cr(const uint8_t *pdu, size_t len, struct x224_cr *cr);

/* Connection Confirm with RDP_NEG_RSP selecting protocol. */
void x224_write_cc(struct wr *w, uint32_t selected);
/* Connection Confirm with RDP_NEG_FAILURE. */
void x224_write_neg_failure(struct wr *w, uint32_t code);

/* A whole TPKT holding a Data TPDU: its user data in *data, *dlen. */
int x224_parse_data(const uint8_t *pdu, size_t len, const uint8_t **data, size_t *dlen);
/* TPKT + Data TPDU header for user data of dlen bytes. */
void x224_write_data_header(struct wr *w, size_t dlen);

const char *x224_strerror(int status);

#endif
