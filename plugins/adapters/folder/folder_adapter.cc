// The folder (file-drop) adapter. See folder_adapter.h and README.md.
#include "folder_adapter.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "ehx_sdk/adapter.h"
#include "ehx_sdk/files.h"

namespace ehx::adapters::folder {
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
using FolderConfig = ::ehxpb::adapters::folder::v1::FolderConfig;
using Delivery = ::ehxpb::exchange::v1::Delivery;
using Envelope = ::ehxpb::exchange::v1::Envelope;

constexpr char kJsonSuffix[] = ".json";

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Codes after which the same file would be refused again: reject it.
bool IsPermanent(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
    case Code::kFailedPrecondition:
    case Code::kPermissionDenied:
    case Code::kAlreadyExists:
    case Code::kNotFound:
    case Code::kOutOfRange:
    case Code::kUnauthenticated:
    case Code::kUnimplemented:
      return true;
    default:
      return false;
  }
}

// "20260102T030405.123456789Z": sortable, no ':' (portable file names).
std::string CompactTime(int64_t seconds, int32_t nanos) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char out[64];
  std::snprintf(out, sizeof(out), "%04d%02d%02dT%02d%02d%02d.%09dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(nanos));
  return out;
}

// Keeps [A-Za-z0-9_-]; anything else becomes '_' (no path tricks).
std::string SafeName(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) c = '_';
  }
  return out;
}

// FNV-1a 64: stable across builds, for idempotency keys.
uint64_t Fnv1a(std::string_view a, std::string_view b) {
  uint64_t h = 1469598103934665603ull;
  for (std::string_view s : {a, std::string_view("\0", 1), b}) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  }
  return h;
}

std::string ErrorText(const Status& st) {
  std::string text = std::string("code: ") + ehx::sdk::CodeName(st.code()) +
                     "\nmessage: " + st.message() + "\n";
  for (const auto& v : st.violations()) {
    text += "violation: " + v.field + ": " + v.description + "\n";
  }
  return text;
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

}  // namespace

FolderAdapter::FolderAdapter(const FolderConfig& config, ehx::sdk::Host host)
    : config_(config), host_(host) {
  for (auto [value, key, required] :
       {std::tuple{config_.inbox_dir(), "inbox_dir", true},
        std::tuple{config_.outbox_dir(), "outbox_dir", true},
        std::tuple{config_.rejected_dir(), "rejected_dir", true},
        std::tuple{config_.processed_dir(), "processed_dir", false}}) {
    Status st = CheckDir(value, key, required, config_.create_dirs());
    if (!st.ok()) throw StatusError(st);
  }
  if (config_.poll_interval_ms() < 0 || config_.min_file_age_ms() < 0 ||
      config_.retry_backoff_ms() < 0 || config_.max_file_bytes() < 0) {
    throw StatusError(
        Status(Code::kInvalidArgument, "durations and sizes must be >= 0"));
  }
  poll_ = std::chrono::milliseconds(
      config_.poll_interval_ms() ? config_.poll_interval_ms() : 1000);
  min_age_ = std::chrono::milliseconds(
      config_.min_file_age_ms() ? config_.min_file_age_ms() : 200);
  retry_backoff_ = std::chrono::milliseconds(
      config_.retry_backoff_ms() ? config_.retry_backoff_ms() : 5000);
  max_bytes_ =
      config_.max_file_bytes() ? config_.max_file_bytes() : int64_t{16} << 20;
}

FolderAdapter::~FolderAdapter() { Stop(); }

Status FolderAdapter::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
  return Status();
}

void FolderAdapter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

Status FolderAdapter::CheckHealth() {
  std::lock_guard<std::mutex> lock(mu_);
  return health_;
}

DeliveryResult FolderAdapter::OnDelivery(const Delivery& delivery) {
  const Envelope& env = delivery.envelope();
  if (env.message_id().empty())
    return DeliveryResult::Reject("missing_message_id");
  const std::string name =
      CompactTime(env.accepted_at().seconds(), env.accepted_at().nanos()) +
      "-" + SafeName(env.message_id()) + kJsonSuffix;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(env, &json, options).ok()) {
    return DeliveryResult::Reject("envelope_not_json_representable");
  }
  Status st = WriteFileAtomically(config_.outbox_dir(), name, json);
  if (!st.ok()) {
    host_.Log(LogLevel::kWarn, "outbox write failed: " + st.message());
    return DeliveryResult::Retry("outbox_write_failed");
  }
  return DeliveryResult::Ack();
}

void FolderAdapter::Run() {
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

bool FolderAdapter::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

// One pass over the inbox, oldest name first.
Status FolderAdapter::ScanOnce() {
  std::error_code ec;
  std::vector<fs::path> files;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(config_.inbox_dir(), ec), end;
       !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // Only finished *.json files: writers use a dot-prefixed or
    // non-.json temp name and rename, or we wait min_file_age.
    if (name.empty() || name[0] == '.' || !EndsWith(name, kJsonSuffix)) {
      continue;
    }
    std::error_code fe;
    // No symlinks: a link could point anywhere the gateway can read.
    if (!it->is_regular_file(fe) || it->is_symlink(fe)) continue;
    const auto mtime = it->last_write_time(fe);
    if (fe || now - mtime < min_age_) continue;
    files.push_back(it->path());
  }
  if (ec) {
    return Status(Code::kUnavailable, "cannot list inbox: " + ec.message());
  }
  std::sort(files.begin(), files.end());
  const auto steady_now = std::chrono::steady_clock::now();
  // Forget backoff entries of files that are gone.
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

void FolderAdapter::ProcessFile(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return;  // gone meanwhile
  if (static_cast<int64_t>(size) > max_bytes_) {
    Reject(file, Status(Code::kInvalidArgument,
                        "file larger than max_file_bytes (" +
                            std::to_string(max_bytes_) + ")"));
    return;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return;  // gone or unreadable: next scan
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string content = buf.str();

  Envelope env;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed =
      google::protobuf::util::JsonStringToMessage(content, &env, options);
  if (!parsed.ok()) {
    Reject(file, Status(Code::kInvalidArgument,
                        "not an ehx.exchange.v1.Envelope in protobuf JSON: " +
                            std::string(parsed.message())));
    return;
  }
  if (env.idempotency_key().empty()) {
    // Stable across crashes between publish and delete: a re-publish of
    // the same file is answered with the original receipt.
    char key[64];
    std::snprintf(key, sizeof(key), "folder-%016llx",
                  static_cast<unsigned long long>(
                      Fnv1a(file.filename().string(), content)));
    env.set_idempotency_key(key);
  }
  ehx::sdk::PublishResult result = host_.Publish(env);
  if (result.status.ok()) {
    retry_at_.erase(file);
    Status st = config_.processed_dir().empty()
                    ? RemoveFile(file)
                    : MoveInto(file, config_.processed_dir());
    if (!st.ok()) {
      host_.Log(LogLevel::kError,
                "published but cannot clear inbox file: " + st.message());
    }
    return;
  }
  if (IsPermanent(result.status.code())) {
    Reject(file, result.status);
    return;
  }
  retry_at_[file] = std::chrono::steady_clock::now() + retry_backoff_;
  host_.Log(LogLevel::kInfo,
            "publish will be retried: " + result.status.ToString());
}

Status FolderAdapter::RemoveFile(const fs::path& file) {
  std::error_code ec;
  fs::remove(file, ec);
  if (ec) return Status(Code::kUnavailable, ec.message());
  SyncDir(file.parent_path());
  return Status();
}

// Moves `file` to rejected_dir with `<name>.error.txt` beside it.
void FolderAdapter::Reject(const fs::path& file, const Status& why) {
  retry_at_.erase(file);
  const std::string name = file.filename().string();
  Status st = WriteFileAtomically(config_.rejected_dir(), name + ".error.txt",
                                  ErrorText(why));
  if (st.ok()) st = MoveInto(file, config_.rejected_dir());
  if (!st.ok()) {
    host_.Log(LogLevel::kError,
              "cannot move refused file to rejected_dir: " + st.message());
    retry_at_[file] = std::chrono::steady_clock::now() + retry_backoff_;
    return;
  }
  host_.Log(LogLevel::kWarn, std::string("inbox file rejected (") +
                                 ehx::sdk::CodeName(why.code()) +
                                 "); see rejected_dir");
}

}  // namespace ehx::adapters::folder
