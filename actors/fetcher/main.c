/*
 * viralsup-fetcher: one member of the fetcher pool.
 *
 *   scheduler ── FETCH_ACCOUNT ──► provider (HTTP or fixtures) ─► normalised doc
 *   writer ◄── WRITE_CONTENT ── … WRITE_ACK ──► FETCH_DONE ──► scheduler
 *
 * Many accounts are in flight at once (libcurl multi on this process's
 * loop); the scheduler never sends more than the slots announced in our
 * CREDIT hello. The pool shares the provider rate limit: each of the N
 * fetchers takes rate / N.
 *
 * Each FETCH_ACCOUNT says how long the scheduler waits for its answer
 * (deadline_ms); the provider's requests and retries for that account stay
 * inside it (actors/fetcher/deadline.h), so the answer is never too late:
 * a provider that asks for a longer pause makes the account a transient
 * failure at once instead of a timeout at the scheduler.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "actors/fetcher/deadline.h"
#include "actors/fetcher/provider.h"
#include "ipc/ipc.h"

struct account {
	struct conn *sched; /* NULL once the scheduler's connection closed */
	uint64_t re;
	char job[40];
	char username[PROVIDER_MAX_USERNAME + 1];
	int reels, transcripts;
	struct account *next;
};

static struct {
	struct actor *actor;
	struct provider *provider;
	struct link *sched, *writer;
	int slots, max_reels, max_pages, transcripts;
	struct account *accounts;
	uint64_t ok, failed;
} F;

static void account_free(struct account *acc)
{
	for (struct account **pp = &F.accounts; *pp; pp = &(*pp)->next)
		if (*pp == acc) {
			*pp = acc->next;
			break;
		}
	free(acc);
}

/* Answers the scheduler and ends the account. class: "transient" | "permanent". */
static void account_finish(struct account *acc, bool ok, const char *class, const char *error)
{
	struct msg_out out;
	if (ok)
		F.ok++;
	else {
		F.failed++;
		log_event(LOG_INFO, acc->job, "@%s not fetched (%s): %s", acc->username, class,
		          error);
	}
	if (acc->sched) {
		msg_out_init(&out, MSG_FETCH_DONE, acc->re, 5);
		msg_put_bool(&out, "ok", ok);
		msg_put_str(&out, "class", class);
		msg_put_str(&out, "error", error);
		msg_put_int(&out, "reels", acc->reels);
		msg_put_int(&out, "transcripts", acc->transcripts);
		conn_send(acc->sched, &out);
		msg_out_free(&out);
	}
	account_free(acc);
}

static void on_write_ack(struct conn *c, const struct msg *reply, int err, void *arg)
{
	struct account *acc = arg;
	bool ok = false;
	char error[256] = "writer refused the content";
	(void)c;
	if (err) {
		account_finish(acc, false, "transient",
		               err == -ETIMEDOUT ? "writer did not answer in time"
		                                 : "writer unavailable");
		return;
	}
	msg_get_bool(reply->body, "ok", &ok);
	msg_copy_str(reply->body, "error", error, sizeof error);
	account_finish(acc, ok, ok ? NULL : "transient", ok ? NULL : error);
}

static void on_fetched(void *arg, enum fetch_status status, const char *reason, json_t *doc)
{
	struct account *acc = arg;
	if (status != FETCH_OK) {
		account_finish(acc, false, status == FETCH_PERMANENT ? "permanent" : "transient",
		               reason ? reason : fetch_status_name(status));
		return;
	}
	json_t *fetch = json_object_get(doc, "fetch");
	acc->reels = (int)json_array_size(json_object_get(doc, "reels"));
	acc->transcripts = (int)json_integer_value(json_object_get(fetch, "transcripts_fetched"));
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);

	struct msg_out out;
	int r = -ENOMEM;
	if (text) {
		msg_out_init(&out, MSG_WRITE_CONTENT, 0, 2);
		msg_put_str(&out, "job", acc->job);
		msg_put_str(&out, "account", text);
		/* Idempotent: re-sent if the writer restarts before acking. */
		r = link_request(F.writer, &out, 60.0, on_write_ack, acc);
		msg_out_free(&out);
	}
	free(text);
	if (r == -EMSGSIZE)
		account_finish(acc, false, "permanent", "account document larger than a frame");
	else if (r < 0)
		account_finish(acc, false, "transient", "writer unavailable");
}

static void on_fetch_account(struct conn *c, const struct msg *m)
{
	struct account *acc = xcalloc(1, sizeof *acc);
	int64_t since = 0, budget_ms = 0;
	char why[128];

	acc->sched = c;
	acc->re = m->id;
	acc->next = F.accounts;
	F.accounts = acc;
	if (msg_copy_str(m->body, "job", acc->job, sizeof acc->job) < 0 ||
	    msg_copy_str(m->body, "username", acc->username, sizeof acc->username) < 0) {
		account_finish(acc, false, "permanent", "malformed FETCH_ACCOUNT");
		return;
	}
	msg_get_int(m->body, "since", &since);
	/* A bad deadline is the scheduler's bug, not the account's: run the
	 * unit without one (as before the field), the scheduler's own timeout
	 * still bounds it. */
	if (fetch_budget_read(m->body, &budget_ms, why, sizeof why) < 0)
		log_event(LOG_WARN, acc->job, "FETCH_ACCOUNT for @%s: %s: no deadline",
		          acc->username, why);
	struct fetch_request req = {
	    .username = acc->username,
	    .max_reels = F.max_reels,
	    .max_pages = F.max_pages,
	    .since = since > 0 ? since : 0,
	    .transcripts = F.transcripts,
	    .deadline = fetch_deadline_at(ev_now(F.actor->loop), budget_ms),
	};
	if (provider_fetch(F.provider, &req, on_fetched, acc) < 0)
		account_finish(acc, false, "permanent", "invalid username");
}

static void on_sched_msg(struct link *l, struct conn *c, const struct msg *m, void *ud)
{
	(void)l;
	(void)ud;
	if (m->type == MSG_FETCH_ACCOUNT)
		on_fetch_account(c, m);
	else
		log_warn("unexpected %s from the scheduler", msg_type_name(m->type));
}

static void on_sched_up(struct link *l, struct conn *c, void *ud)
{
	(void)l;
	(void)ud;
	actor_offer_slots(F.actor, c, F.slots);
}

static void on_sched_down(struct link *l, const char *reason, void *ud)
{
	(void)l;
	(void)ud;
	/* The scheduler re-dispatches or re-claims; finish quietly. */
	log_info("scheduler connection lost (%s)", reason);
	for (struct account *acc = F.accounts; acc; acc = acc->next)
		acc->sched = NULL;
}

static const struct link_ops sched_ops = {on_sched_up, on_sched_msg, on_sched_down};
static const struct link_ops writer_ops = {NULL, NULL, NULL};

/* The provider's counters in every PONG: the supervisor's status, viralctl
 * status --json, the gateway's /metrics and operations page all read them
 * there (docs/ARCHITECTURE.md, "stats"). */
static void pack_pong_stats(msgpack_packer *pk)
{
	struct provider_counters pc;
	provider_counters(F.provider, &pc);
	msgpack_pack_map(pk, 1);
	msg_pack_str(pk, "upstream");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 6);
	msg_pack_str(pk, "kind");
	msg_pack_str(pk, "provider");
	msg_pack_str(pk, "name");
	msg_pack_str(pk, provider_name(F.provider));
	const char *keys[] = {"requests", "ok", "throttled", "errors"};
	const uint64_t vals[] = {pc.requests, pc.ok, pc.throttled, pc.errors};
	for (int i = 0; i < 4; i++) {
		msg_pack_str(pk, keys[i]);
		msgpack_pack_uint64(pk, vals[i]);
	}
}

int main(int argc, char **argv)
{
	struct actor a;
	struct provider_opts po;
	char err[256];

	actor_init(&a, "fetcher", argc, argv);
	F.actor = &a;
	F.slots = (int)config_int(a.config, "fetcher.concurrency");
	F.max_reels = (int)config_int(a.config, "fetcher.reels_per_account");
	F.max_pages = (int)config_int(a.config, "fetcher.max_pages");
	F.transcripts = (int)config_int(a.config, "fetcher.transcripts_per_account");
	if (F.transcripts == 0)
		F.transcripts = -1; /* the provider reads 0 as "its default" */

	provider_opts_from_env(&po);
	po.scraper_url = config_str(a.config, "fetcher.scraper_url");
	po.transcript_url = config_str(a.config, "fetcher.transcript_url");
	po.fixtures_dir = config_str(a.config, "fetcher.fixtures_dir");
	po.rate_per_sec = config_double(a.config, "fetcher.rate_limit") /
	                  config_int(a.config, "supervisor.fetchers");
	po.max_attempts = (int)config_int(a.config, "fetcher.retries") + 1;
	po.http.connect_timeout_ms = config_int(a.config, "fetcher.connect_timeout_ms");
	po.http.total_timeout_ms = config_int(a.config, "fetcher.timeout_ms");
	po.http.max_body = (size_t)config_int(a.config, "fetcher.max_body");
	const char *kind = config_str(a.config, "fetcher.provider");
	F.provider = provider_new(a.loop, *kind ? kind : NULL, &po, err, sizeof err);
	if (!F.provider) {
		log_error("provider: %s", err);
		return EXIT_PERMANENT;
	}
	log_info("provider %s, %d slots, %.2f requests/s", provider_name(F.provider), F.slots,
	         po.rate_per_sec);
	if (strcmp(provider_name(F.provider), "fixtures") != 0) /* fixtures: no requests */
		conn_set_pong_stats(pack_pong_stats);

	char *sp = actor_socket_path(&a, "scheduler"), *wp = actor_socket_path(&a, "writer");
	F.writer = link_new(a.loop, wp, "writer", &writer_ops, NULL);
	F.sched = link_new(a.loop, sp, "scheduler", &sched_ops, NULL);
	free(sp);
	free(wp);
	actor_ready(&a);
	int code = actor_run(&a);
	for (struct account *acc = F.accounts; acc; acc = acc->next)
		acc->sched = NULL;
	provider_free(F.provider); /* callbacks run with FETCH_CANCELLED */
	link_free(F.writer);
	link_free(F.sched);
	while (F.accounts)
		account_free(F.accounts);
	actor_cleanup(&a);
	return code;
}
