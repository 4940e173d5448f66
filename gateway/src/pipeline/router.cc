#include "pipeline/router.h"

namespace ehx::pipeline {

using ehx::config::v1::AgencyRole;
using ehx::exchange::v1::Envelope;
using ehx::record::v1::CaseRecord;

Router::Router(const ehx::config::v1::GatewayConfig& config) {
  for (const auto& a : config.agencies()) agencies_[a.id()] = a;
  for (const auto& r : config.routes()) {
    ehx::exchange::v1::EventType t;
    if (ehx::exchange::v1::EventType_Parse(r.event_type(), &t)) {
      routes_.emplace(static_cast<int>(t), r);
    }
  }
  default_ttl_seconds_ = config.delivery().default_ttl_seconds() > 0
                             ? config.delivery().default_ttl_seconds()
                             : 7 * 24 * 3600;
}

bool Router::IsActive(const std::string& agency) const {
  auto it = agencies_.find(agency);
  return it != agencies_.end() && !it->second.decommissioned();
}

AgencyRole Router::RoleOf(const std::string& agency) const {
  auto it = agencies_.find(agency);
  return it == agencies_.end() ? ehx::config::v1::AGENCY_ROLE_UNSPECIFIED
                               : it->second.role();
}

std::vector<std::string> Router::WithRole(AgencyRole role) const {
  std::vector<std::string> out;
  for (const auto& [id, a] : agencies_) {
    if (a.role() == role && !a.decommissioned()) out.push_back(id);
  }
  return out;
}

int64_t Router::TtlSeconds(ehx::exchange::v1::EventType type) const {
  auto range = routes_.equal_range(static_cast<int>(type));
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second.ttl_seconds() > 0) return it->second.ttl_seconds();
  }
  return default_ttl_seconds_;
}

namespace {

// The referrer of the referral an outcome answers: matched by referral id,
// else by the correlation id (the referral's message id or correlation).
std::string ReferrerOf(const Envelope& env, const CaseRecord& record) {
  if (!env.has_referral_outcome()) return "";
  const std::string& rid = env.referral_outcome().referral_id();
  for (auto it = record.referrals().rbegin(); it != record.referrals().rend();
       ++it) {
    if (!rid.empty() && it->referral_id() == rid) return it->referrer_agency();
  }
  for (auto it = record.referrals().rbegin(); it != record.referrals().rend();
       ++it) {
    if (!env.correlation_id().empty() &&
        (it->message_id() == env.correlation_id() ||
         it->correlation_id() == env.correlation_id())) {
      return it->referrer_agency();
    }
  }
  return "";
}

std::string LeadAgencyOf(const Envelope& env, const CaseRecord& record) {
  if (env.has_step_down() &&
      !env.step_down().lead_practitioner().agency_id().empty()) {
    return env.step_down().lead_practitioner().agency_id();
  }
  if (env.has_case_opened() &&
      !env.case_opened().lead_practitioner().agency_id().empty()) {
    return env.case_opened().lead_practitioner().agency_id();
  }
  if (env.has_caf_notification() &&
      !env.caf_notification().lead_practitioner().agency_id().empty()) {
    return env.caf_notification().lead_practitioner().agency_id();
  }
  return record.lead_practitioner().agency_id();
}

}  // namespace

std::vector<std::string> Router::Recipients(const std::string& sender,
                                            const Envelope& env,
                                            const CaseRecord& record) const {
  std::set<std::string> to;
  auto range = routes_.equal_range(static_cast<int>(env.event_type()));
  for (auto it = range.first; it != range.second; ++it) {
    const auto& route = it->second;
    for (const auto& a : route.to()) to.insert(a);
    for (int sel : route.to_selectors()) {
      switch (sel) {
        case ehx::config::v1::RECIPIENT_SELECTOR_CASE_AGENCIES: {
          for (const auto& a : record.agencies_involved()) to.insert(a);
          const google::protobuf::RepeatedPtrField<std::string>* listed =
              nullptr;
          if (env.has_case_opened()) {
            listed = &env.case_opened().agencies_involved();
          } else if (env.has_caf_notification()) {
            listed = &env.caf_notification().agencies_involved();
          }
          if (listed) {
            for (const auto& a : *listed) to.insert(a);
          }
          break;
        }
        case ehx::config::v1::RECIPIENT_SELECTOR_FRONT_DOOR:
          for (auto& a :
               WithRole(ehx::config::v1::AGENCY_ROLE_CSC_FRONT_DOOR)) {
            to.insert(a);
          }
          break;
        case ehx::config::v1::RECIPIENT_SELECTOR_REFERRER: {
          std::string r = ReferrerOf(env, record);
          if (!r.empty()) to.insert(r);
          break;
        }
        case ehx::config::v1::RECIPIENT_SELECTOR_LEAD_PRACTITIONER: {
          std::string l = LeadAgencyOf(env, record);
          if (!l.empty()) to.insert(l);
          break;
        }
        case ehx::config::v1::RECIPIENT_SELECTOR_EARLY_HELP:
          for (auto& a : WithRole(ehx::config::v1::AGENCY_ROLE_EARLY_HELP)) {
            to.insert(a);
          }
          break;
        default:
          break;
      }
    }
  }
  for (const auto& a : env.extra_recipients()) to.insert(a);
  std::vector<std::string> out;
  for (const auto& a : to) {
    if (a != sender && IsActive(a)) out.push_back(a);
  }
  return out;
}

}  // namespace ehx::pipeline
