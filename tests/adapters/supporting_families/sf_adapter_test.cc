// Outbound evidence (Render / OnDelivery) and the inbox loop.
#include "sf_adapter.h"

#include <google/protobuf/util/json_util.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "ehx_adapter_protos.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sf_test_util.h"

namespace ehx::adapters::supporting_families {
namespace {

namespace fs = std::filesystem;
using ::ehx::sf_test::ReadFixture;
using ::ehx::sf_test::ValidatingHost;
using ::testing::HasSubstr;
using ::testing::Not;
using Delivery = ::ehxpb::exchange::v1::Delivery;

constexpr char kFixture[] =
    "sf-outcome-tracker-801-2026-Q2-20260612T153000Z.csv";
constexpr char kHeader[] =
    "la_code,family_ref,person_ref,evidence_id,evidence_type,headline_outcome,"
    "period_kind,period_start,period_end,source,source_extract_date,match_"
    "method,school_urn,school_laestab,academic_year,sessions_possible,"
    "sessions_attended,sessions_authorised_absence,sessions_unauthorised_"
    "absence,attendance_pct,persistent_absence,severe_absence,asb_role,asb_"
    "incident_count,asb_highest_intervention,data_quality_flags,generated_at";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

struct Fixture {
  fs::path dir;
  ValidatingHost host;
  std::unique_ptr<SupportingFamiliesAdapter> adapter;
  explicit Fixture(bool ingest = true) {
    static int n = 0;
    dir = fs::temp_directory_path() /
          ("sf_adapter_test_" + std::to_string(::getpid()) + "_" +
           std::to_string(n++));
    fs::remove_all(dir);
    Make();
    if (ingest) adapter->Ingest(kFixture, ReadFixture(kFixture));
  }
  void Make() {
    SupportingFamiliesConfig c;
    c.set_inbox_dir((dir / "in").string());
    c.set_outbox_dir((dir / "out").string());
    c.set_state_dir((dir / "state").string());
    c.set_create_dirs(true);
    c.set_la_code("801");
    c.set_min_file_age_ms(1);
    adapter.reset();
    adapter = std::make_unique<SupportingFamiliesAdapter>(
        c, ehx::sdk::Host(host.api(), &host));
  }
  ~Fixture() {
    adapter.reset();
    fs::remove_all(dir);
  }
};

Delivery FromJson(const std::string& json) {
  Delivery d;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &d).ok())
      << json;
  return d;
}

// Amélie (P-100-01, in_progress) by her NHS number: the contract's 14.2 row.
Delivery Attendance(const std::string& identifiers) {
  return FromJson(R"({"deliveryId": "1", "envelope": {
      "messageId": "m-att-1", "caseRef": "EH-2026-000100",
      "eventType": "EVENT_TYPE_ATTENDANCE_SUMMARY",
      "occurredAt": "2026-03-27T08:00:00Z",
      "acceptedAt": "2026-04-01T06:00:00Z",
      "attendanceSummary": {
        "pupil": {"identifiers": )" +
                  identifiers + R"(},
        "academicYear": "2025/26", "schoolUrn": "100001",
        "schoolLaEstab": "8012000",
        "periodStart": {"year": 2025, "month": 9, "day": 3},
        "sessionsPossible": 230, "sessionsAttended": 200,
        "sessionsAuthorisedAbsence": 18, "sessionsUnauthorisedAbsence": 12}}})");
}

Delivery Asb(const std::string& kind, const std::string& extra) {
  return FromJson(R"({"deliveryId": "2", "envelope": {
      "messageId": "m-asb-)" +
                  kind + R"(", "caseRef": "EH-2024-000077",
      "eventType": "EVENT_TYPE_OUTCOME_EVIDENCE",
      "occurredAt": "2025-09-20T09:00:00Z",
      "acceptedAt": "2026-04-01T06:00:00Z",
      "outcomeEvidence": {"familyId": "SF801-000077",
        "person": {"personId": "P-77-02",
                   "dateOfBirth": {"year": 1986, "month": 7, "day": 4}},
        "area": "OUTCOME_AREA_DIVERTED_FROM_CRIME",
        "evidenceSource": "police",
        "evidence": "match_method: reviewed\nasb_role: perpetrator\nperiod_kind: )" +
                  kind + R"(\n)" + extra + R"("}}})");
}

TEST(SfEvidence, AttendanceRowMatchesTheContractExample) {
  Fixture f;
  ehxpb::adapter::v1::RenderResult out;
  auto st = f.adapter->Render(
      Attendance(R"([{"system": "https://fhir.nhs.uk/Id/nhs-number",
                      "value": "9990000018",
                      "verification": "VERIFICATION_STATUS_VERIFIED"}])"),
      &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out.file_name(), "sf-evidence-801-20260401T060000Z.csv");
  EXPECT_EQ(out.media_type(), "text/csv; charset=utf-8");
  const std::string expected =
      std::string("\xEF\xBB\xBF") + kHeader + "\r\n" +
      "801,SF801-000100,P-100-01," +
      Uuid5(
          "school_attendance|SF801-000100|P-100-01|academic_year|2025/26|"
          "100001|school_mis") +
      ",school_attendance,Getting a good education,academic_year,2025-09-03,"
      "2026-03-27,school_mis,2026-03-27,nhs_number,100001,8012000,2025/26,230,"
      "200,18,12,87.0,Y,N,,,,,2026-04-01T06:00:00Z\r\n";
  EXPECT_EQ(out.content(), expected);
}

TEST(SfEvidence, PermanentUpnMatchesTemporaryOrInvalidIdentifiersNever) {
  Fixture f;
  ehxpb::adapter::v1::RenderResult out;
  EXPECT_TRUE(f.adapter
                  ->Render(Attendance(R"([{"system": "urn:ehx:id:upn",
                      "value": "B801200005001",
                      "verification": "VERIFICATION_STATUS_UNVERIFIED"}])"),
                           &out)
                  .ok());
  EXPECT_THAT(out.content(), HasSubstr(",upn,"));
  // Zoë's temporary UPN, Jordan's invalid NHS number: never a link.
  for (const char* ids :
       {R"([{"system": "urn:ehx:id:upn", "value": "B80120000501T",
             "verification": "VERIFICATION_STATUS_TEMPORARY"}])",
        R"([{"system": "https://fhir.nhs.uk/Id/nhs-number",
             "value": "9990000027"}])"}) {
    auto st = f.adapter->Render(Attendance(ids), &out);
    EXPECT_EQ(st.code(), ehx::sdk::Code::kNotFound) << ids;
  }
  // A claimable family is in scope, an unknown person is not.
  auto st = f.adapter->Render(
      Attendance(R"([{"system": "https://fhir.nhs.uk/Id/nhs-number",
                      "value": "9990000158"}])"),
      &out);
  EXPECT_EQ(st.code(), ehx::sdk::Code::kNotFound);
}

TEST(SfEvidence, AsbPeriodsFollowTheTrackerDates) {
  Fixture f;
  ehxpb::adapter::v1::RenderResult out;
  ASSERT_TRUE(f.adapter
                  ->Render(Asb("sustainment",
                               "asb_incident_count: 0\n"
                               "asb_highest_intervention: none"),
                           &out)
                  .ok());
  EXPECT_THAT(out.content(),
              HasSubstr(",asb,Families diverted from crime,sustainment,"
                        "2025-03-16,2025-09-15,police,2025-09-20,reviewed,"
                        ",,,,,,,,,,perpetrator,0,none,,2026-04-01T06:00:00Z"));
  ASSERT_TRUE(f.adapter
                  ->Render(Asb("baseline",
                               "asb_incident_count: 2\n"
                               "asb_highest_intervention: warning_letter"),
                           &out)
                  .ok());
  EXPECT_THAT(out.content(),
              HasSubstr(",baseline,2023-06-10,2024-06-09,police,"));
  EXPECT_THAT(out.content(), HasSubstr(",perpetrator,2,warning_letter,"));
  auto bad =
      f.adapter->Render(Asb("baseline", "asb_incident_count: many"), &out);
  EXPECT_EQ(bad.code(), ehx::sdk::Code::kInvalidArgument);
  auto other = f.adapter->Render(FromJson(R"({"envelope": {
      "eventType": "EVENT_TYPE_CASE_CLOSED", "caseClosure": {}}})"),
                                 &out);
  EXPECT_EQ(other.code(), ehx::sdk::Code::kInvalidArgument);
}

TEST(SfEvidence, OnDeliveryWritesTheCompleteFileAndSurvivesARestart) {
  Fixture f;
  const Delivery att =
      Attendance(R"([{"system": "https://fhir.nhs.uk/Id/nhs-number",
                      "value": "9990000018"}])");
  EXPECT_EQ(f.adapter->OnDelivery(att).disposition,
            ehx::sdk::DeliveryResult::Disposition::kAck);
  EXPECT_EQ(f.adapter->OnDelivery(att).disposition,  // redelivery
            ehx::sdk::DeliveryResult::Disposition::kAck);
  f.Make();  // restart: index and evidence come back from state_dir
  EXPECT_EQ(f.adapter
                ->OnDelivery(Asb("baseline",
                                 "asb_incident_count: 2\n"
                                 "asb_highest_intervention: "
                                 "warning_letter"))
                .disposition,
            ehx::sdk::DeliveryResult::Disposition::kAck);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(f.dir / "out")) {
    files.push_back(e.path());
  }
  ASSERT_EQ(files.size(), 1u);  // same generated_at: the later file replaced
  const std::string csv = Slurp(files[0]);
  EXPECT_EQ(csv.substr(0, 3), "\xEF\xBB\xBF");
  auto parsed = ParseEvidenceCsv(csv);
  ASSERT_EQ(parsed.size(), 2u);  // one attendance, one ASB: no duplicate
  // Nothing to share: ack, no new rows.
  EXPECT_EQ(f.adapter
                ->OnDelivery(Attendance(
                    R"([{"system": "urn:ehx:id:upn", "value": "B80120000501T",
                         "verification": "VERIFICATION_STATUS_TEMPORARY"}])"))
                .disposition,
            ehx::sdk::DeliveryResult::Disposition::kAck);
  // Not renderable: rejected.
  EXPECT_EQ(f.adapter->OnDelivery(Delivery()).disposition,
            ehx::sdk::DeliveryResult::Disposition::kReject);
}

TEST(SfInbox, ExtractsAreArchivedOrRejectedWithAReport) {
  Fixture f(/*ingest=*/false);
  fs::copy_file(std::string(EHX_SF_FIXTURES) + "/" + kFixture,
                f.dir / "in" / kFixture);
  fs::copy_file(std::string(EHX_SF_FIXTURES) + "/unterminated.csv",
                f.dir / "in" / "unterminated.csv");
  std::ofstream(f.dir / "in" / "partial.csv.part") << "la_code\n";
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(f.adapter->ScanOnce().ok());
  EXPECT_TRUE(fs::exists(f.dir / "in" / "archive" / kFixture));
  EXPECT_TRUE(fs::exists(f.dir / "in" / "rejected" / "unterminated.csv"));
  EXPECT_TRUE(fs::exists(f.dir / "in" / "partial.csv.part"));  // ignored
  EXPECT_EQ(f.host.accepted().size(), 10u);
  const std::string report = Slurp(f.dir / "in" / "reports" /
                                   (std::string(kFixture) + ".report.json"));
  EXPECT_THAT(report, HasSubstr("\"result\":\"accepted_with_errors\""));
  EXPECT_THAT(report, HasSubstr("\"extractTime\":\"2026-06-12T15:30:00Z\""));
  EXPECT_THAT(report, HasSubstr("\"layout\":\"sf-outcome-tracker/1\""));
  EXPECT_THAT(report, HasSubstr("\"claimCheck\":{\"result\":\"passes\""));
  for (const char* pii : {"Zoë", "Placeholder", "9990000027", "Payslips",
                          "30/03/2015", "Súilleabháin"}) {
    EXPECT_THAT(report, Not(HasSubstr(pii)));
  }
  const std::string rejected =
      Slurp(f.dir / "in" / "reports" / "unterminated.csv.report.json");
  EXPECT_THAT(rejected, HasSubstr("\"result\":\"rejected\""));
  EXPECT_THAT(rejected, HasSubstr("csv_unterminated_quote"));

  // The same bytes dropped again under another name (contract 3.3 step 2):
  // archived with duplicate_file, nothing published; also after a restart,
  // since the digests are kept on disk.
  const std::string again =
      "sf-outcome-tracker-801-2026-Q2-20260613T090000Z.csv";
  fs::copy_file(std::string(EHX_SF_FIXTURES) + "/" + kFixture,
                f.dir / "in" / again);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(f.adapter->ScanOnce().ok());
  EXPECT_TRUE(fs::exists(f.dir / "in" / "archive" / again));
  EXPECT_EQ(f.host.accepted().size(), 10u);
  const std::string dup =
      Slurp(f.dir / "in" / "reports" / (again + ".report.json"));
  EXPECT_THAT(dup, HasSubstr("duplicate_file"));
  EXPECT_THAT(dup, HasSubstr("\"result\":\"accepted\""));
  f.Make();  // restart
  const std::string third =
      "sf-outcome-tracker-801-2026-Q2-20260614T090000Z.csv";
  fs::copy_file(std::string(EHX_SF_FIXTURES) + "/" + kFixture,
                f.dir / "in" / third);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(f.adapter->ScanOnce().ok());
  EXPECT_EQ(f.host.accepted().size(), 10u);
  EXPECT_THAT(Slurp(f.dir / "in" / "reports" / (third + ".report.json")),
              HasSubstr("duplicate_file"));
  // A rejected file's bytes are not remembered: fixed elsewhere and
  // re-dropped, the same bytes are parsed (and rejected) again.
  fs::copy_file(std::string(EHX_SF_FIXTURES) + "/unterminated.csv",
                f.dir / "in" / "unterminated-2.csv");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(f.adapter->ScanOnce().ok());
  EXPECT_THAT(
      Slurp(f.dir / "in" / "reports" / "unterminated-2.csv.report.json"),
      HasSubstr("csv_unterminated_quote"));
}

}  // namespace
}  // namespace ehx::adapters::supporting_families
