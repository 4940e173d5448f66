#!/usr/bin/env bash
# run.sh: build ehx-gateway + ehx_bench and run the full benchmark, teeing
# the output to a file.
#
#   tests/bench/run.sh [BUILD_DIR] [-- ehx_bench args...]
#
# BUILD_DIR defaults to build-bench at the repo root. Output goes to
# BUILD_DIR/bench-<date>.txt (path printed at the end). Extra arguments
# after "--" go to ehx_bench (e.g. -- --seconds 10 --queued 50000).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$root/build-bench"
if [[ $# -gt 0 && "$1" != "--" ]]; then
  build="$1"
  shift
fi
[[ $# -gt 0 && "$1" == "--" ]] && shift

if [[ ! -f "$build/build.ninja" ]]; then
  CCACHE_BASEDIR="$root" cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$build" -j"$(nproc)" ehx-gateway ehx_bench

out="$build/bench-$(date +%Y%m%d-%H%M%S).txt"
{
  echo "# ehx_bench $(date -Is) on $(hostname), $(nproc) cores"
  echo "# git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "# loadavg before: $(cat /proc/loadavg)"
  "$build/bin/ehx_bench" --gateway "$build/bin/ehx-gateway" "$@"
} 2>&1 | tee "$out"
echo "output: $out"
