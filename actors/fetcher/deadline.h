/*
 * The scheduler's unit deadline inside the fetcher.
 *
 * FETCH_ACCOUNT carries deadline_ms: how long the scheduler waits for the
 * FETCH_DONE before it gives the unit to another fetcher and marks this one
 * slow. The fetcher turns it into an absolute time on its loop's clock at
 * receipt (fetch_deadline_at) and keeps every provider request of that unit
 * inside it: an attempt's timeout is at most the time left, and a retry
 * whose wait (backoff or Retry-After) would end past it is not made; the
 * unit then ends at once as a transient failure, which the scheduler treats
 * as the account's provider failure (a release of the job with backoff).
 *
 * The arithmetic is inline (the rapidapi transport uses it and links no
 * ipc); fetch_budget_read, which reads the field from a message, is in
 * deadline.c and needs the ipc library.
 */
#ifndef VIRALSUP_FETCHER_DEADLINE_H
#define VIRALSUP_FETCHER_DEADLINE_H

#include <msgpack.h>
#include <stdint.h>

/* Budgets outside 1 ms .. 24 h are not the scheduler's (its largest is
 * fetcher.timeout_ms's maximum x 4 + 10 s, about 40 min): ignored. */
#define FETCH_BUDGET_MAX_MS (24LL * 3600 * 1000)

/* The part of the budget kept back: 10 %, at most 1 s. */
#define FETCH_MARGIN_MAX_MS 1000LL

/*
 * Reads FETCH_ACCOUNT's deadline_ms from body into *budget_ms. Returns 0
 * with the budget (1 .. FETCH_BUDGET_MAX_MS), 0 with *budget_ms = 0 when the
 * field is absent or nil (a scheduler from before the field: no deadline),
 * or -EINVAL with *budget_ms = 0 and a reason in why (not an integer,
 * <= 0, over the maximum) for the caller to log; the unit then runs without
 * a deadline, as it did before the field existed.
 */
int fetch_budget_read(const msgpack_object *body, int64_t *budget_ms, char *why, size_t whylen);

/*
 * The absolute deadline (seconds on the clock of now, e.g. ev_now) of a unit
 * received at now with budget_ms (> 0), or 0 (none) for budget_ms <= 0.
 *
 * The clock starts at receipt, a little after the scheduler's started at its
 * send, and after the last provider answer the fetcher still writes the
 * content (a writer round trip) and sends FETCH_DONE. A margin of 10 % of the
 * budget, at most 1 s, keeps the answer ahead of the scheduler's timer: 1 s
 * is hundreds of such local round trips, and 10 % keeps a short budget (a
 * test's, or a small fetcher.timeout_ms) from being eaten by the margin.
 */
static inline double fetch_deadline_at(double now, int64_t budget_ms)
{
	if (budget_ms <= 0)
		return 0;
	int64_t margin =
	    budget_ms / 10 < FETCH_MARGIN_MAX_MS ? budget_ms / 10 : FETCH_MARGIN_MAX_MS;
	return now + (double)(budget_ms - margin) / 1000.0;
}

/* Milliseconds left before deadline at now (0 once it passed); -1 for no
 * deadline (deadline 0). */
static inline long fetch_deadline_left_ms(double deadline, double now)
{
	if (deadline <= 0)
		return -1;
	double left = (deadline - now) * 1000.0;
	return left > 0 ? (long)left : 0;
}

/* The timeout of an attempt starting at now: timeout_ms (> 0), shortened to
 * the time left. 0 when the deadline has passed (make no attempt). */
static inline long fetch_attempt_timeout_ms(double deadline, double now, long timeout_ms)
{
	long left = fetch_deadline_left_ms(deadline, now);
	if (left < 0 || left >= timeout_ms)
		return timeout_ms;
	return left;
}

/* True when a retry after delay_ms from now still starts before the
 * deadline (always, without one). */
static inline int fetch_deadline_allows(double deadline, double now, long delay_ms)
{
	long left = fetch_deadline_left_ms(deadline, now);
	return left < 0 || delay_ms < left;
}

#endif
