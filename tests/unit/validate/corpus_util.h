// Loads conformance corpus files: {"description", "expect"?, "envelope"}
// wrappers (or, for the demo, a bare Envelope).
#ifndef EHX_TESTS_UNIT_VALIDATE_CORPUS_UTIL_H_
#define EHX_TESTS_UNIT_VALIDATE_CORPUS_UTIL_H_

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "ehx/exchange/v1/envelope.pb.h"

namespace ehx::validate::testing {

struct ExpectedViolation {
  std::string field;
  std::string rule;
};

struct CorpusFile {
  std::filesystem::path path;
  std::string description;
  std::vector<ExpectedViolation> expect;
  ehx::exchange::v1::Envelope envelope;
};

// All *.json files in `dir`, sorted by name.
std::vector<std::filesystem::path> JsonFiles(const std::filesystem::path& dir);

// Parses a wrapper file; `error` is set (and false returned) on failure.
bool LoadWrapped(const std::filesystem::path& path, CorpusFile* out,
                 std::string* error);

// Parses a bare Envelope JSON file.
bool LoadBare(const std::filesystem::path& path,
              ehx::exchange::v1::Envelope* out, std::string* error);

// Loads a wrapped valid-corpus file by stem (e.g. "step-up-referral") and
// aborts the test on failure.
ehx::exchange::v1::Envelope ValidEnvelope(const std::string& stem);

}  // namespace ehx::validate::testing

#endif  // EHX_TESTS_UNIT_VALIDATE_CORPUS_UTIL_H_
