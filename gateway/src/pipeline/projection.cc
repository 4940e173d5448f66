#include "pipeline/projection.h"

#include <algorithm>
#include <set>

namespace ehx::pipeline {

using ehx::exchange::v1::Envelope;
using ehx::record::v1::CaseRecord;

namespace {

void AddAgencies(CaseRecord* record, const std::set<std::string>& more) {
  std::set<std::string> all(record->agencies_involved().begin(),
                            record->agencies_involved().end());
  all.insert(more.begin(), more.end());
  all.erase("");
  record->clear_agencies_involved();
  for (const auto& a : all) record->add_agencies_involved(a);
}

}  // namespace

void ApplyToRecord(const Envelope& env,
                   const std::vector<std::string>& recipients,
                   CaseRecord* record) {
  record->set_case_ref(env.case_ref());
  record->set_event_count(record->event_count() + 1);
  *record->mutable_updated_at() = env.accepted_at();
  std::set<std::string> parties(recipients.begin(), recipients.end());
  parties.insert(env.sender_agency());

  switch (env.payload_case()) {
    case Envelope::kCaseOpened: {
      const auto& c = env.case_opened();
      record->set_status(c.status() != ehx::cases::v1::CASE_STATUS_UNSPECIFIED
                             ? c.status()
                             : ehx::cases::v1::CASE_STATUS_OPEN);
      if (c.has_level_of_need()) *record->mutable_level_of_need() = c.level_of_need();
      if (c.has_lead_practitioner()) {
        *record->mutable_lead_practitioner() = c.lead_practitioner();
        parties.insert(c.lead_practitioner().agency_id());
      }
      parties.insert(c.agencies_involved().begin(), c.agencies_involved().end());
      break;
    }
    case Envelope::kCafNotification: {
      const auto& c = env.caf_notification();
      if (record->status() == ehx::cases::v1::CASE_STATUS_UNSPECIFIED) {
        record->set_status(ehx::cases::v1::CASE_STATUS_OPEN);
      }
      if (c.has_level_of_need()) *record->mutable_level_of_need() = c.level_of_need();
      if (c.has_lead_practitioner()) {
        *record->mutable_lead_practitioner() = c.lead_practitioner();
        parties.insert(c.lead_practitioner().agency_id());
      }
      parties.insert(c.agencies_involved().begin(), c.agencies_involved().end());
      record->set_last_caf_message_id(env.message_id());
      break;
    }
    case Envelope::kStepUpReferral: {
      const auto& r = env.step_up_referral();
      auto* h = record->add_referrals();
      h->set_message_id(env.message_id());
      h->set_referral_id(r.referral_id());
      h->set_referrer_agency(env.sender_agency());
      *h->mutable_referred_at() = env.accepted_at();
      h->set_significant_harm(r.significant_harm());
      h->set_correlation_id(env.correlation_id());
      record->set_status(ehx::cases::v1::CASE_STATUS_STEPPED_UP);
      break;
    }
    case Envelope::kReferralOutcome: {
      const auto& o = env.referral_outcome();
      for (int i = record->referrals_size() - 1; i >= 0; --i) {
        auto* h = record->mutable_referrals(i);
        const bool match =
            (!o.referral_id().empty() && h->referral_id() == o.referral_id()) ||
            (!env.correlation_id().empty() &&
             (h->message_id() == env.correlation_id() ||
              h->correlation_id() == env.correlation_id()));
        if (match) {
          h->set_decision(o.decision());
          *h->mutable_decided_at() = o.decided_at();
          h->set_decided_by_agency(env.sender_agency());
          break;
        }
      }
      if (o.decision() == ehx::cases::v1::REFERRAL_DECISION_NO_FURTHER_ACTION ||
          o.decision() == ehx::cases::v1::REFERRAL_DECISION_EARLY_HELP) {
        record->set_status(ehx::cases::v1::CASE_STATUS_OPEN);
      }
      break;
    }
    case Envelope::kStepDown: {
      const auto& s = env.step_down();
      record->set_status(ehx::cases::v1::CASE_STATUS_OPEN);
      if (s.has_lead_practitioner()) {
        *record->mutable_lead_practitioner() = s.lead_practitioner();
        parties.insert(s.lead_practitioner().agency_id());
      }
      record->set_step_down_message_id(env.message_id());
      break;
    }
    case Envelope::kCaseClosure:
      record->set_status(ehx::cases::v1::CASE_STATUS_CLOSED);
      record->set_closure_message_id(env.message_id());
      break;
    default:
      break;
  }
  AddAgencies(record, parties);
}

}  // namespace ehx::pipeline
