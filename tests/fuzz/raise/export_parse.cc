// libFuzzer target: the Raise export parser + validator + mapper
// (ParseExport) and the strict JSON layer under it, on arbitrary bytes.
// Also renders every produced envelope's JSON-free paths (no I/O: document
// content is not read).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "raise_export.h"
#include "raise_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ehx::adapters::raise::ExportOptions options;
  options.file_name = "raise-export-20260330T010005Z.json";
  options.la_code = "801";
  ehx::adapters::raise::ExportResult r =
      ehx::adapters::raise::ParseExport(bytes, options);
  std::vector<int> all;
  for (size_t i = 0; i < r.cases.size(); ++i)
    all.push_back(static_cast<int>(i));
  ehx::adapters::raise::FinishRecordStatuses(&r, all);
  for (const auto& c : r.cases) {
    for (const auto& e : c.events) {
      if (e.envelope.idempotency_key().empty()) __builtin_trap();
      if (e.envelope.idempotency_key().size() > 128) __builtin_trap();
    }
  }
  return 0;
}
