#include "corpus_util.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace ehx::validate::testing {
namespace {

namespace pb = ::google::protobuf;

bool ReadFile(const std::filesystem::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

}  // namespace

std::vector<std::filesystem::path> JsonFiles(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool LoadBare(const std::filesystem::path& path,
              ehx::exchange::v1::Envelope* out, std::string* error) {
  std::string text;
  if (!ReadFile(path, &text)) {
    *error = "cannot read file";
    return false;
  }
  const auto status = pb::util::JsonStringToMessage(text, out);
  if (!status.ok()) {
    *error = std::string(status.message());
    return false;
  }
  return true;
}

bool LoadWrapped(const std::filesystem::path& path, CorpusFile* out,
                 std::string* error) {
  out->path = path;
  std::string text;
  if (!ReadFile(path, &text)) {
    *error = "cannot read file";
    return false;
  }
  pb::Struct root;
  auto status = pb::util::JsonStringToMessage(text, &root);
  if (!status.ok()) {
    *error = "wrapper: " + std::string(status.message());
    return false;
  }
  const auto& fields = root.fields();
  if (auto it = fields.find("description"); it != fields.end()) {
    out->description = it->second.string_value();
  }
  if (auto it = fields.find("expect"); it != fields.end()) {
    for (const auto& v : it->second.list_value().values()) {
      const auto& f = v.struct_value().fields();
      ExpectedViolation e;
      if (auto fi = f.find("field"); fi != f.end()) {
        e.field = fi->second.string_value();
      }
      if (auto ri = f.find("rule"); ri != f.end()) {
        e.rule = ri->second.string_value();
      }
      out->expect.push_back(std::move(e));
    }
  }
  auto env = fields.find("envelope");
  if (env == fields.end()) {
    *error = "no \"envelope\" member";
    return false;
  }
  // Re-serialise the envelope member and parse it as the real proto, so
  // unknown names and bad enum values fail here.
  std::string env_json;
  status = pb::util::MessageToJsonString(env->second, &env_json);
  if (!status.ok()) {
    *error = "envelope re-serialise: " + std::string(status.message());
    return false;
  }
  status = pb::util::JsonStringToMessage(env_json, &out->envelope);
  if (!status.ok()) {
    *error = "envelope: " + std::string(status.message());
    return false;
  }
  return true;
}

ehx::exchange::v1::Envelope ValidEnvelope(const std::string& stem) {
  const std::filesystem::path path = std::filesystem::path(EHX_SOURCE_DIR) /
                                     "tests/conformance/valid" /
                                     (stem + ".json");
  CorpusFile file;
  std::string error;
  EXPECT_TRUE(LoadWrapped(path, &file, &error)) << path << ": " << error;
  return file.envelope;
}

}  // namespace ehx::validate::testing
