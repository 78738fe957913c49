/*
 * fuzz_pptp_ctrl.c: libFuzzer target for the PPTP control connection
 * state machine (src/pptp/ctrl.c).
 *
 * Input layout: byte 0 sets calls_max (1..8) and whether call set-up
 * fails; byte 1 seeds the read sizes; the rest is the peer's TCP stream,
 * fed in reads as a connection would deliver them.  An optional
 * valid Start-Control-Connection-Request is put in front when byte 0's
 * top bit is set, so the fuzzer reaches the established state at once.
 *
 * Checked: ctrl_input never consumes more than it was given nor a
 * partial message; every message sent has its type's fixed length, the
 * magic cookie and a known type; calls opened minus calls closed equals
 * the live calls; after ctrl_release every call is closed and the region
 * is back to what ctrl_init took.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "region.h"
#include "pptp/ctrl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

struct fz {
	int open_fail, closed;
	size_t opened, closed_calls;
	uint16_t next_id;
};

static int
fz_send(void *arg, const uint8_t *m, size_t len)
{
	unsigned type;

	CHECK(len >= PPTP_CTRL_HDR_BYTES && len <= PPTP_CTRL_MSG_MAX_BYTES);
	CHECK((size_t)(m[0] << 8 | m[1]) == len);
	CHECK(m[4] == 0x1a && m[5] == 0x2b && m[6] == 0x3c && m[7] == 0x4d);
	type = (unsigned)(m[8] << 8 | m[9]);
	CHECK(ctrl_fixed_len(type) == len);
	return 0;
}

static int
fz_open(void *arg, struct ctrl_call *call)
{
	struct fz *f = arg;

	if (f->open_fail)
		return -1;
	call->call_id = ++f->next_id;
	f->opened++;
	return 0;
}

static void
fz_close_call(void *arg, struct ctrl_call *call, const char *why)
{
	((struct fz *)arg)->closed_calls++;
}

static void
fz_reject(void *arg, const char *reason)
{
	CHECK(reason != NULL && reason[0] != '\0');
}

static void
fz_established(void *arg)
{
}

static void
fz_close(void *arg)
{
	((struct fz *)arg)->closed = 1;
}

static const struct ctrl_ops fz_ops = {
	.send = fz_send, .call_open = fz_open, .call_close = fz_close_call,
	.reject = fz_reject, .established = fz_established, .close = fz_close,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t stream[65536 + 156];
	struct region *r;
	struct ctrl c;
	struct fz f;
	size_t len = 0, off = 0, fed = 0, base;
	unsigned seed;

	if (size < 2 || size > 65536)
		return 0;
	memset(&f, 0, sizeof f);
	f.open_fail = (data[0] & 0x40) != 0;
	seed = data[1];
	if (data[0] & 0x80) {
		memset(stream, 0, 156);
		stream[0] = 0;
		stream[1] = 156;
		stream[3] = 1;
		stream[4] = 0x1a;
		stream[5] = 0x2b;
		stream[6] = 0x3c;
		stream[7] = 0x4d;
		stream[9] = 1;
		stream[12] = 1;
		len = 156;
	}
	memcpy(stream + len, data + 2, size - 2);
	len += size - 2;
	r = region_new(NULL, "fuzz", 1 << 20);
	CHECK(r != NULL);
	CHECK(ctrl_init(&c, r, (size_t)(data[0] & 7) + 1, &fz_ops, &f) == 0);
	base = region_used(r);
	/* Reads of 1..64 bytes; after each, the messages now complete. */
	while (fed < len && c.state != CTRL_CLOSED) {
		size_t step = (seed % 64) + 1, n;

		seed = seed * 1103515245u + 12345u;
		fed = fed + step > len ? len : fed + step;
		while ((n = ctrl_input(&c, stream + off, fed - off)) > 0) {
			CHECK(n <= fed - off);
			CHECK(n >= PPTP_CTRL_HDR_BYTES);
			off += n;
		}
		CHECK(f.opened - f.closed_calls == c.ncalls);
		CHECK(c.ncalls <= c.calls_max);
	}
	ctrl_release(&c);
	CHECK(f.opened == f.closed_calls);
	CHECK(c.ncalls == 0);
	CHECK(region_used(r) == base);
	region_release(r);
	return 0;
}
