/*
 * Defensive parsing of the providers' answers (SEED-SYSTEM.md appendix A)
 * into the normalised shapes of provider.h. Every field may be missing or
 * of the wrong type; strings are capped and cleaned; only a wrong document
 * shape fails the answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actors/fetcher/provider.h"

static int fail(int code, char *reason, size_t rlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(int code, char *reason, size_t rlen, const char *fmt, ...)
{
	va_list ap;
	if (reason && rlen) {
		va_start(ap, fmt);
		vsnprintf(reason, rlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

/* Parses body as a JSON object; NUL bytes are allowed (and dropped later). */
static int load_object(const char *what, const char *body, size_t len, json_t **out, char *reason,
                       size_t rlen)
{
	json_error_t err;
	*out = NULL;
	if (!body || len == 0)
		return fail(-EBADMSG, reason, rlen, "%s: empty answer", what);
	json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &err);
	if (!root)
		return fail(-EBADMSG, reason, rlen, "%s: malformed JSON: %s (line %d, col %d)",
		            what, err.text, err.line, err.column);
	if (!json_is_object(root)) {
		int rc = fail(-EBADMSG, reason, rlen, "%s: expected a JSON object, got %s", what,
		              type_name(root));
		json_decref(root);
		return rc;
	}
	*out = root;
	return 0;
}

/*
 * A clean copy of a JSON string: NUL bytes dropped, other control characters
 * except \n and \t turned into spaces, cut to at most cap bytes on a UTF-8
 * character boundary (jansson guarantees valid UTF-8). NULL when v is not a
 * string. Caller frees.
 */
static char *clean_string(const json_t *v, size_t cap)
{
	if (!json_is_string(v))
		return NULL;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n > cap) {
		n = cap;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	char *out = malloc(n + 1);
	if (!out)
		abort();
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0)
			continue;
		out[j++] = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? ' ' : (char)c;
	}
	out[j] = '\0';
	return out;
}

/* Sets key to a cleaned string (or fallback_null -> null / "" when absent). */
static void set_string(json_t *obj, const char *key, const json_t *v, size_t cap, bool null_ok)
{
	char *s = clean_string(v, cap);
	if (s)
		json_object_set_new(obj, key, json_string(s));
	else
		json_object_set_new(obj, key, null_ok ? json_null() : json_string(""));
	free(s);
}

/* First present member of obj among the names (NULL-terminated list). */
static json_t *member(const json_t *obj, ...)
{
	va_list ap;
	const char *k;
	json_t *v = NULL;

	if (!json_is_object(obj))
		return NULL;
	va_start(ap, obj);
	while ((k = va_arg(ap, const char *))) {
		v = json_object_get(obj, k);
		if (v && !json_is_null(v))
			break;
		v = NULL;
	}
	va_end(ap);
	return v;
}

#define MEMBER(obj, ...) member(obj, __VA_ARGS__, (const char *)NULL)

/* A count from an integer, a real or a decimal string; 0 when absent or invalid. */
static json_int_t count_of(const json_t *v)
{
	const json_int_t max = (json_int_t)1e15;
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);
		return n < 0 ? 0 : n > max ? max : n;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		return !isfinite(d) || d < 0 ? 0 : d > (double)max ? max : (json_int_t)d;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (n == 0 || n > 15 || strspn(s, "0123456789") != n)
			return 0;
		return (json_int_t)strtoll(s, NULL, 10);
	}
	return 0;
}

static bool bool_of(const json_t *v)
{
	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_string(v))
		return strcasecmp(json_string_value(v), "true") == 0;
	return false;
}

bool provider_username_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > PROVIDER_MAX_USERNAME)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._") == n;
}

bool provider_shortcode_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 64)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* An http(s) URL without spaces or control characters, or NULL. */
static void set_url(json_t *obj, const char *key, const json_t *v)
{
	char *s = clean_string(v, PROVIDER_MAX_URL);
	bool ok = s && (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0);
	for (const char *p = s; ok && *p; p++)
		if ((unsigned char)*p <= 0x20)
			ok = false;
	json_object_set_new(obj, key, ok ? json_string(s) : json_null());
	free(s);
}

/* An answer without the expected data but with an error message: the API's
 * way of saying "no such user". */
static const char *error_message(const json_t *root)
{
	json_t *m = MEMBER(root, "error", "message", "detail", "errors");
	if (json_is_string(m))
		return json_string_value(m);
	if (json_is_true(m))
		return "error";
	return NULL;
}

int provider_parse_profile(const char *body, size_t len, json_t **out, char *reason, size_t rlen)
{
	json_t *root;
	*out = NULL;
	int rc = load_object("profile", body, len, &root, reason, rlen);
	if (rc)
		return rc;
	/* Some answers wrap the user: {"data": {"user": {...}}} or {"user": {...}}. */
	json_t *u = root, *w;
	if ((w = MEMBER(u, "data")) && json_is_object(w))
		u = w;
	if ((w = MEMBER(u, "user")) && json_is_object(w))
		u = w;

	json_t *name = MEMBER(u, "username");
	if (!json_is_string(name) || json_string_length(name) == 0) {
		const char *msg = error_message(root);
		if (msg) {
			char m[200];
			snprintf(m, sizeof(m), "%s", msg);
			for (char *p = m; *p; p++)
				if ((unsigned char)*p < 0x20)
					*p = ' ';
			rc = fail(-ENOENT, reason, rlen, "user not found: %s", m);
		} else {
			rc = fail(-EBADMSG, reason, rlen,
			          "profile: missing or invalid 'username' (%s)",
			          name ? type_name(name) : "absent");
		}
		json_decref(root);
		return rc;
	}
	if (bool_of(MEMBER(u, "is_private"))) {
		json_decref(root);
		return fail(-EPERM, reason, rlen, "private account");
	}
	json_t *p = json_object();
	set_string(p, "username", name, PROVIDER_MAX_NAME, false);
	set_string(p, "full_name", MEMBER(u, "full_name", "profile_name"), PROVIDER_MAX_NAME,
	           false);
	set_string(p, "biography", MEMBER(u, "biography", "bio"), PROVIDER_MAX_BIO, false);
	json_object_set_new(p, "followers",
	                    json_integer(count_of(MEMBER(u, "follower_count", "followers"))));
	json_object_set_new(p, "posts_count",
	                    json_integer(count_of(MEMBER(u, "media_count", "posts_count"))));
	json_object_set_new(p, "is_verified", json_boolean(bool_of(MEMBER(u, "is_verified"))));
	json_object_set_new(p, "is_business",
	                    json_boolean(bool_of(MEMBER(u, "is_business", "is_business_account"))));
	set_url(p, "profile_pic_url", MEMBER(u, "hd_profile_pic_url", "profile_pic_url"));
	json_decref(root);
	*out = p;
	return 0;
}

/* One reel item -> normalised reel, or NULL when it has no usable pk/code. */
static json_t *parse_reel(const json_t *item)
{
	const json_t *m = item, *w;
	if ((w = MEMBER(m, "node")) && json_is_object(w))
		m = w;
	if ((w = MEMBER(m, "media")) && json_is_object(w))
		m = w;
	if (!json_is_object(m))
		return NULL;

	char id[32];
	json_t *pk = MEMBER(m, "pk", "id");
	if (json_is_integer(pk) && json_integer_value(pk) > 0) {
		snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT, json_integer_value(pk));
	} else if (json_is_string(pk)) {
		/* "pk" or "<pk>_<owner id>" */
		const char *s = json_string_value(pk);
		size_t n = strspn(s, "0123456789");
		if (n == 0 || n >= sizeof(id) || (s[n] != '\0' && s[n] != '_'))
			return NULL;
		memcpy(id, s, n);
		id[n] = '\0';
	} else {
		return NULL;
	}
	json_t *code = MEMBER(m, "code", "shortcode");
	if (!json_is_string(code) || !provider_shortcode_ok(json_string_value(code)) ||
	    json_string_length(code) != strlen(json_string_value(code)))
		return NULL;

	json_t *r = json_object();
	const char *sc = json_string_value(code);
	char url[128];
	snprintf(url, sizeof(url), "https://www.instagram.com/p/%s/", sc);
	json_object_set_new(r, "content_id", json_string(id));
	json_object_set_new(r, "shortcode", json_string(sc));
	json_object_set_new(r, "url", json_string(url));
	json_object_set_new(r, "view_count",
	                    json_integer(count_of(MEMBER(m, "play_count", "view_count",
	                                                 "video_view_count", "ig_play_count"))));
	json_object_set_new(r, "like_count", json_integer(count_of(MEMBER(m, "like_count"))));
	json_object_set_new(r, "comment_count", json_integer(count_of(MEMBER(m, "comment_count"))));
	json_object_set_new(r, "taken_at",
	                    json_integer(count_of(MEMBER(m, "taken_at", "taken_at_timestamp"))));
	json_t *cap = MEMBER(m, "caption");
	if (json_is_object(cap))
		cap = MEMBER(cap, "text");
	set_string(r, "caption", cap, PROVIDER_MAX_CAPTION, false);
	json_t *thumb = NULL, *iv = MEMBER(m, "image_versions2");
	json_t *cands = iv ? MEMBER(iv, "candidates") : NULL;
	if (json_is_array(cands) && json_array_size(cands) > 0)
		thumb = MEMBER(json_array_get(cands, 0), "url");
	if (!thumb)
		thumb = MEMBER(m, "thumbnail_url", "display_url");
	set_url(r, "thumbnail_url", thumb);
	/* Pinned reels head the listing whatever their age: the incremental
	 * stop marks must not fire on them. */
	json_t *pa = MEMBER(m, "clips_tab_pinned_user_ids"),
	       *pb = MEMBER(m, "timeline_pinned_user_ids");
	bool pinned =
	    bool_of(MEMBER(m, "is_pinned")) || json_array_size(pa) > 0 || json_array_size(pb) > 0;
	json_object_set_new(r, "pinned", json_boolean(pinned));
	return r;
}

int provider_parse_reels(const char *body, size_t len, json_t *reels, char **next, int *skipped,
                         char *reason, size_t rlen)
{
	json_t *root;
	*next = NULL;
	int rc = load_object("reels", body, len, &root, reason, rlen);
	if (rc)
		return rc;
	json_t *list = json_object_get(root, "reels"), *w;
	if (!list && (w = MEMBER(root, "data")) && json_is_object(w))
		list = json_object_get(w, "reels");
	if (!json_is_array(list)) {
		const char *msg = list ? NULL : error_message(root);
		if (msg)
			rc = fail(-ENOENT, reason, rlen, "user not found: %.160s", msg);
		else
			rc = fail(-EBADMSG, reason, rlen, "reels: 'reels' is %s, expected a list",
			          list ? type_name(list) : "absent");
		json_decref(root);
		return rc;
	}
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item)
	{
		if (i >= PROVIDER_MAX_PAGE_REELS)
			break;
		json_t *r = parse_reel(item);
		if (r)
			json_array_append_new(reels, r);
		else if (skipped)
			(*skipped)++;
	}
	json_t *tok = json_object_get(root, "pagination_token");
	if (json_array_size(list) > 0) {
		if (json_is_string(tok) && json_string_length(tok) > 0) {
			const char *s = json_string_value(tok);
			size_t n = json_string_length(tok);
			if (n > PROVIDER_MAX_TOKEN || strlen(s) != n) {
				json_decref(root);
				return fail(-EBADMSG, reason, rlen,
				            "reels: invalid pagination_token (%zu bytes)", n);
			}
			for (size_t k = 0; k < n; k++)
				if ((unsigned char)s[k] < 0x20) {
					json_decref(root);
					return fail(-EBADMSG, reason, rlen,
					            "reels: control character in pagination_token");
				}
			*next = strdup(s);
		} else if (json_is_integer(tok)) {
			if (asprintf(next, "%" JSON_INTEGER_FORMAT, json_integer_value(tok)) < 0)
				abort();
		}
	}
	json_decref(root);
	return 0;
}

static bool lang_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 16 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_") == n;
}

static double num_of(const json_t *v)
{
	double d = json_is_number(v) ? json_number_value(v) : 0;
	return isfinite(d) && d >= 0 && d < 1e12 ? d : 0;
}

int provider_parse_transcript(const char *body, size_t len, json_t **out, char *reason, size_t rlen)
{
	json_t *root;
	*out = NULL;
	int rc = load_object("transcript", body, len, &root, reason, rlen);
	if (rc)
		return rc;
	json_t *content = json_object_get(root, "content");
	if (!content || json_is_null(content) ||
	    (json_is_array(content) && json_array_size(content) == 0) ||
	    (json_is_string(content) && json_string_length(content) == 0)) {
		json_decref(root);
		return 0; /* no transcript */
	}
	if (!json_is_array(content) && !json_is_string(content)) {
		rc = fail(-EBADMSG, reason, rlen, "transcript: 'content' is %s, expected a list",
		          type_name(content));
		json_decref(root);
		return rc;
	}
	json_t *segs = json_array();
	size_t total = 0;
	if (json_is_string(content)) {
		/* text=true style answer: the whole transcript as one string */
		char *s = clean_string(content, PROVIDER_MAX_TRANSCRIPT);
		json_array_append_new(
		    segs, json_pack("{s:s,s:i,s:i}", "text", s, "offset", 0, "duration", 0));
		free(s);
	} else {
		size_t i;
		json_t *seg;
		json_array_foreach(content, i, seg)
		{
			if (json_array_size(segs) >= PROVIDER_MAX_SEGMENTS ||
			    total >= PROVIDER_MAX_TRANSCRIPT)
				break;
			char *t = clean_string(json_object_get(seg, "text"), PROVIDER_MAX_SEGMENT);
			if (!t)
				continue;
			total += strlen(t);
			json_t *o = json_object();
			json_object_set_new(o, "text", json_string(t));
			json_object_set_new(o, "offset",
			                    json_real(num_of(json_object_get(seg, "offset"))));
			json_object_set_new(o, "duration",
			                    json_real(num_of(json_object_get(seg, "duration"))));
			json_array_append_new(segs, o);
			free(t);
		}
	}
	if (json_array_size(segs) == 0) {
		json_decref(segs);
		json_decref(root);
		return 0;
	}
	json_t *tr = json_object();
	json_t *lang = json_object_get(root, "lang");
	if (json_is_string(lang) && lang_ok(json_string_value(lang)))
		json_object_set_new(tr, "lang", json_string(json_string_value(lang)));
	else
		json_object_set_new(tr, "lang", json_null());
	json_t *langs = json_array(), *al = json_object_get(root, "availableLangs"), *l;
	size_t i;
	json_array_foreach(al, i, l)
	{
		if (i >= 32)
			break;
		if (json_is_string(l) && lang_ok(json_string_value(l)))
			json_array_append_new(langs, json_string(json_string_value(l)));
	}
	json_object_set_new(tr, "available_langs", langs);
	json_object_set_new(tr, "segments", segs);
	json_decref(root);
	*out = tr;
	return 0;
}

void ratelimit_init(struct ratelimit *rl, double rate, double burst, double now)
{
	rl->rate = rate;
	rl->burst = burst > 0 ? burst : (rate > 1 ? rate : 1);
	rl->tokens = rl->burst;
	rl->last = now;
	rl->blocked_until = 0;
}

double ratelimit_take(struct ratelimit *rl, double now)
{
	if (now < rl->blocked_until)
		return rl->blocked_until - now;
	if (rl->rate <= 0)
		return 0;
	if (now > rl->last) {
		rl->tokens += (now - rl->last) * rl->rate;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last = now;
	}
	if (rl->tokens >= 1 - 1e-9) { /* a timer set for the exact wait must succeed */
		rl->tokens -= 1;
		return 0;
	}
	return (1 - rl->tokens) / rl->rate;
}

void ratelimit_pause(struct ratelimit *rl, double until)
{
	if (until > rl->blocked_until)
		rl->blocked_until = until;
	if (rl->tokens > 0)
		rl->tokens = 0;
	rl->last = until > rl->last ? until : rl->last;
}
