// The health adapter's ingest pipeline: native bytes (a FHIR JSON body, an
// HL7 message, or a file of either) -> mapped records -> case reference ->
// identity guard -> Publish, one record at a time, with an IngestReport.
// The HTTPS and MLLP listeners and the ABI Ingest() all call into this.
//
// Thread-safe: calls are serialised by an internal mutex (each record's
// publish blocks until the gateway answered).
#ifndef EHX_ADAPTERS_HEALTH_INGESTOR_H_
#define EHX_ADAPTERS_HEALTH_INGESTOR_H_

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ehx_adapter_protos.h"
#include "ehx_sdk/adapter.h"
#include "hl7.h"
#include "identity_state.h"
#include "mapping.h"

namespace ehx::adapters::health {

using HealthConfig = ::ehxpb::adapters::health::v1::HealthConfig;
using IngestReport = ::ehxpb::adapter::v1::IngestReport;

class Ingestor {
 public:
  using PublishFn =
      std::function<ehx::sdk::PublishResult(const Envelope& envelope)>;

  // `state` may be nullptr (no identity guard: tests and dry runs only);
  // it must outlive the Ingestor. `publish` is called once per good record.
  Ingestor(const HealthConfig& config, IdentityState* state, PublishFn publish);

  // One native input. FHIR when the first non-blank byte is '{', HL7 when
  // the input starts with "MSH" or an MLLP start block (0x0B); an HL7 file
  // may hold several messages. Anything else is rejected as a whole.
  IngestReport Ingest(const std::string& input_name, std::string_view bytes);

  // One HL7 message (MLLP payload). Returns the ACK message (not framed);
  // `report` (optional) receives what happened.
  std::string IngestHl7Message(std::string_view message, IngestReport* report);

  struct HttpAnswer {
    int status = 200;
    std::string body;  // FHIR OperationOutcome JSON
  };
  // One FHIR HTTP body. 200 all published; 400 body unusable; 422 some
  // record dropped for its content (the rest went through); 503 the gateway
  // is unavailable (retry).
  HttpAnswer IngestFhirHttp(std::string_view body);

  // Test hook: the ACK's MSH-7/MSH-10 time source (UTC seconds).
  void set_clock(std::function<int64_t()> clock) { clock_ = std::move(clock); }

 private:
  enum class Outcome { kPublished, kDropped, kTransient };

  Outcome Process(MappedRecord* rec, IngestReport* report);
  void IngestHl7Locked(std::string_view message, const std::string& position,
                       IngestReport* report, std::string* ack);
  bool ResolveCaseRef(MappedRecord* rec);
  void GuardIdentity(MappedRecord* rec);
  void Remember(const MappedRecord& rec);
  std::string NowHl7() const;

  const HealthConfig config_;
  MapOptions options_;
  IdentityState* const state_;
  const PublishFn publish_;
  std::function<int64_t()> clock_;
  std::mutex mu_;
  uint64_t ack_counter_ = 0;  // guarded by mu_
};

// Builds a FHIR OperationOutcome JSON from a report (no personal data).
std::string OperationOutcomeJson(const IngestReport& report,
                                 std::string_view summary);

}  // namespace ehx::adapters::health

#endif  // EHX_ADAPTERS_HEALTH_INGESTOR_H_
