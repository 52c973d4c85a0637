/*
 * libFuzzer target: bytes as they would arrive on a socket, through the
 * frame check and the envelope decoder, with every body accessor tried.
 */
#include <stddef.h>
#include <stdint.h>

#include "ipc/frame.h"
#include "ipc/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_zone zone;
	size_t off = 0;

	msgpack_zone_init(&zone, 1024);
	while (off < size) {
		uint32_t plen;
		struct msg m;
		const char *why;
		int r = frame_check(data + off, size - off, 64 * 1024, &plen);
		if (r <= 0)
			break;
		if (msg_decode((const char *)data + off + FRAME_PREFIX, plen, &zone, &m, &why) ==
		    0) {
			const char *s;
			size_t len;
			int64_t i;
			bool b;
			double d;
			char buf[32];
			msg_get_str(m.body, "name", &s, &len);
			msg_get_int(m.body, "index", &i);
			msg_get_bool(m.body, "ok", &b);
			msg_get_double(m.body, "x", &d);
			msg_copy_str(m.body, "job", buf, sizeof buf);
			free(msg_dup_str(m.body, "reason"));
		}
		msgpack_zone_clear(&zone);
		off += FRAME_PREFIX + plen;
	}
	msgpack_zone_destroy(&zone);
	return 0;
}
