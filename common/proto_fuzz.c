/*
 * proto_fuzz: libFuzzer entry for the parsers that see untrusted bytes:
 * the request decoder, the CSV splitter and the frame reader.  Built and
 * run by `make fuzz` (clang); any crash or sanitizer report is a bug.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "io.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct bet	bets[PROTO_BATCH_MAX];

static void
fuzz_frame(const uint8_t *data, size_t len)
{
	char	payload[PROTO_PAYLOAD_MAX + 1];
	int	sv[2];

	if (len > 16384 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return;
	if (io_write_full(sv[0], data, len) == 0) {
		close(sv[0]);
		while (proto_read_frame(sv[1], payload, sizeof(payload)) > 0)
			;
	} else
		close(sv[0]);
	close(sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char			buf[PROTO_PAYLOAD_MAX + 1], *f[8], err[128];
	struct proto_msg	m;

	if (len > PROTO_PAYLOAD_MAX)
		len = PROTO_PAYLOAD_MAX;
	memcpy(buf, data, len);
	buf[len] = '\0';
	proto_decode(buf, len, &m, bets, PROTO_BATCH_MAX, err, sizeof(err));
	memcpy(buf, data, len);
	buf[len] = '\0';
	csv_split(buf, f, 8);
	fuzz_frame(data, len);
	return 0;
}
