// The adapter class end to end through a fake host that runs the real
// gateway validator: outbox writes, decision and census inboxes, reports,
// rejected files, idempotent re-reads, refused and transient publishes.
#include "csc_adapter.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "csc_test_util.h"
#include "csc_util.h"
#include "fake_gateway.h"
#include "gtest/gtest.h"

namespace ehx::adapters::csc {
namespace {

namespace fs = std::filesystem;
using ::ehx::csc_test::FakeGateway;
using ::ehx::csc_test::Fixture;

class CscAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("csc_adapter_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    config_.set_outbox_dir((dir_ / "out").string());
    config_.set_decision_inbox_dir((dir_ / "decisions").string());
    config_.set_census_inbox_dir((dir_ / "census").string());
    config_.set_rejected_dir((dir_ / "rejected").string());
    config_.set_processed_dir((dir_ / "processed").string());
    config_.set_state_dir((dir_ / "state").string());
    config_.set_create_dirs(true);
    config_.set_min_file_age_ms(1);
    auto* lead = config_.mutable_step_down_lead_practitioner();
    lead->set_name("Early Help duty team");
    lead->set_agency_id("early-help");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<CscAdapter> Make() {
    return std::make_unique<CscAdapter>(
        config_, ehx::sdk::Host(&gateway_.table, &gateway_));
  }
  void Drop(const std::string& sub, const std::string& name,
            const std::string& content) {
    std::ofstream(dir_ / sub / name, std::ios::binary) << content;
    // Old enough for min_file_age.
    fs::last_write_time(dir_ / sub / name, fs::file_time_type::clock::now() -
                                               std::chrono::seconds(5));
  }
  ehxpb::exchange::v1::Delivery StepUp() {
    ehxpb::exchange::v1::Delivery d;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                    Fixture("step_up_delivery.json"), &d)
                    .ok());
    return d;
  }
  std::vector<fs::path> Files(const std::string& sub) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_ / sub)) {
      out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
  CscConfig config_;
  FakeGateway gateway_;
};

TEST_F(CscAdapterTest, ReferralOutThenDecisionInClosesTheLoop) {
  auto a = Make();
  EXPECT_EQ(a->OnDelivery(StepUp()).disposition,
            ehx::sdk::DeliveryResult::Disposition::kAck);
  // Redelivery: same file, no second index line.
  EXPECT_EQ(a->OnDelivery(StepUp()).disposition,
            ehx::sdk::DeliveryResult::Disposition::kAck);
  auto out = Files("out");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].filename().string().rfind("referral-R-2024-0001-", 0), 0u);
  std::ifstream links(dir_ / "state" / "links.jsonl");
  std::string all((std::istreambuf_iterator<char>(links)), {});
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 1);
  EXPECT_EQ(all.find("9990000018"), std::string::npos);  // hashes only

  Drop("decisions", "dec-1.json",
       R"({"referral_id": "R-2024-0001", "decision": "s47_enquiry",
           "decided_at": "2024-04-30T16:40:00",
           "decided_by": {"name": "Dónal O'Connor-Smyth"}})");
  a->ScanOnce();
  ASSERT_EQ(gateway_.accepted.size(), 1u);
  const auto& env = gateway_.accepted[0];
  EXPECT_EQ(env.event_type(), ehx::exchange::v1::EVENT_TYPE_REFERRAL_OUTCOME);
  EXPECT_EQ(env.correlation_id(), "01HX2V6J8K3M4N5P6Q7R8S9T0V");
  EXPECT_EQ(env.case_ref(), "EH-2024-000001");
  EXPECT_TRUE(fs::exists(dir_ / "processed" / "dec-1.json"));
  EXPECT_FALSE(fs::exists(dir_ / "processed" / "dec-1.json.report.json"));
  EXPECT_TRUE(Files("decisions").empty());

  // A restarted adapter still knows the referral (persistent index).
  a.reset();
  auto b = Make();
  Drop("decisions", "dec-2.json",
       R"({"referral_id": "R-2024-0001", "decision": "s47_enquiry",
           "decided_at": "2024-04-30T16:40:00", "version": 2,
           "feedback": "updated"})");
  b->ScanOnce();
  ASSERT_EQ(gateway_.accepted.size(), 2u);
  EXPECT_EQ(gateway_.accepted[1].correlation_id(),
            "01HX2V6J8K3M4N5P6Q7R8S9T0V");
}

TEST_F(CscAdapterTest, CensusFileIsPublishedValidatedAndReported) {
  auto a = Make();
  ASSERT_EQ(a->OnDelivery(StepUp()).disposition,
            ehx::sdk::DeliveryResult::Disposition::kAck);
  Drop("census", "cin_2024_25.xml", Fixture("census_2024_25.xml"));
  a->ScanOnce();
  // Every published envelope passed the real gateway validator.
  ASSERT_GE(gateway_.accepted.size(), 4u);
  int step_downs = 0;
  for (const auto& e : gateway_.accepted) {
    if (e.has_step_down()) ++step_downs;
  }
  EXPECT_EQ(step_downs, 4);
  ASSERT_TRUE(fs::exists(dir_ / "processed" / "cin_2024_25.xml"));
  const fs::path report_path =
      dir_ / "processed" / "cin_2024_25.xml.report.json";
  ASSERT_TRUE(fs::exists(report_path));
  IngestReport report;
  std::ifstream in(report_path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text, &report).ok());
  EXPECT_EQ(report.records_published(),
            static_cast<int>(gateway_.accepted.size()));
  EXPECT_GT(report.records_failed(), 0);
  EXPECT_EQ(report.records_total(),
            report.records_published() + report.records_failed());
  // No personal data in the report.
  for (const char* secret :
       {"9990012440", "9990000026", "C93541234501A", "2015-06-12", "Zo"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
  // Re-reading the same census publishes nothing new.
  const size_t before = gateway_.accepted.size();
  Drop("census", "cin_2024_25_again.xml", Fixture("census_2024_25.xml"));
  a->ScanOnce();
  EXPECT_EQ(gateway_.accepted.size(), before);
}

TEST_F(CscAdapterTest, UnparseableFilesAreMovedAsideWithAReport) {
  auto a = Make();
  Drop("census", "xxe.xml", Fixture("xxe.xml"));
  Drop("census", "lol.xml", Fixture("billion_laughs.xml"));
  Drop("decisions", "broken.json", "{\"decisions\": [");
  a->ScanOnce();
  EXPECT_TRUE(gateway_.accepted.empty());
  EXPECT_EQ(gateway_.calls, 0);
  for (const char* f : {"xxe.xml", "lol.xml", "broken.json"}) {
    EXPECT_TRUE(fs::exists(dir_ / "rejected" / f)) << f;
    EXPECT_TRUE(
        fs::exists(dir_ / "rejected" / (std::string(f) + ".report.json")))
        << f;
  }
  std::ifstream in(dir_ / "rejected" / "xxe.xml.report.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("xml_dtd_refused"), std::string::npos);
  EXPECT_EQ(text.find("passwd"), std::string::npos);
}

TEST_F(CscAdapterTest, RefusedRecordsBecomeErrorsAndTheRestGoThrough) {
  // A step-down lead practitioner without agency is refused by the gateway
  // validator (the adapter does not re-check what the gateway checks).
  config_.mutable_step_down_lead_practitioner()->set_agency_id("x");
  auto a = Make();
  const std::string xml =
      "<Message><Children>"
      "<Child><ChildIdentifiers><LAchildID>A1</LAchildID>"
      "<PersonBirthDate>2031-01-01</PersonBirthDate></ChildIdentifiers>"
      "<CINdetails><CINreferralDate>2024-04-02</CINreferralDate>"
      "<CINclosureDate>2024-05-02</CINclosureDate>"
      "<ReasonForClosure>RC9</ReasonForClosure></CINdetails></Child>"
      "<Child><ChildIdentifiers><LAchildID>A2</LAchildID></ChildIdentifiers>"
      "<CINdetails><CINreferralDate>2024-04-02</CINreferralDate>"
      "<CINclosureDate>2024-05-02</CINclosureDate>"
      "<ReasonForClosure>RC9</ReasonForClosure></CINdetails></Child>"
      "</Children></Message>";
  const IngestReport r = a->Ingest("inline.xml", xml);
  EXPECT_EQ(r.records_total(), 2);
  EXPECT_EQ(r.records_published(), 1);
  EXPECT_EQ(r.records_failed(), 1);
  ASSERT_EQ(r.errors_size(), 1);
  EXPECT_EQ(r.errors(0).rule(), "date_of_birth_in_future");
  EXPECT_EQ(r.errors(0).position().rfind("Message/Children/Child[1]", 0), 0u);
  EXPECT_FALSE(r.errors(0).flagged_only());
}

TEST_F(CscAdapterTest, TransientFailureKeepsTheFileForRetry) {
  gateway_.unavailable_from_call = 2;
  config_.set_retry_backoff_ms(1);
  auto a = Make();
  ASSERT_EQ(a->OnDelivery(StepUp()).disposition,
            ehx::sdk::DeliveryResult::Disposition::kAck);
  Drop("census", "cin.xml", Fixture("census_2024_25.xml"));
  a->ScanOnce();
  EXPECT_EQ(gateway_.accepted.size(), 1u);
  EXPECT_TRUE(fs::exists(dir_ / "census" / "cin.xml"));
  // The gateway is back: the retry publishes the rest; the first one is
  // recognised by its idempotency key.
  gateway_.unavailable_from_call = -1;
  usleep(5000);
  a->ScanOnce();
  EXPECT_FALSE(fs::exists(dir_ / "census" / "cin.xml"));
  EXPECT_TRUE(fs::exists(dir_ / "processed" / "cin.xml"));
  int step_downs = 0;
  for (const auto& e : gateway_.accepted) step_downs += e.has_step_down();
  EXPECT_EQ(step_downs, 4);
}

TEST_F(CscAdapterTest, OtherDeliveriesAreAckedOrRejected) {
  auto a = Make();
  ehxpb::exchange::v1::Delivery d;
  EXPECT_EQ(a->OnDelivery(d).disposition,
            ehx::sdk::DeliveryResult::Disposition::kReject);
  d.mutable_envelope()->set_message_id("m-1");
  d.mutable_envelope()->set_event_type(
      ehxpb::exchange::v1::EVENT_TYPE_CASE_CLOSED);
  d.mutable_envelope()->mutable_case_closure()->set_reason("x");
  EXPECT_EQ(a->OnDelivery(d).disposition,
            ehx::sdk::DeliveryResult::Disposition::kAck);
  EXPECT_TRUE(Files("out").empty());
  ehxpb::adapter::v1::RenderResult rr;
  EXPECT_FALSE(a->Render(d, &rr).ok());
  EXPECT_TRUE(a->Render(StepUp(), &rr).ok());
  EXPECT_EQ(rr.media_type(), "application/json");
  // Render is a dry run: nothing written, nothing remembered.
  EXPECT_TRUE(Files("out").empty());
}

TEST_F(CscAdapterTest, BadConfigIsRefused) {
  CscConfig c = config_;
  c.set_outbox_dir("relative/out");
  EXPECT_THROW(CscAdapter(c, ehx::sdk::Host(&gateway_.table, &gateway_)),
               ehx::sdk::StatusError);
  c = config_;
  c.clear_state_dir();
  EXPECT_THROW(CscAdapter(c, ehx::sdk::Host(&gateway_.table, &gateway_)),
               ehx::sdk::StatusError);
  c = config_;
  c.add_case_links()->set_la_child_id("BAD-ID");
  EXPECT_THROW(CscAdapter(c, ehx::sdk::Host(&gateway_.table, &gateway_)),
               ehx::sdk::StatusError);
}

}  // namespace
}  // namespace ehx::adapters::csc
