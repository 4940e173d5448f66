// Raise adapter: contract conformance (section 14 checklist), tricky
// inputs, idempotency, golden round trips, and every produced envelope
// checked by the gateway's own validator.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "ehx/exchange/v1/envelope.pb.h"
#include "raise_export.h"
#include "raise_import.h"
#include "raise_ingest.h"
#include "raise_json.h"
#include "raise_values.h"
#include "validate/validate.h"

namespace ehx::adapters::raise {
namespace {

namespace fs = std::filesystem;
namespace cv1 = ::ehxpb::cases::v1;
namespace ex = ::ehxpb::exchange::v1;

const fs::path kFixtures =
    fs::path(EHX_SOURCE_DIR) / "tests/adapters/raise/fixtures";
constexpr char kExample[] = "raise-export-20260330T010005Z.json";
constexpr char kTricky[] = "raise-export-20261026T020005Z.json";

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ExportResult Parse(const std::string& name) {
  ExportOptions o;
  o.file_name = name;
  o.la_code = "801";
  return ParseExport(Read(kFixtures / name), o);
}

const RecordReport* Record(const ExportResult& r, const std::string& type,
                           int index) {
  for (const auto& rec : r.records) {
    if (rec.record_type == type && rec.index == index) return &rec;
  }
  return nullptr;
}

bool HasIssue(const RecordReport* r, const std::string& code,
              const std::string& path) {
  if (r == nullptr) return false;
  for (const auto& i : r->issues) {
    if (i.code == code && i.path == path) return true;
  }
  return false;
}

const CaseOutput* Case(const ExportResult& r, const std::string& id) {
  for (const auto& c : r.cases) {
    if (c.case_id == id) return &c;
  }
  return nullptr;
}

const ex::Envelope* Event(const CaseOutput* c, ex::EventType t, int n = 0) {
  if (c == nullptr) return nullptr;
  for (const auto& e : c->events) {
    if (e.envelope.event_type() == t && n-- == 0) return &e.envelope;
  }
  return nullptr;
}

const cv1::Person* FindPerson(const cv1::EarlyHelpCase& c,
                              const std::string& id) {
  for (const auto& p : c.children()) {
    if (p.person_id() == id) return &p;
  }
  for (const auto& p : c.family_members()) {
    if (p.person_id() == id) return &p;
  }
  return nullptr;
}

const cv1::Identifier* FindId(const cv1::Person& p, const std::string& sys) {
  for (const auto& i : p.identifiers()) {
    if (i.system() == sys) return &i;
  }
  return nullptr;
}

std::string EnvelopesJson(const ExportResult& r) {
  std::string out = "[\n";
  google::protobuf::util::JsonPrintOptions opt;
  opt.preserve_proto_field_names = true;
  for (const auto& c : r.cases) {
    for (const auto& e : c.events) {
      std::string j;
      EXPECT_TRUE(
          google::protobuf::util::MessageToJsonString(e.envelope, &j, opt)
              .ok());
      out += j + "\n";
    }
  }
  return out + "]\n";
}

// Compares with fixtures/<name>; EHX_UPDATE_GOLDEN=1 rewrites it.
void ExpectGolden(const std::string& name, const std::string& actual) {
  const fs::path p = kFixtures / name;
  if (std::getenv("EHX_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(p, std::ios::binary) << actual;
  }
  EXPECT_EQ(Read(p), actual)
      << "golden " << name << " differs (EHX_UPDATE_GOLDEN=1 to refresh)";
}

// ---------------------------------------------------------------------------

TEST(RaiseValues, NhsNumbers) {
  std::string n;
  EXPECT_EQ(CheckNhsNumber("9990000018", &n), NhsNumberResult::kValid);
  EXPECT_EQ(CheckNhsNumber("999 000 0026", &n), NhsNumberResult::kReformatted);
  EXPECT_EQ(n, "9990000026");
  EXPECT_EQ(CheckNhsNumber("999-000-0034", &n), NhsNumberResult::kReformatted);
  EXPECT_EQ(CheckNhsNumber("9990000019", &n), NhsNumberResult::kInvalid);
  for (char x = '0'; x <= '9'; ++x) {  // stem 999000014 gives check 10
    EXPECT_EQ(CheckNhsNumber(std::string("999000014") + x, &n),
              NhsNumberResult::kInvalid);
  }
  EXPECT_EQ(CheckNhsNumber("0000000000", &n), NhsNumberResult::kPlaceholder);
  EXPECT_EQ(CheckNhsNumber("999000001", &n), NhsNumberResult::kInvalid);
  EXPECT_EQ(CheckNhsNumber("99900000I8", &n), NhsNumberResult::kInvalid);
}

TEST(RaiseValues, Upns) {
  EXPECT_TRUE(CheckUpn("B801200005001").valid);
  EXPECT_FALSE(CheckUpn("B801200005001").temporary);
  const UpnResult t = CheckUpn("B80120000501T");
  EXPECT_TRUE(t.valid);
  EXPECT_TRUE(t.temporary);
  EXPECT_TRUE(t.known_la);
  EXPECT_FALSE(CheckUpn("C80120000501T").valid);
  const UpnResult lower = CheckUpn("b80120000501t");
  EXPECT_TRUE(lower.valid);
  EXPECT_TRUE(lower.reformatted);
  EXPECT_EQ(lower.normalised, "B80120000501T");
  EXPECT_FALSE(CheckUpn("B8012000050").valid);
  EXPECT_FALSE(CheckUpn("I801200005001").valid);
  EXPECT_FALSE(IsKnownLaCode("999"));
}

TEST(RaiseValues, DatesAreReadDayFirstAndNeverGuessed) {
  CivilDate d;
  EXPECT_EQ(ParseDate("04/01/2027", &d), DateForm::kUk);
  EXPECT_EQ(d.year, 2027);
  EXPECT_EQ(d.month, 1);
  EXPECT_EQ(d.day, 4);
  EXPECT_EQ(ParseDate("2028-02-29", &d), DateForm::kIso);
  EXPECT_EQ(ParseDate("2027-02-29", &d), DateForm::kInvalid);
  for (const char* bad : {"2026/01/14", "14-01-2026", "14 Jan 2026", "14/01/26",
                          "31/02/2026", "2026-13-01", ""}) {
    EXPECT_EQ(ParseDate(bad, &d), DateForm::kInvalid) << bad;
  }
  int precision = 0;
  EXPECT_TRUE(ParsePartialDate("2025-06", &d, &precision));
  EXPECT_EQ(precision, 2);
}

TEST(RaiseValues, LocalTimesFollowSection44) {
  EXPECT_TRUE(LondonZoneFromTzdata()) << "tzdata missing: fallback rule used";
  Instant t;
  EXPECT_EQ(ParseDateTime("2026-01-14T02:00:00", &t), TimeForm::kLocalUnique);
  EXPECT_EQ(FormatUtc(t), "2026-01-14T02:00:00Z");
  EXPECT_EQ(ParseDateTime("2026-03-29T01:30:00", &t), TimeForm::kLocalGap);
  EXPECT_EQ(FormatUtc(t), "2026-03-29T01:30:00Z");
  EXPECT_EQ(ParseDateTime("2026-10-25T01:30:00", &t), TimeForm::kLocalOverlap);
  EXPECT_EQ(FormatUtc(t), "2026-10-25T00:30:00Z");
  EXPECT_EQ(ParseDateTime("2026-07-01T09:00:00+01:00", &t), TimeForm::kOffset);
  EXPECT_EQ(FormatUtc(t), "2026-07-01T08:00:00Z");
  EXPECT_EQ(ParseDateTime("2026-07-01T09:00:00.123456789Z", &t),
            TimeForm::kOffset);
  EXPECT_EQ(t.nanos, 123456789);
  for (const char* bad :
       {"2026-07-01 09:00:00Z", "2026-07-01T09:00Z", "2026-07-01t09:00:00z",
        "2026-02-30T00:00:00Z", "2026-07-01T09:00:00+1:00"}) {
    EXPECT_EQ(ParseDateTime(bad, &t), TimeForm::kInvalid) << bad;
  }
}

TEST(RaiseValues, OneWorkingDayDeadline) {
  Instant fri;
  ParseDateTime("2026-10-16T11:20:00+01:00", &fri);  // Friday
  EXPECT_EQ(FormatUtc(NextWorkingDayDeadline(fri)), "2026-10-19T10:20:00Z");
  Instant before_easter;
  ParseDateTime("2026-04-02T10:00:00+01:00", &before_easter);  // Thursday
  // Good Friday 3 April and Easter Monday 6 April 2026: Tuesday 7 April.
  EXPECT_EQ(FormatUtc(NextWorkingDayDeadline(before_easter)),
            "2026-04-07T09:00:00Z");
}

TEST(RaiseJson, DuplicatesDepthUtf8AndSurrogates) {
  StrictJson j = ParseStrictJson(R"({"a": {"b": 1, "b": 2}})");
  ASSERT_TRUE(j.file_error.empty());
  ASSERT_EQ(j.duplicate_members.size(), 1u);
  EXPECT_EQ(j.duplicate_members[0], "$.a.b");
  std::string deep(40, '[');
  deep += std::string(40, ']');
  EXPECT_EQ(ParseStrictJson(deep).file_error, "too_deep");
  EXPECT_EQ(ParseStrictJson("{\"a\": \"\xC3\x28\"}").file_error,
            "file_not_utf8");
  EXPECT_EQ(ParseStrictJson("{\"a\": ").file_error, "file_not_json");
  StrictJson s =
      ParseStrictJson(R"({"x": ["ok \ud83d\ude00", "bad \ud800!"]})");
  ASSERT_TRUE(s.file_error.empty());
  EXPECT_EQ(s.root["x"][0].get<std::string>(), "ok \xF0\x9F\x98\x80");
  EXPECT_EQ(s.root["x"][1].get<std::string>(), "bad \xEF\xBF\xBD!");
  ASSERT_EQ(s.invalid_unicode.size(), 1u);
  EXPECT_EQ(s.invalid_unicode[0], "$.x[1]");
  StrictJson bom = ParseStrictJson("\xEF\xBB\xBF{}");
  EXPECT_TRUE(bom.file_error.empty());
}

// Checklist 4, 5, 6, 3 on the contract's own example.
TEST(RaiseExport, ContractExampleIsAcceptedAndFlagged) {
  const ExportResult r = Parse(kExample);
  ASSERT_EQ(r.file_error, "");
  ASSERT_EQ(r.cases.size(), 1u);
  const RecordReport* c0 = Record(r, "case", 0);
  ASSERT_NE(c0, nullptr);
  EXPECT_EQ(c0->status, "accepted");
  EXPECT_TRUE(
      HasIssue(c0, "date_uk_format", "$.cases[0].consents[0].reviewDate"));
  EXPECT_TRUE(
      HasIssue(c0, "local_time_nonexistent", "$.cases[0].plan.lastModified"));
  EXPECT_TRUE(HasIssue(Record(r, "person", 1), "nhs_number_reformatted",
                       "$.people[1].nhsNumber"));
  EXPECT_TRUE(HasIssue(Record(r, "person", 0), "unknown_member",
                       "$.people[0].favouriteColour"));
  const CaseOutput* c = Case(r, "EH-2026-0100");
  const ex::Envelope* opened = Event(c, ex::EVENT_TYPE_CASE_OPENED);
  ASSERT_NE(opened, nullptr);
  // Contract 7.5: the unknown member is preserved with the record that
  // holds it (a person of the case) as raw JSON on every event of the case.
  for (const PlannedEvent& ev : c->events) {
    int found = 0;
    for (const auto& u : ev.envelope.unmapped()) {
      if (u.path() != "$.people[0].favouriteColour") continue;
      ++found;
      EXPECT_EQ(u.media_type(), "application/json");
      EXPECT_FALSE(u.raw().empty());
      EXPECT_EQ(u.raw().front(), '"') << "raw JSON of a string member";
    }
    EXPECT_EQ(found, 1) << ex::EventType_Name(ev.envelope.event_type());
  }
  const cv1::EarlyHelpCase& ehc = opened->case_opened();
  EXPECT_EQ(ehc.origin(), cv1::CASE_ORIGIN_STEP_DOWN);
  EXPECT_EQ(ehc.cin_episode().la_child_id(), "CS4471");
  EXPECT_EQ(ehc.cin_episode().reason_for_closure().code(), "RC9");
  // Unborn child: no date of birth, EDD kept, unborn.
  const cv1::Person* unborn = FindPerson(ehc, "P-1004");
  ASSERT_NE(unborn, nullptr);
  EXPECT_TRUE(unborn->unborn());
  EXPECT_EQ(unborn->expected_date_of_delivery().month(), 6);
  // Absent father: parental responsibility "unknown" stays UNKNOWN.
  bool father = false;
  for (const auto& rel : ehc.family().relationships()) {
    if (rel.person_id() == "P-1002") {
      father = true;
      EXPECT_EQ(rel.parental_responsibility(), cv1::YES_NO_UNKNOWN_UNKNOWN);
      EXPECT_EQ(rel.absent_parent_status(),
                cv1::ABSENT_PARENT_STATUS_WHEREABOUTS_UNKNOWN);
    }
  }
  EXPECT_TRUE(father);
  // Verified NHS number.
  const cv1::Identifier* nhs =
      FindId(*FindPerson(ehc, "P-1001"), "https://fhir.nhs.uk/Id/nhs-number");
  ASSERT_NE(nhs, nullptr);
  EXPECT_EQ(nhs->verification(), cv1::VERIFICATION_STATUS_VERIFIED);
  // Plan: gap time resolved to 01:30Z; open actions kept.
  const ex::Envelope* plan = Event(c, ex::EVENT_TYPE_PLAN_UPDATED);
  ASSERT_NE(plan, nullptr);
  EXPECT_EQ(FormatUtc({plan->occurred_at().seconds(), 0}),
            "2026-03-29T01:30:00Z");
  EXPECT_EQ(plan->plan().actions(1).status(), cv1::ACTION_STATUS_OVERDUE);
  // Only the held meeting is published; scheduled is not treated as held.
  EXPECT_NE(Event(c, ex::EVENT_TYPE_TAF_MEETING, 0), nullptr);
  EXPECT_EQ(Event(c, ex::EVENT_TYPE_TAF_MEETING, 1), nullptr);
  // CAF started + completed, full assessment; documents with failed and
  // pending OCR are still published (checklist 11).
  EXPECT_NE(Event(c, ex::EVENT_TYPE_CAF_NOTIFICATION, 1), nullptr);
  EXPECT_NE(Event(c, ex::EVENT_TYPE_ASSESSMENT), nullptr);
  EXPECT_NE(Event(c, ex::EVENT_TYPE_DOCUMENT_ATTACHED, 2), nullptr);
  ExpectGolden("raise-export-20260330T010005Z.envelopes.golden.json",
               EnvelopesJson(r));
}

// scope_agencies turns Raise's consent scope (services) into ehx agency
// ids, and the agencies of given consents into agencies_involved (whom the
// gateway routes the case and CAF to); unmapped scopes pass through.
TEST(RaiseExport, ConsentScopeMapsToAgenciesInvolved) {
  ExportOptions o;
  o.file_name = kExample;
  o.la_code = "801";
  o.scope_agencies = {{"school", "school-oakfield"},
                      {"health_visiting", "health-visiting"}};
  const ExportResult r = ParseExport(Read(kFixtures / kExample), o);
  ASSERT_EQ(r.file_error, "");
  const CaseOutput* c = Case(r, "EH-2026-0100");
  ASSERT_NE(c, nullptr);
  const ex::Envelope* opened = Event(c, ex::EVENT_TYPE_CASE_OPENED);
  ASSERT_NE(opened, nullptr);
  EXPECT_EQ(std::vector<std::string>(
                opened->case_opened().agencies_involved().begin(),
                opened->case_opened().agencies_involved().end()),
            (std::vector<std::string>{"health-visiting", "school-oakfield"}));
  const ex::Envelope* caf = Event(c, ex::EVENT_TYPE_CAF_NOTIFICATION);
  ASSERT_NE(caf, nullptr);
  EXPECT_EQ(caf->caf_notification().agencies_involved_size(), 2);
  const ex::Envelope* consent = Event(c, ex::EVENT_TYPE_CONSENT_UPDATED);
  ASSERT_NE(consent, nullptr);
  EXPECT_EQ(
      std::vector<std::string>(consent->consent().scope_agency_ids().begin(),
                               consent->consent().scope_agency_ids().end()),
      (std::vector<std::string>{"school-oakfield", "gp", "health-visiting",
                                "early-help"}));
  // Without the mapping nothing is invented.
  const ExportResult plain = Parse(kExample);
  const ex::Envelope* plain_opened =
      Event(Case(plain, "EH-2026-0100"), ex::EVENT_TYPE_CASE_OPENED);
  ASSERT_NE(plain_opened, nullptr);
  EXPECT_EQ(plain_opened->case_opened().agencies_involved_size(), 0);
}

TEST(RaiseExport, TrickyFileRejectsOnlyTheBadRecords) {
  const ExportResult r = Parse(kTricky);
  ASSERT_EQ(r.file_error, "");
  EXPECT_EQ(Record(r, "case", 0)->status, "accepted");
  EXPECT_EQ(Record(r, "case", 1)->status, "accepted");
  // Checklist 1: a case without openedDate is rejected, naming path + rule.
  EXPECT_EQ(Record(r, "case", 2)->status, "rejected");
  EXPECT_TRUE(HasIssue(Record(r, "case", 2), "required_field_missing",
                       "$.cases[2].openedDate"));
  // A child of focus without dateOfBirth/EDD: person and case rejected.
  EXPECT_EQ(Record(r, "person", 8)->status, "rejected");
  EXPECT_TRUE(HasIssue(Record(r, "person", 8), "required_field_missing",
                       "$.people[8].dateOfBirth"));
  EXPECT_EQ(Record(r, "case", 3)->status, "rejected");
  EXPECT_TRUE(HasIssue(Record(r, "case", 3), "unresolved_reference",
                       "$.cases[3].childrenOfFocus[0]"));
  ASSERT_EQ(r.cases.size(), 2u);

  const CaseOutput* c = Case(r, "EH-2026-0101");
  const cv1::EarlyHelpCase& ehc =
      Event(c, ex::EVENT_TYPE_CASE_OPENED)->case_opened();
  // Non-ASCII names and apostrophes, byte for byte (checklist 12).
  const cv1::Person* zoe = FindPerson(ehc, "P-2001");
  ASSERT_NE(zoe, nullptr);
  EXPECT_EQ(zoe->legal_name().given(), "Zo\xC3\xAB");
  EXPECT_EQ(zoe->legal_name().other(0), "Anna");
  EXPECT_EQ(zoe->legal_name().family(), "\xC3\x93 S\xC3\xBAilleabh\xC3\xA1in");
  EXPECT_EQ(FindPerson(ehc, "P-2002")->legal_name().family(),
            "Wi\xC5\x9Bniewski");
  EXPECT_EQ(FindPerson(ehc, "P-2003")->legal_name().family(), "O'Brien-Smith");
  // Hyphenated NHS number reformatted; lower-case temporary UPN kept as
  // TEMPORARY with the form winning over upnIsTemporary (checklist 7).
  const cv1::Identifier* nhs =
      FindId(*zoe, "https://fhir.nhs.uk/Id/nhs-number");
  EXPECT_EQ(nhs->value(), "9990000107");
  EXPECT_EQ(nhs->verification(), cv1::VERIFICATION_STATUS_VERIFIED);
  const cv1::Identifier* upn = FindId(*zoe, "urn:ehx:id:upn");
  EXPECT_EQ(upn->value(), "B80120000501T");
  EXPECT_EQ(upn->verification(), cv1::VERIFICATION_STATUS_TEMPORARY);
  EXPECT_TRUE(HasIssue(Record(r, "person", 4), "upn_temporary_flag_mismatch",
                       "$.people[4].upnIsTemporary"));
  EXPECT_TRUE(
      HasIssue(Record(r, "person", 4), "upn_reformatted", "$.people[4].upn"));
  // Bad check digit and impossible stem: stored, flagged, INVALID
  // (checklist 6: never a match key).
  EXPECT_TRUE(HasIssue(Record(r, "person", 5), "nhs_number_invalid",
                       "$.people[5].nhsNumber"));
  EXPECT_EQ(
      FindId(*FindPerson(ehc, "P-2002"), "https://fhir.nhs.uk/Id/nhs-number")
          ->verification(),
      cv1::VERIFICATION_STATUS_INVALID);
  EXPECT_TRUE(HasIssue(Record(r, "person", 6), "nhs_number_invalid",
                       "$.people[6].nhsNumber"));
  EXPECT_TRUE(HasIssue(Record(r, "person", 7), "nhs_number_placeholder",
                       "$.people[7].nhsNumber"));
  EXPECT_TRUE(
      HasIssue(Record(r, "person", 7), "upn_invalid", "$.people[7].upn"));
  // Postcode and phone normalised.
  EXPECT_EQ(FindPerson(ehc, "P-2002")->addresses(0).postcode(), "ZZ1 1ZZ");
  EXPECT_EQ(FindPerson(ehc, "P-2002")->contacts(0).value(), "+447700900123");
  // Overlap: earlier occurrence, flagged (checklist 5).
  EXPECT_TRUE(HasIssue(Record(r, "case", 1), "local_time_ambiguous",
                       "$.cases[1].closedAt"));
  const ex::Envelope* closed = Event(c, ex::EVENT_TYPE_CASE_CLOSED);
  ASSERT_NE(closed, nullptr);
  EXPECT_EQ(FormatUtc({closed->occurred_at().seconds(), 0}),
            "2026-10-25T00:30:00Z");
  EXPECT_EQ(closed->case_closure().reason_code(),
            cv1::CLOSURE_REASON_STEPPED_UP);
  // Open actions on a closed case kept as exported (checklist 10).
  EXPECT_TRUE(HasIssue(Record(r, "case", 1), "open_actions_on_closed_case",
                       "$.cases[1].plan.actions"));
  EXPECT_EQ(Event(c, ex::EVENT_TYPE_PLAN_UPDATED)->plan().actions(1).status(),
            cv1::ACTION_STATUS_OVERDUE);
  EXPECT_TRUE(HasIssue(Record(r, "case", 1), "unresolved_assessment_ref",
                       "$.cases[1].plan.actions[1].assessmentRef"));
  // Step-up with a late decision (Friday 11:20 -> Monday 11:20).
  EXPECT_TRUE(HasIssue(Record(r, "case", 1), "referral_decision_late",
                       "$.cases[1].stepUp.outcome.decisionAt"));
  const ex::Envelope* su = Event(c, ex::EVENT_TYPE_STEP_UP_REFERRAL);
  ASSERT_NE(su, nullptr);
  EXPECT_EQ(su->step_up_referral().referral_source().code(), "5D");
  EXPECT_FALSE(su->correlation_id().empty());
  // Curly quotes in the child's words kept.
  const ex::Envelope* as = Event(c, ex::EVENT_TYPE_ASSESSMENT);
  ASSERT_NE(as, nullptr);
  bool words = false;
  for (const auto& ch : as->assessment().children()) {
    if (ch.voice_of_child().words().find("\xE2\x80\x9CI\xE2\x80\x99m") == 0) {
      words = true;
    }
  }
  EXPECT_TRUE(words);
  // Unknown nested member reported once, record still stored.
  EXPECT_TRUE(HasIssue(Record(r, "case", 1), "unknown_member",
                       "$.cases[1].familyMembers[3].futureFlag"));
  bool preserved = false;
  for (const auto& u : as->unmapped()) {
    preserved |= u.path() == "$.cases[1].familyMembers[3].futureFlag" &&
                 u.media_type() == "application/json" && !u.raw().empty();
  }
  EXPECT_TRUE(preserved) << "the case's unknown member travels with its events";
  ExpectGolden("raise-export-20261026T020005Z.envelopes.golden.json",
               EnvelopesJson(r));
}

TEST(RaiseExport, NoSensitiveValuesInIssues) {
  const ExportResult r = Parse(kTricky);
  for (const auto& rec : r.records) {
    for (const auto& i : rec.issues) {
      for (const char* secret :
           {"9990000019", "9990000140", "1111111111", "Zo\xC3\xAB",
            "Wi\xC5\x9Bniewski", "2014-02-28", "B80120000501T"}) {
        EXPECT_EQ(i.rule.find(secret), std::string::npos) << i.rule;
        EXPECT_EQ(i.path.find(secret), std::string::npos) << i.path;
      }
    }
  }
}

TEST(RaiseExport, DuplicateMemberRejectsOnlyItsCase) {
  std::string text = Read(kFixtures / kTricky);
  const std::string needle = "\"caseId\": \"EH-2026-0101\",";
  const size_t at = text.find(needle);
  ASSERT_NE(at, std::string::npos);
  text.insert(at + needle.size(), " \"status\": \"open\",");
  const ExportResult r = ParseExport(text, ExportOptions());
  EXPECT_EQ(Record(r, "case", 0)->status, "accepted");
  EXPECT_EQ(Record(r, "case", 1)->status, "rejected");
  EXPECT_TRUE(
      HasIssue(Record(r, "case", 1), "duplicate_member", "$.cases[1].status"));
}

TEST(RaiseExport, FileLevelErrorsStoreNothing) {
  const std::string good = Read(kFixtures / kExample);
  auto err = [](const std::string& text, const std::string& la = "") {
    ExportOptions o;
    o.la_code = la;
    ExportResult r = ParseExport(text, o);
    EXPECT_TRUE(r.cases.empty());
    return r.file_error;
  };
  EXPECT_EQ(err("\xFF\xFE{}"), "file_not_utf8");
  EXPECT_EQ(err(good.substr(0, good.size() / 2)), "file_not_json");
  EXPECT_EQ(err("[]"), "not_an_object");
  EXPECT_EQ(err("{}"), "missing_header");
  std::string v1 = good;
  v1.replace(v1.find("\"0.9\""), 5, "\"1.0\"");
  EXPECT_EQ(err(v1), "unsupported_version");
  std::string v08 = good;
  v08.replace(v08.find("\"0.9\""), 5, "\"0.8\"");
  EXPECT_EQ(err(v08), "unsupported_version");
  std::string schema = good;
  schema.replace(schema.find("raise-eh-case-export"), 20,
                 "raise-eh-case-import");
  EXPECT_EQ(err(schema), "unsupported_schema");
  EXPECT_EQ(err(good, "802"), "wrong_local_authority");
  std::string nocases = good;
  nocases.replace(nocases.find("\"cases\""), 7, "\"kases\"");
  EXPECT_EQ(err(nocases), "missing_collection");
  std::string dup = good;
  dup.insert(dup.find("\"sourceSystem\""), "\"caseCount\": 1, ");
  EXPECT_EQ(err(dup), "duplicate_member");
  // A newer minor is accepted with a note.
  std::string minor = good;
  minor.replace(minor.find("\"0.9\""), 5, "\"0.10-rc1\"");
  ExportResult r = ParseExport(minor, ExportOptions());
  EXPECT_EQ(r.file_error, "");
  EXPECT_EQ(r.schema_version, "0.10-rc1");
}

// Checklist 11: document bytes are checked (SHA-256, sniffed type, missing
// file, path tricks); metadata is stored whatever happens to the bytes.
TEST(RaiseExport, DocumentContentIsCheckedNotTrusted) {
  char tmpl[] = "/tmp/raise-docs-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const fs::path dir = tmpl;
  fs::create_directories(dir / "documents");
  const std::string pdf = "%PDF-1.4 fictional consent form\n";
  const std::string sha = Sha256Hex(pdf);
  const std::string old_sha =
      "0103bbc15adc469c1b95dce43432c45e6cd011a42b3f3bb6fd85800d64a2ef82";
  std::string text = Read(kFixtures / kExample);
  for (size_t at; (at = text.find(old_sha)) != std::string::npos;) {
    text.replace(at, old_sha.size(), sha);
  }
  ExportOptions o;
  o.export_dir = dir.string();
  const std::string path = "$.cases[0].documents[1].contentFile";
  auto issues = [&](const std::string& t) {
    ExportResult r = ParseExport(t, o);
    EXPECT_EQ(Record(r, "case", 0)->status, "accepted");
    return *Record(r, "case", 0);
  };
  RecordReport missing = issues(text);
  EXPECT_TRUE(HasIssue(&missing, "document_content_missing", path));
  std::ofstream(dir / "documents" / (sha + ".pdf"), std::ios::binary) << pdf;
  RecordReport ok = issues(text);
  EXPECT_FALSE(HasIssue(&ok, "document_content_missing", path));
  EXPECT_FALSE(HasIssue(&ok, "document_hash_mismatch", path));
  std::ofstream(dir / "documents" / (sha + ".pdf"), std::ios::binary)
      << "%PDF-1.4 altered\n";
  RecordReport bad = issues(text);
  EXPECT_TRUE(HasIssue(&bad, "document_hash_mismatch", path));
  std::ofstream(dir / "documents" / (sha + ".pdf"), std::ios::binary) << pdf;
  std::string tiff = text;
  const std::string mime =
      "\"mimeType\": \"application/pdf\",\n          \"pages\": 2";
  ASSERT_NE(tiff.find(mime), std::string::npos);
  tiff.replace(tiff.find(mime), mime.size(),
               "\"mimeType\": \"image/tiff\",\n          \"pages\": 2");
  RecordReport wrong_type = issues(tiff);
  EXPECT_TRUE(HasIssue(&wrong_type, "document_type_mismatch",
                       "$.cases[0].documents[1].mimeType"));
  std::string escape = text;
  const std::string cf = "documents/" + sha + ".pdf";
  escape.replace(escape.find(cf), cf.size(), "documents/../../etc/passwd");
  RecordReport tricked = issues(escape);
  EXPECT_TRUE(HasIssue(&tricked, "document_content_missing", path));
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// Contract 8.4: snapshots are ordered by exportedAt. After the October
// export, the March export of the same case is skipped_stale and publishes
// nothing for it; the order survives a restart (the index file).
TEST(RaiseIngest, StaleSnapshotIsNotApplied) {
  int published = 0;
  std::set<std::string> cases_published;
  Publisher publish = [&](const ex::Envelope& e) {
    ++published;
    cases_published.insert(e.case_ref());
    ehx::sdk::PublishResult r;
    r.receipt.set_message_id("m" + std::to_string(published));
    return r;
  };
  const fs::path dir =
      fs::temp_directory_path() / ("raise-snap-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string index_file = (dir / "snapshots").string();
  ExportOptions o;
  {
    SnapshotIndex snapshots(index_file);
    IngestOutcome october = IngestExportFile(
        kTricky, Read(kFixtures / kTricky), o, publish, "t0", "t1", &snapshots);
    ASSERT_NE(october.result, "rejected");
    EXPECT_TRUE(cases_published.count("EH-2026-0100"));
  }
  SnapshotIndex reloaded(index_file);  // as after a restart
  cases_published.clear();
  IngestOutcome march = IngestExportFile(kExample, Read(kFixtures / kExample),
                                         o, publish, "t0", "t1", &reloaded);
  EXPECT_NE(march.result, "rejected");
  EXPECT_FALSE(cases_published.count("EH-2026-0100"));
  EXPECT_NE(march.processing_report.find("\"skipped_stale\""),
            std::string::npos);
  EXPECT_NE(march.processing_report.find("\"stale_snapshot\""),
            std::string::npos);
  EXPECT_EQ(march.report.records_published(), 0);
  // The same exportedAt in another file: applied, flagged.
  IngestOutcome again = IngestExportFile(kTricky, Read(kFixtures / kTricky), o,
                                         publish, "t0", "t1", &reloaded);
  EXPECT_TRUE(cases_published.count("EH-2026-0100"));
  bool flagged = false;
  for (const auto& e : again.report.errors()) {
    if (e.rule() == "conflicting_snapshot" && e.flagged_only()) flagged = true;
  }
  EXPECT_TRUE(flagged);
  fs::remove_all(dir);
}

// Checklist 13: the same file twice publishes nothing new.
TEST(RaiseIngest, SameFileTwicePublishesNothingNew) {
  std::map<std::string, std::string> store;  // key -> content
  int accepted = 0, duplicates = 0;
  Publisher publish = [&](const ex::Envelope& e) {
    ehx::sdk::PublishResult r;
    std::string bytes;
    e.SerializeToString(&bytes);
    auto it = store.find(e.idempotency_key());
    if (it == store.end()) {
      store[e.idempotency_key()] = bytes;
      ++accepted;
      r.receipt.set_message_id("m" + std::to_string(store.size()));
    } else if (it->second == bytes) {
      ++duplicates;
      r.receipt.set_duplicate(true);
      r.receipt.set_message_id("dup");
    } else {
      r.status = ehx::sdk::Status(ehx::sdk::Code::kAlreadyExists, "differs");
    }
    return r;
  };
  ExportOptions o;
  const std::string text = Read(kFixtures / kTricky);
  IngestOutcome first = IngestExportFile(kTricky, text, o, publish, "t0", "t1");
  EXPECT_EQ(first.result, "accepted_with_errors");
  const int after_first = accepted;
  EXPECT_GT(after_first, 10);
  IngestOutcome second =
      IngestExportFile(kTricky, text, o, publish, "t0", "t1");
  EXPECT_EQ(accepted, after_first);
  EXPECT_EQ(duplicates, after_first);
  // Errors carry position and rule; the rest went through.
  bool named = false;
  for (const auto& e : first.report.errors()) {
    if (e.position() == "$.cases[2].openedDate" &&
        e.rule() == "required_field_missing" && !e.flagged_only()) {
      named = true;
    }
  }
  EXPECT_TRUE(named);
  EXPECT_EQ(first.report.records_failed(), 3);  // 2 cases + 1 person
  // A valid person no stored case references is reported, not stored.
  std::string extra = text;
  extra.insert(extra.find("\"people\": [") + 11,
               R"({"personId": "P-9999", "legalName": {"given": [],
                   "family": "Example"}},)");
  IngestOutcome third =
      IngestExportFile(kTricky, extra, o, publish, "t0", "t1");
  EXPECT_NE(third.processing_report.find("\"not_referenced\""),
            std::string::npos);
  // A gateway refusal of one envelope is a record error; others continue.
  int calls = 0;
  Publisher refuse_first = [&](const ex::Envelope&) {
    ehx::sdk::PublishResult r;
    if (calls++ == 0) {
      r.status =
          ehx::sdk::Status(ehx::sdk::Code::kInvalidArgument, "refused",
                           {{"case_opened.children[0]", "required: missing"}});
    }
    return r;
  };
  IngestOutcome refused = IngestExportFile(kExample, Read(kFixtures / kExample),
                                           o, refuse_first, "t0", "t1");
  EXPECT_GT(calls, 5);
  EXPECT_EQ(refused.result, "accepted_with_errors");
  // Transient failure: no result, file retried later.
  Publisher down = [](const ex::Envelope&) {
    ehx::sdk::PublishResult r;
    r.status = ehx::sdk::Status(ehx::sdk::Code::kUnavailable, "down");
    return r;
  };
  EXPECT_EQ(IngestExportFile(kExample, Read(kFixtures / kExample), o, down,
                             "t0", "t1")
                .result,
            "");
}

// Every envelope the adapter produces passes the gateway's validator, except
// the rules Raise data cannot satisfy (listed in the README).
TEST(RaiseExport, EnvelopesPassTheGatewayValidator) {
  const absl::Time now = absl::FromCivil(
      absl::CivilSecond(2026, 11, 29, 12, 0, 0), absl::UTCTimeZone());
  for (const char* name : {kExample, kTricky}) {
    const ExportResult r = Parse(name);
    for (const auto& c : r.cases) {
      for (const auto& e : c.events) {
        std::string bytes;
        ASSERT_TRUE(e.envelope.SerializeToString(&bytes));
        ::ehx::exchange::v1::Envelope gw;
        ASSERT_TRUE(gw.ParseFromString(bytes));
        for (const auto& v : ehx::validate::ValidateEnvelope(gw, now)) {
          ADD_FAILURE() << name << " " << c.case_id << " "
                        << ex::EventType_Name(e.envelope.event_type()) << ": "
                        << v.field << " " << v.rule;
        }
      }
    }
  }
}

ex::Delivery DeliveryFor(const std::string& json) {
  ex::Delivery d;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &d).ok());
  return d;
}

TEST(RaiseImport, RendersGoldenImportFiles) {
  ImportOptions o;
  o.la_code = "801";
  const ex::Delivery step_down = DeliveryFor(R"({
    "delivery_id": "7", "attempt": 1,
    "envelope": {
      "message_id": "01JCSC0001", "case_ref": "CSC-EP-77",
      "event_type": "EVENT_TYPE_STEP_DOWN",
      "occurred_at": "2026-04-01T16:45:00Z",
      "accepted_at": "2026-04-01T16:45:02Z", "sender_agency": "csc",
      "step_down": {
        "closure_reason": "RC9",
        "cin_episode": {"la_child_id": "CS6021",
                        "closure_date": {"year": 2026, "month": 4, "day": 1}},
        "social_worker": {"name": "Casey Placeholder", "role": "Social Worker",
          "contacts": [{"kind": "CONTACT_POINT_KIND_EMAIL",
                        "value": "casey.placeholder@example.org"}]},
        "closure_summary": "Family agree to early help.",
        "children": [{
          "person_id": "csc-p-1",
          "legal_name": {"given": "Riley", "family": "Ó Placeholder"},
          "date_of_birth": {"year": 2015, "month": 3, "day": 30},
          "sex": {"code": "M"},
          "identifiers": [
            {"system": "https://fhir.nhs.uk/Id/nhs-number",
             "value": "9990000069", "verification": "VERIFICATION_STATUS_VERIFIED"},
            {"system": "https://fhir.nhs.uk/Id/nhs-number",
             "value": "9990000019", "verification": "VERIFICATION_STATUS_INVALID"},
            {"system": "urn:ehx:id:la-child-id", "value": "CS6021"}]}]}}})");
  const ImportRender sd = RenderImport(step_down, o);
  ASSERT_EQ(sd.skip_reason, "");
  EXPECT_EQ(sd.file_name.substr(0, 30), "raise-import-20260401T164502Z-");
  EXPECT_EQ(sd.content.find("9990000019"), std::string::npos)
      << "an invalid identifier is never written";
  // Redelivery: same file, same itemId.
  EXPECT_EQ(RenderImport(step_down, o).content, sd.content);
  ExpectGolden("import-step-down.golden.json", sd.content);

  const ImportRender ro = RenderImport(DeliveryFor(R"({
    "envelope": {
      "message_id": "01JFD0002", "case_ref": "EH-2026-0101",
      "event_type": "EVENT_TYPE_REFERRAL_OUTCOME",
      "occurred_at": "2026-04-02T09:05:00Z", "accepted_at": "2026-04-02T09:05:01Z",
      "correlation_id": "raise-referral-SU-0101-2", "sender_agency": "csc-front-door",
      "referral_outcome": {"referral_id": "SU-0101-2",
        "decision": "REFERRAL_DECISION_EARLY_HELP",
        "decided_at": "2026-04-02T09:05:00Z",
        "acknowledged_at": "2026-04-02T09:20:00Z"}}})"),
                                       o);
  ASSERT_EQ(ro.skip_reason, "");
  ExpectGolden("import-referral-outcome.golden.json", ro.content);

  const ImportRender doc = RenderImport(DeliveryFor(R"({
    "envelope": {
      "message_id": "01JHV0003", "case_ref": "EH-2026-0100",
      "event_type": "EVENT_TYPE_DOCUMENT_ATTACHED",
      "occurred_at": "2026-04-02T09:28:40Z", "accepted_at": "2026-04-02T09:28:41Z",
      "sender_agency": "health-0-19",
      "document": {"document_id": "hv-letter-1",
        "content_sha256": "a2e67ca5ef28ca1b340f2478d7545be59eeadaea0a2e4e2f673c8eb69e9923b3",
        "media_type": "application/pdf", "page_count": 1,
        "title": "Health visitor review letter",
        "ocr_status": "OCR_STATUS_NOT_REQUIRED",
        "captured_at": "2026-04-02T09:28:40Z"}}})"),
                                        o);
  ASSERT_EQ(doc.skip_reason, "");
  ExpectGolden("import-document-attached.golden.json", doc.content);

  // Anything else is not for Raise.
  EXPECT_EQ(RenderImport(DeliveryFor(R"({"envelope": {"message_id": "x",
      "event_type": "EVENT_TYPE_CONSENT_UPDATED", "consent": {}}})"),
                         o)
                .skip_reason,
            "not_for_raise");
}

// Round trip: an import item's shared shapes read back by the export
// parser's rules (a referral outcome rendered into a case's stepUp).
TEST(RaiseImport, ItemIdIsAStableUuid) {
  const std::string a = UuidFrom("item:01JFD0002");
  EXPECT_EQ(a, UuidFrom("item:01JFD0002"));
  EXPECT_NE(a, UuidFrom("item:01JFD0003"));
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '5');
}

}  // namespace
}  // namespace ehx::adapters::raise
