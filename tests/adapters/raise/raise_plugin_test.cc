// The Raise plugin through its C ABI with a fake host: the export folder
// loop (archive / rejected / reports, duplicate files), and deliveries
// written as import files. The plugin carries its own renamed schema; this
// binary uses the gateway's ehx_protos (same wire format) and must not link
// the adapter core (two registrations of ehxa_raise in one process abort).
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "ehx/exchange/v1/envelope.pb.h"
#include "ehx_adapter_abi.h"

namespace {

namespace fs = std::filesystem;

std::atomic<int> g_published{0};

int32_t Publish(void*, const uint8_t*, size_t, ehx_publish_result* r) {
  *r = ehx_publish_result{};
  ++g_published;
  return 0;
}
void FreeResult(void*, ehx_publish_result* r) { *r = ehx_publish_result{}; }
void Log(void*, int32_t, const char*, size_t) {}

const ehx_host_api_v1 kHost = {
    {EHX_ADAPTER_ABI_MAJOR, EHX_ADAPTER_ABI_MINOR, sizeof(ehx_host_api_v1)},
    &Publish,
    &FreeResult,
    &Log};

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool WaitFor(const fs::path& p) {
  for (int i = 0; i < 500; ++i) {
    if (fs::exists(p)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class RaisePlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/raise-plugin-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    void* h = ::dlopen(EHX_RAISE_PLUGIN, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    ASSERT_NE(h, nullptr) << ::dlerror();
    auto entry = reinterpret_cast<ehx_adapter_v1_entry_fn>(
        ::dlsym(h, EHX_ADAPTER_ENTRY_SYMBOL));
    ASSERT_NE(entry, nullptr);
    api_ = entry(&kHost.header);
    ASSERT_NE(api_, nullptr);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // RaiseConfig{root_dir = 1, la_code = 2, poll_interval_ms = 4,
  // create_dirs = 6}, encoded by hand.
  std::string ConfigBytes() {
    std::string out;
    auto str = [&](int field, const std::string& v) {
      out.push_back(static_cast<char>(field << 3 | 2));
      size_t n = v.size();
      while (n >= 0x80) {
        out.push_back(static_cast<char>((n & 0x7f) | 0x80));
        n >>= 7;
      }
      out.push_back(static_cast<char>(n));
      out += v;
    };
    str(1, root_.string());
    str(2, "801");
    out += std::string("\x20\x14", 2);  // poll_interval_ms = 20
    out += std::string("\x30\x01", 2);  // create_dirs = true
    return out;
  }

  ehx_adapter_instance* Create() {
    const std::string bytes = ConfigBytes();
    ehx_adapter_instance* inst = nullptr;
    char* error = nullptr;
    const int32_t code =
        api_->create(reinterpret_cast<const uint8_t*>(bytes.data()),
                     bytes.size(), &kHost, nullptr, &inst, &error);
    EXPECT_EQ(code, 0) << (error ? error : "");
    if (error) api_->free_string(error);
    return inst;
  }

  fs::path root_;
  const ehx_adapter_api_v1* api_ = nullptr;
};

TEST_F(RaisePlugin, ExportFolderLoop) {
  const fs::path fixtures =
      fs::path(EHX_SOURCE_DIR) / "tests/adapters/raise/fixtures";
  const std::string name = "raise-export-20261026T020005Z.json";
  const std::string text = Read(fixtures / name);
  ehx_adapter_instance* inst = Create();
  ASSERT_NE(inst, nullptr);
  // A writer's temp file is ignored; a malformed file is rejected.
  std::ofstream(root_ / "export" / (name + ".part")) << "{";
  std::ofstream(root_ / "export" / "raise-export-20261026T030000Z.json")
      << "{\"export\": ";
  std::ofstream(root_ / "export" / name, std::ios::binary) << text;
  g_published = 0;
  char* error = nullptr;
  ASSERT_EQ(api_->start(inst, &error), 0);
  ASSERT_TRUE(WaitFor(root_ / "export" / "archive" / name));
  ASSERT_TRUE(WaitFor(root_ / "export" / "rejected" /
                      "raise-export-20261026T030000Z.json"));
  ASSERT_TRUE(WaitFor(root_ / "export" / "reports" /
                      "raise-export-20261026T030000Z.json.report.json"));
  const int expected = g_published.load();
  EXPECT_GT(expected, 10);
  const std::string report =
      Read(root_ / "export" / "reports" / (name + ".report.json"));
  EXPECT_NE(report.find("\"accepted_with_errors\""), std::string::npos);
  EXPECT_NE(report.find("\"$.cases[2].openedDate\""), std::string::npos);
  EXPECT_EQ(report.find("Wi\xC5\x9Bniewski"), std::string::npos);
  EXPECT_EQ(report.find("9990000019"), std::string::npos);
  EXPECT_NE(Read(root_ / "export" / "reports" /
                 "raise-export-20261026T030000Z.json.report.json")
                .find("file_not_json"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(root_ / "export" / (name + ".part")));

  // The same bytes again (an operator re-drop): nothing published.
  const std::string again = "raise-export-20261026T040000Z.json";
  std::ofstream(root_ / "export" / again, std::ios::binary) << text;
  ASSERT_TRUE(WaitFor(root_ / "export" / "archive" / again));
  EXPECT_EQ(g_published.load(), expected);
  EXPECT_NE(Read(root_ / "export" / "reports" / (again + ".report.json"))
                .find("duplicate_file"),
            std::string::npos);

  // A referral outcome delivery becomes an import file, atomically.
  ::ehx::exchange::v1::Delivery d;
  auto* env = d.mutable_envelope();
  env->set_message_id("01JFD0002");
  env->set_case_ref("EH-2026-0101");
  env->set_event_type(::ehx::exchange::v1::EVENT_TYPE_REFERRAL_OUTCOME);
  env->mutable_occurred_at()->set_seconds(1775120700);
  env->set_sender_agency("csc-front-door");
  auto* ro = env->mutable_referral_outcome();
  ro->set_referral_id("SU-0101-1");
  ro->set_decision(::ehx::cases::v1::REFERRAL_DECISION_EARLY_HELP);
  ro->mutable_decided_at()->set_seconds(1775120700);
  const std::string bytes = d.SerializeAsString();
  char* reason = nullptr;
  EXPECT_EQ(
      api_->on_delivery(inst, reinterpret_cast<const uint8_t*>(bytes.data()),
                        bytes.size(), &reason),
      EHX_DELIVERY_ACK);
  int imports = 0;
  for (const auto& e : fs::directory_iterator(root_ / "import")) {
    const std::string n = e.path().filename().string();
    EXPECT_EQ(n.find(".part"), std::string::npos);
    if (n.rfind("raise-import-", 0) == 0) ++imports;
  }
  EXPECT_EQ(imports, 1);
  api_->stop(inst);
  api_->destroy(inst);
}

}  // namespace
