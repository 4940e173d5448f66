#!/usr/bin/env bash
# Builds fuzz_school_ctf_ingest without the shared fuzz project
# (tests/fuzz/build.sh configures every adapter; when another adapter's
# CMake is mid-edit that project does not configure). Same flags:
# clang-14, -fsanitize=fuzzer,address,undefined, -O1 -g.
#
# Usage: tests/fuzz/school/standalone.sh [OUT_DIR]   (default build-fuzz-school)
# Then:  mkdir -p /tmp/ctf && cp tests/fuzz/school/corpus/ctf_ingest/* /tmp/ctf &&
#        nice OUT_DIR/fuzz_school_ctf_ingest /tmp/ctf \
#          -dict=tests/fuzz/school/ctf.dict -max_total_time=600
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
out="${1:-$root/build-fuzz-school}"
copy="$out/proto"; gen="$out/gen"; obj="$out/obj"
mkdir -p "$copy" "$gen" "$obj"
rels=(ehx/cases/v1/common.proto ehx/cases/v1/assessment.proto
      ehx/cases/v1/cases.proto ehx/exchange/v1/envelope.proto
      ehx/adapter/v1/ingest.proto)
copies=()
for rel in "${rels[@]}"; do
  dst="ehxa_school/${rel#ehx/}"
  cmake -DNAME=school -DIN="$root/protos/$rel" -DOUT="$copy/$dst" \
    -P "$root/plugins/cmake/ehx_rewrite_proto.cmake"
  copies+=("$dst")
done
cmake -DNAME=school -DIN="$root/plugins/adapters/school/school_config.proto" \
  -DOUT="$copy/ehxa_school/school_config.proto" \
  -P "$root/plugins/cmake/ehx_rewrite_proto.cmake"
copies+=(ehxa_school/school_config.proto)
(cd "$copy" && protoc -I . --cpp_out="$gen" "${copies[@]}")
{
  echo "#ifndef EHX_ADAPTER_PROTOS_H_"
  echo "#define EHX_ADAPTER_PROTOS_H_"
  for c in "${copies[@]}"; do echo "#include \"${c%.proto}.pb.h\""; done
  echo "namespace ehxpb = ::ehxa_school;"
  echo "#define EHX_ADAPTER_SCHEMA_PREFIX \"ehxa_school\""
  echo "#endif"
} > "$gen/ehx_adapter_protos.h"

flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer
       -fsanitize=address,undefined -fno-sanitize-recover=undefined
       -I "$gen" -I "$root/plugins/adapters/school" -I "$root/plugins/sdk"
       -I "$root/plugins/abi")
srcs=()
for c in "${copies[@]}"; do srcs+=("$gen/${c%.proto}.pb.cc"); done
for s in school_ingest ctf_mapper ctf_reader ctf_xml case_index school_ids; do
  srcs+=("$root/plugins/adapters/school/$s.cc")
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
  "$root/tests/fuzz/school/ctf_ingest.cc" "${objs[@]}" \
  -lprotobuf -labsl_time -labsl_time_zone -lexpat -lpthread \
  -o "$out/fuzz_school_ctf_ingest"
echo "built: $out/fuzz_school_ctf_ingest"
