// Turns a plugin's YAML config (a google.protobuf.Struct inside the
// gateway config) into the binary encoding of the plugin's own config
// message, described by the descriptor set the plugin exports.
#ifndef EHX_PLUGIN_HOST_PLUGIN_CONFIG_H_
#define EHX_PLUGIN_HOST_PLUGIN_CONFIG_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"

namespace ehx::plugin_host {

// Converts `config` into `message_name` (a message defined in the serialized
// google.protobuf.FileDescriptorSet `descriptor_set`). Builds a private
// DescriptorPool, so the plugin's schema never touches the gateway's
// generated pool. Unknown keys are refused: the error names every bad key
// with its path, prefixed by `path` (e.g. "plugins[folder].config"). An
// empty `message_name` means the plugin takes no config: any key is refused
// and the result is empty. Thread-safe (no shared state).
absl::StatusOr<std::string> PluginConfigToBytes(
    const google::protobuf::Struct& config, std::string_view descriptor_set,
    std::string_view message_name, std::string_view path);

}  // namespace ehx::plugin_host

#endif  // EHX_PLUGIN_HOST_PLUGIN_CONFIG_H_
