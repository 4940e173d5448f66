// CSC adapter parser throughput: a generated CIN census (>= 10,000 Child
// records, 1-3 CINdetails each, a mix of RC9 closures, 5D referrals linked
// through the link index and episodes the adapter skips) read and mapped by
// MapCensus, against the plain cost of parsing the same bytes with libexpat
// alone (element/text callbacks that only count). Also the decision JSON
// path against nlohmann::json::parse alone. Prints
//   csc_mapping_vs_parse_ratio=<((parse+map) - expat-only) / expat-only>
//
// Usage: ehx_csc_bench [children (default 20000)] [repeats (default 5)]
#include <expat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_clock.h"
#include "csc_ingest.h"
#include "csc_util.h"

namespace csc = ::ehx::adapters::csc;

namespace {

std::string UpnFor(int i) {
  static const char kAlpha[] = "ABCDEFGHJKLMNPQRTUVWXYZ";
  char rest[16];  // 12 digits for i < 10^9, and room the compiler can see
  std::snprintf(rest, sizeof(rest), "935%09d", i);
  int sum = 0;
  for (int k = 0; k < 12; ++k) sum += (rest[k] - '0') * (k + 2);
  return std::string(1, kAlpha[sum % 23]) + rest;
}

std::string Census(int children) {
  std::string x =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Message><Header>"
      "<CollectionDetails><Collection>CIN</Collection><Year>2025</Year>"
      "<ReferenceDate>2025-03-31</ReferenceDate></CollectionDetails>"
      "<Source><SourceLevel>L</SourceLevel><LEA>935</LEA></Source></Header>"
      "<Children>\n";
  for (int i = 0; i < children; ++i) {
    char buf[2048];
    const int month = 4 + i % 8;
    std::snprintf(
        buf, sizeof(buf),
        "<Child><ChildIdentifiers><LAchildID>CSC%07d</LAchildID>"
        "<UPN>%s</UPN><PersonBirthDate>2014-%02d-%02d</PersonBirthDate>"
        "<Sex>%s</Sex></ChildIdentifiers><ChildCharacteristics>"
        "<Ethnicity>WBRI</Ethnicity><Disabilities><Disability>NONE"
        "</Disability></Disabilities></ChildCharacteristics>"
        "<CINdetails><CINreferralDate>2024-%02d-10</CINreferralDate>"
        "<ReferralSource>%s</ReferralSource><PrimaryNeedCode>N4"
        "</PrimaryNeedCode><CINclosureDate>2024-%02d-28</CINclosureDate>"
        "<ReasonForClosure>%s</ReasonForClosure><ReferralNFA>%s</ReferralNFA>"
        "<Assessments><AssessmentActualStartDate>2024-%02d-11"
        "</AssessmentActualStartDate><FactorsIdentifiedAtAssessment>"
        "<AssessmentFactors>3B</AssessmentFactors><AssessmentFactors>4B"
        "</AssessmentFactors></FactorsIdentifiedAtAssessment></Assessments>"
        "</CINdetails>%s</Child>\n",
        i, UpnFor(i).c_str(), 1 + i % 12, 1 + i % 28,
        i % 3 == 0 ? "M" : (i % 3 == 1 ? "F" : "2"), month, i % 2 ? "5D" : "3A",
        month, i % 4 ? "RC9" : "RC8", i % 5 ? "false" : "1", month,
        i % 3 == 0 ? "<CINdetails><CINreferralDate>2025-01-06"
                     "</CINreferralDate><ReferralSource>2A</ReferralSource>"
                     "<ReferralNFA>0</ReferralNFA></CINdetails>"
                   : "");
    x += buf;
  }
  x += "</Children></Message>\n";
  return x;
}

struct Counts {
  long elements = 0;
  long text = 0;
};
void XMLCALL Start(void* d, const XML_Char*, const XML_Char**) {
  ++static_cast<Counts*>(d)->elements;
}
void XMLCALL End(void*, const XML_Char*) {}
void XMLCALL Text(void* d, const XML_Char*, int len) {
  static_cast<Counts*>(d)->text += len;
}

long ExpatOnly(const std::string& bytes) {
  Counts c;
  XML_Parser p = XML_ParserCreate(nullptr);
  XML_SetUserData(p, &c);
  XML_SetElementHandler(p, &Start, &End);
  XML_SetCharacterDataHandler(p, &Text);
  if (XML_Parse(p, bytes.data(), static_cast<int>(bytes.size()), 1) !=
      XML_STATUS_OK) {
    std::fprintf(stderr, "expat failed\n");
    std::exit(1);
  }
  XML_ParserFree(p);
  return c.elements;
}

using ::ehx::bench::Now;

template <typename F>
double Best(int repeats, F f) {
  double best = 1e9;
  for (int i = 0; i < repeats; ++i) {
    const double t0 = Now();
    f();
    best = std::min(best, Now() - t0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int children = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::string xml = Census(children);
  csc::CscConfig config;
  config.mutable_step_down_lead_practitioner()->set_name("Duty");
  config.mutable_step_down_lead_practitioner()->set_agency_id("early-help");
  // Link index: one referral per 10th child (by UPN), so 5D links resolve.
  csc::LinkIndex index;
  std::string error;
  for (int i = 1; i < children; i += 10) {
    csc::LinkEntry e;
    e.referral_id = "R-" + std::to_string(i);
    e.message_id = "m-" + std::to_string(i);
    e.correlation_id = e.message_id;
    e.case_ref = "EH-" + std::to_string(i);
    char day[16];
    std::snprintf(day, sizeof(day), "2024-%02d-05", 4 + i % 8);
    e.referred_on = day;
    e.id_hashes = {csc::StableHash({csc::kUpnSystem, UpnFor(i)})};
    index.Add(e, &error);
  }

  size_t records = 0, published = 0;
  const double map_s = Best(repeats, [&] {
    const csc::MapResult r = csc::MapCensus(xml, config, index);
    records = 0;
    published = 0;
    for (const auto& item : r.items) {
      if (item.counts_as_record) ++records;
      if (item.envelope) ++published;
    }
  });
  long elements = 0;
  const double parse_s = Best(repeats, [&] { elements = ExpatOnly(xml); });
  const double mb = static_cast<double>(xml.size()) / (1024.0 * 1024.0);
  std::printf(
      "csc census: %d Child records, %zu candidate records, %zu "
      "envelopes, %.1f MB, %ld elements\n",
      children, records, published, mb, elements);
  std::printf("csc census parse+map: %.3f s  %.0f children/s  %.1f MB/s\n",
              map_s, children / map_s, mb / map_s);
  std::printf("csc census expat only: %.3f s  %.0f children/s  %.1f MB/s\n",
              parse_s, children / parse_s, mb / parse_s);

  // Decision JSON: the same number of decisions.
  std::string json = "{\"schema\":\"ehx-csc-decision/1\",\"decisions\":[";
  for (int i = 1; i < children; ++i) {
    char buf[512];
    std::snprintf(buf, sizeof(buf),
                  "%s{\"decision_id\":\"D-%d\",\"referral_id\":\"R-%d\","
                  "\"decision\":\"s17_assessment\",\"decided_at\":"
                  "\"2024-05-01T09:30:00\",\"decided_by\":{\"name\":\"Dónal "
                  "O'Connor-Smyth\",\"team\":\"Contact Point\"},\"feedback\":"
                  "\"Assessment under s17 started.\"}",
                  i == 1 ? "" : ",", i, 1 + (i / 10) * 10);
    json += buf;
  }
  json += "]}";
  size_t decisions = 0;
  const double dmap_s = Best(repeats, [&] {
    decisions = csc::MapDecisions(json, config, index).items.size();
  });
  const double dparse_s = Best(repeats, [&] {
    auto j = nlohmann::json::parse(json, nullptr, false);
    if (j.is_discarded()) std::exit(1);
  });
  const double jmb = static_cast<double>(json.size()) / (1024.0 * 1024.0);
  std::printf(
      "csc decisions parse+map: %zu records %.3f s  %.0f rec/s  "
      "%.1f MB/s; nlohmann only %.3f s  %.1f MB/s; ratio %.2f\n",
      decisions, dmap_s, decisions / dmap_s, jmb / dmap_s, dparse_s,
      jmb / dparse_s, dmap_s / dparse_s);
  // The rule: "the mapping should cost no more than the parse",
  // i.e. (parse+map - parse) / parse <= 1. The total is printed too.
  std::printf("csc_total_vs_parse_ratio=%.2f\n", map_s / parse_s);
  std::printf("csc_mapping_vs_parse_ratio=%.2f\n",
              std::max(0.0, map_s - parse_s) / parse_s);
  return 0;
}
