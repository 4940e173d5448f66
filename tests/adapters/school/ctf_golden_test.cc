// Golden tests: realistic CTF fixtures -> ingest report + envelopes, checked
// against fixtures/*.golden.json (regenerate with EHX_UPDATE_GOLDEN=1) and
// against the gateway's own validator. Plus DSL notices.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "dsl_notice.h"
#include "ehx/exchange/v1/envelope.pb.h"
#include "school_ingest.h"
#include "validate/validate.h"

namespace ehx::adapters::school {
namespace {

namespace ex = ::ehxpb::exchange::v1;
constexpr int64_t kNow = 1769904000;  // 2026-02-01T00:00:00Z

std::string FixturePath(const std::string& name) {
  return std::string(EHX_SOURCE_DIR) + "/tests/adapters/school/fixtures/" +
         name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string Json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out, o).ok());
  return out;
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = FixturePath(name);
  if (std::getenv("EHX_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << actual;
    GTEST_SKIP() << "golden updated: " << name;
  }
  EXPECT_EQ(ReadFile(path), actual)
      << "golden mismatch: " << name << " (EHX_UPDATE_GOLDEN=1 to refresh)";
}

CaseIndex OpenCases() {
  CaseIndex c;
  EXPECT_EQ(c.AddUpn("R820999925001", "EH-2026-000123"), "");
  EXPECT_EQ(c.AddUpn("F820999925002", "EH-2026-000123"), "");
  EXPECT_EQ(c.AddUpn("V820999925003", "EH-2026-000124"), "");
  EXPECT_EQ(c.AddNhs("9990000050", "EH-2026-000125"), "");
  EXPECT_EQ(c.AddUpn("B820999925007", "EH-2026-000126"), "");
  EXPECT_EQ(c.AddUpn("Q820999925008", "EH-2026-000127"), "");
  EXPECT_EQ(c.AddUpn("E820999925009", "EH-2026-000200"), "");
  // Mapped, but the file's UPN has a wrong check letter: never matched.
  EXPECT_EQ(c.AddUpn("J820999925004", "EH-2026-000128"), "");
  return c;
}

struct IngestRun {
  IngestOutcome outcome;
  std::vector<Envelope> published;
};

IngestRun Ingest(
    const std::string& fixture, const CaseIndex& cases,
    std::function<PublishOutcome(const Envelope&)> publish = nullptr) {
  MapOptions options;
  options.cases = &cases;
  options.school_agency_id = "school-oakfield";
  options.now_unix_seconds = kNow;
  IngestRun run;
  run.outcome = IngestCtf(fixture, ReadFile(FixturePath(fixture)), options,
                          XmlLimits(), [&](const Envelope& env) {
                            if (publish) {
                              PublishOutcome o = publish(env);
                              if (o.code != 0) return o;
                            }
                            run.published.push_back(env);
                            PublishOutcome o;
                            o.message_id = env.idempotency_key();
                            return o;
                          });
  return run;
}

std::string GoldenText(const IngestRun& run) {
  std::string out =
      "{\n\"report\": " + Json(run.outcome.report) + ",\n\"envelopes\": [\n";
  for (size_t i = 0; i < run.published.size(); ++i) {
    out += Json(run.published[i]);
    out += i + 1 < run.published.size() ? ",\n" : "\n";
  }
  return out + "]\n}\n";
}

// Every published envelope passes the gateway's validator.
void ExpectGatewayAccepts(const std::vector<Envelope>& envelopes) {
  for (const Envelope& env : envelopes) {
    ehx::exchange::v1::Envelope gw;
    ASSERT_TRUE(gw.ParseFromString(env.SerializeAsString()));
    const auto violations =
        ehx::validate::ValidateEnvelope(gw, absl::FromUnixSeconds(kNow));
    for (const auto& v : violations) {
      ADD_FAILURE() << env.idempotency_key() << ": " << v.field << " "
                    << v.rule;
    }
  }
}

std::multiset<std::string> Rules(const IngestReport& r) {
  std::multiset<std::string> out;
  for (const auto& e : r.errors()) out.insert(e.rule());
  return out;
}

const RecordError* FindError(const IngestReport& r, const std::string& rule,
                             const std::string& position_part = "") {
  for (const auto& e : r.errors()) {
    if (e.rule() == rule &&
        e.position().find(position_part) != std::string::npos) {
      return &e;
    }
  }
  return nullptr;
}

TEST(Golden, OakfieldCtf25) {
  const CaseIndex cases = OpenCases();
  IngestRun run = Ingest("ctf25_oakfield.xml", cases);
  const IngestReport& r = run.outcome.report;
  EXPECT_FALSE(r.input_rejected());
  EXPECT_FALSE(run.outcome.retry_later);
  EXPECT_EQ(r.records_total(), 9);
  EXPECT_EQ(r.records_published(), 6);  // pupils 1, 2, 3, 4, 8, 9
  EXPECT_EQ(r.records_failed(), 2);     // pupils 5 (check letter), 6
  // Pupil 7 is in no open case: neither published nor failed.
  ExpectGatewayAccepts(run.published);
  ExpectGolden("ctf25_oakfield.golden.json", GoldenText(run));
}

TEST(Golden, OakfieldRecordRules) {
  const CaseIndex cases = OpenCases();
  const IngestReport r = Ingest("ctf25_oakfield.xml", cases).outcome.report;
  // Bad records: position and rule, never dropped silently.
  const RecordError* e = FindError(r, "upn_check_letter", "Pupil[5]");
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->flagged_only());
  EXPECT_EQ(e->field(), "UPN");
  ASSERT_NE(FindError(r, "required", "Pupil[6]"), nullptr);
  EXPECT_EQ(FindError(r, "required", "Pupil[6]")->field(), "Surname");
  ASSERT_NE(FindError(r, "date_invalid", "Pupil[6]"), nullptr);
  // NHS numbers: bad check digit and impossible stem are flagged, the
  // records still go through with the number marked INVALID.
  e = FindError(r, "nhs_number_modulus11", "Pupil[3]");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->flagged_only());
  ASSERT_NE(FindError(r, "nhs_number_modulus11", "Pupil[8]"), nullptr);
  // Siblings with different fathers: reported on both, nothing copied.
  ASSERT_NE(FindError(r, "sibling_father_differs", "Pupil[1]"), nullptr);
  ASSERT_NE(FindError(r, "sibling_father_differs", "Pupil[2]"), nullptr);
  ASSERT_NE(FindError(r, "upn_temporary", "Pupil[4]"), nullptr);
  // An impossible FSM start date is flagged; that period is left out.
  e = FindError(r, "date_invalid", "Pupil[2]");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->flagged_only());
  EXPECT_EQ(e->field(), "FSMhistory/FSMinstance[3]/FSMstartDate");
  ASSERT_NE(FindError(r, "unknown_element", "Pupil[3]"), nullptr);
  ASSERT_NE(FindError(r, "parental_responsibility_unknown", "Pupil[3]"),
            nullptr);
  ASSERT_NE(FindError(r, "required", "Pupil[3]"), nullptr);  // nameless contact
  ASSERT_NE(FindError(r, "sex_code_unknown", "Pupil[9]"), nullptr);
  ASSERT_NE(FindError(r, "attendance_sessions_exceed_possible", "Pupil[9]"),
            nullptr);
  ASSERT_NE(FindError(r, "unknown_element"), nullptr);
  // Pupil 7 (no open case) says nothing.
  for (const auto& err : r.errors()) {
    EXPECT_EQ(err.position().find("Pupil[7]"), std::string::npos);
  }
}

TEST(Golden, OakfieldContent) {
  const CaseIndex cases = OpenCases();
  IngestRun run = Ingest("ctf25_oakfield.xml", cases);
  std::map<std::string, std::vector<const Envelope*>> by_case;
  for (const Envelope& e : run.published) by_case[e.case_ref()].push_back(&e);
  // Zoë: person, 2 contacts, 2 years; Oisín: person, 1 contact, 1 year.
  ASSERT_EQ(by_case["EH-2026-000123"].size(), 8u);
  const Envelope& zoe = *by_case["EH-2026-000123"][0];
  ASSERT_EQ(zoe.event_type(), ex::EVENT_TYPE_PERSON_UPDATED);
  const auto& p = zoe.person_update().person();
  EXPECT_EQ(p.legal_name().given(), "Zo\xC3\xAB");
  EXPECT_EQ(p.legal_name().family(),
            "\xC3\x93 S\xC3\xBAilleabh\xC3\xA1in-Wi\xC5\x9Bniewski");
  EXPECT_EQ(p.addresses(0).postcode(), "TS18 1AA");
  EXPECT_EQ(p.addresses(0).lines(0), "14 Rowan Court");
  EXPECT_EQ(p.sen_provision().code(), "K");
  // Former (temporary) UPN kept as history, TEMPORARY.
  bool former = false;
  for (const auto& id : p.identifiers()) {
    if (id.system() == "urn:ehx:id:former-upn") {
      former = true;
      EXPECT_EQ(id.verification(),
                ehxpb::cases::v1::VERIFICATION_STATUS_TEMPORARY);
    }
  }
  EXPECT_TRUE(former);
  // The father is there with parental responsibility, living elsewhere.
  const auto& rels = zoe.person_update().relationships();
  ASSERT_EQ(rels.size(), 2);
  EXPECT_EQ(rels[1].type(), ehxpb::cases::v1::RELATIONSHIP_TYPE_FATHER);
  EXPECT_EQ(rels[1].parental_responsibility(),
            ehxpb::cases::v1::YES_NO_UNKNOWN_YES);
  EXPECT_EQ(rels[1].lives_in_household(), ehxpb::cases::v1::YES_NO_UNKNOWN_NO);
  EXPECT_EQ(rels[0].lives_in_household(), ehxpb::cases::v1::YES_NO_UNKNOWN_YES);
  // The sibling's record does not gain the father.
  // Zoë's FSM period; Oisín is looked after by LA 801 and has two FSM
  // periods, most recent first, open-ended one without an end date (the
  // impossible date's period is left out).
  ASSERT_EQ(p.free_school_meals_size(), 1);
  EXPECT_EQ(p.free_school_meals(0).start().year(), 2024);
  EXPECT_EQ(p.looked_after(), ehxpb::cases::v1::YES_NO_UNKNOWN_UNSPECIFIED);
  int oisin = 0;
  for (const Envelope* e : by_case["EH-2026-000123"]) {
    if (e->event_type() != ex::EVENT_TYPE_PERSON_UPDATED) continue;
    if (e->person_update().person().legal_name().given() != "Ois\xC3\xADn")
      continue;
    ++oisin;
    ASSERT_EQ(e->person_update().relationships_size(), 1);
    EXPECT_EQ(e->person_update().relationships(0).type(),
              ehxpb::cases::v1::RELATIONSHIP_TYPE_MOTHER);
    const auto& o = e->person_update().person();
    EXPECT_EQ(o.looked_after(), ehxpb::cases::v1::YES_NO_UNKNOWN_YES);
    EXPECT_EQ(o.care_authority().code(), "801");
    EXPECT_EQ(o.free_school_meals_reviewed_on().year(), 2026);
    ASSERT_EQ(o.free_school_meals_size(), 2);
    EXPECT_EQ(o.free_school_meals(0).start().year(), 2025);
    EXPECT_FALSE(o.free_school_meals(0).has_end());
    EXPECT_EQ(o.free_school_meals(1).start().year(), 2024);
    EXPECT_EQ(o.free_school_meals(1).end().month(), 7);
    EXPECT_EQ(o.free_school_meals(1).uk_country(), "ENG");
  }
  EXPECT_EQ(oisin, 1);
  // Attendance: 130/148 = 87.8% -> persistent; 285/300 = 95% -> not.
  int years = 0;
  for (const Envelope* e : by_case["EH-2026-000123"]) {
    if (e->event_type() != ex::EVENT_TYPE_ATTENDANCE_SUMMARY) continue;
    const auto& a = e->attendance_summary();
    if (a.pupil().legal_name().given() != "Zo\xC3\xAB") continue;
    ++years;
    if (a.academic_year() == "2025/26") {
      EXPECT_TRUE(a.persistent_absence());
      EXPECT_FALSE(a.severe_absence());
      EXPECT_EQ(a.school_urn(), "100001");
      EXPECT_EQ(a.school_la_estab(), "8209999");
    } else {
      EXPECT_EQ(a.academic_year(), "2024/25");
      EXPECT_FALSE(a.persistent_absence());
    }
  }
  EXPECT_EQ(years, 2);
  // Temporary UPN: kept TEMPORARY, matched by the NHS number only.
  ASSERT_EQ(by_case["EH-2026-000125"].size(), 1u);
  const auto& renee = by_case["EH-2026-000125"][0]->person_update().person();
  EXPECT_EQ(renee.identifiers(0).value(), "W82099992501M");
  EXPECT_EQ(renee.identifiers(0).verification(),
            ehxpb::cases::v1::VERIFICATION_STATUS_TEMPORARY);
  // Apostrophes and hyphens kept; a bad NHS number marked INVALID.
  const auto& sean = by_case["EH-2026-000124"][0]->person_update().person();
  EXPECT_EQ(sean.legal_name().family(), "O'Neill-Brown");
  EXPECT_EQ(sean.identifiers(1).verification(),
            ehxpb::cases::v1::VERIFICATION_STATUS_INVALID);
  EXPECT_EQ(sean.identifiers(1).value(), "9990000043");
  // Pupil 9: the impossible year is dropped, the other year is published
  // (150/320 = 47% attendance: persistent and severe).
  ASSERT_EQ(by_case["EH-2026-000127"].size(), 2u);
  const auto& a9 = by_case["EH-2026-000127"][1]->attendance_summary();
  EXPECT_EQ(a9.academic_year(), "2024/25");
  EXPECT_TRUE(a9.persistent_absence());
  EXPECT_TRUE(a9.severe_absence());
}

TEST(Golden, RereadingPublishesTheSameKeysAndAChangeOnlyItsOwn) {
  const CaseIndex cases = OpenCases();
  IngestRun a = Ingest("ctf25_oakfield.xml", cases);
  IngestRun b = Ingest("ctf25_oakfield.xml", cases);
  ASSERT_EQ(a.published.size(), b.published.size());
  for (size_t i = 0; i < a.published.size(); ++i) {
    EXPECT_EQ(a.published[i].idempotency_key(),
              b.published[i].idempotency_key());
    EXPECT_LE(a.published[i].idempotency_key().size(), 128u);
  }
  // Change Oisín's attendance: only that envelope gets a new key.
  std::string xml = ReadFile(FixturePath("ctf25_oakfield.xml"));
  const std::string from = "<SessionsAttended>144</SessionsAttended>";
  ASSERT_NE(xml.find(from), std::string::npos);
  xml.replace(xml.find(from), from.size(),
              "<SessionsAttended>143</SessionsAttended>");
  MapOptions options;
  options.cases = &cases;
  options.school_agency_id = "school-oakfield";
  options.now_unix_seconds = kNow;
  std::vector<std::string> keys;
  IngestCtf("changed", xml, options, XmlLimits(), [&](const Envelope& env) {
    keys.push_back(env.idempotency_key());
    return PublishOutcome{};
  });
  ASSERT_EQ(keys.size(), a.published.size());
  int changed = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    changed += keys[i] != a.published[i].idempotency_key();
  }
  EXPECT_EQ(changed, 1);
}

TEST(Golden, NoPersonalDataInTheReport) {
  const CaseIndex cases = OpenCases();
  const IngestReport r = Ingest("ctf25_oakfield.xml", cases).outcome.report;
  const std::string text = Json(r);
  for (const char* secret : {"Zo\xC3\xAB",
                             "Wi\xC5\x9Bniewski",
                             "O'Neill",
                             "Se\xC3\xA1n",
                             "Renée",
                             "Checkletter",
                             "Nosurname",
                             "Kowalczyk",
                             "Smith",
                             "R820999925001",
                             "A820999925004",
                             "9990000043",
                             "9990001400",
                             "9990000050",
                             "T82099992501K",
                             "Rowan",
                             "TS18",
                             "07700",
                             "FavouriteColour>blue",
                             "blue",
                             "2019-05-14",
                             "yes please"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
}

TEST(Golden, LegacyCtf24WithAClockChangeGap) {
  const CaseIndex cases = OpenCases();
  IngestRun run = Ingest("ctf24_legacy.xml", cases);
  const IngestReport& r = run.outcome.report;
  EXPECT_EQ(r.records_published(), 1);
  const RecordError* e = FindError(r, "dst_nonexistent_local_time");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->flagged_only());
  EXPECT_EQ(e->position(), "CTfile/Header");
  ASSERT_NE(FindError(r, "ctf_version_spelling"), nullptr);
  ASSERT_FALSE(run.published.empty());
  // Start of that day (00:00 GMT), not a guessed 00:30 or 01:30.
  EXPECT_EQ(run.published[0].occurred_at().seconds(), 1743292800);
  const auto& p = run.published[0].person_update().person();
  EXPECT_EQ(p.identifiers(0).value(), "E820999925009");
  EXPECT_EQ(p.identifiers(0).original_value(), "e820 9999 2500 9");
  EXPECT_EQ(p.sex().code(), "F");
  EXPECT_EQ(p.addresses(0).country(), "GB");
  EXPECT_EQ(run.published[0].person_update().relationships(0).type(),
            ehxpb::cases::v1::RELATIONSHIP_TYPE_FOSTER_CARER);
  ExpectGatewayAccepts(run.published);
  ExpectGolden("ctf24_legacy.golden.json", GoldenText(run));
}

TEST(Golden, AmbiguousHeaderTimeIsFlagged) {
  const CaseIndex cases = OpenCases();
  IngestRun run = Ingest("ctf24_ambiguous.xml", cases);
  const RecordError* e =
      FindError(run.outcome.report, "dst_ambiguous_local_time");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->flagged_only());
  ASSERT_FALSE(run.published.empty());
  EXPECT_EQ(run.published[0].occurred_at().seconds(), 1761433200);  // 00:00 BST
}

TEST(Ingest, UnreadableFilesPublishNothing) {
  const CaseIndex cases = OpenCases();
  for (const char* f :
       {"xxe.xml", "billion_laughs.xml", "truncated.xml", "not_a_ctf.xml"}) {
    IngestRun run = Ingest(f, cases);
    EXPECT_TRUE(run.outcome.report.input_rejected()) << f;
    EXPECT_FALSE(run.outcome.report.input_error().empty()) << f;
    EXPECT_TRUE(run.published.empty()) << f;
  }
  EXPECT_EQ(Ingest("xxe.xml", cases)
                .outcome.report.input_error()
                .rfind("xml_dtd_refused", 0),
            0u);
}

TEST(Ingest, GatewayRefusalBecomesARecordErrorAndTheRestGoesThrough) {
  const CaseIndex cases = OpenCases();
  IngestRun run = Ingest("ctf25_oakfield.xml", cases, [](const Envelope& env) {
    PublishOutcome o;
    if (env.case_ref() == "EH-2026-000124") {
      o.code = 3;
      o.field = "person_update.person.date_of_birth";
      o.rule = "date_of_birth_in_future";
    }
    return o;
  });
  const IngestReport& r = run.outcome.report;
  EXPECT_EQ(r.records_published(), 5);
  EXPECT_EQ(r.records_failed(), 3);
  const RecordError* e = FindError(r, "date_of_birth_in_future", "Pupil[3]");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->field(), "person_update.person.date_of_birth");
  EXPECT_FALSE(e->flagged_only());
}

TEST(Ingest, UnavailableGatewayMeansRetryLater) {
  const CaseIndex cases = OpenCases();
  int calls = 0;
  IngestRun run = Ingest("ctf25_oakfield.xml", cases, [&](const Envelope&) {
    PublishOutcome o;
    if (++calls == 3) o.code = 14;  // UNAVAILABLE
    return o;
  });
  EXPECT_TRUE(run.outcome.retry_later);
  EXPECT_EQ(run.published.size(), 2u);
}

// Everything a MappedCtf says, as text.
std::string MappedText(const MappedCtf& m) {
  std::string out = "rule=" + m.file_rule + " message=" + m.file_message +
                    " pupils_read=" + std::to_string(m.pupils_read) + "\n";
  for (const RecordError& e : m.file_errors) out += Json(e);
  for (const MappedPupil& p : m.pupils) {
    out += "pupil " + std::to_string(p.index) + " " + p.position +
           " dropped=" + std::to_string(p.dropped) +
           " no_open_case=" + std::to_string(p.no_open_case) +
           " case=" + p.case_ref + "\n";
    for (const Envelope* env : p.envelopes) out += Json(*env);
    for (const RecordError& e : p.errors) out += Json(e);
  }
  return out;
}

// IngestCtf reads and maps in one pass (ReadAndMapCtf: each pupil mapped as
// soon as it is read, the reader's CtfPupil reused for the next one). It
// must give exactly what ReadCtf followed by MapCtf gives, including for a
// Header after the pupils and for a refused header.
TEST(Ingest, OnePassReadAndMapEqualsReadThenMap) {
  const CaseIndex cases = OpenCases();
  MapOptions options;
  options.cases = &cases;
  options.school_agency_id = "school-oakfield";
  options.now_unix_seconds = kNow;
  const std::string oakfield = ReadFile(FixturePath("ctf25_oakfield.xml"));
  std::vector<std::pair<std::string, std::string>> inputs;
  for (const char* f :
       {"ctf25_oakfield.xml", "ctf24_legacy.xml", "ctf24_ambiguous.xml"}) {
    inputs.emplace_back(f, ReadFile(FixturePath(f)));
  }
  // The Header moved after CTFpupilData: pupils wait for it.
  {
    const size_t hb = oakfield.find("<Header>");
    const size_t he = oakfield.find("</Header>") + 9;
    ASSERT_NE(hb, std::string::npos);
    std::string moved = oakfield;
    const std::string header = moved.substr(hb, he - hb);
    moved.erase(hb, he - hb);
    moved.insert(moved.find("</CTFpupilData>") + 15, header);
    inputs.emplace_back("header last", moved);
  }
  // No DateTime: refused as a whole, pupils only counted.
  {
    std::string no_time = oakfield;
    const size_t b = no_time.find("<DateTime>");
    no_time.erase(b, no_time.find("</DateTime>") + 11 - b);
    inputs.emplace_back("no DateTime", no_time);
  }
  // Pupils in reverse order: every reused-pupil field is overwritten or
  // cleared whatever came before.
  {
    const size_t first = oakfield.find("<Pupil>");
    const size_t end = oakfield.find("</CTFpupilData>");
    std::vector<std::string> pupils;
    for (size_t b = first; b < end;) {
      const size_t e = oakfield.find("</Pupil>", b) + 8;
      pupils.push_back(oakfield.substr(b, e - b));
      b = oakfield.find("<Pupil>", e);
      if (b == std::string::npos) break;
    }
    ASSERT_GE(pupils.size(), 3u);
    std::string reversed = oakfield.substr(0, first);
    for (auto it = pupils.rbegin(); it != pupils.rend(); ++it) {
      reversed += *it + "\n";
    }
    reversed += oakfield.substr(end);
    inputs.emplace_back("reversed", reversed);
  }
  for (const auto& [name, xml] : inputs) {
    CtfFile file;
    CtfFileError error;
    ASSERT_TRUE(ReadCtf(xml, XmlLimits(), &file, &error)) << name;
    const MappedCtf two_pass = MapCtf(file, options);
    MappedCtf one_pass;
    ASSERT_TRUE(ReadAndMapCtf(xml, XmlLimits(), options, &one_pass, &error))
        << name;
    EXPECT_EQ(MappedText(one_pass), MappedText(two_pass)) << name;
    EXPECT_EQ(one_pass.pupils_read, static_cast<int>(file.pupils.size()))
        << name;
  }
  // A document the reader refuses leaves nothing behind.
  MappedCtf refused;
  CtfFileError error;
  EXPECT_FALSE(ReadAndMapCtf(oakfield.substr(0, oakfield.size() / 2),
                             XmlLimits(), options, &refused, &error));
  EXPECT_EQ(error.rule, "xml_malformed");
  EXPECT_TRUE(refused.pupils.empty());
  EXPECT_EQ(refused.pupils_read, 0);
}

ex::Delivery DeliveryFromConformance(const std::string& name) {
  const std::string text = ReadFile(std::string(EHX_SOURCE_DIR) +
                                    "/tests/conformance/valid/" + name);
  // {"description": ..., "envelope": {...}}
  const size_t start = text.find("\"envelope\"");
  const size_t brace = text.find('{', start);
  const size_t end = text.rfind('}');
  const std::string env_json =
      text.substr(brace, text.rfind('}', end - 1) - brace + 1);
  ex::Delivery d;
  d.set_delivery_id(7);
  d.set_attempt(1);
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(env_json,
                                                          d.mutable_envelope())
                  .ok())
      << name;
  d.mutable_envelope()->set_message_id("01JABCDEF0000000000000000" +
                                       std::to_string(name.size()));
  d.mutable_envelope()->set_sender_agency("early-help");
  d.mutable_envelope()->mutable_accepted_at()->set_seconds(1769450400);
  return d;
}

TEST(DslNotice, CafNotificationIsMinimised) {
  const ex::Delivery d = DeliveryFromConformance("caf-notification.json");
  ehxpb::adapter::v1::RenderResult out;
  std::string reason;
  ASSERT_TRUE(RenderDslNotice(d, &out, &reason)) << reason;
  EXPECT_EQ(out.media_type(), "application/json");
  EXPECT_NE(out.file_name().find("-caf.json"), std::string::npos);
  const std::string& text = out.content();
  EXPECT_NE(text.find("R820999925001"), std::string::npos);  // the UPN
  EXPECT_NE(text.find("Zo\xC3\xAB"), std::string::npos);
  // Not for the DSL: NHS number, address, ethnicity, other agencies' ids.
  for (const char* absent :
       {"9990000034", "Rowan", "TS18", "MOTH", "RP-100234", "SLCN"}) {
    EXPECT_EQ(text.find(absent), std::string::npos) << absent;
  }
  ExpectGolden("caf_notice.golden.json", text);
}

TEST(DslNotice, TafMeetingIsMinimised) {
  const ex::Delivery d = DeliveryFromConformance("taf-meeting.json");
  ehxpb::adapter::v1::RenderResult out;
  std::string reason;
  ASSERT_TRUE(RenderDslNotice(d, &out, &reason)) << reason;
  EXPECT_NE(out.file_name().find("-taf.json"), std::string::npos);
  ExpectGolden("taf_notice.golden.json", out.content());
}

TEST(DslNotice, OtherEventsAreNotRendered) {
  const ex::Delivery d = DeliveryFromConformance("attendance-summary.json");
  ehxpb::adapter::v1::RenderResult out;
  std::string reason;
  EXPECT_FALSE(RenderDslNotice(d, &out, &reason));
  EXPECT_EQ(reason, "unsupported_event_type");
}

}  // namespace
}  // namespace ehx::adapters::school
