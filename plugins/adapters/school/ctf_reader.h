// The DfE Common Transfer File (CTF) as plain C++ values, read from XML.
// No protobuf: the fuzz target and the benchmark use it on its own.
//
// The reader is tolerant by design: it copies what it finds, as text, and
// leaves every judgement (required fields, check letters, dates, codes) to
// the mapper (ctf_mapper.h), which reports per record. Only a document
// that is not a CTF at all (not well-formed, DTD, wrong root, no Header or
// CTFpupilData) is refused as a whole. Thread-safe (no shared state).
//
// The reader streams: each Pupil is read straight from the expat events
// into one reused CtfPupil (a stack of the open elements it reads; each
// start tag's name looked up in its parent's table), with no tree; only
// the Header (once per file) is captured as a flat tree (ctf_xml.h
// FlatXmlTree). Cost and memory do not grow with the document. It also
// takes a digest (XXH3-64) of each record's native bytes, which the mapper
// uses for idempotency keys (see ctf_mapper.h). The tree-based reader it
// replaced is kept for the tests as the reference it must match field by
// field (tests/adapters/school/ctf_reader_reference.h).
#ifndef EHX_ADAPTERS_SCHOOL_CTF_READER_H_
#define EHX_ADAPTERS_SCHOOL_CTF_READER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ctf_xml.h"

namespace ehx::adapters::school {

struct CtfSchool {
  std::string lea;    // 3-digit LA number
  std::string estab;  // 4-digit establishment number (or "LLLL")
  std::string urn;    // 6-digit URN
  std::string name;
  std::string academic_year;  // start year, "2024" for 2024/25
};

struct CtfHeader {
  std::string document_name;
  std::string version;             // "25.0"
  std::string version_element;     // "CTFversion" (XSD) or "CTFVersion"
  std::string date_time;           // local Europe/London, YYYY-MM-DDThh:mm:ss
  std::string document_qualifier;  // full | partial
  std::string supplier_id;
  CtfSchool source;
  CtfSchool dest;
  // XXH3-64 of the Header element's bytes as in the file.
  uint64_t native_digest = 0;
};

struct CtfAddress {
  bool present = false;
  bool bs7666 = false;
  // BS7666
  std::string saon, paon, street, locality, town, administrative_area,
      post_town, uprn;
  // AddressLines (AddressLine1..5)
  std::vector<std::string> lines;
  std::string county, postcode, zip, country;
};

struct CtfPhone {
  std::string type;  // CBDS telephone type (H, M, W, ...)
  std::string number;
};

struct CtfContact {
  int line = 0;
  std::string order, title, surname, forename, middle_names;
  std::string sex;             // Sex or legacy Gender
  std::string relationship;    // CBDS 3-letter code (PAM, PAF, ...)
  std::string responsibility;  // parental responsibility, "true"/"false"
  bool address_as_pupil = false;
  CtfAddress address;
  std::vector<CtfPhone> phones;
  std::string email;
  // XXH3-64 of the Contact element's bytes as in the file.
  uint64_t native_digest = 0;
};

struct CtfYearData {
  int line = 0;
  std::string year;  // academic year start, "2024"
  std::string lea, estab, school_name;
  std::string sessions_possible, sessions_authorised, sessions_attended,
      sessions_unauthorised;
  std::string attendance_start_date;
  std::string attendance_marks;
  // XXH3-64 of the YearData element's bytes as in the file.
  uint64_t native_digest = 0;
};

struct CtfFsmInstance {
  std::string start_date, end_date, uk_country;
};

struct CtfPupil {
  int index = 0;  // 1-based position among Pupil elements
  int line = 0;
  std::string upn, uln, uci;
  std::string surname, forename, dob;
  std::string sex;          // the text of Sex, or of legacy Gender
  std::string sex_element;  // "Sex", "Gender" or ""
  // Vendor extension some MIS add; CTF itself carries no NHS number.
  std::string nhs_number;
  // BasicDetails
  std::string former_upn, preferred_surname, former_surname, preferred_forename,
      former_forename, middle_names, nc_year_actual, ethnicity,
      ethnicity_source, medical_flag, enrol_status;
  std::vector<std::string> languages;  // Languages/Type/Language codes
  std::vector<std::string> disabilities;
  // LookedAfter
  std::string in_care, care_authority;
  // FSM
  std::string fsm_review_date;
  std::vector<CtfFsmInstance> fsm;
  // SEN
  std::string sen_start_date, sen_provision;
  std::vector<std::string> sen_needs;
  CtfAddress address;
  std::vector<CtfPhone> phones;
  std::string email;
  std::vector<CtfContact> contacts;
  std::vector<CtfYearData> attendance;
  // Paths of child elements the reader does not know (no values).
  std::vector<std::string> unknown_elements;
  // XXH3-64 of the Pupil element's bytes as in the file, leaving out its
  // Attendance children (`digest_without_attendance`), or its Attendance
  // and Contacts children (`core_digest`: what every envelope of the pupil
  // carries: identifiers, names, date of birth, address).
  uint64_t digest_without_attendance = 0;
  uint64_t core_digest = 0;
};

struct CtfFile {
  CtfHeader header;
  std::vector<CtfPupil> pupils;
  // Paths of unknown elements outside pupils.
  std::vector<std::string> unknown_elements;
};

// Why a whole file was refused. `rule` is stable: the XmlError rules plus
// "ctf_not_a_ctf" (root is not CTfile), "ctf_header_missing",
// "ctf_pupil_data_missing". `message` never quotes content.
struct CtfFileError {
  std::string rule;
  std::string message;
  int line = 0;
};

// Parses and reads one CTF document. Returns false (and fills `error`)
// when the whole document is refused; `out` is then empty.
bool ReadCtf(std::string_view bytes, const XmlLimits& limits, CtfFile* out,
             CtfFileError* error);

// What ReadCtfStream hands over, in document order.
class CtfHandler {
 public:
  virtual ~CtfHandler() = default;
  // The (first) Header, as soon as its end tag is read: before the pupils
  // in any CTF that follows the XSD (a Header after CTFpupilData comes
  // after those pupils).
  virtual void OnHeader(const CtfHeader& header) = 0;
  // One Pupil, read as ReadCtf reads it. `*pupil` belongs to the reader
  // and is reused for the next Pupil (its strings keep their capacity):
  // it is valid during the call only; the handler may move from it.
  // [begin, end) is the Pupil element's byte span in the document.
  virtual void OnPupil(CtfPupil* pupil, size_t begin, size_t end) = 0;
};

// ReadCtf without the CtfFile: each pupil goes to `handler` as soon as it
// is read, so memory does not grow with the number of pupils. Returns
// false (and fills `error`) when the whole document is refused, for the
// same reasons as ReadCtf; the handler may have seen part of the document
// by then and must drop what it made of it. On success
// `unknown_elements` gets CtfFile::unknown_elements.
bool ReadCtfStream(std::string_view bytes, const XmlLimits& limits,
                   CtfHandler* handler,
                   std::vector<std::string>* unknown_elements,
                   CtfFileError* error);

}  // namespace ehx::adapters::school

#endif  // EHX_ADAPTERS_SCHOOL_CTF_READER_H_
