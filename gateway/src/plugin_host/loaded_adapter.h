// One adapter plugin loaded into this process, usable without a gateway:
// the gateway's PluginHost builds on it, and so do `ehxctl adapter check` /
// `ehxctl adapter render` (dry runs against a capturing Exchange) and tests.
// See plugins/abi/ehx_adapter_abi.h and docs/abi.md for the contract this
// side enforces.
#ifndef EHX_PLUGIN_HOST_LOADED_ADAPTER_H_
#define EHX_PLUGIN_HOST_LOADED_ADAPTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ehx/adapter/v1/ingest.pb.h"
#include "ehx/exchange.h"
#include "ehx/exchange/v1/envelope.pb.h"
#include "ehx_adapter_abi.h"
#include "google/protobuf/struct.pb.h"

namespace ehx {

// What to load and how to present it.
struct AdapterLoadOptions {
  // Instance name, for logs and errors ("plugin '<name>' (<path>): ...").
  std::string name = "adapter";
  // The shared object. Refused if missing, not a regular file or
  // world-writable.
  std::string path;
  // Every publish of the plugin goes out as this agency.
  std::string agency;
  // The plugin's config mapping (see plugin_host/plugin_config.h).
  google::protobuf::Struct config;
  // Prefix of config key paths in errors; empty: "plugins[<name>].config".
  std::string config_path;
};

// A loaded, created (not necessarily started) plugin instance. Methods are
// not thread-safe with each other except Publish callbacks, which the
// plugin makes through the host table; the owner serializes Start, Stop,
// Deliver, Ingest and Render. Destruction stops (if started) and destroys
// the instance; the module stays mapped (RTLD_NODELETE, see docs/abi.md).
class LoadedAdapter {
 public:
  // dlopens `options.path`, checks the handshake (major, minor, struct
  // size), converts the config against the plugin's own schema and calls
  // create(). `exchange` receives the plugin's publishes (as
  // options.agency) and must outlive the adapter. Errors name the plugin,
  // its path and the reason.
  static absl::StatusOr<std::unique_ptr<LoadedAdapter>> Load(
      const AdapterLoadOptions& options, Exchange* exchange);

  // What `ehx-gateway --check-config` does per plugin: dlopens
  // `options.path`, checks the handshake and converts the config exactly as
  // Load() does, but never calls create() (no folders made, no ports
  // bound). Returns the config warnings (see config_warnings()), or the
  // error Load() would return.
  static absl::StatusOr<std::vector<std::string>> CheckConfig(
      const AdapterLoadOptions& options);

  LoadedAdapter(const LoadedAdapter&) = delete;
  LoadedAdapter& operator=(const LoadedAdapter&) = delete;
  ~LoadedAdapter();

  // Calls the plugin's start(). At most once.
  absl::Status Start();
  // Calls stop() if Start() was called (even if it failed). Idempotent.
  void Stop();

  // What on_delivery answered: EHX_DELIVERY_* and the plugin's reason.
  struct DeliveryOutcome {
    int32_t disposition = EHX_DELIVERY_ACK;
    std::string reason;
  };
  // Hands one delivery to on_delivery(). Only between Start() and Stop().
  DeliveryOutcome Deliver(const ehx::exchange::v1::Delivery& delivery);

  // ABI >= 1.2 plugins that set ingest / render.
  bool supports_ingest() const { return api_.ingest != nullptr; }
  bool supports_render() const { return api_.render != nullptr; }

  // Feeds one native input to the plugin's ingest(); publishes go to the
  // Exchange. UNIMPLEMENTED "adapter does not support ingest" when the
  // plugin lacks it (older minor or NULL). A report is returned whenever
  // the plugin produced one with code 0, including input_rejected ones; a
  // non-zero code becomes an error status carrying the report's
  // input_error. Never needs Start().
  absl::StatusOr<ehx::adapter::v1::IngestReport> Ingest(
      std::string_view input_name, std::string_view bytes);

  // Renders one delivery through the plugin's render(). UNIMPLEMENTED
  // "adapter does not support render" when the plugin lacks it; else the
  // plugin's code and error. Never needs Start().
  absl::StatusOr<ehx::adapter::v1::RenderResult> Render(
      const ehx::exchange::v1::Delivery& delivery);

  // Render() on raw bytes (for conformance checks with malformed input).
  absl::StatusOr<ehx::adapter::v1::RenderResult> RenderBytes(
      std::string_view delivery_bytes);

  const std::string& name() const { return ctx_.name; }
  const std::string& agency() const { return ctx_.agency; }
  const std::string& path() const { return path_; }
  Exchange* exchange() const { return ctx_.exchange; }
  std::string adapter_type() const;
  std::string adapter_version() const;
  uint32_t abi_minor() const { return api_.header.abi_minor; }

  // Problems in the plugin's config that do not stop it loading, each
  // naming the config key (plugin_config.h, OwnAgencyWarnings); also logged
  // as warnings at load. No personal data.
  const std::vector<std::string>& config_warnings() const {
    return config_warnings_;
  }

  // "plugin '<name>'".
  std::string Label() const;
  // `code` with "plugin '<name>' (<path>): <reason>".
  absl::Status Error(absl::StatusCode code, std::string_view reason) const;

  // What host_ctx points at. Public for the C callbacks only.
  struct HostContext {
    Exchange* exchange = nullptr;
    std::string name;    // instance name, for logs
    std::string agency;  // sender for every publish
  };

 private:
  LoadedAdapter() = default;
  absl::Status LoadImpl(const AdapterLoadOptions& options);
  // dlopen, handshake, config conversion (into *config_bytes and
  // config_warnings_); no create().
  absl::Status OpenImpl(const AdapterLoadOptions& options,
                        std::string* config_bytes);

  std::string path_;
  HostContext ctx_;
  void* handle_ = nullptr;
  ehx_adapter_api_v1 api_{};
  ehx_adapter_instance* instance_ = nullptr;
  bool started_ = false;
  bool stopped_ = false;
  std::vector<std::string> config_warnings_;
};

// Shorthand for LoadedAdapter::Load with default naming.
absl::StatusOr<std::unique_ptr<LoadedAdapter>> LoadAdapter(
    const std::string& path, const google::protobuf::Struct& config,
    Exchange* exchange, const std::string& agency = "dry-run");

// An Exchange that answers Publish with a function and has an empty
// mailbox: the capturing host of dry runs and tests. Thread-safe if the
// function is.
class PublishOnlyExchange : public Exchange {
 public:
  using PublishFn =
      std::function<absl::StatusOr<ehx::exchange::v1::PublishReceipt>(
          const std::string& sender, const ehx::exchange::v1::Envelope&)>;
  explicit PublishOnlyExchange(PublishFn fn) : fn_(std::move(fn)) {}

  void Publish(std::string sender, ehx::exchange::v1::Envelope envelope,
               Callback<ehx::exchange::v1::PublishReceipt> done) override {
    done(fn_(sender, envelope));
  }
  void Fetch(std::string, int, int,
             Callback<std::vector<ehx::exchange::v1::Delivery>> done) override {
    done(std::vector<ehx::exchange::v1::Delivery>());
  }
  void Ack(std::string, std::vector<AckItem> items,
           Callback<int> done) override {
    done(0);
  }
  uint64_t Watch(std::string, std::function<void()>) override {
    std::lock_guard<std::mutex> lock(mu_);
    return ++next_token_;
  }
  void Unwatch(uint64_t) override {}

 private:
  PublishFn fn_;
  std::mutex mu_;
  uint64_t next_token_ = 0;
};

}  // namespace ehx

#endif  // EHX_PLUGIN_HOST_LOADED_ADAPTER_H_
