/*
 * page: the monitor's status page and its JSON, from one snapshot of the
 * tally (state directory), the replicas' scrapes and the run's history.
 * Counts only: no document number and no name ever reaches a page.
 */
#ifndef PAGE_H
#define PAGE_H

#include <stdio.h>
#include <time.h>

#include "scrape.h"
#include "tally.h"

#define PAGE_HISTORY	600	/* points of the throughput chart */

struct page_history {
	double	 t[PAGE_HISTORY];	/* seconds since the monitor started */
	double	 stored[PAGE_HISTORY];	/* bets in bets.csv then */
	int	 n;
};

/* Add a point; when full, every other point goes (the run, coarser). */
void	 page_history_add(struct page_history *, double t, double stored);
/* The live part of the page (everything under <main>).  0 or -1. */
int	 page_fragment(FILE *, const struct tally *, const struct scrape *,
	    const struct page_history *, time_t now);
/* The whole page: head, inline style and script, and the fragment. */
int	 page_html(FILE *, const char *fragment, int refresh_ms);
/* The same figures as JSON.  0 or -1. */
int	 page_json(FILE *, const struct tally *, const struct scrape *,
	    const struct page_history *, time_t now);

#endif
