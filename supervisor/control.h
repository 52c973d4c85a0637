/*
 * The control socket (run_dir/control.sock): viralctl's way in.
 *
 * Request:  CONTROL       {v: 1, cmd: "status" | "restart" | ..., <args as fields>}
 * Reply:    CONTROL_REPLY {ok: bool, error: str|nil, code: str|nil, data: any}
 *
 * The supervisor answers status, restart, stop, start, kill and logs
 * itself. Any other cmd is forwarded unchanged to the scheduler over its
 * parent channel (so jobs, queue, trigger ... live there), and the
 * scheduler's CONTROL_REPLY is relayed back. Error codes are stable
 * strings viralctl maps to exit codes: bad_request, bad_version,
 * unknown_command, unknown_actor, timeout, unavailable.
 * docs/viralctl.md documents every command.
 */
#ifndef VIRALSUP_SUPERVISOR_CONTROL_H
#define VIRALSUP_SUPERVISOR_CONTROL_H

#include "supervisor/child.h"

#define CONTROL_VERSION  1
#define VIRALSUP_VERSION "0.1.0"

struct control;

/* Listens on path. NULL with errno set when it cannot. Free with control_free. */
struct control *control_new(struct sup *s, const char *path);
/* Listens again if control.sock was deleted or replaced: 0 when it is still ours, 1 when
 * recreated, -errno when it cannot be (logged). */
int control_socket_check(struct control *ctl);
/* A CONTROL an actor sent on its channel (c's conn): status is answered
 * as on control.sock; from the gateway, scheduler, pause and resume are
 * forwarded to the scheduler as viralctl's are; anything else is refused
 * with unknown_command. */
void control_answer_child(struct child *c, struct conn *conn, const struct msg *m);
/* Stops listening, closes client connections. */
void control_free(struct control *ctl);

#endif
