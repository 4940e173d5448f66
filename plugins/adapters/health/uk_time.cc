#include "uk_time.h"

#include <cstdio>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace ehx::adapters::health {
namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Day of the week, 0 = Sunday.
int Weekday(int64_t days) {
  const int64_t w = (days + 4) % 7;  // 1970-01-01 was a Thursday
  return static_cast<int>(w < 0 ? w + 7 : w);
}

// Days-since-epoch of the last Sunday of `month`.
int64_t LastSunday(int year, int month) {
  static constexpr int kLast[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  const int64_t d = DaysFromCivil(year, month, kLast[month - 1]);
  return d - Weekday(d);
}

LocalTimeKind RulesToUtc(int y, int mo, int d, int h, int mi, int s,
                         int64_t* utc) {
  const int64_t local =
      DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  // Transitions at 01:00 UTC. Spring: local 01:00 -> 02:00 (GMT->BST).
  // Autumn: local 02:00 BST -> 01:00 GMT.
  const int64_t spring_utc = LastSunday(y, 3) * 86400 + 3600;
  const int64_t autumn_utc = LastSunday(y, 10) * 86400 + 3600;
  // In local wall-clock seconds:
  const int64_t spring_gap_begin = spring_utc;           // 01:00 local GMT
  const int64_t spring_gap_end = spring_utc + 3600;      // 02:00 local BST
  const int64_t autumn_overlap_begin = autumn_utc;       // 01:00 local GMT
  const int64_t autumn_overlap_end = autumn_utc + 3600;  // 02:00 local BST
  if (local >= spring_gap_begin && local < spring_gap_end) {
    return LocalTimeKind::kNonexistent;
  }
  if (local >= autumn_overlap_begin && local < autumn_overlap_end) {
    return LocalTimeKind::kAmbiguous;
  }
  const bool bst = local >= spring_gap_end && local < autumn_overlap_begin;
  *utc = local - (bst ? 3600 : 0);
  return LocalTimeKind::kUnique;
}

const absl::TimeZone* London() {
  // Never destroyed (no global destructors in a plugin).
  static const absl::TimeZone* zone = []() -> const absl::TimeZone* {
    auto* tz = new absl::TimeZone();
    if (!absl::LoadTimeZone("Europe/London", tz)) {
      delete tz;
      return nullptr;
    }
    return tz;
  }();
  return zone;
}

// Fractional seconds ".d{1,9}" at s[*pos]; advances *pos.
bool Fraction(std::string_view s, size_t* pos, size_t max_digits,
              int32_t* nanos) {
  *nanos = 0;
  if (*pos >= s.size() || s[*pos] != '.') return true;
  ++*pos;
  size_t n = 0;
  int64_t v = 0;
  while (*pos < s.size() && s[*pos] >= '0' && s[*pos] <= '9') {
    if (n < 9) v = v * 10 + (s[*pos] - '0');
    ++n;
    ++*pos;
  }
  if (n == 0 || n > max_digits) return false;
  for (size_t i = n; i < 9; ++i) v *= 10;
  *nanos = static_cast<int32_t>(v);
  return true;
}

void Finish(TimeValue* v, int h, int mi, int s, bool has_offset,
            int offset_minutes) {
  if (h > 23 || mi > 59 || s > 59) {  // no leap seconds in these feeds
    v->rule = "datetime_invalid";
    return;
  }
  if (has_offset) {
    v->seconds = DaysFromCivil(v->year, v->month, v->day) * 86400 + h * 3600 +
                 mi * 60 + s - offset_minutes * 60;
    return;
  }
  int64_t utc = 0;
  switch (LondonToUtc(v->year, v->month, v->day, h, mi, s, &utc)) {
    case LocalTimeKind::kUnique:
      v->seconds = utc;
      break;
    case LocalTimeKind::kNonexistent:
      v->rule = "dst_nonexistent_local_time";
      break;
    case LocalTimeKind::kAmbiguous:
      v->rule = "dst_ambiguous_local_time";
      break;
  }
}

}  // namespace

int64_t DaysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool IsValidDate(int year, int month, int day) {
  if (year < 1900 || year > 9999 || month < 1 || month > 12 || day < 1) {
    return false;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  int max = kDays[month - 1];
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && leap) max = 29;
  return day <= max;
}

bool LondonZoneLoaded() { return London() != nullptr; }

LocalTimeKind LondonToUtc(int y, int mo, int d, int h, int mi, int s,
                          int64_t* utc, bool force_rules) {
  const absl::TimeZone* tz = force_rules ? nullptr : London();
  if (tz == nullptr) return RulesToUtc(y, mo, d, h, mi, s, utc);
  const absl::TimeZone::TimeInfo info =
      tz->At(absl::CivilSecond(y, mo, d, h, mi, s));
  switch (info.kind) {
    case absl::TimeZone::TimeInfo::UNIQUE:
      *utc = absl::ToUnixSeconds(info.pre);
      return LocalTimeKind::kUnique;
    case absl::TimeZone::TimeInfo::SKIPPED:
      return LocalTimeKind::kNonexistent;
    case absl::TimeZone::TimeInfo::REPEATED:
      return LocalTimeKind::kAmbiguous;
  }
  return LocalTimeKind::kNonexistent;
}

TimeValue ParseHl7Time(std::string_view s) {
  TimeValue v;
  if (!Digits(s, 0, 4, &v.year) || !Digits(s, 4, 2, &v.month) ||
      !Digits(s, 6, 2, &v.day)) {
    v.rule = "date_invalid";
    return v;
  }
  if (!IsValidDate(v.year, v.month, v.day)) {
    v.rule = "date_invalid";
    return v;
  }
  size_t pos = 8;
  int h = 0, mi = 0, sec = 0;
  if (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
    if (!Digits(s, pos, 2, &h)) {
      v.rule = "datetime_invalid";
      return v;
    }
    pos += 2;
    v.has_time = true;
    if (Digits(s, pos, 2, &mi)) {
      pos += 2;
      if (Digits(s, pos, 2, &sec)) {
        pos += 2;
        if (!Fraction(s, &pos, 4, &v.nanos)) {
          v.rule = "datetime_invalid";
          return v;
        }
      }
    }
  }
  int offset = 0;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (!Digits(s, pos + 1, 2, &oh) || !Digits(s, pos + 3, 2, &om) || oh > 14 ||
        om > 59) {
      v.rule = "datetime_invalid";
      return v;
    }
    offset = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    v.has_offset = true;
    pos += 5;
  }
  if (pos != s.size()) {
    v.rule = "datetime_invalid";
    return v;
  }
  if (v.has_time) Finish(&v, h, mi, sec, v.has_offset, offset);
  return v;
}

TimeValue ParseFhirTime(std::string_view s) {
  TimeValue v;
  if (s.size() < 10 || !Digits(s, 0, 4, &v.year) || s[4] != '-' ||
      !Digits(s, 5, 2, &v.month) || s[7] != '-' || !Digits(s, 8, 2, &v.day) ||
      !IsValidDate(v.year, v.month, v.day)) {
    v.rule = "date_invalid";
    return v;
  }
  if (s.size() == 10) return v;
  int h = 0, mi = 0, sec = 0;
  if (s[10] != 'T' || !Digits(s, 11, 2, &h) || s.size() < 19 || s[13] != ':' ||
      !Digits(s, 14, 2, &mi) || s[16] != ':' || !Digits(s, 17, 2, &sec)) {
    v.rule = "datetime_invalid";
    return v;
  }
  v.has_time = true;
  size_t pos = 19;
  if (!Fraction(s, &pos, 9, &v.nanos)) {
    v.rule = "datetime_invalid";
    return v;
  }
  int offset = 0;
  if (pos < s.size() && s[pos] == 'Z') {
    v.has_offset = true;
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() ||
        s[pos + 3] != ':' || !Digits(s, pos + 4, 2, &om) || oh > 14 ||
        om > 59) {
      v.rule = "datetime_invalid";
      return v;
    }
    offset = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    v.has_offset = true;
    pos += 6;
  }
  if (pos != s.size()) {
    v.rule = "datetime_invalid";
    return v;
  }
  Finish(&v, h, mi, sec, v.has_offset, offset);
  return v;
}

std::string FormatUtc(int64_t seconds) {
  int64_t days = seconds / 86400;
  int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // civil_from_days
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char out[96];
  std::snprintf(out, sizeof(out), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                static_cast<long long>(y), static_cast<long long>(m),
                static_cast<long long>(d), static_cast<long long>(rem / 3600),
                static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60));
  return out;
}

}  // namespace ehx::adapters::health
