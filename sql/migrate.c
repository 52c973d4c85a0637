/*
 * Applying the embedded migrations (see migrate.h).
 */
#include "sql/migrate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Any constant works as long as every node uses the same one: "viralsup" in ASCII. */
#define MIGRATE_LOCK_KEY "8674580112434745717"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* libpq messages end in a newline; one-line errors read better in logs. */
	size_t n = strlen(err);
	while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
}

int migrate_latest_version(void)
{
	return migrations_count ? migrations[migrations_count - 1].version : 0;
}

/* Runs a command that returns no rows; 0 or -1 with err set. */
static int exec_cmd(PGconn *pg, const char *sql, int nparams, const char *const *params,
                    const char *what, char *err, size_t errlen)
{
	PGresult *res =
	    nparams ? PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		seterr(err, errlen, "%s: %s", what, PQresultErrorMessage(res));
		rc = -1;
	}
	PQclear(res);
	return rc;
}

static void rollback(PGconn *pg)
{
	PQclear(PQexec(pg, "ROLLBACK"));
}

/* Everything after the advisory lock is taken; the caller unlocks. */
static int apply_locked(PGconn *pg, migrate_applied_fn applied, void *arg, char *err, size_t errlen)
{
	int napplied = 0;

	/* Checked first rather than IF NOT EXISTS: no NOTICE on every start. */
	PGresult *t = PQexec(pg, "SELECT to_regclass('schema_migrations') IS NULL");
	int missing = PQresultStatus(t) == PGRES_TUPLES_OK && PQgetvalue(t, 0, 0)[0] == 't';
	PQclear(t);
	if (missing && exec_cmd(pg,
	                        "CREATE TABLE schema_migrations ("
	                        " version INTEGER PRIMARY KEY,"
	                        " name TEXT NOT NULL,"
	                        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
	                        " checksum TEXT NOT NULL)",
	                        0, NULL, "create schema_migrations", err, errlen) < 0)
		return -1;

	PGresult *res = PQexec(pg, "SELECT version, name, checksum FROM schema_migrations "
	                           "ORDER BY version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		seterr(err, errlen, "read schema_migrations: %s", PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	int nrows = PQntuples(res);
	int latest = migrate_latest_version();
	for (int r = 0; r < nrows; r++) {
		int v = atoi(PQgetvalue(res, r, 0));
		if (v > latest) {
			seterr(err, errlen,
			       "database schema is at version %d (%s) but this viralsup only knows "
			       "versions up to %d: refusing to run against a newer schema; "
			       "upgrade viralsup",
			       v, PQgetvalue(res, r, 1), latest);
			PQclear(res);
			return -1;
		}
	}

	for (int i = 0; i < migrations_count; i++) {
		const struct migration *m = &migrations[i];
		int found = -1;
		for (int r = 0; r < nrows; r++)
			if (atoi(PQgetvalue(res, r, 0)) == m->version)
				found = r;
		if (found >= 0) {
			/* Compare in SQL: md5() is how the checksum was recorded. */
			const char *p[2] = {m->sql, PQgetvalue(res, found, 2)};
			PGresult *c =
			    PQexecParams(pg, "SELECT md5($1) = $2", 2, NULL, p, NULL, NULL, 0);
			int same = PQresultStatus(c) == PGRES_TUPLES_OK && PQntuples(c) == 1 &&
			           PQgetvalue(c, 0, 0)[0] == 't';
			PQclear(c);
			if (!same) {
				seterr(
				    err, errlen,
				    "migration %03d_%s was changed after it was applied (checksum "
				    "differs from the database's record): refusing to continue",
				    m->version, m->name);
				PQclear(res);
				return -1;
			}
			continue;
		}
		char what[128], ver[16];
		snprintf(what, sizeof what, "migration %03d_%s", m->version, m->name);
		snprintf(ver, sizeof ver, "%d", m->version);
		const char *p[3] = {ver, m->name, m->sql};
		if (exec_cmd(pg, "BEGIN", 0, NULL, what, err, errlen) < 0 ||
		    exec_cmd(pg, m->sql, 0, NULL, what, err, errlen) < 0 ||
		    exec_cmd(pg,
		             "INSERT INTO schema_migrations (version, name, checksum) "
		             "VALUES ($1::int, $2, md5($3))",
		             3, p, what, err, errlen) < 0 ||
		    exec_cmd(pg, "COMMIT", 0, NULL, what, err, errlen) < 0) {
			rollback(pg);
			PQclear(res);
			return -1;
		}
		napplied++;
		if (applied)
			applied(m, arg);
	}
	PQclear(res);
	return napplied;
}

int migrate_apply_report(PGconn *pg, migrate_applied_fn applied, void *arg, char *err,
                         size_t errlen)
{
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		seterr(err, errlen, "migrate: no database connection: %s",
		       pg ? PQerrorMessage(pg) : "(null)");
		return -1;
	}
	if (exec_cmd(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL,
	             "take migration lock", err, errlen) < 0)
		return -1;
	int rc = apply_locked(pg, applied, arg, err, errlen);
	char uerr[256];
	if (exec_cmd(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", 0, NULL,
	             "release migration lock", uerr, sizeof uerr) < 0 &&
	    rc >= 0) {
		seterr(err, errlen, "%s", uerr);
		rc = -1;
	}
	return rc;
}

int migrate_apply(PGconn *pg, char *err, size_t errlen)
{
	return migrate_apply_report(pg, NULL, NULL, err, errlen);
}
