// libFuzzer target: the front door decision file reader (nlohmann::json,
// no exceptions) and mapper, plus the date-time parser with Europe/London
// gap/overlap detection, on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "csc_ingest.h"
#include "csc_util.h"

namespace csc = ::ehx::adapters::csc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  static const csc::LinkIndex* index = [] {
    auto* i = new csc::LinkIndex();
    std::string error;
    csc::LinkEntry e;
    e.referral_id = "R-2024-0001";
    e.message_id = "m-1";
    e.correlation_id = "m-1";
    e.case_ref = "EH-1";
    e.referred_on = "2024-04-30";
    i->Add(e, &error);
    return i;
  }();
  const csc::MapResult r = csc::MapDecisions(bytes, csc::CscConfig(), *index);
  if (r.input_rejected && !r.items.empty()) __builtin_trap();
  for (const auto& item : r.items) {
    if (!item.envelope) continue;
    const auto& env = *item.envelope;
    if (env.correlation_id().empty() || env.case_ref().empty()) {
      __builtin_trap();
    }
    if (env.idempotency_key().size() > 128) __builtin_trap();
  }
  google::protobuf::Timestamp t;
  csc::ParseDateTime(bytes.substr(0, 64), &t);
  return 0;
}
