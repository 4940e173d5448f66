// The health adapter class (see health_adapter.h and README.md). Part of
// ehx_adapter_health_core so tests can drive OnDelivery; the plugin entry
// point is health_entry.cc.
#include "health_adapter.h"

#include <filesystem>
#include <memory>
#include <string>

#include "communication.h"
#include "ehx_sdk/files.h"

namespace ehx::adapters::health {

namespace fs = std::filesystem;
using ::ehx::sdk::Code;
using ::ehx::sdk::DeliveryResult;
using ::ehx::sdk::LogLevel;
using ::ehx::sdk::Status;
using ::ehx::sdk::StatusError;
using Delivery = ::ehxpb::exchange::v1::Delivery;
using RenderResult = ::ehxpb::adapter::v1::RenderResult;

HealthAdapter::HealthAdapter(const HealthConfig& config, ehx::sdk::Host host)
    : config_(config), host_(host) {
  if (config_.agency_id().empty()) {
    throw StatusError(Status(Code::kInvalidArgument, "agency_id is required"));
  }
  if (config_.state_dir().empty()) {
    throw StatusError(Status(Code::kInvalidArgument, "state_dir is required"));
  }
  Status st = ehx::sdk::PrepareDir(config_.state_dir(), "state_dir", true,
                                   config_.create_dirs());
  if (!st.ok()) throw StatusError(st);
  if (config_.communication_url().empty()) {
    if (config_.outbox_dir().empty()) {
      throw StatusError(Status(Code::kInvalidArgument,
                               "outbox_dir or communication_url is required"));
    }
    st = ehx::sdk::PrepareDir(config_.outbox_dir(), "outbox_dir", true,
                              config_.create_dirs());
    if (!st.ok()) throw StatusError(st);
  } else if (config_.communication_url().rfind("https://", 0) != 0 &&
             config_.communication_url().rfind("http://", 0) != 0) {
    throw StatusError(
        Status(Code::kInvalidArgument, "communication_url must be http(s)://"));
  }
  if (config_.https().enabled() && (config_.https().cert_file().empty() ||
                                    config_.https().key_file().empty())) {
    throw StatusError(Status(Code::kInvalidArgument,
                             "https.cert_file and https.key_file are "
                             "required when https.enabled"));
  }
  std::string error;
  state_ = IdentityState::Open(
      (fs::path(config_.state_dir()) / "identity.sqlite3").string(), &error);
  if (state_ == nullptr) {
    throw StatusError(Status(Code::kFailedPrecondition, error));
  }
  ingestor_ = std::make_unique<Ingestor>(
      config_, state_.get(),
      [this](const Envelope& env) { return host_.Publish(env); });
}

HealthAdapter::~HealthAdapter() { Stop(); }

Status HealthAdapter::Start() {
  std::string error;
  if (config_.mllp().enabled()) {
    mllp_ = StartMllpServer(config_.mllp(), ingestor_.get(), &error);
    if (mllp_ == nullptr) {
      return Status(Code::kFailedPrecondition, "mllp: " + error);
    }
  }
  if (config_.https().enabled()) {
    https_ = StartHttpsServer(config_.https(), ingestor_.get(), &error);
    if (https_ == nullptr) {
      Stop();
      return Status(Code::kFailedPrecondition, "https: " + error);
    }
  }
  return Status();
}

void HealthAdapter::Stop() {
  if (https_) https_->Stop();
  if (mllp_) mllp_->Stop();
  https_.reset();
  mllp_.reset();
}

ehxpb::adapter::v1::IngestReport HealthAdapter::Ingest(
    const std::string& input_name, std::string_view bytes) {
  return ingestor_->Ingest(input_name, bytes);
}

Status HealthAdapter::Render(const Delivery& delivery, RenderResult* out) {
  return RenderCommunication(delivery, out);
}

// Renders and writes (or posts) the Communication. Other event types are
// acknowledged without output: health visitors get only CAF notifications
// and step-down notices.
DeliveryResult HealthAdapter::OnDelivery(const Delivery& delivery) {
  RenderResult out;
  Status st = RenderCommunication(delivery, &out);
  if (st.code() == Code::kFailedPrecondition) {
    host_.Log(LogLevel::kDebug,
              "delivery of event type " +
                  std::to_string(delivery.envelope().event_type()) +
                  " has no health rendering; acknowledged");
    return DeliveryResult::Ack();
  }
  if (!st.ok()) return DeliveryResult::Reject("not_renderable");
  if (!config_.communication_url().empty()) {
    std::string error;
    const int code = PostJson(config_.communication_url(), out.content(),
                              config_.communication_ca_file(), &error);
    if (code >= 200 && code < 300) return DeliveryResult::Ack();
    host_.Log(LogLevel::kWarn, code < 0 ? error
                                        : "communication_url answered HTTP " +
                                              std::to_string(code));
    return code >= 400 && code < 500 && code != 408 && code != 429
               ? DeliveryResult::Reject("communication_refused")
               : DeliveryResult::Retry("communication_post_failed");
  }
  st = ehx::sdk::WriteFileAtomically(config_.outbox_dir(), out.file_name(),
                                     out.content());
  if (!st.ok()) {
    host_.Log(LogLevel::kWarn, st.message());
    return DeliveryResult::Retry("outbox_write_failed");
  }
  return DeliveryResult::Ack();
}

}  // namespace ehx::adapters::health
