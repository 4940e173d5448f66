// The health adapter: FHIR R4 UK Core Patient resources over HTTPS and HL7
// v2.4 ADT over MLLP in, FHIR Communication resources out. See README.md
// for the contract, mapping and security posture.
//
//  - Start() opens the configured listeners (each hands its input to the
//    Ingestor, which publishes one PersonUpdate per good record).
//  - OnDelivery: a CAF notification or step-down notice is rendered as a
//    FHIR Communication (RenderCommunication) and written atomically to
//    `outbox_dir` as Communication-<message id>.json, or POSTed to
//    `communication_url`. Other event types are acknowledged without
//    output.
//
// Threading as ehx::sdk::Adapter: hooks are never called concurrently with
// each other; the listeners' threads share only the Ingestor (locked).
#ifndef EHX_ADAPTERS_HEALTH_HEALTH_ADAPTER_H_
#define EHX_ADAPTERS_HEALTH_HEALTH_ADAPTER_H_

#include <memory>
#include <string>
#include <string_view>

#include "ehx_sdk/adapter.h"
#include "identity_state.h"
#include "ingestor.h"
#include "servers.h"

namespace ehx::adapters::health {

class HealthAdapter : public ehx::sdk::Adapter {
 public:
  static constexpr const char* kType = "health";
  static constexpr const char* kVersion = "1.0.0";

  // Throws StatusError for an invalid config (no agency_id or state_dir,
  // neither outbox_dir nor an http(s) communication_url, https enabled
  // without its key pair, a missing directory without create_dirs) or an
  // identity state that cannot be opened.
  HealthAdapter(const HealthConfig& config, ehx::sdk::Host host);
  ~HealthAdapter() override;

  ehx::sdk::Status Start() override;
  void Stop() override;
  ehxpb::adapter::v1::IngestReport Ingest(const std::string& input_name,
                                          std::string_view bytes) override;
  ehx::sdk::Status Render(const ehxpb::exchange::v1::Delivery& delivery,
                          ehxpb::adapter::v1::RenderResult* out) override;
  // Ack once the Communication is written (or the URL answered 2xx); Retry
  // when the outbox cannot be written or the URL fails transiently; Reject
  // a delivery that cannot be rendered or that the URL refuses (4xx).
  ehx::sdk::DeliveryResult OnDelivery(
      const ehxpb::exchange::v1::Delivery& delivery) override;

 private:
  const HealthConfig config_;
  const ehx::sdk::Host host_;
  std::unique_ptr<IdentityState> state_;
  std::unique_ptr<Ingestor> ingestor_;
  std::unique_ptr<Server> mllp_;
  std::unique_ptr<Server> https_;
};

}  // namespace ehx::adapters::health

#endif  // EHX_ADAPTERS_HEALTH_HEALTH_ADAPTER_H_
