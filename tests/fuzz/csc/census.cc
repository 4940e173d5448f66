// libFuzzer target: the CIN census reader (libexpat, DTDs refused) and the
// census -> envelope mapper, on arbitrary bytes, with a link index and a
// configured link so every mapping path is reachable. Also a cross-check:
// the one-pass MapCensus must give exactly what ParseCensus followed by
// MapCensusFile gives (traps on any difference).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "csc_ingest.h"
#include "csc_util.h"

namespace csc = ::ehx::adapters::csc;

namespace {

const csc::LinkIndex& Index() {
  static const csc::LinkIndex* index = [] {
    auto* i = new csc::LinkIndex();
    std::string error;
    csc::LinkEntry e;
    e.referral_id = "R-1";
    e.message_id = "m-1";
    e.correlation_id = "m-1";
    e.case_ref = "EH-1";
    e.referred_on = "2024-04-30";
    e.id_hashes = {csc::StableHash({csc::kUpnSystem, "D935412345001"}),
                   csc::StableHash({csc::kNhsSystem, "9990000026"})};
    i->Add(e, &error);
    return i;
  }();
  return *index;
}

const csc::CscConfig& Config() {
  static const csc::CscConfig* config = [] {
    auto* c = new csc::CscConfig();
    c->mutable_step_down_lead_practitioner()->set_name("Duty");
    c->mutable_step_down_lead_practitioner()->set_agency_id("early-help");
    auto* l = c->add_case_links();
    l->set_la_child_id("CSC100004");
    l->set_case_ref("EH-2");
    return c;
  }();
  return *config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const csc::MapResult r = csc::MapCensus(bytes, Config(), Index());
  if (r.input_rejected && !r.items.empty()) __builtin_trap();
  for (const auto& item : r.items) {
    if (!item.envelope) continue;
    const auto& key = item.envelope->idempotency_key();
    if (key.empty() || key.size() > 128) __builtin_trap();
    for (unsigned char c : key) {
      if (c < 0x20 || c > 0x7e) __builtin_trap();
    }
    if (item.envelope->case_ref().empty()) __builtin_trap();
    std::string wire;
    if (!item.envelope->SerializeToString(&wire)) __builtin_trap();
  }

  csc::CensusFile file;
  csc::CensusError error;
  if (!csc::ParseCensus(bytes, &file, &error)) {
    if (!r.input_rejected) __builtin_trap();
    return 0;
  }
  if (r.input_rejected) __builtin_trap();
  const csc::MapResult w = csc::MapCensusFile(file, Config(), Index());
  if (w.items.size() != r.items.size()) __builtin_trap();
  for (size_t i = 0; i < r.items.size(); ++i) {
    const csc::MappedItem& a = r.items[i];
    const csc::MappedItem& b = w.items[i];
    if (a.position != b.position || a.counts_as_record != b.counts_as_record ||
        a.errors.size() != b.errors.size() ||
        static_cast<bool>(a.envelope) != static_cast<bool>(b.envelope)) {
      __builtin_trap();
    }
    for (size_t k = 0; k < a.errors.size(); ++k) {
      if (a.errors[k].SerializeAsString() != b.errors[k].SerializeAsString()) {
        __builtin_trap();
      }
    }
    if (a.envelope &&
        a.envelope->SerializeAsString() != b.envelope->SerializeAsString()) {
      __builtin_trap();
    }
  }
  return 0;
}
