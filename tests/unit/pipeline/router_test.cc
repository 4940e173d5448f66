#include "pipeline/router.h"

#include <gtest/gtest.h>

#include "config/config_loader.h"

namespace ehx::pipeline {
namespace {

using ehx::exchange::v1::Envelope;

ehx::config::v1::GatewayConfig Config() {
  auto c = ehx::config::LoadConfigText(R"(
listen: "127.0.0.1:0"
dev_plaintext: true
store: {sqlite_path: x.db}
agencies:
  - {id: early-help, role: AGENCY_ROLE_EARLY_HELP}
  - {id: csc-front-door, role: AGENCY_ROLE_CSC_FRONT_DOOR}
  - {id: school-a, role: AGENCY_ROLE_SCHOOL}
  - {id: health-a, role: AGENCY_ROLE_HEALTH}
  - {id: old-school, role: AGENCY_ROLE_SCHOOL, decommissioned: true}
  - {id: sf, role: AGENCY_ROLE_SUPPORTING_FAMILIES}
routes:
  - {event_type: EVENT_TYPE_CAF_NOTIFICATION, to: [sf], to_selectors: [RECIPIENT_SELECTOR_CASE_AGENCIES]}
  - {event_type: EVENT_TYPE_STEP_UP_REFERRAL, to_selectors: [RECIPIENT_SELECTOR_FRONT_DOOR], ttl_seconds: 3600}
  - {event_type: EVENT_TYPE_REFERRAL_OUTCOME, to_selectors: [RECIPIENT_SELECTOR_REFERRER, RECIPIENT_SELECTOR_LEAD_PRACTITIONER]}
  - {event_type: EVENT_TYPE_STEP_DOWN, to_selectors: [RECIPIENT_SELECTOR_EARLY_HELP]}
delivery: {default_ttl_seconds: 600}
)",
                                       "/");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

TEST(RouterTest, CafGoesToCaseAgenciesAndFixedSubscribersNotSenderNorRetired) {
  Router r(Config());
  Envelope e;
  e.set_event_type(ehx::exchange::v1::EVENT_TYPE_CAF_NOTIFICATION);
  auto* caf = e.mutable_caf_notification();
  caf->add_agencies_involved("school-a");
  caf->add_agencies_involved("early-help");
  caf->add_agencies_involved("old-school");
  ehx::record::v1::CaseRecord rec;
  rec.add_agencies_involved("health-a");
  EXPECT_EQ(r.Recipients("early-help", e, rec),
            (std::vector<std::string>{"health-a", "school-a", "sf"}));
}

TEST(RouterTest, OutcomeGoesBackToTheReferrerAndTheLeadPractitioner) {
  Router r(Config());
  ehx::record::v1::CaseRecord rec;
  auto* ref = rec.add_referrals();
  ref->set_referral_id("ref-9");
  ref->set_referrer_agency("school-a");
  rec.mutable_lead_practitioner()->set_agency_id("early-help");
  Envelope e;
  e.set_event_type(ehx::exchange::v1::EVENT_TYPE_REFERRAL_OUTCOME);
  e.mutable_referral_outcome()->set_referral_id("ref-9");
  EXPECT_EQ(r.Recipients("csc-front-door", e, rec),
            (std::vector<std::string>{"early-help", "school-a"}));
  // Matched by correlation id when the referral id is unknown.
  Envelope by_corr = e;
  by_corr.mutable_referral_outcome()->set_referral_id("unknown");
  by_corr.set_correlation_id("corr-1");
  rec.mutable_referrals(0)->set_correlation_id("corr-1");
  EXPECT_EQ(r.Recipients("csc-front-door", by_corr, rec),
            (std::vector<std::string>{"early-help", "school-a"}));
}

TEST(RouterTest, StepUpGoesToTheFrontDoorWithRouteTtl) {
  Router r(Config());
  Envelope e;
  e.set_event_type(ehx::exchange::v1::EVENT_TYPE_STEP_UP_REFERRAL);
  EXPECT_EQ(r.Recipients("school-a", e, {}),
            std::vector<std::string>{"csc-front-door"});
  EXPECT_EQ(r.TtlSeconds(ehx::exchange::v1::EVENT_TYPE_STEP_UP_REFERRAL), 3600);
  EXPECT_EQ(r.TtlSeconds(ehx::exchange::v1::EVENT_TYPE_CASE_CLOSED), 600);
}

TEST(RouterTest, UnroutedEventsGoNowhereAndUnknownExtrasAreDropped) {
  Router r(Config());
  Envelope e;
  e.set_event_type(ehx::exchange::v1::EVENT_TYPE_CASE_CLOSED);
  e.add_extra_recipients("nobody");
  e.add_extra_recipients("health-a");
  EXPECT_EQ(r.Recipients("early-help", e, {}),
            std::vector<std::string>{"health-a"});
  EXPECT_FALSE(r.IsActive("old-school"));
}

}  // namespace
}  // namespace ehx::pipeline
