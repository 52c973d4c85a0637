#!/bin/bash
# make chaos: the long versions of the chaos tests (CHAOS_LONG=1: 1,000 jobs
# under random kills, 10 s PostgreSQL outage, 100,000 submitted jobs) on a
# throwaway PostgreSQL of its own. Prints each test's FIGURE lines and keeps
# them in $B/chaos/figures.txt (docs/RELIABILITY.md quotes them).
#   CHAOS_FILTER=substring   run only the tests whose name contains it
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
export VIRALSUP_BIN="$PWD/$B/bin" CHAOS_LONG=1 TEST_TIMEOUT=${TEST_TIMEOUT:-900}

tmp=$(mktemp -d /tmp/viralsup-chaos-XXXXXX)
chmod 0711 "$tmp"
cleanup() {
	./scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1
	[ -f "$tmp/pg/location" ] && rm -rf "$(cat "$tmp/pg/location")"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

conninfo=$(PG_FAST=1 ./scripts/pg.sh start "$tmp/pg") || { echo "chaos: no PostgreSQL" >&2; exit 1; }
export TEST_PG_CONNINFO=${conninfo% dbname=*} TMPDIR=$tmp

mkdir -p "$B/chaos"
out=$B/chaos/output.txt
start=$(date +%s)
"$B/tests/test_chaos" ${CHAOS_FILTER:-} 2>&1 | tee "$out" | grep -av '^RESULT ' | grep -av 'exited: signal 9'
rc=${PIPESTATUS[0]}
{
	echo "# make chaos, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(($(date +%s) - start)) s"
	grep -a '^FIGURE ' "$out" | sed 's/^FIGURE //'
	grep -a '^RESULT ' "$out"
} >"$B/chaos/figures.txt"
echo "== figures ($B/chaos/figures.txt)"
cat "$B/chaos/figures.txt"
exit "$rc"
