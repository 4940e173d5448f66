// Line numbers of byte offsets in a document, counted the way expat counts
// them (LF, CR LF and CR each end a line), for adapters that report record
// positions. Cheaper than XML_GetCurrentLineNumber per record: that walks
// every byte through expat's position tracker; this is memchr per line.
// Header-only, standard library only. Not thread-safe (one per document).
#ifndef EHX_SDK_LINE_COUNTER_H_
#define EHX_SDK_LINE_COUNTER_H_

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string_view>

namespace ehx::sdk {

// 1-based line of byte `offset` of `bytes`. Incremental: offsets must not
// decrease between calls on one counter (an earlier offset gets the last
// line). Handles ASCII-compatible encodings (UTF-8, ISO-8859-1) and UTF-16
// (told by its byte order mark or a "<" code unit first).
class LineCounter {
 public:
  explicit LineCounter(std::string_view bytes) : bytes_(bytes) {
    if (bytes.size() >= 2) {
      const auto b0 = static_cast<unsigned char>(bytes[0]);
      const auto b1 = static_cast<unsigned char>(bytes[1]);
      if ((b0 == 0xFF && b1 == 0xFE) || (b0 == '<' && b1 == 0)) {
        unit_ = 2;
        low_ = 0;
      } else if ((b0 == 0xFE && b1 == 0xFF) || (b0 == 0 && b1 == '<')) {
        unit_ = 2;
        low_ = 1;
      }
    }
  }

  int LineAt(size_t offset) {
    offset = std::min(offset, bytes_.size());
    if (offset < pos_) return line_;
    const char* p = bytes_.data();
    if (unit_ == 1) {
      // Every LF ends a line, and so does a CR that no LF follows.
      const char* const stop = p + offset;
      for (const char* lf = p + pos_;
           (lf = static_cast<const char*>(std::memchr(
                lf, '\n', static_cast<size_t>(stop - lf)))) != nullptr;
           ++lf) {
        ++line_;
      }
      for (const char* cr = p + pos_;
           (cr = static_cast<const char*>(std::memchr(
                cr, '\r', static_cast<size_t>(stop - cr)))) != nullptr;
           ++cr) {
        const size_t i = static_cast<size_t>(cr - p);
        if (i + 1 >= bytes_.size() || p[i + 1] != '\n') ++line_;
      }
      pos_ = offset;
      return line_;
    }
    auto unit = [&](size_t i) {
      const auto lo = static_cast<unsigned char>(p[i + low_]);
      const auto hi = static_cast<unsigned char>(p[i + 1 - low_]);
      return hi == 0 ? static_cast<int>(lo) : 256;
    };
    size_t i = pos_;
    for (; i < offset && i + 1 < bytes_.size(); i += 2) {
      const int u = unit(i);
      if (u == '\n') ++line_;
      if (u == '\r' && (i + 3 >= bytes_.size() || unit(i + 2) != '\n')) {
        ++line_;
      }
    }
    pos_ = i;
    return line_;
  }

 private:
  std::string_view bytes_;
  int unit_ = 1;  // bytes per code unit: 1, or 2 for UTF-16
  int low_ = 0;   // UTF-16: offset of the low byte in a unit (LE 0, BE 1)
  size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace ehx::sdk

#endif  // EHX_SDK_LINE_COUNTER_H_
