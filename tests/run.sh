#!/bin/bash
# run.sh: runs every test and prints one closing line "N passed, N failed".
#   tests/run.sh          unit (asan build), fuzz (short), integration
#   tests/run.sh unit|fuzz|integration   one kind only
# Environment: FUZZ_SECONDS (default 20 per target), PYTEST_ARGS.
set -u
cd "$(dirname "$0")/.."
kinds=${1:-all}
passed=0
failed=0
failures=()
log_dir=build/test-logs
mkdir -p "$log_dir"

note_fail() { failed=$((failed + $2)); failures+=("$1"); }

run_unit() {
	local t out rc p f
	for t in build/asan/tests/unit/test_*; do
		[ -x "$t" ] || continue
		out="$log_dir/$(basename "$t").log"
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			timeout 300 "$t" >"$out" 2>&1
		rc=$?
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
		p=${p:-0}; f=${f:-0}
		if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
		passed=$((passed + p))
		if [ "$f" != 0 ]; then
			note_fail "unit $(basename "$t") (see $out)" "$f"
			tail -30 "$out"
		fi
		echo "unit $(basename "$t"): $p passed, $f failed"
	done
}

run_fuzz() {
	local t name corpus work secs=${FUZZ_SECONDS:-20}
	for t in build/fuzz/tests/fuzz/fuzz_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		corpus=tests/fuzz/corpus/${name#fuzz_}
		work=build/fuzz-corpus/${name#fuzz_}
		mkdir -p "$work" "$corpus"
		if timeout $((secs + 120)) "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$log_dir/$name-" "$work" "$corpus" >"$log_dir/$name.log" 2>&1; then
			passed=$((passed + 1))
			echo "fuzz $name: ${secs}s, no finding ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$log_dir/$name.log" | tail -1 | awk '{print $2}') runs)"
		else
			note_fail "fuzz $name (see $log_dir/$name.log)" 1
			tail -40 "$log_dir/$name.log"
		fi
	done
}

run_integration() {
	local build
	# The release build is what users run; the asan build (ASan, UBSan,
	# LSan in every process, supervisor and workers) catches what it hides.
	for build in release asan; do
		run_integration_build "$build"
	done
}

run_integration_build() {
	local out=$log_dir/integration-$1.log p f e
	echo "integration tests against build/$1:"
	# Debian's python3 has python3-pytest; a pyenv shim on PATH might not.
	HOLDFAST_BUILD=build/$1 ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=32 \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} tests/integration 2>&1 | tee "$out"
	p=$(grep -Eo '[0-9]+ passed' "$out" | tail -1 | awk '{print $1}')
	f=$(grep -Eo '[0-9]+ failed' "$out" | tail -1 | awk '{print $1}')
	e=$(grep -Eo '[0-9]+ errors?' "$out" | tail -1 | awk '{print $1}')
	p=${p:-0}; f=${f:-0}; e=${e:-0}
	passed=$((passed + p))
	if [ $((f + e)) != 0 ]; then note_fail "integration $1 (see $out)" $((f + e)); fi
	if [ "$p" = 0 ] && [ $((f + e)) = 0 ]; then note_fail "integration $1: no test ran" 1; fi
}

case "$kinds" in
all) run_unit; run_fuzz; run_integration ;;
unit) run_unit ;;
fuzz) run_fuzz ;;
integration) run_integration ;;
integration-release) run_integration_build release ;;
*) echo "usage: $0 [unit|fuzz|integration|integration-release]" >&2; exit 2 ;;
esac

for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
