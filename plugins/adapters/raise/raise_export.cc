#include "raise_export.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "raise_json.h"

namespace ehx::adapters::raise {
namespace {

namespace cv1 = ::ehxpb::cases::v1;
namespace ex = ::ehxpb::exchange::v1;
using KeyList = std::initializer_list<std::string_view>;

constexpr char kNhsSystem[] = "https://fhir.nhs.uk/Id/nhs-number";
constexpr char kNhsVerificationSystem[] =
    "https://fhir.hl7.org.uk/CodeSystem/"
    "UKCore-NHSNumberVerificationStatusEngland";
constexpr char kUpnSystem[] = "urn:ehx:id:upn";
constexpr char kFormerUpnSystem[] = "urn:ehx:id:former-upn";
constexpr char kLaChildSystem[] = "urn:ehx:id:la-child-id";
constexpr char kSfFamilySystem[] = "urn:ehx:id:sf-family-id";
constexpr char kSexSystem[] = "urn:ehx:code:cin-census:sex";
constexpr char kRfcSystem[] = "urn:ehx:code:cin-census:reason-for-closure";
constexpr char kRefSrcSystem[] = "urn:ehx:code:cin-census:referral-source";
constexpr char kEthnicityDfe[] = "urn:ehx:code:cin-census:ethnicity";
constexpr char kEthnicityNhs[] =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland";
constexpr char kLanguageSystem[] = "urn:iso:std:iso:639-3";
constexpr char kSenSystem[] = "urn:ehx:code:cbds:sen-provision";

std::string RaiseCodeSystem(std::string_view list) {
  return "urn:ehx:code:raise:" + std::string(list);
}

bool In(std::string_view v, KeyList list) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

bool In(std::string_view v, const std::vector<std::string_view>& list) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// --- issue collection -------------------------------------------------------

// Unknown members are reported once per path pattern (indexes removed).
struct FileState {
  std::set<std::string> unknown_seen;
  std::vector<std::string> duplicate_members;
  std::vector<std::string> invalid_unicode;
};

std::string Pattern(const std::string& path) {
  std::string out;
  bool skip = false;
  for (char c : path) {
    if (c == '[') {
      skip = true;
      out += "[]";
      continue;
    }
    if (c == ']') {
      skip = false;
      continue;
    }
    if (!skip) out.push_back(c);
  }
  return out;
}

bool HasPrefixPath(const std::string& path, const std::string& prefix) {
  return path.size() > prefix.size() &&
         path.compare(0, prefix.size(), prefix) == 0 &&
         (path[prefix.size()] == '.' || path[prefix.size()] == '[');
}

// Reads members of one record with the contract's rules.
class Rec {
 public:
  Rec(std::vector<Issue>* issues, FileState* file)
      : issues_(issues), file_(file) {}

  void Err(std::string code, std::string path, std::string rule) {
    failed_ = true;
    issues_->push_back(
        {"error", std::move(code), std::move(path), std::move(rule)});
  }
  void Warn(std::string code, std::string path, std::string rule) {
    issues_->push_back(
        {"warning", std::move(code), std::move(path), std::move(rule)});
  }
  void Info(std::string code, std::string path, std::string rule) {
    issues_->push_back(
        {"info", std::move(code), std::move(path), std::move(rule)});
  }
  bool failed() const { return failed_; }

  static std::string P(const std::string& path, std::string_view key) {
    return path + "." + std::string(key);
  }
  static std::string I(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

  // The member, or nullptr when absent or null.
  static const ExportJson* Get(const ExportJson& o, std::string_view key) {
    if (!o.is_object()) return nullptr;
    auto it = o.find(key);  // no key string per lookup
    if (it == o.end() || it->is_null()) return nullptr;
    return &*it;
  }

  bool Missing(const ExportJson& o, std::string_view key,
               const std::string& path, bool required) {
    if (Get(o, key) != nullptr) return false;
    if (required) {
      Err("required_field_missing", P(path, key),
          std::string(key) + " is required");
    }
    return true;
  }

  void WrongType(const std::string& p, bool required, const std::string& want) {
    if (required) {
      Err("wrong_type", p, "must be " + want);
    } else {
      Warn("wrong_type", p, "must be " + want + "; treated as no value");
    }
  }

  std::optional<std::string> Str(const ExportJson& o, std::string_view key,
                                 const std::string& path,
                                 bool required = false) {
    if (Missing(o, key, path, required)) return std::nullopt;
    const ExportJson& v = *Get(o, key);
    if (!v.is_string()) {
      WrongType(P(path, key), required, "a string");
      return std::nullopt;
    }
    return v.get<std::string>();
  }

  // A Raise identifier (contract `id`).
  std::optional<std::string> Id(const ExportJson& o, std::string_view key,
                                const std::string& path,
                                bool required = false) {
    auto s = Str(o, key, path, required);
    if (s && !IsRaiseId(*s)) {
      if (required) {
        Err("wrong_type", P(path, key),
            "an id is 1-64 characters without whitespace or full stop");
      } else {
        Warn("wrong_type", P(path, key),
             "an id is 1-64 characters without whitespace or full stop");
      }
      return std::nullopt;
    }
    return s;
  }

  std::optional<bool> Bool(const ExportJson& o, std::string_view key,
                           const std::string& path) {
    if (Missing(o, key, path, false)) return std::nullopt;
    const ExportJson& v = *Get(o, key);
    if (!v.is_boolean()) {
      WrongType(P(path, key), false, "a JSON boolean");
      return std::nullopt;
    }
    return v.get<bool>();
  }

  std::optional<int64_t> Int(const ExportJson& o, std::string_view key,
                             const std::string& path, bool required,
                             int64_t min) {
    if (Missing(o, key, path, required)) return std::nullopt;
    const ExportJson& v = *Get(o, key);
    if (!v.is_number_integer() ||
        (v.is_number_unsigned() && v.get<uint64_t>() > (uint64_t{1} << 53))) {
      WrongType(P(path, key), required, "an integer");
      return std::nullopt;
    }
    const int64_t n = v.get<int64_t>();
    if (n < min) {
      WrongType(P(path, key), required, "an integer >= " + std::to_string(min));
      return std::nullopt;
    }
    return n;
  }

  std::optional<double> Number(const ExportJson& o, std::string_view key,
                               const std::string& path) {
    if (Missing(o, key, path, false)) return std::nullopt;
    const ExportJson& v = *Get(o, key);
    if (!v.is_number()) {
      WrongType(P(path, key), false, "a number");
      return std::nullopt;
    }
    return v.get<double>();
  }

  std::optional<CivilDate> Date(const ExportJson& o, std::string_view key,
                                const std::string& path,
                                bool required = false) {
    auto s = Str(o, key, path, required);
    if (!s) return std::nullopt;
    CivilDate d;
    switch (ParseDate(*s, &d)) {
      case DateForm::kIso:
        return d;
      case DateForm::kUk:
        Warn("date_uk_format", P(path, key),
             "dates are YYYY-MM-DD; dd/mm/yyyy read day first");
        return d;
      case DateForm::kInvalid:
        break;
    }
    if (required) {
      Err("unparseable_date", P(path, key), "not a valid YYYY-MM-DD date");
    } else {
      Warn("unparseable_date", P(path, key),
           "not a valid YYYY-MM-DD date; treated as no value");
    }
    return std::nullopt;
  }

  std::optional<Instant> DateTime(const ExportJson& o, std::string_view key,
                                  const std::string& path,
                                  bool required = false) {
    auto s = Str(o, key, path, required);
    if (!s) return std::nullopt;
    Instant t;
    const TimeForm form = ParseDateTime(*s, &t);
    if (form == TimeForm::kOffset) return t;
    const std::string p = P(path, key);  // only spelt out for a finding
    switch (form) {
      case TimeForm::kOffset:
        return t;
      case TimeForm::kLocalUnique:
        Warn("datetime_no_offset", p,
             "date-time without offset read as Europe/London time");
        return t;
      case TimeForm::kLocalGap:
        Warn("local_time_nonexistent", p,
             "local time falls in the Europe/London spring-forward gap");
        return t;
      case TimeForm::kLocalOverlap:
        Warn("local_time_ambiguous", p,
             "local time falls in the Europe/London autumn overlap; earlier "
             "occurrence taken");
        return t;
      case TimeForm::kInvalid:
        break;
    }
    if (required) {
      Err("unparseable_date", p, "not an RFC 3339 date-time");
    } else {
      Warn("unparseable_date", p,
           "not an RFC 3339 date-time; treated as no value");
    }
    return std::nullopt;
  }

  // A code from a closed list: unknown values are kept and flagged.
  std::optional<std::string> Code(const ExportJson& o, std::string_view key,
                                  const std::string& path, bool required,
                                  const std::vector<std::string_view>& allowed,
                                  const char* list) {
    auto s = Str(o, key, path, required);
    if (s && !In(*s, allowed)) {
      Warn("unknown_code", P(path, key),
           std::string("not in code list ") + list);
    }
    return s;
  }

  const ExportJson* Object(const ExportJson& o, std::string_view key,
                           const std::string& path, bool required = false) {
    if (Missing(o, key, path, required)) return nullptr;
    const ExportJson* v = Get(o, key);
    if (!v->is_object()) {
      WrongType(P(path, key), required, "an object");
      return nullptr;
    }
    return v;
  }

  const ExportJson* Array(const ExportJson& o, std::string_view key,
                          const std::string& path, bool required = false,
                          size_t min = 0) {
    if (Missing(o, key, path, required)) return nullptr;
    const ExportJson* v = Get(o, key);
    if (!v->is_array()) {
      WrongType(P(path, key), required, "an array");
      return nullptr;
    }
    if (v->size() < min) {
      if (required) {
        Err("required_field_missing", P(path, key),
            "needs at least " + std::to_string(min) + " entries");
      }
    }
    return v;
  }

  // Array of strings (non-strings dropped with a warning).
  std::vector<std::string> Strings(const ExportJson& o, std::string_view key,
                                   const std::string& path,
                                   bool required = false, size_t min = 0) {
    std::vector<std::string> out;
    const ExportJson* a = Array(o, key, path, required, min);
    if (a == nullptr) return out;
    for (size_t i = 0; i < a->size(); ++i) {
      if (!(*a)[i].is_string()) {
        if (required) {
          Err("wrong_type", I(P(path, key), i), "must be a string");
        } else {
          Warn("wrong_type", I(P(path, key), i), "must be a string");
        }
        continue;
      }
      out.push_back((*a)[i].get<std::string>());
    }
    return out;
  }

  // Reports members not defined by the contract (info, once per pattern).
  void Known(const ExportJson& o, const std::string& path, KeyList known) {
    if (!o.is_object()) return;
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string_view k = it.key();
      if (!k.empty() && k[0] == '_') continue;  // annotations for people
      if (In(k, known)) continue;
      if (k.size() > 4 && k.compare(k.size() - 4, 4, "Note") == 0 &&
          In(k.substr(0, k.size() - 4), known)) {
        continue;  // <field>Note batch annotation: kept as text
      }
      const std::string p = P(path, k);
      if (file_->unknown_seen.insert(Pattern(p)).second) {
        Info("unknown_member", p,
             "member not defined by the contract; ignored and preserved");
      }
      // Contract 7.5: preserved with the record as path + raw JSON.
      const auto raw = it->dump();
      unknown_.push_back({p, std::string(raw.data(), raw.size())});
    }
  }

  // Members Known() did not recognise, in file order: (JSONPath, raw JSON).
  std::vector<std::pair<std::string, std::string>> TakeUnknown() {
    return std::move(unknown_);
  }

 private:
  std::vector<Issue>* issues_;
  FileState* file_;
  bool failed_ = false;
  std::vector<std::pair<std::string, std::string>> unknown_;
};

void SetDate(const CivilDate& d, cv1::Date* out) {
  out->set_year(d.year);
  out->set_month(d.month);
  out->set_day(d.day);
}

void SetTime(const Instant& t, google::protobuf::Timestamp* out) {
  out->set_seconds(t.seconds);
  out->set_nanos(t.nanos);
}

cv1::Code MakeCode(std::string system, const std::string& code,
                   const std::string& original) {
  cv1::Code c;
  c.set_system(std::move(system));
  c.set_code(code);
  c.set_original_value(original);
  return c;
}

// --- code lists -------------------------------------------------------------

const std::vector<std::string_view> kSex = {"M", "F", "U"};
const std::vector<std::string_view> kNhsStatus = {"01", "02", "03", "04",
                                                  "05", "06", "07", "08"};
const std::vector<std::string_view> kUpnUnknown = {"UN1", "UN2", "UN3", "UN4",
                                                   "UN5", "UN6", "UN7"};
const std::vector<std::string_view> kSen = {"N", "K", "E"};
const std::vector<std::string_view> kEthScheme = {"DfE", "NHS"};
const std::vector<std::string_view> kPhoneType = {"mobile", "home", "work",
                                                  "other"};
const std::vector<std::string_view> kCaseStatus = {"open", "closed"};
const std::vector<std::string_view> kClosureReason = {
    "outcomes_met",
    "stepped_up_to_csc",
    "stepped_down_to_universal",
    "consent_withdrawn",
    "family_disengaged",
    "moved_out_of_area",
    "transferred_to_other_service",
    "other"};
const std::vector<std::string_view> kOriginType = {
    "step_down_from_csc", "request_for_support", "self_referral",
    "front_door_contact", "transfer_in",         "other"};
const std::vector<std::string_view> kRfc = {"RC1", "RC2", "RC3", "RC4", "RC5",
                                            "RC6", "RC7", "RC8", "RC9"};
const std::vector<std::string_view> kRefSrc = {
    "1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E",
    "3F", "4",  "5A", "5B", "5C", "5D", "6",  "7",  "8",  "9",  "10"};
const std::vector<std::string_view> kMemberRole = {
    "child", "parent", "carer", "wider_family", "household_member", "other"};
const std::vector<std::string_view> kRelType = {"mother",
                                                "father",
                                                "step_mother",
                                                "step_father",
                                                "parent_partner",
                                                "foster_carer",
                                                "special_guardian",
                                                "kinship_carer",
                                                "maternal_grandmother",
                                                "maternal_grandfather",
                                                "paternal_grandmother",
                                                "paternal_grandfather",
                                                "grandparent",
                                                "sibling",
                                                "half_sibling",
                                                "step_sibling",
                                                "aunt",
                                                "uncle",
                                                "other_relative",
                                                "other"};
const std::vector<std::string_view> kContactStatus = {
    "engaged",        "engaged_by_phone", "not_engaged", "whereabouts_unknown",
    "do_not_contact", "not_yet_contacted"};
const std::vector<std::string_view> kConsentType = {
    "information_sharing", "child_agreement", "assessment", "referral"};
const std::vector<std::string_view> kConsentStatus = {
    "given", "refused", "withdrawn", "not_sought", "pending"};
const std::vector<std::string_view> kConsentMethod = {"written_signed",
                                                      "verbal", "electronic"};
const std::vector<std::string_view> kAssessmentType = {
    "early_help_assessment", "early_help_reassessment"};
const std::vector<std::string_view> kNeedLevel = {"none", "emerging",
                                                  "additional", "significant"};
const std::vector<std::string_view> kTafType = {
    "initial", "review", "emergency_review", "step_down_transition", "closure"};
const std::vector<std::string_view> kTafStatus = {"held", "scheduled",
                                                  "cancelled"};
const std::vector<std::string_view> kAttendance = {
    "present", "present_part", "apologies", "absent", "not_invited"};
const std::vector<std::string_view> kActionStatus = {
    "not_started", "in_progress", "completed",
    "overdue",     "superseded",  "cancelled"};
const std::vector<std::string_view> kParentalConsent = {
    "given", "refused", "not_sought", "not_required"};
const std::vector<std::string_view> kDecision = {
    "accepted_for_child_and_family_assessment",
    "accepted_for_strategy_discussion",
    "immediate_protective_action",
    "information_and_advice",
    "return_to_early_help",
    "signposted_to_other_service",
    "no_further_action"};
const std::vector<std::string_view> kDocSource = {"scanned", "native",
                                                  "imported"};
const std::vector<std::string_view> kOcrStatus = {"completed", "pending",
                                                  "failed", "not_required"};

cv1::RelationshipType MapRelationship(const std::string& t) {
  if (t == "mother") return cv1::RELATIONSHIP_TYPE_MOTHER;
  if (t == "father") return cv1::RELATIONSHIP_TYPE_FATHER;
  if (t == "step_mother" || t == "step_father")
    return cv1::RELATIONSHIP_TYPE_STEP_PARENT;
  if (t == "parent_partner") return cv1::RELATIONSHIP_TYPE_PARENT_PARTNER;
  if (t == "foster_carer") return cv1::RELATIONSHIP_TYPE_FOSTER_CARER;
  if (t == "special_guardian") return cv1::RELATIONSHIP_TYPE_SPECIAL_GUARDIAN;
  if (t == "kinship_carer") return cv1::RELATIONSHIP_TYPE_CARER;
  if (t.find("grand") != std::string::npos)
    return cv1::RELATIONSHIP_TYPE_GRANDPARENT;
  if (t == "sibling") return cv1::RELATIONSHIP_TYPE_SIBLING;
  if (t == "half_sibling") return cv1::RELATIONSHIP_TYPE_HALF_SIBLING;
  if (t == "step_sibling") return cv1::RELATIONSHIP_TYPE_STEP_SIBLING;
  if (t == "aunt" || t == "uncle") return cv1::RELATIONSHIP_TYPE_AUNT_UNCLE;
  if (t == "other_relative") return cv1::RELATIONSHIP_TYPE_OTHER_RELATIVE;
  if (t == "other") return cv1::RELATIONSHIP_TYPE_FRIEND;
  return cv1::RELATIONSHIP_TYPE_OTHER;
}

cv1::NeedLevel MapNeed(const std::string& n) {
  if (n == "none") return cv1::NEED_LEVEL_NONE;
  if (n == "emerging") return cv1::NEED_LEVEL_LOW;
  if (n == "additional") return cv1::NEED_LEVEL_MEDIUM;
  if (n == "significant") return cv1::NEED_LEVEL_HIGH;
  return cv1::NEED_LEVEL_UNSPECIFIED;
}

cv1::ActionStatus MapActionStatus(const std::string& s) {
  if (s == "not_started") return cv1::ACTION_STATUS_NOT_STARTED;
  if (s == "in_progress") return cv1::ACTION_STATUS_IN_PROGRESS;
  if (s == "completed") return cv1::ACTION_STATUS_COMPLETED;
  if (s == "overdue") return cv1::ACTION_STATUS_OVERDUE;
  if (s == "superseded") return cv1::ACTION_STATUS_SUPERSEDED;
  if (s == "cancelled") return cv1::ACTION_STATUS_CANCELLED;
  return cv1::ACTION_STATUS_UNSPECIFIED;
}

cv1::ClosureReason MapClosure(const std::string& r) {
  if (r == "outcomes_met") return cv1::CLOSURE_REASON_OUTCOMES_MET;
  if (r == "stepped_up_to_csc") return cv1::CLOSURE_REASON_STEPPED_UP;
  if (r == "stepped_down_to_universal")
    return cv1::CLOSURE_REASON_UNIVERSAL_SERVICES;
  if (r == "consent_withdrawn" || r == "family_disengaged")
    return cv1::CLOSURE_REASON_CONSENT_WITHDRAWN;
  if (r == "moved_out_of_area") return cv1::CLOSURE_REASON_MOVED_AWAY;
  return cv1::CLOSURE_REASON_OTHER;
}

// CAF element names -> (domain, element).
struct ElementName {
  std::string_view name;
  cv1::AssessmentDomain domain;
  cv1::AssessmentElement element;
};
constexpr cv1::AssessmentDomain kDev = cv1::ASSESSMENT_DOMAIN_CHILD_DEVELOPMENT;
constexpr cv1::AssessmentDomain kPar =
    cv1::ASSESSMENT_DOMAIN_PARENTING_CAPACITY;
constexpr cv1::AssessmentDomain kEnv =
    cv1::ASSESSMENT_DOMAIN_FAMILY_AND_ENVIRONMENT;
constexpr ElementName kHealthElements[] = {
    {"generalHealth", kDev, cv1::ASSESSMENT_ELEMENT_HEALTH},
    {"physicalDevelopment", kDev, cv1::ASSESSMENT_ELEMENT_HEALTH},
    {"speechLanguageAndCommunication", kDev, cv1::ASSESSMENT_ELEMENT_HEALTH}};
constexpr ElementName kLearningElements[] = {
    {"understandingReasoningAndProblemSolving", kDev,
     cv1::ASSESSMENT_ELEMENT_LEARNING},
    {"participationInLearningEducationAndEmployment", kDev,
     cv1::ASSESSMENT_ELEMENT_LEARNING},
    {"progressAndAchievementInLearning", kDev,
     cv1::ASSESSMENT_ELEMENT_LEARNING},
    {"aspirations", kDev, cv1::ASSESSMENT_ELEMENT_LEARNING}};
constexpr ElementName kDirectElements[] = {
    {"emotionalAndSocialDevelopment", kDev,
     cv1::ASSESSMENT_ELEMENT_EMOTIONAL_SOCIAL_DEVELOPMENT},
    {"behaviouralDevelopment", kDev,
     cv1::ASSESSMENT_ELEMENT_BEHAVIOURAL_DEVELOPMENT},
    {"identitySelfEsteemSelfImageAndSocialPresentation", kDev,
     cv1::ASSESSMENT_ELEMENT_IDENTITY},
    {"familyAndSocialRelationships", kDev,
     cv1::ASSESSMENT_ELEMENT_FAMILY_SOCIAL_RELATIONSHIPS},
    {"selfCareSkillsAndIndependence", kDev, cv1::ASSESSMENT_ELEMENT_SELF_CARE}};
constexpr ElementName kParentElements[] = {
    {"basicCareEnsuringSafetyAndProtection", kPar,
     cv1::ASSESSMENT_ELEMENT_BASIC_CARE_SAFETY},
    {"emotionalWarmthAndStability", kPar,
     cv1::ASSESSMENT_ELEMENT_EMOTIONAL_WARMTH_STABILITY},
    {"guidanceBoundariesAndStimulation", kPar,
     cv1::ASSESSMENT_ELEMENT_GUIDANCE_BOUNDARIES_STIMULATION}};
constexpr ElementName kEnvElements[] = {
    {"familyHistoryFunctioningAndWellbeing", kEnv,
     cv1::ASSESSMENT_ELEMENT_FAMILY_HISTORY_FUNCTIONING},
    {"widerFamily", kEnv, cv1::ASSESSMENT_ELEMENT_WIDER_FAMILY},
    {"housingEmploymentAndFinancialConsiderations", kEnv,
     cv1::ASSESSMENT_ELEMENT_HOUSING_EMPLOYMENT_FINANCE},
    {"socialAndCommunityElementsAndResourcesIncludingEducation", kEnv,
     cv1::ASSESSMENT_ELEMENT_SOCIAL_COMMUNITY_RESOURCES}};

// --- people and staff -------------------------------------------------------

struct PersonEntry {
  int record = -1;  // index into records
  std::string id;
  bool valid = false;
  bool has_dob = false;
  bool has_edd = false;
  cv1::Person person;
};

struct StaffEntry {
  int record = -1;
  std::string id;
  bool valid = false;
  cv1::Practitioner practitioner;
};

class Mapper {
 public:
  Mapper(const ExportOptions& options, FileState* file, ExportResult* result)
      : options_(options), file_(file), result_(result) {}

  void Run(const ExportJson& root);

 private:
  void ReadHeader(const ExportJson& root);
  void ReadPeople(const ExportJson& people, const std::set<std::string>& focus);
  void ReadPerson(const ExportJson& p, const std::string& path,
                  PersonEntry* out, Rec* rec);
  void ReadName(const ExportJson& o, const std::string& path,
                cv1::HumanName* out, Rec* rec);
  void ReadStaff(const ExportJson& staff);
  cv1::Practitioner ReadStaffShape(const ExportJson& s, const std::string& path,
                                   Rec* rec);
  void ReadCase(const ExportJson& c, int index, const std::string& path);
  cv1::Practitioner StaffRef(const std::string& id, const std::string& path,
                             Rec* rec, std::vector<int>* refs);
  const PersonEntry* PersonRef(const std::string& id, const std::string& path,
                               Rec* rec, std::vector<int>* refs);
  void MarkRecordDuplicates(RecordReport* r, const std::string& path, Rec* rec);

  // A message on the result's arena (lives as long as the result; never
  // deleted on its own).
  template <class M>
  M* New() {
    return google::protobuf::Arena::CreateMessage<M>(result_->arena.get());
  }

  std::string RaiseId(std::string_view kind) const {
    return "urn:ehx:id:agency:" + options_.agency_id + ":raise-" +
           std::string(kind);
  }

  const ExportOptions& options_;
  FileState* file_;
  ExportResult* result_;
  std::unordered_map<std::string, PersonEntry> people_;
  std::unordered_map<std::string, StaffEntry> staff_;
  std::map<std::string, int> case_object_ids_;  // consentId etc. -> count
  std::map<std::string, int> case_ids_;
  // Unknown members of person and staff records, by record index (only
  // records that have any): carried by the events of the cases that use
  // them (contract 7.5).
  std::unordered_map<int, std::vector<std::pair<std::string, std::string>>>
      unmapped_by_record_;
};

void Mapper::MarkRecordDuplicates(RecordReport* r, const std::string& path,
                                  Rec* rec) {
  for (const std::string& d : file_->duplicate_members) {
    if (HasPrefixPath(d, path)) {
      rec->Err("duplicate_member", d, "a member name is repeated");
    }
  }
  for (const std::string& u : file_->invalid_unicode) {
    if (HasPrefixPath(u, path)) {
      rec->Warn("invalid_unicode", u,
                "an unpaired surrogate was replaced by U+FFFD");
    }
  }
  (void)r;
}

void Mapper::ReadName(const ExportJson& o, const std::string& path,
                      cv1::HumanName* out, Rec* rec) {
  rec->Known(o, path, {"given", "family"});
  const std::vector<std::string> given =
      rec->Strings(o, "given", path, /*required=*/true);
  if (!given.empty()) out->set_given(given[0]);
  for (size_t i = 1; i < given.size(); ++i) out->add_other(given[i]);
  if (auto f = rec->Str(o, "family", path, true)) out->set_family(*f);
}

void Mapper::ReadPerson(const ExportJson& p, const std::string& path,
                        PersonEntry* e, Rec* rec) {
  rec->Known(p, path,
             {"personId",
              "legalName",
              "preferredName",
              "recordCreatedAs",
              "dateOfBirth",
              "expectedDateOfDelivery",
              "sex",
              "nhsNumber",
              "nhsNumberVerificationStatus",
              "upn",
              "upnIsTemporary",
              "upnUnknownReason",
              "formerUpn",
              "ethnicity",
              "firstLanguage",
              "otherLanguages",
              "externalIds",
              "school",
              "earlyYears",
              "address",
              "phones",
              "email",
              "whereaboutsKnown"});
  cv1::Person& out = e->person;
  if (auto id = rec->Id(p, "personId", path, true)) {
    e->id = *id;
    out.set_person_id(*id);
    auto* ident = out.add_identifiers();
    ident->set_system(RaiseId("person-id"));
    ident->set_value(*id);
    ident->set_assigner_agency_id(options_.agency_id);
    ident->set_original_value(*id);
  }
  if (const ExportJson* n = rec->Object(p, "legalName", path, true)) {
    ReadName(*n, Rec::P(path, "legalName"), out.mutable_legal_name(), rec);
  }
  if (const ExportJson* n = rec->Object(p, "preferredName", path)) {
    ReadName(*n, Rec::P(path, "preferredName"), out.mutable_preferred_name(),
             rec);
  }
  rec->Str(p, "recordCreatedAs", path);  // audit label: never a name
  auto dob = rec->Date(p, "dateOfBirth", path);
  auto edd = rec->Date(p, "expectedDateOfDelivery", path);
  e->has_dob = dob.has_value();
  e->has_edd = edd.has_value();
  if (dob) {
    SetDate(*dob, out.mutable_date_of_birth());  // born iff dateOfBirth
  } else if (edd) {
    out.set_unborn(true);
    SetDate(*edd, out.mutable_expected_date_of_delivery());
  }
  auto sex = rec->Code(p, "sex", path, false, kSex, "sex");
  *out.mutable_sex() =
      MakeCode(kSexSystem, sex.value_or("U"), sex.value_or(""));

  // NHS number (5.1).
  auto status = rec->Code(p, "nhsNumberVerificationStatus", path, false,
                          kNhsStatus, "nhsNumberVerificationStatus");
  if (auto raw = rec->Str(p, "nhsNumber", path)) {
    const std::string np = Rec::P(path, "nhsNumber");
    std::string norm;
    auto* ident = out.add_identifiers();
    ident->set_system(kNhsSystem);
    ident->set_original_value(*raw);
    switch (CheckNhsNumber(*raw, &norm)) {
      case NhsNumberResult::kReformatted:
        rec->Info("nhs_number_reformatted", np, "spaces or hyphens removed");
        [[fallthrough]];
      case NhsNumberResult::kValid:
        ident->set_verification(status && *status == "01"
                                    ? cv1::VERIFICATION_STATUS_VERIFIED
                                    : cv1::VERIFICATION_STATUS_UNVERIFIED);
        break;
      case NhsNumberResult::kPlaceholder:
        rec->Warn("nhs_number_placeholder", np,
                  "one repeated digit is a placeholder; not used for "
                  "matching");
        ident->set_verification(cv1::VERIFICATION_STATUS_INVALID);
        break;
      case NhsNumberResult::kInvalid:
        rec->Warn("nhs_number_invalid", np,
                  "fails the format or Modulus 11 check; not used for "
                  "matching");
        ident->set_verification(cv1::VERIFICATION_STATUS_INVALID);
        break;
    }
    ident->set_value(norm.empty() ? *raw : norm);
    if (status) {
      *ident->mutable_source_verification() =
          MakeCode(kNhsVerificationSystem, *status, *status);
    }
    if (ident->value().empty()) {
      out.mutable_identifiers()->RemoveLast();
    }
  }

  // UPN (5.2).
  auto temp_flag = rec->Bool(p, "upnIsTemporary", path);
  auto unknown_reason = rec->Code(p, "upnUnknownReason", path, false,
                                  kUpnUnknown, "upnUnknownReason");
  for (const char* key : {"upn", "formerUpn"}) {
    auto raw = rec->Str(p, key, path);
    if (!raw) continue;
    const std::string up = Rec::P(path, key);
    const bool former = std::string_view(key) == "formerUpn";
    UpnResult r = CheckUpn(*raw);
    auto* ident = out.add_identifiers();
    ident->set_system(former ? kFormerUpnSystem : kUpnSystem);
    ident->set_value(r.normalised);
    ident->set_original_value(*raw);
    if (r.reformatted) rec->Info("upn_reformatted", up, "upper-cased");
    if (!r.valid) {
      rec->Warn("upn_invalid", up,
                "fails the UPN format or check letter; not used for matching");
      ident->set_verification(cv1::VERIFICATION_STATUS_INVALID);
    } else {
      if (!r.known_la) {
        rec->Warn("upn_invalid_la", up,
                  "characters 2-4 are not a known LA code");
      }
      if (r.temporary) {
        rec->Info("upn_temporary", up,
                  "temporary UPN: stored, never a merge key");
        ident->set_verification(cv1::VERIFICATION_STATUS_TEMPORARY);
      } else {
        ident->set_verification(cv1::VERIFICATION_STATUS_UNVERIFIED);
      }
      if (!former && temp_flag && *temp_flag != r.temporary) {
        rec->Warn("upn_temporary_flag_mismatch", Rec::P(path, "upnIsTemporary"),
                  "the UPN's form decides whether it is temporary");
      }
    }
    if (!former && unknown_reason) {
      rec->Warn("upn_unknown_reason_ignored", Rec::P(path, "upnUnknownReason"),
                "a reason for no UPN given together with a UPN");
    }
  }
  if (unknown_reason && *unknown_reason == "UN1" && dob) {
    // Compulsory school age: 5 to 16 (approximate by years at export time).
    const CivilDate today = LondonDate(result_->exported_at);
    int age = today.year - dob->year;
    if (today.month < dob->month ||
        (today.month == dob->month && today.day < dob->day)) {
      --age;
    }
    if (age >= 5 && age < 16) {
      rec->Warn("upn_unknown_reason_implausible",
                Rec::P(path, "upnUnknownReason"),
                "UN1 (not of school age) for a child of compulsory school age");
    }
  }

  if (const ExportJson* eth = rec->Object(p, "ethnicity", path)) {
    const std::string ep = Rec::P(path, "ethnicity");
    rec->Known(*eth, ep, {"scheme", "code"});
    auto scheme =
        rec->Code(*eth, "scheme", ep, true, kEthScheme, "ethnicityScheme");
    auto code = rec->Str(*eth, "code", ep, true);
    if (scheme && code) {
      *out.mutable_ethnicity() = MakeCode(
          *scheme == "NHS" ? kEthnicityNhs : kEthnicityDfe, *code, *code);
    }
  }
  if (auto lang = rec->Str(p, "firstLanguage", path)) {
    *out.mutable_first_language() = MakeCode(kLanguageSystem, *lang, *lang);
  }
  rec->Strings(p, "otherLanguages", path);
  if (const ExportJson* ids = rec->Array(p, "externalIds", path)) {
    const std::string ip = Rec::P(path, "externalIds");
    for (size_t i = 0; i < ids->size(); ++i) {
      const std::string xp = Rec::I(ip, i);
      const ExportJson& x = (*ids)[i];
      if (!x.is_object()) {
        rec->Err("wrong_type", xp, "must be an object");
        continue;
      }
      rec->Known(x, xp, {"system", "value"});
      auto sys = rec->Str(x, "system", xp, true);
      auto val = rec->Str(x, "value", xp, true);
      if (!sys || !val || val->empty()) continue;
      auto* ident = out.add_identifiers();
      ident->set_value(*val);
      ident->set_original_value(*val);
      if (*sys == "core-assessment-csc") {
        ident->set_system(kLaChildSystem);
        if (!IsLaChildId(*val)) {
          ident->set_verification(cv1::VERIFICATION_STATUS_INVALID);
        }
      } else if (*sys == "raise-merged") {
        ident->set_system(RaiseId("person-id-merged"));
        ident->set_assigner_agency_id(options_.agency_id);
      } else {
        ident->set_system("urn:ehx:id:agency:" + options_.agency_id +
                          ":external-" + *sys);
      }
    }
  }
  if (const ExportJson* school = rec->Object(p, "school", path)) {
    const std::string sp = Rec::P(path, "school");
    rec->Known(*school, sp,
               {"urn", "laEstab", "name", "ncYear", "senProvision", "leftOn"});
    rec->Str(*school, "urn", sp);
    rec->Str(*school, "laEstab", sp);
    rec->Str(*school, "name", sp);
    rec->Date(*school, "leftOn", sp);
    if (auto sen = rec->Code(*school, "senProvision", sp, false, kSen,
                             "senProvision")) {
      *out.mutable_sen_provision() = MakeCode(kSenSystem, *sen, *sen);
    }
  }
  if (const ExportJson* ey = rec->Object(p, "earlyYears", path)) {
    const std::string yp = Rec::P(path, "earlyYears");
    rec->Known(*ey, yp, {"setting", "fundedHoursPerWeek"});
    rec->Str(*ey, "setting", yp);
    rec->Number(*ey, "fundedHoursPerWeek", yp);
  }
  if (const ExportJson* a = rec->Object(p, "address", path)) {
    const std::string ap = Rec::P(path, "address");
    rec->Known(*a, ap, {"lines", "town", "postcode", "uprn", "validFrom"});
    auto* addr = out.add_addresses();
    for (auto& l : rec->Strings(*a, "lines", ap, true, 1)) addr->add_lines(l);
    if (auto t = rec->Str(*a, "town", ap)) addr->set_town(*t);
    if (auto pc = rec->Str(*a, "postcode", ap)) {
      const std::string n = NormalisePostcode(*pc);
      addr->set_postcode(n.empty() ? *pc : n);
    }
    if (auto u = rec->Str(*a, "uprn", ap)) addr->set_uprn(*u);
    if (auto from = rec->Date(*a, "validFrom", ap)) {
      SetDate(*from, addr->mutable_from_date());
    }
  }
  if (const ExportJson* phones = rec->Array(p, "phones", path)) {
    const std::string pp = Rec::P(path, "phones");
    for (size_t i = 0; i < phones->size(); ++i) {
      const std::string xp = Rec::I(pp, i);
      const ExportJson& ph = (*phones)[i];
      if (!ph.is_object()) {
        rec->Err("wrong_type", xp, "must be an object");
        continue;
      }
      rec->Known(ph, xp, {"type", "number"});
      auto type = rec->Code(ph, "type", xp, true, kPhoneType, "phoneType");
      auto number = rec->Str(ph, "number", xp, true);
      if (!number) continue;
      auto* cp = out.add_contacts();
      cp->set_kind(cv1::CONTACT_POINT_KIND_PHONE);
      const std::string e164 = NormalisePhone(*number);
      cp->set_value(e164.empty() ? *number : e164);
      cp->set_use(type.value_or(""));
    }
  }
  if (auto email = rec->Str(p, "email", path)) {
    auto* cp = out.add_contacts();
    cp->set_kind(cv1::CONTACT_POINT_KIND_EMAIL);
    cp->set_value(*email);
  }
  rec->Bool(p, "whereaboutsKnown", path);
}

void Mapper::ReadPeople(const ExportJson& people,
                        const std::set<std::string>& focus) {
  std::map<std::string, int> counts;
  std::vector<PersonEntry> entries(people.size());
  for (size_t i = 0; i < people.size(); ++i) {
    const std::string path = "$.people[" + std::to_string(i) + "]";
    RecordReport r;
    r.record_type = "person";
    r.index = static_cast<int>(i);
    Rec rec(&r.issues, file_);
    PersonEntry& e = entries[i];
    if (!people[i].is_object()) {
      rec.Err("wrong_type", path, "a person must be an object");
    } else {
      ReadPerson(people[i], path, &e, &rec);
      if (!e.id.empty()) ++counts[e.id];
      if (focus.count(e.id) && !e.has_dob && !e.has_edd) {
        rec.Err("required_field_missing", Rec::P(path, "dateOfBirth"),
                "a child of focus needs dateOfBirth or expectedDateOfDelivery");
      }
      if (!e.has_dob && !e.has_edd) {
        e.person.clear_date_of_birth();
      }
    }
    MarkRecordDuplicates(&r, path, &rec);
    r.id = e.id;
    e.valid = !rec.failed();
    r.status = e.valid ? "accepted" : "rejected";
    e.record = static_cast<int>(result_->records.size());
    if (auto unknown = rec.TakeUnknown(); !unknown.empty()) {
      unmapped_by_record_[e.record] = std::move(unknown);
    }
    result_->records.push_back(std::move(r));
  }
  for (PersonEntry& e : entries) {
    if (!e.id.empty() && counts[e.id] > 1) {
      RecordReport& r = result_->records[e.record];
      r.issues.push_back({"error", "duplicate_id",
                          "$.people[" + std::to_string(r.index) + "].personId",
                          "personId must be unique in people[]"});
      r.status = "rejected";
      e.valid = false;
    }
    if (!e.id.empty() && (people_.count(e.id) == 0 || e.valid)) {
      people_[e.id] = std::move(e);
    }
  }
}

cv1::Practitioner Mapper::ReadStaffShape(const ExportJson& s,
                                         const std::string& path, Rec* rec) {
  rec->Known(s, path, {"staffId", "name", "role", "service", "phone", "email"});
  cv1::Practitioner out;
  if (auto id = rec->Id(s, "staffId", path, true)) out.set_practitioner_id(*id);
  if (auto n = rec->Str(s, "name", path, true)) out.set_name(*n);
  if (auto r = rec->Str(s, "role", path)) out.set_role(*r);
  if (auto t = rec->Str(s, "service", path)) out.set_team(*t);
  out.set_agency_id(options_.agency_id);
  if (auto ph = rec->Str(s, "phone", path)) {
    auto* cp = out.add_contacts();
    cp->set_kind(cv1::CONTACT_POINT_KIND_PHONE);
    const std::string e164 = NormalisePhone(*ph);
    cp->set_value(e164.empty() ? *ph : e164);
    cp->set_use("work");
  }
  if (auto em = rec->Str(s, "email", path)) {
    auto* cp = out.add_contacts();
    cp->set_kind(cv1::CONTACT_POINT_KIND_EMAIL);
    cp->set_value(*em);
    cp->set_use("work");
  }
  return out;
}

void Mapper::ReadStaff(const ExportJson& staff) {
  std::map<std::string, int> counts;
  std::vector<StaffEntry> entries(staff.size());
  for (size_t i = 0; i < staff.size(); ++i) {
    const std::string path = "$.staff[" + std::to_string(i) + "]";
    RecordReport r;
    r.record_type = "staff";
    r.index = static_cast<int>(i);
    Rec rec(&r.issues, file_);
    StaffEntry& e = entries[i];
    if (!staff[i].is_object()) {
      rec.Err("wrong_type", path, "a staff entry must be an object");
    } else {
      e.practitioner = ReadStaffShape(staff[i], path, &rec);
      e.id = e.practitioner.practitioner_id();
      if (!e.id.empty()) ++counts[e.id];
    }
    MarkRecordDuplicates(&r, path, &rec);
    r.id = e.id;
    e.valid = !rec.failed();
    r.status = e.valid ? "accepted" : "rejected";
    e.record = static_cast<int>(result_->records.size());
    if (auto unknown = rec.TakeUnknown(); !unknown.empty()) {
      unmapped_by_record_[e.record] = std::move(unknown);
    }
    result_->records.push_back(std::move(r));
  }
  for (StaffEntry& e : entries) {
    if (!e.id.empty() && counts[e.id] > 1) {
      RecordReport& r = result_->records[e.record];
      r.issues.push_back({"error", "duplicate_id",
                          "$.staff[" + std::to_string(r.index) + "].staffId",
                          "staffId must be unique in staff[]"});
      r.status = "rejected";
      e.valid = false;
    }
    if (!e.id.empty() && (staff_.count(e.id) == 0 || e.valid)) {
      staff_[e.id] = std::move(e);
    }
  }
}

// Deterministic digest of a message, for idempotency keys.
std::string Digest16(const google::protobuf::Message& m) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream sos(&bytes);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }
  return Sha256Hex(bytes).substr(0, 16);
}

// A key-safe rendering of a Raise id: itself when short printable ASCII
// without ':'; otherwise a digest.
std::string KeyId(const std::string& id) {
  bool ok = id.size() <= 40;
  for (unsigned char c : id) {
    if (c <= 0x20 || c >= 0x7f || c == ':') ok = false;
  }
  return ok ? id : "h" + Sha256Hex(id).substr(0, 24);
}

void Mapper::ReadHeader(const ExportJson& root) {
  const ExportJson* h = Rec::Get(root, "export");
  auto fail = [&](const char* code, std::string rule) {
    if (result_->file_error.empty()) {
      result_->file_error = code;
      result_->file_error_rule = std::move(rule);
    }
  };
  if (h == nullptr || !h->is_object()) {
    fail("missing_header", "export must be an object");
    return;
  }
  auto str = [&](const char* k) -> std::optional<std::string> {
    const ExportJson* v = Rec::Get(*h, k);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return v->get<std::string>();
  };
  auto schema = str("exportSchema");
  auto source = str("sourceSystem");
  if (!schema || *schema != "raise-eh-case-export" || !source ||
      *source != "Raise") {
    fail("unsupported_schema",
         "exportSchema must be raise-eh-case-export and sourceSystem Raise");
    return;
  }
  auto version = str("exportSchemaVersion");
  if (version) result_->schema_version = *version;
  int major = -1, minor = -1;
  if (version) {
    std::string core = version->substr(0, version->find('-'));
    const size_t dot = core.find('.');
    auto digits = [](const std::string& s) {
      return !s.empty() && s.size() <= 6 &&
             s.find_first_not_of("0123456789") == std::string::npos;
    };
    if (dot != std::string::npos && digits(core.substr(0, dot)) &&
        digits(core.substr(dot + 1))) {
      major = std::stoi(core.substr(0, dot));
      minor = std::stoi(core.substr(dot + 1));
    }
  }
  if (major != 0 || minor < 9) {
    fail("unsupported_version",
         "exportSchemaVersion must be 0.9 or a later 0.x");
    return;
  }
  if (minor > 9) {
    result_->file_issues.push_back(
        {"info", "newer_minor_version", "$.export.exportSchemaVersion",
         "minor version newer than 0.9; processed under 0.9 rules"});
  }
  auto exported = str("exportedAt");
  Instant at;
  const TimeForm form =
      exported ? ParseDateTime(*exported, &at) : TimeForm::kInvalid;
  if (form == TimeForm::kInvalid) {
    fail("missing_header", "export.exportedAt must be a date-time");
    return;
  }
  if (form != TimeForm::kOffset) {
    result_->file_issues.push_back(
        {"warning",
         form == TimeForm::kLocalGap       ? "local_time_nonexistent"
         : form == TimeForm::kLocalOverlap ? "local_time_ambiguous"
                                           : "datetime_no_offset",
         "$.export.exportedAt",
         "date-time without offset read as Europe/London"});
  }
  result_->exported_at = at;
  const ExportJson* la = Rec::Get(*h, "localAuthority");
  const ExportJson* la_code = la ? Rec::Get(*la, "laCode") : nullptr;
  if (la_code == nullptr || !la_code->is_string() ||
      la_code->get<std::string>().size() != 3 ||
      la_code->get<std::string>().find_first_not_of("0123456789") !=
          std::string::npos) {
    fail("missing_header", "export.localAuthority.laCode must be 3 digits");
    return;
  }
  if (!options_.la_code.empty() &&
      la_code->get<std::string>() != options_.la_code) {
    fail("wrong_local_authority",
         "localAuthority.laCode differs from the configured authority");
    return;
  }
  const ExportJson* count = Rec::Get(*h, "caseCount");
  if (count == nullptr || !count->is_number_integer() ||
      count->get<int64_t>() < 0) {
    fail("missing_header", "export.caseCount must be an integer >= 0");
    return;
  }
  const ExportJson* cases = Rec::Get(root, "cases");
  if (cases != nullptr && cases->is_array() &&
      static_cast<int64_t>(cases->size()) != count->get<int64_t>()) {
    result_->file_issues.push_back({"warning", "case_count_mismatch",
                                    "$.export.caseCount",
                                    "caseCount differs from the number of "
                                    "cases; the cases present are processed"});
  }
}

void Mapper::Run(const ExportJson& root) {
  if (!root.is_object()) {
    result_->file_error = "not_an_object";
    result_->file_error_rule = "the root must be a JSON object";
    return;
  }
  for (const std::string& d : file_->duplicate_members) {
    if (d.rfind("$.export.", 0) == 0 || d.find('.', 2) == std::string::npos ||
        d.rfind("$.export.localAuthority.", 0) == 0) {
      result_->file_error = "duplicate_member";
      result_->file_error_rule =
          "a member name is repeated in the root or the export header";
      return;
    }
  }
  ReadHeader(root);
  if (!result_->file_error.empty()) return;
  for (const char* k : {"people", "staff", "cases"}) {
    const ExportJson* a = Rec::Get(root, k);
    if (a == nullptr || !a->is_array()) {
      result_->file_error = "missing_collection";
      result_->file_error_rule = std::string(k) + " must be an array";
      return;
    }
  }
  {
    Rec rec(&result_->file_issues, file_);
    rec.Known(root, "$", {"export", "people", "staff", "cases"});
    rec.Known(root["export"], "$.export",
              {"sourceSystem", "sourceSystemVersion", "exportSchema",
               "exportSchemaVersion", "exportedAt", "exportedBy",
               "localAuthority", "caseCount"});
  }
  // Children of focus of every case (for the dateOfBirth rule) and the ids
  // that must be unique across the file.
  std::set<std::string> focus;
  const ExportJson& cases = root["cases"];
  for (const ExportJson& c : cases) {
    if (!c.is_object()) continue;
    if (const ExportJson* f = Rec::Get(c, "childrenOfFocus");
        f && f->is_array()) {
      for (const ExportJson& id : *f) {
        if (id.is_string()) focus.insert(id.get<std::string>());
      }
    }
    if (const ExportJson* id = Rec::Get(c, "caseId"); id && id->is_string()) {
      ++case_ids_[id->get<std::string>()];
    }
    auto count_ids = [&](const ExportJson* arr, const char* key) {
      if (arr == nullptr || !arr->is_array()) return;
      for (const ExportJson& o : *arr) {
        if (const ExportJson* v = Rec::Get(o, key); v && v->is_string()) {
          ++case_object_ids_[v->get<std::string>()];
        }
      }
    };
    count_ids(Rec::Get(c, "consents"), "consentId");
    count_ids(Rec::Get(c, "tafMeetings"), "meetingId");
    count_ids(Rec::Get(c, "documents"), "documentId");
    for (const char* k : {"assessment", "plan", "stepUp"}) {
      const ExportJson* o = Rec::Get(c, k);
      if (o == nullptr || !o->is_object()) continue;
      const char* idk = std::string_view(k) == "assessment" ? "assessmentId"
                        : std::string_view(k) == "plan"     ? "planId"
                                                            : "referralId";
      if (const ExportJson* v = Rec::Get(*o, idk); v && v->is_string()) {
        ++case_object_ids_[v->get<std::string>()];
      }
    }
  }
  ReadPeople(root["people"], focus);
  ReadStaff(root["staff"]);
  for (size_t i = 0; i < cases.size(); ++i) {
    ReadCase(cases[i], static_cast<int>(i),
             "$.cases[" + std::to_string(i) + "]");
  }
}

cv1::Practitioner Mapper::StaffRef(const std::string& id,
                                   const std::string& path, Rec* rec,
                                   std::vector<int>* refs) {
  auto it = staff_.find(id);
  if (it == staff_.end() || !it->second.valid) {
    rec->Warn("unresolved_reference", path,
              "does not name a valid staff[] entry; kept as text");
    cv1::Practitioner p;
    p.set_practitioner_id(id);
    p.set_agency_id(options_.agency_id);
    return p;
  }
  refs->push_back(it->second.record);
  return it->second.practitioner;
}

const PersonEntry* Mapper::PersonRef(const std::string& id,
                                     const std::string& path, Rec* rec,
                                     std::vector<int>* refs) {
  auto it = people_.find(id);
  if (it == people_.end() || !it->second.valid) {
    rec->Warn("unresolved_reference", path,
              "does not name a valid people[] entry; kept as text");
    return nullptr;
  }
  refs->push_back(it->second.record);
  return &it->second;
}

// Sniffs a media type from the first bytes; empty when unknown.
std::string SniffMediaType(std::string_view b) {
  if (b.substr(0, 5) == "%PDF-") return "application/pdf";
  if (b.substr(0, 4) == std::string_view("II*\0", 4) ||
      b.substr(0, 4) == std::string_view("MM\0*", 4)) {
    return "image/tiff";
  }
  if (b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF &&
      static_cast<unsigned char>(b[1]) == 0xD8 &&
      static_cast<unsigned char>(b[2]) == 0xFF) {
    return "image/jpeg";
  }
  if (b.substr(0, 8) == "\x89PNG\r\n\x1a\n") return "image/png";
  return "";
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// "documents/<64 hex>[.<ext>]" and nothing else (no path tricks).
bool IsSafeContentFile(std::string_view f, std::string_view sha) {
  constexpr std::string_view kPrefix = "documents/";
  if (f.substr(0, kPrefix.size()) != kPrefix) return false;
  f.remove_prefix(kPrefix.size());
  if (f.substr(0, 64) != sha) return false;
  f.remove_prefix(64);
  if (f.empty()) return true;
  if (f[0] != '.' || f.size() > 6) return false;
  for (char c : f.substr(1)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return f.size() > 1;
}

void Mapper::ReadCase(const ExportJson& c, int index, const std::string& path) {
  RecordReport r;
  r.record_type = "case";
  r.index = index;
  Rec rec(&r.issues, file_);
  std::vector<int> refs;
  auto finish = [&](bool ok) {
    MarkRecordDuplicates(&r, path, &rec);
    r.status = ok && !rec.failed() ? "accepted" : "rejected";
    result_->records.push_back(std::move(r));
  };
  if (!c.is_object()) {
    rec.Err("wrong_type", path, "a case must be an object");
    finish(false);
    return;
  }
  rec.Known(c, path,
            {"caseId", "familyRef", "status", "closureReason", "openedDate",
             "closedAt", "origin", "levelOfNeed", "leadPractitioner",
             "childrenOfFocus", "familyMembers", "consents", "assessment",
             "tafMeetings", "plan", "stepUp", "documents"});
  const Instant exported = result_->exported_at;
  CaseOutput out;
  out.index = index;
  const std::string case_id = rec.Id(c, "caseId", path, true).value_or("");
  r.id = case_id;
  out.case_id = case_id;
  if (!case_id.empty() && case_ids_[case_id] > 1) {
    rec.Err("duplicate_id", Rec::P(path, "caseId"),
            "caseId must be unique in cases[]");
  }
  auto unique_id = [&](const std::string& id, const std::string& p) {
    auto it = case_object_ids_.find(id);
    if (it != case_object_ids_.end() && it->second > 1) {
      rec.Err("duplicate_id", p, "identifier must be unique in the file");
    }
  };

  cv1::EarlyHelpCase& ehc = *New<cv1::EarlyHelpCase>();
  ehc.set_case_id(case_id);
  {
    auto* ident = ehc.add_identifiers();
    ident->set_system(RaiseId("case-id"));
    ident->set_value(case_id);
    ident->set_assigner_agency_id(options_.agency_id);
  }
  auto family_ref = rec.Str(c, "familyRef", path);
  if (family_ref) {
    auto* ident = ehc.mutable_family()->add_identifiers();
    ident->set_system(kSfFamilySystem);
    ident->set_value(*family_ref);
  }
  auto status = rec.Code(c, "status", path, true, kCaseStatus, "caseStatus");
  const bool closed = status && *status == "closed";
  ehc.set_status(closed ? cv1::CASE_STATUS_CLOSED : cv1::CASE_STATUS_OPEN);
  auto closure_reason = rec.Code(c, "closureReason", path, closed,
                                 kClosureReason, "closureReason");
  if (auto opened = rec.Date(c, "openedDate", path, true)) {
    SetDate(*opened, ehc.mutable_opened_on());
  }
  auto closed_at = rec.DateTime(c, "closedAt", path, closed);
  if (closed_at && closed) {
    SetDate(LondonDate(*closed_at), ehc.mutable_closed_on());
  }

  // Origin (10.3).
  ehc.set_origin(cv1::CASE_ORIGIN_NEW);
  if (const ExportJson* o = rec.Object(c, "origin", path)) {
    const std::string op = Rec::P(path, "origin");
    rec.Known(*o, op,
              {"type", "cscSystem", "laChildId", "cinClosureDate",
               "reasonForClosureCode", "handover", "notes"});
    auto type = rec.Code(*o, "type", op, true, kOriginType, "originType");
    const bool step_down = type && *type == "step_down_from_csc";
    rec.Str(*o, "cscSystem", op, step_down);
    auto la_child = rec.Str(*o, "laChildId", op, step_down);
    auto cin_closed = rec.Date(*o, "cinClosureDate", op, step_down);
    auto rfc = rec.Code(*o, "reasonForClosureCode", op, step_down, kRfc,
                        "cinReasonForClosure");
    rec.Str(*o, "notes", op);
    if (step_down) {
      ehc.set_origin(cv1::CASE_ORIGIN_STEP_DOWN);
      auto* ep = ehc.mutable_cin_episode();
      if (la_child) {
        ep->set_la_child_id(*la_child);
        if (!IsLaChildId(*la_child)) {
          rec.Warn("wrong_type", Rec::P(op, "laChildId"),
                   "LAchildID is 1-20 letters and digits");
        }
      }
      if (cin_closed) SetDate(*cin_closed, ep->mutable_closure_date());
      if (rfc) {
        *ep->mutable_reason_for_closure() = MakeCode(kRfcSystem, *rfc, *rfc);
        if (*rfc != "RC9") {
          rec.Warn("unexpected_step_down_reason",
                   Rec::P(op, "reasonForClosureCode"),
                   "a step-down is normally RC9");
        }
      }
    } else if (type && *type == "transfer_in") {
      ehc.set_origin(cv1::CASE_ORIGIN_TRANSFER_IN);
    }
    if (const ExportJson* h = rec.Object(*o, "handover", op)) {
      const std::string hp = Rec::P(op, "handover");
      rec.Known(*h, hp,
                {"jointVisitDate", "socialWorker", "closureSummaryDocumentId"});
      rec.Date(*h, "jointVisitDate", hp);
      if (auto sw = rec.Str(*h, "socialWorker", hp)) {
        StaffRef(*sw, Rec::P(hp, "socialWorker"), &rec, &refs);
      }
      rec.Str(*h, "closureSummaryDocumentId", hp);
    }
  }

  // Level of need (10.7): stored as given.
  if (const ExportJson* l = rec.Object(c, "levelOfNeed", path)) {
    const std::string lp = Rec::P(path, "levelOfNeed");
    rec.Known(*l, lp, {"scheme", "level", "label", "setOn"});
    auto* lon = ehc.mutable_level_of_need();
    if (auto s = rec.Str(*l, "scheme", lp, true)) lon->set_scheme(*s);
    if (auto v = rec.Int(*l, "level", lp, true, 1)) {
      lon->set_level(std::to_string(*v));
    }
    if (auto s = rec.Str(*l, "label", lp)) lon->set_label(*s);
    if (auto d = rec.Date(*l, "setOn", lp))
      SetDate(*d, lon->mutable_decided_on());
  }
  if (const ExportJson* lp = rec.Object(c, "leadPractitioner", path)) {
    *ehc.mutable_lead_practitioner() =
        ReadStaffShape(*lp, Rec::P(path, "leadPractitioner"), &rec);
    auto it = staff_.find(ehc.lead_practitioner().practitioner_id());
    if (it != staff_.end() && it->second.valid)
      refs.push_back(it->second.record);
  }

  // Children of focus: must resolve (record-level error otherwise).
  const std::vector<std::string> focus =
      rec.Strings(c, "childrenOfFocus", path, true, 1);
  std::set<std::string> focus_set(focus.begin(), focus.end());
  for (size_t i = 0; i < focus.size(); ++i) {
    auto it = people_.find(focus[i]);
    if (it == people_.end() || !it->second.valid) {
      rec.Err("unresolved_reference",
              Rec::I(Rec::P(path, "childrenOfFocus"), i),
              "a child of focus must name a valid people[] entry");
      continue;
    }
    refs.push_back(it->second.record);
    *ehc.add_children() = it->second.person;
  }

  // Family members and relationships (10.2).
  std::map<std::string, std::string> role_of;
  std::set<std::string> members;
  if (const ExportJson* fm = rec.Array(c, "familyMembers", path, true, 1)) {
    const std::string fp = Rec::P(path, "familyMembers");
    for (size_t i = 0; i < fm->size(); ++i) {
      const std::string mp = Rec::I(fp, i);
      const ExportJson& m = (*fm)[i];
      if (!m.is_object()) {
        rec.Err("wrong_type", mp, "must be an object");
        continue;
      }
      rec.Known(
          m, mp,
          {"personId", "role", "relationships", "livesInHousehold",
           "parentalResponsibility", "presentAtAssessment", "absentParent",
           "contactStatus", "contactWithChildren", "lastKnownContact",
           "emergencyContact", "unbornAtAssessment", "notes"});
      auto pid = rec.Str(m, "personId", mp, true);
      auto role = rec.Code(m, "role", mp, true, kMemberRole, "memberRole");
      if (pid) {
        members.insert(*pid);
        if (role) role_of[*pid] = *role;
        const PersonEntry* pe =
            focus_set.count(*pid)
                ? nullptr
                : PersonRef(*pid, Rec::P(mp, "personId"), &rec, &refs);
        if (pe != nullptr && members.size() > 0) {
          bool dup = false;
          for (const auto& fmp : ehc.family_members()) {
            if (fmp.person_id() == *pid) dup = true;
          }
          if (!dup) *ehc.add_family_members() = pe->person;
        }
      }
      auto lives = rec.Bool(m, "livesInHousehold", mp);
      cv1::YesNoUnknown pr = cv1::YES_NO_UNKNOWN_UNSPECIFIED;
      if (const ExportJson* v = Rec::Get(m, "parentalResponsibility")) {
        if (v->is_boolean()) {
          pr =
              v->get<bool>() ? cv1::YES_NO_UNKNOWN_YES : cv1::YES_NO_UNKNOWN_NO;
        } else if (v->is_string() && v->get<std::string>() == "unknown") {
          pr = cv1::YES_NO_UNKNOWN_UNKNOWN;
        } else {
          rec.Warn("wrong_type", Rec::P(mp, "parentalResponsibility"),
                   "must be true, false or \"unknown\"");
        }
      }
      rec.Bool(m, "presentAtAssessment", mp);
      auto absent = rec.Bool(m, "absentParent", mp);
      auto contact = rec.Code(m, "contactStatus", mp, false, kContactStatus,
                              "contactStatus");
      auto contact_text = rec.Str(m, "contactWithChildren", mp);
      if (auto lk = rec.Str(m, "lastKnownContact", mp)) {
        CivilDate d;
        int precision = 0;
        if (!ParsePartialDate(*lk, &d, &precision)) {
          rec.Warn("unparseable_date", Rec::P(mp, "lastKnownContact"),
                   "a partial date is YYYY, YYYY-MM or YYYY-MM-DD");
        }
      }
      rec.Bool(m, "emergencyContact", mp);
      rec.Bool(m, "unbornAtAssessment", mp);
      auto notes = rec.Str(m, "notes", mp);
      cv1::AbsentParentStatus aps = cv1::ABSENT_PARENT_STATUS_UNSPECIFIED;
      if (absent && *absent) {
        if (!contact) {
          aps = cv1::ABSENT_PARENT_STATUS_UNSPECIFIED;
        } else if (*contact == "engaged" || *contact == "engaged_by_phone") {
          aps = cv1::ABSENT_PARENT_STATUS_ENGAGED;
        } else if (*contact == "not_engaged") {
          aps = cv1::ABSENT_PARENT_STATUS_NOT_ENGAGED;
        } else if (*contact == "whereabouts_unknown") {
          aps = cv1::ABSENT_PARENT_STATUS_WHEREABOUTS_UNKNOWN;
        } else if (*contact == "do_not_contact") {
          aps = cv1::ABSENT_PARENT_STATUS_DO_NOT_CONTACT;
        }
      } else if (absent && !*absent) {
        aps = cv1::ABSENT_PARENT_STATUS_NOT_APPLICABLE;
      }
      if (const ExportJson* rels = rec.Array(m, "relationships", mp)) {
        const std::string rp = Rec::P(mp, "relationships");
        for (size_t k = 0; k < rels->size(); ++k) {
          const std::string xp = Rec::I(rp, k);
          const ExportJson& rel = (*rels)[k];
          if (!rel.is_object()) {
            rec.Err("wrong_type", xp, "must be an object");
            continue;
          }
          rec.Known(rel, xp, {"to", "type"});
          auto to = rec.Str(rel, "to", xp, true);
          auto type =
              rec.Code(rel, "type", xp, true, kRelType, "relationshipType");
          if (!to || !type || !pid) continue;
          if (!focus_set.count(*to)) {
            PersonRef(*to, Rec::P(xp, "to"), &rec, &refs);
          }
          auto* out_rel = ehc.mutable_family()->add_relationships();
          out_rel->set_person_id(*pid);
          out_rel->set_related_person_id(*to);
          out_rel->set_type(MapRelationship(*type));
          *out_rel->mutable_type_code() =
              MakeCode(RaiseCodeSystem("relationship-type"), *type, *type);
          out_rel->set_parental_responsibility(pr);
          if (lives) {
            out_rel->set_lives_in_household(*lives ? cv1::YES_NO_UNKNOWN_YES
                                                   : cv1::YES_NO_UNKNOWN_NO);
          }
          out_rel->set_absent_parent_status(aps);
          std::string n = contact_text.value_or("");
          if (notes && !notes->empty()) n += (n.empty() ? "" : "\n") + *notes;
          out_rel->set_notes(n);
        }
      }
    }
  }
  for (size_t i = 0; i < focus.size(); ++i) {
    if (!members.count(focus[i])) {
      rec.Warn("child_of_focus_not_member",
               Rec::I(Rec::P(path, "childrenOfFocus"), i),
               "a child of focus should appear in familyMembers");
    }
  }

  // Consents (10.1).
  std::vector<cv1::Consent*> consents;  // on the result's arena
  std::string info_sharing_consent;
  if (const ExportJson* cs = rec.Array(c, "consents", path)) {
    const std::string cp = Rec::P(path, "consents");
    for (size_t i = 0; i < cs->size(); ++i) {
      const std::string xp = Rec::I(cp, i);
      const ExportJson& x = (*cs)[i];
      if (!x.is_object()) {
        rec.Err("wrong_type", xp, "must be an object");
        continue;
      }
      rec.Known(
          x, xp,
          {"consentId", "type", "givenBy", "status", "onBehalfOf", "scope",
           "purpose", "method", "documentId", "dateGiven", "reviewDate",
           "withdrawnOn", "gillickCompetent", "recordedBy", "reason", "notes"});
      auto id = rec.Id(x, "consentId", xp, true);
      if (id) unique_id(*id, Rec::P(xp, "consentId"));
      auto type = rec.Code(x, "type", xp, true, kConsentType, "consentType");
      auto given_by = rec.Str(x, "givenBy", xp, true);
      auto st =
          rec.Code(x, "status", xp, false, kConsentStatus, "consentStatus");
      auto withdrawn = rec.Date(x, "withdrawnOn", xp);
      std::string state = st ? *st : (withdrawn ? "withdrawn" : "given");
      if (state == "given" && withdrawn) {
        rec.Warn("consent_status_inconsistent", Rec::P(xp, "status"),
                 "given with a withdrawal date: treated as withdrawn");
        state = "withdrawn";
      }
      auto given = rec.Date(x, "dateGiven", xp, !st || *st == "given");
      auto review = rec.Date(x, "reviewDate", xp);
      auto on_behalf = rec.Strings(x, "onBehalfOf", xp);
      auto scope = rec.Strings(x, "scope", xp);
      rec.Str(x, "purpose", xp);
      auto method =
          rec.Code(x, "method", xp, false, kConsentMethod, "consentMethod");
      auto doc = rec.Str(x, "documentId", xp);
      auto gillick = rec.Bool(x, "gillickCompetent", xp);
      auto recorded_by = rec.Str(x, "recordedBy", xp);
      rec.Str(x, "reason", xp);
      auto notes = rec.Str(x, "notes", xp);
      if (given_by) PersonRef(*given_by, Rec::P(xp, "givenBy"), &rec, &refs);
      if (!id) continue;
      cv1::Consent& out_c = *New<cv1::Consent>();
      out_c.set_consent_id(*id);
      out_c.set_case_id(case_id);
      if (given_by) out_c.set_given_by_person_id(*given_by);
      if (on_behalf.empty() && given_by) on_behalf.push_back(*given_by);
      for (auto& o : on_behalf) out_c.add_on_behalf_of_person_ids(o);
      for (auto& s : scope) {
        auto mapped = options_.scope_agencies.find(s);
        out_c.add_scope_agency_ids(
            mapped == options_.scope_agencies.end() ? s : mapped->second);
      }
      if (type) {
        if (*type == "information_sharing") {
          out_c.add_scope_purposes(cv1::CONSENT_PURPOSE_INFORMATION_SHARING);
          // "Consent to store and share information with the services
          // listed" (contract 10.1): the early help service that stores it
          // is in scope too. Only with scope_agencies, where scopes are
          // agency ids the policy compares.
          if (!options_.scope_agencies.empty() &&
              std::find(scope.begin(), scope.end(), options_.agency_id) ==
                  scope.end()) {
            out_c.add_scope_agency_ids(options_.agency_id);
          }
        } else if (*type == "assessment") {
          out_c.add_scope_purposes(cv1::CONSENT_PURPOSE_ASSESSMENT);
        } else if (*type == "referral") {
          out_c.add_scope_purposes(cv1::CONSENT_PURPOSE_REFERRAL);
        } else if (*type == "child_agreement") {
          out_c.set_child_agreement(state == "given" ? cv1::YES_NO_UNKNOWN_YES
                                                     : cv1::YES_NO_UNKNOWN_NO);
        }
      }
      if (given_by) {
        const bool self = on_behalf.size() == 1 && on_behalf[0] == *given_by;
        const std::string role =
            role_of.count(*given_by) ? role_of[*given_by] : "";
        out_c.set_given_by_role(
            self               ? cv1::CONSENT_GIVER_ROLE_SELF
            : role == "parent" ? cv1::CONSENT_GIVER_ROLE_PARENT
            : role == "carer"  ? cv1::CONSENT_GIVER_ROLE_CARER
                               : cv1::CONSENT_GIVER_ROLE_OTHER);
      }
      if (gillick) {
        out_c.set_child_competent(*gillick ? cv1::YES_NO_UNKNOWN_YES
                                           : cv1::YES_NO_UNKNOWN_NO);
      }
      if (method) {
        out_c.set_method(
            *method == "written_signed" ? cv1::CONSENT_METHOD_WRITTEN
            : *method == "verbal"       ? cv1::CONSENT_METHOD_VERBAL
                                        : cv1::CONSENT_METHOD_ELECTRONIC);
      }
      out_c.set_state(state == "given"       ? cv1::CONSENT_STATE_GIVEN
                      : state == "refused"   ? cv1::CONSENT_STATE_REFUSED
                      : state == "withdrawn" ? cv1::CONSENT_STATE_WITHDRAWN
                                             : cv1::CONSENT_STATE_UNSPECIFIED);
      if (given) SetDate(*given, out_c.mutable_given_on());
      if (review) SetDate(*review, out_c.mutable_review_on());
      if (withdrawn) SetDate(*withdrawn, out_c.mutable_withdrawn_on());
      if (recorded_by) {
        *out_c.mutable_recorded_by() =
            StaffRef(*recorded_by, Rec::P(xp, "recordedBy"), &rec, &refs);
      }
      if (doc) out_c.set_document_id(*doc);
      if (notes) out_c.set_notes(*notes);
      ehc.add_consent_ids(*id);
      if (info_sharing_consent.empty() && type &&
          *type == "information_sharing" && state == "given") {
        info_sharing_consent = *id;
      }
      consents.push_back(&out_c);
    }
  }

  // Assessment (9.6).
  cv1::Assessment* assessment = nullptr;  // on the result's arena
  std::set<std::string> assessed_refs;    // for assessmentRef resolution
  if (const ExportJson* a = rec.Object(c, "assessment", path)) {
    const std::string ap = Rec::P(path, "assessment");
    rec.Known(*a, ap,
              {"assessmentId", "type", "form", "startedDate", "completedDate",
               "author", "coAuthors", "peoplePresent", "reasonForAssessment",
               "currentFamilyAndHomeSituation", "childAssessments",
               "parentsAndCarers", "familyAndEnvironmental", "voiceOfChild",
               "parentCarerViews", "analysis", "outcomesSought"});
    cv1::Assessment& as = *New<cv1::Assessment>();
    as.set_case_id(case_id);
    if (auto id = rec.Id(*a, "assessmentId", ap, true)) {
      as.set_assessment_id(*id);
      unique_id(*id, Rec::P(ap, "assessmentId"));
    }
    auto type =
        rec.Code(*a, "type", ap, true, kAssessmentType, "assessmentType");
    as.set_kind(type && *type == "early_help_reassessment"
                    ? cv1::ASSESSMENT_KIND_REVIEW
                    : cv1::ASSESSMENT_KIND_ASSESSMENT);
    if (auto f = rec.Str(*a, "form", ap)) {
      *as.mutable_form() = MakeCode(RaiseCodeSystem("form"), *f, *f);
    }
    if (auto d = rec.Date(*a, "startedDate", ap)) {
      SetDate(*d, as.mutable_started_on());
    }
    if (auto d = rec.Date(*a, "completedDate", ap)) {
      SetDate(*d, as.mutable_completed_on());
    }
    as.set_status(as.has_completed_on() ? cv1::ASSESSMENT_STATUS_COMPLETED
                                        : cv1::ASSESSMENT_STATUS_IN_PROGRESS);
    if (auto au = rec.Str(*a, "author", ap)) {
      *as.mutable_author() = StaffRef(*au, Rec::P(ap, "author"), &rec, &refs);
    }
    if (const ExportJson* co = rec.Array(*a, "coAuthors", ap)) {
      const std::string cp = Rec::P(ap, "coAuthors");
      for (size_t i = 0; i < co->size(); ++i) {
        const std::string xp = Rec::I(cp, i);
        const ExportJson& x = (*co)[i];
        if (!x.is_object()) {
          rec.Err("wrong_type", xp, "must be an object");
          continue;
        }
        rec.Known(x, xp, {"name", "role", "agency", "staffId"});
        auto* pr = as.add_co_authors();
        if (auto n = rec.Str(x, "name", xp, true)) pr->set_name(*n);
        if (auto v = rec.Str(x, "role", xp)) pr->set_role(*v);
        if (auto v = rec.Str(x, "agency", xp)) pr->set_team(*v);
        if (auto v = rec.Str(x, "staffId", xp)) {
          StaffRef(*v, Rec::P(xp, "staffId"), &rec, &refs);
          pr->set_practitioner_id(*v);
          pr->set_agency_id(options_.agency_id);
        }
      }
    }
    for (auto& pp : rec.Strings(*a, "peoplePresent", ap)) {
      as.add_people_present_person_ids(pp);
    }
    if (auto v = rec.Str(*a, "reasonForAssessment", ap)) {
      as.set_reason_for_assessment(*v);
    }
    rec.Str(*a, "currentFamilyAndHomeSituation", ap);
    if (auto v = rec.Str(*a, "analysis", ap)) as.set_analysis(*v);
    rec.Strings(*a, "outcomesSought", ap);

    // One element: {strengths, needs, needLevel}.
    auto element = [&](const ExportJson& parent, const ElementName& en,
                       const std::string& pp, const std::string& ref_prefix,
                       std::vector<cv1::ElementAssessment>* out_elems) {
      const ExportJson* e = rec.Object(parent, en.name, pp);
      if (e == nullptr) return;
      const std::string ep = Rec::P(pp, en.name);
      rec.Known(*e, ep, {"strengths", "needs", "needLevel"});
      cv1::ElementAssessment ea;
      ea.set_domain(en.domain);
      ea.set_element(en.element);
      if (auto v = rec.Str(*e, "strengths", ep)) ea.set_strengths(*v);
      if (auto v = rec.Str(*e, "needs", ep)) ea.set_needs(*v);
      if (auto v =
              rec.Code(*e, "needLevel", ep, true, kNeedLevel, "needLevel")) {
        ea.set_need_level(MapNeed(*v));
      }
      *ea.mutable_source_element() =
          MakeCode(RaiseCodeSystem("caf-element"), std::string(en.name),
                   std::string(en.name));
      assessed_refs.insert(ref_prefix + std::string(en.name));
      out_elems->push_back(std::move(ea));
    };
    std::vector<cv1::ElementAssessment> family_elems;
    if (const ExportJson* pc = rec.Object(*a, "parentsAndCarers", ap)) {
      const std::string pp = Rec::P(ap, "parentsAndCarers");
      rec.Known(
          *pc, pp,
          {"basicCareEnsuringSafetyAndProtection",
           "emotionalWarmthAndStability", "guidanceBoundariesAndStimulation"});
      for (const auto& en : kParentElements) {
        element(*pc, en, pp, "parentsAndCarers.", &family_elems);
      }
    }
    if (const ExportJson* fe = rec.Object(*a, "familyAndEnvironmental", ap)) {
      const std::string pp = Rec::P(ap, "familyAndEnvironmental");
      rec.Known(*fe, pp,
                {"familyHistoryFunctioningAndWellbeing", "widerFamily",
                 "housingEmploymentAndFinancialConsiderations",
                 "socialAndCommunityElementsAndResourcesIncludingEducation"});
      for (const auto& en : kEnvElements) {
        element(*fe, en, pp, "familyAndEnvironmental.", &family_elems);
      }
    }
    std::map<std::string, cv1::ChildAssessment*> by_child;
    if (const ExportJson* cas = rec.Array(*a, "childAssessments", ap)) {
      const std::string cp = Rec::P(ap, "childAssessments");
      for (size_t i = 0; i < cas->size(); ++i) {
        const std::string xp = Rec::I(cp, i);
        const ExportJson& x = (*cas)[i];
        if (!x.is_object()) {
          rec.Err("wrong_type", xp, "must be an object");
          continue;
        }
        rec.Known(x, xp,
                  {"childId", "unborn", "expectedDateOfDelivery",
                   "developmentOfChild"});
        auto child = rec.Str(x, "childId", xp, true);
        rec.Bool(x, "unborn", xp);
        rec.Date(x, "expectedDateOfDelivery", xp);
        if (!child) continue;
        if (!focus_set.count(*child)) {
          PersonRef(*child, Rec::P(xp, "childId"), &rec, &refs);
        }
        auto* ca = as.add_children();
        ca->set_child_person_id(*child);
        by_child[*child] = ca;
        std::vector<cv1::ElementAssessment> elems;
        if (const ExportJson* d = rec.Object(x, "developmentOfChild", xp)) {
          const std::string dp = Rec::P(xp, "developmentOfChild");
          rec.Known(*d, dp,
                    {"health", "emotionalAndSocialDevelopment",
                     "behaviouralDevelopment",
                     "identitySelfEsteemSelfImageAndSocialPresentation",
                     "familyAndSocialRelationships",
                     "selfCareSkillsAndIndependence", "learning"});
          const std::string prefix = *child + ".";
          if (const ExportJson* h = rec.Object(*d, "health", dp)) {
            const std::string hp = Rec::P(dp, "health");
            rec.Known(*h, hp,
                      {"generalHealth", "physicalDevelopment",
                       "speechLanguageAndCommunication"});
            for (const auto& en : kHealthElements) {
              element(*h, en, hp, prefix + "health.", &elems);
            }
          }
          for (const auto& en : kDirectElements) {
            element(*d, en, dp, prefix, &elems);
          }
          if (const ExportJson* l = rec.Object(*d, "learning", dp)) {
            const std::string lp = Rec::P(dp, "learning");
            rec.Known(*l, lp,
                      {"understandingReasoningAndProblemSolving",
                       "participationInLearningEducationAndEmployment",
                       "progressAndAchievementInLearning", "aspirations"});
            for (const auto& en : kLearningElements) {
              element(*l, en, lp, prefix + "learning.", &elems);
            }
          }
        }
        for (auto& e : elems) *ca->add_elements() = std::move(e);
      }
    }
    // Every child of focus gets an entry; family-level elements (domains 2
    // and 3) are repeated for each child, as ChildAssessment holds them.
    for (const std::string& f : focus) {
      if (!by_child.count(f)) {
        auto* ca = as.add_children();
        ca->set_child_person_id(f);
        by_child[f] = ca;
      }
    }
    for (auto& [id, ca] : by_child) {
      for (const auto& e : family_elems) *ca->add_elements() = e;
    }
    if (const ExportJson* vs = rec.Array(*a, "voiceOfChild", ap)) {
      const std::string vp = Rec::P(ap, "voiceOfChild");
      for (size_t i = 0; i < vs->size(); ++i) {
        const std::string xp = Rec::I(vp, i);
        const ExportJson& x = (*vs)[i];
        if (!x.is_object()) {
          rec.Err("wrong_type", xp, "must be an object");
          continue;
        }
        rec.Known(x, xp,
                  {"childId", "method", "date", "recordedBy", "wordsOfChild",
                   "wishes"});
        auto child = rec.Str(x, "childId", xp, true);
        auto method = rec.Str(x, "method", xp);
        auto date = rec.Date(x, "date", xp);
        auto by = rec.Str(x, "recordedBy", xp);
        auto words = rec.Str(x, "wordsOfChild", xp);
        auto wishes = rec.Str(x, "wishes", xp);
        if (!child) continue;
        auto it = by_child.find(*child);
        cv1::ChildAssessment* ca;
        if (it == by_child.end()) {
          ca = as.add_children();
          ca->set_child_person_id(*child);
          by_child[*child] = ca;
        } else {
          ca = it->second;
        }
        if (ca->has_voice_of_child()) continue;  // one per child in ehx
        auto* v = ca->mutable_voice_of_child();
        v->set_child_person_id(*child);
        std::string m = method.value_or("");
        v->set_method(m.find("observ") != std::string::npos
                          ? cv1::VOICE_METHOD_OBSERVATION
                      : m.find("draw") != std::string::npos ||
                              m.find("activity") != std::string::npos ||
                              m.find("tool") != std::string::npos
                          ? cv1::VOICE_METHOD_ACTIVITY
                          : cv1::VOICE_METHOD_CONVERSATION);
        std::string w = words.value_or("");
        if (wishes && !wishes->empty()) {
          w += (w.empty() ? "" : "\n") + *wishes;
        }
        v->set_words(w);
        if (date) SetDate(*date, v->mutable_recorded_on());
        if (by) {
          *v->mutable_recorded_by() =
              StaffRef(*by, Rec::P(xp, "recordedBy"), &rec, &refs);
        }
      }
    }
    if (const ExportJson* pv = rec.Array(*a, "parentCarerViews", ap)) {
      const std::string vp = Rec::P(ap, "parentCarerViews");
      for (size_t i = 0; i < pv->size(); ++i) {
        const std::string xp = Rec::I(vp, i);
        const ExportJson& x = (*pv)[i];
        if (!x.is_object()) {
          rec.Err("wrong_type", xp, "must be an object");
          continue;
        }
        rec.Known(x, xp, {"personId", "views", "recordedOn"});
        auto pid = rec.Str(x, "personId", xp, true);
        auto views = rec.Str(x, "views", xp, true);
        auto on = rec.Date(x, "recordedOn", xp);
        if (!pid) continue;
        PersonRef(*pid, Rec::P(xp, "personId"), &rec, &refs);
        auto* v = as.add_parent_views();
        v->set_person_id(*pid);
        v->set_participation(cv1::PARENT_PARTICIPATION_CONTRIBUTED);
        if (views) v->set_view(*views);
        if (on) SetDate(*on, v->mutable_recorded_on());
        for (const auto& rel : ehc.family().relationships()) {
          if (rel.person_id() == *pid) {
            v->set_relationship(rel.type());
            v->set_absent_parent_status(rel.absent_parent_status());
            break;
          }
        }
      }
    }
    if (!info_sharing_consent.empty()) as.set_consent_id(info_sharing_consent);
    *as.mutable_level_of_need() = ehc.level_of_need();
    assessment = &as;
  }

  // TAF meetings (9.7, 10.6).
  std::vector<cv1::TafMeeting*> meetings;  // on the result's arena
  std::vector<Instant> meeting_times;
  int held_count = 0;
  if (const ExportJson* ms = rec.Array(c, "tafMeetings", path)) {
    const std::string mp = Rec::P(path, "tafMeetings");
    for (size_t i = 0; i < ms->size(); ++i) {
      const std::string xp = Rec::I(mp, i);
      const ExportJson& x = (*ms)[i];
      if (!x.is_object()) {
        rec.Err("wrong_type", xp, "must be an object");
        continue;
      }
      rec.Known(
          x, xp,
          {"meetingId", "type", "status", "start", "end", "venue", "chair",
           "attendees", "decisions", "nextMeetingDate", "minutesDocumentId"});
      cv1::TafMeeting& m = *New<cv1::TafMeeting>();
      m.set_case_id(case_id);
      auto id = rec.Id(x, "meetingId", xp, true);
      if (id) {
        m.set_meeting_id(*id);
        unique_id(*id, Rec::P(xp, "meetingId"));
      }
      auto type = rec.Code(x, "type", xp, true, kTafType, "tafType");
      auto st = rec.Code(x, "status", xp, false, kTafStatus, "tafStatus");
      auto start = rec.DateTime(x, "start", xp, true);
      rec.DateTime(x, "end", xp);
      if (auto v = rec.Str(x, "venue", xp)) m.set_venue(*v);
      if (auto ch = rec.Str(x, "chair", xp)) {
        *m.mutable_chair() = StaffRef(*ch, Rec::P(xp, "chair"), &rec, &refs);
      }
      if (type) {
        m.set_kind(*type == "initial" ? cv1::TAF_MEETING_KIND_INITIAL
                   : *type == "review" || *type == "emergency_review"
                       ? cv1::TAF_MEETING_KIND_REVIEW
                   : *type == "step_down_transition"
                       ? cv1::TAF_MEETING_KIND_TRANSITION
                   : *type == "closure" ? cv1::TAF_MEETING_KIND_CLOSING
                                        : cv1::TAF_MEETING_KIND_UNSPECIFIED);
      }
      if (start) SetTime(*start, m.mutable_held_at());
      if (const ExportJson* at = rec.Array(x, "attendees", xp)) {
        const std::string tp = Rec::P(xp, "attendees");
        for (size_t k = 0; k < at->size(); ++k) {
          const std::string yp = Rec::I(tp, k);
          const ExportJson& y = (*at)[k];
          if (!y.is_object()) {
            rec.Err("wrong_type", yp, "must be an object");
            continue;
          }
          rec.Known(y, yp,
                    {"personId", "name", "role", "agency", "attendance",
                     "reason", "notes", "viewsSubmitted", "reportProvided"});
          auto* a = m.add_attendees();
          auto pid = rec.Str(y, "personId", yp);
          auto name = rec.Str(y, "name", yp);
          auto role = rec.Str(y, "role", yp);
          auto agency = rec.Str(y, "agency", yp);
          auto att =
              rec.Code(y, "attendance", yp, true, kAttendance, "attendance");
          auto reason = rec.Str(y, "reason", yp);
          rec.Str(y, "notes", yp);
          rec.Bool(y, "viewsSubmitted", yp);
          rec.Bool(y, "reportProvided", yp);
          if (pid) {
            PersonRef(*pid, Rec::P(yp, "personId"), &rec, &refs);
            a->set_person_id(*pid);
          } else {
            // A bracketed placeholder is never a name.
            const bool placeholder = name && name->size() >= 2 &&
                                     name->front() == '(' &&
                                     name->back() == ')';
            if (name && !placeholder)
              a->mutable_practitioner()->set_name(*name);
            if (role) a->mutable_practitioner()->set_role(*role);
            if (agency) a->mutable_practitioner()->set_team(*agency);
          }
          if (role) a->set_role(*role);
          if (att) {
            a->set_status(
                *att == "present" || *att == "present_part"
                    ? cv1::ATTENDANCE_STATUS_PRESENT
                : *att == "apologies"   ? cv1::ATTENDANCE_STATUS_APOLOGIES
                : *att == "absent"      ? cv1::ATTENDANCE_STATUS_ABSENT
                : *att == "not_invited" ? cv1::ATTENDANCE_STATUS_NOT_INVITED
                                        : cv1::ATTENDANCE_STATUS_UNSPECIFIED);
          }
          if (reason) a->set_reason(*reason);
          if (pid && focus_set.count(*pid) && att) {
            m.set_child_attended(a->status() == cv1::ATTENDANCE_STATUS_PRESENT
                                     ? cv1::YES_NO_UNKNOWN_YES
                                     : cv1::YES_NO_UNKNOWN_NO);
          }
        }
      }
      for (auto& d : rec.Strings(x, "decisions", xp)) m.add_decisions(d);
      if (auto d = rec.Date(x, "nextMeetingDate", xp)) {
        SetDate(*d, m.mutable_next_meeting_on());
      }
      if (auto d = rec.Str(x, "minutesDocumentId", xp)) {
        m.add_minutes_document_ids(*d);
      }
      const bool held = !st || *st == "held";
      if (held && start) {
        ++held_count;
        meetings.push_back(&m);
        meeting_times.push_back(*start);
      }
    }
  }

  // Plan (9.8, 10.5).
  cv1::Plan* plan = nullptr;  // on the result's arena
  std::optional<Instant> plan_modified;
  if (const ExportJson* p = rec.Object(c, "plan", path)) {
    const std::string pp = Rec::P(path, "plan");
    rec.Known(*p, pp,
              {"planId", "version", "agreedDate", "lastModified", "reviewDate",
               "actions"});
    cv1::Plan& pl = *New<cv1::Plan>();
    pl.set_case_id(case_id);
    if (auto id = rec.Id(*p, "planId", pp, true)) {
      pl.set_plan_id(*id);
      unique_id(*id, Rec::P(pp, "planId"));
    }
    if (auto v = rec.Int(*p, "version", pp, true, 1)) {
      pl.set_version(static_cast<int32_t>(std::min<int64_t>(*v, INT32_MAX)));
    }
    if (auto d = rec.Date(*p, "agreedDate", pp))
      SetDate(*d, pl.mutable_agreed_on());
    plan_modified = rec.DateTime(*p, "lastModified", pp);
    if (auto d = rec.Date(*p, "reviewDate", pp))
      SetDate(*d, pl.mutable_review_on());
    if (assessment) pl.set_assessment_id(assessment->assessment_id());
    bool open_actions = false;
    if (const ExportJson* acts = rec.Array(*p, "actions", pp, true)) {
      const std::string ap = Rec::P(pp, "actions");
      std::set<std::string> action_ids;
      for (size_t i = 0; i < acts->size(); ++i) {
        const std::string xp = Rec::I(ap, i);
        const ExportJson& x = (*acts)[i];
        if (!x.is_object()) {
          rec.Err("wrong_type", xp, "must be an object");
          continue;
        }
        rec.Known(x, xp,
                  {"actionId", "need", "assessmentRef", "action", "owner",
                   "support", "measure", "startDate", "dueDate", "status",
                   "statusNote", "completedDate"});
        auto* a = pl.add_actions();
        if (auto id = rec.Str(x, "actionId", xp, true)) {
          a->set_action_id(*id);
          if (!action_ids.insert(*id).second) {
            rec.Err("duplicate_id", Rec::P(xp, "actionId"),
                    "actionId must be unique within its plan");
          }
        }
        auto need = rec.Str(x, "need", xp);
        if (need) a->mutable_need()->set_description(*need);
        if (auto ref = rec.Str(x, "assessmentRef", xp)) {
          if (!assessed_refs.count(*ref)) {
            rec.Warn("unresolved_assessment_ref", Rec::P(xp, "assessmentRef"),
                     "does not name an element of the case's assessment");
          } else {
            const size_t dot = ref->find('.');
            const std::string head = ref->substr(0, dot);
            const std::string tail = ref->substr(ref->rfind('.') + 1);
            if (head != "parentsAndCarers" &&
                head != "familyAndEnvironmental") {
              a->mutable_need()->set_child_person_id(head);
            }
            for (const auto* list :
                 {&kHealthElements[0], &kLearningElements[0],
                  &kDirectElements[0], &kParentElements[0], &kEnvElements[0]}) {
              (void)list;
            }
            auto match = [&](const ElementName* b, size_t n) {
              for (size_t k = 0; k < n; ++k) {
                if (b[k].name == tail) {
                  a->mutable_need()->set_domain(b[k].domain);
                  a->mutable_need()->set_element(b[k].element);
                }
              }
            };
            match(kHealthElements, std::size(kHealthElements));
            match(kLearningElements, std::size(kLearningElements));
            match(kDirectElements, std::size(kDirectElements));
            match(kParentElements, std::size(kParentElements));
            match(kEnvElements, std::size(kEnvElements));
          }
        }
        if (auto v = rec.Str(x, "action", xp, true)) a->set_what(*v);
        if (const ExportJson* o = rec.Object(x, "owner", xp)) {
          const std::string op = Rec::P(xp, "owner");
          rec.Known(*o, op, {"staffId", "personId", "name", "role", "agency"});
          auto sid = rec.Str(*o, "staffId", op);
          auto pid = rec.Str(*o, "personId", op);
          auto name = rec.Str(*o, "name", op);
          auto role = rec.Str(*o, "role", op);
          auto agency = rec.Str(*o, "agency", op);
          if (!sid && !pid && !name) {
            rec.Err("required_field_missing", op,
                    "an owner needs staffId, personId or name");
          }
          if (sid) {
            *a->mutable_owner() =
                StaffRef(*sid, Rec::P(op, "staffId"), &rec, &refs);
          } else if (name) {
            a->mutable_owner()->set_name(*name);
            if (role) a->mutable_owner()->set_role(*role);
            if (agency) a->mutable_owner()->set_team(*agency);
          }
          if (pid) {
            PersonRef(*pid, Rec::P(op, "personId"), &rec, &refs);
            a->set_owner_person_id(*pid);
          }
        }
        for (auto& s : rec.Strings(x, "support", xp)) {
          if (!staff_.count(s) && !people_.count(s)) {
            rec.Warn("unresolved_reference", Rec::P(xp, "support"),
                     "names neither a staff[] nor a people[] entry");
          }
        }
        if (auto v = rec.Str(x, "measure", xp)) a->set_success_measure(*v);
        if (auto d = rec.Date(x, "startDate", xp))
          SetDate(*d, a->mutable_start_on());
        if (auto d = rec.Date(x, "dueDate", xp))
          SetDate(*d, a->mutable_due_on());
        auto st =
            rec.Code(x, "status", xp, true, kActionStatus, "actionStatus");
        if (st) {
          a->set_status(MapActionStatus(*st));
          if (*st == "not_started" || *st == "in_progress" ||
              *st == "overdue") {
            open_actions = true;
          }
        }
        rec.Str(x, "statusNote", xp);
        if (auto d =
                rec.Date(x, "completedDate", xp, st && *st == "completed")) {
          SetDate(*d, a->mutable_completed_on());
        }
      }
    }
    if (closed && open_actions) {
      rec.Info("open_actions_on_closed_case", Rec::P(pp, "actions"),
               "a closed case lists open actions; kept as exported");
    }
    plan = &pl;
  }

  // Step-up (9.9, 10.4).
  cv1::StepUpReferral* step_up = nullptr;  // on the result's arena
  std::optional<Instant> submitted;
  if (const ExportJson* s = rec.Object(c, "stepUp", path)) {
    const std::string sp = Rec::P(path, "stepUp");
    rec.Known(
        *s, sp,
        {"referralId", "submittedAt", "to", "referrer", "childrenReferred",
         "concerns", "immediateRisk", "childrenSeen",
         "whereaboutsOfChildrenAtReferral", "parentsAware",
         "parentalConsentToReferral", "consentNotRequiredReason",
         "fatherInformed", "fatherNotInformedReason", "levelOfNeedAtReferral",
         "earlyHelpSummary", "agenciesInvolved", "attachments", "outcome"});
    cv1::StepUpReferral& su = *New<cv1::StepUpReferral>();
    if (auto id = rec.Id(*s, "referralId", sp, true)) {
      su.set_referral_id(*id);
      unique_id(*id, Rec::P(sp, "referralId"));
    }
    submitted = rec.DateTime(*s, "submittedAt", sp, true);
    if (submitted) SetTime(*submitted, su.mutable_referred_at());
    rec.Str(*s, "to", sp);
    if (auto ref = rec.Str(*s, "referrer", sp, true)) {
      *su.mutable_referrer() =
          StaffRef(*ref, Rec::P(sp, "referrer"), &rec, &refs);
    }
    auto children = rec.Strings(*s, "childrenReferred", sp, true, 1);
    if (auto v = rec.Str(*s, "concerns", sp, true)) su.set_concerns(*v);
    auto risk = rec.Bool(*s, "immediateRisk", sp);
    if (risk) {
      su.set_significant_harm(*risk);
      su.set_urgency(*risk ? cv1::REFERRAL_URGENCY_IMMEDIATE
                           : cv1::REFERRAL_URGENCY_ROUTINE);
    }
    rec.Bool(*s, "childrenSeen", sp);
    auto where = rec.Str(*s, "whereaboutsOfChildrenAtReferral", sp);
    auto aware = rec.Bool(*s, "parentsAware", sp);
    if (aware) {
      su.set_parents_informed(*aware ? cv1::YES_NO_UNKNOWN_YES
                                     : cv1::YES_NO_UNKNOWN_NO);
    }
    auto pc = rec.Code(*s, "parentalConsentToReferral", sp, false,
                       kParentalConsent, "parentalConsentToReferral");
    auto not_req = rec.Str(*s, "consentNotRequiredReason", sp,
                           pc && *pc == "not_required");
    if (pc) {
      su.set_parents_consent(*pc == "given" ? cv1::REFERRAL_CONSENT_GIVEN
                             : *pc == "refused"
                                 ? cv1::REFERRAL_CONSENT_REFUSED
                                 : cv1::REFERRAL_CONSENT_NOT_SOUGHT);
      auto* lb = su.mutable_legal_basis();
      if (*pc == "given") {
        lb->set_kind(cv1::LEGAL_BASIS_KIND_CONSENT);
        lb->set_consent_id(info_sharing_consent);
        if (info_sharing_consent.empty()) su.clear_legal_basis();
      } else if (not_req && !not_req->empty()) {
        lb->set_kind(cv1::LEGAL_BASIS_KIND_SAFEGUARDING);
        lb->set_reason(*not_req);
        *lb->mutable_decided_by() = su.referrer();
        if (submitted) SetTime(*submitted, lb->mutable_decided_at());
      } else {
        su.clear_legal_basis();
      }
    }
    rec.Bool(*s, "fatherInformed", sp);
    rec.Str(*s, "fatherNotInformedReason", sp);
    rec.Int(*s, "levelOfNeedAtReferral", sp, false, 1);
    auto summary = rec.Str(*s, "earlyHelpSummary", sp);
    rec.Strings(*s, "agenciesInvolved", sp);
    rec.Strings(*s, "attachments", sp);
    for (const std::string& ch : children) {
      auto it = people_.find(ch);
      if (it == people_.end() || !it->second.valid) {
        rec.Warn("unresolved_reference", Rec::P(sp, "childrenReferred"),
                 "does not name a valid people[] entry");
        continue;
      }
      refs.push_back(it->second.record);
      *su.add_children() = it->second.person;
      auto* w = su.add_whereabouts();
      w->set_child_person_id(ch);
      if (where && !where->empty()) {
        w->set_description(*where);
      } else {
        w->set_unknown(true);
      }
      if (submitted) SetTime(*submitted, w->mutable_confirmed_at());
    }
    // Raise does not record first-hand / third-party as a field: the
    // concerns text says so (contract 9.9).
    su.set_information_source(cv1::INFORMATION_SOURCE_MIXED);
    su.set_information_source_detail(
        "as described in the concerns (Raise does not code this)");
    auto* hist = su.mutable_early_help_history();
    if (assessment) hist->add_assessment_ids(assessment->assessment_id());
    if (plan) hist->add_plan_ids(plan->plan_id());
    hist->set_taf_meetings_held(held_count);
    *hist->mutable_started_on() = ehc.opened_on();
    if (summary) hist->set_summary(*summary);
    *su.mutable_referral_source() = MakeCode(kRefSrcSystem, "5D", "");
    su.set_early_help_case_id(case_id);
    if (const ExportJson* o = rec.Object(*s, "outcome", sp)) {
      const std::string op = Rec::P(sp, "outcome");
      rec.Known(*o, op,
                {"decisionAt", "decision", "cscReference", "cinReferralDate",
                 "referralSourceCodeRecorded", "feedbackToReferrerAt"});
      auto decided = rec.DateTime(*o, "decisionAt", op, true);
      rec.Code(*o, "decision", op, true, kDecision, "referralDecision");
      if (auto csc = rec.Str(*o, "cscReference", op)) {
        if (!IsLaChildId(*csc)) {
          rec.Warn("wrong_type", Rec::P(op, "cscReference"),
                   "LAchildID is 1-20 letters and digits");
        }
      }
      rec.Date(*o, "cinReferralDate", op);
      if (auto src = rec.Code(*o, "referralSourceCodeRecorded", op, false,
                              kRefSrc, "cinReferralSource")) {
        if (*src != "5D") {
          rec.Warn("unexpected_referral_source",
                   Rec::P(op, "referralSourceCodeRecorded"),
                   "a step-up from early help is recorded as 5D");
        }
      }
      rec.DateTime(*o, "feedbackToReferrerAt", op);
      if (decided && submitted) {
        const Instant deadline = NextWorkingDayDeadline(*submitted);
        if (decided->seconds > deadline.seconds) {
          rec.Warn("referral_decision_late", Rec::P(op, "decisionAt"),
                   "decision later than one working day after submission");
        }
      }
    }
    step_up = &su;
  }
  if (closed && closure_reason && *closure_reason == "stepped_up_to_csc" &&
      !step_up) {
    rec.Warn("step_up_missing", Rec::P(path, "stepUp"),
             "a case closed as stepped_up_to_csc should have a stepUp");
  }

  // Documents (9.10, 3.4).
  std::vector<cv1::DocumentRef*> documents;  // on the result's arena
  std::vector<Instant> document_times;
  if (const ExportJson* ds = rec.Array(c, "documents", path)) {
    const std::string dp = Rec::P(path, "documents");
    for (size_t i = 0; i < ds->size(); ++i) {
      const std::string xp = Rec::I(dp, i);
      const ExportJson& x = (*ds)[i];
      if (!x.is_object()) {
        rec.Err("wrong_type", xp, "must be an object");
        continue;
      }
      rec.Known(
          x, xp,
          {"documentId", "title", "source", "mimeType", "pages", "scannedAt",
           "scanner", "createdAt", "ocr", "linkedTo", "sha256", "contentFile"});
      cv1::DocumentRef& d = *New<cv1::DocumentRef>();
      d.set_case_id(case_id);
      auto id = rec.Id(x, "documentId", xp, true);
      if (id) {
        d.set_document_id(*id);
        unique_id(*id, Rec::P(xp, "documentId"));
      }
      if (auto v = rec.Str(x, "title", xp)) d.set_title(*v);
      auto source =
          rec.Code(x, "source", xp, true, kDocSource, "documentSource");
      auto mime = rec.Str(x, "mimeType", xp, true);
      if (mime) d.set_media_type(*mime);
      if (auto v = rec.Int(x, "pages", xp, false, 1)) {
        d.set_page_count(
            static_cast<int32_t>(std::min<int64_t>(*v, INT32_MAX)));
      }
      auto scanned =
          rec.DateTime(x, "scannedAt", xp, source && *source == "scanned");
      auto scanner = rec.Str(x, "scanner", xp);
      auto created = rec.DateTime(x, "createdAt", xp);
      d.set_source(source && *source == "scanned"
                       ? cv1::DOCUMENT_SOURCE_SCAN
                       : cv1::DOCUMENT_SOURCE_ADAPTER);
      d.set_source_detail(scanner ? *scanner : "raise");
      if (scanned) {
        SetTime(*scanned, d.mutable_captured_at());
      } else if (created) {
        SetTime(*created, d.mutable_captured_at());
      }
      if (const ExportJson* o = rec.Object(x, "ocr", xp)) {
        const std::string op = Rec::P(xp, "ocr");
        rec.Known(*o, op, {"status", "language", "meanConfidence", "reason"});
        auto st = rec.Code(*o, "status", op, true, kOcrStatus, "ocrStatus");
        rec.Str(*o, "language", op);
        rec.Number(*o, "meanConfidence", op);
        rec.Str(*o, "reason", op, st && *st == "failed");
        if (st) {
          d.set_ocr_status(*st == "completed" ? cv1::OCR_STATUS_COMPLETED
                           : *st == "pending" ? cv1::OCR_STATUS_PENDING
                           : *st == "failed"  ? cv1::OCR_STATUS_FAILED
                                              : cv1::OCR_STATUS_NOT_REQUIRED);
        }
      }
      for (auto& l : rec.Strings(x, "linkedTo", xp)) d.add_linked_record_ids(l);
      auto sha = rec.Str(x, "sha256", xp, true);
      if (sha && !IsHex64(*sha)) {
        rec.Err("wrong_type", Rec::P(xp, "sha256"),
                "sha256 is 64 lower-case hex characters");
      } else if (sha) {
        d.set_content_sha256(*sha);
      }
      if (auto cf = rec.Str(x, "contentFile", xp);
          cf && sha && !options_.export_dir.empty()) {
        const std::string cfp = Rec::P(xp, "contentFile");
        if (!IsSafeContentFile(*cf, *sha)) {
          rec.Warn("document_content_missing", cfp,
                   "contentFile must be documents/<sha256>[.<ext>]");
        } else {
          std::ifstream in(options_.export_dir + "/" + *cf, std::ios::binary);
          if (!in) {
            rec.Warn("document_content_missing", cfp,
                     "contentFile named but not found");
          } else {
            std::stringstream buf;
            buf << in.rdbuf();
            const std::string bytes = buf.str();
            if (Sha256Hex(bytes) != *sha) {
              rec.Warn("document_hash_mismatch", cfp,
                       "bytes do not match sha256; content refused");
            } else {
              d.set_size_bytes(static_cast<int64_t>(bytes.size()));
              const std::string sniffed = SniffMediaType(bytes);
              if (!sniffed.empty() && mime && sniffed != *mime) {
                rec.Warn("document_type_mismatch", Rec::P(xp, "mimeType"),
                         "sniffed media type differs from mimeType");
              }
            }
          }
        }
      }
      // Documents Raise received from the gateway are not echoed back.
      if (id && (!source || *source != "imported")) {
        documents.push_back(&d);
        document_times.push_back(scanned   ? *scanned
                                 : created ? *created
                                           : exported);
      }
    }
  }

  if (rec.failed()) {
    finish(false);
    return;
  }

  // Agencies involved: those a given consent's scope maps to (configured
  // scope_agencies only; a raw scope value is a service, not an agency).
  {
    std::set<std::string> involved;
    for (const cv1::Consent* given : consents) {
      const cv1::Consent& cons = *given;
      if (cons.state() != cv1::CONSENT_STATE_GIVEN) continue;
      for (const auto& [scope, agency] : options_.scope_agencies) {
        for (const auto& a : cons.scope_agency_ids()) {
          if (a == agency) involved.insert(agency);
        }
      }
    }
    for (const auto& a : involved) ehc.add_agencies_involved(a);
  }

  // --- events -----------------------------------------------------------
  const std::string kid = KeyId(case_id);
  auto add = [&](ex::EventType type, const Instant& at, std::string key,
                 bool once_only) -> ex::Envelope* {
    PlannedEvent pe(New<ex::Envelope>());
    pe.once_only = once_only;
    pe.envelope.set_event_type(type);
    pe.envelope.set_case_ref(case_id);
    SetTime(at, pe.envelope.mutable_occurred_at());
    pe.envelope.set_idempotency_key(std::move(key));
    out.events.push_back(pe);
    return &out.events.back().envelope;
  };
  // CASE_OPENED is the first event; its payload (the whole case) is moved
  // in at the end, once the other events have taken what they need from it.
  add(ex::EVENT_TYPE_CASE_OPENED, exported, "raise:case_opened:" + kid, true);
  const size_t case_opened_event = out.events.size() - 1;
  for (cv1::Consent* each : consents) {
    cv1::Consent& cons = *each;
    if (cons.scope_agency_ids_size() == 0 || cons.scope_purposes_size() == 0 ||
        cons.state() == cv1::CONSENT_STATE_UNSPECIFIED) {
      continue;  // not_sought / pending / no scope: kept on the case only
    }
    ex::Envelope* e =
        add(ex::EVENT_TYPE_CONSENT_UPDATED, exported,
            "raise:consent:" + KeyId(cons.consent_id()) + ":" + Digest16(cons),
            false);
    *e->mutable_consent() = std::move(cons);
  }
  if (assessment) {
    cv1::CafNotification& caf = *New<cv1::CafNotification>();
    caf.set_assessment_id(assessment->assessment_id());
    *caf.mutable_level_of_need() = ehc.level_of_need();
    *caf.mutable_lead_practitioner() = ehc.lead_practitioner();
    *caf.mutable_agencies_involved() = ehc.agencies_involved();
    for (const auto& ch : ehc.children()) *caf.add_children() = ch;
    caf.set_kind(assessment->kind());
    *caf.mutable_started_on() = assessment->started_on();
    caf.set_consent_id(info_sharing_consent);
    const std::string aid = KeyId(assessment->assessment_id());
    caf.set_status(cv1::ASSESSMENT_STATUS_IN_PROGRESS);
    const bool completed = assessment->has_completed_on();
    cv1::CafNotification* started =
        add(ex::EVENT_TYPE_CAF_NOTIFICATION, exported,
            "raise:caf_started:" + aid, true)
            ->mutable_caf_notification();
    if (completed) {
      *started = caf;  // the completed notice below starts from it
    } else {
      *started = std::move(caf);
    }
    if (completed) {
      caf.set_status(cv1::ASSESSMENT_STATUS_COMPLETED);
      *caf.mutable_completed_on() = assessment->completed_on();
      *add(ex::EVENT_TYPE_CAF_NOTIFICATION, exported,
           "raise:caf_completed:" + aid, true)
           ->mutable_caf_notification() = std::move(caf);
    }
    *add(ex::EVENT_TYPE_ASSESSMENT, exported,
         "raise:assessment:" + aid + ":" + Digest16(*assessment), false)
         ->mutable_assessment() = std::move(*assessment);
  }
  for (size_t i = 0; i < meetings.size(); ++i) {
    if (plan) {
      meetings[i]->set_plan_id(plan->plan_id());
    }
    const std::string key = "raise:taf:" + KeyId(meetings[i]->meeting_id()) +
                            ":" + Digest16(*meetings[i]);
    *add(ex::EVENT_TYPE_TAF_MEETING, meeting_times[i], key, false)
         ->mutable_taf_meeting() = std::move(*meetings[i]);
  }
  if (plan) {
    const std::string key = "raise:plan:" + KeyId(plan->plan_id()) + ":v" +
                            std::to_string(plan->version()) + ":" +
                            Digest16(*plan);
    *add(ex::EVENT_TYPE_PLAN_UPDATED, plan_modified.value_or(exported), key,
         false)
         ->mutable_plan() = std::move(*plan);
  }
  for (size_t i = 0; i < documents.size(); ++i) {
    const std::string key =
        "raise:document:" + KeyId(documents[i]->document_id()) + ":" +
        Digest16(*documents[i]);
    *add(ex::EVENT_TYPE_DOCUMENT_ATTACHED, document_times[i], key, false)
         ->mutable_document() = std::move(*documents[i]);
  }
  if (step_up) {
    const std::string rid = KeyId(step_up->referral_id());
    ex::Envelope* e =
        add(ex::EVENT_TYPE_STEP_UP_REFERRAL, submitted.value_or(exported),
            "raise:step_up:" + rid, true);
    e->set_correlation_id("raise-referral-" + rid);
    *e->mutable_step_up_referral() = std::move(*step_up);
  }
  if (closed && closed_at) {
    cv1::CaseClosure& cl = *New<cv1::CaseClosure>();
    cl.set_reason(closure_reason.value_or(""));
    cl.set_reason_code(MapClosure(closure_reason.value_or("")));
    *cl.mutable_closed_on() = ehc.closed_on();
    cl.set_open_actions_disposal("kept as exported by Raise");
    *add(ex::EVENT_TYPE_CASE_CLOSED, *closed_at, "raise:case_closed:" + kid,
         true)
         ->mutable_case_closure() = std::move(cl);
  }
  *out.events[case_opened_event].envelope.mutable_case_opened() =
      std::move(ehc);
  std::sort(refs.begin(), refs.end());
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  // Contract 7.5: members this contract does not define, in the case and in
  // the people and staff it uses, travel with every event of the case as
  // Envelope.unmapped (kept by the gateway with the event, never delivered
  // onwards). Added after the keys are derived, so keys do not change.
  std::vector<std::pair<std::string, std::string>> unknown = rec.TakeUnknown();
  for (int ref : refs) {
    auto it = unmapped_by_record_.find(ref);
    if (it == unmapped_by_record_.end()) continue;
    unknown.insert(unknown.end(), it->second.begin(), it->second.end());
  }
  for (PlannedEvent& ev : out.events) {
    for (const auto& [p, raw] : unknown) {
      ex::UnmappedContent* u = ev.envelope.add_unmapped();
      u->set_path(p);
      u->set_media_type("application/json");
      u->set_raw(raw);
    }
  }
  result_->cases.push_back(std::move(out));
  result_->case_refs.push_back(std::move(refs));
  finish(true);
}

}  // namespace

namespace {

std::shared_ptr<google::protobuf::Arena> NewEnvelopeArena() {
  google::protobuf::ArenaOptions o;
  o.start_block_size = 16 << 10;
  o.max_block_size = 256 << 10;
  return std::make_shared<google::protobuf::Arena>(o);
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

ExportResult ParseExport(std::string_view bytes, const ExportOptions& options) {
  ExportResult result;
  result.arena = NewEnvelopeArena();
  try {
    StrictExportJson parsed = ParseStrictExportJson(bytes);
    if (!parsed.file_error.empty()) {
      result.file_error = parsed.file_error;
      result.file_error_rule = parsed.file_error_detail;
      return result;
    }
    FileState file;
    file.duplicate_members = std::move(parsed.duplicate_members);
    file.invalid_unicode = std::move(parsed.invalid_unicode);
    if (!options.file_name.empty()) {
      const std::string& n = options.file_name;
      bool standard = n.size() == 36 && n.rfind("raise-export-", 0) == 0 &&
                      n.compare(31, 5, ".json") == 0 && n[21] == 'T' &&
                      n[28] == 'Z';
      for (int i : {13, 14, 15, 16, 17, 18, 19, 20, 22, 23, 24, 25, 26, 27}) {
        if (standard && (n[i] < '0' || n[i] > '9')) standard = false;
      }
      if (!standard) {
        result.file_issues.push_back(
            {"info", "nonstandard_file_name", "$",
             "file name does not follow raise-export-<YYYYMMDDTHHMMSSZ>.json"});
      }
    }
    Mapper mapper(options, &file, &result);
    mapper.Run(*parsed.root);
    if (!result.file_error.empty()) {
      result.records.clear();
      result.cases.clear();
      result.case_refs.clear();
    }
  } catch (const std::exception&) {
    result = ExportResult();
    result.arena = NewEnvelopeArena();
    result.file_error = "file_not_json";
    result.file_error_rule = "the file could not be processed";
  }
  return result;
}

void FinishRecordStatuses(ExportResult* result,
                          const std::vector<int>& stored_case_indexes) {
  std::set<int> referenced;
  for (int i : stored_case_indexes) {
    if (i < 0 || i >= static_cast<int>(result->case_refs.size())) continue;
    referenced.insert(result->case_refs[i].begin(), result->case_refs[i].end());
  }
  for (size_t i = 0; i < result->records.size(); ++i) {
    RecordReport& r = result->records[i];
    if (r.record_type == "case" || r.status != "accepted") continue;
    if (!referenced.count(static_cast<int>(i))) r.status = "not_referenced";
  }
}

}  // namespace ehx::adapters::raise
