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
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ehx_sdk/adapter.h"
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

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void SyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Writes dir/name atomically: dir/name.part (0640), fsync, rename, fsync dir.
Status WriteAtomically(const fs::path& dir, const std::string& name,
                       std::string_view content) {
  const fs::path tmp = dir / (name + ".part");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Status(Code::kUnavailable,
                  std::string("cannot create file: ") + std::strerror(errno));
  }
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status(Code::kUnavailable,
                    std::string("write failed: ") + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status(Code::kUnavailable, "fsync failed");
  }
  if (::rename(tmp.c_str(), (dir / name).c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Status(Code::kUnavailable,
                  std::string("rename failed: ") + std::strerror(err));
  }
  SyncDir(dir);
  return Status();
}

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
    poll_ = std::chrono::milliseconds(
        config_.poll_interval_ms() ? config_.poll_interval_ms() : 5000);
    max_bytes_ = config_.max_file_bytes() ? config_.max_file_bytes()
                                          : int64_t{256} << 20;
    snapshots_ = SnapshotIndex((export_ / ".ehx-raise-snapshots").string());
    LoadDigests();
  }

  ~RaiseAdapter() override { Stop(); }

  Status Start() override {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
    if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
    return Status();
  }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

  Status CheckHealth() override {
    std::lock_guard<std::mutex> lock(mu_);
    return health_;
  }

  // Writes the delivery as a Raise import file. Idempotent: a redelivery
  // rewrites the same file name with the same itemId.
  DeliveryResult OnDelivery(
      const ehxpb::exchange::v1::Delivery& delivery) override {
    const ImportRender r = RenderImport(delivery, import_options_);
    if (r.skip_reason == "not_for_raise") return DeliveryResult::Ack();
    if (!r.skip_reason.empty()) return DeliveryResult::Reject(r.skip_reason);
    Status st = WriteAtomically(import_, r.file_name, r.content);
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

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      Status st = ScanOnce();
      lock.lock();
      health_ = st;
      if (!st.ok()) host_.Log(LogLevel::kWarn, "export scan: " + st.message());
      cv_.wait_for(lock, poll_, [this] { return stopping_; });
    }
  }

  bool Stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

  Status ScanOnce() {
    std::error_code ec;
    std::vector<fs::path> files;
    for (fs::directory_iterator it(export_, ec), end; !ec && it != end;
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.empty() || name[0] == '.' || !EndsWith(name, ".json")) continue;
      std::error_code fe;
      if (it->is_symlink(fe) || !it->is_regular_file(fe)) continue;
      files.push_back(it->path());
    }
    if (ec) return Status(Code::kUnavailable, "cannot list export folder");
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      if (Stopping()) break;
      ProcessFile(f);
    }
    return Status();
  }

  void ProcessFile(const fs::path& file) {
    const std::string name = file.filename().string();
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) return;
    if (static_cast<int64_t>(size) > max_bytes_) {
      Finish(
          file, "rejected",
          "{\"file\": \"" + name +
              "\", \"result\": \"rejected\", \"fileIssues\": [{\"severity\": "
              "\"error\", \"code\": \"file_too_large\", \"path\": \"$\"}], "
              "\"records\": []}\n");
      return;
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) return;
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string bytes = buf.str();
    const std::string digest = Sha256Hex(bytes);
    if (digests_.count(digest)) {
      Finish(
          file, "archive",
          "{\"file\": \"" + name + "\", \"fileSha256\": \"" + digest +
              "\", \"result\": \"accepted\", \"fileIssues\": [{\"severity\": "
              "\"info\", \"code\": \"duplicate_file\", \"path\": \"$\"}], "
              "\"records\": []}\n");
      return;
    }
    const auto report = IngestWith(name, bytes, &snapshots_);
    std::lock_guard<std::mutex> lock(ingest_mu_);
    if (last_result_.empty()) return;  // transient: retry on the next scan
    host_.Log(LogLevel::kInfo,
              "export " + name + ": " + last_result_ + ", " +
                  std::to_string(report.published_size()) + " published, " +
                  std::to_string(report.records_failed()) + " failed");
    RememberDigest(digest);
    Finish(file, last_result_ == "rejected" ? "rejected" : "archive",
           last_report_json_);
  }

  void Finish(const fs::path& file, const std::string& dest,
              const std::string& report) {
    const std::string name = file.filename().string();
    Status st =
        WriteAtomically(export_ / "reports", name + ".report.json", report);
    if (!st.ok()) host_.Log(LogLevel::kError, "report write: " + st.message());
    const fs::path to = export_ / dest / name;
    if (::rename(file.c_str(), to.c_str()) != 0) {
      host_.Log(LogLevel::kError, "cannot move export file " + name);
    } else {
      SyncDir(export_ / dest);
      SyncDir(export_);
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
  std::chrono::milliseconds poll_{5000};
  int64_t max_bytes_ = 0;
  std::set<std::string> digests_;
  // Contract 8.4: newest exportedAt applied per case
  // (export/.ehx-raise-snapshots).
  SnapshotIndex snapshots_;
  std::string last_report_json_;
  std::string last_result_;

  std::mutex ingest_mu_;  // guards last_report_json_, last_result_
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  Status health_;
  std::thread thread_;
};

}  // namespace
}  // namespace ehx::adapters::raise

EHX_ADAPTER(ehx::adapters::raise::RaiseAdapter,
            ehxpb::adapters::raise::v1::RaiseConfig)
