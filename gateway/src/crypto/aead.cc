#include "crypto/aead.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace ehx::crypto {
namespace {

// Fetched once (OpenSSL 3: an explicit fetch avoids a lookup per call).
const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* cipher = [] {
    const EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    return c ? c : EVP_aes_256_gcm();
  }();
  return cipher;
}

// One context per thread, reset per use.
struct CtxHolder {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CtxHolder() { EVP_CIPHER_CTX_free(ctx); }
};
EVP_CIPHER_CTX* ThreadCtx() {
  thread_local CtxHolder holder;
  EVP_CIPHER_CTX_reset(holder.ctx);
  return holder.ctx;
}

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Header length of a well-formed blob, or 0.
size_t HeaderLen(std::string_view blob) {
  if (blob.size() < 2 || static_cast<unsigned char>(blob[0]) != kBlobVersion)
    return 0;
  const size_t l = static_cast<unsigned char>(blob[1]);
  if (l == 0 || l > 32 || blob.size() < 2 + l + kNonceSize + kTagSize) return 0;
  if (!ValidKeyId(blob.substr(2, l))) return 0;
  return 2 + l;
}

}  // namespace

bool ValidKeyId(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::string> ParseKeyMaterial(std::string_view text,
                                             std::string_view what) {
  if (text.size() == kKeySize) return std::string(text);
  std::string_view t = Trim(text);
  if (t.size() == 2 * kKeySize) {
    std::string out(kKeySize, '\0');
    bool hex = true;
    for (size_t i = 0; i < kKeySize && hex; ++i) {
      const int hi = HexVal(t[2 * i]), lo = HexVal(t[2 * i + 1]);
      if (hi < 0 || lo < 0) hex = false;
      out[i] = static_cast<char>(hi * 16 + lo);
    }
    if (hex) return out;
  }
  if (t.size() == 44) {  // base64 of 32 bytes, with one '=' of padding
    unsigned char buf[48];
    const int n = EVP_DecodeBlock(buf, U(t), static_cast<int>(t.size()));
    if (n == 33 && t[43] == '=' && t[42] != '=') {
      return std::string(reinterpret_cast<char*>(buf), kKeySize);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "encryption key ", std::string(what),
      ": must be 32 bytes, as 64 hex digits, base64, or 32 raw bytes"));
}

bool LooksSealed(std::string_view blob) { return HeaderLen(blob) > 0; }

absl::StatusOr<std::string> BlobKeyId(std::string_view blob) {
  const size_t h = HeaderLen(blob);
  if (h == 0) return absl::DataLossError("encryption: malformed blob header");
  return std::string(blob.substr(2, h - 2));
}

KeyRing::KeyRing() = default;
KeyRing::~KeyRing() {
  for (auto& [id, k] : keys_) OPENSSL_cleanse(k.data(), k.size());
}

absl::Status KeyRing::AddKey(const std::string& key_id, std::string key) {
  if (!ValidKeyId(key_id)) {
    return absl::InvalidArgumentError(
        "encryption: key id must be 1-32 characters of [A-Za-z0-9._-]");
  }
  if (key.size() != kKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("encryption key ", key_id, ": must be 32 bytes"));
  }
  if (keys_.count(key_id)) {
    return absl::AlreadyExistsError(
        absl::StrCat("encryption key ", key_id, ": duplicate key id"));
  }
  keys_[key_id] = std::move(key);
  if (active_.empty()) active_ = key_id;
  return absl::OkStatus();
}

absl::Status KeyRing::SetActive(const std::string& key_id) {
  if (!keys_.count(key_id)) {
    return absl::NotFoundError(
        absl::StrCat("encryption: active key ", key_id, " is not loaded"));
  }
  active_ = key_id;
  return absl::OkStatus();
}

absl::StatusOr<std::string> KeyRing::Seal(std::string_view plaintext,
                                          std::string_view aad) const {
  auto it = keys_.find(active_);
  if (it == keys_.end()) {
    return absl::FailedPreconditionError("encryption: no active key");
  }
  const size_t h = 2 + active_.size();
  std::string out(h + kNonceSize + plaintext.size() + kTagSize, '\0');
  out[0] = static_cast<char>(kBlobVersion);
  out[1] = static_cast<char>(active_.size());
  std::memcpy(&out[2], active_.data(), active_.size());
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(o + h, kNonceSize) != 1) {
    return absl::InternalError("encryption: no randomness for a nonce");
  }
  EVP_CIPHER_CTX* ctx = ThreadCtx();
  int len = 0;
  if (EVP_EncryptInit_ex2(ctx, Aes256Gcm(), U(it->second), o + h, nullptr) !=
          1 ||
      EVP_EncryptUpdate(ctx, nullptr, &len, o, static_cast<int>(h)) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx, nullptr, &len, U(aad),
                                         static_cast<int>(aad.size())) != 1)) {
    return absl::InternalError("encryption: cipher setup failed");
  }
  unsigned char* ct = o + h + kNonceSize;
  int total = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx, ct, &len, U(plaintext),
                          static_cast<int>(plaintext.size())) != 1) {
      return absl::InternalError("encryption: encrypt failed");
    }
    total = len;
  }
  if (EVP_EncryptFinal_ex(ctx, ct + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize,
                          ct + plaintext.size()) != 1) {
    return absl::InternalError("encryption: encrypt failed");
  }
  return out;
}

absl::StatusOr<std::string> KeyRing::Open(std::string_view blob,
                                          std::string_view aad) const {
  const size_t h = HeaderLen(blob);
  if (h == 0) return absl::DataLossError("encryption: malformed blob header");
  const std::string key_id(blob.substr(2, h - 2));
  auto it = keys_.find(key_id);
  if (it == keys_.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "encryption: stored record was sealed with key '", key_id,
        "', which is not in the key ring (store.encryption.keys)"));
  }
  const unsigned char* b = U(blob);
  const size_t ct_len = blob.size() - h - kNonceSize - kTagSize;
  std::string out(ct_len, '\0');
  EVP_CIPHER_CTX* ctx = ThreadCtx();
  int len = 0;
  if (EVP_DecryptInit_ex2(ctx, Aes256Gcm(), U(it->second), b + h, nullptr) !=
          1 ||
      EVP_DecryptUpdate(ctx, nullptr, &len, b, static_cast<int>(h)) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx, nullptr, &len, U(aad),
                                         static_cast<int>(aad.size())) != 1)) {
    return absl::InternalError("encryption: cipher setup failed");
  }
  int total = 0;
  if (ct_len > 0) {
    if (EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()),
                          &len, b + h + kNonceSize,
                          static_cast<int>(ct_len)) != 1) {
      return absl::DataLossError("encryption: decrypt failed");
    }
    total = len;
  }
  std::string tag(blob.substr(blob.size() - kTagSize));
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) !=
          1 ||
      EVP_DecryptFinal_ex(ctx,
                          reinterpret_cast<unsigned char*>(out.data()) + total,
                          &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return absl::DataLossError(absl::StrCat(
        "encryption: authentication failed for a record sealed with key '",
        key_id, "' (altered, moved from another row, or wrong key bytes)"));
  }
  return out;
}

namespace {

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("encryption key file ", path, ": cannot read"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto key = ParseKeyMaterial(text, path);
  OPENSSL_cleanse(text.data(), text.size());
  return key;
}

// Writes 32 random bytes as hex to a new file, mode 0600.
absl::Status CreateKeyFile(const std::string& path) {
  unsigned char key[kKeySize];
  if (RAND_bytes(key, sizeof key) != 1) {
    return absl::InternalError("encryption: no randomness for a key");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : key) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  hex.push_back('\n');
  OPENSSL_cleanse(key, sizeof key);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("encryption key file ", path,
                     ": cannot create: ", std::strerror(errno)));
  }
  const bool ok =
      ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  OPENSSL_cleanse(hex.data(), hex.size());
  if (!ok) {
    ::unlink(path.c_str());
    return absl::UnavailableError(
        absl::StrCat("encryption key file ", path, ": cannot write"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<KeyRing>> LoadKeyRing(
    const ehx::config::v1::Encryption& config,
    const std::string& default_key_file, bool* created) {
  if (created) *created = false;
  auto ring = std::make_unique<KeyRing>();
  if (config.keys().empty()) {
    if (config.disabled()) return ring;  // nothing to read old rows with
    struct stat sb;
    if (::stat(default_key_file.c_str(), &sb) != 0) {
      absl::Status st = CreateKeyFile(default_key_file);
      if (!st.ok()) return st;
      if (created) *created = true;
    }
    auto key = ReadKeyFile(default_key_file);
    if (!key.ok()) return key.status();
    absl::Status st = ring->AddKey("local", std::move(*key));
    if (!st.ok()) return st;
    return ring;
  }
  for (const auto& k : config.keys()) {
    absl::StatusOr<std::string> key;
    if (!k.key_file().empty()) {
      key = ReadKeyFile(k.key_file());
    } else {
      const char* v = std::getenv(k.key_env().c_str());
      if (v == nullptr) {
        key = absl::NotFoundError(absl::StrCat("encryption key ", k.key_id(),
                                               ": environment variable ",
                                               k.key_env(), " is not set"));
      } else {
        key = ParseKeyMaterial(v, k.key_env());
      }
    }
    if (!key.ok()) return key.status();
    absl::Status st = ring->AddKey(k.key_id(), std::move(*key));
    if (!st.ok()) return st;
  }
  if (!config.active_key_id().empty()) {
    absl::Status st = ring->SetActive(config.active_key_id());
    if (!st.ok()) return st;
  }
  return ring;
}

}  // namespace ehx::crypto
