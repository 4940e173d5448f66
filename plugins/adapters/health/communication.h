// Deliveries to health visitors -> FHIR R4 Communication resources: CAF
// notifications (EVENT_TYPE_CAF_NOTIFICATION) and step-down notices
// (EVENT_TYPE_STEP_DOWN). Pure function; thread-safe.
#ifndef EHX_ADAPTERS_HEALTH_COMMUNICATION_H_
#define EHX_ADAPTERS_HEALTH_COMMUNICATION_H_

#include "ehx_adapter_protos.h"
#include "ehx_sdk/adapter.h"

namespace ehx::adapters::health {

// Fills `out` with "Communication-<message id>.json" (application/fhir+json).
// FAILED_PRECONDITION for other event types (nothing to tell health
// visitors), INVALID_ARGUMENT when the message id is missing.
ehx::sdk::Status RenderCommunication(
    const ::ehxpb::exchange::v1::Delivery& delivery,
    ::ehxpb::adapter::v1::RenderResult* out);

}  // namespace ehx::adapters::health

#endif  // EHX_ADAPTERS_HEALTH_COMMUNICATION_H_
