/*
 * Structured logging shared by every process: one logfmt line per event on
 * stderr, written with a single write(2) so lines from several processes
 * never interleave mid-line:
 *
 *   ts=2026-11-29T17:00:00.123Z level=info actor=fetcher[1] job=<uuid> msg="..."
 *
 * The supervisor captures each child's stderr and forwards these lines
 * (wrapping any that are not logfmt, such as sanitizer reports).
 */
#ifndef VIRALSUP_IPC_LOG_H
#define VIRALSUP_IPC_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Names this process in every line (copied). Level from VIRALSUP_LOG_LEVEL. */
void log_init(const char *actor);
void log_set_level(enum log_level level);
/* Parses "debug|info|warn|error"; -1 when unknown. */
int log_level_parse(const char *s);

/* job may be NULL. msg is printf-style; quotes and newlines are escaped. */
void log_event(enum log_level level, const char *job, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_event(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...)  log_event(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...)  log_event(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_event(LOG_ERROR, NULL, __VA_ARGS__)

/* Aborts with a message: for impossible states and out-of-memory only. */
_Noreturn void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation wrappers that abort with a message instead of returning NULL. */
#include <stddef.h>
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
