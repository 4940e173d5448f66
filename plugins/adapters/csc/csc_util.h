// Small pure helpers of the CSC adapter: identifier checks, dates and
// Europe/London local times, stable hashes. Thread-safe, no I/O, no
// exceptions.
#ifndef EHX_PLUGINS_ADAPTERS_CSC_CSC_UTIL_H_
#define EHX_PLUGINS_ADAPTERS_CSC_CSC_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ehx_adapter_protos.h"
#include "ehx_sdk/nhs_number.h"

namespace ehx::adapters::csc {

inline constexpr char kNhsSystem[] = "https://fhir.nhs.uk/Id/nhs-number";
inline constexpr char kLegacyNhsSystem[] = "http://fhir.nhs.net/Id/nhs-number";
inline constexpr char kUpnSystem[] = "urn:ehx:id:upn";
inline constexpr char kFormerUpnSystem[] = "urn:ehx:id:former-upn";
inline constexpr char kLaChildIdSystem[] = "urn:ehx:id:la-child-id";
inline constexpr char kReasonForClosureSystem[] =
    "urn:ehx:code:cin-census:reason-for-closure";
inline constexpr char kReferralSourceSystem[] =
    "urn:ehx:code:cin-census:referral-source";
inline constexpr char kSexSystem[] = "urn:ehx:code:cin-census:sex";
inline constexpr char kEthnicitySystem[] = "urn:ehx:code:cin-census:ethnicity";
inline constexpr char kDisabilitySystem[] =
    "urn:ehx:code:cin-census:disability";
inline constexpr char kPrimaryNeedSystem[] =
    "urn:ehx:code:cin-census:primary-need";

// NHS number Modulus 11, shared with the gateway (ehx_sdk/nhs_number.h).
using NhsCheck = ::ehx::sdk::NhsNumberCheck;
using ::ehx::sdk::CheckNhsNumber;
using ::ehx::sdk::NhsCheckDigit;

enum class UpnCheck {
  kValidPermanent,
  kValidTemporary,
  kBadFormat,
  kBadCheckLetter
};
// Checks a normalised (upper-case) UPN, mod-23 check letter.
UpnCheck CheckUpn(std::string_view value);

// 1-20 ASCII letters and digits (CIN rules 1570/1580).
bool ValidLaChildId(std::string_view value);

// Removes spaces and hyphens; upper-cases ASCII letters when `upper`.
std::string NormaliseId(std::string_view raw, bool upper);

// Trims ASCII whitespace at both ends.
std::string_view Trim(std::string_view s);

// Strict "YYYY-MM-DD" (a real calendar date, year 1900..9999).
std::optional<ehxpb::cases::v1::Date> ParseIsoDate(std::string_view s);
std::string FormatDate(const ehxpb::cases::v1::Date& d);

// Result of reading a date-time.
enum class TimeParse {
  kOk,
  kBadFormat,
  kNonexistentLocal,  // a Europe/London wall time skipped at the clock change
  kAmbiguousLocal,    // a Europe/London wall time that occurs twice
};
// Parses "YYYY-MM-DDTHH:MM[:SS[.fff]]" followed by "Z", "+HH:MM" / "-HH:MM"
// (an instant), or nothing (a Europe/London wall time, which must exist and
// be unambiguous: it is flagged, never guessed). A space is accepted in
// place of 'T'.
TimeParse ParseDateTime(std::string_view s, google::protobuf::Timestamp* out);
// RFC 3339 UTC ("2026-03-29T00:30:00Z"; fractional seconds if any).
std::string FormatTimestamp(const google::protobuf::Timestamp& t);
// Midnight Europe/London of `d`, as an instant.
google::protobuf::Timestamp LondonMidnight(const ehxpb::cases::v1::Date& d);
// The Europe/London calendar date of an instant, "YYYY-MM-DD".
std::string LondonDate(const google::protobuf::Timestamp& t);
// Whether the zone database was used (false: the built-in UK rules).
bool UsingTzdata();

// FNV-1a 64 over the parts (separated by NUL), as 16 lower-case hex digits.
// Stable across builds and platforms: used in idempotency keys and names.
std::string StableHash(std::initializer_list<std::string_view> parts);

// Keeps [A-Za-z0-9_-]; anything else becomes '_'.
std::string SafeName(std::string_view s);

}  // namespace ehx::adapters::csc

#endif  // EHX_PLUGINS_ADAPTERS_CSC_CSC_UTIL_H_
