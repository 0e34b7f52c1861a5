/*
 * cfg_test: defaults, bounds of every type, unknown keys, duration units,
 * environment overrides and their error text, required keys, and the
 * config log line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg.h"
#include "log.h"

static int		port, timeout_ms, id;
static char		host[16];
static enum log_level	level;
static char		err[256];

static struct cfg_key	tab[] = {
	{ "SERVER_PORT", "T_PORT", CFG_INT, 1, 65535, "12345", &port, 0, 0 },
	{ "SERVER_IP", "T_IP", CFG_STR, 0, 0, "0.0.0.0", host, sizeof(host), 0 },
	{ "LOGGING_LEVEL", "T_LEVEL", CFG_LEVEL, 0, 0, "INFO", &level, 0, 0 },
	{ "CONN_TIMEOUT", "T_TIMEOUT", CFG_DURATION, 1, 600000, "30s",
	    &timeout_ms, 0, 0 },
	{ "id", "T_ID", CFG_INT, 1, 1000, NULL, &id, 0, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, NULL, 0, 0 }
};

static int
setup(void **state)
{
	(void)state;
	unsetenv("T_PORT");
	unsetenv("T_IP");
	unsetenv("T_LEVEL");
	unsetenv("T_TIMEOUT");
	unsetenv("T_ID");
	cfg_defaults(tab);
	err[0] = '\0';
	return 0;
}

static void
test_defaults(void **state)
{
	(void)state;
	assert_int_equal(port, 12345);
	assert_string_equal(host, "0.0.0.0");
	assert_int_equal(level, LOG_LVL_INFO);
	assert_int_equal(timeout_ms, 30000);
	/* The required key has no value yet. */
	assert_int_equal(cfg_env(tab, err, sizeof(err)), -1);
	assert_string_equal(err, "id: missing");
	assert_int_equal(cfg_set(tab, "id", "4", err, sizeof(err)), 0);
	assert_int_equal(cfg_env(tab, err, sizeof(err)), 0);
	assert_int_equal(id, 4);
}

static void
test_int_bounds(void **state)
{
	/* Strict digits: strtonum(3) would take the sign and the space. */
	const char	*bad[] = { "0", "65536", "-1", "abc", "1x", "",
	    "99999999999999999999", "+80", " 80", "80 " };
	size_t		 i;

	(void)state;
	assert_int_equal(cfg_set(tab, "SERVER_PORT", "1", err, sizeof(err)), 0);
	assert_int_equal(port, 1);
	assert_int_equal(cfg_set(tab, "SERVER_PORT", "65535", err,
	    sizeof(err)), 0);
	assert_int_equal(port, 65535);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cfg_set(tab, "SERVER_PORT", bad[i], err,
		    sizeof(err)), -1);
		assert_string_equal(err,
		    "SERVER_PORT: not an integer in 1..65535");
		assert_int_equal(port, 65535);
	}
}

static void
test_unknown_key(void **state)
{
	(void)state;
	assert_int_equal(cfg_set(tab, "FOO", "1", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown key FOO");
}

static void
test_string(void **state)
{
	(void)state;
	assert_int_equal(cfg_set(tab, "SERVER_IP", "10.0.0.1", err,
	    sizeof(err)), 0);
	assert_string_equal(host, "10.0.0.1");
	assert_int_equal(cfg_set(tab, "SERVER_IP", "", err, sizeof(err)), -1);
	assert_string_equal(err, "SERVER_IP: empty");
	/* 15 bytes fit a 16-byte field; 16 do not. */
	assert_int_equal(cfg_set(tab, "SERVER_IP", "123456789012345", err,
	    sizeof(err)), 0);
	assert_int_equal(cfg_set(tab, "SERVER_IP", "1234567890123456", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "SERVER_IP: longer than 15 bytes");
}

static void
test_level(void **state)
{
	(void)state;
	assert_int_equal(cfg_set(tab, "LOGGING_LEVEL", "debug", err,
	    sizeof(err)), 0);
	assert_int_equal(level, LOG_LVL_DEBUG);
	assert_int_equal(cfg_set(tab, "LOGGING_LEVEL", "WARN", err,
	    sizeof(err)), 0);
	assert_int_equal(level, LOG_LVL_WARNING);
	assert_int_equal(cfg_set(tab, "LOGGING_LEVEL", "LOUD", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "LOGGING_LEVEL: unknown level 'LOUD'");
}

static void
test_duration(void **state)
{
	const char	*bad[] = { "2h", "ms", "", "1.5s", "-1s", "0", "0ms",
	    "601s", "11m", "1 s", "s1", "99999999999999m", "+1s",
	    "99999999999999999999999ms" };
	size_t		 i;

	(void)state;
	assert_int_equal(cfg_set(tab, "CONN_TIMEOUT", "250ms", err,
	    sizeof(err)), 0);
	assert_int_equal(timeout_ms, 250);
	assert_int_equal(cfg_set(tab, "CONN_TIMEOUT", "2s", err, sizeof(err)),
	    0);
	assert_int_equal(timeout_ms, 2000);
	assert_int_equal(cfg_set(tab, "CONN_TIMEOUT", "1m", err, sizeof(err)),
	    0);
	assert_int_equal(timeout_ms, 60000);
	assert_int_equal(cfg_set(tab, "CONN_TIMEOUT", "7", err, sizeof(err)),
	    0);
	assert_int_equal(timeout_ms, 7);
	assert_int_equal(cfg_set(tab, "CONN_TIMEOUT", "10m", err, sizeof(err)),
	    0);
	assert_int_equal(timeout_ms, 600000);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cfg_set(tab, "CONN_TIMEOUT", bad[i], err,
		    sizeof(err)), -1);
		assert_string_equal(err,
		    "CONN_TIMEOUT: not a duration in 1ms..600000ms");
	}
	assert_int_equal(timeout_ms, 600000);
}

static void
test_env(void **state)
{
	(void)state;
	assert_int_equal(cfg_set(tab, "id", "4", err, sizeof(err)), 0);
	assert_int_equal(cfg_set(tab, "SERVER_PORT", "2000", err,
	    sizeof(err)), 0);
	setenv("T_PORT", "999", 1);
	setenv("T_TIMEOUT", "2s", 1);
	setenv("T_IP", "", 1);		/* empty: ignored */
	assert_int_equal(cfg_env(tab, err, sizeof(err)), 0);
	assert_int_equal(port, 999);
	assert_int_equal(timeout_ms, 2000);
	assert_string_equal(host, "0.0.0.0");
	/* A bad env value is reported under the variable's name. */
	setenv("T_LEVEL", "LOUD", 1);
	assert_int_equal(cfg_env(tab, err, sizeof(err)), -1);
	assert_string_equal(err, "T_LEVEL: unknown level 'LOUD'");
	unsetenv("T_LEVEL");
	/* The env alone can provide a required key. */
	cfg_defaults(tab);
	setenv("T_ID", "9", 1);
	assert_int_equal(cfg_env(tab, err, sizeof(err)), 0);
	assert_int_equal(id, 9);
	setenv("T_ID", "0", 1);
	assert_int_equal(cfg_env(tab, err, sizeof(err)), -1);
	assert_string_equal(err, "T_ID: not an integer in 1..1000");
}

static void
test_log(void **state)
{
	char	 out[2048];
	FILE	*f;
	int	 saved;
	size_t	 n;

	(void)state;
	assert_int_equal(cfg_set(tab, "id", "4", err, sizeof(err)), 0);
	assert_int_equal(cfg_set(tab, "CONN_TIMEOUT", "250ms", err,
	    sizeof(err)), 0);
	log_set_level(LOG_LVL_INFO);
	fflush(stdout);
	f = tmpfile();
	assert_non_null(f);
	saved = dup(1);
	assert_true(dup2(fileno(f), 1) == 1);
	cfg_log(tab);
	assert_true(dup2(saved, 1) == 1);
	close(saved);
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	assert_non_null(strstr(out, " INFO action: config | result: success | "
	    "SERVER_PORT: 12345 | SERVER_IP: 0.0.0.0 | LOGGING_LEVEL: INFO | "
	    "CONN_TIMEOUT: 250ms | id: 4\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, setup),
		cmocka_unit_test_setup(test_int_bounds, setup),
		cmocka_unit_test_setup(test_unknown_key, setup),
		cmocka_unit_test_setup(test_string, setup),
		cmocka_unit_test_setup(test_level, setup),
		cmocka_unit_test_setup(test_duration, setup),
		cmocka_unit_test_setup(test_env, setup),
		cmocka_unit_test_setup(test_log, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
