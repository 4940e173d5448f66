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
#include "plugin_host/loaded_adapter.h"
#include "spdlog/spdlog.h"

namespace ehx {
namespace {

using ehx::exchange::v1::Delivery;

// How long the pump waits for Fetch/Ack callbacks before retrying.
constexpr auto kExchangeCallTimeout = std::chrono::seconds(60);
// Poll even without a Watch wake-up.
constexpr auto kPollInterval = std::chrono::seconds(1);
constexpr int kFetchBatch = 16;
constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(5);

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

// One loaded plugin and its delivery pump. Not thread-safe; owned by
// PluginHostImpl.
class Plugin {
 public:
  Plugin(std::string name, std::string path)
      : name_(std::move(name)), path_(std::move(path)) {}
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;
  ~Plugin() { Unload(); }

  absl::Status Load(const ehx::config::v1::Plugin& cfg, Exchange* exchange) {
    AdapterLoadOptions options;
    options.name = name_;
    options.path = path_;
    options.agency = cfg.agency();
    options.config = cfg.config();
    auto loaded = LoadedAdapter::Load(options, exchange);
    if (!loaded.ok()) return loaded.status();
    adapter_ = std::move(*loaded);
    return absl::OkStatus();
  }

  absl::Status Start() {
    if (absl::Status st = adapter_->Start(); !st.ok()) return st;
    signal_ = std::make_shared<PumpSignal>();
    std::weak_ptr<PumpSignal> weak = signal_;
    watch_token_ = adapter_->exchange()->Watch(adapter_->agency(), [weak] {
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
      adapter_->exchange()->Unwatch(watch_token_);
      watching_ = false;
    }
    adapter_.reset();  // stop() if started, destroy(), dlclose()
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
      adapter_->exchange()->Fetch(adapter_->agency(), kFetchBatch, 0,
                                  fetch.callback());
      auto deliveries = fetch.Wait(kExchangeCallTimeout);
      if (!deliveries.ok()) {
        backoff = NextBackoff(backoff);
        spdlog::warn("plugin {}: fetch failed ({}); retrying in {} ms", name_,
                     deliveries.status().ToString(), backoff.count());
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
      for (const Delivery& d : *deliveries) {
        AckItem item;
        item.delivery_id = d.delivery_id();
        LoadedAdapter::DeliveryOutcome outcome = adapter_->Deliver(d);
        const int32_t disposition = outcome.disposition;
        item.reason = std::move(outcome.reason);
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
          spdlog::warn("plugin {}: delivery {} (message {}) {}: {}", name_,
                       d.delivery_id(), d.envelope().message_id(),
                       item.permanent ? "rejected" : "to retry", item.reason);
        }
        items.push_back(std::move(item));
      }
      Waiter<int> ack;
      adapter_->exchange()->Ack(adapter_->agency(), std::move(items),
                                ack.callback());
      if (auto r = ack.Wait(kExchangeCallTimeout); !r.ok()) {
        // Unacked deliveries come back after their lease: no loss.
        spdlog::warn("plugin {}: ack failed: {}", name_, r.status().ToString());
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

  std::string name_;
  std::string path_;
  std::unique_ptr<LoadedAdapter> adapter_;
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

namespace {

// The plugin list's own rules, checked before loading anything.
absl::Status CheckPluginList(const ehx::config::v1::GatewayConfig& config) {
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
  return absl::OkStatus();
}

std::filesystem::path PluginPath(const ehx::config::v1::Plugin& p,
                                 const std::filesystem::path& config_dir) {
  std::filesystem::path path(p.path());
  if (path.is_relative()) path = config_dir / path;
  return path.lexically_normal();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> PluginHost::CheckConfig(
    const ehx::config::v1::GatewayConfig& config,
    const std::filesystem::path& config_dir) {
  if (absl::Status st = CheckPluginList(config); !st.ok()) return st;
  std::vector<std::string> warnings;
  for (const auto& p : config.plugins()) {
    AdapterLoadOptions options;
    options.name = p.name();
    options.path = PluginPath(p, config_dir).string();
    options.agency = p.agency();
    options.config = p.config();
    auto found = LoadedAdapter::CheckConfig(options);
    if (!found.ok()) return found.status();
    for (const std::string& w : *found) {
      warnings.push_back(absl::StrCat("plugin '", p.name(), "': ", w));
    }
  }
  return warnings;
}

absl::StatusOr<std::unique_ptr<PluginHost>> PluginHost::Start(
    const ehx::config::v1::GatewayConfig& config,
    const std::filesystem::path& config_dir, Exchange* exchange) {
  if (exchange == nullptr && config.plugins_size() > 0) {
    return absl::InvalidArgumentError("plugins: no exchange");
  }
  if (absl::Status st = CheckPluginList(config); !st.ok()) return st;

  auto host = std::make_unique<PluginHostImpl>();
  for (const auto& p : config.plugins()) {
    auto plugin =
        std::make_unique<Plugin>(p.name(), PluginPath(p, config_dir).string());
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
