#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "server/peer_verifier.h"
#include "server/services.h"

namespace ehx::server {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Fails fast at start on files the file watcher would only complain about
// in gRPC's own log: the key must parse and match the certificate.
absl::Status CheckIdentityFiles(const ehx::config::v1::Tls& tls) {
  auto cert = ReadFile(tls.cert_file());
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(tls.key_file());
  if (!key.ok()) return key.status();
  BIO* cb = BIO_new_mem_buf(cert->data(), static_cast<int>(cert->size()));
  BIO* kb = BIO_new_mem_buf(key->data(), static_cast<int>(key->size()));
  X509* x = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  EVP_PKEY* k = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  absl::Status st;
  if (x == nullptr) {
    st = absl::InvalidArgumentError("tls.cert_file: no PEM certificate");
  } else if (k == nullptr) {
    st = absl::InvalidArgumentError("tls.key_file: no PEM private key");
  } else if (X509_check_private_key(x, k) != 1) {
    st = absl::InvalidArgumentError(
        "tls.key_file: does not match the certificate in tls.cert_file");
  }
  X509_free(x);
  EVP_PKEY_free(k);
  BIO_free(cb);
  BIO_free(kb);
  ERR_clear_error();
  return st;
}

// Runs PeerVerifier inside gRPC's handshake (synchronously: the checks
// are CPU-only and take well under a millisecond).
class AgencyCertificateVerifier
    : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit AgencyCertificateVerifier(std::shared_ptr<PeerVerifier> v)
      : verifier_(std::move(v)) {}
  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>,
              grpc::Status* sync_status) override {
    const grpc::string_ref leaf = request->peer_cert();
    const grpc::string_ref chain = request->peer_cert_full_chain();
    absl::StatusOr<std::string> r =
        verifier_->Check(std::string_view(leaf.data(), leaf.size()),
                         std::string_view(chain.data(), chain.size()));
    *sync_status = r.ok() ? grpc::Status::OK
                          : grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                         std::string(r.status().message()));
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {
  }

 private:
  std::shared_ptr<PeerVerifier> verifier_;
};

// Certificates, key and trusted CAs are re-read from disk every
// tls.refresh_interval_seconds by gRPC's file watcher; the verifier
// re-reads the CA bundle and CRLs itself when they change.
std::shared_ptr<grpc::ServerCredentials> ListenerCredentials(
    std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider,
    PeerVerifierOptions options) {
  grpc::experimental::TlsServerCredentialsOptions opts(std::move(provider));
  opts.watch_root_certs();
  opts.watch_identity_key_cert_pairs();
  opts.set_cert_request_type(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  opts.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<
          AgencyCertificateVerifier>(
          std::make_shared<PeerVerifier>(std::move(options))));
  return grpc::experimental::TlsServerCredentials(opts);
}

class ServerImpl : public GatewayServer {
 public:
  int exchange_port() const override { return exchange_port_; }
  int admin_port() const override { return admin_port_; }
  void Shutdown() override {
    std::lock_guard<std::mutex> l(mu_);
    if (down_) return;
    down_ = true;
    auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(2);
    if (exchange_) exchange_->Shutdown(deadline);
    if (admin_) admin_->Shutdown(deadline);
  }
  ~ServerImpl() override { Shutdown(); }

  std::unique_ptr<ExchangeService> exchange_service_;
  std::unique_ptr<AdminService> admin_service_;
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider_;
  std::unique_ptr<grpc::Server> exchange_, admin_;
  int exchange_port_ = 0, admin_port_ = 0;
  std::mutex mu_;
  bool down_ = false;
};

void CommonOptions(grpc::ServerBuilder& b) {
  // A leftover server on the same port must never silently share it.
  b.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  b.SetMaxReceiveMessageSize(16 * 1024 * 1024);
}

}  // namespace

void PinTlsCipherSuites() {
  const char* old = std::getenv("GRPC_SSL_CIPHER_SUITES");
  if (old != nullptr && std::string(old) != kTlsCipherSuites) {
    SPDLOG_WARN(
        "GRPC_SSL_CIPHER_SUITES is replaced by the gateway's ECDHE+AEAD list");
  }
  setenv("GRPC_SSL_CIPHER_SUITES", kTlsCipherSuites, 1);
}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const ehx::config::v1::GatewayConfig& config, pipeline::GatewayCore* core) {
  std::shared_ptr<grpc::ServerCredentials> exchange_creds, admin_creds;
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider;
  if (config.dev_plaintext()) {
    SPDLOG_WARN(
        "dev_plaintext: no TLS, agency taken from metadata (loopback only)");
    exchange_creds = admin_creds = grpc::InsecureServerCredentials();
  } else {
    const auto& tls = config.tls();
    if (absl::Status st = CheckIdentityFiles(tls); !st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls: ", std::string(st.message())));
    }
    const int refresh = tls.refresh_interval_seconds() > 0
                            ? tls.refresh_interval_seconds()
                            : 60;
    provider =
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
            tls.key_file(), tls.cert_file(), tls.ca_file(), refresh);
    PeerVerifierOptions base;
    base.ca_file = tls.ca_file();
    base.crl_dir = tls.crl_dir();
    base.crl_file = tls.crl_file();
    for (const auto& a : config.agencies()) {
      if (a.decommissioned()) base.decommissioned.insert(a.id());
    }
    PeerVerifierOptions ex = base, ad = base;
    ex.listener = "exchange";
    for (const auto& a : config.agencies()) {
      if (!a.decommissioned()) ex.accepted.insert(a.id());
    }
    ad.listener = "admin";
    ad.accepted.insert(config.operators().begin(), config.operators().end());
    exchange_creds = ListenerCredentials(provider, std::move(ex));
    admin_creds = ListenerCredentials(provider, std::move(ad));
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto impl = std::make_unique<ServerImpl>();
  impl->provider_ = provider;
  impl->exchange_service_ =
      std::make_unique<ExchangeService>(core, config.dev_plaintext());
  {
    grpc::ServerBuilder b;
    CommonOptions(b);
    b.AddListeningPort(config.listen(), exchange_creds, &impl->exchange_port_);
    b.RegisterService(impl->exchange_service_.get());
    impl->exchange_ = b.BuildAndStart();
    if (!impl->exchange_ || impl->exchange_port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", config.listen()));
    }
  }
  if (!config.admin_listen().empty()) {
    std::set<std::string> ops(config.operators().begin(),
                              config.operators().end());
    impl->admin_service_ = std::make_unique<AdminService>(
        core, config.dev_plaintext(), std::move(ops));
    grpc::ServerBuilder b;
    CommonOptions(b);
    b.AddListeningPort(config.admin_listen(), admin_creds, &impl->admin_port_);
    b.RegisterService(impl->admin_service_.get());
    impl->admin_ = b.BuildAndStart();
    if (!impl->admin_ || impl->admin_port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", config.admin_listen()));
    }
  }
  return impl;
}

}  // namespace ehx::server
