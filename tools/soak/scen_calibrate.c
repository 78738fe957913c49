/*
 * scen_calibrate.c: the calibration scenario, for tests/soak/leaky.c (a
 * line server that leaks a planted number of bytes per malformed line).
 * Attack: lines of random garbage, 16 to 64 bytes, never a command.
 * --valid: "NOOP " lines of the same length distribution.
 * Probe: "PING" on a kept connection, answered "+PONG".
 * Interface: scen_calibrate (soak.h).  Limits: one message = one line.
 * Known weaknesses: none that matter for calibration.
 */
#include "soak.h"

static int
cal_message(struct soak_gen *g, struct soak_out *o)
{
	size_t n = 16 + soak_rng_below(&g->rng, 49);

	if (g->valid) {
		out_str(o, "NOOP ");
		out_rand_text(o, &g->rng, n - 5);
	} else {
		out_str(o, "~");
		out_rand_text(o, &g->rng, n - 1);
	}
	out_str(o, "\n");
	return 0;
}

static void
cal_probe_request(unsigned serial, struct soak_out *o)
{
	out_str(o, "PING\n");
}

static int
cal_probe_reply(const uint8_t *b, size_t n)
{
	return soak_line_reply(b, n, "+");
}

const struct soak_scenario scen_calibrate = {
	.name = "calibrate",
	.summary = "garbage lines for tests/soak/leaky.c (--valid: NOOP lines)",
	.default_port = 0,
	.message = cal_message,
	.probe_request = cal_probe_request,
	.probe_reply = cal_probe_reply,
};
