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
using ::ehx::sdk::MoveInto;
using ::ehx::sdk::Status;
using ::ehx::sdk::StatusError;
using ::ehx::sdk::SyncDir;
using ::ehx::sdk::WriteFileAtomically;

bool IsXmlName(const std::string& name) {
  if (name.size() < 5) return false;
  std::string ext = name.substr(name.size() - 4);
  for (char& c : ext)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".xml";
}

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

std::string ReportJson(const IngestReport& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(report, &json, options)
           .ok()) {
    return "{}\n";
  }
  return json;
}

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
    Status st = CheckDir(value, key, required, config_.create_dirs());
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
  poll_ = std::chrono::milliseconds(
      config_.poll_interval_ms() ? config_.poll_interval_ms() : 1000);
  min_age_ = std::chrono::milliseconds(
      config_.min_file_age_ms() ? config_.min_file_age_ms() : 200);
  retry_backoff_ = std::chrono::milliseconds(
      config_.retry_backoff_ms() ? config_.retry_backoff_ms() : 5000);
  max_bytes_ =
      config_.max_file_bytes() ? config_.max_file_bytes() : int64_t{64} << 20;
  cases_ = std::make_shared<CaseIndex>(inline_cases_);
  ReloadCaseMapFileIfChanged();
}

SchoolAdapter::~SchoolAdapter() { Stop(); }

Status SchoolAdapter::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return Status();
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
  return Status();
}

void SchoolAdapter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

Status SchoolAdapter::CheckHealth() {
  std::lock_guard<std::mutex> lock(mu_);
  return health_;
}

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

void SchoolAdapter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    Status st = ScanOnce();
    lock.lock();
    health_ = st;
    if (!st.ok()) host_.Log(LogLevel::kWarn, "inbox scan: " + st.message());
    cv_.wait_for(lock, poll_, [this] { return stopping_; });
  }
}

bool SchoolAdapter::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

Status SchoolAdapter::ScanOnce() {
  ReloadCaseMapFileIfChanged();
  std::error_code ec;
  std::vector<fs::path> files;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(config_.inbox_dir(), ec), end;
       !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !IsXmlName(name)) continue;
    std::error_code fe;
    // No symlinks: a link could point anywhere the gateway can read.
    if (it->is_symlink(fe) || !it->is_regular_file(fe)) continue;
    const auto mtime = it->last_write_time(fe);
    if (fe || now - mtime < min_age_) continue;
    files.push_back(it->path());
  }
  if (ec)
    return Status(Code::kUnavailable, "cannot list inbox: " + ec.message());
  std::sort(files.begin(), files.end());
  const auto steady_now = std::chrono::steady_clock::now();
  for (auto it = retry_at_.begin(); it != retry_at_.end();) {
    if (std::find(files.begin(), files.end(), it->first) == files.end()) {
      it = retry_at_.erase(it);
    } else {
      ++it;
    }
  }
  for (const fs::path& file : files) {
    if (Stopping()) break;
    auto r = retry_at_.find(file);
    if (r != retry_at_.end() && steady_now < r->second) continue;
    ProcessFile(file);
  }
  return Status();
}

void SchoolAdapter::ProcessFile(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return;
  const std::string name = file.filename().string();
  if (static_cast<int64_t>(size) > max_bytes_) {
    IngestReport report;
    report.set_input_name(name);
    report.set_input_rejected(true);
    report.set_input_error(
        "xml_too_large: the file is larger than "
        "max_file_bytes (" +
        std::to_string(max_bytes_) + ")");
    Reject(file, report);
    return;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return;
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string content = buf.str();
  IngestOutcome outcome = IngestWithHost(name, content);
  if (outcome.retry_later) {
    retry_at_[file] = std::chrono::steady_clock::now() + retry_backoff_;
    host_.Log(LogLevel::kInfo, "gateway unavailable; file will be retried");
    return;
  }
  retry_at_.erase(file);
  if (outcome.report.input_rejected()) {
    Reject(file, outcome.report);
    return;
  }
  Finish(file, outcome.report);
}

void SchoolAdapter::Finish(const fs::path& file, const IngestReport& report) {
  const std::string name = file.filename().string();
  if (!config_.report_dir().empty()) {
    Status st = WriteFileAtomically(config_.report_dir(), name + ".report.json",
                                    ReportJson(report));
    if (!st.ok())
      host_.Log(LogLevel::kWarn, "report write failed: " + st.message());
  }
  Status st;
  if (config_.processed_dir().empty()) {
    std::error_code rm;
    fs::remove(file, rm);
    if (rm) st = Status(Code::kUnavailable, rm.message());
    SyncDir(file.parent_path());
  } else {
    st = MoveInto(file, config_.processed_dir());
  }
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
  retry_at_.erase(file);
  const std::string name = file.filename().string();
  Status st = WriteFileAtomically(config_.rejected_dir(), name + ".report.json",
                                  ReportJson(report));
  if (st.ok()) st = MoveInto(file, config_.rejected_dir());
  if (!st.ok()) {
    host_.Log(LogLevel::kError,
              "cannot move refused file to rejected_dir: " + st.message());
    retry_at_[file] = std::chrono::steady_clock::now() + retry_backoff_;
    return;
  }
  host_.Log(LogLevel::kWarn, "CTF file rejected; see rejected_dir");
}

}  // namespace ehx::adapters::school
