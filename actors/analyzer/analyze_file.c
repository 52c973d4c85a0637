/*
 * viralsup-analyze: runs the analysis on one engine input document
 * (engine.h) and prints the output, without the pipeline.
 *
 *   viralsup-analyze [--engine rules|llm] [FILE]   (stdin without FILE)
 *
 * The llm engine takes the same llm.* keys and environment as the actor
 * (VIRALSUP_LLM_BASE_URL, VIRALSUP_LLM_MODEL, VIRALSUP_LLM_API_KEY, ...); no
 * cache. Used by `make quality` (scripts/quality.py) and to read what a
 * prompt change does. Exit status 0, or 1 on bad input / configuration.
 */
#include <ev.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/engine.h"
#include "actors/analyzer/llm.h"
#include "ipc/config.h"

static void on_done(struct llm_job *j, void *arg)
{
	(void)j;
	*(bool *)arg = true;
}

int main(int argc, char **argv)
{
	const char *engine = NULL, *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--engine") && i + 1 < argc)
			engine = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "usage: viralsup-analyze [--engine rules|llm] [FILE]\n");
			return 1;
		} else
			path = argv[i];
	}
	char err[300];
	struct config *cfg = config_load(NULL, err, sizeof err);
	if (!cfg) {
		fprintf(stderr, "viralsup-analyze: %s\n", err);
		return 1;
	}
	if (!engine)
		engine = config_str(cfg, "analyzer.engine");
	if (strcmp(engine, "rules") && strcmp(engine, "llm")) {
		fprintf(stderr, "viralsup-analyze: engine must be rules or llm\n");
		config_free(cfg);
		return 1;
	}
	json_error_t jerr;
	json_t *in = path && strcmp(path, "-") ? json_load_file(path, 0, &jerr)
	                                       : json_loadf(stdin, 0, &jerr);
	json_t *out = NULL;
	if (!in) {
		fprintf(stderr, "viralsup-analyze: %s: %s\n", path ? path : "stdin", jerr.text);
		config_free(cfg);
		return 1;
	}
	if (analysis_run(in, &out, err, sizeof err) < 0) {
		fprintf(stderr, "viralsup-analyze: %s\n", err);
		json_decref(in);
		config_free(cfg);
		return 1;
	}
	int rc = 0;
	if (!strcmp(engine, "llm")) {
		struct llm_config lc;
		if (llm_config_load(cfg, &lc, err, sizeof err) < 0) {
			fprintf(stderr, "viralsup-analyze: %s\n", err);
			rc = 1;
		} else {
			struct ev_loop *loop = EV_DEFAULT;
			struct llm *l = llm_new(loop, &lc);
			struct llm_job *j = llm_job_new(l, in, out, "viralsup-analyze");
			bool done = false;
			llm_job_run(j, on_done, &done);
			while (!done)
				ev_run(loop, EVRUN_ONCE);
			llm_job_free(j);
			llm_free(l);
		}
	}
	if (rc == 0) {
		json_dumpf(out, stdout, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
		fputc('\n', stdout);
	}
	json_decref(out);
	json_decref(in);
	config_free(cfg);
	return rc;
}
