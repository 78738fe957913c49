/*
 * mcs.h: T.125 MCS as RDP uses it ([MS-RDPBCGR] 2.2.1.3-2.2.1.9, 2.2.8.1):
 * the BER-encoded Connect-Initial / Connect-Response that carry the GCC
 * blocks, and the PER-encoded domain PDUs (Erect Domain, Attach User,
 * Channel Join, Send Data, Disconnect Provider Ultimatum).
 *
 * Parsers take the X.224 user data and borrow pointers into it; builders
 * write into a struct wr.  Nothing allocates; BER is read iteratively to
 * a fixed depth (the structure is flat enough), never recursively.
 */
#ifndef HF_RDP_MCS_H
#define HF_RDP_MCS_H

#include <stddef.h>
#include <stdint.h>

struct wr;

#define MCS_BASE_CHANNEL_ID 1001   /* PER initiator values are offsets from it */

enum mcs_status {
	MCS_OK = 0,
	MCS_ERR_TRUNCATED = -1,  /* a length runs past its container */
	MCS_ERR_TAG = -2,        /* not the type expected here */
	MCS_ERR_LENGTH = -3,     /* a length field that is malformed or inconsistent */
	MCS_ERR_TRAILING = -4,   /* bytes after the PDU */
};

enum mcs_domain_type {
	MCS_ERECT_DOMAIN_REQUEST = 1,
	MCS_DISCONNECT_PROVIDER_ULTIMATUM = 8,
	MCS_ATTACH_USER_REQUEST = 10,
	MCS_ATTACH_USER_CONFIRM = 11,
	MCS_CHANNEL_JOIN_REQUEST = 14,
	MCS_CHANNEL_JOIN_CONFIRM = 15,
	MCS_SEND_DATA_REQUEST = 25,
	MCS_SEND_DATA_INDICATION = 26,
};

struct mcs_connect_initial {
	const uint8_t *user_data;  /* the GCC Conference Create Request */
	size_t user_data_len;
};

struct mcs_domain_pdu {
	int type;                  /* enum mcs_domain_type, or another PER choice */
	uint16_t initiator;        /* channel id (base added) */
	uint16_t channel;
	uint8_t reason;            /* ultimatum */
	const uint8_t *data;       /* send data */
	size_t data_len;
};

int mcs_parse_connect_initial(const uint8_t *p, size_t n, struct mcs_connect_initial *ci);
void mcs_write_connect_response(struct wr *w, const uint8_t *gcc, size_t gcc_len);

/* A domain PDU filling the whole of p[0..n). */
int mcs_parse_domain(const uint8_t *p, size_t n, struct mcs_domain_pdu *d);

void mcs_write_attach_user_confirm(struct wr *w, uint16_t user);
void mcs_write_channel_join_confirm(struct wr *w, uint16_t user, uint16_t channel);
/* The Send Data Indication header for dlen bytes of data that follow. */
void mcs_write_sdi_header(struct wr *w, uint16_t user, uint16_t channel, size_t dlen);
#define MCS_SDI_HEADER_MAX_BYTES 8
void mcs_write_disconnect_ultimatum(struct wr *w, uint8_t reason);
#define MCS_RN_PROVIDER_INITIATED 1
#define MCS_RN_USER_REQUESTED 3

const char *mcs_strerror(int status);

#endif
