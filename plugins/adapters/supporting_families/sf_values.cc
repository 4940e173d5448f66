#include "sf_values.h"

#include <cctype>
#include <cstring>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "ehx_sdk/nhs_number.h"

namespace ehx::adapters::supporting_families {
namespace {

int Digits(std::string_view s, size_t pos, size_t len) {
  int v = 0;
  for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

bool DigitsAt(std::string_view s, size_t pos, size_t len) {
  if (pos + len > s.size()) return false;
  for (size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Day of week, 0 = Sunday (Sakamoto).
int DayOfWeek(int y, int m, int d) {
  static constexpr int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
  if (m < 3) y -= 1;
  return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

int LastSunday(int y, int m) {
  int d = DaysInMonth(y, m);
  return d - DayOfWeek(y, m, d);
}

constexpr char kUpnAlphabet[] = "ABCDEFGHJKLMNPQRTUVWXYZ";

int UpnLetterValue(char c) {
  const char* p = std::strchr(kUpnAlphabet, c);
  return (p == nullptr || c == '\0') ? -1 : static_cast<int>(p - kUpnAlphabet);
}

struct HeadlineDef {
  int area;
  const char* name;
  const char* code;
};
constexpr HeadlineDef kHeadlines[] = {
    {1, "Getting a good education", "education"},
    {2, "Good early years development", "early_years"},
    {3, "Improved mental and physical health", "health"},
    {4, "Better managed substance use", "substance_use"},
    {5, "Improved family relationships", "family_relationships"},
    {6, "Children safe from abuse and exploitation", "abuse_exploitation"},
    {7, "Families diverted from crime", "crime"},
    {8, "Safe from domestic abuse", "domestic_abuse"},
    {9, "Secure housing", "housing"},
    {10, "Financial stability", "financial_stability"},
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsValidDate(int year, int month, int day) {
  return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 &&
         day <= DaysInMonth(year, month);
}

Ymd AddMonths(Ymd date, int months) {
  int total = date.year * 12 + (date.month - 1) + months;
  Ymd out{total / 12, total % 12 + 1, date.day};
  const int dim = DaysInMonth(out.year, out.month);
  if (out.day > dim) out.day = dim;
  return out;
}

Ymd AddDays(Ymd date, int days) {
  const absl::CivilDay d =
      absl::CivilDay(date.year, date.month, date.day) + days;
  return Ymd{static_cast<int>(d.year()), d.month(), d.day()};
}

std::string IsoDate(const Ymd& d) {
  // By hand: snprintf was a fifth of the tracker's mapping time.
  if (d.year < 0 || d.year > 9999 || d.month < 0 || d.month > 99 || d.day < 0 ||
      d.day > 99) {
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", d.year, d.month, d.day);
    return buf;
  }
  std::string out(10, '-');
  out[0] = static_cast<char>('0' + d.year / 1000);
  out[1] = static_cast<char>('0' + d.year / 100 % 10);
  out[2] = static_cast<char>('0' + d.year / 10 % 10);
  out[3] = static_cast<char>('0' + d.year % 10);
  out[5] = static_cast<char>('0' + d.month / 10);
  out[6] = static_cast<char>('0' + d.month % 10);
  out[8] = static_cast<char>('0' + d.day / 10);
  out[9] = static_cast<char>('0' + d.day % 10);
  return out;
}

LondonTimeKind ClassifyLondonTimeByRule(int year, int month, int day, int hour,
                                        int minute) {
  (void)minute;
  if (month == 3 && day == LastSunday(year, 3) && hour == 1) {
    return LondonTimeKind::kSkipped;  // 01:00-01:59 local do not exist
  }
  if (month == 10 && day == LastSunday(year, 10) && hour == 1) {
    return LondonTimeKind::kRepeated;  // 01:00-01:59 local happen twice
  }
  return LondonTimeKind::kUnique;
}

LondonTimeKind ClassifyLondonTime(int year, int month, int day, int hour,
                                  int minute, int second) {
  static const absl::TimeZone* tz = [] {
    auto* z = new absl::TimeZone();
    if (!absl::LoadTimeZone("Europe/London", z)) {
      delete z;
      return static_cast<absl::TimeZone*>(nullptr);
    }
    return z;
  }();
  if (tz == nullptr) {
    return ClassifyLondonTimeByRule(year, month, day, hour, minute);
  }
  const absl::TimeZone::TimeInfo info =
      tz->At(absl::CivilSecond(year, month, day, hour, minute, second));
  switch (info.kind) {
    case absl::TimeZone::TimeInfo::SKIPPED:
      return LondonTimeKind::kSkipped;
    case absl::TimeZone::TimeInfo::REPEATED:
      return LondonTimeKind::kRepeated;
    default:
      return LondonTimeKind::kUnique;
  }
}

DateValue ParseDateValue(std::string_view v) {
  DateValue out;
  int y = 0, m = 0, d = 0;
  int hh = 0, mm = 0, ss = 0;
  bool has_time = false;
  if (v.size() == 10 && DigitsAt(v, 0, 4) && v[4] == '-' && DigitsAt(v, 5, 2) &&
      v[7] == '-' && DigitsAt(v, 8, 2)) {
    y = Digits(v, 0, 4);
    m = Digits(v, 5, 2);
    d = Digits(v, 8, 2);
  } else if (v.size() >= 10 && DigitsAt(v, 0, 2) && v[2] == '/' &&
             DigitsAt(v, 3, 2) && v[5] == '/' && DigitsAt(v, 6, 4)) {
    d = Digits(v, 0, 2);
    m = Digits(v, 3, 2);
    y = Digits(v, 6, 4);
    if (v.size() != 10) {
      // " hh:mm" or " hh:mm:ss"
      const bool hm = v.size() == 16 && v[10] == ' ' && DigitsAt(v, 11, 2) &&
                      v[13] == ':' && DigitsAt(v, 14, 2);
      const bool hms = v.size() == 19 && v[10] == ' ' && DigitsAt(v, 11, 2) &&
                       v[13] == ':' && DigitsAt(v, 14, 2) && v[16] == ':' &&
                       DigitsAt(v, 17, 2);
      if (!hm && !hms) return out;
      hh = Digits(v, 11, 2);
      mm = Digits(v, 14, 2);
      ss = hms ? Digits(v, 17, 2) : 0;
      if (hh > 23 || mm > 59 || ss > 59) return out;
      has_time = true;
    }
  } else {
    return out;
  }
  if (!IsValidDate(y, m, d)) return out;
  out.status = DateValue::Status::kOk;
  out.date = Ymd{y, m, d};
  if (has_time) {
    out.time_ignored = hh != 0 || mm != 0 || ss != 0;
    switch (ClassifyLondonTime(y, m, d, hh, mm, ss)) {
      case LondonTimeKind::kSkipped:
        out.dst_nonexistent = true;
        break;
      case LondonTimeKind::kRepeated:
        out.dst_ambiguous = true;
        break;
      default:
        break;
    }
  }
  return out;
}

NhsNumber CheckNhsNumber(std::string_view value) {
  NhsNumber out;
  std::string v(value);
  if (v.size() == 12 && v[3] == ' ' && v[7] == ' ' &&
      AllDigits(std::string_view(v).substr(0, 3)) &&
      AllDigits(std::string_view(v).substr(4, 3)) &&
      AllDigits(std::string_view(v).substr(8, 4))) {
    v = v.substr(0, 3) + v.substr(4, 3) + v.substr(8, 4);
    out.reformatted = true;
  }
  out.normalized = v;
  if (v.size() != 10 || !AllDigits(v)) {
    out.check = NhsCheck::kBadFormat;
    return out;
  }
  const int check = ::ehx::sdk::NhsCheckDigit(std::string_view(v).substr(0, 9));
  if (check == 10) {
    out.check = NhsCheck::kImpossibleStem;
    return out;
  }
  if (check != v[9] - '0') {
    out.check = NhsCheck::kBadCheckDigit;
    return out;
  }
  out.check = v.find_first_not_of(v[0]) == std::string::npos
                  ? NhsCheck::kPlaceholder
                  : NhsCheck::kValid;
  return out;
}

Upn CheckUpn(std::string_view value) {
  Upn out;
  out.normalized.assign(value);
  for (char& c : out.normalized) {
    const char u =
        static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (u != c) out.reformatted = true;
    c = u;
  }
  const std::string& v = out.normalized;
  if (v.size() != 13 || UpnLetterValue(v[0]) < 0 ||
      !AllDigits(std::string_view(v).substr(1, 11))) {
    out.check = UpnCheck::kBadFormat;
    return out;
  }
  const bool temporary = !(v[12] >= '0' && v[12] <= '9');
  if (temporary && UpnLetterValue(v[12]) < 0) {
    out.check = UpnCheck::kBadFormat;
    return out;
  }
  out.la_code = v.substr(1, 3);
  int sum = 0;
  for (int k = 2; k <= 13; ++k) {
    const char c = v[k - 1];
    const int value_k = (c >= '0' && c <= '9') ? c - '0' : UpnLetterValue(c);
    sum += value_k * k;
  }
  if (kUpnAlphabet[sum % 23] != v[0]) {
    out.check = UpnCheck::kBadCheck;
    return out;
  }
  out.check = temporary ? UpnCheck::kValidTemporary : UpnCheck::kValidPermanent;
  return out;
}

Headline MatchHeadline(std::string_view value) {
  const std::string v = CollapseSpaces(value);
  for (const auto& h : kHeadlines) {
    if (v == h.name) return Headline{h.area, h.name, h.code, false};
  }
  for (const auto& h : kHeadlines) {
    if (EqualsIgnoreCase(v, h.name))
      return Headline{h.area, h.name, h.code, true};
  }
  return Headline{};
}

const char* HeadlineName(int area) {
  for (const auto& h : kHeadlines) {
    if (h.area == area) return h.name;
  }
  return "";
}

bool IsRoleInFamily(std::string_view v) {
  for (const char* r :
       {"child", "resident_parent", "non_resident_parent", "resident_carer",
        "other_household_member", "other_family_member"}) {
    if (v == r) return true;
  }
  return false;
}

bool IsClaimStatus(std::string_view v) {
  for (const char* r :
       {"in_progress", "claimable", "claimed", "not_claimable_stepped_up",
        "not_claimable_outcome_not_met", "not_claimable_not_sustained",
        "not_claimable_ineligible", "not_claimable_other"}) {
    if (v == r) return true;
  }
  return false;
}

bool IsSex(std::string_view v) { return v == "M" || v == "F" || v == "U"; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string CollapseSpaces(std::string_view s) {
  s = Trim(s);
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace ehx::adapters::supporting_families
