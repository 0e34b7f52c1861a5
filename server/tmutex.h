/*
 * tmutex: a mutex whose wait has a deadline on the monotonic clock (the
 * io_now_ms() clock), so LOCK_TIMEOUT bounds it whatever the wall clock
 * does.  It is built from a plain mutex, a condition variable and a flag
 * rather than pthread_mutex_clocklock, which ThreadSanitizer does not
 * follow: a race detector sees every hand-over of a tmutex as it sees a
 * pthread mutex's, so what the tmutex guards is checked like the rest.
 * Not recursive; unlocked only by its holder.
 */
#ifndef TMUTEX_H
#define TMUTEX_H

#include <pthread.h>

struct tmutex {
	pthread_mutex_t	 mu;		/* guards held and waiters */
	pthread_cond_t	 cv;		/* held went to 0 */
	int		 held;
	int		 waiters;	/* threads in the wait on cv */
};

/* 0, or -1 with errno. */
int	 tmutex_init(struct tmutex *);
void	 tmutex_destroy(struct tmutex *);
/*
 * Take t, waiting until deadline (io_now_ms() time) at most: 0, or -1
 * with errno ETIMEDOUT when another thread held it throughout.
 */
int	 tmutex_lock_until(struct tmutex *, long long deadline);
/* Take t, however long it takes. */
void	 tmutex_lock(struct tmutex *);
void	 tmutex_unlock(struct tmutex *);

#endif
