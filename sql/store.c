/*
 * Content upserts (see store.h).
 */
#include "sql/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/log.h"

/* $1: jsonb array of account documents. */
static const char SQL_STORE_ACCOUNTS[] =
    "WITH docs AS (SELECT DISTINCT ON (d->>'username') d"
    "  FROM jsonb_array_elements($1::jsonb) d ORDER BY d->>'username', (d->>'fetched_at') DESC),"
    /* Sort keys only: carrying whole documents through these sorts spilled to disk. */
    " reels AS (SELECT DISTINCT ON (r->>'content_id') username, r"
    "  FROM (SELECT DISTINCT ON (r->>'shortcode') d->>'username' AS username, r FROM docs,"
    "   jsonb_array_elements(d->'reels') r ORDER BY r->>'shortcode') x"
    "  ORDER BY r->>'content_id'),"
    " stats AS (SELECT username,"
    "   count(*) AS n,"
    "   percentile_cont(0.5) WITHIN GROUP (ORDER BY (r->>'view_count')::numeric)"
    "    FILTER (WHERE (r->>'view_count')::numeric > 0) AS median,"
    "   avg((r->>'view_count')::numeric) AS mean,"
    "   stddev_pop((r->>'view_count')::numeric) AS std,"
    "   sum((r->>'view_count')::numeric) AS views, sum((r->>'like_count')::numeric) AS likes,"
    "   sum((r->>'comment_count')::numeric) AS comments"
    "  FROM reels GROUP BY username),"
    " prof AS (INSERT INTO primary_profiles AS p (username, profile_name, bio, followers,"
    "   posts_count, is_verified, is_business_account, profile_url, profile_image_url,"
    "   total_reels, median_views, mean_views, std_views, total_views, total_likes,"
    "   total_comments, last_full_scrape)"
    "  SELECT d->>'username', left(d->'profile'->>'full_name', 255), d->'profile'->>'biography',"
    "   least((d->'profile'->>'followers')::bigint, 2147483647),"
    "   least((d->'profile'->>'posts_count')::bigint, 2147483647),"
    "   COALESCE((d->'profile'->>'is_verified')::boolean, false),"
    "   COALESCE((d->'profile'->>'is_business')::boolean, false),"
    "   'https://www.instagram.com/' || (d->>'username') || '/',"
    "   d->'profile'->>'profile_pic_url',"
    "   COALESCE(s.n, 0), COALESCE(round(s.median), 0), COALESCE(round(s.mean, 2), 0),"
    "   COALESCE(round(s.std, 2), 0), COALESCE(s.views, 0), COALESCE(s.likes, 0),"
    "   COALESCE(s.comments, 0), to_timestamp((d->>'fetched_at')::bigint)"
    "  FROM docs LEFT JOIN stats s ON s.username = docs.d->>'username'"
    "  ON CONFLICT (username) DO UPDATE SET profile_name = EXCLUDED.profile_name,"
    "   bio = EXCLUDED.bio, followers = EXCLUDED.followers, posts_count = EXCLUDED.posts_count,"
    "   is_verified = EXCLUDED.is_verified, is_business_account = EXCLUDED.is_business_account,"
    "   profile_image_url = COALESCE(EXCLUDED.profile_image_url, p.profile_image_url),"
    "   total_reels = GREATEST(p.total_reels, EXCLUDED.total_reels),"
    "   median_views = CASE WHEN EXCLUDED.total_reels > 0 THEN EXCLUDED.median_views"
    "    ELSE p.median_views END,"
    "   mean_views = CASE WHEN EXCLUDED.total_reels > 0 THEN EXCLUDED.mean_views"
    "    ELSE p.mean_views END,"
    "   std_views = CASE WHEN EXCLUDED.total_reels > 0 THEN EXCLUDED.std_views"
    "    ELSE p.std_views END,"
    "   total_views = GREATEST(p.total_views, EXCLUDED.total_views),"
    "   total_likes = GREATEST(p.total_likes, EXCLUDED.total_likes),"
    "   total_comments = GREATEST(p.total_comments, EXCLUDED.total_comments),"
    "   last_full_scrape = EXCLUDED.last_full_scrape"
    "  RETURNING p.id, p.username),"
    " ins AS (INSERT INTO content AS c (content_id, shortcode, content_type, url, description,"
    "   thumbnail_url, view_count, like_count, comment_count, outlier_score, date_posted,"
    "   username, profile_id, transcript, transcript_language, transcript_fetched_at,"
    "   transcript_available, all_image_urls)"
    "  SELECT r->>'content_id', r->>'shortcode', 'reel', r->>'url', r->>'caption',"
    "   r->>'thumbnail_url', (r->>'view_count')::bigint, (r->>'like_count')::bigint,"
    "   (r->>'comment_count')::bigint,"
    "   CASE WHEN s.median > 0 THEN least(round((r->>'view_count')::numeric / s.median::numeric, "
    "4),"
    "    999999.9999) ELSE 0 END,"
    "   CASE WHEN (r->>'taken_at')::bigint > 0 THEN to_timestamp((r->>'taken_at')::bigint) END,"
    "   reels.username, prof.id,"
    "   CASE WHEN jsonb_typeof(r->'transcript') = 'object' THEN jsonb_build_object("
    "    'language', r->'transcript'->'lang',"
    "    'available_languages', r->'transcript'->'available_langs',"
    "    'content', r->'transcript'->'segments', 'fetched_at', now()) END,"
    "   CASE WHEN jsonb_typeof(r->'transcript') = 'object'"
    "    THEN left(r->'transcript'->>'lang', 10) END,"
    "   CASE WHEN jsonb_typeof(r->'transcript') = 'object' THEN now() END,"
    "   jsonb_typeof(r->'transcript') = 'object',"
    "   jsonb_strip_nulls(jsonb_build_object('thumbnail_url', r->'thumbnail_url'))"
    "  FROM reels JOIN prof ON prof.username = reels.username"
    "  LEFT JOIN stats s ON s.username = reels.username"
    /* A scalar subquery probes the content_id index per reel; as NOT EXISTS
     * the planner chose a hash anti-join over a scan of the whole table. */
    "  WHERE COALESCE((SELECT o.shortcode = r->>'shortcode' FROM content o"
    "   WHERE o.content_id = r->>'content_id'), true)"
    "  ON CONFLICT (shortcode) DO UPDATE SET view_count = EXCLUDED.view_count,"
    "   like_count = EXCLUDED.like_count, comment_count = EXCLUDED.comment_count,"
    "   outlier_score = EXCLUDED.outlier_score, description = EXCLUDED.description,"
    "   thumbnail_url = COALESCE(EXCLUDED.thumbnail_url, c.thumbnail_url),"
    "   date_posted = COALESCE(EXCLUDED.date_posted, c.date_posted),"
    "   profile_id = EXCLUDED.profile_id,"
    "   transcript = COALESCE(EXCLUDED.transcript, c.transcript),"
    "   transcript_language = COALESCE(EXCLUDED.transcript_language, c.transcript_language),"
    "   transcript_fetched_at = COALESCE(EXCLUDED.transcript_fetched_at, c.transcript_fetched_at),"
    "   transcript_available = c.transcript_available OR EXCLUDED.transcript_available"
    "  WHERE c.content_id = EXCLUDED.content_id"
    /* A re-sent or unchanged reel writes nothing (no dead row, no index churn). */
    "   AND ((c.view_count, c.like_count, c.comment_count, c.outlier_score, c.description,"
    "    c.date_posted, c.profile_id, c.transcript_available)"
    "    IS DISTINCT FROM (EXCLUDED.view_count, EXCLUDED.like_count, EXCLUDED.comment_count,"
    "    EXCLUDED.outlier_score, EXCLUDED.description, EXCLUDED.date_posted,"
    "    EXCLUDED.profile_id, c.transcript_available OR EXCLUDED.transcript_available)"
    "    OR (EXCLUDED.transcript IS NOT NULL AND c.transcript IS NULL))"
    "  RETURNING 1)"
    " SELECT count(*) FROM ins";

struct store_call {
	store_fn cb;
	void *arg;
};

static void on_stored(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	struct store_call *s = arg;
	(void)pg;
	s->cb(err ? -1 : strtoll(PQgetvalue(res, 0, 0), NULL, 10), err, s->arg);
	free(s);
}

int store_accounts_async(struct pg *pg, const char *docs_json, store_fn cb, void *arg)
{
	struct store_call *s = xmalloc(sizeof *s);
	const char *p[] = {docs_json};
	s->cb = cb;
	s->arg = arg;
	int r = pg_query(pg, SQL_STORE_ACCOUNTS, 1, p, on_stored, s);
	if (r < 0)
		free(s);
	return r;
}

/* $1 job, $2 primary, $3 run, $4 type, $5 strategy, $6 since, $7 accounts text[], $8 limit. */
static const char SQL_ANALYSIS_INPUT[] =
    "SELECT json_build_object("
    " 'now', extract(epoch FROM now())::bigint,"
    " 'job', json_build_object('queue_id', $1::text, 'primary_username', $2::text,"
    "  'analysis_run', $3::int, 'analysis_type', $4::text,"
    "  'content_strategy', COALESCE($5::jsonb, '{}'::jsonb)),"
    " 'since', NULLIF($6::bigint, 0),"
    " 'profiles', (SELECT COALESCE(json_agg(json_build_object('username', p.username,"
    "   'role', CASE WHEN p.username = $2::text THEN 'primary' ELSE 'competitor' END,"
    "   'profile_name', p.profile_name, 'bio', p.bio, 'followers', p.followers,"
    "   'posts_count', p.posts_count, 'is_verified', p.is_verified)), '[]'::json)"
    "  FROM primary_profiles p WHERE p.username = ANY($7::text[])),"
    " 'reels', (SELECT COALESCE(json_agg(json_build_object('content_id', c.content_id,"
    "   'shortcode', c.shortcode, 'username', c.username, 'view_count', c.view_count,"
    "   'like_count', c.like_count, 'comment_count', c.comment_count,"
    "   'date_posted', extract(epoch FROM c.date_posted)::bigint,"
    "   'description', c.description,"
    "   'transcript_text', CASE WHEN jsonb_typeof(c.transcript->'content') = 'array'"
    "    THEN (SELECT string_agg(seg->>'text', ' ') FROM"
    "     jsonb_array_elements(c.transcript->'content') seg) END)), '[]'::json)"
    "  FROM unnest($7::text[]) AS u(name), LATERAL (SELECT * FROM content x"
    "   WHERE x.username = u.name ORDER BY x.date_posted DESC NULLS LAST LIMIT $8::int) c)"
    ")::text";

struct input_call {
	analysis_input_fn cb;
	void *arg;
};

static void on_input(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	struct input_call *c = arg;
	(void)pg;
	if (!err && PQntuples(res) != 1)
		err = "no analysis input row";
	c->cb(err ? NULL : PQgetvalue(res, 0, 0), err, c->arg);
	free(c);
}

int store_analysis_input_async(struct pg *pg, const struct analysis_input_req *req,
                               analysis_input_fn cb, void *arg)
{
	char run[16], since[24], limit[16];
	struct input_call *c = xmalloc(sizeof *c);
	char *accounts = pg_text_array(req->accounts, req->naccounts);
	snprintf(run, sizeof run, "%d", req->run);
	snprintf(since, sizeof since, "%lld", req->since);
	snprintf(limit, sizeof limit, "%d",
	         req->reels_per_account > 0 ? req->reels_per_account : 100);
	const char *p[] = {req->job_id,           req->primary, run,      req->analysis_type,
	                   req->content_strategy, since,        accounts, limit};
	c->cb = cb;
	c->arg = arg;
	int r = pg_query(pg, SQL_ANALYSIS_INPUT, 8, p, on_input, c);
	if (r < 0)
		free(c);
	free(accounts);
	return r;
}
