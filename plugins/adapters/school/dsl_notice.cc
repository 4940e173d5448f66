#include "dsl_notice.h"

#include <time.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace ehx::adapters::school {
namespace {

namespace cases = ::ehxpb::cases::v1;
namespace exchange = ::ehxpb::exchange::v1;
using Json = nlohmann::ordered_json;

std::string DateText(const cases::Date& d) {
  if (d.year() == 0) return {};
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", d.year(), d.month(),
                d.day());
  return buf;
}

// RFC 3339 UTC, seconds precision.
std::string TimeText(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf;
}

std::string CompactTime(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d%02d%02dT%02d%02d%02dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf;
}

std::string SafeName(const std::string& s) {
  std::string out = s.substr(0, 80);
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) c = '_';
  }
  return out;
}

void PutIf(Json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

Json Practitioner(const cases::Practitioner& p, bool with_contacts) {
  Json j = Json::object();
  PutIf(j, "name", p.name());
  PutIf(j, "role", p.role());
  PutIf(j, "agency", p.agency_id());
  PutIf(j, "team", p.team());
  if (with_contacts) {
    for (const cases::ContactPoint& c : p.contacts()) {
      const char* key =
          c.kind() == cases::CONTACT_POINT_KIND_PHONE ? "phone"
          : c.kind() == cases::CONTACT_POINT_KIND_EMAIL ||
                  c.kind() == cases::CONTACT_POINT_KIND_SECURE_EMAIL
              ? "email"
              : nullptr;
      if (key != nullptr && !j.contains(key)) j[key] = c.value();
    }
  }
  return j;
}

// Name, date of birth, and the UPN (the school's own key): nothing else.
Json Child(const cases::Person& p) {
  Json j = Json::object();
  std::string name = p.legal_name().given();
  if (!p.legal_name().family().empty()) {
    if (!name.empty()) name += " ";
    name += p.legal_name().family();
  }
  if (name.empty()) name = p.legal_name().text();
  PutIf(j, "name", name);
  if (p.has_preferred_name() && !p.preferred_name().given().empty() &&
      p.preferred_name().given() != p.legal_name().given()) {
    j["known_as"] = p.preferred_name().given();
  }
  PutIf(j, "date_of_birth", DateText(p.date_of_birth()));
  for (const cases::Identifier& id : p.identifiers()) {
    if (id.system() != "urn:ehx:id:upn") continue;
    if (id.verification() == cases::VERIFICATION_STATUS_INVALID) continue;
    j["upn"] = id.value();
    if (id.verification() == cases::VERIFICATION_STATUS_TEMPORARY) {
      j["upn_temporary"] = true;
    }
    break;
  }
  return j;
}

Json LevelOfNeed(const cases::LevelOfNeed& l) {
  Json j = Json::object();
  PutIf(j, "level", l.level());
  PutIf(j, "label", l.label());
  PutIf(j, "scheme", l.scheme());
  return j;
}

const char* KindText(cases::AssessmentKind k) {
  switch (k) {
    case cases::ASSESSMENT_KIND_ASSESSMENT:
      return "assessment";
    case cases::ASSESSMENT_KIND_REQUEST_FOR_SERVICE:
      return "request for service";
    case cases::ASSESSMENT_KIND_REVIEW:
      return "review";
    default:
      return "";
  }
}

const char* StatusText(cases::AssessmentStatus s) {
  switch (s) {
    case cases::ASSESSMENT_STATUS_IN_PROGRESS:
      return "in progress";
    case cases::ASSESSMENT_STATUS_COMPLETED:
      return "completed";
    case cases::ASSESSMENT_STATUS_CANCELLED:
      return "cancelled";
    default:
      return "";
  }
}

const char* TafKindText(int k) {
  switch (k) {
    case 1:
      return "initial";
    case 2:
      return "review";
    case 3:
      return "transition";
    case 4:
      return "closing";
    default:
      return "";
  }
}

const char* ReviewOutcomeText(int o) {
  switch (o) {
    case 1:
      return "positive change";
    case 2:
      return "no change";
    case 3:
      return "escalation";
    case 4:
      return "close";
    default:
      return "";
  }
}

const char* YesNoText(cases::YesNoUnknown v) {
  switch (v) {
    case cases::YES_NO_UNKNOWN_YES:
      return "yes";
    case cases::YES_NO_UNKNOWN_NO:
      return "no";
    case cases::YES_NO_UNKNOWN_UNKNOWN:
      return "unknown";
    default:
      return "";
  }
}

}  // namespace

bool IsDslEvent(const exchange::Envelope& e) {
  return e.event_type() == exchange::EVENT_TYPE_CAF_NOTIFICATION ||
         e.event_type() == exchange::EVENT_TYPE_TAF_MEETING;
}

bool RenderDslNotice(const exchange::Delivery& delivery,
                     ::ehxpb::adapter::v1::RenderResult* out,
                     std::string* reason) {
  const exchange::Envelope& e = delivery.envelope();
  if (!IsDslEvent(e)) {
    *reason = "unsupported_event_type";
    return false;
  }
  if (e.message_id().empty()) {
    *reason = "missing_message_id";
    return false;
  }
  Json j = Json::object();
  std::string suffix;
  if (e.event_type() == exchange::EVENT_TYPE_CAF_NOTIFICATION) {
    if (!e.has_caf_notification()) {
      *reason = "payload_missing";
      return false;
    }
    const cases::CafNotification& c = e.caf_notification();
    suffix = "caf";
    j["notice"] = "Early help assessment (CAF/EHA) notification";
    j["for"] = "Designated safeguarding lead";
    j["case_ref"] = e.case_ref();
    j["message_id"] = e.message_id();
    PutIf(j, "from_agency", e.sender_agency());
    if (e.has_accepted_at()) j["sent_at"] = TimeText(e.accepted_at().seconds());
    Json a = Json::object();
    PutIf(a, "id", c.assessment_id());
    PutIf(a, "kind", KindText(c.kind()));
    PutIf(a, "status", StatusText(c.status()));
    PutIf(a, "started_on", DateText(c.started_on()));
    PutIf(a, "completed_on", DateText(c.completed_on()));
    j["assessment"] = a;
    if (c.has_level_of_need())
      j["level_of_need"] = LevelOfNeed(c.level_of_need());
    if (c.has_lead_practitioner()) {
      j["lead_practitioner"] = Practitioner(c.lead_practitioner(), true);
    }
    Json children = Json::array();
    for (const cases::Person& p : c.children()) children.push_back(Child(p));
    j["children"] = children;
    Json agencies = Json::array();
    for (const std::string& a2 : c.agencies_involved()) agencies.push_back(a2);
    j["agencies_involved"] = agencies;
    PutIf(j, "consent_id", c.consent_id());
  } else {
    if (!e.has_taf_meeting()) {
      *reason = "payload_missing";
      return false;
    }
    const auto& m = e.taf_meeting();
    suffix = "taf";
    j["notice"] = "Team Around the Family (TAF) meeting";
    j["for"] = "Designated safeguarding lead";
    j["case_ref"] = e.case_ref();
    j["message_id"] = e.message_id();
    PutIf(j, "from_agency", e.sender_agency());
    if (e.has_accepted_at()) j["sent_at"] = TimeText(e.accepted_at().seconds());
    Json mt = Json::object();
    PutIf(mt, "id", m.meeting_id());
    PutIf(mt, "kind", TafKindText(m.kind()));
    if (m.has_held_at()) mt["held_at"] = TimeText(m.held_at().seconds());
    PutIf(mt, "venue", m.venue());
    if (m.has_chair()) mt["chair"] = Practitioner(m.chair(), true);
    PutIf(mt, "child_attended", YesNoText(m.child_attended()));
    PutIf(mt, "review_outcome", ReviewOutcomeText(m.review_outcome()));
    PutIf(mt, "plan_id", m.plan_id());
    PutIf(mt, "next_meeting_on", DateText(m.next_meeting_on()));
    j["meeting"] = mt;
    Json attendees = Json::array();
    for (const auto& at : m.attendees()) {
      if (!at.has_practitioner()) continue;  // family members: not listed
      Json x = Practitioner(at.practitioner(), false);
      static const char* kStatus[] = {"", "present", "apologies", "absent",
                                      "not invited"};
      const int s = static_cast<int>(at.status());
      if (s > 0 && s < 5) x["attendance"] = kStatus[s];
      attendees.push_back(x);
    }
    j["professionals"] = attendees;
  }
  out->set_file_name(CompactTime(e.accepted_at().seconds()) + "-" +
                     SafeName(e.message_id()) + "-" + suffix + ".json");
  out->set_media_type("application/json");
  out->set_content(j.dump(2, ' ', false, Json::error_handler_t::replace) +
                   "\n");
  return true;
}

}  // namespace ehx::adapters::school
