// Front door decision files: golden mapping, DST flags, unknown referrals,
// file-level rejection.
#include "csc_ingest.h"
#include "csc_test_util.h"
#include "csc_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ehx::adapters::csc {
namespace {

using ::ehx::csc_test::ExpectGolden;
using ::ehx::csc_test::Fixture;
using ::ehx::csc_test::MapResultJson;

LinkIndex& Index() {
  static LinkIndex* index = [] {
    auto* i = new LinkIndex();
    std::string error;
    LinkEntry a;
    a.referral_id = "R-2024-0001";
    a.message_id = "01HX2V6J8K3M4N5P6Q7R8S9T0V";
    a.correlation_id = a.message_id;
    a.case_ref = "EH-2024-000001";
    a.referred_on = "2024-04-30";
    i->Add(a, &error);
    LinkEntry b;
    b.referral_id = "R-2024-0002";
    b.message_id = "01HX2V6J8K3M4N5P6Q7R8S9T0W";
    b.correlation_id = "corr-R-2024-0002";
    b.case_ref = "EH-2024-000002";
    b.referred_on = "2024-03-29";
    i->Add(b, &error);
    return i;
  }();
  return *index;
}

TEST(CscDecision, GoldenMapping) {
  const MapResult r =
      MapDecisions(Fixture("decisions.json"), CscConfig(), Index());
  ASSERT_FALSE(r.input_rejected) << r.input_error;
  ExpectGolden("decisions.golden.json", MapResultJson(r).dump(2) + "\n");
}

TEST(CscDecision, EachDecisionStandsAlone) {
  const MapResult r =
      MapDecisions(Fixture("decisions.json"), CscConfig(), Index());
  ASSERT_EQ(r.items.size(), 8u);
  auto rule0 = [&](int i) {
    return r.items[i].errors.empty() ? std::string()
                                     : r.items[i].errors[0].rule();
  };
  EXPECT_TRUE(r.items[0].envelope);  // good, local BST time
  EXPECT_FALSE(r.items[1].envelope);
  EXPECT_EQ(rule0(1), "dst_nonexistent_local_time");
  EXPECT_FALSE(r.items[2].envelope);
  EXPECT_EQ(rule0(2), "dst_ambiguous_local_time");
  ASSERT_TRUE(r.items[3].envelope);  // offset given: fine
  // ...but its ambiguous acknowledged_at is flagged and left out.
  EXPECT_EQ(rule0(3), "dst_ambiguous_local_time");
  EXPECT_TRUE(r.items[3].errors[0].flagged_only());
  EXPECT_FALSE(r.items[3].envelope->referral_outcome().has_acknowledged_at());
  EXPECT_FALSE(r.items[4].envelope);
  EXPECT_EQ(rule0(4), "referral_unknown");
  EXPECT_FALSE(r.items[5].envelope);
  EXPECT_EQ(rule0(5), "required");
  ASSERT_TRUE(r.items[6].envelope);  // echoed ehx block
  EXPECT_EQ(r.items[6].envelope->case_ref(), "EH-2024-000003");
  EXPECT_FALSE(r.items[7].envelope);
  EXPECT_EQ(rule0(7), "type_object");
  // Names and free text never reach the errors.
  for (const auto& item : r.items) {
    for (const auto& e : item.errors) {
      EXPECT_EQ(e.message().find("O'Connor"), std::string::npos);
      EXPECT_EQ(e.message().find("2024-"), std::string::npos);
    }
  }
}

TEST(CscDecision, OutcomeCarriesTheReferralsCorrelation) {
  const MapResult r =
      MapDecisions(Fixture("decisions.json"), CscConfig(), Index());
  const Envelope& e = *r.items[0].envelope;
  EXPECT_EQ(e.event_type(), ehxpb::exchange::v1::EVENT_TYPE_REFERRAL_OUTCOME);
  EXPECT_EQ(e.correlation_id(), "01HX2V6J8K3M4N5P6Q7R8S9T0V");
  EXPECT_EQ(e.referral_outcome().decided_by().name(), "Dónal O'Connor-Smyth");
  EXPECT_EQ(e.referral_outcome().allocated_to().name(),
            "Agnieszka Wiśniewska-Hughes");
  EXPECT_EQ(e.idempotency_key(),
            "csc-dec-" + StableHash({"CP-DEC-9001", "dec"}) + "-v1");
  EXPECT_EQ(r.items[3].envelope->correlation_id(), "corr-R-2024-0002");
}

TEST(CscDecision, WholeFileProblemsRejectTheFile) {
  for (const char* bad :
       {"{not json", "{\"decisions\": 5}", "42",
        "{\"schema\": \"other/2\", \"decisions\": []}", "\"\xff\xfe\""}) {
    const MapResult r = MapDecisions(bad, CscConfig(), Index());
    EXPECT_TRUE(r.input_rejected) << bad;
    EXPECT_TRUE(r.items.empty());
  }
  EXPECT_EQ(DetectKind("\xEF\xBB\xBF  {"), InputKind::kDecisionJson);
  EXPECT_EQ(DetectKind("\n<?xml"), InputKind::kCensusXml);
  EXPECT_EQ(DetectKind("PK\x03\x04"), InputKind::kUnknown);
  EXPECT_TRUE(MapInput("PK", CscConfig(), Index()).input_rejected);
}

TEST(CscDecision, ASingleDecisionObjectIsAccepted) {
  const MapResult r = MapDecisions(
      R"({"referral_id": "R-2024-0002", "decision": "nfa",
          "decided_at": "2024-03-29T17:00:00Z", "version": 2})",
      CscConfig(), Index());
  ASSERT_EQ(r.items.size(), 1u);
  ASSERT_TRUE(r.items[0].envelope);
  EXPECT_EQ(r.items[0].envelope->idempotency_key(),
            "csc-dec-" + StableHash({"R-2024-0002", "ref"}) + "-v2");
}

}  // namespace
}  // namespace ehx::adapters::csc
