#include "plugin_host/plugin_config.h"

#include <string>
#include <unordered_set>
#include <vector>

#include "ehx/config/v1/config.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "plugin_test_util.h"

namespace ehx::plugin_host {
namespace {

using ::ehx::testing::StructFromJson;
using ::testing::HasSubstr;

void AddFile(const google::protobuf::FileDescriptor* f,
             std::unordered_set<std::string>* seen,
             google::protobuf::FileDescriptorSet* set) {
  if (!seen->insert(f->name()).second) return;
  for (int i = 0; i < f->dependency_count(); ++i) {
    AddFile(f->dependency(i), seen, set);
  }
  f->CopyTo(set->add_file());
}

// The gateway config schema doubles as a "plugin" schema here.
std::string ConfigSchema() {
  google::protobuf::FileDescriptorSet set;
  std::unordered_set<std::string> seen;
  AddFile(ehx::config::v1::GatewayConfig::descriptor()->file(), &seen, &set);
  return set.SerializeAsString();
}

absl::StatusOr<std::string> Convert(
    const std::string& json,
    const std::string& message = "ehx.config.v1.GatewayConfig") {
  return PluginConfigToBytes(StructFromJson(json), ConfigSchema(), message,
                             "plugins[p].config");
}

TEST(PluginConfig, ConvertsToTheMessageBytes) {
  auto bytes = Convert(
      R"({"listen": "127.0.0.1:0", "store": {"sqlite_path": "x.db",
          "max_batch": 7}, "agencies": [{"id": "a", "role":
          "AGENCY_ROLE_SCHOOL"}], "devPlaintext": true})");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ehx::config::v1::GatewayConfig got;
  ASSERT_TRUE(got.ParseFromString(*bytes));
  EXPECT_EQ(got.listen(), "127.0.0.1:0");
  EXPECT_EQ(got.store().max_batch(), 7);
  EXPECT_EQ(got.agencies(0).role(), ehx::config::v1::AGENCY_ROLE_SCHOOL);
  EXPECT_TRUE(got.dev_plaintext());
}

TEST(PluginConfig, UnknownTopLevelKeyIsNamed) {
  auto bytes = Convert(R"({"listn": "x"})");
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bytes.status().message(),
              HasSubstr("plugins[p].config.listn: unknown key"));
}

TEST(PluginConfig, NestedAndRepeatedUnknownKeysAreNamed) {
  auto bytes = Convert(
      R"({"store": {"sqlite_pth": "x"}, "agencies": [{"id": "a"},
          {"idd": "b"}]})");
  ASSERT_FALSE(bytes.ok());
  EXPECT_THAT(bytes.status().message(),
              HasSubstr("plugins[p].config.store.sqlite_pth"));
  EXPECT_THAT(bytes.status().message(),
              HasSubstr("plugins[p].config.agencies[1].idd"));
}

TEST(PluginConfig, StructFieldsAcceptAnything) {
  auto bytes = Convert(
      R"({"plugins": [{"name": "n", "config": {"free": {"form": 1}}}]})");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
}

TEST(PluginConfig, WrongTypeIsRefusedWithThePrefix) {
  auto bytes = Convert(R"({"store": {"max_batch": "many"}})");
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bytes.status().message(), HasSubstr("plugins[p].config"));
}

TEST(PluginConfig, MessageMissingFromSchemaIsAPluginError) {
  auto bytes = Convert("{}", "ehx.config.v1.Nope");
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(PluginConfig, GarbageSchemaIsAPluginError) {
  auto bytes =
      PluginConfigToBytes(StructFromJson("{}"), "\xff\xff\xff", "x.Y", "c");
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(PluginConfig, NoConfigMessage) {
  auto empty = PluginConfigToBytes(StructFromJson("{}"), "", "", "c");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
  auto refused =
      PluginConfigToBytes(StructFromJson(R"({"k": 1})"), "", "", "c");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("c.k: unknown key"));
}

// A config schema with the shapes the own-agency convention must tell apart
// (plugin_config.h, OwnAgencyWarnings).
std::string OwnAgencySchema() {
  google::protobuf::FileDescriptorSet set;
  google::protobuf::FileDescriptorProto* f = set.add_file();
  f->set_name("own_agency_test.proto");
  f->set_package("t.v1");
  f->set_syntax("proto3");
  google::protobuf::DescriptorProto* lead = f->add_message_type();
  lead->set_name("Lead");
  auto add = [](google::protobuf::DescriptorProto* m, const char* name,
                int number, bool repeated = false,
                const char* message = nullptr) {
    auto* fd = m->add_field();
    fd->set_name(name);
    fd->set_json_name(name);
    fd->set_number(number);
    fd->set_label(repeated
                      ? google::protobuf::FieldDescriptorProto::LABEL_REPEATED
                      : google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    if (message != nullptr) {
      fd->set_type(google::protobuf::FieldDescriptorProto::TYPE_MESSAGE);
      fd->set_type_name(message);
    } else {
      fd->set_type(google::protobuf::FieldDescriptorProto::TYPE_STRING);
    }
  };
  add(lead, "agency_id", 1);
  google::protobuf::DescriptorProto* c = f->add_message_type();
  c->set_name("C");
  add(c, "agency_id", 1);
  add(c, "school_agency_id", 2);
  add(c, "other_agency_ids", 3, /*repeated=*/true);  // not a _agency_id name
  add(c, "peer_agency_id", 4, /*repeated=*/true);    // repeated: skipped
  add(c, "lead", 5, false, ".t.v1.Lead");            // nested: skipped
  add(c, "agency", 6);                               // not the convention
  return set.SerializeAsString();
}

TEST(PluginConfig, OwnAgencyWarningsNameTheKeyAndBothAgencies) {
  std::vector<std::string> warnings;
  auto bytes = PluginConfigToBytes(StructFromJson(R"({"agency_id": "early-help",
          "school_agency_id": "school-x", "peer_agency_id": ["a"],
          "lead": {"agency_id": "someone-else"}, "agency": "z"})"),
                                   OwnAgencySchema(), "t.v1.C",
                                   "plugins[p].config", "school-x", &warnings);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ASSERT_EQ(warnings.size(), 1u) << ::testing::PrintToString(warnings);
  EXPECT_THAT(warnings[0],
              HasSubstr("plugins[p].config.agency_id is 'early-help' but the "
                        "plugin is loaded as agency 'school-x'"));
  EXPECT_THAT(warnings[0],
              HasSubstr("step-downs and other records addressed to "
                        "'school-x' will not be matched by the adapter"));

  // Matching values: nothing to say. Empty: the adapter's default applies.
  warnings.clear();
  bytes = PluginConfigToBytes(StructFromJson(R"({"agency_id": "school-x"})"),
                              OwnAgencySchema(), "t.v1.C", "c", "school-x",
                              &warnings);
  ASSERT_TRUE(bytes.ok());
  ASSERT_EQ(warnings.size(), 1u) << ::testing::PrintToString(warnings);
  EXPECT_THAT(warnings[0], HasSubstr("c.school_agency_id is not set"));

  // The four-argument form never warns.
  EXPECT_TRUE(PluginConfigToBytes(StructFromJson(R"({"agency_id": "q"})"),
                                  OwnAgencySchema(), "t.v1.C", "c")
                  .ok());
}

}  // namespace
}  // namespace ehx::plugin_host
