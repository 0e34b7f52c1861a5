/*
 * tally: what the state directory says, read-only, for the monitor: bets
 * stored and winners per agency (bets.csv, read on from where the last
 * look ended, through common/csv.c), which agencies closed
 * (agencies_closed.txt), whether and when the draw was logged
 * (draw.logged), and each agency file's size in bets when the data
 * directory is mounted.  Only counts are kept: no document, no name.
 */
#ifndef TALLY_H
#define TALLY_H

#include <sys/types.h>

#include <stdint.h>
#include <time.h>

struct tally_agency {
	uint64_t	 stored;	/* rows in bets.csv */
	uint64_t	 winners;	/* of them, on the winning number */
	int64_t		 total;		/* bets in its file, or -1: unknown */
	int		 closed;
};

struct tally {
	char			 state_dir[4096];
	char			 data_dir[4096];	/* "": none mounted */
	uint32_t		 agencies;
	struct tally_agency	*a;		/* [agencies + 1] */
	uint64_t		 stored;	/* all agencies */
	uint64_t		 bad_rows;	/* rows of no agency of ours */
	uint32_t		 nclosed;
	time_t			 draw_time;	/* draw.logged's mtime, or 0 */
	/* Where the bets.csv read stopped, and which file it was. */
	uint64_t		 off;
	dev_t			 dev;
	ino_t			 ino;
	/* Agency files: their sizes when last counted. */
	int64_t			*fsize;		/* [agencies + 1] */
};

/* 0, or -1 (out of memory). */
int	 tally_init(struct tally *, const char *state_dir, const char *data_dir,
	    uint32_t agencies);
void	 tally_free(struct tally *);
/*
 * Bring the counts up to date.  A file that is missing counts as empty;
 * a bets.csv replaced or cut short is read again from its start.  0, or
 * -1 with a reason in err (the counts stay as they were).
 */
int	 tally_update(struct tally *, char *err, size_t errlen);

#endif
