// The outbound attendance and anti-social behaviour evidence file
// (supporting-families-csv-contract.md section 13), rendered from
// deliveries for the people of the tracker extracts the adapter ingested.
#ifndef EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_EVIDENCE_H_
#define EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_EVIDENCE_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ehx_adapter_protos.h"
#include "ehx_sdk/adapter.h"
#include "sf_tracker.h"
#include "sf_values.h"

namespace ehx::adapters::supporting_families {

// A tracker person the gateway may report evidence for.
struct TrackerPerson {
  std::string la_code;
  std::string family_ref;
  std::string person_ref;
  std::string claim_status;
  std::optional<Ymd> date_identified;
  std::optional<Ymd> case_closure;
};

// Tracker people by identifier. Only valid NHS numbers and valid PERMANENT
// UPNs are keys (never invalid ones or temporary UPNs, section 10.4); the
// keys are stored hashed, never as values. Not thread-safe.
class TrackerIndex {
 public:
  // Adds every person of every accepted row of `file` (a later extract
  // replaces what an earlier one said about the same identifier).
  void AddFile(const TrackerFile& file);
  // Lookups by a normalised identifier value; nullptr if unknown.
  const TrackerPerson* FindByNhs(std::string_view nhs) const;
  const TrackerPerson* FindByUpn(std::string_view upn) const;
  // (family_ref, person_ref) -> person, for reviewed matches.
  const TrackerPerson* FindByRef(std::string_view family_ref,
                                 std::string_view person_ref) const;
  size_t size() const { return by_key_.size(); }

  // A line-based text form (hashed keys, refs, codes and dates only).
  std::string Serialize() const;
  void Deserialize(std::string_view text);

 private:
  std::map<uint64_t, TrackerPerson> by_key_;
};

// The 27 columns of section 13.4.
constexpr int kEvidenceColumnCount = 27;
const char* EvidenceColumnName(int col);
using EvidenceRow = std::array<std::string, kEvidenceColumnCount>;
// Column indexes used outside.
constexpr int kEvidenceIdColumn = 3;

// The evidence rows `delivery` gives (an ATTENDANCE_SUMMARY, or an
// OUTCOME_EVIDENCE for "Families diverted from crime" from the police or
// community safety, see README.md). NOT_FOUND when it concerns nobody in
// the tracker (or a family not in_progress/claimable, or a person under 10
// for ASB): nothing to share. INVALID_ARGUMENT when it cannot be rendered
// (other event types, missing fields). `la_code` overrides the tracker's.
ehx::sdk::Status EvidenceRowsFor(const ehxpb::exchange::v1::Delivery& delivery,
                                 const TrackerIndex& index,
                                 const std::string& la_code,
                                 std::vector<EvidenceRow>* rows);

// The file: UTF-8 BOM, header, CRLF after every record, quoting only where
// needed.
std::string EvidenceCsv(const std::vector<EvidenceRow>& rows);
// Reads back an evidence file EvidenceCsv wrote (for the adapter's state);
// unreadable input gives no rows.
std::vector<EvidenceRow> ParseEvidenceCsv(std::string_view text);
// "sf-evidence-<la>-<YYYYMMDDTHHMMSSZ>.csv" for UTC `seconds`.
std::string EvidenceFileName(const std::string& la_code, int64_t seconds);
// A name-based (version 5, SHA-1) UUID of `name`.
std::string Uuid5(std::string_view name);
// "YYYY-MM-DDTHH:MM:SSZ".
std::string IsoDateTime(int64_t seconds);

}  // namespace ehx::adapters::supporting_families

#endif  // EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_EVIDENCE_H_
