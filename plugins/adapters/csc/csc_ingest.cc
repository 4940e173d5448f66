#include "csc_ingest.h"

#include <algorithm>

namespace ehx::adapters::csc {

InputKind DetectKind(std::string_view bytes) {
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xEF &&
      static_cast<unsigned char>(bytes[1]) == 0xBB &&
      static_cast<unsigned char>(bytes[2]) == 0xBF) {
    bytes.remove_prefix(3);
  }
  for (char c : bytes) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c == '<') return InputKind::kCensusXml;
    if (c == '{' || c == '[') return InputKind::kDecisionJson;
    return InputKind::kUnknown;
  }
  return InputKind::kUnknown;
}

MapResult MapInput(std::string_view bytes, const CscConfig& config,
                   const LinkIndex& index) {
  switch (DetectKind(bytes)) {
    case InputKind::kCensusXml:
      return MapCensus(bytes, config, index);
    case InputKind::kDecisionJson: {
      // nlohmann refuses a BOM-less? It accepts a UTF-8 BOM; pass as is.
      return MapDecisions(bytes, config, index);
    }
    case InputKind::kUnknown:
      break;
  }
  MapResult r;
  r.input_rejected = true;
  r.input_error =
      "input_format_unknown: neither CIN census XML nor a decision JSON file";
  return r;
}

namespace {

// "rule: description" -> rule (the gateway's violation format).
std::string RuleOf(const std::string& description) {
  const size_t colon = description.find(": ");
  if (colon == std::string::npos || colon == 0) return "refused";
  const std::string rule = description.substr(0, colon);
  const bool snake = std::all_of(rule.begin(), rule.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
  return snake ? rule : "refused";
}

}  // namespace

IngestOutcome PublishAll(const std::string& input_name, const MapResult& mapped,
                         const PublishFn& publish) {
  IngestOutcome out;
  IngestReport& r = out.report;
  r.set_input_name(input_name);
  if (mapped.input_rejected) {
    r.set_input_rejected(true);
    r.set_input_error(mapped.input_error);
    return out;
  }
  for (const MappedItem& item : mapped.items) {
    if (item.counts_as_record) r.set_records_total(r.records_total() + 1);
    // The mapper's errors keep their flagged_only: on a dropped record the
    // reason is not flagged_only, the notes about it are.
    auto add_errors = [&]() {
      for (RecordError e : item.errors) {
        e.set_position(item.position);
        *r.add_errors() = std::move(e);
      }
    };
    if (!item.envelope) {
      if (item.counts_as_record) r.set_records_failed(r.records_failed() + 1);
      add_errors();
      continue;
    }
    if (out.retry_later) {
      // Everything after a transient failure waits for the retry.
      continue;
    }
    const PublishOutcome p = publish(*item.envelope);
    switch (p.kind) {
      case PublishOutcome::Kind::kAccepted:
        r.set_records_published(r.records_published() + 1);
        r.add_published(p.message_id.empty() ? item.envelope->idempotency_key()
                                             : p.message_id);
        add_errors();
        break;
      case PublishOutcome::Kind::kRefused: {
        r.set_records_failed(r.records_failed() + 1);
        add_errors();
        if (p.violations.empty()) {
          RecordError e;
          e.set_position(item.position);
          e.set_rule("refused");
          e.set_message("refused by the gateway: " + p.code);
          *r.add_errors() = std::move(e);
        }
        for (const auto& [field, description] : p.violations) {
          RecordError e;
          e.set_position(item.position);
          e.set_field(field);
          e.set_rule(RuleOf(description));
          // The validator's descriptions never echo values.
          e.set_message(description);
          *r.add_errors() = std::move(e);
        }
        break;
      }
      case PublishOutcome::Kind::kTransient:
        out.retry_later = true;
        break;
    }
  }
  return out;
}

}  // namespace ehx::adapters::csc
