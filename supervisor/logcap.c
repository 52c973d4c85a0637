/*
 * Child stderr capture and the log ring. See logcap.h.
 */
#include "supervisor/logcap.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ipc/log.h"

struct logring {
	struct logline *lines;
	size_t cap, head, count; /* head: index of the oldest line */
	uint64_t next_seq;
};

struct logring *logring_new(size_t cap)
{
	struct logring *r = xcalloc(1, sizeof *r);
	r->cap = cap ? cap : 1;
	r->lines = xcalloc(r->cap, sizeof *r->lines);
	r->next_seq = 1;
	return r;
}

void logring_free(struct logring *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->cap; i++) {
		free(r->lines[i].actor);
		free(r->lines[i].text);
	}
	free(r->lines);
	free(r);
}

static void logring_push(struct logring *r, const char *actor, const char *text, size_t len)
{
	struct logline *l;
	if (r->count == r->cap) {
		l = &r->lines[r->head];
		free(l->actor);
		free(l->text);
		r->head = (r->head + 1) % r->cap;
		r->count--;
	}
	l = &r->lines[(r->head + r->count) % r->cap];
	l->seq = r->next_seq++;
	l->actor = xstrdup(actor);
	l->text = xstrndup(text, len);
	r->count++;
}

uint64_t logring_last_seq(const struct logring *r)
{
	return r->next_seq - 1;
}

/* "fetcher" matches the pool members "fetcher[0]", "fetcher[1]", ... */
static bool actor_matches(const char *actor, const char *want)
{
	size_t n = strlen(want);
	return strncmp(actor, want, n) == 0 && (actor[n] == '\0' || actor[n] == '[');
}

void logring_each(const struct logring *r, const char *actor, size_t n, uint64_t after,
                  void (*fn)(const struct logline *l, void *arg), void *arg)
{
	size_t want = n < r->count ? n : r->count, found = 0;
	size_t *idx;

	if (want == 0)
		return;
	idx = xcalloc(want, sizeof *idx);
	/* Newest first until n matches, then replay them oldest first. */
	for (size_t k = r->count; k > 0 && found < want; k--) {
		size_t i = (r->head + k - 1) % r->cap;
		if (r->lines[i].seq <= after)
			break;
		if (actor && !actor_matches(r->lines[i].actor, actor))
			continue;
		idx[found++] = i;
	}
	while (found > 0)
		fn(&r->lines[idx[--found]], arg);
	free(idx);
}

void logcap_init(struct logcap *lc, const char *actor, struct logring *ring, int out_fd)
{
	memset(lc, 0, sizeof *lc);
	strlcpy(lc->actor, actor, sizeof lc->actor);
	lc->ring = ring;
	lc->out_fd = out_fd;
}

/* A line an actor wrote through ipc/log.c: "ts=... level=... actor=...". */
static int is_logfmt(const char *line, size_t len)
{
	return len > 3 && memcmp(line, "ts=", 3) == 0 && memmem(line, len, " actor=", 7) != NULL;
}

/* Wraps a raw line into logfmt: quotes, backslashes and control bytes
 * escaped so a child can never forge a second line. */
static size_t wrap_line(const struct logcap *lc, const char *line, size_t len, char *out,
                        size_t cap)
{
	struct timeval tv;
	struct tm tm;
	size_t pos;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	pos = strftime(out, cap, "ts=%Y-%m-%dT%H:%M:%S", &tm);
	pos += (size_t)snprintf(out + pos, cap - pos,
	                        ".%03ldZ level=info actor=%s stream=stderr msg=\"",
	                        (long)tv.tv_usec / 1000, lc->actor);
	for (size_t i = 0; i < len && pos + 6 < cap; i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch == '"' || ch == '\\') {
			out[pos++] = '\\';
			out[pos++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			pos += (size_t)snprintf(out + pos, cap - pos, "\\x%02x", ch);
		} else {
			out[pos++] = (char)ch;
		}
	}
	out[pos++] = '"';
	return pos;
}

void logcap_emit(struct logcap *lc, const char *line, size_t len)
{
	char out[LOGCAP_LINE_MAX * 4 + 256];
	size_t n;

	if (len && line[len - 1] == '\r')
		len--;
	if (is_logfmt(line, len)) {
		memcpy(out, line, len);
		n = len;
	} else {
		n = wrap_line(lc, line, len, out, sizeof out - 1);
	}
	if (lc->ring)
		logring_push(lc->ring, lc->actor, out, n);
	out[n++] = '\n';
	/* One write per line: the supervisor's stderr is shared by every child. */
	ssize_t w = write(lc->out_fd, out, n);
	(void)w;
}

void logcap_feed(struct logcap *lc, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		size_t room = sizeof lc->buf - lc->len;

		if (take >= room) {
			/* Too long: forward what fits as one line and carry on. */
			memcpy(lc->buf + lc->len, data, room);
			logcap_emit(lc, lc->buf, sizeof lc->buf);
			lc->len = 0;
			data += room;
			len -= room;
			continue;
		}
		memcpy(lc->buf + lc->len, data, take);
		lc->len += take;
		data += take;
		len -= take;
		if (nl) {
			logcap_emit(lc, lc->buf, lc->len);
			lc->len = 0;
			data++;
			len--;
		}
	}
}

void logcap_flush(struct logcap *lc)
{
	if (lc->len > 0)
		logcap_emit(lc, lc->buf, lc->len);
	lc->len = 0;
}
