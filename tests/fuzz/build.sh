#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, -fsanitize=fuzzer,address,undefined)
# in a standalone CMake project (tests/fuzz/CMakeLists.txt), separate from the
# main gcc build and from ctest.
#
# Usage: tests/fuzz/build.sh [--build-dir DIR] [NAME...]
#   NAME: a folder under tests/fuzz/ (e.g. supporting_families); none = all.
#   Binaries: DIR/bin/fuzz_<name>_<stem> (DIR defaults to ./build-fuzz).
#
# Convention for contributors: put each fuzz target in
# tests/fuzz/<adapter name>/<target>.cc (one LLVMFuzzerTestOneInput per
# file); it is linked with ehx_adapter_<adapter name>_core automatically.
# Seeds go in tests/fuzz/<name>/corpus/<target>/ (or corpus/). Run e.g.
#   mkdir -p /tmp/c && cp -r tests/fuzz/x/corpus/y/. /tmp/c &&
#   nice build-fuzz/bin/fuzz_x_y /tmp/c -max_total_time=600
# (the first directory is written to; keep the checked-in seeds read-only).
#
# Needs: apt-get install -y clang-14 libclang-rt-14-dev
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$root/build-fuzz"
names=()
while (($#)); do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) names+=("$1"); shift ;;
  esac
done
for tool in clang-14 clang++-14 cmake ninja; do
  command -v "$tool" >/dev/null || {
    echo "build.sh: $tool missing (apt-get install -y clang-14 libclang-rt-14-dev cmake ninja-build)" >&2
    exit 2
  }
done
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CCACHE_BASEDIR="$root" cmake -G Ninja -S "$root/tests/fuzz" -B "$build" \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=Debug "${launcher[@]}" >/dev/null
targets=()
if ((${#names[@]})); then
  for n in "${names[@]}"; do targets+=("fuzz_$n"); done
else
  targets=(fuzz_all)
fi
ninja -C "$build" -j"${EHX_FUZZ_JOBS:-2}" "${targets[@]}"
ls "$build/bin" 2>/dev/null | sed 's/^/built: /'
