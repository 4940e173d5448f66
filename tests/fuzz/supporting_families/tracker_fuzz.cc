// libFuzzer target: the whole inbound path of the Supporting Families
// adapter (UTF-8/BOM, CSV, header, row rules, consistency, claim check,
// mapping to envelopes, processing report). Any crash, sanitizer report or
// non-serializable envelope is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sf_tracker.h"

using namespace ehx::adapters::supporting_families;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  TrackerOptions options;
  options.la_code = "801";
  options.valid_la_codes = {"801", "802"};
  MapOptions map;
  map.case_refs["SF801-000077"] = "EH-2024-000077";
  TrackerFile parsed;
  auto report = IngestTracker(
      "sf-outcome-tracker-801-2026-Q2-20260612T153000Z.csv", bytes, options,
      map,
      [](const ehxpb::exchange::v1::Envelope& env, const std::string& position,
         ehxpb::adapter::v1::IngestReport* r) {
        std::string out;
        if (!env.SerializeToString(&out)) __builtin_trap();
        if (env.idempotency_key().empty() || env.idempotency_key().size() > 128)
          __builtin_trap();
        r->set_records_published(r->records_published() + 1);
      },
      &parsed);
  if (report.records_published() + report.records_failed() >
      report.records_total())
    __builtin_trap();
  (void)ReportJson("x.csv", bytes, parsed, "2026-01-01T00:00:00Z");
  return 0;
}
