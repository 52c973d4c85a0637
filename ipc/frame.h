/*
 * Framing on SOCK_STREAM sockets: a 4-byte big-endian length, then that
 * many bytes holding one msgpack object. A frame is never empty and never
 * longer than the connection's maximum (default FRAME_MAX_DEFAULT).
 */
#ifndef VIRALSUP_IPC_FRAME_H
#define VIRALSUP_IPC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_PREFIX      4
#define FRAME_MAX_DEFAULT (1024u * 1024u)

/*
 * Looks at the bytes received so far. Returns 1 and sets *payload_len
 * when a whole frame is in buf, 0 when more bytes are needed, -EMSGSIZE
 * when the announced length exceeds max, -EBADMSG for a zero length.
 */
int frame_check(const uint8_t *buf, size_t have, uint32_t max, uint32_t *payload_len);

/* Writes the length prefix for a payload of len bytes into dst[0..3]. */
void frame_put_len(uint8_t *dst, uint32_t len);

#endif
