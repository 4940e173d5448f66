// Front door decision JSON (decision.schema.json) -> ReferralOutcome
// envelopes, correlated with the referral through the link index (or the
// ehx block echoed from the referral file). Parsed with nlohmann::json
// (Debian nlohmann-json3-dev), without exceptions.
#include <nlohmann/json.hpp>

#include "csc_ingest.h"
#include "csc_util.h"

namespace ehx::adapters::csc {
namespace {

namespace cv1 = ::ehxpb::cases::v1;
namespace ex = ::ehxpb::exchange::v1;
using Json = nlohmann::json;

constexpr size_t kMaxDecisions = 100000;

RecordError Err(std::string field, std::string rule, std::string message,
                bool flagged) {
  RecordError e;
  e.set_field(std::move(field));
  e.set_rule(std::move(rule));
  e.set_message(std::move(message));
  e.set_flagged_only(flagged);
  return e;
}

// A string member, or nullopt when absent / null; `wrong_type` when it is
// present but not a string.
std::optional<std::string> Str(const Json& j, const char* key,
                               bool* wrong_type) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    *wrong_type = true;
    return std::nullopt;
  }
  return it->get<std::string>();
}

bool DecisionCode(const std::string& s, cv1::ReferralDecision* out) {
  if (s == "no_further_action" || s == "nfa") {
    *out = cv1::REFERRAL_DECISION_NO_FURTHER_ACTION;
  } else if (s == "early_help") {
    *out = cv1::REFERRAL_DECISION_EARLY_HELP;
  } else if (s == "s17_assessment" || s == "child_and_family_assessment") {
    *out = cv1::REFERRAL_DECISION_S17_ASSESSMENT;
  } else if (s == "s47_enquiry" || s == "strategy_discussion") {
    *out = cv1::REFERRAL_DECISION_S47_ENQUIRY;
  } else if (s == "already_open") {
    *out = cv1::REFERRAL_DECISION_ALREADY_OPEN;
  } else {
    return false;
  }
  return true;
}

// Reads a date-time member; on failure adds the error (flagged or not) and
// returns false. Absent: returns false without error.
bool ReadTime(const Json& j, const char* key, google::protobuf::Timestamp* out,
              bool required, std::vector<RecordError>* errors) {
  bool wrong = false;
  auto s = Str(j, key, &wrong);
  if (!s) {
    if (wrong) {
      errors->push_back(Err(key, "type_string", "must be a string", !required));
    } else if (required) {
      errors->push_back(Err(key, "required", "required", false));
    }
    return false;
  }
  switch (ParseDateTime(*s, out)) {
    case TimeParse::kOk:
      return true;
    case TimeParse::kBadFormat:
      errors->push_back(Err(key, "datetime_invalid",
                            "not YYYY-MM-DDTHH:MM[:SS] with optional Z or "
                            "offset",
                            !required));
      return false;
    case TimeParse::kNonexistentLocal:
      errors->push_back(Err(key, "dst_nonexistent_local_time",
                            "this Europe/London local time does not exist "
                            "(clocks went forward); send it with an offset",
                            !required));
      return false;
    case TimeParse::kAmbiguousLocal:
      errors->push_back(Err(key, "dst_ambiguous_local_time",
                            "this Europe/London local time occurs twice "
                            "(clocks went back); send it with an offset",
                            !required));
      return false;
  }
  return false;
}

// {name, role, team, practitioner_id, agency_id, phone, email}
bool ReadPractitioner(const Json& j, const char* key, cv1::Practitioner* out,
                      std::vector<RecordError>* errors) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_object()) {
    errors->push_back(Err(key, "type_object", "must be an object", true));
    return false;
  }
  bool wrong = false;
  if (auto v = Str(*it, "name", &wrong)) out->set_name(*v);
  if (auto v = Str(*it, "role", &wrong)) out->set_role(*v);
  if (auto v = Str(*it, "team", &wrong)) out->set_team(*v);
  if (auto v = Str(*it, "practitioner_id", &wrong))
    out->set_practitioner_id(*v);
  if (auto v = Str(*it, "agency_id", &wrong)) out->set_agency_id(*v);
  if (auto v = Str(*it, "phone", &wrong); v && !v->empty()) {
    auto* c = out->add_contacts();
    c->set_kind(cv1::CONTACT_POINT_KIND_PHONE);
    c->set_value(*v);
  }
  if (auto v = Str(*it, "email", &wrong); v && !v->empty()) {
    auto* c = out->add_contacts();
    c->set_kind(cv1::CONTACT_POINT_KIND_EMAIL);
    c->set_value(*v);
  }
  if (wrong) {
    errors->push_back(
        Err(key, "type_string", "practitioner members must be strings", true));
  }
  return true;
}

void MapOne(const Json& d, const std::string& pos, const LinkIndex& index,
            MapResult* result) {
  MappedItem item;
  item.position = pos;
  std::vector<RecordError>& errs = item.errors;
  auto drop_if_fatal = [&]() {
    for (const auto& e : errs) {
      if (!e.flagged_only()) return true;
    }
    return false;
  };
  if (!d.is_object()) {
    errs.push_back(
        Err("", "type_object", "a decision must be an object", false));
    result->items.push_back(std::move(item));
    return;
  }
  bool wrong = false;
  auto referral_id = Str(d, "referral_id", &wrong);
  if (!referral_id || referral_id->empty()) {
    errs.push_back(Err("referral_id", wrong ? "type_string" : "required",
                       "the referral id answered is required", false));
  }
  wrong = false;
  auto decision = Str(d, "decision", &wrong);
  cv1::ReferralDecision code = cv1::REFERRAL_DECISION_UNSPECIFIED;
  if (!decision) {
    errs.push_back(Err("decision", wrong ? "type_string" : "required",
                       "the decision is required", false));
  } else if (!DecisionCode(*decision, &code)) {
    errs.push_back(Err("decision", "decision_code_unknown",
                       "not one of no_further_action, early_help, "
                       "s17_assessment, s47_enquiry, already_open",
                       false));
  }
  Envelope env;
  auto* o = env.mutable_referral_outcome();
  ReadTime(d, "decided_at", o->mutable_decided_at(), true, &errs);
  google::protobuf::Timestamp ack;
  if (ReadTime(d, "acknowledged_at", &ack, false, &errs)) {
    *o->mutable_acknowledged_at() = ack;
  }

  // Version (integer >= 1, default 1) and the front door's decision id.
  int64_t version = 1;
  auto vit = d.find("version");
  if (vit != d.end() && !vit->is_null()) {
    if (vit->is_number_integer() && vit->get<int64_t>() >= 1) {
      version = vit->get<int64_t>();
    } else {
      errs.push_back(
          Err("version", "version_invalid", "must be an integer >= 1", false));
    }
  }
  wrong = false;
  const std::string decision_id = Str(d, "decision_id", &wrong).value_or("");

  // Correlation: the link index, else the ehx block echoed back.
  std::string case_ref, correlation_id;
  if (referral_id && !referral_id->empty()) {
    if (auto link = index.ByReferralId(*referral_id)) {
      case_ref = link->case_ref;
      correlation_id = link->correlation_id;
    }
  }
  auto ehx = d.find("ehx");
  if ((case_ref.empty() || correlation_id.empty()) && ehx != d.end() &&
      ehx->is_object()) {
    bool w = false;
    if (case_ref.empty()) case_ref = Str(*ehx, "case_ref", &w).value_or("");
    if (correlation_id.empty()) {
      correlation_id = Str(*ehx, "correlation_id", &w).value_or("");
      if (correlation_id.empty()) {
        correlation_id = Str(*ehx, "message_id", &w).value_or("");
      }
    }
  }
  if (referral_id && !referral_id->empty() &&
      (case_ref.empty() || correlation_id.empty())) {
    errs.push_back(Err("referral_id", "referral_unknown",
                       "no referral with this id was sent by this adapter and "
                       "the file does not echo its ehx block",
                       false));
  }

  ReadPractitioner(d, "decided_by", o->mutable_decided_by(), &errs);
  ReadPractitioner(d, "allocated_to", o->mutable_allocated_to(), &errs);
  if (o->decided_by().ByteSizeLong() == 0) o->clear_decided_by();
  if (o->allocated_to().ByteSizeLong() == 0) o->clear_allocated_to();
  wrong = false;
  if (auto v = Str(d, "feedback", &wrong)) o->set_feedback(*v);
  if (auto v = Str(d, "next_steps", &wrong)) o->set_next_steps(*v);
  if (wrong) {
    errs.push_back(Err("feedback", "type_string",
                       "feedback and next_steps must be strings", true));
  }
  auto ep = d.find("cin_episode");
  if (ep != d.end() && ep->is_object()) {
    bool w = false;
    auto* link = o->mutable_cin_episode();
    if (auto v = Str(*ep, "episode_id", &w)) link->set_cin_episode_id(*v);
    if (auto v = Str(*ep, "la_child_id", &w)) {
      if (ValidLaChildId(*v)) {
        link->set_la_child_id(*v);
      } else {
        errs.push_back(Err("cin_episode.la_child_id", "la_child_id_format",
                           "must be 1-20 letters and digits: left out", true));
      }
    }
    if (auto v = Str(*ep, "referral_date", &w)) {
      if (auto date = ParseIsoDate(*v)) {
        *link->mutable_referral_date() = *date;
      } else {
        errs.push_back(Err("cin_episode.referral_date", "date_invalid",
                           "not a YYYY-MM-DD calendar date: left out", true));
      }
    }
  } else if (ep != d.end() && !ep->is_null()) {
    errs.push_back(
        Err("cin_episode", "type_object", "must be an object", true));
  }
  if (drop_if_fatal()) {
    result->items.push_back(std::move(item));
    return;
  }
  o->set_referral_id(*referral_id);
  o->set_decision(code);
  env.set_event_type(ex::EVENT_TYPE_REFERRAL_OUTCOME);
  env.set_case_ref(case_ref);
  env.set_correlation_id(correlation_id);
  *env.mutable_occurred_at() = o->decided_at();
  env.set_idempotency_key(
      "csc-dec-" +
      StableHash({decision_id.empty() ? *referral_id : decision_id,
                  decision_id.empty() ? "ref" : "dec"}) +
      "-v" + std::to_string(version));
  item.envelope = std::move(env);
  result->items.push_back(std::move(item));
}

}  // namespace

MapResult MapDecisions(std::string_view bytes, const CscConfig& config,
                       const LinkIndex& index) {
  (void)config;
  MapResult result;
  Json doc = Json::parse(bytes.begin(), bytes.end(), nullptr,
                         /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    result.input_rejected = true;
    result.input_error = "json_malformed: the decision file is not JSON";
    return result;
  }
  const Json* list = nullptr;
  if (doc.is_object() && doc.contains("decisions")) {
    list = &doc["decisions"];
    if (!list->is_array()) {
      result.input_rejected = true;
      result.input_error = "decision_file_shape: decisions must be an array";
      return result;
    }
    auto schema = doc.find("schema");
    if (schema != doc.end() &&
        (!schema->is_string() ||
         schema->get<std::string>().rfind("ehx-csc-decision/1", 0) != 0)) {
      result.input_rejected = true;
      result.input_error =
          "decision_file_schema: schema must be ehx-csc-decision/1";
      return result;
    }
  } else if (doc.is_array()) {
    list = &doc;
  }
  if (list == nullptr) {
    if (!doc.is_object()) {
      result.input_rejected = true;
      result.input_error =
          "decision_file_shape: expected an object or an array";
      return result;
    }
    MapOne(doc, "decision", index, &result);
    return result;
  }
  if (list->size() > kMaxDecisions) {
    result.input_rejected = true;
    result.input_error = "too_many_records: more than 100000 decisions";
    return result;
  }
  for (size_t i = 0; i < list->size(); ++i) {
    MapOne((*list)[i], "decisions[" + std::to_string(i) + "]", index, &result);
  }
  return result;
}

}  // namespace ehx::adapters::csc
