# Shared helpers of the shell tests; source it after setting `tmp` (a scratch directory).
#   fail MESSAGE                  count a failure and print it
#   expect CODE PATTERN -- CMD... run CMD; check its exit code and that its stdout or stderr
#                                 holds PATTERN (fixed string; "" matches anything)
#   start_coordinator BUILD_DIR [FLAGS...]
#                                 a plaintext coordinator on a free loopback port, its own
#                                 SQLite file; sets coordinator_pid and coordinator_address
#   finish NAME                   print the tally; exit status 1 if anything failed
failures=0
checks=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

expect() {
  local code=$1 pattern=$2
  shift 3
  checks=$((checks + 1))
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [[ $got -ne $code ]]; then
    fail "$* exited $got, expected $code: $(head -c 600 "$tmp/err")"
    return
  fi
  grep -qF -- "$pattern" "$tmp/out" "$tmp/err" ||
    fail "$*: no '$pattern' in: $(cat "$tmp/out" "$tmp/err" | head -5)"
}

start_coordinator() {
  local build=$1
  shift
  rm -f "$tmp/port"
  "$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/port" \
    --db "$tmp/coordinator.db" --artifacts "$tmp/artifacts" --metrics_listen "" "$@" \
    2>"$tmp/coordinator.log" &
  coordinator_pid=$!
  for _ in $(seq 400); do
    [[ -s "$tmp/port" ]] && break
    kill -0 "$coordinator_pid" 2>/dev/null || break
    sleep 0.05
  done
  [[ -s "$tmp/port" ]] || { echo "the coordinator did not start: $(cat "$tmp/coordinator.log")"; exit 1; }
  coordinator_address="127.0.0.1:$(cat "$tmp/port")"
}

finish() {
  echo "$1: $((checks - failures)) passed, $failures failed"
  [[ $failures -eq 0 ]]
}
