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
