// A fake host table for the CSC adapter tests: every published envelope is
// parsed as the gateway's ehx.exchange.v1.Envelope and checked by the real
// gateway validator (ehx_validate) with a fixed "now"; idempotency keys are
// deduplicated as the gateway does (same key + same bytes: the original
// receipt; same key + other bytes: ALREADY_EXISTS).
#ifndef EHX_TESTS_ADAPTERS_CSC_FAKE_GATEWAY_H_
#define EHX_TESTS_ADAPTERS_CSC_FAKE_GATEWAY_H_

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ehx/exchange/v1/envelope.pb.h"
#include "ehx_adapter_abi.h"
#include "google/rpc/error_details.pb.h"
#include "validate/validate.h"

namespace ehx::csc_test {

struct FakeGateway {
  std::mutex mu;
  std::map<std::string, std::pair<std::string, std::string>> by_key;
  std::vector<ehx::exchange::v1::Envelope> accepted;  // new messages only
  std::vector<std::string> logs;
  int calls = 0;
  int unavailable_from_call = -1;                      // 1-based; -1 never
  absl::Time now = absl::FromUnixSeconds(1748736000);  // 2025-06-01

  static char* Dup(const std::string& s) {
    char* p = static_cast<char*>(std::malloc(s.size() + 1));
    std::memcpy(p, s.data(), s.size());
    p[s.size()] = '\0';
    return p;
  }

  static int32_t Publish(void* ctx, const uint8_t* b, size_t n,
                         ehx_publish_result* r) {
    auto* g = static_cast<FakeGateway*>(ctx);
    std::lock_guard<std::mutex> lock(g->mu);
    *r = ehx_publish_result{};
    ++g->calls;
    auto fail = [&](int32_t code, const std::string& msg) {
      r->code = code;
      r->message = Dup(msg);
      r->message_len = msg.size();
      return code;
    };
    if (g->unavailable_from_call > 0 && g->calls >= g->unavailable_from_call) {
      return fail(EHX_CODE_UNAVAILABLE, "gateway unavailable");
    }
    ehx::exchange::v1::Envelope env;
    const std::string bytes(reinterpret_cast<const char*>(b), n);
    if (!env.ParseFromString(bytes))
      return fail(EHX_CODE_INVALID_ARGUMENT, "x");
    auto v = ehx::validate::ValidateEnvelope(env, g->now);
    if (!v.empty()) {
      google::rpc::BadRequest br;
      for (const auto& fv : v) {
        auto* f = br.add_field_violations();
        f->set_field(fv.field);
        f->set_description(fv.rule + ": " + fv.description);
      }
      const std::string s = br.SerializeAsString();
      r->bad_request = reinterpret_cast<uint8_t*>(Dup(s));
      r->bad_request_len = s.size();
      return fail(EHX_CODE_INVALID_ARGUMENT, "envelope refused");
    }
    std::string id;
    auto it = g->by_key.find(env.idempotency_key());
    if (it != g->by_key.end()) {
      if (it->second.first != bytes) {
        return fail(EHX_CODE_ALREADY_EXISTS, "idempotency key reused");
      }
      id = it->second.second;
    } else {
      id = "m-" + std::to_string(g->accepted.size() + 1);
      g->by_key[env.idempotency_key()] = {bytes, id};
      g->accepted.push_back(env);
    }
    ehx::exchange::v1::PublishReceipt receipt;
    receipt.set_message_id(id);
    const std::string s = receipt.SerializeAsString();
    r->code = EHX_CODE_OK;
    r->receipt = reinterpret_cast<uint8_t*>(Dup(s));
    r->receipt_len = s.size();
    return EHX_CODE_OK;
  }
  static void Free(void*, ehx_publish_result* r) {
    std::free(r->receipt);
    std::free(r->message);
    std::free(r->bad_request);
    *r = ehx_publish_result{};
  }
  static void Log(void* ctx, int32_t, const char* m, size_t n) {
    auto* g = static_cast<FakeGateway*>(ctx);
    std::lock_guard<std::mutex> lock(g->mu);
    g->logs.emplace_back(m, n);
  }
  const ehx_host_api_v1 table = {
      {EHX_ADAPTER_ABI_MAJOR, EHX_ADAPTER_ABI_MINOR, sizeof(ehx_host_api_v1)},
      &Publish,
      &Free,
      &Log};
};

}  // namespace ehx::csc_test

#endif  // EHX_TESTS_ADAPTERS_CSC_FAKE_GATEWAY_H_
