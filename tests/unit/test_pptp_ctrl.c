/*
 * test_pptp_ctrl.c: unit tests for src/pptp/ctrl.c, the PPTP control
 * connection state machine (RFC 2637 section 2), driven through a fake
 * set of ctrl_ops that records what the state machine sends, opens,
 * closes and counts.
 *
 * Covers: the start of a control connection (success, wrong version),
 * framing errors that end it (length below 12 or above 220, wrong magic,
 * wrong message type), every control type with its length one short and
 * one long (skipped, the stream stays in step), unknown types, reserved0,
 * out-of-state messages before and after the start, Echo, Outgoing-Call
 * (success, call-id reuse, calls_max, no resources, bad phone length),
 * Incoming-Call refused, Call-Clear, Set-Link-Info, Stop-Control-
 * Connection, the error budget, byte-at-a-time input and the write
 * budget.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region.h"
#include "pptp/ctrl.h"

struct fake {
	uint8_t out[8192];
	size_t out_len;
	size_t nsent;
	int closed, established, send_fail, open_fail;
	unsigned opened, closed_calls;
	uint16_t next_id;
	char reasons[64][32];
	size_t nreasons;
};

static int
f_send(void *arg, const uint8_t *msg, size_t len)
{
	struct fake *f = arg;

	if (f->send_fail)
		return -1;
	assert_true(f->out_len + len <= sizeof f->out);
	memcpy(f->out + f->out_len, msg, len);
	f->out_len += len;
	f->nsent++;
	return 0;
}

static int
f_call_open(void *arg, struct ctrl_call *call)
{
	struct fake *f = arg;

	if (f->open_fail)
		return -1;
	call->call_id = f->next_id++;
	call->data = f;
	f->opened++;
	return 0;
}

static void
f_call_close(void *arg, struct ctrl_call *call, const char *why)
{
	struct fake *f = arg;

	f->closed_calls++;
}

static void
f_reject(void *arg, const char *reason)
{
	struct fake *f = arg;

	if (f->nreasons < 64)
		strncpy(f->reasons[f->nreasons++], reason, 31);
}

static void
f_established(void *arg)
{
	((struct fake *)arg)->established++;
}

static void
f_close(void *arg)
{
	((struct fake *)arg)->closed++;
}

static const struct ctrl_ops fops = {
	.send = f_send,
	.call_open = f_call_open,
	.call_close = f_call_close,
	.reject = f_reject,
	.established = f_established,
	.close = f_close,
};

struct fx {
	struct region *r;
	struct ctrl c;
	struct fake f;
};

static int
setup(void **state)
{
	struct fx *x = calloc(1, sizeof *x);

	x->r = region_new(NULL, "test", 1 << 20);
	x->f.next_id = 100;
	assert_int_equal(ctrl_init(&x->c, x->r, 2, &fops, &x->f), 0);
	*state = x;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *x = *state;

	region_release(x->r);
	free(x);
	return 0;
}

static int
has_reason(const struct fake *f, const char *r)
{
	size_t i;

	for (i = 0; i < f->nreasons; i++)
		if (strcmp(f->reasons[i], r) == 0)
			return 1;
	return 0;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A well-formed message of type with its fixed length (zeroed body). */
static size_t
mk(uint8_t *m, unsigned type)
{
	size_t len = ctrl_fixed_len(type);

	memset(m, 0, PPTP_CTRL_MSG_MAX_BYTES);
	put16(m, (uint16_t)len);
	put16(m + 2, 1);
	m[4] = 0x1a;
	m[5] = 0x2b;
	m[6] = 0x3c;
	m[7] = 0x4d;
	put16(m + 8, (uint16_t)type);
	if (type == PPTP_SCCRQ)
		put16(m + 12, 0x0100);
	return len;
}

/* Feeds one buffer whole, as the service does (loop while consumed). */
static size_t
feed(struct fx *x, const uint8_t *p, size_t len)
{
	size_t off = 0, n;

	while (off < len && (n = ctrl_input(&x->c, p + off, len - off)) > 0)
		off += n;
	return off;
}

static void
start(struct fx *x)
{
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	size_t len = mk(m, PPTP_SCCRQ);

	assert_int_equal(feed(x, m, len), len);
	assert_int_equal(x->c.state, CTRL_ESTABLISHED);
	x->f.out_len = 0;
	x->f.nsent = 0;
}

/* The last message sent: its type. */
static unsigned
out_type(const struct fx *x, size_t at)
{
	return get16(x->f.out + at + 8);
}

static void
test_sccrq_ok(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	size_t len = mk(m, PPTP_SCCRQ);

	assert_int_equal(feed(x, m, len), 156);
	assert_int_equal(x->f.out_len, 156);
	assert_int_equal(get16(x->f.out), 156);
	assert_int_equal(out_type(x, 0), PPTP_SCCRP);
	assert_int_equal(get16(x->f.out + 12), 0x0100);
	assert_int_equal(x->f.out[14], 1);             /* result: success */
	assert_int_equal(get16(x->f.out + 24), 2);     /* max channels = calls_max */
	assert_int_equal(x->f.established, 1);
	assert_int_equal(x->c.state, CTRL_ESTABLISHED);
}

static void
test_sccrq_bad_version(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	size_t len = mk(m, PPTP_SCCRQ);

	put16(m + 12, 0x0200);
	feed(x, m, len);
	assert_int_equal(out_type(x, 0), PPTP_SCCRP);
	assert_int_equal(x->f.out[14], 5);
	assert_int_equal(x->f.closed, 1);
	assert_int_equal(x->c.state, CTRL_CLOSED);
	assert_int_equal(x->f.established, 0);
}

static void
test_fatal_framing(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	static const struct {
		int field;
		const char *reason;
	} cases[] = { { 0, "ctrl_bad_length" }, { 1, "ctrl_bad_length" }, { 2, "ctrl_bad_magic" },
		      { 3, "ctrl_bad_msg_type" } };
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;

		teardown(state);
		setup(state);
		x = *state;
		start(x);
		len = mk(m, PPTP_ECHORQ);
		switch (cases[i].field) {
		case 0:
			put16(m, 11);
			break;
		case 1:
			put16(m, 221);
			break;
		case 2:
			m[7] = 0x4e;
			break;
		case 3:
			put16(m + 2, 2);
			break;
		}
		assert_int_equal(feed(x, m, len), 0);
		assert_true(has_reason(&x->f, cases[i].reason));
		assert_int_equal(x->c.state, CTRL_CLOSED);
		assert_int_equal(x->f.closed, 1);
		/* Established: the protocol's own goodbye, StopCCRQ. */
		assert_int_equal(x->f.nsent, 1);
		assert_int_equal(out_type(x, 0), PPTP_STOPCCRQ);
	}
}

/* A bad length is seen before the rest arrives: no waiting for 65535 bytes. */
static void
test_bad_length_early(void **state)
{
	struct fx *x = *state;
	uint8_t m[2] = { 0xff, 0xff };

	assert_int_equal(ctrl_input(&x->c, m, 2), 0);
	assert_int_equal(x->c.state, CTRL_CLOSED);
	assert_true(has_reason(&x->f, "ctrl_bad_length"));
	assert_int_equal(x->f.nsent, 0);   /* not established: nothing to stop */
}

static void
test_every_length_wrong(void **state)
{
	struct fx *x = *state;
	uint8_t m[512];
	unsigned type;
	int delta;

	for (type = 1; type <= PPTP_CTRL_TYPE_MAX; type++) {
		for (delta = -1; delta <= 1; delta += 2) {
			size_t len;
			size_t fixed = ctrl_fixed_len(type);
			uint8_t echo[PPTP_CTRL_MSG_MAX_BYTES];
			size_t elen;

			if (fixed + (size_t)delta > PPTP_CTRL_MSG_MAX_BYTES || fixed + (size_t)delta < 12)
				continue;
			teardown(state);
			setup(state);
			x = *state;
			start(x);
			mk(m, type);
			len = (size_t)((long)fixed + delta);
			put16(m, (uint16_t)len);
			/* followed by a valid Echo-Request: the stream stays in step */
			elen = mk(echo, PPTP_ECHORQ);
			echo[12] = 0x42;
			memmove(m + len, echo, elen);
			assert_int_equal(feed(x, m, len + elen), len + elen);
			assert_true(has_reason(&x->f, "ctrl_wrong_length"));
			assert_int_equal(x->c.state, CTRL_ESTABLISHED);
			assert_int_equal(x->f.nsent, 1);
			assert_int_equal(out_type(x, 0), PPTP_ECHORP);
			assert_int_equal(x->f.out[12], 0x42);
			assert_int_equal(x->f.opened, 0);
		}
	}
}

static void
test_unknown_type_and_reserved(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	size_t len;

	start(x);
	len = mk(m, PPTP_ECHORQ);
	put16(m + 8, 0);
	assert_int_equal(feed(x, m, len), len);
	put16(m + 8, 16);
	assert_int_equal(feed(x, m, len), len);
	put16(m + 8, 0xffff);
	assert_int_equal(feed(x, m, len), len);
	assert_true(has_reason(&x->f, "ctrl_unknown_type"));
	len = mk(m, PPTP_ECHORQ);
	put16(m + 10, 1);
	assert_int_equal(feed(x, m, len), len);
	assert_true(has_reason(&x->f, "ctrl_reserved0"));
	assert_int_equal(x->f.nsent, 0);
	assert_int_equal(x->c.errors, 4);
	assert_int_equal(x->c.state, CTRL_ESTABLISHED);
}

/* Before Start-Control-Connection, one error ends the connection. */
static void
test_out_of_state_before_start(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	unsigned type;

	for (type = 2; type <= PPTP_CTRL_TYPE_MAX; type++) {
		size_t len;

		teardown(state);
		setup(state);
		x = *state;
		len = mk(m, type);
		feed(x, m, len);
		assert_true(has_reason(&x->f, "ctrl_out_of_state"));
		assert_int_equal(x->c.state, CTRL_CLOSED);
		assert_int_equal(x->f.nsent, 0);
		assert_int_equal(x->f.opened, 0);
	}
}

/* After it: replies we never asked for and the PAC's messages are errors,
 * answered with nothing. */
static void
test_out_of_state_after_start(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	static const unsigned types[] = { PPTP_SCCRQ, PPTP_SCCRP, PPTP_STOPCCRP, PPTP_ECHORP, PPTP_OCRP,
		                          PPTP_ICRP, PPTP_ICCN, PPTP_CDN };
	size_t i;

	start(x);
	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		size_t len = mk(m, types[i]);

		assert_int_equal(feed(x, m, len), len);
	}
	assert_int_equal(x->c.errors, 8);
	assert_int_equal(x->f.nsent, 0);
	assert_int_equal(x->c.state, CTRL_ESTABLISHED);
}

static void
test_echo(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	size_t len;

	start(x);
	len = mk(m, PPTP_ECHORQ);
	memcpy(m + 12, "\x01\x02\x03\x04", 4);
	feed(x, m, len);
	assert_int_equal(x->f.out_len, 20);
	assert_int_equal(out_type(x, 0), PPTP_ECHORP);
	assert_memory_equal(x->f.out + 12, "\x01\x02\x03\x04", 4);
	assert_int_equal(x->f.out[16], 1);
}

static size_t
mk_ocrq(uint8_t *m, uint16_t peer_id, uint16_t window)
{
	size_t len = mk(m, PPTP_OCRQ);

	put16(m + 12, peer_id);
	put16(m + 32, window);
	return len;
}

static void
test_ocrq(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	size_t len;

	start(x);
	len = mk_ocrq(m, 0x1234, 1000);
	feed(x, m, len);
	assert_int_equal(x->f.out_len, 32);
	assert_int_equal(out_type(x, 0), PPTP_OCRP);
	assert_int_equal(get16(x->f.out + 12), 100);      /* our call id */
	assert_int_equal(get16(x->f.out + 14), 0x1234);   /* theirs */
	assert_int_equal(x->f.out[16], 1);                 /* connected */
	assert_int_equal(get16(x->f.out + 24), PPTP_RECV_WINDOW_PKTS);
	assert_int_equal(x->c.ncalls, 1);
	assert_int_equal(x->c.calls[0].peer_window, PPTP_PEER_WINDOW_MAX_PKTS);   /* clamped */

	/* the same PNS call id again: refused, the first call stays */
	x->f.out_len = 0;
	feed(x, m, len);
	assert_int_equal(x->f.out[16], 2);
	assert_int_equal(x->f.out[17], 3);
	assert_true(has_reason(&x->f, "ctrl_call_id_reuse"));
	assert_int_equal(x->c.ncalls, 1);
	assert_int_equal(x->f.opened, 1);

	/* a second call fits (calls_max 2), a third does not */
	x->f.out_len = 0;
	len = mk_ocrq(m, 0x1235, 0);
	feed(x, m, len);
	assert_int_equal(x->f.out[16], 1);
	assert_int_equal(x->c.calls[1].peer_window, 1);
	x->f.out_len = 0;
	len = mk_ocrq(m, 0x1236, 8);
	feed(x, m, len);
	assert_int_equal(x->f.out[16], 4);       /* busy */
	assert_true(has_reason(&x->f, "ctrl_calls_max"));
	assert_int_equal(x->c.ncalls, 2);
}

static void
test_ocrq_refusals(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	size_t len;

	start(x);
	len = mk_ocrq(m, 7, 8);
	put16(m + 36, 65);                        /* phone number length > 64 */
	feed(x, m, len);
	assert_int_equal(x->f.out[16], 2);
	assert_true(has_reason(&x->f, "ctrl_bad_value"));
	x->f.out_len = 0;
	x->f.open_fail = 1;
	len = mk_ocrq(m, 7, 8);
	feed(x, m, len);
	assert_int_equal(x->f.out[16], 2);
	assert_int_equal(x->f.out[17], 4);       /* no resource */
	assert_int_equal(x->c.ncalls, 0);
}

static void
test_icrq_refused(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	size_t len;

	start(x);
	len = mk(m, PPTP_ICRQ);
	put16(m + 12, 0x55);
	feed(x, m, len);
	assert_int_equal(x->f.out_len, 24);
	assert_int_equal(out_type(x, 0), PPTP_ICRP);
	assert_int_equal(get16(x->f.out + 14), 0x55);
	assert_int_equal(x->f.out[16], 3);   /* do not accept */
	assert_int_equal(x->f.opened, 0);
}

static void
test_ccrq(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	size_t len;

	start(x);
	feed(x, m, mk_ocrq(m, 0x77, 8));
	x->f.out_len = 0;
	/* unknown call: an error, nothing sent */
	len = mk(m, PPTP_CCRQ);
	put16(m + 12, 0x78);
	feed(x, m, len);
	assert_int_equal(x->f.out_len, 0);
	assert_true(has_reason(&x->f, "ctrl_unknown_call"));
	put16(m + 12, 0x77);
	feed(x, m, len);
	assert_int_equal(x->f.out_len, 148);
	assert_int_equal(out_type(x, 0), PPTP_CDN);
	assert_int_equal(get16(x->f.out + 12), 0x77);
	assert_int_equal(x->f.out[14], 4);
	assert_int_equal(x->f.closed_calls, 1);
	assert_int_equal(x->c.ncalls, 0);
	/* the id is free again */
	x->f.out_len = 0;
	feed(x, m, mk_ocrq(m, 0x77, 8));
	assert_int_equal(x->f.out[16], 1);
}

static void
test_sli_wen(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	size_t len;

	start(x);
	feed(x, m, mk_ocrq(m, 0x77, 8));
	len = mk(m, PPTP_SLI);
	put16(m + 12, 100);          /* our call id */
	m[16] = 0;
	m[17] = 0;
	m[18] = 0;
	m[19] = 0x0a;
	feed(x, m, len);
	assert_int_equal(x->c.calls[0].send_accm, 0x0a);
	assert_int_equal(x->c.errors, 0);
	put16(m + 12, 0x77);         /* the PNS's id is not ours */
	feed(x, m, len);
	assert_int_equal(x->c.errors, 1);
	len = mk(m, PPTP_WEN);
	put16(m + 12, 100);
	feed(x, m, len);
	assert_int_equal(x->c.errors, 1);
	assert_int_equal(x->c.wen_count, 1);
}

static void
test_stopccrq(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];

	start(x);
	feed(x, m, mk_ocrq(m, 1, 8));
	feed(x, m, mk_ocrq(m, 2, 8));
	x->f.out_len = 0;
	feed(x, m, mk(m, PPTP_STOPCCRQ));
	assert_int_equal(out_type(x, 0), PPTP_STOPCCRP);
	assert_int_equal(x->f.out[12], 1);
	assert_int_equal(x->f.closed_calls, 2);
	assert_int_equal(x->c.state, CTRL_CLOSED);
	assert_int_equal(x->f.closed, 1);
	/* nothing more is read */
	assert_int_equal(ctrl_input(&x->c, m, mk(m, PPTP_ECHORQ)), 0);
}

static void
test_error_budget(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	size_t len;
	unsigned i;

	start(x);
	feed(x, m, mk_ocrq(m, 1, 8));
	x->f.out_len = 0;
	x->f.nsent = 0;
	len = mk(m, PPTP_ICCN);
	for (i = 0; i < PPTP_CTRL_ERRORS_MAX - 1; i++)
		assert_int_equal(feed(x, m, len), len);
	assert_int_equal(x->c.state, CTRL_ESTABLISHED);
	assert_int_equal(x->f.nsent, 0);
	feed(x, m, len);
	assert_int_equal(x->c.state, CTRL_CLOSED);
	assert_true(has_reason(&x->f, "ctrl_too_many_errors"));
	assert_int_equal(x->f.nsent, 1);
	assert_int_equal(out_type(x, 0), PPTP_STOPCCRQ);
	assert_int_equal(x->f.closed_calls, 1);
}

static void
test_byte_at_a_time(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];
	size_t len = mk(m, PPTP_SCCRQ), i;

	for (i = 1; i < len; i++)
		assert_int_equal(ctrl_input(&x->c, m, i), 0);
	assert_int_equal(x->f.nsent, 0);
	assert_int_equal(x->c.state, CTRL_WAIT_SCCRQ);
	assert_int_equal(ctrl_input(&x->c, m, len), len);
	assert_int_equal(x->c.state, CTRL_ESTABLISHED);
}

static void
test_write_budget(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];

	start(x);
	feed(x, m, mk_ocrq(m, 1, 8));
	x->f.send_fail = 1;
	feed(x, m, mk(m, PPTP_ECHORQ));
	assert_int_equal(x->c.state, CTRL_CLOSED);
	assert_true(has_reason(&x->f, "ctrl_write_failed"));
	assert_int_equal(x->f.closed_calls, 1);
}

static void
test_stop_and_disconnect(void **state)
{
	struct fx *x = *state;
	uint8_t m[PPTP_CTRL_MSG_MAX_BYTES];

	start(x);
	feed(x, m, mk_ocrq(m, 9, 8));
	x->f.out_len = 0;
	ctrl_call_disconnect(&x->c, &x->c.calls[0], 3);
	assert_int_equal(out_type(x, 0), PPTP_CDN);
	assert_int_equal(get16(x->f.out + 12), 9);
	assert_int_equal(x->f.out[14], 3);
	assert_int_equal(x->c.ncalls, 0);
	x->f.out_len = 0;
	ctrl_stop(&x->c, 3);
	assert_int_equal(out_type(x, 0), PPTP_STOPCCRQ);
	assert_int_equal(x->f.out[12], 3);
	assert_int_equal(x->c.state, CTRL_CLOSED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sccrq_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sccrq_bad_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fatal_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_length_early, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_length_wrong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type_and_reserved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_state_before_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_state_after_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ocrq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ocrq_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icrq_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ccrq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sli_wen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopccrq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_and_disconnect, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
