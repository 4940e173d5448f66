// Value rules of the Raise export contract: dates (section 4.2), date-times
// with and without offset (4.3, 4.4), NHS numbers (5.1), UPNs (5.2) and the
// other identifiers (5.3). Pure functions; thread-safe.
#ifndef EHX_ADAPTERS_RAISE_RAISE_VALUES_H_
#define EHX_ADAPTERS_RAISE_RAISE_VALUES_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace ehx::adapters::raise {

// A calendar date.
struct CivilDate {
  int year = 0;
  int month = 0;
  int day = 0;
};

enum class DateForm {
  kIso,      // YYYY-MM-DD
  kUk,       // dd/mm/yyyy, read day first (flag date_uk_format)
  kInvalid,  // anything else, or a day that does not exist
};

// Parses a contract date. Never guesses: "04/01/2027" is 4 January 2027.
DateForm ParseDate(std::string_view text, CivilDate* out);

// A partial date (YYYY, YYYY-MM or YYYY-MM-DD). `precision` is 1, 2 or 3.
bool ParsePartialDate(std::string_view text, CivilDate* out, int* precision);

bool IsRealDate(int year, int month, int day);

// How a date-time was resolved.
enum class TimeForm {
  kOffset,        // carried Z or +-hh:mm
  kLocalUnique,   // no offset; Europe/London; flag datetime_no_offset
  kLocalGap,      // no offset; spring-forward gap; local_time_nonexistent
  kLocalOverlap,  // no offset; autumn overlap; local_time_ambiguous
  kInvalid,
};

// An instant: seconds since the Unix epoch (UTC) and nanoseconds.
struct Instant {
  int64_t seconds = 0;
  int32_t nanos = 0;
};

// Parses an RFC 3339 date-time, or a legacy Europe/London wall-clock time
// without offset resolved as absl::TimeZone::At(civil).pre (contract 4.4:
// gap -> offset before the change, overlap -> earlier occurrence).
TimeForm ParseDateTime(std::string_view text, Instant* out);

// The Europe/London calendar date of an instant.
CivilDate LondonDate(const Instant& instant);

// True when the IANA zone database could be loaded; false means the
// built-in UK rule (last Sunday of March/October, 01:00 UTC) is in use.
bool LondonZoneFromTzdata();

// RFC 3339 UTC text of an instant ("2026-03-29T01:30:00Z").
std::string FormatUtc(const Instant& instant);

// --- NHS number -------------------------------------------------------------

enum class NhsNumberResult {
  kValid,
  kReformatted,  // valid after removing spaces/hyphens
  kPlaceholder,  // ten repeated digits
  kInvalid,      // format, impossible stem (check 10) or wrong check digit
};

// Validates `raw`; `normalised` receives the digits (or `raw` when the
// format is wrong).
NhsNumberResult CheckNhsNumber(std::string_view raw, std::string* normalised);

// --- UPN --------------------------------------------------------------------

struct UpnResult {
  std::string normalised;    // upper-cased
  bool reformatted = false;  // was lower case
  bool valid = false;        // format and check letter
  bool temporary = false;    // last character a letter (valid form)
  bool known_la = false;     // characters 2-4 are a known LA code
};

UpnResult CheckUpn(std::string_view raw);

// True when `code` (3 digits) is in the contract's LA / pseudo-LA list.
bool IsKnownLaCode(std::string_view code);

// --- other identifiers ------------------------------------------------------

// "ZZ1 1ZZ" normal form; empty when the shape is wrong.
std::string NormalisePostcode(std::string_view raw);

// E.164 (+44...) for matching; empty when nothing usable remains.
std::string NormalisePhone(std::string_view raw);

// 1-20 ASCII letters and digits.
bool IsLaChildId(std::string_view s);

// Contract `id`: 1-64 characters, no whitespace, no full stop.
bool IsRaiseId(std::string_view s);

// The next working day deadline (contract 10.4): same clock time on the
// next England working day (Mon-Fri, excluding bank holidays) after
// `submitted`, computed on the Europe/London wall clock.
Instant NextWorkingDayDeadline(const Instant& submitted);

}  // namespace ehx::adapters::raise

#endif  // EHX_ADAPTERS_RAISE_RAISE_VALUES_H_
