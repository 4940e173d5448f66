#!/usr/bin/env bash
# make-test-pki.sh OUTDIR: every certificate the TLS rejection matrix and
# rotation tests need, in one run, with the openssl CLI (EC P-256 keys
# unless a case needs another key). Test material only.
#
# Trusted:  ca (root, ECDSA) -> int, int-revoked, int-expired (intermediates)
#           server (RSA-2048, so that plain-RSA key exchange would be
#           possible if the gateway allowed it), one leaf per agency
#           (early-help school-oakfield health-visiting csc-front-door ops
#           old-agency stranger), chain-good (leaf under int, + chain)
#           ca2 + server2 (the rotation target), bundle-both.pem = ca + ca2
# CRLs:     crl.pem (revokes revoked.pem and int-revoked), crl-empty.pem,
#           crl-rotate.pem (revokes health-visiting); each holds a CRL for
#           every CA (the gateway wants one per CA in a chain)
# Bad:      see the cases below (file name = case).
set -euo pipefail
out="${1:?usage: $0 OUTDIR}"
mkdir -p "$out"
cd "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
umask 077

ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:"${2:-P-256}" -out "$1" 2>/dev/null; }
rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"$2" -out "$1" 2>/dev/null; }
ed() { openssl genpkey -algorithm ED25519 -out "$1" 2>/dev/null; }

# ext NAME LINES... : writes $tmp/NAME.ext with a [v3] section.
ext() {
  local n="$1"
  shift
  printf '[v3]\n' >"$tmp/$n.ext"
  printf '%s\n' "$@" >>"$tmp/$n.ext"
}
client_ext() {  # client_ext NAME SAN
  ext "$1" "basicConstraints = critical, CA:FALSE" \
    "keyUsage = critical, digitalSignature" \
    "extendedKeyUsage = clientAuth" "subjectAltName = $2" \
    "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid"
}
ext ca "basicConstraints = critical, CA:TRUE" \
  "keyUsage = critical, keyCertSign, cRLSign" \
  "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid:always"

# CA databases for `openssl ca` (dates, SHA-1, CRLs).
cadb() {  # cadb NAME
  local d="$tmp/db-$1"
  mkdir -p "$d/new"
  : >"$d/index.txt"
  echo 01 >"$d/crlnumber"
  cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = x
[x]
dir = $d
database = $d/index.txt
new_certs_dir = $d/new
serial = $d/serial
crlnumber = $d/crlnumber
default_md = sha256
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
EOF
}

selfsigned_ca() {  # selfsigned_ca NAME CN
  ec "$1.key"
  openssl req -new -x509 -key "$1.key" -out "$1.pem" -days 3650 \
    -subj "/CN=$2" -config "$tmp/ca.ext" -extensions v3 2>/dev/null
  cadb "$1"
}

# sign CA KEYFILE CERTFILE CN EXT [START END] [MD]
sign() {
  local ca="$1" key="$2" cert="$3" cn="$4" extn="$5"
  local start="${6:-}" end="${7:-}" md="${8:-sha256}"
  openssl req -new -key "$key" -subj "/CN=$cn" -out "$tmp/req.csr" \
    -config /dev/null 2>/dev/null
  openssl rand -hex 16 >"$tmp/db-$ca/serial"
  local dates=(-days 30)
  [[ -n "$start" ]] && dates=(-startdate "$start" -enddate "$end")
  openssl ca -batch -notext -config "$tmp/db-$ca/ca.cnf" -cert "$ca.pem" \
    -keyfile "$ca.key" -in "$tmp/req.csr" -out "$cert" "${dates[@]}" \
    -md "$md" -extfile "$tmp/$extn.ext" -extensions v3 2>"$tmp/err" || {
    cat "$tmp/err" >&2
    exit 1
  }
}

leaf() {  # leaf NAME AGENCY-SAN [CA] : EC leaf with the standard client ext
  client_ext "$1" "$2"
  ec "$1.key"
  sign "${3:-ca}" "$1.key" "$1.pem" "$1" "$1"
}

# --- trusted hierarchy -------------------------------------------------------
selfsigned_ca ca "ehx test root"
for i in int int-revoked int-expired; do
  ec "$i.key"
  if [[ $i == int-expired ]]; then
    sign ca "$i.key" "$i.pem" "$i" ca 20200101000000Z 20200102000000Z
  else
    sign ca "$i.key" "$i.pem" "$i" ca
  fi
  cadb "$i"
done

ext server "basicConstraints = critical, CA:FALSE" \
  "keyUsage = critical, digitalSignature, keyEncipherment" \
  "extendedKeyUsage = serverAuth" "subjectAltName = DNS:localhost, IP:127.0.0.1" \
  "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid"
rsa server.key 2048
sign ca server.key server.pem localhost server

for a in early-help school-oakfield health-visiting csc-front-door ops \
  old-agency stranger; do
  leaf "$a" "URI:urn:ehx:agency:$a"
done

# Positive controls with other accepted keys, and a chain via `int`.
client_ext rsa2048 "URI:urn:ehx:agency:early-help"
rsa rsa2048.key 2048
sign ca rsa2048.key rsa2048.pem rsa2048 rsa2048
client_ext p384 "URI:urn:ehx:agency:early-help"
ec p384.key P-384
sign ca p384.key p384.pem p384 p384
client_ext ed25519 "URI:urn:ehx:agency:early-help"
ed ed25519.key
sign ca ed25519.key ed25519.pem ed25519 ed25519
leaf chain-good-leaf "URI:urn:ehx:agency:school-oakfield" int
cat chain-good-leaf.pem int.pem >chain-good.pem
cp chain-good-leaf.key chain-good.key
# Truncated: the same leaf without its intermediate (chain-good-leaf.pem).

# --- bad material (early-help unless said) -----------------------------------
E="URI:urn:ehx:agency:early-help"
selfsigned_ca other-ca "untrusted root"
leaf untrusted "$E" other-ca
cat untrusted.pem other-ca.pem >untrusted-with-root.pem
cp untrusted.key untrusted-with-root.key

client_ext self-signed "$E"
ec self-signed.key
openssl req -new -x509 -key self-signed.key -out self-signed.pem -days 30 \
  -subj "/CN=self-signed" -config "$tmp/self-signed.ext" -extensions v3 2>/dev/null

client_ext dated "$E"
ec expired.key
sign ca expired.key expired.pem expired dated 20200101000000Z 20200102000000Z
ec not-yet-valid.key
sign ca not-yet-valid.key not-yet-valid.pem nyv dated 20990101000000Z 20991231000000Z

leaf revoked "$E"

ext ku-keyagreement "basicConstraints = critical, CA:FALSE" \
  "keyUsage = critical, keyAgreement" "extendedKeyUsage = clientAuth" \
  "subjectAltName = $E" "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid"
ec ku-keyagreement.key
sign ca ku-keyagreement.key ku-keyagreement.pem kuka ku-keyagreement

ext ku-certsign "basicConstraints = critical, CA:FALSE" \
  "keyUsage = critical, keyCertSign" "extendedKeyUsage = clientAuth" \
  "subjectAltName = $E" "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid"
ec ku-certsign.key
sign ca ku-certsign.key ku-certsign.pem kucs ku-certsign

ext no-eku "basicConstraints = critical, CA:FALSE" \
  "keyUsage = critical, digitalSignature" \
  "subjectAltName = $E" "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid"
ec no-eku.key
sign ca no-eku.key no-eku.pem noeku no-eku

ext eku-server "basicConstraints = critical, CA:FALSE" \
  "keyUsage = critical, digitalSignature" "extendedKeyUsage = serverAuth" \
  "subjectAltName = $E" "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid"
ec eku-server.key
sign ca eku-server.key eku-server.pem ekus eku-server

client_ext rsa1024 "$E"
rsa rsa1024.key 1024
sign ca rsa1024.key rsa1024.pem rsa1024 rsa1024
client_ext p521 "$E"
ec p521.key P-521
sign ca p521.key p521.pem p521 p521
client_ext secp256k1 "$E"
ec secp256k1.key secp256k1
sign ca secp256k1.key secp256k1.pem k1 secp256k1

leaf two-uris "URI:urn:ehx:agency:early-help, URI:urn:ehx:agency:school-oakfield"
leaf no-uri "DNS:early-help"
leaf bad-id "URI:urn:ehx:agency:Early_Help"
leaf wrong-urn "URI:urn:ehx:org:early-help"

ext ca-leaf "basicConstraints = critical, CA:TRUE" \
  "keyUsage = critical, digitalSignature, keyCertSign" "extendedKeyUsage = clientAuth" \
  "subjectAltName = $E" "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid"
ec ca-leaf.key
sign ca ca-leaf.key ca-leaf.pem caleaf ca-leaf

client_ext sha1 "$E"
ec sha1.key
sign ca sha1.key sha1.pem sha1 sha1 "" "" sha1

leaf revoked-int-leaf "$E" int-revoked
cat revoked-int-leaf.pem int-revoked.pem >revoked-int.pem
cp revoked-int-leaf.key revoked-int.key
leaf expired-int-leaf "$E" int-expired
cat expired-int-leaf.pem int-expired.pem >expired-int.pem
cp expired-int-leaf.key expired-int.key

# --- rotation target ---------------------------------------------------------
selfsigned_ca ca2 "ehx test root 2"
ext server2 "basicConstraints = critical, CA:FALSE" \
  "keyUsage = critical, digitalSignature" \
  "extendedKeyUsage = serverAuth" "subjectAltName = DNS:localhost, IP:127.0.0.1" \
  "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid"
ec server2.key
sign ca2 server2.key server2.pem localhost server2
cat ca.pem ca2.pem >bundle-both.pem

# --- CRLs --------------------------------------------------------------------
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
# crl CA OUTFILE [CERT-TO-REVOKE ...]
crl() {
  local ca="$1" f="$2"
  shift 2
  : >"$tmp/db-$ca/index.txt"
  for c in "$@"; do
    printf 'R\t301231235959Z\t240101000000Z\t%s\tunknown\t/CN=x\n' \
      "$(serial_of "$c")" >>"$tmp/db-$ca/index.txt"
  done
  openssl ca -gencrl -batch -config "$tmp/db-$ca/ca.cnf" -cert "$ca.pem" \
    -keyfile "$ca.key" -out "$f" 2>"$tmp/err" || {
    cat "$tmp/err" >&2
    exit 1
  }
}
crl int "$tmp/int.crl"
crl int-revoked "$tmp/int-revoked.crl"
crl int-expired "$tmp/int-expired.crl"
crl ca2 "$tmp/ca2.crl"
others=("$tmp/int.crl" "$tmp/int-revoked.crl" "$tmp/int-expired.crl" "$tmp/ca2.crl")
crl ca "$tmp/ca.crl" revoked.pem int-revoked.pem
cat "$tmp/ca.crl" "${others[@]}" >crl.pem
crl ca "$tmp/ca.crl"
cat "$tmp/ca.crl" "${others[@]}" >crl-empty.pem
crl ca "$tmp/ca.crl" health-visiting.pem
cat "$tmp/ca.crl" "${others[@]}" >crl-rotate.pem

chmod 644 ./*.pem
