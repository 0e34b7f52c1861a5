/*
 * metrics: the replica's counters and gauges, and their text in the
 * Prometheus exposition format.  Every value is a 64-bit integer changed
 * with a relaxed atomic add by the thread that does the work, so the bet
 * path never takes a lock or waits for a reader; metrics_write (the HTTP
 * thread, metrics_http.c) only loads them.  A scrape may see one counter
 * of a group commit bumped and the next not yet: each value is exact, the
 * set is not a snapshot, as with any Prometheus client.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdint.h>
#include <stdio.h>

/* Histogram bucket bounds, in the unit each histogram counts in. */
#define METRICS_GROUP_BUCKETS	9	/* 1 2 4 ... 256 batches */
#define METRICS_SYNC_BUCKETS	12	/* 50us ... 1s */

struct metrics_hist {
	uint64_t	 bucket[METRICS_SYNC_BUCKETS + 1]; /* not cumulative;
							      last: +Inf */
	uint64_t	 count;
	uint64_t	 sum;		/* group: batches; sync: nanoseconds */
};

/* Why a handshake (AuthHello/AuthProof) was refused. */
enum metrics_hs {
	METRICS_HS_REVOKED,		/* the agency's key was revoked */
	METRICS_HS_UNKNOWN_AGENCY,	/* no key for the agency */
	METRICS_HS_BAD_PROOF,		/* the proof did not verify */
	METRICS_HS_OUT_OF_ORDER,	/* proof without hello, hello twice */
	METRICS_HS_NOT_CONFIGURED,	/* a hello to a replica without keys */
	METRICS_HS_THROTTLED,		/* the address failed too often */
	METRICS_HS_TIMEOUT,		/* no handshake by the deadline */
	METRICS_HS_MAX
};

/* A connection's state, for the connection gauges. */
enum metrics_conn {
	METRICS_CONN_HANDSHAKE,		/* accepted, not yet authenticated */
	METRICS_CONN_AUTHENTICATED,	/* serving requests */
	METRICS_CONN_DRAW_WAIT,		/* parked in a WinnersWait */
	METRICS_CONN_MAX
};

/* Outcome of one batch, as the store decides it. */
enum metrics_batch {
	METRICS_BATCH_OK,
	METRICS_BATCH_DUPLICATE,
	METRICS_BATCH_CLOSED,
	METRICS_BATCH_GAP,
	METRICS_BATCH_BUSY,
	METRICS_BATCH_ERROR,
	METRICS_BATCH_MAX
};

struct metrics {
	uint32_t		 agencies;
	uint64_t		*stored;	/* [agencies + 1] bets written */
	uint64_t		*refused;	/* [agencies + 1] bets refused */
	uint64_t		 batches[METRICS_BATCH_MAX];
	uint64_t		 groups;	/* group commits led */
	struct metrics_hist	 group_size;	/* batches per group */
	struct metrics_hist	 sync;		/* fdatasync latency */
	uint64_t		 lock_waits;	/* an OFD lock was not free */
	uint64_t		 lock_timeouts;	/* ...nor had by the deadline */
	uint64_t		 conns[METRICS_CONN_MAX]; /* gauges */
	uint64_t		 hs_fail[METRICS_HS_MAX];
	uint64_t		 closed;	/* gauge: agencies closed */
	uint64_t		 drawn;		/* gauge: 0 or 1 */
	uint64_t		 draw_time;	/* wall clock seconds, or 0 */
	long long		 start_ms;	/* wall clock at metrics_init */
	long long		 start_mono_ms;	/* io_now_ms at metrics_init */
};

extern struct metrics metrics;

/*
 * Size the per-agency counters (agencies 1..n) and note the start time.
 * Call once before any other thread starts.  0, or -1 (out of memory).
 */
int	 metrics_init(uint32_t agencies);
void	 metrics_free(void);
/* Write every metric with HELP and TYPE to fp.  0, or -1 on a write error. */
int	 metrics_write(FILE *fp);

/* Monotonic nanoseconds, for the latency histograms. */
uint64_t metrics_now_ns(void);
void	 metrics_hist_add(struct metrics_hist *, const uint64_t *bounds,
	    int nbounds, uint64_t v);
extern const uint64_t metrics_group_bounds[METRICS_GROUP_BUCKETS];
extern const uint64_t metrics_sync_bounds_ns[METRICS_SYNC_BUCKETS];

static inline void
metrics_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static inline void
metrics_set(uint64_t *g, uint64_t v)
{
	__atomic_store_n(g, v, __ATOMIC_RELAXED);
}

/* Agencies outside 1..n (a bad request) count under no agency. */
static inline void
metrics_bets_stored(uint32_t agency, uint64_t n)
{
	if (metrics.stored != NULL && agency >= 1 && agency <= metrics.agencies)
		metrics_add(&metrics.stored[agency], n);
}

static inline void
metrics_bets_refused(uint32_t agency, uint64_t n)
{
	if (metrics.refused != NULL && agency >= 1 &&
	    agency <= metrics.agencies)
		metrics_add(&metrics.refused[agency], n);
}

static inline void
metrics_batch(enum metrics_batch b)
{
	metrics_add(&metrics.batches[b], 1);
}

static inline void
metrics_group(uint64_t batches)
{
	metrics_add(&metrics.groups, 1);
	metrics_hist_add(&metrics.group_size, metrics_group_bounds,
	    METRICS_GROUP_BUCKETS, batches);
}

static inline void
metrics_sync(uint64_t ns)
{
	metrics_hist_add(&metrics.sync, metrics_sync_bounds_ns,
	    METRICS_SYNC_BUCKETS, ns);
}

static inline void
metrics_lock_wait(void)
{
	metrics_add(&metrics.lock_waits, 1);
}

static inline void
metrics_lock_timeout(void)
{
	metrics_add(&metrics.lock_timeouts, 1);
}

static inline void
metrics_conn_enter(enum metrics_conn c)
{
	metrics_add(&metrics.conns[c], 1);
}

/* Gauges go down by adding the two's complement: still one atomic add. */
static inline void
metrics_conn_leave(enum metrics_conn c)
{
	metrics_add(&metrics.conns[c], (uint64_t)-1);
}

static inline void
metrics_handshake_fail(enum metrics_hs why)
{
	metrics_add(&metrics.hs_fail[why], 1);
}

static inline void
metrics_closed_set(uint64_t n)
{
	metrics_set(&metrics.closed, n);
}

/* The draw was seen (at wall clock seconds t) or forgotten (a new lottery). */
static inline void
metrics_drawn_set(int drawn, uint64_t t)
{
	if (!drawn || __atomic_load_n(&metrics.drawn, __ATOMIC_RELAXED) == 0)
		metrics_set(&metrics.draw_time, drawn ? t : 0);
	metrics_set(&metrics.drawn, drawn ? 1 : 0);
}

#endif
