#include "csc_adapter.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <vector>

#include "csc_files.h"
#include "csc_util.h"

namespace ehx::adapters::csc {
namespace {

namespace fs = std::filesystem;
using ::ehx::sdk::Code;
using ::ehx::sdk::DeliveryResult;
using ::ehx::sdk::LogLevel;
using ::ehx::sdk::Status;
using ::ehx::sdk::StatusError;

Status CheckDir(const std::string& value, const char* key, bool required,
                bool create) {
  if (value.empty()) {
    if (!required) return Status();
    return Status(Code::kInvalidArgument, std::string(key) + " is required");
  }
  if (!fs::path(value).is_absolute()) {
    return Status(Code::kInvalidArgument,
                  std::string(key) + " must be an absolute path");
  }
  std::error_code ec;
  if (create) {
    fs::create_directories(value, ec);
    if (!ec) {
      fs::permissions(
          value,
          fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec,
          ec);
    }
  }
  if (!fs::is_directory(value, ec)) {
    return Status(Code::kFailedPrecondition,
                  std::string(key) + " is not an existing directory");
  }
  return Status();
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string ReportJson(const IngestReport& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(report, &json, options)
           .ok()) {
    json = "{}";
  }
  return json;
}

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
    Status st = CheckDir(value, key, required, config_.create_dirs());
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
  poll_ = std::chrono::milliseconds(
      config_.poll_interval_ms() ? config_.poll_interval_ms() : 1000);
  min_age_ = std::chrono::milliseconds(
      config_.min_file_age_ms() ? config_.min_file_age_ms() : 200);
  retry_backoff_ = std::chrono::milliseconds(
      config_.retry_backoff_ms() ? config_.retry_backoff_ms() : 5000);
  if (config_.max_file_bytes() > 0) max_bytes_ = config_.max_file_bytes();
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
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return Status();
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
  return Status();
}

void CscAdapter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

Status CscAdapter::CheckHealth() {
  std::lock_guard<std::mutex> lock(mu_);
  return health_;
}

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
  if (!WriteFileAtomically(config_.outbox_dir(), r.file_name, r.json, &error)) {
    host_.Log(LogLevel::kWarn, "outbox write failed: " + error);
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

bool CscAdapter::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void CscAdapter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    ScanOnce();
    lock.lock();
    cv_.wait_for(lock, poll_, [this] { return stopping_; });
  }
}

void CscAdapter::ScanOnce() {
  ScanDir(config_.decision_inbox_dir());
  if (!config_.census_inbox_dir().empty()) ScanDir(config_.census_inbox_dir());
}

void CscAdapter::ScanDir(const std::string& dir) {
  std::error_code ec;
  std::vector<fs::path> files;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (!EndsWith(name, ".json") && !EndsWith(name, ".xml")) continue;
    std::error_code fe;
    if (it->is_symlink(fe) || !it->is_regular_file(fe)) continue;
    const auto mtime = it->last_write_time(fe);
    if (fe || now - mtime < min_age_) continue;
    files.push_back(it->path());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    health_ =
        ec ? Status(Code::kUnavailable, "cannot list an inbox") : Status();
  }
  if (ec) return;
  std::sort(files.begin(), files.end());
  const auto steady_now = std::chrono::steady_clock::now();
  for (const fs::path& file : files) {
    if (Stopping()) break;
    auto r = retry_at_.find(file);
    if (r != retry_at_.end() && steady_now < r->second) continue;
    ProcessFile(file);
  }
}

void CscAdapter::ProcessFile(const fs::path& file) {
  std::string content;
  bool too_large = false;
  const std::string name = file.filename().string();
  if (!ReadSmallFile(file, max_bytes_, &content, &too_large)) {
    if (!too_large) return;  // gone or unreadable: next scan
    IngestReport report;
    report.set_input_name(name);
    report.set_input_rejected(true);
    report.set_input_error("input_too_large: larger than max_file_bytes (" +
                           std::to_string(max_bytes_) + ")");
    Finish(file, report, true);
    return;
  }
  IngestOutcome out = IngestWithRetry(name, content);
  if (out.retry_later) {
    retry_at_[file] = std::chrono::steady_clock::now() + retry_backoff_;
    host_.Log(LogLevel::kInfo, "gateway unavailable; input will be retried");
    return;
  }
  retry_at_.erase(file);
  Finish(file, out.report, out.report.input_rejected());
}

// Moves the input to rejected_dir (unparseable) or processed_dir (or
// deletes it), with `<name>.report.json` beside it when there is anything
// to report.
void CscAdapter::Finish(const fs::path& file, const IngestReport& report,
                        bool rejected) {
  const std::string name = file.filename().string();
  const std::string dest =
      rejected ? config_.rejected_dir() : config_.processed_dir();
  std::string error;
  const bool want_report = rejected || report.errors_size() > 0;
  const std::string report_dir = dest.empty() ? config_.rejected_dir() : dest;
  if (want_report && !WriteFileAtomically(report_dir, name + ".report.json",
                                          ReportJson(report), &error)) {
    host_.Log(LogLevel::kError, "cannot write input report: " + error);
  }
  bool ok;
  if (dest.empty()) {
    std::error_code ec;
    ok = fs::remove(file, ec);
    if (!ok) error = ec.message();
  } else {
    ok = MoveInto(file, dest, &error);
  }
  if (!ok) {
    host_.Log(LogLevel::kError, "cannot clear inbox file: " + error);
    retry_at_[file] = std::chrono::steady_clock::now() + retry_backoff_;
    return;
  }
  host_.Log(rejected ? LogLevel::kWarn : LogLevel::kInfo,
            std::string(rejected ? "input rejected" : "input processed") +
                ": " + std::to_string(report.records_published()) +
                " published, " + std::to_string(report.records_failed()) +
                " failed");
}

}  // namespace ehx::adapters::csc
