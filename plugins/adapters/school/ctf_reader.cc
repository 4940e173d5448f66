#include "ctf_reader.h"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace ehx::adapters::school {
namespace {

std::string Text(const XmlElement* e) {
  return e == nullptr ? std::string() : std::string(TrimXml(e->text));
}

// Records "<path>/<name>" for every child of `e` not in `known` (once).
void NoteUnknown(const XmlElement& e, std::string_view path,
                 std::initializer_list<std::string_view> known,
                 std::vector<std::string>* out) {
  for (const XmlElement& c : e.children) {
    if (std::find(known.begin(), known.end(), c.name) != known.end()) continue;
    std::string p = std::string(path) + "/" + c.name;
    if (std::find(out->begin(), out->end(), p) == out->end()) {
      out->push_back(std::move(p));
    }
  }
}

CtfSchool ReadSchool(const XmlElement* e) {
  CtfSchool s;
  if (e == nullptr) return s;
  s.lea = e->ChildText("LEA");
  s.estab = e->ChildText("Estab");
  s.urn = e->ChildText("URN");
  s.name = e->ChildText("SchoolName");
  s.academic_year = e->ChildText("AcademicYear");
  return s;
}

void ReadPhones(const XmlElement* phones, std::vector<CtfPhone>* out) {
  if (phones == nullptr) return;
  for (const XmlElement& p : phones->children) {
    if (p.name != "Phone") continue;
    out->push_back({p.ChildText("TelephoneType"), p.ChildText("PhoneNo")});
  }
}

void ReadAddress(const XmlElement* a, CtfAddress* out) {
  if (a == nullptr) return;
  out->present = true;
  if (const XmlElement* bs = a->Child("BS7666Address")) {
    out->bs7666 = true;
    out->saon = bs->ChildText("SAON");
    out->paon = bs->ChildText("PAON");
    out->street = bs->ChildText("Street");
    out->locality = bs->ChildText("Locality");
    out->town = bs->ChildText("Town");
    out->administrative_area = bs->ChildText("AdministrativeArea");
    out->post_town = bs->ChildText("PostTown");
    out->uprn = bs->ChildText("UniquePropertyReferenceNumber");
  }
  if (const XmlElement* lines = a->Child("AddressLines")) {
    for (const XmlElement& l : lines->children) {
      if (l.name.rfind("AddressLine", 0) == 0) {
        std::string t(TrimXml(l.text));
        if (!t.empty()) out->lines.push_back(std::move(t));
      }
    }
  }
  out->county = a->ChildText("County");
  out->postcode = a->ChildText("PostCode");
  out->zip = a->ChildText("Zip");
  out->country = a->ChildText("Country");
}

// Sex, or the legacy Gender element.
void ReadSex(const XmlElement& e, std::string* value, std::string* element) {
  if (const XmlElement* s = e.Child("Sex")) {
    *value = Text(s);
    if (element) *element = "Sex";
  } else if (const XmlElement* g = e.Child("Gender")) {
    *value = Text(g);
    if (element) *element = "Gender";
  }
}

std::string NhsExtension(const XmlElement& e) {
  for (const char* n : {"NHSnumber", "NHSNumber", "NHSNo"}) {
    if (const XmlElement* c = e.Child(n)) return Text(c);
  }
  return {};
}

CtfContact ReadContact(const XmlElement& c, const std::string& path,
                       std::vector<std::string>* unknown) {
  CtfContact out;
  out.line = c.line;
  out.order = c.ChildText("Order");
  out.title = c.ChildText("Title");
  out.surname = c.ChildText("Surname");
  out.forename = c.ChildText("Forename");
  out.middle_names = c.ChildText("MiddleNames");
  ReadSex(c, &out.sex, nullptr);
  out.relationship = c.ChildText("Relationship");
  out.responsibility = c.ChildText("Responsibility");
  if (const XmlElement* a = c.Child("Address")) {
    if (const XmlElement* as = a->Child("AddressAsPupil")) {
      const std::string v(TrimXml(as->text));
      out.address_as_pupil =
          v == "true" || v == "1" || v == "Y" || v == "Yes" || v.empty();
    }
    if (!out.address_as_pupil) ReadAddress(a, &out.address);
  }
  ReadPhones(c.Child("Phones"), &out.phones);
  out.email = c.ChildText("Email");
  NoteUnknown(
      c, path,
      {"Order", "Title", "Surname", "Forename", "MiddleNames", "Sex", "Gender",
       "Relationship", "Responsibility", "Address", "Phones", "Email"},
      unknown);
  return out;
}

CtfPupil ReadPupil(const XmlElement& p, int index) {
  CtfPupil out;
  out.index = index;
  out.line = p.line;
  const std::string path = "Pupil";
  out.upn = p.ChildText("UPN");
  out.uln = p.ChildText("UniqueLearnerNumber");
  out.uci = p.ChildText("UCI");
  out.surname = p.ChildText("Surname");
  out.forename = p.ChildText("Forename");
  out.dob = p.ChildText("DOB");
  ReadSex(p, &out.sex, &out.sex_element);
  out.nhs_number = NhsExtension(p);

  if (const XmlElement* b = p.Child("BasicDetails")) {
    out.former_upn = b->ChildText("FormerUPN");
    out.preferred_surname = b->ChildText("PreferredSurname");
    out.former_surname = b->ChildText("FormerSurname");
    out.preferred_forename = b->ChildText("PreferredForename");
    out.former_forename = b->ChildText("FormerForename");
    out.middle_names = b->ChildText("MiddleNames");
    out.nc_year_actual = b->ChildText("NCyearActual");
    out.ethnicity = b->ChildText("Ethnicity");
    out.ethnicity_source = b->ChildText("EthnicitySource");
    out.medical_flag = b->ChildText("MedicalFlag");
    out.enrol_status = b->ChildText("EnrolStatus");
    if (out.sex.empty()) ReadSex(*b, &out.sex, &out.sex_element);
    if (out.nhs_number.empty()) out.nhs_number = NhsExtension(*b);
    if (const XmlElement* langs = b->Child("Languages")) {
      for (const XmlElement& t : langs->children) {
        if (t.name != "Type") continue;
        std::string code = t.ChildText("Language");
        if (code.empty()) code = std::string(TrimXml(t.text));
        if (!code.empty()) out.languages.push_back(std::move(code));
      }
    }
    if (const XmlElement* d = b->Child("Disabilities")) {
      for (const XmlElement& x : d->children) {
        if (x.name == "Disability" && !TrimXml(x.text).empty()) {
          out.disabilities.emplace_back(TrimXml(x.text));
        }
      }
    }
    NoteUnknown(
        *b, path + "/BasicDetails",
        {"FormerUPN", "PreferredSurname", "FormerSurname", "PreferredForename",
         "FormerForename", "MiddleNames", "NCyearActual", "Ethnicity",
         "EthnicitySource", "Languages", "MedicalFlag", "Disabilities",
         "EnrolStatus", "Sex", "Gender", "NHSnumber", "NHSNumber", "NHSNo"},
        &out.unknown_elements);
  }
  if (const XmlElement* la = p.Child("LookedAfter")) {
    out.in_care = la->ChildText("InCare");
    out.care_authority = la->ChildText("CareAuthority");
  }
  if (const XmlElement* f = p.Child("FSMhistory")) {
    out.fsm_review_date = f->ChildText("FSMreviewDate");
    for (const XmlElement& i : f->children) {
      if (i.name != "FSMinstance") continue;
      out.fsm.push_back({i.ChildText("FSMstartDate"), i.ChildText("FSMendDate"),
                         i.ChildText("UKcountry")});
    }
  }
  if (const XmlElement* s = p.Child("SENhistory")) {
    if (const XmlElement* sen = s->Child("SEN")) {
      out.sen_start_date = sen->ChildText("StartDate");
      out.sen_provision = sen->ChildText("SENprovision");
    }
    if (const XmlElement* needs = s->Child("SENneeds")) {
      for (const XmlElement& n : needs->children) {
        if (n.name != "SENneed") continue;
        // SENneed is either text or { SENtype, SENrank }.
        std::string code = n.ChildText("SENtype");
        if (code.empty() && n.children.empty())
          code = std::string(TrimXml(n.text));
        if (!code.empty()) out.sen_needs.push_back(std::move(code));
      }
    }
  }
  ReadAddress(p.Child("Address"), &out.address);
  ReadPhones(p.Child("Phones"), &out.phones);
  out.email = p.ChildText("Email");
  if (const XmlElement* cs = p.Child("Contacts")) {
    for (const XmlElement& c : cs->children) {
      if (c.name != "Contact") continue;
      out.contacts.push_back(
          ReadContact(c, path + "/Contacts/Contact", &out.unknown_elements));
    }
  }
  if (const XmlElement* a = p.Child("Attendance")) {
    for (const XmlElement& y : a->children) {
      if (y.name != "YearData") continue;
      CtfYearData d;
      d.line = y.line;
      d.year = y.ChildText("Year");
      d.lea = y.ChildText("LEA");
      d.estab = y.ChildText("Estab");
      d.school_name = y.ChildText("SchoolName");
      d.sessions_possible = y.ChildText("SessionsPossible");
      d.sessions_authorised = y.ChildText("SessionsAuthorised");
      d.sessions_attended = y.ChildText("SessionsAttended");
      d.sessions_unauthorised = y.ChildText("SessionsUnauthorised");
      d.attendance_start_date = y.ChildText("AttendanceStartDate");
      // Marks are position-significant: not trimmed beyond line breaks.
      if (const XmlElement* m = y.Child("AttendanceMarks")) {
        d.attendance_marks = std::string(TrimXml(m->text));
      }
      out.attendance.push_back(std::move(d));
    }
  }
  NoteUnknown(p, path,
              {"UPN", "UniqueLearnerNumber", "UCI", "Surname", "Forename",
               "DOB", "Sex", "Gender", "NHSnumber", "NHSNumber", "NHSNo",
               "BasicDetails", "LookedAfter", "FSMhistory", "SENhistory",
               "Address", "Phones", "Email", "Contacts", "Attendance",
               // Known and deliberately not read (README "Ignored").
               "StageAssessments", "SchoolHistory", "Admissions", "NAWdetails",
               "ServiceChildren", "Service", "Exclusions", "Photo"},
              &out.unknown_elements);
  return out;
}

}  // namespace

bool ReadCtfTree(const XmlElement& root, CtfFile* out, CtfFileError* error) {
  *out = CtfFile();
  if (root.name != "CTfile") {
    *error = {"ctf_not_a_ctf", "the root element is not CTfile", root.line};
    return false;
  }
  const XmlElement* header = root.Child("Header");
  if (header == nullptr) {
    *error = {"ctf_header_missing", "CTfile/Header is missing", root.line};
    return false;
  }
  const XmlElement* data = root.Child("CTFpupilData");
  if (data == nullptr) {
    *error = {"ctf_pupil_data_missing", "CTfile/CTFpupilData is missing",
              root.line};
    return false;
  }
  CtfHeader& h = out->header;
  h.document_name = header->ChildText("DocumentName");
  // The XSD spells CTFversion; some vendor documents print CTFVersion.
  for (const char* n : {"CTFversion", "CTFVersion", "CtfVersion"}) {
    if (const XmlElement* v = header->Child(n)) {
      h.version = Text(v);
      h.version_element = n;
      break;
    }
  }
  h.date_time = header->ChildText("DateTime");
  h.document_qualifier = header->ChildText("DocumentQualifier");
  h.supplier_id = header->ChildText("SupplierID");
  h.source = ReadSchool(header->Child("SourceSchool"));
  h.dest = ReadSchool(header->Child("DestSchool"));
  NoteUnknown(
      *header, "CTfile/Header",
      {"DocumentName", "CTFversion", "CTFVersion", "CtfVersion", "DateTime",
       "DocumentQualifier", "DataQualifier", "DataDescriptor", "SupplierID",
       "SourceSchool", "DestSchool", "SuppID"},
      &out->unknown_elements);
  NoteUnknown(root, "CTfile", {"Header", "CTFpupilData"},
              &out->unknown_elements);
  int index = 0;
  for (const XmlElement& p : data->children) {
    if (p.name != "Pupil") {
      std::string path = "CTfile/CTFpupilData/" + p.name;
      if (std::find(out->unknown_elements.begin(), out->unknown_elements.end(),
                    path) == out->unknown_elements.end()) {
        out->unknown_elements.push_back(std::move(path));
      }
      continue;
    }
    out->pupils.push_back(ReadPupil(p, ++index));
  }
  return true;
}

bool ReadCtf(std::string_view bytes, const XmlLimits& limits, CtfFile* out,
             CtfFileError* error) {
  XmlElement root;
  XmlError xml_error;
  if (!ParseXml(bytes, limits, &root, &xml_error)) {
    *out = CtfFile();
    *error = {xml_error.rule, xml_error.message, xml_error.line};
    return false;
  }
  return ReadCtfTree(root, out, error);
}

}  // namespace ehx::adapters::school
