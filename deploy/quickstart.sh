#!/usr/bin/env bash
# Quick start: set everything up and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/bootstrap.sh
exec bash deploy/demo/run-demo.sh "$@"
