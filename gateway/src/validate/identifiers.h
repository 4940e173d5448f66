// Check-digit algorithms for person identifiers (NHS number, UPN) and
// calendar date checks. Pure functions; thread-safe.
#ifndef EHX_VALIDATE_IDENTIFIERS_H_
#define EHX_VALIDATE_IDENTIFIERS_H_

#include <string_view>

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

// Checks a normalised NHS number (10 digits, no separators).
NhsNumberCheck CheckNhsNumber(std::string_view value);

// Modulus 11 check digit for a nine-digit stem: 0..9, or 10 when no valid
// number has this stem, or -1 when `stem` is not nine ASCII digits.
int NhsCheckDigit(std::string_view stem);

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
