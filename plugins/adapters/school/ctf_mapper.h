// Maps a read CTF (ctf_reader.h) onto ehx envelopes: one
// EVENT_TYPE_PERSON_UPDATED for each pupil in an open case, one for each
// of its contacts, and one EVENT_TYPE_ATTENDANCE_SUMMARY per YearData.
// Every record-level problem becomes an ehx.adapter.v1.RecordError with
// its position and rule; no error text carries names, identifiers or other
// values. Pure (no I/O) and thread-safe.
#ifndef EHX_ADAPTERS_SCHOOL_CTF_MAPPER_H_
#define EHX_ADAPTERS_SCHOOL_CTF_MAPPER_H_

#include <google/protobuf/arena.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "case_index.h"
#include "ctf_reader.h"
#include "ehx_adapter_protos.h"

namespace ehx::adapters::school {

using RecordError = ::ehxpb::adapter::v1::RecordError;
using Envelope = ::ehxpb::exchange::v1::Envelope;

struct MapOptions {
  // Children in open cases. Required (nullptr maps nothing).
  const CaseIndex* cases = nullptr;
  // Put into Identifier.assigner_agency_id of UPNs; may be empty.
  std::string school_agency_id;
  // "Now" for the date-of-birth-in-future rule, Unix seconds.
  int64_t now_unix_seconds = 0;
};

// One Pupil element.
struct MappedPupil {
  int index = 0;         // 1-based
  std::string position;  // "CTfile/CTFpupilData/Pupil[3]"
  // Dropped: a problem the record cannot be published with (see errors).
  bool dropped = false;
  // Valid, but the pupil is not in an open case: nothing to publish.
  bool no_open_case = false;
  std::string case_ref;
  // Ready to publish, idempotency keys set, in publishing order (pupil,
  // contacts, attendance years). Owned by MappedCtf::arena. Read-only:
  // envelopes of one pupil share sub-messages instead of holding copies
  // (each contact's Relationship is also in the pupil's envelope, a contact
  // living at the pupil's address has the pupil's Address, the attendance
  // years have one pupil Person made of the pupil envelope's identifiers,
  // name and date of birth; and every envelope of the file with the same
  // code -- sex, ethnicity, language, SEN, relationship... -- has the same
  // Code message), so changing one would change the others.
  std::vector<const Envelope*> envelopes;
  std::vector<RecordError> errors;
};

struct MappedCtf {
  // Owns every envelope of `pupils` (declared first: destroyed last).
  std::unique_ptr<google::protobuf::Arena> arena;
  // Whole-file refusal (nothing may be published) when non-empty.
  std::string file_rule;
  std::string file_message;
  // File-level notes (header flags, unknown elements).
  std::vector<RecordError> file_errors;
  std::vector<MappedPupil> pupils;
  // Pupil elements read (all of them, also when the file is refused and
  // `pupils` is empty).
  int pupils_read = 0;
};

// Maps every pupil. Deterministic: the same file and options always give
// the same envelopes and keys (keys hash the native record id and a digest
// of the record's bytes as in the file with the file's Header and the
// mapping context, so a re-read publishes nothing new and a changed record
// gets a new key; see README "Idempotency keys").
MappedCtf MapCtf(const CtfFile& file, const MapOptions& options);

// ReadCtf and MapCtf in one pass: each pupil is mapped as soon as it is
// read and then dropped (the reader reuses one CtfPupil), so the pupils are
// never all held at once. Same result as ReadCtf followed by MapCtf.
// Returns false and fills `error` when the reader refuses the document
// (`out` is then empty).
bool ReadAndMapCtf(std::string_view bytes, const XmlLimits& limits,
                   const MapOptions& options, MappedCtf* out,
                   CtfFileError* error);

}  // namespace ehx::adapters::school

#endif  // EHX_ADAPTERS_SCHOOL_CTF_MAPPER_H_
