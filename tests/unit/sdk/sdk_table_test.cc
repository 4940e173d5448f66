// The plugin table EHX_ADAPTER builds (ehx::sdk::internal::Glue): the
// optional ABI 1.2 entries ingest and render exist only for adapter classes
// that override Ingest / Render, so a host knows before calling that an
// adapter cannot ingest or render (the folder adapter, for one).
#include <string>
#include <string_view>

#include "ehx_adapter_protos.h"
#include "ehx_sdk/adapter.h"
#include "folder_adapter.h"
#include "gtest/gtest.h"

namespace {

using Config = ehxpb::adapters::folder::v1::FolderConfig;
using ehx::sdk::internal::Glue;
using ehx::sdk::internal::OverridesIngest;
using ehx::sdk::internal::OverridesRender;

struct NoHooks : ehx::sdk::Adapter {
  NoHooks(const Config&, ehx::sdk::Host) {}
  ehx::sdk::DeliveryResult OnDelivery(
      const ehxpb::exchange::v1::Delivery&) override {
    return ehx::sdk::DeliveryResult::Ack();
  }
};

struct IngestOnly : NoHooks {
  using NoHooks::NoHooks;
  ehxpb::adapter::v1::IngestReport Ingest(const std::string& name,
                                          std::string_view) override {
    ehxpb::adapter::v1::IngestReport r;
    r.set_input_name(name);
    return r;
  }
};

struct RenderOnly : NoHooks {
  using NoHooks::NoHooks;
  ehx::sdk::Status Render(const ehxpb::exchange::v1::Delivery&,
                          ehxpb::adapter::v1::RenderResult* out) override {
    out->set_file_name("x");
    return ehx::sdk::Status();
  }
};

struct Both : IngestOnly {
  using IngestOnly::IngestOnly;
  ehx::sdk::Status Render(const ehxpb::exchange::v1::Delivery&,
                          ehxpb::adapter::v1::RenderResult*) override {
    return ehx::sdk::Status();
  }
};

// Inherits IngestOnly's override without declaring its own: still ingests.
struct InheritsIngest : IngestOnly {
  using IngestOnly::IngestOnly;
};

static_assert(!OverridesIngest<NoHooks>() && !OverridesRender<NoHooks>());
static_assert(OverridesIngest<IngestOnly>() && !OverridesRender<IngestOnly>());
static_assert(!OverridesIngest<RenderOnly>() && OverridesRender<RenderOnly>());
static_assert(OverridesIngest<Both>() && OverridesRender<Both>());
static_assert(OverridesIngest<InheritsIngest>());
static_assert(!OverridesIngest<ehx::adapters::folder::FolderAdapter>() &&
              !OverridesRender<ehx::adapters::folder::FolderAdapter>());

TEST(SdkTable, NoIngestOrRenderEntriesWithoutOverrides) {
  const ehx_adapter_api_v1* t = Glue<NoHooks, Config>::Table("NoHooks");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->header.abi_minor, 2u);
  EXPECT_NE(t->create, nullptr);
  EXPECT_NE(t->on_delivery, nullptr);
  EXPECT_NE(t->check_health, nullptr);
  EXPECT_EQ(t->ingest, nullptr);
  EXPECT_EQ(t->render, nullptr);
}

TEST(SdkTable, OnlyTheOverriddenEntries) {
  const ehx_adapter_api_v1* ingest =
      Glue<IngestOnly, Config>::Table("IngestOnly");
  ASSERT_NE(ingest, nullptr);
  EXPECT_NE(ingest->ingest, nullptr);
  EXPECT_EQ(ingest->render, nullptr);
  EXPECT_NE(ingest->free_buffer, nullptr);

  const ehx_adapter_api_v1* render =
      Glue<RenderOnly, Config>::Table("RenderOnly");
  ASSERT_NE(render, nullptr);
  EXPECT_EQ(render->ingest, nullptr);
  EXPECT_NE(render->render, nullptr);
  EXPECT_NE(render->free_buffer, nullptr);

  const ehx_adapter_api_v1* both = Glue<Both, Config>::Table("Both");
  ASSERT_NE(both, nullptr);
  EXPECT_NE(both->ingest, nullptr);
  EXPECT_NE(both->render, nullptr);

  const ehx_adapter_api_v1* inherits =
      Glue<InheritsIngest, Config>::Table("InheritsIngest");
  ASSERT_NE(inherits, nullptr);
  EXPECT_NE(inherits->ingest, nullptr);
  EXPECT_EQ(inherits->render, nullptr);
}

// The folder adapter carries ehx envelopes already: neither entry.
TEST(SdkTable, FolderAdapterHasNeither) {
  const ehx_adapter_api_v1* t =
      Glue<ehx::adapters::folder::FolderAdapter, Config>::Table("folder");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->ingest, nullptr);
  EXPECT_EQ(t->render, nullptr);
}

// The entry an adapter does export still reaches its override.
TEST(SdkTable, AnExportedEntryCallsTheOverride) {
  const ehx_adapter_api_v1* t = Glue<IngestOnly, Config>::Table("IngestOnly");
  ASSERT_NE(t, nullptr);
  ASSERT_NE(t->ingest, nullptr);
  static const ehx_host_api_v1 host = {
      {EHX_ADAPTER_ABI_MAJOR, EHX_ADAPTER_ABI_MINOR, sizeof(ehx_host_api_v1)},
      [](void*, const uint8_t*, size_t, ehx_publish_result* r) {
        *r = ehx_publish_result{};
        return r->code = EHX_CODE_UNAVAILABLE;
      },
      [](void*, ehx_publish_result* r) { *r = ehx_publish_result{}; },
      [](void*, int32_t, const char*, size_t) {}};
  ehx_adapter_instance* instance = nullptr;
  char* error = nullptr;
  ASSERT_EQ(t->create(nullptr, 0, &host, nullptr, &instance, &error),
            EHX_CODE_OK);
  uint8_t* report = nullptr;
  size_t report_len = 0;
  const std::string name = "in.txt";
  ASSERT_EQ(t->ingest(instance, name.data(), name.size(), nullptr, 0, &report,
                      &report_len),
            EHX_CODE_OK);
  ehxpb::adapter::v1::IngestReport r;
  ASSERT_TRUE(r.ParseFromArray(report, static_cast<int>(report_len)));
  EXPECT_EQ(r.input_name(), "in.txt");
  EXPECT_FALSE(r.input_rejected());  // not the SDK's "not supported"
  t->free_buffer(report);
  t->destroy(instance);
}

}  // namespace
