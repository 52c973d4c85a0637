# sql/: migrations (embedded at build time), async libpq, the queue protocol.
SQL_MIGRATIONS := $(sort $(wildcard sql/[0-9][0-9][0-9]_*.sql))

$(B)/gen/sql_migrations.c: $(SQL_MIGRATIONS) sql/embed.sh
	@mkdir -p $(dir $@)
	sh sql/embed.sh $(SQL_MIGRATIONS) > $@.tmp && mv $@.tmp $@

SQL_SRCS := sql/migrate.c sql/pg.c sql/queue.c sql/batch.c sql/store.c sql/ctl.c $(B)/gen/sql_migrations.c
$(eval $(call library,sql,$(SQL_SRCS)))
$(eval $(call program,viralsup-migrate,sql/migrate_main.c,sql))

$(eval $(call test,test_migrate,tests/unit/test_migrate.c,sql))
$(eval $(call test,test_queue,tests/unit/test_queue.c,sql))
$(eval $(call program,bench_claims,tests/bench/bench_claims.c,sql))
$(eval $(call test,test_sql_pg,tests/unit/test_sql_pg.c,sql))
