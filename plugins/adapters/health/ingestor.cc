#include "ingestor.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "identifiers.h"
#include "uk_time.h"

namespace ehx::adapters::health {
namespace {

namespace cv1 = ::ehxpb::cases::v1;
using ehx::sdk::Code;

constexpr char kUnverifiedNotApplied[] = "unverified_identifier_not_applied";
constexpr char kGatewayUnavailable[] = "gateway_unavailable";

void AddError(MappedRecord* rec, std::string rule, std::string field,
              std::string message, bool flagged) {
  RecordError e;
  e.set_position(rec->position);
  e.set_rule(std::move(rule));
  e.set_field(std::move(field));
  e.set_message(std::move(message));
  e.set_flagged_only(flagged);
  if (!flagged) rec->ok = false;
  rec->errors.push_back(std::move(e));
}

bool IsTransient(Code code) {
  switch (code) {
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
    case Code::kResourceExhausted:
    case Code::kAborted:
    case Code::kCancelled:
    case Code::kUnknown:
    case Code::kInternal:
      return true;
    default:
      return false;
  }
}

// The first NHS number that is not INVALID.
cv1::Identifier* ValidNhs(cv1::Person* p) {
  for (auto& id : *p->mutable_identifiers()) {
    if (id.system() == kNhsNumberSystem &&
        id.verification() != cv1::VERIFICATION_STATUS_INVALID) {
      return &id;
    }
  }
  return nullptr;
}

std::string StateKey(const MappedRecord& rec) {
  if (!rec.local_id.empty()) {
    return (rec.nhs_field.rfind("PID", 0) == 0 ? "pas:" : "fhir:") +
           rec.local_id;
  }
  cv1::Person copy = rec.envelope.person_update().person();
  const cv1::Identifier* nhs = ValidNhs(&copy);
  return nhs ? "nhs:" + nhs->value() : std::string();
}

// "PID-3[2]" -> {"PID", 3}; anything else -> {"MSH", 0}.
hl7::AckError AckErrorOf(const RecordError& e) {
  hl7::AckError out;
  out.rule = e.rule();
  const std::string& f = e.field();
  if (f.size() >= 3 && f.find('.') == std::string::npos) {
    out.segment = f.substr(0, 3);
    if (f.size() > 4 && f[3] == '-') {
      out.field = std::atoi(f.c_str() + 4);
    }
  } else {
    out.segment = "MSH";
  }
  const std::string& r = e.rule();
  if (r == "required") {
    out.code = 101;
  } else if (r == "hl7_unsupported_event") {
    out.code = 201;
  } else if (r == "hl7_unsupported_version") {
    out.code = 203;
  } else if (r == "case_ref_unresolved") {
    out.code = 204;
  } else if (r.rfind("nhs_", 0) == 0 || r.rfind("date", 0) == 0 ||
             r.rfind("dst_", 0) == 0 || r.rfind("upn_", 0) == 0 ||
             r.rfind("hl7_", 0) == 0) {
    out.code = 102;
  } else {
    out.code = 207;
  }
  return out;
}

void SetPosition(MappedRecord* rec, const std::string& position) {
  rec->position = position;
  for (auto& e : rec->errors) e.set_position(position);
}

}  // namespace

Ingestor::Ingestor(const HealthConfig& config, IdentityState* state,
                   PublishFn publish)
    : config_(config), state_(state), publish_(std::move(publish)) {
  if (!config_.agency_id().empty()) options_.agency_id = config_.agency_id();
  if (!config_.pv1_case_ref_prefix().empty()) {
    options_.pv1_case_ref_prefix = config_.pv1_case_ref_prefix();
  }
}

std::string Ingestor::NowHl7() const {
  const int64_t now = clock_ ? clock_() : static_cast<int64_t>(::time(nullptr));
  const std::string iso = FormatUtc(now);  // YYYY-MM-DDThh:mm:ssZ
  std::string out;
  for (char c : iso) {
    if (c >= '0' && c <= '9') out.push_back(c);
  }
  return out + "+0000";
}

bool Ingestor::ResolveCaseRef(MappedRecord* rec) {
  Envelope& env = rec->envelope;
  if (!env.case_ref().empty()) return true;
  const cv1::PersonUpdate& u = env.person_update();
  auto by_nhs = [&](const cv1::Identifier& id) {
    if (id.system() != kNhsNumberSystem ||
        id.verification() == cv1::VERIFICATION_STATUS_INVALID) {
      return false;
    }
    auto it = config_.case_ref_by_nhs_number().find(id.value());
    if (it == config_.case_ref_by_nhs_number().end()) return false;
    env.set_case_ref(it->second);
    return true;
  };
  for (const auto& id : u.person().identifiers()) {
    if (by_nhs(id)) return true;
  }
  if (!rec->local_id.empty()) {
    auto it = config_.case_ref_by_local_id().find(rec->local_id);
    if (it != config_.case_ref_by_local_id().end()) {
      env.set_case_ref(it->second);
      return true;
    }
  }
  for (const auto& id : u.superseded_identifiers()) {
    if (by_nhs(id)) return true;
  }
  AddError(rec, "case_ref_unresolved", "case_ref",
           "no case reference: not in the message (FHIR extension "
           "urn:ehx:fhir:extension:case-ref / PV1-19) nor in the configured "
           "mappings",
           false);
  return false;
}

void Ingestor::GuardIdentity(MappedRecord* rec) {
  if (state_ == nullptr) return;
  const std::string key = StateKey(*rec);
  IdentityState::Entry stored;
  if (key.empty() || !state_->Get(key, &stored) || !stored.verified) return;
  cv1::Person* person = rec->envelope.mutable_person_update()->mutable_person();
  cv1::Identifier* nhs = ValidNhs(person);
  if (nhs != nullptr &&
      nhs->verification() == cv1::VERIFICATION_STATUS_VERIFIED) {
    return;  // verified may replace verified
  }
  if (nhs == nullptr) nhs = person->add_identifiers();
  nhs->set_system(std::string(kNhsNumberSystem));
  nhs->set_value(stored.nhs_number);
  nhs->set_original_value(stored.nhs_number);
  nhs->set_verification(cv1::VERIFICATION_STATUS_VERIFIED);
  cv1::Code* sv = nhs->mutable_source_verification();
  sv->set_system(std::string(kNhsVerificationSystem));
  sv->set_code(stored.source_code);
  AddError(rec, kUnverifiedNotApplied, rec->nhs_field,
           "an unverified or missing NHS number does not replace the verified "
           "one published before; the verified identifier was kept",
           true);
}

void Ingestor::Remember(const MappedRecord& rec) {
  if (state_ == nullptr) return;
  const std::string key = StateKey(rec);
  if (key.empty()) return;
  cv1::Person copy = rec.envelope.person_update().person();
  const cv1::Identifier* nhs = ValidNhs(&copy);
  if (nhs == nullptr) return;
  IdentityState::Entry e;
  e.nhs_number = nhs->value();
  e.verified = nhs->verification() == cv1::VERIFICATION_STATUS_VERIFIED;
  e.source_code = nhs->source_verification().code();
  state_->Put(key, e);
}

Ingestor::Outcome Ingestor::Process(MappedRecord* rec, IngestReport* report) {
  report->set_records_total(report->records_total() + 1);
  Outcome outcome = Outcome::kDropped;
  if (rec->ok && ResolveCaseRef(rec)) {
    GuardIdentity(rec);
    ehx::sdk::PublishResult r = publish_(rec->envelope);
    if (r.status.ok()) {
      outcome = Outcome::kPublished;
      report->add_published(r.receipt.message_id().empty()
                                ? rec->envelope.idempotency_key()
                                : r.receipt.message_id());
      Remember(*rec);
    } else if (IsTransient(r.status.code())) {
      outcome = Outcome::kTransient;
      AddError(rec, kGatewayUnavailable, "",
               std::string("the gateway could not take the record now (") +
                   ehx::sdk::CodeName(r.status.code()) + "); send it again",
               false);
    } else if (r.status.violations().empty()) {
      std::string rule = "publish_refused_";
      for (const char* p = ehx::sdk::CodeName(r.status.code()); *p; ++p) {
        rule.push_back(static_cast<char>(std::tolower(*p)));
      }
      AddError(rec, rule, "", "refused by the gateway", false);
    } else {
      for (const auto& v : r.status.violations()) {
        const size_t colon = v.description.find(": ");
        const std::string rule = colon == std::string::npos
                                     ? std::string("publish_refused")
                                     : v.description.substr(0, colon);
        AddError(
            rec, rule, v.field,
            "refused by the gateway: " +
                (colon == std::string::npos ? v.description
                                            : v.description.substr(colon + 2)),
            false);
      }
    }
  }
  if (outcome == Outcome::kPublished) {
    report->set_records_published(report->records_published() + 1);
  } else {
    report->set_records_failed(report->records_failed() + 1);
  }
  for (const auto& e : rec->errors) *report->add_errors() = e;
  return outcome;
}

void Ingestor::IngestHl7Locked(std::string_view message,
                               const std::string& position,
                               IngestReport* report, std::string* ack) {
  hl7::Message m;
  hl7::ParseError pe;
  const std::string now = NowHl7();
  const std::string ack_id =
      "ACK" + now.substr(0, 14) + "-" + std::to_string(++ack_counter_);
  if (!m.Parse(message, &pe)) {
    report->set_records_total(report->records_total() + 1);
    report->set_records_failed(report->records_failed() + 1);
    RecordError* e = report->add_errors();
    e->set_position(position.empty() ? "message" : position);
    e->set_rule(pe.rule);
    e->set_field("MSH");
    e->set_message(pe.message);
    if (ack != nullptr) {
      *ack = hl7::BuildAck(nullptr, "AR", pe.rule,
                           {{"MSH", 1, 0, 102, pe.rule}}, now, ack_id);
    }
    return;
  }
  MappedRecord rec = MapHl7(m, options_);
  if (!position.empty())
    SetPosition(&rec, position + " (" + rec.position + ")");
  const Outcome outcome = Process(&rec, report);
  if (ack == nullptr) return;
  std::vector<hl7::AckError> errors;
  bool structural = false;
  for (const auto& e : rec.errors) {
    errors.push_back(AckErrorOf(e));
    if (!e.flagged_only() && e.rule().rfind("hl7_", 0) == 0) structural = true;
  }
  const char* code = "AA";
  std::string text = "accepted";
  if (outcome == Outcome::kTransient) {
    code = "AR";
    text = kGatewayUnavailable;
  } else if (outcome == Outcome::kDropped) {
    code = structural ? "AR" : "AE";
    text = "not accepted";
    for (const auto& e : rec.errors) {
      if (!e.flagged_only()) {
        text = e.rule();
        break;
      }
    }
  }
  *ack = hl7::BuildAck(&m, code, text, errors, now, ack_id);
}

std::string Ingestor::IngestHl7Message(std::string_view message,
                                       IngestReport* report) {
  std::lock_guard<std::mutex> lock(mu_);
  IngestReport local;
  IngestReport* r = report ? report : &local;
  std::string ack;
  IngestHl7Locked(message, "", r, &ack);
  return ack;
}

IngestReport Ingestor::Ingest(const std::string& input_name,
                              std::string_view bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  IngestReport report;
  report.set_input_name(input_name);
  std::string_view s = bytes;
  if (s.size() >= 3 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' ||
                        s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  if (!s.empty() && s.front() == '{') {
    std::vector<MappedRecord> records;
    std::string error;
    if (!MapFhir(s, options_, &records, &error)) {
      report.set_input_rejected(true);
      report.set_input_error(error);
      return report;
    }
    for (MappedRecord& rec : records) Process(&rec, &report);
    return report;
  }
  std::vector<std::string> messages;
  if (!s.empty() && s.front() == hl7::kMllpStart) {
    hl7::MllpDeframer deframer(s.size() + 1);
    deframer.Feed(s, &messages);
  } else if (s.size() >= 4 && s.substr(0, 3) == "MSH") {
    // Several messages: each starts with "MSH<field sep>" at a line start.
    const std::string start = std::string("MSH") + s[3];
    size_t begin = 0;
    while (begin < s.size()) {
      size_t next = std::string_view::npos;
      for (size_t p = s.find(start, begin + 1); p != std::string_view::npos;
           p = s.find(start, p + 1)) {
        if (s[p - 1] == '\r' || s[p - 1] == '\n') {
          next = p;
          break;
        }
      }
      messages.emplace_back(s.substr(begin, next == std::string_view::npos
                                                ? s.size() - begin
                                                : next - begin));
      begin = next;
    }
  }
  if (messages.empty()) {
    report.set_input_rejected(true);
    report.set_input_error(
        "input_unrecognised: neither FHIR JSON nor HL7 v2 (MSH or MLLP)");
    return report;
  }
  // A file none of whose messages parses is rejected as a whole.
  bool any_parses = false;
  std::string first_error;
  for (const std::string& msg : messages) {
    hl7::Message m;
    hl7::ParseError pe;
    if (m.Parse(msg, &pe)) {
      any_parses = true;
      break;
    }
    if (first_error.empty()) first_error = pe.rule + ": " + pe.message;
  }
  if (!any_parses) {
    report.set_input_rejected(true);
    report.set_input_error(first_error);
    return report;
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    IngestHl7Locked(messages[i], "message " + std::to_string(i + 1), &report,
                    nullptr);
  }
  return report;
}

Ingestor::HttpAnswer Ingestor::IngestFhirHttp(std::string_view body) {
  HttpAnswer answer;
  std::string_view s = body;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' ||
                        s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  if (s.empty() || s.front() != '{') {
    IngestReport r;
    r.set_input_rejected(true);
    r.set_input_error("json_malformed: the body is not a JSON object");
    answer.status = 400;
    answer.body = OperationOutcomeJson(r, "");
    return answer;
  }
  const IngestReport r = Ingest("http", s);
  bool transient = false;
  for (const auto& e : r.errors()) {
    if (e.rule() == kGatewayUnavailable) transient = true;
  }
  answer.status = r.input_rejected()       ? 400
                  : transient              ? 503
                  : r.records_failed() > 0 ? 422
                                           : 200;
  answer.body = OperationOutcomeJson(
      r, "published " + std::to_string(r.records_published()) + " of " +
             std::to_string(r.records_total()) + " records");
  return answer;
}

std::string OperationOutcomeJson(const IngestReport& report,
                                 std::string_view summary) {
  using json = nlohmann::json;
  json oo = {{"resourceType", "OperationOutcome"}, {"issue", json::array()}};
  if (report.input_rejected()) {
    oo["issue"].push_back({{"severity", "error"},
                           {"code", "structure"},
                           {"diagnostics", report.input_error()}});
  } else {
    oo["issue"].push_back({{"severity", "information"},
                           {"code", "informational"},
                           {"diagnostics", std::string(summary)}});
  }
  for (const auto& e : report.errors()) {
    std::string code = "invalid";
    if (e.rule() == "required") code = "required";
    if (e.rule() == kGatewayUnavailable) code = "transient";
    if (e.rule() == "case_ref_unresolved") code = "not-found";
    if (e.rule() == kUnverifiedNotApplied) code = "business-rule";
    json issue = {{"severity", e.flagged_only() ? "warning" : "error"},
                  {"code", code},
                  {"diagnostics", e.rule() + ": " + e.message()}};
    std::vector<std::string> where;
    if (!e.field().empty()) where.push_back(e.field());
    if (where.empty() && !e.position().empty()) where.push_back(e.position());
    if (!where.empty()) issue["expression"] = where;
    oo["issue"].push_back(std::move(issue));
  }
  return oo.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace ehx::adapters::health
