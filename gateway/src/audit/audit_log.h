// The tamper-evident audit chain: hash-linked records with periodic
// checkpoints signed with the gateway's Ed25519 key, and offline
// verification that names the first bad record.
#ifndef EHX_AUDIT_AUDIT_LOG_H_
#define EHX_AUDIT_AUDIT_LOG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ehx/audit/v1/audit.pb.h"
#include "store/sqlite_store.h"

namespace ehx::audit {

// An Ed25519 key pair (OpenSSL EVP). Thread-safe after construction.
class SigningKey {
 public:
  // Loads a PEM private key; if `path` does not exist and `create` is true,
  // generates one (mode 0600) and writes `<path>.pub` (PEM public key).
  static absl::StatusOr<std::unique_ptr<SigningKey>> LoadOrCreate(
      const std::string& path, bool create);
  ~SigningKey();
  std::string Sign(const std::string& message) const;
  // SHA-256 of the DER public key, hex.
  const std::string& key_id() const { return key_id_; }
  std::string PublicKeyPem() const;

 private:
  SigningKey() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string key_id_;
};

// Creates the audit tables if absent (audit_log, audit_checkpoints).
absl::Status EnsureSchema(store::Txn& txn);

// Appends records inside the caller's write transactions. The chain head
// is read from the transaction itself, so a rolled-back savepoint can never
// leave the in-memory view ahead of the database. Thread-compatible: use
// from the store's writer thread (all writes are serialized there).
class AuditLog {
 public:
  // `key` may be null: records are chained but no checkpoint is signed.
  // A checkpoint is written every `checkpoint_every` records (>= 1).
  AuditLog(std::shared_ptr<const SigningKey> key, int checkpoint_every)
      : key_(std::move(key)),
        checkpoint_every_(checkpoint_every > 0 ? checkpoint_every : 1000) {}

  // Fills seq, prev_hash and hash, inserts `record`, and writes a signed
  // checkpoint when seq reaches a multiple of checkpoint_every.
  absl::Status Append(store::Txn& txn, ehx::audit::v1::AuditRecord record);

  // Writes a signed checkpoint of the current head (no-op if already
  // checkpointed or no key).
  absl::Status Checkpoint(store::Txn& txn, int64_t now_ms);

 private:
  // The head as last appended: valid only while the table's max(seq)
  // still equals head_seq_ (a rolled-back savepoint lowers it, and every
  // append goes through here), so the parse of the last record is skipped.
  std::shared_ptr<const SigningKey> key_;
  int checkpoint_every_;
  int64_t head_seq_ = -1;
  std::string head_hash_;
};

// The bytes a checkpoint signature covers.
std::string CheckpointMessage(int64_t seq, const std::string& head_hash);

// A record's hash: SHA-256(prev_hash || deterministic serialization with
// `hash` cleared).
std::string RecordHash(const ehx::audit::v1::AuditRecord& record);

// Result of an offline verification.
struct VerifyResult {
  bool ok = false;
  int64_t records = 0;
  int64_t checkpoints = 0;
  // First record (seq) that is missing, altered, out of order or not
  // covered by a valid signature; 0 if ok.
  int64_t first_bad_seq = 0;
  std::string problem;  // e.g. "hash mismatch", "gap", "bad signature"
};

// Verifies the chain and every checkpoint signature in the SQLite database
// at `db_path` against the PEM public key in `public_key_pem`. Records after
// the last checkpoint are reported as unsigned_tail (still chain-checked).
absl::StatusOr<VerifyResult> VerifyDatabase(const std::string& db_path,
                                            const std::string& public_key_pem);

}  // namespace ehx::audit

#endif  // EHX_AUDIT_AUDIT_LOG_H_
