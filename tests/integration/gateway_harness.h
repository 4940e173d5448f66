// Starts the real ehx-gateway binary on port 0 in a temp dir, with a dev
// PKI, and gives mTLS channels per agency. Integration tests only.
#ifndef EHX_TESTS_INTEGRATION_GATEWAY_HARNESS_H_
#define EHX_TESTS_INTEGRATION_GATEWAY_HARNESS_H_

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ehx/audit/v1/audit.pb.h"
#include "ehx/exchange/v1/admin_service.grpc.pb.h"
#include "ehx/exchange/v1/exchange_service.grpc.pb.h"

namespace ehx::testing {

// A fresh temp dir, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The dev PKI for the demo agencies (+ "ops"), made once per process.
const std::filesystem::path& DevPki();

// The standard demo agencies and routes (YAML fragment), for tests that
// only tweak delivery settings.
std::string DemoAgenciesAndRoutes();

class GatewayProcess {
 public:
  // `config_body` is YAML without listen/tls/store/port_file, which the
  // harness adds. The store lives in `dir`.
  GatewayProcess(std::filesystem::path dir, std::string config_body);
  ~GatewayProcess();

  // Starts the binary and waits (up to 30 s) for its port file.
  bool Start();
  // SIGKILL and reap.
  void Kill();
  // SIGTERM and reap; returns exit status.
  int Stop();
  bool running() const { return pid_ > 0; }

  // The gateway's --log-level for the next Start() ("warn" by default).
  void set_log_level(std::string level) { log_level_ = std::move(level); }
  // Use another PKI folder (ca.pem, server.pem, server.key, <agency>.pem)
  // for both the gateway and Channel(); DevPki() by default.
  void set_pki(std::filesystem::path dir) { pki_ = std::move(dir); }
  // Server files other than <pki>/ca.pem|server.pem|server.key.
  void set_server_files(std::string ca, std::string cert, std::string key) {
    server_ca_ = std::move(ca);
    server_cert_ = std::move(cert);
    server_key_ = std::move(key);
  }
  // Extra keys inside the tls: mapping, e.g. "crl_file: x, ...".
  void set_tls_extra(std::string yaml) { tls_extra_ = std::move(yaml); }
  // Roots the client channels trust (default <pki>/ca.pem).
  void set_client_roots(std::string file) { client_roots_ = std::move(file); }
  const std::filesystem::path& pki() const;
  // Extra keys inside the generated `store:` mapping, e.g.
  // "encryption: {disabled: true}", for the next Start().
  void set_store_extra(std::string yaml) { store_extra_ = std::move(yaml); }

  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  std::string log() const;

  // A channel to the exchange (or admin) port as `agency`, using
  // DevPki()/<agency>.pem|.key. Override files to test bad certificates.
  std::shared_ptr<grpc::Channel> Channel(const std::string& agency,
                                         bool admin = false) const;
  std::shared_ptr<grpc::Channel> ChannelWith(const std::string& cert_file,
                                             const std::string& key_file,
                                             bool admin = false) const;
  std::unique_ptr<ehx::exchange::v1::Exchange::Stub> Exchange(
      const std::string& agency) const;
  std::unique_ptr<ehx::exchange::v1::Admin::Stub> Admin() const;

 private:
  std::filesystem::path dir_;
  std::string body_;
  pid_t pid_ = -1;
  std::string log_level_ = "warn";
  std::filesystem::path pki_;
  std::string server_ca_, server_cert_, server_key_, tls_extra_, client_roots_;
  std::string store_extra_;
  std::atomic<int> port_{0}, admin_port_{0};
};

// Reads an Envelope from protobuf JSON (a plain envelope file).
ehx::exchange::v1::Envelope LoadEnvelope(const std::filesystem::path& file);
// The demo messages folder (deploy/demo/messages).
std::filesystem::path DemoMessages();

// Fetches `agency`'s mailbox page by page until it is empty (at most 100
// rounds), letting `answer` fill each delivery's ack item (delivery id
// already set; default ok). False if a Fetch or Ack call failed.
bool DrainMailbox(
    ehx::exchange::v1::Exchange::Stub& stub,
    const std::function<void(const ehx::exchange::v1::Delivery&,
                             ehx::exchange::v1::AckItem*)>& answer);

// Every record of the store's audit trail in chain order. False if the
// database cannot be opened or a record does not parse.
bool ReadAuditTrail(const std::filesystem::path& db,
                    std::vector<ehx::audit::v1::AuditRecord>* out);

}  // namespace ehx::testing

#endif  // EHX_TESTS_INTEGRATION_GATEWAY_HARNESS_H_
