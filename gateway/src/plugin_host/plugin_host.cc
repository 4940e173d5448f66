// The adapter plugin loader. See plugins/abi/ehx_adapter_abi.h and
// docs/abi.md for the contract this side enforces.
#include "plugin_host/plugin_host.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "ehx_adapter_abi.h"
#include "plugin_host/plugin_config.h"
#include "spdlog/spdlog.h"

namespace ehx {
namespace {

using ehx::exchange::v1::Delivery;
using ehx::exchange::v1::Envelope;
using ehx::exchange::v1::PublishReceipt;

// Same URL as common/status_util.h's kBadRequestTypeUrl.
constexpr char kBadRequestTypeUrl[] =
    "type.googleapis.com/google.rpc.BadRequest";

// How long a plugin's publish() waits for the Exchange before giving up
// with DEADLINE_EXCEEDED (the Exchange calls back once the commit is
// durable, normally within milliseconds).
constexpr auto kPublishTimeout = std::chrono::seconds(120);
// How long the pump waits for Fetch/Ack callbacks before retrying.
constexpr auto kExchangeCallTimeout = std::chrono::seconds(60);
// Poll even without a Watch wake-up.
constexpr auto kPollInterval = std::chrono::seconds(1);
constexpr int kFetchBatch = 16;
constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(5);

// Copies `s` into malloc'ed memory (freed by FreePublishResult).
char* MallocCopy(std::string_view s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) return nullptr;
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

// What host_ctx points at: one per plugin instance. Owned by Plugin;
// outlives the instance.
struct HostContext {
  Exchange* exchange = nullptr;
  std::string name;    // instance name, for logs
  std::string agency;  // sender for every publish
};

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

std::string CodeName(int32_t code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Waits for an Exchange callback with a timeout; the shared state keeps a
// late callback safe.
template <typename T>
class Waiter {
 public:
  Waiter() : promise_(std::make_shared<std::promise<absl::StatusOr<T>>>()) {}
  Callback<T> callback() {
    auto p = promise_;
    return [p](absl::StatusOr<T> r) { p->set_value(std::move(r)); };
  }
  absl::StatusOr<T> Wait(std::chrono::milliseconds timeout) {
    auto f = promise_->get_future();
    if (f.wait_for(timeout) != std::future_status::ready) {
      return absl::DeadlineExceededError("exchange did not answer in time");
    }
    return f.get();
  }

 private:
  std::shared_ptr<std::promise<absl::StatusOr<T>>> promise_;
};

// The wake-up flag a Watch callback sets. Shared with the Exchange's
// callback so a late wake after Unwatch is harmless.
struct PumpSignal {
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  bool stopping = false;
};

// One loaded plugin. Not thread-safe; owned by PluginHostImpl.
class Plugin {
 public:
  Plugin(std::string name, std::string path) : path_(std::move(path)) {
    ctx_.name = std::move(name);
  }
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;
  ~Plugin() { Unload(); }

  std::string Label() const { return absl::StrCat("plugin '", ctx_.name, "'"); }

  absl::Status Error(absl::StatusCode code, std::string_view reason) const {
    return absl::Status(
        code, absl::StrCat(Label(), " (", path_, "): ", std::string(reason)));
  }

  absl::Status Load(const ehx::config::v1::Plugin& cfg, Exchange* exchange) {
    ctx_.exchange = exchange;
    ctx_.agency = cfg.agency();

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
        const std::string other =
            absl::StrCat("ehx_adapter_v", major, "_entry");
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
          absl::StrCat("plugin needs adapter ABI ", h.abi_major, ".",
                       h.abi_minor, ", newer than this gateway's ",
                       EHX_ADAPTER_ABI_MAJOR, ".", EHX_ADAPTER_ABI_MINOR,
                       ": upgrade the gateway"));
    }
    size_t needed = EHX_ADAPTER_API_V1_MIN_SIZE;
    if (h.abi_minor >= 1) {
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

    // Config.
    const std::string cfg_path =
        absl::StrCat("plugins[", ctx_.name, "].config");
    absl::StatusOr<std::string> config_bytes = plugin_host::PluginConfigToBytes(
        cfg.config(),
        std::string_view(
            reinterpret_cast<const char*>(api_.config_descriptor_set),
            api_.config_descriptor_set != nullptr
                ? api_.config_descriptor_set_len
                : 0),
        api_.config_message_name != nullptr ? api_.config_message_name : "",
        cfg_path);
    if (!config_bytes.ok()) {
      return Error(
          config_bytes.status().code(),
          absl::StrCat("bad config: ", config_bytes.status().message()));
    }

    char* error = nullptr;
    const int32_t code =
        api_.create(reinterpret_cast<const uint8_t*>(config_bytes->data()),
                    config_bytes->size(), &kHostApi, &ctx_, &instance_, &error);
    std::string message = TakeString(api_, error);
    if (code != EHX_CODE_OK || instance_ == nullptr) {
      instance_ = nullptr;
      return Error(
          code != EHX_CODE_OK ? static_cast<absl::StatusCode>(code)
                              : absl::StatusCode::kInternal,
          absl::StrCat("create failed: ", CodeName(code), ": ", message));
    }
    spdlog::info("plugin {}: loaded {} {} (ABI {}.{}) as agency {}", ctx_.name,
                 api_.adapter_type ? api_.adapter_type : "?",
                 api_.adapter_version ? api_.adapter_version : "?", h.abi_major,
                 h.abi_minor, ctx_.agency);
    return absl::OkStatus();
  }

  absl::Status Start() {
    char* error = nullptr;
    const int32_t code = api_.start(instance_, &error);
    std::string message = TakeString(api_, error);
    started_ = true;  // stop() is called even when start() failed
    if (code != EHX_CODE_OK) {
      return Error(
          static_cast<absl::StatusCode>(code),
          absl::StrCat("start failed: ", CodeName(code), ": ", message));
    }
    signal_ = std::make_shared<PumpSignal>();
    std::weak_ptr<PumpSignal> weak = signal_;
    watch_token_ = ctx_.exchange->Watch(ctx_.agency, [weak] {
      if (auto s = weak.lock()) {
        std::lock_guard<std::mutex> lock(s->mu);
        s->woken = true;
        s->cv.notify_one();
      }
    });
    watching_ = true;
    pump_ = std::thread([this] { Pump(); });
    return absl::OkStatus();
  }

  // Stops the pump, then the instance; destroys it; drops the module.
  // Idempotent.
  void Unload() {
    if (signal_) {
      {
        std::lock_guard<std::mutex> lock(signal_->mu);
        signal_->stopping = true;
        signal_->cv.notify_all();
      }
    }
    if (pump_.joinable()) pump_.join();
    if (watching_) {
      ctx_.exchange->Unwatch(watch_token_);
      watching_ = false;
    }
    if (instance_ != nullptr) {
      if (started_) api_.stop(instance_);
      api_.destroy(instance_);
      instance_ = nullptr;
      spdlog::info("plugin {}: stopped", ctx_.name);
    }
    if (handle_ != nullptr) {
      ::dlclose(handle_);
      handle_ = nullptr;
    }
  }

 private:
  bool Stopping() {
    std::lock_guard<std::mutex> lock(signal_->mu);
    return signal_->stopping;
  }

  // Sleeps until `timeout`, a wake-up (if `wake_ok`) or stop. Returns false
  // when stopping.
  bool WaitFor(std::chrono::milliseconds timeout, bool wake_ok) {
    std::unique_lock<std::mutex> lock(signal_->mu);
    signal_->cv.wait_for(lock, timeout, [&] {
      return signal_->stopping || (wake_ok && signal_->woken);
    });
    if (wake_ok) signal_->woken = false;
    return !signal_->stopping;
  }

  // The delivery pump: Fetch from the agency's mailbox, hand each delivery
  // to the plugin, Ack/Nack. Runs on its own thread until Unload().
  void Pump() {
    std::chrono::milliseconds backoff(0);
    while (!Stopping()) {
      {
        // Clear the flag before fetching: a wake that arrives during the
        // fetch is kept for the next round.
        std::lock_guard<std::mutex> lock(signal_->mu);
        signal_->woken = false;
      }
      Waiter<std::vector<Delivery>> fetch;
      ctx_.exchange->Fetch(ctx_.agency, kFetchBatch, 0, fetch.callback());
      auto deliveries = fetch.Wait(kExchangeCallTimeout);
      if (!deliveries.ok()) {
        backoff = NextBackoff(backoff);
        spdlog::warn("plugin {}: fetch failed ({}); retrying in {} ms",
                     ctx_.name, deliveries.status().ToString(),
                     backoff.count());
        if (!WaitFor(backoff, false)) return;
        continue;
      }
      if (deliveries->empty()) {
        backoff = std::chrono::milliseconds(0);
        if (!WaitFor(std::chrono::duration_cast<std::chrono::milliseconds>(
                         kPollInterval),
                     true)) {
          return;
        }
        continue;
      }
      std::vector<AckItem> items;
      items.reserve(deliveries->size());
      bool all_retry = true;
      std::string bytes;
      for (const Delivery& d : *deliveries) {
        AckItem item;
        item.delivery_id = d.delivery_id();
        bytes.clear();
        d.SerializeToString(&bytes);
        char* reason = nullptr;
        const int32_t disposition = api_.on_delivery(
            instance_, reinterpret_cast<const uint8_t*>(bytes.data()),
            bytes.size(), &reason);
        item.reason = TakeString(api_, reason);
        switch (disposition) {
          case EHX_DELIVERY_ACK:
            item.ok = true;
            all_retry = false;
            break;
          case EHX_DELIVERY_REJECT:
            item.ok = false;
            item.permanent = true;
            all_retry = false;
            break;
          case EHX_DELIVERY_RETRY:
            item.ok = false;
            break;
          default:
            item.ok = false;
            item.reason = absl::StrCat("invalid disposition ", disposition);
            break;
        }
        if (!item.ok) {
          spdlog::warn("plugin {}: delivery {} (message {}) {}: {}", ctx_.name,
                       d.delivery_id(), d.envelope().message_id(),
                       item.permanent ? "rejected" : "to retry", item.reason);
        }
        items.push_back(std::move(item));
      }
      Waiter<int> ack;
      ctx_.exchange->Ack(ctx_.agency, std::move(items), ack.callback());
      if (auto r = ack.Wait(kExchangeCallTimeout); !r.ok()) {
        // Unacked deliveries come back after their lease: no loss.
        spdlog::warn("plugin {}: ack failed: {}", ctx_.name,
                     r.status().ToString());
      }
      if (all_retry) {
        // The plugin's downstream is unhappy: back off before asking again.
        backoff = NextBackoff(backoff);
        if (!WaitFor(backoff, false)) return;
      } else {
        backoff = std::chrono::milliseconds(0);
      }
    }
  }

  static std::chrono::milliseconds NextBackoff(std::chrono::milliseconds b) {
    if (b.count() == 0) return kMinBackoff;
    return std::min<std::chrono::milliseconds>(b * 2, kMaxBackoff);
  }

  std::string path_;
  HostContext ctx_;
  void* handle_ = nullptr;
  ehx_adapter_api_v1 api_{};
  ehx_adapter_instance* instance_ = nullptr;
  bool started_ = false;
  std::shared_ptr<PumpSignal> signal_;
  uint64_t watch_token_ = 0;
  bool watching_ = false;
  std::thread pump_;
};

class PluginHostImpl : public PluginHost {
 public:
  ~PluginHostImpl() override { Stop(); }

  void Add(std::unique_ptr<Plugin> p) { plugins_.push_back(std::move(p)); }

  void Stop() override {
    std::lock_guard<std::mutex> lock(mu_);
    // Reverse load order.
    for (auto it = plugins_.rbegin(); it != plugins_.rend(); ++it) {
      (*it)->Unload();
    }
    plugins_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<Plugin>> plugins_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PluginHost>> PluginHost::Start(
    const ehx::config::v1::GatewayConfig& config,
    const std::filesystem::path& config_dir, Exchange* exchange) {
  if (exchange == nullptr && config.plugins_size() > 0) {
    return absl::InvalidArgumentError("plugins: no exchange");
  }
  // Validate the list before loading anything.
  std::set<std::string> names;
  for (int i = 0; i < config.plugins_size(); ++i) {
    const auto& p = config.plugins(i);
    const std::string where = absl::StrCat("plugins[", i, "]");
    if (p.name().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".name: required"));
    }
    if (!names.insert(p.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name: duplicate plugin name '", p.name(), "'"));
    }
    if (p.path().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("plugin '", p.name(), "': path is required"));
    }
    if (p.agency().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("plugin '", p.name(), "': agency is required"));
    }
  }

  auto host = std::make_unique<PluginHostImpl>();
  for (const auto& p : config.plugins()) {
    std::filesystem::path path(p.path());
    if (path.is_relative()) path = config_dir / path;
    auto plugin = std::make_unique<Plugin>(p.name(), path.lexically_normal());
    absl::Status st = plugin->Load(p, exchange);
    if (st.ok()) st = plugin->Start();
    if (!st.ok()) {
      plugin->Unload();
      host->Stop();  // unloads what was loaded, in reverse order
      return st;
    }
    host->Add(std::move(plugin));
  }
  return host;
}

}  // namespace ehx
