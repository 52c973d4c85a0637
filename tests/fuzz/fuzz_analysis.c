/*
 * Fuzz target for the analysis engine: arbitrary bytes parsed as JSON (NUL
 * escapes allowed) and analysed. Beyond "no crash, no hang, no leak" it
 * checks the engine's promises: a rejection comes with a message; a
 * success is deterministic (a second run gives the same bytes) and its
 * output re-parses (valid UTF-8) without any \u0000 (PostgreSQL jsonb
 * rejects it).
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether any string (key or value) under j holds a NUL byte. */
static int has_nul(const json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_string(j))
		return strlen(json_string_value(j)) != json_string_length(j);
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v) if (has_nul(v)) return 1;
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) if (has_nul(v)) return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *in = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &jerr);
	if (!in)
		return 0;
	json_t *out = NULL;
	char err[256];
	int rc = analysis_run(in, &out, err, sizeof(err));
	if (rc != 0) {
		if (rc != -EINVAL || out || !err[0])
			abort();
		json_decref(in);
		return 0;
	}
	char *a = json_dumps(out, JSON_SORT_KEYS);
	json_t *out2 = NULL;
	if (!a || analysis_run(in, &out2, err, sizeof(err)) != 0)
		abort();
	char *b = json_dumps(out2, JSON_SORT_KEYS);
	if (!b || strcmp(a, b) != 0)
		abort(); /* not deterministic */
	json_t *back = json_loads(a, 0, &jerr);
	if (!back || has_nul(back))
		abort(); /* invalid UTF-8 or NUL in the output */
	json_decref(back);
	free(a);
	free(b);
	json_decref(out);
	json_decref(out2);
	json_decref(in);
	return 0;
}
