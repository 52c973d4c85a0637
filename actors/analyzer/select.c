/*
 * Reel selection. As the original: the primary's top reels of the last 30
 * days by views (10 candidates) and one cross-competitor list (20); unlike
 * it, older reels fill in when the window holds fewer reels than are
 * analysed, and no single competitor may dominate (see docs/analysis.md).
 */
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/analysis.h"

static int cmp_by_views(const void *pa, const void *pb)
{
	const struct an_reel *a = *(const struct an_reel *const *)pa;
	const struct an_reel *b = *(const struct an_reel *const *)pb;
	if (a->views != b->views)
		return a->views > b->views ? -1 : 1;
	if (a->date != b->date)
		return a->date > b->date ? -1 : 1;
	int s = strcmp(a->content_id, b->content_id);
	if (s)
		return s;
	return (a->index > b->index) - (a->index < b->index);
}

static int cmp_by_outlier(const void *pa, const void *pb)
{
	const struct an_reel *a = *(const struct an_reel *const *)pa;
	const struct an_reel *b = *(const struct an_reel *const *)pb;
	if (a->outlier != b->outlier)
		return a->outlier > b->outlier ? -1 : 1;
	return cmp_by_views(pa, pb);
}

/*
 * Takes up to limit reels of the sorted pool into out (returns the count),
 * at most cap per account while reels of other accounts remain; a second
 * pass lifts the cap when only capped accounts are left.
 */
static int take_capped(struct an_ctx *c, struct an_reel **pool, int n, int limit, int cap,
                       struct an_reel **out)
{
	int *per = arena_alloc(&c->arena, sizeof(int) * (size_t)c->naccounts);
	bool *taken = arena_alloc(&c->arena, (size_t)n + 1);
	int got = 0;
	for (int pass = 0; pass < 2 && got < limit; pass++) {
		for (int i = 0; i < n && got < limit; i++) {
			if (taken[i] || (pass == 0 && per[pool[i]->account] >= cap))
				continue;
			taken[i] = true;
			per[pool[i]->account]++;
			out[got++] = pool[i];
		}
	}
	return got;
}

static void mark(struct an_ctx *c, struct an_reel **list, int n, int first_rank, const char *reason,
                 bool fallback)
{
	for (int k = 0; k < n; k++) {
		struct an_reel *r = list[k];
		r->selected = true;
		r->rank = first_rank + k;
		r->reason = reason;
		r->fallback = fallback;
		c->selected[c->nselected++] = r->index;
	}
}

/* Selects the candidates of one role (primary or competitor). */
static int select_role(struct an_ctx *c, bool primary, int limit, int cap, int min_window,
                       const char *reason, const char *fallback_reason)
{
	struct an_reel **recent = arena_alloc(&c->arena, sizeof(void *) * (size_t)(c->nreels + 1));
	struct an_reel **older = arena_alloc(&c->arena, sizeof(void *) * (size_t)(c->nreels + 1));
	struct an_reel **out = arena_alloc(&c->arena, sizeof(void *) * (size_t)limit);
	int nr = 0, no = 0;
	for (int i = 0; i < c->nreels; i++) {
		struct an_reel *r = &c->reels[i];
		if (an_acct(c, r)->primary != primary)
			continue;
		bool in_window =
		    c->recurring ? r->is_new : (r->date >= 0 && r->date >= c->now - AN_WINDOW_SECS);
		if (in_window)
			recent[nr++] = r;
		else
			older[no++] = r;
	}
	qsort(recent, (size_t)nr, sizeof(*recent), cmp_by_views);
	int got = take_capped(c, recent, nr, limit, cap, out);
	mark(c, out, got, 1, reason, false);
	/* Recurring runs look at new reels only: no fallback. */
	if (got >= min_window || c->recurring || no == 0)
		return got;
	qsort(older, (size_t)no, sizeof(*older), cmp_by_views);
	int more = take_capped(c, older, no, limit - got, cap, out);
	mark(c, out, more, got + 1, fallback_reason, true);
	c->nfallback += more;
	return got + more;
}

void select_reels(struct an_ctx *c)
{
	c->selected = arena_alloc(&c->arena,
	                          sizeof(int) * (AN_PRIMARY_CANDIDATES + AN_COMPETITOR_CANDIDATES));
	if (c->recurring) {
		c->nsel_primary = select_role(c, true, AN_PRIMARY_CANDIDATES, AN_PRIMARY_CANDIDATES,
		                              0, "newly_trending", NULL);
		c->nsel_competitor = select_role(c, false, AN_COMPETITOR_CANDIDATES,
		                                 AN_COMPETITOR_CANDIDATES * AN_PICKS_PER_ACCOUNT /
		                                     AN_COMPETITOR_PICKS,
		                                 0, "newly_trending", NULL);
		return;
	}
	c->nsel_primary =
	    select_role(c, true, AN_PRIMARY_CANDIDATES, AN_PRIMARY_CANDIDATES, AN_PRIMARY_PICKS,
	                "smart_selection_top_performer", "fallback_top_performer");
	c->nsel_competitor = select_role(
	    c, false, AN_COMPETITOR_CANDIDATES,
	    AN_COMPETITOR_CANDIDATES * AN_PICKS_PER_ACCOUNT / AN_COMPETITOR_PICKS,
	    AN_COMPETITOR_PICKS, "smart_selection_cross_competitor", "fallback_cross_competitor");
}

void select_picks(struct an_ctx *c)
{
	int n = c->nselected;
	struct an_reel **pool = arena_alloc(&c->arena, sizeof(void *) * (size_t)(n + 1));
	struct an_reel **out =
	    arena_alloc(&c->arena, sizeof(void *) * (AN_PRIMARY_PICKS + AN_COMPETITOR_PICKS));
	c->picks = arena_alloc(&c->arena, sizeof(int) * (AN_PRIMARY_PICKS + AN_COMPETITOR_PICKS));
	for (int role = 0; role < 2; role++) {
		bool primary = role == 0;
		int np = 0;
		for (int k = 0; k < n; k++) {
			struct an_reel *r = &c->reels[c->selected[k]];
			/* A reel without any text has no hook to analyse. */
			if (an_acct(c, r)->primary == primary && r->hook_src != HOOK_SRC_NONE)
				pool[np++] = r;
		}
		qsort(pool, (size_t)np, sizeof(*pool), cmp_by_outlier);
		int limit = primary ? AN_PRIMARY_PICKS : AN_COMPETITOR_PICKS;
		int cap = primary ? AN_PRIMARY_PICKS : AN_PICKS_PER_ACCOUNT;
		int got = take_capped(c, pool, np, limit, cap, out);
		for (int k = 0; k < got; k++) {
			out[k]->picked = true;
			c->picks[c->npicks++] = out[k]->index;
		}
		if (primary)
			c->npick_primary = got;
		else
			c->npick_competitor = got;
	}
}
