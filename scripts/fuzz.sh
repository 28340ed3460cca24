#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/) with clang, ASan, UBSan and coverage in build-asan/ (the
# sanitizer build of scripts/test-sanitizers.sh, which calls this after its tests), then runs each
# over a copy of its seed corpus (fuzz/corpus/<harness>/) for a bounded time. Fails on any crash,
# leak, timeout, out-of-memory or sanitizer report. What a run produces (new inputs, crash
# reproducers, logs) stays under build-asan/fuzz-runs/, never in the repo.
#
#   scripts/fuzz.sh [seconds_per_harness]   default: $POLYTRAIN_FUZZ_SECONDS, else 30
#   POLYTRAIN_FUZZERS="loss_spec_fuzzer" scripts/fuzz.sh 60     only some harnesses
#   FUZZ_BUILD_DIR=dir                      another build directory
#   POLYTRAIN_FUZZ_BUILD=0                  run what FUZZ_BUILD_DIR holds, without building
#
# A reproducer replays with: build-asan/fuzz/<harness> <file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-${POLYTRAIN_FUZZ_SECONDS:-30}}
read -r -a harnesses <<<"${POLYTRAIN_FUZZERS:-job_spec_text_fuzzer job_spec_json_fuzzer \
loss_spec_fuzzer worker_protocol_fuzzer request_bytes_fuzzer zip_records_fuzzer}"
build=${FUZZ_BUILD_DIR:-build-asan}

if [[ ${POLYTRAIN_FUZZ_BUILD:-1} != 0 ]]; then
  # The same configuration as scripts/test-sanitizers.sh (so that neither rebuilds the other's
  # work): LibTorch off.
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPOLYTRAIN_WITH_TORCH=OFF -DPOLYTRAIN_SANITIZE=address,undefined,fuzzer-no-link \
    -DPOLYTRAIN_BUILD_FUZZERS=ON -DPOLYTRAIN_BUILD_BENCH=OFF >/dev/null
  cmake --build "$build" -j "$(nproc)" --target "${harnesses[@]}"
fi

runs="$build/fuzz-runs/$(date +%Y%m%d-%H%M%S)"
# Leaks are checked after every input; UBSan in the libraries (built with recovery) stops too.
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
failed=()
for h in "${harnesses[@]}"; do
  dir="$runs/$h"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp fuzz/corpus/"$h"/* "$dir/corpus/"
  args=("$dir/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10
        -artifact_prefix="$dir/artifacts/" -print_final_stats=1)
  case "$h" in
    job_spec_*) args+=(-dict=fuzz/job_spec.dict) ;;
    worker_protocol_fuzzer) args+=(-max_len=8192) ;;
  esac
  echo "fuzz: $h for ${seconds}s (log: $dir/log)"
  status=0
  "$build/fuzz/$h" "${args[@]}" >"$dir/log" 2>&1 || status=$?
  # A sanitizer report that did not end the run still fails it.
  if ((status != 0)) || grep -qE 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:' \
      "$dir/log"; then
    failed+=("$h")
    # The report from its first line (the stack that matters), else the end of the log.
    first=$(grep -a -n -m1 -E '==ERROR: |ERROR: libFuzzer|runtime error:|invariant violated' \
      "$dir/log" | cut -d: -f1 || true)
    echo "fuzz: $h FAILED (exit $status); from its log ($dir/log):"
    if [[ -n $first ]]; then sed -n "${first},$((first + 40))p" "$dir/log"; else tail -n 40 "$dir/log"; fi
    find "$dir/artifacts" -type f -printf 'fuzz: reproducer %p\n'
    # Small inputs also as base64, for a CI log whose files are gone: base64 -d > crash
    grep -a -m1 '^Base64: ' "$dir/log" | sed 's/^/fuzz: reproducer /' || true
  else
    # -a: a fuzzed input the target logs may hold any byte.
    grep -a -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$dir/log" | tail -n 1 |
      sed "s/^/fuzz: $h: /"
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz: FAILED: ${failed[*]} (replay: $build/fuzz/<harness> <reproducer>)"
  exit 1
fi
echo "fuzz: ${#harnesses[@]} harnesses ran ${seconds}s each without findings ($runs)"
