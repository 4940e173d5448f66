// StepUpReferral delivery -> the CSC referral JSON (referral.schema.json).
// Built with nlohmann::ordered_json so the member order is stable (golden
// tests, diff-friendly files). Empty strings and unset values are omitted;
// tri-state and enum values are lower-case words or null.
#include <nlohmann/json.hpp>

#include "csc_ingest.h"
#include "csc_util.h"

namespace ehx::adapters::csc {
namespace {

namespace cv1 = ::ehxpb::cases::v1;
namespace ex = ::ehxpb::exchange::v1;
using OJson = nlohmann::ordered_json;

void PutStr(OJson& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}

// An enum value as a lower-case word without its type prefix
// ("YES_NO_UNKNOWN_YES" -> "yes"); null for UNSPECIFIED / unknown numbers.
OJson EnumWord(const google::protobuf::EnumDescriptor* d, int value) {
  const auto* zero = d->FindValueByNumber(0);
  const auto* v = d->FindValueByNumber(value);
  if (v == nullptr || value == 0 || zero == nullptr) return nullptr;
  std::string prefix = zero->name();
  const std::string suffix = "UNSPECIFIED";
  if (prefix.size() >= suffix.size()) {
    prefix.resize(prefix.size() - suffix.size());
  }
  std::string name = v->name();
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return name;
}

template <typename E>
OJson Word(E value) {
  return EnumWord(google::protobuf::GetEnumDescriptor<E>(),
                  static_cast<int>(value));
}

OJson DateJson(const cv1::Date& d) { return FormatDate(d); }

OJson CodeJson(const cv1::Code& c) {
  OJson j = OJson::object();
  PutStr(j, "system", c.system());
  PutStr(j, "code", c.code());
  PutStr(j, "version", c.version());
  PutStr(j, "display", c.display());
  PutStr(j, "original_value", c.original_value());
  return j;
}

OJson NameJson(const cv1::HumanName& n) {
  OJson j = OJson::object();
  PutStr(j, "prefix", n.prefix());
  PutStr(j, "given", n.given());
  if (n.other_size() > 0) {
    j["other"] = OJson::array();
    for (const auto& o : n.other()) j["other"].push_back(o);
  }
  PutStr(j, "family", n.family());
  PutStr(j, "text", n.text());
  return j;
}

OJson ContactJson(const cv1::ContactPoint& c) {
  OJson j = OJson::object();
  j["kind"] = Word(c.kind());
  PutStr(j, "value", c.value());
  PutStr(j, "use", c.use());
  if (c.preferred()) j["preferred"] = true;
  PutStr(j, "notes", c.notes());
  return j;
}

OJson PractitionerJson(const cv1::Practitioner& p) {
  OJson j = OJson::object();
  PutStr(j, "name", p.name());
  PutStr(j, "role", p.role());
  PutStr(j, "agency_id", p.agency_id());
  PutStr(j, "practitioner_id", p.practitioner_id());
  PutStr(j, "team", p.team());
  if (p.contacts_size() > 0) {
    j["contacts"] = OJson::array();
    for (const auto& c : p.contacts()) j["contacts"].push_back(ContactJson(c));
  }
  return j;
}

OJson AddressJson(const cv1::Address& a) {
  OJson j = OJson::object();
  if (a.lines_size() > 0) {
    j["lines"] = OJson::array();
    for (const auto& l : a.lines()) j["lines"].push_back(l);
  }
  PutStr(j, "town", a.town());
  PutStr(j, "county", a.county());
  PutStr(j, "postcode", a.postcode());
  PutStr(j, "uprn", a.uprn());
  PutStr(j, "country", a.country());
  if (a.has_from_date()) j["from_date"] = DateJson(a.from_date());
  if (a.has_to_date()) j["to_date"] = DateJson(a.to_date());
  if (a.confidential()) j["confidential"] = true;
  return j;
}

OJson PersonJson(const cv1::Person& p) {
  OJson j = OJson::object();
  PutStr(j, "person_id", p.person_id());
  j["identifiers"] = OJson::array();
  for (const auto& id : p.identifiers()) {
    OJson i = OJson::object();
    i["system"] = id.system();
    i["value"] = id.value();
    i["verification"] = Word(id.verification());
    if (id.has_source_verification()) {
      i["source_verification"] = CodeJson(id.source_verification());
    }
    PutStr(i, "assigner_agency_id", id.assigner_agency_id());
    PutStr(i, "original_value", id.original_value());
    j["identifiers"].push_back(std::move(i));
  }
  if (p.has_legal_name()) j["legal_name"] = NameJson(p.legal_name());
  if (p.has_preferred_name()) {
    j["preferred_name"] = NameJson(p.preferred_name());
  }
  if (p.other_names_size() > 0) {
    j["other_names"] = OJson::array();
    for (const auto& n : p.other_names())
      j["other_names"].push_back(NameJson(n));
  }
  if (p.has_date_of_birth()) j["date_of_birth"] = DateJson(p.date_of_birth());
  if (p.unborn()) j["unborn"] = true;
  if (p.has_expected_date_of_delivery()) {
    j["expected_date_of_delivery"] = DateJson(p.expected_date_of_delivery());
  }
  if (p.has_date_of_death()) j["date_of_death"] = DateJson(p.date_of_death());
  if (p.has_sex()) j["sex"] = CodeJson(p.sex());
  if (p.has_ethnicity()) j["ethnicity"] = CodeJson(p.ethnicity());
  if (p.has_religion()) j["religion"] = CodeJson(p.religion());
  if (p.has_first_language())
    j["first_language"] = CodeJson(p.first_language());
  if (p.interpreter_needed() != cv1::YES_NO_UNKNOWN_UNSPECIFIED) {
    j["interpreter_needed"] = Word(p.interpreter_needed());
  }
  if (p.disabilities_size() > 0) {
    j["disabilities"] = OJson::array();
    for (const auto& c : p.disabilities())
      j["disabilities"].push_back(CodeJson(c));
  }
  if (p.has_sen_provision()) j["sen_provision"] = CodeJson(p.sen_provision());
  if (p.sen_needs_size() > 0) {
    j["sen_needs"] = OJson::array();
    for (const auto& c : p.sen_needs()) j["sen_needs"].push_back(CodeJson(c));
  }
  if (p.young_carer() != cv1::YES_NO_UNKNOWN_UNSPECIFIED) {
    j["young_carer"] = Word(p.young_carer());
  }
  if (p.addresses_size() > 0) {
    j["addresses"] = OJson::array();
    for (const auto& a : p.addresses())
      j["addresses"].push_back(AddressJson(a));
  }
  if (p.contacts_size() > 0) {
    j["contacts"] = OJson::array();
    for (const auto& c : p.contacts()) j["contacts"].push_back(ContactJson(c));
  }
  if (p.has_immigration_status()) {
    j["immigration_status"] = CodeJson(p.immigration_status());
  }
  return j;
}

OJson RelationshipJson(const cv1::Relationship& r) {
  OJson j = OJson::object();
  PutStr(j, "person_id", r.person_id());
  PutStr(j, "related_person_id", r.related_person_id());
  j["type"] = Word(r.type());
  if (r.has_type_code()) j["type_code"] = CodeJson(r.type_code());
  j["parental_responsibility"] = Word(r.parental_responsibility());
  j["lives_in_household"] = Word(r.lives_in_household());
  j["absent_parent_status"] = Word(r.absent_parent_status());
  PutStr(j, "notes", r.notes());
  return j;
}

}  // namespace

std::string ReferralJson(const Envelope& env) {
  const cv1::StepUpReferral& r = env.step_up_referral();
  OJson j = OJson::object();
  j["schema"] = "ehx-csc-referral/1";
  OJson meta = OJson::object();
  meta["message_id"] = env.message_id();
  meta["correlation_id"] =
      env.correlation_id().empty() ? env.message_id() : env.correlation_id();
  meta["case_ref"] = env.case_ref();
  PutStr(meta, "sender_agency", env.sender_agency());
  if (env.has_accepted_at()) {
    meta["accepted_at"] = FormatTimestamp(env.accepted_at());
  }
  j["ehx"] = std::move(meta);
  j["referral_id"] = r.referral_id();
  if (r.has_referred_at()) j["referred_at"] = FormatTimestamp(r.referred_at());
  PutStr(j, "early_help_case_id", r.early_help_case_id());
  if (r.has_referral_source()) {
    j["referral_source"] = CodeJson(r.referral_source());
  }
  j["urgency"] = Word(r.urgency());
  j["significant_harm"] =
      r.has_significant_harm() ? OJson(r.significant_harm()) : OJson(nullptr);
  j["referrer"] = PractitionerJson(r.referrer());
  j["children"] = OJson::array();
  for (const auto& c : r.children()) j["children"].push_back(PersonJson(c));
  if (r.household_members_size() > 0) {
    j["household_members"] = OJson::array();
    for (const auto& m : r.household_members()) {
      j["household_members"].push_back(PersonJson(m));
    }
  }
  if (r.relationships_size() > 0) {
    j["relationships"] = OJson::array();
    for (const auto& rel : r.relationships()) {
      j["relationships"].push_back(RelationshipJson(rel));
    }
  }
  PutStr(j, "concerns", r.concerns());
  PutStr(j, "needs", r.needs());
  if (r.concern_codes_size() > 0) {
    j["concern_codes"] = OJson::array();
    for (const auto& c : r.concern_codes()) {
      j["concern_codes"].push_back(CodeJson(c));
    }
  }
  PutStr(j, "other_children_at_risk", r.other_children_at_risk());
  j["whereabouts"] = OJson::array();
  for (const auto& w : r.whereabouts()) {
    OJson o = OJson::object();
    PutStr(o, "child_person_id", w.child_person_id());
    PutStr(o, "description", w.description());
    o["unknown"] = w.unknown();
    if (w.has_confirmed_at()) {
      o["confirmed_at"] = FormatTimestamp(w.confirmed_at());
    }
    j["whereabouts"].push_back(std::move(o));
  }
  j["information_source"] = Word(r.information_source());
  PutStr(j, "information_source_detail", r.information_source_detail());
  j["parents_informed"] = Word(r.parents_informed());
  PutStr(j, "parents_not_informed_reason", r.parents_not_informed_reason());
  j["parents_consent"] = Word(r.parents_consent());
  PutStr(j, "parents_views", r.parents_views());
  if (r.child_views_size() > 0) {
    j["child_views"] = OJson::array();
    for (const auto& v : r.child_views()) {
      OJson o = OJson::object();
      PutStr(o, "child_person_id", v.child_person_id());
      o["method"] = Word(v.method());
      PutStr(o, "words", v.words());
      if (v.has_recorded_on()) o["recorded_on"] = DateJson(v.recorded_on());
      if (v.has_recorded_by()) {
        o["recorded_by"] = PractitionerJson(v.recorded_by());
      }
      PutStr(o, "not_obtained_reason", v.not_obtained_reason());
      j["child_views"].push_back(std::move(o));
    }
  }
  if (r.has_early_help_history()) {
    const auto& h = r.early_help_history();
    OJson o = OJson::object();
    o["assessment_ids"] = OJson::array();
    for (const auto& a : h.assessment_ids()) o["assessment_ids"].push_back(a);
    o["plan_ids"] = OJson::array();
    for (const auto& a : h.plan_ids()) o["plan_ids"].push_back(a);
    o["taf_meetings_held"] = h.taf_meetings_held();
    if (h.has_started_on()) o["started_on"] = DateJson(h.started_on());
    PutStr(o, "summary", h.summary());
    j["early_help_history"] = std::move(o);
  }
  j["agencies_involved"] = OJson::array();
  for (const auto& a : r.agencies_involved())
    j["agencies_involved"].push_back(a);
  PutStr(j, "recontact_instructions", r.recontact_instructions());
  j["anonymity_requested"] = r.anonymity_requested();
  if (r.has_legal_basis()) {
    const auto& b = r.legal_basis();
    OJson o = OJson::object();
    o["kind"] = Word(b.kind());
    PutStr(o, "consent_id", b.consent_id());
    PutStr(o, "reason", b.reason());
    if (b.has_decided_by()) o["decided_by"] = PractitionerJson(b.decided_by());
    if (b.has_decided_at()) o["decided_at"] = FormatTimestamp(b.decided_at());
    j["legal_basis"] = std::move(o);
  }
  // Invalid UTF-8 in a string (never from a validated envelope) is replaced
  // rather than thrown on.
  return j.dump(2, ' ', false, OJson::error_handler_t::replace) + "\n";
}

bool RenderReferral(const ex::Delivery& delivery, RenderedReferral* out,
                    std::string* rule, std::string* error) {
  const Envelope& env = delivery.envelope();
  if (env.payload_case() != Envelope::kStepUpReferral ||
      env.event_type() != ex::EVENT_TYPE_STEP_UP_REFERRAL) {
    *rule = "not_step_up_referral";
    *error = "only step-up referrals are rendered for the front door";
    return false;
  }
  if (env.message_id().empty()) {
    *rule = "required";
    *error = "envelope.message_id is required";
    return false;
  }
  const cv1::StepUpReferral& r = env.step_up_referral();
  if (r.referral_id().empty()) {
    *rule = "required";
    *error = "step_up_referral.referral_id is required";
    return false;
  }
  out->json = ReferralJson(env);
  out->file_name = "referral-" + SafeName(r.referral_id()).substr(0, 64) + "-" +
                   StableHash({env.message_id()}).substr(0, 12) + ".json";
  LinkEntry& l = out->link;
  l = LinkEntry();
  l.referral_id = r.referral_id();
  l.message_id = env.message_id();
  l.correlation_id =
      env.correlation_id().empty() ? env.message_id() : env.correlation_id();
  l.case_ref = env.case_ref();
  if (r.has_referred_at()) {
    l.referred_on = LondonDate(r.referred_at());
  } else if (env.has_occurred_at()) {
    l.referred_on = LondonDate(env.occurred_at());
  } else if (env.has_accepted_at()) {
    l.referred_on = LondonDate(env.accepted_at());
  }
  for (const auto& c : r.children()) {
    for (auto& h : LinkableIdHashes(c)) l.id_hashes.push_back(std::move(h));
  }
  return true;
}

}  // namespace ehx::adapters::csc
