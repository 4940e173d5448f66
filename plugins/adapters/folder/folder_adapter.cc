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
#include "ehx_sdk/inbox.h"

namespace ehx::adapters::folder {
namespace {

namespace fs = std::filesystem;
using ::ehx::sdk::Code;
using ::ehx::sdk::DeliveryResult;
using ::ehx::sdk::LogLevel;
using ::ehx::sdk::Status;
using ::ehx::sdk::StatusError;
using ::ehx::sdk::WriteFileAtomically;
using FolderConfig = ::ehxpb::adapters::folder::v1::FolderConfig;
using Delivery = ::ehxpb::exchange::v1::Delivery;
using Envelope = ::ehxpb::exchange::v1::Envelope;

constexpr char kJsonSuffix[] = ".json";

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

}  // namespace

FolderAdapter::FolderAdapter(const FolderConfig& config, ehx::sdk::Host host)
    : config_(config), host_(host) {
  for (auto [value, key, required] :
       {std::tuple{config_.inbox_dir(), "inbox_dir", true},
        std::tuple{config_.outbox_dir(), "outbox_dir", true},
        std::tuple{config_.rejected_dir(), "rejected_dir", true},
        std::tuple{config_.processed_dir(), "processed_dir", false}}) {
    Status st =
        ehx::sdk::PrepareDir(value, key, required, config_.create_dirs());
    if (!st.ok()) throw StatusError(st);
  }
  if (config_.poll_interval_ms() < 0 || config_.min_file_age_ms() < 0 ||
      config_.retry_backoff_ms() < 0 || config_.max_file_bytes() < 0) {
    throw StatusError(
        Status(Code::kInvalidArgument, "durations and sizes must be >= 0"));
  }
  max_bytes_ =
      config_.max_file_bytes() ? config_.max_file_bytes() : int64_t{16} << 20;
  ehx::sdk::InboxOptions inbox;
  inbox.dirs = {config_.inbox_dir()};
  inbox.suffixes = {kJsonSuffix};
  inbox.poll_interval = std::chrono::milliseconds(
      config_.poll_interval_ms() ? config_.poll_interval_ms() : 1000);
  inbox.min_file_age = std::chrono::milliseconds(
      config_.min_file_age_ms() ? config_.min_file_age_ms() : 200);
  inbox.retry_backoff = std::chrono::milliseconds(
      config_.retry_backoff_ms() ? config_.retry_backoff_ms() : 5000);
  poller_ = std::make_unique<ehx::sdk::InboxPoller>(
      inbox, [this](const fs::path& file) { return ProcessFile(file); });
}

FolderAdapter::~FolderAdapter() { Stop(); }

Status FolderAdapter::Start() {
  poller_->Start();
  return Status();
}

void FolderAdapter::Stop() { poller_->Stop(); }

Status FolderAdapter::CheckHealth() { return poller_->health(); }

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

ehx::sdk::InboxAction FolderAdapter::ProcessFile(const fs::path& file) {
  std::string content;
  switch (ehx::sdk::ReadInboxFile(file, max_bytes_, &content)) {
    case ehx::sdk::ReadOutcome::kGone:
      return ehx::sdk::InboxAction::kDone;  // gone meanwhile
    case ehx::sdk::ReadOutcome::kTooLarge:
      Reject(file, Status(Code::kInvalidArgument,
                          "file larger than max_file_bytes (" +
                              std::to_string(max_bytes_) + ")"));
      return ehx::sdk::InboxAction::kDone;
    case ehx::sdk::ReadOutcome::kOk:
      break;
  }
  Envelope env;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed =
      google::protobuf::util::JsonStringToMessage(content, &env, options);
  if (!parsed.ok()) {
    Reject(file, Status(Code::kInvalidArgument,
                        "not an ehx.exchange.v1.Envelope in protobuf JSON: " +
                            std::string(parsed.message())));
    return ehx::sdk::InboxAction::kDone;
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
    Status st =
        ehx::sdk::ReportAndMove(file, config_.processed_dir(), "", "", "");
    if (!st.ok()) {
      host_.Log(LogLevel::kError,
                "published but cannot clear inbox file: " + st.message());
    }
    return ehx::sdk::InboxAction::kDone;
  }
  if (IsPermanent(result.status.code())) {
    Reject(file, result.status);
    return ehx::sdk::InboxAction::kDone;
  }
  host_.Log(LogLevel::kInfo,
            "publish will be retried: " + result.status.ToString());
  return ehx::sdk::InboxAction::kRetry;
}

// Moves `file` to rejected_dir with `<name>.error.txt` beside it.
void FolderAdapter::Reject(const fs::path& file, const Status& why) {
  const std::string name = file.filename().string();
  Status st = ehx::sdk::ReportAndMove(file, config_.rejected_dir(),
                                      config_.rejected_dir(),
                                      name + ".error.txt", ErrorText(why));
  if (!st.ok()) {
    host_.Log(LogLevel::kError,
              "cannot move refused file to rejected_dir: " + st.message());
    return;  // still in the inbox: the poller retries after its backoff
  }
  host_.Log(LogLevel::kWarn, std::string("inbox file rejected (") +
                                 ehx::sdk::CodeName(why.code()) +
                                 "); see rejected_dir");
}

}  // namespace ehx::adapters::folder
