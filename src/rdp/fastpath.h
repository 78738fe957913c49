/*
 * fastpath.h: fast-path input and output PDUs ([MS-RDPBCGR] 2.2.8.1.2,
 * 2.2.9.1.2): framing of client input, its events (as struct
 * rdp_input_event of pdu.h, flags converted to slow-path values), and the
 * header of our fast-path update PDUs.
 */
#ifndef HF_RDP_FASTPATH_H
#define HF_RDP_FASTPATH_H

#include <stddef.h>
#include <stdint.h>

#include "pdu.h"

struct wr;

#define FASTPATH_UPDATETYPE_BITMAP 0x1
#define FASTPATH_UPDATETYPE_SYNCHRONIZE 0x3
/* fpOutputHeader, 2-byte length, updateHeader, size. */
#define FASTPATH_UPDATE_HEADER_BYTES 6

enum fastpath_status {
	FASTPATH_OK = 0,
	FASTPATH_MORE = 1,
	FASTPATH_ERR_HEADER = -1,     /* not fast-path, or encrypted */
	FASTPATH_ERR_LENGTH = -2,     /* length too small, too big, or disagrees with the events */
	FASTPATH_ERR_EVENT = -3,      /* unknown event code (its size is unknown) */
};

/* Framing: is p[0..n) the start of a fast-path PDU, and how long is it. */
int fastpath_frame(const uint8_t *p, size_t n, size_t max, size_t *pdu_len);
/* A whole fast-path input PDU: checked whole, then each event to cb
 * (cb may be NULL: validation only). */
int fastpath_parse_input(const uint8_t *p, size_t n, rdp_input_cb cb, void *arg);
/* Header of one fast-path update PDU carrying one update of size bytes. */
void fastpath_write_update_header(struct wr *w, uint8_t update_code, size_t size);

const char *fastpath_strerror(int status);

#endif
