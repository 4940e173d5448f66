#include "sf_tracker.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <unordered_map>

#include "absl/time/civil_time.h"
#include "sf_csv.h"

namespace ehx::adapters::supporting_families {
namespace {

using ehxpb::adapter::v1::IngestReport;
using ehxpb::exchange::v1::Envelope;

constexpr const char* kColumnNames[kColumnCount] = {
    "la_code",
    "claim_window",
    "family_ref",
    "lead_practitioner_ref",
    "lead_practitioner_service",
    "date_identified",
    "whole_family_assessment_date",
    "family_plan_date",
    "case_closure_date",
    "sustainment_check_date",
    "person_ref",
    "role_in_family",
    "surname",
    "forename",
    "dob",
    "sex",
    "nhs_number",
    "upn",
    "headline_outcome",
    "family_need",
    "need_evidence_source",
    "baseline_value",
    "baseline_date",
    "outcome_value",
    "outcome_date",
    "outcome_achieved",
    "sustained_6m_after_closure",
    "claim_status",
    "notes",
};

bool IsRequired(int c) {
  switch (c) {
    case kLaCode:
    case kClaimWindow:
    case kFamilyRef:
    case kDateIdentified:
    case kPersonRef:
    case kRoleInFamily:
    case kSurname:
    case kForename:
    case kDob:
    case kHeadlineOutcome:
    case kFamilyNeed:
    case kClaimStatus:
      return true;
    default:
      return false;
  }
}

// Free-text columns are kept exactly; everything else is trimmed.
bool IsTrimmed(int c) {
  switch (c) {
    case kLeadPractitionerService:
    case kSurname:
    case kForename:
    case kNeedEvidenceSource:
    case kBaselineValue:
    case kOutcomeValue:
    case kNotes:
      return false;
    default:
      return true;
  }
}

bool IsDateColumn(int c) {
  switch (c) {
    case kDateIdentified:
    case kWholeFamilyAssessmentDate:
    case kFamilyPlanDate:
    case kCaseClosureDate:
    case kSustainmentCheckDate:
    case kDob:
    case kBaselineDate:
    case kOutcomeDate:
      return true;
    default:
      return false;
  }
}

constexpr int kFamilyColumns[] = {kLaCode,
                                  kClaimWindow,
                                  kFamilyRef,
                                  kLeadPractitionerRef,
                                  kLeadPractitionerService,
                                  kDateIdentified,
                                  kWholeFamilyAssessmentDate,
                                  kFamilyPlanDate,
                                  kCaseClosureDate,
                                  kSustainmentCheckDate,
                                  kClaimStatus};
constexpr int kPersonColumns[] = {kPersonRef, kRoleInFamily, kSurname,
                                  kForename,  kDob,          kSex,
                                  kNhsNumber, kUpn};

void Add(TrackerRow* row, Severity s, std::string code, int col,
         std::string message) {
  if (s == Severity::kError) row->rejected = true;
  row->issues.push_back(Issue{s, std::move(code),
                              col >= 0 ? kColumnNames[col] : std::string(),
                              std::move(message)});
}

// The value of column `c` of `row` for consistency comparisons: parsed
// dates and normalised identifiers, else the value.
std::string Comparable(const TrackerRow& row, int c) {
  if (IsDateColumn(c)) {
    return row.dates[c] ? IsoDate(*row.dates[c]) : row.v[c];
  }
  if (c == kNhsNumber && row.has_nhs) return row.nhs.normalized;
  if (c == kUpn && row.has_upn) return row.upn.normalized;
  return row.v[c];
}

// Comparable(a, c) == Comparable(b, c), without building strings in the
// common cases (it runs for every column of every row of a family).
bool SameValue(const TrackerRow& a, const TrackerRow& b, int c) {
  if (IsDateColumn(c)) {
    if (a.dates[c] && b.dates[c]) return *a.dates[c] == *b.dates[c];
    if (!a.dates[c] && !b.dates[c]) return a.v[c] == b.v[c];
    return Comparable(a, c) == Comparable(b, c);
  }
  const std::string& x = c == kNhsNumber && a.has_nhs ? a.nhs.normalized
                         : c == kUpn && a.has_upn     ? a.upn.normalized
                                                      : a.v[c];
  const std::string& y = c == kNhsNumber && b.has_nhs ? b.nhs.normalized
                         : c == kUpn && b.has_upn     ? b.upn.normalized
                                                      : b.v[c];
  return x == y;
}

bool ParseExtractTime(std::string_view name, std::string* out) {
  // sf-outcome-tracker-<la 3 digits>-<YYYY-Qn>-<YYYYMMDDTHHMMSSZ>.csv
  constexpr std::string_view kPrefix = "sf-outcome-tracker-";
  if (name.substr(0, kPrefix.size()) != kPrefix) return false;
  name.remove_prefix(kPrefix.size());
  if (name.size() != 3 + 1 + 7 + 1 + 16 + 4) return false;
  if (!AllDigits(name.substr(0, 3)) || name[3] != '-') return false;
  const std::string_view win = name.substr(4, 7);
  if (!AllDigits(win.substr(0, 4)) || win[4] != '-' || win[5] != 'Q' ||
      win[6] < '1' || win[6] > '4' || name[11] != '-') {
    return false;
  }
  const std::string_view ts = name.substr(12, 16);
  if (!AllDigits(ts.substr(0, 8)) || ts[8] != 'T' ||
      !AllDigits(ts.substr(9, 6)) || ts[15] != 'Z') {
    return false;
  }
  if (name.substr(28) != ".csv") return false;
  const int y = std::stoi(std::string(ts.substr(0, 4)));
  const int m = std::stoi(std::string(ts.substr(4, 2)));
  const int d = std::stoi(std::string(ts.substr(6, 2)));
  if (!IsValidDate(y, m, d)) return false;
  *out = std::string(ts);
  return true;
}

void ValidateRow(TrackerRow* row, const TrackerOptions& options) {
  std::array<std::string, kColumnCount>& v = row->v;
  for (int c = 0; c < kColumnCount; ++c) {
    if (IsRequired(c) && Trim(v[c]).empty()) {
      Add(row, Severity::kError, "required_value_missing", c,
          "a required value is empty");
    }
  }
  if (!v[kLaCode].empty()) {
    if (!options.la_code.empty() && v[kLaCode] != options.la_code) {
      Add(row, Severity::kError, "wrong_local_authority", kLaCode,
          "la_code differs from the configured authority");
    } else if (v[kLaCode].size() != 3 || !AllDigits(v[kLaCode])) {
      Add(row, Severity::kWarning, "unknown_code", kLaCode,
          "la_code must be 3 digits");
    }
  }
  if (!v[kClaimWindow].empty()) {
    const std::string& w = v[kClaimWindow];
    const bool ok = w.size() == 7 && AllDigits(w.substr(0, 4)) && w[4] == '-' &&
                    w[5] == 'Q' && w[6] >= '1' && w[6] <= '4';
    if (!ok) {
      Add(row, Severity::kError, "invalid_claim_window", kClaimWindow,
          "claim_window must be YYYY-Qn (calendar quarter 1-4)");
    }
  }
  if (!v[kFamilyRef].empty()) {
    const std::string& f = v[kFamilyRef];
    const bool ok = f.size() == 12 && f[0] == 'S' && f[1] == 'F' &&
                    AllDigits(f.substr(2, 3)) && f[5] == '-' &&
                    AllDigits(f.substr(6));
    if (!ok) {
      Add(row, Severity::kWarning, "family_ref_format", kFamilyRef,
          "family_ref should be SF<la_code>-<6 digits>");
    } else if (!v[kLaCode].empty() && f.substr(2, 3) != v[kLaCode]) {
      Add(row, Severity::kWarning, "family_ref_la_mismatch", kFamilyRef,
          "the LA code inside family_ref differs from la_code");
    }
  }
  if (!v[kPersonRef].empty() &&
      (v[kPersonRef].size() > 32 ||
       v[kPersonRef].find_first_of(" \t\r\n") != std::string::npos)) {
    Add(row, Severity::kError, "invalid_person_ref", kPersonRef,
        "person_ref must be 1-32 characters without spaces");
  }
  // Dates.
  for (int c = 0; c < kColumnCount; ++c) {
    if (!IsDateColumn(c) || v[c].empty()) continue;
    DateValue d = ParseDateValue(v[c]);
    if (d.status != DateValue::Status::kOk) {
      if (IsRequired(c)) {
        Add(row, Severity::kError, "unparseable_date", c,
            "not a valid dd/mm/yyyy, YYYY-MM-DD or dd/mm/yyyy hh:mm[:ss] date");
      } else {
        Add(row, Severity::kWarning, "unparseable_date", c,
            "not a valid date; treated as empty");
      }
      continue;
    }
    row->dates[c] = d.date;
    if (d.time_ignored) {
      Add(row, Severity::kWarning, "time_ignored", c,
          "a date-time with a time other than 00:00; the time is discarded");
    }
    if (d.dst_nonexistent) {
      Add(row, Severity::kWarning, "dst_nonexistent_local_time", c,
          "the local time does not exist in Europe/London (clocks went "
          "forward); the time is discarded, not guessed");
    }
    if (d.dst_ambiguous) {
      Add(row, Severity::kWarning, "dst_ambiguous_local_time", c,
          "the local time occurs twice in Europe/London (clocks went back); "
          "the time is discarded, not guessed");
    }
  }
  // Codes.
  if (!v[kRoleInFamily].empty() && !IsRoleInFamily(v[kRoleInFamily])) {
    Add(row, Severity::kWarning, "unknown_code", kRoleInFamily,
        "role_in_family is not in the code list; kept");
  }
  if (!v[kSex].empty() && !IsSex(v[kSex])) {
    Add(row, Severity::kWarning, "unknown_code", kSex,
        "sex is not M, F or U; kept");
  }
  if (!v[kClaimStatus].empty() && !IsClaimStatus(v[kClaimStatus])) {
    Add(row, Severity::kWarning, "unknown_code", kClaimStatus,
        "claim_status is not in the code list; kept");
  }
  // Identifiers.
  if (!v[kNhsNumber].empty()) {
    row->has_nhs = true;
    row->nhs = CheckNhsNumber(v[kNhsNumber]);
    if (row->nhs.reformatted) {
      Add(row, Severity::kInfo, "nhs_number_reformatted", kNhsNumber,
          "spaces removed from the 3-3-4 form");
    }
    switch (row->nhs.check) {
      case NhsCheck::kValid:
        break;
      case NhsCheck::kPlaceholder:
        Add(row, Severity::kWarning, "nhs_number_placeholder", kNhsNumber,
            "one repeated digit: a placeholder, kept as invalid and never "
            "used for matching");
        break;
      case NhsCheck::kBadFormat:
        Add(row, Severity::kWarning, "nhs_number_invalid", kNhsNumber,
            "not 10 digits; kept as invalid and never used for matching");
        break;
      case NhsCheck::kImpossibleStem:
        Add(row, Severity::kWarning, "nhs_number_invalid", kNhsNumber,
            "no check digit can make this number valid (Modulus 11 check "
            "would be 10); kept as invalid and never used for matching");
        break;
      case NhsCheck::kBadCheckDigit:
        Add(row, Severity::kWarning, "nhs_number_invalid", kNhsNumber,
            "fails the Modulus 11 check digit; kept as invalid and never "
            "used for matching");
        break;
    }
  }
  if (!v[kUpn].empty()) {
    row->has_upn = true;
    row->upn = CheckUpn(v[kUpn]);
    if (row->upn.reformatted) {
      Add(row, Severity::kInfo, "upn_reformatted", kUpn, "upper-cased");
    }
    switch (row->upn.check) {
      case UpnCheck::kValidPermanent:
      case UpnCheck::kValidTemporary:
        if (row->upn.check == UpnCheck::kValidTemporary) {
          Add(row, Severity::kInfo, "upn_temporary", kUpn,
              "temporary UPN: stored as temporary, never a merge key");
        }
        if (!options.valid_la_codes.empty() &&
            std::find(options.valid_la_codes.begin(),
                      options.valid_la_codes.end(),
                      row->upn.la_code) == options.valid_la_codes.end()) {
          Add(row, Severity::kWarning, "upn_invalid_la", kUpn,
              "unknown LA code in UPN characters 2-4");
        }
        break;
      case UpnCheck::kBadFormat:
        Add(row, Severity::kWarning, "upn_invalid", kUpn,
            "not a 13-character UPN; kept as invalid, never used for "
            "matching");
        break;
      case UpnCheck::kBadCheck:
        Add(row, Severity::kWarning, "upn_invalid", kUpn,
            "fails the mod-23 check letter; kept as invalid, never used for "
            "matching");
        break;
    }
  }
  // Headline outcome.
  if (!v[kHeadlineOutcome].empty()) {
    row->headline = MatchHeadline(v[kHeadlineOutcome]);
    if (row->headline.area == 0) {
      Add(row, Severity::kError, "unknown_headline_outcome", kHeadlineOutcome,
          "not one of the ten headline outcomes of the October 2022 "
          "framework");
    } else if (row->headline.case_differs) {
      Add(row, Severity::kWarning, "headline_outcome_case", kHeadlineOutcome,
          "differs from the official wording only in letter case");
    }
  }
  // Flags.
  for (int c : {kOutcomeAchieved, kSustained6m}) {
    std::string& f = v[c];
    if (f.empty() || f == "Y" || f == "N") continue;
    if (f == "y" || f == "n") {
      f = f == "y" ? "Y" : "N";
      Add(row, Severity::kInfo, "flag_reformatted", c, "upper-cased");
      continue;
    }
    f.clear();
    Add(row, Severity::kWarning, "invalid_flag", c,
        "a flag is Y, N or empty; treated as empty");
  }
  if (v[kSustained6m] == "Y" &&
      (!row->dates[kCaseClosureDate] || !row->dates[kSustainmentCheckDate])) {
    Add(row, Severity::kWarning, "sustained_without_dates", kSustained6m,
        "sustained Y without case_closure_date and sustainment_check_date");
  }
  // Date order (section 11.1).
  auto& d = row->dates;
  auto before = [&](int a, int b) { return d[a] && d[b] && *d[a] < *d[b]; };
  if (before(kFamilyPlanDate, kWholeFamilyAssessmentDate)) {
    Add(row, Severity::kWarning, "date_order", kFamilyPlanDate,
        "family_plan_date is before whole_family_assessment_date");
  }
  if (before(kCaseClosureDate, kFamilyPlanDate) ||
      before(kCaseClosureDate, kDateIdentified)) {
    Add(row, Severity::kWarning, "date_order", kCaseClosureDate,
        "case_closure_date is before family_plan_date or date_identified");
  }
  if (d[kSustainmentCheckDate] && !d[kCaseClosureDate]) {
    Add(row, Severity::kWarning, "date_order", kSustainmentCheckDate,
        "sustainment_check_date without case_closure_date");
  }
  if (before(kOutcomeDate, kBaselineDate)) {
    Add(row, Severity::kWarning, "date_order", kOutcomeDate,
        "outcome_date is before baseline_date");
  }
  if (before(kDateIdentified, kDob)) {
    Add(row, Severity::kWarning, "date_order", kDob,
        "dob is after date_identified");
  }
}

void ClaimCheck(const TrackerFile& file, FamilyResult* fam) {
  std::set<std::pair<std::string, std::string>> needs;
  bool achieved = true, sustained = true, any_rejected = false;
  const TrackerRow* first = nullptr;
  for (size_t i : fam->rows) {
    const TrackerRow& r = file.rows[i];
    if (r.rejected) any_rejected = true;
    if (first == nullptr) first = &r;
    std::string need = CollapseSpaces(r.v[kFamilyNeed]);
    for (char& c : need) c = static_cast<char>(std::tolower(c));
    needs.insert({r.headline.area ? r.headline.name
                                  : CollapseSpaces(r.v[kHeadlineOutcome]),
                  need});
    if (r.v[kOutcomeAchieved] != "Y") achieved = false;
    if (r.v[kSustained6m] != "Y") sustained = false;
  }
  std::vector<std::string>& why = fam->claim_fail_reasons;
  if (needs.size() < 3) why.push_back("fewer_than_three_needs");
  if (first != nullptr) {
    if (first->v[kLeadPractitionerRef].empty())
      why.push_back("no_lead_practitioner");
    if (!first->dates[kWholeFamilyAssessmentDate])
      why.push_back("no_whole_family_assessment");
    if (!first->dates[kFamilyPlanDate]) why.push_back("no_family_plan");
    if (!first->dates[kCaseClosureDate]) why.push_back("case_not_closed");
  }
  if (!achieved) why.push_back("outcome_not_achieved");
  if (!sustained) why.push_back("not_sustained");
  if (first != nullptr) {
    if (!first->dates[kSustainmentCheckDate]) {
      why.push_back("sustainment_check_missing");
    } else if (first->dates[kCaseClosureDate] &&
               *first->dates[kSustainmentCheckDate] <
                   AddMonths(*first->dates[kCaseClosureDate], 6)) {
      why.push_back("sustainment_check_too_early");
    }
  }
  if (any_rejected) why.push_back("rows_rejected");
  fam->claim_passes = why.empty();
  const std::string status = first != nullptr ? first->v[kClaimStatus] : "";
  if ((status == "claimable" || status == "claimed") && !fam->claim_passes) {
    fam->issues.push_back(
        Issue{Severity::kWarning, "claim_status_disputed", "claim_status",
              "the tracker says claimable/claimed but the claim check fails"});
  } else if (status != "claimable" && status != "claimed" &&
             fam->claim_passes) {
    fam->issues.push_back(
        Issue{Severity::kInfo, "possibly_claimable", "claim_status",
              "the claim check passes but the tracker does not say "
              "claimable"});
  }
}

std::string Hex(uint64_t v, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(v));
  return std::string(buf + 16 - digits);
}

std::string SafeKeyPart(std::string_view s, size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) break;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_';
    out.push_back(ok ? c : '_');
  }
  return out;
}

ehxpb::cases::v1::Date ToDate(const Ymd& d) {
  ehxpb::cases::v1::Date out;
  out.set_year(d.year);
  out.set_month(d.month);
  out.set_day(d.day);
  return out;
}

void AppendLine(std::string* out, std::string_view key,
                std::string_view value) {
  if (value.empty()) return;
  out->append(key);
  out->append(": ");
  out->append(value);
  out->push_back('\n');
}

// Section 7.1: a number beside a value that is entirely a percentage or a
// plain number.
std::string NumberOf(std::string_view text) {
  std::string_view t = Trim(text);
  bool pct = !t.empty() && t.back() == '%';
  if (pct) t.remove_suffix(1);
  std::string_view body = t;
  if (!body.empty() && body.front() == '-') body.remove_prefix(1);
  const size_t dot = body.find('.');
  const bool ok =
      dot == std::string_view::npos
          ? AllDigits(body)
          : AllDigits(body.substr(0, dot)) && AllDigits(body.substr(dot + 1));
  if (!ok) return "";
  return std::string(t) + (pct ? " percent" : "");
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) !=
      1) {
    return "";
  }
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", md[i]);
    out += buf;
  }
  return out;
}

void JsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void IssuesJson(const std::vector<Issue>& issues, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < issues.size(); ++i) {
    if (i) out->push_back(',');
    out->append("{\"severity\":");
    JsonString(SeverityName(issues[i].severity), out);
    out->append(",\"code\":");
    JsonString(issues[i].code, out);
    out->append(",\"column\":");
    if (issues[i].column.empty()) {
      out->append("null");
    } else {
      JsonString(issues[i].column, out);
    }
    out->append(",\"rule\":");
    JsonString(issues[i].message, out);
    out->push_back('}');
  }
  out->push_back(']');
}

void AddRecordError(IngestReport* report, const std::string& position,
                    const Issue& issue) {
  auto* e = report->add_errors();
  e->set_position(position);
  e->set_rule(issue.code);
  e->set_field(issue.column);
  e->set_message(issue.message);
  e->set_flagged_only(issue.severity != Severity::kError);
}

}  // namespace

const char* ColumnName(int col) {
  return col >= 0 && col < kColumnCount ? kColumnNames[col] : "";
}

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    default:
      return "info";
  }
}

std::string FileSha256Hex(std::string_view bytes) { return Sha256Hex(bytes); }

uint64_t HashParts(std::initializer_list<std::string_view> parts) {
  uint64_t h = 1469598103934665603ull;
  bool first = true;
  for (std::string_view s : parts) {
    if (!first) {
      h ^= 0x1f;
      h *= 1099511628211ull;
    }
    first = false;
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  }
  return h;
}

std::string RowPosition(const TrackerRow& row) {
  return "record " + std::to_string(row.record) + " (line " +
         std::to_string(row.line) + ")";
}

TrackerFile ParseTracker(std::string_view file_name, std::string_view bytes,
                         const TrackerOptions& options) {
  TrackerFile file;
  auto fail = [&file](const char* code, std::string message) {
    file.file_error = code;
    file.file_error_message = std::move(message);
    file.rows.clear();
    file.families.clear();
    return file;
  };
  if (!ParseExtractTime(file_name, &file.extract_time)) {
    file.file_issues.push_back(
        Issue{Severity::kInfo, "nonstandard_file_name", "",
              "the name does not follow sf-outcome-tracker-<la>-<window>-"
              "<YYYYMMDDTHHMMSSZ>.csv"});
  }
  if (options.max_bytes > 0 &&
      static_cast<int64_t>(bytes.size()) > options.max_bytes) {
    return fail("file_too_large", "larger than the configured limit");
  }
  if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF") {
    bytes.remove_prefix(3);
  }
  if (!IsValidUtf8(bytes)) {
    return fail("file_not_utf8", "the file is not valid UTF-8");
  }
  CsvParse csv = ParseCsv(bytes);
  if (!csv.error_rule.empty()) {
    return fail("csv_unterminated_quote",
                "a quoted field starting in the record at line " +
                    std::to_string(csv.error_line) + " is never closed");
  }
  if (csv.records.empty()) return fail("empty_file", "no header row");

  // Header.
  const CsvRecord& header = csv.records[0];
  std::array<int, kColumnCount> index;
  index.fill(-1);
  std::vector<std::pair<size_t, std::string>> extra_columns;
  std::set<std::string> seen;
  for (size_t i = 0; i < header.fields.size(); ++i) {
    const std::string& name = header.fields[i];
    if (!seen.insert(name).second) {
      return fail("duplicate_column",
                  "a column name appears twice in the header");
    }
    bool known = false;
    for (int c = 0; c < kColumnCount; ++c) {
      if (name == kColumnNames[c]) {
        index[c] = static_cast<int>(i);
        known = true;
        break;
      }
    }
    if (!known) {
      extra_columns.emplace_back(i, name);
      // The column name is schema, not personal data; keep it out of the
      // message anyway (it may be anything).
      file.file_issues.push_back(Issue{Severity::kInfo, "unknown_column", "",
                                       "column " + std::to_string(i + 1) +
                                           " is not in layout 1; its values "
                                           "are preserved"});
    }
  }
  for (int c = 0; c < kColumnCount; ++c) {
    if (index[c] < 0 && IsRequired(c)) {
      return fail("missing_column", std::string("required column ") +
                                        kColumnNames[c] + " is missing");
    }
  }

  // Rows.
  file.rows.reserve(csv.records.size() - 1);
  for (size_t r = 1; r < csv.records.size(); ++r) {
    CsvRecord& rec = csv.records[r];
    TrackerRow row;
    row.record = r;
    row.line = rec.line;
    if (rec.fields.size() != header.fields.size()) {
      Add(&row, Severity::kError, "field_count_mismatch", -1,
          "the row has " + std::to_string(rec.fields.size()) +
              " fields, the header " + std::to_string(header.fields.size()));
      file.rows.push_back(std::move(row));
      continue;
    }
    for (int c = 0; c < kColumnCount; ++c) {
      if (index[c] < 0) continue;
      // Each field is read once: move it instead of copying.
      std::string& raw = rec.fields[index[c]];
      if (IsTrimmed(c)) {
        const std::string_view t = Trim(raw);
        if (t.size() != raw.size()) {
          row.v[c] = std::string(t);
          continue;
        }
      }
      row.v[c] = std::move(raw);
    }
    for (const auto& [i, name] : extra_columns) {
      row.extras.emplace_back(name, rec.fields[i]);
    }
    for (size_t f : rec.bare_quote_fields) {
      int col = -1;
      for (int c = 0; c < kColumnCount; ++c) {
        if (index[c] == static_cast<int>(f)) col = c;
      }
      Add(&row, Severity::kWarning, "csv_bare_quote", col,
          "a quote character outside RFC 4180 quoting; kept literally");
    }
    ValidateRow(&row, options);
    file.rows.push_back(std::move(row));
  }

  // Duplicate row keys: every row with the key is rejected.
  std::map<std::tuple<std::string, std::string, std::string, std::string>,
           std::vector<size_t>>
      keys;
  for (size_t i = 0; i < file.rows.size(); ++i) {
    const TrackerRow& row = file.rows[i];
    if (row.issues.size() && row.issues[0].code == "field_count_mismatch") {
      continue;
    }
    std::string need = CollapseSpaces(row.v[kFamilyNeed]);
    keys[{row.v[kFamilyRef], row.v[kPersonRef],
          CollapseSpaces(row.v[kHeadlineOutcome]), need}]
        .push_back(i);
  }
  for (auto& [key, rows] : keys) {
    if (rows.size() < 2) continue;
    for (size_t i : rows) {
      Add(&file.rows[i], Severity::kError, "duplicate_row_key", -1,
          "family_ref, person_ref, headline_outcome and family_need repeat "
          "another row of the file");
    }
  }

  // Families: consistency, then the claim check.
  std::unordered_map<std::string, size_t> fam_index;
  for (size_t i = 0; i < file.rows.size(); ++i) {
    const TrackerRow& row = file.rows[i];
    const bool counted =
        !(row.issues.size() && row.issues[0].code == "field_count_mismatch");
    const std::string ref = counted ? row.v[kFamilyRef] : std::string();
    if (ref.empty()) continue;  // already rejected (required/field count)
    auto [it, inserted] = fam_index.emplace(ref, file.families.size());
    if (inserted) {
      FamilyResult f;
      f.family_ref = ref;
      file.families.push_back(std::move(f));
    }
    file.families[it->second].rows.push_back(i);
  }
  for (FamilyResult& fam : file.families) {
    const TrackerRow& first = file.rows[fam.rows[0]];
    std::string bad_family_col, bad_person_col;
    std::map<std::string, const TrackerRow*> people;
    for (size_t i : fam.rows) {
      const TrackerRow& r = file.rows[i];
      for (int c : kFamilyColumns) {
        if (bad_family_col.empty() && !SameValue(r, first, c)) {
          bad_family_col = kColumnNames[c];
        }
      }
      auto [it, inserted] = people.emplace(r.v[kPersonRef], &r);
      if (!inserted) {
        for (int c : kPersonColumns) {
          if (bad_person_col.empty() && !SameValue(r, *it->second, c)) {
            bad_person_col = kColumnNames[c];
          }
        }
      }
    }
    if (!bad_family_col.empty() || !bad_person_col.empty()) {
      fam.rejected = true;
      Issue issue = !bad_family_col.empty()
                        ? Issue{Severity::kError, "inconsistent_family_columns",
                                bad_family_col,
                                "a family-level column differs between rows "
                                "of the family; the family is rejected"}
                        : Issue{Severity::kError, "inconsistent_person_columns",
                                bad_person_col,
                                "a person-level column differs between rows "
                                "of the person; the family is rejected"};
      fam.issues.push_back(issue);
      for (size_t i : fam.rows) {
        file.rows[i].rejected = true;
        file.rows[i].issues.push_back(issue);
      }
    }
    ClaimCheck(file, &fam);
  }
  return file;
}

Envelope MapRow(const TrackerRow& row, const MapOptions& options) {
  const auto& v = row.v;
  Envelope env;
  const auto cr = options.case_refs.find(v[kFamilyRef]);
  const bool mapped = cr != options.case_refs.end();
  env.set_case_ref(mapped ? cr->second : v[kFamilyRef]);
  env.set_event_type(ehxpb::exchange::v1::EVENT_TYPE_OUTCOME_EVIDENCE);

  // The latest date the row records: when it "happened" in the tracker.
  // Deterministic, so an unchanged row is an identical message.
  std::optional<Ymd> latest;
  for (int c = 0; c < kColumnCount; ++c) {
    const auto& d = row.dates[c];
    if (c != kDob && d && (!latest || *d > *latest)) latest = *d;
  }
  if (!latest) latest = row.dates[kDateIdentified];
  if (latest) {
    const int64_t days =
        absl::CivilDay(latest->year, latest->month, latest->day) -
        absl::CivilDay(1970, 1, 1);
    env.mutable_occurred_at()->set_seconds(days * 86400);
  }

  auto* o = env.mutable_outcome_evidence();
  o->set_family_id(v[kFamilyRef]);
  if (mapped) o->set_case_id(cr->second);
  o->set_area(static_cast<ehxpb::cases::v1::OutcomeArea>(row.headline.area));
  auto* desc = o->mutable_outcome_descriptor();
  desc->set_system("urn:ehx:code:sf:family-need");
  desc->set_code(CollapseSpaces(v[kFamilyNeed]));
  desc->set_display(CollapseSpaces(v[kFamilyNeed]));
  desc->set_original_value(v[kFamilyNeed]);
  o->set_evidence_source(v[kNeedEvidenceSource]);
  if (row.dates[kBaselineDate]) {
    *o->mutable_need_identified_on() = ToDate(*row.dates[kBaselineDate]);
  } else if (row.dates[kDateIdentified]) {
    *o->mutable_need_identified_on() = ToDate(*row.dates[kDateIdentified]);
  }
  if (v[kOutcomeAchieved] == "Y" && row.dates[kOutcomeDate]) {
    *o->mutable_achieved_on() = ToDate(*row.dates[kOutcomeDate]);
  }
  if (v[kSustained6m] == "Y" && row.dates[kSustainmentCheckDate]) {
    *o->mutable_sustained_until() = ToDate(*row.dates[kSustainmentCheckDate]);
  }

  // Everything the payload has no field for, as labelled lines.
  std::string ev;
  AppendLine(&ev, "headline_outcome", row.headline.name);
  AppendLine(&ev, "headline_code", row.headline.code);
  AppendLine(&ev, "claim_window", v[kClaimWindow]);
  AppendLine(&ev, "claim_status", v[kClaimStatus]);
  AppendLine(&ev, "la_code", v[kLaCode]);
  AppendLine(&ev, "role_in_family", v[kRoleInFamily]);
  AppendLine(&ev, "lead_practitioner_ref", v[kLeadPractitionerRef]);
  AppendLine(&ev, "lead_practitioner_service", v[kLeadPractitionerService]);
  for (int c :
       {kDateIdentified, kWholeFamilyAssessmentDate, kFamilyPlanDate,
        kCaseClosureDate, kSustainmentCheckDate, kBaselineDate, kOutcomeDate}) {
    if (row.dates[c]) AppendLine(&ev, kColumnNames[c], IsoDate(*row.dates[c]));
  }
  AppendLine(&ev, "baseline_value", v[kBaselineValue]);
  AppendLine(&ev, "baseline_number", NumberOf(v[kBaselineValue]));
  AppendLine(&ev, "outcome_value", v[kOutcomeValue]);
  AppendLine(&ev, "outcome_number", NumberOf(v[kOutcomeValue]));
  AppendLine(&ev, "outcome_achieved", v[kOutcomeAchieved]);
  AppendLine(&ev, "sustained_6m_after_closure", v[kSustained6m]);
  AppendLine(&ev, "notes", v[kNotes]);
  for (const auto& [name, value] : row.extras) {
    AppendLine(&ev, "extra." + name, value);
  }
  o->set_evidence(ev);

  auto* p = o->mutable_person();
  p->set_person_id(v[kPersonRef]);
  p->mutable_legal_name()->set_given(v[kForename]);
  p->mutable_legal_name()->set_family(v[kSurname]);
  if (row.dates[kDob]) *p->mutable_date_of_birth() = ToDate(*row.dates[kDob]);
  if (!v[kSex].empty()) {
    auto* sex = p->mutable_sex();
    sex->set_system("urn:ehx:code:sf:sex");
    sex->set_code(v[kSex]);
    sex->set_original_value(v[kSex]);
  }
  using ehxpb::cases::v1::VerificationStatus;
  if (row.has_nhs) {
    auto* id = p->add_identifiers();
    id->set_system("https://fhir.nhs.uk/Id/nhs-number");
    id->set_original_value(v[kNhsNumber]);
    if (row.nhs.check == NhsCheck::kValid) {
      id->set_value(row.nhs.normalized);
      id->set_verification(ehxpb::cases::v1::VERIFICATION_STATUS_UNVERIFIED);
    } else {
      // Kept as raw text, marked invalid: never matched, never repaired.
      id->set_value(v[kNhsNumber]);
      id->set_verification(ehxpb::cases::v1::VERIFICATION_STATUS_INVALID);
    }
  }
  if (row.has_upn) {
    auto* id = p->add_identifiers();
    id->set_system("urn:ehx:id:upn");
    id->set_original_value(v[kUpn]);
    switch (row.upn.check) {
      case UpnCheck::kValidPermanent:
        id->set_value(row.upn.normalized);
        id->set_verification(ehxpb::cases::v1::VERIFICATION_STATUS_UNVERIFIED);
        break;
      case UpnCheck::kValidTemporary:
        id->set_value(row.upn.normalized);
        id->set_verification(ehxpb::cases::v1::VERIFICATION_STATUS_TEMPORARY);
        break;
      default:
        id->set_value(v[kUpn]);
        id->set_verification(ehxpb::cases::v1::VERIFICATION_STATUS_INVALID);
        break;
    }
  }

  // Idempotency: row key + content version. The version is FNV-1a over
  // every value and extra, each followed by 0x1f, fed straight from the row:
  // the same bytes (so the same keys) as hashing them joined, without
  // building the joined copy for every row (perf: a malloc and a copy of
  // the whole row each).
  uint64_t version = 1469598103934665603ull;
  auto feed = [&version](std::string_view s) {
    for (unsigned char c : s) {
      version ^= c;
      version *= 1099511628211ull;
    }
  };
  for (const std::string& value : v) {
    feed(value);
    feed("\x1f");
  }
  for (const auto& [name, value] : row.extras) {
    feed(name);
    feed("=");
    feed(value);
    feed("\x1f");
  }
  const std::string need = CollapseSpaces(v[kFamilyNeed]);
  env.set_idempotency_key(
      "sf-" + SafeKeyPart(v[kFamilyRef], 24) + "-" +
      Hex(HashParts({v[kFamilyRef], v[kPersonRef], row.headline.name, need}),
          16) +
      "-v" + Hex(version, 12));
  return env;
}

IngestReport IngestTracker(const std::string& input_name,
                           std::string_view bytes,
                           const TrackerOptions& options,
                           const MapOptions& map_options,
                           const PublishFn& publish, TrackerFile* parsed) {
  IngestReport report;
  report.set_input_name(input_name);
  TrackerFile file = ParseTracker(input_name, bytes, options);
  for (const Issue& issue : file.file_issues) {
    AddRecordError(&report, "file", issue);
  }
  if (!file.file_error.empty()) {
    report.set_input_rejected(true);
    report.set_input_error(file.file_error + ": " + file.file_error_message);
    if (parsed != nullptr) *parsed = std::move(file);
    return report;
  }
  report.set_records_total(static_cast<int32_t>(file.rows.size()));
  for (const FamilyResult& fam : file.families) {
    for (const Issue& issue : fam.issues) {
      if (issue.severity == Severity::kError) continue;  // on each row
      AddRecordError(&report, "family " + fam.family_ref, issue);
    }
  }
  int failed = 0;
  for (const TrackerRow& row : file.rows) {
    const std::string position = RowPosition(row);
    for (const Issue& issue : row.issues) {
      AddRecordError(&report, position, issue);
    }
    if (row.rejected) {
      ++failed;
      continue;
    }
    publish(MapRow(row, map_options), position, &report);
  }
  report.set_records_failed(report.records_failed() + failed);
  if (parsed != nullptr) *parsed = std::move(file);
  return report;
}

std::string ReportJson(const std::string& file_name, std::string_view bytes,
                       const TrackerFile& file,
                       const std::string& processed_at) {
  std::string out = "{\"file\":";
  JsonString(file_name, &out);
  out += ",\"fileSha256\":";
  JsonString(Sha256Hex(bytes), &out);
  out += ",\"processedAt\":";
  JsonString(processed_at, &out);
  out += ",\"layout\":\"sf-outcome-tracker/1\",\"extractTime\":";
  if (file.extract_time.empty()) {
    out += "null";
  } else {
    const std::string& t = file.extract_time;
    JsonString(t.substr(0, 4) + "-" + t.substr(4, 2) + "-" + t.substr(6, 2) +
                   "T" + t.substr(9, 2) + ":" + t.substr(11, 2) + ":" +
                   t.substr(13, 2) + "Z",
               &out);
  }
  bool any_rejected_row = false;
  for (const TrackerRow& r : file.rows) any_rejected_row |= r.rejected;
  out += ",\"result\":";
  out += !file.file_error.empty() ? "\"rejected\""
         : any_rejected_row       ? "\"accepted_with_errors\""
                                  : "\"accepted\"";
  std::vector<Issue> file_issues = file.file_issues;
  if (!file.file_error.empty()) {
    file_issues.push_back(
        Issue{Severity::kError, file.file_error, "", file.file_error_message});
  }
  out += ",\"fileIssues\":";
  IssuesJson(file_issues, &out);
  out += ",\"families\":[";
  for (size_t i = 0; i < file.families.size(); ++i) {
    const FamilyResult& f = file.families[i];
    if (i) out.push_back(',');
    out += "{\"family_ref\":";
    JsonString(f.family_ref, &out);
    out += ",\"status\":";
    out += f.rejected ? "\"rejected\"" : "\"accepted\"";
    out += ",\"claimCheck\":{\"result\":";
    out += f.claim_passes ? "\"passes\"" : "\"fails\"";
    out += ",\"reasons\":[";
    for (size_t k = 0; k < f.claim_fail_reasons.size(); ++k) {
      if (k) out.push_back(',');
      JsonString(f.claim_fail_reasons[k], &out);
    }
    out += "]},\"issues\":";
    IssuesJson(f.issues, &out);
    out += "}";
  }
  out += "],\"rows\":[";
  bool first = true;
  for (const TrackerRow& r : file.rows) {
    if (r.issues.empty()) continue;
    if (!first) out.push_back(',');
    first = false;
    out += "{\"record\":" + std::to_string(r.record) +
           ",\"line\":" + std::to_string(r.line) + ",\"family_ref\":";
    JsonString(r.v[kFamilyRef], &out);
    out += ",\"person_ref\":";
    JsonString(r.v[kPersonRef], &out);
    out += ",\"status\":";
    out += r.rejected ? "\"rejected\"" : "\"accepted\"";
    out += ",\"issues\":";
    IssuesJson(r.issues, &out);
    out += "}";
  }
  out += "]}\n";
  return out;
}

}  // namespace ehx::adapters::supporting_families
