// HL7 v2 (ER7, pipe-delimited) messages: parsing with the delimiters from
// MSH-1/MSH-2, escape sequences, MSH-18 character sets, ACK building and
// MLLP framing. Hand-written: Debian ships no maintained HL7 v2 C++
// library, and the grammar is small. No exceptions; every loop is bounded by
// the input size. Thread-compatible (a message is not shared).
#ifndef EHX_ADAPTERS_HEALTH_HL7_H_
#define EHX_ADAPTERS_HEALTH_HL7_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ehx::adapters::health::hl7 {

// Why a message could not be parsed at all.
struct ParseError {
  std::string rule;     // "hl7_no_msh", "hl7_bad_delimiters", ...
  std::string message;  // no message content
};

// A parsed segment: fields[0] is the segment id; for MSH, fields[1] is the
// field separator and fields[2] the encoding characters, so that field(n)
// is MSH-n for every segment.
struct Segment {
  std::vector<std::string> fields;  // raw (escaped, converted to UTF-8)
  const std::string& id() const { return fields[0]; }
};

// The pieces of a raw value split on one separator, for range-for, without
// allocating: Split("a~b", '~') yields "a", "b"; an empty value yields
// nothing (as Message::Repetitions).
class Split {
 public:
  Split(std::string_view s, char sep) : s_(s), sep_(sep) {}
  class iterator {
   public:
    iterator(std::string_view rest, char sep, bool done)
        : rest_(rest), sep_(sep), done_(done) {
      Next();
    }
    std::string_view operator*() const { return cur_; }
    iterator& operator++() {
      Next();
      return *this;
    }
    bool operator!=(const iterator& o) const { return done_ != o.done_; }

   private:
    void Next() {
      if (at_end_) {
        done_ = true;
        return;
      }
      const size_t p = rest_.find(sep_);
      if (p == std::string_view::npos) {
        cur_ = rest_;
        at_end_ = true;
      } else {
        cur_ = rest_.substr(0, p);
        rest_.remove_prefix(p + 1);
      }
    }
    std::string_view rest_, cur_;
    char sep_;
    bool done_;
    bool at_end_ = false;
  };
  iterator begin() const { return iterator(s_, sep_, s_.empty()); }
  iterator end() const { return iterator({}, sep_, true); }

 private:
  std::string_view s_;
  char sep_;
};

class Message {
 public:
  // Parses `raw` (segments separated by CR; LF and CRLF tolerated). Text in
  // ISO 8859-1 ("8859/1" in MSH-18) is converted to UTF-8; "UNICODE UTF-8"
  // and ASCII are checked. Returns false and fills `error` on failure.
  bool Parse(std::string_view raw, ParseError* error);

  const std::vector<Segment>& segments() const { return segments_; }
  // The `nth` (0-based) segment with this id, or nullptr.
  const Segment* Find(std::string_view id, int nth = 0) const;

  // Raw field `n` of `seg` ("" when absent).
  static std::string_view Field(const Segment* seg, size_t n);
  // Splits a raw field on the repetition separator.
  std::vector<std::string_view> Repetitions(std::string_view field) const;
  // The same, lazily (no vector).
  Split Reps(std::string_view field) const { return Split(field, rep_sep_); }
  // Component `n` (1-based) of a raw repetition, raw.
  std::string_view Component(std::string_view rep, size_t n) const;
  // Subcomponent `n` (1-based) of a raw component, raw.
  std::string_view Subcomponent(std::string_view comp, size_t n) const;
  // Unescaped text of a raw value (\F\ \S\ \T\ \R\ \E\ \Xhh..\ \.br\ ...).
  std::string Text(std::string_view raw) const;
  // Shorthand: unescaped component n of field f, first repetition, first
  // subcomponent.
  std::string Get(const Segment* seg, size_t f, size_t comp = 1,
                  size_t sub = 1) const;

  // MSH-18 as declared ("" when absent).
  const std::string& charset() const { return charset_; }
  char field_sep() const { return field_sep_; }
  char rep_sep() const { return rep_sep_; }

  // Escapes text for a field value in this message's encoding.
  std::string Escape(std::string_view text) const;

 private:
  char field_sep_ = '|';
  char comp_sep_ = '^';
  char rep_sep_ = '~';
  char esc_ = '\\';
  char sub_sep_ = '&';
  bool latin1_ = false;
  std::string charset_;
  std::vector<Segment> segments_;
};

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view s);
// ISO 8859-1 bytes to UTF-8.
std::string Latin1ToUtf8(std::string_view s);

// One error for an ACK's ERR segment (v2.4 ERR-1, CM_ELD).
struct AckError {
  std::string segment;  // "PID"
  int sequence = 1;     // which occurrence
  int field = 0;        // field position, 0 when the whole message
  int code = 207;       // HL7 table 0357
  std::string rule;     // our rule id (ERR-1.4.2 text), never a value
};

// Builds an HL7 ACK (v2.4) answering `original` (may be a failed parse:
// then the fields it needs are taken as empty). `ack_code` is AA, AE or
// AR; `text` goes to MSA-3 (no personal data). `now_utc` is
// YYYYMMDDHHMMSS+0000.
std::string BuildAck(const Message* original, std::string_view ack_code,
                     std::string_view text, const std::vector<AckError>& errors,
                     std::string_view now_utc, std::string_view control_id);

// MLLP: 0x0B message 0x1C 0x0D.
inline constexpr char kMllpStart = 0x0B;
inline constexpr char kMllpEnd = 0x1C;
inline constexpr char kMllpCr = 0x0D;

std::string MllpFrame(std::string_view message);

// Incremental MLLP deframer: frames may split across reads or arrive
// several per read. Bytes before a start block are discarded.
class MllpDeframer {
 public:
  explicit MllpDeframer(size_t max_message_bytes) : max_(max_message_bytes) {}
  // Appends bytes; complete messages are appended to `out`. Returns false
  // when a message exceeds the limit (the connection should be dropped).
  bool Feed(std::string_view bytes, std::vector<std::string>* out);

 private:
  size_t max_;
  bool in_frame_ = false;
  bool saw_end_ = false;
  std::string buf_;
};

}  // namespace ehx::adapters::health::hl7

#endif  // EHX_ADAPTERS_HEALTH_HL7_H_
