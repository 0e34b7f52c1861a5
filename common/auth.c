/*
 * auth: HMAC-SHA-256 proofs over a per-connection nonce, and the meaning
 * of a client's key file (read through keyfile, as the replica's keys
 * are).  The message under the MAC names the protocol version and the
 * agency as well as the nonce, so a proof made for one agency or one
 * version says nothing about another.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth.h"
#include "keyfile.h"

#define AUTH_LABEL	"lottery-auth-v1:"

int
auth_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

void
auth_nonce(uint8_t nonce[AUTH_NONCE_LEN])
{
	randombytes_buf(nonce, AUTH_NONCE_LEN);
}

/* "lottery-auth-v1:<agency>:<nonce hex>" into msg; its length. */
static size_t
auth_message(uint32_t agency, const uint8_t nonce[AUTH_NONCE_LEN],
    char msg[96])
{
	int	n;

	n = snprintf(msg, 96, AUTH_LABEL "%u:", (unsigned)agency);
	auth_hex(nonce, AUTH_NONCE_LEN, msg + n);
	return (size_t)n + AUTH_HEX_LEN;
}

void
auth_proof(const uint8_t key[AUTH_KEY_LEN], uint32_t agency,
    const uint8_t nonce[AUTH_NONCE_LEN], uint8_t mac[AUTH_MAC_LEN])
{
	char	msg[96];
	size_t	len;

	len = auth_message(agency, nonce, msg);
	crypto_auth_hmacsha256(mac, (const unsigned char *)msg, len, key);
}

int
auth_verify(const uint8_t key[AUTH_KEY_LEN], uint32_t agency,
    const uint8_t nonce[AUTH_NONCE_LEN], const uint8_t mac[AUTH_MAC_LEN])
{
	char	msg[96];
	size_t	len;

	len = auth_message(agency, nonce, msg);
	/* The library's verify compares in constant time. */
	return crypto_auth_hmacsha256_verify(mac, (const unsigned char *)msg,
	    len, key) == 0;
}

int
auth_unhex(const char *s, size_t len, uint8_t *out, size_t n)
{
	size_t	i;

	if (len != 2 * n)
		return -1;
	/* sodium_hex2bin would skip separators; only digits are wanted. */
	for (i = 0; i < len; i++)
		if (strchr("0123456789abcdefABCDEF", s[i]) == NULL ||
		    s[i] == '\0')
			return -1;
	if (sodium_hex2bin(out, n, s, len, NULL, NULL, NULL) != 0)
		return -1;
	return 0;
}

void
auth_hex(const uint8_t *in, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, in, n);
}

void
auth_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}

int
auth_key_file(const char *path, uint8_t key[AUTH_KEY_LEN], char *err,
    size_t errlen)
{
	struct keyfile	 kf;
	int		 r, rc = -1;

	if (keyfile_open(&kf, path, err, errlen) == -1)
		return -1;
	if ((r = keyfile_next(&kf, err, errlen)) == -1)
		goto done;
	if (r == 0) {
		snprintf(err, errlen, "%s: no key in the file", path);
		goto done;
	}
	if (auth_unhex(kf.line, strlen(kf.line), key, AUTH_KEY_LEN) == -1) {
		snprintf(err, errlen, "%s:%u: want exactly %d hex digits on "
		    "the line", path, kf.lineno, AUTH_HEX_LEN);
		goto done;
	}
	if ((r = keyfile_next(&kf, err, errlen)) == -1)
		goto done;
	if (r == 1) {
		snprintf(err, errlen, "%s:%u: one key only, and this is a "
		    "second line", path, kf.lineno);
		goto done;
	}
	rc = 0;
done:
	if (rc == -1)
		auth_wipe(key, AUTH_KEY_LEN);
	keyfile_close(&kf);
	return rc;
}
