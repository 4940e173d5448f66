// NHS number and UPN checks for the health adapter (the adapter cannot link
// the gateway's validate library). Pure functions; thread-safe.
#ifndef EHX_ADAPTERS_HEALTH_IDENTIFIERS_H_
#define EHX_ADAPTERS_HEALTH_IDENTIFIERS_H_

#include <string>
#include <string_view>

namespace ehx::adapters::health {

inline constexpr std::string_view kNhsNumberSystem =
    "https://fhir.nhs.uk/Id/nhs-number";
inline constexpr std::string_view kLegacyNhsNumberSystem =
    "http://fhir.nhs.net/Id/nhs-number";
inline constexpr std::string_view kUpnSystem = "urn:ehx:id:upn";
inline constexpr std::string_view kNhsVerificationSystem =
    "https://fhir.hl7.org.uk/CodeSystem/"
    "UKCore-NHSNumberVerificationStatusEngland";

enum class NhsNumberCheck {
  kValid,
  kBadFormat,       // not 10 ASCII digits after removing spaces/hyphens
  kImpossibleStem,  // Modulus 11 check of the stem is 10
  kBadCheckDigit,   // tenth digit is not the check digit
  kPlaceholder,     // one digit repeated ten times
};

// Removes spaces and hyphens (the 3-3-4 display form).
std::string NormaliseNhsNumber(std::string_view raw);

// Checks a normalised NHS number.
NhsNumberCheck CheckNhsNumber(std::string_view value);

// Modulus 11 check digit of a nine-digit stem: 0..9, 10 when impossible,
// -1 when the stem is not nine digits.
int NhsCheckDigit(std::string_view stem);

// Stable rule id for a failed check ("nhs_number_format", ...); "" if valid.
const char* NhsRule(NhsNumberCheck check);

enum class UpnCheck {
  kValidPermanent,
  kValidTemporary,
  kBadFormat,
  kBadCheckLetter
};

// Checks a UPN (upper-cased, spaces removed by the caller).
UpnCheck CheckUpn(std::string_view value);

}  // namespace ehx::adapters::health

#endif  // EHX_ADAPTERS_HEALTH_IDENTIFIERS_H_
