// Test helpers: a host table whose publish runs the gateway's validator on
// the gateway's own schema (the adapter's renamed copy has the same wire
// format), capturing what was accepted.
#ifndef EHX_TESTS_ADAPTERS_SUPPORTING_FAMILIES_SF_TEST_UTIL_H_
#define EHX_TESTS_ADAPTERS_SUPPORTING_FAMILIES_SF_TEST_UTIL_H_

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "ehx/exchange/v1/envelope.pb.h"
#include "ehx_adapter_abi.h"
#include "google/rpc/error_details.pb.h"
#include "validate/validate.h"

namespace ehx::sf_test {

inline std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(EHX_SF_FIXTURES) + "/" + name, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// The capturing, validating host. Not copyable; pass `api()` and `this`.
class ValidatingHost {
 public:
  // Optional: refuse (INVALID_ARGUMENT) envelopes for which this is true.
  std::function<bool(const ehx::exchange::v1::Envelope&)> refuse;

  const ehx_host_api_v1* api() const { return &api_; }
  std::vector<ehx::exchange::v1::Envelope> accepted() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }
  std::vector<std::string> violations() {
    std::lock_guard<std::mutex> lock(mu_);
    return violations_;
  }

 private:
  static char* Dup(const std::string& s) {
    char* p = static_cast<char*>(std::malloc(s.size() + 1));
    std::memcpy(p, s.data(), s.size());
    p[s.size()] = '\0';
    return p;
  }
  static int32_t Publish(void* ctx, const uint8_t* data, size_t len,
                         ehx_publish_result* out) {
    auto* self = static_cast<ValidatingHost*>(ctx);
    *out = ehx_publish_result{};
    ehx::exchange::v1::Envelope env;
    env.ParseFromArray(data, static_cast<int>(len));
    auto v = ehx::validate::ValidateEnvelope(env);
    std::lock_guard<std::mutex> lock(self->mu_);
    if (v.empty() && self->refuse && self->refuse(env)) {
      v.push_back({"case_ref", "test_refusal", "refused by the test"});
    }
    if (!v.empty()) {
      google::rpc::BadRequest br;
      for (const auto& fv : v) {
        auto* x = br.add_field_violations();
        x->set_field(fv.field);
        x->set_description(fv.rule + ": " + fv.description);
        self->violations_.push_back(fv.field + " " + fv.rule);
      }
      const std::string bytes = br.SerializeAsString();
      out->code = EHX_CODE_INVALID_ARGUMENT;
      out->message = Dup("envelope refused");
      out->message_len = std::strlen(out->message);
      out->bad_request = reinterpret_cast<uint8_t*>(Dup(bytes));
      out->bad_request_len = bytes.size();
      return out->code;
    }
    self->accepted_.push_back(env);
    ehx::exchange::v1::PublishReceipt r;
    r.set_message_id("m-" + std::to_string(self->accepted_.size()));
    const std::string bytes = r.SerializeAsString();
    out->receipt = reinterpret_cast<uint8_t*>(Dup(bytes));
    out->receipt_len = bytes.size();
    return EHX_CODE_OK;
  }
  static void Free(void*, ehx_publish_result* r) {
    std::free(r->receipt);
    std::free(r->message);
    std::free(r->bad_request);
    *r = ehx_publish_result{};
  }
  static void Log(void*, int32_t, const char*, size_t) {}

  ehx_host_api_v1 api_{
      {EHX_ADAPTER_ABI_MAJOR, EHX_ADAPTER_ABI_MINOR, sizeof(ehx_host_api_v1)},
      &Publish,
      &Free,
      &Log};
  std::mutex mu_;
  std::vector<ehx::exchange::v1::Envelope> accepted_;
  std::vector<std::string> violations_;
};

}  // namespace ehx::sf_test

#endif  // EHX_TESTS_ADAPTERS_SUPPORTING_FAMILIES_SF_TEST_UTIL_H_
