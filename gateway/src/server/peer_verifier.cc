#include "server/peer_verifier.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "server/peer.h"

namespace ehx::server {
namespace {

namespace fs = std::filesystem;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// "path size mtime inode;" for a file, "path -;" when it is missing.
void StatInto(const std::string& path, std::string* sig) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    absl::StrAppend(sig, path, " -;");
    return;
  }
  absl::StrAppend(sig, path, " ", st.st_size, " ", st.st_mtim.tv_sec, ".",
                  st.st_mtim.tv_nsec, " ", st.st_ino, ";");
}

// Regular, non-hidden files of `dir`, sorted (hidden = temp files of an
// atomic replace in progress).
std::vector<std::string> ListDir(const std::string& dir, bool* ok) {
  std::vector<std::string> out;
  std::error_code ec;
  *ok = fs::is_directory(dir, ec);
  if (!*ok) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (!e.is_regular_file(ec)) continue;
    out.push_back(e.path().string());
  }
  if (ec) *ok = false;
  std::sort(out.begin(), out.end());
  return out;
}

std::string OpensslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no certificate or CRL found";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// Appends every PEM object `read` yields from `pem` to `out`; returns how
// many were read, or -1 on a parse error.
template <typename T, typename ReadFn>
int ReadAllPem(std::string_view pem, ReadFn read, std::vector<T*>* out) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return -1;
  int n = 0;
  while (true) {
    T* obj = read(bio, nullptr, nullptr, nullptr);
    if (obj == nullptr) {
      unsigned long e = ERR_peek_last_error();
      const bool eof = ERR_GET_LIB(e) == ERR_LIB_PEM &&
                       ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
      if (eof || e == 0) ERR_clear_error();
      BIO_free(bio);
      return (eof || e == 0) ? n : -1;
    }
    out->push_back(obj);
    ++n;
  }
}

bool Slurp(const std::string& path, std::string* out) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char buf[16384];
  size_t n;
  out->clear();
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
  const bool ok = !std::ferror(f);
  std::fclose(f);
  return ok;
}

// Accepted public keys; see PeerVerifier::kKeyPolicy.
bool StrongKey(EVP_PKEY* k) {
  if (k == nullptr) return false;
  switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      return EVP_PKEY_get_bits(k) >= 2048;
    case EVP_PKEY_EC: {
      char name[80];
      size_t len = 0;
      if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, name,
                                          sizeof name, &len)) {
        return false;
      }
      const std::string_view g(name, len);
      return g == "prime256v1" || g == "P-256" || g == "secp384r1" ||
             g == "P-384";
    }
    case EVP_PKEY_ED25519:
      return true;
    default:
      return false;
  }
}

std::string SerialHex(X509* x) {
  const ASN1_INTEGER* s = X509_get0_serialNumber(x);
  BIGNUM* bn = ASN1_INTEGER_to_BN(s, nullptr);
  if (bn == nullptr) return "?";
  char* hex = BN_bn2hex(bn);
  std::string out = hex ? hex : "?";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

struct PeerVerifier::Snapshot {
  std::string signature;
  X509_STORE* store = nullptr;  // owned
  bool crl = false;             // CRL checking on
  std::string error;            // non-empty: refuse every handshake
  ~Snapshot() { X509_STORE_free(store); }
};

PeerVerifier::PeerVerifier(PeerVerifierOptions options)
    : options_(std::move(options)) {
  auto first = Current();
  if (!first->error.empty()) {
    SPDLOG_ERROR("tls {}: {} (every client is refused until fixed)",
                 options_.listener, first->error);
  }
}

PeerVerifier::~PeerVerifier() = default;

std::shared_ptr<const PeerVerifier::Snapshot> PeerVerifier::Current() {
  std::string sig;
  StatInto(options_.ca_file, &sig);
  if (!options_.crl_file.empty()) StatInto(options_.crl_file, &sig);
  std::vector<std::string> crl_files;
  bool dir_ok = true;
  if (!options_.crl_dir.empty()) {
    crl_files = ListDir(options_.crl_dir, &dir_ok);
    absl::StrAppend(&sig, "dir ", options_.crl_dir, dir_ok ? ":" : " -:");
    for (const auto& f : crl_files) StatInto(f, &sig);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    if (snapshot_ && snapshot_->signature == sig) return snapshot_;
  }
  // Parse outside the lock; a concurrent reload of the same files is
  // harmless (the last one wins, both are equal).
  auto snap = std::make_shared<Snapshot>();
  snap->signature = sig;
  snap->store = X509_STORE_new();
  std::string pem;
  std::vector<X509*> cas;
  if (!Slurp(options_.ca_file, &pem)) {
    snap->error = "tls.ca_file cannot be read";
  } else if (ReadAllPem<X509>(pem, PEM_read_bio_X509, &cas) <= 0) {
    snap->error = absl::StrCat("tls.ca_file holds no valid certificate: ",
                               OpensslError());
  }
  for (X509* c : cas) {
    X509_STORE_add_cert(snap->store, c);
    X509_free(c);
  }
  snap->crl = !options_.crl_dir.empty() || !options_.crl_file.empty();
  if (snap->crl && snap->error.empty()) {
    std::vector<std::string> files = crl_files;
    if (!options_.crl_file.empty()) files.push_back(options_.crl_file);
    int total = 0;
    if (!dir_ok) snap->error = "tls.crl_dir is missing or unreadable";
    for (const auto& f : files) {
      if (!snap->error.empty()) break;
      std::vector<X509_CRL*> crls;
      const bool is_file = f == options_.crl_file;
      const char* what = is_file ? "tls.crl_file" : "a file in tls.crl_dir";
      if (!Slurp(f, &pem)) {
        snap->error = absl::StrCat(what, " cannot be read");
      } else if (ReadAllPem<X509_CRL>(pem, PEM_read_bio_X509_CRL, &crls) <= 0) {
        snap->error =
            absl::StrCat(what, " holds no valid PEM CRL: ", OpensslError());
      }
      for (X509_CRL* c : crls) {
        X509_STORE_add_crl(snap->store, c);
        X509_CRL_free(c);
        ++total;
      }
    }
    if (snap->error.empty() && total == 0) {
      snap->error = "CRL checking is configured but no CRL was found";
    }
  }
  if (snap->error.empty()) {
    SPDLOG_INFO("tls {}: trusted CAs{} loaded", options_.listener,
                snap->crl ? " and CRLs" : "");
  } else {
    SPDLOG_ERROR("tls {}: {}; refusing every client certificate (fail closed)",
                 options_.listener, snap->error);
  }
  std::lock_guard<std::mutex> l(mu_);
  snapshot_ = std::move(snap);
  return snapshot_;
}

absl::StatusOr<std::string> PeerVerifier::Check(std::string_view leaf_pem,
                                                std::string_view chain_pem) {
  auto snap = Current();
  std::string serial = "?";
  auto refuse = [&](const std::string& reason) {
    SPDLOG_WARN("tls {}: refused client certificate serial={}: {}",
                options_.listener, serial, reason);
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate refused: ", reason));
  };
  if (!snap->error.empty()) return refuse(snap->error);
  std::vector<X509*> leaves;
  if (ReadAllPem<X509>(leaf_pem, PEM_read_bio_X509, &leaves) <= 0) {
    ERR_clear_error();
    return refuse("no parseable client certificate");
  }
  X509Ptr leaf(leaves[0]);
  for (size_t i = 1; i < leaves.size(); ++i) X509_free(leaves[i]);
  serial = SerialHex(leaf.get());
  std::vector<X509*> sent;
  if (!chain_pem.empty() &&
      ReadAllPem<X509>(chain_pem, PEM_read_bio_X509, &sent) < 0) {
    for (X509* c : sent) X509_free(c);
    ERR_clear_error();
    return refuse("unparseable certificate chain");
  }
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (X509* c : sent) {
    if (X509_cmp(c, leaf.get()) == 0) {
      X509_free(c);
    } else {
      sk_X509_push(untrusted, c);
    }
  }
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  std::string reason;
  if (ctx == nullptr ||
      !X509_STORE_CTX_init(ctx, snap->store, leaf.get(), untrusted)) {
    reason = "verifier out of memory";
  } else {
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    X509_VERIFY_PARAM* p = X509_STORE_CTX_get0_param(ctx);
    // Level 2: >= 112-bit security, no SHA-1 signatures.
    X509_VERIFY_PARAM_set_auth_level(p, 2);
    if (snap->crl) {
      X509_VERIFY_PARAM_set_flags(
          p, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }
    if (X509_verify_cert(ctx) != 1) {
      const int err = X509_STORE_CTX_get_error(ctx);
      reason =
          absl::StrCat("chain: ", X509_verify_cert_error_string(err),
                       " (depth ", X509_STORE_CTX_get_error_depth(ctx), ")");
    } else {
      STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx);
      for (int i = 0; i < sk_X509_num(chain) && reason.empty(); ++i) {
        if (!StrongKey(X509_get0_pubkey(sk_X509_value(chain, i)))) {
          reason = absl::StrCat("weak or unsupported key at depth ", i,
                                " (accepted: ", kKeyPolicy, ")");
        }
      }
    }
  }
  X509_STORE_CTX_free(ctx);
  sk_X509_pop_free(untrusted, X509_free);
  ERR_clear_error();
  if (!reason.empty()) return refuse(reason);

  X509* x = leaf.get();
  const uint32_t flags = X509_get_extension_flags(x);
  if (X509_check_ca(x) != 0) {
    return refuse("a CA certificate cannot be a client certificate");
  }
  if (!(flags & EXFLAG_KUSAGE) ||
      !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE)) {
    return refuse("keyUsage must include digitalSignature");
  }
  if (!(flags & EXFLAG_XKUSAGE) ||
      !(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT)) {
    return refuse("extendedKeyUsage must include clientAuth");
  }
  // Exactly one urn:ehx:agency: URI SAN.
  std::vector<std::string> ids;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) continue;
    const ASN1_STRING* s = n->d.uniformResourceIdentifier;
    std::string_view uri(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
        ASN1_STRING_length(s));
    if (uri.substr(0, sizeof(kAgencyUriPrefix) - 1) == kAgencyUriPrefix) {
      ids.emplace_back(uri.substr(sizeof(kAgencyUriPrefix) - 1));
    }
  }
  GENERAL_NAMES_free(names);
  if (ids.empty()) return refuse("no urn:ehx:agency: URI SAN");
  if (ids.size() > 1) return refuse("more than one urn:ehx:agency: URI SAN");
  const std::string& id = ids[0];
  if (!ValidId(id)) return refuse("the agency URI SAN has an invalid id");
  if (options_.decommissioned.count(id)) {
    return refuse(absl::StrCat("agency ", id, " is decommissioned"));
  }
  if (!options_.accepted.count(id)) {
    return refuse(absl::StrCat("agency ", id, " is not accepted on the ",
                               options_.listener, " listener"));
  }
  return id;
}

}  // namespace ehx::server
