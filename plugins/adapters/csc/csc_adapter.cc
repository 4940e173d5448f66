#include "csc_adapter.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <vector>

#include "csc_util.h"
#include "ehx_sdk/files.h"

namespace ehx::adapters::csc {
namespace {

namespace fs = std::filesystem;
using ::ehx::sdk::Code;
using ::ehx::sdk::DeliveryResult;
using ::ehx::sdk::LogLevel;
using ::ehx::sdk::Status;
using ::ehx::sdk::StatusError;

PublishOutcome ToOutcome(const ehx::sdk::PublishResult& r) {
  PublishOutcome o;
  if (r.status.ok()) {
    o.kind = PublishOutcome::Kind::kAccepted;
    o.message_id = r.receipt.message_id();
    return o;
  }
  o.code = ehx::sdk::CodeName(r.status.code());
  o.message = r.status.message();
  for (const auto& v : r.status.violations()) {
    o.violations.emplace_back(v.field, v.description);
  }
  switch (r.status.code()) {
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
    case Code::kResourceExhausted:
    case Code::kAborted:
    case Code::kInternal:
    case Code::kUnknown:
    case Code::kCancelled:
      o.kind = PublishOutcome::Kind::kTransient;
      break;
    default:
      o.kind = PublishOutcome::Kind::kRefused;
  }
  return o;
}

}  // namespace

CscAdapter::CscAdapter(const CscConfig& config, ehx::sdk::Host host)
    : config_(config), host_(host) {
  for (auto [value, key, required] :
       {std::tuple{config_.outbox_dir(), "outbox_dir", true},
        std::tuple{config_.decision_inbox_dir(), "decision_inbox_dir", true},
        std::tuple{config_.census_inbox_dir(), "census_inbox_dir", false},
        std::tuple{config_.rejected_dir(), "rejected_dir", true},
        std::tuple{config_.processed_dir(), "processed_dir", false},
        std::tuple{config_.state_dir(), "state_dir", true}}) {
    Status st =
        ehx::sdk::PrepareDir(value, key, required, config_.create_dirs());
    if (!st.ok()) throw StatusError(st);
  }
  if (config_.poll_interval_ms() < 0 || config_.min_file_age_ms() < 0 ||
      config_.retry_backoff_ms() < 0 || config_.max_file_bytes() < 0 ||
      config_.link_window_days() < 0) {
    throw StatusError(Status(Code::kInvalidArgument,
                             "durations, sizes and windows must be >= 0"));
  }
  for (int i = 0; i < config_.case_links_size(); ++i) {
    const auto& l = config_.case_links(i);
    if (!ValidLaChildId(l.la_child_id()) || l.case_ref().empty()) {
      throw StatusError(Status(
          Code::kInvalidArgument,
          "case_links[" + std::to_string(i) +
              "]: la_child_id (1-20 letters and digits) and case_ref are "
              "required"));
    }
  }
  if (config_.max_file_bytes() > 0) max_bytes_ = config_.max_file_bytes();
  ehx::sdk::InboxOptions inbox;
  inbox.dirs = {config_.decision_inbox_dir()};
  if (!config_.census_inbox_dir().empty()) {
    inbox.dirs.push_back(config_.census_inbox_dir());
  }
  inbox.suffixes = {".json", ".xml"};
  inbox.poll_interval = std::chrono::milliseconds(
      config_.poll_interval_ms() ? config_.poll_interval_ms() : 1000);
  inbox.min_file_age = std::chrono::milliseconds(
      config_.min_file_age_ms() ? config_.min_file_age_ms() : 200);
  inbox.retry_backoff = std::chrono::milliseconds(
      config_.retry_backoff_ms() ? config_.retry_backoff_ms() : 5000);
  poller_ = std::make_unique<ehx::sdk::InboxPoller>(
      inbox, [this](const fs::path& file) { return ProcessFile(file); });
  std::string error;
  if (!index_.Open((fs::path(config_.state_dir()) / "links.jsonl").string(),
                   &error)) {
    throw StatusError(Status(Code::kFailedPrecondition, error));
  }
  if (index_.skipped_lines() > 0) {
    host_.Log(LogLevel::kWarn,
              "link index: " + std::to_string(index_.skipped_lines()) +
                  " unreadable line(s) skipped");
  }
}

CscAdapter::~CscAdapter() { Stop(); }

Status CscAdapter::Start() {
  poller_->Start();
  return Status();
}

void CscAdapter::Stop() { poller_->Stop(); }

Status CscAdapter::CheckHealth() { return poller_->health(); }

Status CscAdapter::Render(const ehxpb::exchange::v1::Delivery& delivery,
                          ehxpb::adapter::v1::RenderResult* out) {
  RenderedReferral r;
  std::string rule, error;
  if (!RenderReferral(delivery, &r, &rule, &error)) {
    return Status(Code::kInvalidArgument, rule + ": " + error);
  }
  out->set_file_name(r.file_name);
  out->set_media_type("application/json");
  out->set_content(r.json);
  return Status();
}

DeliveryResult CscAdapter::OnDelivery(
    const ehxpb::exchange::v1::Delivery& delivery) {
  const auto& env = delivery.envelope();
  if (env.event_type() != ehxpb::exchange::v1::EVENT_TYPE_STEP_UP_REFERRAL) {
    if (env.payload_case() == Envelope::PAYLOAD_NOT_SET ||
        env.message_id().empty()) {
      return DeliveryResult::Reject("malformed_delivery");
    }
    // The front door only takes referrals; other events routed here are
    // acknowledged and not written (see README, "What it ignores").
    host_.Log(LogLevel::kDebug, "delivery of event type " +
                                    std::to_string(env.event_type()) +
                                    " ignored");
    return DeliveryResult::Ack();
  }
  RenderedReferral r;
  std::string rule, error;
  if (!RenderReferral(delivery, &r, &rule, &error)) {
    return DeliveryResult::Reject(rule);
  }
  // Remember the referral first: a decision can only come back after the
  // file exists, and a redelivery re-adds nothing.
  if (!index_.Add(r.link, &error)) {
    host_.Log(LogLevel::kWarn, "link index: " + error);
    return DeliveryResult::Retry("link_index_write_failed");
  }
  if (Status st = ehx::sdk::WriteFileAtomically(config_.outbox_dir(),
                                                r.file_name, r.json);
      !st.ok()) {
    host_.Log(LogLevel::kWarn, "outbox write failed: " + st.message());
    return DeliveryResult::Retry("outbox_write_failed");
  }
  return DeliveryResult::Ack();
}

IngestOutcome CscAdapter::IngestWithRetry(const std::string& input_name,
                                          std::string_view bytes) {
  const MapResult mapped = MapInput(bytes, config_, index_);
  return PublishAll(input_name, mapped, [this](const Envelope& env) {
    return ToOutcome(host_.Publish(env));
  });
}

IngestReport CscAdapter::Ingest(const std::string& input_name,
                                std::string_view bytes) {
  IngestOutcome out = IngestWithRetry(input_name, bytes);
  if (out.retry_later) {
    RecordError* e = out.report.add_errors();
    e->set_rule("publish_unavailable");
    e->set_message(
        "the gateway was unavailable; the remaining records were not "
        "published (run again: what was published is recognised)");
  }
  return out.report;
}

ehx::sdk::InboxAction CscAdapter::ProcessFile(const fs::path& file) {
  std::string content;
  const std::string name = file.filename().string();
  switch (ehx::sdk::ReadInboxFile(file, max_bytes_, &content)) {
    case ehx::sdk::ReadOutcome::kGone:
      return ehx::sdk::InboxAction::kDone;  // gone meanwhile
    case ehx::sdk::ReadOutcome::kTooLarge: {
      IngestReport report;
      report.set_input_name(name);
      report.set_input_rejected(true);
      report.set_input_error("input_too_large: larger than max_file_bytes (" +
                             std::to_string(max_bytes_) + ")");
      Finish(file, report, true);
      return ehx::sdk::InboxAction::kDone;
    }
    case ehx::sdk::ReadOutcome::kOk:
      break;
  }
  IngestOutcome out = IngestWithRetry(name, content);
  if (out.retry_later) {
    host_.Log(LogLevel::kInfo, "gateway unavailable; input will be retried");
    return ehx::sdk::InboxAction::kRetry;
  }
  Finish(file, out.report, out.report.input_rejected());
  return ehx::sdk::InboxAction::kDone;  // if still there: retried after backoff
}

// Moves the input to rejected_dir (unparseable) or processed_dir (or
// deletes it), with `<name>.report.json` beside it when there is anything
// to report.
bool CscAdapter::Finish(const fs::path& file, const IngestReport& report,
                        bool rejected) {
  const std::string name = file.filename().string();
  const std::string dest =
      rejected ? config_.rejected_dir() : config_.processed_dir();
  const bool want_report = rejected || report.errors_size() > 0;
  const std::string report_dir = dest.empty() ? config_.rejected_dir() : dest;
  Status st = ehx::sdk::ReportAndMove(
      file, dest, report_dir, want_report ? name + ".report.json" : "",
      want_report ? ehx::sdk::IngestReportJson(report) : "");
  if (!st.ok()) {
    host_.Log(LogLevel::kError, "cannot clear inbox file: " + st.message());
    return false;
  }
  host_.Log(rejected ? LogLevel::kWarn : LogLevel::kInfo,
            std::string(rejected ? "input rejected" : "input processed") +
                ": " + std::to_string(report.records_published()) +
                " published, " + std::to_string(report.records_failed()) +
                " failed");
  return true;
}

}  // namespace ehx::adapters::csc
