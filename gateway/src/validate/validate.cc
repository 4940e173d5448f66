// Placeholder: envelope-level checks only; payload rules land with the
// full case schema.
#include "validate/validate.h"

namespace ehx::validate {

std::vector<FieldViolation> ValidateEnvelope(
    const ehx::exchange::v1::Envelope& envelope) {
  std::vector<FieldViolation> out;
  if (envelope.idempotency_key().empty()) {
    out.push_back({"idempotency_key", "required", "must be set"});
  }
  if (envelope.case_ref().empty()) {
    out.push_back({"case_ref", "required", "must be set"});
  }
  return out;
}

}  // namespace ehx::validate
