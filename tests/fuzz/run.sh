#!/bin/bash
# Runs every libFuzzer target in $B/fuzz for FUZZ_SECONDS each (default 5),
# starting from its seed corpus in tests/fuzz/corpus/<target without fuzz_>.
# New inputs go to a scratch directory unless FUZZ_SAVE=1, which adds them
# to the repository corpus. Prints one ok/FAIL line per target with its
# executions, then a RESULT line.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
secs=${FUZZ_SECONDS:-5}
passed=0 failed=0
scratch=$(mktemp -d /tmp/viralsup-fuzz-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
for f in "$B"/fuzz/*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	seeds=tests/fuzz/corpus/${name#fuzz_}
	mkdir -p "$seeds" "$scratch/$name"
	out=$scratch/$name.log
	first=$scratch/$name
	[ "${FUZZ_SAVE:-0}" = 1 ] && first=$seeds
	if "$f" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
		-artifact_prefix="$scratch/$name-" "$first" "$seeds" >"$out" 2>&1; then
		runs=$(grep -o 'Done [0-9]* runs' "$out" | grep -o '[0-9]*')
		cov=$(grep -o 'cov: [0-9]*' "$out" | tail -1)
		echo "ok   $name (${runs:-?} executions in ${secs}s, ${cov:-cov: ?})"
		passed=$((passed + 1))
	else
		echo "FAIL $name: crash or leak found; last lines:"
		tail -30 "$out"
		for a in "$scratch/$name"-*; do
			[ -f "$a" ] && cp "$a" "tests/fuzz/crash-$(basename "$a")" && echo "  saved tests/fuzz/crash-$(basename "$a")"
		done
		failed=$((failed + 1))
	fi
done
echo "RESULT passed=$passed failed=$failed skipped=0"
[ "$failed" -eq 0 ]
