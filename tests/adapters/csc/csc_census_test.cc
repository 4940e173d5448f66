// CIN census reading and mapping: golden output on a realistic fixture,
// hostile XML (XXE, billion laughs), malformed and truncated files.
#include "cin_census.h"
#include "csc_ingest.h"
#include "csc_test_util.h"
#include "csc_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ehx::adapters::csc {
namespace {

using ::ehx::csc_test::ExpectGolden;
using ::ehx::csc_test::Fixture;
using ::ehx::csc_test::MapResultJson;

ehxpb::cases::v1::Person Child(
    std::initializer_list<std::pair<const char*, const char*>> ids,
    ehxpb::cases::v1::VerificationStatus v =
        ehxpb::cases::v1::VERIFICATION_STATUS_UNVERIFIED) {
  ehxpb::cases::v1::Person p;
  for (auto [system, value] : ids) {
    auto* id = p.add_identifiers();
    id->set_system(system);
    id->set_value(value);
    id->set_verification(v);
  }
  return p;
}

// The index as if the adapter had written these step-up referrals.
void SeedIndex(LinkIndex* index) {
  std::string error;
  LinkEntry r1;
  r1.referral_id = "R-2024-0001";
  r1.message_id = "01HX2V6J8K3M4N5P6Q7R8S9T0V";
  r1.correlation_id = r1.message_id;
  r1.case_ref = "EH-2024-000001";
  r1.referred_on = "2024-04-30";
  r1.id_hashes = LinkableIdHashes(
      Child({{kUpnSystem, "D935412345001"}, {kNhsSystem, "9990000018"}}));
  ASSERT_TRUE(index->Add(r1, &error));
  LinkEntry r2;
  r2.referral_id = "R-2024-0002";
  r2.message_id = "01HX2V6J8K3M4N5P6Q7R8S9T0W";
  r2.correlation_id = "corr-R-2024-0002";
  r2.case_ref = "EH-2024-000002";
  r2.referred_on = "2024-07-10";
  r2.id_hashes = LinkableIdHashes(Child({{kNhsSystem, "9990000026"}}));
  ASSERT_EQ(r2.id_hashes.size(), 1u);
  ASSERT_TRUE(index->Add(r2, &error));
  // A referral known only by the same temporary UPN as census child 2, for
  // another case: must never link (temporary UPNs are not link keys).
  LinkEntry r9;
  r9.referral_id = "R-2024-0099";
  r9.message_id = "m-99";
  r9.correlation_id = "m-99";
  r9.case_ref = "EH-2024-000099";
  r9.referred_on = "2024-07-14";
  r9.id_hashes =
      LinkableIdHashes(Child({{kUpnSystem, "C93541234501A"}},
                             ehxpb::cases::v1::VERIFICATION_STATUS_TEMPORARY));
  EXPECT_TRUE(r9.id_hashes.empty());
  ASSERT_TRUE(index->Add(r9, &error));
}

CscConfig Config() {
  CscConfig c;
  auto* lead = c.mutable_step_down_lead_practitioner();
  lead->set_name("Early Help duty team");
  lead->set_role("Duty lead practitioner");
  lead->set_agency_id("early-help");
  lead->set_team("Front door step-down desk");
  lead->set_phone("+441632960000");
  auto* link = c.add_case_links();
  link->set_la_child_id("CSC100004");
  link->set_case_ref("EH-2023-000777");
  link->set_referral_id("R-2024-0004");
  return c;
}

// Config() plus a configured early help link for child "A1" (case EH-9).
CscConfig ConfigLinkingA1() {
  CscConfig c = Config();
  auto* l = c.add_case_links();
  l->set_la_child_id("A1");
  l->set_case_ref("EH-9");
  return c;
}

TEST(CscCensus, GoldenMappingOfARealisticCensus) {
  LinkIndex index;
  SeedIndex(&index);
  const MapResult r = MapCensus(Fixture("census_2024_25.xml"), Config(), index);
  ASSERT_FALSE(r.input_rejected) << r.input_error;
  ExpectGolden("census_2024_25.golden.json", MapResultJson(r).dump(2) + "\n");
}

TEST(CscCensus, StepDownsAndLinksAreWhatTheContractSays) {
  LinkIndex index;
  SeedIndex(&index);
  const MapResult r = MapCensus(Fixture("census_2024_25.xml"), Config(), index);
  std::vector<const Envelope*> step_downs, outcomes;
  for (const auto& item : r.items) {
    if (!item.envelope) continue;
    if (item.envelope->has_step_down()) step_downs.push_back(&*item.envelope);
    if (item.envelope->has_referral_outcome()) {
      outcomes.push_back(&*item.envelope);
    }
  }
  // RC9: children 1, 2, 4, 7 (child 5 has no LAchildID, child 6's are bad).
  ASSERT_EQ(step_downs.size(), 4u);
  EXPECT_EQ(step_downs[0]->case_ref(), "EH-2024-000001");  // UPN link
  EXPECT_EQ(step_downs[0]->step_down().early_help_case_id(), "EH-2024-000001");
  EXPECT_EQ(step_downs[1]->case_ref(), "EH-2024-000002");  // NHS number link
  EXPECT_EQ(step_downs[2]->case_ref(), "EH-2023-000777");  // configured link
  EXPECT_EQ(step_downs[3]->case_ref(), "CSC-CSC100007");   // no link
  EXPECT_TRUE(step_downs[3]->step_down().early_help_case_id().empty());
  for (const Envelope* e : step_downs) {
    EXPECT_EQ(e->event_type(), ehxpb::exchange::v1::EVENT_TYPE_STEP_DOWN);
    EXPECT_EQ(e->step_down().closure_reason(), "RC9");
    EXPECT_EQ(e->step_down().lead_practitioner().agency_id(), "early-help");
  }
  // Sex: F, numeric 2 -> F, U; unknown X left out.
  EXPECT_EQ(step_downs[0]->step_down().children(0).sex().code(), "F");
  EXPECT_EQ(step_downs[1]->step_down().children(0).sex().code(), "F");
  EXPECT_EQ(step_downs[1]->step_down().children(0).sex().original_value(), "2");
  EXPECT_EQ(step_downs[2]->step_down().children(0).sex().code(), "U");
  EXPECT_TRUE(step_downs[2]->step_down().children(0).unborn());
  EXPECT_FALSE(step_downs[3]->step_down().children(0).has_sex());
  EXPECT_EQ(
      step_downs[0]->step_down().cin_episode().reason_for_closure().version(),
      "2024-25");

  // 5D: child 1 (index, s17), child 2 (index, NFA from ReferralNFA=1),
  // child 4 (config, NFA from true).
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[0]->correlation_id(), "01HX2V6J8K3M4N5P6Q7R8S9T0V");
  EXPECT_EQ(outcomes[0]->referral_outcome().referral_id(), "R-2024-0001");
  EXPECT_EQ(outcomes[0]->referral_outcome().decision(),
            ehxpb::cases::v1::REFERRAL_DECISION_S17_ASSESSMENT);
  EXPECT_EQ(outcomes[1]->correlation_id(), "corr-R-2024-0002");
  EXPECT_EQ(outcomes[1]->referral_outcome().decision(),
            ehxpb::cases::v1::REFERRAL_DECISION_NO_FURTHER_ACTION);
  EXPECT_EQ(outcomes[2]->case_ref(), "EH-2023-000777");
  EXPECT_EQ(outcomes[2]->referral_outcome().decision(),
            ehxpb::cases::v1::REFERRAL_DECISION_NO_FURTHER_ACTION);
}

// Rules of the errors that drop a record (dropped) or only flag it.
std::vector<std::string> Rules(const MapResult& r, bool dropped) {
  std::vector<std::string> out;
  for (const auto& item : r.items) {
    for (const auto& e : item.errors) {
      if (dropped == !e.flagged_only()) out.push_back(e.rule());
    }
  }
  return out;
}

TEST(CscCensus, BadRecordsAreReportedAndTheRestGoesThrough) {
  LinkIndex index;
  SeedIndex(&index);
  const MapResult r = MapCensus(Fixture("census_2024_25.xml"), Config(), index);
  using ::testing::Contains;
  const auto dropped = Rules(r, true);
  EXPECT_THAT(dropped, Contains("required"));             // no LAchildID
  EXPECT_THAT(dropped, Contains("date_invalid"));         // 2024-02-30
  EXPECT_THAT(dropped, Contains("date_range_reversed"));  // closed < referred
  EXPECT_THAT(dropped, Contains("early_help_link_not_found"));
  EXPECT_THAT(dropped, Contains("la_child_id_format"));  // CSC-100008
  const auto flagged = Rules(r, false);
  EXPECT_THAT(flagged, Contains("upn_temporary"));
  EXPECT_THAT(flagged, Contains("upn_check_letter"));
  EXPECT_THAT(flagged, Contains("nhs_number_modulus11"));
  EXPECT_THAT(flagged, Contains("sex_code_unknown"));
  EXPECT_THAT(flagged, Contains("boolean_invalid"));
  EXPECT_THAT(flagged, Contains("unknown_element_ignored"));
  // Positions name the child and the episode with its line.
  bool found = false;
  for (const auto& item : r.items) {
    if (item.position.find("Child[6]/CINdetails[1] (line ") == 0 ||
        item.position.find("Message/Children/Child[6]/CINdetails[1] (line ") ==
            0) {
      found = true;
    }
  }
  EXPECT_TRUE(found);
  // Invalid identifiers are published flagged INVALID, never dropped silently.
  for (const auto& item : r.items) {
    if (!item.envelope || !item.envelope->has_step_down()) continue;
    for (const auto& id :
         item.envelope->step_down().children(0).identifiers()) {
      if (id.value() == "9990012440") {
        EXPECT_EQ(id.verification(),
                  ehxpb::cases::v1::VERIFICATION_STATUS_INVALID);
      }
      if (id.value() == "C93541234501A") {
        EXPECT_EQ(id.verification(),
                  ehxpb::cases::v1::VERIFICATION_STATUS_TEMPORARY);
      }
    }
  }
}

TEST(CscCensus, ErrorsNeverCarryValues) {
  LinkIndex index;
  SeedIndex(&index);
  const MapResult r = MapCensus(Fixture("census_2024_25.xml"), Config(), index);
  for (const auto& item : r.items) {
    for (const auto& e : item.errors) {
      for (const char* secret : {"9990012440", "9990000019", "C93541234501A",
                                 "A935412345001", "2024-02-30", "CSC-100008"}) {
        EXPECT_EQ(e.message().find(secret), std::string::npos) << e.rule();
        EXPECT_EQ(item.position.find(secret), std::string::npos);
      }
    }
  }
}

TEST(CscCensus, HostileAndBrokenXmlIsRejectedWhole) {
  LinkIndex index;
  const CscConfig config = Config();
  struct Case {
    const char* file;
    const char* rule;
  };
  for (const Case& c : {Case{"xxe.xml", "xml_dtd_refused"},
                        Case{"billion_laughs.xml", "xml_dtd_refused"},
                        Case{"external_entity_no_dtd.xml", "xml_malformed"},
                        Case{"truncated.xml", "xml_malformed"}}) {
    const MapResult r = MapCensus(Fixture(c.file), config, index);
    EXPECT_TRUE(r.input_rejected) << c.file;
    EXPECT_EQ(r.input_error.rfind(c.rule, 0), 0u)
        << c.file << ": " << r.input_error;
    EXPECT_TRUE(r.items.empty()) << c.file;  // nothing half-published
    EXPECT_EQ(r.input_error.find("root:"), std::string::npos);
  }
}

TEST(CscCensus, InternalEntityWithoutDoctypeCannotExpand) {
  CensusFile f;
  CensusError e;
  EXPECT_FALSE(ParseCensus("<Message>&lol;</Message>", &f, &e));
  EXPECT_EQ(e.rule, "xml_malformed");
  EXPECT_FALSE(ParseCensus("<Other/>", &f, &e));
  EXPECT_EQ(e.rule, "cin_root_not_message");
  EXPECT_FALSE(ParseCensus("", &f, &e));
  std::string deep = "<Message>";
  for (int i = 0; i < 100; ++i) deep += "<a>";
  EXPECT_FALSE(ParseCensus(deep, &f, &e));
  EXPECT_EQ(e.rule, "xml_too_deep");
}

TEST(CscCensus, BooleansSeveralEpisodesAndOpenEpisodes) {
  const std::string xml =
      "<Message><Children><Child><ChildIdentifiers><LAchildID>A1</LAchildID>"
      "<Sex>1</Sex></ChildIdentifiers>"
      "<CINdetails><CINreferralDate>2024-04-02</CINreferralDate>"
      "<ReferralSource>5D</ReferralSource><ReferralNFA>0</ReferralNFA>"
      "<Section47><S47ActualStartDate>2024-04-03</S47ActualStartDate>"
      "</Section47></CINdetails>"
      "<CINdetails><CINreferralDate>2024-06-02</CINreferralDate>"
      "<ReferralSource>5D</ReferralSource><ReferralNFA>TRUE</ReferralNFA>"
      "</CINdetails>"
      "<CINdetails><CINreferralDate>2024-08-02</CINreferralDate>"
      "<ReferralSource>5D</ReferralSource><ReferralNFA>false</ReferralNFA>"
      "</CINdetails></Child></Children></Message>";
  const CscConfig config = ConfigLinkingA1();
  LinkIndex index;
  const MapResult r = MapCensus(xml, config, index);
  ASSERT_EQ(r.items.size(), 3u);
  using D = ehxpb::cases::v1::ReferralDecision;
  const D expected[] = {ehxpb::cases::v1::REFERRAL_DECISION_S47_ENQUIRY,
                        ehxpb::cases::v1::REFERRAL_DECISION_NO_FURTHER_ACTION,
                        ehxpb::cases::v1::REFERRAL_DECISION_S17_ASSESSMENT};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.items[i].envelope);
    EXPECT_EQ(r.items[i].envelope->referral_outcome().decision(), expected[i]);
    EXPECT_FALSE(r.items[i]
                     .envelope->referral_outcome()
                     .cin_episode()
                     .has_closure_date());  // open episode
    EXPECT_EQ(r.items[i].envelope->case_ref(), "EH-9");
    // No referral id known: the episode stands in (and the correlation).
    EXPECT_EQ(
        r.items[i].envelope->referral_outcome().referral_id().rfind("cin-", 0),
        0u);
  }
}

TEST(CscCensus, RemappingIsIdempotent) {
  LinkIndex index;
  SeedIndex(&index);
  const std::string xml = Fixture("census_2024_25.xml");
  const MapResult a = MapCensus(xml, Config(), index);
  const MapResult b = MapCensus(xml, Config(), index);
  ASSERT_EQ(a.items.size(), b.items.size());
  for (size_t i = 0; i < a.items.size(); ++i) {
    if (!a.items[i].envelope) continue;
    EXPECT_EQ(a.items[i].envelope->SerializeAsString(),
              b.items[i].envelope->SerializeAsString());
  }
}

}  // namespace
// The reader streams children to the mapper; a census whose Header comes
// after its Children (or changes after the first Child) must still map as
// if the whole file had been read first: the collection version comes from
// the final Header.
TEST(CscCensus, HeaderAfterChildrenMapsLikeHeaderFirst) {
  const std::string header =
      "<Header><CollectionDetails><Collection>CIN</Collection>"
      "<Year>2025</Year><ReferenceDate>2025-03-31</ReferenceDate>"
      "</CollectionDetails><Source><LEA>935</LEA></Source></Header>";
  const std::string children =
      "<Children><Child><ChildIdentifiers><LAchildID>A1</LAchildID>"
      "<Sex>F</Sex></ChildIdentifiers><CINdetails><CINreferralDate>"
      "2024-04-02</CINreferralDate><ReferralSource>5D</ReferralSource>"
      "<CINclosureDate>2024-09-01</CINclosureDate><ReasonForClosure>RC9"
      "</ReasonForClosure></CINdetails></Child></Children>";
  const CscConfig config = ConfigLinkingA1();
  LinkIndex index;
  // One line each, so that positions (lines) agree.
  const MapResult first =
      MapCensus("<Message>" + header + children + "</Message>", config, index);
  const MapResult last =
      MapCensus("<Message>" + children + header + "</Message>", config, index);
  ASSERT_EQ(first.items.size(), 2u);
  ASSERT_TRUE(first.items[1].envelope);
  EXPECT_EQ(first.items[1]
                .envelope->step_down()
                .cin_episode()
                .reason_for_closure()
                .version(),
            "2024-25");
  EXPECT_EQ(MapResultJson(last), MapResultJson(first));
  // A second Header with another year after the first Child: the last one
  // wins, as when the whole file is read before mapping.
  const std::string header26 =
      "<Header><CollectionDetails><Year>2026</Year></CollectionDetails>"
      "</Header>";
  const MapResult changed = MapCensus(
      "<Message>" + header + children + header26 + "</Message>", config, index);
  ASSERT_EQ(changed.items.size(), 2u);
  ASSERT_TRUE(changed.items[1].envelope);
  EXPECT_EQ(changed.items[1]
                .envelope->step_down()
                .cin_episode()
                .reason_for_closure()
                .version(),
            "2025-26");
}

TEST(CscCensus, StreamHandsOverEachChildAsParseCensusReadsIt) {
  const std::string xml = Fixture("census_2024_25.xml");
  CensusFile whole;
  CensusError error;
  ASSERT_TRUE(ParseCensus(xml, &whole, &error)) << error.rule;
  ASSERT_GE(whole.children.size(), 3u);
  class Record : public CensusHandler {
   public:
    void OnChild(const CensusHeader& header, CensusChild* child) override {
      years.push_back(header.year);
      seen.push_back(*child);
    }
    std::vector<std::string> years;
    std::vector<CensusChild> seen;
  } record;
  CensusHeader header;
  ASSERT_TRUE(ParseCensusStream(xml, &record, &header, &error));
  EXPECT_EQ(header.year, whole.header.year);
  EXPECT_EQ(header.lea, whole.header.lea);
  ASSERT_EQ(record.seen.size(), whole.children.size());
  for (size_t i = 0; i < whole.children.size(); ++i) {
    const CensusChild& a = record.seen[i];
    const CensusChild& b = whole.children[i];
    EXPECT_EQ(record.years[i], whole.header.year);  // Header comes first
    EXPECT_EQ(a.index, b.index);
    EXPECT_EQ(a.line, b.line);
    EXPECT_EQ(a.la_child_id, b.la_child_id);
    EXPECT_EQ(a.upn, b.upn);
    EXPECT_EQ(a.sex, b.sex);
    EXPECT_EQ(a.disabilities, b.disabilities);
    EXPECT_EQ(a.unknown_elements, b.unknown_elements);
    EXPECT_EQ(a.issues.size(), b.issues.size());
    ASSERT_EQ(a.details.size(), b.details.size());
    for (size_t k = 0; k < a.details.size(); ++k) {
      EXPECT_EQ(a.details[k].referral_date, b.details[k].referral_date);
      EXPECT_EQ(a.details[k].section47s, b.details[k].section47s);
      EXPECT_EQ(a.details[k].assessment_factors,
                b.details[k].assessment_factors);
    }
  }
  // A refused document: false, and the header is left empty.
  EXPECT_FALSE(ParseCensusStream("<Message><Children><Child>", &record, &header,
                                 &error));
  EXPECT_EQ(error.rule, "xml_malformed");
  EXPECT_TRUE(header.year.empty());
}

// Counters of an episode (Section47, Assessments...) only count inside a
// Child's CINdetails: a CINdetails block under some other element after a
// Child is not part of that child's last episode (the reader used to add
// its Section47 to it, turning an s17 decision into s47).
TEST(CscCensus, CountersOutsideAChildDoNotReachThePreviousEpisode) {
  const std::string xml =
      "<Message><Children><Child><ChildIdentifiers><LAchildID>A1</LAchildID>"
      "</ChildIdentifiers><CINdetails><CINreferralDate>2024-04-02"
      "</CINreferralDate><ReferralSource>5D</ReferralSource></CINdetails>"
      "</Child><Other><CINdetails><Section47/></CINdetails></Other>"
      "</Children></Message>";
  const CscConfig config = ConfigLinkingA1();
  LinkIndex index;
  const MapResult r = MapCensus(xml, config, index);
  const MappedItem* outcome = nullptr;
  for (const MappedItem& item : r.items) {
    if (item.envelope) outcome = &item;
  }
  ASSERT_NE(outcome, nullptr);
  EXPECT_EQ(outcome->envelope->referral_outcome().decision(),
            ehxpb::cases::v1::REFERRAL_DECISION_S17_ASSESSMENT);
}

TEST(CscCensus, OnePassMapsLikeParseThenMapFile) {
  LinkIndex index;
  SeedIndex(&index);
  for (const char* name : {"census_2024_25.xml", "truncated.xml", "xxe.xml"}) {
    const std::string xml = Fixture(name);
    CensusFile file;
    CensusError error;
    const MapResult one_pass = MapCensus(xml, Config(), index);
    if (!ParseCensus(xml, &file, &error)) {  // refused files: nothing mapped
      EXPECT_TRUE(one_pass.input_rejected) << name;
      EXPECT_TRUE(one_pass.items.empty()) << name;
      continue;
    }
    EXPECT_EQ(MapResultJson(one_pass),
              MapResultJson(MapCensusFile(file, Config(), index)))
        << name;
  }
}

}  // namespace ehx::adapters::csc
