// Raise export files (contract raise-eh-case-export 0.9) -> ehx envelopes.
//
// ParseExport validates one export file as the contract says (file-level
// errors, record-level errors, warnings) and maps every valid case to the
// envelopes it publishes, in order:
//   CASE_OPENED (origin, step-down link), CONSENT_UPDATED (consents with a
//   scope), CAF_NOTIFICATION (assessment started / completed), ASSESSMENT,
//   TAF_MEETING (held meetings), PLAN_UPDATED, STEP_UP_REFERRAL,
//   CASE_CLOSED.
// Idempotency keys come from Raise record ids plus a version (the plan
// version, the assessment stage) or a digest of the mapped content, so the
// same export, or a later export of an unchanged case, publishes nothing
// new. Issues carry JSON paths and codes only, never values.
//
// Pure: no I/O except reading document content files when
// ExportOptions::export_dir is set. Thread-compatible.
#ifndef EHX_ADAPTERS_RAISE_RAISE_EXPORT_H_
#define EHX_ADAPTERS_RAISE_RAISE_EXPORT_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ehx_adapter_protos.h"
#include "raise_values.h"

namespace ehx::adapters::raise {

// One finding (contract #/$defs/issue).
struct Issue {
  std::string severity;  // "error", "warning", "info"
  std::string code;      // section 7.4 code, e.g. "required_field_missing"
  std::string path;      // "$.cases[3].consents[0].reviewDate"
  std::string rule;      // the rule in words; never a value
};

// One record of the processing report (contract #/$defs/reportRecord).
struct RecordReport {
  std::string record_type;  // "case", "person", "staff"
  int index = 0;
  std::string id;      // caseId / personId / staffId when readable
  std::string status;  // "accepted", "rejected", "not_referenced", ...
  std::vector<Issue> issues;
};

// One envelope to publish.
struct PlannedEvent {
  explicit PlannedEvent(ehxpb::exchange::v1::Envelope* e) : envelope(*e) {}
  // On the ExportResult's arena: valid while the result (or a copy of it)
  // is alive.
  ehxpb::exchange::v1::Envelope& envelope;
  // Published at most once per Raise record (case opened, CAF started /
  // completed, step-up, closure): a later export with changed content
  // reuses the key, and the gateway's ALREADY_EXISTS means "already done".
  bool once_only = false;
};

// A valid case and what it publishes.
struct CaseOutput {
  int index = 0;  // position in cases[]
  std::string case_id;
  std::vector<PlannedEvent> events;
};

struct ExportOptions {
  // ehx agency id of the Raise service (assigner of Raise-local ids,
  // agency of practitioners). Default "early-help".
  std::string agency_id = "early-help";
  // If set, export.localAuthority.laCode must equal it.
  std::string la_code;
  // The export file's name (checked against raise-export-<ts>.json).
  std::string file_name;
  // The folder holding the file (for documents/<sha256> content); empty:
  // document content is not read.
  std::string export_dir;
  // Consent scope value -> ehx agency id (RaiseConfig.scope_agencies):
  // mapped values replace the scope value, and agencies mapped from given
  // consents are the case's agencies_involved. Empty: scopes pass through
  // and agencies_involved stays empty.
  std::map<std::string, std::string> scope_agencies;
};

struct ExportResult {
  // Owns every envelope in `cases` (and the messages they were built from):
  // one protobuf arena per export, so that the tens of thousands of
  // envelopes of a large export are neither allocated nor freed one string
  // at a time. Shared by copies of the result.
  std::shared_ptr<google::protobuf::Arena> arena;
  // Empty, or a section 7.2 code: the file is refused and nothing stored.
  std::string file_error;
  std::string file_error_rule;
  // export.exportSchemaVersion, when readable.
  std::string schema_version;
  // export.exportedAt as an instant (valid when file_error is empty).
  Instant exported_at;
  std::vector<Issue> file_issues;
  // Every case, person and staff record with its status and issues. Person
  // and staff statuses are final once the caller has decided which cases
  // were stored (see FinishRecordStatuses).
  std::vector<RecordReport> records;
  // The valid cases, in file order.
  std::vector<CaseOutput> cases;
  // For each valid case (same order as `cases`): indexes into `records` of
  // the people and staff it references.
  std::vector<std::vector<int>> case_refs;
};

// Parses, validates and maps one export file. Never throws.
ExportResult ParseExport(std::string_view bytes, const ExportOptions& options);

// Sets people/staff records to "not_referenced" unless a case in
// `stored_case_indexes` (indexes into result->cases) references them.
void FinishRecordStatuses(ExportResult* result,
                          const std::vector<int>& stored_case_indexes);

// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

}  // namespace ehx::adapters::raise

#endif  // EHX_ADAPTERS_RAISE_RAISE_EXPORT_H_
