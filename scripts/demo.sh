#!/bin/bash
# `make demo`: a full batch on the bundled example data, end to end, over
# the real HTTP API, against a fresh embedded PostgreSQL. Offline: the
# fetchers read examples/instagram/ (generated fixture data).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
demo=var/demo
./scripts/pg.sh stop "$demo/pg" >/dev/null 2>&1 || true
[ -f "$demo/pg/location" ] && rm -rf "$(cat "$demo/pg/location")"
rm -rf "$demo"
mkdir -p "$demo"

echo "demo: starting an embedded PostgreSQL in $demo/pg"
DATABASE_URL=$(./scripts/pg.sh start "$demo/pg")
export DATABASE_URL
export VIRALSUP_RUN_DIR=$demo/run VIRALSUP_HTTP_ADDR=127.0.0.1:0
export VIRALSUP_PROCESSING=triggered VIRALSUP_PROVIDER=fixtures
ADMIN_API_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export ADMIN_API_TOKEN

sup=""
cleanup() {
	if [ -n "$sup" ] && kill -0 "$sup" 2>/dev/null; then
		kill -TERM "$sup"
		for _ in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
	fi
	./scripts/pg.sh stop "$demo/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "demo: starting viralsup (log in $demo/viralsup.log)"
"$B/bin/viralsup" >"$demo/viralsup.log" 2>&1 &
sup=$!
for _ in $(seq 200); do
	[ -s "$VIRALSUP_RUN_DIR/gateway.http" ] && break
	kill -0 "$sup" 2>/dev/null || { tail -20 "$demo/viralsup.log"; exit 1; }
	sleep 0.05
done
[ -s "$VIRALSUP_RUN_DIR/gateway.http" ] || { echo "demo: gateway did not come up" >&2; tail -20 "$demo/viralsup.log"; exit 1; }
addr=$(cat "$VIRALSUP_RUN_DIR/gateway.http")
addr=${addr#http://}
echo "demo: gateway on http://$addr"

timeout 120 python3 scripts/demo_client.py "http://$addr" examples/jobs.json
echo "demo: stopping (SIGTERM)"
