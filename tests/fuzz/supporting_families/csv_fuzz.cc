// libFuzzer target: the RFC 4180 tokenizer, plus the round-trip property
// write(fields) -> parse == fields for every record it reads.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sf_csv.h"
#include "sf_values.h"

using namespace ehx::adapters::supporting_families;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)IsValidUtf8(text);
  CsvParse p = ParseCsv(text);
  for (const CsvRecord& rec : p.records) {
    std::string line;
    for (size_t i = 0; i < rec.fields.size(); ++i) {
      if (i) line.push_back(',');
      AppendCsvField(rec.fields[i], &line);
    }
    line += "\r\n";
    CsvParse again = ParseCsv(line);
    // A record of one empty field writes an empty line, which is skipped.
    if (rec.fields.size() == 1 && rec.fields[0].empty()) continue;
    if (!again.error_rule.empty() || again.records.size() != 1 ||
        again.records[0].fields != rec.fields) {
      __builtin_trap();
    }
  }
  // Value parsers on every field.
  for (const CsvRecord& rec : p.records) {
    for (const std::string& f : rec.fields) {
      (void)ParseDateValue(f);
      (void)CheckNhsNumber(f);
      (void)CheckUpn(f);
      (void)MatchHeadline(f);
    }
  }
  return 0;
}
