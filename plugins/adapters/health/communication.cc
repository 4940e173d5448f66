#include "communication.h"

#include <nlohmann/json.hpp>

#include "identifiers.h"
#include "mapping.h"
#include "uk_time.h"

namespace ehx::adapters::health {
namespace {

namespace cv1 = ::ehxpb::cases::v1;
namespace ex = ::ehxpb::exchange::v1;
using json = nlohmann::json;
using ehx::sdk::Code;
using ehx::sdk::Status;

std::string DateText(const cv1::Date& d) {
  if (d.year() == 0) return "";
  char out[16];
  std::snprintf(out, sizeof(out), "%04d-%02d-%02d", d.year(), d.month(),
                d.day());
  return out;
}

// FHIR references to the children by NHS number (never an INVALID one).
json Subjects(const google::protobuf::RepeatedPtrField<cv1::Person>& children) {
  json out = json::array();
  for (const auto& child : children) {
    for (const auto& id : child.identifiers()) {
      if (id.system() != kNhsNumberSystem ||
          id.verification() == cv1::VERIFICATION_STATUS_INVALID ||
          id.verification() == cv1::VERIFICATION_STATUS_TEMPORARY) {
        continue;
      }
      out.push_back({{"type", "Patient"},
                     {"identifier",
                      {{"system", std::string(kNhsNumberSystem)},
                       {"value", id.value()}}}});
      break;
    }
  }
  return out;
}

json Practitioner(const cv1::Practitioner& p) {
  json out = {{"display", p.name().empty() ? p.role() : p.name()}};
  if (!p.practitioner_id().empty()) {
    out["identifier"] = {
        {"system", "urn:ehx:id:agency:" + p.agency_id() + ":practitioner-id"},
        {"value", p.practitioner_id()}};
  }
  return out;
}

}  // namespace

Status RenderCommunication(const ex::Delivery& delivery,
                           ::ehxpb::adapter::v1::RenderResult* out) {
  const ex::Envelope& env = delivery.envelope();
  if (env.message_id().empty()) {
    return Status(Code::kInvalidArgument, "delivery without message_id");
  }
  json c = {{"resourceType", "Communication"},
            {"id", KeySafe(env.message_id(), 64)},
            {"meta",
             {{"profile",
               {"https://fhir.hl7.org.uk/StructureDefinition/"
                "UKCore-Communication"}}}},
            {"identifier",
             {{{"system", "urn:ehx:message-id"}, {"value", env.message_id()}}}},
            {"status", "completed"},
            {"about",
             {{{"identifier",
                {{"system", "urn:ehx:case-ref"}, {"value", env.case_ref()}}}}}},
            {"sender", {{"display", env.sender_agency()}}}};
  if (env.has_accepted_at()) {
    c["sent"] = FormatUtc(env.accepted_at().seconds());
  }
  std::string category;
  std::string text;
  json subjects;
  if (env.has_caf_notification()) {
    const cv1::CafNotification& n = env.caf_notification();
    category = "caf-notification";
    subjects = Subjects(n.children());
    text = "Early help assessment (CAF) notification for case " +
           env.case_ref() + ".";
    if (!n.lead_practitioner().name().empty()) {
      text += " Lead practitioner: " + n.lead_practitioner().name() + ".";
    }
    if (!n.level_of_need().label().empty()) {
      text += " Level of need: " + n.level_of_need().label() + ".";
    }
    if (!DateText(n.started_on()).empty()) {
      text += " Started " + DateText(n.started_on()) + ".";
    }
    if (n.has_lead_practitioner()) {
      c["recipient"] = json::array({Practitioner(n.lead_practitioner())});
    }
  } else if (env.has_step_down()) {
    const cv1::StepDown& s = env.step_down();
    category = "step-down";
    subjects = Subjects(s.children());
    text = "Step-down from children's social care to early help for case " +
           env.case_ref() + " (closure reason " +
           (s.closure_reason().empty() ? "not stated" : s.closure_reason()) +
           ").";
    if (!s.lead_practitioner().name().empty()) {
      text += " Early help lead practitioner: " + s.lead_practitioner().name() +
              ".";
    }
    if (!DateText(s.decided_on()).empty()) {
      text += " Decided " + DateText(s.decided_on()) + ".";
    }
    if (s.has_lead_practitioner()) {
      c["recipient"] = json::array({Practitioner(s.lead_practitioner())});
    }
  } else {
    return Status(Code::kFailedPrecondition,
                  "only CAF notifications and step-down notices are rendered "
                  "for health");
  }
  c["category"] =
      json::array({{{"coding",
                     {{{"system", "urn:ehx:code:communication-category"},
                       {"code", category}}}}}});
  if (!subjects.empty()) c["subject"] = subjects[0];
  c["payload"] = json::array({{{"contentString", text}}});
  out->set_file_name("Communication-" + KeySafe(env.message_id(), 64) +
                     ".json");
  out->set_media_type("application/fhir+json");
  out->set_content(c.dump(2, ' ', false, json::error_handler_t::replace) +
                   "\n");
  return Status();
}

}  // namespace ehx::adapters::health
