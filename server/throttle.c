/*
 * throttle: a small table of (address, agency) pairs and of addresses,
 * with their failure counts, under one mutex.  An address's own entry
 * (agency 0, which no agency has) remembers the first THROTTLE_SPREAD
 * agencies that failed from it and counts failures only once that many
 * did.  When the table is full the entry whose last failure is oldest
 * makes room: an attacker cycling through many addresses can push an
 * entry out, but each address still starts with only THROTTLE_FREE tries.
 */
#include <netinet/in.h>

#include <pthread.h>
#include <string.h>

#include "throttle.h"

#define THROTTLE_ADDRESS	0	/* the agency of an address's entry */

struct throttle_entry {
	char		 host[INET6_ADDRSTRLEN];
	uint32_t	 agency;	/* THROTTLE_ADDRESS: the address */
	unsigned	 fails;
	long long	 last;		/* the last failure */
	long long	 until;		/* no handshake before this */
	int		 noted;		/* the wait was reported */
	unsigned	 nspread;	/* address: agencies in spread[] */
	uint32_t	 spread[THROTTLE_SPREAD];
};

static struct throttle_entry	throttle_tab[THROTTLE_SLOTS];
static pthread_mutex_t		throttle_mu = PTHREAD_MUTEX_INITIALIZER;

/* The entry of (host, agency), or NULL.  Stale entries go on the way. */
static struct throttle_entry *
throttle_find(const char *host, uint32_t agency, long long now)
{
	struct throttle_entry	*e;

	for (size_t i = 0; i < THROTTLE_SLOTS; i++) {
		e = &throttle_tab[i];
		if (e->host[0] != '\0' && now - e->last > THROTTLE_FORGET_MS)
			memset(e, 0, sizeof(*e));
		if (e->host[0] != '\0' && e->agency == agency &&
		    strcmp(e->host, host) == 0)
			return e;
	}
	return NULL;
}

/* The entry of (host, agency), made from a free or the oldest one. */
static struct throttle_entry *
throttle_get(const char *host, uint32_t agency, long long now)
{
	struct throttle_entry	*e, *old = &throttle_tab[0];

	if ((e = throttle_find(host, agency, now)) != NULL)
		return e;
	for (size_t i = 0; i < THROTTLE_SLOTS; i++) {
		e = &throttle_tab[i];
		if (e->host[0] == '\0') {
			old = e;
			break;
		}
		if (e->last < old->last)
			old = e;
	}
	memset(old, 0, sizeof(*old));
	strlcpy(old->host, host, sizeof(old->host));
	old->agency = agency;
	return old;
}

/* How long e still makes its peer wait; marks the wait reported. */
static long long
throttle_left(struct throttle_entry *e, long long now, int *first)
{
	if (e == NULL || e->until <= now)
		return 0;
	if (!e->noted)
		*first = 1;
	e->noted = 1;
	return e->until - now;
}

long long
throttle_wait(const char *host, uint32_t agency, long long now, int *first)
{
	long long	 pair, addr;

	*first = 0;
	pthread_mutex_lock(&throttle_mu);
	pair = throttle_left(throttle_find(host, agency, now), now, first);
	addr = throttle_left(throttle_find(host, THROTTLE_ADDRESS, now), now,
	    first);
	pthread_mutex_unlock(&throttle_mu);
	return pair > addr ? pair : addr;
}

/* One more failure on e: past THROTTLE_FREE, a doubling wait. */
static void
throttle_count(struct throttle_entry *e, long long now)
{
	long long	 wait = THROTTLE_BASE_MS;
	unsigned	 k;

	e->fails++;
	e->last = now;
	if (e->fails <= THROTTLE_FREE)
		return;
	for (k = THROTTLE_FREE + 1; k < e->fails && wait < THROTTLE_MAX_MS; k++)
		wait *= 2;
	e->until = now + (wait < THROTTLE_MAX_MS ? wait : THROTTLE_MAX_MS);
	e->noted = 0;
}

/*
 * Note agency among the address's failing agencies.  1 when the address
 * has seen THROTTLE_SPREAD distinct ones, so its failures count.
 */
static int
throttle_spread(struct throttle_entry *a, uint32_t agency, long long now)
{
	unsigned	 i;

	a->last = now;
	for (i = 0; i < a->nspread; i++)
		if (a->spread[i] == agency)
			break;
	if (i == a->nspread && a->nspread < THROTTLE_SPREAD)
		a->spread[a->nspread++] = agency;
	return a->nspread == THROTTLE_SPREAD;
}

void
throttle_fail(const char *host, uint32_t agency, long long now)
{
	struct throttle_entry	*a;

	pthread_mutex_lock(&throttle_mu);
	throttle_count(throttle_get(host, agency, now), now);
	a = throttle_get(host, THROTTLE_ADDRESS, now);
	if (throttle_spread(a, agency, now))
		throttle_count(a, now);
	pthread_mutex_unlock(&throttle_mu);
}

void
throttle_reset(void)
{
	pthread_mutex_lock(&throttle_mu);
	memset(throttle_tab, 0, sizeof(throttle_tab));
	pthread_mutex_unlock(&throttle_mu);
}
