// Helpers shared by the plugin host unit tests and the conformance suite.
#ifndef EHX_TESTS_UNIT_PLUGIN_HOST_PLUGIN_TEST_UTIL_H_
#define EHX_TESTS_UNIT_PLUGIN_HOST_PLUGIN_TEST_UTIL_H_

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "ehx/config/v1/config.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace ehx::testing {

// A fresh directory under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::path(::testing::TempDir()) / "ehx-plugin-XXXXXX")
            .string();
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Parses JSON into a Struct (the shape the YAML loader produces).
inline google::protobuf::Struct StructFromJson(const std::string& json) {
  google::protobuf::Struct s;
  auto st = google::protobuf::util::JsonStringToMessage(json, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

inline ehx::config::v1::GatewayConfig OnePlugin(
    const std::string& name, const std::string& path, const std::string& agency,
    const std::string& config_json) {
  ehx::config::v1::GatewayConfig cfg;
  auto* p = cfg.add_plugins();
  p->set_name(name);
  p->set_path(path);
  p->set_agency(agency);
  *p->mutable_config() = StructFromJson(config_json);
  return cfg;
}

// Polls `pred` until true or the deadline passes.
inline bool Eventually(
    const std::function<bool()>& pred,
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes `content` to dir/name via a dot-prefixed temp file and rename.
inline void DropFile(const std::filesystem::path& dir, const std::string& name,
                     const std::string& content) {
  const auto tmp = dir / ("." + name + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary);
    out << content;
  }
  std::filesystem::rename(tmp, dir / name);
}

}  // namespace ehx::testing

#endif  // EHX_TESTS_UNIT_PLUGIN_HOST_PLUGIN_TEST_UTIL_H_
