// NHS number and UPN checks for the health adapter (the adapter cannot link
// the gateway's validate library). Pure functions; thread-safe.
#ifndef EHX_ADAPTERS_HEALTH_IDENTIFIERS_H_
#define EHX_ADAPTERS_HEALTH_IDENTIFIERS_H_

#include <string>
#include <string_view>

#include "ehx_sdk/nhs_number.h"

namespace ehx::adapters::health {

inline constexpr std::string_view kNhsNumberSystem =
    "https://fhir.nhs.uk/Id/nhs-number";
inline constexpr std::string_view kLegacyNhsNumberSystem =
    "http://fhir.nhs.net/Id/nhs-number";
inline constexpr std::string_view kUpnSystem = "urn:ehx:id:upn";
inline constexpr std::string_view kNhsVerificationSystem =
    "https://fhir.hl7.org.uk/CodeSystem/"
    "UKCore-NHSNumberVerificationStatusEngland";

// NHS number Modulus 11, shared with the gateway (ehx_sdk/nhs_number.h).
using ::ehx::sdk::NhsNumberCheck;

// Removes spaces and hyphens (the 3-3-4 display form).
std::string NormaliseNhsNumber(std::string_view raw);

using ::ehx::sdk::CheckNhsNumber;
using ::ehx::sdk::NhsCheckDigit;

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
