// A purpose-built SDK adapter for the conformance and plugin host tests:
// its config decides which hook throws and what deliveries get.
#include <stdexcept>
#include <string>

#include "ehx_sdk/adapter.h"

namespace {

using ProbeConfig = ::ehxpb::adapters::probe::v1::ProbeConfig;
using ::ehx::sdk::DeliveryResult;
using ::ehx::sdk::Status;

class ProbeAdapter : public ehx::sdk::Adapter {
 public:
  static constexpr const char* kType = "probe";
  static constexpr const char* kVersion = "0.0.1";

  ProbeAdapter(const ProbeConfig& config, ehx::sdk::Host host)
      : config_(config), host_(host) {
    if (config_.throw_in() == "create")
      throw std::runtime_error("boom in create");
  }

  Status Start() override {
    if (config_.throw_in() == "start")
      throw std::runtime_error("boom in start");
    if (!config_.publish_case_ref().empty()) {
      ehxpb::exchange::v1::Envelope env;
      env.set_idempotency_key("probe-start");
      env.set_case_ref(config_.publish_case_ref());
      env.set_event_type(ehxpb::exchange::v1::EVENT_TYPE_CASE_CLOSED);
      ehx::sdk::PublishResult r = host_.Publish(env);
      if (!r.status.ok()) {
        std::string text = r.status.ToString();
        for (const auto& v : r.status.violations()) {
          text += " [" + v.field + ": " + v.description + "]";
        }
        return Status(r.status.code(), "publish refused: " + text);
      }
      host_.Log(ehx::sdk::LogLevel::kInfo,
                "published " + r.receipt.message_id());
    }
    return Status();
  }

  DeliveryResult OnDelivery(
      const ehxpb::exchange::v1::Delivery& delivery) override {
    if (config_.throw_in() == "delivery")
      throw std::runtime_error("boom in delivery");
    if (config_.disposition() == "retry")
      return DeliveryResult::Retry("probe_retry");
    if (config_.disposition() == "reject")
      return DeliveryResult::Reject("probe_reject");
    return DeliveryResult::Ack();
  }

  void Stop() override {
    if (config_.throw_in() == "stop") throw std::runtime_error("boom in stop");
  }

 private:
  const ProbeConfig config_;
  const ehx::sdk::Host host_;
};

}  // namespace

EHX_ADAPTER(ProbeAdapter, ehxpb::adapters::probe::v1::ProbeConfig)
