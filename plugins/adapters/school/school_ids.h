// Identifier checks, dates and Europe/London local times for the school
// adapter. Pure functions; thread-safe. The adapter cannot link the
// gateway's validator (plugins depend on the SDK only), so the UPN and NHS
// number algorithms are implemented here and cross-checked against the
// gateway's in tests/adapters/school.
#ifndef EHX_ADAPTERS_SCHOOL_SCHOOL_IDS_H_
#define EHX_ADAPTERS_SCHOOL_SCHOOL_IDS_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "ehx_sdk/nhs_number.h"

namespace ehx::adapters::school {

enum class UpnKind {
  kPermanent,       // letter + 12 digits, check letter right
  kTemporary,       // letter + 11 digits + letter, check letter right
  kBadFormat,       // wrong length or characters
  kBadCheckLetter,  // check letter does not match characters 2-13
};

// Upper case, spaces and hyphens removed.
std::string NormaliseUpn(std::string_view raw);
// The mod-23 check letter over characters 2-13, or '\0' when malformed.
char UpnCheckLetter(std::string_view chars_2_to_13);
// Checks a normalised UPN.
UpnKind CheckUpn(std::string_view upn);

// NHS number Modulus 11, shared with the gateway (ehx_sdk/nhs_number.h).
using NhsKind = ::ehx::sdk::NhsNumberCheck;

// Digits only (spaces and hyphens removed; anything else kept so that the
// check fails on format).
std::string NormaliseNhs(std::string_view raw);
using ::ehx::sdk::NhsCheckDigit;
inline NhsKind CheckNhs(std::string_view nhs) {
  return ::ehx::sdk::CheckNhsNumber(nhs);
}

struct CivilDate {
  int year = 0, month = 0, day = 0;
};

// Strict "YYYY-MM-DD" that exists in the calendar (1900..9999).
std::optional<CivilDate> ParseIsoDate(std::string_view s);
bool IsValidDate(int year, int month, int day);

enum class LocalTimeKind {
  kUnique,
  kNonexistent,  // skipped at the spring clock change
  kAmbiguous,    // occurs twice at the autumn clock change
  kInvalid,      // not YYYY-MM-DDThh:mm:ss[.fff] or not a real date/time
};

struct LocalTimeResult {
  LocalTimeKind kind = LocalTimeKind::kInvalid;
  int64_t unix_seconds = 0;  // set for kUnique
  CivilDate date;            // set unless kInvalid
};

// Interprets a CTF DateTime (no offset; local Europe/London time). A time
// with an explicit "Z" or +hh:mm offset is taken as given. Uses
// absl::LoadTimeZone("Europe/London"); when tzdata is missing it falls
// back to the UK rules computed by hand (see LondonOffsetByRule).
LocalTimeResult ParseLondonDateTime(std::string_view s);

// The hand-computed rule (since 1996): BST (UTC+1) from 01:00 UTC on the
// last Sunday of March to 01:00 UTC on the last Sunday of October.
// Classifies a local civil time; exposed for tests.
LocalTimeResult LondonByRule(int year, int month, int day, int hour, int minute,
                             int second);

// Midnight (00:00 local) of `date` in Europe/London, as Unix seconds.
// Midnight always exists and is unique in the UK.
int64_t LondonMidnight(const CivilDate& date);

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t DaysFromCivil(int y, int m, int d);

// FNV-1a 64 over the parts, with a separator: stable across builds.
uint64_t Fnv1a64(std::initializer_list<std::string_view> parts);
// 16 lower-case hex digits.
std::string Hex64(uint64_t v);

}  // namespace ehx::adapters::school

#endif  // EHX_ADAPTERS_SCHOOL_SCHOOL_IDS_H_
