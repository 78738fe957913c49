/*
 * ppp_crypto.h: the hashes and ciphers PPP authentication and MPPE need,
 * and the MS-CHAPv2 (RFC 2759) and MPPE key (RFC 3079) derivations.
 *
 * MD4, SHA-1 and RC4 are our own (each a page; no allocation, so the MPPE
 * data path, which rekeys with SHA-1 and RC4 on every packet in stateless
 * mode, allocates nothing; and OpenSSL 3 puts MD4 and RC4 in its legacy
 * provider).  MD5 (CHAP-MD5, once per login) and DES (MS-CHAPv2's
 * ChallengeResponse, once per login) come from OpenSSL's libcrypto; DES
 * uses the deprecated low-level API, whose warning is silenced in
 * ppp_crypto.c only.  These are the algorithms PPTP is stuck with; none
 * of them is strong (see the tunnel README).
 */
#ifndef HF_PPTP_PPP_CRYPTO_H
#define HF_PPTP_PPP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define MD4_DIGEST_BYTES   16
#define MD5_DIGEST_BYTES   16
#define SHA1_DIGEST_BYTES  20

struct sha1_ctx {
	uint32_t h[5];
	uint64_t len;          /* bytes so far */
	uint8_t block[64];
	size_t nblock;
};

void sha1_init(struct sha1_ctx *c);
void sha1_update(struct sha1_ctx *c, const void *data, size_t len);
void sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_DIGEST_BYTES]);

void md4_digest(const void *data, size_t len, uint8_t out[MD4_DIGEST_BYTES]);

/* MD5 over the concatenation of three parts (CHAP: id, secret, challenge).
 * 0, or -1 if libcrypto fails. */
int md5_digest3(const void *a, size_t alen, const void *b, size_t blen,
    const void *c, size_t clen, uint8_t out[MD5_DIGEST_BYTES]);

/* One DES block under a 56-bit key given as 7 bytes (RFC 2759 DesEncrypt). */
void des_encrypt7(const uint8_t key7[7], const uint8_t in[8], uint8_t out[8]);

struct rc4 {
	uint8_t s[256];
	uint8_t i, j;
};
void rc4_setkey(struct rc4 *r, const uint8_t *key, size_t len);
/* XORs len bytes of keystream over in into out (in == out is fine). */
void rc4_crypt(struct rc4 *r, const uint8_t *in, uint8_t *out, size_t len);

/* RFC 2759 8.  Passwords are bytes taken as Latin-1 (each widened to a
 * UTF-16LE unit), at most 256 of them. */
#define MSCHAP_CHALLENGE_BYTES    16
#define MSCHAP_NT_RESPONSE_BYTES  24
#define MSCHAP_AUTH_RESPONSE_CHARS 42   /* "S=" + 40 hex digits */

void mschap_nt_password_hash(const char *pw, size_t pwlen, uint8_t out[16]);
void mschap_hash_nt_password_hash(const uint8_t hash[16], uint8_t out[16]);
/* user: the name as sent; any "DOMAIN\" prefix is skipped here, as RFC 2759 8.2 says. */
void mschap_challenge_hash(const uint8_t peer_chal[16], const uint8_t auth_chal[16],
    const char *user, size_t userlen, uint8_t out[8]);
void mschap_challenge_response(const uint8_t challenge[8], const uint8_t pw_hash[16],
    uint8_t out[24]);
void mschap_nt_response(const uint8_t auth_chal[16], const uint8_t peer_chal[16],
    const char *user, size_t userlen, const char *pw, size_t pwlen, uint8_t out[24]);
/* out: 42 characters "S=..." (upper-case hex) and a NUL. */
void mschap_authenticator_response(const char *pw, size_t pwlen,
    const uint8_t nt_response[24], const uint8_t peer_chal[16],
    const uint8_t auth_chal[16], const char *user, size_t userlen,
    char out[MSCHAP_AUTH_RESPONSE_CHARS + 1]);

/* RFC 3079 3.  Keys are 16 bytes (128-bit MPPE only). */
#define MPPE_KEY_BYTES 16
void mppe_master_key(const uint8_t pw_hash_hash[16], const uint8_t nt_response[24],
    uint8_t out[16]);
void mppe_start_key(const uint8_t master[16], int is_send, int is_server, uint8_t out[16]);
/* GetNewKeyFromSHA (RFC 3079 3.6 / RFC 3078 7.3).  The initial session
 * key is GetNewKeyFromSHA(start, start) (RFC 3079 3.5.3's example). */
void mppe_new_key_sha(const uint8_t start[16], const uint8_t session[16], uint8_t out[16]);
/* A key change (RFC 3078 7.3): GetNewKeyFromSHA, then RC4 of that interim
 * key under itself. */
void mppe_rekey(const uint8_t start[16], const uint8_t session[16], uint8_t out[16]);

#endif
