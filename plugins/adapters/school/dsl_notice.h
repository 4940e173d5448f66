// Renders a CAF notification or a TAF meeting delivered to the school as a
// readable JSON notice for the designated safeguarding lead (DSL),
// minimised to what a DSL needs: which child (name, date of birth, UPN),
// which case, who leads and how to reach them, the level of need, dates and
// status. Never NHS numbers, addresses, ethnicity, family details, minutes,
// voices or free-text decisions. Pure and thread-safe.
#ifndef EHX_ADAPTERS_SCHOOL_DSL_NOTICE_H_
#define EHX_ADAPTERS_SCHOOL_DSL_NOTICE_H_

#include <string>

#include "ehx_adapter_protos.h"

namespace ehx::adapters::school {

// True when the delivery is one the DSL is told about (CAF notification,
// TAF meeting).
bool IsDslEvent(const ::ehxpb::exchange::v1::Envelope& envelope);

// Fills `out` (file name "<accepted_at>-<message_id>-caf.json" or
// "-taf.json", media type application/json, UTF-8 JSON). Returns false with
// a machine reason ("unsupported_event_type", "missing_message_id",
// "payload_missing") when there is nothing to render.
bool RenderDslNotice(const ::ehxpb::exchange::v1::Delivery& delivery,
                     ::ehxpb::adapter::v1::RenderResult* out,
                     std::string* reason);

}  // namespace ehx::adapters::school

#endif  // EHX_ADAPTERS_SCHOOL_DSL_NOTICE_H_
