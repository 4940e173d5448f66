// The streaming CTF reader (ctf_reader.cc: each Pupil read straight from
// the expat events) must read every document exactly as the tree-based
// reader it replaced (ctf_reader_reference.cc, tests only): same accept or
// refuse, same error, same fields of every record, same unknown-element
// paths in the same order, same digests and lines, also when the reader's
// CtfPupil is reused from pupil to pupil. Inputs: every CTF in the repo
// (fixtures, fuzz seeds, demo files), variants of them (every element
// removed, repeated, preceded by an empty twin, given a child and
// whitespace), and hand-written awkward documents.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ctf_reader.h"
#include "ctf_reader_reference.h"
#include "ctf_xml.h"

namespace ehx::adapters::school {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Every CTF-like document checked into the repo.
std::vector<std::pair<std::string, std::string>> RepoDocuments() {
  const fs::path root(EHX_SOURCE_DIR);
  std::vector<std::pair<std::string, std::string>> docs;
  for (const fs::path& dir :
       {root / "tests/adapters/school/fixtures",
        root / "tests/fuzz/school/corpus/ctf_ingest",
        root / "deploy/demo/native", root / "deploy/demo/flow"}) {
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      if (f.extension() != ".xml") continue;
      const std::string text = ReadFile(f);
      if (dir.filename() == "native" || dir.filename() == "flow") {
        if (text.find("<CTfile") == std::string::npos) continue;
      }
      docs.emplace_back(fs::relative(f, root).string(), text);
    }
  }
  return docs;
}

// The [begin, end) byte span and local name of every element.
struct Span {
  size_t begin, end;
  std::string name;
  size_t start_tag_end;  // just after the start tag's '>'
};
class SpanSink : public XmlSink {
 public:
  explicit SpanSink(std::string_view bytes) : bytes_(bytes) {}
  void StartElement(std::string_view name, const XmlPosition& at) override {
    const size_t begin = at.Begin();
    open_.push_back(spans_.size());
    const size_t gt = bytes_.find('>', begin);
    spans_.push_back({begin, begin, std::string(name), gt + 1});
  }
  void EndElement(const XmlPosition& at) override {
    spans_[open_.back()].end = at.End();
    open_.pop_back();
  }
  void Text(std::string_view) override {}
  std::vector<Span> spans_;

 private:
  std::string_view bytes_;
  std::vector<size_t> open_;
};

std::vector<Span> Spans(const std::string& xml) {
  SpanSink sink(xml);
  XmlError error;
  if (!StreamXml(xml, XmlLimits(), &sink, &error)) return {};
  return sink.spans_;
}

// For each element below the root: the document without it, with it
// twice, with an empty twin before it, and with a child element and
// whitespace added inside it (self-closing elements are left out of the
// last one).
std::vector<std::pair<std::string, std::string>> Variants(
    const std::string& name, const std::string& xml) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::vector<Span> spans = Spans(xml);
  for (size_t i = 1; i < spans.size(); ++i) {
    const Span& s = spans[i];
    const std::string element = xml.substr(s.begin, s.end - s.begin);
    const std::string at =
        name + " element " + std::to_string(i) + " (" + s.name + ")";
    out.emplace_back(at + " removed",
                     xml.substr(0, s.begin) + xml.substr(s.end));
    out.emplace_back(at + " twice",
                     xml.substr(0, s.end) + element + xml.substr(s.end));
    out.emplace_back(
        at + " empty twin first",
        xml.substr(0, s.begin) + "<" + s.name + "/>" + xml.substr(s.begin));
    if (s.start_tag_end < s.end && xml[s.start_tag_end - 2] != '/') {
      out.emplace_back(at + " with a child", xml.substr(0, s.start_tag_end) +
                                                 " \n<Extra>x</Extra>\t" +
                                                 xml.substr(s.start_tag_end));
    }
  }
  return out;
}

void ExpectSame(const std::string& name, const std::string& xml) {
  EXPECT_EQ(reference::CompareReaders(xml, XmlLimits()), "") << name;
}

TEST(CtfReaderEquivalence, RepoDocuments) {
  const auto docs = RepoDocuments();
  ASSERT_GE(docs.size(), 10u);
  for (const auto& [name, xml] : docs) ExpectSame(name, xml);
}

TEST(CtfReaderEquivalence, EveryElementRemovedRepeatedOrGivenAChild) {
  size_t checked = 0;
  for (const auto& [name, xml] : RepoDocuments()) {
    CtfFile file;
    CtfFileError error;
    if (!ReadCtf(xml, XmlLimits(), &file, &error)) continue;
    for (const auto& [variant, text] : Variants(name, xml)) {
      ExpectSame(variant, text);
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000u);
}

TEST(CtfReaderEquivalence, HeaderLastAndPupilsReversed) {
  const std::string oakfield =
      ReadFile(fs::path(EHX_SOURCE_DIR) /
               "tests/adapters/school/fixtures/ctf25_oakfield.xml");
  const size_t hb = oakfield.find("<Header>");
  const size_t he = oakfield.find("</Header>") + 9;
  std::string moved = oakfield;
  const std::string header = moved.substr(hb, he - hb);
  moved.erase(hb, he - hb);
  moved.insert(moved.find("</CTFpupilData>") + 15, header);
  ExpectSame("header last", moved);
  ExpectSame("two headers", oakfield.substr(0, he) + header.substr(0, 8) +
                                "<DocumentName>Other</DocumentName></Header>" +
                                oakfield.substr(he));

  const size_t first = oakfield.find("<Pupil>");
  const size_t end = oakfield.find("</CTFpupilData>");
  std::vector<std::string> pupils;
  for (size_t b = first; b != std::string::npos && b < end;) {
    const size_t e = oakfield.find("</Pupil>", b) + 8;
    pupils.push_back(oakfield.substr(b, e - b));
    b = oakfield.find("<Pupil>", e);
  }
  ASSERT_GE(pupils.size(), 3u);
  std::string reversed = oakfield.substr(0, first);
  for (auto it = pupils.rbegin(); it != pupils.rend(); ++it) {
    reversed += *it + "\n";
  }
  reversed += oakfield.substr(end);
  ExpectSame("reversed", reversed);
  // Each pupil after the largest one: a reused CtfPupil must not keep
  // anything from it.
  for (size_t i = 0; i < pupils.size(); ++i) {
    std::string doc = oakfield.substr(0, first);
    for (size_t j = 0; j < pupils.size(); ++j) doc += pupils[j] + pupils[i];
    doc += oakfield.substr(end);
    ExpectSame("pupil " + std::to_string(i) + " after each", doc);
  }
}

std::string Ctf(const std::string& pupils, const std::string& extra = "") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CTfile>" + extra +
         "<Header><DocumentName>Common Transfer File</DocumentName>"
         "<CTFversion>25.0</CTFversion><DateTime>2026-01-05T08:30:00"
         "</DateTime><SourceSchool><LEA>820</LEA><Estab>9999</Estab>"
         "</SourceSchool><Junk/></Header>\n<CTFpupilData>\n" +
         pupils + "\n</CTFpupilData></CTfile>\n";
}

TEST(CtfReaderEquivalence, AwkwardDocuments) {
  const std::vector<std::pair<std::string, std::string>> docs = {
      {"sex empty, gender in basic details",
       Ctf("<Pupil><Sex> </Sex><BasicDetails><Gender>M</Gender>"
           "<Sex/></BasicDetails></Pupil>")},
      {"basic details before the pupil's gender",
       Ctf("<Pupil><BasicDetails><Sex>F</Sex></BasicDetails><Gender>M"
           "</Gender></Pupil>")},
      {"gender then sex", Ctf("<Pupil><Gender>M</Gender><Sex>F</Sex></Pupil>")},
      {"nhs extensions",
       Ctf("<Pupil><NHSNo>3</NHSNo><NHSNumber>2</NHSNumber><BasicDetails>"
           "<NHSnumber>1</NHSnumber></BasicDetails></Pupil>"
           "<Pupil><NHSnumber/><NHSNo>3</NHSNo><BasicDetails><NHSNo>4</NHSNo>"
           "<NHSNumber>5</NHSNumber></BasicDetails></Pupil>")},
      {"mixed content and split text",
       Ctf("<Pupil><UPN>  A<b>x</b>B &amp; <![CDATA[ C ]]>\r\n</UPN>"
           "<Surname>O&apos;Neill<!-- c -->-Brown</Surname>"
           "<Forename>\n\t</Forename><Forename>late</Forename></Pupil>")},
      {"repeated containers",
       Ctf("<Pupil><BasicDetails><Colour/></BasicDetails><BasicDetails>"
           "<Other/><Ethnicity>X</Ethnicity></BasicDetails><Contacts>"
           "<Contact><Shoe/><Order>1</Order><Order>2</Order></Contact>"
           "<Contact><Shoe/><Hat/></Contact><Other/></Contacts><Contacts>"
           "<Contact><Order>9</Order></Contact></Contacts><Attendance>"
           "<YearData><Year>1</Year></YearData></Attendance><Attendance>"
           "<YearData><Year>2</Year></YearData></Attendance><Colour/><Shoe/>"
           "</Pupil>")},
      {"address shapes",
       Ctf("<Pupil><Address><AddressAsPupil>true</AddressAsPupil>"
           "<AddressLines><AddressLine1> a </AddressLine1><AddressLine2/>"
           "<AddressLineX>x</AddressLineX><AddressLines>n</AddressLines>"
           "<Other>o</Other><AddressLine>y</AddressLine></AddressLines>"
           "<BS7666Address><PAON>1</PAON><PAON>2</PAON></BS7666Address>"
           "<BS7666Address><SAON>3</SAON></BS7666Address><County/>"
           "<County>C</County></Address><Contacts><Contact><Address>"
           "<PostCode>P</PostCode><AddressAsPupil> no </AddressAsPupil>"
           "</Address></Contact><Contact><Address><PostCode>P</PostCode>"
           "<AddressAsPupil/></Address></Contact><Contact><Address>"
           "<AddressAsPupil>Y</AddressAsPupil></Address><Address>"
           "<AddressAsPupil>false</AddressAsPupil></Address></Contact>"
           "<Contact><Address/></Contact></Contacts></Pupil>")},
      {"lists",
       Ctf("<Pupil><BasicDetails><Languages><Type>ENG</Type><Type>"
           "<Language/> FRE </Type><Type><Language>GER</Language><Language>"
           "X</Language></Type><Type/><Other>o</Other></Languages>"
           "<Disabilities><Disability>A</Disability><Disability/>"
           "<Disability> B<x/></Disability><Other>C</Other></Disabilities>"
           "</BasicDetails><SENhistory><SEN><StartDate>d</StartDate></SEN>"
           "<SEN><SENprovision>E</SENprovision></SEN><SENneeds><SENneed>"
           "SPLD</SENneed><SENneed><SENrank>1</SENrank>text</SENneed>"
           "<SENneed><SENtype/>t2</SENneed><SENneed><SENtype>ASD</SENtype>"
           "</SENneed></SENneeds><SENneeds><SENneed>NO</SENneed></SENneeds>"
           "</SENhistory><FSMhistory><FSMinstance><FSMstartDate>a"
           "</FSMstartDate><FSMstartDate>b</FSMstartDate></FSMinstance>"
           "<FSMreviewDate>r</FSMreviewDate><FSMinstance/><FSMreviewDate>s"
           "</FSMreviewDate></FSMhistory><LookedAfter><InCare>true</InCare>"
           "<CareAuthority>820</CareAuthority></LookedAfter><LookedAfter>"
           "<InCare>false</InCare></LookedAfter><Phones><Phone>"
           "<PhoneNo>1</PhoneNo></Phone><Other/><Phone/></Phones><Phones>"
           "<Phone><PhoneNo>2</PhoneNo></Phone></Phones></Pupil>")},
      {"nested pupil and unknowns everywhere",
       Ctf("<Pupil><Pupil><UPN>inner</UPN></Pupil><UPN>outer</UPN></Pupil>"
           "<Other/><Pupil/><Pupil>text</Pupil>",
           "<Before/>")},
      {"namespace prefixes",
       Ctf("<ctf:Pupil><ctf:UPN>A</ctf:UPN><x:BasicDetails><a:b:Ethnicity>E"
           "</a:b:Ethnicity></x:BasicDetails></ctf:Pupil>")},
      {"second CTFpupilData",
       Ctf("<Pupil><UPN>1</UPN></Pupil>") + "<!-- trailing -->"},
      {"CR line ends",
       "<CTfile>\r<Header>\r</Header>\r<CTFpupilData>\r<Pupil>\r<Contacts>\r"
       "<Contact>\r</Contact></Contacts><Attendance>\r\n<YearData/>"
       "</Attendance></Pupil></CTFpupilData><CTFpupilData><Pupil/>"
       "</CTFpupilData></CTfile>"},
      {"not a ctf", "<CTF><Header/><CTFpupilData/></CTF>"},
      {"truncated", Ctf("<Pupil><UPN>1</UPN></Pupil>").substr(0, 300)},
      {"no pupil data", "<CTfile><Header/></CTfile>"},
  };
  for (const auto& [name, xml] : docs) ExpectSame(name, xml);
  // UTF-16 (little-endian, with a byte order mark): lines and spans in
  // the document's own bytes.
  const std::string ascii = Ctf(
      "<Pupil>\n<UPN>A</UPN>\n<Contacts>\n<Contact><Order>1</Order></Contact>"
      "</Contacts></Pupil>");
  std::string utf16 = "\xFF\xFE";
  for (char c : std::string("<?xml version=\"1.0\" encoding=\"UTF-16\"?>") +
                    ascii.substr(ascii.find('\n'))) {
    utf16.push_back(c);
    utf16.push_back('\0');
  }
  ExpectSame("utf-16", utf16);
}

}  // namespace
}  // namespace ehx::adapters::school
