// Runs the conformance corpora through the validator:
//   tests/conformance/valid/*.json      must validate clean;
//   tests/conformance/malformed/*.json  must raise every expected violation;
//   deploy/demo/messages/*.json         the demo story must validate clean.
#include <filesystem>
#include <set>
#include <string>

#include "corpus_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "validate/validate.h"

namespace ehx::validate {
namespace {

using ::ehx::validate::testing::CorpusFile;
using ::ehx::validate::testing::JsonFiles;
using ::ehx::validate::testing::LoadBare;
using ::ehx::validate::testing::LoadWrapped;

const std::filesystem::path kRoot(EHX_SOURCE_DIR);

std::string Describe(const std::vector<FieldViolation>& vs) {
  std::string out;
  for (const auto& v : vs) out += "\n  " + v.field + " " + v.rule;
  return out.empty() ? " (none)" : out;
}

TEST(ValidCorpusTest, EveryFileValidatesClean) {
  const auto files = JsonFiles(kRoot / "tests/conformance/valid");
  ASSERT_GE(files.size(), 14u);
  std::set<int> event_types;
  for (const auto& path : files) {
    CorpusFile file;
    std::string error;
    ASSERT_TRUE(LoadWrapped(path, &file, &error)) << path << ": " << error;
    EXPECT_TRUE(file.expect.empty()) << path << " must not carry expect";
    const auto violations = ValidateEnvelope(file.envelope);
    EXPECT_TRUE(violations.empty()) << path << Describe(violations);
    event_types.insert(file.envelope.event_type());
  }
  // Every publishable event type (1..14) is represented.
  for (int t = 1; t <= 14; ++t) {
    EXPECT_TRUE(event_types.count(t))
        << "no valid envelope for event type " << t;
  }
}

TEST(ValidCorpusTest, DemoStoryValidatesClean) {
  const auto files = JsonFiles(kRoot / "deploy/demo/messages");
  ASSERT_EQ(files.size(), 5u);
  std::string referral_correlation;
  for (const auto& path : files) {
    ehx::exchange::v1::Envelope e;
    std::string error;
    ASSERT_TRUE(LoadBare(path, &e, &error)) << path << ": " << error;
    const auto violations = ValidateEnvelope(e);
    EXPECT_TRUE(violations.empty()) << path << Describe(violations);
    EXPECT_EQ(e.case_ref(), "EH-2026-000123") << path;
    EXPECT_TRUE(e.sender_agency().empty()) << path;
    EXPECT_TRUE(e.message_id().empty()) << path;
    if (e.has_step_up_referral()) {
      EXPECT_TRUE(e.step_up_referral().significant_harm());
      EXPECT_EQ(e.step_up_referral().referrer().agency_id(), "early-help");
      referral_correlation = e.correlation_id();
    }
    if (e.has_referral_outcome()) {
      EXPECT_EQ(e.referral_outcome().decision(),
                ehx::cases::v1::REFERRAL_DECISION_S17_ASSESSMENT);
      EXPECT_EQ(e.correlation_id(), "ref-0001");
    }
    if (e.has_case_opened()) {
      EXPECT_THAT(
          e.case_opened().agencies_involved(),
          ::testing::IsSupersetOf({"school-oakfield", "health-visiting"}));
    }
    if (e.has_step_down()) {
      EXPECT_EQ(e.step_down().closure_reason(), "RC9");
      EXPECT_EQ(e.step_down().lead_practitioner().agency_id(), "early-help");
    }
  }
  EXPECT_EQ(referral_correlation, "ref-0001");
}

// Every rule id the validator can emit from JSON input. timestamp_invalid is
// not here: the JSON mapping cannot express an out-of-range Timestamp (it is
// covered in validate_test.cc).
const char* const kAllRules[] = {
    "required",
    "idempotency_key_too_long",
    "idempotency_key_not_printable",
    "case_ref_format",
    "event_type_unknown",
    "event_type_payload_mismatch",
    "non_delivery_not_publishable",
    "ttl_negative",
    "occurred_at_in_future",
    "occurred_at_too_old",
    "correlation_id_required",
    "date_invalid",
    "date_range_reversed",
    "nhs_number_format",
    "nhs_number_modulus11",
    "nhs_number_placeholder",
    "upn_format",
    "upn_check_letter",
    "upn_temporary_not_flagged",
    "upn_permanent_flagged_temporary",
    "date_of_birth_in_future",
    "edd_only_for_unborn",
    "unborn_with_date_of_birth",
    "edd_required_for_unborn",
    "legal_basis_reason_required",
    "legal_basis_decision_maker_required",
    "case_id_mismatch",
    "step_down_origin_requires_cin_episode",
    "assessment_element_domain_mismatch",
    "parent_view_reason_required",
    "plan_action_owner_required",
    "plan_action_due_date_required",
    "taf_not_invited_reason_required",
    "step_up_significant_harm_not_stated",
    "step_up_child_not_identified",
    "step_up_referrer_contact_required",
    "step_up_whereabouts_required",
    "step_up_parents_not_informed_reason_required",
    "step_up_consent_not_sought_reason_required",
    "decided_at_in_future",
    "step_down_reason_rc9",
    "step_down_lead_practitioner_required",
    "document_sha256_format",
    "negative_count",
    "consent_giver_required",
    "consent_subject_required",
    "consent_scope_required",
    "consent_withdrawn_date_required",
    "academic_year_format",
    "attendance_sessions_exceed_possible",
    "unmapped_path_too_long",
    "unmapped_raw_too_long",
    "unmapped_too_many",
};

TEST(MalformedCorpusTest, EveryFileRaisesItsExpectedViolations) {
  const auto files = JsonFiles(kRoot / "tests/conformance/malformed");
  ASSERT_GE(files.size(), 50u);
  std::set<std::string> covered;
  for (const auto& path : files) {
    CorpusFile file;
    std::string error;
    ASSERT_TRUE(LoadWrapped(path, &file, &error)) << path << ": " << error;
    EXPECT_FALSE(file.description.empty()) << path;
    ASSERT_FALSE(file.expect.empty()) << path << " has no expect";
    const auto violations = ValidateEnvelope(file.envelope);
    for (const auto& want : file.expect) {
      bool found = false;
      for (const auto& got : violations) {
        if (got.field == want.field && got.rule == want.rule) found = true;
      }
      EXPECT_TRUE(found) << path.filename() << ": missing " << want.field << " "
                         << want.rule << "; got" << Describe(violations);
      covered.insert(want.rule);
    }
  }
  for (const char* rule : kAllRules) {
    EXPECT_TRUE(covered.count(rule)) << "no malformed file covers " << rule;
  }
}

TEST(MalformedCorpusTest, FileNamesAreNumbered) {
  for (const auto& path : JsonFiles(kRoot / "tests/conformance/malformed")) {
    const std::string name = path.filename().string();
    ASSERT_GE(name.size(), 5u);
    EXPECT_TRUE(std::isdigit(name[0]) && std::isdigit(name[1]) &&
                std::isdigit(name[2]) && name[3] == '-')
        << name << " is not NNN-short-name.json";
  }
}

}  // namespace
}  // namespace ehx::validate
