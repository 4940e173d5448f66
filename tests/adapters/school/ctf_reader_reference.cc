// TESTS ONLY (compiled into school_adapter_test and the school fuzz target,
// never into the adapter): the tree-based CTF reader the adapter used up to
// session 5 (FlatXmlTree per Pupil, then ReadPupil walking it), kept
// verbatim as the reference the streaming reader (ctf_reader.cc) must match
// field by field. See ctf_reader_reference.h.
#include "ctf_reader_reference.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace ehx::adapters::school::reference {
namespace {

using Tree = FlatXmlTree;
constexpr int kNone = FlatXmlTree::kNone;

// The record structs are reused from pupil to pupil, so every field must be
// reset or assigned for each one; size checks (below) remind whoever adds a
// field. The sizes are those of libstdc++ on x86-64 (Debian 12, the CI
// toolchain, gcc and clang alike); elsewhere the checks are off.
#if defined(__GLIBCXX__) && defined(__x86_64__)
constexpr bool kCheckRecordSizes = true;
#else
constexpr bool kCheckRecordSizes = false;
#endif

// Records "<path>/<name>" for every child of `e` not in `known` (once).
void NoteUnknown(const Tree& t, int e, std::string_view path,
                 std::initializer_list<std::string_view> known,
                 std::vector<std::string>* out) {
  for (int c = t.FirstChild(e); c != kNone; c = t.NextSibling(c)) {
    const std::string_view name = t.Name(c);
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string p = std::string(path) + "/" + std::string(name);
    if (std::find(out->begin(), out->end(), p) == out->end()) {
      out->push_back(std::move(p));
    }
  }
}

// The child element names one element type knows, looked up by an open
// addressing table over the names' 8-byte prefixes, so reading an element
// is one pass over its children (First) instead of one scan of them per
// field (FlatXmlTree::Child): the pupil asks for ~30 names, most absent.
// Field i is names[i]; an enum alongside gives them names.
template <size_t N>
class NameTable {
 public:
  explicit NameTable(const std::array<std::string_view, N>& names)
      : names_(names) {
    slots_.fill(-1);
    for (size_t i = 0; i < N; ++i) {
      prefixes_[i] = Tree::PrefixOf(names_[i]);
      size_t h = Slot(prefixes_[i], names_[i].size());
      while (slots_[h] >= 0) h = (h + 1) & kMask;
      slots_[h] = static_cast<int>(i);
    }
  }

  // The field named like child `c` of `t`, or -1.
  int Find(const Tree& t, int c) const {
    const std::string_view name = t.Name(c);
    const uint64_t prefix = t.NamePrefix(c);
    for (size_t h = Slot(prefix, name.size()); slots_[h] >= 0;
         h = (h + 1) & kMask) {
      const int i = slots_[h];
      if (prefixes_[i] == prefix && names_[i].size() == name.size() &&
          (name.size() <= 8 ||
           std::memcmp(names_[i].data() + 8, name.data() + 8,
                       name.size() - 8) == 0)) {
        return i;
      }
    }
    return -1;
  }

  // first[i] = the first child of `e` named names[i] (kNone if none), in
  // one pass. Children with no field are appended to `unknown` (if given)
  // in document order.
  void First(const Tree& t, int e, std::array<int, N>* first,
             std::vector<int>* unknown) const {
    first->fill(kNone);
    for (int c = t.FirstChild(e); c != kNone; c = t.NextSibling(c)) {
      const int i = Find(t, c);
      if (i < 0) {
        if (unknown != nullptr) unknown->push_back(c);
      } else if ((*first)[i] == kNone) {
        (*first)[i] = c;
      }
    }
  }

 private:
  static constexpr size_t kSlots = 128;  // N <= 40: load <= 1/3
  static constexpr size_t kMask = kSlots - 1;
  static_assert(N * 3 <= kSlots);
  static size_t Slot(uint64_t prefix, size_t size) {
    return static_cast<size_t>(((prefix ^ size) * 0x9E3779B97F4A7C15ull) >> 57);
  }
  std::array<std::string_view, N> names_;
  std::array<uint64_t, N> prefixes_{};
  std::array<int, kSlots> slots_{};
};

// NoteUnknown for children already found unknown by NameTable::First.
void NoteUnknownNodes(const Tree& t, const std::vector<int>& nodes,
                      std::string_view path, std::vector<std::string>* out) {
  for (int c : nodes) {
    std::string p = std::string(path) + "/" + std::string(t.Name(c));
    if (std::find(out->begin(), out->end(), p) == out->end()) {
      out->push_back(std::move(p));
    }
  }
}

CtfSchool ReadSchool(const Tree& t, int e) {
  CtfSchool s;
  if (e == kNone) return s;
  s.lea = t.ChildString(e, "LEA");
  s.estab = t.ChildString(e, "Estab");
  s.urn = t.ChildString(e, "URN");
  s.name = t.ChildString(e, "SchoolName");
  s.academic_year = t.ChildString(e, "AcademicYear");
  return s;
}

void ReadPhones(const Tree& t, int phones, std::vector<CtfPhone>* out) {
  if (phones == kNone) return;
  for (int p = t.FirstChild(phones); p != kNone; p = t.NextSibling(p)) {
    if (t.Name(p) != "Phone") continue;
    out->push_back(
        {t.ChildString(p, "TelephoneType"), t.ChildString(p, "PhoneNo")});
  }
}

enum AddressField {
  kABs7666,
  kALines,
  kACounty,
  kAPostCode,
  kAZip,
  kACountry,
  kAddressFields
};
const NameTable<kAddressFields>& AddressNames() {
  static const auto* table =
      new NameTable<kAddressFields>({"BS7666Address", "AddressLines", "County",
                                     "PostCode", "Zip", "Country"});
  return *table;
}

enum Bs7666Field {
  kBsSaon,
  kBsPaon,
  kBsStreet,
  kBsLocality,
  kBsTown,
  kBsAdministrativeArea,
  kBsPostTown,
  kBsUprn,
  kBs7666Fields
};
const NameTable<kBs7666Fields>& Bs7666Names() {
  static const auto* table = new NameTable<kBs7666Fields>(
      {"SAON", "PAON", "Street", "Locality", "Town", "AdministrativeArea",
       "PostTown", "UniquePropertyReferenceNumber"});
  return *table;
}

// `out` is empty (a new or reset CtfAddress). One pass over each element's
// children (NameTable::First: the first child of each name, as Child()).
void ReadAddress(const Tree& t, int a, CtfAddress* out) {
  if (a == kNone) return;
  out->present = true;
  std::array<int, kAddressFields> f;
  AddressNames().First(t, a, &f, nullptr);
  if (const int bs = f[kABs7666]; bs != kNone) {
    out->bs7666 = true;
    std::array<int, kBs7666Fields> g;
    Bs7666Names().First(t, bs, &g, nullptr);
    out->saon = t.Text(g[kBsSaon]);
    out->paon = t.Text(g[kBsPaon]);
    out->street = t.Text(g[kBsStreet]);
    out->locality = t.Text(g[kBsLocality]);
    out->town = t.Text(g[kBsTown]);
    out->administrative_area = t.Text(g[kBsAdministrativeArea]);
    out->post_town = t.Text(g[kBsPostTown]);
    out->uprn = t.Text(g[kBsUprn]);
  }
  if (const int lines = f[kALines]; lines != kNone) {
    for (int l = t.FirstChild(lines); l != kNone; l = t.NextSibling(l)) {
      if (t.Name(l).rfind("AddressLine", 0) == 0) {
        const std::string_view v = t.Text(l);
        if (!v.empty()) out->lines.emplace_back(v);
      }
    }
  }
  out->county = t.Text(f[kACounty]);
  out->postcode = t.Text(f[kAPostCode]);
  out->zip = t.Text(f[kAZip]);
  out->country = t.Text(f[kACountry]);
}

uint64_t SpanDigest(std::string_view bytes, size_t begin, size_t end) {
  if (end > bytes.size() || begin > end) return 0;
  return XXH3_64bits(bytes.data() + begin, end - begin);
}

enum ContactField {
  kCOrder,
  kCTitle,
  kCSurname,
  kCForename,
  kCMiddleNames,
  kCSex,
  kCGender,
  kCRelationship,
  kCResponsibility,
  kCAddress,
  kCPhones,
  kCEmail,
  kContactFields
};
const NameTable<kContactFields>& ContactNames() {
  static const auto* table = new NameTable<kContactFields>(
      {"Order", "Title", "Surname", "Forename", "MiddleNames", "Sex", "Gender",
       "Relationship", "Responsibility", "Address", "Phones", "Email"});
  return *table;
}

void ResetAddress(CtfAddress* a) {
  a->present = a->bs7666 = false;
  for (std::string* s : {&a->saon, &a->paon, &a->street, &a->locality, &a->town,
                         &a->administrative_area, &a->post_town, &a->uprn,
                         &a->county, &a->postcode, &a->zip, &a->country}) {
    s->clear();
  }
  a->lines.clear();
}

void ReadContact(const Tree& t, int c, std::string_view bytes,
                 const std::string& path, std::vector<std::string>* unknown,
                 std::vector<int>* scratch, CtfContact* out_ptr) {
  // Possibly a reused contact: what is not assigned unconditionally below
  // is reset first (the size check is a reminder for new fields).
  static_assert(!kCheckRecordSizes || sizeof(CtfContact) == 752,
                "CtfContact changed: reset the new field in ReadContact");
  CtfContact& out = *out_ptr;
  out.sex.clear();
  out.address_as_pupil = false;
  ResetAddress(&out.address);
  out.phones.clear();
  std::array<int, kContactFields> f;
  scratch->clear();
  ContactNames().First(t, c, &f, scratch);
  out.line = t.Line(c);
  out.order = t.Text(f[kCOrder]);
  out.title = t.Text(f[kCTitle]);
  out.surname = t.Text(f[kCSurname]);
  out.forename = t.Text(f[kCForename]);
  out.middle_names = t.Text(f[kCMiddleNames]);
  // Sex, or the legacy Gender element.
  if (f[kCSex] != kNone) {
    out.sex = t.Text(f[kCSex]);
  } else if (f[kCGender] != kNone) {
    out.sex = t.Text(f[kCGender]);
  }
  out.relationship = t.Text(f[kCRelationship]);
  out.responsibility = t.Text(f[kCResponsibility]);
  if (const int a = f[kCAddress]; a != kNone) {
    if (const int as = t.Child(a, "AddressAsPupil"); as != kNone) {
      const std::string_view v = t.Text(as);
      out.address_as_pupil =
          v == "true" || v == "1" || v == "Y" || v == "Yes" || v.empty();
    }
    if (!out.address_as_pupil) ReadAddress(t, a, &out.address);
  }
  ReadPhones(t, f[kCPhones], &out.phones);
  out.email = t.Text(f[kCEmail]);
  out.native_digest = SpanDigest(bytes, t.Begin(c), t.End(c));
  NoteUnknownNodes(t, *scratch, path, unknown);
}

enum PupilField {
  kUpn,
  kUln,
  kUci,
  kSurname,
  kForename,
  kDob,
  kSex,
  kGender,
  kNhsNumber1,
  kNhsNumber2,
  kNhsNo,
  kBasicDetails,
  kLookedAfter,
  kFsmHistory,
  kSenHistory,
  kAddress,
  kPhones,
  kEmail,
  kContacts,
  kAttendance,
  // Known and deliberately not read (README "Ignored").
  kStageAssessments,
  kSchoolHistory,
  kAdmissions,
  kNawDetails,
  kServiceChildren,
  kService,
  kExclusions,
  kPhoto,
  kPupilFields
};
const NameTable<kPupilFields>& PupilNames() {
  static const auto* table = new NameTable<kPupilFields>({"UPN",
                                                          "UniqueLearnerNumber",
                                                          "UCI",
                                                          "Surname",
                                                          "Forename",
                                                          "DOB",
                                                          "Sex",
                                                          "Gender",
                                                          "NHSnumber",
                                                          "NHSNumber",
                                                          "NHSNo",
                                                          "BasicDetails",
                                                          "LookedAfter",
                                                          "FSMhistory",
                                                          "SENhistory",
                                                          "Address",
                                                          "Phones",
                                                          "Email",
                                                          "Contacts",
                                                          "Attendance",
                                                          "StageAssessments",
                                                          "SchoolHistory",
                                                          "Admissions",
                                                          "NAWdetails",
                                                          "ServiceChildren",
                                                          "Service",
                                                          "Exclusions",
                                                          "Photo"});
  return *table;
}

enum BasicField {
  kBFormerUpn,
  kBPreferredSurname,
  kBFormerSurname,
  kBPreferredForename,
  kBFormerForename,
  kBMiddleNames,
  kBNcYearActual,
  kBEthnicity,
  kBEthnicitySource,
  kBLanguages,
  kBMedicalFlag,
  kBDisabilities,
  kBEnrolStatus,
  kBSex,
  kBGender,
  kBNhsNumber1,
  kBNhsNumber2,
  kBNhsNo,
  kBasicFields
};
const NameTable<kBasicFields>& BasicNames() {
  static const auto* table = new NameTable<kBasicFields>(
      {"FormerUPN", "PreferredSurname", "FormerSurname", "PreferredForename",
       "FormerForename", "MiddleNames", "NCyearActual", "Ethnicity",
       "EthnicitySource", "Languages", "MedicalFlag", "Disabilities",
       "EnrolStatus", "Sex", "Gender", "NHSnumber", "NHSNumber", "NHSNo"});
  return *table;
}

enum YearField {
  kYYear,
  kYLea,
  kYEstab,
  kYSchoolName,
  kYPossible,
  kYAuthorised,
  kYAttended,
  kYUnauthorised,
  kYStartDate,
  kYMarks,
  kYearFields
};
const NameTable<kYearFields>& YearNames() {
  static const auto* table = new NameTable<kYearFields>(
      {"Year", "LEA", "Estab", "SchoolName", "SessionsPossible",
       "SessionsAuthorised", "SessionsAttended", "SessionsUnauthorised",
       "AttendanceStartDate", "AttendanceMarks"});
  return *table;
}

// The first present of Sex, Gender (as ReadSex) and of the NHS number
// extensions (as NhsExtension), from First() results.
void SexFrom(const Tree& t, int sex, int gender, std::string* value,
             std::string* element) {
  if (sex != kNone) {
    *value = std::string(t.Text(sex));
    *element = "Sex";
  } else if (gender != kNone) {
    *value = std::string(t.Text(gender));
    *element = "Gender";
  }
}
std::string NhsFrom(const Tree& t, int a, int b, int c) {
  for (const int n : {a, b, c}) {
    if (n != kNone) return std::string(t.Text(n));
  }
  return {};
}

// The digests of the pupil's bytes without some of its direct children.
void PupilDigests(const Tree& t, std::string_view bytes, CtfPupil* out) {
  XXH3_state_t without_attendance, core;
  XXH3_64bits_reset(&without_attendance);
  XXH3_64bits_reset(&core);
  size_t at_wa = t.Begin(0), at_core = t.Begin(0);
  const size_t end = std::min(t.End(0), bytes.size());
  if (at_wa > end) return;
  auto feed = [&](XXH3_state_t* s, size_t* at, size_t upto) {
    if (upto > *at) XXH3_64bits_update(s, bytes.data() + *at, upto - *at);
  };
  for (int c = t.FirstChild(0); c != kNone; c = t.NextSibling(c)) {
    const std::string_view name = t.Name(c);
    const bool attendance = name == "Attendance";
    if (!attendance && name != "Contacts") continue;
    const size_t b = std::min(t.Begin(c), end), e = std::min(t.End(c), end);
    feed(&core, &at_core, b);
    at_core = e;
    if (attendance) {
      feed(&without_attendance, &at_wa, b);
      at_wa = e;
    }
  }
  feed(&core, &at_core, end);
  feed(&without_attendance, &at_wa, end);
  out->core_digest = XXH3_64bits_digest(&core);
  out->digest_without_attendance = XXH3_64bits_digest(&without_attendance);
}

// Empties a reused CtfPupil (strings keep their capacity). Every field is
// listed: the size check below fails when a field is added, as a reminder
// to clear it here too (ReadPupil sets some fields only when present).
void ResetPupil(CtfPupil* p) {
  static_assert(!kCheckRecordSizes || sizeof(CtfPupil) == 1464,
                "CtfPupil changed: clear the new field in ResetPupil");
  p->index = p->line = 0;
  for (std::string* s : {&p->upn,
                         &p->uln,
                         &p->uci,
                         &p->surname,
                         &p->forename,
                         &p->dob,
                         &p->sex,
                         &p->sex_element,
                         &p->nhs_number,
                         &p->former_upn,
                         &p->preferred_surname,
                         &p->former_surname,
                         &p->preferred_forename,
                         &p->former_forename,
                         &p->middle_names,
                         &p->nc_year_actual,
                         &p->ethnicity,
                         &p->ethnicity_source,
                         &p->medical_flag,
                         &p->enrol_status,
                         &p->in_care,
                         &p->care_authority,
                         &p->fsm_review_date,
                         &p->sen_start_date,
                         &p->sen_provision,
                         &p->email}) {
    s->clear();
  }
  p->languages.clear();
  p->disabilities.clear();
  p->fsm.clear();
  p->sen_needs.clear();
  ResetAddress(&p->address);
  p->phones.clear();
  // contacts and attendance are reused in place by ReadPupil.
  p->unknown_elements.clear();
  p->digest_without_attendance = p->core_digest = 0;
}

// Reads the pupil held in `t` (node 0) into `*out_ptr` (a new CtfPupil,
// filled in place: the struct is large).
void ReadPupil(const Tree& t, std::string_view bytes, int index,
               CtfPupil* out_ptr) {
  constexpr int p = 0;
  CtfPupil& out = *out_ptr;
  ResetPupil(&out);
  std::array<int, kPupilFields> f;
  std::vector<int> pupil_unknown, scratch;
  PupilNames().First(t, p, &f, &pupil_unknown);
  out.index = index;
  out.line = t.Line(p);
  const std::string path = "Pupil";
  out.upn = t.Text(f[kUpn]);
  out.uln = t.Text(f[kUln]);
  out.uci = t.Text(f[kUci]);
  out.surname = t.Text(f[kSurname]);
  out.forename = t.Text(f[kForename]);
  out.dob = t.Text(f[kDob]);
  SexFrom(t, f[kSex], f[kGender], &out.sex, &out.sex_element);
  out.nhs_number = NhsFrom(t, f[kNhsNumber1], f[kNhsNumber2], f[kNhsNo]);

  if (const int b = f[kBasicDetails]; b != kNone) {
    std::array<int, kBasicFields> g;
    BasicNames().First(t, b, &g, &scratch);
    out.former_upn = t.Text(g[kBFormerUpn]);
    out.preferred_surname = t.Text(g[kBPreferredSurname]);
    out.former_surname = t.Text(g[kBFormerSurname]);
    out.preferred_forename = t.Text(g[kBPreferredForename]);
    out.former_forename = t.Text(g[kBFormerForename]);
    out.middle_names = t.Text(g[kBMiddleNames]);
    out.nc_year_actual = t.Text(g[kBNcYearActual]);
    out.ethnicity = t.Text(g[kBEthnicity]);
    out.ethnicity_source = t.Text(g[kBEthnicitySource]);
    out.medical_flag = t.Text(g[kBMedicalFlag]);
    out.enrol_status = t.Text(g[kBEnrolStatus]);
    if (out.sex.empty()) {
      SexFrom(t, g[kBSex], g[kBGender], &out.sex, &out.sex_element);
    }
    if (out.nhs_number.empty()) {
      out.nhs_number = NhsFrom(t, g[kBNhsNumber1], g[kBNhsNumber2], g[kBNhsNo]);
    }
    if (const int langs = g[kBLanguages]; langs != kNone) {
      for (int ty = t.FirstChild(langs); ty != kNone; ty = t.NextSibling(ty)) {
        if (t.Name(ty) != "Type") continue;
        std::string_view code = t.ChildText(ty, "Language");
        if (code.empty()) code = t.Text(ty);
        if (!code.empty()) out.languages.emplace_back(code);
      }
    }
    if (const int d = g[kBDisabilities]; d != kNone) {
      for (int x = t.FirstChild(d); x != kNone; x = t.NextSibling(x)) {
        if (t.Name(x) == "Disability" && !t.Text(x).empty()) {
          out.disabilities.emplace_back(t.Text(x));
        }
      }
    }
    NoteUnknownNodes(t, scratch, path + "/BasicDetails", &out.unknown_elements);
  }
  if (const int la = f[kLookedAfter]; la != kNone) {
    out.in_care = t.ChildString(la, "InCare");
    out.care_authority = t.ChildString(la, "CareAuthority");
  }
  if (const int fh = f[kFsmHistory]; fh != kNone) {
    out.fsm_review_date = t.ChildString(fh, "FSMreviewDate");
    for (int i = t.FirstChild(fh); i != kNone; i = t.NextSibling(i)) {
      if (t.Name(i) != "FSMinstance") continue;
      out.fsm.push_back({t.ChildString(i, "FSMstartDate"),
                         t.ChildString(i, "FSMendDate"),
                         t.ChildString(i, "UKcountry")});
    }
  }
  if (const int s = f[kSenHistory]; s != kNone) {
    if (const int sen = t.Child(s, "SEN"); sen != kNone) {
      out.sen_start_date = t.ChildString(sen, "StartDate");
      out.sen_provision = t.ChildString(sen, "SENprovision");
    }
    if (const int needs = t.Child(s, "SENneeds"); needs != kNone) {
      for (int n = t.FirstChild(needs); n != kNone; n = t.NextSibling(n)) {
        if (t.Name(n) != "SENneed") continue;
        // SENneed is either text or { SENtype, SENrank }.
        std::string_view code = t.ChildText(n, "SENtype");
        if (code.empty() && t.FirstChild(n) == kNone) code = t.Text(n);
        if (!code.empty()) out.sen_needs.emplace_back(code);
      }
    }
  }
  ReadAddress(t, f[kAddress], &out.address);
  ReadPhones(t, f[kPhones], &out.phones);
  out.email = t.Text(f[kEmail]);
  // Children counted first so each vector is allocated once.
  auto count = [&t](int parent, std::string_view name) {
    size_t n = 0;
    for (int c = t.FirstChild(parent); c != kNone; c = t.NextSibling(c)) {
      n += t.Name(c) == name;
    }
    return n;
  };
  // A reused pupil keeps its contacts and years (and their strings'
  // capacity): they are overwritten in place, extras dropped at the end.
  size_t contacts = 0, years = 0;
  if (const int cs = f[kContacts]; cs != kNone) {
    out.contacts.reserve(count(cs, "Contact"));
    const std::string contact_path = path + "/Contacts/Contact";
    for (int c = t.FirstChild(cs); c != kNone; c = t.NextSibling(c)) {
      if (t.Name(c) != "Contact") continue;
      if (contacts == out.contacts.size()) out.contacts.emplace_back();
      ReadContact(t, c, bytes, contact_path, &out.unknown_elements, &scratch,
                  &out.contacts[contacts++]);
    }
  }
  out.contacts.resize(contacts);
  if (const int a = f[kAttendance]; a != kNone) {
    out.attendance.reserve(count(a, "YearData"));
    std::array<int, kYearFields> g;
    for (int y = t.FirstChild(a); y != kNone; y = t.NextSibling(y)) {
      if (t.Name(y) != "YearData") continue;
      YearNames().First(t, y, &g, nullptr);
      if (years == out.attendance.size()) out.attendance.emplace_back();
      // Every field is assigned below (the size check is a reminder).
      static_assert(!kCheckRecordSizes || sizeof(CtfYearData) == 336,
                    "CtfYearData changed: assign the new field here");
      CtfYearData& d = out.attendance[years++];
      d.line = t.Line(y);
      d.year = t.Text(g[kYYear]);
      d.lea = t.Text(g[kYLea]);
      d.estab = t.Text(g[kYEstab]);
      d.school_name = t.Text(g[kYSchoolName]);
      d.sessions_possible = t.Text(g[kYPossible]);
      d.sessions_authorised = t.Text(g[kYAuthorised]);
      d.sessions_attended = t.Text(g[kYAttended]);
      d.sessions_unauthorised = t.Text(g[kYUnauthorised]);
      d.attendance_start_date = t.Text(g[kYStartDate]);
      // Marks are position-significant: not trimmed beyond line breaks.
      d.attendance_marks = t.Text(g[kYMarks]);
      d.native_digest = SpanDigest(bytes, t.Begin(y), t.End(y));
    }
  }
  out.attendance.resize(years);
  NoteUnknownNodes(t, pupil_unknown, path, &out.unknown_elements);
  PupilDigests(t, bytes, &out);
}

void NoteOnce(std::vector<std::string>* list, std::string path) {
  if (std::find(list->begin(), list->end(), path) == list->end()) {
    list->push_back(std::move(path));
  }
}

// Streams the document: the Header subtree and one Pupil subtree at a time
// are built as flat trees; everything else is only looked at by name.
class CtfSink : public XmlSink {
 public:
  CtfSink(std::string_view bytes, CtfHandler* handler)
      : bytes_(bytes), lines_(bytes), handler_(handler) {}

  // (Only the signatures changed since the tree reader was retired: the
  // offsets are asked for at once, as StreamXml used to pass them.)
  void StartElement(std::string_view name, const XmlPosition& at) override {
    const size_t begin = at.Begin();
    ++depth_;
    if (capture_ != nullptr) {
      capture_->Start(name, begin, NeedsLine() ? lines_.LineAt(begin) : 0);
      return;
    }
    if (depth_ == 1) {
      root_line_ = lines_.LineAt(begin);
      is_ctf_ = name == "CTfile";
      return;
    }
    if (!is_ctf_) return;
    if (depth_ == 2) {
      if (name == "Header") {
        if (!saw_header_) {
          saw_header_ = true;
          capture_ = &header_;
          capture_->Start(name, begin, 0);
        }
      } else if (name == "CTFpupilData") {
        if (!saw_data_) {
          saw_data_ = true;
          in_data_ = true;
        }
      } else {
        NoteOnce(&root_unknown_, "CTfile/" + std::string(name));
      }
      return;
    }
    if (depth_ == 3 && in_data_) {
      if (name == "Pupil") {
        pupil_.Clear();
        capture_ = &pupil_;
        capture_->Start(name, begin, lines_.LineAt(begin));
      } else {
        NoteOnce(&data_unknown_, "CTfile/CTFpupilData/" + std::string(name));
      }
    }
  }

  void EndElement(const XmlPosition& at) override {
    const size_t end = at.End();
    --depth_;
    if (capture_ != nullptr) {
      capture_->End(end);
      if (!capture_->open()) {
        if (capture_ == &pupil_) {
          const Tree& t = pupil_;
          ReadPupil(t, bytes_, ++pupils_, &pupil_data_);
          handler_->OnPupil(&pupil_data_, t.Begin(0), t.End(0));
        } else {
          ReadHeader();
          handler_->OnHeader(header_data_);
        }
        capture_ = nullptr;
      }
      return;
    }
    if (depth_ == 1) in_data_ = false;
  }

  void Text(std::string_view text) override {
    if (capture_ != nullptr) capture_->AppendText(text);
  }

  // After a successful parse: the whole-file checks and the unknown
  // elements in the order a whole-tree read reported them.
  bool Finish(std::vector<std::string>* unknown, CtfFileError* error) {
    if (!is_ctf_) {
      *error = {"ctf_not_a_ctf", "the root element is not CTfile", root_line_};
      return false;
    }
    if (!saw_header_) {
      *error = {"ctf_header_missing", "CTfile/Header is missing", root_line_};
      return false;
    }
    if (!saw_data_) {
      *error = {"ctf_pupil_data_missing", "CTfile/CTFpupilData is missing",
                root_line_};
      return false;
    }
    unknown->clear();
    NoteUnknown(
        header_, 0, "CTfile/Header",
        {"DocumentName", "CTFversion", "CTFVersion", "CtfVersion", "DateTime",
         "DocumentQualifier", "DataQualifier", "DataDescriptor", "SupplierID",
         "SourceSchool", "DestSchool", "SuppID"},
        unknown);
    for (auto* list : {&root_unknown_, &data_unknown_}) {
      for (std::string& p : *list) NoteOnce(unknown, std::move(p));
    }
    return true;
  }

 private:
  // The captured Header into header_data_.
  void ReadHeader() {
    const Tree& t = header_;
    constexpr int header = 0;
    CtfHeader& h = header_data_;
    h.document_name = t.ChildString(header, "DocumentName");
    // The XSD spells CTFversion; some vendor documents print CTFVersion.
    for (const char* n : {"CTFversion", "CTFVersion", "CtfVersion"}) {
      if (const int v = t.Child(header, n); v != kNone) {
        h.version = std::string(t.Text(v));
        h.version_element = n;
        break;
      }
    }
    h.date_time = t.ChildString(header, "DateTime");
    h.document_qualifier = t.ChildString(header, "DocumentQualifier");
    h.supplier_id = t.ChildString(header, "SupplierID");
    h.source = ReadSchool(t, t.Child(header, "SourceSchool"));
    h.dest = ReadSchool(t, t.Child(header, "DestSchool"));
    h.native_digest = SpanDigest(bytes_, t.Begin(header), t.End(header));
  }

  // Lines are kept for the records that report them.
  bool NeedsLine() const { return depth_ == 5; }  // Contact, YearData

  std::string_view bytes_;
  LineCounter lines_;
  CtfHandler* handler_;
  int depth_ = 0;
  int root_line_ = 0;
  bool is_ctf_ = false;
  bool saw_header_ = false, saw_data_ = false, in_data_ = false;
  int pupils_ = 0;
  Tree header_, pupil_;
  Tree* capture_ = nullptr;
  CtfHeader header_data_;
  CtfPupil pupil_data_;  // reused for every pupil
  std::vector<std::string> root_unknown_, data_unknown_;
};

// ReadCtf's handler: keeps everything in a CtfFile.
class CollectPupils : public CtfHandler {
 public:
  CollectPupils(std::string_view bytes, CtfFile* out)
      : bytes_(bytes), out_(out) {}
  void OnHeader(const CtfHeader& header) override { out_->header = header; }
  void OnPupil(CtfPupil* pupil, size_t begin, size_t end) override {
    if (out_->pupils.empty()) Reserve(begin, end);
    out_->pupils.push_back(std::move(*pupil));
  }

 private:
  // Sizes the pupil vector from the first pupil's length and the bytes
  // left, so a large file does not move every CtfPupil (1.5 KB each) on
  // each doubling and first-touch the old and new buffers (~10 ms on a
  // 10,000-pupil file). Only an estimate: a wrong guess just means the
  // vector grows as before. Pupils are taken as at least 1 KB (the
  // smallest useful pupil is a few hundred bytes), so an odd first pupil
  // cannot reserve more than bytes/1 KB entries.
  void Reserve(size_t begin, size_t end) {
    const size_t first = end - std::min(end, begin);
    const size_t left = bytes_.size() - std::min(bytes_.size(), begin);
    const size_t estimate = left / std::max<size_t>(first, 1024);
    out_->pupils.reserve(estimate + estimate / 8 + 1);
  }
  std::string_view bytes_;
  CtfFile* out_;
};

}  // namespace

bool ReadCtfStream(std::string_view bytes, const XmlLimits& limits,
                   CtfHandler* handler,
                   std::vector<std::string>* unknown_elements,
                   CtfFileError* error) {
  unknown_elements->clear();
  CtfSink sink(bytes, handler);
  XmlError xml_error;
  if (!StreamXml(bytes, limits, &sink, &xml_error)) {
    *error = {xml_error.rule, xml_error.message, xml_error.line};
    return false;
  }
  return sink.Finish(unknown_elements, error);
}

bool ReadCtf(std::string_view bytes, const XmlLimits& limits, CtfFile* out,
             CtfFileError* error) {
  *out = CtfFile();
  CollectPupils collect(bytes, out);
  std::vector<std::string> unknown;
  if (!reference::ReadCtfStream(bytes, limits, &collect, &unknown, error)) {
    *out = CtfFile();
    return false;
  }
  out->unknown_elements = std::move(unknown);
  return true;
}

namespace {

void Field(std::string* out, std::string_view name, std::string_view value) {
  out->append(name).append("=").append(std::to_string(value.size()));
  out->append(":").append(value).append("\n");
}
void Field(std::string* out, std::string_view name, uint64_t value) {
  Field(out, name, std::string_view(std::to_string(value)));
}
void List(std::string* out, std::string_view name,
          const std::vector<std::string>& values) {
  Field(out, std::string(name) + ".size", values.size());
  for (const std::string& v : values) Field(out, name, v);
}

void School(std::string* out, std::string_view prefix, const CtfSchool& s) {
  const std::string p(prefix);
  Field(out, p + ".lea", s.lea);
  Field(out, p + ".estab", s.estab);
  Field(out, p + ".urn", s.urn);
  Field(out, p + ".name", s.name);
  Field(out, p + ".academic_year", s.academic_year);
}

void Address(std::string* out, std::string_view prefix, const CtfAddress& a) {
  static_assert(!kCheckRecordSizes || sizeof(CtfAddress) == 416,
                "CtfAddress changed: add the field to DebugString");
  const std::string p(prefix);
  Field(out, p + ".present", a.present);
  Field(out, p + ".bs7666", a.bs7666);
  Field(out, p + ".saon", a.saon);
  Field(out, p + ".paon", a.paon);
  Field(out, p + ".street", a.street);
  Field(out, p + ".locality", a.locality);
  Field(out, p + ".town", a.town);
  Field(out, p + ".administrative_area", a.administrative_area);
  Field(out, p + ".post_town", a.post_town);
  Field(out, p + ".uprn", a.uprn);
  List(out, p + ".lines", a.lines);
  Field(out, p + ".county", a.county);
  Field(out, p + ".postcode", a.postcode);
  Field(out, p + ".zip", a.zip);
  Field(out, p + ".country", a.country);
}

void Phones(std::string* out, std::string_view prefix,
            const std::vector<CtfPhone>& phones) {
  const std::string p(prefix);
  Field(out, p + ".size", phones.size());
  for (const CtfPhone& ph : phones) {
    Field(out, p + ".type", ph.type);
    Field(out, p + ".number", ph.number);
  }
}

}  // namespace

std::string DebugString(const CtfHeader& h) {
  static_assert(!kCheckRecordSizes || sizeof(CtfHeader) == 520,
                "CtfHeader changed: add the field to DebugString");
  std::string out;
  Field(&out, "header.document_name", h.document_name);
  Field(&out, "header.version", h.version);
  Field(&out, "header.version_element", h.version_element);
  Field(&out, "header.date_time", h.date_time);
  Field(&out, "header.document_qualifier", h.document_qualifier);
  Field(&out, "header.supplier_id", h.supplier_id);
  School(&out, "header.source", h.source);
  School(&out, "header.dest", h.dest);
  Field(&out, "header.native_digest", h.native_digest);
  return out;
}

std::string DebugString(const CtfPupil& p) {
  static_assert(!kCheckRecordSizes || sizeof(CtfPupil) == 1464,
                "CtfPupil changed: add the field to DebugString");
  static_assert(!kCheckRecordSizes || sizeof(CtfContact) == 752,
                "CtfContact changed: add the field to DebugString");
  static_assert(!kCheckRecordSizes || sizeof(CtfYearData) == 336,
                "CtfYearData changed: add the field to DebugString");
  std::string out;
  Field(&out, "pupil.index", p.index);
  Field(&out, "pupil.line", p.line);
  Field(&out, "pupil.upn", p.upn);
  Field(&out, "pupil.uln", p.uln);
  Field(&out, "pupil.uci", p.uci);
  Field(&out, "pupil.surname", p.surname);
  Field(&out, "pupil.forename", p.forename);
  Field(&out, "pupil.dob", p.dob);
  Field(&out, "pupil.sex", p.sex);
  Field(&out, "pupil.sex_element", p.sex_element);
  Field(&out, "pupil.nhs_number", p.nhs_number);
  Field(&out, "pupil.former_upn", p.former_upn);
  Field(&out, "pupil.preferred_surname", p.preferred_surname);
  Field(&out, "pupil.former_surname", p.former_surname);
  Field(&out, "pupil.preferred_forename", p.preferred_forename);
  Field(&out, "pupil.former_forename", p.former_forename);
  Field(&out, "pupil.middle_names", p.middle_names);
  Field(&out, "pupil.nc_year_actual", p.nc_year_actual);
  Field(&out, "pupil.ethnicity", p.ethnicity);
  Field(&out, "pupil.ethnicity_source", p.ethnicity_source);
  Field(&out, "pupil.medical_flag", p.medical_flag);
  Field(&out, "pupil.enrol_status", p.enrol_status);
  List(&out, "pupil.languages", p.languages);
  List(&out, "pupil.disabilities", p.disabilities);
  Field(&out, "pupil.in_care", p.in_care);
  Field(&out, "pupil.care_authority", p.care_authority);
  Field(&out, "pupil.fsm_review_date", p.fsm_review_date);
  Field(&out, "pupil.fsm.size", p.fsm.size());
  for (const CtfFsmInstance& f : p.fsm) {
    Field(&out, "pupil.fsm.start_date", f.start_date);
    Field(&out, "pupil.fsm.end_date", f.end_date);
    Field(&out, "pupil.fsm.uk_country", f.uk_country);
  }
  Field(&out, "pupil.sen_start_date", p.sen_start_date);
  Field(&out, "pupil.sen_provision", p.sen_provision);
  List(&out, "pupil.sen_needs", p.sen_needs);
  Address(&out, "pupil.address", p.address);
  Phones(&out, "pupil.phones", p.phones);
  Field(&out, "pupil.email", p.email);
  Field(&out, "pupil.contacts.size", p.contacts.size());
  for (const CtfContact& c : p.contacts) {
    Field(&out, "contact.line", c.line);
    Field(&out, "contact.order", c.order);
    Field(&out, "contact.title", c.title);
    Field(&out, "contact.surname", c.surname);
    Field(&out, "contact.forename", c.forename);
    Field(&out, "contact.middle_names", c.middle_names);
    Field(&out, "contact.sex", c.sex);
    Field(&out, "contact.relationship", c.relationship);
    Field(&out, "contact.responsibility", c.responsibility);
    Field(&out, "contact.address_as_pupil", c.address_as_pupil);
    Address(&out, "contact.address", c.address);
    Phones(&out, "contact.phones", c.phones);
    Field(&out, "contact.email", c.email);
    Field(&out, "contact.native_digest", c.native_digest);
  }
  Field(&out, "pupil.attendance.size", p.attendance.size());
  for (const CtfYearData& y : p.attendance) {
    Field(&out, "year.line", y.line);
    Field(&out, "year.year", y.year);
    Field(&out, "year.lea", y.lea);
    Field(&out, "year.estab", y.estab);
    Field(&out, "year.school_name", y.school_name);
    Field(&out, "year.sessions_possible", y.sessions_possible);
    Field(&out, "year.sessions_authorised", y.sessions_authorised);
    Field(&out, "year.sessions_attended", y.sessions_attended);
    Field(&out, "year.sessions_unauthorised", y.sessions_unauthorised);
    Field(&out, "year.attendance_start_date", y.attendance_start_date);
    Field(&out, "year.attendance_marks", y.attendance_marks);
    Field(&out, "year.native_digest", y.native_digest);
  }
  List(&out, "pupil.unknown_elements", p.unknown_elements);
  Field(&out, "pupil.digest_without_attendance", p.digest_without_attendance);
  Field(&out, "pupil.core_digest", p.core_digest);
  return out;
}

std::string DebugString(const CtfFile& file) {
  std::string out = DebugString(file.header);
  Field(&out, "pupils.size", file.pupils.size());
  for (const CtfPupil& p : file.pupils) out += DebugString(p);
  List(&out, "unknown_elements", file.unknown_elements);
  return out;
}

std::string DebugString(const CtfFileError& error) {
  std::string out;
  Field(&out, "error.rule", error.rule);
  Field(&out, "error.message", error.message);
  Field(&out, "error.line", static_cast<uint64_t>(error.line));
  return out;
}

namespace {

// ReadCtfStream's handler that copies (never moves) each pupil, so what a
// reused CtfPupil still holds from the previous pupil is compared too.
class CopyPupils : public CtfHandler {
 public:
  explicit CopyPupils(CtfFile* out) : out_(out) {}
  void OnHeader(const CtfHeader& header) override {
    out_->header = header;
    headers_ += 1;
  }
  void OnPupil(CtfPupil* pupil, size_t begin, size_t end) override {
    out_->pupils.push_back(*pupil);
    spans_ += std::to_string(begin) + "-" + std::to_string(end) + ",";
  }
  int headers_ = 0;
  std::string spans_;

 private:
  CtfFile* out_;
};

// The first line where `a` and `b` differ, for the failure message.
std::string FirstDifference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  const size_t line = a.rfind('\n', i == 0 ? 0 : i - 1);
  const size_t from = line == std::string::npos || i == 0 ? 0 : line + 1;
  auto at = [from](const std::string& s) {
    const size_t e = s.find('\n', from);
    return from >= s.size()
               ? std::string("<end>")
               : s.substr(from, e == std::string::npos ? std::string::npos
                                                       : e - from);
  };
  return "streaming: " + at(a) + " | reference: " + at(b);
}

}  // namespace

std::string CompareReaders(std::string_view bytes, const XmlLimits& limits) {
  CtfFile want, got, copied, want_copied;
  CtfFileError want_error, got_error, copied_error, want_copied_error;
  const bool want_ok = reference::ReadCtf(bytes, limits, &want, &want_error);
  const bool got_ok = school::ReadCtf(bytes, limits, &got, &got_error);
  CopyPupils copy(&copied), want_copy(&want_copied);
  const bool copied_ok = school::ReadCtfStream(
      bytes, limits, &copy, &copied.unknown_elements, &copied_error);
  const bool want_copied_ok = reference::ReadCtfStream(
      bytes, limits, &want_copy, &want_copied.unknown_elements,
      &want_copied_error);
  if (got_ok != want_ok || copied_ok != want_ok || want_copied_ok != want_ok) {
    return "accepted differs: streaming " + std::to_string(got_ok) + "/" +
           std::to_string(copied_ok) + ", reference " + std::to_string(want_ok);
  }
  std::string a, b;
  if (!want_ok) {
    a = DebugString(got_error);
    b = DebugString(want_error);
    if (a == b) a = DebugString(copied_error);
  } else {
    a = DebugString(got);
    b = DebugString(want);
    if (a == b) a = DebugString(copied);
    if (a == b) b = DebugString(want_copied);
    if (a == b && (copy.headers_ != want_copy.headers_ ||
                   copy.spans_ != want_copy.spans_)) {
      return "handler calls differ: streaming " +
             std::to_string(copy.headers_) + " headers, spans " + copy.spans_ +
             "; reference " + std::to_string(want_copy.headers_) +
             " headers, spans " + want_copy.spans_;
    }
  }
  return a == b ? std::string() : FirstDifference(a, b);
}

}  // namespace ehx::adapters::school::reference
