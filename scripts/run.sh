#!/bin/bash
# `make run`: the whole stack in the foreground. Without DATABASE_URL the
# embedded PostgreSQL under var/pg is started first (created on first use)
# and stopped again when viralsup exits. Ctrl-C / SIGTERM stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
started_pg=0
if [ -z "${DATABASE_URL:-}" ]; then
	mkdir -p var
	DATABASE_URL=$(./scripts/pg.sh start var/pg)
	export DATABASE_URL
	started_pg=1
	echo "run: embedded PostgreSQL ready (var/pg)" >&2
fi
stop_pg() { [ "$started_pg" = 1 ] && ./scripts/pg.sh stop var/pg || true; }
trap stop_pg EXIT
# Forward SIGTERM/SIGINT to viralsup and wait for its ordered shutdown.
"$B/bin/viralsup" "$@" &
sup=$!
trap 'kill -TERM $sup 2>/dev/null' TERM INT
set +e
wait $sup
rc=$?
# A signal interrupts the first wait; wait again for the real exit.
kill -0 $sup 2>/dev/null && { wait $sup; rc=$?; }
exit $rc
