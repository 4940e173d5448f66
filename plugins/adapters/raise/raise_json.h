// Strict JSON reading for Raise export files (contract section 4.1), on top
// of nlohmann::json's SAX parser.
//
// Why nlohmann-json3-dev rather than protobuf's JSON util: the Raise export is
// not a protobuf message (free-form members, unknown members preserved,
// tri-state values like `true`/`"unknown"`), and the contract needs things a
// DOM-only parser hides: repeated member names (`duplicate_member`), a
// nesting limit (`too_deep`) and exact integers. nlohmann's SAX interface
// gives all three; protobuf's Struct silently keeps the last duplicate and
// turns every number into a double.
//
// Thread-safety: functions are pure and reentrant.
#ifndef EHX_ADAPTERS_RAISE_RAISE_JSON_H_
#define EHX_ADAPTERS_RAISE_RAISE_JSON_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ehx_sdk/arena_json.h"

namespace ehx::adapters::raise {

using Json = nlohmann::json;
// The export as ParseExport reads it: the same parser into an arena tree
// (ehx_sdk/arena_json.h), dropped whole after one walk.
using ExportJson = ::ehx::sdk::ArenaJson;

// What ParseStrictJson found besides the document.
struct StrictJsonReport {
  // Empty when the text parsed; otherwise a contract file-level code:
  // "file_not_utf8", "file_not_json", "too_deep".
  std::string file_error;
  // Human description of file_error (never contains file content).
  std::string file_error_detail;
  // Paths ("$.cases[1].plan") of objects in which a member name repeats,
  // with the member: "$.cases[1].plan.version".
  std::vector<std::string> duplicate_members;
  // Paths of strings in which an escaped unpaired surrogate was replaced by
  // U+FFFD (contract: flag `invalid_unicode`).
  std::vector<std::string> invalid_unicode;
};

// The outcome of ParseStrictJson.
struct StrictJson : StrictJsonReport {
  // The document (valid when file_error is empty).
  Json root;
};

// The outcome of ParseStrictExportJson: the same checks, the document in an
// arena owned by `document`.
struct StrictExportJson : StrictJsonReport {
  std::unique_ptr<::ehx::sdk::ArenaJsonDocument> document;
  // The document's root (valid when file_error is empty; read only).
  const ExportJson* root = nullptr;
};

// Parses `bytes` as one JSON text: skips a UTF-8 byte-order mark, refuses
// bytes that are not UTF-8, replaces escaped unpaired surrogates by U+FFFD,
// refuses nesting deeper than `max_depth`. Never throws.
StrictJson ParseStrictJson(std::string_view bytes, int max_depth = 32);
// The same, into an arena document (what ParseExport uses).
StrictExportJson ParseStrictExportJson(std::string_view bytes,
                                       int max_depth = 32);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view s);

}  // namespace ehx::adapters::raise

#endif  // EHX_ADAPTERS_RAISE_RAISE_JSON_H_
