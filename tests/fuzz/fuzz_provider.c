/*
 * Fuzz target for the provider answer parsers: the first byte picks the
 * parser (profile, reels page, transcript), the rest is the answer body.
 * Any input must give 0 or a negative code with a reason; never a crash, a
 * leak, or output that breaks the normalised document's promises (valid
 * UTF-8, capped strings).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/fetcher/provider.h"

static void check_strings(json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach(v, k, x) check_strings(x);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) check_strings(x);
	} else if (json_is_string(v)) {
		/* No NUL inside, bounded by the largest cap. */
		if (strlen(json_string_value(v)) != json_string_length(v) ||
		    json_string_length(v) > PROVIDER_MAX_TRANSCRIPT)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reason[256];
	if (size < 1)
		return 0;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	reason[0] = '\0';
	switch (data[0] % 3) {
	case 0: {
		json_t *p = NULL;
		int rc = provider_parse_profile(body, len, &p, reason, sizeof(reason));
		if ((rc == 0) != (p != NULL) || (rc && !reason[0]))
			abort();
		check_strings(p);
		json_decref(p);
		break;
	}
	case 1: {
		json_t *reels = json_array();
		char *next = NULL;
		int skipped = 0;
		int rc =
		    provider_parse_reels(body, len, reels, &next, &skipped, reason, sizeof(reason));
		if (rc && (!reason[0] || next))
			abort();
		if (json_array_size(reels) > PROVIDER_MAX_PAGE_REELS)
			abort();
		check_strings(reels);
		free(next);
		json_decref(reels);
		break;
	}
	default: {
		json_t *t = NULL;
		int rc = provider_parse_transcript(body, len, &t, reason, sizeof(reason));
		if (rc && (t || !reason[0]))
			abort();
		check_strings(t);
		json_decref(t);
		break;
	}
	}
	return 0;
}
