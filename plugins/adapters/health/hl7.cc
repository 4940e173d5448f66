#include "hl7.h"

#include <cctype>
#include <cstdint>

namespace ehx::adapters::health::hl7 {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The n-th (0-based) piece of `s` split on `sep`; "" when absent.
std::string_view Piece(std::string_view s, char sep, size_t n) {
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t p = s.find(sep, start);
    if (p == std::string_view::npos) return {};
    start = p + 1;
  }
  const size_t end = s.find(sep, start);
  return s.substr(
      start, end == std::string_view::npos ? s.size() - start : end - start);
}

bool HasHighBytes(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return true;
  }
  return false;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendLatin1(unsigned char c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string Latin1ToUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (unsigned char c : s) AppendLatin1(c, &out);
  return out;
}

bool Message::Parse(std::string_view raw, ParseError* error) {
  segments_.clear();
  charset_.clear();
  latin1_ = false;
  // Leading whitespace / stray line ends are tolerated.
  while (!raw.empty() &&
         (raw.front() == '\r' || raw.front() == '\n' || raw.front() == ' ')) {
    raw.remove_prefix(1);
  }
  if (raw.size() < 8 || raw.substr(0, 3) != "MSH") {
    *error = {"hl7_no_msh", "the message does not start with an MSH segment"};
    return false;
  }
  field_sep_ = raw[3];
  const size_t first_end = raw.find_first_of("\r\n");
  const std::string_view msh_line = raw.substr(
      0, first_end == std::string_view::npos ? raw.size() : first_end);
  if (msh_line.size() < 8) {  // "MSH|^~\&" at least (fuzz finding)
    *error = {"hl7_bad_delimiters",
              "MSH-1/MSH-2 do not declare usable delimiters"};
    return false;
  }
  const std::string_view enc = Piece(msh_line.substr(4), field_sep_, 0);
  auto bad_delim = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '\r' ||
           c == '\n' || c == ' ' || c == 0;
  };
  if (bad_delim(field_sep_) || enc.size() < 4 || enc.size() > 5) {
    *error = {"hl7_bad_delimiters",
              "MSH-1/MSH-2 do not declare usable delimiters"};
    return false;
  }
  comp_sep_ = enc[0];
  rep_sep_ = enc[1];
  esc_ = enc[2];
  sub_sep_ = enc[3];
  const char ds[] = {field_sep_, comp_sep_, rep_sep_, esc_, sub_sep_};
  for (size_t i = 0; i < 5; ++i) {
    for (size_t j = i + 1; j < 5; ++j) {
      if (ds[i] == ds[j] || bad_delim(ds[i]) || bad_delim(ds[j])) {
        *error = {"hl7_bad_delimiters",
                  "MSH-1/MSH-2 delimiters must be distinct punctuation"};
        return false;
      }
    }
  }
  // MSH-18: after "MSH|", piece 0 is MSH-2, so MSH-18 is piece 16.
  charset_ = Upper(
      Trim(Piece(Piece(msh_line.substr(4), field_sep_, 16), comp_sep_, 0)));
  std::string converted;
  if (charset_ == "8859/1") {
    latin1_ = true;
    converted = Latin1ToUtf8(raw);
  } else if (charset_ == "UNICODE UTF-8" || charset_ == "UTF-8" ||
             charset_ == "UNICODE") {
    if (!IsValidUtf8(raw)) {
      *error = {"hl7_charset_invalid",
                "MSH-18 declares UTF-8 but the bytes are not valid UTF-8"};
      return false;
    }
    converted = std::string(raw);
  } else if (charset_.empty() || charset_ == "ASCII") {
    // HL7's default is ASCII; UTF-8 is accepted (common in practice),
    // anything else must be declared.
    if (HasHighBytes(raw) && !IsValidUtf8(raw)) {
      *error = {"hl7_charset_undeclared",
                "non-ASCII bytes that are not UTF-8 and MSH-18 does not "
                "declare a character set"};
      return false;
    }
    converted = std::string(raw);
  } else {
    *error = {"hl7_charset_unsupported",
              "MSH-18 character set is not supported (ASCII, 8859/1, "
              "UNICODE UTF-8)"};
    return false;
  }

  std::string_view rest(converted);
  while (!rest.empty()) {
    const size_t end = rest.find_first_of("\r\n");
    std::string_view line =
        rest.substr(0, end == std::string_view::npos ? rest.size() : end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    if (Trim(line).empty()) continue;
    if (line.size() < 3) {
      *error = {"hl7_bad_segment", "a segment is shorter than its id"};
      return false;
    }
    for (size_t i = 0; i < 3; ++i) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      if (!(std::isupper(c) || std::isdigit(c))) {
        *error = {"hl7_bad_segment",
                  "a segment id is not 3 upper-case "
                  "letters or digits"};
        return false;
      }
    }
    if (line.size() > 3 && line[3] != field_sep_) {
      *error = {"hl7_bad_segment",
                "a segment id is not followed by the "
                "field separator"};
      return false;
    }
    Segment seg;
    seg.fields.emplace_back(line.substr(0, 3));
    std::string_view body =
        line.size() > 4 ? line.substr(4) : std::string_view();
    if (seg.fields[0] == "MSH") {
      seg.fields.emplace_back(1, field_sep_);
    }
    if (line.size() > 3) {
      size_t start = 0;
      while (true) {
        const size_t p = body.find(field_sep_, start);
        seg.fields.emplace_back(body.substr(start, p == std::string_view::npos
                                                       ? body.size() - start
                                                       : p - start));
        if (p == std::string_view::npos) break;
        start = p + 1;
      }
    }
    segments_.push_back(std::move(seg));
  }
  if (segments_.empty() || segments_[0].id() != "MSH") {
    *error = {"hl7_no_msh", "the message does not start with an MSH segment"};
    return false;
  }
  return true;
}

const Segment* Message::Find(std::string_view id, int nth) const {
  for (const Segment& s : segments_) {
    if (s.id() == id && nth-- == 0) return &s;
  }
  return nullptr;
}

std::string_view Message::Field(const Segment* seg, size_t n) {
  if (seg == nullptr || n >= seg->fields.size()) return {};
  return seg->fields[n];
}

std::vector<std::string_view> Message::Repetitions(std::string_view f) const {
  std::vector<std::string_view> out;
  if (f.empty()) return out;
  size_t start = 0;
  while (true) {
    const size_t p = f.find(rep_sep_, start);
    out.push_back(f.substr(
        start, p == std::string_view::npos ? f.size() - start : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

std::string_view Message::Component(std::string_view rep, size_t n) const {
  return n == 0 ? std::string_view() : Piece(rep, comp_sep_, n - 1);
}

std::string_view Message::Subcomponent(std::string_view comp, size_t n) const {
  return n == 0 ? std::string_view() : Piece(comp, sub_sep_, n - 1);
}

std::string Message::Text(std::string_view raw) const {
  // Most values carry no escape sequence: one copy, no per-byte appends.
  if (raw.find(esc_) == std::string_view::npos) return std::string(raw);
  std::string out;
  out.reserve(raw.size());
  bool hex_bytes = false;
  size_t i = 0;
  while (i < raw.size()) {
    const char c = raw[i];
    if (c != esc_) {
      out.push_back(c);
      ++i;
      continue;
    }
    const size_t close = raw.find(esc_, i + 1);
    if (close == std::string_view::npos) {  // unterminated: literal
      out.append(raw.substr(i));
      break;
    }
    const std::string_view seq = raw.substr(i + 1, close - i - 1);
    if (seq == "F") {
      out.push_back(field_sep_);
    } else if (seq == "S") {
      out.push_back(comp_sep_);
    } else if (seq == "T") {
      out.push_back(sub_sep_);
    } else if (seq == "R") {
      out.push_back(rep_sep_);
    } else if (seq == "E") {
      out.push_back(esc_);
    } else if (seq == "H" || seq == "N") {
      // highlight on / normal text: formatting only
    } else if (seq == ".br" || (seq.size() >= 3 && seq.substr(0, 3) == ".sp")) {
      out.push_back('\n');
    } else if (!seq.empty() && seq[0] == 'X' && seq.size() % 2 == 1 &&
               seq.size() > 1) {
      bool ok = true;
      std::string bytes;
      for (size_t k = 1; k + 1 < seq.size(); k += 2) {
        const int hi = HexValue(seq[k]);
        const int lo = HexValue(seq[k + 1]);
        if (hi < 0 || lo < 0) {
          ok = false;
          break;
        }
        bytes.push_back(static_cast<char>(hi * 16 + lo));
      }
      if (!ok) {
        out.append(raw.substr(i, close - i + 1));
      } else if (latin1_) {
        for (unsigned char b : bytes) AppendLatin1(b, &out);
      } else {
        out.append(bytes);
        hex_bytes = true;
      }
    } else {
      // Unknown or unsupported (\Cxxyy\, \Mxxyyzz\, \Zxx\): kept as written.
      out.append(raw.substr(i, close - i + 1));
    }
    i = close + 1;
  }
  if (hex_bytes && !IsValidUtf8(out)) {
    // \X..\ produced bytes that are not UTF-8: replace, never guess.
    std::string clean;
    for (unsigned char b : out)
      clean.push_back(b < 0x80 ? static_cast<char>(b) : '?');
    return clean;
  }
  return out;
}

std::string Message::Get(const Segment* seg, size_t f, size_t comp,
                         size_t sub) const {
  const std::string_view field = Field(seg, f);
  const std::string_view rep = Piece(field, rep_sep_, 0);
  return Text(Subcomponent(Component(rep, comp), sub));
}

std::string Message::Escape(std::string_view text) const {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == field_sep_) {
      out += std::string(1, esc_) + "F" + esc_;
    } else if (c == comp_sep_) {
      out += std::string(1, esc_) + "S" + esc_;
    } else if (c == sub_sep_) {
      out += std::string(1, esc_) + "T" + esc_;
    } else if (c == rep_sep_) {
      out += std::string(1, esc_) + "R" + esc_;
    } else if (c == esc_) {
      out += std::string(1, esc_) + "E" + esc_;
    } else if (c == '\r' || c == '\n') {
      out += std::string(1, esc_) + ".br" + esc_;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string BuildAck(const Message* original, std::string_view ack_code,
                     std::string_view text, const std::vector<AckError>& errors,
                     std::string_view now_utc, std::string_view control_id) {
  // The ACK always uses the standard delimiters and UTF-8-safe ASCII text.
  Message std_msg;
  ParseError ignored;
  std_msg.Parse("MSH|^~\\&|", &ignored);
  const Segment* msh = original ? original->Find("MSH") : nullptr;
  auto orig = [&](size_t f) {
    return original ? std_msg.Escape(original->Get(msh, f)) : std::string();
  };
  std::string trigger = original ? original->Get(msh, 9, 2) : std::string();
  std::string out = "MSH|^~\\&|" + orig(5) + "|" + orig(6) + "|" + orig(3) +
                    "|" + orig(4) + "|" + std::string(now_utc) + "||ACK^" +
                    std_msg.Escape(trigger) + "^ACK|" +
                    std_msg.Escape(control_id) + "|" +
                    (original ? orig(11) : std::string("P")) + "|2.4";
  std::string body = "\rMSA|" + std::string(ack_code) + "|" +
                     (original ? orig(10) : std::string()) + "|" +
                     std_msg.Escape(text);
  for (const AckError& e : errors) {
    body += "\rERR|" + std_msg.Escape(e.segment) + "^" +
            std::to_string(e.sequence) + "^" +
            (e.field > 0 ? std::to_string(e.field) : std::string()) + "^" +
            std::to_string(e.code) + "&" + std_msg.Escape(e.rule) + "&HL70357";
  }
  body += "\r";
  // Echoed fields are UTF-8 after parsing: declare it when not ASCII.
  if (HasHighBytes(out) || HasHighBytes(body)) out += "||||||UNICODE UTF-8";
  return out + body;
}

std::string MllpFrame(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 3);
  out.push_back(kMllpStart);
  out.append(message);
  out.push_back(kMllpEnd);
  out.push_back(kMllpCr);
  return out;
}

bool MllpDeframer::Feed(std::string_view bytes, std::vector<std::string>* out) {
  for (char c : bytes) {
    if (!in_frame_) {
      if (c == kMllpStart) {
        in_frame_ = true;
        saw_end_ = false;
        buf_.clear();
      }
      continue;  // noise between frames
    }
    if (saw_end_) {
      if (c == kMllpCr) {
        out->push_back(std::move(buf_));
        buf_.clear();
        in_frame_ = false;
        saw_end_ = false;
        continue;
      }
      // 0x1C not followed by CR: it was data.
      buf_.push_back(kMllpEnd);
      saw_end_ = false;
    }
    if (c == kMllpEnd) {
      saw_end_ = true;
      continue;
    }
    if (c == kMllpStart) {  // a new frame before the end: restart
      buf_.clear();
      continue;
    }
    buf_.push_back(c);
    if (buf_.size() > max_) {
      buf_.clear();
      in_frame_ = false;
      return false;
    }
  }
  return true;
}

}  // namespace ehx::adapters::health::hl7
