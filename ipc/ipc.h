/*
 * ipc: what every viralsup process links.
 *
 * A viralsup process is one libev loop. It talks to the others through
 * Unix-domain stream sockets in the run directory (mode 0700), carrying
 * frames: a 4-byte length, then one msgpack map, the envelope
 * {type, id, re, body}. Anything malformed closes that one connection
 * with a logged reason; nothing crashes.
 *
 *   log.h     one logfmt line per event on stderr; x-allocators
 *   frame.h   length prefix, maximum frame size
 *   msg.h     the message catalogue, envelope encode/decode, body fields
 *   conn.h    connections (bounded output, request/reply with timeout),
 *             listeners (peer uid checked), links (reconnect with backoff)
 *   config.h  the INI file + environment, every key declared once
 *   actor.h   the runtime an actor's main() calls: parent channel,
 *             readiness, signals, exit when the supervisor goes away
 *
 * A minimal actor:
 *
 *   int main(int argc, char **argv) {
 *           struct actor a;
 *           actor_init(&a, "writer", argc, argv);
 *           ... listeners, links, watchers on a.loop ...
 *           actor_ready(&a);
 *           int code = actor_run(&a);
 *           actor_cleanup(&a);
 *           return code;
 *   }
 */
#ifndef VIRALSUP_IPC_H
#define VIRALSUP_IPC_H

#include "ipc/actor.h"
#include "ipc/config.h"
#include "ipc/conn.h"
#include "ipc/frame.h"
#include "ipc/log.h"
#include "ipc/msg.h"

#endif
