#!/bin/bash
# make memcheck: the unit test binaries that need no viralsup stack, under
# valgrind memcheck. A memory error or a definite leak in any test process
# (the harness forks one per test; valgrind follows forks) makes that test
# exit 99, which the harness reports as a FAIL. "Possibly lost" blocks are
# not counted: they are objects a test leaves registered with its libev loop
# (reachable through interior pointers) when its process ends. Prints the
# harness lines, one ok/FAIL line per binary, then a RESULT line.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
passed=0 failed=0 skipped=0
tmp=$(mktemp -d /tmp/viralsup-memcheck-XXXXXX)
chmod 0711 "$tmp"
cleanup() {
	./scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1
	[ -f "$tmp/pg/location" ] && rm -rf "$(cat "$tmp/pg/location")"
	rm -rf "$tmp"
}
trap cleanup EXIT
if ! command -v valgrind >/dev/null; then
	echo "valgrind not installed (apt-get install valgrind)"
	echo "RESULT passed=0 failed=0 skipped=1"
	exit 0
fi
if [ -z "${TEST_PG_CONNINFO:-}" ] && conninfo=$(PG_FAST=1 ./scripts/pg.sh start "$tmp/pg"); then
	export TEST_PG_CONNINFO=${conninfo% dbname=*}
fi
export TMPDIR=$tmp
# Generous per-test timeout: valgrind runs code 10-50x slower.
export TEST_TIMEOUT=${TEST_TIMEOUT:-300}
# Speed assertions mean nothing under valgrind; tests may check this.
export VIRALSUP_UNDER_VALGRIND=1
t0=$SECONDS
for name in "$@"; do
	bin=$B/tests/$name
	[ -x "$bin" ] || { echo "FAIL $name: $bin not built"; failed=$((failed + 1)); continue; }
	out=$tmp/$name.out
	s=$SECONDS
	valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite --error-exitcode=99 \
		--suppressions=tests/security/valgrind.supp "$bin" >"$out" 2>&1
	line=$(grep -a '^RESULT passed=' "$out" | tail -1)
	errs=$(grep -ac 'ERROR SUMMARY: [1-9]\|definitely lost in\|Invalid \(read\|write\|free\)\|uninitialised' "$out")
	if [ -z "$line" ]; then
		echo "FAIL $name: no RESULT line"; tail -20 "$out"; failed=$((failed + 1)); continue
	fi
	p=${line#*passed=}; p=${p%% *}
	f=${line#*failed=}; f=${f%% *}
	k=${line#*skipped=}
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
	if [ "$f" -gt 0 ] || [ "$errs" -gt 0 ]; then
		echo "FAIL $name under valgrind ($f failed, $errs valgrind reports):"
		grep -a -B2 -A14 'definitely lost in\|Invalid \|uninitialised\|^FAIL' "$out" | head -60
		[ "$f" -eq 0 ] && failed=$((failed + 1))
	else
		echo "ok   $name under valgrind: $p passed, $k skipped ($((SECONDS - s)) s)"
	fi
done
echo "memcheck: $# binaries in $((SECONDS - t0)) s"
echo "RESULT passed=$passed failed=$failed skipped=$skipped"
[ "$failed" -eq 0 ]
