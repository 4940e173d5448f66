#include "validate/identifiers.h"

namespace ehx::validate {
namespace {

constexpr std::string_view kUpnAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Value 0..22 of a UPN alphabet letter, or -1.
int UpnLetterValue(char c) {
  const size_t pos = kUpnAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

}  // namespace

char UpnCheckLetter(std::string_view chars) {
  if (chars.size() != 12) return '\0';
  int sum = 0;
  for (int i = 0; i < 12; ++i) {
    const int weight = i + 2;
    const char c = chars[i];
    int v;
    if (IsDigit(c)) {
      v = c - '0';
    } else if (i == 11 && UpnLetterValue(c) >= 0) {
      v = UpnLetterValue(c);
    } else {
      return '\0';
    }
    sum += v * weight;
  }
  return kUpnAlphabet[sum % 23];
}

UpnCheck CheckUpn(std::string_view value) {
  if (value.size() != 13 || UpnLetterValue(value[0]) < 0) {
    return UpnCheck::kBadFormat;
  }
  const char expected = UpnCheckLetter(value.substr(1));
  if (expected == '\0') return UpnCheck::kBadFormat;
  if (expected != value[0]) return UpnCheck::kBadCheckLetter;
  return IsDigit(value[12]) ? UpnCheck::kValidPermanent
                            : UpnCheck::kValidTemporary;
}

bool IsValidCalendarDate(int year, int month, int day) {
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

}  // namespace ehx::validate
