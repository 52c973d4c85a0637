/*
 * Log capture: each child's stderr arrives on a pipe; logcap splits it
 * into lines (bounded length), forwards each line to the supervisor's own
 * stderr with a single write(2) (so lines from many children never
 * interleave mid-line), and keeps the newest lines in a ring for
 * `viralctl logs`.
 *
 * Lines that are already logfmt with an actor= field pass through as they
 * are; anything else (a sanitizer report, a printf) is wrapped into a
 * logfmt line naming the actor.
 */
#ifndef VIRALSUP_SUPERVISOR_LOGCAP_H
#define VIRALSUP_SUPERVISOR_LOGCAP_H

#include <stddef.h>
#include <stdint.h>

/* A line longer than this is cut and forwarded in pieces. */
#define LOGCAP_LINE_MAX 4096

struct logring;

/* A ring of at most cap lines (cap >= 1). Free with logring_free. */
struct logring *logring_new(size_t cap);
void logring_free(struct logring *r);

/* One stored line: seq grows by one per line, from 1. */
struct logline {
	uint64_t seq;
	char *actor; /* owned by the ring */
	char *text;  /* the forwarded line, without its newline; owned by the ring */
};

/*
 * Calls fn for the newest n lines with seq > after whose actor is actor
 * or a member of the pool actor (every actor when actor is NULL), oldest first. Lines are the
 * ring's: valid during the call only.
 */
void logring_each(const struct logring *r, const char *actor, size_t n, uint64_t after,
                  void (*fn)(const struct logline *l, void *arg), void *arg);
/* The seq of the newest line (0 when empty). */
uint64_t logring_last_seq(const struct logring *r);

/* Per-child line assembler. */
struct logcap {
	char actor[64];
	char buf[LOGCAP_LINE_MAX];
	size_t len;
	struct logring *ring; /* not owned */
	int out_fd;           /* where lines go (the supervisor's stderr) */
};

void logcap_init(struct logcap *lc, const char *actor, struct logring *ring, int out_fd);
/* Feeds bytes read from the child's pipe; emits every complete line. */
void logcap_feed(struct logcap *lc, const char *data, size_t len);
/* Emits a held partial line (the child exited without a final newline). */
void logcap_flush(struct logcap *lc);

/* Emits one line as if the actor had written it (used for the wrapped
 * form and by tests). */
void logcap_emit(struct logcap *lc, const char *line, size_t len);

#endif
