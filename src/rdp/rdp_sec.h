/*
 * rdp_sec.h: the RDP security layer under TLS ([MS-RDPBCGR] 2.2.1.11,
 * 2.2.1.12, 2.2.8.1.1.2.1): the basic security header, the Client Info
 * PDU (credentials converted from UTF-16LE to UTF-8) and the licensing
 * PDU that tells the client it needs no licence (STATUS_VALID_CLIENT).
 */
#ifndef HF_RDP_SEC_H
#define HF_RDP_SEC_H

#include <stddef.h>
#include <stdint.h>

#include "rdp_limits.h"

struct wr;

/* Basic security header flags (2.2.8.1.1.2.1). */
#define SEC_EXCHANGE_PKT 0x0001
#define SEC_TRANSPORT_REQ 0x0002
#define SEC_ENCRYPT 0x0008
#define SEC_INFO_PKT 0x0040
#define SEC_LICENSE_PKT 0x0080
#define SEC_REDIRECTION_PKT 0x0400

/* TS_INFO_PACKET flags. */
#define INFO_MOUSE 0x00000001
#define INFO_AUTOLOGON 0x00000008
#define INFO_UNICODE 0x00000010
#define INFO_MAXIMIZESHELL 0x00000020

enum rdp_sec_status {
	RDP_SEC_OK = 0,
	RDP_SEC_ERR_TRUNCATED = -1,
	RDP_SEC_ERR_FLAGS = -2,       /* not an info packet, or encrypted */
	RDP_SEC_ERR_LENGTH = -3,      /* a cb* field over its limit, odd, or past the PDU */
	RDP_SEC_ERR_ENCODING = -4,    /* bad UTF-16, a NUL inside, or a missing terminator */
};

struct rdp_client_info {
	uint32_t codepage;
	uint32_t flags;
	char domain[RDP_INFO_UTF8_MAX_BYTES];
	char user[RDP_INFO_UTF8_MAX_BYTES];
	char password[RDP_INFO_UTF8_MAX_BYTES];
	char shell[RDP_INFO_UTF8_MAX_BYTES];
	char workdir[RDP_INFO_UTF8_MAX_BYTES];
};

/* p: the Send Data Request user data on the I/O channel (security header
 * first).  On error the struct holds no credentials. */
int rdp_sec_parse_client_info(const uint8_t *p, size_t n, struct rdp_client_info *ci);
/* Wipes the credentials (explicit_bzero). */
void rdp_sec_wipe_client_info(struct rdp_client_info *ci);

/* The licensing error PDU with STATUS_VALID_CLIENT, security header first
 * (2.2.1.12.1.1, [MS-RDPELE] 2.2.2.7.1). */
void rdp_sec_write_license_valid_client(struct wr *w);
#define RDP_SEC_LICENSE_PDU_BYTES 20

/* UTF-16LE (n bytes, even) to NUL-terminated UTF-8 in out[0..outlen):
 * 0, or -1 on an unpaired surrogate, a NUL unit or too little room. */
int rdp_utf16le_to_utf8(const uint8_t *p, size_t n, char *out, size_t outlen);

const char *rdp_sec_strerror(int status);

#endif
