#include "csc_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace ehx::adapters::csc {
namespace fs = std::filesystem;
namespace {

void SyncDir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

bool WriteFileAtomically(const fs::path& dir, const std::string& name,
                         std::string_view content, std::string* error) {
  static std::atomic<uint64_t> counter{0};
  const fs::path tmp =
      dir / ("." + name + ".tmp-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter.fetch_add(1)));
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) {
    *error = std::string("cannot create temp file: ") + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = std::string("write failed: ") + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    *error = std::string("fsync failed: ") + std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), (dir / name).c_str()) != 0) {
    *error = std::string("rename failed: ") + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  SyncDir(dir);
  return true;
}

bool ReadSmallFile(const fs::path& path, int64_t max_bytes, std::string* out,
                   bool* too_large) {
  *too_large = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return false;
  }
  if (st.st_size > max_bytes) {
    *too_large = true;
    ::close(fd);
    return false;
  }
  out->clear();
  out->reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (static_cast<int64_t>(out->size()) > max_bytes) {
      *too_large = true;
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  return true;
}

bool MoveInto(const fs::path& from, const fs::path& dir, std::string* error) {
  const fs::path to = dir / from.filename();
  if (::rename(from.c_str(), to.c_str()) == 0) {
    SyncDir(dir);
    SyncDir(from.parent_path());
    return true;
  }
  if (errno != EXDEV) {
    *error = std::string("move failed: ") + std::strerror(errno);
    return false;
  }
  std::string content;
  bool too_large = false;
  if (!ReadSmallFile(from, INT64_MAX, &content, &too_large)) {
    *error = "move failed: cannot read the source";
    return false;
  }
  if (!WriteFileAtomically(dir, from.filename().string(), content, error)) {
    return false;
  }
  std::error_code ec;
  fs::remove(from, ec);
  SyncDir(from.parent_path());
  return true;
}

}  // namespace ehx::adapters::csc
