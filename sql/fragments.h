/*
 * SQL fragments shared by the statements of sql/ (internal to sql/): the
 * definitions of a "due" and a "stuck" job, written once. The claim in
 * queue.c applies the same rules (and says why a row was stale).
 */
#ifndef VIRALSUP_SQL_FRAGMENTS_H
#define VIRALSUP_SQL_FRAGMENTS_H

/* Pending and due now. Table alias q. */
#define SQL_DUE \
	"(q.status = 'pending' AND (q.next_attempt_at IS NULL OR q.next_attempt_at <= now()))"

/* Processing with an expired lease, a dead or stopped owner, or a lease-less
 * (legacy) row older than $N milliseconds. Table alias q. */
#define SQL_STUCK(N)                                                                     \
	"(q.status = 'processing' AND (q.lease_expires_at < now()"                       \
	" OR (q.lease_token IS NULL AND COALESCE(q.started_processing_at, q.updated_at," \
	"  q.submitted_at) < now() - $" N "::int * interval '1 millisecond')"            \
	" OR EXISTS (SELECT 1 FROM owners o WHERE o.id = q.lease_owner"                  \
	"  AND (o.stopped_at IS NOT NULL OR o.heartbeat_at + o.heartbeat_expiry < now()))))"

#endif
