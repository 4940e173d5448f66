// The Raise adapter entry: watches <root>/export/ for Raise export files,
// publishes their content (raise_ingest.h), and writes deliveries for the
// early help service as Raise import files into <root>/import/
// (raise_import.h). See README.md for the contract, mapping and security
// posture.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ehx_sdk/adapter.h"
#include "ehx_sdk/files.h"
#include "ehx_sdk/inbox.h"
#include "raise_export.h"
#include "raise_import.h"
#include "raise_ingest.h"
#include "raise_values.h"

namespace ehx::adapters::raise {
namespace {

namespace fs = std::filesystem;
using ::ehx::sdk::Code;
using ::ehx::sdk::DeliveryResult;
using ::ehx::sdk::LogLevel;
using ::ehx::sdk::Status;
using ::ehx::sdk::StatusError;
using RaiseConfig = ::ehxpb::adapters::raise::v1::RaiseConfig;

std::string NowUtc() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return FormatUtc(
      {std::chrono::duration_cast<std::chrono::seconds>(now).count(), 0});
}

class RaiseAdapter : public ehx::sdk::Adapter {
 public:
  static constexpr const char* kType = "raise";
  static constexpr const char* kVersion = "0.9.0";

  RaiseAdapter(const RaiseConfig& config, ehx::sdk::Host host)
      : config_(config), host_(host) {
    if (config_.root_dir().empty()) {
      throw StatusError(Status(Code::kInvalidArgument, "root_dir is required"));
    }
    if (!fs::path(config_.root_dir()).is_absolute()) {
      throw StatusError(
          Status(Code::kInvalidArgument, "root_dir must be an absolute path"));
    }
    if (!config_.la_code().empty() &&
        (config_.la_code().size() != 3 ||
         config_.la_code().find_first_not_of("0123456789") !=
             std::string::npos)) {
      throw StatusError(
          Status(Code::kInvalidArgument, "la_code must be 3 digits"));
    }
    if (config_.poll_interval_ms() < 0 || config_.max_file_bytes() < 0) {
      throw StatusError(Status(Code::kInvalidArgument,
                               "poll_interval_ms and max_file_bytes must be "
                               ">= 0"));
    }
    const fs::path root(config_.root_dir());
    export_ = root / "export";
    import_ = root / "import";
    for (const fs::path& d :
         {export_, export_ / "archive", export_ / "rejected",
          export_ / "reports", import_}) {
      std::error_code ec;
      if (config_.create_dirs()) {
        fs::create_directories(d, ec);
        fs::permissions(d,
                        fs::perms::owner_all | fs::perms::group_read |
                            fs::perms::group_exec,
                        ec);
      }
      if (!fs::is_directory(d, ec)) {
        throw StatusError(Status(Code::kFailedPrecondition,
                                 "folder missing under root_dir: " +
                                     fs::relative(d, root).string()));
      }
    }
    options_.agency_id =
        config_.agency_id().empty() ? "early-help" : config_.agency_id();
    options_.la_code = config_.la_code();
    for (const auto& [scope, agency] : config_.scope_agencies()) {
      options_.scope_agencies[scope] = agency;
    }
    import_options_.agency_id = options_.agency_id;
    import_options_.la_code =
        config_.la_code().empty() ? "000" : config_.la_code();
    ehx::sdk::InboxOptions inbox;
    inbox.dirs = {export_};
    inbox.suffixes = {".json"};
    inbox.poll_interval = std::chrono::milliseconds(
        config_.poll_interval_ms() ? config_.poll_interval_ms() : 5000);
    poller_ = std::make_unique<ehx::sdk::InboxPoller>(
        inbox, [this](const fs::path& file) { return ProcessFile(file); });
    max_bytes_ = config_.max_file_bytes() ? config_.max_file_bytes()
                                          : int64_t{256} << 20;
    snapshots_ = SnapshotIndex((export_ / ".ehx-raise-snapshots").string());
    LoadDigests();
  }

  ~RaiseAdapter() override { Stop(); }

  Status Start() override {
    poller_->Start();
    return Status();
  }

  void Stop() override { poller_->Stop(); }

  Status CheckHealth() override { return poller_->health(); }

  // Writes the delivery as a Raise import file. Idempotent: a redelivery
  // rewrites the same file name with the same itemId.
  DeliveryResult OnDelivery(
      const ehxpb::exchange::v1::Delivery& delivery) override {
    const ImportRender r = RenderImport(delivery, import_options_);
    if (r.skip_reason == "not_for_raise") return DeliveryResult::Ack();
    if (!r.skip_reason.empty()) return DeliveryResult::Reject(r.skip_reason);
    Status st = ehx::sdk::WriteFileAtomically(import_, r.file_name, r.content,
                                              ehx::sdk::TempName::kPart);
    if (!st.ok()) {
      host_.Log(LogLevel::kWarn, "import write failed: " + st.message());
      return DeliveryResult::Retry("import_write_failed");
    }
    return DeliveryResult::Ack();
  }

  // Renders the import file a delivery becomes (no write).
  Status Render(const ehxpb::exchange::v1::Delivery& delivery,
                ehxpb::adapter::v1::RenderResult* out) override {
    const ImportRender r = RenderImport(delivery, import_options_);
    if (!r.skip_reason.empty()) {
      return Status(Code::kInvalidArgument,
                    "not rendered for Raise: " + r.skip_reason);
    }
    out->set_file_name(r.file_name);
    out->set_media_type("application/json");
    out->set_content(r.content);
    return Status();
  }

  // Processes one export file's bytes (publishes through the host). The
  // export folder loop calls this for every file; serialised by ingest_mu_.
  // (The dry run, `ehxctl adapter check`, comes through here: it does not
  // consult or record the snapshot order of the export folder.)
  ehxpb::adapter::v1::IngestReport Ingest(const std::string& input_name,
                                          std::string_view bytes) override {
    return IngestWith(input_name, bytes, nullptr);
  }

 private:
  ehxpb::adapter::v1::IngestReport IngestWith(const std::string& input_name,
                                              std::string_view bytes,
                                              SnapshotIndex* snapshots) {
    std::lock_guard<std::mutex> lock(ingest_mu_);
    ExportOptions options = options_;
    options.file_name = input_name;
    if (config_.check_document_content()) options.export_dir = export_.string();
    const std::string received = NowUtc();
    IngestOutcome out = IngestExportFile(
        input_name, bytes, options,
        [this](const ehxpb::exchange::v1::Envelope& e) {
          return host_.Publish(e);
        },
        received, /*processed_at=*/"", snapshots);
    last_report_json_ = std::move(out.processing_report);
    last_result_ = out.result;
    return std::move(out.report);
  }

  // The export folder handler (contract 3.3): one file end to end.
  ehx::sdk::InboxAction ProcessFile(const fs::path& file) {
    const std::string name = file.filename().string();
    std::string bytes;
    switch (ehx::sdk::ReadInboxFile(file, max_bytes_, &bytes)) {
      case ehx::sdk::ReadOutcome::kGone:
        return ehx::sdk::InboxAction::kDone;
      case ehx::sdk::ReadOutcome::kTooLarge:
        Finish(file, "rejected",
               "{\"file\": \"" + name +
                   "\", \"result\": \"rejected\", \"fileIssues\": "
                   "[{\"severity\": \"error\", \"code\": \"file_too_large\", "
                   "\"path\": \"$\"}], \"records\": []}\n");
        return ehx::sdk::InboxAction::kDone;
      case ehx::sdk::ReadOutcome::kOk:
        break;
    }
    const std::string digest = Sha256Hex(bytes);
    if (digests_.count(digest)) {
      Finish(file, "archive",
             "{\"file\": \"" + name + "\", \"fileSha256\": \"" + digest +
                 "\", \"result\": \"accepted\", \"fileIssues\": "
                 "[{\"severity\": \"info\", \"code\": \"duplicate_file\", "
                 "\"path\": \"$\"}], \"records\": []}\n");
      return ehx::sdk::InboxAction::kDone;
    }
    const auto report = IngestWith(name, bytes, &snapshots_);
    std::lock_guard<std::mutex> lock(ingest_mu_);
    if (last_result_.empty()) {
      return ehx::sdk::InboxAction::kRetry;  // transient: retry later
    }
    host_.Log(LogLevel::kInfo,
              "export " + name + ": " + last_result_ + ", " +
                  std::to_string(report.published_size()) + " published, " +
                  std::to_string(report.records_failed()) + " failed");
    RememberDigest(digest);
    Finish(file, last_result_ == "rejected" ? "rejected" : "archive",
           last_report_json_);
    return ehx::sdk::InboxAction::kDone;
  }

  // Writes reports/<file>.report.json, then moves the file to `dest`.
  void Finish(const fs::path& file, const std::string& dest,
              const std::string& report) {
    const std::string name = file.filename().string();
    Status st =
        ehx::sdk::ReportAndMove(file, export_ / dest, export_ / "reports",
                                name + ".report.json", report);
    if (!st.ok()) {
      host_.Log(LogLevel::kError,
                "cannot move export file " + name + ": " + st.message());
    }
  }

  void LoadDigests() {
    std::ifstream in(export_ / ".ehx-raise-processed");
    std::string line;
    while (std::getline(in, line)) {
      if (line.size() == 64) digests_.insert(line);
    }
  }

  void RememberDigest(const std::string& digest) {
    digests_.insert(digest);
    std::ofstream out(export_ / ".ehx-raise-processed", std::ios::app);
    out << digest << "\n";
  }

  RaiseConfig config_;
  ehx::sdk::Host host_;
  fs::path export_;
  fs::path import_;
  ExportOptions options_;
  ImportOptions import_options_;
  int64_t max_bytes_ = 0;
  std::set<std::string> digests_;
  // Contract 8.4: newest exportedAt applied per case
  // (export/.ehx-raise-snapshots).
  SnapshotIndex snapshots_;
  std::string last_report_json_;
  std::string last_result_;

  std::mutex ingest_mu_;  // guards last_report_json_, last_result_
  std::unique_ptr<ehx::sdk::InboxPoller> poller_;  // last: stops first
};

}  // namespace
}  // namespace ehx::adapters::raise

EHX_ADAPTER(ehx::adapters::raise::RaiseAdapter,
            ehxpb::adapters::raise::v1::RaiseConfig)
