// Value rules of the Supporting Families contract: dates (section 6),
// identifiers (section 10), headline outcomes (section 8), code lists
// (section 9). Pure functions; no personal data in any message.
#ifndef EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_VALUES_H_
#define EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_VALUES_H_

#include <optional>
#include <string>
#include <string_view>

namespace ehx::adapters::supporting_families {

// A calendar date (no time zone).
struct Ymd {
  int year = 0;
  int month = 0;
  int day = 0;
  auto operator<=>(const Ymd&) const = default;
};

bool IsValidDate(int year, int month, int day);
// `date` plus `months` calendar months; a day that does not exist becomes
// the last day of that month (31 Aug + 6 = 28/29 Feb).
Ymd AddMonths(Ymd date, int months);
// `date` plus `days` (may be negative).
Ymd AddDays(Ymd date, int days);
// "YYYY-MM-DD".
std::string IsoDate(const Ymd& date);

// What ParseDateValue found.
struct DateValue {
  enum class Status {
    kOk,
    kUnparseable,
  };
  Status status = Status::kUnparseable;
  Ymd date;
  // A date-time value: its time was not 00:00 (flag time_ignored).
  bool time_ignored = false;
  // The local time did not exist / existed twice in Europe/London (clock
  // change): flag dst_nonexistent_local_time / dst_ambiguous_local_time.
  bool dst_nonexistent = false;
  bool dst_ambiguous = false;
};

// Parses `dd/mm/yyyy`, `YYYY-MM-DD` or `dd/mm/yyyy hh:mm[:ss]` (value
// already trimmed), always day first, validating the calendar and the time.
DateValue ParseDateValue(std::string_view value);

// How a local Europe/London wall-clock time maps to UTC.
enum class LondonTimeKind { kUnique, kSkipped, kRepeated };
// Uses absl's time zone database (tzdata); falls back to the UK rule (BST
// from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
// Sunday of October) if Europe/London cannot be loaded.
LondonTimeKind ClassifyLondonTime(int year, int month, int day, int hour,
                                  int minute, int second);
// Same, computed by hand (exposed for tests).
LondonTimeKind ClassifyLondonTimeByRule(int year, int month, int day, int hour,
                                        int minute);

// NHS number (section 10.1).
enum class NhsCheck {
  kValid,
  kBadFormat,       // not 10 digits (after the 3-3-4 spaces are removed)
  kImpossibleStem,  // check would be 10
  kBadCheckDigit,
  kPlaceholder,  // one repeated digit
};
struct NhsNumber {
  std::string normalized;  // spaces removed when in 3-3-4 form
  bool reformatted = false;
  NhsCheck check = NhsCheck::kBadFormat;
};
NhsNumber CheckNhsNumber(std::string_view value);

// Unique Pupil Number (section 10.2).
enum class UpnCheck { kValidPermanent, kValidTemporary, kBadFormat, kBadCheck };
struct Upn {
  std::string normalized;  // upper-cased
  bool reformatted = false;
  UpnCheck check = UpnCheck::kBadFormat;
  std::string la_code;  // characters 2-4
};
Upn CheckUpn(std::string_view value);

// The ten headline outcomes (section 8). `area` is the
// ehx.cases.v1.OutcomeArea number (1..10), 0 when unknown.
struct Headline {
  int area = 0;
  const char* name = "";  // exact official wording
  const char* code = "";  // gateway short code ("education")
  bool case_differs = false;
};
Headline MatchHeadline(std::string_view value);
// The official name of area 1..10 ("" otherwise).
const char* HeadlineName(int area);

// Code lists (section 9).
bool IsRoleInFamily(std::string_view v);
bool IsClaimStatus(std::string_view v);
bool IsSex(std::string_view v);

// Whitespace helpers (ASCII space and tab).
std::string_view Trim(std::string_view s);
// Trims and collapses runs of spaces to one.
std::string CollapseSpaces(std::string_view s);
bool AllDigits(std::string_view s);

}  // namespace ehx::adapters::supporting_families

#endif  // EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_VALUES_H_
