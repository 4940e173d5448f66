// NHS number (Modulus 11), UPN (mod-23 check letter) and calendar dates.
#include "validate/identifiers.h"

#include <string>

#include "gtest/gtest.h"

namespace ehx::validate {
namespace {

TEST(NhsNumberTest, PublishedExampleIsValid) {
  EXPECT_EQ(CheckNhsNumber("9434765919"), NhsNumberCheck::kValid);
  EXPECT_EQ(NhsCheckDigit("943476591"), 9);
}

TEST(NhsNumberTest, TestRangeNumbersWithComputedCheckDigits) {
  // 999000001: 9*10 + 9*9 + 9*8 + 1*2 = 245, 245 % 11 = 3, check 8.
  EXPECT_EQ(NhsCheckDigit("999000001"), 8);
  for (const char* n : {"9990000018", "9990000026", "9990000034", "9990000042",
                        "9990000050", "9990000069"}) {
    EXPECT_EQ(CheckNhsNumber(n), NhsNumberCheck::kValid) << n;
  }
}

TEST(NhsNumberTest, CheckElevenBecomesZero) {
  // A remainder of 0 gives 11 - 0 = 11, written as check digit 0.
  for (int i = 0; i < 1000; ++i) {
    std::string stem = "999000" + std::to_string(100 + i).substr(0, 3);
    const int check = NhsCheckDigit(stem);
    ASSERT_GE(check, 0);
    ASSERT_LE(check, 10);
    if (check == 0) {
      EXPECT_EQ(CheckNhsNumber(stem + "0"), NhsNumberCheck::kValid) << stem;
      return;
    }
  }
  FAIL() << "no stem with check digit 0 found";
}

TEST(NhsNumberTest, WrongCheckDigit) {
  EXPECT_EQ(CheckNhsNumber("9990000019"), NhsNumberCheck::kBadCheckDigit);
  // A published "synthetic" list carries these; both fail Modulus 11.
  EXPECT_EQ(CheckNhsNumber("9111111124"), NhsNumberCheck::kBadCheckDigit);
  EXPECT_EQ(CheckNhsNumber("9222222228"), NhsNumberCheck::kBadCheckDigit);
}

TEST(NhsNumberTest, StemWithCheckTenIsNeverValid) {
  EXPECT_EQ(NhsCheckDigit("999000014"), 10);
  EXPECT_EQ(NhsCheckDigit("999001244"), 10);
  for (char d = '0'; d <= '9'; ++d) {
    EXPECT_EQ(CheckNhsNumber(std::string("999000014") + d),
              NhsNumberCheck::kImpossibleStem);
  }
}

TEST(NhsNumberTest, Format) {
  EXPECT_EQ(CheckNhsNumber(""), NhsNumberCheck::kBadFormat);
  EXPECT_EQ(CheckNhsNumber("999000001"), NhsNumberCheck::kBadFormat);
  EXPECT_EQ(CheckNhsNumber("99900000180"), NhsNumberCheck::kBadFormat);
  EXPECT_EQ(CheckNhsNumber("999 000 0018"), NhsNumberCheck::kBadFormat);
  EXPECT_EQ(CheckNhsNumber("999-000-001"), NhsNumberCheck::kBadFormat);
  EXPECT_EQ(CheckNhsNumber("99900000l8"), NhsNumberCheck::kBadFormat);
  EXPECT_EQ(NhsCheckDigit("99900000x"), -1);
}

TEST(NhsNumberTest, RepeatedDigitIsPlaceholder) {
  EXPECT_EQ(CheckNhsNumber("9999999999"), NhsNumberCheck::kPlaceholder);
  EXPECT_EQ(CheckNhsNumber("0000000000"), NhsNumberCheck::kPlaceholder);
}

TEST(UpnTest, WorkedExamples) {
  EXPECT_EQ(CheckUpn("B801200005001"), UpnCheck::kValidPermanent);
  EXPECT_EQ(CheckUpn("A801200005001"), UpnCheck::kBadCheckLetter);
  EXPECT_EQ(CheckUpn("B80120000501T"), UpnCheck::kValidTemporary);
  EXPECT_EQ(CheckUpn("C80120000501T"), UpnCheck::kBadCheckLetter);
  // The vendor help-page example sums to 266 -> P, not Q.
  EXPECT_EQ(CheckUpn("P207000016049"), UpnCheck::kValidPermanent);
  EXPECT_EQ(CheckUpn("Q207000016049"), UpnCheck::kBadCheckLetter);
  EXPECT_EQ(UpnCheckLetter("801200005001"), 'B');
  EXPECT_EQ(UpnCheckLetter("80120000501T"), 'B');
}

TEST(UpnTest, CorpusValues) {
  EXPECT_EQ(CheckUpn("R820999925001"), UpnCheck::kValidPermanent);
  EXPECT_EQ(CheckUpn("T82099992501K"), UpnCheck::kValidTemporary);
}

TEST(UpnTest, Format) {
  EXPECT_EQ(CheckUpn(""), UpnCheck::kBadFormat);
  EXPECT_EQ(CheckUpn("B80120000500"), UpnCheck::kBadFormat);
  EXPECT_EQ(CheckUpn("B8012000050011"), UpnCheck::kBadFormat);
  EXPECT_EQ(CheckUpn("b801200005001"), UpnCheck::kBadFormat);
  // I, O and S are never used, neither first nor last.
  EXPECT_EQ(CheckUpn("I801200005001"), UpnCheck::kBadFormat);
  EXPECT_EQ(CheckUpn("B80120000501O"), UpnCheck::kBadFormat);
  EXPECT_EQ(CheckUpn("B80120000501S"), UpnCheck::kBadFormat);
  // A letter anywhere but the last position.
  EXPECT_EQ(CheckUpn("B8012000A5001"), UpnCheck::kBadFormat);
  EXPECT_EQ(UpnCheckLetter("80120000501"), '\0');
}

TEST(CalendarDateTest, RealAndImpossibleDates) {
  EXPECT_TRUE(IsValidCalendarDate(2019, 5, 14));
  EXPECT_TRUE(IsValidCalendarDate(2024, 2, 29));
  EXPECT_TRUE(IsValidCalendarDate(2000, 2, 29));
  EXPECT_FALSE(IsValidCalendarDate(1900, 2, 29));
  EXPECT_FALSE(IsValidCalendarDate(2025, 2, 29));
  EXPECT_FALSE(IsValidCalendarDate(2026, 2, 30));
  EXPECT_FALSE(IsValidCalendarDate(2026, 13, 1));
  EXPECT_FALSE(IsValidCalendarDate(2026, 0, 1));
  EXPECT_FALSE(IsValidCalendarDate(2026, 4, 31));
  EXPECT_FALSE(IsValidCalendarDate(2026, 1, 0));
  EXPECT_FALSE(IsValidCalendarDate(1899, 12, 31));
  EXPECT_FALSE(IsValidCalendarDate(0, 0, 0));
}

}  // namespace
}  // namespace ehx::validate
