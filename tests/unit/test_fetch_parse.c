/*
 * Provider answer parsing (good and hostile documents), the token bucket,
 * URL encoding, the fixtures provider over examples/instagram/, and the
 * scheduler's deadline (FETCH_ACCOUNT's deadline_ms, the clamp). No network.
 */
#include <errno.h>
#include <ev.h>
#include <string.h>
#include <sys/stat.h>

#include "actors/fetcher/deadline.h"
#include "actors/fetcher/provider.h"
#include "ipc/config.h"
#include "ipc/frame.h"
#include "ipc/msg.h"
#include "tests/harness.h"

static char reason[512];

#define PARSE_PROFILE(doc, out) \
	provider_parse_profile(doc, strlen(doc), out, reason, sizeof(reason))

static const char *str_of(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}
static long long int_of(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* True when s is valid UTF-8 (the cut of a capped string must not split a character). */
static int utf8_valid(const char *s)
{
	json_t *j = json_string(s); /* jansson refuses invalid UTF-8 */
	int ok = j != NULL;
	json_decref(j);
	return ok;
}

TEST(profile_reads_the_flat_scraper_answer)
{
	json_t *p;
	const char *doc =
	    "{\"username\":\"maya.lifts\",\"full_name\":\"Maya\",\"biography\":\"bio 💪\","
	    "\"follower_count\":47029,\"media_count\":278,\"is_verified\":false,"
	    "\"is_business\":true,\"profile_pic_url\":\"https://x/p.jpg\","
	    "\"hd_profile_pic_url\":\"https://x/hd.jpg\"}";
	ASSERT_EQ_INT(PARSE_PROFILE(doc, &p), 0);
	ASSERT_EQ_STR(str_of(p, "username"), "maya.lifts");
	ASSERT_EQ_STR(str_of(p, "full_name"), "Maya");
	ASSERT_EQ_STR(str_of(p, "biography"), "bio 💪");
	ASSERT_EQ_INT(int_of(p, "followers"), 47029);
	ASSERT_EQ_INT(int_of(p, "posts_count"), 278);
	ASSERT(json_is_false(json_object_get(p, "is_verified")));
	ASSERT(json_is_true(json_object_get(p, "is_business")));
	ASSERT_EQ_STR(str_of(p, "profile_pic_url"), "https://x/hd.jpg");
	ASSERT_EQ_INT(json_object_size(p), 8);
	json_decref(p);
}

TEST(profile_accepts_alternate_spellings_and_wrong_types)
{
	json_t *p;
	const char *doc =
	    "{\"username\":\"a.b\",\"profile_name\":\"Alt\",\"bio\":\"b\","
	    "\"followers\":\"1200\",\"posts_count\":12.7,\"is_verified\":\"true\","
	    "\"is_business\":[1],\"full_name\":7,\"profile_pic_url\":\"javascript:x\"}";
	ASSERT_EQ_INT(PARSE_PROFILE(doc, &p), 0);
	/* full_name is a number: profile_name is the next spelling tried only when
	 * full_name is absent, so a wrong type yields "" rather than a guess. */
	ASSERT_EQ_STR(str_of(p, "full_name"), "");
	ASSERT_EQ_STR(str_of(p, "biography"), "b");
	ASSERT_EQ_INT(int_of(p, "followers"), 1200);
	ASSERT_EQ_INT(int_of(p, "posts_count"), 12);
	ASSERT(json_is_true(json_object_get(p, "is_verified")));
	ASSERT(json_is_false(json_object_get(p, "is_business")));
	ASSERT(json_is_null(json_object_get(p, "profile_pic_url")));
	json_decref(p);

	ASSERT_EQ_INT(
	    PARSE_PROFILE("{\"username\":\"x\",\"profile_name\":\"P\",\"followers\":-5}", &p), 0);
	ASSERT_EQ_STR(str_of(p, "full_name"), "P");
	ASSERT_EQ_INT(int_of(p, "followers"), 0);
	json_decref(p);
}

TEST(profile_error_answer_means_user_not_found)
{
	json_t *p = (json_t *)1;
	ASSERT_EQ_INT(PARSE_PROFILE("{\"message\":\"User not found\"}", &p), -ENOENT);
	ASSERT(p == NULL);
	ASSERT_CONTAINS(reason, "user not found: User not found");
	ASSERT_EQ_INT(PARSE_PROFILE("{\"full_name\":\"no username\"}", &p), -EBADMSG);
	ASSERT_CONTAINS(reason, "missing or invalid 'username' (absent)");
	ASSERT_EQ_INT(PARSE_PROFILE("{\"username\":42}", &p), -EBADMSG);
	ASSERT_CONTAINS(reason, "(number)");
}

TEST(profile_of_private_account_is_refused)
{
	json_t *p;
	ASSERT_EQ_INT(PARSE_PROFILE("{\"username\":\"x\",\"is_private\":true}", &p), -EPERM);
	ASSERT_EQ_STR(reason, "private account");
}

TEST(malformed_truncated_and_non_object_answers_fail_with_reason)
{
	json_t *p;
	ASSERT_EQ_INT(PARSE_PROFILE("<html>502 Bad Gateway</html>", &p), -EBADMSG);
	ASSERT_CONTAINS(reason, "profile: malformed JSON");
	ASSERT_EQ_INT(PARSE_PROFILE("{\"username\":\"maya.li", &p), -EBADMSG);
	ASSERT_CONTAINS(reason, "malformed JSON");
	ASSERT_CONTAINS(reason, "line 1");
	ASSERT_EQ_INT(PARSE_PROFILE("[1,2]", &p), -EBADMSG);
	ASSERT_CONTAINS(reason, "expected a JSON object, got array");
	ASSERT_EQ_INT(provider_parse_profile("", 0, &p, reason, sizeof(reason)), -EBADMSG);
	ASSERT_CONTAINS(reason, "empty answer");
	ASSERT_EQ_INT(provider_parse_profile(NULL, 0, &p, reason, sizeof(reason)), -EBADMSG);
}

TEST(non_utf8_answer_is_rejected)
{
	json_t *p;
	const char doc[] = "{\"username\":\"x\",\"biography\":\"caf\xe9\"}";
	ASSERT_EQ_INT(PARSE_PROFILE(doc, &p), -EBADMSG);
	ASSERT_CONTAINS(reason, "malformed JSON");
}

TEST(huge_strings_are_capped_on_a_character_boundary_and_cleaned)
{
	/* 100 KB caption of 4-byte emoji, with a NUL and control characters. */
	size_t n = 100 * 1024;
	char *doc = malloc(n + 512);
	int k = sprintf(doc, "{\"reels\":[{\"node\":{\"media\":{\"pk\":1,\"code\":\"abc\","
	                     "\"caption\":{\"text\":\"a\\u0000b\\u0007c");
	for (size_t i = 0; i < n / 4; i++)
		k += sprintf(doc + k, "😀");
	k += sprintf(doc + k, "\"}}}}]}");
	json_t *reels = json_array();
	char *next = NULL;
	int skipped = 0;
	ASSERT_EQ_INT(
	    provider_parse_reels(doc, (size_t)k, reels, &next, &skipped, reason, sizeof(reason)),
	    0);
	ASSERT_EQ_INT(json_array_size(reels), 1);
	const char *cap = str_of(json_array_get(reels, 0), "caption");
	ASSERT_CMP_INT(strlen(cap), <=, PROVIDER_MAX_CAPTION);
	ASSERT_CMP_INT(strlen(cap), >, PROVIDER_MAX_CAPTION - 8);
	ASSERT(strncmp(cap, "ab c", 4) == 0); /* NUL dropped, BEL -> space */
	ASSERT(utf8_valid(cap));
	json_decref(reels);
	free(doc);
}

TEST(reels_page_is_normalised)
{
	const char *doc =
	    "{\"reels\":[{\"node\":{\"media\":{\"pk\":3030016423616385951,\"code\":\"D35_kqYHHAM\","
	    "\"play_count\":14573,\"like_count\":547,\"comment_count\":21,\"taken_at\":1794056990,"
	    "\"caption\":{\"text\":\"Hook?\\n#tag\"},\"image_versions2\":{\"candidates\":[{\"url\":"
	    "\"https://cdn/x.jpg\"}]}}}},"
	    "{\"node\":{\"media\":{\"pk\":\"77_123\",\"code\":\"B\",\"caption\":null}}}],"
	    "\"pagination_token\":\"QVFE-abc\"}";
	json_t *reels = json_array();
	char *next = NULL;
	int skipped = 0;
	ASSERT_EQ_INT(
	    provider_parse_reels(doc, strlen(doc), reels, &next, &skipped, reason, sizeof(reason)),
	    0);
	ASSERT_EQ_INT(json_array_size(reels), 2);
	ASSERT_EQ_STR(next, "QVFE-abc");
	json_t *r = json_array_get(reels, 0);
	ASSERT_EQ_STR(str_of(r, "content_id"), "3030016423616385951");
	ASSERT_EQ_STR(str_of(r, "shortcode"), "D35_kqYHHAM");
	ASSERT_EQ_STR(str_of(r, "url"), "https://www.instagram.com/p/D35_kqYHHAM/");
	ASSERT_EQ_INT(int_of(r, "view_count"), 14573);
	ASSERT_EQ_INT(int_of(r, "like_count"), 547);
	ASSERT_EQ_INT(int_of(r, "comment_count"), 21);
	ASSERT_EQ_INT(int_of(r, "taken_at"), 1794056990);
	ASSERT_EQ_STR(str_of(r, "caption"), "Hook?\n#tag");
	ASSERT_EQ_STR(str_of(r, "thumbnail_url"), "https://cdn/x.jpg");
	r = json_array_get(reels, 1);
	ASSERT_EQ_STR(str_of(r, "content_id"), "77");
	ASSERT_EQ_STR(str_of(r, "caption"), "");
	ASSERT_EQ_INT(int_of(r, "view_count"), 0);
	ASSERT(json_is_null(json_object_get(r, "thumbnail_url")));
	free(next);
	json_decref(reels);
}

TEST(reels_without_usable_pk_or_code_are_skipped_and_counted)
{
	const char *doc = "{\"reels\":[{\"node\":{\"media\":{\"pk\":1,\"code\":\"../../etc\"}}},"
	                  "{\"node\":{\"media\":{\"code\":\"nopk\"}}},"
	                  "{\"node\":{\"media\":{\"pk\":-3,\"code\":\"neg\"}}},"
	                  "{\"node\":{\"media\":{\"pk\":\"12x\",\"code\":\"bad\"}}},"
	                  "7, null, \"str\", {\"node\":5},"
	                  "{\"node\":{\"media\":{\"pk\":2,\"code\":\"ok_1\"}}}],"
	                  "\"pagination_token\":null}";
	json_t *reels = json_array();
	char *next = (char *)1;
	int skipped = 0;
	ASSERT_EQ_INT(
	    provider_parse_reels(doc, strlen(doc), reels, &next, &skipped, reason, sizeof(reason)),
	    0);
	ASSERT_EQ_INT(json_array_size(reels), 1);
	ASSERT_EQ_INT(skipped, 8);
	ASSERT(next == NULL);
	json_decref(reels);
}

TEST(reels_listing_ends_on_empty_list_and_accepts_integer_token)
{
	json_t *reels = json_array();
	char *next = NULL;
	const char *a = "{\"reels\":[],\"pagination_token\":\"more\"}";
	ASSERT_EQ_INT(
	    provider_parse_reels(a, strlen(a), reels, &next, NULL, reason, sizeof(reason)), 0);
	ASSERT(next == NULL);
	const char *b = "{\"reels\":[{\"pk\":5,\"code\":\"flat\"}],\"pagination_token\":42}";
	ASSERT_EQ_INT(
	    provider_parse_reels(b, strlen(b), reels, &next, NULL, reason, sizeof(reason)), 0);
	ASSERT_EQ_STR(next, "42");
	ASSERT_EQ_STR(str_of(json_array_get(reels, 0), "shortcode"), "flat");
	free(next);
	json_decref(reels);
}

TEST(reels_answer_of_wrong_shape_is_malformed)
{
	json_t *reels = json_array();
	char *next = NULL;
	const char *a = "{\"reels\":{\"a\":1}}";
	ASSERT_EQ_INT(
	    provider_parse_reels(a, strlen(a), reels, &next, NULL, reason, sizeof(reason)),
	    -EBADMSG);
	ASSERT_CONTAINS(reason, "'reels' is object, expected a list");
	const char *b = "{\"error\":\"User not found\"}";
	ASSERT_EQ_INT(
	    provider_parse_reels(b, strlen(b), reels, &next, NULL, reason, sizeof(reason)),
	    -ENOENT);
	const char *c = "{\"reels\":[{\"pk\":1,\"code\":\"a\"}],\"pagination_token\":\"a\\nb\"}";
	ASSERT_EQ_INT(
	    provider_parse_reels(c, strlen(c), reels, &next, NULL, reason, sizeof(reason)),
	    -EBADMSG);
	ASSERT_CONTAINS(reason, "pagination_token");
	json_decref(reels);
}

TEST(transcript_segments_are_read_and_empty_content_means_none)
{
	json_t *t;
	const char *doc = "{\"lang\":\"en\",\"availableLangs\":[\"en\",\"es\",\"../x\",5],"
	                  "\"content\":[{\"text\":\"Hello\",\"offset\":0,\"duration\":1200},"
	                  "{\"text\":\"World\",\"offset\":\"bad\"},{\"no\":\"text\"},3]}";
	ASSERT_EQ_INT(provider_parse_transcript(doc, strlen(doc), &t, reason, sizeof(reason)), 0);
	ASSERT(t != NULL);
	ASSERT_EQ_STR(str_of(t, "lang"), "en");
	ASSERT_EQ_INT(json_array_size(json_object_get(t, "available_langs")), 2);
	json_t *segs = json_object_get(t, "segments");
	ASSERT_EQ_INT(json_array_size(segs), 2);
	ASSERT_EQ_STR(str_of(json_array_get(segs, 1), "text"), "World");
	ASSERT(json_real_value(json_object_get(json_array_get(segs, 0), "duration")) == 1200.0);
	ASSERT(json_real_value(json_object_get(json_array_get(segs, 1), "offset")) == 0.0);
	json_decref(t);

	const char *none[] = {"{\"lang\":null,\"availableLangs\":[],\"content\":[]}", "{}",
	                      "{\"content\":null}", "{\"content\":[{\"x\":1}]}"};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		t = (json_t *)1;
		ASSERT_EQ_INT(
		    provider_parse_transcript(none[i], strlen(none[i]), &t, reason, sizeof(reason)),
		    0);
		ASSERT(t == NULL);
	}
	const char *bad = "{\"content\":17}";
	ASSERT_EQ_INT(provider_parse_transcript(bad, strlen(bad), &t, reason, sizeof(reason)),
	              -EBADMSG);
	ASSERT_CONTAINS(reason, "'content' is number");
}

TEST(transcript_with_too_many_segments_is_capped)
{
	size_t n = PROVIDER_MAX_SEGMENTS + 500;
	char *doc = malloc(n * 40 + 64);
	int k = sprintf(doc, "{\"lang\":\"en-US\",\"content\":[");
	for (size_t i = 0; i < n; i++)
		k += sprintf(doc + k, "%s{\"text\":\"w%zu\",\"offset\":%zu}", i ? "," : "", i, i);
	k += sprintf(doc + k, "]}");
	json_t *t;
	ASSERT_EQ_INT(provider_parse_transcript(doc, (size_t)k, &t, reason, sizeof(reason)), 0);
	ASSERT_EQ_INT(json_array_size(json_object_get(t, "segments")), PROVIDER_MAX_SEGMENTS);
	ASSERT_EQ_STR(str_of(t, "lang"), "en-US");
	json_decref(t);
	free(doc);
}

TEST(names_used_in_paths_are_validated)
{
	ASSERT(provider_username_ok("maya.lifts"));
	ASSERT(provider_username_ok("a_b.c9"));
	ASSERT(!provider_username_ok(""));
	ASSERT(!provider_username_ok("a/b"));
	ASSERT(!provider_username_ok("a b"));
	ASSERT(!provider_username_ok(NULL));
	ASSERT(provider_shortcode_ok("D35_kqYHHAM-"));
	ASSERT(!provider_shortcode_ok("a.b"));
	ASSERT(!provider_shortcode_ok("../x"));
}

TEST(urlencode_keeps_unreserved_and_escapes_the_rest)
{
	char out[128];
	ASSERT_EQ_INT(curl_ev_urlencode(out, sizeof(out), "https://www.instagram.com/p/a_b-c/"),
	              strlen("https%3A%2F%2Fwww.instagram.com%2Fp%2Fa_b-c%2F"));
	ASSERT_EQ_STR(out, "https%3A%2F%2Fwww.instagram.com%2Fp%2Fa_b-c%2F");
	ASSERT_EQ_INT(curl_ev_urlencode(out, 4, "abcd"), -ENOSPC);
	ASSERT_EQ_INT(curl_ev_urlencode(out, 5, "a b"), -ENOSPC);
	ASSERT_EQ_INT(curl_ev_urlencode(out, 6, "a b"), 5);
}

TEST(token_bucket_spaces_requests_at_the_rate)
{
	struct ratelimit rl;
	ratelimit_init(&rl, 10, 2, 100.0);
	ASSERT(ratelimit_take(&rl, 100.0) == 0);
	ASSERT(ratelimit_take(&rl, 100.0) == 0);
	double w = ratelimit_take(&rl, 100.0);
	ASSERT(w > 0.099 && w < 0.101);
	ASSERT(ratelimit_take(&rl, 100.1) == 0);
	/* 100 s idle refills only up to the burst */
	ASSERT(ratelimit_take(&rl, 200.0) == 0);
	ASSERT(ratelimit_take(&rl, 200.0) == 0);
	ASSERT(ratelimit_take(&rl, 200.0) > 0);
	/* a Retry-After pause holds every request until it ends */
	ratelimit_pause(&rl, 205.0);
	w = ratelimit_take(&rl, 201.0);
	ASSERT(w > 3.99 && w < 4.01);
	ASSERT(ratelimit_take(&rl, 205.1) == 0);
	/* rate <= 0: unlimited */
	ratelimit_init(&rl, 0, 0, 0);
	for (int i = 0; i < 1000; i++)
		ASSERT(ratelimit_take(&rl, 0) == 0);
}

/* ---- fixtures provider over examples/instagram ---- */

struct outcome {
	int calls;
	enum fetch_status st;
	char reason[512];
	json_t *doc;
};

static void on_done(void *arg, enum fetch_status st, const char *why, json_t *doc)
{
	struct outcome *o = arg;
	o->calls++;
	o->st = st;
	snprintf(o->reason, sizeof(o->reason), "%s", why);
	o->doc = doc;
	ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static struct provider *fixtures(void)
{
	struct provider_opts o = {.fixtures_dir = "examples/instagram"};
	char err[256];
	struct provider *p = provider_new(EV_DEFAULT, "fixtures", &o, err, sizeof(err));
	if (!p)
		FAIL("provider_new: %s", err);
	return p;
}

static json_t *load_file(const char *path)
{
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);
	if (!j)
		FAIL("%s: %s", path, e.text);
	return j;
}

TEST(fixtures_provider_reads_profile_all_pages_and_top_transcripts)
{
	struct provider *p = fixtures();
	struct outcome o = {0};
	struct fetch_request req = {.username = "maya.lifts", .max_reels = 100, .transcripts = 3};
	ASSERT_EQ_INT(provider_fetch(p, &req, on_done, &o), 0);
	ASSERT_EQ_INT(o.calls, 0); /* never called back from inside provider_fetch */
	ev_run(EV_DEFAULT, 0);
	ASSERT_EQ_INT(o.calls, 1);
	ASSERT_EQ_INT(o.st, FETCH_OK);
	json_t *prof = load_file("examples/instagram/maya.lifts/profile.json");
	json_t *p0 = load_file("examples/instagram/maya.lifts/reels_0.json");
	json_t *p1 = load_file("examples/instagram/maya.lifts/reels_1.json");
	size_t total = json_array_size(json_object_get(p0, "reels")) +
	               json_array_size(json_object_get(p1, "reels"));
	ASSERT_EQ_STR(str_of(o.doc, "provider"), "fixtures");
	json_t *profile = json_object_get(o.doc, "profile");
	ASSERT_EQ_INT(int_of(profile, "followers"), int_of(prof, "follower_count"));
	json_t *reels = json_object_get(o.doc, "reels");
	ASSERT_EQ_INT(json_array_size(reels), total);
	json_t *fetch = json_object_get(o.doc, "fetch");
	ASSERT_EQ_STR(str_of(fetch, "stop"), "end");
	ASSERT_EQ_INT(int_of(fetch, "transcripts_requested"), 3);
	/* The three most viewed reels were asked for; the others were not. */
	long long top_min = -1, rest_max = -1;
	int fetched = 0;
	size_t i;
	json_t *r;
	json_array_foreach(reels, i, r)
	{
		const char *ts = str_of(r, "transcript_status");
		long long v = int_of(r, "view_count");
		if (strcmp(ts, "not_requested") == 0) {
			rest_max = v > rest_max ? v : rest_max;
		} else {
			top_min = top_min < 0 || v < top_min ? v : top_min;
			if (strcmp(ts, "fetched") == 0) {
				fetched++;
				ASSERT(json_array_size(json_object_get(
				           json_object_get(r, "transcript"), "segments")) > 0);
			}
		}
	}
	ASSERT_CMP_INT(top_min, >=, rest_max);
	ASSERT_EQ_INT(int_of(fetch, "transcripts_fetched"), fetched);
	json_decref(prof);
	json_decref(p0);
	json_decref(p1);
	json_decref(o.doc);
	provider_free(p);
}

TEST(fixtures_provider_stops_at_known_shortcode_and_since)
{
	struct provider *p = fixtures();
	json_t *p0 = load_file("examples/instagram/maya.lifts/reels_0.json");
	json_t *items = json_object_get(p0, "reels");
	json_t *m4 = json_object_get(json_object_get(json_array_get(items, 4), "node"), "media");
	struct outcome o = {0};
	struct fetch_request req = {
	    .username = "maya.lifts", .known_shortcode = str_of(m4, "code"), .transcripts = -1};
	ASSERT_EQ_INT(provider_fetch(p, &req, on_done, &o), 0);
	ev_run(EV_DEFAULT, 0);
	ASSERT_EQ_INT(o.st, FETCH_OK);
	ASSERT_EQ_INT(json_array_size(json_object_get(o.doc, "reels")), 4);
	ASSERT_EQ_STR(str_of(json_object_get(o.doc, "fetch"), "stop"), "known");
	ASSERT(json_is_true(json_object_get(json_object_get(o.doc, "fetch"), "incremental")));
	json_decref(o.doc);

	struct outcome o2 = {0};
	struct fetch_request req2 = {
	    .username = "maya.lifts", .since = int_of(m4, "taken_at"), .transcripts = -1};
	ASSERT_EQ_INT(provider_fetch(p, &req2, on_done, &o2), 0);
	ev_run(EV_DEFAULT, 0);
	ASSERT_EQ_INT(json_array_size(json_object_get(o2.doc, "reels")), 4);
	ASSERT_EQ_STR(str_of(json_object_get(o2.doc, "fetch"), "stop"), "since");
	json_decref(o2.doc);
	json_decref(p0);
	provider_free(p);
}

TEST(fixtures_provider_reports_unknown_user_as_permanent)
{
	struct provider *p = fixtures();
	struct outcome o = {0};
	struct fetch_request req = {.username = "nobody.here"};
	ASSERT_EQ_INT(provider_fetch(p, &req, on_done, &o), 0);
	ev_run(EV_DEFAULT, 0);
	ASSERT_EQ_INT(o.st, FETCH_PERMANENT);
	ASSERT_CONTAINS(o.reason, "user not found");
	ASSERT(o.doc == NULL);
	struct fetch_request bad = {.username = "../etc"};
	ASSERT_EQ_INT(provider_fetch(p, &bad, on_done, &o), -EINVAL);
	ASSERT_EQ_INT(o.calls, 1);
	provider_free(p);
}

TEST(provider_free_cancels_accounts_in_flight)
{
	struct provider *p = fixtures();
	struct outcome o = {0};
	struct fetch_request req = {.username = "maya.lifts"};
	ASSERT_EQ_INT(provider_fetch(p, &req, on_done, &o), 0);
	ASSERT_EQ_INT(provider_active(p), 1);
	provider_free(p);
	ASSERT_EQ_INT(o.calls, 1);
	ASSERT_EQ_INT(o.st, FETCH_CANCELLED);
}

TEST(provider_new_rejects_unknown_kind_and_rapidapi_without_key)
{
	char err[256];
	struct provider_opts o = {0};
	ASSERT(provider_new(EV_DEFAULT, "brightdata", &o, err, sizeof(err)) == NULL);
	ASSERT_CONTAINS(err, "unknown provider");
	ASSERT(provider_new(EV_DEFAULT, "rapidapi", &o, err, sizeof(err)) == NULL);
	ASSERT_CONTAINS(err, "RAPIDAPI_KEY");
	o.api_key = "k";
	struct provider *p = provider_new(EV_DEFAULT, NULL, &o, err, sizeof(err));
	ASSERT(p != NULL);
	ASSERT_EQ_STR(provider_name(p), "rapidapi");
	provider_free(p);
}

TEST(pinned_old_reel_does_not_stop_an_incremental_listing)
{
	/* A fixture dir with one page: a pinned old reel first, then two new, then the known one.
	 */
	char *dir = test_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/pin.user", dir);
	ASSERT_EQ_INT(mkdir(path, 0700), 0);
	const char *files[][2] = {
	    {"profile.json", "{\"username\":\"pin.user\"}"},
	    {"reels_0.json",
	     "{\"reels\":[{\"pk\":1,\"code\":\"old\",\"taken_at\":100,\"is_pinned\":true},"
	     "{\"pk\":4,\"code\":\"new2\",\"taken_at\":400},{\"pk\":3,\"code\":\"new1\","
	     "\"taken_at\":300},{\"pk\":2,\"code\":\"known\",\"taken_at\":200}],"
	     "\"pagination_token\":\"1\"}"},
	};
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/pin.user/%s", dir, files[i][0]);
		FILE *f = fopen(path, "w");
		ASSERT(f != NULL);
		fputs(files[i][1], f);
		fclose(f);
	}
	struct provider_opts o = {.fixtures_dir = dir};
	char err[256];
	struct provider *p = provider_new(EV_DEFAULT, "fixtures", &o, err, sizeof(err));
	ASSERT(p != NULL);
	struct outcome r = {0};
	struct fetch_request req = {.username = "pin.user", .since = 200, .transcripts = -1};
	ASSERT_EQ_INT(provider_fetch(p, &req, on_done, &r), 0);
	ev_run(EV_DEFAULT, 0);
	ASSERT_EQ_STR(r.reason, "");
	json_t *reels = json_object_get(r.doc, "reels");
	ASSERT_EQ_INT(json_array_size(reels), 2);
	ASSERT_EQ_STR(str_of(json_array_get(reels, 0), "shortcode"), "new2");
	ASSERT_EQ_STR(str_of(json_object_get(r.doc, "fetch"), "stop"), "since");
	json_decref(r.doc);
	provider_free(p);
	free(dir);
}

/* ---- the scheduler's deadline (actors/fetcher/deadline.h) ---- */

/* Builds a FETCH_ACCOUNT as the scheduler does, with deadline_ms packed by
 * put (NULL: no such field), decodes it as the fetcher's connection does,
 * and reads the budget. */
static int budget_of(void (*put)(struct msg_out *), int64_t *budget, char *why, size_t wlen)
{
	struct msg_out out;
	struct msg m;
	const char *err = NULL;
	size_t n;
	uint32_t plen;

	msg_out_init(&out, MSG_FETCH_ACCOUNT, 0, put ? 6 : 5);
	msg_put_str(&out, "job", "00000000-0000-0000-0000-000000000001");
	msg_put_int(&out, "run", 1);
	msg_put_str(&out, "username", "maya.lifts");
	msg_put_str(&out, "role", "primary");
	msg_put_int(&out, "since", 0);
	if (put)
		put(&out);
	ASSERT_EQ_INT(msg_out_finish(&out, FRAME_MAX_DEFAULT), 0);
	const char *data = msg_out_data(&out, &n);
	ASSERT_EQ_INT(frame_check((const uint8_t *)data, n, FRAME_MAX_DEFAULT, &plen), 1);
	msgpack_zone z;
	msgpack_zone_init(&z, 1024);
	ASSERT_EQ_INT(msg_decode(data + FRAME_PREFIX, plen, &z, &m, &err), 0);
	why[0] = '\0';
	*budget = -1;
	int rc = fetch_budget_read(m.body, budget, why, wlen);
	msgpack_zone_destroy(&z);
	msg_out_free(&out);
	return rc;
}

static void put_130000(struct msg_out *o)
{
	msg_put_int(o, "deadline_ms", 130000);
}
static void put_max(struct msg_out *o)
{
	msg_put_int(o, "deadline_ms", FETCH_BUDGET_MAX_MS);
}
static void put_nil(struct msg_out *o)
{
	msg_put_str(o, "deadline_ms", NULL);
}
static void put_zero(struct msg_out *o)
{
	msg_put_int(o, "deadline_ms", 0);
}
static void put_negative(struct msg_out *o)
{
	msg_put_int(o, "deadline_ms", -5000);
}
static void put_over_max(struct msg_out *o)
{
	msg_put_int(o, "deadline_ms", FETCH_BUDGET_MAX_MS + 1);
}
static void put_int64_max(struct msg_out *o)
{
	msg_put_int(o, "deadline_ms", INT64_MAX);
}
static void put_uint64_max(struct msg_out *o)
{
	msg_put_key(o, "deadline_ms");
	msgpack_pack_uint64(&o->pk, UINT64_MAX);
}
static void put_string(struct msg_out *o)
{
	msg_put_str(o, "deadline_ms", "14000");
}
static void put_double(struct msg_out *o)
{
	msg_put_double(o, "deadline_ms", 14000.0);
}
static void put_bool(struct msg_out *o)
{
	msg_put_bool(o, "deadline_ms", true);
}
static void put_array(struct msg_out *o)
{
	msg_put_key(o, "deadline_ms");
	msgpack_pack_array(&o->pk, 1);
	msgpack_pack_int64(&o->pk, 14000);
}

TEST(fetch_account_deadline_ms_is_read_when_sound_and_refused_with_a_reason_otherwise)
{
	int64_t b;
	char why[128];

	ASSERT_EQ_INT(budget_of(put_130000, &b, why, sizeof why), 0);
	ASSERT_EQ_INT(b, 130000);
	ASSERT_EQ_INT(budget_of(put_max, &b, why, sizeof why), 0);
	ASSERT_EQ_INT(b, FETCH_BUDGET_MAX_MS);
	/* A scheduler from before the field, or nil: no deadline, nothing to say. */
	ASSERT_EQ_INT(budget_of(NULL, &b, why, sizeof why), 0);
	ASSERT_EQ_INT(b, 0);
	ASSERT_EQ_STR(why, "");
	ASSERT_EQ_INT(budget_of(put_nil, &b, why, sizeof why), 0);
	ASSERT_EQ_INT(b, 0);

	/* Refused: the budget is 0 (the unit runs without a deadline) and why says why. */
	struct {
		void (*put)(struct msg_out *);
		const char *why;
	} bad[] = {
	    {put_zero, "deadline_ms 0 is not positive"},
	    {put_negative, "deadline_ms -5000 is not positive"},
	    {put_over_max, "deadline_ms 86400001 is over the maximum 86400000"},
	    {put_int64_max, "deadline_ms 9223372036854775807 is over the maximum 86400000"},
	    {put_uint64_max, "deadline_ms is not an integer of 64 bits"},
	    {put_string, "deadline_ms is not an integer of 64 bits"},
	    {put_double, "deadline_ms is not an integer of 64 bits"},
	    {put_bool, "deadline_ms is not an integer of 64 bits"},
	    {put_array, "deadline_ms is not an integer of 64 bits"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ASSERT_EQ_INT(budget_of(bad[i].put, &b, why, sizeof why), -EINVAL);
		ASSERT_EQ_INT(b, 0);
		ASSERT_EQ_STR(why, bad[i].why);
	}
}

TEST(deadline_arithmetic_at_the_default_settings)
{
	char err[256];
	struct config *cfg = config_parse("", "defaults", err, sizeof err);
	ASSERT(cfg != NULL);
	long timeout_ms = config_int(cfg, "fetcher.timeout_ms");
	ASSERT_EQ_INT(timeout_ms, 30000);
	/* The scheduler waits fetcher.timeout_ms x 4 + 10 s for a unit
	 * (actors/scheduler/main.c) and sends that as deadline_ms. */
	int64_t budget = timeout_ms * 4 + 10000;
	ASSERT_EQ_INT(budget, 130000);
	config_free(cfg);

	/* Received at t = 1000 s: 1 s kept back (10 % would be 13 s). */
	double t = 1000.0, d = fetch_deadline_at(t, budget);
	ASSERT(d == 1129.0);
	ASSERT_EQ_INT(fetch_deadline_left_ms(d, t), 129000);
	/* A fresh unit's attempts keep the full 30 s; near the end they are cut. */
	ASSERT_EQ_INT(fetch_attempt_timeout_ms(d, t, timeout_ms), 30000);
	ASSERT_EQ_INT(fetch_attempt_timeout_ms(d, t + 99.0, timeout_ms), 30000);
	ASSERT_EQ_INT(fetch_attempt_timeout_ms(d, t + 110.0, timeout_ms), 19000);
	ASSERT_EQ_INT(fetch_attempt_timeout_ms(d, t + 129.0, timeout_ms), 0);
	ASSERT_EQ_INT(fetch_attempt_timeout_ms(d, t + 200.0, timeout_ms), 0);
	/* The longest Retry-After the provider waits by default (60 s,
	 * retry_after_max_ms) fits a fresh unit: one 429 alone never ends a
	 * unit at the defaults. After 69.5 s of others it no longer fits. */
	ASSERT(fetch_deadline_allows(d, t, 60000));
	ASSERT(fetch_deadline_allows(d, t + 68.0, 60000));
	ASSERT(!fetch_deadline_allows(d, t + 69.5, 60000));
	/* Four attempts that each time out (30 s) with the default backoffs
	 * between them (0.5, 1, 2 s) fit too: the fourth starts at 93.5 s with
	 * 35.5 s left and keeps its 30 s. */
	ASSERT(fetch_deadline_allows(d, t + 91.5, 2000));
	ASSERT_EQ_INT(fetch_attempt_timeout_ms(d, t + 93.5, timeout_ms), 30000);

	/* No deadline (a scheduler from before the field, or one refused). */
	ASSERT(fetch_deadline_at(t, 0) == 0);
	ASSERT_EQ_INT(fetch_deadline_left_ms(0, t), -1);
	ASSERT_EQ_INT(fetch_attempt_timeout_ms(0, t, timeout_ms), 30000);
	ASSERT(fetch_deadline_allows(0, t, 3600000));

	/* The margin: 10 % of short budgets, 1 s from 10 s up. */
	ASSERT(fetch_deadline_at(t, 5000) == t + 4.5);
	ASSERT(fetch_deadline_at(t, 10000) == t + 9.0);
	ASSERT(fetch_deadline_at(t, 18000) == t + 17.0);
	ASSERT(fetch_deadline_at(t, 1) == t + 0.001);
}
