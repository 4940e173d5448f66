#!/usr/bin/env bash
# make-dev-pki.sh: a throw-away PKI for development and tests.
#
#   make-dev-pki.sh [--force] OUTDIR [agency ...]
#
# Writes into OUTDIR (see deploy/pki/README.md for the full list):
#   ca.pem ca.key                 dev root CA (ECDSA P-256)
#   server.pem server.key         server cert, SAN DNS:localhost, IP:127.0.0.1,
#                                 EKU serverAuth
#   <agency>.pem <agency>.key     client cert per agency, SAN URI
#                                 urn:ehx:agency:<agency>, EKU clientAuth
#   bad/...                       certificates a gateway must refuse
#
# Default agencies: the demo agencies and the operator "ops".
# Idempotent: does nothing if OUTDIR/ca.pem exists, unless --force.
# NOT for production: keys are unencrypted and the CA key sits next to them.
set -euo pipefail

usage() {
  echo "usage: $0 [--force] OUTDIR [agency ...]" >&2
  exit 2
}

force=0
args=()
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    -h | --help)
      sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*) echo "unknown option: $a" >&2; usage ;;
    *) args+=("$a") ;;
  esac
done
[[ ${#args[@]} -ge 1 ]] || usage
out="${args[0]}"
agencies=("${args[@]:1}")
if [[ ${#agencies[@]} -eq 0 ]]; then
  agencies=(early-help school-oakfield health-visiting csc-front-door ops)
fi
for id in "${agencies[@]}"; do
  if [[ ! "$id" =~ ^[a-z0-9][a-z0-9-]*$ ]]; then
    echo "invalid agency id '$id' (lower case letters, digits and '-')" >&2
    exit 2
  fi
done

command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 1; }

if [[ -e "$out/ca.pem" && $force -eq 0 ]]; then
  echo "$out/ca.pem exists; keeping the existing PKI (use --force to redo)"
  exit 0
fi

mkdir -p "$out/bad"
if [[ $force -eq 1 ]]; then
  # Certificates from the old CA would no longer chain: drop them all.
  rm -f "$out"/*.pem "$out"/*.key "$out"/bad/*.pem "$out"/bad/*.key
fi
umask 077
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

genkey() {  # genkey FILE
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$1" 2>/dev/null
}

serial() { echo "0x$(openssl rand -hex 16)"; }

# selfsigned_ca KEY CERT CN
selfsigned_ca() {
  genkey "$1"
  cat >"$tmp/ca.ext" <<'EOF'
[v3]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
  openssl req -new -x509 -key "$1" -out "$2" -days 3650 -subj "/O=ehx dev/CN=$3" \
    -set_serial "$(serial)" -extensions v3 \
    -config "$tmp/ca.ext" 2>/dev/null
}

# ext_client FILE AGENCY / ext_server FILE
ext_client() {
  cat >"$1" <<EOF
[v3]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = clientAuth
subjectAltName = URI:urn:ehx:agency:$2
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}
ext_server() {
  cat >"$1" <<'EOF'
[v3]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

# sign CAKEY CACERT KEY CERT CN EXTFILE [DAYS]
sign() {
  genkey "$3"
  openssl req -new -key "$3" -subj "/O=ehx dev/CN=$5" -out "$tmp/req.csr" \
    -config /dev/null 2>/dev/null
  openssl x509 -req -in "$tmp/req.csr" -CA "$2" -CAkey "$1" \
    -set_serial "$(serial)" -days "${7:-825}" -extfile "$6" -extensions v3 \
    -out "$4" 2>/dev/null
}

# sign_dated CAKEY CACERT KEY CERT CN EXTFILE START END  (YYYYMMDDHHMMSSZ)
# openssl 3.0's x509 has no -not_before/-not_after: use `openssl ca` with a
# minimal database in the temp dir.
sign_dated() {
  genkey "$3"
  openssl req -new -key "$3" -subj "/O=ehx dev/CN=$5" -out "$tmp/req.csr" \
    -config /dev/null 2>/dev/null
  local db="$tmp/cadb"
  rm -rf "$db"
  mkdir -p "$db/new"
  : >"$db/index.txt"
  openssl rand -hex 16 >"$db/serial"
  cat >"$db/ca.cnf" <<EOF
[ca]
default_ca = dev
[dev]
dir = $db
database = $db/index.txt
new_certs_dir = $db/new
serial = $db/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
organizationName = optional
commonName = supplied
EOF
  openssl ca -batch -notext -config "$db/ca.cnf" -cert "$2" -keyfile "$1" \
    -in "$tmp/req.csr" -out "$4" -startdate "$7" -enddate "$8" \
    -extfile "$6" -extensions v3 2>"$tmp/ca.err" || {
    cat "$tmp/ca.err" >&2
    return 1
  }
}

# --- the trusted dev CA, server and agencies -------------------------------
selfsigned_ca "$out/ca.key" "$out/ca.pem" "ehx dev root CA"

ext_server "$tmp/server.ext"
sign "$out/ca.key" "$out/ca.pem" "$out/server.key" "$out/server.pem" \
  localhost "$tmp/server.ext"

for id in "${agencies[@]}"; do
  ext_client "$tmp/client.ext" "$id"
  sign "$out/ca.key" "$out/ca.pem" "$out/$id.key" "$out/$id.pem" "$id" \
    "$tmp/client.ext"
done

# --- bad material ------------------------------------------------------------
bad="$out/bad"
bad_id="${agencies[0]}"
ext_client "$tmp/bad.ext" "$bad_id"

# A second CA nobody trusts, and a client cert from it.
selfsigned_ca "$bad/other-ca.key" "$bad/other-ca.pem" "ehx untrusted CA"
sign "$bad/other-ca.key" "$bad/other-ca.pem" "$bad/untrusted.key" \
  "$bad/untrusted.pem" "$bad_id" "$tmp/bad.ext"

# A self-signed client cert (not a CA) claiming an agency.
genkey "$bad/self-signed.key"
openssl req -new -x509 -key "$bad/self-signed.key" -out "$bad/self-signed.pem" \
  -days 825 -subj "/O=ehx dev/CN=$bad_id" -set_serial "$(serial)" \
  -config "$tmp/bad.ext" -extensions v3 2>/dev/null

# Signed by the trusted CA but outside its validity period.
sign_dated "$out/ca.key" "$out/ca.pem" "$bad/expired.key" "$bad/expired.pem" \
  "$bad_id" "$tmp/bad.ext" 20200101000000Z 20200102000000Z
sign_dated "$out/ca.key" "$out/ca.pem" "$bad/not-yet-valid.key" \
  "$bad/not-yet-valid.pem" "$bad_id" "$tmp/bad.ext" \
  20990101000000Z 20991231000000Z

# A server cert for the wrong name (SAN DNS:wrong.example only).
cat >"$tmp/wrong.ext" <<'EOF'
[v3]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
EOF
sign "$out/ca.key" "$out/ca.pem" "$bad/wrong-host.key" "$bad/wrong-host.pem" \
  wrong.example "$tmp/wrong.ext"

chmod 644 "$out"/*.pem "$bad"/*.pem
echo "dev PKI written to $out (agencies: ${agencies[*]}; bad material for $bad_id in $bad)"
