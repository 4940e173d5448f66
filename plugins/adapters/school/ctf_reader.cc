#include "ctf_reader.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace ehx::adapters::school {
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

bool IsXmlSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void NoteOnce(std::vector<std::string>* list, std::string path) {
  if (std::find(list->begin(), list->end(), path) == list->end()) {
    list->push_back(std::move(path));
  }
}

// Records "<path>/<name>" for every child of `e` not in `known` (once).
void NoteUnknown(const Tree& t, int e, std::string_view path,
                 std::initializer_list<std::string_view> known,
                 std::vector<std::string>* out) {
  for (int c = t.FirstChild(e); c != kNone; c = t.NextSibling(c)) {
    const std::string_view name = t.Name(c);
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    NoteOnce(out, std::string(path) + "/" + std::string(name));
  }
}

// The child element names one element type knows, in an open addressing
// table. A name is compared as its length and two 8-byte words (its first
// and last 8 bytes, overlapping; for shorter names the first and last 4,
// or the bytes), which is the whole name up to 16 bytes; longer names also
// compare their middle words. Only loads inside the name, no libc calls:
// this runs for every element of every pupil. Field i is names[i]; an enum
// alongside gives them names.
template <size_t N>
class NameTable {
 public:
  explicit NameTable(const std::array<std::string_view, N>& names)
      : names_(names) {
    slots_.fill(-1);
    for (size_t i = 0; i < N; ++i) {
      words_[i] = WordsOf(names_[i]);
      size_t h = Slot(words_[i], names_[i].size());
      while (slots_[h] >= 0) h = (h + 1) & kMask;
      slots_[h] = static_cast<int>(i);
    }
  }

  // The field named `name`, or -1.
  int Find(std::string_view name) const {
    const Words w = WordsOf(name);
    for (size_t h = Slot(w, name.size()); slots_[h] >= 0; h = (h + 1) & kMask) {
      const int i = slots_[h];
      if (words_[i].first == w.first && words_[i].last == w.last &&
          names_[i].size() == name.size() &&
          (name.size() <= 16 || MiddleEqual(names_[i], name))) {
        return i;
      }
    }
    return -1;
  }

 private:
  struct Words {
    uint64_t first, last;
  };
  static constexpr size_t kSlots = 128;  // N <= 40: load <= 1/3
  static constexpr size_t kMask = kSlots - 1;
  static_assert(N * 3 <= kSlots);
  static uint64_t Load8(const char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static uint64_t Load4(const char* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  static Words WordsOf(std::string_view name) {
    const char* p = name.data();
    const size_t n = name.size();
    if (n >= 8) return {Load8(p), Load8(p + n - 8)};
    if (n >= 4) return {Load4(p), Load4(p + n - 4)};
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
      v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    }
    return {v, 0};
  }
  // Bytes [8, size - 8) of two names of the same size > 16.
  static bool MiddleEqual(std::string_view a, std::string_view b) {
    for (size_t i = 8; i + 8 < a.size(); i += 8) {
      if (Load8(a.data() + i) != Load8(b.data() + i)) return false;
    }
    return true;
  }
  static size_t Slot(const Words& w, size_t size) {
    const uint64_t x = w.first ^ (w.last * 0xC2B2AE3D27D4EB4Full) ^ size;
    return static_cast<size_t>((x * 0x9E3779B97F4A7C15ull) >> 57);
  }
  std::array<std::string_view, N> names_;
  std::array<Words, N> words_{};
  std::array<int, kSlots> slots_{};
};

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

enum AddressField {
  kABs7666,
  kALines,
  kACounty,
  kAPostCode,
  kAZip,
  kACountry,
  kAAsPupil,  // read in a contact's Address only
  kAddressFields
};
const NameTable<kAddressFields>& AddressNames() {
  static const auto* table = new NameTable<kAddressFields>(
      {"BS7666Address", "AddressLines", "County", "PostCode", "Zip", "Country",
       "AddressAsPupil"});
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

uint64_t SpanDigest(std::string_view bytes, size_t begin, size_t end) {
  if (end > bytes.size() || begin > end) return 0;
  return XXH3_64bits(bytes.data() + begin, end - begin);
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

// Empties a reused CtfContact (strings keep their capacity).
void ResetContact(CtfContact* c) {
  static_assert(!kCheckRecordSizes || sizeof(CtfContact) == 752,
                "CtfContact changed: reset the new field in ResetContact");
  c->line = 0;
  for (std::string* s :
       {&c->order, &c->title, &c->surname, &c->forename, &c->middle_names,
        &c->sex, &c->relationship, &c->responsibility, &c->email}) {
    s->clear();
  }
  c->address_as_pupil = false;
  ResetAddress(&c->address);
  c->phones.clear();
  c->native_digest = 0;
}

// Empties a reused CtfYearData (strings keep their capacity).
void ResetYear(CtfYearData* y) {
  static_assert(!kCheckRecordSizes || sizeof(CtfYearData) == 336,
                "CtfYearData changed: reset the new field in ResetYear");
  y->line = 0;
  for (std::string* s : {&y->year, &y->lea, &y->estab, &y->school_name,
                         &y->sessions_possible, &y->sessions_authorised,
                         &y->sessions_attended, &y->sessions_unauthorised,
                         &y->attendance_start_date, &y->attendance_marks}) {
    s->clear();
  }
  y->native_digest = 0;
}

// Empties a reused CtfPupil (strings keep their capacity). Every field is
// listed: the size check below fails when a field is added, as a reminder
// to clear it here too (the reader sets most fields only when present).
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
  // contacts and attendance are reused in place by PupilReader (each
  // entry reset when its element starts, extras dropped at the end).
  p->unknown_elements.clear();
  p->digest_without_attendance = p->core_digest = 0;
}

// Reads one Pupil element straight from its expat events into a reused
// CtfPupil: a stack of the open elements it reads (one Frame each), where
// each element's name is looked up in its parent's table to decide where
// its text goes (a std::string of the pupil), which child context it
// opens, or that its whole subtree is skipped. No tree is built.
//
// The rules are those of the tree reader it replaced (kept, for the tests,
// in tests/adapters/school/ctf_reader_reference.cc): for a field, the
// FIRST child element of that name wins (later ones are skipped, even when
// the first is empty); repeated records (Contact, YearData, Phone,
// FSMinstance, SENneed, Type, Disability, AddressLine*) are all read; an
// element's text is its own character data (not its children's),
// concatenated and trimmed of XML whitespace; Sex wins over the legacy
// Gender, the Pupil's own Sex/Gender and NHS number extension over
// BasicDetails' whatever their order in the document; unknown children of
// Pupil, BasicDetails and Contact are reported (paths, each once) in the
// order BasicDetails, contacts, Pupil.
class PupilReader {
 public:
  PupilReader(std::string_view bytes, LineCounter* lines)
      : bytes_(bytes), lines_(lines) {
    // Deeper than the default depth limit: not grown in practice (and no
    // Frame reference is used after a push).
    frames_.resize(40);
  }

  // At <Pupil>: `out` (reset here) receives the pupil; `index` is its
  // 1-based position. `begin` is the Pupil start tag's byte offset.
  void Begin(CtfPupil* out, int index, size_t begin) {
    out_ = out;
    ResetPupil(out);
    out->index = index;
    out->line = lines_->LineAt(begin);
    contacts_ = years_ = 0;
    ignore_ = 0;
    leaf_ = nullptr;
    leaf_list_ = nullptr;
    basic_seen_ = 0;
    spans_.clear();
    basic_unknown_.clear();
    contact_unknown_.clear();
    pupil_unknown_.clear();
    top_ = 0;
    frames_[0] = {kPupilKind, kNoSpan, 0, nullptr, begin};
  }

  // Offsets are asked of `at` only where used (records and spans).
  void Start(std::string_view name, const XmlPosition& at);
  void Text(std::string_view text);
  // Returns true when this end tag closed the Pupil: the CtfPupil given to
  // Begin is then complete.
  bool End(const XmlPosition& at);

  // After End returned true: the Pupil element's byte span.
  size_t begin() const { return pupil_begin_; }
  size_t end() const { return pupil_end_; }

 private:
  enum Kind : uint8_t {
    kPupilKind,
    kLeaf,  // no text, children skipped (a Contacts or Attendance after
            // the first: only its span counts)
    kBasic,
    kLanguages,
    kLanguageType,
    kDisabilities,
    kLookedAfterKind,
    kFsmHistoryKind,
    kFsmInstance,
    kSenHistoryKind,
    kSen,
    kSenNeeds,
    kSenNeed,
    kAddressKind,
    kBs7666,
    kAddressLines,
    kPhonesKind,
    kPhone,
    kContactsKind,
    kContact,
    kAttendanceKind,
    kYearData,
  };
  // A direct child of Pupil whose byte span the pupil's digests leave out.
  enum Span : uint8_t { kNoSpan, kContactsSpan, kAttendanceSpan };
  // SENneed: set in Frame::seen when it has any child element.
  static constexpr uint32_t kHasChild = 1u << 31;

  struct Frame {
    Kind kind;
    Span span;
    uint32_t seen;      // bit i: field i of this element already met
    std::string* text;  // where this element's own text goes, or nullptr
    size_t begin;       // start tag offset (Pupil, its spans, records)
  };
  struct ChildSpan {
    size_t begin, end;
    bool attendance;
  };

  // True the first time field `field` of `f` is met.
  static bool First(Frame& f, int field) {
    const uint32_t bit = 1u << field;
    if (f.seen & bit) return false;
    f.seen |= bit;
    return true;
  }
  void Push(Kind kind, std::string* text = nullptr, size_t begin = 0,
            Span span = kNoSpan) {
    if (++top_ == frames_.size()) frames_.resize(2 * frames_.size());
    frames_[top_] = {kind, span, 0, text, begin};
  }
  // A leaf (the most common element) is not a Frame: its text goes to
  // `leaf_` until its end tag; its children are skipped.
  void Leaf(std::string* target) {
    target->clear();
    leaf_ = target;
  }
  // A leaf appended to `list`, dropped at its end if its text is empty.
  void ListItem(std::vector<std::string>* list) {
    list->emplace_back();
    leaf_ = &list->back();
    leaf_list_ = list;
  }
  void Skip() { ++ignore_; }

  void StartInPupil(Frame& top, std::string_view name, const XmlPosition& at);
  void StartInBasic(Frame& top, std::string_view name);
  void StartInAddress(Frame& top, std::string_view name);
  void StartInContact(Frame& top, std::string_view name);
  void EndContact(const Frame& f, size_t end);
  void EndPupil(const Frame& f, size_t end);

  std::string_view bytes_;
  LineCounter* lines_;
  CtfPupil* out_ = nullptr;
  std::vector<Frame> frames_;  // frames_[0..top_] are open
  size_t top_ = 0;
  int ignore_ = 0;  // depth inside a skipped subtree (or a leaf's children)
  std::string* leaf_ = nullptr;                    // the open leaf's text
  std::vector<std::string>* leaf_list_ = nullptr;  // its list (ListItem)
  size_t pupil_begin_ = 0, pupil_end_ = 0;
  size_t contacts_ = 0, years_ = 0;  // entries of out_ in use
  // Where the open Address / Phones / list item write.
  CtfAddress* address_ = nullptr;
  bool contact_address_ = false;
  std::vector<CtfPhone>* phones_ = nullptr;
  CtfContact* contact_ = nullptr;
  // Candidates resolved when their parent ends (priority, not order).
  std::string p_sex_, p_gender_, b_sex_, b_gender_, c_sex_, c_gender_;
  std::array<std::string, 3> p_nhs_, b_nhs_;
  uint32_t basic_seen_ = 0;
  std::string as_pupil_;
  bool as_pupil_seen_ = false;
  std::string type_text_, type_language_;  // Languages/Type
  std::string need_text_, need_type_;      // SENneeds/SENneed
  std::vector<ChildSpan> spans_;
  std::vector<std::string> basic_unknown_, contact_unknown_, pupil_unknown_;
};

void PupilReader::Start(std::string_view name, const XmlPosition& at) {
  if (ignore_ > 0 || leaf_ != nullptr) {
    ++ignore_;
    return;
  }
  Frame& top = frames_[top_];
  switch (top.kind) {
    case kPupilKind:
      StartInPupil(top, name, at);
      return;
    case kBasic:
      StartInBasic(top, name);
      return;
    case kAddressKind:
      StartInAddress(top, name);
      return;
    case kContact:
      StartInContact(top, name);
      return;
    case kBs7666: {
      const int f = Bs7666Names().Find(name);
      if (f < 0 || !First(top, f)) return Skip();
      CtfAddress& a = *address_;
      std::string* const targets[kBs7666Fields] = {
          &a.saon,      &a.paon, &a.street,
          &a.locality,  &a.town, &a.administrative_area,
          &a.post_town, &a.uprn};
      return Leaf(targets[f]);
    }
    case kAddressLines:
      if (name.substr(0, 11) != "AddressLine") return Skip();
      return ListItem(&address_->lines);
    case kPhonesKind:
      if (name != "Phone") return Skip();
      phones_->emplace_back();
      return Push(kPhone);
    case kPhone:
      if (name == "TelephoneType" && First(top, 0)) {
        return Leaf(&phones_->back().type);
      }
      if (name == "PhoneNo" && First(top, 1)) {
        return Leaf(&phones_->back().number);
      }
      return Skip();
    case kContactsKind: {
      if (name != "Contact") return Skip();
      if (contacts_ == out_->contacts.size()) out_->contacts.emplace_back();
      contact_ = &out_->contacts[contacts_++];
      ResetContact(contact_);
      const size_t begin = at.Begin();
      contact_->line = lines_->LineAt(begin);
      c_sex_.clear();
      c_gender_.clear();
      as_pupil_.clear();
      as_pupil_seen_ = false;
      return Push(kContact, nullptr, begin);
    }
    case kAttendanceKind: {
      if (name != "YearData") return Skip();
      if (years_ == out_->attendance.size()) out_->attendance.emplace_back();
      CtfYearData& y = out_->attendance[years_++];
      ResetYear(&y);
      const size_t begin = at.Begin();
      y.line = lines_->LineAt(begin);
      return Push(kYearData, nullptr, begin);
    }
    case kYearData: {
      const int f = YearNames().Find(name);
      if (f < 0 || !First(top, f)) return Skip();
      CtfYearData& y = out_->attendance[years_ - 1];
      std::string* const targets[kYearFields] = {&y.year,
                                                 &y.lea,
                                                 &y.estab,
                                                 &y.school_name,
                                                 &y.sessions_possible,
                                                 &y.sessions_authorised,
                                                 &y.sessions_attended,
                                                 &y.sessions_unauthorised,
                                                 &y.attendance_start_date,
                                                 &y.attendance_marks};
      return Leaf(targets[f]);
    }
    case kLanguages:
      if (name != "Type") return Skip();
      type_text_.clear();
      type_language_.clear();
      return Push(kLanguageType, &type_text_);
    case kLanguageType:
      if (name == "Language" && First(top, 0)) return Leaf(&type_language_);
      return Skip();
    case kDisabilities:
      if (name != "Disability") return Skip();
      return ListItem(&out_->disabilities);
    case kLookedAfterKind:
      if (name == "InCare" && First(top, 0)) return Leaf(&out_->in_care);
      if (name == "CareAuthority" && First(top, 1)) {
        return Leaf(&out_->care_authority);
      }
      return Skip();
    case kFsmHistoryKind:
      if (name == "FSMreviewDate" && First(top, 0)) {
        return Leaf(&out_->fsm_review_date);
      }
      if (name != "FSMinstance") return Skip();
      out_->fsm.emplace_back();
      return Push(kFsmInstance);
    case kFsmInstance: {
      CtfFsmInstance& i = out_->fsm.back();
      if (name == "FSMstartDate" && First(top, 0)) return Leaf(&i.start_date);
      if (name == "FSMendDate" && First(top, 1)) return Leaf(&i.end_date);
      if (name == "UKcountry" && First(top, 2)) return Leaf(&i.uk_country);
      return Skip();
    }
    case kSenHistoryKind:
      if (name == "SEN" && First(top, 0)) return Push(kSen);
      if (name == "SENneeds" && First(top, 1)) return Push(kSenNeeds);
      return Skip();
    case kSen:
      if (name == "StartDate" && First(top, 0)) {
        return Leaf(&out_->sen_start_date);
      }
      if (name == "SENprovision" && First(top, 1)) {
        return Leaf(&out_->sen_provision);
      }
      return Skip();
    case kSenNeeds:
      if (name != "SENneed") return Skip();
      need_text_.clear();
      need_type_.clear();
      return Push(kSenNeed, &need_text_);
    case kSenNeed:
      top.seen |= kHasChild;
      if (name == "SENtype" && First(top, 0)) return Leaf(&need_type_);
      return Skip();
    case kLeaf:
      return Skip();
  }
}

void PupilReader::StartInPupil(Frame& top, std::string_view name,
                               const XmlPosition& at) {
  const int f = PupilNames().Find(name);
  if (f < 0) {
    pupil_unknown_.push_back("Pupil/" + std::string(name));
    return Skip();
  }
  const bool first = First(top, f);
  if (f == kContacts || f == kAttendance) {
    // Every Contacts and Attendance child is left out of the digests; only
    // the first is read.
    return Push(
        first ? (f == kContacts ? kContactsKind : kAttendanceKind) : kLeaf,
        nullptr, at.Begin(), f == kContacts ? kContactsSpan : kAttendanceSpan);
  }
  if (!first) return Skip();
  CtfPupil& p = *out_;
  switch (f) {
    case kUpn:
      return Leaf(&p.upn);
    case kUln:
      return Leaf(&p.uln);
    case kUci:
      return Leaf(&p.uci);
    case kSurname:
      return Leaf(&p.surname);
    case kForename:
      return Leaf(&p.forename);
    case kDob:
      return Leaf(&p.dob);
    case kSex:
      return Leaf(&p_sex_);
    case kGender:
      return Leaf(&p_gender_);
    case kNhsNumber1:
    case kNhsNumber2:
    case kNhsNo:
      return Leaf(&p_nhs_[f - kNhsNumber1]);
    case kBasicDetails:
      return Push(kBasic);
    case kLookedAfter:
      return Push(kLookedAfterKind);
    case kFsmHistory:
      return Push(kFsmHistoryKind);
    case kSenHistory:
      return Push(kSenHistoryKind);
    case kAddress:
      address_ = &p.address;
      address_->present = true;
      contact_address_ = false;
      return Push(kAddressKind);
    case kPhones:
      phones_ = &p.phones;
      return Push(kPhonesKind);
    case kEmail:
      return Leaf(&p.email);
    default:  // known, not read
      return Skip();
  }
}

void PupilReader::StartInBasic(Frame& top, std::string_view name) {
  const int f = BasicNames().Find(name);
  if (f < 0) {
    basic_unknown_.push_back("Pupil/BasicDetails/" + std::string(name));
    return Skip();
  }
  if (!First(top, f)) return Skip();
  CtfPupil& p = *out_;
  switch (f) {
    case kBFormerUpn:
      return Leaf(&p.former_upn);
    case kBPreferredSurname:
      return Leaf(&p.preferred_surname);
    case kBFormerSurname:
      return Leaf(&p.former_surname);
    case kBPreferredForename:
      return Leaf(&p.preferred_forename);
    case kBFormerForename:
      return Leaf(&p.former_forename);
    case kBMiddleNames:
      return Leaf(&p.middle_names);
    case kBNcYearActual:
      return Leaf(&p.nc_year_actual);
    case kBEthnicity:
      return Leaf(&p.ethnicity);
    case kBEthnicitySource:
      return Leaf(&p.ethnicity_source);
    case kBLanguages:
      return Push(kLanguages);
    case kBMedicalFlag:
      return Leaf(&p.medical_flag);
    case kBDisabilities:
      return Push(kDisabilities);
    case kBEnrolStatus:
      return Leaf(&p.enrol_status);
    case kBSex:
      return Leaf(&b_sex_);
    case kBGender:
      return Leaf(&b_gender_);
    default:  // kBNhsNumber1, kBNhsNumber2, kBNhsNo
      return Leaf(&b_nhs_[f - kBNhsNumber1]);
  }
}

void PupilReader::StartInAddress(Frame& top, std::string_view name) {
  const int f = AddressNames().Find(name);
  if (f < 0 || !First(top, f)) return Skip();
  CtfAddress& a = *address_;
  switch (f) {
    case kABs7666:
      a.bs7666 = true;
      return Push(kBs7666);
    case kALines:
      return Push(kAddressLines);
    case kACounty:
      return Leaf(&a.county);
    case kAPostCode:
      return Leaf(&a.postcode);
    case kAZip:
      return Leaf(&a.zip);
    case kACountry:
      return Leaf(&a.country);
    default:  // kAAsPupil
      if (!contact_address_) return Skip();
      as_pupil_seen_ = true;
      return Leaf(&as_pupil_);
  }
}

void PupilReader::StartInContact(Frame& top, std::string_view name) {
  const int f = ContactNames().Find(name);
  if (f < 0) {
    contact_unknown_.push_back("Pupil/Contacts/Contact/" + std::string(name));
    return Skip();
  }
  if (!First(top, f)) return Skip();
  CtfContact& c = *contact_;
  switch (f) {
    case kCOrder:
      return Leaf(&c.order);
    case kCTitle:
      return Leaf(&c.title);
    case kCSurname:
      return Leaf(&c.surname);
    case kCForename:
      return Leaf(&c.forename);
    case kCMiddleNames:
      return Leaf(&c.middle_names);
    case kCSex:
      return Leaf(&c_sex_);
    case kCGender:
      return Leaf(&c_gender_);
    case kCRelationship:
      return Leaf(&c.relationship);
    case kCResponsibility:
      return Leaf(&c.responsibility);
    case kCAddress:
      address_ = &c.address;
      address_->present = true;
      contact_address_ = true;
      return Push(kAddressKind);
    case kCPhones:
      phones_ = &c.phones;
      return Push(kPhonesKind);
    default:  // kCEmail
      return Leaf(&c.email);
  }
}

void PupilReader::Text(std::string_view text) {
  if (ignore_ > 0) return;
  std::string* target = leaf_ != nullptr ? leaf_ : frames_[top_].text;
  if (target == nullptr) return;
  if (target->empty()) {
    // Leading whitespace is trimmed: never stored.
    size_t i = 0;
    while (i < text.size() && IsXmlSpace(text[i])) ++i;
    if (i == text.size()) return;
    text.remove_prefix(i);
  }
  target->append(text);
}

bool PupilReader::End(const XmlPosition& at) {
  if (ignore_ > 0) {
    --ignore_;
    return false;
  }
  // Trailing whitespace trimmed (leading was never stored).
  auto trim = [](std::string* s) {
    size_t n = s->size();
    while (n > 0 && IsXmlSpace((*s)[n - 1])) --n;
    s->resize(n);
  };
  if (leaf_ != nullptr) {
    trim(leaf_);
    if (leaf_list_ != nullptr && leaf_->empty()) leaf_list_->pop_back();
    leaf_ = nullptr;
    leaf_list_ = nullptr;
    return false;
  }
  const Frame f = frames_[top_--];
  if (f.text != nullptr) trim(f.text);
  const bool needs_end = f.span != kNoSpan || f.kind == kPupilKind ||
                         f.kind == kContact || f.kind == kYearData;
  const size_t end = needs_end ? at.End() : 0;
  if (f.span != kNoSpan) {
    spans_.push_back({f.begin, end, f.span == kAttendanceSpan});
  }
  switch (f.kind) {
    case kPupilKind:
      EndPupil(f, end);
      return true;
    case kLanguageType: {
      const std::string& code =
          type_language_.empty() ? type_text_ : type_language_;
      if (!code.empty()) out_->languages.push_back(code);
      break;
    }
    case kSenNeed: {
      // SENneed is either text or { SENtype, SENrank }.
      const std::string* code = &need_type_;
      if (code->empty() && !(f.seen & kHasChild)) code = &need_text_;
      if (!code->empty()) out_->sen_needs.push_back(*code);
      break;
    }
    case kBasic:
      basic_seen_ = f.seen;
      break;
    case kContact:
      EndContact(f, end);
      break;
    case kYearData:
      out_->attendance[years_ - 1].native_digest =
          SpanDigest(bytes_, f.begin, end);
      break;
    default:
      break;
  }
  return false;
}

void PupilReader::EndContact(const Frame& f, size_t end) {
  CtfContact& c = *contact_;
  // Sex, or the legacy Gender element.
  if (f.seen & (1u << kCSex)) {
    c.sex = c_sex_;
  } else if (f.seen & (1u << kCGender)) {
    c.sex = c_gender_;
  }
  if (as_pupil_seen_) {
    const std::string_view v = as_pupil_;
    c.address_as_pupil =
        v == "true" || v == "1" || v == "Y" || v == "Yes" || v.empty();
    // The contact's own address is not read then.
    if (c.address_as_pupil) ResetAddress(&c.address);
  }
  c.native_digest = SpanDigest(bytes_, f.begin, end);
}

void PupilReader::EndPupil(const Frame& f, size_t end) {
  CtfPupil& out = *out_;
  pupil_begin_ = f.begin;
  pupil_end_ = end;
  // Sex or legacy Gender, and the NHS number extensions: the Pupil's own
  // first, then BasicDetails' when that left them empty.
  auto sex_from = [&out](uint32_t seen, int sex, int gender,
                         const std::string& sex_text,
                         const std::string& gender_text) {
    if (seen & (1u << sex)) {
      out.sex = sex_text;
      out.sex_element = "Sex";
    } else if (seen & (1u << gender)) {
      out.sex = gender_text;
      out.sex_element = "Gender";
    }
  };
  auto nhs_from = [&out](uint32_t seen, int first,
                         const std::array<std::string, 3>& texts) {
    for (int i = 0; i < 3; ++i) {
      if (seen & (1u << (first + i))) {
        out.nhs_number = texts[i];
        return;
      }
    }
  };
  sex_from(f.seen, kSex, kGender, p_sex_, p_gender_);
  nhs_from(f.seen, kNhsNumber1, p_nhs_);
  if (f.seen & (1u << kBasicDetails)) {
    if (out.sex.empty()) {
      sex_from(basic_seen_, kBSex, kBGender, b_sex_, b_gender_);
    }
    if (out.nhs_number.empty()) nhs_from(basic_seen_, kBNhsNumber1, b_nhs_);
  }
  out.contacts.resize(contacts_);
  out.attendance.resize(years_);
  for (auto* list : {&basic_unknown_, &contact_unknown_, &pupil_unknown_}) {
    for (std::string& p : *list) NoteOnce(&out.unknown_elements, std::move(p));
  }
  // The digests of the pupil's bytes without some of its direct children:
  // all Contacts and Attendance (core), all Attendance (without_attendance).
  XXH3_state_t without_attendance, core;
  XXH3_64bits_reset(&without_attendance);
  XXH3_64bits_reset(&core);
  size_t at_wa = f.begin, at_core = f.begin;
  const size_t stop = std::min(end, bytes_.size());
  if (at_wa > stop) return;
  auto feed = [this](XXH3_state_t* s, size_t* at, size_t upto) {
    if (upto > *at) XXH3_64bits_update(s, bytes_.data() + *at, upto - *at);
  };
  for (const ChildSpan& c : spans_) {
    const size_t b = std::min(c.begin, stop), e = std::min(c.end, stop);
    feed(&core, &at_core, b);
    at_core = e;
    if (c.attendance) {
      feed(&without_attendance, &at_wa, b);
      at_wa = e;
    }
  }
  feed(&core, &at_core, stop);
  feed(&without_attendance, &at_wa, stop);
  out.core_digest = XXH3_64bits_digest(&core);
  out.digest_without_attendance = XXH3_64bits_digest(&without_attendance);
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

// Streams the document: the Header is captured as a flat tree (once per
// file) and each Pupil is read by PupilReader as its events arrive;
// everything else is only looked at by name.
class CtfSink final : public XmlSink {
 public:
  CtfSink(std::string_view bytes, CtfHandler* handler)
      : bytes_(bytes),
        lines_(bytes),
        handler_(handler),
        pupil_(bytes, &lines_) {}

  void StartElement(std::string_view name, const XmlPosition& at) override {
    ++depth_;
    if (in_pupil_) {
      pupil_.Start(name, at);
      return;
    }
    if (in_header_) {
      header_.Start(name, at.Begin(), 0);
      return;
    }
    if (depth_ == 1) {
      root_line_ = lines_.LineAt(at.Begin());
      is_ctf_ = name == "CTfile";
      return;
    }
    if (!is_ctf_) return;
    if (depth_ == 2) {
      if (name == "Header") {
        if (!saw_header_) {
          saw_header_ = true;
          in_header_ = true;
          header_.Start(name, at.Begin(), 0);
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
        in_pupil_ = true;
        pupil_.Begin(&pupil_data_, ++pupils_, at.Begin());
      } else {
        NoteOnce(&data_unknown_, "CTfile/CTFpupilData/" + std::string(name));
      }
    }
  }

  void EndElement(const XmlPosition& at) override {
    --depth_;
    if (in_pupil_) {
      if (pupil_.End(at)) {
        in_pupil_ = false;
        handler_->OnPupil(&pupil_data_, pupil_.begin(), pupil_.end());
      }
      return;
    }
    if (in_header_) {
      header_.End(at.End());
      if (!header_.open()) {
        in_header_ = false;
        ReadHeader();
        handler_->OnHeader(header_data_);
      }
      return;
    }
    if (depth_ == 1) in_data_ = false;
  }

  void Text(std::string_view text) override {
    if (in_pupil_) {
      pupil_.Text(text);
    } else if (in_header_) {
      header_.AppendText(text);
    }
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

  std::string_view bytes_;
  LineCounter lines_;
  CtfHandler* handler_;
  int depth_ = 0;
  int root_line_ = 0;
  bool is_ctf_ = false;
  bool saw_header_ = false, saw_data_ = false, in_data_ = false;
  bool in_header_ = false, in_pupil_ = false;
  int pupils_ = 0;
  Tree header_;
  CtfHeader header_data_;
  PupilReader pupil_;
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
  // The sink's type is known here: expat calls it without virtual calls.
  if (!StreamXmlTo(bytes, limits, &sink, &xml_error)) {
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
  if (!ReadCtfStream(bytes, limits, &collect, &unknown, error)) {
    *out = CtfFile();
    return false;
  }
  out->unknown_elements = std::move(unknown);
  return true;
}

}  // namespace ehx::adapters::school
