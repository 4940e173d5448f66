#include "raise_ingest.h"

#include <chrono>
#include <utility>
#include <vector>

#include "raise_json.h"

namespace ehx::adapters::raise {
namespace {

using ::ehx::sdk::Code;

bool IsTransient(Code code) {
  return code == Code::kUnavailable || code == Code::kDeadlineExceeded ||
         code == Code::kResourceExhausted || code == Code::kAborted ||
         code == Code::kInternal || code == Code::kUnknown ||
         code == Code::kCancelled;
}

Json IssueJson(const Issue& i) {
  Json j = {{"severity", i.severity}, {"code", i.code}, {"path", i.path}};
  if (!i.rule.empty()) j["rule"] = i.rule;
  return j;
}

}  // namespace

IngestOutcome IngestExportFile(const std::string& file_name,
                               std::string_view bytes,
                               const ExportOptions& options,
                               const Publisher& publish,
                               const std::string& received_at,
                               const std::string& processed_at,
                               SnapshotIndex* snapshots) {
  IngestOutcome out;
  auto& rep = out.report;
  rep.set_input_name(file_name);
  ExportResult ex = ParseExport(bytes, options);
  std::vector<int> stored;
  bool transient = false;
  if (!ex.file_error.empty()) {
    rep.set_input_rejected(true);
    rep.set_input_error(ex.file_error + ": " + ex.file_error_rule);
  } else {
    // Record-level errors and warnings, in input order.
    for (const RecordReport& r : ex.records) {
      rep.set_records_total(rep.records_total() + 1);
      for (const Issue& i : r.issues) {
        if (i.severity == "info") continue;
        auto* e = rep.add_errors();
        e->set_position(i.path);
        e->set_rule(i.code);
        e->set_field(i.path.substr(i.path.rfind('.') + 1));
        e->set_message(i.rule);
        e->set_flagged_only(i.severity != "error");
      }
      if (r.status == "rejected")
        rep.set_records_failed(rep.records_failed() + 1);
    }
    for (size_t ci = 0; ci < ex.cases.size() && !transient; ++ci) {
      CaseOutput& c = ex.cases[ci];
      RecordReport* case_record = nullptr;
      for (RecordReport& r : ex.records) {
        if (r.record_type == "case" && r.index == c.index) case_record = &r;
      }
      const std::string case_path = "$.cases[" + std::to_string(c.index) + "]";
      const SnapshotIndex::Order order =
          snapshots ? snapshots->Check(c.case_id, ex.exported_at)
                    : SnapshotIndex::Order::kNewer;
      if (order == SnapshotIndex::Order::kStale) {
        if (case_record) {
          case_record->status = "skipped_stale";
          case_record->issues.push_back(
              {"info", "stale_snapshot", case_path,
               "older than the snapshot of this case already stored"});
        }
        continue;  // contract 8.4: an older snapshot is not applied
      }
      if (order == SnapshotIndex::Order::kSame && case_record) {
        case_record->issues.push_back(
            {"warning", "conflicting_snapshot", case_path,
             "another snapshot of this case has the same exportedAt; this "
             "later file wins"});
        auto* e = rep.add_errors();
        e->set_position(case_path);
        e->set_rule("conflicting_snapshot");
        e->set_field("exportedAt");
        e->set_message("another snapshot has the same exportedAt");
        e->set_flagged_only(true);
      }
      bool any_refused = false;
      for (PlannedEvent& ev : c.events) {
        ehx::sdk::PublishResult pr = publish(ev.envelope);
        if (pr.status.ok()) {
          rep.add_published(pr.receipt.message_id().empty()
                                ? ev.envelope.idempotency_key()
                                : pr.receipt.message_id());
          continue;
        }
        if (pr.status.code() == Code::kAlreadyExists && ev.once_only) {
          continue;  // published from an earlier snapshot: nothing new
        }
        if (IsTransient(pr.status.code())) {
          transient = true;
          break;
        }
        any_refused = true;
        const std::string pos =
            "$.cases[" + std::to_string(c.index) + "] (" +
            ehxpb::exchange::v1::EventType_Name(ev.envelope.event_type()) + ")";
        if (pr.status.violations().empty()) {
          auto* e = rep.add_errors();
          e->set_position(pos);
          e->set_rule(std::string("publish_") +
                      ehx::sdk::CodeName(pr.status.code()));
          e->set_message("the gateway refused the record");
        }
        for (const auto& v : pr.status.violations()) {
          auto* e = rep.add_errors();
          e->set_position(pos);
          e->set_field(v.field);
          // "rule: description" or just the description.
          const size_t colon = v.description.find(':');
          e->set_rule(colon != std::string::npos && colon < 64
                          ? v.description.substr(0, colon)
                          : std::string("gateway_refused"));
          e->set_message(v.description);
        }
        // Report the refusal against the case record too.
        for (RecordReport& r : ex.records) {
          if (r.record_type == "case" && r.index == c.index) {
            r.issues.push_back(
                {"error", "gateway_refused",
                 "$.cases[" + std::to_string(c.index) + "]",
                 "the gateway refused " + ehxpb::exchange::v1::EventType_Name(
                                              ev.envelope.event_type())});
          }
        }
      }
      if (!transient) {
        if (snapshots) snapshots->Record(c.case_id, ex.exported_at);
        stored.push_back(static_cast<int>(ci));
        rep.set_records_published(rep.records_published() + 1);
        if (any_refused) rep.set_records_failed(rep.records_failed() + 1);
      }
    }
  }
  if (transient) {
    out.result.clear();
    rep.set_input_error("gateway unavailable; file left for retry");
    return out;
  }
  FinishRecordStatuses(&ex, stored);
  bool any_rejected = false;
  for (const RecordReport& r : ex.records) {
    if (r.status == "rejected") any_rejected = true;
    for (const Issue& i : r.issues) {
      if (i.severity == "error") any_rejected = true;  // e.g. refused
    }
  }
  out.result = !ex.file_error.empty() ? "rejected"
               : any_rejected         ? "accepted_with_errors"
                                      : "accepted";
  Json report = {{"file", file_name},         {"fileSha256", Sha256Hex(bytes)},
                 {"receivedAt", received_at}, {"processedAt", processed_at},
                 {"result", out.result},      {"fileIssues", Json::array()},
                 {"records", Json::array()}};
  if (!ex.schema_version.empty()) {
    report["exportSchemaVersion"] = ex.schema_version;
  }
  if (!ex.file_error.empty()) {
    report["fileIssues"].push_back(
        IssueJson({"error", ex.file_error, "$", ex.file_error_rule}));
  }
  for (const Issue& i : ex.file_issues) {
    report["fileIssues"].push_back(IssueJson(i));
  }
  for (const RecordReport& r : ex.records) {
    Json j = {{"recordType", r.record_type},
              {"index", r.index},
              {"status", r.status}};
    if (!r.id.empty()) j["id"] = r.id;
    if (!r.issues.empty()) {
      j["issues"] = Json::array();
      for (const Issue& i : r.issues) j["issues"].push_back(IssueJson(i));
    }
    report["records"].push_back(std::move(j));
  }
  out.processing_report =
      report.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  return out;
}

}  // namespace ehx::adapters::raise
