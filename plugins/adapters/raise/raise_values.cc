#include "raise_values.h"

#include <cctype>
#include <cstdio>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "ehx_sdk/nhs_number.h"

namespace ehx::adapters::raise {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int ToInt(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// The zone, loaded once. Function-local static pointer: never destroyed.
struct London {
  absl::TimeZone tz;
  bool from_tzdata = false;
};

const London& LondonZone() {
  static const London* zone = [] {
    auto* z = new London();
    z->from_tzdata = absl::LoadTimeZone("Europe/London", &z->tz);
    return z;
  }();
  return *zone;
}

// Day of week of a civil day, 0 = Monday.
int Weekday(const absl::CivilDay& d) {
  switch (absl::GetWeekday(d)) {
    case absl::Weekday::monday:
      return 0;
    case absl::Weekday::tuesday:
      return 1;
    case absl::Weekday::wednesday:
      return 2;
    case absl::Weekday::thursday:
      return 3;
    case absl::Weekday::friday:
      return 4;
    case absl::Weekday::saturday:
      return 5;
    case absl::Weekday::sunday:
      return 6;
  }
  return 0;
}

absl::CivilDay LastSunday(int year, int month) {
  absl::CivilDay d = absl::CivilDay(year, month + 1, 1) - 1;
  while (Weekday(d) != 6) d -= 1;
  return d;
}

// Hand-computed UK rule (since 1996): BST from 01:00 UTC on the last Sunday
// of March to 01:00 UTC on the last Sunday of October.
int64_t UkOffsetAtUtc(int64_t utc_seconds) {
  const absl::CivilSecond cs = absl::ToCivilSecond(
      absl::FromUnixSeconds(utc_seconds), absl::UTCTimeZone());
  const int year = static_cast<int>(cs.year());
  const int64_t start = absl::ToUnixSeconds(absl::FromCivil(
      absl::CivilSecond(LastSunday(year, 3)) + 3600, absl::UTCTimeZone()));
  const int64_t end = absl::ToUnixSeconds(absl::FromCivil(
      absl::CivilSecond(LastSunday(year, 10)) + 3600, absl::UTCTimeZone()));
  return (utc_seconds >= start && utc_seconds < end) ? 3600 : 0;
}

TimeForm ResolveLocal(const absl::CivilSecond& local, int64_t* utc) {
  const London& z = LondonZone();
  if (z.from_tzdata) {
    const absl::TimeZone::TimeInfo info = z.tz.At(local);
    *utc = absl::ToUnixSeconds(info.pre);
    switch (info.kind) {
      case absl::TimeZone::TimeInfo::UNIQUE:
        return TimeForm::kLocalUnique;
      case absl::TimeZone::TimeInfo::SKIPPED:
        return TimeForm::kLocalGap;
      case absl::TimeZone::TimeInfo::REPEATED:
        return TimeForm::kLocalOverlap;
    }
    return TimeForm::kLocalUnique;
  }
  // Fallback: try both offsets.
  const int64_t as_utc =
      absl::ToUnixSeconds(absl::FromCivil(local, absl::UTCTimeZone()));
  const bool gmt_ok = UkOffsetAtUtc(as_utc) == 0;
  const bool bst_ok = UkOffsetAtUtc(as_utc - 3600) == 3600;
  if (gmt_ok && bst_ok) {
    *utc = as_utc - 3600;  // earlier occurrence (BST)
    return TimeForm::kLocalOverlap;
  }
  if (bst_ok) {
    *utc = as_utc - 3600;
    return TimeForm::kLocalUnique;
  }
  if (gmt_ok) {
    *utc = as_utc;
    return TimeForm::kLocalUnique;
  }
  *utc = as_utc;  // gap: offset before the change (+00:00)
  return TimeForm::kLocalGap;
}

// Easter Sunday (anonymous Gregorian algorithm).
absl::CivilDay Easter(int y) {
  const int a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4;
  const int f = (b + 8) / 25, g = (b - f + 1) / 3;
  const int h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4, k = c % 4;
  const int l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31;
  const int day = ((h + l - 7 * m + 114) % 31) + 1;
  return absl::CivilDay(y, month, day);
}

absl::CivilDay FirstMonday(int y, int m) {
  absl::CivilDay d(y, m, 1);
  while (Weekday(d) != 0) d += 1;
  return d;
}

absl::CivilDay LastMonday(int y, int m) {
  absl::CivilDay d = absl::CivilDay(y, m + 1, 1) - 1;
  while (Weekday(d) != 0) d -= 1;
  return d;
}

bool IsBankHolidayEngland(const absl::CivilDay& d) {
  const int y = static_cast<int>(d.year());
  // One-off holidays and moves (gov.uk).
  static constexpr int kSpecial[][3] = {
      {2020, 5, 8}, {2022, 6, 2}, {2022, 6, 3}, {2022, 9, 19}, {2023, 5, 8}};
  for (const auto& s : kSpecial) {
    if (d == absl::CivilDay(s[0], s[1], s[2])) return true;
  }
  // New Year's Day, substitute Monday.
  absl::CivilDay ny(y, 1, 1);
  while (Weekday(ny) >= 5) ny += 1;
  if (d == ny) return true;
  const absl::CivilDay easter = Easter(y);
  if (d == easter - 2 || d == easter + 1) return true;
  absl::CivilDay early_may = FirstMonday(y, 5);
  if (y == 2020) early_may = absl::CivilDay(2020, 5, 8);
  if (d == early_may && y != 2020) return true;
  if (d == LastMonday(y, 5) && y != 2022 && y != 2012) return true;
  if (d == LastMonday(y, 8)) return true;
  // Christmas and Boxing Day with substitutes.
  absl::CivilDay xmas(y, 12, 25), boxing(y, 12, 26);
  if (Weekday(xmas) == 5) {  // Saturday
    xmas += 2;
    boxing += 2;
  } else if (Weekday(xmas) == 6) {  // Sunday
    xmas += 2;                      // Tuesday; Boxing Day stays Monday
  } else if (Weekday(boxing) == 5) {
    boxing += 2;
  }
  return d == xmas || d == boxing;
}

}  // namespace

bool IsRealDate(int year, int month, int day) {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) {
    return false;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  int max = kDays[month - 1];
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && leap) max = 29;
  return day <= max;
}

DateForm ParseDate(std::string_view t, CivilDate* out) {
  if (t.size() == 10 && t[4] == '-' && t[7] == '-' &&
      AllDigits(t.substr(0, 4)) && AllDigits(t.substr(5, 2)) &&
      AllDigits(t.substr(8, 2))) {
    *out = {ToInt(t.substr(0, 4)), ToInt(t.substr(5, 2)),
            ToInt(t.substr(8, 2))};
    return IsRealDate(out->year, out->month, out->day) ? DateForm::kIso
                                                       : DateForm::kInvalid;
  }
  if (t.size() == 10 && t[2] == '/' && t[5] == '/' &&
      AllDigits(t.substr(0, 2)) && AllDigits(t.substr(3, 2)) &&
      AllDigits(t.substr(6, 4))) {
    *out = {ToInt(t.substr(6, 4)), ToInt(t.substr(3, 2)),
            ToInt(t.substr(0, 2))};
    return IsRealDate(out->year, out->month, out->day) ? DateForm::kUk
                                                       : DateForm::kInvalid;
  }
  return DateForm::kInvalid;
}

bool ParsePartialDate(std::string_view t, CivilDate* out, int* precision) {
  if (t.size() == 4 && AllDigits(t)) {
    *out = {ToInt(t), 0, 0};
    *precision = 1;
    return out->year >= 1;
  }
  if (t.size() == 7 && t[4] == '-' && AllDigits(t.substr(0, 4)) &&
      AllDigits(t.substr(5, 2))) {
    *out = {ToInt(t.substr(0, 4)), ToInt(t.substr(5, 2)), 0};
    *precision = 2;
    return out->year >= 1 && out->month >= 1 && out->month <= 12;
  }
  *precision = 3;
  return ParseDate(t, out) == DateForm::kIso;
}

TimeForm ParseDateTime(std::string_view t, Instant* out) {
  // YYYY-MM-DDThh:mm:ss
  if (t.size() < 19 || t[4] != '-' || t[7] != '-' || t[10] != 'T' ||
      t[13] != ':' || t[16] != ':') {
    return TimeForm::kInvalid;
  }
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18}) {
    if (t[i] < '0' || t[i] > '9') return TimeForm::kInvalid;
  }
  const int y = ToInt(t.substr(0, 4)), mo = ToInt(t.substr(5, 2)),
            d = ToInt(t.substr(8, 2)), h = ToInt(t.substr(11, 2)),
            mi = ToInt(t.substr(14, 2)), s = ToInt(t.substr(17, 2));
  if (!IsRealDate(y, mo, d) || h > 23 || mi > 59 || s > 59) {
    return TimeForm::kInvalid;
  }
  size_t i = 19;
  int32_t nanos = 0;
  if (i < t.size() && t[i] == '.') {
    ++i;
    int digits = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
      if (digits >= 9) return TimeForm::kInvalid;
      nanos = nanos * 10 + (t[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return TimeForm::kInvalid;
    for (int k = digits; k < 9; ++k) nanos *= 10;
  }
  const absl::CivilSecond civil(y, mo, d, h, mi, s);
  const int64_t as_utc =
      absl::ToUnixSeconds(absl::FromCivil(civil, absl::UTCTimeZone()));
  out->nanos = nanos;
  if (i == t.size()) {
    int64_t utc = 0;
    const TimeForm form = ResolveLocal(civil, &utc);
    out->seconds = utc;
    return form;
  }
  if (t[i] == 'Z' && i + 1 == t.size()) {
    out->seconds = as_utc;
    return TimeForm::kOffset;
  }
  if ((t[i] == '+' || t[i] == '-') && i + 6 == t.size() && t[i + 3] == ':' &&
      AllDigits(t.substr(i + 1, 2)) && AllDigits(t.substr(i + 4, 2))) {
    const int oh = ToInt(t.substr(i + 1, 2)), om = ToInt(t.substr(i + 4, 2));
    if (oh > 23 || om > 59) return TimeForm::kInvalid;
    const int64_t off = (oh * 3600 + om * 60) * (t[i] == '-' ? -1 : 1);
    out->seconds = as_utc - off;
    return TimeForm::kOffset;
  }
  return TimeForm::kInvalid;
}

CivilDate LondonDate(const Instant& instant) {
  const London& z = LondonZone();
  const absl::Time t = absl::FromUnixSeconds(instant.seconds);
  absl::CivilSecond cs;
  if (z.from_tzdata) {
    cs = absl::ToCivilSecond(t, z.tz);
  } else {
    cs = absl::ToCivilSecond(
        absl::FromUnixSeconds(instant.seconds + UkOffsetAtUtc(instant.seconds)),
        absl::UTCTimeZone());
  }
  return {static_cast<int>(cs.year()), cs.month(), cs.day()};
}

bool LondonZoneFromTzdata() { return LondonZone().from_tzdata; }

std::string FormatUtc(const Instant& instant) {
  const absl::CivilSecond cs = absl::ToCivilSecond(
      absl::FromUnixSeconds(instant.seconds), absl::UTCTimeZone());
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ",
                static_cast<int>(cs.year()), cs.month(), cs.day(), cs.hour(),
                cs.minute(), cs.second());
  return buf;
}

Instant NextWorkingDayDeadline(const Instant& submitted) {
  const London& z = LondonZone();
  const absl::TimeZone tz = z.from_tzdata ? z.tz : absl::UTCTimeZone();
  const absl::CivilSecond local =
      absl::ToCivilSecond(absl::FromUnixSeconds(submitted.seconds), tz);
  absl::CivilDay day = absl::CivilDay(local) + 1;
  while (Weekday(day) >= 5 || IsBankHolidayEngland(day)) day += 1;
  const absl::CivilSecond deadline(day.year(), day.month(), day.day(),
                                   local.hour(), local.minute(),
                                   local.second());
  Instant out;
  if (z.from_tzdata) {
    out.seconds = absl::ToUnixSeconds(tz.At(deadline).pre);
  } else {
    int64_t utc = 0;
    ResolveLocal(deadline, &utc);
    out.seconds = utc;
  }
  out.nanos = submitted.nanos;
  return out;
}

NhsNumberResult CheckNhsNumber(std::string_view raw, std::string* normalised) {
  std::string digits;
  bool removed = false;
  for (char c : raw) {
    if (c == ' ' || c == '-') {
      removed = true;
      continue;
    }
    if (c < '0' || c > '9') {
      *normalised = std::string(raw);
      return NhsNumberResult::kInvalid;
    }
    digits.push_back(c);
  }
  *normalised = digits;
  if (digits.size() != 10) {
    *normalised = std::string(raw);
    return NhsNumberResult::kInvalid;
  }
  const int check =
      ::ehx::sdk::NhsCheckDigit(std::string_view(digits).substr(0, 9));
  if (check < 0 || check == 10 || check != digits[9] - '0') {
    return NhsNumberResult::kInvalid;
  }
  if (digits.find_first_not_of(digits[0]) == std::string::npos) {
    return NhsNumberResult::kPlaceholder;
  }
  return removed ? NhsNumberResult::kReformatted : NhsNumberResult::kValid;
}

namespace {
constexpr std::string_view kUpnAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";
}  // namespace

UpnResult CheckUpn(std::string_view raw) {
  UpnResult r;
  r.normalised = std::string(raw);
  for (char& c : r.normalised) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
      r.reformatted = true;
    }
  }
  const std::string& u = r.normalised;
  if (u.size() != 13) return r;
  if (kUpnAlphabet.find(u[0]) == std::string_view::npos) return r;
  for (int k = 1; k < 12; ++k) {
    if (u[k] < '0' || u[k] > '9') return r;
  }
  int last;
  if (u[12] >= '0' && u[12] <= '9') {
    last = u[12] - '0';
  } else {
    const size_t v = kUpnAlphabet.find(u[12]);
    if (v == std::string_view::npos) return r;
    last = static_cast<int>(v);
    r.temporary = true;
  }
  int sum = 0;
  for (int k = 2; k <= 12; ++k) sum += (u[k - 1] - '0') * k;
  sum += last * 13;
  r.valid = kUpnAlphabet[sum % 23] == u[0];
  if (!r.valid) r.temporary = false;
  r.known_la = IsKnownLaCode(std::string_view(u).substr(1, 3));
  return r;
}

bool IsKnownLaCode(std::string_view code) {
  if (code.size() != 3 || !AllDigits(code)) return false;
  const int v = ToInt(code);
  static constexpr int kRanges[][2] = {
      {1, 5},     {201, 213}, {301, 320}, {330, 336}, {340, 344}, {350, 359},
      {370, 373}, {380, 384}, {390, 394}, {420, 420}, {660, 681}, {701, 708},
      {800, 803}, {805, 808}, {810, 813}, {815, 816}, {820, 823}, {825, 826},
      {830, 831}, {835, 837}, {840, 841}, {845, 846}, {850, 852}, {855, 857},
      {860, 861}, {865, 896}, {908, 909}, {916, 916}, {919, 919}, {921, 921},
      {925, 926}, {928, 929}, {931, 931}, {933, 933}, {935, 938}};
  for (const auto& r : kRanges) {
    if (v >= r[0] && v <= r[1]) return true;
  }
  return false;
}

std::string NormalisePostcode(std::string_view raw) {
  std::string s;
  for (char c : raw) {
    if (c == ' ') continue;
    s.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (s.size() < 5 || s.size() > 7) return "";
  const std::string in = s.substr(s.size() - 3);
  const std::string out = s.substr(0, s.size() - 3);
  auto alpha = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!digit(in[0]) || !alpha(in[1]) || !alpha(in[2])) return "";
  size_t i = 0;
  if (!alpha(out[i])) return "";
  ++i;
  if (i < out.size() && alpha(out[i])) ++i;
  if (i >= out.size() || !digit(out[i])) return "";
  ++i;
  if (i < out.size() && (alpha(out[i]) || digit(out[i]))) ++i;
  if (i != out.size()) return "";
  return out + " " + in;
}

std::string NormalisePhone(std::string_view raw) {
  std::string s(raw);
  const size_t zero = s.find("(0)");
  if (s.rfind("+44", 0) == 0 && zero != std::string::npos) s.erase(zero, 3);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ' ' || c == '-' || c == '(' || c == ')') continue;
    if (c == '+' && out.empty()) {
      out.push_back(c);
      continue;
    }
    if (c < '0' || c > '9') return "";
    out.push_back(c);
  }
  if (out.empty()) return "";
  if (out[0] == '0') out = "+44" + out.substr(1);
  if (out[0] != '+') return "";
  return out.size() >= 8 ? out : "";
}

bool IsLaChildId(std::string_view s) {
  if (s.empty() || s.size() > 20) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsRaiseId(std::string_view s) {
  if (s.empty()) return false;
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '.' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
        c == '\f' || c == '\v') {
      return false;
    }
    if ((c & 0xC0) != 0x80) ++chars;
  }
  return chars <= 64;
}

}  // namespace ehx::adapters::raise
