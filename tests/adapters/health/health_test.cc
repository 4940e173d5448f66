// Health adapter: identifiers, Europe/London times, HL7 parsing and ACKs,
// FHIR mapping, goldens, identity guard, idempotency, no personal data in
// errors, Communication rendering.
#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "communication.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health_test_util.h"
#include "hl7.h"
#include "identifiers.h"
#include "identity_state.h"
#include "ingestor.h"
#include "mapping.h"
#include "uk_time.h"

namespace ehx::adapters::health {
namespace {

namespace cv1 = ::ehxpb::cases::v1;
namespace ex = ::ehxpb::exchange::v1;
using ::ehx::adapters::health::testing::CafDelivery;
using ::ehx::adapters::health::testing::FakeGateway;
using ::ehx::adapters::health::testing::Fixture;
using ::ehx::adapters::health::testing::TestConfig;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

const RecordError* FindError(const IngestReport& r, const std::string& rule) {
  for (const auto& e : r.errors()) {
    if (e.rule() == rule) return &e;
  }
  return nullptr;
}

// ------------------------------------------------------------ identifiers

TEST(NhsNumber, ModulusElevenAndPublishedExample) {
  EXPECT_EQ(CheckNhsNumber("9434765919"), NhsNumberCheck::kValid);
  EXPECT_EQ(CheckNhsNumber("9990000018"), NhsNumberCheck::kValid);
  EXPECT_EQ(CheckNhsNumber("9990000019"), NhsNumberCheck::kBadCheckDigit);
  EXPECT_EQ(NhsCheckDigit("999001244"), 10);
  EXPECT_EQ(CheckNhsNumber("9990012440"), NhsNumberCheck::kImpossibleStem);
  EXPECT_EQ(CheckNhsNumber("9111111124"), NhsNumberCheck::kBadCheckDigit);
  EXPECT_EQ(CheckNhsNumber("0000000000"), NhsNumberCheck::kPlaceholder);
  EXPECT_EQ(CheckNhsNumber("99900000A8"), NhsNumberCheck::kBadFormat);
  EXPECT_EQ(NormaliseNhsNumber("943 476 5919"), "9434765919");
  EXPECT_EQ(NormaliseNhsNumber("943-476-5919"), "9434765919");
}

TEST(Upn, TemporaryAndPermanent) {
  // Check letters computed by the mod-23 rule.
  EXPECT_EQ(CheckUpn("A12345678901B"), UpnCheck::kBadCheckLetter);
  EXPECT_EQ(CheckUpn("lower"), UpnCheck::kBadFormat);
  // Find the right check letter for a temporary and a permanent body.
  for (const std::string body : {"12345678901B", "123456789012"}) {
    int ok = 0;
    for (char c : std::string("ABCDEFGHJKLMNPQRTUVWXYZ")) {
      const UpnCheck r = CheckUpn(std::string(1, c) + body);
      if (r == UpnCheck::kValidTemporary || r == UpnCheck::kValidPermanent) {
        ++ok;
        EXPECT_EQ(r, body.back() == 'B' ? UpnCheck::kValidTemporary
                                        : UpnCheck::kValidPermanent);
      }
    }
    EXPECT_EQ(ok, 1);
  }
}

// ------------------------------------------------------------------ time

TEST(UkTime, TzdataLoads) { EXPECT_TRUE(LondonZoneLoaded()); }

TEST(UkTime, ClockChangesAreFlaggedNotGuessed) {
  for (bool rules : {false, true}) {
    int64_t utc = -1;
    EXPECT_EQ(LondonToUtc(2026, 3, 29, 1, 30, 0, &utc, rules),
              LocalTimeKind::kNonexistent);
    EXPECT_EQ(LondonToUtc(2026, 10, 25, 1, 30, 0, &utc, rules),
              LocalTimeKind::kAmbiguous);
    EXPECT_EQ(utc, -1);
    ASSERT_EQ(LondonToUtc(2026, 7, 1, 12, 0, 0, &utc, rules),
              LocalTimeKind::kUnique);
    EXPECT_EQ(FormatUtc(utc), "2026-07-01T11:00:00Z");
    ASSERT_EQ(LondonToUtc(2026, 12, 1, 12, 0, 0, &utc, rules),
              LocalTimeKind::kUnique);
    EXPECT_EQ(FormatUtc(utc), "2026-12-01T12:00:00Z");
    ASSERT_EQ(LondonToUtc(2026, 3, 29, 2, 0, 0, &utc, rules),
              LocalTimeKind::kUnique);
    EXPECT_EQ(FormatUtc(utc), "2026-03-29T01:00:00Z");
  }
  // Rules and tzdata agree on every hour of two years.
  for (int64_t day = DaysFromCivil(2025, 1, 1); day < DaysFromCivil(2027, 1, 1);
       ++day) {
    for (int h = 0; h < 24; ++h) {
      const int64_t t = day * 86400 + h * 3600;
      const std::string s = FormatUtc(t);
      const int y = std::stoi(s.substr(0, 4)), m = std::stoi(s.substr(5, 2)),
                d = std::stoi(s.substr(8, 2));
      int64_t a = 0, b = 0;
      ASSERT_EQ(LondonToUtc(y, m, d, h, 0, 0, &a, false),
                LondonToUtc(y, m, d, h, 0, 0, &b, true))
          << s;
      EXPECT_EQ(a, b) << s;
    }
  }
}

TEST(UkTime, Hl7AndFhirFormats) {
  EXPECT_EQ(ParseHl7Time("202603290130").rule, "dst_nonexistent_local_time");
  EXPECT_EQ(ParseHl7Time("20261025014500").rule, "dst_ambiguous_local_time");
  EXPECT_EQ(ParseHl7Time("20261025014500+0000").rule, "");
  EXPECT_EQ(ParseHl7Time("20240230").rule, "date_invalid");
  EXPECT_EQ(ParseHl7Time("2024").rule, "date_invalid");
  EXPECT_EQ(ParseHl7Time("20240101").has_time, false);
  const TimeValue v = ParseHl7Time("20260302091500.1234+0100");
  EXPECT_EQ(v.rule, "");
  EXPECT_EQ(FormatUtc(v.seconds), "2026-03-02T08:15:00Z");
  EXPECT_EQ(v.nanos, 123400000);
  EXPECT_EQ(ParseFhirTime("2026-03-29T01:30:00").rule,
            "dst_nonexistent_local_time");
  EXPECT_EQ(ParseFhirTime("2026-03-29T01:30:00Z").rule, "");
  EXPECT_EQ(ParseFhirTime("2026-03-02T09:15:00+00:00").rule, "");
  EXPECT_EQ(ParseFhirTime("2026-02").rule, "date_invalid");
  EXPECT_EQ(ParseFhirTime("2026-03-02T25:00:00Z").rule, "datetime_invalid");
}

// ------------------------------------------------------------------- HL7

TEST(Hl7, EscapesAndDelimiters) {
  hl7::Message m;
  hl7::ParseError e;
  ASSERT_TRUE(m.Parse(
      "MSH|^~\\&|A|B\rPID|1||X||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X4142\\g"
      "\\.br\\h\\H\\i\\N\\\\Zxx\\\r",
      &e))
      << e.rule;
  EXPECT_EQ(m.Text(hl7::Message::Field(m.Find("PID"), 5)),
            "a|b^c&d~e\\fABg\nhi\\Zxx\\");
  // Custom delimiters from MSH-1/MSH-2.
  ASSERT_TRUE(m.Parse("MSH#$%@*#A\rPID#1##ID1$$$NHS$NH%ID2###x", &e));
  EXPECT_EQ(m.Get(m.Find("PID"), 3, 1), "ID1");
  EXPECT_EQ(m.Repetitions(hl7::Message::Field(m.Find("PID"), 3)).size(), 2u);
  // Escape round trip.
  const std::string text = "O'Brien|Smith^x&y~z\\w";
  EXPECT_EQ(m.Text(m.Escape(text)), text);
}

TEST(Hl7, CharacterSets) {
  hl7::Message m;
  hl7::ParseError e;
  // ISO 8859-1: "Zoë" with 0xEB, and \XEB\ in the same charset.
  ASSERT_TRUE(m.Parse(std::string("MSH|^~\\&||||||||||||||||8859/1\r"
                                  "PID|1||1||Zo\xEB^Zo\\XEB\\"),
                      &e));
  EXPECT_EQ(m.Get(m.Find("PID"), 5, 1), "Zoë");
  EXPECT_EQ(m.Get(m.Find("PID"), 5, 2), "Zoë");
  // Declared UTF-8 but bytes are Latin-1: refused.
  EXPECT_FALSE(m.Parse(std::string("MSH|^~\\&||||||||||||||||UNICODE UTF-8\r"
                                   "PID|1||1||Zo\xEB"),
                       &e));
  EXPECT_EQ(e.rule, "hl7_charset_invalid");
  // Undeclared non-UTF-8 bytes: refused, not guessed.
  EXPECT_FALSE(m.Parse(std::string("MSH|^~\\&|A\rPID|1||1||Zo\xEB"), &e));
  EXPECT_EQ(e.rule, "hl7_charset_undeclared");
  EXPECT_FALSE(m.Parse("MSH|^~\\&||||||||||||||||8859/7\r", &e));
  EXPECT_EQ(e.rule, "hl7_charset_unsupported");
  EXPECT_FALSE(m.Parse("PID|1", &e));
  EXPECT_EQ(e.rule, "hl7_no_msh");
  // Fuzz finding: a first line shorter than "MSH|^~\\&".
  EXPECT_FALSE(m.Parse("MSH\rMSH|^~\\&|PAS|RXX01", &e));
  EXPECT_EQ(e.rule, "hl7_bad_delimiters");
  EXPECT_FALSE(m.Parse("MSH|^^\\&|", &e));
  EXPECT_EQ(e.rule, "hl7_bad_delimiters");
}

TEST(Hl7, MllpDeframerSplitsAndJoins) {
  hl7::MllpDeframer d(100);
  std::vector<std::string> out;
  const std::string two = hl7::MllpFrame("MSH|one") + hl7::MllpFrame("MSH|two");
  ASSERT_TRUE(d.Feed("noise" + two.substr(0, 5), &out));
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(d.Feed(two.substr(5), &out));
  EXPECT_THAT(out, ::testing::ElementsAre("MSH|one", "MSH|two"));
  // 0x1C not followed by CR is data.
  out.clear();
  ASSERT_TRUE(d.Feed(std::string("\x0b"
                                 "a\x1c"
                                 "b\x1c\r"),
                     &out));
  EXPECT_THAT(out, ::testing::ElementsAre(std::string("a\x1c"
                                                      "b")));
  EXPECT_FALSE(d.Feed("\x0b" + std::string(200, 'x'), &out));
}

// -------------------------------------------------------------- ingest

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    state_ = IdentityState::Open(":memory:", &error);
    ASSERT_NE(state_, nullptr) << error;
    ingestor_ =
        std::make_unique<Ingestor>(TestConfig(), state_.get(), gateway_.Fn());
    ingestor_->set_clock([] { return int64_t{1772442900}; });
  }

  // Golden: the report and every accepted envelope, as JSON. Set
  // EHX_UPDATE_GOLDEN=1 to rewrite the files.
  void Golden(const std::string& fixture, const IngestReport& report) {
    std::string got =
        "{\n\"report\": " + ToJson(report) + ",\n\"published\": [";
    for (size_t i = 0; i < gateway_.accepted.size(); ++i) {
      got += (i ? ",\n" : "\n") + ToJson(gateway_.accepted[i]);
    }
    got += "]}\n";
    const std::string path = std::string(EHX_SOURCE_DIR) +
                             "/tests/adapters/health/fixtures/" + fixture +
                             ".golden.json";
    if (std::getenv("EHX_UPDATE_GOLDEN") != nullptr) {
      std::ofstream(path, std::ios::binary) << got;
    }
    EXPECT_EQ(got, Fixture(fixture + ".golden.json")) << fixture;
  }

  FakeGateway gateway_;
  std::unique_ptr<IdentityState> state_;
  std::unique_ptr<Ingestor> ingestor_;
};

TEST_F(IngestTest, GoldenFhirPatient) {
  const IngestReport r =
      ingestor_->Ingest("patient_zoe.json", Fixture("patient_zoe.json"));
  EXPECT_EQ(r.records_published(), 1);
  ASSERT_EQ(gateway_.accepted.size(), 1u);
  const cv1::Person& p = gateway_.accepted[0].person_update().person();
  EXPECT_EQ(p.legal_name().given(), "Zoë");
  EXPECT_EQ(p.legal_name().family(), "Ó Súilleabháin");
  EXPECT_EQ(p.identifiers(1).value(), "9990000018");
  EXPECT_EQ(p.identifiers(1).verification(), cv1::VERIFICATION_STATUS_VERIFIED);
  EXPECT_EQ(gateway_.accepted[0].case_ref(), "EH-2026-000123");
  Golden("patient_zoe.json", r);
}

TEST_F(IngestTest, GoldenFhirBundleBadRecordsDoNotStopTheRest) {
  const IngestReport r =
      ingestor_->Ingest("bundle_mixed.json", Fixture("bundle_mixed.json"));
  EXPECT_FALSE(r.input_rejected());
  EXPECT_EQ(r.records_total(), 9);
  EXPECT_EQ(r.records_published(), 5);
  EXPECT_EQ(r.records_failed(), 4);
  const RecordError* bad = FindError(r, "nhs_number_modulus11");
  ASSERT_NE(bad, nullptr);
  EXPECT_TRUE(bad->flagged_only());
  EXPECT_EQ(bad->position(), "Bundle.entry[2]");
  EXPECT_EQ(bad->field(), "Bundle.entry[2].resource.identifier[0].value");
  ASSERT_NE(FindError(r, "nhs_number_impossible_stem"), nullptr);
  ASSERT_NE(FindError(r, "fhir_resource_type"), nullptr);
  const RecordError* id = FindError(r, "required");
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(id->field(), "Bundle.entry[5].resource.id");
  ASSERT_NE(FindError(r, "upn_check_letter"), nullptr);
  ASSERT_NE(FindError(r, "date_partial"), nullptr);
  const RecordError* dst = FindError(r, "dst_nonexistent_local_time");
  ASSERT_NE(dst, nullptr);
  EXPECT_FALSE(dst->flagged_only());
  EXPECT_EQ(dst->field(), "Bundle.entry[7].resource.meta.lastUpdated");
  ASSERT_NE(FindError(r, "case_ref_unresolved"), nullptr);
  // Apostrophes, hyphens and Polish letters survive.
  bool saw = false;
  for (const auto& env : gateway_.accepted) {
    if (env.person_update().person().legal_name().family() == "O'Brien-Smith") {
      saw = true;
      // The legacy CareConnect namespace is emitted in the UK Core form.
      EXPECT_EQ(env.person_update().person().identifiers(1).system(),
                "https://fhir.nhs.uk/Id/nhs-number");
    }
  }
  EXPECT_TRUE(saw);
  Golden("bundle_mixed.json", r);
}

TEST_F(IngestTest, GoldenHl7Latin1A04) {
  const IngestReport r =
      ingestor_->Ingest("adt_a04_latin1.hl7", Fixture("adt_a04_latin1.hl7"));
  ASSERT_EQ(r.records_published(), 1) << ToJson(r);
  const cv1::Person& p = gateway_.accepted[0].person_update().person();
  EXPECT_EQ(p.legal_name().given(), "Zoë");
  EXPECT_EQ(p.legal_name().other(0), "Renée");
  EXPECT_EQ(p.preferred_name().given(), "Zo");
  EXPECT_EQ(p.addresses(0).lines(0), "Flat 2&3");
  EXPECT_EQ(p.identifiers(0).verification(), cv1::VERIFICATION_STATUS_VERIFIED);
  EXPECT_EQ(p.identifiers(0).source_verification().original_value(), "NSTS01");
  Golden("adt_a04_latin1.hl7", r);
}

TEST_F(IngestTest, GoldenHl7BatchWithGuardMergeAndErrors) {
  ingestor_->Ingest("a04", Fixture("adt_a04_latin1.hl7"));
  gateway_.accepted.clear();
  const IngestReport r =
      ingestor_->Ingest("adt_batch.hl7", Fixture("adt_batch.hl7"));
  EXPECT_EQ(r.records_total(), 8);
  EXPECT_EQ(r.records_published(), 4) << ToJson(r);
  // The unverified A08 NHS number did not replace the verified one.
  const RecordError* guard = FindError(r, "unverified_identifier_not_applied");
  ASSERT_NE(guard, nullptr);
  EXPECT_TRUE(guard->flagged_only());
  const cv1::Person& p0 = gateway_.accepted[0].person_update().person();
  EXPECT_EQ(p0.identifiers(0).value(), "9990000018");
  EXPECT_EQ(p0.identifiers(0).verification(),
            cv1::VERIFICATION_STATUS_VERIFIED);
  // \F\ and \X..\ decoded.
  const cv1::Person& p1 = gateway_.accepted[1].person_update().person();
  EXPECT_EQ(p1.legal_name().family(), "Wiśniewski");
  EXPECT_EQ(p1.addresses(0).lines(0), "12 Bridge St|Unit 4");
  EXPECT_EQ(p1.contacts(0).value(), "0113 0000000");
  EXPECT_EQ(p1.identifiers(0).verification(), cv1::VERIFICATION_STATUS_INVALID);
  // Nonexistent EVN-2 flagged; MSH-7 used.
  const RecordError* dst = FindError(r, "dst_nonexistent_local_time");
  ASSERT_NE(dst, nullptr);
  EXPECT_TRUE(dst->flagged_only());
  EXPECT_EQ(dst->field(), "EVN-2");
  EXPECT_EQ(gateway_.accepted[2].occurred_at().seconds(),
            DaysFromCivil(2026, 3, 29) * 86400 + 2 * 3600 + 15 * 60);
  // A40: replaced identifiers carried.
  const auto& merge = gateway_.accepted[3].person_update();
  ASSERT_EQ(merge.superseded_identifiers_size(), 2);
  EXPECT_EQ(merge.superseded_identifiers(1).value(), "9990000050");
  EXPECT_NE(FindError(r, "hl7_unsupported_event"), nullptr);
  EXPECT_NE(FindError(r, "dst_ambiguous_local_time"), nullptr);
  EXPECT_NE(FindError(r, "case_ref_unresolved"), nullptr);
  EXPECT_NE(FindError(r, "nhs_number_impossible_stem"), nullptr);
  Golden("adt_batch.hl7", r);
}

// The UPN identifier of `p`, or nullptr.
const cv1::Identifier* UpnOf(const cv1::Person& p) {
  for (const auto& id : p.identifiers()) {
    if (id.system() == "urn:ehx:id:upn") return &id;
  }
  return nullptr;
}

// A temporary UPN (protos/README.md: ends in a letter, MUST be TEMPORARY,
// never a merge key) sent on a FHIR Patient: normalised, kept TEMPORARY
// with the text as sent, flagged `upn_temporary` (the record is still
// published); and a second Patient whose only identifier is that same
// temporary UPN is not matched to the first one's case: it is dropped
// with `case_ref_unresolved`.
TEST_F(IngestTest, GoldenFhirTemporaryUpnIsFlaggedAndNeverMatched) {
  const IngestReport r = ingestor_->Ingest(
      "bundle_temporary_upn.json", Fixture("bundle_temporary_upn.json"));
  EXPECT_EQ(r.records_total(), 2);
  EXPECT_EQ(r.records_published(), 1) << ToJson(r);
  ASSERT_EQ(gateway_.accepted.size(), 1u);
  EXPECT_EQ(gateway_.accepted[0].case_ref(), "EH-2026-000124");
  const cv1::Identifier* upn =
      UpnOf(gateway_.accepted[0].person_update().person());
  ASSERT_NE(upn, nullptr);
  EXPECT_EQ(upn->value(), "A80120000501A");
  EXPECT_EQ(upn->original_value(), "a801 2000 0501a");
  EXPECT_EQ(upn->verification(), cv1::VERIFICATION_STATUS_TEMPORARY);
  const RecordError* flag = FindError(r, "upn_temporary");
  ASSERT_NE(flag, nullptr);
  EXPECT_TRUE(flag->flagged_only());
  EXPECT_EQ(flag->field(), "Bundle.entry[0].resource.identifier[1].value");
  const RecordError* unmatched = FindError(r, "case_ref_unresolved");
  ASSERT_NE(unmatched, nullptr);
  EXPECT_FALSE(unmatched->flagged_only());
  EXPECT_EQ(unmatched->position(), "Bundle.entry[1]");
  Golden("bundle_temporary_upn.json", r);
}

// The same for HL7 v2: a PID-3 repetition of identifier type `UPN` (or
// assigning authority `UPN`) is a UPN, checked like the FHIR one (it used
// to go out unflagged under the local hl7-cx-UPN system). The ACK is AA
// with the flag as an ERR segment; the message whose only link is the
// temporary UPN is refused (AE, case_ref_unresolved).
TEST_F(IngestTest, GoldenHl7TemporaryUpnIsFlaggedAndNeverMatched) {
  const IngestReport r = ingestor_->Ingest("adt_temporary_upn.hl7",
                                           Fixture("adt_temporary_upn.hl7"));
  EXPECT_EQ(r.records_total(), 2);
  EXPECT_EQ(r.records_published(), 1) << ToJson(r);
  ASSERT_EQ(gateway_.accepted.size(), 1u);
  EXPECT_EQ(gateway_.accepted[0].case_ref(), "EH-2026-000125");
  const cv1::Person& p = gateway_.accepted[0].person_update().person();
  const cv1::Identifier* upn = UpnOf(p);
  ASSERT_NE(upn, nullptr);
  EXPECT_EQ(upn->value(), "C80120000502B");
  EXPECT_EQ(upn->verification(), cv1::VERIFICATION_STATUS_TEMPORARY);
  for (const auto& id : p.identifiers()) {
    EXPECT_THAT(id.system(), Not(HasSubstr("hl7-cx-UPN")));
  }
  const RecordError* flag = FindError(r, "upn_temporary");
  ASSERT_NE(flag, nullptr);
  EXPECT_TRUE(flag->flagged_only());
  EXPECT_EQ(flag->field(), "PID-3[2]");
  EXPECT_NE(FindError(r, "case_ref_unresolved"), nullptr);
  Golden("adt_temporary_upn.hl7", r);

  const std::string file = Fixture("adt_temporary_upn.hl7");
  const size_t second = file.find("MSH", 1);
  ASSERT_NE(second, std::string::npos);
  const std::string first_message = file.substr(0, second - 1);
  const std::string ack = ingestor_->IngestHl7Message(first_message, nullptr);
  EXPECT_THAT(ack, HasSubstr("MSA|AA|MSG-A28-0011"));
  EXPECT_THAT(ack, HasSubstr("upn_temporary"));
  EXPECT_THAT(ack, Not(HasSubstr("C80120000502B")));
  const std::string refused =
      ingestor_->IngestHl7Message(file.substr(second), nullptr);
  EXPECT_THAT(refused, HasSubstr("MSA|AE|MSG-A28-0012"));
  EXPECT_THAT(refused, HasSubstr("case_ref_unresolved"));
}

TEST_F(IngestTest, RereadingPublishesNothingNew) {
  for (const char* f : {"patient_zoe.json", "bundle_mixed.json",
                        "adt_a04_latin1.hl7", "adt_batch.hl7"}) {
    ingestor_->Ingest(f, Fixture(f));
  }
  const size_t n = gateway_.accepted.size();
  std::vector<std::string> keys;
  for (const auto& e : gateway_.accepted) keys.push_back(e.idempotency_key());
  for (const char* f : {"patient_zoe.json", "bundle_mixed.json",
                        "adt_a04_latin1.hl7", "adt_batch.hl7"}) {
    ingestor_->Ingest(f, Fixture(f));
  }
  EXPECT_EQ(gateway_.accepted.size(), n);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(std::unique(keys.begin(), keys.end()), keys.end());
}

TEST_F(IngestTest, NoPersonalDataInReportsOrAcks) {
  std::string all;
  for (const char* f : {"patient_zoe.json", "bundle_mixed.json",
                        "adt_a04_latin1.hl7", "adt_batch.hl7"}) {
    IngestReport r = ingestor_->Ingest(f, Fixture(f));
    r.clear_published();
    all += ToJson(r);
  }
  const std::string batch = Fixture("adt_batch.hl7");
  size_t begin = 0;
  while (begin < batch.size()) {
    size_t next = batch.find("\r\nMSH", begin);
    const std::string msg = batch.substr(begin, next - begin);
    all += ingestor_->IngestHl7Message(msg, nullptr);
    if (next == std::string::npos) break;
    begin = next + 2;
  }
  all += ingestor_->IngestFhirHttp(Fixture("bundle_mixed.json")).body;
  for (const char* secret :
       {"999", "Zo", "Súilleabháin", "Wi\xc5\x9bniewski", "Brien", "Arcy",
        "Patel", "Kowalczyk", "Nguyen", "Mill Lane", "TS18", "01642",
        "A12345678901B", "20241027", "2024-10-27"}) {
    EXPECT_THAT(all, Not(HasSubstr(secret))) << secret;
  }
}

TEST_F(IngestTest, UnparseableInputsAreRejectedWhole) {
  for (const std::string bad :
       {std::string("{\"resourceType\":\"Patient\",\"id\":"),
        std::string("hello"), std::string("{\"resourceType\":\"Observation\"}"),
        std::string(100, '[') + std::string(100, ']'),
        std::string("{\"a\":") + std::string(5000, '[')}) {
    const IngestReport r = ingestor_->Ingest("bad", bad);
    EXPECT_TRUE(r.input_rejected()) << bad.substr(0, 40);
    EXPECT_FALSE(r.input_error().empty());
  }
  const IngestReport r = ingestor_->Ingest(
      "bad.hl7", std::string("MSH|^~\\&||||||||||||||||8859/9\rPID|1"));
  EXPECT_TRUE(r.input_rejected());
  EXPECT_THAT(r.input_error(), HasSubstr("hl7_charset_unsupported"));
  EXPECT_TRUE(gateway_.accepted.empty());
}

TEST_F(IngestTest, RefusedRecordGetsTheGatewayRuleAndTheRestGoesOn) {
  gateway_.refuse_case = "EH-2026-000124";
  const IngestReport r =
      ingestor_->Ingest("bundle_mixed.json", Fixture("bundle_mixed.json"));
  const RecordError* e = FindError(r, "date_of_birth_in_future");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->position(), "Bundle.entry[0]");
  EXPECT_EQ(e->field(), "person_update.person.date_of_birth");
  EXPECT_EQ(r.records_published(), 4);
}

TEST_F(IngestTest, AcksNameTheProblem) {
  const std::string ok =
      ingestor_->IngestHl7Message(Fixture("adt_a04_latin1.hl7"), nullptr);
  EXPECT_THAT(ok, HasSubstr("\rMSA|AA|MSG-A04-0001|accepted\r"));
  EXPECT_THAT(ok, HasSubstr("|ACK^A04^ACK|"));
  const std::string bad = ingestor_->IngestHl7Message(
      "MSH|^~\\&|PAS|RXX01|ROUTE|EHX|20260304150000+0000||ADT^A08|C9|P|2.4\r"
      "EVN|A08|20260304150000+0000\r",
      nullptr);
  EXPECT_THAT(bad, HasSubstr("\rMSA|AE|C9|required\r"));
  EXPECT_THAT(bad, HasSubstr("\rERR|PID^1^^101&required&HL70357\r"));
  const std::string unsupported = ingestor_->IngestHl7Message(
      "MSH|^~\\&|PAS|RXX01|ROUTE|EHX|20260304150000+0000||ADT^A01|C10|P|2.4\r",
      nullptr);
  EXPECT_THAT(unsupported, HasSubstr("\rMSA|AR|C10|hl7_unsupported_event"));
  EXPECT_THAT(unsupported, HasSubstr("ERR|MSH^1^9^201&hl7_unsupported_event"));
  const std::string garbage = ingestor_->IngestHl7Message("garbage", nullptr);
  EXPECT_THAT(garbage, HasSubstr("MSA|AR||hl7_no_msh"));
  gateway_.unavailable = true;
  const std::string later =
      ingestor_->IngestHl7Message(Fixture("adt_a04_latin1.hl7"), nullptr);
  EXPECT_THAT(later, HasSubstr("MSA|AR|MSG-A04-0001|gateway_unavailable"));
}

TEST(IdentityStateTest, VerifiedSurvivesReopen) {
  const std::string dir = ::testing::TempDir() + "/health_state_reopen";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/identity.sqlite3";
  FakeGateway gw;
  {
    std::string error;
    auto state = IdentityState::Open(path, &error);
    ASSERT_NE(state, nullptr) << error;
    Ingestor in(TestConfig(), state.get(), gw.Fn());
    in.Ingest("a04", Fixture("adt_a04_latin1.hl7"));
  }
  std::string error;
  auto state = IdentityState::Open(path, &error);
  ASSERT_NE(state, nullptr);
  IdentityState::Entry e;
  ASSERT_TRUE(state->Get("pas:PAS123456", &e));
  EXPECT_EQ(e.nhs_number, "9990000018");
  EXPECT_TRUE(e.verified);
  EXPECT_EQ(e.source_code, "01");
  EXPECT_EQ(std::filesystem::status(path).permissions() &
                std::filesystem::perms::others_read,
            std::filesystem::perms::none);
}

TEST(FhirHttp, StatusCodesAndOperationOutcome) {
  FakeGateway gw;
  Ingestor in(TestConfig(), nullptr, gw.Fn());
  auto a = in.IngestFhirHttp(Fixture("patient_zoe.json"));
  EXPECT_EQ(a.status, 200);
  EXPECT_THAT(a.body, HasSubstr("\"resourceType\": \"OperationOutcome\""));
  a = in.IngestFhirHttp(Fixture("bundle_mixed.json"));
  EXPECT_EQ(a.status, 422);
  EXPECT_THAT(a.body, HasSubstr("\"Bundle.entry[5].resource.id\""));
  EXPECT_THAT(a.body, HasSubstr("required: Patient.id is required"));
  a = in.IngestFhirHttp("not json");
  EXPECT_EQ(a.status, 400);
  gw.unavailable = true;
  a = in.IngestFhirHttp(Fixture("patient_zoe.json"));
  EXPECT_EQ(a.status, 503);
}

// ---------------------------------------------------------------- render

TEST(Render, CafNotificationGolden) {
  ::ehxpb::adapter::v1::RenderResult out;
  ASSERT_TRUE(RenderCommunication(CafDelivery(), &out).ok());
  EXPECT_EQ(out.file_name(), "Communication-01JCAF0000000000000000001.json");
  EXPECT_EQ(out.media_type(), "application/fhir+json");
  const std::string path = std::string(EHX_SOURCE_DIR) +
                           "/tests/adapters/health/fixtures/"
                           "communication_caf.golden.json";
  if (std::getenv("EHX_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << out.content();
  }
  EXPECT_EQ(out.content(), Fixture("communication_caf.golden.json"));
}

TEST(Render, StepDownAndOthers) {
  ex::Delivery d = CafDelivery();
  ex::Envelope* e = d.mutable_envelope();
  e->set_event_type(ex::EVENT_TYPE_STEP_DOWN);
  e->mutable_step_down()->set_closure_reason("RC9");
  e->mutable_step_down()->mutable_lead_practitioner()->set_name("Sam Example");
  ::ehxpb::adapter::v1::RenderResult out;
  ASSERT_TRUE(RenderCommunication(d, &out).ok());
  EXPECT_THAT(out.content(), HasSubstr("\"code\": \"step-down\""));
  EXPECT_THAT(out.content(), HasSubstr("closure reason RC9"));
  e->mutable_plan();
  e->set_event_type(ex::EVENT_TYPE_PLAN_UPDATED);
  EXPECT_EQ(RenderCommunication(d, &out).code(),
            ehx::sdk::Code::kFailedPrecondition);
}

}  // namespace
}  // namespace ehx::adapters::health
