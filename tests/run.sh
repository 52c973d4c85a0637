#!/bin/bash
# Runs the whole suite: every test binary under $B/tests, every shell test
# under tests/integration, a replay of the fuzz corpora plus a short fuzz
# run, and the formatting check. One throwaway PostgreSQL cluster serves
# the run (each test makes its own database on it). Ends with the line
#   N passed, N failed, N skipped
# A skip is a failure unless tests/skips.allow lists it (suite:test and
# the reason); PostgreSQL failing to start is a failure, not 77 skips.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
export B VIRALSUP_BIN="$PWD/$B/bin"
if [ "$B" = build-san ]; then
	# A small quarantine keeps ASan's memory close to the real program's, so
	# the memory bounds some tests assert still mean something.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=8:malloc_context_size=10}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
	export VIRALSUP_SANITIZED=1
fi

passed=0 failed=0 skipped=0
failures=()
t_start=$(date +%s)

tmp=$(mktemp -d /tmp/viralsup-check-XXXXXX)
chmod 0711 "$tmp"
cleanup() {
	./scripts/pg.sh destroy "$tmp/pg" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if conninfo=$(PG_FAST=1 ./scripts/pg.sh start "$tmp/pg"); then
	export TEST_PG_CONNINFO=${conninfo% dbname=*}
	echo "test PostgreSQL: $TEST_PG_CONNINFO"
else
	# Every database test would skip: the run must not pass.
	echo "FAIL test-postgresql: could not start a test PostgreSQL (scripts/pg.sh start)"
	failed=$((failed + 1)); failures+=(test-postgresql)
fi
export TMPDIR=$tmp

# Adds the counts from a "RESULT passed=N failed=N skipped=N" line.
tally() {
	local name=$1 out=$2 rc=$3 line p f s
	line=$(grep -a '^RESULT passed=' "$out" | tail -1)
	if [ -z "$line" ]; then
		echo "FAIL $name: no RESULT line (exit $rc)"
		failed=$((failed + 1)); failures+=("$name")
		return
	fi
	p=${line#*passed=}; p=${p%% *}
	f=${line#*failed=}; f=${f%% *}
	s=${line#*skipped=}
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	[ "$f" -gt 0 ] && failures+=("$name")
	check_skips "$name" "$out"
	return 0
}

# Each "skip TEST: reason" line of a suite must be on the allow-list.
allowed_skips=$(grep -v '^[[:space:]]*\(#\|$\)' tests/skips.allow 2>/dev/null | awk '{print $1}')
check_skips() {
	local suite=$1 out=$2 line test
	while IFS= read -r line; do
		test=${line#skip }; test=${test%%:*}
		if grep -qxF "$suite:$test" <<<"$allowed_skips"; then
			echo "     (allowed skip, tests/skips.allow: $suite:$test)"
		else
			echo "FAIL $suite:$test skipped and not on tests/skips.allow (${line#*: })"
			failed=$((failed + 1)); failures+=("$suite:$test")
		fi
	done < <(grep -a '^skip ' "$out")
}

run_suite() {
	local name=$1; shift
	echo "== $name"
	local out="$tmp/out.$$"
	"$@" 2>&1 | tee "$out" | grep -av '^RESULT '
	tally "$name" "$out" "${PIPESTATUS[0]}"
	# The failing assertion and verdict lines, repeated at the end: a log
	# cut to its head and tail still says what failed and where.
	grep -aE '^FAIL |^  [^ ]+\.c:[0-9]+: ' "$out" | sed "s|^|$name: |" >>"$tmp/why"
}

for t in "$B"/tests/*; do
	[ -x "$t" ] || continue
	run_suite "$(basename "$t")" "$t"
done
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	run_suite "$(basename "$t" .sh)" timeout 600 bash "$t"
done
if ls "$B"/fuzz/* >/dev/null 2>&1; then
	run_suite fuzz-replay env FUZZ_SECONDS=${FUZZ_SECONDS:-5} ./tests/fuzz/run.sh
else
	echo "FAIL fuzz-replay: no fuzz targets in $B/fuzz (clang missing? scripts/deps.sh installs it)"
	failed=$((failed + 1)); failures+=(fuzz-replay)
fi

echo "== format"
if make -s format-check >/dev/null 2>"$tmp/format.err"; then
	echo "ok   clang-format"
	passed=$((passed + 1))
else
	echo "FAIL clang-format: files not formatted (run make format)"
	head -5 "$tmp/format.err"
	failed=$((failed + 1)); failures+=(format)
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo "== what failed"
	cut -c1-300 "$tmp/why" 2>/dev/null | head -40
	echo "failing suites: ${failures[*]}"
fi
echo "run time: $(($(date +%s) - t_start)) s"
# The last line is exactly this (CI reads it): nothing after the counts.
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
