// Canary generators shared by the canary tests (logs/audit and at rest).
#ifndef EHX_TESTS_INTEGRATION_CANARY_UTIL_H_
#define EHX_TESTS_INTEGRATION_CANARY_UTIL_H_

#include <string>
#include <vector>

namespace ehx::testing {

// NHS numbers from the 999 test range with a correct Modulus 11 check digit.
inline std::vector<std::string> ValidNhsNumbers(int n) {
  std::vector<std::string> out;
  for (int stem = 123457; static_cast<int>(out.size()) < n; stem += 7) {
    std::string s = "999" + std::to_string(stem);
    int sum = 0;
    for (int i = 0; i < 9; ++i) sum += (s[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    if (check == 10) continue;
    out.push_back(s + std::to_string(check));
  }
  return out;
}

// A distinctive given name and family name for canary `i` (non-ASCII, so
// the UTF-8 encoding is exercised).
inline std::string CanaryGiven(int i) {
  return "Qzanary" + std::to_string(1000 + i) + "\xc3\xab";  // "ë"
}
inline std::string CanaryFamily(int i) {
  return "Wi\xc5\x9bniewski-Kx" + std::to_string(7000 + i);  // "ś"
}

}  // namespace ehx::testing

#endif  // EHX_TESTS_INTEGRATION_CANARY_UTIL_H_
