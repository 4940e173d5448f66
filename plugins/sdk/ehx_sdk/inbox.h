// The inbox loop every file-exchanging adapter needs: a background thread
// that polls one or more folders and hands each finished file to the
// adapter, with the bookkeeping around it (stable-file detection, name
// order, retry backoff, stop). Header-only like the rest of the SDK.
//
//   ehx::sdk::InboxOptions o;
//   o.dirs = {config.inbox_dir()};
//   o.suffixes = {".xml"};
//   o.poll_interval = std::chrono::milliseconds(1000);
//   poller_ = std::make_unique<ehx::sdk::InboxPoller>(
//       o, [this](const std::filesystem::path& f) { return Process(f); });
//   poller_->Start();   // in Adapter::Start()
//   poller_->Stop();    // in Adapter::Stop(); joins the thread
//
// What counts as a finished file (the contract with agency writers):
//  - a regular file, never a symlink (a link could point anywhere the
//    gateway can read);
//  - whose name does not start with '.' and does not end in ".part" or
//    ".tmp" (writers write a temp name and rename), and ends in one of
//    `suffixes` (case-insensitive; empty accepts any name);
//  - last modified at least `min_file_age` ago, so a writer that writes in
//    place (no rename) has time to finish. A file renamed into the inbox
//    keeps its old mtime and is taken at once.
// Files are handled oldest name first (or by `sort_key`), one at a time, on
// the poller's thread. The handler owns the file: it moves it away
// (ReportAndMove: processed, rejected with a report, or deleted) and
// returns kDone, or leaves it and returns kRetry (a transient failure such
// as the gateway being unavailable); a kRetry file is not offered again
// before `retry_backoff` has passed. A file still there after kDone (the
// move failed) is offered again after `retry_backoff` as well.
#ifndef EHX_SDK_INBOX_H_
#define EHX_SDK_INBOX_H_

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "ehx_sdk/adapter.h"
#include "ehx_sdk/files.h"

namespace ehx::sdk {

struct InboxOptions {
  // Folders scanned, in this order, on every pass. Required.
  std::vector<std::filesystem::path> dirs;
  // Accepted name endings, e.g. {".json"} (case-insensitive). Empty: any.
  std::vector<std::string> suffixes;
  // Time between the end of one pass and the start of the next.
  std::chrono::milliseconds poll_interval{1000};
  // Files modified more recently than this wait for a later pass.
  std::chrono::milliseconds min_file_age{200};
  // A file the handler asked to retry is not offered again before this.
  std::chrono::milliseconds retry_backoff{5000};
  // Order of files within a folder: ascending by this key of the file name;
  // empty means the name itself.
  std::function<std::string(const std::string& name)> sort_key;
  // Called at the start of every pass (e.g. to reload a mapping file).
  std::function<void()> before_pass;
};

enum class InboxAction {
  kDone,   // the handler dealt with the file (and moved it away)
  kRetry,  // leave it; offer it again after retry_backoff
};

class InboxPoller {
 public:
  using Handler = std::function<InboxAction(const std::filesystem::path&)>;

  InboxPoller(InboxOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}
  ~InboxPoller() { Stop(); }
  InboxPoller(const InboxPoller&) = delete;
  InboxPoller& operator=(const InboxPoller&) = delete;

  // Starts the polling thread (a first pass runs at once). Idempotent.
  void Start() {
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { Run(); });
  }

  // Stops and joins the thread; the file being handled is finished first.
  // Idempotent; Start() may be called again afterwards.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

  // OK, or UNAVAILABLE naming the folder the last pass could not list.
  Status health() const {
    std::lock_guard<std::mutex> lock(mu_);
    return health_;
  }

  // One pass over every folder, on the caller's thread (what the polling
  // thread runs; tests call it directly without Start()). Not to be called
  // concurrently with a running poller.
  Status ScanOnce() {
    if (options_.before_pass) options_.before_pass();
    Status result;
    std::vector<std::filesystem::path> seen;
    for (const auto& dir : options_.dirs) {
      std::vector<std::filesystem::path> files;
      Status st = List(dir, &files);
      if (!st.ok()) {
        result = st;
        continue;
      }
      const auto now = std::chrono::steady_clock::now();
      for (const auto& file : files) {
        if (Stopping()) return result;
        seen.push_back(file);
        auto r = retry_at_.find(file);
        if (r != retry_at_.end() && now < r->second) continue;
        const InboxAction action = handler_(file);
        std::error_code ec;
        if (action == InboxAction::kRetry ||
            std::filesystem::exists(file, ec)) {
          retry_at_[file] =
              std::chrono::steady_clock::now() + options_.retry_backoff;
        } else {
          retry_at_.erase(file);
        }
      }
    }
    // Forget backoff entries of files that are gone.
    for (auto it = retry_at_.begin(); it != retry_at_.end();) {
      if (std::find(seen.begin(), seen.end(), it->first) == seen.end()) {
        it = retry_at_.erase(it);
      } else {
        ++it;
      }
    }
    return result;
  }

  // True once Stop() was called: long handlers may check it between
  // records.
  bool Stopping() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

 private:
  static bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
    if (s.size() < suffix.size()) return false;
    for (size_t i = 0; i < suffix.size(); ++i) {
      if (std::tolower(
              static_cast<unsigned char>(s[s.size() - suffix.size() + i])) !=
          std::tolower(static_cast<unsigned char>(suffix[i]))) {
        return false;
      }
    }
    return true;
  }

  bool Wanted(const std::string& name) const {
    if (name.empty() || name[0] == '.') return false;
    if (EndsWithNoCase(name, ".part") || EndsWithNoCase(name, ".tmp")) {
      return false;
    }
    if (options_.suffixes.empty()) return true;
    for (const auto& s : options_.suffixes) {
      if (EndsWithNoCase(name, s)) return true;
    }
    return false;
  }

  // The finished files of `dir`, in handling order.
  Status List(const std::filesystem::path& dir,
              std::vector<std::filesystem::path>* out) const {
    std::error_code ec;
    const auto now = std::filesystem::file_time_type::clock::now();
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!Wanted(name)) continue;
      std::error_code fe;
      if (it->is_symlink(fe) || !it->is_regular_file(fe)) continue;
      const auto mtime = it->last_write_time(fe);
      if (fe || now - mtime < options_.min_file_age) continue;
      out->push_back(it->path());
    }
    if (ec) {
      return Status(Code::kUnavailable, "cannot list inbox folder " +
                                            dir.filename().string() + ": " +
                                            ec.message());
    }
    if (options_.sort_key) {
      std::stable_sort(out->begin(), out->end(),
                       [this](const auto& a, const auto& b) {
                         return options_.sort_key(a.filename().string()) <
                                options_.sort_key(b.filename().string());
                       });
    } else {
      std::sort(out->begin(), out->end());
    }
    return Status();
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      Status st = ScanOnce();
      lock.lock();
      health_ = st;
      cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_; });
    }
  }

  const InboxOptions options_;
  const Handler handler_;
  std::map<std::filesystem::path, std::chrono::steady_clock::time_point>
      retry_at_;  // only touched by the scanning thread

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  Status health_;
  std::thread thread_;
};

// Reads a whole inbox file of at most `max_bytes` into *out.
enum class ReadOutcome { kOk, kTooLarge, kGone };
inline ReadOutcome ReadInboxFile(const std::filesystem::path& file,
                                 int64_t max_bytes, std::string* out) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) return ReadOutcome::kGone;
  if (static_cast<int64_t>(size) > max_bytes) return ReadOutcome::kTooLarge;
  std::ifstream in(file, std::ios::binary);
  if (!in) return ReadOutcome::kGone;
  out->assign(std::istreambuf_iterator<char>(in),
              std::istreambuf_iterator<char>());
  return ReadOutcome::kOk;
}

// Clears a handled inbox file: writes `report` as `report_dir/report_name`
// first (skipped when report_name is empty), then moves the file into
// `dest_dir`, or deletes it when dest_dir is empty. The report is written
// before the move so that a file is never gone without its report.
inline Status ReportAndMove(const std::filesystem::path& file,
                            const std::filesystem::path& dest_dir,
                            const std::filesystem::path& report_dir,
                            const std::string& report_name,
                            std::string_view report,
                            TempName style = TempName::kDotTmp) {
  if (!report_name.empty()) {
    Status st = WriteFileAtomically(report_dir, report_name, report, style);
    if (!st.ok()) return st;
  }
  if (!dest_dir.empty()) return MoveInto(file, dest_dir);
  std::error_code ec;
  std::filesystem::remove(file, ec);
  if (ec) return Status(Code::kUnavailable, "cannot delete: " + ec.message());
  SyncDir(file.parent_path());
  return Status();
}

// An IngestReport as the JSON report written beside a processed or
// rejected inbox file (proto field names, every field printed; positions,
// rules and counts only, never values). "{}" if it cannot be printed.
inline std::string IngestReportJson(
    const ehxpb::adapter::v1::IngestReport& report) {
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

}  // namespace ehx::sdk

#endif  // EHX_SDK_INBOX_H_
