/*
 * test_pptp_crypto.c: unit tests for src/pptp/ppp_crypto.c.
 *
 * Published test vectors only: RFC 1320 (MD4), FIPS 180 (SHA-1), RFC 1321
 * (MD5), the classic RC4 vectors, RFC 2759 9.2 (MS-CHAPv2), RFC 3079
 * 3.5.3 (MPPE 128-bit keys and the sample "test message" ciphertext).
 * SHA-1 is also fed in odd-sized pieces to exercise its block buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pptp/ppp_crypto.h"

static void
unhex(const char *h, uint8_t *out, size_t n)
{
	size_t i;

	assert_int_equal(strlen(h), 2 * n);
	for (i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void
assert_hex(const uint8_t *got, size_t n, const char *want)
{
	uint8_t w[64];

	assert_true(n <= sizeof w);
	unhex(want, w, n);
	assert_memory_equal(got, w, n);
}

static void
test_md4(void **state)
{
	uint8_t d[16];

	md4_digest("", 0, d);
	assert_hex(d, 16, "31d6cfe0d16ae931b73c59d7e0c089c0");
	md4_digest("abc", 3, d);
	assert_hex(d, 16, "a448017aaf21d8525fc10ae87aa6729d");
	md4_digest("message digest", 14, d);
	assert_hex(d, 16, "d9130a8164549fe818874806e1c7014b");
	md4_digest("12345678901234567890123456789012345678901234567890123456789012345678901234567890", 80, d);
	assert_hex(d, 16, "e33b4ddc9c38f2199c3e7b164fcc0536");
}

static void
sha1_of(const char *s, size_t len, size_t piece, uint8_t d[20])
{
	struct sha1_ctx c;
	size_t off;

	sha1_init(&c);
	for (off = 0; off < len; off += piece)
		sha1_update(&c, s + off, len - off < piece ? len - off : piece);
	sha1_final(&c, d);
}

static void
test_sha1(void **state)
{
	static const char two[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static char million[1000000];
	uint8_t d[20];
	size_t piece;

	sha1_of("", 0, 1, d);
	assert_hex(d, 20, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	sha1_of("abc", 3, 3, d);
	assert_hex(d, 20, "a9993e364706816aba3e25717850c26c9cd0d89d");
	for (piece = 1; piece <= 70; piece++) {
		sha1_of(two, sizeof two - 1, piece, d);
		assert_hex(d, 20, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	}
	memset(million, 'a', sizeof million);
	sha1_of(million, sizeof million, 4093, d);
	assert_hex(d, 20, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void
test_md5(void **state)
{
	uint8_t d[16];

	assert_int_equal(md5_digest3("a", 1, "b", 1, "c", 1, d), 0);
	assert_hex(d, 16, "900150983cd24fb0d6963f7d28e17f72");
	assert_int_equal(md5_digest3("", 0, "", 0, "", 0, d), 0);
	assert_hex(d, 16, "d41d8cd98f00b204e9800998ecf8427e");
}

static void
rc4_case(const char *key, const char *plain, const char *want)
{
	struct rc4 r;
	uint8_t out[64];
	size_t n = strlen(plain);

	rc4_setkey(&r, (const uint8_t *)key, strlen(key));
	rc4_crypt(&r, (const uint8_t *)plain, out, n);
	assert_hex(out, n, want);
	/* Decrypting in place gives the plaintext back. */
	rc4_setkey(&r, (const uint8_t *)key, strlen(key));
	rc4_crypt(&r, out, out, n);
	assert_memory_equal(out, plain, n);
}

static void
test_rc4(void **state)
{
	rc4_case("Key", "Plaintext", "bbf316e8d940af0ad3");
	rc4_case("Wiki", "pedia", "1021bf0420");
	rc4_case("Secret", "Attack at dawn", "45a01f645fc35b383552544b9bf5");
}

/* RFC 2759 9.2 */
static const char user[] = "User";
static const char pass[] = "clientPass";
static uint8_t auth_chal[16], peer_chal[16];

static int
setup_chal(void **state)
{
	unhex("5b5d7c7d7b3f2f3e3c2c602132262628", auth_chal, 16);
	unhex("21402324255e262a28295f2b3a337c7e", peer_chal, 16);
	return 0;
}

static void
test_mschapv2_vectors(void **state)
{
	uint8_t hash[16], hh[16], ch[8], nt[24];
	char s[MSCHAP_AUTH_RESPONSE_CHARS + 1];

	mschap_nt_password_hash(pass, strlen(pass), hash);
	assert_hex(hash, 16, "44ebba8d5312b8d611474411f56989ae");
	mschap_hash_nt_password_hash(hash, hh);
	assert_hex(hh, 16, "41c00c584bd2d91c4017a2a12fa59f3f");
	mschap_challenge_hash(peer_chal, auth_chal, user, strlen(user), ch);
	assert_hex(ch, 8, "d02e4386bce91226");
	mschap_challenge_response(ch, hash, nt);
	assert_hex(nt, 24, "82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df");
	memset(nt, 0, sizeof nt);
	mschap_nt_response(auth_chal, peer_chal, user, strlen(user), pass, strlen(pass), nt);
	assert_hex(nt, 24, "82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df");
	mschap_authenticator_response(pass, strlen(pass), nt, peer_chal, auth_chal,
	    user, strlen(user), s);
	assert_string_equal(s, "S=407A5589115FD0D6209F510FE9C04566932CDA56");
}

static void
test_mschapv2_domain_and_wrong_password(void **state)
{
	uint8_t a[8], b[8], nt1[24], nt2[24];

	/* RFC 2759 8.2: a "DOMAIN\" prefix is not part of the hashed name. */
	mschap_challenge_hash(peer_chal, auth_chal, "User", 4, a);
	mschap_challenge_hash(peer_chal, auth_chal, "CORP\\User", 9, b);
	assert_memory_equal(a, b, 8);
	mschap_challenge_hash(peer_chal, auth_chal, "user", 4, b);
	assert_memory_not_equal(a, b, 8);
	mschap_nt_response(auth_chal, peer_chal, user, 4, pass, strlen(pass), nt1);
	mschap_nt_response(auth_chal, peer_chal, user, 4, "clientPasS", 10, nt2);
	assert_memory_not_equal(nt1, nt2, 24);
}

/* RFC 3079 3.5.3: 128-bit keys from the same login. */
static void
test_mppe_keys(void **state)
{
	uint8_t hash[16], hh[16], nt[24], master[16], send[16], recv[16], csend[16], crecv[16];
	uint8_t session[16], out[12], out16[16];
	struct rc4 r;

	mschap_nt_password_hash(pass, strlen(pass), hash);
	mschap_hash_nt_password_hash(hash, hh);
	unhex("82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df", nt, 24);
	mppe_master_key(hh, nt, master);
	assert_hex(master, 16, "fdece3717a8c838cb388e527ae3cdd31");
	mppe_start_key(master, 1, 1, send);
	assert_hex(send, 16, "8b7cdc149b993a1ba118cb153f56dccb");
	/* The client's receive key is the server's send key, and the other way. */
	mppe_start_key(master, 0, 0, crecv);
	assert_memory_equal(crecv, send, 16);
	mppe_start_key(master, 0, 1, recv);
	mppe_start_key(master, 1, 0, csend);
	assert_memory_equal(csend, recv, 16);
	assert_memory_not_equal(send, recv, 16);
	mppe_new_key_sha(send, send, session);
	assert_hex(session, 16, "405cb2247a7956e6e211007ae27b22d4");
	rc4_setkey(&r, session, 16);
	rc4_crypt(&r, (const uint8_t *)"test message", out, 12);
	assert_hex(out, 12, "81848317df68846272fb5abe");
	/* A key change differs from the key and from a bare SHA step. */
	mppe_rekey(send, session, out16);
	assert_memory_not_equal(out16, session, 16);
	mppe_new_key_sha(send, session, session);
	assert_memory_not_equal(out16, session, 16);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md4),
		cmocka_unit_test(test_sha1),
		cmocka_unit_test(test_md5),
		cmocka_unit_test(test_rc4),
		cmocka_unit_test_setup(test_mschapv2_vectors, setup_chal),
		cmocka_unit_test_setup(test_mschapv2_domain_and_wrong_password, setup_chal),
		cmocka_unit_test_setup(test_mppe_keys, setup_chal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
