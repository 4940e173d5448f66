// The gRPC edge: Exchange and Admin services on their own listeners, mTLS
// by default, health and reflection services.
#ifndef EHX_SERVER_SERVER_H_
#define EHX_SERVER_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "ehx/config/v1/config.pb.h"
#include "pipeline/gateway_core.h"

namespace ehx::server {

// Owns the gRPC servers. Thread-safe.
class GatewayServer {
 public:
  // Binds the listeners named in `config` (port 0 picks a free port) and
  // starts serving. `core` must outlive the server.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(
      const ehx::config::v1::GatewayConfig& config,
      pipeline::GatewayCore* core);
  virtual ~GatewayServer() = default;

  virtual int exchange_port() const = 0;
  virtual int admin_port() const = 0;  // 0 if no admin listener
  // Stops accepting calls and cancels streams (deadline 2 s). Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace ehx::server

#endif  // EHX_SERVER_SERVER_H_
