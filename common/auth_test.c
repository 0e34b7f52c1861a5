/*
 * auth_test: the handshake's proofs and the client key file, with real
 * files for the permission checks.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"

static const char *hexkey =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static void
key_of(uint8_t key[AUTH_KEY_LEN])
{
	assert_int_equal(auth_unhex(hexkey, strlen(hexkey), key,
	    AUTH_KEY_LEN), 0);
}

static void
test_proof_verifies(void **state)
{
	uint8_t	key[AUTH_KEY_LEN], nonce[AUTH_NONCE_LEN], mac[AUTH_MAC_LEN];

	(void)state;
	key_of(key);
	auth_nonce(nonce);
	auth_proof(key, 3, nonce, mac);
	assert_int_equal(auth_verify(key, 3, nonce, mac), 1);
}

/* Another agency, nonce or key, or one bit of the MAC: all refused. */
static void
test_proof_is_bound(void **state)
{
	uint8_t	key[AUTH_KEY_LEN], other[AUTH_KEY_LEN];
	uint8_t	nonce[AUTH_NONCE_LEN], nonce2[AUTH_NONCE_LEN];
	uint8_t	mac[AUTH_MAC_LEN];

	(void)state;
	key_of(key);
	memcpy(other, key, sizeof(other));
	other[31] ^= 1;
	auth_nonce(nonce);
	auth_nonce(nonce2);
	assert_memory_not_equal(nonce, nonce2, sizeof(nonce));
	auth_proof(key, 3, nonce, mac);
	assert_int_equal(auth_verify(key, 4, nonce, mac), 0);
	assert_int_equal(auth_verify(key, 3, nonce2, mac), 0);
	assert_int_equal(auth_verify(other, 3, nonce, mac), 0);
	mac[0] ^= 0x80;
	assert_int_equal(auth_verify(key, 3, nonce, mac), 0);
}

/* A known answer, so a change of the message under the MAC shows. */
static void
test_proof_known_answer(void **state)
{
	uint8_t	key[AUTH_KEY_LEN], nonce[AUTH_NONCE_LEN], mac[AUTH_MAC_LEN];
	char	hex[AUTH_HEX_LEN + 1];

	(void)state;
	key_of(key);
	memset(nonce, 0xab, sizeof(nonce));
	auth_proof(key, 1, nonce, mac);
	auth_hex(mac, sizeof(mac), hex);
	/* HMAC-SHA-256(key, "lottery-auth-v1:1:abab...ab"), from openssl. */
	assert_string_equal(hex, "8e94bce07dccdc51deca73138a4e2082"
	    "10686f4e8cc4d4e7af41493ab92b5c38");
}

static void
test_unhex_is_strict(void **state)
{
	uint8_t	out[2];

	(void)state;
	assert_int_equal(auth_unhex("0aFf", 4, out, 2), 0);
	assert_int_equal(out[0], 0x0a);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(auth_unhex("0aF", 3, out, 2), -1);
	assert_int_equal(auth_unhex("0aFff", 5, out, 2), -1);
	assert_int_equal(auth_unhex("0a:f", 4, out, 2), -1);
	assert_int_equal(auth_unhex("0a f", 4, out, 2), -1);
	assert_int_equal(auth_unhex("0ag0", 4, out, 2), -1);
}

/* Write len bytes of text to a fresh file of mode; its path (static). */
static const char *
key_file_len(const char *text, size_t len, mode_t mode)
{
	static char	path[64];
	int		fd;

	snprintf(path, sizeof(path), "/tmp/auth_test.XXXXXX");
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* The same for a string. */
static const char *
key_file(const char *text, mode_t mode)
{
	return key_file_len(text, strlen(text), mode);
}

static void
test_key_file(void **state)
{
	uint8_t		 key[AUTH_KEY_LEN], want[AUTH_KEY_LEN];
	char		 text[100], err[256];
	const char	*p;

	(void)state;
	key_of(want);
	snprintf(text, sizeof(text), "%s\n", hexkey);
	p = key_file(text, 0600);
	assert_int_equal(auth_key_file(p, key, err, sizeof(err)), 0);
	assert_memory_equal(key, want, sizeof(key));
	unlink(p);
	p = key_file(hexkey, 0400);	/* no newline, read-only */
	assert_int_equal(auth_key_file(p, key, err, sizeof(err)), 0);
	unlink(p);
	/* The forms the replica's key file takes: CRLF, comments, blanks. */
	snprintf(text, sizeof(text), "%s\r\n", hexkey);
	p = key_file(text, 0600);
	assert_int_equal(auth_key_file(p, key, err, sizeof(err)), 0);
	assert_memory_equal(key, want, sizeof(key));
	unlink(p);
	snprintf(text, sizeof(text), "# agency 1\r\n\r\n%s\n\n", hexkey);
	p = key_file(text, 0600);
	assert_int_equal(auth_key_file(p, key, err, sizeof(err)), 0);
	assert_memory_equal(key, want, sizeof(key));
	unlink(p);
}

static void
test_key_file_refused(void **state)
{
	uint8_t		 key[AUTH_KEY_LEN];
	char		 text[200], err[256];
	const char	*p;

	(void)state;
	snprintf(text, sizeof(text), "%s\n", hexkey);
	p = key_file(text, 0640);
	assert_int_equal(auth_key_file(p, key, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "mode 0640"));
	unlink(p);
	p = key_file(text, 0604);
	assert_int_equal(auth_key_file(p, key, err, sizeof(err)), -1);
	unlink(p);
	snprintf(text, sizeof(text), "%s\n%s\n", hexkey, hexkey);
	p = key_file(text, 0600);
	assert_int_equal(auth_key_file(p, key, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: one key only"));
	unlink(p);
	snprintf(text, sizeof(text), "%s \n", hexkey);
	p = key_file(text, 0600);
	assert_int_equal(auth_key_file(p, key, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1: want exactly 64 hex digits"));
	unlink(p);
	/* A NUL byte is named as such, not as a line too long. */
	snprintf(text, sizeof(text), "%s\n", hexkey);
	text[10] = '\0';
	p = key_file_len(text, AUTH_HEX_LEN + 1, 0600);
	assert_int_equal(auth_key_file(p, key, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1: NUL byte"));
	unlink(p);
	p = key_file("\n\n# nothing\n", 0600);
	assert_int_equal(auth_key_file(p, key, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no key"));
	unlink(p);
	p = key_file("abcd\n", 0600);
	assert_int_equal(auth_key_file(p, key, err, sizeof(err)), -1);
	unlink(p);
	assert_int_equal(auth_key_file("/nonexistent/key", key, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proof_verifies),
		cmocka_unit_test(test_proof_is_bound),
		cmocka_unit_test(test_proof_known_answer),
		cmocka_unit_test(test_unhex_is_strict),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_key_file_refused),
	};

	if (auth_init() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
