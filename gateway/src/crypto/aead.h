// Encryption at rest: AES-256-GCM (OpenSSL EVP) under a key ring with
// rotation. Every sealed value ("blob") names the key that sealed it, so
// records written under an older key stay readable after the active key
// changes, and it is bound to where it is stored (additional authenticated
// data), so a ciphertext copied into another row or column fails to open.
//
// Blob format (version 1):
//   0x01 | key id length L (1..32) | key id (L bytes, [A-Za-z0-9._-])
//        | nonce (12 random bytes) | ciphertext | tag (16 bytes)
// GCM's additional data is the blob header (version, L, key id) followed
// by the caller's `aad`. Nonces are random (RAND_bytes): rotate a key well
// before 2^32 seals (NIST SP 800-38D, 8.3).
//
// A serialized protobuf message never starts with 0x01 (field number 0 is
// invalid), so a sealed blob can be told from a plaintext one.
#ifndef EHX_CRYPTO_AEAD_H_
#define EHX_CRYPTO_AEAD_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ehx/config/v1/config.pb.h"

namespace ehx::crypto {

inline constexpr size_t kKeySize = 32;
inline constexpr size_t kNonceSize = 12;
inline constexpr size_t kTagSize = 16;
inline constexpr unsigned char kBlobVersion = 0x01;

// True if `id` is 1-32 characters of [A-Za-z0-9._-].
bool ValidKeyId(std::string_view id);

// Decodes key material: exactly 32 raw bytes; otherwise, with surrounding
// whitespace trimmed, 64 hex digits or base64 of 32 bytes. `what` names the
// source in errors (a file or variable name, never the material).
absl::StatusOr<std::string> ParseKeyMaterial(std::string_view text,
                                             std::string_view what);

// True if `blob` starts like a sealed blob (version byte and a plausible
// header). Says nothing about its integrity.
bool LooksSealed(std::string_view blob);

// The key id named in a sealed blob's header.
absl::StatusOr<std::string> BlobKeyId(std::string_view blob);

// A set of 32-byte keys by id, one of them active. Build it, then share it
// read-only: Seal and Open are thread-safe and never log.
class KeyRing {
 public:
  KeyRing();
  ~KeyRing();
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  // Adds `key` (kKeySize bytes) under `key_id`. The first key added becomes
  // active until SetActive is called.
  absl::Status AddKey(const std::string& key_id, std::string key);
  // Makes `key_id` (already added) the key new seals use.
  absl::Status SetActive(const std::string& key_id);
  const std::string& active_key_id() const { return active_; }
  bool empty() const { return keys_.empty(); }
  bool Has(const std::string& key_id) const { return keys_.count(key_id) > 0; }

  // Encrypts `plaintext` under the active key, bound to `aad`.
  absl::StatusOr<std::string> Seal(std::string_view plaintext,
                                   std::string_view aad) const;
  // Decrypts a blob made by Seal with the same `aad`. Errors: a malformed
  // header (DATA_LOSS), a key id not in the ring (FAILED_PRECONDITION,
  // naming the key id), or failed authentication (DATA_LOSS: tampered,
  // moved to another row, or wrong key bytes). Never echoes data.
  absl::StatusOr<std::string> Open(std::string_view blob,
                                   std::string_view aad) const;

 private:
  std::map<std::string, std::string> keys_;
  std::string active_;
};

// Builds the key ring of `config` (GatewayConfig.store.encryption): keys
// from files or environment variables. With no keys listed, uses
// `default_key_file` as key "local", creating it (32 random bytes, hex,
// mode 0600) if absent; `*created` then says so (the caller warns).
absl::StatusOr<std::unique_ptr<KeyRing>> LoadKeyRing(
    const ehx::config::v1::Encryption& config,
    const std::string& default_key_file, bool* created);

}  // namespace ehx::crypto

#endif  // EHX_CRYPTO_AEAD_H_
