/*
 * caps.h: the capability exchange ([MS-RDPBCGR] 2.2.1.13): the Demand
 * Active PDU we send and the client's Confirm Active PDU.
 */
#ifndef HF_RDP_CAPS_H
#define HF_RDP_CAPS_H

#include <stddef.h>
#include <stdint.h>

struct wr;

#define CAPSTYPE_GENERAL 1
#define CAPSTYPE_BITMAP 2
#define CAPSTYPE_ORDER 3
#define CAPSTYPE_POINTER 8
#define CAPSTYPE_SHARE 9
#define CAPSTYPE_INPUT 13
#define CAPSTYPE_FONT 14
#define CAPSTYPE_VIRTUALCHANNEL 20
#define CAPSETTYPE_MULTIFRAGMENTUPDATE 26
#define CAPSETTYPE_LARGE_POINTER 27
#define CAPSETTYPE_SURFACE_COMMANDS 28

#define FASTPATH_OUTPUT_SUPPORTED 0x0001
#define LONG_CREDENTIALS_SUPPORTED 0x0004
#define NO_BITMAP_COMPRESSION_HDR 0x0400

#define INPUT_FLAG_SCANCODES 0x0001
#define INPUT_FLAG_MOUSEX 0x0004
#define INPUT_FLAG_FASTPATH_INPUT 0x0008
#define INPUT_FLAG_UNICODE 0x0010
#define INPUT_FLAG_FASTPATH_INPUT2 0x0020

enum caps_status {
	CAPS_OK = 0,
	CAPS_ERR_TRUNCATED = -1,
	CAPS_ERR_TYPE = -2,        /* not a Confirm Active */
	CAPS_ERR_LENGTH = -3,      /* a length disagrees with its container */
	CAPS_ERR_TOO_MANY = -4,    /* more than RDP_CAPSETS_MAX sets */
	CAPS_ERR_SET = -5,         /* a known set too short for what we read */
};

struct caps_server {
	uint32_t share_id;
	uint16_t source;           /* server channel id (1002) */
	uint16_t width, height;
	uint16_t bpp;
	uint32_t multifrag_max;    /* MultifragmentMaxRequestSize we accept */
};

/* The whole Demand Active PDU (share control header first). */
void caps_write_demand_active(struct wr *w, const struct caps_server *s);

struct caps_client {
	uint32_t share_id;
	size_t nsets;              /* sets seen, known or not */
	size_t nunknown;
	int has_general, has_bitmap, has_input, has_multifrag;
	uint16_t general_extra_flags;
	uint16_t bitmap_bpp;
	uint16_t bitmap_width, bitmap_height;
	uint16_t bitmap_compression;
	uint16_t input_flags;
	uint32_t multifrag_max;
};

/* p: the Send Data Request user data (share control header first). */
int caps_parse_confirm_active(const uint8_t *p, size_t n, struct caps_client *cc);

const char *caps_strerror(int status);

#endif
