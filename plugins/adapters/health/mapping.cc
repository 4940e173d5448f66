#include "mapping.h"

#include <cstdio>

#include "ehx_sdk/arena_json.h"
#include "identifiers.h"
#include "uk_time.h"

namespace ehx::adapters::health {
namespace {

namespace cv1 = ::ehxpb::cases::v1;
namespace ex = ::ehxpb::exchange::v1;
// The FHIR body is parsed into an arena tree (ehx_sdk/arena_json.h): one
// walk, then the whole tree is dropped at once.
using json = ::ehx::sdk::ArenaJson;

constexpr int kMaxJsonDepth = 64;
constexpr std::string_view kAdminGender =
    "http://hl7.org/fhir/administrative-gender";
constexpr std::string_view kHl7Sex =
    "http://terminology.hl7.org/CodeSystem/v2-0001";
constexpr std::string_view kEthnicCategory =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland";

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

void SetDate(const TimeValue& t, cv1::Date* d) {
  d->set_year(t.year);
  d->set_month(t.month);
  d->set_day(t.day);
}

// Builds an NHS number identifier from its raw value and the verification
// code ("01".."08", "" when unknown). Invalid numbers are kept as raw text
// with verification INVALID and a flagged error.
void AddNhsNumber(MappedRecord* rec, cv1::Person* person, std::string_view raw,
                  std::string_view code, std::string_view original_code,
                  std::string_view field, std::string_view field_suffix = {}) {
  cv1::Identifier* id = person->add_identifiers();
  id->set_system(std::string(kNhsNumberSystem));
  id->set_value(NormaliseNhsNumber(raw));
  const std::string& value = id->value();
  id->set_original_value(raw.data(), raw.size());
  if (!code.empty()) {
    cv1::Code* sv = id->mutable_source_verification();
    sv->set_system(std::string(kNhsVerificationSystem));
    sv->set_code(code.data(), code.size());
    sv->set_original_value(original_code.data(), original_code.size());
  }
  const NhsNumberCheck check = CheckNhsNumber(value);
  if (check != NhsNumberCheck::kValid) {
    id->set_verification(cv1::VERIFICATION_STATUS_INVALID);
    const char* text =
        "the NHS number is not valid; kept as raw text "
        "(verification INVALID)";
    if (check == NhsNumberCheck::kImpossibleStem) {
      text =
          "the NHS number stem can have no valid check digit (Modulus 11 "
          "gives 10); kept as raw text (verification INVALID)";
    } else if (check == NhsNumberCheck::kBadCheckDigit) {
      text =
          "the NHS number fails the Modulus 11 check digit; kept as raw "
          "text (verification INVALID)";
    }
    std::string where(field);
    where.append(field_suffix);
    AddError(rec, NhsRule(check), std::move(where), text, true);
    return;
  }
  id->set_verification(code == "01" ? cv1::VERIFICATION_STATUS_VERIFIED
                                    : cv1::VERIFICATION_STATUS_UNVERIFIED);
}

// A UPN identifier (rare in health feeds, accepted when sent).
void AddUpn(MappedRecord* rec, cv1::Person* person, std::string_view raw,
            const std::string& field) {
  cv1::Identifier* id = person->add_identifiers();
  std::string value;
  for (char c : raw) {
    if (c == ' ') continue;
    value.push_back(
        static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  id->set_system(std::string(kUpnSystem));
  id->set_value(value);
  id->set_original_value(std::string(raw));
  switch (CheckUpn(value)) {
    case UpnCheck::kValidPermanent:
      id->set_verification(cv1::VERIFICATION_STATUS_UNVERIFIED);
      break;
    case UpnCheck::kValidTemporary:
      id->set_verification(cv1::VERIFICATION_STATUS_TEMPORARY);
      AddError(rec, "upn_temporary", field,
               "a temporary UPN: flagged TEMPORARY, never a merge key", true);
      break;
    case UpnCheck::kBadFormat:
    case UpnCheck::kBadCheckLetter:
      id->set_verification(cv1::VERIFICATION_STATUS_INVALID);
      AddError(rec, "upn_check_letter", field,
               "the UPN fails its format or mod-23 check letter; kept as raw "
               "text (verification INVALID)",
               true);
      break;
  }
}

// ---------------------------------------------------------------- FHIR

const json* Member(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string_view View(const json* j) {
  return ::ehx::sdk::ArenaJsonStringView(j);
}

std::string Str(const json* j) { return std::string(View(j)); }

// Depth of nesting, bounded scan without recursion (strings skipped).
bool DepthOk(std::string_view s) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

class FhirPatientMapper {
 public:
  // `patient_system` is LocalSystem(options, "fhir-patient-id"), made once
  // per body by the caller.
  FhirPatientMapper(const MapOptions& options, MappedRecord* rec,
                    std::string path, const json* bundle_timestamp,
                    const std::string& patient_system)
      : options_(options),
        rec_(rec),
        path_(std::move(path)),
        bundle_timestamp_(bundle_timestamp),
        patient_system_(patient_system) {}

  void Map(const json& p) {
    rec_->ok = true;
    rec_->nhs_field = path_ + ".identifier";
    cv1::PersonUpdate* update = rec_->envelope.mutable_person_update();
    cv1::Person* person = update->mutable_person();
    rec_->envelope.set_event_type(ex::EVENT_TYPE_PERSON_UPDATED);

    const std::string id = Str(Member(p, "id"));
    if (id.empty()) {
      AddError(rec_, "required", path_ + ".id",
               "Patient.id is required (it keys idempotency and identity)",
               false);
    } else {
      rec_->local_id = id;
      person->set_person_id(id);
      cv1::Identifier* local = person->add_identifiers();
      local->set_system(patient_system_);
      local->set_value(id);
      local->set_assigner_agency_id(options_.agency_id);
    }

    // occurred_at: meta.lastUpdated, else Bundle.timestamp.
    const json* meta = Member(p, "meta");
    std::string version;
    std::string updated_path = path_ + ".meta.lastUpdated";
    const json* updated = meta ? Member(*meta, "lastUpdated") : nullptr;
    if (meta) version = Str(Member(*meta, "versionId"));
    if (updated == nullptr && bundle_timestamp_ != nullptr) {
      updated = bundle_timestamp_;
      updated_path = "Bundle.timestamp";
    }
    if (updated == nullptr || !updated->is_string()) {
      AddError(rec_, "required", updated_path,
               "Patient.meta.lastUpdated (or Bundle.timestamp) is required: "
               "it is the time of the change",
               false);
    } else {
      const TimeValue t = ParseFhirTime(Str(updated));
      if (!t.rule.empty() || !t.has_time) {
        AddError(rec_, t.rule.empty() ? "datetime_invalid" : t.rule,
                 updated_path,
                 t.rule.rfind("dst_", 0) == 0
                     ? "a Europe/London local time without offset that does "
                       "not exist or occurs twice at the clock change"
                     : "not a FHIR instant (YYYY-MM-DDThh:mm:ss[.f]+zz:zz)",
                 false);
      } else {
        rec_->envelope.mutable_occurred_at()->set_seconds(t.seconds);
        rec_->envelope.mutable_occurred_at()->set_nanos(t.nanos);
      }
      if (version.empty()) version = "t" + Fnv1aHex(Str(updated));
    }
    rec_->envelope.set_idempotency_key("health-fhir-" + KeySafe(id, 64) + "-" +
                                       KeySafe(version, 40));

    Identifiers(p, person);
    Names(p, person);
    Demographics(p, person);
    Addresses(p, person);
    Telecom(p, person);
    Extensions(p, person);
    if (person->person_id().empty() && person->identifiers_size() == 0) {
      AddError(rec_, "required", path_ + ".identifier",
               "the Patient has neither an id nor an identifier", false);
    }
    update->set_change_reason("FHIR Patient update");
  }

 private:
  void TypeError(const std::string& field, const char* expected) {
    AddError(rec_, "fhir_element_type", field,
             std::string("element ignored: expected ") + expected, true);
  }

  const json* Array(const json& p, const char* key) {
    const json* a = Member(p, key);
    if (a == nullptr) return nullptr;
    if (!a->is_array()) {
      TypeError(path_ + "." + key, "an array");
      return nullptr;
    }
    return a;
  }

  void Identifiers(const json& p, cv1::Person* person) {
    const json* ids = Array(p, "identifier");
    if (ids == nullptr) return;
    for (size_t i = 0; i < ids->size(); ++i) {
      const json& id = (*ids)[i];
      // The element's path, only built when something names it.
      auto field = [&] {
        return path_ + ".identifier[" + std::to_string(i) + "]";
      };
      const std::string_view system = View(Member(id, "system"));
      const std::string_view value = View(Member(id, "value"));
      if (value.empty()) {
        AddError(rec_, "required", field() + ".value",
                 "identifier without a value ignored", true);
        continue;
      }
      if (system == kNhsNumberSystem || system == kLegacyNhsNumberSystem) {
        std::string_view code;
        const json* exts = Member(id, "extension");
        if (exts != nullptr && exts->is_array()) {
          for (const json& e : *exts) {
            const std::string_view url = View(Member(e, "url"));
            if (url.find("NHSNumberVerificationStatus") ==
                std::string_view::npos) {
              continue;
            }
            const json* cc = Member(e, "valueCodeableConcept");
            const json* coding = cc ? Member(*cc, "coding") : nullptr;
            if (coding && coding->is_array() && !coding->empty()) {
              code = View(Member((*coding)[0], "code"));
            }
          }
        }
        rec_->nhs_field = field();
        AddNhsNumber(rec_, person, value, code, code, rec_->nhs_field,
                     ".value");
      } else if (system == kUpnSystem) {
        AddUpn(rec_, person, value, field() + ".value");
      } else {
        // Unknown systems are preserved verbatim.
        cv1::Identifier* out = person->add_identifiers();
        if (system.empty()) {
          out->set_system(LocalSystem(options_, "identifier"));
        } else {
          out->set_system(system.data(), system.size());
        }
        out->set_value(value.data(), value.size());
        out->set_original_value(value.data(), value.size());
        out->set_verification(cv1::VERIFICATION_STATUS_UNVERIFIED);
      }
    }
  }

  bool Name(const json& n, cv1::HumanName* out) {
    out->set_family(Str(Member(n, "family")));
    out->set_text(Str(Member(n, "text")));
    const json* given = Member(n, "given");
    if (given && given->is_array()) {
      for (size_t i = 0; i < given->size(); ++i) {
        const std::string g = Str(&(*given)[i]);
        if (i == 0) {
          out->set_given(g);
        } else {
          out->add_other(g);
        }
      }
    }
    const json* prefix = Member(n, "prefix");
    if (prefix && prefix->is_array() && !prefix->empty()) {
      out->set_prefix(Str(&(*prefix)[0]));
    }
    return !out->family().empty() || !out->given().empty() ||
           !out->text().empty();
  }

  void Names(const json& p, cv1::Person* person) {
    const json* names = Array(p, "name");
    if (names == nullptr) return;
    bool have_legal = false;
    for (const json& n : *names) {
      // The use decides the destination first, so that the name is built
      // in place rather than built and copied.
      const std::string_view use = View(Member(n, "use"));
      if (use == "official" && !have_legal) {
        if (Name(n, person->mutable_legal_name())) {
          have_legal = true;
        } else {
          person->clear_legal_name();
        }
      } else if (use == "usual" && !person->has_preferred_name()) {
        if (!Name(n, person->mutable_preferred_name())) {
          person->clear_preferred_name();
        }
      } else if (!Name(n, person->add_other_names())) {
        person->mutable_other_names()->RemoveLast();
      }
    }
    // No "official" name: the first name is the legal one.
    if (!have_legal && person->other_names_size() > 0) {
      person->mutable_legal_name()->Swap(person->mutable_other_names(0));
      person->mutable_other_names()->erase(
          person->mutable_other_names()->begin());
    }
  }

  void Demographics(const json& p, cv1::Person* person) {
    if (const json* g = Member(p, "gender")) {
      if (!g->is_string()) {
        TypeError(path_ + ".gender", "a code");
      } else {
        cv1::Code* sex = person->mutable_sex();
        sex->set_system(std::string(kAdminGender));
        sex->set_code(Str(g));
        sex->set_original_value(Str(g));
      }
    }
    if (const json* b = Member(p, "birthDate")) {
      const std::string text = Str(b);
      const TimeValue t = ParseFhirTime(text);
      if (!b->is_string() || !t.rule.empty() || t.has_time) {
        AddError(rec_,
                 text.size() == 4 || text.size() == 7 ? "date_partial"
                                                      : "date_invalid",
                 path_ + ".birthDate",
                 "birthDate is not a full calendar date; omitted", true);
      } else {
        SetDate(t, person->mutable_date_of_birth());
      }
    }
    if (const json* d = Member(p, "deceasedDateTime")) {
      const TimeValue t = ParseFhirTime(Str(d));
      // Only the date is carried: a clock-change time still has a date.
      if (t.rule.empty() || t.rule.rfind("dst_", 0) == 0) {
        SetDate(t, person->mutable_date_of_death());
      } else {
        AddError(rec_, "date_invalid", path_ + ".deceasedDateTime",
                 "deceasedDateTime is not a full date; omitted", true);
      }
    }
    const json* comms = Member(p, "communication");
    if (comms && comms->is_array()) {
      for (const json& c : *comms) {
        const json* lang = Member(c, "language");
        const json* coding = lang ? Member(*lang, "coding") : nullptr;
        if (!coding || !coding->is_array() || coding->empty()) continue;
        cv1::Code* fl = person->mutable_first_language();
        fl->set_system(Str(Member((*coding)[0], "system")));
        fl->set_code(Str(Member((*coding)[0], "code")));
        fl->set_display(Str(Member((*coding)[0], "display")));
        fl->set_original_value(fl->code());
        const json* pref = Member(c, "preferred");
        if (pref && pref->is_boolean() && pref->get<bool>()) break;
      }
    }
  }

  void Addresses(const json& p, cv1::Person* person) {
    const json* addrs = Array(p, "address");
    if (addrs == nullptr) return;
    for (const json& a : *addrs) {
      cv1::Address* out = person->add_addresses();
      const json* lines = Member(a, "line");
      if (lines && lines->is_array()) {
        for (const json& l : *lines) {
          if (l.is_string()) out->add_lines(Str(&l));
        }
      }
      out->set_town(Str(Member(a, "city")));
      out->set_county(Str(Member(a, "district")));
      out->set_postcode(Str(Member(a, "postalCode")));
      const std::string country = Str(Member(a, "country"));
      if (country.size() == 2) out->set_country(country);
      const json* period = Member(a, "period");
      if (period) {
        const TimeValue s = ParseFhirTime(Str(Member(*period, "start")));
        if (s.rule.empty()) SetDate(s, out->mutable_from_date());
        const TimeValue e = ParseFhirTime(Str(Member(*period, "end")));
        if (e.rule.empty()) SetDate(e, out->mutable_to_date());
      }
    }
  }

  void Telecom(const json& p, cv1::Person* person) {
    const json* tel = Array(p, "telecom");
    if (tel == nullptr) return;
    for (const json& t : *tel) {
      const std::string system = Str(Member(t, "system"));
      const std::string value = Str(Member(t, "value"));
      if (value.empty()) continue;
      cv1::ContactPoint* c = person->add_contacts();
      c->set_kind(system == "phone" || system == "sms"
                      ? cv1::CONTACT_POINT_KIND_PHONE
                  : system == "email" ? cv1::CONTACT_POINT_KIND_EMAIL
                                      : cv1::CONTACT_POINT_KIND_OTHER);
      c->set_value(value);
      c->set_use(Str(Member(t, "use")));
    }
  }

  void Extensions(const json& p, cv1::Person* person) {
    const json* exts = Member(p, "extension");
    if (exts == nullptr || !exts->is_array()) return;
    for (const json& e : *exts) {
      const std::string url = Str(Member(e, "url"));
      if (url == kCaseRefExtension) {
        rec_->envelope.set_case_ref(Str(Member(e, "valueString")));
      } else if (url.find("Extension-UKCore-EthnicCategory") !=
                     std::string::npos ||
                 url.find("Extension-CareConnect-EthnicCategory") !=
                     std::string::npos) {
        const json* cc = Member(e, "valueCodeableConcept");
        const json* coding = cc ? Member(*cc, "coding") : nullptr;
        if (!coding || !coding->is_array() || coding->empty()) continue;
        cv1::Code* eth = person->mutable_ethnicity();
        const std::string system = Str(Member((*coding)[0], "system"));
        eth->set_system(system.empty() ? std::string(kEthnicCategory) : system);
        eth->set_code(Str(Member((*coding)[0], "code")));
        eth->set_display(Str(Member((*coding)[0], "display")));
        eth->set_original_value(eth->code());
      }
    }
  }

  const MapOptions& options_;
  MappedRecord* rec_;
  const std::string path_;
  const json* bundle_timestamp_;
  const std::string& patient_system_;
};

// ----------------------------------------------------------------- HL7

bool IsSupportedEvent(std::string_view e) {
  return e == "A04" || e == "A08" || e == "A28" || e == "A31" || e == "A40";
}

class Hl7Mapper {
 public:
  Hl7Mapper(const hl7::Message& m, const MapOptions& options, MappedRecord* rec)
      : m_(m), options_(options), rec_(rec) {}

  void Map() {
    const hl7::Segment* msh = m_.Find("MSH");
    const std::string control = m_.Get(msh, 10);
    rec_->position = "message " + (control.empty() ? std::string("(no MSH-10)")
                                                   : KeySafe(control, 40));
    rec_->ok = true;
    rec_->nhs_field = "PID-3";
    rec_->envelope.set_event_type(ex::EVENT_TYPE_PERSON_UPDATED);
    if (control.empty()) {
      AddError(rec_, "required", "MSH-10", "the message control id is required",
               false);
    }
    rec_->envelope.set_idempotency_key(
        "health-hl7-" +
        Fnv1aHex(m_.Get(msh, 3) + "|" + m_.Get(msh, 4) + "|" + control));
    const std::string type = m_.Get(msh, 9, 1);
    std::string event = m_.Get(msh, 9, 2);
    const hl7::Segment* evn = m_.Find("EVN");
    if (event.empty()) event = m_.Get(evn, 1);
    if (type != "ADT" || !IsSupportedEvent(event)) {
      AddError(rec_, "hl7_unsupported_event", "MSH-9",
               "only ADT A04, A08, A28, A31 and A40 are accepted", false);
      return;
    }
    const std::string version = m_.Get(msh, 12);
    if (version.rfind("2.", 0) != 0) {
      AddError(rec_, "hl7_unsupported_version", "MSH-12",
               "only HL7 version 2.x is accepted", false);
      return;
    }
    OccurredAt(msh, evn);
    const hl7::Segment* pid = m_.Find("PID");
    if (pid == nullptr) {
      AddError(rec_, "required", "PID", "the PID segment is required", false);
      return;
    }
    cv1::PersonUpdate* update = rec_->envelope.mutable_person_update();
    cv1::Person* person = update->mutable_person();
    update->set_change_reason("HL7 ADT " + event);
    Identifiers(pid, person);
    Names(pid, person);
    Demographics(pid, person);
    if (const hl7::Segment* pv1 = m_.Find("PV1")) {
      const std::string visit = m_.Get(pv1, 19);
      const std::string& prefix = options_.pv1_case_ref_prefix;
      if (prefix != "-" && !visit.empty() &&
          visit.rfind(prefix.empty() ? "EH-" : prefix, 0) == 0) {
        rec_->envelope.set_case_ref(visit);
      }
    }
    if (event == "A40") {
      const hl7::Segment* mrg = m_.Find("MRG");
      if (mrg == nullptr || hl7::Message::Field(mrg, 1).empty()) {
        AddError(rec_, "required", "MRG-1",
                 "an A40 merge needs the prior patient identifiers (MRG-1)",
                 false);
        return;
      }
      update->set_change_reason("HL7 ADT A40 merge");
      cv1::Person prior;
      MappedRecord scratch;
      scratch.position = rec_->position;
      CxList(mrg, 1, "MRG-1", &prior, &scratch, nullptr);
      for (auto& e : scratch.errors) {
        e.set_flagged_only(true);
        rec_->errors.push_back(e);
      }
      for (const auto& id : prior.identifiers()) {
        *update->add_superseded_identifiers() = id;
      }
    }
    if (person->identifiers_size() == 0) {
      AddError(rec_, "required", "PID-3",
               "the patient identifier list has no usable identifier", false);
    }
  }

 private:
  void OccurredAt(const hl7::Segment* msh, const hl7::Segment* evn) {
    // EVN-6 (event occurred), EVN-2 (recorded), MSH-7 (message time): the
    // first that is a valid instant. A clock-change local time is flagged
    // and the next source is used: never guessed.
    const struct {
      const hl7::Segment* seg;
      int field;
      const char* name;
    } sources[] = {{evn, 6, "EVN-6"}, {evn, 2, "EVN-2"}, {msh, 7, "MSH-7"}};
    std::string last_rule = "required";
    std::string last_field = "MSH-7";
    for (const auto& s : sources) {
      const std::string text = m_.Get(s.seg, s.field);
      if (text.empty()) continue;
      const TimeValue t = ParseHl7Time(text);
      if (t.rule.empty() && t.has_time) {
        rec_->envelope.mutable_occurred_at()->set_seconds(t.seconds);
        rec_->envelope.mutable_occurred_at()->set_nanos(t.nanos);
        return;
      }
      last_rule = t.rule.empty() ? "datetime_invalid" : t.rule;
      last_field = s.name;
      AddError(rec_, last_rule, s.name,
               t.rule.rfind("dst_", 0) == 0
                   ? "a Europe/London local time that does not exist or "
                     "occurs twice at the clock change; not used"
                   : "not a usable HL7 date/time with hours and minutes",
               true);
    }
    AddError(rec_, last_rule, last_field,
             "no usable event time in EVN-6, EVN-2 or MSH-7", false);
  }

  // Maps a CX list (PID-3, MRG-1). `nhs_field_out` receives the field of
  // the NHS number.
  void CxList(const hl7::Segment* seg, int f, const std::string& field,
              cv1::Person* person, MappedRecord* rec, std::string* pas_id) {
    const hl7::Segment* pid = m_.Find("PID");
    // PID-32 identity reliability codes (NSTS01..NSTS08).
    std::string code, original_code;
    if (seg == pid) {
      for (std::string_view rep : m_.Reps(hl7::Message::Field(pid, 32))) {
        const std::string c = m_.Text(m_.Component(rep, 1));
        if (c.size() == 6 && c.rfind("NSTS", 0) == 0) {
          code = c.substr(4);
          original_code = c;
        }
      }
    }
    const std::string_view list = hl7::Message::Field(seg, f);
    const bool several = list.find(m_.rep_sep()) != std::string_view::npos;
    size_t i = 0;
    for (std::string_view rep : m_.Reps(list)) {
      ++i;
      const std::string value = m_.Text(m_.Component(rep, 1));
      if (value.empty()) continue;
      const std::string authority =
          m_.Text(m_.Subcomponent(m_.Component(rep, 4), 1));
      const std::string type = m_.Text(m_.Component(rep, 5));
      if (type == "NH" || authority == "NHS") {
        // "PID-3[2]" when the list repeats; only spelt out on an error.
        const std::string suffix =
            several ? "[" + std::to_string(i) + "]" : std::string();
        AddNhsNumber(rec, person, value, code, original_code, field, suffix);
      } else if (type == "UPN" || authority == "UPN") {
        // A Unique Pupil Number (HL7 table 0203 is locally extensible; the
        // NHS ADT spec has no UPN type). Checked and flagged exactly like
        // a FHIR `urn:ehx:id:upn` identifier: a temporary UPN is TEMPORARY
        // and never a match key; before this it went out verbatim under
        // the local hl7-cx-UPN system, unflagged.
        AddUpn(rec, person, value,
               field + (several ? "[" + std::to_string(i) + "]" : ""));
      } else if (type == "PI" || type == "MR" || type == "PN") {
        cv1::Identifier* id = person->add_identifiers();
        if (pas_system_.empty()) pas_system_ = LocalSystem(options_, "pas-id");
        id->set_system(pas_system_);
        id->set_value(value);
        id->set_original_value(value);
        id->set_assigner_agency_id(options_.agency_id);
        id->set_verification(cv1::VERIFICATION_STATUS_UNVERIFIED);
        if (pas_id != nullptr && pas_id->empty()) *pas_id = value;
      } else {
        // Unknown identifier types are preserved under a typed local system.
        cv1::Identifier* id = person->add_identifiers();
        id->set_system(LocalSystem(
            options_,
            "hl7-cx-" + KeySafe(type.empty() ? "unknown" : type, 16)));
        id->set_value(value);
        id->set_original_value(value);
        id->set_verification(cv1::VERIFICATION_STATUS_UNVERIFIED);
      }
    }
  }

  void Identifiers(const hl7::Segment* pid, cv1::Person* person) {
    std::string pas;
    CxList(pid, 3, "PID-3", person, rec_, &pas);
    if (!pas.empty()) {
      rec_->local_id = pas;
      person->set_person_id(pas);
    }
  }

  static bool XpnToName(const hl7::Message& m, std::string_view rep,
                        cv1::HumanName* out) {
    out->set_family(m.Text(m.Subcomponent(m.Component(rep, 1), 1)));
    out->set_given(m.Text(m.Component(rep, 2)));
    const std::string middle = m.Text(m.Component(rep, 3));
    if (!middle.empty()) out->add_other(middle);
    out->set_prefix(m.Text(m.Component(rep, 5)));
    return !out->family().empty() || !out->given().empty();
  }

  void Names(const hl7::Segment* pid, cv1::Person* person) {
    bool have_legal = false;
    for (std::string_view rep : m_.Reps(hl7::Message::Field(pid, 5))) {
      // The name type decides the destination before the name is built, so
      // that the name is written in place instead of built and copied.
      const std::string type = m_.Text(m_.Component(rep, 7));
      if ((type == "L" || type.empty()) && !have_legal) {
        if (XpnToName(m_, rep, person->mutable_legal_name())) {
          have_legal = true;
        } else {
          person->clear_legal_name();
        }
      } else if (type == "N" && !person->has_preferred_name()) {
        if (!XpnToName(m_, rep, person->mutable_preferred_name())) {
          person->clear_preferred_name();
        }
      } else if (!XpnToName(m_, rep, person->add_other_names())) {
        person->mutable_other_names()->RemoveLast();
      }
    }
  }

  void Demographics(const hl7::Segment* pid, cv1::Person* person) {
    const std::string dob = m_.Get(pid, 7);
    if (!dob.empty()) {
      const TimeValue t = ParseHl7Time(dob);
      // Only the date is carried; a clock-change birth time keeps its date.
      if (t.rule.empty() || t.rule.rfind("dst_", 0) == 0) {
        SetDate(t, person->mutable_date_of_birth());
      } else {
        AddError(rec_, "date_invalid", "PID-7",
                 "date of birth is not a full date; omitted", true);
      }
    }
    const std::string sex = m_.Get(pid, 8);
    if (!sex.empty()) {
      cv1::Code* c = person->mutable_sex();
      c->set_system(std::string(kHl7Sex));
      c->set_code(sex);
      c->set_original_value(sex);
    }
    for (std::string_view rep : m_.Reps(hl7::Message::Field(pid, 11))) {
      // Built in place; dropped again when it has nothing to say.
      cv1::Address& a = *person->add_addresses();
      for (int c : {1, 2}) {
        std::string line = m_.Text(m_.Subcomponent(m_.Component(rep, c), 1));
        if (!line.empty()) a.add_lines(std::move(line));
      }
      a.set_town(m_.Text(m_.Component(rep, 3)));
      a.set_county(m_.Text(m_.Component(rep, 4)));
      a.set_postcode(m_.Text(m_.Component(rep, 5)));
      std::string country = m_.Text(m_.Component(rep, 6));
      if (country.size() == 2) a.set_country(std::move(country));
      if (!a.lines_size() && a.town().empty() && a.postcode().empty()) {
        person->mutable_addresses()->RemoveLast();
      }
    }
    for (int f : {13, 14}) {
      for (std::string_view rep : m_.Reps(hl7::Message::Field(pid, f))) {
        std::string number = m_.Text(m_.Component(rep, 1));
        const std::string equipment = m_.Text(m_.Component(rep, 3));
        std::string email = m_.Text(m_.Component(rep, 4));
        const bool is_email =
            !email.empty() || equipment == "Internet" || equipment == "X.400";
        if (!is_email && number.empty()) {
          number = m_.Text(m_.Component(rep, 12));
        }
        std::string value =
            is_email && !email.empty() ? std::move(email) : std::move(number);
        if (value.empty()) continue;
        cv1::ContactPoint* c = person->add_contacts();
        c->set_kind(is_email ? cv1::CONTACT_POINT_KIND_EMAIL
                             : cv1::CONTACT_POINT_KIND_PHONE);
        c->set_value(std::move(value));
        c->set_use(f == 13 ? (equipment == "CP" ? "mobile" : "home") : "work");
      }
    }
    const std::string ethnic = m_.Get(pid, 22);
    if (!ethnic.empty()) {
      cv1::Code* e = person->mutable_ethnicity();
      e->set_system(std::string(kEthnicCategory));
      e->set_code(ethnic);
      e->set_display(m_.Get(pid, 22, 2));
      e->set_original_value(ethnic);
    }
    const std::string death = m_.Get(pid, 29);
    if (!death.empty()) {
      const TimeValue t = ParseHl7Time(death);
      if (t.rule.empty() || t.rule.rfind("dst_", 0) == 0) {
        SetDate(t, person->mutable_date_of_death());
      } else {
        AddError(rec_, "date_invalid", "PID-29",
                 "date of death is not a full date; omitted", true);
      }
    }
  }

  const hl7::Message& m_;
  const MapOptions& options_;
  MappedRecord* rec_;
  std::string pas_system_;  // LocalSystem(options_, "pas-id"), made once
};

}  // namespace

namespace {

std::shared_ptr<google::protobuf::Arena> NewRecordArena(size_t first_block) {
  google::protobuf::ArenaOptions o;
  o.start_block_size = first_block;
  o.max_block_size = 64 << 10;
  return std::make_shared<google::protobuf::Arena>(o);
}

}  // namespace

MappedRecord::MappedRecord(std::shared_ptr<google::protobuf::Arena> a)
    : arena(a ? std::move(a) : NewRecordArena(2048)),
      envelope(*google::protobuf::Arena::CreateMessage<Envelope>(arena.get())) {
}

std::string LocalSystem(const MapOptions& options, std::string_view kind) {
  return "urn:ehx:id:agency:" + options.agency_id + ":" + std::string(kind);
}

std::string KeySafe(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    out.push_back(ok ? c : '_');
  }
  return out;
}

std::string Fnv1aHex(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // Hand-rolled instead of snprintf("%016llx"): same digits, no format
  // parsing per record (it showed in the HL7 bench's profile).
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[i] = kHex[h & 0xF];
  return out;
}

bool MapFhir(std::string_view body, const MapOptions& options,
             std::vector<MappedRecord>* records, std::string* input_error) {
  records->clear();
  if (!DepthOk(body)) {
    *input_error = "json_too_deep: nesting deeper than 64 levels";
    return false;
  }
  ::ehx::sdk::ArenaJsonDocument document(body.size());
  const bool parsed = document.Parse(body);
  const json& doc = document.root();
  if (!parsed) {
    *input_error = "json_malformed: the body is not valid JSON";
    return false;
  }
  if (!doc.is_object()) {
    *input_error = "fhir_resource_type: the body is not a FHIR resource";
    return false;
  }
  const std::string type = Str(Member(doc, "resourceType"));
  try {
    if (type == "Patient") {
      MappedRecord rec;
      rec.position = "Patient";
      FhirPatientMapper(options, &rec, "Patient", nullptr,
                        LocalSystem(options, "fhir-patient-id"))
          .Map(doc);
      records->push_back(std::move(rec));
      return true;
    }
    if (type != "Bundle") {
      *input_error =
          "fhir_resource_type: only Patient and Bundle resources are accepted";
      return false;
    }
    const json* entries = Member(doc, "entry");
    if (entries != nullptr && !entries->is_array()) {
      *input_error = "fhir_element_type: Bundle.entry is not an array";
      return false;
    }
    const json* timestamp = Member(doc, "timestamp");
    if (entries == nullptr) return true;
    const std::string patient_system = LocalSystem(options, "fhir-patient-id");
    records->reserve(entries->size());
    // One arena for every envelope of the body.
    const auto arena = NewRecordArena(16 << 10);
    for (size_t i = 0; i < entries->size(); ++i) {
      MappedRecord rec(arena);
      rec.position = "Bundle.entry[" + std::to_string(i) + "]";
      const json* resource = Member((*entries)[i], "resource");
      const std::string_view rtype =
          resource ? View(Member(*resource, "resourceType"))
                   : std::string_view();
      if (rtype != "Patient") {
        AddError(&rec, resource ? "fhir_resource_type" : "required",
                 rec.position + ".resource",
                 resource ? "only Patient entries are accepted"
                          : "the entry has no resource",
                 false);
        records->push_back(std::move(rec));
        continue;
      }
      FhirPatientMapper(options, &rec, rec.position + ".resource", timestamp,
                        patient_system)
          .Map(*resource);
      records->push_back(std::move(rec));
    }
    return true;
  } catch (const std::exception&) {
    // nlohmann type errors should be impossible (every access is checked);
    // never let one escape.
    records->clear();
    *input_error = "fhir_internal: the resource could not be read";
    return false;
  }
}

MappedRecord MapHl7(const hl7::Message& message, const MapOptions& options) {
  MappedRecord rec;
  Hl7Mapper(message, options, &rec).Map();
  return rec;
}

}  // namespace ehx::adapters::health
