#include "raise_json.h"

#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
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

// Builds the DOM while tracking duplicate members and depth. Paths are only
// spelt out when a finding needs one: each open container remembers how it
// was reached (member name or index), and ValuePath() walks that stack.
template <class J>
class Builder : public nlohmann::json_sax<J> {
 public:
  using string_t = typename J::string_t;
  using number_integer_t = typename J::number_integer_t;
  using number_unsigned_t = typename J::number_unsigned_t;
  using number_float_t = typename J::number_float_t;
  using binary_t = typename J::binary_t;

  Builder(int max_depth, bool track_fffd, J* root, StrictJsonReport* out)
      : max_depth_(max_depth),
        track_fffd_(track_fffd),
        root_(root),
        out_(out) {}

  bool null() override { return Value(J(nullptr)); }
  bool boolean(bool v) override { return Value(J(v)); }
  bool number_integer(number_integer_t v) override { return Value(J(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Value(J(v)); }
  bool number_float(number_float_t v, const string_t&) override {
    return Value(J(v));
  }
  bool string(string_t& v) override {
    if (track_fffd_ && v.find("\xEF\xBF\xBD") != string_t::npos) {
      out_->invalid_unicode.push_back(ValuePath());
    }
    return Value(J(std::move(v)));
  }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override { return Open(J::object()); }
  bool key(string_t& k) override {
    // One lookup: insert the member (or find the one already there).
    auto& object =
        stack_.back().node->template get_ref<typename J::object_t&>();
    auto [it, inserted] = object.try_emplace(k);
    if (!inserted) {
      out_->duplicate_members.push_back(Path(stack_.size()) + "." +
                                        std::string(k.data(), k.size()));
    }
    slot_ = &it->second;
    key_ = std::move(k);
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(J::array()); }
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
  struct Level {
    J* node;
    string_t key;      // member name in the parent object
    size_t index = 0;  // position in the parent array
    bool in_array = false;
  };

  // Path of the container at depth `n` (1 = the root): "$.cases[1].plan".
  std::string Path(size_t n) const {
    std::string p = "$";
    for (size_t i = 1; i < n; ++i) {
      const Level& l = stack_[i];
      if (l.in_array) {
        p += "[" + std::to_string(l.index) + "]";
      } else {
        p += ".";
        p.append(l.key.data(), l.key.size());
      }
    }
    return p;
  }

  // Path of the value being placed.
  std::string ValuePath() const {
    if (stack_.empty()) return "$";
    const J* top = stack_.back().node;
    if (top->is_array()) {
      return Path(stack_.size()) + "[" + std::to_string(top->size()) + "]";
    }
    return Path(stack_.size()) + "." + std::string(key_.data(), key_.size());
  }

  J* Place(J&& v) {
    if (stack_.empty()) {
      *root_ = std::move(v);
      return root_;
    }
    J* top = stack_.back().node;
    if (top->is_array()) {
      top->push_back(std::move(v));
      return &top->back();
    }
    *slot_ = std::move(v);
    return slot_;
  }

  bool Value(J&& v) {
    Place(std::move(v));
    return true;
  }

  bool Open(J&& container) {
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      too_deep_ = true;
      return false;
    }
    Level level;
    if (!stack_.empty()) {
      const J* top = stack_.back().node;
      level.in_array = top->is_array();
      if (level.in_array) {
        level.index = top->size();
      } else {
        level.key = std::move(key_);
      }
    }
    level.node = Place(std::move(container));
    stack_.push_back(std::move(level));
    return true;
  }

  bool Close() {
    stack_.pop_back();
    return true;
  }

  const int max_depth_;
  const bool track_fffd_;
  J* root_;
  StrictJsonReport* out_;
  std::vector<Level> stack_;
  J* slot_ = nullptr;  // the member named by the last key
  string_t key_;
  bool too_deep_ = false;
};

// Shared by both ParseStrictJson flavours: BOM, UTF-8, surrogates, parse.
// Returns false when the report holds a file error.
template <class J>
bool ParseInto(std::string_view bytes, int max_depth, J* root,
               StrictJsonReport* out) {
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xEF &&
      static_cast<unsigned char>(bytes[1]) == 0xBB &&
      static_cast<unsigned char>(bytes[2]) == 0xBF) {
    bytes.remove_prefix(3);
  }
  if (!IsValidUtf8(bytes)) {
    out->file_error = "file_not_utf8";
    out->file_error_detail = "the file is not valid UTF-8";
    return false;
  }
  std::string text(bytes);
  const bool replaced = FixUnpairedSurrogates(&text);
  Builder<J> builder(max_depth, replaced, root, out);
  bool ok = false;
  try {
    if constexpr (std::is_same_v<J, Json>) {
      ok = J::sax_parse(text, &builder, J::input_format_t::json,
                        /*strict=*/true);
    } else {
      // The same JSON parser nlohmann::json::sax_parse runs, called
      // directly: sax_parse also instantiates the binary (CBOR, ...)
      // readers, which do not compile with a non-std::string string type.
      auto input = nlohmann::detail::input_adapter(text);
      ok = nlohmann::detail::parser<J, decltype(input)>(
               std::move(input), nullptr, /*allow_exceptions_=*/true,
               /*skip_comments=*/false)
               .sax_parse(&builder, /*strict=*/true);
    }
  } catch (const std::exception&) {
    ok = false;
  }
  if (builder.too_deep()) {
    *out = StrictJsonReport();
    out->file_error = "too_deep";
    out->file_error_detail =
        "nesting deeper than " + std::to_string(max_depth) + " levels";
    return false;
  }
  if (!ok) {
    if (out->file_error.empty()) {
      out->file_error = "file_not_json";
      out->file_error_detail = "not well-formed JSON";
    }
    return false;
  }
  return true;
}

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
  if (!ParseInto<Json>(bytes, max_depth, &out.root, &out)) out.root = Json();
  return out;
}

StrictExportJson ParseStrictExportJson(std::string_view bytes, int max_depth) {
  StrictExportJson out;
  out.document = std::make_unique<::ehx::sdk::ArenaJsonDocument>(bytes.size());
  bool ok;
  {
    ::ehx::sdk::ArenaJsonDocument::Building building(out.document.get());
    ok = ParseInto<ExportJson>(bytes, max_depth, out.document->NewRoot(), &out);
  }
  // A half-built tree stays in the arena (never read, never destroyed).
  out.root = ok ? &out.document->root() : nullptr;
  return out;
}

}  // namespace ehx::adapters::raise
