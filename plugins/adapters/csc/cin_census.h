// Reader of the DfE Children in Need census XML (2024-25 shape:
// Message/Header + Message/Children/Child*, each with ChildIdentifiers,
// ChildCharacteristics and CINdetails*). Pure: bytes in, plain structs out;
// mapping to ehx.cases.v1 is census_mapper.h's job.
//
// Security: the reader (libexpat) refuses any document type declaration
// (so no DTD, no internal or external entities, no entity expansion) and
// external entity references; element nesting and text sizes are bounded.
// Thread-safe (no shared state).
#ifndef EHX_PLUGINS_ADAPTERS_CSC_CIN_CENSUS_H_
#define EHX_PLUGINS_ADAPTERS_CSC_CIN_CENSUS_H_

#include <string>
#include <string_view>
#include <vector>

namespace ehx::adapters::csc {

// A problem found while reading one child or episode (never quotes values).
struct CensusIssue {
  std::string field;  // census element name, e.g. "LAchildID"
  std::string rule;   // e.g. "duplicate_element", "text_too_long"
  std::string message;
};

// One CINdetails block (an episode of need), text exactly as in the file
// (trimmed); an element that was absent is empty and its `has_` false.
struct CinDetails {
  int index = 0;              // 1-based within the child
  int line = 0;               // line of <CINdetails>
  std::string referral_date;  // CINreferralDate
  std::string referral_source;
  std::string primary_need;  // PrimaryNeedCode
  std::string closure_date;  // CINclosureDate
  std::string reason_for_closure;
  std::string date_of_initial_cpc;
  std::string referral_nfa;  // "true"/"false"/"1"/"0" (raw)
  int assessments = 0;
  int cin_plans = 0;
  int section47s = 0;
  int protection_plans = 0;
  std::vector<std::string> assessment_factors;
  std::vector<CensusIssue> issues;
};

// One Child. (A new field must also be cleared in cin_census.cc ResetChild:
// the streaming reader reuses one CensusChild.)
struct CensusChild {
  int index = 0;  // 1-based within Children
  int line = 0;   // line of <Child>
  std::string la_child_id;
  std::string upn;
  std::string former_upn;
  std::string upn_unknown;
  std::string nhs_number;  // non-standard local extension (NHSnumber)
  std::string birth_date;  // PersonBirthDate
  std::string expected_birth_date;
  std::string sex;             // Sex (2024-25)
  std::string gender_current;  // GenderCurrent (before 2024-25)
  std::string death_date;
  std::string ethnicity;
  std::vector<std::string> disabilities;
  std::vector<CinDetails> details;
  // Element names inside the child the reader does not know (ignored).
  std::vector<std::string> unknown_elements;
  std::vector<CensusIssue> issues;
};

struct CensusHeader {
  std::string collection;      // "CIN"
  std::string year;            // e.g. "2025"
  std::string reference_date;  // e.g. "2025-03-31"
  std::string lea;             // Source/LEA
};

struct CensusFile {
  CensusHeader header;
  std::vector<CensusChild> children;
};

// Whole-document failure: the file is moved aside, nothing is published.
struct CensusError {
  std::string rule;  // "xml_malformed", "xml_dtd_refused", ...
  std::string message;
  int line = 0;
};

// Parses `bytes`. Returns false and fills `error` when the document is not
// well-formed XML, declares a DTD or entities, is not a CIN census Message,
// or exceeds the limits; otherwise fills `out` (record-level problems are
// in each child's / episode's `issues`).
bool ParseCensus(std::string_view bytes, CensusFile* out, CensusError* error);

// What ParseCensusStream hands over, in document order.
class CensusHandler {
 public:
  virtual ~CensusHandler() = default;
  // One Child, as ParseCensus reads it, as soon as its end tag is read.
  // `header` is the Header read so far (complete before the first Child
  // in a census that follows the schema: Header comes first). `*child`
  // belongs to the reader and is reused for the next Child (its strings
  // keep their capacity): valid during the call only; the handler may
  // move from it.
  virtual void OnChild(const CensusHeader& header, CensusChild* child) = 0;
};

// ParseCensus without the CensusFile: each Child goes to `handler` as soon
// as it is read, so memory does not grow with the number of children.
// Returns false (and fills `error`) for the same documents as ParseCensus;
// the handler may have seen part of the document by then and must drop
// what it made of it. On success `header` is the document's Header as
// ParseCensus gives it.
bool ParseCensusStream(std::string_view bytes, CensusHandler* handler,
                       CensusHeader* header, CensusError* error);

}  // namespace ehx::adapters::csc

#endif  // EHX_PLUGINS_ADAPTERS_CSC_CIN_CENSUS_H_
