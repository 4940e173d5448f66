#include "csc_util.h"

#include <cstdio>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace ehx::adapters::csc {
namespace {

constexpr std::string_view kUpnAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int UpnLetterValue(char c) {
  const size_t pos = kUpnAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

bool ValidCalendarDate(int y, int m, int d) {
  if (y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  int max = kDays[m - 1];
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) max = 29;
  return d <= max;
}

// Reads exactly `n` digits at `s[*pos]`.
bool Digits(std::string_view s, size_t* pos, int n, int* out) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[*pos + i];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

// The zone, loaded once (never destroyed: no global destructors).
const absl::TimeZone* London() {
  static const absl::TimeZone* zone = [] {
    auto* z = new absl::TimeZone();
    if (!absl::LoadTimeZone("Europe/London", z)) {
      delete z;
      return static_cast<absl::TimeZone*>(nullptr);
    }
    return z;
  }();
  return zone;
}

}  // namespace

namespace internal {

// Day of month of the last Sunday of `month` in `year`.
int LastSunday(int year, int month) {
  const absl::CivilDay last =
      absl::CivilDay(absl::CivilMonth(year, month) + 1) - 1;
  const int wd = static_cast<int>(absl::GetWeekday(last));  // Monday = 0
  const int back = (wd - static_cast<int>(absl::Weekday::sunday) + 7) % 7;
  return (last - back).day();
}

// UK rules since 1996: BST from 01:00 UTC on the last Sunday of March to
// 01:00 UTC on the last Sunday of October. Converts a London wall time to
// UTC seconds; classifies gaps and overlaps.
TimeParse LondonByRules(const absl::CivilSecond& local, int64_t* utc_seconds) {
  const int y = static_cast<int>(local.year());
  const absl::CivilSecond spring(y, 3, LastSunday(y, 3), 1, 0, 0);
  const absl::CivilSecond autumn(y, 10, LastSunday(y, 10), 1, 0, 0);
  const int64_t base = (local - absl::CivilSecond(1970, 1, 1, 0, 0, 0));
  // Spring: wall clock jumps 01:00 -> 02:00.
  if (local >= spring && local < spring + 3600) {
    return TimeParse::kNonexistentLocal;
  }
  // Autumn: wall clock 01:00-01:59:59 happens twice (BST, then GMT).
  if (local >= autumn && local < autumn + 3600) {
    return TimeParse::kAmbiguousLocal;
  }
  const bool bst = local >= spring + 3600 && local < autumn;
  *utc_seconds = base - (bst ? 3600 : 0);
  return TimeParse::kOk;
}

}  // namespace internal

UpnCheck CheckUpn(std::string_view value) {
  if (value.size() != 13 || UpnLetterValue(value[0]) < 0) {
    return UpnCheck::kBadFormat;
  }
  int sum = 0;
  for (int i = 1; i < 13; ++i) {
    const char c = value[i];
    int v;
    if (IsDigit(c)) {
      v = c - '0';
    } else if (i == 12 && UpnLetterValue(c) >= 0) {
      v = UpnLetterValue(c);
    } else {
      return UpnCheck::kBadFormat;
    }
    sum += v * (i + 1);
  }
  if (kUpnAlphabet[sum % 23] != value[0]) return UpnCheck::kBadCheckLetter;
  return IsDigit(value[12]) ? UpnCheck::kValidPermanent
                            : UpnCheck::kValidTemporary;
}

bool ValidLaChildId(std::string_view value) {
  if (value.empty() || value.size() > 20) return false;
  for (char c : value) {
    const bool ok =
        IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!ok) return false;
  }
  return true;
}

std::string NormaliseId(std::string_view raw, bool upper) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    if (c == ' ' || c == '-' || c == '\t' || c == '\r' || c == '\n') continue;
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    out.push_back(c);
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  auto ws = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<ehxpb::cases::v1::Date> ParseIsoDate(std::string_view s) {
  s = Trim(s);
  size_t pos = 0;
  int y, m, d;
  if (!Digits(s, &pos, 4, &y) || !Expect(s, &pos, '-') ||
      !Digits(s, &pos, 2, &m) || !Expect(s, &pos, '-') ||
      !Digits(s, &pos, 2, &d) || pos != s.size()) {
    return std::nullopt;
  }
  if (!ValidCalendarDate(y, m, d)) return std::nullopt;
  ehxpb::cases::v1::Date out;
  out.set_year(y);
  out.set_month(m);
  out.set_day(d);
  return out;
}

std::string FormatDate(const ehxpb::cases::v1::Date& d) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", d.year() % 10000,
                d.month() % 100, d.day() % 100);
  return buf;
}

TimeParse ParseDateTime(std::string_view s, google::protobuf::Timestamp* out) {
  s = Trim(s);
  size_t pos = 0;
  int y, mo, d, h, mi, sec = 0;
  if (!Digits(s, &pos, 4, &y) || !Expect(s, &pos, '-') ||
      !Digits(s, &pos, 2, &mo) || !Expect(s, &pos, '-') ||
      !Digits(s, &pos, 2, &d)) {
    return TimeParse::kBadFormat;
  }
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != ' ')) {
    return TimeParse::kBadFormat;
  }
  ++pos;
  if (!Digits(s, &pos, 2, &h) || !Expect(s, &pos, ':') ||
      !Digits(s, &pos, 2, &mi)) {
    return TimeParse::kBadFormat;
  }
  int32_t nanos = 0;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!Digits(s, &pos, 2, &sec)) return TimeParse::kBadFormat;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      int n = 0;
      int32_t scale = 100000000;
      while (pos < s.size() && IsDigit(s[pos])) {
        if (n < 9) nanos += (s[pos] - '0') * scale;
        scale /= 10;
        ++n;
        ++pos;
      }
      if (n == 0) return TimeParse::kBadFormat;
    }
  }
  if (!ValidCalendarDate(y, mo, d) || h > 23 || mi > 59 || sec > 59) {
    return TimeParse::kBadFormat;
  }
  const absl::CivilSecond civil(y, mo, d, h, mi, sec);
  int64_t seconds;
  if (pos == s.size()) {
    // A Europe/London wall time.
    if (const absl::TimeZone* zone = London()) {
      const absl::TimeZone::TimeInfo info = zone->At(civil);
      if (info.kind == absl::TimeZone::TimeInfo::SKIPPED) {
        return TimeParse::kNonexistentLocal;
      }
      if (info.kind == absl::TimeZone::TimeInfo::REPEATED) {
        return TimeParse::kAmbiguousLocal;
      }
      seconds = absl::ToUnixSeconds(info.pre);
    } else {
      const TimeParse r = internal::LondonByRules(civil, &seconds);
      if (r != TimeParse::kOk) return r;
    }
  } else {
    int offset = 0;
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      const int sign = s[pos] == '-' ? -1 : 1;
      ++pos;
      int oh, om;
      if (!Digits(s, &pos, 2, &oh) || !Expect(s, &pos, ':') ||
          !Digits(s, &pos, 2, &om) || oh > 23 || om > 59) {
        return TimeParse::kBadFormat;
      }
      offset = sign * (oh * 3600 + om * 60);
    } else {
      return TimeParse::kBadFormat;
    }
    if (pos != s.size()) return TimeParse::kBadFormat;
    seconds = (civil - absl::CivilSecond(1970, 1, 1, 0, 0, 0)) - offset;
  }
  out->set_seconds(seconds);
  out->set_nanos(nanos);
  return TimeParse::kOk;
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  const absl::CivilSecond c =
      absl::CivilSecond(1970, 1, 1, 0, 0, 0) + t.seconds();
  char buf[48];
  if (t.nanos() == 0) {
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ",
                  static_cast<int>(c.year()), c.month(), c.day(), c.hour(),
                  c.minute(), c.second());
  } else {
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ",
                  static_cast<int>(c.year()), c.month(), c.day(), c.hour(),
                  c.minute(), c.second(), static_cast<int>(t.nanos()));
  }
  return buf;
}

google::protobuf::Timestamp LondonMidnight(const ehxpb::cases::v1::Date& d) {
  const absl::CivilSecond civil(d.year(), d.month(), d.day(), 0, 0, 0);
  int64_t seconds = 0;
  if (const absl::TimeZone* zone = London()) {
    seconds = absl::ToUnixSeconds(zone->At(civil).pre);
  } else {
    // Midnight is never in a UK gap or overlap (changes happen at 01:00).
    internal::LondonByRules(civil, &seconds);
  }
  google::protobuf::Timestamp out;
  out.set_seconds(seconds);
  return out;
}

std::string LondonDate(const google::protobuf::Timestamp& t) {
  absl::CivilDay day;
  if (const absl::TimeZone* zone = London()) {
    day = absl::ToCivilDay(absl::FromUnixSeconds(t.seconds()), *zone);
  } else {
    // Built-in rules: BST when UTC is within [spring 01:00, autumn 01:00).
    const absl::CivilSecond utc =
        absl::CivilSecond(1970, 1, 1, 0, 0, 0) + t.seconds();
    const int y = static_cast<int>(utc.year());
    const absl::CivilSecond spring(y, 3, internal::LastSunday(y, 3), 1, 0, 0);
    const absl::CivilSecond autumn(y, 10, internal::LastSunday(y, 10), 1, 0, 0);
    const bool bst = utc >= spring && utc < autumn;
    day = absl::CivilDay(bst ? utc + 3600 : utc);
  }
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d",
                static_cast<int>(day.year()) % 10000, day.month(), day.day());
  return buf;
}

bool UsingTzdata() { return London() != nullptr; }

std::string StableHash(std::initializer_list<std::string_view> parts) {
  uint64_t h = 1469598103934665603ull;
  bool first = true;
  for (std::string_view s : parts) {
    if (!first) {
      h ^= 0;
      h *= 1099511628211ull;
    }
    first = false;
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  }
  // What snprintf("%016llx") printed, without a format call per hash.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[i] = kHex[h & 0xf];
  return out;
}

std::string SafeName(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) c = '_';
  }
  return out;
}

}  // namespace ehx::adapters::csc
