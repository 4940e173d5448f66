// The referral link index: what the adapter remembers about each step-up
// referral it wrote for the front door, so that the front door's decision
// and later CIN census episodes (ReferralSource 5D) find their way back to
// the early help case, the referral and its correlation id.
//
// Identifiers are stored only as salted-free stable hashes of
// "<system>|<value>" (no NHS number or UPN in clear in state_dir), and only
// identifiers that may link records: a valid NHS number, a valid permanent
// UPN, an LA child id. Never a temporary or invalid identifier.
//
// Thread-safe: all methods lock.
#ifndef EHX_PLUGINS_ADAPTERS_CSC_LINK_INDEX_H_
#define EHX_PLUGINS_ADAPTERS_CSC_LINK_INDEX_H_

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ehx_adapter_protos.h"

namespace ehx::adapters::csc {

struct LinkEntry {
  std::string referral_id;
  std::string message_id;
  std::string correlation_id;  // the referral's correlation id, else its id
  std::string case_ref;
  std::string referred_on;  // YYYY-MM-DD (Europe/London) of referred_at
  std::vector<std::string> id_hashes;  // StableHash(system, value)
};

// Hashes of the linkable identifiers of `person` (see file comment).
std::vector<std::string> LinkableIdHashes(
    const ehxpb::cases::v1::Person& person);

class LinkIndex {
 public:
  // An in-memory index; Open() makes it persistent.
  LinkIndex() = default;

  // Loads `path` (JSON lines; unreadable lines are skipped and counted) and
  // appends to it from now on. Returns false with `error` set when the file
  // exists but cannot be read or cannot be opened for append.
  bool Open(const std::string& path, std::string* error);

  // Adds (or replaces, by referral id + message id) an entry; appends it to
  // the file with fsync when persistent. False when the write failed.
  bool Add(const LinkEntry& entry, std::string* error);

  // The newest entry for `referral_id`.
  std::optional<LinkEntry> ByReferralId(const std::string& referral_id) const;

  // Entries sharing at least one identifier hash with `id_hashes`.
  std::vector<LinkEntry> ByIdentifiers(
      const std::vector<std::string>& id_hashes) const;

  size_t size() const;
  int skipped_lines() const;

 private:
  mutable std::mutex mu_;
  std::vector<LinkEntry> entries_;
  // Identifier hash -> positions in entries_ (lookups are per census child).
  std::unordered_multimap<std::string, size_t> by_id_;
  // Referral id -> newest position in entries_.
  std::unordered_map<std::string, size_t> by_referral_;
  std::string path_;
  int skipped_ = 0;
};

}  // namespace ehx::adapters::csc

#endif  // EHX_PLUGINS_ADAPTERS_CSC_LINK_INDEX_H_
