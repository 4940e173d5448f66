// Placeholder until the ABI lands: refuses any configured plugin.
#include "plugin_host/plugin_host.h"

namespace ehx {
namespace {
class NoPlugins : public PluginHost {
 public:
  void Stop() override {}
};
}  // namespace

absl::StatusOr<std::unique_ptr<PluginHost>> PluginHost::Start(
    const ehx::config::v1::GatewayConfig& config,
    const std::filesystem::path& config_dir, Exchange* exchange) {
  if (config.plugins_size() > 0) {
    return absl::UnimplementedError("plugins: loading not built yet");
  }
  return std::make_unique<NoPlugins>();
}

}  // namespace ehx
