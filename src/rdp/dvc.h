/*
 * dvc.h: the static virtual channel chunk header ([MS-RDPBCGR] 2.2.6.1),
 * dynamic virtual channels over "drdynvc" ([MS-RDPEDYC] 2.2), and the one
 * dynamic channel we serve, display control ([MS-RDPEDISP] 2.2): the
 * client's monitor layout tells us its new window size.
 *
 * Only whole messages are handled: a static channel chunk must carry
 * CHANNEL_FLAG_FIRST | CHANNEL_FLAG_LAST with a length equal to its data,
 * and dynamic channel data must come in one DYNVC_DATA (the PDUs of
 * display control are at most a few hundred bytes).  Fragmented or
 * compressed messages are reported as such and dropped by the caller.
 */
#ifndef HF_RDP_DVC_H
#define HF_RDP_DVC_H

#include <stddef.h>
#include <stdint.h>

struct wr;

#define DVC_DRDYNVC_NAME "drdynvc"
#define DVC_DISPLAY_CONTROL_NAME "Microsoft::Windows::RDS::DisplayControl"
#define DVC_MONITORS_MAX 16          /* monitors in one layout we read (MaxNumMonitors we offer is 1) */
#define DVC_DISPLAY_CHANNEL_ID 1     /* the id we give the display control channel */

#define CHANNEL_FLAG_FIRST 0x01
#define CHANNEL_FLAG_LAST 0x02
#define CHANNEL_PACKET_COMPRESSED 0x00200000
#define SVC_HEADER_BYTES 8

enum dvc_cmd {
	DVC_CMD_CREATE = 0x01,
	DVC_CMD_DATA_FIRST = 0x02,
	DVC_CMD_DATA = 0x03,
	DVC_CMD_CLOSE = 0x04,
	DVC_CMD_CAPS = 0x05,
	DVC_CMD_DATA_FIRST_COMPRESSED = 0x06,
	DVC_CMD_DATA_COMPRESSED = 0x07,
	DVC_CMD_SOFT_SYNC_REQUEST = 0x08,
	DVC_CMD_SOFT_SYNC_RESPONSE = 0x09,
};

enum dvc_status {
	DVC_OK = 0,
	DVC_PARTIAL = 1,           /* a fragment or compressed message: not handled, not an error */
	DVC_ERR_TRUNCATED = -1,
	DVC_ERR_LENGTH = -2,       /* a length field disagrees with the bytes */
	DVC_ERR_CMD = -3,          /* a command we do not know */
	DVC_ERR_LAYOUT = -4,       /* a monitor layout we cannot use */
};

/* A client chunk on a static channel: the whole message's data. */
int svc_parse(const uint8_t *p, size_t n, const uint8_t **data, size_t *dlen);
/* Header of a whole message of len bytes, server to client. */
void svc_write_header(struct wr *w, size_t len);

struct dvc_pdu {
	int cmd;                   /* enum dvc_cmd */
	uint32_t channel_id;
	uint16_t version;          /* CAPS */
	int32_t status;            /* CREATE response */
	const uint8_t *data;       /* DATA */
	size_t data_len;
};
int dvc_parse(const uint8_t *p, size_t n, struct dvc_pdu *d);

void dvc_write_caps_request(struct wr *w);
void dvc_write_create_request(struct wr *w, uint8_t channel_id, const char *name);
void dvc_write_data_header(struct wr *w, uint8_t channel_id);

/* DISPLAYCONTROL_MONITOR_LAYOUT_PDU: the primary monitor's size (the
 * first one if none says primary). */
int disp_parse_monitor_layout(const uint8_t *p, size_t n, uint32_t *width, uint32_t *height);
/* DISPLAYCONTROL_CAPS_PDU: one monitor of at most max_w x max_h. */
void disp_write_caps(struct wr *w, uint32_t max_w, uint32_t max_h);

const char *dvc_strerror(int status);

#endif
