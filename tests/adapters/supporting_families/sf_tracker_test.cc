// The tracker extract end to end through the adapter's Ingest, with every
// envelope checked by the gateway's validator; golden output.
#include "sf_tracker.h"

#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include "ehx_adapter_protos.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sf_adapter.h"
#include "sf_test_util.h"

namespace ehx::adapters::supporting_families {
namespace {

namespace fs = std::filesystem;
using ::ehx::sf_test::ReadFixture;
using ::ehx::sf_test::ValidatingHost;
using ::testing::HasSubstr;
using ::testing::Not;
using IngestReport = ::ehxpb::adapter::v1::IngestReport;

constexpr char kFixture[] =
    "sf-outcome-tracker-801-2026-Q2-20260612T153000Z.csv";

class Scratch {
 public:
  Scratch() {
    path_ =
        fs::temp_directory_path() / ("sf_test_" + std::to_string(::getpid()) +
                                     "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~Scratch() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

SupportingFamiliesConfig Config(const fs::path& dir) {
  SupportingFamiliesConfig c;
  c.set_inbox_dir((dir / "in").string());
  c.set_outbox_dir((dir / "out").string());
  c.set_state_dir((dir / "state").string());
  c.set_create_dirs(true);
  c.set_la_code("801");
  c.set_min_file_age_ms(1);
  return c;
}

std::string Golden(const IngestReport& report,
                   const std::vector<ehx::exchange::v1::Envelope>& accepted) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  for (const auto& env : accepted) {
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(env, &json, o);
    out += json + "\n";
  }
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(report, &json, o);
  out += json + "\n";
  return out;
}

// Compares with fixtures/<name>; EHX_UPDATE_GOLDEN=1 rewrites it.
void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(EHX_SF_FIXTURES) + "/" + name;
  if (std::getenv("EHX_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << actual;
  }
  EXPECT_EQ(ReadFixture(name), actual) << "golden " << name
                                       << " differs (EHX_UPDATE_GOLDEN=1 to "
                                          "rewrite after checking)";
}

struct SfRun {
  Scratch scratch;
  ValidatingHost host;
  std::unique_ptr<SupportingFamiliesAdapter> adapter;
  SfRun() {
    adapter = std::make_unique<SupportingFamiliesAdapter>(
        Config(scratch.path()), ehx::sdk::Host(host.api(), &host));
  }
  IngestReport Ingest(const std::string& fixture) {
    return adapter->Ingest(fixture, ReadFixture(fixture));
  }
};

const ehxpb::adapter::v1::RecordError* FindError(const IngestReport& r,
                                                 const std::string& position,
                                                 const std::string& rule) {
  for (const auto& e : r.errors()) {
    if (e.position() == position && e.rule() == rule) return &e;
  }
  return nullptr;
}

TEST(SfTracker, FixtureMatchesGoldenAndPassesTheGatewayValidator) {
  SfRun run;
  IngestReport report = run.Ingest(kFixture);
  EXPECT_FALSE(report.input_rejected());
  EXPECT_EQ(report.records_total(), 12);
  EXPECT_EQ(report.records_published(), 10);
  EXPECT_EQ(report.records_failed(), 2);
  EXPECT_THAT(run.host.violations(), ::testing::IsEmpty());
  ASSERT_EQ(run.host.accepted().size(), 10u);
  ExpectGolden("tracker.golden.jsonl", Golden(report, run.host.accepted()));
}

TEST(SfTracker, TrickyValuesAreKeptExactlyOrFlagged) {
  SfRun run;
  IngestReport report = run.Ingest(kFixture);
  const auto accepted = run.host.accepted();
  std::map<std::string, ehx::exchange::v1::Envelope> by_person;
  for (const auto& e : accepted) {
    by_person[e.outcome_evidence().person().person_id()] = e;
  }
  // Non-ASCII names, apostrophes and hyphens, exactly as written.
  const auto& zoe = by_person["P-123-01"].outcome_evidence().person();
  EXPECT_EQ(zoe.legal_name().given(), "Zoë");
  EXPECT_EQ(zoe.legal_name().family(), "Ó Súilleabháin");
  EXPECT_EQ(
      by_person["P-123-02"].outcome_evidence().person().legal_name().family(),
      "Wiśniewski-O'Connor");
  EXPECT_EQ(
      by_person["P-123-03"].outcome_evidence().person().legal_name().family(),
      "D'Arcy");
  // Temporary UPN stored as TEMPORARY, flagged.
  ASSERT_EQ(zoe.identifiers_size(), 2);
  EXPECT_EQ(zoe.identifiers(1).verification(),
            ehx::cases::v1::VERIFICATION_STATUS_TEMPORARY);
  EXPECT_NE(FindError(report, "record 7 (line 9)", "upn_temporary"), nullptr);
  // Bad check digit and impossible stem: kept raw, marked INVALID, the row
  // still published with the problem flagged.
  const auto& jordan = by_person["P-100-03"].outcome_evidence().person();
  EXPECT_EQ(jordan.identifiers(0).verification(),
            ehx::cases::v1::VERIFICATION_STATUS_INVALID);
  EXPECT_EQ(jordan.identifiers(0).value(), "9990000027");
  auto* bad = FindError(report, "record 6 (line 8)", "nhs_number_invalid");
  ASSERT_NE(bad, nullptr);
  EXPECT_TRUE(bad->flagged_only());
  EXPECT_EQ(bad->field(), "nhs_number");
  auto* stem = FindError(report, "record 8 (line 10)", "nhs_number_invalid");
  ASSERT_NE(stem, nullptr);
  EXPECT_THAT(stem->message(), HasSubstr("would be 10"));
  // Spaced NHS number normalised.
  EXPECT_EQ(
      by_person["P-100-01"].outcome_evidence().person().identifiers(0).value(),
      "9990000018");
  // Clock changes flagged, not guessed.
  EXPECT_NE(
      FindError(report, "record 7 (line 9)", "dst_nonexistent_local_time"),
      nullptr);
  EXPECT_NE(FindError(report, "record 9 (line 11)", "dst_ambiguous_local_time"),
            nullptr);
  // Missing required value and an old headline: rows dropped, rest in.
  auto* missing =
      FindError(report, "record 10 (line 12)", "required_value_missing");
  ASSERT_NE(missing, nullptr);
  EXPECT_FALSE(missing->flagged_only());
  EXPECT_EQ(missing->field(), "surname");
  EXPECT_NE(
      FindError(report, "record 11 (line 13)", "unknown_headline_outcome"),
      nullptr);
  EXPECT_EQ(by_person.count("P-123-04"), 0u);
  // The embedded line break of a quoted note is kept exactly.
  bool found_note = false;
  for (const auto& e : accepted) {
    if (e.outcome_evidence().evidence().find(
            "notes: Payslips seen.\r\nChecked by \"internal audit\" on "
            "20/09/2025.") != std::string::npos) {
      found_note = true;
    }
  }
  EXPECT_TRUE(found_note);
  // Unknown column preserved.
  EXPECT_THAT(zoe.person_id(), "P-123-01");
  EXPECT_THAT(by_person["P-123-01"].outcome_evidence().evidence(),
              HasSubstr("extra.local_flag: school-held"));
  EXPECT_NE(FindError(report, "file", "unknown_column"), nullptr);
}

TEST(SfTracker, NoPersonalDataInAnyRecordError) {
  SfRun run;
  IngestReport report = run.Ingest(kFixture);
  for (const auto& e : report.errors()) {
    for (const char* value :
         {"Zoë", "Súilleabháin", "Wiśniewski", "D'Arcy", "Placeholder",
          "9990000027", "999000014", "9990000094", "c80120000501t",
          "B80120000501T", "Payslips", "Amélie", "Riley", "1986",
          "30/03/2015"}) {
      EXPECT_THAT(e.message(), Not(HasSubstr(value))) << e.rule();
      EXPECT_THAT(e.position(), Not(HasSubstr(value))) << e.rule();
    }
  }
}

TEST(SfTracker, ReReadingTheSameExtractPublishesIdenticalMessages) {
  SfRun run;
  run.Ingest(kFixture);
  const auto first = run.host.accepted();
  run.Ingest(kFixture);
  const auto all = run.host.accepted();
  ASSERT_EQ(all.size(), 2 * first.size());
  for (size_t i = 0; i < first.size(); ++i) {
    // Same key, same bytes: the gateway answers with the original receipt.
    EXPECT_EQ(all[first.size() + i].idempotency_key(),
              first[i].idempotency_key());
    EXPECT_EQ(all[first.size() + i].SerializeAsString(),
              first[i].SerializeAsString());
  }
  // A changed row is a new version: same row key, new key suffix.
  std::string changed = ReadFixture(kFixture);
  const std::string from = "81.5%";
  changed.replace(changed.find(from), from.size(), "82.5%");
  run.adapter->Ingest(kFixture, changed);
  const auto after = run.host.accepted();
  const std::string old_key = first[0].idempotency_key();
  const std::string new_key = after[2 * first.size()].idempotency_key();
  EXPECT_NE(new_key, old_key);
  EXPECT_EQ(new_key.substr(0, new_key.rfind("-v")),
            old_key.substr(0, old_key.rfind("-v")));
}

TEST(SfTracker, FileLevelErrorsRejectTheWholeFileAndPublishNothing) {
  for (const auto& [fixture, code] :
       std::vector<std::pair<std::string, std::string>>{
           {"unterminated.csv", "csv_unterminated_quote"},
           {"not-utf8.csv", "file_not_utf8"},
           {"missing-column.csv", "missing_column"}}) {
    SfRun run;
    IngestReport report = run.Ingest(fixture);
    EXPECT_TRUE(report.input_rejected()) << fixture;
    EXPECT_THAT(report.input_error(), HasSubstr(code)) << fixture;
    EXPECT_TRUE(run.host.accepted().empty()) << fixture;
  }
  SfRun run;
  EXPECT_THAT(run.adapter->Ingest("x.csv", "").input_error(),
              HasSubstr("empty_file"));
  EXPECT_THAT(run.adapter->Ingest("x.csv", "la_code,la_code\r\n").input_error(),
              HasSubstr("duplicate_column"));
}

TEST(SfTracker, InconsistentFamilyFieldCountAndBadDobAreRejectedPerRow) {
  SfRun run;
  IngestReport report = run.Ingest("lf-only.csv");
  EXPECT_FALSE(report.input_rejected());
  EXPECT_EQ(report.records_total(), 4);
  EXPECT_EQ(report.records_published(), 0);
  EXPECT_EQ(report.records_failed(), 4);
  auto* fam =
      FindError(report, "record 1 (line 2)", "inconsistent_family_columns");
  ASSERT_NE(fam, nullptr);
  EXPECT_EQ(fam->field(), "lead_practitioner_ref");
  EXPECT_NE(
      FindError(report, "record 2 (line 3)", "inconsistent_family_columns"),
      nullptr);
  EXPECT_NE(FindError(report, "record 3 (line 4)", "field_count_mismatch"),
            nullptr);
  EXPECT_NE(FindError(report, "record 4 (line 5)", "unparseable_date"),
            nullptr);
  EXPECT_NE(FindError(report, "file", "nonstandard_file_name"), nullptr);
}

TEST(SfTracker, AGatewayRefusalIsARecordErrorAndTheRestGoesThrough) {
  SfRun run;
  run.host.refuse = [](const ehx::exchange::v1::Envelope& e) {
    return e.outcome_evidence().person().person_id() == "P-77-01";
  };
  IngestReport report = run.Ingest(kFixture);
  EXPECT_EQ(report.records_published(), 9);
  EXPECT_EQ(report.records_failed(), 3);
  auto* e = FindError(report, "record 1 (line 2)", "test_refusal");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->field(), "case_ref");
}

TEST(SfTracker, ClaimCheckAndDuplicateRowKeys) {
  TrackerOptions options;
  TrackerFile f = ParseTracker(kFixture, ReadFixture(kFixture), options);
  ASSERT_EQ(f.families.size(), 3u);
  EXPECT_TRUE(f.families[0].claim_passes);  // SF801-000077
  EXPECT_TRUE(f.families[0].issues.empty());
  EXPECT_THAT(
      f.families[1].claim_fail_reasons,
      ::testing::IsSupersetOf({"case_not_closed", "outcome_not_achieved",
                               "not_sustained", "sustainment_check_missing"}));
  EXPECT_THAT(f.families[2].claim_fail_reasons,
              ::testing::Contains("rows_rejected"));
  // Claimable but the check is too early: disputed.
  std::string early = ReadFixture(kFixture);
  for (size_t p; (p = early.find("15/09/2025 00:00")) != std::string::npos;) {
    early.replace(p, 16, "14/09/2025");
  }
  TrackerFile g = ParseTracker(kFixture, early, options);
  EXPECT_THAT(g.families[0].claim_fail_reasons,
              ::testing::ElementsAre("sustainment_check_too_early"));
  ASSERT_EQ(g.families[0].issues.size(), 1u);
  EXPECT_EQ(g.families[0].issues[0].code, "claim_status_disputed");
  // The same row key twice: both rows rejected.
  std::string dup = ReadFixture(kFixture);
  const size_t line3 = dup.find("\r\n801,2026-Q2,SF801-000100,LP-0041");
  const size_t end = dup.find("\r\n", line3 + 2);
  dup += dup.substr(line3 + 2, end - line3);
  TrackerFile h = ParseTracker(kFixture, dup, options);
  int dups = 0;
  for (const auto& r : h.rows) {
    for (const auto& i : r.issues) dups += i.code == "duplicate_row_key";
  }
  EXPECT_EQ(dups, 2);
}

// One tracker row per headline outcome (all ten, the exact wording of the
// contract's section 8, typed here rather than taken from sf_values.cc so
// the two are checked against each other): each row is published, passes
// the gateway validator and carries its OutcomeArea and gateway code. The
// golden fixture only has six of the ten.
TEST(SfTracker, EveryHeadlineOutcomeMapsToItsArea) {
  namespace cv1 = ::ehx::cases::v1;
  struct Case {
    const char* headline;
    const char* need;
    cv1::OutcomeArea area;
    const char* code;
  };
  const Case kCases[] = {
      {"Getting a good education", "Child persistently absent from school",
       cv1::OUTCOME_AREA_GOOD_EDUCATION, "education"},
      {"Good early years development",
       "Child not meeting expected development at review",
       cv1::OUTCOME_AREA_EARLY_YEARS_DEVELOPMENT, "early_years"},
      {"Improved mental and physical health", "Adult mental health need",
       cv1::OUTCOME_AREA_MENTAL_PHYSICAL_HEALTH, "health"},
      {"Better managed substance use", "Harmful alcohol use by an adult",
       cv1::OUTCOME_AREA_SUBSTANCE_USE, "substance_use"},
      {"Improved family relationships",
       "Conflict between parents harming the children",
       cv1::OUTCOME_AREA_FAMILY_RELATIONSHIPS, "family_relationships"},
      {"Children safe from abuse and exploitation",
       "Child at risk of exploitation",
       cv1::OUTCOME_AREA_SAFE_FROM_ABUSE_EXPLOITATION, "abuse_exploitation"},
      {"Families diverted from crime", "Anti-social behaviour",
       cv1::OUTCOME_AREA_DIVERTED_FROM_CRIME, "crime"},
      {"Safe from domestic abuse", "Adult experiencing domestic abuse",
       cv1::OUTCOME_AREA_SAFE_FROM_DOMESTIC_ABUSE, "domestic_abuse"},
      {"Secure housing", "Rent arrears threatening the tenancy",
       cv1::OUTCOME_AREA_SECURE_HOUSING, "housing"},
      {"Financial stability", "Family in problem debt",
       cv1::OUTCOME_AREA_FINANCIAL_STABILITY, "financial_stability"},
  };
  std::string csv =
      "la_code,claim_window,family_ref,lead_practitioner_ref,"
      "lead_practitioner_service,date_identified,whole_family_assessment_date,"
      "family_plan_date,case_closure_date,sustainment_check_date,person_ref,"
      "role_in_family,surname,forename,dob,sex,nhs_number,upn,"
      "headline_outcome,family_need,need_evidence_source,baseline_value,"
      "baseline_date,outcome_value,outcome_date,outcome_achieved,"
      "sustained_6m_after_closure,claim_status,notes\r\n";
  for (const Case& c : kCases) {
    csv += std::string(
               "801,2026-Q2,SF801-000900,LP-0041,Early Help Team East,"
               "02/02/2026,20/02/2026,26/02/2026,,,P-900-01,child,"
               "Example,Ola,09/05/2016,F,9990000018,,") +
           c.headline + "," + c.need +
           ",Family assessment,,,,,,,in_progress,\r\n";
  }
  SfRun run;
  const IngestReport report = run.adapter->Ingest(
      "sf-outcome-tracker-801-2026-Q2-20260612T160000Z.csv", csv);
  EXPECT_FALSE(report.input_rejected());
  EXPECT_EQ(report.records_total(), 10);
  EXPECT_EQ(report.records_published(), 10);
  for (const auto& e : report.errors()) {
    EXPECT_NE(e.rule(), "unknown_headline_outcome") << e.position();
    EXPECT_NE(e.rule(), "headline_outcome_case") << e.position();
  }
  EXPECT_THAT(run.host.violations(), ::testing::IsEmpty());
  const auto accepted = run.host.accepted();
  ASSERT_EQ(accepted.size(), 10u);
  std::set<int> areas;
  for (size_t i = 0; i < accepted.size(); ++i) {
    const Case& c = kCases[i];
    const auto& ev = accepted[i].outcome_evidence();
    EXPECT_EQ(accepted[i].event_type(),
              ehx::exchange::v1::EVENT_TYPE_OUTCOME_EVIDENCE);
    EXPECT_EQ(ev.area(), c.area) << c.headline;
    EXPECT_EQ(ev.outcome_descriptor().code(), c.need) << c.headline;
    EXPECT_THAT(ev.evidence(), HasSubstr(std::string("headline_outcome: ") +
                                         c.headline + "\n"));
    EXPECT_THAT(ev.evidence(),
                HasSubstr(std::string("headline_code: ") + c.code + "\n"));
    areas.insert(ev.area());
  }
  EXPECT_EQ(areas.size(), 10u);
}

TEST(SfTracker, WrongAuthorityIsARowError) {
  SfRun run;
  std::string other = ReadFixture(kFixture);
  other.replace(other.find("\r\n801,") + 2, 3, "802");
  IngestReport report = run.adapter->Ingest(kFixture, other);
  EXPECT_NE(FindError(report, "record 1 (line 2)", "wrong_local_authority"),
            nullptr);
}

}  // namespace
}  // namespace ehx::adapters::supporting_families
