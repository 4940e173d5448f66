// The adapter's memory of the NHS number it last published per person, so
// that an unverified identifier never overwrites a verified one. One SQLite
// file (identity.sqlite3, mode 0600) in the configured state dir. Keys are
// sender-local person ids ("fhir:<id>", "pas:<id>") or, without one, the
// NHS number itself. Thread-safe (one mutex).
#ifndef EHX_ADAPTERS_HEALTH_IDENTITY_STATE_H_
#define EHX_ADAPTERS_HEALTH_IDENTITY_STATE_H_

#include <memory>
#include <mutex>
#include <string>

struct sqlite3;

namespace ehx::adapters::health {

class IdentityState {
 public:
  struct Entry {
    std::string nhs_number;   // normalised, 10 digits
    bool verified = false;    // published with verification VERIFIED
    std::string source_code;  // "01".."08" or ""
  };

  // Opens (creating) `path`; ":memory:" for tests. nullptr + `error` on
  // failure.
  static std::unique_ptr<IdentityState> Open(const std::string& path,
                                             std::string* error);
  ~IdentityState();
  IdentityState(const IdentityState&) = delete;
  IdentityState& operator=(const IdentityState&) = delete;

  // False when there is no entry (or on a read error).
  bool Get(const std::string& key, Entry* out);
  // Durably stores `entry` under `key`. False on a write error.
  bool Put(const std::string& key, const Entry& entry);

 private:
  explicit IdentityState(sqlite3* db) : db_(db) {}
  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace ehx::adapters::health

#endif  // EHX_ADAPTERS_HEALTH_IDENTITY_STATE_H_
