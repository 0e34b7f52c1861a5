/*
 * throttle: a small table of addresses with their failure counts, under
 * one mutex.  When it is full the address whose last failure is oldest
 * makes room: an attacker cycling through many addresses can push an
 * entry out, but each address still starts with only THROTTLE_FREE tries.
 */
#include <netinet/in.h>

#include <pthread.h>
#include <string.h>

#include "throttle.h"

struct throttle_entry {
	char		 host[INET6_ADDRSTRLEN];
	unsigned	 fails;
	long long	 last;		/* the last failure */
	long long	 until;		/* no handshake before this */
	int		 noted;		/* the wait was reported */
};

static struct throttle_entry	throttle_tab[THROTTLE_SLOTS];
static pthread_mutex_t		throttle_mu = PTHREAD_MUTEX_INITIALIZER;

/* host's entry, or NULL.  Stale entries are forgotten on the way. */
static struct throttle_entry *
throttle_find(const char *host, long long now)
{
	struct throttle_entry	*e;

	for (size_t i = 0; i < THROTTLE_SLOTS; i++) {
		e = &throttle_tab[i];
		if (e->host[0] != '\0' && now - e->last > THROTTLE_FORGET_MS)
			memset(e, 0, sizeof(*e));
		if (e->host[0] != '\0' && strcmp(e->host, host) == 0)
			return e;
	}
	return NULL;
}

/* A free entry, or the one whose last failure is oldest, for host. */
static struct throttle_entry *
throttle_take(const char *host)
{
	struct throttle_entry	*e, *old = &throttle_tab[0];

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
	return old;
}

long long
throttle_wait(const char *host, long long now, int *first)
{
	struct throttle_entry	*e;
	long long		 left = 0;

	*first = 0;
	pthread_mutex_lock(&throttle_mu);
	if ((e = throttle_find(host, now)) != NULL && e->until > now) {
		left = e->until - now;
		*first = !e->noted;
		e->noted = 1;
	}
	pthread_mutex_unlock(&throttle_mu);
	return left;
}

void
throttle_fail(const char *host, long long now)
{
	struct throttle_entry	*e;
	long long		 wait = THROTTLE_BASE_MS;
	unsigned		 k;

	pthread_mutex_lock(&throttle_mu);
	if ((e = throttle_find(host, now)) == NULL)
		e = throttle_take(host);
	e->fails++;
	e->last = now;
	if (e->fails > THROTTLE_FREE) {
		for (k = THROTTLE_FREE + 1; k < e->fails &&
		    wait < THROTTLE_MAX_MS; k++)
			wait *= 2;
		e->until = now + (wait < THROTTLE_MAX_MS ? wait :
		    THROTTLE_MAX_MS);
		e->noted = 0;
	}
	pthread_mutex_unlock(&throttle_mu);
}
