#include "school_ingest.h"

#include <string>

namespace ehx::adapters::school {

bool IsPermanentCode(int code) {
  switch (code) {
    case 3:   // INVALID_ARGUMENT
    case 5:   // NOT_FOUND
    case 6:   // ALREADY_EXISTS
    case 7:   // PERMISSION_DENIED
    case 9:   // FAILED_PRECONDITION
    case 11:  // OUT_OF_RANGE
    case 12:  // UNIMPLEMENTED
    case 16:  // UNAUTHENTICATED
      return true;
    default:
      return false;
  }
}

IngestOutcome IngestCtf(std::string_view input_name, std::string_view bytes,
                        const MapOptions& options, const XmlLimits& limits,
                        const PublishFn& publish) {
  IngestOutcome out;
  IngestReport& r = out.report;
  r.set_input_name(std::string(input_name));
  // Read and map in one pass (each pupil mapped as it is read); nothing is
  // published until the whole file has been read and mapped, so a file
  // that cannot be read or mapped as a whole is never half-published.
  MappedCtf mapped;
  CtfFileError file_error;
  if (!ReadAndMapCtf(bytes, limits, options, &mapped, &file_error)) {
    r.set_input_rejected(true);
    r.set_input_error(file_error.rule + ": " + file_error.message +
                      (file_error.line > 0
                           ? " (line " + std::to_string(file_error.line) + ")"
                           : ""));
    return out;
  }
  r.set_records_total(mapped.pupils_read);
  if (!mapped.file_rule.empty()) {
    r.set_input_rejected(true);
    r.set_input_error(mapped.file_rule + ": " + mapped.file_message);
    return out;
  }
  for (RecordError& e : mapped.file_errors) *r.add_errors() = std::move(e);

  int published = 0, failed = 0;
  for (MappedPupil& p : mapped.pupils) {
    if (p.no_open_case) continue;  // not in an open case: nothing to say
    if (p.dropped) {
      ++failed;
      for (RecordError& e : p.errors) *r.add_errors() = std::move(e);
      continue;
    }
    bool refused = false;
    for (const Envelope* env_ptr : p.envelopes) {
      const Envelope& env = *env_ptr;
      PublishOutcome o = publish(env);
      if (o.code == 0) {
        r.add_published(o.message_id);
        continue;
      }
      if (!IsPermanentCode(o.code)) {
        out.retry_later = true;
        r.set_records_published(published);
        r.set_records_failed(failed);
        return out;
      }
      refused = true;
      RecordError* e = &p.errors.emplace_back();
      e->set_position(p.position);
      e->set_rule(o.rule.empty() ? "refused_by_gateway" : o.rule);
      e->set_field(o.field);
      e->set_message(
          std::string(
              env.event_type() ==
                      ::ehxpb::exchange::v1::EVENT_TYPE_ATTENDANCE_SUMMARY
                  ? "attendance summary"
                  : "person update") +
          " refused by the gateway (code " + std::to_string(o.code) + ")");
    }
    if (refused) {
      ++failed;
    } else {
      ++published;
    }
    for (RecordError& e : p.errors) *r.add_errors() = std::move(e);
  }
  r.set_records_published(published);
  r.set_records_failed(failed);
  return out;
}

}  // namespace ehx::adapters::school
