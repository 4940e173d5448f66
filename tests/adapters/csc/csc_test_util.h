// Helpers shared by the CSC adapter tests: fixtures, golden files,
// MapResult/IngestReport as JSON.
#ifndef EHX_TESTS_ADAPTERS_CSC_CSC_TEST_UTIL_H_
#define EHX_TESTS_ADAPTERS_CSC_CSC_TEST_UTIL_H_

#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "csc_ingest.h"
#include "gtest/gtest.h"

namespace ehx::csc_test {

inline std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(CSC_FIXTURES) + "/" + name, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string ProtoJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

inline nlohmann::ordered_json MapResultJson(
    const ehx::adapters::csc::MapResult& r) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["input_rejected"] = r.input_rejected;
  if (r.input_rejected) j["input_error"] = r.input_error;
  j["items"] = nlohmann::ordered_json::array();
  for (const auto& item : r.items) {
    nlohmann::ordered_json i = nlohmann::ordered_json::object();
    i["position"] = item.position;
    i["counts_as_record"] = item.counts_as_record;
    if (item.envelope) {
      i["envelope"] = nlohmann::ordered_json::parse(ProtoJson(*item.envelope));
    }
    i["errors"] = nlohmann::ordered_json::array();
    for (const auto& e : item.errors) {
      i["errors"].push_back(nlohmann::ordered_json::parse(ProtoJson(e)));
    }
    j["items"].push_back(std::move(i));
  }
  return j;
}

// Compares `actual` with fixtures/<name>; EHX_UPDATE_GOLDEN=1 rewrites it.
inline void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(CSC_FIXTURES) + "/" + name;
  if (std::getenv("EHX_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << actual;
  }
  EXPECT_EQ(Fixture(name), actual) << "golden " << name
                                   << " differs (EHX_UPDATE_GOLDEN=1 to "
                                      "regenerate, then review the diff)";
}

}  // namespace ehx::csc_test

#endif  // EHX_TESTS_ADAPTERS_CSC_CSC_TEST_UTIL_H_
