#include "audit/audit_log.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace ehx::audit {

using ehx::audit::v1::AuditCheckpoint;
using ehx::audit::v1::AuditRecord;

namespace {

std::string Deterministic(const google::protobuf::MessageLite& m) {
  std::string out;
  google::protobuf::io::StringOutputStream sos(&out);
  google::protobuf::io::CodedOutputStream cos(&sos);
  cos.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&cos);
  cos.Trim();
  return out;
}

std::string OpenSslError(const char* what) {
  return absl::StrCat("audit key: ", what);
}

std::string KeyIdOf(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(pkey, &der);
  if (n <= 0) return "";
  std::string id = ToHex(Sha256(std::string(reinterpret_cast<char*>(der), n)));
  OPENSSL_free(der);
  return id;
}

bool VerifySig(EVP_PKEY* pub, const std::string& msg, const std::string& sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pub) == 1 &&
      EVP_DigestVerify(
          ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
          reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace

struct SigningKey::Impl {
  EVP_PKEY* pkey = nullptr;
  ~Impl() { EVP_PKEY_free(pkey); }
};

SigningKey::~SigningKey() = default;

absl::StatusOr<std::unique_ptr<SigningKey>> SigningKey::LoadOrCreate(
    const std::string& path, bool create) {
  std::unique_ptr<SigningKey> k(new SigningKey());
  k->impl_ = std::make_unique<Impl>();
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    k->impl_->pkey = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!k->impl_->pkey || EVP_PKEY_id(k->impl_->pkey) != EVP_PKEY_ED25519) {
      return absl::InvalidArgumentError(
          OpenSslError("not an Ed25519 PEM private key"));
    }
  } else {
    if (!create) {
      return absl::NotFoundError(absl::StrCat("audit key: cannot read ", path));
    }
    EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    if (!pctx || EVP_PKEY_keygen_init(pctx) != 1 ||
        EVP_PKEY_keygen(pctx, &k->impl_->pkey) != 1) {
      EVP_PKEY_CTX_free(pctx);
      return absl::InternalError(OpenSslError("key generation failed"));
    }
    EVP_PKEY_CTX_free(pctx);
    const mode_t old = umask(077);
    FILE* out = std::fopen(path.c_str(), "wb");
    umask(old);
    if (!out || PEM_write_PrivateKey(out, k->impl_->pkey, nullptr, nullptr, 0,
                                     nullptr, nullptr) != 1) {
      if (out) std::fclose(out);
      return absl::UnavailableError(
          absl::StrCat("audit key: cannot write ", path));
    }
    std::fclose(out);
    std::ofstream(path + ".pub") << k->PublicKeyPem();
  }
  k->key_id_ = KeyIdOf(k->impl_->pkey);
  return k;
}

std::string SigningKey::Sign(const std::string& message) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  if (EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, impl_->pkey) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) == 1) {
    sig.resize(len);
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1) {
      sig.clear();
    }
  }
  EVP_MD_CTX_free(ctx);
  return sig;
}

std::string SigningKey::PublicKeyPem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, impl_->pkey);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n);
  BIO_free(bio);
  return out;
}

std::string CheckpointMessage(int64_t seq, const std::string& head_hash) {
  return absl::StrCat("ehx-audit-checkpoint-v1|", seq, "|", head_hash);
}

std::string RecordHash(const AuditRecord& record) {
  AuditRecord r = record;
  r.clear_hash();
  return Sha256(r.prev_hash() + Deterministic(r));
}

absl::Status EnsureSchema(store::Txn& txn) {
  return txn.Exec(
      "CREATE TABLE IF NOT EXISTS audit_log(seq INTEGER PRIMARY KEY, "
      "record BLOB NOT NULL);"
      "CREATE TABLE IF NOT EXISTS audit_checkpoints(seq INTEGER PRIMARY KEY, "
      "checkpoint BLOB NOT NULL);");
}

absl::Status AuditLog::Append(store::Txn& txn, AuditRecord record) {
  auto max = txn.Prepare("SELECT max(seq) FROM audit_log");
  if (!max.ok()) return max.status();
  auto mrow = (*max)->Step();
  if (!mrow.ok()) return mrow.status();
  const int64_t last_seq = (*max)->IsNull(0) ? 0 : (*max)->Int(0);
  (*max)->Reset();
  int64_t seq = 1;
  std::string prev(32, '\0');
  if (last_seq > 0 && last_seq == head_seq_) {
    seq = last_seq + 1;
    prev = head_hash_;
  } else if (last_seq > 0) {
    auto head = txn.Prepare("SELECT record FROM audit_log WHERE seq=?");
    if (!head.ok()) return head.status();
    (*head)->Bind(1, last_seq);
    auto row = (*head)->Step();
    if (!row.ok()) return row.status();
    AuditRecord last;
    if (!*row || !last.ParseFromString((*head)->Text(0))) {
      return absl::DataLossError("audit: corrupt chain head");
    }
    (*head)->Reset();
    seq = last_seq + 1;
    prev = last.hash();
  }
  record.set_seq(seq);
  record.set_prev_hash(prev);
  record.clear_hash();
  // RecordHash(record), without its copy of the record.
  record.set_hash(Sha256(prev + Deterministic(record)));
  auto ins = txn.Prepare("INSERT INTO audit_log(seq, record) VALUES(?, ?)");
  if (!ins.ok()) return ins.status();
  absl::Status st =
      (*ins)->Bind(1, seq).BindBlob(2, Deterministic(record)).Run();
  if (!st.ok()) return st;
  head_seq_ = seq;
  head_hash_ = record.hash();
  if (key_ && seq % checkpoint_every_ == 0) {
    return Checkpoint(txn, record.at_ms());
  }
  return absl::OkStatus();
}

absl::Status AuditLog::Checkpoint(store::Txn& txn, int64_t now_ms) {
  if (!key_) return absl::OkStatus();
  auto head = txn.Prepare(
      "SELECT seq, record FROM audit_log ORDER BY seq DESC LIMIT 1");
  if (!head.ok()) return head.status();
  auto row = (*head)->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::OkStatus();
  const int64_t seq = (*head)->Int(0);
  AuditRecord last;
  last.ParseFromString((*head)->Text(1));
  (*head)->Reset();
  AuditCheckpoint cp;
  cp.set_seq(seq);
  cp.set_head_hash(last.hash());
  cp.set_at_ms(now_ms);
  cp.set_key_id(key_->key_id());
  cp.set_signature(key_->Sign(CheckpointMessage(seq, last.hash())));
  auto ins = txn.Prepare(
      "INSERT OR IGNORE INTO audit_checkpoints(seq, checkpoint) VALUES(?, ?)");
  if (!ins.ok()) return ins.status();
  return (*ins)->Bind(1, seq).BindBlob(2, Deterministic(cp)).Run();
}

namespace {

// The verifier's fast path. Append stores the deterministic serialization,
// which ends with prev_hash (field 13) and hash (field 14), 32 bytes each,
// so the record hash is SHA-256(prev_hash || every byte before the hash
// field): no parse, copy or re-serialization. A row laid out otherwise
// takes the full path (parse + RecordHash). Equivalent: a matching hash
// over the raw bytes means these are the bytes that were hashed.
struct FastRecord {
  int64_t seq = 0;
  const unsigned char* prev = nullptr;
  const unsigned char* hash = nullptr;
  size_t body_len = 0;  // bytes before the hash field
};

bool ParseFast(const unsigned char* b, size_t n, FastRecord* out) {
  if (n < 2 + 68 || b[0] != 0x08) return false;  // seq = field 1, varint
  int64_t seq = 0;
  size_t i = 1;
  for (int shift = 0; i < n && shift < 63; shift += 7, ++i) {
    seq |= static_cast<int64_t>(b[i] & 0x7f) << shift;
    if (!(b[i] & 0x80)) break;
  }
  if (i >= n || (b[i] & 0x80)) return false;
  if (b[n - 34] != 0x72 || b[n - 33] != 0x20) return false;  // 14, len 32
  if (b[n - 68] != 0x6a || b[n - 67] != 0x20) return false;  // 13, len 32
  out->seq = seq;
  out->hash = b + n - 32;
  out->prev = b + n - 66;
  out->body_len = n - 34;
  return i + 1 <= n - 68;
}

class Hasher {
 public:
  Hasher()
      : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {}
  ~Hasher() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  // SHA-256(a || b) into out[32].
  bool Hash(const void* a, size_t an, const void* b, size_t bn,
            unsigned char* out) {
    unsigned int len = 0;
    return md_ && EVP_DigestInit_ex(ctx_, md_, nullptr) == 1 &&
           EVP_DigestUpdate(ctx_, a, an) == 1 &&
           EVP_DigestUpdate(ctx_, b, bn) == 1 &&
           EVP_DigestFinal_ex(ctx_, out, &len) == 1 && len == 32;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

}  // namespace

absl::StatusOr<VerifyResult> VerifyDatabase(const std::string& db_path,
                                            const std::string& public_key_pem) {
  BIO* bio = BIO_new_mem_buf(public_key_pem.data(),
                             static_cast<int>(public_key_pem.size()));
  EVP_PKEY* pub = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!pub) return absl::InvalidArgumentError("audit verify: bad public key");
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pub_guard(pub, EVP_PKEY_free);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) !=
      SQLITE_OK) {
    sqlite3_close(db);
    return absl::NotFoundError(
        absl::StrCat("audit verify: cannot open ", db_path));
  }
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db_guard(db, sqlite3_close);
  VerifyResult res;
  auto fail = [&res](int64_t seq, std::string why) {
    if (res.first_bad_seq == 0) {
      res.first_bad_seq = seq;
      res.problem = std::move(why);
    }
  };
  // Checkpoints first: seq -> head hash, each signature checked.
  std::map<int64_t, std::string> heads;
  int64_t max_checkpoint = 0;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(
          db, "SELECT seq, checkpoint FROM audit_checkpoints ORDER BY seq", -1,
          &s, nullptr) != SQLITE_OK) {
    return absl::DataLossError("audit verify: no audit tables");
  }
  while (sqlite3_step(s) == SQLITE_ROW) {
    AuditCheckpoint cp;
    const void* b = sqlite3_column_blob(s, 1);
    const int64_t row_seq = sqlite3_column_int64(s, 0);
    if (!b || !cp.ParseFromArray(b, sqlite3_column_bytes(s, 1)) ||
        cp.seq() != row_seq ||
        !VerifySig(pub, CheckpointMessage(cp.seq(), cp.head_hash()),
                   cp.signature())) {
      fail(row_seq, "bad checkpoint signature");
      continue;
    }
    heads[cp.seq()] = cp.head_hash();
    max_checkpoint = std::max(max_checkpoint, cp.seq());
    ++res.checkpoints;
  }
  sqlite3_finalize(s);
  // The chain.
  if (sqlite3_prepare_v2(db, "SELECT seq, record FROM audit_log ORDER BY seq",
                         -1, &s, nullptr) != SQLITE_OK) {
    return absl::DataLossError("audit verify: no audit tables");
  }
  std::string prev(32, '\0');
  int64_t expect = 1;
  Hasher hasher;
  unsigned char digest[32];
  while (sqlite3_step(s) == SQLITE_ROW) {
    const int64_t row_seq = sqlite3_column_int64(s, 0);
    AuditRecord r;
    const void* b = sqlite3_column_blob(s, 1);
    ++res.records;
    if (row_seq != expect) {
      fail(expect, "missing record (gap)");
      expect = row_seq;
    }
    FastRecord f;
    const auto* ub = static_cast<const unsigned char*>(b);
    const size_t n = static_cast<size_t>(sqlite3_column_bytes(s, 1));
    if (b && ParseFast(ub, n, &f) &&
        hasher.Hash(f.prev, 32, ub, f.body_len, digest)) {
      if (f.seq != row_seq) fail(row_seq, "sequence number altered");
      if (prev.size() != 32 || std::memcmp(f.prev, prev.data(), 32) != 0) {
        fail(row_seq, "chain broken (prev_hash)");
      }
      if (std::memcmp(digest, f.hash, 32) != 0) {
        fail(row_seq, "hash mismatch (altered)");
      }
      auto it = heads.find(row_seq);
      if (it != heads.end() &&
          (it->second.size() != 32 ||
           std::memcmp(it->second.data(), f.hash, 32) != 0)) {
        fail(row_seq, "does not match signed checkpoint");
      }
      prev.assign(reinterpret_cast<const char*>(f.hash), 32);
      ++expect;
      continue;
    }
    if (!b || !r.ParseFromArray(b, sqlite3_column_bytes(s, 1))) {
      fail(row_seq, "unreadable record");
      prev.clear();
      ++expect;
      continue;
    }
    if (r.seq() != row_seq) fail(row_seq, "sequence number altered");
    if (r.prev_hash() != prev) fail(row_seq, "chain broken (prev_hash)");
    if (RecordHash(r) != r.hash()) fail(row_seq, "hash mismatch (altered)");
    auto it = heads.find(row_seq);
    if (it != heads.end() && it->second != r.hash()) {
      fail(row_seq, "does not match signed checkpoint");
    }
    prev = r.hash();
    ++expect;
  }
  sqlite3_finalize(s);
  if (expect - 1 < max_checkpoint) {
    fail(expect, "records missing before a signed checkpoint (truncated)");
  }
  res.ok = res.first_bad_seq == 0;
  return res;
}

}  // namespace ehx::audit
