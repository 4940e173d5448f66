// The HealthAdapter class through the SDK host interface: deliveries to
// health visiting become FHIR Communication files in outbox_dir (written
// atomically, named after the message id), other event types are acked
// without output, an unwritable outbox is a retry, and bad configs are
// refused.
#include "health_adapter.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "communication.h"
#include "ehx_adapter_abi.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health_test_util.h"

namespace ehx::adapters::health {
namespace {

namespace fs = std::filesystem;
namespace ex = ::ehxpb::exchange::v1;
using ::ehx::adapters::health::testing::CafDelivery;
using ::ehx::adapters::health::testing::Fixture;
using ::ehx::sdk::DeliveryResult;
using ::testing::HasSubstr;
using Disposition = DeliveryResult::Disposition;

// A host that only records log lines: OnDelivery never publishes.
struct LogHost {
  static int32_t Publish(void*, const uint8_t*, size_t, ehx_publish_result* r) {
    *r = ehx_publish_result{};
    return r->code = EHX_CODE_UNAVAILABLE;
  }
  static void Free(void*, ehx_publish_result* r) { *r = ehx_publish_result{}; }
  static void Log(void* ctx, int32_t, const char* m, size_t n) {
    auto* h = static_cast<LogHost*>(ctx);
    std::lock_guard<std::mutex> lock(h->mu);
    h->logs.emplace_back(m, n);
  }
  std::mutex mu;
  std::vector<std::string> logs;
  const ehx_host_api_v1 table = {
      {EHX_ADAPTER_ABI_MAJOR, EHX_ADAPTER_ABI_MINOR, sizeof(ehx_host_api_v1)},
      &Publish,
      &Free,
      &Log};
};

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class HealthAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("health_adapter_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    config_.set_agency_id("health-visiting");
    config_.set_state_dir((dir_ / "state").string());
    config_.set_outbox_dir((dir_ / "out").string());
    config_.set_create_dirs(true);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<HealthAdapter> Make() {
    return std::make_unique<HealthAdapter>(
        config_, ehx::sdk::Host(&host_.table, &host_));
  }
  // Every entry of the outbox, temp files included, sorted.
  std::vector<std::string> Outbox() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_ / "out")) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
  HealthConfig config_;
  LogHost host_;
};

// The CAF notification is written as Communication-<message id>.json with
// exactly the bytes Render gives (the golden), nothing else is left in the
// outbox, and a redelivery rewrites the same file instead of adding one.
TEST_F(HealthAdapterTest, CafNotificationIsWrittenToTheOutbox) {
  auto a = Make();
  const ex::Delivery d = CafDelivery();
  EXPECT_EQ(a->OnDelivery(d).disposition, Disposition::kAck);
  const std::string name = "Communication-01JCAF0000000000000000001.json";
  ASSERT_EQ(Outbox(), std::vector<std::string>{name});
  const std::string written = Slurp(dir_ / "out" / name);
  EXPECT_EQ(written, Fixture("communication_caf.golden.json"));
  ::ehxpb::adapter::v1::RenderResult rendered;
  ASSERT_TRUE(a->Render(d, &rendered).ok());
  EXPECT_EQ(rendered.file_name(), name);
  EXPECT_EQ(rendered.content(), written);

  EXPECT_EQ(a->OnDelivery(d).disposition, Disposition::kAck);
  EXPECT_EQ(Outbox(), std::vector<std::string>{name});
  EXPECT_EQ(Slurp(dir_ / "out" / name), written);
}

TEST_F(HealthAdapterTest, StepDownIsWrittenToTheOutbox) {
  auto a = Make();
  ex::Delivery d = CafDelivery();
  ex::Envelope* e = d.mutable_envelope();
  e->set_message_id("01JSTEPDOWN00000000000001");
  e->set_event_type(ex::EVENT_TYPE_STEP_DOWN);
  e->mutable_step_down()->set_closure_reason("RC9");
  e->mutable_step_down()->mutable_lead_practitioner()->set_name("Sam Example");
  EXPECT_EQ(a->OnDelivery(d).disposition, Disposition::kAck);
  const std::string name = "Communication-01JSTEPDOWN00000000000001.json";
  ASSERT_EQ(Outbox(), std::vector<std::string>{name});
  const std::string written = Slurp(dir_ / "out" / name);
  EXPECT_THAT(written, HasSubstr("\"resourceType\": \"Communication\""));
  EXPECT_THAT(written, HasSubstr("\"code\": \"step-down\""));
  EXPECT_THAT(written, HasSubstr("closure reason RC9"));
  EXPECT_THAT(written, HasSubstr("\"value\": \"EH-2026-000123\""));
}

// Health visitors get only CAF notifications and step-downs: anything else
// is acked with nothing written; a delivery that cannot be rendered (no
// message id) is a dead letter, also with nothing written.
TEST_F(HealthAdapterTest, OtherDeliveriesWriteNothing) {
  auto a = Make();
  ex::Delivery plan = CafDelivery();
  plan.mutable_envelope()->set_event_type(ex::EVENT_TYPE_PLAN_UPDATED);
  plan.mutable_envelope()->mutable_plan();
  EXPECT_EQ(a->OnDelivery(plan).disposition, Disposition::kAck);

  ex::Delivery no_id = CafDelivery();
  no_id.mutable_envelope()->clear_message_id();
  const DeliveryResult r = a->OnDelivery(no_id);
  EXPECT_EQ(r.disposition, Disposition::kReject);
  EXPECT_EQ(r.reason, "not_renderable");
  EXPECT_TRUE(Outbox().empty());
}

// The outbox gone (unmounted volume, removed folder): retry, and no
// personal data in the log line; once it is back the redelivery is written.
TEST_F(HealthAdapterTest, UnwritableOutboxIsARetry) {
  auto a = Make();
  fs::remove_all(dir_ / "out");
  const DeliveryResult r = a->OnDelivery(CafDelivery());
  EXPECT_EQ(r.disposition, Disposition::kRetry);
  EXPECT_EQ(r.reason, "outbox_write_failed");
  {
    std::lock_guard<std::mutex> lock(host_.mu);
    ASSERT_FALSE(host_.logs.empty());
    for (const auto& line : host_.logs) {
      EXPECT_THAT(line, ::testing::Not(HasSubstr("9990000018")));
      EXPECT_THAT(line, ::testing::Not(HasSubstr("Sam Example")));
    }
  }
  fs::create_directories(dir_ / "out");
  EXPECT_EQ(a->OnDelivery(CafDelivery()).disposition, Disposition::kAck);
  EXPECT_EQ(Outbox(), std::vector<std::string>{
                          "Communication-01JCAF0000000000000000001.json"});
}

TEST_F(HealthAdapterTest, BadConfigIsRefused) {
  auto refused = [&](const HealthConfig& c, const std::string& what) {
    try {
      HealthAdapter a(c, ehx::sdk::Host(&host_.table, &host_));
      ADD_FAILURE() << "accepted: " << what;
    } catch (const ehx::sdk::StatusError& e) {
      EXPECT_THAT(e.status().message(), HasSubstr(what));
    }
  };
  HealthConfig c = config_;
  c.clear_outbox_dir();
  refused(c, "outbox_dir or communication_url is required");
  c = config_;
  c.set_create_dirs(false);
  c.set_state_dir((dir_ / "no-such-state").string());
  refused(c, "state_dir is not an existing directory");
  c = config_;
  c.set_outbox_dir("relative/out");
  refused(c, "outbox_dir must be an absolute path");
  c = config_;
  c.clear_agency_id();
  refused(c, "agency_id is required");
  c = config_;
  c.clear_outbox_dir();
  c.set_communication_url("ftp://example.invalid/x");
  refused(c, "communication_url must be http(s)://");
}

}  // namespace
}  // namespace ehx::adapters::health
