#!/bin/bash
# `make run` (scripts/run.sh): the whole stack in the foreground on its own
# embedded PostgreSQL; SIGTERM or SIGINT stops everything, PostgreSQL included.
source tests/lib.sh
B=${B:-build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/make-run-XXXXXX")
chmod 0711 "$tmp"
trap 'scripts/pg.sh stop "$tmp/var/pg" >/dev/null 2>&1; [ -f "$tmp/var/pg/location" ] && rm -rf "$(cat "$tmp/var/pg/location")"; rm -rf "$tmp"' EXIT

for sig in TERM INT; do
	t_case "run_stops_everything_on_sig$sig"
	rm -rf "$tmp/var" "$tmp/run"
	# A background job of a non-interactive shell starts with SIGINT
	# ignored; --default-signal gives run.sh the disposition a terminal's
	# foreground job has, so the test sees what Ctrl-C does.
	env -u DATABASE_URL --default-signal=INT VIRALSUP_VAR="$tmp/var" VIRALSUP_RUN_DIR="$tmp/run" \
		VIRALSUP_HTTP_ADDR=127.0.0.1:0 B=$B setsid scripts/run.sh >"$tmp/log" 2>&1 &
	run=$!
	# Readiness is an event (the supervisor's "all permanent children
	# ready" line); the deadline only bounds a hang, well inside run.sh's
	# 600 s, since initdb alone can take tens of seconds on a loaded machine.
	ok=0 t0=$(date +%s%N)
	for _ in $(seq 2400); do
		grep -q "all permanent children ready" "$tmp/log" && { ok=1; break; }
		kill -0 $run 2>/dev/null || break
		sleep 0.05
	done
	echo "     ready after $(( ($(date +%s%N) - t0) / 1000000 )) ms (initdb included)"
	if [ $ok != 1 ]; then
		t_fail "stack did not become ready within 120 s: $(tail -5 "$tmp/log")"
		kill -KILL -- -$run 2>/dev/null
		continue
	fi
	sup=$(cat "$tmp/run/viralsup.pid" 2>/dev/null)
	kids=$(pgrep -P "$sup" | tr '\n' ' ')
	kill -$sig $run
	rc=none
	for _ in $(seq 1200); do
		if ! kill -0 $run 2>/dev/null; then
			wait $run
			rc=$?
			break
		fi
		sleep 0.05
	done
	left=""
	for p in $sup $kids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
	if kill -0 $run 2>/dev/null; then
		t_fail "run.sh still running 60 s after SIG$sig: $(tail -5 "$tmp/log")"
		kill -KILL -- -$run
	elif [ -n "$left" ]; then
		t_fail "processes left behind:$left"
	elif scripts/pg.sh status "$tmp/var/pg"; then
		t_fail "PostgreSQL still running after SIG$sig"
	elif [ -z "$sup" ] || [ -z "$kids" ]; then
		t_fail "could not see the supervisor ($sup) and its children ($kids)"
	else
		t_expect_eq "exit status" 0 "$rc"
	fi
done
t_done
