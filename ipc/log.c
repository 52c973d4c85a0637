/*
 * logfmt lines on stderr, one write(2) each. See log.h.
 */
#include "ipc/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char log_actor[64] = "viralsup";
static enum log_level log_min = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (s && strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void log_init(const char *actor)
{
	const char *lvl = getenv("VIRALSUP_LOG_LEVEL");
	strlcpy(log_actor, actor, sizeof log_actor);
	if (lvl && log_level_parse(lvl) >= 0)
		log_min = (enum log_level)log_level_parse(lvl);
}

void log_set_level(enum log_level level)
{
	log_min = level;
}

/* Appends s to buf at *pos as a logfmt quoted value body: quotes,
 * backslashes and control characters escaped, so a hostile string can
 * never forge a second log line. */
static void append_escaped(char *buf, size_t cap, size_t *pos, const char *s)
{
	for (; *s && *pos + 5 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			buf[(*pos)++] = '\\';
			buf[(*pos)++] = (char)ch;
		} else if (ch == '\n') {
			buf[(*pos)++] = '\\';
			buf[(*pos)++] = 'n';
		} else if (ch < 0x20 || ch == 0x7f) {
			*pos += (size_t)snprintf(buf + *pos, cap - *pos, "\\x%02x", ch);
		} else {
			buf[(*pos)++] = (char)ch;
		}
	}
}

static void log_vevent(enum log_level level, const char *job, const char *fmt, va_list ap)
{
	char msg[2048], line[4096];
	struct timeval tv;
	struct tm tm;
	size_t pos;
	int saved = errno;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	vsnprintf(msg, sizeof msg, fmt, ap);
	pos = strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
	pos += (size_t)snprintf(line + pos, sizeof line - pos, ".%03ldZ level=%s actor=%s",
	                        (long)tv.tv_usec / 1000, level_names[level], log_actor);
	if (job && *job) {
		memcpy(line + pos, " job=", 5);
		pos += 5;
		append_escaped(line, sizeof line - 600, &pos, job);
	}
	memcpy(line + pos, " msg=\"", 6);
	pos += 6;
	append_escaped(line, sizeof line - 3, &pos, msg);
	line[pos++] = '"';
	line[pos++] = '\n';
	/* One write: lines from concurrent processes never interleave. */
	ssize_t r = write(STDERR_FILENO, line, pos);
	(void)r;
	errno = saved;
}

void log_event(enum log_level level, const char *job, const char *fmt, ...)
{
	va_list ap;
	if (level < log_min)
		return;
	va_start(ap, fmt);
	log_vevent(level, job, fmt, ap);
	va_end(ap);
}

_Noreturn void log_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vevent(LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		log_fatal("out of memory (%zu bytes)", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		log_fatal("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		log_fatal("out of memory (%zu bytes)", n);
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		log_fatal("out of memory");
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		log_fatal("out of memory");
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		log_fatal("out of memory");
	va_end(ap);
	return p;
}
