#include "sf_csv.h"

#include <cstdint>
#include <utility>

namespace ehx::adapters::supporting_families {
namespace internal {

bool CsvTokenizer::Next(CsvRecord* record, std::string* error_rule,
                        size_t* error_line) {
  const size_t n = text_.size();
  // Skip completely empty lines.
  while (pos_ < n) {
    if (text_[pos_] == '\n') {
      ++pos_;
      ++line_;
    } else if (text_[pos_] == '\r' && pos_ + 1 < n && text_[pos_ + 1] == '\n') {
      pos_ += 2;
      ++line_;
    } else {
      break;
    }
  }
  if (pos_ >= n) return false;
  record->line = line_;
  record->fields.clear();
  record->bare_quote_fields.clear();
  std::string field;
  while (true) {
    field.clear();
    bool bare = false;
    if (pos_ < n && text_[pos_] == '"') {
      // Quoted field.
      ++pos_;
      bool closed = false;
      while (pos_ < n) {
        const char c = text_[pos_];
        if (c == '"') {
          if (pos_ + 1 < n && text_[pos_ + 1] == '"') {
            field.push_back('"');
            pos_ += 2;
            continue;
          }
          ++pos_;
          closed = true;
          break;
        }
        if (c == '\n') ++line_;
        // Copy a run of ordinary bytes at once.
        size_t end = pos_ + 1;
        while (end < n && text_[end] != '"' && text_[end] != '\n') ++end;
        field.append(text_.data() + pos_, end - pos_);
        pos_ = end;
      }
      if (!closed) {
        *error_rule = "csv_unterminated_quote";
        *error_line = record->line;
        pos_ = n;
        return false;
      }
      // Text after the closing quote up to the delimiter: appended, flagged.
      while (
          pos_ < n && text_[pos_] != ',' && text_[pos_] != '\n' &&
          !(text_[pos_] == '\r' && pos_ + 1 < n && text_[pos_ + 1] == '\n')) {
        field.push_back(text_[pos_++]);
        bare = true;
      }
    } else {
      size_t end = pos_;
      while (end < n) {
        const char c = text_[end];
        if (c == ',' || c == '\n') break;
        if (c == '\r' && end + 1 < n && text_[end + 1] == '\n') break;
        if (c == '"') bare = true;
        ++end;
      }
      field.assign(text_.data() + pos_, end - pos_);
      pos_ = end;
    }
    if (bare) record->bare_quote_fields.push_back(record->fields.size());
    record->fields.push_back(field);
    if (pos_ >= n) return true;
    if (text_[pos_] == ',') {
      ++pos_;
      continue;
    }
    // End of record.
    if (text_[pos_] == '\r') ++pos_;
    ++pos_;  // '\n'
    ++line_;
    return true;
  }
}

}  // namespace internal

CsvParse ParseCsv(std::string_view text) {
  CsvParse out;
  internal::CsvTokenizer tok(text);
  CsvRecord record;
  while (tok.Next(&record, &out.error_rule, &out.error_line)) {
    out.records.push_back(std::move(record));
  }
  return out;
}

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const uint8_t* end = p + text.size();
  while (p < end) {
    const uint8_t c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p < len) return false;
    for (int i = 1; i < len; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += len;
  }
  return true;
}

void AppendCsvField(std::string_view value, std::string* out) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace ehx::adapters::supporting_families
