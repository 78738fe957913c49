/*
 * raw.c: the raw-socket floods, for --raw and --raw-only (root only, IPv4):
 *   RAW_GRE (ms01-009): enhanced GRE (RFC 2637 4.1) to the target host,
 *     aimed (7 packets in 8) at calls established first (gre_call.c: the
 *     server's call id from its Outgoing-Call-Reply), the rest at random
 *     call ids: wrong versions, the key bit missing, checksum/routing
 *     bits, payload lengths beyond the packet or zero with data, unknown
 *     protocol types, truncated headers, acks without sequence numbers,
 *     sequence abuse (duplicates, replays of old numbers, jumps of 2^31,
 *     going backwards), acks of numbers never sent, ack-only packets, PPP
 *     garbage (no address/control, unknown protocols, LCP/IPCP/CCP with
 *     bad codes and lengths, frames past any MRU); plus, every
 *     BAD_CTL_EVERY packets, one survivable bad control message on a
 *     call's own connection;
 *   RAW_TCP_BADSUM (ms01-040): TCP segments to the target port (SYN, ACK,
 *     data, RST, FIN) whose checksum is deliberately wrong.  Loopback
 *     verifies checksums: the kernel's Tcp InCsumErrors counter
 *     (/proc/net/snmp) is read before and after, so the report says how
 *     many segments really took the bad-checksum path.
 * A thread sends them at --raw-rate packets per second until raw_stop()
 * (or the limit: --raw-only, where they are the messages on the x axis).
 * With --raw-window W (default 0.5 s) it sends for W seconds, then rests
 * for W, and reads host Slab at every switch: each on window's Slab change
 * less the drift rate of the off windows beside it, per packet, gives one
 * estimate; their median with an order-statistics CI is the paired
 * per-packet Slab slope, robust to a host whose Slab drifts (builds, page
 * cache) as long as the drift moves slower than a window pair.
 * Beside a TCP flood they are counted apart; each sample records how many
 * had been sent, so their own slope (host Slab and the target's PSS per
 * packet) is fitted too (send.c).
 *
 * Interface (soak.h): raw_start(), raw_sent_now(), raw_running(), raw_stop().
 * Limits: at most --raw-rate packets/s, 1500 bytes each; IPv4.
 * Known weaknesses: source addresses are not spoofed (so the pseudo header
 * assumes source = destination: true on loopback); the GRE flood's sequence
 * numbers are tracked per call, not per reconnect of the server.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "soak.h"

#define BAD_CTL_EVERY 512	/* GRE packets per bad control message on a call's connection */

static struct {
	int fd;
	int kind;
	struct sockaddr_in dst;
	struct sockaddr_in ctl;	/* the TCP target (control connections) */
	unsigned rate;
	uint64_t seed;
	uint64_t limit;
	atomic_int stop;
	atomic_int done;
	atomic_ullong sent, errors;
	pthread_t th;
	int running;
	uint64_t csum_before;
	int csum_ok;
	uint32_t seq[GRE_CALLS_MAX];	/* next sequence number per call */
	struct raw_report rep;		/* raw thread's counters */
	double window;			/* seconds on, then off; 0: always on */
	struct raw_mark {
		double t, slab;
		uint64_t sent;
	} *marks;
	unsigned nmarks;
} raw;

static void
mark(void)
{
	double avail;
	struct raw_mark *m;

	if (raw.marks == NULL || raw.nmarks >= RAW_MARKS_MAX)
		return;
	m = &raw.marks[raw.nmarks++];
	m->t = soak_now();
	measure_host(&avail, &m->slab);
	m->sent = atomic_load(&raw.sent);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Per on window i (even: marks i..i+1), Slab's change minus the drift
 * rate of the off windows beside it times its length, per packet; the
 * median of those and its 95% CI by order statistics (a slowly moving
 * host drift cancels; a leak per packet does not). */
static void
paired_fit(struct raw_report *rep)
{
	double *v;
	unsigned i, n = 0, k;

	if (raw.nmarks < 3 || (v = calloc(raw.nmarks, sizeof(double))) == NULL)
		return;
	for (i = 0; i + 1 < raw.nmarks; i += 2) {
		const struct raw_mark *a = &raw.marks[i], *b = &raw.marks[i + 1];
		double rate = 0, w = 0, dur = b->t - a->t;
		uint64_t pk = b->sent - a->sent;

		if (i >= 1 && a->t > raw.marks[i - 1].t) {
			rate += (a->slab - raw.marks[i - 1].slab) / (a->t - raw.marks[i - 1].t);
			w++;
		}
		if (i + 2 < raw.nmarks && raw.marks[i + 2].t > b->t) {
			rate += (raw.marks[i + 2].slab - b->slab) / (raw.marks[i + 2].t - b->t);
			w++;
		}
		if (w == 0 || pk == 0 || dur <= 0)
			continue;
		v[n++] = ((b->slab - a->slab) - rate / w * dur) / (double)pk;
	}
	rep->pairs = n;
	if (n >= RAW_PAIRS_MIN) {
		double kk = (double)n / 2.0 - 0.98 * sqrt((double)n);

		qsort(v, n, sizeof(double), cmp_double);
		k = kk > 0 ? (unsigned)kk : 0;
		rep->paired_ok = 1;
		rep->paired_slope = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
		rep->paired_lo = v[k];
		rep->paired_hi = v[n - 1 - k];
	}
	free(v);
}

/* Tcp InCsumErrors of this network namespace; -1 when not readable. */
static int
tcp_csum_errors(uint64_t *v)
{
	FILE *f = fopen("/proc/net/snmp", "re");
	char head[1024], vals[1024];
	int rc = -1;

	if (f == NULL)
		return -1;
	while (fgets(head, sizeof(head), f) != NULL) {
		char *h, *v2, *hs, *vs;

		if (strncmp(head, "Tcp:", 4) != 0 || fgets(vals, sizeof(vals), f) == NULL)
			continue;
		h = strtok_r(head, " \n", &hs);
		v2 = strtok_r(vals, " \n", &vs);
		while (h != NULL && v2 != NULL) {
			if (strcmp(h, "InCsumErrors") == 0) {
				*v = strtoull(v2, NULL, 10);
				rc = 0;
				break;
			}
			h = strtok_r(NULL, " \n", &hs);
			v2 = strtok_r(NULL, " \n", &vs);
		}
		break;
	}
	fclose(f);
	return rc;
}

enum {
	G_VERSION, G_NO_KEY, G_CSUM_ROUTING, G_ACK_NO_SEQ, G_TRUNCATED, G_PROTO, G_PLEN_LONG, G_PLEN_ZERO,
	G_SEQ_DUP, G_SEQ_OLD, G_SEQ_JUMP, G_ACK_FUTURE, G_ACK_ONLY, G_PPP_NO_AC, G_PPP_PROTO, G_LCP_LEN,
	G_NCP_JUNK, G_HUGE, G_MAX
};

/* Appends a PPP frame for malformation k (plen bytes of payload). */
static void
ppp_frame(struct soak_rng *r, struct soak_out *o, unsigned k, unsigned plen)
{
	static const uint16_t protos[] = {0xc021, 0x8021, 0x80fd, 0xc223, 0x0021, 0x80fb};
	unsigned i;

	switch (k) {
	case G_PPP_NO_AC:	/* address/control omitted, protocol compressed */
		out_put(o, "\x21", 1);
		break;
	case G_PPP_PROTO:
		out_put(o, "\xff\x03", 2);
		out_u16be(o, (unsigned)soak_rng_below(r, 65536) | 1);
		break;
	case G_NCP_JUNK:
		out_put(o, "\xff\x03", 2);
		out_u16be(o, protos[1 + soak_rng_below(r, 5)]);
		out_put(o, (uint8_t[]){(uint8_t)soak_rng_below(r, 256), (uint8_t)soak_rng_below(r, 256)}, 2);
		out_u16be(o, (unsigned)soak_rng_below(r, 65536));
		break;
	default:	/* LCP Configure-Request; its length lies for G_LCP_LEN */
		out_put(o, "\xff\x03\xc0\x21", 4);
		out_put(o, (uint8_t[]){k == G_LCP_LEN ? (uint8_t)soak_rng_below(r, 256) : 1,
		    (uint8_t)soak_rng_below(r, 256)}, 2);
		out_u16be(o, k == G_LCP_LEN ? (soak_rng_below(r, 2) ? 0xffff : soak_rng_below(r, 4)) : plen + 4);
		break;
	}
	for (i = 0; i < plen && out_room(o) > 0; i++) {
		uint8_t c = (uint8_t)soak_rng_next(r);

		out_put(o, &c, 1);
	}
}

static size_t
gre_packet(struct soak_rng *r, uint8_t *b, uint64_t *to_call)
{
	struct soak_out o = {b, 0, 1500};
	unsigned k = soak_rng_below(r, G_MAX), plen = 4 + soak_rng_below(r, 200), slot = 0;
	uint8_t f0 = 0x30, f1 = 0x01;	/* K, S; version 1 */
	uint16_t call = (uint16_t)soak_rng_below(r, 65536);
	uint32_t seq, ack = 0;
	size_t plen_at, payload_at;

	if (gre_calls_count() > 0 && soak_rng_below(r, 8) != 0) {
		slot = soak_rng_below(r, gre_calls_count());
		if (gre_call_peer_id(slot, &call) == 0)
			(*to_call)++;
		else
			slot = GRE_CALLS_MAX;
	} else {
		slot = GRE_CALLS_MAX;
	}
	seq = slot < GRE_CALLS_MAX ? raw.seq[slot]++ : (uint32_t)soak_rng_next(r);
	switch (k) {
	case G_VERSION:
		f1 = (uint8_t)(soak_rng_below(r, 8) & ~1u);	/* version 0, 2..7 */
		break;
	case G_NO_KEY:
		f0 &= (uint8_t)~0x20;
		break;
	case G_CSUM_ROUTING:
		f0 |= (uint8_t)(soak_rng_below(r, 2) ? 0x80 | 0x40 : 0x08 | 0x07);	/* C, R or s, recur */
		f1 |= (uint8_t)(soak_rng_below(r, 16) << 3);	/* reserved flags */
		break;
	case G_ACK_NO_SEQ:
		f1 |= 0x80;
		f0 &= (uint8_t)~0x10;
		break;
	case G_SEQ_DUP:	/* the number just used again (pptp's 2014 leak) */
		seq = slot < GRE_CALLS_MAX ? raw.seq[slot] - 2 : seq;
		break;
	case G_SEQ_OLD:
		seq -= 1000 + soak_rng_below(r, 100000);
		break;
	case G_SEQ_JUMP:
		seq += 0x80000000u;
		break;
	case G_ACK_FUTURE:
		f1 |= 0x80;
		ack = 0xffffffffu - soak_rng_below(r, 1000);
		break;
	case G_ACK_ONLY:	/* no S, no payload: an ack of anything */
		f0 &= (uint8_t)~0x10;
		f1 |= 0x80;
		ack = (uint32_t)soak_rng_next(r);
		break;
	default:
		break;
	}
	out_put(&o, &f0, 1);
	if (k == G_TRUNCATED && soak_rng_below(r, 2))
		return o.len;
	out_put(&o, &f1, 1);
	out_u16be(&o, k == G_PROTO ? (unsigned)soak_rng_below(r, 65536) & ~0x0800u : 0x880b);
	plen_at = o.len;
	out_u16be(&o, 0);	/* payload length, below */
	out_u16be(&o, call);
	if (k == G_TRUNCATED)
		return o.len - soak_rng_below(r, 3);
	if (f0 & 0x10)
		out_u32be(&o, seq);
	if (f1 & 0x80)
		out_u32be(&o, ack);
	payload_at = o.len;
	if (k == G_HUGE)
		plen = 1400;
	if (k != G_ACK_ONLY)
		ppp_frame(r, &o, k, plen);
	{
		size_t pl = o.len - payload_at;

		if (k == G_PLEN_LONG)
			pl = soak_rng_below(r, 2) ? 65535 : pl + 1 + soak_rng_below(r, 1000);
		else if (k == G_PLEN_ZERO)
			pl = 0;
		b[plen_at] = (uint8_t)(pl >> 8);
		b[plen_at + 1] = (uint8_t)pl;
	}
	return o.len;
}

static uint16_t
csum(const uint8_t *b, size_t n, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t
tcp_packet(struct soak_rng *r, uint8_t *b)
{
	static const uint8_t flags[] = {0x02, 0x10, 0x18, 0x04, 0x01, 0x12, 0x3f};
	struct soak_out o = {b, 0, 1500};
	unsigned dlen = soak_rng_below(r, 4) == 0 ? soak_rng_below(r, 1000) : 0, i;
	uint32_t pseudo = 0;
	uint16_t good, bad;
	const uint8_t *ip = (const uint8_t *)&raw.dst.sin_addr;

	out_u16be(&o, 1024 + soak_rng_below(r, 60000));
	out_u16be(&o, ntohs(raw.dst.sin_port));
	out_u32be(&o, (uint32_t)soak_rng_next(r));
	out_u32be(&o, (uint32_t)soak_rng_next(r));
	out_put(&o, "\x50", 1);	/* 20-byte header */
	out_put(&o, &flags[soak_rng_below(r, sizeof(flags))], 1);
	out_u16be(&o, 65535);
	out_u16be(&o, 0);	/* checksum, below */
	out_u16be(&o, 0);
	for (i = 0; i < dlen; i++) {
		uint8_t c = (uint8_t)soak_rng_next(r);

		out_put(&o, &c, 1);
	}
	/* Pseudo header: source is unknown before routing; the loopback or
	 * primary address is assumed, and the sum is made wrong on purpose
	 * either way (good + 1 + random). */
	pseudo += (uint32_t)(ip[0] << 8 | ip[1]) * 2 + (uint32_t)(ip[2] << 8 | ip[3]) * 2;
	pseudo += IPPROTO_TCP + (uint32_t)o.len;
	good = csum(b, o.len, pseudo);
	bad = (uint16_t)(good + 1 + soak_rng_below(r, 65534));
	b[16] = (uint8_t)(bad >> 8);
	b[17] = (uint8_t)bad;
	return o.len;
}

static void *
raw_main(void *arg)
{
	struct soak_rng r;
	uint8_t pkt[1500];
	struct timespec tick = {0, 10 * 1000 * 1000};
	unsigned per_tick = raw.rate / 100 ? raw.rate / 100 : 1, i;
	uint64_t since_ctl = 0;
	double flip;
	int on = 1;

	soak_rng_seed(&r, raw.seed ^ 0x7261770000000000ULL);
	flip = soak_now() + raw.window;
	if (raw.window > 0)
		mark();
	while (!atomic_load(&raw.stop)) {
		if (raw.kind == RAW_GRE)
			gre_calls_service(&r, on && since_ctl >= BAD_CTL_EVERY, &raw.rep);
		if (since_ctl >= BAD_CTL_EVERY)
			since_ctl = 0;
		if (raw.window > 0 && soak_now() >= flip) {
			mark();
			on = !on;
			flip += raw.window;
		}
		for (i = 0; on && i < per_tick; i++) {
			size_t n;

			if (raw.limit != 0 && atomic_load(&raw.sent) >= raw.limit) {
				if (raw.window > 0)
					mark();
				atomic_store(&raw.done, 1);
				return NULL;
			}
			n = raw.kind == RAW_GRE ? gre_packet(&r, pkt, &raw.rep.gre_to_call) : tcp_packet(&r, pkt);
			if (sendto(raw.fd, pkt, n, MSG_DONTWAIT, (const struct sockaddr *)&raw.dst, sizeof(raw.dst)) < 0)
				atomic_fetch_add(&raw.errors, 1);
			else
				atomic_fetch_add(&raw.sent, 1);
			since_ctl++;
		}
		nanosleep(&tick, NULL);
	}
	return NULL;
}

int
raw_start(int kind, const struct sockaddr *dst, unsigned rate, uint64_t seed, uint64_t limit, unsigned calls,
    double window, char *err, size_t errlen)
{
	unsigned i;

	if (dst->sa_family != AF_INET) {
		snprintf(err, errlen, "--raw: IPv4 targets only");
		return -1;
	}
	memset(&raw, 0, sizeof(raw));
	memcpy(&raw.dst, dst, sizeof(raw.dst));
	memcpy(&raw.ctl, dst, sizeof(raw.ctl));
	raw.kind = kind;
	raw.rate = rate;
	raw.seed = seed;
	raw.limit = limit;
	raw.window = window;
	if (window > 0 && (raw.marks = calloc(RAW_MARKS_MAX, sizeof(*raw.marks))) == NULL) {
		snprintf(err, errlen, "--raw: out of memory");
		return -1;
	}
	raw.fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, kind == RAW_GRE ? 47 : IPPROTO_TCP);
	if (raw.fd < 0) {
		snprintf(err, errlen, "--raw: raw socket: %s (needs root or CAP_NET_RAW)", strerror(errno));
		free(raw.marks);
		raw.marks = NULL;
		return -1;
	}
	if (kind == RAW_GRE) {
		raw.dst.sin_port = 0;
		for (i = 0; i < GRE_CALLS_MAX; i++)
			raw.seq[i] = (uint32_t)(seed * 2654435761u + i * 7919u);
		if (calls > 0) {
			char why[256] = "";

			raw.rep.gre_calls = gre_calls_open((const struct sockaddr *)&raw.ctl, calls, why, sizeof(why));
			raw.rep.gre_call_setups = raw.rep.gre_calls;
			if (raw.rep.gre_calls == 0)
				fprintf(stderr, "holdfast-soak: --raw: no PPTP call could be established (%s); "
				    "the GRE goes to random call ids only\n", why);
		}
	}
	raw.csum_ok = kind == RAW_TCP_BADSUM && tcp_csum_errors(&raw.csum_before) == 0;
	atomic_store(&raw.stop, 0);
	if (pthread_create(&raw.th, NULL, raw_main, NULL) != 0) {
		close(raw.fd);
		gre_calls_close();
		free(raw.marks);
		raw.marks = NULL;
		snprintf(err, errlen, "--raw: cannot start its thread");
		return -1;
	}
	raw.running = 1;
	return 0;
}

uint64_t
raw_sent_now(void)
{
	return atomic_load(&raw.sent);
}

int
raw_running(void)
{
	return raw.running && !atomic_load(&raw.done);
}

void
raw_stop(struct raw_report *rep)
{
	uint64_t after;

	if (!raw.running)
		return;
	atomic_store(&raw.stop, 1);
	pthread_join(raw.th, NULL);
	close(raw.fd);
	raw.running = 0;
	*rep = raw.rep;
	rep->sent = atomic_load(&raw.sent);
	rep->errors = atomic_load(&raw.errors);
	if (raw.kind == RAW_GRE)
		gre_calls_close();
	if (raw.window > 0 && !atomic_load(&raw.done))
		mark();
	paired_fit(rep);
	free(raw.marks);
	raw.marks = NULL;
	if (raw.csum_ok) {
		/* The kernel counts them as they are received: give the
		 * last ones a moment on loopback. */
		struct timespec ts = {0, 100 * 1000 * 1000};

		nanosleep(&ts, NULL);
		if (tcp_csum_errors(&after) == 0) {
			rep->csum_known = 1;
			rep->tcp_csum_errors = after - raw.csum_before;
		}
	}
}
