#include "raise_import.h"

#include <cstdio>
#include <utility>

#include "raise_export.h"
#include "raise_json.h"
#include "raise_values.h"

namespace ehx::adapters::raise {
namespace {

namespace cv1 = ::ehxpb::cases::v1;
namespace ex = ::ehxpb::exchange::v1;

std::string DateText(const cv1::Date& d) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", d.year(), d.month(),
                d.day());
  return buf;
}

bool HasDate(const cv1::Date& d) { return d.year() != 0; }

std::string TimeText(const google::protobuf::Timestamp& t) {
  return FormatUtc({t.seconds(), t.nanos()});
}

// Raise person shape from an ehx Person; `id` is the Raise personId used.
Json PersonJson(const cv1::Person& p, std::string* id) {
  Json j;
  std::string raise_id;
  Json external = Json::array();
  const std::string ehx_uuid = UuidFrom("person:" + p.person_id());
  for (const auto& ident : p.identifiers()) {
    if (ident.system().size() > 20 &&
        ident.system().compare(ident.system().size() - 16, 16,
                               ":raise-person-id") == 0) {
      raise_id = ident.value();
    }
  }
  if (raise_id.empty()) {
    raise_id = "ehx-" + ehx_uuid;
    external.push_back({{"system", "ehx"}, {"value", ehx_uuid}});
  }
  *id = raise_id;
  j["personId"] = raise_id;
  Json given = Json::array();
  if (!p.legal_name().given().empty()) given.push_back(p.legal_name().given());
  for (const auto& o : p.legal_name().other()) given.push_back(o);
  j["legalName"] = {{"given", given}, {"family", p.legal_name().family()}};
  if (HasDate(p.date_of_birth())) {
    j["dateOfBirth"] = DateText(p.date_of_birth());
  } else if (p.unborn() && HasDate(p.expected_date_of_delivery())) {
    j["expectedDateOfDelivery"] = DateText(p.expected_date_of_delivery());
  }
  const std::string& sex = p.sex().code();
  if (sex == "M" || sex == "F" || sex == "U") j["sex"] = sex;
  for (const auto& ident : p.identifiers()) {
    // Never an identifier known to be invalid (contract 3.5).
    if (ident.verification() == cv1::VERIFICATION_STATUS_INVALID) continue;
    if (ident.system() == "https://fhir.nhs.uk/Id/nhs-number" ||
        ident.system() == "http://fhir.nhs.net/Id/nhs-number") {
      std::string norm;
      const auto r = CheckNhsNumber(ident.value(), &norm);
      if (r != NhsNumberResult::kValid && r != NhsNumberResult::kReformatted) {
        continue;
      }
      j["nhsNumber"] = norm;
      if (ident.verification() == cv1::VERIFICATION_STATUS_VERIFIED) {
        j["nhsNumberVerificationStatus"] = "01";
      } else if (!ident.source_verification().code().empty()) {
        j["nhsNumberVerificationStatus"] = ident.source_verification().code();
      }
    } else if (ident.system() == "urn:ehx:id:upn") {
      const UpnResult u = CheckUpn(ident.value());
      if (!u.valid) continue;
      j["upn"] = u.normalised;
      j["upnIsTemporary"] = u.temporary;
    } else if (ident.system() == "urn:ehx:id:la-child-id" &&
               IsLaChildId(ident.value())) {
      external.push_back(
          {{"system", "core-assessment-csc"}, {"value", ident.value()}});
    }
  }
  if (!external.empty()) j["externalIds"] = external;
  return j;
}

Json StaffJson(const cv1::Practitioner& p, const std::string& seed,
               std::string* id) {
  *id = "ehx-" + UuidFrom("staff:" + seed + ":" + p.name());
  Json j = {{"staffId", *id}, {"name", p.name()}};
  if (!p.role().empty()) j["role"] = p.role();
  if (!p.team().empty()) j["service"] = p.team();
  for (const auto& c : p.contacts()) {
    if (c.kind() == cv1::CONTACT_POINT_KIND_PHONE && !j.contains("phone")) {
      j["phone"] = c.value();
    } else if ((c.kind() == cv1::CONTACT_POINT_KIND_EMAIL ||
                c.kind() == cv1::CONTACT_POINT_KIND_SECURE_EMAIL) &&
               !j.contains("email")) {
      j["email"] = c.value();
    }
  }
  return j;
}

std::string DecisionCode(cv1::ReferralDecision d) {
  switch (d) {
    case cv1::REFERRAL_DECISION_S17_ASSESSMENT:
      return "accepted_for_child_and_family_assessment";
    case cv1::REFERRAL_DECISION_S47_ENQUIRY:
      return "accepted_for_strategy_discussion";
    case cv1::REFERRAL_DECISION_EARLY_HELP:
      return "return_to_early_help";
    case cv1::REFERRAL_DECISION_NO_FURTHER_ACTION:
      return "no_further_action";
    case cv1::REFERRAL_DECISION_ALREADY_OPEN:
      return "accepted_for_child_and_family_assessment";
    default:
      return "";
  }
}

std::string CompactUtc(const google::protobuf::Timestamp& t) {
  std::string s = FormatUtc({t.seconds(), 0});  // 2026-04-02T09:30:12Z
  std::string out;
  for (char c : s) {
    if (c != '-' && c != ':') out.push_back(c);
  }
  return out;  // 20260402T093012Z
}

}  // namespace

std::string UuidFrom(const std::string& seed) {
  std::string h = Sha256Hex(seed).substr(0, 32);
  h[12] = '5';
  static constexpr char kVariant[] = "89ab";
  h[16] = kVariant[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
         h.substr(16, 4) + "-" + h.substr(20, 12);
}

ImportRender RenderImport(const ex::Delivery& delivery,
                          const ImportOptions& options) {
  ImportRender out;
  const ex::Envelope& env = delivery.envelope();
  if (env.message_id().empty()) {
    out.skip_reason = "missing_message_id";
    return out;
  }
  const std::string item_id = UuidFrom("item:" + env.message_id());
  Json item = {{"itemId", item_id},
               {"occurredAt", TimeText(env.occurred_at())},
               {"sourceAgency",
                {{"code", env.sender_agency().empty() ? std::string("unknown")
                                                      : env.sender_agency()}}}};
  if (!env.correlation_id().empty()) {
    item["correlationId"] = env.correlation_id();
  } else {
    item["correlationId"] = env.message_id();
  }
  Json people = Json::array();
  Json staff = Json::array();
  switch (env.payload_case()) {
    case ex::Envelope::kStepDown: {
      const cv1::StepDown& sd = env.step_down();
      item["type"] = "step_down";
      if (!sd.early_help_case_id().empty()) {
        item["caseId"] = sd.early_help_case_id();
      }
      Json origin = {{"type", "step_down_from_csc"},
                     {"cscSystem", env.sender_agency()}};
      const cv1::CinEpisodeLink& ep = sd.cin_episode();
      if (!ep.la_child_id().empty() && IsLaChildId(ep.la_child_id())) {
        origin["laChildId"] = ep.la_child_id();
      }
      if (HasDate(ep.closure_date())) {
        origin["cinClosureDate"] = DateText(ep.closure_date());
      }
      origin["reasonForClosureCode"] = !sd.closure_reason().empty()
                                           ? sd.closure_reason()
                                       : !ep.reason_for_closure().code().empty()
                                           ? ep.reason_for_closure().code()
                                           : "RC9";
      Json handover = Json::object();
      if (HasDate(sd.handover().handover_on())) {
        handover["jointVisitDate"] = DateText(sd.handover().handover_on());
      }
      if (!sd.social_worker().name().empty()) {
        std::string sid;
        staff.push_back(StaffJson(sd.social_worker(), env.message_id(), &sid));
        handover["socialWorker"] = sid;
      }
      if (!handover.empty()) origin["handover"] = handover;
      Json focus = Json::array();
      Json members = Json::array();
      for (const auto& child : sd.children()) {
        std::string pid;
        people.push_back(PersonJson(child, &pid));
        focus.push_back(pid);
        members.push_back({{"personId", pid}, {"role", "child"}});
      }
      if (focus.empty()) {
        out.skip_reason = "step_down_without_children";
        return out;
      }
      Json payload = {{"origin", origin},
                      {"childrenOfFocus", focus},
                      {"familyMembers", members}};
      if (!sd.closure_summary().empty())
        payload["summary"] = sd.closure_summary();
      item["stepDown"] = payload;
      break;
    }
    case ex::Envelope::kReferralOutcome: {
      const cv1::ReferralOutcome& ro = env.referral_outcome();
      item["type"] = "referral_outcome";
      if (env.case_ref().empty() || ro.referral_id().empty()) {
        out.skip_reason = "missing_case_or_referral";
        return out;
      }
      const std::string decision = DecisionCode(ro.decision());
      if (decision.empty()) {
        out.skip_reason = "decision_not_mappable";
        return out;
      }
      item["caseId"] = env.case_ref();
      Json outcome = {{"decisionAt", TimeText(ro.decided_at())},
                      {"decision", decision}};
      const cv1::CinEpisodeLink& ep = ro.cin_episode();
      if (IsLaChildId(ep.la_child_id()))
        outcome["cscReference"] = ep.la_child_id();
      if (HasDate(ep.referral_date())) {
        outcome["cinReferralDate"] = DateText(ep.referral_date());
      }
      if (!ep.referral_source().code().empty()) {
        outcome["referralSourceCodeRecorded"] = ep.referral_source().code();
      }
      if (ro.has_acknowledged_at()) {
        outcome["feedbackToReferrerAt"] = TimeText(ro.acknowledged_at());
      }
      item["referralOutcome"] = {{"referralId", ro.referral_id()},
                                 {"outcome", outcome}};
      break;
    }
    case ex::Envelope::kDocument: {
      const cv1::DocumentRef& d = env.document();
      item["type"] = "document_attached";
      const std::string case_id =
          !d.case_id().empty() ? d.case_id() : env.case_ref();
      if (case_id.empty() || d.content_sha256().size() != 64 ||
          d.media_type().empty()) {
        out.skip_reason = "document_incomplete";
        return out;
      }
      item["caseId"] = case_id;
      Json doc = {
          {"documentId", "ehx-doc-" + UuidFrom("doc:" + d.document_id())},
          {"source", "imported"},
          {"mimeType", d.media_type()},
          {"sha256", d.content_sha256()},
          {"linkedTo", Json::array()}};
      if (!d.title().empty()) doc["title"] = d.title();
      if (d.page_count() > 0) doc["pages"] = d.page_count();
      if (d.has_captured_at()) doc["createdAt"] = TimeText(d.captured_at());
      const char* ocr =
          d.ocr_status() == cv1::OCR_STATUS_COMPLETED ? "completed"
          : d.ocr_status() == cv1::OCR_STATUS_FAILED  ? nullptr
          : d.ocr_status() == cv1::OCR_STATUS_PENDING ? "pending"
                                                      : "not_required";
      if (ocr != nullptr) doc["ocr"] = {{"status", ocr}};
      item["documentAttached"] = {{"document", doc}};
      break;
    }
    default:
      out.skip_reason = "not_for_raise";
      return out;
  }
  const google::protobuf::Timestamp& written =
      env.has_accepted_at() ? env.accepted_at() : env.occurred_at();
  Json file = {{"import",
                {{"importSchema", "raise-eh-case-import"},
                 {"importSchemaVersion", "0.9"},
                 {"createdAt", TimeText(written)},
                 {"producedBy", "ehx-gateway/" + options.producer_version},
                 {"localAuthority", {{"laCode", options.la_code}}},
                 {"itemCount", 1}}},
               {"people", people},
               {"staff", staff},
               {"items", Json::array({item})}};
  out.item_id = item_id;
  out.file_name = "raise-import-" + CompactUtc(written) + "-" +
                  Sha256Hex("batch:" + env.message_id()).substr(0, 8) + ".json";
  out.content = file.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  return out;
}

}  // namespace ehx::adapters::raise
