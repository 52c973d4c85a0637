/*
 * Configuration: a small INI file (inih) for everything but secrets, with
 * environment variables overriding single keys. Every key is declared once
 * in config.c with its type, default, bounds and environment name, so an
 * unknown key, a bad number or an out-of-range value is an error naming
 * the file and line. Secrets (RAPIDAPI_KEY, ADMIN_API_TOKEN) come from the
 * environment only and never appear in this table or in logs.
 *
 * Keys are "section.key", e.g. "http.addr" (env VIRALSUP_HTTP_ADDR).
 * Sections "[child NAME]" describe supervised children (see supervisor/).
 */
#ifndef VIRALSUP_IPC_CONFIG_H
#define VIRALSUP_IPC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct config;

/*
 * Loads defaults, then path (NULL: no file), then the environment.
 * Returns a new config (free with config_free) or NULL with a message in
 * err ("viralsup.conf:12: unknown key 'foo' in [http]").
 */
struct config *config_load(const char *path, char *err, size_t errlen);
/* Parses INI text directly (for tests and fuzzing); name is used in messages. */
struct config *config_parse(const char *text, const char *name, char *err, size_t errlen);
void config_free(struct config *cfg);

/* Values of declared keys; asking for an undeclared key aborts (a bug). */
const char *config_str(const struct config *cfg, const char *key);
long config_int(const struct config *cfg, const char *key);
bool config_bool(const struct config *cfg, const char *key);
double config_double(const struct config *cfg, const char *key);

/* Children declared with [child NAME] sections, in file order. */
int config_child_count(const struct config *cfg);
const char *config_child_name(const struct config *cfg, int i);
/* A key of child i ("program", "count", "restart", "shutdown_timeout_ms"), or NULL. */
const char *config_child_get(const struct config *cfg, int i, const char *key);

/* Writes every declared key with its value and source, for `viralsup config`. */
void config_dump(const struct config *cfg, int fd);

#endif
