// Links ehx_adapter_folder_core (the adapter minus its entry, with its own
// renamed schema copy ehxa_folder.*) and the gateway's ehx_protos (ehx.*)
// into one binary and drives the adapter directly through the SDK types.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "ehx/exchange/v1/envelope.pb.h"
#include "ehx_adapter_protos.h"
#include "folder_adapter.h"
#include "gtest/gtest.h"

namespace {

namespace fs = std::filesystem;

// A host table that accepts nothing (the folder adapter only publishes from
// its scan thread, which this test never starts).
int32_t Publish(void*, const uint8_t*, size_t, ehx_publish_result* r) {
  *r = ehx_publish_result{};
  r->code = EHX_CODE_UNAVAILABLE;
  return r->code;
}
void Free(void*, ehx_publish_result* r) { *r = ehx_publish_result{}; }
void Log(void*, int32_t, const char*, size_t) {}
const ehx_host_api_v1 kHost = {
    {EHX_ADAPTER_ABI_MAJOR, EHX_ADAPTER_ABI_MINOR, sizeof(ehx_host_api_v1)},
    &Publish,
    &Free,
    &Log};

TEST(FolderCore, BothSchemasLiveInOneProcess) {
  ehx::exchange::v1::Envelope gateway_env;
  ehxpb::exchange::v1::Envelope adapter_env;
  EXPECT_EQ(gateway_env.GetDescriptor()->full_name(),
            "ehx.exchange.v1.Envelope");
  EXPECT_EQ(adapter_env.GetDescriptor()->full_name(),
            "ehxa_folder.exchange.v1.Envelope");
  // Same wire format.
  gateway_env.set_case_ref("EH-1");
  gateway_env.set_idempotency_key("k-1");
  ASSERT_TRUE(adapter_env.ParseFromString(gateway_env.SerializeAsString()));
  EXPECT_EQ(adapter_env.case_ref(), "EH-1");
  EXPECT_EQ(adapter_env.idempotency_key(), "k-1");
  // The adapter's copy includes ehx.adapter.v1 (ABI 1.2 reports).
  ehxpb::adapter::v1::IngestReport report;
  EXPECT_EQ(report.GetDescriptor()->full_name(),
            "ehxa_folder.adapter.v1.IngestReport");
}

TEST(FolderCore, AdapterClassIsUsableWithoutThePlugin) {
  const fs::path dir = fs::temp_directory_path() /
                       ("folder_core_test_" + std::to_string(::getpid()));
  ehxpb::adapters::folder::v1::FolderConfig config;
  config.set_inbox_dir((dir / "in").string());
  config.set_outbox_dir((dir / "out").string());
  config.set_rejected_dir((dir / "rejected").string());
  config.set_create_dirs(true);
  ehx::adapters::folder::FolderAdapter adapter(config,
                                               ehx::sdk::Host(&kHost, nullptr));
  ehxpb::exchange::v1::Delivery delivery;
  delivery.mutable_envelope()->set_message_id("m-1");
  delivery.mutable_envelope()->set_case_ref("EH-1");
  EXPECT_EQ(adapter.OnDelivery(delivery).disposition,
            ehx::sdk::DeliveryResult::Disposition::kAck);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir / "out")) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  // Not overridden: the SDK defaults.
  auto report = adapter.Ingest("x.json", "{}");
  EXPECT_TRUE(report.input_rejected());
  EXPECT_EQ(report.input_error(), "ingest not supported by this adapter");
  ehxpb::adapter::v1::RenderResult out;
  EXPECT_EQ(adapter.Render(delivery, &out).code(),
            ehx::sdk::Code::kUnimplemented);
  fs::remove_all(dir);
}

}  // namespace
