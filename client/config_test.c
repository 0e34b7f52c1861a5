/*
 * config_test: the YAML loader against small files written to a temporary
 * directory: a full good file, a bad value, an unknown key, a syntax error,
 * a missing required key and an environment override.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static const char *const envs[] = {
	"CLI_ID", "CLI_SERVER_ADDRESS", "CLI_BATCH_MAXAMOUNT",
	"CLI_RETRY_SLEEP", "CLI_RETRY_SLEEP_MAX", "CLI_RETRY_MAX",
	"CLI_TIMEOUT", "CLI_LOG_LEVEL", "CLI_DATA_DIR", "CLI_KEY_FILE",
	"CLI_PROTOCOL", NULL
};

static char	 dir[] = "/tmp/config_test.XXXXXX";
static char	 path[256];
static struct client_conf conf;

/* Write text as the test's config file. */
static void
write_yaml(const char *text)
{
	FILE	*fp;

	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int
setup(void **state)
{
	int	 i;

	(void)state;
	for (i = 0; envs[i] != NULL; i++)
		unsetenv(envs[i]);
	return 0;
}

static void
test_good(void **state)
{
	char	 err[512];

	(void)state;
	write_yaml("id: 3\n"
	    "server:\n  address: \"localhost:4000\"\n"
	    "batch:\n  maxAmount: 42\n"
	    "retry_sleep: 250ms\nretry_sleep_max: 2s\nretry_max: 7\n"
	    "timeout: 1m\n"
	    "log:\n  level: DEBUG\n"
	    "data:\n  dir: /tmp/agency data\n");
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), 0);
	assert_int_equal(conf.id, 3);
	assert_string_equal(conf.address, "localhost:4000");
	assert_int_equal(conf.max_amount, 42);
	assert_int_equal(conf.retry_ms, 250);
	assert_int_equal(conf.retry_max_ms, 2000);
	assert_int_equal(conf.retry_max, 7);
	assert_int_equal(conf.timeout_ms, 60000);
	assert_int_equal(conf.level, LOG_LVL_DEBUG);
	assert_string_equal(conf.data_dir, "/tmp/agency data");
}

static void
test_defaults(void **state)
{
	char	 err[512];

	(void)state;
	write_yaml("id: 1\n");
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), 0);
	assert_string_equal(conf.address, "server:12345");
	assert_int_equal(conf.max_amount, 100);
	assert_int_equal(conf.retry_ms, 100);
	assert_int_equal(conf.retry_max_ms, 5000);
	assert_int_equal(conf.retry_max, 30);
	assert_int_equal(conf.timeout_ms, 10000);
	assert_int_equal(conf.level, LOG_LVL_INFO);
}

static void
test_bad_value(void **state)
{
	char	 err[512], want[300];

	(void)state;
	write_yaml("id: 1\nbatch:\n  maxAmount: lots\n");
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: batch.maxAmount", path);
	assert_non_null(strstr(err, want));
}

static void
test_bad_duration(void **state)
{
	char	 err[512];

	(void)state;
	write_yaml("id: 1\ntimeout: 10 parsecs\n");
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: timeout"));
}

static void
test_unknown_key(void **state)
{
	char	 err[512];

	(void)state;
	write_yaml("id: 1\nserver:\n  adress: \"x:1\"\n");
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":3: "));
	assert_non_null(strstr(err, "server.adress"));
}

static void
test_syntax_error(void **state)
{
	char	 err[512], want[300];

	(void)state;
	write_yaml("id: 1\nserver:\n  address: \"unterminated\n");
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:", path);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "syntax"));

	write_yaml("id: 1\n- a\n");
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: yaml syntax error"));
}

static void
test_not_mapping(void **state)
{
	char	 err[512];

	(void)state;
	write_yaml("id:\n  - 1\n  - 2\n");
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: id"));
	write_yaml("just a scalar\n");
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), -1);
}

static void
test_missing_required(void **state)
{
	char	 err[512];

	(void)state;
	write_yaml("batch:\n  maxAmount: 5\n");
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "id"));
}

static void
test_missing_file(void **state)
{
	char	 err[512];

	(void)state;
	assert_int_equal(config_load(&conf, "/nonexistent/c.yaml", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/c.yaml"));
}

static void
test_env_override(void **state)
{
	char	 err[512];

	(void)state;
	write_yaml("id: 1\nbatch:\n  maxAmount: 42\n");
	setenv("CLI_BATCH_MAXAMOUNT", "7", 1);
	setenv("CLI_ID", "4", 1);
	setenv("CLI_RETRY_SLEEP", "2s", 1);
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), 0);
	assert_int_equal(conf.max_amount, 7);
	assert_int_equal(conf.id, 4);
	assert_int_equal(conf.retry_ms, 2000);

	setenv("CLI_BATCH_MAXAMOUNT", "0", 1);
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CLI_BATCH_MAXAMOUNT"));
}

/*
 * key_file: none by default; a good one is read; a missing one, or one
 * with the base protocol (which has no handshake), fails the load.
 */
static void
test_key_file(void **state)
{
	char	 err[512], kpath[300];
	FILE	*fp;

	(void)state;
	write_yaml("id: 1\n");
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), 0);
	assert_int_equal(conf.has_key, 0);
	snprintf(kpath, sizeof(kpath), "%s/key", dir);
	assert_non_null(fp = fopen(kpath, "w"));
	fputs("0102030405060708091011121314151617181920212223242526272829303132"
	    "\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(kpath, 0600), 0);
	setenv("CLI_KEY_FILE", kpath, 1);
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), 0);
	assert_int_equal(conf.has_key, 1);
	assert_int_equal(conf.key[0], 0x01);
	assert_int_equal(conf.key[31], 0x32);
	setenv("CLI_PROTOCOL", "base", 1);
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key_file: the base protocol has no "
	    "authentication"));
	unsetenv("CLI_PROTOCOL");
	unlink(kpath);
	assert_int_equal(config_load(&conf, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key_file: "));
	assert_non_null(strstr(err, "No such file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_good, setup),
		cmocka_unit_test_setup(test_defaults, setup),
		cmocka_unit_test_setup(test_bad_value, setup),
		cmocka_unit_test_setup(test_bad_duration, setup),
		cmocka_unit_test_setup(test_unknown_key, setup),
		cmocka_unit_test_setup(test_syntax_error, setup),
		cmocka_unit_test_setup(test_not_mapping, setup),
		cmocka_unit_test_setup(test_missing_required, setup),
		cmocka_unit_test_setup(test_missing_file, setup),
		cmocka_unit_test_setup(test_env_override, setup),
		cmocka_unit_test_setup(test_key_file, setup),
	};
	int	 rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/config.yaml", dir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	rmdir(dir);
	return rc;
}
