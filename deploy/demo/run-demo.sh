#!/usr/bin/env bash
# The quick-start demo: the real gateway over mutual TLS with an embedded
# SQLite store. Early help (Raise) and the CSC front door (Contact Point)
# speak gRPC through ehxctl; the school and health visiting receive through
# the folder (file-drop) adapter plugin.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=$ROOT/build/bin
WORK=${EHX_DEMO_DIR:-$ROOT/out/demo}
MSG=$ROOT/deploy/demo/messages
CASE=EH-2026-000123

rm -rf "$WORK" && mkdir -p "$WORK"/{data,drop}
for a in school-oakfield health-visiting; do mkdir -p "$WORK/drop/$a"/{in,out,rejected}; done
bash deploy/pki/make-dev-pki.sh "$WORK/pki" >/dev/null

sed -e 's#"127.0.0.1:7443"#"127.0.0.1:0"#; s#"127.0.0.1:7444"#"127.0.0.1:0"#' \
    deploy/config/demo.yaml > "$WORK/gateway.yaml"
cat >> "$WORK/gateway.yaml" <<YAML
port_file: ports
plugins:
YAML
for a in school-oakfield health-visiting; do
cat >> "$WORK/gateway.yaml" <<YAML
  - name: $a-drop
    path: $ROOT/build/plugins/ehx_adapter_folder.so
    agency: $a
    config:
      inbox_dir: $WORK/drop/$a/in
      outbox_dir: $WORK/drop/$a/out
      rejected_dir: $WORK/drop/$a/rejected
      poll_interval_ms: 200
YAML
done

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Checking the configuration"
"$BIN/ehx-gateway" --check-config "$WORK/gateway.yaml"

step "Starting ehx-gateway (mTLS, SQLite WAL synchronous=FULL) in $WORK"
"$BIN/ehx-gateway" --config "$WORK/gateway.yaml" >"$WORK/gateway.log" 2>&1 &
GW=$!
trap 'kill $GW 2>/dev/null; wait $GW 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do [[ -s $WORK/ports ]] && break; sleep 0.1; done
[[ -s $WORK/ports ]] || { cat "$WORK/gateway.log"; echo "gateway did not start"; exit 1; }
PORT=$(sed -n 's/^exchange=//p' "$WORK/ports"); ADMIN=$(sed -n 's/^admin=//p' "$WORK/ports")
echo "exchange API on 127.0.0.1:$PORT, admin API on 127.0.0.1:$ADMIN"

ctl() { local who=$1; shift; "$BIN/ehxctl" --gateway "127.0.0.1:$PORT" --admin "127.0.0.1:$ADMIN" --pki-dir "$WORK/pki" --agency "$who" "$@"; }
wait_files() { for _ in $(seq 1 100); do [[ $(ls "$1" | wc -l) -ge $2 ]] && return 0; sleep 0.1; done; echo "timed out waiting for $1"; return 1; }

step "1. Early help (Raise) opens the case and publishes a CAF notification"
ctl early-help publish "$MSG/01-case-opened.json" "$MSG/02-caf-notification.json"
wait_files "$WORK/drop/school-oakfield/out" 2
wait_files "$WORK/drop/health-visiting/out" 2
for a in school-oakfield health-visiting; do
  echo "-- $a outbox (folder adapter):"; ls "$WORK/drop/$a/out"
done

step "2. The lead practitioner steps the case up to the front door (Contact Point)"
ctl early-help publish "$MSG/03-step-up-referral.json"
echo "-- Contact Point receives it over its Subscribe stream:"
ctl csc-front-door tail --count 1 --timeout 10

step "3. The front door's decision flows back to the referrer"
ctl csc-front-door publish "$MSG/04-referral-outcome.json"
echo "-- Early help receives the outcome:"
ctl early-help tail --count 1 --timeout 10

step "4. CSC steps the family down to early help (RC9)"
ctl csc-front-door publish "$MSG/05-step-down.json"
echo "-- Early help receives the step-down:"
ctl early-help tail --count 1 --timeout 10

step "5. A malformed file dropped by the school is refused, with the reason"
python3 - "$MSG/02-caf-notification.json" "$WORK/drop/school-oakfield/in/.bad.tmp" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
e["idempotencyKey"] = "school-bad-1"
e.pop("caseRef", None)
json.dump(e, open(sys.argv[2], "w"))
PY
mv "$WORK/drop/school-oakfield/in/.bad.tmp" "$WORK/drop/school-oakfield/in/bad.json"
wait_files "$WORK/drop/school-oakfield/rejected" 2
cat "$WORK/drop/school-oakfield/rejected/"*.error.txt

step "6. The shared record of $CASE (operator view)"
ctl ops case show "$CASE"
ctl ops status

step "7. Stop the gateway and verify the tamper-evident audit trail offline"
kill -TERM $GW; wait $GW || true
trap - EXIT
"$BIN/ehxctl" audit verify "$WORK/data/ehx.db"

step "8. Native formats: each agency's real files through its adapter (dry run, real validator)"
NATIVE=$ROOT/deploy/demo/native
mkdir -p "$WORK/native"
check() {  # check <adapter> <agency> <file>...
  local a=$1 agency=$2; shift 2
  sed "s#\${SCRATCH}#$WORK/native/$a#g" "$ROOT/plugins/adapters/$a/conformance.json" > "$WORK/native/$a.yaml"
  echo "-- $a adapter ($agency): $(basename -a "$@" | tr '\n' ' ')"
  local rc=0
  "$BIN/ehxctl" adapter check --adapter "$a" --config "$WORK/native/$a.yaml" --agency "$agency" "$@" \
    >"$WORK/native/$a.envelopes.jsonl" 2>"$WORK/native/$a.report.txt" || rc=$?
  echo "   $(wc -l < "$WORK/native/$a.envelopes.jsonl") ehx envelope(s) -> $WORK/native/$a.envelopes.jsonl (exit $rc)"
  { grep -E 'record\(s\)' "$WORK/native/$a.report.txt" | sed 's#^ehxctl: [^:]*/#   #'; } || true
  { grep -vE 'record\(s\)' "$WORK/native/$a.report.txt" | sed 's#^ehxctl: [^:]*/#   problem: #' | head -3; } || true
}
check school school-oakfield "$NATIVE/8209999_CTF_8201234_001.xml"
check health health-visiting "$NATIVE/adt_a04_latin1.hl7" "$NATIVE/fhir_patient.json"
check raise early-help "$NATIVE/raise-export-20260330T010005Z.json"
check csc csc-front-door "$NATIVE/cin_census_2024_25.xml"
check supporting_families supporting-families "$NATIVE/sf-outcome-tracker-801-2026-Q2-20260612T153000Z.csv"
echo "(the sample files carry deliberate bad records: each is reported with its position and rule while the rest go through)"
echo "-- and back: the step-up referral as the CSC system's referral file, the CAF as a FHIR Communication for health visitors:"
mkdir -p "$WORK/native/render"
"$BIN/ehxctl" adapter render --adapter csc --config "$WORK/native/csc.yaml" --out-dir "$WORK/native/render" "$MSG/03-step-up-referral.json" 2>/dev/null || true
"$BIN/ehxctl" adapter render --adapter health --config "$WORK/native/health.yaml" --out-dir "$WORK/native/render" "$MSG/02-caf-notification.json" 2>/dev/null || true
ls "$WORK/native/render" | sed "s#^#   #"

step "Demo complete. Gateway log: $WORK/gateway.log"
