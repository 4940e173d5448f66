// Native health records -> ehx PersonUpdate envelopes: FHIR R4 UK Core
// Patient resources (alone or in a Bundle) and HL7 v2.4 ADT messages
// (A04, A08, A28, A31, A40). Pure functions of their input: no I/O, no
// clock, no identity state (see ingestor.h for that). Never throw.
#ifndef EHX_ADAPTERS_HEALTH_MAPPING_H_
#define EHX_ADAPTERS_HEALTH_MAPPING_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ehx_adapter_protos.h"
#include "hl7.h"

namespace ehx::adapters::health {

using RecordError = ::ehxpb::adapter::v1::RecordError;
using Envelope = ::ehxpb::exchange::v1::Envelope;

// Patient.extension url naming the ehx case reference (valueString).
inline constexpr std::string_view kCaseRefExtension =
    "urn:ehx:fhir:extension:case-ref";

struct MapOptions {
  // ehx agency id used in local identifier systems.
  std::string agency_id = "health";
  // PV1-19 prefix that marks a case reference; "-" disables.
  std::string pv1_case_ref_prefix = "EH-";
};

// One record of the input, mapped or not.
struct MappedRecord {
  // The envelope goes on `arena` (shared with the other records of one
  // body), or on a new arena when null.
  explicit MappedRecord(
      std::shared_ptr<google::protobuf::Arena> arena = nullptr);
  // Where in the input: "Patient", "Bundle.entry[2]", "message <ctrl id>".
  std::string position;
  // False when the record must be dropped (errors say why).
  bool ok = false;
  // Owns `envelope`: protobuf arena allocation instead of one heap block
  // per string field and sub-message (the mapping is allocation-bound).
  // Copies of a record share the envelope.
  std::shared_ptr<google::protobuf::Arena> arena;
  // The PersonUpdate envelope (case_ref set only when the record named it).
  Envelope& envelope;
  // The sender-local person id (the identity state key), may be empty.
  std::string local_id;
  // Native name of the NHS number element ("PID-3", "Patient.identifier").
  std::string nhs_field;
  // Problems, in input order (flagged_only ones did not drop the record).
  std::vector<RecordError> errors;
};

// The system of sender-local ids of `kind` ("fhir-patient-id", "pas-id").
std::string LocalSystem(const MapOptions& options, std::string_view kind);

// Parses a FHIR JSON body: a Patient, or a Bundle whose entries hold
// Patients. Returns false with `input_error` (no personal data) when the
// body as a whole is unusable (not JSON, too deep, not a Patient/Bundle);
// then nothing may be published.
bool MapFhir(std::string_view body, const MapOptions& options,
             std::vector<MappedRecord>* records, std::string* input_error);

// Maps one parsed ADT message. Message-level problems (unsupported event,
// no PID) make the record !ok with an error whose field names the segment
// and field ("MSH-9", "PID-3").
MappedRecord MapHl7(const hl7::Message& message, const MapOptions& options);

// Shortest printable idempotency-key-safe form of `s` ([A-Za-z0-9._-],
// other bytes become '_'), cut at `max` characters.
std::string KeySafe(std::string_view s, size_t max);

// 64-bit FNV-1a as 16 hex digits.
std::string Fnv1aHex(std::string_view s);

}  // namespace ehx::adapters::health

#endif  // EHX_ADAPTERS_HEALTH_MAPPING_H_
