/*
 * raw.c: the raw-socket side floods, for --raw (root only, IPv4 only):
 *   RAW_GRE (ms01-009): malformed enhanced GRE (RFC 2637 4.1) to the
 *     target host: wrong versions, the key bit missing, payload lengths
 *     beyond the packet, unknown protocol types, truncated headers, acks
 *     without sequence numbers, random call ids, PPP frames with bad LCP
 *     lengths;
 *   RAW_TCP_BADSUM (ms01-040): TCP segments to the target port (SYN,
 *     ACK, data, RST, FIN) whose checksum is deliberately wrong.
 * A thread sends them at --raw-rate packets per second beside the TCP
 * flood until raw_stop(); the packets are counted apart and are not on
 * the x axis (the server may never see them: the kernel drops bad
 * checksums and GRE nobody listens for; host Slab is sampled meanwhile).
 *
 * Interface (soak.h): raw_start(), raw_stop().
 * Limits: at most --raw-rate packets/s, 1500 bytes each; IPv4.
 * Known weaknesses: on loopback the kernel may not verify TCP checksums
 * at all (then the "bad" segments are handled as good ones: answered by
 * RST); aim it at a real interface (--allow-remote) to test the checksum
 * path.  Source addresses are not spoofed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "soak.h"

static struct {
	int fd;
	int kind;
	struct sockaddr_in dst;
	unsigned rate;
	uint64_t seed;
	atomic_int stop;
	atomic_ullong sent, errors;
	pthread_t th;
	int running;
} raw;

static size_t
gre_packet(struct soak_rng *r, uint8_t *b)
{
	struct soak_out o = {b, 0, 1500};
	unsigned kind = soak_rng_below(r, 9), plen = 4 + soak_rng_below(r, 200), i;
	uint8_t f0 = 0x30, f1 = 0x01;	/* K, S; version 1 */

	switch (kind) {
	case 0:
		f1 = (uint8_t)(soak_rng_below(r, 8) & ~1u);	/* version 0, 2..7 */
		break;
	case 1:
		f0 &= (uint8_t)~0x20;	/* no key */
		break;
	case 2:
		f0 |= 0x80 | 0x40;	/* checksum and routing in enhanced GRE */
		break;
	case 3:
		f1 |= 0x80;	/* ack */
		f0 &= (uint8_t)~0x10;	/* without sequence */
		break;
	default:
		break;
	}
	if (kind == 4) {	/* truncated */
		out_put(&o, &f0, 1);
		return o.len;
	}
	out_put(&o, &f0, 1);
	out_put(&o, &f1, 1);
	out_u16be(&o, kind == 5 ? (unsigned)soak_rng_below(r, 65536) : 0x880b);
	/* payload length: beyond the packet in case 6 */
	out_u16be(&o, kind == 6 ? 65535 : plen);
	out_u16be(&o, (unsigned)soak_rng_below(r, 65536));	/* call id */
	if (f0 & 0x10)
		out_u32be(&o, (uint32_t)soak_rng_next(r));
	if (f1 & 0x80)
		out_u32be(&o, (uint32_t)soak_rng_next(r));
	/* PPP: LCP Configure-Request whose length lies (case 7), or noise. */
	out_put(&o, "\xff\x03\xc0\x21\x01", 5);
	out_u16be(&o, kind == 7 ? 0xffff : plen);
	for (i = 0; i < plen && out_room(&o) > 0; i++) {
		uint8_t c = (uint8_t)soak_rng_next(r);

		out_put(&o, &c, 1);
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

	soak_rng_seed(&r, raw.seed ^ 0x7261770000000000ULL);
	while (!atomic_load(&raw.stop)) {
		for (i = 0; i < per_tick; i++) {
			size_t n = raw.kind == RAW_GRE ? gre_packet(&r, pkt) : tcp_packet(&r, pkt);

			if (sendto(raw.fd, pkt, n, MSG_DONTWAIT, (const struct sockaddr *)&raw.dst, sizeof(raw.dst)) < 0)
				atomic_fetch_add(&raw.errors, 1);
			else
				atomic_fetch_add(&raw.sent, 1);
		}
		nanosleep(&tick, NULL);
	}
	return NULL;
}

int
raw_start(int kind, const struct sockaddr *dst, unsigned rate, uint64_t seed, char *err, size_t errlen)
{
	if (dst->sa_family != AF_INET) {
		snprintf(err, errlen, "--raw: IPv4 targets only");
		return -1;
	}
	memset(&raw, 0, sizeof(raw));
	memcpy(&raw.dst, dst, sizeof(raw.dst));
	raw.kind = kind;
	raw.rate = rate;
	raw.seed = seed;
	raw.fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, kind == RAW_GRE ? 47 : IPPROTO_TCP);
	if (raw.fd < 0) {
		snprintf(err, errlen, "--raw: raw socket: %s (needs root or CAP_NET_RAW)", strerror(errno));
		return -1;
	}
	if (kind == RAW_GRE)
		raw.dst.sin_port = 0;
	atomic_store(&raw.stop, 0);
	if (pthread_create(&raw.th, NULL, raw_main, NULL) != 0) {
		close(raw.fd);
		snprintf(err, errlen, "--raw: cannot start its thread");
		return -1;
	}
	raw.running = 1;
	return 0;
}

void
raw_stop(uint64_t *sent, uint64_t *errors)
{
	if (!raw.running)
		return;
	atomic_store(&raw.stop, 1);
	pthread_join(raw.th, NULL);
	close(raw.fd);
	raw.running = 0;
	*sent = atomic_load(&raw.sent);
	*errors = atomic_load(&raw.errors);
}
