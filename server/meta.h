/*
 * meta: the state directory's record of the cluster it belongs to.  The
 * first replica to start on a directory writes cluster.meta with its
 * AGENCIES_AMOUNT; every later replica must agree with it, so replicas
 * that disagree on when the draw happens cannot share one directory.
 */
#ifndef META_H
#define META_H

#include <stddef.h>
#include <stdint.h>

#define META_FILE	"cluster.meta"

/*
 * Record agencies in dir if nothing is recorded yet, else compare.
 * Returns 0, or -1 with a reason in err (naming both values when they
 * differ).
 */
int	 meta_check(const char *dir, uint32_t agencies, char *err,
	    size_t errlen);
/*
 * The same comparison without writing anything: 0 when dir records
 * agencies or records nothing yet (a directory that does not exist
 * records nothing), else -1 with the reason in err.  `server -n` uses it.
 */
int	 meta_peek(const char *dir, uint32_t agencies, char *err,
	    size_t errlen);
/* fsync the directory itself, so new names survive a crash.  0 or -1. */
int	 meta_sync_dir(const char *dir);

#endif
