#!/usr/bin/env bash
# Installs exactly the Debian 12 packages ehx needs (idempotent), then
# configures and builds into ./build (Ninja, ccache, -j2).
# Usage: deploy/bootstrap.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git openssl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev libsqlite3-dev sqlite3 libyaml-cpp-dev libcli11-dev
  libspdlog-dev libboost-dev libgtest-dev libgmock-dev nlohmann-json3-dev
  python3-grpcio python3-protobuf libexpat1-dev tzdata clang-14 libclang-rt-14-dev
  python3-jsonschema libxxhash-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[[ "${1:-}" == "--no-build" ]] && exit 0

export CCACHE_BASEDIR="$PWD"
if [[ ! -f build/build.ninja ]]; then
  cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
start=$(date +%s)
ninja -C build -j2
echo "bootstrap: build finished in $(( $(date +%s) - start ))s"
