// Client certificate checks made during the TLS handshake, before any
// handler or adapter code runs: chain to a trusted CA, CRL revocation,
// key usage, key strength and the agency named in the certificate.
// Pure OpenSSL 3 (no gRPC): the gRPC glue is in tls_credentials.cc.
#ifndef EHX_SERVER_PEER_VERIFIER_H_
#define EHX_SERVER_PEER_VERIFIER_H_

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ehx::server {

struct PeerVerifierOptions {
  // PEM bundle of trusted CAs (re-read when its size or mtime changes).
  std::string ca_file;
  // CRLs: a folder of PEM CRL files and/or one PEM file of CRLs. If either
  // is set, every CA in the chain must have a current CRL (fail closed).
  std::string crl_dir;
  std::string crl_file;
  // Agency ids this listener accepts (exchange: registered, active
  // agencies; admin: operators).
  std::set<std::string> accepted;
  // Registered but decommissioned agencies (named as such when refused).
  std::set<std::string> decommissioned;
  // For log lines: "exchange" or "admin".
  std::string listener;
};

// Thread-safe; Check() may run concurrently on gRPC's handshake threads.
// Trusted CAs and CRLs are parsed once and cached; each Check() stats the
// files (cheap) and re-parses only what changed.
class PeerVerifier {
 public:
  explicit PeerVerifier(PeerVerifierOptions options);
  ~PeerVerifier();
  PeerVerifier(const PeerVerifier&) = delete;
  PeerVerifier& operator=(const PeerVerifier&) = delete;

  // `leaf_pem` is the client's certificate, `chain_pem` the other
  // certificates it sent (possibly empty; gRPC's peer_cert_full_chain on
  // the server side excludes the leaf). Returns the agency id, or
  // UNAUTHENTICATED naming the rule that failed. The reason never carries
  // the certificate subject (it may name a person).
  absl::StatusOr<std::string> Check(std::string_view leaf_pem,
                                    std::string_view chain_pem);

  // The curves and key sizes accepted (for docs and errors).
  static constexpr char kKeyPolicy[] =
      "RSA >= 2048 bits, EC P-256 or P-384, or Ed25519";

 private:
  struct Snapshot;
  std::shared_ptr<const Snapshot> Current();

  const PeerVerifierOptions options_;
  std::mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_;  // guarded by mu_
};

}  // namespace ehx::server

#endif  // EHX_SERVER_PEER_VERIFIER_H_
