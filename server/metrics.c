/*
 * metrics: owns the replica's counters (see metrics.h) and writes them in
 * the Prometheus text exposition format, version 0.0.4: each family's
 * "# HELP" and "# TYPE" lines, then its samples.  Names carry the
 * lottery_ prefix, counters end in _total, durations are in seconds and
 * sizes in bytes.  The process figures (RSS, descriptors) are read from
 * /proc when written, on the reader's thread.
 */
#include <sys/types.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "metrics.h"

struct metrics metrics;

const uint64_t metrics_group_bounds[METRICS_GROUP_BUCKETS] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256
};
const uint64_t metrics_sync_bounds_ns[METRICS_SYNC_BUCKETS] = {
	50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
	10000000, 25000000, 100000000, 250000000, 1000000000
};

static const char *const batch_names[METRICS_BATCH_MAX] = {
	"stored", "duplicate", "closed", "gap", "busy", "error"
};
static const char *const conn_names[METRICS_CONN_MAX] = {
	"handshake", "authenticated", "draw_wait"
};
static const char *const hs_names[METRICS_HS_MAX] = {
	"revoked", "unknown_agency", "bad_proof", "out_of_order", "not_configured", "throttled",
	"timeout"
};

static long long
metrics_wall_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t
metrics_now_ns(void)
{
	struct timespec	ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
metrics_init(uint32_t agencies)
{
	metrics_free();
	memset(&metrics, 0, sizeof(metrics));
	if ((metrics.stored = calloc((size_t)agencies + 1,
	    sizeof(uint64_t))) == NULL ||
	    (metrics.refused = calloc((size_t)agencies + 1,
	    sizeof(uint64_t))) == NULL) {
		metrics_free();
		return -1;
	}
	metrics.agencies = agencies;
	metrics.start_ms = metrics_wall_ms();
	metrics.start_mono_ms = io_now_ms();
	return 0;
}

void
metrics_free(void)
{
	free(metrics.stored);
	free(metrics.refused);
	metrics.stored = metrics.refused = NULL;
	metrics.agencies = 0;
}

void
metrics_hist_add(struct metrics_hist *h, const uint64_t *bounds, int nbounds,
    uint64_t v)
{
	int	i;

	for (i = 0; i < nbounds && v > bounds[i]; i++)
		;
	metrics_add(&h->bucket[i], 1);
	metrics_add(&h->sum, v);
	metrics_add(&h->count, 1);
}

static uint64_t
metrics_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* The two comment lines that open a family. */
static void
metrics_family(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_one(FILE *fp, const char *name, const char *type, const char *help,
    uint64_t v)
{
	metrics_family(fp, name, type, help);
	fprintf(fp, "%s %llu\n", name, (unsigned long long)v);
}

/*
 * A histogram: cumulative buckets up to +Inf, then _sum and _count.
 * div turns the counted unit into the exposed one (1e9: ns to seconds).
 */
static void
metrics_hist_write(FILE *fp, const char *name, const char *help,
    const struct metrics_hist *h, const uint64_t *bounds, int nbounds,
    double div)
{
	uint64_t	cum = 0;

	metrics_family(fp, name, "histogram", help);
	for (int i = 0; i < nbounds; i++) {
		cum += metrics_get(&h->bucket[i]);
		fprintf(fp, "%s_bucket{le=\"%g\"} %llu\n", name,
		    (double)bounds[i] / div, (unsigned long long)cum);
	}
	cum += metrics_get(&h->bucket[nbounds]);
	fprintf(fp, "%s_bucket{le=\"+Inf\"} %llu\n", name,
	    (unsigned long long)cum);
	fprintf(fp, "%s_sum %.9g\n", name, (double)metrics_get(&h->sum) / div);
	/* count is bumped last: never below the buckets' total. */
	fprintf(fp, "%s_count %llu\n", name, (unsigned long long)cum);
}

static void
metrics_agency_write(FILE *fp, const char *name, const char *help,
    const uint64_t *v)
{
	metrics_family(fp, name, "counter", help);
	for (uint32_t a = 1; a <= metrics.agencies; a++)
		fprintf(fp, "%s{agency=\"%u\"} %llu\n", name, a,
		    (unsigned long long)metrics_get(&v[a]));
}

/* Resident set size in bytes from /proc/self/statm, or 0. */
static uint64_t
metrics_rss(void)
{
	unsigned long long	size, res;
	long			page = sysconf(_SC_PAGESIZE);
	FILE			*fp;
	int			 n;

	if (page <= 0 || (fp = fopen("/proc/self/statm", "re")) == NULL)
		return 0;
	n = fscanf(fp, "%llu %llu", &size, &res);
	fclose(fp);
	return n == 2 ? res * (uint64_t)page : 0;
}

/* Open descriptors, from /proc/self/fd (less the directory's own), or 0. */
static uint64_t
metrics_fds(void)
{
	struct dirent	*de;
	DIR		*d;
	uint64_t	 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0;
}

static void
metrics_labelled(FILE *fp, const char *name, const char *type,
    const char *help, const char *label, const char *const *names,
    const uint64_t *v, int n)
{
	metrics_family(fp, name, type, help);
	for (int i = 0; i < n; i++)
		fprintf(fp, "%s{%s=\"%s\"} %llu\n", name, label, names[i],
		    (unsigned long long)metrics_get(&v[i]));
}

int
metrics_write(FILE *fp)
{
	long long	up = io_now_ms() - metrics.start_mono_ms;

	metrics_agency_write(fp, "lottery_bets_stored_total",
	    "Bets this replica wrote to bets.csv and synced, by agency.",
	    metrics.stored);
	metrics_agency_write(fp, "lottery_bets_refused_total",
	    "Bets of batches this replica refused (closed agency, gap, "
	    "lock timeout, error), by agency.", metrics.refused);
	metrics_labelled(fp, "lottery_batches_total", "counter",
	    "Batches through the group commit, by outcome.", "result",
	    batch_names, metrics.batches, METRICS_BATCH_MAX);
	metrics_one(fp, "lottery_group_commits_total", "counter",
	    "Group commits led: one lock acquisition and one write for every "
	    "batch queued.", metrics_get(&metrics.groups));
	metrics_hist_write(fp, "lottery_group_commit_batches",
	    "Batches per group commit.", &metrics.group_size,
	    metrics_group_bounds, METRICS_GROUP_BUCKETS, 1);
	metrics_hist_write(fp, "lottery_fdatasync_seconds",
	    "Time each fdatasync of a state file took.", &metrics.sync,
	    metrics_sync_bounds_ns, METRICS_SYNC_BUCKETS, 1e9);
	metrics_one(fp, "lottery_lock_waits_total", "counter",
	    "OFD lock requests that found the lock held and waited.",
	    metrics_get(&metrics.lock_waits));
	metrics_one(fp, "lottery_lock_timeouts_total", "counter",
	    "Lock waits that gave up at LOCK_TIMEOUT or on a stop.",
	    metrics_get(&metrics.lock_timeouts));
	metrics_labelled(fp, "lottery_connections", "gauge",
	    "Open connections, by state.", "state", conn_names,
	    metrics.conns, METRICS_CONN_MAX);
	metrics_labelled(fp, "lottery_handshake_failures_total", "counter",
	    "Handshakes refused, by reason.", "reason", hs_names,
	    metrics.hs_fail, METRICS_HS_MAX);
	metrics_one(fp, "lottery_agencies", "gauge",
	    "Agencies in this lottery (AGENCIES_AMOUNT).", metrics.agencies);
	metrics_one(fp, "lottery_agencies_closed", "gauge",
	    "Agencies closed, as this replica last read agencies_closed.txt.",
	    metrics_get(&metrics.closed));
	metrics_one(fp, "lottery_draw_done", "gauge",
	    "1 once every agency has closed and the draw happened, else 0.",
	    metrics_get(&metrics.drawn));
	metrics_one(fp, "lottery_draw_timestamp_seconds", "gauge",
	    "When this replica first saw the draw (Unix time), or 0.",
	    metrics_get(&metrics.draw_time));
	metrics_family(fp, "lottery_start_time_seconds", "gauge",
	    "When the replica started (Unix time).");
	fprintf(fp, "lottery_start_time_seconds %.3f\n",
	    (double)metrics.start_ms / 1000);
	metrics_family(fp, "lottery_uptime_seconds", "gauge",
	    "Seconds since the replica started.");
	fprintf(fp, "lottery_uptime_seconds %.3f\n", (double)up / 1000);
	metrics_one(fp, "lottery_resident_memory_bytes", "gauge",
	    "Resident set size of the replica.", metrics_rss());
	metrics_one(fp, "lottery_open_fds", "gauge",
	    "Open file descriptors of the replica.", metrics_fds());
	return ferror(fp) ? -1 : 0;
}
