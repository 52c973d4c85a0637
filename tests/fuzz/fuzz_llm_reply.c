/*
 * libFuzzer target: a model's reply, any bytes, parsed as each part of the
 * llm engine (actors/analyzer/llm_prompt.c llm_parse_reply) and, when it
 * validates, merged into a minimal rules output. Must never crash, leak or
 * accept a reply without the part's required fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[300];
	for (int p = 0; p < LLM_PARTS; p++) {
		json_t *v =
		    llm_parse_reply((enum llm_part)p, (const char *)data, size, why, sizeof why);
		if (!v)
			continue;
		json_t *out = json_pack("{s:{s:{s:{}}, s:[{s:s, s:s, s:s, s:{}}], s:[], s:[], "
		                        "s:[], s:{s:[]}}, s:[], s:[]}",
		                        "analysis_data", "profile_analysis", "profile_summary",
		                        "individual_reel_analyses", "content_id", "c1", "reel_type",
		                        "competitor", "username", "u", "hook_analysis",
		                        "generated_hooks", "complete_scripts", "scripts_summary",
		                        "analysis_summary", "notes", "reels", "scripts");
		json_t *in = json_pack("{s:{s:s}, s:[]}", "job", "primary_username", "me", "reels");
		struct llm_config cfg = {.model = "m", .temperature = 0.5};
		if (p == LLM_PROFILE)
			llm_merge_profile(out, v);
		else if (p == LLM_HOOK_ANALYSIS)
			llm_merge_hook_analysis(out, 0, v, "llm");
		else if (p == LLM_HOOKS)
			for (int i = 0; i < 5; i++) {
				json_t *script = json_pack(
				    "{s:{s:s, s:s, s:s, s:{s:s}, s:i}}", "script", "title", "t",
				    "hook_used", "h", "full_script", "f", "structure_breakdown",
				    "cta_section", "c", "estimated_duration", 30);
				llm_merge_pair(
				    out, in, i,
				    json_array_get(json_object_get(v, "hooks"), (size_t)i), script,
				    &cfg);
				json_decref(script);
			}
		json_decref(in);
		json_decref(out);
		json_decref(v);
	}
	return 0;
}
