/*
 * FETCH_ACCOUNT's deadline_ms, checked like every other field of a message:
 * a wrong type or an impossible value is reported, never trusted.
 */
#include <errno.h>
#include <stdio.h>

#include "actors/fetcher/deadline.h"
#include "ipc/msg.h"

int fetch_budget_read(const msgpack_object *body, int64_t *budget_ms, char *why, size_t whylen)
{
	int64_t v = 0;
	int rc = msg_get_int(body, "deadline_ms", &v);

	*budget_ms = 0;
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		snprintf(why, whylen, "deadline_ms is not an integer of 64 bits");
		return -EINVAL;
	}
	if (v <= 0) {
		snprintf(why, whylen, "deadline_ms %lld is not positive", (long long)v);
		return -EINVAL;
	}
	if (v > FETCH_BUDGET_MAX_MS) {
		snprintf(why, whylen, "deadline_ms %lld is over the maximum %lld", (long long)v,
		         FETCH_BUDGET_MAX_MS);
		return -EINVAL;
	}
	*budget_ms = v;
	return 0;
}
