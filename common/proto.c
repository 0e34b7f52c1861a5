/*
 * proto: the wire codec of docs/protocol.md.  Decoding works in place on
 * the caller's payload buffer (separators become NULs) and checks every
 * field through bet.c; encoding builds whole frames, header included, so
 * a frame goes out with one write.  No logging here: callers get a code
 * and a short reason.
 */
#include <stdio.h>
#include <string.h>

#include "bet.h"
#include "io.h"
#include "proto.h"

#define PROTO_POS_MAX	(1ULL << 53)

static const char *const proto_names[] = {
	[PROTO_UNKNOWN] = "Unknown",
	[PROTO_STORE_BET] = "StoreBet",
	[PROTO_STORE_BATCH] = "StoreBatch",
	[PROTO_STORE_BATCH_AT] = "StoreBatchAt",
	[PROTO_AGENCY_CLOSE] = "AgencyClose",
	[PROTO_WINNERS_REQUEST] = "WinnersRequest",
	[PROTO_AGENCY_STATUS] = "AgencyStatus",
	[PROTO_ECHO] = "Echo",
	[PROTO_WINNERS_PAGE] = "WinnersPage",
	[PROTO_STORE_RESPONSE] = "StoreResponse",
	[PROTO_WINNERS_RESPONSE] = "WinnersResponse",
	[PROTO_NOT_READY] = "NotReadyResponse",
	[PROTO_STATUS_RESPONSE] = "AgencyStatusResponse",
	[PROTO_WINNERS_PAGE_RESPONSE] = "WinnersPageResponse",
};
#define PROTO_NTYPES	(sizeof(proto_names) / sizeof(proto_names[0]))

const char *
proto_type_name(enum proto_type t)
{
	if ((unsigned)t >= PROTO_NTYPES)
		return proto_names[PROTO_UNKNOWN];
	return proto_names[t];
}

static enum proto_type
proto_type_lookup(const char *name)
{
	size_t	i;

	for (i = 1; i < PROTO_NTYPES; i++)
		if (strcmp(name, proto_names[i]) == 0)
			return (enum proto_type)i;
	return PROTO_UNKNOWN;
}

/*
 * Split s in place at every sep into f[0..max).  Returns the number of
 * fields, or -1 when there are more than max.
 */
static int
proto_split(char *s, char sep, char **f, int max)
{
	int	n = 0;
	char	*p;

	for (;;) {
		if (n == max)
			return -1;
		f[n++] = s;
		if ((p = strchr(s, sep)) == NULL)
			return n;
		*p = '\0';
		s = p + 1;
	}
}

/* Strict decimal: digits only, no sign or space, value <= 2^53. */
static int
proto_parse_pos(const char *s, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (s[0] == '\0')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > PROTO_POS_MAX)
			return -1;
	}
	*out = v;
	return 0;
}

/* One "first;last;doc;birth;number" into b. */
static int
proto_decode_bet(char *s, uint32_t agency, struct bet *b, size_t idx,
    char *err, size_t errlen)
{
	char	*f[BET_NFIELDS], why[64];

	if (proto_split(s, ';', f, BET_NFIELDS) != BET_NFIELDS) {
		snprintf(err, errlen, "bet %zu: wrong field count", idx + 1);
		return -1;
	}
	if (bet_from_fields(b, agency, f, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "bet %zu: %s", idx + 1, why);
		return -1;
	}
	return 0;
}

/* Body "agency:[pos:]bet:bet...". */
static int
proto_decode_batch(char *body, int with_pos, struct proto_msg *m,
    struct bet *bets, size_t cap, char *err, size_t errlen)
{
	char	*p, *next;

	if ((p = strchr(body, ':')) == NULL) {
		snprintf(err, errlen, "empty batch");
		return -1;
	}
	*p = '\0';
	if (bet_parse_agency(body, &m->agency) == -1) {
		snprintf(err, errlen, "bad agency");
		return -1;
	}
	body = p + 1;
	if (with_pos) {
		if ((p = strchr(body, ':')) == NULL) {
			snprintf(err, errlen, "empty batch");
			return -1;
		}
		*p = '\0';
		if (proto_parse_pos(body, &m->pos) == -1) {
			snprintf(err, errlen, "bad position");
			return -1;
		}
		body = p + 1;
	}
	for (; body != NULL; body = next) {
		if ((next = strchr(body, ':')) != NULL)
			*next++ = '\0';
		if (m->nbets == cap) {
			snprintf(err, errlen, "too many bets");
			return -1;
		}
		if (proto_decode_bet(body, m->agency, &bets[m->nbets],
		    m->nbets, err, errlen) == -1)
			return -1;
		m->nbets++;
	}
	return 0;
}

int
proto_decode(char *payload, size_t len, struct proto_msg *m,
    struct bet *bets, size_t cap, char *err, size_t errlen)
{
	char	*colon, *body, *f[BET_NFIELDS + 1];
	size_t	 bodylen;

	memset(m, 0, sizeof(*m));
	payload[len] = '\0';
	/* A NUL would silently cut a field short, so it is refused too. */
	if (memchr(payload, '\0', len) != NULL ||
	    !bet_valid_utf8(payload, len)) {
		snprintf(err, errlen, "invalid UTF-8");
		return -1;
	}
	if ((colon = strchr(payload, ':')) == NULL) {
		snprintf(err, errlen, "missing type");
		return -1;
	}
	*colon = '\0';
	body = colon + 1;
	bodylen = len - (size_t)(body - payload);
	if ((m->type = proto_type_lookup(payload)) == PROTO_UNKNOWN) {
		snprintf(err, errlen, "unknown type");
		return -1;
	}

	switch (m->type) {
	case PROTO_STORE_BET:
		if (proto_split(body, ';', f, BET_NFIELDS + 1) !=
		    BET_NFIELDS + 1) {
			snprintf(err, errlen, "wrong field count");
			return -1;
		}
		if (bet_parse_agency(f[0], &m->agency) == -1) {
			snprintf(err, errlen, "bad agency");
			return -1;
		}
		if (cap < 1) {
			snprintf(err, errlen, "too many bets");
			return -1;
		}
		if (bet_from_fields(&bets[0], m->agency, f + 1, err,
		    errlen) == -1)
			return -1;
		m->nbets = 1;
		return 0;
	case PROTO_STORE_BATCH:
	case PROTO_STORE_BATCH_AT:
		return proto_decode_batch(body, m->type == PROTO_STORE_BATCH_AT,
		    m, bets, cap, err, errlen);
	case PROTO_WINNERS_PAGE:
		if ((colon = strchr(body, ':')) == NULL) {
			snprintf(err, errlen, "missing start");
			return -1;
		}
		*colon = '\0';
		if (bet_parse_agency(body, &m->agency) == -1) {
			snprintf(err, errlen, "bad agency");
			return -1;
		}
		if (proto_parse_pos(colon + 1, &m->pos) == -1) {
			snprintf(err, errlen, "bad start");
			return -1;
		}
		return 0;
	case PROTO_AGENCY_CLOSE:
	case PROTO_WINNERS_REQUEST:
	case PROTO_AGENCY_STATUS:
		if (bet_parse_agency(body, &m->agency) == -1) {
			snprintf(err, errlen, "bad agency");
			return -1;
		}
		return 0;
	default:
		/* Echo and every response: the body is the text. */
		m->text = body;
		m->textlen = bodylen;
		return 0;
	}
}

size_t
proto_encode(char out[PROTO_FRAME_MAX], enum proto_type t, const char *body,
    size_t bodylen)
{
	const char	*name;
	size_t		 nlen, plen;

	if (t == PROTO_UNKNOWN || (unsigned)t >= PROTO_NTYPES)
		return 0;
	name = proto_names[t];
	nlen = strlen(name);
	if (bodylen > PROTO_PAYLOAD_MAX - nlen - 1)
		return 0;
	plen = nlen + 1 + bodylen;
	out[0] = (char)(plen >> 8);
	out[1] = (char)(plen & 0xff);
	memcpy(out + PROTO_HDR_LEN, name, nlen);
	out[PROTO_HDR_LEN + nlen] = ':';
	if (bodylen > 0)
		memcpy(out + PROTO_HDR_LEN + nlen + 1, body, bodylen);
	return PROTO_HDR_LEN + plen;
}

size_t
proto_bet_format(const struct bet *b, char *dst, size_t cap)
{
	int	n;

	n = snprintf(dst, cap, "%s;%s;%s;%s;%u", b->first, b->last, b->doc,
	    b->birth, (unsigned)b->number);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

void
proto_batch_init(struct proto_batch *b, uint32_t agency, uint64_t pos)
{
	int	n;

	/* Always fits: the header text is a few dozen bytes at most. */
	n = snprintf(b->frame + PROTO_HDR_LEN, PROTO_PAYLOAD_MAX,
	    "%s:%u:%llu", proto_names[PROTO_STORE_BATCH_AT], (unsigned)agency,
	    (unsigned long long)pos);
	b->len = PROTO_HDR_LEN + (size_t)n;
	b->count = 0;
	b->pos = pos;
}

void
proto_batch_init_base(struct proto_batch *b, uint32_t agency, uint64_t pos)
{
	int	n;

	n = snprintf(b->frame + PROTO_HDR_LEN, PROTO_PAYLOAD_MAX, "%s:%u",
	    proto_names[PROTO_STORE_BATCH], (unsigned)agency);
	b->len = PROTO_HDR_LEN + (size_t)n;
	b->count = 0;
	b->pos = pos;
}

int
proto_batch_add(struct proto_batch *b, const struct bet *bet)
{
	char	tmp[2 * BET_NAME_MAX + BET_DOC_MAX + BET_DATE_LEN + 16];
	size_t	n;

	if ((n = proto_bet_format(bet, tmp, sizeof(tmp))) == 0)
		return -1;
	if (b->len + 1 + n > PROTO_FRAME_MAX)
		return -1;
	b->frame[b->len++] = ':';
	memcpy(b->frame + b->len, tmp, n);
	b->len += n;
	b->count++;
	return 0;
}

size_t
proto_batch_finish(struct proto_batch *b)
{
	size_t	plen = b->len - PROTO_HDR_LEN;

	b->frame[0] = (char)(plen >> 8);
	b->frame[1] = (char)(plen & 0xff);
	return b->len;
}

ssize_t
proto_read_frame(int fd, char *payload, size_t cap)
{
	return proto_read_frame_until(fd, payload, cap, -1);
}

ssize_t
proto_read_frame_until(int fd, char *payload, size_t cap, long long deadline)
{
	unsigned char	hdr[PROTO_HDR_LEN];
	size_t		plen;
	ssize_t		r;

	if ((r = io_read_until(fd, hdr, sizeof(hdr), deadline)) == -1)
		return -1;
	if (r == 0)
		return 0;
	if (r != sizeof(hdr))
		return -2;
	plen = ((size_t)hdr[0] << 8) | hdr[1];
	if (plen == 0 || plen > PROTO_PAYLOAD_MAX || plen + 1 > cap)
		return -2;
	if ((r = io_read_until(fd, payload, plen, deadline)) == -1)
		return -1;
	if ((size_t)r != plen)
		return -2;
	payload[plen] = '\0';
	return (ssize_t)plen;
}

int
proto_write_frame(int fd, const char *frame, size_t len)
{
	return io_write_full(fd, frame, len);
}
