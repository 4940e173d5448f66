#include "raise_json.h"

#include <cstdint>
#include <exception>
#include <string>
#include <utility>

namespace ehx::adapters::raise {
namespace {

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads "\uXXXX" at s[i] (s[i] == '\\'); -1 if not such an escape.
int32_t EscapedUnit(std::string_view s, size_t i) {
  if (i + 6 > s.size() || s[i] != '\\' || s[i + 1] != 'u') return -1;
  int32_t v = 0;
  for (size_t k = i + 2; k < i + 6; ++k) {
    const int h = HexVal(s[k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

// Replaces escaped unpaired surrogates by \uFFFD (same length, in place).
// Returns true when anything was replaced.
bool FixUnpairedSurrogates(std::string* text) {
  std::string& s = *text;
  bool in_string = false;
  bool replaced = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (!in_string) {
      if (c == '"') in_string = true;
      continue;
    }
    if (c == '"') {
      in_string = false;
      continue;
    }
    if (c != '\\') continue;
    const int32_t unit = EscapedUnit(s, i);
    if (unit < 0) {
      ++i;  // a two-character escape (or malformed: the parser reports it)
      continue;
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      const int32_t next = EscapedUnit(s, i + 6);
      if (next >= 0xDC00 && next <= 0xDFFF) {
        i += 11;
        continue;
      }
    } else if (!(unit >= 0xDC00 && unit <= 0xDFFF)) {
      i += 5;
      continue;
    }
    s.replace(i, 6, "\\uFFFD");
    replaced = true;
    i += 5;
  }
  return replaced;
}

// Builds the DOM while tracking paths, duplicate members and depth.
class Builder : public nlohmann::json_sax<Json> {
 public:
  Builder(int max_depth, bool track_fffd, StrictJson* out)
      : max_depth_(max_depth), track_fffd_(track_fffd), out_(out) {}

  bool null() override { return Value(Json(nullptr)); }
  bool boolean(bool v) override { return Value(Json(v)); }
  bool number_integer(number_integer_t v) override { return Value(Json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Value(Json(v)); }
  bool number_float(number_float_t v, const string_t&) override {
    return Value(Json(v));
  }
  bool string(string_t& v) override {
    if (track_fffd_ && v.find("\xEF\xBF\xBD") != std::string::npos) {
      out_->invalid_unicode.push_back(ValuePath());
    }
    return Value(Json(std::move(v)));
  }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override { return Open(Json::object()); }
  bool key(string_t& k) override {
    Json* top = stack_.back();
    if (top->contains(k)) {
      out_->duplicate_members.push_back(paths_.back() + "." + k);
    }
    key_ = std::move(k);
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(Json::array()); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception&) override {
    out_->file_error = "file_not_json";
    out_->file_error_detail =
        "not well-formed JSON near byte " + std::to_string(position);
    return false;
  }

  bool too_deep() const { return too_deep_; }

 private:
  std::string ValuePath() const {
    if (stack_.empty()) return "$";
    const Json* top = stack_.back();
    if (top->is_array()) {
      return paths_.back() + "[" + std::to_string(top->size()) + "]";
    }
    return paths_.back() + "." + key_;
  }

  Json* Place(Json&& v) {
    if (stack_.empty()) {
      out_->root = std::move(v);
      return &out_->root;
    }
    Json* top = stack_.back();
    if (top->is_array()) {
      top->push_back(std::move(v));
      return &top->back();
    }
    Json& slot = (*top)[key_];
    slot = std::move(v);
    return &slot;
  }

  bool Value(Json&& v) {
    Place(std::move(v));
    return true;
  }

  bool Open(Json&& container) {
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      too_deep_ = true;
      return false;
    }
    std::string path = ValuePath();
    Json* placed = Place(std::move(container));
    stack_.push_back(placed);
    paths_.push_back(std::move(path));
    return true;
  }

  bool Close() {
    stack_.pop_back();
    paths_.pop_back();
    return true;
  }

  const int max_depth_;
  const bool track_fffd_;
  StrictJson* out_;
  std::vector<Json*> stack_;
  std::vector<std::string> paths_;
  std::string key_;
  bool too_deep_ = false;
};

}  // namespace

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p < n + 1) return false;
    for (int k = 1; k <= n; ++k) {
      if ((p[k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

StrictJson ParseStrictJson(std::string_view bytes, int max_depth) {
  StrictJson out;
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xEF &&
      static_cast<unsigned char>(bytes[1]) == 0xBB &&
      static_cast<unsigned char>(bytes[2]) == 0xBF) {
    bytes.remove_prefix(3);
  }
  if (!IsValidUtf8(bytes)) {
    out.file_error = "file_not_utf8";
    out.file_error_detail = "the file is not valid UTF-8";
    return out;
  }
  std::string text(bytes);
  const bool replaced = FixUnpairedSurrogates(&text);
  Builder builder(max_depth, replaced, &out);
  bool ok = false;
  try {
    ok = Json::sax_parse(text, &builder, Json::input_format_t::json,
                         /*strict=*/true);
  } catch (const std::exception&) {
    ok = false;
  }
  if (builder.too_deep()) {
    out = StrictJson();
    out.file_error = "too_deep";
    out.file_error_detail =
        "nesting deeper than " + std::to_string(max_depth) + " levels";
    return out;
  }
  if (!ok) {
    if (out.file_error.empty()) {
      out.file_error = "file_not_json";
      out.file_error_detail = "not well-formed JSON";
    }
    out.root = Json();
    return out;
  }
  return out;
}

}  // namespace ehx::adapters::raise
