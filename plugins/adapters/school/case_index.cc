#include "case_index.h"

#include <cctype>
#include <string>

#include "ctf_xml.h"
#include "school_ids.h"

namespace ehx::adapters::school {
namespace {

std::string Insert(std::map<std::string, std::string, std::less<>>* map,
                   std::string key, std::string_view case_ref) {
  auto [it, inserted] = map->emplace(std::move(key), std::string(case_ref));
  if (!inserted && it->second != case_ref) return "case_map_conflict";
  return "";
}

}  // namespace

bool IsValidCaseRef(std::string_view ref) {
  if (ref.empty() || ref.size() > 64 ||
      !std::isalnum(static_cast<unsigned char>(ref[0]))) {
    return false;
  }
  for (unsigned char c : ref) {
    if (c >= 0x80 || !(std::isalnum(c) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

std::string CaseIndex::AddUpn(std::string_view raw, std::string_view case_ref) {
  const std::string upn = NormaliseUpn(raw);
  if (upn.empty() || case_ref.empty()) return "required";
  if (!IsValidCaseRef(case_ref)) return "case_ref_format";
  switch (CheckUpn(upn)) {
    case UpnKind::kBadFormat:
      return "upn_format";
    case UpnKind::kBadCheckLetter:
      return "upn_check_letter";
    case UpnKind::kTemporary:
      return "upn_temporary";
    case UpnKind::kPermanent:
      break;
  }
  return Insert(&by_upn_, upn, case_ref);
}

std::string CaseIndex::AddNhs(std::string_view raw, std::string_view case_ref) {
  const std::string nhs = NormaliseNhs(raw);
  if (nhs.empty() || case_ref.empty()) return "required";
  if (!IsValidCaseRef(case_ref)) return "case_ref_format";
  switch (CheckNhs(nhs)) {
    case NhsKind::kBadFormat:
      return "nhs_number_format";
    case NhsKind::kImpossibleStem:
    case NhsKind::kBadCheckDigit:
      return "nhs_number_modulus11";
    case NhsKind::kPlaceholder:
      return "nhs_number_placeholder";
    case NhsKind::kValid:
      break;
  }
  return Insert(&by_nhs_, nhs, case_ref);
}

std::string CaseIndex::Add(std::string_view identifier,
                           std::string_view case_ref) {
  const std::string digits = NormaliseNhs(identifier);
  bool all_digits = digits.size() == 10;
  for (char c : digits) all_digits = all_digits && c >= '0' && c <= '9';
  return all_digits ? AddNhs(identifier, case_ref)
                    : AddUpn(identifier, case_ref);
}

const std::string* CaseIndex::FindUpn(std::string_view upn) const {
  auto it = by_upn_.find(upn);
  return it == by_upn_.end() ? nullptr : &it->second;
}

const std::string* CaseIndex::FindNhs(std::string_view nhs) const {
  auto it = by_nhs_.find(nhs);
  return it == by_nhs_.end() ? nullptr : &it->second;
}

std::vector<CaseMapLineError> LoadCaseMapText(std::string_view text,
                                              CaseIndex* index) {
  std::vector<CaseMapLineError> errors;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = TrimXml(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (line_no == 1 && line.size() >= 3 &&
        line.substr(0, 3) == "\xEF\xBB\xBF") {
      line = TrimXml(line.substr(3));  // UTF-8 BOM
    }
    if (line.empty() || line[0] == '#') continue;
    const size_t comma = line.find(',');
    if (comma == std::string_view::npos) {
      errors.push_back({line_no, "case_map_line_format"});
      continue;
    }
    const std::string_view id = TrimXml(line.substr(0, comma));
    const std::string_view ref = TrimXml(line.substr(comma + 1));
    if (line_no == 1 && !id.empty() &&
        std::isalpha(static_cast<unsigned char>(id[0])) &&
        (id == "upn" || id == "UPN" || id == "identifier" ||
         id == "nhs_number")) {
      continue;  // header
    }
    std::string rule = index->Add(id, ref);
    if (!rule.empty()) errors.push_back({line_no, std::move(rule)});
    if (end == text.size()) break;
  }
  return errors;
}

}  // namespace ehx::adapters::school
