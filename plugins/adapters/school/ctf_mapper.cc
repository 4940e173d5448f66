#include "ctf_mapper.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "school_ids.h"

namespace ehx::adapters::school {
namespace {

namespace cases = ::ehxpb::cases::v1;
namespace exchange = ::ehxpb::exchange::v1;

// Code and identifier systems as std::strings: protobuf 3.21 sets a string
// field from a `const char*` by building a temporary std::string first (a
// heap allocation for anything over 15 bytes), from a std::string with one
// copy.
struct Systems {
  const std::string upn = "urn:ehx:id:upn";
  const std::string former_upn = "urn:ehx:id:former-upn";
  const std::string nhs = "https://fhir.nhs.uk/Id/nhs-number";
  const std::string sex = "urn:ehx:code:cbds:sex";
  const std::string ethnicity = "urn:ehx:code:cbds:ethnicity";
  const std::string language = "urn:ehx:code:cbds:language";
  const std::string disability = "urn:ehx:code:cbds:disability";
  const std::string sen_provision = "urn:ehx:code:cbds:sen-provision";
  const std::string sen_type = "urn:ehx:code:cbds:sen-type";
  const std::string la_code = "urn:ehx:code:dfe:la-code";
  const std::string relationship = "urn:ehx:code:cbds:contact-relationship";
};
const Systems& Sys() {
  static const auto* systems = new Systems();
  return *systems;
}

// File-level context shared by every pupil.
struct Ctx {
  const MapOptions* options;
  const CtfHeader* header;
  std::string source_la_estab;  // "8209999"
  int64_t occurred_at = 0;      // Unix seconds
  // occurred_at as the message every envelope points to (on `arena`).
  google::protobuf::Timestamp* occurred_at_message = nullptr;
  std::string version;  // CTF version for Code.version
  // Start of every key's content digest input: the key scheme, the Header's
  // native digest and the assigner agency (see SetKey).
  std::string key_context;
  // PersonUpdate.change_reason of pupil and contact envelopes (the same
  // for the whole file: built once).
  std::string pupil_reason, contact_reason;
  google::protobuf::Arena* arena = nullptr;  // owns every envelope
};

// ASCII case mapping (the "C" locale's, without a call per character);
// bytes of UTF-8 sequences are left alone, as std::tolower did.
std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Lower() into a reused buffer.
void LowerInto(std::string_view s, std::string* out) {
  out->assign(s);
  for (char& c : *out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

// Appends Hex64(v) (16 lower-case hex digits) without a temporary.
void AppendHex64(uint64_t v, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[16];
  for (int i = 15; i >= 0; --i, v >>= 4) digits[i] = kHex[v & 0xf];
  out->append(digits, sizeof(digits));
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool AllDigits(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Non-negative integer without sign or separators; -1 otherwise.
int64_t ParseCount(std::string_view s) {
  if (s.empty() || s.size() > 6) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

void AddError(std::vector<RecordError>* errors, const std::string& position,
              std::string field, std::string rule, std::string message,
              bool flagged_only) {
  RecordError e;
  e.set_position(position);
  e.set_field(std::move(field));
  e.set_rule(std::move(rule));
  e.set_message(std::move(message));
  e.set_flagged_only(flagged_only);
  errors->push_back(std::move(e));
}

void SetDate(const CivilDate& d, cases::Date* out) {
  out->set_year(d.year);
  out->set_month(d.month);
  out->set_day(d.day);
}

void SetCode(cases::Code* c, const std::string& system, std::string_view code,
             const std::string& version, std::string_view original,
             std::string_view display = {}) {
  c->set_system(system);
  c->set_code(std::string(code));
  c->set_version(version);
  if (!display.empty()) c->set_display(std::string(display));
  c->set_original_value(std::string(original));
}

std::vector<std::string> SplitWords(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// UK postcode: upper case, one space before the 3-character inward code.
std::string NormalisePostcode(std::string_view raw) {
  std::string compact;
  for (char c : raw) {
    if (c != ' ')
      compact.push_back(
          static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (compact.size() < 5 || compact.size() > 7)
    return std::string(TrimXml(raw));
  return compact.substr(0, compact.size() - 3) + " " +
         compact.substr(compact.size() - 3);
}

bool StartsWithDigit(std::string_view s) {
  return !s.empty() && s[0] >= '0' && s[0] <= '9';
}

// Maps a CTF address. Problems are flagged (the address is still useful).
bool MapAddress(const CtfAddress& a, cases::Address* out,
                std::vector<RecordError>* errors, const std::string& position,
                const std::function<std::string()>& field) {
  if (!a.present) return false;
  if (a.bs7666) {
    if (!a.saon.empty()) out->add_lines(a.saon);
    if (!a.paon.empty() && !a.street.empty() && StartsWithDigit(a.paon)) {
      out->add_lines(a.paon + " " + a.street);
    } else {
      if (!a.paon.empty()) out->add_lines(a.paon);
      if (!a.street.empty()) out->add_lines(a.street);
    }
    if (!a.locality.empty()) out->add_lines(a.locality);
    // Empty values are not set: proto3 strings have no presence, so an
    // empty string serialises as an unset one but costs an arena string.
    const std::string& town = !a.town.empty() ? a.town : a.post_town;
    if (!town.empty()) out->set_town(town);
    const std::string& county =
        !a.county.empty() ? a.county : a.administrative_area;
    if (!county.empty()) out->set_county(county);
    if (!a.uprn.empty()) {
      bool ok = a.uprn.size() <= 12;
      for (char c : a.uprn) ok = ok && c >= '0' && c <= '9';
      if (ok) {
        out->set_uprn(a.uprn);
      } else {
        AddError(errors, position, field() + "/UniquePropertyReferenceNumber",
                 "uprn_format", "a UPRN must be 1-12 digits; not mapped", true);
      }
    }
  } else {
    for (const std::string& l : a.lines) out->add_lines(l);
    if (!a.county.empty()) out->set_county(a.county);
  }
  if (!a.postcode.empty()) out->set_postcode(NormalisePostcode(a.postcode));
  const std::string country = Upper(a.country);
  if (country.empty() || country == "GB" || country == "UK" ||
      country == "ENGLAND" || country == "UNITED KINGDOM" ||
      country == "WALES" || country == "GBR") {
    out->set_country("GB");
  } else if (country.size() == 2 &&
             std::isalpha(static_cast<unsigned char>(country[0])) &&
             std::isalpha(static_cast<unsigned char>(country[1]))) {
    out->set_country(country);
  } else {
    AddError(errors, position, field() + "/Country", "country_code_unknown",
             "the country is not an ISO 3166-1 alpha-2 code; not mapped", true);
  }
  if (out->lines_size() == 0 && out->postcode().empty() &&
      out->town().empty()) {
    return false;
  }
  return true;
}

void MapPhones(const std::vector<CtfPhone>& phones, const std::string& email,
               google::protobuf::RepeatedPtrField<cases::ContactPoint>* out) {
  for (const CtfPhone& p : phones) {
    if (p.number.empty()) continue;
    cases::ContactPoint* c = out->Add();
    c->set_kind(cases::CONTACT_POINT_KIND_PHONE);
    std::string number;
    for (char ch : p.number) {
      if (ch != ' ' && ch != '-' && ch != '(' && ch != ')')
        number.push_back(ch);
    }
    c->set_value(number);
    const std::string t = Upper(p.type);
    c->set_use(t == "H"   ? "home"
               : t == "M" ? "mobile"
               : t == "W" ? "work"
                          : p.type);
  }
  if (!email.empty()) {
    cases::ContactPoint* c = out->Add();
    c->set_kind(cases::CONTACT_POINT_KIND_EMAIL);
    c->set_value(email);
  }
}

cases::YesNoUnknown ParseYesNo(std::string_view raw, bool* recognised) {
  const std::string v = Lower(raw);
  *recognised = true;
  if (v.empty()) return cases::YES_NO_UNKNOWN_UNSPECIFIED;
  if (v == "true" || v == "1" || v == "y" || v == "yes")
    return cases::YES_NO_UNKNOWN_YES;
  if (v == "false" || v == "0" || v == "n" || v == "no")
    return cases::YES_NO_UNKNOWN_NO;
  *recognised = false;
  return cases::YES_NO_UNKNOWN_UNKNOWN;
}

struct RelationshipInfo {
  cases::RelationshipType type;
  const char* display;
};

// CBDS contact relationship codes (formats-reference.md 2.3).
RelationshipInfo MapRelationship(std::string_view code, bool* known) {
  static const std::map<std::string, RelationshipInfo, std::less<>> kMap = {
      {"PAM", {cases::RELATIONSHIP_TYPE_MOTHER, "Parent/mother"}},
      {"PAF", {cases::RELATIONSHIP_TYPE_FATHER, "Parent/father"}},
      {"STM", {cases::RELATIONSHIP_TYPE_STEP_PARENT, "Step-mother"}},
      {"STF", {cases::RELATIONSHIP_TYPE_STEP_PARENT, "Step-father"}},
      {"FOM", {cases::RELATIONSHIP_TYPE_FOSTER_CARER, "Foster mother"}},
      {"FOF", {cases::RELATIONSHIP_TYPE_FOSTER_CARER, "Foster father"}},
      {"CAR", {cases::RELATIONSHIP_TYPE_CARER, "Carer"}},
      {"REL", {cases::RELATIONSHIP_TYPE_OTHER_RELATIVE, "Other relative"}},
      {"FAM", {cases::RELATIONSHIP_TYPE_OTHER_RELATIVE, "Other family member"}},
      {"CHM", {cases::RELATIONSHIP_TYPE_OTHER, "Childminder"}},
      {"SWR", {cases::RELATIONSHIP_TYPE_OTHER, "Social worker"}},
      {"DOC", {cases::RELATIONSHIP_TYPE_OTHER, "Doctor"}},
      {"OTH", {cases::RELATIONSHIP_TYPE_OTHER, "Other"}},
  };
  auto it = kMap.find(code);
  *known = it != kMap.end();
  return *known ? it->second
                : RelationshipInfo{cases::RELATIONSHIP_TYPE_OTHER, ""};
}

void AppendUpper(std::string_view s, std::string* out) {
  for (char c : s) {
    out->push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
  }
}

void AppendLower(std::string_view s, std::string* out) {
  for (char c : s) {
    out->push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
}

// A contact lives at the pupil's address when these keys are equal: the
// normalised postcode (Upper(NormalisePostcode())) and the first line
// (Lower()). Written into `*out` (a reused buffer) without temporaries.
void AddressKeyInto(const CtfAddress& x, std::string* out) {
  std::string& k = *out;
  k.clear();
  size_t compact = 0;
  for (char c : x.postcode) compact += c != ' ';
  if (compact < 5 || compact > 7) {
    AppendUpper(TrimXml(x.postcode), &k);
  } else {
    size_t left = compact;
    for (char c : x.postcode) {
      if (c == ' ') continue;
      if (left-- == 3) k.push_back(' ');
      const char u =
          static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      AppendUpper(std::string_view(&u, 1), &k);
    }
  }
  k.push_back('|');
  if (x.bs7666) {
    AppendLower(x.paon, &k);
    k.push_back(' ');
    AppendLower(x.street, &k);
  } else if (!x.lines.empty()) {
    AppendLower(x.lines[0], &k);
  }
}

// Single-character attendance codes (2024 list plus retired H, J, Y and
// '-' = no mark / not required). Two-character 2024 codes (C1, J1, Y1..)
// cannot be told apart in a one-character-per-session string; the marks
// are checked only for characters outside this set.
bool IsAttendanceMark(char c) {
  static constexpr std::string_view kMarks = "/\\LKVPWBDCMJSXTRIEGNOUQYZ#H-@!*";
  return kMarks.find(c) != std::string_view::npos || (c >= '1' && c <= '7');
}

// Little-endian bytes of `v`, so the digests are the same on every host.
void PutLe64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i, v >>= 8) out->push_back(static_cast<char>(v));
}

// "ctf-<kind>-<record id hash>-<content digest>": the native record id plus
// a digest of what the envelope is made from (the record's bytes as in the
// file, the file's Header and the mapping context), so a re-read is
// answered as a duplicate and a change is a new message. No personal data
// (hashes only). See README "Idempotency keys".
void SetKey(Envelope* env, char kind, uint64_t record_hash,
            const std::string& context, std::initializer_list<uint64_t> parts,
            std::string* scratch) {
  std::string& buf = *scratch;  // reused: no allocation once grown
  buf.assign(context);
  for (uint64_t p : parts) PutLe64(&buf, p);
  const uint64_t content = XXH3_64bits(buf.data(), buf.size());
  static constexpr char kHex[] = "0123456789abcdef";
  char key[] = "ctf-?-0123456789abcdef-0123456789abcdef";
  key[4] = kind;
  for (int i = 15; i >= 0; --i) {
    key[6 + i] = kHex[(record_hash >> (4 * (15 - i))) & 0xf];
    key[23 + i] = kHex[(content >> (4 * (15 - i))) & 0xf];
  }
  env->set_idempotency_key(key, sizeof(key) - 1);
}

void InitEnvelope(const Ctx& ctx, const std::string& case_ref,
                  exchange::EventType type, Envelope* env) {
  env->set_case_ref(case_ref);
  env->set_event_type(type);
  // One Timestamp for the whole file (read-only, on the same arena).
  env->unsafe_arena_set_allocated_occurred_at(ctx.occurred_at_message);
}

// A new envelope on the mapping's arena.
Envelope* NewEnvelope(const Ctx& ctx, const std::string& case_ref,
                      exchange::EventType type) {
  Envelope* env = google::protobuf::Arena::CreateMessage<Envelope>(ctx.arena);
  InitEnvelope(ctx, case_ref, type, env);
  return env;
}

// Maps one pupil at a time. One PupilMapper serves a whole file, so its
// working strings (UPN, person id, key context, key buffer) keep their
// capacity from pupil to pupil instead of being allocated for each.
class PupilMapper {
 public:
  explicit PupilMapper(const Ctx& ctx) : ctx_(ctx) {}

  void Map(const CtfPupil& p, MappedPupil* out) {
    p_ = &p;
    out_ = out;
    upn_kind_ = UpnKind::kBadFormat;
    nhs_.clear();
    nhs_valid_ = false;
    dob_ = CivilDate();
    pupil_address_key_.clear();
    pupil_env_ = google::protobuf::Arena::CreateMessage<Envelope>(ctx_.arena);
    cases::PersonUpdate* u = pupil_env_->mutable_person_update();
    person_ = u->mutable_person();
    superseded_ = u->mutable_superseded_identifiers();
    attendance_pupil_ = nullptr;
    Map();
  }

 private:
  void Map() {
    out_->index = p_->index;
    out_->position =
        "CTfile/CTFpupilData/Pupil[" + std::to_string(p_->index) + "]";
    if (!MapIdentity()) {
      out_->dropped = true;
      return;
    }
    if (!ResolveCase()) return;
    key_context_.assign(ctx_.key_context);
    key_context_ += out_->case_ref;
    key_context_.push_back('\x1f');
    MapDetails();
    BuildPupilEnvelope();
    MapContacts();
    MapAttendance();
  }

 private:
  void Err(std::string field, std::string rule, std::string message,
           bool flagged_only) {
    AddError(&out_->errors, out_->position, std::move(field), std::move(rule),
             std::move(message), flagged_only);
  }

  // Identifiers, names and date of birth: without them there is no record.
  bool MapIdentity() {
    bool ok = true;
    upn_ = NormaliseUpn(p_->upn);
    if (upn_.empty()) {
      Err("UPN", "required", "the pupil has no UPN", false);
      ok = false;
    } else {
      upn_kind_ = CheckUpn(upn_);
      if (upn_kind_ == UpnKind::kBadFormat) {
        Err("UPN", "upn_format",
            "a UPN must be a check letter, 11 digits and a digit or letter",
            false);
        ok = false;
      } else if (upn_kind_ == UpnKind::kBadCheckLetter) {
        Err("UPN", "upn_check_letter", "the UPN fails the mod-23 check letter",
            false);
        ok = false;
      }
    }
    if (p_->surname.empty()) {
      Err("Surname", "required", "the pupil has no surname", false);
      ok = false;
    }
    if (p_->forename.empty()) {
      Err("Forename", "required", "the pupil has no forename", false);
      ok = false;
    }
    if (p_->dob.empty()) {
      Err("DOB", "required", "the pupil has no date of birth", false);
      ok = false;
    } else if (auto d = ParseIsoDate(p_->dob)) {
      dob_ = *d;
      const int64_t dob_seconds =
          DaysFromCivil(d->year, d->month, d->day) * 86400;
      if (ctx_.options->now_unix_seconds > 0 &&
          dob_seconds > ctx_.options->now_unix_seconds) {
        Err("DOB", "date_of_birth_in_future",
            "the date of birth is in the future", false);
        ok = false;
      }
    } else {
      Err("DOB", "date_invalid",
          "the date of birth must be a real date written YYYY-MM-DD", false);
      ok = false;
    }
    if (!ok) return false;

    const bool temporary = upn_kind_ == UpnKind::kTemporary;
    person_id_.assign("ctf-pupil-");
    AppendHex64(temporary ? Fnv1a64({"tmp", ctx_.source_la_estab, upn_})
                          : Fnv1a64({"upn", upn_}),
                &person_id_);
    cases::Identifier* id = person_->add_identifiers();
    id->set_system(Sys().upn);
    id->set_value(upn_);
    id->set_verification(temporary ? cases::VERIFICATION_STATUS_TEMPORARY
                                   : cases::VERIFICATION_STATUS_UNVERIFIED);
    if (!ctx_.options->school_agency_id.empty()) {
      id->set_assigner_agency_id(ctx_.options->school_agency_id);
    }
    if (p_->upn != upn_) id->set_original_value(p_->upn);
    if (temporary) {
      Err("UPN", "upn_temporary",
          "a temporary UPN is kept as TEMPORARY and never used to match a case",
          true);
    }

    if (!p_->nhs_number.empty()) {
      nhs_ = NormaliseNhs(p_->nhs_number);
      cases::Identifier* n = person_->add_identifiers();
      n->set_system(Sys().nhs);
      n->set_value(nhs_);
      if (p_->nhs_number != nhs_) n->set_original_value(p_->nhs_number);
      switch (CheckNhs(nhs_)) {
        case NhsKind::kValid:
          nhs_valid_ = true;
          n->set_verification(cases::VERIFICATION_STATUS_UNVERIFIED);
          break;
        case NhsKind::kBadFormat:
          n->set_verification(cases::VERIFICATION_STATUS_INVALID);
          Err("NHSnumber", "nhs_number_format",
              "an NHS number must be 10 digits; kept as INVALID, not matched",
              true);
          break;
        case NhsKind::kImpossibleStem:
          n->set_verification(cases::VERIFICATION_STATUS_INVALID);
          Err("NHSnumber", "nhs_number_modulus11",
              "the NHS number cannot be valid (its Modulus 11 check would be "
              "10); kept as INVALID, not matched",
              true);
          break;
        case NhsKind::kBadCheckDigit:
          n->set_verification(cases::VERIFICATION_STATUS_INVALID);
          Err("NHSnumber", "nhs_number_modulus11",
              "the NHS number fails the Modulus 11 check digit; kept as "
              "INVALID, not matched",
              true);
          break;
        case NhsKind::kPlaceholder:
          n->set_verification(cases::VERIFICATION_STATUS_INVALID);
          Err("NHSnumber", "nhs_number_placeholder",
              "the NHS number is a placeholder; kept as INVALID, not matched",
              true);
          break;
      }
    }

    person_->set_person_id(person_id_);
    cases::HumanName* name = person_->mutable_legal_name();
    name->set_given(p_->forename);
    name->set_family(p_->surname);
    for (std::string& w : SplitWords(p_->middle_names)) name->add_other(w);
    SetDate(dob_, person_->mutable_date_of_birth());
    return true;
  }

  // Only a permanent UPN or a valid NHS number may find the case.
  bool ResolveCase() {
    const CaseIndex* cases = ctx_.options->cases;
    const std::string* ref = nullptr;
    if (cases != nullptr && upn_kind_ == UpnKind::kPermanent) {
      ref = cases->FindUpn(upn_);
    }
    if (ref == nullptr && cases != nullptr && nhs_valid_) {
      ref = cases->FindNhs(nhs_);
    }
    if (ref == nullptr) {
      out_->no_open_case = true;
      return false;
    }
    out_->case_ref = *ref;
    return true;
  }

  void MapDetails() {
    const std::string& v = ctx_.version;
    // Former UPN: history, never a match key.
    if (!p_->former_upn.empty()) {
      const std::string f = NormaliseUpn(p_->former_upn);
      const UpnKind k = CheckUpn(f);
      if (k == UpnKind::kPermanent || k == UpnKind::kTemporary) {
        if (f != upn_) {
          cases::Identifier* id = person_->add_identifiers();
          id->set_system(Sys().former_upn);
          id->set_value(f);
          id->set_verification(k == UpnKind::kTemporary
                                   ? cases::VERIFICATION_STATUS_TEMPORARY
                                   : cases::VERIFICATION_STATUS_UNVERIFIED);
          cases::Identifier* sup = superseded_->Add();
          *sup = *id;
          sup->set_system(Sys().upn);
        }
      } else {
        Err("BasicDetails/FormerUPN",
            k == UpnKind::kBadFormat ? "upn_format" : "upn_check_letter",
            "the former UPN is not a valid UPN; not mapped", true);
      }
    }
    // Sex (or legacy Gender).
    if (!p_->sex.empty()) {
      const std::string s = Upper(p_->sex);
      const bool known = s == "M" || s == "F";
      person_->unsafe_arena_set_allocated_sex(
          SharedCode(Sys().sex, known ? s : p_->sex, v, p_->sex,
                     s == "M"   ? "Male"
                     : s == "F" ? "Female"
                                : ""));
      if (!known) {
        Err(p_->sex_element, "sex_code_unknown",
            "sex is not M or F; kept with its original value", true);
      }
    }
    if (!p_->preferred_forename.empty() || !p_->preferred_surname.empty()) {
      if (p_->preferred_forename != p_->forename ||
          (!p_->preferred_surname.empty() &&
           p_->preferred_surname != p_->surname)) {
        cases::HumanName* pn = person_->mutable_preferred_name();
        pn->set_given(p_->preferred_forename.empty() ? p_->forename
                                                     : p_->preferred_forename);
        pn->set_family(p_->preferred_surname.empty() ? p_->surname
                                                     : p_->preferred_surname);
      }
    }
    if (!p_->former_surname.empty() || !p_->former_forename.empty()) {
      cases::HumanName* fn = person_->add_other_names();
      fn->set_given(p_->former_forename.empty() ? p_->forename
                                                : p_->former_forename);
      fn->set_family(p_->former_surname.empty() ? p_->surname
                                                : p_->former_surname);
    }
    if (!p_->ethnicity.empty()) {
      person_->unsafe_arena_set_allocated_ethnicity(
          SharedCode(Sys().ethnicity, Upper(p_->ethnicity), v, p_->ethnicity));
    }
    if (!p_->languages.empty()) {
      person_->unsafe_arena_set_allocated_first_language(SharedCode(
          Sys().language, Upper(p_->languages[0]), v, p_->languages[0]));
    }
    for (const std::string& d : p_->disabilities) {
      person_->mutable_disabilities()->UnsafeArenaAddAllocated(
          SharedCode(Sys().disability, Upper(d), v, d));
    }
    if (!p_->sen_provision.empty()) {
      const std::string s = Upper(p_->sen_provision);
      const char* display = s == "E"   ? "EHC plan"
                            : s == "K" ? "SEN support"
                            : s == "N" ? "No special educational need"
                                       : "";
      if (*display == '\0') {
        Err("SENhistory/SEN/SENprovision", "sen_provision_unknown",
            "SEN provision is not E, K or N; kept with its original value",
            true);
      }
      person_->unsafe_arena_set_allocated_sen_provision(
          SharedCode(Sys().sen_provision, s, v, p_->sen_provision, display));
    }
    static const std::set<std::string, std::less<>> kSenTypes = {
        "SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI",
        "VI",   "MSI", "PD",  "ASD",  "OTH",  "NSA"};
    for (const std::string& n : p_->sen_needs) {
      const std::string s = Upper(n);
      if (!kSenTypes.count(s)) {
        Err("SENhistory/SENneeds/SENneed", "sen_type_unknown",
            "SEN type not in the CBDS list; kept with its original value",
            true);
      }
      person_->mutable_sen_needs()->UnsafeArenaAddAllocated(
          SharedCode(Sys().sen_type, s, v, n));
    }
    // FSM periods (most recent first) and looked-after status. A bad date
    // is flagged and that date left out; the rest of the pupil is kept.
    auto check_date = [&](const std::string& value, const std::string& field,
                          cases::Date* out) {
      if (value.empty()) return;
      if (auto d = ParseIsoDate(value)) {
        if (out != nullptr) SetDate(*d, out);
      } else {
        Err(field, "date_invalid", "not a real date written YYYY-MM-DD", true);
      }
    };
    if (!p_->fsm_review_date.empty()) {
      check_date(p_->fsm_review_date, "FSMhistory/FSMreviewDate",
                 person_->mutable_free_school_meals_reviewed_on());
      if (person_->free_school_meals_reviewed_on().year() == 0) {
        person_->clear_free_school_meals_reviewed_on();
      }
    }
    std::vector<cases::FreeSchoolMealsPeriod> fsm;
    for (size_t i = 0; i < p_->fsm.size(); ++i) {
      const std::string f =
          "FSMhistory/FSMinstance[" + std::to_string(i + 1) + "]";
      cases::FreeSchoolMealsPeriod period;
      check_date(p_->fsm[i].start_date, f + "/FSMstartDate",
                 period.mutable_start());
      check_date(p_->fsm[i].end_date, f + "/FSMendDate", period.mutable_end());
      if (period.start().year() == 0) {
        if (p_->fsm[i].start_date.empty()) {
          Err(f + "/FSMstartDate", "required",
              "an FSM period has no start date; left out", true);
        }
        continue;  // a period without a start says nothing usable
      }
      if (period.end().year() == 0) period.clear_end();
      if (period.has_end() &&
          std::make_tuple(period.end().year(), period.end().month(),
                          period.end().day()) <
              std::make_tuple(period.start().year(), period.start().month(),
                              period.start().day())) {
        Err(f, "period_ends_before_start",
            "the FSM period ends before it starts; left out", true);
        continue;
      }
      period.set_uk_country(p_->fsm[i].uk_country);
      fsm.push_back(std::move(period));
    }
    std::stable_sort(fsm.begin(), fsm.end(), [](const auto& a, const auto& b) {
      return std::make_tuple(a.start().year(), a.start().month(),
                             a.start().day()) >
             std::make_tuple(b.start().year(), b.start().month(),
                             b.start().day());
    });
    for (auto& period : fsm) {
      *person_->add_free_school_meals() = std::move(period);
    }
    check_date(p_->sen_start_date, "SENhistory/SEN/StartDate", nullptr);
    if (!p_->in_care.empty()) {
      const std::string ic = Upper(p_->in_care);
      if (ic == "TRUE" || ic == "1" || ic == "Y" || ic == "YES") {
        person_->set_looked_after(cases::YES_NO_UNKNOWN_YES);
      } else if (ic == "FALSE" || ic == "0" || ic == "N" || ic == "NO") {
        person_->set_looked_after(cases::YES_NO_UNKNOWN_NO);
      } else {
        Err("LookedAfter/InCare", "boolean_invalid",
            "InCare is not true/false or 1/0; left out", true);
      }
    }
    if (person_->looked_after() == cases::YES_NO_UNKNOWN_YES &&
        !p_->care_authority.empty()) {
      if (p_->care_authority.size() == 3 &&
          p_->care_authority.find_first_not_of("0123456789") ==
              std::string::npos) {
        person_->unsafe_arena_set_allocated_care_authority(SharedCode(
            Sys().la_code, p_->care_authority, v, p_->care_authority));
      } else {
        Err("LookedAfter/CareAuthority", "la_code_invalid",
            "CareAuthority is not a 3-digit LA code; left out", true);
      }
    }

    if (!MapAddress(p_->address, person_->add_addresses(), &out_->errors,
                    out_->position, [] { return std::string("Address"); })) {
      person_->mutable_addresses()->RemoveLast();
    }
    MapPhones(p_->phones, p_->email, person_->mutable_contacts());
  }

  void BuildPupilEnvelope() {
    out_->envelopes.reserve(1 + p_->contacts.size() + p_->attendance.size());
    InitEnvelope(ctx_, out_->case_ref, exchange::EVENT_TYPE_PERSON_UPDATED,
                 pupil_env_);
    pupil_env_->mutable_person_update()->set_change_reason(ctx_.pupil_reason);
    out_->envelopes.push_back(pupil_env_);
  }

  void MapContacts() {
    for (size_t i = 0; i < p_->contacts.size(); ++i) {
      const CtfContact& c = p_->contacts[i];
      // Only errors name the field: built when one is reported.
      const auto field = [i] {
        return "Contacts/Contact[" + std::to_string(i + 1) + "]";
      };
      if (c.surname.empty() && c.forename.empty()) {
        Err(field(), "required",
            "the contact has no name; contact not mapped (the pupil is)",
            false);
        continue;
      }
      std::string& cid = cid_;
      LowerInto(c.surname, &lower_surname_);
      LowerInto(c.forename, &lower_forename_);
      cid.assign("ctf-contact-");
      AppendHex64(Fnv1a64({ctx_.source_la_estab, upn_,
                           c.order.empty() ? std::to_string(i + 1) : c.order,
                           lower_surname_, lower_forename_}),
                  &cid);
      Envelope* env = NewEnvelope(ctx_, out_->case_ref,
                                  exchange::EVENT_TYPE_PERSON_UPDATED);
      cases::PersonUpdate* u = env->mutable_person_update();
      cases::Person& person = *u->mutable_person();
      person.set_person_id(cid);
      cases::HumanName* n = person.mutable_legal_name();
      n->set_given(c.forename);
      n->set_family(c.surname);
      if (!c.title.empty()) n->set_prefix(c.title);
      for (std::string& w : SplitWords(c.middle_names)) n->add_other(w);
      if (!c.sex.empty()) {
        const std::string s = Upper(c.sex);
        person.unsafe_arena_set_allocated_sex(
            SharedCode(Sys().sex, s, ctx_.version, c.sex));
      }
      cases::YesNoUnknown lives = cases::YES_NO_UNKNOWN_UNSPECIFIED;
      if (c.address_as_pupil) {
        if (person_->addresses_size() > 0) {
          // The pupil's own Address message, not a copy (see "Shared
          // sub-messages" above).
          person.mutable_addresses()->UnsafeArenaAddAllocated(
              person_->mutable_addresses(0));
        }
        lives = cases::YES_NO_UNKNOWN_YES;
      } else {
        if (!MapAddress(c.address, person.add_addresses(), &out_->errors,
                        out_->position, [&] { return field() + "/Address"; })) {
          person.mutable_addresses()->RemoveLast();
        } else {
          if (p_->address.present) {
            // The pupil's side is built once for all its contacts.
            if (pupil_address_key_.empty()) {
              AddressKeyInto(p_->address, &pupil_address_key_);
            }
            AddressKeyInto(c.address, &contact_address_key_);
            lives = contact_address_key_ == pupil_address_key_
                        ? cases::YES_NO_UNKNOWN_YES
                        : cases::YES_NO_UNKNOWN_NO;
          }
        }
      }
      MapPhones(c.phones, c.email, person.mutable_contacts());

      cases::Relationship& rel = *u->add_relationships();
      rel.set_person_id(cid);
      rel.set_related_person_id(person_id_);
      bool known = false;
      const std::string code = Upper(c.relationship);
      const RelationshipInfo info = MapRelationship(code, &known);
      rel.set_type(c.relationship.empty() ? cases::RELATIONSHIP_TYPE_UNSPECIFIED
                                          : info.type);
      if (!c.relationship.empty()) {
        rel.unsafe_arena_set_allocated_type_code(
            SharedCode(Sys().relationship, code, ctx_.version, c.relationship,
                       info.display));
        if (!known) {
          Err(field() + "/Relationship", "relationship_code_unknown",
              "relationship code not in the CBDS list; mapped to OTHER with "
              "the original code kept",
              true);
        }
      }
      bool recognised = true;
      rel.set_parental_responsibility(
          ParseYesNo(c.responsibility, &recognised));
      if (!recognised) {
        Err(field() + "/Responsibility", "parental_responsibility_unknown",
            "parental responsibility is not true/false; mapped to UNKNOWN",
            true);
      }
      rel.set_lives_in_household(lives);
      if ((info.type == cases::RELATIONSHIP_TYPE_MOTHER ||
           info.type == cases::RELATIONSHIP_TYPE_FATHER) &&
          lives == cases::YES_NO_UNKNOWN_YES) {
        rel.set_absent_parent_status(
            cases::ABSENT_PARENT_STATUS_NOT_APPLICABLE);
      }
      // The same Relationship message in the pupil's envelope.
      pupil_env_->mutable_person_update()
          ->mutable_relationships()
          ->UnsafeArenaAddAllocated(&rel);

      u->set_change_reason(ctx_.contact_reason);
      SetKey(env, 'c', Fnv1a64({"c", ctx_.source_la_estab, upn_, cid}),
             key_context_, {p_->core_digest, c.native_digest, i}, &key_buf_);
      out_->envelopes.push_back(env);
    }
    SetKey(pupil_env_, 'p', Fnv1a64({"p", ctx_.source_la_estab, upn_}),
           key_context_, {p_->digest_without_attendance}, &key_buf_);
  }

  void MapAttendance() {
    for (size_t i = 0; i < p_->attendance.size(); ++i) {
      const CtfYearData& y = p_->attendance[i];
      // Only errors name the field: built when one is reported.
      const auto field = [i] {
        return "Attendance/YearData[" + std::to_string(i + 1) + "]";
      };
      // Year: "2024" (start year) or "2024/25".
      std::string academic;
      if (AllDigits(y.year, 4)) {
        const int start = std::stoi(y.year);
        const int next = (start + 1) % 100;
        academic = y.year + "/" + (next < 10 ? "0" : "") + std::to_string(next);
      } else if (y.year.size() == 7 && y.year[4] == '/' &&
                 AllDigits(y.year.substr(0, 4), 4) &&
                 AllDigits(y.year.substr(5), 2) &&
                 (std::stoi(y.year.substr(0, 4)) + 1) % 100 ==
                     std::stoi(y.year.substr(5))) {
        academic = y.year;
      } else {
        Err(field() + "/Year",
            y.year.empty() ? "required" : "academic_year_format",
            "the attendance year must be the academic year's start year "
            "(YYYY); year not mapped",
            false);
        continue;
      }
      const int64_t possible = ParseCount(y.sessions_possible);
      const int64_t attended = ParseCount(y.sessions_attended);
      const int64_t authorised = ParseCount(y.sessions_authorised);
      const int64_t unauthorised = ParseCount(y.sessions_unauthorised);
      if (possible < 0 || attended < 0 || authorised < 0 || unauthorised < 0) {
        Err(field(), "attendance_count_invalid",
            "session counts must be whole numbers >= 0; year not mapped",
            false);
        continue;
      }
      if (attended + authorised + unauthorised > possible) {
        Err(field() + "/SessionsPossible",
            "attendance_sessions_exceed_possible",
            "sessions attended and absent add up to more than sessions "
            "possible; year not mapped",
            false);
        continue;
      }
      if (attended + authorised + unauthorised < possible) {
        Err(field(), "attendance_sessions_sum_mismatch",
            "sessions attended and absent add up to less than sessions "
            "possible; published as sent",
            true);
      }
      if (!y.attendance_marks.empty()) {
        bool bad = false;
        for (char c : y.attendance_marks) bad = bad || !IsAttendanceMark(c);
        if (bad) {
          Err(field() + "/AttendanceMarks", "attendance_mark_unknown",
              "the marks contain characters that are not attendance codes "
              "(marks are not published)",
              true);
        }
      }
      Envelope* env = NewEnvelope(ctx_, out_->case_ref,
                                  exchange::EVENT_TYPE_ATTENDANCE_SUMMARY);
      cases::AttendanceSummary* a = env->mutable_attendance_summary();
      // One Person for all the pupil's years, made of the pupil envelope's
      // own identifiers, name and date of birth (see "Shared sub-messages").
      if (attendance_pupil_ == nullptr) {
        attendance_pupil_ =
            google::protobuf::Arena::CreateMessage<cases::Person>(ctx_.arena);
        attendance_pupil_->set_person_id(person_id_);
        auto* ids = attendance_pupil_->mutable_identifiers();
        for (cases::Identifier& id : *person_->mutable_identifiers()) {
          ids->UnsafeArenaAddAllocated(&id);
        }
        attendance_pupil_->unsafe_arena_set_allocated_legal_name(
            person_->mutable_legal_name());
        attendance_pupil_->unsafe_arena_set_allocated_date_of_birth(
            person_->mutable_date_of_birth());
      }
      a->unsafe_arena_set_allocated_pupil(attendance_pupil_);
      a->set_academic_year(academic);
      const std::string lea = y.lea.empty() ? ctx_.header->source.lea : y.lea;
      const std::string estab =
          y.estab.empty() ? ctx_.header->source.estab : y.estab;
      if (AllDigits(lea, 3) && AllDigits(estab, 4)) {
        a->set_school_la_estab(lea + estab);
      }
      if (lea == ctx_.header->source.lea &&
          estab == ctx_.header->source.estab &&
          AllDigits(ctx_.header->source.urn, 6)) {
        a->set_school_urn(ctx_.header->source.urn);
      }
      if (!y.attendance_start_date.empty()) {
        if (auto d = ParseIsoDate(y.attendance_start_date)) {
          SetDate(*d, a->mutable_period_start());
        } else {
          Err(field() + "/AttendanceStartDate", "date_invalid",
              "not a real date written YYYY-MM-DD; not mapped", true);
        }
      }
      a->set_sessions_possible(static_cast<int32_t>(possible));
      a->set_sessions_attended(static_cast<int32_t>(attended));
      a->set_sessions_authorised_absence(static_cast<int32_t>(authorised));
      a->set_sessions_unauthorised_absence(static_cast<int32_t>(unauthorised));
      // Persistent absence: attendance below 90% (10% or more missed);
      // severe: 50% or more missed. Integer arithmetic, no rounding.
      a->set_persistent_absence(possible > 0 && attended * 10 < possible * 9);
      a->set_severe_absence(possible > 0 && attended * 2 <= possible);
      SetKey(env, 'a',
             Fnv1a64({"a", ctx_.source_la_estab, upn_, academic, lea + estab}),
             key_context_, {p_->core_digest, y.native_digest}, &key_buf_);
      out_->envelopes.push_back(env);
    }
  }

  // A Code message on the file's arena, shared by every envelope of the
  // file that carries the same code (system, code, version, original value
  // and display): sex, ethnicity, language, SEN and relationship codes
  // repeat from pupil to pupil, and each Code is five arena strings, the
  // system URI a heap block. Read-only once made, like every shared
  // sub-message; at most kMaxSharedCodes distinct ones are kept (any more
  // are made per use), so odd input cannot grow the table.
  cases::Code* SharedCode(const std::string& system, std::string_view code,
                          const std::string& version, std::string_view original,
                          std::string_view display = {}) {
    std::string& key = code_key_;  // length-prefixed parts: unambiguous
    key.clear();
    for (std::string_view part :
         {std::string_view(system), code, std::string_view(version), original,
          display}) {
      PutLe64(&key, part.size());
      key.append(part);
    }
    if (auto it = codes_.find(key); it != codes_.end()) return it->second;
    auto* c = google::protobuf::Arena::CreateMessage<cases::Code>(ctx_.arena);
    SetCode(c, system, code, version, original, display);
    if (codes_.size() < kMaxSharedCodes) codes_.emplace(key, c);
    return c;
  }
  static constexpr size_t kMaxSharedCodes = 4096;

  const Ctx& ctx_;
  const CtfPupil* p_ = nullptr;
  MappedPupil* out_ = nullptr;
  std::string upn_;
  UpnKind upn_kind_ = UpnKind::kBadFormat;
  std::string nhs_;
  bool nhs_valid_ = false;
  CivilDate dob_;
  std::string person_id_;
  // Contact id and the lower-cased names it hashes (reused buffers).
  std::string cid_, lower_surname_, lower_forename_;
  // The Person every attendance envelope of this pupil points to.
  cases::Person* attendance_pupil_ = nullptr;
  // The pupil's envelope (on the arena) and its person, built in place.
  Envelope* pupil_env_ = nullptr;
  cases::Person* person_ = nullptr;
  google::protobuf::RepeatedPtrField<cases::Identifier>* superseded_ = nullptr;
  std::string key_context_;
  std::string key_buf_;
  // AddressKeyInto(p_->address), "" until used; and a contact's.
  std::string pupil_address_key_, contact_address_key_;
  // SharedCode's table (key: the Code's parts) and its key buffer.
  std::unordered_map<std::string, cases::Code*> codes_;
  std::string code_key_;
};

// Parents and carers by name and relationship: siblings share at least one.
bool IsParentCode(std::string_view code) {
  return code == "PAM" || code == "PAF" || code == "STM" || code == "STF" ||
         code == "FOM" || code == "FOF" || code == "CAR";
}

// Lower(surname) "|" Lower(forename) "|" Upper(relationship), into `*out`.
void ContactKeyInto(const CtfContact& c, std::string* out) {
  out->clear();
  AppendLower(c.surname, out);
  out->push_back('|');
  AppendLower(c.forename, out);
  out->push_back('|');
  AppendUpper(c.relationship, out);
}

// Flags pupils whose siblings (pupils sharing a parent or carer contact in
// the same file) record a different father or father's parental
// responsibility. Nothing is copied between records. Fed one pupil at a
// time, in file order, so the pupils need not all be kept: it keeps only
// each pupil's father contacts (as keys) and a union-find over pupils.
class SiblingFathers {
 public:
  // Pupil `i` (0-based, in file order; called for every pupil).
  void Add(size_t i, const CtfPupil& p, bool dropped) {
    parent_.push_back(i);
    fathers_.emplace_back();
    if (dropped) return;
    for (const CtfContact& c : p.contacts) {
      if (!IsParentCode(Upper(c.relationship)) || c.surname.empty()) continue;
      ContactKeyInto(c, &key_);
      auto it = first_with_.find(key_);
      if (it == first_with_.end()) {
        first_with_.emplace(key_, i);
      } else {
        parent_[Find(i)] = Find(it->second);
      }
    }
    // The set of "<contact key>|<parental responsibility>" of the pupil's
    // fathers, kept as its sorted, distinct members joined by NULs (XML
    // text never contains one), so that equal sets are equal strings.
    size_t n = 0;  // keys_[0, n) are this pupil's (the strings are reused)
    for (const CtfContact& c : p.contacts) {
      if (Upper(c.relationship) != "PAF") continue;
      bool rec;
      if (n == keys_.size()) keys_.emplace_back();
      std::string& k = keys_[n++];
      ContactKeyInto(c, &k);
      k += "|" + std::to_string(ParseYesNo(c.responsibility, &rec));
    }
    if (n == 0) return;
    std::sort(keys_.begin(), keys_.begin() + n);
    const auto end = std::unique(keys_.begin(), keys_.begin() + n);
    std::string& f = fathers_.back();
    for (auto k = keys_.begin(); k != end; ++k) {
      if (k != keys_.begin()) f.push_back('\0');
      f += *k;
    }
  }

  void Finish(MappedCtf* out) {
    const size_t n = parent_.size();
    std::map<size_t, std::vector<size_t>> groups;
    for (size_t i = 0; i < n; ++i) {
      if (!out->pupils[i].dropped) groups[Find(i)].push_back(i);
    }
    for (const auto& [root, members] : groups) {
      if (members.size() < 2) continue;
      const std::string& first = fathers_[members[0]];
      bool differ = false;
      for (size_t m : members) differ = differ || fathers_[m] != first;
      if (!differ) continue;
      for (size_t m : members) {
        MappedPupil& mp = out->pupils[m];
        if (mp.no_open_case) continue;
        AddError(&mp.errors, mp.position, "Contacts", "sibling_father_differs",
                 "a sibling in this file records a different father contact "
                 "or parental responsibility; nothing was copied between "
                 "records",
                 true);
      }
    }
  }

 private:
  size_t Find(size_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  std::vector<size_t> parent_;
  std::map<std::string, size_t> first_with_;
  std::vector<std::string> fathers_;  // per pupil, see Add
  std::string key_;                   // reused
  std::vector<std::string> keys_;     // reused
};

// MapCtf in steps, so that ReadAndMapCtf can map each pupil as it is read:
// Header() once, Pupil() for each pupil in file order, Finish() after the
// last. Pupils given before the header are kept until it comes.
class FileMapper {
 public:
  FileMapper(const MapOptions& options, MappedCtf* out)
      : options_(options), out_(out) {}

  void Header(const CtfHeader& h) {
    header_ = h;
    have_header_ = true;
    refused_ = !Begin();
    for (CtfPupil& p : pending_) Map(p);
    pending_.clear();
  }

  void Pupil(const CtfPupil& p) {
    ++out_->pupils_read;
    if (!have_header_) {
      pending_.push_back(p);
      return;
    }
    Map(p);
  }

  void Finish(const std::vector<std::string>& unknown_elements) {
    if (refused_) return;
    for (const std::string& path : unknown_elements) {
      AddError(&out_->file_errors, path, path, "unknown_element",
               "element not known to the adapter; not mapped", true);
    }
    siblings_.Finish(out_);
  }

 private:
  // The file-level context and checks. False: the file is refused
  // (out_->file_rule is set) and no pupil is mapped.
  bool Begin() {
    const CtfHeader& h = header_;
    Ctx& ctx = ctx_;
    MappedCtf& out = *out_;
    ctx.options = &options_;
    ctx.header = &header_;
    ctx.source_la_estab = h.source.lea + h.source.estab;
    ctx.version = h.version;
    ctx.pupil_reason = "Common Transfer File " + ctx.version + " from school " +
                       ctx.source_la_estab;
    ctx.contact_reason = "Common Transfer File " + ctx.version +
                         " contact from school " + ctx.source_la_estab;
    ctx.key_context = "ctf-native-1";
    ctx.key_context.push_back('\x1f');
    PutLe64(&ctx.key_context, h.native_digest);
    ctx.key_context += options_.school_agency_id;
    ctx.key_context.push_back('\x1f');

    // The header DateTime (local Europe/London) is the occurred_at of every
    // message: without it nothing can be published deterministically.
    const std::string header_pos = "CTfile/Header";
    if (h.date_time.empty()) {
      out.file_rule = "required";
      out.file_message = "CTfile/Header/DateTime is missing";
      return false;
    }
    const LocalTimeResult t = ParseLondonDateTime(h.date_time);
    switch (t.kind) {
      case LocalTimeKind::kInvalid:
        out.file_rule = "date_invalid";
        out.file_message =
            "CTfile/Header/DateTime is not a real YYYY-MM-DDThh:mm:ss time";
        return false;
      case LocalTimeKind::kUnique:
        ctx.occurred_at = t.unix_seconds;
        break;
      case LocalTimeKind::kNonexistent:
      case LocalTimeKind::kAmbiguous: {
        const bool gap = t.kind == LocalTimeKind::kNonexistent;
        AddError(
            &out.file_errors, header_pos, "DateTime",
            gap ? "dst_nonexistent_local_time" : "dst_ambiguous_local_time",
            gap ? "the local time does not exist in Europe/London (clock "
                  "change); occurred_at is the start of that day, the "
                  "time is not guessed"
                : "the local time occurs twice in Europe/London (clock "
                  "change); occurred_at is the start of that day, the "
                  "time is not guessed",
            true);
        ctx.occurred_at = LondonMidnight(t.date);
        break;
      }
    }
    if (h.version.empty()) {
      AddError(&out.file_errors, header_pos, "CTFversion", "required",
               "the CTF version is missing; read with the CTF 25 shape", true);
    } else {
      if (h.version_element != "CTFversion") {
        AddError(&out.file_errors, header_pos, h.version_element,
                 "ctf_version_spelling",
                 "the XSD spells the element CTFversion; tolerated", true);
      }
      const std::string major = h.version.substr(0, h.version.find('.'));
      if (major != "24" && major != "25") {
        AddError(
            &out.file_errors, header_pos, "CTFversion", "ctf_version_untested",
            "only CTF 24 and 25 are tested; read with the CTF 25 shape", true);
      }
    }

    // Every envelope lives on one arena owned by the result: building a
    // few hundred thousand small messages is then a pointer bump each, and
    // freeing them is freeing a few large blocks.
    google::protobuf::ArenaOptions arena_options;
    arena_options.start_block_size = size_t{64} << 10;
    arena_options.max_block_size = size_t{1} << 20;
    out.arena = std::make_unique<google::protobuf::Arena>(arena_options);
    ctx.arena = out.arena.get();
    ctx.occurred_at_message =
        google::protobuf::Arena::CreateMessage<google::protobuf::Timestamp>(
            ctx.arena);
    ctx.occurred_at_message->set_seconds(ctx.occurred_at);
    return true;
  }

  void Map(const CtfPupil& p) {
    if (refused_) return;
    const size_t i = out_->pupils.size();
    MappedPupil& mp = out_->pupils.emplace_back();
    pupil_mapper_.Map(p, &mp);
    for (const std::string& path : p.unknown_elements) {
      AddError(&mp.errors, mp.position, path, "unknown_element",
               "element not known to the adapter; not mapped", true);
    }
    siblings_.Add(i, p, mp.dropped);
  }

  const MapOptions& options_;
  MappedCtf* out_;
  CtfHeader header_;
  bool have_header_ = false;
  bool refused_ = false;
  Ctx ctx_;
  PupilMapper pupil_mapper_{ctx_};
  std::vector<CtfPupil> pending_;
  SiblingFathers siblings_;
};

// ReadAndMapCtf's reader handler.
class MapWhileReading : public CtfHandler {
 public:
  MapWhileReading(std::string_view bytes, FileMapper* mapper, MappedCtf* out)
      : bytes_(bytes), mapper_(mapper), out_(out) {}
  void OnHeader(const CtfHeader& header) override { mapper_->Header(header); }
  void OnPupil(CtfPupil* pupil, size_t begin, size_t end) override {
    if (out_->pupils_read == 0) {
      // Sized from the first pupil's length and the bytes left, as
      // ReadCtf sizes its pupil vector (pupils taken as >= 1 KB).
      const size_t first = end - std::min(end, begin);
      const size_t left = bytes_.size() - std::min(bytes_.size(), begin);
      const size_t estimate = left / std::max<size_t>(first, 1024);
      out_->pupils.reserve(estimate + estimate / 8 + 1);
    }
    mapper_->Pupil(*pupil);
  }

 private:
  std::string_view bytes_;
  FileMapper* mapper_;
  MappedCtf* out_;
};

}  // namespace

MappedCtf MapCtf(const CtfFile& file, const MapOptions& options) {
  MappedCtf out;
  FileMapper mapper(options, &out);
  mapper.Header(file.header);
  out.pupils.reserve(file.pupils.size());
  for (const CtfPupil& p : file.pupils) mapper.Pupil(p);
  mapper.Finish(file.unknown_elements);
  return out;
}

bool ReadAndMapCtf(std::string_view bytes, const XmlLimits& limits,
                   const MapOptions& options, MappedCtf* out,
                   CtfFileError* error) {
  *out = MappedCtf();
  FileMapper mapper(options, out);
  MapWhileReading handler(bytes, &mapper, out);
  std::vector<std::string> unknown;
  if (!ReadCtfStream(bytes, limits, &handler, &unknown, error)) {
    *out = MappedCtf();
    return false;
  }
  mapper.Finish(unknown);
  return true;
}

}  // namespace ehx::adapters::school
