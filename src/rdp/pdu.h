/*
 * pdu.h: the share control and share data PDUs of RDP ([MS-RDPBCGR]
 * 2.2.8.1.1.1, 2.2.1.14-2.2.1.22, 2.2.8.1.1.3, 2.2.11.2-4, 2.2.2.2):
 * headers, the finalization PDUs (synchronize, control, font list/map),
 * slow-path input, refresh rect, suppress output, shutdown, error info.
 *
 * Input events of both paths (slow-path here, fast-path in fastpath.c)
 * are delivered as struct rdp_input_event with slow-path flag values.
 */
#ifndef HF_RDP_PDU_H
#define HF_RDP_PDU_H

#include <stddef.h>
#include <stdint.h>

struct wr;

/* pduType (low 4 bits of the share control header's pduType). */
#define PDUTYPE_DEMANDACTIVEPDU 0x1
#define PDUTYPE_CONFIRMACTIVEPDU 0x3
#define PDUTYPE_DEACTIVATEALLPDU 0x6
#define PDUTYPE_DATAPDU 0x7
#define PDU_VERSION 0x0010

/* pduType2 of share data PDUs. */
#define PDUTYPE2_UPDATE 0x02
#define PDUTYPE2_CONTROL 0x14
#define PDUTYPE2_POINTER 0x1b
#define PDUTYPE2_INPUT 0x1c
#define PDUTYPE2_SYNCHRONIZE 0x1f
#define PDUTYPE2_REFRESH_RECT 0x21
#define PDUTYPE2_SUPPRESS_OUTPUT 0x23
#define PDUTYPE2_SHUTDOWN_REQUEST 0x24
#define PDUTYPE2_SHUTDOWN_DENIED 0x25
#define PDUTYPE2_SAVE_SESSION_INFO 0x26
#define PDUTYPE2_FONTLIST 0x27
#define PDUTYPE2_FONTMAP 0x28
#define PDUTYPE2_BITMAPCACHE_PERSISTENT_LIST 0x2b
#define PDUTYPE2_SET_ERROR_INFO_PDU 0x2f
#define PDUTYPE2_FRAME_ACKNOWLEDGE 0x38

#define CTRLACTION_REQUEST_CONTROL 0x0001
#define CTRLACTION_GRANTED_CONTROL 0x0002
#define CTRLACTION_DETACH 0x0003
#define CTRLACTION_COOPERATE 0x0004

/* Slow-path keyboard flags (TS_KEYBOARD_EVENT). */
#define KBDFLAGS_EXTENDED 0x0100
#define KBDFLAGS_EXTENDED1 0x0200
#define KBDFLAGS_DOWN 0x4000
#define KBDFLAGS_RELEASE 0x8000

#define ERRINFO_RPC_INITIATED_DISCONNECT 0x00000001
#define ERRINFO_LOGOFF_BY_USER 0x0000000c
#define ERRINFO_IDLE_TIMEOUT 0x00000003

#define SHARE_CONTROL_HEADER_BYTES 6
#define SHARE_DATA_HEADER_BYTES 18   /* control header included */

enum pdu_status {
	PDU_OK = 0,
	PDU_ERR_TRUNCATED = -1,
	PDU_ERR_LENGTH = -2,        /* totalLength or an inner count disagrees with the bytes */
	PDU_ERR_COMPRESSED = -3,    /* bulk compression we never offered */
	PDU_ERR_EVENT = -4,         /* an input event we cannot size */
	PDU_ERR_TOO_MANY = -5,      /* more events or areas than a limit */
	PDU_ERR_FLOW = 1,           /* a flow control PDU (flowMarker 0x8000): ignore */
};

struct share_pdu {
	uint16_t total_length;
	uint16_t pdu_type;          /* low 4 bits */
	uint16_t pdu_source;
	/* DATAPDU only: */
	uint32_t share_id;
	uint8_t stream_id;
	uint16_t uncompressed_length;
	uint8_t pdu_type2;
	const uint8_t *body;        /* after the header(s) */
	size_t body_len;
};

/* p: the whole Send Data Request user data on the I/O channel. */
int pdu_parse_share(const uint8_t *p, size_t n, struct share_pdu *s);

enum rdp_input_kind {
	RDP_INPUT_SCANCODE,
	RDP_INPUT_UNICODE,
	RDP_INPUT_SYNC,
	RDP_INPUT_MOUSE,            /* mouse, extended mouse, wheel: ignored by term */
	RDP_INPUT_OTHER,            /* QoE timestamp, unused: ignored */
};

struct rdp_input_event {
	enum rdp_input_kind kind;
	uint16_t flags;             /* KBDFLAGS_* or pointer flags */
	uint16_t code;              /* scancode or UTF-16 unit */
	uint32_t toggles;           /* sync */
	uint16_t x, y;
};

typedef void (*rdp_input_cb)(void *arg, const struct rdp_input_event *ev);

/* TS_INPUT_PDU_DATA body.  The whole PDU is checked before cb sees any
 * event (cb may be NULL: validation only). */
int pdu_parse_input(const uint8_t *p, size_t n, rdp_input_cb cb, void *arg);

struct pdu_control {
	uint16_t action;
	uint16_t grant_id;
	uint32_t control_id;
};
int pdu_parse_synchronize(const uint8_t *p, size_t n, uint16_t *target_user);
int pdu_parse_control(const uint8_t *p, size_t n, struct pdu_control *c);
int pdu_parse_font_list(const uint8_t *p, size_t n);

struct pdu_rect {
	uint16_t left, top, right, bottom;   /* inclusive */
};
#define PDU_REFRESH_AREAS_MAX 32
/* Refresh Rect: up to PDU_REFRESH_AREAS_MAX areas copied to out. */
int pdu_parse_refresh_rect(const uint8_t *p, size_t n, struct pdu_rect *out, size_t *nout);
/* Suppress Output: *allow 1 (send updates) or 0. */
int pdu_parse_suppress_output(const uint8_t *p, size_t n, int *allow);

/* Builders: a share data PDU is begun, its body written, then ended
 * (which patches the lengths).  begin returns the offset to pass to end. */
size_t pdu_begin_data(struct wr *w, uint32_t share_id, uint16_t source, uint8_t pdu_type2);
void pdu_end_data(struct wr *w, size_t start);
size_t pdu_begin_control(struct wr *w, uint16_t pdu_type, uint16_t source);
void pdu_end_control(struct wr *w, size_t start);

/* An 18-byte share data header for a body of body_len bytes written separately. */
void pdu_write_data_header(struct wr *w, uint32_t share_id, uint16_t source, uint8_t pdu_type2, size_t body_len);

void pdu_write_synchronize(struct wr *w, uint32_t share_id, uint16_t source, uint16_t target_user);
void pdu_write_control(struct wr *w, uint32_t share_id, uint16_t source, uint16_t action, uint16_t grant_id,
                       uint32_t control_id);
void pdu_write_font_map(struct wr *w, uint32_t share_id, uint16_t source);
void pdu_write_shutdown_denied(struct wr *w, uint32_t share_id, uint16_t source);
void pdu_write_error_info(struct wr *w, uint32_t share_id, uint16_t source, uint32_t info);
void pdu_write_deactivate_all(struct wr *w, uint32_t share_id, uint16_t source);

const char *pdu_strerror(int status);

#endif
