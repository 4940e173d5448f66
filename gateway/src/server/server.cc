#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
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

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const ehx::config::v1::GatewayConfig& c) {
  if (c.dev_plaintext()) {
    SPDLOG_WARN(
        "dev_plaintext: no TLS, agency taken from metadata (loopback only)");
    return grpc::InsecureServerCredentials();
  }
  auto ca = ReadFile(c.tls().ca_file());
  auto cert = ReadFile(c.tls().cert_file());
  auto key = ReadFile(c.tls().key_file());
  for (const auto* s : {&ca, &cert, &key}) {
    if (!s->ok()) return s->status();
  }
  grpc::SslServerCredentialsOptions opts(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  opts.pem_root_certs = *ca;
  opts.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(opts);
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

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const ehx::config::v1::GatewayConfig& config, pipeline::GatewayCore* core) {
  auto creds = Credentials(config);
  if (!creds.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls: ", std::string(creds.status().message())));
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto impl = std::make_unique<ServerImpl>();
  impl->exchange_service_ =
      std::make_unique<ExchangeService>(core, config.dev_plaintext());
  {
    grpc::ServerBuilder b;
    CommonOptions(b);
    b.AddListeningPort(config.listen(), *creds, &impl->exchange_port_);
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
    b.AddListeningPort(config.admin_listen(), *creds, &impl->admin_port_);
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
