/*
 * client: one agency's uploader.  Reads the configuration, picks the mode
 * (one bet from the environment, or the agency's whole file), runs it and
 * turns the outcome into the exit status: 0 when everything is done, 1 when
 * something failed or a row of the file was rejected, 3 when SIGTERM or
 * SIGINT stopped it cleanly before it was done (a rerun resumes from what
 * the server already holds).  A bad configuration exits 1 before any of it.
 */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agency.h"
#include "bet.h"
#include "config.h"
#include "io.h"
#include "log.h"
#include "sig.h"
#include "upload.h"

/* The CSV reader and frame buffers are large: static, not stack. */
static struct client_conf	 conf;
static struct agency_file	 file;
static struct upload		 up;

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: %s [-c config.yaml]\n", getprogname());
	exit(2);
}

static __attribute__((noreturn)) void
client_exit(int code)
{
	if (code == 0)
		log_info("exit", "success", "code: %d", code);
	else
		log_warn("exit", "fail", "code: %d", code);
	exit(code);
}

#define EXIT_STOPPED	3	/* stopped before the agency was done */

/* Orderly stop: close what is open, exit with code. */
static __attribute__((noreturn)) void
client_shutdown(int code)
{
	log_info("shutdown", "in_progress", "");
	if (upload_close(&up))
		log_info("close_socket", "success", "");
	if (file.fd != -1) {
		agency_close(&file);
		log_info("close_file", "success", "");
	}
	log_info("shutdown", "success", "");
	client_exit(code);
}

/*
 * Single-bet mode is chosen when all five variables are set.  Returns 1
 * and fills b (or exits on an invalid bet), 0 when the mode is off.
 */
static int
single_bet(struct bet *b)
{
	static const char *const names[BET_NFIELDS] = {
		"NOMBRE", "APELLIDO", "DOCUMENTO", "NACIMIENTO", "NUMERO"
	};
	char	*f[BET_NFIELDS], why[128];
	int	 i;

	for (i = 0; i < BET_NFIELDS; i++)
		if ((f[i] = getenv(names[i])) == NULL)
			return 0;
	if (bet_from_fields(b, conf.id, f, why, sizeof(why)) == -1) {
		log_error("apuesta_enviada", "fail", "motivo: %s", why);
		client_exit(1);
	}
	return 1;
}

int
main(int argc, char *argv[])
{
	const char		*path = "config.yaml";
	struct bet		 b;
	char			 why[1024];
	enum upload_result	 r;
	int			 ch, code;

	while ((ch = getopt(argc, argv, "c:h")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (config_load(&conf, path, why, sizeof(why)) == -1)
		errx(1, "%s", why);
	if (sig_install() == -1)
		err(1, "sigaction");
	log_set_level(conf.level);
	config_log();
	file.fd = -1;

	if (single_bet(&b)) {
		upload_init(&up, &conf, NULL, &sig_stop);
		r = upload_single(&up, &b);
		if (r == UPLOAD_STOPPED)
			client_shutdown(EXIT_STOPPED);
		upload_close(&up);
		client_exit(r == UPLOAD_DONE ? 0 : 1);
	}

	if (agency_open(&file, conf.data_dir, conf.id, why,
	    sizeof(why)) == -1) {
		log_error("abrir_archivo", "fail", "error: %s", why);
		client_exit(1);
	}
	upload_init(&up, &conf, &file, &sig_stop);
	r = upload_run(&up);
	if (r == UPLOAD_STOPPED)
		client_shutdown(EXIT_STOPPED);
	/* A stop that came after the end changes nothing. */
	code = r != UPLOAD_DONE || file.rejected > 0 ? 1 : 0;
	if (sig_stopped(&sig_stop))
		client_shutdown(code);
	upload_close(&up);
	agency_close(&file);
	client_exit(code);
}
