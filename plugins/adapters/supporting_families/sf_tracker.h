// The inbound outcome tracker extract (supporting-families-csv-contract.md
// sections 3-12): parse, validate, check consistency and claims, map each
// accepted row to an EVENT_TYPE_OUTCOME_EVIDENCE envelope, and publish.
#ifndef EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_TRACKER_H_
#define EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_TRACKER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ehx_adapter_protos.h"
#include "sf_values.h"

namespace ehx::adapters::supporting_families {

// The 29 columns of section 7, in the standard order.
enum Col : int {
  kLaCode,
  kClaimWindow,
  kFamilyRef,
  kLeadPractitionerRef,
  kLeadPractitionerService,
  kDateIdentified,
  kWholeFamilyAssessmentDate,
  kFamilyPlanDate,
  kCaseClosureDate,
  kSustainmentCheckDate,
  kPersonRef,
  kRoleInFamily,
  kSurname,
  kForename,
  kDob,
  kSex,
  kNhsNumber,
  kUpn,
  kHeadlineOutcome,
  kFamilyNeed,
  kNeedEvidenceSource,
  kBaselineValue,
  kBaselineDate,
  kOutcomeValue,
  kOutcomeDate,
  kOutcomeAchieved,
  kSustained6m,
  kClaimStatus,
  kNotes,
  kColumnCount
};
// "la_code", ...
const char* ColumnName(int col);

enum class Severity { kError, kWarning, kInfo };
const char* SeverityName(Severity s);

// One finding. `message` never holds a value from the file.
struct Issue {
  Severity severity = Severity::kError;
  std::string code;    // section 12.4 code, or dst_* rules
  std::string column;  // column name or empty
  std::string message;
};

// One data row after validation.
struct TrackerRow {
  size_t record = 0;  // 1 = first row after the header
  size_t line = 0;    // physical line the record starts on
  std::array<std::string, kColumnCount> v;  // trimmed per the contract
  // Unknown columns, preserved: (name, value).
  std::vector<std::pair<std::string, std::string>> extras;
  std::array<std::optional<Ymd>, kColumnCount> dates;
  NhsNumber nhs;
  bool has_nhs = false;
  Upn upn;
  bool has_upn = false;
  Headline headline;
  std::vector<Issue> issues;
  bool rejected = false;
};

struct FamilyResult {
  std::string family_ref;
  bool rejected = false;
  bool claim_passes = false;
  std::vector<std::string> claim_fail_reasons;
  std::vector<Issue> issues;
  std::vector<size_t> rows;  // indexes into TrackerFile::rows
};

struct TrackerOptions {
  std::string la_code;                      // empty: not checked
  std::vector<std::string> valid_la_codes;  // UPN LA codes; empty: any
  int64_t max_bytes = int64_t{64} << 20;
};

struct TrackerFile {
  // File-level error (section 12.1): nothing of the file may be stored.
  std::string file_error;  // code, empty when readable
  std::string file_error_message;
  std::vector<Issue> file_issues;  // info/warnings about the file
  // From the name (section 3.2), "YYYYMMDDTHHMMSSZ"; empty if nonstandard.
  std::string extract_time;
  std::vector<TrackerRow> rows;
  std::vector<FamilyResult> families;  // in order of first appearance
};

// Parses and validates a whole extract. Never throws.
TrackerFile ParseTracker(std::string_view file_name, std::string_view bytes,
                         const TrackerOptions& options);

// "record N (line L)".
std::string RowPosition(const TrackerRow& row);

struct MapOptions {
  // family_ref -> case reference; unlisted families use their family_ref.
  std::map<std::string, std::string> case_refs;
};

// The envelope for one accepted row. Deterministic: the same row always
// gives the same bytes, and its idempotency key is derived from the row key
// (family, person, headline, need) and a hash of the row's content, so
// re-reading an extract publishes nothing new and a changed row is a new
// message.
ehxpb::exchange::v1::Envelope MapRow(const TrackerRow& row,
                                     const MapOptions& options);

// Publishes one envelope; records the outcome in the report.
using PublishFn = std::function<void(const ehxpb::exchange::v1::Envelope&,
                                     const std::string& position,
                                     ehxpb::adapter::v1::IngestReport*)>;

// Parse + map + publish: every accepted row of every accepted family is
// published through `publish` (in file order), nothing when the file has a
// file-level error; every issue becomes a RecordError (errors dropped the
// row, warnings/info are flagged_only). `parsed` (optional) receives the
// parse result (for the folder loop's report and the evidence index).
ehxpb::adapter::v1::IngestReport IngestTracker(const std::string& input_name,
                                               std::string_view bytes,
                                               const TrackerOptions& options,
                                               const MapOptions& map_options,
                                               const PublishFn& publish,
                                               TrackerFile* parsed = nullptr);

// The processing report of section 12.5 (JSON, no personal data).
std::string ReportJson(const std::string& file_name, std::string_view bytes,
                       const TrackerFile& file,
                       const std::string& processed_at);

// Lower-case hex SHA-256 of a whole file (duplicate-file detection, the
// report's fileSha256).
std::string FileSha256Hex(std::string_view bytes);

// FNV-1a 64 over the parts, separated by 0x1f.
uint64_t HashParts(std::initializer_list<std::string_view> parts);

}  // namespace ehx::adapters::supporting_families

#endif  // EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_TRACKER_H_
