/*
 * gendata: writes the agency files the clients upload, plus the answer key
 * the tests check against.  DIR/agency-N.csv holds "first,last,document,
 * birthdate,number" rows ending in CRLF; DIR/expected.txt holds one line
 * per agency, "AGENCY BETS WINNERS DOCS".  Everything comes from one seeded
 * PRNG, so a seed always gives the same files.  Documents are unique across
 * all agencies, every agency but the last holds exactly WINNERS bets on the
 * winning number and no other bet uses it.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bet.h"
#include "num.h"

#define GEN_DOC_BASE	10000000ULL	/* smallest 8-digit document */
#define GEN_DOC_SPAN	90000000ULL	/* how many 8-digit documents exist */
/* Coprime with GEN_DOC_SPAN (2^7 3^2 5^7): i -> i * STEP mod SPAN is a bijection. */
#define GEN_DOC_STEP	7368787ULL
#define GEN_AGENCIES_MAX 10000	/* AGENCIES_AMOUNT's bound */
#define GEN_BETS_MAX	10000000LL
#define GEN_WINNERS_MAX	1000
#define GEN_IOBUF	(1 << 16)

static const char *const first_names[] = {
	"Agustín", "Martín", "Joaquín", "Sebastián", "Nicolás", "Tomás",
	"Matías", "Lucía", "Sofía", "María José", "Valentina", "Camila",
	"Ángel", "Álvaro", "Inés", "Belén", "Ramón", "Héctor", "Óscar",
	"Raúl", "Rocío", "Mónica", "Verónica", "Máximo", "Julián",
	"Germán", "Iñaki", "Núria", "Zoë", "Josefina", "Florencia",
	"Bautista", "Facundo", "Ezequiel", "Milagros", "Dolores", "Pilar",
	"Araceli", "Éric", "Ana", "Juan Pablo", "Gonzalo", "Lautaro",
	"Ximena", "Candela", "Abril", "Emilia", "Benjamín", "Santiago",
	"Ignacio", "Úrsula", "Ñusta", "Güido", "Dalmacio", "Evaristo",
	"Sabrina", "Jazmín", "Aitana", "Efraín", "Simón"
};

static const char *const last_names[] = {
	"González", "Rodríguez", "Fernández", "López", "Martínez", "Pérez",
	"García", "Sánchez", "Gómez", "Díaz", "Álvarez", "Romero", "Sosa",
	"Ruiz", "Benítez", "Acuña", "Domínguez", "Giménez", "Ibáñez",
	"Muñoz", "Núñez", "Peña", "Ordóñez", "Castañeda", "Yáñez", "Argüello",
	"Agüero", "Güemes", "Piñeiro", "Echeverría", "Etchegaray", "Olmos",
	"Quiroga", "Ledesma", "Suárez", "Vázquez", "Méndez", "Cáceres",
	"Ríos", "Ojeda", "Márquez", "Báez", "Córdoba", "Gutiérrez",
	"O'Connor", "D'Alessandro", "O'Higgins", "D'Angelo", "Di María",
	"De la Fuente", "Del Potro", "San Martín", "Sáenz Peña", "Ávalos",
	"Éboli", "Íñiguez", "Úbeda", "Ocaña", "Zúñiga", "Villagrán"
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

struct gen {
	const char	*dir;
	long long	 agencies;
	long long	 total;
	long long	 winners;
	uint64_t	 rng;
	uint64_t	 nextdoc;	/* global row index, feeds the documents */
};

static void	usage(void) __attribute__((noreturn));
static uint64_t	rng_next(uint64_t *);
static uint64_t	rng_below(uint64_t *, uint64_t);
static long long agency_rows(const struct gen *, long long);
static void	pick_winners(struct gen *, long long, long long, long long *);
static void	write_agency(struct gen *, long long, FILE *);
static int	cmp_ll(const void *, const void *);
static long long opt_num(const char *, const char *, long long, long long);

static void
usage(void)
{
	fprintf(stderr, "usage: gendata -o dir [-a agencies] [-n total_bets] "
	    "[-s seed] [-w winners]\n");
	exit(2);
}

/* The value of option what, s, in [min, max]; exits 2 when it is not one. */
static long long
opt_num(const char *what, const char *s, long long min, long long max)
{
	const char	*errstr;
	uint64_t	 v;

	if (num_parse(s, (uint64_t)min, (uint64_t)max, &v, &errstr) == -1)
		errx(2, "%s %s: %s", what, errstr, s);
	return (long long)v;
}

/* splitmix64: tiny, good enough spread, and identical on every platform. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t	z;

	z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0; the modulo bias is negligible at these sizes. */
static uint64_t
rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

/* Bets of agency a (1-based): an even split, the remainder to the first ones. */
static long long
agency_rows(const struct gen *g, long long a)
{
	return g->total / g->agencies + (a <= g->total % g->agencies ? 1 : 0);
}

/*
 * Choose k distinct rows out of n for the winning bets, sorted so the
 * expected documents come out in file order.  out has room for k.
 */
static void
pick_winners(struct gen *g, long long n, long long k, long long *out)
{
	long long	i, j, r;

	for (i = 0; i < k; i++) {
again:
		r = (long long)rng_below(&g->rng, (uint64_t)n);
		for (j = 0; j < i; j++)
			if (out[j] == r)
				goto again;
		out[i] = r;
	}
	qsort(out, (size_t)k, sizeof(*out), cmp_ll);
}

static int
cmp_ll(const void *a, const void *b)
{
	long long	x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/*
 * Write DIR/agency-<a>.csv and the agency's line of expected.txt to exp.
 * The last agency gets no winners.
 */
static void
write_agency(struct gen *g, long long a, FILE *exp)
{
	char		 path[4096];
	long long	 n, k, i, w, *win;
	uint64_t	 doc;
	unsigned	 number;
	int		 y, m, d;
	FILE		*fp;

	n = agency_rows(g, a);
	k = a == g->agencies ? 0 : g->winners;
	if ((win = calloc((size_t)k + 1, sizeof(*win))) == NULL)
		err(1, "calloc");
	pick_winners(g, n, k, win);

	if ((size_t)snprintf(path, sizeof(path), "%s/agency-%lld.csv", g->dir,
	    a) >= sizeof(path))
		errx(1, "%s: path too long", g->dir);
	if ((fp = fopen(path, "w")) == NULL)
		err(1, "%s", path);
	if (setvbuf(fp, NULL, _IOFBF, GEN_IOBUF) != 0)
		err(1, "setvbuf");

	fprintf(exp, "%lld %lld %lld ", a, n, k);
	for (i = 0, w = 0; i < n; i++) {
		doc = GEN_DOC_BASE + (g->nextdoc++ * GEN_DOC_STEP) % GEN_DOC_SPAN;
		y = 1930 + (int)rng_below(&g->rng, 2005 - 1930 + 1);
		m = 1 + (int)rng_below(&g->rng, 12);
		d = 1 + (int)rng_below(&g->rng,
		    (uint64_t)bet_days_in_month(y, m));
		if (w < k && win[w] == i) {
			number = BET_WINNING_NUMBER;
			fprintf(exp, "%s%" PRIu64, w > 0 ? ";" : "", doc);
			w++;
		} else {
			/* Skip the winning number by shifting the top of the range. */
			number = (unsigned)rng_below(&g->rng, BET_NUMBER_MAX);
			if (number >= BET_WINNING_NUMBER)
				number++;
		}
		fprintf(fp, "%s,%s,%" PRIu64 ",%04d-%02d-%02d,%u\r\n",
		    first_names[rng_below(&g->rng, NITEMS(first_names))],
		    last_names[rng_below(&g->rng, NITEMS(last_names))],
		    doc, y, m, d, number);
	}
	fprintf(exp, "%s\n", k == 0 ? "-" : "");
	if (ferror(fp) || fclose(fp) != 0)
		err(1, "%s", path);
	free(win);
}

int
main(int argc, char *argv[])
{
	struct gen	 g;
	char		 path[4096];
	long long	 a, seed = 1;
	FILE		*exp;
	int		 ch;

	memset(&g, 0, sizeof(g));
	g.agencies = 5;
	g.total = 80000;
	g.winners = 3;
	while ((ch = getopt(argc, argv, "a:n:o:s:w:")) != -1) {
		switch (ch) {
		case 'a':
			g.agencies = opt_num("agencies", optarg, 1, GEN_AGENCIES_MAX);
			break;
		case 'n':
			g.total = opt_num("total bets", optarg, 0, GEN_BETS_MAX);
			break;
		case 'o':
			g.dir = optarg;
			break;
		case 's':
			seed = opt_num("seed", optarg, 0, LLONG_MAX);
			break;
		case 'w':
			g.winners = opt_num("winners", optarg, 0, GEN_WINNERS_MAX);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || g.dir == NULL)
		usage();
	/* Every agency that wins needs a row for each winning bet. */
	if (g.agencies > 1 && agency_rows(&g, g.agencies - 1) < g.winners)
		errx(2, "%lld bets over %lld agencies leave fewer than %lld "
		    "rows per agency for the winners", g.total, g.agencies,
		    g.winners);
	g.rng = (uint64_t)seed;

	if (mkdir(g.dir, 0755) == -1 && errno != EEXIST)
		err(1, "%s", g.dir);
	if ((size_t)snprintf(path, sizeof(path), "%s/expected.txt", g.dir) >=
	    sizeof(path))
		errx(1, "%s: path too long", g.dir);
	if ((exp = fopen(path, "w")) == NULL)
		err(1, "%s", path);
	for (a = 1; a <= g.agencies; a++)
		write_agency(&g, a, exp);
	if (ferror(exp) || fclose(exp) != 0)
		err(1, "%s", path);
	return 0;
}
