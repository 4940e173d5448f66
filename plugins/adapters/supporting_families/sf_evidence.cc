#include "sf_evidence.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "absl/time/civil_time.h"
#include "sf_csv.h"

namespace ehx::adapters::supporting_families {
namespace {

using ehx::sdk::Code;
using ehx::sdk::Status;
using ehxpb::exchange::v1::Delivery;

constexpr const char* kEvidenceColumns[kEvidenceColumnCount] = {
    "la_code",
    "family_ref",
    "person_ref",
    "evidence_id",
    "evidence_type",
    "headline_outcome",
    "period_kind",
    "period_start",
    "period_end",
    "source",
    "source_extract_date",
    "match_method",
    "school_urn",
    "school_laestab",
    "academic_year",
    "sessions_possible",
    "sessions_attended",
    "sessions_authorised_absence",
    "sessions_unauthorised_absence",
    "attendance_pct",
    "persistent_absence",
    "severe_absence",
    "asb_role",
    "asb_incident_count",
    "asb_highest_intervention",
    "data_quality_flags",
    "generated_at",
};
enum {
  eLa,
  eFamily,
  ePerson,
  eId,
  eType,
  eHeadline,
  ePeriodKind,
  ePeriodStart,
  ePeriodEnd,
  eSource,
  eSourceDate,
  eMatch,
  eUrn,
  eLaEstab,
  eYear,
  ePossible,
  eAttended,
  eAuthorised,
  eUnauthorised,
  ePct,
  ePersistent,
  eSevere,
  eAsbRole,
  eAsbCount,
  eAsbIntervention,
  eFlags,
  eGenerated,
};

constexpr const char* kInterventions[] = {"none",
                                          "verbal_warning",
                                          "warning_letter",
                                          "acceptable_behaviour_agreement",
                                          "community_protection_warning",
                                          "community_protection_notice",
                                          "civil_injunction",
                                          "criminal_behaviour_order"};

uint64_t KeyOf(std::string_view kind, std::string_view value) {
  return HashParts({"ehx-sf-index", kind, value});
}

Ymd DateOfSeconds(int64_t seconds) {
  const absl::CivilDay d = absl::CivilDay(1970, 1, 1) + seconds / 86400 -
                           (seconds < 0 && seconds % 86400 ? 1 : 0);
  return Ymd{static_cast<int>(d.year()), d.month(), d.day()};
}

std::optional<Ymd> FromProto(const ehxpb::cases::v1::Date& d) {
  if (!IsValidDate(d.year(), d.month(), d.day())) return std::nullopt;
  return Ymd{d.year(), d.month(), d.day()};
}

// The tracker person `person` is, by a valid NHS number or a valid
// permanent UPN (in that order); `method` says which.
const TrackerPerson* Match(const ehxpb::cases::v1::Person& person,
                           const TrackerIndex& index, std::string* method) {
  using ehxpb::cases::v1::VerificationStatus;
  for (const auto& id : person.identifiers()) {
    if (id.verification() == ehxpb::cases::v1::VERIFICATION_STATUS_INVALID ||
        id.verification() == ehxpb::cases::v1::VERIFICATION_STATUS_TEMPORARY) {
      continue;
    }
    if (id.system() == "https://fhir.nhs.uk/Id/nhs-number" ||
        id.system() == "http://fhir.nhs.net/Id/nhs-number") {
      NhsNumber n = CheckNhsNumber(id.value());
      if (n.check != NhsCheck::kValid) continue;
      if (const TrackerPerson* p = index.FindByNhs(n.normalized)) {
        *method = "nhs_number";
        return p;
      }
    }
  }
  for (const auto& id : person.identifiers()) {
    if (id.system() != "urn:ehx:id:upn" ||
        id.verification() == ehxpb::cases::v1::VERIFICATION_STATUS_INVALID ||
        id.verification() == ehxpb::cases::v1::VERIFICATION_STATUS_TEMPORARY) {
      continue;
    }
    Upn u = CheckUpn(id.value());
    if (u.check != UpnCheck::kValidPermanent) continue;
    if (const TrackerPerson* p = index.FindByUpn(u.normalized)) {
      *method = "upn";
      return p;
    }
  }
  return nullptr;
}

bool InScope(const TrackerPerson& p) {
  return p.claim_status == "in_progress" || p.claim_status == "claimable";
}

// "key: value" lines of an evidence text.
std::map<std::string, std::string> KeyValues(std::string_view text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    out[std::string(Trim(line.substr(0, colon)))] =
        std::string(Trim(line.substr(colon + 1)));
  }
  return out;
}

std::string Pct(int attended, int possible) {
  if (possible <= 0) return "";
  // 100 * attended / possible to one decimal, rounded half up.
  const int64_t tenths =
      (int64_t{2000} * attended + possible) / (int64_t{2} * possible);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10);
}

int AgeOn(const Ymd& dob, const Ymd& on) {
  int age = on.year - dob.year;
  if (std::make_pair(on.month, on.day) < std::make_pair(dob.month, dob.day)) {
    --age;
  }
  return age;
}

Status AttendanceRows(const Delivery& delivery, const TrackerIndex& index,
                      const std::string& la_code,
                      std::vector<EvidenceRow>* rows) {
  const auto& env = delivery.envelope();
  const auto& a = env.attendance_summary();
  std::string method;
  const TrackerPerson* p = Match(a.pupil(), index, &method);
  if (p == nullptr) {
    return Status(Code::kNotFound,
                  "no_tracker_person: the pupil matches no "
                  "tracker person by a valid identifier");
  }
  if (!InScope(*p)) {
    return Status(Code::kNotFound,
                  "family_not_in_scope: claim_status is not in_progress or "
                  "claimable");
  }
  const std::string& year = a.academic_year();
  if (year.size() != 7 || !AllDigits(year.substr(0, 4)) || year[4] != '/' ||
      !AllDigits(year.substr(5))) {
    return Status(Code::kInvalidArgument,
                  "attendance_summary.academic_year must be YYYY/YY");
  }
  const int first_year = std::stoi(year.substr(0, 4));
  const Ymd extract = DateOfSeconds(env.occurred_at().seconds());
  std::optional<Ymd> start = FromProto(a.period_start());
  if (!start) start = Ymd{first_year, 9, 1};
  Ymd end = std::min(extract, Ymd{first_year + 1, 7, 31});
  const std::string source = "school_mis";
  EvidenceRow row;
  row[eLa] = la_code.empty() ? p->la_code : la_code;
  row[eFamily] = p->family_ref;
  row[ePerson] = p->person_ref;
  row[eId] =
      Uuid5("school_attendance|" + p->family_ref + "|" + p->person_ref +
            "|academic_year|" + year + "|" + a.school_urn() + "|" + source);
  row[eType] = "school_attendance";
  row[eHeadline] = HeadlineName(1);
  row[ePeriodKind] = "academic_year";
  row[ePeriodStart] = IsoDate(*start);
  row[ePeriodEnd] = IsoDate(end);
  row[eSource] = source;
  row[eSourceDate] = IsoDate(extract);
  row[eMatch] = method;
  row[eUrn] = a.school_urn();
  row[eLaEstab] = a.school_la_estab();
  row[eYear] = year;
  const int possible = a.sessions_possible();
  const int attended = a.sessions_attended();
  row[ePossible] = std::to_string(possible);
  row[eAttended] = std::to_string(attended);
  row[eAuthorised] = std::to_string(a.sessions_authorised_absence());
  row[eUnauthorised] = std::to_string(a.sessions_unauthorised_absence());
  row[ePct] = Pct(attended, possible);
  if (!row[ePct].empty()) {
    const int64_t tenths =
        (int64_t{2000} * attended + possible) / (int64_t{2} * possible);
    row[ePersistent] = tenths < 900 ? "Y" : "N";
    row[eSevere] = tenths < 500 ? "Y" : "N";
  }
  if (attended + a.sessions_authorised_absence() +
          a.sessions_unauthorised_absence() !=
      possible) {
    row[eFlags] = "sessions_do_not_balance";
  }
  row[eGenerated] = IsoDateTime(env.accepted_at().seconds());
  rows->push_back(std::move(row));
  return Status();
}

Status AsbRows(const Delivery& delivery, const TrackerIndex& index,
               const std::string& la_code, std::vector<EvidenceRow>* rows) {
  const auto& env = delivery.envelope();
  const auto& o = env.outcome_evidence();
  std::string source = o.evidence_source();
  for (char& c : source)
    c = c == ' ' ? '_' : static_cast<char>(std::tolower(c));
  if (o.area() != ehxpb::cases::v1::OUTCOME_AREA_DIVERTED_FROM_CRIME ||
      (source != "police" && source != "community_safety")) {
    return Status(Code::kInvalidArgument,
                  "only police/community safety evidence for 'Families "
                  "diverted from crime' is rendered");
  }
  std::map<std::string, std::string> kv = KeyValues(o.evidence());
  std::string method;
  const TrackerPerson* p = Match(o.person(), index, &method);
  if (p == nullptr && kv["match_method"] == "reviewed") {
    p = index.FindByRef(o.family_id(), o.person().person_id());
    method = "reviewed";
  }
  if (p == nullptr) {
    return Status(Code::kNotFound,
                  "no_tracker_person: the person matches no "
                  "tracker person");
  }
  if (!InScope(*p)) {
    return Status(Code::kNotFound,
                  "family_not_in_scope: claim_status is not in_progress or "
                  "claimable");
  }
  const std::string role = kv["asb_role"];
  if (role != "perpetrator" && role != "victim") {
    return Status(Code::kInvalidArgument,
                  "outcome_evidence.evidence: asb_role must be perpetrator or "
                  "victim");
  }
  const std::string count = kv["asb_incident_count"];
  if (!AllDigits(count)) {
    return Status(Code::kInvalidArgument,
                  "outcome_evidence.evidence: asb_incident_count must be an "
                  "integer >= 0");
  }
  std::string intervention =
      role == "perpetrator" ? kv["asb_highest_intervention"] : "none";
  if (intervention.empty()) intervention = "none";
  if (std::find(std::begin(kInterventions), std::end(kInterventions),
                intervention) == std::end(kInterventions)) {
    return Status(
        Code::kInvalidArgument,
        "outcome_evidence.evidence: unknown asb_highest_intervention");
  }
  const int64_t generated_s = env.accepted_at().seconds();
  const Ymd generated = DateOfSeconds(generated_s);
  const std::string kind = kv["period_kind"];
  std::optional<Ymd> start, end;
  if (!kv["period_start"].empty() || !kv["period_end"].empty()) {
    DateValue s = ParseDateValue(kv["period_start"]);
    DateValue e = ParseDateValue(kv["period_end"]);
    if (s.status != DateValue::Status::kOk ||
        e.status != DateValue::Status::kOk) {
      return Status(Code::kInvalidArgument,
                    "outcome_evidence.evidence: period_start/period_end must "
                    "be dates");
    }
    start = s.date;
    end = e.date;
  } else if (p->date_identified) {
    const Ymd id = *p->date_identified;
    if (kind == "baseline") {
      start = AddMonths(id, -12);
      end = AddDays(id, -1);
    } else if (kind == "intervention") {
      start = id;
      end = p->case_closure ? *p->case_closure : generated;
    } else if (kind == "sustainment" && p->case_closure) {
      start = AddDays(*p->case_closure, 1);
      end = std::min(AddMonths(*p->case_closure, 6), generated);
    }
  }
  if ((kind != "baseline" && kind != "intervention" && kind != "sustainment") ||
      !start || !end) {
    return Status(Code::kInvalidArgument,
                  "outcome_evidence.evidence: period_kind must be baseline, "
                  "intervention or sustainment (sustainment only once the "
                  "case is closed)");
  }
  if (auto dob = FromProto(o.person().date_of_birth());
      dob && AgeOn(*dob, *end) < 10) {
    return Status(Code::kNotFound,
                  "under_10: no ASB evidence for a person under 10");
  }
  EvidenceRow row;
  row[eLa] = la_code.empty() ? p->la_code : la_code;
  row[eFamily] = p->family_ref;
  row[ePerson] = p->person_ref;
  row[eId] = Uuid5("asb|" + p->family_ref + "|" + p->person_ref + "|" + kind +
                   "|" + role + "|" + source);
  row[eType] = "asb";
  row[eHeadline] = HeadlineName(7);
  row[ePeriodKind] = kind;
  row[ePeriodStart] = IsoDate(*start);
  row[ePeriodEnd] = IsoDate(*end);
  row[eSource] = source;
  row[eSourceDate] = IsoDate(DateOfSeconds(env.occurred_at().seconds()));
  row[eMatch] = method;
  row[eAsbRole] = role;
  row[eAsbCount] = std::to_string(std::stoll(count.substr(0, 9)));
  row[eAsbIntervention] = intervention;
  row[eGenerated] = IsoDateTime(generated_s);
  rows->push_back(std::move(row));
  return Status();
}

}  // namespace

const char* EvidenceColumnName(int col) {
  return col >= 0 && col < kEvidenceColumnCount ? kEvidenceColumns[col] : "";
}

void TrackerIndex::AddFile(const TrackerFile& file) {
  for (const FamilyResult& fam : file.families) {
    if (fam.rejected) continue;
    for (size_t i : fam.rows) {
      const TrackerRow& r = file.rows[i];
      if (r.rejected) continue;
      TrackerPerson p;
      p.la_code = r.v[kLaCode];
      p.family_ref = r.v[kFamilyRef];
      p.person_ref = r.v[kPersonRef];
      p.claim_status = r.v[kClaimStatus];
      p.date_identified = r.dates[kDateIdentified];
      p.case_closure = r.dates[kCaseClosureDate];
      by_key_[KeyOf("ref", p.family_ref + "\x1f" + p.person_ref)] = p;
      if (r.has_nhs && r.nhs.check == NhsCheck::kValid) {
        by_key_[KeyOf("nhs", r.nhs.normalized)] = p;
      }
      if (r.has_upn && r.upn.check == UpnCheck::kValidPermanent) {
        by_key_[KeyOf("upn", r.upn.normalized)] = p;
      }
    }
  }
}

const TrackerPerson* TrackerIndex::FindByNhs(std::string_view nhs) const {
  auto it = by_key_.find(KeyOf("nhs", nhs));
  return it == by_key_.end() ? nullptr : &it->second;
}

const TrackerPerson* TrackerIndex::FindByUpn(std::string_view upn) const {
  auto it = by_key_.find(KeyOf("upn", upn));
  return it == by_key_.end() ? nullptr : &it->second;
}

const TrackerPerson* TrackerIndex::FindByRef(
    std::string_view family_ref, std::string_view person_ref) const {
  auto it = by_key_.find(
      KeyOf("ref", std::string(family_ref) + "\x1f" + std::string(person_ref)));
  return it == by_key_.end() ? nullptr : &it->second;
}

std::string TrackerIndex::Serialize() const {
  std::string out;
  char key[24];
  for (const auto& [k, p] : by_key_) {
    std::snprintf(key, sizeof(key), "%016llx",
                  static_cast<unsigned long long>(k));
    out += key;
    for (const std::string* s :
         {&p.la_code, &p.family_ref, &p.person_ref, &p.claim_status}) {
      out += '\t' + *s;
    }
    out += '\t' + (p.date_identified ? IsoDate(*p.date_identified) : "");
    out += '\t' + (p.case_closure ? IsoDate(*p.case_closure) : "");
    out += '\n';
  }
  return out;
}

void TrackerIndex::Deserialize(std::string_view text) {
  by_key_.clear();
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    size_t start = 0;
    while (true) {
      size_t tab = line.find('\t', start);
      f.push_back(line.substr(start, tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    if (f.size() != 7 || f[0].size() != 16) continue;
    TrackerPerson p{f[1], f[2], f[3], f[4], std::nullopt, std::nullopt};
    if (auto d = ParseDateValue(f[5]); d.status == DateValue::Status::kOk) {
      p.date_identified = d.date;
    }
    if (auto d = ParseDateValue(f[6]); d.status == DateValue::Status::kOk) {
      p.case_closure = d.date;
    }
    by_key_[std::stoull(f[0], nullptr, 16)] = p;
  }
}

Status EvidenceRowsFor(const Delivery& delivery, const TrackerIndex& index,
                       const std::string& la_code,
                       std::vector<EvidenceRow>* rows) {
  const auto& env = delivery.envelope();
  switch (env.payload_case()) {
    case ehxpb::exchange::v1::Envelope::kAttendanceSummary:
      return AttendanceRows(delivery, index, la_code, rows);
    case ehxpb::exchange::v1::Envelope::kOutcomeEvidence:
      return AsbRows(delivery, index, la_code, rows);
    default:
      return Status(Code::kInvalidArgument,
                    "unsupported_event_type: the evidence file carries "
                    "attendance summaries and ASB outcome evidence only");
  }
}

std::string EvidenceCsv(const std::vector<EvidenceRow>& rows) {
  std::string out = "\xEF\xBB\xBF";
  for (int c = 0; c < kEvidenceColumnCount; ++c) {
    if (c) out.push_back(',');
    out += kEvidenceColumns[c];
  }
  out += "\r\n";
  for (const EvidenceRow& row : rows) {
    for (int c = 0; c < kEvidenceColumnCount; ++c) {
      if (c) out.push_back(',');
      AppendCsvField(row[c], &out);
    }
    out += "\r\n";
  }
  return out;
}

std::vector<EvidenceRow> ParseEvidenceCsv(std::string_view text) {
  std::vector<EvidenceRow> rows;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  CsvParse csv = ParseCsv(text);
  if (!csv.error_rule.empty()) return rows;
  for (size_t i = 1; i < csv.records.size(); ++i) {
    if (csv.records[i].fields.size() != kEvidenceColumnCount) continue;
    EvidenceRow row;
    std::copy(csv.records[i].fields.begin(), csv.records[i].fields.end(),
              row.begin());
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string EvidenceFileName(const std::string& la_code, int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d%02d%02dT%02d%02d%02dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return "sf-evidence-" + (la_code.empty() ? std::string("000") : la_code) +
         "-" + buf + ".csv";
}

std::string IsoDateTime(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf;
}

std::string Uuid5(std::string_view name) {
  // Namespace: a fixed UUID for ehx Supporting Families evidence.
  static constexpr unsigned char kNamespace[16] = {
      0x5c, 0x1d, 0x7e, 0x2a, 0x4b, 0x93, 0x4f, 0x0e,
      0x9a, 0x61, 0x3d, 0x27, 0xc8, 0x40, 0x11, 0xe5};
  std::string input(reinterpret_cast<const char*>(kNamespace), 16);
  input.append(name);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), md, &len, EVP_sha1(), nullptr);
  md[6] = (md[6] & 0x0f) | 0x50;
  md[8] = (md[8] & 0x3f) | 0x80;
  char buf[40];
  std::snprintf(buf, sizeof(buf),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x"
                "%02x%02x",
                md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8],
                md[9], md[10], md[11], md[12], md[13], md[14], md[15]);
  return buf;
}

}  // namespace ehx::adapters::supporting_families
