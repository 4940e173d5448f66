#include "config/config_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/yaml_proto.h"
#include "google/protobuf/struct.pb.h"

namespace ehx::config {
namespace {

constexpr char kMinimal[] = R"(
listen: "127.0.0.1:0"
dev_plaintext: true
store: {sqlite_path: data/ehx.db}
agencies:
  - {id: early-help, name: "Early Help", role: AGENCY_ROLE_EARLY_HELP}
  - {id: csc-front-door, role: AGENCY_ROLE_CSC_FRONT_DOOR}
routes:
  - {event_type: EVENT_TYPE_STEP_UP_REFERRAL, to_selectors: [RECIPIENT_SELECTOR_FRONT_DOOR], ttl_seconds: 86400}
)";

std::string Error(const std::string& yaml) {
  auto c = LoadConfigText(yaml, "/etc/ehx");
  return c.ok() ? "" : std::string(c.status().message());
}

TEST(ConfigLoaderTest, LoadsAndResolvesRelativePaths) {
  auto c = LoadConfigText(kMinimal, "/etc/ehx");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->store().sqlite_path(), "/etc/ehx/data/ehx.db");
  ASSERT_EQ(c->agencies_size(), 2);
  EXPECT_EQ(c->agencies(1).role(), ehx::config::v1::AGENCY_ROLE_CSC_FRONT_DOOR);
  EXPECT_EQ(c->routes(0).ttl_seconds(), 86400);
}

TEST(ConfigLoaderTest, UnknownKeysAreRefusedWithTheirPath) {
  EXPECT_EQ(Error(std::string(kMinimal) + "delivery: {max_atempts: 3}\n"),
            "config: delivery.max_atempts: unknown key");
  EXPECT_EQ(Error(std::string(kMinimal) +
                  "plugins:\n  - {name: x, path: x.so, agency: early-help, "
                  "colour: red}\n"),
            "config: plugins[0].colour: unknown key");
}

TEST(ConfigLoaderTest, TypeErrorsNameThePathAndTheRule) {
  EXPECT_EQ(Error(std::string(kMinimal) + "delivery: {max_attempts: many}\n"),
            "config: delivery.max_attempts: must be an integer");
  std::string e = Error(std::string(kMinimal) + "dev_plaintext: perhaps\n");
  EXPECT_NE(e.find("must be true or false"), std::string::npos) << e;
  e = Error(R"(
listen: "127.0.0.1:0"
dev_plaintext: true
store: {sqlite_path: x.db}
agencies: [{id: a, role: AGENCY_ROLE_WIZARD}]
)");
  EXPECT_NE(e.find("agencies[0].role: unknown value"), std::string::npos) << e;
}

TEST(ConfigLoaderTest, CrossFieldRules) {
  EXPECT_NE(Error(R"(
listen: "0.0.0.0:7443"
dev_plaintext: true
store: {sqlite_path: x.db}
)")
                .find("listen: dev_plaintext is allowed on loopback only"),
            std::string::npos);
  EXPECT_NE(Error(R"(
listen: "127.0.0.1:0"
store: {sqlite_path: x.db}
)")
                .find("tls.ca_file: required unless dev_plaintext"),
            std::string::npos);
  EXPECT_NE(
      Error(std::string(kMinimal) +
            "  - {event_type: EVENT_TYPE_CAF_NOTIFICATION, to: [nobody]}\n")
          .find("routes[1].to[0]: unknown agency"),
      std::string::npos);
  EXPECT_NE(Error(R"(
listen: "127.0.0.1:0"
dev_plaintext: true
store: {sqlite_path: x.db}
agencies: [{id: Early_Help, role: AGENCY_ROLE_EARLY_HELP}]
)")
                .find("agencies[0].id"),
            std::string::npos);
  EXPECT_NE(Error(R"(
listen: "127.0.0.1:0"
dev_plaintext: true
store: {sqlite_path: x.db}
agencies: [{id: a, role: AGENCY_ROLE_SCHOOL}, {id: a, role: AGENCY_ROLE_SCHOOL}]
)")
                .find("duplicate agency id"),
            std::string::npos);
}

TEST(ConfigLoaderTest, TlsReloadCrlAndQueueQuotaKeys) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("ehx-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "crls");
  for (const char* f : {"ca.pem", "server.pem", "server.key"}) {
    std::ofstream(dir / f) << "x";
  }
  const std::string base = R"(
listen: "127.0.0.1:0"
store: {sqlite_path: x.db}
tls: {ca_file: ca.pem, cert_file: server.pem, key_file: server.key)";
  auto c = LoadConfigText(
      base +
          ", refresh_interval_seconds: 5, crl_dir: crls, crl_file: c.pem}\n" +
          "agencies: [{id: a, role: AGENCY_ROLE_SCHOOL, max_queued: 10}]\n",
      dir);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->tls().refresh_interval_seconds(), 5);
  EXPECT_EQ(c->tls().crl_dir(), (dir / "crls").string());
  EXPECT_EQ(c->tls().crl_file(), (dir / "c.pem").string());  // may be absent
  EXPECT_EQ(c->agencies(0).max_queued(), 10);
  auto err = [&](const std::string& yaml) {
    auto r = LoadConfigText(yaml, dir);
    return r.ok() ? std::string() : std::string(r.status().message());
  };
  EXPECT_EQ(err(base + ", refresh_interval_seconds: -1}\n"),
            "config: tls.refresh_interval_seconds: must be >= 0");
  EXPECT_EQ(err(base + ", crl_dir: ca.pem}\n"),
            "config: tls.crl_dir: not a folder");
  EXPECT_EQ(err(base + "}\nagencies: [{id: a, role: AGENCY_ROLE_SCHOOL, "
                       "max_queued: -1}]\n"),
            "config: agencies[0].max_queued: must be >= 0");
  std::filesystem::remove_all(dir);
}

TEST(ConfigLoaderTest, YamlSyntaxErrorsGiveLineAndColumn) {
  std::string e = Error("listen: [unclosed\n");
  EXPECT_NE(e.find("YAML syntax error at line"), std::string::npos) << e;
}

TEST(YamlProtoTest, StructTakesAnyMapping) {
  google::protobuf::Struct s;
  ASSERT_TRUE(
      YamlToMessage(YAML::Load("{a: 1, b: [x, true], c: {d: null}}"), "", &s)
          .ok());
  EXPECT_EQ(s.fields().at("a").number_value(), 1);
  EXPECT_EQ(s.fields().at("b").list_value().values(0).string_value(), "x");
  EXPECT_TRUE(s.fields().at("b").list_value().values(1).bool_value());
}

}  // namespace
}  // namespace ehx::config
