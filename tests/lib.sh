# Helpers for shell integration tests. A test script sources this, calls
# t_case NAME before each case and t_ok / t_fail MSG after it, then t_done,
# which prints the RESULT line tests/run.sh sums up.
_t_passed=0 _t_failed=0 _t_skipped=0 _t_name=""
t_case() { _t_name=$1; }
t_ok() { echo "ok   $_t_name"; _t_passed=$((_t_passed + 1)); }
t_fail() { echo "FAIL $_t_name: $*"; _t_failed=$((_t_failed + 1)); }
t_skip() { echo "skip $_t_name: $*"; _t_skipped=$((_t_skipped + 1)); }
# t_expect_eq WHAT EXPECTED SEEN
t_expect_eq() {
	if [ "$2" = "$3" ]; then t_ok; else t_fail "$1: expected '$2', seen '$3'"; fi
}
t_done() {
	echo "RESULT passed=$_t_passed failed=$_t_failed skipped=$_t_skipped"
	[ "$_t_failed" -eq 0 ]
}
