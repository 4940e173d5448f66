#!/usr/bin/env bash
# `ehxctl adapter check` / `ehxctl adapter render` against the five real
# adapters (raise, csc, school, health, supporting_families) with the demo's
# native samples (deploy/demo/native, deploy/demo/flow), the demo messages
# (deploy/demo/messages) and a few tricky fixtures (tests/adapters/*/fixtures).
# Each adapter's config is its plugins/adapters/<name>/conformance.json with
# ${SCRATCH} pointing into a temp dir, as deploy/demo/run-demo.sh does.
#
# Per adapter: a clean file -> exit 0, N envelopes as JSON lines, a field of
# that adapter's mapping; a file with a bad record -> exit 3, the good records
# still printed, the error line naming position and rule; render of an
# envelope it renders -> exit 0 and a native-format marker; render of one it
# does not -> exit 3 with the adapter's reason. Last, the folder adapter,
# which has neither ingest nor render: exit 1 for both.
#
# Usage: ehxctl_real_adapters_test.sh <ehxctl> <plugin dir> <source root>
set -uo pipefail
ehxctl="$1"
plugins="$2"
root="$3"
native="$root/deploy/demo/native"
flow="$root/deploy/demo/flow"
messages="$root/deploy/demo/messages"
fixtures="$root/tests/adapters"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export EHX_PLUGIN_DIR="$plugins"
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }
expect_rc() {  # name expected actual
  if [[ "$2" == "$3" ]]; then ok "$1 (exit $3)"; else
    bad "$1: exit $3, want $2; stderr: $(head -c 2000 "$tmp/err")"
  fi
}
expect_grep() {  # name fixed-string file
  if grep -qF -- "$2" "$3"; then ok "$1"; else
    bad "$1: no '$2' in $(head -c 2000 "$3")"
  fi
}
expect_no_grep() {  # name fixed-string file
  if ! grep -qF -- "$2" "$3"; then ok "$1"; else bad "$1: '$2' found"; fi
}
expect_lines() {  # name count file: every line a JSON envelope
  local n
  n="$(wc -l <"$3")"
  if [[ "$n" != "$2" ]]; then
    bad "$1: $n lines, want $2"
  elif [[ "$(grep -c '^{"messageId":"dry-run-[0-9]*",.*}$' "$3")" != "$2" ]]; then
    bad "$1: not one JSON envelope per line: $(head -c 500 "$3")"
  else
    ok "$1 ($2 JSON envelopes)"
  fi
}
config() {  # adapter -> $tmp/<adapter>.yaml (JSON is YAML)
  mkdir -p "$tmp/scratch-$1"
  sed "s#\${SCRATCH}#$tmp/scratch-$1#g" \
    "$root/plugins/adapters/$1/conformance.json" >"$tmp/$1.yaml"
}
check() {  # adapter config file... -> $tmp/out, $tmp/err, returns the exit code
  local adapter="$1" cfg="$2"
  shift 2
  "$ehxctl" adapter check --adapter "$adapter" --config "$cfg" "$@" \
    >"$tmp/out" 2>"$tmp/err"
}
render() {  # adapter config envelope.json -> $tmp/out, $tmp/err
  "$ehxctl" adapter render --adapter "$1" --config "$2" "$3" \
    >"$tmp/out" 2>"$tmp/err"
}
for a in raise csc school health supporting_families; do config "$a"; done

# ---------------------------------------------------------------- raise
check raise "$tmp/raise.yaml" "$native/raise-export-20260330T010005Z.json"
expect_rc "raise: clean export" 0 $?
expect_lines "raise: clean export envelopes" 10 "$tmp/out"
expect_grep "raise: case opened keyed by case id" \
  '"idempotencyKey":"raise:case_opened:EH-2026-0100","caseRef":"EH-2026-0100","eventType":"EVENT_TYPE_CASE_OPENED"' "$tmp/out"
expect_grep "raise: Raise person id as an identifier" \
  '"system":"urn:ehx:id:agency:early-help:raise-person-id","value":"P-1001"' "$tmp/out"
expect_grep "raise: a flagged value is reported, still published" \
  '$.cases[0].plan.lastModified: local_time_nonexistent (lastModified)' "$tmp/err"

# Four cases; a child without a date of birth and a case without openedDate
# are refused, the other two cases go through.
check raise "$tmp/raise.yaml" \
  "$fixtures/raise/fixtures/raise-export-20261026T020005Z.json"
expect_rc "raise: export with bad records" 3 $?
expect_lines "raise: the good cases still printed" 18 "$tmp/out"
expect_grep "raise: second good case printed" '"caseRef":"EH-2026-0101"' "$tmp/out"
expect_grep "raise: error names JSON path and rule" \
  'raise-export-20261026T020005Z.json: $.people[8].dateOfBirth: required_field_missing (dateOfBirth)' "$tmp/err"
expect_grep "raise: case error names JSON path and rule" \
  '$.cases[2].openedDate: required_field_missing (openedDate)' "$tmp/err"
expect_grep "raise: bad NHS number flagged" \
  '$.people[5].nhsNumber: nhs_number_invalid (nhsNumber)' "$tmp/err"
expect_grep "raise: summary" "16 record(s), 2 accepted, 3 failed" "$tmp/err"

# Render: a referral outcome and a step-down become Raise import files.
render raise "$tmp/raise.yaml" "$messages/04-referral-outcome.json"
expect_rc "raise: render referral outcome" 0 $?
expect_grep "raise: import schema key" '"importSchema": "raise-eh-case-import"' "$tmp/out"
expect_grep "raise: referral_outcome item" '"type": "referral_outcome"' "$tmp/out"
render raise "$tmp/raise.yaml" "$messages/05-step-down.json"
expect_rc "raise: render step-down" 0 $?
expect_grep "raise: step_down item" '"type": "step_down"' "$tmp/out"
render raise "$tmp/raise.yaml" "$messages/02-caf-notification.json"
expect_rc "raise: render refuses a CAF notification" 3 $?
expect_grep "raise: refusal reason" "not rendered for Raise: not_for_raise" "$tmp/err"
[[ ! -s "$tmp/out" ]] && ok "raise: nothing rendered on refusal" || bad "raise: refusal printed output"

# ---------------------------------------------------------------- csc
# The demo's RC9 closure of a child stepped up from early help (5D referral +
# closure), linked to the case by a case_links entry.
sed '1s#{#{"case_links": [{"la_child_id": "CS4471", "case_ref": "EH-2026-0100"}],#' \
  "$tmp/csc.yaml" >"$tmp/csc-linked.yaml"
check csc "$tmp/csc-linked.yaml" "$flow/cin-census-closure-CS4471.xml"
expect_rc "csc: clean census" 0 $?
expect_lines "csc: clean census envelopes" 2 "$tmp/out"
expect_grep "csc: RC9 closure -> step-down" '"caseRef":"EH-2026-0100","eventType":"EVENT_TYPE_STEP_DOWN"' "$tmp/out"
expect_grep "csc: closure reason" '"closureReason":"RC9"' "$tmp/out"
expect_grep "csc: 5D referral -> referral outcome" '"eventType":"EVENT_TYPE_REFERRAL_OUTCOME"' "$tmp/out"
grep '"EVENT_TYPE_STEP_DOWN"' "$tmp/out" >"$tmp/csc-step-down.json"

# The demo's 2024-25 census: a child without LAchildID, a malformed LAchildID
# and unlinked 5D referrals are refused; the RC9 closures still go through.
check csc "$tmp/csc.yaml" "$native/cin_census_2024_25.xml"
expect_rc "csc: census with bad records" 3 $?
expect_lines "csc: the good records still printed" 4 "$tmp/out"
expect_grep "csc: error names XML position and rule" \
  'cin_census_2024_25.xml: Message/Children/Child[5] (line 128): required (LAchildID)' "$tmp/err"
# The message keeps its wording (an apostrophe is not a quote to redact).
expect_grep "csc: error wording intact" "LAchildID is required to key the child's episodes" "$tmp/err"
expect_grep "csc: bad NHS number flagged" "nhs_number_modulus11 (NHSnumber)" "$tmp/err"

# A front-door decision that echoes nothing of a referral this adapter sent.
check csc "$tmp/csc.yaml" "$flow/decision-SU-0100-1.json"
expect_rc "csc: decision for an unknown referral" 3 $?
expect_grep "csc: decision error position and rule" \
  'decision-SU-0100-1.json: decisions[0]: referral_unknown (referral_id)' "$tmp/err"

# Render: a step-up referral becomes the CSC referral file.
render csc "$tmp/csc.yaml" "$messages/03-step-up-referral.json"
expect_rc "csc: render step-up referral" 0 $?
expect_grep "csc: referral file schema" '"schema": "ehx-csc-referral/1"' "$tmp/out"
expect_grep "csc: ehx block echoes the case" '"case_ref": "EH-2026-000123"' "$tmp/out"
render csc "$tmp/csc.yaml" "$messages/04-referral-outcome.json"
expect_rc "csc: render refuses a referral outcome" 3 $?
expect_grep "csc: refusal rule" "not_step_up_referral" "$tmp/err"

# A line of check's output renders (csc StepDown -> Raise import file).
render raise "$tmp/raise.yaml" "$tmp/csc-step-down.json"
expect_rc "csc check output renders for Raise" 0 $?
expect_grep "csc step-down as a Raise step_down item" '"type": "step_down"' "$tmp/out"

# ---------------------------------------------------------------- school
# The demo's CTF for a pupil in an open case (case_map by permanent UPN).
sed 's#"R820999925001"#"B801200005001"#; s#EH-2026-000123#EH-2026-0100#' \
  "$tmp/school.yaml" >"$tmp/school-flow.yaml"
"$ehxctl" adapter check --adapter school --config "$tmp/school-flow.yaml" \
  --agency school-oakfield "$flow/8012000_CTF_8019999_001.xml" \
  >"$tmp/out" 2>"$tmp/err"
expect_rc "school: clean CTF" 0 $?
expect_lines "school: clean CTF envelopes" 3 "$tmp/out"
expect_grep "school: UPN identifier" '"system":"urn:ehx:id:upn","value":"B801200005001"' "$tmp/out"
expect_grep "school: attendance summary" '"caseRef":"EH-2026-0100","eventType":"EVENT_TYPE_ATTENDANCE_SUMMARY"' "$tmp/out"
expect_grep "school: sender is --agency" '"senderAgency":"school-oakfield"' "$tmp/out"

# The demo's native CTF: a bad UPN check letter and a pupil without surname
# and with an impossible date of birth are refused, the rest goes through.
check school "$tmp/school.yaml" "$native/8209999_CTF_8201234_001.xml"
expect_rc "school: CTF with bad records" 3 $?
expect_lines "school: the good records still printed" 5 "$tmp/out"
expect_grep "school: error names pupil position and rule" \
  '8209999_CTF_8201234_001.xml: CTfile/CTFpupilData/Pupil[5]: upn_check_letter (UPN)' "$tmp/err"
expect_grep "school: second refused pupil" 'CTfile/CTFpupilData/Pupil[6]: date_invalid (DOB)' "$tmp/err"
expect_grep "school: summary" "9 record(s), 1 accepted, 2 failed" "$tmp/err"

# Render: a CAF notification becomes the DSL notice.
render school "$tmp/school.yaml" "$messages/02-caf-notification.json"
expect_rc "school: render CAF notification" 0 $?
expect_grep "school: DSL notice" '"for": "Designated safeguarding lead"' "$tmp/out"
expect_no_grep "school: no NHS number in the notice" "nhs-number" "$tmp/out"
# UNIMPLEMENTED (the ABI's "not an event type I render") is a refusal: 3.
render school "$tmp/school.yaml" "$messages/04-referral-outcome.json"
expect_rc "school: render refuses a referral outcome" 3 $?
expect_grep "school: refusal reason" "unsupported_event_type" "$tmp/err"

# ---------------------------------------------------------------- health
# An HL7 v2.4 ADT^A04 in ISO 8859-1 and a FHIR Patient, in one run.
check health "$tmp/health.yaml" "$native/adt_a04_latin1.hl7" "$native/fhir_patient.json"
expect_rc "health: clean HL7 + FHIR" 0 $?
expect_lines "health: clean envelopes" 2 "$tmp/out"
expect_grep "health: verified NHS number" \
  '"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000018","verification":"VERIFICATION_STATUS_VERIFIED"' "$tmp/out"
expect_grep "health: Latin-1 name decoded" '"given":"Zoë"' "$tmp/out"
expect_grep "health: FHIR Patient id as identifier" '"system":"urn:ehx:id:agency:health-visiting:fhir-patient-id","value":"hv-zoe-0001"' "$tmp/out"

# An HL7 batch: a good A04, one with no PID (refused), another good one.
a04="$native/adt_a04_latin1.hl7"  # segments end in CR; ISO 8859-1 bytes
{
  cat "$a04"
  tr '\r' '\n' <"$a04" | LC_ALL=C grep -av '^PID' | tr '\n' '\r' |
    LC_ALL=C sed 's/MSG-A04-0001/MSG-A04-0002/'
  LC_ALL=C sed 's/MSG-A04-0001/MSG-A04-0003/; s/9990000018/9990000019/' "$a04"
} >"$tmp/batch.hl7"
check health "$tmp/health.yaml" "$tmp/batch.hl7"
expect_rc "health: HL7 batch with a bad message" 3 $?
expect_lines "health: the good messages still printed" 2 "$tmp/out"
expect_grep "health: error names the message and rule" "batch.hl7: message 2 (message MSG-A04-0002): required (PID)" "$tmp/err"
expect_grep "health: bad NHS check digit flagged" \
  "message 3 (message MSG-A04-0003): nhs_number_modulus11 (PID-3[1])" "$tmp/err"
expect_grep "health: summary" "3 record(s), 2 accepted, 1 failed" "$tmp/err"

# Render: a CAF notification and a step-down become FHIR Communications.
render health "$tmp/health.yaml" "$messages/02-caf-notification.json"
expect_rc "health: render CAF notification" 0 $?
expect_grep "health: FHIR Communication" '"resourceType": "Communication"' "$tmp/out"
render health "$tmp/health.yaml" "$messages/05-step-down.json"
expect_rc "health: render step-down" 0 $?
expect_grep "health: step-down Communication" '"resourceType": "Communication"' "$tmp/out"
render health "$tmp/health.yaml" "$messages/03-step-up-referral.json"
expect_rc "health: render refuses a step-up referral" 3 $?
expect_grep "health: refusal reason" "FAILED_PRECONDITION: only CAF notifications" "$tmp/err"

# ------------------------------------------------------ supporting_families
check supporting_families "$tmp/supporting_families.yaml" \
  "$flow/sf-outcome-tracker-801-2026-Q2-20260612T160000Z.csv"
expect_rc "sf: clean tracker" 0 $?
expect_lines "sf: clean tracker envelopes" 3 "$tmp/out"
expect_grep "sf: outcome evidence per family" \
  '"caseRef":"SF801-000100","eventType":"EVENT_TYPE_OUTCOME_EVIDENCE"' "$tmp/out"
expect_grep "sf: a flagged value is reported, still published" \
  "record 3 (line 4): nhs_number_invalid (nhs_number)" "$tmp/err"
# A dry run reads the adapter's state through a scratch copy: the real
# state_dir is left as it was (here: not created at all).
sf_state="$tmp/scratch-supporting_families/sf/state"
expect_grep "sf: dry run says the state is a scratch copy" \
  "state_dir $sf_state is used through a scratch copy" "$tmp/err"
if [[ -z "$(ls -A "$sf_state" 2>/dev/null)" ]]; then
  ok "sf: dry run left state_dir unchanged"
else
  bad "sf: dry run wrote $(ls -A "$sf_state")"
fi
# --write-state lets the check fill the tracker index for the render below.
check supporting_families "$tmp/supporting_families.yaml" --write-state \
  "$flow/sf-outcome-tracker-801-2026-Q2-20260612T160000Z.csv"
expect_rc "sf: check --write-state" 0 $?
if [[ -n "$(ls -A "$sf_state" 2>/dev/null)" ]]; then
  ok "sf: --write-state filled state_dir"
else
  bad "sf: --write-state left state_dir empty"
fi

# The demo's native tracker: a row without surname and a row with an unknown
# headline outcome are refused, the other ten go through.
check supporting_families "$tmp/supporting_families.yaml" \
  "$native/sf-outcome-tracker-801-2026-Q2-20260612T153000Z.csv"
expect_rc "sf: tracker with bad rows" 3 $?
expect_lines "sf: the good rows still printed" 10 "$tmp/out"
expect_grep "sf: error names record, line and rule" \
  "record 10 (line 12): required_value_missing (surname)" "$tmp/err"
expect_grep "sf: second refused row" "record 11 (line 13): unknown_headline_outcome (headline_outcome)" "$tmp/err"
expect_grep "sf: summary" "12 record(s), 10 accepted, 2 failed" "$tmp/err"

# Render: the tracker index (state_dir) now knows Amélie by her NHS number;
# an attendance summary for her becomes the outbound evidence CSV.
cat >"$tmp/attendance.json" <<'EOF'
{"messageId": "m-att-1", "caseRef": "EH-2026-000100",
 "eventType": "EVENT_TYPE_ATTENDANCE_SUMMARY",
 "occurredAt": "2026-03-27T08:00:00Z", "acceptedAt": "2026-04-01T06:00:00Z",
 "attendanceSummary": {
   "pupil": {"identifiers": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
                              "value": "9990000018"}]},
   "academicYear": "2025/26", "schoolUrn": "100001", "schoolLaEstab": "8012000",
   "periodStart": {"year": 2025, "month": 9, "day": 3},
   "sessionsPossible": 230, "sessionsAttended": 200,
   "sessionsAuthorisedAbsence": 18, "sessionsUnauthorisedAbsence": 12}}
EOF
render supporting_families "$tmp/supporting_families.yaml" "$tmp/attendance.json"
expect_rc "sf: render attendance evidence" 0 $?
expect_grep "sf: evidence CSV header" "la_code,family_ref,person_ref,evidence_id,evidence_type" "$tmp/out"
expect_grep "sf: evidence row" ",school_attendance,Getting a good education,academic_year,2025-09-03," "$tmp/out"
mkdir "$tmp/sf-out"
"$ehxctl" adapter render --adapter supporting_families \
  --config "$tmp/supporting_families.yaml" --out-dir "$tmp/sf-out" \
  "$tmp/attendance.json" >"$tmp/out" 2>"$tmp/err"
expect_rc "sf: render to --out-dir" 0 $?
[[ -f "$tmp/sf-out/sf-evidence-801-20260401T060000Z.csv" ]] &&
  ok "sf: evidence file under the contract's name" ||
  bad "sf: out-dir holds $(ls "$tmp/sf-out")"
render supporting_families "$tmp/supporting_families.yaml" "$messages/01-case-opened.json"
expect_rc "sf: render refuses a case opened" 3 $?
expect_grep "sf: refusal reason" "INVALID_ARGUMENT" "$tmp/err"

# ---------------------------------------------------------------- folder
# The folder adapter carries ehx JSON envelopes already and overrides
# neither Ingest nor Render: the SDK exports no ingest/render entry, so
# ehxctl knows before calling that it cannot dry-run it (exit 1, not the
# record failure 3).
cat >"$tmp/folder.yaml" <<YAML
{"inbox_dir": "$tmp/folder/in", "outbox_dir": "$tmp/folder/out",
 "rejected_dir": "$tmp/folder/rejected", "create_dirs": true}
YAML
check folder "$tmp/folder.yaml" "$messages/02-caf-notification.json"
expect_rc "folder: check (no ingest)" 1 $?
expect_grep "folder: check says why" \
  "adapter does not support ingest (folder, ABI 1.2)" "$tmp/err"
render folder "$tmp/folder.yaml" "$messages/02-caf-notification.json"
expect_rc "folder: render (no render)" 1 $?
expect_grep "folder: render says why" \
  "adapter does not support render (folder, ABI 1.2)" "$tmp/err"

echo "$pass passed, $fail failed"
((fail == 0))
