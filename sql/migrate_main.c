/*
 * viralsup-migrate [CONNINFO]: applies the embedded schema migrations to
 * the database named by CONNINFO or $DATABASE_URL and says what it did.
 * Exit 0 when the schema is up to date, 78 when CONNINFO is malformed (a
 * configuration error: retrying will not help), 1 on any other error.
 * The supervisor runs it as a one-shot child at start.
 */
#include "sql/migrate.h"
#include "sql/pg.h"

#include <stdio.h>
#include <stdlib.h>

static void print_applied(const struct migration *m, void *arg)
{
	(void)arg;
	printf("applied %03d_%s\n", m->version, m->name);
}

int main(int argc, char **argv)
{
	const char *conninfo = argc > 1 ? argv[1] : getenv("DATABASE_URL");
	char err[1024];

	if (!conninfo || !*conninfo) {
		fprintf(stderr, "usage: viralsup-migrate CONNINFO (or set DATABASE_URL)\n");
		return 1;
	}
	/* libpq's parse errors quote the conninfo, password included. */
	if (pg_conninfo_check(conninfo, err, sizeof err) < 0) {
		fprintf(stderr, "viralsup-migrate: malformed conninfo: %s\n", err);
		return 78;
	}
	PGconn *pg = PQconnectdb(conninfo);
	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "viralsup-migrate: cannot connect: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return 1;
	}
	int n = migrate_apply_report(pg, print_applied, NULL, err, sizeof err);
	PQfinish(pg);
	if (n < 0) {
		fprintf(stderr, "viralsup-migrate: %s\n", err);
		return 1;
	}
	printf("schema at version %d (%d migration%s applied)\n", migrate_latest_version(), n,
	       n == 1 ? "" : "s");
	return 0;
}
