/*
 * fuzz_rdp_handshake.c: libFuzzer target for the pre-TLS and MCS parsers
 * of the term service: TPKT framing, the X.224 Connection Request, the
 * MCS Connect-Initial with its GCC client data, and the MCS domain PDUs.
 *
 * The input is framed as term.c frames it (tpkt_frame with the limits it
 * uses); each PDU goes to every parser that could see it, as a malloc'd
 * copy of exactly its length, so ASan reports any read past it.
 * Oracles: a parser that accepts must report lengths inside its input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rdp/gcc.h"
#include "rdp/mcs.h"
#include "rdp/x224.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void
one_pdu(const uint8_t *p, size_t n)
{
	struct x224_cr cr;
	struct mcs_connect_initial ci;
	struct gcc_client cc;
	struct mcs_domain_pdu d;
	const uint8_t *dt;
	size_t dl;

	if (x224_parse_cr(p, n, &cr) == X224_OK) {
		CHECK(cr.cookie_len <= RDP_COOKIE_MAX_BYTES);
		CHECK(strlen(cr.cookie) == cr.cookie_len);
	}
	if (x224_parse_data(p, n, &dt, &dl) != X224_OK)
		return;
	CHECK(dt >= p && dt + dl == p + n);
	if (mcs_parse_connect_initial(dt, dl, &ci) == MCS_OK) {
		CHECK(ci.user_data >= dt && ci.user_data + ci.user_data_len <= dt + dl);
		if (gcc_parse_conference_create_request(ci.user_data, ci.user_data_len, &cc) == GCC_OK)
			CHECK(cc.nchannels <= RDP_CHANNELS_MAX);
	}
	if (mcs_parse_domain(dt, dl, &d) == MCS_OK && d.type == MCS_SEND_DATA_REQUEST)
		CHECK(d.data >= dt && d.data + d.data_len == dt + dl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, len;
	int first = 1;

	/* The GCC parser alone, on the raw input too. */
	{
		uint8_t *c = malloc(size ? size : 1);
		struct gcc_client cc;

		memcpy(c, data, size);
		(void)gcc_parse_conference_create_request(c, size, &cc);
		free(c);
	}
	while (off < size) {
		uint8_t *c;
		int rc = tpkt_frame(data + off, size - off, first ? RDP_X224_CR_MAX_BYTES : RDP_PDU_MAX_BYTES, &len);

		if (rc != X224_OK)
			break;
		CHECK(len >= 7 && len <= size - off);
		c = malloc(len);
		memcpy(c, data + off, len);
		one_pdu(c, len);
		free(c);
		off += len;
		first = 0;
	}
	return 0;
}
