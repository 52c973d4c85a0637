/*
 * Schema migrations. The sql/NNN_name.sql files are embedded into the
 * program at build time (sql/embed.sh -> build/gen/sql_migrations.c), so
 * nothing is read from disk at run time.
 *
 * migrate_apply() brings a database up to the newest embedded version:
 * under a pg_advisory_lock (two nodes starting at once apply each
 * migration once), each missing migration runs in its own transaction and
 * is recorded in schema_migrations(version, name, applied_at, checksum).
 * Re-running is a no-op. A database whose newest version is unknown to
 * this build, or whose recorded checksum differs from the embedded text,
 * is refused with a message saying so.
 */
#ifndef VIRALSUP_SQL_MIGRATE_H
#define VIRALSUP_SQL_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

struct migration {
	int version;
	const char *name;
	const char *sql;
};

/* The embedded migrations, in ascending version order (generated). */
extern const struct migration migrations[];
extern const int migrations_count;

/* Called once per migration applied by this run. */
typedef void (*migrate_applied_fn)(const struct migration *m, void *arg);

/*
 * Applies the missing migrations on the open connection pg. Returns the
 * number applied (0 when up to date) or -1 with a message in err.
 */
int migrate_apply(PGconn *pg, char *err, size_t errlen);
/* The same, calling applied(m, arg) for each migration applied (may be NULL). */
int migrate_apply_report(PGconn *pg, migrate_applied_fn applied, void *arg, char *err,
                         size_t errlen);

/* The newest version known to this build. */
int migrate_latest_version(void);

#endif
