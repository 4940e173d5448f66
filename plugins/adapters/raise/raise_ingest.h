// Processing one Raise export file end to end (contract 3.3 steps 3-5):
// validate and map (raise_export.h), publish each valid case's envelopes
// through a caller-supplied publisher, and build the IngestReport and the
// contract's processing report (#/$defs/processingReport).
//
// A file-level error publishes nothing. A record-level error skips only that
// record. A refused envelope becomes a RecordError with the gateway's rule
// and the rest of the file still goes through. A transient refusal
// (UNAVAILABLE, ...) stops the file so it is retried later; idempotency keys
// make the retry publish nothing twice.
//
// Thread-compatible; reports contain paths, ids and codes only.
#ifndef EHX_ADAPTERS_RAISE_RAISE_INGEST_H_
#define EHX_ADAPTERS_RAISE_RAISE_INGEST_H_

#include <functional>
#include <string>
#include <string_view>

#include "ehx_adapter_protos.h"
#include "ehx_sdk/adapter.h"
#include "raise_export.h"
#include "raise_snapshots.h"

namespace ehx::adapters::raise {

using Publisher = std::function<ehx::sdk::PublishResult(
    const ehxpb::exchange::v1::Envelope&)>;

struct IngestOutcome {
  ehxpb::adapter::v1::IngestReport report;
  // The processing report (JSON text, contract 12.6).
  std::string processing_report;
  // "accepted", "accepted_with_errors", "rejected"; empty when the file
  // must be retried (transient publish failure).
  std::string result;
};

// `received_at` / `processed_at` are RFC 3339 UTC strings for the report;
// an empty `processed_at` means the system clock when processing ends.
// With `snapshots` (contract 8.4), a case whose stored snapshot is newer
// than this file's exportedAt is not applied (record status
// `skipped_stale`, info issue `stale_snapshot`); one with the same
// exportedAt is applied and flagged `conflicting_snapshot`; every applied
// case is recorded in it.
IngestOutcome IngestExportFile(const std::string& file_name,
                               std::string_view bytes,
                               const ExportOptions& options,
                               const Publisher& publish,
                               const std::string& received_at,
                               const std::string& processed_at,
                               SnapshotIndex* snapshots = nullptr);

}  // namespace ehx::adapters::raise

#endif  // EHX_ADAPTERS_RAISE_RAISE_INGEST_H_
