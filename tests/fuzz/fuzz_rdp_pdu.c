/*
 * fuzz_rdp_pdu.c: libFuzzer target for the post-TLS parsers of the term
 * service: Send Data Request payloads (Client Info, Confirm Active, share
 * data PDUs and their bodies: synchronize, control, font list, input,
 * refresh rect, suppress output), drdynvc / display control messages
 * and fast-path input.
 *
 * The input is split into PDUs as term.c splits its stream (TPKT or
 * fast-path framing); each goes, as an exact-length heap copy, to every
 * parser that could see it in some state.  Oracles: accepted input
 * delivers sane events (counts within the limits), Client Info strings
 * are NUL-terminated within their buffers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rdp/caps.h"
#include "rdp/dvc.h"
#include "rdp/fastpath.h"
#include "rdp/mcs.h"
#include "rdp/pdu.h"
#include "rdp/rdp_sec.h"
#include "rdp/x224.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static size_t nevents;

static void
count(void *arg, const struct rdp_input_event *ev)
{
	(void)arg;
	CHECK(ev->kind <= RDP_INPUT_OTHER);
	nevents++;
}

static struct rdp_client_info info;

static void
dvc_data(const uint8_t *p, size_t n)
{
	const uint8_t *data;
	struct dvc_pdu d;
	size_t dl;
	uint32_t w = 0, h = 0;

	if (svc_parse(p, n, &data, &dl) != DVC_OK)
		return;
	CHECK(data >= p && data + dl == p + n);
	if (dvc_parse(data, dl, &d) == DVC_OK && d.cmd == DVC_CMD_DATA) {
		CHECK(d.data >= data && d.data + d.data_len == data + dl);
		if (disp_parse_monitor_layout(d.data, d.data_len, &w, &h) == DVC_OK)
			CHECK(w > 0 && h > 0);
	}
}

static void
io_data(const uint8_t *p, size_t n)
{
	dvc_data(p, n);
	struct share_pdu sp;
	struct caps_client cc;

	if (rdp_sec_parse_client_info(p, n, &info) == RDP_SEC_OK) {
		CHECK(memchr(info.user, 0, sizeof info.user) != NULL);
		CHECK(memchr(info.password, 0, sizeof info.password) != NULL);
	}
	(void)caps_parse_confirm_active(p, n, &cc);
	if (pdu_parse_share(p, n, &sp) != PDU_OK || sp.pdu_type != PDUTYPE_DATAPDU)
		return;
	CHECK(sp.body + sp.body_len == p + n);
	switch (sp.pdu_type2) {
	case PDUTYPE2_INPUT:
		nevents = 0;
		if (pdu_parse_input(sp.body, sp.body_len, NULL, NULL) == PDU_OK) {
			CHECK(pdu_parse_input(sp.body, sp.body_len, count, NULL) == PDU_OK);
			CHECK(nevents <= RDP_SLOWPATH_EVENTS_MAX);
		} else {
			CHECK(pdu_parse_input(sp.body, sp.body_len, count, NULL) != PDU_OK);
			CHECK(nevents == 0);
		}
		break;
	case PDUTYPE2_REFRESH_RECT: {
		struct pdu_rect r[PDU_REFRESH_AREAS_MAX];
		size_t nr;

		if (pdu_parse_refresh_rect(sp.body, sp.body_len, r, &nr) == PDU_OK)
			CHECK(nr <= PDU_REFRESH_AREAS_MAX);
		break;
	}
	case PDUTYPE2_SUPPRESS_OUTPUT: {
		int allow;

		(void)pdu_parse_suppress_output(sp.body, sp.body_len, &allow);
		break;
	}
	default: {
		uint16_t t;
		struct pdu_control ctl;

		(void)pdu_parse_synchronize(sp.body, sp.body_len, &t);
		(void)pdu_parse_control(sp.body, sp.body_len, &ctl);
		(void)pdu_parse_font_list(sp.body, sp.body_len);
	}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, len;

	while (off < size) {
		uint8_t *c;
		int rc;

		if (data[off] == 3) {
			struct mcs_domain_pdu d;
			const uint8_t *dt;
			size_t dl;

			if (tpkt_frame(data + off, size - off, RDP_PDU_MAX_BYTES, &len) != X224_OK)
				break;
			c = malloc(len);
			memcpy(c, data + off, len);
			if (x224_parse_data(c, len, &dt, &dl) == X224_OK && mcs_parse_domain(dt, dl, &d) == MCS_OK &&
			    d.type == MCS_SEND_DATA_REQUEST) {
				uint8_t *e = malloc(d.data_len ? d.data_len : 1);

				memcpy(e, d.data, d.data_len);
				io_data(e, d.data_len);
				free(e);
			}
			free(c);
		} else {
			rc = fastpath_frame(data + off, size - off, RDP_PDU_MAX_BYTES, &len);
			if (rc != FASTPATH_OK)
				break;
			c = malloc(len);
			memcpy(c, data + off, len);
			nevents = 0;
			if (fastpath_parse_input(c, len, NULL, NULL) == FASTPATH_OK) {
				CHECK(fastpath_parse_input(c, len, count, NULL) == FASTPATH_OK);
				CHECK(nevents <= RDP_FASTPATH_EVENTS_MAX);
			} else {
				CHECK(fastpath_parse_input(c, len, count, NULL) != FASTPATH_OK);
				CHECK(nevents == 0);
			}
			free(c);
		}
		off += len;
	}
	/* The whole input as one I/O channel payload as well. */
	{
		uint8_t *c = malloc(size ? size : 1);

		memcpy(c, data, size);
		io_data(c, size);
		free(c);
	}
	return 0;
}
