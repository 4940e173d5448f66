#!/usr/bin/env bash
# `ehxctl adapter check` / `ehxctl adapter render` against the probe adapter
# (tests/conformance/probe_plugin.cc): output, errors and exit codes.
# Usage: ehxctl_adapter_test.sh <ehxctl> <test plugin dir>
set -uo pipefail
ehxctl="$1"
plugins="$2"
probe="$plugins/ehx_adapter_probe.so"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }
expect_rc() {  # name expected actual
  if [[ "$2" == "$3" ]]; then ok "$1 (exit $3)"; else bad "$1: exit $3, want $2"; fi
}
expect_grep() {  # name pattern file
  if grep -q -- "$2" "$3"; then ok "$1"; else bad "$1: no '$2' in $(cat "$3")"; fi
}

printf 'EH-2026-000001\r\nEH-2026-000002\n' >"$tmp/good.txt"
printf 'EH-2026-000001\nNOPAYLOAD\nEH-2026-000003\n' >"$tmp/mixed.txt"
printf 'EH-1\n\0\n' >"$tmp/binary.txt"
printf 'disposition: ack\nnested:\n  label: x\n' >"$tmp/probe.yaml"
printf 'nested:\n  lable: x\n' >"$tmp/bad.yaml"
printf 'throw_in: ingest\n' >"$tmp/throw.yaml"

# check: every record accepted -> 0, one JSON envelope per line.
"$ehxctl" adapter check --adapter "$probe" --config "$tmp/probe.yaml" \
  --agency school-x "$tmp/good.txt" >"$tmp/out" 2>"$tmp/err"
expect_rc "check all good" 0 $?
[[ "$(wc -l <"$tmp/out")" == 2 ]] && ok "two envelopes printed" || bad "two envelopes printed: $(cat "$tmp/out")"
expect_grep "envelope JSON has the idempotency key" '"idempotencyKey":"probe-good.txt-1"' "$tmp/out"
expect_grep "sender is --agency" '"senderAgency":"school-x"' "$tmp/out"
expect_grep "summary on stderr" "2 record(s), 2 accepted, 0 failed" "$tmp/err"

# check: a record refused by the gateway's validator -> 3, error with position.
"$ehxctl" adapter check --adapter "$probe" "$tmp/mixed.txt" >"$tmp/out" 2>"$tmp/err"
expect_rc "check refused record" 3 $?
[[ "$(wc -l <"$tmp/out")" == 2 ]] && ok "the other two still go through" || bad "other records: $(cat "$tmp/out")"
expect_grep "record error names input, position, rule, field" "mixed.txt: line 2: required (payload)" "$tmp/err"

# check: whole input rejected -> 3.
"$ehxctl" adapter check --adapter "$probe" "$tmp/binary.txt" >"$tmp/out" 2>"$tmp/err"
expect_rc "check rejected input" 3 $?
expect_grep "input rejection reported" "input rejected: binary input" "$tmp/err"
[[ ! -s "$tmp/out" ]] && ok "nothing printed for a rejected input" || bad "printed: $(cat "$tmp/out")"

# check: adapter by name through EHX_PLUGIN_DIR.
EHX_PLUGIN_DIR="$plugins" "$ehxctl" adapter check --adapter probe "$tmp/good.txt" >"$tmp/out" 2>"$tmp/err"
expect_rc "adapter by name" 0 $?
EHX_PLUGIN_DIR="$plugins" "$ehxctl" adapter check --adapter nosuch "$tmp/good.txt" >"$tmp/out" 2>"$tmp/err"
expect_rc "unknown adapter name" 1 $?
expect_grep "unknown adapter named" "adapter 'nosuch' not found" "$tmp/err"

# check: config errors name the key path -> 2.
"$ehxctl" adapter check --adapter "$probe" --config "$tmp/bad.yaml" "$tmp/good.txt" >"$tmp/out" 2>"$tmp/err"
expect_rc "bad config key" 2 $?
expect_grep "bad key path" "bad.yaml.nested.lable: unknown key" "$tmp/err"
"$ehxctl" adapter check --adapter "$probe" "$tmp/missing.txt" >"$tmp/out" 2>"$tmp/err"
expect_rc "unreadable input" 2 $?

# check: a throwing Ingest is contained -> 1.
"$ehxctl" adapter check --adapter "$probe" --config "$tmp/throw.yaml" "$tmp/good.txt" >"$tmp/out" 2>"$tmp/err"
expect_rc "throwing ingest" 1 $?
expect_grep "exception text" "boom in ingest" "$tmp/err"

# check: an ABI 1.1 plugin cannot ingest -> 1.
"$ehxctl" adapter check --adapter "$plugins/ehx_adapter_tc_v11.so" "$tmp/good.txt" >"$tmp/out" 2>"$tmp/err"
expect_rc "1.1 plugin" 1 $?
expect_grep "1.1 plugin reason" "adapter does not support ingest" "$tmp/err"

# render: check's output round-trips.
"$ehxctl" adapter check --adapter "$probe" "$tmp/good.txt" 2>/dev/null | head -1 >"$tmp/env.json"
"$ehxctl" adapter render --adapter "$probe" "$tmp/env.json" >"$tmp/out" 2>"$tmp/err"
expect_rc "render to stdout" 0 $?
expect_grep "rendered content" "EH-2026-000001" "$tmp/out"
mkdir "$tmp/od"
"$ehxctl" adapter render --adapter "$probe" --out-dir "$tmp/od" "$tmp/env.json" >"$tmp/out" 2>"$tmp/err"
expect_rc "render to --out-dir" 0 $?
[[ -f "$tmp/od/dry-run-1.txt" ]] && ok "file written under its file_name" || bad "out-dir: $(ls "$tmp/od")"
printf '{"caseRef": "EH-1", "messageId": ""}' >"$tmp/noid.json"
"$ehxctl" adapter render --adapter "$probe" "$tmp/noid.json" >"$tmp/out" 2>"$tmp/err"
expect_rc "render gives a message id" 0 $?
printf '{"caseRef": ' >"$tmp/broken.json"
"$ehxctl" adapter render --adapter "$probe" "$tmp/broken.json" >"$tmp/out" 2>"$tmp/err"
expect_rc "render of unparsable JSON" 2 $?
"$ehxctl" adapter render --adapter "$plugins/ehx_adapter_tc_v11.so" "$tmp/env.json" >"$tmp/out" 2>"$tmp/err"
expect_rc "render on a 1.1 plugin" 1 $?
expect_grep "1.1 render reason" "adapter does not support render" "$tmp/err"
"$ehxctl" adapter >"$tmp/out" 2>"$tmp/err"
expect_rc "usage" 2 $?

echo "$pass passed, $fail failed"
((fail == 0))
