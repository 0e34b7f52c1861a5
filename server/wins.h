/*
 * wins: each agency's winning documents, in stored order, learnt while
 * the store indexes bets.csv (it reads every new row anyway) and from the
 * rows it writes itself.  A winners request then costs its answer, not a
 * pass over the file.
 */
#ifndef WINS_H
#define WINS_H

#include <stddef.h>
#include <stdint.h>

#include "bet.h"

struct wins_agency {
	char		(*docs)[BET_DOC_MAX + 1];
	size_t		 n, cap;
};

struct wins {
	uint32_t		 agencies;
	struct wins_agency	*a;		/* [agencies + 1] */
};

/* 0, or -1 when out of memory. */
int	 wins_init(struct wins *, uint32_t agencies);
void	 wins_free(struct wins *);
/* Forget every winner (the file is indexed from the start again). */
void	 wins_clear(struct wins *);
/*
 * A row of bets.csv of agency (valid, 1..agencies), line[0..len) without
 * its line end, NUL-terminated; line may be modified.  0, or -1 when out
 * of memory.
 */
int	 wins_line(struct wins *, uint32_t agency, char *line, size_t len);
/* The same for a row as written, row[0..len) ending in "\r\n". */
int	 wins_row(struct wins *, uint32_t agency, const char *row, size_t len);
/*
 * The agency's winners from the start-th on into docs[0..max); returns
 * how many, with *total of them all.
 */
size_t	 wins_copy(const struct wins *, uint32_t agency, uint64_t start,
	    char (*docs)[BET_DOC_MAX + 1], size_t max, uint64_t *total);

#endif
