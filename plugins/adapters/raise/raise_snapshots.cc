#include "raise_snapshots.h"

#include <fstream>
#include <sstream>
#include <utility>

namespace ehx::adapters::raise {
namespace {

bool Before(const Instant& a, const Instant& b) {
  return a.seconds != b.seconds ? a.seconds < b.seconds : a.nanos < b.nanos;
}

}  // namespace

SnapshotIndex::SnapshotIndex(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id;
    Instant at;
    if (!std::getline(fields, id, '\t') || id.empty()) continue;
    if (!(fields >> at.seconds >> at.nanos)) continue;
    auto it = newest_.find(id);
    if (it == newest_.end() || Before(it->second, at)) newest_[id] = at;
  }
}

SnapshotIndex::Order SnapshotIndex::Check(const std::string& case_id,
                                          const Instant& exported_at) const {
  auto it = newest_.find(case_id);
  if (it == newest_.end() || Before(it->second, exported_at)) {
    return Order::kNewer;
  }
  return Before(exported_at, it->second) ? Order::kStale : Order::kSame;
}

void SnapshotIndex::Record(const std::string& case_id,
                           const Instant& exported_at) {
  if (case_id.find_first_of("\t\n\r") != std::string::npos) return;
  auto it = newest_.find(case_id);
  if (it != newest_.end() && !Before(it->second, exported_at)) return;
  newest_[case_id] = exported_at;
  if (path_.empty()) return;
  std::ofstream out(path_, std::ios::app);
  out << case_id << '\t' << exported_at.seconds << '\t' << exported_at.nanos
      << '\n';
}

}  // namespace ehx::adapters::raise
