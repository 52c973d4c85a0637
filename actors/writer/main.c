/*
 * The writer actor: SKELETON. It starts, serves PING on its socket and
 * stops cleanly; the real writer replaces this file.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ipc/ipc.h"

static void on_msg(struct conn *c, const struct msg *m, void *ud)
{
	(void)ud;
	if (m->type == MSG_PING) {
		struct msg_out out;
		msg_out_init(&out, MSG_PONG, m->id, 0);
		conn_send(c, &out);
		msg_out_free(&out);
		return;
	}
	log_warn("ignoring %s from %s (skeleton)", msg_type_name(m->type), conn_peer(c));
}

static void on_close(struct conn *c, const char *reason, void *ud)
{
	(void)c;
	(void)reason;
	(void)ud;
}

static const struct conn_ops ops = {.on_msg = on_msg, .on_close = on_close};

int main(int argc, char **argv)
{
	struct actor a;
	actor_init(&a, "writer", argc, argv);
	char *path = actor_socket_path(&a, "writer");
	struct listener *l = listener_new(a.loop, path, 64, &ops, NULL, NULL);
	if (!l) {
		log_error("cannot listen on %s: %m", path);
		free(path);
		actor_cleanup(&a);
		return EXIT_TEMPORARY;
	}
	free(path);
	actor_ready(&a);
	int code = actor_run(&a);
	listener_free(l);
	actor_cleanup(&a);
	return code;
}
