/*
 * proto: the wire codec of docs/protocol.md.  Decoding works in place on
 * the caller's payload buffer (separators become NULs) and checks every
 * field through bet.c; encoding builds whole frames, header included, so
 * a frame goes out with one write.  No logging here: callers get a code
 * and a short reason.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "bet.h"
#include "io.h"
#include "num.h"
#include "proto.h"

#define PROTO_POS_MAX	(1ULL << 53)

/* Write the length header of a payload of plen bytes; the frame length. */
static size_t
proto_frame_header(char *out, size_t plen)
{
	out[0] = (char)(plen >> 8);
	out[1] = (char)(plen & 0xff);
	return PROTO_HDR_LEN + plen;
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

/*
 * What a body decoder works on: the body (modified in place), its length,
 * the message it fills, the caller's bet array, and a buffer for reasons
 * that need formatting.  A decoder returns NULL, or why the body is bad.
 */
struct proto_in {
	char			*body;
	size_t			 len;
	struct proto_msg	*m;
	struct bet		*bets;
	size_t			 cap;
	char			 why[96];
};

/* The bet at index idx of a batch, "first;last;doc;birth;number". */
static const char *
proto_decode_bet(struct proto_in *in, char *s, size_t idx)
{
	char	*f[BET_NFIELDS], why[64];

	if (proto_split(s, ';', f, BET_NFIELDS) != BET_NFIELDS)
		snprintf(why, sizeof(why), "wrong field count");
	else if (bet_from_utf8_fields(&in->bets[idx], in->m->agency, f, why,
	    sizeof(why)) == 0)
		return NULL;
	snprintf(in->why, sizeof(in->why), "bet %zu: %s", idx + 1, why);
	return in->why;
}

/* Cut s at the first sep: the rest, or NULL when there is no sep. */
static char *
proto_cut(char *s, char sep)
{
	char	*p;

	if ((p = strchr(s, sep)) == NULL)
		return NULL;
	*p = '\0';
	return p + 1;
}

/* Body "agency:[pos:]bet:bet...". */
static const char *
proto_decode_batch(struct proto_in *in, int with_pos)
{
	struct proto_msg	*m = in->m;
	const char		*why;
	char			*body, *next;

	if ((body = proto_cut(in->body, ':')) == NULL)
		return "empty batch";
	if (bet_parse_agency(in->body, &m->agency) == -1)
		return "bad agency";
	if (with_pos) {
		if ((next = proto_cut(body, ':')) == NULL)
			return "empty batch";
		if (num_parse(body, 0, PROTO_POS_MAX, &m->pos, NULL) == -1)
			return "bad position";
		body = next;
	}
	for (; body != NULL; body = next) {
		next = proto_cut(body, ':');
		if (m->nbets == in->cap)
			return "too many bets";
		if ((why = proto_decode_bet(in, body, m->nbets)) != NULL)
			return why;
		m->nbets++;
	}
	m->bets = in->bets;
	return NULL;
}

/* StoreBet body "agency;first;last;doc;birth;number". */
static const char *
dec_store_bet(struct proto_in *in)
{
	char	*f[BET_NFIELDS + 1];

	if (proto_split(in->body, ';', f, BET_NFIELDS + 1) != BET_NFIELDS + 1)
		return "wrong field count";
	if (bet_parse_agency(f[0], &in->m->agency) == -1)
		return "bad agency";
	if (in->cap < 1)
		return "too many bets";
	if (bet_from_utf8_fields(&in->bets[0], in->m->agency, f + 1, in->why,
	    sizeof(in->why)) == -1)
		return in->why;
	in->m->bets = in->bets;
	in->m->nbets = 1;
	return NULL;
}

static const char *
dec_batch(struct proto_in *in)
{
	return proto_decode_batch(in, 0);
}

static const char *
dec_batch_at(struct proto_in *in)
{
	return proto_decode_batch(in, 1);
}

/* AgencyClose, WinnersRequest, AgencyStatus: the body is the agency. */
static const char *
dec_agency(struct proto_in *in)
{
	return bet_parse_agency(in->body, &in->m->agency) == -1 ?
	    "bad agency" : NULL;
}

/* WinnersPage body "agency:start". */
static const char *
dec_page_req(struct proto_in *in)
{
	char	*start;

	if ((start = proto_cut(in->body, ':')) == NULL)
		return "missing start";
	if (bet_parse_agency(in->body, &in->m->agency) == -1)
		return "bad agency";
	if (num_parse(start, 0, PROTO_POS_MAX, &in->m->pos, NULL) == -1)
		return "bad start";
	return NULL;
}

/* Echo: the body is the text, whatever it holds. */
static const char *
dec_text(struct proto_in *in)
{
	in->m->text = in->body;
	in->m->textlen = in->len;
	return NULL;
}

/* AuthChallenge and AuthProof: exactly 64 hex digits. */
static const char *
dec_token(struct proto_in *in)
{
	return auth_unhex(in->body, in->len, in->m->token,
	    sizeof(in->m->token)) == -1 ? "want 64 hex digits" : NULL;
}

/* "0" (1) or "1" (0), exactly; -1 otherwise. */
static int
proto_parse_flag(const char *s, int zero_is)
{
	if (strcmp(s, "0") == 0)
		return zero_is;
	if (strcmp(s, "1") == 0)
		return !zero_is;
	return -1;
}

/* StoreResponse body: exactly "0" (stored) or "1" (refused). */
static const char *
dec_store_resp(struct proto_in *in)
{
	return (in->m->ok = proto_parse_flag(in->body, 1)) == -1 ?
	    "bad store result" : NULL;
}

/* A count of the length len at s, into *out.  0 or -1. */
static int
proto_count(const char *s, size_t len, uint64_t *out)
{
	return num_parse_len(s, len, 0, PROTO_COUNT_MAX, out, NULL);
}

/* AgencyStatusResponse body "stored;0|1". */
static const char *
dec_status(struct proto_in *in)
{
	const char	*semi = strchr(in->body, ';');

	if (semi == NULL ||
	    proto_count(in->body, (size_t)(semi - in->body),
	    &in->m->stored) == -1 ||
	    (in->m->closed = proto_parse_flag(semi + 1, 0)) == -1)
		return "bad status";
	return NULL;
}

/* 1 when s[0..len) could be a stored document. */
static int
proto_doc_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > BET_DOC_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == ':')
			return 0;
	}
	return bet_valid_utf8(s, len);
}

/*
 * A list of documents "doc;doc;..." (the empty string is none) into
 * m->text and m->ndocs; -1 when one is not a document.
 */
static int
proto_decode_docs(const char *s, struct proto_msg *m)
{
	const char	*semi;
	size_t		 n = 0, len;

	m->text = s;
	m->textlen = strlen(s);
	m->ndocs = 0;
	if (*s == '\0')
		return 0;
	for (;;) {
		semi = strchr(s, ';');
		len = semi != NULL ? (size_t)(semi - s) : strlen(s);
		if (!proto_doc_ok(s, len))
			return -1;
		n++;
		if (semi == NULL)
			break;
		s = semi + 1;
	}
	m->ndocs = n;
	return 0;
}

/* WinnersResponse body "doc;doc;..." or "". */
static const char *
dec_docs(struct proto_in *in)
{
	return proto_decode_docs(in->body, in->m) == -1 ? "bad document" :
	    NULL;
}

/* WinnersWait body "agency:start:wait_ms". */
static const char *
dec_wait_req(struct proto_in *in)
{
	uint64_t	 ms;
	char		*wait;

	if ((wait = strrchr(in->body, ':')) == NULL)
		return "missing wait";
	*wait++ = '\0';
	if (num_parse(wait, 0, PROTO_WAIT_MAX, &ms, NULL) == -1)
		return "bad wait";
	in->m->wait_ms = (uint32_t)ms;
	return dec_page_req(in);
}

/* BusyResponse body: the milliseconds to wait before trying again. */
static const char *
dec_busy(struct proto_in *in)
{
	uint64_t	ms;

	if (num_parse(in->body, 0, PROTO_WAIT_MAX, &ms, NULL) == -1)
		return "bad retry time";
	in->m->wait_ms = (uint32_t)ms;
	return NULL;
}

/* AuthRefused body: a reason word, lower case letters and '_' only. */
static const char *
dec_refused(struct proto_in *in)
{
	if (in->len == 0 || in->len > 32 ||
	    strspn(in->body, "abcdefghijklmnopqrstuvwxyz_") != in->len)
		return "bad refusal reason";
	in->m->text = in->body;
	in->m->textlen = in->len;
	return NULL;
}

/* WinnersPageResponse body "total" or "total;doc;doc;...". */
static const char *
dec_page_resp(struct proto_in *in)
{
	const char	*semi = strchr(in->body, ';');

	if (proto_count(in->body, semi != NULL ? (size_t)(semi - in->body) :
	    in->len, &in->m->total) == -1)
		return "bad total";
	if (semi == NULL) {
		proto_decode_docs("", in->m);	/* a page of no documents */
		return NULL;
	}
	/* "total;" with nothing after it is not a page of documents. */
	if (semi[1] == '\0' || proto_decode_docs(semi + 1, in->m) == -1)
		return "bad document";
	return NULL;
}

/* NotReadyResponse: nothing after the ':'. */
static const char *
dec_empty(struct proto_in *in)
{
	return in->len != 0 ? "unexpected body" : NULL;
}

/*
 * Body encoders: the body of m into out[0..cap).  Each returns its length,
 * or -1 when it does not fit or m is not well formed.
 */
static int
proto_done(int n, size_t cap)
{
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* Bets of m after "head", each preceded by sep (the first by sep1). */
static int
enc_bets_after(const struct proto_msg *m, char *out, size_t cap, int n,
    char sep1)
{
	size_t	 i, l;

	if (n < 0)
		return -1;
	for (i = 0; i < m->nbets; i++) {
		if ((size_t)n + 1 >= cap)
			return -1;
		out[n++] = i == 0 ? sep1 : ':';
		if ((l = proto_bet_format(&m->bets[i], out + n,
		    cap - (size_t)n)) == 0)
			return -1;
		n += (int)l;
	}
	return n;
}

static int
enc_store_bet(const struct proto_msg *m, char *out, size_t cap)
{
	if (m->nbets != 1)
		return -1;
	return enc_bets_after(m, out, cap, proto_done(snprintf(out, cap,
	    "%u", (unsigned)m->agency), cap), ';');
}

/* StoreBatch "agency:bet:..." and StoreBatchAt "agency:pos:bet:...". */
static int
enc_batch(const struct proto_msg *m, char *out, size_t cap)
{
	int	n;

	if (m->nbets == 0)
		return -1;
	if (m->type == PROTO_STORE_BATCH_AT)
		n = snprintf(out, cap, "%u:%llu", (unsigned)m->agency,
		    (unsigned long long)m->pos);
	else
		n = snprintf(out, cap, "%u", (unsigned)m->agency);
	return enc_bets_after(m, out, cap, proto_done(n, cap), ':');
}

static int
enc_agency(const struct proto_msg *m, char *out, size_t cap)
{
	return proto_done(snprintf(out, cap, "%u", (unsigned)m->agency), cap);
}

static int
enc_page_req(const struct proto_msg *m, char *out, size_t cap)
{
	return proto_done(snprintf(out, cap, "%u:%llu", (unsigned)m->agency,
	    (unsigned long long)m->pos), cap);
}

static int
enc_wait_req(const struct proto_msg *m, char *out, size_t cap)
{
	return proto_done(snprintf(out, cap, "%u:%llu:%u", (unsigned)m->agency,
	    (unsigned long long)m->pos, (unsigned)m->wait_ms), cap);
}

static int
enc_text(const struct proto_msg *m, char *out, size_t cap)
{
	if (m->textlen >= cap)
		return -1;
	if (m->textlen > 0)
		memcpy(out, m->text, m->textlen);
	return (int)m->textlen;
}

static int
enc_busy(const struct proto_msg *m, char *out, size_t cap)
{
	return proto_done(snprintf(out, cap, "%u", (unsigned)m->wait_ms), cap);
}

static int
enc_store_resp(const struct proto_msg *m, char *out, size_t cap)
{
	return proto_done(snprintf(out, cap, "%s", m->ok ? "0" : "1"), cap);
}

static int
enc_status(const struct proto_msg *m, char *out, size_t cap)
{
	return proto_done(snprintf(out, cap, "%llu;%d",
	    (unsigned long long)m->stored, m->closed ? 1 : 0), cap);
}

/* m->docs[0..ndocs) after out[0..n), each preceded by ';' (the first
 * only when sep1). */
static int
enc_docs_after(const struct proto_msg *m, char *out, size_t cap, int n,
    int sep1)
{
	size_t	 i, l;

	for (i = 0; n >= 0 && i < m->ndocs; i++) {
		l = strnlen(m->docs[i], sizeof(m->docs[i]));
		if (!proto_doc_ok(m->docs[i], l) ||
		    (size_t)n + l + 1 >= cap)
			return -1;
		if (i > 0 || sep1)
			out[n++] = ';';
		memcpy(out + n, m->docs[i], l);
		n += (int)l;
	}
	return n;
}

static int
enc_docs(const struct proto_msg *m, char *out, size_t cap)
{
	return enc_docs_after(m, out, cap, 0, 0);
}

static int
enc_page_resp(const struct proto_msg *m, char *out, size_t cap)
{
	if (m->total > PROTO_COUNT_MAX)
		return -1;
	return enc_docs_after(m, out, cap, proto_done(snprintf(out, cap,
	    "%llu", (unsigned long long)m->total), cap), 1);
}

static int
enc_token(const struct proto_msg *m, char *out, size_t cap)
{
	if (cap <= AUTH_HEX_LEN)
		return -1;
	auth_hex(m->token, sizeof(m->token), out);
	return AUTH_HEX_LEN;
}

static int
enc_empty(const struct proto_msg *m, char *out, size_t cap)
{
	(void)m, (void)out, (void)cap;
	return 0;
}

/*
 * The protocol: one row per message type, its wire name, its direction
 * and its body codec.  Adding a message type is one row here (plus its
 * handler in server/session.c when it is a request).
 */
struct proto_row {
	const char	*name;
	enum proto_dir	 dir;
	int		(*enc)(const struct proto_msg *, char *, size_t);
	const char	*(*dec)(struct proto_in *);
};

static const struct proto_row proto_rows[] = {
	[PROTO_UNKNOWN] = { "Unknown", PROTO_REQUEST, NULL, NULL },
	[PROTO_STORE_BET] = { "StoreBet", PROTO_REQUEST, enc_store_bet,
	    dec_store_bet },
	[PROTO_STORE_BATCH] = { "StoreBatch", PROTO_REQUEST, enc_batch,
	    dec_batch },
	[PROTO_STORE_BATCH_AT] = { "StoreBatchAt", PROTO_REQUEST,
	    enc_batch, dec_batch_at },
	[PROTO_AGENCY_CLOSE] = { "AgencyClose", PROTO_REQUEST, enc_agency,
	    dec_agency },
	[PROTO_WINNERS_REQUEST] = { "WinnersRequest", PROTO_REQUEST,
	    enc_agency, dec_agency },
	[PROTO_AGENCY_STATUS] = { "AgencyStatus", PROTO_REQUEST, enc_agency,
	    dec_agency },
	[PROTO_ECHO] = { "Echo", PROTO_REQUEST, enc_text, dec_text },
	[PROTO_WINNERS_PAGE] = { "WinnersPage", PROTO_REQUEST, enc_page_req,
	    dec_page_req },
	[PROTO_STORE_RESPONSE] = { "StoreResponse", PROTO_REPLY,
	    enc_store_resp, dec_store_resp },
	[PROTO_WINNERS_RESPONSE] = { "WinnersResponse", PROTO_REPLY,
	    enc_docs, dec_docs },
	[PROTO_NOT_READY] = { "NotReadyResponse", PROTO_REPLY, enc_empty,
	    dec_empty },
	[PROTO_STATUS_RESPONSE] = { "AgencyStatusResponse", PROTO_REPLY,
	    enc_status, dec_status },
	[PROTO_WINNERS_PAGE_RESPONSE] = { "WinnersPageResponse", PROTO_REPLY,
	    enc_page_resp, dec_page_resp },
	[PROTO_AUTH_HELLO] = { "AuthHello", PROTO_REQUEST, enc_agency,
	    dec_agency },
	[PROTO_AUTH_CHALLENGE] = { "AuthChallenge", PROTO_REPLY, enc_token,
	    dec_token },
	[PROTO_AUTH_PROOF] = { "AuthProof", PROTO_REQUEST, enc_token,
	    dec_token },
	[PROTO_WINNERS_WAIT] = { "WinnersWait", PROTO_REQUEST, enc_wait_req,
	    dec_wait_req },
	[PROTO_BUSY] = { "BusyResponse", PROTO_REPLY, enc_busy, dec_busy },
	[PROTO_AUTH_REFUSED] = { "AuthRefused", PROTO_REPLY, enc_text,
	    dec_refused },
};
#define PROTO_NTYPES	(sizeof(proto_rows) / sizeof(proto_rows[0]))

const char *
proto_type_name(enum proto_type t)
{
	if ((unsigned)t >= PROTO_NTYPES)
		return proto_rows[PROTO_UNKNOWN].name;
	return proto_rows[t].name;
}

int
proto_type_dir(enum proto_type t)
{
	if (t == PROTO_UNKNOWN || (unsigned)t >= PROTO_NTYPES)
		return -1;
	return (int)proto_rows[t].dir;
}

static enum proto_type
proto_type_lookup(const char *name)
{
	size_t	i;

	for (i = 1; i < PROTO_NTYPES; i++)
		if (strcmp(name, proto_rows[i].name) == 0)
			return (enum proto_type)i;
	return PROTO_UNKNOWN;
}

int
proto_decode(char *payload, size_t len, struct proto_msg *m,
    struct bet *bets, size_t cap, char *err, size_t errlen)
{
	struct proto_in	 in;
	const char	*why;
	char		*colon, *body;

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
	if ((m->type = proto_type_lookup(payload)) == PROTO_UNKNOWN) {
		snprintf(err, errlen, "unknown type");
		return -1;
	}
	in.body = body;
	in.len = len - (size_t)(body - payload);
	in.m = m;
	in.bets = bets;
	in.cap = cap;
	if ((why = proto_rows[m->type].dec(&in)) == NULL)
		return 0;
	snprintf(err, errlen, "%s", why);
	return -1;
}

size_t
proto_encode_with(char out[PROTO_FRAME_MAX], const struct proto_msg *m,
    char body[PROTO_PAYLOAD_MAX + 1])
{
	int	 n;

	if (m->type == PROTO_UNKNOWN || (unsigned)m->type >= PROTO_NTYPES)
		return 0;
	/* The encoders may write a NUL after the body, hence the copy. */
	if ((n = proto_rows[m->type].enc(m, body, PROTO_PAYLOAD_MAX + 1)) < 0)
		return 0;
	return proto_encode(out, m->type, body, (size_t)n);
}

size_t
proto_encode_msg(char out[PROTO_FRAME_MAX], const struct proto_msg *m)
{
	char	 body[PROTO_PAYLOAD_MAX + 1];

	return proto_encode_with(out, m, body);
}

size_t
proto_docs_fit(const struct proto_msg *m)
{
	char	 num[24];
	size_t	 used, i, l;

	used = strlen(proto_type_name(m->type)) + 1;
	if (m->type == PROTO_WINNERS_PAGE_RESPONSE)
		used += (size_t)snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)m->total);
	for (i = 0; i < m->ndocs; i++) {
		l = strnlen(m->docs[i], sizeof(m->docs[i]));
		/* Every document but a WinnersResponse's first has a ';'. */
		l += i > 0 || m->type == PROTO_WINNERS_PAGE_RESPONSE;
		if (used + l > PROTO_PAYLOAD_MAX)
			break;
		used += l;
	}
	return i;
}

size_t
proto_encode(char out[PROTO_FRAME_MAX], enum proto_type t, const char *body,
    size_t bodylen)
{
	const char	*name;
	size_t		 nlen;

	if (t == PROTO_UNKNOWN || (unsigned)t >= PROTO_NTYPES)
		return 0;
	name = proto_rows[t].name;
	nlen = strlen(name);
	if (bodylen > PROTO_PAYLOAD_MAX - nlen - 1)
		return 0;
	memcpy(out + PROTO_HDR_LEN, name, nlen);
	out[PROTO_HDR_LEN + nlen] = ':';
	if (bodylen > 0)
		memcpy(out + PROTO_HDR_LEN + nlen + 1, body, bodylen);
	return proto_frame_header(out, nlen + 1 + bodylen);
}

/* Append the NUL-terminated s and then sep; -1 when it does not fit. */
static int
proto_put(char *dst, size_t cap, size_t *len, const char *s, char sep)
{
	size_t	n = strlen(s);

	if (*len + n + 1 >= cap)
		return -1;
	memcpy(dst + *len, s, n);
	*len += n;
	dst[(*len)++] = sep;
	return 0;
}

size_t
proto_bet_format(const struct bet *b, char *dst, size_t cap)
{
	char	num[8];
	size_t	len = 0, n = 0;
	unsigned v = b->number;

	/* No printf: formatting was most of the client's time. */
	do
		num[sizeof(num) - 1 - n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && n < sizeof(num) - 1);
	if (proto_put(dst, cap, &len, b->first, ';') == -1 ||
	    proto_put(dst, cap, &len, b->last, ';') == -1 ||
	    proto_put(dst, cap, &len, b->doc, ';') == -1 ||
	    proto_put(dst, cap, &len, b->birth, ';') == -1 ||
	    len + n >= cap)
		return 0;
	memcpy(dst + len, num + sizeof(num) - n, n);
	len += n;
	dst[len] = '\0';
	return len;
}

void
proto_batch_init(struct proto_batch *b, uint32_t agency, uint64_t pos)
{
	int	n;

	/* Always fits: the header text is a few dozen bytes at most. */
	n = snprintf(b->frame + PROTO_HDR_LEN, PROTO_PAYLOAD_MAX,
	    "%s:%u:%llu", proto_rows[PROTO_STORE_BATCH_AT].name, (unsigned)agency,
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
	    proto_rows[PROTO_STORE_BATCH].name, (unsigned)agency);
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
	return proto_read_frame_until(fd, payload, cap, -1, NULL);
}

ssize_t
proto_read_frame_until(int fd, char *payload, size_t cap, long long deadline,
    volatile sig_atomic_t *stop)
{
	unsigned char	hdr[PROTO_HDR_LEN];
	size_t		plen;
	ssize_t		r;

	if ((r = io_read_until(fd, hdr, sizeof(hdr), deadline, stop)) == -1)
		return -1;
	if (r == 0)
		return 0;
	if (r != sizeof(hdr))
		return -2;
	plen = ((size_t)hdr[0] << 8) | hdr[1];
	if (plen == 0 || plen > PROTO_PAYLOAD_MAX || plen + 1 > cap)
		return -2;
	if ((r = io_read_until(fd, payload, plen, deadline, stop)) == -1)
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
