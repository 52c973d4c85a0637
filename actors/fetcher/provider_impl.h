/*
 * Inside the providers: provider.c runs the per-account state machine
 * (profile -> reels pages -> transcripts -> document) over a "transport"
 * that delivers single answer documents: provider_rapidapi.c over HTTP
 * (rate limit, retries), provider_fixtures.c from files.
 */
#ifndef VIRALSUP_FETCHER_PROVIDER_IMPL_H
#define VIRALSUP_FETCHER_PROVIDER_IMPL_H

#include "actors/fetcher/provider.h"

enum doc_kind { DOC_PROFILE, DOC_REELS, DOC_TRANSCRIPT };

/*
 * One answer: status FETCH_OK with the body (body NULL for "no such
 * document", which only the fixtures transport uses for transcripts), or a
 * failure with its reason (e.g. "HTTP 404 (not found)"). body and reason are
 * valid during the call only. attempts counts HTTP requests made.
 */
typedef void (*doc_cb)(void *arg, enum fetch_status st, const char *reason, const char *body,
                       size_t len, int attempts);

struct transport_ops {
	const char *name;
	/* arg: NULL for the profile, the pagination token (NULL: first page) for
	 * reels, the shortcode for a transcript. deadline: the account's
	 * (fetch_request.deadline, 0 for none). 0 or -errno (cb not called). */
	int (*get)(struct provider *p, enum doc_kind kind, const char *username, const char *arg,
	           double deadline, doc_cb cb, void *cbarg);
	/* Every pending get ends with FETCH_CANCELLED. */
	void (*cancel_all)(struct provider *p);
	void (*destroy)(struct provider *p);
};

struct account;

struct provider {
	const struct transport_ops *ops;
	struct ev_loop *loop;
	struct provider_opts opts;
	struct account *accounts; /* in flight */
	int active;
	struct provider_counters counts; /* the transport counts its HTTP requests */
	void *impl;
};

int transport_rapidapi_init(struct provider *p, char *err, size_t errlen);
int transport_fixtures_init(struct provider *p, char *err, size_t errlen);

#endif
