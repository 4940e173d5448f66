// File helpers for adapters that exchange files with agency systems:
// durable atomic writes and moves. Header-only like the rest of the SDK.
#ifndef EHX_SDK_FILES_H_
#define EHX_SDK_FILES_H_

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include "ehx_sdk/adapter.h"

namespace ehx::sdk {

// fsyncs a directory so a rename in it survives a power cut. Best effort.
inline void SyncDir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// How the temporary file of WriteFileAtomically is named (both start with
// '.', so readers that skip dot-files never see a partial file).
enum class TempName {
  kDotTmp,  // ".<name>.tmp-<pid>-<n>"
  kPart,    // ".<name>.<pid>-<n>.part" (contracts that say "*.part")
};

// Writes `content` to `dir/name` atomically: a temp file in the same
// directory, fsync, rename over the target, fsync the directory. Returns
// UNAVAILABLE naming the failed step; never leaves the temp file behind.
// Thread-safe.
inline Status WriteFileAtomically(const std::filesystem::path& dir,
                                  const std::string& name,
                                  std::string_view content,
                                  TempName style = TempName::kDotTmp) {
  static std::atomic<uint64_t> counter{0};
  const std::string unique =
      std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  const std::filesystem::path tmp =
      dir / (style == TempName::kPart ? "." + name + "." + unique + ".part"
                                      : "." + name + ".tmp-" + unique);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Status(Code::kUnavailable, std::string("cannot create temp file: ") +
                                          std::strerror(errno));
  }
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
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
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status(Code::kUnavailable,
                  std::string("fsync failed: ") + std::strerror(err));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), (dir / name).c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Status(Code::kUnavailable,
                  std::string("rename failed: ") + std::strerror(err));
  }
  SyncDir(dir);
  return Status();
}

// Moves `from` into `dir` under the same name: a rename (both directories
// fsynced), or copy + unlink across file systems.
inline Status MoveInto(const std::filesystem::path& from,
                       const std::filesystem::path& dir) {
  const std::filesystem::path to = dir / from.filename();
  if (::rename(from.c_str(), to.c_str()) == 0) {
    SyncDir(dir);
    SyncDir(from.parent_path());
    return Status();
  }
  if (errno != EXDEV) {
    return Status(Code::kUnavailable,
                  std::string("move failed: ") + std::strerror(errno));
  }
  std::ifstream in(from, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  Status st = WriteFileAtomically(dir, from.filename().string(), buf.str());
  if (!st.ok()) return st;
  std::error_code ec;
  std::filesystem::remove(from, ec);
  SyncDir(from.parent_path());
  return Status();
}

// Checks (and with `create`, makes) a configured directory: empty is
// INVALID_ARGUMENT "<key> is required" when `required`, else OK; relative
// is INVALID_ARGUMENT "<key> must be an absolute path"; missing is
// FAILED_PRECONDITION "<key> is not an existing directory". Created
// directories get mode 0750. Errors name the config key, never the path.
inline Status PrepareDir(const std::string& value, const char* key,
                         bool required, bool create) {
  if (value.empty()) {
    if (!required) return Status();
    return Status(Code::kInvalidArgument, std::string(key) + " is required");
  }
  if (!std::filesystem::path(value).is_absolute()) {
    return Status(Code::kInvalidArgument,
                  std::string(key) + " must be an absolute path");
  }
  std::error_code ec;
  if (create) {
    std::filesystem::create_directories(value, ec);
    if (!ec) {
      std::filesystem::permissions(value,
                                   std::filesystem::perms::owner_all |
                                       std::filesystem::perms::group_read |
                                       std::filesystem::perms::group_exec,
                                   ec);
    }
  }
  if (!std::filesystem::is_directory(value, ec)) {
    return Status(Code::kFailedPrecondition,
                  std::string(key) + " is not an existing directory");
  }
  return Status();
}

}  // namespace ehx::sdk

#endif  // EHX_SDK_FILES_H_
