// Loading and cross-field validation of the gateway configuration.
#ifndef EHX_CONFIG_CONFIG_LOADER_H_
#define EHX_CONFIG_CONFIG_LOADER_H_

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "ehx/config/v1/config.pb.h"

namespace ehx::config {

// Reads the YAML file at `path`, parses it into GatewayConfig (unknown
// keys refused with their path), makes every relative file path absolute
// against the file's folder, applies defaults and calls ValidateConfig.
absl::StatusOr<ehx::config::v1::GatewayConfig> LoadConfigFile(
    const std::filesystem::path& path);

// Same from YAML text; relative paths resolve against `base_dir`.
absl::StatusOr<ehx::config::v1::GatewayConfig> LoadConfigText(
    const std::string& yaml, const std::filesystem::path& base_dir);

// Cross-field rules: unique well-formed agency ids with roles, routes
// naming known event types and agencies, TLS files present unless
// dev_plaintext, dev_plaintext only on loopback, plugin names unique and
// bound to registered agencies. Errors name the field path.
absl::Status ValidateConfig(const ehx::config::v1::GatewayConfig& config);

}  // namespace ehx::config

#endif  // EHX_CONFIG_CONFIG_LOADER_H_
