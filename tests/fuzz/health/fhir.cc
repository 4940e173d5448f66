// libFuzzer target: FHIR JSON (Patient / Bundle) mapping, OperationOutcome
// building and the HTTP ingest path (publish faked).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingestor.h"
#include "mapping.h"

using namespace ehx::adapters::health;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<MappedRecord> records;
  std::string error;
  MapFhir(in, MapOptions(), &records, &error);
  static HealthConfig* config = [] {
    auto* c = new HealthConfig();
    c->set_agency_id("fuzz");
    (*c->mutable_case_ref_by_local_id())["p1"] = "EH-1";
    return c;
  }();
  Ingestor ingestor(*config, nullptr,
                    [](const Envelope&) { return ehx::sdk::PublishResult{}; });
  ingestor.IngestFhirHttp(in);
  return 0;
}
