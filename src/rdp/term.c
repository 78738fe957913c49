/*
 * term.c: the term service: an RDP terminal server.  Configuration,
 * start/stop, the per-connection protocol state machine of the RDP
 * connection sequence ([MS-RDPBCGR] 1.3.1.1), input dispatch to the
 * session, and bitmap updates from the session's screen.
 *
 * Interface: term_service (services.c).  The session module (session.h)
 * owns logins, ptys and screens; the screen module (screen.h) renders.
 *
 * Per connection (struct term_conn in the connection region), states:
 *   X224      Connection Request -> Confirm (TLS selected) or negotiation
 *             failure (standard RDP security is refused), then TLS
 *   MCS_CI    MCS Connect-Initial with GCC blocks -> Connect-Response
 *   ERECT     Erect Domain Request
 *   ATTACH    Attach User Request -> Confirm (our one user channel)
 *   JOIN      Channel Join Request -> Confirm, for every channel
 *   INFO      Client Info PDU -> licence (valid client), Demand Active
 *   CONFIRM   Confirm Active
 *   FINALIZE  synchronize, control, font list -> font map, then the
 *             session opens with the Client Info credentials
 *   ACTIVE    input, refresh rect, suppress output, shutdown request
 * With connect_pipeline (the default) every answer from the Attach User
 * Confirm to the Font Map goes out with the Connect-Response instead
 * (tc_put_pipeline); the requests are still checked in the same order.
 * A PDU that is malformed or arrives out of order is logged (rated),
 * counted under an "rdp_*" reject reason, and the connection is closed:
 * RDP has no error reply after the X.224 negotiation failure.
 *
 * Framing: TPKT (first byte 3) in every state; fast-path input (first
 * byte with action 0) from CONFIRM on.  Every PDU must fit
 * RDP_PDU_MAX_BYTES; start() makes read_max at least that, so a PDU
 * always fits the input buffer.
 *
 * Budgets: until the session opens, the connection region's budget is
 * prelogin_budget (RDP_PRELOGIN_BUDGET_BYTES by default), then the
 * service's connection_budget.  Scratch memory (credentials being decoded,
 * an update batch) lives in a request region released before returning.
 * The credentials themselves stay in the connection region, wiped, only
 * from the Client Info PDU until session_open.  conn's handshake timer
 * runs until the font list (the end of the connection sequence).
 *
 * Output: the session calls damage(); a deferred call then pops the
 * screen's damaged rectangles, encodes them and sends bitmap updates
 * (fast-path if the client offered it) of at most RDP_UPDATE_MAX_BYTES,
 * stopping while the write queue is above half its budget (polled every
 * RDP_DRAIN_POLL_MS: conn has no drain callback).
 *
 * Known weaknesses: no NLA (CredSSP); virtual channels are joined but
 * their data is dropped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "region.h"
#include "service.h"
#include "stats.h"
#include "rdp/caps.h"
#include "rdp/dvc.h"
#include "rdp/fastpath.h"
#include "rdp/font.h"
#include "rdp/gcc.h"
#include "rdp/mcs.h"
#include "rdp/pdu.h"
#include "rdp/rdp_sec.h"
#include "rdp/rdp_stream.h"
#include "rdp/screen.h"
#include "rdp/session.h"
#include "rdp/term.h"
#include "rdp/update.h"
#include "rdp/x224.h"

#define TERM_SERVER_CHANNEL 1002          /* pduSource of our share PDUs */
#define TERM_SHARE_ID 0x000103ea
#define TERM_CTRL_PDU_MAX_BYTES 1024      /* our largest control PDU (Demand Active ~ 400) */
#define TERM_IO_HEADER_BYTES (TPKT_HEADER_BYTES + X224_DATA_HEADER_BYTES + MCS_SDI_HEADER_MAX_BYTES)
/* The pipelined flight: Connect-Response (< 512), Attach User Confirm,
 * a Join Confirm per channel (< 32 each), licence, Demand Active and the
 * four finalization PDUs (< 128 each), each with its headers. */
#define TERM_FLIGHT_MAX_BYTES (512 + 32 * (RDP_CHANNELS_MAX + 3) + 2 * TERM_CTRL_PDU_MAX_BYTES + \
                               6 * (TERM_IO_HEADER_BYTES + 128))

#define C(f) offsetof(struct term_conf, f)
static const struct conf_key term_keys[] = {
	{ "allow_users", CONF_LIST, "", C(allow_users), 0, 0 },
	{ "allow_groups", CONF_LIST, "", C(allow_groups), 0, 0 },
	{ "command", CONF_STR, "", C(command), 0, 0 },
	{ "session_idle_timeout", CONF_DURATION, "0", C(session_idle_timeout), 0, 0 },
	{ "session_timeout", CONF_DURATION, "0", C(session_timeout), 0, 0 },
	{ "session_max", CONF_INT, "16", C(session_max), 1, 10000 },
	{ "keep_disconnected", CONF_DURATION, "0", C(keep_disconnected), 0, 0 },
	{ "keymap", CONF_STR, "us", C(keymap), 0, 0 },
	{ "font", CONF_PATH, "/usr/share/unifont/unifont.hex", C(font), 0, 0 },
	{ "login_attempts_max", CONF_INT, "3", C(login_attempts_max), 1, 100 },
	{ "allow_root", CONF_BOOL, "no", C(allow_root), 0, 0 },
	{ "connect_pipeline", CONF_BOOL, "yes", C(connect_pipeline), 0, 0 },
	{ "login_rate_per_address", CONF_INT, "10", C(login_rate_per_address), 0, 100000 },
	{ "login_burst_per_address", CONF_INT, "5", C(login_burst_per_address), 1, 100000 },
	{ "color_depth", CONF_INT, "16", C(color_depth), 15, 32 },
	{ "prelogin_budget", CONF_SIZE, RDP_PRELOGIN_BUDGET_TEXT, C(prelogin_budget), 32 * 1024, 16 * 1024 * 1024 },
	CONF_KEYS_END
};

enum tc_state {
	TC_X224,
	TC_MCS_CI,
	TC_ERECT,
	TC_ATTACH,
	TC_JOIN,
	TC_INFO,
	TC_CONFIRM,
	TC_FINALIZE,
	TC_ACTIVE,
};

/* The display control channel over drdynvc, for resizes. */
enum tc_dvc_state {
	TC_DVC_NONE,                      /* no drdynvc, or not started */
	TC_DVC_CAPS,                      /* caps request sent */
	TC_DVC_CREATE,                    /* create request sent */
	TC_DVC_OPEN,                      /* display control caps sent: layouts welcome */
	TC_DVC_OFF,                       /* refused or broken: ignored from now on */
};

static const char *const tc_state_names[] = {
	"x224", "mcs_connect", "erect_domain", "attach_user", "channel_join", "client_info", "confirm_active",
	"finalize", "active",
};

struct term_conn {
	struct term *t;
	struct conn *c;
	enum tc_state state;
	uint32_t requested_protocols;
	uint32_t selected_protocol;
	/* From the GCC client data. */
	uint16_t width, height, bpp;
	size_t nchannels;
	uint16_t channel_ids[RDP_CHANNELS_MAX];
	uint16_t user_channel;
	uint16_t drdynvc_channel;         /* 0: the client has no drdynvc */
	int dvc_state;                    /* enum tc_dvc_state */
	int reactivating;                 /* a Deactivate All is being answered */
	uint64_t joined;                  /* bit 0 user, 1 I/O, 2+i static channel i */
	int pipelined;                    /* our side of the sequence went out with the Connect-Response */
	int finalize_sent;                /* our finalization PDUs are out for this activation */
	uint64_t join_all;
	/* From the Confirm Active. */
	int fastpath_output;
	int cd_header;                    /* client lacks NO_BITMAP_COMPRESSION_HDR */
	uint32_t multifrag_max;
	struct session *session;
	int session_ended;
	int suppress;                     /* Suppress Output: no updates */
	struct loop_defer flush_defer;
	struct timer flush_timer;
	uint64_t last_flush_ms;           /* when the last update batch went out */
	uint64_t pdus;
	uint64_t updates_sent;
};

static struct log_rate rate_proto, rate_info;

/* ---- errors ---- */

static int tc_fail(struct term_conn *tc, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Counts, logs (rated) and returns -1: the caller closes at once. */
static int
tc_fail(struct term_conn *tc, const char *reason, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	conn_reject(tc->c, reason);
	log_rated(&rate_proto, LOG_LVL_INFO, "term: %s: %s in state %s: %s; closing", conn_peer_name(tc->c), reason,
	          tc_state_names[tc->state], msg);
	return -1;
}

/* ---- output ---- */

/* One Send Data Indication on a channel carrying hdr2[0..len2) then
 * data[0..len) (hdr2 may be NULL), written with one conn_write: over TLS
 * that is one record, and FreeRDP 2 stalls ~100 ms when a PDU it reads
 * arrives split over two records. */
static void
tc_put_sdi(struct term_conn *tc, struct wr *w, uint16_t channel, const uint8_t *hdr2, size_t len2,
           const uint8_t *data, size_t len)
{
	x224_write_data_header(w, MCS_SDI_HEADER_MAX_BYTES + len2 + len);
	mcs_write_sdi_header(w, tc->user_channel, channel, len2 + len);
	if (len2)
		wr_bytes(w, hdr2, len2);
	wr_bytes(w, data, len);
}

static int
tc_send_sdi(struct term_conn *tc, uint16_t channel, const uint8_t *hdr2, size_t len2, const uint8_t *data,
            size_t len)
{
	uint8_t b[TERM_IO_HEADER_BYTES + SVC_HEADER_BYTES + TERM_CTRL_PDU_MAX_BYTES];
	struct wr w;

	wr_init(&w, b, sizeof b);
	tc_put_sdi(tc, &w, channel, hdr2, len2, data, len);
	if (w.err)
		return -1;
	return conn_write(tc->c, w.p, w.len);
}

/* One Send Data Indication on the I/O channel carrying data[0..len). */
static int
tc_send_io(struct term_conn *tc, const uint8_t *data, size_t len)
{
	return tc_send_sdi(tc, RDP_MCS_IO_CHANNEL, NULL, 0, data, len);
}

/* Sends what w holds (a PDU built in a stack buffer) on the I/O channel. */
static int
tc_send_wr(struct term_conn *tc, const struct wr *w)
{
	if (w->err)
		return tc_fail(tc, "rdp_internal", "PDU does not fit its buffer");
	if (tc_send_io(tc, w->p, w->len) != 0) {
		conn_reject(tc->c, "rdp_write_budget");
		return -1;
	}
	return 0;
}

/* A bare TPKT/X.224 data PDU (MCS domain PDUs that are not Send Data),
 * in one conn_write. */
static void
tc_put_x224(struct wr *w, const uint8_t *data, size_t len)
{
	x224_write_data_header(w, len);
	wr_bytes(w, data, len);
}

static int
tc_send_x224(struct term_conn *tc, const uint8_t *data, size_t len)
{
	uint8_t b[TPKT_HEADER_BYTES + X224_DATA_HEADER_BYTES + 64];
	struct wr w;

	wr_init(&w, b, sizeof b);
	tc_put_x224(&w, data, len);
	if (w.err)
		return -1;
	return conn_write(tc->c, w.p, w.len);
}

/* Server-initiated disconnect: error info, then the MCS ultimatum. */
static void
tc_disconnect(struct term_conn *tc, uint32_t errinfo)
{
	uint8_t b[64];
	struct wr w;

	if (conn_closing(tc->c))
		return;
	if (tc->state >= TC_FINALIZE && errinfo != 0) {
		wr_init(&w, b, sizeof b);
		pdu_write_error_info(&w, TERM_SHARE_ID, TERM_SERVER_CHANNEL, errinfo);
		if (!w.err)
			(void)tc_send_io(tc, w.p, w.len);
	}
	if (tc->state > TC_MCS_CI) {
		wr_init(&w, b, sizeof b);
		mcs_write_disconnect_ultimatum(&w, MCS_RN_PROVIDER_INITIATED);
		(void)tc_send_x224(tc, w.p, w.len);
	}
	conn_close_after_flush(tc->c);
}

/* ---- bitmap updates ---- */

static void tc_flush(void *arg);

/* At the end of this loop round, or once RDP_FRAME_MIN_MS have passed
 * since the last batch, whichever is later. */
static void
tc_flush_later(struct term_conn *tc)
{
	struct loop *l = conn_loop(tc->c);
	uint64_t now = loop_now_ms(l);

	if (conn_closing(tc->c))
		return;
	if (tc->last_flush_ms && now - tc->last_flush_ms < RDP_FRAME_MIN_MS) {
		if (!timer_armed(&tc->flush_timer))
			loop_timer_set(l, &tc->flush_timer, RDP_FRAME_MIN_MS - (now - tc->last_flush_ms));
		return;
	}
	loop_defer(l, &tc->flush_defer, tc_flush, tc);
}

static void
tc_flush_timer(struct timer *tm, void *arg)
{
	(void)tm;
	tc_flush(arg);
}

static int
tc_backpressure(struct term_conn *tc)
{
	return conn_wqueue_len(tc->c) >= conn_wqueue_room(tc->c);
}

#define TERM_UPDATE_HEADROOM_BYTES (TERM_IO_HEADER_BYTES + SHARE_DATA_HEADER_BYTES)

/* Sends body[0..len) (a TS_UPDATE_BITMAP_DATA) by fast-path or slow-path;
 * the TERM_UPDATE_HEADROOM_BYTES before body are ours to write the
 * headers into, so that the PDU goes in one conn_write (one TLS record). */
static int
tc_send_update(struct term_conn *tc, uint8_t *body, size_t len)
{
	uint8_t hdr[TERM_UPDATE_HEADROOM_BYTES];
	struct wr w;

	wr_init(&w, hdr, sizeof hdr);
	if (tc->fastpath_output) {
		fastpath_write_update_header(&w, FASTPATH_UPDATETYPE_BITMAP, len);
	} else {
		x224_write_data_header(&w, MCS_SDI_HEADER_MAX_BYTES + SHARE_DATA_HEADER_BYTES + len);
		mcs_write_sdi_header(&w, tc->user_channel, RDP_MCS_IO_CHANNEL, SHARE_DATA_HEADER_BYTES + len);
		pdu_write_data_header(&w, TERM_SHARE_ID, TERM_SERVER_CHANNEL, PDUTYPE2_UPDATE, len);
	}
	if (w.err)
		return -1;
	memcpy(body - w.len, hdr, w.len);
	if (conn_write(tc->c, body - w.len, w.len + len) != 0)
		return -1;
	tc->updates_sent++;
	return 0;
}

/* The largest update body we send: our limit, and what one slow-path PDU
 * can carry.  The client's MultifragmentMaxRequestSize bounds only the
 * reassembly of fragmented updates ([MS-RDPBCGR] 2.2.7.2.6); ours are
 * never fragmented (a 64x64 tile at 32 bpp is 16 KiB), so it does not
 * apply. */
static size_t
tc_update_max(const struct term_conn *tc)
{
	size_t max = RDP_UPDATE_MAX_BYTES;

	if (!tc->fastpath_output && max > 0x3fff - SHARE_DATA_HEADER_BYTES - 16)
		max = 0x3fff - SHARE_DATA_HEADER_BYTES - 16;
	return max;
}

static void
tc_flush(void *arg)
{
	struct term_conn *tc = arg;
	struct screen *scr;
	struct region *req;
	uint8_t *body, *tile;
	struct screen_bitmap bm;
	struct screen_rect r, split;
	size_t max, rect_bytes = 0;
	unsigned split_next = 0;
	int have_tile = 0, splitting = 0;

	loop_timer_cancel(conn_loop(tc->c), &tc->flush_timer);
	if (tc->state != TC_ACTIVE || !tc->session || tc->session_ended || tc->suppress || conn_closing(tc->c))
		return;
	if ((scr = session_screen(tc->session)) == NULL || !screen_has_damage(scr))
		return;
	if (tc_backpressure(tc)) {
		loop_timer_set(conn_loop(tc->c), &tc->flush_timer, RDP_DRAIN_POLL_MS);
		return;
	}
	max = tc_update_max(tc);
	if ((req = region_new(conn_region(tc->c), "update", RDP_REQUEST_BUDGET_BYTES)) == NULL ||
	    (body = region_alloc(req, TERM_UPDATE_HEADROOM_BYTES + max)) == NULL ||
	    (tile = region_alloc(req, SCREEN_ENCODE_MAX_BYTES)) == NULL) {
		region_release(req);
		conn_reject(tc->c, "rdp_update_budget");
		loop_timer_set(conn_loop(tc->c), &tc->flush_timer, RDP_DRAIN_POLL_MS);
		return;
	}
	body += TERM_UPDATE_HEADROOM_BYTES;
	for (;;) {
		struct wr w;
		size_t at;
		unsigned n = 0;

		wr_init(&w, body, max);
		at = update_bitmap_begin(&w);
		for (;;) {
			if (!have_tile) {
				ssize_t len;

				if (splitting) {
					/* One cell row of a tile too big for a PDU. */
					r = split;
					r.y = (uint16_t)split_next;
					r.h = (uint16_t)(split.y + split.h - split_next < FONT_CELL_HEIGHT_PX
					                 ? split.y + split.h - split_next : FONT_CELL_HEIGHT_PX);
					split_next += r.h;
					splitting = split_next < (unsigned)split.y + split.h;
				} else {
					if (n == 0 && tc_backpressure(tc))
						goto out;
					if (!screen_next_update(scr, &r))
						break;
				}
				len = screen_encode(scr, &r, tc->bpp, SCREEN_CODEC_RLE, tile, SCREEN_ENCODE_MAX_BYTES, &bm);
				if (len < 0)
					continue;
				rect_bytes = update_rect_bytes(&bm, tc->cd_header);
				have_tile = 1;
			}
			if (w.len + rect_bytes > w.cap) {
				if (n == 0) {
					/* A 64x64 tile at 32 bpp (16 KiB raw) is more than
					 * a slow-path PDU carries: send it a cell row at a
					 * time.  A row that still does not fit cannot
					 * happen (4 KiB); it is dropped, never looped on. */
					if (!splitting && r.h > FONT_CELL_HEIGHT_PX) {
						split = r;
						split_next = r.y;
						splitting = 1;
					}
					have_tile = 0;
					continue;
				}
				break;
			}
			update_bitmap_rect(&w, &bm, tile, tc->cd_header);
			have_tile = 0;
			n++;
		}
		if (n == 0)
			break;
		update_bitmap_end(&w, at, n);
		tc->last_flush_ms = loop_now_ms(conn_loop(tc->c));
		if (w.err || tc_send_update(tc, w.p, w.len) != 0) {
			conn_reject(tc->c, "rdp_write_budget");
			conn_close(tc->c);
			break;
		}
		if (!have_tile && !splitting && !screen_has_damage(scr))
			break;
	}
out:
	region_release(req);
	if (!conn_closing(tc->c) && screen_has_damage(scr))
		loop_timer_set(conn_loop(tc->c), &tc->flush_timer, RDP_DRAIN_POLL_MS);
}

/* ---- session callbacks ---- */

static void
tc_on_damage(void *arg)
{
	tc_flush_later(arg);
}

static void
tc_on_ended(void *arg, const char *reason)
{
	struct term_conn *tc = arg;

	log_info("term: %s: session ended (%s); disconnecting", conn_peer_name(tc->c), reason);
	tc->session_ended = 1;
	/* Before the end of the connection sequence the client would not
	 * take the Set Error Info PDU: the disconnect waits for the font list
	 * (bounded by the handshake timer). */
	if (tc->state == TC_ACTIVE || tc->state < TC_CONFIRM)
		tc_disconnect(tc, ERRINFO_LOGOFF_BY_USER);
}

static void
tc_on_count(void *arg, const char *reason)
{
	struct term_conn *tc = arg;

	conn_reject(tc->c, reason);
}

static const struct session_ops tc_session_ops = {
	.damage = tc_on_damage,
	.ended = tc_on_ended,
	.count = tc_on_count,
};

/* Right after the Client Info (the desktop size is known from the GCC
 * core data): PAM then runs in the broker while licensing, capabilities
 * and finalization go on; damage waits for TC_ACTIVE.  The credentials
 * stay in the caller's request region, which it wipes. */
static int
tc_open_session(struct term_conn *tc, const char *user, const char *password)
{
	if (tc->session)
		return tc_fail(tc, "rdp_order", "a second session");
	tc->session = session_open(tc->t, user, password, tc->width, tc->height, conn_peer_addr(tc->c),
	                           &tc_session_ops, tc);
	if (!tc->session) {
		conn_reject(tc->c, "rdp_no_session");
		log_rated(&rate_info, LOG_LVL_WARN, "term: %s: no session available; disconnecting",
		          conn_peer_name(tc->c));
		tc_disconnect(tc, ERRINFO_RPC_INITIATED_DISCONNECT);
	}
	return 0;
}

/* ---- input ---- */

static void
tc_input_event(void *arg, const struct rdp_input_event *ev)
{
	struct term_conn *tc = arg;

	if (!tc->session || tc->session_ended)
		return;
	switch (ev->kind) {
	case RDP_INPUT_SCANCODE:
		if (ev->code <= 0xff)
			session_key_scancode(tc->session, ev->flags, (uint8_t)ev->code);
		break;
	case RDP_INPUT_UNICODE:
		session_key_unicode(tc->session, ev->flags, ev->code);
		break;
	case RDP_INPUT_SYNC:
		session_key_sync(tc->session, ev->toggles);
		break;
	case RDP_INPUT_MOUSE:
	case RDP_INPUT_OTHER:
		break;   /* the terminal has no pointer; a wheel scrolls nothing */
	}
}

/* ---- display control (resize) over drdynvc ---- */

/* One whole message on the drdynvc static channel. */
static int
tc_send_dvc(struct term_conn *tc, const struct wr *w)
{
	uint8_t h[SVC_HEADER_BYTES];
	struct wr hw;

	if (w->err)
		return tc_fail(tc, "rdp_internal", "DVC PDU does not fit its buffer");
	wr_init(&hw, h, sizeof h);
	svc_write_header(&hw, w->len);
	if (tc_send_sdi(tc, tc->drdynvc_channel, h, hw.len, w->p, w->len) != 0) {
		conn_reject(tc->c, "rdp_write_budget");
		return -1;
	}
	return 0;
}

/* After the first activation: offer dynamic channels. */
static int
tc_dvc_start(struct term_conn *tc)
{
	uint8_t b[8];
	struct wr w;

	if (!tc->drdynvc_channel || tc->dvc_state != TC_DVC_NONE)
		return 0;
	wr_init(&w, b, sizeof b);
	dvc_write_caps_request(&w);
	tc->dvc_state = TC_DVC_CAPS;
	return tc_send_dvc(tc, &w);
}

static void tc_flush_later(struct term_conn *tc);
static void tc_write_demand_active(const struct term_conn *tc, struct wr *w);

/* The client's window changed size: resize the session's screen and
 * reactivate with the new desktop size (Deactivate All, Demand Active;
 * the client answers with Confirm Active and the finalization PDUs). */
static int
tc_resize(struct term_conn *tc, uint32_t width, uint32_t height)
{
	uint16_t nw, nh;

	nw = (uint16_t)(width < RDP_DESKTOP_WIDTH_MIN ? RDP_DESKTOP_WIDTH_MIN
	                : width > RDP_DESKTOP_WIDTH_MAX ? RDP_DESKTOP_WIDTH_MAX : width);
	nw &= (uint16_t)~3u;
	nh = (uint16_t)(height < RDP_DESKTOP_HEIGHT_MIN ? RDP_DESKTOP_HEIGHT_MIN
	                : height > RDP_DESKTOP_HEIGHT_MAX ? RDP_DESKTOP_HEIGHT_MAX : height);
	if (nw == tc->width && nh == tc->height)
		return 0;
	if (tc->state != TC_ACTIVE || !tc->session || tc->session_ended)
		return 0;   /* a layout during a reactivation: the next one counts */
#ifndef SESSION_HAS_RESIZE
	/* session.h has no session_resize yet: keep the size. */
	log_rated(&rate_info, LOG_LVL_INFO, "term: %s: client asks %ux%u; resizing is not available",
	          conn_peer_name(tc->c), nw, nh);
	return 0;
#else
	{
		uint8_t b[TERM_CTRL_PDU_MAX_BYTES];
		struct wr w;

		if (session_resize(tc->session, nw, nh) != 0) {
			conn_reject(tc->c, "rdp_resize_budget");
			log_rated(&rate_info, LOG_LVL_WARN, "term: %s: resize to %ux%u refused (budget)",
			          conn_peer_name(tc->c), nw, nh);
			return 0;
		}
		log_info("term: %s: resize %ux%u -> %ux%u", conn_peer_name(tc->c), tc->width, tc->height, nw, nh);
		tc->width = nw;
		tc->height = nh;
		wr_init(&w, b, sizeof b);
		pdu_write_deactivate_all(&w, TERM_SHARE_ID, TERM_SERVER_CHANNEL);
		if (tc_send_wr(tc, &w) != 0)
			return -1;
		wr_init(&w, b, sizeof b);
		tc_write_demand_active(tc, &w);
		if (tc_send_wr(tc, &w) != 0)
			return -1;
		tc->reactivating = 1;
		tc->finalize_sent = 0;
		tc->state = TC_CONFIRM;
		return 0;
	}
#endif
}

/* A message on the drdynvc channel. */
static int
tc_dvc_input(struct term_conn *tc, const uint8_t *p, size_t n)
{
	const uint8_t *data;
	struct dvc_pdu d;
	uint8_t b[128];
	struct wr w;
	size_t dlen;
	int rc;

	if ((rc = svc_parse(p, n, &data, &dlen)) == DVC_PARTIAL)
		return 0;
	if (rc != DVC_OK)
		return tc_fail(tc, "rdp_dvc", "channel chunk: %s", dvc_strerror(rc));
	if ((rc = dvc_parse(data, dlen, &d)) == DVC_PARTIAL)
		return 0;
	if (rc != DVC_OK)
		return tc_fail(tc, "rdp_dvc", "%s", dvc_strerror(rc));
	wr_init(&w, b, sizeof b);
	switch (d.cmd) {
	case DVC_CMD_CAPS:
		if (tc->dvc_state != TC_DVC_CAPS)
			return 0;
		dvc_write_create_request(&w, DVC_DISPLAY_CHANNEL_ID, DVC_DISPLAY_CONTROL_NAME);
		tc->dvc_state = TC_DVC_CREATE;
		return tc_send_dvc(tc, &w);
	case DVC_CMD_CREATE:
		if (tc->dvc_state != TC_DVC_CREATE || d.channel_id != DVC_DISPLAY_CHANNEL_ID)
			return 0;
		if (d.status < 0) {
			tc->dvc_state = TC_DVC_OFF;   /* the client has no display control */
			return 0;
		}
		dvc_write_data_header(&w, DVC_DISPLAY_CHANNEL_ID);
		disp_write_caps(&w, RDP_DESKTOP_WIDTH_MAX, RDP_DESKTOP_HEIGHT_MAX);
		tc->dvc_state = TC_DVC_OPEN;
		return tc_send_dvc(tc, &w);
	case DVC_CMD_DATA: {
		uint32_t width = 0, height = 0;

		if (tc->dvc_state != TC_DVC_OPEN || d.channel_id != DVC_DISPLAY_CHANNEL_ID)
			return 0;
		if ((rc = disp_parse_monitor_layout(d.data, d.data_len, &width, &height)) != DVC_OK)
			return tc_fail(tc, "rdp_dvc", "monitor layout: %s", dvc_strerror(rc));
		return tc_resize(tc, width, height);
	}
	case DVC_CMD_CLOSE:
		if (d.channel_id == DVC_DISPLAY_CHANNEL_ID)
			tc->dvc_state = TC_DVC_OFF;
		return 0;
	default:
		return 0;
	}
}

/* ---- the connection sequence ---- */

static int
tc_x224_cr(struct term_conn *tc, const uint8_t *pdu, size_t len)
{
	struct x224_cr cr;
	uint8_t b[32];
	struct wr w;
	int rc;

	if ((rc = x224_parse_cr(pdu, len, &cr)) != X224_OK)
		return tc_fail(tc, "rdp_x224", "%s", x224_strerror(rc));
	wr_init(&w, b, sizeof b);
	if (!cr.has_neg_req || !(cr.requested_protocols & PROTOCOL_SSL)) {
		/* Standard RDP security (or only NLA): refused, as FreeRDP's server does. */
		x224_write_neg_failure(&w, SSL_REQUIRED_BY_SERVER);
		conn_write(tc->c, w.p, w.len);
		conn_reject(tc->c, "rdp_ssl_required");
		log_rated(&rate_info, LOG_LVL_INFO, "term: %s: client asked protocols 0x%x; TLS required",
		          conn_peer_name(tc->c), (unsigned)cr.requested_protocols);
		conn_close_after_flush(tc->c);
		return 0;
	}
	tc->requested_protocols = cr.requested_protocols;
	tc->selected_protocol = PROTOCOL_SSL;
	x224_write_cc(&w, PROTOCOL_SSL);
	if (conn_write(tc->c, w.p, w.len) != 0 || conn_starttls(tc->c) != 0)
		return tc_fail(tc, "rdp_tls", "cannot start TLS");
	tc->state = TC_MCS_CI;
	return 0;
}

/* The session's colour depth: color_depth if the client supports it,
 * else 16 (half the bytes of 32 and RLE applies), 24, 15, 32. */
static uint16_t
pick_bpp(const struct gcc_client *cc, unsigned preferred)
{
	static const struct { unsigned bpp; uint16_t flag; } depths[] = {
		{ 16, RNS_UD_16BPP_SUPPORT }, { 24, RNS_UD_24BPP_SUPPORT },
		{ 15, RNS_UD_15BPP_SUPPORT }, { 32, RNS_UD_32BPP_SUPPORT },
	};
	size_t i;

	if (!cc->has_high_color)
		return 16;
	for (i = 0; i < sizeof depths / sizeof depths[0]; i++)
		if (depths[i].bpp == preferred && (cc->supported_color_depths & depths[i].flag))
			return (uint16_t)preferred;
	for (i = 0; i < sizeof depths / sizeof depths[0]; i++)
		if (cc->supported_color_depths & depths[i].flag)
			return (uint16_t)depths[i].bpp;
	return 16;
}

/* A PDU built in body, on the I/O channel, appended to out. */
static void
tc_put_io(struct term_conn *tc, struct wr *out, const struct wr *body)
{
	if (body->err)
		out->err = 1;
	else
		tc_put_sdi(tc, out, RDP_MCS_IO_CHANNEL, NULL, 0, body->p, body->len);
}

static void
tc_write_demand_active(const struct term_conn *tc, struct wr *w)
{
	struct caps_server cs;

	memset(&cs, 0, sizeof cs);
	cs.share_id = TERM_SHARE_ID;
	cs.source = TERM_SERVER_CHANNEL;
	cs.width = tc->width;
	cs.height = tc->height;
	cs.bpp = tc->bpp;
	cs.multifrag_max = RDP_UPDATE_MAX_BYTES * 4;
	caps_write_demand_active(w, &cs);
}

/*
 * connect_pipeline: everything the server says from the Attach User
 * Confirm to the Font Map depends only on the GCC data we already have
 * (user channel, channel list, desktop size, colour depth), never on what
 * the client sends after the Connect-Initial: the licence is always
 * "valid client", a failed or missing login gets the in-terminal prompt.
 * So it goes out in one flight behind the Connect-Response, in the order
 * the client reads it ([MS-RDPBCGR] 1.3.1.1: attach, joins of the user
 * channel, the I/O channel and the static channels in GCC order, licence,
 * Demand Active, Synchronize, Cooperate, Granted Control, Font Map).
 * The client's requests are still read and checked in that order
 * (tc_channel_join refuses another order); only our answers are early.
 * Why: FreeRDP 2 polls the socket once after each request and otherwise
 * sleeps 100 ms (rdp_client_connect), so every answer that is not already
 * there costs 100 ms; strictly answered, that is 5-8 sleeps per login.
 */
static void
tc_put_pipeline(struct term_conn *tc, struct wr *f)
{
	uint8_t b[TERM_CTRL_PDU_MAX_BYTES];
	struct wr w;
	size_t i;

	wr_init(&w, b, sizeof b);
	mcs_write_attach_user_confirm(&w, tc->user_channel);
	tc_put_x224(f, w.p, w.len);
	wr_init(&w, b, sizeof b);
	mcs_write_channel_join_confirm(&w, tc->user_channel, tc->user_channel);
	tc_put_x224(f, w.p, w.len);
	wr_init(&w, b, sizeof b);
	mcs_write_channel_join_confirm(&w, tc->user_channel, RDP_MCS_IO_CHANNEL);
	tc_put_x224(f, w.p, w.len);
	for (i = 0; i < tc->nchannels; i++) {
		wr_init(&w, b, sizeof b);
		mcs_write_channel_join_confirm(&w, tc->user_channel, tc->channel_ids[i]);
		tc_put_x224(f, w.p, w.len);
	}
	wr_init(&w, b, sizeof b);
	rdp_sec_write_license_valid_client(&w);
	tc_put_io(tc, f, &w);
	wr_init(&w, b, sizeof b);
	tc_write_demand_active(tc, &w);
	tc_put_io(tc, f, &w);
	wr_init(&w, b, sizeof b);
	pdu_write_synchronize(&w, TERM_SHARE_ID, TERM_SERVER_CHANNEL, tc->user_channel);
	tc_put_io(tc, f, &w);
	wr_init(&w, b, sizeof b);
	pdu_write_control(&w, TERM_SHARE_ID, TERM_SERVER_CHANNEL, CTRLACTION_COOPERATE, 0, 0);
	tc_put_io(tc, f, &w);
	wr_init(&w, b, sizeof b);
	pdu_write_control(&w, TERM_SHARE_ID, TERM_SERVER_CHANNEL, CTRLACTION_GRANTED_CONTROL, tc->user_channel,
	                  TERM_SERVER_CHANNEL);
	tc_put_io(tc, f, &w);
	wr_init(&w, b, sizeof b);
	pdu_write_font_map(&w, TERM_SHARE_ID, TERM_SERVER_CHANNEL);
	tc_put_io(tc, f, &w);
}

static int
tc_mcs_connect(struct term_conn *tc, const uint8_t *data, size_t dlen)
{
	struct mcs_connect_initial ci;
	struct gcc_client *cc;
	struct gcc_server gs;
	struct region *req;
	uint8_t gccbuf[256], out[TERM_FLIGHT_MAX_BYTES];
	struct wr gw, w;
	size_t i;
	int rc;

	if ((rc = mcs_parse_connect_initial(data, dlen, &ci)) != MCS_OK)
		return tc_fail(tc, "rdp_mcs", "connect initial: %s", mcs_strerror(rc));
	if ((req = region_new(conn_region(tc->c), "gcc", RDP_REQUEST_BUDGET_BYTES)) == NULL ||
	    (cc = region_alloc(req, sizeof *cc)) == NULL) {
		region_release(req);
		return tc_fail(tc, "rdp_budget", "no room to parse GCC data");
	}
	if ((rc = gcc_parse_conference_create_request(ci.user_data, ci.user_data_len, cc)) != GCC_OK) {
		region_release(req);
		return tc_fail(tc, "rdp_gcc", "%s", gcc_strerror(rc));
	}
	if (cc->has_selected_protocol && cc->server_selected_protocol != tc->selected_protocol) {
		uint32_t got = cc->server_selected_protocol;

		region_release(req);
		return tc_fail(tc, "rdp_gcc", "serverSelectedProtocol %u is not what we selected", (unsigned)got);
	}
	tc->width = cc->desktop_width < RDP_DESKTOP_WIDTH_MIN ? RDP_DESKTOP_WIDTH_MIN
	            : cc->desktop_width > RDP_DESKTOP_WIDTH_MAX ? RDP_DESKTOP_WIDTH_MAX : cc->desktop_width;
	tc->width &= (uint16_t)~3u;
	tc->height = cc->desktop_height < RDP_DESKTOP_HEIGHT_MIN ? RDP_DESKTOP_HEIGHT_MIN
	             : cc->desktop_height > RDP_DESKTOP_HEIGHT_MAX ? RDP_DESKTOP_HEIGHT_MAX : cc->desktop_height;
	tc->bpp = pick_bpp(cc, (unsigned)tc->t->cf->color_depth);
	tc->nchannels = cc->nchannels;
	for (i = 0; i < cc->nchannels; i++) {
		tc->channel_ids[i] = (uint16_t)(RDP_MCS_IO_CHANNEL + 1 + i);
		if (strcmp(cc->channels[i].name, DVC_DRDYNVC_NAME) == 0)
			tc->drdynvc_channel = tc->channel_ids[i];
	}
	tc->user_channel = (uint16_t)(RDP_MCS_IO_CHANNEL + 1 + cc->nchannels);
	tc->join_all = (2ull << (cc->nchannels + 1)) - 1;
	log_info("term: %s: client \"%s\" build %u, %ux%u (asked %ux%u), %u bpp, %zu channels",
	         conn_peer_name(tc->c), cc->client_name, (unsigned)cc->client_build, tc->width, tc->height,
	         cc->desktop_width, cc->desktop_height, tc->bpp, cc->nchannels);
	region_release(req);

	memset(&gs, 0, sizeof gs);
	gs.client_requested_protocols = tc->requested_protocols;
	gs.io_channel = RDP_MCS_IO_CHANNEL;
	gs.nchannels = tc->nchannels;
	gs.channel_ids = tc->channel_ids;
	wr_init(&gw, gccbuf, sizeof gccbuf);
	gcc_write_conference_create_response(&gw, &gs);
	wr_init(&w, out, sizeof out);
	{
		uint8_t body[400];
		struct wr bw;

		wr_init(&bw, body, sizeof body);
		mcs_write_connect_response(&bw, gccbuf, gw.len);
		if (gw.err || bw.err)
			return tc_fail(tc, "rdp_internal", "connect response does not fit");
		x224_write_data_header(&w, bw.len);
		wr_bytes(&w, body, bw.len);
	}
	if (tc->t->cf->connect_pipeline) {
		tc_put_pipeline(tc, &w);
		tc->pipelined = 1;
		tc->finalize_sent = 1;
	}
	if (w.err)
		return tc_fail(tc, "rdp_internal", "connect response does not fit");
	if (conn_write(tc->c, w.p, w.len) != 0)
		return tc_fail(tc, "rdp_write_budget", "connect response");
	tc->state = TC_ERECT;
	return 0;
}

static int
tc_channel_join(struct term_conn *tc, const struct mcs_domain_pdu *d)
{
	uint8_t b[16];
	struct wr w;
	int bit = -1;
	size_t i;

	if (d->initiator != tc->user_channel)
		return tc_fail(tc, "rdp_mcs", "join by initiator %u", d->initiator);
	if (d->channel == tc->user_channel)
		bit = 0;
	else if (d->channel == RDP_MCS_IO_CHANNEL)
		bit = 1;
	for (i = 0; i < tc->nchannels && bit < 0; i++)
		if (d->channel == tc->channel_ids[i])
			bit = (int)(2 + i);
	if (bit < 0)
		return tc_fail(tc, "rdp_mcs", "join of unknown channel %u", d->channel);
	if (tc->joined & (1ull << bit))
		return tc_fail(tc, "rdp_mcs", "channel %u joined twice", d->channel);
	if (tc->pipelined && bit != __builtin_ctzll(~tc->joined))
		/* Our confirms went out in the specified order: another
		 * order would have read the wrong confirm. */
		return tc_fail(tc, "rdp_order", "channel %u joined out of order", d->channel);
	tc->joined |= 1ull << bit;
	if (!tc->pipelined) {
		wr_init(&w, b, sizeof b);
		mcs_write_channel_join_confirm(&w, tc->user_channel, d->channel);
		if (tc_send_x224(tc, w.p, w.len) != 0)
			return tc_fail(tc, "rdp_write_budget", "join confirm");
	}
	if (tc->joined == tc->join_all)
		tc->state = TC_INFO;
	return 0;
}

static int
tc_client_info(struct term_conn *tc, const uint8_t *data, size_t dlen)
{
	struct rdp_client_info *ci;
	struct region *req;
	uint8_t b[TERM_CTRL_PDU_MAX_BYTES];
	struct wr w;
	int rc;

	if ((req = region_new(conn_region(tc->c), "info", RDP_REQUEST_BUDGET_BYTES)) == NULL ||
	    (ci = region_alloc(req, sizeof *ci)) == NULL) {
		region_release(req);
		return tc_fail(tc, "rdp_budget", "no room for the client info");
	}
	if ((rc = rdp_sec_parse_client_info(data, dlen, ci)) != RDP_SEC_OK) {
		region_release(req);
		return tc_fail(tc, "rdp_info", "%s", rdp_sec_strerror(rc));
	}
	if (!tc->pipelined) {
		wr_init(&w, b, sizeof b);
		rdp_sec_write_license_valid_client(&w);
		if (tc_send_wr(tc, &w) != 0)
			goto fail;
		wr_init(&w, b, sizeof b);
		tc_write_demand_active(tc, &w);
		if (tc_send_wr(tc, &w) != 0)
			goto fail;
	}
	rc = tc_open_session(tc, ci->user[0] && strlen(ci->user) < SESSION_USER_MAX_BYTES ? ci->user : NULL,
	                     ci->password[0] && strlen(ci->password) < SESSION_PASSWORD_MAX_BYTES ? ci->password : NULL);
	rdp_sec_wipe_client_info(ci);
	region_release(req);
	if (rc != 0)
		return -1;
	tc->state = TC_CONFIRM;
	return 0;
fail:
	rdp_sec_wipe_client_info(ci);
	region_release(req);
	return -1;
}

static int
tc_confirm_active(struct term_conn *tc, const uint8_t *data, size_t dlen)
{
	struct caps_client cc;
	int rc;

	if ((rc = caps_parse_confirm_active(data, dlen, &cc)) != CAPS_OK)
		return tc_fail(tc, "rdp_caps", "%s", caps_strerror(rc));
	if (cc.share_id != TERM_SHARE_ID)
		return tc_fail(tc, "rdp_caps", "share id 0x%x", (unsigned)cc.share_id);
	tc->fastpath_output = cc.has_general && (cc.general_extra_flags & FASTPATH_OUTPUT_SUPPORTED);
	tc->cd_header = !(cc.has_general && (cc.general_extra_flags & NO_BITMAP_COMPRESSION_HDR));
	tc->multifrag_max = cc.has_multifrag ? cc.multifrag_max : 0;
	if (cc.has_bitmap && cc.bitmap_bpp != 0 && cc.bitmap_bpp != tc->bpp &&
	    (cc.bitmap_bpp == 15 || cc.bitmap_bpp == 16 || cc.bitmap_bpp == 24 || cc.bitmap_bpp == 32))
		tc->bpp = cc.bitmap_bpp;   /* the client's answer wins: it is what it will decode */
	tc->state = TC_FINALIZE;
	return 0;
}

static int
tc_share_data(struct term_conn *tc, const struct share_pdu *sp)
{
	uint8_t b[128];
	struct wr w;
	int rc;

	wr_init(&w, b, sizeof b);
	switch (sp->pdu_type2) {
	case PDUTYPE2_SYNCHRONIZE: {
		uint16_t target;

		if ((rc = pdu_parse_synchronize(sp->body, sp->body_len, &target)) != PDU_OK)
			return tc_fail(tc, "rdp_pdu", "synchronize: %s", pdu_strerror(rc));
		if (tc->finalize_sent && tc->state == TC_FINALIZE)
			return 0;   /* answered in the pipelined flight */
		pdu_write_synchronize(&w, TERM_SHARE_ID, TERM_SERVER_CHANNEL, tc->user_channel);
		return tc_send_wr(tc, &w);
	}
	case PDUTYPE2_CONTROL: {
		struct pdu_control ctl;

		if ((rc = pdu_parse_control(sp->body, sp->body_len, &ctl)) != PDU_OK)
			return tc_fail(tc, "rdp_pdu", "control: %s", pdu_strerror(rc));
		if (tc->finalize_sent && tc->state == TC_FINALIZE)
			return 0;
		if (ctl.action == CTRLACTION_COOPERATE)
			pdu_write_control(&w, TERM_SHARE_ID, TERM_SERVER_CHANNEL, CTRLACTION_COOPERATE, 0, 0);
		else if (ctl.action == CTRLACTION_REQUEST_CONTROL)
			pdu_write_control(&w, TERM_SHARE_ID, TERM_SERVER_CHANNEL, CTRLACTION_GRANTED_CONTROL,
			                  tc->user_channel, TERM_SERVER_CHANNEL);
		else
			return 0;
		return tc_send_wr(tc, &w);
	}
	case PDUTYPE2_FONTLIST:
		if ((rc = pdu_parse_font_list(sp->body, sp->body_len)) != PDU_OK)
			return tc_fail(tc, "rdp_pdu", "font list: %s", pdu_strerror(rc));
		if (!(tc->finalize_sent && tc->state == TC_FINALIZE)) {
			pdu_write_font_map(&w, TERM_SHARE_ID, TERM_SERVER_CHANNEL);
			if (tc_send_wr(tc, &w) != 0)
				return -1;
		}
		tc->finalize_sent = 0;
		if (tc->state == TC_FINALIZE && tc->reactivating) {
			/* The end of a reactivation (resize): the screen again. */
			tc->reactivating = 0;
			tc->state = TC_ACTIVE;
			if (tc->session_ended) {
				tc_disconnect(tc, ERRINFO_LOGOFF_BY_USER);
				return 0;
			}
			if (tc->session && session_screen(tc->session))
				screen_redraw(session_screen(tc->session));
			tc_flush_later(tc);
			return 0;
		}
		if (tc->state == TC_FINALIZE) {
			tc->state = TC_ACTIVE;
			conn_ready(tc->c);
			if (tc->session_ended) {
				tc_disconnect(tc, ERRINFO_LOGOFF_BY_USER);
				return 0;
			}
			/* The connection sequence is over: the configured budget applies. */
			if (region_set_budget(conn_region(tc->c), (size_t)tc->t->conn_budget) != 0)
				log_warn("term: cannot raise the connection budget");
			tc_flush_later(tc);
			return conn_closing(tc->c) ? 0 : tc_dvc_start(tc);
		}
		return 0;
	case PDUTYPE2_INPUT:
		if ((rc = pdu_parse_input(sp->body, sp->body_len, NULL, NULL)) != PDU_OK)
			return tc_fail(tc, "rdp_input", "slow-path input: %s", pdu_strerror(rc));
		(void)pdu_parse_input(sp->body, sp->body_len, tc_input_event, tc);
		return 0;
	case PDUTYPE2_REFRESH_RECT: {
		struct pdu_rect areas[PDU_REFRESH_AREAS_MAX];
		size_t n;

		if ((rc = pdu_parse_refresh_rect(sp->body, sp->body_len, areas, &n)) != PDU_OK)
			return tc_fail(tc, "rdp_pdu", "refresh rect: %s", pdu_strerror(rc));
		if (tc->session && !tc->session_ended && session_screen(tc->session)) {
			screen_redraw(session_screen(tc->session));
			tc_flush_later(tc);
		}
		return 0;
	}
	case PDUTYPE2_SUPPRESS_OUTPUT: {
		int allow;

		if ((rc = pdu_parse_suppress_output(sp->body, sp->body_len, &allow)) != PDU_OK)
			return tc_fail(tc, "rdp_pdu", "suppress output: %s", pdu_strerror(rc));
		tc->suppress = !allow;
		if (allow && tc->session && !tc->session_ended && session_screen(tc->session)) {
			screen_redraw(session_screen(tc->session));
			tc_flush_later(tc);
		}
		return 0;
	}
	case PDUTYPE2_SHUTDOWN_REQUEST:
		/* Denied, as Windows does for a logged-in session: the client
		 * then disconnects with an ultimatum and the session is kept or
		 * ended per keep_disconnected. */
		pdu_write_shutdown_denied(&w, TERM_SHARE_ID, TERM_SERVER_CHANNEL);
		return tc_send_wr(tc, &w);
	default:
		return 0;   /* persistent key list, frame acknowledge, ...: nothing to do */
	}
}

/* One Send Data Request on the I/O channel. */
static int
tc_io_data(struct term_conn *tc, const uint8_t *data, size_t dlen)
{
	struct share_pdu sp;
	int rc;

	switch (tc->state) {
	case TC_INFO:
		return tc_client_info(tc, data, dlen);
	case TC_CONFIRM:
		rc = pdu_parse_share(data, dlen, &sp);
		if (rc == PDU_OK && sp.pdu_type == PDUTYPE_DATAPDU)
			return 0;   /* a data PDU before Confirm Active (rdesktop sends none; tolerate) */
		return tc_confirm_active(tc, data, dlen);
	case TC_FINALIZE:
	case TC_ACTIVE:
		rc = pdu_parse_share(data, dlen, &sp);
		if (rc == PDU_ERR_FLOW)
			return 0;
		if (rc != PDU_OK)
			return tc_fail(tc, "rdp_pdu", "share header: %s", pdu_strerror(rc));
		if (sp.pdu_type == PDUTYPE_CONFIRMACTIVEPDU)
			/* Only ever the answer to our Demand Active (CONFIRM
			 * state, also after a resize): a second one would open a
			 * second session for this connection. */
			return tc_fail(tc, "rdp_order", "confirm active without a demand active");
		if (sp.pdu_type != PDUTYPE_DATAPDU)
			return tc_fail(tc, "rdp_pdu", "share control type %u", sp.pdu_type);
		return tc_share_data(tc, &sp);
	default:
		return tc_fail(tc, "rdp_order", "data on the I/O channel too early");
	}
}

static int
tc_domain_pdu(struct term_conn *tc, const uint8_t *data, size_t dlen)
{
	struct mcs_domain_pdu d;
	uint8_t b[16];
	struct wr w;
	size_t i;
	int rc;

	if ((rc = mcs_parse_domain(data, dlen, &d)) != MCS_OK)
		return tc_fail(tc, "rdp_mcs", "domain PDU: %s", mcs_strerror(rc));
	switch (d.type) {
	case MCS_DISCONNECT_PROVIDER_ULTIMATUM:
		log_info("term: %s: client disconnected (ultimatum, reason %u)", conn_peer_name(tc->c), d.reason);
		conn_close(tc->c);
		return 0;
	case MCS_ERECT_DOMAIN_REQUEST:
		if (tc->state != TC_ERECT)
			return tc_fail(tc, "rdp_order", "erect domain request");
		tc->state = TC_ATTACH;
		return 0;
	case MCS_ATTACH_USER_REQUEST:
		if (tc->state != TC_ATTACH)
			return tc_fail(tc, "rdp_order", "attach user request");
		if (!tc->pipelined) {
			wr_init(&w, b, sizeof b);
			mcs_write_attach_user_confirm(&w, tc->user_channel);
			if (tc_send_x224(tc, w.p, w.len) != 0)
				return tc_fail(tc, "rdp_write_budget", "attach user confirm");
		}
		tc->state = TC_JOIN;
		return 0;
	case MCS_CHANNEL_JOIN_REQUEST:
		if (tc->state != TC_JOIN)
			return tc_fail(tc, "rdp_order", "channel join request");
		return tc_channel_join(tc, &d);
	case MCS_SEND_DATA_REQUEST:
		if (tc->state < TC_INFO)
			return tc_fail(tc, "rdp_order", "send data before the channels are joined");
		if (d.initiator != tc->user_channel)
			return tc_fail(tc, "rdp_mcs", "send data from initiator %u", d.initiator);
		if (d.channel == RDP_MCS_IO_CHANNEL)
			return tc_io_data(tc, d.data, d.data_len);
		if (d.channel == tc->drdynvc_channel && tc->state >= TC_CONFIRM)
			return tc_dvc_input(tc, d.data, d.data_len);
		for (i = 0; i < tc->nchannels; i++)
			if (d.channel == tc->channel_ids[i])
				return 0;   /* a static virtual channel: no service behind it */
		return tc_fail(tc, "rdp_mcs", "send data on unknown channel %u", d.channel);
	default:
		return tc_fail(tc, "rdp_mcs", "unexpected domain PDU %d", d.type);
	}
}

/* One whole TPKT. */
static int
tc_tpkt(struct term_conn *tc, const uint8_t *pdu, size_t len)
{
	const uint8_t *data;
	size_t dlen;
	int rc;

	if (tc->state == TC_X224)
		return tc_x224_cr(tc, pdu, len);
	if ((rc = x224_parse_data(pdu, len, &data, &dlen)) != X224_OK)
		return tc_fail(tc, "rdp_x224", "data TPDU: %s", x224_strerror(rc));
	if (tc->state == TC_MCS_CI)
		return tc_mcs_connect(tc, data, dlen);
	return tc_domain_pdu(tc, data, dlen);
}

static int
tc_fastpath(struct term_conn *tc, const uint8_t *pdu, size_t len)
{
	int rc;

	if ((rc = fastpath_parse_input(pdu, len, NULL, NULL)) != FASTPATH_OK)
		return tc_fail(tc, "rdp_fastpath", "%s", fastpath_strerror(rc));
	(void)fastpath_parse_input(pdu, len, tc_input_event, tc);
	return 0;
}

static int
term_on_read(struct conn *c, struct buf *in)
{
	struct term_conn *tc = conn_data(c);

	while (!conn_closing(c) && buf_len(in) > 0) {
		const uint8_t *p = buf_data(in);
		size_t n = buf_len(in), len = 0;
		int rc;

		if (tc->state == TC_MCS_CI && !conn_is_tls(c))
			return tc_fail(tc, "rdp_order", "data after the connection request, before TLS");
		if (p[0] == 3) {
			rc = tpkt_frame(p, n, tc->state == TC_X224 ? RDP_X224_CR_MAX_BYTES : RDP_PDU_MAX_BYTES, &len);
			if (rc == X224_MORE)
				break;
			if (rc != X224_OK)
				return tc_fail(tc, "rdp_tpkt", "%s", x224_strerror(rc));
			tc->pdus++;
			/* Consumed first: conn_starttls wants no input left behind
			 * the request; p stays valid (consuming only moves an offset). */
			buf_consume(in, len);
			rc = tc_tpkt(tc, p, len);
		} else if (tc->state >= TC_CONFIRM) {
			rc = fastpath_frame(p, n, RDP_PDU_MAX_BYTES, &len);
			if (rc == FASTPATH_MORE)
				break;
			if (rc != FASTPATH_OK)
				return tc_fail(tc, "rdp_fastpath", "%s", fastpath_strerror(rc));
			tc->pdus++;
			buf_consume(in, len);
			rc = tc_fastpath(tc, p, len);
		} else {
			return tc_fail(tc, "rdp_tpkt", "not a TPKT (first byte 0x%02x)", p[0]);
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int
term_on_open(struct conn *c)
{
	struct term *t = conn_service(c);
	struct term_conn *tc;
	size_t pre = (size_t)t->cf->prelogin_budget;

	if ((tc = region_zalloc(conn_region(c), sizeof *tc)) == NULL) {
		conn_reject(c, "budget");
		return -1;
	}
	tc->t = t;
	tc->c = c;
	tc->state = TC_X224;
	timer_init(&tc->flush_timer, tc_flush_timer, tc);
	conn_set_data(c, tc);
	t->nconns++;
	/* Before login a connection gets only the small pre-login budget. */
	if (pre < t->conn_budget && region_set_budget(conn_region(c), pre) != 0)
		log_debug("term: pre-login budget not applied (region already uses more)");
	return 0;
}

static void
term_on_timeout(struct conn *c, enum conn_timeout which)
{
	struct term_conn *tc = conn_data(c);

	conn_reject(c, which == CONN_TIMEOUT_HANDSHAKE ? "handshake_timeout" : "idle_timeout");
	if (tc)
		log_rated(&rate_info, LOG_LVL_INFO, "term: %s: %s timeout in state %s", conn_peer_name(c),
		          which == CONN_TIMEOUT_HANDSHAKE ? "handshake" : "idle", tc_state_names[tc->state]);
}

static void
term_on_close(struct conn *c)
{
	struct term_conn *tc = conn_data(c);

	if (!tc)
		return;
	loop_defer_cancel(conn_loop(c), &tc->flush_defer);
	loop_timer_cancel(conn_loop(c), &tc->flush_timer);
	if (tc->session) {
		session_detach(tc->session);
		tc->session = NULL;
	}
	log_debug("term: %s: closed in state %s after %llu PDUs in, %llu updates out", conn_peer_name(c),
	          tc_state_names[tc->state], (unsigned long long)tc->pdus, (unsigned long long)tc->updates_sent);
	tc->t->pdus_total += tc->pdus;
	tc->t->updates_total += tc->updates_sent;
	tc->t->nconns--;
}

static const struct conn_ops term_ops = {
	.on_open = term_on_open,
	.on_read = term_on_read,
	.on_timeout = term_on_timeout,
	.on_close = term_on_close,
};

/* ---- the service ---- */

static int
term_check(const struct service_settings *common, const void *conf, char *err, size_t errlen)
{
	const struct term_conf *cf = conf;

	if (cf->color_depth != 15 && cf->color_depth != 16 && cf->color_depth != 24 && cf->color_depth != 32) {
		snprintf(err, errlen, "[term] color_depth must be 15, 16, 24 or 32");
		return -1;
	}
	if (!common->tls_cert || !common->tls_cert[0] || !common->tls_key || !common->tls_key[0]) {
		snprintf(err, errlen, "[term] needs tls_cert and tls_key (RDP runs over TLS)");
		return -1;
	}
	return 0;
}

static int
term_privileged(struct worker *w, char *err, size_t errlen)
{
	return session_setup(w, err, errlen);
}

static int
term_start(struct worker *w)
{
	const struct term_conf *cf = w->conf;
	struct server_conf scf;
	struct term *t;
	size_t i;

	if ((t = region_zalloc(w->region, sizeof *t)) == NULL)
		return -1;
	t->w = w;
	t->cf = cf;
	w->data = t;
	if (w->tls == NULL) {
		log_err("term: no TLS context (tls_cert, tls_key)");
		return -1;
	}
	if (cf->font && cf->font[0] && (t->font = font_load(w->region, cf->font)) == NULL)
		log_warn("term: cannot load font %s; glyphs are drawn as boxes", cf->font);
	if (session_start(t) != 0)
		return -1;
	worker_server_conf(w, &scf);
	/* A whole PDU must fit the input buffer. */
	if (scf.read_max_bytes < RDP_PDU_MAX_BYTES) {
		scf.conn_budget_bytes += RDP_PDU_MAX_BYTES - scf.read_max_bytes;
		scf.read_max_bytes = RDP_PDU_MAX_BYTES;
	}
	/* An update batch's request region comes on top of the buffers. */
	scf.conn_budget_bytes += RDP_REQUEST_BUDGET_BYTES + 4 * region_self_overhead();
	t->conn_budget = scf.conn_budget_bytes;
	if ((t->server = server_new(w->loop, w->region, &scf, &term_ops, t, w->stats)) == NULL)
		return -1;
	for (i = 0; i < w->nlisteners; i++)
		if (server_add_listener(t->server, w->listeners[i].fd, w->listeners[i].implicit_tls) != 0)
			return -1;
	log_info("term: serving RDP (TLS), font %s (%zu glyphs)", cf->font, t->font ? font_count(t->font) : 0);
	return 0;
}

static void
term_stop(struct worker *w)
{
	struct term *t = w->data;

	if (!t)
		return;
	if (t->server)
		server_shutdown(t->server);
	session_stop(t);
}

static size_t
term_busy(struct worker *w)
{
	struct term *t = w->data;

	if (!t)
		return 0;
	return (t->server ? server_conn_count(t->server) : 0) + session_count();
}

/* holdfastctl term sessions | stats */
static int
term_control(struct worker *w, int argc, char *const argv[], char *out, size_t outlen)
{
	struct term *t = w->data;

	if (strcmp(argv[0], "sessions") == 0 && argc == 1) {
		session_list(out, outlen);
		return 0;
	}
	if (strcmp(argv[0], "stats") == 0 && argc == 1) {
		snprintf(out, outlen, "connections %zu\nsessions %zu\nregion_bytes %zu\npdus_in %llu\nupdates_out %llu\n",
		         t && t->server ? server_conn_count(t->server) : 0, session_count(), region_used(w->region),
		         t ? (unsigned long long)t->pdus_total : 0ULL, t ? (unsigned long long)t->updates_total : 0ULL);
		return 0;
	}
	snprintf(out, outlen, "usage: term sessions | stats\n");
	return 1;
}

const struct service term_service = {
	.name = "term",
	.keys = term_keys,
	.conf_size = sizeof(struct term_conf),
	.check = term_check,
	.privileged = term_privileged,
	.start = term_start,
	.stop = term_stop,
	.busy = term_busy,
	.control = term_control,
};
