/*
 * fuzz_pptp_gre.c: libFuzzer target for GRE parsing and per-call state
 * (src/pptp/gre.c).
 *
 * Input: a sequence of datagrams, each preceded by a 2-byte length (the
 * raw socket's view: IPv4 header included), and byte 0 the call's rate.
 * Every datagram is parsed; the ones that parse are fed to one call's
 * state (rate, sequence, ack), and a reply header is built for each.
 *
 * Checked: a parsed payload lies inside the datagram and has the length
 * the key declared; a packet without S has no payload; the call never
 * accepts a sequence number that is not ahead of the last one; what we
 * build parses back with our peer's call id; the window count never
 * exceeds what we sent.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pptp/gre.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gre_call g;
	size_t off = 1;
	uint64_t now = 0;

	if (size < 1)
		return 0;
	gre_call_init(&g, 0x4242, 4, (uint32_t)data[0] + 1, 0);
	while (off + 2 <= size) {
		size_t n = (size_t)(data[off] << 8 | data[off + 1]);
		struct gre_pkt p;
		const char *why = NULL;
		uint8_t out[64];
		uint32_t before = g.seq_in;
		int had = g.seq_in_valid;

		off += 2;
		if (n > size - off)
			n = size - off;
		now += 7;
		if (gre_parse(data + off, n, &p, &why) != 0) {
			CHECK(why != NULL);
		} else {
			CHECK(p.payload >= data + off && p.payload + p.payload_len <= data + off + n);
			CHECK(p.has_seq || p.payload_len == 0);
			CHECK(p.payload_len <= PPTP_GRE_PAYLOAD_MAX_BYTES);
			if (gre_call_rate_ok(&g, now) && gre_call_receive(&g, &p)) {
				CHECK(p.has_seq);
				CHECK(!had || (int32_t)(p.seq - before) > 0);
			}
			if (gre_call_window_open(&g) || g.ack_owed) {
				uint8_t d[20 + 64];
				size_t plen = gre_call_window_open(&g) ? 4 : 0;
				size_t hl = gre_build(&g, out, plen);
				struct gre_pkt q;

				memset(d, 0, 20);
				d[0] = 0x45;
				d[9] = 47;
				d[2] = 0;
				d[3] = (uint8_t)(20 + hl + plen);
				memcpy(d + 20, out, hl);
				memset(d + 20 + hl, 0, plen);
				if (hl + plen > 8 && (plen > 0 || (out[1] & 0x80)))
					CHECK(gre_parse(d, 20 + hl + plen, &q, &why) == 0 && q.call_id == 0x4242);
			}
			CHECK(g.seq_out - g.ack_in - 1 <= g.peer_window);
		}
		off += n;
	}
	return 0;
}
