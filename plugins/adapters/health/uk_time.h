// Date and time parsing for health messages, with Europe/London local times
// checked against the clock changes: a local time that does not exist (the
// spring-forward hour) or occurs twice (the autumn hour) is reported, never
// guessed. Thread-safe.
#ifndef EHX_ADAPTERS_HEALTH_UK_TIME_H_
#define EHX_ADAPTERS_HEALTH_UK_TIME_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace ehx::adapters::health {

enum class LocalTimeKind { kUnique, kNonexistent, kAmbiguous };

// Converts a Europe/London civil time to UTC seconds since the epoch. Uses
// absl::LoadTimeZone("Europe/London") (tzdata) when available, else the UK
// rule (BST from 01:00 UTC on the last Sunday of March to 01:00 UTC on the
// last Sunday of October; `force_rules` selects it for tests). For
// kNonexistent/kAmbiguous `*utc` is left unchanged.
LocalTimeKind LondonToUtc(int year, int month, int day, int hour, int minute,
                          int second, int64_t* utc, bool force_rules = false);

// True when tzdata's Europe/London could be loaded.
bool LondonZoneLoaded();

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int year, int month, int day);

// True for a real calendar date with 1900 <= year <= 9999.
bool IsValidDate(int year, int month, int day);

// The outcome of parsing a date or date-time field.
struct TimeValue {
  // "" when ok; else a rule id: "date_invalid", "datetime_invalid",
  // "dst_nonexistent_local_time", "dst_ambiguous_local_time".
  std::string rule;
  // The calendar date as written (valid when rule is "" or a dst_ rule).
  int year = 0, month = 0, day = 0;
  // True when the value carried a time of day.
  bool has_time = false;
  // True when the value carried an explicit UTC offset or 'Z'.
  bool has_offset = false;
  // The instant (only when has_time and rule is "").
  int64_t seconds = 0;
  int32_t nanos = 0;
};

// HL7 v2 TS/DTM: YYYY[MM[DD[HH[MM[SS[.S{1,4}]]]]]][+/-ZZZZ]. Without an
// offset the time is Europe/London local time. A value shorter than a full
// date is "date_invalid" (partial dates are not carried).
TimeValue ParseHl7Time(std::string_view text);

// FHIR date / dateTime / instant: YYYY-MM-DD[Thh:mm:ss[.fff](Z|+hh:mm)].
// A time without an offset is taken as Europe/London local time (lenient:
// FHIR requires the offset). Partial dates (YYYY, YYYY-MM) are
// "date_invalid".
TimeValue ParseFhirTime(std::string_view text);

// RFC 3339 UTC text "YYYY-MM-DDThh:mm:ssZ" of `seconds`.
std::string FormatUtc(int64_t seconds);

}  // namespace ehx::adapters::health

#endif  // EHX_ADAPTERS_HEALTH_UK_TIME_H_
