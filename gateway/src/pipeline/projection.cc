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

using ehx::record::v1::PartyReason;

// Adds `agency` as a party for `reason` (kept sorted and unique).
void AddParty(CaseRecord* record, const std::string& agency,
              PartyReason reason) {
  if (agency.empty()) return;
  auto* parties = record->mutable_parties();
  auto it =
      std::lower_bound(parties->begin(), parties->end(), agency,
                       [](const ehx::record::v1::CaseParty& p,
                          const std::string& a) { return p.agency_id() < a; });
  ehx::record::v1::CaseParty* party;
  if (it != parties->end() && it->agency_id() == agency) {
    party = &*it;
  } else {
    const int index = static_cast<int>(it - parties->begin());
    record->add_parties()->set_agency_id(agency);
    for (int i = record->parties_size() - 1; i > index; --i) {
      parties->SwapElements(i, i - 1);
    }
    party = record->mutable_parties(index);
  }
  std::set<int> reasons(party->reasons().begin(), party->reasons().end());
  if (!reasons.insert(reason).second) return;
  party->clear_reasons();
  for (int r : reasons) party->add_reasons(static_cast<PartyReason>(r));
}

void CiteConsent(CaseRecord* record, const std::string& consent_id) {
  if (consent_id.empty()) return;
  std::set<std::string> all(record->cited_consent_ids().begin(),
                            record->cited_consent_ids().end());
  if (!all.insert(consent_id).second) return;
  record->clear_cited_consent_ids();
  for (const auto& c : all) record->add_cited_consent_ids(c);
}

// Upserts the consent summary for `c` (kept sorted by consent id). A later
// update with an empty scope keeps the scope already recorded.
void RecordConsent(CaseRecord* record, const Envelope& env,
                   const ehx::cases::v1::Consent& c) {
  if (c.consent_id().empty()) return;
  ehx::record::v1::ConsentSummary* summary = nullptr;
  for (auto& s : *record->mutable_consents()) {
    if (s.consent_id() == c.consent_id()) summary = &s;
  }
  if (summary == nullptr) {
    summary = record->add_consents();
    summary->set_consent_id(c.consent_id());
  }
  summary->set_state(c.state());
  if (c.scope_agency_ids_size() > 0) {
    *summary->mutable_scope_agency_ids() = c.scope_agency_ids();
  }
  if (c.scope_purposes_size() > 0) {
    *summary->mutable_scope_purposes() = c.scope_purposes();
  }
  summary->set_message_id(env.message_id());
  *summary->mutable_updated_at() = env.accepted_at();
  summary->set_sequence(record->event_count());
  std::sort(record->mutable_consents()->begin(),
            record->mutable_consents()->end(),
            [](const auto& a, const auto& b) {
              return a.consent_id() < b.consent_id();
            });
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
      if (c.has_level_of_need())
        *record->mutable_level_of_need() = c.level_of_need();
      if (c.has_lead_practitioner()) {
        *record->mutable_lead_practitioner() = c.lead_practitioner();
        parties.insert(c.lead_practitioner().agency_id());
        AddParty(record, c.lead_practitioner().agency_id(),
                 ehx::record::v1::PARTY_REASON_LEAD_PRACTITIONER);
      }
      parties.insert(c.agencies_involved().begin(),
                     c.agencies_involved().end());
      for (const auto& a : c.agencies_involved()) {
        AddParty(record, a, ehx::record::v1::PARTY_REASON_NAMED_BY_CASE);
      }
      for (const auto& id : c.consent_ids()) CiteConsent(record, id);
      break;
    }
    case Envelope::kCafNotification: {
      const auto& c = env.caf_notification();
      if (record->status() == ehx::cases::v1::CASE_STATUS_UNSPECIFIED) {
        record->set_status(ehx::cases::v1::CASE_STATUS_OPEN);
      }
      if (c.has_level_of_need())
        *record->mutable_level_of_need() = c.level_of_need();
      if (c.has_lead_practitioner()) {
        *record->mutable_lead_practitioner() = c.lead_practitioner();
        parties.insert(c.lead_practitioner().agency_id());
        AddParty(record, c.lead_practitioner().agency_id(),
                 ehx::record::v1::PARTY_REASON_LEAD_PRACTITIONER);
      }
      parties.insert(c.agencies_involved().begin(),
                     c.agencies_involved().end());
      for (const auto& a : c.agencies_involved()) {
        AddParty(record, a, ehx::record::v1::PARTY_REASON_NAMED_BY_CASE);
      }
      CiteConsent(record, c.consent_id());
      record->set_last_caf_message_id(env.message_id());
      break;
    }
    case Envelope::kAssessment:
      CiteConsent(record, env.assessment().consent_id());
      break;
    case Envelope::kPlan:
      for (const auto& a : env.plan().actions()) {
        AddParty(record, a.owner().agency_id(),
                 ehx::record::v1::PARTY_REASON_PLAN_ACTION_OWNER);
      }
      break;
    case Envelope::kTafMeeting: {
      const auto& m = env.taf_meeting();
      AddParty(record, m.chair().agency_id(),
               ehx::record::v1::PARTY_REASON_TAF_ATTENDEE);
      for (const auto& a : m.attendees()) {
        AddParty(record, a.practitioner().agency_id(),
                 ehx::record::v1::PARTY_REASON_TAF_ATTENDEE);
      }
      break;
    }
    case Envelope::kConsent:
      RecordConsent(record, env, env.consent());
      break;
    case Envelope::kStepUpReferral: {
      const auto& r = env.step_up_referral();
      auto* h = record->add_referrals();
      h->set_message_id(env.message_id());
      h->set_referral_id(r.referral_id());
      h->set_referrer_agency(env.sender_agency());
      *h->mutable_referred_at() = env.accepted_at();
      h->set_significant_harm(r.significant_harm());
      h->set_correlation_id(env.correlation_id());
      h->set_legal_basis_kind(r.legal_basis().kind());
      h->set_parents_consent(r.parents_consent());
      if (r.legal_basis().kind() == ehx::cases::v1::LEGAL_BASIS_KIND_CONSENT) {
        CiteConsent(record, r.legal_basis().consent_id());
      }
      AddParty(record, env.sender_agency(),
               ehx::record::v1::PARTY_REASON_REFERRER);
      for (const auto& a : recipients) {
        AddParty(record, a, ehx::record::v1::PARTY_REASON_CSC_REFERRED);
      }
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
      AddParty(record, env.sender_agency(),
               ehx::record::v1::PARTY_REASON_CSC_REFERRED);
      AddParty(record, o.allocated_to().agency_id(),
               ehx::record::v1::PARTY_REASON_CSC_REFERRED);
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
        AddParty(record, s.lead_practitioner().agency_id(),
                 ehx::record::v1::PARTY_REASON_LEAD_PRACTITIONER);
      }
      AddParty(record, env.sender_agency(),
               ehx::record::v1::PARTY_REASON_STEPPED_DOWN_BY);
      CiteConsent(record, s.handover().consent_id());
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
