/*
 * auth: the agency handshake's cryptography, shared by the server, the
 * client and lotteryctl.  Each agency holds a 32-byte secret key; the
 * server sends a fresh random nonce per connection and the agency answers
 * HMAC-SHA-256(key, "lottery-auth-v1:" agency ":" nonce), so a proof is
 * good for one connection only.  Everything is libsodium's; MACs are
 * compared in constant time.  No logging: errors come back as text.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_KEY_LEN	32
#define AUTH_NONCE_LEN	32
#define AUTH_MAC_LEN	32
#define AUTH_HEX_LEN	64	/* each of the three, as hex digits */

/* Start libsodium (it is safe to call more than once).  0 or -1. */
int	 auth_init(void);
/* A fresh random nonce. */
void	 auth_nonce(uint8_t nonce[AUTH_NONCE_LEN]);
/* The agency's answer to nonce. */
void	 auth_proof(const uint8_t key[AUTH_KEY_LEN], uint32_t agency,
	    const uint8_t nonce[AUTH_NONCE_LEN], uint8_t mac[AUTH_MAC_LEN]);
/* 1 when mac is the agency's answer to nonce under key, else 0. */
int	 auth_verify(const uint8_t key[AUTH_KEY_LEN], uint32_t agency,
	    const uint8_t nonce[AUTH_NONCE_LEN],
	    const uint8_t mac[AUTH_MAC_LEN]);
/*
 * s[0..len) as exactly 2 * n hex digits into out[0..n).  0, or -1 when it
 * is anything else.
 */
int	 auth_unhex(const char *s, size_t len, uint8_t *out, size_t n);
/* in[0..n) as 2 * n lower-case hex digits and a NUL at out. */
void	 auth_hex(const uint8_t *in, size_t n, char *out);
/* Forget a secret: zero it where the compiler cannot skip it. */
void	 auth_wipe(void *p, size_t n);
/*
 * A client key file: one line of exactly 64 hex digits, read through
 * keyfile (LF or CRLF, '#' comments and blank lines allowed, a private
 * regular file).  0, or -1 with the reason in err.
 */
int	 auth_key_file(const char *path, uint8_t key[AUTH_KEY_LEN],
	    char *err, size_t errlen);

#endif
