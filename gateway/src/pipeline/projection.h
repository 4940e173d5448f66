// The shared record projection: how one accepted event changes a case.
#ifndef EHX_PIPELINE_PROJECTION_H_
#define EHX_PIPELINE_PROJECTION_H_

#include <string>
#include <vector>

#include "ehx/exchange/v1/envelope.pb.h"
#include "ehx/record/v1/shared_record.pb.h"

namespace ehx::pipeline {

// Applies accepted `envelope` (message_id, sender_agency and accepted_at
// set) routed to `recipients` to `record`. Pure; deterministic.
void ApplyToRecord(const ehx::exchange::v1::Envelope& envelope,
                   const std::vector<std::string>& recipients,
                   ehx::record::v1::CaseRecord* record);

}  // namespace ehx::pipeline

#endif  // EHX_PIPELINE_PROJECTION_H_
