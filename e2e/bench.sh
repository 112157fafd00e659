#!/usr/bin/env bash
# zbox benchmarks: one run, same machine, medians and ratios against the
# tools zbox replaces. Run from the repository root (as root or not):
#
#   e2e/bench.sh            # prints a Markdown summary for the README
#
# Knobs (iterations per benchmark, each iteration runs every compared
# command once, interleaved): BENCH_N (startup, helper, memory; default
# 30), BINDS_N (100/1000 binds; default 10), BRIDGE_N (sandbox proxy
# bridge, 128 MiB streams; default 5). Installs nothing: a missing tool
# (bwrap, the reference helper under /opt/codex-ref) skips its
# benchmark. The raw `go test -bench` output is kept in $BENCH_LOG
# (default: a temp file, path printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0

work=$(mktemp -d /tmp/zbox-bench.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
log=${BENCH_LOG:-$(mktemp /tmp/zbox-bench-log.XXXXXX)}

go build -o "$work/zbox" ./cmd/zbox
go build -ldflags='-s -w' -o "$work/zbox-stripped" ./cmd/zbox
export ZBOX_BIN="$work/zbox"

run() { # run LABEL PKG BENCH-REGEXP BENCHTIME
  echo "== $1" >>"$log"
  go test -run '^$' -bench "$3" -benchtime "$4" -count 1 "$2" 2>&1 | tee -a "$log" | grep -E '^(Benchmark|--- SKIP|    bench_test)' || true
}

{
  run startup-helper-memory ./e2e '^Benchmark(Startup|Helper|Memory)$' "${BENCH_N:-30}x"
  run binds ./e2e '^BenchmarkBinds$' "${BINDS_N:-10}x"
  run bridge ./e2e '^BenchmarkBridge$' "${BRIDGE_N:-5}x"
  run forwarder ./netns '^Benchmark(ForwarderThroughput|DirectLoopback)$' 2s
} >"$work/raw" 2>&1

bwv=$(bwrap --version 2>/dev/null || echo "bwrap: not installed")
codex=$(ls /opt/codex-ref/node_modules/@openai/codex/vendor/*/codex/codex 2>/dev/null | head -1 || true)
codexv=$([ -n "$codex" ] && "$codex" --version 2>/dev/null || echo "codex: not installed")
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')

echo "### Figures ($(date -u +%Y-%m-%d), \`e2e/bench.sh\`)"
echo
echo "Machine: $cpu, $(nproc) CPUs, kernel $(uname -r), $(go version | cut -d' ' -f3), $bwv, $codexv;"
echo "run as uid $(id -u); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Binary: $(($(stat -c %s "$work/zbox") / 1024)) KiB ($(($(stat -c %s "$work/zbox-stripped") / 1024)) KiB with -ldflags='-s -w')."
echo
echo "| benchmark | figures (medians; ratios are zbox over the reference) |"
echo "|---|---|"
# One row per benchmark: every reported metric but ns/op, with units made
# readable. The forwarder pair becomes one row with its ratio.
awk '
function fmt(v, u) {
  if (u ~ /-MB\/s$/) { sub(/-MB\/s$/, "", u); return sprintf("%s %.0f MB/s", u, v) }
  if (u ~ /-ms$/) { sub(/-ms$/, "", u); return sprintf("%s %.2f ms", u, v) }
  if (u ~ /-KB$/) { sub(/-KB$/, "", u); return sprintf("%s %.1f MiB", u, v / 1024) }
  if (u ~ /-us$/) { sub(/-us$/, "", u); return sprintf("%s %.0f µs", u, v) }
  if (u ~ /-MiB$/) { sub(/-MiB$/, "", u); return sprintf("%s %.1f MiB", u, v) }
  if (u ~ /\//) return sprintf("**%s %.2f×**", u, v)
  return sprintf("%s %g", u, v)
}
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
  if (name == "ForwarderThroughput" || name == "DirectLoopback") {
    for (i = 3; i < NF; i += 2) if ($(i + 1) == "MB/s") mbs[name] = $i
    next
  }
  row = ""
  for (i = 3; i < NF; i += 2) {
    if ($(i + 1) == "ns/op") continue
    row = row (row == "" ? "" : ", ") fmt($i, $(i + 1))
  }
  printf "| %s | %s |\n", name, row
}
/--- SKIP/ { skip = $3 }
/^    bench_test/ && skip != "" { sub(/^ *bench_test.go:[0-9]+: */, ""); printf "| %s | skipped: %s |\n", skip, $0; skip = "" }
END {
  if (mbs["ForwarderThroughput"] != "" && mbs["DirectLoopback"] != "")
    printf "| netns Forwarder (in-process, loopback) | forwarder %.0f MB/s, direct %.0f MB/s, **forwarder/direct %.2f×** |\n",
      mbs["ForwarderThroughput"], mbs["DirectLoopback"], mbs["ForwarderThroughput"] / mbs["DirectLoopback"]
}' "$work/raw"
echo
echo "(raw go test output: $log)"
