/*
 * The analysis engine's entry point: validates and reads the input
 * document, runs metrics -> selection -> hooks -> picks -> trends -> ideas,
 * and assembles the output (see engine.h and docs/analysis.md).
 */
#include "actors/analyzer/engine.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/analysis.h"

#define MAX_SECONDS 32503680000LL /* year 3000: larger "unix seconds" are milliseconds */

/* ---- small shared helpers ---------------------------------------------- */

static _Noreturn void oom(void)
{
	fprintf(stderr, "analysis: out of memory building JSON\n");
	abort();
}

json_t *an_str(const char *s)
{
	if (!s)
		return json_null();
	/*
	 * Every string here is text.c output, a constant or printf of those,
	 * so valid UTF-8: skip jansson's re-validation (the fuzz target checks
	 * the claim by re-parsing every output).
	 */
	json_t *v = json_string_nocheck(s);
	if (!v)
		oom();
	return v;
}

void an_set(json_t *obj, const char *key, json_t *value)
{
	if (!value || json_object_set_new(obj, key, value))
		oom();
}

void an_push(json_t *arr, json_t *value)
{
	if (!value || json_array_append_new(arr, value))
		oom();
}

double an_round4(double x)
{
	return isfinite(x) ? round(x * 10000.0) / 10000.0 : 0;
}

double an_round2(double x)
{
	return isfinite(x) ? round(x * 100.0) / 100.0 : 0;
}

void an_note(struct an_ctx *c, const char *note)
{
	if (c->nnotes < AN_MAX_NOTES)
		c->notes[c->nnotes++] = note;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void an_iso_time(int64_t t, char buf[32])
{
	if (t < 0) {
		buf[0] = '\0';
		return;
	}
	int64_t days = t / 86400, secs = t % 86400;
	/* civil_from_days */
	int64_t z = days + 719468, era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	char tmp[96]; /* wide enough for any value, so that no truncation warning fires */
	snprintf(tmp, sizeof(tmp), "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
	         (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	memcpy(buf, tmp, 31);
	buf[31] = '\0';
}

/* "YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|+HH[:MM]|-HH[:MM]]"; -1 when not one. */
static int64_t parse_iso(const char *s)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return -1;
	const char *p = s + n;
	if (*p == 'T' || *p == ' ') {
		int k = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &k) != 2)
			return -1;
		p += 1 + k;
		if (*p == ':' && sscanf(p + 1, "%2d%n", &sec, &k) == 1)
			p += 1 + k;
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9'; p++)
				;
	}
	int off = 0;
	if (*p == '+' || *p == '-') {
		int oh = 0, om = 0;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) < 1 && sscanf(p + 1, "%2d%2d", &oh, &om) < 1)
			return -1;
		off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
	}
	if (y < 1970 || y > 2999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	int64_t t =
	    days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - off;
	return t < 0 ? -1 : t;
}

/* A non-negative count from an integer, real or numeric string; 0 otherwise. Clamped to 1e15. */
static int64_t get_count(const json_t *v)
{
	double x = 0;
	if (json_is_integer(v))
		x = (double)json_integer_value(v);
	else if (json_is_real(v))
		x = json_real_value(v);
	else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		x = strtod(s, &end);
		if (end == s)
			x = 0;
	}
	if (!isfinite(x) || x < 0)
		return 0;
	return x > 1e15 ? (int64_t)1e15 : (int64_t)x;
}

/* Unix seconds from a number (milliseconds accepted) or an ISO 8601 string; -1 otherwise. */
static int64_t get_time(const json_t *v)
{
	double x;
	if (json_is_integer(v))
		x = (double)json_integer_value(v);
	else if (json_is_real(v))
		x = json_real_value(v);
	else if (json_is_string(v))
		return parse_iso(json_string_value(v));
	else
		return -1;
	if (!isfinite(x) || x < 0)
		return -1;
	if (x > (double)MAX_SECONDS)
		x /= 1000.0;
	if (x > (double)MAX_SECONDS)
		return -1;
	return (int64_t)x;
}

/* ---- input ---------------------------------------------------------------- */

struct input_err {
	char *buf;
	size_t len;
};

static int bad(struct input_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct input_err *e, const char *fmt, ...)
{
	if (e->buf && e->len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->buf, e->len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Cleaned, bounded copy of a string member, or NULL when absent or not a string. */
static const char *opt_text(struct an_ctx *c, const json_t *obj, const char *key, size_t max)
{
	const json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return NULL;
	const char *s = text_clean(&c->arena, json_string_value(v), json_string_length(v), max,
	                           TEXT_ONELINE | TEXT_ELLIPSIS);
	return *s ? s : NULL;
}

/* A username: '@' dropped, ASCII lower-cased, cleaned; NULL when empty. */
static const char *username(struct an_ctx *c, const json_t *v)
{
	if (!json_is_string(v))
		return NULL;
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	while (len && (*s == '@' || *s == ' '))
		s++, len--;
	char *u = text_clean(&c->arena, s, len, AN_ID_MAX, TEXT_ONELINE);
	for (char *p = u; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return *u ? u : NULL;
}

static int find_account(struct an_ctx *c, const char *user)
{
	for (int a = 0; a < c->naccounts; a++)
		if (!strcmp(c->accounts[a].username, user))
			return a;
	return -1;
}

static int add_account(struct an_ctx *c, const char *user)
{
	int a = find_account(c, user);
	if (a >= 0 || c->naccounts >= AN_MAX_ACCOUNTS)
		return a;
	a = c->naccounts++;
	c->accounts[a].username = user;
	c->accounts[a].primary = a == c->primary;
	c->accounts[a].newest = c->accounts[a].oldest = -1;
	return a;
}

/* goals may be a string or an array of strings (joined with ", "). */
static const char *strategy_field(struct an_ctx *c, const json_t *cs, const char *key)
{
	const json_t *v = json_object_get(cs, key);
	if (json_is_string(v))
		return opt_text(c, cs, key, AN_NAME_MAX);
	if (!json_is_array(v))
		return NULL;
	char buf[AN_NAME_MAX + 1];
	size_t o = 0;
	for (size_t i = 0; i < json_array_size(v) && i < 16; i++) {
		const json_t *e = json_array_get(v, i);
		if (!json_is_string(e))
			continue;
		int n =
		    snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? ", " : "", json_string_value(e));
		if (n < 0 || (size_t)n >= sizeof(buf) - o) {
			o = sizeof(buf) - 1;
			break;
		}
		o += (size_t)n;
	}
	const char *s = text_clean(&c->arena, buf, o, AN_NAME_MAX, TEXT_ONELINE | TEXT_ELLIPSIS);
	return *s ? s : NULL;
}

static int read_job(struct an_ctx *c, const json_t *in, struct input_err *e)
{
	const json_t *now = json_object_get(in, "now");
	if (!json_is_number(now) || get_time(now) < 0 || json_number_value(now) > MAX_SECONDS)
		return bad(e, "now: expected unix seconds (a non-negative number)");
	c->now = get_time(now);
	an_iso_time(c->now, c->timestamp);

	const json_t *job = json_object_get(in, "job");
	if (!json_is_object(job))
		return bad(e, "job: expected an object");
	c->primary_username = username(c, json_object_get(job, "primary_username"));
	if (!c->primary_username)
		return bad(e, "job.primary_username: expected a non-empty string");
	const json_t *v = json_object_get(job, "queue_id");
	if (v && !json_is_null(v) && !json_is_string(v))
		return bad(e, "job.queue_id: expected a string");
	c->queue_id = opt_text(c, job, "queue_id", AN_ID_MAX);
	v = json_object_get(job, "analysis_run");
	c->run = 1;
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 1000000000)
			return bad(e, "job.analysis_run: expected an integer >= 1");
		c->run = (int)json_integer_value(v);
	}
	c->recurring = c->run > 1;
	v = json_object_get(job, "analysis_type");
	if (v && !json_is_null(v)) {
		const char *t = json_string_value(v);
		if (!t || (strcmp(t, "initial") && strcmp(t, "recurring")))
			return bad(e, "job.analysis_type: expected \"initial\" or \"recurring\"");
		c->recurring = !strcmp(t, "recurring");
	}
	v = json_object_get(job, "content_strategy");
	if (v && !json_is_null(v) && !json_is_object(v))
		return bad(e, "job.content_strategy: expected an object or null");
	const char *ct = NULL, *aud = NULL, *goals = NULL;
	if (json_is_object(v)) {
		ct = strategy_field(c, v, "contentType");
		aud = strategy_field(c, v, "targetAudience");
		goals = strategy_field(c, v, "goals");
	}
	c->strategy_given = ct || aud || goals;
	c->content_type = ct ? ct : "a short reel";
	c->audience = aud ? aud : "your audience";
	c->goals = goals ? goals : "growing your audience";

	v = json_object_get(in, "since");
	c->since = -1;
	if (v && !json_is_null(v)) {
		if (!json_is_number(v) || get_time(v) < 0)
			return bad(e, "since: expected unix seconds or null");
		c->since = get_time(v);
	}
	if (c->recurring && c->since < 0)
		c->since = c->now > AN_RECURRING_DEFAULT ? c->now - AN_RECURRING_DEFAULT : 0;
	return 0;
}

static int read_profiles(struct an_ctx *c, const json_t *in, struct input_err *e)
{
	const json_t *profiles = json_object_get(in, "profiles");
	if (!json_is_array(profiles))
		return bad(e, "profiles: expected an array");
	c->accounts = arena_alloc(&c->arena, sizeof(*c->accounts) * AN_MAX_ACCOUNTS);
	c->primary = 0;
	add_account(c, c->primary_username);
	for (size_t i = 0; i < json_array_size(profiles); i++) {
		const json_t *p = json_array_get(profiles, i);
		if (!json_is_object(p))
			return bad(e, "profiles[%zu]: expected an object", i);
		const char *user = username(c, json_object_get(p, "username"));
		if (!user)
			return bad(e, "profiles[%zu].username: expected a non-empty string", i);
		const json_t *role = json_object_get(p, "role");
		if (role && !json_is_null(role)) {
			const char *r = json_string_value(role);
			if (!r || (strcmp(r, "primary") && strcmp(r, "competitor")))
				return bad(
				    e, "profiles[%zu].role: expected \"primary\" or \"competitor\"",
				    i);
			if (!strcmp(r, "primary") != !strcmp(user, c->primary_username))
				return bad(
				    e,
				    "profiles[%zu].role: \"%s\" contradicts job.primary_username",
				    i, r);
		}
		int a = add_account(c, user);
		if (a < 0 || c->accounts[a].has_profile)
			continue; /* over the account cap, or a repeated profile: first wins */
		struct an_account *acct = &c->accounts[a];
		acct->has_profile = true;
		acct->profile_name = opt_text(c, p, "profile_name", AN_NAME_MAX);
		acct->bio = opt_text(c, p, "bio", AN_BIO_MAX);
		acct->followers = get_count(json_object_get(p, "followers"));
		acct->posts_count = get_count(json_object_get(p, "posts_count"));
	}
	return 0;
}

/* Open-addressing set of content ids, for de-duplication. */
struct idset {
	const char **slots;
	size_t cap;
};

static bool idset_add(struct idset *s, const char *id)
{
	uint32_t h = 2166136261u;
	for (const char *p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slots[i]) {
			s->slots[i] = id;
			return true;
		}
		if (!strcmp(s->slots[i], id))
			return false;
	}
}

static int read_reels(struct an_ctx *c, const json_t *in, struct input_err *e)
{
	const json_t *reels = json_object_get(in, "reels");
	if (!json_is_array(reels))
		return bad(e, "reels: expected an array");
	size_t n = json_array_size(reels);
	size_t keep = n < AN_MAX_REELS ? n : AN_MAX_REELS;
	c->reels = arena_alloc(&c->arena, sizeof(*c->reels) * (keep + 1));
	struct idset ids = {.cap = 16};
	while (ids.cap < 2 * keep + 2)
		ids.cap <<= 1;
	ids.slots = arena_alloc(&c->arena, sizeof(char *) * ids.cap);
	char num[32];
	for (size_t i = 0; i < n; i++) {
		const json_t *r = json_array_get(reels, i);
		if (!json_is_object(r))
			return bad(e, "reels[%zu]: expected an object", i);
		const json_t *id = json_object_get(r, "content_id");
		const json_t *user = json_object_get(r, "username");
		if (!(json_is_string(id) && json_string_length(id) > 0) && !json_is_integer(id))
			return bad(
			    e, "reels[%zu].content_id: expected a non-empty string or an integer",
			    i);
		if (!json_is_string(user) || json_string_length(user) == 0)
			return bad(e, "reels[%zu].username: expected a non-empty string", i);
		if (i >= AN_MAX_REELS) {
			c->reels_over_cap++;
			continue;
		}
		const char *uname = username(c, user);
		const char *cid;
		if (json_is_integer(id)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
			cid = arena_strndup(&c->arena, num, strlen(num));
		} else {
			cid = text_clean(&c->arena, json_string_value(id), json_string_length(id),
			                 AN_ID_MAX, TEXT_ONELINE);
		}
		if (!uname || !*cid) {
			c->reels_skipped++;
			continue;
		}
		int a = add_account(c, uname);
		if (a < 0) {
			c->reels_unknown_account++;
			continue;
		}
		if (!idset_add(&ids, cid)) {
			c->reels_duplicate++;
			continue;
		}
		struct an_reel *x = &c->reels[c->nreels];
		x->index = c->nreels++;
		x->content_id = cid;
		x->account = a;
		x->shortcode = opt_text(c, r, "shortcode", AN_ID_MAX);
		x->views = get_count(json_object_get(r, "view_count"));
		x->likes = get_count(json_object_get(r, "like_count"));
		x->comments = get_count(json_object_get(r, "comment_count"));
		x->date = get_time(json_object_get(r, "date_posted"));
		const json_t *d = json_object_get(r, "description");
		if (json_is_string(d)) {
			x->desc = json_string_value(d);
			x->desc_len = json_string_length(d);
		}
		const json_t *t = json_object_get(r, "transcript_text");
		if (json_is_string(t)) {
			x->tr = json_string_value(t);
			x->tr_len = json_string_length(t);
			x->tr_present = true;
		}
		x->is_new = c->recurring && x->date >= 0 && x->date > c->since;
	}
	return 0;
}

/* ---- output ---------------------------------------------------------------- */

json_t *an_reel_metadata(struct an_ctx *c, const struct an_reel *r)
{
	char when[32];
	an_iso_time(r->date, when);
	json_t *m = json_object();
	an_set(m, "reel_id", an_str(r->content_id));
	an_set(m, "content_id", an_str(r->content_id));
	an_set(m, "shortcode", an_str(r->shortcode));
	const char *url =
	    r->shortcode
	        ? arena_printf(&c->arena, "https://www.instagram.com/reel/%s/", r->shortcode)
	        : NULL;
	an_set(m, "url", an_str(url));
	const char *desc =
	    r->desc ? text_clean(&c->arena, r->desc, r->desc_len < 1024 ? r->desc_len : 1024,
	                         AN_DESC_SHORT, TEXT_ONELINE | TEXT_ELLIPSIS)
	            : NULL;
	an_set(m, "description", an_str(desc));
	an_set(m, "view_count", json_integer(r->views));
	an_set(m, "like_count", json_integer(r->likes));
	an_set(m, "comment_count", json_integer(r->comments));
	an_set(m, "username", an_str(an_acct(c, r)->username));
	an_set(m, "date_posted", an_str(r->date >= 0 ? when : NULL));
	an_set(m, "instagram_url",
	       an_str(r->shortcode
	                  ? arena_printf(&c->arena, "https://www.instagram.com/p/%s/", r->shortcode)
	                  : NULL));
	return m;
}

static json_t *strings_json(const char *const *s, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		an_push(a, an_str(s[i]));
	return a;
}

static int cmp_pick(const void *pa, const void *pb)
{
	const struct an_reel *a = *(const struct an_reel *const *)pa;
	const struct an_reel *b = *(const struct an_reel *const *)pb;
	if (a->outlier != b->outlier)
		return a->outlier > b->outlier ? -1 : 1;
	return (a->index > b->index) - (a->index < b->index);
}

/* Distinct hook types of the given reels, best outlier first. */
static json_t *types_json(struct an_ctx *c, int from, int to)
{
	const struct an_reel *r[AN_PRIMARY_PICKS + AN_COMPETITOR_PICKS];
	int n = 0;
	for (int k = from; k < to; k++)
		r[n++] = &c->reels[c->picks[k]];
	qsort(r, (size_t)n, sizeof(*r), cmp_pick);
	json_t *a = json_array();
	bool seen[HOOK_TYPES] = {false};
	for (int k = 0; k < n; k++) {
		if (!seen[r[k]->htype])
			an_push(a, an_str(hook_type_name(r[k]->htype)));
		seen[r[k]->htype] = true;
	}
	return a;
}

static json_t *profile_analysis(struct an_ctx *c)
{
	const struct an_account *p = &c->accounts[c->primary];
	struct arena *ar = &c->arena;
	const char *bio1 = p->bio ? text_first_sentence(ar, p->bio, strlen(p->bio), 160) : NULL;
	if (bio1 && !*bio1)
		bio1 = NULL;

	json_t *summary = json_object();
	an_set(
	    summary, "core_identity",
	    an_str(arena_printf(ar, "@%s%s%s%s%s", p->username, p->profile_name ? " (" : "",
	                        p->profile_name ? p->profile_name : "", p->profile_name ? ")" : "",
	                        bio1 ? arena_printf(ar, ": %s", bio1) : "")));
	an_set(summary, "unique_value_proposition", an_str(bio1));
	an_set(summary, "primary_content_themes", strings_json(c->themes, c->nthemes));
	an_set(summary, "target_audience_description",
	       an_str(c->strategy_given ? c->audience : NULL));
	json_t *own_types = types_json(c, 0, c->npick_primary);
	const char *first = json_string_value(json_array_get(own_types, 0));
	an_set(summary, "content_personality",
	       an_str(first ? arena_printf(ar, "%s-led hooks", first) : NULL));
	an_set(summary, "audience_pain_points", json_array());
	an_set(summary, "signature_approaches", own_types);

	json_t *patterns = json_object();
	an_set(patterns, "most_engaging_topics",
	       strings_json(c->themes, c->nthemes < 3 ? c->nthemes : 3));
	an_set(patterns, "winning_content_formats", types_json(c, 0, c->npicks));
	uint64_t power = 0;
	for (int k = 0; k < c->npicks; k++)
		power |= c->reels[c->picks[k]].power;
	an_set(patterns, "audience_engagement_triggers", hook_power_words_json(power));

	/* Unexplored topics: over-performing competitor hashtags, then words (as ideas.c). */
	const struct an_trend *un[5];
	int nu = 0;
	for (int i = 0; i < c->nhashtags && nu < 5; i++)
		if (c->hashtags[i].lift > 1)
			un[nu++] = &c->hashtags[i];
	for (int i = 0; i < c->ntopics && nu < 5; i++)
		if (c->topics[i].lift > 1)
			un[nu++] = &c->topics[i];
	json_t *topics = json_array(), *desc = json_object(), *angles = json_array();
	const struct an_reel *best =
	    c->npick_competitor ? &c->reels[c->picks[c->npick_primary]] : NULL;
	for (int i = 0; i < nu; i++) {
		const char *term =
		    un[i]->hashtag ? arena_printf(ar, "#%s", un[i]->term) : un[i]->term;
		an_push(topics, an_str(term));
		an_set(
		    desc, term,
		    an_str(arena_printf(ar,
		                        "In %d competitor reels from %d accounts, averaging %.2fx "
		                        "the competitors' typical reel; not used by @%s",
		                        un[i]->reels, un[i]->accounts, un[i]->lift, p->username)));
		if (best)
			an_push(angles, an_str(arena_printf(ar, "%s hook about %s for %s",
			                                    hook_type_name(best->htype), term,
			                                    c->audience)));
	}
	json_t *opp = json_object();
	an_set(opp, "unexplored_topics", topics);
	an_set(opp, "topic_descriptions", desc);
	an_set(opp, "content_angles", angles);

	json_t *ca = json_object();
	an_set(ca, "average_engagement_rate", json_real(p->engagement_rate));
	an_set(ca, "best_performing_categories", json_array());
	an_set(ca, "content_consistency_score",
	       p->consistency < 0 ? json_null() : json_real(p->consistency));
	an_set(ca, "brand_clarity_score",
	       p->reels ? json_real(an_round2(10.0 * c->theme_top_reels / p->reels)) : json_null());

	json_t *metrics = json_object(), *comps = json_array();
	an_set(metrics, "primary", metrics_account_json(c, p));
	for (int a = 0; a < c->naccounts; a++)
		if (a != c->primary)
			an_push(comps, metrics_account_json(c, &c->accounts[a]));
	an_set(metrics, "competitors", comps);

	json_t *trends = json_object();
	an_set(trends, "topics", trends_json(c->topics, c->ntopics));
	an_set(trends, "hashtags", trends_json(c->hashtags, c->nhashtags));

	json_t *pa = json_object();
	an_set(pa, "profile_summary", summary);
	an_set(pa, "top_performing_patterns", patterns);
	an_set(pa, "new_content_opportunities", opp);
	an_set(pa, "content_analysis", ca);
	an_set(pa, "metrics", metrics);
	an_set(pa, "trends", trends);
	return pa;
}

static json_t *reel_rows(struct an_ctx *c, json_t *analyses, int *transcripts)
{
	json_t *rows = json_array();
	*transcripts = 0;
	for (int k = 0; k < c->nselected; k++) {
		const struct an_reel *r = &c->reels[c->selected[k]];
		const struct an_account *a = an_acct(c, r);
		bool completed = r->hook_src == HOOK_SRC_TRANSCRIPT;
		*transcripts += completed;
		char when[32];
		an_iso_time(r->date, when);
		json_t *meta = json_object();
		json_t *ha = NULL;
		if (r->picked) {
			json_t *full = hooks_analysis_json(c, r);
			ha = json_deep_copy(json_object_get(full, "hook_analysis"));
			an_push(analyses, full);
		}
		an_set(meta, "hook_analysis", ha ? ha : json_null());
		an_set(meta, "analyzed", json_boolean(r->picked));
		an_set(meta, "hook_type", r->hook ? an_str(hook_type_name(r->htype)) : json_null());
		an_set(meta, "hook_source",
		       an_str(r->hook_src == HOOK_SRC_TRANSCRIPT ? "transcript"
		              : r->hook_src == HOOK_SRC_CAPTION  ? "caption"
		                                                 : NULL));
		an_set(meta, "fallback", json_boolean(r->fallback));
		an_set(meta, "shortcode", an_str(r->shortcode));
		an_set(meta, "date_posted", an_str(r->date >= 0 ? when : NULL));
		an_set(meta, "analysis_timestamp", an_str(c->timestamp));
		an_set(meta, "workflow_version", an_str(AN_WORKFLOW));

		json_t *row = json_object();
		an_set(row, "content_id", an_str(r->content_id));
		an_set(row, "reel_type", an_str(a->primary ? "primary" : "competitor"));
		an_set(row, "username", an_str(a->username));
		an_set(row, "selection_reason", an_str(r->reason));
		an_set(row, "rank_in_selection", json_integer(r->rank));
		an_set(row, "view_count_at_analysis", json_integer(r->views));
		an_set(row, "like_count_at_analysis", json_integer(r->likes));
		an_set(row, "comment_count_at_analysis", json_integer(r->comments));
		an_set(row, "outlier_score_at_analysis", json_real(r->outlier));
		an_set(row, "transcript_requested", json_boolean(r->tr_present));
		an_set(row, "transcript_completed", json_boolean(completed));
		an_set(row, "hook_text", an_str(r->hook));
		an_set(row, "power_words", hook_power_words_json(r->power));
		an_set(row, "analysis_metadata", meta);
		an_push(rows, row);
	}
	return rows;
}

/* Why no competitor hook was available (only meaningful when none was picked). */
static const char *no_competitor_hook(struct an_ctx *c)
{
	struct arena *ar = &c->arena;
	int ncomp_reels = 0;
	for (int i = 0; i < c->nreels; i++)
		ncomp_reels += !an_acct(c, &c->reels[i])->primary;
	if (c->naccounts <= 1)
		return "the job has no competitor accounts";
	if (c->recurring && c->nsel_competitor == 0) {
		char since[32];
		an_iso_time(c->since, since);
		return arena_printf(ar, "no competitor reel posted after %s", since);
	}
	if (ncomp_reels == 0)
		return "the competitors have no reels";
	return arena_printf(ar,
	                    "none of the %d selected competitor reels has a caption or transcript "
	                    "to take a hook from",
	                    c->nsel_competitor);
}

/* The kinds of topic the hooks used, for the notes ("@x's top themes and ..."). */
static const char *topics_used(struct an_ctx *c, const char *creator)
{
	struct arena *ar = &c->arena;
	const char *names[TOPIC_ORIGINS] = {
	    [TOPIC_UNDERUSED] = arena_printf(ar, "competitor topics @%s under-uses", creator),
	    [TOPIC_OWN_RARE] =
	        arena_printf(ar, "@%s's rarely used but over-performing themes", creator),
	    [TOPIC_THEME] = arena_printf(ar, "@%s's top themes", creator),
	    [TOPIC_STRATEGY] = "noun phrases of the content strategy",
	    [TOPIC_BIO] = arena_printf(ar, "noun phrases of @%s's bio", creator),
	    [TOPIC_DEFAULT] = "the placeholder \"your niche\" (no topic was found)",
	};
	const char *out = "";
	for (int o = 0; o < TOPIC_ORIGINS; o++)
		if (names[o] && (c->idea_topics & (1u << o)))
			out = arena_printf(ar, "%s%s%s", out, *out ? ", " : "", names[o]);
	return *out ? out : "trend topics";
}

static void explain(struct an_ctx *c, int hooks)
{
	struct arena *ar = &c->arena;
	const char *creator = c->accounts[c->primary].username;
	switch (c->idea_source) {
	case IDEAS_NONE:
		an_note(c,
		        arena_printf(ar,
		                     "No hooks generated: no competitor hook (%s), no reel of @%s "
		                     "has a caption or transcript, and neither the content "
		                     "strategy nor @%s's bio names a topic to write about",
		                     no_competitor_hook(c), creator, creator));
		break;
	case IDEAS_OWN:
		an_note(c,
		        arena_printf(ar,
		                     "No competitor hook (%s): the five hooks adapt the structures "
		                     "of @%s's own %d best-performing hook(s) to %s",
		                     no_competitor_hook(c), creator, c->idea_nsources,
		                     topics_used(c, creator)));
		break;
	case IDEAS_TEMPLATE:
		an_note(c,
		        arena_printf(ar,
		                     "No competitor hook (%s) and no reel of @%s with a caption or "
		                     "transcript: the five hooks are per-type templates on %s",
		                     no_competitor_hook(c), creator, topics_used(c, creator)));
		break;
	default:
		if (c->npick_competitor < AN_HOOKS)
			an_note(c,
			        arena_printf(ar,
			                     "Only %d competitor hook(s) available: the five hooks "
			                     "reuse them with different topics",
			                     c->npick_competitor));
	}
	if (c->nfallback)
		an_note(c, arena_printf(
		               ar,
		               "%d reel(s) older than 30 days filled in because the window held "
		               "too few",
		               c->nfallback));
	if (hooks && c->idea_source == IDEAS_COMPETITOR && c->ntopics + c->nhashtags == 0)
		an_note(c,
		        arena_printf(ar,
		                     "No competitor topic unused by @%s was found: the hooks use "
		                     "%s",
		                     creator, topics_used(c, creator)));
	if (c->reels_over_cap || c->reels_unknown_account)
		an_note(c, arena_printf(ar,
		                        "Input over the caps: %d reel(s) beyond %d reels and %d "
		                        "reel(s) beyond %d accounts were ignored",
		                        c->reels_over_cap, AN_MAX_REELS, c->reels_unknown_account,
		                        AN_MAX_ACCOUNTS));
}

static json_t *build(struct an_ctx *c)
{
	json_t *analyses = json_array();
	int transcripts;
	json_t *rows = reel_rows(c, analyses, &transcripts);

	json_t *hooks = json_array(), *scripts = json_array(), *ssum = json_array();
	json_t *script_rows = json_array();
	ideas_generate(c, hooks, scripts, ssum, script_rows);
	int nhooks = (int)json_array_size(hooks);
	explain(c, nhooks);

	bool comp_seen[AN_MAX_ACCOUNTS] = {false};
	int ucomp = 0;
	for (int k = c->npick_primary; k < c->npicks; k++) {
		int a = c->reels[c->picks[k]].account;
		ucomp += !comp_seen[a];
		comp_seen[a] = true;
	}
	json_t *sum = json_object();
	an_set(sum, "total_hooks_analyzed", json_integer(c->npicks));
	an_set(sum, "primary_hooks", json_integer(c->npick_primary));
	an_set(sum, "competitor_hooks", json_integer(c->npick_competitor));
	an_set(sum, "hooks_generated", json_integer(nhooks));
	an_set(sum, "scripts_created", json_integer((json_int_t)json_array_size(scripts)));
	an_set(sum, "unique_competitors_analyzed", json_integer(ucomp));
	an_set(sum, "reels_considered", json_integer(c->nreels));
	an_set(sum, "reels_selected", json_integer(c->nselected));
	an_set(sum, "fallback_reels", json_integer(c->nfallback));
	json_t *ign = json_object();
	an_set(ign, "over_reel_cap", json_integer(c->reels_over_cap));
	an_set(ign, "over_account_cap", json_integer(c->reels_unknown_account));
	an_set(ign, "duplicate", json_integer(c->reels_duplicate));
	an_set(ign, "unusable", json_integer(c->reels_skipped));
	an_set(sum, "reels_ignored", ign);
	an_set(sum, "content_strategy_used", json_boolean(c->strategy_given));
	char since[32];
	an_iso_time(c->since, since);
	an_set(sum, "new_since", an_str(c->recurring ? since : NULL));
	an_set(sum, "notes", strings_json(c->notes, c->nnotes));

	json_t *ad = json_object();
	an_set(ad, "workflow_version", an_str(AN_WORKFLOW));
	an_set(ad, "engine_version", an_str(AN_ENGINE_VERSION));
	an_set(ad, "analysis_timestamp", an_str(c->timestamp));
	an_set(ad, "analysis_type", an_str(c->recurring ? "recurring" : "initial"));
	an_set(ad, "analysis_run", json_integer(c->run));
	an_set(ad, "queue_id", an_str(c->queue_id));
	an_set(ad, "profile_analysis", profile_analysis(c));
	an_set(ad, "individual_reel_analyses", analyses);
	an_set(ad, "generated_hooks", hooks);
	an_set(ad, "complete_scripts", scripts);
	an_set(ad, "scripts_summary", ssum);
	an_set(ad, "analysis_summary", sum);

	json_t *counts = json_object();
	an_set(counts, "total_reels_analyzed", json_integer(c->nselected));
	an_set(counts, "primary_reels_count", json_integer(c->nsel_primary));
	an_set(counts, "competitor_reels_count", json_integer(c->nsel_competitor));
	an_set(counts, "transcripts_fetched", json_integer(transcripts));

	json_t *out = json_object();
	an_set(out, "analysis_data", ad);
	an_set(out, "reels", rows);
	an_set(out, "scripts", script_rows);
	an_set(out, "counts", counts);
	return out;
}

int analysis_run(const json_t *input, json_t **output, char *err, size_t errlen)
{
	struct input_err e = {err, errlen};
	if (output)
		*output = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!output)
		return -EINVAL;
	if (!json_is_object(input))
		return bad(&e, "input: expected a JSON object");
	struct an_ctx c = {0};
	int rc = read_job(&c, input, &e);
	if (!rc)
		rc = read_profiles(&c, input, &e);
	if (!rc)
		rc = read_reels(&c, input, &e);
	if (rc) {
		arena_free(&c.arena);
		return rc;
	}
	metrics_compute(&c);
	select_reels(&c);
	hooks_extract(&c);
	select_picks(&c);
	trends_compute(&c);
	*output = build(&c);
	arena_free(&c.arena);
	return 0;
}
