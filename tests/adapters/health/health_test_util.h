// Shared helpers of the health adapter tests.
#ifndef EHX_TESTS_ADAPTERS_HEALTH_TEST_UTIL_H_
#define EHX_TESTS_ADAPTERS_HEALTH_TEST_UTIL_H_

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "ingestor.h"

namespace ehx::adapters::health::testing {

inline std::string Fixture(const std::string& name) {
  std::ifstream in(
      std::string(EHX_SOURCE_DIR) + "/tests/adapters/health/fixtures/" + name,
      std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fake gateway: dedupes on the idempotency key like the real one, and
// refuses envelopes whose case_ref is in `refuse`.
class FakeGateway {
 public:
  ehx::sdk::PublishResult Publish(const Envelope& env) {
    std::lock_guard<std::mutex> lock(mu_);
    ehx::sdk::PublishResult r;
    if (unavailable) {
      r.status = ehx::sdk::Status(ehx::sdk::Code::kUnavailable, "down");
      return r;
    }
    if (refuse_case == env.case_ref()) {
      r.status = ehx::sdk::Status(
          ehx::sdk::Code::kInvalidArgument, "envelope refused",
          {{"person_update.person.date_of_birth",
            "date_of_birth_in_future: the date of birth is in the future"}});
      return r;
    }
    auto it = by_key_.find(env.idempotency_key());
    if (it != by_key_.end()) {
      r.receipt.set_message_id(it->second);
      r.receipt.set_duplicate(true);
      return r;
    }
    const std::string id = "m" + std::to_string(accepted.size() + 1);
    by_key_[env.idempotency_key()] = id;
    accepted.push_back(env);
    r.receipt.set_message_id(id);
    return r;
  }
  Ingestor::PublishFn Fn() {
    return [this](const Envelope& e) { return Publish(e); };
  }
  std::vector<Envelope> accepted;
  std::string refuse_case;
  bool unavailable = false;

 private:
  std::mutex mu_;
  std::map<std::string, std::string> by_key_;
};

// A CAF notification delivery for health visiting (the Communication golden
// fixtures/communication_caf.golden.json renders it).
inline ::ehxpb::exchange::v1::Delivery CafDelivery() {
  namespace cv1 = ::ehxpb::cases::v1;
  namespace ex = ::ehxpb::exchange::v1;
  ex::Delivery d;
  d.set_delivery_id(1);
  ex::Envelope* e = d.mutable_envelope();
  e->set_message_id("01JCAF0000000000000000001");
  e->set_case_ref("EH-2026-000123");
  e->set_sender_agency("early-help");
  e->set_event_type(ex::EVENT_TYPE_CAF_NOTIFICATION);
  e->mutable_accepted_at()->set_seconds(1772442900);
  cv1::CafNotification* n = e->mutable_caf_notification();
  n->set_assessment_id("ASM-1");
  n->mutable_lead_practitioner()->set_name("Sam Example");
  n->mutable_lead_practitioner()->set_role("Family support worker");
  n->mutable_lead_practitioner()->set_agency_id("early-help");
  n->mutable_level_of_need()->set_label("Targeted early help");
  n->mutable_started_on()->set_year(2026);
  n->mutable_started_on()->set_month(3);
  n->mutable_started_on()->set_day(2);
  cv1::Identifier* id = n->add_children()->add_identifiers();
  id->set_system("https://fhir.nhs.uk/Id/nhs-number");
  id->set_value("9990000018");
  id->set_verification(cv1::VERIFICATION_STATUS_VERIFIED);
  return d;
}

inline HealthConfig TestConfig() {
  HealthConfig c;
  c.set_agency_id("health-visiting");
  (*c.mutable_case_ref_by_nhs_number())["9990000026"] = "EH-2026-000124";
  (*c.mutable_case_ref_by_nhs_number())["9990000034"] = "EH-2026-000125";
  (*c.mutable_case_ref_by_local_id())["hv-0004"] = "EH-2026-000126";
  (*c.mutable_case_ref_by_local_id())["hv-0005"] = "EH-2026-000127";
  (*c.mutable_case_ref_by_local_id())["hv-0007"] = "EH-2026-000128";
  (*c.mutable_case_ref_by_local_id())["hv-0008"] = "EH-2026-000129";
  return c;
}

}  // namespace ehx::adapters::health::testing

#endif  // EHX_TESTS_ADAPTERS_HEALTH_TEST_UTIL_H_
