#include "csc_util.h"

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ehx::adapters::csc {
namespace internal {
int LastSunday(int year, int month);
TimeParse LondonByRules(const absl::CivilSecond& local, int64_t* utc_seconds);
}  // namespace internal
namespace {

TEST(CscUtil, NhsNumberModulus11) {
  EXPECT_EQ(CheckNhsNumber("9990000018"), NhsCheck::kValid);
  EXPECT_EQ(CheckNhsNumber("9434765919"), NhsCheck::kValid);
  EXPECT_EQ(CheckNhsNumber("9990000019"), NhsCheck::kBadCheckDigit);
  // 999001244? has check 10: no valid number exists.
  EXPECT_EQ(CheckNhsNumber("9990012440"), NhsCheck::kImpossibleStem);
  EXPECT_EQ(NhsCheckDigit("999001244"), 10);
  EXPECT_EQ(CheckNhsNumber("999000001"), NhsCheck::kBadFormat);
  EXPECT_EQ(CheckNhsNumber("999000001X"), NhsCheck::kBadFormat);
  EXPECT_EQ(CheckNhsNumber("0000000000"), NhsCheck::kPlaceholder);
  // The published "synthetic" trap values fail.
  EXPECT_EQ(CheckNhsNumber("9111111124"), NhsCheck::kBadCheckDigit);
}

TEST(CscUtil, UpnCheckLetterAndTemporary) {
  EXPECT_EQ(CheckUpn("B801200005001"), UpnCheck::kValidPermanent);
  EXPECT_EQ(CheckUpn("A801200005001"), UpnCheck::kBadCheckLetter);
  // The vendor worked-example trap: P is right, Q is wrong.
  EXPECT_EQ(CheckUpn("P207000016049"), UpnCheck::kValidPermanent);
  EXPECT_EQ(CheckUpn("Q207000016049"), UpnCheck::kBadCheckLetter);
  EXPECT_EQ(CheckUpn("C93541234501A"), UpnCheck::kValidTemporary);
  EXPECT_EQ(CheckUpn("C93541234501"), UpnCheck::kBadFormat);
  EXPECT_EQ(CheckUpn("I935412345001"), UpnCheck::kBadFormat);
  EXPECT_EQ(NormaliseId(" d935-4123 45001 ", true), "D935412345001");
}

TEST(CscUtil, LaChildId) {
  EXPECT_TRUE(ValidLaChildId("CSC100001"));
  EXPECT_TRUE(ValidLaChildId("A2345678901234567890"));
  EXPECT_FALSE(ValidLaChildId("A23456789012345678901"));
  EXPECT_FALSE(ValidLaChildId("CSC-100008"));
  EXPECT_FALSE(ValidLaChildId(""));
}

TEST(CscUtil, Dates) {
  EXPECT_TRUE(ParseIsoDate("2024-02-29"));
  EXPECT_FALSE(ParseIsoDate("2023-02-29"));
  EXPECT_FALSE(ParseIsoDate("2024-02-30"));
  EXPECT_FALSE(ParseIsoDate("29/02/2024"));
  EXPECT_FALSE(ParseIsoDate("2024-2-9"));
  EXPECT_EQ(FormatDate(*ParseIsoDate(" 2024-05-02 ")), "2024-05-02");
}

google::protobuf::Timestamp Ts(const char* s) {
  google::protobuf::Timestamp t;
  EXPECT_EQ(ParseDateTime(s, &t), TimeParse::kOk) << s;
  return t;
}

TEST(CscUtil, DateTimesWithOffsetsAndLondonWallTimes) {
  EXPECT_TRUE(UsingTzdata()) << "tzdata missing: the built-in rules are used";
  EXPECT_EQ(FormatTimestamp(Ts("2024-04-30T16:40:00Z")),
            "2024-04-30T16:40:00Z");
  EXPECT_EQ(FormatTimestamp(Ts("2024-04-30T16:40:00+01:00")),
            "2024-04-30T15:40:00Z");
  // Local wall time: BST in summer, GMT in winter.
  EXPECT_EQ(FormatTimestamp(Ts("2024-04-30T16:40:00")), "2024-04-30T15:40:00Z");
  EXPECT_EQ(FormatTimestamp(Ts("2024-01-15 09:00")), "2024-01-15T09:00:00Z");
  EXPECT_EQ(FormatTimestamp(Ts("2024-01-15T09:00:00.25Z")),
            "2024-01-15T09:00:00.250000000Z");
  google::protobuf::Timestamp t;
  // 2024-03-31 01:30 London does not exist; 2024-10-27 01:30 occurs twice.
  EXPECT_EQ(ParseDateTime("2024-03-31T01:30:00", &t),
            TimeParse::kNonexistentLocal);
  EXPECT_EQ(ParseDateTime("2024-10-27T01:30:00", &t),
            TimeParse::kAmbiguousLocal);
  EXPECT_EQ(ParseDateTime("2024-10-27T01:30:00+00:00", &t), TimeParse::kOk);
  EXPECT_EQ(ParseDateTime("2024-03-31T02:00:00", &t), TimeParse::kOk);
  EXPECT_EQ(FormatTimestamp(t), "2024-03-31T01:00:00Z");
  for (const char* bad :
       {"2024-04-30", "2024-04-30T25:00", "2024-04-30T10:00+1",
        "2024-04-30T10:00:00Zjunk", "", "2024-02-30T10:00"}) {
    EXPECT_EQ(ParseDateTime(bad, &t), TimeParse::kBadFormat) << bad;
  }
}

TEST(CscUtil, BuiltInUkRulesAgreeWithTzdata) {
  EXPECT_EQ(internal::LastSunday(2024, 3), 31);
  EXPECT_EQ(internal::LastSunday(2024, 10), 27);
  EXPECT_EQ(internal::LastSunday(2026, 3), 29);
  absl::TimeZone london;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  // Every 20 minutes through 2023-2026: same instant or same flag.
  for (absl::CivilMinute m(2023, 1, 1, 0, 0); m < absl::CivilMinute(2027, 1, 1);
       m += 20) {
    const absl::CivilSecond s(m);
    int64_t mine = 0;
    const TimeParse r = internal::LondonByRules(s, &mine);
    const auto info = london.At(s);
    switch (info.kind) {
      case absl::TimeZone::TimeInfo::UNIQUE:
        ASSERT_EQ(r, TimeParse::kOk);
        ASSERT_EQ(mine, absl::ToUnixSeconds(info.pre));
        break;
      case absl::TimeZone::TimeInfo::SKIPPED:
        ASSERT_EQ(r, TimeParse::kNonexistentLocal);
        break;
      case absl::TimeZone::TimeInfo::REPEATED:
        ASSERT_EQ(r, TimeParse::kAmbiguousLocal);
        break;
    }
  }
}

TEST(CscUtil, LondonDatesAndMidnights) {
  // 23:30 UTC on 30 April is 00:30 on 1 May in London (BST).
  EXPECT_EQ(LondonDate(Ts("2024-04-30T23:30:00Z")), "2024-05-01");
  EXPECT_EQ(LondonDate(Ts("2024-12-31T23:30:00Z")), "2024-12-31");
  EXPECT_EQ(FormatTimestamp(LondonMidnight(*ParseIsoDate("2024-09-30"))),
            "2024-09-29T23:00:00Z");
  EXPECT_EQ(FormatTimestamp(LondonMidnight(*ParseIsoDate("2024-11-21"))),
            "2024-11-21T00:00:00Z");
}

TEST(CscUtil, StableHashIsStable) {
  EXPECT_EQ(StableHash({"a", "b"}), StableHash({"a", "b"}));
  EXPECT_NE(StableHash({"ab", ""}), StableHash({"a", "b"}));
  EXPECT_EQ(StableHash({""}).size(), 16u);
  EXPECT_EQ(SafeName("R/../x y"), "R____x_y");
}

}  // namespace
}  // namespace ehx::adapters::csc
