/*
 * The per-account fetch: profile, then reels pages until the listing ends
 * or a stop mark (since / known shortcode / max reels / max pages), then the
 * transcripts of the best few reels in parallel, then one document.
 * A failed transcript does not fail the account; anything else does.
 */
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "actors/fetcher/provider_impl.h"

struct account {
	struct provider *p;
	struct account *prev, *next;
	char *username;
	char *known;
	struct fetch_request req;
	provider_done_cb cb;
	void *arg;
	json_t *profile;
	json_t *reels;
	int pages, skipped, requests, retries;
	const char *stop;
	int tr_pending, tr_requested, tr_fetched, tr_failed;
	bool done;
};

/* The context of one transcript get. */
struct tr_get {
	struct account *a;
	json_t *reel;
};

const char *fetch_status_name(enum fetch_status s)
{
	switch (s) {
	case FETCH_OK:
		return "ok";
	case FETCH_TRANSIENT:
		return "transient";
	case FETCH_PERMANENT:
		return "permanent";
	case FETCH_CANCELLED:
		return "cancelled";
	}
	return "?";
}

static char *dup_or_null(const char *s)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		abort();
	return d;
}

static void account_free(struct account *a)
{
	json_decref(a->profile);
	json_decref(a->reels);
	free(a->username);
	free(a->known);
	free(a);
}

static void account_unlink(struct account *a)
{
	struct provider *p = a->p;
	if (a->prev)
		a->prev->next = a->next;
	else
		p->accounts = a->next;
	if (a->next)
		a->next->prev = a->prev;
	a->prev = a->next = NULL;
	p->active--;
}

static void account_fail(struct account *a, enum fetch_status st, const char *reason)
{
	account_unlink(a);
	a->cb(a->arg, st, reason, NULL);
	account_free(a);
}

static void account_note(struct account *a, int attempts)
{
	a->requests += attempts;
	if (attempts > 1)
		a->retries += attempts - 1;
}

static void account_finish(struct account *a)
{
	json_t *doc = json_object();
	json_object_set_new(doc, "username", json_string(a->username));
	json_object_set_new(doc, "provider", json_string(a->p->ops->name));
	json_object_set_new(doc, "fetched_at", json_integer((json_int_t)time(NULL)));
	json_object_set(doc, "profile", a->profile);
	json_object_set(doc, "reels", a->reels);
	json_t *f = json_object();
	json_object_set_new(f, "pages", json_integer(a->pages));
	json_object_set_new(f, "stop", json_string(a->stop));
	json_object_set_new(f, "incremental", json_boolean(a->req.since > 0 || a->known));
	json_object_set_new(f, "reels_skipped", json_integer(a->skipped));
	json_object_set_new(f, "transcripts_requested", json_integer(a->tr_requested));
	json_object_set_new(f, "transcripts_fetched", json_integer(a->tr_fetched));
	json_object_set_new(f, "transcripts_failed", json_integer(a->tr_failed));
	json_object_set_new(f, "requests", json_integer(a->requests));
	json_object_set_new(f, "retries", json_integer(a->retries));
	json_object_set_new(doc, "fetch", f);
	account_unlink(a);
	a->cb(a->arg, FETCH_OK, "", doc);
	account_free(a);
}

static void on_transcript(void *arg, enum fetch_status st, const char *reason, const char *body,
                          size_t len, int attempts)
{
	struct tr_get *g = arg;
	struct account *a = g->a;
	json_t *reel = g->reel;
	free(g);
	account_note(a, attempts);
	a->tr_pending--;
	if (st == FETCH_CANCELLED) {
		/* The account ends once, when its last get comes back. */
		a->done = true;
	} else if (st == FETCH_OK) {
		json_t *tr = NULL;
		char why[256];
		int rc = body ? provider_parse_transcript(body, len, &tr, why, sizeof(why)) : 0;
		if (rc) {
			a->tr_failed++;
			json_object_set_new(reel, "transcript_status", json_string("failed"));
			json_object_set_new(reel, "transcript_error", json_string(why));
		} else if (tr) {
			a->tr_fetched++;
			json_object_set_new(reel, "transcript_status", json_string("fetched"));
			json_object_set_new(reel, "transcript", tr);
		} else {
			json_object_set_new(reel, "transcript_status", json_string("none"));
		}
	} else {
		a->tr_failed++;
		char why[300];
		snprintf(why, sizeof(why), "transcript: %s", reason);
		json_object_set_new(reel, "transcript_status", json_string("failed"));
		json_object_set_new(reel, "transcript_error", json_string(why));
	}
	if (a->tr_pending > 0)
		return;
	if (a->done)
		account_fail(a, FETCH_CANCELLED, "cancelled");
	else
		account_finish(a);
}

static int by_views_desc(const void *x, const void *y)
{
	json_int_t a = json_integer_value(json_object_get(*(json_t *const *)x, "view_count"));
	json_int_t b = json_integer_value(json_object_get(*(json_t *const *)y, "view_count"));
	return a < b ? 1 : a > b ? -1 : 0;
}

static void start_transcripts(struct account *a)
{
	size_t n = json_array_size(a->reels);
	json_t **order = calloc(n ? n : 1, sizeof(*order));
	if (!order)
		abort();
	for (size_t i = 0; i < n; i++) {
		order[i] = json_array_get(a->reels, i);
		json_object_set_new(order[i], "transcript_status", json_string("not_requested"));
		json_object_set_new(order[i], "transcript", json_null());
	}
	qsort(order, n, sizeof(*order), by_views_desc);
	int want = a->req.transcripts < 0 ? 0 : a->req.transcripts;
	/* Count first: a get's callback never runs inside get, but keep the
	 * pending count right before any of them can complete. */
	a->tr_pending = 1;
	for (size_t i = 0; i < n && (int)i < want; i++) {
		struct tr_get *g = malloc(sizeof(*g));
		if (!g)
			abort();
		g->a = a;
		g->reel = order[i];
		const char *code = json_string_value(json_object_get(order[i], "shortcode"));
		if (a->p->ops->get(a->p, DOC_TRANSCRIPT, a->username, code, a->req.deadline,
		                   on_transcript, g) == 0) {
			a->tr_pending++;
			a->tr_requested++;
		} else {
			free(g);
		}
	}
	free(order);
	if (--a->tr_pending == 0)
		account_finish(a);
}

static void get_page(struct account *a, const char *token);

static void on_reels(void *arg, enum fetch_status st, const char *reason, const char *body,
                     size_t len, int attempts)
{
	struct account *a = arg;
	char why[400];
	account_note(a, attempts);
	a->pages++;
	if (st != FETCH_OK || !body) {
		snprintf(why, sizeof(why), "reels page %d: %s", a->pages,
		         body || st != FETCH_OK ? reason : "no such page");
		account_fail(a, st == FETCH_OK ? FETCH_PERMANENT : st, why);
		return;
	}
	json_t *page = json_array();
	char *next = NULL, perr[300];
	int rc = provider_parse_reels(body, len, page, &next, &a->skipped, perr, sizeof(perr));
	if (rc) {
		snprintf(why, sizeof(why), "reels page %d: %s", a->pages, perr);
		json_decref(page);
		account_fail(a, FETCH_PERMANENT, why);
		return;
	}
	size_t i;
	json_t *r;
	json_array_foreach(page, i, r)
	{
		const char *code = json_string_value(json_object_get(r, "shortcode"));
		json_int_t taken = json_integer_value(json_object_get(r, "taken_at"));
		bool pinned = json_is_true(json_object_get(r, "pinned"));
		bool old = (a->known && strcmp(code, a->known) == 0) ||
		           (a->req.since > 0 && taken > 0 && taken <= a->req.since);
		if (pinned && old)
			continue; /* an old pinned reel: neither new nor the end */
		if (a->known && strcmp(code, a->known) == 0) {
			a->stop = "known";
			break;
		}
		if (a->req.since > 0 && taken > 0 && taken <= a->req.since) {
			a->stop = "since";
			break;
		}
		json_array_append(a->reels, r);
		if ((int)json_array_size(a->reels) >= a->req.max_reels) {
			a->stop = "max_reels";
			break;
		}
	}
	json_decref(page);
	if (!a->stop && !next)
		a->stop = "end";
	if (!a->stop && a->pages >= a->req.max_pages)
		a->stop = "max_pages";
	if (a->stop)
		start_transcripts(a);
	else
		get_page(a, next);
	free(next);
}

static void get_page(struct account *a, const char *token)
{
	int rc = a->p->ops->get(a->p, DOC_REELS, a->username, token, a->req.deadline, on_reels, a);
	if (rc) {
		char why[128];
		snprintf(why, sizeof(why), "reels page %d: cannot start request (%s)", a->pages + 1,
		         strerror(-rc));
		account_fail(a, FETCH_PERMANENT, why);
	}
}

static void on_profile(void *arg, enum fetch_status st, const char *reason, const char *body,
                       size_t len, int attempts)
{
	struct account *a = arg;
	char why[400];
	account_note(a, attempts);
	if (st != FETCH_OK || !body) {
		snprintf(why, sizeof(why), "profile: %s",
		         body || st != FETCH_OK ? reason : "user not found");
		account_fail(a, st == FETCH_OK ? FETCH_PERMANENT : st, why);
		return;
	}
	int rc = provider_parse_profile(body, len, &a->profile, why, sizeof(why));
	if (rc) {
		account_fail(a, FETCH_PERMANENT, why);
		return;
	}
	const char *got = json_string_value(json_object_get(a->profile, "username"));
	if (strcasecmp(got, a->username) != 0) {
		snprintf(why, sizeof(why), "profile: answer is for another user (%.64s)", got);
		account_fail(a, FETCH_PERMANENT, why);
		return;
	}
	get_page(a, NULL);
}

int provider_fetch(struct provider *p, const struct fetch_request *req, provider_done_cb cb,
                   void *arg)
{
	if (!req || !cb || !provider_username_ok(req->username))
		return -EINVAL;
	if (req->known_shortcode && !provider_shortcode_ok(req->known_shortcode))
		return -EINVAL;
	struct account *a = calloc(1, sizeof(*a));
	if (!a)
		abort();
	a->p = p;
	a->req = *req;
	a->username = dup_or_null(req->username);
	for (char *c = a->username; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	a->known = dup_or_null(req->known_shortcode);
	a->req.username = a->username;
	a->req.known_shortcode = a->known;
	if (a->req.max_reels <= 0)
		a->req.max_reels = 50;
	if (a->req.max_pages <= 0)
		a->req.max_pages = 5;
	if (a->req.transcripts == 0)
		a->req.transcripts = 3;
	a->reels = json_array();
	a->cb = cb;
	a->arg = arg;
	int rc = p->ops->get(p, DOC_PROFILE, a->username, NULL, a->req.deadline, on_profile, a);
	if (rc) {
		account_free(a);
		return rc;
	}
	a->next = p->accounts;
	if (p->accounts)
		p->accounts->prev = a;
	p->accounts = a;
	p->active++;
	return 0;
}

void provider_cancel_all(struct provider *p)
{
	/* Each pending get comes back with FETCH_CANCELLED and ends its account. */
	p->ops->cancel_all(p);
}

int provider_active(const struct provider *p)
{
	return p->active;
}

const char *provider_name(const struct provider *p)
{
	return p->ops->name;
}

void provider_counters(const struct provider *p, struct provider_counters *out)
{
	*out = p->counts;
}

void provider_opts_from_env(struct provider_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->scraper_url = getenv("VIRALSUP_SCRAPER_URL");
	o->transcript_url = getenv("VIRALSUP_TRANSCRIPT_URL");
	o->fixtures_dir = getenv("VIRALSUP_FIXTURES_DIR");
	o->api_key = getenv("RAPIDAPI_KEY");
	if (!o->api_key || !*o->api_key)
		o->api_key = getenv("INSTAGRAM_SCRAPER_API_KEY");
	if (o->api_key && !*o->api_key)
		o->api_key = NULL;
}

struct provider *provider_new(struct ev_loop *loop, const char *kind,
                              const struct provider_opts *opts, char *err, size_t errlen)
{
	struct provider *p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	p->loop = loop;
	if (opts)
		p->opts = *opts;
	struct provider_opts *o = &p->opts;
	if (!o->scraper_url || !*o->scraper_url)
		o->scraper_url = "https://instagram-scraper-stable-api.p.rapidapi.com";
	if (!o->transcript_url || !*o->transcript_url)
		o->transcript_url = "https://instagram-transcripts.p.rapidapi.com";
	if (!o->scraper_host)
		o->scraper_host = "instagram-scraper-stable-api.p.rapidapi.com";
	if (!o->transcript_host)
		o->transcript_host = "instagram-transcripts.p.rapidapi.com";
	if (!o->fixtures_dir || !*o->fixtures_dir)
		o->fixtures_dir = "examples/instagram";
	if (o->max_attempts <= 0)
		o->max_attempts = 4;
	if (o->backoff_base_ms <= 0)
		o->backoff_base_ms = 500;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = 30000;
	if (o->retry_after_max_ms <= 0)
		o->retry_after_max_ms = 60000;
	if (o->reels_page_count <= 0)
		o->reels_page_count = 50;
	if (!kind || !*kind)
		kind = o->api_key ? "rapidapi" : "fixtures";
	int rc;
	if (strcmp(kind, "rapidapi") == 0) {
		rc = transport_rapidapi_init(p, err, errlen);
	} else if (strcmp(kind, "fixtures") == 0) {
		rc = transport_fixtures_init(p, err, errlen);
	} else {
		snprintf(err, errlen, "unknown provider '%s' (rapidapi or fixtures)", kind);
		rc = -EINVAL;
	}
	if (rc) {
		free(p);
		return NULL;
	}
	return p;
}

void provider_free(struct provider *p)
{
	if (!p)
		return;
	provider_cancel_all(p);
	p->ops->destroy(p);
	free(p);
}
