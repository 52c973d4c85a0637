/*
 * Length-prefixed frames. See frame.h.
 */
#include "ipc/frame.h"

#include <errno.h>

int frame_check(const uint8_t *buf, size_t have, uint32_t max, uint32_t *payload_len)
{
	uint32_t len;

	if (have < FRAME_PREFIX)
		return 0;
	len = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	/* Judge the announced length before waiting for the bytes: a peer
	 * announcing 4 GiB must not make us buffer anything. */
	if (len == 0)
		return -EBADMSG;
	if (len > max)
		return -EMSGSIZE;
	if (have - FRAME_PREFIX < len)
		return 0;
	*payload_len = len;
	return 1;
}

void frame_put_len(uint8_t *dst, uint32_t len)
{
	dst[0] = (uint8_t)(len >> 24);
	dst[1] = (uint8_t)(len >> 16);
	dst[2] = (uint8_t)(len >> 8);
	dst[3] = (uint8_t)len;
}
