/*
 * Per-account metrics and outlier scores. One pass to group reels by
 * account, then a sort per account: O(n log n) overall.
 */
#include <math.h>
#include <stdlib.h>

#include "actors/analyzer/analysis.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Median of a sorted array (mean of the two middle values when even); 0 when empty. */
static double median_sorted(const int64_t *v, int n)
{
	if (n <= 0)
		return 0;
	if (n % 2)
		return (double)v[n / 2];
	return ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
}

static void account_metrics(struct an_ctx *c, struct an_account *a, const int *idx, int n,
                            int64_t *views, int64_t *dates)
{
	int nz = 0, nd = 0;
	double eng = 0, eng_views = 0;
	a->reels = n;
	a->newest = a->oldest = -1;
	for (int k = 0; k < n; k++) {
		const struct an_reel *r = &c->reels[idx[k]];
		views[k] = r->views;
		a->views_total += (double)r->views;
		a->likes += (double)r->likes;
		a->comments += (double)r->comments;
		if (r->views > 0) {
			nz++;
			eng += (double)(r->likes + r->comments);
			eng_views += (double)r->views;
		}
		if ((double)r->views > a->max_views)
			a->max_views = (double)r->views;
		if (r->date >= 0) {
			dates[nd++] = r->date;
			if (r->date >= c->now - AN_WINDOW_SECS)
				a->window_reels++;
		}
	}
	qsort(views, (size_t)n, sizeof(*views), cmp_i64);
	a->reels_with_views = nz;
	a->median_views = median_sorted(views, n);
	a->median_nonzero = median_sorted(views + (n - nz), nz);
	a->mean_views = n ? a->views_total / n : 0;
	a->engagement_rate = eng_views > 0 ? an_round2(eng / eng_views * 100.0) : 0;
	a->engagement_per_follower =
	    (a->followers > 0 && n > 0)
	        ? an_round4((a->likes + a->comments) / n / (double)a->followers * 100.0)
	        : -1;
	a->posts_per_week = a->median_gap_days = a->consistency = -1;
	if (nd == 0)
		return;
	qsort(dates, (size_t)nd, sizeof(*dates), cmp_i64);
	a->oldest = dates[0];
	a->newest = dates[nd - 1];
	if (nd < 2)
		return;
	double span = (double)(dates[nd - 1] - dates[0]);
	a->posts_per_week = span > 0 ? an_round2((nd - 1) / (span / (7 * 86400.0))) : 0;
	/* Gaps reuse the front of dates: gap k only needs dates k and k+1. */
	double sum = 0, sumsq = 0;
	for (int k = 0; k < nd - 1; k++) {
		dates[k] = dates[k + 1] - dates[k];
		sum += (double)dates[k];
		sumsq += (double)dates[k] * (double)dates[k];
	}
	int ng = nd - 1;
	qsort(dates, (size_t)ng, sizeof(*dates), cmp_i64);
	a->median_gap_days = an_round2(median_sorted(dates, ng) / 86400.0);
	if (ng >= 2 && sum > 0) {
		double mean = sum / ng;
		double var = sumsq / ng - mean * mean;
		double cv = var > 0 ? sqrt(var) / mean : 0;
		a->consistency = an_round2(10.0 / (1.0 + cv));
	}
}

void metrics_compute(struct an_ctx *c)
{
	int na = c->naccounts, n = c->nreels;
	int *start = arena_alloc(&c->arena, sizeof(int) * (size_t)(na + 1));
	int *order = arena_alloc(&c->arena, sizeof(int) * (size_t)(n + 1));
	int *fill = arena_alloc(&c->arena, sizeof(int) * (size_t)(na + 1));
	int64_t *views = arena_alloc(&c->arena, sizeof(int64_t) * (size_t)(n + 1));
	int64_t *dates = arena_alloc(&c->arena, sizeof(int64_t) * (size_t)(n + 1));
	for (int i = 0; i < n; i++)
		start[c->reels[i].account + 1]++;
	for (int a = 0; a < na; a++)
		start[a + 1] += start[a];
	for (int i = 0; i < n; i++) {
		int a = c->reels[i].account;
		order[start[a] + fill[a]++] = i;
	}
	for (int a = 0; a < na; a++) {
		int cnt = start[a + 1] - start[a];
		account_metrics(c, &c->accounts[a], order + start[a], cnt, views, dates);
	}
	for (int i = 0; i < n; i++) {
		struct an_reel *r = &c->reels[i];
		double med = c->accounts[r->account].median_nonzero;
		r->outlier = (med > 0 && r->views > 0) ? an_round4((double)r->views / med) : 0;
	}
}

static json_t *num_or_null(double v)
{
	return v < 0 ? json_null() : json_real(v);
}

json_t *metrics_account_json(const struct an_ctx *c, const struct an_account *a)
{
	json_t *o = json_object();
	an_set(o, "username", an_str(a->username));
	an_set(o, "role", an_str(a->primary ? "primary" : "competitor"));
	an_set(o, "profile_name", an_str(a->profile_name));
	an_set(o, "followers", a->has_profile ? json_integer(a->followers) : json_null());
	an_set(o, "posts_count", a->has_profile ? json_integer(a->posts_count) : json_null());
	an_set(o, "reels_count", json_integer(a->reels));
	an_set(o, "reels_with_views", json_integer(a->reels_with_views));
	an_set(o, "reels_last_30_days", json_integer(a->window_reels));
	an_set(o, "median_views", json_real(an_round2(a->median_views)));
	an_set(o, "median_nonzero_views", json_real(an_round2(a->median_nonzero)));
	an_set(o, "mean_views", json_real(an_round2(a->mean_views)));
	an_set(o, "max_views", json_integer((json_int_t)a->max_views));
	an_set(o, "total_likes", json_integer((json_int_t)a->likes));
	an_set(o, "total_comments", json_integer((json_int_t)a->comments));
	an_set(o, "engagement_rate", json_real(a->engagement_rate));
	an_set(o, "engagement_rate_followers", num_or_null(a->engagement_per_follower));
	an_set(o, "posts_per_week", num_or_null(a->posts_per_week));
	an_set(o, "median_days_between_posts", num_or_null(a->median_gap_days));
	an_set(o, "days_since_last_post",
	       a->newest < 0 ? json_null()
	                     : json_real(an_round2((double)(c->now - a->newest) / 86400.0)));
	an_set(o, "posting_consistency_score", num_or_null(a->consistency));
	return o;
}
