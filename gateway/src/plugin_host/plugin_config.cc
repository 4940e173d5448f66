#include "plugin_host/plugin_config.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"

namespace ehx::plugin_host {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Struct;
using google::protobuf::Value;

const FieldDescriptor* FindField(const Descriptor* d, const std::string& key) {
  if (const FieldDescriptor* f = d->FindFieldByName(key)) return f;
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->json_name() == key) return d->field(i);
  }
  return nullptr;
}

bool IsWellKnown(const Descriptor* d) {
  return d->file()->package() == "google.protobuf";
}

void CheckStruct(const Struct& s, const Descriptor* d, const std::string& path,
                 std::vector<std::string>* errors);

// `value` is what the YAML holds for message-typed field `f`.
void CheckMessageValue(const Value& value, const Descriptor* d,
                       const std::string& path,
                       std::vector<std::string>* errors) {
  if (IsWellKnown(d)) return;  // Duration, Timestamp, Struct...: JSON rules
  if (value.kind_case() == Value::kStructValue) {
    CheckStruct(value.struct_value(), d, path, errors);
  }
  // Other kinds are type errors that JsonStringToMessage reports.
}

void CheckStruct(const Struct& s, const Descriptor* d, const std::string& path,
                 std::vector<std::string>* errors) {
  std::vector<std::string> keys;
  keys.reserve(s.fields_size());
  for (const auto& [key, unused] : s.fields()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    const Value& value = s.fields().at(key);
    const std::string here = absl::StrCat(path, ".", key);
    const FieldDescriptor* f = FindField(d, key);
    if (f == nullptr) {
      errors->push_back(absl::StrCat(here, ": unknown key (", d->full_name(),
                                     " has no field '", key, "')"));
      continue;
    }
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_map()) {
      const FieldDescriptor* mv = f->message_type()->map_value();
      if (mv->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
          value.kind_case() != Value::kStructValue) {
        continue;
      }
      for (const auto& [k, v] : value.struct_value().fields()) {
        CheckMessageValue(v, mv->message_type(), absl::StrCat(here, ".", k),
                          errors);
      }
    } else if (f->is_repeated()) {
      if (value.kind_case() != Value::kListValue) continue;
      const auto& list = value.list_value().values();
      for (int i = 0; i < list.size(); ++i) {
        CheckMessageValue(list[i], f->message_type(),
                          absl::StrCat(here, "[", i, "]"), errors);
      }
    } else {
      CheckMessageValue(value, f->message_type(), here, errors);
    }
  }
}

}  // namespace

std::vector<std::string> OwnAgencyWarnings(
    const google::protobuf::Message& config, std::string_view path_view,
    std::string_view agency_view) {
  const std::string path(path_view);
  const std::string agency(agency_view);
  std::vector<std::string> out;
  const Descriptor* d = config.GetDescriptor();
  const google::protobuf::Reflection* r = config.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string& name = f->name();
    const bool own = name == "agency_id" ||
                     (name.size() > 10 &&
                      name.compare(name.size() - 10, 10, "_agency_id") == 0);
    if (!own || f->is_repeated() ||
        f->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
      continue;
    }
    const std::string value = r->GetString(config, f);
    const std::string field = absl::StrCat(path, ".", name);
    if (value.empty()) {
      out.push_back(absl::StrCat(
          field,
          " is not set: the adapter applies its own default (see its "
          "README), which may not be the plugin's agency '",
          agency, "'; set it to '", agency, "' to be sure"));
    } else if (value != agency) {
      out.push_back(absl::StrCat(
          field, " is '", value, "' but the plugin is loaded as agency '",
          agency, "': the adapter writes '", value,
          "' into what it publishes (assigned ids, its practitioners' "
          "agency, consent scopes), so step-downs and other records "
          "addressed to '",
          agency,
          "' will not be matched by the adapter and the sharing policy may "
          "withhold them from it; set ",
          name, ": ", agency, ", or load the plugin as agency '", value, "'"));
    }
  }
  return out;
}

absl::StatusOr<std::string> PluginConfigToBytes(
    const google::protobuf::Struct& config, std::string_view descriptor_set,
    std::string_view message_name, std::string_view path_view) {
  return PluginConfigToBytes(config, descriptor_set, message_name, path_view,
                             "", nullptr);
}

absl::StatusOr<std::string> PluginConfigToBytes(
    const google::protobuf::Struct& config, std::string_view descriptor_set,
    std::string_view message_name, std::string_view path_view,
    std::string_view agency, std::vector<std::string>* warnings) {
  // (absl::string_view is not std::string_view in Debian's abseil build.)
  const std::string path(path_view);
  if (message_name.empty()) {
    if (config.fields_size() > 0) {
      std::vector<std::string> keys;
      for (const auto& [key, unused] : config.fields()) {
        keys.push_back(absl::StrCat(path, ".", key));
      }
      std::sort(keys.begin(), keys.end());
      return absl::InvalidArgumentError(
          absl::StrCat(absl::StrJoin(keys, ", "),
                       ": unknown key (this plugin takes no config)"));
    }
    return std::string();
  }

  google::protobuf::FileDescriptorSet set;
  if (!set.ParseFromArray(descriptor_set.data(),
                          static_cast<int>(descriptor_set.size()))) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": plugin's config descriptor set does not parse"));
  }
  google::protobuf::DescriptorPool pool;
  for (const auto& file : set.file()) {
    if (pool.BuildFile(file) == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": plugin's config schema file '", file.name(),
                       "' does not build"));
    }
  }
  const Descriptor* d = pool.FindMessageTypeByName(std::string(message_name));
  if (d == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": plugin's config message '", std::string(message_name),
        "' is not in its descriptor set"));
  }

  std::vector<std::string> errors;
  CheckStruct(config, d, path, &errors);
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
  }

  std::string json;
  if (auto st = google::protobuf::util::MessageToJsonString(config, &json);
      !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not representable as JSON: ", std::string(st.message())));
  }
  google::protobuf::DynamicMessageFactory factory(&pool);
  std::unique_ptr<google::protobuf::Message> msg(
      factory.GetPrototype(d)->New());
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (auto st =
          google::protobuf::util::JsonStringToMessage(json, msg.get(), options);
      !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", std::string(st.message())));
  }
  if (warnings != nullptr) {
    for (std::string& w : OwnAgencyWarnings(*msg, path, agency)) {
      warnings->push_back(std::move(w));
    }
  }
  std::string bytes;
  if (!msg->SerializeToString(&bytes)) {
    return absl::InternalError(absl::StrCat(path, ": cannot serialize"));
  }
  return bytes;
}

}  // namespace ehx::plugin_host
