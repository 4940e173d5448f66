// The order of case snapshots (contract 8.4): per Raise case, the
// export.exportedAt of the newest snapshot applied, so that an older export
// re-dropped (or arriving late) is not applied over a newer one.
//
// Kept in a small text file, one "<caseId>\t<seconds>\t<nanos>" line per
// applied snapshot, appended (the newest line per case wins on load). Case
// ids are Raise-local opaque ids, not personal data. Thread-compatible.
#ifndef EHX_ADAPTERS_RAISE_RAISE_SNAPSHOTS_H_
#define EHX_ADAPTERS_RAISE_RAISE_SNAPSHOTS_H_

#include <map>
#include <string>

#include "raise_values.h"

namespace ehx::adapters::raise {

class SnapshotIndex {
 public:
  // `path` empty: memory only. A missing file is an empty index; bad lines
  // are skipped.
  explicit SnapshotIndex(std::string path = "");

  enum class Order {
    kNewer,  // no snapshot of the case yet, or this one is newer: apply
    kSame,   // same exportedAt as the stored one: apply, flag the conflict
    kStale,  // older than the stored one: skip (skipped_stale)
  };
  Order Check(const std::string& case_id, const Instant& exported_at) const;

  // Records that the snapshot of `case_id` taken at `exported_at` was
  // applied (kept only if newer than what is stored). Best effort on disk.
  void Record(const std::string& case_id, const Instant& exported_at);

 private:
  std::string path_;
  std::map<std::string, Instant> newest_;
};

}  // namespace ehx::adapters::raise

#endif  // EHX_ADAPTERS_RAISE_RAISE_SNAPSHOTS_H_
