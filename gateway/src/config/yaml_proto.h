// YAML -> protobuf, refusing unknown keys with their path.
#ifndef EHX_CONFIG_YAML_PROTO_H_
#define EHX_CONFIG_YAML_PROTO_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "yaml-cpp/yaml.h"

namespace ehx::config {

// Fills `out` from `node` using `out`'s descriptor: mappings become
// messages, sequences repeated fields, scalars are converted by field type,
// enums accept their value names, google.protobuf.Struct takes any YAML
// mapping. An unknown key or a wrong type returns INVALID_ARGUMENT naming
// the dotted path (e.g. "delivery.max_atempts: unknown key"), prefixed by
// `path` when not empty.
absl::Status YamlToMessage(const YAML::Node& node, const std::string& path,
                           google::protobuf::Message* out);

}  // namespace ehx::config

#endif  // EHX_CONFIG_YAML_PROTO_H_
