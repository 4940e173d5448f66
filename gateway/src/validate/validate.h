// Content validation of envelopes before anything is stored.
#ifndef EHX_VALIDATE_VALIDATE_H_
#define EHX_VALIDATE_VALIDATE_H_

#include <string>
#include <vector>

#include "ehx/exchange/v1/envelope.pb.h"

namespace ehx::validate {

// One broken rule. `field` is the protobuf field path in the envelope
// (e.g. "step_up_referral.children[0].identifiers[1].value"), `rule` a
// stable snake_case rule id (e.g. "nhs_number_modulus11"), `description`
// human text that never echoes the offending value or any personal data.
struct FieldViolation {
  std::string field;
  std::string rule;
  std::string description;
};

// Checks envelope fields (idempotency key, case ref, event type matches
// payload, ...) and every payload rule. Thread-safe, pure. Returns all
// violations, empty when valid.
std::vector<FieldViolation> ValidateEnvelope(
    const ehx::exchange::v1::Envelope& envelope);

}  // namespace ehx::validate

#endif  // EHX_VALIDATE_VALIDATE_H_
