/*
 * proto_test: the codec both ways (a batch with accents survives a round
 * trip), every way a payload can be refused, frame limits, and frame
 * reading over a socket pair (clean close, short header, bad lengths).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "bet.h"
#include "proto.h"

static struct bet	bets[PROTO_BATCH_MAX];
static char		err[128];

/* Decode a copy of the NUL-terminated payload s. */
static int
dec(const char *s, struct proto_msg *m)
{
	static char	buf[PROTO_FRAME_MAX + 1];
	size_t		len = strlen(s);

	memcpy(buf, s, len);
	err[0] = '\0';
	return proto_decode(buf, len, m, bets, PROTO_BATCH_MAX, err,
	    sizeof(err));
}

static void
setbet(struct bet *b, const char *first, const char *last, const char *doc,
    const char *birth, uint16_t num)
{
	memset(b, 0, sizeof(*b));
	strcpy(b->first, first);
	strcpy(b->last, last);
	strcpy(b->doc, doc);
	strcpy(b->birth, birth);
	b->number = num;
}

/* WinnersWait:agency:start:wait_ms, every field required and bounded. */
static void
test_winners_wait(void **state)
{
	struct proto_msg	m;

	(void)state;
	assert_string_equal(proto_type_name(PROTO_WINNERS_WAIT),
	    "WinnersWait");
	assert_int_equal(proto_type_dir(PROTO_WINNERS_WAIT), PROTO_REQUEST);
	assert_int_equal(dec("WinnersWait:2:0:1000", &m), 0);
	assert_int_equal(m.type, PROTO_WINNERS_WAIT);
	assert_int_equal(m.agency, 2);
	assert_int_equal(m.pos, 0);
	assert_int_equal(m.wait_ms, 1000);
	assert_int_equal(dec("WinnersWait:2:5:0", &m), 0);
	assert_int_equal(m.wait_ms, 0);
	assert_int_equal(dec("WinnersWait:2:5:60001", &m), -1);
	assert_string_equal(err, "bad wait");
	assert_int_equal(dec("WinnersWait:2:5:", &m), -1);
	assert_int_equal(dec("WinnersWait:2:5:-1", &m), -1);
	assert_int_equal(dec("WinnersWait:2:1000", &m), -1);
	assert_string_equal(err, "missing start");
	assert_int_equal(dec("WinnersWait:2", &m), -1);
	assert_int_equal(dec("WinnersWait:0:0:10", &m), -1);
	assert_int_equal(dec("WinnersWait:2:x:10", &m), -1);
	assert_int_equal(dec("WinnersWait:2:0:10:1", &m), -1);
}

/* BusyResponse:retry_ms and AuthRefused:reason, both ways, strictly. */
static void
test_busy_refused(void **state)
{
	struct proto_msg	m = { .type = PROTO_BUSY, .wait_ms = 250 };
	char			frame[PROTO_FRAME_MAX];
	size_t			n;

	(void)state;
	assert_int_equal(proto_type_dir(PROTO_BUSY), PROTO_REPLY);
	n = proto_encode_msg(frame, &m);
	assert_int_equal(n, PROTO_HDR_LEN + strlen("BusyResponse:250"));
	assert_memory_equal(frame + PROTO_HDR_LEN, "BusyResponse:250", n - 2);
	assert_int_equal(dec("BusyResponse:250", &m), 0);
	assert_int_equal(m.type, PROTO_BUSY);
	assert_int_equal(m.wait_ms, 250);
	assert_int_equal(dec("BusyResponse:", &m), -1);
	assert_int_equal(dec("BusyResponse:60001", &m), -1);
	assert_int_equal(dec("BusyResponse:1;2", &m), -1);

	assert_int_equal(proto_type_dir(PROTO_AUTH_REFUSED), PROTO_REPLY);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_AUTH_REFUSED;
	m.text = PROTO_REFUSED_WRONG_KEY;
	m.textlen = strlen(m.text);
	n = proto_encode_msg(frame, &m);
	assert_memory_equal(frame + PROTO_HDR_LEN, "AuthRefused:wrong_key",
	    n - 2);
	assert_int_equal(dec("AuthRefused:not_configured", &m), 0);
	assert_int_equal(m.type, PROTO_AUTH_REFUSED);
	assert_int_equal(m.textlen, strlen(PROTO_REFUSED_NOT_CONFIGURED));
	assert_memory_equal(m.text, PROTO_REFUSED_NOT_CONFIGURED, m.textlen);
	assert_int_equal(dec("AuthRefused:", &m), -1);
	assert_int_equal(dec("AuthRefused:Wrong", &m), -1);
	assert_int_equal(dec("AuthRefused:a;b", &m), -1);
}

static void
test_type_names(void **state)
{
	struct proto_msg	m;

	(void)state;
	assert_string_equal(proto_type_name(PROTO_STORE_BATCH_AT),
	    "StoreBatchAt");
	assert_string_equal(proto_type_name(PROTO_NOT_READY),
	    "NotReadyResponse");
	assert_string_equal(proto_type_name(PROTO_STATUS_RESPONSE),
	    "AgencyStatusResponse");
	assert_string_equal(proto_type_name(PROTO_UNKNOWN), "Unknown");
	assert_int_equal(dec("storebet:1;a;b;1;2000-01-01;1", &m), -1);
	assert_string_equal(err, "unknown type");
	assert_int_equal(dec("StoreBetX:1;a;b;1;2000-01-01;1", &m), -1);
	assert_string_equal(err, "unknown type");
	assert_int_equal(dec("Unknown:1", &m), -1);
	assert_int_equal(dec("NoColon", &m), -1);
	assert_int_equal(dec(":1", &m), -1);
}

static void
test_batch_roundtrip(void **state)
{
	static struct proto_batch	 pb;
	struct bet			 in[2];
	struct proto_msg		 m;
	char				 buf[PROTO_FRAME_MAX + 1];
	size_t				 n, plen;

	(void)state;
	setbet(&in[0], "José María", "Núñez", "30904465", "1999-03-17", 7574);
	setbet(&in[1], "Zoë", "O\"Brien, Jr", "1", "2000-02-29", 0);
	proto_batch_init(&pb, 3, 10);
	assert_int_equal(pb.count, 0);
	assert_int_equal(proto_batch_add(&pb, &in[0]), 0);
	assert_int_equal(proto_batch_add(&pb, &in[1]), 0);
	assert_int_equal(pb.count, 2);
	n = proto_batch_finish(&pb);
	assert_int_equal(n, pb.len);
	plen = ((unsigned char)pb.frame[0] << 8) | (unsigned char)pb.frame[1];
	assert_int_equal(plen, n - 2);
	memcpy(buf, pb.frame + 2, plen);
	buf[plen] = '\0';
	assert_string_equal(buf, "StoreBatchAt:3:10:"
	    "José María;Núñez;30904465;1999-03-17;7574:"
	    "Zoë;O\"Brien, Jr;1;2000-02-29;0");
	assert_int_equal(proto_decode(buf, plen, &m, bets, PROTO_BATCH_MAX,
	    err, sizeof(err)), 0);
	assert_int_equal(m.type, PROTO_STORE_BATCH_AT);
	assert_int_equal(m.agency, 3);
	assert_int_equal(m.pos, 10);
	assert_int_equal(m.nbets, 2);
	in[0].agency = in[1].agency = 3;
	assert_memory_equal(&bets[0], &in[0], sizeof(struct bet));
	assert_memory_equal(&bets[1], &in[1], sizeof(struct bet));
}

/* The base protocol's StoreBatch: no position on the wire. */
static void
test_batch_base(void **state)
{
	static struct proto_batch	 pb;
	struct bet			 in;
	struct proto_msg		 m;
	char				 buf[PROTO_FRAME_MAX + 1];
	size_t				 n;

	(void)state;
	setbet(&in, "Ana", "Paz", "30904465", "1999-03-17", 7574);
	proto_batch_init_base(&pb, 4, 250);
	assert_int_equal(pb.pos, 250);
	assert_int_equal(proto_batch_add(&pb, &in), 0);
	n = proto_batch_finish(&pb);
	memcpy(buf, pb.frame + 2, n - 2);
	buf[n - 2] = '\0';
	assert_string_equal(buf, "StoreBatch:4:Ana;Paz;30904465;1999-03-17;7574");
	assert_int_equal(proto_decode(buf, n - 2, &m, bets, PROTO_BATCH_MAX,
	    err, sizeof(err)), 0);
	assert_int_equal(m.type, PROTO_STORE_BATCH);
	assert_int_equal(m.nbets, 1);
}

static void
test_batch_full(void **state)
{
	static struct proto_batch	 pb;
	struct bet			 b;
	struct proto_msg		 m;
	char				 buf[PROTO_FRAME_MAX + 1];
	size_t				 n, added = 0;

	(void)state;
	setbet(&b, "a", "b", "c", "0001-01-01", 0);
	proto_batch_init(&pb, 2147483647, 9007199254740992ULL);
	while (proto_batch_add(&pb, &b) == 0)
		added++;
	assert_int_equal(pb.count, added);
	assert_true(pb.len <= PROTO_FRAME_MAX);
	assert_true(pb.len + 19 > PROTO_FRAME_MAX);
	assert_true(added <= PROTO_BATCH_MAX);
	n = proto_batch_finish(&pb);
	memcpy(buf, pb.frame + 2, n - 2);
	assert_int_equal(proto_decode(buf, n - 2, &m, bets, PROTO_BATCH_MAX,
	    err, sizeof(err)), 0);
	assert_int_equal(m.nbets, added);
	assert_int_equal(m.pos, 9007199254740992ULL);
	/* The same frame with a smaller cap is refused whole. */
	memcpy(buf, pb.frame + 2, n - 2);
	assert_int_equal(proto_decode(buf, n - 2, &m, bets, 10, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "too many bets");
}

static void
test_store_bet(void **state)
{
	struct proto_msg	m;

	(void)state;
	assert_int_equal(dec("StoreBet:4;Ana;Pérez;30904465;1999-03-17;7574",
	    &m), 0);
	assert_int_equal(m.type, PROTO_STORE_BET);
	assert_int_equal(m.agency, 4);
	assert_int_equal(m.nbets, 1);
	assert_int_equal(bets[0].agency, 4);
	assert_string_equal(bets[0].last, "Pérez");
	assert_int_equal(bets[0].number, 7574);
	assert_int_equal(dec("StoreBet:4;Ana;Pérez;30904465;1999-03-17", &m),
	    -1);
	assert_string_equal(err, "wrong field count");
	assert_int_equal(dec("StoreBet:4;Ana;Pérez;3;1999-03-17;1;x", &m), -1);
	assert_string_equal(err, "wrong field count");
	assert_int_equal(dec("StoreBet:0;Ana;Pérez;3;1999-03-17;1", &m), -1);
	assert_string_equal(err, "bad agency");
	assert_int_equal(dec("StoreBet:x;Ana;Pérez;3;1999-03-17;1", &m), -1);
	assert_string_equal(err, "bad agency");
	assert_int_equal(dec("StoreBet:1;Ana;Pérez;3;1999-02-29;1", &m), -1);
	assert_string_equal(err, "bad birthdate");
	assert_int_equal(dec("StoreBet:1;Ana;Pé:rez;3;1999-02-28;1", &m), -1);
	assert_string_equal(err, "separator in last name");
	assert_int_equal(dec("StoreBet:", &m), -1);
}

static void
test_store_batch(void **state)
{
	struct proto_msg	m;

	(void)state;
	assert_int_equal(dec("StoreBatch:1:Ana;Pérez;30904465;1999-03-17;7574",
	    &m), 0);
	assert_int_equal(m.type, PROTO_STORE_BATCH);
	assert_int_equal(m.agency, 1);
	assert_int_equal(m.nbets, 1);
	assert_int_equal(bets[0].agency, 1);
	assert_int_equal(dec("StoreBatch:1", &m), -1);
	assert_string_equal(err, "empty batch");
	assert_int_equal(dec("StoreBatch:", &m), -1);
	assert_int_equal(dec("StoreBatch:1:", &m), -1);
	assert_int_equal(dec("StoreBatch::a;b;c;2000-01-01;1", &m), -1);
	assert_string_equal(err, "bad agency");
	/* One bad bet rejects the lot; the reason names which. */
	assert_int_equal(dec("StoreBatch:1:a;b;c;2000-01-01;1:"
	    "a;b;c;2000-01-01;99999", &m), -1);
	assert_string_equal(err, "bet 2: bad number");
	assert_int_equal(dec("StoreBatch:1:a;b;c;2000-01-01;1:"
	    "a;b;c;2000-01-01", &m), -1);
	assert_string_equal(err, "bet 2: wrong field count");
	assert_int_equal(dec("StoreBatch:1:a;b;c;2000-01-01;1:"
	    "a;b;c;2000-01-01;1;1", &m), -1);
	assert_int_equal(dec("StoreBatch:1:a;b;c;2000-01-01;1:", &m), -1);
}

static void
test_store_batch_at(void **state)
{
	struct proto_msg	m;

	(void)state;
	assert_int_equal(dec("StoreBatchAt:2:0:a;b;c;2000-01-01;1", &m), 0);
	assert_int_equal(m.type, PROTO_STORE_BATCH_AT);
	assert_int_equal(m.agency, 2);
	assert_int_equal(m.pos, 0);
	assert_int_equal(m.nbets, 1);
	assert_int_equal(dec("StoreBatchAt:2:9007199254740992:"
	    "a;b;c;2000-01-01;1", &m), 0);
	assert_int_equal(m.pos, 9007199254740992ULL);
	assert_int_equal(dec("StoreBatchAt:2:9007199254740993:"
	    "a;b;c;2000-01-01;1", &m), -1);
	assert_string_equal(err, "bad position");
	assert_int_equal(dec("StoreBatchAt:2:-1:a;b;c;2000-01-01;1", &m), -1);
	assert_int_equal(dec("StoreBatchAt:2:+1:a;b;c;2000-01-01;1", &m), -1);
	assert_int_equal(dec("StoreBatchAt:2: 1:a;b;c;2000-01-01;1", &m), -1);
	assert_int_equal(dec("StoreBatchAt:2::a;b;c;2000-01-01;1", &m), -1);
	assert_int_equal(dec("StoreBatchAt:2:99999999999999999999999:"
	    "a;b;c;2000-01-01;1", &m), -1);
	assert_int_equal(dec("StoreBatchAt:2:5", &m), -1);
	assert_string_equal(err, "empty batch");
}

static void
test_agency_only(void **state)
{
	struct proto_msg	m;

	(void)state;
	assert_int_equal(dec("AgencyClose:5", &m), 0);
	assert_int_equal(m.type, PROTO_AGENCY_CLOSE);
	assert_int_equal(m.agency, 5);
	assert_int_equal(dec("WinnersRequest:12", &m), 0);
	assert_int_equal(m.type, PROTO_WINNERS_REQUEST);
	assert_int_equal(m.agency, 12);
	assert_int_equal(dec("AgencyStatus:1", &m), 0);
	assert_int_equal(m.type, PROTO_AGENCY_STATUS);
	assert_int_equal(dec("AgencyClose:", &m), -1);
	assert_string_equal(err, "bad agency");
	assert_int_equal(dec("WinnersRequest:1;2", &m), -1);
	assert_int_equal(dec("AgencyStatus:1:", &m), -1);
}

static void
test_text(void **state)
{
	struct proto_msg	m;

	(void)state;
	assert_int_equal(dec("Echo:", &m), 0);
	assert_int_equal(m.type, PROTO_ECHO);
	assert_int_equal(m.textlen, 0);
	assert_int_equal(dec("Echo:a:b;ñ", &m), 0);
	assert_int_equal(m.textlen, strlen("a:b;ñ"));
	assert_string_equal(m.text, "a:b;ñ");
	assert_int_equal(dec("WinnersResponse:1;22;333", &m), 0);
	assert_int_equal(m.type, PROTO_WINNERS_RESPONSE);
	assert_string_equal(m.text, "1;22;333");
	assert_int_equal(m.ndocs, 3);
	assert_int_equal(dec("NotReadyResponse:", &m), 0);
	assert_int_equal(m.type, PROTO_NOT_READY);
	assert_int_equal(dec("NotReadyResponse:x", &m), -1);
	assert_int_equal(m.type, PROTO_NOT_READY);
	assert_int_equal(dec("StoreResponse:0", &m), 0);
	assert_int_equal(m.type, PROTO_STORE_RESPONSE);
	assert_int_equal(m.ok, 1);
	assert_int_equal(dec("AgencyStatusResponse:10;1", &m), 0);
	assert_int_equal(m.type, PROTO_STATUS_RESPONSE);
	assert_int_equal(m.stored, 10);
	assert_int_equal(m.closed, 1);
	assert_int_equal(proto_type_dir(PROTO_ECHO), PROTO_REQUEST);
	assert_int_equal(proto_type_dir(PROTO_NOT_READY), PROTO_REPLY);
	assert_int_equal(proto_type_dir(PROTO_UNKNOWN), -1);
}

static void
test_reply_status(void **state)
{
	struct proto_msg	 m;

	(void)state;
	assert_int_equal(dec("AgencyStatusResponse:12;0", &m), 0);
	assert_int_equal(m.stored, 12);
	assert_int_equal(m.closed, 0);
	assert_int_equal(dec("AgencyStatusResponse:0;1", &m), 0);
	assert_int_equal(m.closed, 1);
	assert_int_equal(dec("AgencyStatusResponse:-5;0", &m), -1);
	assert_int_equal(dec("AgencyStatusResponse:5;2", &m), -1);
	assert_int_equal(dec("AgencyStatusResponse:5;01", &m), -1);
	assert_int_equal(dec("AgencyStatusResponse:5;", &m), -1);
	assert_int_equal(dec("AgencyStatusResponse:;0", &m), -1);
	assert_int_equal(dec("AgencyStatusResponse:5", &m), -1);
	assert_int_equal(dec("AgencyStatusResponse:5;0;0", &m), -1);
	assert_int_equal(dec("AgencyStatusResponse:9007199254740993;0", &m),
	    -1);
	assert_int_equal(m.type, PROTO_STATUS_RESPONSE);
}

static void
test_reply_store(void **state)
{
	struct proto_msg	 m;

	(void)state;
	assert_int_equal(dec("StoreResponse:0", &m), 0);
	assert_int_equal(m.ok, 1);
	assert_int_equal(dec("StoreResponse:1", &m), 0);
	assert_int_equal(m.ok, 0);
	assert_int_equal(dec("StoreResponse:", &m), -1);
	assert_int_equal(dec("StoreResponse:00", &m), -1);
	assert_int_equal(dec("StoreResponse:2", &m), -1);
	/* The type must be whole and followed by ':'. */
	assert_int_equal(dec("StoreResponse0", &m), -1);
	assert_int_equal(dec("Store:0", &m), -1);
}

static void
test_reply_page(void **state)
{
	struct proto_msg	 m;

	(void)state;
	assert_int_equal(dec("WinnersPageResponse:0", &m), 0);
	assert_int_equal(m.total, 0);
	assert_int_equal(m.ndocs, 0);
	assert_int_equal(dec("WinnersPageResponse:3;30904465;1;Pérez", &m),
	    0);
	assert_int_equal(m.total, 3);
	assert_int_equal(m.ndocs, 3);
	assert_string_equal(m.text, "30904465;1;Pérez");
	assert_int_equal(dec("WinnersPageResponse:", &m), -1);
	assert_int_equal(dec("WinnersPageResponse:3;", &m), -1);
	assert_int_equal(dec("WinnersPageResponse:3;a;;b", &m), -1);
	assert_int_equal(dec("WinnersPageResponse:x;1", &m), -1);
	assert_int_equal(dec("WinnersPageResponse:1;12345678901", &m), -1);
	assert_int_equal(dec("WinnersPageResponse:1;a:b", &m), -1);
	assert_int_equal(dec("WinnersPageResponse:1;a\x01", &m), -1);
	assert_int_equal(dec("WinnersPageResponse:1;\xe9", &m), -1);
	assert_int_equal(dec("WinnersPageResponse:9007199254740993", &m), -1);
	assert_int_equal(dec("WinnersResponse:", &m), 0);
	assert_int_equal(m.ndocs, 0);
	assert_int_equal(dec("WinnersResponse:1;2", &m), 0);
	assert_int_equal(m.ndocs, 2);
	assert_int_equal(dec("WinnersResponse:1;", &m), -1);
	assert_int_equal(dec("WinnersResponse:12345678901", &m), -1);
}

/* Encode m, then decode the frame's payload into *out. */
static int
trip(const struct proto_msg *m, struct proto_msg *out)
{
	static char	 frame[PROTO_FRAME_MAX + 1];
	size_t		 n;

	if ((n = proto_encode_msg(frame, m)) == 0)
		return -2;
	assert_int_equal(((size_t)(unsigned char)frame[0] << 8 |
	    (unsigned char)frame[1]), n - PROTO_HDR_LEN);
	err[0] = '\0';
	return proto_decode(frame + PROTO_HDR_LEN, n - PROTO_HDR_LEN, out,
	    bets, PROTO_BATCH_MAX, err, sizeof(err));
}

/* Every row of the table: what one side encodes, the other decodes. */
/* The handshake: AuthHello names the agency, the others carry 32 bytes. */
static void
test_auth(void **state)
{
	struct proto_msg	 m, r;
	char			 frame[PROTO_FRAME_MAX];
	size_t			 len;

	(void)state;
	assert_int_equal(dec("AuthHello:7", &m), 0);
	assert_int_equal(m.type, PROTO_AUTH_HELLO);
	assert_int_equal(m.agency, 7);
	assert_int_equal(proto_type_dir(PROTO_AUTH_HELLO), PROTO_REQUEST);
	assert_int_equal(proto_type_dir(PROTO_AUTH_PROOF), PROTO_REQUEST);
	assert_int_equal(proto_type_dir(PROTO_AUTH_CHALLENGE), PROTO_REPLY);
	assert_int_equal(dec("AuthProof:00ff00ff00ff00ff00ff00ff00ff00ff"
	    "00ff00ff00ff00ff00ff00ff00ff00fF", &m), 0);
	assert_int_equal(m.type, PROTO_AUTH_PROOF);
	assert_int_equal(m.token[0], 0x00);
	assert_int_equal(m.token[31], 0xff);
	assert_int_equal(dec("AuthProof:00ff", &m), -1);
	assert_string_equal(err, "want 64 hex digits");
	assert_int_equal(dec("AuthChallenge:", &m), -1);
	assert_int_equal(dec("AuthChallenge:00ff00ff00ff00ff00ff00ff00ff00ff"
	    "00ff00ff00ff00ff00ff00ff00ff00zz", &m), -1);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_AUTH_CHALLENGE;
	for (size_t i = 0; i < sizeof(m.token); i++)
		m.token[i] = (uint8_t)(i * 37);
	assert_true((len = proto_encode_msg(frame, &m)) ==
	    PROTO_HDR_LEN + strlen("AuthChallenge:") + 64);
	frame[len] = '\0';
	assert_int_equal(dec(frame + PROTO_HDR_LEN, &r), 0);
	assert_int_equal(r.type, PROTO_AUTH_CHALLENGE);
	assert_memory_equal(r.token, m.token, sizeof(m.token));
}

static void
test_round_trip(void **state)
{
	struct proto_msg	 m, r;
	struct bet		 two[2];
	static proto_doc	 docs[PROTO_DOCS_MAX];
	size_t			 i;

	(void)state;
	setbet(&two[0], "Ana", "Pérez", "30904465", "1999-03-17", 42);
	setbet(&two[1], "Juan", "Gómez", "1", "2000-01-01", 7574);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_STORE_BET, m.agency = 3, m.bets = two, m.nbets = 1;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.type, PROTO_STORE_BET);
	assert_int_equal(r.agency, 3);
	assert_int_equal(r.nbets, 1);
	assert_string_equal(r.bets[0].last, "Pérez");
	m.nbets = 2;
	assert_int_equal(trip(&m, &r), -2);	/* StoreBet holds one bet */
	m.type = PROTO_STORE_BATCH;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.type, PROTO_STORE_BATCH);
	assert_int_equal(r.nbets, 2);
	assert_int_equal(r.bets[1].number, 7574);
	m.type = PROTO_STORE_BATCH_AT, m.pos = 9007199254740992ULL;
	assert_int_equal(trip(&m, &r), 0);
	assert_true(r.pos == 9007199254740992ULL);
	assert_string_equal(r.bets[1].doc, "1");
	m.nbets = 0;
	assert_int_equal(trip(&m, &r), -2);	/* a batch is never empty */
	memset(&m, 0, sizeof(m));
	m.agency = 7;
	m.type = PROTO_AGENCY_CLOSE;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.agency, 7);
	m.type = PROTO_WINNERS_REQUEST;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.type, PROTO_WINNERS_REQUEST);
	m.type = PROTO_AGENCY_STATUS;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.type, PROTO_AGENCY_STATUS);
	m.type = PROTO_WINNERS_PAGE, m.pos = 12;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.agency, 7);
	assert_int_equal(r.pos, 12);
	m.type = PROTO_WINNERS_WAIT, m.pos = 3, m.wait_ms = PROTO_WAIT_MAX;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.type, PROTO_WINNERS_WAIT);
	assert_int_equal(r.agency, 7);
	assert_int_equal(r.pos, 3);
	assert_int_equal(r.wait_ms, PROTO_WAIT_MAX);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_ECHO, m.text = "a:b;ñ", m.textlen = strlen("a:b;ñ");
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.textlen, m.textlen);
	assert_memory_equal(r.text, m.text, m.textlen);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_STORE_RESPONSE, m.ok = 1;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.ok, 1);
	m.ok = 0;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.ok, 0);
	m.type = PROTO_STATUS_RESPONSE, m.stored = 1234, m.closed = 1;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.stored, 1234);
	assert_int_equal(r.closed, 1);
	m.type = PROTO_NOT_READY;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.type, PROTO_NOT_READY);
	memset(&m, 0, sizeof(m));
	strcpy(docs[0], "30904465");
	strcpy(docs[1], "Pérez");
	m.type = PROTO_WINNERS_RESPONSE, m.docs = docs, m.ndocs = 2;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.ndocs, 2);
	assert_string_equal(r.text, "30904465;Pérez");
	m.ndocs = 0;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.ndocs, 0);
	m.type = PROTO_WINNERS_PAGE_RESPONSE, m.total = 5;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.total, 5);
	assert_int_equal(r.ndocs, 0);
	m.ndocs = 2;
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.total, 5);
	assert_int_equal(r.ndocs, 2);
	assert_string_equal(r.text, "30904465;Pérez");
	/* The encoder refuses what the decoder would. */
	strcpy(docs[1], "a:b");
	assert_int_equal(trip(&m, &r), -2);
	m.total = PROTO_COUNT_MAX + 1, m.ndocs = 0;
	assert_int_equal(trip(&m, &r), -2);
	/* A frame holds what proto_docs_fit says, and no more. */
	for (i = 0; i < PROTO_DOCS_MAX; i++)
		snprintf(docs[i], sizeof(docs[i]), "%010zu", i);
	m.total = PROTO_DOCS_MAX, m.ndocs = PROTO_DOCS_MAX;
	m.ndocs = proto_docs_fit(&m);
	assert_true(m.ndocs < PROTO_DOCS_MAX);
	assert_int_equal(trip(&m, &r), 0);
	assert_int_equal(r.ndocs, m.ndocs);
	m.ndocs++;
	assert_int_equal(trip(&m, &r), -2);
	m.type = PROTO_WINNERS_RESPONSE, m.ndocs = PROTO_DOCS_MAX;
	m.ndocs = proto_docs_fit(&m);
	assert_int_equal(trip(&m, &r), 0);
	m.ndocs++;
	assert_int_equal(trip(&m, &r), -2);
}

static void
test_bad_payload(void **state)
{
	struct proto_msg	m;
	char			buf[64];

	(void)state;
	assert_int_equal(dec("Echo:\xc3(", &m), -1);
	assert_string_equal(err, "invalid UTF-8");
	assert_int_equal(dec("Echo:\xed\xa0\x80", &m), -1);
	memcpy(buf, "AgencyClose:1\0002", 15);
	assert_int_equal(proto_decode(buf, 15, &m, bets, 1, err,
	    sizeof(err)), -1);
}

static void
test_encode(void **state)
{
	char	out[PROTO_FRAME_MAX], big[PROTO_FRAME_MAX];
	size_t	n;

	(void)state;
	n = proto_encode(out, PROTO_STORE_RESPONSE, "0", 1);
	assert_int_equal(n, 17);
	assert_memory_equal(out, "\x00\x0fStoreResponse:0", 17);
	n = proto_encode(out, PROTO_NOT_READY, "", 0);
	assert_int_equal(n, 2 + 17);
	assert_memory_equal(out + 2, "NotReadyResponse:", 17);
	memset(big, 'x', sizeof(big));
	/* "Echo:" is 5 bytes: 8185 bytes of body fill the frame exactly. */
	n = proto_encode(out, PROTO_ECHO, big, PROTO_PAYLOAD_MAX - 5);
	assert_int_equal(n, PROTO_FRAME_MAX);
	assert_int_equal((unsigned char)out[0], 0x1f);
	assert_int_equal((unsigned char)out[1], 0xfe);
	assert_int_equal(proto_encode(out, PROTO_ECHO, big,
	    PROTO_PAYLOAD_MAX - 4), 0);
	assert_int_equal(proto_encode(out, PROTO_UNKNOWN, "", 0), 0);
}

static void
test_bet_format(void **state)
{
	struct bet	b;
	char		dst[128];

	(void)state;
	setbet(&b, "Ana", "Pérez", "30904465", "1999-03-17", 42);
	assert_int_equal(proto_bet_format(&b, dst, sizeof(dst)),
	    strlen("Ana;Pérez;30904465;1999-03-17;42"));
	assert_string_equal(dst, "Ana;Pérez;30904465;1999-03-17;42");
	assert_int_equal(proto_bet_format(&b, dst, 10), 0);
}

static void
test_read_frame(void **state)
{
	int	sv[2];
	char	payload[PROTO_PAYLOAD_MAX + 1], out[PROTO_FRAME_MAX];
	size_t	n;

	(void)state;
	/* Two frames back to back, then a clean close. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	n = proto_encode(out, PROTO_ECHO, "hola", 4);
	assert_int_equal(proto_write_frame(sv[0], out, n), 0);
	assert_int_equal(proto_write_frame(sv[0], out, n), 0);
	close(sv[0]);
	assert_int_equal(proto_read_frame(sv[1], payload, sizeof(payload)), 9);
	assert_string_equal(payload, "Echo:hola");
	assert_int_equal(proto_read_frame(sv[1], payload, sizeof(payload)), 9);
	assert_int_equal(proto_read_frame(sv[1], payload, sizeof(payload)), 0);
	close(sv[1]);

	/* One header byte, then close. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], "\x00", 1), 1);
	close(sv[0]);
	assert_int_equal(proto_read_frame(sv[1], payload, sizeof(payload)), -2);
	close(sv[1]);

	/* Length 0. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], "\x00\x00", 2), 2);
	assert_int_equal(proto_read_frame(sv[1], payload, sizeof(payload)), -2);
	close(sv[0]);
	close(sv[1]);

	/* Length 8191. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], "\x1f\xff", 2), 2);
	assert_int_equal(proto_read_frame(sv[1], payload, sizeof(payload)), -2);
	close(sv[0]);
	close(sv[1]);

	/* Body cut short. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], "\x00\x0a" "Echo:", 7), 7);
	close(sv[0]);
	assert_int_equal(proto_read_frame(sv[1], payload, sizeof(payload)), -2);
	close(sv[1]);

	/* I/O error: not a socket we can read. */
	assert_int_equal(proto_read_frame(-1, payload, sizeof(payload)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_winners_wait),
		cmocka_unit_test(test_busy_refused),
		cmocka_unit_test(test_reply_status),
		cmocka_unit_test(test_reply_store),
		cmocka_unit_test(test_reply_page),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_batch_roundtrip),
		cmocka_unit_test(test_batch_base),
		cmocka_unit_test(test_batch_full),
		cmocka_unit_test(test_store_bet),
		cmocka_unit_test(test_store_batch),
		cmocka_unit_test(test_store_batch_at),
		cmocka_unit_test(test_agency_only),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_bad_payload),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_bet_format),
		cmocka_unit_test(test_read_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
