/*
 * Declared configuration keys, INI loading (inih) and environment
 * overrides. See config.h.
 */
#include "ipc/config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/log.h"

enum key_type { KEY_STR, KEY_INT, KEY_BOOL, KEY_DOUBLE };

struct key_decl {
	const char *name; /* "section.key" */
	enum key_type type;
	const char *def;
	const char *env; /* overriding environment variable, or NULL */
	long min, max;   /* bounds for KEY_INT (and KEY_DOUBLE, truncated) */
};

/* Every key viralsup knows. docs/configuration.md explains each. */
static const struct key_decl keys[] = {
    {"supervisor.run_dir", KEY_STR, "var/run", "VIRALSUP_RUN_DIR", 0, 0},
    {"supervisor.node_id", KEY_STR, "", "VIRALSUP_NODE_ID", 0, 0},
    {"supervisor.fetchers", KEY_INT, "2", "VIRALSUP_FETCHERS", 1, 64},
    {"supervisor.ready_timeout_ms", KEY_INT, "10000", NULL, 10, 600000},
    {"supervisor.shutdown_timeout_ms", KEY_INT, "5000", NULL, 10, 600000},
    {"supervisor.backoff_initial_ms", KEY_INT, "5", NULL, 0, 60000},
    {"supervisor.backoff_max_ms", KEY_INT, "5000", NULL, 1, 600000},
    {"supervisor.stable_after_ms", KEY_INT, "10000", NULL, 1, 3600000},
    {"supervisor.intensity", KEY_INT, "10", "VIRALSUP_RESTART_INTENSITY", 1, 100000},
    {"supervisor.period_ms", KEY_INT, "10000", "VIRALSUP_RESTART_PERIOD_MS", 1, 3600000},
    {"supervisor.log_ring", KEY_INT, "2000", NULL, 10, 1000000},
    {"supervisor.watchdog_ms", KEY_INT, "5000", "VIRALSUP_WATCHDOG_MS", 100, 600000},
    {"supervisor.migrate", KEY_BOOL, "true", "VIRALSUP_MIGRATE", 0, 0},
    {"log.level", KEY_STR, "info", "VIRALSUP_LOG_LEVEL", 0, 0},
    {"database.url", KEY_STR, "", "DATABASE_URL", 0, 0},
    {"database.poll_only", KEY_BOOL, "false", "VIRALSUP_DB_POLL_ONLY", 0, 0},
    {"ipc.max_frame", KEY_INT, "1048576", "VIRALSUP_MAX_FRAME", 1024, 64 * 1024 * 1024},
    {"http.addr", KEY_STR, "127.0.0.1:8000", "VIRALSUP_HTTP_ADDR", 0, 0},
    {"http.max_connections", KEY_INT, "1024", "VIRALSUP_HTTP_MAX_CONNECTIONS", 1, 1000000},
    {"http.header_timeout_ms", KEY_INT, "10000", NULL, 10, 600000},
    {"http.body_timeout_ms", KEY_INT, "30000", NULL, 10, 600000},
    {"http.idle_timeout_ms", KEY_INT, "60000", NULL, 10, 3600000},
    {"http.admin_rate_per_min", KEY_INT, "30", "VIRALSUP_ADMIN_RATE_PER_MIN", 1, 1000000},
    {"http.action_timeout_ms", KEY_INT, "2000", NULL, 10, 60000},
    {"http.max_connections_per_addr", KEY_INT, "128", "VIRALSUP_HTTP_MAX_CONNECTIONS_PER_ADDR", 1,
     1000000},
    {"http.cors_origins", KEY_STR, "", "VIRALSUP_CORS_ORIGINS", 0, 0},
    {"http.trusted_proxies", KEY_STR, "", "VIRALSUP_TRUSTED_PROXIES", 0, 0},
    {"http.auth_fail_per_prefix_per_min", KEY_INT, "100", "VIRALSUP_AUTH_FAIL_PER_PREFIX_PER_MIN",
     1, 1000000},
    {"http.auth_fail_global_per_min", KEY_INT, "300", "VIRALSUP_AUTH_FAIL_GLOBAL_PER_MIN", 1,
     100000000},
    {"scheduler.concurrency", KEY_INT, "8", "VIRALSUP_CONCURRENCY", 1, 100000},
    {"scheduler.processing", KEY_STR, "continuous", "VIRALSUP_PROCESSING", 0, 0},
    {"scheduler.schedule", KEY_STR, "", "VIRALSUP_SCHEDULE", 0, 0},
    {"scheduler.lease_ms", KEY_INT, "30000", "VIRALSUP_LEASE_MS", 100, 3600000},
    {"scheduler.owner_expiry_ms", KEY_INT, "30000", "VIRALSUP_OWNER_EXPIRY_MS", 100, 3600000},
    {"scheduler.legacy_stuck_ms", KEY_INT, "60000", NULL, 1000, 86400000},
    {"scheduler.max_attempts", KEY_INT, "5", "VIRALSUP_MAX_ATTEMPTS", 1, 1000},
    {"scheduler.rescue_cap", KEY_INT, "3", "VIRALSUP_RESCUE_CAP", 1, 1000},
    {"scheduler.poll_ms", KEY_INT, "1000", NULL, 10, 600000},
    {"scheduler.claim_batch", KEY_INT, "32", NULL, 1, 10000},
    {"scheduler.event_retention_days", KEY_INT, "30", NULL, 1, 36500},
    {"fetcher.provider", KEY_STR, "", "VIRALSUP_PROVIDER", 0, 0},
    {"fetcher.fixtures_dir", KEY_STR, "examples/instagram", "VIRALSUP_FIXTURES_DIR", 0, 0},
    {"fetcher.scraper_url", KEY_STR, "https://instagram-scraper-stable-api.p.rapidapi.com",
     "VIRALSUP_SCRAPER_URL", 0, 0},
    {"fetcher.transcript_url", KEY_STR, "https://instagram-transcripts.p.rapidapi.com",
     "VIRALSUP_TRANSCRIPT_URL", 0, 0},
    {"fetcher.rate_limit", KEY_DOUBLE, "20", "VIRALSUP_PROVIDER_RATE", 0, 1000000},
    {"fetcher.concurrency", KEY_INT, "32", NULL, 1, 10000},
    {"fetcher.timeout_ms", KEY_INT, "30000", NULL, 10, 600000},
    {"fetcher.connect_timeout_ms", KEY_INT, "5000", NULL, 10, 600000},
    {"fetcher.max_body", KEY_INT, "8388608", NULL, 1024, 1073741824},
    {"fetcher.max_pages", KEY_INT, "5", NULL, 1, 100},
    {"fetcher.reels_per_account", KEY_INT, "30", NULL, 1, 1000},
    {"fetcher.transcripts_per_account", KEY_INT, "5", NULL, 0, 100},
    {"fetcher.retries", KEY_INT, "3", NULL, 0, 20},
    {"analyzer.crash_on", KEY_STR, "", "VIRALSUP_ANALYZER_CRASH_ON", 0, 0},
    {"analyzer.slots", KEY_INT, "4", NULL, 1, 1000},
    {"analyzer.reels_per_account", KEY_INT, "30", NULL, 1, 10000},
    {"analyzer.engine", KEY_STR, "rules", "VIRALSUP_ANALYZER_ENGINE", 0, 0},
    {"scheduler.analyze_timeout_ms", KEY_INT, "60000", "VIRALSUP_ANALYZE_TIMEOUT_MS", 1000,
     3600000},
    {"llm.base_url", KEY_STR, "https://api.openai.com/v1", "VIRALSUP_LLM_BASE_URL", 0, 0},
    {"llm.model", KEY_STR, "gpt-4o-mini", "VIRALSUP_LLM_MODEL", 0, 0},
    {"llm.temperature", KEY_DOUBLE, "0.8", "VIRALSUP_LLM_TEMPERATURE", 0, 2},
    {"llm.max_tokens", KEY_INT, "1800", "VIRALSUP_LLM_MAX_TOKENS", 64, 65536},
    {"llm.timeout_ms", KEY_INT, "25000", "VIRALSUP_LLM_TIMEOUT_MS", 100, 600000},
    {"llm.job_timeout_ms", KEY_INT, "50000", "VIRALSUP_LLM_JOB_TIMEOUT_MS", 100, 3600000},
    {"llm.concurrency", KEY_INT, "4", "VIRALSUP_LLM_CONCURRENCY", 1, 256},
    {"llm.retries", KEY_INT, "2", NULL, 0, 10},
    {"llm.response_format", KEY_STR, "json_schema", "VIRALSUP_LLM_RESPONSE_FORMAT", 0, 0},
    {"writer.batch_max", KEY_INT, "64", NULL, 1, 100000},
};
#define NKEYS (sizeof keys / sizeof keys[0])

enum source { SRC_DEFAULT, SRC_FILE, SRC_ENV };

struct child_decl {
	char *name;
	char *kv[16][2];
	int nkv;
};

struct config {
	char *val[NKEYS];
	enum source src[NKEYS];
	long ival[NKEYS];
	double dval[NKEYS];
	struct child_decl *children;
	int nchildren;
	const char *name;
	int lineno;       /* counted by the readers below: Debian's inih has no line argument */
	const char *text; /* config_parse: what is left to read */
	FILE *file;
	char *err;
	size_t errlen;
	bool failed;
};

static int key_index(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Checks and stores one value; on error writes the reason into err. */
static int set_value(struct config *cfg, int i, const char *v, enum source src, char *err,
                     size_t errlen)
{
	const struct key_decl *k = &keys[i];
	char *end;

	if (strlen(v) > 4096) {
		snprintf(err, errlen, "value of %s is too long", k->name);
		return -EINVAL;
	}
	switch (k->type) {
	case KEY_INT: {
		errno = 0;
		long n = strtol(v, &end, 10);
		if (errno || end == v || *end) {
			snprintf(err, errlen, "%s: \"%.80s\" is not an integer", k->name, v);
			return -EINVAL;
		}
		if (n < k->min || n > k->max) {
			snprintf(err, errlen, "%s: %ld is out of range [%ld, %ld]", k->name, n,
			         k->min, k->max);
			return -ERANGE;
		}
		cfg->ival[i] = n;
		break;
	}
	case KEY_DOUBLE: {
		errno = 0;
		double d = strtod(v, &end);
		if (errno || end == v || *end || d < k->min || d > k->max) {
			snprintf(err, errlen, "%s: \"%.80s\" is not a number in [%ld, %ld]",
			         k->name, v, k->min, k->max);
			return -EINVAL;
		}
		cfg->dval[i] = d;
		break;
	}
	case KEY_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
			cfg->ival[i] = 1;
		else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") ||
		         !strcmp(v, "0"))
			cfg->ival[i] = 0;
		else {
			snprintf(err, errlen, "%s: \"%.80s\" is not a boolean (true/false)",
			         k->name, v);
			return -EINVAL;
		}
		break;
	case KEY_STR:
		break;
	}
	free(cfg->val[i]);
	cfg->val[i] = xstrdup(v);
	cfg->src[i] = src;
	return 0;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct config *cfg = user;
	char full[160], why[256];
	int lineno = cfg->lineno;

	if (cfg->failed)
		return 0;
	if (!strncmp(section, "child ", 6)) {
		const char *cname = section + 6;
		struct child_decl *ch = NULL;
		for (int i = 0; i < cfg->nchildren; i++)
			if (!strcmp(cfg->children[i].name, cname))
				ch = &cfg->children[i];
		if (!ch) {
			if (!*cname || strlen(cname) > 31) {
				snprintf(cfg->err, cfg->errlen, "%s:%d: bad child name \"%s\"",
				         cfg->name, lineno, cname);
				goto fail;
			}
			cfg->children =
			    xrealloc(cfg->children, (size_t)(cfg->nchildren + 1) * sizeof *ch);
			ch = &cfg->children[cfg->nchildren++];
			memset(ch, 0, sizeof *ch);
			ch->name = xstrdup(cname);
		}
		if (!name) /* section header alone */
			return 1;
		static const char *const ckeys[] = {"program", "count", "restart",
		                                    "shutdown_timeout_ms", NULL};
		bool known = false;
		for (int i = 0; ckeys[i]; i++)
			known |= !strcmp(ckeys[i], name);
		if (!known || ch->nkv == 16) {
			snprintf(cfg->err, cfg->errlen, "%s:%d: unknown key '%s' in [child %s]",
			         cfg->name, lineno, name, cname);
			goto fail;
		}
		ch->kv[ch->nkv][0] = xstrdup(name);
		ch->kv[ch->nkv][1] = xstrdup(value);
		ch->nkv++;
		return 1;
	}
	if (!name)
		return 1;
	if (!*section) {
		snprintf(cfg->err, cfg->errlen, "%s:%d: key '%s' outside of any [section]",
		         cfg->name, lineno, name);
		goto fail;
	}
	snprintf(full, sizeof full, "%s.%s", section, name);
	int i = key_index(full);
	if (i < 0) {
		snprintf(cfg->err, cfg->errlen, "%s:%d: unknown key '%s' in [%s]", cfg->name,
		         lineno, name, section);
		goto fail;
	}
	if (set_value(cfg, i, value, SRC_FILE, why, sizeof why) < 0) {
		snprintf(cfg->err, cfg->errlen, "%s:%d: %s", cfg->name, lineno, why);
		goto fail;
	}
	return 1;
fail:
	cfg->failed = true;
	return 0;
}

static struct config *config_new(const char *name, char *err, size_t errlen)
{
	struct config *cfg = xcalloc(1, sizeof *cfg);
	char why[256];
	cfg->name = name;
	cfg->err = err;
	cfg->errlen = errlen;
	for (size_t i = 0; i < NKEYS; i++)
		if (set_value(cfg, (int)i, keys[i].def, SRC_DEFAULT, why, sizeof why) < 0)
			log_fatal("bad default: %s", why);
	return cfg;
}

static int apply_env(struct config *cfg)
{
	char why[256];
	for (size_t i = 0; i < NKEYS; i++) {
		const char *v = keys[i].env ? getenv(keys[i].env) : NULL;
		if (!v || !*v)
			continue;
		if (set_value(cfg, (int)i, v, SRC_ENV, why, sizeof why) < 0) {
			snprintf(cfg->err, cfg->errlen, "environment %s: %s", keys[i].env, why);
			return -EINVAL;
		}
	}
	return 0;
}

static struct config *finish(struct config *cfg, int r)
{
	if (r <= 0 && !cfg->failed && apply_env(cfg) == 0)
		return cfg;
	config_free(cfg);
	return NULL;
}

/* inih readers that count lines so every error can name its line. */
static char *read_text_line(char *buf, int size, void *stream)
{
	struct config *cfg = stream;
	const char *nl;
	size_t n;

	if (!cfg->text || !*cfg->text)
		return NULL;
	nl = strchr(cfg->text, '\n');
	n = nl ? (size_t)(nl - cfg->text) + 1 : strlen(cfg->text);
	if (n > (size_t)size - 1)
		n = (size_t)size - 1;
	memcpy(buf, cfg->text, n);
	buf[n] = '\0';
	cfg->text += n;
	if (n && buf[n - 1] == '\n')
		cfg->lineno++;
	else if (!*cfg->text)
		cfg->lineno++;
	return buf;
}

static char *read_file_line(char *buf, int size, void *stream)
{
	struct config *cfg = stream;
	char *r = fgets(buf, size, cfg->file);
	if (r)
		cfg->lineno++;
	return r;
}

struct config *config_parse(const char *text, const char *name, char *err, size_t errlen)
{
	struct config *cfg = config_new(name, err, errlen);
	cfg->text = text;
	int r = ini_parse_stream(read_text_line, cfg, on_ini, cfg);
	if (r > 0 && !cfg->failed)
		snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)",
		         name, r);
	return finish(cfg, r);
}

struct config *config_load(const char *path, char *err, size_t errlen)
{
	struct config *cfg = config_new(path ? path : "(defaults)", err, errlen);
	int r = 0;
	if (path) {
		cfg->file = fopen(path, "r");
		r = cfg->file ? ini_parse_stream(read_file_line, cfg, on_ini, cfg) : -1;
		if (cfg->file)
			fclose(cfg->file);
		cfg->file = NULL;
		if (r < 0) {
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			config_free(cfg);
			return NULL;
		}
		if (r > 0 && !cfg->failed)
			snprintf(err, errlen,
			         "%s:%d: syntax error (expected [section] or key = value)", path,
			         r);
	}
	return finish(cfg, r);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		free(cfg->val[i]);
	for (int i = 0; i < cfg->nchildren; i++) {
		free(cfg->children[i].name);
		for (int j = 0; j < cfg->children[i].nkv; j++) {
			free(cfg->children[i].kv[j][0]);
			free(cfg->children[i].kv[j][1]);
		}
	}
	free(cfg->children);
	free(cfg);
}

static int must_key(const char *name, enum key_type type)
{
	int i = key_index(name);
	if (i < 0 || keys[i].type != type)
		log_fatal("config: undeclared key or wrong type: %s", name);
	return i;
}

const char *config_str(const struct config *cfg, const char *key)
{
	return cfg->val[must_key(key, KEY_STR)];
}

long config_int(const struct config *cfg, const char *key)
{
	return cfg->ival[must_key(key, KEY_INT)];
}

bool config_bool(const struct config *cfg, const char *key)
{
	return cfg->ival[must_key(key, KEY_BOOL)] != 0;
}

double config_double(const struct config *cfg, const char *key)
{
	return cfg->dval[must_key(key, KEY_DOUBLE)];
}

int config_child_count(const struct config *cfg)
{
	return cfg->nchildren;
}

const char *config_child_name(const struct config *cfg, int i)
{
	return i >= 0 && i < cfg->nchildren ? cfg->children[i].name : NULL;
}

const char *config_child_get(const struct config *cfg, int i, const char *key)
{
	if (i < 0 || i >= cfg->nchildren)
		return NULL;
	for (int j = 0; j < cfg->children[i].nkv; j++)
		if (!strcmp(cfg->children[i].kv[j][0], key))
			return cfg->children[i].kv[j][1];
	return NULL;
}

void config_dump(const struct config *cfg, int fd)
{
	static const char *const srcs[] = {"default", "file", "env"};
	for (size_t i = 0; i < NKEYS; i++)
		/* database.url may carry a password: never print it. */
		dprintf(fd, "%-34s = %-40s # %s%s%s\n", keys[i].name,
		        strcmp(keys[i].name, "database.url") || !*cfg->val[i] ? cfg->val[i]
		                                                              : "<set, not shown>",
		        srcs[cfg->src[i]], keys[i].env ? ", env " : "",
		        keys[i].env ? keys[i].env : "");
}
