#include "plugin_host/plugin_config.h"

#include <string>
#include <unordered_set>

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

}  // namespace
}  // namespace ehx::plugin_host
