// Check-digit algorithms for person identifiers (NHS number, UPN) and
// calendar date checks. Pure functions; thread-safe.
#ifndef EHX_VALIDATE_IDENTIFIERS_H_
#define EHX_VALIDATE_IDENTIFIERS_H_

#include <string_view>

#include "ehx_sdk/nhs_number.h"

namespace ehx::validate {

// Identifier systems (see protos/README.md).
inline constexpr std::string_view kNhsNumberSystem =
    "https://fhir.nhs.uk/Id/nhs-number";
// Pre-UK Core (CareConnect) NHS number namespace, accepted on input.
inline constexpr std::string_view kLegacyNhsNumberSystem =
    "http://fhir.nhs.net/Id/nhs-number";
inline constexpr std::string_view kUpnSystem = "urn:ehx:id:upn";
inline constexpr std::string_view kFormerUpnSystem = "urn:ehx:id:former-upn";
inline constexpr std::string_view kLaChildIdSystem = "urn:ehx:id:la-child-id";

// NHS number Modulus 11: one implementation for the gateway and every
// adapter (plugins/sdk/ehx_sdk/nhs_number.h).
using ::ehx::sdk::CheckNhsNumber;
using ::ehx::sdk::NhsCheckDigit;
using ::ehx::sdk::NhsNumberCheck;

enum class UpnCheck {
  // Letter + 12 digits, check letter right.
  kValidPermanent,
  // Letter + 11 digits + letter, check letter right.
  kValidTemporary,
  // Wrong length or characters (including lower case, I, O, S).
  kBadFormat,
  // Check letter does not match characters 2-13.
  kBadCheckLetter,
};

// Checks a normalised UPN (13 characters, upper case).
UpnCheck CheckUpn(std::string_view value);

// The mod-23 check letter for UPN characters 2-13 (12 characters: 11 digits
// then a digit or a UPN alphabet letter), or '\0' when malformed.
char UpnCheckLetter(std::string_view chars_2_to_13);

// True when year/month/day is a real calendar date with 1900 <= year <= 9999.
bool IsValidCalendarDate(int year, int month, int day);

}  // namespace ehx::validate

#endif  // EHX_VALIDATE_IDENTIFIERS_H_
