// NHS number check (NHS Data Dictionary: Modulus 11), shared by the gateway's
// validator and every adapter so that all of them agree on what is valid.
// Header-only, standard library only. Pure functions; thread-safe.
#ifndef EHX_SDK_NHS_NUMBER_H_
#define EHX_SDK_NHS_NUMBER_H_

#include <string_view>

namespace ehx::sdk {

enum class NhsNumberCheck {
  kValid,
  // Not exactly ten ASCII digits.
  kBadFormat,
  // The stem's Modulus 11 check is 10: no check digit can make it valid.
  kImpossibleStem,
  // The tenth digit is not the Modulus 11 check digit.
  kBadCheckDigit,
  // One digit repeated ten times: passes Modulus 11 but is a placeholder.
  kPlaceholder,
};

// Modulus 11 check digit for a nine-digit stem: 0..9, or 10 when no valid
// number has this stem, or -1 when `stem` is not nine ASCII digits.
inline int NhsCheckDigit(std::string_view stem) {
  if (stem.size() != 9) return -1;
  int sum = 0;
  for (int i = 0; i < 9; ++i) {
    if (stem[i] < '0' || stem[i] > '9') return -1;
    sum += (stem[i] - '0') * (10 - i);
  }
  const int check = 11 - sum % 11;
  return check == 11 ? 0 : check;
}

// Checks a normalised NHS number (10 digits, no separators).
inline NhsNumberCheck CheckNhsNumber(std::string_view value) {
  if (value.size() != 10) return NhsNumberCheck::kBadFormat;
  for (char c : value) {
    if (c < '0' || c > '9') return NhsNumberCheck::kBadFormat;
  }
  const int check = NhsCheckDigit(value.substr(0, 9));
  if (check == 10) return NhsNumberCheck::kImpossibleStem;
  if (check != value[9] - '0') return NhsNumberCheck::kBadCheckDigit;
  if (value.find_first_not_of(value[0]) == std::string_view::npos) {
    return NhsNumberCheck::kPlaceholder;
  }
  return NhsNumberCheck::kValid;
}

}  // namespace ehx::sdk

#endif  // EHX_SDK_NHS_NUMBER_H_
