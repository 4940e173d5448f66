// Hand-written rather than YAML -> JSON -> JsonStringToMessage because the
// JSON parser's errors do not name the path of an unknown key, which is the
// first thing an operator needs from a config error.
#include "config/yaml_proto.h"

#include <cerrno>
#include <cstdlib>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"

namespace ehx::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : absl::StrCat(path, ".", key);
}

absl::Status Err(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(path.empty() ? "<root>" : path, ": ", what));
}

absl::Status ToValue(const YAML::Node& node, const std::string& path,
                     google::protobuf::Value* out);

absl::Status ToStruct(const YAML::Node& node, const std::string& path,
                      google::protobuf::Struct* out) {
  if (!node.IsMap()) return Err(path, "must be a mapping");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    absl::Status st =
        ToValue(kv.second, Join(path, key), &(*out->mutable_fields())[key]);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status ToValue(const YAML::Node& node, const std::string& path,
                     google::protobuf::Value* out) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out->set_null_value(google::protobuf::NULL_VALUE);
      return absl::OkStatus();
    case YAML::NodeType::Map:
      return ToStruct(node, path, out->mutable_struct_value());
    case YAML::NodeType::Sequence: {
      auto* list = out->mutable_list_value();
      for (size_t i = 0; i < node.size(); ++i) {
        absl::Status st = ToValue(node[i], absl::StrCat(path, "[", i, "]"),
                                  list->add_values());
        if (!st.ok()) return st;
      }
      return absl::OkStatus();
    }
    case YAML::NodeType::Scalar: {
      const std::string s = node.Scalar();
      double d;
      if (node.Tag() != "!" && absl::SimpleAtod(s, &d) &&
          s.find_first_not_of("0123456789+-.eE") == std::string::npos) {
        out->set_number_value(d);
      } else if (node.Tag() != "!" && (s == "true" || s == "false")) {
        out->set_bool_value(s == "true");
      } else {
        out->set_string_value(s);
      }
      return absl::OkStatus();
    }
  }
  return Err(path, "unsupported YAML node");
}

absl::Status SetScalar(const YAML::Node& node, const std::string& path,
                       const FieldDescriptor* f, Message* msg, bool repeated) {
  const Reflection* r = msg->GetReflection();
  if (!node.IsScalar()) return Err(path, "must be a scalar");
  const std::string s = node.Scalar();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      repeated ? r->AddString(msg, f, s) : r->SetString(msg, f, s);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (s == "true" || s == "yes" || s == "on") {
        v = true;
      } else if (s == "false" || s == "no" || s == "off") {
        v = false;
      } else {
        return Err(path, "must be true or false");
      }
      repeated ? r->AddBool(msg, f, v) : r->SetBool(msg, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(s, &v)) return Err(path, "must be an integer");
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT32) {
        if (v < std::numeric_limits<int32_t>::min() ||
            v > std::numeric_limits<int32_t>::max()) {
          return Err(path, "is out of range");
        }
        repeated ? r->AddInt32(msg, f, static_cast<int32_t>(v))
                 : r->SetInt32(msg, f, static_cast<int32_t>(v));
      } else {
        repeated ? r->AddInt64(msg, f, v) : r->SetInt64(msg, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!absl::SimpleAtoi(s, &v)) {
        return Err(path, "must be a non-negative integer");
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
        if (v > std::numeric_limits<uint32_t>::max()) {
          return Err(path, "is out of range");
        }
        repeated ? r->AddUInt32(msg, f, static_cast<uint32_t>(v))
                 : r->SetUInt32(msg, f, static_cast<uint32_t>(v));
      } else {
        repeated ? r->AddUInt64(msg, f, v) : r->SetUInt64(msg, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v;
      if (!absl::SimpleAtod(s, &v)) return Err(path, "must be a number");
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        repeated ? r->AddDouble(msg, f, v) : r->SetDouble(msg, f, v);
      } else {
        repeated ? r->AddFloat(msg, f, static_cast<float>(v))
                 : r->SetFloat(msg, f, static_cast<float>(v));
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* ev = f->enum_type()->FindValueByName(s);
      if (ev == nullptr) {
        std::string names;
        for (int i = 1; i < f->enum_type()->value_count(); ++i) {
          absl::StrAppend(&names, i > 1 ? ", " : "",
                          f->enum_type()->value(i)->name());
        }
        return Err(path,
                   absl::StrCat("unknown value; expected one of ", names));
      }
      repeated ? r->AddEnum(msg, f, ev) : r->SetEnum(msg, f, ev);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return Err(path, "unsupported field type");
}

absl::Status FillField(const YAML::Node& node, const std::string& path,
                       const FieldDescriptor* f, Message* msg) {
  const Reflection* r = msg->GetReflection();
  if (f->is_map()) return Err(path, "map fields are not supported in config");
  if (f->is_repeated()) {
    if (!node.IsSequence()) return Err(path, "must be a list");
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = absl::StrCat(path, "[", i, "]");
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        absl::Status st =
            YamlToMessage(node[i], item_path, r->AddMessage(msg, f));
        if (!st.ok()) return st;
      } else {
        absl::Status st = SetScalar(node[i], item_path, f, msg, true);
        if (!st.ok()) return st;
      }
    }
    return absl::OkStatus();
  }
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    return YamlToMessage(node, path, r->MutableMessage(msg, f));
  }
  return SetScalar(node, path, f, msg, false);
}

}  // namespace

absl::Status YamlToMessage(const YAML::Node& node, const std::string& path,
                           Message* out) {
  const Descriptor* d = out->GetDescriptor();
  if (d->full_name() == "google.protobuf.Struct") {
    return ToStruct(node, path, static_cast<google::protobuf::Struct*>(out));
  }
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) return Err(path, "must be a mapping");
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) return Err(path, "keys must be strings");
    const std::string key = kv.first.Scalar();
    const FieldDescriptor* f = d->FindFieldByName(key);
    if (f == nullptr) f = d->FindFieldByCamelcaseName(key);
    const std::string field_path = Join(path, key);
    if (f == nullptr) return Err(field_path, "unknown key");
    if (kv.second.IsNull()) continue;
    absl::Status st = FillField(kv.second, field_path, f, out);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace ehx::config
