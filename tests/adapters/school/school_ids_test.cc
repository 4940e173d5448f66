// UPN, NHS number, dates and Europe/London local times.
#include "school_ids.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "case_index.h"
#include "validate/identifiers.h"

namespace ehx::adapters::school {
namespace {

TEST(Upn, PublishedExamplesAndTheVendorTrap) {
  EXPECT_EQ(CheckUpn("B801200005001"), UpnKind::kPermanent);
  EXPECT_EQ(CheckUpn("A801200005001"), UpnKind::kBadCheckLetter);
  // Vendor help pages print Q; recomputed it is P.
  EXPECT_EQ(CheckUpn("P207000016049"), UpnKind::kPermanent);
  EXPECT_EQ(CheckUpn("Q207000016049"), UpnKind::kBadCheckLetter);
  EXPECT_EQ(CheckUpn("R820999925001"), UpnKind::kPermanent);
  EXPECT_EQ(CheckUpn("T82099992501K"), UpnKind::kTemporary);
  EXPECT_EQ(CheckUpn("T82099992501I"), UpnKind::kBadFormat);  // I never used
  EXPECT_EQ(CheckUpn("R82099992500"), UpnKind::kBadFormat);
  EXPECT_EQ(NormaliseUpn("r820 9999-2500 1"), "R820999925001");
}

TEST(Upn, AgreesWithTheGatewayValidator) {
  std::mt19937 rng(7);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int i = 0; i < 20000; ++i) {
    std::string s(13, '0');
    s[0] = "ABCDEFGHJKLMNPQRTUVWXYZ"[rng() % 23];
    for (int k = 1; k < 12; ++k) s[k] = static_cast<char>('0' + rng() % 10);
    s[12] = alphabet[rng() % alphabet.size()];
    if (i % 3 == 0) s[0] = UpnCheckLetter(s.substr(1)) ?: 'A';
    const auto ours = CheckUpn(s);
    const auto theirs = ehx::validate::CheckUpn(s);
    using G = ehx::validate::UpnCheck;
    const UpnKind expected =
        theirs == G::kValidPermanent   ? UpnKind::kPermanent
        : theirs == G::kValidTemporary ? UpnKind::kTemporary
        : theirs == G::kBadFormat      ? UpnKind::kBadFormat
                                       : UpnKind::kBadCheckLetter;
    ASSERT_EQ(ours, expected) << s;
  }
}

TEST(Nhs, ModulusElevenCases) {
  EXPECT_EQ(CheckNhs("9434765919"), NhsKind::kValid);
  EXPECT_EQ(CheckNhs("9990000034"), NhsKind::kValid);
  EXPECT_EQ(CheckNhs("9990000043"), NhsKind::kBadCheckDigit);
  EXPECT_EQ(NhsCheckDigit("999001244"), 10);
  EXPECT_EQ(CheckNhs("9990012440"), NhsKind::kImpossibleStem);
  EXPECT_EQ(CheckNhs("9111111124"), NhsKind::kBadCheckDigit);  // the trap list
  EXPECT_EQ(CheckNhs("4444444444"), NhsKind::kPlaceholder);
  EXPECT_EQ(CheckNhs("999000003"), NhsKind::kBadFormat);
  EXPECT_EQ(NormaliseNhs("999 000-0034"), "9990000034");
}

TEST(Nhs, AgreesWithTheGatewayValidator) {
  std::mt19937 rng(11);
  for (int i = 0; i < 20000; ++i) {
    std::string s(10, '0');
    for (char& c : s) c = static_cast<char>('0' + rng() % 10);
    using G = ehx::validate::NhsNumberCheck;
    const auto theirs = ehx::validate::CheckNhsNumber(s);
    const NhsKind expected =
        theirs == G::kValid            ? NhsKind::kValid
        : theirs == G::kBadFormat      ? NhsKind::kBadFormat
        : theirs == G::kImpossibleStem ? NhsKind::kImpossibleStem
        : theirs == G::kPlaceholder    ? NhsKind::kPlaceholder
                                       : NhsKind::kBadCheckDigit;
    ASSERT_EQ(CheckNhs(s), expected) << s;
  }
}

TEST(Dates, StrictIsoDates) {
  EXPECT_TRUE(ParseIsoDate("2024-02-29"));
  EXPECT_FALSE(ParseIsoDate("2023-02-29"));
  EXPECT_FALSE(ParseIsoDate("2017-02-30"));
  EXPECT_FALSE(ParseIsoDate("14/05/2019"));
  EXPECT_FALSE(ParseIsoDate("2019-5-14"));
  EXPECT_FALSE(ParseIsoDate("1899-12-31"));
}

TEST(LondonTime, ClockChangesAreFlaggedNotGuessed) {
  EXPECT_EQ(ParseLondonDateTime("2025-03-30T01:30:00").kind,
            LocalTimeKind::kNonexistent);
  EXPECT_EQ(ParseLondonDateTime("2025-10-26T01:30:00").kind,
            LocalTimeKind::kAmbiguous);
  const LocalTimeResult summer = ParseLondonDateTime("2025-07-01T12:00:00");
  ASSERT_EQ(summer.kind, LocalTimeKind::kUnique);
  EXPECT_EQ(summer.unix_seconds, 1751367600);  // 11:00Z
  const LocalTimeResult winter = ParseLondonDateTime("2026-01-05T08:30:00");
  ASSERT_EQ(winter.kind, LocalTimeKind::kUnique);
  EXPECT_EQ(winter.unix_seconds, 1767601800);  // 08:30Z
  EXPECT_EQ(ParseLondonDateTime("2025-03-30T01:30:00Z").kind,
            LocalTimeKind::kUnique);  // explicit offset: nothing to guess
  EXPECT_EQ(ParseLondonDateTime("2025-03-30T25:30:00").kind,
            LocalTimeKind::kInvalid);
  EXPECT_EQ(ParseLondonDateTime("30/03/2025 01:30").kind,
            LocalTimeKind::kInvalid);
}

// The hand-computed fallback agrees with tzdata for every half hour of
// 2015-2035 (absl::LoadTimeZone works on these machines; the fallback is
// what runs where tzdata is missing).
TEST(LondonTime, HandRuleAgreesWithTzdata) {
  absl::TimeZone tz;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &tz));
  for (absl::CivilMinute m(2015, 1, 1, 0, 0);
       m < absl::CivilMinute(2036, 1, 1, 0, 0); m += 30) {
    const auto info = tz.At(absl::CivilSecond(m));
    const LocalTimeResult r =
        LondonByRule(static_cast<int>(m.year()), m.month(), m.day(), m.hour(),
                     m.minute(), 0);
    switch (info.kind) {
      case absl::TimeZone::TimeInfo::UNIQUE:
        ASSERT_EQ(r.kind, LocalTimeKind::kUnique);
        ASSERT_EQ(r.unix_seconds, absl::ToUnixSeconds(info.pre));
        break;
      case absl::TimeZone::TimeInfo::SKIPPED:
        ASSERT_EQ(r.kind, LocalTimeKind::kNonexistent);
        break;
      case absl::TimeZone::TimeInfo::REPEATED:
        ASSERT_EQ(r.kind, LocalTimeKind::kAmbiguous);
        break;
    }
  }
}

TEST(CaseMap, BadLinesAreRefusedByNumberAndTheRestLoads) {
  CaseIndex index;
  const auto errors = LoadCaseMapText(
      "\xEF\xBB\xBFupn,case_ref\n"
      "# open cases\n"
      "R820999925001,EH-2026-000123\n"
      "9990000050, EH-2026-000125\n"
      "9990000043,EH-2026-000126\n"     // bad check digit
      "9990012440,EH-2026-000127\n"     // impossible stem
      "T82099992501K,EH-2026-000128\n"  // temporary UPN
      "A820999925004,EH-2026-000129\n"  // bad check letter
      "V820999925003,not a ref!\n"
      "no comma here\n"
      "R820999925001,EH-2026-000999\n",  // conflict
      &index);
  ASSERT_EQ(errors.size(), 7u);
  EXPECT_EQ(errors[0].line, 5);
  EXPECT_EQ(errors[0].rule, "nhs_number_modulus11");
  EXPECT_EQ(errors[1].rule, "nhs_number_modulus11");
  EXPECT_EQ(errors[2].rule, "upn_temporary");
  EXPECT_EQ(errors[3].rule, "upn_check_letter");
  EXPECT_EQ(errors[4].rule, "case_ref_format");
  EXPECT_EQ(errors[5].rule, "case_map_line_format");
  EXPECT_EQ(errors[6].rule, "case_map_conflict");
  ASSERT_NE(index.FindUpn("R820999925001"), nullptr);
  EXPECT_EQ(*index.FindUpn("R820999925001"), "EH-2026-000123");
  ASSERT_NE(index.FindNhs("9990000050"), nullptr);
  EXPECT_EQ(index.size(), 2u);
}

}  // namespace
}  // namespace ehx::adapters::school
