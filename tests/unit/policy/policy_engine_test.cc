#include "policy/policy_engine.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "config/config_loader.h"
#include "pipeline/projection.h"
#include "policy/policy_validate.h"
#include "policy_test_util.h"

namespace ehx::policy {
namespace {

using ehx::config::v1::GatewayConfig;
using ehx::exchange::v1::Envelope;
using ehx::record::v1::CaseRecord;
using testing::DefaultPolicyConfig;
using testing::LoadEnvelope;
using testing::Src;
namespace cfg = ehx::config::v1;

TEST(PolicyConfigTest, DefaultPolicyValidatesWithDemoAgencies) {
  GatewayConfig c = DefaultPolicyConfig();
  EXPECT_TRUE(ehx::config::ValidateConfig(c).ok())
      << ehx::config::ValidateConfig(c);
  auto e = PolicyEngine::Create(c);
  EXPECT_TRUE(e->ok()) << e->error();
  EXPECT_EQ(e->version(), "2026-01-default-2");
}

TEST(PolicyConfigTest, DemoYamlCarriesTheDefaultPolicyVerbatim) {
  GatewayConfig demo = testing::ParseYamlFile(Src("deploy/config/demo.yaml"));
  GatewayConfig def = testing::ParseYamlFile(Src("deploy/config/policy.yaml"));
  ASSERT_TRUE(demo.has_policy());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(demo.policy(),
                                                                 def.policy()));
  // And the demo's policy is valid against the demo's agencies.
  demo.clear_tls();
  demo.set_dev_plaintext(true);
  demo.set_listen("127.0.0.1:0");
  demo.set_admin_listen("");
  EXPECT_TRUE(ehx::config::ValidateConfig(demo).ok())
      << ehx::config::ValidateConfig(demo);
}

std::string PolicyError(
    const std::function<void(cfg::SharingPolicy*)>& mutate) {
  GatewayConfig c = DefaultPolicyConfig();
  mutate(c.mutable_policy());
  absl::Status st = ehx::config::ValidateConfig(c);
  // The engine applies the same validation and fails closed.
  auto e = PolicyEngine::Create(c);
  EXPECT_EQ(st.ok(), e->ok());
  return st.ok() ? "" : std::string(st.message());
}

TEST(PolicyConfigTest, ValidationNamesFieldAndRule) {
  EXPECT_EQ(PolicyError([](auto*) {}), "");
  EXPECT_EQ(PolicyError([](auto* p) { p->clear_version(); }),
            "policy.version: required");
  EXPECT_NE(PolicyError([](auto* p) {
              p->add_granted_agencies("nobody");
            }).find("policy.granted_agencies["),
            std::string::npos);
  EXPECT_NE(PolicyError([](auto* p) {
              p->mutable_rules(1)->set_id("caf-to-parties");
            }).find("policy.rules[1].id: duplicate rule id"),
            std::string::npos);
  EXPECT_NE(PolicyError([](auto* p) {
              p->mutable_rules(0)->set_id("default-deny");
            }).find("reserved rule id"),
            std::string::npos);
  EXPECT_NE(PolicyError([](auto* p) {
              p->mutable_rules(0)->set_recipient_roles(0, "AGENCY_ROLE_WIZARD");
            }).find("policy.rules[0].recipient_roles[0]: unknown agency role"),
            std::string::npos);
  EXPECT_NE(PolicyError([](auto* p) {
              p->mutable_rules(0)->add_bases(cfg::SHARING_BASIS_UNSPECIFIED);
            }).find("policy.rules[0].bases["),
            std::string::npos);
  EXPECT_NE(PolicyError([](auto* p) {
              p->mutable_rules(0)->clear_record_types();
            }).find("policy.rules[0].record_types"),
            std::string::npos);
  // Allowing OTHER anything without a mask for it is refused.
  EXPECT_NE(PolicyError([](auto* p) {
              p->mutable_rules(0)->add_recipient_roles("AGENCY_ROLE_OTHER");
            })
                .find("no field mask for AGENCY_ROLE_OTHER / "
                      "RECORD_TYPE_CAF_NOTIFICATION"),
            std::string::npos);
  EXPECT_NE(PolicyError([](auto* p) {
              p->mutable_masks(1)->add_paths("caf_notification.no_such");
            }).find("no field 'no_such' in ehx.cases.v1.CafNotification"),
            std::string::npos);
  EXPECT_NE(PolicyError([](auto* p) {
              p->mutable_masks(1)->add_paths("plan.plan_id");
            }).find("not the payload"),
            std::string::npos);
  EXPECT_NE(PolicyError([](auto* p) {
              p->mutable_masks(1)->clear_paths();
              p->mutable_masks(1)->add_paths("caf_notification");
            }).find("no path for payload 'case_opened'"),
            std::string::npos);
  EXPECT_NE(PolicyError([](auto* p) { *p->add_masks() = p->masks(1); })
                .find("duplicate mask for AGENCY_ROLE_SCHOOL / "
                      "RECORD_TYPE_CAF_NOTIFICATION"),
            std::string::npos);
  EXPECT_NE(PolicyError([](auto* p) {
              p->clear_purposes();
            }).find("no consent purposes for RECORD_TYPE_CAF_NOTIFICATION"),
            std::string::npos);
}

TEST(PolicyConfigTest, LoaderRefusesCorruptPolicyYaml) {
  const std::string base = R"(
listen: "127.0.0.1:0"
dev_plaintext: true
store: {sqlite_path: data/ehx.db}
agencies:
  - {id: early-help, role: AGENCY_ROLE_EARLY_HELP}
)";
  auto bad_key = ehx::config::LoadConfigText(
      base + "policy: {version: v, rulez: []}\n", "/tmp");
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(std::string(bad_key.status().message()).find("policy.rulez"),
            std::string::npos);
  auto bad_enum = ehx::config::LoadConfigText(
      base +
          "policy: {version: v, rules: [{id: a, recipient_roles: "
          "[AGENCY_ROLE_EARLY_HELP], "
          "record_types: [RECORD_TYPE_NOPE], bases: "
          "[SHARING_BASIS_NO_CONSENT]}]}\n",
      "/tmp");
  ASSERT_FALSE(bad_enum.ok());
  EXPECT_NE(std::string(bad_enum.status().message())
                .find("policy.rules[0].record_types"),
            std::string::npos)
      << bad_enum.status();
  // A missing section loads (the engine fails closed instead).
  EXPECT_TRUE(ehx::config::LoadConfigText(base, "/tmp").ok());
}

TEST(PolicyEngineTest, FailsClosed) {
  GatewayConfig c = DefaultPolicyConfig();
  Request r{"role-early-help", "role-school", cfg::RECORD_TYPE_CAF_NOTIFICATION,
            cfg::SHARING_BASIS_CONSENT_IN_SCOPE, true};
  auto ok = PolicyEngine::Create(c);
  ASSERT_TRUE(ok->Decide(r).share);
  // Missing policy.
  GatewayConfig none = c;
  none.clear_policy();
  auto e = PolicyEngine::Create(none);
  EXPECT_FALSE(e->ok());
  Decision d = e->Decide(r);
  EXPECT_FALSE(d.share);
  EXPECT_TRUE(d.failure);
  EXPECT_EQ(d.rule_id, kRuleFailClosed);
  // Even a significant-harm referral: no delivery without a policy (the
  // gateway alerts on it).
  d = e->Decide({"role-early-help", "role-csc-front-door",
                 cfg::RECORD_TYPE_STEP_UP_REFERRAL,
                 cfg::SHARING_BASIS_SIGNIFICANT_HARM, false});
  EXPECT_FALSE(d.share);
  // Invalid policy.
  GatewayConfig bad = c;
  bad.mutable_policy()->clear_version();
  EXPECT_FALSE(PolicyEngine::Create(bad)->Decide(r).share);
  // Unknown agencies, record type and basis.
  auto check = [&](Request q, const char* rule, bool failure) {
    Decision x = ok->Decide(q);
    EXPECT_FALSE(x.share) << rule;
    EXPECT_EQ(x.rule_id, rule);
    EXPECT_EQ(x.failure, failure) << rule;
  };
  Request q = r;
  q.recipient = "stranger";
  check(q, kRuleUnknownRecipient, true);
  q = r;
  q.sender = "stranger";
  check(q, kRuleUnknownSender, true);
  q = r;
  q.record_type = cfg::RECORD_TYPE_UNSPECIFIED;
  check(q, kRuleUnknownRecordType, true);
  q.record_type = static_cast<cfg::RecordType>(99);
  check(q, kRuleUnknownRecordType, true);
  q = r;
  q.basis = cfg::SHARING_BASIS_UNSPECIFIED;
  check(q, kRuleUnknownBasis, true);
  // A newly registered agency receives nothing until granted.
  q = r;
  q.recipient = "new-school";
  check(q, kRuleNotGranted, false);
  q.recipient = "old-health";
  check(q, kRuleDecommissioned, false);
  // Event types without a record type.
  EXPECT_EQ(
      PolicyEngine::RecordTypeOf(ehx::exchange::v1::EVENT_TYPE_NON_DELIVERY),
      cfg::RECORD_TYPE_UNSPECIFIED);
  EXPECT_EQ(
      PolicyEngine::RecordTypeOf(static_cast<ehx::exchange::v1::EventType>(77)),
      cfg::RECORD_TYPE_UNSPECIFIED);
}

TEST(PolicyEngineTest, EveryEventTypeButNonDeliveryHasARecordType) {
  const auto* d = ehx::exchange::v1::EventType_descriptor();
  for (int i = 0; i < d->value_count(); ++i) {
    const auto t =
        static_cast<ehx::exchange::v1::EventType>(d->value(i)->number());
    const bool none = t == ehx::exchange::v1::EVENT_TYPE_UNSPECIFIED ||
                      t == ehx::exchange::v1::EVENT_TYPE_NON_DELIVERY;
    EXPECT_EQ(PolicyEngine::RecordTypeOf(t) == cfg::RECORD_TYPE_UNSPECIFIED,
              none)
        << d->value(i)->name();
  }
}

// A consent update event, as the projection records it.
Envelope ConsentEvent(const std::string& id, ehx::cases::v1::ConsentState state,
                      std::vector<std::string> scope,
                      std::vector<ehx::cases::v1::ConsentPurpose> purposes) {
  Envelope e;
  e.set_event_type(ehx::exchange::v1::EVENT_TYPE_CONSENT_UPDATED);
  e.set_case_ref("EH-1");
  e.set_sender_agency("early-help");
  e.set_message_id("m-" + id + std::to_string(state));
  auto* c = e.mutable_consent();
  c->set_consent_id(id);
  c->set_state(state);
  for (auto& s : scope) c->add_scope_agency_ids(s);
  for (auto p : purposes) c->add_scope_purposes(p);
  return e;
}

void Apply(const Envelope& e, CaseRecord* r) {
  ehx::pipeline::ApplyToRecord(e, {}, r);
}

TEST(PolicyEngineTest, DerivesBasisFromConsentAndLegalBasis) {
  const std::set<int> info = {
      ehx::cases::v1::CONSENT_PURPOSE_INFORMATION_SHARING};
  Envelope caf =
      LoadEnvelope(Src("deploy/demo/messages/02-caf-notification.json"));
  caf.set_sender_agency("early-help");
  CaseRecord rec;
  // Cited by the CAF, not held by the gateway.
  EXPECT_EQ(PolicyEngine::DeriveBasis("school-oakfield", caf, rec, info),
            cfg::SHARING_BASIS_CONSENT_CITED);
  Envelope bare = caf;
  bare.mutable_caf_notification()->clear_consent_id();
  EXPECT_EQ(PolicyEngine::DeriveBasis("school-oakfield", bare, rec, info),
            cfg::SHARING_BASIS_NO_CONSENT);
  // Given, naming the school, for information sharing.
  Apply(ConsentEvent("consent-0001", ehx::cases::v1::CONSENT_STATE_GIVEN,
                     {"school-oakfield", "health-visiting"},
                     {ehx::cases::v1::CONSENT_PURPOSE_INFORMATION_SHARING}),
        &rec);
  EXPECT_EQ(PolicyEngine::DeriveBasis("school-oakfield", caf, rec, info),
            cfg::SHARING_BASIS_CONSENT_IN_SCOPE);
  // Not for this purpose / not naming the recipient.
  EXPECT_EQ(
      PolicyEngine::DeriveBasis("school-oakfield", caf, rec,
                                {ehx::cases::v1::CONSENT_PURPOSE_REFERRAL}),
      cfg::SHARING_BASIS_CONSENT_OUT_OF_SCOPE);
  EXPECT_EQ(
      PolicyEngine::DeriveBasis("role-supporting-families", caf, rec, info),
      cfg::SHARING_BASIS_CONSENT_OUT_OF_SCOPE);
  // Withdrawn (the withdrawal may leave the scope out: it is kept).
  Apply(ConsentEvent("consent-0001", ehx::cases::v1::CONSENT_STATE_WITHDRAWN,
                     {}, {}),
        &rec);
  ASSERT_EQ(rec.consents(0).scope_agency_ids_size(), 2);
  EXPECT_EQ(PolicyEngine::DeriveBasis("school-oakfield", caf, rec, info),
            cfg::SHARING_BASIS_CONSENT_WITHDRAWN);
  EXPECT_EQ(PolicyEngine::DeriveBasis("school-oakfield", bare, rec, info),
            cfg::SHARING_BASIS_CONSENT_WITHDRAWN);
  // Refused, for another consent naming the school, later.
  Apply(ConsentEvent("consent-0002", ehx::cases::v1::CONSENT_STATE_REFUSED,
                     {"school-oakfield"}, {}),
        &rec);
  EXPECT_EQ(PolicyEngine::DeriveBasis("school-oakfield", caf, rec, info),
            cfg::SHARING_BASIS_CONSENT_REFUSED);
  // Significant harm: consent never blocks it.
  Envelope ref =
      LoadEnvelope(Src("deploy/demo/messages/03-step-up-referral.json"));
  EXPECT_EQ(PolicyEngine::DeriveBasis("csc-front-door", ref, rec, {}),
            cfg::SHARING_BASIS_SIGNIFICANT_HARM);
  ref.mutable_step_up_referral()->set_significant_harm(false);
  EXPECT_EQ(PolicyEngine::DeriveBasis("csc-front-door", ref, rec, {}),
            cfg::SHARING_BASIS_SIGNIFICANT_HARM);  // legal basis SAFEGUARDING
  ref.mutable_step_up_referral()->mutable_legal_basis()->set_kind(
      ehx::cases::v1::LEGAL_BASIS_KIND_STATUTORY_DUTY);
  EXPECT_EQ(PolicyEngine::DeriveBasis("csc-front-door", ref, rec, {}),
            cfg::SHARING_BASIS_STATUTORY_DUTY);
  ref.mutable_step_up_referral()->clear_legal_basis();
  ref.mutable_step_up_referral()->set_parents_consent(
      ehx::cases::v1::REFERRAL_CONSENT_GIVEN);
  EXPECT_EQ(PolicyEngine::DeriveBasis("csc-front-door", ref, CaseRecord(), {}),
            cfg::SHARING_BASIS_CONSENT_CITED);
  ref.mutable_step_up_referral()->set_parents_consent(
      ehx::cases::v1::REFERRAL_CONSENT_REFUSED);
  EXPECT_EQ(PolicyEngine::DeriveBasis("csc-front-door", ref, CaseRecord(), {}),
            cfg::SHARING_BASIS_CONSENT_REFUSED);
}

TEST(PolicyEngineTest, PartiesComeFromTheSharedRecordNotFromRouting) {
  CaseRecord rec;
  Envelope opened =
      LoadEnvelope(Src("deploy/demo/messages/01-case-opened.json"));
  opened.set_sender_agency("early-help");
  ehx::pipeline::ApplyToRecord(opened, {"role-other"}, &rec);
  EXPECT_TRUE(PolicyEngine::IsParty("school-oakfield", rec));
  EXPECT_TRUE(PolicyEngine::IsParty("early-help", rec));
  // Being a recipient never makes an agency a party.
  EXPECT_FALSE(PolicyEngine::IsParty("role-other", rec));
  EXPECT_FALSE(PolicyEngine::IsParty("csc-front-door", rec));
  Envelope ref =
      LoadEnvelope(Src("deploy/demo/messages/03-step-up-referral.json"));
  ref.set_sender_agency("early-help");
  ehx::pipeline::ApplyToRecord(ref, {"csc-front-door"}, &rec);
  EXPECT_TRUE(
      PolicyEngine::IsParty("csc-front-door", rec));  // CSC once referred
  Envelope taf;
  taf.set_event_type(ehx::exchange::v1::EVENT_TYPE_TAF_MEETING);
  taf.mutable_taf_meeting()
      ->add_attendees()
      ->mutable_practitioner()
      ->set_agency_id("role-health");
  ehx::pipeline::ApplyToRecord(taf, {}, &rec);
  EXPECT_TRUE(PolicyEngine::IsParty("role-health", rec));
}

// The demo story against the default policy.
TEST(PolicyEngineTest, DemoFlowsAreAllowedByTheDefaultPolicy) {
  auto engine = PolicyEngine::Create(DefaultPolicyConfig());
  ASSERT_TRUE(engine->ok());
  CaseRecord rec;
  auto step = [&](const char* file, const std::string& sender,
                  const std::vector<std::string>& to,
                  const std::vector<std::string>& not_to) {
    Envelope e = LoadEnvelope(Src(std::string("deploy/demo/messages/") + file));
    e.set_sender_agency(sender);
    e.set_message_id(file);
    CaseRecord after = rec;
    ehx::pipeline::ApplyToRecord(e, {}, &after);
    for (const auto& a : to) {
      Decision d = engine->Evaluate(a, e, after);
      EXPECT_TRUE(d.share) << file << " to " << a << ": "
                           << engine->AuditDetail(a, d);
    }
    for (const auto& a : not_to) {
      Decision d = engine->Evaluate(a, e, after);
      EXPECT_FALSE(d.share)
          << file << " to " << a << ": " << engine->AuditDetail(a, d);
    }
    ehx::pipeline::ApplyToRecord(e, to, &rec);
  };
  step("01-case-opened.json", "early-help",
       {"school-oakfield", "health-visiting"},
       {"role-other", "new-school", "role-supporting-families"});
  step("02-caf-notification.json", "early-help",
       {"school-oakfield", "health-visiting"}, {"role-other", "role-school"});
  step("03-step-up-referral.json", "early-help",
       {"csc-front-door", "role-csc-front-door"},
       {"school-oakfield", "role-other"});
  step("04-referral-outcome.json", "csc-front-door", {"early-help"},
       {"role-school"});
  step("05-step-down.json", "csc-front-door", {"early-help"}, {"role-other"});
}

TEST(PolicyEngineTest, SignificantHarmReferralReachesFrontDoorWhateverConsent) {
  auto engine = PolicyEngine::Create(DefaultPolicyConfig());
  Envelope ref =
      LoadEnvelope(Src("deploy/demo/messages/03-step-up-referral.json"));
  ref.set_sender_agency("role-other");  // e.g. police
  ref.mutable_step_up_referral()->set_parents_consent(
      ehx::cases::v1::REFERRAL_CONSENT_REFUSED);
  CaseRecord rec;
  Apply(ConsentEvent("c", ehx::cases::v1::CONSENT_STATE_WITHDRAWN,
                     {"csc-front-door"}, {}),
        &rec);
  Decision d = engine->Evaluate("csc-front-door", ref, rec);
  EXPECT_TRUE(d.share);
  EXPECT_EQ(d.rule_id, kRuleSignificantHarmFrontDoor);
  EXPECT_FALSE(d.party);
  EXPECT_EQ(
      engine->AuditDetail("csc-front-door", d),
      "to=csc-front-door record=RECORD_TYPE_STEP_UP_REFERRAL "
      "basis=SHARING_BASIS_SIGNIFICANT_HARM party=no "
      "rule=builtin-significant-harm-front-door policy=2026-01-default-2");
  // Without significant harm and with consent refused it is withheld.
  ref.mutable_step_up_referral()->set_significant_harm(false);
  ref.mutable_step_up_referral()->clear_legal_basis();
  d = engine->Evaluate("csc-front-door", ref, CaseRecord());
  EXPECT_FALSE(d.share);
  EXPECT_EQ(d.basis, cfg::SHARING_BASIS_CONSENT_REFUSED);
}

}  // namespace
}  // namespace ehx::policy
