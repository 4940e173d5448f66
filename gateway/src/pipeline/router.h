// Who receives a message: routing rules from config applied to the
// envelope and the case's shared record.
#ifndef EHX_PIPELINE_ROUTER_H_
#define EHX_PIPELINE_ROUTER_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ehx/config/v1/config.pb.h"
#include "ehx/exchange/v1/envelope.pb.h"
#include "ehx/record/v1/shared_record.pb.h"

namespace ehx::pipeline {

// Immutable after construction; thread-safe.
class Router {
 public:
  explicit Router(const ehx::config::v1::GatewayConfig& config);

  // The recipients of `envelope` from `sender` given the case `record`
  // before this event is applied: the union of matching rules and
  // extra_recipients, minus the sender, unknown and decommissioned agencies.
  std::vector<std::string> Recipients(
      const std::string& sender, const ehx::exchange::v1::Envelope& envelope,
      const ehx::record::v1::CaseRecord& record) const;

  // TTL in seconds for an event type (route override or default).
  int64_t TtlSeconds(ehx::exchange::v1::EventType type) const;

  // True if `agency` is registered and not decommissioned.
  bool IsActive(const std::string& agency) const;

  // Role of a registered agency (UNSPECIFIED if unknown).
  ehx::config::v1::AgencyRole RoleOf(const std::string& agency) const;

  // Active agencies with `role`, sorted.
  std::vector<std::string> WithRole(ehx::config::v1::AgencyRole role) const;

 private:
  std::map<std::string, ehx::config::v1::Agency> agencies_;
  std::multimap<int, ehx::config::v1::Route> routes_;
  int64_t default_ttl_seconds_;
};

}  // namespace ehx::pipeline

#endif  // EHX_PIPELINE_ROUTER_H_
