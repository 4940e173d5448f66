// RFC 4180 CSV reading and writing for the Supporting Families contract
// (supporting-families-csv-contract.md sections 4 and 13.3).
//
// Hand-written on purpose: the only Debian CSV library (libcsv) cannot
// report a bare quote or text after a closing quote without refusing the
// whole input (CSV_STRICT), nor the line a record starts on, and the
// contract requires both (flag `csv_bare_quote`, positions "record N
// (line L)").
#ifndef EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_CSV_H_
#define EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_CSV_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ehx::adapters::supporting_families {

// One CSV record (it may span several physical lines).
struct CsvRecord {
  // 1-based physical line on which the record starts.
  size_t line = 0;
  std::vector<std::string> fields;
  // Indexes of fields with a quote outside RFC 4180 quoting (kept
  // literally) or text after a closing quote (appended).
  std::vector<size_t> bare_quote_fields;
};

struct CsvParse {
  std::vector<CsvRecord> records;
  // Set when the input cannot be read as CSV: "csv_unterminated_quote".
  std::string error_rule;
  // The line on which the offending record starts.
  size_t error_line = 0;
};

// Splits `text` (UTF-8, no BOM) into records. Records end at CRLF or LF
// (outside quotes); a completely empty line is skipped; the last record may
// lack a line break. Quoted fields keep their line breaks exactly; `""` is a
// quote. Never throws; linear time.
CsvParse ParseCsv(std::string_view text);

// Calls `on_record` for each record instead of collecting them (for the
// benchmark's parse-only baseline). Returns the same error fields.
template <typename F>
CsvParse ForEachCsvRecord(std::string_view text, F on_record);

// True if `text` is valid UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool IsValidUtf8(std::string_view text);

// Appends `value` to `out` as one CSV field, quoted only when it contains
// a comma, a quote, CR or LF (quotes doubled).
void AppendCsvField(std::string_view value, std::string* out);

// ---- implementation of the template ----

namespace internal {
// The tokenizer state machine; see ParseCsv.
class CsvTokenizer {
 public:
  explicit CsvTokenizer(std::string_view text) : text_(text) {}
  // Reads the next record into *record. Returns false at the end or on an
  // error (then *error_rule / *error_line are set).
  bool Next(CsvRecord* record, std::string* error_rule, size_t* error_line);

 private:
  std::string_view text_;
  size_t pos_ = 0;
  size_t line_ = 1;
};
}  // namespace internal

template <typename F>
CsvParse ForEachCsvRecord(std::string_view text, F on_record) {
  CsvParse out;
  internal::CsvTokenizer tok(text);
  CsvRecord record;
  while (tok.Next(&record, &out.error_rule, &out.error_line)) {
    on_record(record);
  }
  return out;
}

}  // namespace ehx::adapters::supporting_families

#endif  // EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_CSV_H_
