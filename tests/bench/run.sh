#!/bin/bash
# `make bench` / `make bench-quick` (QUICK=1): every figure of docs/BENCH.md,
# measured now, next to the ceiling of this machine measured in the same run.
# Starts its own PostgreSQL (PG_FAST: no fsync) in a temp dir, its own fake
# provider and viralsup stacks; stops all of it on exit. ONLY=row,row runs
# some rows (restart ipc claims gateway pipeline recovery llm adminpage scale) and then
# does not rewrite docs/BENCH.md. PROFILE=1 adds to the pipeline row where
# the time goes: CPU seconds per process (actors, PostgreSQL backends, the
# fake provider) and the statements that dominate (pg_stat_statements); to
# the claims rows the statements of a claim + completion.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${B:-build}
QUICK=${QUICK:-0}
ONLY=${ONLY:-}
BIN=$B/bin
T0_ALL=$(date +%s)

if [ "$QUICK" = 1 ]; then
	RUNS=3 KILLS=100 IPC_N=20000 CLAIM_JOBS=400 WRK_S=1 PIPE_JOBS=300 RECOV_JOBS=200
	SCALE_FINISHED=100000
else
	RUNS=5 KILLS=300 IPC_N=100000 CLAIM_JOBS=2000 WRK_S=3 PIPE_JOBS=2000 RECOV_JOBS=400
	SCALE_FINISHED=1000000
fi
PIPE_RUNS=2
# Analysis bytes (document, results, reels and scripts rows, their indexes) per
# 3-competitor pipeline job before issue 14 stored each piece once: 300 jobs
# of this bench's shape on commit 5b2d181, measured 2026-12-04 with
# tests/bench/stored_bytes.sql. The stored-bytes row's target is half of it.
STORED_BEFORE=${STORED_BEFORE:-48605}

for t in wrk pgbench psql; do
	command -v $t >/dev/null || { echo "bench: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/viralsup-bench-XXXXXX)
chmod 0755 "$tmp"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	./scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
	[ -f "$tmp/pg/location" ] && rm -rf "$(cat "$tmp/pg/location")"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }
log() { echo "bench: $*" >&2; }

# ---- statistics over whitespace-separated numbers on stdin ----
med() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"; exit}
	if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2] + v[NR/2+1]) / 2}'; }
lo() { sort -g | head -1; }
hi() { sort -g | tail -1; }
# fmt FORMAT VALUES...: "median (min–max)" over the values
summ() {
	local f=$1; shift
	local m l h
	m=$(printf '%s\n' "$@" | med); l=$(printf '%s\n' "$@" | lo); h=$(printf '%s\n' "$@" | hi)
	printf "$f ($f–$f)" "$m" "$l" "$h"
}
median_of() { printf '%s\n' "$@" | med; }
calc() { awk "BEGIN {printf \"%.2f\", $*}"; }
ratio() { awk "BEGIN {printf \"%.3g×\", ($1) / ($2)}"; }
# kv KEY LINE: the value of KEY=... in a key=value line
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

ROWS=$tmp/rows
NOTES=$tmp/notes
: >"$ROWS"
: >"$NOTES"
# row WHAT OURS CEILING RATIO TARGET
row() { printf '| %s | %s | %s | %s | %s |\n' "$@" >>"$ROWS"; }
note() { echo "- $*" >>"$NOTES"; }
# verdict OK? TEXT: "TEXT: met" or "TEXT: **missed**"
verdict() { if [ "$1" = 1 ]; then echo "$2 ✓"; else echo "$2 **✗ missed**"; fi; }
ge() { awk "BEGIN {exit !($1 >= $2)}" && echo 1 || echo 0; }
lt() { awk "BEGIN {exit !($1 < $2)}" && echo 1 || echo 0; }

# ---- PostgreSQL ----
log "starting PostgreSQL (PG_FAST=1) in $tmp/pg"
PG_CI=$(PG_FAST=1 ./scripts/pg.sh start "$tmp/pg")
SERVER=${PG_CI% dbname=*}
PROFILE=${PROFILE:-0}
if [ "$PROFILE" = 1 ]; then
	# Statement statistics for the pipeline profile (costs a little per statement).
	psql -X -q "$PG_CI" -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
	./scripts/pg.sh stop "$tmp/pg" >/dev/null
	PG_CI=$(PG_FAST=1 ./scripts/pg.sh start "$tmp/pg")
fi
pghost=$(sed 's/.*host=\([^ ]*\).*/\1/' <<<"$SERVER")
pguser=$(sed 's/.*user=\([^ ]*\).*/\1/' <<<"$SERVER")
PSQL=(psql -X -q -t -A -v ON_ERROR_STOP=1)
sql() { local db=$1; shift; "${PSQL[@]}" "$SERVER dbname=$db" -c "$*"; }
# newdb NAME [BIN_DIR]: a fresh database migrated by BIN_DIR's viralsup-migrate
newdb() {
	sql postgres "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1 || true
	sql postgres "CREATE DATABASE $1"
	DATABASE_URL="$SERVER dbname=$1" "${2:-$BIN}/viralsup-migrate" >/dev/null
}

# ---- the fake provider and viralsup stacks ----
FAKE_PORT=""
start_fake() {
	"$BIN/fake_provider" >"$tmp/fake.port" 2>"$tmp/fake.log" &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$tmp/fake.port" ] && break; sleep 0.02; done
	FAKE_PORT=$(cat "$tmp/fake.port")
}

ADMIN_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
# The bench configuration: no provider rate limit (the fake is local), 256
# jobs in flight (default 8), quiet logs. Everything else is the default.
CONF=$tmp/viralsup.conf
cat >"$CONF" <<EOF
[log]
level = warn
[scheduler]
concurrency = 256
[fetcher]
rate_limit = 0
EOF

# start_node NAME DB [ENV=VALUE...]: a viralsup node (NODE_BIN: another
# build's bin directory); sets NODE_PID, NODE_RUN, NODE_HTTP
start_node() {
	local name=$1 db=$2 bin=${NODE_BIN:-$BIN}; shift 2
	NODE_RUN=$tmp/$name/run
	mkdir -p "$tmp/$name"
	env DATABASE_URL="$SERVER dbname=$db" VIRALSUP_RUN_DIR="$NODE_RUN" \
		VIRALSUP_HTTP_ADDR=127.0.0.1:0 VIRALSUP_PROCESSING=triggered \
		ADMIN_API_TOKEN="$ADMIN_TOKEN" VIRALSUP_ADMIN_RATE_PER_MIN=1000000 \
		VIRALSUP_PROVIDER=rapidapi RAPIDAPI_KEY=bench-key \
		VIRALSUP_SCRAPER_URL="http://127.0.0.1:$FAKE_PORT" \
		VIRALSUP_TRANSCRIPT_URL="http://127.0.0.1:$FAKE_PORT" \
		VIRALSUP_NODE_ID="$name" "$@" \
		"$bin/viralsup" --config "$CONF" >"$tmp/$name/viralsup.log" 2>&1 &
	NODE_PID=$!
	disown $NODE_PID # no "Killed" notice from bash when a bench kills it
	pids+=($NODE_PID)
	for _ in $(seq 300); do
		[ -s "$NODE_RUN/gateway.http" ] && break
		kill -0 $NODE_PID 2>/dev/null || break
		sleep 0.05
	done
	[ -s "$NODE_RUN/gateway.http" ] ||
		{ log "node $name did not come up"; tail -20 "$tmp/$name/viralsup.log" >&2; exit 1; }
	NODE_HTTP=$(cat "$NODE_RUN/gateway.http")
	NODE_HTTP=${NODE_HTTP#http://}
}
stop_node() {
	kill -TERM "$1" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
}
# actor_pids RUN_DIR: "name pid" per running actor
actor_pids() {
	"$BIN/viralctl" --socket "$1/control.sock" --json status |
		python3 -c 'import json,sys
d=json.load(sys.stdin)
for a in d["children"]:
    if a.get("pid"): print(a["name"], a["pid"])'
}
trigger() {
	curl -sf -o /dev/null -X POST -H "Authorization: Bearer $ADMIN_TOKEN" \
		"http://$1/api/viral-ideas/process-pending"
}
now_ms() { date +%s%3N; }

# insert_jobs DB TAG N COMPETITORS: N pending jobs '<TAG>-i' for accounts
# '<TAG>_i' with COMPETITORS each '<TAG>_i_cK', in one transaction.
insert_jobs() {
	sql "$1" "BEGIN;
		INSERT INTO viral_ideas_queue (session_id, primary_username) SELECT '$2-' || i, '${2}_' || i FROM generate_series(1, $3) i;
		INSERT INTO viral_ideas_competitors (queue_id, competitor_username) SELECT q.id, q.primary_username || '_c' || k FROM viral_ideas_queue q, generate_series(1, $4) k WHERE q.session_id LIKE '$2-%';
		COMMIT" >/dev/null
}

# wrk_run ARGS...: prints "rps p50_ms p99_ms non2xx"
wrk_run() {
	local out
	out=$(wrk --latency "$@" 2>&1)
	awk '
	function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
		if (v ~ /m$/) return v * 60000; if (v ~ /s$/) return v * 1000; return v }
	/Requests\/sec:/ { rps = $2 }
	/^ +50%/ { p50 = ms($2) }
	/^ +99%/ { p99 = ms($2) }
	/Non-2xx/ { bad = $NF }
	END { printf "%s %.3f %.3f %d\n", rps, p50, p99, bad }' <<<"$out"
}
col() { awk -v c="$1" '{print $c}'; }

# ======================================================================
if want restart; then
	log "restart: $KILLS SIGKILLs"
	out=$("$BIN/bench_restart" "$KILLS")
	r=$(grep 'replacement ready' <<<"$out" | tr -d '|' | awk '{print $(NF-3), $(NF-2), $(NF-1), $NF}')
	c=$(grep 'ceiling' <<<"$out" | tr -d '|' | awk '{print $(NF-3), $(NF-2), $(NF-1), $NF}')
	read -r rm rp rl rh <<<"$r"
	read -r cm cp cl ch <<<"$c"
	row "Restart: SIGKILL → replacement ready, ms (median of $KILLS kills; p99 $rp, ceiling p99 $cp)" \
		"$rm ($rl–$rh)" "$cm ($cl–$ch) posix_spawn+ready pipe" "$(ratio "$rm" "$cm")" \
		"$(verdict "$(lt "$rm" 5)" "median < 5 ms")"
	note "Restart: $(grep '^RSS' <<<"$out")"
fi

# ======================================================================
if want ipc; then
	log "ipc: $RUNS runs of $IPC_N messages"
	rt=() ow=() rrt=() row_=()
	for _ in $(seq "$RUNS"); do
		l=$("$BIN/bench_ipc" "$IPC_N")
		rt+=("$(kv ipc_rtt "$l")") ow+=("$(kv ipc_oneway "$l")")
		rrt+=("$(kv raw_rtt "$l")") row_+=("$(kv raw_oneway "$l")")
		fb=$(kv frame_bytes "$l")
	done
	row "IPC: round trips/s, $fb-byte envelope, conn_request ↔ reply between 2 processes" \
		"$(summ %.0f "${rt[@]}")" "$(summ %.0f "${rrt[@]}") raw socketpair ping-pong" \
		"$(ratio "$(median_of "${rt[@]}")" "$(median_of "${rrt[@]}")")" "—"
	row "IPC: one-way msgs/s, same envelope (conn_send, bounded buffer)" \
		"$(summ %.0f "${ow[@]}")" "$(summ %.0f "${row_[@]}") raw, 64 KiB writes" \
		"$(ratio "$(median_of "${ow[@]}")" "$(median_of "${row_[@]}")")" "—"
fi

# ======================================================================
if want claims; then
	CRUNS=3
	[ "$QUICK" = 1 ] && CRUNS=2
	log "claims: $CRUNS runs of bench_claims ($CLAIM_JOBS jobs), each beside a pgbench run"
	declare -A CL=()
	# The ceiling: the least SQL that claims and completes, on the same
	# schema (indexes, status triggers, job_events) with pgbench.
	newdb claims >/dev/null
	cat >"$tmp/claim1.sql" <<'SQL'
WITH c AS (SELECT id FROM viral_ideas_queue WHERE status = 'pending' ORDER BY priority, submitted_at LIMIT 1 FOR UPDATE SKIP LOCKED)
UPDATE viral_ideas_queue q SET status = 'processing', lease_token = gen_random_uuid(), started_processing_at = now(), attempts = q.attempts + 1 FROM c WHERE q.id = c.id RETURNING q.id AS job, q.lease_token AS token \gset
UPDATE viral_ideas_queue SET status = 'completed', completed_at = now(), total_runs = COALESCE(total_runs, 0) + 1, lease_token = NULL WHERE id = :job AND lease_token = :token AND status = 'processing';
SQL
	cat >"$tmp/claim32.sql" <<'SQL'
WITH c AS (SELECT id FROM viral_ideas_queue WHERE status = 'pending' ORDER BY priority, submitted_at LIMIT 32 FOR UPDATE SKIP LOCKED), u AS (UPDATE viral_ideas_queue q SET status = 'processing', lease_token = gen_random_uuid(), started_processing_at = now(), attempts = q.attempts + 1 FROM c WHERE q.id = c.id RETURNING q.id, q.lease_token) SELECT array_agg(id)::text AS ids, array_agg(lease_token)::text AS tokens FROM u \gset
UPDATE viral_ideas_queue q SET status = 'completed', completed_at = now(), total_runs = COALESCE(total_runs, 0) + 1, lease_token = NULL FROM unnest(:ids::uuid[], :tokens::uuid[]) m(id, token) WHERE q.id = m.id AND q.lease_token = m.token AND q.status = 'processing';
SQL
	# Each run of ours is followed at once by its ceiling, and the ratio
	# is the median of those pairs: this machine's pgbench ceiling moves
	# by 2x between minutes, so ratios of separate medians mixed moments.
	for _ in $(seq $CRUNS); do
		for n in 1 4; do
			for k in 1 32; do
				jps=$(CLAIMERS=$n K=$k JOBS=$CLAIM_JOBS "$BIN/bench_claims" "$SERVER" |
					grep "^| $n | K=$k |" | tr -d '|' | awk '{print $3}')
				sql claims "SET client_min_messages = warning; TRUNCATE viral_ideas_queue CASCADE; TRUNCATE job_events" >/dev/null
				sql claims "INSERT INTO viral_ideas_queue (session_id, primary_username) SELECT 'b' || i, 'u' || i FROM generate_series(1, $CLAIM_JOBS) i" >/dev/null
				sql claims "VACUUM ANALYZE viral_ideas_queue" >/dev/null
				tx=$((CLAIM_JOBS / (n * k)))
				tps=$(pgbench -n -M prepared -h "$pghost" -U "$pguser" -c $n -j $n -t $tx \
					-f "$tmp/claim$k.sql" claims 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
				ceil=$(calc "${tps:-0} * $k")
				CL[$n,$k]+="${jps:-0} "
				CL[$n,$k,pg]+="$ceil "
				CL[$n,$k,r]+="$(awk "BEGIN {printf \"%.4f\", ${jps:-0} / ($ceil > 0 ? $ceil : 1)}") "
			done
		done
	done
	if [ "$PROFILE" = 1 ]; then
		# Where a claim + completion's database time goes: one more run of
		# each corner configuration with statement statistics (nested
		# statements too: the transition trigger's insert shows by itself).
		sql postgres "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
		sql postgres "ALTER SYSTEM SET pg_stat_statements.track = 'all'" >/dev/null
		sql postgres "ALTER SYSTEM SET pg_stat_statements.track_planning = on" >/dev/null
		sql postgres "SELECT pg_reload_conf()" >/dev/null
		for nk in 1,1 4,32; do
			n=${nk%,*} k=${nk#*,}
			sql postgres "SELECT pg_stat_statements_reset()" >/dev/null
			jps=$(JOBS=$CLAIM_JOBS CLAIMERS=$n K=$k "$BIN/bench_claims" "$SERVER" | tail -1 | tr -d '|' | awk '{print $3}')
			note "Profile, claims with $n claimer(s), K=$k ($CLAIM_JOBS jobs, $jps jobs/s with statistics on): statements by total time (calls/job, rows/call, execution + planning ms per call, buffers per call):"
			sql postgres "SELECT '  - ' || round(calls::numeric / $CLAIM_JOBS, 3) || ' calls/job, ' || round(rows::numeric / calls, 1) || ' rows, ' || round(mean_exec_time::numeric, 3) || ' + ' || round((total_plan_time / calls)::numeric, 3) || ' ms, ' || round((shared_blks_hit + shared_blks_read)::numeric / calls, 1) || ' buffers: \`' || left(regexp_replace(query, '\s+', ' ', 'g'), 100) || '\`' FROM pg_stat_statements WHERE calls >= $CLAIM_JOBS / 64 AND query !~* '^(TRUNCATE|VACUUM|INSERT INTO viral_ideas_queue|SELECT 1 FROM pg_prepared)' ORDER BY total_exec_time + total_plan_time DESC LIMIT 8" >>"$NOTES"
		done
	fi
	for n in 1 4; do
		for k in 1 32; do
			# shellcheck disable=SC2086
			ours=(${CL[$n,$k]}) ceil=(${CL[$n,$k,pg]}) pairs=(${CL[$n,$k,r]})
			row "Claims: jobs/s claimed + completed, $n claimer(s), $([ $k = 1 ] && echo "1 job per claim" || echo "K=$k per claim") ($CLAIM_JOBS jobs)" \
				"$(summ %.0f "${ours[@]}")" "$(summ %.0f "${ceil[@]}") pgbench, minimal SQL, each run right after ours" \
				"$(summ %.3g× "${pairs[@]}") (median of the runs' ratios)" "—"
		done
	done
fi

# ======================================================================
if want gateway || want pipeline || want recovery || want llm; then
	start_fake
fi

if want gateway; then
	GW_RUNS=3
	[ "$QUICK" = 1 ] && GW_RUNS=2
	log "gateway: wrk, $GW_RUNS runs of ${WRK_S}s per endpoint"
	newdb gw >/dev/null
	# Some history for queue-status to count; nothing pending, so each
	# process-pending is a full trip gateway → scheduler → database → reply.
	sql gw "INSERT INTO viral_ideas_queue (session_id, primary_username, status, completed_at, total_runs) SELECT 'g' || i, 'u' || i, 'completed', now(), 1 FROM generate_series(1, 2000) i" >/dev/null
	start_node gw gw
	gw_pid=$NODE_PID
	"$BIN/bare_http" >"$tmp/bare.port" &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$tmp/bare.port" ] && break; sleep 0.02; done
	bare=127.0.0.1:$(cat "$tmp/bare.port")
	cat >"$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ADMIN_TOKEN")
LUA
	export ADMIN_TOKEN
	echo 'SELECT 1;' >"$tmp/select1.sql"
	declare -A G=()
	for _ in $(seq $GW_RUNS); do
		G[bare]+="$(wrk_run -t2 -c64 -d${WRK_S}s "http://$bare/healthz");"
		G[bare1]+="$(wrk_run -t1 -c1 -d${WRK_S}s "http://$bare/healthz");"
		G[sel1]+="$(pgbench -n -M prepared -h "$pghost" -U "$pguser" -c 64 -j 2 -T "$WRK_S" -f "$tmp/select1.sql" gw 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1);"
		G[healthz]+="$(wrk_run -t2 -c64 -d${WRK_S}s "http://$NODE_HTTP/healthz");"
		G[status]+="$(wrk_run -t2 -c64 -d${WRK_S}s "http://$NODE_HTTP/api/viral-ideas/queue-status");"
		G[pp]+="$(wrk_run -t2 -c64 -d${WRK_S}s -s "$tmp/post.lua" "http://$NODE_HTTP/api/viral-ideas/process-pending");"
		G[pp1]+="$(wrk_run -t1 -c1 -d${WRK_S}s -s "$tmp/post.lua" "http://$NODE_HTTP/api/viral-ideas/process-pending");"
	done
	# gfield KEY COLUMN: the values of one column over the runs
	gfield() { tr ';' '\n' <<<"${G[$1]}" | sed '/^$/d' | col "$2"; }
	bare_rps=$(gfield bare 1 | med)
	sel1_rps=$(gfield sel1 1 | med)
	for k in healthz status pp; do
		case $k in
		healthz) what="GET /healthz" ;;
		status) what="GET /api/viral-ideas/queue-status" ;;
		pp) what="POST /api/viral-ideas/process-pending (admin)" ;;
		esac
		mapfile -t rps < <(gfield $k 1)
		p50=$(gfield $k 2 | med) p99=$(gfield $k 3 | med)
		bad=$(gfield $k 4 | awk '{s+=$1} END {print s+0}')
		tgt="—" cname="bare libev responder" ckey=bare
		if [ $k = healthz ]; then
			tgt=$(verdict "$(ge "$(calc "$(median_of "${rps[@]}") / $bare_rps")" 0.5)" "≥ 0.5× bare")
		else
			cname="pgbench SELECT 1, 64 clients (one database round trip)" ckey=sel1
		fi
		[ $k = pp ] && tgt=$(verdict "$(lt "$p99" 10)" "p99 < 10 ms (is $p99)")
		c_rps=$(gfield $ckey 1 | med)
		row "Gateway: $what, req/s at 64 conns (p50 $p50 ms, p99 $p99 ms$([ "$bad" != 0 ] && echo ", $bad non-2xx"))" \
			"$(summ %.0f "${rps[@]}")" "$(summ %.0f $(gfield $ckey 1)) $cname" \
			"$(ratio "$(median_of "${rps[@]}")" "$c_rps")" "$tgt"
	done
	mapfile -t p1 < <(gfield pp1 2)
	row "Gateway: process-pending p50 latency at 1 connection, ms" \
		"$(summ %.3f "${p1[@]}")" "$(summ %.3f $(gfield bare1 2)) bare responder at 1 conn" \
		"$(ratio "$(median_of "${p1[@]}")" "$(gfield bare1 2 | med)")" \
		"$(verdict "$(lt "$(median_of "${p1[@]}")" 1)" "p50 < 1 ms")"
	gwp=$(actor_pids "$NODE_RUN" | awk '$1 == "gateway" {print $2}')
	note "Gateway RSS after the load: $(awk '/VmHWM|VmRSS/ {printf "%s %s kB  ", $1, $2}' /proc/$gwp/status) (issue 4 target: < 10 MiB)."
	stop_node "$gw_pid"
fi

# ======================================================================
# nap SECONDS: sleep without forking (read times out on a pipe nobody writes).
exec {NAP_FD}<> <(:)
nap() { read -rt "$1" -u "$NAP_FD" || :; }

# One psql session for a batch's polls: a connection per poll (a backend
# fork and a psql process, ten times a second) took CPU from the batch it
# measured. poll_open DB; poll_query SQL (sets POLL_OUT, the last line);
# poll_close.
poll_open() { coproc POLL { "${PSQL[@]}" "$SERVER dbname=$1"; }; }
poll_query() {
	local l
	printf '%s;\nSELECT '"'"'-- end --'"'"';\n' "$1" >&"${POLL[1]}"
	POLL_OUT=
	while :; do
		read -r l <&"${POLL[0]}" || { log "poll: psql ended"; exit 1; }
		[ "$l" = "-- end --" ] && return
		POLL_OUT=$l
	done
}
poll_close() {
	local p=$POLL_PID
	eval "exec ${POLL[1]}>&-"
	wait "$p" 2>/dev/null || true
}

# pipe_batch DB NODE_HTTP TAG N COMPETITORS: inserts N jobs (unique
# accounts, COMPETITORS each) in bulk, triggers, waits for all of them.
# Sets PB_JPS (jobs/s trigger → last completion), PB_FIRST (ms trigger →
# first job processing), PB_FAILED.
pipe_batch() {
	local db=$1 http=$2 tag=$3 n=$4 nc=$5 t0 left
	insert_jobs "$db" "$tag" "$n" "$nc"
	sql "$db" "VACUUM ANALYZE viral_ideas_queue" >/dev/null
	poll_open "$db"
	t0=$(now_ms)
	trigger "$http"
	left=$((PIPE_TIMEOUT * 10))
	while :; do
		poll_query "SELECT count(*) FROM viral_ideas_queue WHERE session_id LIKE '$tag-%' AND status IN ('completed', 'failed')"
		[ "$POLL_OUT" -ge "$n" ] && break
		left=$((left - 1))
		[ $left -gt 0 ] || { log "pipeline: only $POLL_OUT of $n jobs finished in ${PIPE_TIMEOUT}s"; break; }
		nap 0.1
	done
	poll_close
	read -r PB_JPS PB_FIRST PB_FAILED < <(sql "$db" "SELECT round($n / ((extract(epoch FROM max(q.completed_at)) * 1000 - $t0) / 1000.0), 1), (SELECT round(extract(epoch FROM min(e.at)) * 1000 - $t0) FROM job_events e JOIN viral_ideas_queue j ON j.id = e.job_id WHERE j.session_id LIKE '$tag-%' AND e.to_status = 'processing'), count(*) FILTER (WHERE status = 'failed') FROM viral_ideas_queue q WHERE session_id LIKE '$tag-%'" | tr '|' ' ')
}

# rss_sampler RUN_DIR OUT: every 100 ms, the sum of VmRSS of all actors
# and the supervisor; keeps the maximum in OUT (kB). Shell builtins only:
# a fork per process per sample cost the batch CPU.
rss_sampler() {
	local pidlist max=0 s p k v
	pidlist="$(actor_pids "$1" | col 2) $(cat "$1/viralsup.pid" 2>/dev/null || true)"
	while :; do
		s=0
		for p in $pidlist; do
			while read -r k v _; do
				[ "$k" = VmRSS: ] && { s=$((s + v)); break; }
			done <"/proc/$p/status" 2>/dev/null || true
		done
		[ $s -gt $max ] && { max=$s; echo $max >"$2"; }
		nap 0.1
	done
}

# cpu_ticks PID...: utime + stime of each, summed (clock ticks)
cpu_ticks() {
	local t=0 p
	for p in "$@"; do
		t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0)))
	done
	echo $t
}
# cpu_snapshot RUN_DIR: "name ticks" for every actor, postgres (all backends), fake
cpu_snapshot() {
	local name pid
	while read -r name pid; do echo "$name $(cpu_ticks "$pid")"; done < <(actor_pids "$1")
	local pm
	pm=$(pgrep -o -f "postgres -D $tmp")
	# shellcheck disable=SC2046
	echo "postgres $(cpu_ticks "$pm" $(pgrep -P "$pm"))"
	echo "fake_provider $(cpu_ticks "$(pgrep -f "$BIN/fake_provider")")"
}

# build_baseline: the code of PIPE_BASELINE built from this clone's history
# into $tmp/base (its binaries in $tmp/base/build/bin); fails with a log
# line when that is not possible (no git history, no such commit).
build_baseline() {
	[ -n "$PIPE_BASELINE" ] || return 1
	git rev-parse -q --verify "$PIPE_BASELINE^{commit}" >/dev/null 2>&1 ||
		{ log "pipeline: baseline $PIPE_BASELINE is not in this clone: no baseline row"; return 1; }
	log "pipeline: building the baseline $PIPE_BASELINE (make, in $tmp/base)"
	mkdir -p "$tmp/base"
	git archive "$PIPE_BASELINE" | tar -x -C "$tmp/base"
	make -C "$tmp/base" -j2 all >"$tmp/base.log" 2>&1 ||
		{ log "pipeline: the baseline did not build:"; tail -5 "$tmp/base.log" >&2; return 1; }
}

if want pipeline; then
	PIPE_TIMEOUT=240
	[ "$QUICK" = 1 ] && PIPE_TIMEOUT=60
	# Issue 14's baseline: the code before its changes, run in this same
	# run on the same database server and fake provider, its batches
	# interleaved with ours (PIPE_BASELINE= skips it).
	PIPE_BASELINE=${PIPE_BASELINE-5b2d181}
	base_http=""
	if build_baseline; then
		newdb pipebase "$tmp/base/build/bin" >/dev/null
		NODE_BIN=$tmp/base/build/bin start_node pipebase pipebase
		base_pid=$NODE_PID base_http=$NODE_HTTP
	fi
	log "pipeline: $PIPE_RUNS batches of $PIPE_JOBS jobs with 0 and with 3 competitors$([ -n "$base_http" ] && echo ", each followed by the same batch on the baseline")"
	newdb pipe >/dev/null
	start_node pipe pipe
	pipe_pid=$NODE_PID pipe_run=$NODE_RUN pipe_http=$NODE_HTTP
	echo 0 >"$tmp/rss.max"
	rss_sampler "$pipe_run" "$tmp/rss.max" &
	sampler=$!
	pids+=($sampler)
	fake_requests() { curl -s "http://127.0.0.1:$FAKE_PORT/_stats" | sed 's/[^0-9]//g'; }
	declare -A PJ=() PF=() PREQ=() PBASE=()
	fails=0
	for nc in 0 3; do
		reqs=0
		for r in $(seq $PIPE_RUNS); do
			req0=$(fake_requests)
			if [ "$PROFILE" = 1 ]; then
				cpu_snapshot "$pipe_run" >"$tmp/cpu0"
				sql pipe "SELECT pg_stat_statements_reset()" >/dev/null 2>&1 ||
					sql pipe "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
				# Planning too: a custom plan of a statement whose parameter
				# is a large document costs in the planner as well.
				sql pipe "ALTER SYSTEM SET pg_stat_statements.track_planning = on" >/dev/null
				sql pipe "SELECT pg_reload_conf()" >/dev/null
				pt0=$(now_ms)
			fi
			pipe_batch pipe "$pipe_http" "r${nc}x$r" "$PIPE_JOBS" $nc
			if [ "$PROFILE" = 1 ]; then
				wall=$(calc "($(now_ms) - $pt0) / 1000")
				cpu_snapshot "$pipe_run" >"$tmp/cpu1"
				tck=$(getconf CLK_TCK)
				note "Profile, $nc competitors run $r ($PIPE_JOBS jobs, ${wall}s wall): CPU seconds $(awk -v t="$tck" 'NR == FNR {a[$1] = $2; next} {printf "%s %.2f, ", $1, ($2 - a[$1]) / t}' "$tmp/cpu0" "$tmp/cpu1")"
				note "Profile, $nc competitors run $r: top statements by total time (calls/job, ms total, ms mean):"
				sql pipe "SELECT '  - ' || round(calls::numeric / $PIPE_JOBS, 2) || ' calls/job, ' || round(total_exec_time) || ' ms, ' || round(mean_exec_time::numeric, 3) || ' + ' || round((total_plan_time / calls)::numeric, 3) || ' ms (execution + planning): \`' || left(regexp_replace(query, '\s+', ' ', 'g'), 110) || '\`' FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'pipe') ORDER BY total_exec_time + total_plan_time DESC LIMIT 8" >>"$NOTES"
				sql pipe "SELECT '  - all statements: ' || round(sum(calls)::numeric / $PIPE_JOBS, 1) || ' calls/job, ' || round(sum(total_exec_time)) || ' ms execution, ' || round(sum(total_plan_time)) || ' ms planning in total' FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'pipe')" >>"$NOTES"
			fi
			reqs=$((reqs + $(fake_requests) - req0))
			PJ[$nc]+="$PB_JPS " PF[$nc]+="$PB_FIRST "
			fails=$((fails + PB_FAILED))
			log "pipeline: $nc competitors run $r: $PB_JPS jobs/s, first running after $PB_FIRST ms, $PB_FAILED failed"
			if [ -n "$base_http" ]; then
				pipe_batch pipebase "$base_http" "b${nc}x$r" "$PIPE_JOBS" $nc
				PBASE[$nc]+="$PB_JPS "
				log "pipeline: baseline $PIPE_BASELINE, $nc competitors run $r: $PB_JPS jobs/s, $PB_FAILED failed"
			fi
		done
		PREQ[$nc]=$(calc "$reqs / ($PIPE_RUNS * $PIPE_JOBS)")
	done
	[ -n "$base_http" ] && stop_node "$base_pid"
	kill "$sampler" 2>/dev/null || true
	# The ceiling: what the fake provider alone serves (wrk, 64 conns) divided
	# by the requests one job makes of it in this run.
	fake_rps=()
	for _ in 1 2 3; do
		fake_rps+=("$(wrk_run -t2 -c64 -d2s -H 'x-rapidapi-key: k' \
			"http://127.0.0.1:$FAKE_PORT/transcript?url=https%3A%2F%2Fwww.instagram.com%2Fp%2FDabcdefghij%2F" | col 1)")
	done
	frps=$(median_of "${fake_rps[@]}")
	for nc in 0 3; do
		# shellcheck disable=SC2086
		j=(${PJ[$nc]}) f=(${PF[$nc]})
		ceil=$(calc "$frps / ${PREQ[$nc]}")
		target=$([ $nc = 0 ] && echo 1500 || echo 400)
		row "Pipeline: jobs/s end to end, $PIPE_JOBS jobs, primary + $nc competitors × 12 reels, rapidapi over HTTP (trigger → first job processing: $(summ %.0f "${f[@]}") ms; ${PREQ[$nc]} provider requests/job)" \
			"$(summ %.0f "${j[@]}")" "$(printf %.0f "$ceil") fake provider alone ($(printf %.0f "$frps") req/s ÷ requests/job)" \
			"$(ratio "$(median_of "${j[@]}")" "$ceil")" \
			"$(verdict "$(ge "$(median_of "${j[@]}")" $target)" "≥ $target jobs/s")"
		[ -n "$base_http" ] || continue
		# shellcheck disable=SC2086
		b=(${PBASE[$nc]})
		bm=$(median_of "${b[@]}")
		row "Pipeline against the code before issue 14 ($PIPE_BASELINE), the same batches in this run, primary + $nc competitors: jobs/s" \
			"$(summ %.0f "${j[@]}")" "$(summ %.0f "${b[@]}") baseline" "$(ratio "$(median_of "${j[@]}")" "$bm")" \
			"$(verdict "$(ge "$(median_of "${j[@]}")" "$(calc "2 * $bm")")" "≥ 2× the baseline")"
	done
	# Stored bytes per 3-competitor job (tests/bench/stored_bytes.sql), on
	# the batches' own database. The target is on the analysis (document,
	# results, reels and scripts rows and their indexes); content is the
	# fetched reels, shared by every job of the same accounts.
	IFS='|' read -r sb_n sb_doc sb_res sb_reels sb_scripts sb_aidx sb_content sb_cidx sb_tot < <(
		"${PSQL[@]}" -v jobs='r3x%' -f tests/bench/stored_bytes.sql "$SERVER dbname=pipe")
	sb_an=$((sb_doc + sb_res + sb_reels + sb_scripts + sb_aidx))
	row "Pipeline: stored bytes per job (analysis document, rows, content, indexes), primary + 3 competitors × 12 reels, $sb_n jobs: analysis $sb_an = document $sb_doc + rest of the results row $sb_res + viral_analysis_reels $sb_reels + viral_scripts $sb_scripts + their indexes $sb_aidx; content $((sb_content + sb_cidx)) = rows $sb_content + indexes $sb_cidx" \
		"$sb_tot" "—" "$(ratio "$sb_an" "$STORED_BEFORE") of the analysis before" \
		"$(verdict "$(lt "$sb_an" "$((STORED_BEFORE / 2 + 1))")" "analysis ≤ ½ of $STORED_BEFORE")"
	[ $fails -gt 0 ] && note "Pipeline: $fails jobs failed (see the log)."
	# Peak RSS per actor (VmHWM: high-water mark since the actor started, so
	# over every pipeline batch above).
	tot=0 per=""
	while read -r name pid; do
		h=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status)
		tot=$((tot + h))
		per+="$name $((h / 1024)).$((h % 1024 * 10 / 1024)) MiB, "
	done < <(actor_pids "$pipe_run")
	sh=$(awk '/^VmHWM/ {print $2}' /proc/$pipe_pid/status)
	tot=$((tot + sh))
	per+="supervisor $((sh / 1024)).$((sh % 1024 * 10 / 1024)) MiB"
	conc=$(cat "$tmp/rss.max")
	row "Pipeline: peak RSS of all actors + supervisor during the batches, MiB (sum of per-process peaks; highest simultaneous sum $(calc "$conc / 1024") MiB)" \
		"$(calc "$tot / 1024")" "—" "—" "$(verdict "$(lt "$(calc "$tot / 1024")" 64)" "< 64 MiB")"
	note "Pipeline peak RSS per process (VmHWM, shared library pages counted in each): $per."
	pss=0
	for p in $(actor_pids "$pipe_run" | col 2) $pipe_pid; do
		pss=$((pss + $(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup)))
	done
	note "Pipeline: after the batches, the processes' proportional set size (Pss: shared pages split between the processes sharing them) sums to $(calc "$pss / 1024") MiB."
	stop_node "$pipe_pid"
fi

# ======================================================================
if want recovery; then
	log "recovery: analyzer SIGKILL mid-batch, $RUNS times"
	newdb recov >/dev/null
	start_node recov recov
	rec_pid=$NODE_PID rec_run=$NODE_RUN rec_http=$NODE_HTTP
	ra=()
	for r in $(seq "$RUNS"); do
		tag=ak$r
		insert_jobs recov "$tag" "$RECOV_JOBS" 3
		trigger "$rec_http"
		# Kill once the analyzer has had work for a while (a tenth completed).
		for _ in $(seq 600); do
			d=$(sql recov "SELECT count(*) FROM viral_ideas_queue WHERE session_id LIKE '$tag-%' AND status = 'completed'")
			[ "$d" -ge $((RECOV_JOBS / 10)) ] && break
			sleep 0.02
		done
		apid=$(actor_pids "$rec_run" | awk '$1 == "analyzer" {print $2}')
		# The jobs whose unit the analyzer holds (the scheduler's own list,
		# read with jq: a job spends only milliseconds there), then the kill.
		# Since the blame rules (RELIABILITY.md) they are not released: their
		# units go to the replacement. The figure: kill → none of them left
		# in flight at the scheduler (each answered by the replacement and
		# its completion stored, or found already stored: completion is
		# idempotent under the lease).
		ctl_jobs() { "$BIN/viralctl" --socket "$rec_run/control.sock" --json jobs; }
		held=$(ctl_jobs | jq -c '[.jobs[] | select(.holder == "analyzer") | .id]')
		tk=$(now_ms)
		kill -KILL "$apid"
		n=$(jq length <<<"$held") ms=""
		if [ "$n" -gt 0 ]; then
			for _ in $(seq 2000); do
				left=$(ctl_jobs | jq --argjson h "$held" '[.jobs[] | select(.id as $i | $h | index($i))] | length')
				[ "$left" = 0 ] && { ms=$(($(now_ms) - tk)); break; }
				sleep 0.005
			done
		fi
		if [ -n "$ms" ]; then
			ra+=("$ms")
			log "recovery: analyzer killed holding $n job(s); none left in flight $ms ms after the kill"
		else
			log "recovery: analyzer kill $r: held $n job(s) at the kill: not measured"
		fi
		for _ in $(seq 600); do
			d=$(sql recov "SELECT count(*) FROM viral_ideas_queue WHERE session_id LIKE '$tag-%' AND status IN ('completed', 'failed')")
			[ "$d" -ge "$RECOV_JOBS" ] && break
			sleep 0.1
		done
	done
	stop_node "$rec_pid"
	if [ ${#ra[@]} -gt 0 ]; then
		row "Recovery: analyzer SIGKILLed mid-batch → none of the jobs it held left in flight (units re-dispatched to its replacement and answered), ms (${#ra[@]} kills)" \
			"$(summ %.0f "${ra[@]}")" "—" "—" "—"
	fi

	log "recovery: a whole node SIGKILLed, two nodes on one database"
	NRUNS=2
	[ "$QUICK" = 1 ] && NRUNS=1
	rn=() rh=()
	for r in $(seq $NRUNS); do
		db=node$r
		newdb $db >/dev/null
		start_node a$r $db VIRALSUP_PROCESSING=continuous VIRALSUP_OWNER_EXPIRY_MS=2000
		a_pid=$NODE_PID a_run=$NODE_RUN
		start_node b$r $db VIRALSUP_PROCESSING=continuous VIRALSUP_OWNER_EXPIRY_MS=2000
		b_pid=$NODE_PID
		insert_jobs $db nk "$RECOV_JOBS" 3
		for _ in $(seq 600); do
			d=$(sql $db "SELECT count(*) FROM viral_ideas_queue q JOIN owners o ON o.id = q.lease_owner WHERE o.node = 'a$r' AND q.status = 'processing'")
			[ "$d" -ge 10 ] && break
			sleep 0.02
		done
		victims="$a_pid $(actor_pids "$a_run" | col 2)"
		tk=$(now_ms)
		# shellcheck disable=SC2086
		kill -KILL $victims
		held=$(sql $db "SELECT count(*) FROM viral_ideas_queue q JOIN owners o ON o.id = q.lease_owner WHERE o.node = 'a$r' AND q.status = 'processing'")
		sql $db "CREATE TABLE held AS SELECT q.id FROM viral_ideas_queue q JOIN owners o ON o.id = q.lease_owner WHERE o.node = 'a$r' AND q.status = 'processing'" >/dev/null
		for _ in $(seq 600); do
			left=$(sql $db "SELECT count(*) FROM viral_ideas_queue q JOIN held h ON h.id = q.id WHERE q.status NOT IN ('completed', 'failed')")
			[ "$left" = 0 ] && break
			sleep 0.05
		done
		ms=$(sql $db "SELECT round(extract(epoch FROM max(q.completed_at)) * 1000 - $tk) FROM viral_ideas_queue q JOIN held h ON h.id = q.id")
		first=$(sql $db "SELECT round(extract(epoch FROM min(e.at)) * 1000 - $tk) FROM job_events e JOIN held h ON h.id = e.job_id WHERE e.at > to_timestamp($tk / 1000.0) AND e.to_status = 'processing' AND e.node IS DISTINCT FROM 'a$r'")
		stop_node "$b_pid"
		if [ "$held" = 0 ]; then
			# Nothing to recover is no measurement: say so, never print zeros.
			log "recovery: node a$r held no job when it was killed: not measured"
			continue
		fi
		log "recovery: node a$r killed holding $held jobs; first reclaimed after $first ms, all finished by b$r after $ms ms"
		rn+=("$ms") rh+=("$held/$first")
	done
	if [ ${#rn[@]} = 0 ]; then
		row "Recovery: node SIGKILLed (supervisor + all actors) → not measured: in $NRUNS run(s) the killed node held no job at the kill" \
			"—" "—" "—" "—"
	else
	# Per run, in run order: "11, 24" jobs held; "2296, 2084" ms to the first reclaim.
	held_list=$(printf '%s\n' "${rh[@]}" | cut -d/ -f1 | paste -sd, | sed 's/,/, /g')
	first_list=$(printf '%s\n' "${rh[@]}" | cut -d/ -f2 | paste -sd, | sed 's/,/, /g')
	row "Recovery: node SIGKILLed (supervisor + all actors) → every job it held finished by the other node, ms (${#rn[@]} run(s), holding $held_list job(s); owner expiry 2 s; first reclaim after $first_list ms)" \
		"$(summ %.0f "${rn[@]}")" "— (detection is bounded by the configured owner expiry, 2000 ms)" "—" "—"
	fi
fi

# ======================================================================
# The llm engine against tests/fake_llm/fake_llm.py answering every call
# after 1 s (a slow model): jobs/s should follow the configured
# concurrency (ceiling: concurrency ÷ calls per job ÷ 1 s) while the
# analyzer's memory stays flat.
if want llm; then
	# concurrency:slots pairs. With slots = concurrency the analyzer holds
	# one job per llm slot (a job's calls then wait only for their
	# siblings, well inside llm.job_timeout_ms); the last pair keeps the
	# default 4 slots, so memory is bounded by slots, not by concurrency.
	LLM_RUNS="2:2 8:8 32:32 32:4"
	log "llm: engine llm, fake chat server with 1 s latency, concurrency:slots $LLM_RUNS"
	FAKE_LLM_MODE="slow:::1000" python3 tests/fake_llm/fake_llm.py >"$tmp/llm.port" 2>"$tmp/llm.log" &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$tmp/llm.port" ] && break; sleep 0.05; done
	LLM_PORT=$(cat "$tmp/llm.port")
	llm_calls() { curl -s "http://127.0.0.1:$LLM_PORT/_requests" | jq length; }
	base_conf=$CONF
	for cs in $LLM_RUNS; do
		c=${cs%:*} slots=${cs#*:}
		CONF=$tmp/llm$c-$slots.conf
		{ cat "$base_conf"; printf '[analyzer]\nslots = %d\n' "$slots"; } >"$CONF"
		n=$((c * 2))
		[ "$QUICK" = 1 ] && n=$c
		db=llm${c}_$slots
		newdb "$db" >/dev/null
		start_node "$db" "$db" VIRALSUP_ANALYZER_ENGINE=llm \
			VIRALSUP_LLM_BASE_URL="http://127.0.0.1:$LLM_PORT/v1" VIRALSUP_LLM_MODEL=fake-slow \
			VIRALSUP_LLM_API_KEY=bench-key VIRALSUP_LLM_CONCURRENCY="$c"
		lpid=$NODE_PID
		calls0=$(llm_calls)
		PIPE_TIMEOUT=300
		pipe_batch "$db" "$NODE_HTTP" "$db" "$n" 0
		calls=$(calc "($(llm_calls) - $calls0) / $n")
		jps=$(sql "$db" "SELECT round($n / extract(epoch FROM max(completed_at) - min(started_processing_at))::numeric, 2) FROM viral_ideas_queue")
		llm_used=$(sql "$db" "SELECT count(*) FROM viral_analysis_results WHERE analysis_data->'engine'->>'used' = 'llm'")
		apid=$(actor_pids "$NODE_RUN" | awk '$1 == "analyzer" {print $2}')
		hwm=$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' /proc/$apid/status)
		ceil=$(calc "$c / $calls")
		row "LLM engine: jobs/s at llm.concurrency = $c, analyzer.slots = $slots, $n jobs (primary only), every call answered after 1 s ($calls calls/job; **analyzer peak RSS $hwm MiB**; $PB_FAILED failed, $llm_used of $n results by the llm engine)" \
			"$jps" "$ceil concurrency ÷ calls per job ÷ 1 s" "$(ratio "$jps" "$ceil")" "—"
		log "llm: concurrency $c, slots $slots: $jps jobs/s, $calls calls/job, analyzer VmHWM $hwm MiB"
		stop_node "$lpid"
	done
	CONF=$base_conf
fi

# ======================================================================
if want scale; then
	log "scale: $SCALE_FINISHED finished rows + 1000 pending"
	l=$(FINISHED=$SCALE_FINISHED PENDING=1000 "$BIN/bench_scale" "$SERVER")
	row "Scale: claim latency (K=1), 1,000 pending among $SCALE_FINISHED finished rows, ms (p99 $(kv scale_p99 "$l"), ceiling p99 $(kv base_p99 "$l"))" \
		"$(kv scale_p50 "$l") ($(kv scale_min "$l")–$(kv scale_max "$l"))" \
		"$(kv base_p50 "$l") ($(kv base_min "$l")–$(kv base_max "$l")) same claims, 1,000 rows only" \
		"$(ratio "$(kv scale_p50 "$l")" "$(kv base_p50 "$l")")" "—"
fi

# ======================================================================
# The operations page (issue 15): what it costs /healthz and the pipeline's
# claims while nobody has it open, and while ten have it open. A viewer is
# what app.js does: every 2 s GET summary, the first jobs page and actors,
# each with the If-None-Match of its last answer (keep-alive, one
# connection per viewer; tests/bench/run.sh writes the poller below).
if want adminpage; then
	[ -n "$FAKE_PORT" ] || start_fake
	AP_RUNS=3 AP_JOBS=1000
	[ "$QUICK" = 1 ] && AP_RUNS=2 AP_JOBS=300
	log "adminpage: $AP_RUNS runs of /healthz (wrk) and a $AP_JOBS-job batch, 0 and 10 page viewers"
	cat >"$tmp/viewers.py" <<'PY'
import http.client, json, os, signal, sys, threading, time
host, port = sys.argv[1].rsplit(":", 1)
n, token, out = int(sys.argv[2]), sys.argv[3], sys.argv[4]
paths = ["/admin/api/summary", "/admin/api/jobs?limit=25&offset=0", "/admin/api/actors"]
stop = threading.Event()
counts = {"requests": 0, "200": 0, "304": 0, "other": 0, "ms": 0.0}
lock = threading.Lock()
def viewer(k):
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    etags = {}
    time.sleep(2.0 * k / n)  # viewers opened the page at different moments
    while not stop.is_set():
        t0 = time.monotonic()
        for p in paths:
            h = {"Authorization": "Bearer " + token, "Accept": "application/json"}
            if p in etags:
                h["If-None-Match"] = etags[p]
            try:
                c.request("GET", p, headers=h)
                r = c.getresponse()
                r.read()
                st = r.status
                if r.getheader("ETag"):
                    etags[p] = r.getheader("ETag")
            except Exception:
                st = 0
                c.close()
                c = http.client.HTTPConnection(host, int(port), timeout=10)
            with lock:
                counts["requests"] += 1
                counts[str(st) if st in (200, 304) else "other"] += 1
                counts["ms"] += (time.monotonic() - t0) * 1000
        stop.wait(max(0.0, 2.0 - (time.monotonic() - t0)))
def done(*_):
    stop.set()
signal.signal(signal.SIGTERM, done)
ts = [threading.Thread(target=viewer, args=(k,)) for k in range(n)]
for t in ts:
    t.start()
while not stop.is_set():
    stop.wait(0.2)
for t in ts:
    t.join()
with open(out, "w") as f:
    json.dump(counts, f)
PY
	newdb adm >/dev/null
	# A queue with history for the summary to count (as the gateway row).
	sql adm "INSERT INTO viral_ideas_queue (session_id, primary_username, status, completed_at, total_runs) SELECT 'g' || i, 'u' || i, 'completed', now(), 1 FROM generate_series(1, 2000) i" >/dev/null
	start_node adm adm
	adm_pid=$NODE_PID adm_http=$NODE_HTTP
	PIPE_TIMEOUT=${PIPE_TIMEOUT:-300}
	declare -A AP=()
	for r in $(seq $AP_RUNS); do
		for v in 0 10; do
			vpid=""
			if [ $v -gt 0 ]; then
				python3 "$tmp/viewers.py" "$adm_http" $v "$ADMIN_TOKEN" "$tmp/viewers.$r.json" &
				vpid=$!
				pids+=($vpid)
				sleep 2.5 # every viewer has made its first round (200s; 304s from then on)
			fi
			AP[h$v]+="$(wrk_run -t2 -c64 -d${WRK_S}s "http://$adm_http/healthz");"
			pipe_batch adm "$adm_http" "ap${v}x$r" "$AP_JOBS" 0
			AP[p$v]+="$PB_JPS "
			if [ -n "$vpid" ]; then
				kill -TERM $vpid
				wait $vpid 2>/dev/null || true
				AP[v]+="$(cat "$tmp/viewers.$r.json");"
			fi
		done
	done
	apf() { tr ';' '\n' <<<"${AP[$1]}" | sed '/^$/d' | col "$2"; }
	read -r vreq v200 v304 vother vms < <(tr ';' '\n' <<<"${AP[v]}" | sed '/^$/d' |
		python3 -c 'import json,sys
t={"requests":0,"200":0,"304":0,"other":0,"ms":0.0}
for l in sys.stdin:
    d=json.loads(l)
    for k in t: t[k]+=d[k]
print(t["requests"],t["200"],t["304"],t["other"],round(t["ms"]/max(t["requests"],1),2))')
	mapfile -t h0 < <(apf h0 1)
	mapfile -t h10 < <(apf h10 1)
	read -ra p0 <<<"${AP[p0]}"
	read -ra p10 <<<"${AP[p10]}"
	row "Operations page: GET /healthz req/s at 64 conns with 10 page viewers (vs none: the ceiling column; p99 $(apf h10 3 | med) vs $(apf h0 3 | med) ms)" \
		"$(summ %.0f "${h10[@]}")" "$(summ %.0f "${h0[@]}") no viewer" \
		"$(ratio "$(median_of "${h10[@]}")" "$(median_of "${h0[@]}")")" \
		"$(verdict "$(ge "$(calc "$(median_of "${h10[@]}") / $(median_of "${h0[@]}")")" 0.8)" "≥ 0.8× no viewer")"
	row "Operations page: jobs/s claimed and completed, a $AP_JOBS-job batch, with 10 page viewers (vs none)" \
		"$(summ %.1f "${p10[@]}")" "$(summ %.1f "${p0[@]}") no viewer" \
		"$(ratio "$(median_of "${p10[@]}")" "$(median_of "${p0[@]}")")" \
		"$(verdict "$(ge "$(calc "$(median_of "${p10[@]}") / $(median_of "${p0[@]}")")" 0.8)" "≥ 0.8× no viewer")"
	note "Operations page viewers: $vreq data requests in all ($v200 answered 200, $v304 answered 304 Not Modified, $vother other), $vms ms per viewer round of three on average; the viewers' own CPU (one Python process) shares the 2 cores. With no viewer the gateway runs no page work at all (no timer, no query: the summary cache only answers requests), so 'no viewer' is the plain gateway."
	stop_node "$adm_pid"
fi

# ======================================================================
elapsed=$(($(date +%s) - T0_ALL))
cpu=$(awk -F: '/model name/ {gsub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo)
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
report=$tmp/BENCH.md
{
	echo "# Benchmarks"
	echo
	echo "Generated by \`make bench$([ "$QUICK" = 1 ] && echo -quick)\` (tests/bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'):"
	echo "$(nproc) cores ($cpu), $mem memory, Linux $(uname -r); the run took ${elapsed}s."
	echo "Every figure below was measured in that run; nothing is copied from an earlier one."
	echo "The machine is shared (other processes ran at the same time), so figures are"
	echo "noisy: read each next to its ceiling, measured in the same run on the same cores."
	echo
	echo "Figures are the median over the runs (min–max in brackets); ratio = ours ÷ ceiling"
	echo "(for rates higher is better, for latencies lower is better)."
	echo
	echo "| what | ours | ceiling (same run) | ratio | target |"
	echo "|---|---|---|---|---|"
	cat "$ROWS"
	echo
	if [ -s "$NOTES" ]; then
		echo "## Notes"
		echo
		cat "$NOTES"
		echo
	fi
	cat <<EOF
## How it was measured

- PostgreSQL 15: a throwaway cluster started by the bench (\`PG_FAST=1 scripts/pg.sh start\`:
  fsync, synchronous_commit and full_page_writes **off**), Unix socket. Durable settings cost
  more per commit; compare database-bound rows with that in mind.
- viralsup nodes run with \`VIRALSUP_PROVIDER=rapidapi\` against \`build/bin/fake_provider\`
  (tests/fake_provider/fake_provider.c, on the same 2 cores) over HTTP on loopback, and this
  configuration file (everything else default; \`VIRALSUP_ADMIN_RATE_PER_MIN=1000000\` so that
  wrk is not rate limited):

\`\`\`ini
$(cat "$CONF")
\`\`\`

- Restart: \`build/bin/bench_restart $KILLS\` (viralsup with a test actor killed $KILLS times).
- IPC: \`build/bin/bench_ipc $IPC_N\`, $RUNS runs.
- Claims: \`JOBS=$CLAIM_JOBS build/bin/bench_claims\`, 3 runs: each claimer claims K with \`queue_claim\` and
  completes them with one \`queue_complete_many\` (the writer's group commit), prepared statements,
  owner heartbeat once a second (a timer, as the scheduler's); ceiling \`pgbench -n -M prepared -c N -j N -t JOBS/(N·K)\`
  with the scripts in tests/bench/run.sh (claim = \`UPDATE … FROM (SELECT … LIMIT K FOR UPDATE
  SKIP LOCKED)\`, complete = \`UPDATE … SET status = 'completed'\` per job (K=1) or per batch (K=32)).
- Gateway: \`wrk -t2 -c64 -d${WRK_S}s --latency\` (and \`-t1 -c1\`), 3 runs each; POST with a Lua script
  setting the admin header; ceiling \`build/bin/bare_http\` (tests/bench/bare_http.c).
- Pipeline: jobs inserted with \`INSERT … SELECT generate_series\`, then \`POST
  /api/viral-ideas/process-pending\`; end = the last \`completed_at\`; first running = the first
  \`job_events\` row to \`processing\`; RSS from /proc/PID/status of the pids in \`viralctl status --json\`.
- Recovery: analyzer killed with SIGKILL once a tenth of a $RECOV_JOBS-job batch completed; node
  recovery with two nodes (\`VIRALSUP_PROCESSING=continuous\`, \`VIRALSUP_OWNER_EXPIRY_MS=2000\`) on one database.
- LLM engine: \`analyzer.engine = llm\` against tests/fake_llm/fake_llm.py started with
  \`FAKE_LLM_MODE=slow:::1000\` (every chat completion answered after 1 s); jobs/s = jobs ÷ (last
  \`completed_at\` − first \`started_processing_at\`); calls per job from the fake's request log;
  analyzer peak RSS = its VmHWM after the batch.
- Scale: \`FINISHED=$SCALE_FINISHED PENDING=1000 build/bin/bench_scale\`.
- Operations page: 10 viewers (one Python process, tests/bench/run.sh) each polling summary, the
  first jobs page and actors every 2 s with \`If-None-Match\`, as app.js does; \`/healthz\` under
  \`wrk -t2 -c64\` and a batch of jobs without competitors, with them and without, alternately.
- Where the pipeline's time goes: \`PROFILE=1 ONLY=pipeline tests/bench/run.sh\` adds CPU seconds per
  process (actors, PostgreSQL backends, fake provider) and the dominant statements
  (pg_stat_statements, calls per job) for every batch; \`PROFILE=1 ONLY=claims\` the statements
  of a claim + completion (1 claimer K=1, 4 claimers K=32).
EOF
} >"$report"
echo
sed -n '/^| what/,/^$/p' "$report"
[ -s "$NOTES" ] && cat "$NOTES"
if [ -z "$ONLY" ] && [ "$QUICK" != 1 ]; then
	cp "$report" docs/BENCH.md
	log "written docs/BENCH.md (${elapsed}s)"
else
	log "done in ${elapsed}s (docs/BENCH.md not rewritten: QUICK or ONLY set)"
fi
