// The hardened XML layer and whole-file refusals.
#include "ctf_xml.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "ctf_reader.h"

namespace ehx::adapters::school {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(
      std::string(EHX_SOURCE_DIR) + "/tests/adapters/school/fixtures/" + name,
      std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

TEST(Xml, ExternalEntityIsRefused) {
  XmlElement root;
  XmlError error;
  EXPECT_FALSE(ParseXml(Fixture("xxe.xml"), XmlLimits(), &root, &error));
  EXPECT_EQ(error.rule, "xml_dtd_refused");
  EXPECT_EQ(error.message.find("passwd"), std::string::npos);
  EXPECT_TRUE(root.children.empty());
}

TEST(Xml, BillionLaughsIsRefusedQuickly) {
  const auto start = std::chrono::steady_clock::now();
  XmlElement root;
  XmlError error;
  EXPECT_FALSE(
      ParseXml(Fixture("billion_laughs.xml"), XmlLimits(), &root, &error));
  EXPECT_EQ(error.rule, "xml_dtd_refused");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(Xml, InternalSubsetWithoutEntitiesIsStillRefused) {
  XmlElement root;
  XmlError error;
  EXPECT_FALSE(
      ParseXml("<!DOCTYPE CTfile><CTfile/>", XmlLimits(), &root, &error));
  EXPECT_EQ(error.rule, "xml_dtd_refused");
}

TEST(Xml, UndeclaredEntityIsMalformed) {
  XmlElement root;
  XmlError error;
  EXPECT_FALSE(ParseXml("<a>&foo;</a>", XmlLimits(), &root, &error));
  EXPECT_EQ(error.rule, "xml_malformed");
}

TEST(Xml, PredefinedEntitiesAndCharacterReferencesWork) {
  XmlElement root;
  XmlError error;
  ASSERT_TRUE(ParseXml("<a><b>O&apos;Neill &amp; Zo&#235;</b></a>", XmlLimits(),
                       &root, &error));
  EXPECT_EQ(root.ChildText("b"), "O'Neill & Zo\xC3\xAB");
}

TEST(Xml, Latin1IsConvertedToUtf8) {
  XmlElement root;
  XmlError error;
  ASSERT_TRUE(
      ParseXml("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>Ren\xE9"
               "e</a>",
               XmlLimits(), &root, &error));
  EXPECT_EQ(root.text,
            "Ren\xC3\xA9"
            "e");
}

TEST(Xml, LimitsHold) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<a>";
  for (int i = 0; i < 100; ++i) deep += "</a>";
  XmlElement root;
  XmlError error;
  EXPECT_FALSE(ParseXml(deep, XmlLimits(), &root, &error));
  EXPECT_EQ(error.rule, "xml_too_deep");
  XmlLimits small;
  small.max_bytes = 10;
  EXPECT_FALSE(ParseXml("<a>0123456789</a>", small, &root, &error));
  EXPECT_EQ(error.rule, "xml_too_large");
  small = XmlLimits();
  small.max_elements = 3;
  EXPECT_FALSE(ParseXml("<a><b/><b/><b/></a>", small, &root, &error));
  EXPECT_EQ(error.rule, "xml_too_many_elements");
  EXPECT_FALSE(ParseXml("", XmlLimits(), &root, &error));
  EXPECT_EQ(error.rule, "xml_malformed");
}

TEST(Ctf, WholeFileRefusals) {
  CtfFile file;
  CtfFileError error;
  EXPECT_FALSE(ReadCtf(Fixture("truncated.xml"), XmlLimits(), &file, &error));
  EXPECT_EQ(error.rule, "xml_malformed");
  EXPECT_GT(error.line, 0);
  EXPECT_TRUE(file.pupils.empty());
  EXPECT_FALSE(ReadCtf(Fixture("not_a_ctf.xml"), XmlLimits(), &file, &error));
  EXPECT_EQ(error.rule, "ctf_not_a_ctf");
  EXPECT_FALSE(
      ReadCtf("<CTfile><CTFpupilData/></CTfile>", XmlLimits(), &file, &error));
  EXPECT_EQ(error.rule, "ctf_header_missing");
  EXPECT_FALSE(
      ReadCtf("<CTfile><Header/></CTfile>", XmlLimits(), &file, &error));
  EXPECT_EQ(error.rule, "ctf_pupil_data_missing");
}

TEST(Ctf, ReadsBothShapesAndNotesUnknownElements) {
  CtfFile file;
  CtfFileError error;
  ASSERT_TRUE(
      ReadCtf(Fixture("ctf25_oakfield.xml"), XmlLimits(), &file, &error));
  EXPECT_EQ(file.header.version, "25.0");
  EXPECT_EQ(file.header.version_element, "CTFversion");
  ASSERT_EQ(file.pupils.size(), 9u);
  EXPECT_EQ(file.pupils[0].forename, "Zo\xC3\xAB");
  EXPECT_EQ(file.pupils[0].contacts.size(), 2u);
  EXPECT_EQ(file.pupils[0].attendance.size(), 2u);
  EXPECT_EQ(file.pupils[0].sen_needs, std::vector<std::string>{"SLCN"});
  EXPECT_EQ(file.pupils[2].sex_element, "Gender");
  EXPECT_EQ(file.pupils[2].surname, "O'Neill-Brown");
  EXPECT_EQ(file.pupils[2].unknown_elements,
            std::vector<std::string>{"Pupil/BasicDetails/FavouriteColour"});
  ASSERT_TRUE(ReadCtf(Fixture("ctf24_legacy.xml"), XmlLimits(), &file, &error));
  EXPECT_EQ(file.header.version_element, "CTFVersion");
  EXPECT_EQ(file.pupils[0].sex, "F");
  EXPECT_EQ(file.pupils[0].contacts[0].sex, "F");
}

}  // namespace
}  // namespace ehx::adapters::school
