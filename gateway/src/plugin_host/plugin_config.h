// Turns a plugin's YAML config (a google.protobuf.Struct inside the
// gateway config) into the binary encoding of the plugin's own config
// message, described by the descriptor set the plugin exports.
#ifndef EHX_PLUGIN_HOST_PLUGIN_CONFIG_H_
#define EHX_PLUGIN_HOST_PLUGIN_CONFIG_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
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

// As above, and also appends to `*warnings` what OwnAgencyWarnings finds in
// the converted message for a plugin loaded as agency `agency`.
absl::StatusOr<std::string> PluginConfigToBytes(
    const google::protobuf::Struct& config, std::string_view descriptor_set,
    std::string_view message_name, std::string_view path,
    std::string_view agency, std::vector<std::string>* warnings);

// The "own agency" convention: a top-level, singular string field of a
// plugin's config message named `agency_id` or ending in `_agency_id`
// (Raise and health `agency_id`, school `school_agency_id`) names the ehx
// agency the adapter acts as: the id it writes as assigner, practitioner
// agency and consent scope, and matches records addressed to it by. The
// gateway publishes the plugin's records as, and delivers to it the mailbox
// of, the plugin entry's `agency`; when the two differ, records addressed
// to the plugin's agency (e.g. step-downs to early help, which the sharing
// policy matches against the consent scopes the adapter wrote) are not
// matched. Nested fields (CSC's step_down_lead_practitioner.agency_id)
// name other agencies and are not checked.
//
// Returns one warning per such field of `config` whose value is set and
// differs from `agency`, and one per such field left empty (the adapter
// then applies its own default, which the gateway cannot see). Each names
// the field by `path` ("plugins[raise].config") and both agency ids; agency
// ids are configuration, never personal data. Thread-safe.
std::vector<std::string> OwnAgencyWarnings(
    const google::protobuf::Message& config, std::string_view path,
    std::string_view agency);

}  // namespace ehx::plugin_host

#endif  // EHX_PLUGIN_HOST_PLUGIN_CONFIG_H_
