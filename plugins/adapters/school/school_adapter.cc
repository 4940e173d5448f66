#include "school_adapter.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <tuple>
#include <vector>

#include "dsl_notice.h"
#include "ehx_sdk/files.h"

namespace ehx::adapters::school {
namespace {

namespace fs = std::filesystem;
using ::ehx::sdk::Code;
using ::ehx::sdk::DeliveryResult;
using ::ehx::sdk::LogLevel;
using ::ehx::sdk::Status;
using ::ehx::sdk::StatusError;
using ::ehx::sdk::WriteFileAtomically;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "rule: description" (the gateway's violation text) -> rule.
std::string RuleOf(const std::string& description) {
  const size_t colon = description.find(": ");
  if (colon == std::string::npos || colon > 64) return {};
  for (size_t i = 0; i < colon; ++i) {
    const char c = description[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return {};
    }
  }
  return description.substr(0, colon);
}

}  // namespace

SchoolAdapter::SchoolAdapter(const SchoolConfig& config, ehx::sdk::Host host)
    : config_(config), host_(host) {
  for (auto [value, key, required] :
       {std::tuple{config_.inbox_dir(), "inbox_dir", true},
        std::tuple{config_.rejected_dir(), "rejected_dir", true},
        std::tuple{config_.dsl_inbox_dir(), "dsl_inbox_dir", true},
        std::tuple{config_.processed_dir(), "processed_dir", false},
        std::tuple{config_.report_dir(), "report_dir", false}}) {
    Status st =
        ehx::sdk::PrepareDir(value, key, required, config_.create_dirs());
    if (!st.ok()) throw StatusError(st);
  }
  if (config_.poll_interval_ms() < 0 || config_.min_file_age_ms() < 0 ||
      config_.retry_backoff_ms() < 0 || config_.max_file_bytes() < 0) {
    throw StatusError(
        Status(Code::kInvalidArgument, "durations and sizes must be >= 0"));
  }
  for (int i = 0; i < config_.case_map_size(); ++i) {
    const auto& m = config_.case_map(i);
    const std::string key = "case_map[" + std::to_string(i) + "]";
    if (m.upn().empty() == m.nhs_number().empty()) {
      throw StatusError(Status(Code::kInvalidArgument,
                               key + ": set exactly one of upn, nhs_number"));
    }
    const std::string rule =
        m.upn().empty() ? inline_cases_.AddNhs(m.nhs_number(), m.case_ref())
                        : inline_cases_.AddUpn(m.upn(), m.case_ref());
    if (!rule.empty()) {
      const char* field = rule == "case_ref_format" || rule == "required"
                              ? ".case_ref"
                          : m.upn().empty() ? ".nhs_number"
                                            : ".upn";
      throw StatusError(Status(Code::kInvalidArgument,
                               key + field + ": refused (" + rule + ")"));
    }
  }
  if (!config_.case_map_file().empty() &&
      !fs::path(config_.case_map_file()).is_absolute()) {
    throw StatusError(Status(Code::kInvalidArgument,
                             "case_map_file must be an absolute path"));
  }
  max_bytes_ =
      config_.max_file_bytes() ? config_.max_file_bytes() : int64_t{64} << 20;
  ehx::sdk::InboxOptions inbox;
  inbox.dirs = {config_.inbox_dir()};
  inbox.suffixes = {".xml"};
  inbox.poll_interval = std::chrono::milliseconds(
      config_.poll_interval_ms() ? config_.poll_interval_ms() : 1000);
  inbox.min_file_age = std::chrono::milliseconds(
      config_.min_file_age_ms() ? config_.min_file_age_ms() : 200);
  inbox.retry_backoff = std::chrono::milliseconds(
      config_.retry_backoff_ms() ? config_.retry_backoff_ms() : 5000);
  inbox.before_pass = [this] { ReloadCaseMapFileIfChanged(); };
  poller_ = std::make_unique<ehx::sdk::InboxPoller>(
      inbox, [this](const fs::path& file) { return ProcessFile(file); });
  cases_ = std::make_shared<CaseIndex>(inline_cases_);
  ReloadCaseMapFileIfChanged();
}

SchoolAdapter::~SchoolAdapter() { Stop(); }

Status SchoolAdapter::Start() {
  poller_->Start();
  return Status();
}

void SchoolAdapter::Stop() { poller_->Stop(); }

Status SchoolAdapter::CheckHealth() { return poller_->health(); }

std::shared_ptr<const CaseIndex> SchoolAdapter::Cases() {
  std::lock_guard<std::mutex> lock(mu_);
  return cases_;
}

void SchoolAdapter::ReloadCaseMapFileIfChanged() {
  if (config_.case_map_file().empty()) return;
  std::error_code ec;
  const auto mtime = fs::last_write_time(config_.case_map_file(), ec);
  if (ec) {
    host_.Log(LogLevel::kWarn,
              "case_map_file cannot be read; keeping the "
              "previous mappings");
    return;
  }
  if (mtime == case_map_mtime_) return;
  std::ifstream in(config_.case_map_file(), std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  if (!in.good() && !in.eof()) return;
  auto index = std::make_shared<CaseIndex>(inline_cases_);
  for (const CaseMapLineError& e : LoadCaseMapText(buf.str(), index.get())) {
    // Line number and rule only: never the identifier.
    host_.Log(LogLevel::kWarn, "case_map_file line " + std::to_string(e.line) +
                                   " skipped (" + e.rule + ")");
  }
  case_map_mtime_ = mtime;
  std::lock_guard<std::mutex> lock(mu_);
  cases_ = std::move(index);
}

IngestOutcome SchoolAdapter::IngestWithHost(const std::string& input_name,
                                            std::string_view bytes) {
  std::shared_ptr<const CaseIndex> cases = Cases();
  MapOptions options;
  options.cases = cases.get();
  options.school_agency_id = config_.school_agency_id();
  options.now_unix_seconds = NowSeconds();
  XmlLimits limits;
  limits.max_bytes = static_cast<size_t>(max_bytes_);
  return IngestCtf(input_name, bytes, options, limits,
                   [this](const Envelope& env) {
                     PublishOutcome o;
                     ehx::sdk::PublishResult r = host_.Publish(env);
                     o.code = static_cast<int>(r.status.code());
                     if (r.status.ok()) {
                       o.message_id = r.receipt.message_id().empty()
                                          ? env.idempotency_key()
                                          : r.receipt.message_id();
                       return o;
                     }
                     o.message = r.status.message();
                     if (!r.status.violations().empty()) {
                       o.field = r.status.violations()[0].field;
                       o.rule = RuleOf(r.status.violations()[0].description);
                     }
                     return o;
                   });
}

::ehxpb::adapter::v1::IngestReport SchoolAdapter::Ingest(
    const std::string& input_name, std::string_view bytes) {
  return IngestWithHost(input_name, bytes).report;
}

Status SchoolAdapter::Render(const ::ehxpb::exchange::v1::Delivery& delivery,
                             ::ehxpb::adapter::v1::RenderResult* out) {
  std::string reason;
  if (!RenderDslNotice(delivery, out, &reason)) {
    return Status(reason == "unsupported_event_type" ? Code::kUnimplemented
                                                     : Code::kInvalidArgument,
                  reason);
  }
  return Status();
}

DeliveryResult SchoolAdapter::OnDelivery(
    const ::ehxpb::exchange::v1::Delivery& delivery) {
  if (!IsDslEvent(delivery.envelope())) {
    // Nothing for the DSL (e.g. an attendance echo): acknowledged.
    return DeliveryResult::Ack();
  }
  ::ehxpb::adapter::v1::RenderResult notice;
  std::string reason;
  if (!RenderDslNotice(delivery, &notice, &reason)) {
    return DeliveryResult::Reject(reason);
  }
  Status st = WriteFileAtomically(config_.dsl_inbox_dir(), notice.file_name(),
                                  notice.content());
  if (!st.ok()) {
    host_.Log(LogLevel::kWarn, "dsl inbox write failed: " + st.message());
    return DeliveryResult::Retry("dsl_inbox_write_failed");
  }
  return DeliveryResult::Ack();
}

Status SchoolAdapter::ScanOnce() { return poller_->ScanOnce(); }

ehx::sdk::InboxAction SchoolAdapter::ProcessFile(const fs::path& file) {
  const std::string name = file.filename().string();
  std::string content;
  switch (ehx::sdk::ReadInboxFile(file, max_bytes_, &content)) {
    case ehx::sdk::ReadOutcome::kGone:
      return ehx::sdk::InboxAction::kDone;
    case ehx::sdk::ReadOutcome::kTooLarge: {
      IngestReport report;
      report.set_input_name(name);
      report.set_input_rejected(true);
      report.set_input_error(
          "xml_too_large: the file is larger than "
          "max_file_bytes (" +
          std::to_string(max_bytes_) + ")");
      Reject(file, report);
      return ehx::sdk::InboxAction::kDone;
    }
    case ehx::sdk::ReadOutcome::kOk:
      break;
  }
  IngestOutcome outcome = IngestWithHost(name, content);
  if (outcome.retry_later) {
    host_.Log(LogLevel::kInfo, "gateway unavailable; file will be retried");
    return ehx::sdk::InboxAction::kRetry;
  }
  if (outcome.report.input_rejected()) {
    Reject(file, outcome.report);
  } else {
    Finish(file, outcome.report);
  }
  return ehx::sdk::InboxAction::kDone;
}

void SchoolAdapter::Finish(const fs::path& file, const IngestReport& report) {
  const std::string name = file.filename().string();
  if (!config_.report_dir().empty()) {
    Status st = WriteFileAtomically(config_.report_dir(), name + ".report.json",
                                    ehx::sdk::IngestReportJson(report));
    if (!st.ok())
      host_.Log(LogLevel::kWarn, "report write failed: " + st.message());
  }
  Status st =
      ehx::sdk::ReportAndMove(file, config_.processed_dir(), "", "", "");
  if (!st.ok()) {
    host_.Log(LogLevel::kError,
              "published but cannot clear inbox file: " + st.message());
  }
  host_.Log(LogLevel::kInfo,
            "CTF ingested: " + std::to_string(report.records_total()) +
                " pupils, " + std::to_string(report.records_published()) +
                " published, " + std::to_string(report.records_failed()) +
                " failed, " + std::to_string(report.errors_size()) + " notes");
}

void SchoolAdapter::Reject(const fs::path& file, const IngestReport& report) {
  const std::string name = file.filename().string();
  Status st = ehx::sdk::ReportAndMove(
      file, config_.rejected_dir(), config_.rejected_dir(),
      name + ".report.json", ehx::sdk::IngestReportJson(report));
  if (!st.ok()) {
    host_.Log(LogLevel::kError,
              "cannot move refused file to rejected_dir: " + st.message());
    return;  // still in the inbox: retried after the poller's backoff
  }
  host_.Log(LogLevel::kWarn, "CTF file rejected; see rejected_dir");
}

}  // namespace ehx::adapters::school
