/*
 * fake_provider [--port N]: a fast fake of the RapidAPI scraper and
 * transcript APIs (SEED-SYSTEM.md appendix A) for the pipeline bench.
 * Happy path only (failure injection is fake_provider.py's job):
 *
 *   POST /ig_get_fb_profile.php   form username_or_url=<u>
 *   POST /get_ig_user_reels.php   form username_or_url=<u>&count=N[&max_id=<page>]
 *   GET  /transcript?url=https://www.instagram.com/p/<code>/&...
 *
 * Any username ([A-Za-z0-9._-], up to 64) exists; its profile, reels and
 * transcripts are generated from a hash of the name (or of the shortcode),
 * so the same request always gets the same answer. A request without an
 * x-rapidapi-key header gets 403. GET /_stats: {"requests": N served}. Env: FAKE_REELS (reels per
 * account, default 12), FAKE_PAGE_SIZE (reels per page, default 12). Prints the bound port on
 * stdout, then serves (one libev loop) until killed.
 */
#include "tests/bench/mini_http.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANCHOR   1795824000LL /* 2026-11-28T00:00:00Z, as scripts/gen_fixtures.py */
#define MAX_USER 64

static int nreels = 12, page_size = 12;
static unsigned long long requests; /* served, for GET /_stats */

static const char *const topics[] = {"deadlift form",   "protein intake", "home workouts",
                                     "mobility drills", "meal prep",      "sourdough",
                                     "index funds",     "budgeting apps", "night trains",
                                     "packing light",   "side hustles",   "knife skills"};
static const char *const hooks[] = {"Why aren't you seeing results from %s?",
                                    "Are you doing %s wrong?",
                                    "3 mistakes everyone makes with %s",
                                    "5 %s tips I wish I knew sooner",
                                    "How to master %s in 10 minutes a day",
                                    "Stop doing %s like this 🚫",
                                    "I tried %s every day for 30 days. Here's what happened",
                                    "Unpopular opinion: %s is overrated",
                                    "Nobody talks about this %s secret",
                                    "Sunday with %s today"};
static const char *const bodies[] = {"Save this for later 📌", "Form first, speed second.",
                                     "Tag a friend who needs this 👇", "Full guide in the comments.",
                                     "Consistency beats intensity every single time."};
static const char *const tags[] = {"#fitness", "#recipe", "#moneytips", "#travel",
                                   "#tips",    "#howto",  "#lifehacks", "#daily"};
#define N(a) (sizeof(a) / sizeof(a)[0])

static uint64_t fnv(const char *a, const char *b, long long i)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = a; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ '#') * 1099511628211ULL;
	for (const char *p = b; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (h ^ (uint64_t)i) * 1099511628211ULL;
}

/* splitmix64: a small deterministic stream per seed. */
static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void shortcode(const char *user, int i, char out[12])
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint64_t s = fnv("code", user, i);
	out[0] = 'D';
	for (int k = 1; k < 11; k++)
		out[k] = b64[next(&s) & 63];
	out[11] = '\0';
}

static long long pk(const char *user, int i)
{
	return 3000000000000000000LL + (long long)(fnv("pk", user, i) % 400000000000000000ULL);
}

static void profile(const char *user, struct mh_buf *b)
{
	uint64_t s = fnv("acct", user, 0);
	long long followers = 80000 + (long long)(next(&s) % 820000);
	mh_buf_printf(
	    b,
	    "{\"username\":\"%s\",\"full_name\":\"%s\",\"biography\":\"Tips every day | Free "
	    "guide below\",\"follower_count\":%lld,\"following_count\":%d,\"media_count\":%d,"
	    "\"is_verified\":%s,\"is_business\":true,\"is_private\":false,"
	    "\"profile_pic_url\":\"https://scontent.cdninstagram.example/p/%s_150.jpg\","
	    "\"hd_profile_pic_url\":\"https://scontent.cdninstagram.example/p/%s_1080.jpg\","
	    "\"category\":\"Creator\",\"pk\":%lld}",
	    user, user, followers, 150 + (int)(next(&s) % 1350),
	    nreels + 40 + (int)(next(&s) % 360), followers > 500000 ? "true" : "false", user, user,
	    pk(user, -1));
}

static void reel(const char *user, int i, long long median, struct mh_buf *b)
{
	char code[12];
	shortcode(user, i, code);
	uint64_t s = fnv("reel", user, i);
	const char *topic = topics[next(&s) % N(topics)];
	long long views = median / 2 + (long long)(next(&s) % (uint64_t)median);
	if (i % 6 == 2) /* two outliers per 12 reels */
		views *= 6 + (long long)(next(&s) % 20);
	long long likes = views * (3 + (long long)(next(&s) % 6)) / 100;
	long long comments = likes * (1 + (long long)(next(&s) % 5)) / 100;
	long long taken =
	    ANCHOR - (long long)(nreels - 1 - i) * 146880 - (long long)(next(&s) % 7200);
	char hook[160];
	snprintf(hook, sizeof hook, hooks[next(&s) % N(hooks)], topic);
	const char *body = bodies[next(&s) % N(bodies)];
	const char *t1 = tags[next(&s) % N(tags)], *t2 = tags[next(&s) % N(tags)];
	long long p = pk(user, i);
	mh_buf_printf(
	    b,
	    "{\"node\":{\"media\":{\"pk\":%lld,\"id\":\"%lld_%lld\",\"code\":\"%s\","
	    "\"media_type\":2,\"product_type\":\"clips\",\"play_count\":%lld,"
	    "\"like_count\":%lld,\"comment_count\":%lld,\"taken_at\":%lld,"
	    "\"caption\":{\"text\":\"%s\\n\\n%s\\n\\n%s %s\"},"
	    "\"image_versions2\":{\"candidates\":[{\"url\":\"https://"
	    "scontent.cdninstagram.example/v/%s_720.jpg\",\"width\":720,\"height\":1280}]},"
	    "\"video_duration\":%.1f}}}",
	    p, p, pk(user, -1) % 10000000000LL, code, views, likes, comments, taken, hook, body, t1,
	    t2, code, 7 + (double)(next(&s) % 680) / 10);
}

static void reels_page(const char *user, int page, struct mh_buf *b)
{
	uint64_t s = fnv("acct", user, 0);
	long long followers = 80000 + (long long)(next(&s) % 820000);
	long long median = followers * (8 + (long long)(next(&s) % 28)) / 100;
	if (median < 800)
		median = 800;
	int first = page * page_size, last = first + page_size;
	if (last > nreels)
		last = nreels;
	mh_buf_add(b, "{\"reels\":[", 10);
	for (int j = first; j < last; j++) {
		if (j > first)
			mh_buf_add(b, ",", 1);
		reel(user, nreels - 1 - j, median, b); /* newest first */
	}
	if (last < nreels)
		mh_buf_printf(b, "],\"pagination_token\":\"%d\"}", page + 1);
	else
		mh_buf_add(b, "],\"pagination_token\":null}", 26);
}

static void transcript(const char *code, struct mh_buf *b)
{
	uint64_t s = fnv("transcript", code, 0);
	if (next(&s) % 100 >= 85) {
		mh_buf_add(b, "{\"lang\":null,\"availableLangs\":[],\"content\":[]}", 46);
		return;
	}
	char hook[160];
	snprintf(hook, sizeof hook, hooks[next(&s) % N(hooks)], topics[next(&s) % N(topics)]);
	const char *lines[] = {hook, "Here's what you need to know.", "Number one: start simple.",
	                       "Number two: be consistent.", "Follow for more like this."};
	mh_buf_add(b, "{\"lang\":\"en\",\"availableLangs\":[\"en\"],\"content\":[", 48);
	long long off = 0;
	for (size_t k = 0; k < N(lines); k++) {
		long long dur =
		    1200 + 55 * (long long)strlen(lines[k]) + (long long)(next(&s) % 400);
		mh_buf_printf(b, "%s{\"text\":\"%s\",\"offset\":%lld,\"duration\":%lld}",
		              k ? "," : "", lines[k], off, dur);
		off += dur;
	}
	mh_buf_add(b, "]}", 2);
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10);
}

/* The url-decoded value of name in a form or query string into out; -1 if absent/too long. */
static int param(const char *qs, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	for (const char *p = qs; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, nl) != 0 || p[nl] != '=')
			continue;
		size_t n = 0;
		for (p += nl + 1; *p && *p != '&'; p++) {
			int c = (unsigned char)*p;
			if (c == '+')
				c = ' ';
			else if (c == '%' && isxdigit((unsigned char)p[1]) &&
			         isxdigit((unsigned char)p[2])) {
				c = hexval(p[1]) * 16 + hexval(p[2]);
				p += 2;
			}
			if (n + 1 >= outlen)
				return -1;
			out[n++] = (char)c;
		}
		out[n] = '\0';
		return 0;
	}
	return -1;
}

static bool username_ok(const char *u)
{
	if (!*u || strlen(u) > MAX_USER)
		return false;
	for (; *u; u++)
		if (!isalnum((unsigned char)*u) && !strchr("._-", *u))
			return false;
	return true;
}

static void error(struct mh_buf *out, int status, const char *msg)
{
	char body[128];
	int n = snprintf(body, sizeof body, "{\"message\":\"%s\"}", msg);
	mh_respond(out, status, body, (size_t)n);
}

static void handle(const struct mh_req *req, struct mh_buf *out)
{
	static struct mh_buf doc;
	char user[MAX_USER + 2], v[512];
	doc.len = 0;
	if (!strcmp(req->url, "/_stats")) {
		mh_buf_printf(&doc, "{\"requests\":%llu}", requests);
		return mh_respond(out, 200, doc.data, doc.len);
	}
	requests++;
	if (!req->api_key[0])
		return error(out, 403, "You are not subscribed to this API.");
	if (!strcmp(req->method, "POST") && (!strcmp(req->url, "/ig_get_fb_profile.php") ||
	                                     !strcmp(req->url, "/get_ig_user_reels.php"))) {
		if (param(req->body, "username_or_url", user, sizeof user) < 0 ||
		    !username_ok(user))
			return error(out, 404, "User not found");
		if (req->url[1] == 'i') {
			profile(user, &doc);
		} else {
			int page = param(req->body, "max_id", v, sizeof v) == 0 ? atoi(v) : 0;
			if (page < 0 || (page > 0 && page * page_size >= nreels))
				return error(out, 400, "invalid max_id");
			reels_page(user, page, &doc);
		}
	} else if (!strcmp(req->method, "GET") && !strncmp(req->url, "/transcript?", 12)) {
		const char *p;
		char code[72];
		size_t n = 0;
		if (param(req->url + 12, "url", v, sizeof v) < 0 ||
		    !((p = strstr(v, "instagram.com/p/")) ||
		      (p = strstr(v, "instagram.com/reel/"))))
			return error(out, 400, "url must be an instagram reel url");
		for (p = strchr(p + 14, '/') + 1; *p && *p != '/' && n < 64; p++)
			code[n++] = *p;
		code[n] = '\0';
		if (!n)
			return error(out, 400, "url must be an instagram reel url");
		transcript(code, &doc);
	} else {
		return error(out, 404, "no such endpoint");
	}
	mh_respond(out, 200, doc.data, doc.len);
}

int main(int argc, char **argv)
{
	int port = argc > 2 && !strcmp(argv[1], "--port") ? atoi(argv[2]) : 0;
	if (getenv("FAKE_REELS"))
		nreels = atoi(getenv("FAKE_REELS"));
	if (getenv("FAKE_PAGE_SIZE"))
		page_size = atoi(getenv("FAKE_PAGE_SIZE"));
	if (nreels < 0 || nreels > 1000 || page_size < 1 || page_size > 1000) {
		fprintf(stderr, "fake_provider: FAKE_REELS 0-1000, FAKE_PAGE_SIZE 1-1000\n");
		return 2;
	}
	struct ev_loop *loop = EV_DEFAULT;
	int p = mh_listen(loop, port, handle);
	if (p < 0) {
		fprintf(stderr, "fake_provider: cannot listen: %s\n", strerror(-p));
		return 1;
	}
	printf("%d\n", p);
	fflush(stdout);
	ev_run(loop, 0);
	return 0;
}
