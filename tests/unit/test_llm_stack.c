/*
 * The llm engine inside the whole stack (real actors, real PostgreSQL, the
 * fixtures provider) against the fake chat-completions server: what is
 * stored is the model's, tokens are recorded, the hook-analysis cache is
 * filled and used, and with the server down the job still completes with
 * the rules engine's output, saying so.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/stack.h"

static const char SQL_ALL_DONE[] =
    "SELECT count(*) FILTER (WHERE status IN ('completed', 'failed')) = count(*)"
    " FROM viral_ideas_queue";

/* Starts tests/fake_llm/fake_llm.py; returns its port. */
static int fake_llm_start(void)
{
	pid_t pid;
	const char *env[] = {"FAKE_LLM_KEY=sk-stack-test", NULL};
	return test_fake_server_start("tests/fake_llm/fake_llm.py", env, &pid);
}

static char *submit(struct stack *s, const char *session, const char *primary,
                    const char *competitor)
{
	const char *body_fmt = "{\"session_id\":\"%s\",\"primary_username\":\"%s\","
	                       "\"selected_competitors\":[\"%s\"],"
	                       "\"content_strategy\":{\"contentType\":\"Short workout tutorials\","
	                       "\"targetAudience\":\"Busy women 25-40 starting strength training\","
	                       "\"goals\":\"Sell an 8-week beginner program\"}}";
	char body[1024], *resp = NULL;
	snprintf(body, sizeof body, body_fmt, session, primary, competitor);
	long st = stack_http(s, NULL, "POST", "/api/viral-ideas/queue", body, false, &resp);
	if (st != 200)
		FAIL("queue: HTTP %ld %s", st, resp ? resp : "");
	json_t *v = json_loads(resp, 0, NULL);
	free(resp);
	const char *id = json_string_value(json_object_get(json_object_get(v, "data"), "id"));
	if (!id)
		FAIL("queue: no id in the answer");
	char *r = strdup(id);
	json_decref(v);
	return r;
}

static void start(struct stack *s, const char *base_url)
{
	char kv[128];
	stack_init(s);
	stack_env(s, "VIRALSUP_PROVIDER=fixtures");
	stack_env(s, "VIRALSUP_ANALYZER_ENGINE=llm");
	snprintf(kv, sizeof kv, "VIRALSUP_LLM_BASE_URL=%s", base_url);
	stack_env(s, kv);
	stack_env(s, "VIRALSUP_LLM_MODEL=fake-llm");
	stack_env(s, "VIRALSUP_LLM_API_KEY=sk-stack-test");
	stack_env(s, "VIRALSUP_LLM_JOB_TIMEOUT_MS=8000");
	stack_env(s, "VIRALSUP_LLM_TIMEOUT_MS=3000");
	stack_start(s);
}

/* A field (path $2) of the newest analysis document of job $1. */
static const char SQL_RESULT_FIELD[] =
    "SELECT analysis_data #>> $2::text[] FROM viral_analysis_results r"
    " WHERE queue_id = $1::uuid ORDER BY analysis_run DESC LIMIT 1";

/* Submits one job (@maya.lifts against @coach.dante.fit) and waits until it
 * completed; returns its id (caller frees). */
static char *complete_one(struct stack *s, const char *session)
{
	char *id = submit(s, session, "maya.lifts", "coach.dante.fit");
	stack_wait_sql(s, 30000, "t", SQL_ALL_DONE);
	ASSERT_EQ_INT(
	    sql_int(s, "SELECT count(*) FROM viral_ideas_queue WHERE status = 'completed'", NULL),
	    1);
	return id;
}

TEST(llm_engine_job_stores_the_models_hooks_and_scripts_with_tokens_and_caches_analyses)
{
	int port = fake_llm_start();
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", port);
	struct stack s;
	start(&s, url);
	char *id = complete_one(&s, "llm-stack-1");
	char *used = sql_str(&s, SQL_RESULT_FIELD, id, "{engine,used}", NULL);
	ASSERT_EQ_STR(used, "llm");
	free(used);
	/* Five scripts written by the model, as spoken scripts. */
	ASSERT_EQ_INT(
	    sql_int(&s,
	            "SELECT count(*) FROM viral_scripts_full v JOIN viral_analysis_results r"
	            " ON r.id = v.analysis_id WHERE r.queue_id = $1::uuid"
	            " AND v.ai_model = 'fake-llm'"
	            " AND v.script_structure->>'script_kind' = 'spoken'"
	            " AND v.script_content LIKE v.primary_hook || '%'",
	            id, NULL),
	    5);
	/* The stored hooks are the model's: the fake's shapes, on the strategy's audience. */
	char *hook = sql_str(&s, SQL_RESULT_FIELD, id, "{generated_hooks,0,hook_text}", NULL);
	ASSERT_CONTAINS(hook, "3 things nobody tells busy women 25-40 about");
	free(hook);
	long long pt = 0;
	char *t = sql_str(&s, SQL_RESULT_FIELD, id, "{engine,prompt_tokens}", NULL);
	pt = t ? atoll(t) : 0;
	free(t);
	ASSERT_CMP_INT(pt, >, 1000);
	/* viralctl job shows the engine, model and tokens of the run. */
	char *out = NULL;
	const char *args[] = {"job", id, NULL};
	ASSERT_EQ_INT(suptest_ctl(&s.sup, &out, NULL, args), 0);
	char want[96];
	snprintf(want, sizeof want, "tokens %lld prompt", pt);
	ASSERT_CONTAINS(out, want);
	ASSERT_CONTAINS(out, "engine llm");
	free(out);
	long long cached = sql_int(&s, "SELECT count(*) FROM llm_hook_cache", NULL);
	ASSERT_CMP_INT(cached, >, 0);

	/* A second creator with the same competitors: their analyses come from the cache. */
	char *id2 = submit(&s, "llm-stack-2", "strongwithsam", "coach.dante.fit");
	stack_wait_sql(&s, 30000, "t", SQL_ALL_DONE);
	char *hits = sql_str(&s, SQL_RESULT_FIELD, id2, "{engine,cache_hits}", NULL);
	ASSERT(hits && atoi(hits) > 0);
	free(hits);
	free(id), free(id2);
	stack_stop(&s);
}

TEST(llm_engine_with_the_server_down_completes_jobs_with_the_rules_output)
{
	struct stack s;
	start(&s, "http://127.0.0.1:1/v1");
	char *id = complete_one(&s, "llm-stack-down");
	char *used = sql_str(&s, SQL_RESULT_FIELD, id, "{engine,used}", NULL);
	ASSERT_EQ_STR(used, "rules");
	free(used);
	char *notes = sql_str(&s, SQL_RESULT_FIELD, id, "{analysis_summary,notes}", NULL);
	ASSERT_CONTAINS(notes, "rules engine's output");
	free(notes);
	ASSERT_EQ_INT(
	    sql_int(&s,
	            "SELECT count(*) FROM viral_scripts_full v JOIN viral_analysis_results r"
	            " ON r.id = v.analysis_id WHERE r.queue_id = $1::uuid"
	            " AND v.ai_model = 'viralsup-engine'",
	            id, NULL),
	    5);
	free(id);
	stack_stop(&s);
}
