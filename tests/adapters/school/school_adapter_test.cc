// The adapter class with a fake host: inbox loop (one ScanOnce at a time),
// rejected files, reports, the DSL inbox, config errors.
#include "school_adapter.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace ehx::adapters::school {
namespace {

namespace fs = std::filesystem;

// A host that accepts everything and remembers what was published and
// logged.
struct FakeHost {
  std::mutex mu;
  std::vector<Envelope> published;
  std::vector<std::string> logs;
  int code = 0;

  static int32_t Publish(void* ctx, const uint8_t* data, size_t len,
                         ehx_publish_result* out) {
    auto* self = static_cast<FakeHost*>(ctx);
    *out = ehx_publish_result{};
    std::lock_guard<std::mutex> lock(self->mu);
    out->code = self->code;
    if (self->code != 0) return out->code;
    Envelope env;
    env.ParseFromArray(data, static_cast<int>(len));
    self->published.push_back(env);
    return 0;
  }
  static void Free(void*, ehx_publish_result* r) { *r = ehx_publish_result{}; }
  static void Log(void* ctx, int32_t, const char* m, size_t n) {
    auto* self = static_cast<FakeHost*>(ctx);
    std::lock_guard<std::mutex> lock(self->mu);
    self->logs.emplace_back(m, n);
  }
  ehx_host_api_v1 api{
      {EHX_ADAPTER_ABI_MAJOR, EHX_ADAPTER_ABI_MINOR, sizeof(ehx_host_api_v1)},
      &Publish,
      &Free,
      &Log};
  ehx::sdk::Host host() { return ehx::sdk::Host(&api, this); }
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

class SchoolAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("school-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    config_.set_inbox_dir((root_ / "in").string());
    config_.set_rejected_dir((root_ / "rejected").string());
    config_.set_processed_dir((root_ / "done").string());
    config_.set_report_dir((root_ / "reports").string());
    config_.set_dsl_inbox_dir((root_ / "dsl").string());
    config_.set_create_dirs(true);
    config_.set_min_file_age_ms(1);
    config_.set_school_agency_id("school-oakfield");
    auto* m = config_.add_case_map();
    m->set_upn("R820999925001");
    m->set_case_ref("EH-2026-000123");
    fs::create_directories(root_);
    std::ofstream(root_ / "cases.csv") << "identifier,case_ref\n"
                                          "F820999925002,EH-2026-000123\n"
                                          "9990000043,EH-2026-000999\n";
    config_.set_case_map_file((root_ / "cases.csv").string());
  }
  void TearDown() override { fs::remove_all(root_); }

  void Drop(const std::string& fixture, const std::string& as) {
    fs::copy_file(std::string(EHX_SOURCE_DIR) +
                      "/tests/adapters/school/fixtures/" + fixture,
                  root_ / "in" / as);
    fs::last_write_time(root_ / "in" / as, fs::file_time_type::clock::now() -
                                               std::chrono::seconds(5));
  }

  fs::path root_;
  SchoolConfig config_;
  FakeHost host_;
};

TEST_F(SchoolAdapterTest, InboxFileIsPublishedReportedAndMoved) {
  SchoolAdapter adapter(config_, host_.host());
  Drop("ctf25_oakfield.xml", "8209999_CTF_8209998_001.xml");
  Drop("xxe.xml", "8209999_CTF_8209998_002.xml");
  std::ofstream(root_ / "in" / "notes.txt") << "ignored";
  ASSERT_TRUE(adapter.ScanOnce().ok());
  // Zoë (inline map) and Oisín (file map): 5 + 3 envelopes.
  EXPECT_EQ(host_.published.size(), 8u);
  EXPECT_TRUE(fs::exists(root_ / "done" / "8209999_CTF_8209998_001.xml"));
  const std::string report =
      ReadFile(root_ / "reports" / "8209999_CTF_8209998_001.xml.report.json");
  EXPECT_NE(report.find("\"records_published\": 2"), std::string::npos)
      << report;
  EXPECT_TRUE(fs::exists(root_ / "rejected" / "8209999_CTF_8209998_002.xml"));
  const std::string rejected =
      ReadFile(root_ / "rejected" / "8209999_CTF_8209998_002.xml.report.json");
  EXPECT_NE(rejected.find("xml_dtd_refused"), std::string::npos);
  EXPECT_TRUE(fs::exists(root_ / "in" / "notes.txt"));
  // The bad case map line is logged by number and rule only.
  bool logged = false;
  for (const std::string& l : host_.logs) {
    EXPECT_EQ(l.find("9990000043"), std::string::npos) << l;
    logged = logged || l.find("line 3 skipped (nhs_number_modulus11)") !=
                           std::string::npos;
  }
  EXPECT_TRUE(logged);
}

TEST_F(SchoolAdapterTest, UnavailableGatewayLeavesTheFileForLater) {
  SchoolAdapter adapter(config_, host_.host());
  host_.code = 14;
  Drop("ctf25_oakfield.xml", "a.xml");
  ASSERT_TRUE(adapter.ScanOnce().ok());
  EXPECT_TRUE(fs::exists(root_ / "in" / "a.xml"));
  EXPECT_FALSE(fs::exists(root_ / "done" / "a.xml"));
}

TEST_F(SchoolAdapterTest, IngestAndRenderHooks) {
  SchoolAdapter adapter(config_, host_.host());
  std::ifstream in(std::string(EHX_SOURCE_DIR) +
                   "/tests/adapters/school/fixtures/ctf25_oakfield.xml");
  std::stringstream buf;
  buf << in.rdbuf();
  const IngestReport r = adapter.Ingest("x.xml", buf.str());
  EXPECT_EQ(r.records_published(), 2);
  EXPECT_EQ(r.published_size(), 8);

  ehxpb::exchange::v1::Delivery d;
  d.mutable_envelope()->set_message_id("m1");
  d.mutable_envelope()->set_event_type(
      ehxpb::exchange::v1::EVENT_TYPE_TAF_MEETING);
  d.mutable_envelope()->mutable_taf_meeting()->set_meeting_id("taf-1");
  ehxpb::adapter::v1::RenderResult out;
  EXPECT_TRUE(adapter.Render(d, &out).ok());
  EXPECT_EQ(adapter.OnDelivery(d).disposition,
            ehx::sdk::DeliveryResult::Disposition::kAck);
  EXPECT_TRUE(fs::exists(root_ / "dsl" / out.file_name()));
  // Redelivery: same file, still one.
  EXPECT_EQ(adapter.OnDelivery(d).disposition,
            ehx::sdk::DeliveryResult::Disposition::kAck);
  int files = 0;
  for (auto& e : fs::directory_iterator(root_ / "dsl"))
    files += e.is_regular_file();
  EXPECT_EQ(files, 1);
  d.mutable_envelope()->set_event_type(
      ehxpb::exchange::v1::EVENT_TYPE_ATTENDANCE_SUMMARY);
  EXPECT_EQ(adapter.Render(d, &out).code(), ehx::sdk::Code::kUnimplemented);
  EXPECT_EQ(adapter.OnDelivery(d).disposition,
            ehx::sdk::DeliveryResult::Disposition::kAck);
}

TEST_F(SchoolAdapterTest, ConfigErrorsNameTheKey) {
  SchoolConfig c = config_;
  c.mutable_case_map(0)->set_upn("T82099992501K");
  try {
    SchoolAdapter adapter(c, host_.host());
    FAIL() << "temporary UPN accepted in case_map";
  } catch (const ehx::sdk::StatusError& e) {
    EXPECT_EQ(e.status().code(), ehx::sdk::Code::kInvalidArgument);
    EXPECT_NE(e.status().message().find("case_map[0].upn"), std::string::npos);
    EXPECT_NE(e.status().message().find("upn_temporary"), std::string::npos);
    EXPECT_EQ(e.status().message().find("T82099992501K"), std::string::npos);
  }
  c = config_;
  c.set_inbox_dir("relative/in");
  EXPECT_THROW(SchoolAdapter(c, host_.host()), ehx::sdk::StatusError);
  c = config_;
  c.clear_dsl_inbox_dir();
  EXPECT_THROW(SchoolAdapter(c, host_.host()), ehx::sdk::StatusError);
}

TEST_F(SchoolAdapterTest, StartsAndStops) {
  SchoolAdapter adapter(config_, host_.host());
  ASSERT_TRUE(adapter.Start().ok());
  adapter.Stop();
  adapter.Stop();
}

}  // namespace
}  // namespace ehx::adapters::school
