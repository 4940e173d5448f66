// Ordering of case snapshots across export files (contract section 8.4).
//
// Raise exports whole-case snapshots. A snapshot older than the one already
// applied for the same case must not be applied again (status
// "skipped_stale", issue "stale_snapshot"); two different snapshots with
// the same export.exportedAt are resolved by file name order (the later name
// wins) and flagged "conflicting_snapshot".
//
// SnapshotIndex remembers, per caseId, the newest applied snapshot's
// exportedAt and file name. It can persist itself as an append-only log
// (one line per applied snapshot: "<caseId>\t<seconds>\t<nanos>\t<file>\n",
// written with fsync), so the order survives restarts; loading keeps the
// newest line per case, so a torn last line only loses that one entry and
// the cost of losing it is a re-published snapshot, which idempotency keys
// make harmless. Case ids and file names are not personal data.
//
// Thread-compatible.
#ifndef EHX_ADAPTERS_RAISE_RAISE_SNAPSHOTS_H_
#define EHX_ADAPTERS_RAISE_RAISE_SNAPSHOTS_H_

#include <map>
#include <string>

#include "raise_values.h"

namespace ehx::adapters::raise {

enum class SnapshotDecision {
  kApply,          // newer than anything applied (or the same file again)
  kStale,          // older than the applied snapshot: skip
  kConflictApply,  // same exportedAt, later file name: apply and flag
  kConflictSkip,   // same exportedAt, earlier file name: skip and flag
};

class SnapshotIndex {
 public:
  SnapshotIndex() = default;

  // Loads the log at `path` (a missing file is an empty index) and appends
  // later Record() calls to it. Returns false if the file exists but cannot
  // be read.
  bool Open(const std::string& path);

  // What to do with the snapshot of `case_id` exported at `exported_at` in
  // the file `file_name`.
  SnapshotDecision Check(const std::string& case_id, const Instant& exported_at,
                         const std::string& file_name) const;

  // Remembers an applied snapshot (keeps the newest per case). With a log
  // open, appends and fsyncs a line; returns false if that failed (the index
  // in memory is still updated).
  bool Record(const std::string& case_id, const Instant& exported_at,
              const std::string& file_name);

  // Stops appending to the log (the index stays in memory): for a copy used
  // by a dry run, which must leave no trace.
  void DetachLog() { path_.clear(); }

  size_t size() const { return applied_.size(); }

 private:
  struct Applied {
    Instant at;
    std::string file;
  };
  std::map<std::string, Applied> applied_;
  std::string path_;
};

}  // namespace ehx::adapters::raise

#endif  // EHX_ADAPTERS_RAISE_RAISE_SNAPSHOTS_H_
