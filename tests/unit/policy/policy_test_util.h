// Helpers shared by the policy tests: the default policy with one agency
// per role, and envelope loading.
#ifndef EHX_TESTS_UNIT_POLICY_POLICY_TEST_UTIL_H_
#define EHX_TESTS_UNIT_POLICY_POLICY_TEST_UTIL_H_

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/yaml_proto.h"
#include "ehx/config/v1/config.pb.h"
#include "ehx/exchange/v1/envelope.pb.h"

namespace ehx::policy::testing {

inline std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::filesystem::path Src(const std::string& rel) {
  return std::filesystem::path(EHX_SOURCE_DIR) / rel;
}

// Parses a YAML file into GatewayConfig without cross-field validation.
inline ehx::config::v1::GatewayConfig ParseYamlFile(
    const std::filesystem::path& p) {
  ehx::config::v1::GatewayConfig c;
  absl::Status st =
      ehx::config::YamlToMessage(YAML::LoadFile(p.string()), "", &c);
  if (!st.ok()) {
    std::fprintf(stderr, "%s: %s\n", p.c_str(),
                 std::string(st.message()).c_str());
    std::abort();
  }
  return c;
}

// Role names without the AGENCY_ROLE_ prefix, in enum order.
inline const std::vector<std::string>& RoleNames() {
  static const std::vector<std::string> kRoles = {
      "EARLY_HELP", "CSC_FRONT_DOOR",      "CSC",  "SCHOOL",
      "HEALTH",     "SUPPORTING_FAMILIES", "OTHER"};
  return kRoles;
}

// "role-early-help" etc.
inline std::string AgencyFor(const std::string& role) {
  std::string id = "role-" + role;
  for (char& c : id) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
  return id;
}

// The default policy (deploy/config/policy.yaml, which grants the seven demo
// agencies) with the demo agencies and one granted agency per role
// ("role-school", ...), plus "new-school" (registered, not granted) and
// "old-health" (granted, decommissioned).
inline ehx::config::v1::GatewayConfig DefaultPolicyConfig() {
  ehx::config::v1::GatewayConfig c =
      ParseYamlFile(Src("deploy/config/policy.yaml"));
  c.set_listen("127.0.0.1:0");
  c.set_dev_plaintext(true);
  c.mutable_store()->set_sqlite_path("/tmp/unused.db");
  auto add = [&c](const std::string& id, ehx::config::v1::AgencyRole role,
                  bool grant, bool decommissioned = false) {
    auto* a = c.add_agencies();
    a->set_id(id);
    a->set_role(role);
    a->set_decommissioned(decommissioned);
    if (grant) c.mutable_policy()->add_granted_agencies(id);
  };
  add("early-help", ehx::config::v1::AGENCY_ROLE_EARLY_HELP, false);
  add("csc-front-door", ehx::config::v1::AGENCY_ROLE_CSC_FRONT_DOOR, false);
  add("school-oakfield", ehx::config::v1::AGENCY_ROLE_SCHOOL, false);
  add("health-visiting", ehx::config::v1::AGENCY_ROLE_HEALTH, false);
  // The demo's adapter agencies (granted by policy.yaml too).
  add("early-help-raise", ehx::config::v1::AGENCY_ROLE_EARLY_HELP, false);
  add("csc", ehx::config::v1::AGENCY_ROLE_CSC_FRONT_DOOR, false);
  add("supporting-families", ehx::config::v1::AGENCY_ROLE_SUPPORTING_FAMILIES,
      false);
  for (size_t i = 0; i < RoleNames().size(); ++i) {
    add(AgencyFor(RoleNames()[i]),
        static_cast<ehx::config::v1::AgencyRole>(i + 1), true);
  }
  add("new-school", ehx::config::v1::AGENCY_ROLE_SCHOOL, false);
  add("old-health", ehx::config::v1::AGENCY_ROLE_HEALTH, true, true);
  return c;
}

// Reads an Envelope from protobuf JSON: a plain envelope, or a conformance
// file {"description": ..., "envelope": {...}}.
inline ehx::exchange::v1::Envelope LoadEnvelope(
    const std::filesystem::path& p) {
  std::string json = Slurp(p);
  google::protobuf::Struct top;
  if (google::protobuf::util::JsonStringToMessage(json, &top).ok() &&
      top.fields().count("envelope")) {
    std::string inner;
    if (google::protobuf::util::MessageToJsonString(top.fields().at("envelope"),
                                                    &inner)
            .ok()) {
      json = inner;
    }
  }
  ehx::exchange::v1::Envelope e;
  auto st = google::protobuf::util::JsonStringToMessage(json, &e);
  if (!st.ok()) {
    std::fprintf(stderr, "%s: %s\n", p.c_str(), st.ToString().c_str());
    std::abort();
  }
  return e;
}

}  // namespace ehx::policy::testing

#endif  // EHX_TESTS_UNIT_POLICY_POLICY_TEST_UTIL_H_
