#include "sf_adapter.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <vector>

#include "ehx_sdk/files.h"

namespace ehx::adapters::supporting_families {
namespace {

namespace fs = std::filesystem;
using ehx::sdk::Code;
using ehx::sdk::DeliveryResult;
using ehx::sdk::LogLevel;
using ehx::sdk::Status;
using ehx::sdk::StatusError;
using ::ehx::sdk::WriteFileAtomically;
using ehxpb::adapter::v1::IngestReport;

bool Transient(Code code) {
  return code == Code::kUnavailable || code == Code::kDeadlineExceeded ||
         code == Code::kResourceExhausted || code == Code::kAborted ||
         code == Code::kInternal || code == Code::kUnknown;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Extract-time order (section 3.3): the timestamp in a standard name, else
// the name; nonstandard names after standard ones.
std::string SortKey(const std::string& name) {
  constexpr std::string_view kPrefix = "sf-outcome-tracker-";
  if (name.rfind(kPrefix, 0) == 0 && name.size() == kPrefix.size() + 32) {
    return "0" + name.substr(kPrefix.size() + 12, 16) + name;
  }
  return "1" + name;
}

}  // namespace

SupportingFamiliesAdapter::SupportingFamiliesAdapter(
    const SupportingFamiliesConfig& config, ehx::sdk::Host host)
    : config_(config), host_(host) {
  const bool create = config_.create_dirs();
  auto check = [&](const std::string& value, const char* key) {
    Status st = ehx::sdk::PrepareDir(value, key, /*required=*/true, create);
    if (!st.ok()) throw StatusError(st);
  };
  check(config_.inbox_dir(), "inbox_dir");
  check(config_.outbox_dir(), "outbox_dir");
  archive_dir_ = config_.archive_dir().empty()
                     ? (fs::path(config_.inbox_dir()) / "archive").string()
                     : config_.archive_dir();
  rejected_dir_ = config_.rejected_dir().empty()
                      ? (fs::path(config_.inbox_dir()) / "rejected").string()
                      : config_.rejected_dir();
  reports_dir_ = config_.reports_dir().empty()
                     ? (fs::path(config_.inbox_dir()) / "reports").string()
                     : config_.reports_dir();
  {
    // The default subfolders are ours to create.
    const bool defaults = true;
    Status st = ehx::sdk::PrepareDir(
        archive_dir_, "archive_dir", true,
        create || (defaults && config_.archive_dir().empty()));
    if (st.ok()) {
      st = ehx::sdk::PrepareDir(rejected_dir_, "rejected_dir", true,
                                create || config_.rejected_dir().empty());
    }
    if (st.ok()) {
      st = ehx::sdk::PrepareDir(reports_dir_, "reports_dir", true,
                                create || config_.reports_dir().empty());
    }
    if (!st.ok()) throw StatusError(st);
  }
  if (!config_.state_dir().empty()) check(config_.state_dir(), "state_dir");
  if (!config_.la_code().empty() &&
      (config_.la_code().size() != 3 || !AllDigits(config_.la_code()))) {
    throw StatusError(
        Status(Code::kInvalidArgument, "la_code must be 3 digits"));
  }
  if (config_.poll_interval_ms() < 0 || config_.min_file_age_ms() < 0 ||
      config_.max_file_bytes() < 0) {
    throw StatusError(
        Status(Code::kInvalidArgument, "durations and sizes must be >= 0"));
  }
  ehx::sdk::InboxOptions inbox;
  inbox.dirs = {config_.inbox_dir()};
  inbox.suffixes = {".csv"};
  inbox.poll_interval = std::chrono::milliseconds(
      config_.poll_interval_ms() ? config_.poll_interval_ms() : 1000);
  inbox.min_file_age = std::chrono::milliseconds(
      config_.min_file_age_ms() ? config_.min_file_age_ms() : 200);
  inbox.retry_backoff = std::chrono::seconds(5);
  inbox.sort_key = SortKey;  // extract-time order (section 3.3)
  poller_ = std::make_unique<ehx::sdk::InboxPoller>(
      inbox, [this](const fs::path& file) { return ProcessFile(file); });
  tracker_options_.la_code = config_.la_code();
  tracker_options_.valid_la_codes.assign(config_.valid_la_codes().begin(),
                                         config_.valid_la_codes().end());
  if (config_.max_file_bytes() > 0) {
    tracker_options_.max_bytes = config_.max_file_bytes();
  }
  map_options_.case_refs.insert(config_.case_refs().begin(),
                                config_.case_refs().end());
  digests_path_ =
      ((config_.state_dir().empty() ? fs::path(archive_dir_)
                                    : fs::path(config_.state_dir())) /
       ".ehx-sf-processed")
          .string();
  {
    std::ifstream in(digests_path_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.size() == 64) digests_.insert(line);
    }
  }
  if (!config_.state_dir().empty()) {
    const fs::path dir(config_.state_dir());
    std::error_code ec;
    if (fs::exists(dir / "tracker-index.tsv", ec)) {
      index_.Deserialize(ReadAll(dir / "tracker-index.tsv"));
    }
    if (fs::exists(dir / "evidence.csv", ec)) {
      for (EvidenceRow& row : ParseEvidenceCsv(ReadAll(dir / "evidence.csv"))) {
        evidence_[row[kEvidenceIdColumn]] = std::move(row);
      }
    }
  }
}

SupportingFamiliesAdapter::~SupportingFamiliesAdapter() { Stop(); }

Status SupportingFamiliesAdapter::Start() {
  poller_->Start();
  return Status();
}

void SupportingFamiliesAdapter::Stop() { poller_->Stop(); }

Status SupportingFamiliesAdapter::CheckHealth() { return poller_->health(); }

IngestReport SupportingFamiliesAdapter::Ingest(const std::string& input_name,
                                               std::string_view bytes) {
  bool transient = false;
  TrackerFile parsed;
  return IngestImpl(input_name, bytes, &transient, &parsed);
}

IngestReport SupportingFamiliesAdapter::IngestImpl(
    const std::string& input_name, std::string_view bytes,
    bool* transient_failure, TrackerFile* parsed) {
  IngestReport report = IngestTracker(
      input_name, bytes, tracker_options_, map_options_,
      [&](const ehxpb::exchange::v1::Envelope& env, const std::string& position,
          IngestReport* r) {
        Status st = ehx::sdk::PublishRecord(host_, env, position, r);
        if (!st.ok() && Transient(st.code())) *transient_failure = true;
      },
      parsed);
  if (!report.input_rejected()) {
    std::lock_guard<std::mutex> lock(state_mu_);
    index_.AddFile(*parsed);
    SaveIndexLocked();
  }
  return report;
}

Status SupportingFamiliesAdapter::Render(
    const ehxpb::exchange::v1::Delivery& delivery,
    ehxpb::adapter::v1::RenderResult* out) {
  std::vector<EvidenceRow> rows;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    Status st = EvidenceRowsFor(delivery, index_, config_.la_code(), &rows);
    if (!st.ok()) return st;
  }
  const int64_t at = delivery.envelope().accepted_at().seconds();
  out->set_file_name(EvidenceFileName(
      config_.la_code().empty() ? rows.front()[0] : config_.la_code(), at));
  out->set_media_type("text/csv; charset=utf-8");
  out->set_content(EvidenceCsv(rows));
  return Status();
}

DeliveryResult SupportingFamiliesAdapter::OnDelivery(
    const ehxpb::exchange::v1::Delivery& delivery) {
  std::vector<EvidenceRow> rows;
  std::lock_guard<std::mutex> lock(state_mu_);
  Status st = EvidenceRowsFor(delivery, index_, config_.la_code(), &rows);
  if (st.code() == Code::kNotFound) return DeliveryResult::Ack();
  if (!st.ok()) {
    // The message starts with a machine reason or a field path; no values.
    return DeliveryResult::Reject(st.message().substr(0, 120));
  }
  const int64_t at = delivery.envelope().accepted_at().seconds();
  const std::string generated = IsoDateTime(at);
  for (EvidenceRow& row : rows) evidence_[row[kEvidenceIdColumn]] = row;
  // The complete statement of the evidence at `generated` (section 13.2).
  std::vector<EvidenceRow> all;
  all.reserve(evidence_.size());
  for (const auto& [id, row] : evidence_) {
    all.push_back(row);
    all.back()[kEvidenceColumnCount - 1] = generated;
  }
  std::sort(all.begin(), all.end(),
            [](const EvidenceRow& a, const EvidenceRow& b) {
              return std::tie(a[1], a[2], a[4], a[7], a[3]) <
                     std::tie(b[1], b[2], b[4], b[7], b[3]);
            });
  const std::string csv = EvidenceCsv(all);
  const std::string la =
      config_.la_code().empty() ? all.front()[0] : config_.la_code();
  Status w = WriteFileAtomically(config_.outbox_dir(), EvidenceFileName(la, at),
                                 csv, ehx::sdk::TempName::kPart);
  if (!w.ok()) {
    host_.Log(LogLevel::kWarn, "evidence write failed: " + w.message());
    return DeliveryResult::Retry("outbox_write_failed");
  }
  SaveEvidenceLocked(csv);
  return DeliveryResult::Ack();
}

void SupportingFamiliesAdapter::RememberDigest(const std::string& digest) {
  if (!digests_.insert(digest).second || digests_path_.empty()) return;
  const std::string line = digest + "\n";
  const int fd = ::open(digests_path_.c_str(),
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  bool ok = fd >= 0 && ::write(fd, line.data(), line.size()) ==
                           static_cast<ssize_t>(line.size());
  if (fd >= 0) {
    ok = (::fsync(fd) == 0) && ok;
    ::close(fd);
  }
  if (!ok) host_.Log(LogLevel::kWarn, "cannot record processed extract");
}

void SupportingFamiliesAdapter::SaveIndexLocked() {
  if (config_.state_dir().empty()) return;
  Status st =
      WriteFileAtomically(config_.state_dir(), "tracker-index.tsv",
                          index_.Serialize(), ehx::sdk::TempName::kPart);
  if (!st.ok())
    host_.Log(LogLevel::kWarn, "cannot save index: " + st.message());
}

void SupportingFamiliesAdapter::SaveEvidenceLocked(const std::string& csv) {
  if (config_.state_dir().empty()) return;
  Status st = WriteFileAtomically(config_.state_dir(), "evidence.csv", csv,
                                  ehx::sdk::TempName::kPart);
  if (!st.ok()) {
    host_.Log(LogLevel::kWarn, "cannot save evidence state: " + st.message());
  }
}

Status SupportingFamiliesAdapter::ScanOnce() { return poller_->ScanOnce(); }

ehx::sdk::InboxAction SupportingFamiliesAdapter::ProcessFile(
    const fs::path& file) {
  const std::string name = file.filename().string();
  std::string content;
  bool too_large = false;
  switch (ehx::sdk::ReadInboxFile(file, tracker_options_.max_bytes, &content)) {
    case ehx::sdk::ReadOutcome::kGone:
      return ehx::sdk::InboxAction::kDone;
    case ehx::sdk::ReadOutcome::kTooLarge:
      // Let the parser report file_too_large without reading it all.
      content.assign(static_cast<size_t>(tracker_options_.max_bytes) + 1, ' ');
      too_large = true;
      break;
    case ehx::sdk::ReadOutcome::kOk:
      break;
  }
  // Contract 3.3 step 2: the same bytes again are archived with
  // duplicate_file (info) and nothing is redone.
  const std::string digest = FileSha256Hex(content);
  if (!too_large && digests_.count(digest)) {
    TrackerFile dup;
    dup.file_issues.push_back(
        Issue{Severity::kInfo, "duplicate_file", "",
              "the same bytes were processed before; nothing was redone"});
    Status st = ehx::sdk::ReportAndMove(
        file, archive_dir_, reports_dir_, name + ".report.json",
        ReportJson(name, content, dup, IsoDateTime(::time(nullptr))),
        ehx::sdk::TempName::kPart);
    if (!st.ok()) {
      host_.Log(LogLevel::kError, "cannot archive extract: " + st.message());
    } else {
      host_.Log(LogLevel::kInfo, "extract already processed (duplicate_file)");
    }
    return ehx::sdk::InboxAction::kDone;  // still there: retried after backoff
  }
  bool transient = false;
  TrackerFile parsed;
  IngestReport report = IngestImpl(name, content, &transient, &parsed);
  if (transient) {
    // Keys are idempotent: re-reading later republishes nothing twice.
    host_.Log(LogLevel::kInfo, "gateway unavailable; extract kept for retry");
    return ehx::sdk::InboxAction::kRetry;
  }
  if (!report.input_rejected()) RememberDigest(digest);
  Status st = ehx::sdk::ReportAndMove(
      file, report.input_rejected() ? rejected_dir_ : archive_dir_,
      reports_dir_, name + ".report.json",
      ReportJson(name, content, parsed, IsoDateTime(::time(nullptr))),
      ehx::sdk::TempName::kPart);
  if (!st.ok()) {
    host_.Log(LogLevel::kError, "cannot move extract: " + st.message());
    return ehx::sdk::InboxAction::kDone;  // still there: retried after backoff
  }
  host_.Log(report.input_rejected() ? LogLevel::kWarn : LogLevel::kInfo,
            "extract processed: " + std::to_string(report.records_total()) +
                " rows, " + std::to_string(report.records_published()) +
                " published, " + std::to_string(report.records_failed()) +
                " failed" + (report.input_rejected() ? " (rejected)" : ""));
  return ehx::sdk::InboxAction::kDone;
}

}  // namespace ehx::adapters::supporting_families
