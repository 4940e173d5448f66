#include "raise_snapshots.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <tuple>

namespace ehx::adapters::raise {
namespace {

int Compare(const Instant& a, const Instant& b) {
  const auto ka = std::make_tuple(a.seconds, a.nanos);
  const auto kb = std::make_tuple(b.seconds, b.nanos);
  return ka < kb ? -1 : (kb < ka ? 1 : 0);
}

bool ValidField(const std::string& s) {
  return !s.empty() && s.find_first_of("\t\n\r") == std::string::npos;
}

}  // namespace

bool SnapshotIndex::Open(const std::string& path) {
  path_ = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // Missing is fine (first start); unreadable is not.
    return ::access(path.c_str(), F_OK) != 0;
  }
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string case_id, secs, nanos, file;
    if (!std::getline(f, case_id, '\t') || !std::getline(f, secs, '\t') ||
        !std::getline(f, nanos, '\t') || !std::getline(f, file)) {
      continue;  // torn or foreign line
    }
    Instant at;
    char* end = nullptr;
    errno = 0;
    at.seconds = std::strtoll(secs.c_str(), &end, 10);
    if (errno != 0 || end == secs.c_str() || *end != '\0') continue;
    const long n = std::strtol(nanos.c_str(), &end, 10);
    if (end == nanos.c_str() || *end != '\0' || n < 0 || n > 999999999) {
      continue;
    }
    at.nanos = static_cast<int32_t>(n);
    auto it = applied_.find(case_id);
    if (it == applied_.end() || Compare(at, it->second.at) > 0 ||
        (Compare(at, it->second.at) == 0 && file > it->second.file)) {
      applied_[case_id] = Applied{at, file};
    }
  }
  return true;
}

SnapshotDecision SnapshotIndex::Check(const std::string& case_id,
                                      const Instant& exported_at,
                                      const std::string& file_name) const {
  auto it = applied_.find(case_id);
  if (it == applied_.end()) return SnapshotDecision::kApply;
  const int c = Compare(exported_at, it->second.at);
  if (c > 0) return SnapshotDecision::kApply;
  if (c < 0) return SnapshotDecision::kStale;
  if (file_name == it->second.file) return SnapshotDecision::kApply;
  return file_name > it->second.file ? SnapshotDecision::kConflictApply
                                     : SnapshotDecision::kConflictSkip;
}

bool SnapshotIndex::Record(const std::string& case_id,
                           const Instant& exported_at,
                           const std::string& file_name) {
  auto it = applied_.find(case_id);
  if (it != applied_.end() && (Compare(exported_at, it->second.at) < 0 ||
                               (Compare(exported_at, it->second.at) == 0 &&
                                file_name <= it->second.file))) {
    return true;  // not newer: nothing to remember
  }
  applied_[case_id] = Applied{exported_at, file_name};
  if (path_.empty()) return true;
  if (!ValidField(case_id) || !ValidField(file_name)) return false;
  const std::string line =
      case_id + "\t" + std::to_string(exported_at.seconds) + "\t" +
      std::to_string(exported_at.nanos) + "\t" + file_name + "\n";
  const int fd =
      ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  bool ok = ::write(fd, line.data(), line.size()) ==
            static_cast<ssize_t>(line.size());
  ok = (::fsync(fd) == 0) && ok;
  ::close(fd);
  return ok;
}

}  // namespace ehx::adapters::raise
