// The gRPC edge: Exchange and Admin services on their own listeners, mTLS
// by default, health and reflection services.
#ifndef EHX_SERVER_SERVER_H_
#define EHX_SERVER_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "ehx/config/v1/config.pb.h"
#include "pipeline/gateway_core.h"

namespace ehx::server {

// TLS 1.2 cipher suites the listeners offer: ECDHE key exchange with an
// AEAD cipher only (TLS 1.3 suites are AEAD by definition and listed too).
// gRPC's minimum protocol version is TLS 1.2.
inline constexpr char kTlsCipherSuites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
    "TLS_CHACHA20_POLY1305_SHA256:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-CHACHA20-POLY1305";

// Sets GRPC_SSL_CIPHER_SUITES to kTlsCipherSuites (gRPC reads it once, at
// its first TLS use). Call at the start of main, before any gRPC object
// exists; an operator's own value is replaced, with a warning.
void PinTlsCipherSuites();

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
