// Loading one adapter plugin and calling its table. See loaded_adapter.h.
#include "plugin_host/loaded_adapter.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "plugin_host/plugin_config.h"
#include "spdlog/spdlog.h"

namespace ehx {
namespace {

using ehx::exchange::v1::Delivery;
using ehx::exchange::v1::Envelope;
using ehx::exchange::v1::PublishReceipt;
using HostContext = LoadedAdapter::HostContext;

// Same URL as common/status_util.h's kBadRequestTypeUrl.
constexpr char kBadRequestTypeUrl[] =
    "type.googleapis.com/google.rpc.BadRequest";

// How long a plugin's publish() waits for the Exchange before giving up
// with DEADLINE_EXCEEDED (the Exchange calls back once the commit is
// durable, normally within milliseconds).
constexpr auto kPublishTimeout = std::chrono::seconds(120);

// Copies `s` into malloc'ed memory (freed by FreePublishResult).
char* MallocCopy(std::string_view s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) return nullptr;
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

int32_t FillResult(ehx_publish_result* out, const absl::Status& st) {
  out->code = static_cast<int32_t>(st.code());
  const std::string message(st.message());
  out->message = MallocCopy(message);
  out->message_len = out->message != nullptr ? message.size() : 0;
  if (auto payload = st.GetPayload(kBadRequestTypeUrl)) {
    const std::string bytes(*payload);
    out->bad_request = reinterpret_cast<uint8_t*>(MallocCopy(bytes));
    out->bad_request_len = out->bad_request != nullptr ? bytes.size() : 0;
  }
  return out->code;
}

int32_t HostPublish(void* host_ctx, const uint8_t* envelope,
                    size_t envelope_len, ehx_publish_result* out) {
  if (out == nullptr) return EHX_CODE_INVALID_ARGUMENT;
  *out = ehx_publish_result{};
  auto* ctx = static_cast<HostContext*>(host_ctx);
  Envelope env;
  if ((envelope == nullptr && envelope_len != 0) ||
      !env.ParseFromArray(envelope, static_cast<int>(envelope_len))) {
    return FillResult(
        out, absl::InvalidArgumentError("envelope bytes do not parse as "
                                        "ehx.exchange.v1.Envelope"));
  }
  auto promise =
      std::make_shared<std::promise<absl::StatusOr<PublishReceipt>>>();
  auto future = promise->get_future();
  ctx->exchange->Publish(ctx->agency, std::move(env),
                         [promise](absl::StatusOr<PublishReceipt> r) {
                           promise->set_value(std::move(r));
                         });
  if (future.wait_for(kPublishTimeout) != std::future_status::ready) {
    return FillResult(out, absl::DeadlineExceededError(
                               "gateway did not answer the publish in time"));
  }
  absl::StatusOr<PublishReceipt> r = future.get();
  if (!r.ok()) return FillResult(out, r.status());
  std::string bytes;
  if (!r->SerializeToString(&bytes)) {
    return FillResult(out, absl::InternalError("receipt not serializable"));
  }
  out->receipt = reinterpret_cast<uint8_t*>(MallocCopy(bytes));
  if (out->receipt == nullptr) {
    return FillResult(out, absl::ResourceExhaustedError("out of memory"));
  }
  out->receipt_len = bytes.size();
  out->code = EHX_CODE_OK;
  return EHX_CODE_OK;
}

void HostFreePublishResult(void*, ehx_publish_result* r) {
  if (r == nullptr) return;
  std::free(r->receipt);
  std::free(r->message);
  std::free(r->bad_request);
  *r = ehx_publish_result{};
}

void HostLog(void* host_ctx, int32_t level, const char* message, size_t len) {
  auto* ctx = static_cast<HostContext*>(host_ctx);
  constexpr size_t kMaxLine = 4096;
  std::string_view text(message != nullptr ? message : "",
                        message != nullptr ? std::min(len, kMaxLine) : 0);
  spdlog::level::level_enum lvl = spdlog::level::info;
  switch (level) {
    case EHX_LOG_DEBUG:
      lvl = spdlog::level::debug;
      break;
    case EHX_LOG_INFO:
      lvl = spdlog::level::info;
      break;
    case EHX_LOG_WARN:
      lvl = spdlog::level::warn;
      break;
    default:
      lvl = spdlog::level::err;
      break;
  }
  spdlog::log(lvl, "plugin {}: {}", ctx->name, text);
}

const ehx_host_api_v1 kHostApi = {
    {EHX_ADAPTER_ABI_MAJOR, EHX_ADAPTER_ABI_MINOR,
     static_cast<uint32_t>(sizeof(ehx_host_api_v1))},
    &HostPublish,
    &HostFreePublishResult,
    &HostLog,
};

// Takes ownership of a plugin-allocated string.
std::string TakeString(const ehx_adapter_api_v1& api, char* s) {
  if (s == nullptr) return std::string();
  std::string out(s);
  if (api.free_string != nullptr) api.free_string(s);
  return out;
}

// Takes ownership of a plugin-allocated buffer.
std::string TakeBuffer(const ehx_adapter_api_v1& api, uint8_t* p, size_t n) {
  if (p == nullptr) return std::string();
  std::string out(reinterpret_cast<const char*>(p), n);
  if (api.free_buffer != nullptr) api.free_buffer(p);
  return out;
}

std::string CodeName(int32_t code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

absl::StatusCode ToCode(int32_t code) {
  return code > 0 && code <= 16 ? static_cast<absl::StatusCode>(code)
                                : absl::StatusCode::kUnknown;
}

}  // namespace

std::string LoadedAdapter::Label() const {
  return absl::StrCat("plugin '", ctx_.name, "'");
}

absl::Status LoadedAdapter::Error(absl::StatusCode code,
                                  std::string_view reason) const {
  return absl::Status(
      code, absl::StrCat(Label(), " (", path_, "): ", std::string(reason)));
}

std::string LoadedAdapter::adapter_type() const {
  return api_.adapter_type != nullptr ? api_.adapter_type : "?";
}

std::string LoadedAdapter::adapter_version() const {
  return api_.adapter_version != nullptr ? api_.adapter_version : "?";
}

absl::StatusOr<std::unique_ptr<LoadedAdapter>> LoadedAdapter::Load(
    const AdapterLoadOptions& options, Exchange* exchange) {
  std::unique_ptr<LoadedAdapter> a(new LoadedAdapter());
  a->path_ = options.path;
  a->ctx_.name = options.name;
  a->ctx_.agency = options.agency;
  a->ctx_.exchange = exchange;
  if (exchange == nullptr) {
    return a->Error(absl::StatusCode::kInvalidArgument, "no exchange");
  }
  absl::Status st = a->LoadImpl(options);
  if (!st.ok()) return st;
  return a;
}

absl::StatusOr<std::vector<std::string>> LoadedAdapter::CheckConfig(
    const AdapterLoadOptions& options) {
  std::unique_ptr<LoadedAdapter> a(new LoadedAdapter());
  a->path_ = options.path;
  a->ctx_.name = options.name;
  a->ctx_.agency = options.agency;
  std::string config_bytes;
  absl::Status st = a->OpenImpl(options, &config_bytes);
  if (!st.ok()) return st;
  return a->config_warnings_;
}

absl::Status LoadedAdapter::LoadImpl(const AdapterLoadOptions& options) {
  std::string config_bytes;
  if (absl::Status st = OpenImpl(options, &config_bytes); !st.ok()) return st;
  for (const std::string& w : config_warnings_) {
    spdlog::warn("{}: config: {}", Label(), w);
  }
  char* error = nullptr;
  const int32_t code =
      api_.create(reinterpret_cast<const uint8_t*>(config_bytes.data()),
                  config_bytes.size(), &kHostApi, &ctx_, &instance_, &error);
  std::string message = TakeString(api_, error);
  if (code != EHX_CODE_OK || instance_ == nullptr) {
    instance_ = nullptr;
    return Error(
        code != EHX_CODE_OK ? ToCode(code) : absl::StatusCode::kInternal,
        absl::StrCat("create failed: ", CodeName(code), ": ", message));
  }
  const ehx_abi_header& h = api_.header;
  spdlog::info("plugin {}: loaded {} {} (ABI {}.{}) as agency {}", ctx_.name,
               adapter_type(), adapter_version(), h.abi_major, h.abi_minor,
               ctx_.agency);
  return absl::OkStatus();
}

absl::Status LoadedAdapter::OpenImpl(const AdapterLoadOptions& options,
                                     std::string* config_bytes_out) {
  struct stat sb;
  if (::stat(path_.c_str(), &sb) != 0) {
    return Error(absl::StatusCode::kNotFound,
                 absl::StrCat("cannot stat: ", std::strerror(errno)));
  }
  if (!S_ISREG(sb.st_mode)) {
    return Error(absl::StatusCode::kFailedPrecondition, "not a regular file");
  }
  if (sb.st_mode & S_IWOTH) {
    return Error(absl::StatusCode::kPermissionDenied,
                 "refusing a world-writable shared object");
  }
  // RTLD_NODELETE: protobuf (3.21) keeps pointers into a module's
  // generated descriptors in its generated pool and cannot unregister
  // them, so a module that ever ran its static initialisers must stay
  // mapped. dlclose() then only drops the reference.
  handle_ = ::dlopen(path_.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle_ == nullptr) {
    const char* err = ::dlerror();
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("dlopen failed: ", err ? err : "unknown"));
  }
  ::dlerror();
  auto entry = reinterpret_cast<ehx_adapter_v1_entry_fn>(
      ::dlsym(handle_, EHX_ADAPTER_ENTRY_SYMBOL));
  if (entry == nullptr) {
    for (int major = 2; major <= 9; ++major) {
      const std::string other = absl::StrCat("ehx_adapter_v", major, "_entry");
      if (::dlsym(handle_, other.c_str()) != nullptr) {
        return Error(absl::StatusCode::kFailedPrecondition,
                     absl::StrCat("built for adapter ABI major ", major,
                                  "; this gateway speaks major ",
                                  EHX_ADAPTER_ABI_MAJOR));
      }
    }
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("no ", EHX_ADAPTER_ENTRY_SYMBOL,
                              " symbol: not an ehx adapter"));
  }
  const ehx_abi_header host_header = kHostApi.header;
  const ehx_adapter_api_v1* table = entry(&host_header);
  if (table == nullptr) {
    return Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("plugin refused this host (ABI ", EHX_ADAPTER_ABI_MAJOR,
                     ".", EHX_ADAPTER_ABI_MINOR, ")"));
  }
  const ehx_abi_header& h = table->header;
  if (h.abi_major != EHX_ADAPTER_ABI_MAJOR) {
    return Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("plugin speaks adapter ABI major ", h.abi_major,
                     "; this gateway speaks major ", EHX_ADAPTER_ABI_MAJOR));
  }
  if (h.abi_minor > EHX_ADAPTER_ABI_MINOR) {
    return Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("plugin needs adapter ABI ", h.abi_major, ".", h.abi_minor,
                     ", newer than this gateway's ", EHX_ADAPTER_ABI_MAJOR, ".",
                     EHX_ADAPTER_ABI_MINOR, ": upgrade the gateway"));
  }
  size_t needed = EHX_ADAPTER_API_V1_MIN_SIZE;
  if (h.abi_minor >= 2) {
    needed = offsetof(ehx_adapter_api_v1, free_buffer) + sizeof(void*);
  } else if (h.abi_minor >= 1) {
    needed = offsetof(ehx_adapter_api_v1, check_health) + sizeof(void*);
  }
  if (h.struct_size < needed) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("plugin table struct_size ", h.struct_size,
                              " is smaller than ABI ", h.abi_major, ".",
                              h.abi_minor, " requires (", needed, ")"));
  }
  // Our copy: members the plugin's (older) table lacks stay null.
  api_ = ehx_adapter_api_v1{};
  std::memcpy(&api_, table,
              std::min<size_t>(h.struct_size, sizeof(ehx_adapter_api_v1)));
  if (api_.create == nullptr || api_.start == nullptr ||
      api_.on_delivery == nullptr || api_.stop == nullptr ||
      api_.destroy == nullptr || api_.free_string == nullptr) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 "plugin table lacks a required function");
  }
  if ((api_.ingest != nullptr || api_.render != nullptr) &&
      api_.free_buffer == nullptr) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 "plugin table has ingest/render but no free_buffer");
  }

  // Config.
  const std::string cfg_path =
      options.config_path.empty()
          ? absl::StrCat("plugins[", ctx_.name, "].config")
          : options.config_path;
  config_warnings_.clear();
  absl::StatusOr<std::string> config_bytes = plugin_host::PluginConfigToBytes(
      options.config,
      std::string_view(
          reinterpret_cast<const char*>(api_.config_descriptor_set),
          api_.config_descriptor_set != nullptr ? api_.config_descriptor_set_len
                                                : 0),
      api_.config_message_name != nullptr ? api_.config_message_name : "",
      cfg_path, ctx_.agency, &config_warnings_);
  if (!config_bytes.ok()) {
    return Error(config_bytes.status().code(),
                 absl::StrCat("bad config: ", config_bytes.status().message()));
  }
  *config_bytes_out = std::move(*config_bytes);
  return absl::OkStatus();
}

LoadedAdapter::~LoadedAdapter() {
  Stop();
  if (instance_ != nullptr) {
    api_.destroy(instance_);
    instance_ = nullptr;
    spdlog::info("plugin {}: stopped", ctx_.name);
  }
  if (handle_ != nullptr) {
    ::dlclose(handle_);
    handle_ = nullptr;
  }
}

absl::Status LoadedAdapter::Start() {
  if (started_) {
    return Error(absl::StatusCode::kFailedPrecondition, "already started");
  }
  char* error = nullptr;
  const int32_t code = api_.start(instance_, &error);
  std::string message = TakeString(api_, error);
  started_ = true;  // stop() is called even when start() failed
  if (code != EHX_CODE_OK) {
    return Error(ToCode(code),
                 absl::StrCat("start failed: ", CodeName(code), ": ", message));
  }
  return absl::OkStatus();
}

void LoadedAdapter::Stop() {
  if (started_ && !stopped_ && instance_ != nullptr) {
    api_.stop(instance_);
    stopped_ = true;
  }
}

LoadedAdapter::DeliveryOutcome LoadedAdapter::Deliver(
    const Delivery& delivery) {
  DeliveryOutcome out;
  std::string bytes;
  delivery.SerializeToString(&bytes);
  char* reason = nullptr;
  out.disposition = api_.on_delivery(
      instance_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
      &reason);
  out.reason = TakeString(api_, reason);
  return out;
}

absl::StatusOr<ehx::adapter::v1::IngestReport> LoadedAdapter::Ingest(
    std::string_view input_name, std::string_view bytes) {
  if (api_.ingest == nullptr) {
    return Error(
        absl::StatusCode::kUnimplemented,
        absl::StrCat("adapter does not support ingest (", adapter_type(),
                     ", ABI 1.", api_.header.abi_minor, ")"));
  }
  uint8_t* report = nullptr;
  size_t report_len = 0;
  const int32_t code =
      api_.ingest(instance_, input_name.data(), input_name.size(),
                  reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                  &report, &report_len);
  const bool have_report = report != nullptr;
  const std::string serialized = TakeBuffer(api_, report, report_len);
  ehx::adapter::v1::IngestReport r;
  const bool parsed = have_report && r.ParseFromString(serialized);
  if (code != EHX_CODE_OK) {
    return Error(ToCode(code),
                 absl::StrCat("ingest failed: ", CodeName(code),
                              parsed && !r.input_error().empty()
                                  ? absl::StrCat(": ", r.input_error())
                                  : std::string()));
  }
  if (!parsed) {
    return Error(absl::StatusCode::kInternal,
                 "ingest returned no parsable ehx.adapter.v1.IngestReport");
  }
  return r;
}

absl::StatusOr<ehx::adapter::v1::RenderResult> LoadedAdapter::Render(
    const Delivery& delivery) {
  std::string bytes;
  if (!delivery.SerializeToString(&bytes)) {
    return absl::InvalidArgumentError("delivery not serializable");
  }
  return RenderBytes(bytes);
}

absl::StatusOr<ehx::adapter::v1::RenderResult> LoadedAdapter::RenderBytes(
    std::string_view delivery_bytes) {
  if (api_.render == nullptr) {
    return Error(
        absl::StatusCode::kUnimplemented,
        absl::StrCat("adapter does not support render (", adapter_type(),
                     ", ABI 1.", api_.header.abi_minor, ")"));
  }
  uint8_t* result = nullptr;
  size_t result_len = 0;
  char* error = nullptr;
  const int32_t code = api_.render(
      instance_, reinterpret_cast<const uint8_t*>(delivery_bytes.data()),
      delivery_bytes.size(), &result, &result_len, &error);
  const std::string message = TakeString(api_, error);
  const bool have_result = result != nullptr;
  const std::string serialized = TakeBuffer(api_, result, result_len);
  if (code != EHX_CODE_OK) {
    return Error(ToCode(code),
                 absl::StrCat("render failed: ", CodeName(code),
                              message.empty() ? "" : ": ", message));
  }
  ehx::adapter::v1::RenderResult r;
  if (!have_result || !r.ParseFromString(serialized)) {
    return Error(absl::StatusCode::kInternal,
                 "render returned no parsable ehx.adapter.v1.RenderResult");
  }
  return r;
}

absl::StatusOr<std::unique_ptr<LoadedAdapter>> LoadAdapter(
    const std::string& path, const google::protobuf::Struct& config,
    Exchange* exchange, const std::string& agency) {
  AdapterLoadOptions options;
  options.path = path;
  options.config = config;
  options.agency = agency;
  options.config_path = "config";
  return LoadedAdapter::Load(options, exchange);
}

}  // namespace ehx
