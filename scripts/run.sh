#!/bin/bash
# `make run`: the whole stack in the foreground. Without DATABASE_URL the
# embedded PostgreSQL under var/pg is started first (created on first use)
# and stopped again when viralsup exits. Ctrl-C / SIGTERM stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
VAR=${VIRALSUP_VAR:-var} # where the embedded cluster lives (tests point it elsewhere)
started_pg=0
if [ -z "${DATABASE_URL:-}" ]; then
	mkdir -p "$VAR"
	DATABASE_URL=$(./scripts/pg.sh start "$VAR/pg")
	export DATABASE_URL
	started_pg=1
	echo "run: embedded PostgreSQL ready ($VAR/pg)" >&2
fi
stop_pg() { if [ "$started_pg" = 1 ]; then ./scripts/pg.sh stop "$VAR/pg"; fi; }
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
