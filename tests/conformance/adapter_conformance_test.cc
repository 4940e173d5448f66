// Adapter ABI conformance suite.
//
//  - AdapterConformance/*: every adapter .so listed in
//    EHX_CONFORMANCE_ADAPTERS must pass (exports, handshake, config schema,
//    refusal of unknown config keys, malformed deliveries, load/stop, and
//    for ABI 1.2 adapters ingest/render of garbage without a crash).
//  - Handshake*: purpose-built C plugins the host must refuse or accept.
//  - Probe*: an SDK plugin whose hooks throw or nack on request.
//  - Folder*: the folder adapter's round trip through the real host.
#include <dlfcn.h>
#include <stdio.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_split.h"
#include "ehx_adapter_abi.h"
#include "fake_exchange.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "plugin_host/loaded_adapter.h"
#include "plugin_host/plugin_config.h"
#include "plugin_host/plugin_host.h"
#include "plugin_test_util.h"
#include "validate/validate.h"

namespace ehx {
namespace {

namespace fs = std::filesystem;
using ::ehx::testing::DropFile;
using ::ehx::testing::Eventually;
using ::ehx::testing::FakeExchange;
using ::ehx::testing::OnePlugin;
using ::ehx::testing::ReadFile;
using ::ehx::testing::StructFromJson;
using ::ehx::testing::TempDir;
using ::testing::HasSubstr;

extern "C" size_t ehx_abi_c_check_min_size(void);

std::string TestPlugin(const std::string& name) {
  return std::string(EHX_TEST_PLUGIN_DIR) + "/ehx_adapter_" + name + ".so";
}

// A valid config (JSON object) for an adapter under test, given a scratch
// directory: plugins/adapters/<name>/conformance.json with every
// "${SCRATCH}" replaced by the scratch dir, if the adapter ships one.
// Unknown adapters get "{}".
std::string ValidConfigFor(const std::string& path, const fs::path& scratch) {
  const std::string base = fs::path(path).filename().string();
  std::string name = base;
  if (name.rfind("ehx_adapter_", 0) == 0) name = name.substr(12);
  if (name.size() > 3 && name.substr(name.size() - 3) == ".so") {
    name.resize(name.size() - 3);
  }
  const fs::path shipped = fs::path(EHX_SOURCE_DIR) / "plugins" / "adapters" /
                           name / "conformance.json";
  if (fs::exists(shipped)) {
    std::ifstream in(shipped);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const std::string token = "${SCRATCH}";
    for (size_t pos; (pos = text.find(token)) != std::string::npos;) {
      text.replace(pos, token.size(), scratch.string());
    }
    return text;
  }
  if (base == "ehx_adapter_folder.so") {
    return "{\"inbox_dir\": \"" + (scratch / "in").string() +
           "\", \"outbox_dir\": \"" + (scratch / "out").string() +
           "\", \"rejected_dir\": \"" + (scratch / "rejected").string() +
           "\", \"create_dirs\": true, \"poll_interval_ms\": 20}";
  }
  return "{}";
}

// ---------------------------------------------------------------------------
// A raw ABI harness (no PluginHost) for the checks the host never lets
// happen, like malformed delivery bytes.
struct RawHost {
  static int32_t Publish(void*, const uint8_t*, size_t, ehx_publish_result* r) {
    *r = ehx_publish_result{};
    r->code = EHX_CODE_UNAVAILABLE;
    return r->code;
  }
  static void Free(void*, ehx_publish_result* r) { *r = ehx_publish_result{}; }
  static void Log(void*, int32_t, const char*, size_t) {}
};
const ehx_host_api_v1 kRawHost = {
    {EHX_ADAPTER_ABI_MAJOR, EHX_ADAPTER_ABI_MINOR, sizeof(ehx_host_api_v1)},
    &RawHost::Publish,
    &RawHost::Free,
    &RawHost::Log};

const ehx_adapter_api_v1* OpenTable(const std::string& path, uint32_t major) {
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (h == nullptr) {
    ADD_FAILURE() << ::dlerror();
    return nullptr;
  }
  auto entry = reinterpret_cast<ehx_adapter_v1_entry_fn>(
      ::dlsym(h, EHX_ADAPTER_ENTRY_SYMBOL));
  if (entry == nullptr) {
    ADD_FAILURE() << "no entry symbol in " << path;
    return nullptr;
  }
  ehx_abi_header host{major, EHX_ADAPTER_ABI_MINOR, sizeof(ehx_host_api_v1)};
  return entry(&host);
}

class AdapterConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(AdapterConformance, ExportsOnlyTheEntrySymbol) {
  const std::string cmd = "nm -D --defined-only '" + GetParam() + "' 2>&1";
  FILE* f = ::popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof(buf), f) != nullptr) out += buf;
  if (::pclose(f) != 0) GTEST_SKIP() << "nm unavailable: " << out;
  std::vector<std::string> symbols;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    symbols.push_back(parts.back());
  }
  EXPECT_THAT(symbols, ::testing::ElementsAre("ehx_adapter_v1_entry"));
}

TEST_P(AdapterConformance, HandshakeTableIsComplete) {
  const ehx_adapter_api_v1* t = OpenTable(GetParam(), EHX_ADAPTER_ABI_MAJOR);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->header.abi_major, 1u);
  EXPECT_LE(t->header.abi_minor, static_cast<uint32_t>(EHX_ADAPTER_ABI_MINOR));
  EXPECT_GE(t->header.struct_size, EHX_ADAPTER_API_V1_MIN_SIZE);
  EXPECT_NE(t->adapter_type, nullptr);
  EXPECT_NE(t->adapter_version, nullptr);
  EXPECT_NE(t->create, nullptr);
  EXPECT_NE(t->start, nullptr);
  EXPECT_NE(t->on_delivery, nullptr);
  EXPECT_NE(t->stop, nullptr);
  EXPECT_NE(t->destroy, nullptr);
  EXPECT_NE(t->free_string, nullptr);
  ASSERT_NE(t->config_message_name, nullptr);
  google::protobuf::FileDescriptorSet set;
  ASSERT_TRUE(
      set.ParseFromArray(t->config_descriptor_set,
                         static_cast<int>(t->config_descriptor_set_len)));
  // The config schema must live in the adapter's own package, never ehx.*.
  EXPECT_THAT(std::string(t->config_message_name),
              ::testing::StartsWith("ehxa_"));
  for (const auto& file : set.file()) {
    EXPECT_FALSE(absl::StartsWith(file.name(), "ehx/")) << file.name();
  }
}

TEST_P(AdapterConformance, RefusesAHostOfAnotherMajor) {
  EXPECT_EQ(OpenTable(GetParam(), 2), nullptr);
}

TEST_P(AdapterConformance, UnknownConfigKeyIsNamedWithItsPath) {
  TempDir dir;
  std::string json = ValidConfigFor(GetParam(), dir.path());
  json.insert(1,
              "\"no_such_key\": 1" + std::string(json.size() > 2 ? "," : ""));
  FakeExchange exchange;
  auto host = PluginHost::Start(OnePlugin("x", GetParam(), "agency-x", json),
                                dir.path(), &exchange);
  ASSERT_FALSE(host.ok());
  EXPECT_EQ(host.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(host.status().message(),
              HasSubstr("plugins[x].config.no_such_key: unknown key"));
  EXPECT_THAT(host.status().message(), HasSubstr("plugin 'x'"));
}

TEST_P(AdapterConformance, MalformedDeliveryIsRejectedNotACrash) {
  TempDir dir;
  const ehx_adapter_api_v1* t = OpenTable(GetParam(), EHX_ADAPTER_ABI_MAJOR);
  ASSERT_NE(t, nullptr);
  auto bytes = plugin_host::PluginConfigToBytes(
      StructFromJson(ValidConfigFor(GetParam(), dir.path())),
      std::string_view(reinterpret_cast<const char*>(t->config_descriptor_set),
                       t->config_descriptor_set_len),
      t->config_message_name ? t->config_message_name : "", "config");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ehx_adapter_instance* inst = nullptr;
  char* error = nullptr;
  ASSERT_EQ(t->create(reinterpret_cast<const uint8_t*>(bytes->data()),
                      bytes->size(), &kRawHost, nullptr, &inst, &error),
            EHX_CODE_OK)
      << (error ? error : "");
  ASSERT_EQ(t->start(inst, &error), EHX_CODE_OK) << (error ? error : "");
  const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0a, 0x7f, 0x01};
  char* reason = nullptr;
  EXPECT_EQ(t->on_delivery(inst, garbage, sizeof(garbage), &reason),
            EHX_DELIVERY_REJECT);
  ASSERT_NE(reason, nullptr);
  EXPECT_STRNE(reason, "");
  t->free_string(reason);
  t->stop(inst);
  t->destroy(inst);
}

TEST_P(AdapterConformance, LoadsThroughTheHostAndStops) {
  TempDir dir;
  FakeExchange exchange;
  auto host =
      PluginHost::Start(OnePlugin("x", GetParam(), "agency-x",
                                  ValidConfigFor(GetParam(), dir.path())),
                        dir.path(), &exchange);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(exchange.watcher_count(), 1u);
  (*host)->Stop();
  (*host)->Stop();  // idempotent
  EXPECT_EQ(exchange.watcher_count(), 0u);
}

// The dry-run host: publishes are checked by the gateway's real validator
// and refused as the gateway would (INVALID_ARGUMENT), else accepted.
class ValidatingExchange : public PublishOnlyExchange {
 public:
  ValidatingExchange()
      : PublishOnlyExchange(
            [this](const std::string&, const ehx::exchange::v1::Envelope& env)
                -> absl::StatusOr<ehx::exchange::v1::PublishReceipt> {
              std::lock_guard<std::mutex> lock(mu_);
              if (!validate::ValidateEnvelope(env).empty()) {
                ++refused_;
                return absl::InvalidArgumentError("envelope refused");
              }
              ++accepted_;
              ehx::exchange::v1::PublishReceipt r;
              r.set_message_id("dry-" + std::to_string(accepted_));
              envelopes_.push_back(env);
              envelopes_.back().set_message_id(r.message_id());
              return r;
            }) {}
  int accepted() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }
  int refused() {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_;
  }
  // The accepted envelopes (message_id set), in order; cleared.
  std::vector<ehx::exchange::v1::Envelope> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(envelopes_);
  }

 private:
  std::mutex mu_;
  int accepted_ = 0;
  int refused_ = 0;
  std::vector<ehx::exchange::v1::Envelope> envelopes_;
};

// Inputs no adapter should turn into a published record.
std::vector<std::pair<std::string, std::string>> GarbageInputs() {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("empty.bin", "");
  out.emplace_back("binary.bin",
                   std::string("\xff\xfe\x00\x01\x02garbage\x00\x80", 15));
  out.emplace_back("quotes.csv", "\"unterminated,\"\"\"\n\"a\",b\r\n\"");
  out.emplace_back("xml.xml", "<?xml version=\"1.0\"?><a><b></a>");
  out.emplace_back("json.json", "{\"resourceType\": [1, {\"x\": ");
  out.emplace_back("hl7.hl7", "MSH|^~\\&|\rPID|||\r");
  out.emplace_back("long.txt", std::string(100000, 'A'));
  return out;
}

// The adapter at `path` loaded in this process as "x" for agency-x, with its
// shipped conformance config over `scratch`, publishing into `exchange`.
absl::StatusOr<std::unique_ptr<LoadedAdapter>> LoadInProcess(
    const std::string& path, const fs::path& scratch, Exchange* exchange) {
  AdapterLoadOptions options;
  options.name = "x";
  options.path = path;
  options.agency = "agency-x";
  options.config = StructFromJson(ValidConfigFor(path, scratch));
  return LoadedAdapter::Load(options, exchange);
}

TEST_P(AdapterConformance, IngestAndRenderOfGarbageDoNotCrash) {
  TempDir dir;
  ValidatingExchange exchange;
  auto adapter = LoadInProcess(GetParam(), dir.path(), &exchange);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  LoadedAdapter& a = **adapter;
  if (!a.supports_ingest() && !a.supports_render()) {
    GTEST_SKIP() << "adapter has neither ingest nor render";
  }
  if (a.supports_ingest()) {
    for (const auto& [name, bytes] : GarbageInputs()) {
      auto report = a.Ingest(name, bytes);
      if (!report.ok()) continue;  // an error is fine; a crash is not
      EXPECT_EQ(report->input_name(), name);
      EXPECT_EQ(report->records_published(), 0) << name;
      EXPECT_LE(report->records_published() + report->records_failed(),
                std::max(report->records_total(), 0))
          << name;
    }
    EXPECT_EQ(exchange.accepted(), 0);
  }
  if (a.supports_render()) {
    const std::string garbage("\xff\xff\xff\xff\x0a\x7f\x01", 7);
    auto r = a.RenderBytes(garbage);
    EXPECT_FALSE(r.ok());
    // A well-formed delivery of a foreign event type: an answer, no crash.
    ehx::exchange::v1::Delivery d;
    d.set_delivery_id(1);
    d.mutable_envelope()->set_message_id("m-1");
    d.mutable_envelope()->set_case_ref("EH-1");
    d.mutable_envelope()->set_event_type(
        ehx::exchange::v1::EVENT_TYPE_CASE_CLOSED);
    (void)a.Render(d);
  }
}

// Round trip with the adapter's own samples,
// plugins/adapters/<name>/conformance_samples.json: {"ingest": [...],
// "render": [...]}, paths from the source root (native files; envelope
// JSON). Every ingest sample publishes at least one envelope the gateway's
// validator accepts; every accepted envelope, delivered back to the same
// adapter, is rendered or refused with a status (never a crash); every
// render sample renders to non-empty native bytes with a file name.
// Adapters without a samples file (the folder adapter: no ingest, no
// render) are skipped.
TEST_P(AdapterConformance, RoundTripWithItsSamples) {
  std::string name = fs::path(GetParam()).stem().string();
  if (name.rfind("ehx_adapter_", 0) == 0) name = name.substr(12);
  const fs::path samples_file = fs::path(EHX_SOURCE_DIR) / "plugins" /
                                "adapters" / name / "conformance_samples.json";
  if (!fs::exists(samples_file)) {
    GTEST_SKIP() << "no conformance_samples.json for " << name;
  }
  const google::protobuf::Struct samples =
      StructFromJson(ReadFile(samples_file.string()));
  auto list = [&samples](const char* key) {
    std::vector<std::string> out;
    auto it = samples.fields().find(key);
    if (it == samples.fields().end()) return out;
    for (const auto& v : it->second.list_value().values()) {
      out.push_back(v.string_value());
    }
    return out;
  };
  TempDir dir;
  ValidatingExchange exchange;
  auto adapter = LoadInProcess(GetParam(), dir.path(), &exchange);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  LoadedAdapter& a = **adapter;
  ASSERT_EQ(a.supports_ingest(), !list("ingest").empty()) << name;
  ASSERT_EQ(a.supports_render(), !list("render").empty()) << name;

  int64_t id = 0;
  auto delivery = [&id](const ehx::exchange::v1::Envelope& e) {
    ehx::exchange::v1::Delivery d;
    d.set_delivery_id(++id);
    d.set_attempt(1);
    *d.mutable_envelope() = e;
    if (e.sender_agency().empty()) {
      d.mutable_envelope()->set_sender_agency("agency-x");
    }
    if (!e.has_accepted_at()) {
      d.mutable_envelope()->mutable_accepted_at()->set_seconds(1775000000);
    }
    if (e.message_id().empty()) {
      d.mutable_envelope()->set_message_id("m-rt-" + std::to_string(id));
    }
    return d;
  };
  for (const std::string& rel : list("ingest")) {
    const fs::path file = fs::path(EHX_SOURCE_DIR) / rel;
    auto report = a.Ingest(file.filename().string(), ReadFile(file.string()));
    ASSERT_TRUE(report.ok()) << rel << ": " << report.status();
    EXPECT_GE(report->records_published(), 1) << rel;
    std::vector<ehx::exchange::v1::Envelope> published = exchange.Take();
    EXPECT_FALSE(published.empty()) << rel << ": nothing passed validation";
    int rendered = 0, refused = 0;
    for (const auto& e : published) {
      // Delivered back: native output, or a refusal with a status.
      auto r = a.Render(delivery(e));
      if (r.ok()) {
        EXPECT_FALSE(r->content().empty()) << rel;
        ++rendered;
      } else {
        ++refused;
      }
    }
    std::printf(
        "round trip %s: %s -> %zu envelope(s), %d rendered back, %d "
        "refused (event types it does not render)\n",
        name.c_str(), rel.c_str(), published.size(), rendered, refused);
  }
  EXPECT_EQ(exchange.refused(), 0)
      << "an ingest sample produced envelopes the gateway refuses";
  for (const std::string& rel : list("render")) {
    ehx::exchange::v1::Envelope e;
    const std::string json =
        ReadFile((fs::path(EHX_SOURCE_DIR) / rel).string());
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &e).ok())
        << rel;
    auto r = a.Render(delivery(e));
    ASSERT_TRUE(r.ok()) << rel << ": " << r.status();
    EXPECT_FALSE(r->content().empty()) << rel;
    EXPECT_FALSE(r->file_name().empty()) << rel;
  }
}

std::vector<std::string> AdaptersUnderTest() {
  return absl::StrSplit(EHX_CONFORMANCE_ADAPTERS, ':', absl::SkipEmpty());
}

INSTANTIATE_TEST_SUITE_P(All, AdapterConformance,
                         ::testing::ValuesIn(AdaptersUnderTest()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name =
                               fs::path(info.param).stem().string();
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c)))
                               c = '_';
                           }
                           return name;
                         });

// Two different adapters (each with its own schema copy) in one process that
// also links the gateway's ehx_protos.
TEST(AdapterConformanceAll, AllAdaptersCoexistInOneProcess) {
  TempDir dir;
  FakeExchange exchange;
  ehx::config::v1::GatewayConfig cfg;
  int i = 0;
  for (const std::string& path : AdaptersUnderTest()) {
    auto one =
        OnePlugin("p" + std::to_string(i), path, "agency-" + std::to_string(i),
                  ValidConfigFor(path, dir.path() / std::to_string(i)));
    *cfg.add_plugins() = one.plugins(0);
    ++i;
  }
  ASSERT_GE(cfg.plugins_size(), 2);
  auto host = PluginHost::Start(cfg, dir.path(), &exchange);
  ASSERT_TRUE(host.ok()) << host.status();
  // The gateway's own generated pool is intact.
  ehx::exchange::v1::Envelope env;
  env.set_case_ref("EH-1");
  EXPECT_EQ(env.GetDescriptor()->full_name(), "ehx.exchange.v1.Envelope");
  (*host)->Stop();
}

TEST(AdapterConformanceAll, AbiHeaderIsPlainC) {
  EXPECT_EQ(ehx_abi_c_check_min_size(), EHX_ADAPTER_API_V1_MIN_SIZE);
}

// ---------------------------------------------------------------------------
// Handshake cases (pure-C plugins).

absl::Status LoadC(const std::string& which, const std::string& config = "{}") {
  FakeExchange exchange;
  auto host = PluginHost::Start(
      OnePlugin(which, TestPlugin("tc_" + which), "agency-c", config),
      fs::temp_directory_path(), &exchange);
  if (host.ok()) (*host)->Stop();
  return host.status();
}

TEST(Handshake, CurrentVersionIsAccepted) { EXPECT_TRUE(LoadC("ok").ok()); }

TEST(Handshake, OtherMajorSymbolIsRefused) {
  absl::Status st = LoadC("major2_symbol");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("built for adapter ABI major 2"));
  EXPECT_THAT(st.message(), HasSubstr("plugin 'major2_symbol'"));
}

TEST(Handshake, OtherMajorInTableIsRefused) {
  absl::Status st = LoadC("major2_field");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("speaks adapter ABI major 2"));
}

TEST(Handshake, NewerMinorIsRefused) {
  absl::Status st = LoadC("newer_minor");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("newer than this gateway"));
}

TEST(Handshake, OlderMinorIsAcceptedAndDelivers) {
  FakeExchange exchange;
  auto host = PluginHost::Start(
      OnePlugin("old", TestPlugin("tc_older_minor"), "agency-old", "{}"),
      fs::temp_directory_path(), &exchange);
  ASSERT_TRUE(host.ok()) << host.status();
  ehx::exchange::v1::Delivery d;
  d.set_delivery_id(7);
  exchange.Deliver("agency-old", d);
  ASSERT_TRUE(
      exchange.WaitUntil([&] { return !exchange.acks_locked().empty(); }));
  EXPECT_EQ(exchange.acks()[0].delivery_id, 7u);
  EXPECT_TRUE(exchange.acks()[0].ok);
  (*host)->Stop();
}

TEST(Handshake, TooSmallStructSizeIsRefused) {
  absl::Status st = LoadC("small_struct");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("struct_size"));
}

TEST(Handshake, PluginRefusingTheHostIsReported) {
  absl::Status st = LoadC("refuses_host");
  EXPECT_THAT(st.message(), HasSubstr("plugin refused this host"));
}

TEST(Handshake, ConfigForAPluginWithoutConfigIsRefused) {
  absl::Status st = LoadC("ok", "{\"verbose\": true}");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("plugins[ok].config.verbose"));
}

TEST(Handshake, MissingFileIsNamed) {
  FakeExchange exchange;
  auto host = PluginHost::Start(
      OnePlugin("ghost", "no/such/plugin.so", "agency-g", "{}"),
      fs::temp_directory_path(), &exchange);
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(host.status().message(), HasSubstr("plugin 'ghost'"));
  EXPECT_THAT(host.status().message(), HasSubstr("no/such/plugin.so"));
}

TEST(Handshake, OlderMinorPluginLacksIngestAndRender) {
  PublishOnlyExchange exchange(
      [](const std::string&, const ehx::exchange::v1::Envelope&)
          -> absl::StatusOr<ehx::exchange::v1::PublishReceipt> {
        return ehx::exchange::v1::PublishReceipt();
      });
  auto a =
      LoadAdapter(TestPlugin("tc_v11"), google::protobuf::Struct(), &exchange);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->abi_minor(), 1u);
  EXPECT_FALSE((*a)->supports_ingest());
  EXPECT_FALSE((*a)->supports_render());
  auto report = (*a)->Ingest("x.csv", "a,b\n");
  EXPECT_EQ(report.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(report.status().message(),
              HasSubstr("adapter does not support ingest"));
  auto rendered = (*a)->Render(ehx::exchange::v1::Delivery());
  EXPECT_EQ(rendered.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(rendered.status().message(),
              HasSubstr("adapter does not support render"));
}

// ---------------------------------------------------------------------------
// The probe: throwing hooks, dispositions, publish results.

struct ProbeRun {
  FakeExchange exchange;
  absl::StatusOr<std::unique_ptr<PluginHost>> host;
  explicit ProbeRun(const std::string& config_json) {
    host = PluginHost::Start(
        OnePlugin("probe", EHX_PROBE_ADAPTER, "agency-probe", config_json),
        fs::temp_directory_path(), &exchange);
  }
  ~ProbeRun() {
    if (host.ok()) (*host)->Stop();
  }
  AckItem DeliverOne(uint64_t id) {
    ehx::exchange::v1::Delivery d;
    d.set_delivery_id(id);
    d.mutable_envelope()->set_message_id("msg-" + std::to_string(id));
    exchange.Deliver("agency-probe", d);
    EXPECT_TRUE(
        exchange.WaitUntil([&] { return !exchange.acks_locked().empty(); }));
    auto acks = exchange.acks();
    return acks.empty() ? AckItem{} : acks.back();
  }
};

TEST(Probe, ThrowInCreateBecomesAnError) {
  ProbeRun run("{\"throw_in\": \"create\"}");
  ASSERT_FALSE(run.host.ok());
  EXPECT_EQ(run.host.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(run.host.status().message(), HasSubstr("boom in create"));
}

TEST(Probe, ThrowInStartBecomesAnError) {
  ProbeRun run("{\"throw_in\": \"start\"}");
  ASSERT_FALSE(run.host.ok());
  EXPECT_THAT(run.host.status().message(), HasSubstr("start failed"));
  EXPECT_THAT(run.host.status().message(), HasSubstr("boom in start"));
}

TEST(Probe, ThrowInDeliveryBecomesARetryNack) {
  ProbeRun run("{\"throw_in\": \"delivery\"}");
  ASSERT_TRUE(run.host.ok()) << run.host.status();
  AckItem ack = run.DeliverOne(1);
  EXPECT_FALSE(ack.ok);
  EXPECT_FALSE(ack.permanent);
  EXPECT_THAT(ack.reason, HasSubstr("boom in delivery"));
}

TEST(Probe, ThrowInStopIsContained) {
  ProbeRun run("{\"throw_in\": \"stop\"}");
  ASSERT_TRUE(run.host.ok()) << run.host.status();
  (*run.host)->Stop();
}

TEST(Probe, RejectIsAPermanentNack) {
  ProbeRun run("{\"disposition\": \"reject\"}");
  ASSERT_TRUE(run.host.ok()) << run.host.status();
  AckItem ack = run.DeliverOne(2);
  EXPECT_EQ(ack.delivery_id, 2u);
  EXPECT_FALSE(ack.ok);
  EXPECT_TRUE(ack.permanent);
  EXPECT_EQ(ack.reason, "probe_reject");
}

TEST(Probe, PublishGoesOutAsTheConfiguredAgency) {
  ProbeRun run("{\"publish_case_ref\": \"EH-1\"}");
  ASSERT_TRUE(run.host.ok()) << run.host.status();
  auto published = run.exchange.published();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].sender, "agency-probe");
  EXPECT_EQ(published[0].envelope.case_ref(), "EH-1");
  EXPECT_EQ(published[0].envelope.idempotency_key(), "probe-start");
}

TEST(Probe, PublishRefusalCarriesCodeAndViolations) {
  FakeExchange exchange;
  exchange.SetPublishAnswer(
      [](const FakeExchange::Published&)
          -> absl::StatusOr<ehx::exchange::v1::PublishReceipt> {
        google::rpc::BadRequest br;
        auto* v = br.add_field_violations();
        v->set_field("case_ref");
        v->set_description("unknown case");
        absl::Status st = absl::InvalidArgumentError("refused");
        st.SetPayload("type.googleapis.com/google.rpc.BadRequest",
                      absl::Cord(br.SerializeAsString()));
        return st;
      });
  auto host =
      PluginHost::Start(OnePlugin("probe", EHX_PROBE_ADAPTER, "agency-probe",
                                  "{\"publish_case_ref\": \"EH-404\"}"),
                        fs::temp_directory_path(), &exchange);
  ASSERT_FALSE(host.ok());
  EXPECT_EQ(host.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(host.status().message(),
              HasSubstr("INVALID_ARGUMENT: refused [case_ref: unknown case]"));
}

// The probe through LoadedAdapter (no gateway, never started).
std::unique_ptr<LoadedAdapter> LoadProbe(Exchange* exchange,
                                         const std::string& config_json) {
  AdapterLoadOptions options;
  options.name = "probe";
  options.path = EHX_PROBE_ADAPTER;
  options.agency = "agency-probe";
  options.config = StructFromJson(config_json);
  auto a = LoadedAdapter::Load(options, exchange);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? std::move(*a) : nullptr;
}

TEST(Probe, IngestPublishesEachRecordAndReportsRefusals) {
  FakeExchange exchange;
  exchange.SetPublishAnswer(
      [](const FakeExchange::Published& p)
          -> absl::StatusOr<ehx::exchange::v1::PublishReceipt> {
        if (p.envelope.case_ref() != "BAD") {
          ehx::exchange::v1::PublishReceipt r;
          r.set_message_id("m-" + p.envelope.case_ref());
          return r;
        }
        google::rpc::BadRequest br;
        auto* v = br.add_field_violations();
        v->set_field("case_ref");
        v->set_description("case_ref_format: must look like EH-<digits>");
        absl::Status st = absl::InvalidArgumentError("refused");
        st.SetPayload("type.googleapis.com/google.rpc.BadRequest",
                      absl::Cord(br.SerializeAsString()));
        return st;
      });
  auto a = LoadProbe(&exchange, "{}");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->supports_ingest());
  EXPECT_EQ(a->abi_minor(), 2u);
  auto report = a->Ingest("in.txt", "EH-1\r\nBAD\n\nEH-3\n");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->input_name(), "in.txt");
  EXPECT_EQ(report->records_total(), 3);
  EXPECT_EQ(report->records_published(), 2);
  EXPECT_EQ(report->records_failed(), 1);
  EXPECT_THAT(report->published(), ::testing::ElementsAre("m-EH-1", "m-EH-3"));
  ASSERT_EQ(report->errors_size(), 1);
  EXPECT_EQ(report->errors(0).position(), "line 2");
  EXPECT_EQ(report->errors(0).rule(), "case_ref_format");
  EXPECT_EQ(report->errors(0).field(), "case_ref");
  EXPECT_EQ(report->errors(0).message(), "must look like EH-<digits>");
  auto published = exchange.published();
  ASSERT_EQ(published.size(), 3u);
  EXPECT_EQ(published[0].sender, "agency-probe");
  EXPECT_EQ(published[0].envelope.idempotency_key(), "probe-in.txt-1");
}

TEST(Probe, IngestRejectedInputPublishesNothing) {
  FakeExchange exchange;
  auto a = LoadProbe(&exchange, "{}");
  ASSERT_NE(a, nullptr);
  auto report = a->Ingest("bin", std::string("EH-1\n\0", 6));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->input_rejected());
  EXPECT_EQ(report->input_error(), "binary input (NUL byte)");
  EXPECT_TRUE(exchange.published().empty());
}

TEST(Probe, ThrowInIngestIsContained) {
  FakeExchange exchange;
  auto a = LoadProbe(&exchange, "{\"throw_in\": \"ingest\"}");
  ASSERT_NE(a, nullptr);
  auto report = a->Ingest("x", "EH-1");
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(report.status().message(), HasSubstr("boom in ingest"));
  EXPECT_THAT(report.status().message(), HasSubstr("plugin 'probe'"));
}

TEST(Probe, RenderProducesAResult) {
  FakeExchange exchange;
  auto a = LoadProbe(&exchange, "{}");
  ASSERT_NE(a, nullptr);
  ehx::exchange::v1::Delivery d;
  d.mutable_envelope()->set_message_id("m-9");
  d.mutable_envelope()->set_case_ref("EH-9");
  auto r = a->Render(d);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->file_name(), "m-9.txt");
  EXPECT_EQ(r->media_type(), "text/plain");
  EXPECT_EQ(r->content(), "EH-9\n");
  // The adapter's own refusal keeps its code and reason.
  auto refused = a->Render(ehx::exchange::v1::Delivery());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("missing_message_id"));
  auto garbage = a->RenderBytes(std::string("\xff\xff\xff", 3));
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(garbage.status().message(), HasSubstr("malformed_delivery"));
}

TEST(Probe, ThrowInRenderIsContained) {
  FakeExchange exchange;
  auto a = LoadProbe(&exchange, "{\"throw_in\": \"render\"}");
  ASSERT_NE(a, nullptr);
  ehx::exchange::v1::Delivery d;
  d.mutable_envelope()->set_message_id("m-1");
  auto r = a->Render(d);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(r.status().message(), HasSubstr("boom in render"));
}

TEST(Probe, NestedUnknownKeysAreNamedWithTheirPath) {
  ProbeRun run(
      "{\"nested\": {\"lable\": \"x\"}, \"items\": [{\"label\": \"a\"}, "
      "{\"bogus\": 1}]}");
  ASSERT_FALSE(run.host.ok());
  EXPECT_THAT(run.host.status().message(),
              HasSubstr("plugins[probe].config.nested.lable: unknown key"));
  EXPECT_THAT(run.host.status().message(),
              HasSubstr("plugins[probe].config.items[1].bogus: unknown key"));
}

TEST(Probe, WrongTypeIsRefused) {
  ProbeRun run("{\"nested\": {\"wait\": \"not a duration\"}}");
  ASSERT_FALSE(run.host.ok());
  EXPECT_EQ(run.host.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(run.host.status().message(), HasSubstr("plugins[probe].config"));
}

TEST(Probe, WellKnownTypesAndCamelCaseKeysConvert) {
  ProbeRun run(
      "{\"nested\": {\"wait\": \"1.5s\", \"label\": \"x\"}, "
      "\"publishCaseRef\": \"EH-2\"}");
  ASSERT_TRUE(run.host.ok()) << run.host.status();
  ASSERT_EQ(run.exchange.published().size(), 1u);
  EXPECT_EQ(run.exchange.published()[0].envelope.case_ref(), "EH-2");
}

// ---------------------------------------------------------------------------
// The folder adapter end to end through the real host.

class FolderRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* d : {"in", "out", "rejected"}) {
      fs::create_directories(dir_.path() / d);
    }
  }

  void StartHost() {
    const std::string json =
        "{\"inbox_dir\": \"" + in().string() + "\", \"outbox_dir\": \"" +
        out().string() + "\", \"rejected_dir\": \"" + rejected().string() +
        "\", \"poll_interval_ms\": 10, \"min_file_age_ms\": 1, "
        "\"retry_backoff_ms\": 20}";
    host_ = PluginHost::Start(
        OnePlugin("drop", EHX_FOLDER_ADAPTER, "school-1", json), dir_.path(),
        &exchange_);
    ASSERT_TRUE(host_.ok()) << host_.status();
  }

  void TearDown() override {
    if (host_.ok() && *host_) (*host_)->Stop();
  }

  fs::path in() const { return dir_.path() / "in"; }
  fs::path out() const { return dir_.path() / "out"; }
  fs::path rejected() const { return dir_.path() / "rejected"; }

  static std::vector<std::string> Names(const fs::path& d) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(d)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  TempDir dir_;
  FakeExchange exchange_;
  absl::StatusOr<std::unique_ptr<PluginHost>> host_ =
      absl::UnknownError("not started");
};

constexpr char kEnvelopeJson[] = R"({
  "idempotency_key": "raise-000123-1",
  "case_ref": "EH-2026-000123",
  "event_type": "EVENT_TYPE_CASE_CLOSED",
  "occurred_at": "2026-01-02T03:04:05Z",
  "correlation_id": "corr-9"
})";

TEST_F(FolderRoundTrip, InboxFileIsPublishedAndRemoved) {
  StartHost();
  DropFile(in(), "a.json", kEnvelopeJson);
  ASSERT_TRUE(exchange_.WaitUntil(
      [&] { return !exchange_.published_locked().empty(); }));
  ehx::exchange::v1::Envelope expected;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(kEnvelopeJson, &expected)
          .ok());
  auto published = exchange_.published();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].sender, "school-1");
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      published[0].envelope, expected))
      << published[0].envelope.DebugString();
  EXPECT_TRUE(Eventually([&] { return !fs::exists(in() / "a.json"); }));
}

TEST_F(FolderRoundTrip, PartialAndForeignFilesAreIgnored) {
  StartHost();
  std::ofstream(in() / ".b.json.tmp") << kEnvelopeJson;
  std::ofstream(in() / "notes.txt") << "hello";
  DropFile(in(), "c.json", kEnvelopeJson);
  ASSERT_TRUE(exchange_.WaitUntil(
      [&] { return !exchange_.published_locked().empty(); }));
  EXPECT_TRUE(Eventually([&] { return !fs::exists(in() / "c.json"); }));
  EXPECT_EQ(exchange_.published().size(), 1u);
  EXPECT_TRUE(fs::exists(in() / ".b.json.tmp"));
  EXPECT_TRUE(fs::exists(in() / "notes.txt"));
}

TEST_F(FolderRoundTrip, DeliveryIsWrittenToOutboxIdempotently) {
  StartHost();
  ehx::exchange::v1::Delivery d;
  d.set_delivery_id(41);
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(kEnvelopeJson,
                                                          d.mutable_envelope())
                  .ok());
  d.mutable_envelope()->set_message_id("01JABCDEF");
  d.mutable_envelope()->set_sender_agency("raise");
  d.mutable_envelope()->mutable_accepted_at()->set_seconds(1767323045);
  d.mutable_envelope()->mutable_accepted_at()->set_nanos(5);
  exchange_.Deliver("school-1", d);
  ASSERT_TRUE(
      exchange_.WaitUntil([&] { return exchange_.acks_locked().size() == 1; }));
  EXPECT_TRUE(exchange_.acks()[0].ok);
  const std::string name = "20260102T030405.000000005Z-01JABCDEF.json";
  ASSERT_EQ(Names(out()), std::vector<std::string>{name});
  ehx::exchange::v1::Envelope written;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  ReadFile(out() / name), &written)
                  .ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(written,
                                                                 d.envelope()));

  // Redelivery of the same message: same file, no duplicate.
  d.set_delivery_id(42);
  d.set_attempt(2);
  exchange_.Deliver("school-1", d);
  ASSERT_TRUE(
      exchange_.WaitUntil([&] { return exchange_.acks_locked().size() == 2; }));
  EXPECT_EQ(Names(out()), std::vector<std::string>{name});
}

TEST_F(FolderRoundTrip, UnparsableFileIsRejectedWithErrorText) {
  StartHost();
  DropFile(in(), "bad.json", "{\"case_ref\": ");
  ASSERT_TRUE(Eventually([&] {
    return fs::exists(rejected() / "bad.json.error.txt") &&
           fs::exists(rejected() / "bad.json");
  }));
  EXPECT_FALSE(fs::exists(in() / "bad.json"));
  EXPECT_THAT(ReadFile(rejected() / "bad.json.error.txt"),
              HasSubstr("code: INVALID_ARGUMENT"));
  EXPECT_TRUE(exchange_.published().empty());
}

TEST_F(FolderRoundTrip, RefusedEnvelopeIsRejectedWithViolations) {
  exchange_.SetPublishAnswer(
      [](const FakeExchange::Published&)
          -> absl::StatusOr<ehx::exchange::v1::PublishReceipt> {
        google::rpc::BadRequest br;
        auto* v = br.add_field_violations();
        v->set_field("case_ref");
        v->set_description("unknown case");
        absl::Status st = absl::InvalidArgumentError("envelope refused");
        st.SetPayload("type.googleapis.com/google.rpc.BadRequest",
                      absl::Cord(br.SerializeAsString()));
        return st;
      });
  StartHost();
  DropFile(in(), "r.json", kEnvelopeJson);
  ASSERT_TRUE(Eventually([&] {
    return fs::exists(rejected() / "r.json.error.txt") &&
           fs::exists(rejected() / "r.json");
  }));
  const std::string text = ReadFile(rejected() / "r.json.error.txt");
  EXPECT_THAT(text, HasSubstr("code: INVALID_ARGUMENT"));
  EXPECT_THAT(text, HasSubstr("message: envelope refused"));
  EXPECT_THAT(text, HasSubstr("violation: case_ref: unknown case"));
}

TEST_F(FolderRoundTrip, UnavailableIsRetriedLater) {
  std::atomic<int> calls{0};
  exchange_.SetPublishAnswer(
      [&](const FakeExchange::Published&)
          -> absl::StatusOr<ehx::exchange::v1::PublishReceipt> {
        if (calls.fetch_add(1) == 0) return absl::UnavailableError("busy");
        ehx::exchange::v1::PublishReceipt r;
        r.set_message_id("m1");
        return r;
      });
  StartHost();
  DropFile(in(), "t.json", kEnvelopeJson);
  ASSERT_TRUE(Eventually([&] { return !fs::exists(in() / "t.json"); }));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_TRUE(Names(rejected()).empty());
}

TEST(FolderConfigErrors, MissingDirectoryIsAClearError) {
  FakeExchange exchange;
  TempDir dir;
  auto host = PluginHost::Start(
      OnePlugin("drop", EHX_FOLDER_ADAPTER, "school-1",
                "{\"inbox_dir\": \"relative/in\", \"outbox_dir\": \"/x\", "
                "\"rejected_dir\": \"/y\"}"),
      dir.path(), &exchange);
  ASSERT_FALSE(host.ok());
  EXPECT_EQ(host.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(host.status().message(),
              HasSubstr("inbox_dir must be an absolute path"));
}

}  // namespace
}  // namespace ehx
