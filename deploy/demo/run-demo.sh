#!/usr/bin/env bash
# The quick-start demo: the real gateway over mutual TLS with an embedded
# SQLite store and the five agency adapters loaded into it as plugins.
#
#  - early-help and csc-front-door speak gRPC through ehxctl (issue 2's
#    four flows, on case EH-2026-000123);
#  - school-oakfield (school MIS adapter: CTF in, DSL notices out),
#    health-visiting (health adapter: HL7 v2 over MLLP and FHIR over HTTPS
#    in, FHIR Communication out), early-help-raise (Raise adapter: export
#    files in, import files out), csc (CSC adapter: referral files out,
#    decision files and CIN census in) and supporting-families (outcome
#    tracker CSV in) exchange their own native files on case EH-2026-0100.
#
# Everything runs on loopback with port 0, in $EHX_DEMO_DIR (out/demo).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=$ROOT/build/bin
PLUGINS=$ROOT/build/plugins
WORK=${EHX_DEMO_DIR:-$ROOT/out/demo}
MSG=$ROOT/deploy/demo/messages
FLOW=$ROOT/deploy/demo/flow
CASE=EH-2026-000123     # the ehxctl flows
NCASE=EH-2026-0100      # the native-file flows (Raise case id)

rm -rf "$WORK" && mkdir -p "$WORK"/{data,a}
A=$WORK/a               # the adapters' folders, one per agency
bash deploy/pki/make-dev-pki.sh "$WORK/pki" >/dev/null

sed -e 's#"127.0.0.1:7443"#"127.0.0.1:0"#; s#"127.0.0.1:7444"#"127.0.0.1:0"#' \
    deploy/config/demo.yaml > "$WORK/gateway.yaml"
cat >> "$WORK/gateway.yaml" <<YAML
port_file: ports
plugins:
  - name: raise
    path: $PLUGINS/ehx_adapter_raise.so
    agency: early-help-raise
    config:
      root_dir: $A/raise
      la_code: "801"
      agency_id: early-help-raise
      poll_interval_ms: 200
      create_dirs: true
      scope_agencies: {school: school-oakfield, health_visiting: health-visiting, csc: csc}
  - name: csc
    path: $PLUGINS/ehx_adapter_csc.so
    agency: csc
    config:
      outbox_dir: $A/csc/referrals
      decision_inbox_dir: $A/csc/decisions
      census_inbox_dir: $A/csc/census
      rejected_dir: $A/csc/rejected
      processed_dir: $A/csc/processed
      state_dir: $A/csc/state
      poll_interval_ms: 200
      min_file_age_ms: 50
      create_dirs: true
      step_down_lead_practitioner:
        name: Early Help duty team
        role: Duty lead practitioner
        agency_id: early-help-raise
  - name: school
    path: $PLUGINS/ehx_adapter_school.so
    agency: school-oakfield
    config:
      inbox_dir: $A/school/ctf-in
      rejected_dir: $A/school/rejected
      processed_dir: $A/school/processed
      report_dir: $A/school/reports
      dsl_inbox_dir: $A/school/dsl-inbox
      school_agency_id: school-oakfield
      poll_interval_ms: 200
      min_file_age_ms: 50
      create_dirs: true
      case_map: [{upn: B801200005001, case_ref: $NCASE}]
  - name: health
    path: $PLUGINS/ehx_adapter_health.so
    agency: health-visiting
    config:
      agency_id: health-visiting
      state_dir: $A/health/state
      outbox_dir: $A/health/communications
      create_dirs: true
      mllp: {enabled: true, listen_address: 127.0.0.1, port: 0, port_file: $A/health/mllp.port}
      https:
        enabled: true
        listen_address: 127.0.0.1
        port: 0
        port_file: $A/health/https.port
        cert_file: $WORK/pki/server.pem
        key_file: $WORK/pki/server.key
        client_ca_file: $WORK/pki/ca.pem
        require_client_cert: true
  - name: supporting-families
    path: $PLUGINS/ehx_adapter_supporting_families.so
    agency: supporting-families
    config:
      inbox_dir: $A/sf/inbound
      outbox_dir: $A/sf/outbound
      state_dir: $A/sf/state
      la_code: "801"
      case_refs: {SF801-000100: $NCASE}
      poll_interval_ms: 200
      min_file_age_ms: 50
      create_dirs: true
YAML

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }

step "Checking the configuration"
"$BIN/ehx-gateway" --check-config "$WORK/gateway.yaml"

step "Starting ehx-gateway (mTLS, SQLite WAL synchronous=FULL) with five adapter plugins in $WORK"
"$BIN/ehx-gateway" --config "$WORK/gateway.yaml" >"$WORK/gateway.log" 2>&1 &
GW=$!
trap 'kill $GW 2>/dev/null; wait $GW 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do [[ -s $WORK/ports && -s $A/health/mllp.port ]] && break; sleep 0.1; done
[[ -s $WORK/ports ]] || { cat "$WORK/gateway.log"; echo "gateway did not start"; exit 1; }
PORT=$(sed -n 's/^exchange=//p' "$WORK/ports"); ADMIN=$(sed -n 's/^admin=//p' "$WORK/ports")
MLLP=$(cat "$A/health/mllp.port"); FHIR=$(cat "$A/health/https.port")
echo "exchange API on 127.0.0.1:$PORT, admin API on 127.0.0.1:$ADMIN"
echo "health adapter: HL7 v2 MLLP on 127.0.0.1:$MLLP, FHIR R4 HTTPS on 127.0.0.1:$FHIR"
grep -o 'plugin [a-z-]*: loaded .* as agency [a-z-]*' "$WORK/gateway.log" | sed 's/^/   /' || true

ctl() { local who=$1; shift; "$BIN/ehxctl" --gateway "127.0.0.1:$PORT" --admin "127.0.0.1:$ADMIN" --pki-dir "$WORK/pki" --agency "$who" "$@"; }
# wait_files DIR N [GLOB]: until DIR holds at least N entries matching GLOB.
wait_files() {
  local glob=${3:-*}
  for _ in $(seq 1 150); do
    [[ $(find "$1" -maxdepth 1 -type f -name "$glob" 2>/dev/null | wc -l) -ge $2 ]] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $2 file(s) $glob in $1"; ls -la "$1" || true; return 1
}
newest() { ls -t "$1"/$2 2>/dev/null | head -1; }
# drop SRC DIR: the way an agency system writes: temp name, then rename.
drop() { cp "$1" "$2/.$(basename "$1").tmp" && mv "$2/.$(basename "$1").tmp" "$2/$(basename "$1")"; note "dropped $(basename "$1") into ${2#$WORK/}/"; }
# excerpt FILE EXPR: a few fields of a JSON file (python3 expression over j).
excerpt() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(json.dumps($2, ensure_ascii=False, indent=1)[:900])" "$1" | sed 's/^/     /'; }
# counts REPORT: a short summary of an adapter's JSON report (counts,
# outcome, the first few record problems: positions and rules, no values).
counts() { python3 - "$1" <<'PY' | sed 's/^/   /'
import json, sys
j = json.load(open(sys.argv[1]))
summary = {k: v for k, v in j.items() if isinstance(v, (int, bool, str)) and k not in ("file", "fileSha256", "inputName", "input_name", "receivedAt", "processedAt")}
recs = []
for key in ("records", "rows", "families"):
    items = j.get(key)
    if isinstance(items, list) and items and isinstance(items[0], dict) and "status" in items[0]:
        by = {}
        for r in items: by[r["status"]] = by.get(r["status"], 0) + 1
        summary[key if key != "rows" else "rows with notes"] = by
        if key != "families": recs = items
print("report: " + json.dumps(summary, ensure_ascii=False)[:400])
problems = []
for key in ("errors", "fileIssues", "rowErrors", "issues"):
    for e in j.get(key) or []:
        if isinstance(e, dict) and e.get("severity", "error") != "info": problems.append(e)
for r in recs:
    for i in r.get("issues", []):
        if i.get("severity") in ("error", "warning"):
            problems.append(dict(i, line=r.get("line"), status=r.get("status")))
for e in problems[:3]:
    print("  problem: " + json.dumps({k: v for k, v in e.items() if v is not None and k in ("position", "path", "line", "column", "field", "code", "rule", "severity", "status", "flaggedOnly", "flagged_only")}, ensure_ascii=False))
PY
}

printf '\n\033[1m---- Part 1: early help and the front door over gRPC (ehxctl), case %s ----\033[0m\n' "$CASE"

step "1. Early help opens the case and publishes a CAF notification"
ctl early-help publish "$MSG/01-case-opened.json" "$MSG/02-caf-notification.json"
wait_files "$A/school/dsl-inbox" 1 '*-caf.json'
wait_files "$A/health/communications" 1 'Communication-*.json'
note "-> school adapter: a notice for the designated safeguarding lead: $(basename "$(newest "$A/school/dsl-inbox" '*-caf.json')")"
note "-> health adapter: a FHIR Communication for the health visitors: $(basename "$(newest "$A/health/communications" 'Communication-*.json')")"
excerpt "$(newest "$A/health/communications" 'Communication-*.json')" '{k: j[k] for k in ("resourceType","status","category","about") if k in j}'

step "2. The lead practitioner steps the case up to the front door (Contact Point)"
ctl early-help publish "$MSG/03-step-up-referral.json"
echo "-- Contact Point receives it over its Subscribe stream:"
ctl csc-front-door tail --count 1 --timeout 10
wait_files "$A/csc/referrals" 1 'referral-*.json'
note "-> and the CSC adapter writes the referral file the CSC system takes in: $(basename "$(newest "$A/csc/referrals" 'referral-*.json')")"

step "3. The front door's decision flows back to the referrer"
ctl csc-front-door publish "$MSG/04-referral-outcome.json"
echo "-- Early help receives the outcome:"
ctl early-help tail --count 1 --timeout 10

step "4. CSC steps the family down to early help (RC9)"
ctl csc-front-door publish "$MSG/05-step-down.json"
echo "-- Early help receives the step-down:"
ctl early-help tail --count 1 --timeout 10

printf '\n\033[1m---- Part 2: native files through the adapters loaded in the gateway, case %s ----\033[0m\n' "$NCASE"
RAISE=$A/raise

step "5. Raise (early help case system) exports the case: a Raise export JSON file"
drop "$ROOT/deploy/demo/native/raise-export-20260330T010005Z.json" "$RAISE/export"
wait_files "$RAISE/export/reports" 1 'raise-export-20260330T010005Z.json.report.json'
counts "$RAISE/export/reports/raise-export-20260330T010005Z.json.report.json"
wait_files "$A/school/dsl-inbox" 2 '*-caf.json'
wait_files "$A/health/communications" 2 'Communication-*.json'
note "-> case opened, consent, CAF notification, assessment, TAF meeting, plan and documents published;"
note "   the CAF reaches the agencies the family consented to share with (Raise consent scope school, health_visiting):"
note "-> school DSL inbox: $(basename "$(newest "$A/school/dsl-inbox" '*-caf.json')")"
excerpt "$(newest "$A/school/dsl-inbox" '*-caf.json')" '{k: j[k] for k in list(j)[:8]}'
note "-> health visiting outbox: $(basename "$(newest "$A/health/communications" 'Communication-*.json')")"

step "6. Four days later the Raise export carries a step-up referral -> a CSC referral file"
drop "$FLOW/raise-export-20260402T010005Z.json" "$RAISE/export"
wait_files "$A/csc/referrals" 2 'referral-*.json'
REF=$(newest "$A/csc/referrals" 'referral-SU-0100-1-*.json')
note "-> CSC adapter wrote ${REF#$WORK/}:"
excerpt "$REF" '{k: j[k] for k in ("ehx","referral_id","referred_at","early_help_case_id","urgency") if k in j}'

step "7. The front door records its decision: a CSC decision file -> ReferralOutcome -> Raise import file"
drop "$FLOW/decision-SU-0100-1.json" "$A/csc/decisions"
wait_files "$RAISE/import" 1 'raise-import-*.json'
IMP=$(newest "$RAISE/import" 'raise-import-*.json')
note "-> Raise import file ${IMP#$WORK/}:"
excerpt "$IMP" '[{k: i[k] for k in ("type","caseId","referralOutcome") if k in i} for i in j.get("items", [])]'

step "8. CSC closes the CIN episode with RC9: a CIN census XML -> StepDown -> Raise import file"
drop "$FLOW/cin-census-closure-CS4471.xml" "$A/csc/census"
wait_files "$RAISE/import" 3 'raise-import-*.json'
for f in $(ls -t "$RAISE"/import/raise-import-*.json | head -2); do
  python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print('   -> ' + sys.argv[1].split('/')[-1] + ': ' + ', '.join(i.get('type','?') for i in j.get('items',[])))" "$f"
done
SD=$(grep -l '"step_down"' "$RAISE"/import/raise-import-*.json | head -1)
excerpt "$SD" '[{k: i[k] for k in ("type","caseId","stepDown") if k in i} for i in j.get("items", [])]'

step "9. The school MIS sends a Common Transfer File (CTF XML) -> identity update + attendance summary"
drop "$FLOW/8012000_CTF_8019999_001.xml" "$A/school/ctf-in"
wait_files "$A/school/reports" 1 '8012000_CTF_8019999_001.xml.report.json'
counts "$A/school/reports/8012000_CTF_8019999_001.xml.report.json"
note "-> published as school-oakfield: an identity update and an attendance summary for case $NCASE,"
note "   delivered to the early help service (early-help-raise; Raise's import format has no attendance item,"
note "   so the Raise adapter acknowledges it). The attendance summary, as the dry run of the same file prints it:"
sed "s#\${SCRATCH}#$WORK/dry#g; s#\"R820999925001\"#\"B801200005001\"#; s#EH-2026-000123#$NCASE#" \
  "$ROOT/plugins/adapters/school/conformance.json" > "$WORK/school-dry.yaml"
"$BIN/ehxctl" adapter check --adapter school --config "$WORK/school-dry.yaml" --agency school-oakfield \
  "$FLOW/8012000_CTF_8019999_001.xml" 2>/dev/null | python3 -c "
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if 'attendanceSummary' in e:
        a = dict(e['attendanceSummary'])
        a['pupil'] = {'personId': a['pupil']['personId'], '(identifiers, name, date of birth)': '...'}
        print(json.dumps({'eventType': e['eventType'], 'caseRef': e['caseRef'], 'attendanceSummary': a}, ensure_ascii=False, indent=1)[:1200])
" | sed 's/^/     /'

step "10. The hospital PAS sends an HL7 v2.4 ADT^A08 (ISO 8859-1) over MLLP -> ACK"
python3 - "$MLLP" "$FLOW/adt_a08_amelie_latin1.hl7" <<'PY'
import socket, sys
msg = open(sys.argv[2], "rb").read()
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as s:
    s.sendall(b"\x0b" + msg + b"\x1c\x0d")
    buf = b""
    while not buf.endswith(b"\x1c\x0d"):
        chunk = s.recv(4096)
        if not chunk: break
        buf += chunk
print("   sent " + msg.split(b"\r")[0].decode("latin-1")[:70] + "...")
for seg in buf.strip(b"\x0b\x1c\x0d").split(b"\r"):
    if seg: print("   ACK  " + seg.decode("latin-1"))
PY

step "11. The health visiting record system posts a FHIR R4 Patient over HTTPS (client certificate)"
python3 - "$FHIR" "$WORK/pki" "$FLOW/fhir-patient-amelie.json" <<'PY'
import http.client, json, ssl, sys
port, pki, body = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read()
ctx = ssl.create_default_context(cafile=pki + "/ca.pem")
ctx.load_cert_chain(pki + "/health-visiting.pem", pki + "/health-visiting.key")
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
c.request("POST", "/Patient", body, {"Content-Type": "application/fhir+json"})
r = c.getresponse()
j = json.loads(r.read() or b"{}")
print("   POST /Patient -> HTTP %d, OperationOutcome: %s" % (r.status, "; ".join(i.get("diagnostics", "") for i in j.get("issue", []))))
PY

step "12. Supporting Families uploads its outcome tracker (CSV) -> outcome evidence"
drop "$FLOW/sf-outcome-tracker-801-2026-Q2-20260612T160000Z.csv" "$A/sf/inbound"
wait_files "$A/sf/inbound/reports" 1 '*.report.json'
counts "$(newest "$A/sf/inbound/reports" '*.report.json')"

step "13. A malformed CTF dropped by the school is refused whole, with the reason"
drop "$ROOT/tests/adapters/school/fixtures/truncated.xml" "$A/school/ctf-in"
wait_files "$A/school/rejected" 1 'truncated.xml.report.json'
counts "$A/school/rejected/truncated.xml.report.json"

step "14. The shared record of $NCASE (operator view) and the mailboxes"
ctl ops case show "$NCASE"
ctl ops status

step "15. Stop the gateway and verify the tamper-evident audit trail offline"
kill -TERM $GW; wait $GW || true
trap - EXIT
"$BIN/ehxctl" audit verify "$WORK/data/ehx.db"

step "Demo complete. Gateway log: $WORK/gateway.log; every adapter folder: $A"
echo "(dry runs without a gateway: build/bin/ehxctl adapter check --adapter <name> --config <yaml> <file>...; samples in deploy/demo/native)"
