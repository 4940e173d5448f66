// Envelope validation. Rule ids are stable: clients and the conformance
// corpus (tests/conformance/malformed) depend on them.
//
// Generic rules, applied wherever the type appears (found by reflection):
//   date_invalid, timestamp_invalid                       Date / Timestamp
//   nhs_number_format, nhs_number_modulus11, nhs_number_placeholder,
//   upn_format, upn_check_letter, upn_temporary_not_flagged,
//   upn_permanent_flagged_temporary, required (system / value)  Identifier
//   date_of_birth_in_future, edd_only_for_unborn, unborn_with_date_of_birth,
//   edd_required_for_unborn                                Person
//   legal_basis_reason_required, legal_basis_decision_maker_required
// Envelope rules: required, idempotency_key_too_long,
//   idempotency_key_not_printable, case_ref_format, event_type_unknown,
//   event_type_payload_mismatch, non_delivery_not_publishable, ttl_negative,
//   occurred_at_in_future, occurred_at_too_old, correlation_id_required.
// Payload rules: see the Check* functions below.
#include "validate/validate.h"

#include <cctype>
#include <cstdint>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "ehx/cases/v1/cases.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "validate/identifiers.h"

namespace ehx::validate {
namespace {

namespace cv1 = ::ehx::cases::v1;
namespace ex = ::ehx::exchange::v1;
namespace pb = ::google::protobuf;

constexpr size_t kMaxIdempotencyKey = 128;
constexpr size_t kMaxCaseRef = 64;
constexpr size_t kMaxUnmappedPath = 512;
constexpr size_t kMaxUnmappedRaw = 64 * 1024;
constexpr int kMaxUnmapped = 256;
constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);
// Range of google.protobuf.Timestamp: 0001-01-01 .. 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
// 1900-01-01T00:00:00Z.
constexpr int64_t k1900Seconds = -2208988800;

std::string Sub(absl::string_view path, absl::string_view name) {
  return path.empty() ? std::string(name) : absl::StrCat(path, ".", name);
}

std::string Idx(absl::string_view path, absl::string_view name, int i) {
  return absl::StrCat(Sub(path, name), "[", i, "]");
}

bool TimestampInRange(const pb::Timestamp& t) {
  return t.seconds() >= kMinTimestampSeconds &&
         t.seconds() <= kMaxTimestampSeconds && t.nanos() >= 0 &&
         t.nanos() <= 999999999;
}

absl::Time ToTime(const pb::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

bool DateValid(const cv1::Date& d) {
  return IsValidCalendarDate(d.year(), d.month(), d.day());
}

absl::CivilDay ToCivil(const cv1::Date& d) {
  return absl::CivilDay(d.year(), d.month(), d.day());
}

bool NameSet(const cv1::HumanName& n) {
  return !n.given().empty() || !n.family().empty() || !n.text().empty();
}

// A person is identified by a name or at least one identifier value.
bool Identified(const cv1::Person& p) {
  if (NameSet(p.legal_name()) || NameSet(p.preferred_name())) return true;
  for (const auto& id : p.identifiers()) {
    if (!id.value().empty()) return true;
  }
  return false;
}

// Payload field expected for each publishable event type.
ex::Envelope::PayloadCase ExpectedPayload(ex::EventType t) {
  using E = ex::Envelope;
  switch (t) {
    case ex::EVENT_TYPE_CASE_OPENED:
      return E::kCaseOpened;
    case ex::EVENT_TYPE_CAF_NOTIFICATION:
      return E::kCafNotification;
    case ex::EVENT_TYPE_ASSESSMENT:
      return E::kAssessment;
    case ex::EVENT_TYPE_PLAN_UPDATED:
      return E::kPlan;
    case ex::EVENT_TYPE_TAF_MEETING:
      return E::kTafMeeting;
    case ex::EVENT_TYPE_STEP_UP_REFERRAL:
      return E::kStepUpReferral;
    case ex::EVENT_TYPE_REFERRAL_OUTCOME:
      return E::kReferralOutcome;
    case ex::EVENT_TYPE_STEP_DOWN:
      return E::kStepDown;
    case ex::EVENT_TYPE_CASE_CLOSED:
      return E::kCaseClosure;
    case ex::EVENT_TYPE_DOCUMENT_ATTACHED:
      return E::kDocument;
    case ex::EVENT_TYPE_PERSON_UPDATED:
      return E::kPersonUpdate;
    case ex::EVENT_TYPE_CONSENT_UPDATED:
      return E::kConsent;
    case ex::EVENT_TYPE_ATTENDANCE_SUMMARY:
      return E::kAttendanceSummary;
    case ex::EVENT_TYPE_OUTCOME_EVIDENCE:
      return E::kOutcomeEvidence;
    case ex::EVENT_TYPE_NON_DELIVERY:
      return E::kNonDelivery;
    default:
      return E::PAYLOAD_NOT_SET;
  }
}

// The domain an element belongs to (by the numbering convention in
// assessment.proto).
cv1::AssessmentDomain DomainOf(cv1::AssessmentElement e) {
  const int v = static_cast<int>(e);
  if (v >= 1 && v < 20) return cv1::ASSESSMENT_DOMAIN_CHILD_DEVELOPMENT;
  if (v >= 20 && v < 40) return cv1::ASSESSMENT_DOMAIN_PARENTING_CAPACITY;
  if (v >= 40 && v < 60) return cv1::ASSESSMENT_DOMAIN_FAMILY_AND_ENVIRONMENT;
  return cv1::ASSESSMENT_DOMAIN_UNSPECIFIED;
}

// Collects violations for one envelope. Not shared between threads: one
// Checker per call.
class Checker {
 public:
  explicit Checker(absl::Time now)
      : now_(now), today_(absl::ToCivilDay(now, absl::UTCTimeZone())) {}

  std::vector<FieldViolation> Take() { return std::move(out_); }

  void CheckEnvelope(const ex::Envelope& e);

 private:
  void Add(std::string field, std::string_view rule,
           std::string_view description) {
    out_.push_back(
        {std::move(field), std::string(rule), std::string(description)});
  }
  void Required(bool ok, std::string field, absl::string_view what) {
    if (!ok)
      Add(std::move(field), "required", absl::StrCat(what, " must be set"));
  }

  // Generic, reflection-driven checks on every nested message.
  void Walk(const pb::Message& m, const std::string& path);
  void CheckDate(const cv1::Date& d, const std::string& path);
  void CheckTimestamp(const pb::Timestamp& t, const std::string& path);
  void CheckIdentifier(const cv1::Identifier& id, const std::string& path);
  void CheckNhsNumber(const cv1::Identifier& id, const std::string& path);
  void CheckUpn(const cv1::Identifier& id, const std::string& path);
  void CheckPerson(const cv1::Person& p, const std::string& path);
  void CheckLegalBasis(const cv1::LegalBasis& b, const std::string& path);
  void CheckDateOrder(const cv1::Date& from, const cv1::Date& to,
                      const std::string& to_path);

  // Payload checks; `p` is the payload field name.
  void CheckCaseOpened(const cv1::EarlyHelpCase& c, const std::string& case_ref,
                       const std::string& p);
  void CheckCafNotification(const cv1::CafNotification& c,
                            const std::string& p);
  void CheckAssessment(const cv1::Assessment& a, const std::string& p);
  void CheckPlan(const cv1::Plan& plan, const std::string& p);
  void CheckTafMeeting(const cv1::TafMeeting& m, const std::string& p);
  void CheckStepUp(const cv1::StepUpReferral& r, const std::string& p);
  void CheckReferralOutcome(const cv1::ReferralOutcome& o,
                            const ex::Envelope& e, const std::string& p);
  void CheckStepDown(const cv1::StepDown& s, const std::string& p);
  void CheckCaseClosure(const cv1::CaseClosure& c, const std::string& p);
  void CheckDocument(const cv1::DocumentRef& d, const std::string& p);
  void CheckPersonUpdate(const cv1::PersonUpdate& u, const std::string& p);
  void CheckConsent(const cv1::Consent& c, const std::string& p);
  void CheckAttendance(const cv1::AttendanceSummary& a, const std::string& p);
  void CheckOutcomeEvidence(const cv1::OutcomeEvidence& o,
                            const std::string& p);

  const absl::Time now_;
  const absl::CivilDay today_;
  std::vector<FieldViolation> out_;
};

void Checker::CheckEnvelope(const ex::Envelope& e) {
  // Idempotency key.
  const std::string& key = e.idempotency_key();
  Required(!key.empty(), "idempotency_key", "the idempotency key");
  if (key.size() > kMaxIdempotencyKey) {
    Add("idempotency_key", "idempotency_key_too_long",
        "the idempotency key must be at most 128 characters");
  }
  for (unsigned char c : key) {
    if (c < 0x20 || c > 0x7e) {
      Add("idempotency_key", "idempotency_key_not_printable",
          "the idempotency key must contain printable ASCII characters only");
      break;
    }
  }

  // Case reference: 1-64 of [A-Za-z0-9._-], starting with a letter or digit.
  const std::string& ref = e.case_ref();
  Required(!ref.empty(), "case_ref", "the case reference");
  if (!ref.empty()) {
    bool ok = ref.size() <= kMaxCaseRef &&
              std::isalnum(static_cast<unsigned char>(ref[0]));
    for (unsigned char c : ref) {
      if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) ok = false;
      if (c >= 0x80) ok = false;
    }
    if (!ok) {
      Add("case_ref", "case_ref_format",
          "the case reference must be 1-64 letters, digits, '-', '_' or '.', "
          "starting with a letter or digit");
    }
  }

  // Event type and payload.
  const ex::EventType type = e.event_type();
  const auto payload = e.payload_case();
  if (type == ex::EVENT_TYPE_UNSPECIFIED) {
    Add("event_type", "required", "the event type must be set");
  } else if (!ex::EventType_IsValid(type)) {
    Add("event_type", "event_type_unknown", "the event type is not known");
  } else if (type == ex::EVENT_TYPE_NON_DELIVERY) {
    Add("event_type", "non_delivery_not_publishable",
        "non-delivery notices are created by the gateway only");
  }
  if (payload == ex::Envelope::kNonDelivery) {
    Add("non_delivery", "non_delivery_not_publishable",
        "non-delivery notices are created by the gateway only");
  }
  if (payload == ex::Envelope::PAYLOAD_NOT_SET) {
    Add("payload", "required", "a payload must be set");
  } else if (type != ex::EVENT_TYPE_UNSPECIFIED &&
             ex::EventType_IsValid(type) && ExpectedPayload(type) != payload) {
    Add("event_type", "event_type_payload_mismatch",
        "the event type does not match the payload that is set");
  }

  // Times.
  if (!e.has_occurred_at()) {
    Add("occurred_at", "required", "the time of the event must be set");
  } else if (TimestampInRange(e.occurred_at())) {
    if (ToTime(e.occurred_at()) > now_ + kMaxClockSkew) {
      Add("occurred_at", "occurred_at_in_future",
          "the time of the event is more than 5 minutes in the future");
    }
    if (e.occurred_at().seconds() < k1900Seconds) {
      Add("occurred_at", "occurred_at_too_old",
          "the time of the event is before 1900");
    }
  }
  if (e.has_ttl() && (e.ttl().seconds() < 0 || e.ttl().nanos() < 0)) {
    Add("ttl", "ttl_negative", "the time to live must not be negative");
  }
  for (int i = 0; i < e.extra_recipients_size(); ++i) {
    Required(!e.extra_recipients(i).empty(), Idx("", "extra_recipients", i),
             "an extra recipient agency id");
  }

  if (e.unmapped_size() > kMaxUnmapped) {
    Add("unmapped", "unmapped_too_many",
        "at most 256 unmapped fragments per message");
  }
  for (int i = 0; i < e.unmapped_size() && i < kMaxUnmapped; ++i) {
    const ex::UnmappedContent& u = e.unmapped(i);
    const std::string at = Idx("", "unmapped", i);
    Required(!u.path().empty(), at + ".path", "the fragment's native path");
    if (u.path().size() > kMaxUnmappedPath) {
      Add(at + ".path", "unmapped_path_too_long",
          "the fragment's path must be at most 512 characters");
    }
    Required(!u.media_type().empty(), at + ".media_type",
             "the fragment's media type");
    if (u.raw().size() > kMaxUnmappedRaw) {
      Add(at + ".raw", "unmapped_raw_too_long",
          "an unmapped fragment must be at most 64 KiB");
    }
  }

  // Generic checks everywhere, then payload rules.
  Walk(e, "");
  switch (payload) {
    case ex::Envelope::kCaseOpened:
      CheckCaseOpened(e.case_opened(), ref, "case_opened");
      break;
    case ex::Envelope::kCafNotification:
      CheckCafNotification(e.caf_notification(), "caf_notification");
      break;
    case ex::Envelope::kAssessment:
      CheckAssessment(e.assessment(), "assessment");
      break;
    case ex::Envelope::kPlan:
      CheckPlan(e.plan(), "plan");
      break;
    case ex::Envelope::kTafMeeting:
      CheckTafMeeting(e.taf_meeting(), "taf_meeting");
      break;
    case ex::Envelope::kStepUpReferral:
      CheckStepUp(e.step_up_referral(), "step_up_referral");
      break;
    case ex::Envelope::kReferralOutcome:
      CheckReferralOutcome(e.referral_outcome(), e, "referral_outcome");
      break;
    case ex::Envelope::kStepDown:
      CheckStepDown(e.step_down(), "step_down");
      break;
    case ex::Envelope::kCaseClosure:
      CheckCaseClosure(e.case_closure(), "case_closure");
      break;
    case ex::Envelope::kDocument:
      CheckDocument(e.document(), "document");
      break;
    case ex::Envelope::kPersonUpdate:
      CheckPersonUpdate(e.person_update(), "person_update");
      break;
    case ex::Envelope::kConsent:
      CheckConsent(e.consent(), "consent");
      break;
    case ex::Envelope::kAttendanceSummary:
      CheckAttendance(e.attendance_summary(), "attendance_summary");
      break;
    case ex::Envelope::kOutcomeEvidence:
      CheckOutcomeEvidence(e.outcome_evidence(), "outcome_evidence");
      break;
    default:
      break;
  }
}

void Checker::Walk(const pb::Message& m, const std::string& path) {
  const pb::Descriptor* d = m.GetDescriptor();
  if (d == cv1::Date::descriptor()) {
    if (const auto* date = pb::DynamicCastToGenerated<cv1::Date>(&m)) {
      CheckDate(*date, path);
    }
    return;
  }
  if (d == pb::Timestamp::descriptor()) {
    if (const auto* t = pb::DynamicCastToGenerated<pb::Timestamp>(&m)) {
      CheckTimestamp(*t, path);
    }
    return;
  }
  if (d == cv1::Identifier::descriptor()) {
    if (const auto* id = pb::DynamicCastToGenerated<cv1::Identifier>(&m)) {
      CheckIdentifier(*id, path);
    }
    // Fall through: source_verification is a Code (nothing to check).
  } else if (d == cv1::Person::descriptor()) {
    if (const auto* p = pb::DynamicCastToGenerated<cv1::Person>(&m)) {
      CheckPerson(*p, path);
    }
  } else if (d == cv1::LegalBasis::descriptor()) {
    if (const auto* b = pb::DynamicCastToGenerated<cv1::LegalBasis>(&m)) {
      CheckLegalBasis(*b, path);
    }
  }
  const pb::Reflection* r = m.GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      const int n = r->FieldSize(m, f);
      for (int i = 0; i < n; ++i) {
        Walk(r->GetRepeatedMessage(m, f, i), Idx(path, f->name(), i));
      }
    } else {
      Walk(r->GetMessage(m, f), Sub(path, f->name()));
    }
  }
}

void Checker::CheckDate(const cv1::Date& d, const std::string& path) {
  if (!DateValid(d)) {
    Add(path, "date_invalid",
        "not a real calendar date (year 1900-9999, month 1-12, day within "
        "the month)");
  }
}

void Checker::CheckTimestamp(const pb::Timestamp& t, const std::string& path) {
  if (!TimestampInRange(t)) {
    Add(path, "timestamp_invalid",
        "the timestamp is outside 0001-01-01..9999-12-31 or its nanos are "
        "out of range");
  }
}

void Checker::CheckDateOrder(const cv1::Date& from, const cv1::Date& to,
                             const std::string& to_path) {
  if (DateValid(from) && DateValid(to) && ToCivil(to) < ToCivil(from)) {
    Add(to_path, "date_range_reversed",
        "this date is before the start of the range it closes");
  }
}

void Checker::CheckIdentifier(const cv1::Identifier& id,
                              const std::string& path) {
  Required(!id.system().empty(), Sub(path, "system"), "the identifier system");
  Required(!id.value().empty(), Sub(path, "value"), "the identifier value");
  if (id.value().empty()) return;
  // A value the sender itself marks invalid is kept as raw text and never
  // used for matching; its check digits are not re-judged here.
  if (id.verification() == cv1::VERIFICATION_STATUS_INVALID) return;
  if (id.system() == kNhsNumberSystem ||
      id.system() == kLegacyNhsNumberSystem) {
    CheckNhsNumber(id, path);
  } else if (id.system() == kUpnSystem || id.system() == kFormerUpnSystem) {
    CheckUpn(id, path);
  }
}

void Checker::CheckNhsNumber(const cv1::Identifier& id,
                             const std::string& path) {
  const std::string field = Sub(path, "value");
  switch (ehx::validate::CheckNhsNumber(id.value())) {
    case NhsNumberCheck::kValid:
      break;
    case NhsNumberCheck::kBadFormat:
      Add(field, "nhs_number_format",
          "an NHS number must be exactly 10 digits without separators");
      break;
    case NhsNumberCheck::kImpossibleStem:
      Add(field, "nhs_number_modulus11",
          "the NHS number cannot be valid: its Modulus 11 check would be 10");
      break;
    case NhsNumberCheck::kBadCheckDigit:
      Add(field, "nhs_number_modulus11",
          "the NHS number fails the Modulus 11 check digit");
      break;
    case NhsNumberCheck::kPlaceholder:
      Add(field, "nhs_number_placeholder",
          "the NHS number is a single repeated digit (a placeholder)");
      break;
  }
}

void Checker::CheckUpn(const cv1::Identifier& id, const std::string& path) {
  const std::string field = Sub(path, "value");
  switch (ehx::validate::CheckUpn(id.value())) {
    case UpnCheck::kBadFormat:
      Add(field, "upn_format",
          "a UPN must be 13 upper-case characters: a check letter, 11 digits "
          "and a final digit or letter");
      break;
    case UpnCheck::kBadCheckLetter:
      Add(field, "upn_check_letter", "the UPN fails the mod-23 check letter");
      break;
    case UpnCheck::kValidTemporary:
      if (id.verification() != cv1::VERIFICATION_STATUS_TEMPORARY) {
        Add(Sub(path, "verification"), "upn_temporary_not_flagged",
            "a temporary UPN (ending in a letter) must have verification "
            "TEMPORARY");
      }
      break;
    case UpnCheck::kValidPermanent:
      if (id.verification() == cv1::VERIFICATION_STATUS_TEMPORARY) {
        Add(Sub(path, "verification"), "upn_permanent_flagged_temporary",
            "a permanent UPN (ending in a digit) must not be flagged "
            "TEMPORARY");
      }
      break;
  }
}

void Checker::CheckPerson(const cv1::Person& p, const std::string& path) {
  if (p.has_date_of_birth()) {
    if (p.unborn()) {
      Add(Sub(path, "date_of_birth"), "unborn_with_date_of_birth",
          "an unborn child has an expected date of delivery, not a date of "
          "birth");
    }
    if (DateValid(p.date_of_birth()) && ToCivil(p.date_of_birth()) > today_) {
      Add(Sub(path, "date_of_birth"), "date_of_birth_in_future",
          "the date of birth is in the future");
    }
  }
  if (p.has_expected_date_of_delivery() && !p.unborn()) {
    Add(Sub(path, "expected_date_of_delivery"), "edd_only_for_unborn",
        "an expected date of delivery is only recorded for an unborn child");
  }
  if (p.unborn() && !p.has_expected_date_of_delivery()) {
    Add(Sub(path, "expected_date_of_delivery"), "edd_required_for_unborn",
        "an unborn child needs an expected date of delivery");
  }
}

void Checker::CheckLegalBasis(const cv1::LegalBasis& b,
                              const std::string& path) {
  if (b.kind() == cv1::LEGAL_BASIS_KIND_UNSPECIFIED) {
    Add(Sub(path, "kind"), "required", "the legal basis kind must be set");
    return;
  }
  if (b.kind() == cv1::LEGAL_BASIS_KIND_CONSENT) {
    Required(!b.consent_id().empty(), Sub(path, "consent_id"),
             "the consent record relied on");
    return;
  }
  if (b.reason().empty()) {
    Add(Sub(path, "reason"), "legal_basis_reason_required",
        "sharing without consent needs a recorded reason");
  }
  if (b.decided_by().name().empty()) {
    Add(Sub(path, "decided_by"), "legal_basis_decision_maker_required",
        "sharing without consent needs a named decision maker");
  }
}

void Checker::CheckCaseOpened(const cv1::EarlyHelpCase& c,
                              const std::string& case_ref,
                              const std::string& p) {
  Required(!c.case_id().empty(), Sub(p, "case_id"), "the case id");
  if (!c.case_id().empty() && !case_ref.empty() && c.case_id() != case_ref) {
    Add(Sub(p, "case_id"), "case_id_mismatch",
        "the case id differs from the envelope case reference");
  }
  Required(c.status() != cv1::CASE_STATUS_UNSPECIFIED, Sub(p, "status"),
           "the case status");
  Required(c.children_size() > 0, Sub(p, "children"),
           "at least one child of focus");
  if (c.origin() == cv1::CASE_ORIGIN_STEP_DOWN && !c.has_cin_episode()) {
    Add(Sub(p, "cin_episode"), "step_down_origin_requires_cin_episode",
        "a case that starts as a step-down must link the CSC episode");
  }
  for (int i = 0; i < c.agencies_involved_size(); ++i) {
    Required(!c.agencies_involved(i).empty(), Idx(p, "agencies_involved", i),
             "an agency id");
  }
}

void Checker::CheckCafNotification(const cv1::CafNotification& c,
                                   const std::string& p) {
  Required(!c.assessment_id().empty(), Sub(p, "assessment_id"),
           "the assessment id");
  Required(c.children_size() > 0, Sub(p, "children"),
           "at least one child assessed");
  if (c.has_started_on() && c.has_completed_on()) {
    CheckDateOrder(c.started_on(), c.completed_on(), Sub(p, "completed_on"));
  }
}

void Checker::CheckAssessment(const cv1::Assessment& a, const std::string& p) {
  Required(!a.assessment_id().empty(), Sub(p, "assessment_id"),
           "the assessment id");
  Required(a.children_size() > 0, Sub(p, "children"),
           "at least one child assessed");
  for (int i = 0; i < a.children_size(); ++i) {
    const auto& child = a.children(i);
    const std::string cp = Idx(p, "children", i);
    Required(!child.child_person_id().empty(), Sub(cp, "child_person_id"),
             "the child's person id");
    for (int j = 0; j < child.elements_size(); ++j) {
      const auto& el = child.elements(j);
      const std::string ep = Idx(cp, "elements", j);
      if (el.element() == cv1::ASSESSMENT_ELEMENT_UNSPECIFIED) {
        Add(Sub(ep, "element"), "required", "the element must be set");
      } else if (el.domain() != cv1::ASSESSMENT_DOMAIN_UNSPECIFIED &&
                 el.domain() != DomainOf(el.element())) {
        Add(Sub(ep, "domain"), "assessment_element_domain_mismatch",
            "the element does not belong to this domain");
      }
    }
  }
  for (int i = 0; i < a.parent_views_size(); ++i) {
    const auto& v = a.parent_views(i);
    if (v.participation() != cv1::PARENT_PARTICIPATION_UNSPECIFIED &&
        v.participation() != cv1::PARENT_PARTICIPATION_CONTRIBUTED &&
        v.reason().empty()) {
      Add(Sub(Idx(p, "parent_views", i), "reason"),
          "parent_view_reason_required",
          "a parent's view that was not obtained needs a reason");
    }
  }
  if (a.has_started_on() && a.has_completed_on()) {
    CheckDateOrder(a.started_on(), a.completed_on(), Sub(p, "completed_on"));
  }
}

void Checker::CheckPlan(const cv1::Plan& plan, const std::string& p) {
  Required(!plan.plan_id().empty(), Sub(p, "plan_id"), "the plan id");
  for (int i = 0; i < plan.actions_size(); ++i) {
    const auto& a = plan.actions(i);
    const std::string ap = Idx(p, "actions", i);
    Required(!a.what().empty(), Sub(ap, "what"), "what the action is");
    if (a.owner().name().empty() && a.owner_person_id().empty()) {
      Add(Sub(ap, "owner"), "plan_action_owner_required",
          "a plan action needs a named owner");
    }
    if (!a.has_due_on()) {
      Add(Sub(ap, "due_on"), "plan_action_due_date_required",
          "a plan action needs a due date");
    } else if (a.has_start_on()) {
      CheckDateOrder(a.start_on(), a.due_on(), Sub(ap, "due_on"));
    }
  }
}

void Checker::CheckTafMeeting(const cv1::TafMeeting& m, const std::string& p) {
  Required(!m.meeting_id().empty(), Sub(p, "meeting_id"), "the meeting id");
  Required(m.has_held_at(), Sub(p, "held_at"), "the meeting date and time");
  for (int i = 0; i < m.attendees_size(); ++i) {
    const auto& a = m.attendees(i);
    if (a.status() == cv1::ATTENDANCE_STATUS_NOT_INVITED &&
        a.reason().empty()) {
      Add(Sub(Idx(p, "attendees", i), "reason"),
          "taf_not_invited_reason_required",
          "someone not invited to a TAF meeting needs a recorded reason");
    }
  }
}

void Checker::CheckStepUp(const cv1::StepUpReferral& r, const std::string& p) {
  Required(!r.referral_id().empty(), Sub(p, "referral_id"), "the referral id");
  Required(!r.concerns().empty(), Sub(p, "concerns"),
           "the nature of the concern");
  if (!r.has_significant_harm()) {
    Add(Sub(p, "significant_harm"), "step_up_significant_harm_not_stated",
        "a referral must state explicitly whether significant harm is "
        "suspected");
  }
  Required(r.urgency() != cv1::REFERRAL_URGENCY_UNSPECIFIED, Sub(p, "urgency"),
           "the urgency");
  Required(r.information_source() != cv1::INFORMATION_SOURCE_UNSPECIFIED,
           Sub(p, "information_source"),
           "whether the information is first-hand or third-party");

  // Children identified.
  Required(r.children_size() > 0, Sub(p, "children"),
           "at least one child referred");
  for (int i = 0; i < r.children_size(); ++i) {
    if (!Identified(r.children(i))) {
      Add(Idx(p, "children", i), "step_up_child_not_identified",
          "each child referred needs a name or an identifier");
    }
  }

  // Referrer: name, agency, and a way to re-contact them.
  const auto& ref = r.referrer();
  Required(!ref.name().empty(), Sub(p, "referrer.name"), "the referrer's name");
  Required(!ref.agency_id().empty(), Sub(p, "referrer.agency_id"),
           "the referrer's agency");
  bool contact = !r.recontact_instructions().empty();
  for (const auto& c : ref.contacts()) {
    if (!c.value().empty()) contact = true;
  }
  if (!contact) {
    Add(Sub(p, "referrer.contacts"), "step_up_referrer_contact_required",
        "the front door needs a way to re-contact the referrer");
  }

  // Whereabouts of every child.
  if (r.whereabouts_size() == 0) {
    Add(Sub(p, "whereabouts"), "step_up_whereabouts_required",
        "the children's current whereabouts must be given (or stated as "
        "unknown)");
  } else {
    bool covers_all = false;
    for (int i = 0; i < r.whereabouts_size(); ++i) {
      const auto& w = r.whereabouts(i);
      if (w.child_person_id().empty()) covers_all = true;
      if (w.description().empty() && !w.unknown()) {
        Add(Sub(Idx(p, "whereabouts", i), "description"),
            "step_up_whereabouts_required",
            "give the child's whereabouts or state that they are unknown");
      }
    }
    if (!covers_all) {
      for (int i = 0; i < r.children_size(); ++i) {
        const std::string& id = r.children(i).person_id();
        if (id.empty()) continue;
        bool found = false;
        for (const auto& w : r.whereabouts()) {
          if (w.child_person_id() == id) found = true;
        }
        if (!found) {
          Add(Idx(p, "children", i), "step_up_whereabouts_required",
              "this child's current whereabouts are not given");
        }
      }
    }
  }

  // Parents informed, and if not, why not.
  if (r.parents_informed() == cv1::YES_NO_UNKNOWN_UNSPECIFIED) {
    Add(Sub(p, "parents_informed"), "required",
        "whether the parents know about the referral must be set");
  } else if (r.parents_informed() != cv1::YES_NO_UNKNOWN_YES &&
             r.parents_not_informed_reason().empty()) {
    Add(Sub(p, "parents_not_informed_reason"),
        "step_up_parents_not_informed_reason_required",
        "when the parents were not told about the referral, say why not");
  }
  if (r.parents_consent() == cv1::REFERRAL_CONSENT_NOT_SOUGHT &&
      r.parents_not_informed_reason().empty() &&
      r.legal_basis().reason().empty()) {
    Add(Sub(p, "parents_consent"), "step_up_consent_not_sought_reason_required",
        "when consent was not sought, record why (parents_not_informed_reason "
        "or legal_basis.reason)");
  }
}

void Checker::CheckReferralOutcome(const cv1::ReferralOutcome& o,
                                   const ex::Envelope& e,
                                   const std::string& p) {
  Required(!o.referral_id().empty(), Sub(p, "referral_id"),
           "the referral id answered");
  Required(o.decision() != cv1::REFERRAL_DECISION_UNSPECIFIED,
           Sub(p, "decision"), "the decision");
  Required(o.has_decided_at(), Sub(p, "decided_at"), "the decision time");
  if (o.has_decided_at() && TimestampInRange(o.decided_at()) &&
      ToTime(o.decided_at()) > now_ + kMaxClockSkew) {
    Add(Sub(p, "decided_at"), "decided_at_in_future",
        "the decision time is more than 5 minutes in the future");
  }
  if (e.correlation_id().empty()) {
    Add("correlation_id", "correlation_id_required",
        "a referral outcome carries the correlation id of the referral it "
        "answers");
  }
}

void Checker::CheckStepDown(const cv1::StepDown& s, const std::string& p) {
  if (s.closure_reason() != "RC9") {
    Add(Sub(p, "closure_reason"), "step_down_reason_rc9",
        "a step-down closes the CIN episode with reason RC9 (referred to "
        "early help)");
  }
  Required(
      !s.cin_episode_id().empty() || !s.cin_episode().cin_episode_id().empty(),
      Sub(p, "cin_episode_id"), "the CIN episode closed");
  if (s.lead_practitioner().name().empty() ||
      s.lead_practitioner().agency_id().empty()) {
    Add(Sub(p, "lead_practitioner"), "step_down_lead_practitioner_required",
        "a step-down needs a named lead practitioner with their agency");
  }
}

void Checker::CheckCaseClosure(const cv1::CaseClosure& c,
                               const std::string& p) {
  Required(
      !c.reason().empty() || c.reason_code() != cv1::CLOSURE_REASON_UNSPECIFIED,
      Sub(p, "reason_code"), "the closure reason");
  Required(c.has_closed_on(), Sub(p, "closed_on"), "the closure date");
}

void Checker::CheckDocument(const cv1::DocumentRef& d, const std::string& p) {
  Required(!d.document_id().empty(), Sub(p, "document_id"), "the document id");
  const std::string& h = d.content_sha256();
  bool hex = h.size() == 64;
  for (char c : h) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) hex = false;
  }
  if (!hex) {
    Add(Sub(p, "content_sha256"), "document_sha256_format",
        "the content hash must be 64 lower-case hex characters (SHA-256)");
  }
  Required(!d.media_type().empty(), Sub(p, "media_type"), "the media type");
  if (d.page_count() < 0) {
    Add(Sub(p, "page_count"), "negative_count", "a count must not be negative");
  }
  if (d.size_bytes() < 0) {
    Add(Sub(p, "size_bytes"), "negative_count", "a count must not be negative");
  }
}

void Checker::CheckPersonUpdate(const cv1::PersonUpdate& u,
                                const std::string& p) {
  Required(u.has_person(), Sub(p, "person"), "the person");
  if (u.has_person() && u.person().person_id().empty() &&
      u.person().identifiers_size() == 0) {
    Add(Sub(p, "person.person_id"), "required",
        "the person id or an identifier must be set");
  }
}

void Checker::CheckConsent(const cv1::Consent& c, const std::string& p) {
  Required(!c.consent_id().empty(), Sub(p, "consent_id"), "the consent id");
  if (c.given_by_person_id().empty()) {
    Add(Sub(p, "given_by_person_id"), "consent_giver_required",
        "a consent record must say who gave or refused consent");
  }
  if (c.on_behalf_of_person_ids_size() == 0) {
    Add(Sub(p, "on_behalf_of_person_ids"), "consent_subject_required",
        "a consent record must say whom it covers");
  }
  if (c.scope_agency_ids_size() == 0) {
    Add(Sub(p, "scope_agency_ids"), "consent_scope_required",
        "a consent record must list the agencies in scope");
  }
  for (int i = 0; i < c.scope_agency_ids_size(); ++i) {
    Required(!c.scope_agency_ids(i).empty(), Idx(p, "scope_agency_ids", i),
             "an agency id");
  }
  if (c.scope_purposes_size() == 0) {
    Add(Sub(p, "scope_purposes"), "consent_scope_required",
        "a consent record must list the purposes in scope");
  }
  Required(c.state() != cv1::CONSENT_STATE_UNSPECIFIED, Sub(p, "state"),
           "the consent state");
  if (c.state() == cv1::CONSENT_STATE_WITHDRAWN && !c.has_withdrawn_on()) {
    Add(Sub(p, "withdrawn_on"), "consent_withdrawn_date_required",
        "withdrawn consent needs the date it was withdrawn");
  }
  if (c.has_given_on() && c.has_review_on()) {
    CheckDateOrder(c.given_on(), c.review_on(), Sub(p, "review_on"));
  }
  if (c.has_given_on() && c.has_withdrawn_on()) {
    CheckDateOrder(c.given_on(), c.withdrawn_on(), Sub(p, "withdrawn_on"));
  }
}

void Checker::CheckAttendance(const cv1::AttendanceSummary& a,
                              const std::string& p) {
  Required(a.has_pupil(), Sub(p, "pupil"), "the pupil");
  // "YYYY/YY" with consecutive years.
  const std::string& y = a.academic_year();
  bool ok = y.size() == 7 && y[4] == '/';
  for (size_t i = 0; ok && i < y.size(); ++i) {
    if (i != 4 && !(y[i] >= '0' && y[i] <= '9')) ok = false;
  }
  if (ok) {
    const int first = std::stoi(y.substr(0, 4));
    const int second = std::stoi(y.substr(5, 2));
    ok = (first + 1) % 100 == second;
  }
  if (!ok) {
    Add(Sub(p, "academic_year"), "academic_year_format",
        "the academic year must be written YYYY/YY (e.g. 2025/26)");
  }
  const struct {
    const char* name;
    int32_t value;
  } counts[] = {
      {"sessions_possible", a.sessions_possible()},
      {"sessions_attended", a.sessions_attended()},
      {"sessions_authorised_absence", a.sessions_authorised_absence()},
      {"sessions_unauthorised_absence", a.sessions_unauthorised_absence()},
  };
  bool negative = false;
  for (const auto& c : counts) {
    if (c.value < 0) {
      negative = true;
      Add(Sub(p, c.name), "negative_count", "a count must not be negative");
    }
  }
  if (!negative && static_cast<int64_t>(a.sessions_attended()) +
                           a.sessions_authorised_absence() +
                           a.sessions_unauthorised_absence() >
                       a.sessions_possible()) {
    Add(Sub(p, "sessions_possible"), "attendance_sessions_exceed_possible",
        "sessions attended and absent add up to more than sessions possible");
  }
  if (a.has_period_start() && a.has_period_end()) {
    CheckDateOrder(a.period_start(), a.period_end(), Sub(p, "period_end"));
  }
}

void Checker::CheckOutcomeEvidence(const cv1::OutcomeEvidence& o,
                                   const std::string& p) {
  Required(!o.family_id().empty(), Sub(p, "family_id"), "the family id");
  Required(o.area() != cv1::OUTCOME_AREA_UNSPECIFIED, Sub(p, "area"),
           "the headline outcome area");
  Required(!o.evidence().empty(), Sub(p, "evidence"), "the evidence");
  if (o.has_need_identified_on() && o.has_achieved_on()) {
    CheckDateOrder(o.need_identified_on(), o.achieved_on(),
                   Sub(p, "achieved_on"));
  }
}

}  // namespace

std::vector<FieldViolation> ValidateEnvelope(const ex::Envelope& envelope,
                                             absl::Time now) {
  Checker checker(now);
  checker.CheckEnvelope(envelope);
  return checker.Take();
}

std::vector<FieldViolation> ValidateEnvelope(const ex::Envelope& envelope) {
  return ValidateEnvelope(envelope, absl::Now());
}

}  // namespace ehx::validate
