/*
 * ppp_crypto.c: MD4, SHA-1, RC4 (ours), MD5 and DES (libcrypto), and the
 * MS-CHAPv2 / MPPE derivations built on them.  See ppp_crypto.h.
 *
 * Nothing here allocates except md5_digest3 (libcrypto's EVP context,
 * once per CHAP-MD5 login).  Secrets on the stack are wiped before
 * return where they are derived keys or password hashes.
 */
/* DES_set_key_unchecked / DES_ecb_encrypt are deprecated in OpenSSL 3 but
 * still the only way to one DES block without the legacy provider. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <string.h>

#include <openssl/des.h>
#include <openssl/evp.h>

#include "ppp_crypto.h"

static inline uint32_t
rol32(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

static void
wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

/* ---- MD4 (RFC 1320) ---- */

static void
md4_block(uint32_t h[4], const uint8_t blk[64])
{
	static const uint8_t k2[16] = { 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15 };
	static const uint8_t k3[16] = { 0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15 };
	static const uint8_t s1[4] = { 3, 7, 11, 19 }, s2[4] = { 3, 5, 9, 13 }, s3[4] = { 3, 9, 11, 15 };
	uint32_t x[16], v[4], t;
	int i;

	for (i = 0; i < 16; i++)
		x[i] = (uint32_t)blk[4 * i] | (uint32_t)blk[4 * i + 1] << 8 |
		    (uint32_t)blk[4 * i + 2] << 16 | (uint32_t)blk[4 * i + 3] << 24;
	memcpy(v, h, sizeof v);
	/* v[0..3] rotate roles: a b c d, then d a b c, ... kept by index. */
	for (i = 0; i < 16; i++) {
		uint32_t a = v[(16 - i) % 4], b = v[(17 - i) % 4], c = v[(18 - i) % 4], d = v[(19 - i) % 4];
		t = a + ((b & c) | (~b & d)) + x[i];
		v[(16 - i) % 4] = rol32(t, s1[i % 4]);
	}
	for (i = 0; i < 16; i++) {
		uint32_t a = v[(16 - i) % 4], b = v[(17 - i) % 4], c = v[(18 - i) % 4], d = v[(19 - i) % 4];
		t = a + ((b & c) | (b & d) | (c & d)) + x[k2[i]] + 0x5A827999u;
		v[(16 - i) % 4] = rol32(t, s2[i % 4]);
	}
	for (i = 0; i < 16; i++) {
		uint32_t a = v[(16 - i) % 4], b = v[(17 - i) % 4], c = v[(18 - i) % 4], d = v[(19 - i) % 4];
		t = a + (b ^ c ^ d) + x[k3[i]] + 0x6ED9EBA1u;
		v[(16 - i) % 4] = rol32(t, s3[i % 4]);
	}
	for (i = 0; i < 4; i++)
		h[i] += v[i];
	wipe(x, sizeof x);
}

void
md4_digest(const void *data, size_t len, uint8_t out[MD4_DIGEST_BYTES])
{
	uint32_t h[4] = { 0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u };
	const uint8_t *p = data;
	uint8_t tail[128];
	size_t rest, ntail, i;
	uint64_t bits = (uint64_t)len * 8;

	for (rest = len; rest >= 64; rest -= 64, p += 64)
		md4_block(h, p);
	memset(tail, 0, sizeof tail);
	memcpy(tail, p, rest);
	tail[rest] = 0x80;
	ntail = rest + 1 + 8 <= 64 ? 64 : 128;
	for (i = 0; i < 8; i++)
		tail[ntail - 8 + i] = (uint8_t)(bits >> (8 * i));
	md4_block(h, tail);
	if (ntail == 128)
		md4_block(h, tail + 64);
	for (i = 0; i < 4; i++) {
		out[4 * i] = (uint8_t)h[i];
		out[4 * i + 1] = (uint8_t)(h[i] >> 8);
		out[4 * i + 2] = (uint8_t)(h[i] >> 16);
		out[4 * i + 3] = (uint8_t)(h[i] >> 24);
	}
	wipe(tail, sizeof tail);
}

/* ---- SHA-1 (FIPS 180-4) ---- */

static void
sha1_block(uint32_t h[5], const uint8_t blk[64])
{
	uint32_t w[80], a, b, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 |
		    (uint32_t)blk[4 * i + 2] << 8 | (uint32_t)blk[4 * i + 3];
	for (i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5A827999u;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ED9EBA1u;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8F1BBCDCu;
		} else {
			f = b ^ c ^ d;
			k = 0xCA62C1D6u;
		}
		t = rol32(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol32(b, 30);
		b = a;
		a = t;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
	wipe(w, sizeof w);
}

void
sha1_init(struct sha1_ctx *c)
{
	c->h[0] = 0x67452301u;
	c->h[1] = 0xEFCDAB89u;
	c->h[2] = 0x98BADCFEu;
	c->h[3] = 0x10325476u;
	c->h[4] = 0xC3D2E1F0u;
	c->len = 0;
	c->nblock = 0;
}

void
sha1_update(struct sha1_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	c->len += len;
	if (c->nblock > 0) {
		size_t take = 64 - c->nblock < len ? 64 - c->nblock : len;

		memcpy(c->block + c->nblock, p, take);
		c->nblock += take;
		p += take;
		len -= take;
		if (c->nblock < 64)
			return;
		sha1_block(c->h, c->block);
		c->nblock = 0;
	}
	for (; len >= 64; len -= 64, p += 64)
		sha1_block(c->h, p);
	memcpy(c->block, p, len);
	c->nblock = len;
}

void
sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_DIGEST_BYTES])
{
	uint64_t bits = c->len * 8;
	uint8_t pad[72];
	size_t npad = (c->nblock < 56 ? 56 : 120) - c->nblock;
	int i;

	memset(pad, 0, sizeof pad);
	pad[0] = 0x80;
	for (i = 0; i < 8; i++)
		pad[npad + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(c, pad, npad + 8);
	for (i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(c->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)c->h[i];
	}
	wipe(c, sizeof *c);
}

/* ---- MD5 and DES from libcrypto ---- */

int
md5_digest3(const void *a, size_t alen, const void *b, size_t blen,
    const void *c, size_t clen, uint8_t out[MD5_DIGEST_BYTES])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	if (!ctx)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, a, alen) == 1 &&
	    EVP_DigestUpdate(ctx, b, blen) == 1 &&
	    EVP_DigestUpdate(ctx, c, clen) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == MD5_DIGEST_BYTES;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

void
des_encrypt7(const uint8_t k[7], const uint8_t in[8], uint8_t out[8])
{
	DES_cblock key, src, dst;
	DES_key_schedule ks;

	/* 56 key bits spread over 8 bytes, the low bit of each (parity) unused. */
	key[0] = k[0] & 0xfe;
	key[1] = (uint8_t)(k[0] << 7 | k[1] >> 1);
	key[2] = (uint8_t)(k[1] << 6 | k[2] >> 2);
	key[3] = (uint8_t)(k[2] << 5 | k[3] >> 3);
	key[4] = (uint8_t)(k[3] << 4 | k[4] >> 4);
	key[5] = (uint8_t)(k[4] << 3 | k[5] >> 5);
	key[6] = (uint8_t)(k[5] << 2 | k[6] >> 6);
	key[7] = (uint8_t)(k[6] << 1);
	DES_set_key_unchecked(&key, &ks);
	memcpy(src, in, 8);
	DES_ecb_encrypt(&src, &dst, &ks, DES_ENCRYPT);
	memcpy(out, dst, 8);
	wipe(&ks, sizeof ks);
	wipe(key, sizeof key);
}

/* ---- RC4 ---- */

void
rc4_setkey(struct rc4 *r, const uint8_t *key, size_t len)
{
	unsigned i, j = 0;

	for (i = 0; i < 256; i++)
		r->s[i] = (uint8_t)i;
	for (i = 0; i < 256; i++) {
		uint8_t t = r->s[i];

		j = (j + t + key[i % len]) & 0xff;
		r->s[i] = r->s[j];
		r->s[j] = t;
	}
	r->i = r->j = 0;
}

void
rc4_crypt(struct rc4 *r, const uint8_t *in, uint8_t *out, size_t len)
{
	uint8_t i = r->i, j = r->j;
	size_t n;

	for (n = 0; n < len; n++) {
		uint8_t t;

		i = (uint8_t)(i + 1);
		t = r->s[i];
		j = (uint8_t)(j + t);
		r->s[i] = r->s[j];
		r->s[j] = t;
		out[n] = in[n] ^ r->s[(uint8_t)(r->s[i] + t)];
	}
	r->i = i;
	r->j = j;
}

/* ---- MS-CHAPv2 (RFC 2759 8) ---- */

#define MSCHAP_PASSWORD_MAX_CHARS 256

void
mschap_nt_password_hash(const char *pw, size_t pwlen, uint8_t out[16])
{
	uint8_t uni[2 * MSCHAP_PASSWORD_MAX_CHARS];
	size_t i;

	if (pwlen > MSCHAP_PASSWORD_MAX_CHARS)
		pwlen = MSCHAP_PASSWORD_MAX_CHARS;
	for (i = 0; i < pwlen; i++) {
		uni[2 * i] = (uint8_t)pw[i];
		uni[2 * i + 1] = 0;
	}
	md4_digest(uni, 2 * pwlen, out);
	wipe(uni, sizeof uni);
}

void
mschap_hash_nt_password_hash(const uint8_t hash[16], uint8_t out[16])
{
	md4_digest(hash, 16, out);
}

void
mschap_challenge_hash(const uint8_t peer_chal[16], const uint8_t auth_chal[16],
    const char *user, size_t userlen, uint8_t out[8])
{
	struct sha1_ctx c;
	uint8_t d[SHA1_DIGEST_BYTES];
	const char *bs = memrchr(user, '\\', userlen);

	if (bs) {
		userlen -= (size_t)(bs + 1 - user);
		user = bs + 1;
	}
	sha1_init(&c);
	sha1_update(&c, peer_chal, 16);
	sha1_update(&c, auth_chal, 16);
	sha1_update(&c, user, userlen);
	sha1_final(&c, d);
	memcpy(out, d, 8);
}

void
mschap_challenge_response(const uint8_t challenge[8], const uint8_t pw_hash[16], uint8_t out[24])
{
	uint8_t z[21];

	memset(z, 0, sizeof z);
	memcpy(z, pw_hash, 16);
	des_encrypt7(z, challenge, out);
	des_encrypt7(z + 7, challenge, out + 8);
	des_encrypt7(z + 14, challenge, out + 16);
	wipe(z, sizeof z);
}

void
mschap_nt_response(const uint8_t auth_chal[16], const uint8_t peer_chal[16],
    const char *user, size_t userlen, const char *pw, size_t pwlen, uint8_t out[24])
{
	uint8_t ch[8], hash[16];

	mschap_challenge_hash(peer_chal, auth_chal, user, userlen, ch);
	mschap_nt_password_hash(pw, pwlen, hash);
	mschap_challenge_response(ch, hash, out);
	wipe(hash, sizeof hash);
}

static const char mschap_magic1[] = "Magic server to client signing constant";
static const char mschap_magic2[] = "Pad to make it do more than one iteration";

void
mschap_authenticator_response(const char *pw, size_t pwlen,
    const uint8_t nt_response[24], const uint8_t peer_chal[16],
    const uint8_t auth_chal[16], const char *user, size_t userlen,
    char out[MSCHAP_AUTH_RESPONSE_CHARS + 1])
{
	static const char hex[] = "0123456789ABCDEF";
	struct sha1_ctx c;
	uint8_t hash[16], hh[16], d[SHA1_DIGEST_BYTES], ch[8];
	int i;

	mschap_nt_password_hash(pw, pwlen, hash);
	mschap_hash_nt_password_hash(hash, hh);
	sha1_init(&c);
	sha1_update(&c, hh, 16);
	sha1_update(&c, nt_response, 24);
	sha1_update(&c, mschap_magic1, sizeof mschap_magic1 - 1);
	sha1_final(&c, d);
	mschap_challenge_hash(peer_chal, auth_chal, user, userlen, ch);
	sha1_init(&c);
	sha1_update(&c, d, sizeof d);
	sha1_update(&c, ch, 8);
	sha1_update(&c, mschap_magic2, sizeof mschap_magic2 - 1);
	sha1_final(&c, d);
	out[0] = 'S';
	out[1] = '=';
	for (i = 0; i < SHA1_DIGEST_BYTES; i++) {
		out[2 + 2 * i] = hex[d[i] >> 4];
		out[3 + 2 * i] = hex[d[i] & 15];
	}
	out[MSCHAP_AUTH_RESPONSE_CHARS] = '\0';
	wipe(hash, sizeof hash);
	wipe(hh, sizeof hh);
}

/* ---- MPPE keys (RFC 3079 3.4, 3.6) ---- */

static const char mppe_magic1[] = "This is the MPPE Master Key";
static const char mppe_magic2[] =
    "On the client side, this is the send key; on the server side, it is the receive key.";
static const char mppe_magic3[] =
    "On the client side, this is the receive key; on the server side, it is the send key.";

static const uint8_t sha_pad1[40] = { 0 };
static const uint8_t sha_pad2[40] = {
	0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
	0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
	0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
	0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
};

void
mppe_master_key(const uint8_t pw_hash_hash[16], const uint8_t nt_response[24], uint8_t out[16])
{
	struct sha1_ctx c;
	uint8_t d[SHA1_DIGEST_BYTES];

	sha1_init(&c);
	sha1_update(&c, pw_hash_hash, 16);
	sha1_update(&c, nt_response, 24);
	sha1_update(&c, mppe_magic1, sizeof mppe_magic1 - 1);
	sha1_final(&c, d);
	memcpy(out, d, 16);
	wipe(d, sizeof d);
}

void
mppe_start_key(const uint8_t master[16], int is_send, int is_server, uint8_t out[16])
{
	const char *s = (is_send ? is_server : !is_server) ? mppe_magic3 : mppe_magic2;
	struct sha1_ctx c;
	uint8_t d[SHA1_DIGEST_BYTES];

	sha1_init(&c);
	sha1_update(&c, master, 16);
	sha1_update(&c, sha_pad1, sizeof sha_pad1);
	sha1_update(&c, s, sizeof mppe_magic2 - 1);
	sha1_update(&c, sha_pad2, sizeof sha_pad2);
	sha1_final(&c, d);
	memcpy(out, d, 16);
	wipe(d, sizeof d);
}

void
mppe_new_key_sha(const uint8_t start[16], const uint8_t session[16], uint8_t out[16])
{
	struct sha1_ctx c;
	uint8_t d[SHA1_DIGEST_BYTES];

	sha1_init(&c);
	sha1_update(&c, start, 16);
	sha1_update(&c, sha_pad1, sizeof sha_pad1);
	sha1_update(&c, session, 16);
	sha1_update(&c, sha_pad2, sizeof sha_pad2);
	sha1_final(&c, d);
	memcpy(out, d, 16);
	wipe(d, sizeof d);
}

void
mppe_rekey(const uint8_t start[16], const uint8_t session[16], uint8_t out[16])
{
	struct rc4 r;
	uint8_t interim[16];

	mppe_new_key_sha(start, session, interim);
	rc4_setkey(&r, interim, 16);
	rc4_crypt(&r, interim, out, 16);
	wipe(&r, sizeof r);
	wipe(interim, sizeof interim);
}
