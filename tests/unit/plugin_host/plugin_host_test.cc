#include "plugin_host/plugin_host.h"

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "fake_exchange.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugin_test_util.h"

namespace ehx {
namespace {

namespace fs = std::filesystem;
using ::ehx::testing::FakeExchange;
using ::ehx::testing::OnePlugin;
using ::ehx::testing::TempDir;
using ::testing::HasSubstr;

ehx::exchange::v1::Delivery MakeDelivery(uint64_t id) {
  ehx::exchange::v1::Delivery d;
  d.set_delivery_id(id);
  d.mutable_envelope()->set_message_id("msg-" + std::to_string(id));
  return d;
}

TEST(PluginHost, NoPluginsIsFine) {
  FakeExchange exchange;
  auto host = PluginHost::Start({}, fs::temp_directory_path(), &exchange);
  ASSERT_TRUE(host.ok());
  (*host)->Stop();
}

TEST(PluginHost, RelativePathIsResolvedAgainstTheConfigDir) {
  TempDir dir;
  fs::copy_file(EHX_C_TEST_ADAPTER, dir.path() / "c.so");
  FakeExchange exchange;
  auto host = PluginHost::Start(OnePlugin("c", "c.so", "agency-c", "{}"),
                                dir.path(), &exchange);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(exchange.watcher_count(), 1u);
  (*host)->Stop();
  EXPECT_EQ(exchange.watcher_count(), 0u);
}

TEST(PluginHost, WorldWritablePluginIsRefused) {
  TempDir dir;
  fs::copy_file(EHX_C_TEST_ADAPTER, dir.path() / "c.so");
  ::chmod((dir.path() / "c.so").c_str(), 0777);
  FakeExchange exchange;
  auto host = PluginHost::Start(OnePlugin("c", "c.so", "agency-c", "{}"),
                                dir.path(), &exchange);
  ASSERT_FALSE(host.ok());
  EXPECT_EQ(host.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(host.status().message(), HasSubstr("world-writable"));
}

TEST(PluginHost, NotAnAdapterIsRefused) {
  TempDir dir;
  std::ofstream(dir.path() / "x.so") << "not an elf";
  FakeExchange exchange;
  auto host = PluginHost::Start(OnePlugin("x", "x.so", "a", "{}"), dir.path(),
                                &exchange);
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(host.status().message(), HasSubstr("plugin 'x'"));
  EXPECT_THAT(host.status().message(), HasSubstr("dlopen failed"));
}

TEST(PluginHost, ListIsValidatedBeforeLoading) {
  FakeExchange exchange;
  auto cfg = OnePlugin("c", EHX_C_TEST_ADAPTER, "a", "{}");
  *cfg.add_plugins() = cfg.plugins(0);
  auto dup = PluginHost::Start(cfg, fs::temp_directory_path(), &exchange);
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.status().message(), HasSubstr("duplicate plugin name 'c'"));
  EXPECT_EQ(exchange.watcher_count(), 0u);

  auto no_agency =
      PluginHost::Start(OnePlugin("c", EHX_C_TEST_ADAPTER, "", "{}"),
                        fs::temp_directory_path(), &exchange);
  ASSERT_FALSE(no_agency.ok());
  EXPECT_THAT(no_agency.status().message(), HasSubstr("agency is required"));
}

TEST(PluginHost, AFailingPluginUnloadsTheOnesBefore) {
  FakeExchange exchange;
  auto cfg = OnePlugin("good", EHX_C_TEST_ADAPTER, "a", "{}");
  auto bad =
      OnePlugin("bad", EHX_PROBE_ADAPTER, "b", R"({"throw_in": "start"})");
  *cfg.add_plugins() = bad.plugins(0);
  auto host = PluginHost::Start(cfg, fs::temp_directory_path(), &exchange);
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(host.status().message(), HasSubstr("plugin 'bad'"));
  EXPECT_EQ(exchange.watcher_count(), 0u);
}

TEST(PluginHost, PumpAcksAndNacks) {
  FakeExchange exchange;
  auto cfg = OnePlugin("ok", EHX_C_TEST_ADAPTER, "agency-ok", "{}");
  auto retry = OnePlugin("retry", EHX_PROBE_ADAPTER, "agency-retry",
                         R"({"disposition": "retry"})");
  *cfg.add_plugins() = retry.plugins(0);
  auto host = PluginHost::Start(cfg, fs::temp_directory_path(), &exchange);
  ASSERT_TRUE(host.ok()) << host.status();
  exchange.Deliver("agency-ok", MakeDelivery(1));
  exchange.Deliver("agency-retry", MakeDelivery(2));
  ASSERT_TRUE(
      exchange.WaitUntil([&] { return exchange.acks_locked().size() == 2; }));
  for (const AckItem& a : exchange.acks()) {
    if (a.delivery_id == 1) {
      EXPECT_TRUE(a.ok);
    } else {
      EXPECT_EQ(a.delivery_id, 2u);
      EXPECT_FALSE(a.ok);
      EXPECT_FALSE(a.permanent);
      EXPECT_EQ(a.reason, "probe_retry");
    }
  }
  (*host)->Stop();
}

TEST(PluginHost, PumpPollsWithoutAWakeUp) {
  FakeExchange exchange;
  auto host =
      PluginHost::Start(OnePlugin("ok", EHX_C_TEST_ADAPTER, "agency-ok", "{}"),
                        fs::temp_directory_path(), &exchange);
  ASSERT_TRUE(host.ok()) << host.status();
  exchange.Deliver("agency-ok", MakeDelivery(5), /*wake=*/false);
  // The pump polls every second.
  ASSERT_TRUE(
      exchange.WaitUntil([&] { return !exchange.acks_locked().empty(); },
                         std::chrono::seconds(5)));
  EXPECT_TRUE(exchange.acks()[0].ok);
  (*host)->Stop();
}

TEST(PluginHost, StopIsPromptAndIdempotent) {
  FakeExchange exchange;
  auto host =
      PluginHost::Start(OnePlugin("ok", EHX_C_TEST_ADAPTER, "agency-ok", "{}"),
                        fs::temp_directory_path(), &exchange);
  ASSERT_TRUE(host.ok()) << host.status();
  const auto t0 = std::chrono::steady_clock::now();
  (*host)->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0,
            std::chrono::milliseconds(900));
  (*host)->Stop();
  host->reset();  // destructor after Stop is fine too
}

TEST(PluginHost, PublishUsesTheConfiguredAgency) {
  FakeExchange exchange;
  auto host = PluginHost::Start(OnePlugin("p", EHX_PROBE_ADAPTER, "agency-p",
                                          R"({"publish_case_ref": "EH-9"})"),
                                fs::temp_directory_path(), &exchange);
  ASSERT_TRUE(host.ok()) << host.status();
  ASSERT_EQ(exchange.published().size(), 1u);
  EXPECT_EQ(exchange.published()[0].sender, "agency-p");
  (*host)->Stop();
}

TEST(PluginHost, PublishErrorReachesThePlugin) {
  FakeExchange exchange;
  exchange.SetPublishAnswer(
      [](const FakeExchange::Published&)
          -> absl::StatusOr<ehx::exchange::v1::PublishReceipt> {
        return absl::UnavailableError("store down");
      });
  auto host = PluginHost::Start(OnePlugin("p", EHX_PROBE_ADAPTER, "agency-p",
                                          R"({"publish_case_ref": "EH-9"})"),
                                fs::temp_directory_path(), &exchange);
  ASSERT_FALSE(host.ok());
  EXPECT_EQ(host.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(host.status().message(), HasSubstr("UNAVAILABLE: store down"));
}

}  // namespace
}  // namespace ehx
