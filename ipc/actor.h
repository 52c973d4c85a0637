/*
 * The small runtime every actor's main() calls. The supervisor starts an
 * actor with its end of a socketpair on fd 3 (VIRALSUP_PARENT_FD) and the
 * run directory in VIRALSUP_RUN_DIR. actor_init sets the process title
 * ("viralsup: fetcher[1]"), asks for SIGTERM if the parent dies, resets
 * signal state, and opens the parent channel; actor_ready tells the
 * supervisor the actor can serve; actor_run runs the loop until SIGTERM,
 * SIGINT or EOF on the parent channel (the parent is gone).
 *
 * Without VIRALSUP_PARENT_FD the actor runs standalone (for tests).
 */
#ifndef VIRALSUP_IPC_ACTOR_H
#define VIRALSUP_IPC_ACTOR_H

#include <ev.h>
#include <stdbool.h>

#include "ipc/config.h"
#include "ipc/conn.h"

/* Exit codes with meaning for the supervisor (after s6). */
enum {
	EXIT_PERMANENT = 100, /* do not restart: configuration or environment is wrong */
	EXIT_TEMPORARY = 111, /* restart after backoff */
};

struct actor {
	struct ev_loop *loop;
	char name[64];     /* "fetcher[1]", or "scheduler" */
	char role[32];     /* "fetcher" */
	int index;         /* position in a pool, 0 otherwise */
	char run_dir[256]; /* where sockets live */
	struct config *config;
	struct conn *parent; /* NULL when standalone */

	/* Optional hooks, set before actor_run. */
	void *ud;
	/* PEER_UP / PEER_DOWN from the supervisor (reason: "ready", "signal 9 (Killed)",
	 * "exit 3", "hung (no answer in 5000 ms)", ...). */
	void (*on_peer)(struct actor *a, const char *name, const char *role, int index, int pid,
	                bool up, const char *reason);
	/* Any other message from the supervisor (e.g. CONTROL forwarded to us). */
	void (*on_parent_msg)(struct actor *a, const struct msg *m);
	/* Called once on SIGTERM/SIGINT/parent EOF before the loop stops;
	 * an actor that needs to drain may keep the loop alive and call
	 * actor_stop() later. */
	void (*on_stop)(struct actor *a);

	int exit_code;
	ev_signal sigterm, sigint, sighup;
	bool stopping;
};

/*
 * Parses "--index N" from argv, reads the environment and the config file
 * (VIRALSUP_CONFIG), opens the parent channel. On a bad configuration it
 * prints the reason and exits EXIT_PERMANENT.
 */
void actor_init(struct actor *a, const char *role, int argc, char **argv);
/* Sends READY to the supervisor (no-op standalone). */
void actor_ready(struct actor *a);
/* A worker's hello to the scheduler: CREDIT {name, role, slots}, the
 * number of requests it takes at once. */
void actor_offer_slots(const struct actor *a, struct conn *c, int slots);
/* Runs the loop; returns the exit code for main(). */
int actor_run(struct actor *a);
/* Leaves the loop with code. */
void actor_stop(struct actor *a, int code);
/* run_dir/<name>.sock, malloc'd (caller frees). */
char *actor_socket_path(const struct actor *a, const char *name);
/* Frees what actor_init allocated (after actor_run). */
void actor_cleanup(struct actor *a);

#endif
