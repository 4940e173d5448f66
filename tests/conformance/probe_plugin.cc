// A purpose-built SDK adapter for the conformance and plugin host tests:
// its config decides which hook throws and what deliveries get.
#include <google/protobuf/util/json_util.h>

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

  // One record per non-empty line: the line is a case_ref, published as a
  // (valid) CASE_CLOSED event keyed "probe-<input>-<line>"; the line
  // "NOPAYLOAD" omits the payload. A NUL byte anywhere
  // rejects the whole input (nothing published).
  ehxpb::adapter::v1::IngestReport Ingest(const std::string& input_name,
                                          std::string_view bytes) override {
    if (config_.throw_in() == "ingest")
      throw std::runtime_error("boom in ingest");
    ehxpb::adapter::v1::IngestReport report;
    report.set_input_name(input_name);
    if (bytes.find('\0') != std::string_view::npos) {
      report.set_input_rejected(true);
      report.set_input_error("binary input (NUL byte)");
      return report;
    }
    int line_no = 0;
    size_t start = 0;
    while (start <= bytes.size()) {
      size_t end = bytes.find('\n', start);
      if (end == std::string_view::npos) end = bytes.size();
      std::string line(bytes.substr(start, end - start));
      ++line_no;
      start = end + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      report.set_records_total(report.records_total() + 1);
      ehxpb::exchange::v1::Envelope env;
      // A case closure the gateway's validator accepts.
      (void)google::protobuf::util::JsonStringToMessage(
          R"({"eventType": "EVENT_TYPE_CASE_CLOSED",
              "occurredAt": "2026-01-05T10:00:00Z",
              "caseClosure": {"reason": "Outcomes met.",
                              "reasonCode": "CLOSURE_REASON_OUTCOMES_MET",
                              "closedOn": {"year": 2026, "month": 1,
                                           "day": 5}}})",
          &env);
      env.set_idempotency_key("probe-" + input_name + "-" +
                              std::to_string(line_no));
      env.set_case_ref(line);
      if (line == "NOPAYLOAD") env.clear_case_closure();
      ehx::sdk::PublishRecord(host_, env, "line " + std::to_string(line_no),
                              &report);
    }
    return report;
  }

  // "<message_id>.txt" holding the case_ref.
  Status Render(const ehxpb::exchange::v1::Delivery& delivery,
                ehxpb::adapter::v1::RenderResult* out) override {
    if (config_.throw_in() == "render")
      throw std::runtime_error("boom in render");
    if (delivery.envelope().message_id().empty()) {
      return Status(ehx::sdk::Code::kInvalidArgument, "missing_message_id");
    }
    out->set_file_name(delivery.envelope().message_id() + ".txt");
    out->set_media_type("text/plain");
    out->set_content(delivery.envelope().case_ref() + "\n");
    return Status();
  }

 private:
  const ProbeConfig config_;
  const ehx::sdk::Host host_;
};

}  // namespace

EHX_ADAPTER(ProbeAdapter, ehxpb::adapters::probe::v1::ProbeConfig)
