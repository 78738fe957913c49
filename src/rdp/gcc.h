/*
 * gcc.h: T.124 GCC Conference Create Request/Response as RDP uses them
 * ([MS-RDPBCGR] 2.2.1.3, 2.2.1.4): the client data blocks (core,
 * security, network, cluster, and the ones we skip) and the server data
 * blocks we answer with (core, security "none" under TLS, network).
 */
#ifndef HF_RDP_GCC_H
#define HF_RDP_GCC_H

#include <stddef.h>
#include <stdint.h>

#include "rdp_limits.h"

struct wr;

enum gcc_status {
	GCC_OK = 0,
	GCC_ERR_HEADER = -1,     /* not a Conference Create Request we know */
	GCC_ERR_LENGTH = -2,     /* a PER or block length disagrees with its container */
	GCC_ERR_BLOCK = -3,      /* a block too short for its mandatory fields */
	GCC_ERR_MISSING = -4,    /* no core block */
	GCC_ERR_CHANNELS = -5,   /* more than RDP_CHANNELS_MAX channels */
	GCC_ERR_TOO_MANY = -6,   /* more than RDP_GCC_BLOCKS_MAX blocks, or one twice */
};

#define CS_CORE 0xc001
#define CS_SECURITY 0xc002
#define CS_NET 0xc003
#define CS_CLUSTER 0xc004
#define CS_MONITOR 0xc005
#define CS_MCS_MSGCHANNEL 0xc006
#define CS_MONITOR_EX 0xc008
#define CS_MULTITRANSPORT 0xc00a
#define SC_CORE 0x0c01
#define SC_SECURITY 0x0c02
#define SC_NET 0x0c03

/* supportedColorDepths, earlyCapabilityFlags (2.2.1.3.2). */
#define RNS_UD_24BPP_SUPPORT 0x0001
#define RNS_UD_16BPP_SUPPORT 0x0002
#define RNS_UD_15BPP_SUPPORT 0x0004
#define RNS_UD_32BPP_SUPPORT 0x0008
#define RNS_UD_CS_WANT_32BPP_SESSION 0x0002

struct gcc_channel {
	char name[9];            /* NUL-terminated, at most 8 chars */
	uint32_t options;
};

struct gcc_client {
	/* TS_UD_CS_CORE */
	uint32_t version;
	uint16_t desktop_width, desktop_height;
	uint16_t color_depth;            /* RNS_UD_COLOR_* (legacy) */
	uint32_t keyboard_layout;
	uint32_t client_build;
	char client_name[16 * 3 + 1];    /* UTF-8 of the 16 UTF-16 units, printable */
	uint32_t keyboard_type, keyboard_subtype, keyboard_function_keys;
	int has_high_color;              /* the optional fields below were present */
	uint16_t high_color_depth;
	uint16_t supported_color_depths;
	uint16_t early_capability_flags;
	int has_selected_protocol;
	uint32_t server_selected_protocol;
	/* TS_UD_CS_SEC */
	int has_security;
	uint32_t encryption_methods;
	/* TS_UD_CS_NET */
	size_t nchannels;
	struct gcc_channel channels[RDP_CHANNELS_MAX];
	/* TS_UD_CS_CLUSTER */
	int has_cluster;
	uint32_t cluster_flags;
	int has_msgchannel;
};

/* p: the MCS Connect-Initial user data. */
int gcc_parse_conference_create_request(const uint8_t *p, size_t n, struct gcc_client *cc);

struct gcc_server {
	uint32_t client_requested_protocols;   /* echoed in SC_CORE */
	uint16_t io_channel;                   /* MCS I/O channel id (1003) */
	size_t nchannels;
	const uint16_t *channel_ids;           /* one per client channel */
};

/* The Conference Create Response (the MCS Connect-Response user data). */
void gcc_write_conference_create_response(struct wr *w, const struct gcc_server *s);

const char *gcc_strerror(int status);

#endif
