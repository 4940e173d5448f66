#!/usr/bin/env bash
# Builds fuzz_csc_census and fuzz_csc_decisions without the shared fuzz
# project (tests/fuzz/build.sh configures every adapter; when another
# adapter's CMake does not configure there, neither does ours). Same flags:
# clang-14, -fsanitize=fuzzer,address,undefined, -O1 -g. tests/fuzz/build.sh
# csc builds the same targets when the shared project configures.
#
# Usage: tests/fuzz/csc/standalone.sh [OUT_DIR]   (default build-csc/fuzz)
# Then:  mkdir -p /tmp/cin && cp tests/fuzz/csc/corpus/census/* /tmp/cin &&
#        nice OUT_DIR/fuzz_csc_census /tmp/cin -dict=tests/fuzz/csc/census.dict \
#          -max_total_time=600     (decisions: corpus/decisions, no dict)
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
out="${1:-$root/build-csc/fuzz}"
copy="$out/proto"; gen="$out/gen"; obj="$out/obj"
mkdir -p "$copy" "$gen" "$obj"
rels=(ehx/cases/v1/common.proto ehx/cases/v1/assessment.proto
      ehx/cases/v1/cases.proto ehx/exchange/v1/envelope.proto
      ehx/adapter/v1/ingest.proto)
copies=()
for rel in "${rels[@]}"; do
  dst="ehxa_csc/${rel#ehx/}"
  cmake -DNAME=csc -DIN="$root/protos/$rel" -DOUT="$copy/$dst" \
    -P "$root/plugins/cmake/ehx_rewrite_proto.cmake"
  copies+=("$dst")
done
cmake -DNAME=csc -DIN="$root/plugins/adapters/csc/csc_config.proto" \
  -DOUT="$copy/ehxa_csc/csc_config.proto" \
  -P "$root/plugins/cmake/ehx_rewrite_proto.cmake"
copies+=(ehxa_csc/csc_config.proto)
(cd "$copy" && protoc -I . --cpp_out="$gen" "${copies[@]}")
{
  echo "#ifndef EHX_ADAPTER_PROTOS_H_"
  echo "#define EHX_ADAPTER_PROTOS_H_"
  for c in "${copies[@]}"; do echo "#include \"${c%.proto}.pb.h\""; done
  echo "namespace ehxpb = ::ehxa_csc;"
  echo "#define EHX_ADAPTER_SCHEMA_PREFIX \"ehxa_csc\""
  echo "#endif"
} > "$gen/ehx_adapter_protos.h"

flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer
       -fsanitize=address,undefined -fno-sanitize-recover=undefined
       -I "$gen" -I "$root/plugins/adapters/csc" -I "$root/plugins/sdk"
       -I "$root/plugins/abi")
srcs=()
for c in "${copies[@]}"; do srcs+=("$gen/${c%.proto}.pb.cc"); done
for s in csc_util cin_census census_mapper decision_mapper referral_render \
         csc_ingest link_index; do
  srcs+=("$root/plugins/adapters/csc/$s.cc")
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
for t in census decisions; do
  clang++-14 "${flags[@]}" -fsanitize=fuzzer \
    "$root/tests/fuzz/csc/$t.cc" "${objs[@]}" \
    -lexpat -lprotobuf -labsl_time -labsl_time_zone -lpthread \
    -o "$out/fuzz_csc_$t"
  echo "built: $out/fuzz_csc_$t"
done
