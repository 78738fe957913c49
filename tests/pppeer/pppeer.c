/*
 * pppeer.c: a PPP client for the tunnel's integration tests, written
 * apart from the server's PPP engine (it links nothing of src/pptp; its
 * crypto is OpenSSL's, the server's is its own).
 *
 * It speaks HDLC-like async framing (RFC 1662: 0x7e flags, 0x7d escapes,
 * FCS-16) on a byte stream, as pppd would on a tty, because that is what
 * pptp-linux --nolaunchpppd expects on its stdin; pptp-linux turns it into
 * PPP in GRE.  Run it with its stdin/stdout on the other end of pptp's
 * socketpair or pty (--fd N uses one descriptor for both).
 *
 *   pppeer --user NAME --password PW [--mppe] [--tun IFNAME] [--timeout SEC]
 *          [--fd N] [--no-tun] [--mru N] [--verbose]
 *          [--auth mschapv2|chap|pap]
 *
 * Does LCP (magic number, MRU; accepts the authentication protocol of
 * --auth, MS-CHAPv2 by default, and Naks anything else to it), MS-CHAPv2
 * (verifies the server's authenticator response), CHAP-MD5 or PAP,
 * IPCP (takes the address the server Naks to), CCP/MPPE 128-bit stateless
 * with --mppe; then opens a TUN device in its network namespace, gives it
 * the address with the server's tunnel address as point-to-point peer (a
 * host route to it), and forwards IPv4 both ways until killed (SIGTERM:
 * LCP Terminate-Request, exit 0) or the link goes down (exit 2).
 * Negotiation failures exit 1 with a message.  Phases are logged on
 * stderr, one line each: "lcp up", "auth ok", "ipcp up ADDR peer ADDR",
 * "ccp up", "tun IFNAME up", "terminated: WHY".
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/des.h>
#include <openssl/md4.h>
#include <openssl/md5.h>
#include <openssl/rc4.h>
#include <openssl/sha.h>

#define MTU_MAX 1500
#define FRAME_MAX 1600
#define RESTART_MS 3000   /* RFC 1661 4.6 default */
#define MAX_CONFIGURE 10

enum { CONF_REQ = 1, CONF_ACK, CONF_NAK, CONF_REJ, TERM_REQ, TERM_ACK, CODE_REJ, PROTO_REJ,
	ECHO_REQ, ECHO_REP, DISCARD_REQ };

static struct {
	const char *user, *password, *tun_name;
	int mppe, no_tun, in_fd, out_fd, mru;
	int timeout_s, verbose;
	int auth;                  /* AUTH_* the peer agrees to */
} opt = { NULL, NULL, "pppeer0", 0, 0, 0, 1, 1400, 20, 0, 0 };

enum { AUTH_MSCHAPV2 = 0, AUTH_CHAP_MD5, AUTH_PAP };
static const uint8_t auth_opt[3][5] = {
	{ 3, 5, 0xc2, 0x23, 0x81 }, { 3, 5, 0xc2, 0x23, 0x05 }, { 3, 4, 0xc0, 0x23, 0 },
};

static volatile sig_atomic_t got_term;

static uint8_t inbuf[4 * FRAME_MAX];
static uint8_t frame[FRAME_MAX];
static size_t flen;
static int in_escape, frame_overrun;

struct ncp {
	const char *name;
	uint16_t proto;
	int ack_sent, ack_rcvd, up;
	uint8_t id;
	int tries;
	uint64_t next_ms;
};

static struct ncp lcp = { "lcp", 0xc021, 0, 0, 0, 0, 0, 0 };
static struct ncp ipcp = { "ipcp", 0x8021, 0, 0, 0, 0, 0, 0 };
static struct ncp ccp = { "ccp", 0x80fd, 0, 0, 0, 0, 0, 0 };

static uint32_t my_magic;
static int server_mru = 1500;            /* what the server's LCP said it receives */
static int tun_mtu;
static uint32_t my_addr, peer_addr;        /* network order */
static int authed;
static int tun_fd = -1;
static uint8_t auth_chal[16], peer_chal[16], nt_resp[24];

struct mppe_dir {
	uint8_t start[16], key[16];
	unsigned ccount;
};
static struct mppe_dir mtx, mrx;
static int mppe_up;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pppeer: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void __attribute__((noreturn))
die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pppeer: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/* ---- RFC 1662 framing ---- */

static uint16_t
fcs16(uint16_t fcs, const uint8_t *p, size_t n)
{
	while (n--) {
		int i;

		fcs ^= *p++;
		for (i = 0; i < 8; i++)
			fcs = (fcs & 1) ? (uint16_t)((fcs >> 1) ^ 0x8408) : (uint16_t)(fcs >> 1);
	}
	return fcs;
}

static void
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die(2, "terminated: write to link: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

static void
send_ppp(uint16_t proto, const uint8_t *info, size_t len)
{
	uint8_t raw[FRAME_MAX + 8], out[2 * (FRAME_MAX + 8) + 2];
	size_t n = 0, o = 0, i;
	uint16_t fcs;

	if (len > FRAME_MAX)
		return;
	raw[n++] = 0xff;
	raw[n++] = 0x03;
	raw[n++] = (uint8_t)(proto >> 8);
	raw[n++] = (uint8_t)proto;
	memcpy(raw + n, info, len);
	n += len;
	fcs = (uint16_t)~fcs16(0xffff, raw, n);
	raw[n++] = (uint8_t)fcs;
	raw[n++] = (uint8_t)(fcs >> 8);
	out[o++] = 0x7e;
	for (i = 0; i < n; i++) {
		if (raw[i] < 0x20 || raw[i] == 0x7e || raw[i] == 0x7d) {
			out[o++] = 0x7d;
			out[o++] = raw[i] ^ 0x20;
		} else {
			out[o++] = raw[i];
		}
	}
	out[o++] = 0x7e;
	write_all(opt.out_fd, out, o);
}

static void
send_ctrl(uint16_t proto, uint8_t code, uint8_t id, const uint8_t *data, size_t len)
{
	uint8_t b[FRAME_MAX];

	if (opt.verbose)
		say("sent %04x code %u id %u len %zu", proto, code, id, len + 4);

	if (len + 4 > sizeof b)
		return;
	b[0] = code;
	b[1] = id;
	b[2] = (uint8_t)((len + 4) >> 8);
	b[3] = (uint8_t)(len + 4);
	if (len)
		memcpy(b + 4, data, len);
	send_ppp(proto, b, len + 4);
}

/* ---- crypto (OpenSSL) ---- */

static void
nt_hash(const char *pw, uint8_t out[16])
{
	uint8_t u[512];
	size_t i, n = strlen(pw);

	if (n > 256)
		n = 256;
	for (i = 0; i < n; i++) {
		u[2 * i] = (uint8_t)pw[i];
		u[2 * i + 1] = 0;
	}
	MD4(u, 2 * n, out);
}

static void
des7(const uint8_t k[7], const uint8_t in[8], uint8_t out[8])
{
	DES_cblock key, src, dst;
	DES_key_schedule ks;
	int i;

	/* Spread 56 bits into 8 bytes, parity bit (low) left 0. */
	for (i = 0; i < 8; i++) {
		unsigned bit = (unsigned)i * 7, byte = bit / 8, sh = bit % 8;
		unsigned v = (unsigned)k[byte] << 8 | (byte + 1 < 7 ? k[byte + 1] : 0);

		key[i] = (uint8_t)((v >> (9 - sh)) << 1);
	}
	DES_set_key_unchecked(&key, &ks);
	memcpy(src, in, 8);
	DES_ecb_encrypt(&src, &dst, &ks, DES_ENCRYPT);
	memcpy(out, dst, 8);
}

static void
challenge_hash(uint8_t out[8])
{
	SHA_CTX c;
	uint8_t d[20];
	const char *u = strrchr(opt.user, '\\');

	u = u ? u + 1 : opt.user;
	SHA1_Init(&c);
	SHA1_Update(&c, peer_chal, 16);
	SHA1_Update(&c, auth_chal, 16);
	SHA1_Update(&c, u, strlen(u));
	SHA1_Final(d, &c);
	memcpy(out, d, 8);
}

static void
make_nt_response(void)
{
	uint8_t ch[8], h[21];

	challenge_hash(ch);
	memset(h, 0, sizeof h);
	nt_hash(opt.password, h);
	des7(h, ch, nt_resp);
	des7(h + 7, ch, nt_resp + 8);
	des7(h + 14, ch, nt_resp + 16);
}

static void
auth_response(char out[43])
{
	static const char m1[] = "Magic server to client signing constant";
	static const char m2[] = "Pad to make it do more than one iteration";
	uint8_t h[16], hh[16], d[20], ch[8];
	SHA_CTX c;
	int i;

	nt_hash(opt.password, h);
	MD4(h, 16, hh);
	SHA1_Init(&c);
	SHA1_Update(&c, hh, 16);
	SHA1_Update(&c, nt_resp, 24);
	SHA1_Update(&c, m1, sizeof m1 - 1);
	SHA1_Final(d, &c);
	challenge_hash(ch);
	SHA1_Init(&c);
	SHA1_Update(&c, d, 20);
	SHA1_Update(&c, ch, 8);
	SHA1_Update(&c, m2, sizeof m2 - 1);
	SHA1_Final(d, &c);
	out[0] = 'S';
	out[1] = '=';
	for (i = 0; i < 20; i++)
		sprintf(out + 2 + 2 * i, "%02X", d[i]);
}

static const uint8_t pad1[40];
static const uint8_t pad2[40] = {
	0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
	0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
	0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
};

static void
sha_key(const uint8_t a[16], const void *mid, size_t midlen, uint8_t out[16])
{
	SHA_CTX c;
	uint8_t d[20];

	SHA1_Init(&c);
	SHA1_Update(&c, a, 16);
	SHA1_Update(&c, pad1, 40);
	SHA1_Update(&c, mid, midlen);
	SHA1_Update(&c, pad2, 40);
	SHA1_Final(d, &c);
	memcpy(out, d, 16);
}

static void
mppe_keys(void)
{
	static const char m1[] = "This is the MPPE Master Key";
	static const char send_c[] =
	    "On the client side, this is the send key; on the server side, it is the receive key.";
	static const char recv_c[] =
	    "On the client side, this is the receive key; on the server side, it is the send key.";
	uint8_t h[16], hh[16], d[20], master[16];
	SHA_CTX c;

	nt_hash(opt.password, h);
	MD4(h, 16, hh);
	SHA1_Init(&c);
	SHA1_Update(&c, hh, 16);
	SHA1_Update(&c, nt_resp, 24);
	SHA1_Update(&c, m1, sizeof m1 - 1);
	SHA1_Final(d, &c);
	memcpy(master, d, 16);
	sha_key(master, send_c, sizeof send_c - 1, mtx.start);
	sha_key(master, recv_c, sizeof recv_c - 1, mrx.start);
	/* Initial session keys: the start key through SHA once (RFC 3079 3.5.3). */
	sha_key(mtx.start, mtx.start, 16, mtx.key);
	sha_key(mrx.start, mrx.start, 16, mrx.key);
	mtx.ccount = mrx.ccount = 0xfff;
}

static void
mppe_next_key(struct mppe_dir *d)
{
	uint8_t interim[16];
	RC4_KEY k;

	sha_key(d->start, d->key, 16, interim);
	RC4_set_key(&k, 16, interim);
	RC4(&k, 16, interim, d->key);
}

/* ---- IP to the link ---- */

static void
send_ip(const uint8_t *ip, size_t len)
{
	uint8_t b[FRAME_MAX];
	RC4_KEY k;

	if (!mppe_up) {
		send_ppp(0x0021, ip, len);
		return;
	}
	if (len + 4 > sizeof b)
		return;
	mtx.ccount = (mtx.ccount + 1) & 0xfff;
	mppe_next_key(&mtx);
	b[0] = (uint8_t)(0x90 | (mtx.ccount >> 8));
	b[1] = (uint8_t)mtx.ccount;
	b[2] = 0x00;
	b[3] = 0x21;
	memcpy(b + 4, ip, len);
	RC4_set_key(&k, 16, mtx.key);
	RC4(&k, len + 2, b + 2, b + 2);
	send_ppp(0x00fd, b, len + 4);
}

static void
recv_mppe(uint8_t *d, size_t n)
{
	unsigned cc, gap;
	RC4_KEY k;

	if (n < 4 || !mppe_up)
		return;
	cc = ((unsigned)d[0] << 8 | d[1]) & 0xfff;
	gap = (cc - mrx.ccount) & 0xfff;
	if (gap == 0 || gap > 2048) {
		say("mppe: dropped packet with count %u (expected after %u)", cc, mrx.ccount);
		return;
	}
	while (mrx.ccount != cc) {
		mppe_next_key(&mrx);
		mrx.ccount = (mrx.ccount + 1) & 0xfff;
	}
	RC4_set_key(&k, 16, mrx.key);
	RC4(&k, n - 2, d + 2, d + 2);
	d += 2;
	n -= 2;
	if (d[0] == 0x21) {
		d++;
		n--;
	} else if (d[0] == 0 && d[1] == 0x21) {
		d += 2;
		n -= 2;
	} else {
		say("mppe: inner protocol %02x%02x is not IP", d[0], d[1]);
		return;
	}
	if (tun_fd >= 0 && write(tun_fd, d, n) < 0)
		say("tun write: %s", strerror(errno));
}

/* ---- negotiation ---- */

static void
lcp_send_req(void)
{
	uint8_t o[10];

	o[0] = 1;
	o[1] = 4;
	o[2] = (uint8_t)(opt.mru >> 8);
	o[3] = (uint8_t)opt.mru;
	o[4] = 5;
	o[5] = 6;
	memcpy(o + 6, &my_magic, 4);
	send_ctrl(0xc021, CONF_REQ, ++lcp.id, o, sizeof o);
}

static void
ipcp_send_req(void)
{
	uint8_t o[6] = { 3, 6 };

	memcpy(o + 2, &my_addr, 4);
	send_ctrl(0x8021, CONF_REQ, ++ipcp.id, o, sizeof o);
}

static void
ccp_send_req(void)
{
	uint8_t o[6] = { 18, 6, 0x01, 0, 0, 0x40 };

	send_ctrl(0x80fd, CONF_REQ, ++ccp.id, o, sizeof o);
}

static void
ncp_send(struct ncp *n)
{
	if (n == &lcp)
		lcp_send_req();
	else if (n == &ipcp)
		ipcp_send_req();
	else
		ccp_send_req();
	n->next_ms = now_ms() + RESTART_MS;
	n->tries++;
}

static void open_tun(void);
static void pap_send(void);

static void
check_network(void)
{
	static int done;

	if (done || !ipcp.up || (opt.mppe && !ccp.up))
		return;
	done = 1;
	{
		char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &my_addr, a, sizeof a);
		inet_ntop(AF_INET, &peer_addr, b, sizeof b);
		say("ipcp up %s peer %s%s", a, b, mppe_up ? " mppe" : "");
	}
	if (!opt.no_tun)
		open_tun();
}

static void
ncp_opened(struct ncp *n)
{
	if (n->up || !n->ack_sent || !n->ack_rcvd)
		return;
	n->up = 1;
	n->next_ms = 0;
	if (n == &lcp) {
		say("lcp up");
		if (opt.auth == AUTH_PAP)
			pap_send();
	} else if (n == &ccp) {
		mppe_keys();
		mppe_up = 1;
		say("ccp up (mppe 128-bit stateless)");
		check_network();
	} else {
		check_network();
	}
}

static void
start_network(void)
{
	ipcp.tries = 0;
	ncp_send(&ipcp);
	if (opt.mppe) {
		ccp.tries = 0;
		ncp_send(&ccp);
	}
}

static void
handle_conf_req(struct ncp *n, uint8_t id, const uint8_t *o, size_t len)
{
	uint8_t rej[FRAME_MAX], nak[64];
	size_t rl = 0, nl = 0, off;

	for (off = 0; off + 2 <= len && o[off + 1] >= 2 && off + o[off + 1] <= len; off += o[off + 1]) {
		const uint8_t *x = o + off;
		int ok = 0;

		if (n == &lcp) {
			switch (x[0]) {
			case 1:
				if (x[1] == 4)
					server_mru = x[2] << 8 | x[3];
				ok = 1;
				break;
			case 2: case 5: case 7: case 8:
				ok = 1;
				break;
			case 3: {
				const uint8_t *want = auth_opt[opt.auth];

				if (x[1] == want[1] && memcmp(x, want, want[1]) == 0) {
					ok = 1;
				} else {
					/* Not the one we were told to use: suggest it. */
					memcpy(nak + nl, want, want[1]);
					nl += want[1];
					continue;
				}
				break;
			}
			}
		} else if (n == &ipcp) {
			if (x[0] == 3 && x[1] == 6) {
				memcpy(&peer_addr, x + 2, 4);
				ok = 1;
			}
		} else {
			if (x[0] == 18 && x[1] == 6) {
				if (x[2] == 0x01 && x[3] == 0 && x[4] == 0 && x[5] == 0x40) {
					ok = 1;
				} else {
					uint8_t s[] = { 18, 6, 0x01, 0, 0, 0x40 };

					memcpy(nak + nl, s, sizeof s);
					nl += sizeof s;
					continue;
				}
			}
		}
		if (!ok) {
			memcpy(rej + rl, x, x[1]);
			rl += x[1];
		}
	}
	if (off != len) {
		say("%s: malformed Configure-Request dropped", n->name);
		return;
	}
	if (rl) {
		send_ctrl(n->proto, CONF_REJ, id, rej, rl);
	} else if (nl) {
		send_ctrl(n->proto, CONF_NAK, id, nak, nl);
	} else {
		send_ctrl(n->proto, CONF_ACK, id, o, len);
		n->ack_sent = 1;
		ncp_opened(n);
	}
}

static void
handle_ncp(struct ncp *n, const uint8_t *p, size_t len)
{
	uint8_t code, id;
	size_t plen;

	if (len < 4)
		return;
	code = p[0];
	id = p[1];
	plen = (size_t)p[2] << 8 | p[3];
	if (plen < 4 || plen > len)
		return;
	p += 4;
	plen -= 4;
	switch (code) {
	case CONF_REQ:
		if (n->up) {
			/* RFC 1661: a Configure-Request in Opened renegotiates.
			 * Before IP is up we go along; after, it means the
			 * server lost state, and the test should see it. */
			if (ipcp.up)
				die(2, "terminated: server renegotiates %s", n->name);
			say("%s: server renegotiates", n->name);
			n->up = 0;
			n->ack_sent = n->ack_rcvd = 0;
			n->tries = 0;
			ncp_send(n);
		}
		handle_conf_req(n, id, p, plen);
		break;
	case CONF_ACK:
		if (id != n->id)
			break;
		n->ack_rcvd = 1;
		n->next_ms = 0;
		ncp_opened(n);
		break;
	case CONF_NAK:
		if (id != n->id)
			break;
		if (n == &ipcp) {
			size_t off;

			for (off = 0; off + 6 <= plen; off += p[off + 1] ? p[off + 1] : plen)
				if (p[off] == 3 && p[off + 1] == 6)
					memcpy(&my_addr, p + off + 2, 4);
		} else if (n == &lcp) {
			size_t off;

			for (off = 0; off + 2 <= plen && p[off + 1] >= 2; off += p[off + 1])
				if (p[off] == 5)
					my_magic ^= 0x5a5a5a5a;
		}
		ncp_send(n);
		break;
	case CONF_REJ:
		if (id != n->id)
			break;
		die(1, "%s: server rejected our options", n->name);
	case TERM_REQ:
		send_ctrl(n->proto, TERM_ACK, id, NULL, 0);
		if (n == &lcp)
			die(2, "terminated: server sent LCP Terminate-Request");
		die(2, "terminated: server closed %s", n->name);
	case TERM_ACK:
		break;
	case CODE_REJ:
		die(1, "%s: server sent Code-Reject", n->name);
	case PROTO_REJ:
		if (plen >= 2)
			die(1, "lcp: server rejected protocol %02x%02x", p[0], p[1]);
		break;
	case ECHO_REQ:
		if (n == &lcp && lcp.up && plen >= 4) {
			uint8_t r[FRAME_MAX];

			memcpy(r, &my_magic, 4);
			memcpy(r + 4, p + 4, plen - 4);
			send_ctrl(0xc021, ECHO_REP, id, r, plen);
		}
		break;
	case ECHO_REP:
	case DISCARD_REQ:
		break;
	case 14:   /* CCP Reset-Request */
		if (n == &ccp)
			send_ctrl(0x80fd, 15, id, NULL, 0);
		break;
	default:
		break;
	}
}

static void start_network(void);

static void
auth_ok(const char *how)
{
	if (authed)
		return;
	authed = 1;
	say("auth ok (%s)", how);
	start_network();
}

/* CHAP with MD5 (RFC 1994): Response = MD5(id || secret || challenge). */
static void
handle_chap_md5(const uint8_t *p, size_t plen)
{
	uint8_t r[1 + 16 + 256], buf[1 + 256 + 255];
	size_t ulen = strlen(opt.user), pwlen = strlen(opt.password), vlen;

	switch (p[0]) {
	case 1:
		if (plen < 5 || 5 + (size_t)p[4] > plen)
			die(1, "chap: malformed challenge");
		vlen = p[4];
		if (ulen > 256 || pwlen > 256)
			die(1, "user name or password too long");
		buf[0] = p[1];
		memcpy(buf + 1, opt.password, pwlen);
		memcpy(buf + 1 + pwlen, p + 5, vlen);
		r[0] = 16;
		MD5(buf, 1 + pwlen + vlen, r + 1);
		memcpy(r + 17, opt.user, ulen);
		send_ctrl(0xc223, 2, p[1], r, 17 + ulen);
		say("chap-md5: response sent for %s", opt.user);
		break;
	case 3:
		auth_ok("chap-md5");
		break;
	case 4:
		die(1, "auth failed: %.*s", (int)(plen - 4), (const char *)p + 4);
	default:
		break;
	}
}

/* PAP (RFC 1334): one Authenticate-Request, resent until answered. */
static int pap_tries;
static uint8_t pap_id;
static uint64_t pap_next_ms;

static void
pap_send(void)
{
	uint8_t r[2 + 255 + 255];
	size_t ulen = strlen(opt.user), pwlen = strlen(opt.password);

	if (ulen > 255 || pwlen > 255)
		die(1, "user name or password too long for PAP");
	if (++pap_tries > MAX_CONFIGURE)
		die(1, "pap: no answer to %d requests", MAX_CONFIGURE);
	r[0] = (uint8_t)ulen;
	memcpy(r + 1, opt.user, ulen);
	r[1 + ulen] = (uint8_t)pwlen;
	memcpy(r + 2 + ulen, opt.password, pwlen);
	send_ctrl(0xc023, 1, ++pap_id, r, 2 + ulen + pwlen);
	pap_next_ms = now_ms() + RESTART_MS;
}

static void
handle_pap(const uint8_t *p, size_t len)
{
	size_t plen;

	if (len < 4 || opt.auth != AUTH_PAP)
		return;
	plen = (size_t)p[2] << 8 | p[3];
	if (plen < 4 || plen > len || p[1] != pap_id)
		return;
	if (p[0] == 2) {
		pap_next_ms = 0;
		auth_ok("pap");
	} else if (p[0] == 3) {
		die(1, "auth failed: pap: %.*s", plen > 5 ? (int)(plen - 5) : 0, (const char *)p + 5);
	}
}

static void
handle_chap(const uint8_t *p, size_t len)
{
	size_t plen, ulen = strlen(opt.user);
	uint8_t r[1 + 49 + 256];

	if (len < 4)
		return;
	plen = (size_t)p[2] << 8 | p[3];
	if (plen < 4 || plen > len)
		return;
	if (opt.auth == AUTH_CHAP_MD5) {
		handle_chap_md5(p, plen);
		return;
	}
	switch (p[0]) {
	case 1:   /* Challenge */
		if (plen < 5 + 16 || p[4] != 16)
			die(1, "chap: challenge of the wrong size (not MS-CHAPv2?)");
		memcpy(auth_chal, p + 5, 16);
		if (getrandom(peer_chal, 16, 0) != 16)
			die(1, "getrandom failed");
		make_nt_response();
		if (ulen > 256)
			die(1, "user name too long");
		r[0] = 49;
		memcpy(r + 1, peer_chal, 16);
		memset(r + 17, 0, 8);
		memcpy(r + 25, nt_resp, 24);
		r[49] = 0;
		memcpy(r + 50, opt.user, ulen);
		send_ctrl(0xc223, 2, p[1], r, 50 + ulen);
		say("chap: response sent for %s", opt.user);
		break;
	case 3: { /* Success */
		char want[43];

		auth_response(want);
		if (plen < 4 + 42 || memcmp(p + 4, want, 42) != 0)
			die(1, "auth failed: the server's authenticator response is wrong");
		auth_ok("authenticator response verified");
		break;
	}
	case 4:
		die(1, "auth failed: %.*s", (int)(plen - 4), (const char *)p + 4);
	default:
		break;
	}
}

static void
handle_frame(uint8_t *f, size_t n)
{
	uint16_t proto;

	if (n >= 2 && f[0] == 0xff && f[1] == 0x03) {
		f += 2;
		n -= 2;
	}
	if (n < 1)
		return;
	if (f[0] & 1) {
		proto = f[0];
		f++;
		n--;
	} else {
		if (n < 2)
			return;
		proto = (uint16_t)(f[0] << 8 | f[1]);
		f += 2;
		n -= 2;
	}
	if (opt.verbose && proto != 0x0021 && proto != 0x00fd && n >= 2)
		say("rcvd %04x code %u id %u len %zu", proto, f[0], f[1], n);
	switch (proto) {
	case 0xc021:
		handle_ncp(&lcp, f, n);
		break;
	case 0xc223:
		handle_chap(f, n);
		break;
	case 0xc023:
		handle_pap(f, n);
		break;
	case 0x8021:
		if (authed)
			handle_ncp(&ipcp, f, n);
		break;
	case 0x80fd:
		if (!authed)
			break;
		if (opt.mppe) {
			handle_ncp(&ccp, f, n);
		} else if (n >= 1 && f[0] != TERM_ACK) {
			/* No MPPE here: reject the protocol. */
			uint8_t r[FRAME_MAX];

			r[0] = 0x80;
			r[1] = 0xfd;
			memcpy(r + 2, f, n < sizeof r - 2 ? n : sizeof r - 2);
			send_ctrl(0xc021, PROTO_REJ, 99, r, (n < sizeof r - 2 ? n : sizeof r - 2) + 2);
		}
		break;
	case 0x0021:
		if (mppe_up)
			say("plain IP on an MPPE link dropped");
		else if (tun_fd >= 0 && write(tun_fd, f, n) < 0)
			say("tun write: %s", strerror(errno));
		break;
	case 0x00fd:
		recv_mppe(f, n);
		break;
	default:
		break;
	}
}

/* Feeds link bytes through the RFC 1662 decoder. */
static void
link_bytes(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t c = b[i];

		if (c == 0x7e) {
			if (flen >= 4 && !frame_overrun && fcs16(0xffff, frame, flen) == 0xf0b8)
				handle_frame(frame, flen - 2);
			else if (flen > 0)
				say("link: bad frame (%zu bytes) dropped", flen);
			flen = 0;
			in_escape = 0;
			frame_overrun = 0;
			continue;
		}
		if (c == 0x7d) {
			in_escape = 1;
			continue;
		}
		if (in_escape) {
			c ^= 0x20;
			in_escape = 0;
		}
		if (flen < sizeof frame)
			frame[flen++] = c;
		else
			frame_overrun = 1;
	}
}

/* ---- TUN ---- */

static void
open_tun(void)
{
	struct ifreq ifr;
	struct sockaddr_in *sin;
	int s;

	tun_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tun_fd < 0)
		die(1, "tun: /dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", opt.tun_name);
	if (ioctl(tun_fd, TUNSETIFF, &ifr) < 0)
		die(1, "tun: TUNSETIFF %s: %s", opt.tun_name, strerror(errno));
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die(1, "tun: socket: %s", strerror(errno));
	sin = (struct sockaddr_in *)&ifr.ifr_addr;
	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = my_addr;
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		die(1, "tun: set address: %s", strerror(errno));
	sin = (struct sockaddr_in *)&ifr.ifr_dstaddr;
	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = peer_addr;
	if (ioctl(s, SIOCSIFDSTADDR, &ifr) < 0)
		die(1, "tun: set peer address: %s", strerror(errno));
	/* What the server may receive: its MRU less MPPE's 4 bytes, as pppd
	 * does (MPPE_PAD). */
	tun_mtu = server_mru - (mppe_up ? 4 : 0);
	if (tun_mtu > MTU_MAX)
		tun_mtu = MTU_MAX;
	ifr.ifr_mtu = tun_mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		die(1, "tun: set mtu: %s", strerror(errno));
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die(1, "tun: get flags: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING | IFF_POINTOPOINT;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die(1, "tun: up: %s", strerror(errno));
	close(s);
	say("tun %s up", opt.tun_name);
}

/* ---- main ---- */

static void
on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: pppeer --user NAME --password PW [--mppe] [--tun IFNAME] [--no-tun]\n"
	    "              [--timeout SEC] [--fd N] [--mru N] [--verbose] [--auth mschapv2|chap|pap]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'p' },
		{ "mppe", no_argument, NULL, 'm' },
		{ "tun", required_argument, NULL, 't' },
		{ "no-tun", no_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "fd", required_argument, NULL, 'f' },
		{ "mru", required_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "auth", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa;
	uint64_t deadline;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'u': opt.user = optarg; break;
		case 'p': opt.password = optarg; break;
		case 'm': opt.mppe = 1; break;
		case 't': opt.tun_name = optarg; break;
		case 'n': opt.no_tun = 1; break;
		case 'T': opt.timeout_s = atoi(optarg); break;
		case 'f': opt.in_fd = opt.out_fd = atoi(optarg); break;
		case 'M': opt.mru = atoi(optarg); break;
		case 'v': opt.verbose = 1; break;
		case 'a':
			if (strcmp(optarg, "mschapv2") == 0)
				opt.auth = AUTH_MSCHAPV2;
			else if (strcmp(optarg, "chap") == 0)
				opt.auth = AUTH_CHAP_MD5;
			else if (strcmp(optarg, "pap") == 0)
				opt.auth = AUTH_PAP;
			else
				usage();
			break;
		default: usage();
		}
	}
	if (!opt.user || !opt.password || opt.timeout_s <= 0 || opt.mru < 576 || opt.mru > MTU_MAX)
		usage();
	if (opt.mppe && opt.auth != AUTH_MSCHAPV2)
		die(64, "--mppe needs --auth mschapv2 (MPPE keys come from it)");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (getrandom(&my_magic, sizeof my_magic, 0) != sizeof my_magic)
		die(1, "getrandom failed");
	my_magic |= 1;
	/* On a pty, the line discipline must pass bytes untouched. */
	if (isatty(opt.in_fd)) {
		struct termios tio;

		if (tcgetattr(opt.in_fd, &tio) != 0)
			die(1, "tcgetattr: %s", strerror(errno));
		cfmakeraw(&tio);
		if (tcsetattr(opt.in_fd, TCSANOW, &tio) != 0)
			die(1, "tcsetattr: %s", strerror(errno));
	}
	deadline = now_ms() + (uint64_t)opt.timeout_s * 1000;
	say("starting: user %s%s", opt.user, opt.mppe ? ", mppe" : "");
	ncp_send(&lcp);
	for (;;) {
		struct pollfd pf[2];
		uint64_t t = now_ms();
		struct ncp *ns[3] = { &lcp, &ipcp, &ccp };
		int i, np = 1;

		if (got_term) {
			send_ctrl(0xc021, TERM_REQ, ++lcp.id, (const uint8_t *)"pppeer", 6);
			say("terminated: signal");
			exit(0);
		}
		if (!(ipcp.up && (!opt.mppe || ccp.up)) && t >= deadline)
			die(1, "timeout: lcp %s, auth %s, ipcp %s%s", lcp.up ? "up" : "down",
			    authed ? "ok" : "pending", ipcp.up ? "up" : "down",
			    opt.mppe ? (ccp.up ? ", ccp up" : ", ccp down") : "");
		for (i = 0; i < 3; i++) {
			struct ncp *n = ns[i];

			if (n->next_ms && t >= n->next_ms && !n->ack_rcvd) {
				if (n->tries >= MAX_CONFIGURE)
					die(1, "%s: no answer to %d Configure-Requests", n->name, n->tries);
				ncp_send(n);
			}
		}
		if (pap_next_ms && t >= pap_next_ms && !authed)
			pap_send();
		pf[0].fd = opt.in_fd;
		pf[0].events = POLLIN;
		if (tun_fd >= 0) {
			pf[1].fd = tun_fd;
			pf[1].events = POLLIN;
			np = 2;
		}
		if (poll(pf, (nfds_t)np, 100) < 0) {
			if (errno == EINTR)
				continue;
			die(1, "poll: %s", strerror(errno));
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(opt.in_fd, inbuf, sizeof inbuf);

			if (r < 0 && errno != EINTR && errno != EAGAIN)
				die(2, "terminated: link read: %s", strerror(errno));
			if (r == 0)
				die(2, "terminated: link closed (EOF)");
			if (r > 0)
				link_bytes(inbuf, (size_t)r);
		}
		if (np == 2 && (pf[1].revents & POLLIN)) {
			uint8_t pkt[MTU_MAX + 64];
			ssize_t r = read(tun_fd, pkt, sizeof pkt);

			if (r > 0 && (pkt[0] >> 4) == 4 && r <= tun_mtu)
				send_ip(pkt, (size_t)r);
		}
	}
}
