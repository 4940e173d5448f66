// One CTF file in, envelopes out: reads, maps, and only when the whole
// file could be read publishes each record through `publish`. Used by the
// adapter's inbox loop, by Ingest() (ehxctl adapter check) and by tests.
// Thread-safe if `publish` is.
#ifndef EHX_ADAPTERS_SCHOOL_SCHOOL_INGEST_H_
#define EHX_ADAPTERS_SCHOOL_SCHOOL_INGEST_H_

#include <functional>
#include <string>
#include <string_view>

#include "ctf_mapper.h"
#include "ehx_adapter_protos.h"

namespace ehx::adapters::school {

using IngestReport = ::ehxpb::adapter::v1::IngestReport;

// What publishing one envelope gave.
struct PublishOutcome {
  // google.rpc.Code number; 0 = accepted.
  int code = 0;
  // Message id (or, in a dry run, the idempotency key) when accepted.
  std::string message_id;
  // When refused: the first violation's field and rule (from the gateway's
  // "rule: description" text), else empty; and the status message.
  std::string field;
  std::string rule;
  std::string message;
};

using PublishFn = std::function<PublishOutcome(const Envelope&)>;

struct IngestOutcome {
  IngestReport report;
  // A transient failure (UNAVAILABLE, ...) stopped publishing: the file
  // should be retried later (keys make the re-publish idempotent).
  bool retry_later = false;
};

// True for google.rpc codes after which the same envelope would be refused
// again (INVALID_ARGUMENT, FAILED_PRECONDITION, ALREADY_EXISTS, ...).
bool IsPermanentCode(int code);

IngestOutcome IngestCtf(std::string_view input_name, std::string_view bytes,
                        const MapOptions& options, const XmlLimits& limits,
                        const PublishFn& publish);

}  // namespace ehx::adapters::school

#endif  // EHX_ADAPTERS_SCHOOL_SCHOOL_INGEST_H_
