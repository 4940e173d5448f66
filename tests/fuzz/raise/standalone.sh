#!/usr/bin/env bash
# Builds fuzz_raise_export_parse without the shared fuzz project
# (tests/fuzz/build.sh configures every adapter; when another adapter's
# CMake is mid-edit that project does not configure). Same flags:
# clang-14, -fsanitize=fuzzer,address,undefined, -O1 -g.
#
# Usage: tests/fuzz/raise/standalone.sh [OUT_DIR]   (default build-fuzz-raise)
# Then:  mkdir -p /tmp/raise-corpus && cp tests/fuzz/raise/corpus/export_parse/* /tmp/raise-corpus &&
#        nice OUT_DIR/fuzz_raise_export_parse /tmp/raise-corpus \
#          -dict=tests/fuzz/raise/raise.dict -max_total_time=600
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
out="${1:-$root/build-fuzz-raise}"
copy="$out/proto"; gen="$out/gen"; obj="$out/obj"
mkdir -p "$copy" "$gen" "$obj"
rels=(ehx/cases/v1/common.proto ehx/cases/v1/assessment.proto
      ehx/cases/v1/cases.proto ehx/exchange/v1/envelope.proto
      ehx/adapter/v1/ingest.proto)
copies=()
for rel in "${rels[@]}"; do
  dst="ehxa_raise/${rel#ehx/}"
  cmake -DNAME=raise -DIN="$root/protos/$rel" -DOUT="$copy/$dst" \
    -P "$root/plugins/cmake/ehx_rewrite_proto.cmake"
  copies+=("$dst")
done
cmake -DNAME=raise -DIN="$root/plugins/adapters/raise/raise_config.proto" \
  -DOUT="$copy/ehxa_raise/raise_config.proto" \
  -P "$root/plugins/cmake/ehx_rewrite_proto.cmake"
copies+=(ehxa_raise/raise_config.proto)
(cd "$copy" && protoc -I . --cpp_out="$gen" "${copies[@]}")
{
  echo "#ifndef EHX_ADAPTER_PROTOS_H_"
  echo "#define EHX_ADAPTER_PROTOS_H_"
  for c in "${copies[@]}"; do echo "#include \"${c%.proto}.pb.h\""; done
  echo "namespace ehxpb = ::ehxa_raise;"
  echo "#define EHX_ADAPTER_SCHEMA_PREFIX \"ehxa_raise\""
  echo "#endif"
} > "$gen/ehx_adapter_protos.h"

flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer
       -fsanitize=address,undefined -fno-sanitize-recover=undefined
       -I "$gen" -I "$root/plugins/adapters/raise" -I "$root/plugins/sdk"
       -I "$root/plugins/abi")
srcs=()
for c in "${copies[@]}"; do srcs+=("$gen/${c%.proto}.pb.cc"); done
for s in raise_json raise_values raise_export raise_ingest raise_import; do
  srcs+=("$root/plugins/adapters/raise/$s.cc")
done
objs=()
pids=()
for s in "${srcs[@]}"; do
  o="$obj/$(basename "${s%.cc}").o"
  objs+=("$o")
  if [[ ! -f "$o" || "$s" -nt "$o" ]]; then
    extra=(-fsanitize=fuzzer-no-link)
    [[ "$s" == *.pb.cc ]] && extra=(-w)  # generated code: not instrumented
    clang++-14 "${flags[@]}" "${extra[@]}" -c "$s" -o "$o" &
    pids+=($!)
    if (( ${#pids[@]} >= ${EHX_FUZZ_JOBS:-2} )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  fi
done
for p in "${pids[@]}"; do wait "$p"; done
clang++-14 "${flags[@]}" -fsanitize=fuzzer \
  "$root/tests/fuzz/raise/export_parse.cc" "${objs[@]}" \
  -lprotobuf -labsl_time -labsl_time_zone -lcrypto -lpthread \
  -o "$out/fuzz_raise_export_parse"
echo "built: $out/fuzz_raise_export_parse"
