#include "identifiers.h"

namespace ehx::adapters::health {

std::string NormaliseNhsNumber(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    if (c != ' ' && c != '-') out.push_back(c);
  }
  return out;
}

const char* NhsRule(NhsNumberCheck check) {
  switch (check) {
    case NhsNumberCheck::kValid:
      return "";
    case NhsNumberCheck::kBadFormat:
      return "nhs_number_format";
    case NhsNumberCheck::kImpossibleStem:
      return "nhs_number_impossible_stem";
    case NhsNumberCheck::kBadCheckDigit:
      return "nhs_number_modulus11";
    case NhsNumberCheck::kPlaceholder:
      return "nhs_number_placeholder";
  }
  return "nhs_number_format";
}

namespace {
constexpr std::string_view kUpnAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";
}  // namespace

UpnCheck CheckUpn(std::string_view v) {
  if (v.size() != 13) return UpnCheck::kBadFormat;
  if (kUpnAlphabet.find(v[0]) == std::string_view::npos) {
    return UpnCheck::kBadFormat;
  }
  for (size_t i = 1; i < 12; ++i) {
    if (v[i] < '0' || v[i] > '9') return UpnCheck::kBadFormat;
  }
  const char last = v[12];
  const bool temporary = last >= 'A' && last <= 'Z';
  if (temporary && kUpnAlphabet.find(last) == std::string_view::npos) {
    return UpnCheck::kBadFormat;
  }
  if (!temporary && (last < '0' || last > '9')) return UpnCheck::kBadFormat;
  // Weights 2..13 for characters 2..13; a letter in position 13 counts as
  // its index in the alphabet.
  int sum = 0;
  for (size_t i = 1; i < 13; ++i) {
    int value = 0;
    if (v[i] >= '0' && v[i] <= '9') {
      value = v[i] - '0';
    } else {
      value = static_cast<int>(kUpnAlphabet.find(v[i]));
    }
    sum += value * static_cast<int>(i + 1);
  }
  if (kUpnAlphabet[sum % 23] != v[0]) return UpnCheck::kBadCheckLetter;
  return temporary ? UpnCheck::kValidTemporary : UpnCheck::kValidPermanent;
}

}  // namespace ehx::adapters::health
