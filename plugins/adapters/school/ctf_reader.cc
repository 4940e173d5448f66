#include "ctf_reader.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace ehx::adapters::school {
namespace {

using Tree = FlatXmlTree;
constexpr int kNone = FlatXmlTree::kNone;

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

void ReadAddress(const Tree& t, int a, CtfAddress* out) {
  if (a == kNone) return;
  out->present = true;
  if (const int bs = t.Child(a, "BS7666Address"); bs != kNone) {
    out->bs7666 = true;
    out->saon = t.ChildString(bs, "SAON");
    out->paon = t.ChildString(bs, "PAON");
    out->street = t.ChildString(bs, "Street");
    out->locality = t.ChildString(bs, "Locality");
    out->town = t.ChildString(bs, "Town");
    out->administrative_area = t.ChildString(bs, "AdministrativeArea");
    out->post_town = t.ChildString(bs, "PostTown");
    out->uprn = t.ChildString(bs, "UniquePropertyReferenceNumber");
  }
  if (const int lines = t.Child(a, "AddressLines"); lines != kNone) {
    for (int l = t.FirstChild(lines); l != kNone; l = t.NextSibling(l)) {
      if (t.Name(l).rfind("AddressLine", 0) == 0) {
        const std::string_view v = t.Text(l);
        if (!v.empty()) out->lines.emplace_back(v);
      }
    }
  }
  out->county = t.ChildString(a, "County");
  out->postcode = t.ChildString(a, "PostCode");
  out->zip = t.ChildString(a, "Zip");
  out->country = t.ChildString(a, "Country");
}

// Sex, or the legacy Gender element.
void ReadSex(const Tree& t, int e, std::string* value, std::string* element) {
  if (const int s = t.Child(e, "Sex"); s != kNone) {
    *value = std::string(t.Text(s));
    if (element) *element = "Sex";
  } else if (const int g = t.Child(e, "Gender"); g != kNone) {
    *value = std::string(t.Text(g));
    if (element) *element = "Gender";
  }
}

std::string NhsExtension(const Tree& t, int e) {
  for (const char* n : {"NHSnumber", "NHSNumber", "NHSNo"}) {
    if (const int c = t.Child(e, n); c != kNone) return std::string(t.Text(c));
  }
  return {};
}

uint64_t SpanDigest(std::string_view bytes, size_t begin, size_t end) {
  if (end > bytes.size() || begin > end) return 0;
  return XXH3_64bits(bytes.data() + begin, end - begin);
}

void ReadContact(const Tree& t, int c, std::string_view bytes,
                 const std::string& path, std::vector<std::string>* unknown,
                 CtfContact* out_ptr) {
  CtfContact& out = *out_ptr;
  out.line = t.Line(c);
  out.order = t.ChildString(c, "Order");
  out.title = t.ChildString(c, "Title");
  out.surname = t.ChildString(c, "Surname");
  out.forename = t.ChildString(c, "Forename");
  out.middle_names = t.ChildString(c, "MiddleNames");
  ReadSex(t, c, &out.sex, nullptr);
  out.relationship = t.ChildString(c, "Relationship");
  out.responsibility = t.ChildString(c, "Responsibility");
  if (const int a = t.Child(c, "Address"); a != kNone) {
    if (const int as = t.Child(a, "AddressAsPupil"); as != kNone) {
      const std::string_view v = t.Text(as);
      out.address_as_pupil =
          v == "true" || v == "1" || v == "Y" || v == "Yes" || v.empty();
    }
    if (!out.address_as_pupil) ReadAddress(t, a, &out.address);
  }
  ReadPhones(t, t.Child(c, "Phones"), &out.phones);
  out.email = t.ChildString(c, "Email");
  out.native_digest = SpanDigest(bytes, t.Begin(c), t.End(c));
  NoteUnknown(
      t, c, path,
      {"Order", "Title", "Surname", "Forename", "MiddleNames", "Sex", "Gender",
       "Relationship", "Responsibility", "Address", "Phones", "Email"},
      unknown);
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

// Reads the pupil held in `t` (node 0) into `*out_ptr` (a new CtfPupil,
// filled in place: the struct is large).
void ReadPupil(const Tree& t, std::string_view bytes, int index,
               CtfPupil* out_ptr) {
  constexpr int p = 0;
  CtfPupil& out = *out_ptr;
  out.index = index;
  out.line = t.Line(p);
  const std::string path = "Pupil";
  out.upn = t.ChildString(p, "UPN");
  out.uln = t.ChildString(p, "UniqueLearnerNumber");
  out.uci = t.ChildString(p, "UCI");
  out.surname = t.ChildString(p, "Surname");
  out.forename = t.ChildString(p, "Forename");
  out.dob = t.ChildString(p, "DOB");
  ReadSex(t, p, &out.sex, &out.sex_element);
  out.nhs_number = NhsExtension(t, p);

  if (const int b = t.Child(p, "BasicDetails"); b != kNone) {
    out.former_upn = t.ChildString(b, "FormerUPN");
    out.preferred_surname = t.ChildString(b, "PreferredSurname");
    out.former_surname = t.ChildString(b, "FormerSurname");
    out.preferred_forename = t.ChildString(b, "PreferredForename");
    out.former_forename = t.ChildString(b, "FormerForename");
    out.middle_names = t.ChildString(b, "MiddleNames");
    out.nc_year_actual = t.ChildString(b, "NCyearActual");
    out.ethnicity = t.ChildString(b, "Ethnicity");
    out.ethnicity_source = t.ChildString(b, "EthnicitySource");
    out.medical_flag = t.ChildString(b, "MedicalFlag");
    out.enrol_status = t.ChildString(b, "EnrolStatus");
    if (out.sex.empty()) ReadSex(t, b, &out.sex, &out.sex_element);
    if (out.nhs_number.empty()) out.nhs_number = NhsExtension(t, b);
    if (const int langs = t.Child(b, "Languages"); langs != kNone) {
      for (int ty = t.FirstChild(langs); ty != kNone; ty = t.NextSibling(ty)) {
        if (t.Name(ty) != "Type") continue;
        std::string_view code = t.ChildText(ty, "Language");
        if (code.empty()) code = t.Text(ty);
        if (!code.empty()) out.languages.emplace_back(code);
      }
    }
    if (const int d = t.Child(b, "Disabilities"); d != kNone) {
      for (int x = t.FirstChild(d); x != kNone; x = t.NextSibling(x)) {
        if (t.Name(x) == "Disability" && !t.Text(x).empty()) {
          out.disabilities.emplace_back(t.Text(x));
        }
      }
    }
    NoteUnknown(
        t, b, path + "/BasicDetails",
        {"FormerUPN", "PreferredSurname", "FormerSurname", "PreferredForename",
         "FormerForename", "MiddleNames", "NCyearActual", "Ethnicity",
         "EthnicitySource", "Languages", "MedicalFlag", "Disabilities",
         "EnrolStatus", "Sex", "Gender", "NHSnumber", "NHSNumber", "NHSNo"},
        &out.unknown_elements);
  }
  if (const int la = t.Child(p, "LookedAfter"); la != kNone) {
    out.in_care = t.ChildString(la, "InCare");
    out.care_authority = t.ChildString(la, "CareAuthority");
  }
  if (const int f = t.Child(p, "FSMhistory"); f != kNone) {
    out.fsm_review_date = t.ChildString(f, "FSMreviewDate");
    for (int i = t.FirstChild(f); i != kNone; i = t.NextSibling(i)) {
      if (t.Name(i) != "FSMinstance") continue;
      out.fsm.push_back({t.ChildString(i, "FSMstartDate"),
                         t.ChildString(i, "FSMendDate"),
                         t.ChildString(i, "UKcountry")});
    }
  }
  if (const int s = t.Child(p, "SENhistory"); s != kNone) {
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
  ReadAddress(t, t.Child(p, "Address"), &out.address);
  ReadPhones(t, t.Child(p, "Phones"), &out.phones);
  out.email = t.ChildString(p, "Email");
  if (const int cs = t.Child(p, "Contacts"); cs != kNone) {
    for (int c = t.FirstChild(cs); c != kNone; c = t.NextSibling(c)) {
      if (t.Name(c) != "Contact") continue;
      ReadContact(t, c, bytes, path + "/Contacts/Contact",
                  &out.unknown_elements, &out.contacts.emplace_back());
    }
  }
  if (const int a = t.Child(p, "Attendance"); a != kNone) {
    for (int y = t.FirstChild(a); y != kNone; y = t.NextSibling(y)) {
      if (t.Name(y) != "YearData") continue;
      CtfYearData& d = out.attendance.emplace_back();
      d.line = t.Line(y);
      d.year = t.ChildString(y, "Year");
      d.lea = t.ChildString(y, "LEA");
      d.estab = t.ChildString(y, "Estab");
      d.school_name = t.ChildString(y, "SchoolName");
      d.sessions_possible = t.ChildString(y, "SessionsPossible");
      d.sessions_authorised = t.ChildString(y, "SessionsAuthorised");
      d.sessions_attended = t.ChildString(y, "SessionsAttended");
      d.sessions_unauthorised = t.ChildString(y, "SessionsUnauthorised");
      d.attendance_start_date = t.ChildString(y, "AttendanceStartDate");
      // Marks are position-significant: not trimmed beyond line breaks.
      d.attendance_marks = t.ChildString(y, "AttendanceMarks");
      d.native_digest = SpanDigest(bytes, t.Begin(y), t.End(y));
    }
  }
  NoteUnknown(t, p, path,
              {"UPN", "UniqueLearnerNumber", "UCI", "Surname", "Forename",
               "DOB", "Sex", "Gender", "NHSnumber", "NHSNumber", "NHSNo",
               "BasicDetails", "LookedAfter", "FSMhistory", "SENhistory",
               "Address", "Phones", "Email", "Contacts", "Attendance",
               // Known and deliberately not read (README "Ignored").
               "StageAssessments", "SchoolHistory", "Admissions", "NAWdetails",
               "ServiceChildren", "Service", "Exclusions", "Photo"},
              &out.unknown_elements);
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
  explicit CtfSink(std::string_view bytes, CtfFile* out)
      : bytes_(bytes), lines_(bytes), out_(out) {}

  void StartElement(std::string_view name, size_t begin) override {
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

  void EndElement(size_t end) override {
    --depth_;
    if (capture_ != nullptr) {
      capture_->End(end);
      if (!capture_->open()) {
        if (capture_ == &pupil_) {
          if (pupils_ == 0) ReservePupils();
          ReadPupil(pupil_, bytes_, ++pupils_, &out_->pupils.emplace_back());
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

  // After a successful parse: the whole-file checks, the header and the
  // unknown elements in the order a whole-tree read reported them.
  bool Finish(CtfFileError* error) {
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
    const Tree& t = header_;
    constexpr int header = 0;
    CtfHeader& h = out_->header;
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
    std::vector<std::string>& unknown = out_->unknown_elements;
    NoteUnknown(
        t, header, "CTfile/Header",
        {"DocumentName", "CTFversion", "CTFVersion", "CtfVersion", "DateTime",
         "DocumentQualifier", "DataQualifier", "DataDescriptor", "SupplierID",
         "SourceSchool", "DestSchool", "SuppID"},
        &unknown);
    for (auto* list : {&root_unknown_, &data_unknown_}) {
      for (std::string& p : *list) NoteOnce(&unknown, std::move(p));
    }
    return true;
  }

 private:
  // Sizes the pupil vector from the first pupil's length and the bytes
  // left, so a large file does not move every CtfPupil (1.5 KB each) on
  // each doubling and first-touch the old and new buffers (~10 ms on a
  // 10,000-pupil file). Only an estimate: a wrong guess just means the
  // vector grows as before. Pupils are taken as at least 1 KB (the
  // smallest useful pupil is a few hundred bytes), so an odd first pupil
  // cannot reserve more than bytes/1 KB entries.
  void ReservePupils() {
    const size_t first = pupil_.End(0) - pupil_.Begin(0);
    const size_t left =
        bytes_.size() - std::min(bytes_.size(), pupil_.Begin(0));
    const size_t estimate = left / std::max<size_t>(first, 1024);
    out_->pupils.reserve(estimate + estimate / 8 + 1);
  }

  // Lines are kept for the records that report them.
  bool NeedsLine() const { return depth_ == 5; }  // Contact, YearData

  std::string_view bytes_;
  LineCounter lines_;
  CtfFile* out_;
  int depth_ = 0;
  int root_line_ = 0;
  bool is_ctf_ = false;
  bool saw_header_ = false, saw_data_ = false, in_data_ = false;
  int pupils_ = 0;
  Tree header_, pupil_;
  Tree* capture_ = nullptr;
  std::vector<std::string> root_unknown_, data_unknown_;
};

}  // namespace

bool ReadCtf(std::string_view bytes, const XmlLimits& limits, CtfFile* out,
             CtfFileError* error) {
  *out = CtfFile();
  CtfSink sink(bytes, out);
  XmlError xml_error;
  if (!StreamXml(bytes, limits, &sink, &xml_error)) {
    *out = CtfFile();
    *error = {xml_error.rule, xml_error.message, xml_error.line};
    return false;
  }
  if (!sink.Finish(error)) {
    *out = CtfFile();
    return false;
  }
  return true;
}

}  // namespace ehx::adapters::school
