// Rule-level tests of ValidateEnvelope. Baselines come from the valid corpus
// (tests/conformance/valid); each test breaks one thing.
#include "validate/validate.h"

#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "corpus_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace ehx::validate {

// Readable gMock output.
void PrintTo(const FieldViolation& v, std::ostream* os) {
  *os << v.field << " " << v.rule;
}

namespace {

namespace cv1 = ::ehx::cases::v1;
namespace ex = ::ehx::exchange::v1;
using ::ehx::validate::testing::ValidEnvelope;
using ::google::protobuf::util::TimeUtil;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::Not;

auto Violation(const std::string& field, const std::string& rule) {
  return AllOf(Field(&FieldViolation::field, field),
               Field(&FieldViolation::rule, rule));
}

const absl::Time kNow = absl::FromCivil(
    absl::CivilSecond(2026, 10, 15, 12, 0, 0), absl::UTCTimeZone());

google::protobuf::Timestamp At(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

const char* const kStems[] = {
    "case-opened",        "caf-notification", "assessment",
    "plan-updated",       "taf-meeting",      "step-up-referral",
    "referral-outcome",   "step-down",        "case-closed",
    "document-attached",  "person-updated",   "consent-updated",
    "attendance-summary", "outcome-evidence"};

TEST(ValidateTest, BaselinesAreClean) {
  for (const char* stem : kStems) {
    EXPECT_THAT(ValidateEnvelope(ValidEnvelope(stem), kNow), IsEmpty()) << stem;
  }
}

TEST(ValidateTest, EmptyEnvelopeReportsEveryRequiredEnvelopeField) {
  const auto v = ValidateEnvelope(ex::Envelope(), kNow);
  EXPECT_THAT(v, Contains(Violation("idempotency_key", "required")));
  EXPECT_THAT(v, Contains(Violation("case_ref", "required")));
  EXPECT_THAT(v, Contains(Violation("event_type", "required")));
  EXPECT_THAT(v, Contains(Violation("payload", "required")));
  EXPECT_THAT(v, Contains(Violation("occurred_at", "required")));
}

TEST(ValidateTest, EveryWrongEventTypeIsAMismatch) {
  for (const char* stem : kStems) {
    const ex::Envelope base = ValidEnvelope(stem);
    for (int t = 1; t <= 14; ++t) {
      if (t == base.event_type()) continue;
      ex::Envelope e = base;
      e.set_event_type(static_cast<ex::EventType>(t));
      EXPECT_THAT(
          ValidateEnvelope(e, kNow),
          Contains(Violation("event_type", "event_type_payload_mismatch")))
          << stem << " as " << t;
    }
  }
}

TEST(ValidateTest, IdempotencyKeyLimits) {
  ex::Envelope e = ValidEnvelope("case-opened");
  e.set_idempotency_key(std::string(128, 'k'));
  EXPECT_THAT(ValidateEnvelope(e, kNow), IsEmpty());
  e.set_idempotency_key(std::string(129, 'k'));
  EXPECT_THAT(
      ValidateEnvelope(e, kNow),
      Contains(Violation("idempotency_key", "idempotency_key_too_long")));
  e.set_idempotency_key(std::string("a\0b", 3));
  EXPECT_THAT(
      ValidateEnvelope(e, kNow),
      Contains(Violation("idempotency_key", "idempotency_key_not_printable")));
}

TEST(ValidateTest, CaseRefPattern) {
  ex::Envelope e = ValidEnvelope("caf-notification");
  for (const char* ok : {"EH-2026-000123", "a", "case_1.2"}) {
    e.set_case_ref(ok);
    EXPECT_THAT(ValidateEnvelope(e, kNow), IsEmpty()) << ok;
  }
  for (const char* bad : {"-EH", "EH 1", "EH/1", "Zoë-1", "EH\n1"}) {
    e.set_case_ref(bad);
    EXPECT_THAT(ValidateEnvelope(e, kNow),
                Contains(Violation("case_ref", "case_ref_format")))
        << bad;
  }
}

TEST(ValidateTest, OccurredAtClockSkewAndRange) {
  ex::Envelope e = ValidEnvelope("caf-notification");
  *e.mutable_occurred_at() = At(kNow + absl::Minutes(4));
  EXPECT_THAT(ValidateEnvelope(e, kNow), IsEmpty());
  *e.mutable_occurred_at() = At(kNow + absl::Minutes(6));
  EXPECT_THAT(ValidateEnvelope(e, kNow),
              Contains(Violation("occurred_at", "occurred_at_in_future")));
  e.mutable_occurred_at()->set_seconds(-2208988801);  // 1899-12-31T23:59:59Z
  EXPECT_THAT(ValidateEnvelope(e, kNow),
              Contains(Violation("occurred_at", "occurred_at_too_old")));
  e.mutable_occurred_at()->set_seconds(0);
  e.mutable_occurred_at()->set_nanos(-1);
  EXPECT_THAT(ValidateEnvelope(e, kNow),
              Contains(Violation("occurred_at", "timestamp_invalid")));
}

TEST(ValidateTest, NestedTimestampOutOfRange) {
  ex::Envelope e = ValidEnvelope("plan-updated");
  e.mutable_plan()
      ->mutable_actions(0)
      ->mutable_progress_notes(0)
      ->mutable_written_at()
      ->set_seconds(-62135596801);
  EXPECT_THAT(ValidateEnvelope(e, kNow),
              Contains(Violation("plan.actions[0].progress_notes[0].written_at",
                                 "timestamp_invalid")));
}

TEST(ValidateTest, TtlNotNegative) {
  ex::Envelope e = ValidEnvelope("caf-notification");
  e.mutable_ttl()->set_seconds(0);
  EXPECT_THAT(ValidateEnvelope(e, kNow), IsEmpty());
  e.mutable_ttl()->set_seconds(-1);
  EXPECT_THAT(ValidateEnvelope(e, kNow),
              Contains(Violation("ttl", "ttl_negative")));
}

TEST(ValidateTest, NonDeliveryIsNeverPublishable) {
  ex::Envelope e = ValidEnvelope("caf-notification");
  e.set_event_type(ex::EVENT_TYPE_NON_DELIVERY);
  e.mutable_non_delivery()->set_reason("ttl_expired");
  const auto v = ValidateEnvelope(e, kNow);
  EXPECT_THAT(
      v, Contains(Violation("event_type", "non_delivery_not_publishable")));
  EXPECT_THAT(
      v, Contains(Violation("non_delivery", "non_delivery_not_publishable")));
}

TEST(ValidateTest, NhsNumberRulesApplyToEveryPerson) {
  ex::Envelope e = ValidEnvelope("step-up-referral");
  auto* child = e.mutable_step_up_referral()->mutable_children(0);
  child->mutable_identifiers(0)->set_value("9990000035");
  auto* member = e.mutable_step_up_referral()->mutable_household_members(0);
  member->mutable_identifiers(0)->set_value(
      "999000014"
      "3");
  const auto v = ValidateEnvelope(e, kNow);
  EXPECT_THAT(
      v, Contains(Violation("step_up_referral.children[0].identifiers[0].value",
                            "nhs_number_modulus11")));
  EXPECT_THAT(v,
              Contains(Violation(
                  "step_up_referral.household_members[0].identifiers[0].value",
                  "nhs_number_modulus11")));
}

TEST(ValidateTest, IdentifierMarkedInvalidIsNotRejudged) {
  ex::Envelope e = ValidEnvelope("step-up-referral");
  auto* id =
      e.mutable_step_up_referral()->mutable_children(0)->mutable_identifiers(0);
  id->set_value("9990000019");
  id->set_verification(cv1::VERIFICATION_STATUS_INVALID);
  EXPECT_THAT(ValidateEnvelope(e, kNow), IsEmpty());
}

TEST(ValidateTest, TemporaryUpnMustBeFlagged) {
  ex::Envelope e = ValidEnvelope("step-up-referral");
  auto* id =
      e.mutable_step_up_referral()->mutable_children(0)->mutable_identifiers(1);
  id->set_value("B80120000501T");
  id->set_verification(cv1::VERIFICATION_STATUS_VERIFIED);
  EXPECT_THAT(ValidateEnvelope(e, kNow),
              Contains(Violation(
                  "step_up_referral.children[0].identifiers[1].verification",
                  "upn_temporary_not_flagged")));
  id->set_verification(cv1::VERIFICATION_STATUS_TEMPORARY);
  EXPECT_THAT(ValidateEnvelope(e, kNow), IsEmpty());
}

TEST(ValidateTest, DateOfBirthTodayIsFineTomorrowIsNot) {
  ex::Envelope e = ValidEnvelope("case-opened");
  auto* dob =
      e.mutable_case_opened()->mutable_children(0)->mutable_date_of_birth();
  dob->set_year(2026);
  dob->set_month(10);
  dob->set_day(15);
  EXPECT_THAT(ValidateEnvelope(e, kNow), IsEmpty());
  dob->set_day(16);
  EXPECT_THAT(ValidateEnvelope(e, kNow),
              Contains(Violation("case_opened.children[0].date_of_birth",
                                 "date_of_birth_in_future")));
}

TEST(ValidateTest, UnbornChildWithEdd) {
  ex::Envelope e = ValidEnvelope("case-opened");
  auto* child = e.mutable_case_opened()->mutable_children(0);
  child->clear_date_of_birth();
  child->set_unborn(true);
  child->mutable_expected_date_of_delivery()->set_year(2026);
  child->mutable_expected_date_of_delivery()->set_month(8);
  child->mutable_expected_date_of_delivery()->set_day(31);
  // An unborn child has no NHS number or UPN yet; keep only the local id.
  child->mutable_identifiers()->DeleteSubrange(0, 2);
  EXPECT_THAT(ValidateEnvelope(e, kNow), IsEmpty());
  child->mutable_expected_date_of_delivery()->set_day(32);
  EXPECT_THAT(
      ValidateEnvelope(e, kNow),
      Contains(Violation("case_opened.children[0].expected_date_of_delivery",
                         "date_invalid")));
}

TEST(ValidateTest, StepUpSignificantHarmFalseIsExplicit) {
  ex::Envelope e = ValidEnvelope("step-up-referral");
  e.mutable_step_up_referral()->set_significant_harm(false);
  EXPECT_THAT(ValidateEnvelope(e, kNow), IsEmpty());
  e.mutable_step_up_referral()->clear_significant_harm();
  EXPECT_THAT(ValidateEnvelope(e, kNow),
              Contains(Violation("step_up_referral.significant_harm",
                                 "step_up_significant_harm_not_stated")));
}

TEST(ValidateTest, StepUpParentsNotInformedWithReasonIsFine) {
  ex::Envelope e = ValidEnvelope("step-up-referral");
  auto* r = e.mutable_step_up_referral();
  r->set_parents_informed(cv1::YES_NO_UNKNOWN_NO);
  r->set_parents_consent(cv1::REFERRAL_CONSENT_NOT_SOUGHT);
  r->set_parents_not_informed_reason(
      "Telling the mother may place the child at risk.");
  EXPECT_THAT(ValidateEnvelope(e, kNow), IsEmpty());
}

TEST(ValidateTest, StepDownNeedsRc9AndNamedLead) {
  ex::Envelope e = ValidEnvelope("step-down");
  e.mutable_step_down()->set_closure_reason("rc9");
  e.mutable_step_down()->mutable_lead_practitioner()->clear_name();
  const auto v = ValidateEnvelope(e, kNow);
  EXPECT_THAT(v, Contains(Violation("step_down.closure_reason",
                                    "step_down_reason_rc9")));
  EXPECT_THAT(v, Contains(Violation("step_down.lead_practitioner",
                                    "step_down_lead_practitioner_required")));
}

TEST(ValidateTest, PlanActionOwnedByFamilyMemberIsFine) {
  ex::Envelope e = ValidEnvelope("plan-updated");
  auto* a = e.mutable_plan()->mutable_actions(0);
  a->clear_owner();
  a->set_owner_person_id("p-aoife");
  EXPECT_THAT(ValidateEnvelope(e, kNow), IsEmpty());
}

// Collects every string that is personal data or an identifier in the
// envelope: names, identifier values, the case ref and the key.
void CollectSensitive(const google::protobuf::Message& m,
                      std::vector<std::string>* out) {
  const auto* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f); ++i) {
          CollectSensitive(r->GetRepeatedMessage(m, f, i), out);
        }
      } else {
        CollectSensitive(r->GetMessage(m, f), out);
      }
    } else if (f->cpp_type() ==
                   google::protobuf::FieldDescriptor::CPPTYPE_STRING &&
               !f->is_repeated()) {
      const std::string& name = f->name();
      if (name == "given" || name == "family" || name == "value" ||
          name == "case_ref" || name == "idempotency_key" ||
          name == "concerns" || name == "words" || name == "closure_reason") {
        const std::string v = r->GetString(m, f);
        if (v.size() >= 3) out->push_back(v);
      }
    }
  }
}

TEST(ValidateTest, DescriptionsNeverEchoValuesOrPersonalData) {
  ex::Envelope e = ValidEnvelope("step-up-referral");
  e.set_case_ref("EH 2026/Zoë");
  e.set_idempotency_key("key-with-Wiśniewski-" + std::string(130, 'x'));
  auto* r = e.mutable_step_up_referral();
  auto* child = r->mutable_children(0);
  child->mutable_legal_name()->set_given("Zoë");
  child->mutable_legal_name()->set_family("Ó Súilleabháin-Wiśniewski");
  child->mutable_identifiers(0)->set_value("9990000019");
  child->mutable_identifiers(1)->set_value("A820999925001");
  child->mutable_date_of_birth()->set_month(2);
  child->mutable_date_of_birth()->set_day(30);
  child->set_unborn(true);
  r->mutable_household_members(0)->mutable_identifiers(0)->set_value(
      "943 476 5919");
  r->mutable_household_members(0)->mutable_legal_name()->set_family(
      "Wiśniewski");
  r->clear_whereabouts();
  r->set_parents_informed(cv1::YES_NO_UNKNOWN_NO);
  r->mutable_referrer()->clear_agency_id();
  e.mutable_occurred_at()->set_seconds(4102444800);  // 2100-01-01

  std::vector<std::string> sensitive;
  CollectSensitive(e, &sensitive);
  sensitive.push_back("2019");  // the date of birth's year
  sensitive.push_back("9990000019");
  ASSERT_GT(sensitive.size(), 10u);

  const auto v = ValidateEnvelope(e, kNow);
  ASSERT_GE(v.size(), 8u);
  for (const auto& violation : v) {
    EXPECT_FALSE(violation.description.empty()) << violation.rule;
    for (const auto& s : sensitive) {
      EXPECT_EQ(violation.description.find(s), std::string::npos)
          << violation.rule << " echoes a value";
      EXPECT_EQ(violation.field.find(s), std::string::npos)
          << violation.rule << " field path echoes a value";
    }
  }
}

TEST(ValidateTest, ThreadSafeAndDeterministic) {
  ex::Envelope e = ValidEnvelope("step-up-referral");
  e.mutable_step_up_referral()
      ->mutable_children(0)
      ->mutable_identifiers(0)
      ->set_value("9990000019");
  const auto expected = ValidateEnvelope(e, kNow);
  ASSERT_FALSE(expected.empty());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const auto got = ValidateEnvelope(e, kNow);
        if (got.size() != expected.size() ||
            got[0].field != expected[0].field) {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace ehx::validate
