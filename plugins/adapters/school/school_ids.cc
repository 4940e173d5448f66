#include "school_ids.h"

#include <cctype>
#include <string>
#include <string_view>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace ehx::adapters::school {
namespace {

constexpr std::string_view kUpnAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int UpnLetterValue(char c) {
  const size_t pos = kUpnAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

// Reads exactly `n` digits at s[pos], or -1.
int Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Day of month of the last Sunday of (y, m).
int LastSunday(int y, int m) {
  const int last = DaysInMonth(y, m);
  const int64_t days = DaysFromCivil(y, m, last);
  const int weekday = static_cast<int>(((days % 7) + 7 + 4) % 7);  // 0 = Sun
  return last - weekday;
}

struct London {
  bool ok = false;
  absl::TimeZone tz;
};

const London& LondonZone() {
  static const London* zone = [] {
    auto* z = new London();
    z->ok = absl::LoadTimeZone("Europe/London", &z->tz);
    return z;
  }();
  return *zone;
}

}  // namespace

std::string NormaliseUpn(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    if (c == ' ' || c == '-' || c == '\t') continue;
    out.push_back(
        static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

char UpnCheckLetter(std::string_view chars) {
  if (chars.size() != 12) return '\0';
  int sum = 0;
  for (int i = 0; i < 12; ++i) {
    const char c = chars[i];
    int v;
    if (IsDigit(c)) {
      v = c - '0';
    } else if (i == 11 && UpnLetterValue(c) >= 0) {
      v = UpnLetterValue(c);
    } else {
      return '\0';
    }
    sum += v * (i + 2);
  }
  return kUpnAlphabet[sum % 23];
}

UpnKind CheckUpn(std::string_view upn) {
  if (upn.size() != 13 || UpnLetterValue(upn[0]) < 0) {
    return UpnKind::kBadFormat;
  }
  for (size_t i = 1; i < 12; ++i) {
    if (!IsDigit(upn[i])) return UpnKind::kBadFormat;
  }
  const bool temporary = !IsDigit(upn[12]);
  if (temporary && UpnLetterValue(upn[12]) < 0) return UpnKind::kBadFormat;
  if (UpnCheckLetter(upn.substr(1)) != upn[0]) return UpnKind::kBadCheckLetter;
  return temporary ? UpnKind::kTemporary : UpnKind::kPermanent;
}

std::string NormaliseNhs(std::string_view raw) {
  std::string out;
  for (char c : raw) {
    if (c == ' ' || c == '-' || c == '\t') continue;
    out.push_back(c);
  }
  return out;
}

bool IsValidDate(int y, int m, int d) {
  return y >= 1900 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 &&
         d <= DaysInMonth(y, m);
}

std::optional<CivilDate> ParseIsoDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  const int y = Digits(s, 0, 4), m = Digits(s, 5, 2), d = Digits(s, 8, 2);
  if (y < 0 || m < 0 || d < 0 || !IsValidDate(y, m, d)) return std::nullopt;
  return CivilDate{y, m, d};
}

int64_t DaysFromCivil(int y, int m, int d) {
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

LocalTimeResult LondonByRule(int y, int mo, int d, int h, int mi, int s) {
  LocalTimeResult r;
  r.date = {y, mo, d};
  const int64_t local =
      DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  const int spring = LastSunday(y, 3), autumn = LastSunday(y, 10);
  const int64_t spring_gap = DaysFromCivil(y, 3, spring) * 86400 + 3600;
  const int64_t autumn_fold = DaysFromCivil(y, 10, autumn) * 86400 + 3600;
  if (local >= spring_gap && local < spring_gap + 3600) {
    r.kind = LocalTimeKind::kNonexistent;
  } else if (local >= autumn_fold && local < autumn_fold + 3600) {
    r.kind = LocalTimeKind::kAmbiguous;
  } else {
    r.kind = LocalTimeKind::kUnique;
    const bool bst = local >= spring_gap + 3600 && local < autumn_fold;
    r.unix_seconds = local - (bst ? 3600 : 0);
  }
  return r;
}

LocalTimeResult ParseLondonDateTime(std::string_view s) {
  LocalTimeResult r;
  // YYYY-MM-DDThh:mm:ss
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':') {
    return r;
  }
  const int y = Digits(s, 0, 4), mo = Digits(s, 5, 2), d = Digits(s, 8, 2);
  const int h = Digits(s, 11, 2), mi = Digits(s, 14, 2), sec = Digits(s, 17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0 ||
      !IsValidDate(y, mo, d) || h > 23 || mi > 59 || sec > 59) {
    return r;
  }
  std::string_view rest = s.substr(19);
  if (!rest.empty() && rest[0] == '.') {  // fraction: ignored
    size_t i = 1;
    while (i < rest.size() && IsDigit(rest[i])) ++i;
    if (i == 1) return r;
    rest = rest.substr(i);
  }
  const int64_t local =
      DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
  if (!rest.empty()) {  // explicit offset: no guessing needed
    int offset;
    if (rest == "Z") {
      offset = 0;
    } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') &&
               rest[3] == ':' && Digits(rest, 1, 2) >= 0 &&
               Digits(rest, 4, 2) >= 0 && Digits(rest, 1, 2) < 24 &&
               Digits(rest, 4, 2) < 60) {
      offset = (Digits(rest, 1, 2) * 3600 + Digits(rest, 4, 2) * 60) *
               (rest[0] == '-' ? -1 : 1);
    } else {
      return r;
    }
    r.kind = LocalTimeKind::kUnique;
    r.date = {y, mo, d};
    r.unix_seconds = local - offset;
    return r;
  }
  const London& london = LondonZone();
  if (!london.ok) return LondonByRule(y, mo, d, h, mi, sec);
  const absl::TimeZone::TimeInfo info =
      london.tz.At(absl::CivilSecond(y, mo, d, h, mi, sec));
  r.date = {y, mo, d};
  switch (info.kind) {
    case absl::TimeZone::TimeInfo::UNIQUE:
      r.kind = LocalTimeKind::kUnique;
      r.unix_seconds = absl::ToUnixSeconds(info.pre);
      break;
    case absl::TimeZone::TimeInfo::SKIPPED:
      r.kind = LocalTimeKind::kNonexistent;
      break;
    case absl::TimeZone::TimeInfo::REPEATED:
      r.kind = LocalTimeKind::kAmbiguous;
      break;
  }
  return r;
}

int64_t LondonMidnight(const CivilDate& date) {
  const London& london = LondonZone();
  if (london.ok) {
    return absl::ToUnixSeconds(
        london.tz
            .At(absl::CivilSecond(date.year, date.month, date.day, 0, 0, 0))
            .pre);
  }
  return LondonByRule(date.year, date.month, date.day, 0, 0, 0).unix_seconds;
}

uint64_t Fnv1a64(std::initializer_list<std::string_view> parts) {
  uint64_t h = 1469598103934665603ull;
  bool first = true;
  for (std::string_view s : parts) {
    if (!first) {
      h ^= 0x1f;  // unit separator
      h *= 1099511628211ull;
    }
    first = false;
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  }
  return h;
}

std::string Hex64(uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[i] = kHex[v & 0xf];
  return out;
}

}  // namespace ehx::adapters::school
