/*
 * proto: the wire codec.  A frame is a 2-byte big-endian length L
 * (1..PROTO_PAYLOAD_MAX) followed by L bytes of UTF-8 payload "Type:Body".
 * This module turns payloads into typed messages and back; it does no I/O
 * beyond the two frame helpers and never logs: errors come back as a code
 * and a short reason string.
 */
#ifndef PROTO_H
#define PROTO_H

#include <sys/types.h>

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "bet.h"

#define PROTO_FRAME_MAX		8192
#define PROTO_HDR_LEN		2
#define PROTO_PAYLOAD_MAX	(PROTO_FRAME_MAX - PROTO_HDR_LEN)
/* The shortest bet "a;b;c;0001-01-01;0" plus its ':' is 19 bytes. */
#define PROTO_BATCH_MAX		(PROTO_PAYLOAD_MAX / 19 + 1)

enum proto_type {
	PROTO_UNKNOWN,
	PROTO_STORE_BET,	/* StoreBet:agency;first;last;doc;birth;number */
	PROTO_STORE_BATCH,	/* StoreBatch:agency:bet:bet... */
	PROTO_STORE_BATCH_AT,	/* StoreBatchAt:agency:pos:bet:bet... */
	PROTO_AGENCY_CLOSE,	/* AgencyClose:agency */
	PROTO_WINNERS_REQUEST,	/* WinnersRequest:agency */
	PROTO_AGENCY_STATUS,	/* AgencyStatus:agency */
	PROTO_ECHO,		/* Echo:text */
	PROTO_WINNERS_PAGE,	/* WinnersPage:agency:start */
	PROTO_STORE_RESPONSE,	/* StoreResponse:0|1 */
	PROTO_WINNERS_RESPONSE,	/* WinnersResponse:doc;doc... */
	PROTO_NOT_READY,	/* NotReadyResponse: */
	PROTO_STATUS_RESPONSE,	/* AgencyStatusResponse:stored;closed */
	PROTO_WINNERS_PAGE_RESPONSE, /* WinnersPageResponse:total;doc;doc... */
	PROTO_AUTH_HELLO,	/* AuthHello:agency */
	PROTO_AUTH_CHALLENGE,	/* AuthChallenge:nonce (64 hex digits) */
	PROTO_AUTH_PROOF,	/* AuthProof:mac (64 hex digits) */
	PROTO_WINNERS_WAIT,	/* WinnersWait:agency:start:wait_ms */
	PROTO_BUSY,		/* BusyResponse:retry_ms */
	PROTO_AUTH_REFUSED	/* AuthRefused:reason */
};

/*
 * Why a handshake was refused for good (AuthRefused): the client stops
 * instead of retrying, since asking again cannot change the answer.
 */
#define PROTO_REFUSED_NOT_CONFIGURED	"not_configured"
#define PROTO_REFUSED_WRONG_KEY		"wrong_key"
#define PROTO_REFUSED_REVOKED		"revoked"

/* A request or a reply: the server's handlers, the client and lotteryctl
 * read each other's messages only through this table's codecs. */
enum proto_dir {
	PROTO_REQUEST,
	PROTO_REPLY
};

#define PROTO_COUNT_MAX	(1ULL << 53)	/* largest count a reply may carry */
#define PROTO_WAIT_MAX	60000		/* longest WinnersWait, in ms */
/* The most documents one frame can carry: one byte and a ';' each. */
#define PROTO_DOCS_MAX	(PROTO_PAYLOAD_MAX / 2 + 1)

/* One winner's document, NUL-terminated. */
typedef char proto_doc[BET_DOC_MAX + 1];

/*
 * A message, typed.  Decoding fills the fields of its type (strings point
 * into the caller's payload buffer, bets into the caller's array);
 * encoding reads them.
 */
struct proto_msg {
	enum proto_type	 type;
	uint32_t	 agency;	/* requests */
	uint64_t	 pos;		/* StoreBatchAt; WinnersPage's and
					   WinnersWait's start */
	uint32_t	 wait_ms;	/* WinnersWait: longest wait;
					   BusyResponse: retry after */
	const struct bet *bets;		/* StoreBet, StoreBatch[At] */
	size_t		 nbets;
	int		 ok;		/* StoreResponse: 1 for "0" (stored) */
	uint64_t	 stored;	/* AgencyStatusResponse */
	int		 closed;
	uint64_t	 total;		/* WinnersPageResponse */
	const proto_doc	*docs;		/* encoding Winners[Page]Response */
	size_t		 ndocs;		/* documents encoded or decoded */
	const char	*text;		/* Echo text; AuthRefused reason;
					   decoded documents "a;b" */
	size_t		 textlen;
	uint8_t		 token[AUTH_MAC_LEN]; /* AuthChallenge's nonce,
					   AuthProof's MAC */
};

/* Name of a type as it appears on the wire ("StoreBatch"), or "Unknown". */
const char *proto_type_name(enum proto_type);
/* Whether a known type is a request or a reply; -1 for PROTO_UNKNOWN. */
int	 proto_type_dir(enum proto_type);

/*
 * Decode payload[0..len) in place (it is modified; it must have room for a
 * NUL at payload[len]).  Bets of StoreBet/StoreBatch/StoreBatchAt go into
 * bets[0..cap).  Replies are strict: a count is digits only and bounded, a
 * flag is exactly 0 or 1, a document is what the server could have
 * stored, and nothing may come before or after.  Returns 0, or -1 with a
 * reason in err (m->type is still set when the type was known); a batch
 * with any invalid bet is rejected whole.
 */
int	 proto_decode(char *payload, size_t len, struct proto_msg *m,
	    struct bet *bets, size_t cap, char *err, size_t errlen);

/*
 * Encode m as a frame at out (header included) through its type's body
 * encoder.  Returns the frame length, or 0 when it would not fit in
 * PROTO_FRAME_MAX or m is not well formed.
 */
size_t	 proto_encode_msg(char out[PROTO_FRAME_MAX], const struct proto_msg *m);
/*
 * proto_encode_msg with the caller's scratch for the body, for a thread
 * that should not put 8 KiB more on its stack.
 */
size_t	 proto_encode_with(char out[PROTO_FRAME_MAX], const struct proto_msg *m,
	    char body[PROTO_PAYLOAD_MAX + 1]);
/*
 * How many of m->docs[0..m->ndocs) fit whole in one frame of m->type
 * (WinnersResponse, or WinnersPageResponse with m->total).
 */
size_t	 proto_docs_fit(const struct proto_msg *m);

/*
 * Encode "Type:body" into a frame at out (header included), the body
 * given as text.  Returns the frame length, or 0 when it would not fit in
 * PROTO_FRAME_MAX.
 */
size_t	 proto_encode(char out[PROTO_FRAME_MAX], enum proto_type,
	    const char *body, size_t bodylen);
/*
 * A batch under construction, framed and ready to send.  proto_batch_add
 * returns -1 when the bet would push the frame past PROTO_FRAME_MAX; the
 * caller then sends the batch and starts a new one.
 */
struct proto_batch {
	char		 frame[PROTO_FRAME_MAX];
	size_t		 len;		/* bytes used in frame, header included */
	size_t		 count;		/* bets in it */
	uint64_t	 pos;		/* position of its first bet */
};
void	 proto_batch_init(struct proto_batch *, uint32_t agency, uint64_t pos);
/*
 * The same as a base-protocol StoreBatch, which carries no position; pos
 * is kept in the batch for the caller only.
 */
void	 proto_batch_init_base(struct proto_batch *, uint32_t agency,
	    uint64_t pos);
int	 proto_batch_add(struct proto_batch *, const struct bet *);
/* Writes the length header; returns the frame length to send. */
size_t	 proto_batch_finish(struct proto_batch *);

/* "first;last;doc;birth;number" into dst; returns length or 0 if no room. */
size_t	 proto_bet_format(const struct bet *, char *dst, size_t cap);

/*
 * Read one frame from a blocking socket into payload (cap >= PROTO_PAYLOAD_MAX+1,
 * NUL-terminated).  Returns payload length, 0 when the peer closed cleanly
 * before a frame began, -1 on I/O error (errno) and -2 on a bad length or
 * a frame cut short.
 */
ssize_t	 proto_read_frame(int fd, char *payload, size_t cap);
/*
 * The same, with the whole frame due by deadline, giving up when *stop is
 * set (stop may be NULL; see io_read_until).
 */
ssize_t	 proto_read_frame_until(int fd, char *payload, size_t cap,
	    long long deadline, volatile sig_atomic_t *stop);
/* Send one whole frame.  0 or -1 (errno). */
int	 proto_write_frame(int fd, const char *frame, size_t len);

#endif
