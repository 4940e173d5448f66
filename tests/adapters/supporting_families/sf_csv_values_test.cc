// The CSV tokenizer and the value rules (dates, DST, NHS number, UPN,
// headline outcomes) of the Supporting Families contract.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sf_csv.h"
#include "sf_values.h"

namespace ehx::adapters::supporting_families {
namespace {

using ::testing::ElementsAre;

TEST(SfCsv, QuotedFieldsKeepCommasQuotesAndLineBreaks) {
  CsvParse p = ParseCsv(
      "a,b,c\r\n1,\"x, y\",\"He said \"\"hi\"\"\r\nnext line\"\r\n2,,\r\n");
  ASSERT_TRUE(p.error_rule.empty());
  ASSERT_EQ(p.records.size(), 3u);
  EXPECT_THAT(p.records[1].fields,
              ElementsAre("1", "x, y", "He said \"hi\"\r\nnext line"));
  EXPECT_EQ(p.records[1].line, 2u);
  EXPECT_EQ(p.records[2].line, 4u);  // record 1 spans lines 2-3
  EXPECT_THAT(p.records[2].fields, ElementsAre("2", "", ""));
}

TEST(SfCsv, LfOnlyEmptyLinesAndNoFinalLineBreak) {
  CsvParse p = ParseCsv("a,b\n\n1,2\r\n\r\n3,4");
  ASSERT_EQ(p.records.size(), 3u);
  EXPECT_THAT(p.records[2].fields, ElementsAre("3", "4"));
  EXPECT_EQ(p.records[2].line, 5u);
  // A line of commas is a record of empty values.
  EXPECT_THAT(ParseCsv(",,\n").records[0].fields, ElementsAre("", "", ""));
}

TEST(SfCsv, BareQuotesAreKeptAndFlagged) {
  CsvParse p = ParseCsv("O\"Brien,\"ab\"cd,ok\n");
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_THAT(p.records[0].fields, ElementsAre("O\"Brien", "abcd", "ok"));
  EXPECT_THAT(p.records[0].bare_quote_fields, ElementsAre(0u, 1u));
}

TEST(SfCsv, UnterminatedQuoteIsAFileError) {
  CsvParse p = ParseCsv("a,b\n1,2\n3,\"open\nmore\n");
  EXPECT_EQ(p.error_rule, "csv_unterminated_quote");
  EXPECT_EQ(p.error_line, 3u);
}

TEST(SfCsv, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("Zo\xC3\xAB \xC3\x93 Wi\xC5\x9Bniewski \xC2\xA3"));
  EXPECT_FALSE(IsValidUtf8("Am\xE9lie"));         // Windows-1252
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
}

TEST(SfCsv, WritingQuotesOnlyWhenNeeded) {
  std::string out;
  AppendCsvField("plain", &out);
  out += ",";
  AppendCsvField("a,b", &out);
  out += ",";
  AppendCsvField("say \"x\"", &out);
  out += ",";
  AppendCsvField("two\r\nlines", &out);
  EXPECT_EQ(out, "plain,\"a,b\",\"say \"\"x\"\"\",\"two\r\nlines\"");
}

TEST(SfDates, AlwaysDayFirstAndCalendarChecked) {
  DateValue d = ParseDateValue("04/01/2026");
  ASSERT_EQ(d.status, DateValue::Status::kOk);
  EXPECT_EQ(d.date, (Ymd{2026, 1, 4}));
  EXPECT_EQ(ParseDateValue("2026-03-14").date, (Ymd{2026, 3, 14}));
  EXPECT_EQ(ParseDateValue("29/02/1988").status, DateValue::Status::kOk);
  for (const char* bad :
       {"29/02/2025", "31/04/2026", "2026/03/14", "14.03.2026", "14 Mar 2026",
        "14/03/26", "45678", "9.99E+09", "32/01/2026", "00/01/2026",
        "15/09/2025 24:00", "15/09/2025 0:00"}) {
    EXPECT_EQ(ParseDateValue(bad).status, DateValue::Status::kUnparseable)
        << bad;
  }
  DateValue t = ParseDateValue("15/09/2025 00:00");
  EXPECT_EQ(t.date, (Ymd{2025, 9, 15}));
  EXPECT_FALSE(t.time_ignored);
  EXPECT_TRUE(ParseDateValue("15/09/2025 10:30:05").time_ignored);
}

TEST(SfDates, ClockChangesAreFlaggedNotGuessed) {
  // 2026: BST starts Sunday 29 March, ends Sunday 25 October.
  DateValue gap = ParseDateValue("29/03/2026 01:30");
  EXPECT_TRUE(gap.dst_nonexistent);
  EXPECT_FALSE(gap.dst_ambiguous);
  DateValue twice = ParseDateValue("25/10/2026 01:30");
  EXPECT_TRUE(twice.dst_ambiguous);
  DateValue normal = ParseDateValue("25/10/2026 02:30");
  EXPECT_FALSE(normal.dst_ambiguous || normal.dst_nonexistent);
  EXPECT_FALSE(ParseDateValue("29/03/2026 02:00").dst_nonexistent);
}

TEST(SfDates, TimeZoneDatabaseAgreesWithTheUkRule) {
  for (int year = 2000; year <= 2037; ++year) {
    for (int month : {3, 10}) {
      for (int day = 22; day <= 31; ++day) {
        for (int hour : {0, 1, 2}) {
          EXPECT_EQ(ClassifyLondonTime(year, month, day, hour, 30, 0),
                    ClassifyLondonTimeByRule(year, month, day, hour, 30))
              << year << "-" << month << "-" << day << " " << hour;
        }
      }
    }
  }
}

TEST(SfDates, AddMonthsClampsToTheEndOfTheMonth) {
  EXPECT_EQ(AddMonths({2025, 3, 15}, 6), (Ymd{2025, 9, 15}));
  EXPECT_EQ(AddMonths({2025, 8, 31}, 6), (Ymd{2026, 2, 28}));
  EXPECT_EQ(AddMonths({2023, 8, 31}, 6), (Ymd{2024, 2, 29}));
  EXPECT_EQ(AddMonths({2024, 6, 10}, -12), (Ymd{2023, 6, 10}));
}

TEST(SfIdentifiers, NhsNumberWorkedExamples) {
  EXPECT_EQ(CheckNhsNumber("9990000018").check, NhsCheck::kValid);
  EXPECT_EQ(CheckNhsNumber("9990000081").check, NhsCheck::kBadCheckDigit);
  for (char x = '0'; x <= '9'; ++x) {
    EXPECT_EQ(CheckNhsNumber(std::string("999000014") + x).check,
              NhsCheck::kImpossibleStem);
  }
  NhsNumber spaced = CheckNhsNumber("999 000 0018");
  EXPECT_EQ(spaced.check, NhsCheck::kValid);
  EXPECT_TRUE(spaced.reformatted);
  EXPECT_EQ(spaced.normalized, "9990000018");
  EXPECT_EQ(CheckNhsNumber("0000000000").check, NhsCheck::kPlaceholder);
  EXPECT_EQ(CheckNhsNumber("9.99E+09").check, NhsCheck::kBadFormat);
  EXPECT_EQ(CheckNhsNumber("999-000-0018").check, NhsCheck::kBadFormat);
  EXPECT_EQ(CheckNhsNumber("999  0000018").check, NhsCheck::kBadFormat);
}

TEST(SfIdentifiers, UpnWorkedExamples) {
  EXPECT_EQ(CheckUpn("B801200005001").check, UpnCheck::kValidPermanent);
  EXPECT_EQ(CheckUpn("B80120000501T").check, UpnCheck::kValidTemporary);
  EXPECT_EQ(CheckUpn("C80120000501T").check, UpnCheck::kBadCheck);
  Upn lower = CheckUpn("b801200005001");
  EXPECT_EQ(lower.check, UpnCheck::kValidPermanent);
  EXPECT_TRUE(lower.reformatted);
  EXPECT_EQ(lower.la_code, "801");
  EXPECT_EQ(CheckUpn("I801200005001").check, UpnCheck::kBadFormat);
  EXPECT_EQ(CheckUpn("B8012000050").check, UpnCheck::kBadFormat);
}

TEST(SfHeadlines, ExactCaseAndUnknown) {
  EXPECT_EQ(MatchHeadline("Getting a good education").area, 1);
  EXPECT_FALSE(MatchHeadline("  Getting  a good   education ").case_differs);
  Headline h = MatchHeadline("families diverted from crime");
  EXPECT_EQ(h.area, 7);
  EXPECT_TRUE(h.case_differs);
  EXPECT_EQ(MatchHeadline("Worklessness").area, 0);
  EXPECT_EQ(MatchHeadline("Crime and anti-social behaviour").area, 0);
  EXPECT_EQ(MatchHeadline("Continuous employment").area, 0);
  EXPECT_STREQ(HeadlineName(10), "Financial stability");
}

}  // namespace
}  // namespace ehx::adapters::supporting_families
