// Content validation of envelopes before anything is stored.
//
// The validator is pure: it reads the envelope (and, for time rules, a clock
// value), never logs, never allocates shared state, and may be called from
// any number of threads at once. Descriptions never echo the offending value
// or any personal data, so violations may be logged and returned to clients.
#ifndef EHX_VALIDATE_VALIDATE_H_
#define EHX_VALIDATE_VALIDATE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
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
// violations, empty when valid. Time rules use absl::Now().
std::vector<FieldViolation> ValidateEnvelope(
    const ehx::exchange::v1::Envelope& envelope);

// As above with an explicit "now" for the time rules (occurred_at not in the
// future, date of birth not in the future). Deterministic: for tests and for
// callers that hold an injected clock.
std::vector<FieldViolation> ValidateEnvelope(
    const ehx::exchange::v1::Envelope& envelope, absl::Time now);

}  // namespace ehx::validate

#endif  // EHX_VALIDATE_VALIDATE_H_
