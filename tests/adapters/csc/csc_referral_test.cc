// Step-up referral -> CSC referral JSON (golden), and the round trip:
// referral written -> front door decision read back -> ReferralOutcome with
// the referral's correlation id.
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "csc_ingest.h"
#include "csc_test_util.h"
#include "csc_util.h"
#include "gtest/gtest.h"

namespace ehx::adapters::csc {
namespace {

using ::ehx::csc_test::ExpectGolden;
using ::ehx::csc_test::Fixture;

ehxpb::exchange::v1::Delivery LoadDelivery() {
  ehxpb::exchange::v1::Delivery d;
  auto st = google::protobuf::util::JsonStringToMessage(
      Fixture("step_up_delivery.json"), &d);
  EXPECT_TRUE(st.ok()) << st.message();
  return d;
}

TEST(CscReferral, GoldenReferralFile) {
  RenderedReferral r;
  std::string rule, error;
  ASSERT_TRUE(RenderReferral(LoadDelivery(), &r, &rule, &error)) << error;
  EXPECT_EQ(r.file_name,
            "referral-R-2024-0001-" +
                StableHash({"01HX2V6J8K3M4N5P6Q7R8S9T0V"}).substr(0, 12) +
                ".json");
  ExpectGolden("step_up_referral.golden.json", r.json);
}

TEST(CscReferral, NonAsciiNamesApostrophesAndHyphensSurvive) {
  RenderedReferral r;
  std::string rule, error;
  ASSERT_TRUE(RenderReferral(LoadDelivery(), &r, &rule, &error));
  const auto j = nlohmann::json::parse(r.json);
  EXPECT_EQ(j["children"][0]["legal_name"]["given"], "Zoë");
  EXPECT_EQ(j["children"][0]["legal_name"]["family"], "Ó Súilleabháin");
  EXPECT_EQ(j["children"][1]["legal_name"]["family"], "Wiśniewski");
  EXPECT_EQ(j["household_members"][0]["legal_name"]["family"],
            "O'Brien-Wiśniewska");
  EXPECT_EQ(j["referrer"]["name"], "Siobhán Ní Bhriain");
  // UTF-8 written as is (not \u escapes), curly quotes included.
  EXPECT_NE(r.json.find("Zoë"), std::string::npos);
  EXPECT_NE(r.json.find("“it was an accident”"), std::string::npos);
  EXPECT_EQ(j["ehx"]["correlation_id"], "01HX2V6J8K3M4N5P6Q7R8S9T0V");
  EXPECT_EQ(j["significant_harm"], true);
  EXPECT_EQ(j["parents_informed"], "no");
  EXPECT_EQ(j["children"][1]["identifiers"][0]["verification"], "temporary");
}

TEST(CscReferral, LinkEntryKeepsOnlyLinkableIdentifiersAsHashes) {
  RenderedReferral r;
  std::string rule, error;
  ASSERT_TRUE(RenderReferral(LoadDelivery(), &r, &rule, &error));
  EXPECT_EQ(r.link.referral_id, "R-2024-0001");
  EXPECT_EQ(r.link.case_ref, "EH-2024-000001");
  EXPECT_EQ(r.link.referred_on, "2024-04-30");
  // Zoë's NHS number and permanent UPN; Kacper's temporary UPN and the
  // Raise id are not link keys.
  ASSERT_EQ(r.link.id_hashes.size(), 2u);
  EXPECT_EQ(r.link.id_hashes[0], StableHash({kNhsSystem, "9990000018"}));
  EXPECT_EQ(r.link.id_hashes[1], StableHash({kUpnSystem, "D935412345001"}));
  for (const auto& h : r.link.id_hashes) {
    EXPECT_EQ(h.find("999"), std::string::npos);
  }
}

TEST(CscReferral, OnlyStepUpReferralsRender) {
  ehxpb::exchange::v1::Delivery d = LoadDelivery();
  RenderedReferral r;
  std::string rule, error;
  d.mutable_envelope()->mutable_step_up_referral()->clear_referral_id();
  EXPECT_FALSE(RenderReferral(d, &r, &rule, &error));
  EXPECT_EQ(rule, "required");
  d.mutable_envelope()->mutable_case_closure();
  d.mutable_envelope()->set_event_type(
      ehxpb::exchange::v1::EVENT_TYPE_CASE_CLOSED);
  EXPECT_FALSE(RenderReferral(d, &r, &rule, &error));
  EXPECT_EQ(rule, "not_step_up_referral");
}

TEST(CscReferral, RoundTripReferralThenDecision) {
  RenderedReferral r;
  std::string rule, error;
  ASSERT_TRUE(RenderReferral(LoadDelivery(), &r, &rule, &error));
  LinkIndex index;
  ASSERT_TRUE(index.Add(r.link, &error));
  // The front door answers with only the referral id.
  const std::string decision =
      R"({"referral_id": "R-2024-0001", "decision": "s17_assessment",
          "decided_at": "2024-05-01T09:30:00"})";
  const MapResult m = MapDecisions(decision, CscConfig(), index);
  ASSERT_EQ(m.items.size(), 1u);
  ASSERT_TRUE(m.items[0].envelope);
  const Envelope& e = *m.items[0].envelope;
  EXPECT_EQ(e.correlation_id(), "01HX2V6J8K3M4N5P6Q7R8S9T0V");
  EXPECT_EQ(e.case_ref(), "EH-2024-000001");
  EXPECT_EQ(e.referral_outcome().referral_id(), "R-2024-0001");
  EXPECT_EQ(FormatTimestamp(e.referral_outcome().decided_at()),
            "2024-05-01T08:30:00Z");
  // And the referral file's ehx block alone is enough too (echoed back).
  const auto j = nlohmann::json::parse(r.json);
  nlohmann::json echoed = {{"referral_id", "R-2024-0001"},
                           {"decision", "early_help"},
                           {"decided_at", "2024-05-01T09:30:00Z"},
                           {"ehx", j["ehx"]}};
  const MapResult m2 = MapDecisions(echoed.dump(), CscConfig(), LinkIndex());
  ASSERT_TRUE(m2.items[0].envelope);
  EXPECT_EQ(m2.items[0].envelope->correlation_id(),
            "01HX2V6J8K3M4N5P6Q7R8S9T0V");
}

}  // namespace
}  // namespace ehx::adapters::csc
