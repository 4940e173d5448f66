// Loads adapter plugins listed in config and connects them to the Exchange.
#ifndef EHX_PLUGIN_HOST_PLUGIN_HOST_H_
#define EHX_PLUGIN_HOST_PLUGIN_HOST_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ehx/config/v1/config.pb.h"
#include "ehx/exchange.h"

namespace ehx {

// Owns the loaded plugins. Thread-safe for Stop().
class PluginHost {
 public:
  // Loads every plugin in `config.plugins()` (paths relative to
  // `config_dir`), hands each its config, and starts delivering each
  // plugin's agency mailbox to it. `exchange` must outlive the host.
  // Fails (and unloads what it loaded) if any plugin fails to load.
  static absl::StatusOr<std::unique_ptr<PluginHost>> Start(
      const ehx::config::v1::GatewayConfig& config,
      const std::filesystem::path& config_dir, Exchange* exchange);

  // What `ehx-gateway --check-config` checks of `config.plugins()`
  // without starting anything: the list (names, paths, agencies), and for
  // each plugin the shared object, its ABI handshake and its config against
  // the plugin's own schema (never calling create(): no folders, no ports).
  // Returns the warnings (each prefixed "plugin '<name>': "), e.g. an
  // own-agency field that is not the plugin's agency
  // (plugin_config.h, OwnAgencyWarnings), or the first error Start() would
  // report.
  static absl::StatusOr<std::vector<std::string>> CheckConfig(
      const ehx::config::v1::GatewayConfig& config,
      const std::filesystem::path& config_dir);

  virtual ~PluginHost() = default;

  // Stops delivery threads and unloads plugins. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace ehx

#endif  // EHX_PLUGIN_HOST_PLUGIN_HOST_H_
