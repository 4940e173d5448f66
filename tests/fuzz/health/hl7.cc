// libFuzzer target: HL7 v2 parsing, escapes, charsets, MLLP deframing, ADT
// mapping, ACK building and the ingest pipeline (publish faked).
#include "hl7.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingestor.h"
#include "mapping.h"

using namespace ehx::adapters::health;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  hl7::MllpDeframer deframer(4096);
  std::vector<std::string> frames;
  deframer.Feed(in, &frames);
  hl7::Message m;
  hl7::ParseError err;
  if (m.Parse(in, &err)) {
    MappedRecord rec = MapHl7(m, MapOptions());
    for (const auto* seg : {m.Find("PID"), m.Find("MSH")}) {
      for (size_t f = 0; f < 6; ++f) m.Escape(m.Get(seg, f));
    }
    hl7::BuildAck(&m, "AA", "x", {{"PID", 1, 3, 102, "r"}},
                  "20260101000000+0000", "c");
  }
  static HealthConfig* config = [] {
    auto* c = new HealthConfig();
    c->set_agency_id("fuzz");
    (*c->mutable_case_ref_by_nhs_number())["9990000018"] = "EH-1";
    return c;
  }();
  Ingestor ingestor(*config, nullptr,
                    [](const Envelope&) { return ehx::sdk::PublishResult{}; });
  ingestor.set_clock([] { return int64_t{1767225600}; });
  ingestor.IngestHl7Message(in, nullptr);
  if (!in.empty() && in[0] != '{') ingestor.Ingest("fuzz", in);
  return 0;
}
