// Which children are in open early help cases: permanent UPN or NHS number
// -> case reference. Only mapped pupils are published (data minimisation:
// a school sends nothing about pupils the early help service does not
// work with). Not thread-safe for mutation; const lookups may run
// concurrently.
#ifndef EHX_ADAPTERS_SCHOOL_CASE_INDEX_H_
#define EHX_ADAPTERS_SCHOOL_CASE_INDEX_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ehx::adapters::school {

class CaseIndex {
 public:
  // Adds one mapping. Returns "" on success, else a rule id:
  // "required", "upn_format", "upn_check_letter", "upn_temporary" (never a
  // match key), "nhs_number_format", "nhs_number_modulus11",
  // "nhs_number_placeholder", "case_ref_format", "case_map_conflict" (the
  // identifier is already mapped to another case).
  std::string AddUpn(std::string_view raw_upn, std::string_view case_ref);
  std::string AddNhs(std::string_view raw_nhs, std::string_view case_ref);
  // `identifier` is an NHS number when it has 10 digits once spaces are
  // removed, else a UPN.
  std::string Add(std::string_view identifier, std::string_view case_ref);

  // Case ref of a normalised, valid permanent UPN / NHS number, or nullptr.
  const std::string* FindUpn(std::string_view upn) const;
  const std::string* FindNhs(std::string_view nhs) const;

  size_t size() const { return by_upn_.size() + by_nhs_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> by_upn_;
  std::map<std::string, std::string, std::less<>> by_nhs_;
};

// True for 1-64 of [A-Za-z0-9._-] starting with a letter or digit (the
// gateway's case_ref_format rule).
bool IsValidCaseRef(std::string_view ref);

// One refused line of a case map file (no values: line number and rule).
struct CaseMapLineError {
  int line = 0;
  std::string rule;
};

// Reads `identifier,case_ref` lines into `index`. Blank lines, `#`
// comments and a first line starting with a non-identifier header
// ("upn,", "identifier,") are skipped. Returns the refused lines.
std::vector<CaseMapLineError> LoadCaseMapText(std::string_view text,
                                              CaseIndex* index);

}  // namespace ehx::adapters::school

#endif  // EHX_ADAPTERS_SCHOOL_CASE_INDEX_H_
