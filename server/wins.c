/*
 * wins: the winners index (see wins.h).  A row wins when its last field,
 * the number, is BET_WINNING_NUMBER; the number is never quoted and holds
 * no comma, so the text after the last comma is it, and only a winning
 * row pays for splitting its fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "wins.h"

#define WINS_STR	WINS_STR2(BET_WINNING_NUMBER)
#define WINS_STR2(n)	WINS_STR3(n)
#define WINS_STR3(n)	#n

int
wins_init(struct wins *w, uint32_t agencies)
{
	w->agencies = agencies;
	w->a = calloc((size_t)agencies + 1, sizeof(*w->a));
	return w->a == NULL ? -1 : 0;
}

void
wins_free(struct wins *w)
{
	if (w->a == NULL)
		return;
	for (uint32_t i = 0; i <= w->agencies; i++)
		free(w->a[i].docs);
	free(w->a);
	w->a = NULL;
}

void
wins_clear(struct wins *w)
{
	for (uint32_t i = 0; i <= w->agencies; i++)
		w->a[i].n = 0;
}

/* Keep doc as the agency's next winner. */
static int
wins_add(struct wins *w, uint32_t agency, const char *doc)
{
	struct wins_agency	*a = &w->a[agency];
	void			*p;
	size_t			 cap;

	if (a->n == a->cap) {
		cap = a->cap == 0 ? 16 : a->cap * 2;
		if ((p = realloc(a->docs, cap * sizeof(*a->docs))) == NULL)
			return -1;
		a->docs = p;
		a->cap = cap;
	}
	/* A stored document is at most BET_DOC_MAX bytes; longer is cut. */
	snprintf(a->docs[a->n++], sizeof(a->docs[0]), "%s", doc);
	return 0;
}

int
wins_line(struct wins *w, uint32_t agency, char *line, size_t len)
{
	static const char	 tail[] = "," WINS_STR;
	char			*f[6];

	/*
	 * The number is the last field and holds no comma: a winner's row
	 * ends in ",<number>".  Only those are split (every replica looks at
	 * every row).
	 */
	if (len < sizeof(tail) - 1 ||
	    memcmp(line + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1) !=
	    0 || csv_split(line, f, 6) != 6)
		return 0;
	return wins_add(w, agency, f[3]);
}

int
wins_row(struct wins *w, uint32_t agency, const char *row, size_t len)
{
	static const char	 tail[] = "," WINS_STR "\r\n";
	char			 line[CSV_LINE_MAX + 1];

	if (len < sizeof(tail) - 1 ||
	    memcmp(row + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1) != 0)
		return 0;
	if (len - 2 > CSV_LINE_MAX)
		return 0;	/* never written: rows are far shorter */
	memcpy(line, row, len - 2);
	line[len - 2] = '\0';
	return wins_line(w, agency, line, len - 2);
}

size_t
wins_copy(const struct wins *w, uint32_t agency, uint64_t start,
    char (*docs)[BET_DOC_MAX + 1], size_t max, uint64_t *total)
{
	const struct wins_agency	*a = &w->a[agency];
	size_t				 n = 0;

	*total = a->n;
	for (uint64_t i = start; i < a->n && n < max; i++, n++)
		memcpy(docs[n], a->docs[i], sizeof(docs[0]));
	return n;
}
