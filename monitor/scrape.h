/*
 * scrape: the monitor's view of the replicas.  Each target "name:port"
 * is resolved to every address it has (the Compose and Swarm alias
 * `server` names every replica), and each address's /metrics is fetched
 * (libcurl) and the few figures the page shows are picked out of it.
 */
#ifndef SCRAPE_H
#define SCRAPE_H

#include <stdint.h>

#define SCRAPE_MAX	64	/* replicas remembered */

struct scrape_replica {
	char		 addr[80];	/* "ip:port" of its /metrics */
	int		 alive;		/* answered the last scrape */
	int		 seen;		/* resolved at the last look */
	double		 stored;	/* lottery_bets_stored_total, summed */
	double		 rate;		/* bets per second since the last */
	double		 conns;		/* lottery_connections, summed */
	double		 sync_sum, sync_count;	/* lottery_fdatasync_seconds */
	double		 sync_ms;	/* mean over the last interval, or
					   over the run when none synced */
	double		 uptime;
	double		 rss;
	double		 draw_done, draw_time;
	long long	 at_ms;		/* when scraped (monotonic) */
};

struct scrape {
	char			 targets[1024];
	struct scrape_replica	 r[SCRAPE_MAX];
	int			 n;
	char			 err[384];	/* the last resolve error */
};

/* 0, or -1 when libcurl cannot start. */
int	 scrape_init(struct scrape *, const char *targets);
void	 scrape_free(struct scrape *);
/* Resolve the targets again and scrape every address (timeout_ms each). */
void	 scrape_all(struct scrape *, long timeout_ms);
/*
 * Pick the figures out of an exposition text into r (the parse the tests
 * check).  Returns the number of samples read.
 */
int	 scrape_parse(const char *text, struct scrape_replica *r);

#endif
