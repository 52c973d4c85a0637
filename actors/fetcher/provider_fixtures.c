/*
 * The fixtures transport: the providers' answer documents read from a
 * directory, so the stack runs offline (examples/instagram/README.md):
 *
 *   <dir>/<username>/profile.json
 *   <dir>/<username>/reels_<page>.json      page 0 first; the token is the page number
 *   <dir>/<username>/transcript_<code>.json absent: no transcript
 *
 * Usernames, shortcodes and tokens are validated before they become path
 * parts, so no answer can make us read outside the directory. Files are read
 * at once; the answer is delivered from the loop (a zero timer).
 */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/fetcher/provider_impl.h"

struct freq {
	struct provider *p;
	ev_timer t;
	enum fetch_status st;
	char reason[300];
	char *body; /* NULL: no such document (transcripts only) */
	size_t len;
	doc_cb cb;
	void *cbarg;
	struct freq *prev, *next;
};

struct fixtures {
	struct freq *all;
};

static void freq_complete(struct freq *q, enum fetch_status st)
{
	struct fixtures *f = q->p->impl;
	ev_timer_stop(q->p->loop, &q->t);
	if (q->prev)
		q->prev->next = q->next;
	else
		f->all = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->cb(q->cbarg, st, st == FETCH_CANCELLED ? "cancelled" : q->reason, q->body, q->len, 1);
	free(q->body);
	free(q);
}

static void deliver_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct freq *q = w->data;
	freq_complete(q, q->st);
}

/* Reads path into q (body/len), or sets st/reason. missing_ok: ENOENT -> OK, no body. */
static void read_doc(struct freq *q, const char *path, size_t max, bool missing_ok,
                     const char *missing_reason)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	q->st = FETCH_OK;
	if (fd < 0) {
		if (errno == ENOENT && missing_ok)
			return;
		q->st = FETCH_PERMANENT;
		if (errno == ENOENT)
			snprintf(q->reason, sizeof(q->reason), "%s", missing_reason);
		else
			snprintf(q->reason, sizeof(q->reason), "cannot open %.200s: %s", path,
			         strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		q->st = FETCH_PERMANENT;
		snprintf(q->reason, sizeof(q->reason),
		         "%.200s: not a regular file or larger than %zu bytes", path, max);
		close(fd);
		return;
	}
	q->body = malloc((size_t)st.st_size + 1);
	if (!q->body)
		abort();
	size_t n = 0;
	while (n < (size_t)st.st_size) {
		ssize_t k = read(fd, q->body + n, (size_t)st.st_size - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	q->body[n] = '\0';
	q->len = n;
}

static int fix_get(struct provider *p, enum doc_kind kind, const char *username, const char *arg,
                   double deadline, doc_cb cb, void *cbarg)
{
	(void)deadline; /* files are read in the next loop iteration: nothing to shorten */
	struct fixtures *f = p->impl;
	char path[4096];
	const char *dir = p->opts.fixtures_dir;
	size_t max = p->opts.http.max_body ? p->opts.http.max_body : 8u << 20;

	if (!provider_username_ok(username) || strcmp(username, ".") == 0 ||
	    strcmp(username, "..") == 0)
		return -EINVAL;
	struct freq *q = calloc(1, sizeof(*q));
	if (!q)
		abort();
	switch (kind) {
	case DOC_PROFILE:
		snprintf(path, sizeof(path), "%s/%s/profile.json", dir, username);
		read_doc(q, path, max, false, "user not found (no fixture)");
		break;
	case DOC_REELS: {
		const char *tok = arg ? arg : "0";
		size_t n = strlen(tok);
		if (n == 0 || n > 6 || strspn(tok, "0123456789") != n) {
			q->st = FETCH_PERMANENT;
			snprintf(q->reason, sizeof(q->reason), "invalid pagination token");
			break;
		}
		snprintf(path, sizeof(path), "%s/%s/reels_%s.json", dir, username, tok);
		read_doc(q, path, max, false, "no reels fixture for this page");
		break;
	}
	case DOC_TRANSCRIPT:
		if (!provider_shortcode_ok(arg)) {
			free(q);
			return -EINVAL;
		}
		snprintf(path, sizeof(path), "%s/%s/transcript_%s.json", dir, username, arg);
		read_doc(q, path, max, true, "");
		break;
	}
	q->p = p;
	q->cb = cb;
	q->cbarg = cbarg;
	ev_timer_init(&q->t, deliver_cb, 0., 0.);
	q->t.data = q;
	ev_timer_start(p->loop, &q->t);
	q->next = f->all;
	if (f->all)
		f->all->prev = q;
	f->all = q;
	return 0;
}

static void fix_cancel_all(struct provider *p)
{
	struct fixtures *f = p->impl;
	while (f->all)
		freq_complete(f->all, FETCH_CANCELLED);
}

static void fix_destroy(struct provider *p)
{
	free(p->impl);
	p->impl = NULL;
}

static const struct transport_ops fix_ops = {
    .name = "fixtures",
    .get = fix_get,
    .cancel_all = fix_cancel_all,
    .destroy = fix_destroy,
};

int transport_fixtures_init(struct provider *p, char *err, size_t errlen)
{
	struct stat st;
	errno = 0;
	if (stat(p->opts.fixtures_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "fixtures directory %s: %s", p->opts.fixtures_dir,
		         errno ? strerror(errno) : "not a directory");
		return -ENOENT;
	}
	p->impl = calloc(1, sizeof(struct fixtures));
	if (!p->impl)
		abort();
	p->ops = &fix_ops;
	return 0;
}
